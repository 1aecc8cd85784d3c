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
  /** Opens a session to the trusted application `uuid` (16 octets) with `login`. */
  openSession(uuid: Uint8Array, login: number): Promise<TeeCallResult>;
  /** Invokes command `func` in `session`; `cancelId` identifies the call for a cancel request. */
  invoke(
    session: number,
    func: number,
    cancelId: number,
    params: readonly TeeParam[],
  ): Promise<TeeCallResult>;
  /**
   * Starts the invocation of command `func` in `session` and calls `onReturn` with its result,
   * directly in the task that delivers the return (no promise in between): the completion
   * callback an in-kernel client would get. `onReturn` must not throw.
   */
  submit(
    session: number,
    func: number,
    cancelId: number,
    params: readonly TeeParam[],
    onReturn: (result: TeeCallResult) => void,
  ): void;
  /** Asks the TEE to cancel the call `cancelId` running in `session` (the TA may ignore it). */
  cancel(session: number, cancelId: number): Promise<TeeCallResult>;
  /** Closes `session`. */
  closeSession(session: number): Promise<TeeCallResult>;
  /**
   * Allocates `size` bytes of shared memory and registers them with the TEE.
   *
   * @throws (rejects) TeeError `TEE_ERROR_OUT_OF_MEMORY` when the pool is exhausted, or the
   * TEE's error when it refuses the registration.
   */
  allocSharedMemory(size: number): Promise<TeeSharedMemory>;
}
