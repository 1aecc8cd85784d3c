import { VIRTQ_DESC_SIZE, VIRTQ_MAX_SIZE } from './virtio-constants.js';

/**
 * Where the three areas of one split virtqueue lie in the shared buffer (VIRTIO 1.2 §2.7):
 * descriptor table (align 16, 16·Q bytes), available ring (align 2, 6 + 2·Q bytes: flags, idx,
 * ring[Q], used_event) and used ring (align 4, 6 + 8·Q bytes: flags, idx, {id, len}[Q],
 * avail_event). Offsets are byte offsets in the `SharedArrayBuffer`.
 */
export interface SplitRingLayout {
  /** Queue size Q (a power of two). */
  readonly size: number;
  /** Offset of the descriptor table. */
  readonly desc: number;
  /** Offset of the available ring (driver area). */
  readonly avail: number;
  /** Offset of the used ring (device area). */
  readonly used: number;
  /** First byte after the used ring. */
  readonly end: number;
}

/**
 * Whether `n` is a valid split-ring queue size: a power of two in 1 … 32768.
 *
 * @example
 * ```ts
 * isQueueSize(256); // true
 * isQueueSize(100); // false
 * ```
 */
export function isQueueSize(n: unknown): n is number {
  return (
    typeof n === 'number' &&
    Number.isInteger(n) &&
    n >= 1 &&
    n <= VIRTQ_MAX_SIZE &&
    (n & (n - 1)) === 0
  );
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Bytes a split ring of `size` entries takes, areas aligned as the specification requires, so that
 * a region of this many bytes (16-aligned) holds a ring of any size up to `size`.
 *
 * @throws RangeError when `size` is not a valid queue size.
 * @example
 * ```ts
 * splitRingBytes(256); // 16·256 + (6 + 2·256 + 2) + (6 + 8·256)
 * ```
 */
export function splitRingBytes(size: number): number {
  return splitRingLayout(0, size).end;
}

/**
 * The layout of a split ring of `size` entries starting at `base` (a multiple of 16).
 *
 * @throws RangeError when `size` is not a power of two in 1 … 32768 or `base` is not 16-aligned.
 * @example
 * ```ts
 * const ring = splitRingLayout(0x100, 256); // { desc: 0x100, avail: 0x1100, used: 0x1308, end: 0x1b0e }
 * ```
 */
export function splitRingLayout(base: number, size: number): SplitRingLayout {
  if (!isQueueSize(size))
    throw new RangeError(
      `queue size must be a power of two ≤ ${VIRTQ_MAX_SIZE}, got ${String(size)}`,
    );
  if (!Number.isInteger(base) || base < 0 || base % 16 !== 0) {
    throw new RangeError(`a split ring must start at a 16-aligned offset, got ${base}`);
  }
  const desc = base;
  const avail = desc + VIRTQ_DESC_SIZE * size;
  const used = align(avail + 6 + 2 * size, 4);
  const end = used + 6 + 8 * size;
  return { size, desc, avail, used, end };
}

/**
 * `vring_need_event(event_idx, new_idx, old_idx)` (VIRTIO 1.2 §2.7.10, Linux `virtio_ring.h`):
 * with `VIRTIO_F_EVENT_IDX`, whether moving an index from `oldIdx` to `newIdx` crossed the
 * other side's `eventIdx`, i.e. whether to notify. All values are 16-bit, free-running.
 *
 * @example
 * ```ts
 * vringNeedEvent(5, 6, 5); // true: the other side asked to hear about entry 5
 * vringNeedEvent(9, 6, 5); // false
 * ```
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
