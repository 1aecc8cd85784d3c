/**
 * Message ids of the Sensor protocol (0x15) besides the common ones.
 *
 * @example
 * ```ts
 * buildHeader(SensorMessageId.READING_GET, 0, ScmiProtocolId.SENSOR, token);
 * ```
 */
export enum SensorMessageId {
  /** (desc_index) → returned/remaining, {id, attributes_low, attributes_high, name[16]}[]. */
  DESCRIPTION_GET = 0x3,
  /** (sensor_id, event_control bit 0): SENSOR_TRIP_POINT_EVENT. */
  TRIP_POINT_NOTIFY = 0x4,
  /** (sensor_id, trip_point_ev_ctrl, value_low, value_high). */
  TRIP_POINT_CONFIG = 0x5,
  /** (sensor_id, flags bit 0 async) → per axis (one for a scalar sensor) value_low/high, ts_low/high. */
  READING_GET = 0x6,
  /** (sensor_id, axis_index) → num_axis_flags, {id, attributes_low, attributes_high, name[16]}[]. */
  AXIS_DESCRIPTION_GET = 0x7,
  /** (sensor_id, index) → num_intervals_flags (11:0 returned, 12 triplet, 31:16 remaining), intervals. */
  LIST_UPDATE_INTERVALS = 0x8,
  /** (sensor_id) → sensor_config. */
  CONFIG_GET = 0x9,
  /** (sensor_id, sensor_config). */
  CONFIG_SET = 0xa,
  /** (sensor_id, notify_enable): SENSOR_UPDATE every update interval. */
  CONTINUOUS_UPDATE_NOTIFY = 0xb,
  /** (sensor_id) → flags, name[64]. */
  NAME_GET = 0xc,
  /** (sensor_id, axis_index) → num_axis_flags, {axis_id, name[64]}[]. */
  AXIS_NAME_GET = 0xd,
}

/** Notification ids of the Sensor protocol. */
export enum SensorNotificationId {
  /** agent_id, sensor_id, trip_point_desc (bit 16 set = crossed going up, 7:0 trip id). */
  TRIP_POINT_EVENT = 0x0,
  /** agent_id, sensor_id, then {value_low, value_high, ts_low, ts_high} per axis (one if scalar). */
  UPDATE = 0x1,
}
