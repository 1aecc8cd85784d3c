import { ScmiTimeoutError, createAgent } from '@scmi-ts/core';
import type { DevresEvent } from '@scmi-ts/devres';
import { describeError } from './describe-error.js';
import type { TransportFixture, WorkerFixtureSession } from '../fixture.js';
import { SameThreadRig } from '../rig.js';
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

/**
 * Where the seed scenario's late reply is driven, in same-thread mode:
 *
 * - `before-quiesce`: produced and delivered as teardown begins, before any quiesce step;
 * - `during-quiesce`: produced and delivered while the quiesce phase runs, before the step of the
 *   channel the reply comes back on;
 * - `draining`: produced during the quiesce phase, delivered once that channel's quiesce step has
 *   started (its guard is closing or closed, callbacks in flight draining), before any release;
 * - `after-release`: produced during the quiesce phase, delivered after the probe has failed and
 *   everything was released. A transport whose quiesce waits for the platform (OP-TEE awaits the
 *   invocation) cannot reach release first: the kit then delivers while teardown waits, observes
 *   `draining`, and says so in {@link SeedRunResult.teardownWaitedForPlatform}.
 */
export type SeedPhase = 'before-quiesce' | 'during-quiesce' | 'draining' | 'after-release';

/**
 * Where the late reply actually was when its signal reached the agent: a {@link SeedPhase}, or
 * `before teardown`, `during release` (a release step had run, teardown not finished), or
 * `not delivered` (no signal of the reply reached the agent: the fixture did not route it through
 * its signal interceptor, or the link was closed).
 */
export type ObservedSeedPhase = SeedPhase | 'before teardown' | 'during release' | 'not delivered';

/** The outcome of one seed-scenario run. */
export interface SeedRunResult {
  /** The phase the run asked for. */
  readonly requestedPhase: SeedPhase;
  /**
   * The phase the late reply actually reached, read when its signal was delivered to the agent
   * (from the devres events so far and the state of the channel the reply comes back on).
   */
  readonly observedPhase: ObservedSeedPhase;
  /**
   * `after-release` only: teardown could not finish while the reply was held (the transport's
   * quiesce waits for the platform), so the reply was delivered while teardown waited.
   */
  readonly teardownWaitedForPlatform: boolean;
  /**
   * `before-quiesce` and `during-quiesce` only: the wire did not signal the agent as the kit sent
   * the reply, but from a task of its own (OP-TEE's return doorbell), and teardown runs from its
   * first step to the channel's quiesce without waiting, so no task runs in between: the reply
   * reaches the agent once the channel's quiesce waits for it, `draining`. For such a transport
   * the earlier phases do not exist.
   */
  readonly signalDeferred: boolean;
  /** What the probe threw (a timeout is expected; undefined when it succeeded). */
  readonly probeError: unknown;
  /**
   * How many times the late reply was dropped and counted, in all: core's late replies, guard
   * refusals, unexpected replies, the wire's drops (`FixtureEnds.droppedSignals`) and the platform
   * side's (sent to an agent already disconnected) — read once the wire is closed, so that a wire
   * that counts it again as it closes is seen. Anything but 1 is in `problems`.
   */
  readonly accounted: number;
  /** Callbacks the channels' RX guards refused after quiesce (the late reply, in `draining`). */
  readonly refusedAfterQuiesce: number;
  /**
   * Invariant violations: callbacks against released state, bad teardown order, leftovers, a late
   * reply that did not reach the phase asked for, and one not counted exactly once in all
   * (`accounted`) — the checks the jest case makes, so that `pnpm stress` makes them too.
   */
  readonly problems: readonly string[];
  /**
   * What the run's instrument and its transport (`FixtureEnds.transportViolations`) recorded after
   * `problems` was made — a callback the wire let happen later still, on a timer of its own —
   * each entry returned once: a campaign of runs reads it again later (`pnpm stress`).
   */
  readonly unreported: () => readonly string[];
}

/**
 * The phase a run asking for `requested` must observe: `requested` itself, except in the two
 * cases a transport makes it unreachable, which the run detects and reports
 * ({@link SeedRunResult.teardownWaitedForPlatform}, {@link SeedRunResult.signalDeferred}): both
 * leave the reply to the channel's quiesce step, `draining`.
 *
 * @example
 * ```ts
 * const r = await runSeedScenarioSameThread(fixture, 'during-quiesce');
 * expect(r.observedPhase).toBe(expectedSeedPhase('during-quiesce', r));
 * ```
 */
export function expectedSeedPhase(
  requested: SeedPhase,
  how: Pick<SeedRunResult, 'teardownWaitedForPlatform' | 'signalDeferred'>,
): SeedPhase {
  if (requested === 'after-release' && how.teardownWaitedForPlatform) return 'draining';
  if ((requested === 'before-quiesce' || requested === 'during-quiesce') && how.signalDeferred)
    return 'draining';
  return requested;
}

const isBaseVersion = (protocolId: number, messageId: number): boolean =>
  protocolId === 0x10 && messageId === 0x0;

/**
 * The seed scenario in the same thread, on the virtual clock: Base PROTOCOL_VERSION times out
 * during probe, the platform's reply arrives late — at `phase` — and the probe fails. Checks that
 * the reply reached the phase asked for, that it was dropped and counted exactly once in all
 * (read once the wire is closed), that no callback ran against a released channel, that every
 * resource was released exactly once, newest first, and that nothing was left armed.
 *
 * @example
 * ```ts
 * const r = await runSeedScenarioSameThread(fixture, 'draining');
 * expect(r.observedPhase).toBe('draining');
 * expect(r.problems).toEqual([]);
 * ```
 */
export async function runSeedScenarioSameThread(
  fixture: TransportFixture,
  phase: SeedPhase,
): Promise<SeedRunResult> {
  const rig = await SameThreadRig.create(fixture, { auto: false });
  const { port, clock } = rig;
  const setInterceptor = await rig.requireSignalInterceptor('the same-thread seed scenario');
  // Where teardown is, from the devres events.
  let teardownBegun = false;
  let quiesceBegun = false;
  let releaseBegun = false;
  let teardownEnded = false;
  // The A2P channel the held reply comes back on (known once the platform held it).
  let replyChannel: number | undefined;
  const phaseNow = (): ObservedSeedPhase => {
    if (!teardownBegun) return 'before teardown';
    if (teardownEnded) return 'after-release';
    if (releaseBegun) return 'during release';
    const record = rig.instrument.channels.find((c) => c.label === `a2p:${String(replyChannel)}`);
    if (record !== undefined && record.state !== 'open') {
      return record.state === 'quiescing' || record.state === 'quiesced'
        ? 'draining'
        : 'during release';
    }
    return quiesceBegun ? 'during-quiesce' : 'before-quiesce';
  };

  // Signals to the agent are held while `holding`, delivered by `deliverHeld`. The phase is read
  // when the first signal after the reply was produced reaches the agent.
  let holding = false;
  let awaitingDelivery = false;
  let observedPhase: ObservedSeedPhase = 'not delivered';
  // Read through a function: the interceptor sets it while the probe runs.
  const observed = (): ObservedSeedPhase => observedPhase;
  const held: (() => void)[] = [];
  const stillAwaiting = (): boolean => awaitingDelivery;
  const observeDelivery = (): void => {
    if (!awaitingDelivery) return;
    awaitingDelivery = false;
    observedPhase = phaseNow();
  };
  // What a signal reaching the agent changes at once: a channel's `sink.rx`, a late reply the
  // transport counted itself (virtio's cmdq, for a buffer of a transfer that timed out), a guard's
  // refusal after quiesce, a bad message, or the wire's own drop (after free). The phase is read as
  // `deliver()` is called: a `deliver()` that only queues the reply would have it land later,
  // in another phase, unseen — so it must reach the agent before it returns.
  const reached = (): number =>
    rig.instrument.channels.reduce((n, c) => n + c.rxTimes.length, 0) +
    rig.instrument.lateReplies +
    rig.instrument.overtakenResponses +
    rig.instrument.refusedAfterQuiesce +
    Object.values(rig.instrument.badMessages()).reduce((a, b) => a + b, 0) +
    (rig.ends.droppedSignals?.() ?? 0);
  let queuedDelivery = false;
  // Read through a function: set by the interceptor while the probe runs.
  const queued = (): boolean => queuedDelivery;
  const deliverNow = (deliver: () => void): void => {
    // Once release began, the wire may have counted the reply already (a virtio reset reclaims
    // the buffer and counts it): the signal then changes nothing, rightly.
    const live = !['during release', 'after-release'].includes(phaseNow());
    const before = reached();
    deliver();
    if (live && reached() === before) queuedDelivery = true;
  };
  setInterceptor((deliver) => {
    if (holding) {
      held.push(deliver);
      return;
    }
    const first = stillAwaiting();
    observeDelivery();
    if (first) deliverNow(deliver);
    else deliver();
  });
  const deliverHeld = (): void => {
    holding = false;
    const signals = held.splice(0);
    if (signals.length > 0) observeDelivery();
    signals.forEach((d, i) => {
      if (i === 0) deliverNow(d);
      else d();
    });
  };
  let produced = false;
  const wasProduced = (): boolean => produced;
  let signalDeferred = false;
  const deferred = (): boolean => signalDeferred;
  const produce = (hold: boolean): void => {
    if (produced) return;
    produced = true;
    replyChannel = port.heldChannels[0];
    holding = hold;
    awaitingDelivery = true;
    if (port.release() === 0) {
      // The link was closed: nothing can reach the agent.
      holding = false;
      awaitingDelivery = false;
    } else if (!hold && stillAwaiting()) {
      // The wire did not signal the agent as the reply was sent: it does so from a task of its
      // own, which runs only when teardown next waits.
      signalDeferred = true;
    }
  };
  port.hold(isBaseVersion);
  rig.onEvent = (e: DevresEvent): void => {
    if (e.type === 'teardown-begin') teardownBegun = true;
    if (!teardownBegun) return;
    if (e.type === 'quiesce') quiesceBegun = true;
    if (e.type === 'release') releaseBegun = true;
    if (e.type === 'teardown-end') teardownEnded = true;
    if (phase === 'before-quiesce' && e.type === 'teardown-begin') produce(false);
    if (phase === 'during-quiesce' && e.type === 'quiesce' && e.resource === 'agent gate')
      produce(false);
    if (
      (phase === 'draining' || phase === 'after-release') &&
      e.type === 'quiesce' &&
      e.resource === 'agent gate'
    ) {
      produce(true);
    }
  };
  if (phase === 'draining') {
    // Into the channel's quiesce step, once started: the devres event comes before the step runs,
    // and a step that does not wait lets teardown run on to the end before any clock task.
    rig.instrument.onQuiesceStarted = (record): void => {
      if (record.label === `a2p:${String(replyChannel)}`) deliverHeld();
    };
  }

  const probe = rig.probe({ rxTimeoutMs: 30 });
  let probeError: unknown;
  const outcome = probe.then(
    () => undefined,
    (e: unknown) => {
      probeError = e;
    },
  );
  let settled = await rig.settle(outcome, 5_000);
  let teardownWaitedForPlatform = false;
  if (!settled && phase === 'after-release' && held.length > 0) {
    // Teardown is waiting for the platform (e.g. an invocation in flight): deliver now.
    teardownWaitedForPlatform = true;
    deliverHeld();
    settled = await rig.settle(outcome, 5_000);
  }
  if (phase === 'after-release' && settled) deliverHeld();
  await clock.runUntilIdle();

  const problems: string[] = [];
  if (!settled) problems.push('the probe never settled');
  if (!(probeError instanceof ScmiTimeoutError))
    problems.push(`expected a probe timeout, got ${describeError(probeError)}`);
  if (!wasProduced()) problems.push('the late reply was never produced');
  if (queued()) {
    problems.push(
      "the wire's deliver() returned before the late reply reached the agent (no sink.rx, no refusal after quiesce, no drop counted): it must deliver synchronously, or the scenario cannot place the reply in the phase asked for (see FixtureEnds.setAgentSignalInterceptor)",
    );
  }
  // Only `after-release` waits for a teardown that does not end while the reply is held.
  if (teardownWaitedForPlatform && phase !== 'after-release')
    problems.push(`teardown waited for the platform before the reply was delivered (${phase})`);
  const expected = expectedSeedPhase(phase, {
    teardownWaitedForPlatform,
    signalDeferred: deferred(),
  });
  if (observed() !== expected) {
    const why = teardownWaitedForPlatform
      ? '; teardown waited for the platform'
      : deferred()
        ? '; the wire signals the agent from a task of its own'
        : '';
    problems.push(
      `the late reply was to arrive ${expected}${expected === phase ? '' : ` (asked: ${phase}${why})`} but arrived: ${observed()}`,
    );
  }
  // The rig's dispose checks the teardown log (checkTeardownLog) with the rest of its hygiene,
  // and closes the wire.
  problems.push(...(await rig.dispose()));
  // The counts are read once the wire is closed: a wire that counts the reply again as it closes
  // (what it still held unread, though core counted it already) is seen.
  const i = rig.instrument;
  const { byAgent, wire, platformSide, accounted } = rig.lateReplyCounts();
  if (accounted < 1) problems.push('the late reply was neither delivered nor dropped and counted');
  // One reply, counted once: by the agent, where core or a guard first saw it, or else by the
  // wire or the platform side.
  if (byAgent > 1) {
    problems.push(
      `the late reply was counted ${byAgent} times by the agent (late ${i.lateReplies}, refused after quiesce ${i.refusedAfterQuiesce}, unexpected ${i.badMessages().unexpected})`,
    );
  } else if (accounted > 1) {
    problems.push(
      `the late reply was counted ${accounted} times in all, not once (by the agent ${byAgent}, by the wire ${wire}, by the platform side ${platformSide})`,
    );
  }
  // A signal that reaches a channel whose quiesce step has started is a new callback: the guard
  // (or the wire) must refuse it and count it, not run it.
  if (observed() === 'draining' && i.refusedAfterQuiesce + wire < 1) {
    problems.push(
      `a2p:${String(replyChannel)}: the late reply reached the channel after its quiesce step started, and neither its RX guard nor the wire refused and counted it`,
    );
  }
  return {
    requestedPhase: phase,
    observedPhase: observed(),
    teardownWaitedForPlatform,
    signalDeferred: deferred(),
    probeError,
    accounted,
    refusedAfterQuiesce: i.refusedAfterQuiesce,
    problems,
    unreported: () => rig.takeUnreportedViolations(),
  };
}

/** Options of {@link runSeedScenarioWorker}. */
export interface SeedWorkerOptions extends WorkerCampaignOptions {
  /** Runs (default 100). */
  readonly runs?: number;
  /**
   * Aim every other run's late reply at the agent's teardown (default true), on a session that can
   * release held responses ({@link WorkerFixtureSession.releaseHeldResponses}): the platform holds
   * the reply (a `hold` fault) until the agent's devres logs the k-th event of its teardown — k
   * drawn from 0, its `teardown-begin`, to its `teardown-end`, as many events on as the last aimed
   * run's teardown logged (past the end of a shorter one: once it returned) — and the kit then asks
   * the worker to send it. A delay drawn around the timeout lands inside the teardown — where the
   * seed race happens — seldom: the platform's timers tick in whole milliseconds, a teardown in a
   * worker run lasts 0.1–0.2 ms (over 600 mailbox runs, 8–14 were refused after quiesce; with
   * every other run aimed, 62–90).
   */
  readonly aimAtTeardown?: boolean;
  /**
   * When `runs` runs did not hit both {@link SEED_WORKER_PHASES}`.delivered` (a reply in time)
   * and another phase (a reply late), keep going for at most this many more runs, until both are
   * hit (default 0). The race is real-time: this bounds the campaign instead of making a case
   * depend on luck. A campaign of 10 runs or more in which no reply came in time reports a
   * violation: the wire does not deliver replies.
   */
  readonly coverageRuns?: number;
  /** Stop after this many ms even if runs remain (default: no limit). */
  readonly durationMs?: number;
  /** The agent's RX timeout in ms (default 3). */
  readonly timeoutMs?: number;
  /**
   * Complete by polling on the fixture's A2P channels (or channel 0), default false: nothing then
   * signals the late reply, which the teardown must find (or the wire drop) and count all the same.
   */
  readonly polling?: boolean;
  /**
   * Seed of the reply delays and of the aimed runs' teardown events (default: from the clock);
   * printed with any failure. It reproduces the delays, not the thread timing (nor, for an aimed
   * run, the number of events the teardown before it logged).
   */
  readonly seed?: number;
  /** A running worker session to reuse (default: one is started and stopped). */
  readonly session?: WorkerFixtureSession;
}

/**
 * The phases a worker-mode seed run reports, by key (the labels of
 * {@link SeedWorkerResult}`.phases`).
 *
 * @example
 * ```ts
 * const late = Object.keys(r.phases).filter((p) => p !== SEED_WORKER_PHASES.delivered);
 * ```
 */
export const SEED_WORKER_PHASES = {
  /** The reply came in time: the probe succeeded. */
  delivered: 'delivered to the live transfer',
  /** The channel's RX guard refused it after quiesce (counted). */
  refused: 'refused after quiesce',
  /** Core dropped it as late (or unexpected) before teardown began (counted). */
  droppedBeforeTeardown: 'dropped before teardown',
  /** Core dropped it as late (or unexpected) once teardown had begun (counted). */
  droppedDuringTeardown: 'dropped during teardown',
  /**
   * It reached the wire once the agent's channel no longer took replies — after release (a
   * doorbell ring to a closed line), or after the channel quiesced and before its buffers were
   * reclaimed (a virtio reply still unread in the used ring at the reset) — and the wire dropped
   * and counted it (`FixtureEnds.droppedSignals` or `strayRepliesDropped`).
   */
  afterRelease: 'dropped by the wire at teardown (counted)',
  /**
   * The platform never sent it: the agent's wire was reset or closed while the reply was still
   * delayed, and the platform cancelled it, counted (`FixtureEnds.repliesCancelled`, the platform's
   * `cancelledOnDisconnect`). A virtio device reset at teardown disconnects the agent this way: a
   * reset device discards every buffer, so the reply has nowhere to go.
   */
  cancelledUnsent: 'cancelled unsent by the platform (the wire was reset or closed; counted)',
  /**
   * There was no late reply: the command that timed out never reached the platform (the wire
   * took fewer commands than the agent sent, `FixtureEnds.commandsTaken`); it was still queued
   * when the wire was reset or closed. Seen under load, when a command after the delayed one
   * outlives the campaign's few-millisecond timeout.
   */
  neverTaken: 'no reply: the command never reached the platform (still queued at the reset)',
  /**
   * No trace of it anywhere the kit can see: no callback, no agent counter, no wire counter, no
   * cancellation. Either the platform never sent it and the fixture does not report cancellations
   * (no `FixtureEnds.repliesCancelled`), or it came after release and the wire does not count what
   * it drops (the fixture has neither `droppedSignals` nor `strayRepliesDropped`, or they stayed
   * 0). A violation when the fixture reports cancellations (`repliesCancelled`): the reply was
   * then lost, or counted where the fixture does not look. Otherwise only reported: nothing ran
   * against released state, but the kit cannot show the reply was counted.
   */
  neverArrived: 'never arrived (no trace on the agent side or the wire)',
} as const;

/** What the kit saw of one worker-mode seed run, to tell its phase ({@link seedWorkerPhase}). */
export interface SeedWorkerTrace {
  /** The probe succeeded: the reply came in time. */
  readonly delivered: boolean;
  /** Callbacks the RX guards refused after quiesce. */
  readonly refused: number;
  /** Replies core dropped as late or unexpected. */
  readonly droppedByCore: number;
  /** A reply callback ran once teardown had begun. */
  readonly rxAfterTeardown: boolean;
  /** Signals and replies the wire dropped at teardown (`droppedSignals` + `strayRepliesDropped`). */
  readonly droppedByWire: number;
  /** Replies the platform cancelled unsent (`repliesCancelled`). */
  readonly cancelled: number;
  /** Commands the agent sent that the platform side never took (`sent − commandsTaken`, ≥ 0). */
  readonly untaken?: number;
}

/**
 * The phase of one worker-mode seed run (a label of {@link SEED_WORKER_PHASES}), from what the kit
 * saw of it: the first trace in the reply's path wins — delivered, refused by a guard, dropped by
 * core (before or during teardown), dropped by the wire after release, cancelled unsent by the
 * platform — and with no trace at all, `never arrived`.
 *
 * @example
 * ```ts
 * seedWorkerPhase({ delivered: false, refused: 0, droppedByCore: 0, rxAfterTeardown: false,
 *   droppedByWire: 0, cancelled: 1 }); // SEED_WORKER_PHASES.cancelledUnsent
 * ```
 */
export function seedWorkerPhase(t: SeedWorkerTrace): string {
  if (t.delivered) return SEED_WORKER_PHASES.delivered;
  if (t.refused > 0) return SEED_WORKER_PHASES.refused;
  if (t.droppedByCore > 0) {
    return t.rxAfterTeardown
      ? SEED_WORKER_PHASES.droppedDuringTeardown
      : SEED_WORKER_PHASES.droppedBeforeTeardown;
  }
  if (t.droppedByWire > 0) return SEED_WORKER_PHASES.afterRelease;
  if (t.cancelled > 0) return SEED_WORKER_PHASES.cancelledUnsent;
  if ((t.untaken ?? 0) > 0) return SEED_WORKER_PHASES.neverTaken;
  return SEED_WORKER_PHASES.neverArrived;
}

/** Totals of a worker-mode seed campaign. */
export interface SeedWorkerResult {
  /** The seed of the delays. */
  readonly seed: number;
  /** Runs done. */
  readonly runs: number;
  /** How many runs reached each phase (labels of {@link SEED_WORKER_PHASES}). */
  readonly phases: Readonly<Record<string, number>>;
  /** Late replies dropped and counted (core's late replies, guard refusals, wire drops). */
  readonly lateRepliesDropped: number;
  /**
   * Runs whose reply the platform held and the kit released at an event of the agent's teardown
   * ({@link SeedWorkerOptions.aimAtTeardown}); 0 on a session without `releaseHeldResponses`.
   */
  readonly aimedRuns: number;
  /** Invariant violations, each with the run and delay that produced it. */
  readonly violations: readonly string[];
  /**
   * How to run the same campaign again: the same seed gives the same delays; the interleaving of
   * the threads is real time and is not reproduced.
   */
  readonly reproduce: string;
}

/** `text` as one word of a POSIX shell command line (quoted when it has to be). @internal */
export function shellWord(text: string): string {
  return /^[\w./@:+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `pnpm stress` flags that select `fixture` alone: its module when it gives one
 * (`stressModule`), its transport, and its variant when it has one — each a shell word, quoted
 * when it has to be (`--variant 'unidirectional, no acknowledgement'`). @internal
 */
export function stressFixtureFlags(fixture: TransportFixture): string {
  const module =
    fixture.stressModule === undefined ? '' : `--fixture ${shellWord(fixture.stressModule)} `;
  const variant = fixture.variant === undefined ? '' : ` --variant ${shellWord(fixture.variant)}`;
  return `${module}--transport ${shellWord(fixture.name)}${variant}`;
}

/** The `pnpm stress` command line that runs a campaign's random choices again. @internal */
export function reproduceHint(fixture: TransportFixture, seed: number, flags: string): string {
  return `pnpm stress ${stressFixtureFlags(fixture)} --seed ${seed} ${flags} (the same seed gives the same random choices; the thread timing is real and not reproduced, so a race may need several attempts)`;
}

/**
 * The seed scenario with the platform in a worker thread, on real time: each run probes an agent
 * whose Base PROTOCOL_VERSION reply is delayed by a random amount around the (short) timeout, so
 * that the reply races the timeout and the teardown for real. One worker is reused across runs.
 * Checks the same invariants as the same-thread scenario — no callback against released state,
 * every resource released once, newest first, no timer left armed, and a late reply that reached
 * the agent was delivered or counted — and reports which phase each run hit
 * ({@link SEED_WORKER_PHASES}). The delays come from `seed` (mulberry32), so a seed reproduces
 * them; the thread interleaving it cannot.
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
  const maxRuns = runs + (options.coverageRuns ?? 0);
  const phases: Record<string, number> = {};
  const violations: string[] = [];
  // Both outcomes of the race were hit: a reply in time (the wire delivers at all) and one late.
  const covered = (): boolean => raceCovered(phases, SEED_WORKER_PHASES.delivered);
  let lateRepliesDropped = 0;
  const aim = new TeardownAim(session, options.aimAtTeardown ?? true);
  let done = 0;
  try {
    for (; (done < runs || (done < maxRuns && !covered())) && Date.now() < deadline; done++) {
      // One draw per run whichever kind it is: the seed gives each run the same draw.
      const drawn = random();
      const aimed = aim.aims(done);
      const delay = aimed ? 0 : Math.max(0, timeoutMs - 2 + drawn * 4);
      await session.setFaults([
        {
          match: { protocolId: 0x10, messageId: 0x0, times: 1 },
          action: aimed ? TeardownAim.holdAction : { kind: 'delay', ms: delay },
        },
      ]);
      const run = await openCampaignRun(fixture, session, options.polling === true);
      const { ends, instrument, container } = run;
      let probeError: unknown;
      const startedAt = Date.now();
      let where = `run ${done} (seed ${seed}, delay ${delay.toFixed(2)} ms)`;
      let release: AimedRelease | undefined;
      if (aimed) {
        release = aim.arm(run, drawn, () => where, violations);
        where = `run ${done} (seed ${seed}, reply held until teardown event ${release.atEvent} of ${release.of})`;
      }
      const lifetime = (async (): Promise<void> => {
        try {
          const agent = await createAgent(container, run.agentOptions({ rxTimeoutMs: timeoutMs }));
          await agent.remove();
        } catch (e) {
          probeError = e;
        }
      })();
      if (
        !(await campaign.boundRun(lifetime, ends, 'the probe or the removal', where, violations))
      ) {
        release?.disarm();
        break;
      }
      teardownReturned(run);
      await release?.teardownReturned();
      // Give a reply still on its way the time to arrive (to a closed channel): past the moment the
      // platform sends it (`delay` after it got the command, sent just after `startedAt`).
      await sleep(Math.max(timeoutMs + 3, startedAt + delay + 3 - Date.now()));
      await ends.close();
      const trace = await readLateReplyTrace(ends, instrument, run.teardownAt);
      const { late, refused, wire } = trace;
      const taken = await ends.commandsTaken?.();
      const badTotal = Object.values(instrument.badMessages()).reduce((a, b) => a + b, 0);
      // One late reply per run, counted once, where it was first seen: by the agent, else by the
      // wire (checked below: never by both).
      lateRepliesDropped += trace.byAgent > 0 ? trace.byAgent : wire;
      const phase = seedWorkerPhase({
        delivered: probeError === undefined,
        refused,
        droppedByCore: late + trace.unexpected,
        rxAfterTeardown: trace.rxAfterTeardown,
        droppedByWire: wire,
        cancelled: trace.cancelled,
        untaken:
          taken === undefined
            ? 0
            : Math.max(
                0,
                instrument.channels
                  .filter((c) => c.label.startsWith('a2p:'))
                  .reduce((n, c) => n + c.counters.sent, 0) - taken,
              ),
      });
      phases[phase] = (phases[phase] ?? 0) + 1;
      checkLateReplyAccounting(
        where,
        'the late reply',
        trace,
        phase === SEED_WORKER_PHASES.neverArrived,
        ends,
        violations,
        `, and the command was taken${options.polling === true ? ' (polling)' : ''}`,
      );
      // One command, one reply: what reached the agent's side is counted once there, by the agent
      // or by the wire's agent end — one that counts at its reset what a guard already refused and
      // counted counts it twice. (A reply the platform side dropped — an OP-TEE server that gave
      // up waiting for it, and failed the message, which the agent counts — is another trace.)
      if (trace.byAgent > 0 && trace.signals > 0) {
        violations.push(
          `${where}: the late reply was counted by the agent (${trace.byAgent}) and by the wire (${trace.signals})`,
        );
      }
      if (probeError !== undefined && !(probeError instanceof ScmiTimeoutError)) {
        violations.push(`${where}: probe failed with ${describeError(probeError)}`);
      }
      // As in the same thread: a late reply that reached the agent was delivered or counted. When
      // the probe failed at its first command (nothing completed on A2P), every reply callback on
      // A2P is the late reply (or a hostile copy) and core must have counted it.
      if (probeError !== undefined) {
        const a2p = instrument.channels.filter((c) => c.label.startsWith('a2p:'));
        const rx = a2p.reduce((n, c) => n + c.rxTimes.length, 0);
        const completed = a2p.reduce((n, c) => n + c.counters.completed, 0);
        if (completed === 0 && rx > late + badTotal + instrument.failed) {
          violations.push(
            `${where}: ${rx} reply callback(s) reached the agent after the probe timed out, but only ${late + badTotal + instrument.failed} were counted (late replies, bad messages, failures)`,
          );
        }
      }
      if (options.polling === true) checkPolled(run, where, violations);
      campaign.checkRun(run, where, violations);
    }
  } finally {
    await campaign.stop(violations);
  }
  if (done >= MIN_RUNS_TO_DELIVER && phases[SEED_WORKER_PHASES.delivered] === undefined) {
    // Half the delays are well inside the timeout: a wire on which no reply ever came in time
    // does not deliver replies at all (its teardown invariants held vacuously).
    violations.push(
      `no reply came in time in ${done} runs (seed ${seed}; half the delays are under the ${timeoutMs} ms timeout): the wire does not deliver replies`,
    );
  }
  return {
    seed,
    runs: done,
    phases,
    lateRepliesDropped,
    aimedRuns: aim.runs,
    violations,
    reproduce: reproduceHint(
      fixture,
      seed,
      `--runs ${done} --hostile-runs 0 --delayed-runs 0 --interleavings 0${options.polling === true ? ' --polling' : ''}`,
    ),
  };
}
