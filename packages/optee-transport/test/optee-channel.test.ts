import {
  ChannelCounters,
  ScmiStatus,
  VirtualClock,
  type BadMessageReason,
  type ChannelSetup,
  type Xfer,
} from '@scmi-ts/core';
import { Devres, DevresReleaseError, ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  EmulatedOptee,
  OpteeDriver,
  OpteeTransport,
  createSameThreadOpteeWire,
  opteeTransportConfig,
} from '../src/index.js';
import { createOpteeHarness } from './support/harness.js';

describe('OpteeChannel', () => {
  ensureNoLeaksInSuite();

  it('should count what core should never ask of it, instead of reading anything', async () => {
    const clock = new VirtualClock({ auto: true });
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const wire = createSameThreadOpteeWire(clock);
    const optee = new EmulatedOptee({ wire: wire.tee, platform, agentId: 1, clock });
    const driver = new OpteeDriver(wire.ree);
    const transport = new OpteeTransport();
    const config = transport.validateConfig(opteeTransportConfig(driver), 'transportConfig');
    const devres = new Devres('unit');
    await transport.setupDevice({ agent: 'unit', config, devres, clock });
    const bad: BadMessageReason[] = [];
    const setup: ChannelSetup = {
      agent: 'unit',
      direction: 'a2p',
      channel: { id: 0, protocols: [], polling: true, transport: undefined },
      config,
      sink: { rx: () => undefined, badMessage: (r) => bad.push(r) },
      clock,
      counters: new ChannelCounters(),
      rxTimeoutMs: 30,
    };
    const channel = await transport.setupChannel(setup);
    const received: number[] = [];
    const xfer = {
      header: 0,
      rxMax: 4,
      receiveResponse: (status: number) => received.push(status),
    } as unknown as Xfer;
    // A response for a transfer that was never sent, a notification on a channel that has none,
    // and the end of a transfer it does not carry.
    channel.fetchResponse(xfer, undefined);
    channel.fetchNotification({} as never, undefined);
    channel.markTxDone(xfer, undefined);
    expect(received).toEqual([ScmiStatus.COMMS_ERROR]);
    expect(bad).toEqual(['unexpected', 'unknown']);
    expect(channel.pollDone?.(xfer)).toBe(false);
    await channel.quiesce();
    await channel.free();
    await channel.free();
    await devres.releaseAll();
    driver.close();
    optee.close();
    platform.close();
  });

  it('should report a session that cannot be closed at free, and still release the rest', async () => {
    const h = await createOpteeHarness({ shmem: 'dynamic' });
    const agent = await h.create();
    h.ends.optee.close(); // the secure world is gone: closing the session fails
    const e = await agent.remove().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DevresReleaseError);
    // Session and MSG buffer both failed to close; the context had nothing left to close.
    const failures = (e as DevresReleaseError).failures;
    expect(failures.map((f) => f.resource)).toEqual(['channel a2p:0']);
    const errors = (failures[0]?.error as AggregateError).errors as Error[];
    expect(errors.map((x) => x.message)).toEqual([
      expect.stringContaining('closing the TEE session failed: TEE_ERROR_TARGET_DEAD'),
      expect.stringContaining('freeing the MSG buffer failed: TEE_ERROR_TARGET_DEAD'),
    ]);
    expect(agent.devres).toBeUndefined();
    await h.close();
  });
});
