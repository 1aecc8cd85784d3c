/**
 * Message ids of the Base protocol (0x10) besides the common 0x0–0x2.
 *
 * @example
 * ```ts
 * buildHeader(BaseMessageId.DISCOVER_VENDOR, 0, ScmiProtocolId.BASE, token);
 * ```
 */
export enum BaseMessageId {
  /** vendor_identifier[16]. */
  DISCOVER_VENDOR = 0x3,
  /** subvendor_identifier[16]. */
  DISCOVER_SUB_VENDOR = 0x4,
  /** implementation_version. */
  DISCOVER_IMPLEMENTATION_VERSION = 0x5,
  /** (skip) → num_protocols, protocol ids packed four per word. */
  DISCOVER_LIST_PROTOCOLS = 0x6,
  /** (agent_id; 0 platform, 0xFFFFFFFF caller) → agent_id, name[16]. */
  DISCOVER_AGENT = 0x7,
  /** (notify_enable) → BASE_ERROR_EVENT subscription. */
  NOTIFY_ERRORS = 0x8,
  /** (agent_id, device_id, flags bit 0 allow); trusted agents only. */
  SET_DEVICE_PERMISSIONS = 0x9,
  /**
   * (agent_id, device_id, protocol_id, flags bit 0 allow); trusted agents only. Base (0x10) is
   * DENIED: its access cannot be changed (as SCP-firmware).
   */
  SET_PROTOCOL_PERMISSIONS = 0xa,
  /** (agent_id, flags bit 0 also reset permissions). */
  RESET_AGENT_CONFIGURATION = 0xb,
}

/** Notification ids of the Base protocol. */
export enum BaseNotificationId {
  /** agent_id, error_status (31 fatal, 9:0 count), msg_reports[count] (64-bit each). */
  ERROR_EVENT = 0x0,
}
