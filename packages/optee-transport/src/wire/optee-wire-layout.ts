import { ScmiConfigError, SharedDoorbell, formatValue, isRecord } from '@scmi-ts/core';
import { SMT_BUF_SLOT_SIZE } from './pta-scmi.js';
import { OPTEE_CALL_SLOT_BYTES } from './optee-msg-arg.js';

/**
 * One SCMI channel of the OP-TEE SCMI service, as both ends' configuration describes it (the
 * agent's device tree `linaro,optee-channel-id` and optional `shmem` phandle; OP-TEE's
 * `plat_scmi_get_channel` table).
 */
export interface OpteeWireChannel {
  /** The OP-TEE channel id, 0 … 65535. */
  readonly id: number;
  /**
   * Whether the channel has a static SMT area in the wire memory (the `shmem` node both sides
   * know). Agents then use SMT mode (PTA command 1); otherwise MSG mode (command 4). Default false.
   */
  readonly staticShmem?: boolean;
  /**
   * Size of the static SMT area in bytes, a multiple of 4 in 128 … 4096; default 128. OP-TEE's
   * static areas are `SMT_BUF_SLOT_SIZE` (128) slots, the smallest it accepts for an SMT area
   * (`PTA_SCMI_CMD_PROCESS_SMT_CHANNEL_MESSAGE`); a smaller one could not carry the 92-byte
   * payloads it admits.
   */
  readonly shmemSize?: number;
}

/**
 * The shape of an OP-TEE wire: its channels, its call slots (OP-TEE threads) and its pool of
 * dynamic shared memory. Plain data, so that a worker can rebuild the same layout.
 *
 * @example
 * ```ts
 * const options: OpteeWireOptions = { channels: [{ id: 0, staticShmem: true }, { id: 1 }], threads: 8 };
 * ```
 */
export interface OpteeWireOptions {
  /** The SCMI channels OP-TEE serves; default one static SMT channel, id 0. */
  readonly channels?: readonly OpteeWireChannel[];
  /**
   * Calls the secure world runs at once (OP-TEE `CFG_NUM_THREADS`), 1 … 64, and more than
   * `channels`; default 8. A call beyond that waits in the driver for a free thread, as Linux's
   * OP-TEE driver waits on `OPTEE_SMC_RETURN_ETHREAD_LIMIT`. A cancel request is such a call too
   * (`OPTEE_MSG_CMD_CANCEL` is a standard call, run on an OP-TEE thread): with every thread held
   * by an invocation that waits for its cancel, one per channel, the cancel would wait for ever.
   */
  readonly threads?: number;
  /** Bytes of dynamic shared memory the driver allocates and registers, 256 … 1 MiB; default 8192. */
  readonly shmPoolSize?: number;
  /**
   * The poll window of a cross-thread wire's doorbell on both ends, in µs (core's
   * `SharedDoorbellOptions`): how long an end keeps looking for the other's next ring after a
   * wake-up before its thread sleeps; default 50 (0 on a single CPU), 0 sleeps after one look.
   * 0 … 1,000,000.
   */
  readonly pollWindowUs?: number;
}

/** A channel of a {@link OpteeWireLayout}, with its static area located. */
export interface OpteeWireChannelLayout {
  /** The OP-TEE channel id. */
  readonly id: number;
  /** Byte offset of the static SMT area in the wire memory, or undefined (MSG only). */
  readonly shmemOffset: number | undefined;
  /** Size of the static SMT area (0 without one). */
  readonly shmemSize: number;
}

/** Read once at load: `slotOffset` runs on every call (under tsx an imported binding is a getter). */
const SLOT_BYTES = OPTEE_CALL_SLOT_BYTES;

/** Magic word at the start of the control block: "OPTE". */
const MAGIC = 0x4554504f;
const VERSION = 1;

/** Byte offset of the doorbell region (a {@link SharedDoorbell} pair; unused in the same thread). */
export const WIRE_DOORBELL_OFFSET = 0;
/** Bytes of the doorbell region at the start of a wire memory (core's `SharedDoorbell.BYTES`). */
export const WIRE_DOORBELL_BYTES = SharedDoorbell.BYTES;
/**
 * Byte offset of the control block (magic, version, threads, TEE state): right after the
 * doorbell region, 8-aligned — derived from core's doorbell size, so a larger doorbell moves the
 * layout instead of overlapping it.
 */
export const WIRE_CONTROL_OFFSET = align(WIRE_DOORBELL_OFFSET + WIRE_DOORBELL_BYTES, 8);
/** Int32 index of the TEE state word: 0 not started, 1 running, 2 closed. */
export const WIRE_TEE_STATE_WORD = WIRE_CONTROL_OFFSET / 4 + 3;
/** TEE state: the emulated OP-TEE serves calls. */
export const TEE_STATE_RUNNING = 1;
/** TEE state: the emulated OP-TEE is gone; calls fail with `TEE_ERROR_TARGET_DEAD`. */
export const TEE_STATE_CLOSED = 2;
const CONTROL_BYTES = 32;

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ScmiConfigError(
      field,
      `expected an integer in ${min}..${max}, got ${formatValue(v)}`,
    );
  }
  return v;
}

/**
 * Where everything lives in an OP-TEE wire memory (a `SharedArrayBuffer` both ends map): the
 * doorbell region, a control block, one call slot per OP-TEE thread (modelled on `struct
 * optee_msg_arg`), the static SMT areas, then the pool of dynamic shared memory.
 *
 * @example
 * ```ts
 * const layout = new OpteeWireLayout({ channels: [{ id: 0, staticShmem: true }] });
 * const memory = new SharedArrayBuffer(layout.bytes);
 * ```
 */
export class OpteeWireLayout {
  /** The options, defaults applied. */
  public readonly options: Required<OpteeWireOptions>;
  /** The channels, by OP-TEE channel id. */
  public readonly channels: ReadonlyMap<number, OpteeWireChannelLayout>;
  /** Number of call slots (OP-TEE threads). */
  public readonly threads: number;
  /** Byte offset of call slot 0. */
  public readonly slotsOffset: number;
  /** Byte offset of the dynamic shared-memory pool. */
  public readonly poolOffset: number;
  /** Bytes of the pool. */
  public readonly poolSize: number;
  /** The poll window of a cross-thread wire's doorbells, µs. */
  public readonly pollWindowUs: number;
  /** Total bytes of the wire memory. */
  public readonly bytes: number;

  /**
   * Validates `options` and lays the memory out.
   *
   * @throws ScmiConfigError naming the field (`wire.channels[1].id`, …) when an option is invalid,
   * `wire.threads` when there are not more threads than channels.
   */
  public constructor(options: OpteeWireOptions = {}) {
    if (!isRecord(options)) throw new ScmiConfigError('wire', 'expected an object');
    const rawChannels = options.channels ?? [{ id: 0, staticShmem: true }];
    if (!Array.isArray(rawChannels) || rawChannels.length === 0) {
      throw new ScmiConfigError('wire.channels', 'expected a non-empty array of channels');
    }
    this.threads = int(options.threads ?? 8, 'wire.threads', 1, 64);
    this.poolSize = align(int(options.shmPoolSize ?? 8192, 'wire.shmPoolSize', 256, 1 << 20), 8);
    this.pollWindowUs = SharedDoorbell.checkPollWindow(options.pollWindowUs, 'wire.pollWindowUs');
    this.slotsOffset = WIRE_CONTROL_OFFSET + CONTROL_BYTES;
    let offset = this.slotsOffset + this.threads * OPTEE_CALL_SLOT_BYTES;
    const channels = new Map<number, OpteeWireChannelLayout>();
    const normalized: OpteeWireChannel[] = [];
    rawChannels.forEach((c: unknown, i) => {
      const f = `wire.channels[${i}]`;
      if (!isRecord(c)) throw new ScmiConfigError(f, 'expected an object');
      const id = int(c.id, `${f}.id`, 0, 0xffff);
      if (channels.has(id)) throw new ScmiConfigError(`${f}.id`, `channel ${id} is listed twice`);
      if (c.staticShmem !== undefined && typeof c.staticShmem !== 'boolean') {
        throw new ScmiConfigError(`${f}.staticShmem`, 'expected a boolean');
      }
      const staticShmem = c.staticShmem === true;
      const size = int(c.shmemSize ?? SMT_BUF_SLOT_SIZE, `${f}.shmemSize`, SMT_BUF_SLOT_SIZE, 4096);
      if (size % 4 !== 0) throw new ScmiConfigError(`${f}.shmemSize`, 'must be a multiple of 4');
      if (staticShmem) {
        offset = align(offset, 8);
        channels.set(id, { id, shmemOffset: offset, shmemSize: size });
        offset += size;
      } else {
        channels.set(id, { id, shmemOffset: undefined, shmemSize: 0 });
      }
      normalized.push({ id, staticShmem, shmemSize: size });
    });
    // Each channel can hold an OP-TEE thread with an invocation that only a cancel request ends
    // (the transport's quiesce sends one): the cancel needs a thread of its own.
    if (this.threads <= channels.size) {
      throw new ScmiConfigError(
        'wire.threads',
        `expected more threads than the ${channels.size} channel(s) (a cancel request needs a free thread), got ${this.threads}`,
      );
    }
    this.channels = channels;
    this.poolOffset = align(offset, 8);
    this.bytes = align(this.poolOffset + this.poolSize, 8);
    this.options = {
      channels: normalized,
      threads: this.threads,
      shmPoolSize: this.poolSize,
      pollWindowUs: this.pollWindowUs,
    };
  }

  /** Byte offset of call slot `index`. */
  public slotOffset(index: number): number {
    return this.slotsOffset + index * SLOT_BYTES;
  }

  /** Writes the control block into fresh memory (magic, version, threads). */
  public initialize(memory: SharedArrayBuffer): void {
    const words = new Int32Array(memory, WIRE_CONTROL_OFFSET, CONTROL_BYTES / 4);
    words[0] = MAGIC;
    words[1] = VERSION;
    words[2] = this.threads;
  }

  /**
   * Checks that `memory` was laid out for this layout (size and control block).
   *
   * @throws ScmiConfigError `wire.memory` when it was not.
   */
  public check(memory: SharedArrayBuffer): void {
    if (Object.prototype.toString.call(memory) !== '[object SharedArrayBuffer]') {
      throw new ScmiConfigError('wire.memory', 'expected a SharedArrayBuffer');
    }
    if (memory.byteLength < this.bytes) {
      throw new ScmiConfigError(
        'wire.memory',
        `expected at least ${this.bytes} bytes, got ${memory.byteLength}`,
      );
    }
    const words = new Int32Array(memory, WIRE_CONTROL_OFFSET, CONTROL_BYTES / 4);
    if (words[0] !== MAGIC || words[1] !== VERSION || words[2] !== this.threads) {
      throw new ScmiConfigError('wire.memory', 'not an OP-TEE wire memory of this layout');
    }
  }
}
