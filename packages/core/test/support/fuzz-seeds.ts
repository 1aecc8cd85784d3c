/**
 * The seeds of a fuzz campaign, as every transport's fuzz tests take them from the environment.
 */

/** The seeds a campaign runs: case i runs seed `first + i`. */
export interface FuzzSeeds {
  /** The first seed: `SCMI_FUZZ_SEED`, default 1. */
  readonly first: number;
  /** How many cases: `SCMI_FUZZ_RUNS`, default the campaign's own. */
  readonly runs: number;
  /** `first`, `first + 1`, … (`runs` of them). */
  readonly seeds: readonly number[];
}

/** A whole number from the environment, or `fallback` when the variable is unset or empty. */
function wholeFromEnv(name: string, fallback: number, min: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new Error(`${name}=${text}: expected a whole number ≥ ${min}`);
  }
  return n;
}

/**
 * The seeds of a fuzz campaign: from `SCMI_FUZZ_SEED` (default 1), `SCMI_FUZZ_RUNS` of them
 * (default `defaultRuns`, the short run the test suite makes). A suite run is therefore the same
 * every time; a package's `fuzz` script sets both for a long campaign from a seed taken from the
 * time, and `SCMI_FUZZ_SEED=<a failing seed> SCMI_FUZZ_RUNS=1` replays one case.
 *
 * @throws Error naming the variable when it is set to something other than a whole number (≥ 0
 * for the seed, ≥ 1 for the runs: jest refuses an empty table).
 * @example
 * ```ts
 * const { first, runs, seeds } = fuzzSeeds(30);
 * it.each(seeds)('seed %i: keeps every invariant', async (seed) => runCase(seed));
 * ```
 */
export function fuzzSeeds(defaultRuns: number): FuzzSeeds {
  const first = wholeFromEnv('SCMI_FUZZ_SEED', 1, 0);
  const runs = wholeFromEnv('SCMI_FUZZ_RUNS', defaultRuns, 1);
  return { first, runs, seeds: Array.from({ length: runs }, (_, i) => first + i) };
}
