/**
 * The secure world dies under an agent (its worker thread ends without closing anything, and the
 * worker wire calls `OpteeDriver.teeDied`): like the mailbox and virtio transports when their
 * platform's thread dies, every OP-TEE channel is then lost for good — core fails what it carries
 * at once with `E_TEE_DEAD` (`RxSink.failInFlight`), the agent shows the channels lost and tells
 * `onLost` listeners, later commands fail at once, and the removal resolves.
 */
import {
  ScmiTransportError,
  TRANSPORT,
  coreModule,
  createAgent,
  readU32,
  resolveWorkerEntry,
  startWorker,
  VirtualClock,
  type ChannelLoss,
  type ScmiAgent,
} from '@scmi-ts/core';
import { waitUntil } from '@scmi-ts/conformance';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { Container, ContainerModule } from 'inversify';
import { join } from 'node:path';
import {
  OpteeTransport,
  PTA_SCMI_UUID,
  OpteeDriver,
  PtaScmiCommand,
  TeeError,
  TeeResult,
  createSameThreadOpteeWire,
  TeeParamType,
  openOpteeWorkerWire,
  opteeTransportConfig,
  teeValue,
} from '../src/index.js';
import { serveTeeCalls } from './support/test-secure-world.js';
import { createOpteeHarness } from './support/harness.js';
import { createTeeBench } from './support/tee-bench.js';

/** What `p` settled with: the value's absence (`'answered'`) or the error. */
function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => 'answered',
    (e: unknown) => e,
  );
}

/** Lets the agent's `onLost` microtask run. */
const nextTask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const TEE_DEAD = { code: 'E_TEE_DEAD' };

describe.each(['static', 'dynamic'] as const)(
  'an OP-TEE worker that dies under an agent (%s shared memory)',
  (shmem) => {
    it('should fail the transfers in flight and later ones at once with E_TEE_DEAD, mark every channel lost, tell onLost once each, and remove', async () => {
      const host = await startWorker({
        entry: resolveWorkerEntry(join(__dirname, 'support'), 'optee-worker'),
        data: { platformConfig: createDefaultPlatformConfig(), agentId: 1, seed: 1 },
      });
      const staticShmem = shmem === 'static';
      const wire = await openOpteeWorkerWire(host, {
        channels: [
          { id: 0, staticShmem },
          { id: 1, staticShmem },
        ],
      });
      const transport = new OpteeTransport();
      const container = new Container();
      container.load(coreModule);
      container.load(
        new ContainerModule(({ bind }) => {
          bind(TRANSPORT).toConstantValue(transport);
        }),
      );
      // A minute to answer: a transfer the death did not fail would wait that long, far past the
      // case's jest timeout.
      const agent: ScmiAgent = await createAgent(container, {
        transport: 'optee',
        transportConfig: opteeTransportConfig(wire.driver),
        a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }],
        rxTimeoutMs: 60_000,
      });
      const losses: ChannelLoss[] = [];
      agent.onLost((loss) => {
        losses.push(loss);
      });
      const callsBefore = (await wire.stats())?.calls ?? 0;
      // The PTA holds the next invocation until it is cancelled: the secure world dies holding it.
      await wire.setWireFaults([{ action: { kind: 'hang-until-cancel' } }]);
      const held = outcome(agent.transact(0x10, 0x0));
      // On the same channel: it waits for the channel, never written.
      const waiting = outcome(agent.transact(0x10, 0x0));
      await waitUntil(async () => ((await wire.stats())?.calls ?? 0) > callsBefore);
      expect((await wire.stats())?.calls).toBe(callsBefore + 1);

      await host.worker.terminate();
      await host.exited;

      const heldError = await held;
      expect(heldError).toBeInstanceOf(ScmiTransportError);
      expect(heldError).toMatchObject(TEE_DEAD);
      expect(await waiting).toMatchObject(TEE_DEAD);
      await nextTask();
      // Both channels, the idle one too: nothing behind them will answer again.
      const channels = agent.diagnostics.channels;
      expect(channels.map((c) => [c.label, c.lost])).toEqual([
        ['a2p:0', expect.objectContaining(TEE_DEAD)],
        ['a2p:1', expect.objectContaining(TEE_DEAD)],
      ]);
      expect(losses.map((l) => l.label)).toEqual(['a2p:0', 'a2p:1']);
      expect(losses[0]?.error).toBe(channels[0]?.lost);
      // A later command, on the channel idle at the death: refused at once, never sent.
      expect(await outcome(agent.transact(0x14, 0x0))).toMatchObject(TEE_DEAD);
      expect(channels.map((c) => c.stats.timeouts)).toEqual([0, 0]);
      // The driver's TARGET_DEAD for the invocation the death ended is no return of the TEE.
      expect(transport.diagnostics().totals).toMatchObject({ lateReturns: 0, teeErrors: 0 });

      // The sessions went with the TEE: nothing fails to close.
      await expect(agent.remove()).resolves.toBeUndefined();
      expect(losses).toHaveLength(2);
      expect(transport.diagnostics()).toMatchObject({ channels: [], violations: [] });
      await expect(wire.close()).resolves.toBeUndefined();
      await host.stop();
    });
  },
);

describe('a secure world that dies right after it answered', () => {
  it('should deliver the answer first, then mark the channel lost', async () => {
    const h = await createOpteeHarness({ shmem: 'static' });
    const agent = await h.create();
    const losses: string[] = [];
    agent.onLost(({ label }) => {
      losses.push(label);
    });
    const driver = h.ends.driver;
    // The invocation returns to the channel, and the TEE dies before core read the answer.
    driver.setReturnInterceptor((deliver) => {
      deliver();
      driver.teeDied();
    });
    const version = readU32(await agent.transact(0x10, 0x0), 0);
    expect(version >>> 16).toBeGreaterThanOrEqual(1);
    await nextTask();
    expect(agent.diagnostics.channels[0]?.lost).toMatchObject(TEE_DEAD);
    expect(losses).toEqual(['a2p:0']);
    expect(await outcome(agent.transact(0x10, 0x0))).toMatchObject(TEE_DEAD);
    expect(h.ends.transport.diagnostics().totals).toMatchObject({ lateReturns: 0, teeErrors: 0 });
    await expect(agent.remove()).resolves.toBeUndefined();
    expect(h.ends.transport.diagnostics().violations).toEqual([]);
    await h.close();
  });
});

describe('a secure world that dies while a channel is freed', () => {
  it.each(['static', 'dynamic'] as const)(
    'should let the removal resolve when the session close the free waits for fails TARGET_DEAD (%s shared memory)',
    async (shmem) => {
      const h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      const driver = h.ends.driver;
      // Every return from here on is held: the free's session close is the first call.
      const held: (() => void)[] = [];
      driver.setReturnInterceptor((deliver) => {
        held.push(deliver);
      });
      const removing = agent.remove();
      await waitUntil(() => held.length > 0); // the session close is under way
      driver.teeDied(); // the held close now fails TARGET_DEAD
      await expect(removing).resolves.toBeUndefined();
      expect(h.ends.transport.diagnostics().violations).toEqual([]);
      driver.setReturnInterceptor(undefined);
      await h.close();
    },
  );
});

describe('OpteeDriver.teeDied', () => {
  it('should deliver a call the secure world returned before it died, its doorbell not handled yet, with its answer', async () => {
    const clock = new VirtualClock({ auto: true });
    const wire = createSameThreadOpteeWire(clock, { channels: [{ id: 0 }], threads: 2 });
    // A secure world that answers every call and dies before it rings the normal world.
    serveTeeCalls(wire, (call) => {
      call.return(TeeResult.SUCCESS, { session: 42 + call.slot, ring: false });
    });
    const driver = new OpteeDriver(wire.ree);
    const opened = driver.openSession(new Uint8Array(16), 0);
    const pending = driver.openSession(new Uint8Array(16), 0).then((r) => r.result);
    await clock.runUntilIdle(10);
    // The second is answered too; both wait for a doorbell that never comes.
    driver.teeDied();
    expect(await opened).toMatchObject({ result: TeeResult.SUCCESS });
    expect(await pending).toBe(TeeResult.SUCCESS);
    // A call after the death fails at once.
    expect((await driver.openSession(new Uint8Array(16), 0)).result).toBe(TeeResult.TARGET_DEAD);
    wire.tee.doorbell.close();
    await clock.runUntilIdle(10);
  });
});

describe('OpteeDriver.onTeeDied', () => {
  it('should tell each subscription once, before the pending calls fail, and one made after the death at once', async () => {
    const b = createTeeBench();
    b.optee.faults.add({ action: { kind: 'hang-until-cancel' } });
    const session = await b.context.openSession(PTA_SCMI_UUID);
    await session.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [
      teeValue(TeeParamType.VALUE_INOUT, 0, 1),
    ]);
    const seen: string[] = [];
    const held = session
      .invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL, [teeValue(TeeParamType.VALUE_INPUT, 0)])
      .catch((e: unknown) => {
        seen.push(`call ${TeeError.is(e) ? e.code : String(e)}`);
      });
    await b.clock.runUntilIdle(10);
    const listener = (): void => {
      // The pending call has not failed yet: the driver is still open.
      seen.push(`told (closed ${String(b.driver.closed)})`);
    };
    b.driver.onTeeDied(listener);
    b.driver.onTeeDied(listener); // a second subscription of the same function: told too
    const stop = b.driver.onTeeDied(() => seen.push('unsubscribed, told'));
    stop();
    stop();
    expect(b.driver.died).toBe(false);
    b.driver.teeDied();
    b.driver.teeDied();
    expect(b.driver.died).toBe(true);
    await held;
    expect(seen).toEqual([
      'told (closed false)',
      'told (closed false)',
      'call TEE_ERROR_TARGET_DEAD',
    ]);
    let late = 0;
    b.driver.onTeeDied(() => late++)();
    expect(late).toBe(1);
    await b.close();
  });

  it('should tell no one when the driver is closed by its user', async () => {
    const b = createTeeBench();
    let told = 0;
    b.driver.onTeeDied(() => told++);
    b.driver.close();
    b.driver.teeDied(); // a no-op once closed
    b.driver.onTeeDied(() => told++);
    expect(told).toBe(0);
    expect(b.driver.died).toBe(false);
    await b.close();
  });
});
