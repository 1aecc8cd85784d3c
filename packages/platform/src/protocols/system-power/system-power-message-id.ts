/**
 * Message ids of the System power protocol (0x12) besides the common 0x0–0x2.
 *
 * @example
 * ```ts
 * buildHeader(SystemPowerMessageId.STATE_SET, 0, ScmiProtocolId.SYSTEM, token);
 * ```
 */
export enum SystemPowerMessageId {
  /** (flags bit 0 graceful, system_state). */
  STATE_SET = 0x3,
  /** () → system_state. */
  STATE_GET = 0x4,
  /** (notify_enable): SYSTEM_POWER_STATE_NOTIFIER. */
  STATE_NOTIFY = 0x5,
}

/** Notification ids of the System power protocol. */
export enum SystemPowerNotificationId {
  /** agent_id, flags, system_state and, from version 2.0, timeout. */
  STATE_NOTIFIER = 0x0,
}
