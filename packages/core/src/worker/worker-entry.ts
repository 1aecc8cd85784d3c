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
 * Calls run concurrently; a handler's exception is sent back and rejects the host's call with an
 * `Error` that has the worker's name, message, stack and string `code`. An unknown method is
 * answered with `E_WORKER_NO_METHOD`. When the host stops the worker, new calls are refused
 * (`E_WORKER_STOPPED`), the calls in flight finish, `options.onStop` runs, and the worker stops
 * listening to its port so that the thread can exit. A message from the host that cannot be
 * deserialized ('messageerror') is reported to the host, which fails its pending calls with
 * `E_WORKER_PROTOCOL`.
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

  const onMessage = (msg: unknown): void => {
    if (!isControl(msg)) return;
    const m = msg as HostMessage;
    if (m[CONTROL] === 'call') {
      if (stopping) {
        const error = new ScmiTransportError('E_WORKER_STOPPED', 'the worker is stopping');
        post({ [CONTROL]: 'result', id: m.id, ok: false, error: serializeError(error) });
        return;
      }
      const call = answer(m.id, m.method, m.args).finally(() => inFlight.delete(call));
      inFlight.add(call);
    } else if (!stopping) {
      stopping = true;
      void stop();
    }
  };

  // A message from the host that cannot be deserialized may have been a call, which would then
  // never be answered: tell the host, which fails its pending calls.
  const onMessageError = (error: unknown): void => {
    post({ [CONTROL]: 'messageerror', error: serializeError(error) });
  };

  port.on('message', onMessage);
  port.on('messageerror', onMessageError);
  setImmediate(() => {
    post({ [CONTROL]: 'ready' });
  });
}
