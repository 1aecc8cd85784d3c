import { Devres, ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { testing } from '../src/devres.js';

/**
 * A fake transport channel: an RX path that delivers callbacks under a count-then-check guard, a
 * quiesce step that closes the guard and waits for callbacks in flight, and a free step. Every
 * callback checks, before and after its await, that the channel was not freed under it.
 */
class FakeChannel {
  freed = false;
  closed = false;
  active = 0;
  refused = 0;
  ran = 0;
  violations: string[] = [];
  #drained: (() => void) | undefined;

  deliver(work: () => Promise<void>): Promise<void> | undefined {
    this.active++;
    if (this.closed) {
      this.active--;
      this.refused++;
      return undefined;
    }
    const run = async (): Promise<void> => {
      try {
        if (this.freed) this.violations.push('callback started on a freed channel');
        this.ran++;
        await work();
        if (this.freed) this.violations.push('channel freed while a callback was running');
      } finally {
        this.active--;
        if (this.active === 0) this.#drained?.();
      }
    };
    return run();
  }

  quiesce(): Promise<void> {
    this.closed = true;
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }

  free(): void {
    if (this.active > 0) this.violations.push(`freed with ${this.active} callback(s) in flight`);
    this.freed = true;
  }
}

async function lateReplyDuringTeardown(): Promise<{ channel: FakeChannel; order: string[] }> {
  const order: string[] = [];
  const res = new Devres('scmi0');
  const channel = new FakeChannel();
  res.add({
    name: 'chan',
    value: channel,
    quiesce: async (c) => {
      order.push('quiesce chan');
      await c.quiesce();
      order.push('chan quiesced');
    },
    release: (c) => {
      order.push('free chan');
      c.free();
    },
  });
  res.addAction('xfer pool', () => void order.push('free xfers'));

  // A late reply is being processed when teardown begins.
  let finishCallback!: () => void;
  const inFlight = channel.deliver(
    () =>
      new Promise<void>((r) => {
        finishCallback = () => {
          order.push('callback returns');
          r();
        };
      }),
  );
  const teardown = res.releaseAll({ kind: 'probe-failed', error: new Error('timeout') });
  await new Promise((r) => setImmediate(r));
  // A second late reply arrives after quiesce started: it must never run.
  const offered = channel.deliver(() => {
    order.push('second callback ran');
    return Promise.resolve();
  });
  finishCallback();
  await Promise.all([inFlight, offered, teardown]);
  return { channel, order };
}

describe('quiesce phase', () => {
  ensureNoLeaksInSuite();

  it('should not start any release until the callback in flight has returned', async () => {
    const { channel, order } = await lateReplyDuringTeardown();
    expect(order).toEqual([
      'quiesce chan',
      'callback returns',
      'chan quiesced',
      'free xfers',
      'free chan',
    ]);
    expect(channel.violations).toEqual([]);
  });

  it('should never run a callback offered after quiesce started, and count it', async () => {
    const { channel, order } = await lateReplyDuringTeardown();
    expect(order).not.toContain('second callback ran');
    expect(channel.refused).toBe(1);
    expect(channel.ran).toBe(1);
  });

  describe('mutation check: with the quiesce phase removed', () => {
    afterEach(() => {
      testing.skipQuiescePhase = false;
    });

    it('should make the invariant check above fail (the tests can catch the bug they exist for)', async () => {
      testing.skipQuiescePhase = true;
      const { channel } = await lateReplyDuringTeardown();
      expect(channel.violations).toContain('freed with 1 callback(s) in flight');
      expect(channel.violations).toContain('channel freed while a callback was running');
    });
  });
});
