import { MAX_TIMER_MS, RealClock } from '../src/clock/clock.js';

describe(RealClock, () => {
  const clock = new RealClock();

  describe('.now', () => {
    it('should never go backwards', () => {
      let last = clock.now();
      for (let i = 0; i < 1000; i++) {
        const t = clock.now();
        expect(t).toBeGreaterThanOrEqual(last);
        last = t;
      }
    });
  });

  describe('.setTimeout', () => {
    it('should call the callback once', async () => {
      const fired = jest.fn();
      await new Promise<void>((resolve) => {
        clock.setTimeout(() => {
          fired();
          resolve();
        }, 1);
      });
      expect(fired).toHaveBeenCalledTimes(1);
    });

    it('should not call a cancelled callback', async () => {
      const cancelled = jest.fn();
      clock.setTimeout(cancelled, 1).cancel();
      // A longer timer created later fires after the cancelled one would have.
      await new Promise<void>((resolve) => {
        clock.setTimeout(resolve, 5);
      });
      expect(cancelled).not.toHaveBeenCalled();
    });

    describe('with a delay longer than a Node timer takes (2^31 − 1 ms)', () => {
      // Node fires such a timer after 1 ms (TimeoutOverflowWarning); the fake timers do the same.
      beforeEach(() => {
        jest.useFakeTimers();
      });
      afterEach(() => {
        jest.useRealTimers();
      });

      it('should call the callback after the whole delay, not after 1 ms', () => {
        const fired = jest.fn();
        new RealClock().setTimeout(fired, MAX_TIMER_MS + 1000);
        jest.advanceTimersByTime(1);
        expect(fired).not.toHaveBeenCalled();
        jest.advanceTimersByTime(MAX_TIMER_MS - 1);
        expect(fired).not.toHaveBeenCalled();
        jest.advanceTimersByTime(999);
        expect(fired).not.toHaveBeenCalled();
        jest.advanceTimersByTime(1);
        expect(fired).toHaveBeenCalledTimes(1);
        expect(jest.getTimerCount()).toBe(0);
      });

      it('should never call the callback of an infinite delay, and cancel it', () => {
        const fired = jest.fn();
        const handle = new RealClock().setTimeout(fired, Infinity);
        jest.advanceTimersByTime(3 * MAX_TIMER_MS);
        expect(fired).not.toHaveBeenCalled();
        expect(jest.getTimerCount()).toBe(1);
        handle.cancel();
        expect(jest.getTimerCount()).toBe(0);
      });

      it('should cancel the timer in every stretch of the delay', () => {
        const fired = jest.fn();
        const handle = new RealClock().setTimeout(fired, 2.5 * MAX_TIMER_MS);
        jest.advanceTimersByTime(MAX_TIMER_MS + 5);
        handle.cancel();
        jest.advanceTimersByTime(2 * MAX_TIMER_MS);
        expect(fired).not.toHaveBeenCalled();
        expect(jest.getTimerCount()).toBe(0);
      });
    });

    it('should accept cancel after the timer fired', async () => {
      let handle!: ReturnType<RealClock['setTimeout']>;
      await new Promise<void>((resolve) => {
        handle = clock.setTimeout(resolve, 0);
      });
      expect(() => {
        handle.cancel();
      }).not.toThrow();
    });
  });

  describe('.schedule', () => {
    it('should run the task after the current one and its microtasks', async () => {
      const ran: string[] = [];
      const done = new Promise<void>((resolve) => {
        clock.schedule(() => {
          ran.push('task');
          resolve();
        });
      });
      void Promise.resolve().then(() => ran.push('microtask'));
      ran.push('sync');
      await done;
      expect(ran).toEqual(['sync', 'microtask', 'task']);
    });
  });

  describe('.yield', () => {
    it('should resolve on a later task, after tasks scheduled before it', async () => {
      const ran: string[] = [];
      clock.schedule(() => ran.push('scheduled'));
      const y = clock.yield().then(() => ran.push('yielded'));
      void Promise.resolve().then(() => ran.push('microtask'));
      await y;
      expect(ran).toEqual(['microtask', 'scheduled', 'yielded']);
    });
  });
});
