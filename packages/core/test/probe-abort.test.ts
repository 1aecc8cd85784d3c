import {
  ScmiConfigError,
  ScmiTransportError,
  TRANSPORT,
  type ProtocolDriver,
  type Transport,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite, type TeardownReason } from '@scmi-ts/devres';
import { getEventListeners } from 'node:events';
import { captureWarnings, createHarness, type Harness } from './support/harness.js';

/** Why the probe was aborted, as a caller would give it. */
class StopProbe extends Error {}

/** The devres resources released by the probe's teardown, in order. */
function released(h: Harness): string[] {
  return h.log.filter('release').map((e) => e.resource);
}

/** A request of Base (0x10) with this message id. */
function isBase(messageId: number): (req: { protocolId: number; messageId: number }) => boolean {
  return (req) => req.protocolId === 0x10 && req.messageId === messageId;
}

describe('createAgent with AgentOptions.signal', () => {
  ensureNoLeaksInSuite();

  it('should reject with the reason of a signal already aborted, before anything is set up or sent', async () => {
    const h = createHarness();
    const reason = new StopProbe('stop');
    await expect(h.create({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(h.platform.requests).toHaveLength(0);
    expect(h.log.events).toHaveLength(0);
  });

  it('should refuse a signal that is not an AbortSignal, naming the option', async () => {
    const h = createHarness();
    const fake = { aborted: false, addEventListener: () => undefined };
    await expect(h.create({ signal: fake as unknown as AbortSignal })).rejects.toMatchObject({
      constructor: ScmiConfigError,
      field: 'signal',
    });
    expect(h.log.events).toHaveLength(0);
  });

  it('should fail the transfer in flight at once, send nothing more and tear down, rejecting with the reason, when aborted during Base discovery', async () => {
    const h = createHarness();
    const controller = new AbortController();
    const reason = new StopProbe('operator stopped the probe');
    h.platform.override = (req) => {
      if (!isBase(0x1)(req)) return undefined;
      // PROTOCOL_ATTRIBUTES is in flight, its reply never comes: the operator gives up.
      h.platform.later(5, () => {
        controller.abort(reason);
      });
      return 'drop';
    };
    await expect(h.create({ signal: controller.signal })).rejects.toBe(reason);
    // 5 ms on the virtual clock, not the 30 ms response timeout.
    expect(h.clock.now()).toBe(5);
    expect(h.platform.requests.map((r) => r.messageId)).toEqual([0x0, 0x1]);
    expect(released(h)).toContain('channel a2p:0');
    expect(h.log.filter('teardown-begin').map((e) => e.reason)).toEqual(['probe-failed']);
    expect(h.clock.armedTimers).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it("should stop before Base is asked anything when aborted during a transport's setup step, giving the teardown the reason", async () => {
    const h = createHarness();
    const controller = new AbortController();
    const reason = new StopProbe('stop');
    const inner = h.container.get<Transport>(TRANSPORT);
    const whys: TeardownReason[] = [];
    // A transport whose device setup takes 10 ms (a handshake); the abort comes in the middle.
    const slow: Transport = {
      ...inner,
      setupDevice: async (ctx) => {
        // The transport gets the probe's signal, to stop a wait of its own (DeviceSetup.signal).
        expect(ctx.signal).toBe(controller.signal);
        await inner.setupDevice?.(ctx);
        ctx.devres.addAction('handshake', (why) => {
          whys.push(why);
        });
        controller.abort(reason);
        await new Promise<void>((resolve) => ctx.clock.setTimeout(resolve, 10));
      },
    };
    h.container.rebind(TRANSPORT).toConstantValue(slow);
    await expect(h.create({ signal: controller.signal })).rejects.toBe(reason);
    // The setup step was let finish; nothing was sent after it.
    expect(h.clock.now()).toBe(10);
    expect(h.platform.requests).toHaveLength(0);
    expect(released(h)).toContain('handshake');
    expect(released(h)).not.toContain('channel a2p:0');
    expect(whys).toEqual([{ kind: 'probe-failed', error: reason }]);
  });

  it("should stop at a protocol whose init the abort cut short without recording it as failed, and release the protocol's group", async () => {
    const controller = new AbortController();
    const reason = new StopProbe('stop');
    let initsAfter = 0;
    const whys: TeardownReason[] = [];
    const slowInit: ProtocolDriver<number> = {
      protocolId: 0x14,
      name: 'slow',
      version: 0x10000,
      init: async (ph, group) => {
        group.addAction('driver action', (why) => {
          whys.push(why);
        });
        // A command the platform never answers; the operator aborts meanwhile.
        h.platform.later(3, () => {
          controller.abort(reason);
        });
        await ph.xfer.transact(0x3);
        return 0x14;
      },
    };
    const next: ProtocolDriver<number> = {
      protocolId: 0x15,
      name: 'next',
      version: 0x10000,
      init: () => {
        initsAfter++;
        return 0x15;
      },
    };
    const h = createHarness({ drivers: [slowInit, next] });
    const warnings = captureWarnings(h);
    h.platform.override = (req) =>
      req.protocolId === 0x14 && req.messageId === 0x3 ? 'drop' : undefined;
    await expect(h.create({ signal: controller.signal })).rejects.toBe(reason);
    expect(initsAfter).toBe(0);
    // The protocol's group, torn down first, gets the reason too.
    expect(whys).toEqual([{ kind: 'probe-failed', error: reason }]);
    expect(warnings.filter((w) => w.includes('failed to initialize'))).toEqual([]);
    expect(released(h)).toEqual(expect.arrayContaining(['protocol handle', 'channel a2p:0']));
    expect(h.clock.armedTimers).toBe(0);
  });

  it('should reject, not resolve with an agent cut off, when the last init swallows the failure the abort caused', async () => {
    const controller = new AbortController();
    const reason = new StopProbe('stop');
    let swallowed: unknown;
    const tolerant: ProtocolDriver<number> = {
      protocolId: 0x15,
      name: 'tolerant',
      version: 0x10000,
      // As a driver that goes on without a domain whose description failed.
      init: async (ph) => {
        h.platform.later(3, () => {
          controller.abort(reason);
        });
        await ph.xfer.transact(0x3).catch((e: unknown) => {
          swallowed = e;
        });
        return 0x15;
      },
    };
    const h = createHarness({ drivers: [tolerant] });
    h.platform.override = (req) =>
      req.protocolId === 0x15 && req.messageId === 0x3 ? 'drop' : undefined;
    await expect(h.create({ signal: controller.signal })).rejects.toBe(reason);
    expect(swallowed).toMatchObject({ code: 'E_SHUTDOWN' });
    expect(released(h)).toContain('channel a2p:0');
  });

  it('should change nothing when the signal fires after the probe resolved: the agent works and removes as usual', async () => {
    const h = createHarness();
    const controller = new AbortController();
    const agent = await h.create({ signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort(new StopProbe('too late'));
    const echo = await agent.transact(0x14, 0x3, new Uint8Array([1, 2, 3, 4]));
    expect([...echo]).toEqual([1, 2, 3, 4]);
    await agent.remove();
    expect(h.log.filter('teardown-begin').map((e) => e.reason)).toEqual(['remove']);
  });

  it('should keep a failure of its own when the signal never fires', async () => {
    const h = createHarness();
    const controller = new AbortController();
    h.platform.override = (req) => {
      if (!isBase(0x1)(req)) return undefined;
      const channel = h.wire.channels.get('a2p:0');
      if (channel === undefined) throw new Error('no a2p:0');
      channel.fetchResponse = (): void => {
        throw new RangeError('hostile length');
      };
      return undefined;
    };
    await expect(h.create({ signal: controller.signal })).rejects.toBeInstanceOf(
      ScmiTransportError,
    );
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
