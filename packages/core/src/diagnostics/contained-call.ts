import { isPromiseLike } from '@scmi-ts/devres';

/**
 * Calls user code `fn(arg)` — a notification handler, a loss listener — so that nothing it does
 * escapes: a throw, or a rejection of what it returns (any thenable: a promise of another realm
 * is not `instanceof Promise`), calls `onError` instead, and is never thrown nor left unhandled.
 * What it returns is otherwise ignored (not awaited).
 *
 * @internal
 * @example
 * ```ts
 * callContained(handler, notification, () => void errors++);
 * ```
 */
export function callContained<A>(fn: (arg: A) => unknown, arg: A, onError: () => void): void {
  try {
    const r = fn(arg);
    if (isPromiseLike(r)) Promise.resolve(r).catch(onError);
  } catch {
    onError();
  }
}
