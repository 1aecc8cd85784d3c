import {
  type CallOptions,
  ScmiError,
  ScmiMalformedError,
  ScmiProtocolId,
  optionKeys,
  type PayloadReader,
  type ProtocolDriver,
  type ProtocolHandle,
  type ProtocolVersionSource,
  describeArg,
  formatValue,
  type ProtocolSubscribeOptions,
} from '@scmi-ts/core';
import { subscribeDecoded, type ProtocolEventHandler } from '../common/events.js';
import { boolArg, boolOption, objectArg, u32Bits } from '../common/args.js';
import type { DomainTable } from '../common/domain-table.js';
import {
  NotifyChecks,
  checkFailureOf,
  domainSource,
  perDomainEvent,
  sendNotify,
} from '../common/notify.js';
import { describeSensors, type SensorInfo } from './sensor-discovery.js';
import {
  READING_SIZE,
  SENSOR_MAX_AXES,
  SENSOR_TRIP_POINT_EVENT,
  SENSOR_UPDATE,
  SensorMessageId,
  TRIP_EVENT_PAYLOAD,
  UPDATE_HEADER,
  decodeSensorTripPointEvent,
  decodeSensorUpdate,
  intervalConfigBits,
  readReading,
  signed5,
  type SensorReading,
  type SensorTripPointEvent,
  type SensorUpdate,
  type SensorUpdateInterval,
} from './sensor-wire.js';

export {
  SENSOR_MAX_AXES,
  SENSOR_TRIP_POINT_EVENT,
  SENSOR_UPDATE,
  SensorMessageId,
  decodeSensorTripPointEvent,
  decodeSensorUpdate,
} from './sensor-wire.js';
export type {
  SensorReading,
  SensorTripPointEvent,
  SensorUpdate,
  SensorUpdateInterval,
} from './sensor-wire.js';
export type {
  SensorAxisInfo,
  SensorInfo,
  SensorRangeAttributes,
  SensorUpdateIntervalList,
  SensorUpdateIntervalRange,
  SensorUpdateIntervals,
} from './sensor-discovery.js';

/* SENSOR_CONFIG (Linux `scmi_protocol.h` SCMI_SENS_CFG_*) */
const CONFIG_ENABLED = 1 << 0;
const CONFIG_TIMESTAMPS = 1 << 1;
const CONFIG_ROUND_UP = 1 << 9;
const CONFIG_ROUND_AUTO = 1 << 10;
/* SENSOR_READING_GET flags */
const READ_ASYNC = 1 << 0;
/* trip_point_ev_ctrl 1:0 (Linux SENSOR_TP_DISABLED/POSITIVE/NEGATIVE/BOTH) */
const TRIP_MODES: Readonly<Record<SensorTripPointMode, number>> = {
  disabled: 0,
  up: 1,
  down: 2,
  both: 3,
};
/**
 * A reading of a version 1.x platform: value_low, value_high (no timestamp). From version 2.0 a
 * reading is 16 bytes with its timestamp, as SCP-firmware's SENSOR_V2 build sends it (the
 * reference's "v3" readings are the SCMI specification's, not the protocol version's).
 */
const V1_READING = 8;

/** What PROTOCOL_ATTRIBUTES (and the command checks Linux makes after it) told at init. */
export interface SensorProtocolAttributes {
  /** How many sensors the platform has (num_sensors). */
  readonly sensors: number;
  /** Most asynchronous readings the platform takes pending at once (max_pending_async; 0: none). */
  readonly maxPendingAsync: number;
  /** The sensor register area's address (reg_addr_low/high), as the platform gives it. */
  readonly registerAddress: bigint;
  /** The sensor register area's length in bytes (reg_len), as the platform gives it. */
  readonly registerLength: number;
  /**
   * Whether the platform implements SENSOR_TRIP_POINT_NOTIFY (PROTOCOL_MESSAGE_ATTRIBUTES, as
   * Linux's `notify_trip_point_cmd`): SENSOR_TRIP_POINT_EVENT can be subscribed to only then.
   */
  readonly tripPointNotify: boolean;
  /**
   * Whether the platform implements SENSOR_CONTINUOUS_UPDATE_NOTIFY (Linux's
   * `notify_continuos_update_cmd`): without it no sensor counts as sending SENSOR_UPDATE.
   */
  readonly continuousUpdateNotify: boolean;
}

/**
 * Options of {@link SensorProtocol.read} and {@link SensorProtocol.readValue}. A key not listed
 * here (a misspelt `asnyc`) is refused `E_ARGUMENT`, nothing sent.
 *
 * @example
 * ```ts
 * const [reading] = await sensor.read(0, { async: false });
 * ```
 */
export interface SensorReadOptions {
  /**
   * Read asynchronously and wait for the delayed response: default when the sensor announces it
   * and the agent has a P2A channel to receive it (Linux reads asynchronously every sensor that
   * announces it). `false` asks for a synchronous reading; `true` on a sensor that does not
   * announce it is sent all the same (the platform answers NOT_SUPPORTED), except on an agent
   * without a P2A channel, where no delayed response can come: refused, nothing sent.
   */
  readonly async?: boolean;
}

/**
 * Which crossings of a trip point the platform reports (trip_point_ev_ctrl 1:0): none (the trip
 * point disarmed), going up, going down, or both.
 */
export type SensorTripPointMode = 'disabled' | 'up' | 'down' | 'both';

/** A sensor's configuration as SENSOR_CONFIG_GET returns it. */
export interface SensorConfigState {
  /** Whether the sensor is enabled (bit 0). */
  readonly enabled: boolean;
  /** Whether its readings carry timestamps (bit 1). */
  readonly timestamps: boolean;
  /** Its update interval (31:16 secs, 15:11 exponent); `undefined` when secs is 0 (none). */
  readonly updateInterval: SensorUpdateInterval | undefined;
  /** The whole sensor_config word. */
  readonly raw: number;
}

/**
 * A configuration to set with {@link SensorProtocol.configSet}. A key not listed here (a misspelt
 * `timestamp`) is refused `E_ARGUMENT`, nothing sent. A configuration read with `configGet` can
 * be changed and set again as it is: its `raw` is taken and ignored (the fields are sent).
 *
 * @example
 * ```ts
 * await sensor.configSet(2, { enabled: true, updateInterval: { secs: 5, exponent: -1 } });
 * const state = await sensor.configGet(2);
 * await sensor.configSet(2, { ...state, enabled: false }); // the other fields kept
 * ```
 */
export interface SensorConfigSettings {
  /** Enable (true) or disable the sensor (bit 0). */
  readonly enabled: boolean;
  /**
   * Timestamp its readings (bit 1); default false. SENSOR_CONFIG_SET sets every field: read the
   * current configuration with {@link SensorProtocol.configGet} to keep one.
   */
  readonly timestamps?: boolean;
  /**
   * A new update interval (31:11); default (or `undefined`, as `configGet` gives for none): the
   * platform keeps the current one (secs 0).
   */
  readonly updateInterval?: SensorUpdateInterval | undefined;
  /**
   * How the platform rounds an update interval it does not support (10:9): `'down'` (default),
   * `'up'` or `'nearest'` (Linux's ROUND_AUTO). Sent only with `updateInterval`.
   */
  readonly round?: 'down' | 'up' | 'nearest';
  /**
   * Ignored: there so that a {@link SensorConfigState} read with `configGet` is settings as it
   * is. The fields above are what is sent; to send a raw sensor_config word, pass the number to
   * `configSet` itself.
   */
  readonly raw?: number;
}

/** The keys {@link SensorProtocol.read} takes in its options (others are refused). */
const READ_KEYS = optionKeys<SensorReadOptions>({ async: true });

/** The keys of {@link SensorConfigSettings} (others are refused). */
const SETTINGS_KEYS = optionKeys<SensorConfigSettings>({
  enabled: true,
  timestamps: true,
  updateInterval: true,
  round: true,
  raw: true,
});

/**
 * The Sensor management protocol client (Linux `sensors.c`, `scmi_sensor_proto_ops`): the sensors
 * the platform described at init (units, trip points, timestamps, extended attributes, axes,
 * update intervals), readings (synchronous or with a delayed response; multi-axis and timestamped
 * at version 3.0), trip points, configuration, and the SENSOR_TRIP_POINT_EVENT and SENSOR_UPDATE
 * notifications.
 *
 * @example
 * ```ts
 * const sensor = agent.protocol(sensorProtocolDriver);
 * const temp = sensor.domains.list.find((s) => s.name === 'soc-temp');
 * if (temp !== undefined) {
 *   const value = await sensor.readValue(temp.id); // asynchronous when the sensor announces it
 *   console.log(sensorValueText(value, temp.unitExponent, temp.type)); // '45.000 °C'
 *   await sensor.setTripPoint(temp.id, 0, 60_000n);
 * }
 * ```
 */
export class SensorProtocol {
  readonly #ph: ProtocolHandle;
  /**
   * The sensors, as the platform described them at init. Ids are indexes (0 to `count − 1`): a
   * descriptor whose id is not its index is recorded as a failure of that index (malformed).
   */
  public readonly domains: DomainTable<SensorInfo>;
  /** What PROTOCOL_ATTRIBUTES told at init. */
  public readonly attributes: SensorProtocolAttributes;

  readonly #notifyChecks: NotifyChecks;

  private constructor(
    ph: ProtocolHandle,
    attributes: SensorProtocolAttributes,
    domains: DomainTable<SensorInfo>,
    notifyChecks: NotifyChecks,
  ) {
    this.#ph = ph;
    this.attributes = attributes;
    this.domains = domains;
    this.#notifyChecks = notifyChecks;
  }

  /**
   * The notify commands (SENSOR_TRIP_POINT_NOTIFY, SENSOR_CONTINUOUS_UPDATE_NOTIFY, by message id)
   * whose PROTOCOL_MESSAGE_ATTRIBUTES check at init failed — a timeout, an error status other than
   * NOT_FOUND, a malformed reply — with the error. Such a command is left out for the agent's life
   * all the same, as Linux leaves it: no domain announces its notification, and a refused
   * subscription names this error (its `cause`). Empty when the platform answered every check.
   */
  public get notifyCheckErrors(): ReadonlyMap<number, unknown> {
    return this.#notifyChecks.errors;
  }

  /**
   * Reads PROTOCOL_ATTRIBUTES, checks which notify commands the platform implements, and
   * describes every sensor, as Linux's `scmi_sensors_protocol_init` does.
   *
   * @throws the PROTOCOL_ATTRIBUTES or SENSOR_DESCRIPTION_GET failure (the driver then fails to
   * initialize, and the agent goes on without it); a sensor's own failure (its axes, an id out of
   * place) is recorded in {@link SensorProtocol.domains}.
   * @internal
   */
  public static async create(ph: ProtocolHandle): Promise<SensorProtocol> {
    const returns = await ph.xfer.transact(0x1, undefined, { rxSize: 16 });
    const [sensors, maxPendingAsync, registerAddress, registerLength] = ph.xfer.decode(
      returns,
      (r) => {
        const word = r.u32();
        return [word & 0xffff, (word >>> 16) & 0xff, r.u64(), r.u32()] as const;
      },
    );
    const checks = await NotifyChecks.run(ph, [
      SensorMessageId.TRIP_POINT_NOTIFY,
      SensorMessageId.CONTINUOUS_UPDATE_NOTIFY,
    ]);
    const attributes: SensorProtocolAttributes = {
      sensors,
      maxPendingAsync,
      registerAddress,
      registerLength,
      tripPointNotify: checks.implemented(SensorMessageId.TRIP_POINT_NOTIFY),
      continuousUpdateNotify: checks.implemented(SensorMessageId.CONTINUOUS_UPDATE_NOTIFY),
    };
    const domains = await describeSensors(ph, sensors, attributes.continuousUpdateNotify);
    return new SensorProtocol(ph, attributes, domains, checks);
  }

  /** The protocol version in use (major 31:16, minor 15:0). */
  public get version(): number {
    return this.#ph.version;
  }

  /** Where {@link SensorProtocol.version} comes from. */
  public get versionSource(): ProtocolVersionSource {
    return this.#ph.versionSource;
  }

  /**
   * Subscribes `handler` to SENSOR_TRIP_POINT_EVENT, decoded ({@link decodeSensorTripPointEvent}):
   * a trip point of a sensor crossed. `options.source` is a sensor id (every sensor that announces
   * trip points when omitted), `options.signal` ends the subscription. Resolves to the function
   * that ends it. The trip points themselves are set with {@link SensorProtocol.setTripPoint}.
   *
   * @throws (rejects) as `agent.events.subscribe` (`E_NOT_SUPPORTED`, nothing sent, for a sensor
   * without trip points or without a P2A channel; ScmiError `E_ARGUMENT` for a source that is not
   * a sensor, or `handler` not a function).
   * @example
   * ```ts
   * await sensor.onTripPoint((e) => console.log(e.sensorId, e.tripPointId, e.ascending), {
   *   source: 0,
   * });
   * ```
   */
  public onTripPoint(
    handler: ProtocolEventHandler<SensorTripPointEvent>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      SENSOR_TRIP_POINT_EVENT,
      (n) => decodeSensorTripPointEvent(n.payload),
      handler,
      options,
      'onTripPoint',
    );
  }

  /**
   * Subscribes `handler` to SENSOR_UPDATE, decoded ({@link decodeSensorUpdate}): the readings a
   * sensor sends every update interval while its continuous updates are on. As
   * {@link SensorProtocol.onTripPoint} otherwise (a sensor without continuous updates refuses).
   */
  public onUpdate(
    handler: ProtocolEventHandler<SensorUpdate>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      SENSOR_UPDATE,
      (n) => decodeSensorUpdate(n.payload),
      handler,
      options,
      'onUpdate',
    );
  }

  /**
   * This client with `options` applied to every command its methods send: `timeoutMs` bounds
   * each command's response instead of the agent's `rxTimeoutMs`, and `signal` gives the
   * commands in flight up when it fires (see {@link CallOptions}). The view shares everything
   * else with this client (its domains, its state, its channel); calls on this client itself are
   * unchanged. A view of a view keeps the signals of both and the newer timeout.
   *
   * @throws ScmiError `E_ARGUMENT` for options that are not an object, hold a key
   * {@link CallOptions} does not have, a `timeoutMs` that is not a positive number or a `signal`
   * that is not an `AbortSignal` (see {@link ProtocolHandle.withCallOptions}).
   * @example
   * ```ts
   * const controller = new AbortController();
   * process.once('SIGINT', () => controller.abort(new Error('interrupted')));
   * const sensor = agent.protocol(sensorProtocolDriver).withCallOptions({
   *   timeoutMs: 200,
   *   signal: controller.signal,
   * });
   * console.log(await sensor.readValue(0));
   * ```
   */
  public withCallOptions(options: CallOptions): SensorProtocol {
    return new SensorProtocol(
      this.#ph.withCallOptions(options),
      this.attributes,
      this.domains,
      this.#notifyChecks,
    );
  }

  /**
   * SENSOR_READING_GET: every reading of sensor `id`, one per axis (one for a scalar sensor), as
   * Linux's `scmi_sensor_reading_get_timestamped`. Asynchronous when the sensor announces it (see
   * {@link SensorReadOptions.async}): resolves once the delayed response came, whose sensor_id
   * must be `id`. Before version 2.0 a reading is a value alone (timestamp 0).
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a sensor, `options` that
   * are not an object (`null`) or hold a key {@link SensorReadOptions} does not have, or an
   * `async` that is neither a boolean nor left out; `E_DOMAIN_UNAVAILABLE` for a sensor the
   * platform did not describe; ScmiStatusError for an error status (NOT_SUPPORTED for a disabled
   * sensor, BUSY…); ScmiMalformedError (counted in `diagnostics.malformedReplies`) for a reply
   * shorter than its readings (`E_TRUNCATED`) or a delayed response about another sensor
   * (`E_SENSOR_ID`, Linux -EPROTO); ScmiTransportError `E_NOT_SUPPORTED` (nothing sent) for `async: true` on an
   * agent without a P2A channel; the error of a failed transfer (a delayed response that never
   * came: ScmiTimeoutError).
   */
  public async read(id: number, options: SensorReadOptions = {}): Promise<SensorReading[]> {
    const count = this.#ph.version >>> 16 >= 2 ? Math.max(1, this.domains.info(id).axes.length) : 1;
    return this.#read(id, options, (r) => {
      const readings: SensorReading[] = [];
      for (let i = 0; i < count; i++) readings.push(this.#reading(r));
      return readings;
    });
  }

  /**
   * SENSOR_READING_GET, the value alone: the reading of a scalar sensor, or of the first axis of
   * a multi-axis one, its timestamp dropped, as Linux's `scmi_sensor_reading_get`.
   *
   * @throws as {@link SensorProtocol.read}.
   */
  public async readValue(id: number, options: SensorReadOptions = {}): Promise<bigint> {
    return this.#read(id, options, (r) => BigInt.asIntN(64, r.u64()));
  }

  /**
   * SENSOR_TRIP_POINT_CONFIG: arms trip point `tripPointId` of sensor `id` at `value` (a signed
   * 64-bit value in the sensor's unit; a bigint, or a safe integer), reporting crossings in
   * `mode` (default `'both'`, as Linux's `scmi_sensor_trip_point_config` always sends).
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a sensor, a trip point id
   * that is not one of the sensor's, a value outside −2^63 … 2^64 − 1 (a value from 2^63 is taken
   * as its two's complement bits) or an unknown mode; otherwise as {@link SensorProtocol.read}.
   */
  public async setTripPoint(
    id: number,
    tripPointId: number,
    value: bigint | number,
    mode: SensorTripPointMode = 'both',
  ): Promise<void> {
    const info = this.domains.info(id);
    if (!Number.isInteger(tripPointId) || tripPointId < 0 || tripPointId >= info.tripPoints) {
      const givenId: unknown = tripPointId;
      if (typeof givenId !== 'number') {
        throw new ScmiError(
          'E_ARGUMENT',
          `trip point id must be a number, got ${describeArg(givenId)}`,
        );
      }
      throw new ScmiError(
        'E_ARGUMENT',
        info.tripPoints === 0
          ? `trip point ${formatValue(tripPointId)}: sensor ${id} has no trip points`
          : `trip point ${formatValue(tripPointId)} is not one of sensor ${id}'s ${info.tripPoints} (0 to ${info.tripPoints - 1})`,
      );
    }
    // Checked at run time: a JavaScript caller gets past the type.
    const given: unknown = mode;
    if (typeof given !== 'string' || !Object.hasOwn(TRIP_MODES, given)) {
      throw new ScmiError(
        'E_ARGUMENT',
        `trip point mode ${formatValue(given)} is not one of ${Object.keys(TRIP_MODES).join(', ')}`,
      );
    }
    const bits = s64Bits(value, 'trip point value');
    await this.#ph.xfer.transact(
      SensorMessageId.TRIP_POINT_CONFIG,
      (w) =>
        w
          .u32(id)
          .u32(TRIP_MODES[mode] | (tripPointId << 4))
          .u64(bits),
      { txSize: 16, rxSize: 0 },
    );
  }

  /**
   * SENSOR_TRIP_POINT_CONFIG with event control 0: disarms trip point `tripPointId` of sensor `id`.
   *
   * @throws as {@link SensorProtocol.setTripPoint}.
   */
  public async disableTripPoint(id: number, tripPointId: number): Promise<void> {
    await this.setTripPoint(id, tripPointId, 0n, 'disabled');
  }

  /**
   * SENSOR_TRIP_POINT_NOTIFY: asks the platform to send (or stop sending) SENSOR_TRIP_POINT_EVENT
   * for sensor `id`. Subscribing through `agent.events` sends it for you; this is the raw command,
   * which goes around the hub: disabling here what a subscription holds silences it.
   *
   * @throws as {@link SensorProtocol.read}.
   */
  public async tripPointNotify(id: number, enable: boolean): Promise<void> {
    await this.#notify(SensorMessageId.TRIP_POINT_NOTIFY, id, enable);
  }

  /**
   * SENSOR_CONTINUOUS_UPDATE_NOTIFY: asks the platform to send (or stop sending) SENSOR_UPDATE
   * for sensor `id` at every update interval. Subscribing through `agent.events` sends it for
   * you; this is the raw command,
   * which goes around the hub: disabling here what a subscription holds silences it.
   *
   * @throws as {@link SensorProtocol.read}.
   */
  public async continuousUpdateNotify(id: number, enable: boolean): Promise<void> {
    await this.#notify(SensorMessageId.CONTINUOUS_UPDATE_NOTIFY, id, enable);
  }

  /**
   * SENSOR_CONFIG_GET: the configuration of sensor `id` (enabled, timestamps, update interval).
   *
   * @throws as {@link SensorProtocol.read} (a reply without its config word: `E_TRUNCATED`).
   */
  public async configGet(id: number): Promise<SensorConfigState> {
    this.domains.info(id);
    const returns = await this.#ph.xfer.transact(SensorMessageId.CONFIG_GET, (w) => w.u32(id), {
      txSize: 4,
      rxSize: 4,
    });
    const raw = this.#ph.xfer.decode(returns, (r) => r.u32());
    const secs = raw >>> 16;
    return {
      enabled: (raw & CONFIG_ENABLED) !== 0,
      timestamps: (raw & CONFIG_TIMESTAMPS) !== 0,
      updateInterval: secs === 0 ? undefined : { secs, exponent: signed5(raw >>> 11) },
      raw,
    };
  }

  /**
   * SENSOR_CONFIG_SET: sets the configuration of sensor `id`, from settings or as a raw
   * sensor_config word (a negative 32-bit number is taken as its bits). An update interval of 0 s
   * leaves the interval as it is: its exponent and the rounding are then not sent (bits 31:9 0).
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a sensor, a `config` that
   * is neither a number nor settings, a raw word that is not a 32-bit value, settings that hold a
   * key {@link SensorConfigSettings} does not have, settings whose `enabled` is not a boolean (or
   * `timestamps` neither a boolean nor left out), an update interval that is not
   * `{ secs, exponent }` or whose secs is not 0 … 0xFFFF or exponent not −16 … 15, or an unknown
   * rounding; otherwise as {@link SensorProtocol.read} (the platform answers NOT_SUPPORTED for
   * what the sensor cannot do, INVALID_PARAMETERS for an interval it does not support).
   */
  public async configSet(id: number, config: SensorConfigSettings | number): Promise<void> {
    this.domains.info(id);
    const given: unknown = config;
    let word: number;
    if (typeof given === 'number') word = u32Bits(given, 'sensor config');
    else if (typeof given === 'object' && given !== null && !Array.isArray(given))
      word = configWord(
        objectArg(config as SensorConfigSettings, SETTINGS_KEYS, 'sensor config settings'),
      );
    else
      throw new ScmiError(
        'E_ARGUMENT',
        `sensor config must be a number or settings, got ${describeArg(given)}`,
      );
    await this.#ph.xfer.transact(SensorMessageId.CONFIG_SET, (w) => w.u32(id).u32(word), {
      txSize: 8,
      rxSize: 0,
    });
  }

  /**
   * One reading: value and timestamp from version 2.0 (SCMI v3.0's Sensor protocol, SCP-firmware's
   * SENSOR_V2 `{value_low, value_high, timestamp_low, timestamp_high}` per axis; Linux's
   * `reading_get_timestamped` reads that layout whatever the version), the value alone before.
   */
  #reading(r: PayloadReader): SensorReading {
    return this.#ph.version >>> 16 >= 2
      ? readReading(r)
      : { value: BigInt.asIntN(64, r.u64()), timestamp: 0n };
  }

  async #read<T>(
    id: number,
    options: SensorReadOptions,
    read: (r: PayloadReader) => T,
  ): Promise<T> {
    const info = this.domains.info(id);
    const o = objectArg(options, READ_KEYS, 'sensor read options');
    const async = boolOption(o.async, 'async') ?? (info.asyncRead && this.#ph.p2a);
    const size =
      this.#ph.version >>> 16 >= 2 ? READING_SIZE * Math.max(1, info.axes.length) : V1_READING;
    const returns = await this.#ph.xfer.transact(
      SensorMessageId.READING_GET,
      (w) => w.u32(id).u32(async ? READ_ASYNC : 0),
      { txSize: 8, rxSize: async ? 0 : size, async },
    );
    return this.#ph.xfer.decode(returns, (r) => {
      if (async) {
        const about = r.u32();
        if (about !== id) {
          throw new ScmiMalformedError(
            `SENSOR_READING_GET delayed response: sensor ${about}, for a reading of sensor ${id}`,
            'E_SENSOR_ID',
          );
        }
      }
      return read(r);
    });
  }

  async #notify(messageId: number, id: number, enable: boolean): Promise<void> {
    await sendNotify(this.#ph, this.domains, messageId, id, enable);
  }
}

/** A signed 64-bit value's two's complement bits (a value from 2^63 to 2^64 − 1 taken as is). */
function s64Bits(value: bigint | number, what: string): bigint {
  const given: unknown = value;
  if (typeof given !== 'bigint' && typeof given !== 'number') {
    throw new ScmiError(
      'E_ARGUMENT',
      `${what} must be a bigint or a number, got ${describeArg(given)}`,
    );
  }
  if (!(typeof given === 'bigint' || Number.isSafeInteger(given))) {
    throw new ScmiError(
      'E_ARGUMENT',
      `${what} ${formatValue(given)} is not a whole number (a bigint, or a safe integer)`,
    );
  }
  const v = BigInt(given);
  if (v < -(1n << 63n) || v >= 1n << 64n) {
    throw new ScmiError('E_ARGUMENT', `${what} ${v} is not from -2^63 to 2^64 - 1`);
  }
  return BigInt.asUintN(64, v);
}

/** The sensor_config word of `config`. */
function configWord(config: SensorConfigSettings): number {
  // Checked at run time: a JavaScript caller gets past the types, and a truthy 'false' would
  // enable what it meant to disable.
  let word =
    (boolArg(config.enabled, 'enabled') ? CONFIG_ENABLED : 0) |
    (boolOption(config.timestamps, 'timestamps') === true ? CONFIG_TIMESTAMPS : 0);
  const round: unknown = config.round ?? 'down';
  if (round !== 'down' && round !== 'up' && round !== 'nearest') {
    throw new ScmiError('E_ARGUMENT', `rounding ${formatValue(round)} is not down, up or nearest`);
  }
  const interval: unknown = config.updateInterval;
  if (interval === undefined) return word >>> 0;
  if (typeof interval !== 'object' || interval === null) {
    throw new ScmiError(
      'E_ARGUMENT',
      `update interval must be { secs, exponent }, not ${interval === null ? 'null' : typeof interval}`,
    );
  }
  const bits = intervalConfigBits(interval as SensorUpdateInterval);
  // secs 0 leaves the interval as it is: bits 31:9 (interval and rounding) then stay 0, as the
  // specification asks of them.
  if (bits >>> 16 === 0) return word >>> 0;
  word |= bits;
  if (round === 'up') word |= CONFIG_ROUND_UP;
  else if (round === 'nearest') word |= CONFIG_ROUND_AUTO;
  return word >>> 0;
}

/**
 * The source of a SENSOR_UPDATE — its sensor, when that is one of the sensors — and a check of its
 * shape: whole 16-byte readings, as many as the sensor has axes (one for a scalar sensor) when the
 * platform described it. Anything else is not delivered (the hub counts it in `sourceErrors`), so
 * a handler's {@link decodeSensorUpdate} never meets a reading cut short, nor fewer readings than
 * the sensor's axes (Linux reads that many whatever arrived).
 */
function updateSource(domains: DomainTable<SensorInfo>): (payload: Uint8Array) => number {
  const sensorOf = domainSource(domains.count, 'sensor');
  return (payload) => {
    const id = sensorOf(payload);
    const bytes = payload.length - UPDATE_HEADER;
    const expected = domains.failures.has(id)
      ? undefined
      : Math.max(1, domains.info(id).axes.length);
    if (
      bytes % READING_SIZE !== 0 ||
      (expected !== undefined && bytes / READING_SIZE !== expected)
    ) {
      throw new ScmiError(
        'E_SOURCE',
        `a SENSOR_UPDATE of sensor ${id} with ${bytes} bytes of readings (${expected ?? 'whole'} 16-byte readings expected)`,
      );
    }
    return id;
  };
}

/**
 * The Sensor management protocol driver: bind it to core's `PROTOCOL_DRIVER` (or load
 * `protocolsModule`), and `agent.protocol(sensorProtocolDriver)` is the {@link SensorProtocol}.
 * Version 3.1 (3.0's multi-axis timestamped readings, extended names, update intervals,
 * configuration; 3.1, SCMI v3.2, changes no layout), as Linux's `sensors.c` (0x30001).
 * SENSOR_TRIP_POINT_EVENT (exactly 12 bytes) and SENSOR_UPDATE (8 bytes and 1 to 63 readings of
 * 16) are registered with the agent's notification hub, one source per sensor.
 *
 * @example
 * ```ts
 * container.load(new ContainerModule(({ bind }) => {
 *   bind(PROTOCOL_DRIVER).toConstantValue(sensorProtocolDriver);
 * }));
 * const agent = await createAgent(container, options);
 * const [reading] = await agent.protocol(sensorProtocolDriver).read(0);
 * ```
 */
export const sensorProtocolDriver: ProtocolDriver<SensorProtocol> = {
  protocolId: ScmiProtocolId.SENSOR,
  name: 'sensor',
  version: 0x30001,
  messageNames: SensorMessageId,
  async init(ph) {
    const sensor = await SensorProtocol.create(ph);
    ph.registerEvents([
      perDomainEvent({
        id: SENSOR_TRIP_POINT_EVENT,
        name: 'sensor-trip-point',
        payload: TRIP_EVENT_PAYLOAD,
        domains: sensor.domains,
        what: 'sensor',
        // Linux's scmi_sensor_notify_supported: any sensor, when the command is implemented.
        supported: () => sensor.attributes.tripPointNotify,
        send: (id, enable) => sensor.tripPointNotify(id, enable),
        checkFailure: checkFailureOf(
          sensor.notifyCheckErrors,
          SensorMessageId.TRIP_POINT_NOTIFY,
          'SENSOR_TRIP_POINT_NOTIFY',
        ),
      }),
      perDomainEvent({
        id: SENSOR_UPDATE,
        name: 'sensor-update',
        // Linux bounds only the maximum (SCMI_MAX_NUM_SENSOR_AXIS readings) and reads the sensor's
        // readings whatever arrived; here one reading at least must have arrived.
        payload: [UPDATE_HEADER + READING_SIZE, UPDATE_HEADER + SENSOR_MAX_AXES * READING_SIZE],
        domains: sensor.domains,
        what: 'sensor',
        supported: (s) => s.continuousUpdates,
        send: (id, enable) => sensor.continuousUpdateNotify(id, enable),
        checkFailure: checkFailureOf(
          sensor.notifyCheckErrors,
          SensorMessageId.CONTINUOUS_UPDATE_NOTIFY,
          'SENSOR_CONTINUOUS_UPDATE_NOTIFY',
        ),
        sourceOf: updateSource(sensor.domains),
      }),
    ]);
    return sensor;
  },
};
