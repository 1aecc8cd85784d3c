import {
  RevokedError,
  ScmiError,
  ScmiMalformedError,
  ScmiStatusError,
  type ProtocolDriver,
  type ScmiNotification,
} from '@scmi-ts/core';
import {
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type FaultRule,
  type PerformanceDomainConfig,
  type PlatformConfig,
} from '@scmi-ts/platform';
import {
  PERFORMANCE_LEVEL_CHANGED,
  PERFORMANCE_LIMITS_CHANGED,
  PerformanceMessageId,
  decodePerformanceLevelChanged,
  decodePerformanceLimitsChanged,
  performanceProtocolDriver,
  type PerformanceProtocol,
} from '../src/performance/performance-protocol.js';
import { DENIED, le32 } from './support/wire-bytes.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';
import { stubbedDriver } from './support/stub-handle.js';

const PERF = 0x13;

const CPU_LEVELS = [
  { value: 400_000, powerCost: 100, latencyUs: 50 },
  { value: 800_000, powerCost: 250, latencyUs: 50 },
  { value: 1_200_000, powerCost: 500, latencyUs: 100 },
  { value: 1_800_000, powerCost: 1000, latencyUs: 150 },
];
const GPU_LEVELS = [
  { value: 200, powerCost: 300, latencyUs: 200 },
  { value: 400, powerCost: 700, latencyUs: 200 },
  { value: 600, powerCost: 1200, latencyUs: 300 },
];

/** The default configuration with other performance domains. */
function withDomains(
  performanceDomains: readonly PerformanceDomainConfig[],
  extra: { performancePowerInMilliwatts?: boolean } = {},
): PlatformConfig {
  return validatePlatformConfig({
    ...createDefaultPlatformConfig(),
    devices: [],
    agents: [{ id: 1, name: 'OSPM', protocols: ['performance'] }],
    performanceDomains,
    ...extra,
  });
}

describe('Performance protocol client', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(
    options: HarnessOptions = {},
  ): Promise<{ h: Harness; perf: PerformanceProtocol }> {
    h = createHarness({ drivers: [performanceProtocolDriver], ...options });
    const agent = await h.create();
    return { h, perf: agent.protocol(performanceProtocolDriver) };
  }

  function faults(...rules: FaultRule[]): HarnessOptions {
    return { platformFaults: rules };
  }

  it('describes the protocol, every domain and its levels at init, as the platform configures them', async () => {
    const { perf } = await probe();
    expect(perf.version).toBe(0x30000);
    expect(perf.versionSource).toBe('platform');
    expect(perf.attributes).toEqual({
      numDomains: 2,
      powerScale: 'milliwatts',
      statsAddress: 0n,
      statsLength: 0,
    });
    expect(perf.domains.count).toBe(2);
    expect(perf.domains.failures.size).toBe(0);
    const flags = {
      canSetLimits: true,
      canSetLevel: true,
      limitsNotify: true,
      levelNotify: true,
      fastChannels: false,
      levelIndexing: false,
    };
    expect(perf.domains.list).toEqual([
      {
        id: 0,
        name: 'cpu-cluster0',
        ...flags,
        rateLimitUs: 1000,
        sustainedFreqKhz: 1_200_000,
        sustainedLevel: 1_200_000,
        multFactor: 1000,
        levels: CPU_LEVELS,
      },
      {
        id: 1,
        name: 'gpu',
        ...flags,
        rateLimitUs: 0,
        // No sustained frequency: Linux's default mult_factor of 1000.
        sustainedFreqKhz: 0,
        sustainedLevel: 600,
        multFactor: 1000,
        levels: GPU_LEVELS,
      },
    ]);
  });

  it('reads the power scale and the statistics region as PROTOCOL_ATTRIBUTES gives them', async () => {
    const abstract = await probe({
      platformConfig: withDomains([{ name: 'a', levels: GPU_LEVELS }], {
        performancePowerInMilliwatts: false,
      }),
    });
    expect(abstract.perf.attributes.powerScale).toBe('abstract');
    await abstract.h.close();
    // Flags (bytes 10–11) with bits 0 and 1: microwatts wins (version 3.0); stats as given.
    const { perf } = await probe(
      faults({
        match: { protocolId: PERF, messageId: 0x1 },
        action: {
          kind: 'corrupt-bytes',
          offset: 10,
          bytes: [3, 0, ...le32(0x8000_1000), ...le32(0x2), ...le32(256)],
        },
      }),
    );
    expect(perf.attributes).toEqual({
      numDomains: 2,
      powerScale: 'microwatts',
      statsAddress: 0x2_8000_1000n,
      statsLength: 256,
    });
  });

  it('drives a version 2.0 platform with its rules: short names, no microwatts, both limits 0 sent', async () => {
    const { h, perf } = await probe({
      platformConfig: withDomains([{ name: 'big-cluster-cortex-a78', levels: GPU_LEVELS }]),
      platformFaults: [
        {
          match: { protocolId: PERF, messageId: 0x0 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: le32(0x20000) },
        },
        {
          match: { protocolId: PERF, messageId: 0x1 },
          action: { kind: 'corrupt-bytes', offset: 10, bytes: [3, 0] },
        },
      ],
    });
    expect(perf.version).toBe(0x20000);
    // Bit 1 (microwatts) is read from version 3.0 on only, as Linux reads it.
    expect(perf.attributes.powerScale).toBe('milliwatts');
    // No PERF_DOMAIN_NAME_GET before version 3.0: the short name.
    expect(perf.domains.info(0).name).toBe('big-cluster-cor');
    // Before 3.0 a 0 limit is a level like any other: sent, and the platform answers.
    const requests = h.platform.counters.requests;
    await expect(perf.setLimits(0, 0, 0)).rejects.toBeInstanceOf(ScmiStatusError);
    expect(h.platform.counters.requests).toBe(requests + 1);
  });

  it('sets and reads the level of a domain', async () => {
    const { h, perf } = await probe();
    await perf.setLevel(0, 800_000);
    expect(h.platform.snapshot().performanceDomains[0]?.level).toBe(800_000);
    expect(await perf.getLevel(0)).toBe(800_000);
    expect(await perf.getLevel(1)).toBe(200);
  });

  it('sets and reads the limits, 0 leaving a limit as it is', async () => {
    const { h, perf } = await probe();
    expect(await perf.getLimits(0)).toEqual({ max: 1_800_000, min: 400_000 });
    await perf.setLimits(0, 800_000, 400_000);
    // The level (1.2 GHz) is pulled inside the new limits by the platform.
    expect(h.platform.snapshot().performanceDomains[0]).toEqual({
      level: 800_000,
      min: 400_000,
      max: 800_000,
    });
    await perf.setLimits(0, 0, 800_000); // max unchanged
    expect(await perf.getLimits(0)).toEqual({ max: 800_000, min: 800_000 });
  });

  it('passes the platform refusals on as status errors', async () => {
    const { perf } = await probe({
      platformConfig: withDomains([
        { name: 'locked', levels: GPU_LEVELS, canSetLevel: false, canSetLimits: false },
        { name: 'open', levels: GPU_LEVELS },
      ]),
    });
    expect(perf.domains.info(0)).toMatchObject({ canSetLevel: false, canSetLimits: false });
    // Sent all the same, as Linux sends them: the platform answers DENIED.
    await expect(perf.setLevel(0, 400)).rejects.toMatchObject({ status: -3 });
    await expect(perf.setLimits(0, 600, 200)).rejects.toMatchObject({ status: -3 });
    // A level that is not one of the domain's: OUT_OF_RANGE; min above max: INVALID_PARAMETERS.
    await expect(perf.setLevel(1, 500)).rejects.toMatchObject({ status: -5 });
    await expect(perf.setLimits(1, 200, 600)).rejects.toBeInstanceOf(ScmiStatusError);
    await expect(perf.setLimits(1, 200, 600)).rejects.toMatchObject({ status: -2 });
  });

  it('refuses bad ids and values before anything is sent', async () => {
    const { h, perf } = await probe();
    const requests = h.platform.counters.requests;
    for (const id of [2, -1, 0.5, Number.NaN]) {
      await expect(perf.setLevel(id, 200)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.getLevel(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.setLimits(id, 600, 200)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.getLimits(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.notifyLimits(id, true)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.notifyLevel(id, true)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.describeFastChannel(id, 7)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.getFrequency(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.setFrequency(id, 1000)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(() => perf.estimatePower(id, 0)).toThrow(ScmiError);
      expect(() => perf.transitionLatencyUs(id)).toThrow(ScmiError);
    }
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      await expect(perf.setLevel(1, bad)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.setLimits(1, bad, 200)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.setLimits(1, 600, bad)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(perf.describeFastChannel(1, bad)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
    }
    for (const bad of [-1, 2 ** 53, 1.5, Number.NaN]) {
      await expect(perf.setFrequency(1, bad)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(() => perf.estimatePower(1, bad)).toThrow(
        expect.objectContaining({ code: 'E_ARGUMENT' }) as Error,
      );
    }
    // Both limits 0 would change nothing: refused as Linux refuses it (-EINVAL).
    await expect(perf.setLimits(0, 0, 0)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    // A frequency whose level does not fit 32 bits.
    await expect(perf.setFrequency(0, 2 ** 32 * 1000)).rejects.toMatchObject({
      code: 'E_ARGUMENT',
    });
    expect(h.platform.counters.requests).toBe(requests);
  });

  it('converts levels and frequencies through the domain mult factor, as Linux', async () => {
    const { h, perf } = await probe();
    expect(await perf.getFrequency(0)).toBe(1_200_000_000); // level 1 200 000 × 1000
    await perf.setFrequency(0, 800_000_999); // 800 000.999 levels, rounded down
    expect(h.platform.snapshot().performanceDomains[0]?.level).toBe(800_000);
    await perf.setFrequency(1, 400_000);
    expect(h.platform.snapshot().performanceDomains[1]?.level).toBe(400);
    // A frequency between levels is not one of them: the platform refuses it.
    await expect(perf.setFrequency(1, 500_000)).rejects.toMatchObject({ status: -5 });
    expect(perf.estimatePower(0, 0)).toEqual({ frequencyHz: 400_000_000, powerCost: 100 });
    // At a level's frequency exactly: that level.
    expect(perf.estimatePower(0, 800_000_000)).toEqual({
      frequencyHz: 800_000_000,
      powerCost: 250,
    });
    expect(perf.estimatePower(0, 1_000_000_000)).toEqual({
      frequencyHz: 1_200_000_000,
      powerCost: 500,
    });
    expect(perf.estimatePower(0, 1_800_000_001)).toBeUndefined();
    expect(perf.transitionLatencyUs(0)).toBe(150);
    expect(perf.transitionLatencyUs(1)).toBe(300);
  });

  it('derives the mult factor from the sustained frequency and level', async () => {
    const { h, perf } = await probe({
      platformConfig: withDomains([
        // 2 000 kHz at sustained level 4: 500 000 Hz per level unit.
        {
          name: 'scaled',
          levels: [1, 2, 4].map((value) => ({ value, powerCost: value * 10, latencyUs: 1 })),
          level: 1,
          sustainedFreqKhz: 2000,
          sustainedLevel: 4,
        },
        // 1 kHz at level 2000: 0 Hz per unit once rounded down, as Linux computes it.
        { name: 'zero', levels: GPU_LEVELS, sustainedFreqKhz: 1, sustainedLevel: 2000 },
      ]),
    });
    expect(perf.domains.info(0).multFactor).toBe(500_000);
    expect(await perf.getFrequency(0)).toBe(500_000);
    await perf.setFrequency(0, 2_000_000);
    expect(h.platform.snapshot().performanceDomains[0]?.level).toBe(4);
    expect(perf.estimatePower(0, 600_000)).toEqual({ frequencyHz: 1_000_000, powerCost: 20 });
    expect(perf.domains.info(1).multFactor).toBe(0);
    const requests = h.platform.counters.requests;
    await expect(perf.getFrequency(1)).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    await expect(perf.setFrequency(1, 1000)).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    expect(() => perf.estimatePower(1, 0)).toThrow(
      expect.objectContaining({ code: 'E_NOT_SUPPORTED' }) as Error,
    );
    expect(h.platform.counters.requests).toBe(requests);
  });

  it('reports the absence of fast channels as the platform answers it', async () => {
    const { perf } = await probe();
    let thrown: unknown;
    try {
      await perf.describeFastChannel(0, PerformanceMessageId.LEVEL_SET);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ScmiStatusError);
    expect(thrown).toMatchObject({
      status: -1,
      messageId: PerformanceMessageId.DESCRIBE_FASTCHANNEL,
    });
    // Every command still goes by message.
    await perf.setLevel(0, 400_000);
    expect(await perf.getLevel(0)).toBe(400_000);
  });

  /**
   * The driver over a handle whose PERF_DESCRIBE_FASTCHANNEL answers `reply` (the emulated
   * platform has no fast channel to describe); every other command goes to the platform.
   */
  function fastChannelDriver(reply: Uint8Array): ProtocolDriver<PerformanceProtocol> {
    return stubbedDriver(performanceProtocolDriver, (messageId) =>
      messageId === PerformanceMessageId.DESCRIBE_FASTCHANNEL
        ? Promise.resolve(reply.slice())
        : undefined,
    );
  }

  it('decodes a fast channel description, its doorbell read only when announced', async () => {
    const words = (...w: number[]): Uint8Array => new Uint8Array(w.flatMap(le32));
    // attributes: doorbell (bit 0), 32-bit wide (bits 2:1 = 2); rate limit 0xABCDE (bits 19:0).
    const full = words(
      0b101,
      0xfffa_bcde,
      0x1000,
      0x1,
      4,
      0x2000,
      0x0,
      0x1,
      0x0,
      0xffff_fffe,
      0xffff_ffff,
    );
    h = createHarness({ drivers: [fastChannelDriver(full)] });
    let agent = await h.create();
    expect(await agent.protocol(performanceProtocolDriver).describeFastChannel(0, 7)).toEqual({
      attributes: 0b101,
      rateLimitUs: 0xabcde,
      address: 0x1_0000_1000n,
      size: 4,
      doorbell: {
        widthBits: 32,
        address: 0x2000n,
        setMask: 0x1n,
        preserveMask: 0xffff_ffff_ffff_fffen,
      },
    });
    await agent.remove();
    await h.close();
    // No doorbell: the five first words only.
    h = createHarness({ drivers: [fastChannelDriver(words(0, 10, 0x3000, 0, 8))] });
    agent = await h.create();
    const noDoorbell = { attributes: 0, rateLimitUs: 10, address: 0x3000n, size: 8 };
    expect(await agent.protocol(performanceProtocolDriver).describeFastChannel(1, 5)).toEqual(
      noDoorbell,
    );
    // Through a view of the client, the same stub answers.
    const view = agent.protocol(performanceProtocolDriver).withCallOptions({ timeoutMs: 50 });
    expect(await view.describeFastChannel(1, 5)).toEqual(noDoorbell);
    await agent.remove();
    await h.close();
    // A doorbell announced without its fields: malformed, counted.
    h = createHarness({ drivers: [fastChannelDriver(words(1, 10, 0x3000, 0, 8))] });
    agent = await h.create();
    await expect(
      agent.protocol(performanceProtocolDriver).describeFastChannel(1, 5),
    ).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ perf: 1 });
    await agent.remove();
  });

  it('collects levels over several parts, sorted, in one list', async () => {
    const values = Array.from({ length: 40 }, (_, i) => 1000 + i * 100);
    const { h, perf } = await probe({
      platformFaults: [
        {
          match: { protocolId: PERF, messageId: PerformanceMessageId.DESCRIBE_LEVELS },
          action: { kind: 'delay', ms: 0 },
        },
      ],
      platformConfig: withDomains([
        {
          name: 'many',
          levels: values.map((value, i) => ({ value, powerCost: i, latencyUs: i })),
        },
      ]),
    });
    expect(perf.domains.info(0).levels.map((l) => l.value)).toEqual(values);
    // Several PERF_DESCRIBE_LEVELS (each counted by a no-op delay): 40 levels do not fit one message.
    expect(h.platform.faults.counts.delay).toBeGreaterThan(1);
  });

  it('sorts the levels and skips a value listed twice, keeping its first entry, as Linux', async () => {
    const { perf } = await probe(
      faults({
        // The gpu's reply (second PERF_DESCRIBE_LEVELS): its first entry's value becomes 600.
        match: { protocolId: PERF, messageId: PerformanceMessageId.DESCRIBE_LEVELS, nth: 2 },
        action: { kind: 'corrupt-bytes', offset: 12, bytes: le32(600) },
      }),
    );
    const gpu = perf.domains.info(1);
    expect(gpu.levels).toEqual([
      { value: 400, powerCost: 700, latencyUs: 200 },
      { value: 600, powerCost: 300, latencyUs: 200 },
    ]);
    expect(gpu.duplicateLevels).toEqual([{ value: 600, powerCost: 1200, latencyUs: 300 }]);
    expect(perf.domains.info(0)).not.toHaveProperty('duplicateLevels');
    expect(perf.estimatePower(1, 500_000)).toEqual({ frequencyHz: 600_000, powerCost: 300 });
  });

  it('keeps the levels of the parts read before a part that contradicts the first, as Linux', async () => {
    h = createHarness({
      drivers: [performanceProtocolDriver],
      // One level per part; the first part of domain 0 says 1 returned, 1 remaining, and the
      // second (index 1) then announces more than that total.
      platformBehaviour: { multiPartMax: 1 },
      platformFaults: [
        {
          match: { protocolId: PERF, messageId: PerformanceMessageId.DESCRIBE_LEVELS, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: [1, 0, 1, 0] },
        },
      ],
    });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    const cpu = perf.domains.info(0);
    expect(cpu.levelsError).toBeInstanceOf(ScmiMalformedError);
    expect(cpu.levelsError).toMatchObject({ code: 'E_MULTIPART' });
    expect(cpu.levels.map((l) => l.value)).toEqual([400_000]); // its first level, the one part read
    expect(perf.domains.info(1).levelsError).toBeUndefined();
  });

  it('keeps no level of a part cut short: only the whole parts before it', async () => {
    const full = createHarness({ drivers: [performanceProtocolDriver] });
    const all = (await full.create()).protocol(performanceProtocolDriver).domains.info(0).levels;
    await full.close();
    expect(all.length).toBeGreaterThanOrEqual(4);
    h = createHarness({
      drivers: [performanceProtocolDriver],
      platformBehaviour: { multiPartMax: 2 },
      platformFaults: [
        {
          // Domain 0's second part (two levels of 12 bytes): header, status, counts, one level
          // and half of the next — its whole first level is still not kept.
          match: { protocolId: PERF, messageId: PerformanceMessageId.DESCRIBE_LEVELS, nth: 2 },
          action: { kind: 'truncate', length: 4 + 4 + 4 + 12 + 6 },
        },
      ],
    });
    const agent = await h.create();
    const cpu = agent.protocol(performanceProtocolDriver).domains.info(0);
    expect(cpu.levelsError).toMatchObject({ code: 'E_TRUNCATED' });
    expect(cpu.levels).toEqual(all.slice(0, 2));
  });

  it('keeps a domain whose levels cannot be read, without levels, and still drives it', async () => {
    h = createHarness({
      drivers: [performanceProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: PERF, messageId: PerformanceMessageId.DESCRIBE_LEVELS, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
        {
          match: { protocolId: PERF, messageId: PerformanceMessageId.DESCRIBE_LEVELS, nth: 2 },
          action: { kind: 'truncate', length: 8 + 4 + 6 }, // counts, half of an entry
        },
      ],
    });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    const cpu = perf.domains.info(0);
    expect(cpu.levels).toEqual([]);
    expect(cpu.levelsError).toBeInstanceOf(ScmiStatusError);
    const gpu = perf.domains.info(1);
    expect(gpu.levels).toEqual([]);
    expect(gpu.levelsError).toBeInstanceOf(ScmiMalformedError);
    expect(gpu.levelsError).toMatchObject({ code: 'E_TRUNCATED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ perf: 1 });
    expect(perf.domains.failures.size).toBe(0);
    expect(perf.transitionLatencyUs(0)).toBeUndefined();
    expect(perf.estimatePower(0, 0)).toBeUndefined();
    await perf.setLevel(0, 800_000);
    expect(await perf.getLevel(0)).toBe(800_000);
  });

  it('reads an extended name with PERF_DOMAIN_NAME_GET, and keeps the short one when that fails', async () => {
    const { perf } = await probe({
      platformConfig: withDomains([
        { name: 'big-cluster-cortex-a78', levels: GPU_LEVELS },
        { name: 'little-cluster-cortex-a55', levels: GPU_LEVELS },
      ]),
      platformFaults: [
        {
          match: { protocolId: PERF, messageId: PerformanceMessageId.DOMAIN_NAME_GET, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
        },
      ],
    });
    const [big, little] = perf.domains.list;
    expect(big).toMatchObject({ name: 'big-cluster-cortex-a78', levels: GPU_LEVELS });
    expect(big).not.toHaveProperty('nameError');
    expect(little?.name).toBe('little-cluster-');
    expect(little?.nameError).toBeInstanceOf(ScmiStatusError);
    expect(little?.levels).toEqual(GPU_LEVELS);
  });

  it('records a domain the platform fails to describe, and goes on with the others', async () => {
    const { h, perf } = await probe(
      faults({
        match: { protocolId: PERF, messageId: PerformanceMessageId.DOMAIN_ATTRIBUTES, nth: 1 },
        action: { kind: 'corrupt-bytes', offset: 4, bytes: DENIED },
      }),
    );
    expect(perf.domains.list.map((d) => d.id)).toEqual([1]);
    expect(perf.domains.failures.get(0)).toBeInstanceOf(ScmiStatusError);
    let thrown: unknown;
    try {
      perf.domains.info(0);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
    expect((thrown as Error).cause).toBe(perf.domains.failures.get(0));
    const requests = h.platform.counters.requests;
    await expect(perf.setLevel(0, 800_000)).rejects.toMatchObject({
      code: 'E_DOMAIN_UNAVAILABLE',
    });
    await expect(perf.getLimits(0)).rejects.toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
    expect(() => perf.estimatePower(0, 0)).toThrow(
      expect.objectContaining({ code: 'E_DOMAIN_UNAVAILABLE' }) as Error,
    );
    expect(h.platform.counters.requests).toBe(requests);
  });

  it('counts short replies as malformed', async () => {
    h = createHarness({
      drivers: [performanceProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: PERF, messageId: PerformanceMessageId.DOMAIN_ATTRIBUTES, nth: 2 },
          action: { kind: 'truncate', length: 8 + 16 + 4 }, // 4 of the 16 name bytes
        },
        {
          match: { protocolId: PERF, messageId: PerformanceMessageId.LIMITS_GET },
          action: { kind: 'truncate', length: 8 + 4 },
        },
        {
          match: { protocolId: PERF, messageId: PerformanceMessageId.LEVEL_GET },
          action: { kind: 'truncate', length: 8 + 2 },
        },
      ],
    });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    expect(perf.domains.failures.get(1)).toBeInstanceOf(ScmiMalformedError);
    expect(perf.domains.failures.get(1)).toMatchObject({ code: 'E_TRUNCATED' });
    expect(perf.domains.list.map((d) => d.id)).toEqual([0]);
    await expect(perf.getLimits(0)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    await expect(perf.getLevel(0)).rejects.toBeInstanceOf(ScmiMalformedError);
    await expect(perf.getFrequency(0)).rejects.toBeInstanceOf(ScmiMalformedError);
    expect(agent.diagnostics.malformedReplies).toEqual({ perf: 4 });
  });

  it('fails a PROTOCOL_ATTRIBUTES that is refused or short: the agent goes on without it', async () => {
    for (const action of [
      { kind: 'corrupt-bytes', offset: 4, bytes: DENIED } as const,
      { kind: 'truncate', length: 8 + 12 } as const,
    ]) {
      h = createHarness({
        drivers: [performanceProtocolDriver],
        platformFaults: [{ match: { protocolId: PERF, messageId: 0x1 }, action }],
      });
      const agent = await h.create();
      expect(agent.protocolErrors.get(PERF)).toBeInstanceOf(
        action.kind === 'truncate' ? ScmiMalformedError : ScmiStatusError,
      );
      expect(() => agent.protocol(performanceProtocolDriver)).toThrow(
        expect.objectContaining({ code: 'E_NO_PROTOCOL' }) as Error,
      );
      await agent.remove();
      await h.close();
      h = undefined;
    }
  });

  it('delivers PERFORMANCE_LEVEL_CHANGED to a subscriber, enabling only the domain subscribed to', async () => {
    h = createHarness({ drivers: [performanceProtocolDriver] });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    const got: ScmiNotification[] = [];
    const off = await agent.events.subscribe(
      { protocolId: PERF, eventId: PERFORMANCE_LEVEL_CHANGED, source: 1 },
      (n) => {
        got.push(n);
      },
    );
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: PERF, notificationId: PERFORMANCE_LEVEL_CHANGED, domainId: 1 },
    ]);
    await perf.setLevel(1, 600);
    await perf.setLevel(0, 400_000); // not subscribed: not sent
    await h.clock.runUntilIdle();
    expect(got.map((n) => n.source)).toEqual([1]);
    expect(got.map((n) => decodePerformanceLevelChanged(n.payload))).toEqual([
      { agentId: 1, domainId: 1, level: 600 },
    ]);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('enables every domain for an every-source PERFORMANCE_LIMITS_CHANGED subscriber', async () => {
    h = createHarness({ drivers: [performanceProtocolDriver] });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    const got: ScmiNotification[] = [];
    const off = await agent.events.subscribe(
      { protocolId: PERF, eventId: PERFORMANCE_LIMITS_CHANGED },
      (n) => {
        got.push(n);
      },
    );
    expect(h.platform.subscriptions(1).map((s) => [s.notificationId, s.domainId])).toEqual([
      [PERFORMANCE_LIMITS_CHANGED, 0],
      [PERFORMANCE_LIMITS_CHANGED, 1],
    ]);
    await perf.setLimits(0, 1_200_000, 800_000);
    await perf.setLimits(1, 400, 0); // min unchanged
    await h.clock.runUntilIdle();
    expect(got.map((n) => decodePerformanceLimitsChanged(n.payload))).toEqual([
      { agentId: 1, domainId: 0, rangeMax: 1_200_000, rangeMin: 800_000 },
      { agentId: 1, domainId: 1, rangeMax: 400, rangeMin: 200 },
    ]);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('refuses to subscribe to a domain that does not announce the notification, sending nothing', async () => {
    h = createHarness({
      drivers: [performanceProtocolDriver],
      platformFaults: [
        {
          // Domain 1's flags: set limits and level only (bits 29 and 28 clear).
          match: { protocolId: PERF, messageId: PerformanceMessageId.DOMAIN_ATTRIBUTES, nth: 2 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: le32(0xc000_0000) },
        },
      ],
    });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    expect(perf.domains.info(1)).toMatchObject({ limitsNotify: false, levelNotify: false });
    const requests = h.platform.counters.requests;
    for (const eventId of [PERFORMANCE_LIMITS_CHANGED, PERFORMANCE_LEVEL_CHANGED]) {
      await expect(
        agent.events.subscribe({ protocolId: PERF, eventId, source: 1 }, () => {
          /* never */
        }),
      ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    }
    // A source past the domains: refused by the hub.
    await expect(
      agent.events.subscribe(
        { protocolId: PERF, eventId: PERFORMANCE_LEVEL_CHANGED, source: 2 },
        () => {
          /* never */
        },
      ),
    ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    expect(h.platform.counters.requests).toBe(requests);
    const off = await agent.events.subscribe(
      { protocolId: PERF, eventId: PERFORMANCE_LEVEL_CHANGED },
      () => {
        /* counted by the platform's subscriptions */
      },
    );
    expect(h.platform.subscriptions(1).map((s) => s.domainId)).toEqual([0]);
    await off();
    await agent.remove();
  });

  it('delivers only payloads of the size Linux accepts', async () => {
    const storm = (payload: number[]): FaultRule => ({
      match: { protocolId: PERF, messageId: PerformanceMessageId.LEVEL_GET, times: 1 },
      action: {
        kind: 'notification-storm',
        count: 1,
        protocolId: PERF,
        messageId: PERFORMANCE_LEVEL_CHANGED,
        payload,
      },
    });
    h = createHarness({ drivers: [performanceProtocolDriver] });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    const got: ScmiNotification[] = [];
    const off = await agent.events.subscribe(
      { protocolId: PERF, eventId: PERFORMANCE_LEVEL_CHANGED },
      (n) => {
        got.push(n);
      },
    );
    for (const payload of [
      [0, 1, 400, 9],
      [0, 1],
      [0, 1, 400],
    ]) {
      h.platform.faults.add(storm(payload));
      await perf.getLevel(1);
      await h.clock.runUntilIdle();
    }
    expect(got.map((n) => decodePerformanceLevelChanged(n.payload))).toEqual([
      { agentId: 0, domainId: 1, level: 400 },
    ]);
    await off();
    await agent.remove();
  });

  it('announces no notification on a wire without a P2A channel', async () => {
    const { perf } = await probe({ wire: { a2p: [0], p2a: [] } });
    expect(perf.domains.info(0)).toMatchObject({ limitsNotify: false, levelNotify: false });
    await perf.setLevel(0, 400_000);
    expect(await perf.getLevel(0)).toBe(400_000);
  });

  it('masks the rate limit to its 20 bits', async () => {
    const { perf } = await probe(
      faults({
        match: { protocolId: PERF, messageId: PerformanceMessageId.DOMAIN_ATTRIBUTES, nth: 1 },
        action: { kind: 'corrupt-bytes', offset: 12, bytes: le32(0xfff0_0007) },
      }),
    );
    expect(perf.domains.info(0).rateLimitUs).toBe(7);
  });

  it('refuses every command once the agent is removed', async () => {
    h = createHarness({ drivers: [performanceProtocolDriver] });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    await agent.remove();
    await expect(perf.setLevel(0, 400_000)).rejects.toBeInstanceOf(RevokedError);
    await expect(perf.getLimits(0)).rejects.toBeInstanceOf(RevokedError);
    await expect(perf.getFrequency(0)).rejects.toBeInstanceOf(RevokedError);
    await expect(perf.describeFastChannel(0, 7)).rejects.toBeInstanceOf(RevokedError);
  });

  it('decodes both notifications and refuses a short payload', () => {
    const limits = new Uint8Array([...le32(2), ...le32(1), ...le32(0x8000_0000), ...le32(5)]);
    expect(decodePerformanceLimitsChanged(limits)).toEqual({
      agentId: 2,
      domainId: 1,
      rangeMax: 0x8000_0000,
      rangeMin: 5,
    });
    expect(() => decodePerformanceLimitsChanged(limits.subarray(0, 12))).toThrow(
      ScmiMalformedError,
    );
    const level = new Uint8Array([...le32(0), ...le32(3), ...le32(0xffff_ffff)]);
    expect(decodePerformanceLevelChanged(level)).toEqual({
      agentId: 0,
      domainId: 3,
      level: 0xffff_ffff,
    });
    expect(() => decodePerformanceLevelChanged(level.subarray(0, 8))).toThrow(ScmiMalformedError);
  });
});
