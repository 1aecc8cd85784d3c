import { TeeError } from './tee-error.js';
import type { TeeDriver } from './tee-driver.js';
import { TeeLogin } from './tee-login.js';
import type { TeeMemrefParam } from './tee-param.js';
import { TeeOrigin, TeeResult } from './tee-result.js';
import { TeeSession, type TeeSessionOwner } from './tee-session.js';
import type { TeeSharedMemory } from './tee-shared-memory.js';
import { parseTeeUuid } from './tee-uuid.js';

/** Options of {@link TeeContext.openSession}. */
export interface TeeOpenSessionOptions extends TeeAllocOptions {
  /** How the client identifies itself; default {@link TeeLogin.REE_KERNEL} (a kernel client). */
  readonly login?: TeeLogin | number;
}

/** Options of {@link TeeContext.allocSharedMemory}. */
export interface TeeAllocOptions {
  /**
   * Gives the call up: while it waits for a free secure-world thread (every thread taken by
   * other calls), the signal firing withdraws it — it never reaches the TEE. Once the signal has
   * fired the call rejects with `TEE_ERROR_CANCEL` (origin API); what the TEE did meanwhile (a
   * session it opened, memory it registered) is undone first: closed or freed, waiting for that.
   */
  readonly signal?: AbortSignal;
}

/** The signal of `options`, checked: `what` names the call in the error. */
function signalOf(options: TeeAllocOptions, what: string): AbortSignal | undefined {
  const signal: unknown = options.signal;
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw new TeeError(
    TeeResult.BAD_PARAMETERS,
    TeeOrigin.API,
    `${what}: signal is not an AbortSignal`,
  );
}

/** The error of a call given up because `what`'s signal fired. */
function cancelled(what: string): TeeError {
  return new TeeError(TeeResult.CANCEL, TeeOrigin.API, `${what}: given up (the signal fired)`);
}

/**
 * A client's context with a TEE (Linux `struct tee_context` from `tee_client_open_context`):
 * sessions and shared memory are opened through it, and closing it closes what is left (newest
 * first), like closing the TEE device file.
 *
 * @example
 * ```ts
 * const context = openTeeContext(driver);
 * const session = await context.openSession(PTA_SCMI_UUID);
 * const shm = await context.allocSharedMemory(128);
 * await context.close(); // frees shm, closes session
 * ```
 */
export class TeeContext {
  readonly #driver: TeeDriver;
  /** Sessions open or closing (until their close returns); only the open ones hold their id. */
  readonly #sessions = new Set<TeeSession>();
  /** Sessions declared system sessions (kept after they close, for `usesSystemThread`). */
  readonly #systemSessions = new WeakSet<TeeSession>();
  readonly #shms = new Set<TeeSharedMemory>();
  #closing: Promise<void> | undefined;
  /** What the sessions see of the context; `closed` is a plain field, set when the context closes. */
  readonly #owner: { -readonly [K in keyof TeeSessionOwner]: TeeSessionOwner[K] };

  /** @internal Use {@link openTeeContext}. */
  public constructor(driver: TeeDriver) {
    this.#driver = driver;
    this.#owner = {
      driver,
      closed: false,
      checkMemory: (p, i) => {
        this.#checkMemory(p as TeeMemrefParam, i);
      },
      forget: (s) => this.#sessions.delete(s),
      isSystemSession: (s) => this.#systemSessions.has(s),
    };
  }

  /** The driver the context talks through. */
  public get driver(): TeeDriver {
    return this.#driver;
  }

  /** True once {@link TeeContext.close} was called. */
  public get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Sessions of the context whose close has not returned: the open ones and the closing ones (a
   * closing session's id is free already, see {@link TeeContext.openSession}).
   *
   * @example
   * ```ts
   * const closing = session.close();
   * context.sessionCount; // still counts it
   * await closing; // now it does not
   * ```
   */
  public get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Shared memories allocated and not freed. */
  public get sharedMemoryCount(): number {
    return this.#shms.size;
  }

  /**
   * Opens a session to the trusted application `uuid` (Linux `tee_client_open_session`).
   *
   * A session id is in use from the open that returned it until its session's
   * {@link TeeSession.close} is called — not until the close returns: the driver lets the id go
   * when it sends the close (`OpteeDriver`, as Linux's `optee_close_session` takes the session
   * out of the context's list before the call), and the TEE may give it to a new session as
   * soon as it ran the close. A new session with the id of a closing one is taken: both are
   * tracked until the old close returns, each by its own object (the old one refuses invocations).
   * The id of a session open and not closing is refused and not closed — closing it would
   * close the session that has it (`OpteeDriver` refuses it first, in any of its contexts).
   *
   * @throws (rejects) TeeError: `TEE_ERROR_BAD_STATE` (origin API) on a closed context,
   * `TEE_ERROR_BAD_FORMAT` (origin API) for a malformed UUID, `TEE_ERROR_BAD_STATE` (origin
   * COMMS) when the TEE answers with the id of a session open and not closing in this context (or,
   * through `OpteeDriver`, whose ids are the secure world's, in any context of the driver), else
   * the TEE's refusal (`TEE_ERROR_ITEM_NOT_FOUND` from the TEE for an unknown UUID,
   * `TEE_ERROR_ACCESS_DENIED` from the trusted application for a login it does not accept…);
   * `TEE_ERROR_CANCEL` once `options.signal` has fired (origin API; the session, if the TEE opened
   * it meanwhile, closed first), `TEE_ERROR_BAD_PARAMETERS` (origin API) for a signal that is not
   * an `AbortSignal`.
   * @example
   * ```ts
   * const closing = old.close();
   * const session = await context.openSession(PTA_SCMI_UUID); // may have old.id: taken
   * await closing;
   * ```
   */
  public async openSession(
    uuid: string | Uint8Array,
    options: TeeOpenSessionOptions = {},
  ): Promise<TeeSession> {
    this.#check('open session');
    const signal = signalOf(options, 'open session');
    const octets = typeof uuid === 'string' ? parseTeeUuid(uuid) : uuid;
    if (octets.byteLength !== 16) {
      throw new TeeError(TeeResult.BAD_FORMAT, TeeOrigin.API, 'open session: a UUID has 16 octets');
    }
    const login = options.login ?? TeeLogin.REE_KERNEL;
    const r = await this.#driver.openSession(octets, login >>> 0, signal);
    if (signal?.aborted === true && r.result !== TeeResult.SUCCESS) throw cancelled('open session');
    if (r.result !== TeeResult.SUCCESS) throw new TeeError(r.result, r.origin, 'open session');
    for (const open of this.#sessions) {
      // A closing session's id is free: the driver let it go when it sent the close.
      if (open.id === r.session && !open.closed) {
        // A TEE that hands out an id already open in this context: refused, and not closed
        // (closing it would close the session that has it).
        throw new TeeError(
          TeeResult.BAD_STATE,
          TeeOrigin.COMMS,
          `open session: the TEE gave session id ${r.session}, already open in this context`,
        );
      }
    }
    const session = new TeeSession(this.#owner, r.session);
    if (this.closed) {
      // The context closed while the TEE opened it: close it at once.
      await session.close().catch(() => undefined);
      throw new TeeError(TeeResult.BAD_STATE, TeeOrigin.API, 'open session: the context closed');
    }
    this.#sessions.add(session);
    if (signal?.aborted === true) {
      // Given up while the TEE opened it (the call was posted): nobody will use it.
      await session.close().catch(() => undefined);
      throw cancelled('open session');
    }
    return session;
  }

  /**
   * Asks the TEE to cancel the invocation `cancelId` running in `session` (Linux
   * `tee_client_cancel_req`). A trusted application may ignore the request; the invocation then
   * returns when it is done.
   *
   * A session whose close was called still takes a cancel (it may be what lets a close queued
   * behind a hung invocation run) — unless its id is another open session's now (the TEE ran the
   * close and reused the id): refused, as `OpteeDriver` refuses such an id in any context.
   *
   * @throws (rejects) TeeError `TEE_ERROR_BAD_STATE` (origin API) when the context is closed, the
   * session is not in it (its close returned), or it is closing and another open session has its
   * id; the driver's or the TEE's error.
   * @example
   * ```ts
   * const running = session.invoke(CMD_LONG, params, { cancelId: 7 });
   * await context.cancel(session, 7); // the TA may ignore it
   * ```
   */
  public async cancel(session: TeeSession, cancelId: number): Promise<void> {
    this.#check('cancel');
    if (!this.#sessions.has(session)) {
      throw new TeeError(
        TeeResult.BAD_STATE,
        TeeOrigin.API,
        `cancel: session ${session.id} is not open in this context`,
      );
    }
    // A closing session whose id a new session of this context has again (the TEE ran the close
    // and reused it): the driver would take the cancel for the new one's.
    if (session.closed) {
      for (const other of this.#sessions) {
        if (other !== session && other.id === session.id && !other.closed) {
          throw new TeeError(
            TeeResult.BAD_STATE,
            TeeOrigin.API,
            `cancel: session ${session.id} is closing and its id is another open session's now`,
          );
        }
      }
    }
    const r = await this.#driver.cancel(session.id, cancelId >>> 0);
    if (r.result !== TeeResult.SUCCESS)
      throw new TeeError(r.result, r.origin, `cancel in session ${session.id}`);
  }

  /**
   * Declares `session` a system session (Linux `tee_client_system_session`): the driver keeps
   * one secure-world thread for the calls of system sessions while at least one is open, so that
   * they still run when other clients hold every other thread — the calls of a system session
   * may take that last thread and are the first to get a thread that frees. Use it for sessions
   * whose calls must not wait behind other clients (Linux's SCMI OP-TEE transport does it for
   * each channel's session: a clock or regulator the secure world waits for may need SCMI). The
   * reservation ends when the last system session closes ({@link TeeSession.close}).
   *
   * Synchronous, like Linux's: nothing is sent to the secure world. Declaring a session twice
   * succeeds (it counts once). A refusal leaves the session as it was, usable as a normal
   * session: a caller that can live without the reserved thread goes on (Linux's SCMI transport
   * warns "Could not switch to system session, do best effort").
   *
   * @throws TeeError `TEE_ERROR_BAD_STATE` (origin API) on a closed context, or for a session
   * that is closed, closing or not open in this context; `TEE_ERROR_NOT_SUPPORTED` (origin API)
   * when the driver has no system sessions at all (no `systemSession` operation, as Linux's
   * OP-TEE driver over the FF-A ABI: `tee_client_system_session` returns `-EINVAL`); otherwise
   * the driver's refusal (`OpteeDriver`: `TEE_ERROR_NOT_SUPPORTED` from COMMS when it does not
   * know the thread count or the secure world has one thread; the closed driver's error).
   * @example
   * ```ts
   * const session = await context.openSession(PTA_SCMI_UUID);
   * try {
   *   context.systemSession(session);
   * } catch (e) {
   *   if (!TeeError.is(e)) throw e;
   *   console.warn(`no reserved thread (${e.code}), best effort`);
   * }
   * ```
   */
  public systemSession(session: TeeSession): void {
    this.#check('system session');
    if (!this.#sessions.has(session) || session.closed) {
      throw new TeeError(
        TeeResult.BAD_STATE,
        TeeOrigin.API,
        `system session: session ${session.id} is not open in this context`,
      );
    }
    const driver = this.#driver;
    if (driver.systemSession === undefined) {
      throw new TeeError(
        TeeResult.NOT_SUPPORTED,
        TeeOrigin.API,
        `system session: the ${driver.implementation} driver has no system sessions`,
      );
    }
    const r = driver.systemSession(session.id);
    if (r.result !== TeeResult.SUCCESS)
      throw new TeeError(r.result, r.origin, `system session ${session.id}`);
    this.#systemSessions.add(session);
  }

  /**
   * Allocates `size` bytes of shared memory registered with the TEE (Linux
   * `tee_shm_alloc_kernel_buf`), zeroed.
   *
   * @throws (rejects) TeeError `TEE_ERROR_BAD_STATE` (origin API) on a closed context,
   * `TEE_ERROR_BAD_PARAMETERS` (origin API) for a size that is not a positive integer or a signal
   * that is not an `AbortSignal`, `TEE_ERROR_CANCEL` (origin API) once `options.signal` has fired
   * (memory the TEE registered meanwhile freed first), or the driver's error
   * (`TEE_ERROR_OUT_OF_MEMORY`…).
   * @example
   * ```ts
   * const shm = await context.allocSharedMemory(128, { signal: AbortSignal.timeout(1000) });
   * ```
   */
  public async allocSharedMemory(
    size: number,
    options: TeeAllocOptions = {},
  ): Promise<TeeSharedMemory> {
    this.#check('allocate shared memory');
    const signal = signalOf(options, 'allocate shared memory');
    if (!Number.isInteger(size) || size <= 0) {
      throw new TeeError(
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.API,
        `allocate shared memory: bad size ${String(size)}`,
      );
    }
    let shm: TeeSharedMemory;
    try {
      shm = await this.#driver.allocSharedMemory(size, signal);
    } catch (e) {
      throw signal?.aborted === true ? cancelled('allocate shared memory') : e;
    }
    if (this.closed || signal?.aborted === true) {
      await shm.free().catch(() => undefined);
      if (!this.closed) throw cancelled('allocate shared memory');
      throw new TeeError(
        TeeResult.BAD_STATE,
        TeeOrigin.API,
        'allocate shared memory: the context closed',
      );
    }
    this.#shms.add(shm);
    shm.onFreed = () => this.#shms.delete(shm);
    return shm;
  }

  /**
   * Closes the context: closes the sessions still open, then frees the shared memory still
   * allocated, newest first each, even when some fail. Idempotent.
   *
   * @throws (rejects) AggregateError listing what failed to close (everything was dropped anyway).
   */
  public close(): Promise<void> {
    this.#owner.closed = true;
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const errors: unknown[] = [];
    for (const s of [...this.#sessions].reverse()) {
      try {
        await s.close();
      } catch (e) {
        errors.push(e);
      }
    }
    for (const m of [...this.#shms].reverse()) {
      try {
        await m.free();
      } catch (e) {
        errors.push(e);
      }
    }
    this.#shms.clear();
    if (errors.length > 0) throw new AggregateError(errors, 'closing the TEE context failed');
  }

  #checkMemory(p: TeeMemrefParam, i: number): void {
    const shm = p.shm as TeeSharedMemory | undefined;
    if (shm === undefined || !this.#shms.has(shm) || shm.freed || shm.owner !== this.#driver) {
      throw new TeeError(
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.API,
        `invoke: parameter ${i}: the shared memory is not allocated in this context`,
      );
    }
    const { offset, size } = p;
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(size) ||
      offset < 0 ||
      size < 0 ||
      offset + size > shm.size
    ) {
      throw new TeeError(
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.API,
        `invoke: parameter ${i}: ${String(size)} bytes at ${String(offset)} do not fit ${shm.size} bytes`,
      );
    }
  }

  #check(what: string): void {
    if (this.closed)
      throw new TeeError(TeeResult.BAD_STATE, TeeOrigin.API, `${what}: the context is closed`);
  }
}

/**
 * Opens a client context on a TEE driver (Linux `tee_client_open_context`).
 *
 * @throws TeeError `TEE_ERROR_COMMUNICATION` (origin COMMS) when the driver is closed.
 * @example
 * ```ts
 * const context = openTeeContext(new OpteeDriver(wire.ree));
 * ```
 */
export function openTeeContext(driver: TeeDriver): TeeContext {
  if (driver.closed) {
    throw new TeeError(
      TeeResult.COMMUNICATION,
      TeeOrigin.COMMS,
      'open context: the driver is closed',
    );
  }
  return new TeeContext(driver);
}
