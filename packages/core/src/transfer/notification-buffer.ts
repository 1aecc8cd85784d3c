import { clampedCopy, requestedBytes } from './clamped-copy.js';

/**
 * A preallocated buffer a transport copies one notification payload into
 * ({@link TransportChannel.fetchNotification}); core owns it and reuses it.
 *
 * @example
 * ```ts
 * fetchNotification(buffer, ctx) {
 *   buffer.receive(this.area, PAYLOAD_OFFSET, length - 4); // clamped to the capacity
 * }
 * ```
 */
export class NotificationBuffer {
  /** The payload bytes (capacity: the transport's max message size). */
  public readonly data: Uint8Array;
  /** Bytes of {@link NotificationBuffer.data} in use. */
  public length = 0;
  /** True when the last {@link NotificationBuffer.receive} was clamped. */
  public truncated = false;
  /**
   * @internal Whether {@link NotificationBuffer.receive} ran since core emptied the buffer for a
   * fetch: a transport whose `fetchNotification` copied nothing must not leave core the previous
   * notification's bytes as this one's.
   */
  public received = false;

  /** Creates a buffer of `capacity` bytes. */
  public constructor(capacity: number) {
    this.data = new Uint8Array(capacity);
  }

  /**
   * Copies `length` bytes of `source` from `offset`, clamped to the capacity and to the end of
   * `source` (a hostile length never reads out of bounds); a negative or non-finite length counts
   * as 0, and an offset that is not an integer within `source` leaves nothing available (the
   * buffer is then empty, and truncated if `length` asked for more).
   */
  public receive(source: Uint8Array, offset: number, length: number): void {
    const wanted = requestedBytes(length);
    const n = clampedCopy(this.data, this.data.byteLength, source, offset, wanted);
    this.truncated = n < wanted;
    this.length = n;
    this.received = true;
  }

  /** @internal Empties the buffer before core hands it to a transport's `fetchNotification`. */
  public reset(): void {
    this.length = 0;
    this.truncated = false;
    this.received = false;
  }
}
