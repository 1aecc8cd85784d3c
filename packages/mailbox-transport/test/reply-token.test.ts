/**
 * An SMT area holds one message at a time: a reply in it answers the message last written there,
 * whatever token its header names. A header naming another transfer of the agent — one still
 * waiting for the channel lock, whose token is predictable — is not that transfer's reply (found by
 * an adversarial review: core completed the queued transfer with it before it was written, and the
 * transfer then failed with a false ScmiShutdownError when it got the lock).
 */
import {
  ScmiTimeoutError,
  headerToken,
  packHeader,
  unpackHeader,
  type ChannelStats,
} from '@scmi-ts/core';
import { SMT_CHANNEL_FREE, SMT_HEADER_OFFSET } from '@scmi-ts/mailbox-transport';
import { createHand, postDelayed, type Hand } from './support/hand-platform.js';
import { defined, settle } from './support/harness.js';

/** Core's counters of the agent's A2P channel, as the wire monitor reports them. */
function counters(h: Hand): ChannelStats {
  return defined(h.wire.wire.monitor.channel('a2p:0')).counters;
}

/** A reply with `header`: an 8-byte payload whose status is SUCCESS. */
function forged(header: number): Uint8Array {
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setUint32(0, header, true);
  return bytes;
}

describe('a reply whose token names a transfer not yet written', () => {
  it.each([false, true])(
    'should not complete that transfer: counted unexpected, and it goes out and completes later (polling %s)',
    async (polling) => {
      const h = createHand(false);
      const agent = await h.probe({ a2p: [{ id: 0, polling }], p2a: false });
      const held = h.holdAnswers();
      const first = settle(agent.transact(0x10, 0x0));
      const queued = agent.transact(0x10, 0x0);
      queued.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
      await h.clock.advance(1);
      const written = unpackHeader(h.a2p.header());
      // The queued transfer's token is the next one: forge its reply into the area and ring.
      const next = packHeader({ ...written, token: (written.token + 1) % 1024 });
      const before = counters(h).badMessages.unexpected;
      h.answer(forged(next));
      h.ringA2p();
      await h.clock.advance(40); // the first command times out; the queued one is written
      expect(await first).toBeInstanceOf(ScmiTimeoutError);
      expect(headerToken(h.a2p.header())).toBe(headerToken(next));
      expect(counters(h).badMessages.unexpected).toBe(before + 1);
      expect(counters(h).lateReplies).toBe(0);
      // Its real reply (not the forged version 0) completes it.
      const real = defined(held());
      h.answer(real);
      await h.clock.advance(1);
      await expect(queued).resolves.toEqual(real.subarray(8, 12));
      expect(real.subarray(8, 12)).not.toEqual(new Uint8Array(4));
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      h.platform.close();
    },
  );
});

describe('a delayed response whose token names a transfer not yet written', () => {
  it('should not complete that transfer (it waits for the channel lock): counted unexpected, and it goes out and completes later', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0 }] });
    const p2aUnexpected = (): number =>
      defined(h.wire.wire.monitor.channel('p2a:0')).counters.badMessages.unexpected;
    const held = h.holdAnswers();
    const first = agent.transact(0x10, 0x0);
    // An asynchronous command waiting for the lock: a delayed response may overtake its response.
    const queued = agent.transact(0x10, 0x1, undefined, { async: true });
    queued.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    await h.clock.advance(1);
    const written = headerToken(h.a2p.header());
    const before = p2aUnexpected();
    postDelayed(h, 0x1, (written + 1) % 1024);
    await h.clock.advance(1);
    expect(p2aUnexpected()).toBe(before + 1);
    h.answer(defined(held()));
    await h.clock.advance(1);
    await expect(first).resolves.toBeInstanceOf(Uint8Array);
    // The queued command is written now, answered, and completed by its own delayed response.
    expect(headerToken(h.a2p.header())).toBe((written + 1) % 1024);
    h.answer(defined(held()));
    await h.clock.advance(1);
    postDelayed(h, 0x1, (written + 1) % 1024);
    await h.clock.advance(1);
    await expect(queued).resolves.toBeInstanceOf(Uint8Array);
    expect(counters(h).failed).toBe(0);
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    h.platform.close();
  });
});

describe('a reply with no doorbell whose token names a transfer not yet written', () => {
  it('should be counted unexpected when the next command is written over it, not handed to core', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0 }], p2a: false });
    const held = h.holdAnswers();
    const first = settle(agent.transact(0x10, 0x0));
    const second = agent.transact(0x10, 0x0);
    const third = agent.transact(0x10, 0x0);
    second.catch(() => undefined);
    third.catch(() => undefined);
    await h.clock.advance(40); // the first times out; the area is still the platform's
    expect(await first).toBeInstanceOf(ScmiTimeoutError);
    const written = unpackHeader(h.a2p.header());
    const before = counters(h).badMessages.unexpected;
    // CHANNEL_FREE with the third transfer's token, and no doorbell (INTR_ENABLED cleared).
    h.a2p.setFlags(0);
    h.answer(forged(packHeader({ ...written, token: (written.token + 2) % 1024 })));
    await h.clock.advance(1); // the second is written over it
    expect(headerToken(h.a2p.header())).toBe((written.token + 1) % 1024);
    expect(counters(h).badMessages.unexpected).toBe(before + 1);
    expect(counters(h).lateReplies).toBe(0);
    h.answer(defined(held()));
    await h.clock.advance(1);
    await expect(second).resolves.toBeInstanceOf(Uint8Array);
    h.answer(defined(held()));
    await h.clock.advance(1);
    await expect(third).resolves.toBeInstanceOf(Uint8Array);
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    h.platform.close();
  });
});

describe('a reply with no doorbell found at the quiesce', () => {
  it.each([
    ["the timed-out command's token", 0, { late: 1, unexpected: 0 }],
    ['another token', 5, { late: 0, unexpected: 1 }],
  ])('should be counted once, by what it answers (%s)', async (_what, shift, want) => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling: true }], p2a: false });
    h.holdAnswers();
    const first = settle(agent.transact(0x10, 0x0));
    await h.clock.advance(40);
    expect(await first).toBeInstanceOf(ScmiTimeoutError);
    const written = unpackHeader(h.a2p.header());
    const before = counters(h).badMessages.unexpected;
    h.answer(forged(packHeader({ ...written, token: (written.token + shift) % 1024 })));
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    const c = counters(h);
    expect({ late: c.lateReplies, unexpected: c.badMessages.unexpected - before }).toEqual(want);
    h.platform.close();
  });
});

describe('a late reply the next send finds before its doorbell (found by a review)', () => {
  it.each([
    ['same token (control)', 0, { late: 1, unexpected: 0, spurious: 0 }],
    ['foreign token', 5, { late: 0, unexpected: 1, spurious: 0 }],
  ])('should count the reply once (%s)', async (_what, shift, want) => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0 }], p2a: false });
    const held = h.holdAnswers();
    const first = settle(agent.transact(0x10, 0x0));
    const second = agent.transact(0x10, 0x0);
    second.catch(() => undefined);
    await h.clock.advance(31); // first times out; second waits for CHANNEL_FREE
    expect(await first).toBeInstanceOf(ScmiTimeoutError);
    const written = unpackHeader(h.a2p.header());
    const c0 = counters(h);
    const b0 = { ...c0.badMessages };
    const l0 = c0.lateReplies;
    // Late reply: FREE set; its doorbell (INTR_ENABLED is set) still on its way, as across
    // threads: the next send's poll of CHANNEL_FREE sees the reply first and writes.
    const reply = forged(packHeader({ ...written, token: (written.token + shift) % 1024 }));
    h.a2p.bytes.set(reply, SMT_HEADER_OFFSET);
    h.a2p.setLength(reply.byteLength);
    h.a2p.setStatus(SMT_CHANNEL_FREE);
    await h.clock.advance(1);
    expect(h.a2p.isFree()).toBe(false); // the second command is in the area
    h.ringA2p(); // the late reply's doorbell arrives
    await h.clock.advance(1);
    h.answer(defined(held()));
    await h.clock.advance(1);
    await expect(second).resolves.toBeInstanceOf(Uint8Array);
    const c = counters(h);
    expect({
      late: c.lateReplies - l0,
      unexpected: c.badMessages.unexpected - b0.unexpected,
      spurious: c.badMessages.spurious - b0.spurious,
    }).toEqual(want);
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    h.platform.close();
  });
});
