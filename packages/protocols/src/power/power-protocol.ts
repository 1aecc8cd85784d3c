import {
  type CallOptions,
  PayloadReader,
  ScmiProtocolId,
  optionKeys,
  type ProtocolDriver,
  type ProtocolHandle,
  type ProtocolVersionSource,
  type ProtocolSubscribeOptions,
} from '@scmi-ts/core';
import { subscribeDecoded, type ProtocolEventHandler } from '../common/events.js';
import { boolArg, boolOption, objectArg, u32Bits, uintArg } from '../common/args.js';
import { DomainTable, SHORT_NAME_SIZE, resourceName } from '../common/domain-table.js';
import { NotifyChecks, checkFailureOf, perDomainEvent, sendNotify } from '../common/notify.js';

/** The generic ON state (`power_state` 0: context preserved, state id 0). */
export const POWER_STATE_ON = 0;

/** The generic OFF state (`power_state` 0x40000000: context lost, state id 0). */
export const POWER_STATE_OFF = 0x40000000;

/** `power_state` bit 30, the state type: set when the domain loses its context in that state. */
export const POWER_STATE_CONTEXT_LOST = 0x40000000;

/** `power_state` bits 27:0, the state id. */
export const POWER_STATE_ID_MASK = 0x0fffffff;

/** `power_state` bits 31 and 29:28: reserved, zero in every state the specification defines. */
const RESERVED = 0xb0000000;

/** A `power_state` word taken apart by {@link parsePowerState}. */
export interface PowerStateFields {
  /** Whether the domain loses its context in this state (bit 30, the state type). */
  readonly contextLost: boolean;
  /** The state id (bits 27:0): 0 with `contextLost` clear is ON, 0 with it set is OFF. */
  readonly stateId: number;
  /** The reserved bits (31, 29:28) as they were set in the word: 0 in a well-formed state. */
  readonly reserved: number;
}

/**
 * The `power_state` word of a state: `stateId` in bits 27:0, bit 30 set when the domain loses
 * its context (`powerState(0, true)` is {@link POWER_STATE_OFF}, `powerState(0, false)`
 * {@link POWER_STATE_ON}). Which states a domain has is the platform's to say (it answers
 * INVALID_PARAMETERS for another).
 *
 * @throws ScmiError `E_ARGUMENT` when `stateId` is not an integer from 0 to 0x0FFFFFFF, or
 * `contextLost` not a boolean.
 * @example
 * ```ts
 * await power.setState(2, powerState(1, true)); // a retention state of domain 2: 0x40000001
 * ```
 */
export function powerState(stateId: number, contextLost: boolean): number {
  const id = uintArg(stateId, 'power state id', POWER_STATE_ID_MASK);
  return ((boolArg(contextLost, 'contextLost') ? POWER_STATE_CONTEXT_LOST : 0) | id) >>> 0;
}

/**
 * Takes a `power_state` word apart (as POWER_STATE_GET returns it or a notification carries it):
 * its type bit, its state id, and any reserved bit the platform set. Any number is read as its
 * low 32 bits.
 *
 * @example
 * ```ts
 * const { contextLost, stateId } = parsePowerState(await power.getState(1));
 * console.log(contextLost && stateId === 0 ? 'off' : `state ${stateId}`);
 * ```
 */
export function parsePowerState(state: number): PowerStateFields {
  const bits = state >>> 0;
  return {
    contextLost: (bits & POWER_STATE_CONTEXT_LOST) !== 0,
    stateId: bits & POWER_STATE_ID_MASK,
    reserved: (bits & RESERVED) >>> 0,
  };
}

/**
 * Power domain protocol (0x11) message ids besides the common 0x0–0x2 (scmi-wire.md §4, Power
 * domain).
 *
 * @example
 * ```ts
 * await agent.transact(0x11, PowerMessageId.STATE_GET, (w) => w.u32(7)); // an id the client refuses
 * ```
 */
export enum PowerMessageId {
  /** (domain_id) → attributes, name[16]. */
  DOMAIN_ATTRIBUTES = 0x3,
  /** (flags bit 0 async, domain_id, power_state); no delayed response, even asynchronous. */
  STATE_SET = 0x4,
  /** (domain_id) → power_state. */
  STATE_GET = 0x5,
  /** (domain_id, notify_enable): POWER_STATE_CHANGED. */
  STATE_NOTIFY = 0x6,
  /** (domain_id, notify_enable): POWER_STATE_CHANGE_REQUESTED. */
  STATE_CHANGE_REQUESTED_NOTIFY = 0x7,
  /** (domain_id) → flags, name[64] (version 3.0). */
  DOMAIN_NAME_GET = 0x8,
}

/** POWER_STATE_CHANGED (Power domain notification 0x0): agent_id, domain_id, power_state. */
export const POWER_STATE_CHANGED = 0x0;

/**
 * POWER_STATE_CHANGE_REQUESTED (Power domain notification 0x1): agent_id, domain_id,
 * power_state — an agent asked for a state change the platform accepted. Linux's `power.c`
 * dropped it as deprecated (the notifications series of 2020: no message 0x7, no event 0x1, and
 * no PROTOCOL_MESSAGE_ATTRIBUTES of 0x7 at init); this client still checks and offers it, for a
 * platform that implements it (the emulated one does, at 3.1).
 */
export const POWER_STATE_CHANGE_REQUESTED = 0x1;

const SET_ASYNC = 1 << 0;
const ATTR_STATE_CHANGED_NOTIFY = 1 << 31;
const ATTR_ASYNC_SET = 1 << 30;
const ATTR_SYNC_SET = 1 << 29;
const ATTR_CHANGE_REQUESTED_NOTIFY = 1 << 28;
const ATTR_EXTENDED_NAME = 1 << 27;
/** Both notifications carry agent_id, domain_id, power_state (Linux `scmi_power_state_notify_payld`). */
const STATE_PAYLOAD = 12;

/** What PROTOCOL_ATTRIBUTES says of the platform's shared-memory statistics, as it says it. */
export interface PowerStatistics {
  /** The region's address (stats_addr_high:stats_addr_low); 0 when there is none. */
  readonly address: bigint;
  /** The region's length in bytes (stats_len); 0 when there is none. */
  readonly length: number;
}

/** A power domain as POWER_DOMAIN_ATTRIBUTES (and POWER_DOMAIN_NAME_GET) describe it. */
export interface PowerDomainInfo {
  /** The domain id. */
  readonly id: number;
  /** Its name: the extended name when the platform announces one (version 3.0), else the short one. */
  readonly name: string;
  /**
   * Whether the platform sends POWER_STATE_CHANGED for it: attributes bit 31, and
   * POWER_STATE_NOTIFY implemented (PROTOCOL_MESSAGE_ATTRIBUTES, as Linux checks it).
   */
  readonly stateChangedNotifications: boolean;
  /** Whether its state can be set asynchronously (attributes bit 30). */
  readonly asyncSet: boolean;
  /** Whether its state can be set synchronously (attributes bit 29). */
  readonly syncSet: boolean;
  /**
   * Whether the platform sends POWER_STATE_CHANGE_REQUESTED for it: attributes bit 28, and
   * POWER_STATE_CHANGE_REQUESTED_NOTIFY implemented.
   */
  readonly changeRequestedNotifications: boolean;
  /** Present when POWER_DOMAIN_NAME_GET failed: the error (`name` is then the short name). */
  readonly nameError?: unknown;
}

/**
 * A POWER_STATE_CHANGED or POWER_STATE_CHANGE_REQUESTED notification, decoded by
 * {@link decodePowerStateNotification}.
 */
export interface PowerStateNotification {
  /** The agent that caused the change (or asked for it). */
  readonly agentId: number;
  /** The domain. */
  readonly domainId: number;
  /** The state it went to (or is asked to go to); see {@link parsePowerState}. */
  readonly powerState: number;
}

/**
 * Decodes a POWER_STATE_CHANGED or POWER_STATE_CHANGE_REQUESTED payload (agent_id, domain_id,
 * power_state). The hub delivers none of another size: both events' payloads are exactly 12
 * bytes, as Linux's `scmi_power_fill_custom_report` requires.
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload is shorter than 12 bytes.
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x11, eventId: POWER_STATE_CHANGED, source: 2 }, (n) => {
 *   const { agentId, powerState } = decodePowerStateNotification(n.payload);
 *   console.log(`agent ${agentId} moved domain 2 to 0x${powerState.toString(16)}`);
 * });
 * ```
 */
export function decodePowerStateNotification(payload: Uint8Array): PowerStateNotification {
  const r = new PayloadReader(payload);
  return { agentId: r.u32(), domainId: r.u32(), powerState: r.u32() };
}

/**
 * Options of {@link PowerProtocol.setState}. A key not listed here (a misspelt `asnyc`) is refused
 * `E_ARGUMENT`, nothing sent.
 *
 * @example
 * ```ts
 * await power.setState(1, POWER_STATE_OFF, { async: true }); // resolves once accepted
 * ```
 */
export interface PowerSetOptions {
  /**
   * Set the state asynchronously (flags bit 0): the platform answers once it has accepted the
   * request and applies it later. The Power domain protocol has no delayed response for it, so
   * the call resolves on that acceptance, before the state changed: see its completion with
   * POWER_STATE_CHANGED (or {@link PowerProtocol.getState}). Default `false`, a synchronous set
   * that resolves once the state is applied, as Linux's `scmi_power_state_set` always sends.
   * `true` on a domain that does not announce asynchronous sets is sent all the same (the
   * platform answers NOT_SUPPORTED).
   */
  readonly async?: boolean;
}

/** The keys {@link PowerProtocol.setState} takes in its options (others are refused). */
const SET_KEYS = optionKeys<PowerSetOptions>({ async: true });

/**
 * The Power domain protocol client (Linux `power.c`, `scmi_power_proto_ops`): the domains the
 * platform described at init, POWER_STATE_SET (synchronous or asynchronous) and POWER_STATE_GET,
 * and the POWER_STATE_CHANGED and POWER_STATE_CHANGE_REQUESTED notifications.
 *
 * @example
 * ```ts
 * const power = agent.protocol(powerProtocolDriver);
 * const gpu = power.domains.list.find((d) => d.name === 'gpu');
 * if (gpu !== undefined) {
 *   await power.setState(gpu.id, POWER_STATE_ON);
 *   console.log(parsePowerState(await power.getState(gpu.id)));
 * }
 * ```
 */
export class PowerProtocol {
  readonly #ph: ProtocolHandle;
  /** The domains, as the platform described them at init. */
  public readonly domains: DomainTable<PowerDomainInfo>;
  /** The statistics region PROTOCOL_ATTRIBUTES announced, as announced (never read). */
  public readonly statistics: PowerStatistics;

  readonly #notifyChecks: NotifyChecks;

  private constructor(
    ph: ProtocolHandle,
    domains: DomainTable<PowerDomainInfo>,
    statistics: PowerStatistics,
    notifyChecks: NotifyChecks,
  ) {
    this.#ph = ph;
    this.domains = domains;
    this.statistics = statistics;
    this.#notifyChecks = notifyChecks;
  }

  /**
   * The notify commands (POWER_STATE_NOTIFY, POWER_STATE_CHANGE_REQUESTED_NOTIFY, by message id)
   * whose PROTOCOL_MESSAGE_ATTRIBUTES check at init failed — a timeout, an error status other than
   * NOT_FOUND, a malformed reply — with the error. Such a command is left out for the agent's life
   * all the same, as Linux leaves it: no domain announces its notification, and a refused
   * subscription names this error (its `cause`). Empty when the platform answered every check.
   */
  public get notifyCheckErrors(): ReadonlyMap<number, unknown> {
    return this.#notifyChecks.errors;
  }

  /**
   * Reads PROTOCOL_ATTRIBUTES and describes every domain (POWER_DOMAIN_ATTRIBUTES, then
   * POWER_DOMAIN_NAME_GET for an extended name), as Linux's `scmi_power_protocol_init` does.
   *
   * @throws the PROTOCOL_ATTRIBUTES failure (the driver then fails to initialize, and the agent
   * goes on without it); a domain's failure is recorded in {@link PowerProtocol.domains}.
   * @internal
   */
  public static async create(ph: ProtocolHandle): Promise<PowerProtocol> {
    // As Linux's scmi_power_attributes_get: num_domains (15:0, 31:16 reserved), stats_addr_low,
    // stats_addr_high, stats_size, kept as the platform gives them.
    const attributes = await ph.xfer.transact(0x1, undefined, { rxSize: 16 });
    const [count, statistics] = ph.xfer.decode(attributes, (r) => {
      const n = r.u32() & 0xffff;
      return [n, { address: r.u64(), length: r.u32() }] as const;
    });
    // As Linux's scmi_power_attributes_get (protocol_msg_check): a notification bit counts only
    // when its notify command is implemented. Linux checks STATE_NOTIFY alone: it dropped
    // STATE_CHANGE_REQUESTED (see POWER_STATE_CHANGE_REQUESTED), whose check is one more message.
    const checks = await NotifyChecks.run(ph, [
      PowerMessageId.STATE_NOTIFY,
      PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY,
    ]);
    const stateNotify = checks.implemented(PowerMessageId.STATE_NOTIFY);
    const requestedNotify = checks.implemented(PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY);
    const domains = await DomainTable.describe('power domain', count, async (id) => {
      const returns = await ph.xfer.transact(PowerMessageId.DOMAIN_ATTRIBUTES, (w) => w.u32(id), {
        txSize: 4,
        rxSize: 4 + SHORT_NAME_SIZE,
      });
      const [flags, shortName] = ph.xfer.decode(
        returns,
        (r) => [r.u32(), r.string(SHORT_NAME_SIZE)] as const,
      );
      const name = await resourceName(
        ph,
        PowerMessageId.DOMAIN_NAME_GET,
        id,
        shortName,
        (flags & ATTR_EXTENDED_NAME) !== 0,
      );
      return {
        id,
        ...name,
        stateChangedNotifications: stateNotify && (flags & ATTR_STATE_CHANGED_NOTIFY) !== 0,
        asyncSet: (flags & ATTR_ASYNC_SET) !== 0,
        syncSet: (flags & ATTR_SYNC_SET) !== 0,
        changeRequestedNotifications:
          requestedNotify && (flags & ATTR_CHANGE_REQUESTED_NOTIFY) !== 0,
      };
    });
    return new PowerProtocol(ph, domains, statistics, checks);
  }

  /** The protocol version in use (major 31:16, minor 15:0). */
  public get version(): number {
    return this.#ph.version;
  }

  /** Where {@link PowerProtocol.version} comes from. */
  public get versionSource(): ProtocolVersionSource {
    return this.#ph.versionSource;
  }

  /**
   * Subscribes `handler` to POWER_STATE_CHANGED, decoded ({@link decodePowerStateNotification}):
   * the state a domain went to. `options.source` is a domain id (every domain that announces the
   * notification when omitted), `options.signal` ends the subscription. Resolves to the function
   * that ends it.
   *
   * @throws (rejects) as `agent.events.subscribe` (`E_NOT_SUPPORTED`, nothing sent, for a domain
   * that does not announce the notification or without a P2A channel; ScmiError `E_ARGUMENT` for
   * a source that is not a domain, or `handler` not a function).
   * @example
   * ```ts
   * await power.onStateChanged((e) => console.log(e.domainId, e.powerState), { source: 2 });
   * ```
   */
  public onStateChanged(
    handler: ProtocolEventHandler<PowerStateNotification>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      POWER_STATE_CHANGED,
      (n) => decodePowerStateNotification(n.payload),
      handler,
      options,
      'onStateChanged',
    );
  }

  /**
   * Subscribes `handler` to POWER_STATE_CHANGE_REQUESTED, decoded
   * ({@link decodePowerStateNotification}): a state another agent asked a domain for. As
   * {@link PowerProtocol.onStateChanged} otherwise.
   */
  public onStateChangeRequested(
    handler: ProtocolEventHandler<PowerStateNotification>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      POWER_STATE_CHANGE_REQUESTED,
      (n) => decodePowerStateNotification(n.payload),
      handler,
      options,
      'onStateChangeRequested',
    );
  }

  /**
   * This client with `options` applied to every command its methods send: `timeoutMs` bounds
   * each command's response instead of the agent's `rxTimeoutMs`, and `signal` gives the
   * commands in flight up when it fires (see {@link CallOptions}). The view shares everything
   * else with this client (its domains, its state, its channel); calls on this client itself are
   * unchanged. A view of a view keeps the signals of both and the newer timeout.
   *
   * @throws ScmiError `E_ARGUMENT` for options that are not an object, hold a key
   * {@link CallOptions} does not have, a `timeoutMs` that is not a positive number or a `signal`
   * that is not an `AbortSignal` (see {@link ProtocolHandle.withCallOptions}).
   * @example
   * ```ts
   * const controller = new AbortController();
   * process.once('SIGINT', () => controller.abort(new Error('interrupted')));
   * const power = agent.protocol(powerProtocolDriver).withCallOptions({
   *   timeoutMs: 200,
   *   signal: controller.signal,
   * });
   * console.log(await power.getState(0));
   * ```
   */
  public withCallOptions(options: CallOptions): PowerProtocol {
    return new PowerProtocol(
      this.#ph.withCallOptions(options),
      this.domains,
      this.statistics,
      this.#notifyChecks,
    );
  }

  /**
   * POWER_STATE_SET: asks for domain `id` to go to `state` (a `power_state` word:
   * {@link POWER_STATE_ON}, {@link POWER_STATE_OFF}, or {@link powerState}'s). Synchronous by
   * default: resolves once the platform applied it. Asynchronous on request (see
   * {@link PowerSetOptions.async}): resolves once the platform accepted it, with no delayed
   * response to wait for. The state is sent as given, reserved bits included (the platform
   * answers INVALID_PARAMETERS for a state the domain does not have).
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a domain, a `state`
   * that is not a 32-bit value, `options` that are not an object (`null`) or hold a key
   * {@link PowerSetOptions} does not have, or an `async` that is neither a boolean nor left out;
   * `E_DOMAIN_UNAVAILABLE` for a domain the platform did not describe; ScmiStatusError for an
   * error status (DENIED, NOT_SUPPORTED, INVALID_PARAMETERS, BUSY…); the error of a failed
   * transfer.
   */
  public async setState(id: number, state: number, options: PowerSetOptions = {}): Promise<void> {
    this.domains.info(id);
    const bits = u32Bits(state, 'power state');
    const o = objectArg(options, SET_KEYS, 'power setState options');
    const flags = boolOption(o.async, 'async') === true ? SET_ASYNC : 0;
    // Never transact's `async`: the platform sends no delayed response for POWER_STATE_SET.
    await this.#ph.xfer.transact(PowerMessageId.STATE_SET, (w) => w.u32(flags).u32(id).u32(bits), {
      txSize: 12,
      rxSize: 0,
    });
  }

  /**
   * POWER_STATE_GET: the state domain `id` is in now (a `power_state` word, see
   * {@link parsePowerState}).
   *
   * @throws as {@link PowerProtocol.setState}; ScmiMalformedError `E_TRUNCATED` (counted in
   * `diagnostics.malformedReplies`) for a reply without its state.
   */
  public async getState(id: number): Promise<number> {
    this.domains.info(id);
    const returns = await this.#ph.xfer.transact(PowerMessageId.STATE_GET, (w) => w.u32(id), {
      txSize: 4,
      rxSize: 4,
    });
    return this.#ph.xfer.decode(returns, (r) => r.u32());
  }

  /**
   * POWER_STATE_NOTIFY: asks the platform to send (or stop sending) POWER_STATE_CHANGED for
   * domain `id`. Subscribing through `agent.events` sends it for you; this is the raw command,
   * which goes around the hub: disabling here what a subscription holds silences it.
   *
   * @throws as {@link PowerProtocol.setState}.
   */
  public async notify(id: number, enable: boolean): Promise<void> {
    await this.#notify(PowerMessageId.STATE_NOTIFY, id, enable);
  }

  /**
   * POWER_STATE_CHANGE_REQUESTED_NOTIFY: asks the platform to send (or stop sending)
   * POWER_STATE_CHANGE_REQUESTED for domain `id`. Subscribing through `agent.events` sends it for
   * you; this is the raw command,
   * which goes around the hub: disabling here what a subscription holds silences it.
   *
   * @throws as {@link PowerProtocol.setState}.
   */
  public async notifyChangeRequested(id: number, enable: boolean): Promise<void> {
    await this.#notify(PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY, id, enable);
  }

  async #notify(messageId: number, id: number, enable: boolean): Promise<void> {
    await sendNotify(this.#ph, this.domains, messageId, id, enable);
  }
}

/**
 * The Power domain protocol driver: bind it to core's `PROTOCOL_DRIVER` (or load
 * `protocolsModule`), and `agent.protocol(powerProtocolDriver)` is the {@link PowerProtocol}.
 * Version 3.1 (3.0's extended names; 3.1, SCMI v3.2, changes no layout), as Linux's `power.c`
 * (0x30001 since "firmware: arm_scmi: Update various protocols versions", 2024): a v3.2 platform
 * reporting 3.1 is driven at its own version, not negotiated down; POWER_STATE_CHANGED and
 * POWER_STATE_CHANGE_REQUESTED are registered with the agent's notification hub (12-byte
 * payloads, one source per domain).
 *
 * @example
 * ```ts
 * container.load(new ContainerModule(({ bind }) => {
 *   bind(PROTOCOL_DRIVER).toConstantValue(powerProtocolDriver);
 * }));
 * const agent = await createAgent(container, options);
 * await agent.protocol(powerProtocolDriver).setState(1, POWER_STATE_OFF);
 * ```
 */
export const powerProtocolDriver: ProtocolDriver<PowerProtocol> = {
  protocolId: ScmiProtocolId.POWER,
  name: 'power',
  version: 0x30001,
  messageNames: PowerMessageId,
  async init(ph) {
    const power = await PowerProtocol.create(ph);
    ph.registerEvents([
      perDomainEvent({
        id: POWER_STATE_CHANGED,
        name: 'power-state-changed',
        payload: STATE_PAYLOAD,
        domains: power.domains,
        what: 'power domain',
        // Linux's scmi_power_notify_supported: the domain's attributes bit 31.
        supported: (d) => d.stateChangedNotifications,
        send: (id, enable) => power.notify(id, enable),
        checkFailure: checkFailureOf(
          power.notifyCheckErrors,
          PowerMessageId.STATE_NOTIFY,
          'POWER_STATE_NOTIFY',
        ),
      }),
      perDomainEvent({
        id: POWER_STATE_CHANGE_REQUESTED,
        name: 'power-state-change-requested',
        payload: STATE_PAYLOAD,
        domains: power.domains,
        what: 'power domain',
        supported: (d) => d.changeRequestedNotifications,
        send: (id, enable) => power.notifyChangeRequested(id, enable),
        checkFailure: checkFailureOf(
          power.notifyCheckErrors,
          PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY,
          'POWER_STATE_CHANGE_REQUESTED_NOTIFY',
        ),
      }),
    ]);
    return power;
  },
};
