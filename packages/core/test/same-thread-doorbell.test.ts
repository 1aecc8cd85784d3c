import { VirtualClock } from '../src/clock/virtual-clock.js';
import {
  SameThreadDoorbell,
  createSameThreadDoorbellPair,
} from '../src/doorbell/same-thread-doorbell.js';
import { ScmiTransportError } from '../src/errors/scmi-error.js';
import { codeOfError } from './support/code-of.js';

function setup(): {
  clock: VirtualClock;
  a: SameThreadDoorbell;
  b: SameThreadDoorbell;
  calls: string[];
} {
  const clock = new VirtualClock();
  const [a, b] = createSameThreadDoorbellPair(clock);
  const calls: string[] = [];
  return { clock, a, b, calls };
}

const codeOf = codeOfError(ScmiTransportError);

describe(createSameThreadDoorbellPair, () => {
  it('should link two sides: ringing one calls the listener of the other', async () => {
    const { clock, a, b, calls } = setup();
    a.listen(() => calls.push('a'));
    b.listen(() => calls.push('b'));
    a.ring();
    await clock.runTasks();
    b.ring();
    await clock.runTasks();
    expect(calls).toEqual(['b', 'a']);
  });
});

describe(SameThreadDoorbell, () => {
  describe('.ring', () => {
    it('should deliver as a task on the clock, never inside ring()', async () => {
      const { clock, a, b, calls } = setup();
      b.listen(() => calls.push('delivered'));
      a.ring();
      calls.push('after ring');
      expect(clock.pendingTasks).toBe(1);
      expect(b.pending).toBe(true);
      await clock.runTasks();
      expect(calls).toEqual(['after ring', 'delivered']);
      expect(b.pending).toBe(false);
    });

    it('should coalesce rings while a delivery is pending', async () => {
      const { clock, a, b } = setup();
      const onRing = jest.fn();
      b.listen(onRing);
      a.ring();
      a.ring();
      a.ring();
      expect(clock.pendingTasks).toBe(1);
      await clock.runTasks();
      expect(onRing).toHaveBeenCalledTimes(1);
      expect(b.delivered).toBe(1);
    });

    it('should deliver again a ring made by the listener itself', async () => {
      const { clock, a, b } = setup();
      let n = 0;
      b.listen(() => {
        if (++n < 3) a.ring();
      });
      a.ring();
      await clock.runTasks();
      expect(n).toBe(3);
    });

    it('should latch a ring made before the listener is set, and deliver it once listened', async () => {
      const { clock, a, b } = setup();
      a.ring();
      a.ring();
      await clock.runTasks();
      expect(b.pending).toBe(true);
      const onRing = jest.fn();
      b.listen(onRing);
      await clock.runTasks();
      expect(onRing).toHaveBeenCalledTimes(1);
    });

    it('should run deliveries of both directions in ring order', async () => {
      const { clock, a, b, calls } = setup();
      a.listen(() => calls.push('to a'));
      b.listen(() => calls.push('to b'));
      b.ring();
      a.ring();
      await clock.runTasks();
      expect(calls).toEqual(['to a', 'to b']);
    });
  });

  describe('.listen', () => {
    it('should throw E_DOORBELL_LISTENING when a listener is already set', () => {
      const { a } = setup();
      a.listen(() => undefined);
      expect(
        codeOf(() => {
          a.listen(() => undefined);
        }),
      ).toBe('E_DOORBELL_LISTENING');
    });

    it('should throw E_DOORBELL_CLOSED once the side is closed', () => {
      const { a } = setup();
      a.close();
      expect(
        codeOf(() => {
          a.listen(() => undefined);
        }),
      ).toBe('E_DOORBELL_CLOSED');
    });
  });

  describe('.setInterceptor', () => {
    it('should hand each delivery to the interceptor, to fire when the test chooses', () => {
      const { clock, a, b, calls } = setup();
      const held: (() => void)[] = [];
      b.setInterceptor((deliver) => held.push(deliver));
      b.listen(() => calls.push('delivered'));
      a.ring();
      a.ring();
      expect(held).toHaveLength(1);
      expect(clock.pendingTasks).toBe(0);
      calls.push('held');
      held[0]?.();
      expect(calls).toEqual(['held', 'delivered']);
    });

    it('should make a held delivery fire once however often it is called', () => {
      const { a, b } = setup();
      const held: (() => void)[] = [];
      const onRing = jest.fn();
      b.setInterceptor((deliver) => held.push(deliver));
      b.listen(onRing);
      a.ring();
      held[0]?.();
      held[0]?.();
      expect(onRing).toHaveBeenCalledTimes(1);
    });

    it('should go back to the clock once cleared', async () => {
      const { clock, a, b } = setup();
      const intercept = jest.fn();
      const onRing = jest.fn();
      b.listen(onRing);
      b.setInterceptor(intercept);
      b.setInterceptor(undefined);
      a.ring();
      await clock.runTasks();
      expect(intercept).not.toHaveBeenCalled();
      expect(onRing).toHaveBeenCalledTimes(1);
    });
  });

  describe('.close', () => {
    it('should drop a delivery that was already scheduled', async () => {
      const { clock, a, b } = setup();
      const onRing = jest.fn();
      b.listen(onRing);
      a.ring();
      expect(clock.pendingTasks).toBe(1);
      b.close();
      await clock.runTasks();
      expect(onRing).not.toHaveBeenCalled();
      // Dropped and counted, apart from the rings after the close; closing again counts nothing.
      b.close();
      expect([b.droppedAtClose, b.ignored]).toEqual([1, 0]);
    });

    it('should count no ring dropped at close when none was pending (delivered, or latched with no ring)', async () => {
      const { clock, a, b } = setup();
      b.listen(jest.fn());
      a.ring();
      await clock.runTasks();
      b.close();
      expect([b.droppedAtClose, b.ignored, b.delivered]).toEqual([0, 0, 1]);
    });

    it('should drop a delivery held by an interceptor', () => {
      const { a, b } = setup();
      const held: (() => void)[] = [];
      const onRing = jest.fn();
      b.setInterceptor((deliver) => held.push(deliver));
      b.listen(onRing);
      a.ring();
      a.ring(); // coalesced: one delivery pending
      b.close();
      held[0]?.();
      expect(onRing).not.toHaveBeenCalled();
      expect([b.droppedAtClose, b.ignored]).toEqual([1, 0]);
    });

    it('should ignore and count the rings toward the closed side', async () => {
      const { clock, a, b } = setup();
      const onRing = jest.fn();
      b.listen(onRing);
      b.close();
      a.ring();
      a.ring();
      await clock.runTasks();
      expect(onRing).not.toHaveBeenCalled();
      expect(b.ignored).toBe(2);
      expect(clock.pendingTasks).toBe(0);
    });

    it('should make the rings of the closed side no-ops', async () => {
      const { clock, a, b } = setup();
      const onRing = jest.fn();
      b.listen(onRing);
      a.close();
      a.ring();
      await clock.runTasks();
      expect(onRing).not.toHaveBeenCalled();
      expect(b.ignored).toBe(0);
    });

    it('should still deliver to an open peer a ring made before the ringing side closed', async () => {
      const { clock, a, b } = setup();
      const onRing = jest.fn();
      b.listen(onRing);
      a.ring();
      a.close();
      await clock.runTasks();
      expect(onRing).toHaveBeenCalledTimes(1);
    });

    it('should be idempotent, and stop a listener that closes its own side', async () => {
      const { clock, a, b } = setup();
      let calls = 0;
      b.listen(() => {
        calls++;
        a.ring();
        b.close();
        b.close();
      });
      a.ring();
      await clock.runTasks();
      expect(calls).toBe(1);
      expect(b.closed).toBe(true);
      expect(b.ignored).toBe(0);
    });
  });
});
