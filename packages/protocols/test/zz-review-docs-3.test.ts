import { ScmiTransportError } from '@scmi-ts/core';
import {
  PROTOCOL_DRIVERS,
  POWER_STATE_ON,
  SystemPowerState,
  clockProtocolDriver,
  performanceProtocolDriver,
  powerProtocolDriver,
  powerState,
  parsePowerState,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
} from '../src/index.js';
import { createHarness, type Harness } from './support/harness.js';

describe('review 3', () => {
  let h: Harness | undefined;
  afterEach(() => {
    h?.close();
    h = undefined;
  });

  it('F: async: true without a P2A channel is not sent (ScmiTransportError), though the option docs say it is', async () => {
    h = createHarness({ drivers: PROTOCOL_DRIVERS, wire: { a2p: [0], p2a: [] } });
    const agent = await h.create();
    const reqs = h.platform.counters.requests;
    const e1 = await agent.protocol(resetProtocolDriver).reset(1, { async: true }).catch((e: unknown) => e);
    expect(ScmiTransportError.is(e1)).toBe(true);
    expect((e1 as ScmiTransportError).code).toBe('E_NOT_SUPPORTED');
    const e2 = await agent.protocol(sensorProtocolDriver).read(1, { async: true }).catch((e: unknown) => e);
    expect(ScmiTransportError.is(e2)).toBe(true);
    expect(h.platform.counters.requests).toBe(reqs);
    await agent.remove();
  });

  it('the class examples run against the default platform', async () => {
    h = createHarness({ drivers: PROTOCOL_DRIVERS });
    const agent = await h.create();
    const perf = agent.protocol(performanceProtocolDriver);
    await perf.setLimits(0, 1_200_000, 400_000);
    await perf.setLevel(0, 800_000);
    expect(await perf.getFrequency(0)).toBe(800_000_000);
    const power = agent.protocol(powerProtocolDriver);
    await power.setState(2, powerState(1, true));
    const gpu = power.domains.list.find((d) => d.name === 'gpu');
    await power.setState(gpu!.id, POWER_STATE_ON);
    parsePowerState(await power.getState(gpu!.id));
    const clock = agent.protocol(clockProtocolDriver);
    const uart = clock.domains.list.find((c) => c.name === 'uart')!;
    await clock.setRate(uart.id, 48_000_000n);
    await clock.disable(uart.id);
    const sensor = agent.protocol(sensorProtocolDriver);
    const temp = sensor.domains.list.find((s) => s.name === 'soc-temp')!;
    await sensor.readValue(temp.id);
    await sensor.setTripPoint(temp.id, 0, 60_000n);
    const reset = agent.protocol(resetProtocolDriver);
    await reset.reset(0);
    await reset.assert(1);
    await reset.deassert(1);
    const system = agent.protocol(systemPowerProtocolDriver);
    const support = await system.stateSetSupport();
    console.log('system support', support, await system.getState());
    const r = await system.setState(SystemPowerState.WARM_RESET, { graceful: true }).then(() => 'ok', (e: unknown) => String(e));
    console.log('warm reset graceful:', r);
    await agent.remove();
  });
});
