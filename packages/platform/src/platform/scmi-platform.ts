import {
  ScmiConfigError,
  formatValue,
  scmiStatusName,
  type Clock,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
} from '@scmi-ts/core';
import { types } from 'node:util';
import { array, isIntegerIn, object, show } from '../config/config-checks.js';
import type { PlatformConfig } from '../config/platform-config.js';
import { validatePlatformConfig } from '../config/validate-platform-config.js';
import { PlatformError } from '../errors/platform-error.js';
import { FaultInjector } from '../faults/fault-injector.js';
import type { FaultRule } from '../faults/fault-rule.js';
import { BaseProtocol } from '../protocols/base/base-protocol.js';
import { ClockProtocol } from '../protocols/clock/clock-protocol.js';
import { PerformanceProtocol } from '../protocols/performance/performance-protocol.js';
import { PowerProtocol } from '../protocols/power/power-protocol.js';
import { ResetProtocol } from '../protocols/reset/reset-protocol.js';
import { SensorProtocol } from '../protocols/sensor/sensor-protocol.js';
import { SystemPowerProtocol } from '../protocols/system-power/system-power-protocol.js';
import { checkVendorProtocols } from '../protocols/vendor/check-vendor-protocols.js';
import type { PlatformVendorProtocol } from '../protocols/vendor/platform-vendor-protocol.js';
import { VendorProtocolServer } from '../protocols/vendor/vendor-protocol-server.js';
import { VoltageProtocol } from '../protocols/voltage/voltage-protocol.js';
import {
  resolvePlatformBehaviour,
  type PlatformBehaviour,
  type ResolvedPlatformBehaviour,
} from './platform-behaviour.js';
import type {
  PlatformAgentCounters,
  PlatformCounters,
  PlatformHandlerError,
} from './platform-counters.js';
import { PlatformEngine } from './platform-engine.js';
import type { NotificationSubscription, PlatformStateSnapshot } from './platform-snapshot.js';

/**
 * Options of a {@link ScmiPlatform}. Everything but the clock and the vendor protocols is
 * JSON-able. Only an absent (undefined) optional field takes its default: null is refused like
 * any other wrong value, and so is a field this interface does not declare (`behavior`, `fault`:
 * is not a known field), as the configuration and the behaviour do — a misspelt option must not
 * pass silently.
 */
export interface ScmiPlatformOptions {
  /**
   * The clock of every delay and timer (a `VirtualClock` in tests, a `RealClock` otherwise):
   * required, an object with `now` and `setTimeout` methods (else `ScmiConfigError` `clock`).
   */
  readonly clock: Clock;
  /** Behaviour switches and timing; see {@link PlatformBehaviour}. */
  readonly behaviour?: PlatformBehaviour;
  /**
   * Fault rules to add at once (same as calling `platform.faults.add` for each, in order): an
   * array without holes (else `ScmiConfigError` `faults`, or `faults[i]` at a hole).
   */
  readonly faults?: readonly FaultRule[];
  /** Seed of the fault probabilities and of sensor noise: an integer; default 1. */
  readonly seed?: number;
  /**
   * Vendor protocols (ids 0x80–0xFF) to serve beside the built-in ones, each with its own
   * commands: see {@link PlatformVendorProtocol}. An array without holes, checked at once (else
   * `ScmiConfigError` naming the field, e.g. `vendorProtocols[0].commands.3.handle`). Not
   * JSON-able (they hold functions): a platform in a worker thread gets them from the worker's
   * own module, where its entry builds the platform, not from options posted to it. Default none.
   */
  readonly vendorProtocols?: readonly PlatformVendorProtocol[];
}

/** The fields of {@link ScmiPlatformOptions}: any other is refused (a misspelt option). */
const OPTION_FIELDS: readonly (keyof ScmiPlatformOptions)[] = [
  'clock',
  'behaviour',
  'faults',
  'seed',
  'vendorProtocols',
];

/**
 * The emulated SCMI platform firmware, at the message level: it turns MSG-layout commands into
 * responses, keeps device state, and sends notifications and delayed responses to agents through
 * their {@link @scmi-ts/core!PlatformAgentLink}. It knows nothing of transports: each transport's
 * backend connects agents and calls {@link ScmiPlatform.handle}.
 *
 * Protocols, at their SCMI v3.2 versions: Base 0x10 (v2.1), Power 0x11 (v3.1), System power 0x12
 * (v2.1), Performance 0x13 (v3.0, or v4.0 with `performanceVersion`), Clock 0x14 (v3.0), Sensor
 * 0x15 (v3.1), Reset 0x16 (v3.1), Voltage 0x17 (v2.1); a protocol is implemented when the
 * configuration gives it domains. Vendor protocols (0x80–0xFF) are served beside them from `options.vendorProtocols`
 * ({@link PlatformVendorProtocol}). Each answers NEGOTIATE_PROTOCOL_VERSION for its own major (a
 * minor up to its own), Base, System power and Voltage also for 1.0 (Performance 4.0 for 3.0); the
 * negotiated version applies to that agent until it disconnects (PROTOCOL_VERSION, which messages
 * exist, version-dependent layouts).
 * Without version negotiation (`behaviour.versionNegotiation` false) Base, Power, System power,
 * Sensor, Reset and Voltage report minor 0, their SCMI v3.1 versions.
 *
 * Contract and choices:
 * - A request shorter than a header, with a bad header (reserved bits, type 1) or not a command is
 *   dropped (no response) and counted in `droppedRequests`; so are requests from an agent that is
 *   not connected and requests after {@link ScmiPlatform.close}. `handle` never throws.
 * - Unknown protocol: NOT_SUPPORTED. A protocol the agent may not use is absent from its
 *   LIST_PROTOCOLS and answered NOT_SUPPORTED (or DENIED with `behaviour.hiddenProtocol`).
 *   A domain the agent may not use: DENIED, except for discovery (attributes, descriptions, names).
 * - Unknown message id: NOT_FOUND (or NOT_SUPPORTED with `behaviour.unknownMessage`); a wrong
 *   payload size: PROTOCOL_ERROR; a response larger than `link.maxMsgSize`: PROTOCOL_ERROR.
 *   A domain id past the last: NOT_FOUND (or INVALID_PARAMETERS with `behaviour.unknownDomain`).
 * - Without a P2A channel (`link.p2a` false) notification requests and asynchronous operations get
 *   NOT_SUPPORTED, and neither is advertised (virtio-scmi rules). Likewise where the delayed
 *   response or notification would not fit `link.maxMsgSize`: an asynchronous CLOCK_RATE_SET
 *   asking for its delayed response, an asynchronous RESET, SENSOR_READING_GET or
 *   VOLTAGE_LEVEL_SET, and enabling a Clock, Power, Performance, Reset, System power or sensor
 *   (trip point, continuous update) notification get NOT_SUPPORTED before any change (disabling one is accepted), and what
 *   advertises them (the attribute bits, Clock and Sensor PROTOCOL_ATTRIBUTES' pending asynchronous
 *   count) is clear. A notification that would not fit is dropped and counted in
 *   `notificationsDropped`.
 * - Notifications: header type 3, token 0, payload starting with the agent_id of the agent that
 *   caused the change; sent only to subscribed, connected agents that may use the domain at the
 *   time (a domain denied by BASE_SET_DEVICE_PERMISSIONS or SET_PROTOCOL_PERMISSIONS gets nothing,
 *   the subscription stays, and allowing the domain again resumes delivery); dropped and counted
 *   when `link.post` refuses them. Delayed responses: header type 2 with the command's token, posted
 *   after the operation's latency and posted again (bounded, counted) when `link.post` refuses.
 * - Asynchronous operations: at most `behaviour.maxPendingAsync` pending per protocol (Clock, Power,
 *   Sensor, Reset, Voltage; BUSY beyond, before any change and before any *_CHANGE_REQUESTED
 *   notification). A voltage domain with an asynchronous level set pending answers BUSY to
 *   VOLTAGE_LEVEL_SET until it completes.
 *   A clock with an asynchronous rate change pending answers BUSY to CLOCK_ATTRIBUTES,
 *   CLOCK_RATE_GET, CLOCK_RATE_SET and state changes until it completes (as SCP-firmware); a power
 *   domain's sets take effect in the order they were accepted; a reset domain with an asynchronous
 *   reset pending takes further resets (as SCP-firmware, which keeps no per-domain reset state).
 *   CLOCK_RATE_CHANGE_REQUESTED and POWER_STATE_CHANGE_REQUESTED announce accepted sets only.
 * - Performance fast channels (`performanceFastChannels`, a domain's `fastChannels`): the platform
 *   polls their memory every `rateLimitUs` with a timer of its own, as SCP-firmware does, and
 *   writes LEVEL_GET / LIMITS_GET at every change; a change made through one is notified with
 *   agent_id 0, and a value refused is counted in `fastChannelRejected` (see
 *   {@link PerformanceFastChannelsConfig}). The polling is a background timer: a
 *   `VirtualClock`'s `runUntilIdle` and auto mode do not wait for it; `advance` to let it poll.
 * - `disconnect` cancels the agent's timers (delayed, held or late replies) and subscriptions; an
 *   asynchronous operation it was answered SUCCESS for still completes, its delayed response not
 *   sent (counted in `cancelledOnDisconnect`). `close` cancels every timer; nothing is written to
 *   the fast channels' memory after it.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
 * const conn = platform.connect(1, { p2a: true, maxMsgSize: 128, respond: () => {}, post: () => true });
 * const header = buildHeader(BaseMessageId.DISCOVER_VENDOR, 0, ScmiProtocolId.BASE, 1);
 * const response = platform.handle(1, 0, encodeMsg(header)); // header, SUCCESS, "scmi-ts"
 * conn.disconnect();
 * platform.close();
 * ```
 */
export class ScmiPlatform implements ScmiPlatformPort {
  readonly #engine: PlatformEngine;
  readonly #power: PowerProtocol;
  readonly #system: SystemPowerProtocol | undefined;
  readonly #perf: PerformanceProtocol;
  readonly #clock: ClockProtocol;
  readonly #sensor: SensorProtocol;
  readonly #reset: ResetProtocol;
  readonly #voltage: VoltageProtocol;
  /** The ids of its vendor protocols. */
  readonly #vendorIds: ReadonlySet<number>;

  /**
   * Creates a platform from a configuration (validated again here, so plain JSON data is fine).
   * Everything is checked before anything is set up; `config` and `options` are not changed, nor
   * kept (the fault rules are copied, as `faults.add` does; of the vendor protocols, only their
   * functions are kept).
   *
   * @throws ScmiConfigError naming the field when the configuration, the behaviour, the clock,
   *   the fault list, the seed or a vendor protocol is invalid (null included: only an absent
   *   option takes its default), or the configuration, the behaviour or the options have a
   *   field their type does not declare (e.g. `behaviour.unknownMesage`, `behavior`); `options`
   *   when `options` is not an object (undefined included: the clock is required).
   * @throws PlatformError `E_FAULT_RULE` when one of `options.faults` is invalid or has a field
   *   its type does not declare (see {@link FaultInjector.add}), or two of them have one id; the
   *   message starts with the rule's index (`faults[1]: invalid fault rule: …`).
   */
  public constructor(config: PlatformConfig, options: ScmiPlatformOptions) {
    const o: unknown = options;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      throw new ScmiConfigError('options', `must be an object with a clock, got ${show(o)}`);
    }
    object(o, '', OPTION_FIELDS);
    const {
      clock,
      behaviour: b,
      faults,
      seed: s,
      vendorProtocols: vendor,
    } = o as Readonly<Record<string, unknown>>;
    const valid = validatePlatformConfig(config);
    const behaviour = resolvePlatformBehaviour(b as PlatformBehaviour | undefined);
    checkClock(clock);
    const seed = s === undefined ? 1 : s;
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
      throw new ScmiConfigError('seed', `must be an integer, got ${show(seed)}`);
    }
    const rules = faults === undefined ? [] : array(faults, 'faults');
    const vendorProtocols =
      vendor === undefined
        ? []
        : checkVendorProtocols(
            vendor,
            valid.agents.map((a) => a.id),
            behaviour.versionNegotiation,
          );
    // The rules are tried on an injector like the engine's (fresh, same clock and seed) before the
    // engine is built: a refused rule leaves nothing set up, and the engine's adds, which give
    // the same ids, do not fail.
    const trial = new FaultInjector(
      clock as Clock,
      seed,
      valid.agents.map((a) => a.id),
    );
    rules.forEach((rule, i) => {
      try {
        trial.add(rule as FaultRule);
      } catch (e) {
        if (!PlatformError.is(e)) throw e;
        throw new PlatformError(e.code, `faults[${i}]: ${e.message}`, { cause: e });
      }
    });
    const engine = new PlatformEngine(valid, behaviour, clock as Clock, seed);
    this.#engine = engine;
    this.#power = new PowerProtocol(engine);
    this.#system = valid.systemPower === undefined ? undefined : new SystemPowerProtocol(engine);
    this.#perf = new PerformanceProtocol(engine);
    this.#clock = new ClockProtocol(engine);
    this.#sensor = new SensorProtocol(engine);
    this.#reset = new ResetProtocol(engine);
    this.#voltage = new VoltageProtocol(engine);
    const servers = [
      (valid.powerDomains?.length ?? 0) > 0 ? this.#power : undefined,
      this.#system,
      (valid.performanceDomains?.length ?? 0) > 0 ? this.#perf : undefined,
      (valid.clocks?.length ?? 0) > 0 ? this.#clock : undefined,
      (valid.sensors?.length ?? 0) > 0 ? this.#sensor : undefined,
      (valid.resetDomains?.length ?? 0) > 0 ? this.#reset : undefined,
      (valid.voltageDomains?.length ?? 0) > 0 ? this.#voltage : undefined,
    ].filter((s) => s !== undefined);
    for (const s of servers) engine.register(s);
    this.#vendorIds = new Set(vendorProtocols.map((v) => v.protocolId));
    for (const v of vendorProtocols) {
      engine.register(new VendorProtocolServer(engine, v));
      for (const id of v.agents) engine.agent(id)?.grantProtocol(v.protocolId);
    }
    const implemented = [...servers.map((s) => s.id), ...vendorProtocols.map((v) => v.protocolId)];
    engine.register(new BaseProtocol(engine, new Set(implemented)));
    for (const rule of rules) engine.faults.add(rule as FaultRule);
    // Last, once nothing can fail any more: the fast channels' words and their polling timer.
    if (servers.includes(this.#perf)) this.#perf.start();
  }

  /** The validated configuration, with defaults filled in. */
  public get config(): PlatformConfig {
    return this.#engine.config;
  }

  /** The behaviour in force, with defaults filled in. */
  public get behaviour(): ResolvedPlatformBehaviour {
    return this.#engine.behaviour;
  }

  /** The message-level fault rules, their log and counts. */
  public get faults(): FaultInjector {
    return this.#engine.faults;
  }

  /** A snapshot of the counters. */
  public get counters(): PlatformCounters {
    return { ...this.#engine.counters };
  }

  /**
   * The newest commands whose handler failed — at most 32, oldest first, each with the agent, the
   * protocol and message ids, the token, the time and the error — that `counters.handlerErrors`
   * counts and that were answered GENERIC_ERROR: a built-in handler's bug, or a vendor protocol
   * handler that threw or broke its contract (see `PlatformVendorCommand`), or the `complete` of
   * its asynchronous command (`PlatformVendorRequest.respondLater`: logged when it runs, with the
   * command's ids and token). A copy.
   *
   * @example
   * ```ts
   * const [failure] = platform.handlerErrorLog;
   * if (failure !== undefined) console.error(failure.messageId, failure.error);
   * ```
   */
  public get handlerErrorLog(): readonly PlatformHandlerError[] {
    return this.#engine.handlerErrorLog;
  }

  /** Whether {@link ScmiPlatform.close} was called. */
  public get closed(): boolean {
    return this.#engine.closed;
  }

  /** Ids of the agents connected now, ascending. */
  public get connectedAgents(): readonly number[] {
    return [...this.#engine.agents()]
      .filter((a) => a.link !== undefined)
      .map((a) => a.id)
      .sort((a, b) => a - b);
  }

  /**
   * Timers the platform has armed (delayed responses, async operations, faults, sensor sampling,
   * and one for the Performance fast channels' polling while a domain has fast channels).
   */
  public get armedTimers(): number {
    return this.#engine.timers.size;
  }

  /**
   * Asynchronous operations the platform accepted (answered SUCCESS) and has not completed yet:
   * one armed timer each, which completes the operation even after its agent disconnected. A
   * check for timers nothing can use any more counts `armedTimers - pendingOperations -
   * pollingTimers`.
   */
  public get pendingOperations(): number {
    return this.#engine.pendingOperations;
  }

  /**
   * Timers the platform keeps armed for itself for as long as it runs: 1 while the Performance
   * fast channels poll (a domain has `fastChannels`, until `close`), else 0. Not a sign of
   * anything left over: `armedTimers - pendingOperations - pollingTimers` counts the timers
   * nothing can use any more (a late reply still to send included).
   *
   * @example
   * ```ts
   * const leftOver = platform.armedTimers - platform.pendingOperations - platform.pollingTimers;
   * ```
   */
  public get pollingTimers(): number {
    return this.#perf.polling ? 1 : 0;
  }

  /**
   * Sends now every response, delayed response and notification a `hold` fault ({@link HoldFault})
   * holds, oldest first, each to its agent's link, and returns how many it released: a test places
   * a late reply at the moment it chooses (the agent's teardown began, a channel's quiesce
   * started…). Each released message then goes as any other would — a notification the link
   * refuses is counted in `notificationsDropped`, a delayed response it refuses for now is retried
   * (up to `maxPostRetries`) — so the count is of messages handed to the links, not of messages
   * the agents took. Responses held by a `reorder` fault are not touched (they go with the next
   * response); those of a disconnected agent were cancelled, and are not counted.
   *
   * @example
   * ```ts
   * platform.faults.add({ match: { protocolId: 0x10, times: 1 }, action: { kind: 'hold', maxHoldMs: 1000 } });
   * // … the agent's command times out, its teardown begins …
   * platform.releaseHeldResponses(); // 1: the reply goes now
   * ```
   */
  public releaseHeldResponses(): number {
    return this.#engine.releaseHeldResponses();
  }

  /**
   * Posts notification `notificationId` of vendor protocol `protocolId` about `source`, with
   * `payload` after its header, to every agent subscribed to it (a `*_NOTIFY` command of the
   * protocol called `req.setNotify(notificationId, source, true)`: see `PlatformVendorRequest`)
   * that is connected and may use the protocol; returns to how many agents it went. For a model
   * of a platform event (an RTC alarm, a button press) from a test, a simulation loop or a vendor
   * command's handler.
   *
   * It goes as a built-in protocol's notification does: header type 3, token 0; the payload is
   * the protocol's (a built-in one starts with the agent_id of the agent that caused the change,
   * and the agent's event descriptors take the word at offset 4 as the source unless they give
   * `sourceOf`) and is copied now. Through the P2A fault rules (stage `notification`); counted in
   * `notificationsPosted`, or `notificationsDropped` when `link.post` refuses it. An agent whose
   * link's `maxMsgSize` the payload exceeds does not get it (counted in `notificationsDropped`,
   * and not in the count returned); the count returned is of the agents it was handed to, before
   * the fault rules and `link.post` say whether it arrived.
   *
   * @throws PlatformError `E_CLOSED` after {@link ScmiPlatform.close}; `E_ARGUMENT` when
   *   `protocolId` is not one of `options.vendorProtocols`, `notificationId` not an integer in
   *   0 … 0xFF (the header's message id field), `source` not a uint32, or `payload` not a
   *   `Uint8Array`. Nothing is sent then.
   * @example
   * ```ts
   * // The BBM protocol's BBM_BUTTON_EVENT (0x1): button 0 was pressed.
   * const payload = new PayloadWriter(4).u32(1).bytesWritten(); // flags: pressed
   * const agents = platform.postVendorNotification(0x81, 0x1, 0, payload);
   * ```
   */
  public postVendorNotification(
    protocolId: number,
    notificationId: number,
    source: number,
    payload: Uint8Array,
  ): number {
    if (this.#engine.closed) throw new PlatformError('E_CLOSED', 'the platform is closed');
    if (!this.#vendorIds.has(protocolId)) {
      const ids = [...this.#vendorIds].map((id) => `0x${id.toString(16)}`).join(', ');
      throw new PlatformError(
        'E_ARGUMENT',
        `protocolId ${isIntegerIn(protocolId, 0, Number.MAX_SAFE_INTEGER) ? `0x${protocolId.toString(16)}` : formatValue(protocolId)} is not one of this platform's vendor protocols (${ids === '' ? 'none' : ids})`,
      );
    }
    if (!isIntegerIn(notificationId, 0, 0xff)) {
      throw new PlatformError(
        'E_ARGUMENT',
        `notificationId must be an integer in 0 … 0xFF, got ${formatValue(notificationId)}`,
      );
    }
    if (!isIntegerIn(source, 0, 0xffffffff)) {
      throw new PlatformError(
        'E_ARGUMENT',
        `source must be an integer in 0 … 0xFFFFFFFF (uint32), got ${formatValue(source)}`,
      );
    }
    const bytes: unknown = payload;
    if (!types.isUint8Array(bytes)) {
      throw new PlatformError('E_ARGUMENT', `payload must be a Uint8Array, got ${show(bytes)}`);
    }
    return this.#engine.notify(protocolId, notificationId, source, bytes);
  }

  /**
   * Connects agent `agentId` through `link`. The connection's `disconnect` is idempotent and
   * cancels the agent's held or late replies, delayed fault responses and subscriptions; the
   * asynchronous operations it was answered SUCCESS for still complete, their delayed responses
   * not sent (counted in `cancelledOnDisconnect`). The agent may then connect again.
   *
   * @throws PlatformError `E_UNKNOWN_AGENT` (not configured), `E_AGENT_CONNECTED` (already
   *   connected) or `E_CLOSED`.
   */
  public connect(agentId: number, link: PlatformAgentLink): PlatformConnection {
    return this.#engine.connect(agentId, link);
  }

  /**
   * Processes one MSG-layout command from agent `agentId` on A2P channel `channelId` and returns the
   * response (header, status, return values), or `undefined` when there is none now (dropped
   * request, a fault rule that drops, delays or holds the response, or a link that disconnected the
   * agent while a notification storm was posted: the command is then not processed). Never
   * throws; the request bytes are read during the call only.
   */
  public handle(agentId: number, channelId: number, request: Uint8Array): Uint8Array | undefined {
    return this.#engine.handle(agentId, channelId, request);
  }

  /**
   * What the platform did for agent `agentId` since it was created, across its connections: the
   * counters of {@link ScmiPlatform.counters} that concern that agent, and the responses it was
   * sent by status — with several agents on one platform, whose commands were dropped or failed,
   * and how. A snapshot. (The delayed responses of asynchronous operations still pending at
   * `close`, and requests naming an agent id the configuration does not have, are counted
   * platform-wide only.)
   *
   * @throws PlatformError `E_UNKNOWN_AGENT` when the configuration has no agent `agentId`.
   * @example
   * ```ts
   * const psci = platform.agentCounters(2);
   * console.log(psci.requests, psci.statuses.DENIED ?? 0);
   * ```
   */
  public agentCounters(agentId: number): PlatformAgentCounters {
    const agent = this.#engine.agent(agentId);
    if (agent === undefined) {
      throw new PlatformError(
        'E_UNKNOWN_AGENT',
        `no agent ${formatValue(agentId)} in the configuration (agents ${this.config.agents.map((a) => a.id).join(', ')})`,
      );
    }
    const statuses: Record<string, number> = {};
    for (const [status, n] of agent.statuses()) {
      statuses[scmiStatusName(status)] = n;
    }
    return { ...agent.counters, statuses };
  }

  /**
   * The notifications agent `agentId` subscribed to (none when unknown or not connected), including
   * those about a domain it was denied since: a permission change keeps subscriptions, and nothing
   * is sent for them until the domain is allowed again.
   */
  public subscriptions(agentId: number): readonly NotificationSubscription[] {
    const agent = this.#engine.agent(agentId);
    if (agent === undefined) return [];
    return agent
      .subscriptions()
      .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2])
      .map(([protocolId, notificationId, domainId]) => ({ protocolId, notificationId, domainId }));
  }

  /** The device state now. */
  public snapshot(): PlatformStateSnapshot {
    return {
      powerDomains: this.#power.states(),
      systemPower: this.#system?.state,
      performanceDomains: this.#perf.states(),
      clocks: this.#clock.states(),
      sensors: this.#sensor.enabled().map((enabled, id) => ({
        enabled,
        reading: this.#sensor.reading(id),
        updateIntervalMs: this.#sensor.updateIntervals()[id],
      })),
      resetDomains: this.#reset.states(),
      voltageDomains: this.#voltage.states(),
    };
  }

  /** Disconnects every agent and cancels every timer; later requests are dropped. Idempotent. */
  public close(): void {
    this.#engine.close();
  }
}

/** Refuses a `clock` option that is not a {@link Clock} the platform can use. */
function checkClock(value: unknown): void {
  const c = value as Partial<Record<'now' | 'setTimeout', unknown>> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.now !== 'function' ||
    typeof c.setTimeout !== 'function'
  ) {
    throw new ScmiConfigError('clock', `must be a Clock (now, setTimeout), got ${show(value)}`);
  }
}
