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
  /** Opens a session to the TA whose UUID is in the slot, with the slot's login; out: the session id. */
  OPEN_SESSION = 0,
  /** Invokes command `func` in `session` with the slot's parameters. */
  INVOKE_COMMAND = 1,
  /** Closes `session` (after the calls running in it). */
  CLOSE_SESSION = 2,
  /** Asks to cancel the call `cancel_id` running in `session`; the TA may ignore it. */
  CANCEL = 3,
  /** Registers shared memory: parameter 0 is `TMEM_OUTPUT` (wire offset, size, cookie). */
  REGISTER_SHM = 4,
  /** Unregisters the shared memory whose cookie is parameter 0's `c` (`RMEM_INPUT`). */
  UNREGISTER_SHM = 5,
}

/** Parameter attributes (`OPTEE_MSG_ATTR_TYPE_*`): values and registered memory share the TEE numbering. */
export enum OpteeMsgAttr {
  /** No parameter. */
  NONE = 0,
  /** Value `a`, `b` in. */
  VALUE_INPUT = 1,
  /** Value `a`, `b` out. */
  VALUE_OUTPUT = 2,
  /** Value `a`, `b` in and out. */
  VALUE_INOUT = 3,
  /** Registered memory in: `a` offset, `b` size, `c` the shared memory's cookie. */
  RMEM_INPUT = 5,
  /** Registered memory out (the secure world writes `b`, the size it produced). */
  RMEM_OUTPUT = 6,
  /** Registered memory in and out. */
  RMEM_INOUT = 7,
  /** Temporary memory by address: REGISTER_SHM's buffer (a = wire offset, b = size, c = cookie). */
  TMEM_OUTPUT = 0xa,
}

/** The hand-off state of a call slot. */
export enum OpteeCallState {
  /** No call: the normal world may write one. */
  FREE = 0,
  /** The normal world wrote a call and rang; the secure world has not taken it. */
  POSTED = 1,
  /** The secure world took the call (compare-exchange from POSTED) and runs it. */
  RUNNING = 2,
  /** The results are written; the normal world reads them and stores FREE. */
  RETURNED = 3,
}

// Byte offsets of the fields, from the start of a slot; every field is a little-endian u32
// except the UUID.

/** Offset of the hand-off state word ({@link OpteeCallState}; read and written with `Atomics`). */
export const SLOT_STATE = 0;
/** Offset of the command ({@link OpteeMsgCmd}; `optee_msg_arg.cmd`). */
export const SLOT_CMD = 4;
/** Offset of the TA command id of an invocation (`optee_msg_arg.func`). */
export const SLOT_FUNC = 8;
/** Offset of the session id (in for invoke, close, cancel; out for open session). */
export const SLOT_SESSION = 12;
/** Offset of the cancel id (`optee_msg_arg.cancel_id`). */
export const SLOT_CANCEL_ID = 16;
/** Offset of the TEE result code the secure world writes (`optee_msg_arg.ret`). */
export const SLOT_RET = 20;
/** Offset of the result's origin (`optee_msg_arg.ret_origin`, a `TeeOrigin`). */
export const SLOT_RET_ORIGIN = 24;
/** Offset of the number of parameters used, at most {@link SLOT_MAX_PARAMS}. */
export const SLOT_NUM_PARAMS = 28;
/** Offset of the login of an open session (OP-TEE passes it in a meta parameter). */
export const SLOT_LOGIN = 32;
/** Offset of the 16 octets of the TA UUID of an open session (OP-TEE: a meta parameter). */
export const SLOT_UUID = 40;
/** Offset of parameter 0; see {@link paramOffset}. */
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
