import { RealClock, ScmiConfigError, type WorkerHandlers } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  OpteeDriver,
  PTA_SCMI_UUID,
  allocateOpteeWire,
  createEmulatedOpteeHost,
  openOpteeWireEnd,
  openTeeContext,
  type EmulatedOpteeStats,
} from '../src/index.js';

function call(handlers: WorkerHandlers, name: string, ...args: unknown[]): unknown {
  const h = handlers[name] as unknown as (...a: unknown[]) => unknown;
  return h(...args);
}

describe(createEmulatedOpteeHost, () => {
  it('should boot an emulated OP-TEE per wire, apply wire faults, report stats and close them all', async () => {
    const clock = new RealClock();
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const host = createEmulatedOpteeHost({ platform, agentId: 1, clock, platformTimeoutMs: 100 });
    const options = { channels: [{ id: 0 }] };
    const memory = allocateOpteeWire(options);
    const id = call(host.handlers, 'opteeOpen', memory, options) as number;
    expect(host.size).toBe(1);
    const driver = new OpteeDriver(openOpteeWireEnd(memory, options, 'ree'));
    const context = openTeeContext(driver);
    const session = await context.openSession(PTA_SCMI_UUID);
    call(host.handlers, 'opteeSetWireFaults', id, [{ action: { kind: 'busy-channel' } }]);
    expect((call(host.handlers, 'opteeStats', id) as EmulatedOpteeStats).openSessions).toBe(1);
    await session.close();
    await context.close();
    driver.close();
    call(host.handlers, 'opteeClose', id);
    expect(call(host.handlers, 'opteeStats', id)).toBeUndefined();
    call(host.handlers, 'opteeOpen', allocateOpteeWire(options), options);
    host.close();
    expect(host.size).toBe(0);
    platform.close();
  });

  it("should boot each emulated OP-TEE with the host's msgBufferSize, checked there", () => {
    const clock = new RealClock();
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const host = createEmulatedOpteeHost({ platform, agentId: 1, clock, msgBufferSize: 129 });
    const options = { channels: [{ id: 0 }] };
    let error: unknown;
    try {
      call(host.handlers, 'opteeOpen', allocateOpteeWire(options), options);
    } catch (e) {
      error = e;
    } finally {
      // Closed before any check: an emulated OP-TEE booted by mistake must not keep jest running.
      host.close();
      platform.close();
    }
    expect(ScmiConfigError.is(error) && error.field).toBe('msgBufferSize');
  });
});
