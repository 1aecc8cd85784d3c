import { ScmiError } from '@scmi-ts/core';

const PLATFORM_ERROR = Symbol.for('@scmi-ts/platform/PlatformError');

/**
 * Machine-readable codes carried by {@link PlatformError}.
 *
 * - `E_UNKNOWN_AGENT`: `connect` for an agent id the configuration does not name.
 * - `E_AGENT_CONNECTED`: `connect` for an agent that is already connected.
 * - `E_CLOSED`: the platform or the peer port is closed.
 * - `E_FRAME_KIND`: a peer-port frame kind that is reserved or already registered.
 * - `E_FAULT_RULE`: a fault rule that cannot be applied (bad field).
 * - `E_PEER_PORT`: the peer port could not listen.
 * - `E_ARGUMENT`: an argument a method cannot take (`postVendorNotification` for a protocol that
 *   is not one of the platform's vendor protocols, say).
 */
export type PlatformErrorCode =
  | 'E_UNKNOWN_AGENT'
  | 'E_AGENT_CONNECTED'
  | 'E_CLOSED'
  | 'E_FRAME_KIND'
  | 'E_FAULT_RULE'
  | 'E_PEER_PORT'
  | 'E_ARGUMENT';

/**
 * The error the platform package throws for misuse of its API (never for hostile bytes: those are
 * answered with an SCMI status or dropped and counted). A {@link @scmi-ts/core!ScmiError}, with a
 * brand that survives duplicated copies of the package.
 *
 * @example
 * ```ts
 * try { platform.connect(9, link); } catch (e) {
 *   if (PlatformError.is(e) && e.code === 'E_UNKNOWN_AGENT') console.log('no agent 9');
 * }
 * ```
 */
export class PlatformError extends ScmiError {
  /** What went wrong. */
  declare public readonly code: PlatformErrorCode;
  /** @internal */
  public readonly [PLATFORM_ERROR] = true;

  /** Creates an error with a code; `options.cause` chains the underlying error. */
  public constructor(code: PlatformErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }

  /** True when `value` is a {@link PlatformError} (from any copy of this package). */
  public static override is(value: unknown): value is PlatformError {
    return typeof value === 'object' && value !== null && PLATFORM_ERROR in value;
  }
}
