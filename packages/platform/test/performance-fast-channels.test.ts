import { fieldOfConfigError } from '../../core/test/support/code-of.js';
import { CommonMessageId, ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  PERF_FAST_CHANNEL_LEVEL_GET_OFFSET,
  PERF_FAST_CHANNEL_LEVEL_SET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_GET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_SET_OFFSET,
  PERF_FAST_CHANNEL_SLOT_SIZE,
  PerformanceMessageId,
  PerformanceNotificationId,
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type PerformanceDomainConfig,
  type PerformanceFastChannelsConfig,
  type PlatformConfig,
} from '@scmi-ts/platform';
import { Harness, defined } from './support/harness';

const PERF = ScmiProtocolId.PERF;
const MESSAGE_ATTRIBUTES = CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES;
const FAST_CHANNELS_BIT = 1 << 27;
/** An address above 4 GiB, so that chan_addr_high is not 0. */
const BASE = 0x1_2345_6780n;
const SLOTS = 3;
/** The default poll period: SCMI_PERF_FC_MIN_RATE_LIMIT, 4000 µs. */
const PERIOD_MS = 4;

/**
 * Three domains: 0 `cpu` and 2 `dsp` with fast channels, 1 `gpu` without (its slot is a gap).
 * `cpu` starts at 1.2 GHz in [400 MHz, 1.8 GHz]; `dsp` may not have its level set.
 */
function fcConfig(
  memory: SharedArrayBuffer | ArrayBuffer = new ArrayBuffer(SLOTS * PERF_FAST_CHANNEL_SLOT_SIZE),
  fast: Partial<PerformanceFastChannelsConfig> = {},
): PlatformConfig {
  const base = createDefaultPlatformConfig();
  const [cpu, gpu] = defined(base.performanceDomains);
  return {
    ...base,
    performanceFastChannels: { memory, base: BASE, ...fast },
    performanceDomains: [
      { ...defined(cpu), fastChannels: true },
      defined(gpu),
      {
        name: 'dsp',
        levels: [
          { value: 100, powerCost: 1, latencyUs: 1 },
          { value: 200, powerCost: 2, latencyUs: 1 },
        ],
        level: 200,
        canSetLevel: false,
        fastChannels: true,
      },
    ],
  };
}

/** The u32 words of the fast channels' memory, as the agent sees them. */
class Channels {
  readonly #words: Uint32Array;
  readonly #shared: boolean;

  public constructor(memory: SharedArrayBuffer | ArrayBuffer) {
    this.#words = new Uint32Array(memory);
    this.#shared = memory instanceof SharedArrayBuffer;
  }

  public word(domain: number, offset: number): number {
    const i = (PERF_FAST_CHANNEL_SLOT_SIZE * domain + offset) / 4;
    return this.#shared ? Atomics.load(this.#words, i) : defined(this.#words[i]);
  }

  public write(domain: number, offset: number, ...values: number[]): void {
    const i = (PERF_FAST_CHANNEL_SLOT_SIZE * domain + offset) / 4;
    values.forEach((v, k) => {
      if (this.#shared) Atomics.store(this.#words, i + k, v);
      else this.#words[i + k] = v;
    });
  }

  public levelGet(domain: number): number {
    return this.word(domain, PERF_FAST_CHANNEL_LEVEL_GET_OFFSET);
  }

  /** LIMITS_GET: range_max, range_min. */
  public limitsGet(domain: number): [number, number] {
    const at = PERF_FAST_CHANNEL_LIMITS_GET_OFFSET;
    return [this.word(domain, at), this.word(domain, at + 4)];
  }

  public setLevel(domain: number, level: number): void {
    this.write(domain, PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, level);
  }

  public setLimits(domain: number, max: number, min: number): void {
    this.write(domain, PERF_FAST_CHANNEL_LIMITS_SET_OFFSET, max, min);
  }
}

describe('Performance fast channels (PERF_DESCRIBE_FASTCHANNEL, polling)', () => {
  let memory: ArrayBuffer;
  let ch: Channels;
  let h: Harness;
  beforeEach(() => {
    memory = new ArrayBuffer(SLOTS * PERF_FAST_CHANNEL_SLOT_SIZE);
    // Garbage everywhere: the platform must set every word of a fast-channel domain's slot.
    new Uint32Array(memory).fill(0xdeadbeef);
    ch = new Channels(memory);
    h = new Harness(fcConfig(memory));
    h.connect(1);
    h.connect(2);
  });
  afterEach(() => {
    h.close();
  });

  const state = (domain = 0) => defined(h.platform.snapshot().performanceDomains[domain]);

  describe('discovery', () => {
    it('should set PERF_DOMAIN_ATTRIBUTES bit 27 on the domains with fast channels only', () => {
      const flags = (domain: number): number =>
        defined(h.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [domain]).words[0]);
      expect([0, 1, 2].map((d) => (flags(d) & FAST_CHANNELS_BIT) !== 0)).toEqual([
        true,
        false,
        true,
      ]);
      // The other bits are as before: limits, level, both notifications on domain 0.
      expect(flags(0) >>> 28).toBe(0b1111);
    });

    it('should set PROTOCOL_MESSAGE_ATTRIBUTES bit 0 of LIMITS_SET/GET and LEVEL_SET/GET only', () => {
      const attributes = (id: number): number[] => h.call(PERF, MESSAGE_ATTRIBUTES, [id]).words;
      for (const id of [0x5, 0x6, 0x7, 0x8]) expect(attributes(id)).toEqual([1]);
      for (const id of [0x3, 0x4, 0x9, 0xa, 0xb, 0xc]) expect(attributes(id)).toEqual([0]);
    });

    it('should leave bit 0 and bit 27 clear without fast channels, and refuse a memory no domain uses', () => {
      const plain = new Harness();
      // A memory given and no domain marked: a mistake, refused rather than ignored.
      expect(
        fieldOfConfigError(() =>
          validatePlatformConfig({
            ...createDefaultPlatformConfig(),
            performanceFastChannels: { memory: new ArrayBuffer(0), base: 0n },
          }),
        ),
      ).toBe('performanceFastChannels');
      for (const x of [plain]) {
        x.connect(1);
        for (const id of [0x5, 0x6, 0x7, 0x8]) {
          expect(x.call(PERF, MESSAGE_ATTRIBUTES, [id]).words).toEqual([0]);
        }
        const flags = x.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [0]).words[0] ?? 0;
        expect(flags & FAST_CHANNELS_BIT).toBe(0);
        // No polling either.
        expect(x.platform.armedTimers).toBe(0);
        expect(x.platform.pollingTimers).toBe(0);
        x.close();
      }
    });
  });

  describe('PERF_DESCRIBE_FASTCHANNEL', () => {
    const channels: [number, number, number][] = [
      // [message, offset in the slot, chan_size]
      [PerformanceMessageId.LIMITS_SET, PERF_FAST_CHANNEL_LIMITS_SET_OFFSET, 8],
      [PerformanceMessageId.LIMITS_GET, PERF_FAST_CHANNEL_LIMITS_GET_OFFSET, 8],
      [PerformanceMessageId.LEVEL_SET, PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, 4],
      [PerformanceMessageId.LEVEL_GET, PERF_FAST_CHANNEL_LEVEL_GET_OFFSET, 4],
    ];

    it('should describe each channel: no doorbell, rate limit, address, size, as SCP-firmware sends it', () => {
      expect([
        PERF_FAST_CHANNEL_SLOT_SIZE,
        PERF_FAST_CHANNEL_LEVEL_SET_OFFSET,
        PERF_FAST_CHANNEL_LIMITS_SET_OFFSET,
        PERF_FAST_CHANNEL_LEVEL_GET_OFFSET,
        PERF_FAST_CHANNEL_LIMITS_GET_OFFSET,
      ]).toEqual([24, 0, 4, 12, 16]);
      for (const domain of [0, 2]) {
        for (const [message, offset, size] of channels) {
          const a = h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [domain, message]);
          expect(a.status).toBe(ScmiStatus.SUCCESS);
          // Header, status and the 11 words of scmi_perf_describe_fc_p2a after it: 48 bytes.
          expect(a.bytes.byteLength).toBe(4 + 48);
          const address = BASE + BigInt(24 * domain + offset);
          expect(a.words).toEqual([
            0, // attributes: no doorbell
            4000, // rate_limit: SCMI_PERF_FC_MIN_RATE_LIMIT
            Number(address & 0xffffffffn),
            Number(address >> 32n),
            size,
            ...new Array<number>(6).fill(0), // doorbell address and masks
          ]);
        }
      }
    });

    it('should report the configured rate limit', () => {
      const other = new Harness(fcConfig(undefined, { rateLimitUs: 1234 }));
      other.connect(1);
      const a = other.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [0, 0x7]);
      expect(a.words[1]).toBe(1234);
      other.close();
    });

    it("should check in SCP-firmware's order: domain, fast channels, message id past the last, other message", () => {
      const status = (domain: number, message: number): number =>
        h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [domain, message]).status;
      // An unknown domain first, whatever the message id.
      expect(status(3, 0xff)).toBe(ScmiStatus.NOT_FOUND);
      // A domain without fast channels, whatever the message id.
      for (const m of [0x7, 0xd, 0xff]) expect(status(1, m)).toBe(ScmiStatus.NOT_SUPPORTED);
      // From 0xD (one past DOMAIN_NAME_GET, the last Performance command): NOT_FOUND.
      for (const m of [0xd, 0x10, 0xff, 0xffffffff])
        expect(status(0, m)).toBe(ScmiStatus.NOT_FOUND);
      // Below it, a message without a fast channel: NOT_SUPPORTED.
      for (const m of [0x0, 0x3, 0x4, 0x9, 0xa, 0xb, 0xc]) {
        expect(status(0, m)).toBe(ScmiStatus.NOT_SUPPORTED);
      }
      // A domain the agent may not use is DENIED, as SCP-firmware's permissions handler answers
      // every Performance command with a domain id (agent 2 has domain 0 only): the agent must not
      // learn where that domain's level is written. The domain it may use is described.
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [2, 0x7], 2).status).toBe(
        ScmiStatus.DENIED,
      );
      expect(h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [0, 0x7], 2).status).toBe(
        ScmiStatus.SUCCESS,
      );
      // Nor is the fast-channel bit set for it in its attributes (agent 1 may use every domain).
      const flags = (domain: number, agent: number): number =>
        h.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [domain], agent).words[0] ?? 0;
      expect(flags(2, 2) & FAST_CHANNELS_BIT).toBe(0);
      expect(flags(0, 2) & FAST_CHANNELS_BIT).toBe(FAST_CHANNELS_BIT);
      expect(flags(2, 1) & FAST_CHANNELS_BIT).toBe(FAST_CHANNELS_BIT);
    });

    it('should apply behaviour.unknownDomain to an unknown domain', () => {
      const x = new Harness(fcConfig(), { behaviour: { unknownDomain: 'invalid-parameters' } });
      x.connect(1);
      expect(x.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [3, 0x7]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      x.close();
    });
  });

  describe('initial words', () => {
    it('should zero LEVEL_SET and LIMITS_SET and write the level and limits to the GET channels', () => {
      expect(ch.word(0, PERF_FAST_CHANNEL_LEVEL_SET_OFFSET)).toBe(0);
      expect(ch.word(0, PERF_FAST_CHANNEL_LIMITS_SET_OFFSET)).toBe(0);
      expect(ch.word(0, PERF_FAST_CHANNEL_LIMITS_SET_OFFSET + 4)).toBe(0);
      expect(ch.levelGet(0)).toBe(1_200_000);
      expect(ch.limitsGet(0)).toEqual([1_800_000, 400_000]);
      expect(ch.levelGet(2)).toBe(200);
      expect(ch.limitsGet(2)).toEqual([200, 100]);
      // Domain 1 has no fast channels: its slot is not the platform's to write.
      expect(new Uint32Array(memory, 24, 6).every((w) => w === 0xdeadbeef)).toBe(true);
      // One polling timer.
      expect(h.platform.armedTimers).toBe(1);
      expect(h.platform.pollingTimers).toBe(1);
    });
  });

  describe('polling', () => {
    it('should apply a level written to LEVEL_SET at the next poll, not before, and update LEVEL_GET', async () => {
      ch.setLevel(0, 400_000);
      await h.clock.advance(PERIOD_MS - 0.1);
      expect(state().level).toBe(1_200_000);
      expect(ch.levelGet(0)).toBe(1_200_000);
      await h.clock.advance(0.2);
      expect(state().level).toBe(400_000);
      expect(ch.levelGet(0)).toBe(400_000);
      // The word is left as it is (SCP-firmware does not clear it); applied again, it changes
      // nothing and is not counted again.
      await h.clock.advance(PERIOD_MS * 5);
      expect(ch.word(0, PERF_FAST_CHANNEL_LEVEL_SET_OFFSET)).toBe(400_000);
      expect(h.platform.counters).toMatchObject({ fastChannelApplied: 1, fastChannelRejected: 0 });
    });

    it('should apply limits written to LIMITS_SET, pulling the level inside them', async () => {
      ch.setLimits(0, 800_000, 400_000);
      await h.clock.advance(PERIOD_MS);
      expect(state()).toEqual({ level: 800_000, min: 400_000, max: 800_000 });
      expect(ch.limitsGet(0)).toEqual([800_000, 400_000]);
      expect(ch.levelGet(0)).toBe(800_000);
      // One limit 0: that limit unchanged, as in PERF_LIMITS_SET.
      ch.setLimits(0, 0, 800_000);
      await h.clock.advance(PERIOD_MS);
      expect(state()).toEqual({ level: 800_000, min: 800_000, max: 800_000 });
      expect(ch.limitsGet(0)).toEqual([800_000, 800_000]);
      await h.clock.advance(PERIOD_MS * 3);
      expect(h.platform.counters).toMatchObject({ fastChannelApplied: 2, fastChannelRejected: 0 });
    });

    it('should ignore a LEVEL_SET of 0 and a LIMITS_SET of (0, 0)', async () => {
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1]).status).toBe(0);
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 1]).status).toBe(0);
      await h.clock.advance(PERIOD_MS * 5);
      expect(state()).toEqual({ level: 1_200_000, min: 400_000, max: 1_800_000 });
      expect(h.platform.counters).toMatchObject({ fastChannelApplied: 0, fastChannelRejected: 0 });
      expect(h.link(1).posted).toHaveLength(0);
    });

    it('should ignore a value PERF_LEVEL_SET or PERF_LIMITS_SET refuses, counting it once per value written', async () => {
      const rejected = (): number => h.platform.counters.fastChannelRejected;
      ch.setLevel(0, 123); // not a level
      await h.clock.advance(PERIOD_MS * 4);
      expect(rejected()).toBe(1);
      ch.setLevel(0, 456);
      await h.clock.advance(PERIOD_MS * 4);
      expect(rejected()).toBe(2);
      ch.setLevel(0, 123); // written again after another: a new value
      await h.clock.advance(PERIOD_MS * 4);
      expect(rejected()).toBe(3);
      ch.setLevel(0, 0);
      // Limits: max below min, then a limit that is not a level.
      ch.setLimits(0, 400_000, 800_000);
      await h.clock.advance(PERIOD_MS * 4);
      expect(rejected()).toBe(4);
      ch.setLimits(0, 999, 400_000);
      await h.clock.advance(PERIOD_MS * 4);
      expect(rejected()).toBe(5);
      // A domain whose level agents may not set (canSetLevel false): refused as DENIED would be.
      ch.setLevel(2, 100);
      await h.clock.advance(PERIOD_MS * 4);
      expect(rejected()).toBe(6);
      expect(state(0)).toEqual({ level: 1_200_000, min: 400_000, max: 1_800_000 });
      expect(state(2).level).toBe(200);
      expect(h.platform.counters.fastChannelApplied).toBe(0);
    });

    it('should refuse a level outside the limits, and count it again once it was accepted in between', async () => {
      expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 800_000, 400_000]).status).toBe(0);
      ch.setLevel(0, 1_200_000);
      await h.clock.advance(PERIOD_MS * 3);
      expect(h.platform.counters.fastChannelRejected).toBe(1);
      expect(state().level).toBe(800_000);
      // Once the limits allow it, the value left in the channel is applied.
      expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 1_800_000, 400_000]).status).toBe(0);
      await h.clock.advance(PERIOD_MS);
      expect(state().level).toBe(1_200_000);
      expect(h.platform.counters).toMatchObject({ fastChannelApplied: 1, fastChannelRejected: 1 });
      // Refused again after that: counted again.
      expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 800_000, 400_000]).status).toBe(0);
      await h.clock.advance(PERIOD_MS * 3);
      expect(state().level).toBe(800_000);
      expect(h.platform.counters).toMatchObject({ fastChannelApplied: 1, fastChannelRejected: 2 });
    });

    it('should notify subscribed agents of a change made through a fast channel, with agent_id 0', async () => {
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1]).status).toBe(0);
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 1]).status).toBe(0);
      ch.setLimits(0, 800_000, 400_000);
      await h.clock.advance(PERIOD_MS * 3);
      expect(h.link(1).messages.map((m) => [m.protocolId, m.messageId, ...m.words])).toEqual([
        [PERF, PerformanceNotificationId.LIMITS_CHANGED, 0, 0, 800_000, 400_000],
        [PERF, PerformanceNotificationId.LEVEL_CHANGED, 0, 0, 800_000],
      ]);
      ch.setLevel(0, 400_000);
      await h.clock.advance(PERIOD_MS * 3);
      expect(
        h
          .link(1)
          .messages.slice(2)
          .map((m) => [m.messageId, ...m.words]),
      ).toEqual([[PerformanceNotificationId.LEVEL_CHANGED, 0, 0, 400_000]]);
      // Agent 2 did not subscribe.
      expect(h.link(2).posted).toHaveLength(0);
    });

    it('should write LEVEL_GET and LIMITS_GET at every change a command makes', () => {
      expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 800_000]).status).toBe(0);
      expect(ch.levelGet(0)).toBe(800_000);
      expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 1_800_000, 1_200_000]).status).toBe(
        0,
      );
      expect(ch.limitsGet(0)).toEqual([1_800_000, 1_200_000]);
      expect(ch.levelGet(0)).toBe(1_200_000); // pulled inside the limits
      // A refused command writes nothing.
      expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 400_000]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
      expect(ch.levelGet(0)).toBe(1_200_000);
    });

    it('should apply a value left in LEVEL_SET again at the next poll, after a command changed the level', async () => {
      ch.setLevel(0, 400_000);
      await h.clock.advance(PERIOD_MS);
      expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 1_800_000]).status).toBe(0);
      expect(ch.levelGet(0)).toBe(1_800_000);
      await h.clock.advance(PERIOD_MS);
      // As SCP-firmware: the channel's value is applied at every poll.
      expect(state().level).toBe(400_000);
      expect(ch.levelGet(0)).toBe(400_000);
    });

    it('should keep the fast-channel counters out of the agents counters', () => {
      expect(h.platform.agentCounters(1)).not.toHaveProperty('fastChannelRejected');
      expect(h.platform.agentCounters(1)).not.toHaveProperty('fastChannelApplied');
      expect(h.platform.counters).toMatchObject({ fastChannelApplied: 0, fastChannelRejected: 0 });
    });
  });

  describe('close', () => {
    it('should cancel the polling and never apply a later write', async () => {
      expect(h.platform.pollingTimers).toBe(1);
      h.close(); // checks that no timer is left, the clock's included
      expect(h.platform.pollingTimers).toBe(0);
      ch.setLevel(0, 400_000);
      await h.clock.advance(PERIOD_MS * 10);
      expect(state().level).toBe(1_200_000);
      expect(ch.levelGet(0)).toBe(1_200_000);
      expect(h.clock.armedTimers).toBe(0);
    });

    it('should read nothing more once a link closed the platform in the middle of a poll', async () => {
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1]).status).toBe(0);
      // The level change of domain 0 is notified; the post closes the platform.
      h.link(1).accept = () => {
        h.platform.close();
        return true;
      };
      ch.setLevel(0, 400_000);
      ch.setLimits(0, 800_000, 800_000);
      ch.setLevel(2, 100); // refused (canSetLevel false) if it were read
      ch.setLimits(2, 100, 100);
      await h.clock.advance(PERIOD_MS);
      expect(h.platform.closed).toBe(true);
      expect(state(0)).toEqual({ level: 400_000, min: 400_000, max: 1_800_000 });
      expect(ch.levelGet(0)).toBe(400_000); // written before the notification
      expect(ch.limitsGet(0)).toEqual([1_800_000, 400_000]);
      // Domain 2, polled after domain 0, is not polled at all.
      expect(state(2)).toEqual({ level: 200, min: 100, max: 200 });
      expect(h.platform.counters).toMatchObject({ fastChannelApplied: 1, fastChannelRejected: 0 });
      expect(h.clock.armedTimers).toBe(0); // no next poll
    });

    it('should write no level and arm no next poll when the last domain polled closed the platform', async () => {
      expect(h.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [2, 1]).status).toBe(0);
      h.link(1).accept = () => {
        h.platform.close();
        return true;
      };
      ch.setLimits(2, 100, 100);
      await h.clock.advance(PERIOD_MS);
      expect(h.platform.closed).toBe(true);
      // Limits written before their notification; the level, pulled inside them after it, not.
      expect(ch.limitsGet(2)).toEqual([100, 100]);
      expect(state(2).level).toBe(100);
      expect(ch.levelGet(2)).toBe(200);
      expect(h.clock.armedTimers).toBe(0);
    });
  });
});

describe('Performance fast channels over a SharedArrayBuffer', () => {
  it('should read and write the words with Atomics, as with an ArrayBuffer', async () => {
    const memory = new SharedArrayBuffer(SLOTS * PERF_FAST_CHANNEL_SLOT_SIZE);
    const ch = new Channels(memory);
    const h = new Harness(fcConfig(memory));
    h.connect(1);
    expect(ch.levelGet(0)).toBe(1_200_000);
    ch.setLevel(0, 1_800_000);
    ch.setLimits(2, 100, 100);
    await h.clock.advance(PERIOD_MS);
    expect(h.platform.snapshot().performanceDomains.map((d) => d.level)).toEqual([
      1_800_000, 200, 100,
    ]);
    expect(ch.levelGet(0)).toBe(1_800_000);
    expect(ch.limitsGet(2)).toEqual([100, 100]);
    expect(ch.levelGet(2)).toBe(100);
    h.close();
  });

  it('should poll every rateLimitUs', async () => {
    const memory = new SharedArrayBuffer(SLOTS * PERF_FAST_CHANNEL_SLOT_SIZE);
    const ch = new Channels(memory);
    const h = new Harness(fcConfig(memory, { rateLimitUs: 10_000 }));
    ch.setLevel(0, 800_000);
    await h.clock.advance(9.9);
    expect(ch.levelGet(0)).toBe(1_200_000);
    await h.clock.advance(0.1);
    expect(ch.levelGet(0)).toBe(800_000);
    h.close();
  });
});

describe('Performance fast channels in level indexing mode', () => {
  /** Performance 4.0, domain 0 in level indexing mode (indices 10, 20, 40), with fast channels. */
  function v4(memory: ArrayBuffer): PlatformConfig {
    const domain: PerformanceDomainConfig = {
      name: 'cpu',
      levelIndexing: true,
      fastChannels: true,
      levels: [
        { value: 400, powerCost: 1, latencyUs: 1, indicativeFreqKhz: 400_000, index: 10 },
        { value: 800, powerCost: 2, latencyUs: 1, indicativeFreqKhz: 800_000, index: 20 },
        { value: 1200, powerCost: 3, latencyUs: 1, indicativeFreqKhz: 1_200_000, index: 40 },
      ],
    };
    return {
      ...createDefaultPlatformConfig(),
      performanceVersion: 0x40000,
      performanceFastChannels: { memory, base: 0n },
      performanceDomains: [domain],
      agents: [{ id: 1, name: 'OSPM', protocols: ['performance'] }],
      devices: [],
    };
  }

  it('should carry level indices in every channel, as Linux writes them', async () => {
    const memory = new ArrayBuffer(PERF_FAST_CHANNEL_SLOT_SIZE);
    const ch = new Channels(memory);
    const h = new Harness(v4(memory));
    h.connect(1);
    expect(ch.levelGet(0)).toBe(40);
    expect(ch.limitsGet(0)).toEqual([40, 10]);
    ch.setLevel(0, 20);
    await h.clock.advance(PERIOD_MS);
    expect(h.platform.snapshot().performanceDomains[0]?.level).toBe(800);
    expect(ch.levelGet(0)).toBe(20);
    ch.setLimits(0, 20, 20);
    await h.clock.advance(PERIOD_MS);
    expect(h.platform.snapshot().performanceDomains[0]).toEqual({ level: 800, min: 800, max: 800 });
    expect(ch.limitsGet(0)).toEqual([20, 20]);
    // A level value is not an index: refused.
    ch.setLimits(0, 0, 0);
    ch.setLevel(0, 800);
    await h.clock.advance(PERIOD_MS);
    expect(h.platform.counters).toMatchObject({ fastChannelApplied: 2, fastChannelRejected: 1 });
    h.close();
  });

  it('should not announce them to an agent that negotiated 3.0, which speaks level values', () => {
    const memory = new ArrayBuffer(PERF_FAST_CHANNEL_SLOT_SIZE);
    const base = v4(memory);
    const h = new Harness({
      ...base,
      agents: [...base.agents, { id: 2, name: 'old', protocols: ['performance'] }],
    });
    h.connect(1);
    h.connect(2);
    const negotiate = h.call(PERF, CommonMessageId.NEGOTIATE_PROTOCOL_VERSION, [0x30000], 2);
    expect(negotiate.status).toBe(ScmiStatus.SUCCESS);
    const flags = (agent: number): number =>
      h.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [0], agent).words[0] ?? 0;
    expect(flags(1) & FAST_CHANNELS_BIT).toBe(FAST_CHANNELS_BIT);
    expect(flags(2) & FAST_CHANNELS_BIT).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [0, 0x7], 1).status).toBe(
      ScmiStatus.SUCCESS,
    );
    expect(h.call(PERF, PerformanceMessageId.DESCRIBE_FASTCHANNEL, [0, 0x7], 2).status).toBe(
      ScmiStatus.NOT_SUPPORTED,
    );
    h.close();
  });
});

describe('performanceFastChannels in the configuration', () => {
  const fieldOf = (config: unknown): string | undefined =>
    fieldOfConfigError(() => validatePlatformConfig(config));
  const withFast = (fast: Record<string, unknown>): unknown => ({
    ...fcConfig(),
    performanceFastChannels: { memory: new ArrayBuffer(72), base: BASE, ...fast },
  });

  it('should take a valid configuration, keeping the memory as given (not frozen) and 4000 µs by default', () => {
    // Compared field by field, never handed to a matcher: jest cannot report a failure whose
    // values hold a SharedArrayBuffer (its worker's structured clone throws).
    const memory = new SharedArrayBuffer(72);
    const c = validatePlatformConfig(fcConfig(memory));
    const fast = defined(c.performanceFastChannels);
    expect(fast.memory === memory).toBe(true);
    expect(Object.isFrozen(memory)).toBe(false);
    expect([fast.base === BASE, fast.rateLimitUs]).toEqual([true, 4000]);
    expect(Object.keys(fast).sort()).toEqual(['base', 'memory', 'rateLimitUs']);
    expect(c.performanceDomains?.map((d) => d.fastChannels)).toEqual([true, undefined, true]);
    // Validated twice (as ScmiPlatform does), the same.
    const again = validatePlatformConfig(c);
    expect(again.performanceFastChannels?.memory === memory).toBe(true);
    expect(again.performanceDomains).toEqual(c.performanceDomains);
    for (const rateLimitUs of [1, 0xfffff])
      expect(fieldOf(withFast({ rateLimitUs }))).toBe(undefined);
    // base + byteLength may reach 2^64 exactly.
    expect(fieldOf(withFast({ base: (1n << 64n) - 72n }))).toBe(undefined);
  });

  it('should refuse fastChannels without performanceFastChannels, or not a boolean', () => {
    expect(fieldOf({ ...fcConfig(), performanceFastChannels: undefined })).toBe(
      'performanceDomains[0].fastChannels',
    );
    const c = fcConfig();
    const domains = defined(c.performanceDomains);
    expect(fieldOf({ ...c, performanceDomains: [{ ...domains[0], fastChannels: 'yes' }] })).toBe(
      'performanceDomains[0].fastChannels',
    );
  });

  it('should refuse a memory that is not an ArrayBuffer or SharedArrayBuffer, resizable, or too small', () => {
    expect(fieldOf(withFast({ memory: new Uint8Array(72) }))).toBe(
      'performanceFastChannels.memory',
    );
    expect(fieldOf(withFast({ memory: 72 }))).toBe('performanceFastChannels.memory');
    expect(fieldOf(withFast({ memory: undefined }))).toBe('performanceFastChannels.memory');
    const resizable = new (ArrayBuffer as new (n: number, o: object) => ArrayBuffer)(72, {
      maxByteLength: 96,
    });
    expect(fieldOf(withFast({ memory: resizable }))).toBe('performanceFastChannels.memory');
    // Domain 2 is the last with fast channels: 3 slots, 72 bytes.
    expect(fieldOf(withFast({ memory: new ArrayBuffer(71) }))).toBe(
      'performanceFastChannels.memory',
    );
    expect(() => validatePlatformConfig(withFast({ memory: new ArrayBuffer(71) }))).toThrow(
      /must hold 72 bytes/,
    );
  });

  it('should refuse a base that is not a bigint, negative, unaligned, or leaves no room below 2^64', () => {
    for (const base of [0x1000, undefined, -8n, 2n, 0x1004n, (1n << 64n) - 64n, 1n << 64n]) {
      expect(fieldOf(withFast({ base }))).toBe('performanceFastChannels.base');
    }
  });

  it('should refuse a rate limit that is not an integer in 1 … 0xFFFFF, and an unknown field', () => {
    for (const rateLimitUs of [0, 0x100000, 1.5, '4000', null]) {
      expect(fieldOf(withFast({ rateLimitUs }))).toBe('performanceFastChannels.rateLimitUs');
    }
    expect(fieldOf(withFast({ rateLimit: 4000 }))).toBe('performanceFastChannels.rateLimit');
    expect(fieldOf({ ...fcConfig(), performanceFastChannels: null })).toBe(
      'performanceFastChannels',
    );
  });

  it('should refuse fast channels on a big-endian host', () => {
    jest.isolateModules(() => {
      jest.doMock('../src/protocols/performance/fast-channel-memory', () => ({
        ...jest.requireActual<object>('../src/protocols/performance/fast-channel-memory'),
        isLittleEndianHost: () => false,
      }));
      const { validatePlatformConfig: validate } = jest.requireActual<{
        validatePlatformConfig: (v: unknown) => PlatformConfig;
      }>('../src/config/validate-platform-config');
      let field: unknown;
      try {
        validate(fcConfig());
      } catch (e) {
        field = (e as { field?: unknown }).field;
      }
      expect(field).toBe('performanceFastChannels');
      // Without fast channels, the host does not matter.
      expect(() => validate(createDefaultPlatformConfig())).not.toThrow();
    });
  });
});
