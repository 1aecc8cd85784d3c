import { ScmiTimeoutError, createAgent } from '@scmi-ts/core';
import type { TransportFixture } from '../fixture.js';
import { u32s } from '../words.js';
import { describeError } from './describe-error.js';
import { CLOCK } from './clock-rate-events.js';
import { reproduceHint, seedWorkerPhase, SEED_WORKER_PHASES } from './seed-scenario.js';
import {
  openCampaignRun,
  checkPolled,
  checkLateReplyAccounting,
  MIN_RUNS_TO_DELIVER,
  raceCovered,
  readLateReplyTrace,
  sleep,
  startWorkerCampaign,
  teardownReturned,
  TeardownAim,
  type AimedRelease,
  type WorkerCampaignOptions,
} from './worker-campaign.js';

const CLOCK_RATE_SET = 0x5;
const MHZ = 1_000_000;
/** The platform's default `asyncLatencyMs`: the delayed response leaves that long after the command. */
const PLATFORM_ASYNC_LATENCY_MS = 1;

/** Options of {@link runDelayedResponseRaceWorker}. */
export interface DelayedResponseRaceOptions extends WorkerCampaignOptions {
  /** Runs (default 40). */
  readonly runs?: number;
  /**
   * Further runs allowed, at most, until both a delayed response in time and a late one were seen
   * (default 0): the race is real time, and this bounds the campaign instead of leaving a case to
   * luck.
   */
  readonly coverageRuns?: number;
  /** The agent's delayed-response timeout, ms (default 3). */
  readonly asyncTimeoutMs?: number;
  /**
   * Aim every other run's delayed response at the agent's teardown (default true), on a session
   * that can release held messages: the platform holds it (a `hold` fault on the delayed-response
   * stage), the rate set times out waiting for it, the agent is removed, and the kit releases it
   * at a teardown event it draws — as the worker seed campaign does
   * ({@link SeedWorkerOptions.aimAtTeardown}).
   */
  readonly aimAtTeardown?: boolean;
  /**
   * The command's response completes by polling on the fixture's A2P channels (or channel 0),
   * default false; its delayed response still comes on the P2A channel, by its receive path. So
   * Linux runs such a command too: `do_xfer_with_response` warns once (`WARN_ON_ONCE` on
   * `poll_completion`), polls for the response in `do_xfer`, then sleeps on `async_done`, which the
   * P2A channel's receive path completes.
   */
  readonly polling?: boolean;
}

/** Totals of a {@link runDelayedResponseRaceWorker} campaign. */
export interface DelayedResponseRaceResult {
  /** The seed of the delays. */
  readonly seed: number;
  /** Runs done. */
  readonly runs: number;
  /** How many runs reached each phase (the labels of `SEED_WORKER_PHASES`). */
  readonly phases: Readonly<Record<string, number>>;
  /** Runs whose delayed response was held and released at an event of the agent's teardown. */
  readonly aimedRuns: number;
  /** Invariant violations, each with the run and delay that produced it. */
  readonly violations: readonly string[];
  /** How to draw the same delays again (the thread interleaving is not reproduced). */
  readonly reproduce: string;
}

/**
 * The seed scenario's P2A side, with the platform in a worker thread on real time: each run sends
 * an asynchronous CLOCK_RATE_SET whose delayed response the platform sends after a random delay
 * around the agent's (short) delayed-response timeout, then removes the agent at once — so a late
 * delayed response races the timeout and the teardown of the P2A channel it comes back on, for
 * real. Checks what the seed campaign checks: no callback against released state, every resource
 * released once, newest first, no timer left armed, the transport's own invariants, and a delayed
 * response that reached the agent either completed its transfer or was counted once (a late
 * reply, a refusal after quiesce); one with no trace at all is a violation when the fixture
 * reports what the platform cancels; and, as in the seed campaign, a campaign of 10 runs or more in
 * which no delayed response came in time is a violation (the wire does not deliver them). The run's
 * phase uses the seed campaign's labels (`SEED_WORKER_PHASES`); what the campaign must show besides
 * (a delayed response in time and one late) is `raceCampaignShortfalls`.
 *
 * @example
 * ```ts
 * const r = await runDelayedResponseRaceWorker(fixture, { runs: 40, coverageRuns: 120 });
 * expect(r.violations).toEqual([]);
 * ```
 */
export async function runDelayedResponseRaceWorker(
  fixture: TransportFixture,
  options: DelayedResponseRaceOptions = {},
): Promise<DelayedResponseRaceResult> {
  if (!fixture.capabilities.p2a) throw new Error(`${fixture.name}: no P2A channel`);
  const campaign = await startWorkerCampaign(fixture, options);
  const { seed, random, deadline, session } = campaign;
  const timeoutMs = options.asyncTimeoutMs ?? 3;
  const runs = options.runs ?? 40;
  const maxRuns = runs + (options.coverageRuns ?? 0);
  const phases: Record<string, number> = {};
  const violations: string[] = [];
  const covered = (): boolean => raceCovered(phases, SEED_WORKER_PHASES.delivered);
  const aim = new TeardownAim(session, options.aimAtTeardown ?? true);
  let done = 0;
  try {
    for (; (done < runs || (done < maxRuns && !covered())) && Date.now() < deadline; done++) {
      // The delayed response leaves the platform at latency + delay: from 2 ms before the
      // timeout to 2 ms after it. One draw per run whichever kind it is.
      const drawn = random();
      const aimed = aim.aims(done);
      const delay = aimed ? 0 : Math.max(0, timeoutMs - PLATFORM_ASYNC_LATENCY_MS - 2 + drawn * 4);
      await session.setFaults([
        {
          match: {
            stage: 'delayed-response',
            protocolId: CLOCK,
            messageId: CLOCK_RATE_SET,
            times: 1,
          },
          action: aimed ? TeardownAim.holdAction : { kind: 'delay', ms: delay },
        },
      ]);
      const run = await openCampaignRun(fixture, session, options.polling === true);
      const { ends, instrument, container } = run;
      let failure: unknown;
      let removeError: unknown;
      let probed = false as boolean; // set inside `lifetime`
      const startedAt = Date.now();
      const polled = options.polling === true ? ' (polling)' : '';
      let where = `run ${done}${polled} (seed ${seed}, delay ${delay.toFixed(2)} ms)`;
      let release: AimedRelease | undefined;
      if (aimed) {
        release = aim.arm(run, drawn, () => where, violations);
        where = `run ${done}${polled} (seed ${seed}, delayed response held until teardown event ${release.atEvent} of ${release.of})`;
      }
      const lifetime = (async (): Promise<void> => {
        try {
          const agent = await createAgent(
            container,
            // The response itself comes at once; only the delayed response races.
            run.agentOptions({ rxTimeoutMs: 5_000, asyncTimeoutMs: timeoutMs }),
          );
          probed = true;
          const hz = (done % 2 === 0 ? 600 : 800) * MHZ;
          try {
            await agent.transact(CLOCK, CLOCK_RATE_SET, u32s(1, 0, hz, 0), { async: true });
          } catch (e) {
            failure = e;
          }
          await agent.remove().catch((e: unknown) => {
            removeError = e;
          });
        } catch (e) {
          failure = e; // the probe
        }
      })();
      if (
        !(await campaign.boundRun(
          lifetime,
          ends,
          'the probe, the rate set or the removal',
          where,
          violations,
        ))
      ) {
        release?.disarm();
        break;
      }
      teardownReturned(run);
      await release?.teardownReturned();
      if (!probed) {
        violations.push(`${where}: probe failed with ${describeError(failure)}`);
        await ends.close();
        campaign.checkRun(run, where, violations);
        continue;
      }
      if (removeError !== undefined) {
        violations.push(`${where}: remove failed with ${describeError(removeError)}`);
      }
      // Past the moment the platform sends the delayed response, then close the wire.
      await sleep(
        Math.max(timeoutMs + 3, startedAt + PLATFORM_ASYNC_LATENCY_MS + delay + 3 - Date.now()),
      );
      await ends.close();
      const trace = await readLateReplyTrace(ends, instrument, run.teardownAt);
      const { late, refused, unexpected } = trace;
      const phase = seedWorkerPhase({
        delivered: failure === undefined,
        refused,
        droppedByCore: late + unexpected,
        rxAfterTeardown: trace.rxAfterTeardown,
        droppedByWire: trace.wire,
        cancelled: trace.cancelled,
      });
      phases[phase] = (phases[phase] ?? 0) + 1;
      const timedOut = failure instanceof ScmiTimeoutError && failure.phase === 'delayed-response';
      if (failure !== undefined && !timedOut) {
        violations.push(`${where}: the rate set failed with ${describeError(failure)}`);
      }
      checkLateReplyAccounting(
        where,
        'the late delayed response',
        trace,
        phase === SEED_WORKER_PHASES.neverArrived,
        ends,
        violations,
      );
      // Only a drop on a P2A channel can be the delayed response's. One on A2P is the command's
      // response: when the delayed response overtook it (both signals waiting on a busy agent
      // thread, the P2A one handled first), core completes the transfer with the delayed
      // response (Linux takes the response as successful then), the agent is removed at once,
      // and the response's own signal comes after the quiesce — refused and counted, as it must.
      const p2aDrops = instrument.channels
        .filter((c) => c.label.startsWith('p2a:'))
        .reduce(
          (n, c) =>
            n +
            c.counters.lateReplies +
            c.counters.refusedAfterQuiesce +
            c.counters.badMessages.unexpected,
          0,
        );
      if (failure === undefined && p2aDrops > 0) {
        violations.push(
          `${where}: the delayed response completed its transfer and was counted as dropped too (late ${late}, refused ${refused}, unexpected ${unexpected}; ${p2aDrops} on P2A)`,
        );
      }
      if (options.polling === true) checkPolled(run, where, violations);
      campaign.checkRun(run, where, violations);
    }
  } finally {
    await campaign.stop(violations);
  }
  if (done >= MIN_RUNS_TO_DELIVER && phases[SEED_WORKER_PHASES.delivered] === undefined) {
    // About half the delays send the delayed response before the timeout: a wire on which none
    // ever came in time does not deliver them (its teardown invariants held vacuously).
    violations.push(
      `no delayed response came in time in ${done} runs (seed ${seed}; about half the delays send it before the ${timeoutMs} ms timeout): the wire does not deliver delayed responses`,
    );
  }
  return {
    seed,
    runs: done,
    phases,
    aimedRuns: aim.runs,
    violations,
    reproduce: reproduceHint(
      fixture,
      seed,
      `--runs 0 --delayed-runs ${done} --hostile-runs 0 --interleavings 0${options.polling === true ? ' --polling' : ''}`,
    ),
  };
}
