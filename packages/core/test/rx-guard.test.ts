import { RxGuard } from '../src/channel/rx-guard.js';

/** Whether `p` has settled, after letting pending microtasks run. */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe(RxGuard, () => {
  describe('.enter', () => {
    it('should admit a callback and count it until it exits', () => {
      const guard = new RxGuard();
      expect(guard.enter()).toBe(true);
      expect(guard.enter()).toBe(true);
      expect(guard.active).toBe(2);
      guard.exit();
      guard.exit();
      expect(guard.active).toBe(0);
      expect(guard.refused).toBe(0);
      expect(guard.closed).toBe(false);
    });

    describe('when the guard is quiesced', () => {
      it('should refuse the callback and count the refusal, leaving active unchanged', async () => {
        const guard = new RxGuard();
        await guard.quiesce();
        expect(guard.enter()).toBe(false);
        expect(guard.enter()).toBe(false);
        expect(guard.refused).toBe(2);
        expect(guard.active).toBe(0);
      });
    });
  });

  describe('.quiesce', () => {
    it('should close the guard at once and resolve when nothing is inside', async () => {
      const guard = new RxGuard();
      const q = guard.quiesce();
      expect(guard.closed).toBe(true);
      await expect(q).resolves.toBeUndefined();
    });

    it('should wait for a callback in flight that awaits, and resolve after it exits', async () => {
      const guard = new RxGuard();
      const order: string[] = [];
      const gate = deferred();
      const callback = (async () => {
        if (!guard.enter()) return;
        try {
          order.push('callback starts');
          await gate.promise;
          order.push('callback returns');
        } finally {
          guard.exit();
        }
      })();
      const quiesced = guard.quiesce().then(() => order.push('quiesced'));
      expect(await isSettled(quiesced)).toBe(false);
      // A callback that arrives while quiesce waits is refused and does not disturb the count.
      expect(guard.enter()).toBe(false);
      expect(guard.active).toBe(1);
      gate.resolve();
      await Promise.all([callback, quiesced]);
      expect(order).toEqual(['callback starts', 'callback returns', 'quiesced']);
      expect(guard.refused).toBe(1);
    });

    it('should wait for the last of several callbacks in flight', async () => {
      const guard = new RxGuard();
      guard.enter();
      guard.enter();
      const q = guard.quiesce();
      guard.exit();
      expect(await isSettled(q)).toBe(false);
      guard.exit();
      expect(await isSettled(q)).toBe(true);
    });

    it('should be idempotent, returning the same promise', async () => {
      const guard = new RxGuard();
      guard.enter();
      const first = guard.quiesce();
      expect(guard.quiesce()).toBe(first);
      guard.exit();
      await first;
      expect(guard.quiesce()).toBe(first);
    });
  });
});
