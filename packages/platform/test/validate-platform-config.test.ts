import { fieldOfConfigError } from '../../core/test/support/code-of.js';
import { MAX_TIMER_MS } from '@scmi-ts/core';
import {
  createDefaultPlatformConfig,
  sensorReading,
  validatePlatformConfig,
} from '@scmi-ts/platform';
import { defined } from './support/harness';

type Json = Record<string, unknown>;

/** A mutable deep copy of the default configuration. */
function base(): Json {
  return JSON.parse(JSON.stringify(createDefaultPlatformConfig())) as Json;
}

const fieldOf = fieldOfConfigError;

/** Sets `path` (dotted, with [i]) in `obj` to `value` (undefined deletes). */
function set(obj: Json, path: string, value: unknown): Json {
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let at: Record<string, unknown> = obj;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = defined(keys[keys.length - 1]);
  if (value === undefined) Reflect.deleteProperty(at, last);
  else at[last] = value;
  return obj;
}

/** The value at `path` (dotted, with [i]) in `obj`. */
function get(obj: Json, path: string): unknown {
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let at: unknown = obj;
  for (const k of keys) at = (at as Record<string, unknown>)[k];
  return at;
}

/** A copy of `items` with a hole (an absent index, not an undefined element) inserted at `at`. */
function withHole(items: readonly unknown[], at: number): unknown[] {
  const out = [...items.slice(0, at), undefined, ...items.slice(at)];
  Reflect.deleteProperty(out, at);
  return out;
}

const cases: [string, string, unknown][] = [
  // [field that must be named, path to change, new value]
  ['vendor', 'vendor', ''],
  ['vendor', 'vendor', 'a-vendor-name-too-long'],
  ['vendor', 'vendor', 'nul\0'],
  // 15 characters but 16 UTF-8 bytes: names are ASCII (cut at 15 bytes it would split the é).
  ['vendor', 'vendor', 'abcdefghijklmné'],
  ['clocks[0].name', 'clocks[0].name', 'cpu-pll-µ'],
  // Control characters: a terminal showing the name would obey them.
  ['vendor', 'vendor', 'ACME\u001b[2J'],
  ['agents[0].name', 'agents[0].name', 'OSPM\r'],
  ['sensors[0].name', 'sensors[0].name', 'temp\u007f'],
  ['subVendor', 'subVendor', 5],
  ['implementationVersion', 'implementationVersion', -1],
  ['implementationVersion', 'implementationVersion', 2 ** 32],
  ['typo', 'typo', 1],
  ['agents', 'agents', []],
  ['agents', 'agents', 'everyone'],
  ['agents[0]', 'agents[0]', null],
  ['agents[0].id', 'agents[0].id', 0],
  ['agents[0].id', 'agents[0].id', 0xffffffff],
  ['agents[1].id', 'agents[1].id', 1],
  // Numbered 1 to num_agents (BASE_DISCOVER_AGENT): two agents cannot have id 3.
  ['agents[1].id', 'agents[1].id', 3],
  ['agents[0].name', 'agents[0].name', 'x'.repeat(16)],
  ['agents[0].protocols[0]', 'agents[0].protocols[0]', 'powercap'],
  ['agents[0].protocols[1]', 'agents[0].protocols[1]', 'power'],
  ['agents[0].protocols', 'agents[0].protocols', undefined],
  ['agents[1].domains.clock', 'agents[1].domains', { clock: [0] }],
  ['agents[1].domains.power[0]', 'agents[1].domains.power', [3]],
  ['agents[1].domains.power[1]', 'agents[1].domains.power', [0, 0]],
  ['agents[1].domains.volt', 'agents[1].domains', { volt: [] }],
  ['agents[1].trusted', 'agents[1].trusted', 'yes'],
  ['devices[0].domains', 'devices[0].domains', undefined],
  ['devices[0].name', 'devices[0].name', ''],
  ['devices[2].domains.reset[0]', 'devices[2].domains.reset', [9]],
  ['powerDomains', 'powerDomains', {}],
  ['powerDomains[0].states', 'powerDomains[0].states', []],
  ['powerDomains[2].states[1]', 'powerDomains[2].states', [0, 0]],
  ['powerDomains[0].state', 'powerDomains[0].state', 7],
  ['powerDomains[0].asyncSet', 'powerDomains[0].asyncSet', 1],
  ['systemPower.state', 'systemPower.state', -3],
  ['systemPower', 'systemPower', []],
  ['performanceDomains[0].levels', 'performanceDomains[0].levels', []],
  ['performanceDomains[0].levels[1].value', 'performanceDomains[0].levels[1].value', 1],
  ['performanceDomains[0].levels[0].latencyUs', 'performanceDomains[0].levels[0].latencyUs', 70000],
  ['performanceDomains[0].levels[0].powerCost', 'performanceDomains[0].levels[0].powerCost', 1.5],
  ['performanceDomains[0].level', 'performanceDomains[0].level', 5],
  ['performanceDomains[0].limits.max', 'performanceDomains[0].limits', { max: 3 }],
  [
    'performanceDomains[0].limits.min',
    'performanceDomains[0].limits',
    { min: 1_800_000, max: 400_000 },
  ],
  ['performanceDomains[0].level', 'performanceDomains[0].limits', { min: 400_000, max: 800_000 }],
  ['performanceDomains[0].rateLimitUs', 'performanceDomains[0].rateLimitUs', 0x100000],
  ['performanceDomains[0].canSetLevel', 'performanceDomains[0].canSetLevel', 0],
  ['performancePowerInMilliwatts', 'performancePowerInMilliwatts', 'mW'],
  ['clocks[0].rates.step', 'clocks[0].rates.step', 0],
  ['clocks[0].canSetState', 'clocks[0].canSetState', 'no'],
  ['clocks[0].canSetParent', 'clocks[0].canSetParent', 0],
  ['clocks[0].canSetRate', 'clocks[0].canSetRate', null],
  ['clocks[0].rates.max', 'clocks[0].rates.max', 1],
  ['clocks[0].rates.min', 'clocks[0].rates.min', -1],
  ['clocks[0].rates.typo', 'clocks[0].rates.typo', 1],
  ['clocks[1].rates', 'clocks[1].rates', []],
  ['clocks[1].rates[1]', 'clocks[1].rates', [10, 5]],
  ['clocks[1].rates[0]', 'clocks[1].rates', [1.5]],
  ['clocks[1].rate', 'clocks[1].rate', 25_000_000],
  ['clocks[0].rate', 'clocks[0].rate', 250_000_000],
  ['clocks[3].parents[0]', 'clocks[3].parents', [9]],
  ['clocks[3].parents[0]', 'clocks[3].parents', [3]],
  ['clocks[2].parents[1]', 'clocks[2].parents', [0, 0]],
  ['clocks[2].parent', 'clocks[2].parent', 1],
  ['clocks[0].parent', 'clocks[0].parent', 1],
  ['clocks[0].enableLatencyUs', 'clocks[0].enableLatencyUs', -1],
  ['clocks[0].name', 'clocks[0].name', 'x'.repeat(64)],
  ['sensors[0].name', 'sensors[0].name', 'x'.repeat(64)],
  ['sensors[3].axes', 'sensors[3].axes', []],
  ['sensors[3].axes', 'sensors[3].axes', Array.from({ length: 64 }, (_, i) => ({ name: `a${i}` }))],
  ['sensors[3].axes[0]', 'sensors[3].axes[0]', 'x'],
  ['sensors[3].axes[1].name', 'sensors[3].axes[1].name', 'y'.repeat(64)],
  ['sensors[3].axes[1].type', 'sensors[3].axes[1].type', -1],
  ['sensors[3].axes[1].unitExponent', 'sensors[3].axes[1].unitExponent', 16],
  ['sensors[3].axes[1].value.kind', 'sensors[3].axes[1].value', { kind: 'noise' }],
  ['sensors[3].axes[1].typo', 'sensors[3].axes[1].typo', 1],
  ['sensors[3].tripPoints', 'sensors[3].tripPoints', 1],
  ['sensors[3].timestamps', 'sensors[3].timestamps', 'yes'],
  ['sensors[3].timestampExponent', 'sensors[3].timestampExponent', 16],
  ['sensors[0].timestampExponent', 'sensors[0].timestampExponent', -3],
  ['sensors[3].updateIntervalsMs', 'sensors[3].updateIntervalsMs', []],
  ['sensors[3].updateIntervalsMs', 'sensors[3].updateIntervalsMs', 'fast'],
  ['sensors[3].updateIntervalsMs[1]', 'sensors[3].updateIntervalsMs', [10, 5]],
  ['sensors[3].updateIntervalsMs[0]', 'sensors[3].updateIntervalsMs', [0]],
  ['sensors[3].updateIntervalsMs[0]', 'sensors[3].updateIntervalsMs', [0.0001]],
  ['sensors[3].updateIntervalsMs[0]', 'sensors[3].updateIntervalsMs', [65536]],
  [
    'sensors[3].updateIntervalsMs.max',
    'sensors[3].updateIntervalsMs',
    { min: 10, max: 5, step: 1 },
  ],
  [
    'sensors[3].updateIntervalsMs.step',
    'sensors[3].updateIntervalsMs',
    { min: 1, max: 2, step: 0 },
  ],
  ['sensors[3].updateIntervalsMs.typo', 'sensors[3].updateIntervalsMs', { min: 1, typo: 1 }],
  ['sensors[3].updateIntervalMs', 'sensors[3].updateIntervalMs', 15],
  ['sensors[2].updateIntervalMs', 'sensors[2].updateIntervalMs', 150],
  ['sensors[0].updateIntervalMs', 'sensors[0].updateIntervalMs', 10],
  ['sensors[0].type', 'sensors[0].type', 256],
  ['sensors[0].unitExponent', 'sensors[0].unitExponent', 16],
  ['sensors[0].tripPoints', 'sensors[0].tripPoints', 300],
  ['sensors[0].readLatencyMs', 'sensors[0].readLatencyMs', -1],
  // Past 2^31 − 1 ms Node's timers fire after 1 ms.
  ['sensors[0].readLatencyMs', 'sensors[0].readLatencyMs', 2 ** 31],
  ['sensors[3].updateIntervalsMs[0]', 'sensors[3].updateIntervalsMs', [3e9]],
  [
    'sensors[3].updateIntervalsMs.max',
    'sensors[3].updateIntervalsMs',
    { min: 10, max: 3e9, step: 10 },
  ],
  ['sensors[0].value', 'sensors[0].value', 3],
  ['sensors[0].value.kind', 'sensors[0].value', { kind: 'square' }],
  ['sensors[0].value.periodMs', 'sensors[0].value.periodMs', 0],
  ['sensors[0].value.amplitude', 'sensors[0].value.amplitude', -1],
  ['sensors[0].value.phase', 'sensors[0].value.phase', 2],
  ['sensors[0].value.noise.amplitude', 'sensors[0].value.noise.amplitude', 'loud'],
  ['sensors[0].value.noise.seed', 'sensors[0].value.noise', { amplitude: 1, seed: -1 }],
  ['sensors[1].value.values', 'sensors[1].value.values', []],
  ['sensors[1].value.values[0]', 'sensors[1].value.values', [Infinity]],
  ['sensors[1].value.intervalMs', 'sensors[1].value.intervalMs', -5],
  // Positive but below 1 ms: t / periodMs overflows to Infinity and every reading would be NaN.
  ['sensors[0].value.periodMs', 'sensors[0].value.periodMs', 5e-324],
  ['sensors[2].value.periodMs', 'sensors[2].value.periodMs', 1e-310],
  ['sensors[1].value.intervalMs', 'sensors[1].value.intervalMs', 5e-324],
  ['sensors[3].axes[0].value.periodMs', 'sensors[3].axes[0].value.periodMs', 0.5],
  ['sensors[2].value.from', 'sensors[2].value.from', '100'],
  ['sensors[2].value.to', 'sensors[2].value.to', undefined],
  ['sensors[0].value.value', 'sensors[0].value', { kind: 'constant', value: 2 ** 60 }],
  ['sensors[0].enabled', 'sensors[0].enabled', 'on'],
  ['resetDomains[0].latencyUs', 'resetDomains[0].latencyUs', 0x7fffffff],
  ['resetDomains[0].asyncReset', 'resetDomains[0].asyncReset', null],
];

const holes: [string, string, number][] = [
  // [field that must be named, path of the array, index of the hole]
  // A leading hole once reached a findIndex callback as undefined: a raw TypeError.
  ['agents[0]', 'agents', 0],
  // A trailing hole once passed, and new ScmiPlatform then threw a TypeError.
  ['agents[2]', 'agents', 2],
  // Once accepted: POWER_ATTRIBUTES counted the hole as a domain whose commands fail.
  ['powerDomains[0]', 'powerDomains', 0],
  ['performanceDomains[2]', 'performanceDomains', 2],
  ['clocks[4]', 'clocks', 4],
  ['sensors[4]', 'sensors', 4],
  ['resetDomains[3]', 'resetDomains', 3],
  ['devices[3]', 'devices', 3],
  ['agents[0].protocols[6]', 'agents[0].protocols', 6],
  ['agents[1].domains.power[1]', 'agents[1].domains.power', 1],
  ['powerDomains[2].states[3]', 'powerDomains[2].states', 3],
  ['performanceDomains[0].levels[4]', 'performanceDomains[0].levels', 4],
  ['clocks[1].rates[3]', 'clocks[1].rates', 3],
  ['clocks[2].parents[2]', 'clocks[2].parents', 2],
  ['sensors[3].axes[3]', 'sensors[3].axes', 3],
  ['sensors[3].updateIntervalsMs[4]', 'sensors[3].updateIntervalsMs', 4],
  ['sensors[1].value.values[4]', 'sensors[1].value.values', 4],
  ['sensors[1].value.values[0]', 'sensors[1].value.values', 0],
];

describe(validatePlatformConfig, () => {
  it('should accept the default configuration and return it frozen', () => {
    const config = validatePlatformConfig(base());
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.agents[0])).toBe(true);
    expect(config).toEqual(createDefaultPlatformConfig());
  });

  it('should fill in defaults', () => {
    const config = validatePlatformConfig({
      vendor: 'v',
      subVendor: 's',
      implementationVersion: 1,
      agents: [
        { id: 1, name: 'a', protocols: ['clock', 'power', 'performance', 'sensor', 'reset'] },
      ],
      clocks: [{ name: 'c', rates: { min: 10, max: 30, step: 10 } }],
      powerDomains: [{ name: 'p' }],
      performanceDomains: [
        {
          name: 'f',
          levels: [
            { value: 1, powerCost: 1, latencyUs: 1 },
            { value: 2, powerCost: 2, latencyUs: 2 },
          ],
        },
      ],
      sensors: [
        { name: 's', type: 1, value: { kind: 'sine', offset: 0, amplitude: 1, periodMs: 1 } },
      ],
      resetDomains: [{ name: 'r' }],
    });
    expect(config.agents[0]).toMatchObject({ trusted: false });
    expect(config.agents[0]?.domains).toBeUndefined();
    expect(config.devices).toEqual([]);
    expect(config.systemPower).toBeUndefined();
    expect(config.performancePowerInMilliwatts).toBe(true);
    expect(config.clocks?.[0]).toEqual({
      name: 'c',
      rates: { min: 10, max: 30, step: 10 },
      rate: 10,
      enabled: true,
      parents: [],
      enableLatencyUs: 0,
      canSetState: true,
      canSetParent: true,
      canSetRate: true,
    });
    expect(config.powerDomains?.[0]).toEqual({
      name: 'p',
      states: [0, 0x40000000],
      state: 0,
      asyncSet: false,
    });
    expect(config.performanceDomains?.[0]).toMatchObject({
      level: 2,
      limits: { min: 1, max: 2 },
      sustainedLevel: 2,
      sustainedFreqKhz: 0,
      rateLimitUs: 0,
      canSetLevel: true,
      canSetLimits: true,
    });
    expect(config.sensors?.[0]).toMatchObject({
      unitExponent: 0,
      tripPoints: 0,
      asyncRead: false,
      enabled: true,
      value: { phase: 0 },
    });
    expect(config.resetDomains?.[0]).toEqual({ name: 'r', asyncReset: false });
  });

  it('should default the update interval to the shortest, and accept µs and ranges', () => {
    const sensor = (updateIntervalsMs: unknown): unknown => ({
      name: 's',
      type: 1,
      value: { kind: 'constant', value: 0 },
      updateIntervalsMs,
    });
    const config = validatePlatformConfig({
      vendor: 'v',
      subVendor: 's',
      implementationVersion: 1,
      agents: [{ id: 1, name: 'a', protocols: ['sensor'] }],
      sensors: [sensor([0.5, 1.25, 65_535_000]), sensor({ min: 0.001, max: 10, step: 0.001 })],
    });
    expect(config.sensors?.map((x) => x.updateIntervalMs)).toEqual([0.5, 0.001]);
  });

  it("should default each axis to its sensor's type, unit exponent and value", () => {
    const value = { kind: 'constant', value: 5 } as const;
    const config = validatePlatformConfig({
      vendor: 'v',
      subVendor: 's',
      implementationVersion: 1,
      agents: [{ id: 1, name: 'a', protocols: ['sensor'] }],
      sensors: [
        {
          name: 'imu',
          type: 0x59,
          unitExponent: -3,
          value,
          axes: [
            { name: 'x' },
            { name: 'y', type: 2, unitExponent: 1, value: { ...value, value: 6 } },
          ],
        },
      ],
    });
    expect(config.sensors?.[0]?.axes).toEqual([
      { name: 'x', type: 0x59, unitExponent: -3, value },
      { name: 'y', type: 2, unitExponent: 1, value: { kind: 'constant', value: 6 } },
    ]);
  });

  it('should reject a value that is not an object', () => {
    expect(fieldOf(() => validatePlatformConfig(null))).toBe('');
    expect(fieldOf(() => validatePlatformConfig([]))).toBe('');
  });

  it.each(cases)('should name %s when %s is %p', (field, path, value) => {
    expect(fieldOf(() => validatePlatformConfig(set(base(), path, value)))).toBe(field);
  });

  it.each(holes)('should name %s when %s has a hole at %p', (field, path, at) => {
    const config = base();
    const items = withHole(get(config, path) as unknown[], at);
    set(config, path, items);
    // fieldOf rethrows anything but a ScmiConfigError (a TypeError from a half-built config).
    expect(fieldOf(() => validatePlatformConfig(config))).toBe(field);
    expect(() => validatePlatformConfig(config)).toThrow(`${field}: must not be a hole`);
    expect(at in items).toBe(false); // the input is left as it was, not filled in
  });

  it('should take 1 ms as the shortest generator period or interval', () => {
    const below = 1 - Number.EPSILON / 2; // the largest double below 1
    const config = (periodMs: number): Json => {
      const c = set(base(), 'sensors[0].value.periodMs', periodMs);
      set(c, 'sensors[2].value.periodMs', periodMs);
      return set(c, 'sensors[1].value.intervalMs', periodMs);
    };
    const accepted = validatePlatformConfig(config(1));
    expect(accepted.sensors?.slice(0, 3).map((s) => s.value)).toMatchObject([
      { periodMs: 1 },
      { intervalMs: 1 },
      { periodMs: 1 },
    ]);
    // At the shortest period every reading is still an integer, however late.
    for (const s of accepted.sensors ?? []) {
      for (const t of [0, 0.5, 2 ** 40 + 0.25, MAX_TIMER_MS * 1000]) {
        expect(Number.isSafeInteger(sensorReading(s.value, t, 1))).toBe(true);
      }
    }
    expect(fieldOf(() => validatePlatformConfig(config(below)))).toBe('sensors[0].value.periodMs');
    expect(
      fieldOf(() => validatePlatformConfig(set(base(), 'sensors[1].value.intervalMs', below))),
    ).toBe('sensors[1].value.intervalMs');
    expect(
      fieldOf(() => validatePlatformConfig(set(base(), 'sensors[2].value.periodMs', below))),
    ).toBe('sensors[2].value.periodMs');
  });

  it('should cut a long string it quotes in a message, naming the field', () => {
    let thrown: unknown;
    try {
      validatePlatformConfig(set(base(), 'implementationVersion', 'x'.repeat(100_000)));
    } catch (error: unknown) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ field: 'implementationVersion' });
    expect((thrown as Error).message.length).toBeLessThan(300);
  });

  describe('clock parent loops', () => {
    /** A configuration of the clocks `clocks`, for agent 1. */
    const withClocks = (clocks: unknown[]): Json => ({
      vendor: 'v',
      subVendor: 's',
      implementationVersion: 1,
      agents: [{ id: 1, name: 'a', protocols: ['clock'] }],
      clocks,
    });

    it('should refuse initial parents that form a loop, naming the chain at its first clock', () => {
      const loop = withClocks([
        { name: 'a', rates: [1], parents: [1] },
        { name: 'b', rates: [2], parents: [0] },
      ]);
      expect(fieldOf(() => validatePlatformConfig(loop))).toBe('clocks[0].parents[0]');
      expect(() => validatePlatformConfig(loop)).toThrow(
        'clocks[0].parents[0]: the initial parents form a loop of 2 clocks: 0 "a" → 1 "b" → 0 "a"',
      );
    });

    it('should name the parent field of a clock that sets one, and a loop that does not start at 0', () => {
      const loop = withClocks([
        { name: 'root', rates: [1] },
        { name: 'x', rates: [1], parents: [0, 3], parent: 3 },
        { name: 'y', rates: [1], parents: [1] },
        { name: 'z', rates: [1], parents: [2] },
        { name: 'leaf', rates: [1], parents: [3] },
      ]);
      expect(() => validatePlatformConfig(loop)).toThrow(
        'clocks[1].parent: the initial parents form a loop of 3 clocks: 1 "x" → 3 "z" → 2 "y" → 1 "x"',
      );
    });

    it('should cut the chain of a long loop', () => {
      const ring = Array.from({ length: 1000 }, (_, i) => ({
        name: `c${i}`,
        rates: [1],
        parents: [(i + 1) % 1000],
      }));
      let thrown: unknown;
      try {
        validatePlatformConfig(withClocks(ring));
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ field: 'clocks[0].parents[0]' });
      expect((thrown as Error).message).toMatch(
        /loop of 1000 clocks: 0 "c0" → 1 "c1" → .* → … → 0 "c0"/,
      );
      expect((thrown as Error).message.length).toBeLessThan(300);
    });

    it('should accept possible parents that could form a loop when the initial ones do not', () => {
      const config = validatePlatformConfig(
        withClocks([
          { name: 'a', rates: [1] },
          { name: 'b', rates: [2], parents: [0, 2] },
          { name: 'c', rates: [3], parents: [1] },
        ]),
      );
      expect(config.clocks?.map((c) => c.parent)).toEqual([undefined, 0, 1]);
    });
  });

  it.each([0, 1, 2, 3, 4, 0x80000000, 0xc0000001, 0xffffffff])(
    'should accept the system power state %p (defined, or vendor: bit 31 set)',
    (state) => {
      const config = validatePlatformConfig(set(base(), 'systemPower.state', state));
      expect(config.systemPower).toEqual({ state, gracefulTimeoutMs: 0 });
    },
  );

  it('should take a graceful timeout for SYSTEM_POWER_STATE_NOTIFIER, a u32 in ms', () => {
    const path = 'systemPower.gracefulTimeoutMs';
    expect(validatePlatformConfig(set(base(), path, 0xffffffff)).systemPower).toEqual({
      state: 3,
      gracefulTimeoutMs: 0xffffffff,
    });
    for (const bad of [-1, 2 ** 32, 1.5, '10']) {
      expect(() => validatePlatformConfig(set(base(), path, bad))).toThrow(`${path}: must be`);
    }
  });

  it.each([5, 7, 0x7fffffff, -1, 2 ** 32])(
    'should refuse the reserved system power state %p, saying which states are allowed',
    (state) => {
      expect(() => validatePlatformConfig(set(base(), 'systemPower.state', state))).toThrow(
        `systemPower.state: must be 0 shutdown, 1 cold reset, 2 warm reset, 3 power up, 4 suspend, or a vendor state (bit 31 set: 0x80000000 … 0xFFFFFFFF), got ${state}`,
      );
    },
  );

  it('should say that a performance level value duplicates another, and when levels descend', () => {
    const levels = 'performanceDomains[0].levels';
    const level = (value: number): Json => ({ value, powerCost: 1, latencyUs: 1 });
    expect(() =>
      validatePlatformConfig(set(base(), levels, [level(1), level(2), level(2)])),
    ).toThrow(`${levels}[2].value: duplicates levels[1].value (2)`);
    expect(() =>
      validatePlatformConfig(set(base(), levels, [level(1), level(3), level(1)])),
    ).toThrow(`${levels}[2].value: duplicates levels[0].value (1)`);
    expect(() =>
      validatePlatformConfig(set(base(), levels, [level(1), level(3), level(2)])),
    ).toThrow(`${levels}[2].value: levels must ascend by value (2 follows 3)`);
  });

  it.each([
    [
      'clocks[0].rates',
      '24MHz',
      'a list of rates or a { min, max, step } range (in Hz), got "24MHz"',
    ],
    ['clocks[0].rates', 24, 'a list of rates or a { min, max, step } range (in Hz), got 24'],
    ['clocks[0].rates', null, 'a list of rates or a { min, max, step } range (in Hz), got null'],
    [
      'sensors[3].updateIntervalsMs',
      'fast',
      'a list of intervals or a { min, max, step } range (in ms), got "fast"',
    ],
  ])('should say that %s may be a list or a range when it is %p', (path, value, message) => {
    expect(() => validatePlatformConfig(set(base(), path, value))).toThrow(
      `${path}: must be ${message}`,
    );
  });

  it.each([0, 3, 0xffffffff, -1])(
    'should say that agent ids are 1 to the number of agents when one is %p',
    (id) => {
      expect(() => validatePlatformConfig(set(base(), 'agents[0].id', id))).toThrow(
        `agents[0].id: must be 1 … 2 (agents are numbered 1 to the number of agents), got ${id}`,
      );
    },
  );

  it('should put the field and the reason in the message', () => {
    expect(() => validatePlatformConfig(set(base(), 'clocks[0].rates.step', 0))).toThrow(
      'invalid configuration: clocks[0].rates.step: must be in 1 … 9007199254740991, got 0',
    );
  });
});
