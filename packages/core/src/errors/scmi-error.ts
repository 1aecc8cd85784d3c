import { CommonMessageId, scmiProtocolName } from '../wire/protocol-id.js';
import { scmiStatusName } from '../wire/status.js';

const SCMI_ERROR = Symbol.for('@scmi-ts/core/ScmiError');

/**
 * The root of every error core throws: a stable string `code`, a brand that survives duplicated
 * copies of the package, a static `is()`, and the underlying error as `cause`.
 *
 * Subclasses: {@link ScmiStatusError}, {@link ScmiTimeoutError}, {@link ScmiTransportError},
 * {@link ScmiMalformedError}, {@link ScmiShutdownError}, {@link ScmiConfigError}. Using a removed agent
 * throws devres's `RevokedError`, re-exported here.
 *
 * @example
 * ```ts
 * try { await agent.base.discoverVendor(); } catch (e) {
 *   if (ScmiError.is(e)) console.log(e.code);
 * }
 * ```
 */
export class ScmiError extends Error {
  /** What went wrong, as a stable string (e.g. `E_TIMEOUT`). */
  public readonly code: string;
  /** @internal */
  public readonly [SCMI_ERROR] = true;

  /** Creates an error with a code; `options.cause` chains the underlying error. */
  public constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /** True when `value` is an {@link ScmiError} (any subclass, any copy of this package). */
  public static is(value: unknown): value is ScmiError {
    return typeof value === 'object' && value !== null && SCMI_ERROR in value;
  }
}

/** Where in the protocol stack a message belongs, for error messages. */
export interface MessageRef {
  /** The protocol id (0x10 Base, 0x14 Clock, …). */
  readonly protocolId: number;
  /** The message id within the protocol. */
  readonly messageId: number;
  /** The command's name, when its protocol driver names it (`ProtocolDriver.messageNames`). */
  readonly messageName?: string | undefined;
  /**
   * A vendor protocol's name, its driver's `name` (`0x82 (acme-bbm) message 0x3`): a vendor id
   * alone says nothing of what the protocol is.
   */
  readonly protocolName?: string | undefined;
}

/**
 * `clock message 0x6 RATE_GET`: the message's name as its driver gives it, or the name of a message
 * every protocol has (`base message 0x0 PROTOCOL_VERSION`), or none (`clock message 0x6`) — what a
 * reader of a log needs to tell one failed command from another.
 */
function describe(ref: MessageRef): string {
  const name =
    ref.messageName ??
    (CommonMessageId as unknown as Record<number, string | undefined>)[ref.messageId];
  const protocol =
    ref.protocolName === undefined
      ? scmiProtocolName(ref.protocolId)
      : `${scmiProtocolName(ref.protocolId)} (${ref.protocolName})`;
  return `${protocol} message 0x${ref.messageId.toString(16)}${name === undefined ? '' : ` ${name}`}`;
}

const STATUS_ERROR = Symbol.for('@scmi-ts/core/ScmiStatusError');

/**
 * The platform answered with a status other than SUCCESS.
 *
 * @example
 * ```ts
 * catch (e) {
 *   if (ScmiStatusError.is(e) && e.status === ScmiStatus.NOT_FOUND) console.log(e.message);
 * }
 * ```
 */
export class ScmiStatusError extends ScmiError {
  /** The status the platform returned (compare with {@link ScmiStatus}; may be outside the table). */
  public readonly status: number;
  /** The protocol id of the failed message. */
  public readonly protocolId: number;
  /** The message id of the failed message. */
  public readonly messageId: number;
  /** Its name, when its protocol driver names its messages; otherwise undefined. */
  public readonly messageName: string | undefined;
  /** @internal */
  public readonly [STATUS_ERROR] = true;

  /** Creates the error for `status` answered to the message `ref`. */
  public constructor(status: number, ref: MessageRef) {
    super('E_STATUS', `${describe(ref)} failed: ${scmiStatusName(status)} (${status})`);
    this.status = status;
    this.protocolId = ref.protocolId;
    this.messageId = ref.messageId;
    this.messageName = ref.messageName;
  }

  /** True when `value` is an {@link ScmiStatusError}. */
  public static override is(value: unknown): value is ScmiStatusError {
    return typeof value === 'object' && value !== null && STATUS_ERROR in value;
  }
}

const TIMEOUT_ERROR = Symbol.for('@scmi-ts/core/ScmiTimeoutError');

/**
 * No response (or no delayed response) arrived in time. The transfer's token is retired; a reply
 * that arrives later is dropped and counted as a late reply.
 *
 * @example
 * ```ts
 * catch (e) { if (ScmiTimeoutError.is(e)) console.log(`token ${e.token} after ${e.timeoutMs} ms`); }
 * ```
 */
export class ScmiTimeoutError extends ScmiError {
  /** The protocol id of the message. */
  public readonly protocolId: number;
  /** The message id of the message. */
  public readonly messageId: number;
  /** Its name, when its protocol driver names its messages; otherwise undefined. */
  public readonly messageName: string | undefined;
  /** The token the message carried. */
  public readonly token: number;
  /** The timeout that expired, in ms. */
  public readonly timeoutMs: number;
  /** Which reply was missing. */
  public readonly phase: 'response' | 'delayed-response';
  /** @internal */
  public readonly [TIMEOUT_ERROR] = true;

  /** Creates the error for the message `ref` sent with `token`. */
  public constructor(
    ref: MessageRef,
    token: number,
    timeoutMs: number,
    phase: 'response' | 'delayed-response' = 'response',
  ) {
    super(
      'E_TIMEOUT',
      `${describe(ref)} (token ${token}): no ${phase.replace('-', ' ')} after ${timeoutMs} ms`,
    );
    this.protocolId = ref.protocolId;
    this.messageId = ref.messageId;
    this.messageName = ref.messageName;
    this.token = token;
    this.timeoutMs = timeoutMs;
    this.phase = phase;
  }

  /** True when `value` is an {@link ScmiTimeoutError}. */
  public static override is(value: unknown): value is ScmiTimeoutError {
    return typeof value === 'object' && value !== null && TIMEOUT_ERROR in value;
  }
}

const TRANSPORT_ERROR = Symbol.for('@scmi-ts/core/ScmiTransportError');

/**
 * A transport failed: channel setup, a busy channel that never became free, a doorbell that
 * could not ring, a feature the transport lacks (`E_NOT_SUPPORTED`). `code` names the failure.
 *
 * @example
 * ```ts
 * throw new ScmiTransportError('E_CHAN_BUSY', 'a2p:0 stayed busy for 60 ms');
 * ```
 */
export class ScmiTransportError extends ScmiError {
  /** @internal */
  public readonly [TRANSPORT_ERROR] = true;

  /** True when `value` is an {@link ScmiTransportError}. */
  public static override is(value: unknown): value is ScmiTransportError {
    return typeof value === 'object' && value !== null && TRANSPORT_ERROR in value;
  }
}

const MALFORMED_ERROR = Symbol.for('@scmi-ts/core/ScmiMalformedError');

/**
 * Bytes that do not form a valid SCMI message: reserved header bits set, a payload read past its
 * end, a length field out of range. Hostile input from the other side of a transport always ends
 * here (or in a bad-message counter), never in a crash or an out-of-bounds read.
 *
 * @example
 * ```ts
 * catch (e) { if (ScmiMalformedError.is(e)) console.log(e.message); }
 * ```
 */
export class ScmiMalformedError extends ScmiError {
  /** @internal */
  public readonly [MALFORMED_ERROR] = true;
  /**
   * The protocol whose reply it was, when the error came out of a protocol handle's `decode` (or
   * `malformed`); undefined for bytes no command is known for (a header, a transport's frame).
   */
  public readonly protocolId: number | undefined;
  /**
   * The command whose reply it was, when `decode` read the reply its handle's `transact` gave
   * last (what a driver does right after it) or a part of `iterate`; otherwise undefined.
   */
  public readonly messageId: number | undefined;
  /** The token that command carried, when known (see `messageId`); otherwise undefined. */
  public readonly token: number | undefined;
  /** That command's name, when `messageId` is known and its driver names it; else undefined. */
  public readonly messageName: string | undefined;

  /** Creates the error; `code` defaults to `E_MALFORMED`. */
  public constructor(message: string, code = 'E_MALFORMED', options?: ErrorOptions) {
    super(code, message, options);
  }

  /** True when `value` is an {@link ScmiMalformedError}. */
  public static override is(value: unknown): value is ScmiMalformedError {
    return typeof value === 'object' && value !== null && MALFORMED_ERROR in value;
  }
}

/** @internal The command a malformed reply answered (see {@link placeMalformed}). */
export interface MalformedCommand {
  readonly messageId: number;
  /** Its name, when its driver names it (`ProtocolDriver.messageNames`). */
  readonly messageName?: string | undefined;
  /** A vendor protocol's driver name (see {@link MessageRef.protocolName}). */
  readonly protocolName?: string | undefined;
  /** Unknown when another command was answered before the reply was read. */
  readonly token?: number | undefined;
}

/**
 * Says whose reply a malformed error is about — the protocol, and the command and its token when
 * known — in its fields and at the head of its message (`clock message 0x6 (token 35): payload
 * truncated: …`), as a timeout or an error status names its command. An error placed already
 * keeps its place (the innermost `decode` knows the most).
 *
 * @internal
 */
export function placeMalformed(
  error: ScmiMalformedError,
  protocolId: number,
  command?: MalformedCommand,
): void {
  if (error.protocolId !== undefined) return;
  const where =
    command === undefined
      ? scmiProtocolName(protocolId)
      : `${describe({ protocolId, ...command })}${command.token === undefined ? '' : ` (token ${command.token})`}`;
  const old = `${error.name}: ${error.message}`;
  const placed = error as {
    -readonly [K in 'protocolId' | 'messageId' | 'token']: number | undefined;
  } & { messageName: string | undefined };
  placed.protocolId = protocolId;
  placed.messageId = command?.messageId;
  placed.token = command?.token;
  placed.messageName = command?.messageName;
  error.message = `${where}: ${error.message}`;
  // The stack was captured with the old message: its first line says the new one.
  if (error.stack?.startsWith(old) === true) {
    error.stack = `${error.name}: ${error.message}${error.stack.slice(old.length)}`;
  }
}

const SHUTDOWN_ERROR = Symbol.for('@scmi-ts/core/ScmiShutdownError');

/**
 * The agent is being removed (or its probe failed) while the transfer was in flight or waiting
 * for a free transfer. Its caller gets this promptly instead of hanging.
 *
 * @example
 * ```ts
 * catch (e) { if (!ScmiShutdownError.is(e)) throw e; } // else the agent went away: nothing to do
 * ```
 */
export class ScmiShutdownError extends ScmiError {
  /** @internal */
  public readonly [SHUTDOWN_ERROR] = true;

  /** Creates the error for the named agent. */
  public constructor(agent: string, what = 'transfer') {
    super('E_SHUTDOWN', `${agent}: ${what} aborted: the agent is shutting down`);
  }

  /** True when `value` is an {@link ScmiShutdownError}. */
  public static override is(value: unknown): value is ScmiShutdownError {
    return typeof value === 'object' && value !== null && SHUTDOWN_ERROR in value;
  }
}

const CONFIG_ERROR = Symbol.for('@scmi-ts/core/ScmiConfigError');

/**
 * A configuration object is invalid; `field` is the dotted path of the offending field.
 *
 * @example
 * ```ts
 * catch (e) { if (ScmiConfigError.is(e)) console.log(e.field); } // 'a2p[1].protocols[0]'
 * ```
 */
export class ScmiConfigError extends ScmiError {
  /** Dotted path of the invalid field, e.g. `a2p[0].id`. */
  public readonly field: string;
  /** @internal */
  public readonly [CONFIG_ERROR] = true;

  /** Creates the error for `field`. */
  public constructor(field: string, message: string) {
    super('E_CONFIG', `invalid configuration: ${field}: ${message}`);
    this.field = field;
  }

  /** True when `value` is an {@link ScmiConfigError}. */
  public static override is(value: unknown): value is ScmiConfigError {
    return typeof value === 'object' && value !== null && CONFIG_ERROR in value;
  }
}
