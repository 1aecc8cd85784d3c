import { vringNeedEvent } from '../layout/split-ring-layout.js';
import type { SplitRing } from '../layout/split-ring.js';
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_USED_F_NO_NOTIFY } from '../layout/virtio-constants.js';

/**
 * What {@link DriverVirtqueue.take} found in the used ring:
 *
 * - `empty`: nothing new (or only a bad index already reported).
 * - `ok`: a buffer came back: `id` is the head the driver made available, `len` fits its writable part.
 * - `oversize`: a buffer came back (the driver owns it again) but `len` claims more bytes than its
 *   writable part holds: its contents must not be used.
 * - `bad-id`, `not-in-flight`, `bad-index`: a {@link UsedRingDefect}; the virtqueue is broken from
 *   then on (see {@link DriverVirtqueue.broken}).
 */
export type UsedTake = 'empty' | 'ok' | 'oversize' | UsedRingDefect;

/**
 * What proves that the device corrupts a used ring (Linux `virtio_ring.c` `BAD_RING`, which marks
 * the virtqueue broken):
 *
 * - `bad-id`: an element's id is not a descriptor index (≥ queue size);
 * - `not-in-flight`: an element's id is in range but heads no chain the device holds (never made
 *   available, a chain's second descriptor, or returned twice);
 * - `bad-index`: `used.idx` moved by more than the queue size past the driver's `last_used_idx`.
 *
 * A used length larger than the chain's writable part is not one of them (`oversize`): the element
 * names a chain the device held, so the ring's bookkeeping stays right; only that buffer's
 * contents are unusable (Linux does not break the virtqueue for it either).
 *
 * @example
 * ```ts
 * const taken = vq.take(used);
 * if (taken === 'bad-id' || taken === 'not-in-flight' || taken === 'bad-index') {
 *   vq.broken === taken; // true: nothing more is read, kicked or made available
 * }
 * ```
 */
export type UsedRingDefect = 'bad-id' | 'not-in-flight' | 'bad-index';

/** The element {@link DriverVirtqueue.take} read: filled in place (no allocation on the RX path). */
export interface UsedElement {
  /** The id the device wrote. */
  id: number;
  /** The length the device wrote. */
  len: number;
}

/**
 * The driver end of a split virtqueue (Linux `virtio_ring.c`, split ring): makes chains available,
 * decides whether to notify the device, and takes used buffers back — validating everything the
 * device wrote before using it: the used index may not jump by more than the queue size, an id must
 * be the head of a chain the device holds, a length may not exceed the chain's writable bytes. The
 * driver keeps its own record of each chain (which heads are out, their writable capacity) and never
 * reads its descriptors back from shared memory.
 *
 * The first {@link UsedRingDefect} marks the virtqueue **broken**, as Linux's `BAD_RING` sets
 * `vq->broken`: the device is not trusted with it again. `take` reads nothing more, `kickPrepare`
 * and `enableInterrupts` return false, and `publish` throws; only {@link DriverVirtqueue.reset}
 * (after the device acknowledged a reset) makes it usable again.
 *
 * @example
 * ```ts
 * const vq = new DriverVirtqueue(ring, false);
 * ring.writeDesc(0, request, 12, VirtqDescFlag.NEXT, 1);
 * ring.writeDesc(1, response, 136, VirtqDescFlag.WRITE, 0);
 * vq.publish(0, 136);
 * if (vq.kickPrepare()) doorbell.ring();
 * const used: UsedElement = { id: 0, len: 0 };
 * while (vq.take(used) !== 'empty') { … }
 * ```
 */
export class DriverVirtqueue {
  /** The ring's views. */
  public readonly ring: SplitRing;
  /** Queue size. */
  public readonly size: number;
  /** Whether `VIRTIO_F_EVENT_IDX` was negotiated. */
  public readonly eventIdx: boolean;
  readonly #mask: number;
  readonly #owned: Uint8Array;
  readonly #capacity: Uint32Array;
  #availIdx = 0;
  #kickedIdx = 0;
  #lastUsed = 0;
  /** Used index up to which {@link DriverVirtqueue.newlyUsed} counted (never behind `#lastUsed`). */
  #counted = 0;
  #broken: UsedRingDefect | undefined;
  #inFlight = 0;
  #interrupts = true;
  /**
   * What the driver last wrote to `used_event` and `avail.flags` (-1: not known, write it): both
   * are written only when they change, as Linux keeps `avail_flags_shadow` — a store to a line the
   * device reads costs a cache-line transfer each time when the device runs on another core.
   */
  #usedEventShadow = -1;
  #availFlagsShadow = -1;

  /** The driver end of `ring`; `eventIdx` when `VIRTIO_F_EVENT_IDX` was negotiated. */
  public constructor(ring: SplitRing, eventIdx: boolean) {
    this.ring = ring;
    this.size = ring.size;
    this.eventIdx = eventIdx;
    this.#mask = ring.size - 1;
    this.#owned = new Uint8Array(ring.size);
    this.#capacity = new Uint32Array(ring.size);
  }

  /** Chains the device holds now. */
  public get inFlight(): number {
    return this.#inFlight;
  }

  /** The driver's `last_used_idx`. */
  public get lastUsed(): number {
    return this.#lastUsed;
  }

  /**
   * Whether the device published used elements the driver has not taken yet (`used.idx` moved past
   * `last_used_idx`); false once the virtqueue is broken.
   */
  public get hasUsed(): boolean {
    return this.#broken === undefined && this.ring.loadUsedIdx() !== this.#lastUsed;
  }

  /**
   * Whether a used-buffer notification would find nothing to do: interrupts are enabled (so no
   * look that re-enables them is owed) and the device published nothing since the last element
   * taken — or the virtqueue is broken, when nothing is read any more. Linux's `vring_interrupt`
   * makes the same check (`more_used`) before calling a virtqueue's callback, so that an interrupt
   * shared by several virtqueues costs the others one read of their used index.
   */
  public get idle(): boolean {
    return (
      this.#broken !== undefined || (this.#interrupts && this.ring.loadUsedIdx() === this.#lastUsed)
    );
  }

  /**
   * Used elements the device published that were neither taken nor returned by an earlier call:
   * `used.idx` is read once, so two calls never count one element twice and elements published
   * together are all counted (for callbacks refused after quiesce). 0 once broken, or for a used
   * index further than the queue size from the last one taken.
   */
  public newlyUsed(): number {
    if (this.#broken !== undefined) return 0;
    const idx = this.ring.loadUsedIdx();
    if (((idx - this.#lastUsed) & 0xffff) > this.size) return 0;
    const n = (idx - this.#counted) & 0xffff;
    if (n > this.size) return 0;
    this.#counted = idx;
    return n;
  }

  /**
   * The defect that broke the virtqueue (see {@link UsedRingDefect}), or undefined while it is
   * sound.
   */
  public get broken(): UsedRingDefect | undefined {
    return this.#broken;
  }

  /** Whether the chain headed at `head` is with the device. */
  public owned(head: number): boolean {
    return this.#owned[head] === 1;
  }

  /**
   * Makes the chain headed at `head` (its descriptors already written) available, with
   * `writableBytes` of device-writable space; the device sees it once the new `avail.idx` is
   * stored, which this does.
   *
   * @throws Error when `head` is out of range or already with the device, or the virtqueue is
   * broken (a driver bug: its users check {@link DriverVirtqueue.broken} first).
   */
  public publish(head: number, writableBytes: number): void {
    if (head < 0 || head >= this.size || this.#owned[head] === 1) {
      throw new Error(
        `virtqueue: chain ${head} cannot be made available (out of range or in flight)`,
      );
    }
    if (this.#broken !== undefined) {
      throw new Error(
        `virtqueue: broken (${this.#broken}): chain ${head} cannot be made available`,
      );
    }
    this.#owned[head] = 1;
    this.#capacity[head] = writableBytes;
    this.#inFlight++;
    this.ring.writeAvailEntry(this.#availIdx & this.#mask, head);
    this.#availIdx = (this.#availIdx + 1) & 0xffff;
    this.ring.storeAvailIdx(this.#availIdx);
  }

  /**
   * Whether the device must be notified of the chains made available since the last call (Linux
   * `virtqueue_kick_prepare_split`): with EVENT_IDX, when `avail.idx` crossed the device's
   * `avail_event`; otherwise unless the device set `VIRTQ_USED_F_NO_NOTIFY`. Never once broken.
   */
  public kickPrepare(): boolean {
    if (this.#broken !== undefined) return false;
    const old = this.#kickedIdx;
    const now = this.#availIdx;
    this.#kickedIdx = now;
    if (old === now) return false;
    if (this.eventIdx) return vringNeedEvent(this.ring.loadAvailEvent(), now, old);
    return (this.ring.loadUsedFlags() & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  /**
   * Takes the next used element into `out` and says what it is (see {@link UsedTake}). An element
   * is consumed for every result but `empty` and `bad-index`. A {@link UsedRingDefect} is reported
   * once: it breaks the virtqueue, and a broken virtqueue is not read again (`empty`).
   */
  public take(out: UsedElement): UsedTake {
    if (this.#broken !== undefined) return 'empty';
    const idx = this.ring.loadUsedIdx();
    const last = this.#lastUsed;
    if (idx === last) return 'empty';
    if (((idx - last) & 0xffff) > this.size) return (this.#broken = 'bad-index');
    const slot = last & this.#mask;
    const id = this.ring.usedId(slot);
    const len = this.ring.usedLen(slot);
    this.#lastUsed = (last + 1) & 0xffff;
    if (this.#counted === last) this.#counted = this.#lastUsed;
    // With EVENT_IDX and interrupts wanted, ask for one at the next entry (Linux virtqueue_get_buf).
    if (this.eventIdx && this.#interrupts) this.#setUsedEvent(this.#lastUsed);
    out.id = id;
    out.len = len;
    if (id >= this.size) return (this.#broken = 'bad-id');
    if (this.#owned[id] !== 1) return (this.#broken = 'not-in-flight');
    this.#owned[id] = 0;
    this.#inFlight--;
    return len > (this.#capacity[id] as number) ? 'oversize' : 'ok';
  }

  /**
   * Asks for used-buffer notifications again (Linux `virtqueue_enable_cb`) and returns true when
   * used elements arrived meanwhile (the caller drains again, so none waits for a notification
   * that will not come). A used index that jumped by more than the queue size is not "arrived":
   * draining again would spin on it. A broken virtqueue asks for nothing and returns false.
   */
  public enableInterrupts(): boolean {
    if (this.#broken !== undefined) return false;
    this.#interrupts = true;
    if (this.eventIdx) this.#setUsedEvent(this.#lastUsed);
    this.#setAvailFlags(0);
    const pending = (this.ring.loadUsedIdx() - this.#lastUsed) & 0xffff;
    return pending !== 0 && pending <= this.size;
  }

  /**
   * Stops asking for used-buffer notifications while a drain takes what the device returned (Linux
   * `virtqueue_disable_cb`, which `scmi_vio_complete_cb` calls before it takes the first buffer),
   * until {@link DriverVirtqueue.enableInterrupts} ends the drain and looks again. With EVENT_IDX
   * it writes nothing: the device has passed `used_event` already (a drain has something to take),
   * so it notifies no more until the driver moves it, which {@link DriverVirtqueue.take} no longer
   * does per element — as Linux's `virtqueue_disable_cb_split` writes nothing once an event
   * triggered. Without EVENT_IDX it sets `VIRTQ_AVAIL_F_NO_INTERRUPT`, as Linux does. A no-op when
   * interrupts are off already.
   *
   * @example
   * ```ts
   * vq.suspendInterrupts();
   * while (vq.take(el) !== 'empty') handle(el);
   * if (vq.enableInterrupts()) drainAgain(); // a buffer came back meanwhile
   * ```
   */
  public suspendInterrupts(): void {
    if (!this.#interrupts) return;
    this.#interrupts = false;
    if (!this.eventIdx) this.#setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
  }

  /**
   * Asks the device not to send used-buffer notifications (polling). Without EVENT_IDX it sets
   * `VIRTQ_AVAIL_F_NO_INTERRUPT`; with it the flags stay 0 (VIRTIO 1.2 §2.7.10: "if the
   * VIRTIO_F_EVENT_IDX feature bit is negotiated, the driver MUST set flags to 0") and
   * `used_event` is moved half the index space away instead (Linux writes a far value too),
   * refreshed on each call.
   */
  public disableInterrupts(): void {
    this.#interrupts = false;
    if (this.eventIdx) this.#setUsedEvent(this.#lastUsed + 0x8000);
    else this.#setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
  }

  /**
   * Used elements the device published that were neither taken nor counted by
   * {@link DriverVirtqueue.newlyUsed} (a callback refused after quiesce counts them there): read
   * just before {@link DriverVirtqueue.reset}, the replies and events it drops that nothing counted
   * yet. 0 when {@link DriverVirtqueue.reset} would count nothing (a broken virtqueue, a used index
   * past the chains in flight).
   */
  public get uncountedUsed(): number {
    return this.unreadUsedNow().uncounted;
  }

  /**
   * {@link DriverVirtqueue.unreadUsed} and {@link DriverVirtqueue.uncountedUsed} from one read of
   * the used index: a device that still writes (a reset not acknowledged) may publish between two
   * reads, and the two counts would then disagree.
   *
   * @example
   * ```ts
   * const { unread, uncounted } = vq.unreadUsedNow();
   * ```
   */
  public unreadUsedNow(): {
    /** As {@link DriverVirtqueue.unreadUsed}: written by the device, not read. */
    readonly unread: number;
    /** As {@link DriverVirtqueue.uncountedUsed}: of those, the ones nothing counted yet. */
    readonly uncounted: number;
  } {
    if (this.#broken !== undefined) return { unread: 0, uncounted: 0 };
    const pending = (this.ring.loadUsedIdx() - this.#lastUsed) & 0xffff;
    if (pending > this.#inFlight) return { unread: 0, uncounted: 0 };
    // Those newlyUsed counted come first; a used index moved back below them counts none.
    const counted = (this.#counted - this.#lastUsed) & 0xffff;
    return { unread: pending, uncounted: pending > counted ? pending - counted : 0 };
  }

  /**
   * Used elements the device has written that the driver has not read: the distance from the last
   * read to the used index, when that is no more than the chains in flight (0 for a broken
   * virtqueue or a used index past them: nothing written there can be trusted). Reads the used
   * index only; {@link DriverVirtqueue.reset} returns the same count as it forgets them.
   */
  public get unreadUsed(): number {
    return this.unreadUsedNow().unread;
  }

  /**
   * Forgets every chain and index after the device was reset (the device acknowledged it, so it no
   * longer holds any buffer), zeroes the ring, and makes a broken virtqueue sound again. Returns
   * how many used elements the device had written that were never read: the distance from the
   * last read to the used index, when that is no more than the chains in flight (0 for a broken
   * virtqueue or a used index past them: nothing written there can be trusted).
   */
  public reset(): number {
    const unread = this.unreadUsed;
    this.#owned.fill(0);
    this.#inFlight = 0;
    this.#availIdx = 0;
    this.#kickedIdx = 0;
    this.#lastUsed = 0;
    this.#counted = 0;
    this.#broken = undefined;
    this.ring.clear();
    // A zeroed ring asks for every interrupt (avail.flags 0, used_event 0): so does the driver.
    this.#interrupts = true;
    this.#usedEventShadow = -1;
    this.#availFlagsShadow = -1;
    return unread;
  }

  /** Writes `used_event` (16 bits) unless it holds that value already. */
  #setUsedEvent(idx: number): void {
    const value = idx & 0xffff;
    if (value === this.#usedEventShadow) return;
    this.#usedEventShadow = value;
    this.ring.storeUsedEvent(value);
  }

  /** Writes `avail.flags` unless it holds that value already. */
  #setAvailFlags(flags: number): void {
    if (flags === this.#availFlagsShadow) return;
    this.#availFlagsShadow = flags;
    this.ring.storeAvailFlags(flags);
  }
}
