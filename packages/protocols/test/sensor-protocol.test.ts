import {
  RevokedError,
  ScmiError,
  ScmiMalformedError,
  ScmiStatusError,
  ScmiTimeoutError,
  type ScmiNotification,
} from '@scmi-ts/core';
import {
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type FaultRule,
} from '@scmi-ts/platform';
import {
  SENSOR_TRIP_POINT_EVENT,
  SENSOR_UPDATE,
  SensorMessageId,
  decodeSensorTripPointEvent,
  decodeSensorUpdate,
  sensorProtocolDriver,
  type SensorProtocol,
} from '../src/sensor/sensor-protocol.js';
import {
  DENIED,
  corrupt,
  le32,
  le64,
  onCommand as onProtocolCommand,
} from './support/wire-bytes.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';

const SENSOR = 0x15;
/** A fault on the n-th response to a Sensor command. */
const onCommand = (messageId: number, action: FaultRule['action'], nth?: number): FaultRule =>
  onProtocolCommand(SENSOR, messageId, action, nth);

describe('Sensor protocol client', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function probe(options: HarnessOptions = {}): Promise<{
    h: Harness;
    sensor: SensorProtocol;
    agent: Awaited<ReturnType<Harness['create']>>;
  }> {
    h = createHarness({ drivers: [sensorProtocolDriver], ...options });
    const agent = await h.create();
    return { h, agent, sensor: agent.protocol(sensorProtocolDriver) };
  }

  it('describes every sensor at init, as the platform configures them', async () => {
    const { sensor } = await probe();
    expect(sensor.version).toBe(0x30001);
    expect(sensor.versionSource).toBe('platform');
    expect(sensor.attributes).toEqual({
      sensors: 4,
      maxPendingAsync: 8,
      registerAddress: 0n,
      registerLength: 0,
      tripPointNotify: true,
      continuousUpdateNotify: true,
    });
    expect(sensor.domains.count).toBe(4);
    expect(sensor.domains.failures.size).toBe(0);
    const scalar = { timestampExponent: undefined, powerUw: undefined, range: undefined, axes: [] };
    expect(sensor.domains.list).toEqual([
      {
        id: 0,
        name: 'soc-temp',
        type: 2,
        unitExponent: -3,
        asyncRead: true,
        tripPoints: 2,
        continuousUpdates: false,
        updateIntervals: undefined,
        ...scalar,
      },
      {
        id: 1,
        name: 'cpu-volt',
        type: 5,
        unitExponent: -3,
        asyncRead: false,
        tripPoints: 0,
        continuousUpdates: false,
        updateIntervals: undefined,
        ...scalar,
      },
      {
        id: 2,
        name: 'gpu-current',
        type: 6,
        unitExponent: -3,
        asyncRead: false,
        tripPoints: 1,
        continuousUpdates: true,
        // 100–1000 ms by 100 ms: one segmented triplet, 1 × 10^-1 s, 1 × 10^0 s, 1 × 10^-1 s.
        updateIntervals: {
          segmented: true,
          min: { secs: 1, exponent: -1 },
          max: { secs: 1, exponent: 0 },
          step: { secs: 1, exponent: -1 },
        },
        ...scalar,
      },
      {
        id: 3,
        // 17 characters: the extended name (SENSOR_NAME_GET).
        name: 'imu-accelerometer',
        type: 0x59,
        unitExponent: -3,
        asyncRead: false,
        tripPoints: 0,
        continuousUpdates: true,
        timestampExponent: -6,
        powerUw: undefined,
        range: undefined,
        axes: ['x', 'y', 'z'].map((name, id) => ({
          id,
          name,
          // An axis without its own unit has the sensor's.
          type: 0x59,
          unitExponent: -3,
          range: undefined,
        })),
        updateIntervals: {
          segmented: false,
          intervals: [
            { secs: 1, exponent: -2 },
            { secs: 2, exponent: -2 },
            { secs: 5, exponent: -2 },
            { secs: 1, exponent: -1 },
          ],
        },
      },
    ]);
  });

  it('reads a scalar sensor synchronously: the value the platform has now', async () => {
    const { h, sensor } = await probe();
    const before = h.platform.counters.delayedResponsesPosted;
    const readings = await sensor.read(1);
    const now = BigInt(h.platform.snapshot().sensors[1]?.reading ?? NaN);
    expect(readings).toEqual([{ value: now, timestamp: 0n }]);
    expect(await sensor.readValue(1)).toBe(now);
    expect(h.platform.counters.delayedResponsesPosted).toBe(before);
  });

  it('reads every axis of a multi-axis sensor with its timestamp', async () => {
    const { h, sensor } = await probe();
    await h.clock.advance(250);
    const readings = await sensor.read(3);
    expect(readings).toHaveLength(3);
    // x: the platform's reading of the first axis now (the snapshot's).
    expect(readings[0]?.value).toBe(BigInt(h.platform.snapshot().sensors[3]?.reading ?? NaN));
    expect(readings[2]?.value).toBe(9807n); // z: constant
    // Timestamps in µs since the platform started (timestampExponent -6), the same for each axis.
    const ts = readings[0]?.timestamp ?? 0n;
    expect(ts).toBeGreaterThanOrEqual(250_000n);
    expect(readings.map((r) => r.timestamp)).toEqual([ts, ts, ts]);
    // The value alone: the first axis.
    expect(await sensor.readValue(3)).toBe(readings[0]?.value);
  });

  it('reads asynchronously a sensor that announces it, waiting for the delayed response', async () => {
    const { h, sensor } = await probe();
    const start = h.clock.now();
    const [reading] = await sensor.read(0);
    expect(h.platform.counters.delayedResponsesPosted).toBe(1);
    // soc-temp's reading takes 2 ms.
    expect(h.clock.now() - start).toBeGreaterThanOrEqual(2);
    expect(reading?.value).toBe(BigInt(h.platform.snapshot().sensors[0]?.reading ?? NaN));
    expect(typeof (await sensor.readValue(0))).toBe('bigint');
    expect(h.platform.counters.delayedResponsesPosted).toBe(2);
    await sensor.read(0, { async: false });
    expect(h.platform.counters.delayedResponsesPosted).toBe(2);
  });

  it('fails an asynchronous reading whose delayed response never comes with a timeout', async () => {
    const { sensor } = await probe({
      platformFaults: [
        { match: { stage: 'delayed-response', protocolId: SENSOR }, action: { kind: 'drop' } },
      ],
    });
    await expect(sensor.read(0)).rejects.toBeInstanceOf(ScmiTimeoutError);
  });

  it('refuses a delayed response about another sensor as malformed', async () => {
    const { agent, sensor } = await probe({
      platformFaults: [
        {
          match: { stage: 'delayed-response', protocolId: SENSOR },
          action: corrupt(8, le32(1)),
        },
      ],
    });
    await expect(sensor.readValue(0)).rejects.toMatchObject({ code: 'E_SENSOR_ID' });
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
  });

  it('counts a reading shorter than its axes as malformed', async () => {
    const { agent, sensor } = await probe({
      // header, status and 2.5 of the 3 readings
      platformFaults: [
        onCommand(SensorMessageId.READING_GET, { kind: 'truncate', length: 8 + 40 }),
      ],
    });
    const error: unknown = await sensor.read(3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScmiMalformedError);
    expect(error).toMatchObject({ code: 'E_TRUNCATED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
  });

  it('reports an error status of a reading: a disabled sensor is not read', async () => {
    const { h, sensor } = await probe();
    await sensor.configSet(1, { enabled: false });
    expect(h.platform.snapshot().sensors[1]?.enabled).toBe(false);
    await expect(sensor.read(1)).rejects.toMatchObject({ status: -1 }); // NOT_SUPPORTED
    await sensor.configSet(1, { enabled: true });
    await expect(sensor.read(1)).resolves.toHaveLength(1);
  });

  it('gets and sets a sensor configuration: enable, timestamps, update interval', async () => {
    const { h, sensor } = await probe();
    expect(await sensor.configGet(2)).toEqual({
      enabled: true,
      timestamps: false,
      updateInterval: { secs: 5, exponent: -1 }, // 500 ms
      raw: ((5 << 16) | ((-1 & 0x1f) << 11) | 1) >>> 0,
    });
    await sensor.configSet(2, { enabled: true, updateInterval: { secs: 2, exponent: -1 } });
    expect(h.platform.snapshot().sensors[2]?.updateIntervalMs).toBe(200);
    // 250 ms is not supported: rounded up to 300 ms, or down to 200 ms.
    await sensor.configSet(2, {
      enabled: true,
      updateInterval: { secs: 25, exponent: -2 },
      round: 'up',
    });
    expect(h.platform.snapshot().sensors[2]?.updateIntervalMs).toBe(300);
    await sensor.configSet(2, { enabled: true, updateInterval: { secs: 25, exponent: -2 } });
    expect(h.platform.snapshot().sensors[2]?.updateIntervalMs).toBe(200);
    // Timestamps off on the IMU: its readings carry none.
    expect((await sensor.configGet(3)).timestamps).toBe(true);
    await sensor.configSet(3, { enabled: true, timestamps: false });
    expect((await sensor.read(3)).map((r) => r.timestamp)).toEqual([0n, 0n, 0n]);
    // What the sensor cannot do: NOT_SUPPORTED (soc-temp has no timestamps).
    const error: unknown = await sensor
      .configSet(0, { enabled: true, timestamps: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScmiStatusError);
    expect(error).toMatchObject({ status: -1 });
    // A raw word: disabled.
    await sensor.configSet(0, 0);
    expect(h.platform.snapshot().sensors[0]?.enabled).toBe(false);
    expect((await sensor.configGet(0)).enabled).toBe(false);
  });

  it('arms a trip point and delivers SENSOR_TRIP_POINT_EVENT when it is crossed', async () => {
    const { h, agent, sensor } = await probe();
    const got: ScmiNotification[] = [];
    const off = await agent.events.subscribe(
      { protocolId: SENSOR, eventId: SENSOR_TRIP_POINT_EVENT, source: 2 },
      (n) => {
        got.push(n);
      },
    );
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: SENSOR, notificationId: SENSOR_TRIP_POINT_EVENT, domainId: 2 },
    ]);
    // gpu-current ramps from 100 to 3000 in 5 s: it crosses 1000 going up at about 1.55 s.
    await sensor.setTripPoint(2, 0, 1000n, 'up');
    // (Not runUntilIdle: the platform samples armed trip points every 10 ms, for ever.)
    await h.clock.advance(2000);
    expect(got.map((n) => decodeSensorTripPointEvent(n.payload))).toEqual([
      { agentId: 0, sensorId: 2, tripPointId: 0, ascending: true, desc: 1 << 16 },
    ]);
    expect(got[0]?.source).toBe(2);
    await sensor.disableTripPoint(2, 0);
    await off();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('delivers SENSOR_UPDATE with one reading per axis, enabling only the sensor subscribed to', async () => {
    const { h, agent } = await probe();
    const got: ScmiNotification[] = [];
    const off = await agent.events.subscribe(
      { protocolId: SENSOR, eventId: SENSOR_UPDATE, source: 3 },
      (n) => {
        got.push(n);
      },
    );
    expect(h.platform.subscriptions(1)).toEqual([
      { protocolId: SENSOR, notificationId: SENSOR_UPDATE, domainId: 3 },
    ]);
    await h.clock.advance(250); // the IMU's interval is 100 ms
    await off();
    expect(got.length).toBeGreaterThanOrEqual(2);
    const update = decodeSensorUpdate(got[0]?.payload ?? new Uint8Array());
    expect(update).toMatchObject({ agentId: 0, sensorId: 3 });
    expect(update.readings).toHaveLength(3);
    expect(update.readings[2]?.value).toBe(9807n);
    expect(update.readings[0]?.timestamp).toBeGreaterThan(0n);
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('drops a SENSOR_UPDATE without a reading and a SENSOR_TRIP_POINT_EVENT not of 12 bytes', async () => {
    const storm = (messageId: number, payload: number[], nth: number): FaultRule => ({
      match: { protocolId: SENSOR, messageId: SensorMessageId.CONFIG_GET, nth },
      action: { kind: 'notification-storm', count: 1, protocolId: SENSOR, messageId, payload },
    });
    const { h, agent, sensor } = await probe({
      platformFaults: [
        storm(SENSOR_UPDATE, [0, 2], 1), // no reading
        storm(SENSOR_UPDATE, [0, 2, 7, 0, 0, 0], 2), // one reading: delivered
        storm(SENSOR_TRIP_POINT_EVENT, [0, 2], 3),
        storm(SENSOR_TRIP_POINT_EVENT, [0, 2, 1, 0], 4),
      ],
    });
    // Disabled, gpu-current sends no SENSOR_UPDATE of its own: only the storm's arrive.
    await sensor.configSet(2, { enabled: false });
    const got: ScmiNotification[] = [];
    const offs = await Promise.all(
      [SENSOR_UPDATE, SENSOR_TRIP_POINT_EVENT].map((eventId) =>
        agent.events.subscribe({ protocolId: SENSOR, eventId, source: 2 }, (n) => {
          got.push(n);
        }),
      ),
    );
    for (let i = 0; i < 4; i++) await sensor.configGet(1);
    await h.clock.runUntilIdle();
    expect(got.map((n) => [n.eventId, n.payload.length])).toEqual([[SENSOR_UPDATE, 24]]);
    expect(decodeSensorUpdate(got[0]?.payload ?? new Uint8Array()).readings).toEqual([
      { value: 7n, timestamp: 0n },
    ]);
    const p2a = agent.diagnostics.channels.find((c) => c.direction === 'p2a');
    expect(p2a?.stats.badMessages.invalid).toBe(3);
    for (const off of offs) await off();
    await agent.remove();
  });

  it('enables every sensor that announces the notification for an every-source subscriber', async () => {
    const { h, agent } = await probe();
    const offUpdate = await agent.events.subscribe(
      { protocolId: SENSOR, eventId: SENSOR_UPDATE },
      () => {
        /* counted by the platform's subscriptions */
      },
    );
    // Only the sensors with update intervals announce continuous updates.
    expect(h.platform.subscriptions(1).map((s) => s.domainId)).toEqual([2, 3]);
    await offUpdate();
    // Trip point events: every sensor is asked, as Linux (the command is implemented); the
    // platform answers NOT_SUPPORTED for the sensors without trip points (1 and 3, DEN0056
    // §4.7.2.8), so only 0 and 2 are subscribed.
    const offTrip = await agent.events.subscribe(
      { protocolId: SENSOR, eventId: SENSOR_TRIP_POINT_EVENT },
      () => {
        /* counted by the platform's subscriptions */
      },
    );
    expect(h.platform.subscriptions(1).map((s) => s.domainId)).toEqual([0, 2]);
    await offTrip();
    expect(h.platform.subscriptions(1)).toEqual([]);
    await agent.remove();
  });

  it('refuses to subscribe to SENSOR_UPDATE of a sensor that does not announce it, sending nothing', async () => {
    const { h, agent } = await probe();
    const requests = h.platform.counters.requests;
    await expect(
      agent.events.subscribe({ protocolId: SENSOR, eventId: SENSOR_UPDATE, source: 0 }, () => {
        /* never */
      }),
    ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    await expect(
      agent.events.subscribe({ protocolId: SENSOR, eventId: SENSOR_UPDATE, source: 4 }, () => {
        /* never */
      }),
    ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    expect(h.platform.counters.requests).toBe(requests);
    await agent.remove();
  });

  it('refuses bad arguments before anything is sent', async () => {
    const { h, sensor } = await probe();
    const requests = h.platform.counters.requests;
    for (const id of [4, -1, 0.5, Number.NaN]) {
      await expect(sensor.read(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(sensor.readValue(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(sensor.setTripPoint(id, 0, 0)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(sensor.tripPointNotify(id, true)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(sensor.continuousUpdateNotify(id, true)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
      await expect(sensor.configGet(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(sensor.configSet(id, 1)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(() => sensor.domains.info(id)).toThrow(ScmiError);
    }
    // Trip point ids: gpu-current has one; cpu-volt none.
    for (const [id, trip] of [
      [2, 1],
      [1, 0],
      [0, -1],
      [0, 0.5],
    ] as const) {
      await expect(sensor.setTripPoint(id, trip, 0)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    }
    await expect(sensor.setTripPoint(1, 0, 0)).rejects.toThrow(
      'trip point 0: sensor 1 has no trip points',
    );
    await expect(sensor.setTripPoint(2, 1, 0)).rejects.toThrow(
      "trip point 1 is not one of sensor 2's 1 (0 to 0)",
    );
    for (const value of [2n ** 64n, -(2n ** 63n) - 1n, 0.5, 2 ** 60]) {
      await expect(sensor.setTripPoint(0, 0, value)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    }
    await expect(sensor.setTripPoint(0, 0, 0, 'sideways' as unknown as 'up')).rejects.toMatchObject(
      { code: 'E_ARGUMENT' },
    );
    for (const updateInterval of [
      { secs: 0x10000, exponent: 0 },
      { secs: -1, exponent: 0 },
      { secs: 1, exponent: 16 },
      { secs: 1, exponent: -17 },
      { secs: 1, exponent: 0.5 },
    ]) {
      await expect(sensor.configSet(2, { enabled: true, updateInterval })).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
    }
    await expect(
      sensor.configSet(2, {
        enabled: true,
        updateInterval: { secs: 1, exponent: 0 },
        round: 'sideways' as unknown as 'up',
      }),
    ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    for (const raw of [2 ** 32, -(2 ** 31) - 1, 1.5]) {
      await expect(sensor.configSet(0, raw)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    }
    expect(h.platform.counters.requests).toBe(requests);
    // The extremes of a trip value are sent (two's complement): the platform takes them.
    await sensor.setTripPoint(0, 0, -(2n ** 63n));
    await sensor.setTripPoint(0, 1, 2n ** 64n - 1n);
  });

  it('fails to initialize when PROTOCOL_ATTRIBUTES fails: the agent goes on without it', async () => {
    h = createHarness({
      drivers: [sensorProtocolDriver],
      platformFaults: [onCommand(0x1, corrupt(4, DENIED))],
    });
    const agent = await h.create();
    expect(agent.protocolErrors.get(SENSOR)).toBeInstanceOf(ScmiStatusError);
    expect(() => agent.protocol(sensorProtocolDriver)).toThrow(
      expect.objectContaining({ code: 'E_NO_PROTOCOL' }) as Error,
    );
    await agent.remove();
  });

  it('fails to initialize when SENSOR_DESCRIPTION_GET fails, as Linux', async () => {
    h = createHarness({
      drivers: [sensorProtocolDriver],
      platformFaults: [onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(4, DENIED))],
    });
    const agent = await h.create();
    expect(agent.protocolErrors.get(SENSOR)).toBeInstanceOf(ScmiStatusError);
    await agent.remove();
  });

  it('records a sensor whose axes the platform fails to describe, and goes on with the others', async () => {
    const { h, sensor } = await probe({
      platformFaults: [onCommand(SensorMessageId.AXIS_DESCRIPTION_GET, corrupt(4, DENIED))],
    });
    expect(sensor.domains.list.map((s) => s.id)).toEqual([0, 1, 2]);
    expect(sensor.domains.failures.get(3)).toBeInstanceOf(ScmiStatusError);
    const requests = h.platform.counters.requests;
    await expect(sensor.read(3)).rejects.toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
    expect(h.platform.counters.requests).toBe(requests);
  });

  it('records a descriptor whose id is not its index as malformed', async () => {
    const { agent, sensor } = await probe({
      // Descriptor 1 starts at 8 + 4 + 28: its id says 7.
      platformFaults: [onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(40, le32(7)), 1)],
    });
    expect(sensor.domains.list.map((s) => s.id)).toEqual([0, 2, 3]);
    const error = sensor.domains.failures.get(1);
    expect(error).toBeInstanceOf(ScmiMalformedError);
    expect(error).toMatchObject({ code: 'E_SENSOR_ID' });
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
  });

  it('records a sensor whose axis descriptor carries another id as malformed', async () => {
    const { agent, sensor } = await probe({
      // Axis 1 starts at 8 + 4 + 28: its id says 2.
      platformFaults: [onCommand(SensorMessageId.AXIS_DESCRIPTION_GET, corrupt(40, le32(2)))],
    });
    expect(sensor.domains.failures.get(3)).toMatchObject({ code: 'E_AXIS_ID' });
    expect(sensor.domains.list.map((s) => s.id)).toEqual([0, 1, 2]);
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
  });

  it('records the sensors a walk that ends early did not describe, counting it once', async () => {
    const { agent, sensor } = await probe({
      // 2 returned, 0 remaining: the platform describes 2 of its 4 sensors.
      platformFaults: [onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(8, [2, 0, 0, 0]), 1)],
    });
    expect(sensor.domains.list.map((s) => s.id)).toEqual([0, 1]);
    expect(sensor.domains.failures.get(2)).toMatchObject({ code: 'E_MULTIPART' });
    expect(sensor.domains.failures.get(3)).toBe(sensor.domains.failures.get(2));
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
  });

  it('records every sensor failed when the first part returns none but announces more', async () => {
    const { agent, sensor } = await probe({
      platformFaults: [onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(8, [0, 0, 4, 0]), 1)],
    });
    expect(sensor.domains.list).toEqual([]);
    expect(sensor.domains.failures.get(0)).toMatchObject({ code: 'E_MULTIPART' });
    expect(new Set(sensor.domains.failures.values()).size).toBe(1);
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
  });

  it('collects descriptions given in several parts', async () => {
    const { sensor } = await probe({
      // 1 returned, 3 remaining: the walk asks again from index 1.
      platformFaults: [onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(8, [1, 0, 3, 0]), 1)],
    });
    expect(sensor.domains.list.map((s) => s.name)).toEqual([
      'soc-temp',
      'cpu-volt',
      'gpu-current',
      'imu-accelerometer',
    ]);
  });

  it('reads the extended attributes that follow a descriptor: power, resolution and range', async () => {
    // Descriptor 0 (offset 12) announces extended attributes (attributes_low bit 8) and the part
    // returns it alone: the 24 bytes after it are its power, resolution and range.
    const resolution = (5 | (((-2 & 0x1f) >>> 0) << 27)) >>> 0;
    const extended = [...le32(1500), ...le32(resolution), ...le64(-40_000n), ...le64(125_000n)];
    const { sensor } = await probe({
      platformFaults: [
        onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(8, [1, 0, 3, 0]), 1),
        onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(17, [0x01]), 1),
        onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(40, extended), 1),
      ],
    });
    expect(sensor.domains.info(0)).toMatchObject({
      powerUw: 1500,
      range: { resolution: 5, resolutionExponent: -2, minRange: -40_000n, maxRange: 125_000n },
    });
    expect(sensor.domains.list.map((s) => s.id)).toEqual([0, 1, 2, 3]);
    expect(sensor.domains.info(1).powerUw).toBeUndefined();
  });

  it("reads only the power among a multi-axis sensor's extended attributes, and its axes' own", async () => {
    const config = createDefaultPlatformConfig();
    const [temp, , , imu] = config.sensors ?? [];
    // The IMU first: descriptor 0 (offset 12) announces extended attributes (attributes_low bit 8
    // with its timestamp bits, 0x6A, kept) and the part returns it alone: only its power follows,
    // the next 4 bytes (the next descriptor's id, 1).
    const platformConfig = validatePlatformConfig({
      ...config,
      devices: [],
      sensors: [imu, temp].filter((s) => s !== undefined),
    });
    const { sensor } = await probe({
      platformConfig,
      platformFaults: [
        onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(8, [1, 0, 1, 0]), 1),
        onCommand(SensorMessageId.DESCRIPTION_GET, corrupt(17, [0x6b]), 1),
        // Axis 0 announces extended attributes and the part returns it alone (1 returned, 2
        // remaining): the 20 bytes after it (over axis 1's descriptor) are its resolution and range.
        onCommand(SensorMessageId.AXIS_DESCRIPTION_GET, corrupt(8, le32(1 | (2 << 26))), 1),
        onCommand(SensorMessageId.AXIS_DESCRIPTION_GET, corrupt(17, [0x01]), 1),
        onCommand(
          SensorMessageId.AXIS_DESCRIPTION_GET,
          corrupt(40, [...le32(3), ...le64(-2000n), ...le64(2000n)]),
          1,
        ),
      ],
    });
    const info = sensor.domains.info(0);
    expect(info).toMatchObject({ name: 'imu-accelerometer', timestampExponent: -6, powerUw: 1 });
    expect(info.range).toBeUndefined();
    expect(info.axes).toEqual([
      {
        id: 0,
        name: 'x',
        type: 0x59,
        unitExponent: -3,
        range: { resolution: 3, resolutionExponent: 0, minRange: -2000n, maxRange: 2000n },
      },
      { id: 1, name: 'y', type: 0x59, unitExponent: -3, range: undefined },
      { id: 2, name: 'z', type: 0x59, unitExponent: -3, range: undefined },
    ]);
    expect(sensor.domains.info(1).name).toBe('soc-temp');
  });

  it('reads extended axis names with SENSOR_AXIS_NAME_GET, and keeps the short ones when it fails', async () => {
    const config = createDefaultPlatformConfig();
    const sensors = (config.sensors ?? []).slice(3, 4).map((s) => ({
      ...s,
      axes: [
        { name: 'longitudinal-acceleration' },
        { name: 'y' },
        { name: 'vertical-acceleration-axis' },
      ],
    }));
    const platformConfig = validatePlatformConfig({ ...config, devices: [], sensors });
    const { sensor } = await probe({ platformConfig });
    expect(sensor.domains.info(0).axes.map((a) => a.name)).toEqual([
      'longitudinal-acceleration',
      'y',
      'vertical-acceleration-axis',
    ]);
    await h?.close();
    const failed = await probe({
      platformConfig,
      platformFaults: [onCommand(SensorMessageId.AXIS_NAME_GET, corrupt(4, DENIED))],
    });
    const imu = failed.sensor.domains.info(0);
    expect(imu.axes.map((a) => a.name)).toEqual(['longitudinal-ac', 'y', 'vertical-accele']);
    expect(imu.axisNamesError).toBeInstanceOf(ScmiStatusError);
  });

  it('asks no axis names when no axis announces an extended one', async () => {
    const { sensor } = await probe({
      platformFaults: [onCommand(SensorMessageId.AXIS_NAME_GET, corrupt(4, DENIED))],
    });
    expect(sensor.domains.info(3).axes.map((a) => a.name)).toEqual(['x', 'y', 'z']);
    expect(sensor.domains.info(3)).not.toHaveProperty('axisNamesError');
  });

  it('keeps the short axis names when SENSOR_AXIS_NAME_GET names an axis the sensor lacks', async () => {
    const config = createDefaultPlatformConfig();
    const sensors = (config.sensors ?? []).slice(3, 4).map((s) => ({
      ...s,
      axes: [{ name: 'longitudinal-acceleration' }, { name: 'y' }],
    }));
    const { agent, sensor } = await probe({
      platformConfig: validatePlatformConfig({ ...config, devices: [], sensors }),
      // The first entry (offset 12) names axis 5.
      platformFaults: [onCommand(SensorMessageId.AXIS_NAME_GET, corrupt(12, le32(5)))],
    });
    const imu = sensor.domains.info(0);
    expect(imu.axes.map((a) => a.name)).toEqual(['longitudinal-ac', 'y']);
    expect(imu.axisNamesError).toMatchObject({ code: 'E_AXIS_ID' });
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
  });

  it('keeps the axis names received before SENSOR_AXIS_NAME_GET failed, as Linux writes each as it arrives', async () => {
    const config = createDefaultPlatformConfig();
    const sensors = (config.sensors ?? []).slice(3, 4).map((s) => ({
      ...s,
      axes: [
        { name: 'longitudinal-acceleration' },
        { name: 'lateral-acceleration' },
        { name: 'vertical-acceleration-axis' },
      ],
    }));
    const { agent, sensor } = await probe({
      platformConfig: validatePlatformConfig({ ...config, devices: [], sensors }),
      // One 68-byte name per 128-byte message: the second part's entry (offset 12) names axis 5.
      platformFaults: [onCommand(SensorMessageId.AXIS_NAME_GET, corrupt(12, le32(5)), 2)],
    });
    const imu = sensor.domains.info(0);
    expect(imu.axes.map((a) => a.name)).toEqual([
      'longitudinal-acceleration',
      'lateral-acceler',
      'vertical-accele',
    ]);
    expect(imu.axisNamesError).toMatchObject({ code: 'E_AXIS_ID' });
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
  });

  it('keeps the short name when SENSOR_NAME_GET fails', async () => {
    const { sensor } = await probe({
      platformFaults: [onCommand(SensorMessageId.NAME_GET, corrupt(4, DENIED))],
    });
    const imu = sensor.domains.info(3);
    expect(imu.name).toBe('imu-acceleromet');
    expect(imu.nameError).toBeInstanceOf(ScmiStatusError);
  });

  it('keeps no update intervals when SENSOR_LIST_UPDATE_INTERVALS gives a bad triplet', async () => {
    const { agent, sensor } = await probe({
      // gpu-current's segmented triplet announces 2 returned.
      platformFaults: [
        onCommand(SensorMessageId.LIST_UPDATE_INTERVALS, corrupt(8, le32(2 | (1 << 12))), 3),
      ],
    });
    const gpu = sensor.domains.info(2);
    expect(gpu.updateIntervals).toBeUndefined();
    expect(gpu.intervalsError).toMatchObject({ code: 'E_SEGMENTED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ sensor: 1 });
    // NOT_SUPPORTED (sensors 0 and 1) is no error: they have none.
    expect(sensor.domains.info(0)).not.toHaveProperty('intervalsError');
  });

  it('reads the version 1.0 layouts: update interval in the descriptor, readings without timestamps', async () => {
    const { sensor } = await probe({
      // PROTOCOL_VERSION says 1.0.
      platformFaults: [onCommand(0x0, corrupt(8, le32(0x10000)))],
    });
    expect(sensor.version).toBe(0x10000);
    const gpu = sensor.domains.info(2);
    // From attributes_high 31:22 (0 here), not SENSOR_LIST_UPDATE_INTERVALS.
    expect(gpu.updateIntervals).toEqual({
      segmented: false,
      intervals: [{ secs: 0, exponent: 0 }],
    });
    // No SENSOR_NAME_GET before 3.0: the short name.
    expect(sensor.domains.info(3).name).toBe('imu-acceleromet');
    // One value, no timestamp.
    const readings = await sensor.read(3, { async: false });
    expect(readings).toEqual([{ value: expect.any(BigInt) as bigint, timestamp: 0n }]);
  });

  it('reads synchronously on a wire without a P2A channel, where no delayed response can come', async () => {
    const { h, sensor } = await probe({ wire: { a2p: [0], p2a: [] } });
    expect(sensor.attributes).toMatchObject({
      maxPendingAsync: 0,
      tripPointNotify: false,
      continuousUpdateNotify: false,
    });
    expect(sensor.domains.info(0)).toMatchObject({ asyncRead: false, continuousUpdates: false });
    expect(sensor.domains.info(2).continuousUpdates).toBe(false);
    await sensor.read(0);
    expect(h.platform.counters.delayedResponsesPosted).toBe(0);
    // Asked for: refused by core, nothing sent.
    await expect(sensor.read(0, { async: true })).rejects.toMatchObject({
      code: 'E_NOT_SUPPORTED',
    });
  });

  it('refuses every command once the agent is removed', async () => {
    const { agent, sensor } = await probe();
    await agent.remove();
    await expect(sensor.read(1)).rejects.toBeInstanceOf(RevokedError);
    await expect(sensor.configGet(1)).rejects.toBeInstanceOf(RevokedError);
  });

  it('decodes SENSOR_TRIP_POINT_EVENT and refuses a short payload', () => {
    const payload = new Uint8Array([...le32(2), ...le32(1), ...le32(0x10003)]);
    expect(decodeSensorTripPointEvent(payload)).toEqual({
      agentId: 2,
      sensorId: 1,
      tripPointId: 3,
      ascending: true,
      desc: 0x10003,
    });
    expect(
      decodeSensorTripPointEvent(new Uint8Array([...le32(0), ...le32(1), ...le32(1)])),
    ).toMatchObject({
      ascending: false,
    });
    expect(() => decodeSensorTripPointEvent(payload.subarray(0, 8))).toThrow(ScmiMalformedError);
  });

  it('decodes SENSOR_UPDATE readings and refuses a payload that ends inside one', () => {
    const payload = new Uint8Array([
      ...le32(0),
      ...le32(3),
      ...le64(-5n),
      ...le64(10n),
      ...le64(2n ** 63n - 1n),
      ...le64(2n ** 64n - 1n),
    ]);
    expect(decodeSensorUpdate(payload)).toEqual({
      agentId: 0,
      sensorId: 3,
      readings: [
        { value: -5n, timestamp: 10n },
        { value: 2n ** 63n - 1n, timestamp: 2n ** 64n - 1n },
      ],
    });
    expect(() => decodeSensorUpdate(payload.subarray(0, 30))).toThrow(ScmiMalformedError);
    expect(() => decodeSensorUpdate(payload.subarray(0, 8))).toThrow(ScmiMalformedError);
  });
});
