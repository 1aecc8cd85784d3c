import {
  CLOCK,
  LOGGER,
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
