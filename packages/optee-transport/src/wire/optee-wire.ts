import {
  SharedDoorbell,
  createSameThreadDoorbellPair,
  type Clock,
  type Doorbell,
  type SameThreadDoorbell,
} from '@scmi-ts/core';
import {
  OpteeWireLayout,
  WIRE_DOORBELL_OFFSET,
  type OpteeWireOptions,
} from './optee-wire-layout.js';

/** Which world an end of the wire belongs to: the normal world (the agent) or the secure world (OP-TEE). */
export type OpteeWireSide = 'ree' | 'tee';

/**
 * One end of an OP-TEE wire: the shared memory both worlds map (call slots, static SMT areas,
 * the dynamic shared-memory pool) and this end's doorbell — the normal world rings it to enter
 * the secure world (the SMC), the secure world rings back when calls return.
 *
 * Create the two ends with {@link createSameThreadOpteeWire} (one thread, deterministic on a
 * virtual clock) or with {@link allocateOpteeWire} + {@link openOpteeWireEnd} on each thread.
 *
 * @example
 * ```ts
 * const { ree, tee } = createSameThreadOpteeWire(clock, { channels: [{ id: 0, staticShmem: true }] });
 * const optee = new EmulatedOptee({ wire: tee, platform, agentId: 1, clock });
 * const driver = new OpteeDriver(ree);
 * ```
 */
export class OpteeWireEnd {
  /** This end's world. */
  public readonly side: OpteeWireSide;
  /** The wire memory. */
  public readonly memory: SharedArrayBuffer;
  /** Where things are in it. */
  public readonly layout: OpteeWireLayout;
  /** This end's doorbell. */
  public readonly doorbell: Doorbell;

  /**
   * Wraps `memory` (laid out by `layout`) with `doorbell` as the `side` end.
   *
   * @throws ScmiConfigError `wire.memory` when the memory was not laid out for `layout`.
   */
  public constructor(
    side: OpteeWireSide,
    memory: SharedArrayBuffer,
    layout: OpteeWireLayout,
    doorbell: Doorbell,
  ) {
    layout.check(memory);
    this.side = side;
    this.memory = memory;
    this.layout = layout;
    this.doorbell = doorbell;
  }

  /**
   * The static SMT area of OP-TEE channel `channelId` — a view of the wire memory, what Linux
   * gets from `devm_ioremap` of the `shmem` node — or undefined when the channel has none.
   */
  public staticShmem(channelId: number): Uint8Array | undefined {
    const c = this.layout.channels.get(channelId);
    if (c?.shmemOffset === undefined) return undefined;
    return new Uint8Array(this.memory, c.shmemOffset, c.shmemSize);
  }
}

/** The two ends of a same-thread wire; the normal world's doorbell can hold deliveries. */
export interface SameThreadOpteeWire {
  /** The normal world's end (give it to an {@link OpteeDriver}). */
  readonly ree: OpteeWireEnd;
  /** The secure world's end (give it to an {@link EmulatedOptee}). */
  readonly tee: OpteeWireEnd;
  /** The normal world's doorbell: the secure world rings it when calls return. */
  readonly reeDoorbell: SameThreadDoorbell;
}

/**
 * Creates both ends of a wire in one thread: the memory, and a doorbell pair whose rings are
 * tasks on `clock` (a `VirtualClock` makes every interleaving the test's choice).
 *
 * @throws ScmiConfigError when `options` are invalid.
 * @example
 * ```ts
 * const wire = createSameThreadOpteeWire(new VirtualClock({ auto: true }));
 * ```
 */
export function createSameThreadOpteeWire(
  clock: Clock,
  options: OpteeWireOptions = {},
): SameThreadOpteeWire {
  const layout = new OpteeWireLayout(options);
  const memory = new SharedArrayBuffer(layout.bytes);
  layout.initialize(memory);
  const [reeDoorbell, teeDoorbell] = createSameThreadDoorbellPair(clock);
  return {
    ree: new OpteeWireEnd('ree', memory, layout, reeDoorbell),
    tee: new OpteeWireEnd('tee', memory, layout, teeDoorbell),
    reeDoorbell,
  };
}

/**
 * Allocates and lays out the memory of a wire whose ends live on two threads; pass it (and the
 * same `options`) to the other thread, and open each end there with {@link openOpteeWireEnd}.
 *
 * @throws ScmiConfigError when `options` are invalid.
 * @example
 * ```ts
 * const memory = allocateOpteeWire(options);
 * await worker.call('open', memory, options);
 * const ree = openOpteeWireEnd(memory, options, 'ree');
 * ```
 */
export function allocateOpteeWire(options: OpteeWireOptions = {}): SharedArrayBuffer {
  const layout = new OpteeWireLayout(options);
  const memory = new SharedArrayBuffer(layout.bytes);
  layout.initialize(memory);
  return memory;
}

/**
 * Opens end `side` of a cross-thread wire over `memory` (from {@link allocateOpteeWire} with the
 * same `options`): its doorbell is a {@link SharedDoorbell} (`'a'` for the normal world, `'b'`
 * for the secure world), which must be closed (the driver or the emulated OP-TEE closes it).
 *
 * @throws ScmiConfigError when `options` are invalid or `memory` does not match them.
 * @example
 * ```ts
 * const tee = openOpteeWireEnd(workerData.memory, workerData.options, 'tee');
 * ```
 */
export function openOpteeWireEnd(
  memory: SharedArrayBuffer,
  options: OpteeWireOptions,
  side: OpteeWireSide,
): OpteeWireEnd {
  const layout = new OpteeWireLayout(options);
  layout.check(memory);
  const doorbell = new SharedDoorbell(memory, WIRE_DOORBELL_OFFSET, side === 'ree' ? 'a' : 'b', {
    pollWindowUs: layout.pollWindowUs,
  });
  return new OpteeWireEnd(side, memory, layout, doorbell);
}
