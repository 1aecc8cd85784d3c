import type { SplitRingLayout } from './split-ring-layout.js';

/**
 * Typed views of one split virtqueue inside the shared buffer: the one layout module both ends
 * use (the driver in {@link DriverVirtqueue}, the device in {@link DeviceVirtqueue}).
 *
 * Fields are little-endian (the wire checks that the host is, see {@link VirtioScmiWire}). The
 * free-running indices and the flags/event words are read and written with `Atomics`, which are
 * sequentially consistent in JavaScript: every plain write made before an `Atomics.store` of an
 * index (descriptors, ring entries, buffer bytes) is visible to the thread whose `Atomics.load`
 * observes that index — the `virtio_wmb()` / `virtio_rmb()` pairs of Linux `virtio_ring.c`.
 * Nothing here validates: each end checks what the other end wrote before using it.
 *
 * @example
 * ```ts
 * const ring = new SplitRing(sab, splitRingLayout(0x100, 64));
 * ring.writeDesc(0, request, 12, VirtqDescFlag.NEXT, 1);
 * ring.writeAvailEntry(0, 0);
 * ring.storeAvailIdx(1); // the device may now see chain 0
 * ```
 */
export class SplitRing {
  /** Queue size Q. */
  public readonly size: number;
  /** The layout this view covers. */
  public readonly layout: SplitRingLayout;
  readonly #desc32: Uint32Array;
  readonly #desc16: Uint16Array;
  readonly #avail: Uint16Array;
  readonly #usedHead: Uint16Array;
  readonly #usedElems: Uint32Array;
  readonly #usedTail: Uint16Array;

  /** Views the ring laid out as `layout` in `sab`. */
  public constructor(sab: SharedArrayBuffer, layout: SplitRingLayout) {
    const q = layout.size;
    this.size = q;
    this.layout = layout;
    this.#desc32 = new Uint32Array(sab, layout.desc, 4 * q);
    this.#desc16 = new Uint16Array(sab, layout.desc, 8 * q);
    this.#avail = new Uint16Array(sab, layout.avail, 3 + q);
    this.#usedHead = new Uint16Array(sab, layout.used, 2);
    this.#usedElems = new Uint32Array(sab, layout.used + 4, 2 * q);
    this.#usedTail = new Uint16Array(sab, layout.used + 4 + 8 * q, 1);
  }

  // ---- descriptor table (driver writes, device reads) ---------------------------------------

  /** Writes descriptor `i`: a 32-bit guest address (high word 0), length, flags, next. */
  public writeDesc(i: number, addr: number, len: number, flags: number, next: number): void {
    const w = i << 2;
    this.#desc32[w] = addr;
    this.#desc32[w + 1] = 0;
    this.#desc32[w + 2] = len;
    const h = i << 3;
    this.#desc16[h + 6] = flags;
    this.#desc16[h + 7] = next;
  }

  /** Low 32 bits of descriptor `i`'s address. */
  public descAddrLow(i: number): number {
    return this.#desc32[i << 2] as number;
  }

  /** High 32 bits of descriptor `i`'s address (0 for every address inside the shared buffer). */
  public descAddrHigh(i: number): number {
    return this.#desc32[(i << 2) + 1] as number;
  }

  /** Length of descriptor `i`. */
  public descLen(i: number): number {
    return this.#desc32[(i << 2) + 2] as number;
  }

  /** Flags of descriptor `i`. */
  public descFlags(i: number): number {
    return this.#desc16[(i << 3) + 6] as number;
  }

  /** `next` of descriptor `i`. */
  public descNext(i: number): number {
    return this.#desc16[(i << 3) + 7] as number;
  }

  // ---- available ring (driver writes, device reads) -----------------------------------------

  /** `avail.flags`. */
  public loadAvailFlags(): number {
    return Atomics.load(this.#avail, 0);
  }

  /** Sets `avail.flags`. */
  public storeAvailFlags(flags: number): void {
    Atomics.store(this.#avail, 0, flags);
  }

  /** `avail.idx` (free-running, 16 bits). */
  public loadAvailIdx(): number {
    return Atomics.load(this.#avail, 1);
  }

  /** Publishes `avail.idx`: entries written before it become visible to the device. */
  public storeAvailIdx(idx: number): void {
    Atomics.store(this.#avail, 1, idx & 0xffff);
  }

  /** `avail.ring[slot]` (slot already reduced modulo Q). */
  public availEntry(slot: number): number {
    return this.#avail[2 + slot] as number;
  }

  /** Writes `avail.ring[slot]`. */
  public writeAvailEntry(slot: number, head: number): void {
    this.#avail[2 + slot] = head;
  }

  /** `used_event` (with `VIRTIO_F_EVENT_IDX`): notify the driver when `used.idx` passes it. */
  public loadUsedEvent(): number {
    return Atomics.load(this.#avail, 2 + this.size);
  }

  /** Sets `used_event`. */
  public storeUsedEvent(idx: number): void {
    Atomics.store(this.#avail, 2 + this.size, idx & 0xffff);
  }

  // ---- used ring (device writes, driver reads) ----------------------------------------------

  /** `used.flags`. */
  public loadUsedFlags(): number {
    return Atomics.load(this.#usedHead, 0);
  }

  /** Sets `used.flags`. */
  public storeUsedFlags(flags: number): void {
    Atomics.store(this.#usedHead, 0, flags);
  }

  /** `used.idx` (free-running, 16 bits). */
  public loadUsedIdx(): number {
    return Atomics.load(this.#usedHead, 1);
  }

  /** Publishes `used.idx`: elements written before it become visible to the driver. */
  public storeUsedIdx(idx: number): void {
    Atomics.store(this.#usedHead, 1, idx & 0xffff);
  }

  /** `used.ring[slot].id`. */
  public usedId(slot: number): number {
    return this.#usedElems[slot << 1] as number;
  }

  /** `used.ring[slot].len`. */
  public usedLen(slot: number): number {
    return this.#usedElems[(slot << 1) + 1] as number;
  }

  /** Writes `used.ring[slot]`. */
  public writeUsedElem(slot: number, id: number, len: number): void {
    this.#usedElems[slot << 1] = id;
    this.#usedElems[(slot << 1) + 1] = len;
  }

  /** `avail_event` (with `VIRTIO_F_EVENT_IDX`): notify the device when `avail.idx` passes it. */
  public loadAvailEvent(): number {
    return Atomics.load(this.#usedTail, 0);
  }

  /** Sets `avail_event`. */
  public storeAvailEvent(idx: number): void {
    Atomics.store(this.#usedTail, 0, idx & 0xffff);
  }

  /** Zeroes the three areas (the device does it on reset; the driver before it sets the queue up). */
  public clear(): void {
    this.#desc32.fill(0);
    this.#avail.fill(0);
    this.#usedHead.fill(0);
    this.#usedElems.fill(0);
    this.#usedTail.fill(0);
  }
}
