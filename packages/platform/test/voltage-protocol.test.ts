import { CommonMessageId, ScmiConfigError, ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  BaseMessageId,
  VoltageMessageId,
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type PlatformConfig,
  type VoltageDomainConfig,
} from '@scmi-ts/platform';
import { VoltageProtocol } from '../src/protocols/voltage/voltage-protocol';
import { Harness, decodeAnswer, defined } from './support/harness';
import { serverReply } from './support/server-reply';

const VOLTAGE = ScmiProtocolId.VOLTAGE;
const BASE = ScmiProtocolId.BASE;
/** Default domains: 0 vddcore (list, async), 1 vdd-sd (triplet, starts OFF), 2 extended name. */
const VDDCORE = 0;
const VDD_SD = 1;
const SDMMC_IO = 2;
/** Default device 3 `sdmmc`: voltage domains 1 and 2. */
const SDMMC_DEVICE = 3;
const ASYNC = 1;
const OFF = 0x0;
const ON = 0x7;
const VDDCORE_LEVELS = [800_000, 850_000, 900_000, 950_000, 1_000_000];

/** The default SoC and agent 3, which may use voltage domain 2 only. */
function config(): PlatformConfig {
  const base = createDefaultPlatformConfig();
  return {
    ...base,
    agents: [
      ...base.agents,
      { id: 3, name: 'limited', protocols: ['voltage'], domains: { voltage: [SDMMC_IO] } },
    ],
  };
}

/** A platform of one agent and the given voltage domains. */
function only(voltageDomains: VoltageDomainConfig[]): PlatformConfig {
  return {
    vendor: 'v',
    subVendor: 's',
    implementationVersion: 0,
    agents: [{ id: 1, name: 'a', protocols: ['voltage'] }],
    voltageDomains,
  };
}

/** Signed 32-bit words. */
const signed = (words: readonly number[]): number[] => words.map((v) => v | 0);

describe('Voltage domain management protocol (0x17)', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness(config());
    h.connect(1);
    h.connect(3);
  });
  afterEach(() => {
    h.close();
  });

  describe('common messages', () => {
    it('should report version 2.1 (SCMI v3.2) and three domains', () => {
      expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_VERSION).words).toEqual([0x20001]);
      expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_ATTRIBUTES).words).toEqual([3]);
    });

    it('should answer PROTOCOL_MESSAGE_ATTRIBUTES 0 for every implemented message, NOT_FOUND for others', () => {
      for (const id of [0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0x10]) {
        expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES, [id]).words).toEqual([
          0,
        ]);
      }
      expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES, [0xa]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(VOLTAGE, 0xa, [0]).status).toBe(ScmiStatus.NOT_FOUND);
    });

    it('should report 2.0 without version negotiation (SCMI v3.1), and not know NEGOTIATE_PROTOCOL_VERSION', () => {
      const old = new Harness(config(), { behaviour: { versionNegotiation: false } });
      old.connect(1);
      expect(old.call(VOLTAGE, CommonMessageId.PROTOCOL_VERSION).words).toEqual([0x20000]);
      expect(old.call(VOLTAGE, CommonMessageId.NEGOTIATE_PROTOCOL_VERSION, [0x20000]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      old.close();
    });

    it('should answer PROTOCOL_ERROR to common messages of the wrong size', () => {
      expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_VERSION, [0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_ATTRIBUTES, [0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  describe('NEGOTIATE_PROTOCOL_VERSION', () => {
    it('should accept 2.0, 2.1 and 1.0 and refuse the others', () => {
      const negotiate = (v: number): number =>
        h.call(VOLTAGE, CommonMessageId.NEGOTIATE_PROTOCOL_VERSION, [v]).status;
      expect(negotiate(0x20000)).toBe(0);
      expect(negotiate(0x20001)).toBe(0);
      expect(negotiate(0x10000)).toBe(0);
      expect(negotiate(0x20002)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(negotiate(0x30000)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(negotiate(0x10001)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(h.call(VOLTAGE, CommonMessageId.NEGOTIATE_PROTOCOL_VERSION).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });

    it('should answer an agent that negotiated 1.0 in 1.0: no DOMAIN_NAME_GET, attributes 0, LEVEL_SET flags reserved', () => {
      expect(h.call(VOLTAGE, CommonMessageId.NEGOTIATE_PROTOCOL_VERSION, [0x10000]).status).toBe(0);
      expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_VERSION).words).toEqual([0x10000]);
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_NAME_GET, [SDMMC_IO]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(
        h.call(VOLTAGE, CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES, [
          VoltageMessageId.DOMAIN_NAME_GET,
        ]).status,
      ).toBe(ScmiStatus.NOT_FOUND);
      const attributes = h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [VDDCORE]);
      expect([attributes.r.u32(), attributes.r.string(16)]).toEqual([0, 'vddcore']);
      // As Arm's scmi-tests voltage test_v014 expects of a 1.0 platform: flags 1 is invalid.
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [VDDCORE, ASYNC, 900_000]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [VDDCORE, 0, 950_000]).status).toBe(0);
      // Another agent still speaks 2.1.
      expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_VERSION, [], 3).words).toEqual([0x20001]);
    });
  });

  describe('VOLTAGE_DOMAIN_ATTRIBUTES', () => {
    it('should describe async level set (bit 31), extended names (bit 30) and the 16-byte name', () => {
      const core = h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [VDDCORE]);
      expect(core.bytes.byteLength).toBe(8 + 20);
      expect([core.r.u32(), core.r.string(16)]).toEqual([0x80000000, 'vddcore']);
      const sd = h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [VDD_SD]);
      expect([sd.r.u32(), sd.r.string(16)]).toEqual([0, 'vdd-sd']);
      const io = h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [SDMMC_IO]);
      expect([io.r.u32(), io.r.string(16)]).toEqual([0x40000000, 'vdd-sdmmc-io-ba']);
    });

    it('should answer NOT_FOUND for a domain that does not exist and PROTOCOL_ERROR for a wrong size', () => {
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [3]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [0xffffffff]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [0, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });

    it('should work on a domain the agent may not use (discovery)', () => {
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [VDDCORE], 3).status).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [VDDCORE, 0], 3).status).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_NAME_GET, [VDDCORE], 3).status).toBe(0);
    });

    it('should not advertise async level set without a P2A channel, nor where the 12-byte delayed response (status, domain_id, voltage_level) does not fit', () => {
      const noP2a = new Harness(config());
      noP2a.connect(1, false);
      expect(noP2a.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [VDDCORE]).words[0]).toBe(0);
      noP2a.close();
      // The 24-byte attributes reply needs a larger link than 12: the server's own reply.
      const attributesOf = (maxMsgSize: number, p2a = true): number =>
        serverReply(
          (p) => new VoltageProtocol(p),
          { p2a, maxMsgSize },
          VoltageMessageId.DOMAIN_ATTRIBUTES,
          [VDDCORE],
        ).words[0] ?? -1;
      expect(attributesOf(16)).toBe(0x80000000);
      expect(attributesOf(12)).toBe(0x80000000);
      expect(attributesOf(11)).toBe(0);
      expect(attributesOf(128, false)).toBe(0);
    });
  });

  describe('VOLTAGE_DESCRIBE_LEVELS', () => {
    it('should list the levels of a list domain in one reply: flags returned 5, remaining 0, format 0', () => {
      const a = h.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [VDDCORE, 0]);
      expect(a.words).toEqual([5, ...VDDCORE_LEVELS]);
    });

    it('should page a list from level_index with multiPartMax', () => {
      const paged = new Harness(config(), { behaviour: { multiPartMax: 2 } });
      paged.connect(1);
      const part = (index: number): number[] =>
        paged.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [VDDCORE, index]).words;
      expect(part(0)).toEqual([2 | (3 << 16), 800_000, 850_000]);
      expect(part(2)).toEqual([2 | (1 << 16), 900_000, 950_000]);
      expect(part(4)).toEqual([1, 1_000_000]);
      expect(part(3)).toEqual([2, 950_000, 1_000_000]);
      // As Linux iterates (scmi_iterator_run: index += returned while returned and remaining).
      const all: number[] = [];
      let index = 0;
      for (;;) {
        const [flags = 0, ...levels] = part(index);
        all.push(...levels);
        index += flags & 0xfff;
        if ((flags & 0xfff) === 0 || flags >>> 16 === 0) break;
      }
      expect(all).toEqual(VDDCORE_LEVELS);
      paged.close();
    });

    it('should fit a list to a small link', () => {
      const small = new Harness(config());
      small.connect(1, true, 16);
      // 16 bytes: status, flags and two levels.
      const a = small.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [VDDCORE, 1]);
      expect(a.words).toEqual([2 | (2 << 16), 850_000, 900_000]);
      small.close();
    });

    it('should answer OUT_OF_RANGE for a level_index at or past the end of a list (as SCP-firmware)', () => {
      expect(h.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [VDDCORE, 5]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [VDDCORE, 0xffffffff]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
    });

    it('should describe a range as one triplet (flags bit 12, returned 3, remaining 0) whatever the level_index', () => {
      const triplet = [3 | (1 << 12), 1_800_000, 3_300_000, 100_000];
      expect(h.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [VDD_SD, 0]).words).toEqual(triplet);
      expect(h.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [VDD_SD, 7]).words).toEqual(triplet);
    });

    it('should take a fixed rail as a triplet of one level (step 0, min = max), as a clock range', () => {
      const fixed = new Harness(
        only([{ name: 'vdd-fixed', levels: { min: 1_800_000, max: 1_800_000, step: 0 } }]),
      );
      fixed.connect(1);
      expect(fixed.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [0, 0]).words).toEqual([
        0x1003, 1_800_000, 1_800_000, 0,
      ]);
      expect(fixed.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [0, 0, 1_800_000]).status).toBe(0);
      expect(fixed.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [0, 0, 1_900_000]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(fixed.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [0]).words).toEqual([1_800_000]);
      fixed.close();
    });

    it('should send negative levels as signed 32-bit values', () => {
      const neg = new Harness(
        only([
          { name: 'bias', levels: [-500_000, 0, 500_000] },
          { name: 'bias-range', levels: { min: -1_000_000, max: -100_000, step: 100_000 } },
        ]),
      );
      neg.connect(1);
      const list = neg.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [0, 0]);
      expect(signed(list.words)).toEqual([3, -500_000, 0, 500_000]);
      const range = neg.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [1, 0]);
      expect(signed(range.words)).toEqual([0x1003, -1_000_000, -100_000, 100_000]);
      expect(signed(neg.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [0]).words)).toEqual([-500_000]);
      expect(neg.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [1, 0, -300_000 >>> 0]).status).toBe(0);
      expect(signed(neg.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [1]).words)).toEqual([-300_000]);
      expect(neg.platform.snapshot().voltageDomains[1]?.level).toBe(-300_000);
      neg.close();
    });

    it('should answer NOT_FOUND for a domain that does not exist and PROTOCOL_ERROR for a wrong size', () => {
      expect(h.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [3, 0]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.DESCRIBE_LEVELS, [VDDCORE]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  describe('VOLTAGE_CONFIG_SET / VOLTAGE_CONFIG_GET', () => {
    it('should report the initial config and switch between architectural OFF (0x0) and ON (0x7)', () => {
      const get = (id: number): number[] =>
        h.call(VOLTAGE, VoltageMessageId.CONFIG_GET, [id]).words;
      expect(get(VDDCORE)).toEqual([ON]);
      expect(get(VDD_SD)).toEqual([OFF]);
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [VDD_SD, ON]).status).toBe(0);
      expect(get(VDD_SD)).toEqual([ON]);
      expect(h.platform.snapshot().voltageDomains[VDD_SD]).toEqual({
        level: 3_300_000,
        config: ON,
      });
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [VDD_SD, OFF]).status).toBe(0);
      expect(get(VDD_SD)).toEqual([OFF]);
    });

    it('should accept an implementation-defined mode (0x8 | id) only where the domain has it', () => {
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [SDMMC_IO, 0x8]).status).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_GET, [SDMMC_IO]).words).toEqual([0x8]);
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [SDMMC_IO, 0x9]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [VDDCORE, 0x8]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_GET, [VDDCORE]).words).toEqual([ON]);
    });

    it('should answer INVALID_PARAMETERS to a reserved architectural mode or reserved bits, changing nothing', () => {
      const set = (config: number): number =>
        h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [VDDCORE, config]).status;
      for (const config of [0x1, 0x3, 0x6, 0x10, 0x17, 0x80000007, 0xffffffff]) {
        expect(set(config)).toBe(ScmiStatus.INVALID_PARAMETERS);
      }
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_GET, [VDDCORE]).words).toEqual([ON]);
    });

    it('should answer NOT_FOUND, DENIED and PROTOCOL_ERROR', () => {
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [3, ON]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_GET, [3]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [VDDCORE, OFF], 3).status).toBe(
        ScmiStatus.DENIED,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_GET, [VDDCORE], 3).status).toBe(
        ScmiStatus.DENIED,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_GET, [SDMMC_IO], 3).words).toEqual([ON]);
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [VDDCORE]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_GET, [VDDCORE, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.platform.snapshot().voltageDomains[VDDCORE]?.config).toBe(ON);
    });
  });

  describe('VOLTAGE_LEVEL_SET / VOLTAGE_LEVEL_GET', () => {
    const get = (id: number, agent = 1): number[] =>
      signed(h.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [id], agent).words);
    const set = (id: number, level: number, flags = 0, agent = 1): number =>
      h.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [id, flags, level >>> 0], agent).status;

    it('should set a listed level synchronously', () => {
      expect(get(VDDCORE)).toEqual([900_000]);
      expect(set(VDDCORE, 950_000)).toBe(0);
      expect(get(VDDCORE)).toEqual([950_000]);
      expect(h.platform.snapshot().voltageDomains[VDDCORE]).toEqual({ level: 950_000, config: ON });
    });

    it('should set any member of a triplet, on a domain that is OFF too', () => {
      expect(set(VDD_SD, 1_800_000)).toBe(0);
      expect(set(VDD_SD, 2_500_000)).toBe(0);
      expect(get(VDD_SD)).toEqual([2_500_000]);
    });

    it('should answer INVALID_PARAMETERS to a level the domain does not support, changing nothing', () => {
      for (const level of [875_000, 799_999, 1_000_001, 0, -900_000]) {
        expect(set(VDDCORE, level)).toBe(ScmiStatus.INVALID_PARAMETERS);
      }
      for (const level of [2_550_000, 1_700_000, 3_400_000]) {
        expect(set(VDD_SD, level)).toBe(ScmiStatus.INVALID_PARAMETERS);
      }
      expect([get(VDDCORE), get(VDD_SD)]).toEqual([[900_000], [3_300_000]]);
    });

    it('should answer INVALID_PARAMETERS to reserved flag bits', () => {
      expect(set(VDDCORE, 950_000, 2)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(set(VDDCORE, 950_000, 0x80000001)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(get(VDDCORE)).toEqual([900_000]);
    });

    it('should answer NOT_FOUND, DENIED and PROTOCOL_ERROR', () => {
      expect(set(3, 900_000)).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [3]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(set(VDDCORE, 950_000, 0, 3)).toBe(ScmiStatus.DENIED);
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [VDDCORE], 3).status).toBe(
        ScmiStatus.DENIED,
      );
      expect(set(SDMMC_IO, 1_800_000, 0, 3)).toBe(0);
      expect(get(SDMMC_IO, 3)).toEqual([1_800_000]);
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [VDDCORE, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [VDDCORE, 0, 900_000, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_GET).status).toBe(ScmiStatus.PROTOCOL_ERROR);
    });

    it('should complete an asynchronous set with a delayed response (domain_id, voltage_level) after the async latency', async () => {
      const link = h.link(1);
      const raw = h.send(1, VOLTAGE, VoltageMessageId.LEVEL_SET, [VDDCORE, ASYNC, 1_000_000], 300);
      expect(decodeAnswer(defined(raw)).status).toBe(0);
      // The level changes when the set completes.
      expect(get(VDDCORE)).toEqual([900_000]);
      expect(h.platform.pendingOperations).toBe(1);
      await h.clock.advance(0.5);
      expect(link.posted).toHaveLength(0);
      await h.clock.advance(0.5);
      expect(link.messages).toEqual([
        {
          type: 2,
          protocolId: VOLTAGE,
          messageId: VoltageMessageId.LEVEL_SET,
          token: 300,
          words: [0, VDDCORE, 1_000_000],
        },
      ]);
      expect(get(VDDCORE)).toEqual([1_000_000]);
      expect(h.platform.counters.delayedResponsesPosted).toBe(1);
    });

    it('should answer BUSY to any level set of a domain with an asynchronous set pending, and accept again once it completed', async () => {
      expect(set(VDDCORE, 1_000_000, ASYNC)).toBe(0);
      expect(set(VDDCORE, 800_000)).toBe(ScmiStatus.BUSY);
      expect(set(VDDCORE, 800_000, ASYNC)).toBe(ScmiStatus.BUSY);
      // Other domains and other commands are not held up.
      expect(set(VDD_SD, 2_000_000)).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [VDDCORE, OFF]).status).toBe(0);
      await h.clock.advance(1);
      expect(get(VDDCORE)).toEqual([1_000_000]);
      expect(set(VDDCORE, 800_000)).toBe(0);
      expect(get(VDDCORE)).toEqual([800_000]);
    });

    it('should answer BUSY beyond maxPendingAsync asynchronous sets, platform-wide', async () => {
      const two = new Harness(
        only([
          { name: 'a', levels: [1, 2], asyncLevelSet: true },
          { name: 'b', levels: [1, 2], asyncLevelSet: true },
        ]),
        { behaviour: { maxPendingAsync: 1, asyncLatencyMs: 3 } },
      );
      const link = two.connect(1);
      const at = (id: number, flags: number): number =>
        two.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [id, flags, 2]).status;
      expect(at(0, ASYNC)).toBe(0);
      expect(at(1, ASYNC)).toBe(ScmiStatus.BUSY);
      expect(at(1, 0)).toBe(0); // a synchronous set needs no slot
      await two.clock.advance(2);
      expect(link.posted).toHaveLength(0);
      await two.clock.advance(1);
      expect(link.posted).toHaveLength(1);
      expect(at(1, ASYNC)).toBe(0);
      await two.clock.advance(3);
      expect(two.platform.snapshot().voltageDomains).toEqual([
        { level: 2, config: ON },
        { level: 2, config: ON },
      ]);
      two.close();
    });

    it('should answer NOT_SUPPORTED to an asynchronous set of a domain without async, or without a P2A channel', () => {
      expect(set(VDD_SD, 2_000_000, ASYNC)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(get(VDD_SD)).toEqual([3_300_000]);
      const noP2a = new Harness(config());
      noP2a.connect(1, false);
      expect(
        noP2a.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [VDDCORE, ASYNC, 1_000_000]).status,
      ).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(noP2a.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [VDDCORE, 0, 1_000_000]).status).toBe(
        0,
      );
      expect(noP2a.platform.armedTimers).toBe(0);
      noP2a.close();
    });

    it('should accept an asynchronous set on a link of exactly 12 bytes, NOT_SUPPORTED on 11', async () => {
      const fits = new Harness(config());
      const link = fits.connect(1, true, 12);
      expect(
        decodeAnswer(
          defined(fits.send(1, VOLTAGE, VoltageMessageId.LEVEL_SET, [VDDCORE, ASYNC, 800_000], 9)),
        ).status,
      ).toBe(0);
      await fits.clock.advance(1);
      expect(link.messages.map((m) => [m.type, m.token, ...m.words])).toEqual([
        [2, 9, 0, VDDCORE, 800_000],
      ]);
      fits.close();
      const small = new Harness(config());
      small.connect(1, true, 11);
      expect(
        decodeAnswer(
          defined(small.send(1, VOLTAGE, VoltageMessageId.LEVEL_SET, [VDDCORE, ASYNC, 800_000])),
        ).status,
      ).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(small.platform.armedTimers).toBe(0);
      small.close();
    });

    it('should complete an accepted asynchronous set even if the agent disconnects first, without its delayed response', async () => {
      const link = h.link(1);
      expect(set(VDDCORE, 800_000, ASYNC)).toBe(0);
      h.connection(1).disconnect();
      await h.clock.advance(1);
      expect(h.platform.snapshot().voltageDomains[VDDCORE]?.level).toBe(800_000);
      expect(link.posted).toHaveLength(0);
      expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
    });
  });

  describe('VOLTAGE_DOMAIN_NAME_GET', () => {
    it('should return flags 0 and the name in 64 bytes', () => {
      const io = h.call(VOLTAGE, VoltageMessageId.DOMAIN_NAME_GET, [SDMMC_IO]);
      expect(io.bytes.byteLength).toBe(8 + 68);
      expect([io.r.u32(), io.r.string(64)]).toEqual([0, 'vdd-sdmmc-io-bank0-supply']);
      const core = h.call(VOLTAGE, VoltageMessageId.DOMAIN_NAME_GET, [VDDCORE]);
      expect([core.r.u32(), core.r.string(64)]).toEqual([0, 'vddcore']);
    });

    it('should answer NOT_FOUND and PROTOCOL_ERROR', () => {
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_NAME_GET, [3]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_NAME_GET).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  describe('permissions', () => {
    it('should hide the protocol from an agent not given it: NOT_SUPPORTED, or DENIED with hiddenProtocol', () => {
      h.connect(2);
      expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_VERSION, [], 2).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      const denied = new Harness(config(), { behaviour: { hiddenProtocol: 'denied' } });
      denied.connect(2);
      expect(denied.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [0], 2).status).toBe(
        ScmiStatus.DENIED,
      );
      denied.close();
    });

    it('should list 0x17 for agents given the protocol', () => {
      const list = h.call(BASE, BaseMessageId.DISCOVER_LIST_PROTOCOLS, [0], 3);
      expect(list.words).toEqual([1, VOLTAGE]);
      expect((h.call(BASE, CommonMessageId.PROTOCOL_ATTRIBUTES, [], 3).words[0] ?? 0) & 0xff).toBe(
        1,
      );
    });

    it('should deny and allow the voltage domains of a device with BASE_SET_DEVICE_PERMISSIONS', () => {
      h.connect(2); // trusted
      const device = (allow: number): number =>
        h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, SDMMC_DEVICE, allow], 2).status;
      expect(device(0)).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [VDD_SD]).status).toBe(ScmiStatus.DENIED);
      expect(h.call(VOLTAGE, VoltageMessageId.CONFIG_SET, [SDMMC_IO, ON]).status).toBe(
        ScmiStatus.DENIED,
      );
      // Discovery still works, and domains of other devices are untouched.
      expect(h.call(VOLTAGE, VoltageMessageId.DOMAIN_ATTRIBUTES, [VDD_SD]).status).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [VDDCORE]).status).toBe(0);
      expect(device(1)).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [VDD_SD]).status).toBe(0);
    });

    it('should deny the voltage domains of a device with BASE_SET_PROTOCOL_PERMISSIONS, and restore them with RESET_AGENT_CONFIGURATION', () => {
      h.connect(2);
      expect(
        h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, SDMMC_DEVICE, VOLTAGE, 0], 2)
          .status,
      ).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [SDMMC_IO, 0, 1_800_000]).status).toBe(
        ScmiStatus.DENIED,
      );
      // A device without voltage domains: SUCCESS, nothing changes.
      expect(
        h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, 0, VOLTAGE, 0], 2).status,
      ).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [VDDCORE]).status).toBe(0);
      expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 1], 2).status).toBe(0);
      expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_SET, [SDMMC_IO, 0, 1_800_000]).status).toBe(0);
    });
  });
});

describe('voltage domain configuration', () => {
  const fieldOf = (c: unknown): string | undefined => {
    try {
      validatePlatformConfig(c);
      return undefined;
    } catch (e) {
      if (!ScmiConfigError.is(e)) throw e;
      return e.field;
    }
  };
  const withDomain = (
    d: Record<string, unknown>,
    agent: Record<string, unknown> = {},
  ): unknown => ({
    ...only([]),
    agents: [{ id: 1, name: 'a', protocols: ['voltage'], ...agent }],
    voltageDomains: [d],
  });

  it('should fill in the defaults: lowest level, ON, no implementation modes, synchronous', () => {
    const c = validatePlatformConfig(
      withDomain({ name: 'v', levels: { min: 600_000, max: 900_000, step: 50_000 } }),
    );
    expect(c.voltageDomains).toEqual([
      {
        name: 'v',
        levels: { min: 600_000, max: 900_000, step: 50_000 },
        level: 600_000,
        config: 0x7,
        implementationModes: [],
        asyncLevelSet: false,
      },
    ]);
  });

  it.each([
    ['voltageDomains[0].levels', { name: 'v', levels: 5 }],
    ['voltageDomains[0].levels', { name: 'v', levels: [] }],
    ['voltageDomains[0].levels[1]', { name: 'v', levels: [2, 1] }],
    ['voltageDomains[0].levels[1]', { name: 'v', levels: [1, 1] }],
    ['voltageDomains[0].levels[0]', { name: 'v', levels: [0x80000000] }],
    ['voltageDomains[0].levels[0]', { name: 'v', levels: [-0x80000001] }],
    ['voltageDomains[0].levels[0]', { name: 'v', levels: [1.5] }],
    ['voltageDomains[0].levels.step', { name: 'v', levels: { min: 1, max: 2, step: 0 } }],
    ['voltageDomains[0].levels.max', { name: 'v', levels: { min: 2, max: 1, step: 1 } }],
    ['voltageDomains[0].levels.steps', { name: 'v', levels: { min: 1, max: 2, steps: 1 } }],
    ['voltageDomains[0].level', { name: 'v', levels: [1, 3], level: 2 }],
    ['voltageDomains[0].level', { name: 'v', levels: { min: 0, max: 10, step: 4 }, level: 5 }],
    ['voltageDomains[0].config', { name: 'v', levels: [1], config: 1 }],
    ['voltageDomains[0].config', { name: 'v', levels: [1], config: 8 }],
    ['voltageDomains[0].config', { name: 'v', levels: [1], config: 0x17 }],
    [
      'voltageDomains[0].implementationModes[0]',
      { name: 'v', levels: [1], implementationModes: [8] },
    ],
    [
      'voltageDomains[0].implementationModes[1]',
      { name: 'v', levels: [1], implementationModes: [1, 1] },
    ],
    ['voltageDomains[0].asyncLevelSet', { name: 'v', levels: [1], asyncLevelSet: 'yes' }],
    ['voltageDomains[0].name', { name: 'x'.repeat(64), levels: [1] }],
    ['voltageDomains[0].latencyUs', { name: 'v', levels: [1], latencyUs: 1 }],
  ])('should name %s', (field, domain) => {
    expect(fieldOf(withDomain(domain))).toBe(field);
  });

  it('should accept an implementation-defined initial mode the domain has', () => {
    const c = validatePlatformConfig(
      withDomain({ name: 'v', levels: [1], implementationModes: [3], config: 0xb }),
    );
    expect(c.voltageDomains?.[0]?.config).toBe(0xb);
  });

  it('should refuse the voltage protocol for an agent when there is no voltage domain, and domains past the last', () => {
    expect(
      fieldOf({
        ...only([]),
        voltageDomains: undefined,
        agents: [{ id: 1, name: 'a', protocols: ['voltage'] }],
      }),
    ).toBe('agents[0].protocols[0]');
    expect(fieldOf(withDomain({ name: 'v', levels: [1] }, { domains: { voltage: [1] } }))).toBe(
      'agents[0].domains.voltage[0]',
    );
    expect(
      fieldOf({
        ...(withDomain({ name: 'v', levels: [1] }) as object),
        devices: [{ name: 'd', domains: { voltage: [0, 1] } }],
      }),
    ).toBe('devices[0].domains.voltage[1]');
  });

  it('should run a platform from a JSON round trip of the default configuration', () => {
    const c = createDefaultPlatformConfig();
    const h = new Harness(JSON.parse(JSON.stringify(c)) as PlatformConfig);
    h.connect(1);
    expect(h.call(VOLTAGE, CommonMessageId.PROTOCOL_ATTRIBUTES).words).toEqual([3]);
    expect(h.call(VOLTAGE, VoltageMessageId.LEVEL_GET, [VDDCORE]).words).toEqual([900_000]);
    h.close();
  });
});
