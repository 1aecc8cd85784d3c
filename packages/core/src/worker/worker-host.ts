import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, isAbsolute, join } from 'node:path';
import { Worker, type Transferable, type WorkerOptions } from 'node:worker_threads';
import { ScmiTransportError } from '../errors/scmi-error.js';
import {
  CONTROL,
  deserializeError,
  isControl,
  type HostMessage,
  type SerializedError,
  type WorkerMessage,
} from './worker-message.js';

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /**
   * Absolute path of the worker's entry module: a `.ts` file when running from sources (tests),
   * loaded through tsx with `@scmi-ts/<pkg>` resolved to `packages/<pkg>/src/index.ts`, or a
   * `.js` file (built `dist/`), loaded directly. See {@link resolveWorkerEntry}.
   */
  readonly entry: string;
  /**
   * Given to the worker as `workerData` (from `node:worker_threads`; structured-cloned, a
   * `SharedArrayBuffer` is shared, not copied).
   */
  readonly data?: unknown;
  /** Objects in `data` to transfer rather than clone (ports, array buffers). */
  readonly transferList?: readonly Transferable[];
  /** A name for errors and debugging (default: the entry's file name). */
  readonly name?: string;
  /** How long {@link WorkerHost.stop} waits for the worker to exit before terminating it (default 2000 ms). */
  readonly stopTimeoutMs?: number;
}

interface PendingCall {
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface Startup {
  readonly ready: () => void;
  readonly failed: (error: unknown) => void;
}

const DEFAULT_STOP_TIMEOUT_MS = 2000;

/**
 * A running `worker_thread` started by {@link startWorker}: calls into the methods the worker
 * serves, and stops it. Disposable: `await using host = await startWorker(…)` stops it at the end
 * of the scope.
 *
 * @example
 * ```ts
 * const host = await startWorker({ entry: resolveWorkerEntry(__dirname, 'platform-worker') });
 * try {
 *   console.log(await host.call('version'));
 * } finally {
 *   await host.stop();
 * }
 * ```
 */
export class WorkerHost implements AsyncDisposable {
  readonly #worker: Worker;
  readonly #name: string;
  readonly #stopTimeoutMs: number;
  readonly #exited: Promise<number>;
  readonly #pending = new Map<number, PendingCall>();
  #startup: Startup | undefined;
  #nextId = 1;
  #exitCode: number | undefined;
  #error: unknown;
  #stopError: SerializedError | undefined;
  #stopping: Promise<void> | undefined;
  #terminated = false;

  /** @internal Use {@link startWorker}. */
  public constructor(worker: Worker, name: string, stopTimeoutMs: number, startup: Startup) {
    this.#worker = worker;
    this.#name = name;
    this.#stopTimeoutMs = stopTimeoutMs;
    this.#startup = startup;
    worker.on('message', (msg: unknown) => {
      this.#onMessage(msg);
    });
    worker.on('error', (error: unknown) => {
      this.#error ??= error;
    });
    this.#exited = new Promise((resolve) => {
      worker.once('exit', (code: number) => {
        this.#onExit(code);
        resolve(code);
      });
    });
  }

  /** The underlying `Worker` (for its own messages, `resourceLimits`, `threadId`). */
  public get worker(): Worker {
    return this.#worker;
  }

  /** The worker's name. */
  public get name(): string {
    return this.#name;
  }

  /** Resolves with the exit code once the thread has exited (1 when terminated); never rejects. */
  public get exited(): Promise<number> {
    return this.#exited;
  }

  /** The uncaught exception that ended the worker, if one did (kept as `cause` of call errors). */
  public get error(): unknown {
    return this.#error;
  }

  /** True when {@link WorkerHost.stop} had to terminate the worker because it did not exit in time. */
  public get terminated(): boolean {
    return this.#terminated;
  }

  /**
   * Calls `method` in the worker with `args` (structured-cloned) and resolves with its result.
   *
   * @throws (rejects) the worker's error, rebuilt as an `Error` with the worker's name, message,
   * stack and `code`; ScmiTransportError `E_WORKER_STOPPED` after {@link WorkerHost.stop},
   * `E_WORKER_EXITED` when the worker exited (or exits before answering), `E_WORKER_CALL` when
   * the arguments cannot be cloned.
   * @example
   * ```ts
   * const sum = (await host.call('add', 1, 2)) as number;
   * ```
   */
  public call(method: string, ...args: unknown[]): Promise<unknown> {
    if (this.#stopping !== undefined) {
      return Promise.reject(
        new ScmiTransportError(
          'E_WORKER_STOPPED',
          `worker "${this.#name}": cannot call "${method}": the worker is stopped`,
        ),
      );
    }
    if (this.#exitCode !== undefined) {
      return Promise.reject(
        new ScmiTransportError(
          'E_WORKER_EXITED',
          `worker "${this.#name}": cannot call "${method}": the worker exited with code ${this.#exitCode}`,
          this.#error === undefined ? {} : { cause: this.#error },
        ),
      );
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      try {
        this.#post({ [CONTROL]: 'call', id, method, args });
      } catch (cause: unknown) {
        reject(
          new ScmiTransportError(
            'E_WORKER_CALL',
            `worker "${this.#name}": cannot send "${method}": ${messageOf(cause)}`,
            { cause },
          ),
        );
        return;
      }
      this.#pending.set(id, { method, resolve, reject });
    });
  }

  /**
   * Stops the worker: asks it to stop (calls in flight finish, its `onStop` runs, it stops
   * listening), waits for the thread to exit, and terminates it when it has not exited after
   * `stopTimeoutMs`. Idempotent: later calls return the same promise.
   *
   * @throws (rejects) ScmiTransportError `E_WORKER_STOP` when the worker's `onStop` threw (the
   * thread has exited all the same).
   */
  public stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Same as {@link WorkerHost.stop}. */
  public [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #stop(): Promise<void> {
    if (this.#exitCode === undefined) {
      try {
        this.#post({ [CONTROL]: 'stop' });
      } catch {
        // The port is closed: the worker is exiting anyway.
      }
      const timer = setTimeout(() => {
        this.#terminated = true;
        void this.#worker.terminate();
      }, this.#stopTimeoutMs);
      try {
        await this.#exited;
      } finally {
        clearTimeout(timer);
      }
    }
    const failure = this.#stopError;
    if (failure !== undefined) {
      throw new ScmiTransportError(
        'E_WORKER_STOP',
        `worker "${this.#name}": onStop failed: ${failure.message}`,
        { cause: deserializeError(failure) },
      );
    }
  }

  #post(msg: HostMessage): void {
    this.#worker.postMessage(msg);
  }

  #onMessage(msg: unknown): void {
    if (!isControl(msg)) return;
    const m = msg as WorkerMessage;
    switch (m[CONTROL]) {
      case 'ready': {
        const startup = this.#startup;
        this.#startup = undefined;
        startup?.ready();
        return;
      }
      case 'result': {
        const call = this.#pending.get(m.id);
        if (call === undefined) return;
        this.#pending.delete(m.id);
        if (m.ok) call.resolve(m.value);
        else call.reject(deserializeError(m.error));
        return;
      }
      case 'stopped':
        this.#stopError = m.error;
        return;
    }
  }

  #onExit(code: number): void {
    this.#exitCode = code;
    const why =
      this.#error === undefined ? `exited with code ${code}` : `failed: ${messageOf(this.#error)}`;
    const cause = this.#error === undefined ? {} : { cause: this.#error };
    const startup = this.#startup;
    this.#startup = undefined;
    startup?.failed(
      new ScmiTransportError(
        'E_WORKER_START',
        `worker "${this.#name}" ${why} before it was ready`,
        cause,
      ),
    );
    for (const [id, call] of this.#pending) {
      this.#pending.delete(id);
      call.reject(
        new ScmiTransportError(
          'E_WORKER_EXITED',
          `worker "${this.#name}" ${why} while "${call.method}" was pending`,
          cause,
        ),
      );
    }
  }
}

/**
 * Starts a `worker_thread` on `options.entry` and resolves once the entry has called
 * {@link serveWorker}. A `.ts` entry is loaded through tsx (a dev dependency; for tests from
 * sources), with `@scmi-ts/<pkg>` resolved to `packages/<pkg>/src/index.ts` through the `paths`
 * of `packages/core/tsconfig.test.json`; a `.js` entry is started directly.
 *
 * If the entry throws while loading, or the thread exits before it is ready, the promise rejects
 * and no thread is left running: it rejects only after the thread has exited.
 *
 * @throws (rejects) ScmiTransportError `E_WORKER_ENTRY` when `entry` is not an absolute path,
 * `E_WORKER_TSX` when a `.ts` entry is given and tsx cannot be found, `E_WORKER_START` (with the
 * worker's error as `cause`, its message included) when the worker fails before it is ready.
 * @example
 * ```ts
 * const sab = SharedDoorbell.allocate();
 * const host = await startWorker({
 *   entry: resolveWorkerEntry(__dirname, 'echo-worker'),
 *   data: { sab },
 *   stopTimeoutMs: 1000,
 * });
 * await host.stop();
 * ```
 */
export async function startWorker(options: StartWorkerOptions): Promise<WorkerHost> {
  const { entry } = options;
  if (typeof entry !== 'string' || !isAbsolute(entry)) {
    throw new ScmiTransportError(
      'E_WORKER_ENTRY',
      `worker entry must be an absolute path, got ${JSON.stringify(entry)}`,
    );
  }
  const name = options.name ?? basename(entry);
  const workerOptions: WorkerOptions = {
    workerData: options.data,
    name,
    ...(options.transferList === undefined ? {} : { transferList: [...options.transferList] }),
  };
  const worker = entry.endsWith('.ts')
    ? new Worker(tsEntryShim(entry), { ...workerOptions, eval: true })
    : new Worker(entry, workerOptions);
  return new Promise((resolve, reject) => {
    const host: WorkerHost = new WorkerHost(
      worker,
      name,
      options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
      {
        ready: () => {
          resolve(host);
        },
        failed: reject,
      },
    );
  });
}

/**
 * The path of a worker entry named `basename` in `dirname`: the `.ts` file when it exists
 * (running from sources), else the `.js` file (running from `dist/`). Pass `__dirname`.
 *
 * @throws ScmiTransportError `E_WORKER_ENTRY` when neither exists.
 * @example
 * ```ts
 * const entry = resolveWorkerEntry(__dirname, 'smt-responder-worker');
 * ```
 */
export function resolveWorkerEntry(dirname: string, basename: string): string {
  const ts = join(dirname, `${basename}.ts`);
  if (existsSync(ts)) return ts;
  const js = join(dirname, `${basename}.js`);
  if (existsSync(js)) return js;
  throw new ScmiTransportError(
    'E_WORKER_ENTRY',
    `no worker entry ${basename}.ts or ${basename}.js in ${dirname}`,
  );
}

/**
 * The eval code of a worker whose entry is TypeScript: point tsx at core's test tsconfig (its
 * `paths` map `@scmi-ts/<pkg>` to the package's `src/index.ts`), register tsx, load the entry.
 */
function tsEntryShim(entry: string): string {
  let tsx: string;
  try {
    tsx = createRequire(__filename).resolve('tsx/cjs');
  } catch (cause: unknown) {
    throw new ScmiTransportError(
      'E_WORKER_TSX',
      `a .ts worker entry (${entry}) needs tsx, which was not found from @scmi-ts/core: install it as a dev dependency, or start the built .js entry`,
      { cause },
    );
  }
  const tsconfig = join(__dirname, '..', '..', 'tsconfig.test.json');
  return [
    existsSync(tsconfig) ? `process.env.TSX_TSCONFIG_PATH = ${JSON.stringify(tsconfig)};` : '',
    `require(${JSON.stringify(tsx)});`,
    `require(${JSON.stringify(entry)});`,
  ].join('\n');
}

function messageOf(error: unknown): string {
  // Duck-typed: an error from the worker may come from another realm (jest runs tests in a vm).
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}
