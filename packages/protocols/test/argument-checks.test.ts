import { ScmiError } from '@scmi-ts/core';
import {
  ClockMessageId,
  SensorMessageId,
  POWER_STATE_ON,
  SystemPowerState,
  clockProtocolDriver,
  performanceProtocolDriver,
  powerProtocolDriver,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
  type ClockProtocol,
  type PerformanceProtocol,
  type PowerProtocol,
  type ResetProtocol,
  type SensorProtocol,
  type SystemPowerProtocol,
} from '../src/index.js';
import { spyRequests } from './support/spy-requests.js';
import { createHarness, type Harness } from './support/harness.js';

/** What a JavaScript caller may pass where the types say otherwise. */
const loose = (value: unknown): never => value as never;

/** The error `call` rejects with; fails when it throws synchronously or resolves. */
async function rejection(call: () => Promise<unknown>): Promise<unknown> {
  let pending: Promise<unknown> | undefined;
  expect(() => {
    pending = call();
  }).not.toThrow();
  return (pending as Promise<unknown>).then(
    () => {
      throw new Error('resolved');
    },
    (error: unknown) => error,
  );
}

describe("the protocol clients' argument checks", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(): Promise<{
    h: Harness;
    clock: ClockProtocol;
    sensor: SensorProtocol;
    power: PowerProtocol;
    reset: ResetProtocol;
    system: SystemPowerProtocol;
    perf: PerformanceProtocol;
  }> {
    const harness = createHarness({
      drivers: [
        clockProtocolDriver,
        sensorProtocolDriver,
        powerProtocolDriver,
        resetProtocolDriver,
        systemPowerProtocolDriver,
        performanceProtocolDriver,
      ],
    });
    h = harness;
    const agent = await harness.create();
    return {
      h: harness,
      clock: agent.protocol(clockProtocolDriver),
      sensor: agent.protocol(sensorProtocolDriver),
      power: agent.protocol(powerProtocolDriver),
      reset: agent.protocol(resetProtocolDriver),
      system: agent.protocol(systemPowerProtocolDriver),
      perf: agent.protocol(performanceProtocolDriver),
    };
  }

  it("refuses a clock setConfig `enabled` that is not a boolean, sending nothing (a truthy 'false' enabled the clock)", async () => {
    const { h: harness, clock } = await probe();
    const sets = spyRequests(harness, 0x14, ClockMessageId.CONFIG_SET);
    await clock.disable(1);
    expect(sets).toHaveLength(1);
    for (const enabled of ['false', 0, 1, null]) {
      const e = await rejection(() => clock.setConfig(1, { enabled: loose(enabled) }));
      expect(e).toBeInstanceOf(ScmiError);
      expect(e).toMatchObject({
        code: 'E_ARGUMENT',
        message: expect.stringMatching(/^enabled /) as unknown,
      });
    }
    expect(sets).toHaveLength(1);
    expect(await clock.isEnabled(1)).toBe(false);
    // A boolean still goes out: state 0 (off) or 1 (on).
    await clock.setConfig(1, { enabled: false });
    await clock.setConfig(1, { enabled: true });
    expect(sets.slice(1).map((words) => words[1])).toEqual([0, 1]);
  });

  it('rejects a null options object with a typed error naming it (not a TypeError), sending nothing', async () => {
    const { h: harness, clock, sensor, power, reset, system } = await probe();
    const requests = harness.platform.counters.requests;
    for (const [call, name] of [
      [() => clock.setRate(1, 24_000_000n, loose(null)), 'clock setRate options'],
      [() => clock.setConfig(1, loose(null)), 'clock setConfig config'],
      [() => sensor.read(0, loose(null)), 'sensor read options'],
      [() => sensor.readValue(0, loose(null)), 'sensor read options'],
      [() => power.setState(0, POWER_STATE_ON, loose(null)), 'power setState options'],
      [() => reset.reset(0, loose(null)), 'reset options'],
      [
        () => system.setState(SystemPowerState.SHUTDOWN, loose(null)),
        'system power setState options',
      ],
      [() => clock.setRate(1, 24_000_000n, loose(7)), 'clock setRate options'],
      [() => reset.reset(0, loose([])), 'reset options'],
    ] as const) {
      const e = await rejection(call);
      expect(e).toBeInstanceOf(ScmiError);
      expect(e).toMatchObject({
        code: 'E_ARGUMENT',
        message: expect.stringMatching(new RegExp(`^${name} must be an object, got `)) as unknown,
      });
    }
    expect(harness.platform.counters.requests).toBe(requests);
  });

  it('refuses an unknown key in an options or settings object, naming it and the expected ones, sending nothing', async () => {
    const { h: harness, clock, sensor, power, reset, system } = await probe();
    const requests = harness.platform.counters.requests;
    for (const [call, message] of [
      [
        () => clock.setRate(1, 24_000_000n, loose({ bogus: 1 })),
        'clock setRate options: unknown option "bogus" (expected one of round, async, delayedResponse)',
      ],
      [
        () => clock.setRate(1, 24_000_000n, loose({ asnyc: true })),
        'clock setRate options: unknown option "asnyc" (expected one of round, async, delayedResponse)',
      ],
      [
        () => clock.setConfig(1, loose({ enable: false })),
        'clock setConfig config: unknown option "enable" (expected one of enabled, oemType, oemValue)',
      ],
      [
        () => sensor.read(0, loose({ asnyc: false })),
        'sensor read options: unknown option "asnyc" (expected one of async)',
      ],
      [
        () => sensor.configSet(0, loose({ enabled: true, timestamp: true })),
        'sensor config settings: unknown option "timestamp" (expected one of enabled, timestamps, updateInterval, round, raw)',
      ],
      [
        () => power.setState(0, POWER_STATE_ON, loose({ asnyc: true })),
        'power setState options: unknown option "asnyc" (expected one of async)',
      ],
      [
        () => reset.reset(0, loose({ state: 0 })),
        'reset options: unknown option "state" (expected one of resetState, async)',
      ],
      [
        () => system.setState(SystemPowerState.SHUTDOWN, loose({ gracefull: true })),
        'system power setState options: unknown option "gracefull" (expected one of graceful)',
      ],
    ] as const) {
      await expect(rejection(call)).resolves.toMatchObject({ code: 'E_ARGUMENT', message });
    }
    expect(harness.platform.counters.requests).toBe(requests);
    // Every known key is taken, one given as undefined too (its own check is the option's).
    await clock.setRate(1, 24_000_000n, {
      round: 'down',
      async: false,
      delayedResponse: loose(undefined),
    });
  });

  it('takes a sensor configuration read with configGet back into configSet, its raw word ignored', async () => {
    const { h: harness, sensor } = await probe();
    const sets = spyRequests(harness, 0x15, SensorMessageId.CONFIG_SET);
    const state = await sensor.configGet(0);
    await sensor.configSet(0, { ...state, enabled: false, raw: 0xffffffff });
    expect(await sensor.configGet(0)).toMatchObject({ enabled: false });
    // The fields went out, not the raw word given.
    expect(sets.map((words) => words[1])).toEqual([state.raw & ~1]);
  });

  it('describes a value that cannot be made a string (an object without a prototype) instead of throwing a TypeError', async () => {
    const { h: harness, clock, sensor } = await probe();
    const requests = harness.platform.counters.requests;
    const bare = Object.create(null) as unknown;
    for (const call of [
      () => sensor.setTripPoint(0, 0, 0n, loose(bare)),
      () => sensor.configSet(0, { enabled: true, round: loose(bare) }),
      () => clock.setParent(1, loose(bare)),
    ]) {
      const e = await rejection(call);
      expect(e).toBeInstanceOf(ScmiError);
      expect(e).toMatchObject({
        code: 'E_ARGUMENT',
        message: expect.stringMatching(/\{\}/) as unknown,
      });
    }
    expect(harness.platform.counters.requests).toBe(requests);
  });

  it('says which type it expected and which it got for an argument of the wrong type, keeping the range message for a number out of range', async () => {
    const { h: harness, clock, perf, sensor } = await probe();
    const requests = harness.platform.counters.requests;
    for (const [call, message] of [
      [() => clock.getRate(loose(1n)), 'clock id must be a number, got bigint 1n'],
      [() => clock.getRate(loose('1')), 'clock id must be a number, got string "1"'],
      [() => clock.getRate(loose(null)), 'clock id must be a number, got null'],
      [
        () => perf.setLevel(0, loose(800_000n)),
        'performance level must be a number, got bigint 800000n',
      ],
      [
        () => clock.setRate(1, loose('24000000')),
        'clock rate must be a bigint or a number, got string "24000000"',
      ],
      [
        () => clock.setConfig(1, { oemType: 1, oemValue: loose(5n) }),
        'OEM configuration value must be a number, got bigint 5n',
      ],
      [
        () => sensor.configSet(0, loose(null)),
        'sensor config must be a number or settings, got null',
      ],
      [
        () =>
          sensor.configSet(2, { enabled: true, updateInterval: { secs: 1, exponent: loose(-1n) } }),
        'update interval exponent must be a number, got bigint -1n',
      ],
      [() => sensor.setTripPoint(0, loose(0n), 5), 'trip point id must be a number, got bigint 0n'],
      [
        () => sensor.setTripPoint(0, 0, loose('5')),
        'trip point value must be a bigint or a number, got string "5"',
      ],
      // A number out of range keeps the range message.
      [() => clock.getRate(99), "clock 99 is not one of the platform's 4 (0 to 3)"],
      [() => perf.setLevel(0, -1), 'performance level -1 is not an integer from 0 to 0xFFFFFFFF'],
      [
        () => clock.setRate(1, -1n),
        'clock rate -1n is not a whole number from 0 to 2^64 - 1 (a bigint, or a safe integer)',
      ],
    ] as const) {
      await expect(rejection(call)).resolves.toMatchObject({ code: 'E_ARGUMENT', message });
    }
    expect(harness.platform.counters.requests).toBe(requests);
    // A clock rate is a bigint by its type: taken.
    await expect(clock.setRate(1, 24_000_000n, { async: false })).resolves.toMatchObject({
      async: false,
    });
  });

  it("points a clock rounding of 'nearest' at 'auto', the client's name for flags bit 3", async () => {
    const { clock } = await probe();
    await expect(
      rejection(() => clock.setRate(1, 24_000_000n, { round: loose('nearest') })),
    ).resolves.toMatchObject({
      code: 'E_ARGUMENT',
      message:
        "clock rate rounding 'nearest' is not 'down', 'up' or 'auto' ('auto', flags bit 3, rounds to the nearest)",
    });
  });

  it('says the platform does not list Clock for an agent it is not allowed to, though its driver is bound', async () => {
    h = createHarness({ drivers: [clockProtocolDriver], agentId: 2 });
    const agent = await h.create();
    expect(agent.protocolIds).toEqual([]);
    expect(() => agent.protocol(clockProtocolDriver)).toThrow(
      'scmi0: protocol clock is not listed by the platform for this agent (agent.info.protocols: power, system, perf), so no driver was initialized for it',
    );
  });
});
