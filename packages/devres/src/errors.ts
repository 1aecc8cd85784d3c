import type { TeardownReason } from './teardown-reason.js';

const DEVRES_ERROR = Symbol.for('@scmi-ts/devres/DevresError');
const REVOKED_ERROR = Symbol.for('@scmi-ts/devres/RevokedError');
const RELEASE_ERROR = Symbol.for('@scmi-ts/devres/DevresReleaseError');

/**
 * Machine-readable codes carried by {@link DevresError}.
 *
 * - `E_CLOSED`: registration refused because the devres (or group) is tearing down or torn down.
 * - `E_NOT_LIVE`: early release or forget of a resource that is not live: being quiesced or
 *   released (early, or by a teardown that reached it), released, or forgotten.
 * - `E_FOREIGN_HANDLE`: a handle given to a devres that does not own it.
 * - `E_GROUP_STATE`: a group operation that its current state does not allow.
 * - `E_PROBE_IN_PROGRESS`: probe or remove while the device is probing.
 * - `E_ALREADY_BOUND`: probe of a device that is already bound.
 * - `E_NOT_BOUND`: remove of a device that is not bound.
 * - `E_DUPLICATE_KEY`: a resource registered under a key that is already in use.
 * - `E_ARGUMENT`: a registration whose steps are not functions (nothing was registered, opened or
 *   released: the caller still owns the resource).
 */
export type DevresErrorCode =
  | 'E_CLOSED'
  | 'E_NOT_LIVE'
  | 'E_FOREIGN_HANDLE'
  | 'E_GROUP_STATE'
  | 'E_PROBE_IN_PROGRESS'
  | 'E_ALREADY_BOUND'
  | 'E_NOT_BOUND'
  | 'E_DUPLICATE_KEY'
  | 'E_ARGUMENT';

/**
 * The error thrown by every devres misuse: a string `code`, a brand that survives realms and
 * duplicated copies of the package, and a static {@link DevresError.is} check.
 *
 * @example
 * ```ts
 * try {
 *   await res.release(handle);
 * } catch (e) {
 *   if (DevresError.is(e) && e.code === 'E_NOT_LIVE') console.log('already gone');
 * }
 * ```
 */
export class DevresError extends Error {
  /** What went wrong, as a stable string. */
  public readonly code: DevresErrorCode;
  /** @internal */
  public readonly [DEVRES_ERROR] = true;

  /** Creates an error; `options.cause` chains the underlying error. */
  public constructor(code: DevresErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DevresError';
    this.code = code;
  }

  /** True when `value` is a {@link DevresError} (from any copy of this package). */
  public static is(value: unknown): value is DevresError {
    return typeof value === 'object' && value !== null && DEVRES_ERROR in value;
  }
}

/**
 * Registration was refused because the devres or group is tearing down or torn down.
 *
 * The offered resource was released at once; {@link DevresClosedError.released} settles when that
 * release step has finished (it never rejects: a failing release is recorded in `releaseError`).
 * A failing release is also logged as `release-failed` and, when the refusal came from a running
 * teardown (of the device, or of a group around the target), counted among that teardown's
 * failures in its {@link DevresReleaseError}.
 *
 * @example
 * ```ts
 * try { res.add({ name: 'late', value: fd, release: (fd) => close(fd) }); }
 * catch (e) { if (e instanceof DevresClosedError) await e.released; }
 * ```
 */
export class DevresClosedError extends DevresError {
  /** Resolves when the offered resource's quiesce step (if any) and release step have run. */
  public readonly released: Promise<void>;
  /**
   * The error the offered resource's release threw — or, when only its quiesce step failed, that
   * error — once {@link released} has resolved.
   */
  public releaseError: unknown = undefined;

  /** Creates the error; `released` is the settled-promise of the immediate release. */
  public constructor(message: string, released: Promise<unknown> = Promise.resolve()) {
    super('E_CLOSED', message);
    this.name = 'DevresClosedError';
    this.released = released.then(
      () => undefined,
      (error: unknown) => {
        this.releaseError = error;
      },
    );
  }
}

/**
 * Thrown when a revoked value is used: a released resource's handle, a revoked
 * `Revocable`, or (in core) a removed agent. Like Rust-for-Linux `Revocable`, using the
 * value after revocation is a typed error instead of touching released state.
 *
 * @example
 * ```ts
 * await res.releaseAll();
 * handle.value; // throws RevokedError
 * ```
 */
export class RevokedError extends Error {
  /** Always `E_REVOKED`. */
  public readonly code = 'E_REVOKED';
  /** The name of the revoked resource or object. */
  public readonly resource: string;
  /** @internal */
  public readonly [REVOKED_ERROR] = true;

  /** Creates the error for the named resource. */
  public constructor(resource: string, message = `${resource} has been revoked`) {
    super(message);
    this.name = 'RevokedError';
    this.resource = resource;
  }

  /** True when `value` is a {@link RevokedError} (from any copy of this package). */
  public static is(value: unknown): value is RevokedError {
    return typeof value === 'object' && value !== null && REVOKED_ERROR in value;
  }
}

/** One failed step in a teardown: which resource, which phase, and what it threw. */
export interface ReleaseFailure {
  /** The resource's name as registered. */
  readonly resource: string;
  /** The phase whose step threw. */
  readonly phase: 'quiesce' | 'release';
  /** What the step threw. */
  readonly error: unknown;
}

/**
 * Every quiesce and release step that failed during one teardown, as one `AggregateError`.
 * All steps still ran. `cause` is the probe error when the teardown followed a failed probe.
 *
 * @example
 * ```ts
 * try { await res.releaseAll(); } catch (e) {
 *   if (DevresReleaseError.is(e)) for (const f of e.failures) console.log(f.resource, f.phase);
 * }
 * ```
 */
export class DevresReleaseError extends AggregateError {
  /** Each failure with the resource it belongs to. */
  public readonly failures: readonly ReleaseFailure[];
  /** Why the teardown ran. */
  public readonly reason: TeardownReason;
  /** @internal */
  public readonly [RELEASE_ERROR] = true;

  /** Builds the aggregate from the failures of one teardown of `scope`. */
  public constructor(scope: string, failures: readonly ReleaseFailure[], reason: TeardownReason) {
    const names = failures.map((f) => `${f.resource} (${f.phase})`).join(', ');
    super(
      failures.map((f) => f.error),
      `${scope}: ${failures.length} teardown step(s) failed: ${names}`,
      reason.kind === 'probe-failed' ? { cause: reason.error } : undefined,
    );
    this.name = 'DevresReleaseError';
    this.failures = failures;
    this.reason = reason;
  }

  /** True when `value` is a {@link DevresReleaseError} (from any copy of this package). */
  public static is(value: unknown): value is DevresReleaseError {
    return typeof value === 'object' && value !== null && RELEASE_ERROR in value;
  }
}
