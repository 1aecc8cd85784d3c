import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  BaseMessageId,
  ClockMessageId,
  ClockNotificationId,
  createDefaultPlatformConfig,
  type PlatformConfig,
} from '@scmi-ts/platform';
import { ClockProtocol } from '../src/protocols/clock/clock-protocol';
import { Harness, decodeAnswer, decodePosted, whileTimersFail } from './support/harness';
import { serverReply } from './support/server-reply';

const CLOCK = ScmiProtocolId.CLOCK;
const MHZ = 1_000_000;
const TWO_32 = 2 ** 32;

function config(): PlatformConfig {
  const base = createDefaultPlatformConfig();
  return {
    ...base,
    agents: [
      ...base.agents,
      { id: 3, name: 'limited', protocols: ['clock'], domains: { clock: [1] } },
    ],
  };
}

function rateOf(words: number[], at = 0): number {
  return (words[at] as number) + (words[at + 1] as number) * TWO_32;
}

function describeRates(
  h: Harness,
  clock: number,
): { rates: number[]; format: number; calls: number } {
  const rates: number[] = [];
  let calls = 0;
  for (;;) {
    const a = h.call(CLOCK, ClockMessageId.DESCRIBE_RATES, [clock, rates.length]);
    calls++;
    expect(a.status).toBe(ScmiStatus.SUCCESS);
    const flags = a.r.u32();
    const returned = flags & 0xfff;
    const format = (flags >>> 12) & 1;
    for (let i = 0; i < returned; i++) rates.push(Number(a.r.u64()));
    expect(a.r.remaining).toBe(0);
    if (flags >>> 16 === 0) return { rates, format, calls };
  }
}

const set = (h: Harness, flags: number, clock: number, rate: number, agent = 1): number =>
  h.call(
    CLOCK,
    ClockMessageId.RATE_SET,
    [flags, clock, rate % TWO_32, Math.floor(rate / TWO_32)],
    agent,
  ).status;
const get = (h: Harness, clock: number): number =>
  rateOf(h.call(CLOCK, ClockMessageId.RATE_GET, [clock]).words);

describe('Clock protocol (0x14)', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness(config());
    h.connect(1);
    h.connect(3);
  });
  afterEach(() => {
    h.close();
  });

  it('should report version 3.0, four clocks and the async limit', () => {
    expect(h.call(CLOCK, 0x0).words).toEqual([0x30000]);
    expect(h.call(CLOCK, 0x1).words).toEqual([4 | (8 << 16)]);
    for (const id of [3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10]) {
      expect(h.call(CLOCK, 0x2, [id]).status).toBe(0);
    }
    expect(h.call(CLOCK, 0x2, [0x11]).status).toBe(ScmiStatus.NOT_FOUND);
  });

  it('should be NOT_SUPPORTED for an agent without the clock protocol', () => {
    h.connect(2);
    expect(h.call(CLOCK, 0x0, [], 2).status).toBe(ScmiStatus.NOT_SUPPORTED);
  });

  describe('CLOCK_ATTRIBUTES', () => {
    it('should describe enable state, notifications, parents, name and enable latency', () => {
      const a = h.call(CLOCK, ClockMessageId.ATTRIBUTES, [2]);
      const attributes = a.r.u32();
      expect(attributes & 1).toBe(0);
      expect(attributes >>> 28).toBe(0b1101); // rate notify, requested notify, no ext name, parents
      expect(a.r.string(16)).toBe('gpu-core');
      expect(a.r.u32()).toBe(20);
      expect(attributes & 2).toBe(2); // CLOCK_GET_PERMISSIONS supported
      expect(h.call(CLOCK, ClockMessageId.ATTRIBUTES, [0]).words[0]).toBe(0xc0000003);
    });

    it('should answer NOT_FOUND for an invalid clock and allow discovery of denied clocks', () => {
      expect(h.call(CLOCK, ClockMessageId.ATTRIBUTES, [4]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(CLOCK, ClockMessageId.ATTRIBUTES, [0], 3).status).toBe(0);
    });
  });

  describe('CLOCK_DESCRIBE_RATES', () => {
    it('should describe a list of rates', () => {
      expect(describeRates(h, 1)).toEqual({
        rates: [19_200_000, 24 * MHZ, 48 * MHZ],
        format: 0,
        calls: 1,
      });
    });

    it('should describe a range as one triplet', () => {
      expect(describeRates(h, 0)).toEqual({
        rates: [200 * MHZ, 2000 * MHZ, 100 * MHZ],
        format: 1,
        calls: 1,
      });
    });

    it('should split a list over several replies', () => {
      const split = new Harness(config(), { behaviour: { multiPartMax: 1 } });
      split.connect(1);
      expect(describeRates(split, 1).calls).toBe(3);
      expect(split.call(CLOCK, ClockMessageId.DESCRIBE_RATES, [1, 1]).words[0]).toBe(1 | (1 << 16));
      split.close();
    });

    it('should answer OUT_OF_RANGE from the end of a rate list on (as SCP-firmware) and NOT_FOUND for a bad clock', () => {
      expect(h.call(CLOCK, ClockMessageId.DESCRIBE_RATES, [1, 2]).words[0]).toBe(1);
      expect(h.call(CLOCK, ClockMessageId.DESCRIBE_RATES, [1, 3]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
      expect(h.call(CLOCK, ClockMessageId.DESCRIBE_RATES, [1, 4]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
      expect(h.call(CLOCK, ClockMessageId.DESCRIBE_RATES, [9, 0]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
    });

    it('should describe 64-bit rates', () => {
      const big: PlatformConfig = {
        vendor: 'v',
        subVendor: 's',
        implementationVersion: 0,
        agents: [{ id: 1, name: 'a', protocols: ['clock'] }],
        clocks: [{ name: 'fast', rates: [5 * TWO_32 + 7] }],
      };
      const b = new Harness(big);
      b.connect(1);
      expect(b.call(CLOCK, ClockMessageId.DESCRIBE_RATES, [0, 0]).words).toEqual([1, 7, 5]);
      expect(b.call(CLOCK, ClockMessageId.RATE_GET, [0]).words).toEqual([7, 5]);
      expect(b.call(CLOCK, ClockMessageId.RATE_SET, [0, 0, 7, 5]).status).toBe(0);
      expect(b.call(CLOCK, ClockMessageId.RATE_SET, [0, 0, 0, 0x400000]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      b.close();
    });
  });

  describe('CLOCK_RATE_SET / CLOCK_RATE_GET', () => {
    it('should set a supported rate synchronously', () => {
      expect(get(h, 0)).toBe(1200 * MHZ);
      expect(set(h, 0, 0, 300 * MHZ)).toBe(0);
      expect(get(h, 0)).toBe(300 * MHZ);
      expect(h.platform.snapshot().clocks[0]).toEqual({
        rate: 300 * MHZ,
        enabled: true,
        parent: undefined,
      });
    });

    it('should round down by default, up with bit 2, to the nearest with bit 3', () => {
      set(h, 0, 0, 349 * MHZ);
      expect(get(h, 0)).toBe(300 * MHZ);
      set(h, 4, 0, 301 * MHZ);
      expect(get(h, 0)).toBe(400 * MHZ);
      set(h, 8, 0, 449 * MHZ);
      expect(get(h, 0)).toBe(400 * MHZ);
      set(h, 8, 0, 451 * MHZ);
      expect(get(h, 0)).toBe(500 * MHZ);
      set(h, 0, 1, 30 * MHZ);
      expect(get(h, 1)).toBe(24 * MHZ);
      set(h, 4, 1, 30 * MHZ);
      expect(get(h, 1)).toBe(48 * MHZ);
      set(h, 8, 1, 22 * MHZ);
      expect(get(h, 1)).toBe(24 * MHZ);
      set(h, 8, 1, 20 * MHZ);
      expect(get(h, 1)).toBe(19_200_000);
    });

    it('should answer INVALID_PARAMETERS for a rate outside the clock range, as SCP-firmware and scmi-tests c011 expect', () => {
      expect(set(h, 0, 0, 100 * MHZ)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(set(h, 4, 0, 2001 * MHZ)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(set(h, 8, 1, 49 * MHZ)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(set(h, 0, 1, 1)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(get(h, 0)).not.toBe(100 * MHZ);
    });

    it('should reject bad flags, clocks, permissions and sizes', () => {
      expect(set(h, 0x10, 0, 300 * MHZ)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(set(h, 0, 4, 300 * MHZ)).toBe(ScmiStatus.NOT_FOUND);
      expect(set(h, 0, 0, 300 * MHZ, 3)).toBe(ScmiStatus.DENIED);
      expect(set(h, 0, 1, 48 * MHZ, 3)).toBe(0);
      expect(h.call(CLOCK, ClockMessageId.RATE_SET, [0, 0, 1]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.call(CLOCK, ClockMessageId.RATE_GET, [0], 3).status).toBe(ScmiStatus.DENIED);
      expect(h.call(CLOCK, ClockMessageId.RATE_GET, [8]).status).toBe(ScmiStatus.NOT_FOUND);
    });

    it('should look at the flags before the clock and its permission, as SCP-firmware', () => {
      // Reserved bits with a clock that does not exist, or one the agent may not use.
      expect(set(h, 0x10, 4, 300 * MHZ)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(set(h, 0x10, 0, 300 * MHZ, 3)).toBe(ScmiStatus.INVALID_PARAMETERS);
    });

    it('should complete an asynchronous set with delayed response 0x5 carrying the token', async () => {
      const link = h.link(1);
      const raw = h.send(1, CLOCK, ClockMessageId.RATE_SET, [1, 0, 500 * MHZ, 0], 77);
      expect(raw).toBeDefined();
      expect(h.platform.snapshot().clocks[0]?.rate).toBe(1200 * MHZ); // not yet
      expect(link.posted).toHaveLength(0);
      await h.clock.advance(1);
      expect(get(h, 0)).toBe(500 * MHZ);
      expect(link.messages).toEqual([
        {
          type: 2,
          protocolId: CLOCK,
          messageId: ClockMessageId.RATE_SET,
          token: 77,
          words: [0, 0, 500 * MHZ, 0],
        },
      ]);
      expect(h.platform.counters.delayedResponsesPosted).toBe(1);
    });

    it('should not post a delayed response when bit 1 asks for none', async () => {
      expect(set(h, 3, 0, 500 * MHZ)).toBe(0);
      await h.clock.advance(1);
      expect(get(h, 0)).toBe(500 * MHZ);
      expect(h.links.get(1)?.posted).toHaveLength(0);
    });

    it('should advertise no pending asynchronous rate changes without a P2A channel (Linux then never asks for one)', () => {
      // Linux clock.c makes a set asynchronous whenever max_async_req (bits 23:16) allows one.
      expect((h.call(CLOCK, 0x1).words[0] ?? 0) >>> 16).toBe(8);
      const noP2a = new Harness(config());
      noP2a.connect(1, false);
      expect(noP2a.call(CLOCK, 0x1).words[0]).toBe(4); // four clocks, no pending async
      noP2a.close();
    });

    it('should answer NOT_SUPPORTED to an asynchronous set without a P2A channel', () => {
      const noP2a = new Harness(config());
      noP2a.connect(1, false);
      expect(set(noP2a, 1, 0, 500 * MHZ)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(noP2a.call(CLOCK, ClockMessageId.ATTRIBUTES, [0]).words[0]).toBe(3); // enabled, perms
      expect(noP2a.call(CLOCK, 0x2, [ClockMessageId.RATE_NOTIFY]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(noP2a.call(CLOCK, 0x2, [ClockMessageId.RATE_SET]).status).toBe(0);
      noP2a.close();
    });

    it('should answer BUSY beyond the pending asynchronous limit', async () => {
      const busy = new Harness(config(), { behaviour: { maxPendingAsync: 2, asyncLatencyMs: 5 } });
      busy.connect(1);
      // Three clocks, so that only the platform-wide limit, not a clock's own pending change, counts.
      expect(set(busy, 1, 0, 300 * MHZ)).toBe(0);
      expect(set(busy, 1, 1, 48 * MHZ)).toBe(0);
      expect(set(busy, 1, 2, 400 * MHZ)).toBe(ScmiStatus.BUSY);
      await busy.clock.advance(5);
      expect(set(busy, 1, 2, 400 * MHZ)).toBe(0);
      await busy.clock.advance(5);
      expect(get(busy, 2)).toBe(400 * MHZ);
      expect(busy.links.get(1)?.posted).toHaveLength(3);
      busy.close();
    });

    it('should post a delayed response again when post is refused, then give up', async () => {
      const retry = new Harness(config(), { behaviour: { maxPostRetries: 2, postRetryMs: 3 } });
      const link = retry.connect(1);
      let refusals = 1;
      link.accept = () => refusals-- <= 0;
      set(retry, 1, 0, 300 * MHZ);
      await retry.clock.advance(1);
      expect(link.posted).toHaveLength(0);
      await retry.clock.advance(3);
      expect(link.posted).toHaveLength(1);
      expect(retry.platform.counters).toMatchObject({
        delayedResponseRetries: 1,
        delayedResponsesPosted: 1,
        delayedResponsesDropped: 0,
      });
      link.accept = () => false;
      set(retry, 1, 0, 400 * MHZ);
      await retry.clock.advance(20);
      expect(retry.platform.counters).toMatchObject({
        delayedResponseRetries: 3,
        delayedResponsesDropped: 1,
      });
      expect(retry.platform.armedTimers).toBe(0);
      retry.close();
    });

    it('should drop a delayed response whose post throws, at once and without retrying, never throwing from its timer', async () => {
      const failing = new Harness(config(), { behaviour: { maxPostRetries: 2, postRetryMs: 3 } });
      const link = failing.connect(1);
      expect(set(failing, 1, 0, 300 * MHZ)).toBe(0); // accepted: the delayed response is pending
      link.accept = () => {
        throw new Error('the link failed');
      };
      await expect(failing.clock.advance(1)).resolves.toBeUndefined();
      expect(get(failing, 0)).toBe(300 * MHZ); // the operation completed all the same
      expect(failing.platform.counters).toMatchObject({
        delayedResponsesPosted: 0,
        delayedResponseRetries: 0,
        delayedResponsesDropped: 1,
        cancelledOnDisconnect: 0,
      });
      expect([failing.platform.armedTimers, failing.platform.pendingOperations]).toEqual([0, 0]);
      link.accept = () => true;
      await failing.clock.advance(20); // no retry comes
      expect(link.posted).toHaveLength(0);
      expect(failing.platform.connectedAgents).toEqual([1]);
      failing.close();
    });

    it('should not arm a retry once post disconnected the agent (a slow consumer on the peer port)', async () => {
      const gone = new Harness(config());
      const link = gone.connect(1);
      // A link that closes its agent when it refuses a post, as the peer port does.
      link.accept = () => {
        gone.connection(1).disconnect();
        return false;
      };
      expect(set(gone, 1, 1, 48 * MHZ)).toBe(0);
      await gone.clock.advance(1); // the delayed response: refused, the agent disconnected
      expect(link.refused).toBe(1);
      expect(gone.platform.connectedAgents).toEqual([]);
      expect(gone.platform.armedTimers).toBe(0);
      expect(gone.clock.armedTimers).toBe(0);
      expect(gone.platform.counters).toMatchObject({
        delayedResponseRetries: 0,
        delayedResponsesDropped: 0,
        cancelledOnDisconnect: 1,
      });
      gone.close();
    });
  });

  describe('one operation per clock (SCP-firmware create_event_request)', () => {
    const rate = (hh: Harness, clock: number): number | undefined =>
      hh.platform.snapshot().clocks[clock]?.rate;
    const notify = (hh: Harness, clock: number): void => {
      for (const id of [ClockMessageId.RATE_NOTIFY, ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY])
        expect(hh.call(CLOCK, id, [clock, 1]).status).toBe(0);
    };

    it('should answer BUSY to a set of a clock with an asynchronous change pending, change and notify nothing, and let the older change land', async () => {
      notify(h, 0);
      expect(set(h, 1, 0, 500 * MHZ)).toBe(0); // asynchronous
      const link = h.link(1);
      expect(link.messages.map((m) => m.messageId)).toEqual([
        ClockNotificationId.RATE_CHANGE_REQUESTED,
      ]);
      expect(set(h, 0, 0, 300 * MHZ)).toBe(ScmiStatus.BUSY); // synchronous
      expect(set(h, 1, 0, 300 * MHZ)).toBe(ScmiStatus.BUSY); // asynchronous
      expect(set(h, 3, 0, 300 * MHZ)).toBe(ScmiStatus.BUSY); // asynchronous, no delayed response
      expect(rate(h, 0)).toBe(1200 * MHZ);
      expect(link.posted).toHaveLength(1); // no RATE_CHANGE_REQUESTED for the refused sets
      expect([h.platform.armedTimers, h.platform.pendingOperations]).toEqual([1, 1]);
      await h.clock.advance(1);
      expect(rate(h, 0)).toBe(500 * MHZ);
      // Free again: a newer set is accepted and is the one that stays.
      expect(set(h, 0, 0, 300 * MHZ)).toBe(0);
      await h.clock.advance(10);
      expect(rate(h, 0)).toBe(300 * MHZ);
      expect(link.messages.map((m) => [m.type, m.messageId, ...m.words.slice(0, 3)])).toEqual([
        [3, ClockNotificationId.RATE_CHANGE_REQUESTED, 1, 0, 500 * MHZ],
        [3, ClockNotificationId.RATE_CHANGED, 1, 0, 500 * MHZ],
        [2, ClockMessageId.RATE_SET, 0, 0, 500 * MHZ], // the delayed response
        [3, ClockNotificationId.RATE_CHANGE_REQUESTED, 1, 0, 300 * MHZ],
        [3, ClockNotificationId.RATE_CHANGED, 1, 0, 300 * MHZ],
      ]);
    });

    it('should answer BUSY to CLOCK_ATTRIBUTES, CLOCK_RATE_GET and a state change of that clock only, for every agent', () => {
      expect(set(h, 1, 1, 48 * MHZ)).toBe(0); // clock 1, which agent 3 may use too
      const call = (id: number, p: number[], agent = 1): number =>
        h.call(CLOCK, id, p, agent).status;
      expect(call(ClockMessageId.ATTRIBUTES, [1])).toBe(ScmiStatus.BUSY);
      expect(call(ClockMessageId.RATE_GET, [1])).toBe(ScmiStatus.BUSY);
      expect(call(ClockMessageId.CONFIG_SET, [1, 0, 0])).toBe(ScmiStatus.BUSY);
      expect(call(ClockMessageId.CONFIG_SET, [1, 1])).toBe(ScmiStatus.BUSY); // v1 layout
      expect(call(ClockMessageId.RATE_SET, [0, 1, 24 * MHZ, 0], 3)).toBe(ScmiStatus.BUSY);
      expect(call(ClockMessageId.ATTRIBUTES, [1], 3)).toBe(ScmiStatus.BUSY);
      expect(h.platform.snapshot().clocks[1]).toEqual({
        rate: 24 * MHZ,
        enabled: true,
        parent: undefined,
      });
      // What does not go to the clock in SCP-firmware, and the other clocks, are answered.
      // State 3 without an OEM type is invalid (DEN0056 §4.6.2.9): refused before BUSY.
      expect(call(ClockMessageId.CONFIG_SET, [1, 3, 0])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(call(ClockMessageId.CONFIG_GET, [1, 0])).toBe(0);
      expect(call(ClockMessageId.DESCRIBE_RATES, [1, 0])).toBe(0);
      expect(call(ClockMessageId.NAME_GET, [1])).toBe(0);
      expect(call(ClockMessageId.GET_PERMISSIONS, [1])).toBe(0);
      expect(call(ClockMessageId.ATTRIBUTES, [0])).toBe(0);
      expect(call(ClockMessageId.RATE_GET, [0])).toBe(0);
      expect(set(h, 0, 0, 300 * MHZ)).toBe(0);
      // A clock's parent is not what SCP-firmware guards (it has no CLOCK_PARENT_SET).
      expect(set(h, 1, 2, 400 * MHZ)).toBe(0);
      expect(call(ClockMessageId.PARENT_SET, [2, 3])).toBe(0);
      expect(call(ClockMessageId.PARENT_GET, [2])).toBe(0);
      expect(call(ClockMessageId.POSSIBLE_PARENTS_GET, [2, 0])).toBe(0);
    });

    it('should check the clock, its permission and the asynchronous support before BUSY, and BUSY before the rate', () => {
      expect(set(h, 1, 0, 500 * MHZ)).toBe(0);
      expect(set(h, 0x10, 0, 300 * MHZ)).toBe(ScmiStatus.INVALID_PARAMETERS); // reserved flags
      expect(set(h, 0, 0, 300 * MHZ, 3)).toBe(ScmiStatus.DENIED);
      expect(set(h, 0, 0, 1 * MHZ)).toBe(ScmiStatus.BUSY); // a rate the clock cannot take
      const small = new Harness(config());
      small.connect(1, true, 15); // too small for the 16-byte delayed response
      expect(set(small, 3, 0, 500 * MHZ)).toBe(0); // accepted without a delayed response
      expect(set(small, 1, 0, 300 * MHZ)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(set(small, 0, 0, 300 * MHZ)).toBe(ScmiStatus.BUSY);
      small.close();
    });

    it('should free the clock when the change completes, though its agent reset its configuration and disconnected', async () => {
      expect(set(h, 1, 0, 500 * MHZ)).toBe(0);
      // RESET_AGENT_CONFIGURATION of itself (flags 0: permissions kept), then gone.
      const BASE = ScmiProtocolId.BASE;
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 0]).status).toBe(0);
      h.connection(1).disconnect();
      h.connect(1);
      expect(set(h, 0, 0, 300 * MHZ)).toBe(ScmiStatus.BUSY); // still pending
      await h.clock.advance(1);
      expect(rate(h, 0)).toBe(500 * MHZ);
      expect(set(h, 0, 0, 300 * MHZ)).toBe(0);
      expect(rate(h, 0)).toBe(300 * MHZ);
      expect([h.platform.armedTimers, h.platform.pendingOperations]).toEqual([0, 0]);
    });
  });

  describe('notifications', () => {
    it('should send RATE_CHANGE_REQUESTED and RATE_CHANGED to subscribers with the causing agent', async () => {
      expect(h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [1, 1], 3).status).toBe(0);
      expect(h.call(CLOCK, ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY, [1, 1], 3).status).toBe(0);
      expect(h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [0, 1]).status).toBe(0);
      set(h, 0, 1, 48 * MHZ);
      expect(h.links.get(3)?.messages.map((m) => [m.type, m.messageId, ...m.words])).toEqual([
        [3, ClockNotificationId.RATE_CHANGE_REQUESTED, 1, 1, 48 * MHZ, 0],
        [3, ClockNotificationId.RATE_CHANGED, 1, 1, 48 * MHZ, 0],
      ]);
      expect(h.links.get(1)?.posted).toHaveLength(0);
      set(h, 1, 0, 300 * MHZ);
      expect(h.links.get(1)?.posted).toHaveLength(0);
      await h.clock.advance(1);
      const kinds = h.links.get(1)?.posted.map((b) => decodePosted(b).type);
      expect(kinds).toEqual([3, 2]); // RATE_CHANGED, then the delayed response
    });

    it('should drop and count notifications that post refuses', () => {
      h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [0, 1]);
      h.link(1).accept = () => false;
      set(h, 0, 0, 300 * MHZ);
      expect(h.platform.counters.notificationsDropped).toBe(1);
      expect(h.platform.counters.notificationsPosted).toBe(0);
    });

    it('should reject notify for denied clocks and with reserved bits', () => {
      expect(h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [0, 1], 3).status).toBe(ScmiStatus.DENIED);
      expect(h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [0, 2]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
    });
  });

  describe('on a link too small for a delayed response or a notification', () => {
    // CLOCK_RATE_SET's delayed response: status, clock_id, rate_low, rate_high = 16 bytes.
    // CLOCK_RATE_CHANGED and CLOCK_RATE_CHANGE_REQUESTED: agent_id, clock_id, rate_low,
    // rate_high = 16 bytes.
    const attributesOf = (maxMsgSize: number, p2a = true): number =>
      serverReply((p) => new ClockProtocol(p), { p2a, maxMsgSize }, ClockMessageId.ATTRIBUTES, [0])
        .words[0] ?? -1;
    const rateOf1 = (hh: Harness): number | undefined => hh.platform.snapshot().clocks[1]?.rate;

    it('should advertise and accept an asynchronous set with a delayed response on a link of exactly 16 bytes', async () => {
      const fits = new Harness(config());
      const link = fits.connect(1, true, 16);
      expect(fits.call(CLOCK, 0x1).words).toEqual([4 | (8 << 16)]);
      const raw = fits.send(1, CLOCK, ClockMessageId.RATE_SET, [1, 1, 48 * MHZ, 0], 9);
      expect(raw === undefined ? undefined : decodeAnswer(raw).status).toBe(ScmiStatus.SUCCESS);
      await fits.clock.advance(1);
      expect(rateOf1(fits)).toBe(48 * MHZ);
      expect(link.messages).toEqual([
        {
          type: 2,
          protocolId: CLOCK,
          messageId: ClockMessageId.RATE_SET,
          token: 9,
          words: [0, 1, 48 * MHZ, 0],
        },
      ]);
      expect(fits.platform.counters).toMatchObject({
        delayedResponsesPosted: 1,
        notificationsDropped: 0,
      });
      fits.close();
    });

    it('should advertise no pending asynchronous set on a 15-byte link and answer one with a delayed response NOT_SUPPORTED before any change', async () => {
      const small = new Harness(config());
      const link = small.connect(1, true, 15);
      const watcher = small.connect(3); // may use clock 1, on a 128-byte link
      for (const id of [ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY, ClockMessageId.RATE_NOTIFY]) {
        expect(small.call(CLOCK, id, [1, 1], 3).status).toBe(0);
      }
      expect(small.call(CLOCK, 0x1).words).toEqual([4]); // four clocks, no pending async
      expect(set(small, 1, 1, 48 * MHZ)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect([small.platform.armedTimers, small.platform.pendingOperations]).toEqual([0, 0]);
      await small.clock.advance(1000);
      expect(rateOf1(small)).toBe(24 * MHZ);
      // Refused before RATE_CHANGE_REQUESTED is sent.
      expect(watcher.posted).toHaveLength(0);
      expect(link.posted).toHaveLength(0);
      small.close();
    });

    it('should still accept an asynchronous set without a delayed response (flags bit 1) on a 15-byte link', async () => {
      const small = new Harness(config());
      const link = small.connect(1, true, 15);
      expect(set(small, 3, 1, 48 * MHZ)).toBe(0);
      expect(small.platform.pendingOperations).toBe(1);
      await small.clock.advance(1);
      expect(rateOf1(small)).toBe(48 * MHZ);
      expect(link.posted).toHaveLength(0);
      expect(small.platform.counters.delayedResponsesPosted).toBe(0);
      small.close();
    });

    it('should set CLOCK_ATTRIBUTES bits 31 and 30 only on a P2A link the 16-byte rate notifications fit', () => {
      // The 28-byte CLOCK_ATTRIBUTES response itself needs a larger link: the server's own reply.
      expect(attributesOf(16) >>> 30).toBe(0b11);
      expect(attributesOf(15) >>> 30).toBe(0);
      expect(attributesOf(128, false) >>> 30).toBe(0);
      expect(attributesOf(15) & 0x3fffffff).toBe(attributesOf(16) & 0x3fffffff);
    });

    it('should accept both rate notify commands on a link of exactly 16 bytes and deliver both notifications', () => {
      const fits = new Harness(config());
      const link = fits.connect(1, true, 16);
      expect(fits.call(CLOCK, ClockMessageId.RATE_NOTIFY, [0, 1]).status).toBe(0);
      expect(fits.call(CLOCK, ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY, [0, 1]).status).toBe(0);
      expect(set(fits, 0, 0, 300 * MHZ)).toBe(0);
      expect(link.messages.map((m) => [m.type, m.messageId, ...m.words])).toEqual([
        [3, ClockNotificationId.RATE_CHANGE_REQUESTED, 1, 0, 300 * MHZ, 0],
        [3, ClockNotificationId.RATE_CHANGED, 1, 0, 300 * MHZ, 0],
      ]);
      expect(fits.platform.counters.notificationsDropped).toBe(0);
      fits.close();
    });

    it('should answer NOT_SUPPORTED to enabling either rate notification on a 15-byte link, subscribe nothing, and accept a disable', () => {
      const small = new Harness(config());
      const link = small.connect(1, true, 15);
      for (const id of [ClockMessageId.RATE_NOTIFY, ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY]) {
        expect(small.call(CLOCK, id, [0, 1]).status).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(small.call(CLOCK, id, [0, 0]).status).toBe(0); // a disable posts nothing
        // The domain and the flag are still checked first.
        expect(small.call(CLOCK, id, [4, 1]).status).toBe(ScmiStatus.NOT_FOUND);
        expect(small.call(CLOCK, id, [0, 2]).status).toBe(ScmiStatus.INVALID_PARAMETERS);
      }
      expect(small.platform.subscriptions(1)).toEqual([]);
      expect(set(small, 0, 0, 300 * MHZ)).toBe(0);
      expect(link.posted).toHaveLength(0);
      expect(small.platform.counters.notificationsDropped).toBe(0);
      small.close();
    });
  });

  describe('CLOCK_CONFIG_SET / CLOCK_CONFIG_GET', () => {
    it('should enable and disable a clock in both layouts', () => {
      expect(h.call(CLOCK, ClockMessageId.CONFIG_GET, [2, 0]).words).toEqual([0, 0, 0]);
      expect(h.call(CLOCK, ClockMessageId.CONFIG_SET, [2, 1, 0]).status).toBe(0);
      expect(h.call(CLOCK, ClockMessageId.CONFIG_GET, [2, 0]).words).toEqual([0, 1, 0]);
      expect((h.call(CLOCK, ClockMessageId.ATTRIBUTES, [2]).words[0] ?? 0) & 1).toBe(1);
      expect(h.call(CLOCK, ClockMessageId.CONFIG_SET, [2, 0]).status).toBe(0); // v1 layout
      expect(h.platform.snapshot().clocks[2]?.enabled).toBe(false);
    });

    it('should answer INVALID_PARAMETERS to state 3 (unchanged) without an OEM type (DEN0056 §4.6.2.9), as with one (none is supported), and change nothing', () => {
      const cfg = (p: number[], agent = 1): number =>
        h.call(CLOCK, ClockMessageId.CONFIG_SET, p, agent).status;
      expect(cfg([2, 1, 0])).toBe(0);
      expect(cfg([2, 3, 0])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(cfg([2, 3 | (1 << 16), 5])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(cfg([2, 3, 0], 3)).toBe(ScmiStatus.DENIED); // a clock agent 3 may not use
      expect(cfg([9, 3, 0])).toBe(ScmiStatus.NOT_FOUND);
      expect(h.platform.snapshot().clocks[2]?.enabled).toBe(true);
    });

    it('should reject bad attributes, flags, clocks and sizes', () => {
      const cfg = (p: number[], agent = 1): number =>
        h.call(CLOCK, ClockMessageId.CONFIG_SET, p, agent).status;
      expect(cfg([2, 2, 0])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(cfg([2, 1 | (1 << 16), 0])).toBe(ScmiStatus.INVALID_PARAMETERS); // no OEM type
      expect(cfg([9, 1, 0])).toBe(ScmiStatus.NOT_FOUND);
      expect(cfg([0, 1, 0], 3)).toBe(ScmiStatus.DENIED);
      expect(cfg([2])).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(CLOCK, ClockMessageId.CONFIG_GET, [2, 1]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(CLOCK, ClockMessageId.CONFIG_GET, [2]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
    });
  });

  it('should return the name with CLOCK_NAME_GET', () => {
    const a = h.call(CLOCK, ClockMessageId.NAME_GET, [3]);
    expect(a.r.u32()).toBe(0);
    expect(a.r.string(64)).toBe('periph-pll');
    expect(h.call(CLOCK, ClockMessageId.NAME_GET, [4]).status).toBe(ScmiStatus.NOT_FOUND);
  });

  describe('parents', () => {
    it('should list, get and set parents', () => {
      expect(h.call(CLOCK, ClockMessageId.POSSIBLE_PARENTS_GET, [2, 0]).words).toEqual([2, 0, 3]);
      expect(h.call(CLOCK, ClockMessageId.POSSIBLE_PARENTS_GET, [2, 1]).words).toEqual([1, 3]);
      expect(h.call(CLOCK, ClockMessageId.PARENT_GET, [2]).words).toEqual([0]);
      expect(h.call(CLOCK, ClockMessageId.PARENT_SET, [2, 3]).status).toBe(0);
      expect(h.call(CLOCK, ClockMessageId.PARENT_GET, [2]).words).toEqual([3]);
    });

    it('should split the parent list by multiPartMax', () => {
      const split = new Harness(config(), { behaviour: { multiPartMax: 1 } });
      split.connect(1);
      expect(split.call(CLOCK, ClockMessageId.POSSIBLE_PARENTS_GET, [2, 0]).words).toEqual([
        1 | (1 << 24),
        0,
      ]);
      split.close();
    });

    it('should answer NOT_SUPPORTED for clocks without parents and reject bad arguments', () => {
      expect(h.call(CLOCK, ClockMessageId.POSSIBLE_PARENTS_GET, [0, 0]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      expect(h.call(CLOCK, ClockMessageId.PARENT_GET, [0]).status).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(h.call(CLOCK, ClockMessageId.PARENT_SET, [0, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      expect(h.call(CLOCK, ClockMessageId.POSSIBLE_PARENTS_GET, [2, 3]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(CLOCK, ClockMessageId.PARENT_SET, [2, 1]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(CLOCK, ClockMessageId.POSSIBLE_PARENTS_GET, [5, 0]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(CLOCK, ClockMessageId.PARENT_SET, [2, 3], 3).status).toBe(ScmiStatus.DENIED);
    });

    it('should answer NOT_FOUND to a parent that is not a clock, INVALID_PARAMETERS to a clock that is not a possible parent (DEN0056 §4.6.2.15)', () => {
      const setParent = (p: number[]): number => h.call(CLOCK, ClockMessageId.PARENT_SET, p).status;
      expect(setParent([2, 4])).toBe(ScmiStatus.NOT_FOUND); // 4 clocks: 0 … 3
      expect(setParent([2, 0xffffffff])).toBe(ScmiStatus.NOT_FOUND);
      expect(setParent([2, 1])).toBe(ScmiStatus.INVALID_PARAMETERS); // a clock, not a parent
      expect(setParent([2, 2])).toBe(ScmiStatus.INVALID_PARAMETERS); // itself
      expect(setParent([7, 4])).toBe(ScmiStatus.NOT_FOUND); // the clock first
      expect(h.call(CLOCK, ClockMessageId.PARENT_GET, [2]).words).toEqual([0]);
    });
  });

  describe('CLOCK_PARENT_SET that would close a loop', () => {
    /** Clocks a, b (possible parents a and c, initially a) and c (parent b): a → b → c. */
    let t: Harness;
    beforeEach(() => {
      t = new Harness({
        vendor: 'v',
        subVendor: 's',
        implementationVersion: 1,
        agents: [{ id: 1, name: 'a', protocols: ['clock'] }],
        clocks: [
          { name: 'a', rates: [1] },
          { name: 'b', rates: [2], parents: [0, 2] },
          { name: 'c', rates: [3], parents: [1] },
        ],
      });
      t.connect(1);
    });
    afterEach(() => {
      t.close();
    });
    const setParent = (clock: number, parent: number): number =>
      t.call(CLOCK, ClockMessageId.PARENT_SET, [clock, parent]).status;
    const parentOf = (clock: number): number | undefined =>
      t.call(CLOCK, ClockMessageId.PARENT_GET, [clock]).words[0];

    it('should answer INVALID_PARAMETERS to a possible parent that is a descendant, changing nothing', () => {
      expect(setParent(1, 2)).toBe(ScmiStatus.INVALID_PARAMETERS); // c's parent is b
      expect([parentOf(1), parentOf(2)]).toEqual([0, 1]);
      expect(t.platform.snapshot().clocks.map((c) => c.parent)).toEqual([undefined, 0, 1]);
    });

    it('should still take a possible parent that is no descendant, and the current parent', () => {
      expect(setParent(1, 0)).toBe(ScmiStatus.SUCCESS);
      expect(setParent(2, 1)).toBe(ScmiStatus.SUCCESS);
      expect(parentOf(1)).toBe(0);
    });

    it('should check the loop last: NOT_FOUND and INVALID_PARAMETERS of the parent id come first', () => {
      expect(setParent(3, 2)).toBe(ScmiStatus.NOT_FOUND); // no clock 3
      expect(setParent(1, 3)).toBe(ScmiStatus.NOT_FOUND); // no parent 3
      expect(setParent(0, 1)).toBe(ScmiStatus.NOT_SUPPORTED); // a has no parents
      expect(setParent(2, 0)).toBe(ScmiStatus.INVALID_PARAMETERS); // not a possible parent of c
    });
  });

  describe('CLOCK_POSSIBLE_PARENTS_GET from the end on', () => {
    it('should answer INVALID_PARAMETERS to a skip equal to the count, as to one past it (as the other lists and NXP System Manager)', () => {
      const parents = (skip: number): number =>
        h.call(CLOCK, ClockMessageId.POSSIBLE_PARENTS_GET, [2, skip]).status;
      expect(parents(1)).toBe(ScmiStatus.SUCCESS); // the last parent
      expect(parents(2)).toBe(ScmiStatus.INVALID_PARAMETERS); // = the count
      expect(parents(3)).toBe(ScmiStatus.INVALID_PARAMETERS);
    });
  });

  describe('CLOCK_GET_PERMISSIONS', () => {
    const permissions = (hh: Harness, clock: number, agent = 1): number | undefined =>
      hh.call(CLOCK, ClockMessageId.GET_PERMISSIONS, [clock], agent).words[0];

    it('should allow state and rate control, and parent control where there are parents', () => {
      expect(permissions(h, 0)).toBe(0xa0000000); // state, rate
      expect(permissions(h, 2)).toBe(0xe0000000); // state, parent, rate
      expect(permissions(h, 1, 3)).toBe(0xa0000000);
    });

    it('should report no control of a clock the agent may not use', () => {
      expect(permissions(h, 0, 3)).toBe(0);
      expect(set(h, 0, 0, 300 * MHZ, 3)).toBe(ScmiStatus.DENIED);
    });

    it('should answer NOT_FOUND for an invalid clock and PROTOCOL_ERROR for a bad size', () => {
      expect(h.call(CLOCK, ClockMessageId.GET_PERMISSIONS, [4]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(CLOCK, ClockMessageId.GET_PERMISSIONS, [0, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });

    describe('when the clock forbids state, parent and rate control', () => {
      let fixed: Harness;
      beforeEach(() => {
        const base = createDefaultPlatformConfig();
        fixed = new Harness({
          ...base,
          clocks: (base.clocks ?? []).map((c, i) =>
            i === 2 ? { ...c, canSetState: false, canSetParent: false, canSetRate: false } : c,
          ),
        });
        fixed.connect(1);
      });
      afterEach(() => {
        fixed.close();
      });

      it('should clear every permission bit', () => {
        expect(permissions(fixed, 2)).toBe(0);
        expect(permissions(fixed, 0)).toBe(0xa0000000);
      });

      it('should answer DENIED to rate, state and parent changes, and keep the clock as it was', () => {
        expect(set(fixed, 0, 2, 400 * MHZ)).toBe(ScmiStatus.DENIED);
        expect(set(fixed, 0x10, 2, 400 * MHZ)).toBe(ScmiStatus.INVALID_PARAMETERS); // flags first
        expect(fixed.call(CLOCK, ClockMessageId.CONFIG_SET, [2, 1, 0]).status).toBe(
          ScmiStatus.DENIED,
        );
        // State 3 without an OEM type is invalid, before the permission.
        expect(fixed.call(CLOCK, ClockMessageId.CONFIG_SET, [2, 3, 0]).status).toBe(
          ScmiStatus.INVALID_PARAMETERS,
        );
        expect(fixed.call(CLOCK, ClockMessageId.PARENT_SET, [2, 3]).status).toBe(ScmiStatus.DENIED);
        expect(fixed.platform.snapshot().clocks[2]).toEqual({
          rate: 200 * MHZ,
          enabled: false,
          parent: 0,
        });
      });
    });
  });

  it('should complete an accepted asynchronous rate change after the agent disconnects, without its delayed response', async () => {
    const link = h.link(1);
    expect(h.call(CLOCK, ClockMessageId.RATE_SET, [1, 0, 300 * MHZ, 0]).status).toBe(0);
    h.connection(1).disconnect();
    expect(h.platform.armedTimers).toBe(1);
    h.connect(1); // a new connection of the same agent must not get the old command's answer
    const posted = link.posted.length;
    await h.clock.advance(1000);
    expect(h.platform.snapshot().clocks[0]?.rate).toBe(300 * MHZ);
    expect(link.posted).toHaveLength(posted);
    expect(h.link(1).posted).toHaveLength(0);
    expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
    expect(h.clock.armedTimers).toBe(0);
    expect(h.platform.pendingOperations).toBe(0);
  });

  it('should leave nothing armed or pending when the clock cannot arm an operation (GENERIC_ERROR)', () => {
    expect(
      whileTimersFail(
        h.clock,
        () => h.call(CLOCK, ClockMessageId.RATE_SET, [1, 0, 300 * MHZ, 0]).status,
      ),
    ).toBe(ScmiStatus.GENERIC_ERROR);
    expect([h.platform.armedTimers, h.platform.pendingOperations]).toEqual([0, 0]);
    expect(h.platform.counters.handlerErrors).toBe(1);
    // Not accepted, so not pending: the clock takes the next set.
    expect(set(h, 0, 0, 400 * MHZ)).toBe(0);
    expect(get(h, 0)).toBe(400 * MHZ);
  });

  it('should not announce CLOCK_RATE_CHANGE_REQUESTED for an asynchronous set whose timer cannot be armed (GENERIC_ERROR), and change nothing', async () => {
    for (const id of [ClockMessageId.RATE_NOTIFY, ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY]) {
      expect(h.call(CLOCK, id, [0, 1]).status).toBe(0);
    }
    expect(
      whileTimersFail(
        h.clock,
        () => h.call(CLOCK, ClockMessageId.RATE_SET, [1, 0, 300 * MHZ, 0]).status,
      ),
    ).toBe(ScmiStatus.GENERIC_ERROR);
    expect(h.link(1).posted).toHaveLength(0);
    expect(h.platform.counters.notificationsDropped).toBe(0);
    await h.clock.advance(1000);
    expect(h.link(1).posted).toHaveLength(0);
    expect(get(h, 0)).toBe(1200 * MHZ); // unchanged
    // An accepted asynchronous set is announced at once, its change after the latency.
    expect(set(h, 1, 0, 300 * MHZ)).toBe(0);
    expect(h.link(1).messages.map((m) => [m.type, m.messageId])).toEqual([
      [3, ClockNotificationId.RATE_CHANGE_REQUESTED],
    ]);
    await h.clock.advance(1);
    expect(h.link(1).messages.map((m) => [m.type, m.messageId])).toEqual([
      [3, ClockNotificationId.RATE_CHANGE_REQUESTED],
      [3, ClockNotificationId.RATE_CHANGED],
      [2, ClockMessageId.RATE_SET],
    ]);
  });

  it('should accept a set whose CLOCK_RATE_CHANGE_REQUESTED cannot be posted (the link throws), counting the notification dropped', async () => {
    expect(h.call(CLOCK, ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY, [0, 1]).status).toBe(0);
    h.link(1).accept = () => {
      throw new Error('the link failed');
    };
    expect(set(h, 1, 0, 300 * MHZ)).toBe(0); // accepted: pending, not GENERIC_ERROR
    expect(h.platform.counters.notificationsDropped).toBe(1);
    expect(h.platform.pendingOperations).toBe(1);
    h.link(1).accept = () => true;
    await h.clock.advance(1);
    expect(get(h, 0)).toBe(300 * MHZ);
    expect(h.link(1).messages.map((m) => [m.type, m.messageId])).toEqual([
      [2, ClockMessageId.RATE_SET],
    ]);
  });

  it('should count the delayed response of an operation still pending when the platform closes', () => {
    expect(h.call(CLOCK, ClockMessageId.RATE_SET, [1, 0, 300 * MHZ, 0]).status).toBe(0);
    expect([h.platform.armedTimers, h.platform.pendingOperations]).toEqual([1, 1]);
    h.platform.close();
    expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
    expect([h.platform.armedTimers, h.platform.pendingOperations]).toEqual([0, 0]);
  });
});
