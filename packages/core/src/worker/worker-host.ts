import { describeArg, formatValue } from '../errors/format-value.js';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, isAbsolute, join } from 'node:path';
import { Worker, type Transferable, type WorkerOptions } from 'node:worker_threads';
import { MAX_TIMER_MS } from '../clock/clock.js';
import { ScmiError, ScmiTransportError } from '../errors/scmi-error.js';
import {
  CONTROL,
  deserializeError,
  isControl,
  isSerializedError,
  type HostMessage,
  type SerializedError,
} from './worker-message.js';

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /**
   * Absolute path of the worker's entry module: a `.ts` (or, as an ES module, `.mts`) file when
   * running from sources (tests), loaded through tsx with `@scmi-ts/<pkg>` resolved to
   * `packages/<pkg>/src/index.ts`, or a `.js` / `.mjs` file (built `dist/`), loaded directly. See
   * {@link resolveWorkerEntry}.
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
  /**
   * How long {@link WorkerHost.stop} waits for the worker to exit before terminating it: 0 (at
   * once) to 2147483647; default 2000 ms.
   */
  readonly stopTimeoutMs?: number;
  /**
   * How long {@link startWorker} waits for the entry to call {@link serveWorker} before it
   * terminates the worker and rejects: more than 0, at most 2147483647 (the longest delay
   * `setTimeout` keeps); default 30000 ms, generous, since a loaded machine may take seconds to
   * start a thread.
   */
  readonly startTimeoutMs?: number;
}

interface PendingCall {
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface Startup {
  readonly ready: () => void;
  readonly failed: (error: unknown) => void;
  readonly timeoutMs: number;
}

const DEFAULT_STOP_TIMEOUT_MS = 2000;
const DEFAULT_START_TIMEOUT_MS = 30_000;

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
  #startTimer: ReturnType<typeof setTimeout> | undefined;
  #startTimedOut = false;
  #nextId = 1;
  #exitCode: number | undefined;
  #error: unknown;
  #stopError: SerializedError | undefined;
  #stopReportMalformed = false;
  #protocolErrors = 0;
  #stopping: Promise<void> | undefined;
  #terminated = false;

  /** @internal Use {@link startWorker}. */
  public constructor(worker: Worker, name: string, stopTimeoutMs: number, startup: Startup) {
    this.#worker = worker;
    this.#name = name;
    this.#stopTimeoutMs = stopTimeoutMs;
    this.#startup = startup;
    // An entry that keeps its thread alive without ever serving would otherwise leave startWorker
    // pending for ever, with no handle to terminate it.
    this.#startTimer = setTimeout(() => {
      this.#onStartTimeout();
    }, startup.timeoutMs);
    worker.on('message', (msg: unknown) => {
      this.#onMessage(msg);
    });
    worker.on('messageerror', (error: unknown) => {
      // A message from the worker that cannot be deserialized may have been the answer to any
      // pending call: fail them all rather than leave one pending for ever.
      this.#protocolErrors++;
      this.#failPending('a message from the worker could not be deserialized', error);
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
   * How many control messages broke the protocol: messages from the worker that the host dropped
   * (malformed, of an unknown kind, answering no pending call, such as a late answer to a call
   * already failed, a second "ready", a "stopped" before the host asked the worker to stop), and
   * messages that could not be deserialized on either side.
   */
  public get protocolErrors(): number {
    return this.#protocolErrors;
  }

  /**
   * Calls `method` in the worker with `args` (structured-cloned) and resolves with its result.
   *
   * @throws (rejects) the worker's error, rebuilt with the worker's name, message, stack, `code`,
   * `field` and `cause` — core's errors as their own class (`ScmiStatusError.is(e)` and
   * `e instanceof ScmiStatusError` hold, with `status` and the ids), any other as an `Error`;
   * ScmiTransportError `E_WORKER_STOPPED` after {@link WorkerHost.stop},
   * `E_WORKER_EXITED` when the worker exited (or exits before answering; its message says when
   * {@link WorkerHost.stop} terminated it), `E_WORKER_CALL` when
   * the arguments cannot be cloned, `E_WORKER_PROTOCOL` when the worker's answer is malformed or
   * a message between the host and the worker could not be deserialized while the call was
   * pending (the answer may have been lost).
   * @example
   * ```ts
   * const sum = (await host.call('add', 1, 2)) as number;
   * ```
   */
  public call(method: string, ...args: unknown[]): Promise<unknown> {
    return this.#call(method, args, undefined);
  }

  /**
   * {@link WorkerHost.call}, moving the objects of `transfer` to the worker instead of cloning
   * them (Node's `transferList`): a `MessagePort` among `args` (a wire of your own per session), an
   * `ArrayBuffer` too big to copy. What is moved is unusable on this thread afterwards, whether the
   * call succeeds or not — except when the call is refused before anything is sent (stopped,
   * exited, or `E_WORKER_CALL`: an argument that can be neither cloned nor moved, `transfer` not
   * an array or holding something that cannot be moved, or something `args` does not hold — a
   * `MessagePort` or `ArrayBuffer` moved but not sent would reach the worker's handler nowhere and
   * be lost to this thread; an `ArrayBuffer` counts as held when a typed array or `DataView` over
   * it is, and `args` is searched through arrays and plain objects, 8 levels deep).
   *
   * @throws (rejects) as {@link WorkerHost.call}.
   * @example
   * ```ts
   * const { port1, port2 } = new MessageChannel();
   * await host.callTransferring('openWire', [port2], port2); // the worker's handler gets port2
   * port1.postMessage('hello');
   * ```
   */
  public callTransferring(
    method: string,
    transfer: readonly Transferable[],
    ...args: unknown[]
  ): Promise<unknown> {
    return this.#call(method, args, transfer);
  }

  #call(
    method: string,
    args: unknown[],
    transfer: readonly Transferable[] | undefined,
  ): Promise<unknown> {
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
        const given: unknown = transfer;
        if (given !== undefined && !Array.isArray(given)) {
          throw new TypeError(`the transfer list must be an array, got ${describeArg(given)}`);
        }
        if (transfer !== undefined) checkTransferred(transfer, args);
        this.#post({ [CONTROL]: 'call', id, method, args }, transfer);
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
   * @throws (rejects) ScmiTransportError `E_WORKER_STOP` when the worker's `onStop` threw,
   * `E_WORKER_PROTOCOL` when the worker's report of its stop was malformed (whether `onStop`
   * threw is unknown); the thread has exited all the same.
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
    if (this.#stopReportMalformed) {
      throw new ScmiTransportError(
        'E_WORKER_PROTOCOL',
        `worker "${this.#name}": malformed "stopped" message: whether onStop failed is unknown`,
      );
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

  #post(msg: HostMessage, transfer?: readonly Transferable[]): void {
    if (transfer === undefined) this.#worker.postMessage(msg);
    else this.#worker.postMessage(msg, [...transfer]);
  }

  #onMessage(msg: unknown): void {
    if (!isControl(msg)) return;
    try {
      this.#onControl(msg);
    } catch {
      // This runs in the Worker's 'message' listener: a throw would be an uncaught exception on
      // the host's thread. Whatever the worker sends, it is at worst a dropped message.
      this.#protocolErrors++;
    }
  }

  /**
   * Handles a control message from the worker. Nothing in it is trusted: the worker may be buggy,
   * hostile, or a hand-written entry that speaks the protocol wrongly.
   */
  #onControl(msg: Readonly<Record<string, unknown>>): void {
    switch (msg[CONTROL]) {
      case 'ready': {
        // After the start timeout the worker is being terminated: too late to be ready.
        if (this.#startTimedOut) return;
        const startup = this.#startup;
        if (startup === undefined) {
          this.#protocolErrors++; // ready twice
          return;
        }
        this.#clearStartTimer();
        this.#startup = undefined;
        startup.ready();
        return;
      }
      case 'result':
        this.#onResult(msg);
        return;
      case 'stopped':
        // Only the answer to the host's 'stop' says how the stop went: a report sent before it
        // (a buggy or hostile entry) is dropped, and cannot decide what stop() says.
        if (this.#stopping === undefined) {
          this.#protocolErrors++;
          return;
        }
        if (msg.error === undefined || isSerializedError(msg.error)) {
          this.#stopError = msg.error;
          this.#stopReportMalformed = false;
        } else {
          this.#protocolErrors++;
          this.#stopReportMalformed = true;
        }
        return;
      case 'messageerror':
        this.#protocolErrors++;
        this.#failPending(
          'the worker could not deserialize a message from the host',
          isSerializedError(msg.error) ? deserializeError(msg.error) : undefined,
        );
        return;
      default:
        this.#protocolErrors++;
    }
  }

  #onResult(msg: Readonly<Record<string, unknown>>): void {
    const { id, ok } = msg;
    const call = Number.isSafeInteger(id) ? this.#pending.get(id as number) : undefined;
    if (call === undefined) {
      // An id the host never gave, or a call already failed (the worker's answer came too late).
      this.#protocolErrors++;
      return;
    }
    this.#pending.delete(id as number);
    if (ok === true) {
      call.resolve(msg.value);
    } else if (ok === false && isSerializedError(msg.error)) {
      call.reject(deserializeError(msg.error));
    } else {
      // The answer is for this call but says neither what it returned nor why it failed: fail
      // the call rather than resolve it with garbage or leave it pending for ever.
      this.#protocolErrors++;
      call.reject(
        new ScmiTransportError(
          'E_WORKER_PROTOCOL',
          `worker "${this.#name}" answered "${call.method}" with a malformed result`,
        ),
      );
    }
  }

  /** Rejects every pending call with `E_WORKER_PROTOCOL`: its answer may have been lost. */
  #failPending(why: string, cause: unknown): void {
    for (const [id, call] of this.#pending) {
      this.#pending.delete(id);
      call.reject(
        new ScmiTransportError(
          'E_WORKER_PROTOCOL',
          `worker "${this.#name}": ${why} while "${call.method}" was pending`,
          cause === undefined ? {} : { cause },
        ),
      );
    }
  }

  #onStartTimeout(): void {
    this.#startTimer = undefined;
    this.#startTimedOut = true;
    // startWorker rejects once the thread has exited (#onExit), so that none is left running.
    void this.#worker.terminate();
  }

  #clearStartTimer(): void {
    if (this.#startTimer !== undefined) clearTimeout(this.#startTimer);
    this.#startTimer = undefined;
  }

  #onExit(code: number): void {
    this.#exitCode = code;
    this.#clearStartTimer();
    const why =
      this.#error !== undefined
        ? `failed: ${messageOf(this.#error)}`
        : this.#terminated
          ? `was terminated by stop() after ${this.#stopTimeoutMs} ms`
          : `exited with code ${code}`;
    const cause = this.#error === undefined ? {} : { cause: this.#error };
    const startup = this.#startup;
    this.#startup = undefined;
    startup?.failed(
      new ScmiTransportError(
        'E_WORKER_START',
        this.#startTimedOut
          ? `worker "${this.#name}" was not ready within ${startup.timeoutMs} ms: terminated`
          : `worker "${this.#name}" ${why} before it was ready`,
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
 * {@link serveWorker}. A `.ts` or `.mts` entry is loaded through tsx (a dev dependency; for tests
 * from sources), with `@scmi-ts/<pkg>` resolved to `packages/<pkg>/src/index.ts` through the
 * `paths` of `packages/core/tsconfig.test.json`; a `.js` or `.mjs` entry is started directly.
 *
 * If the entry throws while loading, or the thread exits before it is ready, or it is not ready
 * within `startTimeoutMs` (the thread is then terminated), the promise rejects and no thread is
 * left running: it rejects only after the thread has exited.
 *
 * @throws (rejects) ScmiTransportError `E_WORKER_ENTRY` when `entry` is not an absolute path,
 * `E_WORKER_OPTIONS` when `startTimeoutMs` is not a number of ms in (0, 2147483647] or
 * `stopTimeoutMs` not one in [0, 2147483647], or when Node refuses the worker's options (data it
 * cannot clone, a `name` or `transferList` of the wrong type; Node's error as `cause`),
 * `E_WORKER_TSX` when a `.ts` or `.mts` entry is given and tsx cannot be found,
 * `E_WORKER_START` (with the worker's error as `cause`, its message included) when the worker
 * fails before it is ready or is not ready in time.
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
      `worker entry must be an absolute path, got ${formatValue(entry)}`,
    );
  }
  const startTimeoutMs = timeoutOption(options, 'startTimeoutMs', DEFAULT_START_TIMEOUT_MS, false);
  const stopTimeoutMs = timeoutOption(options, 'stopTimeoutMs', DEFAULT_STOP_TIMEOUT_MS, true);
  const name = options.name ?? basename(entry);
  const workerOptions: WorkerOptions = {
    workerData: options.data,
    name,
    ...(options.transferList === undefined ? {} : { transferList: [...options.transferList] }),
  };
  let worker: Worker;
  try {
    worker = isTypeScript(entry)
      ? new Worker(tsEntryShim(entry), { ...workerOptions, eval: true })
      : new Worker(entry, workerOptions);
  } catch (cause) {
    if (ScmiError.is(cause)) throw cause; // E_WORKER_TSX, from the shim of a .ts entry
    // Node refuses the options before any thread starts: data it cannot clone (DataCloneError),
    // a name or transfer list of the wrong type (TypeError).
    throw new ScmiTransportError(
      'E_WORKER_OPTIONS',
      `worker "${name}" cannot start with these options: ${messageOf(cause)}`,
      { cause },
    );
  }
  return new Promise((resolve, reject) => {
    const host: WorkerHost = new WorkerHost(worker, name, stopTimeoutMs, {
      ready: () => {
        resolve(host);
      },
      failed: reject,
      timeoutMs: startTimeoutMs,
    });
  });
}

/**
 * Calls `method` in the worker and returns its answer as an id (of a device, a responder…, named
 * `what` in the error). The answer comes from another thread: it is checked once here, rather
 * than a wrong one sent back by every later call that names it.
 *
 * @throws (rejects) what `host.call` rejects with; ScmiTransportError `E_WORKER_PROTOCOL` when the
 * worker answers with something other than a safe integer.
 * @example
 * ```ts
 * const id = await callForId(host, 'a device id', 'virtio.attach', wire.handle, agentId, options);
 * ```
 */
export async function callForId(
  host: Pick<WorkerHost, 'name' | 'call'>,
  what: string,
  method: string,
  ...args: unknown[]
): Promise<number> {
  const answer = await host.call(method, ...args);
  if (Number.isSafeInteger(answer)) return answer as number;
  throw new ScmiTransportError(
    'E_WORKER_PROTOCOL',
    `worker "${host.name}" answered "${method}" with ${String(answer)}, not ${what}`,
  );
}

/** A timeout option in ms: `(0, MAX]`, or `[0, MAX]` when `zeroAllowed`; `E_WORKER_OPTIONS` if not. */
function timeoutOption(
  options: StartWorkerOptions,
  key: 'startTimeoutMs' | 'stopTimeoutMs',
  fallback: number,
  zeroAllowed: boolean,
): number {
  const ms = options[key] ?? fallback;
  if (typeof ms === 'number' && (zeroAllowed ? ms >= 0 : ms > 0) && ms <= MAX_TIMER_MS) return ms;
  throw new ScmiTransportError(
    'E_WORKER_OPTIONS',
    `${key} must be a number of ms in ${zeroAllowed ? '[' : '('}0, ${MAX_TIMER_MS}], got ${formatValue(ms)}`,
  );
}

/** The extensions {@link resolveWorkerEntry} tries, in order: sources first, then built code. */
const ENTRY_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

/**
 * The path of a worker entry named `basename` in `dirname`: the first of `.ts`, `.mts`, `.js` and
 * `.mjs` that exists — the TypeScript source when running from sources, the built file when
 * running from `dist/`. Pass the directory of the calling module: `__dirname` in CommonJS,
 * `import.meta.dirname` in an ES module (Node 20.11 and later), where `__dirname` is not defined.
 *
 * @throws ScmiTransportError `E_WORKER_ENTRY` when none exists, naming the files tried.
 * @example
 * ```ts
 * const entry = resolveWorkerEntry(__dirname, 'smt-responder-worker');
 * // In an ES module: resolveWorkerEntry(import.meta.dirname, 'smt-responder-worker')
 * ```
 */
export function resolveWorkerEntry(dirname: string, basename: string): string {
  for (const extension of ENTRY_EXTENSIONS) {
    const entry = join(dirname, `${basename}${extension}`);
    if (existsSync(entry)) return entry;
  }
  const tried = ENTRY_EXTENSIONS.map((e) => `${basename}${e}`).join(', ');
  throw new ScmiTransportError('E_WORKER_ENTRY', `no worker entry (${tried}) in ${dirname}`);
}

/**
 * Whether `error` says the worker is gone — a {@link WorkerHost.call} refused because the host
 * was stopped (`E_WORKER_STOPPED`) or the worker exited (`E_WORKER_EXITED`). What the worker held
 * went with it: a close that finds the worker gone has nothing left to close (the remote devices
 * and responders of the transport packages resolve their `close()` then).
 *
 * @example
 * ```ts
 * await host.call('close', id).catch((e: unknown) => {
 *   if (!isWorkerGone(e)) throw e;
 * });
 * ```
 */
export function isWorkerGone(error: unknown): boolean {
  const code = ScmiError.is(error) ? error.code : undefined;
  return code === 'E_WORKER_STOPPED' || code === 'E_WORKER_EXITED';
}

/** Whether `entry` is TypeScript (`.ts`, or `.mts` written as an ES module): loaded through tsx. */
function isTypeScript(entry: string): boolean {
  return entry.endsWith('.ts') || entry.endsWith('.mts');
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

/** How deep {@link checkTransferred} looks into the arguments. */
const TRANSFER_SEARCH_DEPTH = 8;

/**
 * Throws when an object of `transfer` is not among `args` (searched through arrays and plain
 * objects): moving it would detach it here and deliver it to no handler.
 */
function checkTransferred(transfer: readonly Transferable[], args: readonly unknown[]): void {
  const held = new Set<unknown>();
  const visit = (value: unknown, depth: number): void => {
    if (typeof value !== 'object' || value === null || held.has(value)) return;
    held.add(value);
    if (ArrayBuffer.isView(value)) held.add(value.buffer);
    if (depth === 0) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth - 1);
      return;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== null && Object.getPrototypeOf(proto) !== null) return; // not a plain object
    for (const item of Object.values(value)) visit(item, depth - 1);
  };
  visit(args, TRANSFER_SEARCH_DEPTH);
  transfer.forEach((item, i) => {
    if (!held.has(item)) {
      throw new TypeError(
        `transfer[${i}] (${describeArg(item)}) is not among the arguments: moved, it would be lost to both threads`,
      );
    }
  });
}
