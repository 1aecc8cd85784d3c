import { Container } from 'inversify';
import {
  ScmiMessageType,
  buildHeader,
  coreModule,
  createAgent,
  resolveWorkerEntry,
  startWorker,
  type ScmiAgent,
  type WorkerHost,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { ClockMessageId, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_FREE,
  SMT_HEADER_OFFSET,
  SharedMailboxController,
  mailboxTransportModule,
  openSmtWorkerWire,
  type MailboxClient,
} from '@scmi-ts/mailbox-transport';
import { join } from 'node:path';
import type { MailboxWorkerData } from './support/mailbox-worker.js';
import { channelStats } from './support/harness.js';
import { createHand } from './support/hand-platform.js';

/** `'ok'`, or the code of the error `p` rejected with. */
async function settle(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

/**
 * The platform's thread gone for good (a worker that crashed or was terminated, its doorbells'
 * closed flags never written): the controller tells its clients, and the SMT channels fail what
 * they carry at once instead of letting each command wait out its timeout.
 */
describe('the platform end gone (SharedMailboxController.markRemoteGone)', () => {
  ensureNoLeaksInSuite();

  describe(SharedMailboxController, () => {
    function client(seen: string[], name: string): MailboxClient {
      return { rxCallback: () => undefined, remoteGone: () => seen.push(name) };
    }

    it('should tell the client of each held channel once, not a freed one, and refuse later requests', () => {
      const controller = new SharedMailboxController(SharedMailboxController.allocate(3));
      const seen: string[] = [];
      const a = controller.requestChannel(0, client(seen, 'a'));
      const b = controller.requestChannel(1, client(seen, 'b'));
      b.free();
      expect(controller.remoteGone).toBe(false);
      controller.markRemoteGone();
      controller.markRemoteGone();
      expect(controller.remoteGone).toBe(true);
      expect(seen).toEqual(['a']);
      expect(() => controller.requestChannel(2, client(seen, 'c'))).toThrow(
        expect.objectContaining({ code: 'E_MBOX_REMOTE_GONE' }) as Error,
      );
      expect(controller.stats).toEqual({ requested: 2, freed: 1, inUse: 1 });
      a.free();
    });

    it('should still tell the other clients when one throws, and rethrow its error apart', () => {
      const controller = new SharedMailboxController(SharedMailboxController.allocate(2));
      const seen: string[] = [];
      const a = controller.requestChannel(0, {
        rxCallback: () => undefined,
        remoteGone: () => {
          throw new Error('client failed');
        },
      });
      const b = controller.requestChannel(1, client(seen, 'b'));
      const rethrown: (() => void)[] = [];
      const spy = jest
        .spyOn(globalThis, 'queueMicrotask')
        .mockImplementation((cb: () => void) => rethrown.push(cb));
      try {
        controller.markRemoteGone();
      } finally {
        spy.mockRestore();
      }
      expect(seen).toEqual(['b']);
      expect(rethrown).toHaveLength(1);
      expect(() => rethrown[0]?.()).toThrow('client failed');
      a.free();
      b.free();
    });
  });

  describe('SMT channels on a same-thread wire (SameThreadMailboxController.markRemoteGone)', () => {
    it('should fail at once the command in flight and every later one, with nothing after it on the clock', async () => {
      const hand = createHand(false);
      const agent = await hand.probe({ rxTimeoutMs: 30 });
      hand.holdAnswers(); // the platform never answers from now on
      const vendor = settle(agent.base.discoverVendor());
      await hand.clock.runTasks();
      const now = hand.clock.now();
      const told: string[] = [];
      agent.onLost(({ label }) => void told.push(label));
      hand.wire.controller.markRemoteGone();
      await hand.clock.runTasks();
      expect(hand.clock.now()).toBe(now);
      expect(told).toEqual(['a2p:0', 'p2a:0']); // agent.onLost: each channel once
      expect(await vendor).toBe('E_MBOX_REMOTE_GONE');
      expect(await settle(agent.base.discoverSubVendor())).toBe('E_MBOX_REMOTE_GONE');
      expect(channelStats(agent, 'a2p:0')).toMatchObject({ failed: 2, timeouts: 0 });
      expect(agent.diagnostics.channels.map((c) => c.lost)).toEqual([
        expect.objectContaining({ code: 'E_MBOX_REMOTE_GONE' }),
        expect.objectContaining({ code: 'E_MBOX_REMOTE_GONE' }),
      ]);
      const removing = agent.remove();
      await hand.clock.runUntilIdle();
      await removing;
      expect(hand.wire.wire.monitor.violations).toEqual([]);
      expect(hand.wire.controller.stats.inUse).toBe(0);
      hand.platform.close();
    });

    it.each([
      ['its doorbell never comes', false],
      ['its doorbell, rung before the platform went, comes after', true],
    ])(
      'should take a reply the platform completed before it went, and absorb its doorbell (%s)',
      async (_, rings) => {
        const hand = createHand(false);
        const agent = await hand.probe({ rxTimeoutMs: 30 });
        const held = hand.holdAnswers();
        const vendor = settle(agent.base.discoverVendor());
        await hand.clock.runTasks();
        // The reply lands in the area (CHANNEL_FREE set); the doorbell is not delivered yet.
        const reply = held();
        expect(reply).toBeDefined();
        const a2p = hand.a2p;
        a2p.bytes.set(reply ?? new Uint8Array(0), SMT_HEADER_OFFSET);
        a2p.setLength(reply?.byteLength ?? 0);
        a2p.setStatus(SMT_CHANNEL_FREE);
        if (rings) hand.ringA2p();
        hand.wire.controller.markRemoteGone(); // seen before the doorbell is delivered
        await hand.clock.runTasks();
        expect(await vendor).toBe('ok');
        const stats = channelStats(agent, 'a2p:0');
        expect(stats).toMatchObject({ failed: 0, timeouts: 0, lateReplies: 0 });
        expect(stats.badMessages).toMatchObject({ unexpected: 0, spurious: 0, invalid: 0 });
        expect(await settle(agent.base.discoverVendor())).toBe('E_MBOX_REMOTE_GONE');
        const removing = agent.remove();
        await hand.clock.runUntilIdle();
        await removing;
        expect(hand.wire.wire.monitor.violations).toEqual([]);
        hand.platform.close();
      },
    );

    it('should not take a message left in a P2A area nobody rang for: it may be half-written', async () => {
      const hand = createHand(false);
      const agent = await hand.probe({ rxTimeoutMs: 30 });
      // The platform cleared CHANNEL_FREE and died before it finished writing and rang.
      hand.p2a.setHeader(buildHeader(0, ScmiMessageType.NOTIFICATION, 0x77, 0));
      hand.p2a.setLength(12);
      hand.p2a.setStatus(0);
      hand.wire.controller.markRemoteGone();
      await hand.clock.runTasks();
      const p2a = channelStats(agent, 'p2a:0');
      expect(p2a.notifications + p2a.badMessages.unknown + p2a.badMessages.invalid).toBe(0);
      const removing = agent.remove();
      await hand.clock.runUntilIdle();
      await removing;
      expect(hand.wire.wire.monitor.violations).toEqual([]);
      hand.platform.close();
    });
  });

  describe('a worker that exits without closing its responder', () => {
    const container = new Container();
    container.load(coreModule, mailboxTransportModule);
    let host: WorkerHost | undefined;
    let agent: ScmiAgent | undefined;

    afterEach(async () => {
      await agent?.remove();
      agent = undefined;
      await host?.stop();
      host = undefined;
    });

    it('should fail at once the command in flight, the one waiting for the channel, the delayed response awaited and every later command', async () => {
      const data: MailboxWorkerData = { platformConfig: createDefaultPlatformConfig(), seed: 7 };
      host = await startWorker({
        entry: resolveWorkerEntry(join(__dirname, 'support'), 'mailbox-worker'),
        data,
        name: 'dying-mailbox-platform',
      });
      const smt = await openSmtWorkerWire(host, { agentId: 1, a2p: [0], p2a: [0] });
      // Long enough that waiting them out would show, short enough for the test's own timeout.
      agent = await createAgent(container, {
        transport: 'mailbox',
        rxTimeoutMs: 20_000,
        asyncTimeoutMs: 20_000,
        transportConfig: { wire: smt.wire, freeWaitMs: 20_000 },
      });
      // The rate change is answered at once; its delayed response, and the vendor's response,
      // are held by the platform far beyond the test.
      await host.call('setFaults', [
        {
          match: { stage: 'delayed-response' },
          action: { kind: 'delay', ms: 600_000 },
        },
        {
          match: { protocolId: 0x10, messageId: 0x3 },
          action: { kind: 'delay', ms: 600_000 },
        },
      ]);
      const rateSet = (w: { u32(v: number): unknown }): void => {
        w.u32(1); // asynchronous
        w.u32(0);
        w.u32(400_000_000);
        w.u32(0);
      };
      const rate = settle(
        agent.transact(0x14, ClockMessageId.RATE_SET, rateSet, {
          txSize: 16,
          async: true,
          rxSize: 12,
        }),
      );
      // Wait until the rate's response came (the channel is free again), then occupy it.
      while (channelStats(agent, 'a2p:0').completed < channelStats(agent, 'a2p:0').sent) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      const vendor = settle(agent.base.discoverVendor()); // in the area, never answered
      const subVendor = settle(agent.base.discoverSubVendor()); // waits for the channel lock
      while (channelStats(agent, 'a2p:0').sent === channelStats(agent, 'a2p:0').completed) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      await host.worker.terminate(); // no close: nothing on the wire says it is gone
      await host.exited;
      const controller = smt.wire.controller;
      expect(controller).toBeInstanceOf(SharedMailboxController);
      expect(controller instanceof SharedMailboxController && controller.remoteGone).toBe(true);
      expect(await vendor).toBe('E_MBOX_REMOTE_GONE');
      expect(await subVendor).toBe('E_MBOX_REMOTE_GONE');
      expect(await rate).toBe('E_MBOX_REMOTE_GONE');
      expect(await settle(agent.base.discoverVendor())).toBe('E_MBOX_REMOTE_GONE');
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.timeouts).toBe(0);
      expect(a2p.failed).toBe(4);
      await agent.remove();
      agent = undefined;
      expect(smt.wire.monitor.violations).toEqual([]);
      expect(smt.wire.controller.stats.inUse).toBe(0);
    });
  });
});
