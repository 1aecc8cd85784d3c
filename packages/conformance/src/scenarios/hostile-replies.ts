import { ScmiError, ScmiTimeoutError, createAgent } from '@scmi-ts/core';
import type { FaultAction } from '@scmi-ts/platform';
import { describeError } from './describe-error.js';
import type { TransportFixture, WorkerFixtureSession } from '../fixture.js';
import { buildContainer } from '../rig.js';
import { campaignRun, checkCampaignRun, startWorkerCampaign } from './worker-campaign.js';

/** The hostile replies every transport must survive, as platform fault actions. */
export const HOSTILE_ACTIONS: readonly FaultAction[] = [
  { kind: 'corrupt-token' },
  { kind: 'corrupt-type' },
  { kind: 'corrupt-protocol' },
  { kind: 'truncate', length: 2 },
  { kind: 'truncate', length: 6 },
  { kind: 'duplicate' },
  { kind: 'unsolicited' },
];

/** Options of {@link runHostileRepliesWorker}. */
export interface HostileWorkerOptions {
  /** Agent runs (default 20); each sends `transfersPerRun` commands. */
  readonly runs?: number;
  /** Commands per run (default 20). */
  readonly transfersPerRun?: number;
  /** Stop after this many ms (default: no limit). */
  readonly durationMs?: number;
  /** Seed of the fault choice (default: from the clock). */
  readonly seed?: number;
  /** The agent's RX timeout in ms (default 20). */
  readonly timeoutMs?: number;
  /** A running worker session to reuse. */
  readonly session?: WorkerFixtureSession;
}

/** Totals of a hostile-reply campaign. */
export interface HostileWorkerResult {
  /** The seed. */
  readonly seed: number;
  /** Runs done. */
  readonly runs: number;
  /** Commands sent. */
  readonly transfers: number;
  /** Bad messages counted by the agents, all reasons. */
  readonly badMessages: number;
  /** Commands that failed (timeouts, status errors) — expected under faults. */
  readonly failedTransfers: number;
  /** Probes that timed out (a loaded machine; the teardown invariants are still checked). */
  readonly probeTimeouts: number;
  /** Invariant violations (a crash, a non-SCMI error, a callback against released state…). */
  readonly violations: readonly string[];
}

/**
 * Hostile replies with the platform in a worker: each run picks a hostile fault (corrupt token,
 * type or protocol, truncation, duplicate, unsolicited reply) applied to half of the commands at
 * random, probes an agent, sends commands, checks it still works, and removes it. Every failure
 * must be a typed SCMI error; nothing may crash or touch released state.
 *
 * @example
 * ```ts
 * const r = await runHostileRepliesWorker(fixture, { runs: 10 });
 * expect(r.violations).toEqual([]);
 * ```
 */
export async function runHostileRepliesWorker(
  fixture: TransportFixture,
  options: HostileWorkerOptions = {},
): Promise<HostileWorkerResult> {
  const campaign = await startWorkerCampaign(fixture, options);
  const { seed, random, deadline, session } = campaign;
  const runs = options.runs ?? 20;
  const perRun = options.transfersPerRun ?? 20;
  const timeoutMs = options.timeoutMs ?? 20;
  const violations: string[] = [];
  let transfers = 0;
  let failedTransfers = 0;
  let badMessages = 0;
  let probeTimeouts = 0;
  let done = 0;
  try {
    for (; done < runs && Date.now() < deadline; done++) {
      const action = HOSTILE_ACTIONS[Math.floor(random() * HOSTILE_ACTIONS.length)] as FaultAction;
      const where = `run ${done} (seed ${seed}, ${action.kind})`;
      await session.setFaults([]);
      const ends = await session.open();
      const run = campaignRun();
      const { clock, instrument, log } = run;
      const container = buildContainer(instrument.wrap(ends.transport), clock);
      try {
        const agent = await createAgent(container, {
          ...ends.agentOptions,
          transport: fixture.name,
          rxTimeoutMs: timeoutMs,
          log: log.sink,
        });
        await session.setFaults([{ match: { protocolId: 0x14, probability: 0.5 }, action }]);
        for (let i = 0; i < perRun; i++) {
          transfers++;
          try {
            await agent.transact(0x14, 0x0);
          } catch (e) {
            failedTransfers++;
            if (!ScmiError.is(e))
              violations.push(
                `${where}: a transfer failed with a non-SCMI error: ${describeError(e)}`,
              );
          }
        }
        await session.setFaults([]);
        // The agent still works once the platform behaves (a timeout on a loaded machine is timing,
        // not a broken agent: retry it a few times).
        let works: unknown;
        for (let attempt = 0; attempt < 3; attempt++) {
          try {
            await agent.transact(0x14, 0x0);
            works = undefined;
            break;
          } catch (e) {
            works = e;
            if (!ScmiTimeoutError.is(e)) break;
          }
        }
        if (works !== undefined) {
          violations.push(
            `${where}: the agent no longer works after the faults: ${describeError(works)}`,
          );
        }
        await agent.remove();
      } catch (e) {
        // A probe that times out on a loaded machine is timing, not an invariant violation: the
        // invariants below (teardown order, no callback after release) are still checked.
        if (ScmiTimeoutError.is(e)) probeTimeouts++;
        else violations.push(`${where}: probe or remove failed: ${describeError(e)}`);
      }
      await new Promise((r) => setTimeout(r, timeoutMs + 3));
      await ends.close();
      badMessages += Object.values(instrument.badMessages()).reduce((a, b) => a + b, 0);
      checkCampaignRun(run, where, violations);
    }
  } finally {
    await campaign.stop();
  }
  return { seed, runs: done, transfers, badMessages, failedTransfers, probeTimeouts, violations };
}
