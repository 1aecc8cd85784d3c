/**
 * How a client identifies itself when it opens a session (GlobalPlatform `TEE_LOGIN_*`, Linux
 * `TEE_IOCTL_LOGIN_*`). The OP-TEE SCMI PTA accepts only {@link TeeLogin.REE_KERNEL}
 * (`core/pta/scmi.c`, `pta_scmi_open_session`): everything else gets `TEE_ERROR_ACCESS_DENIED`.
 *
 * @example
 * ```ts
 * await context.openSession(PTA_SCMI_UUID, { login: TeeLogin.REE_KERNEL });
 * ```
 */
export enum TeeLogin {
  /** No login data. */
  PUBLIC = 0x0,
  /** The user running the client. */
  USER = 0x1,
  /** A group of the user. */
  GROUP = 0x2,
  /** The client application. */
  APPLICATION = 0x4,
  /** The user and the application. */
  USER_APPLICATION = 0x5,
  /** A group and the application. */
  GROUP_APPLICATION = 0x6,
  /** The rich OS kernel (a kernel driver, like Linux's SCMI OP-TEE transport). */
  REE_KERNEL = 0x80000000,
}
