import { VirtualClock } from '../src/clock/virtual-clock.js';
import type { TimerHandle } from '../src/clock/clock.js';

/** Real macrotask turns, to let auto mode (which pumps on setImmediate) go on or stop. */
async function realTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe(VirtualClock, () => {
  describe('constructor', () => {
    it('should start at 0 by default, or at options.start', () => {
      expect(new VirtualClock().now()).toBe(0);
      expect(new VirtualClock({ start: 1000 }).now()).toBe(1000);
    });
  });

  describe('.setTimeout', () => {
    it('should fire timers in time order, ties in creation order', async () => {
      const clock = new VirtualClock();
      const fired: string[] = [];
      clock.setTimeout(() => fired.push('c@20'), 20);
      clock.setTimeout(() => fired.push('a@10'), 10);
      clock.setTimeout(() => fired.push('b@10'), 10);
      clock.setTimeout(() => fired.push('d@0'), 0);
      clock.setTimeout(() => fired.push('e@10'), 10);
      await clock.advance(20);
      expect(fired).toEqual(['d@0', 'a@10', 'b@10', 'e@10', 'c@20']);
    });

    it('should set now() to the due time of the timer that is firing', async () => {
      const clock = new VirtualClock();
      const seen: number[] = [];
      clock.setTimeout(() => seen.push(clock.now()), 7);
      clock.setTimeout(() => seen.push(clock.now()), 12.5);
      await clock.advance(100);
      expect(seen).toEqual([7, 12.5]);
      expect(clock.now()).toBe(100);
    });

    it('should treat a negative delay as 0', async () => {
      const clock = new VirtualClock();
      const fired = jest.fn();
      clock.setTimeout(fired, -5);
      await clock.advance(0);
      expect(fired).toHaveBeenCalledTimes(1);
      expect(clock.now()).toBe(0);
    });
  });

  describe('.armedTimers', () => {
    it('should count timers that are neither fired nor cancelled', async () => {
      const clock = new VirtualClock();
      const a = clock.setTimeout(() => undefined, 10);
      clock.setTimeout(() => undefined, 20);
      expect(clock.armedTimers).toBe(2);
      a.cancel();
      expect(clock.armedTimers).toBe(1);
      await clock.advance(20);
      expect(clock.armedTimers).toBe(0);
    });
  });

  describe('TimerHandle.cancel', () => {
    it('should keep a cancelled timer from firing', async () => {
      const clock = new VirtualClock();
      const fired = jest.fn();
      clock.setTimeout(fired, 10).cancel();
      await clock.runUntilIdle();
      expect(fired).not.toHaveBeenCalled();
    });

    it('should be a no-op once the timer fired, or when called twice', async () => {
      const clock = new VirtualClock();
      const t = clock.setTimeout(() => undefined, 1);
      clock.setTimeout(() => undefined, 5);
      await clock.advance(1);
      t.cancel();
      t.cancel();
      expect(clock.armedTimers).toBe(1);
    });

    it('should cancel a later timer from inside an earlier one', async () => {
      const clock = new VirtualClock();
      const fired = jest.fn();
      const later = clock.setTimeout(fired, 10);
      clock.setTimeout(() => {
        later.cancel();
      }, 5);
      await clock.advance(10);
      expect(fired).not.toHaveBeenCalled();
    });
  });

  describe('.schedule', () => {
    it('should run tasks in FIFO order, the tasks they schedule after the ones already queued', async () => {
      const clock = new VirtualClock();
      const ran: string[] = [];
      clock.schedule(() => {
        ran.push('a');
        clock.schedule(() => ran.push('c'));
      });
      clock.schedule(() => ran.push('b'));
      expect(clock.pendingTasks).toBe(2);
      await clock.runTasks();
      expect(ran).toEqual(['a', 'b', 'c']);
      expect(clock.pendingTasks).toBe(0);
    });

    it('should flush every microtask of a task (whole promise chains) before the next task', async () => {
      const clock = new VirtualClock();
      const ran: string[] = [];
      clock.schedule(() => {
        ran.push('task 1');
        void (async () => {
          await Promise.resolve();
          await Promise.resolve();
          ran.push('chain of task 1');
          await new Promise<void>((resolve) => {
            queueMicrotask(resolve);
          });
          ran.push('end of chain');
        })();
      });
      clock.schedule(() => ran.push('task 2'));
      await clock.runTasks();
      expect(ran).toEqual(['task 1', 'chain of task 1', 'end of chain', 'task 2']);
    });

    it('should not run anything before the test drives the clock', async () => {
      const clock = new VirtualClock();
      const task = jest.fn();
      clock.schedule(task);
      await realTurns(3);
      expect(task).not.toHaveBeenCalled();
    });
  });

  describe('.runTasks', () => {
    it('should not move time or fire timers', async () => {
      const clock = new VirtualClock();
      const timer = jest.fn();
      clock.setTimeout(timer, 0);
      clock.schedule(() => undefined);
      await clock.runTasks();
      expect(timer).not.toHaveBeenCalled();
      expect(clock.now()).toBe(0);
    });
  });

  describe('.advance', () => {
    it('should fire the timers due within the window, and leave the later ones', async () => {
      const clock = new VirtualClock();
      const fired: number[] = [];
      for (const ms of [5, 10, 15]) clock.setTimeout(() => fired.push(ms), ms);
      await clock.advance(10);
      expect(fired).toEqual([5, 10]);
      expect(clock.now()).toBe(10);
      expect(clock.armedTimers).toBe(1);
    });

    it('should run the tasks a timer schedules before the next timer fires', async () => {
      const clock = new VirtualClock();
      const ran: string[] = [];
      clock.setTimeout(() => {
        ran.push('timer 1');
        clock.schedule(() => ran.push('task of timer 1'));
      }, 1);
      clock.setTimeout(() => ran.push('timer 2'), 1);
      await clock.advance(1);
      expect(ran).toEqual(['timer 1', 'task of timer 1', 'timer 2']);
    });

    it('should fire a timer armed during the window when it falls within it', async () => {
      const clock = new VirtualClock();
      const fired: number[] = [];
      clock.setTimeout(() => {
        clock.setTimeout(() => fired.push(clock.now()), 3);
        clock.setTimeout(() => fired.push(clock.now()), 30);
      }, 5);
      await clock.advance(10);
      expect(fired).toEqual([8]);
    });

    it('should let a promise chain awaiting a timer settle within the call', async () => {
      const clock = new VirtualClock();
      const sleep = (ms: number): Promise<void> =>
        new Promise((resolve) => clock.setTimeout(resolve, ms));
      let done = false;
      void (async () => {
        await sleep(10);
        await sleep(10);
        done = true;
      })();
      await clock.advance(19);
      expect(done).toBe(false);
      await clock.advance(1);
      expect(done).toBe(true);
    });
  });

  describe('.runUntilIdle', () => {
    it('should jump from timer to timer until nothing is pending', async () => {
      const clock = new VirtualClock();
      const seen: number[] = [];
      const tick = (): void => {
        seen.push(clock.now());
        if (seen.length < 4) clock.setTimeout(tick, 25);
      };
      clock.setTimeout(tick, 25);
      await clock.runUntilIdle();
      expect(seen).toEqual([25, 50, 75, 100]);
      expect(clock.now()).toBe(100);
      expect(clock.armedTimers).toBe(0);
    });

    it('should stop at limitMs and leave later timers armed', async () => {
      const clock = new VirtualClock();
      const fired = jest.fn();
      clock.setTimeout(fired, 500);
      await clock.runUntilIdle(100);
      expect(fired).not.toHaveBeenCalled();
      expect(clock.armedTimers).toBe(1);
    });
  });

  describe('with a background timer (a platform polling its fast channels)', () => {
    /** A background timer re-armed every 4 ms until `stop`; the times it fired at. */
    function poller(clock: VirtualClock): { fired: number[]; stop: () => void } {
      const fired: number[] = [];
      let handle = clock.setTimeout(tick, 4, { background: true });
      function tick(): void {
        fired.push(clock.now());
        handle = clock.setTimeout(tick, 4, { background: true });
      }
      return { fired, stop: () => handle.cancel() };
    }

    it('should not take it for pending work in runUntilIdle, but fire it on the way', async () => {
      const clock = new VirtualClock();
      const poll = poller(clock);
      await clock.runUntilIdle();
      // Nothing else armed: idle at once, time not moved, the poller still armed.
      expect(poll.fired).toEqual([]);
      expect(clock.now()).toBe(0);
      expect(clock.armedTimers).toBe(1);
      // With a timer at 10 ms: the polls due before it fire, in time order, then idle.
      const done = jest.fn();
      clock.setTimeout(done, 10);
      await clock.runUntilIdle();
      expect(poll.fired).toEqual([4, 8]);
      expect(done).toHaveBeenCalledTimes(1);
      expect(clock.now()).toBe(10);
      // advance fires it as any timer.
      await clock.advance(6);
      expect(poll.fired).toEqual([4, 8, 12, 16]);
      poll.stop();
      expect(clock.armedTimers).toBe(0);
    });

    it('should not keep an auto clock pumping for it alone, nor run virtual time away', async () => {
      const clock = new VirtualClock({ auto: true });
      const poll = poller(clock);
      await realTurns(5);
      expect(poll.fired).toEqual([]);
      expect(clock.now()).toBe(0);
      expect(process.getActiveResourcesInfo()).not.toContain('Immediate');
      // Other work moves it, the polls due on the way firing first.
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 9));
      expect(poll.fired).toEqual([4, 8]);
      expect(clock.now()).toBe(9);
      poll.stop();
    });
  });

  describe('.yield', () => {
    it('should resolve after the default quantum of 0.05 ms of virtual time', async () => {
      const clock = new VirtualClock();
      let resolved = false;
      void clock.yield().then(() => (resolved = true));
      await clock.advance(0.04);
      expect(resolved).toBe(false);
      await clock.advance(0.01);
      expect(resolved).toBe(true);
    });

    it('should let a polling loop reach its deadline', async () => {
      const clock = new VirtualClock({ yieldQuantumMs: 1 });
      const state = { timedOut: false };
      clock.setTimeout(() => (state.timedOut = true), 10);
      let polls = 0;
      const loop = (async () => {
        while (!state.timedOut) {
          polls++;
          await clock.yield();
        }
      })();
      await clock.runUntilIdle();
      await loop;
      expect(polls).toBe(10);
      expect(clock.now()).toBe(10);
    });
  });

  describe('having auto mode', () => {
    it('should resolve a promise chain that awaits a 30 ms timer by itself', async () => {
      const clock = new VirtualClock({ auto: true });
      const sleep = (ms: number): Promise<void> =>
        new Promise((resolve) => clock.setTimeout(resolve, ms));
      const result = await (async () => {
        await sleep(30);
        await clock.yield();
        return clock.now();
      })();
      expect(result).toBe(30.05);
    });

    it('should run scheduled tasks by itself, in FIFO order', async () => {
      const clock = new VirtualClock({ auto: true });
      const ran: number[] = [];
      await new Promise<void>((resolve) => {
        clock.schedule(() => ran.push(1));
        clock.schedule(() => ran.push(2));
        clock.schedule(resolve);
      });
      expect(ran).toEqual([1, 2]);
    });

    it('should stop pumping once idle, leaving no immediate behind, and start again on new work', async () => {
      const clock = new VirtualClock({ auto: true });
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 30));
      await realTurns(2);
      expect(process.getActiveResourcesInfo()).not.toContain('Immediate');
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 5));
      expect(clock.now()).toBe(35);
    });

    describe('when a call drives it', () => {
      /** Stops the test's periodic timer: an auto clock would otherwise pump forever. */
      let stop: (() => void) | undefined;
      afterEach(async () => {
        stop?.();
        stop = undefined;
        await realTurns(3);
        expect(process.getActiveResourcesInfo()).not.toContain('Immediate');
      });

      /** A timer every 500 ms that schedules a task each time, until `stop` (a periodic sensor). */
      function periodic(clock: VirtualClock): number[] {
        const fired: number[] = [];
        let handle: TimerHandle | undefined;
        const tick = (): void => {
          fired.push(clock.now());
          clock.schedule(() => undefined);
          handle = clock.setTimeout(tick, 500);
        };
        handle = clock.setTimeout(tick, 500);
        stop = () => handle?.cancel();
        return fired;
      }

      it('should stop advance at its target against a periodic timer, and go on by itself after', async () => {
        const clock = new VirtualClock({ auto: true });
        const fired = periodic(clock);
        await clock.advance(1);
        expect(clock.now()).toBe(1);
        expect(fired).toEqual([]);
        await clock.advance(1600);
        expect(clock.now()).toBe(1601);
        expect(fired).toEqual([500, 1000, 1500]);
        // Auto mode again: the next tick comes by itself.
        await realTurns(10);
        expect(fired.length).toBeGreaterThan(3);
        expect(fired.slice(3, 5)).toEqual([2000, 2500]);
      });

      it('should end runUntilIdle at its limit against a periodic timer, firing what is due', async () => {
        const clock = new VirtualClock({ auto: true });
        const fired = periodic(clock);
        await clock.runUntilIdle(2000);
        expect(fired).toEqual([500, 1000, 1500, 2000]);
        expect(clock.now()).toBe(2000);
      });
    });

    it('should go on after a task or a timer throws (the throw escapes, as from a real timer)', async () => {
      // The throws escape the pump's macrotask, as they would from setImmediate: caught here by a
      // wrapper around it, so that they are not this test's uncaught exceptions.
      const realSetImmediate = globalThis.setImmediate;
      const escaped: unknown[] = [];
      globalThis.setImmediate = ((cb: () => void) =>
        realSetImmediate(() => {
          try {
            cb();
          } catch (error) {
            escaped.push(error);
          }
        })) as unknown as typeof setImmediate;
      try {
        const clock = new VirtualClock({ auto: true });
        const ran: string[] = [];
        clock.schedule(() => {
          throw new Error('task');
        });
        clock.setTimeout(() => {
          throw new Error('timer');
        }, 1);
        clock.setTimeout(() => ran.push('timer at 5'), 5);
        clock.schedule(() => ran.push('task'));
        await realTurns(10);
        expect(ran).toEqual(['task', 'timer at 5']);
        expect(escaped.map((e) => (e as Error).message)).toEqual(['task', 'timer']);
        expect(clock.now()).toBe(5);
      } finally {
        globalThis.setImmediate = realSetImmediate;
      }
    });
  });
});
