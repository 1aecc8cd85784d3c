/**
 * The byte count a transport asked to copy, as a count: a negative or non-finite length is 0, a
 * fractional one is truncated. @internal
 */
export function requestedBytes(length: number): number {
  return Number.isFinite(length) ? Math.max(0, Math.trunc(length)) : 0;
}

/**
 * Copies up to `wanted` bytes of `source` from `offset` into the start of `target`, clamped to
 * `limit` and to the end of `source` — a hostile length never reads out of bounds; an offset that
 * is not an integer within `source` copies nothing. Returns the bytes copied. A byte loop, not
 * `set(subarray())`: the RX path allocates nothing. Shared by `Xfer.receiveResponse` and
 * `NotificationBuffer.receive`. @internal
 */
export function clampedCopy(
  target: Uint8Array,
  limit: number,
  source: Uint8Array,
  offset: number,
  wanted: number,
): number {
  const inside = Number.isInteger(offset) && offset >= 0;
  const available = inside ? Math.max(0, Math.min(source.byteLength - offset, wanted)) : 0;
  const n = Math.min(available, limit);
  for (let i = 0; i < n; i++) target[i] = source[offset + i] as number;
  return n;
}
