/**
 * Message ids of the Reset domain protocol (0x16) besides the common 0x0–0x2.
 *
 * @example
 * ```ts
 * buildHeader(ResetMessageId.RESET, 0, ScmiProtocolId.RESET, token);
 * ```
 */
export enum ResetMessageId {
  /** (domain_id) → attributes, latency_us, name[16]. */
  DOMAIN_ATTRIBUTES = 0x3,
  /** (domain_id, flags, reset_state); async → delayed response domain_id. */
  RESET = 0x4,
  /** (domain_id, notify_enable): RESET_ISSUED. */
  NOTIFY = 0x5,
  /** (domain_id) → flags, name[64]. */
  DOMAIN_NAME_GET = 0x6,
}

/** Notification ids of the Reset domain protocol. */
export enum ResetNotificationId {
  /** agent_id, domain_id, reset_state. */
  ISSUED = 0x0,
}
