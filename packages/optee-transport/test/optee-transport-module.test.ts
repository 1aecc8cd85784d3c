import { CLOCK, TRANSPORT, VirtualClock, coreModule, createAgent } from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { Container } from 'inversify';
import {
  EmulatedOptee,
  OpteeDriver,
  OpteeTransport,
  createSameThreadOpteeWire,
  opteeTransportConfig,
  opteeTransportModule,
} from '../src/index.js';

describe('opteeTransportModule', () => {
  ensureNoLeaksInSuite();

  it('should bind one OP-TEE transport per container, chosen by name', async () => {
    const clock = new VirtualClock({ auto: true });
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const wire = createSameThreadOpteeWire(clock, {
      channels: [{ id: 0, staticShmem: true }, { id: 1 }],
    });
    const optee = new EmulatedOptee({ wire: wire.tee, platform, agentId: 1, clock });
    const driver = new OpteeDriver(wire.ree);
    const container = new Container();
    container.load(coreModule, opteeTransportModule);
    container.rebind(CLOCK).toConstantValue(clock);
    const transport = container.get(TRANSPORT);
    if (!(transport instanceof OpteeTransport)) throw new Error('not the OP-TEE transport');
    expect(container.get(TRANSPORT)).toBe(transport);
    const other = new Container();
    other.load(opteeTransportModule);
    expect(other.get(TRANSPORT)).not.toBe(transport);

    const agent = await createAgent(container, {
      transport: 'optee',
      a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }],
      transportConfig: opteeTransportConfig(driver),
    });
    expect(transport.diagnostics().channels.map((c) => c.mode)).toEqual(['smt', 'msg']);
    await agent.remove();
    driver.close();
    optee.close();
    platform.close();
  });
});
