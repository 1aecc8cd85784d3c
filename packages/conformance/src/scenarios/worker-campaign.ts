import { RealClock, mulberry32, type AgentOptions } from '@scmi-ts/core';
import { DevresEventLog, type DevresEvent, type DevresEventSink } from '@scmi-ts/devres';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import type { Container } from 'inversify';
import {
  pollingA2p,
  type FixtureEnds,
  type TransportFixture,
  type WorkerFixtureSession,
} from '../fixture.js';
import { CountingClock, TransportInstrument, checkTeardownLog } from '../instrument.js';
import { LateViolationWatch, takeUnreported } from '../late-violations.js';
import { AGENT_ID, buildContainer } from '../rig.js';
import { describeError } from './describe-error.js';

/** What a worker-mode campaign is given: where to start and how long to run. */
export interface WorkerCampaignOptions {
  /** Seed of the campaign's random choices (default: from the clock). */
  readonly seed?: number;
  /** Stop after this many ms (default: no limit). */
  readonly durationMs?: number;
  /** A running worker session to reuse (default: one is started, and stopped by `stop`). */
  readonly session?: WorkerFixtureSession;
  /**
   * Real-time bound, in ms, on one run's agent — its probe, its commands and its removal — and on
   * closing its wire (default 30 000): past it the run is reported as a hang (a removal whose
   * quiesce never settles…) and the campaign ends there, instead of waiting for ever.
   */
  readonly hangMs?: number;
}

/** Default of {@link WorkerCampaignOptions.hangMs}. */
const DEFAULT_HANG_MS = 30_000;

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
  /**
   * Adds the invariants every run checks to `violations` ({@link checkCampaignRun}), and watches
   * the run from then on: what its instrument or its transport records later (a callback the wire
   * let happen on a timer of its own after the run was checked) is added when a later run is
   * checked, or by {@link WorkerCampaign.stop} — marked `(recorded after the run was checked)`.
   */
  checkRun(run: OpenedCampaignRun, where: string, violations: string[]): void;
  /**
   * Stops the worker if the campaign started it (a session passed in is left running), then —
   * after one macrotask turn and a few ms of real time (`LATE_GRACE_MS`) — reads the runs' records
   * a last time and adds to `violations` what they recorded after their run was checked.
   */
  stop(violations: string[]): Promise<void>;
  /**
   * Waits for `lifetime` (a run's probe, commands and removal) for at most the campaign's hang
   * bound; true when it settled. Otherwise adds ``${where}: `` + `what` + a hang message to
   * `violations`, closes the run's wire `ends` (bounded the same way, a hang of the close reported
   * too) and returns false: the run hung, and the campaign must end (its agent may still hold the
   * wire). The timers are cleared either way.
   */
  boundRun(
    lifetime: Promise<unknown>,
    ends: FixtureEnds,
    what: string,
    where: string,
    violations: string[],
  ): Promise<boolean>;
}

/** One run's instruments: a timer-counting real clock, the wrapped transport's record, the devres log. */
export interface CampaignRun {
  /** The real clock, counting armed timers. */
  readonly clock: CountingClock;
  /** Wraps the fixture's transport and records every callback. */
  readonly instrument: TransportInstrument;
  /** The agent's devres events. */
  readonly log: DevresEventLog;
  /**
   * The agent's `log` option: records each event in `log`, and when the agent's teardown began in
   * `teardownAt`.
   */
  readonly sink: DevresEventSink;
  /** When the agent's teardown first began, on `clock` (Infinity until it does): set by `sink`. */
  teardownAt: number;
  /** Called by `sink` with each event once it is logged (a campaign that acts at an event). */
  onEvent?: ((event: DevresEvent) => void) | undefined;
  /**
   * How much of the instrument's violations and of the transport's own list
   * (`FixtureEnds.transportViolations`) was reported: by {@link checkCampaignRun}, then by the
   * campaign's watch, so that each entry is reported once.
   */
  readonly reported: { instrument: number; transport: number };
  /**
   * Timers armed on the agent's clock when its removal (or its failed probe's teardown) returned:
   * set by {@link teardownReturned}. Later, a timer shorter than the wait that follows would have
   * fired unseen.
   */
  armedAtTeardown?: number;
}

/**
 * Records the timers still armed on the run's clock now that the agent's removal (or the teardown
 * of its failed probe) returned: everything the agent and its transport armed must be cancelled
 * by then (checked by {@link checkCampaignRun}). Only the agent side uses this clock (the platform
 * runs in the worker), so nothing else can hold one. @internal
 */
export function teardownReturned(run: CampaignRun): void {
  run.armedAtTeardown = run.clock.armedTimers;
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
  const hangMs = options.hangMs ?? DEFAULT_HANG_MS;
  const watch = new LateViolationWatch();
  return {
    seed,
    random: mulberry32(seed),
    deadline: options.durationMs === undefined ? Infinity : Date.now() + options.durationMs,
    session,
    checkRun: (run, where, violations) => {
      watch.collect(violations);
      checkCampaignRun(run, where, violations);
      watch.watch(where, () => takeRunUnreported(run));
    },
    stop: async (violations) => {
      if (given === undefined) await session.stop();
      await watch.finish(violations);
    },
    boundRun: async (lifetime, ends, what, where, violations) => {
      const hang = (w: string): string =>
        `${where}: ${w} did not settle within ${hangMs} ms (a hang); the campaign stopped here`;
      if (await settlesWithin(lifetime, hangMs)) return true;
      violations.push(hang(what));
      if (!(await settlesWithin(ends.close(), hangMs))) violations.push(hang('closing the wire'));
      return false;
    },
  };
}

/**
 * Whether `p` settles (either way) within `ms` of real time; its timer is cleared as soon as it
 * does. @internal
 */
export function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const settled = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    p.then(settled, settled);
  });
}

/** Fresh instruments for one run of a campaign. @internal */
export function campaignRun(): CampaignRun {
  const clock = new CountingClock(new RealClock());
  const log = new DevresEventLog(10_000);
  const run: CampaignRun = {
    clock,
    instrument: new TransportInstrument(clock),
    log,
    teardownAt: Infinity,
    reported: { instrument: 0, transport: 0 },
    sink: (event) => {
      if (event.type === 'teardown-begin') run.teardownAt = Math.min(run.teardownAt, clock.now());
      log.sink(event);
      run.onEvent?.(event);
    },
  };
  return run;
}

/** One run's wire, instruments and agent wiring (see {@link openCampaignRun}). @internal */
export interface OpenedCampaignRun extends CampaignRun {
  /** The run's fresh wire. */
  readonly ends: FixtureEnds;
  /** A container binding the instrumented transport, on the run's clock. */
  readonly container: Container;
  /**
   * `createAgent`'s options for the run: the wire's, its A2P channels set to poll when asked, the
   * fixture's transport and the run's `sink` as the log; `extra` on top.
   */
  agentOptions(extra: Partial<AgentOptions>): AgentOptions;
}

/**
 * Opens a fresh wire on `session` and the instruments of one run over it (what every worker
 * campaign does per run); with `polling`, the agent's A2P channels complete by polling. @internal
 */
export async function openCampaignRun(
  fixture: TransportFixture,
  session: WorkerFixtureSession,
  polling = false,
): Promise<OpenedCampaignRun> {
  const ends = await session.open();
  const run = campaignRun();
  const polled = polling ? { a2p: pollingA2p(ends) } : {};
  return Object.assign(run, {
    ends,
    container: buildContainer(run.instrument.wrap(ends.transport), run.clock),
    agentOptions: (extra: Partial<AgentOptions>): AgentOptions => ({
      ...ends.agentOptions,
      ...polled,
      transport: fixture.name,
      log: run.sink,
      ...extra,
    }),
  });
}

/**
 * Adds the invariants every run checks to `violations`, each prefixed with `where`: no callback
 * against released state (the instrument), nothing the transport recorded against itself on the
 * run's wire (`FixtureEnds.transportViolations`, prefixed `transport: `: a callback after free, an
 * invocation returned after free…), quiesce-then-release teardown order (the devres log), no timer
 * left armed. Called once the run's wire is closed. What the instrument and the transport record
 * after this is left to the campaign's watch (`WorkerCampaign.checkRun`). @internal
 */
export function checkCampaignRun(
  run: OpenedCampaignRun,
  where: string,
  violations: string[],
): void {
  for (const v of takeRunUnreported(run)) violations.push(`${where}: ${v}`);
  for (const p of checkTeardownLog(run.log.events)) violations.push(`${where}: ${p}`);
  if (run.armedAtTeardown !== undefined && run.armedAtTeardown !== 0)
    violations.push(`${where}: ${run.armedAtTeardown} timer(s) armed when the teardown returned`);
  if (run.clock.armedTimers !== 0)
    violations.push(`${where}: ${run.clock.armedTimers} timer(s) left armed`);
}

/**
 * What `run`'s instrument and its transport's own list recorded that was not reported yet (each
 * entry once, the transport's prefixed `transport: `). @internal
 */
export function takeRunUnreported(run: OpenedCampaignRun): string[] {
  return takeUnreported(
    run.reported,
    run.instrument.violations,
    run.ends.transportViolations?.() ?? [],
  );
}

/**
 * A run that asked its A2P channels to complete by polling: core sends nothing on a polling channel
 * without polling it at once (`pollDone` right after the send), so commands sent on A2P with no
 * `pollDone` call at all mean the run did not poll — a violation, lest a polled campaign pass
 * on interrupts. @internal
 */
export function checkPolled(run: CampaignRun, where: string, violations: string[]): void {
  const a2p = run.instrument.channels.filter((c) => c.label.startsWith('a2p:'));
  const sent = a2p.reduce((n, c) => n + c.counters.sent, 0);
  if (sent > 0 && a2p.every((c) => c.polls === 0)) {
    violations.push(`${where}: ${sent} command(s) sent on polling A2P channels, none polled`);
  }
}

/** Resolves after `ms` (at once for 0 or less). @internal */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Runs after which a race campaign in which no reply came in time is a violation (the wire
 * delivers nothing); fewer runs may all be late by chance. @internal
 */
export const MIN_RUNS_TO_DELIVER = 10;

/**
 * Whether a race campaign ran both sides of its race: a reply in time (`delivered`, the phase
 * `delivered` names) and one late (any other phase). @internal
 */
export function raceCovered(phases: Readonly<Record<string, number>>, delivered: string): boolean {
  const hit = Object.keys(phases);
  return hit.includes(delivered) && hit.some((p) => p !== delivered);
}

/** Where a run's late reply left a trace, as {@link readLateReplyTrace} reads it. @internal */
export interface LateReplyTrace {
  /** Replies core dropped as late (a retired token). */
  readonly late: number;
  /** Callbacks the RX guards refused after quiesce. */
  readonly refused: number;
  /** Replies core dropped as unexpected. */
  readonly unexpected: number;
  /** Signals and replies the wire dropped (`droppedSignals` + `strayRepliesDropped`). */
  readonly wire: number;
  /**
   * Of `wire`, the signals and replies the agent's side of the wire dropped because the agent no
   * longer took them (`droppedSignals`) — what reached the agent's side, as the agent's counts do.
   */
  readonly signals: number;
  /** Replies the platform cancelled unsent (`repliesCancelled`). */
  readonly cancelled: number;
  /** A reply callback ran once teardown had begun (at `teardownAt` on the run's clock). */
  readonly rxAfterTeardown: boolean;
  /** `late + refused + unexpected`: the agent's counts, of which one reply makes one at most. */
  readonly byAgent: number;
}

/**
 * Reads where a run's late reply went, once `ends` is closed: closing the wire may be what
 * cancelled the reply, and a reply that came just before the close was dropped by the wire then
 * (read before it, it was missed: `never arrived`, about 1 run in 1500 under load). @internal
 */
export async function readLateReplyTrace(
  ends: FixtureEnds,
  instrument: TransportInstrument,
  teardownAt: number,
): Promise<LateReplyTrace> {
  const stray = (await ends.strayRepliesDropped?.()) ?? 0;
  const cancelled = (await ends.repliesCancelled?.()) ?? 0;
  const late = instrument.lateReplies;
  const refused = instrument.refusedAfterQuiesce;
  const unexpected = instrument.badMessages().unexpected;
  const signals = ends.droppedSignals?.() ?? 0;
  return {
    late,
    refused,
    unexpected,
    wire: signals + stray,
    signals,
    cancelled,
    rxAfterTeardown: instrument.channels.some((c) => c.rxTimes.some((t) => t >= teardownAt)),
    byAgent: late + refused + unexpected,
  };
}

/**
 * Adds the accounting violations every race run checks, each prefixed with `where`: the late
 * reply counted more than once by the agent, and — when the fixture reports what the platform
 * cancels — one that left no trace (`leftNoTrace`: the run's phase is
 * `SEED_WORKER_PHASES.neverArrived`). `reply` names it in the messages (`the late reply`),
 * `noTrace` ends the no-trace message. (The transport's own violations are `checkCampaignRun`'s.)
 * @internal
 */
export function checkLateReplyAccounting(
  where: string,
  reply: string,
  trace: LateReplyTrace,
  leftNoTrace: boolean,
  ends: FixtureEnds,
  violations: string[],
  noTrace = '',
): void {
  const { late, refused, unexpected, byAgent } = trace;
  if (byAgent > 1) {
    violations.push(
      `${where}: ${reply} was counted ${byAgent} times by the agent (late ${late}, refused after quiesce ${refused}, unexpected ${unexpected})`,
    );
  }
  if (leftNoTrace && ends.repliesCancelled !== undefined) {
    // The fixture reports what the platform cancels: a reply with no trace at all was lost, or
    // counted where the fixture does not look.
    violations.push(
      `${where}: ${reply} left no trace — not delivered, not counted by the agent or the wire, not cancelled by the platform${noTrace}`,
    );
  }
}

/** How long a held message waits for its release at most (it is released within its run). */
const HOLD_MS = 10_000;

/** Events a devres log shows from its first `teardown-begin` to the `teardown-end` after it. */
function countTeardownEvents(events: readonly DevresEvent[]): number {
  const begin = events.findIndex((e) => e.type === 'teardown-begin');
  if (begin < 0) return 0;
  const end = events.findIndex((e, i) => i > begin && e.type === 'teardown-end');
  return (end < 0 ? events.length : end) - begin;
}

/** One aimed run's release (see {@link TeardownAim.arm}). @internal */
export interface AimedRelease {
  /** The teardown event it is released at (0: `teardown-begin`). */
  readonly atEvent: number;
  /** The events the last aimed run's teardown logged, the draw's range. */
  readonly of: number;
  /**
   * The run's teardown returned: releases the message now if no event did (a teardown shorter than
   * the last), learns how many events this one logged, and resolves once the worker answered the
   * release (its failure already added to the run's violations).
   */
  teardownReturned(): Promise<void>;
  /**
   * The run hung: nothing is released from now on (the agent's teardown may go on after the
   * campaign stopped the session, or while a later campaign holds a message of its own on it).
   */
  disarm(): void;
}

/**
 * Aims every other run of a race campaign at the agent's teardown, on a session that can release
 * held messages ({@link WorkerFixtureSession.releaseHeldResponses}): the run's fault rule holds
 * the late message (a `hold` fault, {@link TeardownAim.holdAction}) and the kit asks the worker
 * to send it when the agent's devres logs the k-th event of its teardown — k drawn from 0, its
 * `teardown-begin`, to its `teardown-end`, as many events on as the last aimed run's teardown
 * logged. A delay drawn around a timeout lands inside a teardown seldom: the platform's timers
 * tick in whole milliseconds, a worker teardown lasts 0.1–0.2 ms. @internal
 */
export class TeardownAim {
  readonly #release: (() => Promise<number>) | undefined;
  // Before the first aimed run, a guess that run corrects.
  #events = 20;
  #runs = 0;

  /** Aims on `session` when `enabled` and the session can release held messages. */
  public constructor(session: WorkerFixtureSession, enabled: boolean) {
    this.#release = enabled ? session.releaseHeldResponses?.bind(session) : undefined;
  }

  /** The fault action of an aimed run: hold the message (long enough for any run). */
  public static readonly holdAction = { kind: 'hold', maxHoldMs: HOLD_MS } as const;

  /** Runs aimed so far. */
  public get runs(): number {
    return this.#runs;
  }

  /** Whether run number `done` is aimed (every other run, when the session can release). */
  public aims(done: number): boolean {
    return this.#release !== undefined && done % 2 === 1;
  }

  /**
   * Arms an aimed run: releases its held message at the teardown event `drawn` (in [0, 1)) picks.
   * A release that fails, or that sends more than one message, is added to `violations` with
   * `where()` (0 is no violation: the platform cancelled the message first, its agent's wire reset
   * or closed).
   */
  public arm(
    run: CampaignRun,
    drawn: number,
    where: () => string,
    violations: string[],
  ): AimedRelease {
    const release = this.#release;
    if (release === undefined) throw new Error('TeardownAim.arm: this session cannot release');
    this.#runs++;
    const atEvent = Math.floor(drawn * (this.#events + 1));
    let released: Promise<void> | undefined;
    let disarmed = false;
    const releaseNow = (): Promise<void> => {
      run.onEvent = undefined;
      if (disarmed) return Promise.resolve();
      // Disarmed (the run hung) while in flight: its outcome is the hung run's, reported no more.
      released ??= release().then(
        (n) => {
          if (!disarmed && n > 1)
            violations.push(`${where()}: ${n} held messages were released, not 1 at most`);
        },
        (error: unknown) => {
          if (!disarmed)
            violations.push(
              `${where()}: releasing the held message failed: ${describeError(error)}`,
            );
        },
      );
      return released;
    };
    let seen = -1;
    run.onEvent = (event) => {
      if (seen < 0 && event.type !== 'teardown-begin') return;
      // Its outcome is awaited by teardownReturned (the same promise); nothing is lost here.
      if (++seen === atEvent) void releaseNow();
    };
    return {
      atEvent,
      of: this.#events,
      teardownReturned: () => {
        this.#events = countTeardownEvents(run.log.events);
        return releaseNow();
      },
      disarm: () => {
        disarmed = true;
        run.onEvent = undefined;
      },
    };
  }
}
