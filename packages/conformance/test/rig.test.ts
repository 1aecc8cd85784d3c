import { SameThreadRig, type TransportFixture } from '@scmi-ts/conformance';
import type { ScmiPlatformPort, Transport } from '@scmi-ts/core';
import { forwardChannel } from './support/decorate-transport.js';
import { loopbackFixture } from './support/loopback-fixture.js';

/** The loopback fixture over a port whose connections never disconnect from the platform. */
function neverDisconnects(): TransportFixture {
  const inner = loopbackFixture();
  return {
    ...inner,
    sameThread: (ctx) => {
      const port: ScmiPlatformPort = {
        connect: (agentId, link) => {
          const conn = ctx.platform.connect(agentId, link);
          return { agentId: conn.agentId, disconnect: () => undefined };
        },
        handle: (agentId, channelId, request) => ctx.platform.handle(agentId, channelId, request),
      };
      return inner.sameThread({ ...ctx, platform: port });
    },
  };
}

/**
 * The loopback fixture whose first channel freed releases a device-wide resource with it (out of
 * order: the resource was registered before the channels, so it must be released after them).
 */
function releasesEarly(): TransportFixture {
  const inner = loopbackFixture();
  const wrap = (transport: Transport): Transport => {
    let releaseShared: (() => Promise<void>) | undefined;
    return {
      descriptor: transport.descriptor,
      setupDevice: async (setup) => {
        await transport.setupDevice?.(setup);
        const handle = setup.devres.add({
          name: 'shared ring',
          value: 1,
          release: () => undefined,
        });
        releaseShared = () => setup.devres.release(handle);
      },
      setupChannel: async (setup) => {
        const channel = await transport.setupChannel(setup);
        return forwardChannel(channel, {
          free: async () => {
            await channel.free();
            await releaseShared?.().catch(() => undefined);
          },
        });
      },
    };
  };
  return {
    ...inner,
    sameThread: async (ctx) => {
      const ends = await inner.sameThread(ctx);
      return { ...ends, transport: wrap(ends.transport) };
    },
  };
}

/** The loopback fixture whose wire, once closed, leaves a timer of its own armed on the clock. */
function leavesTimerArmed(): TransportFixture {
  const inner = loopbackFixture();
  return {
    ...inner,
    sameThread: async (ctx) => {
      const ends = await inner.sameThread(ctx);
      return {
        ...ends,
        close: async () => {
          await ends.close();
          ctx.clock.setTimeout(() => undefined, 1000); // a retry nothing cancels
        },
      };
    },
  };
}

describe(SameThreadRig, () => {
  it('should report a resource released out of order (newest first) by the teardown', async () => {
    const rig = await SameThreadRig.create(releasesEarly());
    const agent = await rig.probe();
    await agent.remove();
    const problems = await rig.dispose();
    expect(problems).not.toEqual([]);
    expect(problems.join('\n')).toMatch(/shared ring/);
  });

  it('should report a platform timer left armed once the agents are removed and the wire closed', async () => {
    const rig = await SameThreadRig.create(neverDisconnects(), { auto: false });
    const agent = await rig.run(rig.probe());
    rig.platform.faults.add({
      match: { protocolId: 0x14, messageId: 0x0, times: 1 },
      action: { kind: 'late-reply', ms: 1000 },
    });
    await rig.run(agent.transact(0x14, 0x0).catch(() => undefined));
    await rig.run(agent.remove());
    // The reply's timer is still armed: closing the platform would cancel it and hide it.
    expect(await rig.dispose()).toEqual([
      'platform: 1 timer(s) left armed after the agents were removed and the wire closed',
    ]);
  });

  it("should report the transport's timer left armed once everything closed, before running the clock would fire it", async () => {
    const rig = await SameThreadRig.create(leavesTimerArmed());
    const agent = await rig.probe();
    await agent.remove();
    expect(await rig.dispose()).toEqual([
      '1 timer(s) left armed after the agents were removed and the wire and the platform closed',
    ]);
  });

  it('should not report the timer of an accepted asynchronous operation that completes after its agent is gone', async () => {
    const rig = await SameThreadRig.create(loopbackFixture(), {
      behaviour: { asyncLatencyMs: 50 },
    });
    const agent = await rig.probe();
    // CLOCK_RATE_SET, asynchronous without a delayed response (flags 3): nothing left to wait for.
    await agent.transact(0x14, 0x5, (w) => w.u32(3).u32(0).u32(600_000_000).u32(0), {
      txSize: 16,
    });
    await agent.remove();
    expect(rig.platform.pendingOperations).toBe(1);
    expect(await rig.dispose()).toEqual([]);
  });

  it('should report nothing when the wire disconnects the agent', async () => {
    const rig = await SameThreadRig.create(loopbackFixture(), { auto: false });
    const agent = await rig.run(rig.probe());
    rig.platform.faults.add({
      match: { protocolId: 0x14, messageId: 0x0, times: 1 },
      action: { kind: 'late-reply', ms: 1000 },
    });
    await rig.run(agent.transact(0x14, 0x0).catch(() => undefined));
    await rig.run(agent.remove());
    expect(await rig.dispose()).toEqual([]);
  });
});
