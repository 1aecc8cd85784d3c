import {
  Devres,
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
