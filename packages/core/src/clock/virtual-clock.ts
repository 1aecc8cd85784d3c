import type { Clock, ClockTimerOptions, TimerHandle } from './clock.js';

interface VirtualTimer {
  at: number;
  seq: number;
  cb: () => void;
  cancelled: boolean;
  /** No pending work of its own (see `Clock.setTimeout`). */
  background: boolean;
}

/** Options of a {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** Start time in ms (default 0). */
  readonly start?: number;
  /**
   * Run tasks and jump to the next timer by itself, like a discrete-event simulator, on a real
   * macrotask turn once its own task queue is empty (default false: the test drives it with
   * `advance` / `runUntilIdle`). It does not wait for real I/O (a socket, a `MessagePort`): what
   * must happen before a timer fires has to be scheduled on this clock (`schedule`), or it
   * arrives after the clock has passed that timer.
   * An auto clock can still be driven: while `advance`, `runUntilIdle` or `runTasks` runs, the
   * clock moves only as that call says (`advance(ms)` stops at its target, whatever timers come
   * later), and it goes on by itself once the call returns. It stops when only background timers
   * are left (`Clock.setTimeout`'s `background`: a platform's polling), so that they do not run
   * virtual time away; it fires them on its way to other timers.
   */
  readonly auto?: boolean;
  /**
   * Virtual time that {@link VirtualClock.yield} lets pass (default 0.05 ms), so that a polling
   * loop moves time forward and its deadline can fire.
   */
  readonly yieldQuantumMs?: number;
}

/**
 * A deterministic clock for same-thread tests: time moves only when the test (or auto mode)
 * moves it; timers fire in time order (ties in creation order) and tasks run in FIFO order, each
 * followed by a full flush of microtasks, so promise chains settle between events.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const reply = agent.base.discoverVendor(); // a Base command the platform answers late
 * await clock.advance(30); // the 30 ms timeout fires
 * await expect(reply).rejects.toBeInstanceOf(ScmiTimeoutError);
 * expect(clock.armedTimers).toBe(0);
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #tasks: (() => void)[] = [];
  #timers: VirtualTimer[] = [];
  readonly #auto: boolean;
  readonly #quantum: number;
  #pumping = false;
  /** Calls driving the clock (advance, runUntilIdle, runTasks) under way: auto mode waits. */
  #driving = 0;

  /** Creates a clock at `options.start` (default 0). */
  public constructor(options: VirtualClockOptions = {}) {
    this.#now = options.start ?? 0;
    this.#auto = options.auto ?? false;
    this.#quantum = options.yieldQuantumMs ?? 0.05;
  }

  /** @inheritDoc */
  public now(): number {
    return this.#now;
  }

  /** Timers armed and not yet fired or cancelled. */
  public get armedTimers(): number {
    return this.#timers.reduce((n, t) => (t.cancelled ? n : n + 1), 0);
  }

  /** Tasks scheduled and not yet run. */
  public get pendingTasks(): number {
    return this.#tasks.length;
  }

  /** @inheritDoc */
  public setTimeout(cb: () => void, ms: number, options?: ClockTimerOptions): TimerHandle {
    const timer: VirtualTimer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      cb,
      cancelled: false,
      background: options?.background === true,
    };
    this.#timers.push(timer);
    this.#kick();
    return {
      cancel: () => {
        if (timer.cancelled) return;
        timer.cancelled = true;
        const i = this.#timers.indexOf(timer);
        if (i >= 0) this.#timers.splice(i, 1);
      },
    };
  }

  /** @inheritDoc */
  public schedule(cb: () => void): void {
    this.#tasks.push(cb);
    this.#kick();
  }

  /**
   * Resolves after {@link VirtualClockOptions.yieldQuantumMs} of virtual time: a poll costs time,
   * so a polling loop cannot starve the timers (its own deadline included).
   */
  public yield(): Promise<void> {
    return new Promise((resolve) => {
      this.setTimeout(resolve, this.#quantum);
    });
  }

  /** Lets every pending microtask run (one real macrotask turn). */
  public settle(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** Runs scheduled tasks (and the tasks they schedule) until none is left; time does not move. */
  public runTasks(): Promise<void> {
    return this.#drive(() => this.#runTasks());
  }

  async #runTasks(): Promise<void> {
    await this.settle();
    for (;;) {
      const task = this.#tasks.shift();
      if (task === undefined) return;
      task();
      await this.settle();
    }
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way in order, with tasks run
   * before each timer and at the end. Ends at the target: a timer due later does not fire, in
   * auto mode too (a periodic timer cannot keep it from returning).
   */
  public advance(ms: number): Promise<void> {
    return this.#drive(async () => {
      const target = this.#now + ms;
      await this.#fireUntil(target);
      this.#now = Math.max(this.#now, target);
      await this.#runTasks();
    });
  }

  /**
   * Runs tasks and fires timers, jumping from timer to timer, until nothing is pending or
   * `limitMs` of virtual time has passed (default 60 s). Background timers
   * ({@link ClockTimerOptions.background}: a platform polling its fast channels) are not pending
   * work: the call returns when only they are left, having fired those due before the last other
   * timer. A timer that re-arms itself without that option is never done: the call then runs to
   * its limit.
   */
  public runUntilIdle(limitMs = 60_000): Promise<void> {
    return this.#drive(() => this.#fireUntil(this.#now + limitMs, false));
  }

  /**
   * Runs tasks, then fires the next timer due at `limit` or before, until none is left; returns
   * with the tasks run and time at the last timer fired.
   */
  async #fireUntil(limit: number, background = true): Promise<void> {
    for (;;) {
      await this.#runTasks();
      const next = this.#nextTimer();
      if (next === undefined || next.at > limit) return;
      // Idle when only background timers are left (unless the caller moves time, `advance`).
      if (!background && !this.#hasWork()) return;
      this.#fire(next);
    }
  }

  /** Whether a timer that is not a background timer is armed. */
  #hasWork(): boolean {
    return this.#timers.some((t) => !t.background);
  }

  /**
   * Runs `body` with auto mode held back, so that the caller alone moves the clock; auto mode
   * goes on once the last driving call returned (or threw).
   */
  async #drive(body: () => Promise<void>): Promise<void> {
    this.#driving++;
    try {
      await body();
    } finally {
      this.#driving--;
      this.#kick();
    }
  }

  #nextTimer(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.#timers) {
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }

  #fire(timer: VirtualTimer): void {
    this.#timers.splice(this.#timers.indexOf(timer), 1);
    this.#now = Math.max(this.#now, timer.at);
    timer.cancelled = true;
    timer.cb();
  }

  /**
   * Auto mode: pump tasks and timers on real macrotask turns while anything is pending and no
   * call drives the clock (the pump stops then; the driving call's end kicks it again).
   */
  #kick(): void {
    if (!this.#auto || this.#pumping || this.#driving > 0) return;
    this.#pumping = true;
    const pump = (): void => {
      if (this.#driving > 0) {
        this.#pumping = false;
        return;
      }
      const task = this.#tasks.shift();
      let next: VirtualTimer | undefined;
      if (task === undefined) {
        next = this.#nextTimer();
        // Only background timers left: idle, as `runUntilIdle` (no virtual time runs away).
        if (next === undefined || !this.#hasWork()) {
          this.#pumping = false;
          return;
        }
      }
      // Queued first: a callback that throws (an uncaught exception, as with real timers) must
      // not stop the clock — every later task and timer would be lost.
      setImmediate(pump);
      if (task !== undefined) task();
      else this.#fire(next as VirtualTimer);
    };
    setImmediate(pump);
  }
}
