/**
 * Behaviours a review of the suite found unguarded (each mutation of them left every other test
 * green): what goes on the wire for trip points, reset states and clock OEM values, signed
 * readings, removals during init, the notify commands each notification needs, and orderings.
 */
import { ScmiShutdownError, type ProtocolDriver, type ScmiAgent } from '@scmi-ts/core';
import {
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type FaultRule,
} from '@scmi-ts/platform';
import {
  CLOCK_RATE_CHANGE_REQUESTED,
  ClockMessageId,
  PERFORMANCE_LEVEL_CHANGED,
  POWER_STATE_CHANGE_REQUESTED,
  PerformanceMessageId,
  PowerMessageId,
  RESET_STATE_VENDOR,
  ResetMessageId,
  SENSOR_UPDATE,
  SensorMessageId,
  clockProtocolDriver,
  performanceProtocolDriver,
  powerProtocolDriver,
  resetProtocolDriver,
  sensorProtocolDriver,
  systemPowerProtocolDriver,
} from '../src/index.js';
import { spyRequests } from './support/spy-requests.js';
import { le32, le64, never } from './support/wire-bytes.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';

/**
 * `driver` with its handle's `method` for `messageId` failing with `error()` — or, for
 * `messageSupported`, answering `answer` — every other call going to the real handle.
 */
function withFailing<T>(
  driver: ProtocolDriver<T>,
  method: 'transact' | 'iterate' | 'extendedName' | 'messageSupported',
  messageId: number,
  outcome: { readonly error: () => Error } | { readonly answer: boolean },
  calls: number[] = [],
): ProtocolDriver<T> {
  return {
    ...driver,
    init: (ph, group) => {
      const xfer = new Proxy(ph.xfer, {
        get(target, key) {
          const value: unknown = Reflect.get(target, key, target);
          if (typeof value !== 'function') return value;
          const bound = (value as (...args: unknown[]) => unknown).bind(target);
          if (key !== method) return bound;
          return (...args: unknown[]) => {
            if (args[0] !== messageId) return bound(...args);
            calls.push(messageId);
            if ('answer' in outcome) return Promise.resolve(outcome.answer);
            return Promise.reject(outcome.error());
          };
        },
      });
      const handle = new Proxy(ph, {
        get(target, key) {
          if (key === 'xfer') return xfer;
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function'
            ? (value as (...args: unknown[]) => unknown).bind(target)
            : value;
        },
      });
      return driver.init(handle, group);
    },
  };
}

describe('behaviours the rest of the suite leaves unguarded', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(options: HarnessOptions): Promise<ScmiAgent> {
    h = createHarness(options);
    return h.create();
  }

  it('sends a trip point as its id in 11:4, its mode in 1:0 and its value as two’s complement', async () => {
    const agent = await probe({ drivers: [sensorProtocolDriver] });
    const sent = spyRequests(h as Harness, 0x15, SensorMessageId.TRIP_POINT_CONFIG);
    const sensor = agent.protocol(sensorProtocolDriver);
    await sensor.setTripPoint(0, 1, -1n, 'down');
    await sensor.setTripPoint(0, 0, 45_000, 'up');
    expect(sent).toEqual([
      [0, 0x12, 0xffffffff, 0xffffffff],
      [0, 0x01, 45_000, 0],
    ]);
  });

  it('reads a reading as a signed 64-bit value, at version 3.0 and in the 1.0 layout', async () => {
    for (const version of [undefined, 0x10000]) {
      const faults: FaultRule[] = [
        // Sensor 0's reading: -5 (value_low at 8, value_high at 12), both READING_GETs.
        {
          match: { protocolId: 0x15, messageId: SensorMessageId.READING_GET },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: le64(-5n) },
        },
      ];
      if (version !== undefined) {
        faults.push({
          match: { protocolId: 0x15, messageId: 0x0, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: le32(version) },
        });
      }
      const agent = await probe({ drivers: [sensorProtocolDriver], platformFaults: faults });
      const sensor = agent.protocol(sensorProtocolDriver);
      expect((await sensor.read(0, { async: false }))[0]?.value).toBe(-5n);
      expect(await sensor.readValue(0, { async: false })).toBe(-5n);
      await h?.close();
      h = undefined;
    }
  });

  it('decodes the version 1.0 update interval from attributes_high (31:27 secs, 26:22 exponent)', async () => {
    const agent = await probe({
      drivers: [sensorProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: 0x15, messageId: 0x0, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 8, bytes: le32(0x10000) },
        },
        // Sensor 0's attributes_high (descriptor at 12: id, low, high): type 2, secs 5, exponent -1.
        {
          match: { protocolId: 0x15, messageId: SensorMessageId.DESCRIPTION_GET, nth: 1 },
          action: {
            kind: 'corrupt-bytes',
            offset: 20,
            bytes: le32(((5 << 27) | (0x1f << 22) | 2) >>> 0),
          },
        },
      ],
    });
    expect(agent.protocol(sensorProtocolDriver).domains.info(0).updateIntervals).toEqual({
      segmented: false,
      intervals: [{ secs: 5, exponent: -1 }],
    });
  });

  it('sends an explicit assert or deassert with the reset state given', async () => {
    const agent = await probe({ drivers: [resetProtocolDriver] });
    const sent = spyRequests(h as Harness, 0x16, ResetMessageId.RESET);
    const reset = agent.protocol(resetProtocolDriver);
    await reset.assert(1, RESET_STATE_VENDOR | 3);
    await reset.deassert(1, RESET_STATE_VENDOR | 3);
    expect(sent).toEqual([
      [1, 2, 0x80000003],
      [1, 0, 0x80000003],
    ]);
  });

  it('reads a reset latency of 0xFFFFFFFF as unknown', async () => {
    const agent = await probe({
      drivers: [resetProtocolDriver],
      platformFaults: [
        {
          match: { protocolId: 0x16, messageId: ResetMessageId.DOMAIN_ATTRIBUTES, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 12, bytes: le32(0xffffffff) },
        },
      ],
    });
    expect(agent.protocol(resetProtocolDriver).domains.info(0).latencyUs).toBeUndefined();
  });

  it('sends a clock OEM value only with an OEM type', async () => {
    const agent = await probe({ drivers: [clockProtocolDriver] });
    const sent = spyRequests(h as Harness, 0x14, ClockMessageId.CONFIG_SET);
    const clock = agent.protocol(clockProtocolDriver);
    await clock.setConfig(1, { enabled: true, oemValue: 7 });
    await clock.setConfig(1, { enabled: true, oemType: 2, oemValue: 7 }).catch(() => undefined);
    expect(sent).toEqual([
      [1, 1, 0],
      [1, 1 | (2 << 16), 7],
    ]);
  });

  it('sorts performance levels numerically, values 2^31 apart included', async () => {
    const agent = await probe({
      drivers: [performanceProtocolDriver],
      platformFaults: [
        // cpu-cluster0's first level (at 12: after the header, status and counts) made 0x90000000,
        // more than 2^31 above the others: an int difference (Linux's cmp) orders it first.
        {
          match: { protocolId: 0x13, messageId: PerformanceMessageId.DESCRIBE_LEVELS, nth: 1 },
          action: { kind: 'corrupt-bytes', offset: 12, bytes: le32(0x90000000) },
        },
      ],
    });
    expect(
      agent
        .protocol(performanceProtocolDriver)
        .domains.info(0)
        .levels.map((l) => l.value),
    ).toEqual([800_000, 1_200_000, 1_800_000, 0x90000000]);
  });

  it('reads warm reset and suspend support from their own bits', async () => {
    const answers = [0x80000000, 0x40000000, 0];
    for (const word of answers) {
      const agent = await probe({
        drivers: [systemPowerProtocolDriver],
        platformFaults: [
          {
            // The second PROTOCOL_MESSAGE_ATTRIBUTES: the first is init's, for STATE_NOTIFY.
            match: { protocolId: 0x12, messageId: 0x2, nth: 2 },
            action: { kind: 'corrupt-bytes', offset: 8, bytes: le32(word) },
          },
        ],
      });
      expect(await agent.protocol(systemPowerProtocolDriver).stateSetSupport()).toEqual({
        warmReset: (word & 0x80000000) !== 0,
        suspend: (word & 0x40000000) !== 0,
        attributes: word,
      });
      await h?.close();
      h = undefined;
    }
  });

  it.each([
    ['a domain description', resetProtocolDriver, 'transact', ResetMessageId.DOMAIN_ATTRIBUTES],
    ['an extended name', powerProtocolDriver, 'extendedName', PowerMessageId.DOMAIN_NAME_GET],
    ['a notify command check', clockProtocolDriver, 'messageSupported', ClockMessageId.RATE_NOTIFY],
    ['a level walk', performanceProtocolDriver, 'iterate', PerformanceMessageId.DESCRIBE_LEVELS],
  ] as const)(
    'ends the init at a removal during %s: the driver fails with it, nothing else is asked',
    async (_what, driver, method, messageId) => {
      const calls: number[] = [];
      const removal = new ScmiShutdownError('scmi0');
      const failing = withFailing(
        driver as ProtocolDriver,
        method,
        messageId,
        { error: () => removal },
        calls,
      );
      const config = createDefaultPlatformConfig();
      const agent = await probe({
        drivers: [failing],
        // Long power domain names: each has an extended name to ask for.
        platformConfig: validatePlatformConfig({
          ...config,
          devices: [],
          powerDomains: [{ name: 'a-power-domain-name-0' }, { name: 'a-power-domain-name-1' }],
        }),
      });
      expect(agent.protocolErrors.get(driver.protocolId)).toBe(removal);
      expect(calls).toEqual([messageId]);
    },
  );

  it.each([
    [
      'POWER_STATE_CHANGE_REQUESTED',
      powerProtocolDriver,
      PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY,
      POWER_STATE_CHANGE_REQUESTED,
    ],
    [
      'PERFORMANCE_LEVEL_CHANGED',
      performanceProtocolDriver,
      PerformanceMessageId.NOTIFY_LEVEL,
      PERFORMANCE_LEVEL_CHANGED,
    ],
    [
      'CLOCK_RATE_CHANGE_REQUESTED',
      clockProtocolDriver,
      ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY,
      CLOCK_RATE_CHANGE_REQUESTED,
    ],
    [
      'SENSOR_UPDATE',
      sensorProtocolDriver,
      SensorMessageId.CONTINUOUS_UPDATE_NOTIFY,
      SENSOR_UPDATE,
    ],
  ] as const)(
    '%s counts as announced only when its notify command exists',
    async (_name, driver, notifyId, eventId) => {
      const agent = await probe({
        drivers: [
          withFailing(driver as ProtocolDriver, 'messageSupported', notifyId, {
            answer: false,
          }),
        ],
      });
      const requests = (h as Harness).platform.counters.requests;
      for (const source of [0, undefined]) {
        await expect(
          agent.events.subscribe(
            { protocolId: driver.protocolId, eventId, ...(source === undefined ? {} : { source }) },
            never,
          ),
        ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
      }
      expect((h as Harness).platform.counters.requests).toBe(requests);
    },
  );
});
