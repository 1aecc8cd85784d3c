import { PayloadReader, ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import { PowerMessageId, PowerNotificationId } from '@scmi-ts/platform';
import { PowerProtocol } from '../src/protocols/power/power-protocol';
import { Harness, whileTimersFail } from './support/harness';
import { serverReply } from './support/server-reply';

const POWER = ScmiProtocolId.POWER;
const ON = 0;
const OFF = 0x40000000;

describe('Power domain protocol (0x11)', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness();
    h.connect(1);
    h.connect(2);
  });
  afterEach(() => {
    h.close();
  });

  it('should report version 3.1 (SCMI v3.2) and three domains without statistics', () => {
    expect(h.call(POWER, 0x0).words).toEqual([0x30001]);
    expect(h.call(POWER, 0x1).words).toEqual([3, 0, 0, 0]);
  });

  it('should advertise implemented messages, and NOT_FOUND for the others', () => {
    for (const id of [3, 4, 5, 6, 7, 8]) expect(h.call(POWER, 0x2, [id]).status).toBe(0);
    expect(h.call(POWER, 0x2, [9]).status).toBe(ScmiStatus.NOT_FOUND);
  });

  describe('POWER_DOMAIN_ATTRIBUTES', () => {
    it('should describe notification, async and sync support and the name', () => {
      const a = h.call(POWER, PowerMessageId.DOMAIN_ATTRIBUTES, [2]);
      const flags = a.r.u32();
      expect(flags >>> 27).toBe(0b11110); // 31 notify, 30 async, 29 sync, 28 requested, 27 no ext name
      expect(a.r.string(16)).toBe('display');
      const cpu = h.call(POWER, PowerMessageId.DOMAIN_ATTRIBUTES, [0]).r.u32();
      expect((cpu >>> 30) & 1).toBe(0);
    });

    it('should answer NOT_FOUND for an invalid domain, even to an agent without permission', () => {
      expect(h.call(POWER, PowerMessageId.DOMAIN_ATTRIBUTES, [3]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      // Discovery is allowed on every domain.
      expect(h.call(POWER, PowerMessageId.DOMAIN_ATTRIBUTES, [1], 2).status).toBe(0);
    });

    it('should not advertise notifications or async without a P2A channel', () => {
      const noP2a = new Harness();
      noP2a.connect(1, false);
      const flags = noP2a.call(POWER, PowerMessageId.DOMAIN_ATTRIBUTES, [2]).r.u32();
      expect(flags >>> 27).toBe(0b00100);
      expect(noP2a.call(POWER, 0x2, [PowerMessageId.STATE_NOTIFY]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      noP2a.close();
    });
  });

  describe('POWER_STATE_SET / POWER_STATE_GET', () => {
    it('should set and get a state synchronously', () => {
      expect(h.call(POWER, PowerMessageId.STATE_GET, [1]).words).toEqual([OFF]);
      expect(h.call(POWER, PowerMessageId.STATE_SET, [0, 1, ON]).status).toBe(0);
      expect(h.call(POWER, PowerMessageId.STATE_GET, [1]).words).toEqual([ON]);
      expect(h.platform.snapshot().powerDomains).toEqual([ON, ON, ON]);
    });

    it('should reject bad arguments', () => {
      const set = (p: number[], agent = 1): number =>
        h.call(POWER, PowerMessageId.STATE_SET, p, agent).status;
      expect(set([0, 3, ON])).toBe(ScmiStatus.NOT_FOUND);
      expect(set([0, 0, 0x40000005])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(set([2, 0, ON])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(set([0, 1, ON], 2)).toBe(ScmiStatus.DENIED);
      expect(set([1, 0, OFF])).toBe(ScmiStatus.NOT_SUPPORTED); // domain 0 has no async set
      expect(set([0, 0])).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(POWER, PowerMessageId.STATE_GET, [1], 2).status).toBe(ScmiStatus.DENIED);
      expect(h.call(POWER, PowerMessageId.STATE_GET, [9]).status).toBe(ScmiStatus.NOT_FOUND);
    });

    it('should apply an asynchronous set after the latency, without a delayed response', async () => {
      expect(h.call(POWER, PowerMessageId.STATE_SET, [1, 2, 0x40000001]).status).toBe(0);
      expect(h.call(POWER, PowerMessageId.STATE_GET, [2]).words).toEqual([ON]);
      await h.clock.advance(1);
      expect(h.call(POWER, PowerMessageId.STATE_GET, [2]).words).toEqual([0x40000001]);
      expect(h.links.get(1)?.posted).toHaveLength(0);
    });

    it('should apply an accepted asynchronous set even if the agent disconnects first', async () => {
      expect(h.call(POWER, PowerMessageId.STATE_SET, [1, 2, 0x40000001]).status).toBe(0);
      h.connection(1).disconnect();
      await h.clock.advance(1);
      expect(h.platform.snapshot().powerDomains[2]).toBe(0x40000001);
      expect(h.platform.counters.cancelledOnDisconnect).toBe(0); // it has no delayed response
    });

    it('should answer NOT_SUPPORTED to an asynchronous set without a P2A channel', () => {
      const noP2a = new Harness();
      noP2a.connect(1, false);
      expect(noP2a.call(POWER, PowerMessageId.STATE_SET, [1, 2, OFF]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      noP2a.close();
    });
  });

  describe('asynchronous sets: pending limit and order', () => {
    const DISPLAY = 2; // the domain with an asynchronous set
    const set = (hh: Harness, p: number[], agent = 1): number =>
      hh.call(POWER, PowerMessageId.STATE_SET, p, agent).status;
    const stateOf = (hh: Harness): number | undefined =>
      hh.platform.snapshot().powerDomains[DISPLAY];
    /** POWER_STATE_CHANGE_REQUESTED / _CHANGED posted to agent 1: [id, agent_id, state]. */
    const events = (hh: Harness): number[][] =>
      hh.link(1).messages.map((m) => [m.messageId, m.words[0] ?? -1, m.words[2] ?? -1]);
    const subscribe = (hh: Harness): void => {
      for (const id of [PowerMessageId.STATE_NOTIFY, PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY])
        expect(hh.call(POWER, id, [DISPLAY, 1]).status).toBe(0);
    };
    const REQUESTED = PowerNotificationId.STATE_CHANGE_REQUESTED;
    const CHANGED = PowerNotificationId.STATE_CHANGED;

    it('should answer BUSY to an asynchronous set beyond maxPendingAsync, change and notify nothing, and accept again once one completed', async () => {
      const busy = new Harness(undefined, { behaviour: { maxPendingAsync: 2, asyncLatencyMs: 5 } });
      busy.connect(1);
      subscribe(busy);
      expect(set(busy, [1, DISPLAY, OFF])).toBe(0);
      expect(set(busy, [1, DISPLAY, 0x40000001])).toBe(0);
      expect(set(busy, [1, DISPLAY, ON])).toBe(ScmiStatus.BUSY);
      expect([busy.platform.armedTimers, busy.platform.pendingOperations]).toEqual([2, 2]);
      expect(events(busy)).toEqual([
        [REQUESTED, 1, OFF],
        [REQUESTED, 1, 0x40000001],
      ]);
      await busy.clock.advance(5);
      expect(stateOf(busy)).toBe(0x40000001); // the refused set changed nothing
      expect(events(busy)).toHaveLength(4); // the two accepted sets completed
      expect(set(busy, [1, DISPLAY, ON])).toBe(0);
      await busy.clock.advance(5);
      expect(stateOf(busy)).toBe(ON);
      busy.close();
    });

    it('should not announce POWER_STATE_CHANGE_REQUESTED for an asynchronous set whose timer cannot be armed (GENERIC_ERROR), and change nothing', async () => {
      subscribe(h);
      const before = stateOf(h);
      expect(whileTimersFail(h.clock, () => set(h, [1, DISPLAY, 0x40000001]))).toBe(
        ScmiStatus.GENERIC_ERROR,
      );
      expect(events(h)).toEqual([]);
      expect([h.platform.armedTimers, h.platform.pendingOperations]).toEqual([0, 0]);
      await h.clock.advance(10);
      expect(stateOf(h)).toBe(before);
      expect(events(h)).toEqual([]);
      // A synchronous set afterwards: only its own events (nothing was queued).
      expect(set(h, [0, DISPLAY, OFF])).toBe(0);
      expect(events(h)).toEqual([
        [REQUESTED, 1, OFF],
        [CHANGED, 1, OFF],
      ]);
    });

    it("should apply a domain's sets in the order they were accepted: a synchronous set after an asynchronous one stays", async () => {
      subscribe(h);
      expect(set(h, [1, DISPLAY, 0x40000001])).toBe(0); // asynchronous
      expect(set(h, [0, DISPLAY, OFF])).toBe(0); // synchronous: the pending set first, then it
      expect(stateOf(h)).toBe(OFF);
      expect(events(h)).toEqual([
        [REQUESTED, 1, 0x40000001],
        [REQUESTED, 1, OFF],
        [CHANGED, 1, 0x40000001],
        [CHANGED, 1, OFF],
      ]);
      await h.clock.advance(10);
      expect(stateOf(h)).toBe(OFF); // the older set does not land last
      expect(events(h)).toHaveLength(4);
      expect([h.platform.armedTimers, h.platform.pendingOperations]).toEqual([0, 0]);
    });

    it('should queue nothing when the clock cannot arm an asynchronous set (GENERIC_ERROR)', async () => {
      subscribe(h);
      expect(whileTimersFail(h.clock, () => set(h, [1, DISPLAY, 0x40000001]))).toBe(
        ScmiStatus.GENERIC_ERROR,
      );
      expect(set(h, [0, DISPLAY, OFF])).toBe(0);
      await h.clock.advance(10);
      expect(stateOf(h)).toBe(OFF);
      // The set that was not accepted never applies: one POWER_STATE_CHANGED, the synchronous one.
      expect(events(h).filter(([id]) => id === CHANGED)).toEqual([[CHANGED, 1, OFF]]);
      expect([h.platform.armedTimers, h.platform.pendingOperations]).toEqual([0, 0]);
    });

    it('should apply two asynchronous sets in order (control)', async () => {
      expect(set(h, [1, DISPLAY, OFF])).toBe(0);
      expect(set(h, [1, DISPLAY, 0x40000001])).toBe(0);
      await h.clock.advance(1);
      expect(stateOf(h)).toBe(0x40000001);
    });

    it('should check reserved flags, then the domain, then asynchronous support, then the state, as SCP-firmware', () => {
      subscribe(h);
      const BAD_STATE = 0x40000005;
      expect(set(h, [3, 9, BAD_STATE])).toBe(ScmiStatus.INVALID_PARAMETERS); // flags first
      expect(set(h, [1, 9, BAD_STATE])).toBe(ScmiStatus.NOT_FOUND);
      expect(set(h, [1, 1, BAD_STATE], 2)).toBe(ScmiStatus.DENIED);
      expect(set(h, [1, 0, BAD_STATE])).toBe(ScmiStatus.NOT_SUPPORTED); // domain 0: no async set
      expect(set(h, [1, DISPLAY, BAD_STATE])).toBe(ScmiStatus.INVALID_PARAMETERS);
      const noP2a = new Harness();
      noP2a.connect(1, false);
      expect(set(noP2a, [1, DISPLAY, BAD_STATE])).toBe(ScmiStatus.NOT_SUPPORTED);
      noP2a.close();
      expect(h.platform.snapshot().powerDomains).toEqual([ON, OFF, ON]);
      expect(h.link(1).posted).toHaveLength(0);
      expect(h.platform.armedTimers).toBe(0);
    });
  });

  describe('notifications', () => {
    it('should send STATE_CHANGED and CHANGE_REQUESTED to subscribers only, naming the agent that caused it', async () => {
      expect(h.call(POWER, PowerMessageId.STATE_NOTIFY, [0, 1], 2).status).toBe(0);
      expect(h.call(POWER, PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY, [2, 1]).status).toBe(0);
      expect(h.call(POWER, PowerMessageId.STATE_NOTIFY, [2, 1]).status).toBe(0);
      h.call(POWER, PowerMessageId.STATE_SET, [0, 0, OFF]); // agent 1 turns domain 0 off
      const toAgent2 = h.links.get(2)?.messages ?? [];
      expect(toAgent2).toEqual([
        {
          type: 3,
          protocolId: POWER,
          messageId: PowerNotificationId.STATE_CHANGED,
          token: 0,
          words: [1, 0, OFF],
        },
      ]);
      expect(h.links.get(1)?.posted).toHaveLength(0);
      h.call(POWER, PowerMessageId.STATE_SET, [1, 2, OFF]);
      expect(h.links.get(1)?.messages.map((m) => [m.messageId, ...m.words])).toEqual([
        [PowerNotificationId.STATE_CHANGE_REQUESTED, 1, 2, OFF],
      ]);
      await h.clock.advance(1);
      expect(h.links.get(1)?.messages.map((m) => m.messageId)).toEqual([1, 0]);
    });

    it('should not notify when the state does not change', () => {
      h.call(POWER, PowerMessageId.STATE_NOTIFY, [0, 1]);
      h.call(POWER, PowerMessageId.STATE_SET, [0, 0, ON]);
      expect(h.links.get(1)?.posted).toHaveLength(0);
    });

    it('should reject bad notify requests', () => {
      const notify = (p: number[], agent = 1): number =>
        h.call(POWER, PowerMessageId.STATE_NOTIFY, p, agent).status;
      expect(notify([5, 1])).toBe(ScmiStatus.NOT_FOUND);
      expect(notify([1, 1], 2)).toBe(ScmiStatus.DENIED);
      expect(notify([0, 3])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(notify([0])).toBe(ScmiStatus.PROTOCOL_ERROR);
    });

    it('should answer NOT_SUPPORTED to notify requests without a P2A channel', () => {
      const noP2a = new Harness();
      noP2a.connect(1, false);
      expect(noP2a.call(POWER, PowerMessageId.STATE_NOTIFY, [0, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      noP2a.close();
    });
  });

  describe('on a link too small for a notification', () => {
    // POWER_STATE_CHANGED and POWER_STATE_CHANGE_REQUESTED: agent_id, domain_id, power_state =
    // 12 bytes.
    const NOTIFY_COMMANDS = [
      PowerMessageId.STATE_NOTIFY,
      PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY,
    ] as const;
    const flagsOf = (maxMsgSize: number, p2a = true): number =>
      serverReply(
        (p) => new PowerProtocol(p),
        { p2a, maxMsgSize },
        PowerMessageId.DOMAIN_ATTRIBUTES,
        [2],
      ).words[0] ?? -1;

    it('should set POWER_DOMAIN_ATTRIBUTES bits 31 and 28 only where the 12-byte notifications fit, and keep async and sync support', () => {
      // The 24-byte POWER_DOMAIN_ATTRIBUTES response itself needs a larger link: the server's own
      // reply. Domain 2 has an asynchronous set (bit 30), which posts neither a delayed response
      // nor a notification of its own.
      expect(flagsOf(12) >>> 27).toBe(0b11110);
      expect(flagsOf(11) >>> 27).toBe(0b01100);
      expect(flagsOf(128, false) >>> 27).toBe(0b00100);
    });

    it('should accept both notify commands on a link of exactly 12 bytes and deliver both notifications', () => {
      const fits = new Harness();
      const link = fits.connect(1, true, 12);
      for (const id of NOTIFY_COMMANDS) expect(fits.call(POWER, id, [0, 1]).status).toBe(0);
      expect(fits.call(POWER, PowerMessageId.STATE_SET, [0, 0, OFF]).status).toBe(0);
      expect(link.messages.map((m) => [m.type, m.messageId, ...m.words])).toEqual([
        [3, PowerNotificationId.STATE_CHANGE_REQUESTED, 1, 0, OFF],
        [3, PowerNotificationId.STATE_CHANGED, 1, 0, OFF],
      ]);
      expect(fits.platform.counters.notificationsDropped).toBe(0);
      fits.close();
    });

    it('should answer NOT_SUPPORTED to enabling either on an 11-byte link, subscribe nothing, accept a disable, and still accept an asynchronous set', async () => {
      const small = new Harness();
      const link = small.connect(1, true, 11);
      for (const id of NOTIFY_COMMANDS) {
        expect(small.call(POWER, id, [2, 1]).status).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(small.call(POWER, id, [2, 0]).status).toBe(0);
      }
      expect(small.platform.subscriptions(1)).toEqual([]);
      expect(small.call(POWER, PowerMessageId.STATE_SET, [1, 2, OFF]).status).toBe(0);
      await small.clock.advance(1);
      expect(small.platform.snapshot().powerDomains[2]).toBe(OFF);
      expect(link.posted).toHaveLength(0);
      expect(small.platform.counters.notificationsDropped).toBe(0);
      small.close();
    });
  });

  describe('POWER_DOMAIN_NAME_GET', () => {
    it('should return the full name in 64 bytes, and NOT_FOUND for an invalid domain', () => {
      const a = h.call(POWER, PowerMessageId.DOMAIN_NAME_GET, [0]);
      expect(a.r.u32()).toBe(0);
      expect(a.r.string(64)).toBe('cpu-cluster0');
      expect(a.bytes.byteLength).toBe(8 + 68);
      expect(h.call(POWER, PowerMessageId.DOMAIN_NAME_GET, [3]).status).toBe(ScmiStatus.NOT_FOUND);
    });

    it('should announce an extended name longer than 15 bytes', () => {
      const long = new Harness({
        vendor: 'v',
        subVendor: 's',
        implementationVersion: 0,
        agents: [{ id: 1, name: 'a', protocols: ['power'] }],
        powerDomains: [{ name: 'a-very-long-power-domain-name' }],
      });
      long.connect(1);
      const a = long.call(POWER, PowerMessageId.DOMAIN_ATTRIBUTES, [0]);
      expect((a.r.u32() >>> 27) & 1).toBe(1);
      expect(a.r.string(16)).toBe('a-very-long-pow');
      const name = long.call(POWER, PowerMessageId.DOMAIN_NAME_GET, [0]);
      expect(new PayloadReader(name.bytes.subarray(12)).string(64)).toBe(
        'a-very-long-power-domain-name',
      );
      long.close();
    });

    it('should answer PROTOCOL_ERROR when the name does not fit the link', () => {
      const tiny = new Harness();
      tiny.connect(1, true, 32);
      expect(tiny.call(POWER, PowerMessageId.DOMAIN_NAME_GET, [0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      tiny.close();
    });
  });
});
