import {
  RevokedError,
  ScmiError,
  ScmiMalformedError,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  type ProtocolDriver,
  type ScmiNotification,
} from '@scmi-ts/core';
import {
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type ClockConfig as PlatformClockConfig,
  type FaultRule,
  type PlatformConfig,
} from '@scmi-ts/platform';
import {
  CLOCK_RATE_CHANGED,
  CLOCK_RATE_CHANGE_REQUESTED,
  ClockMessageId,
  clockProtocolDriver,
  decodeClockRateChangeRequested,
  decodeClockRateChanged,
  type ClockInfo,
  type ClockProtocol,
  type ClockRateRounding,
} from '../src/clock/clock-protocol.js';
import { DENIED, NOT_FOUND } from './support/wire-bytes.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';

const CLOCK = 0x14;
const MHZ = 1_000_000;
/** 1 to 20 MHz. */
const TWENTY_RATES = Array.from({ length: 20 }, (_, i) => (i + 1) * MHZ);

/** The default configuration with other clocks (and no devices naming the default ones). */
function withClocks(clocks: readonly PlatformClockConfig[]): PlatformConfig {
  return validatePlatformConfig({ ...createDefaultPlatformConfig(), devices: [], clocks });
}

/** The clock init described with the default configuration on a wire with a P2A channel. */
const DEFAULT_CLOCKS: readonly ClockInfo[] = [
  {
    id: 0,
    name: 'cpu-pll',
    enabled: true,
    rateChangedNotifications: true,
    rateChangeRequestedNotifications: true,
    extendedConfig: false,
    enableLatencyUs: undefined,
    rates: { kind: 'range', min: 200_000_000n, max: 2_000_000_000n, step: 100_000_000n },
    parents: [],
    permissions: { stateControl: true, parentControl: false, rateControl: true },
  },
  {
    id: 1,
    name: 'uart',
    enabled: true,
    rateChangedNotifications: true,
    rateChangeRequestedNotifications: true,
    extendedConfig: false,
    enableLatencyUs: undefined,
    rates: { kind: 'list', rates: [19_200_000n, 24_000_000n, 48_000_000n] },
    parents: [],
    permissions: { stateControl: true, parentControl: false, rateControl: true },
  },
  {
    id: 2,
    name: 'gpu-core',
    enabled: false,
    rateChangedNotifications: true,
    rateChangeRequestedNotifications: true,
    extendedConfig: false,
    enableLatencyUs: 20,
    rates: { kind: 'list', rates: [200_000_000n, 400_000_000n, 600_000_000n] },
    parents: [0, 3],
    permissions: { stateControl: true, parentControl: true, rateControl: true },
  },
  {
    id: 3,
    name: 'periph-pll',
    enabled: true,
    rateChangedNotifications: true,
    rateChangeRequestedNotifications: true,
    extendedConfig: false,
    enableLatencyUs: undefined,
    rates: { kind: 'list', rates: [600_000_000n] },
    parents: [],
    permissions: { stateControl: true, parentControl: false, rateControl: true },
  },
];

/**
 * Records the Clock commands the platform handles from now on, as [message id, payload words]
 * (copied when handled: the request is a view of the shared memory).
 */
function clockRequests(h: Harness): { calls: [number, number[]][]; stop: () => void } {
  const calls: [number, number[]][] = [];
  const handle = h.platform.handle.bind(h.platform);
  const spy = jest.spyOn(h.platform, 'handle').mockImplementation((agentId, channelId, request) => {
    const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
    const header = view.getUint32(0, true);
    if (((header >>> 10) & 0xff) === CLOCK) {
      const words: number[] = [];
      for (let at = 4; at + 4 <= request.byteLength; at += 4) words.push(view.getUint32(at, true));
      calls.push([header & 0xff, words]);
    }
    return handle(agentId, channelId, request);
  });
  return {
    calls,
    stop: () => {
      spy.mockRestore();
    },
  };
}

describe('Clock protocol client', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(
    options: HarnessOptions = {},
    driver: ProtocolDriver<ClockProtocol> = clockProtocolDriver,
  ): Promise<{ h: Harness; clock: ClockProtocol }> {
    h = createHarness({ drivers: [driver], ...options });
    const agent = await h.create();
    return { h, clock: agent.protocol(driver) };
  }

  function fault(messageId: number, action: FaultRule['action'], nth?: number): FaultRule {
    return {
      match: { protocolId: CLOCK, messageId, ...(nth === undefined ? {} : { nth }) },
      action,
    };
  }

  describe('discovery', () => {
    it('describes every clock at init, as the platform configures them', async () => {
      const { clock } = await probe();
      expect(clock.version).toBe(0x30000);
      expect(clock.versionSource).toBe('platform');
      expect(clock.maxPendingAsyncRateChanges).toBe(8);
      expect(clock.domains.count).toBe(4);
      expect(clock.domains.failures.size).toBe(0);
      expect(clock.domains.list).toEqual(DEFAULT_CLOCKS);
      expect(clock.domains.info(2).name).toBe('gpu-core');
    });

    it('reads rates, parents and permissions again on demand', async () => {
      const { clock } = await probe();
      await expect(clock.describeRates(1)).resolves.toEqual(DEFAULT_CLOCKS[1]?.rates);
      await expect(clock.describeRates(0)).resolves.toEqual(DEFAULT_CLOCKS[0]?.rates);
      await expect(clock.possibleParents(2)).resolves.toEqual([0, 3]);
      await expect(clock.getPermissions(0)).resolves.toEqual(DEFAULT_CLOCKS[0]?.permissions);
      // A clock without parents: the platform answers NOT_SUPPORTED.
      await expect(clock.possibleParents(0)).rejects.toMatchObject({ status: -1 });
    });

    it('collects a multi-part rate list and sorts it ascending, as Linux does', async () => {
      // 20 rates: 15 fit a 128-byte message, so the platform sends two parts.
      const { h, clock } = await probe({
        platformConfig: withClocks([{ name: 'mux', rates: TWENTY_RATES }]),
        platformFaults: [
          // The first part's first rate, 1 MHz, rewritten to 25 MHz: out of order.
          fault(
            ClockMessageId.DESCRIBE_RATES,
            { kind: 'corrupt-bytes', offset: 12, bytes: [0x40, 0x78, 0x7d, 0x01] },
            1,
          ),
        ],
      });
      expect(clock.domains.info(0).rates).toEqual({
        kind: 'list',
        rates: [...TWENTY_RATES.slice(1), 25 * MHZ].map(BigInt),
      });
      const requests = clockRequests(h);
      await expect(clock.describeRates(0)).resolves.toEqual({
        kind: 'list',
        rates: TWENTY_RATES.map(BigInt),
      });
      // Two parts: from index 0, then from index 15.
      expect(requests.calls).toEqual([
        [ClockMessageId.DESCRIBE_RATES, [0, 0]],
        [ClockMessageId.DESCRIBE_RATES, [0, 15]],
      ]);
      requests.stop();
    });

    it('refuses a rate reply that switches from a list to a range between parts', async () => {
      const { clock } = await probe({
        platformConfig: withClocks([{ name: 'mux', rates: TWENTY_RATES }]),
        platformFaults: [
          // The second part says "5 returned, range".
          fault(
            ClockMessageId.DESCRIBE_RATES,
            { kind: 'corrupt-bytes', offset: 8, bytes: [5, 0x10, 0, 0] },
            2,
          ),
        ],
      });
      const info = clock.domains.info(0);
      expect(info.rates).toBeUndefined();
      expect(info.ratesError).toBeInstanceOf(ScmiMalformedError);
      expect(info.ratesError).toMatchObject({ code: 'E_MULTIPART' });
    });

    it("flags a clock the platform names '', which Linux's clk-scmi would not register, and keeps it usable", async () => {
      // CLOCK_ATTRIBUTES of clock 0: its short name (after header, status, attributes) emptied.
      const { clock } = await probe({
        platformFaults: [
          fault(ClockMessageId.ATTRIBUTES, { kind: 'corrupt-bytes', offset: 12, bytes: [0] }, 1),
        ],
      });
      const info = clock.domains.info(0);
      expect(info.name).toBe('');
      expect(info.nameError).toBeInstanceOf(ScmiError);
      expect(info.nameError).toMatchObject({
        code: 'E_CLOCK_NAME',
        message:
          "clock 0 has an empty name: Linux's scmi_clock_info_get gives no clock for it (clk-scmi does not register it)",
      });
      expect(clock.domains.info(1).nameError).toBeUndefined();
      expect(await clock.getRate(0)).toBeGreaterThan(0n);
    });

    it('accepts an out-of-spec range triplet, as the quirk Linux applies to every platform (older SCP-firmware says 1 returned)', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          // cpu-pll's range: "1 returned" instead of 3, nothing remaining, the whole triplet there.
          fault(
            ClockMessageId.DESCRIBE_RATES,
            { kind: 'corrupt-bytes', offset: 8, bytes: [1, 0x10, 0, 0] },
            1,
          ),
        ],
      });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      expect(clock.domains.info(0).rates).toEqual({
        kind: 'range',
        min: 200n * BigInt(MHZ),
        max: 2000n * BigInt(MHZ),
        step: 100n * BigInt(MHZ),
      });
      expect(agent.diagnostics.malformedReplies).toEqual({});
      await agent.remove();
    });

    it('refuses an out-of-spec range triplet the quirk does not cover (rates missing from the reply)', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          // "2 returned", nothing remaining, and the reply cut to the counts and two rates.
          fault(
            ClockMessageId.DESCRIBE_RATES,
            { kind: 'corrupt-bytes', offset: 8, bytes: [2, 0x10, 0, 0] },
            1,
          ),
          fault(ClockMessageId.DESCRIBE_RATES, { kind: 'truncate', length: 12 + 16 }, 1),
        ],
      });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      // The clock is kept, as Linux ignores scmi_clock_describe_rates_get's failure.
      expect(clock.domains.list.map((c) => c.id)).toEqual([0, 1, 2, 3]);
      const cpu = clock.domains.info(0);
      expect(cpu.rates).toBeUndefined();
      expect(cpu.ratesError).toMatchObject({ code: 'E_MULTIPART' });
      expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
      await agent.remove();
    });

    it('refuses a range whose max is below its min', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          // min's high word 1: min = 2^32 + 200 MHz, above max (2 GHz).
          fault(
            ClockMessageId.DESCRIBE_RATES,
            { kind: 'corrupt-bytes', offset: 16, bytes: [1, 0, 0, 0] },
            1,
          ),
        ],
      });
      const agent = await h.create();
      const cpu = agent.protocol(clockProtocolDriver).domains.info(0);
      expect(cpu.rates).toBeUndefined();
      expect(cpu.ratesError).toMatchObject({ code: 'E_CLOCK_RATES' });
      expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
      await agent.remove();
    });

    it('reads an extended name with CLOCK_NAME_GET, and keeps the short one when that fails', async () => {
      const { clock } = await probe({
        platformConfig: withClocks([
          { name: 'gpu-core-shader-array-clock', rates: [MHZ] },
          { name: 'display-controller-pixel', rates: [MHZ] },
        ]),
        platformFaults: [
          fault(ClockMessageId.NAME_GET, { kind: 'corrupt-bytes', offset: 4, bytes: DENIED }, 2),
        ],
      });
      const [gpu, display] = clock.domains.list;
      expect(gpu?.name).toBe('gpu-core-shader-array-clock');
      expect(gpu).not.toHaveProperty('nameError');
      expect(display?.name).toBe('display-control');
      expect(display?.nameError).toBeInstanceOf(ScmiStatusError);
      // The driver names its messages: the error says which command failed.
      expect(display?.nameError).toMatchObject({
        messageName: 'NAME_GET',
        message: 'clock message 0x8 NAME_GET failed: DENIED (-3)',
      });
    });

    it('records what Linux ignores: a failed CLOCK_POSSIBLE_PARENTS_GET or CLOCK_GET_PERMISSIONS', async () => {
      const { clock } = await probe({
        platformFaults: [
          fault(
            ClockMessageId.POSSIBLE_PARENTS_GET,
            { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
            1,
          ),
          fault(
            ClockMessageId.GET_PERMISSIONS,
            { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
            3,
          ),
        ],
      });
      const gpu = clock.domains.info(2);
      expect(gpu.parents).toEqual([]);
      expect(gpu.parentsError).toBeInstanceOf(ScmiStatusError);
      expect(gpu.permissions).toBeUndefined();
      expect(gpu.permissionsError).toBeInstanceOf(ScmiStatusError);
      expect(gpu.rates).toEqual(DEFAULT_CLOCKS[2]?.rates);
    });

    it('refuses a possible parent that is not a clock', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          fault(
            ClockMessageId.POSSIBLE_PARENTS_GET,
            { kind: 'corrupt-bytes', offset: 16, bytes: [9, 0, 0, 0] },
            1,
          ),
        ],
      });
      const agent = await h.create();
      const gpu = agent.protocol(clockProtocolDriver).domains.info(2);
      expect(gpu.parents).toEqual([]);
      expect(gpu.parentsError).toMatchObject({ code: 'E_CLOCK_ID' });
      expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
      await agent.remove();
    });

    it('records a clock the platform fails to describe, and goes on with the others', async () => {
      const { h, clock } = await probe({
        platformFaults: [
          fault(ClockMessageId.ATTRIBUTES, { kind: 'corrupt-bytes', offset: 4, bytes: DENIED }, 2),
        ],
      });
      expect(clock.domains.list.map((c) => c.id)).toEqual([0, 2, 3]);
      expect(clock.domains.failures.get(1)).toBeInstanceOf(ScmiStatusError);
      const requests = h.platform.counters.requests;
      await expect(clock.getRate(1)).rejects.toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
      await expect(clock.setRate(1, 24 * MHZ)).rejects.toMatchObject({
        code: 'E_DOMAIN_UNAVAILABLE',
      });
      expect(h.platform.counters.requests).toBe(requests);
    });

    it('counts a short CLOCK_ATTRIBUTES reply as malformed and records the clock failed', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          // header, status, attributes, 4 of the 16 name bytes
          fault(ClockMessageId.ATTRIBUTES, { kind: 'truncate', length: 8 + 4 + 4 }, 1),
        ],
      });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      expect(clock.domains.failures.get(0)).toMatchObject({ code: 'E_TRUNCATED' });
      expect(clock.domains.failures.get(0)).toBeInstanceOf(ScmiMalformedError);
      expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
      expect(clock.domains.list.map((c) => c.id)).toEqual([1, 2, 3]);
      await agent.remove();
    });

    it('fails to initialize when PROTOCOL_ATTRIBUTES fails: the agent goes on without it', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [fault(0x1, { kind: 'corrupt-bytes', offset: 4, bytes: DENIED })],
      });
      const agent = await h.create();
      expect(agent.protocolErrors.get(CLOCK)).toBeInstanceOf(ScmiStatusError);
      expect(() => agent.protocol(clockProtocolDriver)).toThrow(
        expect.objectContaining({ code: 'E_NO_PROTOCOL' }) as Error,
      );
      await agent.remove();
    });
  });

  describe('rates', () => {
    it('reads a rate as a 64-bit bigint', async () => {
      const { clock } = await probe();
      await expect(clock.getRate(0)).resolves.toBe(1_200_000_000n);
      await expect(clock.getRate(1)).resolves.toBe(24_000_000n);
    });

    it('sets a rate asynchronously when the platform allows it, waiting for the delayed response', async () => {
      const { h, clock } = await probe();
      const requests = clockRequests(h);
      await expect(clock.setRate(1, 48 * MHZ)).resolves.toEqual({
        async: true,
        rate: 48_000_000n,
      });
      expect(h.platform.counters.delayedResponsesPosted).toBe(1);
      expect(h.platform.snapshot().clocks[1]?.rate).toBe(48 * MHZ);
      // flags: asynchronous (bit 0), rounding down; clock 1; the rate's low and high words.
      expect(requests.calls).toEqual([[ClockMessageId.RATE_SET, [1, 1, 48 * MHZ, 0]]]);
      requests.stop();
      await expect(clock.getRate(1)).resolves.toBe(48_000_000n);
    });

    it('sets a rate above 2^32 Hz and reads it back', async () => {
      const { h, clock } = await probe({
        platformConfig: withClocks([
          { name: 'ddr', rates: { min: 4 * 1000 * MHZ, max: 8 * 1000 * MHZ, step: 1000 * MHZ } },
        ]),
      });
      await expect(clock.setRate(0, 6_000_000_000n, { async: false })).resolves.toEqual({
        async: false,
        rate: undefined,
      });
      expect(h.platform.snapshot().clocks[0]?.rate).toBe(6e9);
      await expect(clock.getRate(0)).resolves.toBe(6_000_000_000n);
    });

    it('rounds down by default, up or to the nearest when asked', async () => {
      const { h, clock } = await probe();
      const cases: [ClockRateRounding | undefined, number, number][] = [
        [undefined, 1_290 * MHZ, 1_200 * MHZ],
        ['down', 1_290 * MHZ, 1_200 * MHZ],
        ['up', 1_210 * MHZ, 1_300 * MHZ],
        ['auto', 1_240 * MHZ, 1_200 * MHZ],
        ['auto', 1_260 * MHZ, 1_300 * MHZ],
      ];
      for (const [round, asked, set] of cases) {
        const result = await clock.setRate(
          0,
          asked,
          round === undefined ? { async: false } : { round, async: false },
        );
        expect(result).toEqual({ async: false, rate: undefined });
        expect(h.platform.snapshot().clocks[0]?.rate).toBe(set);
      }
      // The delayed response reports the rounded rate.
      await expect(clock.setRate(1, 20 * MHZ, { round: 'up' })).resolves.toEqual({
        async: true,
        rate: 24_000_000n,
      });
      expect(h.platform.counters.delayedResponsesPosted).toBe(1);
    });

    it('is answered INVALID_PARAMETERS for a rate outside the clock', async () => {
      const { clock } = await probe();
      await expect(clock.setRate(1, 100 * MHZ, { async: false })).rejects.toMatchObject({
        status: -2,
      });
    });

    it('sets asynchronously without a delayed response when asked (flags bit 1)', async () => {
      const { h, clock } = await probe();
      await expect(
        clock.setRate(1, 48 * MHZ, { async: true, delayedResponse: false }),
      ).resolves.toEqual({ async: true, rate: undefined });
      await h.clock.runUntilIdle();
      expect(h.platform.counters.delayedResponsesPosted).toBe(0);
      expect(h.platform.snapshot().clocks[1]?.rate).toBe(48 * MHZ);
    });

    it('counts every set in flight against the pending asynchronous changes, as Linux does', async () => {
      const { h, clock } = await probe({
        platformFaults: [
          // PROTOCOL_ATTRIBUTES: 4 clocks, 2 pending asynchronous rate changes.
          fault(0x1, { kind: 'corrupt-bytes', offset: 8, bytes: [4, 0, 2, 0] }),
        ],
      });
      expect(clock.maxPendingAsyncRateChanges).toBe(2);
      // The first set makes 1 in flight (< 2): asynchronous; the second makes 2: synchronous.
      const results = await Promise.all([
        clock.setRate(0, 1_300 * MHZ),
        clock.setRate(1, 48 * MHZ),
      ]);
      expect(results.map((r) => r.async)).toEqual([true, false]);
      expect(h.platform.counters.delayedResponsesPosted).toBe(1);
      // Both done: the next one is asynchronous again.
      await expect(clock.setRate(1, 24 * MHZ)).resolves.toMatchObject({ async: true });
    });

    it('never sets asynchronously by default where the platform announces 1 pending change (OP-TEE scmi-msg ignores the flag)', async () => {
      const { h, clock } = await probe({
        platformFaults: [
          fault(0x1, { kind: 'corrupt-bytes', offset: 8, bytes: [4, 0, 1, 0] }),
          // Such firmware never sends a delayed response: one asked for would time out.
          {
            match: { stage: 'delayed-response', protocolId: CLOCK },
            action: { kind: 'drop' },
          },
        ],
      });
      expect(clock.maxPendingAsyncRateChanges).toBe(1);
      await expect(clock.setRate(1, 48 * MHZ)).resolves.toEqual({ async: false, rate: undefined });
      expect(h.platform.counters.delayedResponsesPosted).toBe(0);
    });

    it('sets synchronously when asked, and on a wire without a P2A channel', async () => {
      const { h, clock } = await probe({ wire: { a2p: [0], p2a: [] } });
      expect(clock.maxPendingAsyncRateChanges).toBe(0);
      await expect(clock.setRate(1, 48 * MHZ)).resolves.toEqual({ async: false, rate: undefined });
      expect(h.platform.snapshot().clocks[1]?.rate).toBe(48 * MHZ);
      const requests = h.platform.counters.requests;
      await expect(clock.setRate(1, 24 * MHZ, { async: true })).rejects.toBeInstanceOf(
        ScmiTransportError,
      );
      expect(h.platform.counters.requests).toBe(requests);
      // Without a delayed response it is sent: the platform refuses it (NOT_SUPPORTED).
      await expect(
        clock.setRate(1, 24 * MHZ, { async: true, delayedResponse: false }),
      ).rejects.toMatchObject({ status: -1 });
    });

    it('fails an asynchronous set whose delayed response never comes with a timeout', async () => {
      const { clock } = await probe({
        platformFaults: [
          {
            match: { stage: 'delayed-response', protocolId: CLOCK, nth: 1 },
            action: { kind: 'drop' },
          },
        ],
      });
      await expect(clock.setRate(1, 48 * MHZ)).rejects.toBeInstanceOf(ScmiTimeoutError);
      // Its slot is free again.
      await expect(clock.setRate(1, 24 * MHZ)).resolves.toEqual({
        async: true,
        rate: 24_000_000n,
      });
    });

    it('refuses a delayed response that names another clock, or is short, counting it', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          {
            match: { stage: 'delayed-response', protocolId: CLOCK, nth: 1 },
            action: { kind: 'corrupt-bytes', offset: 8, bytes: [3, 0, 0, 0] },
          },
          {
            match: { stage: 'delayed-response', protocolId: CLOCK, nth: 2 },
            action: { kind: 'truncate', length: 8 + 4 + 4 },
          },
        ],
      });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      await expect(clock.setRate(1, 48 * MHZ)).rejects.toMatchObject({ code: 'E_CLOCK_ID' });
      await expect(clock.setRate(1, 24 * MHZ)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
      expect(agent.diagnostics.malformedReplies).toEqual({ clock: 2 });
      await agent.remove();
    });

    it('throws the platform status and counts a short CLOCK_RATE_GET reply', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          fault(ClockMessageId.RATE_GET, { kind: 'corrupt-bytes', offset: 4, bytes: DENIED }, 1),
          fault(ClockMessageId.RATE_GET, { kind: 'truncate', length: 8 + 4 }, 2),
        ],
      });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      await expect(clock.getRate(0)).rejects.toMatchObject({ status: -3 });
      await expect(clock.getRate(0)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
      expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
      await agent.remove();
    });
  });

  describe('configuration', () => {
    it('enables and disables with the version 3.0 layout, and reads the state back', async () => {
      const { h, clock } = await probe();
      const requests = clockRequests(h);
      await clock.disable(1);
      expect(h.platform.snapshot().clocks[1]?.enabled).toBe(false);
      await expect(clock.isEnabled(1)).resolves.toBe(false);
      await clock.enable(2);
      expect(h.platform.snapshot().clocks[2]?.enabled).toBe(true);
      await expect(clock.isEnabled(2)).resolves.toBe(true);
      expect(requests.calls).toEqual([
        // clock_id, attributes (1:0 state), oem_config_val
        [ClockMessageId.CONFIG_SET, [1, 0, 0]],
        [ClockMessageId.CONFIG_GET, [1, 0]],
        [ClockMessageId.CONFIG_SET, [2, 1, 0]],
        [ClockMessageId.CONFIG_GET, [2, 0]],
      ]);
      requests.stop();
      await expect(clock.getConfig(2)).resolves.toEqual({
        attributes: 0,
        enabled: true,
        oemValue: 0,
      });
    });

    it('sends a version 3.0 configuration, and the platform refuses OEM types', async () => {
      const { h, clock } = await probe();
      await clock.setConfig(0, { enabled: false });
      expect(h.platform.snapshot().clocks[0]?.enabled).toBe(false);
      await expect(clock.setConfig(0, { oemType: 1, oemValue: 5 })).rejects.toMatchObject({
        status: -2,
      });
      await expect(clock.getConfig(0, 7)).rejects.toMatchObject({ status: -2 });
    });

    it('is answered DENIED where the platform forbids state control', async () => {
      const { clock } = await probe({
        platformConfig: withClocks([{ name: 'fixed', rates: [MHZ], canSetState: false }]),
      });
      expect(clock.domains.info(0).permissions).toEqual({
        stateControl: false,
        parentControl: false,
        rateControl: true,
      });
      await expect(clock.disable(0)).rejects.toMatchObject({ status: -3 });
    });

    it('uses the version 1.0/2.0 layout below version 3.0', async () => {
      const v2: ProtocolDriver<ClockProtocol> = { ...clockProtocolDriver, version: 0x20000 };
      const { h, clock } = await probe({}, v2);
      expect(clock.version).toBe(0x20000);
      const gpu = clock.domains.info(2);
      // Notifications, extended names and the enable latency from 2.0; parents and permissions
      // are read only from 3.0.
      expect(gpu).toMatchObject({
        rateChangedNotifications: true,
        enableLatencyUs: 20,
        parents: [],
        permissions: undefined,
      });
      const requests = clockRequests(h);
      await clock.enable(2);
      expect(h.platform.snapshot().clocks[2]?.enabled).toBe(true);
      await expect(clock.isEnabled(2)).resolves.toBe(true);
      await clock.disable(2);
      expect(h.platform.snapshot().clocks[2]?.enabled).toBe(false);
      expect(requests.calls).toEqual([
        // clock_id, attributes (bit 0 enable)
        [ClockMessageId.CONFIG_SET, [2, 1]],
        [ClockMessageId.ATTRIBUTES, [2]],
        [ClockMessageId.CONFIG_SET, [2, 0]],
      ]);
      // Not in this layout: refused, nothing sent.
      await expect(clock.getConfig(2)).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
      await expect(clock.setConfig(2, { enabled: true })).rejects.toMatchObject({
        code: 'E_NOT_SUPPORTED',
      });
      // No possible parent was described: refused as Linux refuses an index past them.
      await expect(clock.setParent(2, 0)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(requests.calls).toHaveLength(3);
      requests.stop();
    });

    it('reads an extended name from version 2.0, as Linux clock.c does (not from 3.0)', async () => {
      const v2: ProtocolDriver<ClockProtocol> = { ...clockProtocolDriver, version: 0x20000 };
      const { clock } = await probe(
        { platformConfig: withClocks([{ name: 'gpu-core-shader-array-clock', rates: [MHZ] }]) },
        v2,
      );
      expect(clock.version).toBe(0x20000);
      expect(clock.versionSource).toBe('best-effort');
      expect(clock.domains.info(0).name).toBe('gpu-core-shader-array-clock');
    });

    it('reads neither notifications, extended names nor latency at version 1.0', async () => {
      const v1: ProtocolDriver<ClockProtocol> = { ...clockProtocolDriver, version: 0x10000 };
      const { clock } = await probe(
        {
          platformConfig: withClocks([
            { name: 'gpu-core-shader-array-clock', rates: [MHZ], enableLatencyUs: 5 },
          ]),
        },
        v1,
      );
      expect(clock.version).toBe(0x10000);
      expect(clock.domains.info(0)).toMatchObject({
        name: 'gpu-core-shader',
        rateChangedNotifications: false,
        rateChangeRequestedNotifications: false,
        enableLatencyUs: undefined,
      });
    });
  });

  describe('parents', () => {
    it('reads and sets a parent among the possible ones', async () => {
      const { h, clock } = await probe();
      await expect(clock.getParent(2)).resolves.toBe(0);
      await clock.setParent(2, 3);
      expect(h.platform.snapshot().clocks[2]?.parent).toBe(3);
      await expect(clock.getParent(2)).resolves.toBe(3);
      await expect(clock.getParent(0)).rejects.toMatchObject({ status: -1 });
    });

    it('refuses a parent that is not a possible one, sending nothing', async () => {
      const { h, clock } = await probe();
      const requests = h.platform.counters.requests;
      await expect(clock.setParent(2, 1)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(clock.setParent(0, 3)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(h.platform.counters.requests).toBe(requests);
    });
  });

  describe('caller errors', () => {
    it('refuses a bad clock id or value before anything is sent', async () => {
      const { h, clock } = await probe();
      const requests = h.platform.counters.requests;
      const calls: ((id: number) => Promise<unknown>)[] = [
        (id) => clock.getRate(id),
        (id) => clock.setRate(id, MHZ),
        (id) => clock.enable(id),
        (id) => clock.disable(id),
        (id) => clock.setConfig(id, { enabled: true }),
        (id) => clock.getConfig(id),
        (id) => clock.isEnabled(id),
        (id) => clock.describeRates(id),
        (id) => clock.possibleParents(id),
        (id) => clock.setParent(id, 0),
        (id) => clock.getParent(id),
        (id) => clock.getPermissions(id),
        (id) => clock.notifyRateChanged(id, true),
        (id) => clock.notifyRateChangeRequested(id, true),
      ];
      for (const id of [4, -1, 0.5, Number.NaN]) {
        for (const call of calls) {
          await expect(call(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
        }
        expect(() => clock.domains.info(id)).toThrow(ScmiError);
      }
      for (const rate of [-1, 2n ** 64n, -1n, 1.5, Number.NaN, 2 ** 60]) {
        await expect(clock.setRate(1, rate)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      }
      await expect(
        clock.setRate(1, MHZ, { round: 'sideways' as ClockRateRounding }),
      ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      for (const oemType of [-1, 256, 1.5]) {
        await expect(clock.setConfig(1, { oemType })).rejects.toMatchObject({
          code: 'E_ARGUMENT',
        });
        await expect(clock.getConfig(1, oemType)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      }
      await expect(clock.setConfig(1, { oemType: 1, oemValue: 2 ** 32 })).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
      // Neither a state nor an OEM type: nothing to configure (Linux: -EINVAL).
      await expect(clock.setConfig(1, {})).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(h.platform.counters.requests).toBe(requests);
    });

    it('refuses every command once the agent is removed', async () => {
      h = createHarness({ drivers: [clockProtocolDriver] });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      await agent.remove();
      await expect(clock.getRate(1)).rejects.toBeInstanceOf(RevokedError);
      await expect(clock.setRate(1, 48 * MHZ)).rejects.toBeInstanceOf(RevokedError);
      await expect(clock.enable(1)).rejects.toBeInstanceOf(RevokedError);
    });
  });

  describe('notifications', () => {
    it('delivers CLOCK_RATE_CHANGED to a subscriber, enabling only the clock subscribed to', async () => {
      h = createHarness({ drivers: [clockProtocolDriver] });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      const got: ScmiNotification[] = [];
      const off = await agent.events.subscribe(
        { protocolId: CLOCK, eventId: CLOCK_RATE_CHANGED, source: 1 },
        (n) => {
          got.push(n);
        },
      );
      expect(h.platform.subscriptions(1)).toEqual([
        { protocolId: CLOCK, notificationId: CLOCK_RATE_CHANGED, domainId: 1 },
      ]);
      await clock.setRate(1, 48 * MHZ);
      await clock.setRate(0, 1_300 * MHZ); // not subscribed: not sent
      await h.clock.runUntilIdle();
      expect(got.map((n) => decodeClockRateChanged(n.payload))).toEqual([
        { agentId: 1, clockId: 1, rate: 48_000_000n },
      ]);
      await off();
      expect(h.platform.subscriptions(1)).toEqual([]);
      await agent.remove();
    });

    it('enables CLOCK_RATE_CHANGE_REQUESTED on every clock for an every-source subscriber', async () => {
      h = createHarness({ drivers: [clockProtocolDriver] });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      const got: ScmiNotification[] = [];
      const off = await agent.events.subscribe(
        { protocolId: CLOCK, eventId: CLOCK_RATE_CHANGE_REQUESTED },
        (n) => {
          got.push(n);
        },
      );
      expect(h.platform.subscriptions(1)).toEqual(
        [0, 1, 2, 3].map((domainId) => ({
          protocolId: CLOCK,
          notificationId: CLOCK_RATE_CHANGE_REQUESTED,
          domainId,
        })),
      );
      await clock.setRate(2, 410 * MHZ, { async: false }); // rounded down to 400 MHz
      await h.clock.runUntilIdle();
      expect(got.map((n) => decodeClockRateChangeRequested(n.payload))).toEqual([
        { agentId: 1, clockId: 2, rate: 400_000_000n },
      ]);
      await off();
      expect(h.platform.subscriptions(1)).toEqual([]);
      await agent.remove();
    });

    it('refuses to subscribe to a clock that does not announce the notification, sending nothing', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          // gpu-core's attributes: bits 31 and 30 cleared (bit 28, parents, kept).
          fault(ClockMessageId.ATTRIBUTES, { kind: 'corrupt-bytes', offset: 11, bytes: [0x10] }, 3),
        ],
      });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      expect(clock.domains.info(2)).toMatchObject({
        rateChangedNotifications: false,
        rateChangeRequestedNotifications: false,
        parents: [0, 3],
      });
      const requests = h.platform.counters.requests;
      await expect(
        agent.events.subscribe(
          { protocolId: CLOCK, eventId: CLOCK_RATE_CHANGED, source: 2 },
          () => {
            /* never */
          },
        ),
      ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
      expect(h.platform.counters.requests).toBe(requests);
      const off = await agent.events.subscribe(
        { protocolId: CLOCK, eventId: CLOCK_RATE_CHANGED },
        () => {
          /* counted by the platform's subscriptions */
        },
      );
      expect(h.platform.subscriptions(1).map((s) => s.domainId)).toEqual([0, 1, 3]);
      await off();
      await agent.remove();
    });

    it('takes no notification bit when its notify command is not implemented, as Linux', async () => {
      const { clock } = await probe({
        platformFaults: [
          // The first PROTOCOL_MESSAGE_ATTRIBUTES init sends: CLOCK_RATE_NOTIFY's.
          fault(0x2, { kind: 'corrupt-bytes', offset: 4, bytes: NOT_FOUND }, 1),
        ],
      });
      expect(clock.domains.list).toHaveLength(4);
      for (const c of clock.domains.list) {
        expect(c.rateChangedNotifications).toBe(false);
        expect(c.rateChangeRequestedNotifications).toBe(true);
      }
    });

    it('announces no notification on a wire without a P2A channel', async () => {
      const { clock } = await probe({ wire: { a2p: [0], p2a: [] } });
      expect(clock.domains.list).toHaveLength(4);
      for (const c of clock.domains.list) {
        expect(c.rateChangedNotifications).toBe(false);
        expect(c.rateChangeRequestedNotifications).toBe(false);
      }
    });

    it('decodes both rate notifications and refuses a short payload', () => {
      const payload = new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0, 0, 0x5e, 0xd0, 0xb2, 1, 0, 0, 0]);
      const expected = { agentId: 2, clockId: 1, rate: 0x1_b2d0_5e00n };
      expect(decodeClockRateChanged(payload)).toEqual(expected);
      expect(decodeClockRateChangeRequested(payload)).toEqual(expected);
      expect(() => decodeClockRateChanged(payload.subarray(0, 12))).toThrow(ScmiMalformedError);
      expect(() => decodeClockRateChangeRequested(payload.subarray(0, 12))).toThrow(
        ScmiMalformedError,
      );
    });
  });
});
