/**
 * The per-channel lock of an SMT channel (Linux `scmi_mailbox.chan_lock`, a mutex held from
 * `send_message` to `mark_txdone`): one message in flight per shared memory area. Asynchronous:
 * a waiter never blocks the thread. FIFO. {@link ChannelLock.close} wakes every waiter with
 * `false` and makes later acquisitions fail at once, so that teardown never waits behind it.
 *
 * Internal to the package.
 */
export class ChannelLock {
  #held = false;
  #closed = false;
  readonly #waiters: ((acquired: boolean) => void)[] = [];

  /** True while someone holds the lock. */
  public get held(): boolean {
    return this.#held;
  }

  /** Callers waiting for the lock. */
  public get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes the lock if it is free (no allocation); false when held or closed. */
  public tryAcquire(): boolean {
    if (this.#held || this.#closed) return false;
    this.#held = true;
    return true;
  }

  /** Resolves true once the caller holds the lock, or false when the lock was closed meanwhile. */
  public acquire(): Promise<boolean> {
    if (this.tryAcquire()) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.#waiters.push(resolve);
    });
  }

  /** Releases the lock, handing it to the first waiter. Releasing a free lock is a no-op. */
  public release(): void {
    if (!this.#held) return;
    const next = this.#waiters.shift();
    if (next === undefined) this.#held = false;
    else next(true);
  }

  /** Refuses every later acquisition and wakes the waiters with `false`. Idempotent. */
  public close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w(false);
  }
}
