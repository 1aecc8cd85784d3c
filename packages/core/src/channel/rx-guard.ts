/**
 * The channel RX guard every transport uses on its receive path: one flag check and one counter
 * per callback, no allocation, no promise. {@link RxGuard.quiesce} refuses new callbacks (counting
 * them) and resolves once the callbacks already running have returned.
 *
 * The order is what makes it safe: a callback **counts itself in first, then checks** the closed
 * flag (and counts itself out if closed); quiesce **sets the flag first, then waits** for the count
 * to reach zero. Checking first and counting after is a race as soon as the two steps are separated
 * by an `await` (see docs/architecture.md). All callbacks of an agent run on its thread, so plain
 * numbers suffice here; the cross-thread case uses `Atomics` on shared words.
 *
 * @example
 * ```ts
 * const guard = new RxGuard();
 * function onDoorbell(): void {
 *   if (!guard.enter()) return; // refused and counted after quiesce
 *   try { sink.rx(readHeader(), undefined); } finally { guard.exit(); }
 * }
 * await guard.quiesce(); // no callback runs from here on
 * ```
 */
export class RxGuard {
  #active = 0;
  #closed = false;
  #refused = 0;
  #drained: (() => void) | undefined;
  #quiesced: Promise<void> | undefined;

  /**
   * Enters the guard: true when the callback may run (call {@link RxGuard.exit} when done), false
   * when the channel is quiesced (the refusal is counted; do not call exit).
   */
  public enter(): boolean {
    this.#active++;
    if (this.#closed) {
      this.#active--;
      this.#refused++;
      return false;
    }
    return true;
  }

  /** Leaves the guard; wakes a waiting quiesce when the last callback returns. */
  public exit(): void {
    if (--this.#active === 0 && this.#drained !== undefined) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained();
    }
  }

  /** True once quiesce has started. */
  public get closed(): boolean {
    return this.#closed;
  }

  /** Callbacks currently inside the guard. */
  public get active(): number {
    return this.#active;
  }

  /** Callbacks refused because the guard was closed. */
  public get refused(): number {
    return this.#refused;
  }

  /**
   * Closes the guard and resolves when no callback is inside it. Idempotent: later calls return
   * the same promise.
   */
  public quiesce(): Promise<void> {
    if (this.#quiesced !== undefined) return this.#quiesced;
    this.#closed = true;
    this.#quiesced =
      this.#active === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.#drained = resolve;
          });
    return this.#quiesced;
  }
}
