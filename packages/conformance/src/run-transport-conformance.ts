import {
  PayloadReader,
  ScmiError,
  ScmiShutdownError,
  ScmiTimeoutError,
  readU32,
  type ScmiAgent,
} from '@scmi-ts/core';
import type { FaultAction } from '@scmi-ts/platform';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import type { TransportFixture, WorkerFixtureSession } from './fixture.js';
import { AGENT_ID, SameThreadRig, type RigOptions } from './rig.js';
import { HOSTILE_ACTIONS, runHostileRepliesWorker } from './scenarios/hostile-replies.js';
import {
  runSeedScenarioSameThread,
  runSeedScenarioWorker,
  type SeedPhase,
} from './scenarios/seed-scenario.js';

/** Options of {@link runTransportConformance}. */
export interface ConformanceOptions {
  /** Worker-mode seed runs in the jest suite (default 100; `pnpm stress` runs the long campaign). */
  readonly workerSeedRuns?: number;
  /** Worker-mode hostile-reply runs (default 8). */
  readonly workerHostileRuns?: number;
  /** Per-test timeout for worker cases, ms (default 60 s). */
  readonly workerTimeoutMs?: number;
}

const CLOCK = 0x14;
const CLOCK_ATTRIBUTES = 0x3;
const CLOCK_RATE_SET = 0x5;
const CLOCK_RATE_GET = 0x6;
const CLOCK_RATE_NOTIFY = 0x9;
const MHZ = 1_000_000;

function u32s(...words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true));
  return b;
}

/** Runs `body` on a fresh rig and fails the test on any hygiene problem afterwards. */
async function withRig(
  fixture: TransportFixture,
  body: (rig: SameThreadRig) => Promise<void>,
  options?: RigOptions,
): Promise<void> {
  const rig = await SameThreadRig.create(fixture, options);
  let failure: unknown;
  try {
    await body(rig);
  } catch (e) {
    failure = e;
  }
  const problems = await rig.dispose();
  if (failure !== undefined) throw failure as Error;
  expect(problems).toEqual([]);
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
 * The transport conformance suite (a TCK): call it from a transport package's test file with its
 * fixture. It runs, in the same thread on a virtual clock: round trip; many transfers in flight
 * (out of order where the transport allows it); delayed responses, one overtaking its response;
 * notifications in order per source and drop counting under a storm; timeouts and a late reply;
 * remove with transfers in flight; hostile replies; and the seed scenario with the late reply in
 * each teardown phase. In worker mode (when the fixture has one): round trip, the seed scenario on
 * real time with randomized delays, and hostile replies. After every case: no violation, no
 * resource left live, no timer armed. Cases that do not apply to the fixture's capabilities are
 * skipped.
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

  describe(`transport conformance: ${fixture.name}`, () => {
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
          const names = await Promise.all(
            Array.from({ length: 24 }, (_, i) =>
              agent.transact(CLOCK, CLOCK_ATTRIBUTES, u32s(i % 3)).then((r) => {
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
          rig.platform.faults.add({
            match: { stage: 'command', protocolId: CLOCK, messageId: CLOCK_RATE_SET, times: 1 },
            action: { kind: 'delay', ms: 10 },
          });
          const dr = await setRate(agent, 0, 600 * MHZ, 1);
          expect(readU32(dr, 0)).toBe(0);
          await rig.clock.runUntilIdle();
          await agent.remove();
        });
      });

      itIf(caps.p2a)(
        'should deliver notifications in order per source, and count drops under a storm',
        async () => {
          await withRig(fixture, async (rig) => {
            const agent = await rig.probe({ notificationQueueDepth: 4 });
            agent.events.register(CLOCK, [
              {
                id: 0x0,
                name: 'clock-rate-changed',
                setNotifyEnabled: async (source, enable) => {
                  await agent.transact(CLOCK, CLOCK_RATE_NOTIFY, u32s(source ?? 0, enable ? 1 : 0));
                },
              },
            ]);
            const seen: number[] = [];
            const off = await agent.events.subscribe(
              { protocolId: CLOCK, eventId: 0, source: 0 },
              (n) => {
                seen.push(readU32(n.payload, 8));
              },
            );
            const rates = [300, 400, 500, 600, 700].map((m) => m * MHZ);
            for (const hz of rates) await setRate(agent, 0, hz);
            await rig.clock.runUntilIdle();
            expect(seen).toEqual(rates);
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
                payload: [...u32s(AGENT_ID, 0, 1, 0)],
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
            await off();
            await agent.remove();
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
        await withRig(fixture, async (rig) => {
          const agent = await rig.probe();
          rig.platform.faults.add({
            match: { protocolId: CLOCK, messageId: CLOCK_RATE_GET, times: 1 },
            action: { kind: 'late-reply', ms: 45 },
          });
          await expect(agent.transact(CLOCK, CLOCK_RATE_GET, u32s(1))).rejects.toBeInstanceOf(
            ScmiTimeoutError,
          );
          await rig.clock.advance(50);
          expect(readU32(await agent.transact(CLOCK, CLOCK_RATE_GET, u32s(1)), 0)).toBe(24 * MHZ);
          await rig.clock.runUntilIdle();
          const stats = agent.diagnostics.channels
            .filter((c) => c.direction === 'a2p')
            .map((c) => c.stats);
          expect(stats.reduce((n, s) => n + s.timeouts, 0)).toBe(1);
          const accounted =
            stats.reduce(
              (n, s) => n + s.lateReplies + s.badMessages.unexpected + s.refusedAfterQuiesce,
              0,
            ) + (rig.ends.droppedSignals?.() ?? 0);
          expect(accounted).toBeGreaterThanOrEqual(1);
          await agent.remove();
        });
      });

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

      describe.each(
        HOSTILE_ACTIONS.map((a) => [`${a.kind}${'length' in a ? ` ${a.length}` : ''}`, a] as const),
      )('with hostile replies (%s)', (_name, action: FaultAction) => {
        it('should count them, never crash, and keep working', async () => {
          await withRig(fixture, async (rig) => {
            const agent = await rig.probe();
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
            const version = readU32(await agent.transact(CLOCK, 0x0), 0);
            expect(version >>> 16).toBeGreaterThanOrEqual(1);
            await agent.remove();
          });
        });
      });

      describe('seed scenario: Base discovery times out, the platform replies late, probe fails', () => {
        it.each<SeedPhase>(['before-quiesce', 'during-quiesce', 'draining', 'after-release'])(
          'should drop and count the late reply arriving %s, with no callback against released state',
          async (phase) => {
            const r = await runSeedScenarioSameThread(fixture, phase);
            expect(r.problems).toEqual([]);
            expect(r.accounted).toBeGreaterThanOrEqual(1);
          },
        );
      });
    });

    const workerDescribe = caps.worker && fixture.worker !== undefined ? describe : describe.skip;
    workerDescribe('worker thread', () => {
      let session: WorkerFixtureSession | undefined;
      const timeout = options.workerTimeoutMs ?? 60_000;
      beforeAll(async () => {
        session = await fixture.worker?.({
          platformConfig: createDefaultPlatformConfig(),
          agentId: AGENT_ID,
          seed: 1,
        });
      }, timeout);
      afterAll(async () => {
        await session?.stop();
      }, timeout);

      it(
        'should run the seed scenario on real time with randomized delays, with no invariant violated',
        async () => {
          const r = await runSeedScenarioWorker(fixture, {
            runs: options.workerSeedRuns ?? 100,
            ...(session === undefined ? {} : { session }),
          });
          if (r.violations.length > 0) console.error(`seed ${r.seed} reproduces:`, r.violations);
          expect(r.violations).toEqual([]);
          expect(r.runs).toBe(options.workerSeedRuns ?? 100);
        },
        timeout,
      );

      it(
        'should survive hostile replies from the worker',
        async () => {
          const r = await runHostileRepliesWorker(fixture, {
            runs: options.workerHostileRuns ?? 8,
            ...(session === undefined ? {} : { session }),
          });
          if (r.violations.length > 0) console.error(`seed ${r.seed} reproduces:`, r.violations);
          expect(r.violations).toEqual([]);
        },
        timeout,
      );
    });
  });
}
