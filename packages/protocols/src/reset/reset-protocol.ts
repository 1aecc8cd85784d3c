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
import { checkDelayedId } from '../common/delayed.js';
import { subscribeDecoded, type ProtocolEventHandler } from '../common/events.js';
import { boolOption, objectArg, u32Bits } from '../common/args.js';
import { DomainTable, SHORT_NAME_SIZE, resourceName } from '../common/domain-table.js';
import { NotifyChecks, checkFailureOf, perDomainEvent, sendNotify } from '../common/notify.js';

/**
 * Reset domain protocol (0x16) message ids besides the common 0x0–0x2 (scmi-wire.md §4, Reset).
 *
 * @example
 * ```ts
 * await agent.transact(0x16, ResetMessageId.RESET, (w) => w.u32(0).u32(1).u32(0));
 * ```
 */
export enum ResetMessageId {
  /** (domain_id) → attributes, latency_us, name[16]. */
  DOMAIN_ATTRIBUTES = 0x3,
  /** (domain_id, flags, reset_state); asynchronous: delayed response domain_id. */
  RESET = 0x4,
  /** (domain_id, notify_enable): RESET_ISSUED. */
  NOTIFY = 0x5,
  /** (domain_id) → flags, name[64] (version 3.0). */
  DOMAIN_NAME_GET = 0x6,
}

/** RESET_ISSUED (Reset notification 0x0): agent_id, domain_id, reset_state. */
export const RESET_ISSUED = 0x0;

/** The architectural cold reset (`reset_state` 0; Linux `ARCH_COLD_RESET`). */
export const RESET_STATE_COLD = 0;

/** `reset_state` bit 31: a vendor-defined reset state (bits 30:0 its id). */
export const RESET_STATE_VENDOR = 0x80000000;

const AUTONOMOUS = 1 << 0;
const EXPLICIT_ASSERT = 1 << 1;
const ASYNCHRONOUS = 1 << 2;
const ATTR_ASYNC = 1 << 31;
const ATTR_NOTIFY = 1 << 30;
const ATTR_EXTENDED_NAME = 1 << 29;
/** Both values the specification gives for an unknown latency. */
const UNKNOWN_LATENCY = new Set([0x7fffffff, 0xffffffff]);
const ISSUED_PAYLOAD = 12;

/** A reset domain as RESET_DOMAIN_ATTRIBUTES (and RESET_DOMAIN_NAME_GET) describe it. */
export interface ResetDomainInfo {
  /** The domain id. */
  readonly id: number;
  /** Its name: the extended name when the platform announces one (version 3.0), else the short one. */
  readonly name: string;
  /** Whether the platform can reset it asynchronously (attributes bit 31). */
  readonly asyncReset: boolean;
  /**
   * Whether the platform sends RESET_ISSUED for it: attributes bit 30, and RESET_NOTIFY
   * implemented (PROTOCOL_MESSAGE_ATTRIBUTES, as Linux checks it).
   */
  readonly notifications: boolean;
  /**
   * The most time a reset takes to take effect, in µs; `undefined` when the platform does not
   * know (0x7FFFFFFF or 0xFFFFFFFF; Linux reports 0 for the latter).
   */
  readonly latencyUs: number | undefined;
  /** Present when RESET_DOMAIN_NAME_GET failed: the error (`name` is then the short name). */
  readonly nameError?: unknown;
}

/** A RESET_ISSUED notification, decoded by {@link decodeResetIssued}. */
export interface ResetIssued {
  /** The agent that caused the reset. */
  readonly agentId: number;
  /** The domain reset. */
  readonly domainId: number;
  /** The reset state it was reset to. */
  readonly resetState: number;
}

/**
 * Decodes a RESET_ISSUED payload (agent_id, domain_id, reset_state). The hub delivers none of
 * another size: the event's payload is exactly 12 bytes, as Linux's `scmi_reset_fill_custom_report`
 * requires.
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload is shorter than 12 bytes.
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x16, eventId: RESET_ISSUED, source: 0 }, (n) => {
 *   const { agentId, domainId } = decodeResetIssued(n.payload);
 *   console.log(`agent ${agentId} reset domain ${domainId}`);
 * });
 * ```
 */
export function decodeResetIssued(payload: Uint8Array): ResetIssued {
  const r = new PayloadReader(payload);
  return { agentId: r.u32(), domainId: r.u32(), resetState: r.u32() };
}

/**
 * Options of {@link ResetProtocol.reset}. A key not listed here (a misspelt `asnyc`) is refused
 * `E_ARGUMENT`, nothing sent.
 *
 * @example
 * ```ts
 * await reset.reset(0, { async: false, resetState: RESET_STATE_COLD });
 * ```
 */
export interface ResetOptions {
  /**
   * The reset state: {@link RESET_STATE_COLD} (default), or `RESET_STATE_VENDOR | id` for a
   * vendor state (the negative number JavaScript's `|` gives is taken as its 32 bits).
   */
  readonly resetState?: number;
  /**
   * Reset asynchronously and wait for the delayed response: default, when the domain supports it
   * and the agent has a P2A channel to receive it (as Linux sets ASYNCHRONOUS_RESET for every
   * domain that announces it). `false` asks for a synchronous reset; `true` on a domain that does
   * not announce it is sent all the same (the platform answers NOT_SUPPORTED), except on an agent
   * without a P2A channel, where no delayed response can come: refused, nothing sent.
   */
  readonly async?: boolean;
}

/** The keys {@link ResetProtocol.reset} takes in its options (others are refused). */
const RESET_KEYS = optionKeys<ResetOptions>({ resetState: true, async: true });

/**
 * The Reset domain protocol client (Linux `reset.c`, `scmi_reset_proto_ops`): the domains the
 * platform described at init, autonomous resets (synchronous or with a delayed response) and
 * explicit assert / deassert, and RESET_ISSUED notifications.
 *
 * @example
 * ```ts
 * const reset = agent.protocol(resetProtocolDriver);
 * const gpu = reset.domains.list.find((d) => d.name === 'gpu');
 * if (gpu !== undefined) await reset.reset(gpu.id); // asynchronous when gpu announces it
 * await reset.assert(1);
 * await reset.deassert(1);
 * ```
 */
export class ResetProtocol {
  readonly #ph: ProtocolHandle;
  /** The domains, as the platform described them at init. */
  public readonly domains: DomainTable<ResetDomainInfo>;

  readonly #notifyChecks: NotifyChecks;

  private constructor(
    ph: ProtocolHandle,
    domains: DomainTable<ResetDomainInfo>,
    notifyChecks: NotifyChecks,
  ) {
    this.#ph = ph;
    this.domains = domains;
    this.#notifyChecks = notifyChecks;
  }

  /**
   * The notify commands (RESET_NOTIFY, by message id) whose PROTOCOL_MESSAGE_ATTRIBUTES check at
   * init failed — a timeout, an error status other than NOT_FOUND, a malformed reply — with the
   * error. Such a command is left out for the agent's life all the same, as Linux leaves it: no
   * domain announces its notification, and a refused subscription names this error (its `cause`).
   * Empty when the platform answered every check.
   */
  public get notifyCheckErrors(): ReadonlyMap<number, unknown> {
    return this.#notifyChecks.errors;
  }

  /**
   * Reads PROTOCOL_ATTRIBUTES and describes every domain (RESET_DOMAIN_ATTRIBUTES, then
   * RESET_DOMAIN_NAME_GET for an extended name), as Linux's `scmi_reset_protocol_init` does.
   *
   * @throws the PROTOCOL_ATTRIBUTES failure (the driver then fails to initialize, and the agent
   * goes on without it); a domain's failure is recorded in {@link ResetProtocol.domains}.
   * @internal
   */
  public static async create(ph: ProtocolHandle): Promise<ResetProtocol> {
    const attributes = await ph.xfer.transact(0x1, undefined, { rxSize: 4 });
    const count = ph.xfer.decode(attributes, (r) => r.u32() & 0xffff);
    // As Linux's scmi_reset_attributes_get (protocol_msg_check): bit 30 counts only when
    // RESET_NOTIFY is implemented.
    const checks = await NotifyChecks.run(ph, [ResetMessageId.NOTIFY]);
    const notify = checks.implemented(ResetMessageId.NOTIFY);
    const domains = await DomainTable.describe('reset domain', count, async (id) => {
      const returns = await ph.xfer.transact(ResetMessageId.DOMAIN_ATTRIBUTES, (w) => w.u32(id), {
        txSize: 4,
        rxSize: 8 + SHORT_NAME_SIZE,
      });
      const [flags, latency, shortName] = ph.xfer.decode(
        returns,
        (r) => [r.u32(), r.u32(), r.string(SHORT_NAME_SIZE)] as const,
      );
      const name = await resourceName(
        ph,
        ResetMessageId.DOMAIN_NAME_GET,
        id,
        shortName,
        (flags & ATTR_EXTENDED_NAME) !== 0,
      );
      return {
        id,
        ...name,
        asyncReset: (flags & ATTR_ASYNC) !== 0,
        notifications: notify && (flags & ATTR_NOTIFY) !== 0,
        latencyUs: UNKNOWN_LATENCY.has(latency) ? undefined : latency,
      };
    });
    return new ResetProtocol(ph, domains, checks);
  }

  /** The protocol version in use (major 31:16, minor 15:0). */
  public get version(): number {
    return this.#ph.version;
  }

  /** Where {@link ResetProtocol.version} comes from. */
  public get versionSource(): ProtocolVersionSource {
    return this.#ph.versionSource;
  }

  /**
   * Subscribes `handler` to RESET_ISSUED, decoded ({@link decodeResetIssued}): a reset another
   * agent (or the platform) issued. `options.source` is a domain id (every domain that announces
   * the notification when omitted), `options.signal` ends the subscription. Resolves to the
   * function that ends it.
   *
   * @throws (rejects) as `agent.events.subscribe` (`E_NOT_SUPPORTED`, nothing sent, for a domain
   * that does not announce the notification or without a P2A channel; ScmiError `E_ARGUMENT` for
   * a source that is not a domain, or `handler` not a function).
   * @example
   * ```ts
   * await reset.onResetIssued((e) => console.log(e.domainId, e.resetState), { source: 0 });
   * ```
   */
  public onResetIssued(
    handler: ProtocolEventHandler<ResetIssued>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      RESET_ISSUED,
      (n) => decodeResetIssued(n.payload),
      handler,
      options,
      'onResetIssued',
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
   * const reset = agent.protocol(resetProtocolDriver).withCallOptions({
   *   timeoutMs: 200,
   *   signal: controller.signal,
   * });
   * await reset.reset(0);
   * ```
   */
  public withCallOptions(options: CallOptions): ResetProtocol {
    return new ResetProtocol(this.#ph.withCallOptions(options), this.domains, this.#notifyChecks);
  }

  /**
   * RESET, autonomous: the platform asserts and deasserts domain `id` itself. Asynchronous when the
   * domain supports it (see {@link ResetOptions.async}): resolves once the delayed response came.
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a domain, `options` that
   * are not an object (`null`) or hold a key {@link ResetOptions} does not have, a `resetState`
   * that is not a 32-bit value, or an `async` that is neither a boolean nor left out;
   * `E_DOMAIN_UNAVAILABLE` for a domain the platform did not describe; ScmiStatusError for an
   * error status (DENIED, NOT_SUPPORTED, BUSY…); ScmiMalformedError (counted) for a delayed
   * response without its domain_id (`E_TRUNCATED`) or about another domain (`E_DOMAIN_ID`);
   * ScmiTransportError `E_NOT_SUPPORTED` (nothing sent) for `async: true` on an agent without a
   * P2A channel; the error of a failed transfer (a delayed response that never came:
   * ScmiTimeoutError).
   */
  public async reset(id: number, options: ResetOptions = {}): Promise<void> {
    const info = this.domains.info(id);
    const o = objectArg(options, RESET_KEYS, 'reset options');
    const async = boolOption(o.async, 'async') ?? (info.asyncReset && this.#ph.p2a);
    await this.#reset(
      id,
      AUTONOMOUS | (async ? ASYNCHRONOUS : 0),
      o.resetState === undefined ? RESET_STATE_COLD : o.resetState,
      async,
    );
  }

  /**
   * RESET with explicit assert: domain `id` is held in reset (`resetState`, default cold) until
   * {@link ResetProtocol.deassert}.
   *
   * @throws as {@link ResetProtocol.reset}.
   */
  public async assert(id: number, resetState = RESET_STATE_COLD): Promise<void> {
    this.domains.info(id);
    await this.#reset(id, EXPLICIT_ASSERT, resetState, false);
  }

  /**
   * RESET with explicit deassert: domain `id` leaves reset.
   *
   * @throws as {@link ResetProtocol.reset}.
   */
  public async deassert(id: number, resetState = RESET_STATE_COLD): Promise<void> {
    this.domains.info(id);
    await this.#reset(id, 0, resetState, false);
  }

  /**
   * RESET_NOTIFY: asks the platform to send (or stop sending) RESET_ISSUED for domain `id`.
   * Subscribing through `agent.events` sends it for you; this is the raw command,
   * which goes around the hub: disabling here what a subscription holds silences it.
   *
   * @throws as {@link ResetProtocol.reset}.
   */
  public async notify(id: number, enable: boolean): Promise<void> {
    await sendNotify(this.#ph, this.domains, ResetMessageId.NOTIFY, id, enable);
  }

  async #reset(id: number, flags: number, resetState: number, async: boolean): Promise<void> {
    const state = u32Bits(resetState, 'reset state');
    const returns = await this.#ph.xfer.transact(
      ResetMessageId.RESET,
      (w) => w.u32(id).u32(flags).u32(state),
      { txSize: 12, rxSize: 0, async },
    );
    if (!async) return;
    // The delayed response carries the domain reset (Linux's reset.c does not read it; a reply
    // about another domain, or without its domain_id, is the platform's error all the same, as
    // the Clock and Sensor delayed responses are checked).
    const domainId = this.#ph.xfer.decode(returns, (r) => r.u32());
    checkDelayedId(this.#ph, 'RESET', 'domain', domainId, id, 'E_DOMAIN_ID');
  }
}

/**
 * The Reset domain protocol driver: bind it to core's `PROTOCOL_DRIVER` (or load
 * `protocolsModule`), and `agent.protocol(resetProtocolDriver)` is the {@link ResetProtocol}.
 * Version 3.1 (3.0's extended names; 3.1, SCMI v3.2, changes no layout), as Linux's `reset.c`
 * (0x30001 since 2024's "Update various protocols versions"); RESET_ISSUED is registered with
 * the agent's notification hub (12-byte payload, one source per domain).
 *
 * @example
 * ```ts
 * container.load(new ContainerModule(({ bind }) => {
 *   bind(PROTOCOL_DRIVER).toConstantValue(resetProtocolDriver);
 * }));
 * const agent = await createAgent(container, options);
 * await agent.protocol(resetProtocolDriver).reset(0);
 * ```
 */
export const resetProtocolDriver: ProtocolDriver<ResetProtocol> = {
  protocolId: ScmiProtocolId.RESET,
  name: 'reset',
  version: 0x30001,
  messageNames: ResetMessageId,
  async init(ph) {
    const reset = await ResetProtocol.create(ph);
    ph.registerEvents([
      perDomainEvent({
        id: RESET_ISSUED,
        name: 'reset-issued',
        payload: ISSUED_PAYLOAD,
        domains: reset.domains,
        what: 'reset domain',
        supported: (d) => d.notifications,
        send: (id, enable) => reset.notify(id, enable),
        checkFailure: checkFailureOf(
          reset.notifyCheckErrors,
          ResetMessageId.NOTIFY,
          'RESET_NOTIFY',
        ),
      }),
    ]);
    return reset;
  },
};
