import { formatValue } from '../errors/format-value.js';
import { availableParallelism } from 'node:os';
import { ScmiConfigError, ScmiTransportError } from '../errors/scmi-error.js';
import type { Doorbell } from './doorbell.js';

/** Word indices inside the region: ring sequences, then closed flags, one per side. */
const RING_A = 0; // rung by side a (a → b), waited on by side b
const RING_B = 1; // rung by side b (b → a), waited on by side a
const CLOSED_A = 2;
const CLOSED_B = 3;
const WORDS = 4;

/** Longest delay Node accepts for a timer: the keep-alive handle never actually fires. */
const KEEP_ALIVE_MS = 0x7fffffff;
/** Deliveries in a row with no task boundary between them (the peer keeps ringing) before the loop yields a task. */
const BURST = 16;
/** Longest poll window accepted, in µs (one second: past that, polling is no longer a wait's stand-in). */
const MAX_POLL_WINDOW_US = 1_000_000;

/**
 * Options of a {@link SharedDoorbell} side.
 *
 * @example
 * ```ts
 * // A platform worker that should not spend CPU between commands: sleep at once.
 * const platform = new SharedDoorbell(sab, 0, 'b', { pollWindowUs: 0 });
 * ```
 */
export interface SharedDoorbellOptions {
  /**
   * How long, in µs, the listen loop keeps looking for a ring, one task at a time, after a
   * wake-up that delivered, before it arms `Atomics.waitAsync` and sleeps; default
   * {@link SharedDoorbell.defaultPollWindowUs}: {@link SharedDoorbell.DEFAULT_POLL_WINDOW_US} when
   * this process may run on more than one CPU, else 0. 0 looks once more only. A finite number
   * from 0 to 1,000,000.
   */
  readonly pollWindowUs?: number;
}

/**
 * One side of a doorbell between two threads, over a region of a `SharedArrayBuffer`
 * ({@link SharedDoorbell.BYTES} bytes at a 4-aligned offset, zeroed when allocated). Each thread
 * constructs its own side over the same region: `'a'` on one thread, `'b'` on the other.
 *
 * Layout (four `int32` words, native byte order: both threads run on one machine): ring sequence
 * a → b, ring sequence b → a, closed flag of a, closed flag of b. {@link SharedDoorbell.ring} adds
 * one to its sequence and `Atomics.notify`s it; {@link SharedDoorbell.listen} runs a loop of
 * `Atomics.waitAsync` on the other side's sequence and calls the listener once per wake-up in
 * which the sequence moved, so rings coalesce like an interrupt line. Rings made since the region
 * was allocated and not yet seen are delivered once when listening starts. A region serves one
 * pair for its whole life.
 *
 * After a wake-up that delivered, the loop polls for the poll window (`pollWindowUs`, default
 * 50 µs, or 0 on a single CPU) before it sleeps again, as Linux's busy polling (`net.core.busy_poll`) and NAPI do: a
 * thread woken through `Atomics.waitAsync` pays a futex wake-up and an event-loop turn, which on a
 * shared or virtual machine often takes tens of µs, while the peer's answer to what this side just
 * sent typically comes within a few. While traffic flows neither thread sleeps; an idle side stops
 * polling one window after its last ring. The price is that CPU time, once per burst.
 *
 * On Node 20 a pending `Atomics.waitAsync` neither keeps the process alive nor can be cancelled.
 * So while it listens a side holds a ref'd timer handle (the thread stays alive to hear rings),
 * and {@link SharedDoorbell.close} drops it, writes the closed flag and notifies the word the loop
 * waits on, so that the pending wait wakes and the loop returns. A side that listens must be
 * closed, or its thread never exits by itself.
 *
 * @example
 * ```ts
 * // main thread
 * const sab = SharedDoorbell.allocate();
 * const agent = new SharedDoorbell(sab, 0, 'a');
 * agent.listen(() => readResponse());
 * const host = await startWorker({ entry, data: { sab } });
 * agent.ring();
 * // worker thread
 * const platform = new SharedDoorbell((workerData as { sab: SharedArrayBuffer }).sab, 0, 'b');
 * platform.listen(() => {
 *   handleRequest();
 *   platform.ring();
 * });
 * ```
 */
export class SharedDoorbell implements Doorbell {
  /** Bytes of the region one doorbell pair uses. */
  public static readonly BYTES = WORDS * 4;

  /**
   * The poll window a side uses unless told otherwise when this process may run on more than one
   * CPU, in µs (see {@link SharedDoorbell.defaultPollWindowUs}).
   */
  public static readonly DEFAULT_POLL_WINDOW_US = 50;

  readonly #words: Int32Array;
  readonly #side: 'a' | 'b';
  readonly #myRing: number;
  readonly #peerRing: number;
  readonly #myClosed: number;
  readonly #peerClosed: number;
  #seen = 0;
  #listener: (() => void) | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #ringsAtClose = 0;
  readonly #pollWindowUs: number;

  /**
   * Opens side `side` of the doorbell whose region starts at `byteOffset` in `sab`.
   *
   * @throws ScmiTransportError `E_DOORBELL_REGION` when `sab` is not a `SharedArrayBuffer`, the
   * offset is not a multiple of 4, the region does not fit, or `side` is not `'a'` or `'b'`;
   * ScmiConfigError `pollWindowUs` when the poll window is not a number from 0 to 1,000,000.
   */
  public constructor(
    sab: SharedArrayBuffer,
    byteOffset: number,
    side: 'a' | 'b',
    options: SharedDoorbellOptions = {},
  ) {
    if (Object.prototype.toString.call(sab) !== '[object SharedArrayBuffer]') {
      throw new ScmiTransportError(
        'E_DOORBELL_REGION',
        'a SharedDoorbell needs a SharedArrayBuffer',
      );
    }
    if (
      !Number.isInteger(byteOffset) ||
      byteOffset < 0 ||
      byteOffset % 4 !== 0 ||
      byteOffset + SharedDoorbell.BYTES > sab.byteLength
    ) {
      throw new ScmiTransportError(
        'E_DOORBELL_REGION',
        `doorbell region at byte ${byteOffset} (${SharedDoorbell.BYTES} bytes, 4-aligned) does not fit a buffer of ${sab.byteLength} bytes`,
      );
    }
    const checked: string = side; // callers in plain JavaScript
    if (checked !== 'a' && checked !== 'b') {
      throw new ScmiTransportError('E_DOORBELL_REGION', `doorbell side must be 'a' or 'b'`);
    }
    this.#pollWindowUs = SharedDoorbell.checkPollWindow(options.pollWindowUs);
    this.#words = new Int32Array(sab, byteOffset, WORDS);
    this.#side = side;
    this.#myRing = side === 'a' ? RING_A : RING_B;
    this.#peerRing = side === 'a' ? RING_B : RING_A;
    this.#myClosed = side === 'a' ? CLOSED_A : CLOSED_B;
    this.#peerClosed = side === 'a' ? CLOSED_B : CLOSED_A;
  }

  /**
   * The poll window of a side built without one, in µs:
   * {@link SharedDoorbell.DEFAULT_POLL_WINDOW_US} when `os.availableParallelism()` says this
   * process may run on more than one CPU, else 0. On one CPU the peer's thread can only answer
   * once this one yields the CPU, so polling for its answer would only delay it.
   *
   * @example
   * ```ts
   * SharedDoorbell.defaultPollWindowUs(); // 50 on a machine with 2 CPUs
   * ```
   */
  public static defaultPollWindowUs(): number {
    return availableParallelism() > 1 ? SharedDoorbell.DEFAULT_POLL_WINDOW_US : 0;
  }

  /**
   * Checks a poll window as {@link SharedDoorbellOptions.pollWindowUs} takes it, for a
   * configuration that hands one to doorbells it builds later: returns it, or
   * {@link SharedDoorbell.defaultPollWindowUs} when undefined.
   *
   * @throws ScmiConfigError naming `field` when it is not a number from 0 to 1,000,000.
   * @example
   * ```ts
   * const pollWindowUs = SharedDoorbell.checkPollWindow(config.pollWindowUs, 'transportConfig.pollWindowUs');
   * ```
   */
  public static checkPollWindow(value: unknown, field = 'pollWindowUs'): number {
    if (value === undefined) return SharedDoorbell.defaultPollWindowUs();
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < 0 ||
      value > MAX_POLL_WINDOW_US
    ) {
      throw new ScmiConfigError(
        field,
        `expected µs from 0 to ${MAX_POLL_WINDOW_US}, got ${typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value}`,
      );
    }
    return value;
  }

  /**
   * Allocates a zeroed `SharedArrayBuffer` of {@link SharedDoorbell.BYTES} bytes for one pair
   * (offset 0). Transports that share one buffer for several regions allocate it themselves.
   *
   * @example
   * ```ts
   * const sab = SharedDoorbell.allocate();
   * const a = new SharedDoorbell(sab, 0, 'a');
   * ```
   */
  public static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(SharedDoorbell.BYTES);
  }

  /** This side's poll window, in µs (see {@link SharedDoorbellOptions.pollWindowUs}). */
  public get pollWindowUs(): number {
    return this.#pollWindowUs;
  }

  /** Which side this object is. */
  public get side(): 'a' | 'b' {
    return this.#side;
  }

  /** @inheritDoc */
  public get closed(): boolean {
    return this.#closed;
  }

  /** True once the other side (on its thread) has closed. */
  public get peerClosed(): boolean {
    return Atomics.load(this.#words, this.#peerClosed) !== 0;
  }

  /**
   * Rings the other side made after this side closed; read from the shared ring sequence, so it
   * is exact whichever thread rang.
   */
  public get ignored(): number {
    if (!this.#closed) return 0;
    return (Atomics.load(this.#words, this.#peerRing) - this.#ringsAtClose) >>> 0;
  }

  /** True while a listen loop runs (and holds the thread alive). */
  public get listening(): boolean {
    return this.#listener !== undefined;
  }

  /**
   * Rings the other side: `Atomics.add` on this side's sequence, then `Atomics.notify`. A no-op
   * once this side is closed; a ring toward a closed peer is counted in the peer's `ignored`.
   */
  public ring(): void {
    if (this.#closed) return;
    Atomics.add(this.#words, this.#myRing, 1);
    Atomics.notify(this.#words, this.#myRing);
  }

  /**
   * Starts the wait loop: `onRing` runs once per wake-up in which the other side's sequence
   * moved, on this thread's event loop — never inside this call: rings made before it are
   * delivered on the loop's first look, a task later. Holds a ref'd handle until
   * {@link SharedDoorbell.close}.
   * After a wake-up that delivered, the loop looks again on later tasks, one at a time, for the
   * poll window (at least once) before it waits: what the listener set off (its microtasks) runs
   * before the thread arms `Atomics.waitAsync`, and rings made meanwhile — the peer's answer to
   * what the listener sent — are delivered without a wait. A peer that rings without pause cannot
   * starve the thread: the loop yields a task at least every 16 deliveries.
   * An exception from `onRing` is rethrown as an uncaught exception (on a later microtask) and the
   * loop goes on.
   *
   * @throws ScmiTransportError `E_DOORBELL_CLOSED` when this side is closed,
   * `E_DOORBELL_LISTENING` when it already listens.
   */
  public listen(onRing: () => void): void {
    if (this.#closed) {
      throw new ScmiTransportError('E_DOORBELL_CLOSED', 'cannot listen on a closed doorbell');
    }
    if (this.#listener !== undefined) {
      throw new ScmiTransportError('E_DOORBELL_LISTENING', 'the doorbell already has a listener');
    }
    this.#listener = onRing;
    this.#keepAlive = setInterval(noop, KEEP_ALIVE_MS);
    // The first look runs here (with nothing rung it arms the wait at once), but a ring it finds
    // is delivered on a task of its own, never inside this call (the Doorbell contract; the
    // same-thread doorbell schedules it too): the caller may still be setting up what its
    // listener reads.
    this.#inListen = true;
    try {
      this.#step();
    } finally {
      this.#inListen = false;
    }
  }

  /**
   * Blocks the calling thread until the other side rings (returns true; the ring is consumed),
   * `timeoutMs` passes or this side is closed (returns false). For a worker that has nothing else
   * to do: `Atomics.wait` freezes the event loop, so this is **never** for the agent's thread.
   *
   * @throws ScmiTransportError `E_DOORBELL_LISTENING` when a listen loop runs on this side;
   * ScmiConfigError `timeoutMs` when it is not a number or NaN (which would wait for ever).
   * @example
   * ```ts
   * while (platform.waitSync(1000)) handleRequests();
   * ```
   */
  public waitSync(timeoutMs = Infinity): boolean {
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) {
      throw new ScmiConfigError(
        'timeoutMs',
        `expected a number of ms, got ${formatValue(timeoutMs)}`,
      );
    }
    if (this.#listener !== undefined) {
      throw new ScmiTransportError(
        'E_DOORBELL_LISTENING',
        'waitSync cannot be used while the doorbell listens',
      );
    }
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.#closed) return false;
      const current = Atomics.load(this.#words, this.#peerRing);
      if (current !== this.#seen) {
        this.#seen = current;
        return true;
      }
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.#words, this.#peerRing, current, left);
    }
  }

  /**
   * Closes this side: writes its closed flag, stops the listen loop (waking its pending wait) and
   * drops the handle that kept the thread alive. The listener is never called again. Idempotent.
   */
  public close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ringsAtClose = Atomics.load(this.#words, this.#peerRing);
    this.#listener = undefined;
    Atomics.store(this.#words, this.#myClosed, 1);
    // Wake our own pending waitAsync (it waits on the peer's sequence), so the loop returns.
    Atomics.notify(this.#words, this.#peerRing);
    this.#dropKeepAlive();
  }

  /** {@link SharedDoorbell.listen} is running its first look: deliver nothing inside it. */
  #inListen = false;
  /** Deliveries since the last task boundary (see `BURST`). */
  #burst = 0;
  /** The last look delivered: look again on the next task before anything else. */
  #delivered = false;
  /** While polling after a delivery: the `performance.now()` at which the window ends (0: none). */
  #pollUntil = 0;

  /**
   * One activation of the listen loop, on a task of its own (a `setImmediate`, or the settling of
   * an `Atomics.waitAsync`): it looks at the peer's sequence, delivers, and ends by arranging the
   * next activation — a callback per turn rather than an async function awaiting a promise per
   * turn (a promise, its reaction and the resumption on every look, on both sides of every round
   * trip). Runs until this side closes. Should anything in it throw (nothing does: the listener's
   * exceptions are rethrown apart), the loop ends: no listener, and the handle that keeps the
   * thread alive dropped, before the error goes on.
   */
  readonly #step = (): void => {
    try {
      this.#look();
    } catch (error: unknown) {
      this.#listener = undefined; // the loop is over: not listening any more
      this.#dropKeepAlive();
      throw error;
    }
  };

  #look(): void {
    const onRing = this.#listener;
    for (;;) {
      if (this.#closed || onRing === undefined) {
        this.#dropKeepAlive();
        return;
      }
      const current = Atomics.load(this.#words, this.#peerRing);
      if (current !== this.#seen) {
        if (this.#inListen) {
          setImmediate(this.#step);
          return;
        }
        if (++this.#burst > BURST) {
          this.#burst = 0;
          setImmediate(this.#step);
          return;
        }
        this.#seen = current;
        this.#delivered = true;
        try {
          onRing();
        } catch (error: unknown) {
          queueMicrotask(() => {
            throw error;
          });
        }
        continue;
      }
      if (this.#delivered) {
        // Look again on later tasks before arming the wait: the microtasks the listener queued
        // (continuations that answer or send the next message) run first, and the peer's
        // answer, a few µs away, is delivered with no wait at all — a wake-up through
        // Atomics.waitAsync costs far more on every round trip's critical path.
        this.#delivered = false;
        this.#pollUntil = performance.now() + this.#pollWindowUs / 1000; // performance.now() is in ms
        this.#burst = 0; // a task boundary, as after a real wait
        setImmediate(this.#step);
        return;
      }
      if (this.#pollUntil !== 0) {
        if (performance.now() < this.#pollUntil) {
          this.#burst = 0;
          setImmediate(this.#step);
          return;
        }
        this.#pollUntil = 0;
      }
      const wait = Atomics.waitAsync(this.#words, this.#peerRing, current);
      // A synchronous result is 'not-equal' (it moved since the load): look again.
      if (wait.async) {
        this.#burst = 0;
        void wait.value.then(this.#step);
        return;
      }
    }
  }

  #dropKeepAlive(): void {
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }
}

function noop(): void {
  // Keeps the event loop alive while a doorbell listens.
}
