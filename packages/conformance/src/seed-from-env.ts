/**
 * The whole number in the environment variable `name` — a seed (`SCMI_SEED`,
 * `SCMI_INTERLEAVING_SEED`) or a run count — or `fallback` when the variable is unset. A value
 * that is set must be one: an empty or non-numeric `SCMI_SEED` would otherwise turn silently into
 * 0, NaN or a new random seed, and the run would not be the one asked for.
 *
 * @param min - The least value taken (default 0; 1 for a run count, where 0 would pass vacuously).
 * @throws Error naming the variable and its value when it is set to anything else (empty
 *   included).
 * @example
 * ```ts
 * const seed = seedFromEnv('SCMI_SEED', Date.now() % 100_000); // SCMI_SEED=42 → 42
 * const runs = seedFromEnv('SCMI_SEED_ITERATIONS', 150, 1);
 * ```
 */
export function seedFromEnv(name: string, fallback: number, min = 0): number {
  const text = process.env[name];
  if (text === undefined) return fallback;
  const n = Number(text);
  // Decimal digits only: Number() also takes ' 7 ', '0x1F' and '1e3'.
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new Error(`${name}=${JSON.stringify(text)}: expected a whole number ≥ ${min}`);
  }
  return n;
}
