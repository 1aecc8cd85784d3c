import {
  Devres,
  DevresClosedError,
  DevresEventLog,
  DevresGroup,
  DevresReleaseError,
  ensureNoLeaksInSuite,
  getReleaseFailure,
  type ResourceScope,
} from '@scmi-ts/devres';

/** Resolves after `n` macrotask turns. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/**
 * Tears `res` down while a quiesce step waits for a callback in flight: a few turns later the
 * callback returns (`drain()` of then, logged `callback returns`); resolves once the device's
 * teardown and the group's (`groupRelease()` of then) are done.
 */
async function removeWhileHeld(
  res: Devres,
  log: string[],
  drain: () => (() => void) | undefined,
  groupRelease: () => Promise<void> | undefined,
): Promise<void> {
  const removal = res.releaseAll();
  await turns(3);
  log.push('callback returns');
  drain()?.();
  await Promise.all([removal, groupRelease()]);
}

/**
 * Registers `chan` in `scope`: its quiesce step logs `quiesce chan`, waits until the returned
 * function's `drain` is called (a callback still in flight), then logs `chan quiesced`; its release
 * logs `free chan`. Returns what gives `drain` once the step waits.
 */
function heldChannel(scope: ResourceScope, log: string[]): () => (() => void) | undefined {
  let drain: (() => void) | undefined;
  scope.add({
    name: 'chan',
    value: 0,
    quiesce: async () => {
      log.push('quiesce chan');
      await new Promise<void>((r) => (drain = r)); // a callback still in flight
      log.push('chan quiesced');
    },
    release: () => void log.push('free chan'),
  });
  return () => drain;
}

function recorder(): { log: string[]; step: (tag: string) => () => void } {
  const log: string[] = [];
  return { log, step: (tag) => () => void log.push(tag) };
}

describe(DevresGroup, () => {
  ensureNoLeaksInSuite();

  describe('.openGroup', () => {
    it('should route registrations on the devres into the innermost open group until it is closed', async () => {
      const res = new Devres('dev');
      res.addAction('a', () => undefined);
      const g1 = res.openGroup('g1');
      res.addAction('b', () => undefined);
      const g2 = res.openGroup('g2');
      res.addAction('c', () => undefined);
      g2.close();
      res.addAction('d', () => undefined);
      g1.close();
      res.addAction('e', () => undefined);
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual([
        ':a',
        'g1:b',
        'g1/g2:c',
        'g1:d',
        ':e',
      ]);
      await res.releaseAll();
    });

    it('should close nested open groups when an outer one is closed', async () => {
      const res = new Devres('dev');
      const g1 = res.openGroup('g1');
      const g2 = res.openGroup('g2');
      g1.close();
      expect(g2.state).toBe('closed');
      expect(() => {
        g2.close();
      }).toThrow(expect.objectContaining({ code: 'E_GROUP_STATE' }) as Error);
      res.addAction('top', () => undefined);
      expect(res.live()[0]?.group).toBe('');
      await res.releaseAll();
    });
  });

  describe('.releaseAll', () => {
    it('should quiesce then release only the group, newest first, and leave the rest live', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.addAction('outside', step('release outside'));
      const g = res.openGroup('g');
      g.add({ name: 'x', value: 0, quiesce: step('quiesce x'), release: step('release x') });
      g.add({ name: 'y', value: 0, quiesce: step('quiesce y'), release: step('release y') });
      const inner = g.openGroup('inner');
      inner.addAction('z', step('release z'));
      await g.releaseAll();
      expect(log).toEqual(['quiesce y', 'quiesce x', 'release z', 'release y', 'release x']);
      expect(g.state).toBe('released');
      expect(res.live().map((r) => r.name)).toEqual(['outside']);
      await g.releaseAll(); // idempotent
      await res.releaseAll();
      expect(log.at(-1)).toBe('release outside');
    });

    it('should refuse registration into a group being released', async () => {
      const res = new Devres('dev');
      const g = res.openGroup('g');
      let refused: unknown;
      g.addAction('x', () => {
        try {
          g.addAction('late', () => undefined);
        } catch (e) {
          refused = e;
        }
      });
      await g[Symbol.asyncDispose]();
      expect(refused).toMatchObject({ code: 'E_CLOSED' });
      await res.releaseAll();
    });

    it('should report failures of the group as DevresReleaseError', async () => {
      const res = new Devres('dev');
      const g = res.openGroup('g');
      g.addAction('bad', () => {
        throw new Error('bad');
      });
      await expect(g.releaseAll()).rejects.toBeInstanceOf(DevresReleaseError);
      await res.releaseAll();
    });

    it('should release the groups with the device in reverse order of registration', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.addAction('a', step('a'));
      const g = res.openGroup('g');
      g.addAction('b', step('b'));
      g.close();
      res.addAction('c', step('c'));
      g.addAction('d', step('d')); // explicit registration into a closed group
      await res.releaseAll();
      expect(log).toEqual(['c', 'd', 'b', 'a']);
      expect(g.state).toBe('released');
      await g.releaseAll(); // already released with the device
    });

    it('should wait for a nested group that is already releasing instead of taking its entries', async () => {
      const res = new Devres('dev');
      const order: string[] = [];
      let finishC!: () => void;
      const outer = res.openGroup('outer');
      res.addAction('a', () => void order.push('a'));
      const inner = res.openGroup('inner');
      res.addAction('b', () => void order.push('b'));
      res.addAction(
        'c',
        () =>
          new Promise<void>((r) => {
            finishC = () => {
              order.push('c');
              r();
            };
          }),
      );
      outer.close();
      const innerDone = inner.releaseAll();
      await turns(1); // c is releasing
      let outerDone = false;
      const outerRelease = outer.releaseAll().then(() => {
        outerDone = true;
      });
      await turns(3);
      expect(order).toEqual([]);
      expect(outerDone).toBe(false);
      finishC();
      await Promise.all([innerDone, outerRelease]);
      expect(order).toEqual(['c', 'b', 'a']);
      expect([inner.state, outer.state]).toEqual(['released', 'released']);
      await res.releaseAll();
    });

    it('should not report the failures of a nested group it waited for (they are reported to that release)', async () => {
      const res = new Devres('dev');
      const outer = res.openGroup('outer');
      const inner = res.openGroup('inner');
      inner.addAction('bad', async () => {
        await turns(1);
        throw new Error('bad');
      });
      outer.close();
      const innerDone = inner.releaseAll();
      await expect(outer.releaseAll()).resolves.toBeUndefined();
      await expect(innerDone).rejects.toBeInstanceOf(DevresReleaseError);
      await res.releaseAll();
    });

    it('should wait for an early release of one of its resources that is still running', async () => {
      const res = new Devres('dev');
      const order: string[] = [];
      const g = res.openGroup('g');
      g.addAction('a', () => void order.push('a'));
      const b = g.addAction('b', async () => {
        await turns(3);
        order.push('b');
      });
      g.close();
      const early = res.release(b);
      await g.releaseAll();
      expect(order).toEqual(['b', 'a']);
      await early;
      await res.releaseAll();
    });

    it('should wait for an early release whose quiesce step started the release of its group', async () => {
      const res = new Devres('dev');
      const order: string[] = [];
      const g = res.openGroup('g');
      g.addAction('a', () => void order.push('a'));
      let groupDone: Promise<void> | undefined;
      const h = g.add({
        name: 'h',
        value: 0,
        quiesce: () => {
          groupDone = g.releaseAll(); // synchronously, inside res.release(h)
        },
        release: async () => {
          await turns(2);
          order.push('h');
        },
      });
      g.close();
      const early = res.release(h);
      await groupDone;
      order.push('group done');
      await early;
      expect(order).toEqual(['h', 'a', 'group done']);
      await res.releaseAll();
    });

    it('should join a nested group whose release step synchronously starts the outer release', async () => {
      const res = new Devres('dev');
      const order: string[] = [];
      const outer = res.openGroup('outer');
      res.addAction('a', () => void order.push('a'));
      const inner = res.openGroup('inner');
      let outerDone: Promise<void> | undefined;
      res.addAction('b', async () => {
        outerDone = outer.releaseAll();
        await turns(2);
        order.push('b');
      });
      outer.close();
      const innerDone = inner.releaseAll();
      await outerDone;
      order.push('outer done');
      await innerDone;
      expect(order).toEqual(['b', 'a', 'outer done']);
      await res.releaseAll();
    });

    it('should report a failing release of a resource refused during its teardown', async () => {
      const log = new DevresEventLog();
      const res = new Devres('dev', { log: log.sink });
      const g = res.openGroup('g');
      const boom = new Error('late release failed');
      g.addAction('registers late', () => {
        try {
          g.add({
            name: 'late',
            value: 0,
            release: async () => {
              await turns(1);
              throw boom;
            },
          });
        } catch {
          // refused: released at once
        }
      });
      const error = await g.releaseAll().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as DevresReleaseError).failures).toEqual([
        { resource: 'late', phase: 'release', error: boom },
      ]);
      expect(log.filter('release-failed').map((e) => [e.resource, e.group, e.reason])).toEqual([
        ['late', 'g', 'refused'],
      ]);
      await expect(res.releaseAll()).resolves.toBeUndefined();
    });

    it("should leave a nested group released during its enclosing group's quiesce phase to that group's release phase", async () => {
      const { log, step } = recorder();
      const events = new DevresEventLog();
      const res = new Devres('dev', { log: events.sink });
      const outer = res.openGroup('outer');
      outer.add({
        name: 'chan',
        value: 0,
        quiesce: async () => {
          await turns(2);
          log.push('chan quiesced');
        },
        release: step('free chan'),
      });
      const inner = outer.openGroup('inner');
      inner.add({
        name: 'state',
        value: 0,
        quiesce: step('quiesce state'),
        release: step('free state'),
      });
      inner.close();
      let innerDone: Promise<void> | undefined;
      outer.add({
        name: 'newer',
        value: 0,
        quiesce: async () => {
          innerDone = inner.releaseAll();
          await innerDone; // resolves once `state` is quiesced
          log.push(`inner resolved (${inner.state})`);
        },
        release: step('release newer'),
      });
      outer.close();
      await outer.releaseAll();
      await expect(innerDone).resolves.toBeUndefined();
      expect(log).toEqual([
        'quiesce state',
        'inner resolved (releasing)',
        'chan quiesced',
        'release newer',
        'free state',
        'free chan',
      ]);
      expect(inner.state).toBe('released');
      expect(events.filter('defer').map((e) => `${e.group}/${e.resource}`)).toEqual([
        'outer/inner',
      ]);
      expect(res.state).toBe('open');
      await res.releaseAll();
    });

    it('should release nothing of the group while the device teardown still quiesces an older entry of it', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      const g = res.openGroup('g');
      const drain = heldChannel(g, log);
      let groupRelease: Promise<void> | undefined;
      g.add({
        name: 'gate',
        value: 0,
        // The device's teardown quiesces the newest first; the group's own teardown starts just
        // after (a transaction failing on the shutdown), while the device quiesces `chan`.
        quiesce: () => {
          log.push('quiesce gate');
          queueMicrotask(() => {
            groupRelease = g.releaseAll();
          });
        },
        release: step('release gate'),
      });
      g.close();
      await removeWhileHeld(res, log, drain, () => groupRelease);
      expect(log).toEqual([
        'quiesce gate',
        'quiesce chan',
        'callback returns',
        'chan quiesced',
        'release gate',
        'free chan',
      ]);
    });

    it('should release nothing of the group while a quiesce step the device runs is on the stack, when that step itself releases the group', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      const g = res.openGroup('g');
      let drain: (() => void) | undefined;
      let groupRelease: Promise<void> | undefined;
      g.add({ name: 'older', value: 0, release: step('free older') });
      g.add({
        name: 'chan',
        value: 0,
        quiesce: async () => {
          log.push('quiesce chan');
          groupRelease = g.releaseAll(); // before the step's first await: it has no promise yet
          await new Promise<void>((r) => (drain = r));
          log.push('chan quiesced');
        },
        release: step('free chan'),
      });
      g.add({
        name: 'newer',
        value: 0,
        quiesce: step('quiesce newer'),
        release: step('free newer'),
      });
      g.close();
      await removeWhileHeld(
        res,
        log,
        () => drain,
        () => groupRelease,
      );
      expect(log).toEqual([
        'quiesce newer',
        'quiesce chan',
        'callback returns',
        'chan quiesced',
        'free newer',
        'free chan',
        'free older',
      ]);
    });

    it('should release nothing of the group while the device teardown still quiesces an older entry outside it', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      const drain = heldChannel(res, log);
      const g = res.openGroup('g');
      let groupRelease: Promise<void> | undefined;
      g.add({
        name: 'gate',
        value: 0,
        quiesce: () => {
          log.push('quiesce gate');
          groupRelease = g.releaseAll(); // started, not awaited
        },
        release: step('release gate'),
      });
      g.add({ name: 'buf', value: 0, release: step('free buf') });
      g.close();
      await removeWhileHeld(res, log, drain, () => groupRelease);
      expect(log).toEqual([
        'quiesce gate',
        'quiesce chan',
        'callback returns',
        'chan quiesced',
        'free buf',
        'release gate',
        'free chan',
      ]);
    });

    it('should not release what a group() transaction failing on the shutdown registered while an older channel outside it still quiesces', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      const drain = heldChannel(res, log);
      let failInFlight: ((e: Error) => void) | undefined;
      res.add({
        name: 'gate',
        value: 0,
        quiesce: () => {
          log.push('quiesce gate'); // fails the operations in flight
          failInFlight?.(new Error('shutdown'));
        },
        release: step('release gate'),
      });
      // A protocol driver's transaction, in flight when the removal starts.
      const transaction = res
        .group('protocol', async (g) => {
          g.add({ name: 'state', value: 0, release: step('free state') });
          await new Promise<void>((_resolve, reject) => (failInFlight = reject));
        })
        .catch(() => void log.push('transaction failed'));
      await turns(1);
      await removeWhileHeld(res, log, drain, () => transaction);
      // The transaction fails once its group is quiesced; what it registered is released by
      // the device's release phase, in reverse order, once the channel has quiesced.
      expect(log).toEqual([
        'quiesce gate',
        'quiesce chan',
        'transaction failed',
        'callback returns',
        'chan quiesced',
        'free state',
        'release gate',
        'free chan',
      ]);
    });

    describe('started while the device teardown quiesces, by what a quiesce step waits for', () => {
      /** 'settled' when `p` settles within 200 turns, 'hung' otherwise. */
      async function outcome(p: Promise<unknown>): Promise<'settled' | 'hung'> {
        const settled = { done: false };
        void p.then(
          () => (settled.done = true),
          () => (settled.done = true),
        );
        for (let i = 0; i < 200 && !settled.done; i++) await turns(1);
        return settled.done ? 'settled' : 'hung';
      }

      it('should not hang on a callback in flight whose group() transaction the shutdown fails', async () => {
        const res = new Devres('dev');
        const chan = res.revocable('chan', { id: 0 }); // its quiesce waits for callbacks in flight
        let failInFlight: ((e: Error) => void) | undefined;
        res.add({
          name: 'gate',
          value: 0,
          quiesce: () => failInFlight?.(new Error('shutdown')),
          release: () => undefined,
        });
        const callback = chan.access(async () => {
          await res
            .group('protocol', async (g) => {
              g.add({ name: 'state', value: 0, release: () => undefined });
              await new Promise<void>((_resolve, reject) => (failInFlight = reject));
            })
            .catch(() => undefined);
        });
        await turns(1);
        expect(await outcome(res.releaseAll())).toBe('settled');
        await callback;
      });

      it('should not hang on a callback in flight that releases its own group (await using)', async () => {
        const res = new Devres('dev');
        const chan = res.revocable('chan', { id: 0 });
        let proceed!: () => void;
        const callback = chan.access(async () => {
          const g = res.openGroup('request');
          g.close();
          g.add({ name: 'request state', value: 0, release: () => undefined });
          await new Promise<void>((r) => (proceed = r));
          await g.releaseAll();
        });
        await turns(1);
        const teardown = res.releaseAll();
        await turns(1);
        proceed();
        expect(await outcome(teardown)).toBe('settled');
        await callback;
      });

      it('should not hang on a quiesce step awaiting an early release whose release step awaits a group release', async () => {
        const res = new Devres('dev');
        const g = res.openGroup('sub');
        g.close();
        g.add({ name: 'sub state', value: 0, release: () => undefined });
        const h = res.add({ name: 'owner of sub', value: 0, release: () => g.releaseAll() });
        res.add({
          name: 'newer',
          value: 0,
          quiesce: () => res.release(h),
          release: () => undefined,
        });
        expect(await outcome(res.releaseAll())).toBe('settled');
      });

      it('should release nothing of a group released before the device quiesce loop began (joining an early release) until an older channel quiesced', async () => {
        const { log, step } = recorder();
        const res = new Devres('dev');
        res.add({
          name: 'chan',
          value: 0,
          quiesce: async () => {
            log.push('quiesce chan');
            await turns(2);
            log.push('chan quiesced');
          },
          release: step('free chan'),
        });
        const slow = res.add({
          name: 'slow',
          value: 0,
          quiesce: () => turns(5),
          release: step('free slow'),
        });
        let go!: () => void;
        const transaction = res
          .group('protocol', async (g) => {
            g.add({ name: 'state', value: 0, release: step('free state') });
            await new Promise<void>((r) => (go = r));
            res.add({ name: 'more', value: 0, release: () => undefined }); // refused
          })
          .catch(() => void log.push('transaction failed'));
        await turns(1);
        const early = res.release(slow); // the teardown joins it before its quiesce loop
        const teardown = res.releaseAll();
        expect(res.state).toBe('quiescing');
        go();
        await Promise.all([teardown, transaction, early]);
        expect(log.indexOf('free state')).toBeGreaterThan(log.indexOf('chan quiesced'));
      });
    });

    it('should resolve when the device teardown that reached the group is done', async () => {
      const res = new Devres('dev');
      const g = res.openGroup('g');
      let groupRelease: Promise<void> | undefined;
      g.addAction('x', () => {
        groupRelease = g.releaseAll();
      });
      await res.releaseAll();
      await expect(groupRelease).resolves.toBeUndefined();
    });
  });

  describe('.remove', () => {
    it('should merge the group into its parent in place and keep its resources', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.addAction('a', step('a'));
      const g = res.openGroup('g');
      g.addAction('b', step('b'));
      const inner = g.openGroup('inner');
      inner.addAction('c', step('c'));
      inner.close();
      g.remove();
      res.addAction('d', step('d'));
      expect(g.state).toBe('removed');
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual([':a', ':b', 'inner:c', ':d']);
      expect(() => {
        g.remove();
      }).toThrow(expect.objectContaining({ code: 'E_GROUP_STATE' }) as Error);
      await expect(g.releaseAll()).rejects.toMatchObject({ code: 'E_GROUP_STATE' });
      await res.releaseAll();
      expect(log).toEqual(['d', 'c', 'b', 'a']);
    });

    it('should refuse registration through a removed group with a message saying it was removed, releasing the offered resource at once', async () => {
      const { log, step } = recorder();
      const events = new DevresEventLog();
      const res = new Devres('dev', { log: events.sink });
      const outer = res.openGroup('outer');
      const g = outer.openGroup('g');
      g.addAction('kept', step('release kept'));
      g.remove();
      const before = res.live();
      const refused = `group outer/g of dev was removed (dissolved into its parent; register there)`;
      let closed: unknown;
      try {
        g.add({
          name: 'late',
          value: 1,
          quiesce: step('quiesce late'),
          release: step('release late'),
        });
      } catch (e) {
        closed = e;
      }
      expect(closed).toBeInstanceOf(DevresClosedError);
      expect(closed).toMatchObject({ code: 'E_CLOSED', message: `${refused}: late refused` });
      await (closed as DevresClosedError).released;
      expect((closed as DevresClosedError).releaseError).toBeUndefined();
      expect(log).toEqual(['quiesce late', 'release late']); // at once, reason refused
      expect(() => g.addAction('action', step('action'))).toThrow(
        expect.objectContaining({ message: `${refused}: action refused` }) as Error,
      );
      expect(() => g.openGroup('nested')).toThrow(
        expect.objectContaining({ message: `${refused}: nested refused` }) as Error,
      );
      // Nothing was registered or opened; the kept resource is where remove() put it.
      expect(res.live()).toEqual(before);
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual(['outer:kept']);
      expect(events.filter('refuse').map((e) => `${e.group}:${e.resource}`)).toEqual([
        'outer/g:late',
        'outer/g:action',
        'outer/g:nested',
      ]);
      // Registration through the parent is the way.
      outer.addAction('instead', step('release instead'));
      await res.releaseAll();
      expect(log).toEqual(['quiesce late', 'release late', 'release instead', 'release kept']);
    });

    it('should remove an empty group', async () => {
      const res = new Devres('dev');
      res.addAction('a', () => undefined);
      res.openGroup('empty').remove();
      expect(res.live()).toHaveLength(1);
      await res.releaseAll();
    });
  });

  describe('transactional .group', () => {
    it('should commit on success: the group stays, closed, releasable as a unit', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      let group!: DevresGroup;
      const result = await res.group('proto', async (g) => {
        group = g;
        g.addAction('x', step('x'));
        await Promise.resolve();
        return 42;
      });
      expect(result).toBe(42);
      expect(group.state).toBe('closed');
      await group.releaseAll();
      expect(log).toEqual(['x']);
      await res.releaseAll();
    });

    it('should release the group on failure and rethrow the original error with failures attached', async () => {
      const { log, step } = recorder();
      const res = new Devres('dev');
      res.addAction('before', step('before'));
      const boom = new Error('boom');
      const caught = await res
        .group('proto', (g) => {
          g.add({ name: 'x', value: 0, quiesce: step('quiesce x'), release: step('release x') });
          g.addAction('bad', () => {
            throw new Error('bad release');
          });
          throw boom;
        })
        .catch((e: unknown) => e);
      expect(caught).toBe(boom);
      expect(log).toEqual(['quiesce x', 'release x']);
      expect(getReleaseFailure(caught)?.failures.map((f) => f.resource)).toEqual(['bad']);
      expect(getReleaseFailure(caught)?.cause).toBe(boom);
      expect(res.live().map((r) => r.name)).toEqual(['before']);
      await res.releaseAll();
    });

    it('should keep concurrent transactions apart: a failing one releases only its own resources', async () => {
      const res = new Devres('dev');
      const released: string[] = [];
      let failA!: () => void;
      const a = res.group('A', async (g) => {
        g.addAction('a1', () => void released.push('a1'));
        res.addAction('a2', () => void released.push('a2')); // implicit: into A
        await new Promise<void>((_, reject) => (failA = () => reject(new Error('A failed'))));
      });
      let continueB!: () => void;
      let groupB!: DevresGroup;
      const b = res.group('B', async (g) => {
        groupB = g;
        g.addAction('b1', () => void released.push('b1'));
        await new Promise<void>((r) => (continueB = r));
        res.addAction('b2', () => void released.push('b2')); // implicit: into B, after A failed
        return 'B ok';
      });
      await turns(1);
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual(['A:a1', 'A:a2', 'B:b1']);
      failA();
      await expect(a).rejects.toThrow('A failed');
      expect(released).toEqual(['a2', 'a1']);
      expect(groupB.state).toBe('open');
      continueB();
      await expect(b).resolves.toBe('B ok');
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual(['B:b1', 'B:b2']);
      res.addAction('top', () => void released.push('top')); // no transaction open here
      await res.releaseAll();
      expect(released).toEqual(['a2', 'a1', 'top', 'b2', 'b1']);
    });

    it('should route implicit registrations of each concurrent transaction to its own group', async () => {
      const res = new Devres('dev');
      const body = async (tag: string): Promise<void> => {
        for (let i = 0; i < 3; i++) {
          res.addAction(`${tag}${i}`, () => undefined);
          await turns(1);
        }
      };
      await Promise.all([res.group('A', () => body('a')), res.group('B', () => body('b'))]);
      // Interleaved in time, each in its own group (live() lists by position, oldest first).
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual([
        'A:a0',
        'A:a1',
        'A:a2',
        'B:b0',
        'B:b1',
        'B:b2',
      ]);
      await res.releaseAll();
    });

    it('should nest a transaction started inside another one, and groups opened inside it', async () => {
      const res = new Devres('dev');
      await res.group('outer', async () => {
        res.addAction('o1', () => undefined);
        await Promise.all([
          res.group('x', async () => {
            await turns(1);
            res.addAction('x1', () => undefined);
          }),
          res.group('y', async () => {
            res.addAction('y1', () => undefined);
            const g = res.openGroup('inner');
            await turns(2);
            res.addAction('i1', () => undefined);
            g.close();
            res.addAction('y2', () => undefined);
          }),
        ]);
        res.addAction('o2', () => undefined);
      });
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual([
        'outer:o1',
        'outer/x:x1',
        'outer/y:y1',
        'outer/y/inner:i1',
        'outer/y:y2',
        'outer:o2',
      ]);
      await res.releaseAll();
    });

    it('should not enter a group opened outside a running transaction', async () => {
      const res = new Devres('dev');
      let proceed!: () => void;
      const t = res.group('t', async () => {
        await new Promise<void>((r) => (proceed = r));
        res.addAction('in t', () => undefined);
      });
      await turns(1);
      const side = res.openGroup('side'); // not inside t: a sibling
      res.addAction('in side', () => undefined);
      proceed();
      await t;
      side.close();
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual(['t:in t', 'side:in side']);
      await res.releaseAll();
    });

    it('should nest concurrent transactions as siblings in the open group around them, and send late callbacks around', async () => {
      const res = new Devres('dev');
      const outer = res.openGroup('outer');
      let late: Promise<void> | undefined;
      await Promise.all([
        res.group('x', () => {
          res.addAction('x1', () => undefined);
          // Runs after x committed: x's group is closed, so it registers around it.
          late = new Promise<void>((r) =>
            setImmediate(() => {
              res.addAction('late', () => undefined);
              r();
            }),
          );
        }),
        res.group('y', async () => {
          await turns(1);
          res.addAction('y1', () => undefined);
        }),
      ]);
      await late;
      outer.close();
      expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual([
        'outer/x:x1',
        'outer/y:y1',
        'outer:late',
      ]);
      await res.releaseAll();
    });

    describe('whose group was released', () => {
      it('should refuse an acquire whose open() was pending when the group was released, and close what it opened', async () => {
        const { log, step } = recorder();
        const res = new Devres('dev');
        res.addAction('channel', step('free channel'));
        let opened!: (v: string) => void;
        let refusedAt: unknown;
        const t = res.group('clock protocol', async (group) => {
          const acquiring = res.acquire(
            'clock events',
            () => new Promise<string>((r) => (opened = r)),
            (v) => void log.push(`close ${v}`),
          );
          await group.releaseAll();
          expect(group.state).toBe('released');
          opened('events');
          refusedAt = await acquiring.catch((e: unknown) => e);
          throw refusedAt;
        });
        const error = await t.catch((e: unknown) => e);
        expect(error).toBe(refusedAt);
        expect(error).toBeInstanceOf(DevresClosedError);
        // The same refusal as registering through the group object itself.
        expect((error as Error).message).toBe(
          'group clock protocol of dev is tearing down or torn down: clock events refused',
        );
        expect(log).toEqual(['close events']); // closed at once, before acquire rejected
        expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual([':channel']);
        await res.releaseAll();
        expect(log).toEqual(['close events', 'free channel']);
      });

      it('should refuse an implicit add, quiescing and releasing the offered resource at once, as the group object does', async () => {
        const { log, step } = recorder();
        const res = new Devres('dev');
        const explicit: unknown[] = [];
        const implicit: unknown[] = [];
        await res.group('proto', async (g) => {
          await g.releaseAll();
          for (const [scope, errors] of [
            [g, explicit],
            [res, implicit],
          ] as const) {
            const tag = scope === res ? 'implicit' : 'explicit';
            try {
              scope.add({
                name: 'x',
                value: 0,
                quiesce: step(`quiesce ${tag}`),
                release: step(`release ${tag}`),
              });
            } catch (e) {
              errors.push(e);
              await (e as DevresClosedError).released;
            }
            expect(() => scope.addAction('y', step(`action ${tag}`))).toThrow(DevresClosedError);
            expect(() => scope.openGroup('z')).toThrow(DevresClosedError);
          }
        });
        expect(implicit).toHaveLength(1);
        expect(implicit[0]).toBeInstanceOf(DevresClosedError);
        expect((implicit[0] as Error).message).toBe((explicit[0] as Error).message);
        expect(log).toEqual([
          'quiesce explicit',
          'release explicit',
          'quiesce implicit',
          'release implicit',
        ]);
        expect(res.live()).toEqual([]);
        await res.releaseAll();
      });

      it('should refuse the implicit registrations of a transaction nested in a transaction whose group was released', async () => {
        const { log, step } = recorder();
        const res = new Devres('dev');
        let outerGroup!: DevresGroup;
        let proceed!: () => void;
        const inner: unknown[] = [];
        const outer: unknown[] = [];
        let outerReleased!: Promise<void>;
        let late!: Promise<void>;
        await res.group('outer', async (o) => {
          outerGroup = o;
          await res.group('committed', () => {
            // Still running in the committed transaction's context after it returned (while
            // 'outer' runs: once no group() function runs, such code is no longer tracked).
            late = new Promise<void>((r) => setImmediate(r)).then(() => {
              try {
                res.addActionOrReset('late', step('late refused'));
              } catch (e) {
                outer.push(e);
              }
            });
          });
          const t = res.group('inner', async () => {
            await new Promise<void>((r) => (proceed = r));
            try {
              res.addActionOrReset('in inner', step('inner refused'));
            } catch (e) {
              inner.push(e);
            }
          });
          outerReleased = outerGroup.releaseAll();
          proceed();
          await t;
          await late;
        });
        await outerReleased;
        await turns(2);
        expect(outerGroup.state).toBe('released');
        expect(inner).toHaveLength(1);
        expect((inner[0] as Error).message).toMatch(
          /^group outer\/inner of dev .*: in inner refused$/,
        );
        expect(outer).toHaveLength(1);
        expect((outer[0] as Error).message).toMatch(
          /^group outer\/committed of dev .*: late refused$/,
        );
        expect(log).toEqual(['inner refused', 'late refused']);
        expect(res.live()).toEqual([]);
        await res.releaseAll();
      });

      it('should refuse the registrations of a transaction whose enclosing group is releasing', async () => {
        const res = new Devres('dev');
        const outer = res.openGroup('outer');
        let hold!: () => void;
        outer.add({
          name: 'chan',
          value: 0,
          quiesce: () => new Promise<void>((r) => (hold = r)),
          release: () => undefined,
        });
        let proceed!: () => void;
        const t = res.group('t', async () => {
          await new Promise<void>((r) => (proceed = r));
          res.addAction('in t', () => undefined);
        });
        outer.close();
        const releasing = outer.releaseAll();
        await turns(1);
        proceed();
        await expect(t).rejects.toThrow(/^group outer\/t of dev .*: in t refused$/);
        hold();
        await releasing;
        expect(res.live()).toEqual([]);
        await res.releaseAll();
      });

      it('should leave registrations outside the transaction, and of a sibling transaction, where they were', async () => {
        const res = new Devres('dev');
        let proceedB!: () => void;
        const b = res.group('B', async () => {
          await new Promise<void>((r) => (proceedB = r));
          res.addAction('b1', () => undefined);
        });
        await res.group('A', async (g) => {
          res.addAction('a1', () => undefined);
          await g.releaseAll();
          expect(() => res.addAction('a2', () => undefined)).toThrow(DevresClosedError);
        });
        res.addAction('top', () => undefined); // root-level code: no transaction, no group
        proceedB();
        await b;
        await res.group('C', (g) => {
          g.close(); // closed, not released: implicit registrations go around it
          res.addAction('around C', () => undefined);
        });
        await res.group('D', (g) => {
          g.remove(); // removed: its resources and implicit registrations go to the parent
          res.addAction('around D', () => undefined);
        });
        expect(res.live().map((r) => `${r.group}:${r.name}`)).toEqual([
          'B:b1',
          ':top',
          ':around C',
          ':around D',
        ]);
        await res.releaseAll();
      });
    });

    it('should not attach anything to non-object errors', () => {
      expect(getReleaseFailure('x')).toBeUndefined();
      expect(getReleaseFailure(null)).toBeUndefined();
    });
  });
});
