import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, type Worker } from 'node:worker_threads';
import { SharedDoorbell } from '../src/doorbell/shared-doorbell.js';
import { ScmiConfigError, ScmiTransportError } from '../src/errors/scmi-error.js';
import {
  WorkerHost,
  callForId,
  resolveWorkerEntry,
  startWorker,
} from '../src/worker/worker-host.js';
import type { EchoWorkerData } from './fixtures/echo-worker.js';

const fixture = (name: string): string => join(__dirname, 'fixtures', name);

function startEcho(
  extra: Partial<EchoWorkerData> = {},
  stopTimeoutMs?: number,
): Promise<WorkerHost> {
  const data: EchoWorkerData = { sab: SharedDoorbell.allocate(), ...extra };
  return startWorker({
    entry: fixture('echo-worker.ts'),
    data,
    ...(stopTimeoutMs === undefined ? {} : { stopTimeoutMs }),
  });
}

/** Runs `body` with a started echo worker, and always stops the worker. */
async function withEcho(body: (host: WorkerHost) => Promise<void>): Promise<void> {
  const host = await startEcho();
  try {
    await body(host);
  } finally {
    await host.stop();
  }
}

/** Runs `body` with a started rogue worker (fixtures/rogue-worker.cjs), and always stops it. */
async function withRogue(body: (host: WorkerHost) => Promise<void>): Promise<void> {
  const host = await startWorker({ entry: fixture('rogue-worker.cjs') });
  try {
    await body(host);
  } finally {
    await host.stop();
  }
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: unknown };
  }
  throw new Error('expected a rejection');
}

/** Spies on the Worker constructor: the threads started, and those that have exited. */
function trackWorkers(): { started: Worker[]; exited: Set<Worker> } {
  const wt = jest.requireActual<typeof import('node:worker_threads')>('node:worker_threads');
  const RealWorker = wt.Worker;
  const exited = new Set<Worker>();
  const started: Worker[] = [];
  jest.spyOn(wt, 'Worker').mockImplementation((...args) => {
    const w = new RealWorker(...args);
    w.once('exit', () => exited.add(w));
    started.push(w);
    return w;
  });
  return { started, exited };
}

describe(startWorker, () => {
  it('should start a .ts entry that imports @scmi-ts/core, once it reports ready', async () => {
    await withEcho(async (host) => {
      expect(host.name).toBe('echo-worker.ts');
      expect(await host.call('header', 5)).toBe(0x00144000);
    });
  });

  describe('callTransferring', () => {
    it('should move a MessagePort to the worker, which answers on it', async () => {
      await withEcho(async (host) => {
        const { port1, port2 } = new MessageChannel();
        await expect(host.callTransferring('openPort', [port2], port2)).resolves.toBe('open');
        const answer = new Promise<unknown>((resolve) => {
          port1.once('message', resolve);
        });
        port1.postMessage(21);
        await expect(answer).resolves.toBe(42);
        port1.close();
      });
    });

    it('should refuse with E_WORKER_CALL a port passed without being moved, or a list that is not an array, leaving the port usable', async () => {
      await withEcho(async (host) => {
        const { port1, port2 } = new MessageChannel();
        await expect(host.call('openPort', port2)).rejects.toMatchObject({
          code: 'E_WORKER_CALL',
        });
        await expect(
          host.callTransferring('openPort', port2 as never, port2),
        ).rejects.toMatchObject({
          code: 'E_WORKER_CALL',
          message: expect.stringContaining('the transfer list must be an array') as unknown,
        });
        // Still here: it was not moved.
        const echoed = new Promise<unknown>((resolve) => {
          port2.once('message', resolve);
        });
        port1.postMessage('still mine');
        await expect(echoed).resolves.toBe('still mine');
        port1.close();
        // The host goes on.
        await expect(host.call('echo', 1)).resolves.toBe(1);
      });
    });
  });

  describe('callTransferring, with a transfer list the arguments do not all hold', () => {
    it('should refuse with E_WORKER_CALL, nothing moved, a port the arguments do not hold', async () => {
      await withEcho(async (host) => {
        const { port1, port2 } = new MessageChannel();
        // Cloneable arguments: without the check, port2 would go to a worker handler that never
        // sees it, and be unusable here.
        await expect(host.callTransferring('echo', [port2], 1)).rejects.toMatchObject({
          code: 'E_WORKER_CALL',
          message: expect.stringContaining('transfer[0] (') as unknown,
        });
        const echoed = new Promise<unknown>((resolve) => {
          port2.once('message', resolve);
        });
        port1.postMessage('still mine');
        await expect(echoed).resolves.toBe('still mine');
        port1.close();
        port2.close();
        await expect(host.call('echo', 1)).resolves.toBe(1);
      });
    });

    it('should move an ArrayBuffer whose view an argument holds, deep in a plain object', async () => {
      await withEcho(async (host) => {
        const bytes = new Uint8Array([1, 2, 3]);
        const echoed = (await host.callTransferring('echo', [bytes.buffer], {
          frame: { bytes },
        })) as { frame: { bytes: Uint8Array } };
        expect([...echoed.frame.bytes]).toEqual([1, 2, 3]);
        expect(bytes.byteLength).toBe(0); // moved: detached here
      });
    });
  });

  it('should start a .js entry directly, with data as workerData', async () => {
    const host = await startWorker({
      entry: fixture('plain-worker.cjs'),
      data: { n: 7 },
      name: 'plain',
    });
    try {
      expect(host.name).toBe('plain');
      expect(await host.call('anything')).toEqual({ n: 7 });
    } finally {
      await host.stop();
    }
    expect(await host.exited).toBe(0);
  });

  describe('when the entry throws while loading', () => {
    afterEach(() => {
      jest.restoreAllMocks();
    });

    it('should reject with its error, only after the thread has exited', async () => {
      const { started, exited } = trackWorkers();
      const error = await rejection(startWorker({ entry: fixture('throwing-worker.ts') }));
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error.code).toBe('E_WORKER_START');
      expect(error.message).toContain('fixture failed to load (serveWorker is a function)');
      expect((error.cause as Error).message).toContain('fixture failed to load');
      expect(started).toHaveLength(1);
      expect(exited.has(started[0] as Worker)).toBe(true);
    });
  });

  describe('when tsx cannot be found', () => {
    afterEach(() => {
      jest.restoreAllMocks();
    });

    it('should reject a .ts entry with E_WORKER_TSX, before starting any thread', async () => {
      const nodeModule = jest.requireActual<typeof import('node:module')>('node:module');
      const wt = jest.requireActual<typeof import('node:worker_threads')>('node:worker_threads');
      const spawn = jest.spyOn(wt, 'Worker');
      jest.spyOn(nodeModule, 'createRequire').mockReturnValue(
        Object.assign(
          () => {
            throw new Error('unused');
          },
          {
            resolve: () => {
              throw new Error("Cannot find module 'tsx/cjs'");
            },
          },
        ) as unknown as NodeJS.Require,
      );
      const error = await rejection(startWorker({ entry: fixture('echo-worker.ts') }));
      expect(error.code).toBe('E_WORKER_TSX');
      expect(error.message).toContain('needs tsx');
      expect(spawn).not.toHaveBeenCalled();
    });
  });

  it('should reject with E_WORKER_START when the entry exits without serving', async () => {
    const error = await rejection(startWorker({ entry: fixture('silent-worker.ts') }));
    expect(error.code).toBe('E_WORKER_START');
    expect(error.message).toBe('worker "silent-worker.ts" exited with code 0 before it was ready');
  });

  describe('when the entry neither serves nor exits', () => {
    afterEach(() => {
      jest.restoreAllMocks();
    });

    it('should terminate it after startTimeoutMs and reject with E_WORKER_START once it exited', async () => {
      const { started, exited } = trackWorkers();
      const error = await rejection(
        startWorker({
          entry: fixture('rogue-worker.cjs'),
          data: { ready: false },
          startTimeoutMs: 50,
        }),
      );
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error.code).toBe('E_WORKER_START');
      expect(error.message).toBe(
        'worker "rogue-worker.cjs" was not ready within 50 ms: terminated',
      );
      expect(started).toHaveLength(1);
      expect(exited.has(started[0] as Worker)).toBe(true);
    });
  });

  it.each([
    ['startTimeoutMs', 0],
    ['startTimeoutMs', -1],
    ['startTimeoutMs', Number.NaN],
    ['startTimeoutMs', Number.POSITIVE_INFINITY],
    ['startTimeoutMs', 2 ** 31],
    ['startTimeoutMs', '100'],
    ['stopTimeoutMs', -1],
    ['stopTimeoutMs', Number.NaN],
    ['stopTimeoutMs', 2 ** 31],
    ['stopTimeoutMs', '100'],
  ])('should reject %s %p with E_WORKER_OPTIONS, before starting any thread', async (key, ms) => {
    const wt = jest.requireActual<typeof import('node:worker_threads')>('node:worker_threads');
    const spawn = jest.spyOn(wt, 'Worker');
    try {
      const error = await rejection(
        startWorker({
          entry: fixture('rogue-worker.cjs'),
          [key]: ms as number,
        }),
      );
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error.code).toBe('E_WORKER_OPTIONS');
      expect(error.message).toContain(key);
      expect(spawn).not.toHaveBeenCalled();
    } finally {
      spawn.mockRestore();
    }
  });

  it('should clear its start timer once the worker is ready', async () => {
    // The timer must not outlive the start: it would keep the process alive for startTimeoutMs.
    const set = jest.spyOn(global, 'setTimeout');
    const clear = jest.spyOn(global, 'clearTimeout');
    try {
      const host = await startWorker({ entry: fixture('rogue-worker.cjs'), startTimeoutMs: 7777 });
      // Checked before stop: the thread's exit clears it as well.
      const armed = set.mock.calls.findIndex(([, ms]) => ms === 7777);
      const cleared = clear.mock.calls.some(([timer]) => timer === set.mock.results[armed]?.value);
      await host.stop();
      expect(armed).toBeGreaterThanOrEqual(0);
      expect(cleared).toBe(true);
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
  });

  it('should reject with E_WORKER_ENTRY for a relative entry path', async () => {
    const error = await rejection(startWorker({ entry: 'fixtures/echo-worker.ts' }));
    expect(error.code).toBe('E_WORKER_ENTRY');
  });

  it.each([
    ['data that cannot be cloned', { data: () => 1 }],
    ['a name that is not a string', { name: 7 as unknown as string }],
  ])(
    'should reject with E_WORKER_OPTIONS, the cause attached, for %s, starting no thread',
    async (_what, options) => {
      const entry = resolveWorkerEntry(join(__dirname, 'fixtures'), 'echo-worker');
      const error = await rejection(startWorker({ entry, ...options }));
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error.code).toBe('E_WORKER_OPTIONS');
      expect((error as Error).cause).toBeDefined();
    },
  );
});

describe(WorkerHost, () => {
  describe('.call', () => {
    describe('having one worker for the whole block', () => {
      let host: WorkerHost;
      beforeAll(async () => {
        host = await startEcho();
      });
      afterAll(async () => {
        await host.stop();
      });

      it('should answer each call with its own result, sync or async, many at once', async () => {
        const sums = await Promise.all(
          Array.from({ length: 20 }, (_, i) => host.call('add', i, 100)),
        );
        expect(sums).toEqual(Array.from({ length: 20 }, (_, i) => i + 100));
        expect(await host.call('echo', { a: [1, 'two'] })).toEqual({ a: [1, 'two'] });
      });

      it("should reject with an Error that has the worker's name, message and code", async () => {
        const error = await rejection(host.call('fail', 'the platform is on fire'));
        expect(error).toBeInstanceOf(Error);
        expect(error.message).toBe('the platform is on fire');
        expect(error).toBeInstanceOf(ScmiTransportError);
        expect(error.name).toBe('ScmiTransportError');
        expect(error.code).toBe('E_FIXTURE');
        expect(error.stack).toContain('echo-worker');
      });

      it("should reject with the worker's ScmiConfigError as that class, with its field", async () => {
        const error = await rejection(host.call('failConfig', 'wire.pollWindowUs'));
        expect(error).toBeInstanceOf(ScmiConfigError);
        expect(ScmiConfigError.is(error)).toBe(true);
        expect(error.name).toBe('ScmiConfigError');
        expect(error.message).toBe('invalid configuration: wire.pollWindowUs: out of range');
        expect((error as { field?: unknown }).field).toBe('wire.pollWindowUs');
        expect((await rejection(host.call('fail', 'x'))) as object).not.toHaveProperty('field');
      });

      it('should reject with the text of a thrown non-Error', async () => {
        expect((await rejection(host.call('throwString'))).message).toBe('not an Error');
      });

      it.each(['throwNullProto', 'throwBadMessage'])(
        'should reject only the call whose handler threw a value that cannot be described (%s), and go on serving',
        async (method) => {
          const pending = host.call('later', 'still here');
          const error = await rejection(host.call(method));
          expect(error).toBeInstanceOf(Error);
          expect(error.message).toBe('[object Object]');
          expect(await pending).toBe('still here');
          expect(await host.call('add', 1, 2)).toBe(3);
        },
      );

      it('should reject with E_WORKER_NO_METHOD for a method the worker does not serve', async () => {
        const error = await rejection(host.call('toString'));
        expect(error.code).toBe('E_WORKER_NO_METHOD');
        expect(error.message).toBe('the worker has no method "toString"');
      });

      it('should reject when the result or the arguments cannot be cloned, and go on serving', async () => {
        expect((await rejection(host.call('unclonable'))).name).toBe('DataCloneError');
        const error = await rejection(host.call('echo', () => undefined));
        expect(error.code).toBe('E_WORKER_CALL');
        expect(await host.call('echo', 1)).toBe(1);
      });
    });

    it('should reject with E_WORKER_EXITED a call pending when the thread exits', async () => {
      const host = await startEcho();
      const pending = host.call('never');
      await host.worker.terminate();
      const error = await rejection(pending);
      expect(error.code).toBe('E_WORKER_EXITED');
      expect(error.message).toBe(
        'worker "echo-worker.ts" exited with code 1 while "never" was pending',
      );
      expect((await rejection(host.call('echo', 1))).code).toBe('E_WORKER_EXITED');
      expect(host.error).toBeUndefined();
      await host.stop();
    });

    it('should reject a pending call with the uncaught exception that ended the worker as cause', async () => {
      const host = await startEcho();
      const error = await rejection(host.call('crash'));
      expect(error.code).toBe('E_WORKER_EXITED');
      expect(error.message).toBe(
        'worker "echo-worker.ts" failed: worker crashed while "crash" was pending',
      );
      expect((error.cause as Error).message).toBe('worker crashed');
      expect((host.error as Error).message).toBe('worker crashed');
      expect(await host.exited).toBe(1);
      await host.stop();
    });

    it('should reject with E_WORKER_STOPPED once stop was called', async () => {
      const host = await startEcho();
      const stopped = host.stop();
      expect((await rejection(host.call('echo', 1))).code).toBe('E_WORKER_STOPPED');
      await stopped;
      expect((await rejection(host.call('echo', 1))).code).toBe('E_WORKER_STOPPED');
    });
  });

  describe('with a worker that breaks the control protocol', () => {
    it.each([
      ['ok: false without an error', { ok: false }],
      ['ok that is not a boolean', { ok: 'no', value: 1 }],
      ['a null error', { ok: false, error: null }],
      ['an error whose message is not a string', { ok: false, error: { name: 'E', message: 1 } }],
      [
        'an error whose code is not a string',
        { ok: false, error: { name: 'E', message: 'm', code: 7 } },
      ],
    ])(
      'should reject a call answered with %s with E_WORKER_PROTOCOL, and go on serving',
      async (_, fields) => {
        await withRogue(async (host) => {
          const error = await rejection(host.call('reply', fields));
          expect(ScmiTransportError.is(error)).toBe(true);
          expect(error.code).toBe('E_WORKER_PROTOCOL');
          expect(error.message).toBe(
            'worker "rogue-worker.cjs" answered "reply" with a malformed result',
          );
          expect(host.protocolErrors).toBe(1);
          expect(await host.call('reply', { ok: true, value: 2 })).toBe(2);
        });
      },
    );

    it('should drop and count results for no pending call and messages of an unknown kind', async () => {
      await withRogue(async (host) => {
        // Each message arrives before the 'sent' answer that follows it on the same port.
        for (const msg of [
          { __scmiWorker: 'result', id: 'x', ok: true, value: 1 },
          { __scmiWorker: 'result', id: 1.5, ok: true, value: 1 },
          { __scmiWorker: 'result', id: 999, ok: true, value: 1 },
          { __scmiWorker: 'result', ok: false },
          { __scmiWorker: 'bogus' },
        ]) {
          expect(await host.call('send', msg)).toBe('sent');
        }
        expect(host.protocolErrors).toBe(5);
      });
    });

    it('should drop and count a second "ready" and a "stopped" before the host asked to stop, which then does not decide what stop() says', async () => {
      const host = await startWorker({ entry: fixture('rogue-worker.cjs') });
      expect(await host.call('send', { __scmiWorker: 'ready' })).toBe('sent');
      // Malformed, and early: the worker's own answer to stop() is a well-formed report.
      expect(await host.call('send', { __scmiWorker: 'stopped', error: null })).toBe('sent');
      expect(host.protocolErrors).toBe(2);
      await expect(host.stop()).resolves.toBeUndefined();
      expect(host.protocolErrors).toBe(2);
    });

    it('should reject stop with E_WORKER_PROTOCOL when the "stopped" report is malformed', async () => {
      const host = await startWorker({
        entry: fixture('rogue-worker.cjs'),
        data: { stopped: { __scmiWorker: 'stopped', error: null } },
      });
      const error = await rejection(host.stop());
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error.code).toBe('E_WORKER_PROTOCOL');
      expect(error.message).toBe(
        'worker "rogue-worker.cjs": malformed "stopped" message: whether onStop failed is unknown',
      );
      expect(host.protocolErrors).toBe(1);
      expect(await host.exited).toBe(0);
    });
  });

  describe('when a message cannot be deserialized', () => {
    it('should reject the pending calls with E_WORKER_PROTOCOL when one from the worker fails (host side)', async () => {
      await withRogue(async (host) => {
        // The rogue worker never answers "never". Node reports a message that fails to
        // deserialize by emitting 'messageerror' on the Worker; none can be made on purpose.
        const pending = host.call('never');
        const cause = new Error('could not deserialize');
        host.worker.emit('messageerror', cause);
        const error = await rejection(pending);
        expect(ScmiTransportError.is(error)).toBe(true);
        expect(error.code).toBe('E_WORKER_PROTOCOL');
        expect(error.message).toBe(
          'worker "rogue-worker.cjs": a message from the worker could not be deserialized while "never" was pending',
        );
        expect(error.cause).toBe(cause);
        expect(host.protocolErrors).toBe(1);
        expect(await host.call('reply', { ok: true, value: 3 })).toBe(3);
      });
    });

    it('should reject the pending calls with E_WORKER_PROTOCOL when one from the host fails (worker side)', async () => {
      const host = await startEcho();
      const error = await rejection(host.call('loseMessage'));
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error.code).toBe('E_WORKER_PROTOCOL');
      expect(error.message).toBe(
        'worker "echo-worker.ts": the worker could not deserialize a message from the host while "loseMessage" was pending',
      );
      expect((error.cause as Error).message).toBe('could not deserialize');
      expect(await host.call('echo', 1)).toBe(1);
      // The report, then the late answer to "loseMessage".
      expect(host.protocolErrors).toBe(2);
      await host.stop();
      // Listening for 'messageerror' does not keep the thread alive after stop.
      expect(host.terminated).toBe(false);
      expect(await host.exited).toBe(0);
    });
    it('should, in the worker, refuse malformed control messages from the host and go on serving', async () => {
      await withEcho(async (host) => {
        // An unknown kind may have been a call: reported, so the pending calls fail (the echo
        // below was sent after it, and its answer comes after the report).
        host.worker.postMessage({ __scmiWorker: 'stop!' });
        const failed = await rejection(host.call('echo', 1));
        expect(failed.code).toBe('E_WORKER_PROTOCOL');
        expect((failed.cause as Error).message).toBe(
          'a control message of unknown kind "stop!" from the host',
        );
        host.worker.postMessage({ __scmiWorker: 'call', id: 'one', method: 'echo', args: [] });
        expect((await rejection(host.call('echo', 2))).code).toBe('E_WORKER_PROTOCOL');
        // A call with an id is answered (the host never gave id 99: its answer is counted).
        host.worker.postMessage({ __scmiWorker: 'call', id: 99, method: 'echo', args: 3 });
        expect(await host.call('echo', 4)).toBe(4);
        // Two reports, the late answers to the two echoes they failed, and the answer for id 99.
        expect(host.protocolErrors).toBe(5);
      });
    });
  });

  describe('.stop', () => {
    it('should let the calls in flight answer, then let the thread exit by itself', async () => {
      const host = await startEcho();
      const inFlight = host.call('later', 'answered');
      const stopped = host.stop();
      expect(host.stop()).toBe(stopped);
      await expect(inFlight).resolves.toBe('answered');
      await stopped;
      expect(await host.exited).toBe(0);
      expect(host.terminated).toBe(false);
    });

    it('should terminate a worker that does not exit within stopTimeoutMs', async () => {
      const host = await startEcho({ leak: true }, 100);
      await host.stop();
      expect(host.terminated).toBe(true);
      expect(await host.exited).toBe(1);
    });

    it('should tell a call pending when stop() had to terminate the worker that it was terminated', async () => {
      const host = await startEcho({}, 100);
      const pending = rejection(host.call('never'));
      await host.stop();
      const error = await pending;
      expect(error.code).toBe('E_WORKER_EXITED');
      expect(error.message).toBe(
        'worker "echo-worker.ts" was terminated by stop() after 100 ms while "never" was pending',
      );
    });

    it("should reject with E_WORKER_STOP when the worker's onStop throws, after the thread exited", async () => {
      const host = await startEcho({ failStop: true });
      const error = await rejection(host.stop());
      expect(error.code).toBe('E_WORKER_STOP');
      expect(error.message).toBe('worker "echo-worker.ts": onStop failed: onStop exploded');
      expect(await host.exited).toBe(0);
    });

    it('should be what Symbol.asyncDispose does', async () => {
      const host = await startEcho();
      await host[Symbol.asyncDispose]();
      expect(await host.exited).toBe(0);
    });
  });
});

describe(callForId, () => {
  const host = (answer: unknown): Pick<WorkerHost, 'name' | 'call'> => ({
    name: 'rogue',
    call: () => Promise.resolve(answer),
  });

  it('should resolve with an integer answer', async () => {
    expect(await callForId(host(7), 'a device id', 'attach')).toBe(7);
  });

  it.each(['1', 1.5, undefined, null])(
    'should reject an answer of %p with E_WORKER_PROTOCOL, naming what was expected',
    async (answer) => {
      const error: unknown = await callForId(host(answer), 'a device id', 'attach').catch(
        (e: unknown) => e,
      );
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error).toMatchObject({
        code: 'E_WORKER_PROTOCOL',
        message: `worker "rogue" answered "attach" with ${String(answer)}, not a device id`,
      });
    },
  );
});

describe(resolveWorkerEntry, () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'scmi-worker-entry-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('should prefer the .ts beside the caller (running from sources)', () => {
    writeFileSync(join(dir, 'w.ts'), '');
    writeFileSync(join(dir, 'w.js'), '');
    expect(resolveWorkerEntry(dir, 'w')).toBe(join(dir, 'w.ts'));
  });

  it('should take the .js when there is no .ts (running from dist/), ignoring .d.ts', () => {
    writeFileSync(join(dir, 'w.js'), '');
    writeFileSync(join(dir, 'w.d.ts'), '');
    expect(resolveWorkerEntry(dir, 'w')).toBe(join(dir, 'w.js'));
  });

  it('should throw E_WORKER_ENTRY naming the files it tried when there is none', () => {
    const resolve = (): string => resolveWorkerEntry(dir, 'w');
    expect(resolve).toThrow(ScmiTransportError);
    expect(resolve).toThrow(expect.objectContaining({ code: 'E_WORKER_ENTRY' }) as Error);
    expect(resolve).toThrow(`no worker entry (w.ts, w.mts, w.js, w.mjs) in ${dir}`);
  });

  it('should take an ES module entry, .mts from sources and .mjs built, after .ts and .js', () => {
    writeFileSync(join(dir, 'w.mjs'), '');
    expect(resolveWorkerEntry(dir, 'w')).toBe(join(dir, 'w.mjs'));
    writeFileSync(join(dir, 'w.js'), '');
    expect(resolveWorkerEntry(dir, 'w')).toBe(join(dir, 'w.js'));
    writeFileSync(join(dir, 'w.mts'), '');
    expect(resolveWorkerEntry(dir, 'w')).toBe(join(dir, 'w.mts'));
  });

  it('should start an .mts entry through tsx, where import.meta.dirname is its directory', async () => {
    const host = await startWorker({ entry: resolveWorkerEntry(fixture(''), 'esm-worker') });
    try {
      expect(await host.call('where')).toBe(fixture('').replace(/\/$/, ''));
    } finally {
      await host.stop();
    }
  });
});
