import { MAX_TIMER_MS } from '@scmi-ts/core';
import { types } from 'node:util';
import {
  array,
  bool,
  fail,
  int,
  join,
  name,
  num,
  object,
  optionalArray,
  optionalInt,
  show,
  type Plain,
} from './config-checks.js';
import type {
  ClockConfig,
  PerformanceDomainConfig,
  PerformanceFastChannelsConfig,
  PerformanceLevelConfig,
  PlatformAgentConfig,
  PlatformConfig,
  PlatformDeviceConfig,
  PlatformDomainProtocol,
  PlatformDomainSet,
  PlatformProtocolName,
  PowerDomainConfig,
  ResetDomainConfig,
  SensorAxisConfig,
  SensorConfig,
  SensorIntervalRange,
  SensorNoiseConfig,
  SensorValueGenerator,
  SystemPowerConfig,
  VoltageDomainConfig,
} from './platform-config.js';
import { isLittleEndianHost } from '../protocols/performance/fast-channel-memory.js';
import { PERF_FAST_CHANNEL_SLOT_SIZE } from '../protocols/performance/performance-fast-channel-layout.js';
import { intervalToWire } from '../protocols/sensor/update-interval.js';

const U32 = 0xffffffff;
const MAX_DOMAINS = 0xffff;
const SHORT_NAME = 15;
const LONG_NAME = 63;
/** SENSOR_DESCRIPTION_GET attributes_high 21:16: at most 63 axes. */
const MAX_AXES = 63;
const GENERIC_ON = 0;
const GENERIC_OFF = 0x40000000;

const PROTOCOL_NAMES: readonly PlatformProtocolName[] = [
  'power',
  'system-power',
  'performance',
  'clock',
  'sensor',
  'reset',
  'voltage',
];
const DOMAIN_PROTOCOLS: readonly PlatformDomainProtocol[] = [
  'power',
  'performance',
  'clock',
  'sensor',
  'reset',
  'voltage',
];

/**
 * Checks an untrusted value (parsed JSON, a literal) against the platform configuration schema and
 * returns a normalized, frozen copy with every default filled in. Unknown fields are rejected, so
 * that a misspelt field cannot pass silently. Names are printable ASCII (0x20–0x7E) within their
 * field's size: SCMI names are ASCII, and a control character in one would be obeyed by whatever
 * terminal an agent prints it to (to test an agent against hostile names, rewrite them on the wire
 * with a `corrupt-bytes` fault rule, or answer it from your own `ScmiPlatformPort`). Arrays must
 * not have holes (`[, x]`): a hole is refused at its index, e.g. `agents[0]`. A value generator's
 * `periodMs` or `intervalMs` is a finite number of ms, at least 1. The fast channels' memory
 * (`performanceFastChannels.memory`) is kept as given, neither copied nor frozen: it is shared.
 *
 * @throws ScmiConfigError naming the first invalid field by its path, e.g. `clocks[2].rates.step`
 *   or `agents[1].protocols[0]`.
 * @example
 * ```ts
 * const config = validatePlatformConfig(JSON.parse(text));
 * const platform = new ScmiPlatform(config, { clock: new RealClock() });
 * ```
 */
export function validatePlatformConfig(value: unknown): PlatformConfig {
  const o = object(value, '', [
    'vendor',
    'subVendor',
    'implementationVersion',
    'agents',
    'devices',
    'powerDomains',
    'systemPower',
    'performanceDomains',
    'performancePowerInMilliwatts',
    'performanceVersion',
    'performanceFastChannels',
    'clocks',
    'sensors',
    'resetDomains',
    'voltageDomains',
  ]);
  const powerDomains = list(o.powerDomains, 'powerDomains', powerDomain);
  const performanceVersion = perfVersion(o.performanceVersion);
  const withFastChannels = o.performanceFastChannels !== undefined;
  const performanceDomains = list(o.performanceDomains, 'performanceDomains', (d, p) =>
    performanceDomain(d, p, performanceVersion, withFastChannels),
  );
  const performanceFastChannels = withFastChannels
    ? fastChannels(o.performanceFastChannels, performanceDomains)
    : undefined;
  const clocks = list(o.clocks, 'clocks', clock);
  clocks.forEach((c, i) => {
    checkParents(c, i, clocks.length);
  });
  checkParentLoops(clocks, o.clocks as readonly unknown[] | undefined);
  const sensors = list(o.sensors, 'sensors', sensor);
  const resetDomains = list(o.resetDomains, 'resetDomains', resetDomain);
  const voltageDomains = list(o.voltageDomains, 'voltageDomains', voltageDomain);
  const systemPower = o.systemPower === undefined ? undefined : system(o.systemPower);
  const counts: Record<PlatformDomainProtocol, number> = {
    power: powerDomains.length,
    performance: performanceDomains.length,
    clock: clocks.length,
    sensor: sensors.length,
    reset: resetDomains.length,
    voltage: voltageDomains.length,
  };
  const implemented = new Set<PlatformProtocolName>(DOMAIN_PROTOCOLS.filter((p) => counts[p] > 0));
  if (systemPower !== undefined) implemented.add('system-power');

  const agentsIn = array(o.agents, 'agents', 1, 255);
  const agents = agentsIn.map((a, i) =>
    agent(a, join('agents', i), counts, implemented, agentsIn.length),
  );
  agents.forEach((a, i) => {
    const first = agents.findIndex((b) => b.id === a.id);
    if (first !== i) fail(`agents[${i}].id`, `duplicates agents[${first}].id (${a.id})`);
  });
  const devices = list(o.devices, 'devices', (d, p) => device(d, p, counts));

  const config: PlatformConfig = {
    vendor: name(o.vendor, 'vendor', SHORT_NAME),
    subVendor: name(o.subVendor, 'subVendor', SHORT_NAME),
    implementationVersion: int(o.implementationVersion, 'implementationVersion', 0, U32),
    agents,
    devices,
    powerDomains,
    ...(systemPower === undefined ? {} : { systemPower }),
    performanceDomains,
    performancePowerInMilliwatts: bool(
      o.performancePowerInMilliwatts,
      'performancePowerInMilliwatts',
      true,
    ),
    performanceVersion,
    ...(performanceFastChannels === undefined ? {} : { performanceFastChannels }),
    clocks,
    sensors,
    resetDomains,
    voltageDomains,
  };
  return deepFreeze(config);
}

function list<T>(value: unknown, path: string, item: (v: unknown, path: string) => T): T[] {
  const items = optionalArray(value, path, 0, MAX_DOMAINS) ?? [];
  return items.map((v, i) => item(v, join(path, i)));
}

function agent(
  value: unknown,
  path: string,
  counts: Record<PlatformDomainProtocol, number>,
  implemented: ReadonlySet<PlatformProtocolName>,
  agentCount: number,
): PlatformAgentConfig {
  const o = object(value, path, ['id', 'name', 'protocols', 'domains', 'trusted']);
  const protocols = array(o.protocols, join(path, 'protocols')).map((p, i) => {
    const at = join(join(path, 'protocols'), i);
    if (typeof p !== 'string' || !PROTOCOL_NAMES.includes(p as PlatformProtocolName)) {
      return fail(at, `must be one of ${PROTOCOL_NAMES.join(', ')}`);
    }
    const proto = p as PlatformProtocolName;
    if (!implemented.has(proto))
      fail(at, `protocol ${proto} is not implemented: the configuration gives it no domain`);
    return proto;
  });
  protocols.forEach((p, i) => {
    if (protocols.indexOf(p) !== i) fail(join(join(path, 'protocols'), i), `duplicates ${p}`);
  });
  const domains =
    o.domains === undefined ? undefined : domainSet(o.domains, join(path, 'domains'), counts);
  for (const p of Object.keys(domains ?? {})) {
    if (!protocols.includes(p as PlatformDomainProtocol)) {
      fail(join(join(path, 'domains'), p), `the agent may not use protocol ${p}`);
    }
  }
  return {
    id: agentId(o.id, join(path, 'id'), agentCount),
    name: name(o.name, join(path, 'name'), SHORT_NAME),
    protocols,
    ...(domains === undefined ? {} : { domains }),
    trusted: bool(o.trusted, join(path, 'trusted'), false),
  };
}

/**
 * Reads an agent id: Base PROTOCOL_ATTRIBUTES says num_agents and BASE_DISCOVER_AGENT answers ids
 * 1 to it (SCP's scmi_base_discover_agent_handler: NOT_FOUND above agent_count), so unique ids up
 * to the count are exactly 1 … num_agents.
 */
function agentId(value: unknown, path: string, count: number): number {
  const id = int(value, path, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (id < 1 || id > count) {
    fail(path, `must be 1 … ${count} (agents are numbered 1 to the number of agents), got ${id}`);
  }
  return id;
}

function device(
  value: unknown,
  path: string,
  counts: Record<PlatformDomainProtocol, number>,
): PlatformDeviceConfig {
  const o = object(value, path, ['name', 'domains']);
  return {
    name: name(o.name, join(path, 'name'), LONG_NAME),
    domains: domainSet(o.domains, join(path, 'domains'), counts),
  };
}

function domainSet(
  value: unknown,
  path: string,
  counts: Record<PlatformDomainProtocol, number>,
): PlatformDomainSet {
  const o = object(value, path, DOMAIN_PROTOCOLS);
  const out: Partial<Record<PlatformDomainProtocol, readonly number[]>> = {};
  for (const p of DOMAIN_PROTOCOLS) {
    const ids = optionalArray(o[p], join(path, p));
    if (ids === undefined) continue;
    const seen = new Set<number>();
    out[p] = ids.map((v, i) => {
      const at = join(join(path, p), i);
      if (counts[p] === 0) fail(at, `protocol ${p} has no domain on this platform`);
      const id = int(v, at, 0, counts[p] - 1);
      if (seen.has(id)) fail(at, `duplicates domain ${id}`);
      seen.add(id);
      return id;
    });
  }
  return out;
}

function powerDomain(value: unknown, path: string): PowerDomainConfig {
  const o = object(value, path, ['name', 'states', 'state', 'asyncSet']);
  const states = (
    optionalArray(o.states, join(path, 'states'), 1) ?? [GENERIC_ON, GENERIC_OFF]
  ).map((s, i) => int(s, join(join(path, 'states'), i), 0, U32));
  states.forEach((s, i) => {
    if (states.indexOf(s) !== i) fail(join(join(path, 'states'), i), `duplicates state ${s}`);
  });
  const state = optionalInt(o.state, join(path, 'state'), 0, U32, states[0] as number);
  if (!states.includes(state)) fail(join(path, 'state'), `${state} is not one of states`);
  return {
    name: name(o.name, join(path, 'name'), LONG_NAME),
    states,
    state,
    asyncSet: bool(o.asyncSet, join(path, 'asyncSet'), false),
  };
}

/** The highest system state SCMI defines (4 suspend); 5 … 0x7FFFFFFF are reserved. */
const MAX_SYSTEM_STATE = 4;
/** System states with bit 31 set are vendor defined (DEN0056 SYSTEM_POWER_STATE_SET). */
const VENDOR_SYSTEM_STATE = 0x80000000;

function system(value: unknown): SystemPowerConfig {
  const o = object(value, 'systemPower', ['state', 'gracefulTimeoutMs']);
  const path = 'systemPower.state';
  const state = optionalInt(o.state, path, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 3);
  const defined = state >= 0 && state <= MAX_SYSTEM_STATE;
  const vendor = state >= VENDOR_SYSTEM_STATE && state <= U32;
  if (!defined && !vendor) {
    fail(
      path,
      `must be 0 shutdown, 1 cold reset, 2 warm reset, 3 power up, 4 suspend, or a vendor state (bit 31 set: 0x80000000 … 0xFFFFFFFF), got ${state}`,
    );
  }
  const gracefulTimeoutMs = optionalInt(
    o.gracefulTimeoutMs,
    'systemPower.gracefulTimeoutMs',
    0,
    U32,
    0,
  );
  return { state, gracefulTimeoutMs };
}

/** The Performance versions the platform speaks (see `PlatformConfig.performanceVersion`). */
const PERF_VERSIONS: readonly number[] = [0x30000, 0x40000];

function perfVersion(value: unknown): number {
  const version = optionalInt(value, 'performanceVersion', 0, U32, 0x30000);
  if (!PERF_VERSIONS.includes(version)) {
    fail('performanceVersion', `must be 0x30000 or 0x40000, got 0x${version.toString(16)}`);
  }
  return version;
}

/** SCP-firmware's SCMI_PERF_FC_MIN_RATE_LIMIT, in µs: the default fast-channel rate limit. */
const FAST_CHANNEL_RATE_LIMIT_US = 4000;
/** PERF_DESCRIBE_FASTCHANNEL rate_limit bits 19:0. */
const MAX_RATE_LIMIT_US = 0xfffff;
/** One past the highest address of a 64-bit address space (chan_addr_high:low). */
const ADDRESS_SPACE_END = 1n << 64n;

/**
 * Reads `performanceFastChannels`, given the validated domains: the memory must hold the slot of
 * every domain with `fastChannels`. The memory is kept as given (shared with the agent).
 */
function fastChannels(
  value: unknown,
  domains: readonly PerformanceDomainConfig[],
): PerformanceFastChannelsConfig {
  const path = 'performanceFastChannels';
  const o = object(value, path, ['memory', 'base', 'rateLimitUs']);
  if (!isLittleEndianHost()) {
    fail(path, 'needs a little-endian host: the fast-channel words are little-endian u32s');
  }
  const mp = join(path, 'memory');
  const memory = o.memory;
  if (!types.isSharedArrayBuffer(memory) && !types.isArrayBuffer(memory)) {
    return fail(mp, `must be a SharedArrayBuffer or an ArrayBuffer, got ${show(memory)}`);
  }
  // A resizable ArrayBuffer could shrink under the channels (a growable SharedArrayBuffer only
  // grows: the slots stay where they are).
  if ((memory as { readonly resizable?: unknown }).resizable === true) {
    fail(mp, 'must not be a resizable ArrayBuffer: it could shrink under the channels');
  }
  let last = -1;
  domains.forEach((d, i) => {
    if (d.fastChannels === true) last = i;
  });
  if (last < 0) {
    fail(
      path,
      'no performance domain has fastChannels: true — mark the domains that have fast channels, or leave performanceFastChannels out',
    );
  }
  const needed = (last + 1) * PERF_FAST_CHANNEL_SLOT_SIZE;
  if (memory.byteLength < needed) {
    fail(
      mp,
      `must hold ${needed} bytes (a ${PERF_FAST_CHANNEL_SLOT_SIZE}-byte slot per domain up to performanceDomains[${last}], the last with fastChannels), got ${memory.byteLength}`,
    );
  }
  const bp = join(path, 'base');
  const base = o.base;
  if (typeof base !== 'bigint') {
    return fail(bp, `must be a bigint (the agent's address of the memory), got ${show(base)}`);
  }
  if (base < 0n || base % 8n !== 0n) {
    fail(bp, `must be a non-negative multiple of 8, got 0x${base.toString(16)}`);
  }
  if (base + BigInt(memory.byteLength) > ADDRESS_SPACE_END) {
    fail(
      bp,
      `must leave room for the memory below 2^64: 0x${base.toString(16)} + ${memory.byteLength} bytes is past it`,
    );
  }
  return {
    memory,
    base,
    rateLimitUs: optionalInt(
      o.rateLimitUs,
      join(path, 'rateLimitUs'),
      1,
      MAX_RATE_LIMIT_US,
      FAST_CHANNEL_RATE_LIMIT_US,
    ),
  };
}

function performanceDomain(
  value: unknown,
  path: string,
  version: number,
  withFastChannels: boolean,
): PerformanceDomainConfig {
  const o = object(value, path, [
    'name',
    'levels',
    'level',
    'limits',
    'sustainedLevel',
    'sustainedFreqKhz',
    'rateLimitUs',
    'canSetLevel',
    'canSetLimits',
    'levelIndexing',
    'fastChannels',
  ]);
  const fastChannelsOn = bool(o.fastChannels, join(path, 'fastChannels'), false);
  if (fastChannelsOn && !withFastChannels) {
    fail(join(path, 'fastChannels'), 'needs performanceFastChannels (the memory of the channels)');
  }
  const levelIndexing = bool(o.levelIndexing, join(path, 'levelIndexing'), false);
  if (levelIndexing && version < 0x40000) {
    fail(join(path, 'levelIndexing'), 'needs performanceVersion 0x40000 (SCMI v3.2)');
  }
  const levelsPath = join(path, 'levels');
  const levels = array(o.levels, levelsPath, 1, MAX_DOMAINS).map((l, i) =>
    level(l, join(levelsPath, i), version, levelIndexing, i),
  );
  levels.forEach((l, i) => {
    const prev = levels[i - 1];
    if (prev !== undefined && l.value <= prev.value) {
      const same = levels.findIndex((m) => m.value === l.value);
      fail(
        join(join(levelsPath, i), 'value'),
        same < i
          ? `duplicates levels[${same}].value (${l.value})`
          : `levels must ascend by value (${l.value} follows ${prev.value})`,
      );
    }
    if (!levelIndexing) return;
    // Each unique, as the agent looks a level up by either (Linux's opps_by_idx, opps_by_freq).
    const first = levels.findIndex((m) => m.index === l.index);
    if (first !== i) fail(join(join(levelsPath, i), 'index'), `duplicates levels[${first}].index`);
    if ((l.indicativeFreqKhz ?? 0) === 0) {
      fail(
        join(join(levelsPath, i), 'indicativeFreqKhz'),
        'is required (non-zero) in level indexing mode',
      );
    }
    const same = levels.findIndex((m) => m.indicativeFreqKhz === l.indicativeFreqKhz);
    if (same !== i) {
      fail(
        join(join(levelsPath, i), 'indicativeFreqKhz'),
        `duplicates levels[${same}].indicativeFreqKhz`,
      );
    }
  });
  const values = levels.map((l) => l.value);
  const lowest = values[0] as number;
  const highest = values[values.length - 1] as number;
  const oneOf = (v: unknown, at: string, fallback: number): number => {
    const n = optionalInt(v, at, 0, U32, fallback);
    if (!values.includes(n)) fail(at, `${n} is not a level value`);
    return n;
  };
  let limits = { min: lowest, max: highest };
  if (o.limits !== undefined) {
    const lp = join(path, 'limits');
    const l = object(o.limits, lp, ['min', 'max']);
    limits = {
      min: oneOf(l.min, join(lp, 'min'), lowest),
      max: oneOf(l.max, join(lp, 'max'), highest),
    };
    if (limits.min > limits.max) fail(join(lp, 'min'), 'must not exceed limits.max');
  }
  const current = oneOf(o.level, join(path, 'level'), limits.max);
  if (current < limits.min || current > limits.max)
    fail(join(path, 'level'), 'must be within limits');
  return {
    name: name(o.name, join(path, 'name'), LONG_NAME),
    levels,
    level: current,
    limits,
    sustainedLevel: optionalInt(o.sustainedLevel, join(path, 'sustainedLevel'), 0, U32, highest),
    sustainedFreqKhz: optionalInt(o.sustainedFreqKhz, join(path, 'sustainedFreqKhz'), 0, U32, 0),
    rateLimitUs: optionalInt(o.rateLimitUs, join(path, 'rateLimitUs'), 0, 0xfffff, 0),
    canSetLevel: bool(o.canSetLevel, join(path, 'canSetLevel'), true),
    canSetLimits: bool(o.canSetLimits, join(path, 'canSetLimits'), true),
    levelIndexing,
    // Left out when false: the configuration written out in full (examples/default.platform.json)
    // predates the field.
    ...(fastChannelsOn ? { fastChannels: true } : {}),
  };
}

function level(
  value: unknown,
  path: string,
  version: number,
  levelIndexing: boolean,
  position: number,
): PerformanceLevelConfig {
  const o = object(value, path, ['value', 'powerCost', 'latencyUs', 'indicativeFreqKhz', 'index']);
  if (version < 0x40000 && o.indicativeFreqKhz !== undefined) {
    fail(join(path, 'indicativeFreqKhz'), 'reaches the wire from performanceVersion 0x40000 only');
  }
  if (!levelIndexing && o.index !== undefined) {
    fail(
      join(path, 'index'),
      "is for a domain in level indexing mode (its domain's levelIndexing)",
    );
  }
  return {
    value: int(o.value, join(path, 'value'), 0, U32),
    powerCost: int(o.powerCost, join(path, 'powerCost'), 0, U32),
    latencyUs: int(o.latencyUs, join(path, 'latencyUs'), 0, 0xffff),
    ...(o.indicativeFreqKhz === undefined
      ? {}
      : { indicativeFreqKhz: int(o.indicativeFreqKhz, join(path, 'indicativeFreqKhz'), 0, U32) }),
    ...(levelIndexing
      ? { index: optionalInt(o.index, join(path, 'index'), 1, U32, position + 1) }
      : {}),
  };
}

function clock(value: unknown, path: string): ClockConfig {
  const o = object(value, path, [
    'name',
    'rates',
    'rate',
    'enabled',
    'parents',
    'parent',
    'enableLatencyUs',
    'canSetState',
    'canSetParent',
    'canSetRate',
  ]);
  const rp = join(path, 'rates');
  let rates: ClockConfig['rates'];
  let lowest: number;
  if (Array.isArray(o.rates)) {
    const list = array(o.rates, rp, 1, MAX_DOMAINS).map((r, i) =>
      int(r, join(rp, i), 0, Number.MAX_SAFE_INTEGER),
    );
    list.forEach((r, i) => {
      const prev = list[i - 1];
      if (prev !== undefined && r <= prev) fail(join(rp, i), 'rates must ascend strictly');
    });
    rates = list;
    lowest = list[0] as number;
  } else {
    if (typeof o.rates !== 'object' || o.rates === null) {
      fail(
        rp,
        `must be a list of rates or a { min, max, step } range (in Hz), got ${show(o.rates)}`,
      );
    }
    const r = object(o.rates, rp, ['min', 'max', 'step']);
    const min = int(r.min, join(rp, 'min'), 0, Number.MAX_SAFE_INTEGER);
    const max = int(r.max, join(rp, 'max'), min, Number.MAX_SAFE_INTEGER);
    const step = int(r.step, join(rp, 'step'), 1, Number.MAX_SAFE_INTEGER);
    rates = { min, max, step };
    lowest = min;
  }
  const rate = optionalInt(o.rate, join(path, 'rate'), 0, Number.MAX_SAFE_INTEGER, lowest);
  if (!isSupportedRate(rates, rate)) fail(join(path, 'rate'), `${rate} is not a supported rate`);
  const parents = (optionalArray(o.parents, join(path, 'parents'), 0, 255) ?? []).map((p, i) =>
    int(p, join(join(path, 'parents'), i), 0, MAX_DOMAINS - 1),
  );
  let parent: number | undefined;
  if (o.parent !== undefined) {
    parent = int(o.parent, join(path, 'parent'), 0, MAX_DOMAINS - 1);
    if (!parents.includes(parent)) fail(join(path, 'parent'), `${parent} is not one of parents`);
  } else {
    parent = parents[0];
  }
  return {
    name: name(o.name, join(path, 'name'), LONG_NAME),
    rates,
    rate,
    enabled: bool(o.enabled, join(path, 'enabled'), true),
    parents,
    ...(parent === undefined ? {} : { parent }),
    enableLatencyUs: optionalInt(o.enableLatencyUs, join(path, 'enableLatencyUs'), 0, U32, 0),
    canSetState: bool(o.canSetState, join(path, 'canSetState'), true),
    canSetParent: bool(o.canSetParent, join(path, 'canSetParent'), true),
    canSetRate: bool(o.canSetRate, join(path, 'canSetRate'), true),
  };
}

function checkParents(c: ClockConfig, index: number, count: number): void {
  const parents = c.parents ?? [];
  parents.forEach((p, i) => {
    const at = `clocks[${index}].parents[${i}]`;
    if (p >= count) fail(at, `clock ${p} does not exist`);
    if (p === index) fail(at, 'a clock cannot be its own parent');
    if (parents.indexOf(p) !== i) fail(at, `duplicates parent ${p}`);
  });
}

/** The most clocks of a parent loop an error message names before it cuts the chain. */
const MAX_CHAIN_SHOWN = 8;

/**
 * Refuses initial parents that form a loop (a → b → a): CLOCK_PARENT_GET would then describe a
 * clock tree no hardware has, and an agent following parents up to a root would never reach one
 * (Linux's clk framework assumes a tree: `__clk_recalc_rates` recurses into every child). Each clock's initial parent is
 * its `parent`, else the first of its `parents`; the loop is named at the lowest clock id in it,
 * at `clocks[i].parent` when that clock sets one, else at `clocks[i].parents[0]`. Possible parents
 * may form loops (a mux may take either of two clocks): only the assignment must stay a tree, and
 * CLOCK_PARENT_SET keeps it one.
 */
function checkParentLoops(
  clocks: readonly ClockConfig[],
  input: readonly unknown[] | undefined,
): void {
  // 0 not seen, 1 on the chain being followed, 2 known to reach a root (or a loop already seen).
  const seen = new Uint8Array(clocks.length);
  for (let start = 0; start < clocks.length; start++) {
    const chain: number[] = [];
    let at: number | undefined = start;
    while (at !== undefined && seen[at] === 0) {
      seen[at] = 1;
      chain.push(at);
      at = clocks[at]?.parent;
    }
    if (at !== undefined && seen[at] === 1) {
      const loop = chain.slice(chain.indexOf(at));
      const first = loop.reduce((a, b) => Math.min(a, b));
      const from = loop.indexOf(first);
      const ordered = [...loop.slice(from), ...loop.slice(0, from), first];
      const shown =
        ordered.length <= MAX_CHAIN_SHOWN + 1
          ? ordered
          : [...ordered.slice(0, MAX_CHAIN_SHOWN), undefined, first];
      const names = shown
        .map((i) => (i === undefined ? '…' : `${i} ${show(clocks[i]?.name)}`))
        .join(' → ');
      const explicit = (input?.[first] as Plain | undefined)?.parent !== undefined;
      fail(
        `clocks[${first}].${explicit ? 'parent' : 'parents[0]'}`,
        `the initial parents form a loop of ${loop.length} clocks: ${names} (a clock's initial parent is its parent, else the first of its parents)`,
      );
    }
    for (const i of chain) seen[i] = 2;
  }
}

/** True when `rate` is one of the clock's rates. @internal */
export function isSupportedRate(rates: ClockConfig['rates'], rate: number): boolean {
  if (isRateList(rates)) return rates.includes(rate);
  return rate >= rates.min && rate <= rates.max && (rate - rates.min) % rates.step === 0;
}

/** Narrows a clock's rates to the list form. @internal */
export function isRateList(rates: ClockConfig['rates']): rates is readonly number[] {
  return Array.isArray(rates);
}

function sensor(value: unknown, path: string): SensorConfig {
  const o = object(value, path, [
    'name',
    'type',
    'unitExponent',
    'value',
    'tripPoints',
    'asyncRead',
    'readLatencyMs',
    'enabled',
    'axes',
    'timestamps',
    'timestampExponent',
    'updateIntervalsMs',
    'updateIntervalMs',
  ]);
  const readLatencyMs =
    o.readLatencyMs === undefined
      ? undefined
      : num(o.readLatencyMs, join(path, 'readLatencyMs'), 0, MAX_TIMER_MS);
  const type = int(o.type, join(path, 'type'), 0, 255);
  const unitExponent = optionalInt(o.unitExponent, join(path, 'unitExponent'), -16, 15, 0);
  const gen = generator(o.value, join(path, 'value'));
  const tripPoints = optionalInt(o.tripPoints, join(path, 'tripPoints'), 0, 255, 0);
  const ap = join(path, 'axes');
  const axes = optionalArray(o.axes, ap, 1, MAX_AXES)?.map((a, i) =>
    axis(a, join(ap, i), type, unitExponent, gen),
  );
  if (axes !== undefined && tripPoints > 0) {
    fail(join(path, 'tripPoints'), 'trip points are for scalar sensors only (this one has axes)');
  }
  const timestamps = bool(o.timestamps, join(path, 'timestamps'), false);
  if (!timestamps && o.timestampExponent !== undefined) {
    fail(join(path, 'timestampExponent'), 'needs timestamps: true');
  }
  const updates = updateIntervals(o, path);
  return {
    name: name(o.name, join(path, 'name'), LONG_NAME),
    type,
    unitExponent,
    value: gen,
    tripPoints,
    asyncRead: bool(o.asyncRead, join(path, 'asyncRead'), false),
    ...(readLatencyMs === undefined ? {} : { readLatencyMs }),
    enabled: bool(o.enabled, join(path, 'enabled'), true),
    ...(axes === undefined ? {} : { axes }),
    ...updates,
    timestamps,
    ...(timestamps
      ? {
          timestampExponent: optionalInt(
            o.timestampExponent,
            join(path, 'timestampExponent'),
            -16,
            15,
            -6,
          ),
        }
      : {}),
  };
}

/** Reads one update interval in ms: positive, whole µs, representable on the wire. */
function interval(value: unknown, path: string): number {
  // Each interval may become the period of an update timer.
  const ms = num(value, path, 0, MAX_TIMER_MS);
  const us = Math.round(ms * 1000);
  if (ms === 0 || Math.abs(ms * 1000 - us) > 1e-6 || intervalToWire(us) === undefined) {
    fail(path, `must be a positive whole number of µs that fits sec × 10^exponent (sec ≤ 65535)`);
  }
  return ms;
}

function updateIntervals(
  o: Plain,
  path: string,
): Pick<SensorConfig, 'updateIntervalsMs' | 'updateIntervalMs'> {
  const lp = join(path, 'updateIntervalsMs');
  const ip = join(path, 'updateIntervalMs');
  if (o.updateIntervalsMs === undefined) {
    if (o.updateIntervalMs !== undefined) fail(ip, 'needs updateIntervalsMs');
    return {};
  }
  let intervals: readonly number[] | SensorIntervalRange;
  if (Array.isArray(o.updateIntervalsMs)) {
    const list = array(o.updateIntervalsMs, lp, 1, MAX_DOMAINS).map((v, i) =>
      interval(v, join(lp, i)),
    );
    list.forEach((v, i) => {
      const prev = list[i - 1];
      if (prev !== undefined && v <= prev) fail(join(lp, i), 'intervals must ascend strictly');
    });
    intervals = list;
  } else {
    if (typeof o.updateIntervalsMs !== 'object' || o.updateIntervalsMs === null) {
      fail(
        lp,
        `must be a list of intervals or a { min, max, step } range (in ms), got ${show(o.updateIntervalsMs)}`,
      );
    }
    const r = object(o.updateIntervalsMs, lp, ['min', 'max', 'step']);
    const min = interval(r.min, join(lp, 'min'));
    const max = interval(r.max, join(lp, 'max'));
    if (max < min) fail(join(lp, 'max'), 'must not be below min');
    intervals = { min, max, step: interval(r.step, join(lp, 'step')) };
  }
  const lowest = isIntervalList(intervals) ? (intervals[0] as number) : intervals.min;
  const initial = o.updateIntervalMs === undefined ? lowest : interval(o.updateIntervalMs, ip);
  if (!isSupportedInterval(intervals, initial)) fail(ip, `${initial} is not a supported interval`);
  return { updateIntervalsMs: intervals, updateIntervalMs: initial };
}

/** Whether `ms` is one of the update intervals (compared in whole µs). @internal */
export function isSupportedInterval(
  intervals: readonly number[] | SensorIntervalRange,
  ms: number,
): boolean {
  const us = Math.round(ms * 1000);
  if (isIntervalList(intervals)) return intervals.some((v) => Math.round(v * 1000) === us);
  const [min, max, step] = [intervals.min, intervals.max, intervals.step].map((v) =>
    Math.round(v * 1000),
  ) as [number, number, number];
  return us >= min && us <= max && (us - min) % step === 0;
}

/** Narrows a sensor's update intervals to the list form. @internal */
export function isIntervalList(
  intervals: readonly number[] | SensorIntervalRange,
): intervals is readonly number[] {
  return Array.isArray(intervals);
}

function axis(
  input: unknown,
  path: string,
  type: number,
  unitExponent: number,
  generatorOf: SensorValueGenerator,
): SensorAxisConfig {
  const o = object(input, path, ['name', 'type', 'unitExponent', 'value']);
  return {
    name: name(o.name, join(path, 'name'), LONG_NAME),
    type: optionalInt(o.type, join(path, 'type'), 0, 255, type),
    unitExponent: optionalInt(o.unitExponent, join(path, 'unitExponent'), -16, 15, unitExponent),
    value: o.value === undefined ? generatorOf : generator(o.value, join(path, 'value')),
  };
}

const READING = 2 ** 52;

function generator(value: unknown, path: string): SensorValueGenerator {
  const kind = (value as Plain | null)?.kind;
  const kp = join(path, 'kind');
  const noise = (o: Plain): { noise?: SensorNoiseConfig } =>
    o.noise === undefined ? {} : { noise: noiseConfig(o.noise, join(path, 'noise')) };
  switch (kind) {
    case 'constant': {
      const o = object(value, path, ['kind', 'value', 'noise']);
      return { kind, value: num(o.value, join(path, 'value'), -READING, READING), ...noise(o) };
    }
    case 'ramp': {
      const o = object(value, path, ['kind', 'from', 'to', 'periodMs', 'noise']);
      return {
        kind,
        from: num(o.from, join(path, 'from'), -READING, READING),
        to: num(o.to, join(path, 'to'), -READING, READING),
        periodMs: period(o.periodMs, join(path, 'periodMs')),
        ...noise(o),
      };
    }
    case 'sine': {
      const o = object(value, path, ['kind', 'offset', 'amplitude', 'periodMs', 'phase', 'noise']);
      return {
        kind,
        offset: num(o.offset, join(path, 'offset'), -READING, READING),
        amplitude: num(o.amplitude, join(path, 'amplitude'), 0, READING),
        periodMs: period(o.periodMs, join(path, 'periodMs')),
        phase: o.phase === undefined ? 0 : num(o.phase, join(path, 'phase'), 0, 1),
        ...noise(o),
      };
    }
    case 'sequence': {
      const o = object(value, path, ['kind', 'values', 'intervalMs', 'noise']);
      return {
        kind,
        values: array(o.values, join(path, 'values'), 1).map((v, i) =>
          num(v, join(join(path, 'values'), i), -READING, READING),
        ),
        intervalMs: period(o.intervalMs, join(path, 'intervalMs')),
        ...noise(o),
      };
    }
    default:
      object(value, path, [
        'kind',
        'value',
        'from',
        'to',
        'periodMs',
        'offset',
        'amplitude',
        'phase',
        'values',
        'intervalMs',
        'noise',
      ]);
      return fail(kp, 'must be one of constant, ramp, sine, sequence');
  }
}

function noiseConfig(value: unknown, path: string): SensorNoiseConfig {
  const o = object(value, path, ['amplitude', 'seed']);
  return {
    amplitude: num(o.amplitude, join(path, 'amplitude'), 0, READING),
    ...(o.seed === undefined ? {} : { seed: int(o.seed, join(path, 'seed'), 0, U32) }),
  };
}

/** The shortest period or interval of a sensor value generator, in ms. */
const MIN_PERIOD_MS = 1;

/**
 * Reads a value generator's period or interval: a finite number of ms, at least 1. A reading
 * divides the elapsed time by it; at 1 ms or more the quotient is at most the elapsed time, while a
 * tiny positive one (5e-324) makes it Infinity and every reading NaN, not the integer promised.
 */
function period(value: unknown, path: string): number {
  const ms = num(value, path);
  if (ms < MIN_PERIOD_MS) fail(path, `must be at least ${MIN_PERIOD_MS} ms, got ${ms}`);
  return ms;
}

/**
 * The longest configurable reset latency in µs: below both values agents read as "unknown". The
 * platform sends 0xFFFFFFFF for a domain without one (SCP-firmware, Linux `reset.c`), but
 * 0x7FFFFFFF means unknown too (OP-TEE's and TF-A's `scmi-msg` SCMI_RESET_DOMAIN_ATTR_UNK_LAT, with
 * SCMI_RESET_DOMAIN_ATTR_MAX_LAT 0x7FFFFFFE; this project's wire reference and Reset client take
 * both): a configured latency may equal neither.
 */
const MAX_RESET_LATENCY_US = 0x7ffffffe;

function resetDomain(value: unknown, path: string): ResetDomainConfig {
  const o = object(value, path, ['name', 'latencyUs', 'asyncReset']);
  return {
    name: name(o.name, join(path, 'name'), LONG_NAME),
    ...(o.latencyUs === undefined
      ? {}
      : { latencyUs: int(o.latencyUs, join(path, 'latencyUs'), 0, MAX_RESET_LATENCY_US) }),
    asyncReset: bool(o.asyncReset, join(path, 'asyncReset'), false),
  };
}

/** Signed 32-bit bounds of a voltage level in µV (VOLTAGE_DESCRIBE_LEVELS: s32 entries). */
const S32_MIN = -0x80000000;
const S32_MAX = 0x7fffffff;
/** VOLTAGE_CONFIG mode 0x0: architectural OFF (Linux SCMI_VOLTAGE_ARCH_STATE_OFF). @internal */
export const VOLTAGE_OFF = 0x0;
/** VOLTAGE_CONFIG mode 0x7: architectural ON (Linux SCMI_VOLTAGE_ARCH_STATE_ON). @internal */
export const VOLTAGE_ON = 0x7;
/**
 * VOLTAGE_CONFIG bit 3: an implementation-defined mode, 0x8 | id (Arm scmi-tests
 * `val_voltage_operating_mode_create`: mode type in bit 3, mode id in bits 2:0). @internal
 */
export const VOLTAGE_IMPLEMENTATION_MODE = 0x8;
/** VOLTAGE_DESCRIBE_LEVELS remaining count: 16 bits, so at most 65535 listed levels. */
const MAX_VOLTAGE_LEVELS = 0xffff;

function voltageDomain(value: unknown, path: string): VoltageDomainConfig {
  const o = object(value, path, [
    'name',
    'levels',
    'level',
    'config',
    'implementationModes',
    'asyncLevelSet',
  ]);
  const lp = join(path, 'levels');
  let levels: VoltageDomainConfig['levels'];
  let lowest: number;
  if (Array.isArray(o.levels)) {
    const list = array(o.levels, lp, 1, MAX_VOLTAGE_LEVELS).map((v, i) =>
      int(v, join(lp, i), S32_MIN, S32_MAX),
    );
    list.forEach((v, i) => {
      const prev = list[i - 1];
      if (prev !== undefined && v <= prev) fail(join(lp, i), 'levels must ascend strictly');
    });
    levels = list;
    lowest = list[0] as number;
  } else {
    if (typeof o.levels !== 'object' || o.levels === null) {
      fail(
        lp,
        `must be a list of levels or a { min, max, step } range (in µV), got ${show(o.levels)}`,
      );
    }
    const r = object(o.levels, lp, ['min', 'max', 'step']);
    const min = int(r.min, join(lp, 'min'), S32_MIN, S32_MAX);
    const max = int(r.max, join(lp, 'max'), min, S32_MAX);
    // 0 only for a single level (min = max), as a clock range and Linux's regulator take it.
    const step = int(r.step, join(lp, 'step'), min === max ? 0 : 1, S32_MAX);
    levels = { min, max, step };
    lowest = min;
  }
  const level = optionalInt(o.level, join(path, 'level'), S32_MIN, S32_MAX, lowest);
  if (!isSupportedVoltage(levels, level)) {
    fail(join(path, 'level'), `${level} is not a supported level`);
  }
  const mp = join(path, 'implementationModes');
  const implementationModes = (optionalArray(o.implementationModes, mp, 0, 8) ?? []).map((m, i) =>
    int(m, join(mp, i), 0, 7),
  );
  implementationModes.forEach((m, i) => {
    if (implementationModes.indexOf(m) !== i) fail(join(mp, i), `duplicates mode ${m}`);
  });
  const config = optionalInt(o.config, join(path, 'config'), 0, 0xf, VOLTAGE_ON);
  if (!isVoltageMode(implementationModes, config)) {
    fail(
      join(path, 'config'),
      `must be 0x0 (OFF), 0x7 (ON) or 0x8 | id of one of implementationModes, got ${config}`,
    );
  }
  return {
    name: name(o.name, join(path, 'name'), LONG_NAME),
    levels,
    level,
    config,
    implementationModes,
    asyncLevelSet: bool(o.asyncLevelSet, join(path, 'asyncLevelSet'), false),
  };
}

/** Narrows a voltage domain's levels to the list form. @internal */
export function isVoltageList(levels: VoltageDomainConfig['levels']): levels is readonly number[] {
  return Array.isArray(levels);
}

/** True when `level` (µV) is one of the domain's levels. @internal */
export function isSupportedVoltage(levels: VoltageDomainConfig['levels'], level: number): boolean {
  if (isVoltageList(levels)) return levels.includes(level);
  if (levels.step === 0) return level === levels.min; // one level (min = max)
  return level >= levels.min && level <= levels.max && (level - levels.min) % levels.step === 0;
}

/**
 * True when `config` (VOLTAGE_CONFIG bits 3:0) is a mode a domain with these implementation modes
 * accepts: architectural OFF or ON, or one of its implementation-defined modes. @internal
 */
export function isVoltageMode(implementationModes: readonly number[], config: number): boolean {
  if (config === VOLTAGE_OFF || config === VOLTAGE_ON) return true;
  return (
    (config & ~0xf) === 0 &&
    (config & VOLTAGE_IMPLEMENTATION_MODE) !== 0 &&
    implementationModes.includes(config & 7)
  );
}

function deepFreeze<T>(value: T): T {
  // The fast channels' memory is the caller's, shared with the agent: not frozen.
  if (types.isAnyArrayBuffer(value)) return value;
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
