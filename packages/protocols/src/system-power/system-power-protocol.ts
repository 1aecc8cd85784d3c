import {
  type CallOptions,
  CommonMessageId,
  PayloadReader,
  ScmiError,
  ScmiProtocolId,
  optionKeys,
  type ProtocolDriver,
  type ProtocolHandle,
  type ProtocolVersionSource,
  type ProtocolSubscribeOptions,
} from '@scmi-ts/core';
import { subscribeDecoded, type ProtocolEventHandler } from '../common/events.js';
import { boolArg, boolOption, objectArg, u32Bits } from '../common/args.js';
import { checkImplemented } from '../common/domain-table.js';
import { leftOut } from '../common/notify.js';

/**
 * System power protocol (0x12) message ids besides the common 0x0–0x2 (scmi-wire.md §4, System
 * power).
 *
 * @example
 * ```ts
 * await agent.transact(0x12, SystemPowerMessageId.STATE_SET, (w) => w.u32(2).u32(0)); // reserved flag bit
 * ```
 */
export enum SystemPowerMessageId {
  /** (flags bit 0 graceful, system_state). */
  STATE_SET = 0x3,
  /** () → system_state. */
  STATE_GET = 0x4,
  /** (notify_enable): SYSTEM_POWER_STATE_NOTIFIER. */
  STATE_NOTIFY = 0x5,
}

/**
 * SYSTEM_POWER_STATE_NOTIFIER (System power notification 0x0): agent_id, flags, system_state,
 * and from version 2.0 timeout.
 */
export const SYSTEM_POWER_STATE_NOTIFIER = 0x0;

/**
 * The architectural system states (`system_state`; Linux `enum scmi_system_events`). A vendor
 * state has bit 31 set ({@link SYSTEM_POWER_STATE_VENDOR}).
 *
 * @example
 * ```ts
 * await system.setState(SystemPowerState.WARM_RESET, { graceful: true });
 * ```
 */
export enum SystemPowerState {
  /** The system shuts down (Linux `SCMI_SYSTEM_SHUTDOWN`). */
  SHUTDOWN = 0,
  /** The system goes through a cold reset (`SCMI_SYSTEM_COLDRESET`). */
  COLD_RESET = 1,
  /** The system goes through a warm reset (`SCMI_SYSTEM_WARMRESET`). */
  WARM_RESET = 2,
  /** The system is powered up: from a management agent, after a shutdown or suspend (`SCMI_SYSTEM_POWERUP`). */
  POWER_UP = 3,
  /** The system suspends (`SCMI_SYSTEM_SUSPEND`). */
  SUSPEND = 4,
}

/** `system_state` bit 31: a vendor-defined state (bits 30:0 its id). */
export const SYSTEM_POWER_STATE_VENDOR = 0x80000000;

/** SYSTEM_POWER_STATE_SET and notifier `flags` bit 0: a graceful request (else forceful). */
export const SYSTEM_POWER_GRACEFUL = 1 << 0;

/** PROTOCOL_MESSAGE_ATTRIBUTES of SYSTEM_POWER_STATE_SET: bit 31 warm reset, bit 30 suspend. */
const SET_ATTR_WARM_RESET = 1 << 31;
const SET_ATTR_SUSPEND = 1 << 30;
/** agent_id, flags, system_state; version 2.0 adds timeout (Linux `scmi_system_power_state_notifier_payld`). */
const NOTIFIER_PAYLOAD_V1 = 12;
const NOTIFIER_PAYLOAD_V2 = 16;
const VERSION_2 = 0x20000;

/** What SYSTEM_POWER_STATE_SET's PROTOCOL_MESSAGE_ATTRIBUTES say the platform supports. */
export interface SystemPowerStateSetSupport {
  /** Whether {@link SystemPowerState.WARM_RESET} is supported (bit 31). */
  readonly warmReset: boolean;
  /** Whether {@link SystemPowerState.SUSPEND} is supported (bit 30). */
  readonly suspend: boolean;
  /** The attributes word as the platform gave it. */
  readonly attributes: number;
}

/** A SYSTEM_POWER_STATE_NOTIFIER notification, decoded by {@link decodeSystemPowerStateNotifier}. */
export interface SystemPowerStateNotifier {
  /** The agent that asked for the transition. */
  readonly agentId: number;
  /** The flags word as sent (bit 0 graceful; see {@link SYSTEM_POWER_GRACEFUL}). */
  readonly flags: number;
  /** Whether the request is graceful (flags bit 0): the agent is asked to shut down first. */
  readonly graceful: boolean;
  /** The state the system goes to ({@link SystemPowerState}, or a vendor state). */
  readonly systemState: number;
  /**
   * The time in ms the platform gives the agent to complete a graceful request, as Linux's
   * `scmi_system_fill_custom_report` reads it: from a version 2.0 payload (16 bytes), for a
   * graceful shutdown only; 0 otherwise (a forceful request, another state, or a version 1.0
   * payload, which has no timeout).
   */
  readonly timeoutMs: number;
  /**
   * The payload's timeout word as the platform sent it (version 2.0 payload, any flags or state),
   * or `undefined` for a 12-byte (version 1.0) payload.
   */
  readonly timeoutWord: number | undefined;
}

/**
 * Decodes a SYSTEM_POWER_STATE_NOTIFIER payload: agent_id, flags, system_state and, in a 16-byte
 * (version 2.0) payload, timeout. The hub delivers only the size of the version in use (12 bytes
 * before 2.0, 16 from 2.0), as Linux's `scmi_system_fill_custom_report` drops any other.
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload is shorter than 12 bytes.
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x12, eventId: SYSTEM_POWER_STATE_NOTIFIER }, (n) => {
 *   const { systemState, graceful, timeoutMs } = decodeSystemPowerStateNotifier(n.payload);
 *   if (systemState === SystemPowerState.SHUTDOWN && graceful) shutDownWithin(timeoutMs);
 * });
 * ```
 */
export function decodeSystemPowerStateNotifier(payload: Uint8Array): SystemPowerStateNotifier {
  const r = new PayloadReader(payload);
  const agentId = r.u32();
  const flags = r.u32();
  const systemState = r.u32();
  const timeoutWord = r.remaining >= 4 ? r.u32() : undefined;
  const graceful = (flags & SYSTEM_POWER_GRACEFUL) !== 0;
  const timeoutMs =
    timeoutWord !== undefined && graceful && systemState === SystemPowerState.SHUTDOWN
      ? timeoutWord
      : 0;
  return { agentId, flags, graceful, systemState, timeoutMs, timeoutWord };
}

/**
 * Options of {@link SystemPowerProtocol.setState}. A key not listed here (a misspelt `gracefull`)
 * is refused `E_ARGUMENT`, nothing sent.
 *
 * @example
 * ```ts
 * await system.setState(SystemPowerState.SHUTDOWN, { graceful: true });
 * ```
 */
export interface SystemPowerSetOptions {
  /**
   * A graceful request (flags bit 0): the platform asks the agents to shut down before it
   * changes the state. Default `false`, a forceful request.
   */
  readonly graceful?: boolean;
}

/** The keys {@link SystemPowerProtocol.setState} takes in its options (others are refused). */
const SET_KEYS = optionKeys<SystemPowerSetOptions>({ graceful: true });

/**
 * The System power protocol client: SYSTEM_POWER_STATE_SET, _GET and _NOTIFY, and the
 * SYSTEM_POWER_STATE_NOTIFIER notification (Linux's `system.c` has the notification only, for
 * its `scmi_power_control` driver). The protocol has no domains: one notification source, 0.
 *
 * @example
 * ```ts
 * const system = agent.protocol(systemPowerProtocolDriver);
 * if ((await system.stateSetSupport()).warmReset) {
 *   await system.setState(SystemPowerState.WARM_RESET, { graceful: true });
 * }
 * console.log(await system.getState());
 * ```
 */
export class SystemPowerProtocol {
  readonly #ph: ProtocolHandle;
  /**
   * Whether the platform implements SYSTEM_POWER_STATE_NOTIFY (PROTOCOL_MESSAGE_ATTRIBUTES at
   * init, as Linux's `scmi_system_protocol_init` asks `protocol_msg_check` since its
   * `is_notify_supported`): without it, a subscription to SYSTEM_POWER_STATE_NOTIFIER is refused
   * `E_NOT_SUPPORTED`, nothing sent (firmware built without notifications, or a link without a
   * P2A channel).
   */
  public readonly notifications: boolean;
  /**
   * Why `notifications` is false when the platform did not answer that check (a timeout, an error
   * status other than NOT_FOUND, a malformed reply): the command is left out for the agent's life
   * all the same, as Linux leaves it, and a refused subscription names this error (its `cause`).
   * Undefined when the platform answered (NOT_FOUND included).
   */
  public readonly notificationsCheckError: unknown;

  private constructor(ph: ProtocolHandle, notifications: boolean, checkError: unknown) {
    this.#ph = ph;
    this.notifications = notifications;
    this.notificationsCheckError = checkError;
  }

  /**
   * The client: at init, besides core's PROTOCOL_VERSION, one PROTOCOL_MESSAGE_ATTRIBUTES for
   * SYSTEM_POWER_STATE_NOTIFY, as Linux's `scmi_system_protocol_init` does.
   *
   * @internal
   */
  public static async create(ph: ProtocolHandle): Promise<SystemPowerProtocol> {
    const check = await checkImplemented(ph, SystemPowerMessageId.STATE_NOTIFY);
    return new SystemPowerProtocol(ph, check.implemented, check.checkError);
  }

  /** The protocol version in use (major 31:16, minor 15:0). */
  public get version(): number {
    return this.#ph.version;
  }

  /** Where {@link SystemPowerProtocol.version} comes from. */
  public get versionSource(): ProtocolVersionSource {
    return this.#ph.versionSource;
  }

  /**
   * Subscribes `handler` to SYSTEM_POWER_STATE_NOTIFIER, decoded
   * ({@link decodeSystemPowerStateNotifier}): a system state another agent set (with, from
   * version 2.0, the time the platform gives the agents for a graceful one). `options.signal` ends
   * the subscription (the event has one source, 0). Resolves to the function that ends it.
   *
   * @throws (rejects) ScmiError `E_NOT_SUPPORTED`, nothing sent, when the platform does not
   * implement SYSTEM_POWER_STATE_NOTIFY (see {@link SystemPowerProtocol.notifications}) or
   * without a P2A channel; otherwise as `agent.events.subscribe`.
   * @example
   * ```ts
   * await system.onStateNotifier((e) => console.log(e.systemState, e.timeoutMs));
   * ```
   */
  public onStateNotifier(
    handler: ProtocolEventHandler<SystemPowerStateNotifier>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      SYSTEM_POWER_STATE_NOTIFIER,
      (n) => decodeSystemPowerStateNotifier(n.payload),
      handler,
      options,
      'onStateNotifier',
    );
  }

  /**
   * This client with `options` applied to every command its methods send: `timeoutMs` bounds
   * each command's response instead of the agent's `rxTimeoutMs`, and `signal` gives the
   * commands in flight up when it fires (see {@link CallOptions}). The view shares everything
   * else with this client (its version, its channel); calls on this client itself are
   * unchanged. A view of a view keeps the signals of both and the newer timeout.
   *
   * @throws ScmiError `E_ARGUMENT` for options that are not an object, hold a key
   * {@link CallOptions} does not have, a `timeoutMs` that is not a positive number or a `signal`
   * that is not an `AbortSignal` (see {@link ProtocolHandle.withCallOptions}).
   * @example
   * ```ts
   * const controller = new AbortController();
   * process.once('SIGINT', () => controller.abort(new Error('interrupted')));
   * const systemPower = agent.protocol(systemPowerProtocolDriver).withCallOptions({
   *   timeoutMs: 200,
   *   signal: controller.signal,
   * });
   * console.log(await systemPower.getState());
   * ```
   */
  public withCallOptions(options: CallOptions): SystemPowerProtocol {
    return new SystemPowerProtocol(
      this.#ph.withCallOptions(options),
      this.notifications,
      this.notificationsCheckError,
    );
  }

  /**
   * Whether SYSTEM_POWER_STATE_NOTIFIER carries a timeout: version 2.0 or later (Linux's
   * `graceful_timeout_supported`). Its payload is 16 bytes then, else 12.
   */
  public get gracefulTimeout(): boolean {
    return this.#ph.version >= VERSION_2;
  }

  /**
   * PROTOCOL_ATTRIBUTES: the attributes word, reserved (zero) in versions 1.0 and 2.0 of the
   * protocol; given as the platform sends it. Linux never asks for it.
   *
   * @throws ScmiStatusError for an error status; ScmiMalformedError `E_TRUNCATED` (counted) for a
   * reply without the word; the error of a failed transfer.
   */
  public async attributes(): Promise<number> {
    const returns = await this.#ph.xfer.transact(CommonMessageId.PROTOCOL_ATTRIBUTES, undefined, {
      rxSize: 4,
    });
    return this.#ph.xfer.decode(returns, (r) => r.u32());
  }

  /**
   * PROTOCOL_MESSAGE_ATTRIBUTES of SYSTEM_POWER_STATE_SET: whether the platform supports warm
   * reset (bit 31) and suspend (bit 30).
   *
   * @throws as {@link SystemPowerProtocol.attributes}.
   */
  public async stateSetSupport(): Promise<SystemPowerStateSetSupport> {
    const returns = await this.#ph.xfer.transact(
      CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES,
      (w) => w.u32(SystemPowerMessageId.STATE_SET),
      { txSize: 4, rxSize: 4 },
    );
    const attributes = this.#ph.xfer.decode(returns, (r) => r.u32());
    return {
      warmReset: (attributes & SET_ATTR_WARM_RESET) !== 0,
      suspend: (attributes & SET_ATTR_SUSPEND) !== 0,
      attributes,
    };
  }

  /**
   * SYSTEM_POWER_STATE_SET: asks the platform to take the system to `state`
   * ({@link SystemPowerState}, or `SYSTEM_POWER_STATE_VENDOR | id` — the negative number
   * JavaScript's `|` gives is taken as its 32 bits), forcefully or gracefully. The platform
   * decides who may ask for what (POWER_UP is for a management agent).
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for a `state` that is not a 32-bit value,
   * `options` that are not an object (`null`) or hold a key {@link SystemPowerSetOptions} does not
   * have, or a `graceful` that is neither a boolean nor left out;
   * ScmiStatusError for an error status (INVALID_PARAMETERS, NOT_SUPPORTED, DENIED…); the error
   * of a failed transfer.
   */
  public async setState(state: number, options: SystemPowerSetOptions = {}): Promise<void> {
    const bits = u32Bits(state, 'system state');
    const o = objectArg(options, SET_KEYS, 'system power setState options');
    const flags = boolOption(o.graceful, 'graceful') === true ? SYSTEM_POWER_GRACEFUL : 0;
    await this.#ph.xfer.transact(SystemPowerMessageId.STATE_SET, (w) => w.u32(flags).u32(bits), {
      txSize: 8,
      rxSize: 0,
    });
  }

  /**
   * SYSTEM_POWER_STATE_GET: the system state now ({@link SystemPowerState}, or a vendor state).
   *
   * @throws as {@link SystemPowerProtocol.attributes}.
   */
  public async getState(): Promise<number> {
    const returns = await this.#ph.xfer.transact(SystemPowerMessageId.STATE_GET, undefined, {
      rxSize: 4,
    });
    return this.#ph.xfer.decode(returns, (r) => r.u32());
  }

  /**
   * SYSTEM_POWER_STATE_NOTIFY: asks the platform to send (or stop sending)
   * SYSTEM_POWER_STATE_NOTIFIER. Subscribing through `agent.events` sends it for you; this is the
   * raw command (as Linux's `scmi_system_request_notify`).
   *
   * @throws ScmiStatusError for an error status (NOT_SUPPORTED without a P2A channel); the error
   * of a failed transfer.
   */
  public async notify(enable: boolean): Promise<void> {
    const on = boolArg(enable, 'enable') ? 1 : 0;
    await this.#ph.xfer.transact(SystemPowerMessageId.STATE_NOTIFY, (w) => w.u32(on), {
      txSize: 4,
      rxSize: 0,
    });
  }
}

/**
 * The System power protocol driver: bind it to core's `PROTOCOL_DRIVER` (or load
 * `protocolsModule`), and `agent.protocol(systemPowerProtocolDriver)` is the
 * {@link SystemPowerProtocol}. Version 2.1 (2.0's notifier timeout; 2.1, SCMI v3.2, changes no
 * layout), as Linux's `system.c` (0x20001);
 * SYSTEM_POWER_STATE_NOTIFIER is registered with the agent's notification hub with one source
 * (0), its payload exactly 12 bytes below version 2.0 and 16 from it.
 *
 * @example
 * ```ts
 * container.load(new ContainerModule(({ bind }) => {
 *   bind(PROTOCOL_DRIVER).toConstantValue(systemPowerProtocolDriver);
 * }));
 * const agent = await createAgent(container, options);
 * console.log(await agent.protocol(systemPowerProtocolDriver).getState());
 * ```
 */
export const systemPowerProtocolDriver: ProtocolDriver<SystemPowerProtocol> = {
  protocolId: ScmiProtocolId.SYSTEM,
  name: 'system-power',
  version: 0x20001,
  messageNames: SystemPowerMessageId,
  async init(ph) {
    const system = await SystemPowerProtocol.create(ph);
    const payload = system.gracefulTimeout ? NOTIFIER_PAYLOAD_V2 : NOTIFIER_PAYLOAD_V1;
    ph.registerEvents([
      {
        id: SYSTEM_POWER_STATE_NOTIFIER,
        name: 'system-power-state-notifier',
        minPayload: payload,
        maxPayload: payload,
        // Linux's SCMI_SYSTEM_NUM_SOURCES: one, and every notification is about it (the word at
        // offset 4, the hub's default source, is the flags here).
        numSources: 1,
        sourceOf: () => 0,
        setNotifyEnabled: async (_source, enable) => {
          // Refused without sending, as Linux's core asks is_notify_supported first.
          if (!system.notifications) {
            const checkError = system.notificationsCheckError;
            throw checkError === undefined
              ? new ScmiError(
                  'E_NOT_SUPPORTED',
                  'the platform does not implement SYSTEM_POWER_STATE_NOTIFY',
                )
              : new ScmiError(
                  'E_NOT_SUPPORTED',
                  leftOut({ command: 'SYSTEM_POWER_STATE_NOTIFY', error: checkError }),
                  { cause: checkError },
                );
          }
          await system.notify(enable);
        },
      },
    ]);
    return system;
  },
};
