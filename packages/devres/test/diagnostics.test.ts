import {
  Devres,
  DevresReleaseError,
  LeakTracker,
  ensureNoLeaksInSuite,
  formatDevresEvent,
  setResourceTracker,
} from '@scmi-ts/devres';

describe(LeakTracker, () => {
  it('should report resources left live with their creation stacks, and not released or forgotten ones', async () => {
    const tracker = new LeakTracker();
    const previous = setResourceTracker(tracker);
    const res = new Devres('dev');
    try {
      res.addAction('leaked', () => undefined);
      const forgotten = res.addAction('forgotten', () => undefined);
      const released = res.addAction('released', () => undefined);
      res.forget(forgotten);
      await res.release(released);
      expect(tracker.leaks().map((l) => l.name)).toEqual(['leaked']);
      expect(tracker.leaks()[0]?.stack).toContain('diagnostics.test');
      expect(tracker.report()).toContain('1 device-managed resource(s) leaked');
    } finally {
      setResourceTracker(previous);
      await res.releaseAll();
    }
    expect(tracker.leaks().map((l) => l.name)).toEqual([]);
    expect(tracker.report()).toBe('');
  });

  it('should not let a tracker that throws stop a teardown half-way', async () => {
    const previous = setResourceTracker({
      wantsStacks: false,
      trackResource: () => undefined,
      untrackResource: () => {
        throw new Error('tracker bug');
      },
    });
    const released: string[] = [];
    const res = new Devres('dev');
    try {
      res.addAction('older', () => void released.push('older'));
      const h = res.addAction('newer', () => void released.push('newer'));
      await expect(res.release(h)).resolves.toBeUndefined();
    } finally {
      setResourceTracker(previous);
    }
    await expect(res.releaseAll()).resolves.toBeUndefined();
    expect(released).toEqual(['newer', 'older']);
  });

  describe('while a release is still running', () => {
    /** Runs `fn` with a fresh tracker installed; returns the tracker. */
    async function tracking(fn: (tracker: LeakTracker) => Promise<void>): Promise<LeakTracker> {
      const tracker = new LeakTracker(false);
      const previous = setResourceTracker(tracker);
      try {
        await fn(tracker);
      } finally {
        setResourceTracker(previous);
      }
      return tracker;
    }

    function gate(): { wait: () => Promise<void>; open: () => void } {
      let open!: () => void;
      const p = new Promise<void>((r) => (open = r));
      return { wait: () => p, open };
    }

    const names = (t: LeakTracker): string[] => t.leaks().map((l) => l.name);

    it('should keep tracking a resource whose early release is still quiescing or releasing', async () => {
      const q = gate();
      const r = gate();
      const tracker = await tracking(async (t) => {
        const res = new Devres('dev');
        const h = res.add({ name: 'chan', value: 0, quiesce: q.wait, release: r.wait });
        const released = res.release(h);
        expect(h.state).toBe('quiescing');
        expect(names(t)).toEqual(['chan']);
        q.open();
        await new Promise((done) => setImmediate(done));
        expect(h.state).toBe('releasing');
        expect(names(t)).toEqual(['chan']);
        r.open();
        await released;
        expect(h.state).toBe('released');
        expect(names(t)).toEqual([]);
        await res.releaseAll();
      });
      expect(names(tracker)).toEqual([]);
    });

    it('should report a resource whose early release never settles', async () => {
      const res = new Devres('dev');
      const tracker = await tracking(async () => {
        const h = res.add({
          name: 'stuck',
          value: 0,
          quiesce: () => new Promise<void>(() => undefined),
          release: () => undefined,
        });
        void res.release(h);
        await new Promise((done) => setImmediate(done));
        expect(h.state).toBe('quiescing');
      });
      expect(names(tracker)).toEqual(['stuck']);
      expect(tracker.report()).toContain('- dev: stuck');
    });

    it('should keep tracking the resources of a group or device teardown until each is released', async () => {
      const inGroup = gate();
      const inDevice = gate();
      const tracker = await tracking(async (t) => {
        const res = new Devres('dev');
        res.addAction('older', () => undefined);
        res.add({ name: 'slow', value: 0, release: inDevice.wait });
        const g = res.openGroup('g');
        g.addAction('g older', () => undefined);
        g.add({ name: 'g slow', value: 0, release: inGroup.wait });
        g.close();
        const groupDone = g.releaseAll();
        await new Promise((done) => setImmediate(done));
        expect(names(t)).toEqual(['older', 'slow', 'g older', 'g slow']);
        inGroup.open();
        await groupDone;
        expect(names(t)).toEqual(['older', 'slow']);
        const teardown = res.releaseAll();
        await new Promise((done) => setImmediate(done));
        expect(names(t)).toEqual(['older', 'slow']);
        inDevice.open();
        await teardown;
        expect(names(t)).toEqual([]);
      });
      expect(names(tracker)).toEqual([]);
    });

    it('should keep tracking a resource released during a quiesce phase until the release phase released it', async () => {
      const chan = gate();
      const tracker = await tracking(async (t) => {
        const res = new Devres('dev');
        res.add({ name: 'chan', value: 0, quiesce: chan.wait, release: () => undefined });
        const h = res.addAction('events', () => undefined);
        const teardown = res.releaseAll();
        await res.release(h); // deferred: quiesced, left for the release phase
        expect(h.state).toBe('releasing');
        expect(names(t)).toEqual(['chan', 'events']);
        chan.open();
        await teardown;
        expect(names(t)).toEqual([]);
      });
      expect(names(tracker)).toEqual([]);
    });

    it('should stop tracking a resource whose release step failed (it counts as released)', async () => {
      const tracker = await tracking(async () => {
        const res = new Devres('dev');
        const h = res.addAction('bad', () => {
          throw new Error('bad release');
        });
        await expect(res.release(h)).rejects.toThrow(DevresReleaseError);
        expect(h.state).toBe('released');
      });
      expect(names(tracker)).toEqual([]);
    });
  });

  it('should skip stacks when asked', () => {
    const tracker = new LeakTracker(false);
    const previous = setResourceTracker(tracker);
    try {
      new Devres('dev').addAction('x', () => undefined);
    } finally {
      setResourceTracker(previous);
    }
    expect(tracker.leaks()[0]?.stack).toBeUndefined();
    expect(tracker.report()).toContain('(no stack)');
  });
});

describe(ensureNoLeaksInSuite, () => {
  it('should fail the test that leaks and restore the previous tracker', () => {
    const hooks: { before?: () => void; after?: () => void } = {};
    const g = globalThis as unknown as Record<string, unknown>;
    const saved = { beforeEach: g.beforeEach, afterEach: g.afterEach };
    g.beforeEach = (fn: () => void) => (hooks.before = fn);
    g.afterEach = (fn: () => void) => (hooks.after = fn);
    let guard: ReturnType<typeof ensureNoLeaksInSuite>;
    try {
      guard = ensureNoLeaksInSuite({ captureStacks: false });
    } finally {
      g.beforeEach = saved.beforeEach;
      g.afterEach = saved.afterEach;
    }
    const outer = new LeakTracker();
    const previous = setResourceTracker(outer);
    try {
      hooks.before?.();
      expect(guard.tracker).toBeInstanceOf(LeakTracker);
      new Devres('dev').addAction('leaked', () => undefined);
      expect(() => hooks.after?.()).toThrow(/leaked:\n- dev: leaked/);
      expect(guard.tracker).toBeUndefined();
      // The previous tracker is back in force.
      new Devres('dev2').addAction('seen by outer', () => undefined);
      expect(outer.leaks().map((l) => l.name)).toEqual(['seen by outer']);
      // A clean test passes.
      hooks.before?.();
      hooks.after?.();
    } finally {
      setResourceTracker(previous);
    }
  });

  it('should refuse to run outside a test suite', () => {
    const g = globalThis as unknown as Record<string, unknown>;
    const saved = g.beforeEach;
    g.beforeEach = undefined;
    try {
      expect(() => ensureNoLeaksInSuite()).toThrow(/inside a test suite/);
    } finally {
      g.beforeEach = saved;
    }
  });
});

describe(formatDevresEvent, () => {
  it('should format grouped events with their path', () => {
    expect(
      formatDevresEvent({ seq: 1, type: 'add', device: 'd', resource: 'r', group: 'g/h' }),
    ).toBe('add            d g/h/r');
  });
});
