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
 * Performance domain protocol (0x13), version 3.0 or 4.0 (`performanceVersion`), without fast
 * channels (PERF_DESCRIBE_FASTCHANNEL answers NOT_SUPPORTED, no message advertises one). At 4.0
 * levels are described in five words (indicative frequency, level index), and a domain in level
 * indexing mode takes and gives level indices instead of values — in PERF_LEVEL_SET/GET,
 * PERF_LIMITS_SET/GET and both notifications — to an agent at 4.0; one that negotiated 3.0 is
 * answered in 3.0's layouts and values (the state is kept as values either way). Limits narrow
 * the allowed levels and pull the current level inside them; PERF_LIMITS_SET takes a zero limit
 * as "unchanged" (SCMI v3.1, as Linux sends it) and answers both zero OUT_OF_RANGE (DEN0056
 * §4.5.3.7), unless the domain has a level 0 (not in level indexing mode), and answers
 * OUT_OF_RANGE to a limit that is not one of the domain's levels (as SCP-firmware). @internal
 */
export class PerformanceProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.PERF;
  public readonly version: number;
  public readonly olderVersions: readonly number[];
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #domains: readonly PerformanceDomainConfig[];
  readonly #state: PerfState[];

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
    const count = (): number => this.#domains.length;
    this.messages = new Map<number, MessageHandler>([
      [PerformanceMessageId.DOMAIN_ATTRIBUTES, { size: 4, run: (req) => this.#attributes(req) }],
      [PerformanceMessageId.DESCRIBE_LEVELS, { size: 8, run: (req) => this.#describe(req) }],
      [PerformanceMessageId.LIMITS_SET, { size: 12, run: (req) => this.#setLimits(req) }],
      [PerformanceMessageId.LIMITS_GET, { size: 4, run: (req) => this.#getLimits(req) }],
      [PerformanceMessageId.LEVEL_SET, { size: 8, run: (req) => this.#setLevel(req) }],
      [PerformanceMessageId.LEVEL_GET, { size: 4, run: (req) => this.#getLevel(req) }],
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
    const [, d] = found;
    const p2a = req.link.p2a;
    // Bits 29 (limits changed) and 28 (level changed notifications): only on a link the
    // notification fits; elsewhere PERF_NOTIFY_LIMITS / PERF_NOTIFY_LEVEL answer NOT_SUPPORTED
    // (see notifyCommand).
    const flags =
      (d.canSetLimits !== false ? 1 << 31 : 0) |
      (d.canSetLevel !== false ? 1 << 30 : 0) |
      (p2a && this.#p.notificationFits(req, LIMITS_NOTIFICATION) ? 1 << 29 : 0) |
      (p2a && this.#p.notificationFits(req, LEVEL_NOTIFICATION) ? 1 << 28 : 0) |
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
    if (d.canSetLimits === false) return fail(ScmiStatus.DENIED);
    const s = this.#state[id] as PerfState;
    const values = d.levels.map((l) => l.value);
    // In level indexing mode the limits come as indices, 0 always "unchanged" (DEN0056 v3.2
    // PERF_LIMITS_SET: "If this field is set to 0, the platform ignores it", whether a level or a
    // level index; Linux translates only a non-zero limit; no level has index 0, the
    // configuration refuses it); an index no level has is as a value that is not a level.
    const byIndex = indexed(req.version, d);
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
    if (zeroUnchanged && wireMax === 0 && wireMin === 0) {
      return fail(ScmiStatus.OUT_OF_RANGE);
    }
    // An index no level has: as a limit that is not a level (below), before min > max.
    if (rangeMax === NO_LEVEL || rangeMin === NO_LEVEL) return fail(ScmiStatus.OUT_OF_RANGE);
    const max = zeroUnchanged && wireMax === 0 ? s.max : rangeMax;
    const min = zeroUnchanged && wireMin === 0 ? s.min : rangeMin;
    if (min > max) return fail(ScmiStatus.INVALID_PARAMETERS);
    // Each limit must be one of the domain's levels, as SCP-firmware requires without its
    // approximate-level option (`module/scmi_perf/src/mod_scmi_perf.c`: validate_new_limits looks
    // both up with find_opp_for_level(…, false), FWK_E_RANGE when there is no exact match, which
    // scmi_perf_limits_set_handler answers OUT_OF_RANGE): nothing changes, nothing is notified.
    // (This covers limits outside the lowest and highest level too.)
    if (!values.includes(min) || !values.includes(max)) return fail(ScmiStatus.OUT_OF_RANGE);
    const inside = values.filter((v) => v >= min && v <= max);
    const cause = req.agent.id;
    if (s.min !== min || s.max !== max) {
      s.min = min;
      s.max = max;
      this.#p.notify(this.id, PerformanceNotificationId.LIMITS_CHANGED, id, (agent) =>
        words(cause, id, this.#wire(agent, d, max), this.#wire(agent, d, min)),
      );
    }
    if (s.level > max) this.#apply(id, inside[inside.length - 1] as number, cause);
    else if (s.level < min) this.#apply(id, inside[0] as number, cause);
    return ok();
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
    const wire = req.r.u32();
    if (d.canSetLevel === false) return fail(ScmiStatus.DENIED);
    // An index no level has is refused as a value that is not a level (OUT_OF_RANGE).
    const level = indexed(req.version, d) ? (levelOfIndex(d, wire)?.value ?? NO_LEVEL) : wire;
    const s = this.#state[id] as PerfState;
    if (!d.levels.some((l) => l.value === level) || level < s.min || level > s.max) {
      return fail(ScmiStatus.OUT_OF_RANGE);
    }
    this.#apply(id, level, req.agent.id);
    return ok();
  }

  #apply(id: number, level: number, cause: number): void {
    const s = this.#state[id] as PerfState;
    if (s.level === level) return;
    s.level = level;
    const d = this.#domains[id] as PerformanceDomainConfig;
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
   * No domain has a fast channel (PERF_DOMAIN_ATTRIBUTES bit 27 is clear): SCP-firmware answers
   * NOT_FOUND for an unknown domain and NOT_SUPPORTED for a domain without fast channels, whatever
   * the message id (`module/scmi_perf/src/scmi_perf_fastchannels.c`,
   * `perf_fch_describe_fast_channels`: the domain's fast channels are checked before the message
   * id, which answers NOT_FOUND past the last command, NOT_SUPPORTED for one other than
   * LIMITS_SET/GET and LEVEL_SET/GET, only on a domain that has fast channels). Arm's scmi-tests
   * agree: `test_d023` (invalid message id → NOT_FOUND) runs only on domains with a fast channel,
   * and `test_d024` expects NOT_SUPPORTED on a domain without one.
   */
  #describeFastChannel(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    return fail(ScmiStatus.NOT_SUPPORTED);
  }

  #name(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    return ok(extendedName(found[1].name));
  }
}
