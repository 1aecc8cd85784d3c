import type { Clock, TimerHandle } from './clock.js';

/**
 * A node that can wait in a {@link DeadlineQueue}. The fields are owned by the queue (an intrusive
 * list, so arming a deadline allocates nothing); `onDeadline` runs when the deadline passes.
 */
export interface DeadlineNode {
  /** @internal Absolute deadline (clock ms). */
  dlAt: number;
  /** @internal Previous node in the same lane. */
  dlPrev: DeadlineNode | undefined;
  /** @internal Next node in the same lane. */
  dlNext: DeadlineNode | undefined;
  /** @internal The lane the node waits in, or undefined when not armed. */
  dlLane: DeadlineLane | undefined;
  /** Called once when the deadline passes (unless disarmed first). */
  onDeadline(): void;
}

/** @internal One FIFO of nodes that share a duration: their deadlines are in arrival order. */
export interface DeadlineLane {
  readonly ms: number;
  head: DeadlineNode | undefined;
  tail: DeadlineNode | undefined;
}

/** Lanes kept whatever their use: beyond, a new duration first drops the lanes left empty. */
const KEPT_LANES = 8;

/**
 * Deadlines for many transfers with **one armed timer** per queue, instead of a
 * `setTimeout`/`clearTimeout` pair per transfer.
 *
 * Nodes with the same duration form a FIFO lane, so their deadlines are sorted by construction:
 * arming and disarming are O(1) and allocate nothing. The single timer targets the earliest head;
 * when it fires, every due node runs, in deadline order across lanes (also when the timer fired
 * late), and the timer is re-armed for the next head. A disarmed head leaves a stale timer, which
 * finds nothing due and re-arms (at most one wake-up per timeout period under sustained
 * traffic) — also when the queue empties, so that back-to-back single transfers do not each arm
 * and cancel a timer. The idle timer fires once, finds nothing and is not re-armed;
 * {@link DeadlineQueue.close} cancels it.
 *
 * @example
 * ```ts
 * const q = new DeadlineQueue(clock);
 * q.arm(xfer, 30); // xfer.onDeadline() runs after 30 ms unless q.disarm(xfer) first
 * ```
 */
export class DeadlineQueue {
  readonly #clock: Clock;
  #lanes: DeadlineLane[] = [];
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  #armed = 0;
  #closed = false;

  /** Creates an empty queue on `clock`. */
  public constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Nodes currently armed. */
  public get size(): number {
    return this.#armed;
  }

  /**
   * @internal Lanes kept (one per duration armed, those with no node armed pruned once there are
   * {@link KEPT_LANES}).
   */
  public get laneCount(): number {
    return this.#lanes.length;
  }

  /** Whether the underlying clock timer is armed. */
  public get timerArmed(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Arms `node` to expire `ms` from now. A node already armed is moved.
   *
   * @throws Error when the queue is closed.
   */
  public arm(node: DeadlineNode, ms: number): void {
    if (this.#closed) throw new Error('DeadlineQueue is closed');
    if (node.dlLane !== undefined) this.disarm(node);
    let lane = this.#lanes.find((l) => l.ms === ms);
    if (lane === undefined) {
      // Lanes of durations no longer in use go once there are many: a caller whose every
      // transfer has a timeout of its own (a budget left) would otherwise add one for good per
      // command, and every firing scans them all. The few in use stay (no allocation per arm).
      if (this.#lanes.length >= KEPT_LANES) this.#lanes = this.#lanes.filter((l) => l.head);
      lane = { ms, head: undefined, tail: undefined };
      this.#lanes.push(lane);
    }
    node.dlAt = this.#clock.now() + ms;
    node.dlLane = lane;
    node.dlNext = undefined;
    node.dlPrev = lane.tail;
    if (lane.tail === undefined) lane.head = node;
    else lane.tail.dlNext = node;
    lane.tail = node;
    this.#armed++;
    if (node.dlAt < this.#timerAt) this.#rearm(node.dlAt);
  }

  /** Disarms `node`; a no-op when it is not armed. */
  public disarm(node: DeadlineNode): void {
    const lane = node.dlLane;
    if (lane === undefined) return;
    if (node.dlPrev === undefined) lane.head = node.dlNext;
    else node.dlPrev.dlNext = node.dlNext;
    if (node.dlNext === undefined) lane.tail = node.dlPrev;
    else node.dlNext.dlPrev = node.dlPrev;
    node.dlPrev = undefined;
    node.dlNext = undefined;
    node.dlLane = undefined;
    this.#armed--;
    // Even when the queue empties, the timer is left to fire (it finds nothing due): one transfer
    // at a time then costs no setTimeout/clearTimeout pair each — only close() cancels it.
  }

  /** Disarms everything and cancels the timer; later `arm` calls throw. */
  public close(): void {
    this.#closed = true;
    for (const lane of this.#lanes) {
      while (lane.head !== undefined) this.disarm(lane.head);
    }
    this.#cancelTimer();
  }

  #cancelTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #rearm(at: number): void {
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#fire();
      },
      Math.max(0, at - this.#clock.now()),
    );
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    // The earliest due head of all lanes first: a timer that fired late (a busy event loop) finds
    // due nodes in several lanes, and they expire in deadline order, not lane by lane. Lanes are
    // few (one per duration in use), so a scan per node is cheap.
    for (;;) {
      let first: DeadlineNode | undefined;
      for (const lane of this.#lanes) {
        const head = lane.head;
        if (
          head !== undefined &&
          head.dlAt <= now &&
          (first === undefined || head.dlAt < first.dlAt)
        )
          first = head;
      }
      if (first === undefined) break;
      this.disarm(first);
      first.onDeadline();
    }
    if (this.#closed) return;
    // onDeadline callbacks may have armed nodes, and with them the timer: but for their own
    // deadline, which can be later than the head of another lane. Target the earliest head.
    let next = Infinity;
    for (const lane of this.#lanes)
      if (lane.head !== undefined && lane.head.dlAt < next) next = lane.head.dlAt;
    if (next < this.#timerAt) this.#rearm(next);
  }
}
