import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  BaseMessageId,
  ClockMessageId,
  ClockNotificationId,
  PerformanceMessageId,
  PerformanceNotificationId,
  PowerMessageId,
  PowerNotificationId,
  ResetMessageId,
  ResetNotificationId,
  SensorMessageId,
  SensorNotificationId,
  createDefaultPlatformConfig,
  type PlatformConfig,
} from '@scmi-ts/platform';
import { Harness, defined } from './support/harness';

const BASE = ScmiProtocolId.BASE;
const POWER = ScmiProtocolId.POWER;
const PERF = ScmiProtocolId.PERF;
const CLOCK = ScmiProtocolId.CLOCK;
const SENSOR = ScmiProtocolId.SENSOR;
const RESET = ScmiProtocolId.RESET;
const MHZ = 1_000_000;
const OFF = 0x40000000;

/**
 * Devices of {@link config}: 0 cpu, 1 gpu (power 1, performance 1, clock 2, reset 0), then the
 * default's others (2 uart, 3 sdmmc), 4 sensors.
 */
const CPU = 0;
const GPU = 1;
const SENSORS = 4;

/**
 * The default SoC with agent 2 trusted and allowed everything (it changes the state agent 1 is
 * told about), and a fifth device grouping sensors 0 (trip points) and 2 (trip point, updates).
 */
function config(): PlatformConfig {
  const base = createDefaultPlatformConfig();
  return {
    ...base,
    agents: [
      defined(base.agents[0]),
      {
        id: 2,
        name: 'PSCI',
        protocols: ['power', 'system-power', 'performance', 'clock', 'sensor', 'reset'],
        trusted: true,
      },
    ],
    devices: [...(base.devices ?? []), { name: 'sensors', domains: { sensor: [0, 2] } }],
  };
}

/** One notification of one protocol: how agent 1 subscribes, how it is set off. */
interface Case {
  readonly name: string;
  readonly device: number;
  readonly protocolId: number;
  readonly notificationId: number;
  readonly domainId: number;
  /** Agent 1's subscription (and any set-up, e.g. a trip point): each status must be SUCCESS. */
  readonly subscribe: (h: Harness) => number[];
  /** Makes the platform send the notification (agent 2's commands, or time passing). */
  readonly trigger: (h: Harness, round: number) => Promise<void>;
}

const byAgent2 =
  (protocolId: number, messageId: number, payload: (round: number) => number[]) =>
  (h: Harness, round: number): Promise<void> => {
    expect(h.call(protocolId, messageId, payload(round), 2).status).toBe(ScmiStatus.SUCCESS);
    return Promise.resolve();
  };

const CASES: readonly Case[] = [
  {
    name: 'POWER_STATE_CHANGED',
    device: GPU,
    protocolId: POWER,
    notificationId: PowerNotificationId.STATE_CHANGED,
    domainId: 1,
    subscribe: (h) => [h.call(POWER, PowerMessageId.STATE_NOTIFY, [1, 1]).status],
    trigger: byAgent2(POWER, PowerMessageId.STATE_SET, (r) => [0, 1, r % 2 === 0 ? 0 : OFF]),
  },
  {
    name: 'POWER_STATE_CHANGE_REQUESTED',
    device: GPU,
    protocolId: POWER,
    notificationId: PowerNotificationId.STATE_CHANGE_REQUESTED,
    domainId: 1,
    subscribe: (h) => [h.call(POWER, PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY, [1, 1]).status],
    trigger: byAgent2(POWER, PowerMessageId.STATE_SET, (r) => [0, 1, r % 2 === 0 ? 0 : OFF]),
  },
  {
    name: 'PERFORMANCE_LIMITS_CHANGED',
    device: GPU,
    protocolId: PERF,
    notificationId: PerformanceNotificationId.LIMITS_CHANGED,
    domainId: 1,
    subscribe: (h) => [h.call(PERF, PerformanceMessageId.NOTIFY_LIMITS, [1, 1]).status],
    trigger: byAgent2(PERF, PerformanceMessageId.LIMITS_SET, (r) => [
      1,
      r % 2 === 0 ? 400 : 600,
      200,
    ]),
  },
  {
    name: 'PERFORMANCE_LEVEL_CHANGED',
    device: GPU,
    protocolId: PERF,
    notificationId: PerformanceNotificationId.LEVEL_CHANGED,
    domainId: 1,
    subscribe: (h) => [h.call(PERF, PerformanceMessageId.NOTIFY_LEVEL, [1, 1]).status],
    trigger: byAgent2(PERF, PerformanceMessageId.LEVEL_SET, (r) => [1, r % 2 === 0 ? 400 : 200]),
  },
  {
    name: 'CLOCK_RATE_CHANGED',
    device: GPU,
    protocolId: CLOCK,
    notificationId: ClockNotificationId.RATE_CHANGED,
    domainId: 2,
    subscribe: (h) => [h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [2, 1]).status],
    trigger: byAgent2(CLOCK, ClockMessageId.RATE_SET, (r) => [
      0,
      2,
      (r % 2 === 0 ? 400 : 200) * MHZ,
      0,
    ]),
  },
  {
    name: 'CLOCK_RATE_CHANGE_REQUESTED',
    device: GPU,
    protocolId: CLOCK,
    notificationId: ClockNotificationId.RATE_CHANGE_REQUESTED,
    domainId: 2,
    subscribe: (h) => [h.call(CLOCK, ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY, [2, 1]).status],
    trigger: byAgent2(CLOCK, ClockMessageId.RATE_SET, (r) => [
      0,
      2,
      (r % 2 === 0 ? 400 : 200) * MHZ,
      0,
    ]),
  },
  {
    name: 'RESET_ISSUED',
    device: GPU,
    protocolId: RESET,
    notificationId: ResetNotificationId.ISSUED,
    domainId: 0,
    subscribe: (h) => [h.call(RESET, ResetMessageId.NOTIFY, [0, 1]).status],
    trigger: byAgent2(RESET, ResetMessageId.RESET, () => [0, 0, 0]),
  },
  {
    name: 'SENSOR_TRIP_POINT_EVENT',
    device: SENSORS,
    protocolId: SENSOR,
    notificationId: SensorNotificationId.TRIP_POINT_EVENT,
    domainId: 2,
    // gpu-current ramps 100 → 3000 every 5 s: an ascending crossing of 1000 each period.
    subscribe: (h) => [
      h.call(SENSOR, SensorMessageId.TRIP_POINT_CONFIG, [2, 1, 1000, 0]).status,
      h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 1]).status,
    ],
    trigger: (h) => h.clock.advance(5000),
  },
  {
    name: 'SENSOR_UPDATE',
    device: SENSORS,
    protocolId: SENSOR,
    notificationId: SensorNotificationId.UPDATE,
    domainId: 2,
    subscribe: (h) => [h.call(SENSOR, SensorMessageId.CONTINUOUS_UPDATE_NOTIFY, [2, 1]).status],
    trigger: (h) => h.clock.advance(500), // the sensor's update interval
  },
];

/** Denies (allow false) or allows `device` to agent 1, as agent 2, with either Base command. */
type Change = (h: Harness, c: Case, allow: boolean) => void;

const CHANGES: readonly [string, Change][] = [
  [
    'BASE_SET_DEVICE_PERMISSIONS',
    (h, c, allow) => {
      const flags = allow ? 1 : 0;
      const a = h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, c.device, flags], 2);
      expect(a.status).toBe(ScmiStatus.SUCCESS);
    },
  ],
  [
    'BASE_SET_PROTOCOL_PERMISSIONS',
    (h, c, allow) => {
      const payload = [1, c.device, c.protocolId, allow ? 1 : 0];
      const a = h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, payload, 2);
      expect(a.status).toBe(ScmiStatus.SUCCESS);
    },
  ],
];

describe('notifications and permissions', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness(config(), { behaviour: { sensorPollMs: 10 } });
    h.connect(1);
    h.connect(2);
  });
  afterEach(() => {
    h.close();
  });

  /** How many notifications `notificationId` of `protocolId` agent 1 received. */
  const received = (protocolId: number, notificationId: number): number =>
    h
      .link(1)
      .messages.filter(
        (m) => m.type === 3 && m.protocolId === protocolId && m.messageId === notificationId,
      ).length;

  it('should stop CLOCK_RATE_CHANGED to an agent denied the clock with BASE_SET_DEVICE_PERMISSIONS', () => {
    expect(h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [0, 1]).status).toBe(0);
    expect(h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, CPU, 0], 2).status).toBe(0);
    expect(h.call(CLOCK, ClockMessageId.RATE_GET, [0]).status).toBe(ScmiStatus.DENIED);
    expect(h.call(CLOCK, ClockMessageId.RATE_SET, [0, 0, 700 * MHZ, 0], 2).status).toBe(0);
    expect(h.link(1).posted).toHaveLength(0);
  });

  it('should stop SENSOR_UPDATE to an agent denied the sensor, and its timer with it', async () => {
    expect(h.call(SENSOR, SensorMessageId.CONTINUOUS_UPDATE_NOTIFY, [2, 1]).status).toBe(0);
    expect(h.platform.armedTimers).toBe(1);
    expect(h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, SENSORS, 0], 2).status).toBe(0);
    expect(h.call(SENSOR, SensorMessageId.READING_GET, [2, 0]).status).toBe(ScmiStatus.DENIED);
    expect(h.platform.armedTimers).toBe(0); // no subscriber may use the sensor: no timer
    await h.clock.advance(5000);
    expect(h.link(1).posted).toHaveLength(0);
    expect(h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, SENSORS, 1], 2).status).toBe(0);
    expect(h.platform.armedTimers).toBe(1);
    await h.clock.advance(500);
    expect(received(SENSOR, SensorNotificationId.UPDATE)).toBe(1);
  });

  it('should stop sampling trip points of a sensor the agent is denied, and sample again when allowed', () => {
    h.call(SENSOR, SensorMessageId.TRIP_POINT_CONFIG, [0, 1, 45_000, 0]);
    h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [0, 1]);
    expect(h.platform.armedTimers).toBe(1);
    h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, SENSORS, SENSOR, 0], 2);
    expect(h.platform.armedTimers).toBe(0);
    h.call(BASE, BaseMessageId.SET_PROTOCOL_PERMISSIONS, [1, SENSORS, SENSOR, 1], 2);
    expect(h.platform.armedTimers).toBe(1);
  });

  it('should leave the notifications of other agents and of allowed domains alone', () => {
    h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [1, 1]); // uart: device 2, still allowed
    h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [0, 1], 2);
    h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, CPU, 0], 2);
    h.call(CLOCK, ClockMessageId.RATE_SET, [0, 0, 700 * MHZ, 0], 2);
    h.call(CLOCK, ClockMessageId.RATE_SET, [0, 1, 48 * MHZ, 0], 2);
    expect(h.link(1).messages.map((m) => m.words[1])).toEqual([1]);
    expect(h.link(2).messages.map((m) => m.words[1])).toEqual([0]);
  });

  it('should not restore subscriptions RESET_AGENT_CONFIGURATION dropped when it restores permissions', () => {
    h.call(CLOCK, ClockMessageId.RATE_NOTIFY, [0, 1]);
    h.call(BASE, BaseMessageId.SET_DEVICE_PERMISSIONS, [1, CPU, 0], 2);
    expect(h.call(BASE, BaseMessageId.RESET_AGENT_CONFIGURATION, [1, 1], 2).status).toBe(0);
    expect(h.call(CLOCK, ClockMessageId.RATE_GET, [0]).status).toBe(ScmiStatus.SUCCESS);
    h.call(CLOCK, ClockMessageId.RATE_SET, [0, 0, 700 * MHZ, 0], 2);
    expect(h.link(1).posted).toHaveLength(0);
    expect(h.platform.subscriptions(1)).toEqual([]);
  });

  describe.each(CHANGES)('after %s', (_, change) => {
    it.each(CASES.map((c) => [c.name, c] as const))(
      '%s: should not reach agent 1 while it is denied, keep the subscription, and reach it once allowed again',
      async (_name, c) => {
        const statuses = c.subscribe(h);
        expect(statuses).toEqual(statuses.map(() => ScmiStatus.SUCCESS));
        const subscription = {
          protocolId: c.protocolId,
          notificationId: c.notificationId,
          domainId: c.domainId,
        };
        // Each round changes the state the other way (a notification needs a change).
        await c.trigger(h, 0);
        const before = received(c.protocolId, c.notificationId);
        expect(before).toBeGreaterThan(0);

        change(h, c, false);
        await c.trigger(h, 1);
        await c.trigger(h, 2);
        expect(received(c.protocolId, c.notificationId)).toBe(before);
        // As SCP-firmware: a permission change does not touch the subscription.
        expect(h.platform.subscriptions(1)).toContainEqual(subscription);

        change(h, c, true);
        await c.trigger(h, 3);
        expect(received(c.protocolId, c.notificationId)).toBeGreaterThan(before);
      },
    );
  });
});
