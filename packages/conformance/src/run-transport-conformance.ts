import {
  BaseMessageId,
  PayloadReader,
  ScmiError,
  ScmiMalformedError,
  ScmiMessageType,
  ScmiProtocolId,
  ScmiShutdownError,
  ScmiTimeoutError,
  headerMessageId,
  headerProtocolId,
  headerType,
  readU32,
  type ScmiAgent,
} from '@scmi-ts/core';
import type { FaultAction } from '@scmi-ts/platform';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  fixtureTitle,
  pollingA2p,
  type TransportFixture,
  type WorkerFixtureSession,
} from './fixture.js';
import { AGENT_ID, SameThreadRig, type RigOptions } from './rig.js';
import {
  HOSTILE_ACTIONS,
  hostileActionName,
  hostileReplyReachesAgent,
  runHostileRepliesWorker,
} from './scenarios/hostile-replies.js';
import { runInterleavingSimulation } from './scenarios/interleaving-simulator.js';
import {
  expectedSeedPhase,
  runSeedScenarioSameThread,
  runSeedScenarioWorker,
  type SeedPhase,
} from './scenarios/seed-scenario.js';
import {
  runNotificationTeardownSameThread,
  type NotificationTeardownPhase,
} from './scenarios/notification-teardown.js';
import { registerClockRateChanged } from './scenarios/clock-rate-events.js';
import { PROBE_ABORT_AFTER_MS, runProbeAbortSameThread } from './scenarios/probe-abort.js';
import { runDelayedResponseRaceWorker } from './scenarios/delayed-response-race.js';
import { runPlatformDeathWorker, type PlatformDeathPending } from './scenarios/platform-death.js';
import { u32s } from './words.js';
import { withSeedOnFailure } from './scenarios/seed-on-failure.js';
import { seedFromEnv } from './seed-from-env.js';
import {
  hostileCampaignShortfalls,
  interleavingCampaignShortfalls,
  raceCampaignShortfalls,
  raceCoverageRuns,
} from './scenarios/campaign-acceptance.js';

/** Options of {@link runTransportConformance}. */
export interface ConformanceOptions {
  /** Worker-mode seed runs in the jest suite (default 100; `pnpm stress` runs the long campaign). */
  readonly workerSeedRuns?: number;
  /**
   * Extra worker-mode seed runs allowed when `workerSeedRuns` did not hit both a delivered reply
   * and a late one (default 3 × `workerSeedRuns`, at least 30: `raceCoverageRuns`): the case needs
   * both, and the race is real time.
   */
  readonly workerSeedCoverageRuns?: number;
  /**
   * Worker-mode runs of the delayed-response race, for transports with a P2A channel (default 30;
   * up to 3 × as many more, at least 30, until a delayed response in time and a late one were both
   * seen).
   */
  readonly workerDelayedRuns?: number;
  /** Worker-mode hostile-reply runs (default 8). */
  readonly workerHostileRuns?: number;
  /** Per-test timeout for worker cases, ms (default 60 s). */
  readonly workerTimeoutMs?: number;
  /**
   * Same-thread schedules of the seeded interleaving simulator in the jest suite (default 100;
   * `pnpm stress --interleavings` runs more).
   */
  readonly interleavings?: number;
}

const CLOCK = 0x14;
const CLOCK_ATTRIBUTES = 0x3;
const CLOCK_RATE_SET = 0x5;
const CLOCK_RATE_GET = 0x6;
const MHZ = 1_000_000;

/** Checks a case makes once its rig is disposed: the wire is closed, what it counts then is in. */
type AfterClose = () => void | Promise<void>;

/**
 * Runs `body` on a fresh rig and fails the test on any hygiene problem afterwards; then runs the
 * checks `body` gave `afterClose`, once the rig is disposed (a count read there includes what the
 * wire counts as it closes: a wire that counts a reply again at its close is seen).
 */
async function withRig(
  fixture: TransportFixture,
  body: (rig: SameThreadRig, afterClose: (check: AfterClose) => void) => Promise<void>,
  options?: RigOptions,
): Promise<void> {
  const rig = await SameThreadRig.create(fixture, options);
  let failure: unknown;
  const checks: AfterClose[] = [];
  try {
    await unlessStuck(
      rig,
      body(rig, (check) => checks.push(check)),
    );
  } catch (e) {
    failure = e;
  }
  const problems = await rig.dispose();
  if (failure !== undefined) throw failure as Error;
  expect(problems).toEqual([]);
  for (const check of checks) await check();
}

/**
 * Real macrotask turns, and real ms, with nothing on the rig's clock after which a case is stuck:
 * both, so that neither a fast machine (turns come in microseconds) nor a wire end that waits a
 * few real ms on I/O of its own makes a live case look stuck.
 */
const STUCK_TURNS = 500;
const STUCK_MS = 2000;

/**
 * Waits for `running`, a same-thread case's body. Everything in a same-thread rig moves through
 * its virtual clock: when, for {@link STUCK_TURNS} real turns in a row and {@link STUCK_MS} real
 * ms, the clock has nothing armed, nothing scheduled and its time stands still while the body
 * still waits, the body waits
 * for what will never come — a transport's send, quiesce or free that never settles. That is
 * reported as such (and the rig's disposal then reports the removal left undone), instead of
 * jest's timeout with no word of what hung.
 *
 * @throws what `running` rejects with; Error when the case is stuck.
 */
async function unlessStuck(rig: SameThreadRig, running: Promise<void>): Promise<void> {
  let outcome: { readonly failed: boolean; readonly error?: unknown } | undefined;
  running.then(
    () => (outcome = { failed: false }),
    (error: unknown) => (outcome = { failed: true, error }),
  );
  const clock = rig.clock;
  let idle = 0;
  let idleSince = 0;
  let at = clock.now();
  const ended = (): boolean => outcome !== undefined;
  while (!ended()) {
    await clock.settle();
    const still = clock.armedTimers === 0 && clock.pendingTasks === 0 && clock.now() === at;
    at = clock.now();
    if (!still) idle = 0;
    else if (idle++ === 0) idleSince = Date.now();
    if (idle >= STUCK_TURNS && Date.now() - idleSince >= STUCK_MS) {
      throw new Error(
        "the case is stuck: it waits, and nothing is armed or scheduled on the virtual clock (a transport's send, quiesce or free that never settles?)",
      );
    }
  }
  const { failed, error } = outcome as { readonly failed: boolean; readonly error?: unknown };
  if (failed) throw error as Error;
}

/**
 * A command times out; its reply comes late, while the next command (about another clock,
 * answered after the late reply lands) is in flight: the next one gets its own answer, the late
 * reply is counted once, by the agent or the wire. Removes the agent; returns the count's check,
 * for {@link withRig} to run once the wire is closed.
 */
async function lateReplyCase(rig: SameThreadRig, agent: ScmiAgent): Promise<AfterClose> {
  rig.platform.faults.add({
    match: { protocolId: CLOCK, messageId: CLOCK_RATE_GET, times: 1 },
    action: { kind: 'late-reply', ms: 45 },
  });
  await expect(agent.transact(CLOCK, CLOCK_RATE_GET, u32s(1))).rejects.toBeInstanceOf(
    ScmiTimeoutError,
  );
  // The next command goes out while the late reply (clock 1: 24 MHz) is still on its way, is
  // answered after it lands (20 ms later), and asks about another clock: a transport that gave it
  // the late reply would answer 24 MHz.
  rig.platform.faults.add({
    match: { protocolId: CLOCK, messageId: CLOCK_RATE_GET, times: 1 },
    action: { kind: 'delay', ms: 20 },
  });
  const next = agent.transact(CLOCK, CLOCK_RATE_GET, u32s(0));
  await rig.clock.advance(50);
  expect(readU32(await next, 0)).toBe(1200 * MHZ);
  expect(readU32(await agent.transact(CLOCK, CLOCK_RATE_GET, u32s(1)), 0)).toBe(24 * MHZ);
  await rig.clock.runUntilIdle();
  const stats = agent.diagnostics.channels.filter((c) => c.direction === 'a2p').map((c) => c.stats);
  expect(stats.reduce((n, s) => n + s.timeouts, 0)).toBe(1);
  await agent.remove();
  return () => {
    // Read once the wire is closed (core's counters of the A2P channels, the wire's drops).
    const a2p = rig.instrument.channels.filter((c) => c.label.startsWith('a2p:'));
    const accounted =
      a2p.reduce(
        (n, c) =>
          n +
          c.counters.lateReplies +
          c.counters.badMessages.unexpected +
          c.counters.refusedAfterQuiesce,
        0,
      ) + (rig.ends.droppedSignals?.() ?? 0);
    // Once: a wire that counts a reply core counted too — now or as it closes — or drops it
    // uncounted is caught here.
    expect(accounted).toBe(1);
  };
}

/** When {@link polledLateReplyCase} lets the platform send the reply it held. */
type PolledLateReplyMoment =
  'after the timeout' | 'as its channel quiesces' | 'after the agent was removed';

const POLLED_LATE_REPLY_MOMENTS: readonly PolledLateReplyMoment[] = [
  'after the timeout',
  'as its channel quiesces',
  'after the agent was removed',
];

/**
 * On a polling channel nothing looks at the wire while no transfer waits, and no signal tells the
 * agent a reply came: a reply sent after its transfer timed out, with no command after it, is still
 * unread when the agent is removed. Whenever it comes (before teardown, as its channel quiesces,
 * after the agent is gone), it must be dropped and counted exactly once — by core (a late reply, a
 * refusal after quiesce), by the wire (unread when it was reset, a stray reply) or by the platform
 * side (sent to an agent already disconnected) — never lost and never counted twice. Returns the
 * count's check, for {@link withRig} to run once the wire is closed.
 */
async function polledLateReplyCase(
  rig: SameThreadRig,
  moment: PolledLateReplyMoment,
): Promise<AfterClose> {
  const agent = await rig.run(rig.probe({ a2p: pollingA2p(rig.ends) }));
  const countedBefore = (await countedReplies(rig)) + rig.port.droppedAfterDisconnect;
  rig.port.hold((protocolId, messageId) => protocolId === CLOCK && messageId === CLOCK_RATE_GET);
  const timedOut = agent.transact(CLOCK, CLOCK_RATE_GET, u32s(1)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(await rig.run(timedOut)).toBeInstanceOf(ScmiTimeoutError);
  expect(rig.port.heldCount).toBe(1);
  const channel = `a2p:${String(rig.port.heldChannels[0])}`;
  if (moment === 'after the timeout') {
    expect(rig.port.release()).toBe(1);
    await rig.clock.runUntilIdle();
  } else if (moment === 'as its channel quiesces') {
    rig.instrument.onQuiesceStarted = (record): void => {
      if (record.label === channel) rig.port.release();
    };
  }
  await rig.run(agent.remove());
  if (moment === 'after the agent was removed') rig.port.release();
  await rig.clock.runUntilIdle();
  expect(rig.port.heldCount).toBe(0);
  return async () => {
    // Read once the wire is closed: a wire that counts the reply again as it closes is seen.
    const counted = (await countedReplies(rig)) + rig.port.droppedAfterDisconnect;
    expect(counted - countedBefore).toBe(1);
  };
}

/**
 * Replies the agent or the wire dropped and counted: bad messages, late replies, refusals after
 * quiesce, failed transfers, and what the wire counted (signals after close, stray replies).
 */
async function countedReplies(rig: SameThreadRig): Promise<number> {
  const i = rig.instrument;
  return (
    badTotal(rig) +
    i.lateReplies +
    i.overtakenResponses +
    i.refusedAfterQuiesce +
    i.failed +
    (rig.ends.droppedSignals?.() ?? 0) +
    ((await rig.ends.strayRepliesDropped?.()) ?? 0)
  );
}

/** Bad messages the agent counted, every reason, every channel. */
function badTotal(rig: SameThreadRig): number {
  return Object.values(rig.instrument.badMessages()).reduce((a, b) => a + b, 0);
}

async function setRate(
  agent: ScmiAgent,
  clockId: number,
  hz: number,
  flags = 0,
): Promise<Uint8Array> {
  return agent.transact(CLOCK, CLOCK_RATE_SET, u32s(flags, clockId, hz, 0), {
    async: (flags & 1) === 1,
  });
}

/**
 * Fails the case when a randomized campaign found `problems` (its violations, then what
 * `raceCampaignShortfalls` / `hostileCampaignShortfalls` or the case found missing), with one
 * error whose message names the seed and the command that replays it — as the fuzz tests do — so
 * that whatever check fails, the report says how to run it again. `context` adds what the campaign
 * saw (phases, counts).
 */
function failWithSeed(
  what: string,
  r: { readonly seed: number; readonly reproduce: string },
  replay: string,
  context: string,
  problems: readonly string[],
): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, 20).map((p) => `\n  - ${p}`);
  const more = problems.length > 20 ? `\n  … ${problems.length - 20} more` : '';
  throw new Error(
    `${what}: seed ${r.seed} (${replay}; again: ${r.reproduce}); ${context}${shown.join('')}${more}`,
  );
}

/** What a worker campaign's failure says to replay it in jest (`SCMI_SEED`, see the worker block). */
const workerReplay = (seed: number): string =>
  `SCMI_SEED=${seed} repeats its delays and fault placement`;

/**
 * The checks of a worker-mode race campaign (the seed scenario, the delayed-response race): no
 * violation, and {@link raceCampaignShortfalls} — the runs asked, and the race run rather than
 * only won, a reply in time and one late (the campaign goes on, bounded, until both happened, so
 * this does not depend on luck) — the same checks `pnpm stress` applies. Fails with the seed, the
 * phases and the replay command.
 */
function expectRaceRun(
  what: string,
  reply: string,
  r: {
    readonly seed: number;
    readonly runs: number;
    readonly phases: Readonly<Record<string, number>>;
    readonly violations: readonly string[];
    readonly reproduce: string;
  },
  runs: number,
): void {
  failWithSeed(
    what,
    r,
    workerReplay(r.seed),
    `${r.runs} runs, phases ${JSON.stringify(r.phases)}`,
    [...r.violations, ...raceCampaignShortfalls(r, runs, reply)],
  );
}

/**
 * The transport conformance suite (a TCK): call it from a transport package's test file with its
 * fixture. It runs, in the same thread on a virtual clock: round trip; many transfers in flight
 * (out of order where the transport allows it); delayed responses, one overtaking its response;
 * notifications in order per source and drop counting under a storm; timeouts and a late reply;
 * remove with transfers in flight; hostile replies; the seed scenario with the late reply in
 * each teardown phase; and, with a P2A channel, a notification arriving in each teardown phase. In
 * worker mode (when the fixture has one): the seed scenario on real time with randomized delays
 * (replies in time and replies late, both required), with a P2A channel the same race for a
 * delayed response, and hostile replies (faults placed and bad messages counted, required) — each
 * randomized case judged as `pnpm stress` judges the campaign, and failing with its seed and the
 * command that replays it; and, when the fixture's worker sessions can be killed
 * (`WorkerFixtureSession.kill`), the platform's thread dying with commands in flight (and, with a
 * P2A channel, with a delayed response pending): they fail at once with a typed error, their
 * channels are lost and `onLost` told once, the agent is removed cleanly (`runPlatformDeathWorker`).
 * A fixture whose capabilities declare a worker mode it does not provide fails a case that says
 * so.
 * After every case: no violation, no resource left live, no timer armed. Cases that do not apply
 * to the fixture's capabilities are skipped.
 *
 * @example
 * ```ts
 * // packages/mailbox-transport/test/conformance.test.ts
 * import { runTransportConformance } from '@scmi-ts/conformance';
 * import { mailboxFixture } from './support/fixture.js';
 * runTransportConformance(mailboxFixture);
 * ```
 */
export function runTransportConformance(
  fixture: TransportFixture,
  options: ConformanceOptions = {},
): void {
  const caps = fixture.capabilities;
  const itIf = (condition: boolean): jest.It => (condition ? it : it.skip);
  const describeIf = (condition: boolean): jest.Describe => (condition ? describe : describe.skip);

  describe(`transport conformance: ${fixtureTitle(fixture)}`, () => {
    describe('same thread', () => {
      it('should probe, discover the platform, exchange messages and remove', async () => {
        await withRig(fixture, async (rig) => {
          const agent = await rig.probe();
          expect(agent.info.vendor).toBe('scmi-ts');
          expect(agent.info.protocols).toEqual(
            expect.arrayContaining([0x11, 0x13, 0x14, 0x15, 0x16]),
          );
          expect(await agent.base.discoverSubVendor()).toBe('emulated');
          const version = readU32(await agent.transact(CLOCK, 0x0), 0);
          expect(version >>> 16).toBeGreaterThanOrEqual(1);
          await agent.remove();
        });
      });

      it(`should complete many transfers in flight${caps.outOfOrder ? ', out of order' : ''}`, async () => {
        await withRig(fixture, async (rig) => {
          const agent = await rig.probe();
          if (caps.outOfOrder) {
            rig.platform.faults.add({
              match: { protocolId: CLOCK, messageId: CLOCK_ATTRIBUTES, probability: 0.5 },
              action: { kind: 'reorder', maxHoldMs: 5 },
            });
          }
          const completed: number[] = [];
          const names = await Promise.all(
            Array.from({ length: 24 }, (_, i) =>
              agent.transact(CLOCK, CLOCK_ATTRIBUTES, u32s(i % 3)).then((r) => {
                completed.push(i);
                const reader = new PayloadReader(r);
                reader.u32();
                return reader.string(16);
              }),
            ),
          );
          const expected = ['cpu-pll', 'uart'];
          for (let i = 0; i < names.length; i++) {
            const name = names[i] as string;
            if (i % 3 < 2) expect(name).toBe(expected[i % 3]);
            else expect(name.length).toBeGreaterThan(0);
          }
          if (caps.outOfOrder) {
            // The platform held replies back (its generator is seeded: the same ones every run),
            // and the transport delivered a later command's reply before an earlier one's.
            expect(rig.platform.faults.counts.reorder).toBeGreaterThan(0);
            expect(completed.some((c, k) => k > 0 && c < (completed[k - 1] as number))).toBe(true);
          }
          await agent.remove();
        });
      });

      itIf(caps.p2a)('should wait for a delayed response of an asynchronous command', async () => {
        await withRig(fixture, async (rig) => {
          const agent = await rig.probe();
          const dr = await setRate(agent, 0, 800 * MHZ, 1);
          const r = new PayloadReader(dr);
          expect(r.u32()).toBe(0);
          expect(Number(r.u64())).toBe(800 * MHZ);
          expect(readU32(await agent.transact(CLOCK, CLOCK_RATE_GET, u32s(0)), 0)).toBe(800 * MHZ);
          await agent.remove();
        });
      });

      itIf(caps.p2a)('should accept a delayed response that overtakes its response', async () => {
        await withRig(fixture, async (rig) => {
          const agent = await rig.probe();
          // `late-reply`: the platform processes the command now — its delayed response follows
          // after the clock's latency — and sends the response only 10 ms later (within the 30 ms
          // timeout), so the delayed response overtakes it. (`delay` would defer the processing
          // too: the delayed response would then follow the response.)
          rig.platform.faults.add({
            match: { stage: 'command', protocolId: CLOCK, messageId: CLOCK_RATE_SET, times: 1 },
            action: { kind: 'late-reply', ms: 10 },
          });
          const isRateSet = (header: number): boolean =>
            headerProtocolId(header) === CLOCK && headerMessageId(header) === CLOCK_RATE_SET;
          const delayed = (header: number): boolean =>
            headerType(header) === ScmiMessageType.DELAYED_RESPONSE;
          const order: string[] = [];
          rig.port.observe((m) => {
            const header = readU32(m.bytes, 0);
            if (isRateSet(header))
              order.push(delayed(header) ? 'delayed response sent' : 'response sent');
          });
          rig.instrument.onRx = (_channel, header) => {
            if (isRateSet(header))
              order.push(delayed(header) ? 'delayed response received' : 'response received');
          };
          const countedBefore = await countedReplies(rig);
          const badBefore = badTotal(rig);
          const dr = await setRate(agent, 0, 600 * MHZ, 1);
          order.push('transfer completed');
          await rig.clock.runUntilIdle();
          rig.port.observe(undefined);
          rig.instrument.onRx = undefined;
          // The delayed response reached the agent and completed the transfer before the platform
          // even sent the response. (A wire may drop the response to a completed transfer before
          // the agent's callback: 'response received' is then absent, and the drop is counted.)
          expect(order.filter((e) => e !== 'response received')).toEqual([
            'delayed response sent',
            'delayed response received',
            'transfer completed',
            'response sent',
          ]);
          if (order.includes('response received'))
            expect(order[order.length - 1]).toBe('response received');
          // The delayed response's payload: clock id, then the rate set (u64).
          expect(dr.byteLength).toBe(12);
          const r = new PayloadReader(dr);
          expect(r.u32()).toBe(0);
          expect(Number(r.u64())).toBe(600 * MHZ);
          // The response that came after was dropped and counted — once: not delivered twice, and
          // not counted by the agent and the wire both — as an overtaken response, not a bad
          // message (the platform sent it first: nothing on the wire was wrong).
          expect((await countedReplies(rig)) - countedBefore).toBe(1);
          expect(badTotal(rig)).toBe(badBefore);
          if (order.includes('response received'))
            expect(rig.instrument.overtakenResponses).toBe(1);
          expect(readU32(await agent.transact(CLOCK, CLOCK_RATE_GET, u32s(0)), 0)).toBe(600 * MHZ);
          await agent.remove();
        });
      });

      itIf(caps.p2a)(
        'should deliver notifications in order per source, and count drops under a storm',
        async () => {
          await withRig(fixture, async (rig) => {
            const agent = await rig.probe({ notificationQueueDepth: 4 });
            registerClockRateChanged(agent);
            const seen: number[] = [];
            const off = await agent.events.subscribe(
              { protocolId: CLOCK, eventId: 0, source: 0 },
              (n) => {
                seen.push(readU32(n.payload, 8));
              },
            );
            // A second source (clock 1), its changes interleaved with clock 0's: each handler
            // gets its own source's notifications, in the order the platform posted them.
            const seen1: [number, number][] = [];
            const off1 = await agent.events.subscribe(
              { protocolId: CLOCK, eventId: 0, source: 1 },
              (n) => {
                seen1.push([readU32(n.payload, 4), readU32(n.payload, 8)]);
              },
            );
            const rates = [300, 400, 500, 600, 700].map((m) => m * MHZ);
            const rates1 = [48 * MHZ, 19_200_000, 24 * MHZ, 48 * MHZ, 19_200_000];
            for (const [i, hz] of rates.entries()) {
              await setRate(agent, 0, hz);
              await setRate(agent, 1, rates1[i] as number);
            }
            await rig.clock.runUntilIdle();
            expect(seen).toEqual(rates);
            expect(seen1).toEqual(rates1.map((hz) => [1, hz]));
            await off1();
            // A storm: every notification is delivered, dropped by the agent's queue, or refused by
            // the wire at the platform — and each drop is counted.
            const storm = 64;
            const before = agent.diagnostics.notifications;
            const platformBefore = rig.platform.counters.notificationsDropped;
            rig.platform.faults.add({
              match: { protocolId: CLOCK, messageId: CLOCK_RATE_GET, times: 1 },
              action: {
                kind: 'notification-storm',
                count: storm,
                protocolId: CLOCK,
                messageId: 0,
                // CLOCK_RATE_CHANGED: agent id, clock id, rate (low, high word) — u32 words.
                payload: [AGENT_ID, 0, 1, 0],
              },
            });
            const delivered = seen.length;
            await agent.transact(CLOCK, CLOCK_RATE_GET, u32s(0));
            await rig.clock.runUntilIdle();
            const after = agent.diagnostics.notifications;
            const got = seen.length - delivered;
            const droppedByAgent = after.dropped - before.dropped;
            const droppedByPlatform = rig.platform.counters.notificationsDropped - platformBefore;
            expect(got + droppedByAgent + droppedByPlatform).toBe(storm);
            expect(got).toBeGreaterThan(0);
            // Each storm notification carried the payload as set: rate 1.
            expect(seen.slice(delivered)).toEqual(Array.from({ length: got }, () => 1));
            await off();
            await agent.remove();
          });
        },
      );

      itIf(caps.p2a)(
        'should disable at the platform, before the teardown, every notification still subscribed',
        async () => {
          await withRig(fixture, async (rig) => {
            // What the platform still has the agent subscribed to when the removal's teardown
            // begins (its first quiesce step).
            let removing = false;
            let atTeardown: readonly unknown[] | undefined;
            const agent = await rig.probe({
              log: (event) => {
                if (removing && event.type === 'quiesce' && atTeardown === undefined)
                  atTeardown = rig.platform.subscriptions(AGENT_ID);
              },
            });
            registerClockRateChanged(agent);
            for (const source of [0, 1])
              await agent.events.subscribe(
                { protocolId: CLOCK, eventId: 0, source },
                () => undefined,
              );
            expect(rig.platform.subscriptions(AGENT_ID)).toHaveLength(2);
            // Left subscribed: the removal disables them (firmware forgets a subscriber only when
            // told), while the channels are live.
            removing = true;
            await agent.remove();
            expect(atTeardown).toEqual([]);
            expect(agent.diagnostics.notifications).toMatchObject({
              disabledAtRemoval: 2,
              disableFailures: 0,
            });
          });
        },
      );

      itIf(!caps.p2a)('should refuse notifications without a P2A channel', async () => {
        await withRig(fixture, async (rig) => {
          const agent = await rig.probe();
          expect(agent.events.available).toBe(false);
          await expect(
            agent.events.subscribe({ protocolId: 0x10, eventId: 0 }, () => undefined),
          ).rejects.toMatchObject({
            code: 'E_NOT_SUPPORTED',
          });
          await agent.remove();
        });
      });

      it('should time out, count the late reply, and leave the next transfer unaffected', async () => {
        await withRig(fixture, async (rig, afterClose) => {
          afterClose(await lateReplyCase(rig, await rig.probe()));
        });
      });

      itIf(caps.polling)(
        'should complete transfers on polling channels, and time out and count a late reply there too',
        async () => {
          await withRig(fixture, async (rig, afterClose) => {
            // The fixture's channels (or A2P channel 0), each completing by polling.
            const agent = await rig.probe({ a2p: pollingA2p(rig.ends) });
            expect(agent.diagnostics.channels.filter((c) => c.direction === 'a2p')).not.toEqual([]);
            const rates = await Promise.all(
              [0, 1, 0, 1].map(async (id) =>
                readU32(await agent.transact(CLOCK, CLOCK_RATE_GET, u32s(id)), 0),
              ),
            );
            expect(rates).toEqual([1200 * MHZ, 24 * MHZ, 1200 * MHZ, 24 * MHZ]);
            afterClose(await lateReplyCase(rig, agent));
          });
        },
      );

      describe.each(POLLED_LATE_REPLY_MOMENTS)(
        'with a late reply on a polling channel, sent %s',
        (moment: PolledLateReplyMoment) => {
          itIf(caps.polling)(
            'should drop it and count it exactly once, never lose it',
            async () => {
              await withRig(
                fixture,
                async (rig, afterClose) => {
                  afterClose(await polledLateReplyCase(rig, moment));
                },
                { auto: false },
              );
            },
          );
        },
      );

      it('should fail transfers in flight at remove with the shutdown error, and never hang', async () => {
        await withRig(
          fixture,
          async (rig) => {
            const agent = await rig.run(rig.probe());
            rig.platform.faults.add({
              match: { protocolId: CLOCK, messageId: CLOCK_RATE_GET },
              action: { kind: 'delay', ms: 20 },
            });
            const inFlight = [1, 2, 3].map((n) =>
              agent.transact(CLOCK, CLOCK_RATE_GET, u32s(n % 2)).then(
                () => 'ok',
                (e: unknown) => e,
              ),
            );
            await rig.clock.advance(1);
            expect(await rig.settle(agent.remove())).toBe(true);
            for (const p of inFlight) expect(await p).toBeInstanceOf(ScmiShutdownError);
          },
          { auto: false },
        );
      });

      describe.each(HOSTILE_ACTIONS.map((a) => [hostileActionName(a), a] as const))(
        'with hostile replies (%s)',
        (_name, action: FaultAction) => {
          it('should count them, never crash, and keep working', async () => {
            await withRig(fixture, async (rig) => {
              const agent = await rig.probe();
              const countedBefore = await countedReplies(rig);
              rig.platform.faults.add({
                match: { protocolId: CLOCK, messageId: 0x0, times: 2 },
                action,
              });
              for (let i = 0; i < 4; i++) {
                await agent.transact(CLOCK, 0x0).catch((e: unknown) => {
                  if (!ScmiError.is(e)) throw e;
                });
              }
              await rig.clock.runUntilIdle();
              // The fault fired on both commands…
              const fired = rig.platform.faults.counts[action.kind];
              expect(fired).toBe(2);
              // …and each hostile reply was counted once: by the agent (a bad message, a late
              // reply, a failed transfer) or, for a duplicate or unsolicited reply a wire refuses to
              // carry, by the wire when it counts them (FixtureEnds.strayRepliesDropped) — never by
              // both, never twice. (A wire that counts no stray reply may drop those two kinds
              // unseen: then nothing at all.)
              const counted = (await countedReplies(rig)) - countedBefore;
              if (
                hostileReplyReachesAgent(action) ||
                rig.ends.strayRepliesDropped !== undefined ||
                counted > 0
              ) {
                expect(counted).toBe(fired);
              }
              // Whatever reached the agent's callbacks was used or counted, never ignored.
              const a2p = rig.instrument.channels.filter((c) => c.label.startsWith('a2p:'));
              const rx = a2p.reduce((n, c) => n + c.rxTimes.length, 0);
              const used = a2p.reduce(
                (n, c) =>
                  n +
                  c.counters.completed +
                  c.counters.failed +
                  c.counters.lateReplies +
                  c.counters.badMessageTotal,
                0,
              );
              expect(rx).toBeLessThanOrEqual(used);
              const version = readU32(await agent.transact(CLOCK, 0x0), 0);
              expect(version >>> 16).toBeGreaterThanOrEqual(1);
              await agent.remove();
            });
          });
        },
      );

      it('should carry hostile content behind a valid header to the agent, which refuses it with a typed error and keeps working', async () => {
        await withRig(fixture, async (rig) => {
          const agent = await rig.probe();
          const total = agent.info.protocols.length;
          // DISCOVER_LIST_PROTOCOLS says 200 protocols, more than PROTOCOL_ATTRIBUTES announced:
          // the bytes reach the agent unchanged, and its Base protocol refuses the count.
          rig.platform.faults.add({
            match: {
              protocolId: ScmiProtocolId.BASE,
              messageId: BaseMessageId.DISCOVER_LIST_PROTOCOLS,
              times: 1,
            },
            action: { kind: 'corrupt-bytes', offset: 8, bytes: [200, 0, 0, 0] },
          });
          const error = await agent.base.discoverListProtocols(total).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ScmiMalformedError);
          expect(error).toMatchObject({ code: 'E_MULTIPART' });
          expect(rig.platform.faults.counts['corrupt-bytes']).toBe(1);
          expect(await agent.base.discoverListProtocols(total)).toEqual(agent.info.protocols);
          await agent.remove();
        });
      });

      describe('seed scenario: Base discovery times out, the platform replies late, probe fails', () => {
        it.each<SeedPhase>(['before-quiesce', 'during-quiesce', 'draining', 'after-release'])(
          'should drop and count the late reply arriving %s, with no callback against released state',
          async (phase) => {
            const r = await runSeedScenarioSameThread(fixture, phase);
            // The late reply reached the phase asked for. Two transport properties make a phase
            // unreachable, and the run detects and reports each: teardown that waits for the
            // platform cannot release before the reply ('after-release' observes 'draining'); a
            // wire that signals the agent from a task of its own cannot reach the agent before
            // teardown first waits, at the channel's quiesce ('before-quiesce' and
            // 'during-quiesce' observe 'draining').
            if (phase !== 'after-release') expect(r.teardownWaitedForPlatform).toBe(false);
            // The problems first: a hang (the probe never settled) explains a phase not reached.
            expect(r.problems).toEqual([]);
            expect(r.observedPhase).toBe(expectedSeedPhase(phase, r));
            // One late reply, counted once in all: by core, a guard or the wire (a wire counts at
            // its reset only what no refused callback counted already).
            expect(r.accounted).toBe(1);
          },
        );
      });

      it("should stop a probe aborted while Base discovery waits: reject with the signal's reason, tear down, drop and count the held reply once", async () => {
        const r = await runProbeAbortSameThread(fixture);
        expect(r.problems).toEqual([]);
        expect(r.probeError).toBe(r.reason);
        expect(r.accounted).toBe(1);
        // The probe gives up at once, not when the 30 ms response timeout would end its wait (the
        // teardown then takes what the transport's quiesce takes: OP-TEE awaits the invocation).
        expect(r.teardownAfterMs).toBeLessThan(30 - PROBE_ABORT_AFTER_MS);
      });

      describeIf(caps.p2a)('a notification arriving while the agent is removed', () => {
        it.each<NotificationTeardownPhase>([
          'before-quiesce',
          'during-quiesce',
          'draining',
          'after-release',
        ])(
          'should call no handler for a notification posted %s, and drop and count it once',
          async (phase) => {
            const r = await runNotificationTeardownSameThread(fixture, phase);
            expect(r.problems).toEqual([]);
            expect(r.handled).toBe(0);
            expect(r.accounted).toBe(1);
          },
        );
      });

      it('should keep every invariant over seeded interleavings of send, reply, timeout, probe failure and remove', async () => {
        // A fixed seed: same-thread cases are deterministic (`pnpm stress --interleavings` explores
        // new seeds; SCMI_INTERLEAVING_SEED picks another here).
        const seed = seedFromEnv('SCMI_INTERLEAVING_SEED', 20261202);
        const r = await runInterleavingSimulation(fixture, {
          seed,
          schedules: options.interleavings ?? 100,
        });
        const schedules = options.interleavings ?? 100;
        // The schedules asked were run, and raced teardown against late replies, not only ran
        // clean probes (the check `pnpm stress` applies too).
        const problems = [...r.violations, ...interleavingCampaignShortfalls(r, schedules)];
        failWithSeed(
          'interleavings',
          r,
          `SCMI_INTERLEAVING_SEED=${r.seed} runs the same schedules`,
          `outcomes ${JSON.stringify(r.outcomes)}`,
          problems,
        );
      }, 120_000);
    });

    // A fixture that says it has a worker mode but gives none would otherwise skip every worker
    // case without a word: a failure that says what is missing.
    itIf(caps.worker)('should provide the worker mode its capabilities declare', () => {
      if (fixture.worker === undefined) {
        throw new Error(
          `${fixtureTitle(fixture)}: capabilities.worker is true but the fixture has no worker() — the worker cases (the seed scenario and the delayed-response race on real time, hostile replies from a worker) cannot run; give the fixture its worker(), or set capabilities.worker to false`,
        );
      }
    });

    const workerDescribe = caps.worker && fixture.worker !== undefined ? describe : describe.skip;
    workerDescribe('worker thread', () => {
      let session: WorkerFixtureSession | undefined;
      const timeout = options.workerTimeoutMs ?? 60_000;
      // One seed for the session and both campaigns, printed with any failure: `pnpm stress --seed`
      // with it draws the same delays, fault kinds and placement (the campaigns take them from the
      // seed, not from the worker platform's generator, whose state depends on the session's past).
      // SCMI_SEED sets it, as it does for the packages' own worker seed tests.
      const seed = seedFromEnv('SCMI_SEED', Date.now() & 0x7fffffff);
      beforeAll(async () => {
        session = await fixture.worker?.({
          platformConfig: createDefaultPlatformConfig(),
          agentId: AGENT_ID,
          seed,
        });
      }, timeout);
      afterAll(async () => {
        await session?.stop();
      }, timeout);

      const seedCase = async (polling: boolean): Promise<void> => {
        const runs = options.workerSeedRuns ?? 100;
        const r = await withSeedOnFailure('seed scenario', seed, timeout, () =>
          runSeedScenarioWorker(fixture, {
            runs,
            coverageRuns: options.workerSeedCoverageRuns ?? raceCoverageRuns(runs),
            seed,
            polling,
            ...(session === undefined ? {} : { session }),
          }),
        );
        expectRaceRun(`seed scenario${polling ? ' (polling)' : ''}`, 'reply', r, runs);
      };

      it(
        'should run the seed scenario on real time with randomized delays, with no invariant violated',
        () => seedCase(false),
        timeout,
      );

      const delayedCase = async (polling: boolean): Promise<void> => {
        const runs = options.workerDelayedRuns ?? 30;
        const r = await withSeedOnFailure('delayed-response race', seed, timeout, () =>
          runDelayedResponseRaceWorker(fixture, {
            runs,
            coverageRuns: raceCoverageRuns(runs),
            seed,
            polling,
            ...(session === undefined ? {} : { session }),
          }),
        );
        expectRaceRun(
          `delayed-response race${polling ? ' (polling)' : ''}`,
          'delayed response',
          r,
          runs,
        );
      };

      itIf(caps.p2a)(
        'should race late delayed responses against the removal on real time, with no invariant violated',
        () => delayedCase(false),
        timeout,
      );

      itIf(caps.p2a && caps.polling)(
        'should race late delayed responses of polled commands against the removal too',
        () => delayedCase(true),
        timeout,
      );

      itIf(caps.polling)(
        'should run the seed scenario on polling channels too (nothing signals the late reply)',
        () => seedCase(true),
        timeout,
      );

      // The platform's thread dies with commands in flight: each case starts a worker session of
      // its own (the death is for good) and kills it (`WorkerFixtureSession.kill`; a fixture whose
      // sessions cannot be killed runs nothing here). The agent waits 120 s for its responses: a
      // transport that does not notice the death leaves its commands waiting, and the scenario
      // reports that after a third of the case's timeout — or the case hits jest's timeout — never
      // a pass. Only invariants are checked, never elapsed times.
      const deathCase = async (pending: PlatformDeathPending): Promise<void> => {
        const r = await runPlatformDeathWorker(fixture, {
          pending,
          seed,
          hangMs: Math.floor(timeout / 3),
        });
        if (!r.ran || r.violations.length === 0) return;
        const shown = r.violations.map((v) => `\n  - ${v}`).join('');
        throw new Error(
          `platform death (${pending}): seed ${r.seed}; in flight ${JSON.stringify(r.outcomes)}, after the death ${String(r.afterDeath)}, lost ${JSON.stringify(r.lost)}${shown}`,
        );
      };

      it(
        "should fail the commands in flight with a typed error, mark their channels lost and remove, when the platform's thread dies",
        () => deathCase('responses'),
        timeout,
      );

      itIf(caps.p2a)(
        "should fail a command waiting for its delayed response too, and mark the P2A channel lost, when the platform's thread dies",
        () => deathCase('delayed-response'),
        timeout,
      );

      it(
        'should survive hostile replies from the worker, and count them',
        async () => {
          const r = await withSeedOnFailure('hostile replies', seed, timeout, () =>
            runHostileRepliesWorker(fixture, {
              runs: options.workerHostileRuns ?? 8,
              seed,
              ...(session === undefined ? {} : { session }),
            }),
          );
          // No violation; faults were placed, and hostile replies were counted as bad messages
          // (the same checks `pnpm stress` applies).
          failWithSeed(
            'hostile replies',
            r,
            workerReplay(r.seed),
            `${r.faultsPlaced} faults placed, ${r.badMessages} bad messages; per kind ${JSON.stringify(r.byKind)}`,
            [...r.violations, ...hostileCampaignShortfalls(r)],
          );
        },
        timeout,
      );
    });
  });
}
