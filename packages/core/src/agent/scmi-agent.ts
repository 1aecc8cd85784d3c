import { RevokedError, type Device, type Devres, type DevresGroup } from '@scmi-ts/devres';
import type { ChannelDirection } from '../channel/transport.js';
import type { ChannelStats } from '../diagnostics/channel-counters.js';
import { callContained } from '../diagnostics/contained-call.js';
import type { ContainedLogger } from '../diagnostics/logger.js';
import { ScmiError, ScmiTransportError } from '../errors/scmi-error.js';
import type {
  NotificationHub,
  NotificationStats,
  ScmiEventDescriptor,
  ScmiEventFilter,
  ScmiEventWait,
  ScmiSubscribeOptions,
  ScmiWaitOptions,
  ScmiNotificationHandler,
} from '../notification/notification-hub.js';
import type { BaseProtocol, ScmiPlatformInfo } from '../protocol/base/base-protocol.js';
import type {
  PayloadSource,
  ProtocolDriver,
  TransactOptions,
  XferOps,
} from '../protocol/protocol-handle.js';
import type { ChannelRuntime, TransferEngine } from '../transfer/transfer-engine.js';
import { describeArg, formatValue } from '../errors/format-value.js';
import {
  SCMI_VENDOR_PROTOCOL_BASE,
  ScmiProtocolId,
  scmiProtocolName,
} from '../wire/protocol-id.js';
import {
  describeDriverVendor,
  describePlatformVendor,
  sameVendorMatch,
} from '../protocol/vendor-match.js';
import { optionKeys, unknownKeyError, type AgentConfig } from './agent-config.js';

/** One channel's counters in {@link AgentDiagnostics}. */
export interface ChannelDiagnostics {
  /** `a2p:0`, `p2a:0`… */
  readonly label: string;
  /** The channel id. */
  readonly id: number;
  /** The direction. */
  readonly direction: ChannelDirection;
  /** Messages the channel carries at once (as its transport says). */
  readonly maxInFlight: number;
  /**
   * Why the channel is lost for good: the error its transport gave core's `RxSink.failInFlight`
   * (the other end gone — a device that needs a reset, a platform thread that died); undefined
   * while it is sound. A command for a lost A2P channel fails at once with it; after a P2A loss a
   * command's delayed-response wait does.
   */
  readonly lost: Error | undefined;
  /** Its counters. */
  readonly stats: ChannelStats;
}

/**
 * A channel lost for good, as {@link ScmiAgent.onLost} tells it: the channel's identity and the
 * error its transport gave core's `RxSink.failInFlight` (the same as
 * {@link ChannelDiagnostics.lost}).
 *
 * @example
 * ```ts
 * agent.onLost((loss: ChannelLoss) => {
 *   if (loss.direction === 'a2p') console.error(`no command will be answered: ${loss.error.message}`);
 * });
 * ```
 */
export interface ChannelLoss {
  /** `a2p:0`, `p2a:0`… */
  readonly label: string;
  /** The channel id. */
  readonly id: number;
  /** The direction. */
  readonly direction: ChannelDirection;
  /** Why: the transport's error (e.g. virtio `E_VIRTIO_DEVICE`, mailbox `E_MBOX_REMOTE_GONE`). */
  readonly error: Error;
}

/**
 * A listener of {@link ScmiAgent.onLost}. What it returns is ignored, but a throw or a rejected
 * promise is contained and counted in `diagnostics.lossListenerErrors`.
 *
 * @example
 * ```ts
 * const listener: ChannelLossListener = async ({ label }) => {
 *   await report(`${label} lost`); // a rejection is counted, never unhandled
 * };
 * agent.onLost(listener);
 * ```
 */
export type ChannelLossListener = (loss: ChannelLoss) => void | Promise<void>;

/** Use of the transfer pool. */
export interface PoolStats {
  /** Transfers in the pool. */
  readonly size: number;
  /** Transfers in use. */
  readonly inUse: number;
  /** Callers waiting for a free transfer. */
  readonly waiting: number;
}

/** A snapshot of an agent's counters. */
export interface AgentDiagnostics {
  /** Per-channel counters. */
  readonly channels: readonly ChannelDiagnostics[];
  /** Notification counters. */
  readonly notifications: NotificationStats;
  /** Transfer pool use. */
  readonly pool: PoolStats;
  /**
   * Calls of the agent's logger (DI token `LOGGER`) that threw: contained, so that a broken
   * logger fails nothing core was doing when it logged (a probe, a command), and counted here.
   */
  readonly loggerErrors: number;
  /** Calls of {@link ScmiAgent.onLost} listeners that threw or rejected: contained, counted here. */
  readonly lossListenerErrors: number;
  /**
   * Replies the platform answered with SUCCESS whose return values a protocol rejected as
   * malformed (`XferOps.decode`: shorter than their fields, contradictory counts — the caller got
   * a ScmiMalformedError), by protocol name (`base`, `clock`, `0x80`…); a protocol with none is
   * absent. Counted during the probe too (where each is also one of `info.discoveryFailures`).
   * Malformed messages the transport or core's RX path rejects are the channels' `badMessages`.
   */
  readonly malformedReplies: Readonly<Record<string, number>>;
}

/** The notification API of an agent. */
export interface AgentEvents {
  /**
   * Subscribes to a notification; resolves to an unsubscribe function (idempotent; once the
   * agent's removal has started it only forgets the handler, and never fails).
   *
   * @throws (rejects, never throws) ScmiTransportError `E_NOT_SUPPORTED` without a P2A channel,
   * `E_SHUTDOWN` once the removal started (also for a subscribe under way when it started: one
   * waiting its turn sends nothing, one whose enable was sent is refused once it is answered, the
   * removal disabling what it enabled); RevokedError after it; ScmiError `E_ARGUMENT` when
   * `filter` is not an object (`null`), holds a key {@link ScmiEventFilter} does not have (a
   * misspelt `source` would subscribe every source), or a `protocolId` or `eventId` that is not an
   * integer from 0 to 255, or when `handler` is not a function or `options` are not
   * {@link ScmiSubscribeOptions} (nothing is sent to the platform); `options.signal.reason` when
   * the signal fired before the subscription was made.
   *
   * @example
   * ```ts
   * const done = new AbortController();
   * await agent.events.subscribe({ protocolId: 0x13, eventId: 1 }, onLevel, { signal: done.signal });
   * done.abort(); // unsubscribed; a failed leave counts in notifications.signalLeaveFailures
   * ```
   */
  subscribe(
    filter: ScmiEventFilter,
    handler: ScmiNotificationHandler,
    options?: ScmiSubscribeOptions,
  ): Promise<() => Promise<void>>;
  /**
   * Waits for the next notification that matches `filter`, with a bound: resolves once the
   * subscription is made (the platform enabled the event) to a {@link ScmiEventWait}, whose
   * `notification` resolves with the first one delivered after that; then it leaves. Send the
   * command that causes the notification once `waitFor` resolved: sent before, it may reach the
   * platform ahead of the enable, and nothing is notified. See {@link NotificationHub.waitFor}.
   *
   * @throws (rejects, never throws) as {@link AgentEvents.subscribe}; ScmiError `E_ARGUMENT` for
   * options that are not {@link ScmiWaitOptions} (`timeoutMs` an integer from 1 to 2^31 − 1, on
   * the agent's clock; `signal` an `AbortSignal`); ScmiError `E_EVENT_TIMEOUT` when `timeoutMs`
   * passed; `options.signal.reason` when the signal fired; ScmiTransportError `E_SHUTDOWN` when
   * the agent's removal started — the call while the subscription is made, `notification` after.
   * @example
   * ```ts
   * const filter = { protocolId: 0x14, eventId: CLOCK_RATE_CHANGED, source: 0 };
   * const changed = await agent.events.waitFor(filter, { timeoutMs: 100 });
   * await agent.protocol(clockProtocolDriver).setRate(0, 600_000_000n, { async: false });
   * decodeClockRateChanged((await changed.notification).payload).rate; // 600000000n
   * ```
   */
  waitFor(filter: ScmiEventFilter, options?: ScmiWaitOptions): Promise<ScmiEventWait>;
  /** Registers notifications of a protocol that has no driver (for raw use). */
  register(protocolId: number, events: readonly ScmiEventDescriptor[]): void;
  /** Whether notifications can arrive (the transport has a P2A channel). */
  readonly available: boolean;
}

/**
 * Options of {@link ScmiAgent.remove}.
 *
 * @example
 * ```ts
 * await agent.remove({ disableNotifications: false }); // the platform was reset: tell it nothing
 * ```
 */
export interface RemoveOptions {
  /**
   * Whether the removal first disables at the platform the notifications subscribers still hold
   * enabled (default `true`). `false` sends nothing and starts the teardown at once: for a
   * platform known to be gone, which would answer nothing (each disable would wait out the RX
   * timeout, 60 s on virtio by default), or one about to be reset. Those events stay enabled at
   * the platform, counted in `diagnostics.notifications.leftEnabledAtRemoval`.
   */
  readonly disableNotifications?: boolean;
}

/** @internal What the probe hands to the agent. */
export interface AgentParts {
  readonly device: Device;
  readonly config: AgentConfig;
  readonly info: ScmiPlatformInfo;
  readonly base: BaseProtocol;
  readonly engine: TransferEngine;
  readonly hub: NotificationHub;
  readonly channels: readonly ChannelRuntime[];
  readonly protocols: ReadonlyMap<number, { readonly api: unknown; readonly group: DevresGroup }>;
  readonly protocolErrors: ReadonlyMap<number, unknown>;
  /** The driver chosen for each protocol the platform lists, its init failed or not. */
  readonly chosenDrivers: ReadonlyMap<number, ProtocolDriver>;
  /** Vendor protocols the platform lists none of whose bound drivers matches the platform. */
  readonly unmatchedDrivers: ReadonlyMap<number, readonly ProtocolDriver[]>;
  readonly xferOps: (protocolId: number) => XferOps;
  /** The agent's logger, contained (its throws counted). */
  readonly logger: ContainedLogger;
  /** Malformed replies each protocol's `decode` rejected, by protocol name (none: absent). */
  readonly malformedReplies: () => Readonly<Record<string, number>>;
}

/**
 * A probed SCMI agent: the platform it discovered, its Base protocol, the protocols its drivers
 * instantiated, raw messages, notifications, diagnostics, and `remove()`.
 *
 * Removing it quiesces every channel and then releases everything in reverse order; transfers in
 * flight fail with `ScmiShutdownError`. After removal `base`, `xfer`, `protocol`,
 * `events.register` and `onLost` throw {@link RevokedError}, and `transact` and
 * `events.subscribe` reject with it; `diagnostics`, `info` and `config` still read.
 *
 * @example
 * ```ts
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig });
 * console.log(agent.info.vendor, agent.info.protocols);
 * const version = await agent.transact(0x14, 0x0);
 * await agent.remove();
 * ```
 */
export class ScmiAgent {
  readonly #p: AgentParts;
  #revoked = false;
  #removal: Promise<void> | undefined;
  /** Each `onLost` subscription, with the channels it has been told of. */
  readonly #lossListeners = new Set<LossSubscription>();
  #lossTellingScheduled = false;
  #lossListenerErrors = 0;

  /** @internal Created by `createAgent`. */
  public constructor(parts: AgentParts) {
    this.#p = parts;
    for (const channel of parts.channels) {
      // Called inside the transport's failInFlight (its RX guard): only schedules the telling.
      channel.onFirstLoss = () => this.#scheduleLossTelling();
    }
  }

  /** The device name. */
  public get name(): string {
    return this.#p.config.name;
  }

  /** The validated configuration. */
  public get config(): AgentConfig {
    return this.#p.config;
  }

  /** What Base discovery learned. */
  public get info(): ScmiPlatformInfo {
    return this.#p.info;
  }

  /**
   * Whether the agent has been revoked: true from its own quiesce step on — during `remove()`
   * (after the notifications still subscribed were disabled) or the teardown of a failed probe —
   * and after. Calls other than `diagnostics`, `info` and `config` fail from then on.
   */
  public get removed(): boolean {
    return this.#revoked;
  }

  /**
   * The Base protocol client.
   *
   * @throws RevokedError after removal.
   */
  public get base(): BaseProtocol {
    this.#live('base');
    return this.#p.base;
  }

  /** Protocol ids whose drivers were instantiated (Base excluded). */
  public get protocolIds(): readonly number[] {
    return [...this.#p.protocols.keys()];
  }

  /** Protocols whose driver failed to initialize, with the error (the probe went on without them). */
  public get protocolErrors(): ReadonlyMap<number, unknown> {
    return this.#p.protocolErrors;
  }

  /**
   * The API object `driver` built for this agent, typed by the driver.
   *
   * @throws ScmiError `E_ARGUMENT` when `driver` is not an object with a `protocolId` from 0 to
   * 255 (`null`, `{}`), checked first.
   * @throws RevokedError after removal.
   * @throws ScmiError `E_NO_PROTOCOL` when the driver was not instantiated; its message says why,
   * as {@link ScmiAgent.protocolApi}'s; for a vendor protocol, also when `driver` is not the
   * driver chosen for the platform (see {@link ProtocolDriver.vendor}), nor an object of the same
   * vendor identification (a copy, as `toDynamicValue` binds).
   * @example
   * ```ts
   * // clockDriver bound to PROTOCOL_DRIVER (see ProtocolDriver); Base's API is `agent.base`
   * const clock = agent.protocol(clockDriver); // ClockProtocol: what the driver's init returned
   * ```
   */
  public protocol<T>(driver: ProtocolDriver<T>): T {
    const given: unknown = driver;
    // A driver is any object with the fields, a class with static ones included.
    if ((typeof given !== 'object' && typeof given !== 'function') || given === null) {
      throw new ScmiError(
        'E_ARGUMENT',
        `${this.name}: protocol: the driver must be a ProtocolDriver, got ${describeArg(given)}`,
      );
    }
    const protocolId = this.#protocolIdArg(
      (given as { protocolId?: unknown }).protocolId,
      'driver.protocolId',
    );
    this.#live(scmiProtocolName(protocolId));
    const chosen = this.#p.chosenDrivers.get(protocolId);
    if (
      protocolId >= SCMI_VENDOR_PROTOCOL_BASE &&
      chosen !== undefined &&
      chosen !== given &&
      !sameVendorMatch(driver, chosen)
    ) {
      // Another vendor's driver serves the protocol: its API is not the one `driver` types. (An
      // object of the same identification stands for the bound one: a driver bound with
      // toDynamicValue is a copy.)
      throw new ScmiError(
        'E_NO_PROTOCOL',
        `${this.name}: protocol ${scmiProtocolName(protocolId)}: driver ${formatValue(driver.name)} (${describeDriverVendor(driver)}) is not the one chosen for the platform (${describePlatformVendor(this.#p.info)}): driver ${JSON.stringify(chosen.name)} (${describeDriverVendor(chosen)}) is`,
      );
    }
    return this.protocolApi(protocolId) as T;
  }

  /**
   * The API object of the driver instantiated for `protocolId` (untyped).
   *
   * @throws ScmiError `E_ARGUMENT` when `protocolId` is not an integer from 0 to 255, checked
   * first; RevokedError after removal; ScmiError `E_NO_PROTOCOL` when there is none, its message
   * telling which of the cases the agent can tell apart it is: the driver's init failed (its error
   * the `cause`, as in {@link ScmiAgent.protocolErrors}); the platform does not list the protocol
   * for this agent (`info.protocols`: not implemented, or not allowed to this agent; its driver,
   * bound or not, was then never initialized); the platform lists it but no driver for it is bound
   * to `PROTOCOL_DRIVER`, or (a vendor protocol) none bound matches the platform's vendor
   * identification; or Base, whose API is {@link ScmiAgent.base}.
   * @example
   * ```ts
   * try {
   *   agent.protocolApi(0x14);
   * } catch (e) {
   *   console.log((e as Error).message); // "scmi0: protocol clock is not listed by the…"
   * }
   * ```
   */
  public protocolApi(protocolId: number): unknown {
    this.#protocolIdArg(protocolId, 'protocolId');
    this.#live(scmiProtocolName(protocolId));
    const p = this.#p.protocols.get(protocolId);
    if (p === undefined) throw this.#noProtocol(protocolId);
    return p.api;
  }

  /** `id` when it is a protocol id (an integer from 0 to 255). */
  #protocolIdArg(id: unknown, what: string): number {
    if (Number.isInteger(id) && (id as number) >= 0 && (id as number) <= 0xff) return id as number;
    throw new ScmiError(
      'E_ARGUMENT',
      `${this.name}: protocol: ${what} must be an integer from 0 to 255, got ${describeArg(id)}`,
    );
  }

  /** Why no API is there for `protocolId`, as far as the agent can tell. */
  #noProtocol(protocolId: number): ScmiError {
    const name = scmiProtocolName(protocolId);
    const errors = this.#p.protocolErrors;
    if (errors.has(protocolId)) {
      const cause = errors.get(protocolId);
      const why = cause instanceof Error ? cause.message : formatValue(cause);
      const chosen = this.#p.chosenDrivers.get(protocolId);
      // For a vendor protocol, which of the bound drivers it was.
      const which =
        protocolId >= SCMI_VENDOR_PROTOCOL_BASE && chosen !== undefined
          ? ` ${JSON.stringify(chosen.name)} (${describeDriverVendor(chosen)})`
          : '';
      return new ScmiError(
        'E_NO_PROTOCOL',
        `${this.name}: protocol ${name}: its driver${which} failed to initialize (${why}); see agent.protocolErrors`,
        { cause },
      );
    }
    const unmatched = this.#p.unmatchedDrivers.get(protocolId);
    if (unmatched !== undefined) {
      const bound = unmatched
        .map((d) => `${JSON.stringify(d.name)} (${describeDriverVendor(d)})`)
        .join(', ');
      return new ScmiError(
        'E_NO_PROTOCOL',
        `${this.name}: protocol ${name}: no bound driver matches the platform (${describePlatformVendor(this.#p.info)}); bound: ${bound}`,
      );
    }
    if (protocolId === ScmiProtocolId.BASE) {
      return new ScmiError(
        'E_NO_PROTOCOL',
        `${this.name}: protocol base has no driver API here: use agent.base`,
      );
    }
    const listed = this.#p.info.protocols;
    if (!listed.includes(protocolId)) {
      const list = listed.map((id) => scmiProtocolName(id)).join(', ') || 'none';
      const cut = this.#p.info.discoveryFailures.some((f) => f.step === 'list-protocols')
        ? '; the listing failed part-way: see agent.info.discoveryFailures'
        : '';
      return new ScmiError(
        'E_NO_PROTOCOL',
        `${this.name}: protocol ${name} is not listed by the platform for this agent (agent.info.protocols: ${list}${cut}), so no driver was initialized for it`,
      );
    }
    return new ScmiError(
      'E_NO_PROTOCOL',
      `${this.name}: no driver for protocol ${name} is bound to PROTOCOL_DRIVER (the platform lists it)`,
    );
  }

  /**
   * Sends a raw command to any protocol (on that protocol's channel) and resolves to the return
   * values after the status.
   *
   * Every failure is a rejection, never a synchronous throw.
   *
   * @throws RevokedError after removal; ScmiStatusError, ScmiTimeoutError… as any transfer;
   * ScmiMalformedError `E_FIELD_RANGE` when the protocol or message id is not an integer 0…255,
   * `E_PAYLOAD` when `payload` is neither bytes nor a writer function; ScmiError `E_ARGUMENT`
   * when `options` is given but not an object (`null`), holds a key it does not take (a misspelt
   * `timeoutMS`: refused, not left at its default) or its `timeoutMs` is not a positive number;
   * ScmiTransportError
   * `E_NOT_SUPPORTED` (nothing sent) for `async: true` on an agent without a P2A channel, where no
   * delayed response can come.
   */
  public transact(
    protocolId: number,
    messageId: number,
    payload?: PayloadSource,
    options?: TransactOptions,
  ): Promise<Uint8Array> {
    let ops: XferOps;
    try {
      this.#live('transact');
      ops = this.#p.xferOps(protocolId);
    } catch (error) {
      // A removed agent or a bad protocol id is a rejection too, as every other failure of a
      // transfer: a caller's `.catch()` sees it.
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return ops.transact(messageId, payload, options);
  }

  /**
   * The transfer operations of protocol `protocolId` (for raw multi-step use).
   *
   * @throws RevokedError after removal; ScmiMalformedError `E_FIELD_RANGE` when `protocolId` is not
   * an integer 0…255 (no handle is made for it).
   */
  public xfer(protocolId: number): XferOps {
    this.#live('xfer');
    return this.#p.xferOps(protocolId);
  }

  /** Notifications. */
  public get events(): AgentEvents {
    const hub = this.#p.hub;
    return {
      subscribe: (filter, handler, options) => {
        // A rejection, as every other refusal of a subscribe (an async API that throws at once
        // would escape a caller's `.catch`).
        if (this.#revoked) return Promise.reject(this.#revokedError('events'));
        const refused = this.#filterError(filter);
        if (refused !== undefined) return Promise.reject(refused);
        return hub.subscribe(filter, handler, options);
      },
      waitFor: (filter, options) => {
        if (this.#revoked) return Promise.reject(this.#revokedError('events'));
        const refused = this.#filterError(filter);
        if (refused !== undefined) return Promise.reject(refused);
        return hub.waitFor(filter, options);
      },
      register: (protocolId, events) => {
        this.#live('events');
        hub.register(protocolId, events);
      },
      available: hub.available,
    };
  }

  /**
   * What is wrong with a subscribe's `filter` (a JavaScript caller's `null`, `{}`, a misspelt
   * `source`), or undefined: checked before the hub reads it, which would fail as a TypeError.
   */
  #filterError(filter: unknown): ScmiError | undefined {
    const refuse = (why: string): ScmiError =>
      new ScmiError('E_ARGUMENT', `${this.name}: subscribe: ${why}`);
    if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
      return refuse(`the filter must be an object, got ${describeArg(filter)}`);
    }
    const unknown = unknownKeyError(filter, FILTER_KEYS, `${this.name}: subscribe`, 'filter key');
    if (unknown !== undefined) return unknown;
    const { protocolId, eventId } = filter as Record<string, unknown>;
    for (const [what, id] of [
      ['protocolId', protocolId],
      ['eventId', eventId],
    ] as const) {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) > 0xff) {
        return refuse(`filter.${what} must be an integer from 0 to 255, got ${describeArg(id)}`);
      }
    }
    return undefined;
  }

  /**
   * Tells `listener` of every channel of this agent that is lost for good — its transport said
   * the other end is gone (core's `RxSink.failInFlight`: a virtio device that needs a reset, a
   * platform thread that died) — so a test tool learns of a dead platform without polling
   * `diagnostics` or sending a command. Returns a function that unsubscribes (idempotent, never
   * throws, also after removal).
   *
   * Each subscription is told of each lost channel exactly once, with the error the channel was
   * first lost with; a channel lost before the subscription (during the probe, say) is told too.
   * Listeners run on a microtask after the loss, never inside the transport's callback, in
   * subscription order; none is called once {@link ScmiAgent.remove} has started (a listener that
   * removes the agent is the last one called). A throw or rejection of a listener is contained
   * and counted in `diagnostics.lossListenerErrors`: the others are still told.
   *
   * @throws RevokedError after removal; ScmiTransportError `E_SHUTDOWN` once the removal started
   * (as `events.subscribe`); ScmiError `E_ARGUMENT` when `listener` is not a function.
   * @example
   * ```ts
   * const stop = agent.onLost(({ label, error }) => {
   *   console.error(`${label} lost: ${error.message}`);
   *   void agent.remove({ disableNotifications: false }); // nothing would answer the disables
   * });
   * // …
   * stop();
   * ```
   */
  public onLost(listener: ChannelLossListener): () => void {
    this.#live('onLost');
    // As `events.subscribe`: refused once the removal started (it would never be called).
    if (this.#removal !== undefined) {
      throw new ScmiTransportError(
        'E_SHUTDOWN',
        `${this.name}: onLost: the agent is shutting down`,
      );
    }
    const given: unknown = listener;
    if (typeof given !== 'function') {
      throw new ScmiError(
        'E_ARGUMENT',
        `${this.name} onLost: the listener must be a function, not ${given === null ? 'null' : typeof given}`,
      );
    }
    const subscription: LossSubscription = { listener, told: new Set() };
    this.#lossListeners.add(subscription);
    if (this.#p.channels.some((c) => c.lost !== undefined)) this.#scheduleLossTelling();
    return () => {
      this.#lossListeners.delete(subscription);
    };
  }

  /** One microtask tells every subscription of every lost channel it has not been told of. */
  #scheduleLossTelling(): void {
    if (this.#lossTellingScheduled) return;
    this.#lossTellingScheduled = true;
    queueMicrotask(() => {
      this.#lossTellingScheduled = false;
      this.#tellLosses();
    });
  }

  #tellLosses(): void {
    for (const channel of this.#p.channels) {
      const error = channel.lost;
      if (error === undefined) continue;
      const loss: ChannelLoss = {
        label: channel.label,
        id: channel.id,
        direction: channel.direction,
        error,
      };
      // A snapshot per channel: a listener may subscribe or unsubscribe others. One subscribed
      // meanwhile is told of the channels after this one in this pass and of the earlier ones on
      // the microtask its onLost scheduled — each once, not in channel order.
      for (const subscription of [...this.#lossListeners]) {
        // Re-read on each call: a listener may start the removal.
        if (this.#removal !== undefined || this.#revoked) return;
        if (!this.#lossListeners.has(subscription) || subscription.told.has(channel)) continue;
        subscription.told.add(channel);
        this.#callLossListener(subscription.listener, loss);
      }
    }
  }

  #callLossListener(listener: ChannelLossListener, loss: ChannelLoss): void {
    callContained(listener, loss, () => {
      this.#lossListenerErrors++;
    });
  }

  /** A snapshot of every counter. */
  public get diagnostics(): AgentDiagnostics {
    const pool = this.#p.engine.pool;
    return {
      channels: this.#p.channels.map((c) => ({
        label: c.label,
        id: c.id,
        direction: c.direction,
        maxInFlight: c.transport?.maxInFlight ?? 0,
        lost: c.lost,
        stats: c.counters.snapshot(),
      })),
      notifications: this.#p.hub.stats,
      pool: { size: pool.size, inUse: pool.inUse, waiting: pool.waiting },
      loggerErrors: this.#p.logger.throws,
      lossListenerErrors: this.#lossListenerErrors,
      malformedReplies: this.#p.malformedReplies(),
    };
  }

  /** The device's devres while bound (for leak checks and logs), or undefined after removal. */
  public get devres(): Devres | undefined {
    return this.#p.device.devres;
  }

  /**
   * Removes the agent. From the call on no notification handler is called. First, while the
   * agent is otherwise live, it disables at the platform every notification a subscriber still
   * holds enabled — firmware forgets a subscriber only when told — all at once, each with the
   * transport's timeout; an event descriptor whose `setNotifyEnabled` never settles is given up
   * once three times the RX timeout pass without it settling nor the platform answering any of
   * the agent's commands (a platform that answers each in time is waited for). A failure is
   * counted in `diagnostics.notifications.disableFailures`, never thrown; from then on a subscribe
   * is refused and an unsubscribe sends nothing. With none enabled, the teardown starts at once.
   * Then it quiesces every channel and releases everything newest first. Transfers in flight fail
   * with `ScmiShutdownError`; nothing hangs. Every call, concurrent or after the removal finished,
   * gets the one removal's promise (an `afterEach` may remove an agent a test removed already); the
   * first call's `options` hold. With `disableNotifications: false` nothing is sent and the
   * teardown starts at once (see {@link RemoveOptions}).
   *
   * @example
   * ```ts
   * await agent.remove();
   * console.log(agent.diagnostics.notifications.disabledAtRemoval);
   * ```
   *
   * @throws DevresReleaseError when release steps failed (everything was released anyway).
   * @throws ScmiError `E_ARGUMENT` (a rejection) when `options` is given but is not an object
   * (`null` is taken as none), holds a key it does not take (a misspelt `disableNotificatons`) or
   * a `disableNotifications` that is not a boolean: nothing is done, and the agent can be removed
   * with good options.
   */
  public remove(options?: RemoveOptions): Promise<void> {
    const refused = removeOptionsError(options, this.name);
    if (refused !== undefined) return Promise.reject(refused);
    if (this.#removal === undefined) {
      // Read first: a JavaScript caller's `null` must not stop delivery and then throw.
      const send = options?.disableNotifications !== false;
      // No handler is called from here on (a handler that removes the agent is the last one
      // called), though the agent stays live while the events are disabled.
      this.#p.hub.stopDelivery();
      const disabling = this.#p.hub.disableEvents({ send });
      this.#removal =
        disabling === undefined
          ? this.#p.device.remove()
          : disabling.then(() => this.#p.device.remove());
    }
    return this.#removal;
  }

  /** @internal The agent's own quiesce step: every later call throws RevokedError. */
  public revoke(): void {
    this.#revoked = true;
    this.#lossListeners.clear(); // never called again: their closures are not kept
  }

  #live(what: string): void {
    if (this.#revoked) throw this.#revokedError(what);
  }

  #revokedError(what: string): RevokedError {
    return new RevokedError(`${this.name} ${what}`, `${this.name} has been removed`);
  }
}

const REMOVE_OPTION_KEYS = optionKeys<RemoveOptions>({ disableNotifications: true });

/** What is wrong with `remove`'s options, if anything (a JavaScript caller's `'yes'`, a typo). */
function removeOptionsError(options: unknown, agent: string): ScmiError | undefined {
  // `null` from JavaScript is taken as none (a removal is not refused for want of options).
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || Array.isArray(options)) {
    return new ScmiError(
      'E_ARGUMENT',
      `${agent}: remove: options must be an object or left out, got ${describeArg(options)}`,
    );
  }
  const unknown = unknownKeyError(options, REMOVE_OPTION_KEYS, `${agent}: remove`);
  if (unknown !== undefined) return unknown;
  const send: unknown = (options as RemoveOptions).disableNotifications;
  if (send !== undefined && typeof send !== 'boolean') {
    return new ScmiError(
      'E_ARGUMENT',
      `${agent}: remove: disableNotifications must be a boolean, got ${describeArg(send)}`,
    );
  }
  return undefined;
}

/** The keys of a subscribe's filter (others are refused). */
const FILTER_KEYS = optionKeys<ScmiEventFilter>({ protocolId: true, eventId: true, source: true });

/** One {@link ScmiAgent.onLost} subscription and the channels it has been told of. */
interface LossSubscription {
  readonly listener: ChannelLossListener;
  readonly told: Set<ChannelRuntime>;
}
