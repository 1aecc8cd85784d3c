import { describeArg } from '../errors/format-value.js';
import { ScmiError, ScmiMalformedError } from '../errors/scmi-error.js';

/**
 * @internal `value` when it is an integer from 0 to `max`, the range of the field `name` stands
 * for; the writer would otherwise take any number modulo 2^32 (-1 as 0xFFFFFFFF, 2^32 + 2 as 2)
 * and send another command than the one asked for, and a count out of its field's range (NaN,
 * Infinity) would make the comparisons that bound a loop always false. Checked before a transfer
 * is taken: a caller's bad value is not the platform's fault, and nothing is sent for it. A value
 * that is not a number at all (`1n`, `'1'`) is refused as such: "agent id must be a number, got
 * bigint 1n", not as out of range.
 *
 * @throws ScmiMalformedError `E_FIELD_RANGE` naming `name` (never counted as a malformed reply).
 */
export function uintArg(value: number, name: string, max: number): number {
  if (Number.isInteger(value) && value >= 0 && value <= max) return value;
  const given: unknown = value;
  if (typeof given !== 'number') {
    throw new ScmiMalformedError(
      `${name} must be a number, got ${describeArg(given)}`,
      'E_FIELD_RANGE',
    );
  }
  throw new ScmiMalformedError(
    `${name} ${String(value)} is not an integer from 0 to 0x${max.toString(16).toUpperCase()}`,
    'E_FIELD_RANGE',
  );
}

/**
 * @internal `value` when it is an integer from 0 to 0xFFFFFFFF, the range of the 32-bit field
 * `name` goes into (see {@link uintArg}).
 *
 * @throws ScmiMalformedError `E_FIELD_RANGE` naming `name`.
 */
export function u32Arg(value: number, name: string): number {
  return uintArg(value, name, 0xffffffff);
}

/**
 * @internal `value` as the 0 or 1 a flag field carries, when it is a boolean: a JavaScript caller
 * gets past the type, and `value ? 1 : 0` would send 1 for a truthy `'false'` — enabling what it
 * meant to disable, allowing what it meant to deny. Checked before a transfer is taken.
 *
 * @throws ScmiError `E_ARGUMENT` naming `name` for anything but `true` or `false` (nothing sent).
 */
export function flagArg(value: boolean, name: string): 0 | 1 {
  const given: unknown = value;
  if (given === true) return 1;
  if (given === false) return 0;
  throw new ScmiError('E_ARGUMENT', `${name} must be true or false, got ${describeArg(given)}`);
}
