/**
 * Message ids of the Voltage domain management protocol (0x17) besides the common 0x0–0x2 and
 * NEGOTIATE_PROTOCOL_VERSION 0x10, as Linux `drivers/firmware/arm_scmi/voltage.c`
 * (`enum scmi_voltage_protocol_cmd`), OP-TEE `core/drivers/scmi-msg/voltage_domain.h` and
 * SCP-firmware number them. Voltage has no notifications.
 *
 * @example
 * ```ts
 * buildHeader(VoltageMessageId.LEVEL_GET, 0, ScmiProtocolId.VOLTAGE, token);
 * ```
 */
export enum VoltageMessageId {
  /** (domain_id) → attributes (31 async level set, 30 extended name), name[16]. */
  DOMAIN_ATTRIBUTES = 0x3,
  /**
   * (domain_id, level_index) → flags (11:0 returned, 12 triplet format, 31:16 remaining), then
   * s32 levels in µV: a list, or one (min, max, step) triplet.
   */
  DESCRIBE_LEVELS = 0x4,
  /** (domain_id, config: 3:0 mode, 0x0 OFF, 0x7 ON, 0x8–0xF implementation defined). */
  CONFIG_SET = 0x5,
  /** (domain_id) → config. */
  CONFIG_GET = 0x6,
  /**
   * (domain_id, flags: bit 0 async, voltage_level s32 µV); async → delayed response domain_id,
   * voltage_level.
   */
  LEVEL_SET = 0x7,
  /** (domain_id) → voltage_level s32 µV. */
  LEVEL_GET = 0x8,
  /** (domain_id) → flags, name[64] (version 2.0). */
  DOMAIN_NAME_GET = 0x9,
}
