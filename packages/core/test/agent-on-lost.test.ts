import {
  BASE_ERROR_EVENT,
  RevokedError,
  ScmiError,
  ScmiTransportError,
  type ChannelLoss,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness, type Harness } from './support/harness.js';
import type { LoopbackChannel } from './support/loopback-transport.js';

/** The loopback channel `label` of `h`'s wire. */
function channelOf(h: Harness, label: string): LoopbackChannel {
  const channel = h.wire.channels.get(label);
  if (channel === undefined) throw new Error(`no channel ${label}`);
  return channel;
}

/** The error a transport whose other end went away gives failInFlight. */
function gone(what: string): ScmiTransportError {
  return new ScmiTransportError('E_TEST_GONE', `${what} is gone`);
}

/** Records every loss a listener is told of, as `label: message`. */
function recorder(): { told: string[]; listener: (loss: ChannelLoss) => void } {
  const told: string[] = [];
  return { told, listener: (loss) => void told.push(`${loss.label}: ${loss.error.message}`) };
}

describe('ScmiAgent.onLost', () => {
  // Removes the test's agent before the leak check runs: jest runs afterEach hooks in declaration
  // order, so this one, declared before ensureNoLeaksInSuite(), runs first.
  let agent: ScmiAgent | undefined;
  afterEach(async () => {
    await agent?.remove({ disableNotifications: false });
    agent = undefined;
  });
  ensureNoLeaksInSuite();

  it('should tell a listener of a lost channel once, on a microtask, with the error diagnostics show', async () => {
    const h = createHarness();
    agent = await h.create();
    const losses: ChannelLoss[] = [];
    agent.onLost((loss) => void losses.push(loss));
    h.platform.override = (req) => (req.protocolId === 0x14 ? 'drop' : undefined);
    const inFlight = agent.transact(0x14, 0x3, new Uint8Array(4)).catch((e: unknown) => e);
    await h.clock.settle();
    const error = gone('peer of a2p');
    expect(channelOf(h, 'a2p:0').loseOtherEnd(error)).toBe(1);
    expect(losses).toEqual([]); // never inside the transport's callback
    await Promise.resolve();
    expect(losses).toEqual([{ label: 'a2p:0', id: 0, direction: 'a2p', error }]);
    expect(losses[0]?.error).toBe(agent.diagnostics.channels[0]?.lost);
    expect(await inFlight).toBe(error);
    // The channel stays lost with its first error: a second report tells nobody again.
    channelOf(h, 'a2p:0').loseOtherEnd(gone('again'));
    await h.clock.settle();
    expect(losses).toHaveLength(1);
    expect(agent.diagnostics.lossListenerErrors).toBe(0);
  });

  it('should tell a listener that subscribes after the loss, and of a P2A channel lost during the probe', async () => {
    const h = createHarness();
    // The P2A channel is lost while the probe runs (its Base commands go on the A2P channel).
    const real = h.platform.override;
    let lostOnce = false;
    h.platform.override = (req) => {
      if (!lostOnce) {
        lostOnce = true;
        channelOf(h, 'p2a:0').loseOtherEnd(gone('peer of p2a'));
      }
      return real?.(req);
    };
    agent = await h.create();
    expect(agent.diagnostics.channels.map((c) => c.lost?.message)).toEqual([
      undefined,
      'peer of p2a is gone',
    ]);
    const first = recorder();
    const second = recorder();
    agent.onLost(first.listener);
    agent.onLost(second.listener);
    await Promise.resolve();
    expect(first.told).toEqual(['p2a:0: peer of p2a is gone']);
    expect(second.told).toEqual(['p2a:0: peer of p2a is gone']);
    // A later loss of the other channel: each subscription is told of it alone.
    channelOf(h, 'a2p:0').loseOtherEnd(gone('peer of a2p'));
    await Promise.resolve();
    expect(first.told).toEqual(['p2a:0: peer of p2a is gone', 'a2p:0: peer of a2p is gone']);
    expect(second.told).toEqual(first.told);
  });

  it('should tell nothing to a subscription undone before the loss was told; undoing is idempotent', async () => {
    const h = createHarness();
    agent = await h.create();
    const kept = recorder();
    const undone = recorder();
    agent.onLost(kept.listener);
    const stop = agent.onLost(undone.listener);
    channelOf(h, 'a2p:0').loseOtherEnd(gone('peer of a2p'));
    stop();
    stop();
    await Promise.resolve();
    expect(kept.told).toEqual(['a2p:0: peer of a2p is gone']);
    expect(undone.told).toEqual([]);
  });

  it('should contain and count a listener that throws or rejects, and still tell the others', async () => {
    const h = createHarness();
    agent = await h.create();
    const after = recorder();
    agent.onLost(() => {
      throw new Error('listener bug');
    });
    agent.onLost(() => Promise.reject(new Error('async listener bug')));
    agent.onLost(after.listener);
    channelOf(h, 'a2p:0').loseOtherEnd(gone('peer of a2p'));
    await h.clock.settle();
    expect(after.told).toEqual(['a2p:0: peer of a2p is gone']);
    expect(agent.diagnostics.lossListenerErrors).toBe(2);
  });

  it('should call no listener once the removal started: neither after one that removes the agent, nor for a loss told after remove()', async () => {
    const h = createHarness();
    agent = await h.create();
    const a = agent;
    const later = recorder();
    let removal: Promise<void> | undefined;
    a.onLost(() => {
      removal = a.remove({ disableNotifications: false });
    });
    a.onLost(later.listener);
    channelOf(h, 'a2p:0').loseOtherEnd(gone('peer of a2p'));
    await Promise.resolve();
    expect(removal).toBeDefined();
    await removal;
    expect(later.told).toEqual([]);
    expect(a.removed).toBe(true);

    // A loss reported, then remove() before the microtask that would tell it — a removal that
    // first disables an event at the platform, so the agent is still live while it does.
    const h2 = createHarness();
    agent = await h2.create();
    await agent.events.subscribe({ protocolId: 0x10, eventId: BASE_ERROR_EVENT }, () => undefined);
    const told = recorder();
    agent.onLost(told.listener);
    channelOf(h2, 'p2a:0').loseOtherEnd(gone('peer of p2a'));
    const removing = agent.remove();
    await Promise.resolve();
    expect(agent.removed).toBe(false); // still disabling the event
    await removing;
    expect(agent.diagnostics.notifications.disabledAtRemoval).toBe(1);
    expect(told.told).toEqual([]);
  });

  it('should refuse a listener that is not a function, and any subscription after removal', async () => {
    const h = createHarness();
    agent = await h.create();
    expect(() => agent?.onLost('nope' as unknown as () => void)).toThrow(
      expect.objectContaining({ code: 'E_ARGUMENT' }) as ScmiError,
    );
    expect(() => agent?.onLost(null as unknown as () => void)).toThrow(ScmiError);
    // While the removal disables events at the platform (the agent still live): refused, as
    // events.subscribe is — such a listener would never be called.
    await agent.events.subscribe({ protocolId: 0x10, eventId: BASE_ERROR_EVENT }, () => undefined);
    h.platform.override = (req) =>
      req.protocolId === 0x10 && req.messageId === 0x5 ? 'drop' : undefined;
    const removing = agent.remove();
    expect(agent.removed).toBe(false);
    expect(() => agent?.onLost(() => undefined)).toThrow(
      expect.objectContaining({ code: 'E_SHUTDOWN' }) as Error,
    );
    h.platform.override = undefined;
    await removing;
    agent = await h.create();
    const stop = agent.onLost(() => undefined);
    await agent.remove();
    expect(() => agent?.onLost(() => undefined)).toThrow(RevokedError);
    expect(stop).not.toThrow(); // undoing after removal is fine
  });

  it('should not report a loss the transport gives after the agent shut down', async () => {
    const h = createHarness();
    agent = await h.create();
    const told = recorder();
    agent.onLost(told.listener);
    const a2p = channelOf(h, 'a2p:0');
    await agent.remove();
    // The channel's guard is quiesced: the report is refused, counted, and nobody is told.
    expect(a2p.loseOtherEnd(gone('peer of a2p'))).toBe(0);
    await Promise.resolve();
    expect(told.told).toEqual([]);
  });
});
