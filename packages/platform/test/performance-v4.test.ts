import { CommonMessageId, ScmiConfigError, ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  PerformanceMessageId,
  PerformanceNotificationId,
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type PlatformConfig,
} from '@scmi-ts/platform';
import { Harness } from './support/harness';

const PERF = ScmiProtocolId.PERF;
const LEVEL_INDEXING = 1 << 25;

/**
 * The default platform at Performance 4.0: domain 0 (which agent 2, PSCI, may use too) in level
 * indexing mode with indices 10, 20, 40 (not contiguous); domain 1 at level values.
 */
function v4Config(): PlatformConfig {
  const base = createDefaultPlatformConfig();
  return {
    ...base,
    performanceVersion: 0x40000,
    performanceDomains: [
      {
        name: 'cpu-cluster0',
        levelIndexing: true,
        levels: [
          { value: 400, powerCost: 100, latencyUs: 50, indicativeFreqKhz: 400_000, index: 10 },
          { value: 800, powerCost: 250, latencyUs: 50, indicativeFreqKhz: 800_000, index: 20 },
          { value: 1200, powerCost: 500, latencyUs: 100, indicativeFreqKhz: 1_200_000, index: 40 },
        ],
      },
      {
        name: 'gpu',
        levels: [
          { value: 300, powerCost: 300, latencyUs: 200, indicativeFreqKhz: 300_000 },
          { value: 600, powerCost: 600, latencyUs: 200 },
        ],
      },
    ],
  };
}

describe('Performance domain protocol (0x13) at version 4.0', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness(v4Config());
    h.connect(1);
    h.connect(2);
  });
  afterEach(() => {
    h.close();
  });

  it('should report version 4.0, level indexing mode (bit 25) for domain 0 only', () => {
    expect(h.call(PERF, CommonMessageId.PROTOCOL_VERSION).words).toEqual([0x40000]);
    const flags = (domain: number): number =>
      h.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [domain]).words[0] ?? 0;
    expect(flags(0) & LEVEL_INDEXING).toBe(LEVEL_INDEXING);
    expect(flags(1) & LEVEL_INDEXING).toBe(0);
  });

  it('should describe levels in five words: indicative frequency, and the index in level indexing mode', () => {
    const levels = (domain: number): number[][] => {
      const a = h.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [domain, 0]);
      const returned = a.r.u16();
      expect(a.r.u16()).toBe(0); // remaining
      const out: number[][] = [];
      for (let i = 0; i < returned; i++) {
        out.push([a.r.u32(), a.r.u32(), a.r.u32() & 0xffff, a.r.u32(), a.r.u32()]);
      }
      expect(a.r.remaining).toBe(0);
      return out;
    };
    expect(levels(0)).toEqual([
      [400, 100, 50, 400_000, 10],
      [800, 250, 50, 800_000, 20],
      [1200, 500, 100, 1_200_000, 40],
    ]);
    // Not in level indexing mode: level_index 0; an indicative frequency left out is 0.
    expect(levels(1)).toEqual([
      [300, 300, 200, 300_000, 0],
      [600, 600, 200, 0, 0],
    ]);
  });

  it('should take and give levels and limits as indices in level indexing mode, and notify indices', () => {
    expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1]).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [0, 1]).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0]).words).toEqual([40]);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 20]).status).toBe(0);
    expect(h.platform.snapshot().performanceDomains[0]?.level).toBe(800);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0]).words).toEqual([20]);
    // A value, or an index no level has, is not a level here.
    for (const wire of [800, 30, 0]) {
      expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, wire]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
    }
    // Limits as indices; 0 leaves a limit as it is; both 0, or an unknown index: OUT_OF_RANGE.
    expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 20, 0]).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.LIMITS_GET, [0]).words).toEqual([20, 10]);
    for (const [max, min] of [
      [0, 0],
      [30, 10],
      [20, 11],
    ]) {
      expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, max ?? 0, min ?? 0]).status).toBe(
        ScmiStatus.OUT_OF_RANGE,
      );
    }
    expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 10, 20]).status).toBe(
      ScmiStatus.INVALID_PARAMETERS,
    );
    // Max left as it is (0), min index 20: [20, 20] would do; the level is 20 already.
    expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 0, 20]).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.LIMITS_GET, [0]).words).toEqual([20, 20]);
    expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 20, 10]).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.LIMITS_SET, [0, 10, 0]).status).toBe(0);
    expect(h.platform.snapshot().performanceDomains[0]).toMatchObject({ min: 400, max: 400 });
    expect(h.link(1).messages.map((m) => [m.messageId, ...m.words])).toEqual([
      [PerformanceNotificationId.LEVEL_CHANGED, 1, 0, 20],
      [PerformanceNotificationId.LIMITS_CHANGED, 1, 0, 20, 10],
      [PerformanceNotificationId.LIMITS_CHANGED, 1, 0, 20, 20],
      [PerformanceNotificationId.LIMITS_CHANGED, 1, 0, 20, 10],
      [PerformanceNotificationId.LIMITS_CHANGED, 1, 0, 10, 10],
      // The level pulled inside the new limits.
      [PerformanceNotificationId.LEVEL_CHANGED, 1, 0, 10],
    ]);
    // Domain 1 is not in level indexing mode: values.
    expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [1, 300]).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [1]).words).toEqual([300]);
  });

  it('should answer an agent that negotiated 3.0 in 3.0 layouts and level values, notifications included', () => {
    const negotiate = h.call(PERF, CommonMessageId.NEGOTIATE_PROTOCOL_VERSION, [0x30000], 2);
    expect(negotiate.status).toBe(0);
    expect(h.call(PERF, CommonMessageId.PROTOCOL_VERSION, [], 2).words).toEqual([0x30000]);
    const flags = h.call(PERF, PerformanceMessageId.DOMAIN_ATTRIBUTES, [0], 2).words[0] ?? 0;
    expect(flags & LEVEL_INDEXING).toBe(0);
    const levels = h.call(PERF, PerformanceMessageId.DESCRIBE_LEVELS, [0, 0], 2);
    expect(levels.words).toEqual([3, 400, 100, 50, 800, 250, 50, 1200, 500, 100]);
    expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1], 2).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [0, 1], 1).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_SET, [0, 800], 2).status).toBe(0);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0], 2).words).toEqual([800]);
    expect(h.call(PERF, PerformanceMessageId.LIMITS_GET, [0], 2).words).toEqual([1200, 400]);
    // Each agent is told the change in its own terms: agent 2 values, agent 1 (4.0) the index.
    expect(h.link(2).messages.map((m) => m.words)).toEqual([[2, 0, 800]]);
    expect(h.link(1).messages.map((m) => m.words)).toEqual([[2, 0, 20]]);
    expect(h.call(PERF, PerformanceMessageId.LEVEL_GET, [0], 1).words).toEqual([20]);
  });
});

describe('performanceVersion and level indexing in the configuration', () => {
  const invalid = (mutate: (c: PlatformConfig) => PlatformConfig, field: RegExp): void => {
    let thrown: unknown;
    try {
      validatePlatformConfig(mutate(v4Config()));
    } catch (error: unknown) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ScmiConfigError);
    expect((thrown as Error).message).toMatch(field);
  };
  const domain0 = (c: PlatformConfig) => c.performanceDomains?.[0] ?? { name: '', levels: [] };
  const withLevels = (
    c: PlatformConfig,
    levels: PlatformConfig['performanceDomains'] extends readonly (infer D)[] | undefined
      ? D extends { levels: infer L }
        ? L
        : never
      : never,
  ): PlatformConfig => ({
    ...c,
    performanceDomains: [{ ...domain0(c), levels }, ...(c.performanceDomains ?? []).slice(1)],
  });

  it('should take 0x30000 by default and refuse any version but 0x30000 and 0x40000', () => {
    expect(validatePlatformConfig(createDefaultPlatformConfig()).performanceVersion).toBe(0x30000);
    invalid(
      (c) => ({ ...c, performanceVersion: 0x20000 }),
      /performanceVersion.*0x30000 or 0x40000/,
    );
  });

  it('should refuse level indexing, and an indicative frequency, below version 4.0', () => {
    invalid((c) => ({ ...c, performanceVersion: 0x30000 }), /levelIndexing.*0x40000/);
    invalid(
      (c) => ({
        ...c,
        performanceVersion: 0x30000,
        performanceDomains: [
          { name: 'gpu', levels: [{ value: 1, powerCost: 1, latencyUs: 1, indicativeFreqKhz: 5 }] },
        ],
      }),
      /levels\[0\]\.indicativeFreqKhz.*0x40000/,
    );
  });

  it('should refuse index 0: a limit of 0 means "unchanged", so that level could not be a limit', () => {
    const levels = domain0(v4Config()).levels;
    const [a, b] = [levels[0], levels[1]];
    if (a === undefined || b === undefined) throw new Error('levels');
    invalid((c) => withLevels(c, [{ ...a, index: 0 }, b]), /levels\[0\]\.index/);
  });

  it('should refuse a duplicate index, a missing or duplicate indicative frequency, and an index without level indexing', () => {
    const levels = domain0(v4Config()).levels;
    const [a, b] = [levels[0], levels[1]];
    if (a === undefined || b === undefined) throw new Error('levels');
    invalid((c) => withLevels(c, [a, { ...b, index: 10 }]), /levels\[1\]\.index.*duplicates/);
    invalid(
      (c) => withLevels(c, [a, { value: 900, powerCost: 1, latencyUs: 1, index: 99 }]),
      /levels\[1\]\.indicativeFreqKhz.*required/,
    );
    invalid(
      (c) => withLevels(c, [a, { ...b, indicativeFreqKhz: 400_000 }]),
      /levels\[1\]\.indicativeFreqKhz.*duplicates/,
    );
    invalid(
      (c) => ({
        ...c,
        performanceDomains: [
          domain0(c),
          { name: 'gpu', levels: [{ value: 1, powerCost: 1, latencyUs: 1, index: 3 }] },
        ],
      }),
      /performanceDomains\[1\]\.levels\[0\]\.index/,
    );
  });

  it('should number the levels from 1 by default in level indexing mode', () => {
    const c = validatePlatformConfig(
      withLevels(
        v4Config(),
        domain0(v4Config()).levels.map((l) => ({
          value: l.value,
          powerCost: l.powerCost,
          latencyUs: l.latencyUs,
          indicativeFreqKhz: l.indicativeFreqKhz ?? 0,
        })),
      ),
    );
    expect(c.performanceDomains?.[0]?.levels.map((l) => l.index)).toEqual([1, 2, 3]);
  });
});
