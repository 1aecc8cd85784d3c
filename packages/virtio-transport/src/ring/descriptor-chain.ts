/**
 * Why the device refused a descriptor chain (the driver broke a rule of VIRTIO 1.2 §2.7.5):
 *
 * - `head-out-of-range` / `next-out-of-range`: an index past the queue's descriptor table, or
 *   past the indirect table's entries.
 * - `chain-too-long`: a loop — more descriptors in the queue's table than the queue size, or more
 *   descriptors in an indirect table than it has entries (QEMU's "Looped descriptor").
 * - `too-many-segments`: more buffer descriptors than the device takes in one chain (the
 *   {@link DescriptorChain}'s `maxSegments`; the specification lets a device have "a reasonable
 *   limit of descriptors it will allow in a chain").
 * - `address-out-of-bounds`: a buffer (or indirect table) outside the guest-memory region.
 * - `readable-after-writable`: a device-readable descriptor after a device-writable one.
 * - `indirect-not-negotiated`, `indirect-with-next`, `indirect-nested`, `indirect-bad-length`:
 *   misuse of `VIRTQ_DESC_F_INDIRECT` (a table whose length is 0 or not a multiple of 16 bytes).
 */
export type ChainDefect =
  | 'head-out-of-range'
  | 'next-out-of-range'
  | 'chain-too-long'
  | 'too-many-segments'
  | 'address-out-of-bounds'
  | 'readable-after-writable'
  | 'indirect-not-negotiated'
  | 'indirect-with-next'
  | 'indirect-nested'
  | 'indirect-bad-length';

/**
 * A descriptor chain as the device walked it: its device-readable segments, then its
 * device-writable segments (guest addresses and lengths), preallocated for `maxSegments` segments
 * and reused for every chain.
 *
 * @example
 * ```ts
 * const chain = new DescriptorChain(queueSize);
 * if (vq.walk(head, chain) === undefined) console.log(chain.readBytes, chain.writeBytes);
 * ```
 */
export class DescriptorChain {
  /** Head index of the chain (the id to return in the used ring). */
  public head = 0;
  /** Readable segments. */
  public readCount = 0;
  /** Writable segments. */
  public writeCount = 0;
  /** Total readable bytes. */
  public readBytes = 0;
  /** Total writable bytes. */
  public writeBytes = 0;
  /** Index (in the queue's table) of the descriptor after the head, or -1 for a one-descriptor chain. */
  public secondIndex = -1;
  /** Addresses of the readable segments. */
  public readonly readAddr: Float64Array;
  /** Lengths of the readable segments. */
  public readonly readLen: Uint32Array;
  /** Addresses of the writable segments. */
  public readonly writeAddr: Float64Array;
  /** Lengths of the writable segments. */
  public readonly writeLen: Uint32Array;
  /** Capacity in segments. */
  public readonly maxSegments: number;

  /** Preallocates room for `maxSegments` segments of each kind. */
  public constructor(maxSegments: number) {
    this.maxSegments = maxSegments;
    this.readAddr = new Float64Array(maxSegments);
    this.readLen = new Uint32Array(maxSegments);
    this.writeAddr = new Float64Array(maxSegments);
    this.writeLen = new Uint32Array(maxSegments);
  }

  /** Empties the chain for a new walk from `head`. */
  public reset(head: number): void {
    this.head = head;
    this.readCount = 0;
    this.writeCount = 0;
    this.readBytes = 0;
    this.writeBytes = 0;
    this.secondIndex = -1;
  }

  /** Whether the chain holds `maxSegments` segments (no room for another). */
  public get full(): boolean {
    return this.readCount + this.writeCount >= this.maxSegments;
  }

  /**
   * Appends a segment; false when it is readable and follows a writable one. The caller keeps the
   * number of segments within `maxSegments` (see {@link DescriptorChain.full}).
   */
  public add(writable: boolean, addr: number, len: number): boolean {
    if (writable) {
      this.writeAddr[this.writeCount] = addr;
      this.writeLen[this.writeCount] = len;
      this.writeCount++;
      this.writeBytes += len;
      return true;
    }
    if (this.writeCount > 0) return false;
    this.readAddr[this.readCount] = addr;
    this.readLen[this.readCount] = len;
    this.readCount++;
    this.readBytes += len;
    return true;
  }

  /**
   * A new chain (same head and second index, no readable segment) of what writing at most `limit`
   * bytes over this chain's writable segments can touch: its non-empty writable segments covering
   * the first `limit` bytes, the last one cut to end there, so `writeBytes` is the smaller of
   * `limit` and this chain's writable bytes. It is sized for those segments only: what a device
   * keeps of a buffer it holds to write a message into later is bounded by the largest message,
   * not by what the driver wrote (a table of 1024 writable entries, or one indirect table of Q
   * entries that every head refers to).
   *
   * @example
   * ```ts
   * const held = chain.writablePrefix(4 + maxMsgSize); // at most 4 + maxMsgSize segments
   * ```
   */
  public writablePrefix(limit: number): DescriptorChain {
    let segments = 0;
    let covered = 0;
    for (let s = 0; s < this.writeCount && covered < limit; s++) {
      const len = this.writeLen[s] as number;
      if (len === 0) continue;
      segments++;
      covered += Math.min(len, limit - covered);
    }
    const copy = new DescriptorChain(segments);
    copy.reset(this.head);
    copy.secondIndex = this.secondIndex;
    covered = 0;
    for (let s = 0; s < this.writeCount && covered < limit; s++) {
      const len = Math.min(this.writeLen[s] as number, limit - covered);
      if (len === 0) continue;
      copy.add(true, this.writeAddr[s] as number, len);
      covered += len;
    }
    return copy;
  }
}
