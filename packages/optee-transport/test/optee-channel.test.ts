import {
  CLOCK,
  ChannelCounters,
  ScmiError,
  ScmiStatus,
  VirtualClock,
  silentLogger,
  type BadMessageReason,
  type ChannelSetup,
  type Clock,
  type TimerHandle,
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
    await transport.setupDevice({ agent: 'unit', config, devres, clock, logger: silentLogger });
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

  describe('when the clock cannot arm a timer', () => {
    /** `inner`, whose next `setTimeout` of `ms` throws once asked to. */
    function failingOnce(inner: Clock): Clock & { failNext(ms: number): void } {
      let failMs: number | undefined;
      return {
        now: () => inner.now(),
        schedule: (cb) => {
          inner.schedule(cb);
        },
        yield: () => inner.yield(),
        setTimeout: (cb: () => void, ms: number): TimerHandle => {
          if (ms === failMs) {
            failMs = undefined;
            throw new Error('the clock failed');
          }
          return inner.setTimeout(cb, ms);
        },
        failNext: (ms: number) => {
          failMs = ms;
        },
      };
    }
    const outcome = (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'ok',
        (e: unknown) => (ScmiError.is(e) ? e.code : String(e)),
      );

    it.each(['static', 'dynamic'] as const)(
      'should skip the synchronous wait (%s shmem) and keep the channel going, not keep it held',
      async (shmem) => {
        const h = await createOpteeHarness({ shmem });
        const clock = failingOnce(h.clock);
        h.container.rebind(CLOCK).toConstantValue(clock);
        const agent = await h.create();
        await h.clock.advance(5); // the probe's synchronous-wait timer has run out
        clock.failNext(1); // the next one (syncWaitMs 1)
        expect(await outcome(agent.transact(0x10, 0x3, undefined, { rxSize: 16 }))).toBe('ok');
        const next = outcome(agent.transact(0x10, 0x3, undefined, { rxSize: 16 }));
        await h.clock.advance(100);
        expect(await next).toBe('ok');
        await agent.remove();
        await h.close();
      },
    );

    it("should refuse senders waiting for a held channel at once when its bound's timer cannot be armed", async () => {
      const h = await createOpteeHarness({ shmem: 'static' });
      const clock = failingOnce(h.clock);
      h.container.rebind(CLOCK).toConstantValue(clock);
      const agent = await h.create();
      h.ends.optee.faults.add({ match: { times: 1 }, action: { kind: 'hang-until-cancel' } });
      clock.failNext(60); // busyTimeoutMs: 2 × the 30 ms RX timeout
      expect(await outcome(agent.transact(0x10, 0x3, undefined, { rxSize: 16 }))).toBe('E_TIMEOUT');
      // The TEE never returns the first invocation: without a bound the next send would wait
      // until removal.
      const next = outcome(agent.transact(0x10, 0x3, undefined, { rxSize: 16 }));
      await h.clock.advance(1000);
      expect(await next).toBe('E_CHAN_BUSY');
      await agent.remove();
      await h.close();
    });
  });
});
