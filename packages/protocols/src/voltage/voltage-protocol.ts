import {
  type CallOptions,
  ScmiError,
  ScmiMalformedError,
  ScmiProtocolId,
  optionKeys,
  type ProtocolDriver,
  type ProtocolHandle,
  type ProtocolVersionSource,
} from '@scmi-ts/core';
import { checkDelayedId } from '../common/delayed.js';
import { boolOption, int32Arg, objectArg, uintArg } from '../common/args.js';
import {
  DomainTable,
  SHORT_NAME_SIZE,
  isRemovalError,
  resourceName,
} from '../common/domain-table.js';

/**
 * Voltage domain management protocol (0x17) message ids besides the common 0x0–0x2 (Linux
 * `voltage.c`, `enum scmi_voltage_protocol_cmd`; SCMI v3.x).
 *
 * @example
 * ```ts
 * await agent.transact(0x17, VoltageMessageId.LEVEL_GET, (w) => w.u32(0));
 * ```
 */
export enum VoltageMessageId {
  /** (domain_id) → attributes (31 async level set, 30 extended name: version 2.0), name[16]. */
  DOMAIN_ATTRIBUTES = 0x3,
  /**
   * (domain_id, level_index) → flags (11:0 returned, 12 triplet, 31:16 remaining), then that
   * many int32 levels in µV; multi-part.
   */
  DESCRIBE_LEVELS = 0x4,
  /** (domain_id, config): config 3:0 the mode ({@link VOLTAGE_CONFIG_ON}, {@link VOLTAGE_CONFIG_OFF}…). */
  CONFIG_SET = 0x5,
  /** (domain_id) → config (3:0 the mode). */
  CONFIG_GET = 0x6,
  /** (domain_id, flags bit 0 async, int32 voltage_level); asynchronous: delayed response domain_id, voltage_level. */
  LEVEL_SET = 0x7,
  /** (domain_id) → int32 voltage_level. */
  LEVEL_GET = 0x8,
  /** (domain_id) → flags, name[64] (version 2.0). */
  DOMAIN_NAME_GET = 0x9,
}

/** VOLTAGE_CONFIG_SET/GET mode: architectural off (Linux `SCMI_VOLTAGE_ARCH_STATE_OFF`). */
export const VOLTAGE_CONFIG_OFF = 0x0;

/** VOLTAGE_CONFIG_SET/GET mode: architectural on (Linux `SCMI_VOLTAGE_ARCH_STATE_ON`). */
export const VOLTAGE_CONFIG_ON = 0x7;

/**
 * Mode bit 3: an implementation-defined mode (bits 2:0 its id, `VOLTAGE_CONFIG_VENDOR | 2`);
 * clear, bits 2:0 are architectural (0 off, 7 on, the others reserved).
 */
export const VOLTAGE_CONFIG_VENDOR = 0x8;

const ATTR_ASYNC_LEVEL_SET = 1 << 31;
const ATTR_EXTENDED_NAME = 1 << 30;
/** VOLTAGE_DESCRIBE_LEVELS flags bit 12: the levels are a triplet (low, high, step). */
const LEVELS_TRIPLET = 1 << 12;
const LEVEL_SET_ASYNC = 1 << 0;
/** VOLTAGE_CONFIG_SET/GET config bits 3:0 (Linux masks with `GENMASK(3, 0)`). */
const CONFIG_MODE_MASK = 0xf;
const V2 = 0x20000;

/** The levels of a domain given as a list (VOLTAGE_DESCRIBE_LEVELS bit 12 clear), in µV. */
export interface VoltageLevelList {
  /** Discriminant. */
  readonly kind: 'list';
  /**
   * The levels, in the platform's order (as Linux keeps them: its regulator's selectors are
   * their indices); at least one.
   */
  readonly microvolts: readonly number[];
}

/**
 * The levels of a domain given as a triplet (VOLTAGE_DESCRIBE_LEVELS bit 12 set), in µV: every
 * `minMicrovolts + k × stepMicrovolts` up to `maxMicrovolts` (Linux's "segmented" levels).
 */
export interface VoltageLevelRange {
  /** Discriminant. */
  readonly kind: 'range';
  /** The lowest level. */
  readonly minMicrovolts: number;
  /** The highest level, not below `minMicrovolts` (equal: one fixed level). */
  readonly maxMicrovolts: number;
  /** The step between levels: positive when `maxMicrovolts` is above `minMicrovolts`. */
  readonly stepMicrovolts: number;
}

/** What VOLTAGE_DESCRIBE_LEVELS says a domain can be set to: a list or a range. */
export type VoltageLevels = VoltageLevelList | VoltageLevelRange;

/** A voltage domain as VOLTAGE_DOMAIN_ATTRIBUTES (and the commands Linux sends after it) describe it. */
export interface VoltageDomainInfo {
  /** The domain id. */
  readonly id: number;
  /** Its name: the extended one when the platform announces it (version 2.0), else the short one. */
  readonly name: string;
  /** Present when VOLTAGE_DOMAIN_NAME_GET failed: the error (`name` is then the short name). */
  readonly nameError?: unknown;
  /**
   * Whether the platform can set its level asynchronously, with a delayed response (attributes
   * bit 31, read at version 2.0 and later as Linux reads it).
   */
  readonly asyncLevelSet: boolean;
  /**
   * Whether a described level is negative (Linux's `negative_volts_allowed`, for which its
   * regulator driver skips the domain); false when the levels could not be read.
   */
  readonly negativeVolts: boolean;
  /** Its levels (VOLTAGE_DESCRIBE_LEVELS at init); `undefined` when that failed (see `levelsError`). */
  readonly levels: VoltageLevels | undefined;
  /**
   * Present when VOLTAGE_DESCRIBE_LEVELS failed at init: the error. Linux keeps such a domain
   * with no levels, and its `info_get` gives nothing for it (the regulator is not registered);
   * here it stays usable by id.
   */
  readonly levelsError?: unknown;
}

/**
 * Options of {@link VoltageProtocol.levelSet}. A key not listed here (a misspelt `asnyc`) is
 * refused `E_ARGUMENT`, nothing sent.
 *
 * @example
 * ```ts
 * await voltage.levelSet(0, 900_000, { async: false });
 * ```
 */
export interface VoltageLevelSetOptions {
  /**
   * Set the level asynchronously and wait for the delayed response. Default: when the domain
   * announces it and the agent has a P2A channel — Linux's `SCMI_VOLTAGE_LEVEL_SET_AUTO`, the
   * mode its regulator driver uses. `false` asks for a synchronous set (Linux's
   * `SCMI_VOLTAGE_LEVEL_SET_SYNC`); `true` on a domain that does not announce it is refused
   * `E_NOT_SUPPORTED`, nothing sent (Linux sends such a set synchronously).
   */
  readonly async?: boolean;
}

/** What {@link VoltageProtocol.levelSet} resolves to. */
export interface VoltageLevelSetResult {
  /** Whether the set was sent asynchronous (flags bit 0). */
  readonly async: boolean;
  /**
   * The level the delayed response reports, in µV; `undefined` for a synchronous set (read it
   * with {@link VoltageProtocol.levelGet}).
   */
  readonly microvolts: number | undefined;
}

/** The keys {@link VoltageProtocol.levelSet} takes in its options (others are refused). */
const LEVEL_SET_KEYS = optionKeys<VoltageLevelSetOptions>({ async: true });

/**
 * The Voltage domain protocol client (Linux `voltage.c`, `scmi_voltage_proto_ops`, and what its
 * `scmi-regulator.c` consumer does with them): the domains the platform described at init (names,
 * asynchronous support, levels as a list or a range), the level read and set (synchronously or
 * with a delayed response), and the configuration mode, with enable/disable as the regulator's.
 *
 * @example
 * ```ts
 * const voltage = agent.protocol(voltageProtocolDriver);
 * const cpu = voltage.domains.list.find((d) => d.name === 'vdd-cpu');
 * if (cpu !== undefined) {
 *   await voltage.enable(cpu.id);
 *   await voltage.levelSet(cpu.id, 900_000); // asynchronous when the domain announces it
 *   console.log(await voltage.levelGet(cpu.id), 'µV');
 * }
 * ```
 */
export class VoltageProtocol {
  readonly #ph: ProtocolHandle;
  /** The domains, as the platform described them at init. */
  public readonly domains: DomainTable<VoltageDomainInfo>;

  private constructor(ph: ProtocolHandle, domains: DomainTable<VoltageDomainInfo>) {
    this.#ph = ph;
    this.domains = domains;
  }

  /**
   * Reads PROTOCOL_ATTRIBUTES (15:0 the number of domains) and describes every domain as Linux's
   * `scmi_voltage_protocol_init` does: VOLTAGE_DOMAIN_ATTRIBUTES (a failure fails the domain),
   * then VOLTAGE_DOMAIN_NAME_GET for an extended name at version 2.0, then VOLTAGE_DESCRIBE_LEVELS
   * (a failure is recorded beside the domain, as Linux keeps the domain without levels).
   *
   * @throws the PROTOCOL_ATTRIBUTES failure (the driver then fails to initialize, and the agent
   * goes on without it); a domain's failure is recorded in {@link VoltageProtocol.domains}.
   * @internal
   */
  public static async create(ph: ProtocolHandle): Promise<VoltageProtocol> {
    const attributes = await ph.xfer.transact(0x1, undefined, { rxSize: 4 });
    const count = ph.xfer.decode(attributes, (r) => r.u32() & 0xffff);
    const domains = await DomainTable.describe('voltage domain', count, (id) =>
      describeDomain(ph, id),
    );
    return new VoltageProtocol(ph, domains);
  }

  /** The protocol version in use (major 31:16, minor 15:0). */
  public get version(): number {
    return this.#ph.version;
  }

  /** Where {@link VoltageProtocol.version} comes from. */
  public get versionSource(): ProtocolVersionSource {
    return this.#ph.versionSource;
  }

  /**
   * This client with `options` applied to every command its methods send: `timeoutMs` bounds
   * each command's response instead of the agent's `rxTimeoutMs`, and `signal` gives the
   * commands in flight up when it fires (see {@link CallOptions}). The view shares everything
   * else with this client (its domains, its channel); calls on this client itself are
   * unchanged. A view of a view keeps the signals of both and the newer timeout.
   *
   * @throws ScmiError `E_ARGUMENT` for options that are not an object, hold a key
   * {@link CallOptions} does not have, a `timeoutMs` that is not a positive number or a `signal`
   * that is not an `AbortSignal` (see {@link ProtocolHandle.withCallOptions}).
   * @example
   * ```ts
   * const voltage = agent.protocol(voltageProtocolDriver).withCallOptions({ timeoutMs: 200 });
   * console.log(await voltage.levelGet(0));
   * ```
   */
  public withCallOptions(options: CallOptions): VoltageProtocol {
    return new VoltageProtocol(this.#ph.withCallOptions(options), this.domains);
  }

  /**
   * VOLTAGE_LEVEL_GET: the current level of domain `id`, in µV (signed).
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a domain;
   * `E_DOMAIN_UNAVAILABLE` for a domain the platform did not describe; ScmiStatusError for an
   * error status (DENIED…); ScmiMalformedError
   * `E_TRUNCATED` (counted) for a reply shorter than 4 bytes; the error of a failed transfer.
   */
  public async levelGet(id: number): Promise<number> {
    this.domains.info(id);
    const returns = await this.#ph.xfer.transact(VoltageMessageId.LEVEL_GET, (w) => w.u32(id), {
      txSize: 4,
      rxSize: 4,
    });
    return this.#ph.xfer.decode(returns, (r) => r.i32());
  }

  /**
   * VOLTAGE_LEVEL_SET: asks for `microvolts` on domain `id`. Asynchronous by default when the
   * domain announces it (see {@link VoltageLevelSetOptions.async}), as Linux's
   * `scmi_voltage_level_set` in `SCMI_VOLTAGE_LEVEL_SET_AUTO` mode: then resolves once the
   * delayed response came, with the level it reports. The level is sent whether or not it is one
   * the domain described (Linux's protocol layer does not check either; its regulator maps
   * selectors to described levels): the platform answers.
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a domain, a level that is
   * not a signed 32-bit integer, `options` that are not an object (`null`) or hold a key
   * {@link VoltageLevelSetOptions} does not have, or an `async` neither a boolean nor left out;
   * `E_NOT_SUPPORTED` (nothing sent) for `async: true` on a domain that does not announce
   * asynchronous level set; `E_DOMAIN_UNAVAILABLE` for a domain the platform did not describe;
   * ScmiStatusError for an error status (INVALID_PARAMETERS or OUT_OF_RANGE for a level the
   * domain cannot take, DENIED…), the delayed response's included; ScmiMalformedError (counted)
   * `E_DOMAIN_ID` when the delayed response names another domain (Linux: -EPROTO),
   * `E_TRUNCATED` when it is shorter than its domain_id and level; ScmiTransportError
   * `E_NOT_SUPPORTED` (nothing sent) for `async: true` without a P2A channel; ScmiTimeoutError
   * when the delayed response never comes.
   */
  public async levelSet(
    id: number,
    microvolts: number,
    options: VoltageLevelSetOptions = {},
  ): Promise<VoltageLevelSetResult> {
    const info = this.domains.info(id);
    const level = int32Arg(microvolts, 'voltage level');
    const o = objectArg(options, LEVEL_SET_KEYS, 'voltage levelSet options');
    const asked = boolOption(o.async, 'async');
    // Without a P2A channel, core refuses an asynchronous command itself (ScmiTransportError
    // E_NOT_SUPPORTED): the cause, whatever the domain announced — a platform announces no
    // asynchronous set on a link that cannot carry its delayed response.
    if (asked === true && this.#ph.p2a && !info.asyncLevelSet) {
      throw new ScmiError(
        'E_NOT_SUPPORTED',
        `voltage domain ${id} does not announce asynchronous level set (VOLTAGE_DOMAIN_ATTRIBUTES bit 31${this.#ph.version < V2 ? ', read from version 2.0' : ''})`,
      );
    }
    const async = asked ?? (info.asyncLevelSet && this.#ph.p2a);
    const returns = await this.#ph.xfer.transact(
      VoltageMessageId.LEVEL_SET,
      (w) =>
        w
          .u32(id)
          .u32(async ? LEVEL_SET_ASYNC : 0)
          .i32(level),
      { txSize: 12, rxSize: 0, async },
    );
    if (!async) return { async: false, microvolts: undefined };
    // VOLTAGE_LEVEL_SET_COMPLETE: domain_id, voltage_level. Linux checks the domain (-EPROTO) and
    // only logs the level; a short one is malformed here (Linux reads whatever its buffer holds).
    const [domainId, set] = this.#ph.xfer.decode(returns, (r) => [r.u32(), r.i32()] as const);
    checkDelayedId(this.#ph, 'VOLTAGE_LEVEL_SET', 'domain', domainId, id, 'E_DOMAIN_ID');
    return { async: true, microvolts: set };
  }

  /**
   * VOLTAGE_CONFIG_GET: the configuration mode of domain `id` (config bits 3:0;
   * {@link VOLTAGE_CONFIG_ON}, {@link VOLTAGE_CONFIG_OFF}, or `VOLTAGE_CONFIG_VENDOR | n`). The
   * reserved bits 31:4 are dropped.
   *
   * @throws as {@link VoltageProtocol.levelGet}.
   */
  public async configGet(id: number): Promise<number> {
    this.domains.info(id);
    const returns = await this.#ph.xfer.transact(VoltageMessageId.CONFIG_GET, (w) => w.u32(id), {
      txSize: 4,
      rxSize: 4,
    });
    return this.#ph.xfer.decode(returns, (r) => r.u32() & CONFIG_MODE_MASK);
  }

  /**
   * VOLTAGE_CONFIG_SET: sets the configuration mode of domain `id`: {@link VOLTAGE_CONFIG_ON},
   * {@link VOLTAGE_CONFIG_OFF}, or an implementation-defined `VOLTAGE_CONFIG_VENDOR | n`. A
   * reserved architectural mode (1 to 6) is sent as given: the platform answers.
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for a mode that is not an integer from 0 to 15
   * (Linux masks it to its 4 bits: 0x17 would turn the domain on); otherwise as
   * {@link VoltageProtocol.levelGet} (INVALID_PARAMETERS for a mode the platform refuses).
   */
  public async configSet(id: number, mode: number): Promise<void> {
    this.domains.info(id);
    const config = uintArg(mode, 'voltage config mode', CONFIG_MODE_MASK);
    await this.#ph.xfer.transact(VoltageMessageId.CONFIG_SET, (w) => w.u32(id).u32(config), {
      txSize: 8,
      rxSize: 0,
    });
  }

  /**
   * Turns domain `id` on: VOLTAGE_CONFIG_SET {@link VOLTAGE_CONFIG_ON}, as Linux's
   * `scmi_reg_enable`.
   *
   * @throws as {@link VoltageProtocol.configSet}.
   */
  public async enable(id: number): Promise<void> {
    await this.configSet(id, VOLTAGE_CONFIG_ON);
  }

  /**
   * Turns domain `id` off: VOLTAGE_CONFIG_SET {@link VOLTAGE_CONFIG_OFF}, as Linux's
   * `scmi_reg_disable`.
   *
   * @throws as {@link VoltageProtocol.configSet}.
   */
  public async disable(id: number): Promise<void> {
    await this.configSet(id, VOLTAGE_CONFIG_OFF);
  }

  /**
   * Whether domain `id` is on, as Linux's `scmi_reg_is_enabled` reads VOLTAGE_CONFIG_GET: any of
   * the mode's bits 2:0 set (`config & SCMI_VOLTAGE_ARCH_STATE_ON`) — so an implementation-defined
   * mode counts as on when its id is not 0.
   *
   * @throws as {@link VoltageProtocol.configGet}.
   */
  public async isEnabled(id: number): Promise<boolean> {
    return ((await this.configGet(id)) & VOLTAGE_CONFIG_ON) !== 0;
  }

  /**
   * VOLTAGE_DESCRIBE_LEVELS, read again (init reads it once into `domains`): the levels of domain
   * `id`.
   *
   * @throws ScmiMalformedError (counted) for a reply Linux refuses or this client finds
   * contradictory: `E_MULTIPART` for a triplet that is not one part of exactly 3 levels with none
   * remaining, a first part that announces no level, or a reply that switches format between
   * parts; `E_VOLTAGE_LEVELS` for a triplet whose high is below its low or whose step is not
   * positive while high is above low, or a walk that ended with no level; `E_TRUNCATED` for a part
   * shorter than the levels it announces; otherwise as {@link VoltageProtocol.levelGet}.
   */
  public async describeLevels(id: number): Promise<VoltageLevels> {
    this.domains.info(id);
    return describeLevels(this.#ph, id);
  }
}

/**
 * Describes domain `id` in Linux's order (`scmi_voltage_descriptors_get`):
 * VOLTAGE_DOMAIN_ATTRIBUTES (a failure fails the domain, as Linux skips it), then, at version
 * 2.0 and later, VOLTAGE_DOMAIN_NAME_GET when bit 30 announces an extended name and the
 * asynchronous level set of bit 31; then VOLTAGE_DESCRIBE_LEVELS, whose failure is recorded.
 */
async function describeDomain(ph: ProtocolHandle, id: number): Promise<VoltageDomainInfo> {
  const v2 = ph.version >= V2;
  const returns = await ph.xfer.transact(VoltageMessageId.DOMAIN_ATTRIBUTES, (w) => w.u32(id), {
    txSize: 4,
    rxSize: 4 + SHORT_NAME_SIZE,
  });
  const [attributes, shortName] = ph.xfer.decode(
    returns,
    (r) => [r.u32(), r.string(SHORT_NAME_SIZE)] as const,
  );
  // Linux's voltage.c asks for the extended name from major 2 (VOLTAGE_DOMAIN_NAME_GET is 2.0's).
  const name = await resourceName(
    ph,
    VoltageMessageId.DOMAIN_NAME_GET,
    id,
    shortName,
    (attributes & ATTR_EXTENDED_NAME) !== 0,
    2,
  );
  const base = {
    id,
    ...name,
    asyncLevelSet: v2 && (attributes & ATTR_ASYNC_LEVEL_SET) !== 0,
  };
  try {
    const levels = await describeLevels(ph, id);
    return { ...base, negativeVolts: negative(levels), levels };
  } catch (e) {
    if (isRemovalError(e)) throw e;
    return { ...base, negativeVolts: false, levels: undefined, levelsError: e };
  }
}

/**
 * Whether a described value is negative (Linux's `iter_volt_levels_process_response` sets
 * `negative_volts_allowed` for any of them: a triplet's step too).
 */
function negative(levels: VoltageLevels): boolean {
  return levels.kind === 'list'
    ? levels.microvolts.some((v) => v < 0)
    : levels.minMicrovolts < 0 || levels.maxMicrovolts < 0 || levels.stepMicrovolts < 0;
}

/**
 * VOLTAGE_DESCRIBE_LEVELS through `iterate`, as Linux's `scmi_voltage_levels_get`: flags 11:0
 * returned, 31:16 remaining, bit 12 a triplet; the levels are int32 µV. As Linux's
 * `scmi_init_voltage_levels` requires at the first part: some level announced, and a triplet as
 * exactly 3 returned and none remaining (Linux has no out-of-spec triplet quirk for voltage, as it
 * has for clocks). The walk is bounded by the first part's count, as Linux's `max_resources`, but
 * more strictly (core's `iterate`, `MultiPartSpec.max`): a later part announcing more than that
 * count fails the levels, where Linux only bounds what each part returns; a part that says none
 * remain ends the list with the levels read so far (Linux keeps the first part's count, the
 * levels never sent left at 0). The list is kept in the platform's order, as Linux keeps it. A triplet whose high is
 * below its low (which Linux's regulator refuses, "Invalid volt-range") or whose step is not
 * positive while high is above low (on which the regulator would divide by zero) is malformed.
 */
async function describeLevels(ph: ProtocolHandle, id: number): Promise<VoltageLevels> {
  let format: 'list' | 'range' | undefined;
  const values = await ph.xfer.iterate(VoltageMessageId.DESCRIBE_LEVELS, {
    txSize: 8,
    max: 0xfff + 0xffff,
    prepare: (w, index) => w.u32(id).u32(index),
    counts: (r) => {
      const flags = r.u32();
      const returned = flags & 0xfff;
      const remaining = flags >>> 16;
      const kind = (flags & LEVELS_TRIPLET) !== 0 ? 'range' : 'list';
      if (format === undefined) {
        if (returned + remaining === 0) {
          throw new ScmiMalformedError(
            `VOLTAGE_DESCRIBE_LEVELS of domain ${id} announces no level`,
            'E_MULTIPART',
          );
        }
      } else if (kind !== format) {
        throw new ScmiMalformedError(
          `VOLTAGE_DESCRIBE_LEVELS of domain ${id} switches from a ${format} to a ${kind} between parts`,
          'E_MULTIPART',
        );
      }
      format = kind;
      if (kind === 'range' && (returned !== 3 || remaining !== 0)) {
        throw new ScmiMalformedError(
          `VOLTAGE_DESCRIBE_LEVELS of domain ${id}: a triplet with ${returned} returned and ${remaining} remaining (3 and 0 expected)`,
          'E_MULTIPART',
        );
      }
      return { returned, remaining };
    },
    item: (r) => r.i32(),
  });
  if (values.length === 0) {
    // A first part that returned none but announced more: `iterate` ended the walk and counted it.
    throw new ScmiMalformedError(
      `VOLTAGE_DESCRIBE_LEVELS of domain ${id} returned no level`,
      'E_VOLTAGE_LEVELS',
    );
  }
  if (format !== 'range') return { kind: 'list', microvolts: values };
  const [min = 0, max = 0, step = 0] = values;
  if (max < min || (min < max && step <= 0)) {
    throw ph.xfer.malformed(
      new ScmiMalformedError(
        `VOLTAGE_DESCRIBE_LEVELS of domain ${id}: triplet low ${min}, high ${max}, step ${step} µV`,
        'E_VOLTAGE_LEVELS',
      ),
    );
  }
  return { kind: 'range', minMicrovolts: min, maxMicrovolts: max, stepMicrovolts: step };
}

/**
 * The Voltage domain protocol driver: bind it to core's `PROTOCOL_DRIVER` (or load
 * `protocolsModule`), and `agent.protocol(voltageProtocolDriver)` is the {@link VoltageProtocol}.
 * Version 2.0, the newest Linux's `voltage.c` supports (SCMI_PROTOCOL_SUPPORTED_VERSION: extended
 * names and asynchronous level set). The protocol has no notifications.
 *
 * @example
 * ```ts
 * container.load(new ContainerModule(({ bind }) => {
 *   bind(PROTOCOL_DRIVER).toConstantValue(voltageProtocolDriver);
 * }));
 * const agent = await createAgent(container, options);
 * console.log(await agent.protocol(voltageProtocolDriver).levelGet(0));
 * ```
 */
export const voltageProtocolDriver: ProtocolDriver<VoltageProtocol> = {
  protocolId: ScmiProtocolId.VOLTAGE,
  name: 'voltage',
  version: V2,
  messageNames: VoltageMessageId,
  init: (ph) => VoltageProtocol.create(ph),
};
