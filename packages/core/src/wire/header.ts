import type { BadMessageReason } from '../channel/transport.js';
import { ScmiMalformedError } from '../errors/scmi-error.js';

/**
 * SCMI message types (header bits 9:8). Type 1 is unused by the specification.
 *
 * @example
 * ```ts
 * headerType(word) === ScmiMessageType.NOTIFICATION;
 * ```
 */
export enum ScmiMessageType {
  /** A command from the agent; its response carries the same header. */
  COMMAND = 0,
  /** The delayed response to an asynchronous command (same token as the command). */
  DELAYED_RESPONSE = 2,
  /** A platform notification. */
  NOTIFICATION = 3,
}

/** The fields of an SCMI message header. */
export interface ScmiHeader {
  /** Bits 7:0. */
  readonly messageId: number;
  /** Bits 9:8: a {@link ScmiMessageType} (0, 2 or 3 once validated). */
  readonly type: number;
  /** Bits 17:10. */
  readonly protocolId: number;
  /** Bits 27:18: the agent-chosen sequence number, echoed by the platform. */
  readonly token: number;
}

/** Number of distinct tokens (10 bits). */
export const SCMI_TOKEN_COUNT = 1024;
/** Mask of header bits 31:28, reserved: they must be zero. */
export const SCMI_HEADER_RESERVED_MASK = 0xf0000000;

/**
 * Packs header fields into a 32-bit word (Linux `pack_scmi_header`).
 *
 * @throws ScmiMalformedError `E_FIELD_RANGE` when a field does not fit its bits, or the type is 1.
 * @example
 * ```ts
 * packHeader({ messageId: 0, type: ScmiMessageType.COMMAND, protocolId: 0x10, token: 5 }); // 0x00144000
 * ```
 */
export function packHeader(h: ScmiHeader): number {
  checkField('messageId', h.messageId, 0xff);
  checkField('protocolId', h.protocolId, 0xff);
  checkField('token', h.token, 0x3ff);
  if (!VALID_TYPES.has(h.type)) {
    throw new ScmiMalformedError(`header type ${String(h.type)} is not 0, 2 or 3`, 'E_FIELD_RANGE');
  }
  return buildHeader(h.messageId, h.type, h.protocolId, h.token);
}

/**
 * Packs header fields without checks; fields must already be in range. For hot paths.
 *
 * Never throws: each field is masked to its bits, so an out-of-range value is silently cut (a
 * token of 1029 packs as token 5); use {@link packHeader} to have the fields checked.
 *
 * @example
 * ```ts
 * buildHeader(0, ScmiMessageType.COMMAND, 0x10, 5); // 0x00144000: Base PROTOCOL_VERSION, token 5
 * buildHeader(0, ScmiMessageType.COMMAND, 0x10, 1029); // 0x00144000 too: token cut to 10 bits
 * ```
 */
export function buildHeader(
  messageId: number,
  type: number,
  protocolId: number,
  token: number,
): number {
  return (
    ((messageId & 0xff) |
      ((type & 0x3) << 8) |
      ((protocolId & 0xff) << 10) |
      ((token & 0x3ff) << 18)) >>>
    0
  );
}

const VALID_TYPES: ReadonlySet<number> = new Set([
  ScmiMessageType.COMMAND,
  ScmiMessageType.DELAYED_RESPONSE,
  ScmiMessageType.NOTIFICATION,
]);

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new ScmiMalformedError(`header ${name} ${value} out of range 0..${max}`, 'E_FIELD_RANGE');
  }
}

/**
 * Bits 7:0 of a header word: the message id.
 *
 * The word is not validated (see {@link headerDefect}); never throws.
 *
 * @example
 * ```ts
 * headerMessageId(0x00144003); // 3: BASE_DISCOVER_VENDOR
 * ```
 */
export function headerMessageId(word: number): number {
  return word & 0xff;
}

/**
 * Bits 9:8 of a header word: the {@link ScmiMessageType}.
 *
 * The word is not validated: the unused type 1 is returned as is ({@link headerDefect} reports it).
 *
 * @example
 * ```ts
 * headerType(0x00144000); // 0: ScmiMessageType.COMMAND (or its response)
 * headerType(0x00004700); // 3: ScmiMessageType.NOTIFICATION (Power domain, message 0)
 * ```
 */
export function headerType(word: number): number {
  return (word >>> 8) & 0x3;
}

/**
 * Bits 17:10 of a header word: the protocol id.
 *
 * The word is not validated (see {@link headerDefect}); never throws.
 *
 * @example
 * ```ts
 * headerProtocolId(0x00144000); // 0x10: ScmiProtocolId.BASE
 * ```
 */
export function headerProtocolId(word: number): number {
  return (word >>> 10) & 0xff;
}

/**
 * Bits 27:18 of a header word: the token (0 … 1023).
 *
 * The word is not validated (see {@link headerDefect}): reserved bits 31:28 are simply left out.
 *
 * @example
 * ```ts
 * headerToken(0x00144000); // 5
 * headerToken(0xf0144000); // 5 as well: the reserved bits are not part of it
 * ```
 */
export function headerToken(word: number): number {
  return (word >>> 18) & 0x3ff;
}

/**
 * Why a received header word is invalid, or `undefined` when it is valid: reserved bits 31:28
 * must be zero and the type must be 0, 2 or 3. Allocation-free, for the RX path.
 *
 * @example
 * ```ts
 * headerDefect(0x00144000); // undefined: a valid Base PROTOCOL_VERSION header, token 5
 * headerDefect(0x10144000); // 'reserved-bits'
 * headerDefect(0x00144100); // 'unknown-type' (type 1)
 * ```
 */
export function headerDefect(word: number): 'reserved-bits' | 'unknown-type' | undefined {
  if ((word & SCMI_HEADER_RESERVED_MASK) !== 0) return 'reserved-bits';
  if (headerType(word) === 1) return 'unknown-type';
  return undefined;
}

/**
 * Whether `word` is a command a platform answers: a valid header (see {@link headerDefect}) of
 * type 0. Platform sides drop anything else, and give its buffer back unanswered.
 *
 * @example
 * ```ts
 * if (!isCommandHeader(area.header())) refuse(area); // reserved bits, or not a command
 * ```
 */
export function isCommandHeader(word: number): boolean {
  return headerDefect(word) === undefined && headerType(word) === ScmiMessageType.COMMAND;
}

/**
 * Whether header words `a` and `b` name the same command: the same token, protocol id and
 * message id. The type and the reserved bits are not compared, so that a response whose type a
 * fault rule rewrote still matches its command (for the agent to reject). For platform sides that
 * pair a response the platform sends later with the command it answers.
 *
 * @example
 * ```ts
 * sameCommandHeader(buildHeader(3, 0, 0x10, 7), buildHeader(3, 2, 0x10, 7)); // true
 * ```
 */
export function sameCommandHeader(a: number, b: number): boolean {
  return (
    headerToken(a) === headerToken(b) &&
    headerProtocolId(a) === headerProtocolId(b) &&
    headerMessageId(a) === headerMessageId(b)
  );
}

/**
 * What is wrong with the header of a reply a transport found in the place of a command's response
 * (its SMT area, its virtio buffer, its OP-TEE memref), classified as core classifies a reply on
 * the doorbell path: `undefined` when it is the command's header, `unknown` for the unused type
 * 1, `unexpected` for a valid header with another token, `invalid` for anything else (reserved
 * bits, another protocol or message, another type). For transports that match a reply to its
 * command by where it is rather than by token, and so must check the header themselves.
 *
 * @example
 * ```ts
 * const reason = replyHeaderDefect(area.header(), xfer.header);
 * if (reason !== undefined) setup.sink.badMessage(reason);
 * ```
 */
export function replyHeaderDefect(got: number, want: number): BadMessageReason | undefined {
  if (got === want) return undefined;
  const defect = headerDefect(got);
  if (defect === 'unknown-type') return 'unknown';
  if (defect === undefined && headerToken(got) !== headerToken(want)) return 'unexpected';
  return 'invalid';
}

/**
 * Unpacks a received header word, rejecting reserved bits and the unused type 1.
 *
 * @throws ScmiMalformedError `E_HEADER` when the word is not a valid header.
 * @example
 * ```ts
 * const { protocolId, token } = unpackHeader(0x00144000);
 * ```
 */
export function unpackHeader(word: number): ScmiHeader {
  if (!Number.isInteger(word) || word < 0 || word > 0xffffffff) {
    throw new ScmiMalformedError(`header ${word} is not a 32-bit word`, 'E_HEADER');
  }
  const defect = headerDefect(word);
  if (defect !== undefined) {
    throw new ScmiMalformedError(`header 0x${word.toString(16)}: ${defect}`, 'E_HEADER');
  }
  return {
    messageId: headerMessageId(word),
    type: headerType(word),
    protocolId: headerProtocolId(word),
    token: headerToken(word),
  };
}
