/** A range of supported values: every `min + k × step` up to `max`. @internal */
export interface SupportedRange {
  readonly min: number;
  readonly max: number;
  readonly step: number;
}

/** How to round to a supported value. @internal */
export type RoundingMode = 'down' | 'up' | 'nearest';

/**
 * Rounds `x` to a supported value — one of an ascending list, or a member of a range — down, up or
 * to the nearest (a tie goes down). Undefined when `x` lies outside the lowest … highest supported
 * value. Clock rates (CLOCK_RATE_SET flags) and sensor update intervals (SENSOR_CONFIG_SET bits
 * 10:9) both round this way. @internal
 */
export function roundToSupported(
  values: readonly number[] | SupportedRange,
  x: number,
  mode: RoundingMode,
): number | undefined {
  if (Array.isArray(values)) {
    const list = values as readonly number[];
    const lowest = list[0] as number;
    const highest = list[list.length - 1] as number;
    if (x < lowest || x > highest) return undefined;
    const below = list.filter((v) => v <= x).pop() as number;
    const above = list.find((v) => v >= x) as number;
    if (mode === 'down') return below;
    if (mode === 'up') return above;
    return x - below <= above - x ? below : above;
  }
  const range = values as SupportedRange;
  if (x < range.min || x > range.max) return undefined;
  const k = (x - range.min) / range.step;
  const down = Math.floor(k);
  const steps =
    mode === 'down' ? down : mode === 'up' ? Math.ceil(k) : k - down <= 0.5 ? down : down + 1;
  const rounded = range.min + steps * range.step;
  return rounded > range.max ? range.min + down * range.step : rounded;
}
