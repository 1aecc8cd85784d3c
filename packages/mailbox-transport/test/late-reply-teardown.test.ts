/**
 * Late replies at the teardown, counted once each (found by an adversarial review): one whose
 * doorbell already came, found at the quiesce; a polled one whose doorbell is dropped after the
 * quiesce; one that lands between the quiesce and the free; a polled one that lands after the free
 * (its message counted abandoned at the free).
 */
import { ScmiTimeoutError } from '@scmi-ts/core';
import { SMT_CHANNEL_FREE } from '@scmi-ts/mailbox-transport';
import { BaseMessageId } from '@scmi-ts/platform';
import { createHand } from './support/hand-platform.js';
import { createHarness, defined, settle } from './support/harness.js';

const BASE_VENDOR = { protocolId: 0x10, messageId: BaseMessageId.DISCOVER_VENDOR };

/**
 * Interrupt mode: the responder rings while it still owns the area (counted spurious) and sets
 * CHANNEL_FREE silently after the command timed out; with or without a next command, then removal.
 */
async function runNoFree(nextCommand: boolean): Promise<{ late: number; spurious: number }> {
  const h = createHarness({ auto: false });
  const agent = await h.probe({ a2p: [{ id: 0 }] });
  h.responder.faults.add({
    match: { ...BASE_VENDOR, nth: 1 },
    action: { kind: 'no-free', freeAfterMs: 40 },
  });
  const first = settle(agent.base.discoverVendor());
  await h.clock.advance(30);
  expect(await first).toBeInstanceOf(ScmiTimeoutError);
  await h.clock.advance(20); // FREE set silently at 40 ms: the late reply is in the area
  if (nextCommand) {
    const next = agent.base.discoverVendor();
    await h.clock.runUntilIdle();
    await next;
  }
  const removing = agent.remove();
  await h.clock.runUntilIdle();
  await removing;
  const c = defined(h.mailbox.wire.monitor.channel('a2p:0')).counters;
  h.close();
  return { late: c.lateReplies, spurious: c.badMessages.spurious };
}

/**
 * A command times out; the platform answers late and rings (whatever INTR_ENABLED says), and the
 * agent is removed before the doorbell is delivered.
 */
async function runDoorbellAfterRemove(
  polling: boolean,
): Promise<{ late: number; refused: number }> {
  const h = createHand(false);
  const agent = await h.probe({ a2p: [{ id: 0, polling }], p2a: false });
  const held = h.holdAnswers();
  const x = settle(agent.transact(0x10, 0x0));
  await h.clock.advance(40);
  expect(await x).toBeInstanceOf(ScmiTimeoutError);
  // The late reply, and a doorbell (always, whatever INTR_ENABLED says), still to be delivered.
  h.answer(defined(held()));
  h.ringA2p();
  const removing = agent.remove();
  await h.clock.runUntilIdle();
  await removing;
  const c = h.wire.wire.monitor.channel('a2p:0')?.counters;
  h.platform.close();
  return { late: c?.lateReplies ?? -1, refused: c?.refusedAfterQuiesce ?? -1 };
}

describe('a late reply whose doorbell already came (interrupt mode)', () => {
  it('should be counted late once when a next command hands it to core', async () => {
    expect(await runNoFree(true)).toEqual({ late: 1, spurious: 1 });
  });

  it('should be counted late once by the quiesce when no command follows', async () => {
    expect(await runNoFree(false)).toEqual({ late: 1, spurious: 1 });
  });
});
describe('a late reply whose doorbell is dropped after the quiesce', () => {
  it('interrupt mode: should be counted once', async () => {
    const r = await runDoorbellAfterRemove(false);
    expect(r.late + r.refused).toBe(1);
  });

  it('polling mode: should be counted once, late, not again as refused', async () => {
    const r = await runDoorbellAfterRemove(true);
    expect(r).toEqual({ late: 1, refused: 0 });
  });
});

describe('a reply that lands during the teardown', () => {
  it('interrupt mode: a late reply landing after the teardown is counted (its doorbell refused after the quiesce)', async () => {
    const h = createHand();
    const agent = await h.agent({ a2p: [{ id: 0, polling: false }], p2a: false });
    const held = h.holdAnswers();
    const x = settle(agent.transact(0x10, 0x0));
    while (held() === undefined) await new Promise((r) => setImmediate(r));
    await agent.remove();
    await x;
    h.answer(defined(held()));
    await h.clock.advance(100);
    const c = h.wire.wire.monitor.channel('a2p:0')?.counters;
    expect(c?.refusedAfterQuiesce).toBe(1);
    h.platform.close();
  });

  it('polling: a reply landing after the quiesce, before the free (its transfer still ending its poll), is counted late at the free', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling: true }], p2a: false });
    let t0 = -1;
    let at: unknown;
    const start = h.clock.now();
    h.onRequest = (_req, resp) => {
      t0 = h.clock.now();
      // The platform answers 10.03 ms after it read the request (no doorbell: INTR_ENABLED clear).
      h.clock.setTimeout(() => {
        const r = h.wire.wire.monitor.channel('a2p:0');
        at = { quiesced: r?.quiesced, freed: r?.freed };
        h.answer(resp as Uint8Array);
      }, 10.03);
    };
    const x = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks();
    expect(t0).toBe(start); // the platform read the request at once
    await h.clock.advance(10.02); // polls at every 0.05 ms: the next look is due at 10.05
    const removing = agent.remove(); // shutdown, the channel quiesces (area still busy)
    await h.clock.advance(1); // 10.03: the reply lands; 10.05: the poll loop ends; free()
    await removing;
    expect(await x).toBeInstanceOf(Error);
    const rec = h.wire.wire.monitor.channel('a2p:0');
    expect(at).toEqual({ quiesced: true, freed: false }); // landed after quiesce, before free
    expect(rec?.freed).toBe(true);
    expect(h.a2p.status() & SMT_CHANNEL_FREE).toBe(SMT_CHANNEL_FREE); // the reply is there
    const c = rec?.counters;
    const accounted =
      (c?.lateReplies ?? 0) +
      (c?.refusedAfterQuiesce ?? 0) +
      Object.values(c?.badMessages ?? {}).reduce((a, b) => a + b, 0);
    expect(accounted).toBe(1);
    expect(c?.lateReplies).toBe(1);
    h.platform.close();
  });
});

describe('a reply to a command the platform held at the removal', () => {
  interface Run {
    /** Complete by polling (INTR_ENABLED clear). */
    readonly polling: boolean;
    /** When the platform answers; `never`: it does not. */
    readonly answered: 'before the removal' | 'after the free' | 'never';
    /** The platform rings while the area is still its own, before the timeout (counted spurious). */
    readonly earlyRing?: boolean;
    /** The platform rings with its answer even for a polled message (it always rings when asked). */
    readonly ringAlways?: boolean;
  }

  /**
   * A command times out and the platform holds its answer; it answers before the agent is removed,
   * only after the free, or never. The record of a2p:0 just after the removal, and at the end.
   */
  async function run({ polling, answered, earlyRing = false, ringAlways = false }: Run) {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling }], p2a: false });
    const held = h.holdAnswers();
    const x = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks();
    if (earlyRing) h.ringA2p();
    await h.clock.advance(40);
    expect(await x).toBeInstanceOf(ScmiTimeoutError);
    const answer = (): void => {
      h.answer(defined(held())); // rings when the agent asked for a doorbell
      if (ringAlways && polling) h.ringA2p();
    };
    if (answered === 'before the removal') answer();
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    const atFree = defined(h.wire.wire.monitor.channel('a2p:0'));
    if (answered === 'after the free') answer();
    await h.clock.runUntilIdle();
    const after = defined(h.wire.wire.monitor.channel('a2p:0'));
    h.platform.close();
    expect(atFree.freed).toBe(true);
    const c = after.counters;
    return {
      abandonedAtFree: atFree.abandonedAtFree,
      repliesAfterFree: after.repliesAfterFree,
      // Every count a reply can end in, the wire's included: exactly once per reply.
      counted:
        c.lateReplies + c.refusedAfterQuiesce + after.ignoredAfterFree + after.repliesAfterFree,
      late: c.lateReplies,
      spurious: c.badMessages.spurious,
    };
  }

  // What each case must count: the message abandoned at the free or not, its reply landing after
  // the free, every count the reply can end in (exactly once per reply), late, spurious.
  it.each<[string, Run, Awaited<ReturnType<typeof run>>]>([
    [
      'polling, answered after the free: the message is abandoned at the free, its reply counted once as it lands',
      { polling: true, answered: 'after the free' },
      { abandonedAtFree: 1, repliesAfterFree: 1, counted: 1, late: 0, spurious: 0 },
    ],
    [
      'polling, answered after the free by a platform that rings all the same: its doorbell is not counted again',
      { polling: true, answered: 'after the free', ringAlways: true },
      { abandonedAtFree: 1, repliesAfterFree: 1, counted: 1, late: 0, spurious: 0 },
    ],
    [
      'polling, never answered: abandoned, and no reply counted (there was none)',
      { polling: true, answered: 'never' },
      { abandonedAtFree: 1, repliesAfterFree: 0, counted: 0, late: 0, spurious: 0 },
    ],
    [
      'interrupt mode, answered after the free: nothing is abandoned (the doorbell is owed, and counted when dropped after the free)',
      { polling: false, answered: 'after the free' },
      { abandonedAtFree: 0, repliesAfterFree: 0, counted: 1, late: 0, spurious: 0 },
    ],
    [
      'interrupt mode, the doorbell came early (area busy), answered after the free: abandoned, its reply and its second doorbell counted once',
      { polling: false, answered: 'after the free', earlyRing: true },
      { abandonedAtFree: 1, repliesAfterFree: 1, counted: 1, late: 0, spurious: 1 },
    ],
    [
      'polling, answered before the removal: the reply in the area is counted late at the teardown, not abandoned',
      { polling: true, answered: 'before the removal' },
      { abandonedAtFree: 0, repliesAfterFree: 0, counted: 1, late: 1, spurious: 0 },
    ],
  ])('%s', async (_title, setup, expected) => {
    expect(await run(setup)).toEqual(expected);
  });

  it('polling, answered and rung for between the quiesce and the free: counted once (refused), not late again at the free', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling: true }], p2a: false });
    let at: unknown;
    h.onRequest = (_req, resp) => {
      // As in 'a reply landing after the quiesce, before the free' above, with a doorbell too
      // (INTR_ENABLED is clear: a platform that rings all the same).
      h.clock.setTimeout(() => {
        const r = h.wire.wire.monitor.channel('a2p:0');
        at = { quiesced: r?.quiesced, freed: r?.freed };
        h.answer(resp as Uint8Array);
        h.ringA2p();
      }, 10.03);
    };
    const x = settle(agent.transact(0x10, 0x0));
    await h.clock.runTasks();
    await h.clock.advance(10.02);
    const removing = agent.remove();
    await h.clock.advance(1);
    await h.clock.runUntilIdle();
    await removing;
    expect(await x).toBeInstanceOf(Error);
    expect(at).toEqual({ quiesced: true, freed: false });
    const after = defined(h.wire.wire.monitor.channel('a2p:0'));
    const c = after.counters;
    h.platform.close();
    expect(
      c.lateReplies + c.refusedAfterQuiesce + after.ignoredAfterFree + after.repliesAfterFree,
    ).toBe(1);
  });
});
