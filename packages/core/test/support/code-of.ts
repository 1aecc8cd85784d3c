import { ScmiConfigError, type ScmiError } from '@scmi-ts/core';

/**
 * A test helper for one kind of error: `codeOf(fn)` is the `code` of what `fn` throws when it is a
 * `kind` error (an error of another kind is rethrown, failing the test), undefined when it throws
 * nothing.
 *
 * @example
 * ```ts
 * const codeOf = codeOfError(ScmiTransportError);
 * expect(codeOf(() => doorbell.listen(noop))).toBe('E_DOORBELL_CLOSED');
 * ```
 */
export function codeOfError(kind: {
  is(value: unknown): value is ScmiError;
}): (fn: () => unknown) => string | undefined {
  return (fn) => {
    try {
      fn();
    } catch (e) {
      if (kind.is(e)) return e.code;
      throw e;
    }
    return undefined;
  };
}

/**
 * The `field` of the {@link ScmiConfigError} `fn` throws, or undefined when it does not throw; any
 * other error is rethrown.
 *
 * @example
 * ```ts
 * expect(fieldOfConfigError(() => computeWireLayout({ cmdqSize: 3 }))).toBe('cmdqSize');
 * ```
 */
export function fieldOfConfigError(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (ScmiConfigError.is(e)) return e.field;
    throw e;
  }
  return undefined;
}
