import { ScmiConfigError, formatValue } from '@scmi-ts/core';

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

/**
 * Size of the MSG buffer current Linux allocates per channel, and its OP-TEE message size
 * (`SCMI_SHMEM_MAX_PAYLOAD_SIZE`, `drivers/firmware/arm_scmi/common.h`): `setup_dynamic_shmem`
 * in `transports/optee.c` allocates the buffer with `msg_size = SCMI_SHMEM_MAX_PAYLOAD_SIZE`,
 * `invoke_process_msg_channel` passes that buffer as p1 (`MEMREF_INPUT`, the command's size) and
 * as p2 (`MEMREF_OUTPUT` of this size), and `scmi_optee_desc.max_msg_size` is this size. OP-TEE's
 * `scmi_entry_msg` gives the response p2's size less the 4-byte header: 100 bytes of status and
 * return values. The default of the transport's `msgBufferSize` and of the emulated OP-TEE's.
 */
export const SCMI_SHMEM_MAX_PAYLOAD_SIZE = 104;

/**
 * Size of the MSG buffer older Linux kernels allocated per channel, with p2 and
 * `scmi_optee_desc.max_msg_size` of the same size (`SCMI_OPTEE_MAX_MSG_SIZE`, before Linux sized
 * them with {@link SCMI_SHMEM_MAX_PAYLOAD_SIZE}): 124 bytes of status and return values in a
 * response. The largest `msgBufferSize` the transport and the emulated OP-TEE accept, and the
 * transport descriptor's `maxMsgSize` (core's transfers are sized once for every agent of the
 * transport, so they carry the largest buffer an agent may choose).
 */
export const SCMI_OPTEE_MAX_MSG_SIZE = 128;

/**
 * Smallest `msgBufferSize` the transport and the emulated OP-TEE accept: the message header and
 * the status every response starts with. A smaller MSG output buffer is refused by the emulated
 * SCMI server (`TEE_ERROR_BAD_PARAMETERS`).
 */
export const OPTEE_MSG_BUFFER_MIN_SIZE = 8;

/**
 * Checks a `msgBufferSize` option (the size in bytes of the MSG buffer, header included;
 * undefined for the default): an integer from {@link OPTEE_MSG_BUFFER_MIN_SIZE} to
 * {@link SCMI_OPTEE_MAX_MSG_SIZE}. Returns it, or {@link SCMI_SHMEM_MAX_PAYLOAD_SIZE} for
 * undefined.
 *
 * @throws ScmiConfigError naming `field` for any other value.
 */
export function checkMsgBufferSize(value: unknown, field: string): number {
  if (value === undefined) return SCMI_SHMEM_MAX_PAYLOAD_SIZE;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < OPTEE_MSG_BUFFER_MIN_SIZE ||
    value > SCMI_OPTEE_MAX_MSG_SIZE
  ) {
    throw new ScmiConfigError(
      field,
      `expected an integer in ${OPTEE_MSG_BUFFER_MIN_SIZE}..${SCMI_OPTEE_MAX_MSG_SIZE} (bytes of the MSG buffer: ${SCMI_SHMEM_MAX_PAYLOAD_SIZE} as current Linux, ${SCMI_OPTEE_MAX_MSG_SIZE} as older kernels), got ${formatValue(value)}`,
    );
  }
  return value;
}
