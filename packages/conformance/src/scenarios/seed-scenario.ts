import { ScmiTimeoutError, createAgent } from '@scmi-ts/core';
import type { DevresEvent } from '@scmi-ts/devres';
import { describeError } from './describe-error.js';
import type { TransportFixture, WorkerFixtureSession } from '../fixture.js';
import { checkTeardownLog } from '../instrument.js';
import { SameThreadRig, buildContainer } from '../rig.js';
import { campaignRun, checkCampaignRun, startWorkerCampaign } from './worker-campaign.js';

/**
 * Where the seed scenario's late reply is driven, in same-thread mode:
 *
 * - `before-quiesce`: produced and delivered as teardown begins, before any quiesce step;
 * - `during-quiesce`: produced and delivered while the quiesce phase runs, before the channel's step;
 * - `draining`: produced during the quiesce phase, delivered once the channel's quiesce step has
 *   started (its guard is closing or closed, callbacks in flight draining);
 * - `after-release`: produced during the quiesce phase, delivered after the probe has failed and
 *   everything was released. A transport whose quiesce waits for the platform (OP-TEE awaits the
 *   invocation) cannot reach release first: the kit then delivers when teardown waits, and reports
 *   the phase it observed.
 */
export type SeedPhase = 'before-quiesce' | 'during-quiesce' | 'draining' | 'after-release';

/** The outcome of one seed-scenario run. */
export interface SeedRunResult {
  /** The phase the late reply actually reached. */
  readonly observedPhase: string;
  /** What the probe threw (a timeout is expected; undefined when it succeeded). */
  readonly probeError: unknown;
  /** The late reply was accounted for: delivered to a live transfer, or dropped and counted. */
  readonly accounted: number;
  /** Invariant violations: callbacks against released state, bad teardown order, leftovers. */
  readonly problems: readonly string[];
}

const isBaseVersion = (protocolId: number, messageId: number): boolean =>
  protocolId === 0x10 && messageId === 0x0;

/**
 * The seed scenario in the same thread, on the virtual clock: Base PROTOCOL_VERSION times out
 * during probe, the platform's reply arrives late — at `phase` — and the probe fails. Checks that
 * the reply was delivered to a live transfer or dropped and counted, that no callback ran against a
 * released channel, that every resource was released exactly once, newest first, and that nothing
 * was left armed.
 *
 * @example
 * ```ts
 * const r = await runSeedScenarioSameThread(fixture, 'draining');
 * expect(r.problems).toEqual([]);
 * ```
 */
export async function runSeedScenarioSameThread(
  fixture: TransportFixture,
  phase: SeedPhase,
): Promise<SeedRunResult> {
  const rig = await SameThreadRig.create(fixture, { auto: false });
  const { ends, port, clock } = rig;
  if (ends.setAgentSignalInterceptor === undefined) {
    throw new Error(
      `${fixture.name}: the fixture must provide setAgentSignalInterceptor for same-thread phases`,
    );
  }
  // Signals to the agent are held while `holding`, delivered by `deliverHeld`.
  let holding = false;
  const held: (() => void)[] = [];
  ends.setAgentSignalInterceptor((deliver) => {
    if (holding) held.push(deliver);
    else deliver();
  });
  const deliverHeld = (): void => {
    holding = false;
    for (const d of held.splice(0)) d();
  };
  let observedPhase = 'none';
  let produced = false;
  const wasProduced = (): boolean => produced;
  const produce = (hold: boolean, label: string): void => {
    if (produced) return;
    produced = true;
    holding = hold;
    port.release();
    if (!hold) observedPhase = label;
  };
  port.hold(isBaseVersion);
  let teardownBegun = false;
  rig.onEvent = (e: DevresEvent): void => {
    if (e.type === 'teardown-begin') teardownBegun = true;
    if (!teardownBegun) return;
    if (phase === 'before-quiesce' && e.type === 'teardown-begin') produce(false, 'before-quiesce');
    if (phase === 'during-quiesce' && e.type === 'quiesce' && e.resource === 'agent gate')
      produce(false, 'during-quiesce');
    if (
      (phase === 'draining' || phase === 'after-release') &&
      e.type === 'quiesce' &&
      e.resource === 'agent gate'
    ) {
      produce(true, phase);
    }
    if (phase === 'draining' && e.type === 'quiesce' && e.resource.startsWith('channel a2p')) {
      clock.schedule(() => {
        observedPhase = 'draining';
        deliverHeld();
      });
    }
  };

  const probe = rig.probe({ rxTimeoutMs: 30 });
  let probeError: unknown;
  const outcome = probe.then(
    () => undefined,
    (e: unknown) => {
      probeError = e;
    },
  );
  let settled = await rig.settle(outcome, 5_000);
  if (!settled && phase === 'after-release' && held.length > 0) {
    // Teardown is waiting for the platform (e.g. an invocation in flight): deliver now.
    observedPhase = 'draining (teardown waited for the platform)';
    deliverHeld();
    settled = await rig.settle(outcome, 5_000);
  }
  if (phase === 'after-release' && settled && held.length > 0) {
    observedPhase = 'after-release';
    deliverHeld();
  }
  await clock.runUntilIdle();

  const problems: string[] = [];
  if (!settled) problems.push('the probe never settled');
  if (!(probeError instanceof ScmiTimeoutError))
    problems.push(`expected a probe timeout, got ${describeError(probeError)}`);
  if (!wasProduced()) problems.push('the late reply was never produced');
  const i = rig.instrument;
  const accounted =
    i.lateReplies +
    i.refusedAfterQuiesce +
    i.badMessages().unexpected +
    (ends.droppedSignals?.() ?? 0) +
    port.droppedAfterDisconnect;
  if (accounted < 1) problems.push('the late reply was neither delivered nor dropped and counted');
  problems.push(...checkTeardownLog(rig.log.events));
  problems.push(...(await rig.dispose()));
  return { observedPhase, probeError, accounted, problems };
}

/** Options of {@link runSeedScenarioWorker}. */
export interface SeedWorkerOptions {
  /** Runs (default 100). */
  readonly runs?: number;
  /** Stop after this many ms even if runs remain (default: no limit). */
  readonly durationMs?: number;
  /** The agent's RX timeout in ms (default 3). */
  readonly timeoutMs?: number;
  /** Seed of the reply delays (default: from the clock); printed with any failure. */
  readonly seed?: number;
  /** A running worker session to reuse (default: one is started and stopped). */
  readonly session?: WorkerFixtureSession;
}

/** Totals of a worker-mode seed campaign. */
export interface SeedWorkerResult {
  /** The seed of the delays. */
  readonly seed: number;
  /** Runs done. */
  readonly runs: number;
  /** How many runs reached each phase. */
  readonly phases: Readonly<Record<string, number>>;
  /** Late replies dropped and counted (core's late replies plus guard refusals). */
  readonly lateRepliesDropped: number;
  /** Invariant violations, each with the run and delay that produced it. */
  readonly violations: readonly string[];
}

/**
 * The seed scenario with the platform in a worker thread, on real time: each run probes an agent
 * whose Base PROTOCOL_VERSION reply is delayed by a random amount around the (short) timeout, so
 * that the reply races the timeout and the teardown for real. One worker is reused across runs.
 * Checks the same invariants as the same-thread scenario and reports which phases were hit.
 *
 * @example
 * ```ts
 * const r = await runSeedScenarioWorker(fixture, { runs: 200 });
 * expect(r.violations).toEqual([]);
 * ```
 */
export async function runSeedScenarioWorker(
  fixture: TransportFixture,
  options: SeedWorkerOptions = {},
): Promise<SeedWorkerResult> {
  const campaign = await startWorkerCampaign(fixture, options);
  const { seed, random, deadline, session } = campaign;
  const timeoutMs = options.timeoutMs ?? 3;
  const runs = options.runs ?? 100;
  const phases: Record<string, number> = {};
  const violations: string[] = [];
  let lateRepliesDropped = 0;
  let done = 0;
  try {
    for (; done < runs && Date.now() < deadline; done++) {
      const delay = Math.max(0, timeoutMs - 2 + random() * 4);
      await session.setFaults([
        {
          match: { protocolId: 0x10, messageId: 0x0, times: 1 },
          action: { kind: 'delay', ms: delay },
        },
      ]);
      const ends = await session.open();
      const run = campaignRun();
      const { clock, instrument, log } = run;
      let teardownAt = Infinity;
      const container = buildContainer(instrument.wrap(ends.transport), clock);
      let probeError: unknown;
      try {
        const agent = await createAgent(container, {
          ...ends.agentOptions,
          transport: fixture.name,
          rxTimeoutMs: timeoutMs,
          log: (e) => {
            if (e.type === 'teardown-begin') teardownAt = Math.min(teardownAt, clock.now());
            log.sink(e);
          },
        });
        await agent.remove();
      } catch (e) {
        probeError = e;
      }
      // Give a reply still on its way the time to arrive (to a closed wire).
      await new Promise((r) => setTimeout(r, timeoutMs + 3));
      await ends.close();
      const late = instrument.lateReplies;
      const refused = instrument.refusedAfterQuiesce;
      lateRepliesDropped += late + refused;
      const rxAfterTeardown = instrument.channels.some((c) =>
        c.rxTimes.some((t) => t >= teardownAt),
      );
      const phase =
        probeError === undefined
          ? 'delivered to the live transfer'
          : refused > 0
            ? 'refused after quiesce'
            : late > 0
              ? rxAfterTeardown
                ? 'dropped during teardown'
                : 'dropped before teardown'
              : 'arrived after release';
      phases[phase] = (phases[phase] ?? 0) + 1;
      const where = `run ${done} (seed ${seed}, delay ${delay.toFixed(2)} ms)`;
      if (probeError !== undefined && !(probeError instanceof ScmiTimeoutError)) {
        violations.push(`${where}: probe failed with ${describeError(probeError)}`);
      }
      checkCampaignRun(run, where, violations);
    }
  } finally {
    await campaign.stop();
  }
  return { seed, runs: done, phases, lateRepliesDropped, violations };
}
