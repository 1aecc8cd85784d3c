/**
 * Frame kinds of the peer port. A frame is `le32 kind | le32 length | bytes[length]`.
 *
 * - `MSG` (1): client → platform, one MSG-layout command; platform → client, its response
 *   (header, status, return values), also for responses sent later (fault injection).
 * - `SMT` (2): reserved for the mailbox transport, which registers it (a whole SMT area).
 * - `P2A` (3): platform → client only, one notification or delayed response (MSG layout).
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
  /** Bytes received and not yet taken into a frame, in arrival order. */
  readonly #chunks: Buffer[] = [];
  /** Their total size. */
  #size = 0;
  /** Bytes the frame being read takes in all (header included), once its header was read; 0 before. */
  #need = 0;
  #error: string | undefined;

  /** Creates a reader with the bound and kind filter of `options`. */
  public constructor(options: PeerFrameReaderOptions) {
    this.#max = options.maxFrameSize;
    this.#accepts = options.accepts ?? ((): boolean => true);
  }

  /** Bytes received that do not yet make a whole frame (a truncated frame if the stream ends now). */
  public get pending(): number {
    return this.#size;
  }

  /** The error that ended the stream, if any. */
  public get error(): string | undefined {
    return this.#error;
  }

  /**
   * Adds received bytes; returns the frames they complete, or the error that ends the stream. The
   * chunks of a frame are kept as they came and joined once — when its header is complete and when
   * the whole frame is — so a large frame sent in small pieces costs linear work, not a copy of the
   * whole partial frame per piece.
   */
  public push(chunk: Uint8Array): PeerFrameBatch {
    if (this.#error !== undefined) return { frames: [], error: this.#error };
    if (chunk.byteLength > 0) {
      this.#chunks.push(Buffer.from(chunk));
      this.#size += chunk.byteLength;
    }
    const frames: PeerFrame[] = [];
    for (;;) {
      if (this.#need === 0) {
        if (this.#size < PEER_FRAME_HEADER_SIZE) break;
        const head = this.#joined();
        const kind = head.readUInt32LE(0);
        const length = head.readUInt32LE(4);
        if (!this.#accepts(kind)) return this.#fail(frames, `unknown frame kind ${kind}`);
        if (length > this.#max) {
          return this.#fail(frames, `frame length ${length} exceeds the bound ${this.#max}`);
        }
        this.#need = PEER_FRAME_HEADER_SIZE + length;
      }
      if (this.#size < this.#need) break;
      const bytes = this.#joined();
      frames.push({
        kind: bytes.readUInt32LE(0),
        payload: new Uint8Array(bytes.subarray(PEER_FRAME_HEADER_SIZE, this.#need)),
      });
      const rest = bytes.subarray(this.#need);
      this.#chunks.length = 0;
      if (rest.byteLength > 0) this.#chunks.push(rest);
      this.#size = rest.byteLength;
      this.#need = 0;
    }
    return { frames };
  }

  /** Every buffered byte as one buffer (joining the chunks, once, when there are several). */
  #joined(): Buffer {
    if (this.#chunks.length !== 1) {
      const all = Buffer.concat(this.#chunks, this.#size);
      this.#chunks.length = 0;
      this.#chunks.push(all);
    }
    return this.#chunks[0] as Buffer;
  }

  #fail(frames: PeerFrame[], error: string): PeerFrameBatch {
    this.#error = error;
    this.#chunks.length = 0;
    this.#size = 0;
    this.#need = 0;
    return { frames, error };
  }
}
