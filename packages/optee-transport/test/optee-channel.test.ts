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
  TeeOrigin,
  TeeResult,
  createSameThreadOpteeWire,
  opteeTransportConfig,
  type TeeCallResult,
  type TeeContext,
  type TeeSession,
  type TeeSubmitOptions,
} from '../src/index.js';
import { OpteeChannel } from '../src/transport/optee-channel.js';
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
      sink: { rx: () => undefined, badMessage: (r) => bad.push(r), failInFlight: () => 0 },
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

  describe('when the driver asks whether an invocation waiting for a thread is still wanted', () => {
    interface Submitted {
      readonly stillWanted: (() => boolean) | undefined;
      readonly onReturn: (r: TeeCallResult) => void;
    }

    /**
     * An SMT channel on a session of the test's own: each submit is recorded and answered only
     * when the test says (as a driver whose threads are all busy queues it); no sync wait.
     */
    function queuedChannel() {
      const clock = new VirtualClock({ auto: false });
      const counters = new ChannelCounters();
      const submitted: Submitted[] = [];
      const cancels: number[] = [];
      const violations: string[] = [];
      const session = {
        usesSystemThread: false,
        submit: (
          _func: number,
          _params: unknown,
          options: TeeSubmitOptions,
          onReturn: (r: TeeCallResult) => void,
        ) => {
          submitted.push({ stillWanted: options.stillWanted, onReturn });
        },
        close: () => Promise.resolve(),
      } as unknown as TeeSession;
      const context = {
        cancel: (_s: TeeSession, id: number) => {
          cancels.push(id);
          return Promise.resolve();
        },
      } as unknown as TeeContext;
      const channel = new OpteeChannel({
        setup: {
          agent: 'unit',
          direction: 'a2p',
          channel: { id: 0, protocols: [], polling: true, transport: undefined },
          config: undefined,
          sink: { rx: () => undefined, badMessage: () => undefined, failInFlight: () => 0 },
          clock,
          counters,
          rxTimeoutMs: 30,
        },
        context,
        session,
        opteeChannelId: 0,
        handle: 0,
        area: new Uint8Array(128),
        shm: undefined,
        busyTimeoutMs: 60,
        syncWaitMs: 0,
        violations,
        onFreed: () => undefined,
      });
      const xfer = (token: number): Xfer =>
        ({
          token,
          header: token << 18,
          tx: new Uint8Array(4),
          txLen: 0,
          state: 'sent',
          receiveResponse: () => undefined,
        }) as unknown as Xfer;
      /** What the driver hands the channel for a withdrawn call. */
      const withdraw = (call: Submitted | undefined): void => {
        expect(call?.stillWanted?.()).toBe(false);
        call?.onReturn({
          result: TeeResult.CANCEL,
          origin: TeeOrigin.COMMS,
          session: 0,
          params: [],
        });
      };
      return { clock, counters, submitted, cancels, violations, channel, xfer, withdraw };
    }

    it('should want it while its transfer is live or only timed out, and not once core failed it, even after core reused the transfer', async () => {
      const { channel, submitted, xfer, withdraw, violations } = queuedChannel();
      const x1 = xfer(1);
      expect(channel.send(x1)).toBeUndefined();
      const asked = submitted[0] as Submitted;
      expect(asked.stillWanted?.()).toBe(true);
      (x1 as { state: string }).state = 'timed-out';
      expect(asked.stillWanted?.()).toBe(true);
      // Timed out and over (markTxDone): still wanted — it runs late, as any late invocation.
      channel.markTxDone(x1, new Error('timed out'));
      expect(asked.stillWanted?.()).toBe(true);
      asked.onReturn({
        result: TeeResult.SUCCESS,
        origin: TeeOrigin.TRUSTED_APP,
        session: 0,
        params: [],
      });
      expect(channel.info.stats).toMatchObject({
        invocations: 1,
        lateReturns: 1,
        withdrawnInvocations: 0,
      });

      // Failed by core, then over: the transfer goes back to core's pool and carries another
      // command ('sent' again) — the invocation is still not wanted.
      const x2 = xfer(2);
      expect(channel.send(x2)).toBeUndefined();
      (x2 as { state: string }).state = 'failed';
      channel.markTxDone(x2, new Error('shutdown'));
      (x2 as { state: string }).state = 'sent';
      withdraw(submitted[1]);
      expect(channel.info).toMatchObject({
        invoking: false,
        stats: { invocations: 1, lateReturns: 1, withdrawnInvocations: 1, teeErrors: 0 },
      });
      // The channel is free at once: the next send starts its invocation.
      expect(channel.send(xfer(3))).toBeUndefined();
      expect(submitted).toHaveLength(3);
      submitted[2]?.onReturn({
        result: TeeResult.SUCCESS,
        origin: TeeOrigin.TRUSTED_APP,
        session: 0,
        params: [],
      });
      expect(violations).toEqual([]);
      await channel.quiesce();
      await channel.free();
    });

    it('should count a call withdrawn before markTxDone neither as a late return nor as an invocation, and give the channel back at markTxDone', async () => {
      const { channel, submitted, xfer, withdraw, counters, violations } = queuedChannel();
      const x1 = xfer(1);
      expect(channel.send(x1)).toBeUndefined();
      (x1 as { state: string }).state = 'failed';
      withdraw(submitted[0]);
      // The transfer's send returned (no sync wait) and core has not called markTxDone yet: the
      // channel stays the transfer's until then.
      const x2 = xfer(2);
      const waiting = channel.send(x2);
      expect(waiting).toBeInstanceOf(Promise);
      expect(submitted).toHaveLength(1);
      channel.markTxDone(x1, new Error('shutdown'));
      await waiting;
      expect(submitted).toHaveLength(2);
      expect(channel.info.stats).toMatchObject({
        invocations: 1,
        withdrawnInvocations: 1,
        lateReturns: 0,
        refusedReturns: 0,
        teeErrors: 0,
      });
      expect(counters.snapshot()).toMatchObject({ lateReplies: 0, refusedAfterQuiesce: 0 });
      submitted[1]?.onReturn({
        result: TeeResult.SUCCESS,
        origin: TeeOrigin.TRUSTED_APP,
        session: 0,
        params: [],
      });
      expect(violations).toEqual([]);
      await channel.quiesce();
      await channel.free();
    });

    it('should want nothing once it quiesces: a timed-out invocation is withdrawn and the quiesce ends', async () => {
      const { channel, submitted, cancels, xfer, withdraw } = queuedChannel();
      const x1 = xfer(1);
      expect(channel.send(x1)).toBeUndefined();
      (x1 as { state: string }).state = 'timed-out';
      channel.markTxDone(x1, new Error('timed out'));
      let quiesced = false;
      const quiescing = channel.quiesce().then(() => (quiesced = true));
      await Promise.resolve();
      await Promise.resolve();
      expect(cancels).toHaveLength(1);
      expect(quiesced).toBe(false);
      withdraw(submitted[0]);
      await quiescing;
      expect(channel.info.stats).toMatchObject({
        invocations: 0,
        withdrawnInvocations: 1,
        lateReturns: 0,
        refusedReturns: 0,
        cancelRequests: 1,
      });
      await channel.free();
    });
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
