import { formatValue } from '../errors/format-value.js';
import { isMainThread, parentPort } from 'node:worker_threads';
import { ScmiTransportError } from '../errors/scmi-error.js';
import {
  CONTROL,
  isControl,
  serializeError,
  type HostMessage,
  type SerializedError,
  type WorkerMessage,
} from './worker-message.js';

/**
 * The methods a worker serves to its {@link WorkerHost}: `host.call(name, ...args)` runs
 * `handlers[name](...args)` in the worker. Arguments and results are structured-cloned; a
 * handler may be async.
 */
export type WorkerHandlers = Readonly<Record<string, (...args: never[]) => unknown>>;

/** Options of {@link serveWorker}. */
export interface ServeWorkerOptions {
  /**
   * Runs when the host stops the worker, after the calls in flight have answered: close
   * doorbells, clear timers, free what keeps the thread alive. The thread then exits by itself;
   * anything left alive makes the host terminate it after its stop timeout.
   */
  readonly onStop?: () => void | Promise<void>;
}

let served = false;

/**
 * Serves `handlers` to the host that started this worker with {@link startWorker}, and reports
 * the worker ready (on a later task, so that an entry that throws while loading fails
 * `startWorker` instead). Call it once, from the worker's entry module.
 *
 * Calls run concurrently; a handler's exception is sent back and rejects the host's call with the
 * same error rebuilt: core's error classes as themselves, with their fields and `cause`; any other
 * as an `Error` with the worker's name, message, stack and string `code`. An unknown method is
 * answered with `E_WORKER_NO_METHOD`. When the host stops the worker, new calls are refused
 * (`E_WORKER_STOPPED`), the calls in flight finish, `options.onStop` runs, and the worker stops
 * listening to its port so that the thread can exit. A message from the host that cannot be
 * deserialized ('messageerror'), or a control message of an unknown kind or a call without an
 * integer id, is reported to the host, which fails its pending calls with `E_WORKER_PROTOCOL`; a
 * call without a method name or argument list is answered with `E_WORKER_PROTOCOL`.
 *
 * @throws ScmiTransportError `E_WORKER_CONTEXT` when not called in a worker thread,
 * `E_WORKER_SERVED` when called twice.
 * @example
 * ```ts
 * // echo-worker.ts, started with startWorker({ entry: resolveWorkerEntry(__dirname, 'echo-worker') })
 * serveWorker(
 *   { echo: (s: string) => s, add: async (a: number, b: number) => a + b },
 *   { onStop: () => doorbell.close() },
 * );
 * ```
 */
export function serveWorker(handlers: WorkerHandlers, options: ServeWorkerOptions = {}): void {
  const port = parentPort;
  if (isMainThread || port === null) {
    throw new ScmiTransportError('E_WORKER_CONTEXT', 'serveWorker() must run in a worker thread');
  }
  if (served) {
    throw new ScmiTransportError('E_WORKER_SERVED', 'serveWorker() was already called');
  }
  served = true;
  const post = (msg: WorkerMessage): void => {
    port.postMessage(msg);
  };
  const inFlight = new Set<Promise<void>>();
  let stopping = false;

  const answer = async (id: number, method: string, args: unknown[]): Promise<void> => {
    try {
      const handler = Object.hasOwn(handlers, method) ? handlers[method] : undefined;
      if (handler === undefined) {
        throw new ScmiTransportError('E_WORKER_NO_METHOD', `the worker has no method "${method}"`);
      }
      const value = await handler(...(args as never[]));
      post({ [CONTROL]: 'result', id, ok: true, value });
    } catch (error: unknown) {
      // Also a result that cannot be cloned (DataCloneError).
      post({ [CONTROL]: 'result', id, ok: false, error: serializeError(error) });
    }
  };

  const stop = async (): Promise<void> => {
    await Promise.allSettled([...inFlight]);
    let error: SerializedError | undefined;
    try {
      await options.onStop?.();
    } catch (e: unknown) {
      error = serializeError(e);
    }
    post(error === undefined ? { [CONTROL]: 'stopped' } : { [CONTROL]: 'stopped', error });
    port.off('message', onMessage);
    port.off('messageerror', onMessageError);
  };

  const refuse = (id: number, code: string, message: string): void => {
    const error = serializeError(new ScmiTransportError(code, message));
    post({ [CONTROL]: 'result', id, ok: false, error });
  };

  // A message from the host that cannot be deserialized may have been a call, which would then
  // never be answered: tell the host, which fails its pending calls.
  const onMessageError = (error: unknown): void => {
    post({ [CONTROL]: 'messageerror', error: serializeError(error) });
  };

  const onMessage = (msg: unknown): void => {
    if (!isControl(msg)) return;
    const m = msg as Readonly<Record<string, unknown>>;
    const kind = m[CONTROL];
    if (kind === 'stop') {
      if (!stopping) {
        stopping = true;
        void stop();
      }
      return;
    }
    // Checked as the host checks the worker's messages: a control message of another kind, or a
    // call without an id, may have been a call that will never be answered (as a message that
    // cannot be deserialized); a call with an id but no method name or argument list is refused.
    if (kind !== 'call' || !Number.isSafeInteger(m.id)) {
      onMessageError(
        new ScmiTransportError(
          'E_WORKER_PROTOCOL',
          kind === 'call'
            ? 'a call from the host has no integer id'
            : `a control message of unknown kind ${formatValue(kind)} from the host`,
        ),
      );
      return;
    }
    const call = m as HostMessage & { readonly [CONTROL]: 'call' };
    if (typeof call.method !== 'string' || !Array.isArray(call.args)) {
      refuse(
        call.id,
        'E_WORKER_PROTOCOL',
        'a call from the host has no method name or no argument list',
      );
    } else if (stopping) {
      refuse(call.id, 'E_WORKER_STOPPED', 'the worker is stopping');
    } else {
      const running = answer(call.id, call.method, call.args).finally(() =>
        inFlight.delete(running),
      );
      inFlight.add(running);
    }
  };

  port.on('message', onMessage);
  port.on('messageerror', onMessageError);
  setImmediate(() => {
    post({ [CONTROL]: 'ready' });
  });
}
