import type { TeeParam } from './tee-param.js';
import type { TeeSharedMemory } from './tee-shared-memory.js';

/** What a call into the TEE returned (Linux `tee_ioctl_*_arg` after the call). */
export interface TeeCallResult {
  /** The TEE result code (`TeeResult`). */
  readonly result: number;
  /** Where the result came from (`TeeOrigin`). */
  readonly origin: number;
  /** The session id (open session only; 0 otherwise). */
  readonly session: number;
  /**
   * The parameters as the TEE returned them (invocations only): value outputs filled in, memory
   * references with the size the TEE reported — not checked against the buffer.
   */
  readonly params: readonly TeeParam[];
}

/**
 * The operations of a TEE driver (Linux `struct tee_driver_ops`): what the client API
 * (`TeeContext`, `TeeSession`) calls. Calls never reject: failures come back as a result code and
 * an origin (`TEE_ERROR_COMMUNICATION` from `TEE_ORIGIN_COMMS` when the driver is closed, for
 * example), except {@link TeeDriver.allocSharedMemory}.
 *
 * Implemented by `OpteeDriver` (the normal world's OP-TEE driver over an OP-TEE wire).
 */
export interface TeeDriver {
  /** The implementation, e.g. `'optee'` (Linux `tee_ioctl_version_data.impl_id`). */
  readonly implementation: string;
  /**
   * True once the driver was closed: every call then fails with `TEE_ERROR_COMMUNICATION` — or
   * `TEE_ERROR_TARGET_DEAD` when it closed because the secure world died.
   */
  readonly closed: boolean;
  /**
   * Opens a session to the trusted application `uuid` (16 octets) with `login`.
   *
   * `signal`, when given, gives up the call while it waits for a free secure-world thread: when it
   * fires then (or has fired already), the call is withdrawn — never posted — and resolves with
   * `TEE_ERROR_CANCEL` from `TEE_ORIGIN_COMMS`. A call already posted runs to its end (the TEE
   * has it; the session it opens is the caller's to close). A driver that never queues may ignore
   * it (`OpteeDriver` honours it, and removes its listener once the call is posted or ends).
   */
  openSession(uuid: Uint8Array, login: number, signal?: AbortSignal): Promise<TeeCallResult>;
  /**
   * Invokes command `func` in `session`; `cancelId` identifies the call for a cancel request.
   * `signal` withdraws the call while it waits for a thread, as for {@link TeeDriver.openSession}.
   */
  invoke(
    session: number,
    func: number,
    cancelId: number,
    params: readonly TeeParam[],
    signal?: AbortSignal,
  ): Promise<TeeCallResult>;
  /**
   * Starts the invocation of command `func` in `session` and calls `onReturn` with its result,
   * directly in the task that delivers the return (no promise in between): the completion
   * callback an in-kernel client would get. `onReturn` must not throw.
   *
   * `stillWanted`, when given, is asked right before an invocation that had to wait for a free
   * secure-world thread is posted: when it answers false the invocation is withdrawn — never
   * posted, and `onReturn` gets `TEE_ERROR_CANCEL` from `TEE_ORIGIN_COMMS`. For a caller that may
   * learn, while the invocation waits, that it must not run any more (an SCMI transfer the agent's
   * shutdown failed). It must not throw. A driver that never queues may ignore it (`OpteeDriver`
   * honours it).
   */
  submit(
    session: number,
    func: number,
    cancelId: number,
    params: readonly TeeParam[],
    onReturn: (result: TeeCallResult) => void,
    stillWanted?: () => boolean,
  ): void;
  /** Asks the TEE to cancel the call `cancelId` running in `session` (the TA may ignore it). */
  cancel(session: number, cancelId: number): Promise<TeeCallResult>;
  /**
   * Closes `session`. A system session's close runs as a system call (it may take the reserved
   * thread), and once it returns — whatever its result — the session no longer counts as a
   * system session (Linux `optee_close_session_helper`, then `optee_cq_decr_sys_thread_count`).
   */
  closeSession(session: number): Promise<TeeCallResult>;
  /**
   * Declares the open `session` a system session (Linux `tee_driver_ops.system_session`, called
   * by `tee_client_system_session`): while at least one system session is open the driver keeps
   * one secure-world thread for the calls of system sessions, which also wake first when a
   * thread frees. Synchronous, as in Linux: no call reaches the secure world. Declaring a session
   * twice succeeds and counts it once.
   *
   * Optional, as in Linux: a driver without it (Linux's OP-TEE driver over the FF-A ABI, whose
   * ops table has none) has no system sessions, and the client API refuses the request with
   * `TEE_ERROR_NOT_SUPPORTED`. Like every call, it never throws: failures come back as a result
   * code and an origin (`OpteeDriver`: `TEE_ERROR_BAD_PARAMETERS` for a session it does not know,
   * `TEE_ERROR_NOT_SUPPORTED` when it does not know the thread count or there is only one thread
   * — Linux answers `-EINVAL` to all three).
   *
   * @example
   * ```ts
   * const r = driver.systemSession?.(session.id);
   * if (r?.result !== TeeResult.SUCCESS) console.warn('no reserved thread, best effort');
   * ```
   */
  systemSession?(session: number): TeeCallResult;
  /**
   * Calls `listener` once when the secure world dies — it is gone without closing (its thread
   * exited or was terminated) and will never return a call again — before the calls pending then
   * fail with `TEE_ERROR_TARGET_DEAD`; at once when it died already. Returns a function that
   * unsubscribes (idempotent). `listener` must not throw. A driver closed by its user tells no
   * one. Optional: a driver that cannot tell (or whose TEE cannot die apart from it) has none;
   * the OP-TEE transport's channels then learn of a death only from the calls that fail.
   *
   * @example
   * ```ts
   * const stop = driver.onTeeDied?.(() => console.error('the TEE died'));
   * ```
   */
  onTeeDied?(listener: () => void): () => void;
  /**
   * Allocates `size` bytes of shared memory and registers them with the TEE. `signal` withdraws
   * the registration while it waits for a thread, as for {@link TeeDriver.openSession}: nothing
   * is registered then, and the allocation rejects with `TEE_ERROR_CANCEL` (origin COMMS).
   *
   * @throws (rejects) TeeError `TEE_ERROR_OUT_OF_MEMORY` when the pool is exhausted,
   * `TEE_ERROR_CANCEL` when `signal` withdrew the registration, or the TEE's error when it refuses
   * the registration.
   */
  allocSharedMemory(size: number, signal?: AbortSignal): Promise<TeeSharedMemory>;
}
