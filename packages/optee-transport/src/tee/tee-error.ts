import { teeOriginName, teeResultName, type TeeOrigin, type TeeResult } from './tee-result.js';
import type { TeeParam } from './tee-param.js';

const TEE_ERROR = Symbol.for('@scmi-ts/optee-transport/TeeError');

/**
 * A TEE call that did not return `TEE_SUCCESS`: the {@link TeeResult} code, where it came from
 * ({@link TeeOrigin}), and — for an invocation — the parameters as the TEE returned them (a
 * `TEE_ERROR_SHORT_BUFFER` reports the size it needs there). `code` is the result's name
 * (`'TEE_ERROR_BUSY'`), so errors compare like every other error of scmi-ts.
 *
 * @example
 * ```ts
 * try {
 *   await session.invoke(PtaScmiCommand.PROCESS_MSG_CHANNEL, params);
 * } catch (e) {
 *   if (TeeError.is(e) && e.result === TeeResult.BUSY) console.log(e.code, e.originName);
 * }
 * ```
 */
export class TeeError extends Error {
  /** The result code (compare with {@link TeeResult}; may be outside the table). */
  public readonly result: number;
  /** Where the result came from (compare with {@link TeeOrigin}). */
  public readonly origin: number;
  /** The result's name, e.g. `TEE_ERROR_BUSY`. */
  public readonly code: string;
  /** The parameters as the TEE returned them (invocations only). */
  public readonly params: readonly TeeParam[] | undefined;
  /** @internal */
  public readonly [TEE_ERROR] = true;

  /** Creates the error for `result` from `origin`; `message` says what was being done. */
  public constructor(
    result: TeeResult | number,
    origin: TeeOrigin | number,
    message: string,
    options?: ErrorOptions & { readonly params?: readonly TeeParam[] },
  ) {
    super(`${message}: ${teeResultName(result)} (${teeOriginName(origin)})`, options);
    this.name = 'TeeError';
    this.result = result >>> 0;
    this.origin = origin;
    this.code = teeResultName(result);
    this.params = options?.params;
  }

  /** The origin's name, e.g. `TEE_ORIGIN_TRUSTED_APP`. */
  public get originName(): string {
    return teeOriginName(this.origin);
  }

  /** True when `value` is a {@link TeeError} (any copy of this package). */
  public static is(value: unknown): value is TeeError {
    return typeof value === 'object' && value !== null && TEE_ERROR in value;
  }
}
