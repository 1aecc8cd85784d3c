/**
 * The SMT (shared memory transport) area, the one layout both ends use: Linux
 * `drivers/firmware/arm_scmi/shmem.c` (`struct scmi_shared_mem`), SCP-firmware
 * `module/transport/include/mod_transport.h` and OP-TEE `core/drivers/scmi-msg/smt.c` agree on it.
 * Every field is a little-endian 32-bit word:
 *
 * | offset | field            | meaning                                                         |
 * | ------ | ---------------- | --------------------------------------------------------------- |
 * | 0x00   | reserved         | 0                                                               |
 * | 0x04   | channel_status   | bit 0 CHANNEL_FREE, bit 1 CHANNEL_ERROR                          |
 * | 0x08   | reserved (8)     |                                                                 |
 * | 0x10   | flags            | bit 0 INTR_ENABLED: the agent wants a completion doorbell        |
 * | 0x14   | length           | bytes of header + payload                                        |
 * | 0x18   | message_header   | the SCMI header                                                 |
 * | 0x1C   | payload          | parameters, or `int32 status` then return values                 |
 */

import { ScmiStatus, encodeMsgResponse, readU32 } from '@scmi-ts/core';

/** Byte offset of `channel_status`. */
export const SMT_STATUS_OFFSET = 0x04;
/** Byte offset of `flags`. */
export const SMT_FLAGS_OFFSET = 0x10;
/** Byte offset of `length` (header + payload bytes). */
export const SMT_LENGTH_OFFSET = 0x14;
/** Byte offset of `message_header`. */
export const SMT_HEADER_OFFSET = 0x18;
/** Byte offset of the payload. */
export const SMT_PAYLOAD_OFFSET = 0x1c;
/** Bytes of the SMT header, up to the payload: an area holds this plus the largest message. */
export const SMT_HEADER_SIZE = SMT_PAYLOAD_OFFSET;
/** `channel_status` bit 0: the agent owns the channel (idle, or a response is ready). */
export const SMT_CHANNEL_FREE = 0x1;
/** `channel_status` bit 1: the platform reports a transport error. */
export const SMT_CHANNEL_ERROR = 0x2;
/** `flags` bit 0: the agent asks for a completion doorbell (0: it polls). */
export const SMT_FLAG_INTR_ENABLED = 0x1;
/** Default size of an SMT area: the 28-byte SMT header plus the default 128-byte message. */
export const SMT_DEFAULT_AREA_SIZE = SMT_HEADER_SIZE + 128;
/**
 * Fewest bytes of an SMT area: the SMT header up to the payload, then a response's status (an
 * area of the header alone could answer nothing, not even PROTOCOL_ERROR). @internal
 */
export const SMT_MIN_AREA_SIZE = SMT_HEADER_SIZE + 4;

/** `length` of a refused message (see {@link SmtArea.refuse}): the header and the status word. */
const SMT_REFUSED_LENGTH = 8;

/**
 * What the platform side writes into an area whose message room is `maxLength` bytes: `response`
 * when it fits, else its header with PROTOCOL_ERROR (a new array) — never a response cut into a
 * success missing return values. Fits in any area of {@link SMT_MIN_AREA_SIZE} bytes. @internal
 */
export function fitSmtResponse(response: Uint8Array, maxLength: number): Uint8Array {
  return response.byteLength <= maxLength
    ? response
    : encodeMsgResponse(readU32(response, 0), ScmiStatus.PROTOCOL_ERROR);
}

/** True when this machine stores integers little-endian (the `Atomics` views are native-order). */
const NATIVE_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function toLe(v: number): number {
  if (NATIVE_LE) return v | 0;
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff);
}

/**
 * One SMT area over a region of a `SharedArrayBuffer`, as both ends see it: typed views with an
 * explicit little-endian layout. `channel_status` is read and written with `Atomics` (it hands the
 * area from one side to the other, possibly across threads: every plain write before an atomic
 * store is visible to the thread whose atomic load sees it). Every other field is read through
 * bounds-checked accessors: nothing the other side writes can make a read leave the area.
 *
 * @example
 * ```ts
 * const area = new SmtArea(new SharedArrayBuffer(SMT_DEFAULT_AREA_SIZE), 0, SMT_DEFAULT_AREA_SIZE);
 * area.setStatus(SMT_CHANNEL_FREE);
 * area.isFree(); // true
 * ```
 */
export class SmtArea {
  /** The area's bytes (a view of its region only). */
  public readonly bytes: Uint8Array;
  /** Size of the area in bytes. */
  public readonly size: number;
  /** Largest `length` the area can hold: header + payload (`size − 0x18`). */
  public readonly maxLength: number;
  /** Largest payload the area can hold (`size − 28`). */
  public readonly maxPayload: number;
  readonly #view: DataView;
  readonly #status: Int32Array;

  /**
   * Maps an area of `size` bytes at `offset` in `memory`.
   *
   * @throws RangeError when the region does not fit `memory`, `offset` is not 4-aligned, or `size`
   * is smaller than the SMT header.
   */
  public constructor(memory: SharedArrayBuffer, offset: number, size: number) {
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(size) ||
      offset < 0 ||
      offset % 4 !== 0 ||
      size < SMT_HEADER_SIZE ||
      offset + size > memory.byteLength
    ) {
      throw new RangeError(
        `SMT area of ${size} bytes at ${offset} does not fit (4-aligned, ≥ ${SMT_HEADER_SIZE} bytes) in ${memory.byteLength} bytes`,
      );
    }
    this.bytes = new Uint8Array(memory, offset, size);
    this.size = size;
    this.maxLength = size - SMT_HEADER_OFFSET;
    this.maxPayload = size - SMT_PAYLOAD_OFFSET;
    this.#view = new DataView(memory, offset, size);
    this.#status = new Int32Array(memory, offset + SMT_STATUS_OFFSET, 1);
  }

  /** `channel_status`, read atomically. */
  public status(): number {
    return toLe(Atomics.load(this.#status, 0)) >>> 0;
  }

  /** Writes `channel_status` atomically (after every other field of the message). */
  public setStatus(status: number): void {
    Atomics.store(this.#status, 0, toLe(status >>> 0));
  }

  /**
   * Gives a message back refused, as SCP-firmware's SMT servers do (`smt_requester_handler`:
   * the error bit, then `smt_respond` with `SCMI_PROTOCOL_ERROR`): PROTOCOL_ERROR as the status
   * word after the message's own header, `length` 8, then CHANNEL_ERROR | CHANNEL_FREE. An agent
   * that reads only the status word — Linux's `shmem_fetch_response` never looks at
   * CHANNEL_ERROR — sees an error, not the request's first payload word taken for a status (0,
   * SUCCESS, for CLOCK_RATE_GET of clock 0). OP-TEE's `smt.c` sets the two bits only, and so
   * does this on an area too small for a status word (under 32 bytes).
   *
   * @example
   * ```ts
   * area.refuse(); // status() === SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR, payloadI32() === -10
   * ```
   */
  public refuse(): void {
    if (this.maxLength >= SMT_REFUSED_LENGTH) {
      this.#view.setInt32(SMT_PAYLOAD_OFFSET, ScmiStatus.PROTOCOL_ERROR, true);
      this.setLength(SMT_REFUSED_LENGTH);
    }
    this.setStatus(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
  }

  /** Whether CHANNEL_FREE is set. */
  public isFree(): boolean {
    return (this.status() & SMT_CHANNEL_FREE) !== 0;
  }

  /** `flags`. */
  public flags(): number {
    return this.#view.getUint32(SMT_FLAGS_OFFSET, true);
  }

  /** Writes `flags`. */
  public setFlags(flags: number): void {
    this.#view.setUint32(SMT_FLAGS_OFFSET, flags >>> 0, true);
  }

  /** `length`, as written by the other side: never trusted, see {@link SmtArea.clampedLength}. */
  public length(): number {
    return this.#view.getUint32(SMT_LENGTH_OFFSET, true);
  }

  /** Writes `length`. */
  public setLength(length: number): void {
    this.#view.setUint32(SMT_LENGTH_OFFSET, length >>> 0, true);
  }

  /** `length`, clamped to what the area holds ({@link SmtArea.maxLength}). */
  public clampedLength(): number {
    return Math.min(this.length(), this.maxLength);
  }

  /** `message_header`. */
  public header(): number {
    return this.#view.getUint32(SMT_HEADER_OFFSET, true);
  }

  /** Writes `message_header`. */
  public setHeader(header: number): void {
    this.#view.setUint32(SMT_HEADER_OFFSET, header >>> 0, true);
  }

  /** The first payload word as a signed integer (a response's status). */
  public payloadI32(): number {
    return this.#view.getInt32(SMT_PAYLOAD_OFFSET, true);
  }

  /**
   * Copies `length` bytes of `source` from `from` into the payload, clamped to the area; returns the
   * bytes copied. A byte loop: the send path allocates nothing.
   */
  public writePayload(source: Uint8Array, from: number, length: number): number {
    const n = Math.max(0, Math.min(length, this.maxPayload, source.byteLength - from));
    const bytes = this.bytes;
    for (let i = 0; i < n; i++) bytes[SMT_PAYLOAD_OFFSET + i] = source[from + i] as number;
    return n;
  }
}
