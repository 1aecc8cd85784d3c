import {
  RealClock,
  ScmiTransportError,
  SharedDoorbell,
  type Clock,
  type SharedDoorbellOptions,
} from '@scmi-ts/core';
import {
  MAX_MAILBOX_CHANNELS,
  MailboxChannelTable,
  controllerTxDoneMethod,
  type MailboxChannel,
  type MailboxClient,
  type MailboxController,
  type MailboxControllerStats,
  type MailboxRemoteEnd,
} from './mailbox-controller.js';
import { MailboxLineChannel, type MailboxLine } from './mailbox-line.js';

/*
 * Region layout (int32 words, native order: both threads run on one machine):
 *   header: [0] magic, [1] channel count, [2] TX-done method (1 irq, 2 poll), [3] reserved
 *   per channel, at HEADER_BYTES + index * CHANNEL_BYTES:
 *     request/answer doorbell (SharedDoorbell.BYTES), TX-done doorbell (SharedDoorbell.BYTES),
 *     sent sequence, consumed sequence.
 */
const MAGIC = 0x4d424f58; // "MBOX"
const HEADER_BYTES = 16;
const CHANNEL_BYTES = 2 * SharedDoorbell.BYTES + 8;
const METHOD_IRQ = 1;
const METHOD_POLL = 2;
const SENT = 0;
const CONSUMED = 1;

interface RegionInfo {
  readonly channels: number;
  readonly method: 'irq' | 'poll';
}

function readRegion(region: SharedArrayBuffer): RegionInfo {
  if (
    Object.prototype.toString.call(region) !== '[object SharedArrayBuffer]' ||
    region.byteLength < HEADER_BYTES
  ) {
    throw new ScmiTransportError(
      'E_MBOX_REGION',
      'a shared mailbox needs the SharedArrayBuffer made by SharedMailboxController.allocate',
    );
  }
  const header = new Int32Array(region, 0, 4);
  const channels = Atomics.load(header, 1);
  const method = Atomics.load(header, 2);
  if (
    Atomics.load(header, 0) !== MAGIC ||
    channels < 1 ||
    region.byteLength < HEADER_BYTES + channels * CHANNEL_BYTES ||
    (method !== METHOD_IRQ && method !== METHOD_POLL)
  ) {
    throw new ScmiTransportError(
      'E_MBOX_REGION',
      'not a shared mailbox region (use SharedMailboxController.allocate)',
    );
  }
  return { channels, method: method === METHOD_IRQ ? 'irq' : 'poll' };
}

function channelBase(index: number): number {
  return HEADER_BYTES + index * CHANNEL_BYTES;
}

/** Word of a `SharedDoorbell` region that side `b` rings (and side `a` waits on): see its layout. */
const RING_B_TO_A = 1;

/**
 * The agent's side of one shared channel. Rings are accounted by sequence number: every ring of
 * the remote is either seen by a delivery or, once closed, dropped and counted — including a ring
 * that was made before close and not delivered yet.
 */
class SharedLine implements MailboxLine {
  readonly #bell: SharedDoorbell;
  readonly #tx: SharedDoorbell;
  readonly #words: Int32Array;
  readonly #bellWords: Int32Array;
  #seen = 0;
  #closed = false;

  constructor(region: SharedArrayBuffer, index: number, doorbell: SharedDoorbellOptions) {
    const base = channelBase(index);
    this.#bell = new SharedDoorbell(region, base, 'a', doorbell);
    this.#tx = new SharedDoorbell(region, base + SharedDoorbell.BYTES, 'a', doorbell);
    this.#words = new Int32Array(region, base + 2 * SharedDoorbell.BYTES, 2);
    this.#bellWords = new Int32Array(region, base, SharedDoorbell.BYTES / 4);
  }

  ring(): number {
    const seq = (Atomics.add(this.#words, SENT, 1) + 1) | 0;
    this.#bell.ring();
    return seq;
  }

  listen(onRing: (rings: number) => void): void {
    // Drops after close are counted by sequence (across threads nobody sees them as they happen).
    this.#bell.listen(() => {
      // The doorbell looked at the sequence just before: a ring the remote made since is seen
      // here, and the call below reads what the remote wrote before it — it covers that ring.
      // The doorbell, having looked before it, delivers once more for it: nothing new then, and
      // delivered again the client would take the same reply twice (counted `unexpected`).
      const now = Atomics.load(this.#bellWords, RING_B_TO_A);
      const rings = (now - this.#seen) >>> 0;
      this.#seen = now;
      if (rings !== 0) onRing(rings);
    });
  }

  close(): void {
    this.#closed = true;
    this.#bell.close();
    this.#tx.close();
  }

  ignored(): number {
    if (!this.#closed) return 0;
    return (Atomics.load(this.#bellWords, RING_B_TO_A) - this.#seen) >>> 0;
  }

  consumed(): number {
    return Atomics.load(this.#words, CONSUMED);
  }

  listenTxDone(onTxIrq: () => void): void {
    this.#tx.listen(onTxIrq);
  }
}

/** Options of a {@link SharedMailboxController}. */
export interface SharedMailboxControllerOptions {
  /** The clock of TX-done polling (default a `RealClock`). */
  readonly clock?: Clock;
  /** Period of TX-done polling, ms (default 1). */
  readonly txPollPeriodMs?: number;
  /** A name for errors (default `mbox`). */
  readonly name?: string;
  /**
   * The poll window of the channels' doorbells, in µs (core's `SharedDoorbellOptions`): how long
   * a channel keeps looking for the remote's next ring after a wake-up before the agent's thread
   * sleeps; default 50 (0 on a single CPU), 0 sleeps after one look. A number from 0 to 1,000,000.
   */
  readonly pollWindowUs?: number;
}

/**
 * A mailbox controller whose remote end runs on another thread (a platform in a
 * `worker_thread`): each channel is a core {@link @scmi-ts/core!SharedDoorbell} over a region of
 * a `SharedArrayBuffer`, plus a TX-done doorbell and the remote's consumed-ring sequence (for the
 * `irq` and `poll` methods). The agent's thread constructs the controller over the region, the
 * remote thread constructs a {@link SharedMailboxRemote} per channel over the same region.
 *
 * A listening channel holds a ref'd handle (the thread stays alive to hear rings) until its RX is
 * stopped or it is freed: free every channel you request. Rings that arrive after that are
 * counted in {@link MailboxChannel.ignored}.
 *
 * @example
 * ```ts
 * const region = SharedMailboxController.allocate(2);
 * const controller = new SharedMailboxController(region);
 * const host = await startWorker({ entry, data: { region } }); // new SharedMailboxRemote(region, i) there
 * const chan = controller.requestChannel(0, { knowsTxDone: true, rxCallback: () => onReply() });
 * chan.send();
 * ```
 */
export class SharedMailboxController implements MailboxController {
  public readonly name: string;
  public readonly channelCount: number;
  public readonly txDoneMethod: 'irq' | 'poll';
  /** The shared region (give it to the remote thread). */
  public readonly region: SharedArrayBuffer;
  readonly #clock: Clock;
  readonly #pollMs: number;
  /** Per channel: never requested, held by a client, or freed (for good, as the contract says). */
  readonly #table: MailboxChannelTable;
  readonly #doorbell: SharedDoorbellOptions;

  /**
   * Opens the agent's side of the controller in `region`.
   *
   * @throws ScmiTransportError `E_MBOX_REGION` when `region` was not made by
   * {@link SharedMailboxController.allocate}; ScmiConfigError `pollWindowUs` for a bad poll window.
   */
  public constructor(region: SharedArrayBuffer, options: SharedMailboxControllerOptions = {}) {
    const info = readRegion(region);
    this.#doorbell = { pollWindowUs: SharedDoorbell.checkPollWindow(options.pollWindowUs) };
    const pollMs = options.txPollPeriodMs ?? 1;
    if (!(pollMs > 0)) throw new RangeError(`txPollPeriodMs must be positive, got ${pollMs}`);
    this.region = region;
    this.name = options.name ?? 'mbox';
    this.channelCount = info.channels;
    this.txDoneMethod = info.method;
    this.#clock = options.clock ?? new RealClock();
    this.#pollMs = pollMs;
    this.#table = new MailboxChannelTable(this.name, info.channels);
  }

  /**
   * Allocates the zeroed region of a controller with `channels` channels whose controller detects
   * TX completion by `txDoneMethod` (`irq`, the default, or `poll`).
   *
   * @throws RangeError when `channels` is not an integer in 1..1024.
   * @throws ScmiConfigError naming `txDoneMethod` when it is neither `irq` nor `poll` (nor absent):
   * it is refused, never taken for `poll`.
   * @example
   * ```ts
   * const region = SharedMailboxController.allocate(3, 'poll');
   * ```
   */
  public static allocate(channels: number, txDoneMethod?: 'irq' | 'poll'): SharedArrayBuffer {
    if (!Number.isInteger(channels) || channels < 1 || channels > MAX_MAILBOX_CHANNELS) {
      throw new RangeError(
        `channels must be an integer in 1..${MAX_MAILBOX_CHANNELS}, got ${String(channels)}`,
      );
    }
    const method = controllerTxDoneMethod(txDoneMethod);
    const region = new SharedArrayBuffer(HEADER_BYTES + channels * CHANNEL_BYTES);
    const header = new Int32Array(region, 0, 4);
    header[1] = channels;
    header[2] = method === 'irq' ? METHOD_IRQ : METHOD_POLL;
    Atomics.store(header, 0, MAGIC);
    return region;
  }

  public get stats(): MailboxControllerStats {
    return this.#table.stats;
  }

  /** True once {@link SharedMailboxController.markRemoteGone} ran. */
  public get remoteGone(): boolean {
    return this.#table.remoteGone;
  }

  /**
   * The remote end's thread is gone for good (it exited without closing its ends: crashed or
   * terminated — its doorbells' closed flags were never written, so nothing else tells): the
   * client of every channel held now is told at once (`remoteGone`), and later requests are
   * refused. Call it on the agent's thread, from the worker's exit (`openSmtWorkerWire` does).
   * Idempotent.
   *
   * @example
   * ```ts
   * void host.exited.then(() => controller.markRemoteGone());
   * ```
   */
  public markRemoteGone(): void {
    this.#table.markRemoteGone();
  }

  public requestChannel(index: number, client: MailboxClient): MailboxChannel {
    if (!Number.isInteger(index) || index < 0 || index >= this.channelCount) {
      throw new ScmiTransportError(
        'E_MBOX_INDEX',
        `${this.name}: no mailbox channel ${String(index)} (0..${this.channelCount - 1})`,
      );
    }
    // As MailboxController.requestChannel promises, and SameThreadMailboxController does: a held
    // channel is busy, a freed one is refused as freed, not reused — freeing closed its doorbells,
    // their closed flags set in the shared region, where the remote's thread sees them.
    const freed = this.#table.hold(index, client);
    return new MailboxLineChannel(
      index,
      client,
      new SharedLine(this.region, index, this.#doorbell),
      this.txDoneMethod,
      this.#clock,
      this.#pollMs,
      freed,
    );
  }
}

/**
 * The remote end of one channel of a {@link SharedMailboxController}, on the remote's thread.
 * While it listens it holds a ref'd handle: close it when the remote stops.
 *
 * @example
 * ```ts
 * // in the worker
 * const remote = new SharedMailboxRemote(region, 0);
 * remote.listen(() => {
 *   handleRequest();
 *   remote.ring();
 * });
 * ```
 */
export class SharedMailboxRemote implements MailboxRemoteEnd {
  readonly #bell: SharedDoorbell;
  readonly #tx: SharedDoorbell;
  readonly #words: Int32Array;
  readonly #irq: boolean;

  /**
   * Opens the remote end of channel `index` in `region`; `doorbell.pollWindowUs` is how long it
   * keeps looking for the agent's next ring after a wake-up before the remote's thread sleeps
   * (default 50 µs, or 0 on a single CPU; 0 sleeps after one look).
   *
   * @throws ScmiTransportError `E_MBOX_REGION` for a region not made by
   * {@link SharedMailboxController.allocate}, `E_MBOX_INDEX` for an index out of range;
   * ScmiConfigError `pollWindowUs` for a bad poll window.
   */
  public constructor(
    region: SharedArrayBuffer,
    index: number,
    doorbell: SharedDoorbellOptions = {},
  ) {
    const info = readRegion(region);
    if (!Number.isInteger(index) || index < 0 || index >= info.channels) {
      throw new ScmiTransportError('E_MBOX_INDEX', `no mailbox channel ${String(index)}`);
    }
    const base = channelBase(index);
    this.#bell = new SharedDoorbell(region, base, 'b', doorbell);
    this.#tx = new SharedDoorbell(region, base + SharedDoorbell.BYTES, 'b', doorbell);
    this.#words = new Int32Array(region, base + 2 * SharedDoorbell.BYTES, 2);
    this.#irq = info.method === 'irq';
  }

  public get closed(): boolean {
    return this.#bell.closed;
  }

  public listen(onRing: () => void): void {
    const words = this.#words;
    this.#bell.listen(() => {
      Atomics.store(words, CONSUMED, Atomics.load(words, SENT));
      if (this.#irq) this.#tx.ring();
      onRing();
    });
  }

  public ring(): void {
    this.#bell.ring();
  }

  public close(): void {
    this.#bell.close();
    this.#tx.close();
  }
}
