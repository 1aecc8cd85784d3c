/**
 * Why a teardown step runs; every quiesce and release step receives it (like Effect's finalizers
 * receive the exit).
 *
 * - `probe-failed`: the probe function threw `error`; everything it registered is torn down.
 * - `remove`: the device was removed.
 * - `dispose`: `releaseAll()` or `[Symbol.asyncDispose]()` was called directly.
 * - `early-release`: one resource (or one group) was released before its device.
 * - `refused`: the resource was offered after teardown began (or, in `acquire`, could not be
 *   registered once opened) and is released at once.
 *
 * @example
 * ```ts
 * res.addAction('log', (why) => console.log('released because', why.kind));
 * ```
 */
export type TeardownReason =
  | {
      /** The probe function threw. */
      readonly kind: 'probe-failed';
      /** What the probe function threw. */
      readonly error: unknown;
    }
  | {
      /** The device was removed. */
      readonly kind: 'remove';
    }
  | {
      /** `releaseAll()` or `[Symbol.asyncDispose]()` was called directly. */
      readonly kind: 'dispose';
    }
  | {
      /** One resource or group was released before its device. */
      readonly kind: 'early-release';
    }
  | {
      /** The resource was offered after teardown began, or could not be registered once opened. */
      readonly kind: 'refused';
    };

/** The reason used when `releaseAll()` is called without one. */
export const DISPOSE_REASON: TeardownReason = Object.freeze({ kind: 'dispose' });
/** The reason given to a resource released early with `release(handle)`. */
export const EARLY_RELEASE_REASON: TeardownReason = Object.freeze({ kind: 'early-release' });
/** The reason given to a resource offered after teardown began (or not registrable once opened). */
export const REFUSED_REASON: TeardownReason = Object.freeze({ kind: 'refused' });
/** The reason given when a device is removed. */
export const REMOVE_REASON: TeardownReason = Object.freeze({ kind: 'remove' });
