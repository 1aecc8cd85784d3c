import {
  ScmiError,
  ScmiShutdownError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  mulberry32,
  type ChannelCounters,
  type ScmiAgent,
} from '@scmi-ts/core';
import { PROTOCOL_ID_OF, type FaultRule, type PlatformConfig } from '@scmi-ts/platform';
import { describeError } from './describe-error.js';
import type { TransportFixture } from '../fixture.js';
import { LateViolationWatch } from '../late-violations.js';
import { AGENT_ID, SameThreadRig } from '../rig.js';
import { stressFixtureFlags } from './seed-scenario.js';
import { u32s } from '../words.js';

/** Options of {@link runInterleavingSimulation}. */
export interface InterleavingOptions {
  /**
   * Seed of the campaign (default: from the clock). Schedule `i` runs with seed `seed + i`, so
   * `{ seed: s, schedules: 1 }` replays the schedule a failure names with seed `s`.
   */
  readonly seed?: number;
  /** Schedules to run (default 200). */
  readonly schedules?: number;
  /** Scheduling steps per schedule before the agent is removed and everything drained (default 400). */
  readonly maxSteps?: number;
  /** Stop starting schedules after this many ms of real time (default: no limit). */
  readonly durationMs?: number;
}

/** Totals of an interleaving campaign. */
export interface InterleavingResult {
  /** The campaign's seed (schedule `i` ran with `seed + i`). */
  readonly seed: number;
  /** Schedules run. */
  readonly schedules: number;
  /** How many schedules ended each way (probe timed out, removed with commands in flight…). */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Commands the schedules sent after probe, by how they ended. */
  readonly commands: {
    /** Answered in time. */
    readonly succeeded: number;
    /** Failed with `ScmiTimeoutError`. */
    readonly timedOut: number;
    /** Failed with `ScmiShutdownError` (the agent was removed meanwhile). */
    readonly shutDown: number;
    /**
     * Refused by the transport because the channel was still held by an earlier message that
     * timed out (the SMT area not freed, the OP-TEE invocation not returned…): `*_BUSY`.
     */
    readonly busy: number;
    /**
     * Clock commands the platform answered BUSY: clock 0 had an asynchronous rate change pending,
     * and the platform takes one operation per clock at a time (as SCP-firmware does).
     */
    readonly platformBusy: number;
  };
  /**
   * Late replies that reached the agent side and were counted there: core's `lateReplies` (a reply
   * handed to `sink.rx` for a transfer already over) and RX guards' `refusedAfterQuiesce` (one whose
   * signal came once its channel's quiesce had started). What the campaign's coverage check
   * (`interleavingCampaignShortfalls`: from 100 schedules, a late reply counted) reads: the
   * schedules must have raced a late reply against the agent, through core or its guard. Replies
   * the wire dropped and counted itself are not here ({@link InterleavingResult.droppedByWire}).
   */
  readonly lateRepliesCounted: number;
  /**
   * Signals and replies the schedules' wires dropped and counted themselves
   * (`FixtureEnds.droppedSignals`, each read once its schedule's wire was closed; 0 for a fixture
   * without it). Not in {@link InterleavingResult.lateRepliesCounted}: a reply the wire drops never
   * reached the agent, and does not show the late-reply race covered — a wire that finds a reply
   * late while its channel is live hands it to `sink.rx` inside its RX guard (core counts it late)
   * rather than counting it itself. See {@link lateReplyCoverageHint}.
   */
  readonly droppedByWire: number;
  /** Invariant violations, each naming the schedule's seed. */
  readonly violations: readonly string[];
  /** How to replay the campaign (and, with a schedule's own seed and `--interleavings 1`, one schedule). */
  readonly reproduce: string;
}

/**
 * How one schedule ended (the keys of {@link InterleavingResult.outcomes}).
 *
 * @example
 * ```ts
 * const raced = r.outcomes[INTERLEAVING_OUTCOMES.probeTimedOut];
 * ```
 */
export const INTERLEAVING_OUTCOMES = {
  /** A probe command timed out: the probe failed and tore down while late replies came. */
  probeTimedOut: 'probe timed out (teardown raced the late replies)',
  /** The agent probed and was removed while some of its commands were in flight. */
  removedBusy: 'removed with commands in flight',
  /** The agent probed and was removed with nothing in flight. */
  removedIdle: 'removed idle',
} as const;

/**
 * A command the schedule may send, and the answer it must get over the rig's platform: a reply
 * handed to the wrong transfer (a transport that trusts the slot, not the token) is caught even
 * when it parses.
 */
interface Command {
  readonly name: string;
  /**
   * A clock command: the platform may answer it BUSY while an asynchronous rate change of the clock
   * is pending (see `runSchedule`).
   */
  readonly clock?: true;
  /** The asynchronous CLOCK_RATE_SET: pending at the platform from its acceptance to its end. */
  readonly asyncSet?: true;
  send(agent: ScmiAgent): Promise<unknown>;
  /** Why `answer` is not this command's (undefined when it is), for the platform `config`. */
  check(answer: unknown, config: PlatformConfig): string | undefined;
}

/** The protocol ids of the protocols `config` gives agent `agentId`, ascending. */
function protocolIds(config: PlatformConfig, agentId: number): number[] {
  const agent = config.agents.find((a) => a.id === agentId);
  return (agent?.protocols ?? []).map((p) => PROTOCOL_ID_OF[p]).sort((a, b) => a - b);
}

const same = (what: string, got: unknown, want: unknown): string | undefined =>
  JSON.stringify(got) === JSON.stringify(want)
    ? undefined
    : `${what} answered ${JSON.stringify(got)}, not ${JSON.stringify(want)}`;

/** The rate CLOCK_RATE_SET sets clock 0 to (asynchronously). */
const SET_RATE_HZ = 500_000_000;

/** Commands every agent can send once probed: Base ones, and Clock's CLOCK_RATE_GET. */
const COMMANDS: readonly Command[] = [
  {
    name: 'BASE_DISCOVER_VENDOR',
    send: (a) => a.base.discoverVendor(),
    check: (v, c) => same('BASE_DISCOVER_VENDOR', v, c.vendor),
  },
  {
    name: 'BASE_DISCOVER_SUB_VENDOR',
    send: (a) => a.base.discoverSubVendor(),
    check: (v, c) => same('BASE_DISCOVER_SUB_VENDOR', v, c.subVendor),
  },
  {
    name: 'BASE_DISCOVER_IMPLEMENTATION_VERSION',
    send: (a) => a.base.discoverImplementationVersion(),
    check: (v, c) => same('BASE_DISCOVER_IMPLEMENTATION_VERSION', v, c.implementationVersion),
  },
  {
    name: 'PROTOCOL_ATTRIBUTES (Base)',
    send: (a) => a.base.attributes(),
    check: (v, c) =>
      same('PROTOCOL_ATTRIBUTES (Base)', v, {
        numProtocols: protocolIds(c, AGENT_ID).length,
        numAgents: c.agents.length,
      }),
  },
  {
    name: 'BASE_DISCOVER_LIST_PROTOCOLS',
    send: (a) => a.base.discoverListProtocols(a.info.protocols.length),
    // The agent asks for as many as its probe listed, which a fault may have cut short.
    check: (v, c) => {
      const all = protocolIds(c, AGENT_ID);
      const got = v as number[];
      return same('BASE_DISCOVER_LIST_PROTOCOLS', got, all.slice(0, got.length));
    },
  },
  {
    name: 'CLOCK_RATE_GET (clock 0)',
    clock: true,
    send: (a) => a.transact(0x14, 0x6, u32s(0)),
    check: (v, c) => {
      const bytes = v as Uint8Array;
      if (bytes.byteLength !== 8) return `CLOCK_RATE_GET answered ${bytes.byteLength} bytes, not 8`;
      const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
      const hz = view.getUint32(0, true) + view.getUint32(4, true) * 0x1_0000_0000;
      const initial = c.clocks?.[0]?.rate;
      return hz === initial || hz === SET_RATE_HZ
        ? undefined
        : `CLOCK_RATE_GET (clock 0) answered ${hz} Hz, neither its initial ${String(initial)} Hz nor the ${SET_RATE_HZ} Hz a CLOCK_RATE_SET sets`;
    },
  },
];

/**
 * With a P2A channel, an asynchronous CLOCK_RATE_SET too: its delayed response comes on the P2A
 * channel and races the timeouts and the teardown like the responses do.
 */
const ASYNC_COMMANDS: readonly Command[] = [
  ...COMMANDS,
  {
    name: 'CLOCK_RATE_SET (clock 0, async)',
    clock: true,
    asyncSet: true,
    send: (a) => a.transact(0x14, 0x5, u32s(1, 0, SET_RATE_HZ, 0), { async: true }),
    // The delayed response's payload: clock id, rate (low, high) — the rate set.
    check: (v) => {
      const bytes = v as Uint8Array;
      const words =
        bytes.byteLength === 12
          ? [0, 4, 8].map((o) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(o, true))
          : undefined;
      return words !== undefined && words[0] === 0 && words[1] === SET_RATE_HZ && words[2] === 0
        ? undefined
        : `CLOCK_RATE_SET's delayed response carried ${bytes.byteLength} bytes ${JSON.stringify(words)}, not clock 0 at ${SET_RATE_HZ} Hz`;
    },
  },
];

/**
 * A transport's refusal to send while an earlier message that timed out still holds the channel
 * (`E_CHANNEL_BUSY`, `E_CHAN_BUSY`, `E_VIRTIO_BUSY`…, or a mailbox queue full of such): the
 * documented outcome of a platform that never frees it.
 */
function isBusy(e: unknown): boolean {
  return ScmiTransportError.is(e) && (e.code.endsWith('_BUSY') || e.code === 'E_MBOX_QUEUE_FULL');
}

/** The agent's RX timeout in the schedules (the rig's), ms. */
const TIMEOUT_MS = 30;

interface ScheduleReport {
  readonly outcome: string;
  readonly succeeded: number;
  readonly timedOut: number;
  readonly shutDown: number;
  readonly busy: number;
  readonly platformBusy: number;
  readonly late: number;
  /** What the wire counted in `droppedSignals` from the rig's creation to its close. */
  readonly droppedByWire: number;
  readonly problems: string[];
  /** What the schedule's rig recorded after it was disposed (see `SameThreadRig.takeUnreportedViolations`). */
  readonly unreported: () => readonly string[];
}

/**
 * The seeded interleaving simulator: runs `schedules` random schedules of one agent over
 * `fixture`'s same-thread wire, on the virtual clock, each fully determined by its seed. A
 * schedule arms random platform faults (a command's reply delayed by 0 to 2 × the timeout, or
 * dropped), probes, then at each step picks at random among: deliver one of the held
 * platform→agent signals (in any order: replies overtake each other, and race the timeouts), move
 * virtual time forward a little (timeouts fire, delayed replies are produced), run pending tasks,
 * send another command (Base ones, CLOCK_RATE_GET, and with a P2A channel an asynchronous
 * CLOCK_RATE_SET whose delayed response races too), or remove the agent — until the step budget is spent, when the agent
 * is removed and everything drains.
 *
 * After each schedule it checks the invariants of the project: no callback from a channel whose
 * quiesce returned, no call either way with a released one (the kit's `TransportInstrument`), every resource released once, newest first,
 * every quiesce before any release (`checkTeardownLog`), nothing left live or armed, the probe, every
 * command and the removal settled (no hang), each ended as it may (success, `ScmiTimeoutError`,
 * `ScmiShutdownError`, the transport's busy refusal while a timed-out message holds the
 * channel, or for a clock command the platform's BUSY while the clock's asynchronous rate change is
 * pending), and every reply callback that reached core accounted for (completed, late,
 * delayed response, notification, bad message or failed transfer). A schedule's instrument and
 * transport are read again while later schedules run and at the campaign's end (one macrotask turn
 * and a few ms later): a callback the wire let happen after its schedule was checked (on a timer of
 * its own) is a violation of that schedule too. Each violation names the seed that replays its
 * schedule.
 *
 * The fixture must provide `setAgentSignalInterceptor` (every same-thread fixture of the kit does):
 * without it the simulator rejects with `FixtureCapabilityError` before any schedule runs.
 *
 * @example
 * ```ts
 * const r = await runInterleavingSimulation(fixture, { seed: 42, schedules: 500 });
 * expect(r.violations).toEqual([]);
 * ```
 */
export async function runInterleavingSimulation(
  fixture: TransportFixture,
  options: InterleavingOptions = {},
): Promise<InterleavingResult> {
  const seed = (options.seed ?? Date.now() & 0x7fffffff) >>> 0;
  const schedules = options.schedules ?? 200;
  const maxSteps = options.maxSteps ?? 400;
  const deadline = options.durationMs === undefined ? Infinity : Date.now() + options.durationMs;
  // Every outcome listed, in a fixed order (0 when none ended that way): reports stay comparable.
  const outcomes: Record<string, number> = Object.fromEntries(
    Object.values(INTERLEAVING_OUTCOMES).map((o) => [o, 0]),
  );
  const violations: string[] = [];
  let succeeded = 0;
  let timedOut = 0;
  let shutDown = 0;
  let busy = 0;
  let platformBusy = 0;
  let late = 0;
  let droppedByWire = 0;
  let done = 0;
  // Each schedule's rig, watched once disposed: a callback its wire lets happen on a real timer of
  // its own lands while later schedules run, and is reported under the schedule's seed.
  const watch = new LateViolationWatch();
  for (; done < schedules && Date.now() < deadline; done++) {
    const scheduleSeed = (seed + done) >>> 0;
    watch.collect(violations);
    const r = await runSchedule(fixture, scheduleSeed, maxSteps);
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    succeeded += r.succeeded;
    timedOut += r.timedOut;
    shutDown += r.shutDown;
    busy += r.busy;
    platformBusy += r.platformBusy;
    late += r.late;
    droppedByWire += r.droppedByWire;
    for (const p of r.problems) violations.push(`schedule seed ${scheduleSeed}: ${p}`);
    watch.watch(`schedule seed ${scheduleSeed}`, r.unreported);
  }
  await watch.finish(violations);
  return {
    seed,
    schedules: done,
    outcomes,
    commands: { succeeded, timedOut, shutDown, busy, platformBusy },
    lateRepliesCounted: late,
    droppedByWire,
    violations,
    reproduce: `pnpm stress ${stressFixtureFlags(fixture)} --seed ${seed} --interleavings ${done} --runs 0 (one schedule: --seed <its seed> --interleavings 1 --runs 0)`,
  };
}

/**
 * Why an interleaving campaign counted no late reply although its wires dropped replies
 * themselves, or `undefined` (it counted one, or its wires dropped nothing): the campaign's coverage
 * ({@link InterleavingResult.lateRepliesCounted}) counts only the late replies that reached the
 * agent side — core's `lateReplies`, an RX guard's `refusedAfterQuiesce` — so that a wire which
 * counts a reply it found late in `droppedSignals`, instead of handing it to `sink.rx`, fails the
 * coverage check (`interleavingCampaignShortfalls`, which adds this reason to its failure) with no
 * hint why otherwise.
 *
 * @example
 * ```ts
 * const r = await runInterleavingSimulation(fixture, { seed: 7, schedules: 100 });
 * const why = lateReplyCoverageHint(r); // undefined, or what to change in the wire
 * ```
 */
export function lateReplyCoverageHint(
  r: Pick<InterleavingResult, 'schedules' | 'lateRepliesCounted' | 'droppedByWire'>,
): string | undefined {
  if (r.lateRepliesCounted > 0 || r.droppedByWire === 0) return undefined;
  return `none of the late replies of ${r.schedules} schedules reached the agent (core's lateReplies or a guard's refusedAfterQuiesce); the wire dropped and counted ${r.droppedByWire} itself (droppedSignals), which do not count here — hand a reply found late to sink.rx inside the RX guard (core counts it late)`;
}

/** Sum of the counters a reply callback reaching core ends in (see `TransferEngine`'s RX path). */
function accounted(c: ChannelCounters): number {
  const bad = Object.values(c.badMessages).reduce((a, b) => a + b, 0);
  return c.completed + c.lateReplies + c.delayedResponses + c.notifications + bad + c.failed;
}

async function runSchedule(
  fixture: TransportFixture,
  scheduleSeed: number,
  maxSteps: number,
): Promise<ScheduleReport> {
  const random = mulberry32(scheduleSeed);
  const below = (n: number): number => Math.floor(random() * n);
  const rig = await SameThreadRig.create(fixture, { auto: false, seed: scheduleSeed });
  const { clock, ends } = rig;
  const wireBefore = ends.droppedSignals?.() ?? 0;
  const setInterceptor = await rig.requireSignalInterceptor('the interleaving simulator');
  const problems: string[] = [];
  const commandSet = fixture.capabilities.p2a ? ASYNC_COMMANDS : COMMANDS;

  // Platform faults: a few commands (counted from the first one of the probe) answered late, or not
  // at all.
  const rules: FaultRule[] = [];
  for (let n = below(4); n > 0; n--) {
    rules.push({
      match: { nth: 1 + below(16), times: 1 },
      action:
        random() < 0.85
          ? { kind: 'delay', ms: Math.round(random() * 2 * TIMEOUT_MS * 10) / 10 }
          : { kind: 'drop' },
    });
  }
  for (const rule of rules) rig.platform.faults.add(rule);

  // Every platform→agent signal is held; the schedule delivers each when it chooses.
  const held: (() => void)[] = [];
  setInterceptor((deliver) => {
    held.push(deliver);
  });
  const deliverOne = (): void => {
    const [deliver] = held.splice(below(held.length), 1);
    deliver?.();
  };

  let agent: ScmiAgent | undefined;
  let probeError: unknown;
  const probing = rig.probe().then(
    (a) => {
      agent = a;
    },
    (e: unknown) => {
      probeError = e;
    },
  );
  const commands: Promise<void>[] = [];
  let inFlight = 0;
  let succeeded = 0;
  let timedOut = 0;
  let shutDown = 0;
  let busy = 0;
  let platformBusy = 0;
  let removing: Promise<unknown> | undefined;
  // Set from the `remove` closure (a plain `false` would be narrowed to the literal here).
  let busyAtRemove = false as boolean;
  // The platform answers a clock command BUSY only while an asynchronous rate change of the clock
  // is pending: one was sent and had not ended when the command was sent or while it was in
  // flight (its answer may be delivered after the set's end), or one ended without its delayed
  // response (timed out, shut down: the platform may still hold it pending, for ever).
  let asyncSetsInFlight = 0;
  let asyncSetUnsettled = false;
  const clockCommandsInFlight = new Set<{ mayBeBusy: boolean }>();
  const send = (a: ScmiAgent): void => {
    inFlight++;
    const command = commandSet[below(commandSet.length)] as Command;
    if (command.asyncSet === true) {
      asyncSetsInFlight++;
      for (const c of clockCommandsInFlight) c.mayBeBusy = true;
    }
    const clockCommand = { mayBeBusy: asyncSetsInFlight > 0 || asyncSetUnsettled };
    if (command.clock === true) clockCommandsInFlight.add(clockCommand);
    // How the command ended: answered (for the set: its delayed response came), refused BUSY by the
    // platform, or lost (timed out, shut down…).
    let ended: 'answered' | 'busy' | 'lost' = 'lost';
    commands.push(
      command
        .send(a)
        .then(
          (answer) => {
            succeeded++;
            ended = 'answered';
            const wrong = command.check(answer, rig.platform.config);
            if (wrong !== undefined) problems.push(`a command got another's answer: ${wrong}`);
          },
          (e: unknown) => {
            if (ScmiTimeoutError.is(e)) timedOut++;
            else if (ScmiShutdownError.is(e)) shutDown++;
            else if (isBusy(e)) busy++;
            else if (
              command.clock === true &&
              ScmiStatusError.is(e) &&
              e.status === ScmiStatus.BUSY &&
              clockCommand.mayBeBusy
            ) {
              platformBusy++;
              ended = 'busy';
            } else problems.push(`a command failed with ${describeError(e)}`);
          },
        )
        .finally(() => {
          inFlight--;
          clockCommandsInFlight.delete(clockCommand);
          if (command.asyncSet === true) {
            asyncSetsInFlight--;
            // Refused BUSY, it was never pending; answered, it is over at the platform too.
            if (ended === 'lost') asyncSetUnsettled = true;
          }
        }),
    );
  };
  const remove = (a: ScmiAgent): void => {
    busyAtRemove = inFlight > 0;
    removing = a.remove().catch((e: unknown) => {
      problems.push(`remove failed with ${describeError(e)}`);
    });
  };

  for (let step = 0; step < maxSteps; step++) {
    const actions: (() => Promise<void> | void)[] = [];
    if (held.length > 0) actions.push(deliverOne, deliverOne, deliverOne);
    actions.push(
      () => clock.advance(Math.round(random() * 80) / 10),
      () => clock.advance(Math.round(random() * 80) / 10),
      () => clock.runTasks(),
    );
    const live = agent !== undefined && removing === undefined ? agent : undefined;
    if (live !== undefined && inFlight < 4) actions.push(() => send(live));
    if (live !== undefined && random() < 0.1) actions.push(() => remove(live));
    await (actions[below(actions.length)] as () => Promise<void> | void)();
    await clock.settle();
    if (probeError !== undefined || (removing !== undefined && inFlight === 0)) {
      if (held.length === 0 && clock.pendingTasks === 0 && clock.armedTimers === 0) break;
    }
  }

  // Drain: the agent is removed if it is still there, held signals are delivered in a random
  // order as tasks, and from now on every signal goes through at once.
  const finishing = (async (): Promise<void> => {
    await probing;
    if (agent !== undefined && removing === undefined) remove(agent);
    await removing;
    await Promise.all(commands);
  })();
  setInterceptor((deliver) => {
    clock.schedule(deliver);
  });
  while (held.length > 0) {
    const [deliver] = held.splice(below(held.length), 1);
    if (deliver !== undefined) clock.schedule(deliver);
  }
  if (!(await rig.settle(finishing))) {
    problems.push(
      `the probe, a command or the removal never settled (probe ${probeError === undefined ? (agent === undefined ? 'pending' : 'done') : 'failed'}, ${inFlight} command(s) in flight, removal ${removing === undefined ? 'not started' : 'started'})`,
    );
  }

  if (probeError !== undefined && !ScmiTimeoutError.is(probeError)) {
    problems.push(`the probe failed with ${describeError(probeError)}, not a timeout`);
  }
  if (probeError !== undefined && !(probeError instanceof ScmiError)) {
    problems.push('the probe failed with an error that is not an ScmiError');
  }
  for (const c of rig.instrument.channels) {
    const unaccounted = c.rxTimes.length - accounted(c.counters);
    if (unaccounted > 0) {
      problems.push(
        `${c.label}: ${c.rxTimes.length} reply callback(s) reached core but only ${accounted(c.counters)} were accounted for`,
      );
    }
  }
  // Late replies that reached the agent side: core's, and its guards' refusals after quiesce.
  const late = rig.instrument.lateReplies + rig.instrument.refusedAfterQuiesce;
  // The rig's dispose checks the teardown log (checkTeardownLog) with the rest of its hygiene.
  problems.push(...(await rig.dispose()));
  // Read once the wire is closed, as the other cases read it.
  const droppedByWire = (ends.droppedSignals?.() ?? 0) - wireBefore;
  const outcome =
    probeError !== undefined
      ? INTERLEAVING_OUTCOMES.probeTimedOut
      : busyAtRemove
        ? INTERLEAVING_OUTCOMES.removedBusy
        : INTERLEAVING_OUTCOMES.removedIdle;
  return {
    outcome,
    succeeded,
    timedOut,
    shutDown,
    busy,
    platformBusy,
    late,
    droppedByWire,
    problems,
    unreported: () => rig.takeUnreportedViolations(),
  };
}
