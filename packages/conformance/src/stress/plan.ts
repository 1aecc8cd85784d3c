/**
 * The `pnpm stress` command line and what it asks for: which campaigns run for each fixture, with
 * which budget. Kept apart from `main.ts`, which runs them, so that both are tested.
 */

/** The command line's text for `--help` and usage mistakes. */
export const STRESS_USAGE = `Usage: pnpm stress [--duration <seconds>] [--runs <n>] [--hostile-runs <n>] [--delayed-runs <n>] [--interleavings <n>] [--seed <n>] [--transport <name>] [--variant <name>] [--polling] [--fixture <module>]

  --duration <seconds>  time budget shared by the fixtures (default 120)
  --runs <n>            a fixed number of worker seed-scenario runs per fixture instead of a duration
                        (the hostile campaign then runs n / 10, at least 1; --runs 0: none)
  --hostile-runs <n>    with --runs: the hostile-reply runs per fixture instead of n / 10
                        (--runs 0 --hostile-runs <n>: the hostile campaign only)
  --delayed-runs <n>    with --runs: the delayed-response race runs per fixture with a P2A channel
                        instead of n / 4 (--runs 0 --delayed-runs <n>: that campaign only)
  --interleavings <n>   schedules of the seeded interleaving simulator per fixture (same thread,
                        virtual clock; default: --runs, or a share of the duration); schedule i
                        runs with seed + i, so --seed <a schedule's seed> --interleavings 1 --runs 0
                        replays it
  --seed <n>            seed of the campaigns' random choices (reply delays, hostile fault kinds
                        and placement, schedules); it does not reproduce the thread timing of the
                        worker campaigns. Fixtures without a worker mode run the deterministic
                        same-thread seed scenario, which ignores it.
  --transport <name>    only the fixtures of that transport (mailbox, virtio, optee…)
  --variant <name>      only the fixture of that variant, for a transport with several (optee:
                        smt, msg); reproduction hints give it
  --polling             the worker seed-scenario runs complete by polling: nothing signals the
                        late reply; in the delayed-response race the command's response is
                        polled, its delayed response still comes on the P2A channel;
                        reproduction hints give it. Every fixture selected must poll and have a
                        worker mode (else a usage error: select them with --transport/--variant)
  --fixture <module>    stress the TransportFixture objects this module exports (TypeScript or
                        JavaScript) instead of this repository's transport packages; a relative
                        path is taken from where pnpm started the runner (INIT_CWD: for
                        pnpm stress, the repository root); may be given more than once;
                        --transport and --variant still select among them; reproduction hints
                        give it, as an absolute path
  -h, --help            this text`;

/** A command-line mistake: `main` prints it with the usage and exits with code 2. */
export class StressUsageError extends Error {
  public override readonly name = 'StressUsageError';
}

/** The parsed command line of `pnpm stress`. */
export interface StressArgs {
  /** Time budget shared by the fixtures, seconds (when `runs` is not given). */
  readonly durationS: number;
  /** Worker seed-scenario runs per fixture; `undefined`: a share of the duration. */
  readonly runs: number | undefined;
  /** Hostile-reply runs per fixture (only with `runs`). */
  readonly hostileRuns: number | undefined;
  /** Delayed-response race runs per fixture with a P2A channel (only with `runs`). */
  readonly delayedRuns: number | undefined;
  /** Interleaving-simulator schedules per fixture. */
  readonly interleavings: number | undefined;
  /** Seed of every campaign's random choices. */
  readonly seed: number;
  /** Only the fixtures of this transport. */
  readonly only: string | undefined;
  /** Only the fixtures of this variant (`TransportFixture.variant`). */
  readonly variant: string | undefined;
  /**
   * Modules whose exported fixtures are stressed instead of this repository's (`--fixture`, in
   * the order given, each once), as given on the command line; empty: the repository's.
   */
  readonly fixtureModules: readonly string[];
  /**
   * The worker seed-scenario runs complete by polling, and the delayed-response race polls its
   * commands' responses (`--polling`).
   */
  readonly polling: boolean;
  /** `--help` was given. */
  readonly help: boolean;
}

/**
 * Parses `pnpm stress`'s arguments (a lone `--`, which `pnpm stress -- …` passes on, is skipped).
 *
 * @throws StressUsageError for an unknown flag, a missing or negative value, a `--transport` or
 * `--variant` name starting with a dash, an empty `--fixture` path, or `--hostile-runs` /
 * `--delayed-runs` without `--runs`.
 *
 * @example
 * ```ts
 * parseStressArgs(['--runs', '0', '--hostile-runs', '8', '--seed', '42']).hostileRuns; // 8
 * ```
 */
export function parseStressArgs(
  argv: readonly string[],
  defaultSeed: number = Date.now() & 0x7fffffff,
): StressArgs {
  let durationS = 120;
  let runs: number | undefined;
  let hostileRuns: number | undefined;
  let delayedRuns: number | undefined;
  let interleavings: number | undefined;
  let seed = defaultSeed;
  let only: string | undefined;
  let variant: string | undefined;
  let polling = false;
  let help = false;
  const fixtureModules: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const given = (): string => {
      if (value === undefined || value.startsWith('--'))
        throw new StressUsageError(`${String(flag)} needs a value`);
      i++;
      return value;
    };
    // A fixture's name never starts with a dash: `--transport -h` is a forgotten value.
    const name = (): string => {
      const text = given();
      if (text.startsWith('-'))
        throw new StressUsageError(`${String(flag)} needs a name, got ${text}`);
      return text;
    };
    const number = (): number => {
      const text = given();
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n) || n < 0)
        throw new StressUsageError(`${String(flag)} needs a non-negative number, got ${text}`);
      return n;
    };
    if (flag === '--duration') durationS = number();
    else if (flag === '--runs') runs = Math.floor(number());
    else if (flag === '--hostile-runs') hostileRuns = Math.floor(number());
    else if (flag === '--delayed-runs') delayedRuns = Math.floor(number());
    else if (flag === '--seed') seed = Math.floor(number());
    else if (flag === '--interleavings') interleavings = Math.floor(number());
    else if (flag === '--transport') only = name();
    else if (flag === '--variant') variant = name();
    else if (flag === '--polling') polling = true;
    else if (flag === '--fixture') {
      const path = given();
      if (path.trim() === '') throw new StressUsageError('--fixture needs a module path');
      if (!fixtureModules.includes(path)) fixtureModules.push(path);
    } else if (flag === '--help' || flag === '-h') help = true;
    else if (flag === '--') continue;
    else throw new StressUsageError(`unknown argument ${String(flag)}`);
  }
  if (hostileRuns !== undefined && runs === undefined)
    throw new StressUsageError('--hostile-runs goes with --runs');
  if (delayedRuns !== undefined && runs === undefined)
    throw new StressUsageError('--delayed-runs goes with --runs');
  return {
    durationS,
    runs,
    hostileRuns,
    delayedRuns,
    interleavings,
    seed,
    only,
    variant,
    fixtureModules,
    polling,
    help,
  };
}

/** A campaign's budget: a number of runs, and a time limit when the command line gave a duration. */
export interface StressBudget {
  readonly runs: number;
  readonly durationMs?: number;
}

/** What one fixture runs: each campaign's budget, or `undefined` when it does not run. */
export interface StressPlan {
  /**
   * The seed scenario: in a worker (real time) when the fixture has a worker mode, else the
   * same-thread phases, repeated.
   */
  readonly seed: StressBudget | undefined;
  /** The hostile-reply campaign (worker mode only). */
  readonly hostile: StressBudget | undefined;
  /**
   * The delayed-response race (worker mode, fixtures with a P2A channel only; a fixture without
   * one gives its share of a duration to the seed scenario).
   */
  readonly delayed: StressBudget | undefined;
  /** The interleaving simulator (`runs` is its number of schedules). */
  readonly interleavings: StressBudget | undefined;
}

/**
 * The budgets of one fixture's campaigns, out of `fixtures` sharing the duration: with a
 * duration, 40 % seed scenario, 10 % delayed-response race, 20 % hostile replies, 30 %
 * interleavings of each fixture's share; with `--runs n`, n seed runs, n / 10 (at least 1) hostile
 * runs or `--hostile-runs`, n / 4 (at least 1) delayed-response runs or `--delayed-runs`, and n
 * schedules or `--interleavings`. A campaign with 0 runs does not run.
 *
 * @example
 * ```ts
 * stressPlan(parseStressArgs(['--runs', '0', '--hostile-runs', '8']), 1);
 * // { seed: undefined, hostile: { runs: 8 }, delayed: undefined, interleavings: undefined }
 * ```
 */
export function stressPlan(args: StressArgs, fixtures: number): StressPlan {
  const runIf = (budget: StressBudget): StressBudget | undefined =>
    budget.runs > 0 && (budget.durationMs ?? 1) > 0 ? budget : undefined;
  if (args.runs === undefined) {
    const shareMs = (args.durationS * 1000) / Math.max(1, fixtures);
    const timed = (fraction: number): StressBudget | undefined =>
      runIf({ runs: Number.MAX_SAFE_INTEGER, durationMs: shareMs * fraction });
    return {
      seed: timed(0.4),
      hostile: timed(0.2),
      delayed: timed(0.1),
      interleavings:
        args.interleavings === undefined ? timed(0.3) : runIf({ runs: args.interleavings }),
    };
  }
  return {
    seed: runIf({ runs: args.runs }),
    hostile: runIf({
      runs: args.hostileRuns ?? (args.runs === 0 ? 0 : Math.max(1, Math.floor(args.runs / 10))),
    }),
    delayed: runIf({
      runs: args.delayedRuns ?? (args.runs === 0 ? 0 : Math.max(1, Math.floor(args.runs / 4))),
    }),
    interleavings: runIf({ runs: args.interleavings ?? args.runs }),
  };
}

/** What of a fixture decides which campaigns of a {@link StressPlan} it runs. */
export interface StressedFixtureShape {
  /** The fixture has a worker mode (`capabilities.worker` and a `worker()`). */
  readonly worker: boolean;
  /** The fixture has a P2A channel (`capabilities.p2a`). */
  readonly p2a: boolean;
}

/** The campaigns one fixture runs of a {@link StressPlan}, and those it skips. */
export interface FixtureCampaigns {
  /**
   * Each campaign that runs, with its budget: `4 seed runs` (worker), `4 same-thread seed runs`
   * (no worker mode: the same-thread phases, for the seed runs, or the hostile runs when only
   * those were asked for), `1 hostile run`, `1 delayed-response run`, `100 schedules`.
   */
  readonly run: readonly string[];
  /**
   * Each campaign the plan asks for that this fixture does not run: `what` with its budget
   * (`1 hostile run`), `campaign` by name (`the hostile-reply campaign`), and `why`.
   */
  readonly skipped: readonly {
    readonly what: string;
    readonly campaign: string;
    readonly why: string;
  }[];
}

/** `n` and a noun, plural unless n is 1: `1 schedule`, `0 runs`. @internal */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * Which campaigns of `plan` a fixture of `shape` runs, and which it skips — what `pnpm stress`
 * announces before it runs them, so that the header promises only what runs. A fixture without a
 * worker mode runs the same-thread seed phases instead of the worker seed scenario (as many runs
 * as the seed runs, or the hostile runs when only those were asked for), and no hostile or
 * delayed-response campaign; one without a P2A channel no delayed-response race. Budgets are
 * given as run counts: meaningful with `--runs` (a duration's campaigns run until their time is
 * up).
 *
 * @example
 * ```ts
 * fixtureCampaigns(stressPlan(parseStressArgs(['--runs', '4']), 1), { worker: false, p2a: true });
 * // { run: ['4 same-thread seed runs', '4 schedules'], skipped: [{ what: '1 hostile run',
 * //   campaign: 'the hostile-reply campaign', why: 'the fixture has no worker mode' }, …] }
 * ```
 */
export function fixtureCampaigns(plan: StressPlan, shape: StressedFixtureShape): FixtureCampaigns {
  const run: string[] = [];
  const skipped: { what: string; campaign: string; why: string }[] = [];
  const noWorker = 'the fixture has no worker mode';
  if (shape.worker) {
    if (plan.seed !== undefined) run.push(count(plan.seed.runs, 'seed run'));
    if (plan.hostile !== undefined) run.push(count(plan.hostile.runs, 'hostile run'));
  } else {
    // main runs the same-thread phases for the seed runs, or the hostile runs alone.
    const sameThread = plan.seed ?? plan.hostile;
    if (sameThread !== undefined) run.push(count(sameThread.runs, 'same-thread seed run'));
    if (plan.seed !== undefined && plan.hostile !== undefined)
      skipped.push({
        what: count(plan.hostile.runs, 'hostile run'),
        campaign: 'the hostile-reply campaign',
        why: noWorker,
      });
  }
  if (plan.delayed !== undefined) {
    const what = count(plan.delayed.runs, 'delayed-response run');
    const campaign = 'the delayed-response race';
    if (!shape.worker) skipped.push({ what, campaign, why: noWorker });
    else if (!shape.p2a) skipped.push({ what, campaign, why: 'the fixture has no P2A channel' });
    else run.push(what);
  }
  if (plan.interleavings !== undefined) run.push(count(plan.interleavings.runs, 'schedule'));
  return { run, skipped };
}

/**
 * `skipped` ({@link FixtureCampaigns.skipped}) as text, each named by `by` (its budget, or the
 * campaign's name), grouped by why: `1 hostile run, 1 delayed-response run — the fixture has no
 * worker mode`; groups separated by `; `. Empty when nothing is skipped.
 *
 * @example
 * ```ts
 * describeSkipped(fixtureCampaigns(plan, shape).skipped, 'campaign');
 * // 'the delayed-response race — the fixture has no P2A channel'
 * ```
 */
export function describeSkipped(
  skipped: FixtureCampaigns['skipped'],
  by: 'what' | 'campaign',
): string {
  return [...new Set(skipped.map((s) => s.why))]
    .map((why) => {
      const named = skipped.filter((s) => s.why === why).map((s) => s[by]);
      return `${named.join(', ')} — ${why}`;
    })
    .join('; ');
}

/**
 * The header's account of what `pnpm stress --runs …` runs over `fixtures`: the campaigns each
 * fixture runs ({@link fixtureCampaigns}), the fixtures that run the same grouped together —
 * `4 seed runs, 1 hostile run, 1 delayed-response run, 4 schedules per fixture over mailbox` —
 * and what a group skips in parentheses after it, with why:
 * `4 same-thread seed runs, 4 schedules per fixture over dbuf (skipped: 1 hostile run, 1
 * delayed-response run — the fixture has no worker mode)`. Groups are separated by `; `.
 *
 * @example
 * ```ts
 * const plan = stressPlan(parseStressArgs(['--runs', '4']), 1);
 * stressHeaderBudget(plan, [{ label: 'dbuf', worker: false, p2a: true }]);
 * ```
 */
export function stressHeaderBudget(
  plan: StressPlan,
  fixtures: readonly (StressedFixtureShape & { readonly label: string })[],
): string {
  // Fixtures that run and skip the same, in the order first met: what they run, what they skip.
  const groups = new Map<string, { runs: string; skips: string; labels: string[] }>();
  for (const f of fixtures) {
    const { run, skipped } = fixtureCampaigns(plan, f);
    const skips = describeSkipped(skipped, 'what');
    const runs = run.join(', ') || 'nothing';
    const key = `${runs}\n${skips}`;
    const group = groups.get(key) ?? { runs, skips, labels: [] };
    group.labels.push(f.label);
    groups.set(key, group);
  }
  return [...groups.values()]
    .map(
      (g) =>
        `${g.runs} per fixture over ${g.labels.join(', ')}${g.skips === '' ? '' : ` (skipped: ${g.skips})`}`,
    )
    .join('; ');
}
