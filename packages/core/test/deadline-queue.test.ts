import fc from 'fast-check';
import { DeadlineQueue, type DeadlineNode } from '../src/clock/deadline-queue.js';
import type { Clock } from '../src/clock/clock.js';
import { VirtualClock } from '../src/clock/virtual-clock.js';

interface TestNode extends DeadlineNode {
  readonly id: number;
}

function node(id: number, onDeadline: (n: TestNode) => void = () => undefined): TestNode {
  const n: TestNode = {
    id,
    dlAt: 0,
    dlPrev: undefined,
    dlNext: undefined,
    dlLane: undefined,
    onDeadline: () => {
      onDeadline(n);
    },
  };
  return n;
}

/**
 * Fails unless the queue holds at most one clock timer, and one while anything is armed (an idle
 * queue may keep the timer it had until that fires).
 */
function expectOneTimer(q: DeadlineQueue, clock: VirtualClock): void {
  expect(clock.armedTimers).toBe(q.timerArmed ? 1 : 0);
  if (q.size > 0) expect(q.timerArmed).toBe(true);
}

describe(DeadlineQueue, () => {
  describe('.arm', () => {
    it('should call onDeadline once, when the duration has passed', async () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const fired: number[] = [];
      q.arm(
        node(1, () => fired.push(clock.now())),
        30,
      );
      expect(q.size).toBe(1);
      await clock.advance(29);
      expect(fired).toEqual([]);
      await clock.advance(1);
      expect(fired).toEqual([30]);
      await clock.runUntilIdle();
      expect(fired).toEqual([30]);
      expect(q.size).toBe(0);
    });

    it('should arm exactly one clock timer however many nodes wait, in however many lanes', () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      for (let i = 0; i < 100; i++) {
        q.arm(node(i), [30, 10, 2000, 5][i % 4] as number);
        expectOneTimer(q, clock);
      }
      expect(q.size).toBe(100);
      q.close();
    });

    it('should keep the lanes of the durations in use, and drop the empty ones once there are many', async () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const fired: number[] = [];
      // The two durations of every agent, in use all along.
      const rx = node(-1, (n) => fired.push(n.id));
      const async = node(-2, (n) => fired.push(n.id));
      q.arm(rx, 30);
      q.arm(async, 3000);
      // A duration of its own per transfer, each disarmed (answered) before the next.
      for (let i = 0; i < 1000; i++) {
        const n = node(i);
        q.arm(n, 1000 + i / 1000);
        q.disarm(n);
      }
      expect(q.laneCount).toBeLessThanOrEqual(8);
      // Nodes still armed keep their lanes, and fire in order.
      q.arm(
        node(7, (n) => fired.push(n.id)),
        50.5,
      );
      await clock.runUntilIdle(5000);
      expect(fired).toEqual([-1, 7, -2]);
      q.close();
    });

    it('should move a node that is already armed', async () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const fired: number[] = [];
      const n = node(1, () => fired.push(clock.now()));
      q.arm(n, 30);
      await clock.advance(10);
      q.arm(n, 30);
      expect(q.size).toBe(1);
      await clock.runUntilIdle();
      expect(fired).toEqual([40]);
    });

    it('should run nodes of different lanes in deadline order', async () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const fired: string[] = [];
      const arm = (name: string, ms: number): void => {
        q.arm(
          node(0, () => fired.push(`${name}@${clock.now()}`)),
          ms,
        );
      };
      arm('slow', 100);
      arm('fast', 10);
      await clock.advance(5);
      arm('mid', 30);
      arm('fast2', 10);
      await clock.runUntilIdle();
      expect(fired).toEqual(['fast@10', 'fast2@15', 'mid@35', 'slow@100']);
    });

    it('should run due nodes of different lanes in deadline order when the timer fires late', async () => {
      const clock = new VirtualClock();
      // A clock whose timers fire 50 ms late, as on a busy event loop.
      const late: Clock = {
        now: () => clock.now(),
        setTimeout: (cb, ms) => clock.setTimeout(cb, ms + 50),
        schedule: (cb) => {
          clock.schedule(cb);
        },
        yield: () => clock.yield(),
      };
      const q = new DeadlineQueue(late);
      const fired: string[] = [];
      const arm = (name: string, ms: number): void => {
        q.arm(
          node(0, () => fired.push(name)),
          ms,
        );
      };
      arm('short lane, first', 10); // the short lane is created first
      arm('long lane', 20);
      await clock.advance(5);
      arm('short lane, second', 10); // due at 15, before the long lane's 20
      await clock.advance(7);
      arm('short lane, third', 10); // due at 22, after the long lane's 20
      await clock.runUntilIdle();
      expect(fired).toEqual([
        'short lane, first',
        'short lane, second',
        'long lane',
        'short lane, third',
      ]);
    });

    it('should keep the earliest deadline when onDeadline arms a longer one', async () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const fired: string[] = [];
      // `a` expires first and re-arms a 100 ms node; `b`, in another lane, is due 5 ms later.
      q.arm(
        node(1, () => {
          fired.push(`a@${clock.now()}`);
          q.arm(
            node(3, () => fired.push(`c@${clock.now()}`)),
            100,
          );
        }),
        10,
      );
      q.arm(
        node(2, () => fired.push(`b@${clock.now()}`)),
        15,
      );
      await clock.runUntilIdle();
      expect(fired).toEqual(['a@10', 'b@15', 'c@110']);
    });

    it('should throw once the queue is closed', () => {
      const q = new DeadlineQueue(new VirtualClock());
      q.close();
      expect(() => {
        q.arm(node(1), 30);
      }).toThrow('DeadlineQueue is closed');
    });
  });

  describe('.disarm', () => {
    async function lane(disarm: number[]): Promise<{ fired: string[]; clock: VirtualClock }> {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const fired: string[] = [];
      const nodes = [0, 1, 2].map((i) => node(i, (n) => fired.push(`${n.id}@${clock.now()}`)));
      for (const n of nodes) {
        q.arm(n, 30);
        await clock.advance(1);
      }
      for (const i of disarm) {
        q.disarm(nodes[i] as TestNode);
        expectOneTimer(q, clock);
      }
      await clock.runUntilIdle();
      expectOneTimer(q, clock);
      return { fired, clock };
    }

    it('should keep a disarmed head from firing, and re-arm the stale timer for the next one', async () => {
      expect((await lane([0])).fired).toEqual(['1@31', '2@32']);
    });

    it('should keep a disarmed middle node from firing', async () => {
      expect((await lane([1])).fired).toEqual(['0@30', '2@32']);
    });

    it('should keep a disarmed tail from firing', async () => {
      expect((await lane([2])).fired).toEqual(['0@30', '1@31']);
    });

    it('should leave the timer to fire idle when the last node is disarmed, and not re-arm it', async () => {
      const { fired, clock } = await lane([1, 0, 2]);
      expect(fired).toEqual([]);
      // The idle timer fired at the old head's deadline, found nothing due and stayed unarmed.
      expect(clock.now()).toBe(30);
      expect(clock.armedTimers).toBe(0);
    });

    it('should not arm and cancel a clock timer per node when nodes come one at a time', async () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const setTimeout = jest.spyOn(clock, 'setTimeout');
      const fired = jest.fn();
      for (let i = 0; i < 100; i++) {
        const n = node(i, fired);
        q.arm(n, 30);
        await clock.advance(0.1);
        q.disarm(n);
      }
      // One timer for the first node; the later ones are due after it, so it serves them all.
      expect(setTimeout).toHaveBeenCalledTimes(1);
      expect(q.timerArmed).toBe(true);
      await clock.runUntilIdle();
      expect(fired).not.toHaveBeenCalled();
      expect(setTimeout).toHaveBeenCalledTimes(1);
      expect(q.timerArmed).toBe(false);
      expect(clock.armedTimers).toBe(0);
      q.close();
    });

    it('should be a no-op for a node that is not armed', () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const n = node(1);
      q.disarm(n);
      q.arm(node(2), 10);
      q.disarm(n);
      expect(q.size).toBe(1);
      expectOneTimer(q, clock);
      q.close();
    });

    it('should let a stale timer find nothing due and re-arm for the head', async () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const fired: number[] = [];
      const head = node(1);
      q.arm(head, 10);
      q.arm(
        node(2, () => fired.push(clock.now())),
        30,
      );
      q.disarm(head);
      // The timer still targets the old head (10 ms): it fires, finds nothing, re-arms for 30.
      await clock.advance(10);
      expect(fired).toEqual([]);
      expect(q.timerArmed).toBe(true);
      expect(clock.armedTimers).toBe(1);
      await clock.advance(20);
      expect(fired).toEqual([30]);
      expectOneTimer(q, clock);
    });
  });

  describe('.close', () => {
    it('should disarm every node and leave no clock timer', async () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const fired = jest.fn();
      for (let i = 0; i < 10; i++) q.arm(node(i, fired), 10 * (i % 3) + 5);
      q.close();
      expect(q.size).toBe(0);
      expect(q.timerArmed).toBe(false);
      expect(clock.armedTimers).toBe(0);
      await clock.runUntilIdle();
      expect(fired).not.toHaveBeenCalled();
    });

    it('should stop the remaining deadlines when called from onDeadline', async () => {
      const clock = new VirtualClock();
      const q = new DeadlineQueue(clock);
      const fired: number[] = [];
      q.arm(
        node(1, (n) => {
          fired.push(n.id);
          q.close();
        }),
        10,
      );
      q.arm(
        node(2, (n) => fired.push(n.id)),
        10,
      );
      q.arm(
        node(3, (n) => fired.push(n.id)),
        20,
      );
      await clock.runUntilIdle();
      expect(fired).toEqual([1]);
      expect(clock.armedTimers).toBe(0);
    });
  });

  describe('having random arms, disarms, re-arms from onDeadline and clock advances', () => {
    type Op =
      | { kind: 'arm'; id: number; ms: number; child: number | undefined }
      | { kind: 'disarm'; id: number }
      | { kind: 'advance'; ms: number };
    const durations = fc.constantFrom(1, 5, 10, 30, 100);
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('arm' as const),
        id: fc.nat(7),
        ms: durations,
        child: fc.option(durations, { nil: undefined }),
      }),
      fc.record({ kind: fc.constant('disarm' as const), id: fc.nat(7) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }),
    );

    it('should fire every armed node exactly at its deadline, in deadline order, with one timer', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
          const clock = new VirtualClock();
          const q = new DeadlineQueue(clock);
          // The model: deadline of each armed node.
          const due = new Map<TestNode, number>();
          const fired: { at: number; due: number }[] = [];
          let nextChildId = 100;
          const make = (id: number, child: number | undefined): TestNode =>
            node(id, (n) => {
              // While the queue fires, its timer may be momentarily unarmed; never more than one.
              expect(clock.armedTimers).toBe(q.timerArmed ? 1 : 0);
              fired.push({ at: clock.now(), due: due.get(n) ?? Number.NaN });
              due.delete(n);
              if (child !== undefined) {
                const c = make(nextChildId++, undefined);
                q.arm(c, child);
                due.set(c, clock.now() + child);
              }
            });
          const nodes = new Map<number, TestNode>();
          for (const op of ops) {
            if (op.kind === 'arm') {
              const n = make(op.id, op.child);
              const old = nodes.get(op.id);
              if (old !== undefined) {
                q.disarm(old);
                due.delete(old);
              }
              nodes.set(op.id, n);
              q.arm(n, op.ms);
              due.set(n, clock.now() + op.ms);
            } else if (op.kind === 'disarm') {
              const n = nodes.get(op.id);
              if (n !== undefined) {
                q.disarm(n);
                due.delete(n);
              }
            } else {
              await clock.advance(op.ms);
            }
            expect(q.size).toBe(due.size);
            expectOneTimer(q, clock);
          }
          await clock.runUntilIdle();
          expect(due.size).toBe(0);
          expectOneTimer(q, clock);
          for (const f of fired) expect(f.at).toBe(f.due);
          const times = fired.map((f) => f.at);
          expect(times).toEqual([...times].sort((a, b) => a - b));
        }),
        { numRuns: 200 },
      );
    });
  });
});
