/**
 * Message ids of the Clock protocol (0x14) besides the common ones (note NAME_GET 0x8 and
 * CONFIG_GET 0xB, as the kernel, SCP-firmware and Zephyr number them).
 *
 * @example
 * ```ts
 * buildHeader(ClockMessageId.RATE_GET, 0, ScmiProtocolId.CLOCK, token);
 * ```
 */
export enum ClockMessageId {
  /** (clock_id) → attributes, name[16], clock_enable_latency. */
  ATTRIBUTES = 0x3,
  /** (clock_id, rate_index) → num_rates_flags, rates[] as 64-bit {low, high}. */
  DESCRIBE_RATES = 0x4,
  /** (flags, clock_id, rate_low, rate_high); async → delayed response clock_id, rate. */
  RATE_SET = 0x5,
  /** (clock_id) → rate_low, rate_high. */
  RATE_GET = 0x6,
  /** (clock_id, attributes[, oem_value]). */
  CONFIG_SET = 0x7,
  /** (clock_id) → flags, name[64]. */
  NAME_GET = 0x8,
  /** (clock_id, notify_enable): CLOCK_RATE_CHANGED. */
  RATE_NOTIFY = 0x9,
  /** (clock_id, notify_enable): CLOCK_RATE_CHANGE_REQUESTED. */
  RATE_CHANGE_REQUESTED_NOTIFY = 0xa,
  /** (clock_id, flags) → attributes, config, oem_value. */
  CONFIG_GET = 0xb,
  /** (clock_id, skip) → num_parent_flags, parent ids. */
  POSSIBLE_PARENTS_GET = 0xc,
  /** (clock_id, parent_id). */
  PARENT_SET = 0xd,
  /** (clock_id) → parent_id. */
  PARENT_GET = 0xe,
  /** (clock_id) → permissions (31 state, 30 parent, 29 rate control allowed). */
  GET_PERMISSIONS = 0xf,
}

/** Notification ids of the Clock protocol; payload agent_id, clock_id, rate_low, rate_high. */
export enum ClockNotificationId {
  /** The rate of a clock changed. */
  RATE_CHANGED = 0x0,
  /** An agent asked for a rate change. */
  RATE_CHANGE_REQUESTED = 0x1,
}
