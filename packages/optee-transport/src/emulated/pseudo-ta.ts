/**
 * The secure side's view of a pseudo trusted application and of one invocation of it, as the
 * emulated OP-TEE core hands it over (OP-TEE `struct pseudo_ta_head` entry points, `TEE_Param`).
 * Internal to the package.
 */

/** One parameter as a TA sees it: values, or a view of the referenced shared memory. */
export interface PtaParam {
  /** The parameter type (`TeeParamType`). */
  readonly type: number;
  /** Value `a` (write it for outputs). */
  a: number;
  /** Value `b` (write it for outputs). */
  b: number;
  /** The referenced bytes (memory references with a size above 0). */
  readonly buffer: Uint8Array | undefined;
  /** Byte offset of the buffer in the wire memory (its "physical address", for alignment checks). */
  readonly address: number;
  /** Memory reference size (write it for outputs: the size produced or needed). */
  size: number;
}

/** One invocation of a TA command, completed exactly once. */
export interface PtaInvocation {
  /** The session id. */
  readonly session: number;
  /** The command id. */
  readonly command: number;
  /** Always four parameters (unused ones have type NONE). */
  readonly params: readonly PtaParam[];
  /** True once a cancel request reached the invocation. */
  readonly cancelled: boolean;
  /** Called when a cancel request arrives (a TA that waits may end its wait). */
  onCancel: (() => void) | undefined;
  /** Ends the invocation with `result` (origin: the trusted application). Later calls are ignored. */
  complete(result: number): void;
  /**
   * Ends the invocation because processing it threw (a fault of the secure world itself, not of
   * the TA's answer): `TEE_ERROR_GENERIC` from the TEE core (origin TEE), counted in the emulated
   * OP-TEE's `internalErrors`. Ignored once the invocation has ended.
   */
  crash(error: unknown): void;
}

/** A pseudo trusted application: open session and invoke command entry points. */
export interface PseudoTa {
  /** The TA's UUID. */
  readonly uuid: string;
  /** Open session entry point: `TEE_SUCCESS` or the refusal. */
  openSession(login: number): number;
  /** Invoke command entry point: completes `call` now or later. */
  invoke(call: PtaInvocation): void;
}
