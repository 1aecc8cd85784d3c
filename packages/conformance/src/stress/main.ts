/**
 * `pnpm stress`: the worker-mode seed scenario, the delayed-response race (fixtures with a P2A
 * channel), the hostile-reply campaign and the seeded interleaving simulator for every fixture of every transport package in this repository
 * (`packages/*-transport/test/support/fixture.ts`), or of the modules given with `--fixture` (a
 * transport outside this repository), for a number of runs or a duration (default:
 * about 2 minutes in total, shared between the fixtures). Prints totals per fixture — runs, phases
 * hit, late replies dropped, invariant violations (must be 0) — and exits non-zero on any
 * violation, and on any campaign that did not run what it is about — the checks the jest cases
 * apply, from the same functions (`raceCampaignShortfalls`: a race campaign needs a reply in time
 * and one late; `hostileCampaignShortfalls`: the hostile one needs faults placed and bad messages
 * counted; `interleavingCampaignShortfalls`: the simulator its schedules and, from 100, a probe timed
 * out and a late reply counted; the same-thread seed phases of a fixture without a worker mode,
 * the jest case's checks, which are the scenario's `problems`) — printing the seed that reproduces
 * it, or when nothing ran at all. `--polling` on a
 * fixture that cannot run polled (it does not poll, or has no worker mode) is a usage error.
 *
 * Usage: pnpm stress [--duration <seconds>] [--runs <n>] [--hostile-runs <n>] [--delayed-runs <n>]
 *        [--interleavings <n>] [--seed <n>] [--transport <name>] [--variant <name>] [--polling]
 *        [--fixture <module>] (see `STRESS_USAGE` in plan.ts)
 *
 * A seed reproduces a worker campaign's random choices (reply delays, hostile fault kinds and the
 * commands they are placed on), not the interleaving of the threads, which is real time. Fixtures
 * without a worker mode run the same-thread seed scenario, which is deterministic and takes no
 * seed.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FixtureCapabilityError, fixtureTitle, type TransportFixture } from '../fixture.js';
import { runDelayedResponseRaceWorker } from '../scenarios/delayed-response-race.js';
import { runHostileRepliesWorker, type HostileWorkerResult } from '../scenarios/hostile-replies.js';
import { runInterleavingSimulation } from '../scenarios/interleaving-simulator.js';
import {
  runSeedScenarioSameThread,
  runSeedScenarioWorker,
  shellWord,
  stressFixtureFlags,
  type SeedPhase,
} from '../scenarios/seed-scenario.js';
import {
  hostileCampaignShortfalls,
  interleavingCampaignShortfalls,
  raceCampaignShortfalls,
  raceCoverageRuns,
} from '../scenarios/campaign-acceptance.js';
import { LateViolationWatch } from '../late-violations.js';
import {
  STRESS_USAGE,
  StressUsageError,
  count,
  describeSkipped,
  fixtureCampaigns,
  parseStressArgs,
  stressHeaderBudget,
  stressPlan,
  type StressBudget,
  type StressedFixtureShape,
} from './plan.js';

/** The packages beside this one that the runner stresses: every `*-transport` package. */
function transportPackages(): string[] {
  const root = join(__dirname, '..', '..', '..');
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.endsWith('-transport'))
    .map((d) => d.name)
    .sort();
}

function isFixture(value: unknown): value is TransportFixture {
  return (
    typeof value === 'object' &&
    value !== null &&
    'sameThread' in value &&
    'capabilities' in value &&
    typeof (value as { name?: unknown }).name === 'string'
  );
}

/** A fixture to stress, the name it is reported under, and the module it came from. */
interface Stressed {
  readonly label: string;
  readonly fixture: TransportFixture;
  /** The `--fixture` module it was loaded from, resolved; `undefined`: this repository's. */
  readonly module: string | undefined;
}

/**
 * Which fixtures to load: those of the `--fixture` modules, or (none given) of this repository's
 * transport packages; of a transport, of a variant (`undefined` selects every one).
 */
interface FixtureSelection {
  readonly only: string | undefined;
  readonly variant: string | undefined;
  readonly fixtureModules: readonly string[];
}

/** A `--fixture` module that exists but could not be imported: reported, exit code 1. */
class FixtureLoadError extends Error {
  public override readonly name = 'FixtureLoadError';
}

/** A module to load fixtures from: its file, and the `--fixture` path it was given as. */
interface FixtureModule {
  readonly file: string;
  readonly given: string | undefined;
  /** How warnings and errors name it. */
  readonly what: string;
}

/**
 * The modules to load: each `--fixture` path, resolved against the directory pnpm was started in
 * (`INIT_CWD`: `pnpm stress` runs this script from the conformance package, not from there), else
 * each transport package's `test/support/fixture.ts`.
 *
 * @throws StressUsageError when a `--fixture` file does not exist.
 */
function fixtureModules(selection: FixtureSelection): FixtureModule[] {
  if (selection.fixtureModules.length > 0) {
    const base = process.env.INIT_CWD ?? process.cwd();
    return selection.fixtureModules.map((given) => {
      const file = resolve(base, given);
      if (!existsSync(file))
        throw new StressUsageError(`--fixture ${given}: no such file (${file})`);
      return { file, given, what: `--fixture ${given}` };
    });
  }
  const root = join(__dirname, '..', '..', '..');
  return transportPackages()
    .map((pkg) => ({
      file: join(root, pkg, 'test', 'support', 'fixture.ts'),
      given: undefined,
      what: `${pkg}: test/support/fixture.ts`,
    }))
    .filter((m) => existsSync(m.file));
}

/**
 * Every fixture exported by the modules {@link fixtureModules} names that `selection` selects (a
 * module with several, such as OP-TEE's SMT and MSG modes, has each reported under its variant).
 * A repository package that exports none is skipped with a warning.
 *
 * @throws StressUsageError when a `--fixture` module exports no fixture; FixtureLoadError when it
 * cannot be imported.
 */
async function loadFixtures(selection: FixtureSelection): Promise<Stressed[]> {
  const found: Stressed[] = [];
  for (const m of fixtureModules(selection)) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(m.file)) as Record<string, unknown>;
    } catch (error: unknown) {
      if (m.given === undefined) throw error; // this repository's own: a bug, with its stack
      throw new FixtureLoadError(
        `${m.what}: ${m.file} could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    // Each fixture once, under the first name it is exported by.
    const fixtures = Object.entries(mod).filter(
      (e, i, all): e is [string, TransportFixture] =>
        isFixture(e[1]) && all.findIndex((o) => o[1] === e[1]) === i,
    );
    if (fixtures.length === 0) {
      if (m.given !== undefined) {
        throw new StressUsageError(`${m.what}: ${m.file} exports no TransportFixture`);
      }
      console.warn(`${m.what} exports no TransportFixture; skipped`);
      continue;
    }
    for (const [exported, fixture] of fixtures) {
      if (selection.only !== undefined && fixture.name !== selection.only) continue;
      if (selection.variant !== undefined && fixture.variant !== selection.variant) continue;
      const label =
        fixtures.length > 1 && fixture.variant === undefined
          ? `${fixture.name}: ${exported}`
          : fixtureTitle(fixture);
      found.push({ label, fixture, module: m.given === undefined ? undefined : m.file });
    }
  }
  return found;
}

/**
 * A reproduction hint for `stressed`, each `pnpm stress` command in `text` given the
 * `--fixture` the fixture came from (without it the command would stress this repository's), as
 * an absolute path: the hint works from any directory.
 */
function again(stressed: Stressed, text: string): string {
  const hint = `${stressed.label}: ${text}`;
  if (stressed.module === undefined) return hint;
  // A fixture that names its module (`stressModule`) has its `--fixture` in the hint already.
  return hint.replace(
    /pnpm stress (?!--fixture )/g,
    `pnpm stress --fixture ${shellWord(stressed.module)} `,
  );
}

/**
 * Why `--polling` cannot run polled on `stressed`, or `undefined` when it can: the polled
 * campaigns are the worker ones, on a fixture whose capabilities say it polls.
 */
function whyNotPolled(stressed: Stressed): string | undefined {
  const { fixture } = stressed;
  if (!fixture.capabilities.polling)
    return `${stressed.label} does not poll (capabilities.polling)`;
  if (!fixture.capabilities.worker || fixture.worker === undefined)
    return `${stressed.label} has no worker mode (only the worker campaigns poll)`;
  return undefined;
}

/**
 * A race campaign's budget as `pnpm stress` runs it: with `--runs`, the same allowance of further
 * runs as the jest case until both sides of the race were seen (`raceCoverageRuns`), and those
 * runs asked of it; with a duration, runs until its time is up (none asked).
 */
function raceBudget(budget: StressBudget): {
  options: StressBudget & { coverageRuns?: number };
  asked: number;
} {
  if (budget.durationMs !== undefined) return { options: budget, asked: 0 };
  return {
    options: { ...budget, coverageRuns: raceCoverageRuns(budget.runs) },
    asked: budget.runs,
  };
}

function formatPhases(phases: Readonly<Record<string, number>>): string {
  return Object.entries(phases)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
}

function formatKinds(byKind: HostileWorkerResult['byKind']): string {
  return Object.entries(byKind)
    .map(([k, v]) => `${k}: ${v.placed} placed / ${v.counted} counted`)
    .join(', ');
}

async function main(): Promise<void> {
  const args = parseStressArgs(process.argv.slice(2));
  if (args.help) {
    console.log(STRESS_USAGE);
    return;
  }
  const fixtures = await loadFixtures(args);
  if (fixtures.length === 0) {
    if (args.only === undefined && args.variant === undefined) {
      // Only this repository's packages can come to none (a --fixture module without one is an
      // error).
      console.error('pnpm stress: no transport package exports a fixture; nothing to stress');
      process.exitCode = 1;
      return;
    }
    // A misspelt --transport or --variant must not pass for a clean campaign.
    const all = await loadFixtures({ ...args, only: undefined, variant: undefined });
    const names = [...new Set(all.map((f) => stressFixtureFlags(f.fixture)))];
    const asked = [
      args.only === undefined ? '' : `--transport ${args.only}`,
      args.variant === undefined ? '' : `--variant ${args.variant}`,
    ].filter((s) => s !== '');
    console.error(
      `pnpm stress: no fixture matches ${asked.join(' ')} (fixtures: ${names.join('; ')})`,
    );
    process.exitCode = 2; // a usage error, as an unknown flag is
    return;
  }
  if (args.polling) {
    // Run unpolled and said nothing, `--polling` would pass for a polled campaign it never ran.
    const refused = fixtures.map(whyNotPolled).filter((why) => why !== undefined);
    if (refused.length > 0) {
      throw new StressUsageError(
        `--polling: ${refused.join('; ')}; select the fixtures that poll with --transport / --variant, or drop --polling`,
      );
    }
  }
  const plan = stressPlan(args, fixtures.length);
  let violations = 0;
  // Campaigns that held their invariants without running what they are about (no reply in time,
  // none late, no fault placed, no bad message counted): the jest cases' checks, shared.
  let shortfalls = 0;
  let ran = 0;
  const hints: string[] = [];
  /**
   * A same-thread campaign's result, or undefined when the fixture lacks what it needs
   * (`FixtureCapabilityError`: nothing ran) — printed and counted as a failed campaign check, so
   * the other fixtures' campaigns still run and the run does not pass.
   */
  const notRunFor = async <T>(campaign: Promise<T>): Promise<T | undefined> => {
    try {
      return await campaign;
    } catch (error: unknown) {
      if (!(error instanceof FixtureCapabilityError)) throw error;
      shortfalls++;
      console.log(`  FAILED not run: ${error.message}`);
      return undefined;
    }
  };
  /** Prints a campaign's violations and shortfalls, counts them, and keeps its replay hint if any. */
  const report = (
    stressed: Stressed,
    found: { readonly violations: readonly string[]; readonly reproduce: string },
    missing: readonly string[],
  ): void => {
    violations += found.violations.length;
    shortfalls += missing.length;
    for (const v of found.violations.slice(0, 20)) console.log(`  VIOLATION ${v}`);
    for (const m of missing) console.log(`  FAILED ${m}`);
    if (found.violations.length > 0 || missing.length > 0)
      hints.push(again(stressed, found.reproduce));
  };
  // What each fixture runs: a fixture without a worker mode runs no hostile or delayed-response
  // campaign, one without a P2A channel no delayed-response race — the header promises only what
  // runs, and says what it skips.
  const shapes = fixtures.map((f) => ({ label: f.label, ...shapeOf(f.fixture) }));
  const budget =
    args.runs === undefined
      ? `${args.durationS} s over ${fixtures.map((f) => f.label).join(', ')}`
      : stressHeaderBudget(plan, shapes);
  console.log(`pnpm stress: seed ${args.seed}, ${budget}`);
  for (const stressed of fixtures) {
    const { label, fixture } = stressed;
    const { worker } = shapeOf(fixture);
    // What it skips of the plan, and why.
    const skipped = describeSkipped(fixtureCampaigns(plan, shapeOf(fixture)).skipped, 'campaign');
    const mode = worker
      ? 'worker thread, real time; interleavings on the virtual clock'
      : skipped === ''
        ? 'same thread; the fixture has no worker mode'
        : 'same thread';
    console.log(`\n${label} (${mode}${skipped === '' ? '' : `; skipped: ${skipped}`})`);
    const p2a = fixture.capabilities.p2a;
    if (worker && plan.seed !== undefined) {
      // Every fixture polls when --polling is given (main refused it otherwise).
      const polled = args.polling;
      // Without a P2A channel there is no delayed-response race: its share of a duration goes here.
      const seedBudget =
        !p2a && plan.seed.durationMs !== undefined && plan.delayed?.durationMs !== undefined
          ? { ...plan.seed, durationMs: plan.seed.durationMs + plan.delayed.durationMs }
          : plan.seed;
      const budget = raceBudget(seedBudget);
      const seed = await runSeedScenarioWorker(fixture, {
        ...budget.options,
        seed: args.seed,
        polling: polled,
      });
      ran += seed.runs;
      console.log(
        `  seed scenario:   ${count(seed.runs, 'run')}${polled ? ' (polling)' : ''}${seed.aimedRuns > 0 ? ` (${seed.aimedRuns} with the reply held and released at an event of the teardown)` : ''}; phases hit: ${formatPhases(seed.phases)}`,
      );
      console.log(
        `                   late replies dropped and counted: ${seed.lateRepliesDropped}; invariant violations: ${seed.violations.length}`,
      );
      report(stressed, seed, raceCampaignShortfalls(seed, budget.asked, 'reply'));
    }
    if (worker && plan.hostile !== undefined) {
      const hostile = await runHostileRepliesWorker(fixture, { ...plan.hostile, seed: args.seed });
      ran += hostile.runs;
      console.log(
        `  hostile replies: ${count(hostile.runs, 'run')}, ${hostile.transfers} transfers (${hostile.failedTransfers} failed as expected), ${hostile.faultsPlaced} faults placed, ${hostile.badMessages} bad messages and ${hostile.counted} hostile replies counted in all, ${hostile.probeTimeouts} probe timeouts; invariant violations: ${hostile.violations.length}`,
      );
      if (hostile.runs > 0) {
        // A duplicate or unsolicited reply comes beside the real one, for no pending command: a
        // wire that holds one response per command may drop it unseen, so "placed" can exceed
        // "counted" for those kinds without a violation (see hostileReplyReachesAgent).
        console.log(
          `                   per fault kind (faults placed / hostile replies counted; duplicate and unsolicited may be dropped by the wire unseen): ${formatKinds(hostile.byKind)}`,
        );
      }
      report(stressed, hostile, hostileCampaignShortfalls(hostile));
    }
    if (worker && p2a && plan.delayed !== undefined) {
      const polled = args.polling;
      const budget = raceBudget(plan.delayed);
      const delayed = await runDelayedResponseRaceWorker(fixture, {
        ...budget.options,
        seed: args.seed,
        polling: polled,
      });
      ran += delayed.runs;
      console.log(
        `  delayed resp.:   ${count(delayed.runs, 'run')}${polled ? ' (polling)' : ''}${delayed.aimedRuns > 0 ? ` (${delayed.aimedRuns} with the delayed response held and released at an event of the teardown)` : ''}; phases hit: ${formatPhases(delayed.phases)}; invariant violations: ${delayed.violations.length}`,
      );
      report(stressed, delayed, raceCampaignShortfalls(delayed, budget.asked, 'delayed response'));
    }
    if (!worker && (plan.seed !== undefined || plan.hostile !== undefined)) {
      // No worker mode: the same-thread phases, repeated, for the seed and hostile shares. They
      // run on the virtual clock and are deterministic: the seed plays no part.
      const phases: SeedPhase[] = ['before-quiesce', 'during-quiesce', 'draining', 'after-release'];
      const counts: Record<string, number> = {};
      const problems: string[] = [];
      const timed = args.runs === undefined;
      const until = Date.now() + (plan.seed?.durationMs ?? 0) + (plan.hostile?.durationMs ?? 0);
      // With --runs: the seed runs, or the hostile runs when only those were asked for.
      const limit = plan.seed?.runs ?? plan.hostile?.runs ?? 0;
      let runs = 0;
      let failedPhase: SeedPhase | undefined;
      let notRun = false;
      // Each run's problems are the jest case's checks (the phase reached, the late reply counted
      // exactly once in all, no callback against released state…); each run is watched once
      // checked, for what its wire records later still (a callback on a timer of its own).
      const watch = new LateViolationWatch();
      const late: string[] = [];
      // The phase of each run, by the name its late violations are reported under.
      const phaseOf = new Map<string, SeedPhase>();
      while (
        (timed ? Date.now() < until : runs < limit) &&
        problems.length === 0 &&
        late.length === 0
      ) {
        const phase = phases[runs % phases.length] as SeedPhase;
        watch.collect(late);
        const r = await notRunFor(runSeedScenarioSameThread(fixture, phase));
        if (r === undefined) {
          notRun = true;
          break;
        }
        counts[r.observedPhase] = (counts[r.observedPhase] ?? 0) + 1;
        problems.push(...r.problems);
        if (r.problems.length > 0) failedPhase = phase;
        const where = `run ${runs} (${phase})`;
        phaseOf.set(where, phase);
        watch.watch(where, r.unreported);
        runs++;
      }
      await watch.finish(late);
      const lateWhere = late[0]?.slice(0, late[0].indexOf(': '));
      failedPhase ??= lateWhere === undefined ? undefined : phaseOf.get(lateWhere);
      problems.push(...late);
      ran += runs;
      violations += problems.length;
      if (!notRun) {
        console.log(
          `  seed scenario: ${count(runs, 'run')}; phases hit: ${formatPhases(counts)}; invariant violations: ${problems.length}`,
        );
      }
      for (const v of problems.slice(0, 20)) console.log(`  VIOLATION ${v}`);
      if (failedPhase !== undefined) {
        hints.push(
          again(
            stressed,
            `same-thread and deterministic (virtual clock; the seed plays no part): runSeedScenarioSameThread(fixture, '${failedPhase}') fails the same way every time, as does pnpm stress ${stressFixtureFlags(fixture)} --runs ${runs} --interleavings 0`,
          ),
        );
      }
    }
    if (plan.interleavings !== undefined) {
      // Every fixture: the seeded interleaving simulator, same thread, on the virtual clock.
      const sim = await notRunFor(
        runInterleavingSimulation(fixture, {
          schedules: plan.interleavings.runs,
          ...(plan.interleavings.durationMs === undefined
            ? {}
            : { durationMs: plan.interleavings.durationMs }),
          seed: args.seed,
        }),
      );
      if (sim === undefined) continue;
      ran += sim.schedules;
      const c = sim.commands;
      console.log(
        `  interleavings:   ${count(sim.schedules, 'schedule')} (same thread, virtual clock); ${formatPhases(sim.outcomes)}`,
      );
      console.log(
        `                   commands: ${c.succeeded} succeeded, ${c.timedOut} timed out, ${c.shutDown} shut down, ${c.busy} refused busy, ${c.platformBusy} answered BUSY by the platform; late replies counted: ${sim.lateRepliesCounted} (reaching the agent; dropped by the wire itself, not counted here: ${sim.droppedByWire}); invariant violations: ${sim.violations.length}`,
      );
      // The jest case's checks besides the invariants: the schedules asked were run (with --runs
      // or --interleavings; a duration asks none), and a campaign of 100 schedules or more raced
      // teardown against late replies.
      const asked = plan.interleavings.durationMs === undefined ? plan.interleavings.runs : 0;
      // (A failure for want of a late reply says why when the wire counted its own.)
      report(stressed, sim, interleavingCampaignShortfalls(sim, asked));
    }
  }
  console.log(`\ninvariant violations: ${violations}`);
  console.log(
    `campaign checks failed: ${shortfalls} (a race campaign needs a reply in time and one late, the hostile one faults placed and bad messages counted, the interleavings their schedules and, from 100, a probe timed out and a late reply counted)`,
  );
  for (const h of hints) console.log(`  again: ${h}`);
  if (ran === 0 && shortfalls === 0) {
    // A budget that leaves nothing to run (--duration 0, --runs 0 alone) must not pass for a
    // clean campaign.
    console.error('pnpm stress: nothing ran (no campaign had runs or time); not a pass');
    process.exitCode = 1;
    return;
  }
  process.exitCode = violations > 0 || shortfalls > 0 ? 1 : 0;
}

/** What decides which campaigns `fixture` runs (see `fixtureCampaigns`). */
function shapeOf(fixture: TransportFixture): StressedFixtureShape {
  return {
    worker: fixture.worker !== undefined && fixture.capabilities.worker,
    p2a: fixture.capabilities.p2a,
  };
}

/**
 * `… | head`: when the reader of standard output goes away, stop quietly instead of an unhandled
 * EPIPE error with its stack — with 141 (128 + SIGPIPE), as a Unix filter killed by the signal
 * exits, or with a failure already recorded: the run did not finish, so it never reads as a pass.
 */
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  const failed = typeof process.exitCode === 'number' && process.exitCode !== 0;
  process.exit(failed ? process.exitCode : 141);
});

main().catch((error: unknown) => {
  if (error instanceof StressUsageError) {
    console.error(`pnpm stress: ${error.message}\n\n${STRESS_USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (error instanceof FixtureLoadError) {
    console.error(`pnpm stress: ${error.message}`);
    process.exitCode = 1;
    return;
  }
  console.error(error);
  process.exitCode = 1;
});
