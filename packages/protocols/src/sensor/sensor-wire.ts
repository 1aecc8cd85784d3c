import {
  PayloadReader,
  ScmiError,
  ScmiMalformedError,
  describeArg,
  formatValue,
} from '@scmi-ts/core';
import { uintArg } from '../common/args.js';

/**
 * Sensor management protocol (0x15) message ids besides the common 0x0–0x2 (scmi-wire.md §4,
 * Sensor; Linux `sensors.c` `enum scmi_sensor_protocol_cmd`).
 *
 * @example
 * ```ts
 * await agent.transact(0x15, SensorMessageId.READING_GET, (w) => w.u32(0).u32(0));
 * ```
 */
export enum SensorMessageId {
  /** (desc_index) → num_returned (u16), num_remaining (u16), sensor descriptors. */
  DESCRIPTION_GET = 0x3,
  /** (sensor_id, event_control bit 0): SENSOR_TRIP_POINT_EVENT. */
  TRIP_POINT_NOTIFY = 0x4,
  /** (sensor_id, trip_point_ev_ctrl, value_low, value_high). */
  TRIP_POINT_CONFIG = 0x5,
  /** (sensor_id, flags bit 0 async) → readings; asynchronous: delayed response sensor_id, readings. */
  READING_GET = 0x6,
  /**
   * (sensor_id, axis_desc_index) → num_axis_flags, axis descriptors (version 2.0, as this and the
   * next four: SCMI v3.0's, which SCP-firmware's SENSOR_V2 build reports as 2.0; Linux does not
   * gate them).
   */
  AXIS_DESCRIPTION_GET = 0x7,
  /** (sensor_id, index) → num_intervals_flags, update intervals (version 2.0). */
  LIST_UPDATE_INTERVALS = 0x8,
  /** (sensor_id) → sensor_config (version 2.0). */
  CONFIG_GET = 0x9,
  /** (sensor_id, sensor_config) (version 2.0). */
  CONFIG_SET = 0xa,
  /** (sensor_id, notify_enable): SENSOR_UPDATE (version 2.0). */
  CONTINUOUS_UPDATE_NOTIFY = 0xb,
  /** (sensor_id) → flags, name[64] (version 3.0). */
  NAME_GET = 0xc,
  /** (sensor_id, axis_desc_index) → num_axis_flags, {axis_id, name[64]} (version 3.0). */
  AXIS_NAME_GET = 0xd,
}

/** SENSOR_TRIP_POINT_EVENT (Sensor notification 0x0): agent_id, sensor_id, trip_point_desc. */
export const SENSOR_TRIP_POINT_EVENT = 0x0;

/** SENSOR_UPDATE (Sensor notification 0x1): agent_id, sensor_id, one reading per axis. */
export const SENSOR_UPDATE = 0x1;

/** Axes a sensor can have (Linux `SCMI_MAX_NUM_SENSOR_AXIS`: the 6-bit axis count). */
export const SENSOR_MAX_AXES = 63;

/** One reading on the wire: value_low, value_high, timestamp_low, timestamp_high. @internal */
export const READING_SIZE = 16;
/** SENSOR_TRIP_POINT_EVENT payload: agent_id, sensor_id, trip_point_desc. @internal */
export const TRIP_EVENT_PAYLOAD = 12;
/** SENSOR_UPDATE payload header: agent_id, sensor_id. @internal */
export const UPDATE_HEADER = 8;
/** trip_point_desc bit 16: the trip point was crossed going up. */
const TRIP_ASCENDING = 1 << 16;

/**
 * An update interval as the platform gives it: `secs × 10^exponent` seconds (a
 * SENSOR_LIST_UPDATE_INTERVALS entry, 20:5 secs and 4:0 signed exponent, Linux
 * `SCMI_SENS_INTVL_GET_SECS/EXP`; or SENSOR_CONFIG bits 31:11).
 */
export interface SensorUpdateInterval {
  /** The seconds field, 0 to 0xFFFF (0 in SENSOR_CONFIG: no interval, or keep the current one). */
  readonly secs: number;
  /** The signed power-of-ten exponent applied to `secs`, −16 to 15. */
  readonly exponent: number;
}

/**
 * One reading of a sensor (one axis of a multi-axis sensor): SENSOR_READING_GET, its delayed
 * response, or SENSOR_UPDATE.
 */
export interface SensorReading {
  /** The value, a signed 64-bit integer in the sensor's (or axis') unit and unit exponent. */
  readonly value: bigint;
  /**
   * The timestamp (unsigned 64-bit, in units of 10^`timestampExponent` s): 0 when the sensor
   * does not timestamp its readings or reporting is off, and before version 2.0 of the protocol
   * (no timestamp on the wire).
   */
  readonly timestamp: bigint;
}

/** A SENSOR_TRIP_POINT_EVENT notification, decoded by {@link decodeSensorTripPointEvent}. */
export interface SensorTripPointEvent {
  /** The agent that caused it (0: the platform). */
  readonly agentId: number;
  /** The sensor whose trip point was crossed. */
  readonly sensorId: number;
  /** The trip point crossed (trip_point_desc 7:0). */
  readonly tripPointId: number;
  /** Whether it was crossed going up (trip_point_desc bit 16), else going down. */
  readonly ascending: boolean;
  /** The whole trip_point_desc word. */
  readonly desc: number;
}

/** A SENSOR_UPDATE notification, decoded by {@link decodeSensorUpdate}. */
export interface SensorUpdate {
  /** The agent that caused it (0: the platform). */
  readonly agentId: number;
  /** The sensor read. */
  readonly sensorId: number;
  /** One reading per axis (one for a scalar sensor), in axis order. */
  readonly readings: readonly SensorReading[];
}

/**
 * Sign-extends a 5-bit two's complement field (Linux `S32_EXT` of `SENSOR_SCALE` and the other
 * 5-bit exponents).
 *
 * @internal
 */
export function signed5(bits: number): number {
  return (bits & 0x10) !== 0 ? (bits & 0x1f) - 32 : bits & 0x1f;
}

/** Reads one reading (value_low/high signed, timestamp_low/high unsigned). @internal */
export function readReading(r: PayloadReader): SensorReading {
  return { value: BigInt.asIntN(64, r.u64()), timestamp: r.u64() };
}

/** An update interval from a SENSOR_LIST_UPDATE_INTERVALS entry. @internal */
export function intervalFromEntry(entry: number): SensorUpdateInterval {
  return { secs: (entry >>> 5) & 0xffff, exponent: signed5(entry) };
}

/**
 * An update interval as SENSOR_CONFIG bits 31:11 (31:16 secs, 15:11 exponent).
 *
 * @throws ScmiError `E_ARGUMENT` (nothing sent) when `secs` is not an integer from 0 to 0xFFFF or
 * `exponent` not one from −16 to 15.
 * @internal
 */
export function intervalConfigBits(interval: SensorUpdateInterval): number {
  const secs = uintArg(interval.secs, 'update interval secs', 0xffff);
  const { exponent } = interval;
  const given: unknown = exponent;
  if (typeof given !== 'number') {
    throw new ScmiError(
      'E_ARGUMENT',
      `update interval exponent must be a number, got ${describeArg(given)}`,
    );
  }
  if (!Number.isInteger(exponent) || exponent < -16 || exponent > 15) {
    throw new ScmiError(
      'E_ARGUMENT',
      `update interval exponent ${formatValue(exponent)} is not an integer from -16 to 15`,
    );
  }
  return ((secs << 16) | ((exponent & 0x1f) << 11)) >>> 0;
}

/**
 * Decodes a SENSOR_TRIP_POINT_EVENT payload (agent_id, sensor_id, trip_point_desc). The hub
 * delivers none of another size: the event's payload is exactly 12 bytes, as Linux's
 * `scmi_sensor_fill_custom_report` requires (`sizeof(*p) != payld_sz`: dropped).
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload is shorter than 12 bytes.
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x15, eventId: SENSOR_TRIP_POINT_EVENT, source: 0 }, (n) => {
 *   const e = decodeSensorTripPointEvent(n.payload);
 *   console.log(`sensor ${e.sensorId} trip ${e.tripPointId} ${e.ascending ? 'up' : 'down'}`);
 * });
 * ```
 */
export function decodeSensorTripPointEvent(payload: Uint8Array): SensorTripPointEvent {
  const r = new PayloadReader(payload);
  const agentId = r.u32();
  const sensorId = r.u32();
  const desc = r.u32();
  return {
    agentId,
    sensorId,
    tripPointId: desc & 0xff,
    ascending: (desc & TRIP_ASCENDING) !== 0,
    desc,
  };
}

/**
 * Decodes a SENSOR_UPDATE payload: agent_id, sensor_id, then every whole 16-byte reading that
 * follows (value_low/high, timestamp_low/high), one per axis of the sensor or one for a scalar
 * sensor. The driver's hub delivers only payloads of whole readings, as many as the sensor has
 * axes (one if scalar) when the platform described it, up to {@link SENSOR_MAX_AXES} (Linux's
 * `max_payld_sz`); Linux's `scmi_sensor_fill_custom_report` reads that many readings whatever
 * arrived. This function reads what the payload holds, for a payload from elsewhere too.
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload holds no reading or ends inside one.
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x15, eventId: SENSOR_UPDATE, source: 3 }, (n) => {
 *   const { readings } = decodeSensorUpdate(n.payload);
 *   console.log(readings.map((x) => x.value));
 * });
 * ```
 */
export function decodeSensorUpdate(payload: Uint8Array): SensorUpdate {
  const r = new PayloadReader(payload);
  const agentId = r.u32();
  const sensorId = r.u32();
  const left = r.remaining;
  if (left < READING_SIZE || left % READING_SIZE !== 0) {
    throw new ScmiMalformedError(
      `SENSOR_UPDATE: ${left} bytes of readings, not a whole number (1 or more) of ${READING_SIZE}-byte readings`,
      'E_TRUNCATED',
    );
  }
  const readings: SensorReading[] = [];
  while (r.remaining > 0) readings.push(readReading(r));
  return { agentId, sensorId, readings };
}
