import { RevokedError } from './errors.js';

/**
 * A guard on a {@link Revocable}'s value, held while the value is in use. Revocation waits for
 * every held guard to be released. Releasing a guard twice is a no-op.
 *
 * @example
 * ```ts
 * const g = chan.guard();
 * if (g) { try { g.value.read(); } finally { g.release(); } }
 * ```
 */
export interface RevocableGuard<T> extends Disposable {
  /**
   * The guarded value; valid until {@link RevocableGuard.release}, after which reading it throws
   * {@link RevokedError} (a guard given back no longer keeps the value alive).
   */
  readonly value: T;
  /** Gives the guard back; revocation may complete once every guard is back. */
  release(): void;
}

/**
 * A value that can be revoked, like Rust-for-Linux `Revocable`: users take a guard (or call
 * {@link Revocable.access}); {@link Revocable.revoke} stops new guards from being taken and resolves
 * once the guards already held are released. After revocation the value is dropped and every
 * typed accessor throws {@link RevokedError}.
 *
 * The guard counts itself in first and checks the revoked flag second, so a guard taken
 * concurrently with revocation is either counted (and waited for) or refused — never both missed.
 *
 * @example
 * ```ts
 * const regs = new Revocable('regs', mapRegisters());
 * regs.access((r) => r.write(0x10, 1));
 * await regs.revoke();
 * regs.tryAccess(); // undefined
 * ```
 */
export class Revocable<T> {
  /** A name for errors and diagnostics. */
  public readonly name: string;
  #value: T | undefined;
  #revoked = false;
  #active = 0;
  #refused = 0;
  #drained: (() => void) | undefined;
  #revocation: Promise<void> | undefined;

  /** Wraps `value`; nothing is revoked until {@link Revocable.revoke} is called. */
  public constructor(name: string, value: T) {
    this.name = name;
    this.#value = value;
  }

  /** True once revocation has started. */
  public get isRevoked(): boolean {
    return this.#revoked;
  }

  /** Guards currently held. */
  public get activeGuards(): number {
    return this.#active;
  }

  /** Accesses refused because revocation had started. */
  public get refusedAccesses(): number {
    return this.#refused;
  }

  /**
   * The value, or `undefined` once revocation has started. This is a peek: it takes no guard, so
   * use it only for work that cannot overlap revocation (same-thread, no `await` in between).
   */
  public tryAccess(): T | undefined {
    return this.#revoked ? undefined : this.#value;
  }

  /**
   * The value; throws once revocation has started.
   *
   * @throws RevokedError after {@link Revocable.revoke} was called.
   */
  public get value(): T {
    if (this.#revoked) throw new RevokedError(this.name);
    return this.#value as T;
  }

  /** Takes a guard, or returns `undefined` (and counts a refusal) when revocation has started. */
  public guard(): RevocableGuard<T> | undefined {
    if (!this.#enter()) return undefined;
    let held = true;
    const value = this.#value as T;
    const name = this.name;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.#exit();
    };
    return {
      get value(): T {
        if (!held) throw new RevokedError(name);
        return value;
      },
      release,
      [Symbol.dispose]: release,
    };
  }

  /**
   * Runs `fn` with the value under a guard. When `fn` returns a promise the guard is held until it
   * settles. Returns what `fn` returns.
   *
   * @throws RevokedError when revocation has started (and `fn` is not called).
   */
  public access<R>(fn: (value: T) => R): R {
    if (!this.#enter()) throw new RevokedError(this.name);
    let result: R;
    try {
      result = fn(this.#value as T);
    } catch (error) {
      this.#exit();
      throw error;
    }
    // The guard is given back exactly once whatever `result` does: a `then` getter or method that
    // throws gives it back at once (and the throw goes to the caller); a thenable that calls back
    // twice gives it back once, not a second time for a guard someone else holds.
    let given = false;
    const exit = (): void => {
      if (given) return;
      given = true;
      this.#exit();
    };
    try {
      if (isPromiseLike(result)) {
        // Given back when the promise settles; the caller still receives the original promise.
        result.then(exit, exit);
      } else {
        exit();
      }
    } catch (error) {
      exit();
      throw error;
    }
    return result;
  }

  /**
   * Starts revocation: no guard can be taken from now on. Resolves when every guard already held
   * has been released; the value is then dropped. Calling it again returns the same promise.
   */
  public revoke(): Promise<void> {
    if (this.#revocation !== undefined) return this.#revocation;
    this.#revoked = true;
    if (this.#active === 0) {
      this.#value = undefined;
      this.#revocation = Promise.resolve();
    } else {
      this.#revocation = new Promise<void>((resolve) => {
        this.#drained = () => {
          this.#value = undefined;
          resolve();
        };
      });
    }
    return this.#revocation;
  }

  #enter(): boolean {
    // Count first, check second (see docs/architecture.md, "The RX path and the teardown path").
    this.#active++;
    if (this.#revoked) {
      this.#active--;
      this.#refused++;
      return false;
    }
    return true;
  }

  #exit(): void {
    this.#active--;
    if (this.#active === 0 && this.#drained !== undefined) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained();
    }
  }
}

/**
 * True when `value` has a callable `then` (a promise or thenable).
 *
 * False for `null`, `undefined`, primitives and objects without a callable `then`; it reads
 * `value.then` once, so only a `then` getter that throws makes it throw.
 *
 * @example
 * ```ts
 * const r = handler(notification); // void, or a promise to wait for
 * if (isPromiseLike(r)) await r;
 * isPromiseLike({ then: 1 }); // false
 * ```
 */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
