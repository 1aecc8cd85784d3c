/**
 * A delayed response, on the P2A channel, may reach the agent before the response to its command
 * on the A2P channel: the platform sends the response first, but the two channels' doorbells are
 * not ordered with each other (the demo's platform worker showed it under load). Core completes
 * the transfer with the delayed response (the response taken as successful, as Linux does); the
 * response, when it comes, is dropped and counted `overtakenResponses` — whichever path brings it
 * to the agent: its doorbell, the next command written over it, or the quiesce that finds it
 * unseen in the area — and never as a bad message or a late reply.
 */
import { headerToken, type ChannelStats, type ScmiAgent } from '@scmi-ts/core';
import { createHand, postDelayed, type Hand } from './support/hand-platform.js';
import { defined } from './support/harness.js';

/** Core's counters of the agent's A2P channel, as the wire monitor reports them. */
function counters(h: Hand): ChannelStats {
  return defined(h.wire.wire.monitor.channel('a2p:0')).counters;
}

/** The bad messages counted on the A2P channel, every reason. */
function bad(h: Hand): number {
  return Object.values(counters(h).badMessages).reduce((n, v) => n + v, 0);
}

/**
 * Sends Base 0x1 as an asynchronous command with its answer held, completes it with a delayed
 * response, and returns the held response (not written yet).
 */
async function overtake(h: Hand, agent: ScmiAgent): Promise<Uint8Array> {
  const held = h.holdAnswers();
  const done = agent.transact(0x10, 0x1, undefined, { async: true });
  await h.clock.advance(1);
  postDelayed(h, 0x1, headerToken(h.a2p.header()));
  await h.clock.advance(1);
  await expect(done).resolves.toEqual(new Uint8Array(0));
  return defined(held());
}

async function remove(h: Hand, agent: ScmiAgent): Promise<void> {
  const removing = agent.remove();
  await h.clock.runUntilIdle();
  await removing;
  h.platform.close();
}

describe('a response its delayed response overtook', () => {
  it('should be counted overtaken when its doorbell comes after the transfer completed', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0 }] });
    const response = await overtake(h, agent);
    h.answer(response); // written, CHANNEL_FREE, and the doorbell the message asked for
    await h.clock.advance(1);
    expect(counters(h)).toMatchObject({ overtakenResponses: 1, lateReplies: 0, failed: 0 });
    expect(bad(h)).toBe(0);
    await remove(h, agent);
  });

  it('should be counted overtaken when the next command is written over it (polling)', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling: true }] });
    const response = await overtake(h, agent);
    h.answer(response); // polled: no doorbell, and nobody looks at the area again
    h.onRequest = (_request, answer) => {
      if (answer !== undefined) h.answer(answer);
    };
    const next = agent.transact(0x10, 0x0);
    await h.clock.advance(1);
    await expect(next).resolves.toBeInstanceOf(Uint8Array);
    expect(counters(h)).toMatchObject({ overtakenResponses: 1, lateReplies: 0, failed: 0 });
    expect(bad(h)).toBe(0);
    await remove(h, agent);
  });

  it('should let a held transfer be sent again (a new token) while its overtaken response sits unseen in the area, counting that response once (polling)', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling: true }] });
    const held = h.holdAnswers();
    const ops = agent.xfer(0x10);
    const xfer = await ops.get(0x1, 0, 4);
    const done = ops.doWithResponse(xfer);
    await h.clock.advance(1);
    const owed = headerToken(h.a2p.header());
    postDelayed(h, 0x1, owed);
    await h.clock.advance(1);
    await done;
    h.answer(defined(held())); // polled: no doorbell, nobody looks at the area
    h.onRequest = (_request, answer) => {
      if (answer !== undefined) h.answer(answer);
    };
    const again = ops.do(xfer);
    await h.clock.advance(1);
    await expect(again).resolves.toBeUndefined();
    expect(xfer.token).not.toBe(owed);
    expect(headerToken(h.a2p.header())).toBe(xfer.token);
    // Written over by the new command, the old response went to core first: overtaken, once.
    expect(counters(h)).toMatchObject({ overtakenResponses: 1, lateReplies: 0, failed: 0 });
    expect(bad(h)).toBe(0);
    ops.put(xfer);
    await remove(h, agent);
    expect(counters(h).overtakenResponses).toBe(1);
  });

  it('should be counted overtaken when the quiesce finds it unseen while its transfer, completed by the delayed response, has not ended yet (polling)', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling: true }] });
    const held = h.holdAnswers();
    const ops = agent.xfer(0x10);
    const xfer = await ops.get(0x1, 0, 4);
    const done = ops.doWithResponse(xfer);
    await h.clock.advance(1);
    postDelayed(h, 0x1, headerToken(h.a2p.header()));
    // The delayed response's doorbell (a task at this instant) completes the transfer; its poll
    // loop, asleep until a later instant, has not looked again, so the channel's operation has
    // not ended (no markTxDone) when the removal starts.
    await h.clock.advance(0);
    expect([xfer.state, xfer.responseOwed]).toEqual(['delayed-response', true]);
    h.answer(defined(held()));
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    await done.catch(() => undefined);
    expect(counters(h)).toMatchObject({ overtakenResponses: 1, lateReplies: 0 });
    expect(bad(h)).toBe(0);
    h.platform.close();
  });

  it('should be counted overtaken when the quiesce finds it unseen in the area (polling)', async () => {
    const h = createHand(false);
    const agent = await h.probe({ a2p: [{ id: 0, polling: true }] });
    h.answer(await overtake(h, agent));
    await remove(h, agent);
    expect(counters(h)).toMatchObject({ overtakenResponses: 1, lateReplies: 0, failed: 0 });
    expect(bad(h)).toBe(0);
  });
});
