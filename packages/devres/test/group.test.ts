import {
  Devres,
  DevresGroup,
  DevresReleaseError,
  ensureNoLeaksInSuite,
  getReleaseFailure,
} from '@scmi-ts/devres';

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

    it('should not attach anything to non-object errors', () => {
      expect(getReleaseFailure('x')).toBeUndefined();
      expect(getReleaseFailure(null)).toBeUndefined();
    });
  });
});
