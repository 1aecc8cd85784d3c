import { ScmiShutdownError, XferPool, type GiveUpWatch } from '@scmi-ts/core';

const owner = {
  onXferDeadline: (): void => {
    // No deadlines in these tests.
  },
};

/** A watch the test gives up through, and that records whether it was stopped. */
function manualWatch(): {
  watch: GiveUpWatch;
  giveUp: (reason: unknown) => void;
  readonly stopped: number;
} {
  let giveUp: ((reason: unknown) => void) | undefined;
  let stopped = 0;
  return {
    watch: (g) => {
      giveUp = g;
      return () => {
        stopped++;
      };
    },
    giveUp: (reason) => giveUp?.(reason),
    get stopped() {
      return stopped;
    },
  };
}

describe('XferPool.get with a watch', () => {
  it('should not watch a caller that gets a transfer at once', async () => {
    const pool = new XferPool(owner, 1, 16, 'scmi0');
    let watched = false;
    const x = await pool.get(() => {
      watched = true;
      return () => undefined;
    });
    expect(watched).toBe(false);
    pool.put(x);
  });

  it('should take a caller that gives up out of the queue, and hand the next transfer to the one after', async () => {
    const pool = new XferPool(owner, 1, 16, 'scmi0');
    const held = await pool.get();
    const w = manualWatch();
    const givenUp = pool.get(w.watch).catch((error: unknown) => error);
    const next = pool.get();
    expect(pool.waiting).toBe(2);
    w.giveUp('gone');
    expect(await givenUp).toBe('gone');
    expect(w.stopped).toBe(1);
    expect(pool.waiting).toBe(1);
    // A second give-up, once out of the queue, changes nothing.
    w.giveUp('again');
    pool.put(held);
    const x = await next;
    expect(pool.inUse).toBe(1);
    pool.put(x);
    expect(pool.inUse).toBe(0);
  });

  it('should stop watching once the wait ends with a transfer, or with the pool closed', async () => {
    const pool = new XferPool(owner, 1, 16, 'scmi0');
    const held = await pool.get();
    const handed = manualWatch();
    const closed = manualWatch();
    const first = pool.get(handed.watch);
    pool.put(held);
    const x = await first;
    expect(handed.stopped).toBe(1);
    handed.giveUp('late'); // the wait is over: nothing to give up
    expect(pool.inUse).toBe(1);
    const second = pool.get(closed.watch).catch((error: unknown) => error);
    pool.close();
    expect(await second).toBeInstanceOf(ScmiShutdownError);
    expect(closed.stopped).toBe(1);
    pool.put(x);
  });

  it('should take the caller out of the queue when its watch throws, losing no transfer', async () => {
    const pool = new XferPool(owner, 1, 16, 'scmi0');
    const held = await pool.get();
    const broken = new Error('watch failed');
    const e: unknown = await pool
      .get(() => {
        throw broken;
      })
      .catch((error: unknown) => error);
    expect(e).toBe(broken);
    expect(pool.waiting).toBe(0);
    pool.put(held);
    expect(pool.inUse).toBe(0);
    const x = pool.tryGet();
    expect(x).toBeDefined();
    if (x !== undefined) pool.put(x);
  });

  it('should stop what a watch set up when it gives up within the watch itself', async () => {
    const pool = new XferPool(owner, 1, 16, 'scmi0');
    const held = await pool.get();
    let stopped = 0;
    const e: unknown = await pool
      .get((giveUp) => {
        giveUp('fired already');
        return () => {
          stopped++;
        };
      })
      .catch((error: unknown) => error);
    expect(e).toBe('fired already');
    expect(stopped).toBe(1);
    expect(pool.waiting).toBe(0);
    pool.put(held);
  });
});
