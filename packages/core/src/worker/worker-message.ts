/**
 * The control messages between {@link WorkerHost} and {@link serveWorker}, on the worker's own
 * port. Every one carries the {@link CONTROL} key, so that an application's messages on the same
 * port are left alone. Internal: not exported from the package.
 */

/** The key that marks a control message (messages are structured-cloned: no symbols). */
export const CONTROL = '__scmiWorker';

/** An error as it crosses the thread boundary (structured clone drops custom fields). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
  /** The configuration field an `ScmiConfigError` names. */
  readonly field?: string;
}

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

/**
 * True when `value` has the shape of a {@link SerializedError}: what {@link deserializeError}
 * needs. A worker's message is checked with it before it is trusted.
 */
export function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const { name, message, stack, code, field } = value as Record<string, unknown>;
  return (
    typeof name === 'string' &&
    typeof message === 'string' &&
    (stack === undefined || typeof stack === 'string') &&
    (code === undefined || typeof code === 'string') &&
    (field === undefined || typeof field === 'string')
  );
}

/**
 * Flattens a thrown value for postMessage: name, message, stack, a string `code` and a string
 * `field` (an `ScmiConfigError`'s). Never throws, whatever was thrown: a value `String()` cannot
 * convert (an object with no prototype) or whose fields throw when read is described by
 * `Object.prototype.toString` — a handler's careless throw must fail its own call, not the worker.
 */
export function serializeError(error: unknown): SerializedError {
  try {
    // Duck-typed, so that errors of another realm (vm contexts) keep their fields.
    if (typeof error === 'object' && error !== null && 'message' in error) {
      const { name, message, stack, code, field } = error as Record<string, unknown>;
      return {
        name: typeof name === 'string' ? name : 'Error',
        message: String(message),
        ...(typeof stack === 'string' ? { stack } : {}),
        ...(typeof code === 'string' ? { code } : {}),
        ...(typeof field === 'string' ? { field } : {}),
      };
    }
    return { name: 'Error', message: String(error) };
  } catch {
    return { name: 'Error', message: Object.prototype.toString.call(error) };
  }
}

/** Rebuilds an `Error` from its serialized form: the worker's name, message, stack, code, field. */
export function deserializeError(e: SerializedError): Error {
  const error = new Error(e.message);
  error.name = e.name;
  if (e.stack !== undefined) error.stack = e.stack;
  if (e.code !== undefined)
    Object.defineProperty(error, 'code', { value: e.code, enumerable: true });
  if (e.field !== undefined)
    Object.defineProperty(error, 'field', { value: e.field, enumerable: true });
  return error;
}
