import {
  ScmiConfigError,
  ScmiError,
  ScmiMalformedError,
  ScmiShutdownError,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
} from '../errors/scmi-error.js';

/**
 * The control messages between {@link WorkerHost} and {@link serveWorker}, on the worker's own
 * port. Every one carries the {@link CONTROL} key, so that an application's messages on the same
 * port are left alone. Internal: not exported from the package.
 */

/** The key that marks a control message (messages are structured-cloned: no symbols). */
export const CONTROL = '__scmiWorker';

/** Which of core's error classes a serialized error was (by its brand), so the host rebuilds it. */
export type ScmiErrorKind =
  | 'ScmiError'
  | 'ScmiStatusError'
  | 'ScmiTimeoutError'
  | 'ScmiTransportError'
  | 'ScmiMalformedError'
  | 'ScmiShutdownError'
  | 'ScmiConfigError';

/**
 * An error as it crosses the thread boundary (structured clone keeps only an `Error`'s name,
 * message and stack, and of core's errors it makes plain `Error`s).
 */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
  /** The configuration field an `ScmiConfigError` names. */
  readonly field?: string;
  /** The core error class the worker threw (an `ScmiError` subclass of another package: its base). */
  readonly kind?: ScmiErrorKind;
  /** `ScmiStatusError`: the status. */
  readonly status?: number;
  /** `ScmiStatusError`, `ScmiTimeoutError`, a placed `ScmiMalformedError`: the protocol id. */
  readonly protocolId?: number;
  /** `ScmiStatusError`, `ScmiTimeoutError`, a placed `ScmiMalformedError`: the message id. */
  readonly messageId?: number;
  /** `ScmiStatusError`, `ScmiTimeoutError`, a placed `ScmiMalformedError`: the message's name. */
  readonly messageName?: string;
  /** `ScmiTimeoutError`, a placed `ScmiMalformedError`: the token. */
  readonly token?: number;
  /** `ScmiTimeoutError`: the timeout, ms. */
  readonly timeoutMs?: number;
  /** `ScmiTimeoutError`: which reply was missing. */
  readonly phase?: string;
  /** The error's `cause`, serialized too (up to {@link MAX_CAUSE_DEPTH} deep). */
  readonly cause?: SerializedError;
}

/** How many `cause`s deep an error is serialized; deeper causes are left out. */
export const MAX_CAUSE_DEPTH = 4;

/** Host → worker. */
export type HostMessage =
  | {
      readonly [CONTROL]: 'call';
      readonly id: number;
      readonly method: string;
      readonly args: unknown[];
    }
  | { readonly [CONTROL]: 'stop' };

/** Worker → host. */
export type WorkerMessage =
  | { readonly [CONTROL]: 'ready' }
  | {
      readonly [CONTROL]: 'result';
      readonly id: number;
      readonly ok: true;
      readonly value: unknown;
    }
  | {
      readonly [CONTROL]: 'result';
      readonly id: number;
      readonly ok: false;
      readonly error: SerializedError;
    }
  | { readonly [CONTROL]: 'stopped'; readonly error?: SerializedError }
  /**
   * A message from the host failed to deserialize in the worker ('messageerror'): it may have
   * been a call, which the worker will never answer, so the host fails its pending calls.
   */
  | { readonly [CONTROL]: 'messageerror'; readonly error: SerializedError };

/** True when `msg` is a control message (of either direction). */
export function isControl(msg: unknown): msg is { readonly [CONTROL]: string } {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    typeof (msg as Record<string, unknown>)[CONTROL] === 'string'
  );
}

/** The fields of an error that are numbers when present. */
const NUMBER_FIELDS = ['status', 'protocolId', 'messageId', 'token', 'timeoutMs'] as const;
/** The fields of an error that are strings when present. */
const STRING_FIELDS = ['stack', 'code', 'field', 'phase', 'messageName'] as const;
const KINDS: ReadonlySet<string> = new Set<ScmiErrorKind>([
  'ScmiError',
  'ScmiStatusError',
  'ScmiTimeoutError',
  'ScmiTransportError',
  'ScmiMalformedError',
  'ScmiShutdownError',
  'ScmiConfigError',
]);

/**
 * True when `value` has the shape of a {@link SerializedError}: what {@link deserializeError}
 * needs. A worker's message is checked with it before it is trusted; a `cause` chain deeper than
 * {@link MAX_CAUSE_DEPTH} (which {@link serializeError} never sends) fails the check.
 */
export function isSerializedError(value: unknown, depth = 0): value is SerializedError {
  if (typeof value !== 'object' || value === null || depth > MAX_CAUSE_DEPTH) return false;
  const fields = value as Record<string, unknown>;
  const { name, message, kind, cause } = fields;
  return (
    typeof name === 'string' &&
    typeof message === 'string' &&
    STRING_FIELDS.every((f) => fields[f] === undefined || typeof fields[f] === 'string') &&
    NUMBER_FIELDS.every((f) => fields[f] === undefined || typeof fields[f] === 'number') &&
    (kind === undefined || (typeof kind === 'string' && KINDS.has(kind))) &&
    (cause === undefined || isSerializedError(cause, depth + 1))
  );
}

/** The core error class `error` is an instance of (by brand, so any copy of core), if any. */
function kindOf(error: unknown): ScmiErrorKind | undefined {
  if (!ScmiError.is(error)) return undefined;
  if (ScmiStatusError.is(error)) return 'ScmiStatusError';
  if (ScmiTimeoutError.is(error)) return 'ScmiTimeoutError';
  if (ScmiTransportError.is(error)) return 'ScmiTransportError';
  if (ScmiMalformedError.is(error)) return 'ScmiMalformedError';
  if (ScmiShutdownError.is(error)) return 'ScmiShutdownError';
  if (ScmiConfigError.is(error)) return 'ScmiConfigError';
  return 'ScmiError';
}

/**
 * Flattens a thrown value for postMessage: name, message, stack, a string `code` and `field`, the
 * fields of core's error classes (status, ids, token, timeout, phase) with the class itself as
 * `kind`, and the `cause` (serialized the same way, up to {@link MAX_CAUSE_DEPTH} deep). Never
 * throws, whatever was thrown: a value `String()` cannot convert (an object with no prototype) or
 * whose fields throw when read is described by `Object.prototype.toString` — a handler's careless
 * throw must fail its own call, not the worker.
 */
export function serializeError(error: unknown, depth = 0): SerializedError {
  try {
    // Duck-typed, so that errors of another realm (vm contexts) keep their fields.
    if (typeof error === 'object' && error !== null && 'message' in error) {
      const fields = error as Record<string, unknown>;
      const out: Record<string, unknown> = {
        name: typeof fields.name === 'string' ? fields.name : 'Error',
        message: String(fields.message),
      };
      for (const f of STRING_FIELDS) if (typeof fields[f] === 'string') out[f] = fields[f];
      for (const f of NUMBER_FIELDS) if (typeof fields[f] === 'number') out[f] = fields[f];
      const kind = kindOf(error);
      if (kind !== undefined) out.kind = kind;
      const cause = fields.cause;
      if (cause !== undefined && depth < MAX_CAUSE_DEPTH) {
        out.cause = serializeError(cause, depth + 1);
      }
      return out as unknown as SerializedError;
    }
    return { name: 'Error', message: String(error) };
  } catch {
    return { name: 'Error', message: Object.prototype.toString.call(error) };
  }
}

/**
 * The core error of `e.kind`, rebuilt by its constructor from the serialized fields (so that
 * `instanceof` and the `is()` brands hold on the host), or `undefined` when `e` names no kind or
 * lacks a field its constructor needs.
 */
function rebuildScmiError(e: SerializedError): ScmiError | undefined {
  const code = e.code ?? 'E_WORKER';
  const { status, protocolId, messageId, messageName, token, timeoutMs, phase } = e;
  switch (e.kind) {
    case 'ScmiStatusError':
      return status === undefined || protocolId === undefined || messageId === undefined
        ? undefined
        : new ScmiStatusError(status, { protocolId, messageId, messageName });
    case 'ScmiTimeoutError':
      return protocolId === undefined ||
        messageId === undefined ||
        token === undefined ||
        timeoutMs === undefined ||
        (phase !== 'response' && phase !== 'delayed-response')
        ? undefined
        : new ScmiTimeoutError({ protocolId, messageId, messageName }, token, timeoutMs, phase);
    case 'ScmiTransportError':
      return new ScmiTransportError(code, e.message);
    case 'ScmiMalformedError':
      // Its place (see placeMalformed) comes back with it; the message says it already.
      return Object.assign(new ScmiMalformedError(e.message, code), {
        protocolId,
        messageId,
        token,
        messageName,
      });
    case 'ScmiShutdownError':
      return new ScmiShutdownError('worker');
    case 'ScmiConfigError':
      return e.field === undefined ? undefined : new ScmiConfigError(e.field, e.message);
    case 'ScmiError':
      return new ScmiError(code, e.message);
    default:
      return undefined;
  }
}

/** Sets an own data property as `Error` has its own: writable, configurable, not enumerable. */
function setOwn(target: object, key: string, value: unknown, enumerable = false): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}

/**
 * Rebuilds an error from its serialized form. Core's errors come back as their own class
 * (`ScmiConfigError.is(e)` and `e instanceof ScmiConfigError` hold on the host), with their fields;
 * an `ScmiError` subclass of another package comes back as its core base class, with its own
 * name. Every error keeps the worker's name, message and stack, its `code` and `field`, and its
 * `cause` (rebuilt the same way).
 */
export function deserializeError(e: SerializedError): Error {
  const error: Error = rebuildScmiError(e) ?? new Error(e.message);
  setOwn(error, 'message', e.message);
  error.name = e.name;
  if (e.stack !== undefined) error.stack = e.stack;
  if (e.code !== undefined && !ScmiError.is(error)) setOwn(error, 'code', e.code, true);
  if (e.field !== undefined && !ScmiConfigError.is(error)) setOwn(error, 'field', e.field, true);
  if (e.cause !== undefined) setOwn(error, 'cause', deserializeError(e.cause));
  return error;
}
