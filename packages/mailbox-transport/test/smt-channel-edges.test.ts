import {
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  readU32,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { BaseMessageId } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SMT_PAYLOAD_OFFSET,
  SmtArea,
} from '@scmi-ts/mailbox-transport';
import {
  channelStats,
  createHarness,
  defined,
  type Harness,
  removeAndClose,
  NO_BAD_MESSAGES,
  probeWithFaults,
} from './support/harness.js';
import { createHand } from './support/hand-platform.js';

/**
 * The agent side of the SMT protocol at its edges, on the virtual clock: a reply that carries
 * CHANNEL_ERROR, the wait for CHANNEL_FREE before writing (at most 2× the RX timeout), and length
 * fields at exactly what the area holds and one byte more.
 */

const VENDOR = { protocolId: 0x10, messageId: BaseMessageId.DISCOVER_VENDOR };

/** The SMT area of channel `direction`:`id` of the harness's wire, as the platform sees it. */
function areaOf(h: Harness, direction: 'a2p' | 'p2a', id: number): SmtArea {
  const { layout } = h.mailbox.wire;
  const spec = defined(
    layout.channels.find((c) => c.direction === direction && c.id === id),
    `${direction}:${id}`,
  );
  return new SmtArea(layout.memory, spec.offset, layout.areaSize);
}

/** How a promise ended so far: a test on a manual clock looks without awaiting it. */
interface Outcome {
  settled: boolean;
  /** What it fulfilled with. */
  value: unknown;
  /** What it rejected with. */
  error: unknown;
}

function track(p: Promise<unknown>): Outcome {
  const outcome: Outcome = { settled: false, value: undefined, error: undefined };
  p.then(
    (value: unknown) => {
      outcome.settled = true;
      outcome.value = value;
    },
    (error: unknown) => {
      outcome.settled = true;
      outcome.error = error;
    },
  );
  return outcome;
}

/** The SCMI status of an `ScmiStatusError`, else undefined. */
function statusOf(error: unknown): number | undefined {
  return ScmiStatusError.is(error) ? error.status : undefined;
}

describe('SmtChannel at the edges of the SMT protocol', () => {
  ensureNoLeaksInSuite();

  describe('a reply with CHANNEL_ERROR', () => {
    it('should fail an interrupt-mode command with COMMS_ERROR when the area comes back ERROR|FREE with its doorbell, and clear CHANNEL_ERROR before writing the next command, which succeeds', async () => {
      const { h, agent } = await probeWithFaults([]);
      const area = areaOf(h, 'a2p', 0);
      // The platform breaks on the first command: the responder gives the area back with
      // CHANNEL_ERROR | CHANNEL_FREE (and PROTOCOL_ERROR as the status word) and rings.
      const handle = h.platform.handle.bind(h.platform);
      const seen: { status: number; flags: number }[] = [];
      let fail = true;
      h.platform.handle = (agentId, channelId, request) => {
        // What the agent wrote into the area, as the platform finds it.
        seen.push({ status: area.status(), flags: area.flags() });
        if (fail) {
          fail = false;
          throw new Error('firmware fault');
        }
        return handle(agentId, channelId, request);
      };
      const before = channelStats(agent, 'a2p:0');
      const first = track(agent.transact(VENDOR.protocolId, VENDOR.messageId));
      await h.clock.runUntilIdle();
      expect(first.settled).toBe(true);
      expect(statusOf(first.error)).toBe(ScmiStatus.COMMS_ERROR);
      expect(h.responder.counters.platformErrors).toBe(1);
      expect(area.status()).toBe(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
      // The next command on the same channel: the responder refuses any command whose area still
      // has CHANNEL_ERROR (smt-responder.ts), so it succeeds only if the agent cleared it.
      const next = agent.base.discoverVendor();
      await h.clock.runUntilIdle();
      await expect(next).resolves.toBe(h.platform.config.vendor);
      expect(seen).toEqual([
        { status: 0, flags: SMT_FLAG_INTR_ENABLED },
        { status: 0, flags: SMT_FLAG_INTR_ENABLED },
      ]);
      expect(h.responder.counters.malformedRequests).toBe(0);
      expect(area.status()).toBe(SMT_CHANNEL_FREE);
      const a2p = channelStats(agent, 'a2p:0');
      expect([a2p.sent - before.sent, a2p.completed - before.completed]).toEqual([2, 2]);
      expect([a2p.timeouts, a2p.lateReplies]).toEqual([0, 0]);
      expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
      await removeAndClose(h, agent);
    });

    it('should not trust the payload or the length of an ERROR|FREE reply in interrupt mode: COMMS_ERROR although its status word says SUCCESS, nothing counted oversize', async () => {
      const hand = createHand(false);
      const agent = await hand.probe({ a2p: [{ id: 0 }], p2a: false });
      const answer = hand.onRequest;
      // The first command: a reply whose status word reads SUCCESS and whose length is garbage,
      // given back with CHANNEL_ERROR | CHANNEL_FREE, then the doorbell.
      hand.onRequest = (request) => {
        hand.a2p.setHeader(readU32(request, 0));
        hand.a2p.bytes.fill(0, SMT_PAYLOAD_OFFSET, SMT_PAYLOAD_OFFSET + 4);
        hand.a2p.setLength(0xffffffff);
        hand.a2p.setStatus(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
        hand.ringA2p();
      };
      const before = channelStats(agent, 'a2p:0');
      const first = track(agent.transact(VENDOR.protocolId, VENDOR.messageId));
      await hand.clock.runUntilIdle();
      expect(first.settled).toBe(true);
      expect(statusOf(first.error)).toBe(ScmiStatus.COMMS_ERROR);
      // The next command finds CHANNEL_ERROR cleared and its own header in the area.
      const statuses: number[] = [];
      hand.onRequest = (request, response) => {
        statuses.push(hand.a2p.status());
        answer(request, response);
      };
      const next = agent.base.discoverVendor();
      await hand.clock.runUntilIdle();
      await expect(next).resolves.toBe(hand.platform.config.vendor);
      expect(statuses).toEqual([0]);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.completed - before.completed).toBe(2);
      expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
      expect(hand.wire.wire.monitor.channel('a2p:0')?.hostileLengths).toBe(0);
      const removing = agent.remove();
      await hand.clock.runUntilIdle();
      await removing;
      expect(hand.wire.wire.monitor.violations).toEqual([]);
      hand.platform.close();
    });

    it('should complete a poll on CHANNEL_ERROR without CHANNEL_FREE (Linux shmem_poll_done: FREE or ERROR), failing it with COMMS_ERROR', async () => {
      // The response is written and kept busy; the test then sets CHANNEL_ERROR alone.
      const { h, agent } = await probeWithFaults(
        [{ match: VENDOR, action: { kind: 'stuck-busy' } }],
        true,
      );
      const area = areaOf(h, 'a2p', 0);
      const before = channelStats(agent, 'a2p:0');
      const reply = track(agent.transact(VENDOR.protocolId, VENDOR.messageId));
      await h.clock.runTasks();
      expect(area.status()).toBe(0);
      await h.clock.advance(1);
      expect(reply.settled).toBe(false); // still polling: neither bit is set
      area.setStatus(SMT_CHANNEL_ERROR);
      await h.clock.advance(1); // well inside the 30 ms RX timeout
      expect(reply.settled).toBe(true);
      expect(statusOf(reply.error)).toBe(ScmiStatus.COMMS_ERROR);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.completed - before.completed).toBe(1);
      expect(a2p.timeouts).toBe(0);
      expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
      await removeAndClose(h, agent);
    });
  });

  describe('the wait for CHANNEL_FREE before writing', () => {
    it('should wait up to 2× the RX timeout for a busy area, writing nothing, then fail with E_CHANNEL_BUSY, still writing nothing', async () => {
      const rxTimeoutMs = 20; // not the default: the wait follows the agent's RX timeout
      const h = createHarness({
        auto: false,
        platformFaults: [
          { match: { protocolId: 0x14, messageId: 0x0, nth: 1 }, action: { kind: 'drop' } },
        ],
      });
      const agent = await h.probe({ a2p: [{ id: 0 }], rxTimeoutMs });
      const area = areaOf(h, 'a2p', 0);
      // The platform never answers the first command: it keeps the area (CHANNEL_FREE clear).
      const first = track(agent.transact(0x14, 0x0));
      await h.clock.advance(rxTimeoutMs);
      expect(first.error).toBeInstanceOf(ScmiTimeoutError);
      expect(area.isFree()).toBe(false);
      const held = area.bytes.slice();
      const requests = h.responder.counters.requests;
      const before = channelStats(agent, 'a2p:0');
      const monitor = (): unknown => {
        const record = defined(h.mailbox.wire.monitor.channel('a2p:0'), 'a2p:0');
        return { busyWaits: record.busyWaits, busyFailures: record.busyFailures };
      };
      const second = track(agent.transact(0x14, 0x0));
      await h.clock.advance(2 * rxTimeoutMs - 0.5);
      expect(second.settled).toBe(false);
      expect(area.bytes).toEqual(held);
      expect(monitor()).toEqual({ busyWaits: 1, busyFailures: 0 });
      expect(h.responder.counters.requests).toBe(requests);
      expect(h.responder.counters.ringsWhileBusy).toBe(0);
      await h.clock.advance(1); // past 2× the RX timeout
      expect(second.settled).toBe(true);
      expect(ScmiTransportError.is(second.error) && second.error.code).toBe('E_CHANNEL_BUSY');
      expect(area.bytes).toEqual(held);
      expect(monitor()).toEqual({ busyWaits: 1, busyFailures: 1 });
      expect(h.responder.counters.requests).toBe(requests);
      expect(h.responder.counters.ringsWhileBusy).toBe(0);
      const a2p = channelStats(agent, 'a2p:0');
      expect([a2p.sent - before.sent, a2p.failed - before.failed]).toEqual([0, 1]);
      await removeAndClose(h, agent);
    });
  });

  describe('a length field at the size of the area', () => {
    /** `length` the default area holds: header and payload (156 − 0x18 = 132 bytes). */
    const maxLength = (h: Harness): number => areaOf(h, 'a2p', 0).maxLength;

    it.each([
      ['exactly what the area holds: taken whole, not counted oversize', 0, 0],
      ['one byte more than the area holds: clamped to the area, counted oversize once', 1, 1],
    ])('should read a response whose length is %s', async (_what, extra, oversize) => {
      const { h, agent } = await probeWithFaults([]);
      const area = areaOf(h, 'a2p', 0);
      h.responder.faults.add({
        match: VENDOR,
        action: { kind: 'hostile-length', length: maxLength(h) + extra },
      });
      // The neighbouring area (a2p:1) holds a pattern the agent must never see.
      areaOf(h, 'a2p', 1).bytes.fill(0xee);
      const reply = track(agent.transact(VENDOR.protocolId, VENDOR.messageId));
      await h.clock.runUntilIdle();
      expect(reply.settled).toBe(true);
      expect(reply.error).toBeUndefined();
      // Everything after the status word up to the end of the area, and nothing past it.
      const bytes = defined(reply.value as Uint8Array | undefined, 'reply');
      expect(bytes.byteLength).toBe(area.maxPayload - 4);
      expect(bytes).toEqual(area.bytes.slice(SMT_PAYLOAD_OFFSET + 4));
      expect(bytes.includes(0xee)).toBe(false);
      expect(channelStats(agent, 'a2p:0').badMessages).toEqual({ ...NO_BAD_MESSAGES, oversize });
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.hostileLengths).toBe(oversize);
      await removeAndClose(h, agent);
    });

    it.each([
      ['exactly what the area holds: delivered whole, not counted oversize', 0, 0],
      ['one byte more than the area holds: clamped to the area, counted oversize once', 1, 1],
    ])('should read a notification whose length is %s', async (_what, extra, oversize) => {
      const { h, agent } = await probeWithFaults([]);
      const area = areaOf(h, 'p2a', 0);
      h.responder.faults.add({
        match: { direction: 'p2a' },
        action: { kind: 'hostile-length', length: area.maxLength + extra },
      });
      // Performance LEVEL_CHANGED, one posted when the platform answers Base PROTOCOL_VERSION.
      agent.events.register(0x13, [{ id: 0x1, name: 'level' }]);
      const payloads: Uint8Array[] = [];
      const unsubscribe = await agent.events.subscribe({ protocolId: 0x13, eventId: 0x1 }, (n) => {
        payloads.push(n.payload.slice());
      });
      h.platform.faults.add({
        match: { protocolId: 0x10, messageId: 0, nth: 1 },
        action: { kind: 'notification-storm', count: 1, protocolId: 0x13, messageId: 0x1 },
      });
      const version = track(agent.transact(0x10, 0x0));
      await h.clock.runUntilIdle();
      expect(version.error).toBeUndefined();
      // Its payload: everything after the header up to the end of the area (128 bytes, as much as
      // core's notification buffer holds: no clamp there), and nothing past it.
      expect(payloads).toEqual([area.bytes.slice(SMT_PAYLOAD_OFFSET)]);
      expect(payloads[0]?.byteLength).toBe(area.maxPayload);
      const p2a = channelStats(agent, 'p2a:0');
      expect(p2a.notifications).toBe(1);
      expect(p2a.badMessages).toEqual({ ...NO_BAD_MESSAGES, oversize });
      expect(h.mailbox.wire.monitor.channel('p2a:0')?.hostileLengths).toBe(oversize);
      const unsubscribing = unsubscribe();
      await h.clock.runUntilIdle();
      await unsubscribing;
      await removeAndClose(h, agent);
    });
  });
});
