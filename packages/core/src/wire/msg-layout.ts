import { ScmiMalformedError } from '../errors/scmi-error.js';
import { unpackHeader, type ScmiHeader } from './header.js';

/** Bytes of the header word in the MSG layout. */
export const MSG_HEADER_SIZE = 4;
/** Bytes of the status word that starts every response. */
export const MSG_STATUS_SIZE = 4;

/**
 * Encodes a message in the MSG layout (Linux `msg.c`, used by virtio and OP-TEE MSG): `le32 header`
 * followed by the payload. Used for commands, delayed responses and notifications.
 *
 * @example
 * ```ts
 * const bytes = encodeMsg(header, new Uint8Array([1, 0, 0, 0]));
 * ```
 */
export function encodeMsg(header: number, payload: Uint8Array = EMPTY): Uint8Array {
  const out = new Uint8Array(MSG_HEADER_SIZE + payload.byteLength);
  out[0] = header;
  out[1] = header >>> 8;
  out[2] = header >>> 16;
  out[3] = header >>> 24;
  if (payload.byteLength !== 0) out.set(payload, MSG_HEADER_SIZE);
  return out;
}

/**
 * Encodes a response in the MSG layout: `le32 header`, `le32 status`, return values.
 *
 * @example
 * ```ts
 * encodeMsgResponse(header, ScmiStatus.SUCCESS, versionBytes);
 * ```
 */
export function encodeMsgResponse(
  header: number,
  status: number,
  returns: Uint8Array = EMPTY,
): Uint8Array {
  const n = returns.byteLength;
  const out = new Uint8Array(MSG_HEADER_SIZE + MSG_STATUS_SIZE + n);
  // Byte stores rather than a DataView: one response per command, and a DataView (with the
  // buffer it materialises) costs several times the rest of the encoding.
  out[0] = header;
  out[1] = header >>> 8;
  out[2] = header >>> 16;
  out[3] = header >>> 24;
  out[4] = status;
  out[5] = status >> 8;
  out[6] = status >> 16;
  out[7] = status >> 24;
  if (n !== 0) out.set(returns, MSG_HEADER_SIZE + MSG_STATUS_SIZE);
  return out;
}

/** A decoded MSG-layout message: the header and a view of the payload. */
export interface DecodedMsg {
  /** The raw header word. */
  readonly headerWord: number;
  /** The unpacked header. */
  readonly header: ScmiHeader;
  /** The payload after the header (a view, not a copy). */
  readonly payload: Uint8Array;
}

/**
 * Decodes an MSG-layout message.
 *
 * The payload is a view of `bytes` (not copied), possibly empty; the header type is not checked
 * against any direction (a command, delayed response or notification all decode).
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when shorter than a header, `E_HEADER` for a bad header.
 * @example
 * ```ts
 * const msg = decodeMsg(encodeMsg(0x00144006, new Uint8Array(4))); // BASE_DISCOVER_LIST_PROTOCOLS
 * msg.header.messageId; // 6
 * msg.header.token; // 5
 * msg.payload.byteLength; // 4: the skip parameter
 * ```
 */
export function decodeMsg(bytes: Uint8Array): DecodedMsg {
  if (bytes.byteLength < MSG_HEADER_SIZE) {
    throw new ScmiMalformedError(
      `message of ${bytes.byteLength} byte(s) has no header`,
      'E_TRUNCATED',
    );
  }
  const headerWord = readU32(bytes, 0);
  return { headerWord, header: unpackHeader(headerWord), payload: bytes.subarray(MSG_HEADER_SIZE) };
}

/** A decoded MSG-layout response. */
export interface DecodedMsgResponse extends DecodedMsg {
  /** The status word. */
  readonly status: number;
  /** The return values after the status (a view). */
  readonly returns: Uint8Array;
}

/**
 * Decodes an MSG-layout response (header, status, return values).
 *
 * The status is read signed and not checked (see {@link isKnownScmiStatus}); `returns` is a view
 * of `bytes`, empty when the response is only the status.
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when shorter than header + status, `E_HEADER` for a
 * bad header (as {@link decodeMsg}).
 * @example
 * ```ts
 * const r = decodeMsgResponse(encodeMsgResponse(0x00144000, 0, new Uint8Array([0, 0, 2, 0])));
 * r.status; // 0: SUCCESS
 * readU32(r.returns, 0); // 0x20000: Base protocol version 2.0
 * decodeMsgResponse(encodeMsgResponse(0x00144000, ScmiStatus.NOT_SUPPORTED)).status; // -1
 * ```
 */
export function decodeMsgResponse(bytes: Uint8Array): DecodedMsgResponse {
  const msg = decodeMsg(bytes);
  if (msg.payload.byteLength < MSG_STATUS_SIZE) {
    throw new ScmiMalformedError(
      `response of ${bytes.byteLength} byte(s) has no status`,
      'E_TRUNCATED',
    );
  }
  return {
    ...msg,
    status: readI32(bytes, MSG_HEADER_SIZE),
    returns: bytes.subarray(MSG_HEADER_SIZE + MSG_STATUS_SIZE),
  };
}

/**
 * Reads a little-endian u32 at `offset` (caller checks bounds).
 *
 * Never throws: a byte past the end of `bytes` reads as 0.
 *
 * @example
 * ```ts
 * readU32(new Uint8Array([0, 0, 2, 0]), 0); // 0x20000: a PROTOCOL_VERSION return of 2.0
 * readU32(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0); // 0xffffffff (unsigned)
 * ```
 */
export function readU32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] as number) |
      ((bytes[offset + 1] as number) << 8) |
      ((bytes[offset + 2] as number) << 16) |
      ((bytes[offset + 3] as number) << 24)) >>>
    0
  );
}

/**
 * Reads a little-endian i32 at `offset` (caller checks bounds).
 *
 * Never throws: a byte past the end of `bytes` reads as 0.
 *
 * @example
 * ```ts
 * const response = encodeMsgResponse(0x00144000, ScmiStatus.NOT_SUPPORTED);
 * readI32(response, 4); // -1: NOT_SUPPORTED
 * readU32(response, 4); // 0xffffffff
 * ```
 */
export function readI32(bytes: Uint8Array, offset: number): number {
  return readU32(bytes, offset) | 0;
}

/**
 * Writes a little-endian u32 at `offset` (caller checks bounds).
 *
 * Never throws: `value` is cut to its low 32 bits (−1 writes `ff ff ff ff`), and a byte past the
 * end of `bytes` is silently dropped.
 *
 * @example
 * ```ts
 * const params = new Uint8Array(4); // NEGOTIATE_PROTOCOL_VERSION(version)
 * writeU32(params, 0, 0x20000);
 * params; // Uint8Array [0, 0, 2, 0]
 * ```
 */
export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = (value >>> 16) & 0xff;
  bytes[offset + 3] = (value >>> 24) & 0xff;
}

const EMPTY = new Uint8Array(0);
