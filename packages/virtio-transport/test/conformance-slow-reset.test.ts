import { runTransportConformance } from '@scmi-ts/conformance';
import { CLOCK, VirtualClock, coreModule, createAgent } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { virtioTransportModule } from '@scmi-ts/virtio-transport';
import { Container } from 'inversify';
import { virtioSlowResetFixture, type SameThreadVirtio } from './support/fixture.js';

// The whole kit again, over a device whose reset is acknowledged 2 ms late (see the fixture).
runTransportConformance(virtioSlowResetFixture);

describe('virtioSlowResetFixture', () => {
  it('should give the kit a device whose every reset is late: at probe and at removal', async () => {
    const clock = new VirtualClock({ auto: true });
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const ends = (await virtioSlowResetFixture.sameThread({
      platform,
      clock,
      agentId: 1,
    })) as SameThreadVirtio;
    const container = new Container();
    container.load(coreModule, virtioTransportModule);
    container.rebind(CLOCK).toConstantValue(clock);
    const agent = await createAgent(container, {
      transport: 'virtio',
      rxTimeoutMs: 30,
      ...ends.agentOptions,
    });
    await agent.remove();
    expect(ends.device.faults.counts['reset-ack-late']).toBe(2);
    expect(ends.device.stats.resets).toBe(2);
    expect(ends.wire.driverDiagnostics.resetTimeouts).toBe(0);
    await ends.close();
    platform.close();
  });
});
