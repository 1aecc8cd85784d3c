import { ScmiConfigError, formatValue } from '@scmi-ts/core';

export { isRecord } from '@scmi-ts/core';

/**
 * A numeric option of the peer-port transport or connection: `fallback` when absent (undefined
 * only), else `value` when it is a finite number (an integer when `integer`) in `min` … `max`.
 *
 * @throws ScmiConfigError `field`: `must be an integer in min … max, got …` (or `a number in`).
 * @internal
 */
export function numberOption(
  value: unknown,
  field: string,
  fallback: number,
  min: number,
  max: number,
  integer: boolean,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    const what = integer ? `an integer in ${min} … ${max}` : `a number in ${min} … ${max}`;
    throw new ScmiConfigError(field, `must be ${what}, got ${formatValue(value)}`);
  }
  return value;
}
