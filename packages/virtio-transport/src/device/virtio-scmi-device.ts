import {
  MSG_HEADER_SIZE,
  MSG_STATUS_SIZE,
  ScmiConfigError,
  SCMI_HEADER_RESERVED_MASK,
  ScmiMessageType,
  headerType,
  isCommandHeader,
  mulberry32,
  readU32,
  type Clock,
  type TimerHandle,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
} from '@scmi-ts/core';
import { isQueueSize } from '../layout/split-ring-layout.js';
import {
  VirtioFeature,
  VirtioStatus,
  featureMask,
  hasFeature,
} from '../layout/virtio-constants.js';
import {
  VIRTIO_INTERRUPT_CONFIG,
  VIRTIO_INTERRUPT_USED_BUFFER,
  VirtioDevicePresence,
  VirtioRegister,
} from '../layout/wire-layout.js';
import { DescriptorChain } from '../ring/descriptor-chain.js';
import {
  DeviceVirtqueue,
  POP_BAD_INDEX,
  POP_EMPTY,
  VIRTIO_DEVICE_MAX_SEGMENTS,
  type DeviceMemory,
} from '../ring/device-virtqueue.js';
import type { VirtioScmiWire, VirtioWireDoorbells } from '../wire/virtio-scmi-wire.js';
import {
  createVirtioDeviceStats,
  type MutableVirtioDeviceStats,
  type VirtioBadChainReason,
  type VirtioDeviceStats,
} from './virtio-device-stats.js';
import { VirtioWireFaultInjector, type VirtioWireFaultRule } from './virtio-wire-fault.js';

/**
 * In which order the device returns the commands it took in one pass over the cmdq (the
 * specification lets a device process commands in parallel and out of order):
 * `in-order`, `reverse`, or `shuffle` (seeded).
 *
 * `in-order` returns each command as soon as it is answered: its used element is published and
 * the driver notified unless it suppressed notifications (QEMU's virtio-blk completes each request
 * with `virtqueue_push` + `virtio_notify` likewise), so the driver can take the first responses
 * while the device works on the rest. `reverse` and `shuffle` hold the commands of one pass and
 * return them together at its end, in that order.
 */
export type VirtioCompletionOrder = 'in-order' | 'reverse' | 'shuffle';

/** The features a {@link VirtioScmiDevice} offers by default: VERSION_1, P2A_CHANNELS, INDIRECT_DESC, EVENT_IDX. */
export const VIRTIO_SCMI_DEVICE_FEATURES: bigint =
  featureMask(VirtioFeature.VERSION_1) |
  featureMask(VirtioFeature.SCMI_P2A_CHANNELS) |
  featureMask(VirtioFeature.RING_INDIRECT_DESC) |
  featureMask(VirtioFeature.RING_EVENT_IDX);

/** Options of a {@link VirtioScmiDevice}. */
export interface VirtioScmiDeviceOptions {
  /** The platform the device serves. */
  readonly platform: ScmiPlatformPort;
  /** The agent id (as the platform configuration names it) of the driver on this wire. */
  readonly agentId: number;
  /** The clock of the device's own tasks (an injected fault's: a used-idx-jump restore, a late reset). */
  readonly clock: Clock;
  /** Features offered; default {@link VIRTIO_SCMI_DEVICE_FEATURES}. VERSION_1 is required by the driver. */
  readonly features?: bigint;
  /** Completion order of the commands taken in one pass; default `in-order`. */
  readonly completion?: VirtioCompletionOrder;
  /** Seed of the shuffle and of fault probabilities; default 1. */
  readonly seed?: number;
  /** Wire-level fault rules to start with. */
  readonly faults?: readonly VirtioWireFaultRule[];
  /** Delayed responses that may wait for an eventq buffer; default 64 (then `post` refuses and the platform retries). */
  readonly maxWaitingDelayedResponses?: number;
  /**
   * On a shared wire, the poll window of the device's doorbells, in µs (core's
   * `SharedDoorbellOptions`): how long the notify doorbell keeps looking for the driver's next
   * kick after a wake-up before the device's thread sleeps; default 50 (0 on a single CPU), 0
   * sleeps after one look. Ignored on a same-thread wire.
   */
  readonly pollWindowUs?: number;
}

/**
 * The commands answered in one pass over the cmdq, waiting to be returned in the configured order:
 * preallocated columns (no allocation per command), flushed when full.
 */
class CompletionBatch {
  public count = 0;
  public readonly head: Uint32Array;
  public readonly len: Uint32Array;
  public readonly writeBytes: Uint32Array;
  public readonly secondIndex: Int32Array;
  public readonly order: Uint32Array;

  public constructor(capacity: number) {
    this.head = new Uint32Array(capacity);
    this.len = new Uint32Array(capacity);
    this.writeBytes = new Uint32Array(capacity);
    this.secondIndex = new Int32Array(capacity);
    this.order = new Uint32Array(capacity);
  }

  public get full(): boolean {
    return this.count === this.head.length;
  }

  public add(head: number, len: number, writeBytes: number, secondIndex: number): void {
    const i = this.count++;
    this.head[i] = head;
    this.len[i] = len;
    this.writeBytes[i] = writeBytes;
    this.secondIndex[i] = secondIndex;
  }
}

/**
 * What pairs a later response with its command: the header's message id (7:0), protocol id
 * (17:10) and token (27:18). Not the type (9:8) nor the reserved bits: the device carries what the
 * platform answers, a wrong type included, to the command's buffer, for the agent to judge.
 */
const HEADER_MATCH_MASK = ~(SCMI_HEADER_RESERVED_MASK | (0x3 << 8)) >>> 0;
const NEEDS_RESET: number = VirtioStatus.DEVICE_NEEDS_RESET;
/**
 * The status bits a driver may set (virtio 1.2 §2.1): DEVICE_NEEDS_RESET is the device's to set,
 * the others are reserved.
 */
const DRIVER_STATUS_BITS: number =
  VirtioStatus.ACKNOWLEDGE |
  VirtioStatus.DRIVER |
  VirtioStatus.DRIVER_OK |
  VirtioStatus.FEATURES_OK |
  VirtioStatus.FAILED;
/** The least a cmdq response carries (header and status), and the least an eventq message does. */
const MIN_MESSAGE = MSG_HEADER_SIZE + MSG_STATUS_SIZE;
/**
 * Looks at a queue's available ring (pops, the re-checks after asking for notifications included)
 * one pass takes at most, per entry of the queue: twice the queue size, as the driver's drains.
 * A pass that would look once more leaves the rest to a new task of the device's clock, so that
 * a driver making entries available as fast as the device takes them, or an `avail.idx` that does
 * not hold still (the empty check and the re-check never agreeing), cannot hold the device's
 * thread — shared, in a worker, by several agents' devices and the platform's timers (Linux's
 * vhost caps each pass likewise: `vhost_exceeds_weight`).
 */
const PASS_LOOKS_PER_ENTRY = 2;

/** A command buffer whose response the platform gives later (`link.respond`). */
interface OutstandingCommand {
  readonly head: number;
  /** The command's header under {@link HEADER_MATCH_MASK}: what its response must carry. */
  readonly header: number;
  readonly secondIndex: number;
  /** What a response can be written over: the first `4 + maxMsgSize` writable bytes (`writablePrefix`). */
  readonly chain: DescriptorChain;
  /** The buffer's writable bytes, all of them (what a `used-len-oversize` goes past). */
  readonly writeBytes: number;
}

/** An eventq buffer the device holds, ready for a notification or delayed response. */
interface EventBuffer {
  readonly head: number;
  /** What a message can be written over: the first `4 + maxMsgSize` writable bytes (`writablePrefix`). */
  readonly chain: DescriptorChain;
  /** The buffer's writable bytes, all of them (what an `event-oversize` goes past). */
  readonly writeBytes: number;
}

/**
 * The virtio-scmi device (VIRTIO 1.2 §5.17) over the platform-side contract: the platform end of a
 * {@link VirtioScmiWire}, driving an {@link ScmiPlatformPort} (an `ScmiPlatform` in tests and the
 * demo). It runs in the agent's thread (same-thread wire) or in a worker (shared wire) — the same
 * code either way.
 *
 * - **Handshake**: offers its features; on FEATURES_OK accepts a subset of them that includes
 *   VERSION_1 (else clears FEATURES_OK); on DRIVER_OK checks the queues the driver set up and
 *   connects the agent to the platform (`link.p2a` = P2A_CHANNELS negotiated, so without it the
 *   platform answers NOT_SUPPORTED to notification and asynchronous requests); status 0 resets
 *   it: disconnect, forget every buffer, then acknowledge — the driver reclaims its buffers only
 *   after that acknowledgement.
 * - **cmdq**: takes every available command, hands it to the platform, writes each response into
 *   the command's own buffer and returns the buffers in the configured order; a response the
 *   platform gives later (delayed, reordered, late) is written into the outstanding buffer of the
 *   command it answers (the one the platform names, else the one its header names), and one
 *   matching none is dropped and counted. Commands are in progress in parallel whenever the
 *   platform defers some: the device keeps taking and answering others meanwhile (its own work is
 *   one pass at a time, in its thread). A pass looks at the available ring at most twice the
 *   queue size of times (the eventq's likewise), then returns what it took and leaves the rest to
 *   a new task on its clock (`passesCutShort`), so that no driver can hold the device's thread.
 * - **eventq**: holds the driver's buffers, taking those the driver made available whenever it
 *   posts (not only on a kick), and writes each message into the first held buffer it fits. A
 *   notification with no buffer, or fitting none (as one larger than header + `maxMsgSize` does),
 *   is dropped, as the specification allows. A delayed response with no buffer it fits waits (the
 *   specification: it MUST be sent once buffers are available), up to
 *   `maxWaitingDelayedResponses` (then `post` refuses and the platform retries); one larger than
 *   the link carries (header + `maxMsgSize`, the largest P2A message a driver sizes its buffers
 *   for) can never be expected to fit: `post` refuses it, counted in `delayedResponsesTooLarge`.
 * - **Faults**: `device.faults` injects the wire-level faults of {@link VirtioWireFaultKind}.
 *
 * Everything the driver wrote is validated before use (chains, addresses, lengths, indices). The
 * device tracks the heads it holds on each queue (a bitmap of the queue size): an available entry
 * whose head it still holds is refused (counted in `badChains`, not returned), so the commands and
 * eventq buffers it holds never outnumber the queue's entries, whatever the driver writes. Of each
 * buffer it holds for later (an eventq buffer, a deferred command's) it keeps only the non-empty
 * segments covering the first header + `maxMsgSize` bytes, the most it will write there, so what
 * it keeps is bounded by the message size, not by the descriptors the driver wrote.
 *
 * @example
 * ```ts
 * const wire = VirtioScmiWire.sameThread(clock);
 * const device = new VirtioScmiDevice(wire, { platform, agentId: 1, clock });
 * // … the agent probes over `wire` …
 * device.close();
 * ```
 */
export class VirtioScmiDevice {
  /** The wire-level fault rules. */
  public readonly faults: VirtioWireFaultInjector;
  readonly #wire: VirtioScmiWire;
  readonly #o: VirtioScmiDeviceOptions;
  readonly #doorbells: VirtioWireDoorbells;
  readonly #offered: bigint;
  readonly #memory: DeviceMemory;
  readonly #random: () => number;
  readonly #stats: MutableVirtioDeviceStats = createVirtioDeviceStats();
  readonly #badChainReasons: Partial<Record<VirtioBadChainReason, number>> = {};
  readonly #scratch: Uint8Array;
  readonly #requestViews: (Uint8Array | undefined)[];
  readonly #maxWaiting: number;
  /**
   * The largest message the device writes into a buffer it holds: header + `maxMsgSize`, what the
   * link carries (a delayed response, a notification, a later response). Of each buffer it holds
   * the device keeps only the segments covering that many bytes.
   */
  readonly #maxMessage: number;
  /** A task to go on with a cmdq pass cut short is scheduled and has not run yet. */
  #cmdqResumeQueued = false;
  /** A task to go on with an eventq pass cut short is scheduled and has not run yet. */
  #eventqResumeQueued = false;
  #status = 0;
  #lastSequence = 0;
  #features = 0n;
  #generation = 0;
  /** The pending restore of a `used-idx-jump` with `restoreAfterMs`; cancelled by a reset or the next publication. */
  #jumpTimer: TimerHandle | undefined;
  /** cmdq publications so far: a `used-idx-jump` restore acts only for the latest. */
  #cmdqPublications = 0;
  /** `used.idx` holds a `used-idx-jump`'s wrong value. */
  #jumpPending = false;
  /** A `reset-ack-late` reset not carried out yet: its timer (status writes wait for it). */
  #lateReset: TimerHandle | undefined;
  #connection: PlatformConnection | undefined;
  #cmdq: DeviceVirtqueue | undefined;
  #eventq: DeviceVirtqueue | undefined;
  #chain = new DescriptorChain(1);
  #eventChain = new DescriptorChain(1);
  #batch = new CompletionBatch(1);
  #outstanding: OutstandingCommand[] = [];
  #eventBuffers: EventBuffer[] = [];
  #waitingDelayed: Uint8Array[] = [];
  #withheld = 0;
  #closed = false;

  /**
   * Attaches a device to the device end of `wire` and starts serving it (listening to the driver).
   *
   * @throws ScmiTransportError `E_VIRTIO_WIRE_CLAIMED` when the wire already has a device;
   * ScmiConfigError for invalid options (`completion`, `seed`, `maxWaitingDelayedResponses`,
   * `faults[i]`, `pollWindowUs`).
   */
  public constructor(wire: VirtioScmiWire, options: VirtioScmiDeviceOptions) {
    const completion = options.completion ?? 'in-order';
    if (!['in-order', 'reverse', 'shuffle'].includes(completion)) {
      throw new ScmiConfigError('completion', 'must be in-order, reverse or shuffle');
    }
    const seed = options.seed ?? 1;
    if (!Number.isSafeInteger(seed)) throw new ScmiConfigError('seed', 'must be an integer');
    const maxWaiting = options.maxWaitingDelayedResponses ?? 64;
    if (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0) {
      throw new ScmiConfigError('maxWaitingDelayedResponses', 'must be a non-negative integer');
    }
    this.#wire = wire;
    this.#o = options;
    this.#maxWaiting = maxWaiting;
    this.#random = mulberry32(seed);
    this.faults = new VirtioWireFaultInjector(this.#random);
    if (options.faults !== undefined) this.faults.set(options.faults);
    this.#offered = options.features ?? VIRTIO_SCMI_DEVICE_FEATURES;
    const layout = wire.layout;
    this.#maxMessage = MSG_HEADER_SIZE + layout.maxMsgSize;
    this.#memory = wire.deviceMemory();
    this.#scratch = new Uint8Array(layout.pduSize);
    this.#requestViews = new Array<Uint8Array | undefined>(layout.pduSize + 1).fill(undefined);
    this.#doorbells = wire.claimDeviceEnd(
      options.pollWindowUs === undefined ? {} : { pollWindowUs: options.pollWindowUs },
    );
    wire.registers.writeFeatures(
      VirtioRegister.DEVICE_FEATURES_LOW,
      VirtioRegister.DEVICE_FEATURES_HIGH,
      this.#offered,
    );
    this.#doorbells.notify.listen(() => {
      this.#onKick();
    });
  }

  /** A copy of the device's counters. */
  public get stats(): VirtioDeviceStats {
    return { ...this.#stats, badChainReasons: { ...this.#badChainReasons } };
  }

  /** The device status as the device holds it. */
  public get status(): number {
    return this.#status;
  }

  /** Features negotiated at FEATURES_OK (0 before). */
  public get features(): bigint {
    return this.#features;
  }

  /** True between DRIVER_OK and the next reset. */
  public get live(): boolean {
    return this.#cmdq !== undefined;
  }

  /** Command buffers waiting for a later platform response. */
  public get outstandingCommands(): number {
    return this.#outstanding.length + this.#withheld;
  }

  /** eventq buffers the device holds. */
  public get eventBuffers(): number {
    return this.#eventBuffers.length;
  }

  /** Whether {@link VirtioScmiDevice.close} was called. */
  public get closed(): boolean {
    return this.#closed;
  }

  /**
   * Stops the device: resets it (disconnecting the agent from the platform), marks the wire's
   * device end closed — the driver may then reclaim its buffers without waiting for a reset
   * acknowledgement — signals the driver, and closes the device's doorbells. Idempotent.
   */
  public close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lateReset?.cancel();
    this.#lateReset = undefined;
    this.#reset();
    this.#wire.registers.write(VirtioRegister.DEVICE_PRESENCE, VirtioDevicePresence.CLOSED);
    this.#wire.registers.or(VirtioRegister.INTERRUPT_STATUS, VIRTIO_INTERRUPT_CONFIG);
    this.#doorbells.notify.ring();
    this.#doorbells.notify.close();
    this.#doorbells.interrupt.close();
  }

  // ---- driver notifications ------------------------------------------------------------------

  #onKick(): void {
    if (this.#closed) return;
    this.#stats.kicks++;
    this.#handleStatus();
    // The kick is shared by both queues: an idle one (nothing made available since the last look,
    // notifications asked for) is left alone — an idle cmdq has no chain to take, an idle eventq
    // no buffer for a delayed response waiting for one — and its suppression fields unwritten.
    const cmdq = this.#cmdq;
    if (cmdq !== undefined && !cmdq.idle) this.#processCmdq(cmdq);
    const eventq = this.#eventq;
    if (eventq !== undefined && !eventq.idle) this.#serviceEventq(eventq);
  }

  #handleStatus(): void {
    // A late reset pending: what the driver wrote since is looked at once it is done.
    if (this.#lateReset !== undefined) return;
    const r = this.#wire.registers;
    const sequence = r.read(VirtioRegister.STATUS_SEQUENCE);
    if (sequence === this.#lastSequence) return;
    this.#lastSequence = sequence;
    this.#stats.statusWrites++;
    const requested = r.read(VirtioRegister.STATUS_REQUEST);
    if (requested === 0) {
      const late = this.faults.has('reset-ack-late')
        ? this.faults.fire('reset-ack-late')
        : undefined;
      if (late !== undefined) {
        this.#resetLate(sequence, late.ackAfterMs ?? 0);
        return;
      }
      this.#reset();
      this.#stats.resets++;
    } else if ((requested & VirtioStatus.FAILED) !== 0) {
      // The driver gave up. FAILED is taken whatever came with it, but a FAILED that clears a bit
      // the device holds is still a driver error (VIRTIO 1.2 §2.1.1: the driver MUST NOT clear a
      // device status bit; Linux's virtio_add_status ORs FAILED into the status it reads).
      if ((requested & this.#status & ~NEEDS_RESET) !== (this.#status & ~NEEDS_RESET)) {
        this.#stats.badStatusWrites++;
      }
      this.#reset();
      this.#status = requested & DRIVER_STATUS_BITS;
    } else if (
      (requested & this.#status & ~NEEDS_RESET) !== (this.#status & ~NEEDS_RESET) ||
      (requested & ~DRIVER_STATUS_BITS & ~(this.#status & NEEDS_RESET)) !== 0
    ) {
      // The driver cleared a status bit the device holds: it MUST NOT (virtio 1.2 §2.1.2; only a
      // write of 0 resets); or it set one that is not its own (a reserved bit, or
      // DEVICE_NEEDS_RESET while the device does not hold it: a read-modify-write driver, as
      // Linux's virtio_add_status, echoes it when the device set it). A driver error: the device
      // keeps its status, needs a reset and takes no more buffers — it neither starts again nor
      // renegotiates features under live rings.
      this.#stats.badStatusWrites++;
      this.#status |= NEEDS_RESET;
      this.#cmdq = undefined;
      this.#eventq = undefined;
    } else {
      // A device that needs a reset (a bad status write, a refused start) negotiates nothing and
      // does not start until the driver resets it, whatever it writes meanwhile.
      const needsReset = (this.#status & NEEDS_RESET) !== 0;
      let status = requested | (this.#status & NEEDS_RESET);
      if (
        (requested & VirtioStatus.FEATURES_OK) !== 0 &&
        (this.#status & VirtioStatus.FEATURES_OK) === 0
      ) {
        const wanted = r.readFeatures(
          VirtioRegister.DRIVER_FEATURES_LOW,
          VirtioRegister.DRIVER_FEATURES_HIGH,
        );
        const acceptable =
          (wanted & ~this.#offered) === 0n && hasFeature(wanted, VirtioFeature.VERSION_1);
        if (acceptable && !needsReset) this.#features = wanted;
        else {
          status &= ~VirtioStatus.FEATURES_OK;
          this.#stats.featuresRefused++;
        }
      }
      if (
        (status & VirtioStatus.DRIVER_OK) !== 0 &&
        (this.#status & VirtioStatus.DRIVER_OK) === 0
      ) {
        if (needsReset || (status & VirtioStatus.FEATURES_OK) === 0 || !this.#start()) {
          status |= VirtioStatus.DEVICE_NEEDS_RESET;
          this.#stats.startsRefused++;
        }
      }
      this.#status = status;
    }
    this.#acknowledge(sequence);
  }

  /** Publishes the device status and acknowledges the status write `sequence`; signals the driver. */
  #acknowledge(sequence: number): void {
    const r = this.#wire.registers;
    r.write(VirtioRegister.DEVICE_STATUS, this.#status);
    r.write(VirtioRegister.STATUS_ACK, sequence);
    r.or(VirtioRegister.INTERRUPT_STATUS, VIRTIO_INTERRUPT_CONFIG);
    this.#doorbells.notify.ring();
  }

  /**
   * `reset-ack-late`: the reset asked for by status write `sequence` is carried out and
   * acknowledged `ms` later; meanwhile the device serves its queues as before. Then a status
   * written since is looked at.
   */
  #resetLate(sequence: number, ms: number): void {
    this.#lateReset = this.#o.clock.setTimeout(() => {
      this.#lateReset = undefined;
      if (this.#closed) return;
      this.#reset();
      this.#stats.resets++;
      this.#acknowledge(sequence);
      this.#handleStatus();
    }, ms);
  }

  /** DRIVER_OK: check the queues, connect to the platform. False when the setup is unusable. */
  #start(): boolean {
    const r = this.#wire.registers;
    const layout = this.#wire.layout;
    const ring = {
      indirect: hasFeature(this.#features, VirtioFeature.RING_INDIRECT_DESC),
      eventIdx: hasFeature(this.#features, VirtioFeature.RING_EVENT_IDX),
    };
    const cmdqSize = r.read(VirtioRegister.CMDQ_NUM);
    if (
      r.read(VirtioRegister.CMDQ_READY) !== 1 ||
      !isQueueSize(cmdqSize) ||
      cmdqSize < 2 ||
      cmdqSize > layout.cmdqSize
    ) {
      return false;
    }
    const p2a = hasFeature(this.#features, VirtioFeature.SCMI_P2A_CHANNELS);
    let eventqSize = 0;
    if (p2a) {
      eventqSize = r.read(VirtioRegister.EVENTQ_NUM);
      if (
        r.read(VirtioRegister.EVENTQ_READY) !== 1 ||
        !isQueueSize(eventqSize) ||
        eventqSize > layout.eventqSize
      ) {
        return false;
      }
    }
    // A new generation for the new link: the one before (a reset bumped it) is over anyway.
    const generation = ++this.#generation;
    const link: PlatformAgentLink = {
      p2a,
      maxMsgSize: layout.maxMsgSize,
      respond: (channelId, bytes, command) => {
        // A response to a command of a link the device reset since: no buffer holds it any more.
        if (generation === this.#generation) this.#respond(channelId, bytes, command);
        else this.#stats.unmatchedResponses++;
      },
      post: (bytes) => generation === this.#generation && this.#post(bytes),
    };
    try {
      this.#connection = this.#o.platform.connect(this.#o.agentId, link);
    } catch {
      return false;
    }
    this.#chain = new DescriptorChain(Math.max(cmdqSize, VIRTIO_DEVICE_MAX_SEGMENTS));
    this.#eventChain = new DescriptorChain(Math.max(eventqSize, VIRTIO_DEVICE_MAX_SEGMENTS));
    // In order, each command is returned as soon as it is answered (a batch of one); reordered,
    // the commands of one pass are returned together at its end.
    this.#batch = new CompletionBatch(
      (this.#o.completion ?? 'in-order') === 'in-order' ? 1 : cmdqSize,
    );
    this.#cmdq = new DeviceVirtqueue(this.#wire.cmdqRing(cmdqSize), this.#memory, ring);
    this.#cmdq.enableNotifications();
    if (p2a) {
      this.#eventq = new DeviceVirtqueue(this.#wire.eventqRing(eventqSize), this.#memory, ring);
      this.#eventq.enableNotifications();
    }
    this.#stats.starts++;
    return true;
  }

  #reset(): void {
    this.#generation++;
    this.#jumpTimer?.cancel();
    this.#jumpTimer = undefined;
    this.#jumpPending = false;
    const connection = this.#connection;
    this.#connection = undefined;
    this.#cmdq = undefined;
    this.#eventq = undefined;
    this.#outstanding = [];
    this.#eventBuffers = [];
    this.#waitingDelayed = [];
    this.#withheld = 0;
    this.#features = 0n;
    this.#status = 0;
    connection?.disconnect();
  }

  /** Counts a chain the device refused, in `badChains` and by `reason`. */
  #badChain(reason: VirtioBadChainReason): void {
    this.#stats.badChains++;
    this.#badChainReasons[reason] = (this.#badChainReasons[reason] ?? 0) + 1;
  }

  #needsReset(): void {
    // A device that needs a reset touches its queues no more: a used-idx-jump's pending restore
    // included (its interrupt would signal a queue the device dropped).
    this.#jumpTimer?.cancel();
    this.#jumpTimer = undefined;
    this.#status |= VirtioStatus.DEVICE_NEEDS_RESET;
    this.#wire.registers.write(VirtioRegister.DEVICE_STATUS, this.#status);
    this.#wire.registers.or(VirtioRegister.INTERRUPT_STATUS, VIRTIO_INTERRUPT_CONFIG);
    this.#doorbells.notify.ring();
    this.#cmdq = undefined;
    this.#eventq = undefined;
  }

  #interrupt(): void {
    this.#stats.interrupts++;
    this.#wire.registers.or(VirtioRegister.INTERRUPT_STATUS, VIRTIO_INTERRUPT_USED_BUFFER);
    this.#doorbells.interrupt.ring();
  }

  /**
   * A pass over `queue` ran out of budget ({@link PASS_LOOKS_PER_ENTRY}): counted, and a task
   * scheduled on the device's clock (one at most per queue) goes on with it. That task runs
   * whether or not the driver notifies again — the pass left notifications off, the queue is not
   * idle — and looks at the queue live then (a reset since may have replaced it).
   */
  #cutShort(queue: 'cmdq' | 'eventq'): void {
    this.#stats.passesCutShort++;
    if (queue === 'cmdq') {
      if (this.#cmdqResumeQueued) return;
      this.#cmdqResumeQueued = true;
      this.#o.clock.schedule(this.#resumeCmdq);
    } else {
      if (this.#eventqResumeQueued) return;
      this.#eventqResumeQueued = true;
      this.#o.clock.schedule(this.#resumeEventq);
    }
  }

  /** The rest of a cmdq pass cut short (see {@link VirtioScmiDevice.#cutShort}). */
  readonly #resumeCmdq = (): void => {
    this.#cmdqResumeQueued = false;
    const cmdq = this.#cmdq;
    if (this.#closed || cmdq === undefined || cmdq.idle) return;
    this.#processCmdq(cmdq);
  };

  /** The rest of an eventq pass cut short (see {@link VirtioScmiDevice.#cutShort}). */
  readonly #resumeEventq = (): void => {
    this.#eventqResumeQueued = false;
    const eventq = this.#eventq;
    if (this.#closed || eventq === undefined || eventq.idle) return;
    this.#serviceEventq(eventq);
  };

  // ---- cmdq ----------------------------------------------------------------------------------

  #requestView(length: number): Uint8Array {
    let view = this.#requestViews[length];
    if (view === undefined) {
      view = this.#scratch.subarray(0, length);
      this.#requestViews[length] = view;
    }
    return view;
  }

  #processCmdq(cmdq: DeviceVirtqueue): void {
    const batch = this.#batch;
    const chain = this.#chain;
    const generation = this.#generation;
    // No kicks needed while the device works through the ring (NO_NOTIFY without EVENT_IDX);
    // asked for again, and the ring looked at once more, before it sleeps.
    cmdq.disableNotifications();
    for (let looks = PASS_LOOKS_PER_ENTRY * cmdq.size; ; looks--) {
      if (batch.full) this.#complete(cmdq, batch);
      if (looks === 0) {
        // Out of budget: what the pass took goes back now, the rest on a new task (notifications
        // stay off meanwhile: that task looks whether or not the driver notifies).
        this.#complete(cmdq, batch);
        this.#cutShort('cmdq');
        return;
      }
      const head = cmdq.pop();
      if (head === POP_EMPTY) {
        if (!cmdq.enableNotifications()) break;
        cmdq.disableNotifications();
        continue;
      }
      if (head === POP_BAD_INDEX) {
        this.#badChain('avail-idx-jump');
        this.#needsReset();
        return;
      }
      // A head the device still holds (outstanding, withheld, in this pass) is refused, not
      // returned: returning it would complete the chain the device holds.
      if (head < cmdq.size && !cmdq.hold(head)) {
        this.#badChain('head-held');
        continue;
      }
      const defect = cmdq.walk(head, chain);
      if (defect !== undefined) {
        this.#badChain(defect);
        if (head < cmdq.size) batch.add(head, 0, 0, -1);
        continue;
      }
      const n = cmdq.readChain(chain, this.#scratch);
      // A request shorter than a header or larger than a message, or with no room for the
      // response's header and status: not given to the platform, which would carry out a command
      // whose outcome the agent could never read.
      if (n < MSG_HEADER_SIZE || n > this.#scratch.byteLength || chain.writeBytes < MIN_MESSAGE) {
        this.#stats.badRequests++;
        batch.add(head, 0, chain.writeBytes, chain.secondIndex);
        continue;
      }
      this.#stats.commands++;
      const request = this.#requestView(n);
      let response: Uint8Array | undefined;
      let threw = false;
      try {
        response = this.#o.platform.handle(this.#o.agentId, 0, request);
      } catch {
        threw = true;
      }
      // A re-entrant call from the platform (a notification posted while handling) cannot reset
      // the device, but it can find the eventq broken (the device then needs a reset), and
      // nothing below may run against a device that was reset or stopped meanwhile.
      if (generation !== this.#generation || this.#cmdq !== cmdq) return;
      if (threw) {
        // A platform that breaks its contract (handle must not throw) costs this command only:
        // returned unanswered, as a request the platform dropped.
        this.#stats.platformErrors++;
        batch.add(head, 0, chain.writeBytes, chain.secondIndex);
        continue;
      }
      if (response === undefined) {
        const word = readU32(request, 0);
        if (!isCommandHeader(word)) {
          // Not a command (reserved bits, another type): the platform saw it (counted, and
          // BASE_ERROR_EVENT) and dropped it, and will never answer it. Returned now, nothing
          // written, instead of held as deferred until the reset (as the SMT responder gives the
          // area back with CHANNEL_ERROR).
          this.#stats.badRequests++;
          batch.add(head, 0, chain.writeBytes, chain.secondIndex);
          continue;
        }
        this.#stats.deferred++;
        const header = word & HEADER_MATCH_MASK;
        // An outstanding command with the same header is one the agent gave up on (it reuses a
        // token only after freeing it): give it back unanswered now, or the platform's response
        // to this command would be written into that one's buffer.
        const superseded = this.#outstanding.findIndex((o) => o.header === header);
        if (superseded >= 0) {
          const old = this.#outstanding.splice(superseded, 1)[0] as OutstandingCommand;
          this.#stats.supersededCommands++;
          if (batch.full) this.#complete(cmdq, batch);
          batch.add(old.head, 0, old.writeBytes, old.secondIndex);
        }
        // Only what a response can be written over is kept (see #maxMessage): a chain of a
        // thousand segments costs a few, whatever the driver wrote.
        this.#outstanding.push({
          head,
          header,
          secondIndex: chain.secondIndex,
          chain: chain.writablePrefix(this.#maxMessage),
          writeBytes: chain.writeBytes,
        });
        continue;
      }
      this.#stats.responses++;
      const len = this.#writeResponse(cmdq, chain, response);
      batch.add(head, len, chain.writeBytes, chain.secondIndex);
    }
    this.#complete(cmdq, batch);
  }

  /** Writes `response` into the writable part of `chain`; counts a response cut to fit. */
  #writeResponse(cmdq: DeviceVirtqueue, chain: DescriptorChain, response: Uint8Array): number {
    const len = cmdq.writeChain(chain, response, response.byteLength);
    if (len < response.byteLength) this.#stats.responsesTruncated++;
    return len;
  }

  /** Returns the batch's buffers in the configured order, with the cmdq fault rules; notifies the driver. */
  #complete(cmdq: DeviceVirtqueue, batch: CompletionBatch): void {
    const n = batch.count;
    if (n === 0) return;
    const order = batch.order;
    const completion = this.#o.completion ?? 'in-order';
    for (let i = 0; i < n; i++) order[i] = completion === 'reverse' ? n - 1 - i : i;
    if (completion === 'shuffle') {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(this.#random() * (i + 1));
        const t = order[i] as number;
        order[i] = order[j] as number;
        order[j] = t;
      }
    }
    for (let k = 0; k < n; k++) {
      const i = order[k] as number;
      this.#pushCommand(
        cmdq,
        batch.head[i] as number,
        batch.len[i] as number,
        batch.writeBytes[i] as number,
        batch.secondIndex[i] as number,
      );
    }
    batch.count = 0;
    this.#publish(cmdq);
  }

  #pushCommand(
    cmdq: DeviceVirtqueue,
    head: number,
    written: number,
    writeBytes: number,
    secondIndex: number,
  ): void {
    const faults = this.faults;
    let len = written;
    if (faults.has('used-len-oversize') && faults.fire('used-len-oversize') !== undefined) {
      len = writeBytes + 64;
    }
    if (faults.has('used-id-out-of-range')) {
      const rule = faults.fire('used-id-out-of-range');
      if (rule !== undefined) {
        cmdq.pushUsed(cmdq.size + 7, 0);
        if (rule.withhold === true) {
          this.#withheld++; // still held: the driver cannot offer it again before the reset
          return;
        }
      }
    }
    cmdq.release(head);
    cmdq.pushUsed(head, len);
    if (faults.has('used-id-not-in-flight') && faults.fire('used-id-not-in-flight') !== undefined) {
      cmdq.pushUsed(secondIndex >= 0 ? secondIndex : head, 0);
    }
  }

  /**
   * Publishes the queue's used elements and notifies the driver unless suppressed; on the cmdq,
   * the `used-idx-jump` rule may fire here.
   */
  #publish(queue: DeviceVirtqueue): void {
    if (queue !== this.#cmdq) {
      if (queue.publishUsed()) this.#interrupt();
      return;
    }
    // A jump still pending is over: the true used index first, then what this publication adds.
    const publication = ++this.#cmdqPublications;
    if (this.#jumpPending) {
      this.#jumpPending = false;
      this.#jumpTimer?.cancel();
      this.#jumpTimer = undefined;
      queue.restoreUsedIdx();
    }
    const notify = queue.publishUsed();
    const jump = this.faults.has('used-idx-jump') ? this.faults.fire('used-idx-jump') : undefined;
    if (jump === undefined) {
      if (notify) this.#interrupt();
      return;
    }
    const generation = this.#generation;
    queue.corruptUsedIdx(queue.size + 1);
    this.#jumpPending = true;
    this.#interrupt();
    const restore = (): void => {
      // Only the latest publication's restore acts; a later publication restored the index.
      if (publication !== this.#cmdqPublications) return;
      this.#jumpTimer = undefined;
      this.#jumpPending = false;
      if (generation !== this.#generation || this.#closed || this.#cmdq !== queue) return;
      queue.restoreUsedIdx();
      this.#interrupt();
    };
    if (jump.restoreAfterMs === undefined) this.#o.clock.schedule(restore);
    else this.#jumpTimer = this.#o.clock.setTimeout(restore, jump.restoreAfterMs);
  }

  /** A response the platform gives after `handle` returned (delayed, reordered, late, duplicate, unsolicited). */
  #respond(channelId: number, bytes: Uint8Array, command: number | undefined): void {
    const cmdq = this.#cmdq;
    if (
      this.#closed ||
      cmdq === undefined ||
      channelId !== 0 ||
      (command === undefined && bytes.byteLength < 4)
    ) {
      this.#stats.unmatchedResponses++;
      return;
    }
    // The command the platform names, else the response's own header. Named, a response a fault
    // rule rewrote (token, protocol, truncated) still goes to its command's buffer, for the agent
    // to reject; matched by its header it would match no command, and the buffer would stay the
    // device's until a reset. Matched on the whole header, not the token alone: two outstanding
    // commands may share a token (the older one abandoned by the agent) but not a header (see
    // the cmdq).
    const header = (command ?? readU32(bytes, 0)) & HEADER_MATCH_MASK;
    const i = this.#outstanding.findIndex((o) => o.header === header);
    const outstanding = this.#outstanding[i];
    if (outstanding === undefined) {
      this.#stats.unmatchedResponses++;
      return;
    }
    this.#outstanding.splice(i, 1);
    this.#stats.lateResponses++;
    const len = this.#writeResponse(cmdq, outstanding.chain, bytes);
    this.#pushCommand(cmdq, outstanding.head, len, outstanding.writeBytes, outstanding.secondIndex);
    this.#publish(cmdq);
  }

  // ---- eventq --------------------------------------------------------------------------------

  /** Takes the eventq buffers the driver made available, then writes the delayed responses waiting for one. */
  #serviceEventq(eventq: DeviceVirtqueue): void {
    this.#takeEventBuffers(eventq);
    if (this.#eventq === eventq) this.#flushDelayed(eventq);
  }

  #takeEventBuffers(eventq: DeviceVirtqueue): void {
    // Its own scratch chain: a post from the platform while it handles a command (the cmdq's
    // chain in use) takes eventq buffers too.
    const chain = this.#eventChain;
    // Buffers returned (refused) and not published yet: at most Q per publication, as the cmdq's
    // batches, even when the driver offers a refused head again within the pass.
    let returned = 0;
    let cut = false;
    eventq.disableNotifications();
    for (let looks = PASS_LOOKS_PER_ENTRY * eventq.size; ; looks--) {
      if (looks === 0) {
        cut = true; // out of budget: the rest on a new task, notifications off meanwhile
        break;
      }
      const head = eventq.pop();
      if (head === POP_EMPTY) {
        if (!eventq.enableNotifications()) break;
        eventq.disableNotifications();
        continue;
      }
      if (head === POP_BAD_INDEX) {
        this.#badChain('avail-idx-jump');
        this.#needsReset();
        return;
      }
      if (head < eventq.size && !eventq.hold(head)) {
        this.#badChain('head-held'); // a buffer the device still holds: refused, not returned
        continue;
      }
      // The driver MUST NOT put device-readable descriptors on the eventq.
      // One too small for any eventq message (header and a word) would be held for nothing.
      const defect =
        eventq.walk(head, chain) ??
        (chain.readCount > 0
          ? 'eventq-readable'
          : chain.writeBytes < MIN_MESSAGE
            ? 'eventq-too-small'
            : undefined);
      if (defect !== undefined) {
        this.#badChain(defect);
        if (head < eventq.size) {
          if (returned === eventq.size) {
            this.#publish(eventq);
            returned = 0;
          }
          eventq.release(head);
          eventq.pushUsed(head, 0);
          returned++;
        }
        continue;
      }
      // Only what a message can be written over is kept (see #maxMessage): a chain of a thousand
      // segments, or one table every head refers to, costs a few.
      this.#eventBuffers.push({
        head,
        chain: chain.writablePrefix(this.#maxMessage),
        writeBytes: chain.writeBytes,
      });
    }
    if (returned > 0) this.#publish(eventq);
    if (cut) this.#cutShort('eventq');
  }

  /**
   * Writes each waiting delayed response, oldest first, into a held buffer it fits; one that fits
   * none stays waiting (the specification: a delayed response MUST be sent once buffers are
   * available) and does not hold back the others.
   */
  #flushDelayed(eventq: DeviceVirtqueue): void {
    const waiting = this.#waitingDelayed;
    if (waiting.length === 0 || this.#eventBuffers.length === 0) return;
    let posted = false;
    let kept = 0;
    for (const bytes of waiting) {
      if (this.#eventBuffers.length > 0 && this.#write(eventq, bytes)) {
        this.#stats.delayedResponsesPosted++;
        posted = true;
      } else {
        waiting[kept++] = bytes;
      }
    }
    waiting.length = kept;
    if (posted) this.#publish(eventq);
  }

  /**
   * Writes one P2A message into the first held eventq buffer it fits (buffers need not be the same
   * size; a smaller one is kept for a smaller message); false when it fits none (all are kept).
   */
  #write(eventq: DeviceVirtqueue, bytes: Uint8Array): boolean {
    const buffers = this.#eventBuffers;
    const length = bytes.byteLength;
    let i = 0;
    while (i < buffers.length && length > (buffers[i] as EventBuffer).chain.writeBytes) i++;
    const buffer = buffers[i];
    if (buffer === undefined) return false;
    buffers.splice(i, 1);
    eventq.release(buffer.head);
    const written = eventq.writeChain(buffer.chain, bytes, length);
    const lie =
      this.faults.has('event-oversize') && this.faults.fire('event-oversize') !== undefined;
    eventq.pushUsed(buffer.head, lie ? buffer.writeBytes + 1 : written);
    return true;
  }

  #post(bytes: Uint8Array): boolean {
    const eventq = this.#eventq;
    if (this.#closed || eventq === undefined || bytes.byteLength < 4) return false;
    const delayed = headerType(readU32(bytes, 0)) === ScmiMessageType.DELAYED_RESPONSE;
    // Larger than the link carries (header + maxMsgSize): a driver sizes its eventq buffers for
    // the largest P2A message, so no buffer is expected to hold it. Refused, never waiting.
    if (delayed && bytes.byteLength > 4 + this.#wire.layout.maxMsgSize) {
      this.#stats.delayedResponsesTooLarge++;
      return false;
    }
    // Buffers the driver made available since the device last looked count too (a re-queued
    // buffer whose kick has not arrived, one offered while notifications were suppressed), after
    // the delayed responses already waiting for one.
    this.#serviceEventq(eventq);
    if (this.#eventq !== eventq) return false; // a broken eventq: the device needs a reset
    if (delayed) {
      if (this.#write(eventq, bytes)) {
        this.#stats.delayedResponsesPosted++;
        this.#publish(eventq);
        return true;
      }
      if (this.#waitingDelayed.length >= this.#maxWaiting) {
        this.#stats.delayedResponsesRefused++;
        return false;
      }
      this.#stats.delayedResponsesQueued++;
      this.#waitingDelayed.push(bytes.slice());
      return true;
    }
    if (this.#eventBuffers.length === 0) {
      this.#stats.notificationsDropped++;
      return false;
    }
    if (!this.#write(eventq, bytes)) {
      this.#stats.eventsTooLarge++;
      return false;
    }
    this.#stats.notificationsPosted++;
    this.#publish(eventq);
    return true;
  }
}
