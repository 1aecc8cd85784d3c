import type { SensorValueGenerator } from '../../config/platform-config.js';
import { seededUnit } from '../../random/seeded-random.js';

/**
 * The reading a sensor value generator gives `elapsedMs` after the platform started: the clean
 * value plus seeded noise (if configured), rounded to an integer and kept within ±2^53. A pure
 * function of its arguments, so a test can predict every reading.
 *
 * @param generator - as {@link validatePlatformConfig} accepts it: a `periodMs` or `intervalMs`
 *   below 1 ms can overflow the elapsed time divided by it, and the reading would be NaN.
 * @param noiseSeed - seed of the noise stream when the generator's noise has no own seed
 *   (the platform uses its seed plus the sensor id).
 * @example
 * ```ts
 * sensorReading({ kind: 'ramp', from: 0, to: 100, periodMs: 1000 }, 250, 1); // 25
 * ```
 */
export function sensorReading(
  generator: SensorValueGenerator,
  elapsedMs: number,
  noiseSeed: number,
): number {
  const t = Math.max(0, elapsedMs);
  let value: number;
  switch (generator.kind) {
    case 'constant':
      value = generator.value;
      break;
    case 'ramp': {
      const phase = (t % generator.periodMs) / generator.periodMs;
      value = generator.from + (generator.to - generator.from) * phase;
      break;
    }
    case 'sine':
      value =
        generator.offset +
        generator.amplitude *
          Math.sin(2 * Math.PI * (t / generator.periodMs + (generator.phase ?? 0)));
      break;
    case 'sequence': {
      const i = Math.floor(t / generator.intervalMs) % generator.values.length;
      value = generator.values[i] as number;
      break;
    }
  }
  const noise = generator.noise;
  if (noise !== undefined && noise.amplitude > 0) {
    const u = seededUnit(noise.seed ?? noiseSeed, Math.floor(t)) * 2 - 1;
    value += noise.amplitude * u;
  }
  const limit = Number.MAX_SAFE_INTEGER;
  return Math.min(limit, Math.max(-limit, Math.round(value))) + 0; // + 0: no -0
}
