import {
  CommonMessageId,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { BaseMessageId, PerformanceMessageId } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_PAYLOAD_OFFSET,
  SmtArea,
} from '@scmi-ts/mailbox-transport';
import {
  channelStats,
  defined,
  type Harness,
  removeAndClose,
  settle,
  probeWithFaults,
} from './support/harness.js';

/**
 * The responder's wire-level fault rules, each driven against a real agent: the agent rejects and
 * counts what is wrong, never crashes, never reads past its SMT area.
 */

const VENDOR = { protocolId: 0x10, messageId: BaseMessageId.DISCOVER_VENDOR };

/**
 * Subscribes to Performance LEVEL_CHANGED, has the platform post `count` of them (a storm set off
 * by Base PROTOCOL_VERSION), runs until idle and unsubscribes: the payload lengths delivered.
 */
async function postNotifications(h: Harness, agent: ScmiAgent, count: number): Promise<number[]> {
  agent.events.register(0x13, [{ id: 0x1, name: 'level' }]);
  const payloads: number[] = [];
  const unsubscribe = await agent.events.subscribe({ protocolId: 0x13, eventId: 0x1 }, (n) => {
    payloads.push(n.payload.byteLength);
  });
  h.platform.faults.add({
    match: { protocolId: 0x10, messageId: 0, nth: 1 },
    action: { kind: 'notification-storm', count, protocolId: 0x13, messageId: 0x1 },
  });
  const version = agent.transact(0x10, 0x0);
  await h.clock.runUntilIdle();
  await version;
  await unsubscribe();
  return payloads;
}

describe('SmtResponder wire-level fault rules, against the agent', () => {
  ensureNoLeaksInSuite();

  describe('hostile-length', () => {
    it('should clamp a length larger than the area and count it, reading nothing past the area', async () => {
      const { h, agent } = await probeWithFaults([
        { match: VENDOR, action: { kind: 'hostile-length', length: 0xffffffff } },
      ]);
      // The neighbouring area (a2p:1) is full of a pattern the agent must never see.
      const { layout } = h.mailbox.wire;
      const next = defined(layout.channels.find((c) => c.direction === 'a2p' && c.id === 1));
      new Uint8Array(layout.memory, next.offset, layout.areaSize).fill(0xee);
      const reply = agent.transact(0x10, BaseMessageId.DISCOVER_VENDOR);
      await h.clock.runUntilIdle();
      const bytes = await reply;
      expect(bytes.byteLength).toBe(layout.areaSize - SMT_PAYLOAD_OFFSET - 4);
      expect(bytes.includes(0xee)).toBe(false);
      expect(channelStats(agent, 'a2p:0').badMessages.oversize).toBe(1);
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.hostileLengths).toBe(1);
      expect(h.responder.faults.counts['hostile-length']).toBe(1);
      await removeAndClose(h, agent);
    });

    it('should count a hostile length once when the transfer takes fewer bytes than the area holds (small rxSize)', async () => {
      const { h, agent } = await probeWithFaults([
        {
          match: { protocolId: 0x10, messageId: CommonMessageId.PROTOCOL_ATTRIBUTES },
          action: { kind: 'hostile-length', length: 0xffffffff },
        },
      ]);
      // Base PROTOCOL_ATTRIBUTES returns one word: rxSize 4, far below what the area holds.
      const reply = agent.transact(0x10, CommonMessageId.PROTOCOL_ATTRIBUTES, undefined, {
        rxSize: 4,
      });
      await h.clock.runUntilIdle();
      expect((await reply).byteLength).toBe(4);
      expect(channelStats(agent, 'a2p:0').badMessages.oversize).toBe(1);
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.hostileLengths).toBe(1);
      await removeAndClose(h, agent);
    });

    it('should answer COMMS_ERROR for a CHANNEL_ERROR reply with a garbage length, not counted oversize', async () => {
      // The response is written and kept busy; the test then turns it into an error reply whose
      // length field is garbage, as a platform that sets ERROR|FREE without touching the length.
      const { h, agent } = await probeWithFaults(
        [{ match: VENDOR, action: { kind: 'stuck-busy' } }],
        true,
      );
      const { layout } = h.mailbox.wire;
      const spec = defined(layout.channels.find((c) => c.direction === 'a2p' && c.id === 0));
      const area = new SmtArea(layout.memory, spec.offset, layout.areaSize);
      const completed = channelStats(agent, 'a2p:0').completed;
      const reply = settle(agent.transact(0x10, BaseMessageId.DISCOVER_VENDOR));
      await h.clock.runTasks();
      expect(area.isFree()).toBe(false);
      area.setLength(0xffffffff);
      area.setStatus(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
      await h.clock.advance(1);
      const error = await reply;
      expect(ScmiStatusError.is(error) && error.status).toBe(ScmiStatus.COMMS_ERROR);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.badMessages.oversize).toBe(0);
      expect(a2p.completed).toBe(completed + 1);
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.hostileLengths).toBe(0);
      await removeAndClose(h, agent);
    });

    it.each([0, 3, 7])(
      'should answer PROTOCOL_ERROR for a response length of %i (no status word), counted as invalid',
      async (length) => {
        const { h, agent } = await probeWithFaults([
          { match: { ...VENDOR, times: 1 }, action: { kind: 'hostile-length', length } },
        ]);
        const reply = settle(agent.transact(0x10, BaseMessageId.DISCOVER_VENDOR));
        await h.clock.runUntilIdle();
        const error = await reply;
        expect(ScmiStatusError.is(error) && error.status).toBe(ScmiStatus.PROTOCOL_ERROR);
        expect(channelStats(agent, 'a2p:0').badMessages.invalid).toBe(1);
        // The channel works on.
        const next = agent.base.discoverVendor();
        await h.clock.runUntilIdle();
        await expect(next).resolves.toBe(h.platform.config.vendor);
        await removeAndClose(h, agent);
      },
    );

    it('should clamp a hostile notification length on the P2A channel', async () => {
      const { h, agent } = await probeWithFaults([
        { match: { direction: 'p2a' }, action: { kind: 'hostile-length', length: 100_000 } },
      ]);
      const payloads = await postNotifications(h, agent, 1);
      expect(payloads).toEqual([h.mailbox.wire.layout.areaSize - SMT_PAYLOAD_OFFSET]);
      expect(channelStats(agent, 'p2a:0').badMessages.oversize).toBe(1);
      await removeAndClose(h, agent);
    });

    it('should count a hostile notification length once when the area is larger than a notification buffer', async () => {
      // 256-byte areas (228-byte payloads) for the default 128-byte max message size: the clamped
      // payload is still larger than core's notification buffer.
      const { h, agent } = await probeWithFaults(
        [{ match: { direction: 'p2a' }, action: { kind: 'hostile-length', length: 0xffffffff } }],
        false,
        { a2p: [0, 1], p2a: [0], areaSize: 256 },
      );
      const payloads = await postNotifications(h, agent, 1);
      expect(payloads).toEqual([128]);
      expect(channelStats(agent, 'p2a:0').badMessages.oversize).toBe(1);
      expect(h.mailbox.wire.monitor.channel('p2a:0')?.hostileLengths).toBe(1);
      await removeAndClose(h, agent);
    });

    it.each([0, 3])(
      'should reject a notification whose length is %i (shorter than its header): counted invalid, not delivered',
      async (length) => {
        const { h, agent } = await probeWithFaults([
          {
            match: { direction: 'p2a', times: 1 },
            action: { kind: 'hostile-length', length },
          },
        ]);
        const payloads = await postNotifications(h, agent, 2);
        // The first is rejected; the area goes back to the platform, which posts the second.
        expect(payloads).toHaveLength(1);
        const p2a = channelStats(agent, 'p2a:0');
        expect(p2a.badMessages.invalid).toBe(1);
        expect(p2a.notifications).toBe(1);
        expect(h.responder.counters.p2aPosted).toBe(2);
        await removeAndClose(h, agent);
      },
    );
  });

  describe('spurious-doorbell', () => {
    it('should ignore an A2P doorbell while the platform owns the area, counted, and complete on the real one', async () => {
      const { h, agent } = await probeWithFaults([
        { match: VENDOR, action: { kind: 'spurious-doorbell', ms: 2 } },
      ]);
      const vendor = agent.base.discoverVendor();
      await h.clock.runUntilIdle();
      await expect(vendor).resolves.toBe(h.platform.config.vendor);
      expect(channelStats(agent, 'a2p:0').badMessages.spurious).toBe(1);
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.spurious).toBe(1);
      await removeAndClose(h, agent);
    });

    it('should ignore a P2A doorbell with nothing posted, counted, and take the post that follows', async () => {
      const { h, agent } = await probeWithFaults([
        { match: { direction: 'p2a' }, action: { kind: 'spurious-doorbell' } },
      ]);
      const payloads = await postNotifications(h, agent, 1);
      expect(payloads).toHaveLength(1);
      expect(channelStats(agent, 'p2a:0').badMessages.spurious).toBe(1);
      await removeAndClose(h, agent);
    });
  });

  describe('no-free', () => {
    it('should ignore the completion doorbell of a response written without CHANNEL_FREE, then time out', async () => {
      const { h, agent } = await probeWithFaults([
        { match: { ...VENDOR, times: 1 }, action: { kind: 'no-free', freeAfterMs: 40 } },
      ]);
      const vendor = settle(agent.base.discoverVendor());
      await h.clock.advance(30);
      expect(await vendor).toBeInstanceOf(ScmiTimeoutError);
      expect(channelStats(agent, 'a2p:0').badMessages.spurious).toBe(1);
      // The area is freed later, silently: the next command waits for it, then goes.
      const next = agent.base.discoverVendor();
      await h.clock.runUntilIdle();
      await expect(next).resolves.toBe(h.platform.config.vendor);
      await removeAndClose(h, agent);
    });

    it('should time out a polling transfer whose response never sets CHANNEL_FREE', async () => {
      const { h, agent } = await probeWithFaults(
        [{ match: VENDOR, action: { kind: 'no-free' } }],
        true,
      );
      const vendor = settle(agent.base.discoverVendor());
      await h.clock.advance(31);
      expect(await vendor).toBeInstanceOf(ScmiTimeoutError);
      const next = settle(agent.base.discoverVendor());
      await h.clock.advance(61);
      const error = await next;
      expect(ScmiTransportError.is(error) && error.code).toBe('E_CHANNEL_BUSY');
      await removeAndClose(h, agent);
    });
  });

  describe('stuck-busy', () => {
    it('should time out, count the late completion, and let the next command wait for the area', async () => {
      const { h, agent } = await probeWithFaults([
        { match: { ...VENDOR, times: 1 }, action: { kind: 'stuck-busy', ms: 45 } },
      ]);
      const vendor = settle(agent.base.discoverVendor());
      await h.clock.advance(30);
      expect(await vendor).toBeInstanceOf(ScmiTimeoutError);
      const next = agent.base.discoverVendor();
      await h.clock.runUntilIdle();
      await expect(next).resolves.toBe(h.platform.config.vendor);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.lateReplies).toBe(1);
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.busyWaits).toBe(1);
      expect(h.responder.counters.ringsWhileBusy).toBe(0);
      await removeAndClose(h, agent);
    });

    it('should fail later commands with E_CHANNEL_BUSY when the area is never freed', async () => {
      const { h, agent } = await probeWithFaults([
        { match: VENDOR, action: { kind: 'stuck-busy' } },
      ]);
      const vendor = settle(agent.base.discoverVendor());
      await h.clock.advance(30);
      expect(await vendor).toBeInstanceOf(ScmiTimeoutError);
      const next = settle(agent.transact(0x10, 0x0));
      await h.clock.advance(60);
      const error = await next;
      expect(ScmiTransportError.is(error) && error.code).toBe('E_CHANNEL_BUSY');
      await removeAndClose(h, agent);
    });
  });

  describe('early-free', () => {
    it.each([false, true])(
      'should let the agent read the area as it is (polling %s): a bogus response, bounds-checked',
      async (polling) => {
        const { h, agent } = await probeWithFaults(
          [{ match: { protocolId: 0x10, messageId: 0 }, action: { kind: 'early-free', ms: 5 } }],
          polling,
        );
        // The area still holds the request (4 bytes: the header): no status word.
        const version = settle(agent.transact(0x10, 0x0));
        await h.clock.runUntilIdle();
        const error = await version;
        expect(ScmiStatusError.is(error) && error.status).toBe(ScmiStatus.PROTOCOL_ERROR);
        expect(channelStats(agent, 'a2p:0').badMessages.invalid).toBe(1);
        const next = agent.base.discoverVendor();
        await h.clock.runUntilIdle();
        await expect(next).resolves.toBe(h.platform.config.vendor);
        await removeAndClose(h, agent);
      },
    );

    it('should write the payload late when the agent has not taken the area back', async () => {
      const { h, agent } = await probeWithFaults([
        {
          match: { protocolId: 0x13, messageId: PerformanceMessageId.LEVEL_GET },
          action: { kind: 'early-free', ms: 1 },
        },
      ]);
      // A one-word request: the area holds header + domain id (8 bytes) when FREE comes early, so
      // the "status" is the domain id 0 (SUCCESS) with no return values.
      const level = agent.transact(0x13, PerformanceMessageId.LEVEL_GET, (w) => w.u32(0), {
        txSize: 4,
      });
      await h.clock.runUntilIdle();
      expect((await level).byteLength).toBe(0);
      expect(h.responder.faults.counts['early-free']).toBe(1);
      await removeAndClose(h, agent);
    });
  });
});
