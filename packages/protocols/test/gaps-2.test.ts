/**
 * More behaviours a review of the suite found unguarded (each mutation of them left every other
 * test green): the P2A channel a default asynchronous read or reset needs, SENSOR_CONFIG words,
 * update interval errors, SENSOR_UPDATE about a sensor init failed to describe, version gates,
 * clock rate ranges, parents in parts, permissions and a CLOCK_ATTRIBUTES reply without latency.
 */
import { ScmiMalformedError, ScmiStatusError, type ScmiNotification } from '@scmi-ts/core';
import {
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type FaultRule,
} from '@scmi-ts/platform';
import {
  ClockMessageId,
  ResetMessageId,
  SENSOR_UPDATE,
  SensorMessageId,
  clockProtocolDriver,
  resetProtocolDriver,
  sensorProtocolDriver,
} from '../src/index.js';
import { spyRequests } from './support/spy-requests.js';
import { DENIED, NOT_FOUND, corrupt, le32, onCommand } from './support/wire-bytes.js';
import { createHarness, type Harness } from './support/harness.js';

const CLOCK = 0x14;
const SENSOR = 0x15;
const RESET = 0x16;
const MHZ = 1_000_000;

describe('more behaviours the rest of the suite leaves unguarded', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  describe('sensor', () => {
    it('reads synchronously by default a sensor announcing asynchronous reads on a wire without P2A', async () => {
      h = createHarness({
        drivers: [sensorProtocolDriver],
        wire: { a2p: [0], p2a: [] },
        // Sensor 0's attributes_low (descriptor at 12: id, low): bit 31 set (byte 19), which the
        // platform leaves clear on a wire without P2A.
        platformFaults: [
          onCommand(SENSOR, SensorMessageId.DESCRIPTION_GET, corrupt(19, [0x80]), 1),
        ],
      });
      const agent = await h.create();
      const sensor = agent.protocol(sensorProtocolDriver);
      expect(sensor.domains.info(0).asyncRead).toBe(true);
      const sent = spyRequests(h, SENSOR, SensorMessageId.READING_GET);
      await expect(sensor.read(0)).resolves.toHaveLength(1);
      expect(typeof (await sensor.readValue(0))).toBe('bigint');
      // sensor_id 0, flags 0: synchronous.
      expect(sent).toEqual([
        [0, 0],
        [0, 0],
      ]);
      expect(h.platform.counters.delayedResponsesPosted).toBe(0);
    });

    it("sends SENSOR_CONFIG_SET's rounding in bits 10:9: nearest 2, up 1, down 0", async () => {
      h = createHarness({ drivers: [sensorProtocolDriver] });
      const agent = await h.create();
      const sensor = agent.protocol(sensorProtocolDriver);
      const sent = spyRequests(h, SENSOR, SensorMessageId.CONFIG_SET);
      const updateInterval = { secs: 25, exponent: -2 };
      await sensor.configSet(2, { enabled: true, updateInterval, round: 'nearest' });
      await sensor.configSet(2, { enabled: true, updateInterval, round: 'up' });
      await sensor.configSet(2, { enabled: true, updateInterval, round: 'down' });
      // enabled (bit 0), secs 25 (31:16), exponent -2 (15:11).
      const base = (1 | (25 << 16) | ((-2 & 0x1f) << 11)) >>> 0;
      expect(sent).toEqual([
        [2, (base | (2 << 9)) >>> 0],
        [2, (base | (1 << 9)) >>> 0],
        [2, base],
      ]);
    });

    it('reads a SENSOR_CONFIG_GET word whose secs is 0 as no update interval, whatever its exponent', async () => {
      const raw = ((0x1f << 11) | 1) >>> 0; // enabled, secs 0, exponent bits -1
      h = createHarness({
        drivers: [sensorProtocolDriver],
        platformFaults: [onCommand(SENSOR, SensorMessageId.CONFIG_GET, corrupt(8, le32(raw)), 1)],
      });
      const agent = await h.create();
      expect(await agent.protocol(sensorProtocolDriver).configGet(2)).toEqual({
        enabled: true,
        timestamps: false,
        updateInterval: undefined,
        raw,
      });
    });

    it('delivers a SENSOR_UPDATE about a sensor init failed to describe when its readings are whole', async () => {
      const reading = [7, 0, 0, 0];
      const storms: number[][] = [
        [0, 3, ...reading], // one reading: delivered (the axes are unknown)
        [0, 3, ...reading, ...reading], // two: delivered
        [0, 3, ...reading, 9], // a reading and 4 bytes: not delivered
      ];
      h = createHarness({
        drivers: [sensorProtocolDriver],
        platformFaults: [
          // The IMU (sensor 3, 3 axes) fails: its axes are not described.
          onCommand(SENSOR, SensorMessageId.AXIS_DESCRIPTION_GET, corrupt(4, DENIED)),
          // Posted when the test sends its PROTOCOL_VERSIONs below.
          ...storms.map((payload, i): FaultRule => ({
            match: { protocolId: SENSOR, messageId: 0x0, nth: i + 2 },
            action: {
              kind: 'notification-storm',
              count: 1,
              protocolId: SENSOR,
              messageId: SENSOR_UPDATE,
              payload,
            },
          })),
        ],
      });
      const agent = await h.create();
      const sensor = agent.protocol(sensorProtocolDriver);
      expect(sensor.domains.failures.get(3)).toBeInstanceOf(ScmiStatusError);
      const got: ScmiNotification[] = [];
      // Every source (sensor 3 cannot be subscribed to alone: it announces nothing).
      const off = await agent.events.subscribe(
        { protocolId: SENSOR, eventId: SENSOR_UPDATE },
        (n) => {
          got.push(n);
        },
      );
      const before = agent.diagnostics.notifications.sourceErrors;
      for (let i = 0; i < storms.length; i++) await agent.transact(SENSOR, 0x0);
      await h.clock.advance(5);
      expect(got.filter((n) => n.source === 3).map((n) => n.payload.length)).toEqual([24, 40]);
      expect(agent.diagnostics.notifications.sourceErrors).toBe(before + 1);
      await off();
    });

    it('takes SENSOR_LIST_UPDATE_INTERVALS answered NOT_FOUND as no intervals, and records another error status', async () => {
      h = createHarness({
        drivers: [sensorProtocolDriver],
        platformFaults: [
          // One per sensor, in order: gpu-current's (3rd) NOT_FOUND, the IMU's (4th) DENIED.
          onCommand(SENSOR, SensorMessageId.LIST_UPDATE_INTERVALS, corrupt(4, NOT_FOUND), 3),
          onCommand(SENSOR, SensorMessageId.LIST_UPDATE_INTERVALS, corrupt(4, DENIED), 4),
        ],
      });
      const agent = await h.create();
      const sensor = agent.protocol(sensorProtocolDriver);
      const gpu = sensor.domains.info(2);
      expect(gpu.updateIntervals).toBeUndefined();
      expect(gpu).not.toHaveProperty('intervalsError');
      const imu = sensor.domains.info(3);
      expect(imu.updateIntervals).toBeUndefined();
      expect(imu.intervalsError).toBeInstanceOf(ScmiStatusError);
      expect(imu.intervalsError).toMatchObject({ status: -3 });
      expect(agent.diagnostics.malformedReplies).toEqual({});
    });

    it('refuses a segmented interval triplet that announces more remaining, counting it', async () => {
      h = createHarness({
        drivers: [sensorProtocolDriver],
        platformFaults: [
          // gpu-current's triplet: 3 returned, segmented (bit 12), 1 remaining (31:16).
          onCommand(
            SENSOR,
            SensorMessageId.LIST_UPDATE_INTERVALS,
            corrupt(8, le32(3 | (1 << 12) | (1 << 16))),
            3,
          ),
        ],
      });
      const agent = await h.create();
      const gpu = agent.protocol(sensorProtocolDriver).domains.info(2);
      expect(gpu.updateIntervals).toBeUndefined();
      expect(gpu.intervalsError).toBeInstanceOf(ScmiMalformedError);
      expect(gpu.intervalsError).toMatchObject({ code: 'E_SEGMENTED' });
      expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
    });

    it('sends no SENSOR_AXIS_NAME_GET below version 3.0, keeping the short axis names', async () => {
      const config = createDefaultPlatformConfig();
      const sensors = (config.sensors ?? []).slice(3, 4).map((s) => ({
        ...s,
        axes: [
          { name: 'longitudinal-acceleration' },
          { name: 'y' },
          { name: 'vertical-acceleration-axis' },
        ],
      }));
      h = createHarness({
        drivers: [sensorProtocolDriver],
        platformConfig: validatePlatformConfig({ ...config, devices: [], sensors }),
        // PROTOCOL_VERSION answered 2.0.
        platformFaults: [onCommand(SENSOR, 0x0, corrupt(8, le32(0x20000)), 1)],
      });
      const sent = spyRequests(h, SENSOR, SensorMessageId.AXIS_NAME_GET);
      const agent = await h.create();
      const sensor = agent.protocol(sensorProtocolDriver);
      expect(sensor.version).toBe(0x20000);
      expect(sent).toEqual([]);
      const imu = sensor.domains.info(0);
      expect(imu.axes.map((a) => a.name)).toEqual(['longitudinal-ac', 'y', 'vertical-accele']);
      expect(imu).not.toHaveProperty('axisNamesError');
    });

    it('decodes the timestamp exponent from attributes_low 14:10 (signed) only when bit 9 is set', async () => {
      h = createHarness({
        drivers: [sensorProtocolDriver],
        platformFaults: [
          // attributes_low bits 15:8 of each descriptor (at 12 + 28 × n: id, low): byte 17 of
          // sensor 0: bit 9, exponent 5, reserved bit 15; byte 45 of sensor 1: exponent bits
          // all set, bit 9 clear; byte 73 of sensor 2: bit 9, exponent -16.
          onCommand(
            SENSOR,
            SensorMessageId.DESCRIPTION_GET,
            corrupt(17, [0x80 | 0x02 | (5 << 2)]),
            1,
          ),
          onCommand(SENSOR, SensorMessageId.DESCRIPTION_GET, corrupt(45, [0x1f << 2]), 1),
          onCommand(SENSOR, SensorMessageId.DESCRIPTION_GET, corrupt(73, [0x02 | (0x10 << 2)]), 1),
        ],
      });
      const agent = await h.create();
      const sensor = agent.protocol(sensorProtocolDriver);
      expect(sensor.domains.failures.size).toBe(0);
      expect(sensor.domains.list.map((s) => s.timestampExponent)).toEqual([5, undefined, -16, -6]);
    });
  });

  describe('clock', () => {
    it('refuses a range whose step is 0 while min is below max, counting it; takes it when min is max', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        // cpu-pll's triplet (min at 12, max at 20, step at 28): step 0.
        platformFaults: [
          onCommand(
            CLOCK,
            ClockMessageId.DESCRIBE_RATES,
            corrupt(28, new Array<number>(8).fill(0)),
            1,
          ),
        ],
      });
      let agent = await h.create();
      let cpu = agent.protocol(clockProtocolDriver).domains.info(0);
      expect(cpu.rates).toBeUndefined();
      expect(cpu.ratesError).toBeInstanceOf(ScmiMalformedError);
      expect(cpu.ratesError).toMatchObject({ code: 'E_CLOCK_RATES' });
      expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
      await h.close();
      // max made min (200 MHz, 0x0BEBC200), step 0: one rate.
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          onCommand(
            CLOCK,
            ClockMessageId.DESCRIBE_RATES,
            corrupt(20, [...le32(200 * MHZ), 0, 0, 0, 0, ...new Array<number>(8).fill(0)]),
            1,
          ),
        ],
      });
      agent = await h.create();
      cpu = agent.protocol(clockProtocolDriver).domains.info(0);
      expect(cpu.rates).toEqual({ kind: 'range', min: 200_000_000n, max: 200_000_000n, step: 0n });
      expect(agent.diagnostics.malformedReplies).toEqual({});
    });

    it('collects the possible parents given in several parts', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        // gpu-core's first part: 1 returned (7:0), 1 remaining (31:24).
        platformFaults: [
          onCommand(CLOCK, ClockMessageId.POSSIBLE_PARENTS_GET, corrupt(8, le32(1 | (1 << 24))), 1),
        ],
      });
      const sent = spyRequests(h, CLOCK, ClockMessageId.POSSIBLE_PARENTS_GET);
      const agent = await h.create();
      const gpu = agent.protocol(clockProtocolDriver).domains.info(2);
      expect(gpu.parents).toEqual([0, 3]);
      expect(gpu).not.toHaveProperty('parentsError');
      // clock_id, skip_parents
      expect(sent).toEqual([
        [2, 0],
        [2, 1],
      ]);
      expect(agent.diagnostics.malformedReplies).toEqual({});
    });

    it('decodes rate control from permission bit 29', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformConfig: validatePlatformConfig({
          ...createDefaultPlatformConfig(),
          devices: [],
          clocks: [
            { name: 'fixed', rates: [MHZ], canSetRate: false },
            { name: 'other', rates: [MHZ], parents: [0], canSetState: false },
          ],
        }),
      });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      expect(clock.domains.info(0).permissions).toEqual({
        stateControl: true,
        parentControl: false,
        rateControl: false,
      });
      expect(clock.domains.info(1).permissions).toEqual({
        stateControl: false,
        parentControl: true,
        rateControl: true,
      });
      expect(await clock.getPermissions(0)).toEqual(clock.domains.info(0).permissions);
    });

    it('takes a version 2.0+ CLOCK_ATTRIBUTES reply without its enable latency as no latency, not malformed', async () => {
      h = createHarness({
        drivers: [clockProtocolDriver],
        platformFaults: [
          // gpu-core's (latency 20 µs): header, status, attributes, name; no latency word.
          onCommand(CLOCK, ClockMessageId.ATTRIBUTES, { kind: 'truncate', length: 8 + 4 + 16 }, 3),
        ],
      });
      const agent = await h.create();
      const clock = agent.protocol(clockProtocolDriver);
      expect(clock.version).toBe(0x30000);
      expect(clock.domains.failures.size).toBe(0);
      expect(clock.domains.info(2)).toMatchObject({
        name: 'gpu-core',
        enabled: false,
        parents: [0, 3],
        enableLatencyUs: undefined,
      });
      expect(agent.diagnostics.malformedReplies).toEqual({});
    });
  });

  describe('reset', () => {
    it('resets synchronously by default a domain announcing asynchronous resets on a wire without P2A', async () => {
      h = createHarness({
        drivers: [resetProtocolDriver],
        wire: { a2p: [0], p2a: [] },
        // gpu's attributes (at 8): bit 31 set (byte 11), which the platform leaves clear here.
        platformFaults: [
          onCommand(RESET, ResetMessageId.DOMAIN_ATTRIBUTES, corrupt(11, [0x80]), 1),
        ],
      });
      const agent = await h.create();
      const reset = agent.protocol(resetProtocolDriver);
      expect(reset.domains.info(0).asyncReset).toBe(true);
      const sent = spyRequests(h, RESET, ResetMessageId.RESET);
      await reset.reset(0);
      // domain_id 0, flags AUTONOMOUS only, reset_state 0.
      expect(sent).toEqual([[0, 1, 0]]);
      expect(h.platform.counters.delayedResponsesPosted).toBe(0);
    });
  });
});
