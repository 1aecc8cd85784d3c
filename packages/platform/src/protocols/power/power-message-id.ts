/**
 * Message ids of the Power domain protocol (0x11) besides the common 0x0–0x2.
 *
 * @example
 * ```ts
 * buildHeader(PowerMessageId.STATE_GET, 0, ScmiProtocolId.POWER, token);
 * ```
 */
export enum PowerMessageId {
  /** (domain_id) → flags, name[16]. */
  DOMAIN_ATTRIBUTES = 0x3,
  /** (flags bit 0 async, domain_id, power_state). */
  STATE_SET = 0x4,
  /** (domain_id) → power_state. */
  STATE_GET = 0x5,
  /** (domain_id, notify_enable): POWER_STATE_CHANGED. */
  STATE_NOTIFY = 0x6,
  /** (domain_id, notify_enable): POWER_STATE_CHANGE_REQUESTED. */
  STATE_CHANGE_REQUESTED_NOTIFY = 0x7,
  /** (domain_id) → flags, name[64]. */
  DOMAIN_NAME_GET = 0x8,
}

/** Notification ids of the Power domain protocol; payload agent_id, domain_id, power_state. */
export enum PowerNotificationId {
  /** The state of a domain changed. */
  STATE_CHANGED = 0x0,
  /** An agent asked for a state change. */
  STATE_CHANGE_REQUESTED = 0x1,
}
