/* Every @example and the README's first example, pasted verbatim into functions (never run), so
 * that `tsc -p packages/protocols/tsconfig.test.json` type-checks them. */
import { Container, ContainerModule } from 'inversify';
import {
  PROTOCOL_DRIVER,
  coreModule,
  createAgent,
  type AgentOptions,
  type ScmiAgent,
} from '@scmi-ts/core';
import { mailboxTransportModule, type SameThreadMailboxWire } from '@scmi-ts/mailbox-transport';
import {
  CLOCK_RATE_CHANGED,
  CLOCK_RATE_CHANGE_REQUESTED,
  ClockMessageId,
  PERFORMANCE_LEVEL_CHANGED,
  PERFORMANCE_LIMITS_CHANGED,
  POWER_STATE_CHANGED,
  POWER_STATE_OFF,
  POWER_STATE_ON,
  PROTOCOL_DRIVERS,
  PerformanceMessageId,
  PowerMessageId,
  RESET_ISSUED,
  ResetMessageId,
  SENSOR_TRIP_POINT_EVENT,
  SENSOR_UPDATE,
  SYSTEM_POWER_STATE_NOTIFIER,
  SensorMessageId,
  SystemPowerMessageId,
  SystemPowerState,
  clockProtocolDriver,
  decodeClockRateChangeRequested,
  decodeClockRateChanged,
  decodePerformanceLevelChanged,
  decodePerformanceLimitsChanged,
  decodePowerStateNotification,
  decodeResetIssued,
  decodeSensorTripPointEvent,
  decodeSensorUpdate,
  decodeSystemPowerStateNotifier,
  parsePowerState,
  performanceProtocolDriver,
  powerProtocolDriver,
  powerState,
  protocolsModule,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
} from '../src/index.js';

declare const wire: SameThreadMailboxWire['wire'];
declare const options: AgentOptions;
declare function shutDownWithin(ms: number): void;

export async function readme(): Promise<void> {
  const container = new Container();
  container.load(coreModule, mailboxTransportModule, protocolsModule);
  const agent = await createAgent(container, { transport: 'mailbox', transportConfig: { wire } });

  const reset = agent.protocol(resetProtocolDriver);
  for (const d of reset.domains.list) console.log(d.id, d.name, d.latencyUs);
  await reset.reset(0);
  await agent.remove();
}

export async function examples(agent: ScmiAgent, container: Container): Promise<void> {
  {
    const reset = agent.protocol(resetProtocolDriver);
    for (const d of reset.domains.list) console.log(d.id, d.name);
    for (const [id, error] of reset.domains.failures) console.warn(`domain ${id}:`, error);
  }
  for (const d of PROTOCOL_DRIVERS) console.log(d.protocolId.toString(16), d.name);
  {
    container.load(coreModule, mailboxTransportModule, protocolsModule);
    const agent = await createAgent(container, { transport: 'mailbox', transportConfig: { wire } });
    await agent.protocol(resetProtocolDriver).reset(0);
  }
  await agent.transact(0x16, ResetMessageId.RESET, (w) => w.u32(0).u32(1).u32(0));
  await agent.events.subscribe({ protocolId: 0x16, eventId: RESET_ISSUED, source: 0 }, (n) => {
    const { agentId, domainId } = decodeResetIssued(n.payload);
    console.log(`agent ${agentId} reset domain ${domainId}`);
  });
  {
    const reset = agent.protocol(resetProtocolDriver);
    const gpu = reset.domains.list.find((d) => d.name === 'gpu');
    if (gpu !== undefined) await reset.reset(gpu.id);
    await reset.assert(1);
    await reset.deassert(1);
  }
  {
    container.load(new ContainerModule(({ bind }) => {
      bind(PROTOCOL_DRIVER).toConstantValue(resetProtocolDriver);
    }));
    const agent = await createAgent(container, options);
    await agent.protocol(resetProtocolDriver).reset(0);
  }
  // power
  const power = agent.protocol(powerProtocolDriver);
  await power.setState(2, powerState(1, true));
  {
    const { contextLost, stateId } = parsePowerState(await power.getState(1));
    console.log(contextLost && stateId === 0 ? 'off' : `state ${stateId}`);
  }
  await agent.transact(0x11, PowerMessageId.STATE_GET, (w) => w.u32(7));
  await agent.events.subscribe({ protocolId: 0x11, eventId: POWER_STATE_CHANGED, source: 2 }, (n) => {
    const { agentId, powerState } = decodePowerStateNotification(n.payload);
    console.log(`agent ${agentId} moved domain 2 to 0x${powerState.toString(16)}`);
  });
  {
    const power = agent.protocol(powerProtocolDriver);
    const gpu = power.domains.list.find((d) => d.name === 'gpu');
    if (gpu !== undefined) {
      await power.setState(gpu.id, POWER_STATE_ON);
      console.log(parsePowerState(await power.getState(gpu.id)));
    }
  }
  {
    const agent = await createAgent(container, options);
    await agent.protocol(powerProtocolDriver).setState(1, POWER_STATE_OFF);
  }
  // system power
  {
    const system = agent.protocol(systemPowerProtocolDriver);
    await agent.transact(0x12, SystemPowerMessageId.STATE_SET, (w) => w.u32(2).u32(0));
    await system.setState(SystemPowerState.WARM_RESET, { graceful: true });
    await agent.events.subscribe({ protocolId: 0x12, eventId: SYSTEM_POWER_STATE_NOTIFIER }, (n) => {
      const { systemState, graceful, timeoutMs } = decodeSystemPowerStateNotifier(n.payload);
      if (systemState === SystemPowerState.SHUTDOWN && graceful) shutDownWithin(timeoutMs);
    });
    if ((await system.stateSetSupport()).warmReset) {
      await system.setState(SystemPowerState.WARM_RESET, { graceful: true });
    }
    console.log(await system.getState());
    console.log(await agent.protocol(systemPowerProtocolDriver).getState());
  }
  // performance
  await agent.transact(0x13, PerformanceMessageId.LEVEL_SET, (w) => w.u32(0).u32(800_000));
  await agent.events.subscribe({ protocolId: 0x13, eventId: PERFORMANCE_LIMITS_CHANGED, source: 0 }, (n) => {
    const { rangeMin, rangeMax } = decodePerformanceLimitsChanged(n.payload);
    console.log(`domain 0 now runs from ${rangeMin} to ${rangeMax}`);
  });
  await agent.events.subscribe({ protocolId: 0x13, eventId: PERFORMANCE_LEVEL_CHANGED }, (n) => {
    const { domainId, level } = decodePerformanceLevelChanged(n.payload);
    console.log(`domain ${domainId} at level ${level}`);
  });
  {
    const perf = agent.protocol(performanceProtocolDriver);
    const cpu = perf.domains.info(0);
    console.log(cpu.name, cpu.levels.map((l) => l.value));
    await perf.setLimits(0, 1_200_000, 400_000);
    await perf.setLevel(0, 800_000);
    console.log(await perf.getFrequency(0));
    await agent.protocol(performanceProtocolDriver).setLevel(0, 800_000);
  }
  // clock
  await agent.transact(0x14, ClockMessageId.RATE_GET, (w) => w.u32(0));
  await agent.events.subscribe({ protocolId: 0x14, eventId: CLOCK_RATE_CHANGED, source: 1 }, (n) => {
    const { clockId, rate } = decodeClockRateChanged(n.payload);
    console.log(`clock ${clockId} now runs at ${rate} Hz`);
  });
  await agent.events.subscribe({ protocolId: 0x14, eventId: CLOCK_RATE_CHANGE_REQUESTED }, (n) => {
    const { agentId, clockId, rate } = decodeClockRateChangeRequested(n.payload);
    console.log(`agent ${agentId} asks ${rate} Hz of clock ${clockId}`);
  });
  {
    const clock = agent.protocol(clockProtocolDriver);
    const uart = clock.domains.list.find((c) => c.name === 'uart');
    if (uart !== undefined) {
      await clock.setRate(uart.id, 48_000_000n);
      console.log(await clock.getRate(uart.id));
      await clock.disable(uart.id);
    }
    console.log(await agent.protocol(clockProtocolDriver).getRate(0));
  }
  // sensor
  await agent.transact(0x15, SensorMessageId.READING_GET, (w) => w.u32(0).u32(0));
  await agent.events.subscribe({ protocolId: 0x15, eventId: SENSOR_TRIP_POINT_EVENT, source: 0 }, (n) => {
    const e = decodeSensorTripPointEvent(n.payload);
    console.log(`sensor ${e.sensorId} trip ${e.tripPointId} ${e.ascending ? 'up' : 'down'}`);
  });
  await agent.events.subscribe({ protocolId: 0x15, eventId: SENSOR_UPDATE, source: 3 }, (n) => {
    const { readings } = decodeSensorUpdate(n.payload);
    console.log(readings.map((x) => x.value));
  });
  {
    const sensor = agent.protocol(sensorProtocolDriver);
    const temp = sensor.domains.list.find((s) => s.name === 'soc-temp');
    if (temp !== undefined) {
      const value = await sensor.readValue(temp.id);
      console.log(`${value} × 10^${temp.unitExponent}`);
      await sensor.setTripPoint(temp.id, 0, 60_000n);
    }
    const [reading] = await agent.protocol(sensorProtocolDriver).read(0);
    console.log(reading);
  }
}

it('compiles (type-checked by tsc)', () => {
  expect(typeof examples).toBe('function');
});
