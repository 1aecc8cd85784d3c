import type { ScmiAgent, ScmiNotification } from '@scmi-ts/core';
import { createDefaultPlatformConfig, type PlatformConfig } from '@scmi-ts/platform';
import {
  PERFORMANCE_LEVEL_CHANGED,
  PerformanceMessageId,
  decodePerformanceLevelChanged,
  performanceProtocolDriver,
  type PerformanceLevelReport,
  type PerformanceLimitsReport,
  type PerformanceProtocol,
} from '../src/index.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';

const PERF = 0x13;

/**
 * The default platform at Performance 4.0: domain 0 in level indexing mode (indices 10, 20, 40,
 * indicative frequencies 400, 800, 1200 MHz for values 4, 8, 12), domain 1 at level values with
 * the default multFactor (1000 Hz per unit).
 */
function v4Config(): PlatformConfig {
  return {
    ...createDefaultPlatformConfig(),
    performanceVersion: 0x40000,
    performanceDomains: [
      {
        name: 'cpu-cluster0',
        levelIndexing: true,
        levels: [
          { value: 4, powerCost: 100, latencyUs: 50, indicativeFreqKhz: 400_000, index: 10 },
          { value: 8, powerCost: 250, latencyUs: 60, indicativeFreqKhz: 800_000, index: 20 },
          { value: 12, powerCost: 500, latencyUs: 70, indicativeFreqKhz: 1_200_000, index: 40 },
        ],
      },
      {
        name: 'gpu',
        levels: [
          { value: 300, powerCost: 300, latencyUs: 200, indicativeFreqKhz: 300 },
          { value: 600, powerCost: 600, latencyUs: 200, indicativeFreqKhz: 600 },
        ],
      },
    ],
  };
}

describe('Performance protocol client at version 4.0', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(
    options: HarnessOptions = {},
  ): Promise<{ h: Harness; agent: ScmiAgent; perf: PerformanceProtocol }> {
    h = createHarness({
      drivers: [performanceProtocolDriver],
      platformConfig: v4Config(),
      ...options,
    });
    const agent = await h.create();
    return { h, agent, perf: agent.protocol(performanceProtocolDriver) };
  }

  it('reads five-word levels, their indicative frequency, and the index in level indexing mode', async () => {
    const { perf } = await probe();
    expect(perf.version).toBe(0x40000);
    const cpu = perf.domains.info(0);
    expect(cpu.levelIndexing).toBe(true);
    expect(cpu.levels).toEqual([
      { value: 4, powerCost: 100, latencyUs: 50, indicativeFreqKhz: 400_000, index: 10 },
      { value: 8, powerCost: 250, latencyUs: 60, indicativeFreqKhz: 800_000, index: 20 },
      { value: 12, powerCost: 500, latencyUs: 70, indicativeFreqKhz: 1_200_000, index: 40 },
    ]);
    const gpu = perf.domains.info(1);
    expect(gpu.levelIndexing).toBe(false);
    // Not in level indexing mode: no index kept, as Linux reads it in that mode only.
    expect(gpu.levels).toEqual([
      { value: 300, powerCost: 300, latencyUs: 200, indicativeFreqKhz: 300 },
      { value: 600, powerCost: 600, latencyUs: 200, indicativeFreqKhz: 600 },
    ]);
  });

  it('speaks level values to the caller and indices to the platform in level indexing mode', async () => {
    const { h, perf } = await probe();
    expect(await perf.getLevel(0)).toBe(12);
    await perf.setLevel(0, 8);
    expect(h.platform.snapshot().performanceDomains[0]?.level).toBe(8);
    expect(await perf.getLevel(0)).toBe(8);
    await perf.setLimits(0, 8, 0); // 0: min unchanged
    expect(await perf.getLimits(0)).toEqual({ max: 8, min: 4 });
    expect(h.platform.snapshot().performanceDomains[0]).toMatchObject({ max: 8, min: 4 });
    // A value that is not a level has no index to send: refused, nothing sent.
    const requests = h.platform.counters.requests;
    for (const call of [() => perf.setLevel(0, 6), () => perf.setLimits(0, 7, 4)]) {
      await expect(call()).rejects.toMatchObject({
        code: 'E_ARGUMENT',
        message: expect.stringMatching(/level indexing mode/) as unknown,
      });
    }
    expect(h.platform.counters.requests).toBe(requests);
    // Domain 1 is not in level indexing mode: values go as they are.
    await perf.setLevel(1, 300);
    expect(await perf.getLevel(1)).toBe(300);
  });

  it('gives frequencies from the indicative frequency in level indexing mode, as Linux cpufreq', async () => {
    const { h, perf } = await probe();
    expect(await perf.getFrequency(0)).toBe(1_200_000_000);
    await perf.setFrequency(0, 800_000_000);
    expect(h.platform.snapshot().performanceDomains[0]?.level).toBe(8);
    expect(await perf.getFrequency(0)).toBe(800_000_000);
    // Linux looks the level up by its exact indicative frequency (kHz).
    await expect(perf.setFrequency(0, 801_000_000)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    expect(perf.estimatePower(0, 500_000_000)).toEqual({
      frequencyHz: 800_000_000,
      powerCost: 250,
    });
    expect(perf.estimatePower(0, 1_300_000_000)).toBeUndefined();
    // Domain 1: value × multFactor (1000), not its indicative frequency.
    expect(await perf.getFrequency(1)).toBe(600_000);
  });

  it('takes multFactor 1000 in level indexing mode whatever the sustained level, as Linux', async () => {
    const config = v4Config();
    const [cpu, gpu] = config.performanceDomains ?? [];
    if (cpu === undefined || gpu === undefined) throw new Error('domains');
    const { perf } = await probe({
      platformConfig: {
        ...config,
        performanceDomains: [{ ...cpu, sustainedFreqKhz: 1_200_000, sustainedLevel: 12 }, gpu],
      },
    });
    expect(perf.domains.info(0)).toMatchObject({ sustainedLevel: 12, multFactor: 1000 });
    expect(await perf.getFrequency(0)).toBe(1_200_000_000);
  });

  it('sets the last level listed with a frequency when the firmware repeats one, as Linux finds it', async () => {
    const { h, perf } = await probe({
      platformFaults: [
        {
          // The second level's indicative_freq (header, status, counts, a 20-byte level, then
          // value, power, latency: offset 44) made the first's, 400 000 kHz.
          match: { protocolId: PERF, messageId: PerformanceMessageId.DESCRIBE_LEVELS, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 44, bytes: [0x80, 0x1a, 0x06, 0x00] },
        },
      ],
    });
    expect(perf.domains.info(0).levels.map((l) => l.indicativeFreqKhz)).toEqual([
      400_000, 400_000, 1_200_000,
    ]);
    await perf.setFrequency(0, 400_000_000);
    expect(h.platform.snapshot().performanceDomains[0]?.level).toBe(8);
  });

  it('sets the highest-valued level with a repeated frequency, whatever the wire order, where Linux looks first', async () => {
    // The wire lists value 12 (index 40) before value 4 (index 10), both at 400 MHz. Linux hashes
    // them as read, then sorts the array the hash nodes live in: its lookup starts at the last
    // slot, which the sort fills with value 12 — index 40, though it was listed first.
    const { h, perf } = await probe({
      platformFaults: [
        {
          // The first level (offset 12: value, power, latency, indicative_freq, index) made
          // value 12 at index 40, and the third (offset 52) value 4 at index 10, 400 000 kHz.
          match: { protocolId: PERF, messageId: PerformanceMessageId.DESCRIBE_LEVELS, nth: 1 },
          action: {
            kind: 'corrupt-bytes',
            offset: 12,
            bytes: [
              ...[12, 0, 0, 0, 0xf4, 1, 0, 0, 70, 0, 0, 0, 0x80, 0x1a, 0x06, 0x00, 40, 0, 0, 0],
              ...[8, 0, 0, 0, 0xfa, 0, 0, 0, 60, 0, 0, 0, 0x00, 0x35, 0x0c, 0x00, 20, 0, 0, 0],
              ...[4, 0, 0, 0, 100, 0, 0, 0, 50, 0, 0, 0, 0x80, 0x1a, 0x06, 0x00, 10, 0, 0, 0],
            ],
          },
        },
      ],
    });
    expect(perf.domains.info(0).levels.map((l) => [l.value, l.index, l.indicativeFreqKhz])).toEqual(
      [
        [4, 10, 400_000],
        [8, 20, 800_000],
        [12, 40, 400_000],
      ],
    );
    await perf.setFrequency(0, 400_000_000);
    expect(h.platform.snapshot().performanceDomains[0]?.level).toBe(12);
  });

  it('counts an index no described level has as a malformed reply', async () => {
    const { perf, agent } = await probe({
      platformFaults: [
        {
          match: { protocolId: PERF, messageId: PerformanceMessageId.LEVEL_GET },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: [30, 0, 0, 0] },
        },
      ],
    });
    const e: unknown = await perf.getLevel(0).catch((error: unknown) => error);
    expect(e).toMatchObject({ name: 'ScmiMalformedError', code: 'E_LEVEL_INDEX' });
    expect(agent.diagnostics.malformedReplies).toEqual({ perf: 1 });
  });

  it('decodes a level notification of a level indexing domain through levelOfIndex', async () => {
    const { h, agent, perf } = await probe();
    const seen: (number | undefined)[] = [];
    const off = await agent.events.subscribe(
      { protocolId: PERF, eventId: PERFORMANCE_LEVEL_CHANGED, source: 0 },
      (n: ScmiNotification) => {
        const { domainId, level } = decodePerformanceLevelChanged(n.payload);
        seen.push(perf.levelOfIndex(domainId, level)?.value);
      },
    );
    await perf.setLevel(0, 4);
    await h.clock.runUntilIdle();
    expect(seen).toEqual([4]);
    expect(perf.levelOfIndex(0, 99)).toBeUndefined();
    // Its frequency, as Linux reports it: the indexed level's indicative frequency × multFactor;
    // a level value × multFactor outside level indexing mode; undefined for what is no level.
    expect(perf.frequencyOf(0, 10)).toBe(400_000_000);
    expect(perf.frequencyOf(0, 4)).toBeUndefined(); // a value, not an index, here
    expect(perf.frequencyOf(1, 600)).toBe(600_000);
    expect(perf.frequencyOf(1, 601)).toBeUndefined();
    expect(perf.levelOfIndex(1, 0)).toBeUndefined(); // not in level indexing mode
    await off();
  });

  it('reports a level notification with its frequency through onLevelChanged, and limits with theirs', async () => {
    const { h, perf } = await probe();
    const levels: PerformanceLevelReport[] = [];
    const limits: PerformanceLimitsReport[] = [];
    const offLevel = await perf.onLevelChanged((e) => void levels.push(e), { source: 0 });
    const offLimits = await perf.onLimitsChanged((e) => void limits.push(e));
    await perf.setLevel(0, 8); // index 20 on the wire
    await perf.setLevel(1, 600); // not subscribed: not sent
    await perf.setLimits(0, 8, 4); // indices 20 and 10 (the maximum lowered)
    await h.clock.runUntilIdle();
    // In level indexing mode the wire carries the index; its frequency is the indexed level's
    // indicative frequency × multFactor (1000), as Linux's report.
    expect(levels).toEqual([{ agentId: 1, domainId: 0, level: 20, frequencyHz: 800_000_000 }]);
    expect(limits).toEqual([
      {
        agentId: 1,
        domainId: 0,
        rangeMax: 20,
        rangeMin: 10,
        rangeMaxHz: 800_000_000,
        rangeMinHz: 400_000_000,
      },
    ]);
    await offLevel();
    await offLimits();
    expect(h.platform.subscriptions(1)).toEqual([]);
  });

  it("reports both limits' frequencies or neither, as Linux, when one bound is no described level", async () => {
    const { h, perf } = await probe();
    const limits: PerformanceLimitsReport[] = [];
    const off = await perf.onLimitsChanged((e) => void limits.push(e), { source: 1 });
    // A PERFORMANCE_LIMITS_CHANGED about domain 1 (level values): max 600, min 450 (no level).
    h.platform.faults.add({
      match: { protocolId: PERF, messageId: PerformanceMessageId.LEVEL_GET, times: 1 },
      action: {
        kind: 'notification-storm',
        count: 1,
        messageId: 0x0,
        payload: [1, 1, 600, 450],
      },
    });
    await perf.getLevel(1);
    await h.clock.runUntilIdle();
    expect(limits).toEqual([
      {
        agentId: 1,
        domainId: 1,
        rangeMax: 600,
        rangeMin: 450,
        rangeMaxHz: undefined,
        rangeMinHz: undefined,
      },
    ]);
    await off();
  });

  it('drives a 3.0 platform with 3.0 layouts and values, as before', async () => {
    const { perf } = await probe({ platformConfig: createDefaultPlatformConfig() });
    expect(perf.version).toBe(0x30000);
    const cpu = perf.domains.info(0);
    expect(cpu.levelIndexing).toBe(false);
    expect(cpu.levels[0]).not.toHaveProperty('indicativeFreqKhz');
    await perf.setLevel(0, cpu.levels[0]?.value ?? 0);
    expect(await perf.getLevel(0)).toBe(cpu.levels[0]?.value);
  });
});
