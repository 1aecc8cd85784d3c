import { vringNeedEvent } from '../layout/split-ring-layout.js';
import type { SplitRing } from '../layout/split-ring.js';
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  VirtqDescFlag,
} from '../layout/virtio-constants.js';
import type { ChainDefect, DescriptorChain } from './descriptor-chain.js';

/** The guest-memory region a device accepts buffers in, and views of the whole shared buffer. */
export interface DeviceMemory {
  /** First byte of guest memory. */
  readonly start: number;
  /** First byte after guest memory. */
  readonly end: number;
  /** Bytes of the whole shared buffer. */
  readonly bytes: Uint8Array;
  /** A little-endian reader of the whole shared buffer (indirect descriptor tables). */
  readonly view: DataView;
}

// Module-level copies: read on every descriptor, they should not cost a property lookup each.
const NEXT = VirtqDescFlag.NEXT;
const WRITE = VirtqDescFlag.WRITE;
const INDIRECT = VirtqDescFlag.INDIRECT;

/**
 * The fewest buffer descriptors a device built on {@link DeviceVirtqueue} takes in one chain
 * (QEMU's `VIRTQUEUE_MAX_SIZE`): size a {@link DescriptorChain} for the larger of this and the queue
 * size, so that any direct chain and any indirect table up to this many entries fit, whatever the
 * queue size (an indirect table is limited by its own entries, not by the queue size).
 *
 * @example
 * ```ts
 * const chain = new DescriptorChain(Math.max(ring.size, VIRTIO_DEVICE_MAX_SEGMENTS));
 * ```
 */
export const VIRTIO_DEVICE_MAX_SEGMENTS = 1024;

/** Result of {@link DeviceVirtqueue.pop} when no chain is available. */
export const POP_EMPTY = -1;
/** Result of {@link DeviceVirtqueue.pop} when `avail.idx` moved by more than the queue size. */
export const POP_BAD_INDEX = -2;

/**
 * The device end of a split virtqueue (what QEMU's `virtqueue_pop` / `virtqueue_push` do):
 * takes available chains, walks and validates them (bounds, order, loops, indirect tables),
 * copies the readable bytes out and the response in, returns chains through the used ring and
 * decides whether to notify the driver. It accepts any split of a message over descriptors, direct
 * or (with `VIRTIO_F_INDIRECT_DESC`) indirect, zero-length descriptors included (the specification
 * does not forbid them; QEMU's `virtqueue_map_desc` refuses them, "virtio: zero sized buffers are
 * not allowed"):
 *
 * - a chain in the queue's descriptor table has at most Q descriptors (one more is a loop); it may
 *   end with one descriptor that refers to an indirect table (the specification's "zero or more
 *   normal chained descriptors followed by a single descriptor with `VIRTQ_DESC_F_INDIRECT`"),
 *   whose `VIRTQ_DESC_F_WRITE` flag is ignored and which must not have `NEXT`;
 * - an indirect table is `len / 16` descriptors (`len` a non-zero multiple of 16, inside guest
 *   memory), starts at entry 0, has at most that many descriptors (one more is a loop) and no
 *   nested `INDIRECT` — its length is not limited by the queue size;
 * - the chain's buffer descriptors, direct and indirect, fit the given {@link DescriptorChain}
 *   (`too-many-segments` otherwise; see {@link VIRTIO_DEVICE_MAX_SEGMENTS}).
 *
 * @example
 * ```ts
 * const vq = new DeviceVirtqueue(ring, memory, { indirect: false, eventIdx: false });
 * vq.disableNotifications();
 * for (;;) {
 *   const head = vq.pop();
 *   if (head === POP_EMPTY) {
 *     if (!vq.enableNotifications()) break; // nothing arrived meanwhile: sleep until a kick
 *     vq.disableNotifications();
 *     continue;
 *   }
 *   if (head < 0 || head >= vq.size || !vq.hold(head)) continue; // a broken ring, or a head held
 *   const len = vq.walk(head, chain) === undefined ? vq.writeChain(chain, reply, reply.length) : 0;
 *   vq.release(head);
 *   vq.pushUsed(head, len);
 * }
 * if (vq.publishUsed()) interrupt.ring();
 * ```
 */
export class DeviceVirtqueue {
  /** The ring's views. */
  public readonly ring: SplitRing;
  /** Queue size. */
  public readonly size: number;
  readonly #mask: number;
  readonly #memory: DeviceMemory;
  readonly #indirect: boolean;
  readonly #eventIdx: boolean;
  readonly #held: Uint8Array;
  #heldCount = 0;
  #lastAvail = 0;
  #usedIdx = 0;
  #publishedUsed = 0;
  /** Whether the device last asked for notifications (`enableNotifications`) rather than not. */
  #notifying = true;
  /**
   * What the device last wrote to `avail_event` and `used.flags` (-1: not known, write it): both
   * are written only when they change (as the driver's end keeps its shadows), so that a look at
   * an idle queue does not dirty a line the driver reads.
   */
  #availEventShadow = -1;
  #usedFlagsShadow = -1;

  /**
   * The device end of `ring`, accepting buffers in `memory`; `features` says which ring features
   * were negotiated.
   */
  public constructor(
    ring: SplitRing,
    memory: DeviceMemory,
    features: { readonly indirect: boolean; readonly eventIdx: boolean },
  ) {
    this.ring = ring;
    this.size = ring.size;
    this.#mask = ring.size - 1;
    this.#memory = memory;
    this.#indirect = features.indirect;
    this.#eventIdx = features.eventIdx;
    this.#held = new Uint8Array(ring.size);
  }

  /** The device's `last_avail_idx`. */
  public get lastAvail(): number {
    return this.#lastAvail;
  }

  /** The device's shadow of `used.idx` (elements pushed, published or not). */
  public get usedIdx(): number {
    return this.#usedIdx;
  }

  /**
   * The head of the next available chain, {@link POP_EMPTY} when there is none, or
   * {@link POP_BAD_INDEX} when the driver moved `avail.idx` by more than the queue size.
   * The head is not validated here: {@link DeviceVirtqueue.walk} does it.
   */
  public pop(): number {
    const idx = this.ring.loadAvailIdx();
    const last = this.#lastAvail;
    if (idx === last) return POP_EMPTY;
    if (((idx - last) & 0xffff) > this.size) return POP_BAD_INDEX;
    const head = this.ring.availEntry(last & this.#mask);
    this.#lastAvail = (last + 1) & 0xffff;
    return head;
  }

  /**
   * Marks the chain headed at `head` (below the queue size) as held by the device — taken from the
   * available ring and not yet returned — and returns true; false when the device already holds
   * it: the driver made a head available again before the device returned it, and the entry must
   * be refused (neither walked nor returned), so that what the device holds stays bounded by the
   * queue size whatever the driver writes.
   */
  public hold(head: number): boolean {
    if (this.#held[head] !== 0) return false;
    this.#held[head] = 1;
    this.#heldCount++;
    return true;
  }

  /** Forgets that the device holds `head` (when it returns the chain); nothing when it does not. */
  public release(head: number): void {
    if (this.#held[head] !== 1) return;
    this.#held[head] = 0;
    this.#heldCount--;
  }

  /** Whether the device holds the chain headed at `head`. */
  public isHeld(head: number): boolean {
    return this.#held[head] === 1;
  }

  /** How many chains the device holds (at most the queue size). */
  public get held(): number {
    return this.#heldCount;
  }

  /**
   * Tells the driver that available-buffer notifications are not needed while the device works
   * through the ring: without EVENT_IDX it sets `VIRTQ_USED_F_NO_NOTIFY` (a hint the driver may
   * ignore); with EVENT_IDX it does nothing (`used.flags` must stay 0 — see
   * {@link DeviceVirtqueue.enableNotifications} — and `avail_event` still names the entry the
   * device last asked about, so at most one notification comes).
   */
  public disableNotifications(): void {
    this.#notifying = false;
    if (!this.#eventIdx) this.#setUsedFlags(VIRTQ_USED_F_NO_NOTIFY);
  }

  /**
   * Asks for available-buffer notifications (with EVENT_IDX: at the next entry; otherwise by
   * clearing `VIRTQ_USED_F_NO_NOTIFY`) and returns true when chains arrived meanwhile, so that the
   * caller pops again before sleeping: the store and the load are sequentially consistent, and the
   * driver stores `avail.idx` before it loads the flag, so either the driver notifies or the device
   * sees the entry.
   *
   * With EVENT_IDX it sets `used.flags` to 0 as well (VIRTIO 1.2 §2.7.10, available buffer
   * notification suppression: with EVENT_IDX the device MUST set it to 0), so a `NO_NOTIFY` an
   * earlier session without EVENT_IDX left in the ring does not stay; written once (the shadow
   * keeps it from being written again).
   */
  public enableNotifications(): boolean {
    this.#notifying = true;
    if (this.#eventIdx) this.#setAvailEvent(this.#lastAvail);
    this.#setUsedFlags(0);
    return this.ring.loadAvailIdx() !== this.#lastAvail;
  }

  /**
   * Whether a kick would find nothing to do on this queue: the device asked for notifications (no
   * look that asks again is owed) and the driver made nothing available since the last chain
   * popped. A device whose notification is shared by several queues skips the idle ones, as a
   * driver's interrupt does (`DriverVirtqueue.idle`).
   */
  public get idle(): boolean {
    return this.#notifying && this.ring.loadAvailIdx() === this.#lastAvail;
  }

  /** Writes `avail_event` (16 bits) unless it holds that value already. */
  #setAvailEvent(idx: number): void {
    const value = idx & 0xffff;
    if (value === this.#availEventShadow) return;
    this.#availEventShadow = value;
    this.ring.storeAvailEvent(value);
  }

  /** Writes `used.flags` unless it holds that value already. */
  #setUsedFlags(flags: number): void {
    if (flags === this.#usedFlagsShadow) return;
    this.#usedFlagsShadow = flags;
    this.ring.storeUsedFlags(flags);
  }

  #inMemory(addrHigh: number, addr: number, len: number): boolean {
    const m = this.#memory;
    return addrHigh === 0 && addr >= m.start && addr + len <= m.end;
  }

  /**
   * Walks and validates the chain headed at `head` into `chain` (see the class's rules); a defect
   * when it is malformed, after which `chain` holds an unspecified prefix.
   */
  public walk(head: number, chain: DescriptorChain): ChainDefect | undefined {
    chain.reset(head);
    const ring = this.ring;
    const size = this.size;
    if (head >= size) return 'head-out-of-range';
    let i = head;
    // The queue's table has Q descriptors: a chain visiting more than Q of them loops.
    for (let count = 1; ; count++) {
      if (count > size) return 'chain-too-long';
      const flags = ring.descFlags(i);
      const addr = ring.descAddrLow(i);
      const len = ring.descLen(i);
      if ((flags & INDIRECT) !== 0) {
        if (!this.#indirect) return 'indirect-not-negotiated';
        if ((flags & NEXT) !== 0) return 'indirect-with-next';
        if (!this.#inMemory(ring.descAddrHigh(i), addr, len)) return 'address-out-of-bounds';
        if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) return 'indirect-bad-length';
        return this.#walkIndirect(addr, len / VIRTQ_DESC_SIZE, chain);
      }
      if (!this.#inMemory(ring.descAddrHigh(i), addr, len)) return 'address-out-of-bounds';
      if (chain.full) return 'too-many-segments';
      if (!chain.add((flags & WRITE) !== 0, addr, len)) return 'readable-after-writable';
      if ((flags & NEXT) === 0) return undefined;
      i = ring.descNext(i);
      if (i >= size) return 'next-out-of-range';
      if (count === 1) chain.secondIndex = i;
    }
  }

  /** The indirect table of `entries` descriptors at `table` (inside guest memory: checked). */
  #walkIndirect(table: number, entries: number, chain: DescriptorChain): ChainDefect | undefined {
    const view = this.#memory.view;
    let j = 0;
    // The table has `entries` descriptors: a chain visiting more than that loops.
    for (let count = 1; ; count++) {
      if (count > entries) return 'chain-too-long';
      const at = table + j * VIRTQ_DESC_SIZE;
      const addr = view.getUint32(at, true);
      const high = view.getUint32(at + 4, true);
      const len = view.getUint32(at + 8, true);
      const flags = view.getUint16(at + 12, true);
      if ((flags & INDIRECT) !== 0) return 'indirect-nested';
      if (!this.#inMemory(high, addr, len)) return 'address-out-of-bounds';
      if (chain.full) return 'too-many-segments';
      if (!chain.add((flags & WRITE) !== 0, addr, len)) return 'readable-after-writable';
      if ((flags & NEXT) === 0) return undefined;
      j = view.getUint16(at + 14, true);
      if (j >= entries) return 'next-out-of-range';
    }
  }

  /**
   * Copies the chain's readable bytes into `into` (at most its length) and returns the chain's
   * readable byte count, which may exceed what was copied.
   */
  public readChain(chain: DescriptorChain, into: Uint8Array): number {
    const bytes = this.#memory.bytes;
    let out = 0;
    const room = into.byteLength;
    for (let s = 0; s < chain.readCount && out < room; s++) {
      const addr = chain.readAddr[s] as number;
      const n = Math.min(chain.readLen[s] as number, room - out);
      for (let k = 0; k < n; k++) into[out + k] = bytes[addr + k] as number;
      out += n;
    }
    return chain.readBytes;
  }

  /**
   * Scatters the first `length` bytes of `source` over the chain's writable segments and returns
   * the bytes written (at most the chain's writable bytes).
   */
  public writeChain(chain: DescriptorChain, source: Uint8Array, length: number): number {
    const bytes = this.#memory.bytes;
    const total = Math.min(length, source.byteLength, chain.writeBytes);
    let done = 0;
    for (let s = 0; s < chain.writeCount && done < total; s++) {
      const addr = chain.writeAddr[s] as number;
      const n = Math.min(chain.writeLen[s] as number, total - done);
      for (let k = 0; k < n; k++) bytes[addr + k] = source[done + k] as number;
      done += n;
    }
    return done;
  }

  /** Writes a used element (not yet visible: see {@link DeviceVirtqueue.publishUsed}). */
  public pushUsed(id: number, len: number): void {
    this.ring.writeUsedElem(this.#usedIdx & this.#mask, id, len);
    this.#usedIdx = (this.#usedIdx + 1) & 0xffff;
  }

  /**
   * Publishes the used elements pushed since the last call (one `used.idx` store) and returns
   * whether the driver wants a notification for them: with EVENT_IDX when `used.idx` crossed
   * `used_event`, otherwise unless `VIRTQ_AVAIL_F_NO_INTERRUPT` is set.
   */
  public publishUsed(): boolean {
    const old = this.#publishedUsed;
    const now = this.#usedIdx;
    if (old === now) return false;
    this.ring.storeUsedIdx(now);
    this.#publishedUsed = now;
    if (this.#eventIdx) return vringNeedEvent(this.ring.loadUsedEvent(), now, old);
    return (this.ring.loadAvailFlags() & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** Fault injection: stores `used.idx` moved by `delta` without writing any element. */
  public corruptUsedIdx(delta: number): void {
    this.ring.storeUsedIdx(this.#publishedUsed + delta);
  }

  /** Undoes {@link DeviceVirtqueue.corruptUsedIdx}: stores the true `used.idx` again. */
  public restoreUsedIdx(): void {
    this.ring.storeUsedIdx(this.#publishedUsed);
  }
}
