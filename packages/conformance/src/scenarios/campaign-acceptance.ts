import { HOSTILE_ACTIONS, hostileActionName, hostileReplyReachesAgent } from './hostile-replies.js';
import type { HostileWorkerResult } from './hostile-replies.js';
import {
  INTERLEAVING_OUTCOMES,
  lateReplyCoverageHint,
  type InterleavingResult,
} from './interleaving-simulator.js';
import { SEED_WORKER_PHASES } from './seed-scenario.js';

/**
 * What a campaign must show, besides no invariant violation, to pass. The jest cases of
 * `runTransportConformance` and `pnpm stress` judge each campaign's result with these same
 * functions, so that the two cannot drift apart: a campaign whose invariants held only because it
 * never ran what it is about (no reply in time, none late, no hostile reply counted, no schedule
 * that raced teardown against a late reply) is not a pass.
 */

/** What {@link raceCampaignShortfalls} reads of a race campaign's result (the seed scenario's, the delayed-response race's). */
export interface RaceCampaignOutcome {
  /** The campaign's seed, named in each shortfall. */
  readonly seed: number;
  /** Runs done. */
  readonly runs: number;
  /** Runs per phase (the labels of `SEED_WORKER_PHASES`). */
  readonly phases: Readonly<Record<string, number>>;
}

/** Runs a race campaign may take beyond those asked, at least, until it saw both sides of its race. */
const MIN_COVERAGE_RUNS = 30;

/**
 * How many more runs a race campaign of `runs` runs may take until it has seen a reply in time and
 * one late (its `coverageRuns`): 3 × `runs`, and at least 30 — a small campaign would otherwise
 * miss one side by chance (about half the delays of a run are under its timeout), and
 * {@link raceCampaignShortfalls} requires both.
 *
 * @example
 * ```ts
 * runSeedScenarioWorker(fixture, { runs: 100, coverageRuns: raceCoverageRuns(100) }); // up to 400 runs
 * ```
 */
export function raceCoverageRuns(runs: number): number {
  return Math.max(3 * runs, MIN_COVERAGE_RUNS);
}

/**
 * Why a race campaign — the worker seed scenario (`reply`: `'reply'`) or the delayed-response race
 * (`'delayed response'`) — is not a pass even with no violation, each naming the seed: it did
 * fewer runs than `asked` (0: no number asked, a time budget), no reply came in time (the wire
 * delivers nothing: the teardown invariants held vacuously), or none was late (the race against
 * the timeout and the teardown was never run). Empty when it ran both sides of its race.
 *
 * @example
 * ```ts
 * const r = await runDelayedResponseRaceWorker(fixture, { runs: 30, coverageRuns: raceCoverageRuns(30) });
 * const failures = [...r.violations, ...raceCampaignShortfalls(r, 30, 'delayed response')];
 * ```
 */
export function raceCampaignShortfalls(
  r: RaceCampaignOutcome,
  asked: number,
  reply: string,
): string[] {
  const shortfalls: string[] = [];
  if (r.runs < asked) shortfalls.push(`ran ${r.runs} of the ${asked} runs asked (seed ${r.seed})`);
  const delivered = r.phases[SEED_WORKER_PHASES.delivered] ?? 0;
  const late = Object.entries(r.phases).filter(
    ([phase, n]) => phase !== SEED_WORKER_PHASES.delivered && n > 0,
  );
  if (r.runs > 0 && delivered === 0) {
    shortfalls.push(
      `nothing was delivered in time: no ${reply} came in time in ${r.runs} run(s) (seed ${r.seed}) — a wire that delivers nothing passes the teardown checks vacuously`,
    );
  }
  if (r.runs > 0 && late.length === 0) {
    shortfalls.push(
      `no ${reply} was late in ${r.runs} run(s) (seed ${r.seed}): the race against the timeout and the teardown was never run`,
    );
  }
  return shortfalls;
}

/** The hostile actions every wire carries to the agent, by {@link hostileActionName}. */
const REACHING_KINDS: readonly string[] =
  HOSTILE_ACTIONS.filter(hostileReplyReachesAgent).map(hostileActionName);

/**
 * Why a hostile-reply campaign is not a pass even with no violation, each naming the seed: it
 * placed no fault (every probe timed out: it tested nothing), or it placed hostile replies every
 * wire carries to the agent (a corrupted header, a truncation: they replace the real reply, and
 * every transport of this repository counts each as a bad message) and the agents counted no bad
 * message at all — the wire hid them, or counted them where the agent's diagnostics do not show
 * them. A campaign whose probed runs used only duplicate and unsolicited replies, which a wire may
 * drop unseen, need not count bad messages. Empty when it passed.
 *
 * @example
 * ```ts
 * const r = await runHostileRepliesWorker(fixture, { runs: 8 });
 * const failures = [...r.violations, ...hostileCampaignShortfalls(r)];
 * ```
 */
export function hostileCampaignShortfalls(
  r: Pick<
    HostileWorkerResult,
    'seed' | 'runs' | 'faultsPlaced' | 'badMessages' | 'byKind' | 'probeTimeouts'
  >,
): string[] {
  if (r.faultsPlaced === 0) {
    return [
      `no hostile fault was placed in ${r.runs} run(s) (seed ${r.seed}; ${r.probeTimeouts} probe(s) timed out): the campaign tested nothing`,
    ];
  }
  const reaching = REACHING_KINDS.reduce((n, kind) => n + (r.byKind[kind]?.placed ?? 0), 0);
  if (reaching > 0 && r.badMessages === 0) {
    return [
      `no bad message was counted in ${r.runs} run(s) (seed ${r.seed}), though ${reaching} hostile replies every wire carries to the agent (corrupted headers, truncations) were placed: the agent never saw them as bad messages`,
    ];
  }
  return [];
}

/**
 * Schedules from which an interleaving campaign must have raced teardown against late replies (the
 * jest case's default count). The simulator runs on the virtual clock, each schedule determined by
 * its seed: this is coverage, not timing. Over 300 to 1,500 schedules per fixture of this
 * repository, a probe timed out in 34 % or more and a late reply was counted in 13 % or more
 * (virtio, the fewest): 100 schedules all miss it with a chance under 1 in 10⁶. Fewer (a replay
 * of one schedule, a short campaign) may miss it by chance, and are not asked.
 */
export const MIN_SCHEDULES_TO_RACE = 100;

/**
 * Why an interleaving campaign (`runInterleavingSimulation`) is not a pass even with no violation,
 * each naming the seed: it ran fewer schedules than `asked` (0: no number asked, a time budget),
 * or — once it ran {@link MIN_SCHEDULES_TO_RACE} schedules or more — no schedule had its probe time
 * out (teardown never raced a late reply) or no late reply was counted (with
 * `lateReplyCoverageHint`'s reason when the wire counted its late replies itself). Empty when it
 * passed.
 *
 * @example
 * ```ts
 * const r = await runInterleavingSimulation(fixture, { seed: 7, schedules: 100 });
 * const failures = [...r.violations, ...interleavingCampaignShortfalls(r, 100)];
 * ```
 */
export function interleavingCampaignShortfalls(
  r: Pick<InterleavingResult, 'seed' | 'schedules' | 'outcomes' | 'lateRepliesCounted'> &
    Partial<Pick<InterleavingResult, 'droppedByWire'>>,
  asked: number,
): string[] {
  const shortfalls: string[] = [];
  if (r.schedules < asked)
    shortfalls.push(`ran ${r.schedules} of the ${asked} schedules asked (seed ${r.seed})`);
  if (r.schedules < MIN_SCHEDULES_TO_RACE) return shortfalls;
  // The schedules raced teardown against late replies, not only ran clean probes.
  if ((r.outcomes[INTERLEAVING_OUTCOMES.probeTimedOut] ?? 0) === 0) {
    shortfalls.push(
      `no schedule had its probe time out in ${r.schedules} schedules (seed ${r.seed}): teardown never raced a late reply`,
    );
  }
  if (r.lateRepliesCounted === 0) {
    // With the wire's own drops named, when it counted the late replies itself.
    const why = lateReplyCoverageHint({ ...r, droppedByWire: r.droppedByWire ?? 0 });
    shortfalls.push(
      `no late reply was counted in ${r.schedules} schedules (seed ${r.seed})${why === undefined ? '' : `: ${why}`}`,
    );
  }
  return shortfalls;
}
