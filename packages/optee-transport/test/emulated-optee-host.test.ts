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
    expect(host.size).toBe(0);
    call(host.handlers, 'opteeOpen', allocateOpteeWire(options), options);
    host.close();
    expect(host.size).toBe(0);
    platform.close();
  });

  // As mailbox's smtStats and virtio's device handlers: a wire the worker closed (or never
  // opened) is an error the caller sees, not faults set on nothing or counters that never change.
  it('should refuse stats and wire faults for a closed or unknown id with ScmiConfigError naming id', () => {
    const clock = new RealClock();
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
    const host = createEmulatedOpteeHost({ platform, agentId: 1, clock });
    const options = { channels: [{ id: 0 }] };
    const rules = [{ action: { kind: 'busy-channel' } }];
    /** The handler's error, or undefined when it returned. */
    const refusal = (name: string, ...args: unknown[]): unknown => {
      try {
        call(host.handlers, name, ...args);
        return undefined;
      } catch (e) {
        return e;
      }
    };
    try {
      const closed = call(
        host.handlers,
        'opteeOpen',
        allocateOpteeWire(options),
        options,
      ) as number;
      call(host.handlers, 'opteeClose', closed);
      // The platform serves one agent: the next OP-TEE boots once the first let it go.
      const open = call(host.handlers, 'opteeOpen', allocateOpteeWire(options), options) as number;
      const refusals = [
        refusal('opteeStats', closed),
        refusal('opteeSetWireFaults', closed, rules),
        refusal('opteeStats', 99),
        refusal('opteeSetWireFaults', 99, rules),
      ];
      expect(refusals.map((e) => ScmiConfigError.is(e) && e.field)).toEqual([
        'id',
        'id',
        'id',
        'id',
      ]);
      expect((refusals[0] as Error).message).toContain(
        `no emulated OP-TEE ${closed} in this worker (closed, or never opened)`,
      );
      // The OP-TEE still open is untouched: no fault set on it, its counters readable.
      const stats = call(host.handlers, 'opteeStats', open) as EmulatedOpteeStats;
      expect(stats.openSessions).toBe(0);
      // Closing is idempotent: a closed id has no counters left to give.
      expect(call(host.handlers, 'opteeClose', closed)).toBeUndefined();
    } finally {
      host.close();
      platform.close();
    }
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
