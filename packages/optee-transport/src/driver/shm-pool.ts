/**
 * A first-fit allocator over the wire's dynamic shared-memory pool (the normal world owns it, as
 * Linux's OP-TEE driver owns its shared-memory pool). Blocks are 8-byte aligned, so every buffer
 * satisfies the 4-byte alignment OP-TEE's `shm_msg.c` requires. Internal to the package.
 */
export class ShmPool {
  /** Free blocks, sorted by offset, never adjacent. */
  readonly #free: { offset: number; size: number }[];
  readonly #used = new Map<number, number>();

  public constructor(offset: number, size: number) {
    this.#free = [{ offset, size }];
  }

  /** Bytes in use. */
  public get used(): number {
    let n = 0;
    for (const size of this.#used.values()) n += size;
    return n;
  }

  /** Bytes a block of `size` bytes takes in the pool: `size` rounded up to 8. */
  public static blockBytes(size: number): number {
    return Math.ceil(size / 8) * 8;
  }

  /** Takes `size` bytes (rounded up to 8); the offset, or undefined when nothing fits. */
  public alloc(size: number): number | undefined {
    const want = ShmPool.blockBytes(size);
    const i = this.#free.findIndex((b) => b.size >= want);
    const block = this.#free[i];
    if (block === undefined) return undefined;
    const offset = block.offset;
    if (block.size === want) this.#free.splice(i, 1);
    else {
      block.offset += want;
      block.size -= want;
    }
    this.#used.set(offset, want);
    return offset;
  }

  /** Gives back the block at `offset`; unknown offsets are ignored. */
  public free(offset: number): void {
    const size = this.#used.get(offset);
    if (size === undefined) return;
    this.#used.delete(offset);
    let i = this.#free.findIndex((b) => b.offset > offset);
    if (i < 0) i = this.#free.length;
    this.#free.splice(i, 0, { offset, size });
    // Merge with the next, then with the previous block.
    const next = this.#free[i + 1];
    const cur = this.#free[i] as { offset: number; size: number };
    if (next !== undefined && cur.offset + cur.size === next.offset) {
      cur.size += next.size;
      this.#free.splice(i + 1, 1);
    }
    const prev = this.#free[i - 1];
    if (prev !== undefined && prev.offset + prev.size === cur.offset) {
      prev.size += cur.size;
      this.#free.splice(i, 1);
    }
  }
}
