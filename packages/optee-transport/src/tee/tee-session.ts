import { TeeError } from './tee-error.js';
import type { TeeCallResult, TeeDriver } from './tee-driver.js';
import type { TeeParam } from './tee-param.js';
import * as teeParam from './tee-param.js';
import { TeeOrigin, TeeResult } from './tee-result.js';

// Hot imported values read once, at load: every invocation's checks then read module-local
// bindings, not properties of other modules' exports (a getter call per access under CommonJS
// loaders such as tsx's).
const { TEE_NUM_PARAMS, TeeParamType, isMemrefType, isValueType } = teeParam;
const { SUCCESS } = TeeResult;

/** What a successful invocation returned. */
export interface TeeInvokeResult {
  /**
   * The parameters as the TEE returned them: value outputs filled in; memory references with
   * the size the TEE reported (bound it before reading: it is not checked against the buffer).
   */
  readonly params: readonly TeeParam[];
}

/** What {@link TeeSession.invoke} and {@link TeeSession.submit} both take. */
export interface TeeCallOptions {
  /** Identifies the call for `TeeContext.cancel` (Linux `tee_ioctl_invoke_arg.cancel_id`); default 0. */
  readonly cancelId?: number;
}

/** Options of {@link TeeSession.invoke}. */
export interface TeeInvokeOptions extends TeeCallOptions {
  /**
   * Gives the invocation up while it waits for a free secure-world thread: the signal firing then
   * withdraws it (it never reaches the TEE) and the invocation rejects with `TEE_ERROR_CANCEL`
   * (origin COMMS). An invocation already posted runs to its end and resolves or rejects with
   * what the TEE returned (to stop it there, ask `TeeContext.cancel` with its `cancelId`).
   */
  readonly signal?: AbortSignal;
}

/** Options of {@link TeeSession.submit}. */
export interface TeeSubmitOptions extends TeeCallOptions {
  /**
   * Asked right before an invocation that waited for a free secure-world thread is posted; false
   * withdraws it: it never reaches the TEE, and `onReturn` gets `TEE_ERROR_CANCEL` (origin COMMS)
   * at once (see `TeeDriver.submit`). Must not throw. Default: always wanted.
   */
  readonly stillWanted?: () => boolean;
}

/** @internal What a session needs from its context. */
export interface TeeSessionOwner {
  readonly driver: TeeDriver;
  readonly closed: boolean;
  checkMemory(param: TeeParam, index: number): void;
  forget(session: TeeSession): void;
  isSystemSession(session: TeeSession): boolean;
}

function u32(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/**
 * A session with a trusted application, opened by `TeeContext.openSession` (Linux
 * `tee_client_open_session`): invoke commands in it, then close it.
 *
 * @example
 * ```ts
 * const session = await context.openSession(PTA_SCMI_UUID, { login: TeeLogin.REE_KERNEL });
 * const { params } = await session.invoke(PtaScmiCommand.CAPABILITIES, [
 *   teeValue(TeeParamType.VALUE_OUTPUT),
 * ]);
 * await session.close();
 * ```
 */
export class TeeSession {
  /** The session id the TEE gave. */
  public readonly id: number;
  readonly #owner: TeeSessionOwner;
  #closing: Promise<void> | undefined;

  /** @internal Created by a context. */
  public constructor(owner: TeeSessionOwner, id: number) {
    this.#owner = owner;
    this.id = id;
  }

  /** True once {@link TeeSession.close} was called. */
  public get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * True once the session was declared a system session (`TeeContext.systemSession`): its
   * invocations, cancel requests and close may take the thread the driver keeps for system
   * sessions. Stays true after the session closed.
   *
   * @example
   * ```ts
   * context.systemSession(session);
   * session.usesSystemThread; // true
   * ```
   */
  public get usesSystemThread(): boolean {
    return this.#owner.isSystemSession(this);
  }

  /**
   * Invokes command `func` with up to four parameters (Linux `tee_client_invoke_func`) and
   * resolves once the TEE returns it.
   *
   * @throws (rejects) TeeError with origin API (`TEE_ERROR_BAD_STATE` on a closed session or
   * context, `TEE_ERROR_BAD_PARAMETERS` for more than four parameters, a value that is not a u32, a
   * memory reference outside its shared memory or to memory of another context, a signal that is
   * not an `AbortSignal`); `TEE_ERROR_CANCEL` (origin COMMS) when `options.signal` withdrew it;
   * otherwise the TEE's result and origin, with the returned parameters.
   * @example
   * ```ts
   * const { params } = await session.invoke(PtaScmiCommand.CAPABILITIES, [
   *   teeValue(TeeParamType.VALUE_OUTPUT),
   * ], { signal: AbortSignal.timeout(1000) }); // gives up if no thread frees within 1 s
   * ```
   */
  public async invoke(
    func: number,
    params: readonly TeeParam[],
    options: TeeInvokeOptions = {},
  ): Promise<TeeInvokeResult> {
    const cancelId = this.#validate(params, options);
    const signal: unknown = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TeeError(
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.API,
        'invoke: signal is not an AbortSignal',
      );
    }
    const r = await this.#owner.driver.invoke(this.id, func >>> 0, cancelId, params, signal);
    if (r.result !== SUCCESS) {
      throw new TeeError(r.result, r.origin, `invoke command ${func} in session ${this.id}`, {
        params: r.params,
      });
    }
    return { params: r.params };
  }

  /**
   * Starts the invocation of command `func` and calls `onReturn` with the TEE's result (success
   * or not: read `result` and `origin`) directly in the task that delivers the return — no
   * promise in between, like an in-kernel completion. For receive paths that must run at once
   * (inside an RX guard); {@link TeeSession.invoke} is the promise form. `onReturn` must not throw.
   * `options.stillWanted` lets the caller withdraw an invocation still waiting for a thread.
   *
   * @throws TeeError with origin API, synchronously, for the same reasons as {@link TeeSession.invoke}.
   * @example
   * ```ts
   * session.submit(PtaScmiCommand.PROCESS_SMT_CHANNEL, [handle], {}, (r) => {
   *   if (r.result === TeeResult.SUCCESS) readResponse();
   * });
   * ```
   */
  public submit(
    func: number,
    params: readonly TeeParam[],
    options: TeeSubmitOptions,
    onReturn: (result: TeeCallResult) => void,
  ): void {
    const cancelId = this.#validate(params, options);
    this.#owner.driver.submit(this.id, func >>> 0, cancelId, params, onReturn, options.stillWanted);
  }

  #validate(params: readonly TeeParam[], options: TeeCallOptions): number {
    this.#check('invoke');
    if (params.length > TEE_NUM_PARAMS) {
      throw new TeeError(
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.API,
        `invoke: ${params.length} parameters, at most ${TEE_NUM_PARAMS}`,
      );
    }
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as TeeParam;
      if (isValueType(p.type)) {
        const v = p as { a: unknown; b: unknown };
        if (!u32(v.a) || !u32(v.b)) {
          throw new TeeError(
            TeeResult.BAD_PARAMETERS,
            TeeOrigin.API,
            `invoke: parameter ${i}: values are u32`,
          );
        }
      } else if (isMemrefType(p.type)) {
        this.#owner.checkMemory(p, i);
      } else if (p.type !== TeeParamType.NONE) {
        throw new TeeError(
          TeeResult.BAD_PARAMETERS,
          TeeOrigin.API,
          `invoke: parameter ${i}: unknown type ${String(p.type)}`,
        );
      }
    }
    const cancelId = options.cancelId ?? 0;
    if (!u32(cancelId)) {
      throw new TeeError(TeeResult.BAD_PARAMETERS, TeeOrigin.API, 'invoke: the cancel id is a u32');
    }
    return cancelId;
  }

  /**
   * Closes the session (Linux `tee_client_close_session`). Idempotent: later calls return the
   * same promise. From the call on, the session refuses invocations and its id is free: the
   * driver lets the id go as it sends the close, and the TEE may give it to a new session before
   * the close returns, which the context then takes (`TeeContext.openSession`). A cancel request
   * still goes through (`TeeContext.cancel`): it may be what lets a close queued behind a hung
   * invocation run — unless a new session has the id already (then it is refused: it could reach
   * that session). Once the close returned, the session is forgotten by its context, even when
   * the TEE is gone. Closing a system session ends it: once the close returned, the driver no
   * longer counts it, and when it was the last one, the thread kept for system sessions is
   * everyone's again.
   *
   * @throws (rejects) TeeError when the TEE refused to close it (the session is forgotten anyway).
   * @example
   * ```ts
   * const closing = session.close();
   * session.closed; // true: invoke and submit refuse it
   * await closing;
   * ```
   */
  public close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      const r = await this.#owner.driver.closeSession(this.id);
      if (r.result !== TeeResult.SUCCESS) {
        throw new TeeError(r.result, r.origin, `close session ${this.id}`);
      }
    } finally {
      this.#owner.forget(this);
    }
  }

  #check(what: string): void {
    if (this.#closing !== undefined || this.#owner.closed) {
      throw new TeeError(
        TeeResult.BAD_STATE,
        TeeOrigin.API,
        `${what}: session ${this.id} is closed`,
      );
    }
  }
}
