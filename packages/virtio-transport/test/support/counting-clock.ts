import { RealClock, type Clock, type TimerHandle } from '@scmi-ts/core';

/** The real clock, counting the timers armed and not yet fired or cancelled. */
export class CountingClock implements Clock {
  readonly #real = new RealClock();
  #armed = 0;

  /** Timers armed now. */
  public get armedTimers(): number {
    return this.#armed;
  }

  public now(): number {
    return this.#real.now();
  }

  public setTimeout(cb: () => void, ms: number): TimerHandle {
    let live = true;
    this.#armed++;
    const handle = this.#real.setTimeout(() => {
      if (!live) return;
      live = false;
      this.#armed--;
      cb();
    }, ms);
    return {
      cancel: () => {
        if (!live) return;
        live = false;
        this.#armed--;
        handle.cancel();
      },
    };
  }

  public schedule(cb: () => void): void {
    this.#real.schedule(cb);
  }

  public yield(): Promise<void> {
    return this.#real.yield();
  }
}
