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
  /**
   * A command times out and the platform holds its answer; it answers before the agent is removed,
   * or only after the free (its `answer` rings when the agent asked for a doorbell). The record of
   * a2p:0 just after the removal, and at the end.
   */
  async function run(polling: boolean, answered: 'before the removal' | 'after the free') {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling }], p2a: false });
    const held = h.holdAnswers();
    const x = settle(agent.transact(0x10, 0x0));
    await h.clock.advance(40);
    expect(await x).toBeInstanceOf(ScmiTimeoutError);
    if (answered === 'before the removal') h.answer(defined(held()));
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    const atFree = defined(h.wire.wire.monitor.channel('a2p:0'));
    if (answered === 'after the free') h.answer(defined(held()));
    await h.clock.runUntilIdle();
    const after = defined(h.wire.wire.monitor.channel('a2p:0'));
    h.platform.close();
    expect(atFree.freed).toBe(true);
    const c = after.counters;
    return {
      abandonedAtFree: atFree.abandonedAtFree,
      abandonedAfter: after.abandonedAtFree,
      counted: c.lateReplies + c.refusedAfterQuiesce + after.ignoredAfterFree,
      late: c.lateReplies,
    };
  }

  it('polling, answered after the free: the message is counted abandoned at the free, once, and nothing else counts its reply', async () => {
    expect(await run(true, 'after the free')).toEqual({
      abandonedAtFree: 1,
      abandonedAfter: 1,
      counted: 0,
      late: 0,
    });
  });

  it('interrupt mode, answered after the free: nothing is abandoned (the doorbell is owed, and counted when dropped after the free)', async () => {
    expect(await run(false, 'after the free')).toEqual({
      abandonedAtFree: 0,
      abandonedAfter: 0,
      counted: 1,
      late: 0,
    });
  });

  it('polling, answered before the removal: the reply in the area is counted late at the teardown, not abandoned', async () => {
    expect(await run(true, 'before the removal')).toEqual({
      abandonedAtFree: 0,
      abandonedAfter: 0,
      counted: 1,
      late: 1,
    });
  });
});
