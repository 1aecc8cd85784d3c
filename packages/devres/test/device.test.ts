import {
  Device,
  DevresError,
  ensureNoLeaksInSuite,
  getReleaseFailure,
  probe,
  remove,
} from '@scmi-ts/devres';

describe(Device, () => {
  ensureNoLeaksInSuite();

  describe('constructor', () => {
    it('should refuse a name that is not a non-empty string with E_ARGUMENT', () => {
      for (const [name, says] of [
        [123, 'not number'],
        [undefined, 'not undefined'],
        ['', 'not an empty string'],
      ] as const) {
        expect(() => new Device(name as never)).toThrow(
          expect.objectContaining({
            name: 'DevresError',
            code: 'E_ARGUMENT',
            message: `new Device: the name must be a non-empty string, ${says}`,
          }) as Error,
        );
      }
      expect(new Device('scmi0').name).toBe('scmi0');
    });
  });

  describe('.probe', () => {
    it('should bind the device and keep its resources until remove', async () => {
      const log: string[] = [];
      const dev = new Device('scmi0');
      const value = await probe(dev, (res) => {
        res.addAction('a', () => void log.push('a'));
        res.addAction('b', () => void log.push('b'));
        return 'ok';
      });
      expect(value).toBe('ok');
      expect(dev.state).toBe('bound');
      expect(dev.devres?.live()).toHaveLength(2);
      await remove(dev);
      expect(log).toEqual(['b', 'a']);
      expect(dev.state).toBe('unbound');
      expect(dev.devres).toBeUndefined();
    });

    describe('fault injection at every step', () => {
      const STEPS = 6;
      for (const mode of ['sync', 'async'] as const) {
        for (let failAt = 0; failAt <= STEPS; failAt++) {
          it(`should tear down what steps 0..${failAt - 1} registered when step ${failAt} throws (${mode})`, async () => {
            const log: string[] = [];
            const dev = new Device('scmi0');
            const failure = new Error(`step ${failAt}`);
            const run = dev.probe(async (res) => {
              for (let i = 0; i < STEPS; i++) {
                if (i === failAt) {
                  if (mode === 'async') await Promise.resolve();
                  throw failure;
                }
                if (i % 2 === 0) {
                  res.add({
                    name: `r${i}`,
                    value: i,
                    quiesce: () => void log.push(`q${i}`),
                    release: () => void log.push(`r${i}`),
                  });
                } else {
                  await res.acquire(
                    `r${i}`,
                    () => Promise.resolve(i),
                    async () => {
                      await Promise.resolve();
                      log.push(`r${i}`);
                    },
                  );
                }
              }
              if (failAt === STEPS) throw failure;
            });
            await expect(run).rejects.toBe(failure);
            const made = Array.from({ length: Math.min(failAt, STEPS) }, (_, i) => i).reverse();
            expect(log).toEqual([
              ...made.filter((i) => i % 2 === 0).map((i) => `q${i}`),
              ...made.map((i) => `r${i}`),
            ]);
            expect(dev.state).toBe('unbound');
            expect(getReleaseFailure(failure)).toBeUndefined();
          });
        }
      }
    });

    it('should rethrow the original probe error with release failures attached', async () => {
      const dev = new Device('scmi0');
      const failure = new Error('base discovery timed out');
      const caught = await dev
        .probe((res) => {
          res.addAction('chan', () => {
            throw new Error('free failed');
          });
          throw failure;
        })
        .catch((e: unknown) => e);
      expect(caught).toBe(failure);
      const attached = getReleaseFailure(caught);
      expect(attached?.failures[0]?.resource).toBe('chan');
      expect(attached?.cause).toBe(failure);
    });

    it('should refuse a concurrent probe, a probe of a bound device, and allow a probe after a failed one', async () => {
      const dev = new Device('scmi0');
      let finish!: () => void;
      const first = dev.probe(() => new Promise<void>((r) => (finish = r)));
      await expect(dev.probe(() => undefined)).rejects.toMatchObject({
        code: 'E_PROBE_IN_PROGRESS',
      });
      await expect(dev.remove()).rejects.toMatchObject({ code: 'E_PROBE_IN_PROGRESS' });
      finish();
      await first;
      await expect(dev.probe(() => undefined)).rejects.toMatchObject({ code: 'E_ALREADY_BOUND' });
      await dev.remove();
      await expect(dev.remove()).rejects.toBeInstanceOf(DevresError);
      await expect(dev.probe(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
      await dev.probe(() => undefined);
      await dev.remove();
    });
  });

  describe('.remove', () => {
    it('should share one promise between concurrent calls and refuse probe while removing', async () => {
      const dev = new Device('scmi0');
      let finish!: () => void;
      await dev.probe((res) => {
        res.addAction('slow', () => new Promise<void>((r) => (finish = r)));
      });
      const a = dev.remove();
      const b = dev.remove();
      expect(b).toBe(a);
      expect(dev.state).toBe('removing');
      await expect(dev.probe(() => undefined)).rejects.toMatchObject({
        code: 'E_PROBE_IN_PROGRESS',
      });
      await new Promise((r) => setImmediate(r));
      finish();
      await a;
      expect(dev.state).toBe('unbound');
    });

    it('should stay removing while a release step does not settle: probe refused, remove() shares the pending promise', async () => {
      const dev = new Device('scmi0');
      let finish!: () => void;
      let started = false;
      await dev.probe((res) => {
        res.addAction('hangs', () => {
          started = true;
          return new Promise<void>((r) => (finish = r));
        });
      });
      let settled = false;
      const removal = dev.remove();
      void removal.then(() => (settled = true));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(started).toBe(true);
      expect(settled).toBe(false);
      expect(dev.state).toBe('removing');
      await expect(dev.probe(() => undefined)).rejects.toMatchObject({
        code: 'E_PROBE_IN_PROGRESS',
        message: 'scmi0: probe while removing',
      });
      const again = dev.remove();
      expect(again).toBe(removal);
      expect(dev.state).toBe('removing');
      expect(settled).toBe(false);
      // Only the step settling ends it (devres puts no timeout on a step).
      finish();
      await Promise.all([removal, again]);
      expect(dev.state).toBe('unbound');
    });

    it('should give a synchronous teardown step that calls remove() the same promise', async () => {
      const dev = new Device('scmi0');
      let inner: Promise<void> | undefined;
      await dev.probe((res) => {
        res.addAction('remove again', () => {
          inner = dev.remove();
        });
      });
      const outer = dev.remove();
      expect(inner).toBe(outer);
      await outer;
      expect(dev.state).toBe('unbound');
    });

    it('should report release failures and still unbind', async () => {
      const dev = new Device('scmi0');
      await dev.probe((res) => {
        res.addAction('bad', () => {
          throw new Error('bad');
        });
      });
      await expect(dev.remove()).rejects.toMatchObject({ name: 'DevresReleaseError' });
      expect(dev.state).toBe('unbound');
    });
  });
});
