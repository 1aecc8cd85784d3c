import { ScmiError, ScmiTimeoutError, createAgent } from '@scmi-ts/core';
import type { FaultAction, FaultRule } from '@scmi-ts/platform';
import { describeError } from './describe-error.js';
import type { TransportFixture, WorkerFixtureSession } from '../fixture.js';
import { reproduceHint } from './seed-scenario.js';
import {
  openCampaignRun,
  startWorkerCampaign,
  teardownReturned,
  type WorkerCampaignOptions,
} from './worker-campaign.js';

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

/**
 * A hostile action's name in reports: its kind, and a truncation's length.
 *
 * @example
 * ```ts
 * hostileActionName({ kind: 'truncate', length: 6 }); // 'truncate 6'
 * ```
 */
export function hostileActionName(action: FaultAction): string {
  return `${action.kind}${'length' in action ? ` ${action.length}` : ''}`;
}

/**
 * Whether every wire must carry a hostile reply of this kind to the agent, so that the agent must
 * count it. A corrupted or truncated response *replaces* the real one: the wire carries it, and
 * the agent counts it (a bad message, or a failed transfer). A duplicate or an unsolicited reply
 * comes *in addition*, for no pending command: a wire whose medium holds one response per command
 * (an SMT area, a virtio buffer, an OP-TEE invocation) drops it on the platform side, and only the
 * wire can count it (`FixtureEnds.strayRepliesDropped`).
 *
 * @example
 * ```ts
 * hostileReplyReachesAgent({ kind: 'corrupt-token' }); // true
 * hostileReplyReachesAgent({ kind: 'duplicate' }); // false: the wire may drop it
 * ```
 */
export function hostileReplyReachesAgent(action: FaultAction): boolean {
  return action.kind !== 'duplicate' && action.kind !== 'unsolicited';
}

/** Options of {@link runHostileRepliesWorker}. */
export interface HostileWorkerOptions extends WorkerCampaignOptions {
  /** Agent runs (default 20); each sends `transfersPerRun` commands. */
  readonly runs?: number;
  /** Commands per run (default 20). */
  readonly transfersPerRun?: number;
  /** Stop after this many ms (default: no limit). */
  readonly durationMs?: number;
  /** Seed of the fault kinds and placement (default: from the clock). */
  readonly seed?: number;
  /** The agent's RX timeout in ms (default 20). */
  readonly timeoutMs?: number;
  /** A running worker session to reuse. */
  readonly session?: WorkerFixtureSession;
}

/** Per hostile action, what a campaign did and saw. */
export interface HostileKindTotals {
  /** Runs that used it (and probed). */
  readonly runs: number;
  /** Commands the fault was placed on. */
  readonly placed: number;
  /** What the agent and the wire counted: bad messages, late replies, refusals, failed transfers, wire drops. */
  readonly counted: number;
}

/** Totals of a hostile-reply campaign. */
export interface HostileWorkerResult {
  /** The seed. */
  readonly seed: number;
  /** Runs done. */
  readonly runs: number;
  /** Commands sent. */
  readonly transfers: number;
  /** Commands a hostile fault was placed on (in runs whose probe succeeded). */
  readonly faultsPlaced: number;
  /** Bad messages counted by the agents, all reasons. */
  readonly badMessages: number;
  /** Hostile replies counted by the agents or the wires (see {@link HostileKindTotals.counted}). */
  readonly counted: number;
  /** Per hostile action (by {@link hostileActionName}). */
  readonly byKind: Readonly<Record<string, HostileKindTotals>>;
  /** Commands that failed (timeouts, status errors) — expected under faults. */
  readonly failedTransfers: number;
  /** Probes that timed out (a loaded machine; the teardown invariants are still checked). */
  readonly probeTimeouts: number;
  /**
   * Invariant violations (a crash, a non-SCMI error, a callback against released state, what the
   * transport recorded against itself (`FixtureEnds.transportViolations`), hostile replies every
   * wire carries placed but none counted…).
   */
  readonly violations: readonly string[];
  /** How to run the same campaign again (the same fault kinds and placement; not the timing). */
  readonly reproduce: string;
}

/** Runs after which a campaign whose every probe timed out is a violation (nothing was tested). */
const MIN_RUNS_TO_PROBE = 4;
/** How long each liveness attempt after the faults waits for its response, ms. */
const LIVENESS_TIMEOUT_MS = 1000;

/**
 * Hostile replies with the platform in a worker: run `i` uses hostile fault
 * `HOSTILE_ACTIONS[(k + i) % n]` (`k` drawn from the seed, so that any `n` runs use every kind),
 * placed on each command with probability 1/2 (at least one), probes an agent, sends the
 * commands, checks it still works, and removes it. The placement is drawn from the campaign's seed
 * and set as `nth` rules, not left to the platform's own generator, so that a seed gives the same
 * faults on the same commands whatever worker session runs them. Every failure must be a typed
 * SCMI error; nothing may crash or touch released state; the transport must record nothing against
 * itself (`FixtureEnds.transportViolations`, read once each run's wire is closed). Each hostile
 * reply that fired — on a session that reports the worker's fault counts
 * ({@link WorkerFixtureSession.faultCounts}) — must be counted once, by the agent, the wire or
 * the platform side: at least once for a kind every wire carries ({@link hostileReplyReachesAgent})
 * or on a fixture that reports what its platform side drops (`strayRepliesDropped`), and never
 * more than once plus the ordinary replies counted late (a loaded machine's timeouts; failed
 * transfers left out of that bound: a send that waited out a busy channel fails too). Without the
 * counts, a run of a kind every wire carries must have counted something, and none more than its
 * placed faults plus those late replies. What the campaign as a whole must show besides (faults
 * placed, bad messages
 * counted) is `hostileCampaignShortfalls`.
 *
 * @example
 * ```ts
 * const r = await runHostileRepliesWorker(fixture, { runs: 10 });
 * expect([...r.violations, ...hostileCampaignShortfalls(r)]).toEqual([]);
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
  const byKind: Record<string, { runs: number; placed: number; counted: number }> = {};
  const first = Math.floor(random() * HOSTILE_ACTIONS.length);
  let transfers = 0;
  let failedTransfers = 0;
  let badMessages = 0;
  let counted = 0;
  let faultsPlaced = 0;
  let probeTimeouts = 0;
  let done = 0;
  try {
    for (; done < runs && Date.now() < deadline; done++) {
      const action = HOSTILE_ACTIONS[(first + done) % HOSTILE_ACTIONS.length] as FaultAction;
      const name = hostileActionName(action);
      // Drawn before anything runs, so that the seed alone decides them.
      const placed: number[] = [];
      for (let i = 1; i <= perRun; i++) if (random() < 0.5) placed.push(i);
      if (placed.length === 0) placed.push(1 + Math.floor(random() * perRun));
      const rules: FaultRule[] = placed.map((nth) => ({
        match: { protocolId: 0x14, messageId: 0x0, nth },
        action,
      }));
      const where = `run ${done} (seed ${seed}, ${name} on commands ${placed.join(',')})`;
      await session.setFaults([]);
      // Counted across the run (no rule fires before its own are set, after the probe).
      const firedBefore = await session.faultCounts?.();
      const run = await openCampaignRun(fixture, session);
      const { ends, instrument, container } = run;
      let probed = false as boolean; // set inside `lifetime`
      let livenessTimeouts = 0; // counted inside `lifetime`
      const lifetime = (async (): Promise<void> => {
        try {
          const agent = await createAgent(container, run.agentOptions({ rxTimeoutMs: timeoutMs }));
          probed = true;
          await session.setFaults(rules);
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
          // The agent still works once the platform behaves: liveness, not timing — each attempt
          // waits a generous LIVENESS_TIMEOUT_MS (a loaded machine's scheduling is not a broken
          // agent), and a timeout is retried a few times. The reply of an attempt that timed out
          // still comes, counted somewhere: allowed for below.
          let works: unknown;
          for (let attempt = 0; attempt < 3; attempt++) {
            try {
              await agent.transact(0x14, 0x0, undefined, { timeoutMs: LIVENESS_TIMEOUT_MS });
              works = undefined;
              break;
            } catch (e) {
              works = e;
              if (!ScmiTimeoutError.is(e)) break;
              livenessTimeouts++;
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
          if (ScmiTimeoutError.is(e) && !probed) probeTimeouts++;
          else violations.push(`${where}: probe or remove failed: ${describeError(e)}`);
        }
      })();
      if (
        !(await campaign.boundRun(
          lifetime,
          ends,
          'the probe, the commands or the removal',
          where,
          violations,
        ))
      )
        break;
      teardownReturned(run);
      await new Promise((r) => setTimeout(r, timeoutMs + 3));
      await ends.close();
      // Read once the wire is closed: closing it disconnects the agent, and a duplicate or an
      // unsolicited reply the platform still held then is cancelled unsent, and counted there; one
      // it sent just before is dropped by the wire's platform side then (read before the close,
      // it was counted nowhere).
      const stray = (await ends.strayRepliesDropped?.()) ?? 0;
      const cancelled = (await ends.repliesCancelled?.()) ?? 0;
      const firedAfter = firedBefore === undefined ? undefined : await session.faultCounts?.();
      const bad = Object.values(instrument.badMessages()).reduce((a, b) => a + b, 0);
      const seen =
        bad +
        instrument.lateReplies +
        instrument.refusedAfterQuiesce +
        instrument.failed +
        (ends.droppedSignals?.() ?? 0) +
        stray +
        cancelled;
      badMessages += bad;
      if (probed) {
        const totals = (byKind[name] ??= { runs: 0, placed: 0, counted: 0 });
        totals.runs++;
        totals.placed += placed.length;
        totals.counted += seen;
        faultsPlaced += placed.length;
        counted += seen;
        // Each hostile reply that fired counted once, where it was first seen — one the wire must
        // carry, or any when the fixture reports what its platform side drops (a duplicate, an
        // unsolicited reply); otherwise a duplicate or unsolicited reply may be dropped unseen.
        // Without the worker's fault counts, at least one for a kind every wire carries. An
        // ordinary reply that came after its timeout on a loaded machine is counted late too: at
        // most that many more — and so is the reply of a liveness attempt that timed out, counted
        // late, refused after quiesce or dropped by the wire, depending on when it came.
        const exact = hostileReplyReachesAgent(action) || ends.strayRepliesDropped !== undefined;
        const fired =
          firedBefore === undefined || firedAfter === undefined
            ? undefined
            : (firedAfter[action.kind] ?? 0) - (firedBefore[action.kind] ?? 0);
        const late = instrument.lateReplies;
        const tooFew =
          fired === undefined
            ? seen === 0 && hostileReplyReachesAgent(action)
            : exact && seen < fired;
        // Failed transfers are left out of the upper bound: a send that waited out a channel
        // still held by a timed-out command (SMT's CHANNEL_FREE, OP-TEE's busy channel) fails too.
        const tooMany =
          seen - instrument.failed > (fired ?? placed.length) + late + livenessTimeouts;
        if (tooFew || tooMany) {
          const signals = ends.droppedSignals?.() ?? 0;
          violations.push(
            `${where}: ${fired === undefined ? `${placed.length} ${name} fault(s) placed` : `${fired} ${name} fault(s) fired`} on commands the platform answered, counted ${seen} time(s) in all, ${tooFew ? 'too few' : 'too many'} (bad messages ${bad}, late ${late}, refused after quiesce ${instrument.refusedAfterQuiesce}, failed ${instrument.failed}, dropped by the wire ${signals}, stray ${stray}, cancelled ${cancelled})`,
          );
        }
      }
      // With the instrument's: what the transport recorded against itself on this wire (a
      // callback after free…) — a hostile reply may break the transport where the kit's
      // instrument cannot see it.
      campaign.checkRun(run, where, violations);
    }
  } finally {
    await campaign.stop(violations);
  }
  if (done >= MIN_RUNS_TO_PROBE && probeTimeouts === done) {
    // No probe ever completed: no fault was placed, the campaign tested nothing, and a wire that
    // delivers no reply would pass it. (One or two runs may all time out on a loaded machine.)
    violations.push(
      `every one of ${done} probes timed out (seed ${seed}): no hostile reply was placed; the wire delivers no reply in time`,
    );
  }
  return {
    seed,
    runs: done,
    transfers,
    faultsPlaced,
    badMessages,
    counted,
    byKind,
    failedTransfers,
    probeTimeouts,
    violations,
    reproduce: reproduceHint(fixture, seed, `--runs 0 --hostile-runs ${done}`),
  };
}
