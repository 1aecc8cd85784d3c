/**
 * The longest delay a Node timer can take, in ms: 2^31 − 1. Node's timers take a signed 32-bit
 * count and fire a longer delay after 1 ms instead: {@link RealClock} waits a longer delay in
 * stretches, and configuration read from outside (platform behaviour, fault rules, worker
 * timeouts) is checked against it.
 *
 * @example
 * ```ts
 * if (!(ms >= 0 && ms <= MAX_TIMER_MS)) throw new ScmiConfigError('delayMs', 'out of range');
 * ```
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A cancellable timer from a {@link Clock}. */
export interface TimerHandle {
  /** Cancels the timer; a no-op once it fired or was cancelled. */
  cancel(): void;
}

/** Options of {@link Clock.setTimeout}. */
export interface ClockTimerOptions {
  /** A timer that is no pending work of its own (see {@link Clock.setTimeout}); default false. */
  readonly background?: boolean;
}

/**
 * The source of time and tasks for everything in core: transfer timeouts, polling, same-thread
 * doorbells, notification delivery. Injected (DI token `CLOCK`) so that tests run on a
 * {@link VirtualClock} and a simulator can choose every interleaving.
 *
 * @example
 * ```ts
 * const t = clock.setTimeout(() => console.log('late'), 30);
 * t.cancel();
 * ```
 */
export interface Clock {
  /** Milliseconds on a monotonic time line. */
  now(): number;
  /**
   * Calls `cb` once after `ms` milliseconds. A `background` timer is one that re-arms itself for
   * as long as its owner runs (a platform polling its fast channels): a `VirtualClock` does not
   * count it as pending work (`runUntilIdle` returns, an auto clock stops, when only such timers
   * are left; both fire it on their way to other work, and `advance` fires it as any timer). A
   * clock may ignore the option (`RealClock` does).
   */
  setTimeout(cb: () => void, ms: number, options?: ClockTimerOptions): TimerHandle;
  /** Calls `cb` as a new task, after the current one and its microtasks. */
  schedule(cb: () => void): void;
  /** Resolves on a later task: lets other tasks (doorbells, I/O) run, e.g. between polls. */
  yield(): Promise<void>;
}

/**
 * The real clock: `performance.now()`, Node timers and `setImmediate`.
 *
 * @example
 * ```ts
 * const clock = new RealClock();
 * await clock.yield();
 * ```
 */
export class RealClock implements Clock {
  /** @inheritDoc */
  public now(): number {
    return performance.now();
  }

  /**
   * Calls `cb` once after `ms` milliseconds. A delay longer than {@link MAX_TIMER_MS}, which a
   * Node timer would cut to 1 ms, waits in stretches of at most `MAX_TIMER_MS` (a timeout derived
   * from a long configured one, such as twice the agent's RX timeout, stays as long as it says);
   * `Infinity` never fires. Cancelling stops whichever stretch is pending.
   */
  public setTimeout(cb: () => void, ms: number): TimerHandle {
    let t: ReturnType<typeof setTimeout>;
    const arm = (left: number): void => {
      t =
        left > MAX_TIMER_MS
          ? setTimeout(() => {
              arm(left - MAX_TIMER_MS);
            }, MAX_TIMER_MS)
          : setTimeout(cb, left);
    };
    arm(ms);
    return {
      cancel: () => {
        clearTimeout(t);
      },
    };
  }

  /** @inheritDoc */
  public schedule(cb: () => void): void {
    setImmediate(cb);
  }

  /** @inheritDoc */
  public yield(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }
}
