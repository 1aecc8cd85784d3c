import type { Clock, TimerHandle } from '@scmi-ts/core';

interface Entry {
  handle: TimerHandle | undefined;
  readonly owner: number | undefined;
  readonly tag: string | undefined;
}

/**
 * Every timer the platform arms, so that disconnecting an agent cancels that agent's timers and
 * `close` cancels them all: no timer outlives its reason. @internal
 */
export class TimerBag {
  readonly #clock: Clock;
  readonly #entries = new Set<Entry>();

  public constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Timers armed and not yet fired or cancelled. */
  public get size(): number {
    return this.#entries.size;
  }

  /**
   * Arms `cb` after `ms`, owned by agent `owner` (undefined: the platform) and tagged `tag`; a
   * `background` timer is no pending work of its own for a `VirtualClock` (see core's
   * `Clock.setTimeout`): the fast channels' polling.
   */
  public arm(
    ms: number,
    cb: () => void,
    owner?: number,
    tag?: string,
    background = false,
  ): TimerHandle {
    const entry: Entry = { handle: undefined, owner, tag };
    this.#entries.add(entry);
    try {
      entry.handle = this.#clock.setTimeout(
        () => {
          if (!this.#entries.delete(entry)) return;
          cb();
        },
        ms,
        background ? { background } : undefined,
      );
    } catch (error: unknown) {
      this.#entries.delete(entry); // not armed: not counted
      throw error;
    }
    return {
      cancel: () => {
        if (this.#entries.delete(entry)) entry.handle?.cancel();
      },
    };
  }

  /** Armed timers with `tag` (e.g. pending asynchronous operations of one protocol). */
  public count(tag: string): number {
    let n = 0;
    for (const e of this.#entries) if (e.tag === tag) n++;
    return n;
  }

  /** Cancels every timer owned by agent `owner`; returns how many there were. */
  public cancelOwner(owner: number): number {
    let n = 0;
    for (const e of [...this.#entries]) {
      if (e.owner === owner) {
        this.#entries.delete(e);
        e.handle?.cancel();
        n++;
      }
    }
    return n;
  }

  /** Cancels every timer. */
  public cancelAll(): void {
    for (const e of [...this.#entries]) {
      this.#entries.delete(e);
      e.handle?.cancel();
    }
  }
}
