import { ScmiProtocolId, ScmiStatus, type TimerHandle } from '@scmi-ts/core';
import type { SensorAxisConfig, SensorConfig } from '../../config/platform-config.js';
import { isIntervalList } from '../../config/validate-platform-config.js';
import type { AgentSession } from '../../platform/agent-session.js';
import {
  concat,
  domainCheck,
  extendedName,
  fail,
  needsExtendedName,
  ok,
  readNotifyEnable,
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
import { roundToSupported, type SupportedRange } from '../round-to-supported.js';
import { SensorMessageId, SensorNotificationId } from './sensor-message-id.js';
import { sensorReading } from './sensor-reading.js';
import {
  intervalConfigBits,
  intervalEntry,
  intervalFromWire,
  intervalToWireNearest,
  signed5,
  type WireInterval,
} from './update-interval.js';

interface TripPoint {
  readonly mode: number;
  readonly value: bigint;
}

/** The configuration an agent changes with SENSOR_CONFIG_SET. */
interface SensorState {
  enabled: boolean;
  /** Timestamp reporting (SENSOR_CONFIG bit 1), for sensors with timestamps. */
  timestamping: boolean;
  /** The update interval in whole µs, for sensors with update intervals. */
  intervalUs: number | undefined;
}

/** A sensor's update intervals in whole µs. */
type Intervals = readonly number[] | SupportedRange;

const toUs = (ms: number): number => Math.round(ms * 1000);

function intervalsUs(s: SensorConfig): Intervals | undefined {
  const intervals = s.updateIntervalsMs;
  if (intervals === undefined) return undefined;
  if (isIntervalList(intervals)) return intervals.map(toUs);
  return { min: toUs(intervals.min), max: toUs(intervals.max), step: toUs(intervals.step) };
}

/** The readings of sensor `s`: one per axis, or one for a scalar sensor. */
function readingCount(s: SensorConfig): number {
  return s.axes?.length ?? 1;
}

/** One reading on the wire: value_low, value_high, timestamp_low, timestamp_high. */
const READING = 16;

/** Return values of an asynchronous reading's delayed response: sensor_id, then the readings. */
function asyncReadingSize(s: SensorConfig): number {
  return 4 + READING * readingCount(s);
}

/** Payload of a SENSOR_UPDATE notification: agent_id, sensor_id, then the readings. */
function updateSize(s: SensorConfig): number {
  return 8 + READING * readingCount(s);
}

/**
 * The wire form of an interval the configuration lists (validation checked each list entry and a
 * range's bounds and step), or of the one in force: a range member between the bounds may have
 * no exact form, and then reports the nearest.
 */
function wire(us: number): WireInterval {
  return intervalToWireNearest(us);
}

const DESCRIPTOR = 28;
const AXIS_DESCRIPTOR = 28;
const AXIS_NAME = 4 + 64;
/** num_axis_flags: 5:0 returned, 31:26 remaining (Linux `sensors.c` NUM_AXIS_RETURNED/REMAINING). */
const MAX_AXIS_ENTRIES = 0x3f;
const TAG = 'sensor';
/** attributes_low bit 29: extended name (SENSOR_NAME_GET); axis attributes_low bit 9 likewise. */
const EXTENDED_NAME = 1 << 29;
const AXIS_EXTENDED_NAME = 1 << 9;
/** attributes_high bit 8: the sensor has axes, 21:16 how many; bit 9: extended axis names. */
const AXIS_SUPPORT = 1 << 8;
const EXTENDED_AXIS_NAMES = 1 << 9;
/** Noise seed offset of axis k: seed + sensor id + AXIS_SEED × k. */
const AXIS_SEED = 0x10000;
/** attributes_low bit 9: timestamps; 14:10 their signed power-of-ten exponent (default µs). */
const TIMESTAMPS = 1 << 9;
const TS_EXPONENT = -6;
/** SENSOR_CONFIG bits (Linux `scmi_protocol.h` SCMI_SENS_CFG_*). */
const CONFIG_ENABLED = 1;
const CONFIG_TIMESTAMPS = 1 << 1;
const CONFIG_RESERVED = 0x1fc;
const ROUND_UP = 1 << 9;
const ROUND_AUTO = 1 << 10;
/** attributes_low bit 30: continuous updates (SENSOR_CONTINUOUS_UPDATE_NOTIFY). */
const CONTINUOUS_UPDATES = 1 << 30;
/** Payload of SENSOR_TRIP_POINT_EVENT as posted: agent_id, sensor_id, trip_point_desc. */
const TRIP_POINT_EVENT = 12;
/** num_intervals_flags bit 12: one segmented triplet (min, max, step). */
const SEGMENTED = 1 << 12;

/** A reading as two words, two's complement. */
function valueWords(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
}

/** attributes_high type (7:0) and signed unit exponent (15:11). */
function unitBits(type: number, exponent: number): number {
  return (type & 0xff) | ((exponent & 0x1f) << 11);
}

/**
 * Sensor protocol (0x15), version 3.1 (SCMI v3.2; 3.0 without version negotiation, see
 * `reportedVersion`; 3.1 only adds NEGOTIATE_PROTOCOL_VERSION, so an agent that negotiates
 * 3.0 is answered alike): descriptions, multi-axis sensors (axis descriptions and
 * names), extended names, synchronous and asynchronous readings (delayed response 0x6) with
 * optional timestamps, trip points, configuration (enable, timestamps, update interval) and
 * continuous updates (SENSOR_UPDATE every update interval, one timer per sensor). Readings follow each sensor's (or axis') value generator on the
 * platform clock. A sensor disabled with SENSOR_CONFIG_SET is not read: SENSOR_READING_GET answers
 * NOT_SUPPORTED, as NXP's System Manager answers (`DEV_SM_SensorReadingGet`:
 * SM_ERR_NOT_SUPPORTED); SCP-firmware's sensor module refuses the read
 * (`module/sensor/src/mod_sensor.c`, get_data: FWK_E_SUPPORT) but its SCMI module answers SUCCESS
 * with its cached reading. Its SENSOR_UPDATE timer stops and its trip points are not sampled. Trip
 * points are kept per agent (a sensor without any answers SENSOR_TRIP_POINT_CONFIG and an enabling
 * SENSOR_TRIP_POINT_NOTIFY NOT_SUPPORTED); while any is armed on an enabled sensor and its agent
 * subscribed, the sensors are sampled every `sensorPollMs` and a crossing sends
 * SENSOR_TRIP_POINT_EVENT to that agent. Both events carry agent_id 0: the platform causes them,
 * not an agent (SCP-firmware's `scmi_sensor_notify_trip_point`,
 * module/scmi_sensor/src/mod_scmi_sensor.c, sends 0).
 * @internal
 */
export class SensorProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.SENSOR;
  public readonly version: number;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #sensors: readonly SensorConfig[];
  readonly #state: SensorState[];
  /** agent id → sensor id → trip id → trip point. */
  readonly #trips = new Map<number, Map<number, Map<number, TripPoint>>>();
  readonly #samples = new Map<number, bigint>();
  #monitor: TimerHandle | undefined;
  /** sensor id → the supported update intervals in µs (sensors that have any). */
  readonly #intervals = new Map<number, Intervals>();
  /** sensor id → the timer of its next SENSOR_UPDATE. */
  readonly #updates = new Map<number, TimerHandle>();

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.version = reportedVersion(services, 0x30001);
    this.#sensors = services.config.sensors ?? [];
    this.#state = this.#sensors.map((s, id) => {
      const intervals = intervalsUs(s);
      if (intervals !== undefined) this.#intervals.set(id, intervals);
      return {
        enabled: s.enabled !== false,
        timestamping: s.timestamps === true,
        intervalUs: s.updateIntervalMs === undefined ? undefined : toUs(s.updateIntervalMs),
      };
    });
    this.messages = new Map<number, MessageHandler>([
      [SensorMessageId.DESCRIPTION_GET, { size: 4, run: (req) => this.#describe(req) }],
      [SensorMessageId.TRIP_POINT_NOTIFY, { size: 8, p2a: true, run: (req) => this.#notify(req) }],
      [SensorMessageId.TRIP_POINT_CONFIG, { size: 16, run: (req) => this.#configTrip(req) }],
      [SensorMessageId.READING_GET, { size: 8, run: (req) => this.#read(req) }],
      [SensorMessageId.AXIS_DESCRIPTION_GET, { size: 8, run: (req) => this.#describeAxes(req) }],
      [SensorMessageId.LIST_UPDATE_INTERVALS, { size: 8, run: (req) => this.#listIntervals(req) }],
      [SensorMessageId.CONFIG_GET, { size: 4, run: (req) => this.#getConfig(req) }],
      [SensorMessageId.CONFIG_SET, { size: 8, run: (req) => this.#setConfig(req) }],
      [
        SensorMessageId.CONTINUOUS_UPDATE_NOTIFY,
        { size: 8, p2a: true, run: (req) => this.#notifyUpdates(req) },
      ],
      [SensorMessageId.NAME_GET, { size: 4, run: (req) => this.#name(req) }],
      [SensorMessageId.AXIS_NAME_GET, { size: 8, run: (req) => this.#axisNames(req) }],
    ]);
  }

  /** The current reading of sensor `id` (of its first axis for a multi-axis sensor). */
  public reading(id: number): number {
    return this.#axisReading(id, 0);
  }

  /** The current reading of axis `axis` of sensor `id` (axis 0 of a scalar sensor: its value). */
  #axisReading(id: number, axis: number): number {
    const s = this.#sensors[id] as SensorConfig;
    const generator = s.axes?.[axis]?.value ?? s.value;
    const elapsed = this.#p.clock.now() - this.#p.startedAt;
    return sensorReading(generator, elapsed, this.#p.seed + id + AXIS_SEED * axis);
  }

  /**
   * SENSOR_READING_GET return values: {value_low, value_high, ts_low, ts_high} per axis; the
   * timestamp words are 0 unless the sensor has timestamps and reporting is enabled.
   */
  #readings(id: number): number[] {
    const s = this.#sensors[id] as SensorConfig;
    const ts = (this.#state[id] as SensorState).timestamping
      ? valueWords(this.#timestamp(s.timestampExponent ?? TS_EXPONENT))
      : [0, 0];
    const out: number[] = [];
    for (let axis = 0; axis < readingCount(s); axis++) {
      out.push(...valueWords(BigInt(this.#axisReading(id, axis))), ...ts);
    }
    return out;
  }

  /** Time since the platform started, in units of 10^exponent s (whole µs, then scaled). */
  #timestamp(exponent: number): bigint {
    const us = BigInt(Math.max(0, Math.floor((this.#p.clock.now() - this.#p.startedAt) * 1000)));
    const shift = exponent + 6;
    return shift <= 0 ? us * 10n ** BigInt(-shift) : us / 10n ** BigInt(shift);
  }

  /** Enable state of every sensor. */
  public enabled(): readonly boolean[] {
    return this.#state.map((s) => s.enabled);
  }

  /** Whether the trip-point monitor timer is armed. */
  public get monitoring(): boolean {
    return this.#monitor !== undefined;
  }

  /** The update interval of every sensor in ms (undefined: it has none). */
  public updateIntervals(): readonly (number | undefined)[] {
    return this.#state.map((s) => (s.intervalUs === undefined ? undefined : s.intervalUs / 1000));
  }

  /**
   * max_pending_async (bits 23:16): `maxPendingAsync` only where some sensor can be read
   * asynchronously on the link of `req` (`#asyncReadable`). Without a P2A channel, on a link too
   * small for every asynchronous sensor's delayed response, or with no sensor that reads
   * asynchronously, no asynchronous SENSOR_READING_GET can ever be answered, so the platform
   * supports none pending and says 0, as SCP-firmware does where it refuses them all
   * (`module/scmi_sensor/src/mod_scmi_sensor.c`: scmi_sensor_protocol_attributes_handler returns
   * the sensor count alone, scmi_sensor_reading_get_handler answers NOT_SUPPORTED to the async
   * flag).
   */
  public attributes(req: PlatformRequest): Reply {
    const readable = this.#sensors.some((s) => this.#asyncReadable(req, s));
    const pending = readable ? this.#p.behaviour.maxPendingAsync & 0xff : 0;
    return ok(words((this.#sensors.length & 0xffff) | (pending << 16), 0, 0, 0));
  }

  /**
   * Whether sensor `s` reads asynchronously on the link of `req` (SENSOR_DESCRIPTION_GET bit 31):
   * it is configured so, the link has a P2A channel, and its delayed response (sensor_id and the
   * readings after the status) fits the link (see PlatformServices.delayedFits).
   */
  #asyncReadable(req: PlatformRequest, s: SensorConfig): boolean {
    return s.asyncRead === true && req.link.p2a && this.#p.delayedFits(req, asyncReadingSize(s));
  }

  public detach(agentId: number): void {
    this.#trips.delete(agentId);
    this.#rearm();
    this.#rearmUpdates();
  }

  /**
   * Timers run for agents that may use the sensor only: a sensor an agent was denied stops its
   * SENSOR_UPDATE timer and trip-point sampling (when no other agent needs them), and allowing it
   * again restarts them for the subscriptions the agent kept.
   */
  public permissionsChanged(): void {
    this.#rearm();
    this.#rearmUpdates();
  }

  #sensor(req: PlatformRequest, use: boolean): [number, SensorConfig] | Reply {
    const id = req.r.u32();
    const bad = domainCheck(this.#p, req, 'sensor', id, this.#sensors.length, use);
    return bad ?? [id, this.#sensors[id] as SensorConfig];
  }

  #describe(req: PlatformRequest): Reply {
    const index = req.r.u32();
    const all = this.#sensors.length;
    // From the end on, as SCP-firmware (`desc_index >= sensor_count`, mod_scmi_sensor.c) and Arm's
    // scmi-tests v2 (test_m005: desc_index = total → INVALID_PARAMETERS) expect.
    if (index >= all) return fail(ScmiStatus.INVALID_PARAMETERS);
    const left = all - index;
    // num_sensor_flags: bits 11:0 the descriptors returned, 15:12 reserved, 31:16 remaining
    // (DEN0056): a link that holds more than 0xfff still gets 0xfff, the rest in the next parts.
    const n = Math.min(
      left,
      this.#p.fit(req, 4, DESCRIPTOR),
      this.#p.behaviour.multiPartMax,
      0xfff,
    );
    const parts = [words(n | ((left - n) << 16))];
    for (let id = index; id < index + n; id++) {
      const s = this.#sensors[id] as SensorConfig;
      const low =
        (this.#asyncReadable(req, s) ? 1 << 31 : 0) |
        (needsExtendedName(s.name) ? EXTENDED_NAME : 0) |
        (s.timestamps === true
          ? TIMESTAMPS | (((s.timestampExponent ?? TS_EXPONENT) & 0x1f) << 10)
          : 0) |
        (this.#intervals.has(id) && req.link.p2a && this.#p.notificationFits(req, updateSize(s))
          ? CONTINUOUS_UPDATES
          : 0) |
        (s.tripPoints ?? 0);
      const axes = s.axes ?? [];
      const high =
        unitBits(s.type, s.unitExponent ?? 0) |
        (axes.length > 0 ? AXIS_SUPPORT | (axes.length << 16) : 0) |
        (axes.some((a) => needsExtendedName(a.name)) ? EXTENDED_AXIS_NAMES : 0);
      parts.push(words(id, low, high), shortName(s.name));
    }
    return ok(concat(...parts));
  }

  /**
   * The axes of sensor `id` from index `index`, or the error: NOT_SUPPORTED for a scalar sensor,
   * as SCP-firmware's `scmi_sensor_axis_desc_get_handler`. Discovery: every sensor.
   */
  #axes(req: PlatformRequest): [number, number, readonly SensorAxisConfig[]] | Reply {
    const found = this.#sensor(req, false);
    if (!Array.isArray(found)) return found;
    const [id, s] = found;
    const index = req.r.u32();
    const axes = s.axes ?? [];
    if (axes.length === 0) return fail(ScmiStatus.NOT_SUPPORTED);
    // From the end on, as SCP-firmware's axis-description handler (`desc_index >= axis_count`).
    if (index >= axes.length) return fail(ScmiStatus.INVALID_PARAMETERS);
    return [id, index, axes];
  }

  /** Entries from `index` that fit, and the num_axis_flags word (5:0 returned, 31:26 remaining). */
  #axisPart(req: PlatformRequest, index: number, total: number, entry: number): [number, number] {
    const left = total - index;
    const n = Math.min(left, this.#p.fit(req, 4, entry), this.#p.behaviour.multiPartMax);
    return [n, (n & MAX_AXIS_ENTRIES) | ((left - n) << 26)];
  }

  #describeAxes(req: PlatformRequest): Reply {
    const found = this.#axes(req);
    if (!Array.isArray(found)) return found;
    const [, index, axes] = found;
    const [n, flags] = this.#axisPart(req, index, axes.length, AXIS_DESCRIPTOR);
    const parts = [words(flags)];
    for (let id = index; id < index + n; id++) {
      const a = axes[id] as SensorAxisConfig;
      const low = needsExtendedName(a.name) ? AXIS_EXTENDED_NAME : 0;
      parts.push(words(id, low, unitBits(a.type ?? 0, a.unitExponent ?? 0)), shortName(a.name));
    }
    return ok(concat(...parts));
  }

  /**
   * Every axis from `index` with its full name, whether or not it is longer than 15 bytes (Linux
   * picks each entry by its axis_id, `sensors.c` iter_axes_extended_name_process_response).
   */
  #axisNames(req: PlatformRequest): Reply {
    const found = this.#axes(req);
    if (!Array.isArray(found)) return found;
    const [, index, axes] = found;
    const [n, flags] = this.#axisPart(req, index, axes.length, AXIS_NAME);
    const parts = [words(flags)];
    for (let id = index; id < index + n; id++) {
      parts.push(words(id), extendedName((axes[id] as SensorAxisConfig).name).subarray(4));
    }
    return ok(concat(...parts));
  }

  #name(req: PlatformRequest): Reply {
    const found = this.#sensor(req, false);
    if (!Array.isArray(found)) return found;
    return ok(extendedName(found[1].name));
  }

  /**
   * SENSOR_TRIP_POINT_NOTIFY. A sensor without trip points has no trip point event notifications:
   * enabling them is NOT_SUPPORTED (DEN0056 §4.7.2.8, as NXP's System Manager documents it,
   * `scmi_sensor.h` SCMI_SensorTripPointNotify: "the platform does not support trip point event
   * notifications for the sensor"; SCP-firmware subscribes the agent anyway). As for
   * SENSOR_CONTINUOUS_UPDATE_NOTIFY, the flag is checked first (reserved bits INVALID_PARAMETERS on
   * any sensor) and a disable, which can post nothing, is accepted.
   */
  #notify(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const [id, s] = found;
    const on = readNotifyEnable(this.#p, req, TRIP_POINT_EVENT);
    if (typeof on !== 'boolean') return on;
    if (on && (s.tripPoints ?? 0) === 0) return fail(ScmiStatus.NOT_SUPPORTED);
    req.agent.subscribe(this.id, SensorNotificationId.TRIP_POINT_EVENT, id, on);
    this.#rearm();
    return ok();
  }

  /**
   * SENSOR_TRIP_POINT_CONFIG: after the sensor (NOT_FOUND, DENIED), reserved bits
   * (INVALID_PARAMETERS) first, as SCP-firmware's
   * `scmi_sensor_trip_point_config_handler`; then a sensor without trip points is NOT_SUPPORTED
   * (DEN0056 §4.7.2.9, NXP `scmi_sensor.h` SCMI_SensorTripPointConfig: "the platform does not
   * support trip point event notifications for the sensor"; SCP-firmware answers
   * INVALID_PARAMETERS there, its trip id check); then a trip id past the sensor's
   * (INVALID_PARAMETERS).
   */
  #configTrip(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const [id, s] = found;
    const control = req.r.u32();
    const low = req.r.u32();
    const high = req.r.i32();
    const mode = control & 3;
    const trip = (control >>> 4) & 0xff;
    const trips = s.tripPoints ?? 0;
    if ((control & ~0xff3) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (trips === 0) return fail(ScmiStatus.NOT_SUPPORTED);
    if (trip >= trips) return fail(ScmiStatus.INVALID_PARAMETERS);
    let perSensor = this.#trips.get(req.agent.id);
    if (perSensor === undefined)
      this.#trips.set(req.agent.id, (perSensor = new Map<number, Map<number, TripPoint>>()));
    let perTrip = perSensor.get(id);
    if (perTrip === undefined) perSensor.set(id, (perTrip = new Map<number, TripPoint>()));
    if (mode === 0) perTrip.delete(trip);
    else perTrip.set(trip, { mode, value: (BigInt(high) << 32n) | BigInt(low) });
    this.#rearm();
    return ok();
  }

  /**
   * NOT_SUPPORTED for a disabled sensor, which is not read; else undefined. SCP-firmware's
   * get_data (`module/sensor/src/mod_sensor.c`) refuses a disabled sensor with FWK_E_SUPPORT, the
   * status its SCMI modules answer NOT_SUPPORTED (mod_scmi_sensor.c itself does not look at it and
   * answers from the last reading it cached); NXP's System Manager answers NOT_SUPPORTED
   * (`DEV_SM_SensorReadingGet`). Checked where SCP-firmware reads the sensor: after the flags and,
   * for an asynchronous reading, after its own checks.
   */
  #notRead(id: number): Reply | undefined {
    return (this.#state[id] as SensorState).enabled ? undefined : fail(ScmiStatus.NOT_SUPPORTED);
  }

  #read(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const [id, s] = found;
    const flags = req.r.u32();
    if ((flags & ~1) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (flags === 0) return this.#notRead(id) ?? ok(wordsOf(this.#readings(id)));
    // Not advertised (SENSOR_DESCRIPTION_GET bit 31) without a P2A channel, or on a link the
    // delayed response would not fit (see PlatformServices.delayedFits): NOT_SUPPORTED, as for a
    // sensor without asynchronous reading. (SCP-firmware refuses asynchronous readings
    // altogether, NOT_SUPPORTED.)
    if (!this.#asyncReadable(req, s)) return fail(ScmiStatus.NOT_SUPPORTED);
    if (this.#p.timers.count(TAG) >= this.#p.behaviour.maxPendingAsync) {
      return fail(ScmiStatus.BUSY);
    }
    const disabled = this.#notRead(id);
    if (disabled !== undefined) return disabled;
    // Accepted while the sensor is enabled: the reading completes, even if the sensor is disabled
    // before its delayed response (the platform does not take back an accepted operation).
    const latency = s.readLatencyMs ?? this.#p.behaviour.asyncLatencyMs;
    this.#p.later(req, latency, TAG, true, () => ok(words(id, ...this.#readings(id))));
    return ok();
  }

  /**
   * SENSOR_LIST_UPDATE_INTERVALS: a list in parts (11:0 returned, 31:16 remaining), or a range as
   * one segmented triplet (bit 12; min, max, step) whatever the index, as clock rate ranges. A sensor
   * without update intervals: NOT_SUPPORTED (Linux treats the command as optional).
   */
  #listIntervals(req: PlatformRequest): Reply {
    const found = this.#sensor(req, false);
    if (!Array.isArray(found)) return found;
    const index = req.r.u32();
    const intervals = this.#intervals.get(found[0]);
    if (intervals === undefined) return fail(ScmiStatus.NOT_SUPPORTED);
    const entry = (us: number): number => intervalEntry(wire(us));
    if (!isIntervalList(intervals)) {
      const { min, max, step } = intervals;
      return ok(words(3 | SEGMENTED, entry(min), entry(max), entry(step)));
    }
    // From the end on (an index equal to the count included), as the other lists: SCP-firmware's
    // sensor description and axis handlers (`desc_index >= sensor_count`, `>= axis_count`,
    // mod_scmi_sensor.c; SCP-firmware has no SENSOR_LIST_UPDATE_INTERVALS). Linux never asks there.
    if (index >= intervals.length) return fail(ScmiStatus.INVALID_PARAMETERS);
    const left = intervals.length - index;
    const n = Math.min(left, this.#p.fit(req, 4, 4), this.#p.behaviour.multiPartMax, 0xfff);
    return ok(words(n | ((left - n) << 16), ...intervals.slice(index, index + n).map(entry)));
  }

  /** sensor_config: 31:11 update interval (0: none), 1 timestamp reporting, 0 enabled. */
  #getConfig(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const st = this.#state[found[0]] as SensorState;
    const interval = st.intervalUs === undefined ? 0 : intervalConfigBits(wire(st.intervalUs));
    const flags = (st.timestamping ? CONFIG_TIMESTAMPS : 0) | (st.enabled ? CONFIG_ENABLED : 0);
    return ok(words(interval | flags));
  }

  /**
   * sensor_config: 31:11 update interval (sec 0: keep it), 10:9 rounding with an interval (bit 10
   * set: nearest, bit 9 ignored; else bit 9 up or down), 8:2 reserved (INVALID_PARAMETERS), 1
   * timestamp reporting, 0 enable — the layout imx-sm's `SensorConfigSet` documents. What the sensor cannot do is NOT_SUPPORTED
   * ("configuration not supported by the sensor"): timestamp reporting without timestamps, an
   * update interval without update intervals. An interval outside the supported ones is
   * INVALID_PARAMETERS. Nothing changes unless every field is accepted.
   */
  #setConfig(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const [id, s] = found;
    const config = req.r.u32();
    if ((config & CONFIG_RESERVED) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    const timestamping = (config & CONFIG_TIMESTAMPS) !== 0;
    if (timestamping && s.timestamps !== true) return fail(ScmiStatus.NOT_SUPPORTED);
    const st = this.#state[id] as SensorState;
    let intervalUs = st.intervalUs;
    const sec = config >>> 16;
    if (sec !== 0) {
      const intervals = this.#intervals.get(id);
      if (intervals === undefined) return fail(ScmiStatus.NOT_SUPPORTED);
      // Bits 10:9 (valid with an interval only): bit 10 rounds autonomously (to the nearest) and
      // bit 9 is then ignored, so 0b11 is auto too; without bit 10, bit 9 rounds up, else down
      // (DEN0056 §4.7.2.11 SENSOR_CONFIG_SET, as NXP `scmi_sensor.h` SCMI_SensorConfigSet
      // documents it; Linux SCMI_SENS_CFG_ROUND_*).
      const asked = intervalFromWire(sec, signed5(config >>> 11));
      const mode =
        (config & ROUND_AUTO) !== 0 ? 'nearest' : (config & ROUND_UP) !== 0 ? 'up' : 'down';
      intervalUs = roundToSupported(intervals, asked, mode);
      if (intervalUs === undefined) return fail(ScmiStatus.INVALID_PARAMETERS);
    }
    const restart = intervalUs !== st.intervalUs;
    st.enabled = (config & CONFIG_ENABLED) !== 0;
    st.timestamping = timestamping;
    st.intervalUs = intervalUs;
    this.#rearmUpdates(restart ? id : undefined);
    // A disabled sensor is not sampled for its trip points (nor its sample kept); enabled again,
    // it starts from a fresh sample (see #rearm).
    this.#rearm();
    return ok();
  }

  #notifyUpdates(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const [id, s] = found;
    // Not advertised (SENSOR_DESCRIPTION_GET bit 30) without update intervals, or on a link the
    // SENSOR_UPDATE notification would not fit, where every one would be dropped: enabling it is
    // NOT_SUPPORTED there; disabling it, which can post nothing, is accepted on such a link, as
    // for the other `*_NOTIFY` commands (see readNotifyEnable). The flag is checked first: reserved
    // bits are INVALID_PARAMETERS on any sensor.
    const on = readNotifyEnable(this.#p, req, updateSize(s));
    if (typeof on !== 'boolean') return on;
    if (on && !this.#intervals.has(id)) return fail(ScmiStatus.NOT_SUPPORTED);
    req.agent.subscribe(this.id, SensorNotificationId.UPDATE, id, on);
    this.#rearmUpdates();
    return ok();
  }

  /** Connected agents subscribed to SENSOR_UPDATE of sensor `id` that may use it now. */
  #updateSubscribers(id: number): AgentSession[] {
    return [...this.#p.agents()].filter(
      (a) => a.link !== undefined && a.receives(this.id, SensorNotificationId.UPDATE, id),
    );
  }

  /**
   * Keeps one timer per sensor that is enabled, has an update interval and a connected subscriber,
   * and none for the others; `restart` drops the timer of a sensor whose interval changed.
   */
  #rearmUpdates(restart?: number): void {
    if (restart !== undefined) {
      this.#updates.get(restart)?.cancel();
      this.#updates.delete(restart);
    }
    this.#state.forEach((st, id) => {
      const timer = this.#updates.get(id);
      const wanted =
        st.intervalUs !== undefined && st.enabled && this.#updateSubscribers(id).length > 0;
      if (!wanted) {
        timer?.cancel();
        this.#updates.delete(id);
      } else if (timer === undefined) {
        const ms = (st.intervalUs as number) / 1000;
        this.#updates.set(
          id,
          this.#p.timers.arm(ms, () => {
            this.#updates.delete(id);
            this.#postUpdate(id);
            this.#rearmUpdates();
          }),
        );
      }
    });
  }

  /** SENSOR_UPDATE to each subscriber; agent_id 0 (the platform sends it, no agent caused it). */
  #postUpdate(id: number): void {
    const readings = this.#readings(id);
    for (const agent of this.#updateSubscribers(id)) {
      this.#p.notifyAgent(
        agent,
        this.id,
        SensorNotificationId.UPDATE,
        id,
        words(0, id, ...readings),
      );
    }
  }

  /**
   * Enabled sensors watched by subscribed agents with armed trip points that may use them, per
   * agent. A disabled sensor is not read, so its trip points are not evaluated: SCP-firmware
   * evaluates them only on a reading (`module/sensor/src/mod_sensor.c`, trip_point_process from
   * get_data and reading_complete), and get_data refuses a disabled sensor.
   */
  #watched(): [AgentSession, number, Map<number, TripPoint>][] {
    const out: [AgentSession, number, Map<number, TripPoint>][] = [];
    for (const [agentId, perSensor] of this.#trips) {
      const agent = this.#p.agent(agentId);
      if (agent?.link === undefined) continue;
      for (const [sensorId, trips] of perSensor) {
        if (
          trips.size > 0 &&
          (this.#state[sensorId] as SensorState).enabled &&
          agent.receives(this.id, SensorNotificationId.TRIP_POINT_EVENT, sensorId)
        )
          out.push([agent, sensorId, trips]);
      }
    }
    return out;
  }

  #rearm(): void {
    const watched = this.#watched();
    if (watched.length === 0) {
      this.#monitor?.cancel();
      this.#monitor = undefined;
      this.#samples.clear();
      return;
    }
    // A sensor no agent watches now forgets its sample: watched again later, it starts from a
    // fresh one, so a crossing while nobody watched it is never reported (SCP-firmware raises a
    // trip-point event at the crossing itself). Kept, it would depend on whether some other
    // sensor kept the monitor running meanwhile.
    const ids = new Set(watched.map(([, sensorId]) => sensorId));
    for (const sensorId of [...this.#samples.keys()]) {
      if (!ids.has(sensorId)) this.#samples.delete(sensorId);
    }
    for (const sensorId of ids) {
      if (!this.#samples.has(sensorId)) this.#samples.set(sensorId, BigInt(this.reading(sensorId)));
    }
    this.#monitor ??= this.#p.timers.arm(this.#p.behaviour.sensorPollMs, () => {
      this.#monitor = undefined;
      this.#tick();
    });
  }

  #tick(): void {
    const watched = this.#watched();
    const now = new Map<number, bigint>();
    for (const [, sensorId] of watched) now.set(sensorId, BigInt(this.reading(sensorId)));
    for (const [agent, sensorId, trips] of watched) {
      const cur = now.get(sensorId) as bigint;
      const prev = this.#samples.get(sensorId) ?? cur;
      for (const [trip, point] of trips) {
        // SCP-firmware's trip_point_evaluate (`module/sensor/src/mod_sensor.c`): a reading is
        // "above" when value > threshold; upward: from not above to above; downward: from above
        // to not above (value <= threshold).
        const up = prev <= point.value && cur > point.value;
        const down = prev > point.value && cur <= point.value;
        if ((up && (point.mode & 1) !== 0) || (down && (point.mode & 2) !== 0)) {
          this.#p.notifyAgent(
            agent,
            this.id,
            SensorNotificationId.TRIP_POINT_EVENT,
            sensorId,
            words(0, sensorId, (up ? 1 << 16 : 0) | trip),
          );
        }
      }
    }
    for (const [sensorId, v] of now) this.#samples.set(sensorId, v);
    this.#rearm();
  }
}
