/**
 * Property-based fuzz of {@link ScmiPlatform} message handling from hostile agents, and the
 * deterministic regression tests of the defects it found.
 *
 * Property: whatever bytes connected (or unconnected) agents send, in whatever order, with whatever
 * virtual time passing in between and whatever links they reconnect with, `handle` never throws
 * nor modifies the request, every response and every posted message is well formed and fits its
 * link, the device state stays valid, the counters never go down, every accepted asynchronous
 * operation gets its delayed response, and `close` leaves no timer.
 *
 * The oracle is written from the SCMI wire reference (`scmi-wire.md`, kept with the project's
 * shared reference material), not from the platform's code:
 * - §1 "SCMI message header": the header fields, the reserved bits 31:28, the message types
 *   (0 command, 2 delayed response, 3 notification) and the token echoed in delayed responses;
 * - §4 "SCMI protocol messages": the request and response layouts of every message (payload
 *   sizes, return-value lengths, multi-part returned/remaining counts), the status codes, the
 *   common messages, the notification payloads and the delayed responses of CLOCK_RATE_SET, RESET,
 *   SENSOR_READING_GET and VOLTAGE_LEVEL_SET;
 * - §4 "Implementation divergences worth testing": unknown protocol → NOT_SUPPORTED, unknown
 *   message → NOT_FOUND or NOT_SUPPORTED (the platform's `unknownMessage` behaviour), payload size
 *   mismatch → PROTOCOL_ERROR.
 *
 * What the reference leaves to the implementation comes from the platform's documented contract
 * (`ScmiPlatform` and `PlatformBehaviour` TSDoc): hidden protocols (NOT_SUPPORTED or DENIED),
 * `*_NOTIFY` commands needing a P2A channel, a response or posted message that does not fit the
 * link's `maxMsgSize` (PROTOCOL_ERROR, or the message dropped), no domain notification enabled nor
 * asynchronous command accepted on a link its notification or delayed response does not fit, and
 * the domain permissions of the configuration that Base 0x9–0xB change (SET_PROTOCOL_PERMISSIONS
 * accepted only for a domain protocol the platform implements, changing nothing for one the device
 * has no domain of). The oracle also models the state rules of the protocol servers' TSDoc
 * (`ClockProtocol`, `PowerProtocol`, `PerformanceProtocol`, `SensorProtocol`, `ResetProtocol`,
 * `VoltageProtocol`), from what was accepted and the virtual time alone:
 * - a clock with an accepted asynchronous CLOCK_RATE_SET not yet due is BUSY for
 *   CLOCK_ATTRIBUTES, CLOCK_RATE_GET, CLOCK_RATE_SET and a state-changing CLOCK_CONFIG_SET, and
 *   the clock commands are BUSY for nothing else but the `maxPendingAsync` limit;
 * - asynchronous POWER_STATE_SETs are BUSY exactly at `maxPendingAsync` pending, and the sets of a
 *   domain take effect in the order they were accepted (a synchronous set first applies the
 *   domain's pending asynchronous ones, each with its POWER_STATE_CHANGED), which the oracle checks
 *   against every domain's state and, step by step, against the POWER_STATE_CHANGE_REQUESTED and
 *   POWER_STATE_CHANGED each subscribed agent receives: exactly the model's, in its order;
 * - asynchronous RESETs are BUSY exactly at `maxPendingAsync` pending (platform-wide, each until
 *   its domain's latency has passed), never because their own domain has one pending;
 * - a voltage domain with an accepted asynchronous VOLTAGE_LEVEL_SET not yet due is BUSY for
 *   VOLTAGE_LEVEL_SET and for nothing else but the `maxPendingAsync` limit (platform-wide; the
 *   default configuration has one asynchronous domain, so the domain's own pending set always
 *   answers first); voltage levels are always levels of their domain, and VOLTAGE_LEVEL_GET
 *   reports the level of the last accepted set that completed;
 * - a performance domain's level and limits are exactly the model's, which PERF_LEVEL_SET and
 *   PERF_LIMITS_SET change as `PerformanceProtocol` and the README document (a level of the domain
 *   inside the limits, else OUT_OF_RANGE; limits that are levels, else OUT_OF_RANGE, range_min ≤
 *   range_max, else INVALID_PARAMETERS, a zero limit "unchanged", both zero OUT_OF_RANGE; limits
 *   pull the level inside them), PERF_LEVEL_GET and PERF_LIMITS_GET answer it, and each subscribed
 *   agent receives exactly the model's PERFORMANCE_LIMITS_CHANGED and PERFORMANCE_LEVEL_CHANGED,
 *   in order; limits are always levels of their domain, the level inside them;
 * - a sensor disabled with SENSOR_CONFIG_SET is neither read (SENSOR_READING_GET answers
 *   NOT_SUPPORTED) nor the subject of a SENSOR_TRIP_POINT_EVENT or SENSOR_UPDATE.
 *
 * A scenario runs on the default configuration or, drawn, on its variant with Performance fast
 * channels (`performanceFastChannels` in an `ArrayBuffer` or a `SharedArrayBuffer`, on both
 * performance domains or on one; the README's "Performance fast channels", the
 * `PerformanceProtocol` TSDoc and `PlatformCounters`): a hostile agent writes arbitrary words (the
 * domain's levels, 0, limits in and out of order, anything) into the LEVEL_SET and LIMITS_SET
 * words of any domain's slot, a domain without fast channels too, and time passes across the
 * polls. The model polls as documented — every `rateLimitUs` from
 * the platform's start, each fast-channel domain in id order, LEVEL_SET (0: nothing) then
 * LIMITS_SET ((0, 0): nothing), each with its command's checks, the words left in place; a change
 * notified with agent_id 0; `fastChannelApplied` counting the values that changed a level or
 * limits, `fastChannelRejected` the refused ones once (the channel remembers its last refused
 * word until it reads another) — and the oracle checks:
 * - after every step, the whole memory: LEVEL_GET and LIMITS_GET hold the snapshot's level and
 *   limits as values (the configuration is not in level indexing mode, which the file checks),
 *   the SET words what the agent wrote (zeroed at start), every other word untouched; and both
 *   counters exactly (never going down, as every counter);
 * - PERF_DESCRIBE_FASTCHANNEL: an unknown domain as every command's, DENIED for a domain the
 *   agent may not use, then NOT_SUPPORTED for a domain without fast channels, NOT_FOUND for a
 *   message id from 0xD, NOT_SUPPORTED for another message than 0x5–0x8; its 44 bytes of returns
 *   (attributes 0, rate_limit, chan_addr = base + 24 × domain + the channel's offset, chan_size 4
 *   or 8, six doorbell words 0); PERF_DOMAIN_ATTRIBUTES bit 27 and PROTOCOL_MESSAGE_ATTRIBUTES
 *   bit 0 of 0x5–0x8;
 * - after `close`, no timer, and a word written then neither applied nor answered: the memory
 *   stays as it was left, time passing.
 * As the channels poll with a timer of their own, such a scenario ends by letting time pass until
 * every operation completed (at most 5 s), not always 5 s of polls; the timer is the one left
 * once every agent disconnected.
 *
 * Commands drawn one by one almost never reach these rules (an asynchronous operation followed,
 * before its latency has passed, by more commands on the same domain), so scenarios also contain
 * fragments aimed at them, and many behaviours have a `maxPendingAsync` of 1 or 2. The oracle
 * counts how often each rule was reached ({@link Coverage}), and a run of `SUITE_RUNS` or more
 * fails if one was reached fewer than `COVERAGE_MINIMUM` times.
 *
 * The normal suite runs one fixed seed. A longer campaign: `pnpm --filter @scmi-ts/platform fuzz`,
 * or `SCMI_FUZZ_RUNS=<runs>` and `SCMI_FUZZ_SEED=<seed>|random`; the seed is in the test name
 * (and printed, with the coverage counts, when it is not the fixed one; `SCMI_FUZZ_COVERAGE=1`
 * prints the counts of the fixed run), and fast-check prints the seed and the shrunk path of a
 * failure.
 */
import fc from 'fast-check';
import {
  CommonMessageId,
  MSG_STATUS_SIZE,
  ScmiMessageType,
  ScmiProtocolId,
  ScmiStatus,
  VirtualClock,
  buildHeader,
  encodeMsg,
  headerMessageId,
  headerProtocolId,
  headerToken,
  headerType,
  readI32,
  readU32,
  type PlatformAgentLink,
  type PlatformConnection,
} from '@scmi-ts/core';
import {
  BaseMessageId,
  BaseNotificationId,
  ClockMessageId,
  ClockNotificationId,
  PERF_FAST_CHANNEL_LEVEL_GET_OFFSET,
  PERF_FAST_CHANNEL_LEVEL_SET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_GET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_SET_OFFSET,
  PERF_FAST_CHANNEL_SLOT_SIZE,
  PROTOCOL_ID_OF,
  PerformanceMessageId,
  PerformanceNotificationId,
  PowerMessageId,
  PowerNotificationId,
  ResetMessageId,
  ResetNotificationId,
  ScmiPlatform,
  SensorMessageId,
  SystemPowerMessageId,
  VoltageMessageId,
  createDefaultPlatformConfig,
  type PlatformBehaviour,
  type PlatformConfig,
  type PlatformCounters,
  type PlatformDomainProtocol,
  type ResolvedPlatformBehaviour,
} from '@scmi-ts/platform';
import {
  isIntervalList,
  isRateList,
  isSupportedRate,
  isSupportedVoltage,
  isVoltageList,
} from '../src/config/validate-platform-config';
import { Harness, decodePosted, defined } from './support/harness';

// ---------------------------------------------------------------------------------------------
// Campaign settings
// ---------------------------------------------------------------------------------------------

/** The seed of the normal suite. */
const FIXED_SEED = 20260101;
/** Runs in the normal suite: about 3–4 s on a 2-core machine. */
const SUITE_RUNS = 1500;

/** A positive integer from the environment, or `fallback` when the variable is not set. */
function runsFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}=${text}: not a positive integer`);
  return n;
}

/** The seed from `SCMI_FUZZ_SEED`: an integer, `random`, or unset for the fixed seed. */
function seedFromEnv(): number {
  const text = process.env.SCMI_FUZZ_SEED;
  if (text === undefined || text === '') return FIXED_SEED;
  if (text === 'random') return Math.floor(Math.random() * 2 ** 31);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`SCMI_FUZZ_SEED=${text}: not an integer`);
  return n;
}

const NUM_RUNS = runsFromEnv('SCMI_FUZZ_RUNS', SUITE_RUNS);
const SEED = seedFromEnv();

/**
 * The state rules the generators aim at (see the scenario fragments), which a uniform choice of
 * commands almost never reaches: each counted by the oracle when it sees the platform apply it.
 */
interface Coverage {
  /** CLOCK_ATTRIBUTES answered BUSY: the clock has an asynchronous rate change pending. */
  clockBusyAttributes: number;
  /** CLOCK_RATE_GET answered BUSY, the same. */
  clockBusyRateGet: number;
  /** CLOCK_RATE_SET answered BUSY, the same. */
  clockBusyRateSet: number;
  /** A state-changing CLOCK_CONFIG_SET answered BUSY, the same. */
  clockBusyConfigSet: number;
  /** An asynchronous POWER_STATE_SET answered BUSY: `maxPendingAsync` sets pending. */
  powerAsyncCap: number;
  /** A synchronous POWER_STATE_SET accepted for a domain with asynchronous sets not applied yet. */
  powerSyncAfterAsync: number;
  /**
   * POWER_STATE_CHANGED of an asynchronous set that a later synchronous set applied, received
   * (and checked in order, before the synchronous set's own) by a subscribed agent.
   */
  powerQueuedChangeNotified: number;
  /** An asynchronous RESET answered BUSY: `maxPendingAsync` resets pending. */
  resetAsyncCap: number;
  /** A synchronous SENSOR_READING_GET of a disabled sensor answered NOT_SUPPORTED. */
  sensorDisabledRead: number;
  /** VOLTAGE_LEVEL_SET answered BUSY: the domain has an asynchronous level set pending. */
  voltageBusyLevelSet: number;
  /** PERF_DESCRIBE_FASTCHANNEL answered SUCCESS, its fields checked. */
  fastChannelDescribed: number;
  /** PERF_DESCRIBE_FASTCHANNEL answered DENIED: a domain the agent may not use. */
  fastChannelDescribeDenied: number;
  /** PERF_DESCRIBE_FASTCHANNEL answered NOT_SUPPORTED: a domain without fast channels. */
  fastChannelDescribeNoChannels: number;
  /** PERF_DESCRIBE_FASTCHANNEL answered NOT_FOUND: a message id from 0xD. */
  fastChannelDescribeNotFound: number;
  /** PERF_DESCRIBE_FASTCHANNEL answered NOT_SUPPORTED: a message without a fast channel. */
  fastChannelDescribeOtherMessage: number;
  /** PERF_DOMAIN_ATTRIBUTES bit 27 set for a fast-channel domain (checked either way). */
  fastChannelDomainBit: number;
  /** PROTOCOL_MESSAGE_ATTRIBUTES bit 0 set for one of 0x5–0x8 (checked either way). */
  fastChannelMessageBit: number;
  /** A poll applied a value: a level or limits changed. */
  fastChannelApplied: number;
  /** A poll refused a value it had not refused just before: counted. */
  fastChannelRejected: number;
  /**
   * Counted again: a value refused and counted before, then forgotten (the channel read 0 or
   * another value, or applied it) and refused again.
   */
  fastChannelRejectedAgain: number;
  /** A poll applied limits that pulled the level inside them. */
  fastChannelPulledLevel: number;
  /**
   * A poll applied a value it had read at the poll before too: a command had changed the level
   * or limits meanwhile, and the value left in the channel stays in force.
   */
  fastChannelReapplied: number;
  /** A change a poll made notified, with agent_id 0, to a subscribed agent (checked in order). */
  fastChannelNotified: number;
}

/** How often the runs so far reached each rule of {@link Coverage}. */
const coverage: Coverage = {
  clockBusyAttributes: 0,
  clockBusyRateGet: 0,
  clockBusyRateSet: 0,
  clockBusyConfigSet: 0,
  powerAsyncCap: 0,
  powerSyncAfterAsync: 0,
  powerQueuedChangeNotified: 0,
  resetAsyncCap: 0,
  sensorDisabledRead: 0,
  voltageBusyLevelSet: 0,
  fastChannelDescribed: 0,
  fastChannelDescribeDenied: 0,
  fastChannelDescribeNoChannels: 0,
  fastChannelDescribeNotFound: 0,
  fastChannelDescribeOtherMessage: 0,
  fastChannelDomainBit: 0,
  fastChannelMessageBit: 0,
  fastChannelApplied: 0,
  fastChannelRejected: 0,
  fastChannelRejectedAgain: 0,
  fastChannelPulledLevel: 0,
  fastChannelReapplied: 0,
  fastChannelNotified: 0,
};
/**
 * The least the suite's run (`SUITE_RUNS` or more) must reach each rule of {@link Coverage}: the
 * fixed seed reaches each about a hundred times or more, so falling below means the generators
 * stopped aiming.
 */
const COVERAGE_MINIMUM = 5;

// ---------------------------------------------------------------------------------------------
// The configuration under test and what the oracle derives from it
// ---------------------------------------------------------------------------------------------

const CONFIG: PlatformConfig = createDefaultPlatformConfig();
const POWER_DOMAINS = CONFIG.powerDomains ?? [];
const PERFORMANCE_DOMAINS = CONFIG.performanceDomains ?? [];
const CLOCKS = CONFIG.clocks ?? [];
const SENSORS = CONFIG.sensors ?? [];
const RESET_DOMAINS = CONFIG.resetDomains ?? [];
/** RESET flags bit 2: asynchronous (scmi-wire.md §4). */
const RESET_ASYNC = 4;
const VOLTAGE_DOMAINS = CONFIG.voltageDomains ?? [];
/** The voltage domains that take asynchronous VOLTAGE_LEVEL_SETs (flags bit 0). */
const ASYNC_VOLTAGE_DOMAINS = VOLTAGE_DOMAINS.flatMap((d, i) =>
  d.asyncLevelSet === true ? [i] : [],
);

/**
 * The fast channels' memory in the fast-channel variant: a slot per performance domain (domain
 * `i`'s at 24 × i, whether it has fast channels or not) and 8 bytes past them.
 */
const FAST_MEMORY_BYTES = PERFORMANCE_DOMAINS.length * PERF_FAST_CHANNEL_SLOT_SIZE + 8;
/** What every word of the memory holds before the platform starts (the agent's garbage). */
const FAST_MEMORY_FILL = 0xdeadbeef;
/** The poll period when `rateLimitUs` is not given (README: default 4000 µs). */
const DEFAULT_FAST_RATE_LIMIT_US = 4000;
/** PERF_DOMAIN_ATTRIBUTES flags bit 27: the domain has fast channels (scmi-wire.md §4). */
const PERF_FAST_CHANNEL_FLAG = 1 << 27;
/** One past the last Performance command (DOMAIN_NAME_GET, 0xC): DESCRIBE_FASTCHANNEL NOT_FOUND. */
const PERF_MESSAGE_END = 0xd;
/**
 * The channel PERF_DESCRIBE_FASTCHANNEL describes for each message that has one: its offset in a
 * domain's slot and its chan_size (README: a level is 4 bytes, limits 8).
 */
const FAST_CHANNEL_PLACE = new Map<number, { readonly offset: number; readonly size: number }>([
  [PerformanceMessageId.LIMITS_SET, { offset: PERF_FAST_CHANNEL_LIMITS_SET_OFFSET, size: 8 }],
  [PerformanceMessageId.LIMITS_GET, { offset: PERF_FAST_CHANNEL_LIMITS_GET_OFFSET, size: 8 }],
  [PerformanceMessageId.LEVEL_SET, { offset: PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, size: 4 }],
  [PerformanceMessageId.LEVEL_GET, { offset: PERF_FAST_CHANNEL_LEVEL_GET_OFFSET, size: 4 }],
]);
// The model speaks level values on the wire and in the channels: level indices only in level
// indexing mode at Performance 4.0, which the configuration under test must not be in.
if (
  (CONFIG.performanceVersion ?? 0x30000) >= 0x40000 &&
  PERFORMANCE_DOMAINS.some((d) => d.levelIndexing === true)
)
  throw new Error('platform fuzz: the performance model takes no level indexing mode');

/** Axes per sensor (0: a scalar sensor, which reads as one value). */
const SENSOR_AXES = SENSORS.map((s) => s.axes?.length ?? 0);
const MHZ = 1_000_000;

/** The protocols besides Base each agent is given; the others are hidden from it. */
const AGENT_PROTOCOLS = new Map<number, Set<number>>(
  CONFIG.agents.map((a) => [a.id, new Set(a.protocols.map((p) => PROTOCOL_ID_OF[p]))]),
);
const AGENT_IDS = CONFIG.agents.map((a) => a.id);
const IMPLEMENTED = new Set<number>([
  ScmiProtocolId.BASE,
  ScmiProtocolId.POWER,
  ScmiProtocolId.SYSTEM,
  ScmiProtocolId.PERF,
  ScmiProtocolId.CLOCK,
  ScmiProtocolId.SENSOR,
  ScmiProtocolId.RESET,
  ScmiProtocolId.VOLTAGE,
]);
/**
 * PROTOCOL_VERSION of each protocol the platform implements (SCMI v3.2; Base v2: the permission
 * commands 0x9–0xB exist).
 */
const PROTOCOL_VERSION: Record<number, number> = {
  [ScmiProtocolId.BASE]: 0x20001,
  [ScmiProtocolId.POWER]: 0x30001,
  [ScmiProtocolId.SYSTEM]: 0x20001,
  [ScmiProtocolId.PERF]: 0x30000,
  [ScmiProtocolId.CLOCK]: 0x30000,
  [ScmiProtocolId.SENSOR]: 0x30001,
  [ScmiProtocolId.RESET]: 0x30001,
  [ScmiProtocolId.VOLTAGE]: 0x20001,
};
/**
 * PROTOCOL_VERSION without version negotiation (firmware older than SCMI v3.2): minor 0 for the
 * protocols whose v3.2 minor 1 only adds NEGOTIATE_PROTOCOL_VERSION.
 */
function ownVersion(protocolId: number, negotiation: boolean): number {
  const v = PROTOCOL_VERSION[protocolId] ?? 0;
  return negotiation ? v : (v & 0xffff0000) >>> 0;
}
/** Older versions NEGOTIATE_PROTOCOL_VERSION accepts besides the own major's minors. */
const OLDER_VERSIONS: Record<number, readonly number[]> = {
  [ScmiProtocolId.BASE]: [0x10000],
  [ScmiProtocolId.SYSTEM]: [0x10000],
  [ScmiProtocolId.VOLTAGE]: [0x10000],
};
/** PROTOCOL_ATTRIBUTES return-value bytes per protocol (scmi-wire.md §4). */
const PROTOCOL_ATTRIBUTES_LENGTH: Record<number, number> = {
  [ScmiProtocolId.BASE]: 4,
  [ScmiProtocolId.POWER]: 16,
  [ScmiProtocolId.SYSTEM]: 4,
  [ScmiProtocolId.PERF]: 16,
  [ScmiProtocolId.CLOCK]: 4,
  [ScmiProtocolId.SENSOR]: 16,
  [ScmiProtocolId.RESET]: 4,
  [ScmiProtocolId.VOLTAGE]: 4,
};

/** Header bits 31:28, reserved (scmi-wire.md §1). */
const RESERVED_HEADER_BITS = 0xf0000000;
/** Header bits 9:8, the message type (scmi-wire.md §1). */
const MESSAGE_TYPE_BITS = 0x300;
/** The lowest status code the reference knows (IN_USE, scmi-wire.md §4). */
const LOWEST_STATUS = -11;

/** What a request word stands for, to generate plausible hostile values for it. */
type WordKind =
  | 'any'
  | 'domainId'
  | 'index'
  | 'flags'
  | 'notifyEnable'
  | 'messageId'
  | 'version'
  | 'agentId'
  | 'deviceId'
  | 'protocolId'
  | 'powerState'
  | 'systemState'
  | 'perfLevel'
  | 'rateLow'
  | 'rateHigh'
  | 'clockAttributes'
  | 'tripPointEvCtrl'
  | 'sensorConfig'
  | 'resetFlags'
  | 'resetState'
  | 'voltageConfig'
  | 'voltageLevel';

/** A command's request as scmi-wire.md §4 lays it out. */
interface CommandShape {
  /** Accepted payload sizes in bytes; any other size is a PROTOCOL_ERROR. */
  readonly sizes: readonly number[];
  /** What each word of the largest payload stands for. */
  readonly words: readonly WordKind[];
  /** A `*_NOTIFY` command: NOT_SUPPORTED on a link without a P2A channel. */
  readonly needsP2a?: boolean;
  /** The protocol version that introduced the command (Base 0x9–0xB, VOLTAGE_DOMAIN_NAME_GET). */
  readonly since?: number;
}

const shape = (words: WordKind[], extra: Partial<CommandShape> = {}): CommandShape => ({
  sizes: [words.length * 4],
  words,
  ...extra,
});

/** The commands every protocol implements (scmi-wire.md §4 "Common to every protocol"). */
const COMMON_COMMANDS: Record<number, CommandShape> = {
  [CommonMessageId.PROTOCOL_VERSION]: shape([]),
  [CommonMessageId.PROTOCOL_ATTRIBUTES]: shape([]),
  [CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES]: shape(['messageId']),
  [CommonMessageId.NEGOTIATE_PROTOCOL_VERSION]: shape(['version']),
};

/** The other commands of each protocol (scmi-wire.md §4 tables, request column). */
const PROTOCOL_COMMANDS: Record<number, Record<number, CommandShape>> = {
  [ScmiProtocolId.BASE]: {
    [BaseMessageId.DISCOVER_VENDOR]: shape([]),
    [BaseMessageId.DISCOVER_SUB_VENDOR]: shape([]),
    [BaseMessageId.DISCOVER_IMPLEMENTATION_VERSION]: shape([]),
    [BaseMessageId.DISCOVER_LIST_PROTOCOLS]: shape(['index']),
    [BaseMessageId.DISCOVER_AGENT]: shape(['agentId']),
    [BaseMessageId.NOTIFY_ERRORS]: shape(['notifyEnable'], { needsP2a: true }),
    [BaseMessageId.SET_DEVICE_PERMISSIONS]: shape(['agentId', 'deviceId', 'flags'], {
      since: 0x20000,
    }),
    [BaseMessageId.SET_PROTOCOL_PERMISSIONS]: shape(
      ['agentId', 'deviceId', 'protocolId', 'flags'],
      { since: 0x20000 },
    ),
    [BaseMessageId.RESET_AGENT_CONFIGURATION]: shape(['agentId', 'flags'], { since: 0x20000 }),
  },
  [ScmiProtocolId.POWER]: {
    [PowerMessageId.DOMAIN_ATTRIBUTES]: shape(['domainId']),
    [PowerMessageId.STATE_SET]: shape(['flags', 'domainId', 'powerState']),
    [PowerMessageId.STATE_GET]: shape(['domainId']),
    [PowerMessageId.STATE_NOTIFY]: shape(['domainId', 'notifyEnable'], { needsP2a: true }),
    [PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY]: shape(['domainId', 'notifyEnable'], {
      needsP2a: true,
    }),
    [PowerMessageId.DOMAIN_NAME_GET]: shape(['domainId']),
  },
  [ScmiProtocolId.SYSTEM]: {
    [SystemPowerMessageId.STATE_SET]: shape(['flags', 'systemState']),
    [SystemPowerMessageId.STATE_GET]: shape([]),
    [SystemPowerMessageId.STATE_NOTIFY]: shape(['notifyEnable'], { needsP2a: true }),
  },
  [ScmiProtocolId.PERF]: {
    [PerformanceMessageId.DOMAIN_ATTRIBUTES]: shape(['domainId']),
    [PerformanceMessageId.DESCRIBE_LEVELS]: shape(['domainId', 'index']),
    [PerformanceMessageId.LIMITS_SET]: shape(['domainId', 'perfLevel', 'perfLevel']),
    [PerformanceMessageId.LIMITS_GET]: shape(['domainId']),
    [PerformanceMessageId.LEVEL_SET]: shape(['domainId', 'perfLevel']),
    [PerformanceMessageId.LEVEL_GET]: shape(['domainId']),
    [PerformanceMessageId.NOTIFY_LIMITS]: shape(['domainId', 'notifyEnable'], { needsP2a: true }),
    [PerformanceMessageId.NOTIFY_LEVEL]: shape(['domainId', 'notifyEnable'], { needsP2a: true }),
    [PerformanceMessageId.DESCRIBE_FASTCHANNEL]: shape(['domainId', 'messageId']),
    [PerformanceMessageId.DOMAIN_NAME_GET]: shape(['domainId']),
  },
  [ScmiProtocolId.CLOCK]: {
    [ClockMessageId.ATTRIBUTES]: shape(['domainId']),
    [ClockMessageId.DESCRIBE_RATES]: shape(['domainId', 'index']),
    [ClockMessageId.RATE_SET]: shape(['flags', 'domainId', 'rateLow', 'rateHigh']),
    [ClockMessageId.RATE_GET]: shape(['domainId']),
    // v1/2 (clock_id, attributes) and v3 (clock_id, attributes, oem_value).
    [ClockMessageId.CONFIG_SET]: { sizes: [8, 12], words: ['domainId', 'clockAttributes', 'any'] },
    [ClockMessageId.NAME_GET]: shape(['domainId']),
    [ClockMessageId.RATE_NOTIFY]: shape(['domainId', 'notifyEnable'], { needsP2a: true }),
    [ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY]: shape(['domainId', 'notifyEnable'], {
      needsP2a: true,
    }),
    [ClockMessageId.CONFIG_GET]: shape(['domainId', 'flags']),
    [ClockMessageId.POSSIBLE_PARENTS_GET]: shape(['domainId', 'index']),
    [ClockMessageId.PARENT_SET]: shape(['domainId', 'domainId']),
    [ClockMessageId.PARENT_GET]: shape(['domainId']),
    [ClockMessageId.GET_PERMISSIONS]: shape(['domainId']),
  },
  [ScmiProtocolId.SENSOR]: {
    [SensorMessageId.DESCRIPTION_GET]: shape(['index']),
    [SensorMessageId.TRIP_POINT_NOTIFY]: shape(['domainId', 'notifyEnable'], { needsP2a: true }),
    [SensorMessageId.TRIP_POINT_CONFIG]: shape(['domainId', 'tripPointEvCtrl', 'any', 'any']),
    [SensorMessageId.READING_GET]: shape(['domainId', 'flags']),
    [SensorMessageId.AXIS_DESCRIPTION_GET]: shape(['domainId', 'index']),
    [SensorMessageId.LIST_UPDATE_INTERVALS]: shape(['domainId', 'index']),
    [SensorMessageId.CONFIG_GET]: shape(['domainId']),
    [SensorMessageId.CONFIG_SET]: shape(['domainId', 'sensorConfig']),
    [SensorMessageId.CONTINUOUS_UPDATE_NOTIFY]: shape(['domainId', 'notifyEnable'], {
      needsP2a: true,
    }),
    [SensorMessageId.NAME_GET]: shape(['domainId']),
    [SensorMessageId.AXIS_NAME_GET]: shape(['domainId', 'index']),
  },
  [ScmiProtocolId.RESET]: {
    [ResetMessageId.DOMAIN_ATTRIBUTES]: shape(['domainId']),
    [ResetMessageId.RESET]: shape(['domainId', 'resetFlags', 'resetState']),
    [ResetMessageId.NOTIFY]: shape(['domainId', 'notifyEnable'], { needsP2a: true }),
    [ResetMessageId.DOMAIN_NAME_GET]: shape(['domainId']),
  },
  [ScmiProtocolId.VOLTAGE]: {
    [VoltageMessageId.DOMAIN_ATTRIBUTES]: shape(['domainId']),
    [VoltageMessageId.DESCRIBE_LEVELS]: shape(['domainId', 'index']),
    [VoltageMessageId.CONFIG_SET]: shape(['domainId', 'voltageConfig']),
    [VoltageMessageId.CONFIG_GET]: shape(['domainId']),
    [VoltageMessageId.LEVEL_SET]: shape(['domainId', 'flags', 'voltageLevel']),
    [VoltageMessageId.LEVEL_GET]: shape(['domainId']),
    [VoltageMessageId.DOMAIN_NAME_GET]: shape(['domainId'], { since: 0x20000 }),
  },
};

function commandShape(protocolId: number, messageId: number): CommandShape | undefined {
  if (!IMPLEMENTED.has(protocolId)) return undefined;
  return COMMON_COMMANDS[messageId] ?? PROTOCOL_COMMANDS[protocolId]?.[messageId];
}

/**
 * Return-value bytes of the delayed response of an asynchronous command, after its status
 * (scmi-wire.md §4): CLOCK_RATE_SET clock_id, rate_low, rate_high; RESET domain_id;
 * VOLTAGE_LEVEL_SET domain_id, voltage_level;
 * SENSOR_READING_GET sensor_id and one {value_low, value_high, ts_low, ts_high} per axis (a
 * scalar sensor reads as one).
 */
function delayedReturnLength(protocolId: number, messageId: number, domainId: number): number {
  if (protocolId === ScmiProtocolId.CLOCK && messageId === ClockMessageId.RATE_SET) return 12;
  if (protocolId === ScmiProtocolId.RESET && messageId === ResetMessageId.RESET) return 4;
  if (protocolId === ScmiProtocolId.VOLTAGE && messageId === VoltageMessageId.LEVEL_SET) return 8;
  // SENSOR_READING_GET, the only other asynchronous command.
  return 4 + 16 * Math.max(1, SENSOR_AXES[domainId] ?? 1);
}

/** The asynchronous commands that answered SUCCESS owe a delayed response (scmi-wire.md §4). */
function owesDelayedResponse(protocolId: number, messageId: number, request: number[]): boolean {
  switch (protocolId) {
    case ScmiProtocolId.CLOCK: {
      // flags (bit0 async, bit1 no delayed response), clock_id, rate_low, rate_high.
      const flags = request[0] ?? 0;
      return messageId === ClockMessageId.RATE_SET && (flags & 3) === 1;
    }
    case ScmiProtocolId.RESET:
      // domain_id, flags (bit2 async), reset_state.
      return messageId === ResetMessageId.RESET && ((request[1] ?? 0) & 4) !== 0;
    case ScmiProtocolId.SENSOR:
      // sensor_id, flags (bit0 async; other bits make it INVALID_PARAMETERS).
      return messageId === SensorMessageId.READING_GET && request[1] === 1;
    case ScmiProtocolId.VOLTAGE:
      // domain_id, flags (bit0 async; other bits make it INVALID_PARAMETERS), voltage_level.
      return messageId === VoltageMessageId.LEVEL_SET && request[1] === 1;
    default:
      return false;
  }
}

/** The domain id word of an asynchronous command (CLOCK_RATE_SET has its flags first). */
const asyncDomainOf = (protocolId: number, request: number[]): number =>
  (protocolId === ScmiProtocolId.CLOCK ? request[1] : request[0]) ?? 0;

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const BOUNDARY_WORDS = [
  0, 1, 2, 3, 4, 5, 6, 0xf, 0x10, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, 0x7fffffff,
  0x80000000, 0x80000001, 0xfffffffe, 0xffffffff,
];
/** Values per word kind: mostly plausible ones around the configuration's limits. */
const WORD_VALUES: Record<WordKind, fc.Arbitrary<number>> = {
  any: u32,
  domainId: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(0, 0, 1, 1, 2, 3) },
    { weight: 1, arbitrary: fc.constantFrom(4, 5, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000) },
  ),
  index: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 0xfff, 0x1000, 0xffff, 0x10000, 0x7fffffff),
  flags: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(0, 0, 1, 1, 2, 3) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 15 }) },
    { weight: 1, arbitrary: fc.constantFrom(0x10, 0x80000000, 0x80000001, 0xfffffff0, 0xffffffff) },
  ),
  notifyEnable: fc.constantFrom(0, 1, 1, 1, 1, 2, 3, 0x80000001, 0xfffffffe, 0xffffffff),
  messageId: fc.oneof(
    fc.integer({ min: 0, max: 0x20 }),
    fc.constantFrom(0x100, 0x10000, 0xffffffff),
  ),
  version: fc.constantFrom(
    0,
    0x10000,
    0x10001,
    0x20000,
    0x20001,
    0x30000,
    0x30001,
    0x40000,
    0xffffffff,
  ),
  agentId: fc.constantFrom(0, 1, 2, 3, 0xffffffff, 0xfffffffe),
  deviceId: fc.constantFrom(0, 1, 2, 3, 0xffffffff),
  protocolId: fc.constantFrom(0, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0xff, 0x114),
  powerState: fc.constantFrom(0, 0x40000000, 0x40000001, 1, 0x80000000, 0xffffffff),
  systemState: fc.constantFrom(0, 1, 2, 3, 4, 5, 0x7fffffff, 0x80000000, 0xffffffff),
  // The levels, values between them (no level: 300, 1_000_000) and beyond them.
  perfLevel: fc.constantFrom(
    0,
    1,
    199,
    200,
    300,
    400,
    600,
    400_000,
    1_000_000,
    800_000,
    1_200_000,
    1_800_000,
    1_800_001,
    0xffffffff,
  ),
  rateLow: fc.constantFrom(
    0,
    19_200_000,
    24 * MHZ,
    48 * MHZ,
    200 * MHZ,
    250 * MHZ,
    300 * MHZ,
    400 * MHZ,
    600 * MHZ,
    2000 * MHZ,
    2000 * MHZ + 1,
    0xffffffff,
  ),
  rateHigh: fc.constantFrom(0, 0, 0, 1, 0x1fffff, 0x200000, 0x80000000, 0xffffffff),
  clockAttributes: fc.constantFrom(0, 1, 2, 3, 4, 0x10000, 0x800001, 0xffffffff),
  // 1:0 event control, 11:4 trip point id, the rest reserved.
  tripPointEvCtrl: fc
    .tuple(
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
      fc.constantFrom(0, 0, 0, 4, 8, 0x1000, 0x80000000),
    )
    .map(([control, tripId, reserved]) => (control | (tripId << 4) | reserved) >>> 0),
  // 31:16 update interval, 15:11 exponent, 10:9 rounding, 1:0 enable bits, the rest reserved.
  sensorConfig: fc
    .tuple(
      fc.constantFrom(0, 1, 2, 5, 10, 20, 50, 100, 1000, 0xffff),
      fc.constantFrom(-16, -6, -3, -2, -1, 0, 3, 15),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
      fc.constantFrom(0, 0, 0, 4, 0x100),
    )
    .map(
      ([interval, exponent, rounding, enable, reserved]) =>
        ((interval << 16) | ((exponent & 0x1f) << 11) | (rounding << 9) | enable | reserved) >>> 0,
    ),
  resetFlags: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 0xffffffff),
  resetState: fc.constantFrom(0, 1, 0x80000000, 0x80000005, 0x7fffffff, 0xffffffff),
  // 3:0 mode (0x0 OFF, 0x7 ON, 0x8 | id implementation defined), the rest reserved.
  voltageConfig: fc.constantFrom(0, 7, 7, 1, 6, 8, 9, 0xf, 0x10, 0x17, 0x80000007, 0xffffffff),
  // The levels (µV), values between them, beyond them, and negative ones (s32).
  voltageLevel: fc.constantFrom(
    800_000,
    850_000,
    900_000,
    1_000_000,
    875_000,
    1_800_000,
    1_850_000,
    2_500_000,
    3_300_000,
    3_400_000,
    0,
    0xffffffff,
    0x80000000,
  ),
};
const wordOf = (kind: WordKind): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 14, arbitrary: WORD_VALUES[kind] },
    { weight: 1, arbitrary: fc.constantFrom(...BOUNDARY_WORDS) },
    { weight: 1, arbitrary: u32 },
  );

/** Little-endian u32 words as bytes. */
function wordsToBytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    view.setUint32(i * 4, v >>> 0, true);
  });
  return out;
}

/** Mostly a payload of the right shape, sometimes too short, too long or random. */
function payloadArb(protocolId: number, messageId: number): fc.Arbitrary<Uint8Array> {
  const s = commandShape(protocolId, messageId);
  const random = fc.oneof(
    fc.uint8Array({ maxLength: 24 }),
    fc.array(fc.oneof(fc.constantFrom(...BOUNDARY_WORDS), u32), { maxLength: 6 }).map(wordsToBytes),
  );
  if (s === undefined) return fc.oneof(fc.constant(new Uint8Array(0)), random);
  const exact = fc
    .constantFrom(...s.sizes)
    .chain((size) => fc.tuple(...s.words.slice(0, size / 4).map(wordOf)))
    .map(wordsToBytes);
  const largest = Math.max(...s.sizes);
  return fc.oneof(
    { weight: 12, arbitrary: exact },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
    {
      weight: 1, // too short, possibly by part of a word
      arbitrary: exact.chain((b) =>
        fc.integer({ min: 0, max: Math.max(0, b.byteLength - 1) }).map((n) => b.slice(0, n)),
      ),
    },
    {
      weight: 1, // too long
      arbitrary: fc.tuple(exact, fc.uint8Array({ minLength: 1, maxLength: 9 })).map(([b, more]) => {
        const out = new Uint8Array(b.byteLength + more.byteLength);
        out.set(b);
        out.set(more, b.byteLength);
        return out;
      }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: largest, maxLength: largest }) },
    { weight: 1, arbitrary: random },
  );
}

interface CommandOp {
  readonly kind: 'command';
  readonly agentId: number;
  readonly channelId: number;
  readonly header: number;
  readonly payload: Uint8Array;
}
/** One step of a scenario. */
type Op =
  | CommandOp
  /** Arbitrary bytes, possibly shorter than a header. */
  | { readonly kind: 'raw'; readonly agentId: number; readonly bytes: Uint8Array }
  | { readonly kind: 'advance'; readonly ms: number }
  | ({ readonly kind: 'reconnect'; readonly agentId: number } & LinkParams)
  | { readonly kind: 'disconnect'; readonly agentId: number }
  /**
   * A hostile agent's write of u32 words into performance domain `domainId`'s slot of the fast
   * channels' memory, from byte `offset` of the slot (LEVEL_SET, LIMITS_SET; the fast-channel
   * variant only).
   */
  | {
      readonly kind: 'write';
      readonly domainId: number;
      readonly offset: number;
      readonly values: readonly number[];
    }
  /** Time passing across the fast channels' polls: `periods` poll periods, and `extraMs`. */
  | { readonly kind: 'polls'; readonly periods: number; readonly extraMs: number };

/** How an agent's link behaves. */
interface LinkParams {
  readonly p2a: boolean;
  readonly maxMsgSize: number;
  /** `post` refuses every (n + 1)th message; 0: never. */
  readonly refuseEvery: number;
}

const agentIdArb = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(...AGENT_IDS) },
  { weight: 1, arbitrary: fc.constantFrom(0, 3, 0xffffffff, -1, 1.5, Number.NaN) },
);
const protocolIdArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: ScmiProtocolId.BASE, max: ScmiProtocolId.VOLTAGE }) },
  { weight: 1, arbitrary: fc.constantFrom(0x00, 0x0f, 0x18, 0x19, 0x80, 0xff) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }) },
);
const messageIdArb = (protocolId: number): fc.Arbitrary<number> => {
  const known = [
    ...Object.keys(COMMON_COMMANDS),
    ...Object.keys(PROTOCOL_COMMANDS[protocolId] ?? {}),
  ].map(Number);
  return fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x20 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }) },
  );
};
/** Mostly a command; sometimes type 1 (unused), a delayed response or a notification. */
const messageTypeArb = fc.oneof(
  { weight: 30, arbitrary: fc.constant(ScmiMessageType.COMMAND) },
  { weight: 1, arbitrary: fc.constantFrom(1, 2, 3) },
);
const reservedBitsArb = fc.oneof(
  { weight: 30, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 15 }) },
);

/** Any command, from well formed to hostile. */
const hostileCommandArb: fc.Arbitrary<CommandOp> = protocolIdArb
  .chain((protocolId) =>
    fc.record({
      agentId: agentIdArb,
      channelId: fc.constantFrom(0, 0, 0, 1, 7),
      protocolId: fc.constant(protocolId),
      messageId: messageIdArb(protocolId),
      type: messageTypeArb,
      reserved: reservedBitsArb,
      token: fc.integer({ min: 0, max: 0x3ff }),
    }),
  )
  .chain((h) =>
    payloadArb(h.protocolId, h.messageId).map((payload): CommandOp => ({
      kind: 'command',
      agentId: h.agentId,
      channelId: h.channelId,
      header: (buildHeader(h.messageId, h.type, h.protocolId, h.token) | (h.reserved << 28)) >>> 0,
      payload,
    })),
  );

const w = (...values: number[]): Uint8Array => wordsToBytes(values);
const pick = <T>(values: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...values);
const levelsOf = (domainId: number): number[] =>
  (PERFORMANCE_DOMAINS[domainId]?.levels ?? []).map((l) => l.value);
/** The levels of a domain, 0 ("unchanged") and a value between its two lowest levels. */
const limitsOf = (domainId: number): number[] => {
  const levels = levelsOf(domainId);
  const between = Math.floor(((levels[0] ?? 0) + (levels[1] ?? levels[0] ?? 0)) / 2);
  return [0, ...levels, between];
};
/** The rates of a clock and the rates just outside them. */
const ratesOf = (clockId: number): number[] => {
  const rates = CLOCKS[clockId]?.rates;
  if (rates === undefined) return [0];
  if (isRateList(rates)) {
    const first = rates[0] as number;
    const second = rates[1] ?? first;
    const last = rates[rates.length - 1] as number;
    return [...rates, first - 1, last + 1, Math.floor((first + second) / 2)];
  }
  const { min, max, step } = rates;
  return [min, max, min + step, min + Math.floor(step / 2), max - 1, max + 1, min - 1];
};
/** The levels voltage domain `d` takes as asked: a list's levels; a range's min, min + step, max. */
const voltageLevelsOf = (domainId: number): number[] => {
  const levels = VOLTAGE_DOMAINS[domainId]?.levels;
  if (levels === undefined) return [0];
  return isVoltageList(levels) ? [...levels] : [levels.min, levels.min + levels.step, levels.max];
};
/** A SENSOR_CONFIG_SET config word: update interval `ms` × 10^-3 s, rounding, enable bits. */
const sensorConfigWord = (ms: number, rounding: number, enable: number): number =>
  ((ms << 16) | ((-3 & 0x1f) << 11) | (rounding << 9) | enable) >>> 0;

/** Commands with arguments valid for the configuration: these change the state. */
const VALID_COMMANDS: [ScmiProtocolId, number, fc.Arbitrary<Uint8Array>][] = [
  [ScmiProtocolId.BASE, BaseMessageId.NOTIFY_ERRORS, pick([1, 1, 0]).map((e) => w(e))],
  [ScmiProtocolId.BASE, BaseMessageId.DISCOVER_LIST_PROTOCOLS, fc.nat(7).map((i) => w(i))],
  [
    ScmiProtocolId.BASE,
    BaseMessageId.DISCOVER_AGENT,
    pick([0, 1, 2, 3, 0xffffffff]).map((a) => w(a)),
  ],
  [
    ScmiProtocolId.BASE,
    BaseMessageId.SET_DEVICE_PERMISSIONS,
    fc.tuple(pick([1, 2]), pick([0, 1, 2]), pick([0, 1])).map(([a, d, f]) => w(a, d, f)),
  ],
  [
    ScmiProtocolId.BASE,
    BaseMessageId.SET_PROTOCOL_PERMISSIONS,
    fc
      .tuple(pick([1, 2]), pick([0, 1, 2]), pick([0x10, 0x11, 0x13, 0x14, 0x16]), pick([0, 1]))
      .map(([a, d, p, f]) => w(a, d, p, f)),
  ],
  [
    ScmiProtocolId.BASE,
    BaseMessageId.RESET_AGENT_CONFIGURATION,
    fc.tuple(pick([1, 2]), pick([0, 1])).map(([a, f]) => w(a, f)),
  ],
  [
    ScmiProtocolId.BASE,
    CommonMessageId.NEGOTIATE_PROTOCOL_VERSION,
    pick([0x10000, 0x20000]).map((v) => w(v)),
  ],
  [
    ScmiProtocolId.POWER,
    PowerMessageId.STATE_SET,
    fc
      .nat(POWER_DOMAINS.length - 1)
      .chain((d) => fc.tuple(pick([0, 1]), fc.constant(d), pick(POWER_DOMAINS[d]?.states ?? [0])))
      .map(([f, d, state]) => w(f, d, state)),
  ],
  [
    ScmiProtocolId.POWER,
    PowerMessageId.STATE_NOTIFY,
    fc.tuple(pick([0, 1, 2]), pick([1, 1, 0])).map(([d, e]) => w(d, e)),
  ],
  [
    ScmiProtocolId.POWER,
    PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY,
    fc.tuple(pick([0, 1, 2]), pick([1, 1, 0])).map(([d, e]) => w(d, e)),
  ],
  [
    ScmiProtocolId.SYSTEM,
    SystemPowerMessageId.STATE_SET,
    fc.tuple(pick([0, 1]), pick([0, 1, 2, 3, 4, 0x80000000])).map(([f, s]) => w(f, s)),
  ],
  [ScmiProtocolId.SYSTEM, SystemPowerMessageId.STATE_NOTIFY, pick([1, 1, 0]).map((e) => w(e))],
  [
    ScmiProtocolId.SYSTEM,
    CommonMessageId.NEGOTIATE_PROTOCOL_VERSION,
    pick([0x10000, 0x20000, 0x20001]).map((v) => w(v)),
  ],
  [
    ScmiProtocolId.PERF,
    PerformanceMessageId.DESCRIBE_LEVELS,
    fc.tuple(pick([0, 1, 2]), fc.nat(5)).map(([d, i]) => w(d, i)),
  ],
  [
    ScmiProtocolId.PERF,
    PerformanceMessageId.LIMITS_SET,
    fc
      .nat(PERFORMANCE_DOMAINS.length - 1)
      .chain((d) => fc.tuple(fc.constant(d), pick(limitsOf(d)), pick(limitsOf(d))))
      .map(([d, max, min]) => w(d, max, min)),
  ],
  [
    ScmiProtocolId.PERF,
    PerformanceMessageId.LEVEL_SET,
    fc
      .nat(PERFORMANCE_DOMAINS.length - 1)
      .chain((d) => fc.tuple(fc.constant(d), pick(levelsOf(d))))
      .map(([d, level]) => w(d, level)),
  ],
  [
    ScmiProtocolId.PERF,
    PerformanceMessageId.NOTIFY_LIMITS,
    fc.tuple(pick([0, 1]), pick([1, 1, 0])).map(([d, e]) => w(d, e)),
  ],
  [
    ScmiProtocolId.PERF,
    PerformanceMessageId.NOTIFY_LEVEL,
    fc.tuple(pick([0, 1]), pick([1, 1, 0])).map(([d, e]) => w(d, e)),
  ],
  [
    ScmiProtocolId.CLOCK,
    ClockMessageId.DESCRIBE_RATES,
    fc.tuple(pick([0, 1, 2, 3]), fc.nat(4)).map(([c, i]) => w(c, i)),
  ],
  [
    ScmiProtocolId.CLOCK,
    ClockMessageId.RATE_SET,
    fc
      .nat(CLOCKS.length - 1)
      .chain((c) => fc.tuple(fc.nat(15), fc.constant(c), pick(ratesOf(c))))
      .map(([f, c, rate]) => w(f, c, rate % 2 ** 32, Math.floor(rate / 2 ** 32))),
  ],
  [
    ScmiProtocolId.CLOCK,
    ClockMessageId.CONFIG_SET,
    fc.tuple(pick([0, 1, 2, 3]), pick([0, 1, 3])).map(([c, a]) => w(c, a)),
  ],
  [
    ScmiProtocolId.CLOCK,
    ClockMessageId.RATE_NOTIFY,
    fc.tuple(pick([0, 1, 2, 3]), pick([1, 1, 0])).map(([c, e]) => w(c, e)),
  ],
  [
    ScmiProtocolId.CLOCK,
    ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY,
    fc.tuple(pick([0, 1, 2, 3]), pick([1, 1, 0])).map(([c, e]) => w(c, e)),
  ],
  [
    ScmiProtocolId.CLOCK,
    ClockMessageId.POSSIBLE_PARENTS_GET,
    fc.tuple(pick([2, 2, 0]), fc.nat(3)).map(([c, i]) => w(c, i)),
  ],
  [ScmiProtocolId.CLOCK, ClockMessageId.PARENT_SET, pick([0, 3, 1]).map((p) => w(2, p))],
  [ScmiProtocolId.SENSOR, SensorMessageId.DESCRIPTION_GET, fc.nat(5).map((i) => w(i))],
  [
    ScmiProtocolId.SENSOR,
    SensorMessageId.TRIP_POINT_NOTIFY,
    fc.tuple(pick([0, 1, 2, 3]), pick([1, 1, 0])).map(([s, e]) => w(s, e)),
  ],
  [
    ScmiProtocolId.SENSOR,
    SensorMessageId.TRIP_POINT_CONFIG,
    fc
      .tuple(
        pick([0, 2]),
        pick([1, 2, 3, 0]),
        pick([0, 1]),
        pick([0, 30_000, 45_000, 60_000, 500, 1500, 2500]),
      )
      .map(([s, control, tripId, value]) => w(s, control | (tripId << 4), value, 0)),
  ],
  [
    ScmiProtocolId.SENSOR,
    SensorMessageId.READING_GET,
    fc.tuple(pick([0, 1, 2, 3]), pick([0, 1, 1])).map(([s, f]) => w(s, f)),
  ],
  [
    ScmiProtocolId.SENSOR,
    SensorMessageId.AXIS_DESCRIPTION_GET,
    fc.tuple(pick([3, 3, 0]), fc.nat(4)).map(([s, i]) => w(s, i)),
  ],
  [
    ScmiProtocolId.SENSOR,
    SensorMessageId.LIST_UPDATE_INTERVALS,
    fc.tuple(pick([2, 3, 0]), fc.nat(5)).map(([s, i]) => w(s, i)),
  ],
  [
    ScmiProtocolId.SENSOR,
    SensorMessageId.CONFIG_SET,
    fc
      .tuple(
        pick([0, 2, 3]),
        pick([0, 10, 20, 50, 100, 150, 200, 1000, 2000]),
        pick([0, 1, 2]),
        pick([0, 1, 3]),
      )
      .map(([s, ms, rounding, enable]) => w(s, sensorConfigWord(ms, rounding, enable))),
  ],
  [
    ScmiProtocolId.SENSOR,
    SensorMessageId.CONTINUOUS_UPDATE_NOTIFY,
    fc.tuple(pick([2, 3]), pick([1, 1, 0])).map(([s, e]) => w(s, e)),
  ],
  [
    ScmiProtocolId.SENSOR,
    SensorMessageId.AXIS_NAME_GET,
    fc.tuple(pick([3, 3, 0]), fc.nat(4)).map(([s, i]) => w(s, i)),
  ],
  [
    ScmiProtocolId.RESET,
    ResetMessageId.RESET,
    fc
      .tuple(pick([0, 1, 2]), fc.nat(7), pick([0, 0x80000000]))
      .map(([d, f, state]) => w(d, f, state)),
  ],
  [
    ScmiProtocolId.RESET,
    ResetMessageId.NOTIFY,
    fc.tuple(pick([0, 1, 2]), pick([1, 1, 0])).map(([d, e]) => w(d, e)),
  ],
  // Asynchronous resets of the one domain that has them. Alone these seldom reach the pending limit
  // (the suite's run did not once): the reset fragments (resetFragmentArb) do.
  [
    ScmiProtocolId.RESET,
    ResetMessageId.RESET,
    pick([0, 0x80000000]).map((state) => w(0, 1 | RESET_ASYNC, state)),
  ],
  [
    ScmiProtocolId.VOLTAGE,
    VoltageMessageId.DESCRIBE_LEVELS,
    fc.tuple(pick([0, 1, 2]), fc.nat(6)).map(([d, i]) => w(d, i)),
  ],
  [
    ScmiProtocolId.VOLTAGE,
    VoltageMessageId.LEVEL_SET,
    fc
      .nat(VOLTAGE_DOMAINS.length - 1)
      .chain((d) => fc.tuple(fc.constant(d), pick([0, 0, 1]), pick(voltageLevelsOf(d))))
      .map(([d, f, level]) => w(d, f, level)),
  ],
  [
    ScmiProtocolId.VOLTAGE,
    VoltageMessageId.CONFIG_SET,
    fc.tuple(pick([0, 1, 2]), pick([0, 7, 8, 9])).map(([d, c]) => w(d, c)),
  ],
];
const validCommandArb: fc.Arbitrary<CommandOp> = fc
  .tuple(
    fc.nat(VALID_COMMANDS.length - 1),
    fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constant(2) }),
    fc.integer({ min: 0, max: 0x3ff }),
  )
  .chain(([i, agentId, token]) => {
    const [protocolId, messageId, payload] = defined(VALID_COMMANDS[i]);
    return payload.map((bytes): CommandOp => ({
      kind: 'command',
      agentId,
      channelId: 0,
      header: buildHeader(messageId, ScmiMessageType.COMMAND, protocolId, token),
      payload: bytes,
    }));
  });

// Scenario fragments: short command sequences aimed at the state rules of {@link Coverage}, which
// single commands drawn one by one almost never reach (none of them, but one disabled sensor read,
// in the suite's run before these existed). Each starts an operation on one domain and follows it,
// before much time passes, with more commands on the same domain.

/** A command of agent 1 (which has every protocol and domain) on channel 0, any token. */
const commandArb = (
  protocolId: number,
  messageId: number,
  payload: fc.Arbitrary<Uint8Array>,
): fc.Arbitrary<Op> =>
  fc.tuple(payload, fc.integer({ min: 0, max: 0x3ff })).map(([bytes, token]): Op => ({
    kind: 'command',
    agentId: 1,
    channelId: 0,
    header: buildHeader(messageId, ScmiMessageType.COMMAND, protocolId, token),
    payload: bytes,
  }));
/** A command or nothing. */
const maybe = (op: fc.Arbitrary<Op>): fc.Arbitrary<Op[]> =>
  fc.option(op, { nil: undefined }).map((o) => (o === undefined ? [] : [o]));
/** Time passing inside a fragment: mostly less than the asynchronous latencies (default 1 ms). */
const shortAdvanceArb: fc.Arbitrary<Op> = fc
  .constantFrom(0, 0.25, 0.5, 2)
  .map((ms): Op => ({ kind: 'advance', ms }));
/** `first`, then `min`–`max` of `next`, now and then a short advance between them. */
const fragment = (
  first: fc.Arbitrary<Op[]>,
  next: fc.Arbitrary<Op>,
  min: number,
  max: number,
): fc.Arbitrary<Op[]> =>
  fc
    .tuple(
      first,
      fc.array(
        fc.oneof({ weight: 6, arbitrary: next }, { weight: 1, arbitrary: shortAdvanceArb }),
        { minLength: min, maxLength: max },
      ),
    )
    .map(([a, b]) => [...a, ...b]);

/** The rates clock `c` takes as asked: a list's rates; a range's min, min + step and max. */
const exactRatesOf = (clockId: number): number[] => {
  const rates = CLOCKS[clockId]?.rates;
  if (rates === undefined) return [0];
  return isRateList(rates) ? [...rates] : [rates.min, rates.min + rates.step, rates.max];
};
/** An asynchronous CLOCK_RATE_SET, then CLOCK_ATTRIBUTES, RATE_GET, RATE_SET, CONFIG_SET/GET. */
const clockFragmentArb: fc.Arbitrary<Op[]> = fc.nat(CLOCKS.length - 1).chain((c) => {
  const rateSet = (flags: fc.Arbitrary<number>, rate: fc.Arbitrary<number>): fc.Arbitrary<Op> =>
    commandArb(
      ScmiProtocolId.CLOCK,
      ClockMessageId.RATE_SET,
      fc.tuple(flags, rate).map(([f, r]) => w(f, c, r % 2 ** 32, Math.floor(r / 2 ** 32))),
    );
  const exact = pick(exactRatesOf(c));
  const next = fc.oneof(
    commandArb(ScmiProtocolId.CLOCK, ClockMessageId.ATTRIBUTES, fc.constant(w(c))),
    commandArb(ScmiProtocolId.CLOCK, ClockMessageId.RATE_GET, fc.constant(w(c))),
    rateSet(fc.nat(15), fc.oneof(exact, pick(ratesOf(c)))),
    commandArb(
      ScmiProtocolId.CLOCK,
      ClockMessageId.CONFIG_SET,
      pick([0, 1, 1, 3]).map((a) => w(c, a)),
    ),
    commandArb(ScmiProtocolId.CLOCK, ClockMessageId.CONFIG_GET, fc.constant(w(c, 0))),
  );
  // Asynchronous (bit 0), sometimes without a delayed response (bit 1) or rounding up (bit 2).
  return fragment(
    rateSet(pick([1, 1, 1, 3, 5]), exact).map((op) => [op]),
    next,
    1,
    4,
  );
});
/**
 * Asynchronous POWER_STATE_SETs (mostly of the domain that has them) that reach the pending limit,
 * then often a synchronous one of the same domain, which must apply them first; the agent has
 * sometimes just subscribed to the domain's notifications, whose order the oracle checks.
 */
const powerFragmentArb: fc.Arbitrary<Op[]> = fc
  .oneof(
    { weight: 4, arbitrary: fc.constant(2) },
    { weight: 1, arbitrary: fc.nat(POWER_DOMAINS.length - 1) },
  )
  .chain((d) => {
    const subscribe = (messageId: number): fc.Arbitrary<Op[]> =>
      maybe(commandArb(ScmiProtocolId.POWER, messageId, fc.constant(w(d, 1))));
    const set = (flags: number): fc.Arbitrary<Op> =>
      commandArb(
        ScmiProtocolId.POWER,
        PowerMessageId.STATE_SET,
        pick(POWER_DOMAINS[d]?.states ?? [0]).map((state) => w(flags, d, state)),
      );
    const then = fc.oneof(
      { weight: 3, arbitrary: set(0).map((op) => [op]) },
      {
        weight: 1,
        arbitrary: commandArb(
          ScmiProtocolId.POWER,
          PowerMessageId.STATE_GET,
          fc.constant(w(d)),
        ).map((op) => [op]),
      },
      { weight: 1, arbitrary: fc.constant([]) },
    );
    return fc
      .tuple(
        subscribe(PowerMessageId.STATE_NOTIFY),
        subscribe(PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY),
        fragment(
          set(1).map((op) => [op]),
          set(1),
          0,
          3,
        ),
        then,
      )
      .map((parts) => parts.flat());
  });
/** Asynchronous RESETs of the domain that has them, beyond the pending limit, and other resets. */
const asyncResetArb = commandArb(
  ScmiProtocolId.RESET,
  ResetMessageId.RESET,
  pick([0, 0x80000000]).map((state) => w(0, 1 | RESET_ASYNC, state)),
);
const resetFragmentArb: fc.Arbitrary<Op[]> = fragment(
  fc
    .tuple(
      maybe(commandArb(ScmiProtocolId.RESET, ResetMessageId.NOTIFY, fc.constant(w(0, 1)))),
      asyncResetArb,
    )
    .map(([notify, reset]) => [...notify, reset]),
  fc.oneof(
    { weight: 4, arbitrary: asyncResetArb },
    {
      weight: 1,
      arbitrary: commandArb(
        ScmiProtocolId.RESET,
        ResetMessageId.RESET,
        fc.tuple(pick([0, 1, 2]), pick([0, 1, 2])).map(([d, f]) => w(d, f, 0)),
      ),
    },
  ),
  1,
  3,
);
/** A sensor disabled with SENSOR_CONFIG_SET, then read (and sometimes enabled again). */
const sensorFragmentArb: fc.Arbitrary<Op[]> = fc.nat(SENSORS.length - 1).chain((sensorId) =>
  fragment(
    commandArb(ScmiProtocolId.SENSOR, SensorMessageId.CONFIG_SET, fc.constant(w(sensorId, 0))).map(
      (op) => [op],
    ),
    fc.oneof(
      {
        weight: 4,
        arbitrary: commandArb(
          ScmiProtocolId.SENSOR,
          SensorMessageId.READING_GET,
          pick([0, 0, 1]).map((f) => w(sensorId, f)),
        ),
      },
      {
        weight: 1,
        arbitrary: commandArb(
          ScmiProtocolId.SENSOR,
          SensorMessageId.CONFIG_SET,
          pick([1, 0]).map((enable) => w(sensorId, enable)),
        ),
      },
    ),
    1,
    3,
  ),
);
/**
 * System power between the two agents: one negotiates a version (1.0: SYSTEM_POWER_STATE_NOTIFIER
 * without its timeout word) and subscribes, the other sets a state, so the notifier reaches an
 * agent in the layout of the version it speaks.
 */
const systemFragmentArb: fc.Arbitrary<Op[]> = fc
  .tuple(
    fc.constantFrom(...AGENT_IDS),
    pick([0x10000, 0x20000, 0x20001]),
    pick([0, 1]),
    pick([0, 1, 2, 4]),
    fc.integer({ min: 0, max: 0x3ff }),
  )
  .map(([listener, version, flags, state, token]) => {
    const op = (agentId: number, messageId: number, payload: Uint8Array): Op => ({
      kind: 'command',
      agentId,
      channelId: 0,
      header: buildHeader(messageId, ScmiMessageType.COMMAND, ScmiProtocolId.SYSTEM, token),
      payload,
    });
    const other = AGENT_IDS.find((id) => id !== listener) ?? listener;
    return [
      op(listener, CommonMessageId.NEGOTIATE_PROTOCOL_VERSION, w(version)),
      op(listener, SystemPowerMessageId.STATE_NOTIFY, w(1)),
      op(other, SystemPowerMessageId.STATE_SET, w(flags, state)),
    ];
  });

/**
 * An asynchronous VOLTAGE_LEVEL_SET of the domain that takes them, then more level sets (BUSY while
 * it is pending), VOLTAGE_LEVEL_GET (the old level until it completes) and VOLTAGE_CONFIG_SET.
 */
const asyncVoltageDomain = ASYNC_VOLTAGE_DOMAINS[0] ?? 0;
const asyncVoltageArb = commandArb(
  ScmiProtocolId.VOLTAGE,
  VoltageMessageId.LEVEL_SET,
  pick(voltageLevelsOf(asyncVoltageDomain)).map((level) => w(asyncVoltageDomain, 1, level)),
);
const voltageFragmentArb: fc.Arbitrary<Op[]> = fragment(
  asyncVoltageArb.map((op) => [op]),
  fc.oneof(
    { weight: 3, arbitrary: asyncVoltageArb },
    {
      weight: 2,
      arbitrary: commandArb(
        ScmiProtocolId.VOLTAGE,
        VoltageMessageId.LEVEL_SET,
        pick(voltageLevelsOf(asyncVoltageDomain)).map((level) => w(asyncVoltageDomain, 0, level)),
      ),
    },
    {
      weight: 2,
      arbitrary: commandArb(
        ScmiProtocolId.VOLTAGE,
        VoltageMessageId.LEVEL_GET,
        fc.constant(w(asyncVoltageDomain)),
      ),
    },
    {
      weight: 1,
      arbitrary: commandArb(
        ScmiProtocolId.VOLTAGE,
        VoltageMessageId.CONFIG_SET,
        pick([0, 7]).map((config) => w(asyncVoltageDomain, config)),
      ),
    },
  ),
  1,
  3,
);

const fragmentArb: fc.Arbitrary<Op[]> = fc.oneof(
  clockFragmentArb,
  powerFragmentArb,
  resetFragmentArb,
  sensorFragmentArb,
  systemFragmentArb,
  voltageFragmentArb,
);

// Performance fast channels: the variant of the configuration, and the steps that go with it.

/** The fast-channel variant of a scenario's configuration. */
interface FastChannelParams {
  /** The performance domains with `fastChannels`, ascending. */
  readonly domains: readonly number[];
  /** `performanceFastChannels.base`: the agent's address of byte 0 of the memory. */
  readonly base: bigint;
  /** `performanceFastChannels.rateLimitUs`, the poll period; undefined: not given (the default). */
  readonly rateLimitUs: number | undefined;
  /** The memory is a `SharedArrayBuffer` (accessed with `Atomics`), else an `ArrayBuffer`. */
  readonly shared: boolean;
}
const PERF_DOMAIN_IDS = PERFORMANCE_DOMAINS.map((_, i) => i);
const fastChannelParamsArb: fc.Arbitrary<FastChannelParams> = fc.record({
  // Every domain, or one: a slot of a domain without fast channels is not the platform's.
  domains: fc.constantFrom(
    PERF_DOMAIN_IDS,
    PERF_DOMAIN_IDS,
    PERF_DOMAIN_IDS.slice(0, 1),
    PERF_DOMAIN_IDS.slice(-1),
  ),
  // 0; chan_addr_low carrying into chan_addr_high; the memory's end at 2^64.
  base: fc.constantFrom(0n, 0x1_ffff_fff0n, 2n ** 64n - BigInt(FAST_MEMORY_BYTES)),
  // Poll periods exact in binary, as every advance is: the model's poll times are the clock's.
  rateLimitUs: fc.constantFrom(undefined, 1000, 2500, 4000, 10_000),
  shared: fc.boolean(),
});

/** A word for a domain's fast channels: its levels, 0, near misses, another domain's, anything. */
const fastWordArb = (domainId: number): fc.Arbitrary<number> => {
  const levels = levelsOf(domainId);
  const near = [
    ...levels.flatMap((l) => [l - 1, l + 1]),
    ...limitsOf(domainId).slice(-1), // between the two lowest levels
    ...PERF_DOMAIN_IDS.flatMap((i) => (i === domainId ? [] : levelsOf(i))),
  ];
  return fc.oneof(
    { weight: 8, arbitrary: pick(levels) },
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: pick(near) },
    { weight: 1, arbitrary: pick(BOUNDARY_WORDS) },
    { weight: 1, arbitrary: u32 },
  );
};
/**
 * A hostile write into a domain's LEVEL_SET or LIMITS_SET (range_max, range_min): a level or any
 * word; limits in order, out of order, with a 0 ("unchanged"), (0, 0), any two words, or one
 * word of the pair alone.
 */
const fastWriteOf = (domainId: number): fc.Arbitrary<Op> => {
  const word = fastWordArb(domainId);
  const level = pick(levelsOf(domainId));
  const write = (offset: number, values: number[]): Op => ({
    kind: 'write',
    domainId,
    offset,
    values,
  });
  const LIMITS = PERF_FAST_CHANNEL_LIMITS_SET_OFFSET;
  return fc.oneof(
    { weight: 5, arbitrary: word.map((v) => write(PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, [v])) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(level, level)
        .map(([a, b]) => write(LIMITS, [Math.max(a, b), Math.min(a, b)])),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(level, level)
        .map(([a, b]) => write(LIMITS, [Math.min(a, b), Math.max(a, b)])),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(level, fc.boolean())
        .map(([l, max]) => write(LIMITS, max ? [l, 0] : [0, l])),
    },
    { weight: 1, arbitrary: fc.constant(write(LIMITS, [0, 0])) },
    { weight: 2, arbitrary: fc.tuple(word, word).map(([max, min]) => write(LIMITS, [max, min])) },
    {
      weight: 1,
      arbitrary: fc.tuple(pick([0, 4]), word).map(([at, v]) => write(LIMITS + at, [v])),
    },
  );
};
const fastWriteArb: fc.Arbitrary<Op> = pick(PERF_DOMAIN_IDS).chain(fastWriteOf);
/**
 * Time across the polls (every poll period from the platform's start): one period, several, a
 * quarter ms short of or past one, half of one.
 */
const pollsArb: fc.Arbitrary<Op> = fc
  .constantFrom<[number, number]>(
    [1, 0],
    [1, 0],
    [2, 0],
    [3, 0],
    [1, -0.25],
    [1, 0.25],
    [0.5, 0],
    [10, 0],
  )
  .map(([periods, extraMs]): Op => ({ kind: 'polls', periods, extraMs }));
/**
 * Commands about the fast channels: PERF_DESCRIBE_FASTCHANNEL of every domain (and one past the
 * last) and of message ids below, at and past 0xD; the attributes that advertise the channels;
 * subscriptions to the changes a poll makes; the level and limits read and set by command, which a
 * value left in a channel overrides at the next poll.
 */
const fastCommandArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    // From either agent: agent 2 may not use every domain (DENIED).
    arbitrary: fc
      .tuple(
        fc.constantFrom(...AGENT_IDS),
        pick([...PERF_DOMAIN_IDS, ...PERF_DOMAIN_IDS, PERF_DOMAIN_IDS.length]),
        fc.oneof(
          { weight: 2, arbitrary: pick([...FAST_CHANNEL_PLACE.keys()]) },
          // Messages without a fast channel, below 0xD.
          { weight: 1, arbitrary: pick([0x0, 0x1, 0x2, 0x3, 0x4, 0x9, 0xa, 0xb, 0xc]) },
          {
            weight: 1,
            arbitrary: pick([PERF_MESSAGE_END, 0xe, 0x10, 0xff, 0x80000000, 0xffffffff]),
          },
        ),
        fc.integer({ min: 0, max: 0x3ff }),
      )
      .map(([agentId, d, m, token]): Op => ({
        kind: 'command',
        agentId,
        channelId: 0,
        header: buildHeader(
          PerformanceMessageId.DESCRIBE_FASTCHANNEL,
          ScmiMessageType.COMMAND,
          ScmiProtocolId.PERF,
          token,
        ),
        payload: w(d, m),
      })),
  },
  {
    weight: 2,
    arbitrary: commandArb(
      ScmiProtocolId.PERF,
      PerformanceMessageId.DOMAIN_ATTRIBUTES,
      pick(PERF_DOMAIN_IDS).map((d) => w(d)),
    ),
  },
  {
    weight: 2,
    arbitrary: commandArb(
      ScmiProtocolId.PERF,
      CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES,
      pick([...FAST_CHANNEL_PLACE.keys(), PerformanceMessageId.DESCRIBE_FASTCHANNEL, 0x3]).map(
        (m) => w(m),
      ),
    ),
  },
  ...[PerformanceMessageId.NOTIFY_LEVEL, PerformanceMessageId.NOTIFY_LIMITS].map((messageId) => ({
    weight: 1,
    arbitrary: commandArb(
      ScmiProtocolId.PERF,
      messageId,
      pick(PERF_DOMAIN_IDS).map((d) => w(d, 1)),
    ),
  })),
  ...[PerformanceMessageId.LEVEL_GET, PerformanceMessageId.LIMITS_GET].map((messageId) => ({
    weight: 1,
    arbitrary: commandArb(
      ScmiProtocolId.PERF,
      messageId,
      pick(PERF_DOMAIN_IDS).map((d) => w(d)),
    ),
  })),
  {
    weight: 2,
    arbitrary: commandArb(
      ScmiProtocolId.PERF,
      PerformanceMessageId.LEVEL_SET,
      pick(PERF_DOMAIN_IDS).chain((d) => pick(levelsOf(d)).map((level) => w(d, level))),
    ),
  },
  {
    weight: 2,
    arbitrary: commandArb(
      ScmiProtocolId.PERF,
      PerformanceMessageId.LIMITS_SET,
      pick(PERF_DOMAIN_IDS).chain((d) =>
        fc.tuple(pick(limitsOf(d)), pick(limitsOf(d))).map(([max, min]) => w(d, max, min)),
      ),
    ),
  },
);
/**
 * A value written to a domain's channel (its changes sometimes subscribed to just before) and
 * polled, then often a command that changes the same domain's level or limits, and polls again:
 * the value left in the channel is in force again (notified with agent_id 0 each time); or the
 * channel cleared (0), polled, and the same value written again: refused, it counts again.
 */
const fastFragmentArb: fc.Arbitrary<Op[]> = pick(PERF_DOMAIN_IDS).chain((d) => {
  const subscribe = (messageId: number): fc.Arbitrary<Op[]> =>
    maybe(commandArb(ScmiProtocolId.PERF, messageId, fc.constant(w(d, 1))));
  const level = pick(levelsOf(d));
  const command = fc.oneof(
    commandArb(
      ScmiProtocolId.PERF,
      PerformanceMessageId.LEVEL_SET,
      level.map((l) => w(d, l)),
    ),
    commandArb(
      ScmiProtocolId.PERF,
      PerformanceMessageId.LIMITS_SET,
      fc.tuple(level, level).map(([a, b]) => w(d, Math.max(a, b), Math.min(a, b))),
    ),
  );
  /** Then: a command, nothing, or the channel cleared, polled, and the same value again. */
  type Then = { readonly command?: Op; readonly clearedFor?: Op };
  const then: fc.Arbitrary<Then> = fc.oneof(
    { weight: 3, arbitrary: command.map((op): Then => ({ command: op })) },
    { weight: 1, arbitrary: fc.constant<Then>({}) },
    { weight: 2, arbitrary: pollsArb.map((op): Then => ({ clearedFor: op })) },
  );
  return fc
    .tuple(
      subscribe(PerformanceMessageId.NOTIFY_LEVEL),
      subscribe(PerformanceMessageId.NOTIFY_LIMITS),
      fastWriteOf(d),
      pollsArb,
      then,
      pollsArb,
    )
    .map(([a, b, write, polls, next, again]) => {
      const middle: Op[] = [];
      if (next.command !== undefined) middle.push(next.command);
      if (next.clearedFor !== undefined && write.kind === 'write')
        middle.push({ ...write, values: write.values.map(() => 0) }, next.clearedFor, write);
      return [...a, ...b, write, polls, ...middle, again];
    });
});
/**
 * An agent's fast-channel set-up, as Linux's perf.c makes it for a domain: PERF_DOMAIN_ATTRIBUTES,
 * then for LEVEL_GET, LIMITS_GET, LEVEL_SET and LIMITS_SET PROTOCOL_MESSAGE_ATTRIBUTES and
 * PERF_DESCRIBE_FASTCHANNEL; and a message id without a channel described too.
 */
const fastDiscoveryArb: fc.Arbitrary<Op[]> = fc
  .tuple(
    fc.constantFrom(...AGENT_IDS),
    pick(PERF_DOMAIN_IDS),
    pick([0x0, 0x3, 0x4, 0x9, 0xb, 0xc, PERF_MESSAGE_END, 0xe, 0xff, 0xffffffff]),
    fc.integer({ min: 0, max: 0x3ff }),
  )
  .map(([agentId, d, other, token]) => {
    const op = (messageId: number, payload: Uint8Array): Op => ({
      kind: 'command',
      agentId,
      channelId: 0,
      header: buildHeader(messageId, ScmiMessageType.COMMAND, ScmiProtocolId.PERF, token),
      payload,
    });
    const channels = [
      PerformanceMessageId.LEVEL_GET,
      PerformanceMessageId.LIMITS_GET,
      PerformanceMessageId.LEVEL_SET,
      PerformanceMessageId.LIMITS_SET,
    ];
    return [
      op(PerformanceMessageId.DOMAIN_ATTRIBUTES, w(d)),
      ...channels.flatMap((m) => [
        op(CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES, w(m)),
        op(PerformanceMessageId.DESCRIBE_FASTCHANNEL, w(d, m)),
      ]),
      op(PerformanceMessageId.DESCRIBE_FASTCHANNEL, w(d, other)),
    ];
  });
const fastStepArb: fc.Arbitrary<Op[]> = fc.oneof(
  { weight: 4, arbitrary: fastWriteArb.map((op) => [op]) },
  { weight: 3, arbitrary: pollsArb.map((op) => [op]) },
  { weight: 3, arbitrary: fastCommandArb.map((op) => [op]) },
  { weight: 2, arbitrary: fastFragmentArb },
  { weight: 1, arbitrary: fastDiscoveryArb },
);
/** The steps about the fast channels' memory, which a scenario without them leaves out. */
const isFastChannelOp = (op: Op): boolean => op.kind === 'write' || op.kind === 'polls';

const linkParamsArb: fc.Arbitrary<LinkParams> = fc.record({
  p2a: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  maxMsgSize: fc.oneof(
    { weight: 6, arbitrary: fc.constant(128) },
    { weight: 2, arbitrary: fc.integer({ min: 4, max: 160 }) },
    { weight: 1, arbitrary: fc.constantFrom(4, 8, 12, 16, 20, 24, 32, 36) },
  ),
  refuseEvery: fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.constantFrom(1, 2, 3) },
  ),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 14, arbitrary: hostileCommandArb },
  { weight: 10, arbitrary: validCommandArb },
  {
    weight: 4,
    arbitrary: fc
      .constantFrom(0, 0.25, 0.5, 1, 1, 2, 3, 5, 10, 11, 50, 100, 500, 1000)
      .map((ms): Op => ({ kind: 'advance', ms })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ agentId: agentIdArb, bytes: fc.uint8Array({ maxLength: 12 }) })
      .map((r): Op => ({ kind: 'raw', ...r })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...AGENT_IDS), linkParamsArb)
      .map(([agentId, p]): Op => ({ kind: 'reconnect', agentId, ...p })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...AGENT_IDS)
      .map((agentId): Op => ({ kind: 'disconnect', agentId })),
  },
);

const anyBehaviourArb: fc.Arbitrary<PlatformBehaviour> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        unknownMessage: fc.constantFrom('not-found' as const, 'not-supported' as const),
        hiddenProtocol: fc.constantFrom('not-supported' as const, 'denied' as const),
        unknownDomain: fc.constantFrom('not-found' as const, 'invalid-parameters' as const),
        asyncLatencyMs: fc.constantFrom(0, 0.5, 1, 7, 100),
        postRetryMs: fc.constantFrom(0, 1, 5),
        maxPostRetries: fc.constantFrom(0, 1, 20),
        multiPartMax: fc.constantFrom(1, 2, 3),
        maxPendingAsync: fc.constantFrom(1, 2, 8, 255),
        sensorPollMs: fc.constantFrom(0.5, 10, 1000),
        versionNegotiation: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  },
);
/**
 * Any behaviour, in 2 of 5 with a `maxPendingAsync` of 1 or 2, which the fragments reach (the
 * default 8 they seldom do).
 */
const behaviourArb: fc.Arbitrary<PlatformBehaviour> = fc
  .tuple(
    anyBehaviourArb,
    fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constantFrom(1, 2) },
    ),
  )
  .map(([b, maxPendingAsync]) => (maxPendingAsync === undefined ? b : { ...b, maxPendingAsync }));

/** A platform behaviour, the links of the two agents, the configuration, and what happens. */
interface Scenario {
  readonly behaviour: PlatformBehaviour;
  readonly links: readonly [LinkParams, LinkParams];
  /** The fast-channel variant of the configuration; undefined: the default configuration. */
  readonly fastChannels: FastChannelParams | undefined;
  readonly ops: readonly Op[];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    behaviour: behaviourArb,
    links: fc.tuple(linkParamsArb, linkParamsArb),
    // One scenario in three with fast channels.
    fastChannels: fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fastChannelParamsArb },
    ),
    ops: fc
      .array(
        fc.oneof(
          { weight: 18, arbitrary: opArb.map((op) => [op]) },
          { weight: 1, arbitrary: fragmentArb },
          { weight: 4, arbitrary: fastStepArb },
        ),
        { minLength: 1, maxLength: 60, size: 'max' },
      )
      .map((steps) => steps.flat()),
  })
  .map((s) =>
    s.fastChannels === undefined ? { ...s, ops: s.ops.filter((op) => !isFastChannelOp(op)) } : s,
  );

// ---------------------------------------------------------------------------------------------
// The oracle's models: notifications, permissions
// ---------------------------------------------------------------------------------------------

/**
 * Notification payload bytes from the payload words and the receiving agent's version of the
 * protocol, per protocol and notification id (§4).
 */
const NOTIFICATION_LENGTH: Record<
  number,
  Record<number, (words: number[], version: number) => number>
> = {
  // agent_id, error_status (9:0 count), msg_reports[count] of 64 bits.
  [ScmiProtocolId.BASE]: {
    [BaseNotificationId.ERROR_EVENT]: (ws) => 8 + 8 * ((ws[1] ?? 0) & 0x3ff),
  },
  // agent_id, domain_id, power_state.
  [ScmiProtocolId.POWER]: { 0x0: () => 12, 0x1: () => 12 },
  // agent_id, flags, system_state, and from version 2.0 timeout.
  [ScmiProtocolId.SYSTEM]: { 0x0: (_, version) => (version >= 0x20000 ? 16 : 12) },
  // LIMITS_CHANGED agent_id, domain_id, range_max, range_min; LEVEL_CHANGED agent_id, domain_id, level.
  [ScmiProtocolId.PERF]: { 0x0: () => 16, 0x1: () => 12 },
  // agent_id, clock_id, rate_low, rate_high.
  [ScmiProtocolId.CLOCK]: {
    [ClockNotificationId.RATE_CHANGED]: () => 16,
    [ClockNotificationId.RATE_CHANGE_REQUESTED]: () => 16,
  },
  // TRIP_POINT_EVENT agent_id, sensor_id, trip_point_desc; UPDATE agent_id, sensor_id, readings.
  [ScmiProtocolId.SENSOR]: {
    0x0: () => 12,
    0x1: (ws) => 8 + 16 * Math.max(1, SENSOR_AXES[ws[1] ?? 0] ?? 1),
  },
  // agent_id, domain_id, reset_state.
  [ScmiProtocolId.RESET]: { [ResetNotificationId.ISSUED]: () => 12 },
};

/**
 * The notification each `*_NOTIFY` command enables, per protocol and message id (§4): the domain
 * ones take (domain_id, notify_enable), SYSTEM_POWER_STATE_NOTIFY (notify_enable) alone. Enabling
 * one whose payload does not fit the link is a violation.
 */
const NOTIFY_COMMAND_NOTIFICATION: Record<number, Record<number, number>> = {
  [ScmiProtocolId.POWER]: {
    [PowerMessageId.STATE_NOTIFY]: 0x0,
    [PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY]: 0x1,
  },
  [ScmiProtocolId.PERF]: {
    [PerformanceMessageId.NOTIFY_LIMITS]: 0x0,
    [PerformanceMessageId.NOTIFY_LEVEL]: 0x1,
  },
  [ScmiProtocolId.CLOCK]: {
    [ClockMessageId.RATE_NOTIFY]: ClockNotificationId.RATE_CHANGED,
    [ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY]: ClockNotificationId.RATE_CHANGE_REQUESTED,
  },
  [ScmiProtocolId.RESET]: { [ResetMessageId.NOTIFY]: ResetNotificationId.ISSUED },
  // SYSTEM_POWER_STATE_NOTIFIER.
  [ScmiProtocolId.SYSTEM]: { [SystemPowerMessageId.STATE_NOTIFY]: 0x0 },
  // SENSOR_TRIP_POINT_EVENT, SENSOR_UPDATE.
  [ScmiProtocolId.SENSOR]: {
    [SensorMessageId.TRIP_POINT_NOTIFY]: 0x0,
    [SensorMessageId.CONTINUOUS_UPDATE_NOTIFY]: 0x1,
  },
};

const DOMAIN_PROTOCOL: Record<number, PlatformDomainProtocol> = {
  [ScmiProtocolId.POWER]: 'power',
  [ScmiProtocolId.PERF]: 'performance',
  [ScmiProtocolId.CLOCK]: 'clock',
  [ScmiProtocolId.SENSOR]: 'sensor',
  [ScmiProtocolId.RESET]: 'reset',
  [ScmiProtocolId.VOLTAGE]: 'voltage',
};
const DOMAIN_COUNT: Record<PlatformDomainProtocol, number> = {
  power: POWER_DOMAINS.length,
  performance: PERFORMANCE_DOMAINS.length,
  clock: CLOCKS.length,
  sensor: SENSORS.length,
  reset: RESET_DOMAINS.length,
  voltage: VOLTAGE_DOMAINS.length,
};
/**
 * The commands that use (rather than discover) a domain, with the index of their domain id word:
 * a SUCCESS needs the agent to be allowed the domain.
 */
const DOMAIN_WORD: Record<number, Record<number, number>> = {
  [ScmiProtocolId.POWER]: {
    [PowerMessageId.STATE_SET]: 1,
    [PowerMessageId.STATE_GET]: 0,
    [PowerMessageId.STATE_NOTIFY]: 0,
    [PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY]: 0,
  },
  [ScmiProtocolId.PERF]: {
    [PerformanceMessageId.LIMITS_SET]: 0,
    [PerformanceMessageId.LIMITS_GET]: 0,
    [PerformanceMessageId.LEVEL_SET]: 0,
    [PerformanceMessageId.LEVEL_GET]: 0,
    [PerformanceMessageId.NOTIFY_LIMITS]: 0,
    [PerformanceMessageId.NOTIFY_LEVEL]: 0,
    // Only an agent allowed the domain learns where its channels are (README).
    [PerformanceMessageId.DESCRIBE_FASTCHANNEL]: 0,
  },
  [ScmiProtocolId.CLOCK]: {
    [ClockMessageId.RATE_SET]: 1,
    [ClockMessageId.RATE_GET]: 0,
    [ClockMessageId.CONFIG_SET]: 0,
    [ClockMessageId.RATE_NOTIFY]: 0,
    [ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY]: 0,
    [ClockMessageId.CONFIG_GET]: 0,
    [ClockMessageId.PARENT_SET]: 0,
    [ClockMessageId.PARENT_GET]: 0,
  },
  [ScmiProtocolId.SENSOR]: {
    [SensorMessageId.TRIP_POINT_NOTIFY]: 0,
    [SensorMessageId.TRIP_POINT_CONFIG]: 0,
    [SensorMessageId.READING_GET]: 0,
    [SensorMessageId.CONFIG_GET]: 0,
    [SensorMessageId.CONFIG_SET]: 0,
    [SensorMessageId.CONTINUOUS_UPDATE_NOTIFY]: 0,
  },
  [ScmiProtocolId.RESET]: { [ResetMessageId.RESET]: 0, [ResetMessageId.NOTIFY]: 0 },
  [ScmiProtocolId.VOLTAGE]: {
    [VoltageMessageId.CONFIG_SET]: 0,
    [VoltageMessageId.CONFIG_GET]: 0,
    [VoltageMessageId.LEVEL_SET]: 0,
    [VoltageMessageId.LEVEL_GET]: 0,
  },
};

/** The oracle's copy of the domain permissions: the configuration's, changed by Base 0x9–0xB. */
class PermissionModel {
  readonly #allowed = new Map<number, Map<PlatformDomainProtocol, Set<number>>>();

  public constructor() {
    for (const a of CONFIG.agents) this.reset(a.id);
  }

  public reset(agentId: number): void {
    const agent = CONFIG.agents.find((a) => a.id === agentId);
    if (agent === undefined) return;
    const perProtocol = new Map<PlatformDomainProtocol, Set<number>>();
    for (const p of Object.keys(DOMAIN_COUNT) as PlatformDomainProtocol[]) {
      const all = Array.from({ length: DOMAIN_COUNT[p] }, (_, i) => i);
      perProtocol.set(p, new Set(agent.domains?.[p] ?? all));
    }
    this.#allowed.set(agentId, perProtocol);
  }

  public set(
    agentId: number,
    protocol: PlatformDomainProtocol,
    domainIds: readonly number[],
    allow: boolean,
  ): void {
    const allowed = this.#allowed.get(agentId)?.get(protocol);
    if (allowed === undefined) return;
    for (const id of domainIds) {
      if (allow) allowed.add(id);
      else allowed.delete(id);
    }
  }

  public may(agentId: number, protocol: PlatformDomainProtocol, domainId: number): boolean {
    return this.#allowed.get(agentId)?.get(protocol)?.has(domainId) ?? false;
  }
}

/** A performance domain's level and limits, as level values. */
interface PerfModel {
  level: number;
  min: number;
  max: number;
}

/** A performance domain's state as configured (`level` default the top, `limits` every level). */
function initialPerf(domainId: number): PerfModel {
  const d = defined(PERFORMANCE_DOMAINS[domainId]);
  const levels = levelsOf(domainId);
  const top = defined(levels[levels.length - 1]);
  return {
    level: d.level ?? top,
    min: d.limits?.min ?? defined(levels[0]),
    max: d.limits?.max ?? top,
  };
}

/**
 * What PERF_LEVEL_SET answers level `level` of domain `domainId` in state `s` (README: DENIED for a
 * domain whose level agents may not set, OUT_OF_RANGE for a value that is not a level or outside
 * the limits); undefined: accepted. The LEVEL_SET fast channel applies the same checks.
 */
function perfLevelRefusal(domainId: number, s: PerfModel, level: number): ScmiStatus | undefined {
  if (PERFORMANCE_DOMAINS[domainId]?.canSetLevel === false) return ScmiStatus.DENIED;
  if (!levelsOf(domainId).includes(level) || level < s.min || level > s.max)
    return ScmiStatus.OUT_OF_RANGE;
  return undefined;
}

/**
 * What PERF_LIMITS_SET answers (range_max, range_min) of domain `domainId` in state `s`: the
 * statuses it may refuse them with (empty: accepted), and the limits it sets. README: a zero limit
 * leaves that limit as it is, both zero OUT_OF_RANGE (unless the domain's lowest level is 0, which
 * then stays a level); range_min above range_max INVALID_PARAMETERS, a limit that is not one of
 * the domain's levels OUT_OF_RANGE (the README orders neither before the other: both allowed when
 * both apply). The LIMITS_SET fast channel applies the same checks (but skips (0, 0)).
 */
function perfLimitsOutcome(
  domainId: number,
  s: PerfModel,
  wireMax: number,
  wireMin: number,
): { readonly refusals: readonly ScmiStatus[]; readonly max: number; readonly min: number } {
  const levels = levelsOf(domainId);
  if (PERFORMANCE_DOMAINS[domainId]?.canSetLimits === false)
    return { refusals: [ScmiStatus.DENIED], max: s.max, min: s.min };
  const zeroUnchanged = levels[0] !== 0;
  if (zeroUnchanged && wireMax === 0 && wireMin === 0)
    return { refusals: [ScmiStatus.OUT_OF_RANGE], max: s.max, min: s.min };
  const max = zeroUnchanged && wireMax === 0 ? s.max : wireMax;
  const min = zeroUnchanged && wireMin === 0 ? s.min : wireMin;
  const refusals: ScmiStatus[] = [];
  if (min > max) refusals.push(ScmiStatus.INVALID_PARAMETERS);
  if (!levels.includes(min) || !levels.includes(max)) refusals.push(ScmiStatus.OUT_OF_RANGE);
  return { refusals, max, min };
}

/** A fast-channel domain's polling, as the model follows it. */
interface FastSlotModel {
  readonly domainId: number;
  /** The LEVEL_SET word the last poll refused; undefined: it read 0, or applied the word. */
  refusedLevel: number | undefined;
  /** The LIMITS_SET words (range_max,range_min) the last poll refused, likewise. */
  refusedLimits: string | undefined;
  /** The LEVEL_SET and LIMITS_SET words the last poll read (for the coverage). */
  lastLevel: number | undefined;
  lastLimits: string | undefined;
  /** The LEVEL_SET and LIMITS_SET words last counted as refused (for the coverage). */
  countedLevel: number | undefined;
  countedLimits: string | undefined;
}

/** Index of the u32 at byte `offset` of performance domain `domainId`'s fast-channel slot. */
const fastWordIndex = (domainId: number, offset: number): number =>
  (PERF_FAST_CHANNEL_SLOT_SIZE * domainId + offset) / 4;

/** The default configuration with fast channels on `p.domains`, in `memory`. */
function fastChannelConfig(
  p: FastChannelParams,
  memory: ArrayBuffer | SharedArrayBuffer,
): PlatformConfig {
  return {
    ...CONFIG,
    performanceFastChannels: {
      memory,
      base: p.base,
      ...(p.rateLimitUs === undefined ? {} : { rateLimitUs: p.rateLimitUs }),
    },
    performanceDomains: PERFORMANCE_DOMAINS.map((d, i) =>
      p.domains.includes(i) ? { ...d, fastChannels: true } : d,
    ),
  };
}

/** An accepted asynchronous command whose delayed response is due. */
interface PendingDelayedResponse {
  readonly header: number;
  readonly domainId: number;
}

/**
 * An accepted asynchronous operation: its domain, the time its timer fires, a power state and the
 * agent that asked for it.
 */
interface PendingOperation {
  readonly domainId: number;
  readonly due: number;
  readonly state: number;
  readonly cause: number;
}

/** A power notification: POWER_STATE_CHANGE_REQUESTED or POWER_STATE_CHANGED (§4). */
interface PowerNotification {
  readonly notificationId: number;
  /** agent_id (the cause), domain_id, power_state. */
  readonly words: readonly number[];
}

/** A power notification the model expects. */
interface PowerEvent extends PowerNotification {
  /** POWER_STATE_CHANGED of an asynchronous set that a later synchronous set applied. */
  readonly queued: boolean;
}

/**
 * The clock commands SCP-firmware sends through `create_event_request`, BUSY while pending, and
 * what their BUSY counts for.
 */
const CLOCK_BUSY_COMMANDS = new Map<number, keyof Coverage>([
  [ClockMessageId.ATTRIBUTES, 'clockBusyAttributes'],
  [ClockMessageId.RATE_GET, 'clockBusyRateGet'],
  [ClockMessageId.RATE_SET, 'clockBusyRateSet'],
  [ClockMessageId.CONFIG_SET, 'clockBusyConfigSet'],
]);

const describePower = (ns: readonly PowerNotification[]): string =>
  `[${ns.map((n) => `n${n.notificationId}(${n.words.map((x) => `0x${x.toString(16)}`).join(',')})`).join(' ')}]`;

// ---------------------------------------------------------------------------------------------
// The harness: links that check what they receive, and the oracle
// ---------------------------------------------------------------------------------------------

function describeOp(op: Op): string {
  switch (op.kind) {
    case 'command':
      return `command a${op.agentId} ch${op.channelId} p0x${headerProtocolId(op.header).toString(16)} m0x${headerMessageId(op.header).toString(16)} h0x${op.header.toString(16)} [${op.payload.join(',')}]`;
    case 'raw':
      return `raw a${op.agentId} [${op.bytes.join(',')}]`;
    case 'advance':
      return `advance ${op.ms} ms`;
    case 'reconnect':
      return `reconnect a${op.agentId} p2a=${op.p2a} max=${op.maxMsgSize} refuse=${op.refuseEvery}`;
    case 'disconnect':
      return `disconnect a${op.agentId}`;
    case 'write':
      return `write perf domain ${op.domainId} +${op.offset} [${op.values.map((v) => `0x${v.toString(16)}`).join(',')}]`;
    case 'polls':
      return `advance ${op.periods} poll periods ${op.extraMs >= 0 ? '+' : ''}${op.extraMs} ms`;
  }
}

/** One scenario: a platform on a virtual clock, its agents' checking links and the oracle. */
class FuzzRun {
  public readonly clock = new VirtualClock();
  public readonly platform: ScmiPlatform;
  public readonly behaviour: ResolvedPlatformBehaviour;
  public readonly violations: string[] = [];
  public readonly links = new Map<number, CheckingLink>();
  public readonly permissions = new PermissionModel();
  readonly #connections = new Map<number, PlatformConnection>();
  /** Agent → protocol → negotiated version (forgotten on disconnect). */
  readonly #negotiated = new Map<number, Map<number, number>>();
  #lastCounters: PlatformCounters;
  /** Accepted asynchronous CLOCK_RATE_SETs whose timer has not fired. */
  #clockOps: PendingOperation[] = [];
  /** Accepted asynchronous POWER_STATE_SETs whose timer has not fired (applied or not). */
  #powerTimers: number[] = [];
  /** Accepted asynchronous POWER_STATE_SETs not applied yet, oldest first. */
  #powerQueue: PendingOperation[] = [];
  /** When each accepted asynchronous RESET whose timer has not fired is due. */
  #resetTimers: number[] = [];
  /** The state every power domain must be in. */
  readonly #power: number[] = POWER_DOMAINS.map((d) => d.state ?? 0);
  /** The power notifications the current step must send, in order (to the agents they concern). */
  #powerEvents: PowerEvent[] = [];
  /** Whether each sensor is enabled (SENSOR_CONFIG_SET bit 0). */
  readonly #sensorEnabled: boolean[] = SENSORS.map((s) => s.enabled !== false);
  /** Accepted asynchronous VOLTAGE_LEVEL_SETs whose timer has not fired (`state`: the level). */
  #voltageOps: PendingOperation[] = [];
  /** The level (µV) every voltage domain must be at. */
  readonly #voltageLevel: number[] = VOLTAGE_DOMAINS.map((d) => d.level ?? 0);
  /** The config (mode) every voltage domain must have. */
  readonly #voltageConfig: number[] = VOLTAGE_DOMAINS.map((d) => d.config ?? 7);
  /** The level and limits every performance domain must have. */
  readonly #perf: PerfModel[] = PERFORMANCE_DOMAINS.map((_, i) => initialPerf(i));
  /** The performance notifications the current step must send, in order. */
  #perfEvents: PowerEvent[] = [];
  /** The fast-channel variant; undefined: the default configuration. */
  public readonly fast: FastChannelParams | undefined;
  /** The fast channels' memory, as the agent sees it. */
  readonly #memory: Uint32Array | undefined;
  /** What each word of the memory must hold, but the GET words of the fast-channel domains. */
  readonly #memoryModel: number[];
  /** The fast-channel domains, in id order (the order of a poll). */
  readonly #slots: FastSlotModel[];
  /** The polls the model made (the k-th at k × the period from the platform's start). */
  #polls = 0;
  /** `fastChannelApplied` and `fastChannelRejected` as the model counts them. */
  #fastApplied = 0;
  #fastRejected = 0;
  /** The platform was closed: nothing polls any more. */
  #closed = false;
  /** The last steps, for the violation messages. */
  readonly #recent: Op[] = [];

  public constructor(behaviour: PlatformBehaviour, fast?: FastChannelParams) {
    this.fast = fast;
    let config = CONFIG;
    if (fast === undefined) {
      this.#memory = undefined;
      this.#slots = [];
    } else {
      const memory = fast.shared
        ? new SharedArrayBuffer(FAST_MEMORY_BYTES)
        : new ArrayBuffer(FAST_MEMORY_BYTES);
      this.#memory = new Uint32Array(memory).fill(FAST_MEMORY_FILL);
      this.#slots = PERF_DOMAIN_IDS.filter((d) => fast.domains.includes(d)).map((domainId) => ({
        domainId,
        refusedLevel: undefined,
        refusedLimits: undefined,
        lastLevel: undefined,
        lastLimits: undefined,
        countedLevel: undefined,
        countedLimits: undefined,
      }));
      config = fastChannelConfig(fast, memory);
    }
    this.#memoryModel = Array.from(this.#memory ?? []);
    // At start the platform zeroes LEVEL_SET and LIMITS_SET of the fast-channel domains.
    for (const { domainId } of this.#slots) {
      const limits = PERF_FAST_CHANNEL_LIMITS_SET_OFFSET;
      for (const offset of [PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, limits, limits + 4])
        this.#memoryModel[fastWordIndex(domainId, offset)] = 0;
    }
    this.platform = new ScmiPlatform(config, { clock: this.clock, behaviour });
    this.behaviour = this.platform.behaviour;
    this.#lastCounters = this.platform.counters;
  }

  /** The version of a protocol an agent speaks: the platform's, or the one it negotiated. */
  public versionOf(agentId: number, protocolId: number): number {
    return (
      this.#negotiated.get(agentId)?.get(protocolId) ??
      ownVersion(protocolId, this.behaviour.versionNegotiation)
    );
  }

  #baseVersionOf(agentId: number): number {
    return this.versionOf(agentId, ScmiProtocolId.BASE);
  }

  public connect(agentId: number, p: LinkParams): void {
    const link = new CheckingLink(this, agentId, p);
    this.#connections.set(agentId, this.platform.connect(agentId, link));
    this.links.set(agentId, link);
    this.#negotiated.delete(agentId);
  }

  public disconnect(agentId: number): void {
    this.#connections.get(agentId)?.disconnect();
    this.#connections.delete(agentId);
    this.links.delete(agentId);
    this.#negotiated.delete(agentId);
  }

  public fail(what: string): void {
    const after = this.#recent.map(describeOp).join(' | ');
    this.violations.push(`${what}\n  after: ${after}`);
  }

  public async run(op: Op): Promise<void> {
    this.#recent.push(op);
    if (this.#recent.length > 6) this.#recent.shift();
    switch (op.kind) {
      case 'command':
        this.#command(op);
        break;
      case 'raw': {
        const response = this.safeHandle(op.agentId, 0, op.bytes);
        if (op.bytes.byteLength < 4 || !this.links.has(op.agentId)) {
          if (response !== undefined) this.fail('raw: a response to a request without a header');
        } else if (response !== undefined) {
          this.#checkResponse(op.agentId, readU32(op.bytes, 0), op.bytes.subarray(4), response);
        }
        break;
      }
      case 'advance':
        await this.#advance(op.ms);
        break;
      case 'polls':
        await this.#advance(op.periods * this.#pollPeriodMs() + op.extraMs);
        break;
      case 'reconnect':
        this.disconnect(op.agentId);
        this.connect(op.agentId, op);
        break;
      case 'disconnect':
        this.disconnect(op.agentId);
        break;
      case 'write':
        this.#write(op.domainId, op.offset, op.values);
        break;
    }
    this.#checkNotifications();
    this.checkGlobal();
  }

  async #advance(ms: number): Promise<void> {
    try {
      await this.clock.advance(ms);
    } catch (e) {
      this.fail(`clock.advance threw: ${String(e)}`);
    }
    this.#advanced();
  }

  /** The fast channels' poll period (ms). */
  #pollPeriodMs(): number {
    return (this.fast?.rateLimitUs ?? DEFAULT_FAST_RATE_LIMIT_US) / 1000;
  }

  /** The agent writes `values` from byte `offset` of domain `domainId`'s slot. */
  #write(domainId: number, offset: number, values: readonly number[]): void {
    const memory = this.#memory;
    if (memory === undefined) return;
    values.forEach((v, k) => {
      const i = fastWordIndex(domainId, offset) + k;
      memory[i] = v;
      this.#memoryModel[i] = v;
    });
  }

  /** Whether performance domain `domainId` has fast channels. */
  #hasFastChannels(domainId: number): boolean {
    return this.#slots.some((slot) => slot.domainId === domainId);
  }

  /** Whether sensor `id` is enabled, as SENSOR_CONFIG_SET left it. */
  public sensorEnabled(id: number): boolean {
    return this.#sensorEnabled[id] ?? true;
  }

  /**
   * Time moved (timers fire only then, in time order, ties in the order they were armed): the
   * operations due by now completed; pending power sets apply in the order they were accepted.
   */
  #advanced(): void {
    const now = this.clock.now();
    this.#clockOps = this.#clockOps.filter((op) => op.due > now);
    this.#powerTimers = this.#powerTimers.filter((due) => due > now);
    this.#resetTimers = this.#resetTimers.filter((due) => due > now);
    for (const op of this.#voltageOps)
      if (op.due <= now) this.#voltageLevel[op.domainId] = op.state;
    this.#voltageOps = this.#voltageOps.filter((op) => op.due > now);
    while (this.#powerQueue.length > 0 && (this.#powerQueue[0] as PendingOperation).due <= now) {
      const op = this.#powerQueue.shift() as PendingOperation;
      this.#setPower(op.domainId, op.state, op.cause, false);
    }
    this.#pollFastChannels();
  }

  /**
   * The polls due by now: one every period from the platform's start (only polls change a
   * performance domain while time passes, so their order among the other timers does not matter).
   * The memory does not change while time passes: once a poll changes nothing, nor do the next.
   */
  #pollFastChannels(): void {
    if (this.#slots.length === 0 || this.#closed) return;
    const period = this.#pollPeriodMs();
    const now = this.clock.now();
    let due = Math.floor(now / period);
    while ((due + 1) * period <= now) due++;
    while (due > 0 && due * period > now) due--;
    while (this.#polls < due) {
      this.#polls++;
      if (!this.#poll()) this.#polls = due;
    }
  }

  /** One poll: each fast-channel domain in id order, LEVEL_SET then LIMITS_SET. */
  #poll(): boolean {
    let changed = false;
    for (const slot of this.#slots) {
      if (this.#pollLevel(slot)) changed = true;
      if (this.#pollLimits(slot)) changed = true;
    }
    return changed;
  }

  /** LEVEL_SET: 0 asks for nothing; else PERF_LEVEL_SET's checks. Whether anything changed. */
  #pollLevel(slot: FastSlotModel): boolean {
    const d = slot.domainId;
    const s = defined(this.#perf[d]);
    const word = defined(this.#memoryModel[fastWordIndex(d, PERF_FAST_CHANNEL_LEVEL_SET_OFFSET)]);
    const again = slot.lastLevel === word;
    slot.lastLevel = word;
    if (word === 0 || perfLevelRefusal(d, s, word) === undefined) {
      const forgot = slot.refusedLevel !== undefined;
      slot.refusedLevel = undefined;
      if (word === 0 || s.level === word) return forgot;
      this.#fastApplied++;
      coverage.fastChannelApplied++;
      if (again) coverage.fastChannelReapplied++;
      this.#setPerfLevel(d, word, 0);
      return true;
    }
    // Refused: counted unless the last poll refused this same word.
    if (slot.refusedLevel === word) return false;
    slot.refusedLevel = word;
    this.#fastRejected++;
    coverage.fastChannelRejected++;
    if (slot.countedLevel === word) coverage.fastChannelRejectedAgain++;
    slot.countedLevel = word;
    return true;
  }

  /** LIMITS_SET: (0, 0) asks for nothing; else PERF_LIMITS_SET's checks. Whether it changed. */
  #pollLimits(slot: FastSlotModel): boolean {
    const d = slot.domainId;
    const s = defined(this.#perf[d]);
    const at = fastWordIndex(d, PERF_FAST_CHANNEL_LIMITS_SET_OFFSET);
    const max = defined(this.#memoryModel[at]);
    const min = defined(this.#memoryModel[at + 1]);
    const key = `${max},${min}`;
    const again = slot.lastLimits === key;
    slot.lastLimits = key;
    const outcome = max === 0 && min === 0 ? undefined : perfLimitsOutcome(d, s, max, min);
    if (outcome === undefined || outcome.refusals.length === 0) {
      const forgot = slot.refusedLimits !== undefined;
      slot.refusedLimits = undefined;
      if (outcome === undefined || (s.max === outcome.max && s.min === outcome.min)) return forgot;
      this.#fastApplied++;
      coverage.fastChannelApplied++;
      if (again) coverage.fastChannelReapplied++;
      if (this.#setPerfLimits(d, outcome.max, outcome.min, 0)) coverage.fastChannelPulledLevel++;
      return true;
    }
    if (slot.refusedLimits === key) return false;
    slot.refusedLimits = key;
    this.#fastRejected++;
    coverage.fastChannelRejected++;
    if (slot.countedLimits === key) coverage.fastChannelRejectedAgain++;
    slot.countedLimits = key;
    return true;
  }

  /** Performance domain `domainId` takes `level`: PERFORMANCE_LEVEL_CHANGED if that changes it. */
  #setPerfLevel(domainId: number, level: number, cause: number): void {
    const s = defined(this.#perf[domainId]);
    if (s.level === level) return;
    s.level = level;
    this.#perfEvents.push({
      notificationId: PerformanceNotificationId.LEVEL_CHANGED,
      words: [cause, domainId, level],
      queued: false,
    });
  }

  /**
   * Performance domain `domainId` takes limits `max`, `min` (accepted): PERFORMANCE_LIMITS_CHANGED
   * if that changes them, then the level pulled to the nearest limit if they leave it outside.
   * Whether the level moved.
   */
  #setPerfLimits(domainId: number, max: number, min: number, cause: number): boolean {
    const s = defined(this.#perf[domainId]);
    if (s.max !== max || s.min !== min) {
      s.max = max;
      s.min = min;
      this.#perfEvents.push({
        notificationId: PerformanceNotificationId.LIMITS_CHANGED,
        words: [cause, domainId, max, min],
        queued: false,
      });
    }
    const pulled = s.level > max ? max : s.level < min ? min : undefined;
    if (pulled !== undefined) this.#setPerfLevel(domainId, pulled, cause);
    return pulled !== undefined;
  }

  /** Power domain `domainId` takes `state`: POWER_STATE_CHANGED only if that changes it. */
  #setPower(domainId: number, state: number, cause: number, queued: boolean): void {
    if (this.#power[domainId] === state) return;
    this.#power[domainId] = state;
    this.#powerEvents.push({
      notificationId: PowerNotificationId.STATE_CHANGED,
      words: [cause, domainId, state],
      queued,
    });
  }

  /**
   * The power and performance notifications of the step just run: every connected agent has
   * received, in the model's order, exactly those it is subscribed to, about a domain it may use,
   * on a link with a P2A channel they fit (whether its `post` then accepted them or not).
   */
  #checkNotifications(): void {
    const power = this.#powerEvents;
    const perf = this.#perfEvents;
    this.#powerEvents = [];
    this.#perfEvents = [];
    for (const link of this.links.values()) {
      const want = this.#notificationsOf(link, ScmiProtocolId.POWER, power);
      if (this.#received(link, 'power', link.powerNotifications.splice(0), want))
        coverage.powerQueuedChangeNotified += want.filter((e) => e.queued).length;
      const wantPerf = this.#notificationsOf(link, ScmiProtocolId.PERF, perf);
      if (this.#received(link, 'performance', link.perfNotifications.splice(0), wantPerf))
        coverage.fastChannelNotified += wantPerf.filter((e) => e.words[0] === 0).length;
    }
  }

  /** The `events` of protocol `protocolId` that `link`'s agent must receive. */
  #notificationsOf(link: CheckingLink, protocolId: number, events: PowerEvent[]): PowerEvent[] {
    if (events.length === 0) return [];
    const agentId = link.agentId;
    const subscriptions = this.platform.subscriptions(agentId);
    const protocol = defined(DOMAIN_PROTOCOL[protocolId]);
    const version = this.versionOf(agentId, protocolId);
    const visible = link.p2a && (AGENT_PROTOCOLS.get(agentId)?.has(protocolId) ?? false);
    return events.filter(
      (e) =>
        visible &&
        link.maxMsgSize >=
          defined(NOTIFICATION_LENGTH[protocolId]?.[e.notificationId])([...e.words], version) &&
        this.permissions.may(agentId, protocol, e.words[1] ?? -1) &&
        subscriptions.some(
          (s) =>
            s.protocolId === protocolId &&
            s.notificationId === e.notificationId &&
            s.domainId === e.words[1],
        ),
    );
  }

  /** Whether `link`'s agent `got` exactly `want`, in order (a violation if not). */
  #received(
    link: CheckingLink,
    protocol: string,
    got: readonly PowerNotification[],
    want: readonly PowerEvent[],
  ): boolean {
    if (got.length === 0 && want.length === 0) return true;
    const same =
      got.length === want.length &&
      got.every((n, i) => {
        const e = want[i];
        return (
          e !== undefined &&
          n.notificationId === e.notificationId &&
          n.words.length === e.words.length &&
          n.words.every((x, j) => x === e.words[j])
        );
      });
    if (!same)
      this.fail(
        `agent ${link.agentId}: ${protocol} notifications ${describePower(got)}, the model expects ${describePower(want)}`,
      );
    return same;
  }

  /**
   * The protocol servers' state rules (see the file comment) for a command answered `status`:
   * checks what it may answer, and records what an accepted one changes.
   */
  #checkStateRules(
    agentId: number,
    protocolId: number,
    messageId: number,
    payload: Uint8Array,
    request: number[],
    status: number,
    what: string,
  ): void {
    const now = this.clock.now();
    const max = this.behaviour.maxPendingAsync;
    if (protocolId === ScmiProtocolId.CLOCK) {
      const rateSet = messageId === ClockMessageId.RATE_SET;
      const clockId = (rateSet ? request[1] : request[0]) ?? -1;
      const async = rateSet && ((request[0] ?? 0) & 1) !== 0;
      // CONFIG_SET state 3 ("unchanged") changes nothing and goes to no clock.
      const changes = messageId !== ClockMessageId.CONFIG_SET || ((request[1] ?? 0) & 3) !== 3;
      const busyCoverage = changes ? CLOCK_BUSY_COMMANDS.get(messageId) : undefined;
      const busyCommand = busyCoverage !== undefined;
      const pending = this.#clockOps.some((op) => op.domainId === clockId);
      if (status === ScmiStatus.SUCCESS && busyCommand && pending)
        this.fail(`${what}: SUCCESS for clock ${clockId} with a rate change pending`);
      if (status === ScmiStatus.BUSY && busyCommand && pending) coverage[busyCoverage]++;
      if (status === ScmiStatus.SUCCESS && async && this.#clockOps.length >= max)
        this.fail(`${what}: accepted beyond ${max} pending rate changes`);
      if (status === ScmiStatus.BUSY && !(busyCommand && pending))
        if (!(async && this.#clockOps.length >= max)) this.fail(`${what}: BUSY, nothing pending`);
      if (status === ScmiStatus.SUCCESS && async)
        this.#clockOps.push({
          domainId: clockId,
          due: now + this.behaviour.asyncLatencyMs,
          state: 0,
          cause: agentId,
        });
    }
    if (protocolId === ScmiProtocolId.POWER && messageId === PowerMessageId.STATE_SET) {
      const [flags = 0, domainId = -1, state = 0] = request;
      const full = this.#powerTimers.length >= max;
      if (status === ScmiStatus.BUSY && !(flags === 1 && full))
        this.fail(`${what}: BUSY with ${this.#powerTimers.length} pending asynchronous sets`);
      if (status === ScmiStatus.BUSY) coverage.powerAsyncCap++;
      if (status !== ScmiStatus.SUCCESS) return;
      // An accepted set is announced (POWER_STATE_CHANGE_REQUESTED) before it changes anything.
      this.#powerEvents.push({
        notificationId: PowerNotificationId.STATE_CHANGE_REQUESTED,
        words: [agentId, domainId, state],
        queued: false,
      });
      if (flags === 1) {
        if (full) this.fail(`${what}: accepted beyond ${max} pending asynchronous sets`);
        const due = now + this.behaviour.asyncLatencyMs;
        this.#powerTimers.push(due);
        this.#powerQueue.push({ domainId, due, state, cause: agentId });
        return;
      }
      // Synchronous: the domain's pending asynchronous sets first, oldest first, each with its
      // POWER_STATE_CHANGED (if it changes the state), then this one.
      const queued = this.#powerQueue.filter((o) => o.domainId === domainId);
      if (queued.length > 0) coverage.powerSyncAfterAsync++;
      for (const op of queued) this.#setPower(domainId, op.state, op.cause, true);
      this.#powerQueue = this.#powerQueue.filter((o) => o.domainId !== domainId);
      this.#setPower(domainId, state, agentId, false);
    }
    if (protocolId === ScmiProtocolId.RESET && messageId === ResetMessageId.RESET) {
      // BUSY only for an asynchronous reset with `maxPendingAsync` pending, whatever its domain.
      const [domainId = -1, flags = 0] = request;
      const async = (flags & RESET_ASYNC) !== 0;
      const full = this.#resetTimers.length >= max;
      if (status === ScmiStatus.BUSY && !(async && full))
        this.fail(`${what}: BUSY with ${this.#resetTimers.length} pending asynchronous resets`);
      if (status === ScmiStatus.BUSY) coverage.resetAsyncCap++;
      if (status === ScmiStatus.SUCCESS && async) {
        if (full) this.fail(`${what}: accepted beyond ${max} pending asynchronous resets`);
        const latencyUs = RESET_DOMAINS[domainId]?.latencyUs;
        const ms = latencyUs === undefined ? this.behaviour.asyncLatencyMs : latencyUs / 1000;
        this.#resetTimers.push(now + ms);
      }
    }
    if (protocolId === ScmiProtocolId.VOLTAGE && messageId === VoltageMessageId.LEVEL_SET) {
      // BUSY while the domain has an asynchronous set pending, or for an asynchronous set at
      // `maxPendingAsync` pending (platform-wide); nothing else.
      const [domainId = -1, flags = 0, level = 0] = request;
      const async = flags === 1;
      const pending = this.#voltageOps.some((op) => op.domainId === domainId);
      const full = this.#voltageOps.length >= max;
      if (status === ScmiStatus.SUCCESS && pending)
        this.fail(`${what}: SUCCESS for voltage domain ${domainId} with a level set pending`);
      if (status === ScmiStatus.BUSY && pending) coverage.voltageBusyLevelSet++;
      if (status === ScmiStatus.BUSY && !pending && !(async && full))
        this.fail(`${what}: BUSY with ${this.#voltageOps.length} pending level sets`);
      if (status === ScmiStatus.SUCCESS) {
        const d = VOLTAGE_DOMAINS[domainId];
        if (d === undefined || !isSupportedVoltage(d.levels, level | 0))
          this.fail(`${what}: accepted level ${level | 0} domain ${domainId} does not have`);
        if (async) {
          if (full) this.fail(`${what}: accepted beyond ${max} pending level sets`);
          this.#voltageOps.push({
            domainId,
            due: now + this.behaviour.asyncLatencyMs,
            state: level | 0,
            cause: agentId,
          });
        } else {
          this.#voltageLevel[domainId] = level | 0;
        }
      }
    }
    if (protocolId === ScmiProtocolId.PERF)
      this.#checkPerformanceRules(agentId, messageId, payload, request, status, what);
    if (
      protocolId === ScmiProtocolId.VOLTAGE &&
      messageId === VoltageMessageId.CONFIG_SET &&
      status === ScmiStatus.SUCCESS
    ) {
      const [domainId = -1, config = 0] = request;
      const d = VOLTAGE_DOMAINS[domainId];
      const modes = d?.implementationModes ?? [];
      const valid =
        config === 0 || config === 7 || (config >= 8 && config <= 15 && modes.includes(config & 7));
      if (!valid) this.fail(`${what}: accepted config 0x${config.toString(16)}`);
      this.#voltageConfig[domainId] = config;
    }
    if (
      protocolId === ScmiProtocolId.SENSOR &&
      messageId === SensorMessageId.READING_GET &&
      (AGENT_PROTOCOLS.get(agentId)?.has(protocolId) ?? false) &&
      payload.byteLength === 8 &&
      request[1] === 0 &&
      status === ScmiStatus.NOT_SUPPORTED
    ) {
      // A synchronous reading of a sensor of a protocol the agent sees, with valid flags:
      // NOT_SUPPORTED only because the sensor is disabled (else it is read, or refused before).
      const sensorId = request[0] ?? -1;
      if (this.sensorEnabled(sensorId))
        this.fail(`${what}: NOT_SUPPORTED reading enabled sensor ${sensorId}`);
      else coverage.sensorDisabledRead++;
    }
    if (protocolId === ScmiProtocolId.SENSOR && status === ScmiStatus.SUCCESS) {
      const sensorId = request[0] ?? -1;
      if (messageId === SensorMessageId.READING_GET && !this.sensorEnabled(sensorId))
        this.fail(`${what}: read disabled sensor ${sensorId}`);
      if (messageId === SensorMessageId.CONFIG_SET && payload.byteLength === 8)
        this.#sensorEnabled[sensorId] = ((request[1] ?? 0) & 1) !== 0;
    }
  }

  /**
   * PERF_LEVEL_SET and PERF_LIMITS_SET (of the right size, an existing domain): a SUCCESS the model
   * accepts, and applies for `agentId`; OUT_OF_RANGE or INVALID_PARAMETERS only as the model
   * refuses. PERF_DESCRIBE_FASTCHANNEL's errors counted as reached.
   */
  #checkPerformanceRules(
    agentId: number,
    messageId: number,
    payload: Uint8Array,
    request: number[],
    status: number,
    what: string,
  ): void {
    const domainId = request[0] ?? -1;
    if (
      messageId === PerformanceMessageId.DESCRIBE_FASTCHANNEL &&
      payload.byteLength === 8 &&
      (AGENT_PROTOCOLS.get(agentId)?.has(ScmiProtocolId.PERF) ?? false)
    ) {
      const { status: want, reached } = this.#describeFastChannel(agentId, request);
      if (status === want && reached !== undefined) coverage[reached]++;
      return;
    }
    const s = this.#perf[domainId];
    const levelSet = messageId === PerformanceMessageId.LEVEL_SET && payload.byteLength === 8;
    const limitsSet = messageId === PerformanceMessageId.LIMITS_SET && payload.byteLength === 12;
    if (s === undefined || !(levelSet || limitsSet)) return;
    const [, first = 0, second = 0] = request;
    const limits = limitsSet ? perfLimitsOutcome(domainId, s, first, second) : undefined;
    const refusals =
      limits?.refusals ?? [perfLevelRefusal(domainId, s, first)].filter((r) => r !== undefined);
    if (status === ScmiStatus.SUCCESS) {
      if (refusals.length > 0)
        this.fail(
          `${what}: SUCCESS for domain ${domainId}, the model refuses (${refusals.join('/')})`,
        );
      else if (limits !== undefined) this.#setPerfLimits(domainId, limits.max, limits.min, agentId);
      else this.#setPerfLevel(domainId, first, agentId);
    } else if (
      (status === ScmiStatus.OUT_OF_RANGE || status === ScmiStatus.INVALID_PARAMETERS) &&
      !refusals.includes(status)
    ) {
      const expected = refusals.length === 0 ? 'SUCCESS' : refusals.join(' or ');
      this.fail(`${what}: status ${status} for domain ${domainId}, the model expects ${expected}`);
    }
  }

  /**
   * What PERF_DESCRIBE_FASTCHANNEL answers `agentId` (README, in SCP-firmware's order): an unknown
   * domain as every command's (`unknownDomain`); a domain the agent may not use DENIED; a domain
   * without fast channels NOT_SUPPORTED, whatever the message id; a message id from 0xD NOT_FOUND;
   * another message than LIMITS_SET/GET and LEVEL_SET/GET NOT_SUPPORTED; else SUCCESS. With the
   * coverage rule that answer reaches.
   */
  #describeFastChannel(
    agentId: number,
    request: number[],
  ): { status: ScmiStatus; reached?: keyof Coverage } {
    const [domainId = 0, messageId = 0] = request;
    if (domainId >= PERFORMANCE_DOMAINS.length) {
      const notFound = this.behaviour.unknownDomain === 'not-found';
      return { status: notFound ? ScmiStatus.NOT_FOUND : ScmiStatus.INVALID_PARAMETERS };
    }
    if (!this.permissions.may(agentId, 'performance', domainId))
      return { status: ScmiStatus.DENIED, reached: 'fastChannelDescribeDenied' };
    if (!this.#hasFastChannels(domainId))
      return { status: ScmiStatus.NOT_SUPPORTED, reached: 'fastChannelDescribeNoChannels' };
    if (messageId >= PERF_MESSAGE_END)
      return { status: ScmiStatus.NOT_FOUND, reached: 'fastChannelDescribeNotFound' };
    if (!FAST_CHANNEL_PLACE.has(messageId))
      return { status: ScmiStatus.NOT_SUPPORTED, reached: 'fastChannelDescribeOtherMessage' };
    return { status: ScmiStatus.SUCCESS };
  }

  /**
   * PERF_DESCRIBE_FASTCHANNEL's return bytes (44: attributes, rate_limit, chan_addr_low/high,
   * chan_size, the doorbell's six words), its fields checked: attributes 0 (no doorbell), the poll
   * period, `base` + 24 × domain + the channel's offset, 4 or 8, doorbell 0 (README).
   */
  #describedFastChannel(request: number[], returned: number[], what: string): number | undefined {
    const fast = this.fast;
    const [domainId = -1, messageId = -1] = request;
    const place = FAST_CHANNEL_PLACE.get(messageId);
    // Not a SUCCESS (#describeFastChannel): no length to check.
    if (fast === undefined || place === undefined || !this.#hasFastChannels(domainId))
      return undefined;
    if (returned.length === 11) {
      const address = fast.base + BigInt(PERF_FAST_CHANNEL_SLOT_SIZE * domainId + place.offset);
      const rateLimit = fast.rateLimitUs ?? DEFAULT_FAST_RATE_LIMIT_US;
      const low = Number(address & 0xffffffffn);
      const high = Number(address >> 32n);
      const want = [0, rateLimit, low, high, place.size, 0, 0, 0, 0, 0, 0];
      if (returned.every((x, i) => x === want[i])) coverage.fastChannelDescribed++;
      else {
        const hex = (xs: number[]): string => xs.map((x) => `0x${x.toString(16)}`).join(',');
        this.fail(
          `${what}: domain ${domainId} m0x${messageId.toString(16)} [${hex(returned)}], expected [${hex(want)}]`,
        );
      }
    }
    return 44;
  }

  /** `platform.handle`, which must neither throw nor modify the request. */
  public safeHandle(agentId: number, channelId: number, bytes: Uint8Array): Uint8Array | undefined {
    const copy = bytes.slice();
    try {
      const response = this.platform.handle(agentId, channelId, bytes);
      if (!bytes.every((b, i) => b === copy[i])) this.fail('handle modified the request bytes');
      return response;
    } catch (e) {
      this.fail(`handle threw: ${e instanceof Error ? e.stack : String(e)}`);
      return undefined;
    }
  }

  #command(op: CommandOp): void {
    const response = this.safeHandle(op.agentId, op.channelId, encodeMsg(op.header, op.payload));
    const validHeader =
      (op.header & RESERVED_HEADER_BITS) === 0 && headerType(op.header) === ScmiMessageType.COMMAND;
    if (!this.links.has(op.agentId) || !validHeader) {
      if (response !== undefined) this.fail('a response to a dropped request');
    } else if (response === undefined) {
      this.fail('no response to a command (no fault rule is installed)');
    } else {
      this.#checkResponse(op.agentId, op.header, op.payload, response);
    }
  }

  /** Checks one response against its command and the oracle. */
  #checkResponse(agentId: number, header: number, payload: Uint8Array, response: Uint8Array): void {
    const link = defined(this.links.get(agentId));
    const protocolId = headerProtocolId(header);
    const messageId = headerMessageId(header);
    const what = `p0x${protocolId.toString(16)} m0x${messageId.toString(16)}`;
    if (response.byteLength < 8) {
      this.fail(`${what}: response shorter than 8 bytes (${response.byteLength})`);
      return;
    }
    if (response.byteLength % 4 !== 0)
      this.fail(`${what}: response length ${response.byteLength} not a multiple of 4`);
    if (response.byteLength - 4 > link.maxMsgSize)
      this.fail(`${what}: response payload ${response.byteLength - 4} > ${link.maxMsgSize}`);
    const responseHeader = readU32(response, 0);
    if (responseHeader !== header)
      this.fail(`${what}: response header 0x${responseHeader.toString(16)}`);
    const status = readI32(response, 4);
    if (!(status <= 0 && status >= LOWEST_STATUS)) this.fail(`${what}: unknown status ${status}`);
    if (status !== ScmiStatus.SUCCESS && response.byteLength !== 8)
      this.fail(`${what}: error ${status} with return values`);
    const returns = response.subarray(8);
    const returned: number[] = [];
    for (let at = 0; at + 4 <= returns.byteLength; at += 4) returned.push(readU32(returns, at));
    const request: number[] = [];
    for (let at = 0; at + 4 <= payload.byteLength; at += 4) request.push(readU32(payload, at));

    const expected = this.#expectedStatus(agentId, link, protocolId, messageId, payload, request);
    let length: number | undefined;
    if (status === ScmiStatus.SUCCESS || expected === ScmiStatus.SUCCESS)
      length = this.#successLength(agentId, protocolId, messageId, request, returned, what);
    // A SUCCESS whose return values do not fit the link is answered PROTOCOL_ERROR.
    const fits = length === undefined || MSG_STATUS_SIZE + length <= link.maxMsgSize;
    const want = expected === ScmiStatus.SUCCESS && !fits ? ScmiStatus.PROTOCOL_ERROR : expected;
    if (want !== undefined && status !== want)
      this.fail(`${what} size ${payload.byteLength}: status ${status}, oracle expects ${want}`);
    this.#checkStateRules(agentId, protocolId, messageId, payload, request, status, what);
    if (status !== ScmiStatus.SUCCESS) return;
    if (
      messageId === CommonMessageId.NEGOTIATE_PROTOCOL_VERSION &&
      expected === ScmiStatus.SUCCESS
    ) {
      const versions = this.#negotiated.get(agentId) ?? new Map<number, number>();
      versions.set(protocolId, request[0] ?? 0);
      this.#negotiated.set(agentId, versions);
    }
    if (length !== undefined && returns.byteLength !== length)
      this.fail(`${what}: SUCCESS with ${returns.byteLength} return bytes, expected ${length}`);
    this.#checkPermissions(agentId, protocolId, messageId, request, what);
    const enabled = NOTIFY_COMMAND_NOTIFICATION[protocolId]?.[messageId];
    const system = protocolId === (ScmiProtocolId.SYSTEM as number);
    if (enabled !== undefined && (system ? request[0] : request[1]) === 1) {
      // A notification the link cannot carry is not advertised, and enabling it is refused. Its
      // length from the words it starts with: agent_id, then the domain (a sensor's axes count).
      const domainId = system ? 0 : (request[0] ?? 0);
      const notification = defined(NOTIFICATION_LENGTH[protocolId]?.[enabled])(
        [0, domainId],
        this.versionOf(agentId, protocolId),
      );
      if (notification > link.maxMsgSize)
        this.fail(`${what}: enabled a ${notification}-byte notification on a smaller link`);
    }
    if (owesDelayedResponse(protocolId, messageId, request)) {
      const domainId = asyncDomainOf(protocolId, request);
      // Accepted only if the delayed response fits the link (refused up front otherwise).
      const delayed = MSG_STATUS_SIZE + delayedReturnLength(protocolId, messageId, domainId);
      if (delayed > link.maxMsgSize)
        this.fail(`${what}: accepted, but its ${delayed}-byte delayed response cannot fit`);
      link.pending.push({ header, domainId });
    }
  }

  /**
   * The status the dispatch rules give (undefined: the protocol server decides): unknown
   * protocol, hidden protocol, unknown message (Base 0x9–0xB from Base v2,
   * NEGOTIATE_PROTOCOL_VERSION with version negotiation), payload size, `*_NOTIFY` without a P2A
   * channel, and the common messages.
   */
  #expectedStatus(
    agentId: number,
    link: CheckingLink,
    protocolId: number,
    messageId: number,
    payload: Uint8Array,
    request: number[],
  ): ScmiStatus | undefined {
    const b = this.behaviour;
    const baseVersion = this.#baseVersionOf(agentId);
    const exists = (s: CommandShape | undefined, id: number): s is CommandShape =>
      s !== undefined &&
      !(
        (s.since ?? 0) >
        (protocolId === ScmiProtocolId.BASE ? baseVersion : this.versionOf(agentId, protocolId))
      ) &&
      !(id === CommonMessageId.NEGOTIATE_PROTOCOL_VERSION && !b.versionNegotiation);
    const s = commandShape(protocolId, messageId);
    if (!IMPLEMENTED.has(protocolId)) return ScmiStatus.NOT_SUPPORTED;
    if (
      protocolId !== ScmiProtocolId.BASE &&
      !(AGENT_PROTOCOLS.get(agentId)?.has(protocolId) ?? false)
    )
      return b.hiddenProtocol === 'denied' ? ScmiStatus.DENIED : ScmiStatus.NOT_SUPPORTED;
    if (!exists(s, messageId))
      return b.unknownMessage === 'not-found' ? ScmiStatus.NOT_FOUND : ScmiStatus.NOT_SUPPORTED;
    if (!s.sizes.includes(payload.byteLength)) return ScmiStatus.PROTOCOL_ERROR;
    if (s.needsP2a === true && !link.p2a) return ScmiStatus.NOT_SUPPORTED;
    switch (messageId) {
      case CommonMessageId.PROTOCOL_VERSION:
      case CommonMessageId.PROTOCOL_ATTRIBUTES:
        return ScmiStatus.SUCCESS;
      case CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES: {
        // NOT_FOUND for a message the agent cannot send here (scmi-wire.md §4 common messages).
        const asked = request[0] ?? 0;
        const other =
          COMMON_COMMANDS[asked] !== undefined &&
          asked !== CommonMessageId.NEGOTIATE_PROTOCOL_VERSION
            ? undefined
            : PROTOCOL_COMMANDS[protocolId]?.[asked];
        const found =
          asked <= CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES ||
          (asked === CommonMessageId.NEGOTIATE_PROTOCOL_VERSION && b.versionNegotiation) ||
          (exists(other, asked) && !(other.needsP2a === true && !link.p2a));
        return found ? ScmiStatus.SUCCESS : ScmiStatus.NOT_FOUND;
      }
      case CommonMessageId.NEGOTIATE_PROTOCOL_VERSION: {
        // The own major with a minor up to the own one, or a listed older version.
        const v = request[0] ?? 0;
        const own = ownVersion(protocolId, b.versionNegotiation);
        const speaks =
          (v >>> 16 === own >>> 16 && (v & 0xffff) <= (own & 0xffff)) ||
          (OLDER_VERSIONS[protocolId] ?? []).includes(v);
        return speaks ? ScmiStatus.SUCCESS : ScmiStatus.NOT_SUPPORTED;
      }
      default:
        if (
          protocolId === ScmiProtocolId.PERF &&
          messageId === PerformanceMessageId.DESCRIBE_FASTCHANNEL
        )
          return this.#describeFastChannel(agentId, request).status;
        return undefined;
    }
  }

  /** A SUCCESS on a domain the agent may not use is a violation; Base 0x9–0xB update the model. */
  #checkPermissions(
    agentId: number,
    protocolId: number,
    messageId: number,
    request: number[],
    what: string,
  ): void {
    const at = DOMAIN_WORD[protocolId]?.[messageId];
    const protocol = DOMAIN_PROTOCOL[protocolId];
    if (at !== undefined && protocol !== undefined) {
      const domainId = request[at] ?? -1;
      if (!this.permissions.may(agentId, protocol, domainId))
        this.fail(`${what}: SUCCESS on ${protocol} domain ${domainId} the agent may not use`);
    }
    if (protocolId !== ScmiProtocolId.BASE) return;
    const [target = 0, deviceId = 0, third = 0, fourth = 0] = request;
    const device = CONFIG.devices?.[deviceId];
    switch (messageId) {
      case BaseMessageId.SET_DEVICE_PERMISSIONS:
        for (const [p, ids] of Object.entries(device?.domains ?? {})) {
          this.permissions.set(target, p as PlatformDomainProtocol, ids, third === 1);
        }
        break;
      case BaseMessageId.SET_PROTOCOL_PERMISSIONS: {
        // Base, System power and unknown protocols are refused; a domain protocol the device has
        // no domain of is accepted and changes nothing.
        const p = DOMAIN_PROTOCOL[third];
        if (p === undefined || DOMAIN_COUNT[p] === 0 || device === undefined)
          this.fail(`${what}: SUCCESS for protocol 0x${third.toString(16)} or an unknown device`);
        else this.permissions.set(target, p, device.domains[p] ?? [], fourth === 1);
        break;
      }
      case BaseMessageId.RESET_AGENT_CONFIGURATION:
        if (request[1] === 1) this.permissions.reset(target);
        break;
      default:
    }
  }

  /**
   * Return-value bytes of a SUCCESS (scmi-wire.md §4 response columns; undefined: the oracle does
   * not know); also checks the multi-part returned/remaining counts.
   */
  #successLength(
    agentId: number,
    protocolId: number,
    messageId: number,
    request: number[],
    returned: number[],
    what: string,
  ): number | undefined {
    const first = returned[0] ?? 0;
    const index = request[1] ?? 0;
    const domainId = request[0] ?? 0;
    /** returned + remaining must be what is left from the index. */
    const multiPart = (count: number, remaining: number, total: number, from: number): void => {
      if (count + remaining !== total - from)
        this.fail(`${what}: returned ${count} + remaining ${remaining} != ${total} - ${from}`);
    };
    switch (messageId) {
      case CommonMessageId.PROTOCOL_VERSION: {
        // The negotiated version, or the platform's own.
        const version = this.versionOf(agentId, protocolId);
        if (returned.length === 1 && first !== version)
          this.fail(`${what}: version 0x${first.toString(16)}`);
        return 4;
      }
      case CommonMessageId.PROTOCOL_ATTRIBUTES:
        return PROTOCOL_ATTRIBUTES_LENGTH[protocolId];
      case CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES: {
        // Performance: bit 0 set for LIMITS_SET/GET and LEVEL_SET/GET when a domain has fast
        // channels (scmi-wire.md §4, README), clear for every other message.
        const asked = request[0] ?? -1;
        const want = FAST_CHANNEL_PLACE.has(asked) && this.#slots.length > 0 ? 1 : 0;
        if (protocolId === ScmiProtocolId.PERF && returned.length === 1) {
          if ((first & 1) !== want)
            this.fail(
              `${what}: message 0x${asked.toString(16)} attributes 0x${first.toString(16)}, bit 0 should be ${want}`,
            );
          else if (want === 1) coverage.fastChannelMessageBit++;
        }
        return 4;
      }
      case CommonMessageId.NEGOTIATE_PROTOCOL_VERSION:
        return 0;
      default:
    }
    switch (protocolId) {
      case ScmiProtocolId.BASE:
        switch (messageId) {
          case BaseMessageId.DISCOVER_VENDOR:
          case BaseMessageId.DISCOVER_SUB_VENDOR:
            return 16;
          case BaseMessageId.DISCOVER_IMPLEMENTATION_VERSION:
            return 4;
          case BaseMessageId.DISCOVER_LIST_PROTOCOLS: {
            // num_protocols, then the ids as bytes packed into words.
            const total = AGENT_PROTOCOLS.get(agentId)?.size ?? 0;
            const skip = request[0] ?? 0;
            if (first > total - skip)
              this.fail(`${what}: ${first} protocols from skip ${skip} of ${total}`);
            return 4 + Math.ceil(first / 4) * 4;
          }
          case BaseMessageId.DISCOVER_AGENT: {
            // v2: agent_id, name[16]; v1: name[16].
            return this.#baseVersionOf(agentId) < 0x20000 ? 16 : 20;
          }
          default:
            return 0;
        }
      case ScmiProtocolId.POWER:
        switch (messageId) {
          case PowerMessageId.DOMAIN_ATTRIBUTES:
            return 20;
          case PowerMessageId.STATE_GET:
            return 4;
          case PowerMessageId.DOMAIN_NAME_GET:
            return 68;
          default:
            return 0;
        }
      case ScmiProtocolId.SYSTEM:
        return messageId === SystemPowerMessageId.STATE_GET ? 4 : 0;
      case ScmiProtocolId.PERF:
        switch (messageId) {
          case PerformanceMessageId.DOMAIN_ATTRIBUTES:
            // Flags bit 27: the domain has fast channels, and the agent may use it (README: for
            // a domain it may not use, the channels are not announced, their description DENIED).
            if (returned.length === 8 && domainId < PERFORMANCE_DOMAINS.length) {
              const want =
                this.#hasFastChannels(domainId) &&
                this.permissions.may(agentId, 'performance', domainId);
              if (((first & PERF_FAST_CHANNEL_FLAG) !== 0) !== want)
                this.fail(
                  `${what}: domain ${domainId} flags 0x${first.toString(16)}, bit 27 should be ${want ? 1 : 0}`,
                );
              else if (want) coverage.fastChannelDomainBit++;
            }
            return 32;
          case PerformanceMessageId.DESCRIBE_LEVELS: {
            const d = PERFORMANCE_DOMAINS[domainId];
            if (d !== undefined) multiPart(first & 0xffff, first >>> 16, d.levels.length, index);
            return 4 + 12 * (first & 0xffff);
          }
          case PerformanceMessageId.LIMITS_GET: {
            // range_max, range_min: the model's.
            const s = this.#perf[domainId];
            if (
              s !== undefined &&
              returned.length === 2 &&
              (first !== s.max || returned[1] !== s.min)
            )
              this.fail(
                `${what}: domain ${domainId} limits [${first}, ${returned[1]}], expected [${s.max}, ${s.min}]`,
              );
            return 8;
          }
          case PerformanceMessageId.LEVEL_GET: {
            const s = this.#perf[domainId];
            if (s !== undefined && returned.length === 1 && first !== s.level)
              this.fail(`${what}: domain ${domainId} level ${first}, expected ${s.level}`);
            return 4;
          }
          case PerformanceMessageId.DESCRIBE_FASTCHANNEL:
            return this.#describedFastChannel(request, returned, what);
          case PerformanceMessageId.DOMAIN_NAME_GET:
            return 68;
          default:
            return 0;
        }
      case ScmiProtocolId.CLOCK:
        switch (messageId) {
          case ClockMessageId.ATTRIBUTES:
            return 24;
          case ClockMessageId.DESCRIBE_RATES: {
            // 11:0 returned, bit12 range triplet, 31:16 remaining; 64-bit rates.
            const c = CLOCKS[domainId];
            if (c !== undefined && isRateList(c.rates))
              multiPart(first & 0xfff, first >>> 16, c.rates.length, index);
            else if (c !== undefined && first !== (3 | (1 << 12)))
              this.fail(`${what}: a rate range that is not one triplet`);
            return 4 + 8 * (first & 0xfff);
          }
          case ClockMessageId.RATE_GET:
            return 8;
          case ClockMessageId.NAME_GET:
            return 68;
          case ClockMessageId.CONFIG_GET:
            return 12;
          case ClockMessageId.POSSIBLE_PARENTS_GET: {
            // 7:0 returned, 31:24 remaining.
            const c = CLOCKS[domainId];
            if (c !== undefined)
              multiPart(first & 0xff, first >>> 24, c.parents?.length ?? 0, index);
            return 4 + 4 * (first & 0xff);
          }
          case ClockMessageId.PARENT_GET:
          case ClockMessageId.GET_PERMISSIONS:
            return 4;
          default:
            return 0;
        }
      case ScmiProtocolId.SENSOR:
        switch (messageId) {
          case SensorMessageId.DESCRIPTION_GET:
            multiPart(first & 0xffff, first >>> 16, SENSORS.length, domainId);
            return 4 + 28 * (first & 0xffff);
          case SensorMessageId.READING_GET:
            // Asynchronous: the reading comes in the delayed response.
            return request[1] === 1 ? 0 : 16 * Math.max(1, SENSOR_AXES[domainId] ?? 1);
          case SensorMessageId.AXIS_DESCRIPTION_GET:
            // 5:0 returned, 31:26 remaining.
            multiPart(first & 0x3f, first >>> 26, SENSOR_AXES[domainId] ?? 0, index);
            return 4 + 28 * (first & 0x3f);
          case SensorMessageId.LIST_UPDATE_INTERVALS: {
            // 11:0 returned, bit12 segmented triplet, 31:16 remaining.
            const intervals = SENSORS[domainId]?.updateIntervalsMs;
            if (Array.isArray(intervals))
              multiPart(first & 0xfff, first >>> 16, intervals.length, index);
            else if (intervals !== undefined && first !== (3 | (1 << 12)))
              this.fail(`${what}: an interval range that is not one triplet`);
            return 4 + 4 * (first & 0xfff);
          }
          case SensorMessageId.CONFIG_GET:
            return 4;
          case SensorMessageId.NAME_GET:
            return 68;
          case SensorMessageId.AXIS_NAME_GET:
            multiPart(first & 0x3f, first >>> 26, SENSOR_AXES[domainId] ?? 0, index);
            return 4 + 68 * (first & 0x3f);
          default:
            return 0;
        }
      case ScmiProtocolId.RESET:
        switch (messageId) {
          case ResetMessageId.DOMAIN_ATTRIBUTES:
            return 24;
          case ResetMessageId.DOMAIN_NAME_GET:
            return 68;
          default:
            return 0;
        }
      case ScmiProtocolId.VOLTAGE:
        switch (messageId) {
          case VoltageMessageId.DOMAIN_ATTRIBUTES:
            return 20;
          case VoltageMessageId.DESCRIBE_LEVELS: {
            // 11:0 returned, bit12 triplet, 31:16 remaining; s32 levels.
            const levels = VOLTAGE_DOMAINS[domainId]?.levels;
            if (levels !== undefined && isVoltageList(levels))
              multiPart(first & 0xfff, first >>> 16, levels.length, index);
            else if (levels !== undefined && first !== (3 | (1 << 12)))
              this.fail(`${what}: a level range that is not one triplet`);
            return 4 + 4 * (first & 0xfff);
          }
          case VoltageMessageId.CONFIG_GET:
            if (returned.length === 1 && first !== this.#voltageConfig[domainId])
              this.fail(`${what}: config ${first}, expected ${this.#voltageConfig[domainId]}`);
            return 4;
          case VoltageMessageId.LEVEL_GET:
            // The level of the last set that completed (an asynchronous one only once due).
            if (returned.length === 1 && (first | 0) !== this.#voltageLevel[domainId])
              this.fail(`${what}: level ${first | 0}, expected ${this.#voltageLevel[domainId]}`);
            return 4;
          case VoltageMessageId.DOMAIN_NAME_GET:
            return 68;
          default:
            return 0;
        }
      default:
        return undefined;
    }
  }

  /** Counters, timers and device state, after every step. */
  public checkGlobal(): void {
    const c = this.platform.counters;
    for (const [name, value] of Object.entries(c) as [keyof PlatformCounters, number][]) {
      if (!Number.isSafeInteger(value) || value < 0) this.fail(`counter ${name} = ${value}`);
      if (value < this.#lastCounters[name])
        this.fail(`counter ${name} went down ${this.#lastCounters[name]} → ${value}`);
    }
    this.#lastCounters = c;
    if (c.handlerErrors !== 0) this.fail(`handlerErrors = ${c.handlerErrors}`);
    const armed = this.platform.armedTimers;
    const pending = this.platform.pendingOperations;
    if (!(pending >= 0 && pending <= armed))
      this.fail(`pendingOperations ${pending} with ${armed} armed timers`);
    if (armed !== this.clock.armedTimers)
      this.fail(`platform.armedTimers ${armed} != clock.armedTimers ${this.clock.armedTimers}`);
    if (armed > 200) this.fail(`armedTimers ${armed}: unbounded?`);
    const s = this.platform.snapshot();
    s.powerDomains.forEach((state, i) => {
      if (!(POWER_DOMAINS[i]?.states ?? [0, 0x40000000]).includes(state))
        this.fail(`power domain ${i} state 0x${state.toString(16)}`);
      if (state !== this.#power[i])
        this.fail(
          `power domain ${i} state 0x${state.toString(16)}, expected 0x${(this.#power[i] ?? 0).toString(16)}`,
        );
    });
    // System power states: 0–4 architectural, bit 31 set vendor.
    const system = s.systemPower;
    if (system !== undefined && !(system <= 4 || (system >= 0x80000000 && system <= 0xffffffff)))
      this.fail(`system power state ${system}`);
    s.performanceDomains.forEach((p, i) => {
      const levels = levelsOf(i);
      if (!levels.includes(p.level)) this.fail(`performance domain ${i} level ${p.level}`);
      if (!(p.min <= p.level && p.level <= p.max))
        this.fail(`performance domain ${i} level ${p.level} outside [${p.min}, ${p.max}]`);
      if (p.min < (levels[0] ?? 0) || p.max > (levels[levels.length - 1] ?? 0))
        this.fail(`performance domain ${i} limits [${p.min}, ${p.max}] outside the levels`);
      if (!levels.includes(p.min) || !levels.includes(p.max))
        this.fail(`performance domain ${i} limits [${p.min}, ${p.max}] are not levels`);
      const m = this.#perf[i];
      if (m !== undefined && (p.level !== m.level || p.min !== m.min || p.max !== m.max))
        this.fail(
          `performance domain ${i} level ${p.level} in [${p.min}, ${p.max}], the model expects ${m.level} in [${m.min}, ${m.max}]`,
        );
    });
    if (c.fastChannelApplied !== this.#fastApplied || c.fastChannelRejected !== this.#fastRejected)
      this.fail(
        `fastChannelApplied ${c.fastChannelApplied}, fastChannelRejected ${c.fastChannelRejected}; the model counts ${this.#fastApplied}, ${this.#fastRejected}`,
      );
    this.#checkFastChannelMemory(s.performanceDomains);
    s.clocks.forEach((clock, i) => {
      const config = defined(CLOCKS[i]);
      if (!isSupportedRate(config.rates, clock.rate))
        this.fail(`clock ${i} rate ${clock.rate} unsupported`);
      if (clock.parent !== undefined && !(config.parents ?? []).includes(clock.parent))
        this.fail(`clock ${i} parent ${clock.parent}`);
    });
    s.sensors.forEach((sensor, i) => {
      if (!Number.isFinite(sensor.reading)) this.fail(`sensor ${i} reading ${sensor.reading}`);
      const intervals = SENSORS[i]?.updateIntervalsMs;
      const ms = sensor.updateIntervalMs;
      if (intervals === undefined) {
        if (ms !== undefined) this.fail(`sensor ${i} has an interval ${ms} without intervals`);
        return;
      }
      if (ms === undefined) return;
      const supported = isIntervalList(intervals)
        ? intervals.includes(ms)
        : ms >= intervals.min &&
          ms <= intervals.max &&
          Math.abs(((ms - intervals.min) / intervals.step) % 1) < 1e-9;
      if (!supported) this.fail(`sensor ${i} update interval ${ms} ms unsupported`);
    });
    s.resetDomains.forEach((r, i) => {
      if (!Number.isSafeInteger(r.resets) || r.resets < 0)
        this.fail(`reset domain ${i} count ${r.resets}`);
    });
    s.voltageDomains.forEach((v, i) => {
      if (!isSupportedVoltage(defined(VOLTAGE_DOMAINS[i]).levels, v.level))
        this.fail(`voltage domain ${i} level ${v.level} unsupported`);
      if (v.level !== this.#voltageLevel[i])
        this.fail(`voltage domain ${i} level ${v.level}, expected ${this.#voltageLevel[i]}`);
      if (v.config !== this.#voltageConfig[i])
        this.fail(`voltage domain ${i} config ${v.config}, expected ${this.#voltageConfig[i]}`);
    });
  }

  /**
   * The fast channels' memory word for word: LEVEL_GET and LIMITS_GET of every fast-channel domain
   * hold the snapshot's level and limits (as values: not in level indexing mode); the SET words
   * what the agent wrote (zeroed at start, never cleared); every other word as it was.
   */
  #checkFastChannelMemory(states: readonly { level: number; min: number; max: number }[]): void {
    const memory = this.#memory;
    if (memory === undefined) return;
    const expected = [...this.#memoryModel];
    for (const { domainId } of this.#slots) {
      const p = defined(states[domainId]);
      const at = fastWordIndex(domainId, PERF_FAST_CHANNEL_LIMITS_GET_OFFSET);
      const level = memory[fastWordIndex(domainId, PERF_FAST_CHANNEL_LEVEL_GET_OFFSET)];
      if (level !== p.level || memory[at] !== p.max || memory[at + 1] !== p.min)
        this.fail(
          `fast channels of performance domain ${domainId}: LEVEL_GET ${level}, LIMITS_GET [${memory[at]}, ${memory[at + 1]}]; the snapshot ${p.level} in [${p.min}, ${p.max}]`,
        );
      const m = defined(this.#perf[domainId]);
      expected[fastWordIndex(domainId, PERF_FAST_CHANNEL_LEVEL_GET_OFFSET)] = m.level;
      expected[at] = m.max;
      expected[at + 1] = m.min;
    }
    const wrong = expected.flatMap((v, i) => (memory[i] === v ? [] : [i]));
    if (wrong.length > 0)
      this.fail(
        `fast channels' memory: ${wrong.map((i) => `byte ${i * 4} 0x${defined(memory[i]).toString(16)}, expected 0x${defined(expected[i]).toString(16)}`).join('; ')}`,
      );
  }

  /**
   * Time passes until every accepted operation completed and every delayed response due came
   * (100 ms at a time, at most `limitMs`): with fast channels, rather than `limitMs` of polls.
   */
  async #untilCompleted(limitMs: number): Promise<void> {
    for (let ms = 0; ms < limitMs; ms += 100) {
      await this.clock.advance(100);
      const done = [...this.links.values()].every((link) => link.pending.length === 0);
      if (done && this.platform.pendingOperations === 0) return;
    }
  }

  /**
   * Lets every operation complete, checks the delayed responses came, disconnects, closes and
   * checks no timer is left and nothing is answered after `close` — nor, with fast channels, a
   * word written after it applied.
   */
  public async finish(): Promise<void> {
    if (this.fast === undefined) await this.clock.advance(5_000);
    else await this.#untilCompleted(5_000);
    this.#advanced();
    this.#checkNotifications();
    this.checkGlobal();
    const dropped = this.platform.counters.delayedResponsesDropped;
    for (const link of this.links.values()) {
      if (link.pending.length > dropped)
        this.fail(`agent ${link.agentId}: ${link.pending.length} delayed responses never came`);
    }
    if (this.platform.pendingOperations !== 0)
      this.fail(`pendingOperations ${this.platform.pendingOperations} after 5 s`);
    for (const id of [...this.links.keys()]) this.disconnect(id);
    // The fast channels' polling timer is the platform's own (`pollingTimers`): it stays until
    // `close`.
    const polling = this.#slots.length > 0 ? 1 : 0;
    if (this.platform.pollingTimers !== polling)
      this.fail(`pollingTimers ${this.platform.pollingTimers}, expected ${polling}`);
    if (this.platform.armedTimers !== this.platform.pendingOperations + polling)
      this.fail(`all disconnected: ${this.platform.armedTimers} armed timers`);
    this.platform.close();
    this.#closed = true;
    if (this.platform.armedTimers !== 0 || this.clock.armedTimers !== 0)
      this.fail(`after close: ${this.platform.armedTimers}/${this.clock.armedTimers} timers`);
    if (this.platform.pollingTimers !== 0)
      this.fail(`after close: pollingTimers ${this.platform.pollingTimers}`);
    const droppedRequests = this.platform.counters.droppedRequests;
    if (this.safeHandle(1, 0, encodeMsg(buildHeader(0, 0, ScmiProtocolId.BASE, 1))) !== undefined)
      this.fail('answered after close');
    if (this.platform.counters.droppedRequests !== droppedRequests + 1)
      this.fail('a request after close was not counted as dropped');
    // Fast channels: limits (and a level) the platform would apply, written after close, change
    // nothing and write nothing, time passing (the model polls no more either).
    const slot = this.#slots[0];
    let left: number[] | undefined;
    if (slot !== undefined && this.#memory !== undefined) {
      const d = slot.domainId;
      const levels = levelsOf(d);
      const [lowest, highest] = [defined(levels[0]), defined(levels[levels.length - 1])];
      const s = defined(this.#perf[d]);
      const limits = s.max === lowest && s.min === lowest ? [highest, lowest] : [lowest, lowest];
      this.#write(d, PERF_FAST_CHANNEL_LIMITS_SET_OFFSET, limits);
      this.#write(d, PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, [s.level === lowest ? highest : lowest]);
      left = Array.from(this.#memory);
    }
    await this.clock.advance(10_000);
    if (left !== undefined && !left.every((v, i) => this.#memory?.[i] === v))
      this.fail(`the fast channels' memory was written after close`);
    this.checkGlobal();
  }
}

/** An agent's link: checks every message the platform posts to it (P2A channel). */
class CheckingLink implements PlatformAgentLink {
  public readonly p2a: boolean;
  public readonly maxMsgSize: number;
  /** Delayed responses still due to this link. */
  public readonly pending: PendingDelayedResponse[] = [];
  /** The power notifications posted to this link during the current step, in order. */
  public readonly powerNotifications: PowerNotification[] = [];
  /** The performance notifications likewise. */
  public readonly perfNotifications: PowerNotification[] = [];
  readonly #run: FuzzRun;
  readonly #refuseEvery: number;
  #posts = 0;

  public constructor(
    run: FuzzRun,
    public readonly agentId: number,
    p: LinkParams,
  ) {
    this.#run = run;
    this.p2a = p.p2a;
    this.maxMsgSize = p.maxMsgSize;
    this.#refuseEvery = p.refuseEvery;
  }

  /** Only fault rules send responses later; none is installed. */
  public respond(channelId: number, response: Uint8Array): void {
    this.#run.fail(`respond() on channel ${channelId} (${response.byteLength} bytes)`);
  }

  public post(message: Uint8Array): boolean {
    const run = this.#run;
    const tag = `agent ${this.agentId} post`;
    if (run.links.get(this.agentId) !== this) run.fail(`${tag}: to a link no longer connected`);
    if (!this.p2a) run.fail(`${tag}: on a link without a P2A channel`);
    if (message.byteLength < 4) {
      run.fail(`${tag}: ${message.byteLength} bytes`);
      return true;
    }
    if (message.byteLength % 4 !== 0) run.fail(`${tag}: length ${message.byteLength}`);
    if (message.byteLength - 4 > this.maxMsgSize)
      run.fail(`${tag}: payload ${message.byteLength - 4} > maxMsgSize ${this.maxMsgSize}`);
    const header = readU32(message, 0);
    const words: number[] = [];
    for (let at = 4; at + 4 <= message.byteLength; at += 4) words.push(readU32(message, at));
    if ((header & RESERVED_HEADER_BITS) !== 0) run.fail(`${tag}: reserved header bits`);
    const type = headerType(header);
    if (type === ScmiMessageType.NOTIFICATION && headerProtocolId(header) === ScmiProtocolId.POWER)
      this.powerNotifications.push({ notificationId: headerMessageId(header), words });
    if (type === ScmiMessageType.NOTIFICATION && headerProtocolId(header) === ScmiProtocolId.PERF)
      this.perfNotifications.push({ notificationId: headerMessageId(header), words });
    if (type === ScmiMessageType.NOTIFICATION)
      this.#checkNotification(header, message.byteLength - 4, words, tag);
    else if (type === ScmiMessageType.DELAYED_RESPONSE)
      this.#checkDelayedResponse(header, message.byteLength - 4, words, tag);
    else run.fail(`${tag}: message type ${type}`);
    this.#posts++;
    if (this.#refuseEvery > 0 && this.#posts % (this.#refuseEvery + 1) === 0) return false;
    if (type === ScmiMessageType.DELAYED_RESPONSE) {
      const i = this.#pendingIndex(header);
      if (i >= 0) this.pending.splice(i, 1);
    }
    return true;
  }

  /** The delayed response echoes its command's header but for the type (scmi-wire.md §1). */
  #pendingIndex(header: number): number {
    return this.pending.findIndex(
      (p) => (p.header & ~MESSAGE_TYPE_BITS) === (header & ~MESSAGE_TYPE_BITS),
    );
  }

  /** Token 0, known id and length, a cause agent, subscribed, about a domain the agent may use. */
  #checkNotification(header: number, length: number, words: number[], tag: string): void {
    const run = this.#run;
    const protocolId = headerProtocolId(header);
    const id = headerMessageId(header);
    const what = `${tag}: notification p0x${protocolId.toString(16)} n${id}`;
    if (headerToken(header) !== 0) run.fail(`${what}: token ${headerToken(header)}`);
    const lengthOf = NOTIFICATION_LENGTH[protocolId]?.[id];
    if (lengthOf === undefined) run.fail(`${what}: unknown`);
    else if (length !== lengthOf(words, run.versionOf(this.agentId, protocolId)))
      run.fail(`${what}: ${length} bytes`);
    const cause = words[0] ?? -1;
    if (!(cause === 0 || AGENT_IDS.includes(cause))) run.fail(`${what}: agent_id ${cause}`);
    const systemWide = protocolId === ScmiProtocolId.BASE || protocolId === ScmiProtocolId.SYSTEM;
    const domainId = systemWide ? 0 : (words[1] ?? -1);
    if (protocolId === ScmiProtocolId.SENSOR && !run.sensorEnabled(domainId))
      run.fail(`${what}: about disabled sensor ${domainId}`);
    const subscribed = run.platform
      .subscriptions(this.agentId)
      .some(
        (s) => s.protocolId === protocolId && s.notificationId === id && s.domainId === domainId,
      );
    if (!subscribed) run.fail(`${what}: domain ${domainId} without a subscription`);
    const protocol = DOMAIN_PROTOCOL[protocolId];
    if (protocol !== undefined && !run.permissions.may(this.agentId, protocol, domainId))
      run.fail(`${what}: about ${protocol} domain ${domainId} the agent may not use`);
    if (
      protocolId !== ScmiProtocolId.BASE &&
      !(AGENT_PROTOCOLS.get(this.agentId)?.has(protocolId) ?? false)
    )
      run.fail(`${what}: of a hidden protocol`);
  }

  /** Due, SUCCESS (its command was answered SUCCESS), with its return values and domain. */
  #checkDelayedResponse(header: number, length: number, words: number[], tag: string): void {
    const run = this.#run;
    const protocolId = headerProtocolId(header);
    const messageId = headerMessageId(header);
    const what = `${tag}: delayed response p0x${protocolId.toString(16)} m0x${messageId.toString(16)}`;
    const due = this.pending[this.#pendingIndex(header)];
    if (due === undefined) {
      run.fail(`${what}: not due (header 0x${header.toString(16)})`);
      return;
    }
    const status = words[0] === undefined ? Number.NaN : words[0] | 0;
    if (status !== ScmiStatus.SUCCESS) {
      run.fail(`${what}: status ${status} for a command answered SUCCESS`);
      return;
    }
    const want = MSG_STATUS_SIZE + delayedReturnLength(protocolId, messageId, due.domainId);
    if (length !== want) run.fail(`${what}: ${length} bytes, expected ${want}`);
    if (words[1] !== due.domainId) run.fail(`${what}: domain ${words[1]} != ${due.domainId}`);
  }
}

async function runScenario(s: Scenario): Promise<string[]> {
  const run = new FuzzRun(s.behaviour, s.fastChannels);
  AGENT_IDS.forEach((id, i) => {
    run.connect(id, s.links[i % 2] ?? s.links[0]);
  });
  for (const op of s.ops) {
    await run.run(op);
    if (run.violations.length > 0) break;
  }
  if (run.violations.length === 0) await run.finish();
  if (!run.platform.closed) run.platform.close();
  return run.violations;
}

// ---------------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------------

describe('ScmiPlatform under a property-based fuzz from hostile agents', () => {
  it(`should hold every invariant (seed ${SEED}, ${NUM_RUNS} runs)`, async () => {
    if (SEED !== FIXED_SEED || NUM_RUNS !== SUITE_RUNS) {
      console.log(
        `platform fuzz: seed ${SEED}, ${NUM_RUNS} runs (replay: SCMI_FUZZ_SEED=${SEED} SCMI_FUZZ_RUNS=${NUM_RUNS})`,
      );
    }
    for (const key of Object.keys(coverage) as (keyof Coverage)[]) coverage[key] = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const violations = await runScenario(s);
        if (violations.length > 0) throw new Error(violations.slice(0, 3).join('\n'));
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
    if (SEED !== FIXED_SEED || NUM_RUNS !== SUITE_RUNS || process.env.SCMI_FUZZ_COVERAGE === '1')
      console.log(`platform fuzz coverage: ${JSON.stringify(coverage)}`);
    // The rules the generators aim at were reached (a shorter campaign may miss some).
    if (NUM_RUNS >= SUITE_RUNS) {
      const missed = Object.entries(coverage).filter(([, hits]) => hits < COVERAGE_MINIMUM);
      expect(missed).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Regression tests of the defects the fuzz found
// ---------------------------------------------------------------------------------------------

const CLOCK_0 = 0;
const RESET_GPU = 0;
/** CLOCK_RATE_SET flags: bit0 asynchronous, bit1 no delayed response (scmi-wire.md §4). */
const RATE_SET_ASYNC = 1;
const RATE_SET_NO_DELAYED_RESPONSE = 2;
/** RESET flags: bit0 autonomous, bit2 asynchronous (scmi-wire.md §4). */
const RESET_AUTONOMOUS_ASYNC = 1 | 4;

/** A valid PROTOCOL_VERSION header with a reserved bit set: dropped, an error event reported. */
const RESERVED_BIT_HEADER =
  (buildHeader(CommonMessageId.PROTOCOL_VERSION, 0, ScmiProtocolId.BASE, 1) | 0x10000000) >>> 0;

describe('BASE_ERROR_EVENT and the link size (fuzz finding D1)', () => {
  /** Agent 1 connected with `maxMsgSize` and subscribed with BASE_NOTIFY_ERRORS. */
  function subscribed(maxMsgSize: number): Harness {
    const h = new Harness();
    h.connect(1, true, maxMsgSize);
    expect(h.call(ScmiProtocolId.BASE, BaseMessageId.NOTIFY_ERRORS, [1]).status).toBe(
      ScmiStatus.SUCCESS,
    );
    return h;
  }

  it.each([4, 12, 15])(
    'should refuse BASE_NOTIFY_ERRORS with NOT_SUPPORTED on a %i-byte link, where the 16-byte event cannot go, and accept a disable',
    (maxMsgSize) => {
      const h = new Harness();
      h.connect(1, true, maxMsgSize);
      const notify = (on: number): number =>
        h.call(ScmiProtocolId.BASE, BaseMessageId.NOTIFY_ERRORS, [on]).status;
      expect(notify(1)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(h.platform.subscriptions(1)).toEqual([]);
      expect(notify(0)).toBe(ScmiStatus.SUCCESS);
      expect(notify(2)).toBe(ScmiStatus.INVALID_PARAMETERS);
      // Nothing subscribed: a malformed message posts nothing and drops nothing.
      expect(h.platform.handle(1, 0, encodeMsg(RESERVED_BIT_HEADER))).toBeUndefined();
      expect(h.link(1).posted).toEqual([]);
      expect(h.platform.counters).toMatchObject({
        droppedRequests: 1,
        notificationsPosted: 0,
        notificationsDropped: 0,
      });
      h.close();
    },
  );

  it('should accept it on a 16-byte link, and post the event there', () => {
    const h = subscribed(16);
    expect(h.platform.handle(1, 0, encodeMsg(RESERVED_BIT_HEADER))).toBeUndefined();
    expect(h.link(1).messages.map((m) => m.words)).toEqual([[1, 1, RESERVED_BIT_HEADER, 0]]);
    expect(h.platform.counters).toMatchObject({ notificationsPosted: 1, notificationsDropped: 0 });
    h.close();
  });

  it('should post the event on a 128-byte link (control)', () => {
    const h = subscribed(128);
    expect(h.platform.handle(1, 0, encodeMsg(RESERVED_BIT_HEADER))).toBeUndefined();
    // agent_id, error_status (count 1), one 64-bit report: the dropped header.
    expect(h.link(1).messages).toEqual([
      {
        type: ScmiMessageType.NOTIFICATION,
        protocolId: ScmiProtocolId.BASE,
        messageId: BaseNotificationId.ERROR_EVENT,
        token: 0,
        words: [1, 1, RESERVED_BIT_HEADER, 0],
      },
    ]);
    expect(h.platform.counters).toMatchObject({ notificationsPosted: 1, notificationsDropped: 0 });
    h.close();
  });
});

describe('Asynchronous commands whose delayed response cannot fit the link (fuzz finding D2)', () => {
  const RATE = 300 * MHZ;
  const WATCHER = 3;
  const rateSet = (h: Harness, flags: number): number =>
    h.call(ScmiProtocolId.CLOCK, ClockMessageId.RATE_SET, [flags, CLOCK_0, RATE, 0]).status;
  const rateOf = (h: Harness): number => defined(h.platform.snapshot().clocks[CLOCK_0]).rate;

  /**
   * Agent 1 on a `maxMsgSize` link, and a watcher agent on a 128-byte link subscribed to the
   * notifications of clock 0 and reset domain 0: a command refused before any change sends it
   * none. (Agent 1 cannot subscribe on a link these notifications do not fit.)
   */
  function watched(maxMsgSize: number): Harness {
    const h = new Harness({
      ...CONFIG,
      agents: [...CONFIG.agents, { id: WATCHER, name: 'watcher', protocols: ['clock', 'reset'] }],
    });
    h.connect(1, true, maxMsgSize);
    h.connect(WATCHER);
    const subscriptions: [number, number, number][] = [
      [ScmiProtocolId.CLOCK, ClockMessageId.RATE_NOTIFY, CLOCK_0],
      [ScmiProtocolId.CLOCK, ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY, CLOCK_0],
      [ScmiProtocolId.RESET, ResetMessageId.NOTIFY, RESET_GPU],
    ];
    for (const [protocolId, messageId, domainId] of subscriptions)
      expect(h.call(protocolId, messageId, [domainId, 1], WATCHER).status).toBe(ScmiStatus.SUCCESS);
    return h;
  }

  it('should refuse an asynchronous CLOCK_RATE_SET on a 12-byte link with NOT_SUPPORTED (not advertised there) and change nothing', async () => {
    const h = watched(12); // the delayed response: status + 12 bytes of returns
    const rate = rateOf(h);
    const counters = h.platform.counters;
    expect(rateSet(h, RATE_SET_ASYNC)).toBe(ScmiStatus.NOT_SUPPORTED);
    expect(h.platform.armedTimers).toBe(0);
    expect(h.platform.pendingOperations).toBe(0);
    await h.clock.advance(1000);
    expect(rateOf(h)).toBe(rate);
    // Neither RATE_CHANGE_REQUESTED nor RATE_CHANGED: none posted, none dropped.
    expect(h.link(1).posted).toEqual([]);
    expect(h.link(WATCHER).posted).toEqual([]);
    expect(h.platform.counters).toEqual({ ...counters, requests: 4, responses: 4 });
    h.close();
  });

  it('should accept it on a 12-byte link without a delayed response (flags bit1)', async () => {
    const h = watched(12);
    expect(rateSet(h, RATE_SET_ASYNC | RATE_SET_NO_DELAYED_RESPONSE)).toBe(ScmiStatus.SUCCESS);
    await h.clock.advance(1000);
    expect(rateOf(h)).toBe(RATE);
    expect(h.link(1).posted).toEqual([]);
    expect(h.link(WATCHER).posted).toHaveLength(2); // RATE_CHANGE_REQUESTED, RATE_CHANGED
    expect(h.platform.counters).toMatchObject({
      delayedResponsesPosted: 0,
      notificationsDropped: 0,
    });
    h.close();
  });

  it('should accept it on a 128-byte link, notify and post the delayed response (control)', async () => {
    const h = watched(128);
    for (const id of [ClockMessageId.RATE_NOTIFY, ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY])
      expect(h.call(ScmiProtocolId.CLOCK, id, [CLOCK_0, 1]).status).toBe(ScmiStatus.SUCCESS);
    expect(rateSet(h, RATE_SET_ASYNC)).toBe(ScmiStatus.SUCCESS);
    await h.clock.advance(1000);
    expect(rateOf(h)).toBe(RATE);
    expect(h.link(1).posted.map((m) => decodePosted(m))).toEqual([
      expect.objectContaining({
        type: ScmiMessageType.NOTIFICATION,
        messageId: ClockNotificationId.RATE_CHANGE_REQUESTED,
      }),
      expect.objectContaining({
        type: ScmiMessageType.NOTIFICATION,
        messageId: ClockNotificationId.RATE_CHANGED,
      }),
      expect.objectContaining({
        type: ScmiMessageType.DELAYED_RESPONSE,
        messageId: ClockMessageId.RATE_SET,
        words: [ScmiStatus.SUCCESS, CLOCK_0, RATE, 0],
      }),
    ]);
    h.close();
  });

  it('should refuse an asynchronous RESET on a 4-byte link with NOT_SUPPORTED (not advertised there) and reset nothing', async () => {
    const h = watched(4); // the delayed response: status + domain_id
    const counters = h.platform.counters;
    const reset = [RESET_GPU, RESET_AUTONOMOUS_ASYNC, 0];
    expect(h.call(ScmiProtocolId.RESET, ResetMessageId.RESET, reset).status).toBe(
      ScmiStatus.NOT_SUPPORTED,
    );
    expect(h.platform.armedTimers).toBe(0);
    await h.clock.advance(1000);
    expect(defined(h.platform.snapshot().resetDomains[RESET_GPU]).resets).toBe(0);
    // No RESET_ISSUED: none posted, none dropped.
    expect(h.link(1).posted).toEqual([]);
    expect(h.link(WATCHER).posted).toEqual([]);
    expect(h.platform.counters).toEqual({ ...counters, requests: 4, responses: 4 });
    h.close();
  });

  it('should refuse an asynchronous SENSOR_READING_GET on a 12-byte link up front (control; NOT_SUPPORTED, as it is not advertised there)', () => {
    const h = new Harness();
    h.connect(1, true, 12);
    expect(h.call(ScmiProtocolId.SENSOR, SensorMessageId.READING_GET, [0, 1]).status).toBe(
      ScmiStatus.NOT_SUPPORTED,
    );
    expect(h.platform.pendingOperations).toBe(0);
    h.close();
  });
});
