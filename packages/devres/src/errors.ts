import type { TeardownReason } from './teardown-reason.js';

const DEVRES_ERROR = Symbol.for('@scmi-ts/devres/DevresError');
const REVOKED_ERROR = Symbol.for('@scmi-ts/devres/RevokedError');
const RELEASE_ERROR = Symbol.for('@scmi-ts/devres/DevresReleaseError');

/**
 * Machine-readable codes carried by {@link DevresError}.
 *
 * - `E_CLOSED`: registration refused because the devres (or group) is tearing down or torn down,
 *   or (through the group object) because the group was removed ({@link DevresClosedError}).
 * - `E_NOT_LIVE`: early release or forget of a resource that is not live: being quiesced or
 *   released (early, or by a teardown that reached it), released, or forgotten.
 * - `E_FOREIGN_HANDLE`: a handle given to a devres that does not own it.
 * - `E_GROUP_STATE`: a group operation that its current state does not allow.
 * - `E_PROBE_IN_PROGRESS`: probe or remove while the device is probing.
 * - `E_ALREADY_BOUND`: probe of a device that is already bound.
 * - `E_NOT_BOUND`: remove of a device that is not bound.
 * - `E_DUPLICATE_KEY`: a resource registered under a key that is already in use.
 * - `E_ARGUMENT`: a registration whose steps are not functions, a `group()` whose function is not
 *   one, or a name (of a device, group or resource) that is not a non-empty string (nothing was
 *   created, registered, opened or released: the caller still owns the resource).
 *
 * The other devres errors carry a `code` too, outside this union: {@link RevokedError}
 * `E_REVOKED` and {@link DevresReleaseError} `E_RELEASE`.
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
 * Registration was refused because the devres or group is tearing down or torn down, or — made
 * through a group object after `group.remove()` — because that group was removed (dissolved into
 * its parent; the message says which).
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
   * error — once {@link released} has resolved: it is still `undefined` when the error is caught,
   * since the steps run asynchronously (await `released` first).
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
 * The message names each failure as `resource (phase): what it threw`, the thrown value shown
 * with `String()` — readable also when a step throws a string or another non-`Error` (a value
 * that cannot be converted shows as `<unprintable>`). `errors` holds the thrown values as they are.
 *
 * @example
 * ```ts
 * try { await res.releaseAll(); } catch (e) {
 *   if (DevresReleaseError.is(e)) for (const f of e.failures) console.log(f.resource, f.phase);
 * }
 * ```
 */
export class DevresReleaseError extends AggregateError {
  /**
   * Always `E_RELEASE`, so that one `switch (e.code)` covers it beside {@link DevresError} and
   * {@link RevokedError}; {@link DevresReleaseError.is} remains the check that survives realms.
   *
   * @example
   * ```ts
   * switch ((e as { code?: unknown }).code) {
   *   case 'E_RELEASE': report((e as DevresReleaseError).failures); break;
   *   case 'E_NOT_LIVE': break; // already released
   * }
   * ```
   */
  public readonly code = 'E_RELEASE';
  /** Each failure with the resource it belongs to. */
  public readonly failures: readonly ReleaseFailure[];
  /** Why the teardown ran. */
  public readonly reason: TeardownReason;
  /** @internal */
  public readonly [RELEASE_ERROR] = true;

  /** Builds the aggregate from the failures of one teardown of `scope`. */
  public constructor(scope: string, failures: readonly ReleaseFailure[], reason: TeardownReason) {
    const names = failures
      .map((f) => `${f.resource} (${f.phase}): ${describe(f.error)}`)
      .join('; ');
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

/**
 * What a failed step threw, for a message: `String(error)` (an `Error` as `Name: message`, a
 * thrown string as itself). Never throws: building a teardown's error must not fail it.
 */
function describe(error: unknown): string {
  try {
    return String(error);
  } catch {
    return '<unprintable>';
  }
}
