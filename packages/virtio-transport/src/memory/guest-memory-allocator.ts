import { ScmiTransportError } from '@scmi-ts/core';

/** Allocation granule and alignment, bytes. */
const ALIGN = 8;

interface FreeRange {
  start: number;
  size: number;
}

/**
 * The driver's allocator for message buffers in the guest-memory region of a wire (the role of
 * `kmalloc` + DMA mapping for Linux's virtio-scmi buffers): first fit over an address-ordered
 * free list, 8-byte aligned, neighbours merged on free. Buffers are allocated when a channel is
 * set up and freed when it is freed, so the allocator is off the message path.
 *
 * Freeing an address that is not allocated (a double free) throws: buffers must be reclaimed
 * exactly once.
 *
 * @example
 * ```ts
 * const memory = new GuestMemoryAllocator(layout.guestMemory, layout.guestMemoryBytes);
 * const request = memory.allocate(136);
 * memory.free(request);
 * ```
 */
export class GuestMemoryAllocator {
  /** First byte of the region. */
  public readonly start: number;
  /** Bytes of the region. */
  public readonly bytes: number;
  readonly #free: FreeRange[];
  readonly #allocated = new Map<number, number>();
  #allocatedBytes = 0;

  /**
   * Manages `bytes` bytes from offset `start` (both multiples of 8).
   *
   * @throws RangeError when `start` or `bytes` is not a non-negative multiple of 8.
   */
  public constructor(start: number, bytes: number) {
    for (const [name, v] of [
      ['start', start],
      ['bytes', bytes],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v % ALIGN !== 0) {
        throw new RangeError(
          `guest memory ${name} must be a non-negative multiple of ${ALIGN}, got ${v}`,
        );
      }
    }
    this.start = start;
    this.bytes = bytes;
    this.#free = bytes > 0 ? [{ start, size: bytes }] : [];
  }

  /** Buffers allocated and not freed. */
  public get allocations(): number {
    return this.#allocated.size;
  }

  /** Bytes allocated (rounded up to 8 per buffer). */
  public get allocatedBytes(): number {
    return this.#allocatedBytes;
  }

  /** Whether `[addr, addr + len)` lies inside the region. */
  public contains(addr: number, len: number): boolean {
    return addr >= this.start && len >= 0 && addr + len <= this.start + this.bytes;
  }

  /**
   * Allocates `size` bytes (rounded up to 8) and returns the buffer's address.
   *
   * @throws ScmiTransportError `E_VIRTIO_NOMEM` when no free range is large enough;
   * RangeError when `size` is not a positive integer.
   */
  public allocate(size: number): number {
    if (!Number.isInteger(size) || size <= 0)
      throw new RangeError(`allocation size must be a positive integer, got ${size}`);
    const want = Math.ceil(size / ALIGN) * ALIGN;
    for (let i = 0; i < this.#free.length; i++) {
      const range = this.#free[i] as FreeRange;
      if (range.size < want) continue;
      const addr = range.start;
      range.start += want;
      range.size -= want;
      if (range.size === 0) this.#free.splice(i, 1);
      this.#allocated.set(addr, want);
      this.#allocatedBytes += want;
      return addr;
    }
    throw new ScmiTransportError(
      'E_VIRTIO_NOMEM',
      `guest memory exhausted: ${want} bytes wanted, ${this.bytes - this.#allocatedBytes} free in fragments`,
    );
  }

  /**
   * Frees the buffer at `addr`.
   *
   * @throws ScmiTransportError `E_VIRTIO_BAD_FREE` when `addr` is not an allocated buffer (never
   * allocated, or already freed).
   */
  public free(addr: number): void {
    const size = this.#allocated.get(addr);
    if (size === undefined) {
      throw new ScmiTransportError(
        'E_VIRTIO_BAD_FREE',
        `guest buffer 0x${addr.toString(16)} is not allocated`,
      );
    }
    this.#allocated.delete(addr);
    this.#allocatedBytes -= size;
    let i = 0;
    while (i < this.#free.length && (this.#free[i] as FreeRange).start < addr) i++;
    this.#free.splice(i, 0, { start: addr, size });
    // Merge with the next range, then with the previous one.
    const cur = this.#free[i] as FreeRange;
    const next = this.#free[i + 1];
    if (next !== undefined && cur.start + cur.size === next.start) {
      cur.size += next.size;
      this.#free.splice(i + 1, 1);
    }
    const prev = this.#free[i - 1];
    if (prev !== undefined && prev.start + prev.size === cur.start) {
      prev.size += cur.size;
      this.#free.splice(i, 1);
    }
  }
}
