/**
 * What the fuzz campaigns share: their seeds from the environment, the seeds that failed, a
 * weighted choice of actions, a promise watched without being awaited, and anything thrown as text.
 */
import { inspect } from 'node:util';

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

/**
 * Runs `run` on each of `seeds` in turn until `maxFailures` of them failed (returned problems, or
 * threw or rejected: that error, with its stack, is then the seed's problem), and returns one line
 * per failed seed: the seed, how to replay it alone, then its problems. A campaign that breaks
 * everywhere reports a few seeds, not thousands.
 *
 * @example
 * ```ts
 * const { seeds } = fuzzSeeds(200);
 * expect(await failedSeeds(seeds, runSequence)).toEqual([]);
 * ```
 */
export async function failedSeeds(
  seeds: readonly number[],
  run: (seed: number) => Promise<readonly string[]>,
  maxFailures = 3,
): Promise<string[]> {
  const failures: string[] = [];
  for (const seed of seeds) {
    if (failures.length >= maxFailures) break;
    let problems: readonly string[];
    try {
      problems = await run(seed);
    } catch (e: unknown) {
      problems = [`threw ${thrownText(e, { stack: true })}`];
    }
    if (problems.length > 0) {
      failures.push(
        `seed ${seed} (SCMI_FUZZ_SEED=${seed} SCMI_FUZZ_RUNS=1 reproduces it):\n  ${problems.join('\n  ')}`,
      );
    }
  }
  return failures;
}

/**
 * A chooser among `weights` (an entry's chance is its weight over the sum), drawing from `random`
 * (a seeded source such as `mulberry32`): one draw per choice, so a seed repeats the choices.
 * `fallback` is returned only when rounding leaves the draw past the last entry.
 *
 * @example
 * ```ts
 * const choose = weightedChooser(mulberry32(seed), [['answer', 18], ['hold', 15]], 'hold');
 * choose(); // 'answer' 18 times in 33
 * ```
 */
export function weightedChooser<T>(
  random: () => number,
  weights: readonly (readonly [T, number])[],
  fallback: T,
): () => T {
  const total = weights.reduce((n, [, w]) => n + w, 0);
  return () => {
    let r = random() * total;
    for (const [choice, w] of weights) {
      r -= w;
      if (r < 0) return choice;
    }
    return fallback;
  };
}

/** How a watched promise stands: a campaign never awaits one that may never settle. */
export interface Watched<T> {
  /** It settled (fulfilled or rejected). */
  settled: boolean;
  /** Its value, once fulfilled. */
  value: T | undefined;
  /** Its reason, once rejected. */
  error: unknown;
}

/**
 * Watches `promise` without awaiting it: the returned object says, whenever it is read, whether
 * the promise settled and how (a rejection is handled here, never unhandled).
 *
 * @example
 * ```ts
 * const removing = watch(agent.remove());
 * await clock.runUntilIdle();
 * if (!removing.settled) problems.push('remove() never settled');
 * ```
 */
export function watch<T>(promise: Promise<T>): Watched<T> {
  const w: Watched<T> = { settled: false, value: undefined, error: undefined };
  promise.then(
    (value) => {
      w.settled = true;
      w.value = value;
    },
    (error: unknown) => {
      w.settled = true;
      w.error = error;
    },
  );
  return w;
}

/**
 * Anything thrown, as text for a failure message: an `Error` as `name: message` (its stack with
 * `stack`), a string as itself, anything else inspected.
 *
 * @example
 * ```ts
 * thrownText(new RangeError('out')); // 'RangeError: out'
 * ```
 */
export function thrownText(e: unknown, options: { readonly stack?: boolean } = {}): string {
  if (e instanceof Error) {
    return options.stack === true && e.stack !== undefined ? e.stack : `${e.name}: ${e.message}`;
  }
  if (typeof e === 'string') return e;
  return `${typeof e} ${inspect(e, { depth: 2, breakLength: Infinity })}`;
}
