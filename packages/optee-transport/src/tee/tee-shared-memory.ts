/**
 * A buffer shared with the TEE and registered with it (Linux `struct tee_shm`, from
 * `tee_shm_alloc_kernel_buf`): memory references of invocations point into it by id, offset and
 * size. Obtain one from `TeeContext.allocSharedMemory`; free it when done (the context frees
 * what is left when it closes).
 *
 * While an invocation that references it runs, the TEE owns the referenced bytes: do not touch
 * them until the invocation has returned.
 *
 * @example
 * ```ts
 * const shm = await context.allocSharedMemory(128);
 * shm.bytes.set(request);
 * await shm.free();
 * ```
 */
export class TeeSharedMemory {
  /** The id the TEE knows it by (OP-TEE's `shm_ref` cookie). */
  public readonly id: number;
  /** Size in bytes. */
  public readonly size: number;
  /** The memory (a view of memory both worlds map). */
  public readonly bytes: Uint8Array;
  /** @internal The driver that registered it. */
  public readonly owner: object;
  /** @internal Called once the memory is freed (its context forgets it then). */
  public onFreed: (() => void) | undefined = undefined;
  readonly #release: () => Promise<void>;
  #freeing: Promise<void> | undefined;

  /** @internal Created by a TEE driver. */
  public constructor(owner: object, id: number, bytes: Uint8Array, release: () => Promise<void>) {
    this.owner = owner;
    this.id = id;
    this.size = bytes.byteLength;
    this.bytes = bytes;
    this.#release = release;
  }

  /** True once {@link TeeSharedMemory.free} was called. */
  public get freed(): boolean {
    return this.#freeing !== undefined;
  }

  /**
   * Unregisters the memory from the TEE and gives it back, once no invocation in flight
   * references it (Linux's `tee_shm` reference count): calls that reference it are refused from
   * now on, and the free waits for the ones already running to return. Idempotent: later calls
   * return the same promise. When the TEE is gone or the driver closed, the memory is given back
   * (nobody will write it any more).
   *
   * @throws (rejects) TeeError when the TEE refuses to unregister it although none of our calls
   * references it (a confused or hostile secure world): the memory is then never reused (the
   * driver counts it as leaked); or `TEE_ERROR_TARGET_DEAD` when the TEE was gone (the memory is
   * given back all the same).
   */
  public free(): Promise<void> {
    this.#freeing ??= this.#release().finally(() => this.onFreed?.());
    return this.#freeing;
  }
}
