import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  SensorMessageId,
  SensorNotificationId,
  createDefaultPlatformConfig,
  sensorReading,
  type PlatformConfig,
  type SensorConfig,
} from '@scmi-ts/platform';
import { Harness, decodePosted, defined, type FakeLink } from './support/harness';

const SOC_TEMP = defined(createDefaultPlatformConfig().sensors?.[0]).value;

const SENSOR = ScmiProtocolId.SENSOR;

/** A platform with one agent (1, sensor protocol only) and `sensors`. */
function sensorHarness(sensors: SensorConfig[]): Harness {
  return new Harness({
    vendor: 'v',
    subVendor: 's',
    implementationVersion: 0,
    agents: [{ id: 1, name: 'a', protocols: ['sensor'] }],
    sensors,
  });
}

function config(): PlatformConfig {
  const base = createDefaultPlatformConfig();
  return {
    ...base,
    agents: [
      ...base.agents,
      { id: 3, name: 'limited', protocols: ['sensor'], domains: { sensor: [0] } },
    ],
  };
}

interface Descriptor {
  id: number;
  low: number;
  high: number;
  name: string;
}

function describeSensors(h: Harness): { sensors: Descriptor[]; calls: number } {
  const sensors: Descriptor[] = [];
  let calls = 0;
  for (;;) {
    const a = h.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [sensors.length]);
    calls++;
    expect(a.status).toBe(ScmiStatus.SUCCESS);
    const returned = a.r.u16();
    const remaining = a.r.u16();
    for (let i = 0; i < returned; i++) {
      sensors.push({ id: a.r.u32(), low: a.r.u32(), high: a.r.u32(), name: a.r.string(16) });
    }
    expect(a.r.remaining).toBe(0);
    if (remaining === 0) return { sensors, calls };
  }
}

function reading(words: number[], at = 0): number {
  return Number(
    BigInt.asIntN(64, (BigInt(defined(words[at + 1])) << 32n) | BigInt(defined(words[at]))),
  );
}

describe('Sensor protocol (0x15)', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness(config(), { behaviour: { sensorPollMs: 10 } });
    h.connect(1);
    h.connect(3);
  });
  afterEach(() => {
    h.close();
  });

  it('should report version 3.1 (SCMI v3.2), four sensors and the async limit', () => {
    expect(h.call(SENSOR, 0x0).words).toEqual([0x30001]);
    expect(h.call(SENSOR, 0x1).words).toEqual([4 | (8 << 16), 0, 0, 0]);
    for (const id of [3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0x10]) {
      expect(h.call(SENSOR, 0x2, [id]).words).toEqual([0]);
    }
    expect(h.call(SENSOR, 0x2, [0xe]).status).toBe(ScmiStatus.NOT_FOUND);
  });

  describe('SENSOR_DESCRIPTION_GET', () => {
    it('should describe every sensor', () => {
      const { sensors, calls } = describeSensors(h);
      expect(calls).toBe(1);
      expect(sensors).toEqual([
        { id: 0, low: 0x80000002, high: 2 | ((-3 & 0x1f) << 11), name: 'soc-temp' },
        { id: 1, low: 0, high: 5 | ((-3 & 0x1f) << 11), name: 'cpu-volt' },
        { id: 2, low: 1 | (1 << 30), high: 6 | ((-3 & 0x1f) << 11), name: 'gpu-current' },
        {
          id: 3,
          // continuous updates, extended name, timestamps in µs
          low: (1 << 30) | (1 << 29) | (1 << 9) | ((-6 & 0x1f) << 10),
          high: 0x59 | ((-3 & 0x1f) << 11) | (1 << 8) | (3 << 16), // 3 axes
          name: 'imu-acceleromet',
        },
      ]);
    });

    it('should split by maxMsgSize and iterate until remaining is 0', () => {
      const tiny = new Harness(config());
      tiny.connect(1, true, 8 + 28);
      const { sensors, calls } = describeSensors(tiny);
      expect(calls).toBe(4);
      expect(sensors.map((s) => s.name)).toEqual([
        'soc-temp',
        'cpu-volt',
        'gpu-current',
        'imu-acceleromet',
      ]);
      tiny.close();
    });

    it('should return at most 0xfff descriptors per reply, reserved bits 15:12 zero, on a link that holds more', () => {
      const many: SensorConfig[] = Array.from({ length: 4200 }, (_, i) => ({
        name: `s${i}`,
        type: 2,
        value: { kind: 'constant', value: i },
      }));
      const big = sensorHarness(many);
      big.connect(1, true, 200_000);
      const first = big.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [0]);
      expect(first.status).toBe(ScmiStatus.SUCCESS);
      const flags = defined(first.words[0]);
      expect(flags & 0xfff).toBe(4095);
      expect((flags >>> 12) & 0xf).toBe(0);
      expect(flags >>> 16).toBe(4200 - 4095);
      expect(first.words).toHaveLength(1 + 7 * 4095);
      const { sensors, calls } = describeSensors(big);
      expect(calls).toBe(2);
      expect(sensors).toHaveLength(4200);
      expect(sensors[4199]?.name).toBe('s4199');
      big.close();
    });

    it('should answer INVALID_PARAMETERS from the end on (as SCP-firmware and scmi-tests)', () => {
      expect(h.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [3]).words[0]).toBe(1);
      expect(h.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [4]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [5]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
    });

    it('should not advertise async reads without a P2A channel', () => {
      expect((h.call(SENSOR, 0x1).words[0] ?? 0) >>> 16).toBe(8);
      const noP2a = new Harness(config());
      noP2a.connect(1, false);
      expect(describeSensors(noP2a).sensors[0]?.low).toBe(2);
      // Nor pending asynchronous readings in PROTOCOL_ATTRIBUTES (bits 23:16).
      expect((noP2a.call(SENSOR, 0x1).words[0] ?? 0) >>> 16).toBe(0);
      noP2a.close();
    });
  });

  describe('SENSOR_READING_GET', () => {
    it('should read the generator value synchronously, with a zero timestamp', async () => {
      await h.clock.advance(600);
      const a = h.call(SENSOR, SensorMessageId.READING_GET, [1, 0]);
      expect(a.words).toEqual([850, 0, 0, 0]);
      const temp = h.call(SENSOR, SensorMessageId.READING_GET, [0, 0]);
      const expected = sensorReading(SOC_TEMP, 600, 1 + 0);
      expect(reading(temp.words)).toBe(expected);
      expect(h.platform.snapshot().sensors[0]).toEqual({ enabled: true, reading: expected });
    });

    it('should encode negative readings in two complement', () => {
      const neg = sensorHarness([
        { name: 'cold', type: 2, value: { kind: 'constant', value: -40 } },
      ]);
      neg.connect(1);
      expect(neg.call(SENSOR, SensorMessageId.READING_GET, [0, 0]).words).toEqual([
        0xffffffd8, 0xffffffff, 0, 0,
      ]);
      neg.close();
    });

    it('should read asynchronously with delayed response 0x6 after the read latency', async () => {
      const link = h.link(1);
      h.send(1, SENSOR, SensorMessageId.READING_GET, [0, 1], 9);
      await h.clock.advance(1);
      expect(link.posted).toHaveLength(0);
      await h.clock.advance(1);
      const [delayed] = link.messages;
      expect(delayed).toMatchObject({ type: 2, protocolId: SENSOR, messageId: 6, token: 9 });
      expect(delayed?.words.slice(0, 2)).toEqual([0, 0]); // status, sensor id
      expect(reading(defined(delayed).words, 2)).toBe(sensorReading(SOC_TEMP, 2, 1));
    });

    it('should answer NOT_SUPPORTED to async reads of sensors without it or without P2A', () => {
      expect(h.call(SENSOR, SensorMessageId.READING_GET, [1, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      const noP2a = new Harness(config());
      noP2a.connect(1, false);
      expect(noP2a.call(SENSOR, SensorMessageId.READING_GET, [0, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      noP2a.close();
    });

    it('should refuse an asynchronous read whose delayed response cannot fit the link as not supported (not advertised there)', async () => {
      const small = new Harness(config());
      const link = small.connect(1, true, 20); // status + one axis fit; sensor id + axis do not
      expect(small.call(SENSOR, SensorMessageId.READING_GET, [0, 0]).status).toBe(0);
      expect(small.call(SENSOR, SensorMessageId.READING_GET, [0, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      await small.clock.advance(10);
      expect(link.posted).toHaveLength(0); // nothing accepted, nothing delayed
      small.close();
    });

    it('should advertise no pending asynchronous readings (PROTOCOL_ATTRIBUTES 23:16) on a P2A link no delayed response fits, as SCP-firmware advertises 0 where it refuses them', () => {
      // soc-temp, the only asynchronous sensor: sensor_id + one 16-byte reading after the status.
      const pending = (maxMsgSize: number): [number, number] => {
        const hh = new Harness(config());
        hh.connect(1, true, maxMsgSize);
        const attributes = hh.call(SENSOR, 0x1);
        expect(attributes.status).toBe(ScmiStatus.SUCCESS);
        const read = hh.call(SENSOR, SensorMessageId.READING_GET, [0, 1]).status;
        hh.close();
        return [(defined(attributes.words[0]) >>> 16) & 0xff, read];
      };
      expect(pending(4 + 4 + 16 - 1)).toEqual([0, ScmiStatus.NOT_SUPPORTED]);
      expect(pending(4 + 4 + 16)).toEqual([8, ScmiStatus.SUCCESS]);
    });

    it('should advertise no pending asynchronous readings when no sensor reads asynchronously', () => {
      const sync = sensorHarness([{ name: 's', type: 2, value: { kind: 'constant', value: 1 } }]);
      sync.connect(1);
      expect(sync.call(SENSOR, 0x1).words).toEqual([1, 0, 0, 0]);
      expect(sync.call(SENSOR, SensorMessageId.READING_GET, [0, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      sync.close();
    });

    it('should answer BUSY beyond the pending asynchronous limit', () => {
      const busy = new Harness(config(), { behaviour: { maxPendingAsync: 1 } });
      busy.connect(1);
      expect(busy.call(SENSOR, SensorMessageId.READING_GET, [0, 1]).status).toBe(0);
      expect(busy.call(SENSOR, SensorMessageId.READING_GET, [0, 1]).status).toBe(ScmiStatus.BUSY);
      busy.close();
    });

    it('should reject bad sensors, flags, permissions and sizes', () => {
      const read = (p: number[], agent = 1): number =>
        h.call(SENSOR, SensorMessageId.READING_GET, p, agent).status;
      expect(read([4, 0])).toBe(ScmiStatus.NOT_FOUND);
      expect(read([0, 2])).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(read([1, 0], 3)).toBe(ScmiStatus.DENIED);
      expect(read([0, 0], 3)).toBe(0);
      expect(read([0])).toBe(ScmiStatus.PROTOCOL_ERROR);
    });
  });

  describe('SENSOR_CONFIG_GET / SENSOR_CONFIG_SET', () => {
    it('should disable and enable a sensor', () => {
      expect(h.call(SENSOR, SensorMessageId.CONFIG_GET, [1]).words).toEqual([1]);
      expect(h.call(SENSOR, SensorMessageId.CONFIG_SET, [1, 0]).status).toBe(0);
      expect(h.call(SENSOR, SensorMessageId.CONFIG_GET, [1]).words).toEqual([0]);
      expect(h.platform.snapshot().sensors[1]?.enabled).toBe(false);
    });

    it('should answer NOT_SUPPORTED to readings of a disabled sensor, synchronous or asynchronous, accept nothing, and read it again once enabled', async () => {
      const read = (flags: number, agent = 1): number =>
        h.call(SENSOR, SensorMessageId.READING_GET, [0, flags], agent).status;
      expect(h.call(SENSOR, SensorMessageId.CONFIG_SET, [0, 0]).status).toBe(0);
      expect(read(0)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(read(0, 3)).toBe(ScmiStatus.NOT_SUPPORTED); // the sensor, not the agent, is off
      expect(read(1)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect([h.platform.armedTimers, h.platform.pendingOperations]).toEqual([0, 0]);
      await h.clock.advance(10);
      expect(h.link(1).posted).toHaveLength(0); // no delayed response
      // Still checked first: the sensor, the flags, the permission.
      expect(h.call(SENSOR, SensorMessageId.READING_GET, [0, 2]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(SENSOR, SensorMessageId.CONFIG_SET, [0, 1]).status).toBe(0);
      expect(read(0)).toBe(0);
      expect(read(1)).toBe(0);
    });

    it('should reject unsupported configuration bits, bad sensors and denied ones', () => {
      // Timestamp reporting and an update interval: configuration the sensor does not support.
      expect(h.call(SENSOR, SensorMessageId.CONFIG_SET, [1, 2 | 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      expect(h.call(SENSOR, SensorMessageId.CONFIG_SET, [1, (5 << 16) | 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      expect(h.call(SENSOR, SensorMessageId.CONFIG_SET, [1, 1 | (1 << 2)]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS, // reserved bits 8:2
      );
      expect(h.call(SENSOR, SensorMessageId.CONFIG_GET, [1]).words).toEqual([1]);
      expect(h.call(SENSOR, SensorMessageId.CONFIG_SET, [7, 1]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(SENSOR, SensorMessageId.CONFIG_GET, [1], 3).status).toBe(ScmiStatus.DENIED);
      expect(h.call(SENSOR, SensorMessageId.CONFIG_GET, [1, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  describe('trip points', () => {
    const config = (
      h: Harness,
      sensor: number,
      mode: number,
      trip: number,
      value: number,
      agent = 1,
    ): number =>
      h.call(
        SENSOR,
        SensorMessageId.TRIP_POINT_CONFIG,
        [sensor, mode | (trip << 4), value >>> 0, value < 0 ? 0xffffffff : 0],
        agent,
      ).status;

    it('should notify the subscribed agent when the reading crosses a trip point', async () => {
      // gpu-current ramps 100 → 3000 over 5 s, then starts again at 100.
      expect(config(h, 2, 1, 0, 1000)).toBe(0);
      expect(h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 1]).status).toBe(0);
      expect(h.platform.subscriptions(1)).toEqual([
        { protocolId: SENSOR, notificationId: SensorNotificationId.TRIP_POINT_EVENT, domainId: 2 },
      ]);
      await h.clock.advance(1500);
      expect(h.links.get(1)?.posted).toHaveLength(0);
      await h.clock.advance(100);
      // agent_id 0: the platform caused the event, not an agent (SCP-firmware's
      // scmi_sensor_notify_trip_point).
      expect(h.links.get(1)?.messages).toEqual([
        { type: 3, protocolId: SENSOR, messageId: 0, token: 0, words: [0, 2, (1 << 16) | 0] },
      ]);
      await h.clock.advance(5000); // wraps down through 1000 (mode 1: ascending only), up again
      expect(h.links.get(1)?.posted).toHaveLength(2);
      expect(h.links.get(3)?.posted).toHaveLength(0);
    });

    it('should enable SENSOR_TRIP_POINT_EVENT only on a link it fits (12 bytes), and accept a disable on a smaller one', async () => {
      const harness = (maxMsgSize: number): [Harness, FakeLink] => {
        const hh = new Harness(createDefaultPlatformConfig(), { behaviour: { sensorPollMs: 10 } });
        return [hh, hh.connect(1, true, maxMsgSize)];
      };
      const [fits, fitsLink] = harness(12);
      expect(config(fits, 2, 1, 0, 1000)).toBe(0);
      expect(fits.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 1]).status).toBe(0);
      await fits.clock.advance(1600);
      expect(fitsLink.messages.map((m) => m.words)).toEqual([[0, 2, 1 << 16]]);
      expect(fits.platform.counters.notificationsDropped).toBe(0);
      fits.close();
      const [small, smallLink] = harness(11);
      expect(config(small, 2, 1, 0, 1000)).toBe(0);
      expect(small.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      expect(small.platform.subscriptions(1)).toEqual([]);
      expect(small.platform.armedTimers).toBe(0); // nothing sampled for nobody
      expect(small.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 0]).status).toBe(0);
      await small.clock.advance(1600);
      expect(smallLink.posted).toHaveLength(0);
      expect(small.platform.counters.notificationsDropped).toBe(0);
      small.close();
    });

    it('should report descending crossings in mode 2 and 3', async () => {
      config(h, 2, 2, 0, 1000);
      h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 1]);
      await h.clock.advance(5010);
      expect(h.links.get(1)?.messages.map((m) => m.words)).toEqual([[0, 2, 0]]);
      config(h, 2, 3, 0, 1000);
      await h.clock.advance(2000);
      expect(h.links.get(1)?.posted).toHaveLength(2);
    });

    it('should stop sampling when the trip point is removed or the agent unsubscribes', () => {
      config(h, 2, 1, 0, 1000);
      expect(h.platform.armedTimers).toBe(0); // not subscribed yet
      h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 1]);
      expect(h.platform.armedTimers).toBe(1);
      config(h, 2, 0, 0, 0);
      expect(h.platform.armedTimers).toBe(0);
      config(h, 2, 1, 0, 1000);
      expect(h.platform.armedTimers).toBe(1);
      h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 0]);
      expect(h.platform.armedTimers).toBe(0);
      h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 1]);
      h.connections.get(1)?.disconnect();
      expect(h.platform.armedTimers).toBe(0);
      expect(h.clock.armedTimers).toBe(0);
    });

    it('should not report a crossing that happened while the agent did not watch the sensor, even with another sensor watched meanwhile', async () => {
      expect(config(h, 2, 1, 0, 1000)).toBe(0);
      expect(h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 1]).status).toBe(0);
      // Another sensor keeps the monitor running, never crossing its trip point.
      expect(config(h, 0, 1, 0, 2_000_000_000)).toBe(0);
      expect(h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [0, 1]).status).toBe(0);
      await h.clock.advance(500); // gpu-current ≈ 390
      expect(h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 0]).status).toBe(0);
      await h.clock.advance(1500); // ≈ 1260: it crossed 1000 while nobody watched
      expect(h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [2, 1]).status).toBe(0);
      await h.clock.advance(1000);
      expect(h.links.get(1)?.posted).toHaveLength(0);
      await h.clock.advance(4000); // wraps to 100 and crosses 1000 again, watched: reported
      expect(h.links.get(1)?.messages.map((m) => m.words)).toEqual([[0, 2, (1 << 16) | 0]]);
    });

    /** One sensor stepping through `values` every 100 ms, one trip point, sampled every 100 ms. */
    function stepping(values: number[]): Harness {
      const hh = new Harness(
        {
          vendor: 'v',
          subVendor: 's',
          implementationVersion: 0,
          agents: [{ id: 1, name: 'a', protocols: ['sensor'] }],
          sensors: [
            {
              name: 'steps',
              type: 2,
              value: { kind: 'sequence', values, intervalMs: 100 },
              tripPoints: 1,
            },
          ],
        },
        { behaviour: { sensorPollMs: 100 } },
      );
      hh.connect(1);
      return hh;
    }
    /** The trip_point_desc of each SENSOR_TRIP_POINT_EVENT posted to agent 1. */
    const trips = (hh: Harness): number[] => hh.link(1).messages.map((m) => defined(m.words[2]));
    const UP = 1 << 16;
    const DOWN = 0;

    it('should cross as SCP-firmware trip_point_evaluate does: up from ≤ T to > T, down from > T to ≤ T', async () => {
      // Samples at 150, 250, … ms: 10, 20, 10, 20, 10, 0 after 0 at 50 ms; threshold 10.
      const hh = stepping([0, 10, 20, 10, 20, 10, 0]);
      await hh.clock.advance(50);
      expect(config(hh, 0, 3, 0, 10)).toBe(0);
      expect(hh.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [0, 1]).status).toBe(0);
      await hh.clock.advance(100); // 0 → 10: reaching the threshold is not being above it
      expect(trips(hh)).toEqual([]);
      await hh.clock.advance(500);
      expect(trips(hh)).toEqual([UP, DOWN, UP, DOWN]); // 10 → 20 up, 20 → 10 down, …; 10 → 0 none
      hh.close();
    });

    it('should not sample the trip points of a disabled sensor, and start from a fresh sample once enabled', async () => {
      // 0 until 100 ms, 20 until 200 ms, then again; threshold 10, both directions.
      const hh = stepping([0, 20]);
      await hh.clock.advance(50);
      expect(config(hh, 0, 3, 0, 10)).toBe(0);
      expect(hh.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [0, 1]).status).toBe(0);
      expect(hh.platform.armedTimers).toBe(1); // the trip-point monitor
      expect(hh.call(SENSOR, SensorMessageId.CONFIG_SET, [0, 0]).status).toBe(0);
      expect(hh.platform.armedTimers).toBe(0); // not sampled while disabled
      await hh.clock.advance(1000); // crosses 10 both ways every 100 ms
      expect(trips(hh)).toEqual([]);
      expect(hh.platform.subscriptions(1)).toHaveLength(1); // kept
      // At 1050 ms the reading is 0 (a fresh sample); at 1150 ms 20: one crossing up.
      expect(hh.call(SENSOR, SensorMessageId.CONFIG_SET, [0, 1]).status).toBe(0);
      expect(hh.platform.armedTimers).toBe(1);
      await hh.clock.advance(100);
      expect(trips(hh)).toEqual([UP]);
      hh.close();
    });

    it('should keep trip points per agent', async () => {
      config(h, 0, 3, 0, 45_000, 3);
      h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [0, 1], 3);
      h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [0, 1], 1);
      await h.clock.advance(10_000);
      const events = h.links.get(3)?.messages ?? [];
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events.every((e) => e.words[0] === 0 && e.words[1] === 0)).toBe(true);
      expect(h.links.get(1)?.posted).toHaveLength(0);
    });

    it('should answer NOT_SUPPORTED to SENSOR_TRIP_POINT_CONFIG and to enabling SENSOR_TRIP_POINT_NOTIFY for a sensor without trip points (DEN0056 §4.7.2.8/9), after NOT_FOUND, DENIED and the reserved bits', () => {
      // cpu-volt (sensor 1) has no trip points.
      expect(config(h, 1, 1, 0, 1)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(config(h, 1, 0, 0, 0)).toBe(ScmiStatus.NOT_SUPPORTED); // a disarm too
      expect(config(h, 1, 1 | 4, 0, 1)).toBe(ScmiStatus.INVALID_PARAMETERS); // reserved bits first
      expect(config(h, 1, 1, 0, 1, 3)).toBe(ScmiStatus.DENIED);
      expect(config(h, 4, 1, 0, 1)).toBe(ScmiStatus.NOT_FOUND);
      const notify = (sensor: number, enable: number, agent = 1): number =>
        h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [sensor, enable], agent).status;
      expect(notify(1, 1)).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(h.platform.subscriptions(1)).toEqual([]);
      // As SENSOR_CONTINUOUS_UPDATE_NOTIFY: the flag first, and a disable (it can post nothing)
      // is accepted.
      expect(notify(1, 2)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(notify(1, 0)).toBe(ScmiStatus.SUCCESS);
      expect(notify(1, 1, 3)).toBe(ScmiStatus.DENIED);
      expect(notify(4, 1)).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [1]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.call(SENSOR, SensorMessageId.TRIP_POINT_CONFIG, [1, 1, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.platform.armedTimers).toBe(0);
    });

    it('should reject bad trip ids, reserved bits, denied sensors and notify without P2A', () => {
      expect(config(h, 0, 1, 2, 1)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(config(h, 0, 1 | 4, 0, 1)).toBe(ScmiStatus.INVALID_PARAMETERS);
      expect(config(h, 2, 1, 0, 1, 3)).toBe(ScmiStatus.DENIED);
      expect(config(h, 5, 1, 0, 1)).toBe(ScmiStatus.NOT_FOUND);
      expect(config(h, 0, 1, 0, -5)).toBe(0);
      expect(h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [0, 5]).status).toBe(
        ScmiStatus.INVALID_PARAMETERS,
      );
      expect(h.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [1, 1], 3).status).toBe(
        ScmiStatus.DENIED,
      );
      const noP2a = new Harness(createDefaultPlatformConfig());
      noP2a.connect(1, false);
      expect(noP2a.call(SENSOR, SensorMessageId.TRIP_POINT_NOTIFY, [0, 1]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
      noP2a.close();
    });
  });

  describe('SENSOR_NAME_GET', () => {
    it('should return the full name of every sensor, also to agents that may not use it', () => {
      const a = h.call(SENSOR, SensorMessageId.NAME_GET, [3]);
      expect(a.r.u32()).toBe(0);
      expect(a.r.string(64)).toBe('imu-accelerometer');
      expect(a.bytes.byteLength).toBe(8 + 4 + 64);
      const named = h.call(SENSOR, SensorMessageId.NAME_GET, [1], 3);
      named.r.u32();
      expect(named.r.string(64)).toBe('cpu-volt');
    });

    it('should answer NOT_FOUND for an unknown sensor and PROTOCOL_ERROR for a bad size', () => {
      expect(h.call(SENSOR, SensorMessageId.NAME_GET, [4]).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(SENSOR, SensorMessageId.NAME_GET, [0, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  describe('multi-axis sensors', () => {
    interface Axis {
      id: number;
      low: number;
      high: number;
      name: string;
    }

    function describeAxes(hh: Harness, sensor: number): { axes: Axis[]; calls: number } {
      const axes: Axis[] = [];
      let calls = 0;
      for (;;) {
        const a = hh.call(SENSOR, SensorMessageId.AXIS_DESCRIPTION_GET, [sensor, axes.length]);
        calls++;
        expect(a.status).toBe(ScmiStatus.SUCCESS);
        const flags = a.r.u32();
        for (let i = 0; i < (flags & 0x3f); i++) {
          axes.push({ id: a.r.u32(), low: a.r.u32(), high: a.r.u32(), name: a.r.string(16) });
        }
        expect(a.r.remaining).toBe(0);
        if (flags >>> 26 === 0) return { axes, calls };
      }
    }

    function axisNames(hh: Harness, sensor: number): { names: [number, string][]; calls: number } {
      const names: [number, string][] = [];
      let calls = 0;
      for (;;) {
        const a = hh.call(SENSOR, SensorMessageId.AXIS_NAME_GET, [sensor, names.length]);
        calls++;
        expect(a.status).toBe(ScmiStatus.SUCCESS);
        const flags = a.r.u32();
        for (let i = 0; i < (flags & 0x3f); i++) names.push([a.r.u32(), a.r.string(64)]);
        expect(a.r.remaining).toBe(0);
        if (flags >>> 26 === 0) return { names, calls };
      }
    }

    const ms2 = 0x59 | ((-3 & 0x1f) << 11);

    it('should describe every axis in one reply when it fits', () => {
      expect(describeAxes(h, 3)).toEqual({
        axes: [
          { id: 0, low: 0, high: ms2, name: 'x' },
          { id: 1, low: 0, high: ms2, name: 'y' },
          { id: 2, low: 0, high: ms2, name: 'z' },
        ],
        calls: 1,
      });
      expect(h.call(SENSOR, SensorMessageId.AXIS_DESCRIPTION_GET, [3, 0]).words[0]).toBe(3);
    });

    it('should split axis descriptions by maxMsgSize, counting the remaining ones in 31:26', () => {
      const tiny = new Harness(config());
      tiny.connect(1, true, 8 + 28);
      expect(tiny.call(SENSOR, SensorMessageId.AXIS_DESCRIPTION_GET, [3, 0]).words[0]).toBe(
        1 | (2 << 26),
      );
      expect(describeAxes(tiny, 3).calls).toBe(3);
      tiny.close();
    });

    it('should return every axis name, one per reply on a 128-byte link', () => {
      expect(axisNames(h, 3)).toEqual({
        names: [
          [0, 'x'],
          [1, 'y'],
          [2, 'z'],
        ],
        calls: 3,
      });
      expect(h.call(SENSOR, SensorMessageId.AXIS_NAME_GET, [3, 1]).words[0]).toBe(1 | (1 << 26));
    });

    it('should answer INVALID_PARAMETERS from the end on (as SCP-firmware), NOT_SUPPORTED for scalar sensors', () => {
      for (const id of [SensorMessageId.AXIS_DESCRIPTION_GET, SensorMessageId.AXIS_NAME_GET]) {
        expect(h.call(SENSOR, id, [3, 2]).status).toBe(ScmiStatus.SUCCESS);
        expect(h.call(SENSOR, id, [3, 3]).status).toBe(ScmiStatus.INVALID_PARAMETERS);
        expect(h.call(SENSOR, id, [3, 4]).status).toBe(ScmiStatus.INVALID_PARAMETERS);
        expect(h.call(SENSOR, id, [0, 0]).status).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(h.call(SENSOR, id, [4, 0]).status).toBe(ScmiStatus.NOT_FOUND);
        expect(h.call(SENSOR, id, [3]).status).toBe(ScmiStatus.PROTOCOL_ERROR);
        expect(h.call(SENSOR, id, [3, 0], 3).status).toBe(ScmiStatus.SUCCESS); // discovery
      }
    });

    it('should read every axis, each with its own generator', async () => {
      await h.clock.advance(500); // x: sine at a quarter period, y a quarter later, z constant
      expect(h.call(SENSOR, SensorMessageId.READING_GET, [3, 0]).words).toEqual([
        500, 0, 500_000, 0, 0, 0, 500_000, 0, 9807, 0, 500_000, 0,
      ]);
      expect(h.platform.snapshot().sensors[3]?.reading).toBe(500); // the first axis
      expect(h.call(SENSOR, SensorMessageId.READING_GET, [3, 0], 3).status).toBe(ScmiStatus.DENIED);
    });

    describe('with long axis names and many axes', () => {
      let wide: Harness;
      beforeEach(() => {
        wide = sensorHarness([
          {
            name: 'array',
            type: 2,
            value: { kind: 'constant', value: 7 },
            axes: [
              { name: 'a-rather-long-axis-name' },
              ...Array.from({ length: 7 }, (_, i) => ({ name: `t${i}`, type: 3 })),
            ],
            asyncRead: true,
          },
        ]);
        wide.connect(1);
      });
      afterEach(() => {
        wide.close();
      });

      it('should announce extended axis names on the sensor and on the axis', () => {
        const d = wide.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [0]);
        expect(d.words[3]).toBe(2 | (1 << 8) | (1 << 9) | (8 << 16));
        const { axes } = describeAxes(wide, 0);
        expect(axes.map((a) => [a.low, a.high & 0xff, a.name])).toEqual([
          [1 << 9, 2, 'a-rather-long-a'],
          ...Array.from({ length: 7 }, (_, i) => [0, 3, `t${i}`]),
        ]);
        expect(axisNames(wide, 0).names[0]).toEqual([0, 'a-rather-long-axis-name']);
      });

      it('should answer PROTOCOL_ERROR when the readings do not fit the link', () => {
        expect(wide.call(SENSOR, SensorMessageId.READING_GET, [0, 0]).status).toBe(
          ScmiStatus.PROTOCOL_ERROR,
        );
        const big = new Harness(wide.platform.config);
        big.connect(1, true, 4 + 8 * 16);
        expect(big.call(SENSOR, SensorMessageId.READING_GET, [0, 0]).words).toHaveLength(32);
        big.close();
      });

      it('should advertise asynchronous reading only on a link its delayed response fits', () => {
        // Bit 31 of the sensor attributes (low); 8 axes: sensor_id and 8 × 16 bytes after the status, 136 bytes > 128.
        const low = (hh: Harness): number =>
          defined(hh.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [0]).words[2]);
        expect(low(wide) >>> 31).toBe(0);
        expect(wide.call(SENSOR, SensorMessageId.READING_GET, [0, 1]).status).toBe(
          ScmiStatus.NOT_SUPPORTED,
        );
        const fits = new Harness(wide.platform.config);
        fits.connect(1, true, 4 + 4 + 8 * 16);
        expect(low(fits) >>> 31).toBe(1);
        fits.close();
        const short = new Harness(wide.platform.config);
        short.connect(1, true, 4 + 4 + 8 * 16 - 1);
        expect(low(short) >>> 31).toBe(0);
        short.close();
      });

      it('should put every axis in the delayed response', async () => {
        const big = new Harness(wide.platform.config);
        const link = big.connect(1, true, 4 + 4 + 8 * 16);
        expect(big.call(SENSOR, SensorMessageId.READING_GET, [0, 1]).status).toBe(0);
        await big.clock.advance(1);
        expect(link.messages[0]?.words.slice(0, 2)).toEqual([0, 0]); // status, sensor id
        expect(link.messages[0]?.words).toHaveLength(2 + 8 * 4);
        big.close();
      });
    });
  });

  describe('timestamps', () => {
    it('should timestamp readings in µs since the platform started, while reporting is on', async () => {
      await h.clock.advance(1234);
      const interval = (1 << 16) | ((-1 & 0x1f) << 11); // 100 ms = 1 × 10^-1 s
      expect(h.call(SENSOR, SensorMessageId.CONFIG_GET, [3]).words).toEqual([interval | 3]);
      const on = h.call(SENSOR, SensorMessageId.READING_GET, [3, 0]).words;
      expect([on[2], on[3], on[6], on[10]]).toEqual([1_234_000, 0, 1_234_000, 1_234_000]);
      expect(h.call(SENSOR, SensorMessageId.CONFIG_SET, [3, 1]).status).toBe(0);
      expect(h.call(SENSOR, SensorMessageId.CONFIG_GET, [3]).words).toEqual([interval | 1]);
      const off = h.call(SENSOR, SensorMessageId.READING_GET, [3, 0]).words;
      expect([off[2], off[3], off[6], off[10]]).toEqual([0, 0, 0, 0]);
      expect(h.call(SENSOR, SensorMessageId.CONFIG_SET, [3, 3]).status).toBe(0);
      expect(h.call(SENSOR, SensorMessageId.READING_GET, [3, 0]).words[2]).toBe(1_234_000);
    });

    it('should leave the timestamp words 0 on sensors without timestamps', async () => {
      await h.clock.advance(100);
      expect(h.call(SENSOR, SensorMessageId.READING_GET, [1, 0]).words.slice(2)).toEqual([0, 0]);
    });

    it('should scale timestamps by the configured exponent, into 64 bits', async () => {
      const sensor = (timestampExponent: number): SensorConfig => ({
        name: `ts${timestampExponent}`,
        type: 2,
        value: { kind: 'constant', value: 1 },
        timestamps: true,
        timestampExponent,
        asyncRead: true,
      });
      const t = sensorHarness([sensor(-9), sensor(0), sensor(-16)]);
      const link = t.connect(1);
      await t.clock.advance(1500);
      const ts = (id: number): bigint => {
        const w = t.call(SENSOR, SensorMessageId.READING_GET, [id, 0]).words;
        return (BigInt(defined(w[3])) << 32n) | BigInt(defined(w[2]));
      };
      expect([ts(0), ts(1), ts(2)]).toEqual([1_500_000_000n, 1n, 15_000_000_000_000_000n]);
      const d = t.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [0]).words;
      expect((defined(d[2]) >>> 9) & 0x3f).toBe(1 | ((-9 & 0x1f) << 1));
      t.send(1, SENSOR, SensorMessageId.READING_GET, [1, 1]);
      await t.clock.advance(1);
      expect(link.messages[0]?.words.slice(4)).toEqual([1, 0]); // 1.501 s → 1 s
      t.close();
    });
  });

  describe('update intervals', () => {
    /** An interval entry (20:5 sec, 4:0 exponent) in ms. */
    const entryMs = (w: number | undefined): number => {
      const e = defined(w);
      const exponent = (e & 0x10) !== 0 ? (e & 0x1f) - 32 : e & 0x1f;
      return Number((((e >>> 5) & 0xffff) * 10 ** (exponent + 3)).toPrecision(12));
    };
    /** sensor_config bits 31:11 for `sec × 10^exponent` s, plus `low`. */
    const cfg = (sec: number, exponent: number, low: number): number =>
      ((sec << 16) | ((exponent & 0x1f) << 11) | low) >>> 0;
    const setConfig = (hh: Harness, sensor: number, config: number, agent = 1): number =>
      hh.call(SENSOR, SensorMessageId.CONFIG_SET, [sensor, config], agent).status;
    const intervalOf = (hh: Harness, sensor: number): number | undefined =>
      hh.platform.snapshot().sensors[sensor]?.updateIntervalMs;

    describe('SENSOR_LIST_UPDATE_INTERVALS', () => {
      it('should list discrete intervals in the wire form sec × 10^exponent', () => {
        const a = h.call(SENSOR, SensorMessageId.LIST_UPDATE_INTERVALS, [3, 0]);
        expect(a.words).toEqual([4, (1 << 5) | 30, (2 << 5) | 30, (5 << 5) | 30, (1 << 5) | 31]);
        expect(a.words.slice(1).map(entryMs)).toEqual([10, 20, 50, 100]);
      });

      it('should split a list into parts counting the remaining ones in 31:16', () => {
        const split = new Harness(config(), { behaviour: { multiPartMax: 3 } });
        split.connect(1);
        const first = split.call(SENSOR, SensorMessageId.LIST_UPDATE_INTERVALS, [3, 0]).words;
        expect(first[0]).toBe(3 | (1 << 16));
        const second = split.call(SENSOR, SensorMessageId.LIST_UPDATE_INTERVALS, [3, 3]).words;
        expect(second.map((w, i) => (i === 0 ? w : entryMs(w)))).toEqual([1, 100]);
        split.close();
      });

      it('should answer INVALID_PARAMETERS from the end of a list on, an index equal to the count included (as the other lists)', () => {
        const list = (index: number): number =>
          h.call(SENSOR, SensorMessageId.LIST_UPDATE_INTERVALS, [3, index]).status;
        expect(list(3)).toBe(ScmiStatus.SUCCESS); // the last one
        expect(list(4)).toBe(ScmiStatus.INVALID_PARAMETERS); // = the count
        expect(list(5)).toBe(ScmiStatus.INVALID_PARAMETERS);
      });

      it('should describe a range as one segmented triplet, whatever the index', () => {
        for (const index of [0, 7]) {
          const a = h.call(SENSOR, SensorMessageId.LIST_UPDATE_INTERVALS, [2, index]).words;
          expect(a[0]).toBe(3 | (1 << 12));
          expect(a.slice(1).map(entryMs)).toEqual([100, 1000, 100]);
        }
      });

      it('should answer NOT_SUPPORTED without intervals, NOT_FOUND, PROTOCOL_ERROR; discovery for all', () => {
        const list = (p: number[], agent = 1): number =>
          h.call(SENSOR, SensorMessageId.LIST_UPDATE_INTERVALS, p, agent).status;
        expect(list([0, 0])).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(list([4, 0])).toBe(ScmiStatus.NOT_FOUND);
        expect(list([3])).toBe(ScmiStatus.PROTOCOL_ERROR);
        expect(list([3, 0], 3)).toBe(ScmiStatus.SUCCESS);
      });
    });

    describe('SENSOR_CONFIG_GET / SENSOR_CONFIG_SET', () => {
      it('should report the interval in canonical form and set one given in any form', () => {
        expect(h.call(SENSOR, SensorMessageId.CONFIG_GET, [2]).words).toEqual([cfg(5, -1, 1)]);
        expect(setConfig(h, 3, cfg(20, -3, 3))).toBe(0); // 20 ms as 20 × 10^-3 s
        expect(intervalOf(h, 3)).toBe(20);
        expect(h.call(SENSOR, SensorMessageId.CONFIG_GET, [3]).words).toEqual([cfg(2, -2, 3)]);
        expect(setConfig(h, 3, cfg(0, 5, 3))).toBe(0); // sec 0: keep the interval
        expect(intervalOf(h, 3)).toBe(20);
      });

      it('should round down by default, up with bit 9, to the nearest with bit 10', () => {
        const round = (sensor: number, ms: number, bits: number): number | undefined => {
          expect(setConfig(h, sensor, cfg(ms, -3, 1 | bits))).toBe(0);
          return intervalOf(h, sensor);
        };
        expect(round(3, 30, 0)).toBe(20);
        expect(round(3, 30, 1 << 9)).toBe(50);
        expect(round(3, 30, 1 << 10)).toBe(20);
        expect(round(3, 40, 1 << 10)).toBe(50);
        expect(round(3, 35, 1 << 10)).toBe(20); // a tie goes down
        expect(round(2, 250, 0)).toBe(200);
        expect(round(2, 250, 1 << 9)).toBe(300);
        expect(round(2, 250, 1 << 10)).toBe(200);
        expect(round(2, 260, 1 << 10)).toBe(300);
      });

      it('should report the nearest interval the config field holds when the one in force has no exact form', () => {
        // A range whose bounds and step have wire forms, but whose member 0.1 + 525 × 0.125 ms =
        // 65 725 µs needs more than the 16-bit seconds field in µs.
        const r = sensorHarness([
          {
            name: 'fine',
            type: 2,
            value: { kind: 'constant', value: 1 },
            updateIntervalsMs: { min: 0.1, max: 100, step: 0.125 },
          },
        ]);
        r.connect(1);
        expect(setConfig(r, 0, cfg(658, -4, 1))).toBe(0); // 65.8 ms, rounded down to 65.725 ms
        expect(r.platform.snapshot().sensors[0]?.updateIntervalMs).toBe(65.725);
        const got = r.call(SENSOR, SensorMessageId.CONFIG_GET, [0]);
        expect(got.status).toBe(ScmiStatus.SUCCESS);
        expect(got.words).toEqual([cfg(6573, -5, 1)]); // 65.73 ms: half up at 10 µs
        expect(r.platform.counters.handlerErrors).toBe(0);
        // An interval with an exact form is still reported exactly.
        expect(setConfig(r, 0, cfg(101, -4, 1))).toBe(0); // 10.1 ms = 0.1 + 80 × 0.125 ms
        expect(r.call(SENSOR, SensorMessageId.CONFIG_GET, [0]).words).toEqual([cfg(101, -4, 1)]);
        r.close();
      });

      it('should round to the nearest with bits 10:9 = 0b11, bit 9 ignored when bit 10 is set (DEN0056 §4.7.2.11)', () => {
        const round = (sensor: number, ms: number): number | undefined => {
          expect(setConfig(h, sensor, cfg(ms, -3, 1 | (3 << 9)))).toBe(0);
          return intervalOf(h, sensor);
        };
        expect(round(3, 30)).toBe(20); // as bit 10 alone, not up (50)
        expect(round(3, 40)).toBe(50);
        expect(round(2, 250)).toBe(200); // a range: not up (300)
        expect(round(2, 260)).toBe(300);
        // Without an interval the field is not valid (DEN0056): ignored.
        expect(setConfig(h, 3, cfg(0, 0, 1 | (3 << 9)))).toBe(0);
        expect(intervalOf(h, 3)).toBe(50);
      });

      it('should answer INVALID_PARAMETERS outside the supported intervals, and change nothing', () => {
        expect(setConfig(h, 3, cfg(5, -3, 0))).toBe(ScmiStatus.INVALID_PARAMETERS);
        expect(setConfig(h, 2, cfg(2, 0, 1 << 9))).toBe(ScmiStatus.INVALID_PARAMETERS);
        expect(setConfig(h, 3, cfg(1, -16, 1 << 9))).toBe(ScmiStatus.INVALID_PARAMETERS);
        expect(
          h.platform
            .snapshot()
            .sensors.slice(2)
            .map((x) => x.updateIntervalMs),
        ).toEqual([500, 100]);
        expect(h.platform.snapshot().sensors[3]?.enabled).toBe(true);
      });
    });

    describe('SENSOR_CONTINUOUS_UPDATE_NOTIFY', () => {
      const notify = (hh: Harness, sensor: number, on: number, agent = 1): number =>
        hh.call(SENSOR, SensorMessageId.CONTINUOUS_UPDATE_NOTIFY, [sensor, on], agent).status;

      it('should post SENSOR_UPDATE with every axis and timestamp on each interval', async () => {
        const link = h.link(1);
        expect(notify(h, 3, 1)).toBe(0);
        expect(h.platform.subscriptions(1)).toEqual([
          { protocolId: SENSOR, notificationId: SensorNotificationId.UPDATE, domainId: 3 },
        ]);
        await h.clock.advance(99);
        expect(link.posted).toHaveLength(0);
        await h.clock.advance(1);
        const [update] = link.messages;
        expect(update).toMatchObject({ type: 3, protocolId: SENSOR, messageId: 1, token: 0 });
        const w = defined(update).words;
        expect(w).toHaveLength(2 + 3 * 4);
        expect([w[0], w[1], w[4], w[8], w[10], w[12]]).toEqual([
          0, 3, 100_000, 100_000, 9807, 100_000,
        ]);
        await h.clock.advance(200);
        expect(link.posted).toHaveLength(3);
        expect(h.links.get(3)?.posted).toHaveLength(0);
      });

      it('should follow a new update interval at once', async () => {
        const link = h.link(1);
        notify(h, 2, 1);
        await h.clock.advance(300);
        expect(setConfig(h, 2, cfg(1, -1, 1))).toBe(0); // 100 ms
        await h.clock.advance(100);
        expect(link.posted).toHaveLength(1);
        expect(decodePosted(defined(link.posted[0])).words.slice(0, 3)).toEqual([
          0, // agent_id: the platform sends it, no agent caused it
          2,
          sensorReading({ kind: 'ramp', from: 100, to: 3000, periodMs: 5000 }, 400, 1 + 2),
        ]);
        expect(link.messages[0]?.words).toHaveLength(2 + 4); // scalar, no timestamp
      });

      it('should pause while the sensor is disabled and stop on unsubscribe', async () => {
        const link = h.link(1);
        notify(h, 3, 1);
        expect(h.platform.armedTimers).toBe(1);
        expect(setConfig(h, 3, 0)).toBe(0);
        expect(h.platform.armedTimers).toBe(0);
        await h.clock.advance(500);
        expect(link.posted).toHaveLength(0);
        expect(setConfig(h, 3, 1)).toBe(0);
        await h.clock.advance(100);
        expect(link.posted).toHaveLength(1);
        expect(notify(h, 3, 0)).toBe(0);
        expect(h.platform.armedTimers).toBe(0);
        expect(h.clock.armedTimers).toBe(0);
      });

      it('should cancel the timer when the agent disconnects or resets its configuration', () => {
        notify(h, 3, 1);
        h.connection(1).disconnect();
        expect(h.platform.armedTimers).toBe(0);
        expect(h.clock.armedTimers).toBe(0);
        h.connect(1);
        notify(h, 3, 1);
        expect(h.platform.armedTimers).toBe(1);
        expect(h.call(ScmiProtocolId.BASE, 0xb, [1, 0]).status).toBe(0);
        expect(h.platform.armedTimers).toBe(0);
      });

      it('should serve several subscribers from one timer', async () => {
        const base = createDefaultPlatformConfig();
        const two = new Harness({
          ...base,
          agents: [...base.agents, { id: 3, name: 'other', protocols: ['sensor'] }],
        });
        two.connect(1);
        two.connect(3);
        notify(two, 3, 1);
        notify(two, 3, 1, 3);
        expect(two.platform.armedTimers).toBe(1);
        await two.clock.advance(100);
        expect(two.link(1).messages.map((m) => m.words.slice(0, 2))).toEqual([[0, 3]]);
        expect(two.link(3).messages.map((m) => m.words.slice(0, 2))).toEqual([[0, 3]]);
        two.connection(3).disconnect();
        expect(two.platform.armedTimers).toBe(1);
        two.close();
      });

      it('should count updates that post refuses and keep going', async () => {
        notify(h, 3, 1);
        h.link(1).accept = () => false;
        await h.clock.advance(300);
        expect(h.platform.counters.notificationsDropped).toBe(3);
        expect(h.platform.armedTimers).toBe(1);
      });

      it('should reject sensors without intervals, denied ones, bad flags and sizes', () => {
        expect(notify(h, 0, 1)).toBe(ScmiStatus.NOT_SUPPORTED);
        // Without intervals too, reserved flag bits are INVALID_PARAMETERS and a disable, which
        // can post nothing, is accepted, as for every `*_NOTIFY`.
        expect(notify(h, 0, 2)).toBe(ScmiStatus.INVALID_PARAMETERS);
        expect(notify(h, 0, 0)).toBe(ScmiStatus.SUCCESS);
        expect(h.platform.subscriptions(1)).toEqual([]);
        expect(notify(h, 4, 1)).toBe(ScmiStatus.NOT_FOUND);
        expect(notify(h, 3, 1, 3)).toBe(ScmiStatus.DENIED);
        expect(notify(h, 3, 2)).toBe(ScmiStatus.INVALID_PARAMETERS);
        expect(h.call(SENSOR, SensorMessageId.CONTINUOUS_UPDATE_NOTIFY, [3]).status).toBe(
          ScmiStatus.PROTOCOL_ERROR,
        );
        expect(h.platform.armedTimers).toBe(0);
      });

      it('should be neither advertised nor accepted without a P2A channel', () => {
        const noP2a = new Harness(config());
        noP2a.connect(1, false);
        expect(notify(noP2a, 3, 1)).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(noP2a.call(SENSOR, 0x2, [0xb]).status).toBe(ScmiStatus.NOT_FOUND);
        const d = noP2a.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [3]).words;
        expect(defined(d[2]) & (1 << 30)).toBe(0);
        noP2a.close();
      });

      it('should be neither advertised nor enabled on a link SENSOR_UPDATE does not fit (a disable is accepted)', async () => {
        // Sensor 3: 3 axes, SENSOR_UPDATE carries agent_id, sensor_id and 3 × 16 bytes = 56.
        const continuous = (hh: Harness): number =>
          (defined(hh.call(SENSOR, SensorMessageId.DESCRIPTION_GET, [3]).words[2]) >>> 30) & 1;
        const fits = new Harness(config());
        const link = fits.connect(1, true, 56);
        expect(continuous(fits)).toBe(1);
        expect(notify(fits, 3, 1)).toBe(0);
        await fits.clock.advance(100);
        expect(link.posted).toHaveLength(1);
        expect(fits.platform.counters.notificationsDropped).toBe(0);
        fits.close();
        const small = new Harness(config());
        small.connect(1, true, 55);
        expect(continuous(small)).toBe(0);
        expect(notify(small, 3, 1)).toBe(ScmiStatus.NOT_SUPPORTED);
        expect(small.platform.subscriptions(1)).toEqual([]);
        expect(small.platform.armedTimers).toBe(0);
        // Disabling can post nothing: accepted there, as for every *_NOTIFY command.
        expect(notify(small, 3, 0)).toBe(0);
        expect(small.platform.subscriptions(1)).toEqual([]);
        expect(small.platform.armedTimers).toBe(0);
        small.close();
      });
    });
  });
});
