/**
 * TEE result codes (GlobalPlatform TEE Client API `TEEC_*`, the same values as OP-TEE's
 * `TEE_ERROR_*` in `lib/libutee/include/tee_api_defines.h` and Linux's `TEEC_*` in
 * `include/linux/tee_core.h`). A TEE reports one per call, with a {@link TeeOrigin}.
 *
 * @example
 * ```ts
 * if (error.result === TeeResult.BUSY) console.log(teeResultName(error.result)); // 'TEE_ERROR_BUSY'
 * ```
 */
export enum TeeResult {
  /** The call succeeded. */
  SUCCESS = 0x00000000,
  /** A non-specific failure. */
  GENERIC = 0xffff0000,
  /** Access privileges are not sufficient (the SCMI PTA: a login other than REE kernel). */
  ACCESS_DENIED = 0xffff0001,
  /** The operation was cancelled. */
  CANCEL = 0xffff0002,
  /** Concurrent accesses caused a conflict. */
  ACCESS_CONFLICT = 0xffff0003,
  /** Too much data for the requested operation. */
  EXCESS_DATA = 0xffff0004,
  /** The input data was of an invalid format. */
  BAD_FORMAT = 0xffff0005,
  /** The input parameters were invalid (wrong types, sizes, unknown channel, bad buffer). */
  BAD_PARAMETERS = 0xffff0006,
  /** The operation is not valid in the current state. */
  BAD_STATE = 0xffff0007,
  /** The requested item (a trusted application by UUID) was not found. */
  ITEM_NOT_FOUND = 0xffff0008,
  /** The operation is valid but not implemented. */
  NOT_IMPLEMENTED = 0xffff0009,
  /** The operation is valid but not supported (an unknown command, a missing capability). */
  NOT_SUPPORTED = 0xffff000a,
  /** Expected data was missing. */
  NO_DATA = 0xffff000b,
  /** System ran out of resources. */
  OUT_OF_MEMORY = 0xffff000c,
  /** The system is busy (the SCMI PTA: the channel is claimed by another message). */
  BUSY = 0xffff000d,
  /** Communication with the TEE failed. */
  COMMUNICATION = 0xffff000e,
  /** A security fault was detected. */
  SECURITY = 0xffff000f,
  /** The supplied output buffer is too short; the output size says how much is needed. */
  SHORT_BUFFER = 0xffff0010,
  /** The operation was cancelled by an external event. */
  EXTERNAL_CANCEL = 0xffff0011,
  /** The trusted application (or the whole TEE) is gone. */
  TARGET_DEAD = 0xffff3024,
}

/**
 * Where a TEE result came from (`TEEC_ORIGIN_*`): the client API itself, the communication
 * stack (driver, shared memory, the call to the secure world), the TEE core, or the trusted
 * application.
 *
 * @example
 * ```ts
 * if (error.origin === TeeOrigin.TRUSTED_APP) console.log('the PTA refused');
 * ```
 */
export enum TeeOrigin {
  /** The client API, before anything was sent. */
  API = 1,
  /** The communication stack between the normal and the secure world. */
  COMMS = 2,
  /** The TEE core (session and parameter checks). */
  TEE = 3,
  /** The trusted application. */
  TRUSTED_APP = 4,
}

const NAMES = new Map<number, string>(
  Object.entries(TeeResult)
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .map(([name, value]) => [value, name === 'SUCCESS' ? 'TEE_SUCCESS' : `TEE_ERROR_${name}`]),
);

/**
 * The name of a TEE result (`'TEE_ERROR_BUSY'`), or `'TEE_ERROR_UNKNOWN(0x…)'` for a value
 * outside the table (a hostile or newer TEE).
 *
 * @example
 * ```ts
 * teeResultName(0xffff0006); // 'TEE_ERROR_BAD_PARAMETERS'
 * ```
 */
export function teeResultName(result: number): string {
  return (
    NAMES.get(result >>> 0) ??
    `TEE_ERROR_UNKNOWN(0x${(result >>> 0).toString(16).padStart(8, '0')})`
  );
}

/**
 * The name of a TEE origin (`'TEE_ORIGIN_TEE'`), or `'TEE_ORIGIN_UNKNOWN(n)'`.
 *
 * @example
 * ```ts
 * teeOriginName(TeeOrigin.TRUSTED_APP); // 'TEE_ORIGIN_TRUSTED_APP'
 * ```
 */
export function teeOriginName(origin: number): string {
  const name: string | undefined = TeeOrigin[origin];
  return name === undefined ? `TEE_ORIGIN_UNKNOWN(${origin})` : `TEE_ORIGIN_${name}`;
}
