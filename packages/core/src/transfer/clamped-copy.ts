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

/** Up to this many bytes, {@link copyOut} copies in a byte loop; beyond it, with `slice`. */
const COPY_LOOP_MAX = 64;

/**
 * A new array holding the first `length` bytes of `source` (`length` within it): what
 * `source.slice(0, length)` returns, faster for the few bytes most SCMI responses hold — V8's
 * `slice` goes through the species lookup, about 100–200 ns more per call on the response path
 * than a new array filled in a byte loop. @internal
 */
export function copyOut(source: Uint8Array, length: number): Uint8Array {
  if (length > COPY_LOOP_MAX) return source.slice(0, length);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = source[i] as number;
  return out;
}
