import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  ResetMessageId,
  ResetNotificationId,
  createDefaultPlatformConfig,
  type PlatformConfig,
} from '@scmi-ts/platform';
import { ResetProtocol } from '../src/protocols/reset/reset-protocol';
import { Harness, decodeAnswer, defined } from './support/harness';
import { serverReply } from './support/server-reply';

const RESET = ScmiProtocolId.RESET;
const AUTONOMOUS = 1;
const ASSERT = 2;
const ASYNC = 4;

function config(): PlatformConfig {
  const base = createDefaultPlatformConfig();
  return {
    ...base,
    agents: [
      ...base.agents,
      { id: 3, name: 'limited', protocols: ['reset'], domains: { reset: [2] } },
    ],
  };
}

describe('Reset domain protocol (0x16)', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness(config());
    h.connect(1);
    h.connect(3);
  });
  afterEach(() => {
    h.close();
  });

  it('should report version 3.1 (SCMI v3.2) and three domains', () => {
    expect(h.call(RESET, 0x0).words).toEqual([0x30001]);
    expect(h.call(RESET, 0x1).words).toEqual([3]);
    expect(h.call(RESET, 0x2, [ResetMessageId.DOMAIN_NAME_GET]).status).toBe(0);
    expect(h.call(RESET, 0x2, [7]).status).toBe(ScmiStatus.NOT_FOUND);
  });

  describe('RESET_DOMAIN_ATTRIBUTES', () => {
    it('should describe async and notify support, latency and name', () => {
      const gpu = h.call(RESET, ResetMessageId.DOMAIN_ATTRIBUTES, [0]);
      expect([gpu.r.u32(), gpu.r.u32(), gpu.r.string(16)]).toEqual([0xc0000000, 500, 'gpu']);
      const uart = h.call(RESET, ResetMessageId.DOMAIN_ATTRIBUTES, [2]);
      expect(uart.words.slice(0, 2)).toEqual([0x40000000, 0xffffffff]);
      expect(h.call(RESET, ResetMessageId.DOMAIN_ATTRIBUTES, [3]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
    });

    it('should send latency 0xFFFFFFFF (unknown, as SCP-firmware and Linux reset.c) without a configured latency, and the longest configurable one as is', () => {
      const base = createDefaultPlatformConfig();
      const hh = new Harness({
        ...base,
        resetDomains: [
          { name: 'unknown' },
          { name: 'slowest', latencyUs: 0x7ffffffe },
          { name: 'uart' },
        ],
      });
      hh.connect(1);
      const latency = (id: number): number | undefined =>
        hh.call(RESET, ResetMessageId.DOMAIN_ATTRIBUTES, [id]).words[1];
      expect(latency(0)).toBe(0xffffffff);
      expect(latency(1)).toBe(0x7ffffffe);
      hh.close();
    });

    it('should not advertise async or notifications without P2A', () => {
      const noP2a = new Harness(config());
      noP2a.connect(1, false);
      expect(noP2a.call(RESET, ResetMessageId.DOMAIN_ATTRIBUTES, [0]).words[0]).toBe(0);
      noP2a.close();
    });
  });

  describe('RESET', () => {
    it('should perform a synchronous autonomous reset and notify subscribers', () => {
      expect(h.call(RESET, ResetMessageId.NOTIFY, [2, 1], 3).status).toBe(0);
      expect(h.call(RESET, ResetMessageId.RESET, [2, AUTONOMOUS, 0]).status).toBe(0);
      expect(h.platform.snapshot().resetDomains[2]).toEqual({ asserted: false, resets: 1 });
      expect(h.links.get(3)?.messages).toEqual([
        {
          type: 3,
          protocolId: RESET,
          messageId: ResetNotificationId.ISSUED,
          token: 0,
          words: [1, 2, 0],
        },
      ]);
      expect(h.links.get(1)?.posted).toHaveLength(0);
    });

    it('should assert and deassert explicitly', () => {
      h.call(RESET, ResetMessageId.RESET, [1, ASSERT, 0]);
      expect(h.platform.snapshot().resetDomains[1]?.asserted).toBe(true);
      h.call(RESET, ResetMessageId.RESET, [1, 0, 0x80000005]);
      expect(h.platform.snapshot().resetDomains[1]?.asserted).toBe(false);
    });

    it('should complete an asynchronous reset with delayed response 0x4 after its latency', async () => {
      const link = h.link(1);
      h.call(RESET, ResetMessageId.NOTIFY, [0, 1]);
      h.send(1, RESET, ResetMessageId.RESET, [0, AUTONOMOUS | ASYNC, 0], 300);
      await h.clock.advance(0.4);
      expect(link.posted).toHaveLength(0);
      await h.clock.advance(0.1);
      expect(link.messages).toEqual([
        { type: 3, protocolId: RESET, messageId: 0, token: 0, words: [1, 0, 0] },
        { type: 2, protocolId: RESET, messageId: 4, token: 300, words: [0, 0] },
      ]);
    });

    it('should perform an accepted asynchronous reset even if the agent disconnects first, without its delayed response', async () => {
      const link = h.link(1);
      h.send(1, RESET, ResetMessageId.RESET, [0, AUTONOMOUS | ASYNC, 0], 300);
      h.connection(1).disconnect();
      await h.clock.advance(0.5);
      expect(h.platform.snapshot().resetDomains[0]).toEqual({ asserted: false, resets: 1 });
      expect(link.posted).toHaveLength(0);
      expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
    });

    it('should answer BUSY to an asynchronous reset beyond maxPendingAsync, platform-wide, reset and notify nothing, and accept again once one completed', async () => {
      const c = config();
      const busy = new Harness(
        { ...c, agents: [...c.agents, { id: 4, name: 'other', protocols: ['reset'] }] },
        { behaviour: { maxPendingAsync: 2 } },
      );
      const link = busy.connect(1);
      busy.connect(4);
      expect(busy.call(RESET, ResetMessageId.NOTIFY, [0, 1]).status).toBe(0);
      const reset = (flags: number, token: number, agent = 1): number =>
        decodeAnswer(defined(busy.send(agent, RESET, ResetMessageId.RESET, [0, flags, 0], token)))
          .status;
      // Two asynchronous resets of the same domain: no per-domain BUSY (as SCP-firmware).
      expect(reset(AUTONOMOUS | ASYNC, 1)).toBe(0);
      expect(reset(AUTONOMOUS | ASYNC, 2)).toBe(0);
      expect(reset(AUTONOMOUS | ASYNC, 3)).toBe(ScmiStatus.BUSY);
      expect(reset(AUTONOMOUS | ASYNC, 3, 4)).toBe(ScmiStatus.BUSY); // the limit is platform-wide
      expect([busy.platform.armedTimers, busy.platform.pendingOperations]).toEqual([2, 2]);
      expect(link.posted).toHaveLength(0);
      expect(reset(AUTONOMOUS, 4)).toBe(0); // a synchronous reset needs no slot
      expect(busy.platform.snapshot().resetDomains[0]).toEqual({ asserted: false, resets: 1 });
      await busy.clock.advance(0.5); // the gpu domain's latency, 500 µs
      // The two accepted resets completed, each with RESET_ISSUED and its delayed response; the
      // refused ones did nothing and sent nothing.
      expect(busy.platform.snapshot().resetDomains[0]).toEqual({ asserted: false, resets: 3 });
      expect(link.messages.filter((m) => m.type === 2).map((m) => m.token)).toEqual([1, 2]);
      expect(link.messages.filter((m) => m.type === 3)).toHaveLength(3);
      expect(busy.link(4).posted).toHaveLength(0);
      expect([busy.platform.armedTimers, busy.platform.pendingOperations]).toEqual([0, 0]);
      expect(reset(AUTONOMOUS | ASYNC, 5, 4)).toBe(0);
      await busy.clock.advance(0.5);
      expect(busy.platform.snapshot().resetDomains[0]).toEqual({ asserted: false, resets: 4 });
      busy.close();
    });

    it('should take the platform async latency when the domain latency is unknown', async () => {
      const custom = new Harness(
        {
          vendor: 'v',
          subVendor: 's',
          implementationVersion: 0,
          agents: [{ id: 1, name: 'a', protocols: ['reset'] }],
          resetDomains: [{ name: 'slow', asyncReset: true }],
        },
        { behaviour: { asyncLatencyMs: 7 } },
      );
      const link = custom.connect(1);
      custom.call(RESET, ResetMessageId.RESET, [0, AUTONOMOUS | ASYNC, 0]);
      await custom.clock.advance(6);
      expect(link.posted).toHaveLength(0);
      await custom.clock.advance(1);
      expect(link.posted).toHaveLength(1);
      custom.close();
    });

    it('should reject bad flags, states, domains, permissions and sizes', () => {
      const reset = (p: number[], agent = 1): number =>
        h.call(RESET, ResetMessageId.RESET, p, agent).status;
      expect(reset([0, 8, 0])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(reset([0, ASYNC, 0])).toBe(ScmiStatus.INVALID_PARAMETERS); // async needs autonomous
      expect(reset([0, AUTONOMOUS, 1])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(reset([1, AUTONOMOUS | ASYNC, 0])).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(reset([3, AUTONOMOUS, 0])).toBe(ScmiStatus.NOT_FOUND);
      expect(reset([0, AUTONOMOUS, 0], 3)).toBe(ScmiStatus.DENIED);
      expect(reset([0, AUTONOMOUS])).toBe(ScmiStatus.PROTOCOL_ERROR);
    });

    it('should answer DENIED first, then look at the flags and the reset state before the domain lookup, and at async after it, as SCP-firmware', () => {
      const reset = (p: number[], agent = 1): number =>
        h.call(RESET, ResetMessageId.RESET, p, agent).status;
      expect(reset([3, 8, 0])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(reset([3, AUTONOMOUS, 1])).toBe(ScmiStatus.INVALID_PARAMETERS);
      // A domain the agent may not use: DENIED before its flags (SCP checks the permission first).
      expect(reset([0, 8, 0], 3)).toBe(ScmiStatus.DENIED);
      // Async without autonomous is checked once the domain is known (reset_request_handler).
      expect(reset([3, ASYNC, 0])).toBe(ScmiStatus.NOT_FOUND);
      expect(reset([0, ASYNC, 0], 3)).toBe(ScmiStatus.DENIED);
    });

    it('should answer NOT_SUPPORTED to async resets and notify without P2A', () => {
      const noP2a = new Harness(config());
      noP2a.connect(1, false);
      expect(noP2a.call(RESET, ResetMessageId.RESET, [0, AUTONOMOUS | ASYNC, 0]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      expect(noP2a.call(RESET, ResetMessageId.NOTIFY, [0, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      noP2a.close();
    });
  });

  describe('on a link too small for a delayed response or a notification', () => {
    // An asynchronous RESET's delayed response: status, domain_id = 8 bytes. RESET_ISSUED:
    // agent_id, domain_id, reset_state = 12 bytes.
    const GPU = 0; // asynchronous reset, latency 500 µs
    const UART = 2;
    /** The default agents and a watcher (4) that may use every reset domain, on its own link. */
    function watched(): PlatformConfig {
      const c = config();
      return { ...c, agents: [...c.agents, { id: 4, name: 'watcher', protocols: ['reset'] }] };
    }
    const attributesOf = (maxMsgSize: number, domain = GPU, p2a = true): number =>
      serverReply(
        (p) => new ResetProtocol(p),
        { p2a, maxMsgSize },
        ResetMessageId.DOMAIN_ATTRIBUTES,
        [domain],
      ).words[0] ?? -1;

    it('should set RESET_DOMAIN_ATTRIBUTES bit 31 only where the 8-byte delayed response fits, bit 30 only where the 12-byte RESET_ISSUED fits', () => {
      // The 28-byte RESET_DOMAIN_ATTRIBUTES response itself needs a larger link: the server's own
      // reply.
      expect(attributesOf(12)).toBe(0xc0000000);
      expect(attributesOf(11)).toBe(0x80000000);
      expect(attributesOf(8)).toBe(0x80000000);
      expect(attributesOf(7)).toBe(0);
      expect(attributesOf(12, UART)).toBe(0x40000000); // no asynchronous reset
      expect(attributesOf(128, GPU, false)).toBe(0);
    });

    it('should accept an asynchronous reset on a link of exactly 8 bytes and post its delayed response', async () => {
      const fits = new Harness(config());
      const link = fits.connect(1, true, 8);
      const raw = fits.send(1, RESET, ResetMessageId.RESET, [GPU, AUTONOMOUS | ASYNC, 0], 41);
      expect(decodeAnswer(defined(raw)).status).toBe(ScmiStatus.SUCCESS);
      expect(fits.platform.pendingOperations).toBe(1);
      await fits.clock.advance(0.5);
      expect(fits.platform.snapshot().resetDomains[GPU]).toEqual({ asserted: false, resets: 1 });
      expect(link.messages).toEqual([
        { type: 2, protocolId: RESET, messageId: ResetMessageId.RESET, token: 41, words: [0, 0] },
      ]);
      expect(fits.platform.counters).toMatchObject({
        delayedResponsesPosted: 1,
        notificationsDropped: 0,
      });
      fits.close();
    });

    it('should answer an asynchronous reset NOT_SUPPORTED on a 7-byte link, before any change', async () => {
      const small = new Harness(watched());
      const link = small.connect(1, true, 7);
      const watcher = small.connect(4);
      expect(small.call(RESET, ResetMessageId.NOTIFY, [GPU, 1], 4).status).toBe(0);
      expect(small.call(RESET, ResetMessageId.RESET, [GPU, AUTONOMOUS | ASYNC, 0]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      expect([small.platform.armedTimers, small.platform.pendingOperations]).toEqual([0, 0]);
      await small.clock.advance(1000);
      expect(small.platform.snapshot().resetDomains[GPU]).toEqual({ asserted: false, resets: 0 });
      expect(watcher.posted).toHaveLength(0); // no RESET_ISSUED
      expect(link.posted).toHaveLength(0);
      // A synchronous reset needs neither and is still accepted.
      expect(small.call(RESET, ResetMessageId.RESET, [GPU, AUTONOMOUS, 0]).status).toBe(0);
      expect(watcher.posted).toHaveLength(1);
      small.close();
    });

    it('should accept RESET_NOTIFY on a link of exactly 12 bytes and deliver RESET_ISSUED', () => {
      const fits = new Harness(config());
      const link = fits.connect(1, true, 12);
      expect(fits.call(RESET, ResetMessageId.NOTIFY, [UART, 1]).status).toBe(0);
      expect(fits.call(RESET, ResetMessageId.RESET, [UART, AUTONOMOUS, 0]).status).toBe(0);
      expect(link.messages).toEqual([
        {
          type: 3,
          protocolId: RESET,
          messageId: ResetNotificationId.ISSUED,
          token: 0,
          words: [1, UART, 0],
        },
      ]);
      expect(fits.platform.counters.notificationsDropped).toBe(0);
      fits.close();
    });

    it('should answer NOT_SUPPORTED to enabling RESET_NOTIFY on an 11-byte link, subscribe nothing, and accept a disable', () => {
      const small = new Harness(config());
      const link = small.connect(1, true, 11);
      expect(small.call(RESET, ResetMessageId.NOTIFY, [UART, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      expect(small.call(RESET, ResetMessageId.NOTIFY, [UART, 0]).status).toBe(0);
      expect(small.platform.subscriptions(1)).toEqual([]);
      expect(small.call(RESET, ResetMessageId.RESET, [UART, AUTONOMOUS, 0]).status).toBe(0);
      expect(link.posted).toHaveLength(0);
      expect(small.platform.counters.notificationsDropped).toBe(0);
      small.close();
    });
  });

  it('should reject notify for denied domains', () => {
    expect(h.call(RESET, ResetMessageId.NOTIFY, [0, 1], 3).status).toBe(ScmiStatus.DENIED);
  });

  it('should return the name with RESET_DOMAIN_NAME_GET', () => {
    const a = h.call(RESET, ResetMessageId.DOMAIN_NAME_GET, [1]);
    expect([a.r.u32(), a.r.string(64)]).toEqual([0, 'usb']);
    expect(h.call(RESET, ResetMessageId.DOMAIN_NAME_GET, [9]).status).toBe(ScmiStatus.NOT_FOUND);
  });
});
