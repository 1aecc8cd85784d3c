import { ScmiConfigError, formatValue } from '@scmi-ts/core';

/** A plain object read from JSON, indexed by key. @internal */
export type Plain = Readonly<Record<string, unknown>>;

/**
 * Describes a value for an error message: a string quoted (cut to 100 characters by core's
 * `formatValue`, so that a stray megabyte of JSON does not become the message), a number or a
 * boolean as it is, else its kind (`an array`, `an object`, `null`, `bigint`…). @internal
 */
export function show(value: unknown): string {
  if (typeof value === 'string') return formatValue(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/** Throws {@link ScmiConfigError} for `path`. @internal */
export function fail(path: string, message: string): never {
  throw new ScmiConfigError(path, message);
}

/** Reads a plain object, rejecting keys outside `allowed` (typos must not pass silently). @internal */
export function object(value: unknown, path: string, allowed: readonly string[]): Plain {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(path, `must be an object, got ${show(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(join(path, key), 'is not a known field');
  }
  return value as Plain;
}

/**
 * Reads an array with no hole: every index below its length is present. A hole (`[, x]`, or a
 * length past the last element) is refused at its index, as the element it stands for is missing:
 * map and forEach skip holes while findIndex and indexed reads see undefined, so an array
 * checked with one would reach the platform with an element no check has seen. Every array
 * read from a configuration goes through here, so the callers' map and forEach visit every
 * element. @internal
 */
export function array(value: unknown, path: string, min = 0, max = Infinity): readonly unknown[] {
  if (!Array.isArray(value)) return fail(path, `must be an array, got ${show(value)}`);
  if (value.length < min) fail(path, `must have at least ${min} element(s)`);
  if (value.length > max) fail(path, `must have at most ${max} element(s)`);
  // Stops at the first hole: an array claiming 2^32 − 1 elements and holding none costs nothing.
  for (let i = 0; i < value.length; i++) {
    if (!Object.prototype.hasOwnProperty.call(value, i)) {
      fail(join(path, i), 'must not be a hole (the array is sparse)');
    }
  }
  return value as readonly unknown[];
}

/** Reads an optional array (undefined when absent). @internal */
export function optionalArray(
  value: unknown,
  path: string,
  min = 0,
  max = Infinity,
): readonly unknown[] | undefined {
  return value === undefined ? undefined : array(value, path, min, max);
}

/** Whether `value` is an integer in [min, max] (a test; {@link int} reads one or fails). @internal */
export function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Reads an integer in [min, max]. @internal */
export function int(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    return fail(path, `must be an integer, got ${show(value)}`);
  }
  if (value < min || value > max) fail(path, `must be in ${min} … ${max}, got ${value}`);
  return value;
}

/** Reads an optional integer in [min, max], or `fallback`. @internal */
export function optionalInt(
  value: unknown,
  path: string,
  min: number,
  max: number,
  fallback: number,
): number {
  return value === undefined ? fallback : int(value, path, min, max);
}

/** Reads a finite number in [min, max]. @internal */
export function num(value: unknown, path: string, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return fail(path, `must be a finite number, got ${show(value)}`);
  }
  if (value < min || value > max) fail(path, `must be in ${min} … ${max}, got ${value}`);
  return value;
}

/** Reads a boolean, or `fallback` when absent. @internal */
export function bool(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') return fail(path, `must be a boolean, got ${show(value)}`);
  return value;
}

/**
 * Reads a non-empty printable-ASCII string of at most `maxBytes` characters (SCMI names are
 * NUL-terminated ASCII in 16 or 64 bytes; a UTF-8 name would be cut mid-character on the wire, and
 * a control character is no part of a name: an agent printing it would obey it). @internal
 */
export function name(value: unknown, path: string, maxBytes: number): string {
  if (typeof value !== 'string') return fail(path, `must be a string, got ${show(value)}`);
  if (value.length === 0) fail(path, 'must not be empty');
  if (value.includes('\0')) fail(path, 'must not contain NUL');
  const nonAscii = /[^\x20-\x7e]/.exec(value);
  if (nonAscii !== null) {
    fail(
      path,
      `must be printable ASCII (SCMI names are ASCII), got ${JSON.stringify(nonAscii[0])} at ${nonAscii.index}`,
    );
  }
  if (value.length > maxBytes) fail(path, `must be at most ${maxBytes} bytes, got ${value.length}`);
  return value;
}

/** Joins a path and a key: `clocks[2]` + `rates` → `clocks[2].rates`. @internal */
export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}
