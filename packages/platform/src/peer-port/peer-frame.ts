import { ScmiConfigError, formatValue } from '@scmi-ts/core';

/**
 * Frame kinds of the peer port. A frame is `le32 kind | le32 length | bytes[length]`.
 *
 * - `MSG` (1): client → platform, one MSG-layout command; platform → client, its response
 *   (header, status, return values), also for responses sent later (fault injection).
 * - `SMT` (2): reserved for the mailbox transport, which registers it (a whole SMT area).
 * - `P2A` (3): platform → client only, one notification or delayed response (MSG layout).
 * - `CLOSE` (4): platform → client only, why the port is about to close the connection (UTF-8
 *   text, at most {@link MAX_CLOSE_REASON} bytes): a refused connection, a malformed frame, the
 *   port closing. Best effort — written just before the socket is closed, it may not arrive — and
 *   a client that reads no kind 4 still sees the close.
 *
 * Other kinds are added with {@link registerFrameKind}.
 *
 * @example
 * ```ts
 * socket.write(encodePeerFrame(PeerFrameKind.MSG, command));
 * ```
 */
export enum PeerFrameKind {
  /** One MSG-layout command or response. */
  MSG = 1,
  /** A whole SMT area (registered by the mailbox transport). */
  SMT = 2,
  /** One notification or delayed response, platform to client. */
  P2A = 3,
  /** Why the port closes the connection (UTF-8 text), platform to client, just before it does. */
  CLOSE = 4,
}

/** The most bytes of a `CLOSE` frame's reason: a longer one is cut (at a character boundary). */
export const MAX_CLOSE_REASON = 512;

/**
 * A `CLOSE` frame telling why the port closes a connection: `reason` as UTF-8, cut to
 * {@link MAX_CLOSE_REASON} bytes.
 *
 * @example
 * ```ts
 * socket.write(encodeCloseFrame('connection limit 1 reached'));
 * socket.destroy();
 * ```
 */
export function encodeCloseFrame(reason: string): Uint8Array {
  let bytes = new TextEncoder().encode(reason);
  if (bytes.byteLength > MAX_CLOSE_REASON) {
    // Back to the start of the character the bound falls in (continuation bytes are 10xxxxxx).
    let end = MAX_CLOSE_REASON;
    while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    bytes = bytes.subarray(0, end);
  }
  return encodePeerFrame(PeerFrameKind.CLOSE, bytes);
}

/**
 * The reason a `CLOSE` frame's payload gives, as text safe to show: decoded as UTF-8 (a bad
 * sequence becomes U+FFFD) from at most {@link MAX_CLOSE_REASON} bytes, control and format
 * characters (C0, C1, bidi overrides, U+2028/2029: what a terminal could act on or a log line
 * break at) replaced by spaces — the other end's bytes, whatever they are.
 *
 * @example
 * ```ts
 * if (frame.kind === PeerFrameKind.CLOSE) console.log(decodeCloseReason(frame.payload));
 * ```
 */
export function decodeCloseReason(payload: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(
    payload.subarray(0, MAX_CLOSE_REASON),
  );
  return text.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, ' ');
}

/** Bytes of a frame header (kind and length). */
export const PEER_FRAME_HEADER_SIZE = 8;

/** One decoded frame. */
export interface PeerFrame {
  /** The frame kind. */
  readonly kind: number;
  /** The frame bytes (a copy, owned by the caller). */
  readonly payload: Uint8Array;
}

/**
 * Encodes one frame: `le32 kind | le32 length | payload`.
 *
 * @example
 * ```ts
 * const frame = encodePeerFrame(PeerFrameKind.MSG, encodeMsg(header));
 * ```
 */
export function encodePeerFrame(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(PEER_FRAME_HEADER_SIZE + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, kind >>> 0, true);
  view.setUint32(4, payload.byteLength, true);
  out.set(payload, PEER_FRAME_HEADER_SIZE);
  return out;
}

/** Options of a {@link PeerFrameReader}. */
export interface PeerFrameReaderOptions {
  /** Largest frame payload accepted, in bytes. */
  readonly maxFrameSize: number;
  /** Which kinds are accepted; default every kind. */
  readonly accepts?: (kind: number) => boolean;
}

/** What {@link PeerFrameReader.push} found. */
export interface PeerFrameBatch {
  /** The complete frames, in order. */
  readonly frames: readonly PeerFrame[];
  /** Why the stream is malformed (the reader accepts nothing more), if it is. */
  readonly error?: string;
}

const EMPTY = new Uint8Array(0);

/**
 * Splits a byte stream into frames, checking each header before it buffers the payload: an unknown
 * kind or a length over the bound ends the stream with an error instead of buffering hostile data.
 *
 * @example
 * ```ts
 * const reader = new PeerFrameReader({ maxFrameSize: 4096 });
 * socket.on('data', (chunk) => {
 *   const { frames, error } = reader.push(chunk);
 *   if (error !== undefined) socket.destroy();
 * });
 * ```
 */
export class PeerFrameReader {
  readonly #max: number;
  readonly #accepts: (kind: number) => boolean;
  /** The header of the frame being read, as it arrives. */
  readonly #head = new Uint8Array(PEER_FRAME_HEADER_SIZE);
  /** Header bytes received (`PEER_FRAME_HEADER_SIZE` once the header is whole). */
  #headLength = 0;
  #kind = 0;
  /** The frame's payload length, once its header is whole. */
  #length = 0;
  /**
   * The payload received so far: grown by doubling, never past `#length`, so it holds at most
   * twice what arrived and exactly `#length` bytes once whole — then it is the frame's payload.
   */
  #body = EMPTY;
  /** Payload bytes received. */
  #bodyLength = 0;
  #error: string | undefined;

  /**
   * Creates a reader with the bound and kind filter of `options`.
   *
   * @throws ScmiConfigError naming `maxFrameSize` when it is not an integer in 0 … 2³² − 1 (a
   * bound that is `NaN` or missing would let any length through), `options` when it is not an
   * object (left out, `null`: the bound is required), `accepts` when it is neither a function nor
   * left out.
   */
  public constructor(options: PeerFrameReaderOptions) {
    const o: unknown = options;
    if (typeof o !== 'object' || o === null) {
      throw new ScmiConfigError(
        'options',
        `must be an object with maxFrameSize, got ${formatValue(o)} (new PeerFrameReader({ maxFrameSize: 4096 }))`,
      );
    }
    const max: unknown = options.maxFrameSize;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > 0xffffffff) {
      throw new ScmiConfigError(
        'maxFrameSize',
        `must be an integer in 0 … 4294967295, got ${formatValue(max)}`,
      );
    }
    const accepts: unknown = options.accepts;
    if (accepts !== undefined && typeof accepts !== 'function') {
      throw new ScmiConfigError(
        'accepts',
        `must be a function or left out, got ${formatValue(accepts)}`,
      );
    }
    this.#max = max;
    this.#accepts = options.accepts ?? ((): boolean => true);
  }

  /** Bytes received that do not yet make a whole frame (a truncated frame if the stream ends now). */
  public get pending(): number {
    return this.#headLength + this.#bodyLength;
  }

  /** The error that ended the stream, if any. */
  public get error(): string | undefined {
    return this.#error;
  }

  /**
   * Adds received bytes; returns the frames they complete, or the error that ends the stream.
   * The bytes are copied (the caller may reuse `chunk`). A frame's payload is copied once into a
   * buffer that grows by doubling up to the length its header announced — never allocated from
   * the header alone — so a frame sent in small pieces costs linear work and at most twice the
   * bytes received, never more than `maxFrameSize` plus its header.
   */
  public push(chunk: Uint8Array): PeerFrameBatch {
    if (this.#error !== undefined) return { frames: [], error: this.#error };
    const frames: PeerFrame[] = [];
    let at = 0;
    const end = chunk.byteLength;
    while (at < end) {
      if (this.#headLength < PEER_FRAME_HEADER_SIZE) {
        const n = Math.min(PEER_FRAME_HEADER_SIZE - this.#headLength, end - at);
        this.#head.set(chunk.subarray(at, at + n), this.#headLength);
        this.#headLength += n;
        at += n;
        if (this.#headLength < PEER_FRAME_HEADER_SIZE) break;
        const view = new DataView(this.#head.buffer);
        const kind = view.getUint32(0, true);
        const length = view.getUint32(4, true);
        if (!this.#accepts(kind)) return this.#fail(frames, `unknown frame kind ${kind}`);
        if (length > this.#max) {
          return this.#fail(frames, `frame length ${length} exceeds the bound ${this.#max}`);
        }
        this.#kind = kind;
        this.#length = length;
      }
      const n = Math.min(this.#length - this.#bodyLength, end - at);
      if (n > 0) {
        if (this.#bodyLength + n > this.#body.byteLength) this.#grow(this.#bodyLength + n);
        this.#body.set(chunk.subarray(at, at + n), this.#bodyLength);
        this.#bodyLength += n;
        at += n;
      }
      if (this.#bodyLength < this.#length) break;
      frames.push({
        kind: this.#kind,
        payload: this.#length === 0 ? new Uint8Array(0) : this.#body,
      });
      this.#headLength = 0;
      this.#body = EMPTY;
      this.#bodyLength = 0;
      this.#length = 0;
    }
    return { frames };
  }

  /** Grows the payload buffer to hold `needed` bytes: doubling, capped at the frame's length. */
  #grow(needed: number): void {
    const size = Math.min(this.#length, Math.max(needed, 2 * this.#body.byteLength, 64));
    const body = new Uint8Array(size);
    body.set(this.#body.subarray(0, this.#bodyLength));
    this.#body = body;
  }

  #fail(frames: PeerFrame[], error: string): PeerFrameBatch {
    this.#error = error;
    this.#headLength = 0;
    this.#body = EMPTY;
    this.#bodyLength = 0;
    this.#length = 0;
    return { frames, error };
  }
}
