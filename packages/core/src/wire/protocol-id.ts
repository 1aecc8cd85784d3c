/**
 * SCMI protocol identifiers (Arm DEN0056 §4.1.3); 0x80 and above are vendor protocols.
 *
 * @example
 * ```ts
 * const id = ScmiProtocolId.CLOCK; // 0x14
 * ```
 */
export enum ScmiProtocolId {
  /** Base protocol, mandatory; discovery and permissions. */
  BASE = 0x10,
  /** Power domain management. */
  POWER = 0x11,
  /** System power management. */
  SYSTEM = 0x12,
  /** Performance domain management. */
  PERF = 0x13,
  /** Clock management. */
  CLOCK = 0x14,
  /** Sensor management. */
  SENSOR = 0x15,
  /** Reset domain management. */
  RESET = 0x16,
  /** Voltage domain management. */
  VOLTAGE = 0x17,
  /** Power capping. */
  POWERCAP = 0x18,
  /** Pin control. */
  PINCTRL = 0x19,
}

/**
 * Message ids every protocol implements (Arm DEN0056 §4.1.2).
 *
 * @example
 * ```ts
 * await ph.xfer.transact(CommonMessageId.PROTOCOL_VERSION);
 * ```
 */
export enum CommonMessageId {
  /** Returns the protocol version (major 31:16, minor 15:0). */
  PROTOCOL_VERSION = 0x0,
  /** Returns protocol-specific attributes. */
  PROTOCOL_ATTRIBUTES = 0x1,
  /** Returns the attributes of one message id; NOT_FOUND when not implemented. */
  PROTOCOL_MESSAGE_ATTRIBUTES = 0x2,
  /** Asks the platform to use an older protocol version (SCMI v3.2). */
  NEGOTIATE_PROTOCOL_VERSION = 0x10,
}

/**
 * A protocol name for logs: `'clock'`, or `'0x9a'` for an unknown id.
 *
 * Never throws: an id outside {@link ScmiProtocolId} (a vendor protocol, 0x80 and above) is
 * printed in hexadecimal.
 *
 * @example
 * ```ts
 * scmiProtocolName(0x14); // 'clock'
 * scmiProtocolName(0x13); // 'perf'
 * scmiProtocolName(0x9a); // '0x9a'
 * ```
 */
export function scmiProtocolName(id: number): string {
  const name = (ScmiProtocolId as unknown as Record<number, string | undefined>)[id];
  return name === undefined ? `0x${id.toString(16)}` : name.toLowerCase();
}

/**
 * The first vendor protocol id: SCMI reserves 0x80–0xFF for vendor protocols (Linux's
 * `SCMI_PROTOCOL_VENDOR_BASE`), whose drivers are chosen by the platform's vendor (see
 * `ProtocolDriver.vendor`).
 *
 * @example
 * ```ts
 * const isVendor = (protocolId: number) => protocolId >= SCMI_VENDOR_PROTOCOL_BASE;
 * isVendor(0x81); // true
 * ```
 */
export const SCMI_VENDOR_PROTOCOL_BASE = 0x80;
