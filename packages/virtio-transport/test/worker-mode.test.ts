import { CLOCK, RealClock, coreModule, createAgent } from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { virtioTransportModule } from '@scmi-ts/virtio-transport';
import { Container } from 'inversify';
import { startVirtioWorker, type VirtioWorkerSession } from './support/fixture.js';

describe('virtio transport in worker mode', () => {
  ensureNoLeaksInSuite();
  let session: VirtioWorkerSession;
  const container = new Container();
  container.load(coreModule, virtioTransportModule);
  container.rebind(CLOCK).toConstantValue(new RealClock());

  beforeAll(async () => {
    session = await startVirtioWorker({
      platformConfig: createDefaultPlatformConfig(),
      agentId: 1,
      seed: 7,
    });
  });
  afterAll(async () => {
    await session.stop();
  });

  it('should probe, discover and remove', async () => {
    const ends = await session.open();
    const agent = await createAgent(container, {
      transport: 'virtio',
      rxTimeoutMs: 1000,
      ...ends.agentOptions,
    });
    expect(agent.info.protocols.length).toBeGreaterThan(0);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => agent.base.discoverVendor()),
    );
    expect(new Set(results).size).toBe(1);
    await agent.remove();
    await ends.close();
    expect(ends.wire.driverDiagnostics.violations).toEqual([]);
    expect(ends.wire.driverDiagnostics.buffersAllocated).toBe(0);
  });
});
