/**
 * One call slot of the wire: the arguments of a call from the normal world to OP-TEE and its
 * results, modelled on `struct optee_msg_arg` (Linux `drivers/tee/optee/optee_msg.h`): command,
 * function, session, cancel id, return code and origin, and up to four parameters, each an
 * attribute and three words (a value `a, b, c`, or a registered-memory reference `offs, size,
 * shm_ref`). Open session carries the UUID and the login in their own fields instead of OP-TEE's
 * two meta parameters. Internal to the package: both ends use it.
 *
 * The state word is the hand-off: the normal world writes the arguments then stores
 * {@link OpteeCallState.POSTED}; the secure world claims the slot with a compare-exchange to
 * {@link OpteeCallState.RUNNING}, writes the results, stores {@link OpteeCallState.RETURNED}; the
 * normal world reads them and stores {@link OpteeCallState.FREE}. Atomics order the plain writes.
 */

/** The commands of the OP-TEE message protocol (`OPTEE_MSG_CMD_*`). */
export enum OpteeMsgCmd {
  OPEN_SESSION = 0,
  INVOKE_COMMAND = 1,
  CLOSE_SESSION = 2,
  CANCEL = 3,
  REGISTER_SHM = 4,
  UNREGISTER_SHM = 5,
}

/** Parameter attributes (`OPTEE_MSG_ATTR_TYPE_*`): values and registered memory share the TEE numbering. */
export enum OpteeMsgAttr {
  NONE = 0,
  VALUE_INPUT = 1,
  VALUE_OUTPUT = 2,
  VALUE_INOUT = 3,
  RMEM_INPUT = 5,
  RMEM_OUTPUT = 6,
  RMEM_INOUT = 7,
  /** Temporary memory by address: REGISTER_SHM's buffer (a = wire offset, b = size, c = cookie). */
  TMEM_OUTPUT = 0xa,
}

/** The hand-off state of a call slot. */
export enum OpteeCallState {
  FREE = 0,
  POSTED = 1,
  RUNNING = 2,
  RETURNED = 3,
}

export const SLOT_STATE = 0;
export const SLOT_CMD = 4;
export const SLOT_FUNC = 8;
export const SLOT_SESSION = 12;
export const SLOT_CANCEL_ID = 16;
export const SLOT_RET = 20;
export const SLOT_RET_ORIGIN = 24;
export const SLOT_NUM_PARAMS = 28;
export const SLOT_LOGIN = 32;
export const SLOT_UUID = 40;
export const SLOT_PARAMS = 56;
/** Bytes of one parameter: attr, a, b, c. */
export const SLOT_PARAM_BYTES = 16;
/** Bytes of one call slot. */
export const OPTEE_CALL_SLOT_BYTES = 128;
/** Parameters per call. */
export const SLOT_MAX_PARAMS = 4;

/** Offset (from the slot) of parameter `i`'s attribute; a, b, c follow at +4, +8, +12. */
export function paramOffset(i: number): number {
  return SLOT_PARAMS + i * SLOT_PARAM_BYTES;
}
