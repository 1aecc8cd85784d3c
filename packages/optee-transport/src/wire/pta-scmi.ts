/**
 * The OP-TEE SCMI pseudo trusted application's interface, shared by the agent side and the
 * emulated OP-TEE: `OP-TEE/optee_os:lib/libutee/include/pta_scmi_client.h` and the copy in Linux
 * `drivers/firmware/arm_scmi/optee.c` (`enum scmi_optee_pta_cmd`, `PTA_SCMI_CAPS_*`).
 */

/** UUID of the SCMI PTA (`PTA_SCMI_UUID`); name "PTA-SCMI". */
export const PTA_SCMI_UUID = 'a8cfe406-d4f5-4a2e-9f8d-a25dc754c099';

/**
 * The commands of the SCMI PTA. Linux names command 3 `PTA_SCMI_CMD_GET_CHANNEL`.
 *
 * @example
 * ```ts
 * await session.invoke(PtaScmiCommand.CAPABILITIES, [teeValue(TeeParamType.VALUE_OUTPUT)]);
 * ```
 */
export enum PtaScmiCommand {
  /** `[out] value0.a` capabilities (`PtaScmiCaps`), `value0.b` extended capabilities (0). */
  CAPABILITIES = 0,
  /** `[in] value0.a` channel handle: process the message in the channel's static SMT area. */
  PROCESS_SMT_CHANNEL = 1,
  /** `[in] value0.a` handle, `[inout] memref1` an SMT area of at least 128 bytes, bound for this call. */
  PROCESS_SMT_CHANNEL_MESSAGE = 2,
  /** `[inout] value0`: in `a` channel id, `b` requested capabilities; out `a` channel handle. */
  GET_CHANNEL_HANDLE = 3,
  /** `[in] value0.a` handle, `[in] memref1` MSG request, `[out] memref2` MSG response (size updated). */
  PROCESS_MSG_CHANNEL = 4,
}

/**
 * Capability bits of the SCMI PTA (`PTA_SCMI_CAPS_*`).
 *
 * @example
 * ```ts
 * const smt = (caps & PtaScmiCaps.SMT_HEADER) !== 0;
 * ```
 */
export enum PtaScmiCaps {
  /** No capability. */
  NONE = 0,
  /** Messages in SMT areas (`PTA_SCMI_CAPS_SMT_HEADER`). */
  SMT_HEADER = 0x1,
  /** Messages in MSG buffers (`PTA_SCMI_CAPS_MSG_HEADER`). */
  MSG_HEADER = 0x2,
}

/** Every capability bit the PTA defines (`PTA_SCMI_CAPS_MASK`). */
export const PTA_SCMI_CAPS_MASK = PtaScmiCaps.SMT_HEADER | PtaScmiCaps.MSG_HEADER;

/** Size of an SMT slot, and the smallest SMT area command 2 accepts (`SMT_BUF_SLOT_SIZE`). */
export const SMT_BUF_SLOT_SIZE = 128;

/**
 * Largest inbound SCMI payload OP-TEE accepts (`SCMI_SEC_PAYLOAD_SIZE`, the size of the secure
 * buffer each entry copies the request into; `SCMI_PLAYLOAD_MAX` in older trees). A chosen bound,
 * not derived: `smt.c` only checks, with a `static_assert`, that it plus the 28-byte SMT header
 * (with the message header) fits the 128-byte slot and is 4-aligned — 100 bytes would fit.
 * Larger payloads are rejected before dispatch (SMT: ERROR | FREE; MSG: `TEE_ERROR_BAD_PARAMETERS`).
 */
export const SCMI_SEC_PAYLOAD_SIZE = 92;

/** Size of the MSG buffer Linux allocates per channel, and the transport's message size (`SCMI_OPTEE_MAX_MSG_SIZE`). */
export const SCMI_OPTEE_MAX_MSG_SIZE = 128;
