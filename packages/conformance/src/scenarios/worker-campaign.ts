import { RealClock, mulberry32 } from '@scmi-ts/core';
import { DevresEventLog } from '@scmi-ts/devres';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import type { TransportFixture, WorkerFixtureSession } from '../fixture.js';
import { CountingClock, TransportInstrument, checkTeardownLog } from '../instrument.js';
import { AGENT_ID } from '../rig.js';

/** What a worker-mode campaign is given: where to start and how long to run. */
export interface WorkerCampaignOptions {
  /** Seed of the campaign's random choices (default: from the clock). */
  readonly seed?: number;
  /** Stop after this many ms (default: no limit). */
  readonly durationMs?: number;
  /** A running worker session to reuse (default: one is started, and stopped by `stop`). */
  readonly session?: WorkerFixtureSession;
}

/** A running worker-mode campaign: its seed, random source, worker session and time bound. */
export interface WorkerCampaign {
  /** The seed that reproduces the campaign's random choices. */
  readonly seed: number;
  /** Uniform in [0, 1), from `seed`. */
  readonly random: () => number;
  /** `Date.now()` bound past which no run starts (Infinity without `durationMs`). */
  readonly deadline: number;
  /** The worker session the runs open their wires on. */
  readonly session: WorkerFixtureSession;
  /** Stops the worker if the campaign started it (a session passed in is left running). */
  stop(): Promise<void>;
}

/** One run's instruments: a timer-counting real clock, the wrapped transport's record, the devres log. */
export interface CampaignRun {
  /** The real clock, counting armed timers. */
  readonly clock: CountingClock;
  /** Wraps the fixture's transport and records every callback. */
  readonly instrument: TransportInstrument;
  /** The agent's devres events. */
  readonly log: DevresEventLog;
}

/**
 * Starts a worker-mode campaign: the seed and its random source, the time bound, and the worker
 * session (reused when given). @internal
 */
export async function startWorkerCampaign(
  fixture: TransportFixture,
  options: WorkerCampaignOptions,
): Promise<WorkerCampaign> {
  if (fixture.worker === undefined) throw new Error(`${fixture.name}: no worker mode`);
  const seed = options.seed ?? Date.now() & 0x7fffffff;
  const given = options.session;
  const session =
    given ??
    (await fixture.worker({
      platformConfig: createDefaultPlatformConfig(),
      agentId: AGENT_ID,
      seed,
    }));
  return {
    seed,
    random: mulberry32(seed),
    deadline: options.durationMs === undefined ? Infinity : Date.now() + options.durationMs,
    session,
    stop: () => (given === undefined ? session.stop() : Promise.resolve()),
  };
}

/** Fresh instruments for one run of a campaign. @internal */
export function campaignRun(): CampaignRun {
  const clock = new CountingClock(new RealClock());
  return { clock, instrument: new TransportInstrument(clock), log: new DevresEventLog(10_000) };
}

/**
 * Adds the invariants every run checks to `violations`, each prefixed with `where`: no callback
 * against released state (the instrument), quiesce-then-release teardown order (the devres log),
 * no timer left armed. @internal
 */
export function checkCampaignRun(run: CampaignRun, where: string, violations: string[]): void {
  for (const v of run.instrument.violations) violations.push(`${where}: ${v}`);
  for (const p of checkTeardownLog(run.log.events)) violations.push(`${where}: ${p}`);
  if (run.clock.armedTimers !== 0)
    violations.push(`${where}: ${run.clock.armedTimers} timer(s) left armed`);
}
