import { ScmiMalformedError } from '../errors/scmi-error.js';

/**
 * A bounds-checked little-endian reader over an SCMI payload. Reading past the end throws
 * {@link ScmiMalformedError} `E_TRUNCATED` — never returns `undefined` or garbage.
 *
 * @example
 * ```ts
 * const r = new PayloadReader(returns);
 * const attributes = r.u32();
 * const name = r.string(16);
 * ```
 */
export class PayloadReader {
  // Byte access, no DataView: a DataView needs `bytes.buffer`, and taking the buffer of a small
  // on-heap typed array makes V8 move its bytes off the heap — more than the whole read costs.
  readonly #bytes: Uint8Array;
  #pos = 0;

  /** Reads `bytes` (a view; not copied). */
  public constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Bytes consumed so far. */
  public get offset(): number {
    return this.#pos;
  }

  /** Bytes left to read. */
  public get remaining(): number {
    return this.#bytes.byteLength - this.#pos;
  }

  /**
   * Checks that `n` more bytes can be read.
   *
   * @throws ScmiMalformedError `E_TRUNCATED` when fewer remain.
   */
  public need(n: number, what = 'field'): void {
    if (!Number.isInteger(n) || n < 0 || n > this.remaining) {
      throw new ScmiMalformedError(
        `payload truncated: ${what} needs ${n} byte(s) at offset ${this.#pos}, ${this.remaining} left`,
        'E_TRUNCATED',
      );
    }
  }

  /** Reads an unsigned byte. */
  public u8(): number {
    this.need(1, 'u8');
    return this.#bytes[this.#pos++] as number;
  }

  /** Reads a little-endian unsigned 16-bit word. */
  public u16(): number {
    this.need(2, 'u16');
    const b = this.#bytes;
    const p = this.#pos;
    this.#pos = p + 2;
    return (b[p] as number) | ((b[p + 1] as number) << 8);
  }

  /** Reads a little-endian unsigned 32-bit word. */
  public u32(): number {
    this.need(4, 'u32');
    const v = this.#word();
    return v >>> 0;
  }

  /** Reads a little-endian signed 32-bit word. */
  public i32(): number {
    this.need(4, 'i32');
    return this.#word();
  }

  /** The little-endian word at the position, as a signed 32-bit value; advances by 4. */
  #word(): number {
    const b = this.#bytes;
    const p = this.#pos;
    this.#pos = p + 4;
    return (
      (b[p] as number) |
      ((b[p + 1] as number) << 8) |
      ((b[p + 2] as number) << 16) |
      ((b[p + 3] as number) << 24)
    );
  }

  /**
   * Reads a 64-bit value stored as two little-endian words, low word first. Like every read, it
   * consumes nothing when it throws.
   */
  public u64(): bigint {
    this.need(8, 'u64');
    const low = this.u32();
    const high = this.u32();
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** Reads `n` bytes as a view (not copied). */
  public bytes(n: number): Uint8Array {
    this.need(n, 'bytes');
    const v = this.#bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  /**
   * Reads a fixed-size NUL-terminated ASCII field of `n` bytes (SCMI names are 16 or 64 bytes,
   * NUL included); the string ends at the first NUL, and holds at most `n − 1` characters: a field
   * with no NUL loses its last byte, as Linux copies names with `strscpy(dst, src, n)`. Each byte
   * is one character, as {@link decodeAsciiz}: a byte above 0x7F is kept as U+0080–U+00FF.
   *
   * @throws ScmiMalformedError `E_TRUNCATED` when fewer than `n` bytes remain (a short name field
   * is malformed, not an empty name).
   * @example
   * ```ts
   * new PayloadReader(Buffer.from('ABCDEFGHIJKLMNOP')).string(16); // 'ABCDEFGHIJKLMNO'
   * ```
   */
  public string(n: number): string {
    const field = this.bytes(n);
    return decodeAsciiz(field.subarray(0, Math.max(0, n - 1)));
  }

  /** Skips `n` bytes. */
  public skip(n: number): void {
    this.need(n, 'skip');
    this.#pos += n;
  }
}

/**
 * Decodes a NUL-terminated ASCII field, one character per byte; bytes after the first NUL are
 * ignored.
 *
 * SCMI names are ASCII. A platform that sends a byte above 0x7F anyway gets it back as the
 * character of the same value (U+0080–U+00FF, Latin-1): nothing is replaced or merged, so the
 * string holds exactly the bytes on the wire (Linux copies them as they are, with `strscpy`).
 * Decoding as UTF-8 instead would turn a stray byte into U+FFFD and a valid multi-byte sequence
 * into one character, and the bytes could not be recovered. Never throws: a field with no NUL
 * decodes whole (unlike {@link PayloadReader.string}, which keeps at most `n − 1` characters), an
 * empty one gives `''`.
 *
 * @example
 * ```ts
 * decodeAsciiz(Buffer.from('scmi-ts\0\0\0\0\0\0\0\0\0')); // 'scmi-ts': a 16-byte vendor name
 * decodeAsciiz(Buffer.from('ABCD')); // 'ABCD'
 * decodeAsciiz(Uint8Array.of(0x41, 0xe9, 0)); // 'A\u00e9': the byte 0xE9, as it came
 * ```
 */
export function decodeAsciiz(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.buffer, bytes.byteOffset, end < 0 ? bytes.byteLength : end).toString(
    'latin1',
  );
}

/**
 * A bounds-checked little-endian writer for SCMI payloads, into a fixed-capacity buffer.
 * Writing past the capacity throws {@link ScmiMalformedError} `E_OVERFLOW`.
 *
 * @example
 * ```ts
 * const w = new PayloadWriter(8);
 * w.u32(clockId).u32(rateIndex);
 * send(w.bytesWritten());
 * ```
 */
export class PayloadWriter {
  // Byte stores, no DataView (see PayloadReader).
  readonly #bytes: Uint8Array;
  #pos = 0;

  /** Writes into `target`, or into a new buffer of `target` bytes. */
  public constructor(target: Uint8Array | number) {
    this.#bytes = typeof target === 'number' ? new Uint8Array(target) : target;
  }

  /** Bytes written so far. */
  public get length(): number {
    return this.#pos;
  }

  #room(n: number, what: string): void {
    if (this.#pos + n > this.#bytes.byteLength) {
      throw new ScmiMalformedError(
        `payload overflow: ${what} needs ${n} byte(s) at offset ${this.#pos}, capacity ${this.#bytes.byteLength}`,
        'E_OVERFLOW',
      );
    }
  }

  /** Writes an unsigned byte (masked to 8 bits). */
  public u8(v: number): this {
    this.#room(1, 'u8');
    this.#bytes[this.#pos++] = v;
    return this;
  }

  /** Writes a little-endian unsigned 16-bit word. */
  public u16(v: number): this {
    this.#room(2, 'u16');
    const b = this.#bytes;
    const p = this.#pos;
    b[p] = v;
    b[p + 1] = v >>> 8;
    this.#pos = p + 2;
    return this;
  }

  /** Writes a little-endian unsigned 32-bit word (values are taken modulo 2^32). */
  public u32(v: number): this {
    this.#room(4, 'u32');
    this.#put(v);
    return this;
  }

  /** Writes a little-endian signed 32-bit word. */
  public i32(v: number): this {
    this.#room(4, 'i32');
    this.#put(v);
    return this;
  }

  /** Stores the low 32 bits of `v` little-endian at the position; advances by 4. */
  #put(v: number): void {
    const b = this.#bytes;
    const p = this.#pos;
    b[p] = v;
    b[p + 1] = v >>> 8;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 24;
    this.#pos = p + 4;
  }

  /** Writes a 64-bit value as two little-endian words, low word first; all or nothing. */
  public u64(v: bigint | number): this {
    this.#room(8, 'u64');
    const big = BigInt.asUintN(64, BigInt(v));
    this.u32(Number(big & 0xffffffffn));
    return this.u32(Number(big >> 32n));
  }

  /** Writes raw bytes. */
  public bytes(src: Uint8Array): this {
    this.#room(src.byteLength, 'bytes');
    this.#bytes.set(src, this.#pos);
    this.#pos += src.byteLength;
    return this;
  }

  /**
   * Writes `s` as a NUL-padded field of exactly `n` bytes: one byte per character, at most
   * `n − 1` of them, then NULs. What {@link PayloadReader.string} reads back is `s` cut there (and
   * at a NUL in `s`).
   *
   * @throws ScmiMalformedError `E_FIELD_RANGE` when `n` is not an integer ≥ 1 (no room for the
   * NUL), or when a character to be written is above U+00FF (it is not one byte: SCMI names are
   * ASCII, and U+0080–U+00FF write the byte of the same value, for a test that needs one);
   * `E_OVERFLOW` when the field does not fit. Nothing is written then.
   * @example
   * ```ts
   * new PayloadWriter(16).string('scmi-ts', 16); // 'scmi-ts' and 9 NULs
   * ```
   */
  public string(s: string, n: number): this {
    if (!Number.isInteger(n) || n < 1) {
      throw new ScmiMalformedError(`string field size ${n} cannot hold a NUL`, 'E_FIELD_RANGE');
    }
    this.#room(n, 'string');
    const length = Math.min(s.length, n - 1);
    for (let i = 0; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {
        throw new ScmiMalformedError(
          `string field: character U+${c.toString(16).toUpperCase().padStart(4, '0')} at ${i} is not one byte (SCMI names are ASCII)`,
          'E_FIELD_RANGE',
        );
      }
    }
    const at = this.#pos;
    this.#bytes.fill(0, at, at + n);
    for (let i = 0; i < length; i++) this.#bytes[at + i] = s.charCodeAt(i);
    this.#pos += n;
    return this;
  }

  /** The written bytes, as a view of the buffer. */
  public bytesWritten(): Uint8Array {
    return this.#bytes.subarray(0, this.#pos);
  }
}
