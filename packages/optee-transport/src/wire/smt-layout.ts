/**
 * The SMT shared-memory area (Linux `drivers/firmware/arm_scmi/shmem.c`, OP-TEE
 * `core/drivers/scmi-msg/smt.c` `struct smt_header`), little-endian 32-bit fields. Both ends use
 * these offsets; the side that does not own a field bounds it before use.
 *
 * | offset | field |
 * |---|---|
 * | 0x00 | reserved |
 * | 0x04 | channel_status (bit 0 FREE, bit 1 ERROR) |
 * | 0x08 | reserved (8 bytes) |
 * | 0x10 | flags (bit 0 INTR_ENABLED, kernel numbering) |
 * | 0x14 | length: header + payload |
 * | 0x18 | message header |
 * | 0x1c | payload (request parameters, or status and return values) |
 */

/** Offset of the channel status word. */
export const SMT_STATUS = 0x04;
/** Offset of the flags word. */
export const SMT_FLAGS = 0x10;
/** Offset of the length word (header + payload, bytes). */
export const SMT_LENGTH = 0x14;
/** Offset of the SCMI message header. */
export const SMT_HEADER = 0x18;
/** Offset of the payload. */
export const SMT_PAYLOAD = 0x1c;
/** Size of the SMT header before the message header (`sizeof(struct smt_header)` without it: 24) plus the header: 28. */
export const SMT_HEADER_SIZE = SMT_PAYLOAD;

/** `channel_status` bit 0: the channel is free (the platform answered). */
export const SMT_STATUS_FREE = 1 << 0;
/** `channel_status` bit 1: the platform reports a communication error. */
export const SMT_STATUS_ERROR = 1 << 1;
/**
 * `flags` bit 0 as Linux and SCP-firmware define it (the agent wants a completion interrupt);
 * OP-TEE defines its own as bit 1 and never reads it. The OP-TEE transport polls: it writes 0.
 */
export const SMT_FLAG_INTR_ENABLED = 1 << 0;

/**
 * Reads a little-endian u32 of an SMT area (caller bounds `offset`).
 *
 * @example
 * ```ts
 * const free = (smtRead(area, SMT_STATUS) & SMT_STATUS_FREE) !== 0;
 * ```
 */
export function smtRead(area: Uint8Array, offset: number): number {
  return (
    ((area[offset] as number) |
      ((area[offset + 1] as number) << 8) |
      ((area[offset + 2] as number) << 16) |
      ((area[offset + 3] as number) << 24)) >>>
    0
  );
}

/**
 * Writes a little-endian u32 into an SMT area (caller bounds `offset`).
 *
 * @example
 * ```ts
 * smtWrite(area, SMT_LENGTH, 4 + payload.byteLength);
 * ```
 */
export function smtWrite(area: Uint8Array, offset: number, value: number): void {
  area[offset] = value & 0xff;
  area[offset + 1] = (value >>> 8) & 0xff;
  area[offset + 2] = (value >>> 16) & 0xff;
  area[offset + 3] = (value >>> 24) & 0xff;
}
