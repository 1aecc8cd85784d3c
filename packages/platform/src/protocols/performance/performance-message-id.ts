/**
 * Message ids of the Performance domain protocol (0x13) besides the common ones. The emulated
 * platform gives fast channels to the domains configured with `fastChannels` (LIMITS_SET/GET and
 * LEVEL_SET/GET, in `performanceFastChannels.memory`); PERF_DESCRIBE_FASTCHANNEL (0xB) describes
 * them and answers NOT_SUPPORTED for any other domain.
 *
 * @example
 * ```ts
 * buildHeader(PerformanceMessageId.LEVEL_SET, 0, ScmiProtocolId.PERF, token);
 * ```
 */
export enum PerformanceMessageId {
  /** (domain_id) → flags, rate_limit_us, sustained_freq_khz, sustained_perf_level, name[16]. */
  DOMAIN_ATTRIBUTES = 0x3,
  /**
   * (domain_id, level_index) → returned/remaining, {value, power_cost, latency}[]; from version
   * 4.0 each level adds indicative_freq, level_index.
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
  /**
   * (domain_id, message_id) → attributes (0: no doorbell), rate_limit, chan_addr_low/high,
   * chan_size, six doorbell words (0); NOT_SUPPORTED for a domain without fast channels.
   */
  DESCRIBE_FASTCHANNEL = 0xb,
  /** (domain_id) → flags, name[64]. */
  DOMAIN_NAME_GET = 0xc,
}

/** Notification ids of the Performance domain protocol. */
export enum PerformanceNotificationId {
  /** agent_id, domain_id, range_max, range_min. */
  LIMITS_CHANGED = 0x0,
  /** agent_id, domain_id, performance_level. */
  LEVEL_CHANGED = 0x1,
}
