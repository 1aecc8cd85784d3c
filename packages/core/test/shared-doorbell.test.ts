import os from 'node:os';
import { join } from 'node:path';
import { SharedDoorbell } from '../src/doorbell/shared-doorbell.js';
import { ScmiConfigError, ScmiTransportError } from '../src/errors/scmi-error.js';
import { startWorker } from '../src/worker/worker-host.js';
import type { EchoWorkerData } from './fixtures/echo-worker.js';
import { codeOfError } from './support/code-of.js';

const codeOf = codeOfError(ScmiTransportError);
const configCodeOf = codeOfError(ScmiConfigError);

/** A listener whose calls can be awaited one by one. */
function recorder(): { onRing: () => void; calls: () => number; next: () => Promise<void> } {
  let calls = 0;
  let wake: (() => void) | undefined;
  return {
    onRing: () => {
      calls++;
      const w = wake;
      wake = undefined;
      w?.();
    },
    calls: () => calls,
    next: () =>
      new Promise<void>((resolve) => {
        wake = resolve;
      }),
  };
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe(SharedDoorbell, () => {
  describe('constructor', () => {
    it('should throw E_DOORBELL_REGION for a region that is not shared, aligned and in bounds', () => {
      const sab = new SharedArrayBuffer(64);
      expect(
        codeOf(
          () => new SharedDoorbell(new ArrayBuffer(16) as unknown as SharedArrayBuffer, 0, 'a'),
        ),
      ).toBe('E_DOORBELL_REGION');
      for (const offset of [2, -4, 1.5, 64 - SharedDoorbell.BYTES + 4]) {
        expect(codeOf(() => new SharedDoorbell(sab, offset, 'a'))).toBe('E_DOORBELL_REGION');
      }
      expect(codeOf(() => new SharedDoorbell(sab, 0, 'c' as 'a'))).toBe('E_DOORBELL_REGION');
      expect(codeOf(() => new SharedDoorbell(sab, 64 - SharedDoorbell.BYTES, 'b'))).toBeUndefined();
    });
  });

  describe('.defaultPollWindowUs', () => {
    it('should be DEFAULT_POLL_WINDOW_US when the process may run on more than one CPU, else 0', () => {
      const cpus = jest.spyOn(os, 'availableParallelism');
      try {
        cpus.mockReturnValue(1);
        expect(SharedDoorbell.defaultPollWindowUs()).toBe(0);
        expect(new SharedDoorbell(SharedDoorbell.allocate(), 0, 'a').pollWindowUs).toBe(0);
        cpus.mockReturnValue(2);
        expect(SharedDoorbell.defaultPollWindowUs()).toBe(SharedDoorbell.DEFAULT_POLL_WINDOW_US);
        expect(SharedDoorbell.checkPollWindow(undefined)).toBe(
          SharedDoorbell.DEFAULT_POLL_WINDOW_US,
        );
      } finally {
        cpus.mockRestore();
      }
    });
  });

  describe('.checkPollWindow', () => {
    it('should return the window, the default when undefined, and name the given field when it is bad', () => {
      expect(SharedDoorbell.checkPollWindow(0)).toBe(0);
      expect(SharedDoorbell.checkPollWindow(undefined)).toBe(SharedDoorbell.defaultPollWindowUs());
      expect(() => SharedDoorbell.checkPollWindow(-0.5, 'c.pollWindowUs')).toThrow(
        expect.objectContaining({ field: 'c.pollWindowUs' }) as ScmiConfigError,
      );
      expect(() => SharedDoorbell.checkPollWindow(null)).toThrow(
        expect.objectContaining({ field: 'pollWindowUs' }) as ScmiConfigError,
      );
    });
  });

  describe('.allocate', () => {
    it('should return a zeroed SharedArrayBuffer of BYTES bytes', () => {
      const sab = SharedDoorbell.allocate();
      expect(sab).toBeInstanceOf(SharedArrayBuffer);
      expect(sab.byteLength).toBe(SharedDoorbell.BYTES);
      expect([...new Int32Array(sab)]).toEqual([0, 0, 0, 0]);
    });
  });

  describe('having both sides on this thread', () => {
    function pair(offset = 0): { a: SharedDoorbell; b: SharedDoorbell } {
      const sab = new SharedArrayBuffer(offset + SharedDoorbell.BYTES);
      return { a: new SharedDoorbell(sab, offset, 'a'), b: new SharedDoorbell(sab, offset, 'b') };
    }

    describe('.ring', () => {
      it('should call the listener of the other side, in both directions', async () => {
        const { a, b } = pair(8);
        const toA = recorder();
        const toB = recorder();
        a.listen(toA.onRing);
        b.listen(toB.onRing);
        try {
          const gotB = toB.next();
          a.ring();
          await gotB;
          const gotA = toA.next();
          b.ring();
          await gotA;
          expect([toA.calls(), toB.calls()]).toEqual([1, 1]);
        } finally {
          a.close();
          b.close();
        }
      });

      it('should deliver a ring made before listening once, on a later task, never inside listen()', async () => {
        const { a, b } = pair();
        a.ring();
        a.ring();
        const toB = recorder();
        try {
          const got = toB.next();
          b.listen(toB.onRing);
          expect(toB.calls()).toBe(0); // not synchronously
          await got;
          expect(toB.calls()).toBe(1);
        } finally {
          b.close();
        }
      });

      it('should deliver nothing when closed before its first look', async () => {
        const { a, b } = pair();
        a.ring();
        const toB = recorder();
        b.listen(toB.onRing);
        b.close();
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        expect(toB.calls()).toBe(0);
        expect(b.listening).toBe(false);
      });

      it('should coalesce rings made before the listener wakes', async () => {
        const { a, b } = pair();
        const toB = recorder();
        b.listen(toB.onRing);
        try {
          const got = toB.next();
          a.ring();
          a.ring();
          a.ring();
          await got;
          expect(toB.calls()).toBe(1);
          const again = toB.next();
          a.ring();
          await again;
          expect(toB.calls()).toBe(2);
        } finally {
          b.close();
        }
      });

      it('should be a no-op once the ringing side is closed', () => {
        const sab = SharedDoorbell.allocate();
        const a = new SharedDoorbell(sab, 0, 'a');
        a.close();
        a.ring();
        expect(new Int32Array(sab)[0]).toBe(0);
      });
    });

    describe('.listen', () => {
      it('should deliver once, when it starts, the rings made before it', async () => {
        const { a, b } = pair();
        a.ring();
        a.ring();
        const toB = recorder();
        const got = toB.next();
        b.listen(toB.onRing);
        try {
          await got;
          expect(toB.calls()).toBe(1);
        } finally {
          b.close();
        }
      });

      it("should hold one ref'd handle while listening, and drop it on close", () => {
        const { b } = pair();
        const before = timeouts();
        b.listen(() => undefined);
        expect(b.listening).toBe(true);
        expect(timeouts()).toBe(before + 1);
        b.close();
        expect(b.listening).toBe(false);
        expect(timeouts()).toBe(before);
      });

      it('should drop its handle if its loop ever throws, so that the thread can still exit', () => {
        const { b } = pair();
        const before = timeouts();
        const waitAsync = jest.spyOn(Atomics, 'waitAsync').mockImplementation(() => {
          throw new Error('no waiting today');
        });
        try {
          // Nothing was rung: the first look arms a wait at once, inside listen.
          expect(() => {
            b.listen(() => undefined);
          }).toThrow('no waiting today');
          expect(timeouts()).toBe(before);
          expect(b.listening).toBe(false);
        } finally {
          waitAsync.mockRestore();
          b.close();
        }
      });

      it('should yield to the event loop while the peer keeps ringing', async () => {
        const { a, b } = pair();
        let deliveries = 0;
        let seenByImmediate: number | undefined;
        const done = new Promise<void>((resolve) => {
          b.listen(() => {
            deliveries++;
            if (deliveries === 1) setImmediate(() => (seenByImmediate = deliveries));
            if (deliveries < 100) a.ring();
            else resolve();
          });
        });
        a.ring();
        try {
          await done;
          // Without yields, all 100 deliveries would run before any immediate.
          expect(seenByImmediate).toBeDefined();
          expect(seenByImmediate).toBeLessThan(100);
        } finally {
          b.close();
        }
      });

      it("should let the listener's microtasks run before it arms a wait, and deliver their ring without one", async () => {
        const { a, b } = pair();
        const waitAsync = jest.spyOn(Atomics, 'waitAsync');
        const armedWhen: number[] = [];
        let deliveries = 0;
        const done = new Promise<void>((resolve) => {
          b.listen(() => {
            deliveries++;
            if (deliveries === 2) {
              resolve();
              return;
            }
            // What a continuation of the delivered message does: answer on a microtask.
            void Promise.resolve().then(() => {
              armedWhen.push(waitAsync.mock.calls.length);
              a.ring();
            });
          });
        });
        try {
          await turns(2); // the loop is waiting now
          const armedBefore = waitAsync.mock.calls.length;
          expect(armedBefore).toBeGreaterThan(0);
          a.ring();
          await done;
          // The microtask ran before the loop armed another wait, and its ring was delivered
          // without one.
          expect(armedWhen).toEqual([armedBefore]);
          expect(waitAsync.mock.calls.length).toBe(armedBefore);
        } finally {
          waitAsync.mockRestore();
          b.close();
        }
      });

      describe('poll window', () => {
        /**
         * a and b over one region, b with `pollWindowUs` and listening, performance.now() reading
         * `clock.ms`; resolves once b has slept (`armed` waits so far) and delivered one ring.
         * `end` restores the mocks and closes b.
         */
        async function delivered(pollWindowUs: number | undefined): Promise<{
          a: SharedDoorbell;
          b: SharedDoorbell;
          got: ReturnType<typeof recorder>;
          clock: { ms: number };
          armed: number;
          waits: () => number;
          end: () => void;
        }> {
          const sab = SharedDoorbell.allocate();
          const clock = { ms: 1000 };
          const now = jest.spyOn(performance, 'now').mockImplementation(() => clock.ms);
          const waitAsync = jest.spyOn(Atomics, 'waitAsync');
          const a = new SharedDoorbell(sab, 0, 'a');
          const b = new SharedDoorbell(
            sab,
            0,
            'b',
            pollWindowUs === undefined ? {} : { pollWindowUs },
          );
          const got = recorder();
          b.listen(got.onRing);
          await turns(2);
          const armed = waitAsync.mock.calls.length; // nothing delivered yet: the loop sleeps at once
          expect(armed).toBeGreaterThan(0);
          a.ring();
          await got.next();
          expect(waitAsync.mock.calls.length).toBe(armed);
          return {
            a,
            b,
            got,
            clock,
            armed,
            waits: () => waitAsync.mock.calls.length,
            end: () => {
              now.mockRestore();
              waitAsync.mockRestore();
              b.close();
            },
          };
        }

        it('should deliver a ring made within the window after a delivery without arming a wait, and sleep once it passes', async () => {
          const { a, got, clock, armed, waits, end } = await delivered(100);
          try {
            // 99 µs later, several tasks on: the loop is still looking.
            await turns(5);
            clock.ms += 0.099;
            await turns(5);
            expect(waits()).toBe(armed);
            a.ring();
            await got.next();
            expect(got.calls()).toBe(2);
            expect(waits()).toBe(armed);
            // The window restarts at each delivery; once it passes with no ring, one wait.
            clock.ms += 0.1;
            await turns(3);
            expect(waits()).toBe(armed + 1);
            await turns(3);
            expect(waits()).toBe(armed + 1);
            a.ring();
            await got.next();
            expect(got.calls()).toBe(3);
          } finally {
            end();
          }
        });

        it('should look once more only, then sleep, with a window of 0', async () => {
          const { a, got, armed, waits, end } = await delivered(0);
          try {
            await turns(3); // the clock did not move: still, the loop sleeps after one look
            expect(waits()).toBe(armed + 1);
            a.ring();
            await got.next();
            expect(got.calls()).toBe(2);
          } finally {
            end();
          }
        });

        it(`should poll ${SharedDoorbell.DEFAULT_POLL_WINDOW_US} µs by default on more than one CPU`, async () => {
          const cpus = jest.spyOn(os, 'availableParallelism').mockReturnValue(2);
          const { clock, armed, waits, end } = await delivered(undefined);
          cpus.mockRestore();
          try {
            clock.ms += (SharedDoorbell.DEFAULT_POLL_WINDOW_US - 1) / 1000;
            await turns(3);
            expect(waits()).toBe(armed);
            clock.ms += 2 / 1000;
            await turns(3);
            expect(waits()).toBe(armed + 1);
          } finally {
            end();
          }
        });

        it('should stop polling when closed: the loop returns, drops its handle and calls nobody', async () => {
          const before = timeouts();
          const { a, b, got, armed, waits, end } = await delivered(1_000_000);
          try {
            await turns(2); // polling now
            b.close();
            expect(timeouts()).toBe(before);
            a.ring();
            await turns(5);
            expect(got.calls()).toBe(1);
            expect(waits()).toBe(armed);
          } finally {
            end();
          }
        });

        it('should refuse a window that is not a number from 0 to 1,000,000 µs with E_CONFIG', () => {
          const sab = SharedDoorbell.allocate();
          for (const pollWindowUs of [
            -1,
            Number.NaN,
            Infinity,
            1_000_001,
            '5' as unknown as number,
          ]) {
            expect(configCodeOf(() => new SharedDoorbell(sab, 0, 'a', { pollWindowUs }))).toBe(
              'E_CONFIG',
            );
          }
          for (const pollWindowUs of [0, 0.5, 1_000_000]) {
            expect(new SharedDoorbell(sab, 0, 'a', { pollWindowUs }).pollWindowUs).toBe(
              pollWindowUs,
            );
          }
          expect(new SharedDoorbell(sab, 0, 'a').pollWindowUs).toBe(
            SharedDoorbell.defaultPollWindowUs(),
          );
        });
      });

      it('should throw E_DOORBELL_LISTENING when already listening, E_DOORBELL_CLOSED once closed', () => {
        const { a } = pair();
        a.listen(() => undefined);
        expect(
          codeOf(() => {
            a.listen(() => undefined);
          }),
        ).toBe('E_DOORBELL_LISTENING');
        a.close();
        expect(
          codeOf(() => {
            a.listen(() => undefined);
          }),
        ).toBe('E_DOORBELL_CLOSED');
      });
    });

    describe('.close', () => {
      it('should wake the pending wait, so that the loop returns and never calls the listener again', async () => {
        const sab = SharedDoorbell.allocate();
        const words = new Int32Array(sab);
        const a = new SharedDoorbell(sab, 0, 'a');
        const b = new SharedDoorbell(sab, 0, 'b');
        const onRing = jest.fn();
        b.listen(onRing);
        // b's loop waits on word 0 (the a → b sequence). A spurious wake-up calls nobody.
        expect(Atomics.notify(words, 0)).toBe(1);
        await turns(3);
        expect(onRing).not.toHaveBeenCalled();
        expect(Atomics.notify(words, 0)).toBe(1);
        b.close();
        // close() woke the waiter (it is gone from the word) and the loop does not wait again.
        expect(Atomics.notify(words, 0)).toBe(0);
        a.ring();
        await turns(3);
        expect(Atomics.notify(words, 0)).toBe(0);
        expect(onRing).not.toHaveBeenCalled();
        expect(words[3]).toBe(1);
      });

      it('should count the rings of the other side made after it, and set the closed flag', () => {
        const { a, b } = pair();
        a.ring();
        b.close();
        b.close();
        expect(b.closed).toBe(true);
        expect(a.peerClosed).toBe(true);
        expect(b.peerClosed).toBe(false);
        expect(b.ignored).toBe(0);
        a.ring();
        a.ring();
        expect(b.ignored).toBe(2);
        expect(a.ignored).toBe(0);
      });
    });

    describe('.waitSync', () => {
      it('should consume a ring that is there, and time out when there is none', () => {
        const { a, b } = pair();
        a.ring();
        expect(b.waitSync(0)).toBe(true);
        expect(b.waitSync(0)).toBe(false);
        expect(b.waitSync(1)).toBe(false);
        b.close();
        a.ring();
        expect(b.waitSync(0)).toBe(false);
      });

      it('should refuse a timeout that is NaN or not a number (it would wait for ever) with E_CONFIG', () => {
        const { b } = pair();
        expect(configCodeOf(() => b.waitSync(Number.NaN))).toBe('E_CONFIG');
        expect(configCodeOf(() => b.waitSync('5' as unknown as number))).toBe('E_CONFIG');
        b.close();
      });

      it('should throw E_DOORBELL_LISTENING while a listen loop runs', () => {
        const { b } = pair();
        b.listen(() => undefined);
        expect(codeOf(() => b.waitSync(0))).toBe('E_DOORBELL_LISTENING');
        b.close();
      });
    });
  });

  describe('having the other side in a worker thread', () => {
    it('should ping-pong N times with the worker, and let it exit once both sides close', async () => {
      const N = 200;
      const sab = SharedDoorbell.allocate();
      const agent = new SharedDoorbell(sab, 0, 'a');
      const replies = recorder();
      agent.listen(replies.onRing);
      const data: EchoWorkerData = { sab };
      const host = await startWorker({
        entry: join(__dirname, 'fixtures', 'echo-worker.ts'),
        data,
      });
      try {
        for (let i = 0; i < N; i++) {
          const reply = replies.next();
          agent.ring();
          await reply;
        }
        expect(replies.calls()).toBe(N);
        expect(await host.call('rings')).toBe(N);
      } finally {
        agent.close();
        await host.stop();
      }
      // The worker closed its side in onStop: its pending waitAsync did not keep it alive.
      expect(host.terminated).toBe(false);
      expect(await host.exited).toBe(0);
      expect(agent.peerClosed).toBe(true);
    });
  });
});
