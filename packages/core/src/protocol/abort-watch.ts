/**
 * AbortSignal helpers shared by the commands ({@link ProtocolHandle}'s call options) and the
 * notification hub's subscriptions: one listener per signal whatever watches it, and the checks
 * that tell a real signal from a forged one or from a signal given where options go.
 *
 * @internal
 */

/** The commands waiting on each signal, and the one listener it has for them. */
const watchedSignals = new WeakMap<
  AbortSignal,
  { readonly waiting: Set<() => void>; readonly listener: () => void }
>();

/**
 * Calls `onAbort` when `signal` fires (at once when it has), until the returned function is
 * called. One listener per signal, whatever the commands sharing it: a listener per command
 * would make Node warn of a leak past ten commands in flight on one signal.
 */
export function watchAbort(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return noWatch;
  }
  let watched = watchedSignals.get(signal);
  if (watched === undefined) {
    const waiting = new Set<() => void>();
    const listener = (): void => {
      watchedSignals.delete(signal);
      for (const call of [...waiting]) {
        try {
          call();
        } catch {
          // An abandon does not throw; if one did, the other commands are still given up.
        }
      }
      waiting.clear();
    };
    watched = { waiting, listener };
    watchedSignals.set(signal, watched);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { waiting, listener } = watched;
  waiting.add(onAbort);
  return () => {
    if (!waiting.delete(onAbort) || waiting.size > 0) return;
    signal.removeEventListener('abort', listener);
    watchedSignals.delete(signal);
  };
}

/** What {@link watchAbort} returns for a signal that fired already. */
export function noWatch(): void {
  // Nothing to remove.
}

/**
 * Whether `value` is a real `AbortSignal`: `instanceof` alone takes an object made with
 * `Object.create(AbortSignal.prototype)`, whose `aborted` getter then throws a TypeError in the
 * middle of a command (or of a wait for a transfer). For a package's own option checks too (a
 * transport's `signal` option), so that it refuses what core refuses.
 *
 * @example
 * ```ts
 * if (options.signal !== undefined && !isAbortSignal(options.signal)) {
 *   throw new ScmiConfigError('options.signal', 'must be an AbortSignal');
 * }
 * ```
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (!(value instanceof AbortSignal)) return false;
  try {
    return typeof value.aborted === 'boolean';
  } catch {
    return false;
  }
}

/**
 * Whether `options` is an `AbortSignal` or an `AbortController` given where an options object
 * goes (`transact(…, signal)` for `{ signal }`): it has no key of its own, so it would pass as
 * options holding none, and the command could not be given up.
 */
export function isSignalGivenAsOptions(options: unknown): boolean {
  return options instanceof AbortSignal || options instanceof AbortController;
}

/** What an options error adds when `options` is a signal given for `{ signal }` to `whom`. */
export function signalHint(options: unknown, whom: string): string {
  return isSignalGivenAsOptions(options) ? ` (to give ${whom} a signal, pass { signal })` : '';
}
