import { TeeError } from '../tee/tee-error.js';
import type { TeeCallResult, TeeDriver } from '../tee/tee-driver.js';
import { TeeParamType, type TeeParam } from '../tee/tee-param.js';
import { TeeOrigin, TeeResult } from '../tee/tee-result.js';
import { TeeSharedMemory } from '../tee/tee-shared-memory.js';
import { OpteeCallState, OpteeMsgAttr, OpteeMsgCmd, SLOT_STATE } from '../wire/optee-msg-arg.js';
import * as msgArg from '../wire/optee-msg-arg.js';
import { TEE_STATE_CLOSED, WIRE_TEE_STATE_WORD } from '../wire/optee-wire-layout.js';
import type { OpteeWireEnd } from '../wire/optee-wire.js';
import { ShmPool } from './shm-pool.js';

/**
 * Takes over the delivery of one call's return (see {@link OpteeDriver.setReturnInterceptor}):
 * call `deliver` when the caller should see the return. `deliver` runs at most once; after the
 * driver closed it does nothing.
 */
export type TeeReturnInterceptor = (deliver: () => void) => void;

/** Options of an {@link OpteeDriver}. */
export interface OpteeDriverOptions {
  /**
   * Whether the driver knows how many threads the secure world has (Linux's
   * `optee_call_queue.total_thread_count`). `true` (default): the wire's `threads`, as Linux
   * learns it with `OPTEE_SMC_GET_THREAD_COUNT` — system sessions are supported and, while one
   * is open, one thread is kept for them. `false`: as when that call fails, or over the FF-A
   * ABI (`optee_cq_init(&optee->call_queue, 0)`) — `stats.threadCount` is 0, calls take any free
   * thread and {@link OpteeDriver.systemSession} answers `TEE_ERROR_NOT_SUPPORTED`. Anything but
   * a boolean is refused by the constructor.
   *
   * @example
   * ```ts
   * // A driver like Linux's when OPTEE_SMC_GET_THREAD_COUNT fails: no system sessions.
   * const driver = new OpteeDriver(wire.ree, { knowsThreadCount: false });
   * ```
   */
  readonly knowsThreadCount?: boolean;
}

/** Counters of an {@link OpteeDriver}. */
export interface OpteeDriverStats {
  /** Calls posted to the secure world. */
  readonly calls: number;
  /**
   * Calls that had to wait for a free thread (call slot), those held back for the reserved
   * thread included.
   */
  readonly waitedForThread: number;
  /**
   * The secure world's thread count as the driver knows it (Linux `total_thread_count`): the
   * wire's `threads`, or 0 with `knowsThreadCount: false`.
   */
  readonly threadCount: number;
  /**
   * System sessions open now (Linux `sys_thread_req_count`): while above 0, one thread is kept
   * for their calls.
   */
  readonly systemSessions: number;
  /** Calls of system sessions posted (invocations, cancel requests, closes). */
  readonly systemCalls: number;
  /**
   * System calls posted into the last free thread while it was reserved: calls a normal call
   * could not have made there.
   */
  readonly reservedThreadCalls: number;
  /**
   * Normal calls that found a free thread but waited because it was the last one and reserved
   * for system sessions (each call counted once).
   */
  readonly waitedForReservedThread: number;
  /** Calls posted and not yet returned (or returned and held by an interceptor). */
  readonly inFlight: number;
  /**
   * Calls withdrawn, never posted: queued ones whose `stillWanted` hook (see
   * {@link OpteeDriver.submit}) answered false when a thread freed for them, queued ones whose
   * signal fired (see {@link OpteeDriver.openSession}), and ones given a signal that had fired
   * already.
   */
  readonly withdrawn: number;
  /** Returns seen for a slot with no call of ours (a hostile or confused secure world), ignored. */
  readonly strayReturns: number;
  /** Shared memories registered with the TEE and not yet given back (leaked ones excluded). */
  readonly sharedMemory: number;
  /**
   * Shared memories the secure world refused to unregister once no call of ours referenced them
   * (a confused or hostile secure world): their bytes stay out of the pool, never reused.
   */
  readonly leakedSharedMemory: number;
  /** Pool bytes held by {@link OpteeDriverStats.leakedSharedMemory}. */
  readonly leakedBytes: number;
}

type RawParam = readonly [attr: number, a: number, b: number, c: number];

/**
 * What a call asks of the secure world (the fields of its `optee_msg_arg`); what is left out is
 * 0 or empty. `system`: a call of a system session (it may take the reserved thread).
 */
interface CallMessage {
  readonly cmd: OpteeMsgCmd;
  readonly func?: number;
  readonly session?: number;
  readonly cancelId?: number;
  readonly login?: number;
  readonly uuid?: Uint8Array;
  readonly params?: readonly TeeParam[];
  readonly raw?: readonly RawParam[];
  readonly system?: boolean;
}

/** How a call is waited for (see `OpteeDriver.submit` and `OpteeDriver.openSession`). */
interface CallWaiting {
  /** Asked before a queued call is posted; false withdraws it. */
  readonly stillWanted?: (() => boolean) | undefined;
  /** Withdraws the call while it is queued. */
  readonly signal?: AbortSignal | undefined;
}

interface PendingCall {
  readonly cmd: OpteeMsgCmd;
  readonly func: number;
  readonly session: number;
  readonly cancelId: number;
  readonly login: number;
  readonly uuid: Uint8Array | undefined;
  readonly params: readonly TeeParam[];
  readonly raw: readonly RawParam[];
  readonly resolve: (r: TeeCallResult) => void;
  /** Asked before a queued call is posted; false withdraws it (see `OpteeDriver.submit`). */
  readonly stillWanted: (() => boolean) | undefined;
  /**
   * While the call is queued with a signal (see `OpteeDriver.openSession`): withdraws it when the
   * signal fires. Removed once the call is posted or ends.
   */
  onAbort: { readonly signal: AbortSignal; readonly listener: () => void } | undefined;
  /** Its signal fired while the pump ran: withdrawn by the pump, or right after it. */
  abandoned: boolean;
  /** A call of a system session: it may take the reserved thread and is woken first. */
  readonly system: boolean;
  seen: boolean;
  /** Counted once in `waitedForReservedThread`. */
  heldBack: boolean;
  /** The call took a reference on the shared memory its parameters point into. */
  holdsShm: boolean;
}

/** One registered shared memory, as the driver tracks it (Linux `struct tee_shm`). */
interface ShmRegistration {
  /** Its block in the pool. */
  readonly offset: number;
  /** Bytes of the block. */
  readonly size: number;
  /**
   * Calls in flight (queued, posted, or returned and held by an interceptor) whose parameters
   * reference it: Linux's `tee_shm` reference count, taken for each memref parameter.
   */
  refs: number;
  /** Freeing began: calls that reference it are refused. */
  closing: boolean;
  /** The secure world refused to unregister it: the block stays out of the pool. */
  leaked: boolean;
  /** Wakes the free waiting for `refs` to reach 0. */
  idle: (() => void) | undefined;
}

const NO_PARAMS: readonly TeeParam[] = [];
const NO_RAW: readonly RawParam[] = [];

// Hot imported values read once, at load: the per-call paths then read module-local bindings,
// not properties of other modules' exports (a getter call per access under CommonJS loaders such
// as tsx's).
const { FREE, POSTED, RETURNED } = OpteeCallState;
const {
  SLOT_CANCEL_ID,
  SLOT_CMD,
  SLOT_FUNC,
  SLOT_LOGIN,
  SLOT_NUM_PARAMS,
  SLOT_RET,
  SLOT_RET_ORIGIN,
  SLOT_SESSION,
  SLOT_UUID,
  SLOT_MAX_PARAMS,
  paramOffset,
} = msgArg;
const ATTR_NONE = OpteeMsgAttr.NONE as number;
const INVOKE_COMMAND = OpteeMsgCmd.INVOKE_COMMAND as number;
const { SUCCESS } = TeeResult;
const { NONE, VALUE_OUTPUT, VALUE_INOUT, MEMREF_OUTPUT, MEMREF_INOUT } = TeeParamType;
const TEE_STATE_WORD = WIRE_TEE_STATE_WORD;
const TEE_CLOSED = TEE_STATE_CLOSED;

function attrOf(p: TeeParam): number {
  // TEE parameter types and OPTEE_MSG_ATTR_TYPE_{VALUE,RMEM}_* share their numbers.
  return p.type;
}

/**
 * The normal world's OP-TEE driver (Linux `drivers/tee/optee/`): it implements the TEE driver
 * operations over an OP-TEE wire — each call is written into a free call slot (one per OP-TEE
 * thread; a call waits when all are taken), posted with a doorbell ring (the SMC), and completed
 * when the secure world marks the slot returned and rings back. Shared memory is allocated from
 * the wire's pool and registered with OP-TEE (`OPTEE_MSG_CMD_REGISTER_SHM`); memory references
 * travel as registered-memory parameters (cookie, offset, size).
 *
 * Everything the secure world writes is read as plain numbers and handed back unchecked to the
 * client API (sizes included): the users of a call bound what they read.
 *
 * Shared memory is reference-counted like Linux's `tee_shm`: each call in flight holds the
 * memories its parameters point into, and freeing one waits until none does before
 * unregistering it (a call that references memory being freed fails at once with
 * `TEE_ERROR_BAD_PARAMETERS`, origin COMMS). Memory the secure world refuses to unregister after
 * that is never reused (`stats.leakedSharedMemory`).
 *
 * System sessions (Linux ≥ 6.8, `drivers/tee/optee/call.c`): a session declared with
 * {@link OpteeDriver.systemSession} makes its calls system calls. While at least one system
 * session is open, a normal call takes a thread only while more than one is free, a system call
 * may take the last one, and a freed thread goes to a waiting system call first, then to the
 * waiting calls in order (`optee_cq_wait_init`, `optee_cq_complete_one`). Closing the last
 * system session gives the kept thread back to every call and wakes a waiter
 * (`optee_cq_decr_sys_thread_count`). Opening a session and registering or unregistering shared
 * memory are always normal calls, as in Linux.
 *
 * @example
 * ```ts
 * const driver = new OpteeDriver(wire.ree);
 * const context = openTeeContext(driver);
 * // …
 * driver.close();
 * ```
 */
export class OpteeDriver implements TeeDriver {
  /** `'optee'`. */
  public readonly implementation = 'optee';
  readonly #wire: OpteeWireEnd;
  readonly #words: Int32Array;
  readonly #view: DataView;
  readonly #slots: (PendingCall | undefined)[];
  /** Int32 index of each call slot's state word. */
  readonly #stateWords: number[] = [];
  readonly #queue: PendingCall[] = [];
  /** Queued calls whose signal fired while the pump ran (see `#withdrawOnAbort`). */
  readonly #abandoned: PendingCall[] = [];
  readonly #pool: ShmPool;
  readonly #shms = new Map<number, ShmRegistration>();
  #nextShmId = 1;
  #interceptor: TeeReturnInterceptor | undefined;
  /** Open sessions (Linux `optee_context_data.sess_list`): true for a system session. */
  readonly #sessions = new Map<number, boolean>();
  /**
   * Session ids whose close was sent and has not returned, with how many such closes: the TEE
   * may have given the id to a new session already (see `cancel`).
   */
  readonly #closingIds = new Map<number, number>();
  /** Linux `total_thread_count`: the wire's threads, or 0 when unknown. */
  readonly #threadCount: number;
  /** Linux `sys_thread_req_count`. */
  #systemSessions = 0;
  #pumping = false;
  #closed = false;
  /** What calls fail with once the driver is closed: COMMUNICATION, or TARGET_DEAD (`teeDied`). */
  #closedResult: TeeResult = TeeResult.COMMUNICATION;
  #calls = 0;
  #waited = 0;
  #stray = 0;
  #leaked = 0;
  #leakedBytes = 0;
  #systemCalls = 0;
  #reservedThreadCalls = 0;
  #heldBack = 0;
  #withdrawn = 0;
  /** Set by {@link OpteeDriver.teeDied}. */
  #died = false;
  /** What {@link OpteeDriver.onTeeDied} subscribed; emptied when they are told, or at close. */
  readonly #deathListeners = new Set<() => void>();

  /**
   * Starts the driver on the normal world's end of a wire (it listens to the end's doorbell
   * until {@link OpteeDriver.close}); `options.knowsThreadCount` says whether it knows the secure
   * world's thread count (default: it does, the wire's `threads`).
   *
   * @throws TeeError `TEE_ERROR_BAD_PARAMETERS` (origin API) when `wire` is the secure world's
   * end, or `options.knowsThreadCount` is not a boolean.
   */
  public constructor(wire: OpteeWireEnd, options: OpteeDriverOptions = {}) {
    if (wire.side !== 'ree') {
      throw new TeeError(
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.API,
        'an OP-TEE driver needs the normal world end of the wire',
      );
    }
    const knows: unknown = options.knowsThreadCount ?? true;
    if (typeof knows !== 'boolean') {
      throw new TeeError(
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.API,
        `an OP-TEE driver's knowsThreadCount is a boolean, got ${String(knows)}`,
      );
    }
    this.#threadCount = knows ? wire.layout.threads : 0;
    this.#wire = wire;
    this.#words = new Int32Array(wire.memory);
    this.#view = new DataView(wire.memory);
    this.#slots = new Array<PendingCall | undefined>(wire.layout.threads).fill(undefined);
    for (let slot = 0; slot < wire.layout.threads; slot++) {
      this.#stateWords.push((wire.layout.slotOffset(slot) + SLOT_STATE) / 4);
    }
    this.#pool = new ShmPool(wire.layout.poolOffset, wire.layout.poolSize);
    wire.doorbell.listen(() => {
      this.#onReturn();
    });
  }

  /** The wire the driver runs over. */
  public get wire(): OpteeWireEnd {
    return this.#wire;
  }

  /** @inheritDoc */
  public get closed(): boolean {
    return this.#closed;
  }

  /** True once {@link OpteeDriver.teeDied} ran (before a close): the secure world is gone. */
  public get died(): boolean {
    return this.#died;
  }

  /** The driver's counters. */
  public get stats(): OpteeDriverStats {
    return {
      calls: this.#calls,
      waitedForThread: this.#waited,
      threadCount: this.#threadCount,
      systemSessions: this.#systemSessions,
      systemCalls: this.#systemCalls,
      reservedThreadCalls: this.#reservedThreadCalls,
      waitedForReservedThread: this.#heldBack,
      inFlight: this.#slots.filter((c) => c !== undefined).length + this.#queue.length,
      withdrawn: this.#withdrawn,
      strayReturns: this.#stray,
      sharedMemory: this.#shms.size - this.#leaked,
      leakedSharedMemory: this.#leaked,
      leakedBytes: this.#leakedBytes,
    };
  }

  /**
   * Hands every future call return to `interceptor` instead of delivering it at once, so that a
   * same-thread test can hold a return (the secure world has answered, the caller does not know
   * yet) and deliver it at a moment it chooses; `undefined` restores direct delivery. A held
   * return keeps its call slot until delivered.
   */
  public setReturnInterceptor(interceptor: TeeReturnInterceptor | undefined): void {
    this.#interceptor = interceptor;
  }

  /**
   * Opens a session on the trusted application `uuid` with `login` (see
   * {@link TeeDriver.openSession}).
   *
   * The session ids are the secure world's, one namespace for every context of the driver: an
   * answer SUCCESS with the id of a session the driver has open (a confused or hostile secure
   * world; OP-TEE gives each open session its own id) is refused with `TEE_ERROR_BAD_STATE`
   * (origin COMMS, `session` the id it gave), whichever context opened that one. The session is
   * not closed — that would close the one that has the id — and the open one keeps what it was
   * (a system session stays one). Linux keeps a session list per context (`find_session`) and
   * would take it as a second session: closing either then closes the one session the secure
   * world has.
   */
  public openSession(
    uuid: Uint8Array,
    login: number,
    signal?: AbortSignal,
  ): Promise<TeeCallResult> {
    // The slot holds 16 bytes of UUID; anything else is the caller's mistake, not a call.
    if (uuid.byteLength !== 16) return Promise.resolve(failed(TeeResult.BAD_PARAMETERS));
    return new Promise<TeeCallResult>((resolve) => {
      // A new session is never a system session (Linux: `sess->use_sys_thread` is 0 then).
      const opened = (r: TeeCallResult): void => {
        if (r.result === SUCCESS) {
          if (this.#sessions.has(r.session)) {
            resolve({ ...failed(TeeResult.BAD_STATE), session: r.session });
            return;
          }
          this.#sessions.set(r.session, false);
        }
        resolve(r);
      };
      this.#start({ cmd: OpteeMsgCmd.OPEN_SESSION, login, uuid }, opened, { signal });
    });
  }

  /** @inheritDoc */
  public invoke(
    session: number,
    func: number,
    cancelId: number,
    params: readonly TeeParam[],
    signal?: AbortSignal,
  ): Promise<TeeCallResult> {
    const system = this.#sessions.get(session) === true;
    return this.#call(
      { cmd: OpteeMsgCmd.INVOKE_COMMAND, func, session, cancelId, params, system },
      signal,
    );
  }

  /**
   * @inheritDoc
   *
   * `stillWanted` is asked each time the call, queued because no thread was free, is next to be
   * posted (a thread freed); false withdraws it: it is never posted, and `onReturn` gets
   * `TEE_ERROR_CANCEL` (origin COMMS) at once, counted in `stats.withdrawn`. A call posted when
   * submitted is never asked.
   */
  public submit(
    session: number,
    func: number,
    cancelId: number,
    params: readonly TeeParam[],
    onReturn: (result: TeeCallResult) => void,
    stillWanted?: () => boolean,
  ): void {
    const system = this.#sessions.get(session) === true;
    this.#start(
      { cmd: OpteeMsgCmd.INVOKE_COMMAND, func, session, cancelId, params, system },
      onReturn,
      { stillWanted },
    );
  }

  /**
   * Asks the TEE to cancel the call `cancelId` running in `session` (the TA may ignore it). The
   * cancel request of a system session is a system call, as Linux's `optee_cancel_req` makes it
   * (it passes the session's `use_sys_thread`, although the comment of
   * `tee_client_system_session` says the reserved context is not for cancel requests).
   *
   * An id whose close has not returned while a new session has it again (the TEE ran the close
   * and reused the id) cannot be told apart — the cancel may be meant for either — so it is
   * refused, `TEE_ERROR_BAD_STATE` (origin COMMS), sending nothing: a cancel reaching the wrong
   * session could end its call (Linux's `optee_cancel_req` finds the session in the context's
   * list, which a closing one has left). A cancel is advisory: the caller may ask again once the
   * close returned.
   */
  public cancel(session: number, cancelId: number): Promise<TeeCallResult> {
    if (this.#closingIds.has(session) && this.#sessions.has(session)) {
      return Promise.resolve(failed(TeeResult.BAD_STATE));
    }
    const system = this.#sessions.get(session) === true;
    return this.#call({ cmd: OpteeMsgCmd.CANCEL, session, cancelId, system });
  }

  /** @inheritDoc */
  public closeSession(session: number): Promise<TeeCallResult> {
    // Linux optee_close_session: out of the session list first, then the close call (a system
    // call for a system session), then the count goes down, whatever the call returned.
    const system = this.#sessions.get(session) === true;
    this.#sessions.delete(session);
    this.#closingIds.set(session, (this.#closingIds.get(session) ?? 0) + 1);
    return new Promise<TeeCallResult>((resolve) => {
      this.#start({ cmd: OpteeMsgCmd.CLOSE_SESSION, session, system }, (r) => {
        // A close failed by the driver's shutdown counts nothing down: the shutdown let every
        // session go already.
        if (system && !this.#closed) this.#releaseSystemSession();
        const closing = (this.#closingIds.get(session) ?? 1) - 1;
        if (closing > 0) this.#closingIds.set(session, closing);
        else this.#closingIds.delete(session);
        resolve(r);
      });
    });
  }

  /**
   * Declares the open `session` a system session (Linux `optee_system_session`): from now on its
   * invocations, cancel requests and close are system calls, and while it is open one thread is
   * kept for system calls. Synchronous (no call reaches the secure world); declaring a session
   * twice succeeds and counts it once. Closing it ({@link OpteeDriver.closeSession}) ends it.
   *
   * Answers (never throws) `TEE_SUCCESS`; `TEE_ERROR_BAD_PARAMETERS` for a session the driver
   * does not know (never opened through it, or closed); `TEE_ERROR_NOT_SUPPORTED` when the driver
   * does not know the thread count (`knowsThreadCount: false`) or the secure world has one thread
   * only (Linux's `optee_cq_incr_sys_thread_count` refuses `total_thread_count <= 1`); the closed
   * driver's error once closed. All from origin COMMS; Linux answers `-EINVAL` to the first three.
   *
   * @example
   * ```ts
   * const session = await context.openSession(PTA_SCMI_UUID);
   * driver.systemSession(session.id).result; // TeeResult.SUCCESS
   * driver.stats.systemSessions; // 1
   * ```
   */
  public systemSession(session: number): TeeCallResult {
    if (this.#closed) return failed(this.#closedResult);
    const system = this.#sessions.get(session);
    if (system === undefined) return failed(TeeResult.BAD_PARAMETERS);
    if (!system) {
      if (this.#threadCount <= 1) return failed(TeeResult.NOT_SUPPORTED);
      this.#sessions.set(session, true);
      this.#systemSessions++;
    }
    return { result: SUCCESS, origin: TeeOrigin.COMMS, session, params: NO_PARAMS };
  }

  /**
   * The close of a system session returned: one fewer, and a waiter may go now (Linux
   * `optee_cq_decr_sys_thread_count`).
   */
  #releaseSystemSession(): void {
    this.#systemSessions--;
    if (this.#queue.length > 0 && !this.#closed) this.#pump();
  }

  /** @inheritDoc */
  public async allocSharedMemory(size: number, signal?: AbortSignal): Promise<TeeSharedMemory> {
    if (this.#closed) {
      throw new TeeError(
        this.#closedResult,
        TeeOrigin.COMMS,
        'allocate shared memory: the driver is closed',
      );
    }
    const offset = this.#pool.alloc(size);
    if (offset === undefined) {
      throw new TeeError(
        TeeResult.OUT_OF_MEMORY,
        TeeOrigin.COMMS,
        `allocate shared memory: no ${size} bytes left in the pool`,
      );
    }
    const bytes = new Uint8Array(this.#wire.memory, offset, size);
    bytes.fill(0);
    const id = this.#nextShmId++;
    // Linux optee_shm_register: a normal call (`system_thread` false).
    const r = await this.#call(
      { cmd: OpteeMsgCmd.REGISTER_SHM, raw: [[OpteeMsgAttr.TMEM_OUTPUT, offset, size, id]] },
      signal,
    );
    if (r.result !== TeeResult.SUCCESS) {
      this.#pool.free(offset);
      throw new TeeError(r.result, r.origin, 'register shared memory');
    }
    this.#shms.set(id, {
      offset,
      size: ShmPool.blockBytes(size),
      refs: 0,
      closing: false,
      leaked: false,
      idle: undefined,
    });
    return new TeeSharedMemory(this, id, bytes, () => this.#unregister(id));
  }

  /**
   * Closes the driver: stops listening, and fails every call still pending with
   * `TEE_ERROR_COMMUNICATION` (origin COMMS); later calls fail the same way. Idempotent.
   */
  public close(): void {
    this.#shutDown(TeeResult.COMMUNICATION);
  }

  /**
   * The secure world is gone without closing the wire (its thread exited or was terminated, so it
   * will never return a call): delivers first the calls it returned before it went (their
   * doorbell not handled yet), then marks the wire's TEE closed, tells the
   * {@link OpteeDriver.onTeeDied} listeners (the OP-TEE transport's channels: each is then lost
   * for good), stops listening and fails every call pending with `TEE_ERROR_TARGET_DEAD` (origin
   * COMMS), as a TEE that closes does; later calls and shared memory allocations fail the same
   * way. Idempotent; a no-op once the driver is closed.
   *
   * @example
   * ```ts
   * void host.exited.then(() => driver.teeDied());
   * ```
   */
  public teeDied(): void {
    if (this.#closed) return;
    // Calls the secure world returned before it went, whose doorbell was not handled yet (across
    // threads the worker's exit and the doorbell's wake-up are separate tasks, in no fixed order):
    // their answers are real, delivered first — not failed as if the death had ended them.
    // (Under a return interceptor the deliveries are the interceptor's to make.)
    if (this.#interceptor === undefined) this.#onReturn();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a caller resolved above may close the driver
    if (this.#closed) return;
    Atomics.store(this.#words, TEE_STATE_WORD, TEE_CLOSED);
    this.#died = true;
    // Told before the pending calls fail: a listener can still tell a call that returned before
    // the death (its answer is there) from one the death ends (`TARGET_DEAD` comes next).
    const listeners = [...this.#deathListeners];
    this.#deathListeners.clear();
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // A listener must not throw; one that does cannot keep the calls from failing.
      }
    }
    this.#shutDown(TeeResult.TARGET_DEAD);
  }

  /**
   * @inheritDoc
   *
   * `OpteeDriver` tells them in {@link OpteeDriver.teeDied}, in subscription order, right before
   * it fails the calls pending then with `TEE_ERROR_TARGET_DEAD`: a call whose return was
   * delivered before is one the secure world answered. A driver closed by
   * {@link OpteeDriver.close} tells no one (and forgets its listeners); one that died already
   * calls `listener` at once.
   *
   * @example
   * ```ts
   * const stop = driver.onTeeDied(() => console.error('the secure world died'));
   * // …
   * stop();
   * ```
   */
  public onTeeDied(listener: () => void): () => void {
    if (this.#died) {
      listener();
      return noop;
    }
    if (this.#closed) return noop;
    // One entry per subscription, even for the same function twice.
    const entry = (): void => {
      listener();
    };
    this.#deathListeners.add(entry);
    return () => {
      this.#deathListeners.delete(entry);
    };
  }

  /** Stops listening and fails every pending call, and later ones, with `result`. */
  #shutDown(result: TeeResult): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedResult = result;
    this.#deathListeners.clear();
    this.#wire.doorbell.close();
    const pending = [...this.#slots.filter((c) => c !== undefined), ...this.#queue];
    this.#slots.fill(undefined);
    this.#queue.length = 0;
    // No session is open on a closed driver: nothing is kept for system sessions any more (a
    // later close of one of them fails at once and counts nothing down).
    this.#sessions.clear();
    this.#systemSessions = 0;
    for (const call of pending) this.#settle(call, failed(result));
  }

  /**
   * Unregisters shared memory `id` and gives its block back, the way Linux frees a `tee_shm`
   * (`drivers/tee/tee_shm.c`: every memref parameter of an invocation holds a reference, and
   * `tee_shm_release` — unregister, then free — runs only when the last one is dropped): it
   * refuses new calls that reference the memory, waits until no call in flight does, then asks
   * the secure world to unregister it. A secure world that still refuses (OP-TEE answers
   * TEE_ERROR_BUSY only while one of its threads holds the mobj, `mobj_dyn_shm.c:
   * try_release_reg_shm`, and none of ours does) is confused or hostile: the block is kept out of
   * the pool, counted as leaked, and the refusal thrown. Once the driver is closed or the TEE is
   * gone nobody will write the block again, and it goes back to the pool.
   */
  async #unregister(id: number): Promise<void> {
    const reg = this.#shms.get(id);
    if (reg === undefined || reg.closing) return;
    reg.closing = true;
    while (reg.refs > 0 && !this.#closed) {
      await new Promise<void>((resolve) => {
        reg.idle = resolve;
      });
    }
    const r = this.#closed
      ? failed(TeeResult.COMMUNICATION)
      : await this.#call({
          cmd: OpteeMsgCmd.UNREGISTER_SHM,
          raw: [[OpteeMsgAttr.RMEM_INPUT, 0, 0, id]],
        });
    if (r.result === TeeResult.SUCCESS || this.#closed || this.#teeGone()) {
      this.#shms.delete(id);
      this.#pool.free(reg.offset);
      if (r.result !== TeeResult.SUCCESS && !this.#closed) {
        throw new TeeError(r.result, r.origin, 'unregister shared memory');
      }
      return;
    }
    reg.leaked = true;
    this.#leaked++;
    this.#leakedBytes += reg.size;
    throw new TeeError(
      r.result,
      r.origin,
      `unregister shared memory: the TEE still refers to it, its ${reg.size} bytes stay out of the pool`,
    );
  }

  /** True once the secure world marked the wire closed: it takes no call any more. */
  #teeGone(): boolean {
    return Atomics.load(this.#words, TEE_STATE_WORD) === TEE_CLOSED;
  }

  /**
   * Takes a reference on every registered shared memory `call`'s parameters point into; false
   * (nothing taken) when one of them is being freed.
   */
  #hold(call: PendingCall): boolean {
    const params = call.params;
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as TeeParam;
      if ('shm' in p && this.#shms.get(p.shm.id)?.closing === true) return false;
    }
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as TeeParam;
      if (!('shm' in p)) continue;
      const reg = this.#shms.get(p.shm.id);
      if (reg === undefined) continue;
      reg.refs++;
      call.holdsShm = true;
    }
    return true;
  }

  /** Drops the references `call` took, waking a free that waits for the last one. */
  #unhold(call: PendingCall): void {
    call.holdsShm = false;
    const params = call.params;
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as TeeParam;
      if (!('shm' in p)) continue;
      const reg = this.#shms.get(p.shm.id);
      if (reg === undefined || --reg.refs > 0) continue;
      const idle = reg.idle;
      reg.idle = undefined;
      idle?.();
    }
  }

  /** Ends `call` with `result`: its references and its abort listener are dropped first. */
  #settle(call: PendingCall, result: TeeCallResult): void {
    if (call.holdsShm) this.#unhold(call);
    if (call.onAbort !== undefined) this.#unwatch(call);
    call.resolve(result);
  }

  /** {@link OpteeDriver.#start} as a promise of the call's return. */
  #call(message: CallMessage, signal?: AbortSignal): Promise<TeeCallResult> {
    return new Promise<TeeCallResult>((resolve) => {
      this.#start(message, resolve, { signal });
    });
  }

  /**
   * Makes the call `message`, posted now when a thread is free, else queued (`waiting` says how
   * it may be withdrawn meanwhile); `resolve` gets what it returns, or why it was never made.
   */
  #start(message: CallMessage, resolve: (r: TeeCallResult) => void, waiting?: CallWaiting): void {
    const params = message.params ?? NO_PARAMS;
    const signal = waiting?.signal;
    const call: PendingCall = {
      cmd: message.cmd,
      func: message.func ?? 0,
      session: message.session ?? 0,
      cancelId: message.cancelId ?? 0,
      login: message.login ?? 0,
      uuid: message.uuid,
      params,
      raw: message.raw ?? NO_RAW,
      resolve,
      stillWanted: waiting?.stillWanted,
      onAbort: undefined,
      abandoned: false,
      system: message.system ?? false,
      seen: false,
      heldBack: false,
      holdsShm: false,
    };
    if (this.#closed) {
      resolve(failed(this.#closedResult));
      return;
    }
    if (signal?.aborted === true) {
      // Given up before it was made: withdrawn, as a queued call whose signal fires.
      this.#withdrawn++;
      resolve(failed(TeeResult.CANCEL));
      return;
    }
    if (params.length > 0 && !this.#hold(call)) {
      // Its shared memory is being freed: the call would race the unregistration.
      resolve(failed(TeeResult.BAD_PARAMETERS));
      return;
    }
    if (!this.#post(call)) {
      this.#waited++;
      this.#queue.push(call);
      if (signal !== undefined) this.#withdrawOnAbort(call, signal);
    }
  }

  /**
   * Withdraws the queued `call` when `signal` fires: out of the queue, never posted, ended with
   * `TEE_ERROR_CANCEL` from COMMS and counted in `stats.withdrawn`. The listener is removed once
   * the call is posted or ends, so a long-lived signal keeps no call alive. Taking a waiting call
   * out frees no thread: the calls behind it keep their turn.
   */
  #withdrawOnAbort(call: PendingCall, signal: AbortSignal): void {
    const listener = (): void => {
      call.onAbort = undefined;
      if (this.#pumping) {
        // Fired by a caller's code the pump ran (a stillWanted, a completion): the pump walks the
        // queue by index, so the call is not taken out under it but left for it to withdraw.
        call.abandoned = true;
        this.#abandoned.push(call);
        return;
      }
      // Not queued: posted meanwhile (the listener is removed then), or ended by a shutdown.
      if (this.#unqueue(call)) this.#settle(call, failed(TeeResult.CANCEL));
    };
    call.onAbort = { signal, listener };
    signal.addEventListener('abort', listener, { once: true });
  }

  /** Takes the still queued `call` out of the queue, counted withdrawn; false when not queued. */
  #unqueue(call: PendingCall): boolean {
    const i = this.#queue.indexOf(call);
    if (i < 0) return false;
    this.#queue.splice(i, 1);
    this.#withdrawn++;
    return true;
  }

  /** Removes `call`'s abort listener, if it has one (it was posted, or it ends). */
  #unwatch(call: PendingCall): void {
    const onAbort = call.onAbort;
    if (onAbort === undefined) return;
    call.onAbort = undefined;
    onAbort.signal.removeEventListener('abort', onAbort.listener);
  }

  /**
   * Posts `call` in a free slot; false when it must wait: every slot is taken, or — while a
   * system session is open and the thread count is known — only one is free and `call` is not a
   * system call (Linux `optee_cq_wait_init`: `free_thread_count > free_thread_threshold`, the
   * threshold 1 for a normal call while `sys_thread_req_count` is not 0, else 0).
   */
  #post(call: PendingCall): boolean {
    if (Atomics.load(this.#words, TEE_STATE_WORD) === TEE_CLOSED) {
      this.#settle(call, failed(TeeResult.TARGET_DEAD));
      return true;
    }
    // Is one thread kept for system calls? Then look for a second free slot too.
    const reserved = this.#systemSessions > 0 && this.#threadCount > 0;
    let slot = -1;
    let spare = false;
    for (let i = 0; i < this.#slots.length; i++) {
      // A slot is ours to use when no call of ours holds it and the secure world left it free.
      if (
        this.#slots[i] === undefined &&
        Atomics.load(this.#words, this.#stateWords[i] as number) === FREE
      ) {
        if (slot >= 0) {
          spare = true;
          break;
        }
        slot = i;
        if (!reserved) break;
      }
    }
    if (slot < 0) return false;
    if (reserved && !spare) {
      // The last free thread is kept for system calls.
      if (!call.system) {
        if (!call.heldBack) {
          call.heldBack = true;
          this.#heldBack++;
        }
        return false;
      }
      this.#reservedThreadCalls++;
    }
    if (call.system) this.#systemCalls++;
    const state = this.#stateWords[slot] as number;
    // Posted: the secure world has it now, a signal can no longer withdraw it.
    if (call.onAbort !== undefined) this.#unwatch(call);
    this.#write(this.#wire.layout.slotOffset(slot), call);
    this.#slots[slot] = call;
    this.#calls++;
    Atomics.store(this.#words, state, POSTED);
    this.#wire.doorbell.ring();
    if (
      Atomics.load(this.#words, TEE_STATE_WORD) === TEE_CLOSED &&
      Atomics.compareExchange(this.#words, state, POSTED, FREE) === POSTED
    ) {
      // The secure world closed while we posted, before it took the call: it never will.
      this.#slots[slot] = undefined;
      this.#settle(call, failed(TeeResult.TARGET_DEAD));
    }
    return true;
  }

  #write(base: number, call: PendingCall): void {
    const v = this.#view;
    v.setUint32(base + SLOT_CMD, call.cmd, true);
    v.setUint32(base + SLOT_FUNC, call.func, true);
    v.setUint32(base + SLOT_SESSION, call.session, true);
    v.setUint32(base + SLOT_CANCEL_ID, call.cancelId, true);
    v.setUint32(base + SLOT_RET, 0, true);
    v.setUint32(base + SLOT_RET_ORIGIN, 0, true);
    v.setUint32(base + SLOT_LOGIN, call.login, true);
    const uuid = call.uuid;
    if (uuid !== undefined) new Uint8Array(this.#wire.memory, base + SLOT_UUID, 16).set(uuid);
    const n = call.raw.length > 0 ? call.raw.length : call.params.length;
    v.setUint32(base + SLOT_NUM_PARAMS, n, true);
    for (let i = 0; i < SLOT_MAX_PARAMS; i++) {
      const at = base + paramOffset(i);
      let attr = ATTR_NONE;
      let a = 0;
      let b = 0;
      let c = 0;
      const raw = call.raw[i];
      const p = call.params[i];
      if (raw !== undefined) [attr, a, b, c] = raw;
      else if (p !== undefined && p.type !== NONE) {
        attr = attrOf(p);
        if ('shm' in p) {
          a = p.offset;
          b = p.size;
          c = p.shm.id;
        } else {
          a = p.a;
          b = p.b;
        }
      }
      v.setUint32(at, attr, true);
      v.setUint32(at + 4, a >>> 0, true);
      v.setUint32(at + 8, b >>> 0, true);
      v.setUint32(at + 12, c >>> 0, true);
    }
  }

  /** The secure world rang: deliver every returned call (rings coalesce: look at all slots). */
  #onReturn(): void {
    const words = this.#words;
    const stateWords = this.#stateWords;
    let freedStray = false;
    for (let slot = 0; slot < stateWords.length; slot++) {
      // A caller resolved below may close the driver: its calls then all failed already.
      if (this.#closed) return;
      const state = stateWords[slot] as number;
      if (Atomics.load(words, state) !== RETURNED) continue;
      const call = this.#slots[slot];
      if (call === undefined) {
        // Not a call of ours (a hostile secure world): give the slot back, count it.
        this.#stray++;
        Atomics.store(words, state, FREE);
        freedStray = true;
        continue;
      }
      if (call.seen) continue;
      call.seen = true;
      const intercept = this.#interceptor;
      if (intercept === undefined) {
        this.#deliver(slot, call);
        continue;
      }
      let done = false;
      intercept(() => {
        if (done || this.#closed || this.#slots[slot] !== call) return;
        done = true;
        this.#deliver(slot, call);
      });
    }
    // A slot a stray return freed takes a call that waited for one (delivering pumps too).
    if (freedStray && this.#queue.length > 0 && !this.#closed) this.#pump();
  }

  /**
   * Frees `slot`, gives it to a call that waited for one, then hands the return to its caller.
   * In that order, as Linux's `optee_cq_wait_final` frees the thread and wakes a waiter before the
   * invoke returns to its caller: a caller that calls again from its completion (an SCMI channel
   * whose late invocation returned starts its next transfer) then waits behind the calls that
   * were waiting, instead of taking the slot ahead of them.
   */
  #deliver(slot: number, call: PendingCall): void {
    const result = this.#read(this.#wire.layout.slotOffset(slot), call);
    Atomics.store(this.#words, this.#stateWords[slot] as number, FREE);
    this.#slots[slot] = undefined;
    try {
      if (this.#queue.length > 0) this.#pump();
    } finally {
      // Whatever the pump met, the caller gets its return.
      this.#settle(call, result);
    }
  }

  #read(base: number, call: PendingCall): TeeCallResult {
    const v = this.#view;
    const result = v.getUint32(base + SLOT_RET, true);
    const origin = v.getUint32(base + SLOT_RET_ORIGIN, true);
    const session = v.getUint32(base + SLOT_SESSION, true);
    let params = NO_PARAMS;
    if (call.cmd === INVOKE_COMMAND && call.params.length > 0) {
      params = call.params.map((p, i): TeeParam => {
        const at = base + paramOffset(i);
        switch (p.type) {
          case VALUE_OUTPUT:
          case VALUE_INOUT:
            return { type: p.type, a: v.getUint32(at + 4, true), b: v.getUint32(at + 8, true) };
          case MEMREF_OUTPUT:
          case MEMREF_INOUT:
            return { type: p.type, shm: p.shm, offset: p.offset, size: v.getUint32(at + 8, true) };
          default:
            return p;
        }
      });
    }
    return { result, origin, session, params };
  }

  /**
   * Posts the calls that waited, while they may go: system calls first, in order, then the
   * others in order (Linux `optee_cq_complete_one` wakes a waiting system call before any other;
   * a woken call takes a thread under the same rule as a new one). A call whose caller no longer
   * wants it is withdrawn when its turn comes, not posted ({@link OpteeDriver.submit}'s
   * `stillWanted`); the withdrawn calls end once the waiting calls took the free slots, so that a
   * caller that calls again from the completion waits behind them (as `#deliver` has it). A
   * pump asked for while one runs (a call settled inside it) is left to the running one.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    const withdrawn: PendingCall[] = [];
    let thrown: { error: unknown } | undefined;
    try {
      this.#serveQueue(withdrawn);
    } catch (error: unknown) {
      thrown = { error };
    }
    // Calls whose signal fired during the pump and that it did not reach (behind a call that
    // could not go): withdrawn now, with the others.
    for (const call of this.#abandoned.splice(0)) if (this.#unqueue(call)) withdrawn.push(call);
    this.#pumping = false;
    // Every withdrawn call ends, even if one caller's onReturn throws (it must not): they are out
    // of the queue, and nothing else would ever reach them. The first throw goes on after.
    for (const call of withdrawn) {
      try {
        this.#settle(call, failed(TeeResult.CANCEL));
      } catch (error: unknown) {
        thrown ??= { error };
      }
    }
    if (thrown !== undefined) throw thrown.error;
  }

  /** The pump's pass over the queue: system calls first, then the others in order (see `#pump`). */
  #serveQueue(withdrawn: PendingCall[]): void {
    const queue = this.#queue;
    for (let i = 0; i < queue.length;) {
      const next = queue[i] as PendingCall;
      if (!next.system) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      if (this.#withdraw(next, withdrawn)) continue;
      if (!this.#post(next)) {
        // Not one free slot: no call can go.
        queue.splice(i, 0, next);
        return;
      }
    }
    while (queue.length > 0) {
      const next = queue.shift() as PendingCall;
      if (this.#withdraw(next, withdrawn)) continue;
      if (!this.#post(next)) {
        queue.unshift(next);
        return;
      }
    }
  }

  /**
   * Withdraws the queued `call` when its caller no longer wants it (its `stillWanted` answers
   * false): it is counted and added to `withdrawn`, never posted, for the pump to end with
   * `TEE_ERROR_CANCEL` from COMMS; true when it did. Linux's callers wait in `optee_cq_wait_init`
   * in their own task and give up only by not calling; a caller here hands the call over and may
   * learn, while it waits for a thread, that it must not run any more — an SCMI transfer the
   * agent's shutdown failed, whose command the platform must then never carry out.
   */
  #withdraw(call: PendingCall, withdrawn: PendingCall[]): boolean {
    const stillWanted = call.stillWanted;
    if (!call.abandoned && (stillWanted === undefined || stillWanted())) return false;
    this.#withdrawn++;
    withdrawn.push(call);
    return true;
  }
}

function noop(): void {
  // Nothing to unsubscribe.
}

function failed(result: TeeResult): TeeCallResult {
  return { result, origin: TeeOrigin.COMMS, session: 0, params: NO_PARAMS };
}
