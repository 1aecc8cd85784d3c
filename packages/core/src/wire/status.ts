/**
 * SCMI status codes (Arm DEN0056 §4.1.4), as returned in the first word of every response.
 * `IN_USE` (−11) was added in SCMI v3.2 (pinctrl).
 *
 * @example
 * ```ts
 * if (status === ScmiStatus.NOT_SUPPORTED) console.log(scmiStatusName(status)); // 'NOT_SUPPORTED'
 * ```
 */
export enum ScmiStatus {
  /** The command completed successfully. */
  SUCCESS = 0,
  /** The command or feature is not supported. */
  NOT_SUPPORTED = -1,
  /** A parameter was invalid. */
  INVALID_PARAMETERS = -2,
  /** The caller is not allowed to perform the command. */
  DENIED = -3,
  /** The entity (domain, clock, agent, message) was not found. */
  NOT_FOUND = -4,
  /** A value was out of range. */
  OUT_OF_RANGE = -5,
  /** The platform is busy. */
  BUSY = -6,
  /** Communication with a device failed. */
  COMMS_ERROR = -7,
  /** A generic error occurred. */
  GENERIC_ERROR = -8,
  /** A hardware error occurred. */
  HARDWARE_ERROR = -9,
  /** The message was malformed (for example a wrong payload size). */
  PROTOCOL_ERROR = -10,
  /** The resource is in use (SCMI v3.2). */
  IN_USE = -11,
}

/**
 * The name of a status code (`'NOT_FOUND'`), or `'UNKNOWN(<n>)'` for a value outside the table.
 *
 * @example
 * ```ts
 * scmiStatusName(-4); // 'NOT_FOUND'
 * scmiStatusName(-99); // 'UNKNOWN(-99)'
 * ```
 */
export function scmiStatusName(status: number): string {
  const name = (ScmiStatus as unknown as Record<number, string | undefined>)[status];
  return name ?? `UNKNOWN(${status})`;
}

/**
 * True when `status` is one of the defined codes (0 … −11).
 *
 * False for anything else: positive values, non-integers, and codes newer than this table (the
 * project's wire reference treats −12 PARTIAL, proposed for Linux, as future). Never throws.
 *
 * @example
 * ```ts
 * isKnownScmiStatus(-4); // true: NOT_FOUND
 * isKnownScmiStatus(-12); // false
 * ```
 */
export function isKnownScmiStatus(status: number): status is ScmiStatus {
  return Number.isInteger(status) && status <= 0 && status >= -11;
}
