import {
  Devres,
  DevresKey,
  DevresClosedError,
  DevresError,
  DevresEventLog,
  DevresReleaseError,
  RevokedError,
  checkDevresSteps,
  type DevresGroup,
  ensureNoLeaksInSuite,
  getReleaseFailure,
  type TeardownReason,
} from '@scmi-ts/devres';

/** Resolves after `n` macrotask turns. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

function recorder(): { log: string[]; step: (tag: string) => () => void } {
  const log: string[] = [];
  return { log, step: (tag) => () => void log.push(tag) };
}

const K = new DevresKey<number>('k');
const X = new DevresKey<number>('x');
const POOL = new DevresKey<{ n: number }>('pool');

describe(Devres, () => {
  ensureNoLeaksInSuite();

  describe('.releaseAll', () => {
    it('should quiesce every resource newest first, then release every resource newest first', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      for (const n of ['a', 'b', 'c']) {
        res.add({
          name: n,
          value: n,
          quiesce: step(`quiesce ${n}`),
          release: step(`release ${n}`),
        });
      }
      await res.releaseAll();
      expect(log).toEqual([
        'quiesce c',
        'quiesce b',
        'quiesce a',
        'release c',
        'release b',
        'release a',
      ]);
      expect(res.state).toBe('closed');
    });

    it('should start the newest quiesce step in the releaseAll() call itself', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.add({ name: 'a', value: 1, quiesce: step('quiesce a'), release: step('release a') });
      const done = res.releaseAll();
      // Nothing awaited yet: a callback that runs now already finds the resource quiesced.
      expect(log[0]).toBe('quiesce a');
      await done;
      expect(log).toEqual(['quiesce a', 'release a']);
    });

    it('should await async steps one by one', async () => {
      const log: string[] = [];
      const res = new Devres('dev');
      for (const n of [1, 2, 3]) {
        res.addAction(`r${n}`, async () => {
          log.push(`begin ${n}`);
          await new Promise((r) => setImmediate(r));
          log.push(`end ${n}`);
        });
      }
      await res.releaseAll();
      expect(log).toEqual(['begin 3', 'end 3', 'begin 2', 'end 2', 'begin 1', 'end 1']);
    });

    it('should await each async quiesce step before starting the next, older one', async () => {
      const log: string[] = [];
      const res = new Devres('dev');
      for (const n of [1, 2, 3]) {
        res.add({
          name: `r${n}`,
          value: n,
          quiesce: async () => {
            log.push(`begin ${n}`);
            await new Promise((r) => setImmediate(r));
            log.push(`end ${n}`);
          },
          release: () => void log.push(`release ${n}`),
        });
      }
      await res.releaseAll();
      expect(log).toEqual([
        'begin 3',
        'end 3',
        'begin 2',
        'end 2',
        'begin 1',
        'end 1',
        'release 3',
        'release 2',
        'release 1',
      ]);
    });

    it('should run every older quiesce step and every release when a quiesce step fails', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.add({ name: 'a', value: 0, quiesce: step('quiesce a'), release: step('release a') });
      res.add({
        name: 'b',
        value: 0,
        quiesce: () => Promise.reject(new Error('q-b')),
        release: step('release b'),
      });
      res.add({
        name: 'c',
        value: 0,
        quiesce: () => {
          throw new Error('q-c');
        },
        release: step('release c'),
      });
      const error = await res.releaseAll().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(log).toEqual(['quiesce a', 'release c', 'release b', 'release a']);
      expect(DevresReleaseError.is(error)).toBe(true);
      expect((error as DevresReleaseError).failures.map((f) => [f.resource, f.phase])).toEqual([
        ['c', 'quiesce'],
        ['b', 'quiesce'],
      ]);
    });

    it('should run every step when some throw and report them in one DevresReleaseError', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.add({ name: 'a', value: 0, release: step('release a') });
      res.add({
        name: 'b',
        value: 0,
        quiesce: () => {
          throw new Error('q-b');
        },
        release: () => Promise.reject(new Error('r-b')),
      });
      res.add({ name: 'c', value: 0, release: step('release c') });
      const error = await res.releaseAll().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(DevresReleaseError.is(error)).toBe(true);
      const agg = error as DevresReleaseError;
      expect(agg).toBeInstanceOf(AggregateError);
      expect(agg.failures.map((f) => [f.resource, f.phase])).toEqual([
        ['b', 'quiesce'],
        ['b', 'release'],
      ]);
      expect(agg.errors.map((e) => (e as Error).message)).toEqual(['q-b', 'r-b']);
      expect(agg.message).toContain('b (quiesce)');
      expect(log).toEqual(['release c', 'release a']);
    });

    it('should give the DevresReleaseError the code E_RELEASE, beside the codes of the other errors', async () => {
      const res = new Devres('dev');
      res.addAction('bad', () => {
        throw new Error('boom');
      });
      const error = await res.releaseAll().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DevresReleaseError);
      const code = (e: unknown): unknown => (e as { code?: unknown }).code;
      expect(code(error)).toBe('E_RELEASE');
      // One switch covers every devres error.
      expect(
        [error, new RevokedError('x'), new DevresError('E_NOT_LIVE', 'x')].map((e) => code(e)),
      ).toEqual(['E_RELEASE', 'E_REVOKED', 'E_NOT_LIVE']);
      expect(new DevresReleaseError('dev', [], { kind: 'dispose' }).code).toBe('E_RELEASE');
    });

    it('should show what each step threw in the message, a non-Error readably', async () => {
      const res = new Devres('dev');
      res.addAction('error', () => {
        throw new TypeError('bad type');
      });
      res.addAction('string', () => {
        throw 'a string'; // eslint-disable-line @typescript-eslint/only-throw-error
      });
      res.addAction('number', () => Promise.reject(42)); // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
      res.addAction('unprintable', () => {
        throw Object.create(null); // no toString: String() throws
      });
      const error = (await res.releaseAll().catch((e: unknown) => e)) as DevresReleaseError;
      expect(error.message).toBe(
        'dev: 4 teardown step(s) failed: unprintable (release): <unprintable>; ' +
          'number (release): 42; string (release): a string; error (release): TypeError: bad type',
      );
      // The thrown values themselves, unchanged.
      expect(error.errors.slice(1, 3)).toEqual([42, 'a string']);
      expect(res.state).toBe('closed'); // an unprintable value does not break the teardown
    });

    it('should keep the probe error as cause when the reason is probe-failed', async () => {
      const res = new Devres('dev');
      res.addAction('bad', () => {
        throw new Error('boom');
      });
      const probeError = new Error('probe');
      const e = (await res
        .releaseAll({ kind: 'probe-failed', error: probeError })
        .catch((x: unknown) => x)) as Error;
      expect(e.cause).toBe(probeError);
    });

    it('should pass the reason to every step', async () => {
      const seen: TeardownReason[] = [];
      const res = new Devres('dev');
      res.add({
        name: 'x',
        value: 1,
        quiesce: (_v, r) => void seen.push(r),
        release: (_v, r) => void seen.push(r),
      });
      res.addAction('y', (r) => void seen.push(r));
      await res.releaseAll({ kind: 'remove' });
      expect(seen.map((r) => r.kind)).toEqual(['remove', 'remove', 'remove']);
    });

    it('should share one promise between concurrent calls', async () => {
      let releases = 0;
      const res = new Devres('dev');
      res.addAction('x', async () => {
        releases++;
        await Promise.resolve();
      });
      const p1 = res.releaseAll();
      const p2 = res.releaseAll();
      expect(p2).toBe(p1);
      await Promise.all([p1, p2]);
      await res.releaseAll();
      expect(releases).toBe(1);
    });

    it('should give a synchronous step that calls releaseAll() the same promise, not a second teardown', async () => {
      const log = new DevresEventLog();
      const res = new Devres('dev', { log: log.sink });
      let inner: Promise<void> | undefined;
      let releases = 0;
      res.add({
        name: 'a',
        value: 1,
        quiesce: () => {
          inner = res.releaseAll();
        },
        release: () => {
          releases++;
        },
      });
      const outer = res.releaseAll();
      expect(inner).toBe(outer);
      await outer;
      expect(releases).toBe(1);
      expect(log.filter('teardown-begin', 'teardown-end').map((e) => e.type)).toEqual([
        'teardown-begin',
        'teardown-end',
      ]);
    });

    it('should revoke every handle after release', async () => {
      const res = new Devres('dev');
      const h = res.add({ name: 'chan', value: { id: 1 }, release: () => undefined });
      expect(h.value.id).toBe(1);
      await res.releaseAll();
      expect(h.state).toBe('released');
      expect(() => h.value).toThrow(RevokedError);
    });

    it('should work with await using', async () => {
      const { log, step } = recorder();
      {
        await using res = new Devres('dev');
        res.addAction('a', step('a'));
      }
      expect(log).toEqual(['a']);
    });
  });

  describe('.add', () => {
    describe('when called after teardown began', () => {
      it('should refuse with DevresClosedError and release the offered resource at once', async () => {
        const { log, step } = recorder();
        const res = new Devres('dev');
        let error: unknown;
        res.addAction('registers late', () => {
          try {
            res.add({ name: 'late', value: 0, release: step('release late') });
          } catch (e) {
            error = e;
          }
        });
        await res.releaseAll();
        expect(error).toBeInstanceOf(DevresClosedError);
        expect((error as DevresError).code).toBe('E_CLOSED');
        expect(log).toEqual(['release late']);
        expect(() => res.add({ name: 'after', value: 0, release: step('release after') })).toThrow(
          DevresClosedError,
        );
        expect(log).toEqual(['release late', 'release after']);
      });

      it('should report a failing immediate release in the teardown error and as release-failed', async () => {
        const log = new DevresEventLog();
        const res = new Devres('dev', { log: log.sink });
        const boom = new Error('late release failed');
        let refused: DevresClosedError | undefined;
        res.addAction('older', () => undefined);
        res.addAction('registers late', () => {
          try {
            res.add({ name: 'late', value: 1, release: () => Promise.reject(boom) });
          } catch (e) {
            refused = e as DevresClosedError;
          }
        });
        const error = await res.releaseAll().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(refused).toBeInstanceOf(DevresClosedError);
        expect(DevresReleaseError.is(error)).toBe(true);
        expect((error as DevresReleaseError).failures).toEqual([
          { resource: 'late', phase: 'release', error: boom },
        ]);
        expect((error as DevresReleaseError).reason).toEqual({ kind: 'dispose' });
        expect(log.filter('release-failed').map((e) => [e.resource, e.reason, e.error])).toEqual([
          ['late', 'refused', boom],
        ]);
        expect(log.events.at(-1)?.type).toBe('teardown-end');
        // The refused caller still sees it too.
        await refused?.released;
        expect(refused?.releaseError).toBe(boom);
      });

      it('should report a close that throws when acquire is refused during teardown', async () => {
        const res = new Devres('dev');
        const boom = new Error('close failed');
        let acquiring: Promise<unknown> | undefined;
        res.addAction('acquires late', () => {
          acquiring = res
            .acquire(
              'late',
              () => 1,
              () => {
                throw boom;
              },
            )
            .catch((e: unknown) => e);
        });
        const error = await res.releaseAll().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((error as DevresReleaseError).failures).toEqual([
          { resource: 'late', phase: 'release', error: boom },
        ]);
        const refused = (await acquiring) as DevresClosedError;
        expect(refused).toBeInstanceOf(DevresClosedError);
        expect(refused.releaseError).toBe(boom);
      });

      it('should record the failure of the immediate release in releaseError', async () => {
        const res = new Devres('dev');
        await res.releaseAll();
        const boom = new Error('boom');
        let closed: DevresClosedError | undefined;
        try {
          res.add({ name: 'late', value: 0, release: () => Promise.reject(boom) });
        } catch (e) {
          closed = e as DevresClosedError;
        }
        await closed?.released;
        expect(closed?.releaseError).toBe(boom);
      });

      it('should log a failing immediate release after teardown as release-failed', async () => {
        const log = new DevresEventLog();
        const res = new Devres('dev', { log: log.sink });
        await res.releaseAll();
        const boom = new Error('boom');
        let closed: DevresClosedError | undefined;
        try {
          res.add({
            name: 'late',
            value: 0,
            release: () => {
              throw boom;
            },
          });
        } catch (e) {
          closed = e as DevresClosedError;
        }
        await closed?.released;
        expect(closed?.releaseError).toBe(boom);
        expect(
          log.filter('refuse', 'release-failed').map((e) => `${e.type}:${e.resource}`),
        ).toEqual(['refuse:late', 'release-failed:late']);
      });
    });

    it('should reject a duplicate key without releasing anything', () => {
      const res = new Devres('dev');
      const release = jest.fn();
      res.add({ name: 'a', value: 1, release: () => undefined, key: K });
      expect(() => res.add({ name: 'b', value: 2, release, key: K })).toThrow(
        expect.objectContaining({ code: 'E_DUPLICATE_KEY' }) as Error,
      );
      expect(release).not.toHaveBeenCalled();
      return res.releaseAll();
    });
  });

  describe('registration arguments', () => {
    const notAFunction = 'nope' as never;
    it.each([
      ['add(null)', (res: Devres) => res.add(null as never)],
      [
        'add, release not a function',
        (res: Devres) => res.add({ name: 'a', value: 1, release: notAFunction }),
      ],
      [
        'add, quiesce not a function',
        (res: Devres) =>
          res.add({ name: 'a', value: 1, release: () => undefined, quiesce: notAFunction }),
      ],
      ['addAction', (res: Devres) => res.addAction('a', notAFunction)],
      ['addActionOrReset', (res: Devres) => res.addActionOrReset('a', notAFunction)],
      [
        'addAction, quiesce',
        (res: Devres) => res.addAction('a', () => undefined, { quiesce: notAFunction }),
      ],
      ['revocable', (res: Devres) => res.revocable('a', 1, notAFunction)],
      [
        'getOrAdd',
        (res: Devres) => res.getOrAdd(K, () => ({ name: 'a', value: 1, release: notAFunction })),
      ],
    ])(
      'should refuse %s with E_ARGUMENT, registering nothing, before and during teardown',
      async (_what, register) => {
        for (const during of [false, true]) {
          const res = new Devres('dev');
          let teardown: Promise<void> | undefined;
          if (during) {
            let go!: () => void;
            res.addAction('held', () => new Promise<void>((r) => (go = r)));
            teardown = res.releaseAll();
            await turns(1);
            expect(() => register(res)).toThrow(
              expect.objectContaining({ code: 'E_ARGUMENT' }) as Error,
            );
            go();
          } else {
            expect(() => register(res)).toThrow(DevresError);
            expect(() => register(res)).toThrow(
              expect.objectContaining({ code: 'E_ARGUMENT' }) as Error,
            );
            expect(res.size).toBe(0);
          }
          await (teardown ?? res.releaseAll()); // nothing fails at teardown
        }
      },
    );

    it('should refuse acquire with a close step that is not a function before calling open', async () => {
      const res = new Devres('dev');
      const open = jest.fn(() => 1);
      await expect(res.acquire('a', open, notAFunction)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
        message: /acquire\(a\): close must be a function/,
      });
      await expect(res.acquire('a', notAFunction, () => undefined)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
      expect(open).not.toHaveBeenCalled();
      await res.releaseAll();
    });
  });

  describe('names and group arguments', () => {
    /** What `attempt` threw or rejected with (`undefined` when it succeeded). */
    async function failure(attempt: () => unknown): Promise<unknown> {
      try {
        await attempt();
      } catch (e) {
        return e;
      }
      return undefined;
    }

    const fn = jest.fn();
    const step = jest.fn();
    afterEach(() => {
      fn.mockClear();
      step.mockClear();
    });
    const bad = [
      ['a number', 42 as never, 'not number'],
      ['undefined', undefined as never, 'not undefined'],
      ['an empty string', '', 'not an empty string'],
    ] as const;
    const calls: readonly (readonly [string, (res: Devres, name: string) => unknown])[] = [
      ['add', (res, name) => res.add({ name, value: 1, release: step, quiesce: step })],
      ['addAction', (res, name) => res.addAction(name, step)],
      ['addActionOrReset', (res, name) => res.addActionOrReset(name, step)],
      ['revocable', (res, name) => res.revocable(name, 1, step)],
      ['acquire', (res, name) => res.acquire(name, fn, step)],
      ['openGroup', (res, name) => res.openGroup(name)],
      ['group', (res, name) => res.group(name, fn)],
    ];

    it.each(
      calls.flatMap(([op, call]) =>
        bad.map(([what, name, says]) => [op, what, call, name, says] as const),
      ),
    )(
      'should refuse %s with a name that is %s with E_ARGUMENT, before and during teardown, changing nothing',
      async (op, _what, call, name, says) => {
        for (const during of [false, true]) {
          const log = new DevresEventLog();
          const res = new Devres('dev', { log: log.sink });
          let go: (() => void) | undefined;
          let teardown: Promise<void> | undefined;
          if (during) {
            res.addAction('held', () => new Promise<void>((r) => (go = r)));
            teardown = res.releaseAll();
            await turns(1);
          }
          const events = log.events.length;
          const error = await failure(() => call(res, name));
          expect(error).toBeInstanceOf(DevresError);
          expect(error).toMatchObject({
            code: 'E_ARGUMENT',
            message: expect.stringContaining(
              `${op}: the name must be a non-empty string, ${says}; nothing was`,
            ) as string,
          });
          // Nothing registered, opened, refused or released; no step or function called.
          expect(log.events).toHaveLength(events);
          expect(res.live()).toEqual([]);
          expect(fn).not.toHaveBeenCalled();
          expect(step).not.toHaveBeenCalled();
          go?.();
          await (teardown ?? res.releaseAll()); // nothing fails at teardown
          expect(step).not.toHaveBeenCalled();
        }
      },
    );

    it('should refuse group() with a function that is not one with E_ARGUMENT, opening nothing', async () => {
      const log = new DevresEventLog();
      const res = new Devres('dev', { log: log.sink });
      for (const notFn of [5, undefined, null, 'fn']) {
        await expect(res.group('tx', notFn as never)).rejects.toMatchObject({
          name: 'DevresError',
          code: 'E_ARGUMENT',
          message: `group(tx): fn must be a function, not ${notFn === null ? 'null' : typeof notFn}; nothing was opened`,
        });
      }
      expect(log.events).toEqual([]);
      expect(res.live()).toEqual([]);
      // Still open and usable: a transaction after the refusals works as ever.
      await res.group('tx', (g) => void g.addAction('in tx', () => undefined));
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual(['tx:in tx']);
      await res.releaseAll();
    });

    it('should refuse a group() with a function that is not one during teardown with E_ARGUMENT, not E_CLOSED', async () => {
      const log = new DevresEventLog();
      const res = new Devres('dev', { log: log.sink });
      await res.releaseAll();
      const events = log.events.length;
      await expect(res.group('tx', 5 as never)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(log.events).toHaveLength(events); // no refuse, no group-open
    });

    it('should refuse a device name that is not a non-empty string', () => {
      for (const name of [42, undefined, null, '', {}]) {
        expect(() => new Devres(name as never)).toThrow(
          expect.objectContaining({
            name: 'DevresError',
            code: 'E_ARGUMENT',
            message: expect.stringMatching(
              /^new Devres: the name must be a non-empty string, not /,
            ) as string,
          }) as Error,
        );
      }
    });

    it('should accept names that are non-empty strings, however short', async () => {
      const res = new Devres(' ');
      res.addAction('a', () => undefined);
      const g = res.openGroup('g');
      g.addAction('b', () => undefined);
      g.close();
      await res.group('t', (t) => void t.addAction('c', () => undefined));
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual([':a', 'g:b', 't:c']);
      await res.releaseAll();
    });
  });

  describe('.acquire', () => {
    it('should open then register, and return a handle to the value', async () => {
      const res = new Devres('dev');
      const close = jest.fn();
      const h = await res.acquire('fd', () => Promise.resolve(42), close);
      expect(h.value).toBe(42);
      await res.releaseAll();
      expect(close).toHaveBeenCalledWith(42, { kind: 'dispose' });
    });

    it('should close at once and throw when teardown began while open was running', async () => {
      const res = new Devres('dev');
      let finishOpen!: (v: number) => void;
      const close = jest.fn();
      const acquiring = res.acquire(
        'fd',
        () => new Promise<number>((r) => (finishOpen = r)),
        close,
      );
      await Promise.resolve();
      const teardown = res.releaseAll();
      finishOpen(7);
      await expect(acquiring).rejects.toBeInstanceOf(DevresClosedError);
      expect(close).toHaveBeenCalledWith(7, { kind: 'refused' });
      await teardown;
    });

    it('should not open when the key is already registered', async () => {
      const res = new Devres('dev');
      res.add({ name: 'first', value: 1, release: () => undefined, key: K });
      const open = jest.fn(() => 2);
      const close = jest.fn();
      await expect(res.acquire('second', open, close, { key: K })).rejects.toMatchObject({
        code: 'E_DUPLICATE_KEY',
      });
      expect(open).not.toHaveBeenCalled();
      await res.releaseAll();
      expect(close).not.toHaveBeenCalled();
    });

    it('should close the opened value at once when registration fails after open returned', async () => {
      const res = new Devres('dev');
      let finishOpen!: (v: number) => void;
      const close = jest.fn();
      const acquiring = res.acquire(
        'second',
        () => new Promise<number>((r) => (finishOpen = r)),
        close,
        { key: K },
      );
      await Promise.resolve();
      res.add({ name: 'first', value: 1, release: () => undefined, key: K }); // while open runs
      finishOpen(2);
      const error = await acquiring.catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'E_DUPLICATE_KEY' });
      expect(getReleaseFailure(error)).toBeUndefined();
      expect(close).toHaveBeenCalledWith(2, { kind: 'refused' });
      expect(res.live().map((r) => r.name)).toEqual(['first']);
      await res.releaseAll();
      expect(close).toHaveBeenCalledTimes(1);
    });

    it('should attach the failure of that close to the registration error and log it', async () => {
      const log = new DevresEventLog();
      const res = new Devres('dev', { log: log.sink });
      let finishOpen!: (v: number) => void;
      const boom = new Error('close failed');
      const acquiring = res.acquire(
        'second',
        () => new Promise<number>((r) => (finishOpen = r)),
        () => Promise.reject(boom),
        { key: K },
      );
      await Promise.resolve();
      res.add({ name: 'first', value: 1, release: () => undefined, key: K });
      finishOpen(2);
      const error = await acquiring.catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'E_DUPLICATE_KEY' });
      const failure = getReleaseFailure(error);
      expect(failure?.failures).toEqual([{ resource: 'second', phase: 'release', error: boom }]);
      expect(failure?.reason).toEqual({ kind: 'refused' });
      expect(log.filter('release-failed').map((e) => [e.resource, e.error])).toEqual([
        ['second', boom],
      ]);
      await res.releaseAll();
    });

    it('should register nothing when open throws', async () => {
      const res = new Devres('dev');
      const close = jest.fn();
      await expect(res.acquire('fd', () => Promise.reject(new Error('no')), close)).rejects.toThrow(
        'no',
      );
      expect(res.size).toBe(0);
      await res.releaseAll();
      expect(close).not.toHaveBeenCalled();
    });
  });

  describe('refused registrations with a quiesce step', () => {
    it('should quiesce, then release, a resource add() offers after teardown began', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      const teardown = res.releaseAll();
      let refused: unknown;
      try {
        res.add({
          name: 'chan',
          value: 1,
          quiesce: step('quiesce chan'),
          release: step('free chan'),
        });
      } catch (e) {
        refused = e;
      }
      expect(refused).toBeInstanceOf(DevresClosedError);
      await (refused as DevresClosedError).released;
      await teardown;
      expect(log).toEqual(['quiesce chan', 'free chan']);
    });

    it('should quiesce, then close, what acquire() opened when teardown began while it opened', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      let opened: ((v: number) => void) | undefined;
      const acquiring = res.acquire(
        'chan',
        () => new Promise<number>((r) => (opened = r)), // the RX path is armed in here
        step('free chan'),
        {
          quiesce: async () => {
            log.push('quiesce chan');
            await turns(1);
            log.push('chan quiesced');
          },
        },
      );
      await turns(1);
      const teardown = res.releaseAll();
      opened?.(1);
      await expect(acquiring).rejects.toBeInstanceOf(DevresClosedError);
      await teardown;
      expect(log).toEqual(['quiesce chan', 'chan quiesced', 'free chan']);
    });

    it('should still release a refused resource whose quiesce step fails, and report it to the teardown', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      const quiesceError = new Error('quiesce failed');
      let refused: DevresClosedError | undefined;
      // Offered while the teardown runs (from a quiesce step of an older resource).
      res.add({
        name: 'older',
        value: 0,
        quiesce: () => {
          try {
            res.add({
              name: 'chan',
              value: 1,
              quiesce: () => {
                throw quiesceError;
              },
              release: step('free chan'),
            });
          } catch (e) {
            refused = e as DevresClosedError;
          }
        },
        release: step('free older'),
      });
      const teardown = res.releaseAll();
      await expect(teardown).rejects.toMatchObject({
        failures: [{ resource: 'chan', phase: 'quiesce', error: quiesceError }],
      });
      await refused?.released;
      expect(refused?.releaseError).toBe(quiesceError);
      expect(log).toEqual(['free chan', 'free older']);
    });
  });

  it('should count a step whose returned value has a throwing then getter as a failed step, and go on', async () => {
    const res = new Devres('dev');
    const order: string[] = [];
    const boom = new Error('no then');
    res.addAction('older', () => void order.push('release older'));
    res.add({
      name: 'odd',
      value: 0,
      release: (): PromiseLike<void> => ({
        get then(): never {
          throw boom;
        },
      }),
    });
    const error = await res.releaseAll().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(order).toEqual(['release older']);
    expect(DevresReleaseError.is(error) && error.failures).toEqual([
      { resource: 'odd', phase: 'release', error: boom },
    ]);
    expect(res.live()).toEqual([]);
  });

  describe('refused registrations while the teardown moves on', () => {
    /** Resolves after `n` microtasks. */
    async function microtasks(n: number): Promise<void> {
      for (let i = 0; i < n; i++) await Promise.resolve();
    }

    it.each([0, 1, 2, 3, 4, 5, 6])(
      'should join a release refused %i microtasks after the last release step while still releasing, and report its failure',
      async (n) => {
        const log = new DevresEventLog();
        const res = new Devres('dev', { log: log.sink });
        const boom = new Error('late release failed');
        const order: string[] = [];
        let endedBeforeAdd: boolean | undefined;
        res.addAction('r0', () => {
          void microtasks(n).then(() => {
            endedBeforeAdd = log.filter('teardown-end').length > 0;
            try {
              res.add({
                name: 'late',
                value: 0,
                release: async () => {
                  await microtasks(2);
                  order.push('release late');
                  throw boom;
                },
              });
            } catch {
              // Refused (DevresClosedError): released at once, as checked below.
            }
          });
        });
        const error = await res.releaseAll().then(
          () => undefined,
          (e: unknown) => e,
        );
        order.push('teardown settled');
        await microtasks(20);
        if (endedBeforeAdd === false) {
          // Refused while the teardown was still releasing: part of it.
          expect(order).toEqual(['release late', 'teardown settled']);
          expect(DevresReleaseError.is(error) && error.failures).toEqual([
            { resource: 'late', phase: 'release', error: boom },
          ]);
        } else {
          // Refused once the teardown had ended: released on its own, not reported there.
          expect(error).toBeUndefined();
          expect(order).toEqual(['teardown settled', 'release late']);
        }
      },
    );

    it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])(
      'should finish quiescing a resource refused %i microtasks after the quiesce steps before releasing older ones',
      async (n) => {
        const log = new DevresEventLog();
        const res = new Devres('dev', { log: log.sink });
        const order: string[] = [];
        const later: { group?: DevresGroup } = {}; // made after r0, so newer
        let olderReleased: boolean | undefined;
        let duringTeardown: boolean | undefined;
        res.add({
          name: 'r0',
          value: 0,
          quiesce: () => {
            // Something runs in the teardown (a group's own release), then a late registration.
            void later.group?.releaseAll();
            void microtasks(n).then(() => {
              olderReleased = order.includes('release r0');
              duringTeardown = log.filter('teardown-end').length === 0;
              try {
                res.add({
                  name: 'late',
                  value: 0,
                  quiesce: async () => {
                    order.push('quiesce late');
                    await microtasks(3);
                    order.push('late quiesced');
                  },
                  release: () => void order.push('release late'),
                });
              } catch {
                // Refused (DevresClosedError): quiesced and released at once.
              }
            });
          },
          release: () => void order.push('release r0'),
        });
        const g = res.openGroup('g');
        g.addAction('in group', () => void order.push('release in group'));
        g.close();
        later.group = g;
        await res.releaseAll();
        order.push('teardown settled');
        await microtasks(30);
        expect(order).toContain('release in group');
        expect(order).toContain('release late');
        if (olderReleased === false) {
          // Refused before the older one was released: reverse order holds, nothing older is
          // released while the late one still quiesces.
          expect(order.indexOf('late quiesced')).toBeLessThan(order.indexOf('release r0'));
          expect(order.indexOf('release late')).toBeLessThan(order.indexOf('release r0'));
        }
        // Refused while the teardown ran: it joined it.
        if (duringTeardown === true) {
          expect(order.indexOf('release late')).toBeLessThan(order.indexOf('teardown settled'));
        }
      },
    );
  });

  describe('.addAction', () => {
    it('should not run the action when registration is refused', async () => {
      const res = new Devres('dev');
      await res.releaseAll();
      const action = jest.fn();
      expect(() => res.addAction('a', action)).toThrow(DevresClosedError);
      expect(action).not.toHaveBeenCalled();
    });
  });

  describe('.addActionOrReset', () => {
    it('should run the action at once when registration is refused', async () => {
      const res = new Devres('dev');
      await res.releaseAll();
      const action = jest.fn();
      let error: unknown;
      try {
        res.addActionOrReset('a', action);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DevresClosedError);
      await (error as DevresClosedError).released;
      expect(action).toHaveBeenCalledWith({ kind: 'refused' });
    });

    it('should register the action like addAction otherwise', async () => {
      const res = new Devres('dev');
      const action = jest.fn();
      res.addActionOrReset('a', action, { key: new DevresKey<undefined>('a') });
      expect(res.find(new DevresKey('a'))).toBeUndefined();
      expect(res.live().map((r) => r.name)).toEqual(['a']);
      await res.releaseAll();
      expect(action).toHaveBeenCalledTimes(1);
    });
  });

  describe('.release', () => {
    it('should quiesce then release one resource early, once', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.addAction('a', step('release a'));
      const h = res.add({
        name: 'b',
        value: 0,
        quiesce: step('quiesce b'),
        release: step('release b'),
      });
      await res.release(h);
      expect(log).toEqual(['quiesce b', 'release b']);
      await expect(res.release(h)).rejects.toMatchObject({ code: 'E_NOT_LIVE' });
      expect(() => h.value).toThrow(RevokedError);
      await res.releaseAll();
      expect(log).toEqual(['quiesce b', 'release b', 'release a']);
    });

    it('should report a failing early release and still release it', async () => {
      const res = new Devres('dev');
      const h = res.addAction('bad', () => {
        throw new Error('x');
      });
      await expect(res.release(h)).rejects.toBeInstanceOf(DevresReleaseError);
      expect(h.state).toBe('released');
      await res.releaseAll();
    });

    it('should still release a resource whose quiesce step fails, and reject with that failure', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      const h = res.add({
        name: 'chan',
        value: 1,
        quiesce: () => {
          throw new Error('quiesce failed');
        },
        release: step('release chan'),
      });
      await expect(res.release(h)).rejects.toBeInstanceOf(DevresReleaseError);
      expect(log).toEqual(['release chan']);
      expect(h.state).toBe('released');
      await res.releaseAll();
      expect(log).toEqual(['release chan']);
    });

    it('should reject a handle from another device', async () => {
      const a = new Devres('a');
      const b = new Devres('b');
      const h = a.addAction('x', () => undefined);
      // A rejection, as every failure of release(): never a synchronous throw.
      const released = b.release(h);
      await expect(released).rejects.toBeInstanceOf(DevresError);
      await expect(released).rejects.toMatchObject({ code: 'E_FOREIGN_HANDLE' });
      expect(h.state).toBe('live');
      expect(() => {
        b.forget(h);
      }).toThrow(expect.objectContaining({ code: 'E_FOREIGN_HANDLE' }) as Error);
      await a.releaseAll();
      await b.releaseAll();
    });
  });

  describe('.forget', () => {
    it('should unregister without running any step, once', async () => {
      const res = new Devres('dev');
      const release = jest.fn();
      const h = res.add({ name: 'x', value: 5, release, key: X });
      res.forget(h);
      expect(h.state).toBe('forgotten');
      expect(h.value).toBe(5);
      expect(res.find(X)).toBeUndefined();
      expect(() => {
        res.forget(h);
      }).toThrow(expect.objectContaining({ code: 'E_NOT_LIVE' }) as Error);
      await res.releaseAll();
      expect(release).not.toHaveBeenCalled();
    });
  });

  describe('.find and .getOrAdd', () => {
    it('should return per-device singletons by key', async () => {
      const res = new Devres('dev');
      const create = jest.fn(() => ({ name: 'pool', value: { n: 1 }, release: () => undefined }));
      const a = res.getOrAdd(POOL, create);
      const b = res.getOrAdd(POOL, create);
      expect(a).toBe(b);
      expect(create).toHaveBeenCalledTimes(1);
      expect(res.find(POOL)).toBe(a);
      expect(res.find(new DevresKey('other'))).toBeUndefined();
      await res.releaseAll();
      expect(res.find(POOL)).toBeUndefined();
    });
  });

  describe('re-entrancy', () => {
    it('should let a release step release another resource early without a double release', async () => {
      const counts = new Map<string, number>();
      const count = (n: string) => () => void counts.set(n, (counts.get(n) ?? 0) + 1);
      const res = new Devres('dev');
      const a = res.addAction('a', count('a'));
      res.addAction('b', count('b'));
      res.addAction('c', async () => {
        count('c')();
        await res.release(a);
      });
      await res.releaseAll();
      expect([...counts]).toEqual([
        ['c', 1],
        ['a', 1],
        ['b', 1],
      ]);
    });

    it('should let a release step tear down a nested devres', async () => {
      const { log, step } = recorder();
      const outer = new Devres('outer');
      const inner = new Devres('inner');
      inner.addAction('inner-a', step('inner-a'));
      outer.addAction('outer-a', step('outer-a'));
      outer.addAction('inner', () => inner.releaseAll());
      await outer.releaseAll();
      expect(log).toEqual(['inner-a', 'outer-a']);
    });

    it('should wait for an early release still running before it tears down', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      let finishQuiesce!: () => void;
      const h = res.add({
        name: 'slow',
        value: 0,
        quiesce: () => new Promise<void>((r) => (finishQuiesce = r)),
        release: step('release slow'),
      });
      res.addAction('other', step('release other'));
      const early = res.release(h);
      const teardown = res.releaseAll();
      await new Promise((r) => setImmediate(r));
      expect(log).toEqual([]);
      finishQuiesce();
      await Promise.all([early, teardown]);
      expect(log).toEqual(['release slow', 'release other']);
    });
  });

  describe('early releases during the teardown', () => {
    /** Resolves after `n` macrotask turns: a step that takes a while. */
    const turns = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
    };

    it('should quiesce an early release started during the quiesce phase at once and leave its release step for the release phase, in order', async () => {
      const { log, step } = recorder();
      const events = new DevresEventLog();
      const res = new Devres('dev', { log: events.sink });
      // The channel: its quiesce step waits for a callback in flight, which still reads `early`.
      let reads = 0;
      res.add({
        name: 'channel',
        value: 0,
        quiesce: async () => {
          await turns(3);
          log.push('channel quiesced');
        },
        release: step('release channel'),
      });
      const h = res.add({
        name: 'early',
        value: { calls: 0 },
        quiesce: step('quiesce early'),
        release: (v, reason) => {
          log.push(`release early (${reason.kind}), read ${v.calls} times`);
        },
      });
      let early: Promise<void> | undefined;
      res.add({
        name: 'newer',
        value: 0,
        quiesce: async () => {
          early = res.release(h);
          await early; // safe: it resolves once `early` is quiesced
          log.push(`early resolved, ${h.state}`);
          // A callback of the channel still in flight reads the released resource's value.
          void turns(1).then(() => {
            h.value.calls++;
            reads++;
          });
        },
        release: step('release newer'),
      });
      await res.releaseAll({ kind: 'remove' });
      await expect(early).resolves.toBeUndefined();
      expect(reads).toBe(1);
      expect(log).toEqual([
        'quiesce early',
        'early resolved, releasing',
        'channel quiesced',
        'release newer',
        'release early (remove), read 1 times',
        'release channel',
      ]);
      expect(h.state).toBe('released');
      expect(
        events.filter('defer', 'release').map((e) => `${e.type} ${e.resource} ${e.reason}`),
      ).toEqual([
        'defer early early-release',
        'release newer remove',
        'release early remove',
        'release channel remove',
      ]);
    });

    it('should refuse a second release or a forget of a resource whose early release waits for the release phase', async () => {
      const res = new Devres('dev');
      const h = res.addAction('early', () => undefined);
      let second: Promise<unknown> | undefined;
      let forgetError: unknown;
      res.add({
        name: 'newer',
        value: 0,
        quiesce: async () => {
          await res.release(h);
          second = res.release(h).catch((e: unknown) => e);
          try {
            res.forget(h);
          } catch (e) {
            forgetError = e;
          }
        },
        release: () => undefined,
      });
      await res.releaseAll();
      expect(await second).toMatchObject({
        code: 'E_NOT_LIVE',
        message:
          'dev: early is being released (or, released during a quiesce phase, waits for its release phase)',
      });
      expect(forgetError).toMatchObject({ code: 'E_NOT_LIVE' });
      await expect(res.release(h)).rejects.toMatchObject({
        message: 'dev: early was already released',
      });
    });

    it("should report a deferred early release's failing quiesce step through its promise and its failing release step through the teardown", async () => {
      const res = new Devres('dev');
      const qBoom = new Error('quiesce failed');
      const rBoom = new Error('release failed');
      const released = jest.fn();
      const h = res.add({
        name: 'early',
        value: 0,
        quiesce: () => {
          throw qBoom;
        },
        release: () => {
          released();
          throw rBoom;
        },
      });
      let early: Promise<void> | undefined;
      res.add({
        name: 'newer',
        value: 0,
        quiesce: () => void (early = res.release(h)),
        release: () => undefined,
      });
      const teardown = res.releaseAll();
      await expect(teardown).rejects.toMatchObject({
        failures: [{ resource: 'early', phase: 'release', error: rBoom }],
      });
      await expect(early).rejects.toMatchObject({
        reason: { kind: 'early-release' },
        failures: [{ resource: 'early', phase: 'quiesce', error: qBoom }],
      });
      expect(released).toHaveBeenCalledTimes(1);
    });

    it("should defer an early release inside a group during the group's quiesce phase to the group's release phase", async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      const g = res.openGroup('g');
      g.add({
        name: 'channel',
        value: 0,
        quiesce: async () => {
          await turns(2);
          log.push('channel quiesced');
        },
        release: step('release channel'),
      });
      const h = g.addAction('early', step('release early'));
      g.add({
        name: 'newer',
        value: 0,
        quiesce: () => void res.release(h),
        release: step('release newer'),
      });
      g.close();
      res.addAction('outside', step('release outside'));
      await g.releaseAll();
      expect(log).toEqual([
        'channel quiesced',
        'release newer',
        'release early',
        'release channel',
      ]);
      expect(res.state).toBe('open');
      await res.releaseAll();
      expect(log.at(-1)).toBe('release outside');
    });

    it('should finish an early release started by a release step before the next older release', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.addAction('older', step('release older'));
      const h = res.add({
        name: 'early',
        value: 0,
        quiesce: () => turns(3),
        release: step('release early'),
      });
      res.addAction('newer', () => {
        log.push('release newer');
        void res.release(h);
      });
      await res.releaseAll();
      expect(log).toEqual(['release newer', 'release early', 'release older']);
    });

    it('should report a failing fire-and-forget early release only through its own promise and release-failed', async () => {
      const log = new DevresEventLog();
      const res = new Devres('dev', { log: log.sink });
      const boom = new Error('early failed');
      const h = res.addAction('early', () => Promise.reject(boom));
      let early: Promise<void> | undefined;
      res.addAction('newer', () => {
        early = res.release(h); // by design not joined into the teardown's error
      });
      await expect(res.releaseAll()).resolves.toBeUndefined();
      await expect(early).rejects.toMatchObject({ failures: [{ resource: 'early', error: boom }] });
      expect(log.filter('release-failed').map((e) => [e.resource, e.reason])).toEqual([
        ['early', 'early-release'],
      ]);
    });

    it("should not release an entry of a group released meanwhile while the device's quiesce of it runs", async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      const g = res.openGroup('g');
      let started!: () => void;
      const quiescing = new Promise<void>((r) => (started = r));
      g.add({
        name: 'x',
        value: 0,
        quiesce: async () => {
          started();
          await turns(3);
          log.push('quiesced x');
        },
        release: step('release x'),
      });
      g.close();
      const teardown = res.releaseAll();
      await quiescing; // the device's quiesce of x runs: release the group now
      await g.releaseAll();
      await teardown;
      expect(log).toEqual(['quiesced x', 'release x']);
    });

    it('should finish a group released during the teardown before anything older, and release no entry while its quiesce runs', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.addAction('older', step('release older'));
      const g = res.openGroup('g');
      g.add({
        name: 'x',
        value: 0,
        quiesce: async () => {
          await turns(3);
          log.push('quiesced x');
        },
        release: step('release x'),
      });
      g.close();
      res.add({
        name: 'newer',
        value: 0,
        quiesce: () => void g.releaseAll(), // the group's teardown skips x: the device quiesces it
        release: step('release newer'),
      });
      await res.releaseAll();
      // The group's release, started while the device quiesces, leaves x to the device's release
      // phase: released in reverse order, after `newer` and before `older`.
      expect(log).toEqual(['quiesced x', 'release newer', 'release x', 'release older']);
    });
  });

  describe('diagnostics', () => {
    it('should log add, quiesce, release and teardown events with names and reasons', async () => {
      const log = new DevresEventLog();
      const res = new Devres('dev', { log: log.sink, debug: true });
      res.add({ name: 'a', value: 0, quiesce: () => undefined, release: () => undefined });
      const h = res.addAction('b', () => undefined);
      res.forget(h);
      await res.releaseAll({ kind: 'remove' });
      expect(log.events.map((e) => `${e.type}:${e.resource}`)).toEqual([
        'add:a',
        'add:b',
        'forget:b',
        'teardown-begin:dev',
        'quiesce:a',
        'quiesce-end:a',
        'release:a',
        'release-end:a',
        'teardown-end:dev',
      ]);
      expect(log.events[0]?.stack).toContain('devres.test');
      expect(log.filter('release')[0]?.reason).toBe('remove');
      expect(log.format()).toContain('release        dev a (remove)');
    });

    it('should log the end of a step once it has settled, after its failure if it failed', async () => {
      const log = new DevresEventLog();
      const res = new Devres('dev', { log: log.sink });
      const order: string[] = [];
      const logged = (): string[] => log.events.map((e) => `${e.type}:${e.resource}`);
      let finishQuiesce!: () => void;
      let failRelease!: (error: Error) => void;
      res.add({
        name: 'a',
        value: 0,
        release: () =>
          new Promise<void>((_resolve, reject) => {
            failRelease = reject;
          }),
      });
      res.add({ name: 'b', value: 0, quiesce: () => undefined, release: () => undefined });
      res.add({
        name: 'c',
        value: 0,
        quiesce: () =>
          new Promise<void>((resolve) => {
            finishQuiesce = resolve;
          }),
        release: () => {
          order.push('c released');
        },
      });
      const teardown = res.releaseAll({ kind: 'remove' }).catch((error: unknown) => error);
      await turns(2);
      // c's quiesce step is pending: it has begun, not ended, and nothing is released.
      expect(logged().slice(3)).toEqual(['teardown-begin:dev', 'quiesce:c']);
      finishQuiesce();
      await turns(2);
      const boom = new Error('boom');
      failRelease(boom);
      expect(DevresReleaseError.is(await teardown)).toBe(true);
      expect(order).toEqual(['c released']);
      expect(logged().slice(3)).toEqual([
        'teardown-begin:dev',
        'quiesce:c',
        'quiesce-end:c',
        'quiesce:b',
        'quiesce-end:b',
        'release:c',
        'release-end:c',
        'release:b',
        'release-end:b',
        'release:a',
        'release-failed:a',
        'release-end:a',
        'teardown-end:dev',
      ]);
      expect(log.filter('release-end').map((e) => e.reason)).toEqual([
        'remove',
        'remove',
        'remove',
      ]);
      expect(log.filter('release-failed')[0]?.error).toBe(boom);
    });

    it('should log a throwing step as failed, then ended', async () => {
      const log = new DevresEventLog();
      const res = new Devres('dev', { log: log.sink });
      const a = res.add({
        name: 'a',
        value: 0,
        quiesce: () => {
          throw new Error('q');
        },
        release: () => {
          throw new Error('r');
        },
      });
      await expect(res.release(a)).rejects.toThrow(DevresReleaseError);
      expect(log.events.slice(1).map((e) => `${e.type}:${e.reason ?? ''}`)).toEqual([
        'quiesce:early-release',
        'quiesce-failed:early-release',
        'quiesce-end:early-release',
        'release:early-release',
        'release-failed:early-release',
        'release-end:early-release',
      ]);
    });

    it('checkDevresSteps: should find nothing in a real log, and report a step overlapping the one it must follow', async () => {
      const log = new DevresEventLog();
      const later = (): Promise<void> => new Promise((r) => setImmediate(r));
      const res = new Devres('dev', { log: log.sink });
      for (const n of ['a', 'b']) res.add({ name: n, value: 0, quiesce: later, release: later });
      await res.releaseAll();
      expect(checkDevresSteps(log.events)).toEqual([]);
      // The same log with b's release ending after a's began: an overlap a teardown never makes.
      const events = [...log.events];
      const bEnd = events.findIndex((e) => e.type === 'release-end' && e.resource === 'b');
      const [moved] = events.splice(bEnd, 1);
      const aBegin = events.findIndex((e) => e.type === 'release' && e.resource === 'a');
      events.splice(aBegin + 1, 0, moved as (typeof events)[number]);
      expect(checkDevresSteps(events)).toEqual([
        'the release of /a began while the release step of /b was running',
      ]);
      // A log cut before the ends: steps that never ended, named with their device among several.
      const other = new Devres('other', { log: log.sink });
      let finish!: () => void;
      other.add({
        name: 'c',
        value: 0,
        release: () =>
          new Promise<void>((r) => {
            finish = r;
          }),
      });
      const teardown = other.releaseAll();
      await turns(1);
      expect(checkDevresSteps(log.events)).toEqual(['other: the release step of /c never ended']);
      finish();
      await teardown;
      expect(checkDevresSteps(log.events)).toEqual([]);
    });

    it('should report live resources with their creation stack in debug mode', async () => {
      const res = new Devres('dev', { debug: true });
      res.addAction('a', () => undefined);
      const g = res.openGroup('g');
      g.addAction('b', () => undefined);
      expect(res.live().map((r) => [r.name, r.group])).toEqual([
        ['a', ''],
        ['b', 'g'],
      ]);
      expect(res.live()[0]?.stack).toContain('devres.test');
      await res.releaseAll();
      expect(res.live()).toEqual([]);
    });

    it('should bound the event log and count what it dropped', () => {
      const log = new DevresEventLog(2);
      const res = new Devres('dev', { log: log.sink });
      for (let i = 0; i < 5; i++) res.forget(res.addAction(`a${i}`, () => undefined));
      expect(log.events).toHaveLength(2);
      expect(log.dropped).toBe(8);
      log.clear();
      expect(log.events).toHaveLength(0);
      expect(() => new DevresEventLog(0)).toThrow(RangeError);
    });

    it('should never let a throwing sink break teardown', async () => {
      const res = new Devres('dev', {
        log: () => {
          throw new Error('sink');
        },
      });
      const release = jest.fn();
      res.addAction('a', release);
      await res.releaseAll();
      expect(release).toHaveBeenCalled();
    });
  });
});
