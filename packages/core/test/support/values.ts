/**
 * Values and helpers for the tests of what a check says about a value it refuses (core's
 * `formatValue`, the configuration checks of core and of each transport).
 */

/** `{ a: 1, self: <itself> }`: JSON.stringify throws for it. */
export function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

/** How `formatValue` shows {@link circular}'s object. */
export const CIRCULAR = '{"a":1,"self":[Circular]}';

/** The error `run` throws (undefined when it does not throw). */
export function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (e) {
    return e;
  }
  return undefined;
}
