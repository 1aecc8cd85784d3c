import {
  type CallOptions,
  PayloadReader,
  RevokedError,
  ScmiError,
  ScmiMalformedError,
  ScmiProtocolId,
  type ProtocolDriver,
  type ProtocolHandle,
  type ProtocolVersionSource,
  type ProtocolSubscribeOptions,
} from '@scmi-ts/core';
import { subscribeDecoded, type ProtocolEventHandler } from '../common/events.js';
import { uintArg } from '../common/args.js';
import {
  DomainTable,
  SHORT_NAME_SIZE,
  isRemovalError,
  resourceName,
} from '../common/domain-table.js';
import { NotifyChecks, checkFailureOf, perDomainEvent, sendNotify } from '../common/notify.js';
import {
  DomainFastChannels,
  describeFastChannel,
  type FastChannelRanges,
  type PerformanceDomainFastChannels,
  type PerformanceFastChannel,
} from './fast-channels.js';

/**
 * Performance domain protocol (0x13) message ids besides the common 0x0–0x2 (scmi-wire.md §4,
 * Performance; Linux `enum scmi_performance_protocol_cmd`).
 *
 * @example
 * ```ts
 * await agent.transact(0x13, PerformanceMessageId.LEVEL_SET, (w) => w.u32(0).u32(800_000));
 * ```
 */
export enum PerformanceMessageId {
  /** (domain_id) → flags, rate_limit_us, sustained_freq_khz, sustained_perf_level, name[16]. */
  DOMAIN_ATTRIBUTES = 0x3,
  /**
   * (domain_id, level_index) → num_returned u16, num_remaining u16, {perf, power, latency}[];
   * from version 4.0 each level has five words: … indicative_freq, level_index.
   */
  DESCRIBE_LEVELS = 0x4,
  /** (domain_id, range_max, range_min). */
  LIMITS_SET = 0x5,
  /** (domain_id) → range_max, range_min. */
  LIMITS_GET = 0x6,
  /** (domain_id, level). */
  LEVEL_SET = 0x7,
  /** (domain_id) → level. */
  LEVEL_GET = 0x8,
  /** (domain_id, notify_enable): PERFORMANCE_LIMITS_CHANGED. */
  NOTIFY_LIMITS = 0x9,
  /** (domain_id, notify_enable): PERFORMANCE_LEVEL_CHANGED. */
  NOTIFY_LEVEL = 0xa,
  /** (domain_id, message_id) → attributes, rate_limit, chan_addr, chan_size, doorbell fields. */
  DESCRIBE_FASTCHANNEL = 0xb,
  /** (domain_id) → flags, name[64] (version 3.0). */
  DOMAIN_NAME_GET = 0xc,
}

/** PERFORMANCE_LIMITS_CHANGED (Performance notification 0x0): agent_id, domain_id, range_max, range_min. */
export const PERFORMANCE_LIMITS_CHANGED = 0x0;

/** PERFORMANCE_LEVEL_CHANGED (Performance notification 0x1): agent_id, domain_id, performance_level. */
export const PERFORMANCE_LEVEL_CHANGED = 0x1;

const PROTOCOL_ATTRIBUTES = 0x1;
/** PROTOCOL_ATTRIBUTES flags (the upper 16 bits of its first word). */
const POWER_IN_MILLIWATTS = 1 << 0;
const POWER_IN_MICROWATTS = 1 << 1;
const ATTR_SET_LIMITS = 1 << 31;
const ATTR_SET_LEVEL = 1 << 30;
const ATTR_LIMITS_NOTIFY = 1 << 29;
const ATTR_LEVEL_NOTIFY = 1 << 28;
const ATTR_FAST_CHANNEL = 1 << 27;
const ATTR_EXTENDED_NAME = 1 << 26;
/** Level indexing mode (version 4.0; Linux `SUPPORTS_LEVEL_INDEXING`, bit 25). */
const ATTR_LEVEL_INDEXING = 1 << 25;
/** rate_limit_us: bits 19:0 (Linux `GENMASK(19, 0)`). */
const RATE_LIMIT_MASK = 0xfffff;
/** Linux's mult_factor when the domain gives no sustained frequency or level ("CPUFreq converts to kHz"). */
const DEFAULT_MULT_FACTOR = 1000;
const LIMITS_PAYLOAD = 16;
const LEVEL_PAYLOAD = 12;

/**
 * What the platform's power costs are in (PROTOCOL_ATTRIBUTES flags; Linux `enum
 * scmi_power_scale`): `abstract` (neither bit: Linux's "bogowatts"), `milliwatts` (bit 0) or
 * `microwatts` (bit 1, read from version 3.0 on, as Linux reads it; it wins over bit 0).
 */
export type PerformancePowerScale = 'abstract' | 'milliwatts' | 'microwatts';

/** Performance PROTOCOL_ATTRIBUTES, as the platform answered at init. */
export interface PerformanceAttributes {
  /** How many performance domains the platform announced (bits 15:0). */
  readonly numDomains: number;
  /** The unit of every level's `powerCost`. */
  readonly powerScale: PerformancePowerScale;
  /**
   * The statistics shared memory region's address (stats_addr_high:stats_addr_low), as the
   * platform gave it: 0 when it has none. Not read by this client (no shared memory here).
   */
  readonly statsAddress: bigint;
  /** The statistics region's length in bytes (stats_len), as given; 0 when there is none. */
  readonly statsLength: number;
}

/** One performance level (operating point) of a domain, as PERF_DESCRIBE_LEVELS gives it. */
export interface PerformanceLevel {
  /** The performance level value (`perf_val`: abstract, or kHz as the platform defines it). */
  readonly value: number;
  /** Its power cost, in the unit of {@link PerformanceAttributes.powerScale}. */
  readonly powerCost: number;
  /** Worst-case transition latency to this level, in µs (16 bits). */
  readonly latencyUs: number;
  /**
   * The level's indicative frequency in kHz (`indicative_freq`, version 4.0 on; absent before).
   * In level indexing mode it is what the frequency helpers use, as Linux's cpufreq does.
   */
  readonly indicativeFreqKhz?: number;
  /**
   * The level's index (`level_index`), present in a domain in level indexing mode only (version
   * 4.0): what the platform takes and gives for this level on the wire.
   */
  readonly index?: number;
}

/** A performance domain as PERF_DOMAIN_ATTRIBUTES, PERF_DOMAIN_NAME_GET and PERF_DESCRIBE_LEVELS describe it. */
export interface PerformanceDomainInfo {
  /** The domain id. */
  readonly id: number;
  /** Its name: the extended name when the platform announces one (version 3.0), else the short one. */
  readonly name: string;
  /**
   * Whether the domain is in level indexing mode (flags bit 25, read from version 4.0 on as Linux
   * reads it): the platform takes and gives its levels and limits as level indices (implementation
   * defined, neither contiguous nor on a linear scale). The client keeps speaking level values:
   * it translates through the described levels' `index`, as Linux does, and its frequency helpers
   * use each level's `indicativeFreqKhz`. Notifications carry the indices as sent
   * ({@link PerformanceProtocol.levelOfIndex} gives the level, and
   * {@link PerformanceProtocol.frequencyOf} its frequency).
   */
  readonly levelIndexing: boolean;
  /** Whether the agent may set the limits (flags bit 31). */
  readonly canSetLimits: boolean;
  /** Whether the agent may set the level (flags bit 30). */
  readonly canSetLevel: boolean;
  /**
   * Whether the platform sends PERFORMANCE_LIMITS_CHANGED for it: flags bit 29, and
   * PERF_NOTIFY_LIMITS implemented (PROTOCOL_MESSAGE_ATTRIBUTES, as Linux checks it).
   */
  readonly limitsNotify: boolean;
  /**
   * Whether the platform sends PERFORMANCE_LEVEL_CHANGED for it: flags bit 28, and
   * PERF_NOTIFY_LEVEL implemented (as for `limitsNotify`).
   */
  readonly levelNotify: boolean;
  /**
   * Whether the platform announces fast channels for it (flags bit 27): the client then sets them
   * up at init, as Linux does, and its level and limit commands go through those it could map
   * (see {@link PerformanceProtocol.fastChannels}).
   */
  readonly fastChannels: boolean;
  /** The least time between two level or limit commands, in µs (rate_limit_us bits 19:0). */
  readonly rateLimitUs: number;
  /** The sustained frequency in kHz (0: not given). */
  readonly sustainedFreqKhz: number;
  /** The sustained performance level (0: not given). */
  readonly sustainedLevel: number;
  /**
   * Hz per level unit, as Linux computes `mult_factor`: `sustainedFreqKhz × 1000 /
   * sustainedLevel` rounded down, or 1000 when either is 0 — and always 1000 in level indexing
   * mode, where it turns each level's indicative frequency (kHz) into Hz. 0 when the sustained
   * frequency is below the sustained level in Hz: the frequency helpers then refuse the domain.
   */
  readonly multFactor: number;
  /**
   * The levels, ascending by value, one per value — and in level indexing mode one per index (as
   * Linux sorts them and skips a value, or an index, the platform repeats); when
   * PERF_DESCRIBE_LEVELS failed (see `levelsError`), those of the parts read before it, as Linux
   * keeps them (empty when the first part failed).
   */
  readonly levels: readonly PerformanceLevel[];
  /** Present when PERF_DOMAIN_NAME_GET failed: the error (`name` is then the short name). */
  readonly nameError?: unknown;
  /**
   * Present when PERF_DESCRIBE_LEVELS failed: the error (`levels` then holds the parts read before
   * it).
   */
  readonly levelsError?: unknown;
  /**
   * Present when the platform listed a level value (or in level indexing mode an index) more than
   * once: the entries left out (the first entry is kept, as Linux keeps it and logs a firmware bug
   * for the others).
   */
  readonly duplicateLevels?: readonly PerformanceLevel[];
}

/** The limits of a domain (PERF_LIMITS_GET), as level values. */
export interface PerformanceLimits {
  /** The highest level allowed (range_max). */
  readonly max: number;
  /** The lowest level allowed (range_min). */
  readonly min: number;
}

/** What {@link PerformanceProtocol.estimatePower} found: the first level at or above a frequency. */
export interface PerformancePowerEstimate {
  /**
   * That level's frequency, in Hz: its value × the domain's `multFactor`, or in level indexing
   * mode its indicative frequency × `multFactor`.
   */
  readonly frequencyHz: number;
  /** Its power cost, in the unit of {@link PerformanceAttributes.powerScale}. */
  readonly powerCost: number;
}

/** A PERFORMANCE_LIMITS_CHANGED notification, decoded by {@link decodePerformanceLimitsChanged}. */
export interface PerformanceLimitsChanged {
  /** The agent that caused the change (0: the platform). */
  readonly agentId: number;
  /** The domain whose limits changed. */
  readonly domainId: number;
  /** The new highest level allowed (in level indexing mode its index: see `levelOfIndex`). */
  readonly rangeMax: number;
  /** The new lowest level allowed (in level indexing mode its index). */
  readonly rangeMin: number;
}

/** A PERFORMANCE_LEVEL_CHANGED notification, decoded by {@link decodePerformanceLevelChanged}. */
export interface PerformanceLevelChanged {
  /** The agent that caused the change (0: the platform). */
  readonly agentId: number;
  /** The domain whose level changed. */
  readonly domainId: number;
  /** The new performance level (in level indexing mode its index: see `levelOfIndex`). */
  readonly level: number;
}

/**
 * A PERFORMANCE_LIMITS_CHANGED notification as {@link PerformanceProtocol.onLimitsChanged} gives
 * it: decoded, with each bound's frequency (Linux's `scmi_perf_limits_report`).
 */
export interface PerformanceLimitsReport extends PerformanceLimitsChanged {
  /**
   * `rangeMax`'s frequency in Hz (see {@link PerformanceProtocol.frequencyOf}); undefined, with
   * `rangeMinHz`, when the platform did not describe either bound's level (or the domain): Linux
   * reports the translated frequencies "ONLY if both available" (`scmi_perf_fill_custom_report`).
   */
  readonly rangeMaxHz: number | undefined;
  /** `rangeMin`'s frequency in Hz; undefined, with `rangeMaxHz`, as that says. */
  readonly rangeMinHz: number | undefined;
}

/**
 * A PERFORMANCE_LEVEL_CHANGED notification as {@link PerformanceProtocol.onLevelChanged} gives
 * it: decoded, with the level's frequency (Linux's `scmi_perf_level_report`).
 */
export interface PerformanceLevelReport extends PerformanceLevelChanged {
  /**
   * The level's frequency in Hz (see {@link PerformanceProtocol.frequencyOf}); undefined when the
   * platform did not describe that level (or its domain).
   */
  readonly frequencyHz: number | undefined;
}

/**
 * Decodes a PERFORMANCE_LIMITS_CHANGED payload (agent_id, domain_id, range_max, range_min). The
 * hub delivers none of another size: the event's payload is exactly 16 bytes, as Linux's
 * `scmi_perf_fill_custom_report` requires (`sizeof(*p) != payld_sz` drops it).
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload is shorter than 16 bytes.
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x13, eventId: PERFORMANCE_LIMITS_CHANGED, source: 0 }, (n) => {
 *   const { rangeMin, rangeMax } = decodePerformanceLimitsChanged(n.payload);
 *   console.log(`domain 0 now runs from ${rangeMin} to ${rangeMax}`);
 * });
 * ```
 */
export function decodePerformanceLimitsChanged(payload: Uint8Array): PerformanceLimitsChanged {
  const r = new PayloadReader(payload);
  return { agentId: r.u32(), domainId: r.u32(), rangeMax: r.u32(), rangeMin: r.u32() };
}

/**
 * Decodes a PERFORMANCE_LEVEL_CHANGED payload (agent_id, domain_id, performance_level). The hub
 * delivers none of another size: the event's payload is exactly 12 bytes, as Linux's
 * `scmi_perf_fill_custom_report` requires.
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload is shorter than 12 bytes.
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x13, eventId: PERFORMANCE_LEVEL_CHANGED }, (n) => {
 *   const { domainId, level } = decodePerformanceLevelChanged(n.payload);
 *   console.log(`domain ${domainId} at level ${level}`);
 * });
 * ```
 */
export function decodePerformanceLevelChanged(payload: Uint8Array): PerformanceLevelChanged {
  const r = new PayloadReader(payload);
  return { agentId: r.u32(), domainId: r.u32(), level: r.u32() };
}

/**
 * The levels of domain `id` (PERF_DESCRIBE_LEVELS, every part), as Linux's
 * `scmi_perf_describe_levels_get` keeps them: a value listed again is skipped (Linux's
 * `xa_insert` into `opps_by_lvl` answers -EBUSY, "Skip BAD duplicates received from firmware"),
 * and so is, in level indexing mode, an index listed again (`opps_by_idx`); the rest are sorted
 * ascending by value (`opp_cmp_func`). The next part is asked for at the count of entries
 * received, duplicates included, as Linux's iterator asks for `desc_index`. From version 4.0 each
 * level has five words (Linux `process_response_opp_v4`: "PERF v4 reports always five 32-bit
 * words"); its `level_index` is kept in level indexing mode only, as Linux reads it.
 */
async function describeLevels(
  ph: ProtocolHandle,
  id: number,
  indexing: boolean,
): Promise<{
  levels: PerformanceLevel[];
  duplicates: PerformanceLevel[];
  /** Why the walk stopped early: the levels are then those of the parts read before. */
  error?: unknown;
}> {
  const v4 = ph.version >>> 16 >= 4;
  // The levels of every whole part read: when the walk fails, those of the parts before the one
  // that failed, which Linux keeps (a part cut short, or refused, gives none of its levels).
  const listed: PerformanceLevel[] = [];
  let error: { error: unknown } | undefined;
  try {
    await describeLevelParts(ph, id, indexing, v4, listed);
  } catch (e) {
    if (isRemovalError(e) || listed.length === 0) throw e;
    error = { error: e };
  }
  const seen = new Set<number>();
  const seenIndices = new Set<number>();
  const levels: PerformanceLevel[] = [];
  const duplicates: PerformanceLevel[] = [];
  for (const level of listed) {
    const index = level.index;
    if (seen.has(level.value) || (index !== undefined && seenIndices.has(index))) {
      duplicates.push(level);
    } else {
      seen.add(level.value);
      if (index !== undefined) seenIndices.add(index);
      levels.push(level);
    }
  }
  // Numeric order: Linux's `t1->perf - t2->perf`, an unsigned difference read as int, misorders
  // values 2^31 apart; the order meant is ascending.
  levels.sort((a, b) => a.value - b.value);
  return error === undefined ? { levels, duplicates } : { levels, duplicates, error: error.error };
}

/**
 * Walks PERF_DESCRIBE_LEVELS, adding each part's levels to `listed` once the part was read whole:
 * when the next part comes (its counts are read), or the walk ends.
 */
async function describeLevelParts(
  ph: ProtocolHandle,
  id: number,
  indexing: boolean,
  v4: boolean,
  listed: PerformanceLevel[],
): Promise<void> {
  let part: PerformanceLevel[] = [];
  const keepPart = (): void => {
    listed.push(...part);
    part = [];
  };
  await ph.xfer.iterate(PerformanceMessageId.DESCRIBE_LEVELS, {
    txSize: 8,
    prepare: (w, index) => w.u32(id).u32(index),
    // num_returned and num_remaining are two 16-bit fields, as Linux reads them; the walk is
    // bounded by what they can hold (the first part's count bounds the rest), not by core's
    // default 4096 nor Linux's MAX_OPPS.
    max: 0xffff + 0xffff,
    counts: (r) => {
      keepPart();
      return { returned: r.u16(), remaining: r.u16() };
    },
    item: (r): PerformanceLevel => {
      const value = r.u32();
      const powerCost = r.u32();
      const latencyUs = r.u16();
      r.u16(); // reserved
      let level: PerformanceLevel = { value, powerCost, latencyUs };
      if (v4) {
        const indicativeFreqKhz = r.u32();
        const index = r.u32();
        level = indexing
          ? { value, powerCost, latencyUs, indicativeFreqKhz, index }
          : { value, powerCost, latencyUs, indicativeFreqKhz };
      }
      part.push(level);
      return level;
    },
  });
  keepPart();
}

/**
 * What goes on the wire for level value `value` of domain `info`: the value, or in level indexing
 * mode its level's index.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` when the domain is in level indexing mode and no
 * described level has that value (Linux's `scmi_perf_level_set`: -EIO).
 */
function indexOfLevel(info: PerformanceDomainInfo, value: number, what: string): number {
  if (!info.levelIndexing) return value;
  const index = info.levels.find((l) => l.value === value)?.index;
  if (index !== undefined) return index;
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${value} is not one of performance domain ${info.id}'s levels: in level indexing mode only a described level has an index to send`,
  );
}

/**
 * Refuses (ScmiError `E_ARGUMENT`) a level value that is not one of domain `info`'s described
 * levels, for a command going through a fast channel, where the platform's refusal would not be
 * told. Nothing is refused when the domain's levels could not all be read (`levelsError`).
 */
function describedLevelArg(info: PerformanceDomainInfo, value: number, what: string): void {
  if (info.levelsError !== undefined || info.levels.some((l) => l.value === value)) return;
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${value} is not one of performance domain ${info.id}'s levels (${info.levels.map((l) => l.value).join(', ')}): over a fast channel the platform's refusal (OUT_OF_RANGE) would not be told, so it is refused here`,
  );
}

/** The error for a level index none of domain `info`'s described levels has. */
function unknownIndex(
  info: PerformanceDomainInfo,
  index: number,
  what: string,
): ScmiMalformedError {
  return new ScmiMalformedError(
    `${what}: performance domain ${info.id} (level indexing mode) answered level index ${index}, which none of its described levels has`,
    'E_LEVEL_INDEX',
  );
}

/**
 * The level the platform's `wire` level means for domain `info` in level indexing mode: the
 * described level with that index. Read inside `decode`, so that an unknown index is counted as
 * a malformed reply.
 *
 * @throws ScmiMalformedError `E_LEVEL_INDEX` for an index no described level has.
 */
function indexedLevel(info: PerformanceDomainInfo, wire: number, what: string): PerformanceLevel {
  const level = info.levels.find((l) => l.index === wire);
  if (level === undefined) throw unknownIndex(info, wire, what);
  return level;
}

/**
 * The level value the platform's `wire` level means for domain `info`: itself, or in level
 * indexing mode the value of the level with that index (see {@link indexedLevel}).
 */
function levelOfWire(info: PerformanceDomainInfo, wire: number, what: string): number {
  return info.levelIndexing ? indexedLevel(info, wire, what).value : wire;
}

/**
 * The described level of domain `info` a level as the platform sends it names: by index in level
 * indexing mode, by value otherwise; undefined when none does.
 */
function describedLevel(info: PerformanceDomainInfo, wire: number): PerformanceLevel | undefined {
  return info.levelIndexing
    ? info.levels.find((l) => l.index === wire)
    : info.levels.find((l) => l.value === wire);
}

/**
 * A level's frequency in Hz, as Linux computes it: its value × `multFactor`, or in level indexing
 * mode its indicative frequency (kHz) × `multFactor`.
 */
function levelHz(
  info: PerformanceDomainInfo,
  level: { readonly value: number; readonly indicativeFreqKhz?: number },
  multFactor: number,
): number {
  return (info.levelIndexing ? (level.indicativeFreqKhz ?? 0) : level.value) * multFactor;
}

/**
 * The Performance domain protocol client (Linux `perf.c`, `scmi_perf_proto_ops`): the domains and
 * their levels as the platform described them at init, limits and level get/set, the frequency
 * helpers Linux's cpufreq uses (through each domain's `multFactor`), fast channels (set up at
 * init for a domain that announces them, when the agent's `memoryMap` holds them: the level and
 * limit commands then write and read shared memory instead of sending messages, as Linux's do),
 * and the PERFORMANCE_LIMITS_CHANGED / PERFORMANCE_LEVEL_CHANGED notifications.
 *
 * Version 4.0 (SCMI 3.2), as Linux's: five-word levels with an indicative frequency, and level
 * indexing mode (domain flags bit 25), where the platform speaks level indices — the client
 * translates them to and from level values as Linux does, so its methods take and give level
 * values whatever the mode. An older platform is driven with its own version's layouts.
 *
 * @example
 * ```ts
 * const perf = agent.protocol(performanceProtocolDriver);
 * const cpu = perf.domains.info(0);
 * console.log(cpu.name, cpu.levels.map((l) => l.value));
 * await perf.setLimits(0, 1_200_000, 400_000);
 * await perf.setLevel(0, 800_000);
 * console.log(await perf.getFrequency(0)); // Hz: level × multFactor
 * ```
 */
export class PerformanceProtocol {
  readonly #ph: ProtocolHandle;
  /** PROTOCOL_ATTRIBUTES, as the platform answered at init. */
  public readonly attributes: PerformanceAttributes;
  /** The domains, as the platform described them at init. */
  public readonly domains: DomainTable<PerformanceDomainInfo>;

  readonly #notifyChecks: NotifyChecks;
  /** The fast channels set up at init, by domain id. */
  readonly #fast: ReadonlyMap<number, DomainFastChannels>;
  /** Whether this client's commands use them (false in a `withoutFastChannels` view). */
  readonly #useFast: boolean;
  /** The signals of a `withCallOptions` view (and of the views it was made from). */
  readonly #signals: readonly AbortSignal[];

  private constructor(
    ph: ProtocolHandle,
    attributes: PerformanceAttributes,
    domains: DomainTable<PerformanceDomainInfo>,
    notifyChecks: NotifyChecks,
    fast: ReadonlyMap<number, DomainFastChannels>,
    useFast: boolean,
    signals: readonly AbortSignal[],
  ) {
    this.#ph = ph;
    this.attributes = attributes;
    this.domains = domains;
    this.#notifyChecks = notifyChecks;
    this.#fast = fast;
    this.#useFast = useFast;
    this.#signals = signals;
  }

  /**
   * The notify commands (PERFORMANCE_NOTIFY_LIMITS, PERFORMANCE_NOTIFY_LEVEL, by message id) whose
   * PROTOCOL_MESSAGE_ATTRIBUTES check at init failed — a timeout, an error status other than
   * NOT_FOUND, a malformed reply — with the error. Such a command is left out for the agent's life
   * all the same, as Linux leaves it: no domain announces its notification, and a refused
   * subscription names this error (its `cause`). Empty when the platform answered every check.
   */
  public get notifyCheckErrors(): ReadonlyMap<number, unknown> {
    return this.#notifyChecks.errors;
  }

  /**
   * Reads PROTOCOL_ATTRIBUTES and describes every domain (PERF_DOMAIN_ATTRIBUTES, then
   * PERF_DOMAIN_NAME_GET for an extended name, then PERF_DESCRIBE_LEVELS), as Linux's
   * `scmi_perf_protocol_init` does. A domain whose PERF_DOMAIN_ATTRIBUTES fails is recorded as a
   * failure, its levels not asked for (Linux asks for them all the same, into a zeroed domain); a
   * PERF_DESCRIBE_LEVELS that fails leaves the domain with the levels of the parts read before it
   * and the error in `levelsError` (Linux keeps what it had read, unsorted; here sorted).
   *
   * @throws the PROTOCOL_ATTRIBUTES failure (the driver then fails to initialize, and the agent
   * goes on without it); a domain's failure is recorded in {@link PerformanceProtocol.domains}.
   * @internal
   */
  public static async create(ph: ProtocolHandle): Promise<PerformanceProtocol> {
    const returns = await ph.xfer.transact(PROTOCOL_ATTRIBUTES, undefined, { rxSize: 16 });
    const attributes = ph.xfer.decode(returns, (r): PerformanceAttributes => {
      const numDomains = r.u16();
      const flags = r.u16();
      const statsAddress = r.u64();
      const statsLength = r.u32();
      // As Linux's scmi_perf_attributes_get: bit 0 mW, then bit 1 µW from major 3 on.
      let powerScale: PerformancePowerScale = 'abstract';
      if ((flags & POWER_IN_MILLIWATTS) !== 0) powerScale = 'milliwatts';
      if (ph.version >>> 16 >= 3 && (flags & POWER_IN_MICROWATTS) !== 0) {
        powerScale = 'microwatts';
      }
      return { numDomains, powerScale, statsAddress, statsLength };
    });
    // As Linux's scmi_perf_attributes_get (protocol_msg_check): a notification bit counts only
    // when its notify command is implemented.
    // NOTIFY_LEVEL first, as Linux's scmi_perf_attributes_get asks them.
    const checks = await NotifyChecks.run(ph, [
      PerformanceMessageId.NOTIFY_LEVEL,
      PerformanceMessageId.NOTIFY_LIMITS,
    ]);
    const limitsNotify = checks.implemented(PerformanceMessageId.NOTIFY_LIMITS);
    const levelNotify = checks.implemented(PerformanceMessageId.NOTIFY_LEVEL);
    const fast = new Map<number, DomainFastChannels>();
    const taken: FastChannelRanges = [];
    const domains = await DomainTable.describe(
      'performance domain',
      attributes.numDomains,
      async (id): Promise<PerformanceDomainInfo> => {
        const reply = await ph.xfer.transact(
          PerformanceMessageId.DOMAIN_ATTRIBUTES,
          (w) => w.u32(id),
          { txSize: 4, rxSize: 16 + SHORT_NAME_SIZE },
        );
        const [flags, rateLimit, sustainedFreqKhz, sustainedLevel, shortName] = ph.xfer.decode(
          reply,
          (r) => [r.u32(), r.u32(), r.u32(), r.u32(), r.string(SHORT_NAME_SIZE)] as const,
        );
        const name = await resourceName(
          ph,
          PerformanceMessageId.DOMAIN_NAME_GET,
          id,
          shortName,
          (flags & ATTR_EXTENDED_NAME) !== 0,
        );
        // As Linux's scmi_perf_domain_attributes_get: bit 25 is read from major 4 on.
        const levelIndexing = ph.version >>> 16 >= 4 && (flags & ATTR_LEVEL_INDEXING) !== 0;
        let levels: PerformanceLevel[] = [];
        let extra: { levelsError?: unknown; duplicateLevels?: readonly PerformanceLevel[] } = {};
        try {
          const described = await describeLevels(ph, id, levelIndexing);
          levels = described.levels;
          if (described.duplicates.length > 0) extra = { duplicateLevels: described.duplicates };
          if ('error' in described) extra = { ...extra, levelsError: described.error };
        } catch (e) {
          if (isRemovalError(e)) throw e;
          extra = { levelsError: e };
        }
        const info: PerformanceDomainInfo = {
          id,
          ...name,
          levelIndexing,
          canSetLimits: (flags & ATTR_SET_LIMITS) !== 0,
          canSetLevel: (flags & ATTR_SET_LEVEL) !== 0,
          limitsNotify: limitsNotify && (flags & ATTR_LIMITS_NOTIFY) !== 0,
          levelNotify: levelNotify && (flags & ATTR_LEVEL_NOTIFY) !== 0,
          fastChannels: (flags & ATTR_FAST_CHANNEL) !== 0,
          rateLimitUs: rateLimit & RATE_LIMIT_MASK,
          sustainedFreqKhz,
          sustainedLevel,
          // Linux: (sustained_freq_khz * 1000UL) / sustained_perf_level, or 1000 without either
          // or in level indexing mode, where it turns indicative frequencies (kHz) into Hz
          // (commit 77f5032e94f2, "Fix possible frequency truncation when using level indexing
          // mode").
          multFactor:
            levelIndexing || sustainedFreqKhz === 0 || sustainedLevel === 0
              ? DEFAULT_MULT_FACTOR
              : Math.floor((sustainedFreqKhz * 1000) / sustainedLevel),
          levels,
          ...extra,
        };
        // As Linux's scmi_perf_protocol_init: a domain's fast channels right after its levels.
        if (info.fastChannels) {
          fast.set(
            id,
            await DomainFastChannels.init(ph, id, info.canSetLevel, info.canSetLimits, taken),
          );
        }
        return info;
      },
    );
    return new PerformanceProtocol(ph, attributes, domains, checks, fast, true, []);
  }

  /**
   * The fast channels the client set up at init for domain `id`, and the commands it could not
   * set one up for (`skipped`, with why); undefined when the domain announces none (flags bit
   * 27). A command with a channel goes through it: {@link PerformanceProtocol.setLevel} writes
   * the level into PERF_LEVEL_SET's channel and rings its doorbell if it has one, and resolves —
   * no message, no answer: the platform takes the level when it next reads the channel, as
   * Linux's `scmi_perf_level_set` on a fast channel. Nothing is sent to read this.
   *
   * @throws ScmiError `E_ARGUMENT` for an id that is not a domain; `E_DOMAIN_UNAVAILABLE` for a
   * domain the platform did not describe.
   * @example
   * ```ts
   * const fc = perf.fastChannels(0);
   * if (fc?.levelSet === undefined) console.log('a message:', fc?.skipped.get(0x7));
   * ```
   */
  public fastChannels(id: number): PerformanceDomainFastChannels | undefined {
    this.domains.info(id);
    return this.#fast.get(id)?.info;
  }

  /**
   * A view of this client that sends every level and limit command as a message, fast channels
   * or not — for a test of the platform's messages on a domain that has fast channels (Linux
   * always takes the channel). It shares everything else with this client. Mind that a platform
   * that polls its channels (SCP-firmware, the emulated platform) applies the value left in a set
   * channel again at its next poll: a level set by message then lasts until that poll, unless the
   * channel was never written or holds that level too.
   *
   * @example
   * ```ts
   * await perf.withoutFastChannels().setLevel(0, 800_000); // PERF_LEVEL_SET, answered
   * ```
   */
  public withoutFastChannels(): PerformanceProtocol {
    return new PerformanceProtocol(
      this.#ph,
      this.attributes,
      this.domains,
      this.#notifyChecks,
      this.#fast,
      false,
      this.#signals,
    );
  }

  /**
   * Domain `id`'s fast channels if command `messageId` goes through one in this client. Throws
   * the reason of a view's signal that fired already, as a command of the view would reject with
   * it, nothing sent: nothing is written to or read from the channel then.
   */
  #channel(id: number, messageId: number): DomainFastChannels | undefined {
    if (!this.#useFast) return undefined;
    const fc = this.#fast.get(id);
    if (fc?.has(messageId) !== true) return undefined;
    // After the removal, RevokedError first, as a message's command rejects with it.
    if (!fc.mapped) throw new RevokedError(`${this.#ph.agent}: performance fast channels`);
    for (const signal of this.#signals) signal.throwIfAborted();
    return fc;
  }

  /** The protocol version in use (major 31:16, minor 15:0). */
  public get version(): number {
    return this.#ph.version;
  }

  /** Where {@link PerformanceProtocol.version} comes from. */
  public get versionSource(): ProtocolVersionSource {
    return this.#ph.versionSource;
  }

  /**
   * Subscribes `handler` to PERFORMANCE_LIMITS_CHANGED, decoded
   * ({@link decodePerformanceLimitsChanged}) with each bound's frequency, as Linux's
   * `scmi_perf_limits_report` carries it (`range_max_freq`, `range_min_freq`: see
   * {@link PerformanceProtocol.frequencyOf}; in level indexing mode the bounds are indices).
   * `options.source` is a domain id (every domain that announces the notification when omitted),
   * `options.signal` ends the subscription. Resolves to the function that ends it.
   *
   * @throws (rejects) as `agent.events.subscribe` (`E_NOT_SUPPORTED`, nothing sent, for a domain
   * that does not announce the notification or without a P2A channel; ScmiError `E_ARGUMENT` for
   * a source that is not a domain, or `handler` not a function).
   * @example
   * ```ts
   * await perf.onLimitsChanged((e) => console.log(e.domainId, e.rangeMinHz, e.rangeMaxHz));
   * ```
   */
  public onLimitsChanged(
    handler: ProtocolEventHandler<PerformanceLimitsReport>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      PERFORMANCE_LIMITS_CHANGED,
      (n): PerformanceLimitsReport => {
        const e = decodePerformanceLimitsChanged(n.payload);
        const max = this.#reportedHz(e.domainId, e.rangeMax);
        const min = this.#reportedHz(e.domainId, e.rangeMin);
        // Linux's scmi_perf_fill_custom_report: "Report translated freqs ONLY if both available".
        const both = max !== undefined && min !== undefined;
        return {
          ...e,
          rangeMaxHz: both ? max : undefined,
          rangeMinHz: both ? min : undefined,
        };
      },
      handler,
      options,
      'onLimitsChanged',
    );
  }

  /**
   * Subscribes `handler` to PERFORMANCE_LEVEL_CHANGED, decoded
   * ({@link decodePerformanceLevelChanged}) with the level's frequency, as Linux's
   * `scmi_perf_level_report` carries it (`freq`; in level indexing mode `level` is an index). As
   * {@link PerformanceProtocol.onLimitsChanged} otherwise.
   *
   * @example
   * ```ts
   * await perf.onLevelChanged((e) => console.log(e.domainId, e.level, e.frequencyHz), {
   *   source: 0,
   * });
   * ```
   */
  public onLevelChanged(
    handler: ProtocolEventHandler<PerformanceLevelReport>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      PERFORMANCE_LEVEL_CHANGED,
      (n): PerformanceLevelReport => {
        const e = decodePerformanceLevelChanged(n.payload);
        return { ...e, frequencyHz: this.#reportedHz(e.domainId, e.level) };
      },
      handler,
      options,
      'onLevelChanged',
    );
  }

  /**
   * The frequency of a level a notification reports ({@link PerformanceProtocol.frequencyOf}), or
   * undefined for one the platform did not describe — a domain included (the hub delivers only
   * notifications about a domain id PROTOCOL_ATTRIBUTES announced).
   */
  #reportedHz(domainId: number, wire: number): number | undefined {
    return this.domains.failures.has(domainId) ? undefined : this.frequencyOf(domainId, wire);
  }

  /**
   * This client with `options` applied to every command its methods send: `timeoutMs` bounds
   * each command's response instead of the agent's `rxTimeoutMs`, and `signal` gives the
   * commands in flight up when it fires (see {@link CallOptions}). The view shares everything
   * else with this client (its domains, its state, its channel); calls on this client itself are
   * unchanged. A view of a view keeps the signals of both and the newer timeout. A command that
   * goes through a fast channel waits for nothing (no timeout applies); a signal that fired
   * already makes it reject with its reason, the channel not touched.
   *
   * @throws ScmiError `E_ARGUMENT` for options that are not an object, hold a key
   * {@link CallOptions} does not have, a `timeoutMs` that is not a positive number or a `signal`
   * that is not an `AbortSignal` (see {@link ProtocolHandle.withCallOptions}).
   * @example
   * ```ts
   * const controller = new AbortController();
   * process.once('SIGINT', () => controller.abort(new Error('interrupted')));
   * const perf = agent.protocol(performanceProtocolDriver).withCallOptions({
   *   timeoutMs: 200,
   *   signal: controller.signal,
   * });
   * console.log(await perf.getLevel(0));
   * ```
   */
  public withCallOptions(options: CallOptions): PerformanceProtocol {
    // The handle's view checks the options first (E_ARGUMENT).
    const ph = this.#ph.withCallOptions(options);
    const { signal } = options;
    return new PerformanceProtocol(
      ph,
      this.attributes,
      this.domains,
      this.#notifyChecks,
      this.#fast,
      this.#useFast,
      signal === undefined ? this.#signals : [...this.#signals, signal],
    );
  }

  /**
   * PERF_LIMITS_SET: domain `id` may run from level `min` to level `max` — `max` first, as on the
   * wire (range_max, range_min) and in Linux's `limits_set(ph, domain, max_perf, min_perf)`;
   * swapped, the platform answers INVALID_PARAMETERS by message (min above max). A limit of 0 leaves that
   * limit as it is (version 3.0), so both 0 is refused, as Linux's `scmi_perf_limits_set` refuses
   * it (-EINVAL) from major 3 on. Sent whether or not the domain announces
   * {@link PerformanceDomainInfo.canSetLimits} — deliberately: Linux refuses it (-EOPNOTSUPP)
   * without sending when the domain does not announce it; here a test sees the platform's own
   * answer (DENIED).
   *
   * In level indexing mode each limit but 0 is sent as its level's index, as Linux's
   * `scmi_perf_limits_set` translates it.
   *
   * Through the domain's PERF_LIMITS_SET fast channel when it has one
   * ({@link PerformanceProtocol.fastChannels}): range_max then range_min are written there and
   * its doorbell rung, and the call resolves — no message, so no status: the platform checks the
   * limits when it reads the channel (Linux's fast path returns 0 too). So that a mistake is not
   * lost without a word, a limit that is not one of the domain's described levels, or min above
   * max, is refused here (`E_ARGUMENT`) before anything is written; what else the platform
   * refuses (its own limits, DENIED) is not reported.
   * {@link PerformanceProtocol.withoutFastChannels} sends the message instead.
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a domain, a limit that is
   * not an integer from 0 to 0xFFFFFFFF, both limits 0, or in level indexing mode a limit that is
   * not one of the domain's level values (Linux: -EIO), and over a fast channel a limit that is not
   * one of them or min above max (a 0 limit compared as the current one, when the domain's
   * PERF_LIMITS_GET channel tells it); `E_DOMAIN_UNAVAILABLE` for a domain the platform did not
   * describe; RevokedError after the agent's removal; by message, ScmiStatusError for an error
   * status (DENIED, INVALID_PARAMETERS for min above max, OUT_OF_RANGE…).
   */
  public async setLimits(id: number, max: number, min: number): Promise<void> {
    const info = this.domains.info(id);
    uintArg(max, 'range max');
    uintArg(min, 'range min');
    if (this.#ph.version >>> 16 >= 3 && max === 0 && min === 0) {
      throw new ScmiError(
        'E_ARGUMENT',
        'range max and range min are both 0: each 0 means "unchanged", so nothing would be set',
      );
    }
    const wireMax = max === 0 ? 0 : indexOfLevel(info, max, 'range max');
    const wireMin = min === 0 ? 0 : indexOfLevel(info, min, 'range min');
    const fc = this.#channel(id, PerformanceMessageId.LIMITS_SET);
    if (fc !== undefined) {
      // No status comes back from a fast channel: what the client can tell the platform would
      // refuse by message is refused here, so that it is not lost without a word.
      if (max !== 0) describedLevelArg(info, max, 'range max');
      if (min !== 0) describedLevelArg(info, min, 'range min');
      // A 0 limit stays as it is: compared with the current one when LIMITS_GET's channel tells it.
      const current = max === 0 || min === 0 ? this.#fastLimits(id) : undefined;
      const upper = max === 0 ? current?.max : max;
      const lower = min === 0 ? current?.min : min;
      if (upper !== undefined && lower !== undefined && lower > upper) {
        throw new ScmiError(
          'E_ARGUMENT',
          `range min ${lower} is above range max ${upper} (performance domain ${id}${max === 0 || min === 0 ? ', a 0 limit being the current one' : ''}): over a fast channel the platform's refusal (INVALID_PARAMETERS) would not be told, so it is refused here; max comes first`,
        );
      }
      fc.write(PerformanceMessageId.LIMITS_SET, [wireMax, wireMin]);
      return;
    }
    await this.#ph.xfer.transact(
      PerformanceMessageId.LIMITS_SET,
      (w) => w.u32(id).u32(wireMax).u32(wireMin),
      { txSize: 12, rxSize: 0 },
    );
  }

  /**
   * PERF_LIMITS_GET: the limits of domain `id`, as level values (in level indexing mode, the
   * levels of the indices the platform answers, as Linux's `scmi_perf_limits_get` translates
   * them). Read from the domain's PERF_LIMITS_GET fast channel when it has one: what the platform
   * last wrote there, decoded and checked as a reply.
   *
   * @throws ScmiError `E_ARGUMENT` / `E_DOMAIN_UNAVAILABLE` (nothing sent) as
   * {@link PerformanceProtocol.setLimits}; ScmiStatusError for an error status;
   * ScmiMalformedError `E_TRUNCATED` for a reply shorter than its two limits, `E_LEVEL_INDEX`
   * (counted) in level indexing mode for an index none of the described levels has (Linux: -EIO).
   */
  public async getLimits(id: number): Promise<PerformanceLimits> {
    const info = this.domains.info(id);
    const returns = await this.#getReturns(id, PerformanceMessageId.LIMITS_GET, 2);
    return this.#ph.xfer.decode(returns, (r) => {
      const max = r.u32();
      const min = r.u32();
      return {
        max: levelOfWire(info, max, 'PERF_LIMITS_GET range max'),
        min: levelOfWire(info, min, 'PERF_LIMITS_GET range min'),
      };
    });
  }

  /**
   * PERF_LEVEL_SET: domain `id` runs at `level` (a level value, not an index; in level indexing
   * mode its level's index is sent, as Linux's `scmi_perf_level_set` translates it). Sent whether
   * or not the domain announces {@link PerformanceDomainInfo.canSetLevel} — deliberately, as
   * {@link PerformanceProtocol.setLimits} (Linux refuses it, -EOPNOTSUPP, without sending).
   * Through the domain's PERF_LEVEL_SET fast channel when it has one, as
   * {@link PerformanceProtocol.setLimits}: written, rung, resolved, no status — a level that is not
   * one of the domain's described levels refused here first (`E_ARGUMENT`).
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a domain, a level that
   * is not an integer from 0 to 0xFFFFFFFF, or in level indexing mode not one of the domain's
   * level values (Linux: -EIO), and over a fast channel a level that is not one of them, or 0 (a
   * polling platform takes it as "nothing asked"); `E_DOMAIN_UNAVAILABLE`; RevokedError after the
   * agent's removal; by message, ScmiStatusError for an error status (DENIED, OUT_OF_RANGE for a
   * level outside the limits…). Over a fast channel a level outside the limits is not reported:
   * only the platform knows them.
   */
  public async setLevel(id: number, level: number): Promise<void> {
    const info = this.domains.info(id);
    uintArg(level, 'performance level');
    await this.#sendLevel(id, indexOfLevel(info, level, 'performance level'));
  }

  /**
   * PERF_LEVEL_GET: the current level of domain `id`, as a level value (in level indexing mode,
   * the level of the index the platform answers). Read from the domain's PERF_LEVEL_GET fast
   * channel when it has one, as {@link PerformanceProtocol.getLimits}.
   *
   * @throws as {@link PerformanceProtocol.getLimits} (a reply shorter than 4 bytes:
   * `E_TRUNCATED`; an index no level has: `E_LEVEL_INDEX`).
   */
  public async getLevel(id: number): Promise<number> {
    return (await this.#currentLevel(id)).value;
  }

  /**
   * The level of domain `id` whose index is `index` (level indexing mode): what a
   * PERFORMANCE_LEVEL_CHANGED or PERFORMANCE_LIMITS_CHANGED notification of such a domain means,
   * its levels being indices on the wire. From the levels read at init, nothing sent; `undefined`
   * when no described level has that index, or the domain is not in level indexing mode.
   *
   * @throws ScmiError `E_ARGUMENT` for an id that is not a domain; `E_DOMAIN_UNAVAILABLE` for a
   * domain the platform did not describe.
   * @example
   * ```ts
   * await agent.events.subscribe({ protocolId: 0x13, eventId: PERFORMANCE_LEVEL_CHANGED }, (n) => {
   *   const { domainId, level } = decodePerformanceLevelChanged(n.payload);
   *   const value = perf.domains.info(domainId).levelIndexing
   *     ? perf.levelOfIndex(domainId, level)?.value
   *     : level;
   *   console.log(`domain ${domainId} at level ${value}`);
   * });
   * ```
   */
  public levelOfIndex(id: number, index: number): PerformanceLevel | undefined {
    const info = this.domains.info(id);
    return info.levelIndexing ? describedLevel(info, index) : undefined;
  }

  /**
   * The frequency in Hz of a level of domain `id` as the platform sends it — a notification's
   * `level`, `rangeMax` or `rangeMin`: a level value, or in level indexing mode an index — as
   * Linux's `scmi_perf_xlate_opp_to_freq` reports it in its notification reports (value ×
   * `multFactor`, or the indexed level's indicative frequency × `multFactor`). From the levels
   * read at init, nothing sent; `undefined` when no described level is `wire` (Linux: -ENODEV).
   *
   * @throws ScmiError `E_ARGUMENT` for an id that is not a domain; `E_DOMAIN_UNAVAILABLE` for a
   * domain the platform did not describe.
   * @example
   * ```ts
   * await agent.events.subscribe({ protocolId: 0x13, eventId: PERFORMANCE_LEVEL_CHANGED }, (n) => {
   *   const { domainId, level } = decodePerformanceLevelChanged(n.payload);
   *   console.log(`domain ${domainId} at ${perf.frequencyOf(domainId, level) ?? '?'} Hz`);
   * });
   * ```
   */
  public frequencyOf(id: number, wire: number): number | undefined {
    const info = this.domains.info(id);
    const level = describedLevel(info, wire);
    return level === undefined ? undefined : levelHz(info, level, info.multFactor);
  }

  /**
   * The current frequency of domain `id` in Hz: PERF_LEVEL_GET × the domain's `multFactor`
   * (Linux's `scmi_dvfs_freq_get`); in level indexing mode the current level's indicative
   * frequency × `multFactor`. Exact while the product is below 2^53.
   *
   * @throws ScmiError `E_NOT_SUPPORTED` (nothing sent) for a domain whose `multFactor` is 0;
   * otherwise as {@link PerformanceProtocol.getLevel}.
   */
  public async getFrequency(id: number): Promise<number> {
    const multFactor = this.#multFactor(id);
    return levelHz(this.domains.info(id), await this.#currentLevel(id), multFactor);
  }

  /**
   * Sets domain `id` to the level `frequencyHz / multFactor` (rounded down) with PERF_LEVEL_SET,
   * as Linux's `scmi_dvfs_freq_set` does; the platform refuses a level that is not one of the
   * domain's (OUT_OF_RANGE). In level indexing mode, to the level whose indicative frequency is
   * `frequencyHz / multFactor` kHz (rounded down), sent as its index — Linux looks it up so,
   * exactly; for a frequency the firmware repeats, the level with the highest value, where
   * Linux's lookup starts (its hash nodes sorted with the levels).
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a domain, a frequency that
   * is not a safe integer 0 or more, or one whose level does not fit 32 bits, or in level
   * indexing mode is no level's indicative frequency (Linux: -EIO); `E_NOT_SUPPORTED` (nothing
   * sent) for a domain whose `multFactor` is 0 (Linux would divide by zero); otherwise as
   * {@link PerformanceProtocol.setLevel}.
   */
  public async setFrequency(id: number, frequencyHz: number): Promise<void> {
    const info = this.domains.info(id);
    if (info.levelIndexing) {
      uintArg(frequencyHz, 'frequency (Hz)', Number.MAX_SAFE_INTEGER);
      const khz = Math.floor(frequencyHz / info.multFactor);
      // The highest-valued level with that frequency: Linux hashes the levels as it reads them,
      // then sorts the array the hash nodes live in, so its LOOKUP_BY_FREQ starts at the slot
      // hashed last — which the sort filled with the highest value. (Only firmware that repeats
      // a frequency tells; past a first slot that does not match, Linux's walk follows nodes the
      // sort moved.)
      const level = info.levels.findLast((l) => l.indicativeFreqKhz === khz);
      if (level?.index === undefined) {
        throw new ScmiError(
          'E_ARGUMENT',
          `performance domain ${id} (level indexing mode) has no level whose indicative frequency is ${khz} kHz`,
        );
      }
      await this.#sendLevel(id, level.index);
      return;
    }
    const multFactor = this.#multFactor(id);
    uintArg(frequencyHz, 'frequency (Hz)', Number.MAX_SAFE_INTEGER);
    const level = Math.floor(frequencyHz / multFactor);
    uintArg(level, `performance level for ${frequencyHz} Hz`);
    await this.#sendLevel(id, level);
  }

  /**
   * The first level of domain `id` (ascending) whose frequency (value × `multFactor`, or in level
   * indexing mode its indicative frequency × `multFactor`) is at or above `frequencyHz`, with its
   * power cost, from the levels read at init (nothing sent), as Linux's
   * `scmi_dvfs_est_power_get`; `undefined` when every level is below it (Linux: -EINVAL).
   * Frequencies are exact while below 2^53.
   *
   * @throws ScmiError `E_ARGUMENT` for an id that is not a domain or a frequency that is not a
   * safe integer 0 or more; `E_DOMAIN_UNAVAILABLE` for a domain the platform did not describe;
   * `E_NOT_SUPPORTED` for a domain whose `multFactor` is 0 (every level would be 0 Hz: Linux
   * answers the first level for 0 Hz, refused here as by the other frequency helpers).
   */
  public estimatePower(id: number, frequencyHz: number): PerformancePowerEstimate | undefined {
    const info = this.domains.info(id);
    const multFactor = this.#multFactor(id);
    uintArg(frequencyHz, 'frequency (Hz)', Number.MAX_SAFE_INTEGER);
    for (const level of info.levels) {
      // Linux's scmi_dvfs_est_power_get: the indicative frequency in level indexing mode.
      const hz = levelHz(info, level, multFactor);
      if (hz >= frequencyHz) return { frequencyHz: hz, powerCost: level.powerCost };
    }
    return undefined;
  }

  /**
   * The transition latency of domain `id` in µs: its highest level's (Linux's
   * `scmi_dvfs_transition_latency_get`, which gives it in ns); `undefined` for a domain without
   * levels (Linux would read before its table).
   *
   * @throws ScmiError `E_ARGUMENT` / `E_DOMAIN_UNAVAILABLE` as
   * {@link PerformanceProtocol.estimatePower}.
   */
  public transitionLatencyUs(id: number): number | undefined {
    const { levels } = this.domains.info(id);
    return levels[levels.length - 1]?.latencyUs;
  }

  /**
   * PERF_NOTIFY_LIMITS: asks the platform to send (or stop sending) PERFORMANCE_LIMITS_CHANGED for
   * domain `id`. Subscribing through `agent.events` sends it for you; this is the raw command,
   * which goes around the hub: disabling here what a subscription holds silences it.
   *
   * @throws ScmiError `E_ARGUMENT` / `E_DOMAIN_UNAVAILABLE` (nothing sent); ScmiStatusError for an
   * error status.
   */
  public async notifyLimits(id: number, enable: boolean): Promise<void> {
    await this.#notify(PerformanceMessageId.NOTIFY_LIMITS, id, enable);
  }

  /**
   * PERF_NOTIFY_LEVEL: asks the platform to send (or stop sending) PERFORMANCE_LEVEL_CHANGED for
   * domain `id`. Subscribing through `agent.events` sends it for you; this is the raw command,
   * which goes around the hub: disabling here what a subscription holds silences it.
   *
   * @throws as {@link PerformanceProtocol.notifyLimits}.
   */
  public async notifyLevel(id: number, enable: boolean): Promise<void> {
    await this.#notify(PerformanceMessageId.NOTIFY_LEVEL, id, enable);
  }

  /**
   * PERF_DESCRIBE_FASTCHANNEL: the fast channel of domain `id` for command `messageId`
   * (PERF_LEVEL_SET / _GET, PERF_LIMITS_SET / _GET), asked now: the description alone, nothing
   * mapped or changed (the channels the client uses were set up at init, see
   * {@link PerformanceProtocol.fastChannels}). Sent whatever the domain announces, so a test can
   * see the platform's answer: one without fast channels answers NOT_SUPPORTED, thrown as it
   * came. The doorbell fields are read only when attributes bit 0 announces a doorbell.
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a domain or a message id
   * that is not an integer from 0 to 0xFFFFFFFF; `E_DOMAIN_UNAVAILABLE`; ScmiStatusError for an
   * error status (NOT_SUPPORTED, NOT_FOUND…); ScmiMalformedError `E_TRUNCATED` for a reply
   * shorter than its fields.
   */
  public async describeFastChannel(id: number, messageId: number): Promise<PerformanceFastChannel> {
    this.domains.info(id);
    uintArg(messageId, 'message id');
    return describeFastChannel(this.#ph, id, messageId);
  }

  /** The domain's multFactor, refusing one of 0 (nothing sent). */
  #multFactor(id: number): number {
    const { multFactor } = this.domains.info(id);
    if (multFactor === 0) {
      throw new ScmiError(
        'E_NOT_SUPPORTED',
        `performance domain ${id}: its sustained frequency is below its sustained level in Hz (multFactor 0), so levels cannot be told as frequencies`,
      );
    }
    return multFactor;
  }

  /**
   * The `words` return values of PERF_LEVEL_GET or PERF_LIMITS_GET (`messageId`) for domain `id`:
   * read from the domain's fast channel for it when it has one, else the command's reply.
   */
  async #getReturns(id: number, messageId: number, words: number): Promise<Uint8Array> {
    const fc = this.#channel(id, messageId);
    if (fc !== undefined) return fc.read(messageId, words);
    return this.#ph.xfer.transact(messageId, (w) => w.u32(id), { txSize: 4, rxSize: 4 * words });
  }

  /** PERF_LEVEL_GET: domain `id`'s current level (from its index, in level indexing mode). */
  async #currentLevel(
    id: number,
  ): Promise<{ readonly value: number; readonly indicativeFreqKhz?: number }> {
    const info = this.domains.info(id);
    const returns = await this.#getReturns(id, PerformanceMessageId.LEVEL_GET, 1);
    return this.#ph.xfer.decode(returns, (r) => {
      const wire = r.u32();
      return info.levelIndexing ? indexedLevel(info, wire, 'PERF_LEVEL_GET') : { value: wire };
    });
  }

  /**
   * The limits of domain `id` as its PERF_LIMITS_GET fast channel tells them (level values), or
   * undefined when it has none or they do not decode (an index no level has): read, not sent.
   */
  #fastLimits(id: number): PerformanceLimits | undefined {
    const fc = this.#fast.get(id);
    if (fc?.has(PerformanceMessageId.LIMITS_GET) !== true) return undefined;
    const info = this.domains.info(id);
    const [max, min] = fc.words(PerformanceMessageId.LIMITS_GET, 2);
    const levelOf = (wire: number): number | undefined =>
      info.levelIndexing ? describedLevel(info, wire)?.value : wire;
    const upper = levelOf(max ?? 0);
    const lower = levelOf(min ?? 0);
    return upper === undefined || lower === undefined ? undefined : { max: upper, min: lower };
  }

  /**
   * PERF_LEVEL_SET of `level` as the wire has it (an index in level indexing mode), through the
   * domain's fast channel when it has one — after refusing there what no status would tell: a
   * value that is not one of the domain's levels (an index is one already), and 0, which a
   * polling platform takes as "nothing asked" (SCP-firmware's `tlevel > 0`).
   */
  async #sendLevel(id: number, level: number): Promise<void> {
    const fc = this.#channel(id, PerformanceMessageId.LEVEL_SET);
    if (fc !== undefined) {
      const info = this.domains.info(id);
      if (!info.levelIndexing) describedLevelArg(info, level, 'performance level');
      if (level === 0) {
        throw new ScmiError(
          'E_ARGUMENT',
          `performance level 0 (performance domain ${id}) cannot be asked for over a fast channel: a polling platform takes 0 as "nothing asked" (SCP-firmware's tlevel > 0); send it by message (withoutFastChannels)`,
        );
      }
      fc.write(PerformanceMessageId.LEVEL_SET, [level]);
      return;
    }
    await this.#ph.xfer.transact(PerformanceMessageId.LEVEL_SET, (w) => w.u32(id).u32(level), {
      txSize: 8,
      rxSize: 0,
    });
  }

  async #notify(messageId: number, id: number, enable: boolean): Promise<void> {
    await sendNotify(this.#ph, this.domains, messageId, id, enable);
  }
}

/**
 * The Performance domain protocol driver: bind it to core's `PROTOCOL_DRIVER` (or load
 * `protocolsModule`), and `agent.protocol(performanceProtocolDriver)` is the
 * {@link PerformanceProtocol}. Version 4.0, as Linux's `perf.c` (level indexing mode, five-word
 * levels; 3.0's extended names and "0 = unchanged" limits). PERFORMANCE_LIMITS_CHANGED (16-byte payload) and PERFORMANCE_LEVEL_CHANGED (12-byte
 * payload) are registered with the agent's notification hub, one source per domain.
 *
 * @example
 * ```ts
 * container.load(new ContainerModule(({ bind }) => {
 *   bind(PROTOCOL_DRIVER).toConstantValue(performanceProtocolDriver);
 * }));
 * const agent = await createAgent(container, options);
 * await agent.protocol(performanceProtocolDriver).setLevel(0, 800_000);
 * ```
 */
export const performanceProtocolDriver: ProtocolDriver<PerformanceProtocol> = {
  protocolId: ScmiProtocolId.PERF,
  name: 'performance',
  version: 0x40000,
  messageNames: PerformanceMessageId,
  async init(ph) {
    const perf = await PerformanceProtocol.create(ph);
    ph.registerEvents([
      perDomainEvent({
        id: PERFORMANCE_LIMITS_CHANGED,
        name: 'performance-limits-changed',
        payload: LIMITS_PAYLOAD,
        domains: perf.domains,
        what: 'performance domain',
        supported: (d) => d.limitsNotify,
        send: (id, enable) => perf.notifyLimits(id, enable),
        checkFailure: checkFailureOf(
          perf.notifyCheckErrors,
          PerformanceMessageId.NOTIFY_LIMITS,
          'PERFORMANCE_NOTIFY_LIMITS',
        ),
      }),
      perDomainEvent({
        id: PERFORMANCE_LEVEL_CHANGED,
        name: 'performance-level-changed',
        payload: LEVEL_PAYLOAD,
        domains: perf.domains,
        what: 'performance domain',
        supported: (d) => d.levelNotify,
        send: (id, enable) => perf.notifyLevel(id, enable),
        checkFailure: checkFailureOf(
          perf.notifyCheckErrors,
          PerformanceMessageId.NOTIFY_LEVEL,
          'PERFORMANCE_NOTIFY_LEVEL',
        ),
      }),
    ]);
    return perf;
  },
};
