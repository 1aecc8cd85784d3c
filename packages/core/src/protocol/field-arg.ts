import { ScmiMalformedError } from '../errors/scmi-error.js';

/**
 * @internal `value` when it is an integer from 0 to `max`, the range of the field `name` stands
 * for; the writer would otherwise take any number modulo 2^32 (-1 as 0xFFFFFFFF, 2^32 + 2 as 2)
 * and send another command than the one asked for, and a count out of its field's range (NaN,
 * Infinity) would make the comparisons that bound a loop always false. Checked before a transfer
 * is taken: a caller's bad value is not the platform's fault, and nothing is sent for it.
 *
 * @throws ScmiMalformedError `E_FIELD_RANGE` naming `name` (never counted as a malformed reply).
 */
export function uintArg(value: number, name: string, max: number): number {
  if (Number.isInteger(value) && value >= 0 && value <= max) return value;
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
