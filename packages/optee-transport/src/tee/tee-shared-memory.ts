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
   * Unregisters the memory from the TEE and gives it back. Idempotent: later calls return the
   * same promise. The registration is dropped even when the TEE is gone.
   */
  public free(): Promise<void> {
    this.#freeing ??= this.#release().finally(() => this.onFreed?.());
    return this.#freeing;
  }
}
