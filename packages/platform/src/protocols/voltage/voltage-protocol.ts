import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import type { VoltageDomainConfig } from '../../config/platform-config.js';
import {
  VOLTAGE_ON,
  isSupportedVoltage,
  isVoltageList,
  isVoltageMode,
} from '../../config/validate-platform-config.js';
import {
  concat,
  domainCheck,
  extendedName,
  fail,
  needsExtendedName,
  ok,
  reportedVersion,
  shortName,
  words,
  wordsOf,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
  type ProtocolServer,
  type Reply,
} from '../protocol-server.js';
import { VoltageMessageId } from './voltage-message-id.js';

interface VoltageState {
  level: number;
  config: number;
}

/** Voltage protocol 2.0 (SCMI v3.1): async level set, extended names, DOMAIN_NAME_GET. */
const V2 = 0x20000;
/** Voltage protocol 1.0 (SCMI v3.0), which an agent may negotiate. */
const V1 = 0x10000;
/** VOLTAGE_DOMAIN_ATTRIBUTES bit 31 (v2): asynchronous VOLTAGE_LEVEL_SET supported. */
const ASYNC_LEVEL_SET = 1 << 31;
/** VOLTAGE_DOMAIN_ATTRIBUTES bit 30 (v2): extended name, VOLTAGE_DOMAIN_NAME_GET. */
const EXTENDED_NAME = 1 << 30;
/** VOLTAGE_DESCRIBE_LEVELS flags bit 12: the levels are one (min, max, step) triplet. */
const TRIPLET_FORMAT = 1 << 12;
/** VOLTAGE_LEVEL_SET flags bit 0 (v2): asynchronous, completed by a delayed response. */
const ASYNC = 1;
/** Return values of VOLTAGE_LEVEL_SET's delayed response: domain_id, voltage_level. */
const LEVEL_SET_DELAYED = 8;
/** Timer tag of the pending asynchronous level sets (counted against `maxPendingAsync`). */
const TAG = 'voltage';

/**
 * Voltage domain management protocol (0x17), version 2.1 (SCMI v3.2; 2.0 without version
 * negotiation, see `reportedVersion`: 2.1 only adds NEGOTIATE_PROTOCOL_VERSION). An agent may also
 * negotiate 1.0 (SCMI v3.0): VOLTAGE_DOMAIN_NAME_GET is then unknown, the domain attributes are 0
 * and VOLTAGE_LEVEL_SET flags are reserved (any set bit INVALID_PARAMETERS, as Arm's scmi-tests
 * voltage test_v014 expects of a 1.0 platform). No notifications.
 *
 * Wire layouts (Linux `drivers/firmware/arm_scmi/voltage.c`, OP-TEE
 * `core/drivers/scmi-msg/voltage_domain.{c,h}`, SCP-firmware
 * `module/scmi_voltage_domain/include/internal/scmi_voltage_domain.h`), every field 32 bits:
 * - PROTOCOL_ATTRIBUTES → attributes (15:0 number of domains).
 * - 0x3 VOLTAGE_DOMAIN_ATTRIBUTES (domain_id) → attributes (31 async level set, 30 extended name,
 *   29:0 reserved), name[16].
 * - 0x4 VOLTAGE_DESCRIBE_LEVELS (domain_id, level_index) → flags (11:0 returned, 12 format:
 *   1 triplet, 0 list; 15:13 reserved; 31:16 remaining), s32 levels in µV. A triplet is
 *   (lowest, highest, step), returned 3, remaining 0, whatever the level_index (as SCP-firmware
 *   and OP-TEE, which ignore it there; Linux asks only index 0 and refuses any other triplet
 *   count). A list is paged from level_index, as many as fit the link (and `multiPartMax`); an
 *   index at or past its end is OUT_OF_RANGE (SCP-firmware's scmi_voltd_describe_levels_handler;
 *   OP-TEE's scmi_voltd_describe_levels answers INVALID_PARAMETERS).
 * - 0x5 VOLTAGE_CONFIG_SET (domain_id, config) → –. Config bits 3:0 are the mode: bit 3 clear
 *   architectural (0x0 OFF, 0x7 ON, the others reserved), bit 3 set implementation defined (0x8 |
 *   id, scmi-tests' val_voltage_operating_mode_create); bits 31:4 reserved. A mode the domain does
 *   not have, or a reserved bit set, is INVALID_PARAMETERS. (Linux masks the config to 3:0 before
 *   sending; OP-TEE masks reserved bits away instead of refusing them.)
 * - 0x6 VOLTAGE_CONFIG_GET (domain_id) → config.
 * - 0x7 VOLTAGE_LEVEL_SET (domain_id, flags: bit 0 async, 31:1 reserved; voltage_level s32) → –;
 *   asynchronous: the delayed response (message 0x7, type 2, the command's token) carries
 *   domain_id, voltage_level (Linux `scmi_resp_voltage_level_set_complete`, which checks the
 *   domain_id). A level the domain does not support is INVALID_PARAMETERS (scmi-tests test_v014);
 *   an asynchronous set where it is not advertised (bit 31 clear) is NOT_SUPPORTED.
 * - 0x8 VOLTAGE_LEVEL_GET (domain_id) → voltage_level s32.
 * - 0x9 VOLTAGE_DOMAIN_NAME_GET (domain_id) → flags (0), name[64].
 *
 * Statuses: a domain that does not exist is NOT_FOUND (SCMI specification and SCP-firmware's
 * get_device; OP-TEE answers INVALID_PARAMETERS: `behaviour.unknownDomain`); CONFIG_SET/GET and
 * LEVEL_SET/GET of a domain the agent may not use are DENIED (the discovery commands, 0x3, 0x4 and
 * 0x9, work on every domain).
 *
 * Asynchronous level sets: bit 31 is advertised only for a domain with `asyncLevelSet`, on a link
 * with a P2A channel that the delayed response (12 bytes with its status) fits. At most
 * `maxPendingAsync` are pending at once, platform-wide (BUSY beyond, before any change). While one
 * is pending on a domain, every VOLTAGE_LEVEL_SET of that domain is answered BUSY, so that an
 * older level can never land after a newer one (as Clock does; SCP-firmware's
 * `scmi_voltd_level_set_handler` ignores the flags: it sets the level at once, answers SUCCESS and
 * sends no delayed response). VOLTAGE_LEVEL_GET reports the old level until the set completes, after
 * `asyncLatencyMs`; the level changes even if the agent disconnected first (its delayed response
 * is then not sent). @internal
 */
export class VoltageProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.VOLTAGE;
  public readonly version: number;
  public readonly olderVersions = [V1] as const;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #domains: readonly VoltageDomainConfig[];
  readonly #state: VoltageState[];
  /** Per domain: whether an accepted asynchronous level set has not completed yet. */
  readonly #pending: boolean[];

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.version = reportedVersion(services, 0x20001);
    this.#domains = services.config.voltageDomains ?? [];
    this.#state = this.#domains.map((d) => ({
      level: d.level ?? lowestOf(d.levels),
      config: d.config ?? VOLTAGE_ON,
    }));
    this.#pending = this.#domains.map(() => false);
    this.messages = new Map<number, MessageHandler>([
      [VoltageMessageId.DOMAIN_ATTRIBUTES, { size: 4, run: (req) => this.#attributes(req) }],
      [VoltageMessageId.DESCRIBE_LEVELS, { size: 8, run: (req) => this.#describe(req) }],
      [VoltageMessageId.CONFIG_SET, { size: 8, run: (req) => this.#setConfig(req) }],
      [VoltageMessageId.CONFIG_GET, { size: 4, run: (req) => this.#getConfig(req) }],
      [VoltageMessageId.LEVEL_SET, { size: 12, run: (req) => this.#setLevel(req) }],
      [VoltageMessageId.LEVEL_GET, { size: 4, run: (req) => this.#getLevel(req) }],
      [VoltageMessageId.DOMAIN_NAME_GET, { size: 4, since: V2, run: (req) => this.#name(req) }],
    ]);
  }

  /** Level (µV) and config (mode, bits 3:0) of every domain. */
  public states(): readonly Readonly<VoltageState>[] {
    return this.#state.map((s) => ({ ...s }));
  }

  public attributes(): Reply {
    return ok(words(this.#domains.length & 0xffff));
  }

  #domain(req: PlatformRequest, use: boolean): [number, VoltageDomainConfig, VoltageState] | Reply {
    const id = req.r.u32();
    const bad = domainCheck(this.#p, req, 'voltage', id, this.#domains.length, use);
    return bad ?? [id, this.#domains[id] as VoltageDomainConfig, this.#state[id] as VoltageState];
  }

  /** Whether an asynchronous level set of domain `d`, with its delayed response, is possible. */
  #asyncSupported(req: PlatformRequest, d: VoltageDomainConfig): boolean {
    return (
      req.version >= V2 &&
      req.link.p2a &&
      d.asyncLevelSet === true &&
      this.#p.delayedFits(req, LEVEL_SET_DELAYED)
    );
  }

  #attributes(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    const [, d] = found;
    // Version 1.0 has no attribute bits (all reserved); 2.0 adds bits 31 and 30 (Linux voltage.c
    // SUPPORTS_ASYNC_LEVEL_SET, SUPPORTS_EXTENDED_NAMES, read only from major 2 on).
    const attributes =
      req.version < V2
        ? 0
        : (this.#asyncSupported(req, d) ? ASYNC_LEVEL_SET : 0) |
          (needsExtendedName(d.name) ? EXTENDED_NAME : 0);
    return ok(concat(words(attributes), shortName(d.name)));
  }

  #describe(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    const [, d] = found;
    const index = req.r.u32();
    const levels = d.levels;
    if (!isVoltageList(levels)) {
      return ok(words(3 | TRIPLET_FORMAT, levels.min, levels.max, levels.step));
    }
    if (index >= levels.length) return fail(ScmiStatus.OUT_OF_RANGE);
    const left = levels.length - index;
    const n = Math.min(left, this.#p.fit(req, 4, 4), this.#p.behaviour.multiPartMax, 0xfff);
    return ok(concat(words(n | ((left - n) << 16)), wordsOf(levels.slice(index, index + n))));
  }

  #setConfig(req: PlatformRequest): Reply {
    const found = this.#domain(req, true);
    if (!Array.isArray(found)) return found;
    const [, d, s] = found;
    const config = req.r.u32();
    if (!isVoltageMode(d.implementationModes ?? [], config)) {
      return fail(ScmiStatus.INVALID_PARAMETERS);
    }
    s.config = config;
    return ok();
  }

  #getConfig(req: PlatformRequest): Reply {
    const found = this.#domain(req, true);
    if (!Array.isArray(found)) return found;
    return ok(words(found[2].config));
  }

  #setLevel(req: PlatformRequest): Reply {
    const found = this.#domain(req, true);
    if (!Array.isArray(found)) return found;
    const [id, d, s] = found;
    const flags = req.r.u32();
    const level = req.r.i32();
    // Reserved flag bits: 31:1 from version 2.0, every bit in 1.0.
    if ((flags & ~(req.version < V2 ? 0 : ASYNC)) !== 0) {
      return fail(ScmiStatus.INVALID_PARAMETERS);
    }
    const async = (flags & ASYNC) !== 0;
    // Not advertised (VOLTAGE_DOMAIN_ATTRIBUTES bit 31 clear): NOT_SUPPORTED, before any change.
    if (async && !this.#asyncSupported(req, d)) return fail(ScmiStatus.NOT_SUPPORTED);
    if (!isSupportedVoltage(d.levels, level)) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (this.#pending[id] === true) return fail(ScmiStatus.BUSY);
    if (!async) {
      s.level = level;
      return ok();
    }
    if (this.#p.timers.count(TAG) >= this.#p.behaviour.maxPendingAsync) {
      return fail(ScmiStatus.BUSY);
    }
    this.#p.later(req, this.#p.behaviour.asyncLatencyMs, TAG, true, () => {
      // Free first: the domain takes level sets again whatever happens next.
      this.#pending[id] = false;
      s.level = level;
      return ok(words(id, level));
    });
    // Busy once armed: a domain that could not arm the operation (later throws) stays free.
    this.#pending[id] = true;
    return ok();
  }

  #getLevel(req: PlatformRequest): Reply {
    const found = this.#domain(req, true);
    if (!Array.isArray(found)) return found;
    return ok(words(found[2].level));
  }

  #name(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    return ok(extendedName(found[1].name));
  }
}

/** The lowest level of a domain. */
function lowestOf(levels: VoltageDomainConfig['levels']): number {
  return isVoltageList(levels) ? (levels[0] as number) : levels.min;
}
