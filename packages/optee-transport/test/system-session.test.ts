import {
  CLOCK,
  LOGGER,
  ScmiShutdownError,
  ScmiTimeoutError,
  coreModule,
  createAgent,
  silentLogger,
  type ScmiAgent,
  type ScmiLogger,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { Container } from 'inversify';
import {
  TeeResult,
  openTeeContext,
  opteeTransportConfig,
  opteeTransportModule,
  type TeeSession,
} from '../src/index.js';
import { createOpteeHarness, type OpteeHarness } from './support/harness.js';
import { withoutSystemSessions } from './support/ffa-driver.js';
import { HoldPtaCommand, addHoldPta, holdCall, openHoldSession } from './support/hold-pta.js';

const BASE = 0x10;
const DISCOVER_VENDOR = 0x3;
const CLOCK_PROTOCOL = 0x14;

function vendor(agent: ScmiAgent): Promise<Uint8Array> {
  return agent.transact(BASE, DISCOVER_VENDOR, undefined, { rxSize: 16 });
}

function settle(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => v,
    (e: unknown) => e,
  );
}

/** A logger that keeps the warnings. */
function warningLog(): { logger: ScmiLogger; warnings: string[] } {
  const warnings: string[] = [];
  return { logger: { ...silentLogger, warn: (m) => warnings.push(m) }, warnings };
}

// Linux ≥ 6.8 (drivers/firmware/arm_scmi/transports/optee.c, scmi_optee_chan_setup): each
// channel's session is made a system session right after it is opened, best effort; the OP-TEE
// driver then keeps a thread for it while other clients hold every other thread.
describe('system sessions (Linux tee_client_system_session), end to end', () => {
  ensureNoLeaksInSuite();

  let h: OpteeHarness | undefined;
  afterEach(async () => {
    if (h === undefined) return;
    await h.close();
    expect(h.ends.transport.diagnostics().violations).toEqual([]);
    expect(h.clock.armedTimers).toBe(0);
    h = undefined;
  });

  /** Runs the manual clock until idle and gives `p`'s outcome. */
  async function run<T>(harness: OpteeHarness, p: Promise<T>): Promise<T> {
    await harness.clock.runUntilIdle();
    return p;
  }

  /**
   * Another TEE client on the same driver: one session to the hold PTA per OP-TEE thread, each
   * invoking a call the PTA holds — as many calls as there are threads.
   */
  async function occupyEveryThread(harness: OpteeHarness) {
    const pta = addHoldPta(harness.ends.optee);
    const context = openTeeContext(harness.ends.driver);
    const sessions: TeeSession[] = [];
    for (let i = 0; i < harness.ends.driver.wire.layout.threads; i++) {
      sessions.push(await run(harness, openHoldSession(context)));
    }
    const holds = sessions.map((s, i) => holdCall(s, HoldPtaCommand.HOLD, i));
    await harness.clock.runUntilIdle();
    return { pta, context, holds };
  }

  describe.each(['static', 'dynamic'] as const)('with %s shared memory', (shmem) => {
    it('should complete SCMI commands through the reserved thread while another client holds every other thread', async () => {
      const { logger, warnings } = warningLog();
      h = await createOpteeHarness({ shmem, auto: false, logger });
      const agent = await run(h, h.create());
      expect(warnings).toEqual([]);
      expect(h.ends.transport.diagnostics()).toMatchObject({
        systemSessionsRefused: 0,
        channels: [{ label: 'a2p:0', systemSession: true }],
      });
      const driver = h.ends.driver;
      expect(driver.stats.systemSessions).toBe(1);

      const threads = driver.wire.layout.threads;
      const { pta, context, holds } = await occupyEveryThread(h);
      // Every thread but the kept one is held; the other client's last call waits for it.
      expect(pta.held).toHaveLength(threads - 1);
      expect(driver.stats.waitedForReservedThread).toBe(1);

      const reserved = driver.stats.reservedThreadCalls;
      const reply = await run(h, settle(vendor(agent)));
      expect(reply).toBeInstanceOf(Uint8Array);
      expect(new TextDecoder().decode(reply as Uint8Array).replace(/\0+$/, '')).toBe('scmi-ts');
      // It ran on the kept thread, and the thread is still not the other client's.
      expect(driver.stats.reservedThreadCalls).toBe(reserved + 1);
      expect(pta.held).toHaveLength(threads - 1);

      // Remove while the other client still holds its threads: the channel's session closes on
      // the kept thread, and with it the reservation ends — the other client's waiting call takes
      // the thread. A MSG buffer's unregistration is a normal call (as in Linux): it waits until
      // the other client lets a thread go.
      let removed = false;
      const removing = agent.remove().then(() => (removed = true));
      await h.clock.runUntilIdle();
      expect(driver.stats.systemSessions).toBe(0);
      expect(pta.held).toHaveLength(threads);
      expect(removed).toBe(shmem === 'static');
      pta.release();
      expect(await run(h, Promise.all(holds))).toEqual(holds.map(() => TeeResult.SUCCESS));
      await run(h, removing);
      await run(h, context.close());
      expect(driver.stats).toMatchObject({ systemSessions: 0, inFlight: 0 });
    });

    it('should leave SCMI waiting behind the other client when the driver refuses system sessions, warning once per channel', async () => {
      const { logger, warnings } = warningLog();
      // OPTEE_SMC_GET_THREAD_COUNT failed (total_thread_count 0): optee_system_session -EINVAL.
      h = await createOpteeHarness({
        shmem,
        auto: false,
        logger,
        driver: { knowsThreadCount: false },
      });
      const agent = await run(h, h.create());
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /a2p:0: could not switch to system session, do best effort .*TEE_ERROR_NOT_SUPPORTED/,
      );
      expect(h.ends.transport.diagnostics()).toMatchObject({
        systemSessionsRefused: 1,
        channels: [{ label: 'a2p:0', systemSession: false }],
      });
      const driver = h.ends.driver;

      const { pta, context, holds } = await occupyEveryThread(h);
      expect(pta.held).toHaveLength(driver.wire.layout.threads);
      const waited = driver.stats.waitedForThread;
      // The SCMI invocation waits for a thread the other client holds: the command times out.
      const reply = await run(h, settle(vendor(agent)));
      expect(reply).toBeInstanceOf(ScmiTimeoutError);
      expect(driver.stats.waitedForThread).toBe(waited + 1);
      // The invocation still waits (it owns the channel): the channel stays held.
      expect(h.ends.transport.diagnostics().channels[0]).toMatchObject({ invoking: true });

      // Once the other client lets go, the invocation runs and returns late; SCMI works again.
      pta.release();
      await h.clock.runUntilIdle();
      expect(await Promise.all(holds)).toEqual(holds.map(() => TeeResult.SUCCESS));
      expect(h.ends.transport.diagnostics().totals.lateReturns).toBe(1);
      expect(await run(h, settle(vendor(agent)))).toBeInstanceOf(Uint8Array);
      await run(h, context.close());
      await run(h, agent.remove());
    });
  });

  // The probe's abort (AgentOptions.signal) while another TEE client holds every OP-TEE thread:
  // the agent's setup call waits for a thread (optee_cq_wait_init) that may never free. The abort
  // withdraws it — it never reaches the TEE — and the probe ends without waiting for the client.
  describe.each(['static', 'dynamic'] as const)(
    "when the probe's signal fires while its setup waits for an OP-TEE thread, with %s shared memory",
    (shmem) => {
      /**
       * Runs a probe with `signal` while another client holds every thread: from the start, or
       * (`inChannelSetup`) from right before the channel's setup, once the device is set up. The
       * hold sessions are opened before the probe, their HOLD calls posted when it is time.
       */
      async function probeBehindHeldThreads(harness: OpteeHarness, inChannelSetup: boolean) {
        const { ends } = harness;
        const pta = addHoldPta(ends.optee);
        const context = openTeeContext(ends.driver);
        const sessions: TeeSession[] = [];
        for (let i = 0; i < ends.driver.wire.layout.threads; i++) {
          sessions.push(await run(harness, openHoldSession(context)));
        }
        let holds: Promise<number>[] = [];
        const occupy = () => {
          holds = sessions.map((s, i) => holdCall(s, HoldPtaCommand.HOLD, i));
        };
        if (inChannelSetup) {
          const setupChannel = ends.transport.setupChannel.bind(ends.transport);
          jest.spyOn(ends.transport, 'setupChannel').mockImplementation((setup) => {
            occupy();
            return setupChannel(setup);
          });
        } else occupy();
        const abort = new AbortController();
        const probing = settle(harness.create({ signal: abort.signal }));
        await harness.clock.runUntilIdle();
        return { pta, context, holds: () => holds, abort, probing };
      }

      it.each([
        ['the device setup (the capabilities session)', false],
        ["the channel's setup", true],
      ] as const)(
        'should give up in %s at once: the probe rejects with the reason, nothing reaches the TEE',
        async (_, inChannelSetup) => {
          h = await createOpteeHarness({ shmem, auto: false });
          const driver = h.ends.driver;
          const { pta, context, holds, abort, probing } = await probeBehindHeldThreads(
            h,
            inChannelSetup,
          );
          const threads = driver.wire.layout.threads;
          expect(pta.held).toHaveLength(threads);
          // The agent's call waits for a thread, and the probe with it.
          expect(driver.stats).toMatchObject({ inFlight: threads + 1, withdrawn: 0 });
          const calls = driver.stats.calls;

          const reason = new Error('operator gave up');
          abort.abort(reason);
          await h.clock.runUntilIdle();
          // Without a thread freeing: the probe ended, torn down, with the reason.
          expect(await probing).toBe(reason);
          expect(driver.stats).toMatchObject({ inFlight: threads, withdrawn: 1, calls });
          expect(pta.held).toHaveLength(threads);
          // The hold sessions only: the agent's are closed (or were never opened).
          expect(h.ends.optee.stats).toMatchObject({ openSessions: threads, registeredShm: 0 });
          expect(h.ends.transport.diagnostics().channels).toEqual([]);

          // When the client lets its threads go, nothing of the agent's is left to run.
          pta.release();
          expect(await run(h, Promise.all(holds()))).toEqual(holds().map(() => TeeResult.SUCCESS));
          expect(driver.stats).toMatchObject({ inFlight: 0, calls });
          expect(h.ends.optee.stats.scmi.messages).toBe(0);
          await run(h, context.close());
          expect(h.ends.optee.stats).toMatchObject({ openSessions: 0, registeredShm: 0 });
        },
      );
    },
  );

  // Linux runs the invoke synchronously in scmi_optee_send_message (drivers/firmware/arm_scmi/
  // optee.c), in the task that sends: a caller told that its transfer failed never has it sent
  // afterwards. Here the invocation is handed to the driver, which queues it while every OP-TEE
  // thread is busy (optee_cq_wait_init); core's shutdown fails the transfer meanwhile. The
  // queued invocation must then be withdrawn, never posted, as a send waiting for the channel is.
  describe.each(['static', 'dynamic'] as const)(
    'when remove fails a transfer whose invocation waits for an OP-TEE thread, with %s shared memory',
    (shmem) => {
      /**
       * An agent whose channel has no system session (the driver does not know the thread count:
       * a channel's invocation waits like any call), another client holding every OP-TEE thread,
       * and the counters before the test's BASE command.
       */
      async function behindHeldThreads(harness: OpteeHarness) {
        const agent = await run(harness, harness.create());
        const held = await occupyEveryThread(harness);
        expect(held.pta.held).toHaveLength(harness.ends.driver.wire.layout.threads);
        const before = counters(harness, agent);
        return { agent, ...held, before };
      }

      /** What the test counts: SCMI messages the platform got, and the stack's counters. */
      function counters(harness: OpteeHarness, agent: ScmiAgent) {
        const optee = harness.ends.optee.stats;
        const driver = harness.ends.driver.stats;
        const core = agent.diagnostics.channels.find((c) => c.label === 'a2p:0')?.stats;
        const t = harness.ends.transport.diagnostics().totals;
        return {
          platformMessages: optee.scmi.messages,
          teeCancelRequests: optee.cancelRequests,
          teeCancelledInvocations: optee.cancelledInvocations,
          driverWaitedForThread: driver.waitedForThread,
          driverWithdrawn: driver.withdrawn,
          sent: core?.sent,
          failed: core?.failed,
          timeouts: core?.timeouts,
          completed: core?.completed,
          invocations: t.invocations,
          withdrawnInvocations: t.withdrawnInvocations,
          lateReturns: t.lateReturns,
          refusedReturns: t.refusedReturns,
          teeErrors: t.teeErrors,
          cancelRequests: t.cancelRequests,
        };
      }

      /** `now` less `before`, field by field. */
      function delta(
        now: ReturnType<typeof counters>,
        before: ReturnType<typeof counters>,
      ): Record<string, number> {
        const out: Record<string, number> = {};
        for (const k of Object.keys(now) as (keyof typeof now)[]) {
          out[k] = (now[k] ?? NaN) - (before[k] ?? NaN);
        }
        return out;
      }

      it('should never post it once its send returned: no message reaches the platform when the thread frees, and the remove ends', async () => {
        h = await createOpteeHarness({ shmem, auto: false, driver: { knowsThreadCount: false } });
        const { agent, pta, context, holds, before } = await behindHeldThreads(h);
        const reply = settle(vendor(agent));
        let removed = false;
        const removing = agent.remove().then(() => (removed = true));
        await h.clock.runUntilIdle();
        // Core failed the transfer; its send returned after the sync wait (core counted it sent)
        // and the channel's quiesce waits for the invocation, its cancel request queued too.
        expect(await reply).toBeInstanceOf(ScmiShutdownError);
        expect(removed).toBe(false);
        expect(delta(counters(h, agent), before)).toMatchObject({
          platformMessages: 0,
          driverWaitedForThread: 2,
          driverWithdrawn: 0,
          sent: 1,
          failed: 1,
        });

        // The other client lets its threads go: the invocation is withdrawn, never posted; the
        // cancel request (posted after it) finds nothing running.
        pta.release();
        expect(await run(h, Promise.all(holds))).toEqual(holds.map(() => TeeResult.SUCCESS));
        await run(h, removing);
        expect(removed).toBe(true);
        expect(delta(counters(h, agent), before)).toEqual({
          platformMessages: 0,
          teeCancelRequests: 1,
          teeCancelledInvocations: 0,
          driverWaitedForThread: 2,
          driverWithdrawn: 1,
          sent: 1,
          failed: 1,
          timeouts: 0,
          completed: 0,
          // Never started: not an invocation, not a late return nor a TEE error.
          invocations: 0,
          withdrawnInvocations: 1,
          lateReturns: 0,
          refusedReturns: 0,
          teeErrors: 0,
          cancelRequests: 1,
        });
        await run(h, context.close());
        expect(h.ends.driver.stats).toMatchObject({ inFlight: 0, sharedMemory: 0 });
      });

      it('should never post it while its send still waits: the send fails with ScmiShutdownError, never counted sent', async () => {
        h = await createOpteeHarness({ shmem, auto: false, driver: { knowsThreadCount: false } });
        const { agent, pta, context, holds, before } = await behindHeldThreads(h);
        const start = h.clock.now();
        const reply = settle(vendor(agent));
        const removing = settle(agent.remove());
        // Tasks only, no virtual time: the send is still in its 1 ms sync wait when a thread
        // frees, after core's shutdown failed the transfer.
        await new Promise((resolve) => setImmediate(resolve));
        expect(h.clock.now()).toBe(start);
        expect(delta(counters(h, agent), before)).toMatchObject({
          driverWaitedForThread: 2,
          sent: 0,
          failed: 1,
        });
        pta.release();
        await h.clock.runUntilIdle();
        expect(await reply).toBeInstanceOf(ScmiShutdownError);
        expect(await removing).toBeUndefined();
        expect(await Promise.all(holds)).toEqual(holds.map(() => TeeResult.SUCCESS));
        expect(delta(counters(h, agent), before)).toEqual({
          platformMessages: 0,
          teeCancelRequests: 1,
          teeCancelledInvocations: 0,
          driverWaitedForThread: 2,
          driverWithdrawn: 1,
          // The send failed: core counts it failed once (its shutdown did), never sent.
          sent: 0,
          failed: 1,
          timeouts: 0,
          completed: 0,
          invocations: 0,
          withdrawnInvocations: 1,
          lateReturns: 0,
          refusedReturns: 0,
          teeErrors: 0,
          cancelRequests: 1,
        });
        await run(h, context.close());
        expect(h.ends.driver.stats).toMatchObject({ inFlight: 0, sharedMemory: 0 });
      });

      it("should never post it while another channel's quiesce holds the remove, before its own channel quiesces", async () => {
        h = await createOpteeHarness({ shmem, auto: false, driver: { knowsThreadCount: false } });
        const agent = await run(
          h,
          h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK_PROTOCOL] }] }),
        );
        const { pta, context, holds } = await occupyEveryThread(h);
        const before = counters(h, agent);
        const replies = [
          settle(vendor(agent)),
          settle(agent.transact(CLOCK_PROTOCOL, 0x1, undefined, { rxSize: 4 })),
        ];
        let removed = false;
        const removing = agent.remove().then(() => (removed = true));
        await h.clock.runUntilIdle();
        expect(await Promise.all(replies)).toEqual([
          expect.any(ScmiShutdownError),
          expect.any(ScmiShutdownError),
        ]);
        // Channels quiesce newest first: a2p:1 waits for its invocation; a2p:0 has not begun, and
        // its transfer is back in core's pool — only what the channel kept says it failed.
        expect(removed).toBe(false);
        expect(h.ends.transport.diagnostics().channels.map((c) => c.stats.cancelRequests)).toEqual([
          0, 1,
        ]);
        pta.release();
        expect(await run(h, Promise.all(holds))).toEqual(holds.map(() => TeeResult.SUCCESS));
        await run(h, removing);
        expect(removed).toBe(true);
        expect(delta(counters(h, agent), before)).toMatchObject({
          platformMessages: 0,
          teeCancelRequests: 1,
          driverWithdrawn: 2,
          invocations: 0,
          withdrawnInvocations: 2,
          lateReturns: 0,
          refusedReturns: 0,
          cancelRequests: 1,
        });
        await run(h, context.close());
      });

      it('should withdraw a timed-out invocation still waiting for a thread once the channel quiesces: nobody would read its response', async () => {
        h = await createOpteeHarness({ shmem, auto: false, driver: { knowsThreadCount: false } });
        const { agent, pta, context, holds, before } = await behindHeldThreads(h);
        const reply = settle(vendor(agent));
        await h.clock.advance(40);
        expect(await reply).toBeInstanceOf(ScmiTimeoutError);
        let removed = false;
        const removing = agent.remove().then(() => (removed = true));
        await h.clock.runUntilIdle();
        expect(removed).toBe(false);
        pta.release();
        expect(await run(h, Promise.all(holds))).toEqual(holds.map(() => TeeResult.SUCCESS));
        await run(h, removing);
        expect(delta(counters(h, agent), before)).toEqual({
          platformMessages: 0,
          teeCancelRequests: 1,
          teeCancelledInvocations: 0,
          driverWaitedForThread: 2,
          driverWithdrawn: 1,
          sent: 1,
          failed: 0,
          timeouts: 1,
          completed: 0,
          invocations: 0,
          withdrawnInvocations: 1,
          lateReturns: 0,
          refusedReturns: 0,
          teeErrors: 0,
          cancelRequests: 1,
        });
        await run(h, context.close());
      });
    },
  );

  // The order the README promises ("the waiting calls in order"), as Linux gives it: the thread a
  // late invocation returns goes to the call already waiting for one (optee_cq_wait_final wakes
  // it before the invoke returns), and the channel's next transfer, which waited for the channel
  // (Linux `channel->mu`), queues behind it. Without system sessions, so that both are normal
  // calls: a system call would rightly go first.
  describe.each(['static', 'dynamic'] as const)(
    "when a late invocation returns while another client's call waits for an OP-TEE thread, with %s shared memory",
    (shmem) => {
      it("should give the thread to the waiting call, and queue the channel's next invocation behind it", async () => {
        h = await createOpteeHarness({ shmem, auto: false, driver: { knowsThreadCount: false } });
        const agent = await run(h, h.create());
        const driver = h.ends.driver;
        const threads = driver.wire.layout.threads;
        const pta = addHoldPta(h.ends.optee);
        const context = openTeeContext(driver);
        const sessions: TeeSession[] = [];
        for (let i = 0; i < threads; i++) sessions.push(await run(h, openHoldSession(context)));
        // The other client holds every thread but one.
        const labels = sessions.slice(1).map((_, i) => i + 1);
        const holds = labels.map((l) =>
          holdCall(sessions[l] as TeeSession, HoldPtaCommand.HOLD, l),
        );
        await h.clock.runUntilIdle();
        expect(pta.held).toHaveLength(threads - 1);

        // The platform answers the first command after 45 ms: its transfer times out at 30 ms,
        // and its invocation keeps the last thread until then.
        h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'delay', ms: 45 } });
        const first = settle(vendor(agent));
        await h.clock.advance(32);
        expect(await first).toBeInstanceOf(ScmiTimeoutError);
        // The other client's next call waits for a thread, then the agent's next command waits
        // for the channel the late invocation holds.
        const waited = driver.stats.waitedForThread;
        const other = holdCall(sessions[0] as TeeSession, HoldPtaCommand.HOLD, 100);
        const second = settle(vendor(agent));
        await h.clock.advance(1);
        expect(driver.stats.waitedForThread).toBe(waited + 1);
        const messages = h.ends.optee.stats.scmi.messages;

        // The late return (45 ms): the waiting call takes the thread; the channel's next
        // invocation waits for one, never reaching the SCMI PTA meanwhile.
        await h.clock.advance(15);
        expect(h.ends.transport.diagnostics().totals.lateReturns).toBe(1);
        expect(pta.arrivals).toEqual([...labels, 100]);
        expect(h.ends.optee.stats.scmi.messages).toBe(messages);
        expect(driver.stats.waitedForThread).toBe(waited + 2);

        // The other client lets go: the agent's command runs.
        pta.release();
        expect(await run(h, Promise.all([...holds, other]))).toEqual([...labels, 100].map(() => 0));
        expect(await second).toBeInstanceOf(Uint8Array);
        expect(h.ends.optee.stats.scmi.messages).toBe(messages + 1);
        await run(h, context.close());
        await run(h, agent.remove());
      });
    },
  );

  it('should request a system session for each channel, not for the throw-away capabilities session', async () => {
    h = await createOpteeHarness({ shmem: 'static', auto: false });
    const driver = h.ends.driver;
    const opened: number[] = [];
    const open = driver.openSession.bind(driver);
    jest.spyOn(driver, 'openSession').mockImplementation(async (uuid, login) => {
      const r = await open(uuid, login);
      opened.push(r.session);
      return r;
    });
    const declared = jest.spyOn(driver, 'systemSession');
    const agent = await run(h, h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }] }));
    // Capabilities first (Linux get_capabilities: no system session), then one per channel.
    expect(opened).toHaveLength(3);
    expect(declared.mock.calls).toEqual([[opened[1]], [opened[2]]]);
    expect(driver.stats.systemSessions).toBe(2);
    await run(h, agent.remove());
    expect(driver.stats.systemSessions).toBe(0);
  });

  it('should probe best effort over a driver without system sessions (FF-A), and keep probing when the logger throws', async () => {
    h = await createOpteeHarness({
      shmem: 'static',
      auto: false,
      logger: {
        ...silentLogger,
        warn: () => {
          throw new Error('a broken logger');
        },
      },
    });
    // Linux's OP-TEE driver over FF-A has no system_session op: tee_client_system_session -EINVAL.
    const ffa = withoutSystemSessions(h.ends.driver);
    const base = h.ends.agentOptions.transportConfig as object;
    const agent = await run(h, h.create({ transportConfig: { ...base, tee: ffa } }));
    expect(h.ends.transport.diagnostics()).toMatchObject({
      systemSessionsRefused: 1,
      channels: [{ systemSession: false }],
    });
    expect(await run(h, vendor(agent))).toBeInstanceOf(Uint8Array);
    await run(h, agent.remove());
  });

  describe('opteeTransportModule', () => {
    it("should log the transport's warnings to the container's LOGGER", async () => {
      h = await createOpteeHarness({
        shmem: 'static',
        auto: false,
        driver: { knowsThreadCount: false },
      });
      const { logger, warnings } = warningLog();
      const container = new Container();
      container.load(coreModule, opteeTransportModule);
      container.rebind(CLOCK).toConstantValue(h.clock);
      container.rebind(LOGGER).toConstantValue(logger);
      const probe = createAgent(container, {
        transport: 'optee',
        transportConfig: opteeTransportConfig(h.ends.driver),
      });
      const agent = await run(h, probe);
      expect(warnings).toEqual([expect.stringMatching(/could not switch to system session/)]);
      await run(h, agent.remove());
    });
  });
});
