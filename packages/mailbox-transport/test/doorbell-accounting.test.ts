/**
 * How A2P doorbells are counted when a delivery does not line up with one ring (found by a review
 * of the doorbell counters, worker mode first):
 *
 * - the doorbell still owed for a reply taken without it (core's look at the deadline, or the next
 *   send) can be delivered once the next message's reply is already in the area but before that
 *   reply's own doorbell: across threads, the platform sets CHANNEL_FREE and rings a moment later,
 *   and the agent's thread may look in between. The delivery takes the reply (it is there); the
 *   reply's own doorbell, which comes after, must then be absorbed once — not handed to core a
 *   second time (counted `unexpected`), nor counted `spurious` when it finds the next command
 *   already written;
 * - a ring that lands while a delivery starts (between the doorbell's look at the ring sequence
 *   and the mailbox's) is covered by that delivery: it is not delivered a second time;
 * - a ring after the free for a message abandoned to the platform, with no reply in the area, is
 *   not that reply's doorbell: it is counted as any ring dropped after the quiesce.
 */
import { ScmiTimeoutError } from '@scmi-ts/core';
import { SharedMailboxController, SharedMailboxRemote } from '@scmi-ts/mailbox-transport';
import {
  createHand,
  createSharedHand,
  type Hand,
  type SharedHand,
} from './support/hand-platform.js';
import { NO_BAD_MESSAGES, channelStats, defined, settle } from './support/harness.js';

/** The response `held` kept, written into the A2P area with CHANNEL_FREE set, without a ring. */
function landSilently(h: Hand, held: () => Uint8Array | undefined): void {
  // Hand.answer rings when the agent asked for a doorbell (INTR_ENABLED): not now.
  const flags = h.a2p.flags();
  h.a2p.setFlags(0);
  h.answer(defined(held(), 'the held response'));
  h.a2p.setFlags(flags);
}

/**
 * `reply` with bit 9 of its header's token flipped (header bit 27), as the platform's
 * corrupt-token fault rewrites it by default: a reply to no command in flight.
 */
function withOtherToken(reply: Uint8Array): Uint8Array {
  const view = new DataView(reply.buffer, reply.byteOffset);
  view.setUint32(0, view.getUint32(0, true) ^ (0x200 << 18), true);
  return reply;
}

/**
 * Runs `body` with an agent probed over a {@link SharedHand} (worker mode, the platform's side
 * played by the test), then removes the agent if `body` did not, checks the wire saw no violation
 * and closes the platform's end.
 */
async function withSharedHand(
  options: Record<string, unknown>,
  body: (h: SharedHand, agent: Awaited<ReturnType<SharedHand['probe']>>) => Promise<void>,
): Promise<void> {
  const h = createSharedHand();
  try {
    const agent = await h.probe(options);
    try {
      await body(h, agent);
    } finally {
      await h.remove(agent);
    }
    expect(h.wire.wire.monitor.violations).toEqual([]);
  } finally {
    h.close();
  }
}

describe('the owed doorbell of a reply taken without it', () => {
  /**
   * Same thread: a command whose reply lands without its doorbell is completed by core's look at
   * the deadline (its doorbell is then owed); the next command is written, answered (CHANNEL_FREE)
   * and, before the platform rings for it, the owed doorbell is delivered alone.
   */
  async function owedThenNext(): Promise<{ h: Hand; agent: Awaited<ReturnType<Hand['probe']>> }> {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0 }], p2a: false });
    const held = h.holdAnswers();
    const first = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks();
    landSilently(h, held);
    await h.clock.advance(30); // the deadline: core's look finds the reply
    expect(await first).toBeUndefined();
    const second = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks(); // written and rung; the platform keeps its answer
    landSilently(h, held); // the answer is in the area; the platform has not rung yet
    h.ringA2p(); // the first command's doorbell, owed, delivered alone
    await h.clock.runTasks();
    expect(await second).toBeUndefined();
    return { h, agent };
  }

  async function remove(h: Hand, agent: Awaited<ReturnType<Hand['probe']>>): Promise<void> {
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    expect(h.wire.wire.monitor.violations).toEqual([]);
    h.platform.close();
  }

  it('same thread: the reply it took is not handed to core again by its own doorbell', async () => {
    const { h, agent } = await owedThenNext();
    h.ringA2p(); // the second reply's own doorbell
    await h.clock.runTasks();
    const a2p = channelStats(agent, 'a2p:0');
    expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
    expect(a2p).toMatchObject({ completed: a2p.sent, lateReplies: 0, timeouts: 0 });
    // Absorbed once only: another doorbell for the same reply is counted, as a duplicate is.
    h.ringA2p();
    await h.clock.runTasks();
    expect(channelStats(agent, 'a2p:0').badMessages.unexpected).toBe(1);
    await remove(h, agent);
  });

  it('same thread: its own doorbell, landing once the next command is written, is not counted spurious', async () => {
    const { h, agent } = await owedThenNext();
    const held = h.holdAnswers();
    const third = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks(); // written into the area: the second reply's doorbell still to come
    h.ringA2p(); // ...now, on the busy area
    await h.clock.runTasks();
    h.answer(defined(held())); // the third answered, with its doorbell
    await h.clock.runTasks();
    expect(await third).toBeUndefined();
    const a2p = channelStats(agent, 'a2p:0');
    expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
    expect(a2p).toMatchObject({ completed: a2p.sent, lateReplies: 0, timeouts: 0 });
    expect(h.wire.wire.monitor.channel('a2p:0')?.spurious).toBe(0);
    await remove(h, agent);
  });

  it('same thread: when it coalesces with the next reply own doorbell, nothing more is absorbed', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0 }], p2a: false });
    const held = h.holdAnswers();
    const first = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks();
    landSilently(h, held);
    await h.clock.advance(30);
    expect(await first).toBeUndefined();
    const second = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks();
    landSilently(h, held);
    h.ringA2p(); // the owed doorbell...
    h.ringA2p(); // ...and the reply's own, before either is delivered: one delivery
    await h.clock.runTasks();
    expect(await second).toBeUndefined();
    h.ringA2p(); // a third doorbell for the same reply: a duplicate, counted
    await h.clock.runTasks();
    const a2p = channelStats(agent, 'a2p:0');
    expect(a2p.badMessages).toEqual({ ...NO_BAD_MESSAGES, unexpected: 1 });
    expect(a2p).toMatchObject({ completed: a2p.sent, lateReplies: 0, timeouts: 0 });
    await remove(h, agent);
  });

  it('same thread: the doorbell of a bad reply counted at the deadline, landing once the next command is written, is not counted again', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0 }], p2a: false, rxTimeoutMs: 30 });
    const held = h.holdAnswers();
    const first = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks();
    // The reply lands with another token, no ring.
    const reply = withOtherToken(defined(held(), 'the held response'));
    landSilently(h, () => reply);
    await h.clock.advance(30); // the deadline: core's look finds it, counted, the transfer times out
    expect(await first).toBeInstanceOf(ScmiTimeoutError);
    const second = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks(); // written into the area: the bad reply's doorbell still to come
    h.ringA2p(); // ...now, on the busy area
    await h.clock.runTasks();
    h.answer(defined(held())); // the second answered, with its doorbell
    await h.clock.runTasks();
    expect(await second).toBeUndefined();
    const a2p = channelStats(agent, 'a2p:0');
    // The bad reply counted once, where core's look found it; its doorbell absorbed.
    expect(a2p.badMessages).toEqual({ ...NO_BAD_MESSAGES, unexpected: 1 });
    expect(h.wire.wire.monitor.channel('a2p:0')?.spurious).toBe(0);
    await remove(h, agent);
  });

  it('worker mode: the reply it took is not handed to core again by its own doorbell', async () => {
    await withSharedHand({ a2p: [{ id: 0 }] }, async (h, agent) => {
      const held = h.holdAnswers();
      const first = settle(agent.transact(0x10, 0x0));
      await h.until(() => held() !== undefined, 'the first command reached the platform');
      h.land(defined(held()));
      await h.clock.advance(30); // the deadline: core's look finds the reply, its doorbell owed
      expect(await first).toBeUndefined();
      const before = h.deliveries.length;
      const requests = held();
      let done = false;
      void agent.transact(0x10, 0x0).then(() => {
        done = true;
      });
      await h.until(() => held() !== requests, 'the second command reached the platform');
      // The platform's thread: CHANNEL_FREE set for the second command; the agent's thread sees
      // the first command's doorbell before the platform's ring for the second one is made.
      h.land(defined(held()));
      h.ringA2p();
      await h.until(() => done, 'the second command completed');
      expect(h.deliveries.length).toBe(before + 1);
      h.ringA2p(); // the second reply's own doorbell
      await h.until(() => h.deliveries.length === before + 2, 'its doorbell delivered');
      await h.settle();
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
      expect(a2p).toMatchObject({ completed: a2p.sent, lateReplies: 0, timeouts: 0 });
      // Each delivery said how many rings it covered: one each.
      expect(h.deliveries.slice(before)).toEqual([1, 1]);
    });
  });
});

describe('the owed doorbell landing after the quiesce', () => {
  /**
   * Same thread: the first command's reply lands silently (a good one, or one with another token)
   * and core's look at the deadline takes or counts it; the second command is written and held;
   * the agent is removed with the first reply's doorbell still owed.
   */
  async function removedWithDoorbellOwed(
    bad: boolean,
  ): Promise<{ h: Hand; agent: Awaited<ReturnType<Hand['probe']>> }> {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0 }], p2a: false, rxTimeoutMs: 30 });
    const held = h.holdAnswers();
    const first = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks();
    const good = defined(held(), 'the held response');
    const reply = bad ? withOtherToken(good) : good;
    landSilently(h, () => reply);
    await h.clock.advance(30);
    const outcome = await first;
    if (bad) expect(outcome).toBeInstanceOf(ScmiTimeoutError);
    else expect(outcome).toBeUndefined();
    const second = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks(); // written; the platform keeps its answer
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    expect(await second).toBeDefined(); // failed by the shutdown
    return { h, agent };
  }

  it.each([
    ['a good reply core took', false],
    ['a bad reply core counted', true],
  ])(
    'same thread: the doorbell of %s is absorbed, not counted as a reply refused or dropped',
    async (_what, bad) => {
      const { h, agent } = await removedWithDoorbellOwed(bad);
      h.ringA2p(); // the first reply's doorbell, at last
      await h.clock.runUntilIdle();
      const r = defined(h.wire.wire.monitor.channel('a2p:0'));
      expect(r.counters.refusedAfterQuiesce + r.ignoredAfterFree).toBe(0);
      expect(channelStats(agent, 'a2p:0').badMessages).toEqual({
        ...NO_BAD_MESSAGES,
        unexpected: bad ? 1 : 0,
      });
      // Absorbed once: another ring after it is counted, as any ring dropped.
      h.ringA2p();
      await h.clock.runUntilIdle();
      const again = defined(h.wire.wire.monitor.channel('a2p:0'));
      expect(again.counters.refusedAfterQuiesce + again.ignoredAfterFree).toBe(1);
      expect(h.wire.wire.monitor.violations).toEqual([]);
      h.platform.close();
    },
  );
});

describe('the owed doorbell landing after the free, across threads', () => {
  it('worker mode: is not counted in ignoredAfterFree; a ring after it is', async () => {
    await withSharedHand({ a2p: [{ id: 0 }], rxTimeoutMs: 30 }, async (h, agent) => {
      const held = h.holdAnswers();
      const first = settle(agent.transact(0x10, 0x0));
      await h.until(() => held() !== undefined, 'the first command reached the platform');
      h.land(defined(held()));
      await h.clock.advance(30); // the deadline: core's look takes the reply, its doorbell owed
      expect(await first).toBeUndefined();
      const requests = held();
      const second = settle(agent.transact(0x10, 0x0));
      await h.until(() => held() !== requests, 'the second command reached the platform');
      await h.remove(agent);
      expect(await second).toBeDefined(); // failed by the shutdown
      const r0 = defined(h.wire.wire.monitor.channel('a2p:0'));
      expect(r0.freed).toBe(true);
      h.ringA2p(); // the first reply's doorbell, after the free: nobody takes it
      await h.settle();
      const r1 = defined(h.wire.wire.monitor.channel('a2p:0'));
      expect(r1.ignoredRings).toBe(r0.ignoredRings + 1);
      expect(r1.counters.refusedAfterQuiesce + r1.ignoredAfterFree).toBe(0);
      h.ringA2p(); // another: counted as any ring dropped
      await h.settle();
      const r2 = defined(h.wire.wire.monitor.channel('a2p:0'));
      expect(r2.counters.refusedAfterQuiesce + r2.ignoredAfterFree).toBe(1);
    });
  });
});

describe('SharedMailboxController: a ring that lands while its delivery starts', () => {
  it('should be covered by that delivery, not delivered a second time', async () => {
    const region = SharedMailboxController.allocate(1);
    const controller = new SharedMailboxController(region);
    const remote = new SharedMailboxRemote(region, 0);
    const rings: (number | undefined)[] = [];
    const chan = controller.requestChannel(0, {
      rxCallback: (n?: number) => {
        rings.push(n);
      },
    });
    // The ring word the platform's side rings (the doorbell's second word, channel 0's region).
    const isRingWord = (a: unknown, index: number): boolean =>
      a instanceof Int32Array && a.buffer === region && a.byteOffset === 16 && index === 1;
    const load = Atomics.load.bind(Atomics) as (a: Int32Array, i: number) => number;
    let looks = 0;
    const spy = jest.spyOn(Atomics, 'load').mockImplementation(((
      a: Int32Array,
      index: number,
    ): number => {
      // The doorbell's look (1st) finds the first ring; the platform's thread rings again
      // before the mailbox's own look (2nd), which then sees both.
      if (isRingWord(a, index) && ++looks === 2) remote.ring();
      return load(a, index);
    }) as typeof Atomics.load);
    try {
      remote.ring();
      for (let i = 0; i < 10_000 && looks < 4; i++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    } finally {
      spy.mockRestore();
      chan.free();
      remote.close();
    }
    expect(looks).toBeGreaterThanOrEqual(2);
    expect(rings).toEqual([2]);
  });
});

describe('a ring after the free for a message abandoned to the platform', () => {
  it('same thread: with no reply in the area, counted as refused; the reply then landing is counted apart', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling: true }], p2a: false });
    const held = h.holdAnswers();
    const x = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks();
    await h.clock.advance(40);
    expect(await x).toBeInstanceOf(ScmiTimeoutError);
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    expect(h.wire.wire.monitor.channel('a2p:0')?.abandonedAtFree).toBe(1);
    h.ringA2p(); // nothing in the area: not its reply's doorbell
    await h.clock.runUntilIdle();
    let r = defined(h.wire.wire.monitor.channel('a2p:0'));
    expect(r.counters.refusedAfterQuiesce + r.ignoredAfterFree).toBe(1);
    expect(r.repliesAfterFree).toBe(0);
    // The reply lands, and its doorbell: counted once, with the reply.
    h.answer(defined(held()));
    h.ringA2p();
    await h.clock.runUntilIdle();
    r = defined(h.wire.wire.monitor.channel('a2p:0'));
    expect(r.counters.refusedAfterQuiesce + r.ignoredAfterFree).toBe(1);
    expect(r.repliesAfterFree).toBe(1);
    expect(h.wire.wire.monitor.violations).toEqual([]);
    h.platform.close();
  });

  it('worker mode: with no reply in the area, counted in ignoredAfterFree; the reply then landing is counted apart', async () => {
    await withSharedHand({ a2p: [{ id: 0 }] }, async (h, agent) => {
      const held = h.holdAnswers();
      let outcome: unknown;
      agent.transact(0x10, 0x0).then(
        () => {
          outcome = 'ok';
        },
        (e: unknown) => {
          outcome = e;
        },
      );
      await h.until(() => held() !== undefined, 'the command reached the platform');
      // A doorbell while the platform still holds the area (spurious): none is owed any more, so
      // the message is abandoned to the platform at the free.
      h.ringA2p();
      await h.until(() => channelStats(agent, 'a2p:0').badMessages.spurious === 1, 'spurious');
      await h.clock.advance(40);
      await h.until(() => outcome !== undefined, 'the command timed out');
      expect(outcome).toBeInstanceOf(ScmiTimeoutError);
      await h.remove(agent);
      expect(h.wire.wire.monitor.channel('a2p:0')?.abandonedAtFree).toBe(1);
      h.ringA2p(); // nothing in the area
      await h.settle();
      let r = defined(h.wire.wire.monitor.channel('a2p:0'));
      expect(r).toMatchObject({ ignoredRings: 1, ignoredAfterFree: 1, repliesAfterFree: 0 });
      expect(r.counters.refusedAfterQuiesce).toBe(0);
      // The reply lands, and its doorbell: that one is the reply's, counted with it.
      h.land(defined(held()));
      h.ringA2p();
      await h.settle();
      r = defined(h.wire.wire.monitor.channel('a2p:0'));
      expect(r).toMatchObject({ ignoredRings: 2, ignoredAfterFree: 1, repliesAfterFree: 1 });
    });
  });
});
