import { ScmiProtocolId, ScmiStatus, type TimerHandle } from '@scmi-ts/core';
import type { SensorConfig } from '../../config/platform-config.js';
import type { AgentSession } from '../../platform/agent-session.js';
import {
  concat,
  domainCheck,
  fail,
  ok,
  readEnable,
  shortName,
  words,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
  type ProtocolServer,
  type Reply,
} from '../protocol-server.js';
import { SensorMessageId, SensorNotificationId } from './sensor-message-id.js';
import { sensorReading } from './sensor-reading.js';

interface TripPoint {
  readonly mode: number;
  readonly value: bigint;
}

const DESCRIPTOR = 28;
const TAG = 'sensor';

/** A reading as two words, two's complement. */
function valueWords(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
}

/**
 * Sensor protocol (0x15), version 3.0, scalar sensors: descriptions, synchronous and asynchronous
 * readings (delayed response 0x6), trip points and enable configuration. Readings follow each
 * sensor's value generator on the platform clock. Trip points are kept per agent; while any is
 * armed and its agent subscribed, the sensors are sampled every `sensorPollMs` and a crossing sends
 * SENSOR_TRIP_POINT_EVENT to that agent (agent_id = the agent that configured the trip point).
 * @internal
 */
export class SensorProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.SENSOR;
  public readonly version = 0x30000;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #sensors: readonly SensorConfig[];
  readonly #config: number[];
  /** agent id → sensor id → trip id → trip point. */
  readonly #trips = new Map<number, Map<number, Map<number, TripPoint>>>();
  readonly #samples = new Map<number, bigint>();
  #monitor: TimerHandle | undefined;

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.#sensors = services.config.sensors ?? [];
    this.#config = this.#sensors.map((s) => (s.enabled === false ? 0 : 1));
    this.messages = new Map<number, MessageHandler>([
      [SensorMessageId.DESCRIPTION_GET, { size: 4, run: (req) => this.#describe(req) }],
      [SensorMessageId.TRIP_POINT_NOTIFY, { size: 8, p2a: true, run: (req) => this.#notify(req) }],
      [SensorMessageId.TRIP_POINT_CONFIG, { size: 16, run: (req) => this.#configTrip(req) }],
      [SensorMessageId.READING_GET, { size: 8, run: (req) => this.#read(req) }],
      [SensorMessageId.CONFIG_GET, { size: 4, run: (req) => this.#getConfig(req) }],
      [SensorMessageId.CONFIG_SET, { size: 8, run: (req) => this.#setConfig(req) }],
    ]);
  }

  /** The current reading of sensor `id`. */
  public reading(id: number): number {
    const s = this.#sensors[id] as SensorConfig;
    return sensorReading(s.value, this.#p.clock.now() - this.#p.startedAt, this.#p.seed + id);
  }

  /** Enable state of every sensor. */
  public enabled(): readonly boolean[] {
    return this.#config.map((c) => (c & 1) === 1);
  }

  /** Whether the trip-point monitor timer is armed. */
  public get monitoring(): boolean {
    return this.#monitor !== undefined;
  }

  public attributes(): Reply {
    const pending = this.#p.behaviour.maxPendingAsync & 0xff;
    return ok(words((this.#sensors.length & 0xffff) | (pending << 16), 0, 0, 0));
  }

  public detach(agentId: number): void {
    this.#trips.delete(agentId);
    this.#rearm();
  }

  #sensor(req: PlatformRequest, use: boolean): [number, SensorConfig] | Reply {
    const id = req.r.u32();
    const bad = domainCheck(req, 'sensor', id, this.#sensors.length, use);
    return bad ?? [id, this.#sensors[id] as SensorConfig];
  }

  #describe(req: PlatformRequest): Reply {
    const index = req.r.u32();
    const all = this.#sensors.length;
    if (index > all) return fail(ScmiStatus.INVALID_PARAMETERS);
    const left = all - index;
    const n = Math.min(left, this.#p.fit(req, 4, DESCRIPTOR), this.#p.behaviour.multiPartMax);
    const parts = [words(n | ((left - n) << 16))];
    for (let id = index; id < index + n; id++) {
      const s = this.#sensors[id] as SensorConfig;
      const low = (s.asyncRead === true && req.link.p2a ? 1 << 31 : 0) | (s.tripPoints ?? 0);
      const high = (s.type & 0xff) | (((s.unitExponent ?? 0) & 0x1f) << 11);
      parts.push(words(id, low, high), shortName(s.name));
    }
    return ok(concat(...parts));
  }

  #notify(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const on = readEnable(req.r);
    if (on === undefined) return fail(ScmiStatus.INVALID_PARAMETERS);
    req.agent.subscribe(this.id, SensorNotificationId.TRIP_POINT_EVENT, found[0], on);
    this.#rearm();
    return ok();
  }

  #configTrip(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const [id, s] = found;
    const control = req.r.u32();
    const low = req.r.u32();
    const high = req.r.i32();
    const mode = control & 3;
    const trip = (control >>> 4) & 0xff;
    if ((control & ~0xff3) !== 0 || trip >= (s.tripPoints ?? 0)) {
      return fail(ScmiStatus.INVALID_PARAMETERS);
    }
    let perSensor = this.#trips.get(req.agent.id);
    if (perSensor === undefined)
      this.#trips.set(req.agent.id, (perSensor = new Map<number, Map<number, TripPoint>>()));
    let perTrip = perSensor.get(id);
    if (perTrip === undefined) perSensor.set(id, (perTrip = new Map<number, TripPoint>()));
    if (mode === 0) perTrip.delete(trip);
    else perTrip.set(trip, { mode, value: (BigInt(high) << 32n) | BigInt(low) });
    this.#rearm();
    return ok();
  }

  #read(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const [id, s] = found;
    const flags = req.r.u32();
    if ((flags & ~1) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (flags === 0) return ok(words(...valueWords(BigInt(this.reading(id))), 0, 0));
    if (!req.link.p2a || s.asyncRead !== true) return fail(ScmiStatus.NOT_SUPPORTED);
    if (this.#p.timers.count(TAG) >= this.#p.behaviour.maxPendingAsync) {
      return fail(ScmiStatus.BUSY);
    }
    const latency = s.readLatencyMs ?? this.#p.behaviour.asyncLatencyMs;
    this.#p.later(req, latency, TAG, true, () =>
      ok(words(id, ...valueWords(BigInt(this.reading(id))), 0, 0)),
    );
    return ok();
  }

  #getConfig(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    return ok(words(this.#config[found[0]] as number));
  }

  #setConfig(req: PlatformRequest): Reply {
    const found = this.#sensor(req, true);
    if (!Array.isArray(found)) return found;
    const config = req.r.u32();
    // Only bit 0 (enable): no timestamps, no update intervals on the emulated sensors.
    if ((config & ~1) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    this.#config[found[0]] = config;
    return ok();
  }

  /** Sensor ids watched by subscribed agents with armed trip points, per agent. */
  #watched(): [AgentSession, number, Map<number, TripPoint>][] {
    const out: [AgentSession, number, Map<number, TripPoint>][] = [];
    for (const [agentId, perSensor] of this.#trips) {
      const agent = this.#p.agent(agentId);
      if (agent?.link === undefined) continue;
      for (const [sensorId, trips] of perSensor) {
        const subscribed = agent.subscribed(
          this.id,
          SensorNotificationId.TRIP_POINT_EVENT,
          sensorId,
        );
        if (subscribed && trips.size > 0) out.push([agent, sensorId, trips]);
      }
    }
    return out;
  }

  #rearm(): void {
    const watched = this.#watched();
    if (watched.length === 0) {
      this.#monitor?.cancel();
      this.#monitor = undefined;
      this.#samples.clear();
      return;
    }
    for (const [, sensorId] of watched) {
      if (!this.#samples.has(sensorId)) this.#samples.set(sensorId, BigInt(this.reading(sensorId)));
    }
    this.#monitor ??= this.#p.timers.arm(this.#p.behaviour.sensorPollMs, () => {
      this.#monitor = undefined;
      this.#tick();
    });
  }

  #tick(): void {
    const watched = this.#watched();
    const now = new Map<number, bigint>();
    for (const [, sensorId] of watched) now.set(sensorId, BigInt(this.reading(sensorId)));
    for (const [agent, sensorId, trips] of watched) {
      const cur = now.get(sensorId) as bigint;
      const prev = this.#samples.get(sensorId) ?? cur;
      for (const [trip, point] of trips) {
        const up = prev < point.value && cur >= point.value;
        const down = prev > point.value && cur <= point.value;
        if ((up && (point.mode & 1) !== 0) || (down && (point.mode & 2) !== 0)) {
          this.#p.notifyAgent(
            agent,
            this.id,
            SensorNotificationId.TRIP_POINT_EVENT,
            sensorId,
            words(agent.id, sensorId, (up ? 1 << 16 : 0) | trip),
          );
        }
      }
    }
    for (const [sensorId, v] of now) this.#samples.set(sensorId, v);
    this.#rearm();
  }
}
