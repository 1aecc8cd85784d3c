import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import type { PerformanceDomainConfig } from '../../config/platform-config.js';
import type { AgentSession } from '../../platform/agent-session.js';
import {
  concat,
  domainCheck,
  extendedName,
  fail,
  needsExtendedName,
  notifyCommand,
  ok,
  shortName,
  words,
  wordsOf,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
  type ProtocolServer,
  type Reply,
} from '../protocol-server.js';
import { FastChannelMemory } from './fast-channel-memory.js';
import {
  PERF_FAST_CHANNEL_LEVEL_GET_OFFSET,
  PERF_FAST_CHANNEL_LEVEL_SET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_GET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_SET_OFFSET,
  PERF_FAST_CHANNEL_SLOT_SIZE,
} from './performance-fast-channel-layout.js';
import { PerformanceMessageId, PerformanceNotificationId } from './performance-message-id.js';

interface PerfState {
  level: number;
  min: number;
  max: number;
}

const LEVEL_ENTRY = 12;
/** A PERF_DESCRIBE_LEVELS entry from version 4.0: … indicative_freq, level_index. */
const LEVEL_ENTRY_V4 = 20;
/** PERF_DOMAIN_ATTRIBUTES flags bit 25: level indexing mode (version 4.0). */
const LEVEL_INDEXING = 1 << 25;
/**
 * Payload of PERFORMANCE_LIMITS_CHANGED as posted (see `#setLimits`): agent_id, domain_id,
 * range_max, range_min.
 */
const LIMITS_NOTIFICATION = 16;
/** Payload of PERFORMANCE_LEVEL_CHANGED as posted (see `#apply`): agent_id, domain_id, level. */
const LEVEL_NOTIFICATION = 12;

/** What a wire level that names no level stands for: not a level value (refused OUT_OF_RANGE). */
const NO_LEVEL = -1;

const SUCCESS: number = ScmiStatus.SUCCESS;

/** PERF_DOMAIN_ATTRIBUTES flags bit 27: the domain has fast channels. */
const FAST_CHANNELS = 1 << 27;
/** PROTOCOL_MESSAGE_ATTRIBUTES bit 0 of LIMITS_SET/GET, LEVEL_SET/GET: fast channels exist. */
const MSG_SUPPORTS_FASTCHANNEL = 1;
/**
 * The agent_id of a notification about a change made through a fast channel: 0, the platform's
 * own id, as no agent is known to have written the channel (the memory has no sender).
 */
const FAST_CHANNEL_CAUSE = 0;
/**
 * As SCP-firmware's MOD_SCMI_PERF_COMMAND_COUNT: one past the last Performance command implemented
 * — here DOMAIN_NAME_GET, 0xC, which SCP-firmware does not implement (its count is 0xC, so it
 * answers NOT_FOUND for 0xC where this platform answers NOT_SUPPORTED). PERF_DESCRIBE_FASTCHANNEL
 * answers NOT_FOUND for a message id from it.
 */
const PERF_COMMAND_COUNT = PerformanceMessageId.DOMAIN_NAME_GET + 1;

/** Where a message's fast channel is in a domain's slot, and its chan_size. */
interface ChannelPlace {
  readonly offset: number;
  readonly size: number;
}

/**
 * The messages that have a fast channel (SCP-firmware `scmi_perf_fastchannels.c`,
 * `fast_channel_elem_size`): a level is one u32, limits are range_max and range_min.
 */
const CHANNELS: ReadonlyMap<number, ChannelPlace> = new Map([
  [PerformanceMessageId.LIMITS_SET, { offset: PERF_FAST_CHANNEL_LIMITS_SET_OFFSET, size: 8 }],
  [PerformanceMessageId.LIMITS_GET, { offset: PERF_FAST_CHANNEL_LIMITS_GET_OFFSET, size: 8 }],
  [PerformanceMessageId.LEVEL_SET, { offset: PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, size: 4 }],
  [PerformanceMessageId.LEVEL_GET, { offset: PERF_FAST_CHANNEL_LEVEL_GET_OFFSET, size: 4 }],
]);

/** The fast channels of one domain. */
interface FastChannelSlot {
  /** The domain id. */
  readonly id: number;
  /** Byte offset of the domain's slot in the memory. */
  readonly at: number;
  /**
   * The last LEVEL_SET word refused, until the channel holds another or it is accepted: a value
   * left in the channel is counted once, not at every poll.
   */
  refusedLevel: number | undefined;
  /** The last LIMITS_SET words refused (range_max, range_min), likewise. */
  refusedLimits: readonly [number, number] | undefined;
}

/** Whether domain `d` speaks level indices to an agent at `version`. */
function indexed(version: number, d: PerformanceDomainConfig): boolean {
  return version >= 0x40000 && d.levelIndexing === true;
}

/** The level of domain `d` whose index is `index`, if any. */
function levelOfIndex(
  d: PerformanceDomainConfig,
  index: number,
): PerformanceDomainConfig['levels'][number] | undefined {
  return d.levels.find((l) => l.index === index);
}

/** Level value `value` of domain `d` on the wire at `version`: the value, or its level's index. */
function wireLevel(version: number, d: PerformanceDomainConfig, value: number): number {
  if (!indexed(version, d)) return value;
  return d.levels.find((l) => l.value === value)?.index ?? 0;
}

/**
 * Performance domain protocol (0x13), version 3.0 or 4.0 (`performanceVersion`), with fast
 * channels for the domains that ask for them (`fastChannels`, in `performanceFastChannels.memory`;
 * see {@link PerformanceProtocol.start}). At 4.0 levels are described in five words (indicative
 * frequency, level index), and a domain in level indexing mode takes and gives level indices
 * instead of values — in PERF_LEVEL_SET/GET, PERF_LIMITS_SET/GET and both notifications — to an
 * agent at 4.0; one that negotiated 3.0 is answered in 3.0's layouts and values (the state is
 * kept as values either way). Limits narrow the allowed levels and pull the current level inside
 * them; PERF_LIMITS_SET takes a zero limit as "unchanged" (SCMI v3.1, as Linux sends it) and
 * answers both zero OUT_OF_RANGE (DEN0056 §4.5.3.7), unless the domain has a level 0 (not in
 * level indexing mode), and answers OUT_OF_RANGE to a limit that is not one of the domain's
 * levels (as SCP-firmware).
 *
 * Fast channels follow SCP-firmware (`module/scmi_perf/src/scmi_perf_fastchannels.c`): polled
 * every `rateLimitUs`, a LEVEL_SET word other than 0 and a LIMITS_SET pair other than (0, 0) are
 * applied as PERF_LEVEL_SET and PERF_LIMITS_SET are, with the same checks, and left in place (read
 * again at every poll: the same value again changes nothing); a value refused is ignored and
 * counted (`fastChannelRejected`, once per value written). A change made so is notified as a
 * command's is, with agent_id 0: no agent is known to have written the channel. Every change of
 * a fast-channel domain's level or limits, whatever made it, is written to LEVEL_GET and
 * LIMITS_GET. The words carry level indices in level indexing mode at the platform's version (one
 * memory for every agent: an agent that negotiated 3.0 cannot be given values there). @internal
 */
export class PerformanceProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.PERF;
  public readonly version: number;
  public readonly olderVersions: readonly number[];
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #domains: readonly PerformanceDomainConfig[];
  readonly #state: PerfState[];
  /** The fast channels' memory, when configured. */
  readonly #memory: FastChannelMemory | undefined;
  /** The fast channels of each domain that has them, by domain id. */
  readonly #slots: readonly (FastChannelSlot | undefined)[];
  /** PERF_DESCRIBE_FASTCHANNEL rate_limit, and the polling period, in µs. */
  readonly #rateLimitUs: number;
  /** The agent's address of byte 0 of the memory. */
  readonly #base: bigint;
  /** Whether the polling timer was armed (see {@link PerformanceProtocol.polling}). */
  #polling = false;

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.version = services.config.performanceVersion ?? 0x30000;
    this.olderVersions = this.version >= 0x40000 ? [0x30000] : [];
    this.#domains = services.config.performanceDomains ?? [];
    this.#state = this.#domains.map((d) => {
      const values = d.levels.map((l) => l.value);
      const top = values[values.length - 1] as number;
      return {
        level: d.level ?? top,
        min: d.limits?.min ?? (values[0] as number),
        max: d.limits?.max ?? top,
      };
    });
    const fast = services.config.performanceFastChannels;
    this.#memory = fast === undefined ? undefined : new FastChannelMemory(fast.memory);
    this.#base = fast?.base ?? 0n;
    this.#rateLimitUs = fast?.rateLimitUs ?? 0;
    this.#slots = this.#domains.map((d, id) =>
      fast !== undefined && d.fastChannels === true
        ? {
            id,
            at: id * PERF_FAST_CHANNEL_SLOT_SIZE,
            refusedLevel: undefined,
            refusedLimits: undefined,
          }
        : undefined,
    );
    // SCP-firmware's perf_fch_prot_msg_attributes_has_fastchannels; Linux describes a message's
    // fast channel only when this bit is set (scmi_common_fastchannel_init,
    // MSG_SUPPORTS_FASTCHANNEL).
    const fc = this.#slots.some((c) => c !== undefined) ? MSG_SUPPORTS_FASTCHANNEL : 0;
    const count = (): number => this.#domains.length;
    this.messages = new Map<number, MessageHandler>([
      [PerformanceMessageId.DOMAIN_ATTRIBUTES, { size: 4, run: (req) => this.#attributes(req) }],
      [PerformanceMessageId.DESCRIBE_LEVELS, { size: 8, run: (req) => this.#describe(req) }],
      [
        PerformanceMessageId.LIMITS_SET,
        { size: 12, attributes: fc, run: (req) => this.#setLimits(req) },
      ],
      [
        PerformanceMessageId.LIMITS_GET,
        { size: 4, attributes: fc, run: (req) => this.#getLimits(req) },
      ],
      [
        PerformanceMessageId.LEVEL_SET,
        { size: 8, attributes: fc, run: (req) => this.#setLevel(req) },
      ],
      [
        PerformanceMessageId.LEVEL_GET,
        { size: 4, attributes: fc, run: (req) => this.#getLevel(req) },
      ],
      [
        PerformanceMessageId.NOTIFY_LIMITS,
        notifyCommand(
          services,
          this.id,
          PerformanceNotificationId.LIMITS_CHANGED,
          LIMITS_NOTIFICATION,
          'performance',
          count,
        ),
      ],
      [
        PerformanceMessageId.NOTIFY_LEVEL,
        notifyCommand(
          services,
          this.id,
          PerformanceNotificationId.LEVEL_CHANGED,
          LEVEL_NOTIFICATION,
          'performance',
          count,
        ),
      ],
      [
        PerformanceMessageId.DESCRIBE_FASTCHANNEL,
        { size: 8, run: (req) => this.#describeFastChannel(req) },
      ],
      [PerformanceMessageId.DOMAIN_NAME_GET, { size: 4, run: (req) => this.#name(req) }],
    ]);
  }

  /**
   * Starts the fast channels, as the platform starts (SCP-firmware `perf_fch_start`): zeroes
   * every LEVEL_SET and LIMITS_SET word (`initialize_fch_channels`), writes the current level and
   * limits to LEVEL_GET and LIMITS_GET (where SCP-firmware zeroes them too, or with its plugin
   * handler writes the sustained level and the extreme limits: here an agent reads the true state
   * from the start), and arms the polling timer, a platform timer that `close` cancels. Nothing
   * when no domain has fast channels. Called once, when the platform is built.
   */
  public start(): void {
    const m = this.#memory;
    if (m === undefined) return;
    let any = false;
    for (const c of this.#slots) {
      if (c === undefined) continue;
      any = true;
      m.write(c.at + PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, 0);
      m.write(c.at + PERF_FAST_CHANNEL_LIMITS_SET_OFFSET, 0);
      m.write(c.at + PERF_FAST_CHANNEL_LIMITS_SET_OFFSET + 4, 0);
      this.#publish(c.id);
    }
    if (any) {
      this.#armPoll();
      this.#polling = true;
    }
  }

  /** Whether the fast channels' polling timer is armed (started, and the platform not closed). */
  public get polling(): boolean {
    return this.#polling && !this.#p.closed;
  }

  /** Level and limits of every domain. */
  public states(): readonly Readonly<PerfState>[] {
    return this.#state.map((s) => ({ ...s }));
  }

  public attributes(): Reply {
    const mw = this.#p.config.performancePowerInMilliwatts !== false ? 1 : 0;
    return ok(words((this.#domains.length & 0xffff) | (mw << 16), 0, 0, 0));
  }

  #domain(req: PlatformRequest, use: boolean): [number, PerformanceDomainConfig] | Reply {
    const id = req.r.u32();
    const bad = domainCheck(this.#p, req, 'performance', id, this.#domains.length, use);
    return bad ?? [id, this.#domains[id] as PerformanceDomainConfig];
  }

  #attributes(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    const [id, d] = found;
    const p2a = req.link.p2a;
    // Bits 29 (limits changed) and 28 (level changed notifications): only on a link the
    // notification fits; elsewhere PERF_NOTIFY_LIMITS / PERF_NOTIFY_LEVEL answer NOT_SUPPORTED
    // (see notifyCommand).
    const flags =
      (d.canSetLimits !== false ? 1 << 31 : 0) |
      (d.canSetLevel !== false ? 1 << 30 : 0) |
      (p2a && this.#p.notificationFits(req, LIMITS_NOTIFICATION) ? 1 << 29 : 0) |
      (p2a && this.#p.notificationFits(req, LEVEL_NOTIFICATION) ? 1 << 28 : 0) |
      (this.#slotFor(req, id) !== undefined ? FAST_CHANNELS : 0) |
      (needsExtendedName(d.name) ? 1 << 26 : 0) |
      (indexed(req.version, d) ? LEVEL_INDEXING : 0);
    const top = d.levels[d.levels.length - 1]?.value ?? 0;
    return ok(
      concat(
        words(flags, d.rateLimitUs ?? 0, d.sustainedFreqKhz ?? 0, d.sustainedLevel ?? top),
        shortName(d.name),
      ),
    );
  }

  #describe(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    const [, d] = found;
    const index = req.r.u32();
    // From the end on, as SCP-firmware (`level_index >= opp_count`, scmi_perf_protocol_ops.c) and
    // OP-TEE (perf_domain.c) answer.
    if (index >= d.levels.length) return fail(ScmiStatus.INVALID_PARAMETERS);
    const left = d.levels.length - index;
    // num_levels: bits 11:0 the levels returned, 15:12 reserved (must be zero), 31:16 the levels
    // remaining (SCMI PERFORMANCE_DESCRIBE_LEVELS; EDK2 reads the count through NUM_PERF_LEVELS_MASK
    // 0x0FFF, ArmScmiPerformanceProtocolPrivate.h). A link large enough for more than 0xfff entries
    // still gets 0xfff, the rest in the next parts, as the clock and sensor lists cap theirs.
    const v4 = req.version >= 0x40000;
    const n = Math.min(
      left,
      this.#p.fit(req, 4, v4 ? LEVEL_ENTRY_V4 : LEVEL_ENTRY),
      this.#p.behaviour.multiPartMax,
      0xfff,
    );
    // Words filled in place, not spread into `words(...)`: thousands of entries as arguments can
    // overflow the call stack (see wordsOf).
    const out = [n | ((left - n) << 16)];
    for (const l of d.levels.slice(index, index + n)) {
      out.push(l.value, l.powerCost, l.latencyUs & 0xffff);
      // Version 4.0: indicative_freq, level_index (0 outside level indexing mode, where it has
      // no meaning; Linux reads it in that mode only).
      if (v4) out.push(l.indicativeFreqKhz ?? 0, indexed(req.version, d) ? (l.index ?? 0) : 0);
    }
    return ok(wordsOf(out));
  }

  #setLimits(req: PlatformRequest): Reply {
    const found = this.#domain(req, true);
    if (!Array.isArray(found)) return found;
    const [id, d] = found;
    const wireMax = req.r.u32();
    const wireMin = req.r.u32();
    const status = this.#limitsSet(id, wireMax, wireMin, indexed(req.version, d), req.agent.id);
    return status === SUCCESS ? ok() : fail(status);
  }

  /**
   * Sets the limits of domain `id` as PERF_LIMITS_SET asks, from `wireMax` and `wireMin` as they
   * came (level indices when `byIndex`), for `cause` (the agent_id of the notifications): SUCCESS,
   * or the status that refuses them, nothing changed then. PERF_LIMITS_SET and the LIMITS_SET
   * fast channel both come here.
   */
  #limitsSet(
    id: number,
    wireMax: number,
    wireMin: number,
    byIndex: boolean,
    cause: number,
  ): number {
    const d = this.#domains[id] as PerformanceDomainConfig;
    if (d.canSetLimits === false) return ScmiStatus.DENIED;
    const s = this.#state[id] as PerfState;
    const values = d.levels.map((l) => l.value);
    // In level indexing mode the limits come as indices, 0 always "unchanged" (DEN0056 v3.2
    // PERF_LIMITS_SET: "If this field is set to 0, the platform ignores it", whether a level or a
    // level index; Linux translates only a non-zero limit; no level has index 0, the
    // configuration refuses it); an index no level has is as a value that is not a level.
    const zeroIsLevel = !byIndex && values[0] === 0;
    const valueOf = (wire: number): number =>
      wire === 0 && !zeroIsLevel ? 0 : byIndex ? (levelOfIndex(d, wire)?.value ?? NO_LEVEL) : wire;
    const rangeMax = valueOf(wireMax);
    const rangeMin = valueOf(wireMin);
    // SCMI v3.1: a limit of 0 leaves that limit as it is, and both 0 is OUT_OF_RANGE (DEN0056
    // §4.5.3.7, as NXP `scmi_perf.h` SCMI_PerformanceLimitsSet documents it; Linux perf.c
    // scmi_perf_limits_set refuses both zero and sends one zero as is, from perf major 3). In a
    // domain whose lowest level is 0 (the configuration allows one), 0 stays that level, as it
    // was: an agent must still be able to set a limit to it.
    const zeroUnchanged = !zeroIsLevel;
    if (zeroUnchanged && wireMax === 0 && wireMin === 0) return ScmiStatus.OUT_OF_RANGE;
    // An index no level has: as a limit that is not a level (below), before min > max.
    if (rangeMax === NO_LEVEL || rangeMin === NO_LEVEL) return ScmiStatus.OUT_OF_RANGE;
    const max = zeroUnchanged && wireMax === 0 ? s.max : rangeMax;
    const min = zeroUnchanged && wireMin === 0 ? s.min : rangeMin;
    if (min > max) return ScmiStatus.INVALID_PARAMETERS;
    // Each limit must be one of the domain's levels, as SCP-firmware requires without its
    // approximate-level option (`module/scmi_perf/src/mod_scmi_perf.c`: validate_new_limits looks
    // both up with find_opp_for_level(…, false), FWK_E_RANGE when there is no exact match, which
    // scmi_perf_limits_set_handler answers OUT_OF_RANGE): nothing changes, nothing is notified.
    // (This covers limits outside the lowest and highest level too.)
    if (!values.includes(min) || !values.includes(max)) return ScmiStatus.OUT_OF_RANGE;
    const inside = values.filter((v) => v >= min && v <= max);
    if (s.min !== min || s.max !== max) {
      s.min = min;
      s.max = max;
      this.#publish(id);
      this.#p.notify(this.id, PerformanceNotificationId.LIMITS_CHANGED, id, (agent) =>
        words(cause, id, this.#wire(agent, d, max), this.#wire(agent, d, min)),
      );
    }
    if (s.level > max) this.#apply(id, inside[inside.length - 1] as number, cause);
    else if (s.level < min) this.#apply(id, inside[0] as number, cause);
    return SUCCESS;
  }

  #getLimits(req: PlatformRequest): Reply {
    const found = this.#domain(req, true);
    if (!Array.isArray(found)) return found;
    const [id, d] = found;
    const s = this.#state[id] as PerfState;
    const v = req.version;
    return ok(words(wireLevel(v, d, s.max), wireLevel(v, d, s.min)));
  }

  #setLevel(req: PlatformRequest): Reply {
    const found = this.#domain(req, true);
    if (!Array.isArray(found)) return found;
    const [id, d] = found;
    const status = this.#levelSet(id, req.r.u32(), indexed(req.version, d), req.agent.id);
    return status === SUCCESS ? ok() : fail(status);
  }

  /**
   * Sets the level of domain `id` as PERF_LEVEL_SET asks, from `wire` as it came (a level index
   * when `byIndex`), for `cause` (the agent_id of the notification): SUCCESS, or the status that
   * refuses it, nothing changed then. PERF_LEVEL_SET and the LEVEL_SET fast channel both come here.
   */
  #levelSet(id: number, wire: number, byIndex: boolean, cause: number): number {
    const d = this.#domains[id] as PerformanceDomainConfig;
    if (d.canSetLevel === false) return ScmiStatus.DENIED;
    // An index no level has is refused as a value that is not a level (OUT_OF_RANGE).
    const level = byIndex ? (levelOfIndex(d, wire)?.value ?? NO_LEVEL) : wire;
    const s = this.#state[id] as PerfState;
    if (!d.levels.some((l) => l.value === level) || level < s.min || level > s.max) {
      return ScmiStatus.OUT_OF_RANGE;
    }
    this.#apply(id, level, cause);
    return SUCCESS;
  }

  #apply(id: number, level: number, cause: number): void {
    const s = this.#state[id] as PerfState;
    if (s.level === level) return;
    s.level = level;
    const d = this.#domains[id] as PerformanceDomainConfig;
    this.#publish(id);
    this.#p.notify(this.id, PerformanceNotificationId.LEVEL_CHANGED, id, (agent) =>
      words(cause, id, this.#wire(agent, d, level)),
    );
  }

  #getLevel(req: PlatformRequest): Reply {
    const found = this.#domain(req, true);
    if (!Array.isArray(found)) return found;
    const [id, d] = found;
    return ok(words(wireLevel(req.version, d, (this.#state[id] as PerfState).level)));
  }

  /** Level value `value` of domain `d` as `agent` is told it (its version in force). */
  #wire(agent: AgentSession, d: PerformanceDomainConfig, value: number): number {
    return wireLevel(agent.negotiatedVersion(this.id) ?? this.version, d, value);
  }

  /**
   * Domain `id`'s fast channels as `req`'s agent may be told of them: none for a domain without,
   * and none when the agent speaks the domain's levels otherwise than the channels carry them — an
   * agent that negotiated 3.0 (level values) of a domain in level indexing mode at the platform's
   * 4.0 (the channels carry indices, one memory for every agent): PERF_DOMAIN_ATTRIBUTES bit 27
   * clear and PERF_DESCRIBE_FASTCHANNEL NOT_SUPPORTED for it, so that it sends messages.
   */
  #slotFor(req: PlatformRequest, id: number): FastChannelSlot | undefined {
    const slot = this.#slots[id];
    // A domain the agent may not use: its channels are not announced (bit 27 clear), as its
    // description is DENIED — SCP-firmware's permissions handler refuses PERF_DOMAIN_ATTRIBUTES
    // too, so an agent there never sees the bit.
    if (slot === undefined || !req.agent.mayUse('performance', id)) return undefined;
    const d = this.#domains[id] as PerformanceDomainConfig;
    return indexed(req.version, d) === indexed(this.version, d) ? slot : undefined;
  }

  /**
   * PERF_DESCRIBE_FASTCHANNEL, in SCP-firmware's order of checks
   * (`module/scmi_perf/src/scmi_perf_fastchannels.c`, `perf_fch_describe_fast_channels`): an
   * unknown domain as every command's; a domain without fast channels NOT_SUPPORTED, whatever the
   * message id; then a message id past the last Performance command (0xD on) NOT_FOUND; one other
   * than LIMITS_SET/GET and LEVEL_SET/GET NOT_SUPPORTED. Arm's scmi-tests agree: `test_d023`
   * (invalid message id → NOT_FOUND) runs only on domains with a fast channel, and `test_d024`
   * expects NOT_SUPPORTED on a domain without one. Otherwise attributes 0 (no doorbell, as
   * SCP-firmware), rate_limit, chan_addr_low/high (`base` + the domain's slot + the channel's
   * offset), chan_size (4 for a level, 8 for limits), and the six doorbell words, 0: SCP-firmware
   * sends the whole `struct scmi_perf_describe_fc_p2a` (`internal/scmi_perf.h`), 48 bytes with
   * the status.
   *
   * A domain the agent may not use (its `domains` permissions) is DENIED, as every command of
   * SCP-firmware's whose first word is a domain id (`scmi_perf_permissions_handler` asks
   * `agent_has_resource_permission` for it): the channels are one memory for every agent, and an
   * agent must not learn where the level of a domain it may not use is written. (One that learnt it
   * before its permissions were taken away keeps the address: the memory has no sender.)
   */
  #describeFastChannel(req: PlatformRequest): Reply {
    const found = this.#domain(req, true);
    if (!Array.isArray(found)) return found;
    const [id] = found;
    const messageId = req.r.u32();
    const slot = this.#slotFor(req, id);
    if (slot === undefined) return fail(ScmiStatus.NOT_SUPPORTED);
    if (messageId >= PERF_COMMAND_COUNT) return fail(ScmiStatus.NOT_FOUND);
    const channel = CHANNELS.get(messageId);
    if (channel === undefined) return fail(ScmiStatus.NOT_SUPPORTED);
    const address = this.#base + BigInt(slot.at + channel.offset);
    const low = Number(address & 0xffffffffn);
    const high = Number(address >> 32n);
    return ok(words(0, this.#rateLimitUs, low, high, channel.size, 0, 0, 0, 0, 0, 0));
  }

  /**
   * Writes the level and limits of domain `id` to its LEVEL_GET and LIMITS_GET channels (SCP's
   * `perf_fch_set_fch_get_level`), as the agent reads them: level indices in level indexing mode,
   * else values. Nothing for a domain without fast channels, or once the platform is closed
   * (closing may come in the middle of a change: a link's `post` that closes the platform).
   */
  #publish(id: number): void {
    const slot = this.#slots[id];
    const m = this.#memory;
    if (slot === undefined || m === undefined || this.#p.closed) return;
    const d = this.#domains[id] as PerformanceDomainConfig;
    const s = this.#state[id] as PerfState;
    m.write(slot.at + PERF_FAST_CHANNEL_LEVEL_GET_OFFSET, wireLevel(this.version, d, s.level));
    m.write(slot.at + PERF_FAST_CHANNEL_LIMITS_GET_OFFSET, wireLevel(this.version, d, s.max));
    m.write(slot.at + PERF_FAST_CHANNEL_LIMITS_GET_OFFSET + 4, wireLevel(this.version, d, s.min));
  }

  /** Arms the next poll, `rateLimitUs` from now. */
  #armPoll(): void {
    // A background timer: on a VirtualClock, `runUntilIdle` and an auto clock do not take the
    // polling for pending work (it never ends), they fire it on their way to other timers.
    this.#p.timers.arm(
      this.#rateLimitUs / 1000,
      () => {
        this.#poll();
      },
      undefined,
      undefined,
      true,
    );
  }

  /**
   * One poll of every fast-channel domain (SCP-firmware's `perf_fch_process`), then the next one
   * armed. Reads nothing more once the platform is closed (by a link's `post` during a
   * notification), and arms nothing then. A clock that cannot arm the next poll stops the polling:
   * a throw would escape its callback.
   */
  #poll(): void {
    for (const slot of this.#slots) {
      if (slot === undefined) continue;
      this.#pollLevel(slot);
      this.#pollLimits(slot);
    }
    if (this.#p.closed) return;
    try {
      this.#armPoll();
    } catch {
      // Nothing can run the polling again; the words are left as they are.
      this.#polling = false;
    }
  }

  /**
   * Applies a LEVEL_SET word other than 0 (SCP-firmware: `tlevel > 0`), as an index in level
   * indexing mode; 0 asks for nothing.
   */
  #pollLevel(slot: FastChannelSlot): void {
    if (this.#p.closed) return;
    const m = this.#memory as FastChannelMemory;
    const wire = m.read(slot.at + PERF_FAST_CHANNEL_LEVEL_SET_OFFSET);
    if (wire === 0) {
      slot.refusedLevel = undefined;
      return;
    }
    const s = this.#state[slot.id] as PerfState;
    const before = s.level;
    const byIndex = indexed(this.version, this.#domains[slot.id] as PerformanceDomainConfig);
    if (this.#levelSet(slot.id, wire, byIndex, FAST_CHANNEL_CAUSE) !== SUCCESS) {
      if (slot.refusedLevel !== wire) this.#p.counters.fastChannelRejected++;
      slot.refusedLevel = wire;
      return;
    }
    slot.refusedLevel = undefined;
    if (s.level !== before) this.#p.counters.fastChannelApplied++;
  }

  /**
   * Applies a LIMITS_SET pair other than (0, 0) (SCP-firmware skips both 0); one limit of 0 leaves
   * that limit as it is, as in PERF_LIMITS_SET.
   */
  #pollLimits(slot: FastChannelSlot): void {
    if (this.#p.closed) return;
    const m = this.#memory as FastChannelMemory;
    const max = m.read(slot.at + PERF_FAST_CHANNEL_LIMITS_SET_OFFSET);
    const min = m.read(slot.at + PERF_FAST_CHANNEL_LIMITS_SET_OFFSET + 4);
    if (max === 0 && min === 0) {
      slot.refusedLimits = undefined;
      return;
    }
    const s = this.#state[slot.id] as PerfState;
    const [beforeMax, beforeMin] = [s.max, s.min];
    const byIndex = indexed(this.version, this.#domains[slot.id] as PerformanceDomainConfig);
    if (this.#limitsSet(slot.id, max, min, byIndex, FAST_CHANNEL_CAUSE) !== SUCCESS) {
      const last = slot.refusedLimits;
      if (last?.[0] !== max || last[1] !== min) this.#p.counters.fastChannelRejected++;
      slot.refusedLimits = [max, min];
      return;
    }
    slot.refusedLimits = undefined;
    if (s.max !== beforeMax || s.min !== beforeMin) this.#p.counters.fastChannelApplied++;
  }

  #name(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    return ok(extendedName(found[1].name));
  }
}
