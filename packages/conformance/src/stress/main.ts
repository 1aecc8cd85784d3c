/**
 * `pnpm stress`: the worker-mode seed scenario and the hostile-reply campaign for every fixture of
 * every transport package (`packages/*-transport/test/support/fixture.ts`), for a number of runs
 * or a duration (default: about 2 minutes in total, shared between the fixtures). Prints totals
 * per fixture — runs, phases hit, late replies dropped, invariant violations (must be 0) — and
 * exits non-zero on any violation, printing the seed that reproduces it.
 *
 * Usage: pnpm stress [--duration <seconds>] [--runs <n>] [--hostile-runs <n>] [--seed <n>]
 *        [--transport <name>]
 *
 * A seed reproduces a worker campaign's random choices (reply delays, hostile fault kinds and the
 * commands they are placed on), not the interleaving of the threads, which is real time. Fixtures
 * without a worker mode run the same-thread seed scenario, which is deterministic and takes no
 * seed.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TransportFixture } from '../fixture.js';
import { runHostileRepliesWorker, type HostileWorkerResult } from '../scenarios/hostile-replies.js';
import { runInterleavingSimulation } from '../scenarios/interleaving-simulator.js';
import {
  runSeedScenarioSameThread,
  runSeedScenarioWorker,
  type SeedPhase,
} from '../scenarios/seed-scenario.js';

/** The packages beside this one that the runner stresses: every `*-transport` package. */
function transportPackages(): string[] {
  const root = join(__dirname, '..', '..', '..');
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.endsWith('-transport'))
    .map((d) => d.name)
    .sort();
}

const USAGE = `Usage: pnpm stress [--duration <seconds>] [--runs <n>] [--hostile-runs <n>] [--seed <n>] [--transport <name>]

  --duration <seconds>  time budget shared by the fixtures (default 120)
  --runs <n>            a fixed number of worker seed-scenario runs per fixture instead of a duration
                        (the hostile campaign then runs n / 10, at least 1)
  --hostile-runs <n>    with --runs: the hostile-reply runs per fixture instead of n / 10
  --seed <n>            seed of the worker campaigns' random choices (reply delays, hostile fault
                        kinds and placement); it does not reproduce thread timing. Fixtures without
                        a worker mode run the deterministic same-thread scenario and ignore it.
  --interleavings <n>   schedules of the seeded interleaving simulator per fixture (same thread,
                        virtual clock; default: --runs, or a share of the duration); schedule i
                        runs with seed + i, so --seed <a schedule's seed> --interleavings 1 replays it
  --transport <name>    only the fixtures of that transport (mailbox, virtio, optee…)
  --help                this text`;

/** A command-line mistake: printed with the usage, exit code 2. */
class UsageError extends Error {}

interface Args {
  durationS: number;
  runs: number | undefined;
  hostileRuns: number | undefined;
  interleavings: number | undefined;
  seed: number;
  only: string | undefined;
  help: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    durationS: 120,
    runs: undefined,
    hostileRuns: undefined,
    interleavings: undefined,
    seed: Date.now() & 0x7fffffff,
    only: undefined,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const given = (): string => {
      if (value === undefined || value.startsWith('--'))
        throw new UsageError(`${String(flag)} needs a value`);
      i++;
      return value;
    };
    const number = (): number => {
      const text = given();
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n) || n < 0)
        throw new UsageError(`${String(flag)} needs a non-negative number, got ${text}`);
      return n;
    };
    if (flag === '--duration') args.durationS = number();
    else if (flag === '--runs') args.runs = Math.floor(number());
    else if (flag === '--hostile-runs') args.hostileRuns = Math.floor(number());
    else if (flag === '--seed') args.seed = Math.floor(number());
    else if (flag === '--interleavings') args.interleavings = Math.floor(number());
    else if (flag === '--transport') args.only = given();
    else if (flag === '--help' || flag === '-h') args.help = true;
    else if (flag === '--') continue;
    else throw new UsageError(`unknown argument ${String(flag)}`);
  }
  if (args.hostileRuns !== undefined && args.runs === undefined)
    throw new UsageError('--hostile-runs goes with --runs');
  return args;
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

/** A fixture to stress, and the name it is reported under. */
interface Stressed {
  readonly label: string;
  readonly fixture: TransportFixture;
}

/**
 * Every fixture exported by each transport package's `test/support/fixture.ts` (a package with
 * several, such as OP-TEE's SMT and MSG modes, has each reported under its export name too).
 */
async function loadFixtures(only: string | undefined): Promise<Stressed[]> {
  const found: Stressed[] = [];
  for (const pkg of transportPackages()) {
    const file = join(__dirname, '..', '..', '..', pkg, 'test', 'support', 'fixture.ts');
    if (!existsSync(file)) continue;
    const mod = (await import(file)) as Record<string, unknown>;
    // Each fixture once, under the first name it is exported by.
    const fixtures = Object.entries(mod).filter(
      (e, i, all): e is [string, TransportFixture] =>
        isFixture(e[1]) && all.findIndex((o) => o[1] === e[1]) === i,
    );
    if (fixtures.length === 0) {
      console.warn(`${pkg}: test/support/fixture.ts exports no TransportFixture; skipped`);
      continue;
    }
    for (const [exported, fixture] of fixtures) {
      if (only !== undefined && fixture.name !== only) continue;
      const label = fixtures.length > 1 ? `${fixture.name}: ${exported}` : fixture.name;
      found.push({ label, fixture });
    }
  }
  return found;
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
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const fixtures = await loadFixtures(args.only);
  if (fixtures.length === 0) {
    console.log(
      args.only === undefined
        ? 'pnpm stress: no transport package is installed; nothing to stress.'
        : `pnpm stress: no fixture is named ${JSON.stringify(args.only)}; nothing to stress.`,
    );
    // A misspelt --transport must not pass for a clean campaign.
    if (args.only !== undefined) process.exitCode = 1;
    return;
  }
  const perTransportMs = (args.durationS * 1000) / fixtures.length;
  let violations = 0;
  const hints: string[] = [];
  console.log(
    `pnpm stress: seed ${args.seed}, ${args.runs === undefined ? `${args.durationS} s` : `${args.runs} runs`} over ${fixtures.map((f) => f.label).join(', ')}`,
  );
  for (const { label, fixture } of fixtures) {
    const seedBudget =
      args.runs === undefined
        ? { durationMs: perTransportMs * 0.5, runs: Number.MAX_SAFE_INTEGER }
        : { runs: args.runs };
    const hostileBudget =
      args.runs === undefined
        ? { durationMs: perTransportMs * 0.2, runs: Number.MAX_SAFE_INTEGER }
        : { runs: args.hostileRuns ?? Math.max(1, Math.floor(args.runs / 10)) };
    const interleavingBudget =
      args.interleavings !== undefined
        ? { schedules: args.interleavings }
        : args.runs === undefined
          ? { durationMs: perTransportMs * 0.3, schedules: Number.MAX_SAFE_INTEGER }
          : { schedules: args.runs };
    if (args.runs === 0) {
      // Only the interleavings (a replayed schedule): no worker campaign, no same-thread phases.
      console.log(`\n${label}`);
    } else if (fixture.worker !== undefined && fixture.capabilities.worker) {
      const seed = await runSeedScenarioWorker(fixture, { ...seedBudget, seed: args.seed });
      const hostile = await runHostileRepliesWorker(fixture, { ...hostileBudget, seed: args.seed });
      violations += seed.violations.length + hostile.violations.length;
      console.log(`\n${label} (worker thread, real time)`);
      console.log(`  seed scenario:   ${seed.runs} runs; phases hit: ${formatPhases(seed.phases)}`);
      console.log(
        `                   late replies dropped and counted: ${seed.lateRepliesDropped}; invariant violations: ${seed.violations.length}`,
      );
      console.log(
        `  hostile replies: ${hostile.runs} runs, ${hostile.transfers} transfers (${hostile.failedTransfers} failed as expected), ${hostile.faultsPlaced} faults placed, ${hostile.badMessages} bad messages and ${hostile.counted} hostile replies counted in all, ${hostile.probeTimeouts} probe timeouts; invariant violations: ${hostile.violations.length}`,
      );
      if (hostile.runs > 0)
        console.log(`                   per kind: ${formatKinds(hostile.byKind)}`);
      for (const v of [...seed.violations, ...hostile.violations].slice(0, 20))
        console.log(`  VIOLATION ${v}`);
      if (seed.violations.length > 0) hints.push(`${label}: ${seed.reproduce}`);
      if (hostile.violations.length > 0) hints.push(`${label}: ${hostile.reproduce}`);
    } else {
      // No worker mode: the same-thread phases, repeated. They run on the virtual clock and are
      // deterministic: the seed plays no part.
      const phases: SeedPhase[] = ['before-quiesce', 'during-quiesce', 'draining', 'after-release'];
      const counts: Record<string, number> = {};
      const problems: string[] = [];
      const until = Date.now() + perTransportMs * 0.7;
      let runs = 0;
      let failedPhase: SeedPhase | undefined;
      while (
        (args.runs === undefined ? Date.now() < until : runs < args.runs) &&
        problems.length === 0
      ) {
        const phase = phases[runs % phases.length] as SeedPhase;
        const r = await runSeedScenarioSameThread(fixture, phase);
        counts[r.observedPhase] = (counts[r.observedPhase] ?? 0) + 1;
        problems.push(...r.problems);
        if (r.problems.length > 0) failedPhase = phase;
        runs++;
      }
      violations += problems.length;
      console.log(`\n${label} (same thread; the fixture has no worker mode)`);
      console.log(
        `  seed scenario: ${runs} runs; phases hit: ${formatPhases(counts)}; invariant violations: ${problems.length}`,
      );
      for (const v of problems.slice(0, 20)) console.log(`  VIOLATION ${v}`);
      if (failedPhase !== undefined) {
        hints.push(
          `${label}: same-thread and deterministic (virtual clock; the seed plays no part): runSeedScenarioSameThread(fixture, '${failedPhase}') fails the same way every time, as does pnpm stress --transport ${fixture.name} --runs ${runs}`,
        );
      }
    }
    // Every fixture: the seeded interleaving simulator, same thread, on the virtual clock.
    const sim = await runInterleavingSimulation(fixture, {
      ...interleavingBudget,
      seed: args.seed,
    });
    violations += sim.violations.length;
    const c = sim.commands;
    console.log(
      `  interleavings:   ${sim.schedules} schedules (same thread, virtual clock); ${formatPhases(sim.outcomes)}`,
    );
    console.log(
      `                   commands: ${c.succeeded} succeeded, ${c.timedOut} timed out, ${c.shutDown} shut down, ${c.busy} refused busy; late replies counted: ${sim.lateRepliesCounted}; invariant violations: ${sim.violations.length}`,
    );
    for (const v of sim.violations.slice(0, 20)) console.log(`  VIOLATION ${v}`);
    if (sim.violations.length > 0) hints.push(`${label}: ${sim.reproduce}`);
  }
  console.log(`\ninvariant violations: ${violations}`);
  for (const h of hints) console.log(`  again: ${h}`);
  process.exitCode = violations > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`pnpm stress: ${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  console.error(error);
  process.exitCode = 1;
});
