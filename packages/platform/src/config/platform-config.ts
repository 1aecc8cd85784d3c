/**
 * The protocols an agent may be given, by name (Base, 0x10, is always available and is not
 * listed): `power` 0x11, `system-power` 0x12, `performance` 0x13, `clock` 0x14, `sensor` 0x15,
 * `reset` 0x16, `voltage` 0x17.
 */
export type PlatformProtocolName =
  'power' | 'system-power' | 'performance' | 'clock' | 'sensor' | 'reset' | 'voltage';

/** The protocols that have domains (every {@link PlatformProtocolName} but `system-power`). */
export type PlatformDomainProtocol = Exclude<PlatformProtocolName, 'system-power'>;

/**
 * Domain ids per protocol, e.g. `{ clock: [0, 2], power: [1] }`. In an agent's configuration a
 * protocol that is absent means "every domain of that protocol".
 */
export type PlatformDomainSet = { readonly [P in PlatformDomainProtocol]?: readonly number[] };

/** One agent the platform serves. Agent 0 is the platform itself and cannot be configured. */
export interface PlatformAgentConfig {
  /** The agent id: the agents are numbered 1 … their count (BASE_DISCOVER_AGENT), each id once. */
  readonly id: number;
  /** The name BASE_DISCOVER_AGENT returns (at most 15 bytes). */
  readonly name: string;
  /** The protocols the agent may use besides Base; each must be implemented by the platform. */
  readonly protocols: readonly PlatformProtocolName[];
  /**
   * The domains the agent may use, per protocol; a protocol that is absent allows all its domains.
   * Discovery commands (attributes, descriptions, names) work on every domain — but for
   * PERF_DESCRIBE_FASTCHANNEL, DENIED there (and PERF_DOMAIN_ATTRIBUTES' fast-channel bit clear):
   * the channels' memory is every agent's; every other command on a domain outside the set is
   * DENIED.
   */
  readonly domains?: PlatformDomainSet;
  /**
   * Whether the agent may change permissions (BASE_SET_DEVICE_PERMISSIONS,
   * BASE_SET_PROTOCOL_PERMISSIONS, BASE_RESET_AGENT_CONFIGURATION of another agent or with the
   * permissions flag, its own included) and power the system up (SYSTEM_POWER_STATE_SET
   * POWER_UP, which SCP-firmware allows its management agents only); default false.
   */
  readonly trusted?: boolean;
}

/**
 * A device for the Base permission commands: a name and the domains it is made of. Its id is its
 * index in {@link PlatformConfig.devices}.
 */
export interface PlatformDeviceConfig {
  /** A name for logs. */
  readonly name: string;
  /** The domains of the device, per protocol. */
  readonly domains: PlatformDomainSet;
}

/** A clock rate range: every rate `min + k × step` up to `max` (CLOCK_DESCRIBE_RATES triplet). */
export interface ClockRateRange {
  /** Lowest rate in Hz. */
  readonly min: number;
  /** Highest rate in Hz, ≥ min. */
  readonly max: number;
  /** Step in Hz, > 0 (may be 0 only when min = max). */
  readonly step: number;
}

/** A clock domain (protocol 0x14). Its id is its index in {@link PlatformConfig.clocks}. */
export interface ClockConfig {
  /** Name, at most 63 bytes (longer than 15: announced as an extended name). */
  readonly name: string;
  /** The supported rates in Hz: a list (ascending, unique) or a range. */
  readonly rates: readonly number[] | ClockRateRange;
  /** The initial rate; default the lowest. Must be a supported rate. */
  readonly rate?: number;
  /** Whether the clock starts enabled; default true. */
  readonly enabled?: boolean;
  /**
   * Ids of the clocks this clock may be parented to (CLOCK_POSSIBLE_PARENTS_GET). CLOCK_PARENT_SET
   * to one that is currently a descendant of this clock (its child, its child's child…) is
   * INVALID_PARAMETERS: it would close a loop.
   */
  readonly parents?: readonly number[];
  /**
   * The initial parent; default the first of `parents`. The initial parents of the clocks must
   * not form a loop (a → b → a): the configuration is refused, naming the chain.
   */
  readonly parent?: number;
  /** CLOCK_ATTRIBUTES clock_enable_latency in µs; default 0. */
  readonly enableLatencyUs?: number;
  /**
   * Whether agents may enable and disable the clock (CLOCK_CONFIG_SET); default true. Else a state
   * change is DENIED and CLOCK_GET_PERMISSIONS bit 31 is clear.
   */
  readonly canSetState?: boolean;
  /**
   * Whether agents may change the parent (CLOCK_PARENT_SET); default true. Else it is DENIED and
   * CLOCK_GET_PERMISSIONS bit 30 is clear (also clear for a clock without parents).
   */
  readonly canSetParent?: boolean;
  /**
   * Whether agents may change the rate (CLOCK_RATE_SET); default true. Else it is DENIED and
   * CLOCK_GET_PERMISSIONS bit 29 is clear.
   */
  readonly canSetRate?: boolean;
}

/** One performance level of a performance domain. */
export interface PerformanceLevelConfig {
  /** The performance level value (abstract or kHz, platform defined); unique in its domain. */
  readonly value: number;
  /** Power cost at this level (mW or abstract, see {@link PlatformConfig.performancePowerInMilliwatts}). */
  readonly powerCost: number;
  /** Worst-case transition latency to this level in µs (16 bits). */
  readonly latencyUs: number;
  /**
   * The level's indicative frequency in kHz (PERF_DESCRIBE_LEVELS `indicative_freq`, version 4.0
   * only: refused below); default 0. Required, non-zero and unique in a domain in level indexing
   * mode: Linux's cpufreq takes its operating points from it there, and finds a level by it.
   */
  readonly indicativeFreqKhz?: number;
  /**
   * The level's index in level indexing mode (version 4.0; implementation defined, unique in its
   * domain, not necessarily contiguous): what the platform takes and gives for the level on the
   * wire. 1 or more: a limit of 0 means "unchanged" in PERF_LIMITS_SET (DEN0056 v3.2), so a level
   * of index 0 could not be a limit. Default: its position in `levels` + 1. Only with
   * `levelIndexing`.
   */
  readonly index?: number;
}

/** The limits of a performance domain, as level values. */
export interface PerformanceLimitsConfig {
  /** Lowest allowed level value. */
  readonly min: number;
  /** Highest allowed level value, ≥ min. */
  readonly max: number;
}

/** A performance domain (protocol 0x13). Its id is its index in {@link PlatformConfig.performanceDomains}. */
export interface PerformanceDomainConfig {
  /** Name, at most 63 bytes. */
  readonly name: string;
  /** The levels, ascending by value; at least one. */
  readonly levels: readonly PerformanceLevelConfig[];
  /** The initial level value; default the highest level. */
  readonly level?: number;
  /** The initial limits (level values); default the lowest and the highest level. */
  readonly limits?: PerformanceLimitsConfig;
  /** PERF_DOMAIN_ATTRIBUTES sustained_perf_level; default the highest level. */
  readonly sustainedLevel?: number;
  /** PERF_DOMAIN_ATTRIBUTES sustained_freq_khz; default 0. */
  readonly sustainedFreqKhz?: number;
  /** PERF_DOMAIN_ATTRIBUTES rate_limit_us (20 bits); default 0. */
  readonly rateLimitUs?: number;
  /** Whether agents may set the level; default true (else LEVEL_SET is DENIED). */
  readonly canSetLevel?: boolean;
  /** Whether agents may set the limits; default true (else LIMITS_SET is DENIED). */
  readonly canSetLimits?: boolean;
  /**
   * Level indexing mode (PERF_DOMAIN_ATTRIBUTES bit 25, SCMI v3.2, Performance version 4.0):
   * agents at version 4.0 set and get the domain's levels and limits, and receive its
   * notifications, as level indices (each level's `index`); an agent that negotiated 3.0 keeps
   * level values. Needs {@link PlatformConfig.performanceVersion} 0x40000; default false.
   */
  readonly levelIndexing?: boolean;
  /**
   * Whether the domain has fast channels (PERF_DOMAIN_ATTRIBUTES bit 27): LEVEL_SET, LIMITS_SET,
   * LEVEL_GET and LIMITS_GET words in its slot of {@link PlatformConfig.performanceFastChannels}
   * (see {@link PerformanceFastChannelsConfig}). Needs `performanceFastChannels`; default false
   * (left out of the validated configuration when false).
   */
  readonly fastChannels?: boolean;
}

/**
 * The memory of the Performance fast channels, shared with the agents, as SCP-firmware lays them
 * out (`module/scmi_perf/include/mod_scmi_perf.h`): domain `i`'s slot of 24 bytes at byte `24 × i`
 * (`PERF_FAST_CHANNEL_SLOT_SIZE`), holding LEVEL_SET at +0 (u32), LIMITS_SET at +4 (range_max,
 * range_min), LEVEL_GET at +12 and LIMITS_GET at +16 (range_max, range_min), every word
 * little-endian. Only the domains with `fastChannels` use their slot. Not JSON: a configuration
 * with fast channels is built in code, not loaded from a file.
 *
 * The platform polls every `rateLimitUs` (SCP-firmware's `perf_fch_process`): a LEVEL_SET word
 * other than 0 is applied as PERF_LEVEL_SET, a LIMITS_SET pair other than (0, 0) as
 * PERF_LIMITS_SET, with the same checks; the words are left as they are, so a value stays in force
 * until the agent writes another. It rewrites LEVEL_GET and LIMITS_GET at every change of the
 * level or limits, from a command or a fast channel. The words carry level indices in level
 * indexing mode (at the platform's `performanceVersion`), level values otherwise.
 *
 * @example
 * ```ts
 * const memory = new SharedArrayBuffer(2 * PERF_FAST_CHANNEL_SLOT_SIZE);
 * const config: PlatformConfig = {
 *   ...createDefaultPlatformConfig(),
 *   performanceFastChannels: { memory, base: 0x4000_0000n },
 *   performanceDomains: domains.map((d) => ({ ...d, fastChannels: true })),
 * };
 * ```
 */
export interface PerformanceFastChannelsConfig {
  /**
   * The memory the channels live in: a `SharedArrayBuffer` when the agent runs on another thread
   * (each word is then read and written with `Atomics`), else an `ArrayBuffer` (not resizable).
   * At least `24 × (the highest id of a domain with fast channels + 1)` bytes; refused when no
   * domain has `fastChannels`. Kept as it is, not copied nor frozen: the platform and the agent
   * share it.
   */
  readonly memory: SharedArrayBuffer | ArrayBuffer;
  /**
   * The address of byte 0 of `memory` as the agent sees it (what PERF_DESCRIBE_FASTCHANNEL reports
   * as chan_addr, plus the channel's offset): a bigint, a multiple of 8 (as core's `ScmiMemoryMap`
   * asks of a region's base), with `base +
   * memory.byteLength` at most 2^64.
   */
  readonly base: bigint;
  /**
   * The rate_limit PERF_DESCRIBE_FASTCHANNEL reports (bits 19:0, in µs) and the polling period:
   * an integer in 1 … 0xFFFFF; default 4000, SCP-firmware's SCMI_PERF_FC_MIN_RATE_LIMIT.
   */
  readonly rateLimitUs?: number;
}

/** A power domain (protocol 0x11). Its id is its index in {@link PlatformConfig.powerDomains}. */
export interface PowerDomainConfig {
  /** Name, at most 63 bytes. */
  readonly name: string;
  /**
   * The power states the domain accepts (bit 30 = off/context lost, 27:0 state id); default
   * `[0, 0x40000000]` (generic ON and OFF).
   */
  readonly states?: readonly number[];
  /** The initial state; default the first of `states`. */
  readonly state?: number;
  /** Whether POWER_STATE_SET may be asynchronous; default false. */
  readonly asyncSet?: boolean;
}

/** A value that may carry seeded noise: the reading is the value plus `amplitude × u`, u in [−1, 1). */
export interface SensorNoiseConfig {
  /** Largest deviation from the clean value (rounded readings). */
  readonly amplitude: number;
  /** Seed of the noise stream; default the platform seed plus the sensor id. */
  readonly seed?: number;
}

/** A sensor that always reads `value`. */
export interface ConstantSensorValue {
  /** Discriminant. */
  readonly kind: 'constant';
  /** The reading. */
  readonly value: number;
  /** Optional seeded noise. */
  readonly noise?: SensorNoiseConfig;
}

/** A sawtooth: from `from` to `to` linearly over `periodMs`, then again from `from`. */
export interface RampSensorValue {
  /** Discriminant. */
  readonly kind: 'ramp';
  /** Reading at the start of each period. */
  readonly from: number;
  /** Reading approached at the end of each period. */
  readonly to: number;
  /** Period in ms: finite, at least 1 (fractions allowed). */
  readonly periodMs: number;
  /** Optional seeded noise. */
  readonly noise?: SensorNoiseConfig;
}

/** A sine wave: `offset + amplitude × sin(2π (t / periodMs + phase))`. */
export interface SineSensorValue {
  /** Discriminant. */
  readonly kind: 'sine';
  /** Centre value. */
  readonly offset: number;
  /** Peak deviation. */
  readonly amplitude: number;
  /** Period in ms: finite, at least 1 (fractions allowed). */
  readonly periodMs: number;
  /** Phase as a fraction of a period, in [0, 1); default 0. */
  readonly phase?: number;
  /** Optional seeded noise. */
  readonly noise?: SensorNoiseConfig;
}

/** A repeating sequence: `values[k]` during the k-th interval of `intervalMs`, cycling. */
export interface SequenceSensorValue {
  /** Discriminant. */
  readonly kind: 'sequence';
  /** The readings, at least one. */
  readonly values: readonly number[];
  /** How long each value holds, in ms: finite, at least 1 (fractions allowed). */
  readonly intervalMs: number;
  /** Optional seeded noise. */
  readonly noise?: SensorNoiseConfig;
}

/**
 * How a sensor's reading evolves with the platform's clock, as data (so that a configuration stays
 * JSON). Time starts when the platform is created; readings are rounded to integers.
 */
export type SensorValueGenerator =
  ConstantSensorValue | RampSensorValue | SineSensorValue | SequenceSensorValue;

/**
 * A range of sensor update intervals in ms: every `min + k × step` up to `max`, reported by
 * SENSOR_LIST_UPDATE_INTERVALS as one segmented triplet.
 */
export interface SensorIntervalRange {
  /** Shortest interval in ms, > 0. */
  readonly min: number;
  /** Longest interval in ms, ≥ min. */
  readonly max: number;
  /** Step in ms, > 0. */
  readonly step: number;
}

/**
 * One axis of a multi-axis sensor (SENSOR_AXIS_DESCRIPTION_GET). Its id is its index in
 * {@link SensorConfig.axes}; its reading is reported in that order.
 */
export interface SensorAxisConfig {
  /** Name, at most 63 bytes (longer than 15: announced as an extended axis name). */
  readonly name: string;
  /** The SCMI type/unit code of the axis, 0 … 255; default the sensor's. */
  readonly type?: number;
  /** Signed power-of-ten exponent of the axis unit, −16 … 15; default the sensor's. */
  readonly unitExponent?: number;
  /**
   * How the axis reading evolves; default the sensor's generator. Noise without its own seed uses
   * the platform seed plus the sensor id plus 65536 × the axis id.
   */
  readonly value?: SensorValueGenerator;
}

/** A sensor (protocol 0x15). Its id is its index in {@link PlatformConfig.sensors}. */
export interface SensorConfig {
  /** Name, at most 63 bytes (longer than 15: announced as an extended name, SENSOR_NAME_GET). */
  readonly name: string;
  /** The SCMI sensor type/unit code (attributes_high 7:0), 0 … 255 (e.g. 2 = °C, 5 = V, 6 = A). */
  readonly type: number;
  /** Signed power-of-ten exponent of the unit (attributes_high 15:11), −16 … 15; default 0. */
  readonly unitExponent?: number;
  /** How the reading evolves. */
  readonly value: SensorValueGenerator;
  /**
   * Number of trip points the sensor supports, 0 … 255; default 0. With none,
   * SENSOR_TRIP_POINT_CONFIG and enabling SENSOR_TRIP_POINT_NOTIFY answer NOT_SUPPORTED.
   */
  readonly tripPoints?: number;
  /** Whether SENSOR_READING_GET may be asynchronous; default false. */
  readonly asyncRead?: boolean;
  /**
   * How long an asynchronous reading takes, in ms, at most 2^31 − 1 (the longest Node timer);
   * default the platform's async latency.
   */
  readonly readLatencyMs?: number;
  /** Whether the sensor starts enabled (SENSOR_CONFIG bit 0); default true. */
  readonly enabled?: boolean;
  /**
   * The axes of a multi-axis sensor, 1 … 63; absent = a scalar sensor. Trip points are for scalar
   * sensors only. A reading takes 16 bytes per axis: SENSOR_READING_GET answers PROTOCOL_ERROR on
   * a link whose messages cannot hold `4 + 16 × axes` bytes (more than 7 axes on the usual 128),
   * and SENSOR_UPDATE (`8 + 16 × axes`) is dropped and counted in `notificationsDropped`.
   */
  readonly axes?: readonly SensorAxisConfig[];
  /**
   * Whether readings are timestamped (attributes_low bit 9); default false. Timestamp reporting
   * (SENSOR_CONFIG bit 1) then starts enabled; a timestamp is the time since the platform started.
   */
  readonly timestamps?: boolean;
  /**
   * Signed power-of-ten exponent of the timestamp unit in seconds (attributes_low 14:10), −16 … 15;
   * default −6 (µs). Only with `timestamps`.
   */
  readonly timestampExponent?: number;
  /**
   * The update intervals the sensor supports, in ms: an ascending list or a range. Each must be at
   * most 2^31 − 1 ms (the longest Node timer) and a whole number of µs whose wire form
   * `sec × 10^exponent` s fits (sec ≤ 65535 after folding trailing zeros into the exponent); of a
   * range, its bounds and step are checked, and a member in between without an exact wire form is
   * run exactly and reported by SENSOR_CONFIG_GET as the nearest value the field holds. A
   * sensor with update intervals supports continuous updates: SENSOR_UPDATE every interval to
   * subscribed agents while it is enabled. Absent = none.
   */
  readonly updateIntervalsMs?: readonly number[] | SensorIntervalRange;
  /** The initial update interval in ms; default the shortest. Only with `updateIntervalsMs`. */
  readonly updateIntervalMs?: number;
}

/** A reset domain (protocol 0x16). Its id is its index in {@link PlatformConfig.resetDomains}. */
export interface ResetDomainConfig {
  /** Name, at most 63 bytes. */
  readonly name: string;
  /**
   * Worst-case reset latency in µs (at most 0x7FFFFFFE), also how long an asynchronous reset
   * takes; absent = unknown (RESET_DOMAIN_ATTRIBUTES reports 0xFFFFFFFF, as SCP-firmware; an async
   * reset takes the platform's async latency).
   */
  readonly latencyUs?: number;
  /** Whether RESET may be asynchronous; default false. */
  readonly asyncReset?: boolean;
}

/**
 * A range of voltage levels in µV: every `min + k × step` up to `max` (VOLTAGE_DESCRIBE_LEVELS
 * answers it as one triplet, flags bit 12 set, whatever the level_index). Signed 32-bit values:
 * negative voltages are allowed. `max` need not be a member: the highest level is then the last
 * `min + k × step` below it, while the triplet still reports `max` as configured.
 *
 * @example
 * ```ts
 * const sd: VoltageLevelRange = { min: 1_800_000, max: 3_300_000, step: 100_000 }; // 16 levels
 * ```
 */
export interface VoltageLevelRange {
  /** Lowest level in µV, −2^31 … 2^31 − 1. */
  readonly min: number;
  /** Highest level in µV, ≥ min, at most 2^31 − 1. */
  readonly max: number;
  /** Step in µV, 1 … 2^31 − 1 (may be 0 only when min = max: one level). */
  readonly step: number;
}

/**
 * A voltage domain (protocol 0x17). Its id is its index in {@link PlatformConfig.voltageDomains}.
 *
 * @example
 * ```ts
 * const vddCore: VoltageDomainConfig = {
 *   name: 'vddcore',
 *   levels: [800_000, 900_000, 1_000_000],
 *   level: 900_000,
 *   asyncLevelSet: true,
 * };
 * ```
 */
export interface VoltageDomainConfig {
  /** Name, at most 63 bytes (longer than 15: announced as an extended name, VOLTAGE_DOMAIN_NAME_GET). */
  readonly name: string;
  /**
   * The supported levels in µV (signed 32-bit): a list (ascending, unique, at most 65535) or a
   * range. VOLTAGE_LEVEL_SET of any other level is INVALID_PARAMETERS.
   */
  readonly levels: readonly number[] | VoltageLevelRange;
  /** The initial level in µV; default the lowest. Must be a supported level. */
  readonly level?: number;
  /**
   * The initial VOLTAGE_CONFIG mode (bits 3:0): 0x0 architectural OFF, 0x7 architectural ON, or
   * 0x8 | id for an implementation-defined mode listed in `implementationModes`; default 0x7.
   */
  readonly config?: number;
  /**
   * The implementation-defined modes the domain accepts, by id 0 … 7 (VOLTAGE_CONFIG_SET config
   * 0x8 | id); default none, so that only the architectural OFF (0x0) and ON (0x7) are accepted.
   */
  readonly implementationModes?: readonly number[];
  /**
   * Whether VOLTAGE_LEVEL_SET may be asynchronous (VOLTAGE_DOMAIN_ATTRIBUTES bit 31, version 2.0),
   * completing after the platform's async latency with a delayed response; default false.
   */
  readonly asyncLevelSet?: boolean;
}

/** The system power protocol (0x12); present in the configuration = implemented. */
export interface SystemPowerConfig {
  /**
   * The initial system state, as SYSTEM_POWER_STATE_GET reports it: 0 shutdown, 1 cold reset,
   * 2 warm reset, 3 power up or 4 suspend, or a vendor-defined state (bit 31 set, 0x80000000 …
   * 0xFFFFFFFF); default 3. The states in between are reserved and refused. A vendor state is only
   * reported: SYSTEM_POWER_STATE_SET refuses every vendor state (INVALID_PARAMETERS, as
   * SCP-firmware, the platform implementing none), so no agent can set it again, and POWER_UP from
   * it is DENIED (only a shut-down or suspended system powers up).
   */
  readonly state?: number;
  /**
   * The timeout word of SYSTEM_POWER_STATE_NOTIFIER (version 2.0 and later) for a graceful
   * request: the time in ms the platform gives the agents to complete it, a u32; default 0, no
   * deadline (a forceful request always carries 0). Only announced: the emulated system records
   * the new state at once and forces nothing when the time is up.
   */
  readonly gracefulTimeoutMs?: number;
}

/**
 * The configuration of an emulated platform: identity, agents with their permissions, and the
 * domains of each protocol. Plain JSON-able data (see {@link loadPlatformConfig}), but for
 * {@link PlatformConfig.performanceFastChannels} (shared memory and a bigint); check it with
 * {@link validatePlatformConfig}. A protocol is implemented when it has at least one domain
 * (system power: when {@link PlatformConfig.systemPower} is present).
 *
 * @example
 * ```ts
 * const config: PlatformConfig = {
 *   vendor: 'acme', subVendor: 'lab', implementationVersion: 1,
 *   agents: [{ id: 1, name: 'OSPM', protocols: ['clock'] }],
 *   clocks: [{ name: 'uart', rates: [24_000_000] }],
 * };
 * ```
 */
export interface PlatformConfig {
  /** BASE_DISCOVER_VENDOR, at most 15 bytes. */
  readonly vendor: string;
  /** BASE_DISCOVER_SUB_VENDOR, at most 15 bytes. */
  readonly subVendor: string;
  /** BASE_DISCOVER_IMPLEMENTATION_VERSION, a u32. */
  readonly implementationVersion: number;
  /** The agents, at least one, at most 255. */
  readonly agents: readonly PlatformAgentConfig[];
  /** Devices for the Base permission commands; default none. */
  readonly devices?: readonly PlatformDeviceConfig[];
  /** Power domains; default none. */
  readonly powerDomains?: readonly PowerDomainConfig[];
  /** System power; absent = protocol 0x12 not implemented. */
  readonly systemPower?: SystemPowerConfig;
  /** Performance domains; default none. */
  readonly performanceDomains?: readonly PerformanceDomainConfig[];
  /** Whether performance power costs are in mW (PROTOCOL_ATTRIBUTES bit 0); default true. */
  readonly performancePowerInMilliwatts?: boolean;
  /**
   * The Performance protocol version: 0x30000 (default) or 0x40000 — five-word levels with an
   * indicative frequency and level index, and level indexing mode for the domains that ask for it.
   * At 0x40000 an agent may negotiate 0x30000 (NEGOTIATE_PROTOCOL_VERSION) and is then answered
   * in 3.0's layouts and level values.
   */
  readonly performanceVersion?: number;
  /**
   * The memory of the Performance fast channels of the domains with `fastChannels`; absent = no
   * domain has fast channels. See {@link PerformanceFastChannelsConfig}.
   */
  readonly performanceFastChannels?: PerformanceFastChannelsConfig;
  /** Clocks; default none. */
  readonly clocks?: readonly ClockConfig[];
  /** Sensors; default none. */
  readonly sensors?: readonly SensorConfig[];
  /** Reset domains; default none. */
  readonly resetDomains?: readonly ResetDomainConfig[];
  /** Voltage domains; default none. */
  readonly voltageDomains?: readonly VoltageDomainConfig[];
}
