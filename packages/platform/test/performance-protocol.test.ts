import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  PerformanceMessageId,
  PerformanceNotificationId,
  createDefaultPlatformConfig,
} from '@scmi-ts/platform';
import { PerformanceProtocol } from '../src/protocols/performance/performance-protocol';
import { Harness, defined } from './support/harness';
import { serverReply } from './support/server-reply';

const PERF = ScmiProtocolId.PERF;

interface Level {
  value: number;
  powerCost: number;
  latencyUs: number;
}

function describeLevels(h: Harness, domain: number): { levels: Level[]; calls: number } {
  const levels: Level[] = [];
  let calls = 0;
  for (;;) {
    const a = h.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [domain, levels.length]);
    calls++;
    expect(a.status).toBe(ScmiStatus.SUCCESS);
    const returned = a.r.u16();
    const remaining = a.r.u16();
    for (let i = 0; i < returned; i++) {
      levels.push({ value: a.r.u32(), powerCost: a.r.u32(), latencyUs: a.r.u32() & 0xffff });
    }
    expect(a.r.remaining).toBe(0);
    if (remaining === 0) return { levels, calls };
  }
}

describe('Performance domain protocol (0x13)', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness();
    h.connect(1);
    h.connect(2);
  });
  afterEach(() => {
    h.close();
  });

  it('should report version 3.0, two domains, power in mW', () => {
    expect(h.call(PERF, 0x0).words).toEqual([0x30000]);
    expect(h.call(PERF, 0x1).words).toEqual([2 | (1 << 16), 0, 0, 0]);
    expect(h.call(PERF, 0x2, [PerformanceMessageId.DOMAIN_NAME_GET]).words).toEqual([0]);
    expect(h.call(PERF, 0x2, [PerformanceMessageId.DESCRIBE_FASTCHANNEL]).words).toEqual([0]);
    expect(h.call(PERF, 0x2, [0xd]).status).toBe(ScmiStatus.NOT_FOUND);
  });

  describe('PERF_DESCRIBE_FASTCHANNEL', () => {
    it('should advertise no fast channel on any message or domain', () => {
      for (const id of [
        PerformanceMessageId.LIMITS_SET,
        PerformanceMessageId.LIMITS_GET,
        PerformanceMessageId.LEVEL_SET,
        PerformanceMessageId.LEVEL_GET,
      ]) {
        expect(h.call(PERF, 0x2, [id]).words).toEqual([0]); // bit 0: fast channel
      }
      for (const domain of [0, 1]) {
        const flags = h.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [domain]).words[0];
        expect((flags ?? 0) & (1 << 27)).toBe(0);
      }
    });

    it('should answer NOT_SUPPORTED for every domain and message, as SCP-firmware', () => {
      for (const message of [0x5, 0x6, 0x7, 0x8, 0x3, 0xff]) {
        expect(h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [0, message]).status).toBe(
          ScmiStatus.NOT_SUPPORTED,
        );
      }
      // A domain the agent may not use: DENIED first, as SCP-firmware's permissions handler
      // answers every Performance command with a domain id.
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [1, 0x7], 2).status).toBe(
        ScmiStatus.DENIED,
      );
    });

    it('should answer NOT_FOUND for an unknown domain and PROTOCOL_ERROR for a bad size', () => {
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [2, 0x7]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  it('should report abstract power when configured so', () => {
    const abstract = new Harness({
      ...createDefaultPlatformConfig(),
      performancePowerInMilliwatts: false,
    });
    abstract.connect(1);
    expect(abstract.call(PERF, 0x1).words[0]).toBe(2);
    abstract.close();
  });

  describe('PERF_DOMAIN_ATTRIBUTES', () => {
    it('should describe the domain', () => {
      const a = h.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [0]);
      expect(a.r.u32() >>> 26).toBe(0b111100); // limits, level, limits notify, level notify
      expect([a.r.u32(), a.r.u32(), a.r.u32()]).toEqual([1000, 1_200_000, 1_200_000]);
      expect(a.r.string(16)).toBe('cpu-cluster0');
      const gpu = h.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [1]);
      expect(gpu.words.slice(1, 4)).toEqual([0, 0, 600]);
    });

    it('should answer NOT_FOUND for an invalid domain', () => {
      expect(h.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [2]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
    });

    it('should not advertise notifications without a P2A channel', () => {
      const noP2a = new Harness();
      noP2a.connect(1, false);
      expect(noP2a.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [0]).words[0]).toBe(
        0xc0000000,
      );
      noP2a.close();
    });
  });

  describe('PERF_DESCRIBE_LEVELS', () => {
    it('should return every level in one reply when it fits', () => {
      const { levels, calls } = describeLevels(h, 0);
      expect(calls).toBe(1);
      expect(levels).toEqual(createDefaultPlatformConfig().performanceDomains?.[0]?.levels);
    });

    it('should split the reply by maxMsgSize, iterating until remaining is 0', () => {
      const tiny = new Harness();
      tiny.connect(1, true, 8 + 12); // status, returned/remaining, one level
      const { levels, calls } = describeLevels(tiny, 0);
      expect(calls).toBe(4);
      expect(levels.map((l) => l.value)).toEqual([400_000, 800_000, 1_200_000, 1_800_000]);
      const first = tiny.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [0, 0]);
      expect(first.words[0]).toBe(1 | (3 << 16));
      tiny.close();
    });

    it('should split by multiPartMax', () => {
      const split = new Harness(createDefaultPlatformConfig(), { behaviour: { multiPartMax: 3 } });
      split.connect(1);
      expect(describeLevels(split, 0).calls).toBe(2);
      split.close();
    });

    it('should return at most 0xfff levels per reply, reserved bits 15:12 zero, on a link that holds more', () => {
      const many = Array.from({ length: 6000 }, (_, i) => ({
        value: (i + 1) * 1000,
        powerCost: i,
        latencyUs: i & 0xffff,
      }));
      const base = createDefaultPlatformConfig();
      const big = new Harness({
        ...base,
        performanceDomains: [
          { name: 'many', levels: many },
          defined(base.performanceDomains?.[1], 'the gpu domain'),
        ],
      });
      // 65 536 bytes: status, num_levels, and 5 460 twelve-byte entries — more than 0xfff.
      big.connect(1, true, 65_536);
      const first = big.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [0, 0]);
      expect(first.status).toBe(ScmiStatus.SUCCESS);
      const numLevels = defined(first.words[0]);
      expect(numLevels & 0xfff).toBe(4095);
      expect((numLevels >>> 12) & 0xf).toBe(0);
      expect(numLevels >>> 16).toBe(6000 - 4095);
      expect(first.words).toHaveLength(1 + 3 * 4095);
      expect(first.words.slice(1, 4)).toEqual([1000, 0, 0]);
      expect(first.words.slice(-3)).toEqual([4095 * 1000, 4094, 4094]);
      const second = big.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [0, 4095]);
      expect(second.words[0]).toBe(6000 - 4095); // returned; 0 remaining
      expect(second.words.slice(1, 4)).toEqual([4096 * 1000, 4095, 4095]);
      const { levels, calls } = describeLevels(big, 0);
      expect(calls).toBe(2);
      expect(levels).toEqual(many);
      big.close();
    });

    it('should answer INVALID_PARAMETERS from the end on (as SCP-firmware), NOT_FOUND for a bad domain', () => {
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [0, 3]).words[0]).toBe(1);
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [0, 4]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [0, 5]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [7, 0]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  describe('PERF_LEVEL_SET / PERF_LEVEL_GET', () => {
    it('should set and get a level', () => {
      expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0]).words).toEqual([1_200_000]);
      expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 400_000]).status).toBe(0);
      expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0]).words).toEqual([400_000]);
    });

    it('should reject unknown levels, denied domains and bad sizes', () => {
      const set = (p: number[], agent = 1): number =>
        h.call(PERF, PerformanceMessageId.LEVEL_SET, p, agent).status;
      expect(set([0, 500_000])).toBe(ScmiStatus.OUT_OF_RANGE);
      expect(set([2, 400_000])).toBe(ScmiStatus.NOT_FOUND);
      expect(set([1, 400], 2)).toBe(ScmiStatus.DENIED);
      expect(set([0, 400_000, 0])).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [1], 2).status).toBe(ScmiStatus.DENIED);
    });

    it('should answer DENIED when the domain does not allow setting', () => {
      const locked = new Harness({
        vendor: 'v',
        subVendor: 's',
        implementationVersion: 0,
        agents: [{ id: 1, name: 'a', protocols: ['performance'] }],
        performanceDomains: [
          {
            name: 'fixed',
            levels: [{ value: 1, powerCost: 1, latencyUs: 1 }],
            canSetLevel: false,
            canSetLimits: false,
          },
        ],
      });
      locked.connect(1);
      expect(
        (locked.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [0]).words[0] ?? 0) >>> 30,
      ).toBe(0);
      expect(locked.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 1]).status).toBe(
        ScmiStatus.DENIED,
      );
      expect(locked.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 1, 1]).status).toBe(
        ScmiStatus.DENIED,
      );
      locked.close();
    });
  });

  describe('PERF_LIMITS_SET / PERF_LIMITS_GET', () => {
    it('should set limits and pull the level inside them', () => {
      expect(h.call(PERF, PerformanceMessageId.LIMITS_GET, [0]).words).toEqual([
        1_800_000, 400_000,
      ]);
      expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 800_000, 400_000]).status).toBe(0);
      expect(h.call(PERF, PerformanceMessageId.LIMITS_GET, [0]).words).toEqual([800_000, 400_000]);
      expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0]).words).toEqual([800_000]);
      expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 1_800_000]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
      h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 1_800_000, 1_200_000]);
      expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0]).words).toEqual([1_200_000]);
      expect(h.platform.snapshot().performanceDomains[0]).toEqual({
        level: 1_200_000,
        min: 1_200_000,
        max: 1_800_000,
      });
    });

    it('should leave a zero limit as it is and answer both zero OUT_OF_RANGE (SCMI v3.1, DEN0056 §4.5.3.7; Linux perf.c scmi_perf_limits_set)', () => {
      const set = (p: number[]): number => h.call(PERF, PerformanceMessageId.LIMITS_SET, p).status;
      const limits = (): number[] => h.call(PERF, PerformanceMessageId.LIMITS_GET, [0]).words;
      expect(set([0, 1_200_000, 0])).toBe(ScmiStatus.SUCCESS); // max only
      expect(limits()).toEqual([1_200_000, 400_000]);
      expect(set([0, 0, 800_000])).toBe(ScmiStatus.SUCCESS); // min only
      expect(limits()).toEqual([1_200_000, 800_000]);
      expect(set([0, 0, 1_800_000])).toBe(ScmiStatus.INVALID_PARAMETERS); // above the kept max
      expect(limits()).toEqual([1_200_000, 800_000]);
    });

    it('should answer OUT_OF_RANGE to range_max = range_min = 0 (DEN0056 §4.5.3.7), change nothing and notify nothing', () => {
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 1]).status).toBe(0);
      expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 0, 0]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
      expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [1, 0, 0]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
      expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [3, 0, 0]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(PERF, PerformanceMessageId.LIMITS_GET, [0]).words).toEqual([
        1_800_000, 400_000,
      ]);
      expect(h.link(1).posted).toHaveLength(0);
    });

    it('should keep 0 as a level, not "unchanged", in a domain whose lowest level is 0', () => {
      const base = createDefaultPlatformConfig();
      const domains = defined(base.performanceDomains);
      const gpu = defined(domains[1]);
      const zero = new Harness({
        ...base,
        performanceDomains: [
          defined(domains[0]),
          {
            ...gpu,
            limits: { min: 0, max: 600 },
            levels: [{ value: 0, powerCost: 0, latencyUs: 0 }, ...gpu.levels],
            level: 200,
          },
        ],
      });
      zero.connect(1);
      const set = (p: number[]): number =>
        zero.call(PERF, PerformanceMessageId.LIMITS_SET, p).status;
      const limits = (): number[] => zero.call(PERF, PerformanceMessageId.LIMITS_GET, [1]).words;
      expect(limits()).toEqual([600, 0]);
      expect(set([1, 600, 400])).toBe(ScmiStatus.SUCCESS);
      expect(set([1, 600, 0])).toBe(ScmiStatus.SUCCESS); // back down to level 0
      expect(limits()).toEqual([600, 0]);
      expect(set([1, 0, 0])).toBe(ScmiStatus.SUCCESS); // both at level 0
      expect(limits()).toEqual([0, 0]);
      zero.close();
    });

    it('should answer OUT_OF_RANGE to limits that are not levels (as SCP-firmware), change nothing and notify nothing', () => {
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 1]).status).toBe(0);
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1]).status).toBe(0);
      const before = h.platform.snapshot().performanceDomains[0];
      const set = (p: number[]): number => h.call(PERF, PerformanceMessageId.LIMITS_SET, p).status;
      expect(set([0, 1_000_000, 500_000])).toBe(ScmiStatus.OUT_OF_RANGE); // neither a level
      expect(set([0, 1_000_000, 400_000])).toBe(ScmiStatus.OUT_OF_RANGE); // max is not
      expect(set([0, 1_800_000, 500_000])).toBe(ScmiStatus.OUT_OF_RANGE); // min is not
      expect(set([0, 0, 500_000])).toBe(ScmiStatus.OUT_OF_RANGE); // max kept, min is not
      expect(set([0, 1_000_000, 0])).toBe(ScmiStatus.OUT_OF_RANGE); // min kept, max is not
      expect(h.call(PERF, PerformanceMessageId.LIMITS_GET, [0]).words).toEqual([
        1_800_000, 400_000,
      ]);
      expect(h.platform.snapshot().performanceDomains[0]).toEqual(before);
      expect(h.link(1).posted).toHaveLength(0);
      // Levels are accepted (control).
      expect(set([0, 1_200_000, 800_000])).toBe(0);
      expect(h.call(PERF, PerformanceMessageId.LIMITS_GET, [0]).words).toEqual([
        1_200_000, 800_000,
      ]);
    });

    it('should reject inverted, out-of-range and empty limits', () => {
      const set = (p: number[]): number => h.call(PERF, PerformanceMessageId.LIMITS_SET, p).status;
      expect(set([0, 400_000, 800_000])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(set([0, 2_000_000, 400_000])).toBe(ScmiStatus.OUT_OF_RANGE);
      expect(set([0, 1_800_000, 100])).toBe(ScmiStatus.OUT_OF_RANGE);
      expect(set([0, 900_000, 850_000])).toBe(ScmiStatus.OUT_OF_RANGE);
      expect(set([3, 1, 1])).toBe(ScmiStatus.NOT_FOUND);
    });
  });

  describe('notifications', () => {
    it('should send LEVEL_CHANGED and LIMITS_CHANGED to subscribers only', () => {
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1], 2).status).toBe(0);
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 1], 2).status).toBe(0);
      h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 1_800_000]);
      h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 800_000, 400_000]);
      h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 800_000, 400_000]); // no change
      expect(h.links.get(2)?.messages.map((m) => [m.messageId, ...m.words])).toEqual([
        [PerformanceNotificationId.LEVEL_CHANGED, 1, 0, 1_800_000],
        [PerformanceNotificationId.LIMITS_CHANGED, 1, 0, 800_000, 400_000],
        [PerformanceNotificationId.LEVEL_CHANGED, 1, 0, 800_000],
      ]);
      expect(h.links.get(1)?.posted).toHaveLength(0);
      expect(h.platform.subscriptions(2)).toHaveLength(2);
    });

    it('should reject notify for denied domains and without a P2A channel', () => {
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [1, 1], 2).status).toBe(
        ScmiStatus.DENIED,
      );
      const noP2a = new Harness();
      noP2a.connect(1, false);
      expect(noP2a.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      noP2a.close();
    });
  });

  describe('on a link too small for a notification', () => {
    // PERFORMANCE_LIMITS_CHANGED: agent_id, domain_id, range_max, range_min = 16 bytes.
    // PERFORMANCE_LEVEL_CHANGED: agent_id, domain_id, performance_level = 12 bytes.
    const notificationBits = (maxMsgSize: number, p2a = true): number =>
      ((serverReply(
        (p) => new PerformanceProtocol(p),
        { p2a, maxMsgSize },
        PerformanceMessageId.DOMAIN_ATTRIBUTES,
        [0],
      ).words[0] ?? -1) >>>
        28) &
      0b11;
    const notified = (link: { messages: { messageId: number; words: number[] }[] }): number[][] =>
      link.messages.map((m) => [m.messageId, ...m.words]);

    it('should set PERF_DOMAIN_ATTRIBUTES bit 29 only where the 16-byte LIMITS_CHANGED fits, bit 28 only where the 12-byte LEVEL_CHANGED fits', () => {
      // The 36-byte PERF_DOMAIN_ATTRIBUTES response itself needs a larger link: the server's own
      // reply.
      expect(notificationBits(16)).toBe(0b11);
      expect(notificationBits(15)).toBe(0b01);
      expect(notificationBits(12)).toBe(0b01);
      expect(notificationBits(11)).toBe(0b00);
      expect(notificationBits(128, false)).toBe(0b00);
    });

    it('should accept PERF_NOTIFY_LIMITS on a link of exactly 16 bytes and deliver LIMITS_CHANGED', () => {
      const fits = new Harness();
      const link = fits.connect(1, true, 16);
      expect(fits.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 1]).status).toBe(0);
      expect(fits.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 800_000, 400_000]).status).toBe(
        0,
      );
      expect(notified(link)).toEqual([
        [PerformanceNotificationId.LIMITS_CHANGED, 1, 0, 800_000, 400_000],
      ]);
      expect(fits.platform.counters.notificationsDropped).toBe(0);
      fits.close();
    });

    it('should answer NOT_SUPPORTED to enabling PERF_NOTIFY_LIMITS on a 15-byte link, where PERF_NOTIFY_LEVEL still fits', () => {
      const small = new Harness();
      const link = small.connect(1, true, 15);
      expect(small.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      expect(small.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 0]).status).toBe(0);
      expect(small.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1]).status).toBe(0);
      expect(small.platform.subscriptions(1)).toEqual([
        {
          protocolId: PERF,
          notificationId: PerformanceNotificationId.LEVEL_CHANGED,
          domainId: 0,
        },
      ]);
      // The limits pull the level (1.2 GHz) down to 800 MHz: only LEVEL_CHANGED is sent.
      expect(small.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 800_000, 400_000]).status).toBe(
        0,
      );
      expect(notified(link)).toEqual([[PerformanceNotificationId.LEVEL_CHANGED, 1, 0, 800_000]]);
      expect(small.platform.counters.notificationsDropped).toBe(0);
      small.close();
    });

    it('should accept PERF_NOTIFY_LEVEL on a link of exactly 12 bytes and deliver LEVEL_CHANGED', () => {
      const fits = new Harness();
      const link = fits.connect(1, true, 12);
      expect(fits.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1]).status).toBe(0);
      expect(fits.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 1_800_000]).status).toBe(0);
      expect(notified(link)).toEqual([[PerformanceNotificationId.LEVEL_CHANGED, 1, 0, 1_800_000]]);
      expect(fits.platform.counters.notificationsDropped).toBe(0);
      fits.close();
    });

    it('should answer NOT_SUPPORTED to enabling either on an 11-byte link, subscribe nothing, and accept a disable', () => {
      const small = new Harness();
      const link = small.connect(1, true, 11);
      for (const id of [PerformanceMessageId.NOTIFY_LIMITS, PerformanceMessageId.NOTIFY_LEVEL]) {
        expect(small.call(PERF, id, [0, 1]).status).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(small.call(PERF, id, [0, 0]).status).toBe(0);
      }
      expect(small.platform.subscriptions(1)).toEqual([]);
      expect(small.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 1_800_000]).status).toBe(0);
      expect(link.posted).toHaveLength(0);
      expect(small.platform.counters.notificationsDropped).toBe(0);
      small.close();
    });
  });

  it('should return the name with PERF_DOMAIN_NAME_GET', () => {
    const a = h.call(PERF, PerformanceMessageId.DOMAIN_NAME_GET, [1]);
    expect(a.r.u32()).toBe(0);
    expect(a.r.string(64)).toBe('gpu');
    expect(h.call(PERF, PerformanceMessageId.DOMAIN_NAME_GET, [2]).status).toBe(
      ScmiStatus.NOT_FOUND,
    );
  });
});
