import { RevokedError, ScmiError } from '@scmi-ts/core';
import {
  CLOCK_RATE_CHANGED,
  POWER_STATE_ON,
  decodeClockRateChanged,
  clockProtocolDriver,
  powerProtocolDriver,
  resetProtocolDriver,
  sensorProtocolDriver,
  type ClockRateNotification,
  type PowerStateNotification,
  type ResetIssued,
  type SensorTripPointEvent,
} from '../src/index.js';
import { createHarness, type Harness } from './support/harness.js';

const MHZ = 1_000_000;

/**
 * The protocol clients' typed subscriptions (`on…`): each decodes its event's notifications, as
 * Linux's `fill_custom_report` does, enables and disables at the platform as
 * `agent.events.subscribe` does, and ends by its function or its signal.
 */
describe('typed notification subscriptions of the protocol clients', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('clock.onRateChanged: decoded events of the clock subscribed to, ended by its function', async () => {
    h = createHarness({ drivers: [clockProtocolDriver] });
    const agent = await h.create();
    const clock = agent.protocol(clockProtocolDriver);
    const got: ClockRateNotification[] = [];
    const timestamps: number[] = [];
    const off = await clock.onRateChanged(
      (e, n) => {
        got.push(e);
        timestamps.push(n.timestamp);
      },
      { source: 1 },
    );
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: 0x14, notificationId: 0x0, domainId: 1 },
    ]);
    await clock.setRate(1, 48n * BigInt(MHZ));
    await clock.setRate(0, 1_300n * BigInt(MHZ)); // not subscribed: not sent
    await h.clock.runUntilIdle();
    expect(got).toEqual([{ agentId: 1, clockId: 1, rate: 48_000_000n }]);
    expect(timestamps).toHaveLength(1);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('power.onStateChanged: every domain that announces it, ended by its signal', async () => {
    h = createHarness({ drivers: [powerProtocolDriver] });
    const agent = await h.create();
    const power = agent.protocol(powerProtocolDriver);
    const got: PowerStateNotification[] = [];
    const stop = new AbortController();
    await power.onStateChanged((e) => void got.push(e), { signal: stop.signal });
    expect(h.platform.subscriptions(1).length).toBeGreaterThan(0);
    await power.setState(1, POWER_STATE_ON);
    await h.clock.runUntilIdle();
    expect(got).toEqual([{ agentId: 1, domainId: 1, powerState: POWER_STATE_ON }]);
    stop.abort();
    await h.clock.runUntilIdle();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await power.setState(1, POWER_STATE_ON);
    await h.clock.runUntilIdle();
    expect(got).toHaveLength(1);
    expect(agent.diagnostics.notifications.signalLeaveFailures).toBe(0);
    await agent.remove();
  });

  it('sensor.onTripPoint: a trip point crossed', async () => {
    h = createHarness({ drivers: [sensorProtocolDriver] });
    const agent = await h.create();
    const sensor = agent.protocol(sensorProtocolDriver);
    const got: SensorTripPointEvent[] = [];
    const off = await sensor.onTripPoint((e) => void got.push(e), { source: 2 });
    // gpu-current ramps from 100 to 3000 in 5 s: it crosses 1000 going up at about 1.55 s.
    await sensor.setTripPoint(2, 0, 1000n, 'up');
    await h.clock.advance(2000);
    expect(got).toEqual([
      { agentId: 0, sensorId: 2, tripPointId: 0, ascending: true, desc: 1 << 16 },
    ]);
    await sensor.disableTripPoint(2, 0);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('reset.onResetIssued: a reset issued on the domain subscribed to', async () => {
    h = createHarness({ drivers: [resetProtocolDriver] });
    const agent = await h.create();
    const reset = agent.protocol(resetProtocolDriver);
    const got: ResetIssued[] = [];
    const off = await reset.onResetIssued((e) => void got.push(e), { source: 1 });
    await reset.reset(1);
    await reset.reset(2); // not subscribed: not sent
    await h.clock.runUntilIdle();
    expect(got).toEqual([{ agentId: 1, domainId: 1, resetState: 0 }]);
    await off();
    await agent.remove();
  });

  it('refuses, sending nothing, a handler that is not a function, bad options and a source that is not a domain', async () => {
    h = createHarness({ drivers: [clockProtocolDriver, resetProtocolDriver] });
    const agent = await h.create();
    const clock = agent.protocol(clockProtocolDriver);
    const requests = h.platform.counters.requests;
    const refusal = (p: Promise<unknown>): Promise<unknown> => p.catch((e: unknown) => e);
    expect(await refusal(clock.onRateChanged(null as never))).toMatchObject({
      code: 'E_ARGUMENT',
      message: 'onRateChanged: the handler must be a function, not null',
    });
    expect(
      await refusal(clock.onRateChanged(() => undefined, { sorce: 1 } as never)),
    ).toMatchObject({
      code: 'E_ARGUMENT',
      message: expect.stringContaining(
        'subscribe: unknown option "sorce" (expected one of source, signal)',
      ) as unknown,
    });
    expect(await refusal(clock.onRateChanged(() => undefined, 5 as never))).toBeInstanceOf(
      ScmiError,
    );
    expect(await refusal(clock.onRateChanged(() => undefined, null as never))).toMatchObject({
      code: 'E_ARGUMENT',
    });
    // A signal given for { signal }: refused with the hint, not taken for "no options" (which
    // would subscribe every clock, for good).
    expect(
      await refusal(clock.onRateChanged(() => undefined, new AbortController().signal as never)),
    ).toMatchObject({
      code: 'E_ARGUMENT',
      message: expect.stringContaining(
        '(to give the subscription a signal, pass { signal })',
      ) as unknown,
    });
    expect(await refusal(clock.onRateChanged(() => undefined, { source: 99 }))).toMatchObject({
      code: 'E_ARGUMENT',
    });
    // A signal that fired already: its reason, nothing sent.
    const reason = new Error('not now');
    expect(
      await refusal(clock.onRateChanged(() => undefined, { signal: AbortSignal.abort(reason) })),
    ).toBe(reason);
    expect(h.platform.counters.requests).toBe(requests);
    // A view subscribes as its client does.
    const off = await clock.withCallOptions({ timeoutMs: 100 }).onRateChanged(() => undefined, {
      source: 0,
    });
    expect(h.platform.subscriptions(1)).toHaveLength(1);
    await off();
    await agent.remove();
    // Once removed: RevokedError.
    expect(await refusal(clock.onRateChanged(() => undefined))).toBeInstanceOf(RevokedError);
  });

  it('agent.events.waitFor: the next CLOCK_RATE_CHANGED, end to end, and a bound that ends the wait', async () => {
    h = createHarness({ drivers: [clockProtocolDriver] });
    const agent = await h.create();
    const clock = agent.protocol(clockProtocolDriver);
    const filter = { protocolId: 0x14, eventId: CLOCK_RATE_CHANGED, source: 1 };
    const changed = await agent.events.waitFor(filter, { timeoutMs: 100 });
    await clock.setRate(1, 48n * BigInt(MHZ), { async: false });
    expect(decodeClockRateChanged((await changed.notification).payload)).toEqual({
      agentId: 1,
      clockId: 1,
      rate: 48_000_000n,
    });
    await h.clock.runUntilIdle();
    expect(h.platform.subscriptions(1)).toEqual([]); // left once it came
    // Nothing changes: the wait ends at its bound, on the agent's (virtual) clock.
    const idle = await agent.events.waitFor(filter, { timeoutMs: 20 });
    await expect(idle.notification).rejects.toMatchObject({ code: 'E_EVENT_TIMEOUT' });
    // A wait under way when the agent is removed ends with E_SHUTDOWN.
    const waiting = await agent.events.waitFor({ protocolId: 0x14, eventId: CLOCK_RATE_CHANGED });
    const outcome = waiting.notification.catch((e: unknown) => e);
    await agent.remove();
    expect(await outcome).toMatchObject({ code: 'E_SHUTDOWN' });
    expect(
      await agent.events
        .waitFor({ protocolId: 0x14, eventId: CLOCK_RATE_CHANGED })
        .catch((e: unknown) => e),
    ).toBeInstanceOf(RevokedError);
  });
});
