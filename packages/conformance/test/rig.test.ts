import { SameThreadRig, type TransportFixture } from '@scmi-ts/conformance';
import type { ScmiPlatformPort } from '@scmi-ts/core';
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

describe(SameThreadRig, () => {
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
