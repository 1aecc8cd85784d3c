import {
  type CallOptions,
  PayloadReader,
  ScmiError,
  ScmiMalformedError,
  ScmiProtocolId,
  optionKeys,
  type ProtocolDriver,
  type ProtocolHandle,
  type ProtocolVersionSource,
  describeArg,
  formatValue,
  type ProtocolSubscribeOptions,
} from '@scmi-ts/core';
import { checkDelayedId } from '../common/delayed.js';
import { subscribeDecoded, type ProtocolEventHandler } from '../common/events.js';
import { boolOption, objectArg, u32Bits, u64Arg, uintArg } from '../common/args.js';
import { DomainTable, SHORT_NAME_SIZE, isRemovalError } from '../common/domain-table.js';
import { NotifyChecks, checkFailureOf, perDomainEvent, sendNotify } from '../common/notify.js';

/**
 * Clock protocol (0x14) message ids besides the common 0x0–0x2 (scmi-wire.md §4, Clock). Note
 * CLOCK_NAME_GET 0x8 and CLOCK_CONFIG_GET 0xB, as the kernel, SCP-firmware and Zephyr number
 * them (a header seen elsewhere swaps them: wrong).
 *
 * @example
 * ```ts
 * await agent.transact(0x14, ClockMessageId.RATE_GET, (w) => w.u32(0));
 * ```
 */
export enum ClockMessageId {
  /** (clock_id) → attributes, name[16], clock_enable_latency (version 2.0 and later, as Linux reads it). */
  ATTRIBUTES = 0x3,
  /** (clock_id, rate_index) → num_rates_flags, rates[] as 64-bit {low, high}; multi-part. */
  DESCRIBE_RATES = 0x4,
  /** (flags, clock_id, rate_low, rate_high); asynchronous: delayed response clock_id, rate_low, rate_high. */
  RATE_SET = 0x5,
  /** (clock_id) → rate_low, rate_high. */
  RATE_GET = 0x6,
  /** Version 3.0: (clock_id, attributes, oem_config_val); before: (clock_id, attributes bit 0 enable). */
  CONFIG_SET = 0x7,
  /** (clock_id) → flags, name[64]. */
  NAME_GET = 0x8,
  /** (clock_id, notify_enable): CLOCK_RATE_CHANGED. */
  RATE_NOTIFY = 0x9,
  /** (clock_id, notify_enable): CLOCK_RATE_CHANGE_REQUESTED. */
  RATE_CHANGE_REQUESTED_NOTIFY = 0xa,
  /** Version 3.0: (clock_id, flags 7:0 OEM type) → attributes, config (bit 0 enabled), oem_config_val. */
  CONFIG_GET = 0xb,
  /** Version 3.0: (clock_id, skip_parents) → num_parent_flags, parent ids; multi-part. */
  POSSIBLE_PARENTS_GET = 0xc,
  /** Version 3.0: (clock_id, parent_id). */
  PARENT_SET = 0xd,
  /** Version 3.0: (clock_id) → parent_id. */
  PARENT_GET = 0xe,
  /** Version 3.0: (clock_id) → permissions (31 state, 30 parent, 29 rate control allowed). */
  GET_PERMISSIONS = 0xf,
}

/** CLOCK_RATE_CHANGED (Clock notification 0x0): agent_id, clock_id, rate_low, rate_high. */
export const CLOCK_RATE_CHANGED = 0x0;

/** CLOCK_RATE_CHANGE_REQUESTED (Clock notification 0x1): agent_id, clock_id, rate_low, rate_high. */
export const CLOCK_RATE_CHANGE_REQUESTED = 0x1;

const ATTR_ENABLED = 1 << 0;
const ATTR_GET_PERMISSIONS = 1 << 1;
const ATTR_RATE_CHANGED_NOTIFY = 1 << 31;
const ATTR_RATE_CHANGE_REQUESTED_NOTIFY = 1 << 30;
const ATTR_EXTENDED_NAME = 1 << 29;
const ATTR_PARENTS = 1 << 28;
const ATTR_EXTENDED_CONFIG = 1 << 27;

const PERMISSION_STATE = 1 << 31;
const PERMISSION_PARENT = 1 << 30;
const PERMISSION_RATE = 1 << 29;

const SET_ASYNC = 1 << 0;
const SET_IGNORE_DELAYED_RESPONSE = 1 << 1;
const SET_ROUND_UP = 1 << 2;
const SET_ROUND_AUTO = 1 << 3;

/** DESCRIBE_RATES num_rates_flags bit 12: the rates are a range triplet (min, max, step). */
const RATES_RANGE = 1 << 12;

/** CLOCK_CONFIG_SET (version 3.0) attributes bits 1:0. */
const STATE_OFF = 0;
const STATE_ON = 1;
const STATE_UNCHANGED = 3;

const RATE_NOTIFICATION_PAYLOAD = 16;
const V2 = 0x20000;
const V3 = 0x30000;

/** The rates of a clock given as a list (CLOCK_DESCRIBE_RATES bit 12 clear), in Hz. */
export interface ClockRateList {
  /** Discriminant. */
  readonly kind: 'list';
  /** The rates, ascending (sorted as Linux sorts them; the platform's order is not trusted). */
  readonly rates: readonly bigint[];
}

/** The rates of a clock given as a range triplet (CLOCK_DESCRIBE_RATES bit 12 set), in Hz. */
export interface ClockRateRange {
  /** Discriminant. */
  readonly kind: 'range';
  /** The lowest rate. */
  readonly min: bigint;
  /** The highest rate, not below `min`. */
  readonly max: bigint;
  /** The step between rates (0 only when `min` equals `max`). */
  readonly step: bigint;
}

/** What CLOCK_DESCRIBE_RATES says a clock can run at: a list or a range. */
export type ClockRates = ClockRateList | ClockRateRange;

/** What CLOCK_GET_PERMISSIONS says the agent may change on a clock (version 3.0). */
export interface ClockPermissions {
  /** Whether it may enable and disable the clock (bit 31). */
  readonly stateControl: boolean;
  /** Whether it may change the clock's parent (bit 30). */
  readonly parentControl: boolean;
  /** Whether it may change the clock's rate (bit 29). */
  readonly rateControl: boolean;
}

/** A clock as CLOCK_ATTRIBUTES and the discovery commands Linux sends after it describe it. */
export interface ClockInfo {
  /** The clock id. */
  readonly id: number;
  /** Its name: the extended one when the platform announces it (version 2.0 and later), else the short one. */
  readonly name: string;
  /**
   * Present when CLOCK_NAME_GET failed: the error (`name` is then the short name); or, when the
   * name is empty, ScmiError `E_CLOCK_NAME` — Linux's `scmi_clock_info_get` gives no clock for
   * one without a name, so `clk-scmi` never registers it (here it stays usable by id).
   */
  readonly nameError?: unknown;
  /**
   * Whether the clock was enabled when init described it (attributes bit 0); the state now is
   * {@link ClockProtocol.isEnabled}'s.
   */
  readonly enabled: boolean;
  /**
   * Whether the platform sends CLOCK_RATE_CHANGED for it: attributes bit 31 at version 2.0 or
   * later, and CLOCK_RATE_NOTIFY implemented (PROTOCOL_MESSAGE_ATTRIBUTES), as Linux requires both.
   */
  readonly rateChangedNotifications: boolean;
  /** Whether the platform sends CLOCK_RATE_CHANGE_REQUESTED for it (bit 30, as for bit 31). */
  readonly rateChangeRequestedNotifications: boolean;
  /** Whether it takes OEM-specific configurations (attributes bit 27, version 3.0). */
  readonly extendedConfig: boolean;
  /**
   * The most time enabling the clock takes, in µs (clock_enable_latency, read at version 2.0 and
   * later as Linux reads it); `undefined` when the platform gives 0 (unknown) or no such field.
   */
  readonly enableLatencyUs: number | undefined;
  /** Its rates (CLOCK_DESCRIBE_RATES at init); `undefined` when that failed (see `ratesError`). */
  readonly rates: ClockRates | undefined;
  /** Present when CLOCK_DESCRIBE_RATES failed at init: the error. */
  readonly ratesError?: unknown;
  /**
   * The clocks it may be parented to (CLOCK_POSSIBLE_PARENTS_GET, when attributes bit 28 announces
   * parent support at version 3.0); empty otherwise, or when that failed (see `parentsError`).
   */
  readonly parents: readonly number[];
  /** Present when CLOCK_POSSIBLE_PARENTS_GET failed at init: the error. */
  readonly parentsError?: unknown;
  /**
   * What the agent may change (CLOCK_GET_PERMISSIONS, when attributes bit 1 announces it at
   * version 3.0); `undefined` when not announced or when it failed (see `permissionsError`).
   */
  readonly permissions: ClockPermissions | undefined;
  /** Present when CLOCK_GET_PERMISSIONS failed at init: the error. */
  readonly permissionsError?: unknown;
}

/** A CLOCK_RATE_CHANGED or CLOCK_RATE_CHANGE_REQUESTED notification, decoded. */
export interface ClockRateNotification {
  /** The agent that caused the change or asked for it. */
  readonly agentId: number;
  /** The clock. */
  readonly clockId: number;
  /** The rate in Hz: the new one, or the one asked for. */
  readonly rate: bigint;
}

/** Reads the 16-byte payload both rate notifications share (Linux `scmi_clock_rate_notify_payld`). */
function decodeRateNotification(payload: Uint8Array): ClockRateNotification {
  const r = new PayloadReader(payload);
  return { agentId: r.u32(), clockId: r.u32(), rate: r.u64() };
}

/**
 * Decodes a CLOCK_RATE_CHANGED payload (agent_id, clock_id, rate_low, rate_high). The hub
 * delivers none of another size: the event's payload is exactly 16 bytes, as Linux's
 * `scmi_clk_fill_custom_report` requires.
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload is shorter than 16 bytes.
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x14, eventId: CLOCK_RATE_CHANGED, source: 1 }, (n) => {
 *   const { clockId, rate } = decodeClockRateChanged(n.payload);
 *   console.log(`clock ${clockId} now runs at ${rate} Hz`);
 * });
 * ```
 */
export function decodeClockRateChanged(payload: Uint8Array): ClockRateNotification {
  return decodeRateNotification(payload);
}

/**
 * Decodes a CLOCK_RATE_CHANGE_REQUESTED payload (agent_id, clock_id, rate_low, rate_high): an
 * agent asked for `rate`. Exactly 16 bytes, as {@link decodeClockRateChanged}.
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload is shorter than 16 bytes.
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x14, eventId: CLOCK_RATE_CHANGE_REQUESTED }, (n) => {
 *   const { agentId, clockId, rate } = decodeClockRateChangeRequested(n.payload);
 *   console.log(`agent ${agentId} asks ${rate} Hz of clock ${clockId}`);
 * });
 * ```
 */
export function decodeClockRateChangeRequested(payload: Uint8Array): ClockRateNotification {
  return decodeRateNotification(payload);
}

/** How CLOCK_RATE_SET rounds a rate the clock cannot take exactly (flags bits 3:2). */
export type ClockRateRounding = 'down' | 'up' | 'auto';

/**
 * Options of {@link ClockProtocol.setRate}. Every key is optional; a key not listed here (a
 * misspelt `asnyc`) is refused `E_ARGUMENT`, nothing sent.
 *
 * @example
 * ```ts
 * await clock.setRate(1, 48_000_000n, { round: 'auto', async: false });
 * ```
 */
export interface ClockRateSetOptions {
  /**
   * Rounding: `'down'` (default: neither flag, the platform rounds down), `'up'` (bit 2) or
   * `'auto'` (bit 3, SCMI's "round autonomously": the platform picks the closest — what the
   * platform emulator's README calls rounding to the nearest; `'nearest'` is refused).
   */
  readonly round?: ClockRateRounding;
  /**
   * Send the set asynchronously and wait for its delayed response. Default: when the agent has a
   * P2A channel and this client's sets in flight, this one included, are fewer than the pending
   * asynchronous rate changes PROTOCOL_ATTRIBUTES announced — Linux's rule, under which a platform
   * announcing 1 never gets one (see {@link ClockProtocol.setRate}).
   * `false` asks for a synchronous set; `true` is sent all the same where the platform announced
   * none (it answers NOT_SUPPORTED, or BUSY when too many are pending).
   */
  readonly async?: boolean;
  /**
   * With an asynchronous set: `false` asks the platform for no delayed response (flags bit 1), and
   * the call resolves on the immediate response. Default `true`. Linux defines the flag
   * (`CLOCK_SET_IGNORE_RESP`) but never sends it.
   */
  readonly delayedResponse?: boolean;
}

/** What {@link ClockProtocol.setRate} resolves to. */
export interface ClockRateSetResult {
  /** Whether the set was sent asynchronous (flags bit 0). */
  readonly async: boolean;
  /**
   * The rate the delayed response reports the clock was set to; `undefined` for a synchronous set
   * or one sent without a delayed response (read it with {@link ClockProtocol.getRate}).
   */
  readonly rate: bigint | undefined;
}

/**
 * What {@link ClockProtocol.setConfig} sends (CLOCK_CONFIG_SET, version 3.0 layout). A key not
 * listed here is refused `E_ARGUMENT`, nothing sent.
 *
 * @example
 * ```ts
 * await clock.setConfig(1, { enabled: false }); // same as clock.disable(1)
 * await clock.setConfig(1, { oemType: 1, oemValue: 0x20 }); // state unchanged
 * ```
 */
export interface ClockConfigSet {
  /**
   * Enable (`true`) or disable (`false`) the clock; left out: its state is left unchanged (3).
   * Anything else (`'false'`, `0`) is refused `E_ARGUMENT`: a truthy `'false'` would enable it.
   */
  readonly enabled?: boolean;
  /** The OEM configuration type (attributes 23:16), 0 to 255; default 0, none. */
  readonly oemType?: number;
  /** The OEM configuration value (oem_config_val), a 32-bit value; sent only with an `oemType` (else 0). */
  readonly oemValue?: number;
}

/** The keys {@link ClockProtocol.setRate} takes in its options (others are refused). */
const RATE_SET_KEYS = optionKeys<ClockRateSetOptions>({
  round: true,
  async: true,
  delayedResponse: true,
});

/** The keys {@link ClockProtocol.setConfig} takes (others are refused). */
const CONFIG_SET_KEYS = optionKeys<ClockConfigSet>({
  enabled: true,
  oemType: true,
  oemValue: true,
});

/** What CLOCK_CONFIG_GET (version 3.0) returns. */
export interface ClockConfiguration {
  /** The attributes word (reserved by the specification at version 3.0). */
  readonly attributes: number;
  /** Whether the clock is enabled (config bit 0). */
  readonly enabled: boolean;
  /** The value of the OEM configuration type asked for (oem_config_val; 0 for type 0). */
  readonly oemValue: number;
}

/**
 * The Clock protocol client (Linux `clock.c`, `scmi_clk_proto_ops`): the clocks the platform
 * described at init (attributes, names, rates, parents, permissions), rates (64-bit, as bigint)
 * read and set synchronously or with a delayed response, enable/disable in the layout of the
 * version in use, configuration and parents (version 3.0), and the rate notifications.
 *
 * @example
 * ```ts
 * const clock = agent.protocol(clockProtocolDriver);
 * const uart = clock.domains.list.find((c) => c.name === 'uart');
 * if (uart !== undefined) {
 *   await clock.setRate(uart.id, 48_000_000n); // asynchronous when the platform allows it
 *   console.log(await clock.getRate(uart.id));
 *   await clock.disable(uart.id);
 * }
 * ```
 */
export class ClockProtocol {
  readonly #ph: ProtocolHandle;
  /**
   * Sets in flight, counted as Linux's `cur_async_req` (only when the platform allows async);
   * one count for this client and its {@link ClockProtocol.withCallOptions} views.
   */
  readonly #asyncSets: { inFlight: number };
  /** The clocks, as the platform described them at init. */
  public readonly domains: DomainTable<ClockInfo>;
  /**
   * Pending asynchronous rate changes the platform supports (PROTOCOL_ATTRIBUTES bits 23:16,
   * Linux `max_async_req`); 0 or 1: no asynchronous CLOCK_RATE_SET is sent by default.
   */
  public readonly maxPendingAsyncRateChanges: number;
  readonly #notifyChecks: NotifyChecks;

  private constructor(
    ph: ProtocolHandle,
    domains: DomainTable<ClockInfo>,
    maxPending: number,
    notifyChecks: NotifyChecks,
    asyncSets = { inFlight: 0 },
  ) {
    this.#ph = ph;
    this.#asyncSets = asyncSets;
    this.domains = domains;
    this.maxPendingAsyncRateChanges = maxPending;
    this.#notifyChecks = notifyChecks;
  }

  /**
   * The notify commands (CLOCK_RATE_NOTIFY, CLOCK_RATE_CHANGE_REQUESTED_NOTIFY, by message id)
   * whose PROTOCOL_MESSAGE_ATTRIBUTES check at init failed — a timeout, an error status other than
   * NOT_FOUND, a malformed reply — with the error. Such a command is left out for the agent's life
   * all the same, as Linux leaves it: no clock announces its notification, and a refused
   * subscription names this error (its `cause`). Empty when the platform answered every check.
   */
  public get notifyCheckErrors(): ReadonlyMap<number, unknown> {
    return this.#notifyChecks.errors;
  }

  /**
   * Reads PROTOCOL_ATTRIBUTES, checks that the notify commands exist, and describes every clock
   * as Linux's `scmi_clock_protocol_init` does: CLOCK_ATTRIBUTES, then CLOCK_NAME_GET for an
   * extended name, CLOCK_POSSIBLE_PARENTS_GET and CLOCK_GET_PERMISSIONS when announced (version
   * 3.0), then CLOCK_DESCRIBE_RATES. Only a failed CLOCK_ATTRIBUTES fails the clock; the others
   * are recorded beside what they would have given (Linux ignores their failures).
   *
   * @throws the PROTOCOL_ATTRIBUTES failure (the driver then fails to initialize, and the agent
   * goes on without it); a clock's failure is recorded in {@link ClockProtocol.domains}.
   * @internal
   */
  public static async create(ph: ProtocolHandle): Promise<ClockProtocol> {
    const attributes = await ph.xfer.transact(0x1, undefined, { rxSize: 4 });
    const [count, maxPending] = ph.xfer.decode(attributes, (r) => {
      const word = r.u32();
      return [word & 0xffff, (word >>> 16) & 0xff] as const;
    });
    // As Linux's scmi_clock_protocol_attributes_get (protocol_msg_check): a notification bit counts
    // only when its notify command is implemented.
    const checks = await NotifyChecks.run(ph, [
      ClockMessageId.RATE_NOTIFY,
      ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY,
    ]);
    const rateNotify = checks.implemented(ClockMessageId.RATE_NOTIFY);
    const requestedNotify = checks.implemented(ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY);
    const domains = await DomainTable.describe('clock', count, (id) =>
      describeClock(ph, id, count, rateNotify, requestedNotify),
    );
    return new ClockProtocol(ph, domains, maxPending, checks);
  }

  /** The protocol version in use (major 31:16, minor 15:0). */
  public get version(): number {
    return this.#ph.version;
  }

  /** Where {@link ClockProtocol.version} comes from. */
  public get versionSource(): ProtocolVersionSource {
    return this.#ph.versionSource;
  }

  /**
   * Subscribes `handler` to CLOCK_RATE_CHANGED, decoded ({@link decodeClockRateChanged}): the
   * rate a clock set asynchronously (or by another agent) reached. `options.source` is a clock id
   * (one clock; every clock that announces the notification when omitted), `options.signal` ends
   * the subscription. Resolves to the function that ends it.
   *
   * @throws (rejects) as `agent.events.subscribe` (`E_NOT_SUPPORTED`, nothing sent, for a clock
   * that does not announce the notification or without a P2A channel; ScmiError `E_ARGUMENT` for
   * a source that is not a clock, or `handler` not a function).
   * @example
   * ```ts
   * const off = await clock.onRateChanged((e) => console.log(e.clockId, e.rate), { source: 1 });
   * await clock.setRate(1, 600_000_000n, { async: true });
   * await off();
   * ```
   */
  public onRateChanged(
    handler: ProtocolEventHandler<ClockRateNotification>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      CLOCK_RATE_CHANGED,
      (n) => decodeClockRateChanged(n.payload),
      handler,
      options,
      'onRateChanged',
    );
  }

  /**
   * Subscribes `handler` to CLOCK_RATE_CHANGE_REQUESTED, decoded
   * ({@link decodeClockRateChangeRequested}): a rate another agent asked for. As
   * {@link ClockProtocol.onRateChanged} otherwise.
   */
  public onRateChangeRequested(
    handler: ProtocolEventHandler<ClockRateNotification>,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return subscribeDecoded(
      this.#ph,
      CLOCK_RATE_CHANGE_REQUESTED,
      (n) => decodeClockRateChangeRequested(n.payload),
      handler,
      options,
      'onRateChangeRequested',
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
   * const clock = agent.protocol(clockProtocolDriver).withCallOptions({
   *   timeoutMs: 200,
   *   signal: controller.signal,
   * });
   * console.log(await clock.getRate(0));
   * ```
   */
  public withCallOptions(options: CallOptions): ClockProtocol {
    return new ClockProtocol(
      this.#ph.withCallOptions(options),
      this.domains,
      this.maxPendingAsyncRateChanges,
      this.#notifyChecks,
      this.#asyncSets,
    );
  }

  /**
   * CLOCK_RATE_GET: the current rate of clock `id`, in Hz.
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a clock;
   * `E_DOMAIN_UNAVAILABLE` for a clock the platform did not describe; ScmiStatusError for an
   * error status (DENIED, BUSY while an asynchronous change is pending…); ScmiMalformedError
   * `E_TRUNCATED` (counted) for a reply shorter than 8 bytes; the error of a failed transfer.
   */
  public async getRate(id: number): Promise<bigint> {
    this.domains.info(id);
    const returns = await this.#ph.xfer.transact(ClockMessageId.RATE_GET, (w) => w.u32(id), {
      txSize: 4,
      rxSize: 8,
    });
    return this.#ph.xfer.decode(returns, (r) => r.u64());
  }

  /**
   * CLOCK_RATE_SET: asks for `rate` Hz on clock `id`. Asynchronous by default when the platform
   * allows it, as Linux's `scmi_clock_rate_set` decides from `max_async_req`: then resolves once
   * the delayed response came, with the rate it reports. As Linux, a set is asynchronous while
   * `++cur_async_req < max_async_req`, counting every set in flight: a platform that allows one
   * pending change never gets an asynchronous set by default — OP-TEE's and TF-A's scmi-msg
   * announce 1 and ignore the flag (no delayed response ever comes), and work with Linux because
   * of this rule. The agent also needs a P2A channel. Linux refuses a set that CLOCK_GET_PERMISSIONS forbids (-EACCES) without sending it;
   * this client sends it, so a test sees the platform's own answer (DENIED).
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a clock, a rate that is not
   * an integer from 0 to 2^64 − 1, `options` that are not an object (`null`) or hold a key
   * {@link ClockRateSetOptions} does not have, an unknown `round` (`'nearest'` is `'auto'`), or an
   * `async` or `delayedResponse` neither a boolean nor left out; `E_DOMAIN_UNAVAILABLE` for a
   * clock the platform did not describe; ScmiStatusError for an error status (INVALID_PARAMETERS
   * for a rate out of range, DENIED, BUSY, NOT_SUPPORTED); ScmiMalformedError `E_CLOCK_ID`
   * (counted) when the delayed response names another clock (Linux: -EPROTO), `E_TRUNCATED` when
   * it is short;
   * ScmiTransportError `E_NOT_SUPPORTED` (nothing sent) for `async: true` without a P2A channel;
   * ScmiTimeoutError when the delayed response never comes.
   */
  public async setRate(
    id: number,
    rate: bigint | number,
    options: ClockRateSetOptions = {},
  ): Promise<ClockRateSetResult> {
    this.domains.info(id);
    const value = u64Arg(rate, 'clock rate');
    const o = objectArg(options, RATE_SET_KEYS, 'clock setRate options');
    const round = roundingFlags(o.round);
    const asked = boolOption(o.async, 'async');
    const delayedResponse = boolOption(o.delayedResponse, 'delayedResponse');
    // Linux's scmi_clock_rate_set: while the platform allows asynchronous changes, every set in
    // flight is counted (atomic_inc_return(&cur_async_req)), and a set is asynchronous only while
    // that count stays below max_async_req.
    const counted = this.maxPendingAsyncRateChanges > 0;
    if (counted) this.#asyncSets.inFlight++;
    let returns: Uint8Array;
    let async: boolean;
    try {
      async =
        asked ??
        (this.#ph.p2a && counted && this.#asyncSets.inFlight < this.maxPendingAsyncRateChanges);
      const waitDelayed = async && delayedResponse !== false;
      const flags =
        round | (async ? SET_ASYNC : 0) | (async && !waitDelayed ? SET_IGNORE_DELAYED_RESPONSE : 0);
      returns = await this.#ph.xfer.transact(
        ClockMessageId.RATE_SET,
        (w) => w.u32(flags).u32(id).u64(value),
        { txSize: 16, rxSize: 0, async: waitDelayed },
      );
      if (!waitDelayed) return { async, rate: undefined };
    } finally {
      if (counted) this.#asyncSets.inFlight--;
    }
    const [clockId, set] = this.#ph.xfer.decode(returns, (r) => [r.u32(), r.u64()] as const);
    checkDelayedId(this.#ph, 'CLOCK_RATE_SET', 'clock', clockId, id, 'E_CLOCK_ID');
    return { async: true, rate: set };
  }

  /**
   * CLOCK_CONFIG_SET: enables clock `id`, in the layout of the version in use (as Linux picks
   * `scmi_clock_config_set_v2` from version 3.0: clock_id, attributes state 1, oem_config_val 0;
   * before: clock_id, attributes bit 0).
   *
   * @throws as {@link ClockProtocol.getRate} (DENIED where state control is forbidden).
   */
  public async enable(id: number): Promise<void> {
    this.domains.info(id);
    await this.#configSet(id, STATE_ON, 0, 0);
  }

  /**
   * CLOCK_CONFIG_SET: disables clock `id` (layout as {@link ClockProtocol.enable}).
   *
   * @throws as {@link ClockProtocol.getRate}.
   */
  public async disable(id: number): Promise<void> {
    this.domains.info(id);
    await this.#configSet(id, STATE_OFF, 0, 0);
  }

  /**
   * CLOCK_CONFIG_SET with the version 3.0 layout: a state (or none: unchanged) and an OEM
   * configuration. Sent whether or not the clock announces extended configurations (Linux refuses
   * an OEM set on a clock without them, -EOPNOTSUPP): the platform answers.
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a clock, a `config` that is
   * not an object (`null`) or holds a key {@link ClockConfigSet} does not have, an `enabled`
   * neither a boolean nor left out (a truthy `'false'` would enable the clock), an `oemType` not
   * from 0 to 255, an `oemValue` not a 32-bit value, or neither a state nor an OEM type (Linux:
   * -EINVAL); `E_NOT_SUPPORTED` (nothing sent) below version 3.0, where the layout carries
   * neither an unchanged state nor an OEM configuration (use {@link ClockProtocol.enable});
   * otherwise as {@link ClockProtocol.getRate}.
   */
  public async setConfig(id: number, config: ClockConfigSet): Promise<void> {
    this.domains.info(id);
    const c = objectArg(config, CONFIG_SET_KEYS, 'clock setConfig config');
    // Checked at run time, as every client's flags: a truthy 'false' would enable the clock.
    const enabled = boolOption(c.enabled, 'enabled');
    const oemType = uintArg(c.oemType ?? 0, 'OEM configuration type', 0xff);
    const oemValue = u32Bits(c.oemValue ?? 0, 'OEM configuration value');
    const state = enabled === undefined ? STATE_UNCHANGED : enabled ? STATE_ON : STATE_OFF;
    if (state === STATE_UNCHANGED && oemType === 0) {
      throw new ScmiError(
        'E_ARGUMENT',
        'CLOCK_CONFIG_SET with the state unchanged needs an OEM configuration type',
      );
    }
    this.#requireV3('CLOCK_CONFIG_SET with an unchanged state or an OEM configuration');
    await this.#configSet(id, state, oemType, oemType === 0 ? 0 : oemValue);
  }

  /**
   * CLOCK_CONFIG_GET (version 3.0): the configuration of clock `id` and the value of OEM
   * configuration type `oemType` (default 0, none).
   *
   * @throws ScmiError `E_NOT_SUPPORTED` (nothing sent) below version 3.0 (the command does not
   * exist there; {@link ClockProtocol.isEnabled} reads the state); `E_ARGUMENT` (nothing sent) for
   * an id that is not a clock or an `oemType` not from 0 to 255; ScmiMalformedError `E_TRUNCATED`
   * (counted) for a reply shorter than 12 bytes; otherwise as {@link ClockProtocol.getRate}.
   */
  public async getConfig(id: number, oemType = 0): Promise<ClockConfiguration> {
    this.domains.info(id);
    const type = uintArg(oemType, 'OEM configuration type', 0xff);
    this.#requireV3('CLOCK_CONFIG_GET');
    const returns = await this.#ph.xfer.transact(
      ClockMessageId.CONFIG_GET,
      (w) => w.u32(id).u32(type),
      { txSize: 8, rxSize: 12 },
    );
    return this.#ph.xfer.decode(returns, (r) => ({
      attributes: r.u32(),
      enabled: (r.u32() & 1) !== 0,
      oemValue: r.u32(),
    }));
  }

  /**
   * Whether clock `id` is enabled now, as Linux's `scmi_clock_state_get`: CLOCK_CONFIG_GET config
   * bit 0 at version 3.0, CLOCK_ATTRIBUTES bit 0 before.
   *
   * @throws as {@link ClockProtocol.getConfig} (at any version).
   */
  public async isEnabled(id: number): Promise<boolean> {
    this.domains.info(id);
    if (this.#ph.version >= V3) return (await this.getConfig(id)).enabled;
    const returns = await this.#ph.xfer.transact(ClockMessageId.ATTRIBUTES, (w) => w.u32(id), {
      txSize: 4,
      rxSize: 8 + SHORT_NAME_SIZE,
    });
    return this.#ph.xfer.decode(returns, (r) => (r.u32() & ATTR_ENABLED) !== 0);
  }

  /**
   * CLOCK_DESCRIBE_RATES, read again (init reads it once into `domains`): the rates of clock `id`.
   *
   * @throws ScmiMalformedError (counted) for a reply Linux refuses or this client finds
   * contradictory: `E_MULTIPART` for a range that is not one part of exactly 3 values (except
   * the out-of-spec reply Linux's triplet quirk takes, as init takes it: another returned count
   * with nothing remaining in a reply of exactly 4 + 3 × 8 bytes) or a reply that switches format
   * between parts,
   * `E_CLOCK_RATES` for a range whose max is below its min or whose step is 0 with min below
   * max, `E_TRUNCATED` for a short part; otherwise as {@link ClockProtocol.getRate}.
   */
  public async describeRates(id: number): Promise<ClockRates> {
    this.domains.info(id);
    return describeRates(this.#ph, id);
  }

  /**
   * CLOCK_POSSIBLE_PARENTS_GET, read again (init reads it once into `domains` when the clock
   * announces parents at version 3.0): the clocks clock `id` may be parented to.
   *
   * @throws ScmiMalformedError `E_CLOCK_ID` (counted) for a parent that is not a clock id;
   * `E_MULTIPART` / `E_TRUNCATED` for a bad multi-part reply; otherwise as
   * {@link ClockProtocol.getRate} (NOT_SUPPORTED for a clock without parents).
   */
  public async possibleParents(id: number): Promise<number[]> {
    this.domains.info(id);
    return possibleParents(this.#ph, id, this.domains.count);
  }

  /**
   * CLOCK_PARENT_SET: makes clock `parentId` the parent of clock `id`. Linux's `parent_set` takes
   * an index into the possible parents; this takes the parent's clock id, as CLOCK_PARENT_GET
   * gives it, and refuses one that is not among the possible parents described at init, as Linux
   * refuses an index past them (-EINVAL). Sent whatever CLOCK_GET_PERMISSIONS said (Linux:
   * -EACCES, nothing sent), so the platform answers.
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) for an id that is not a clock or a `parentId`
   * that is not one of its possible parents (none below version 3.0); otherwise as
   * {@link ClockProtocol.getRate}.
   */
  public async setParent(id: number, parentId: number): Promise<void> {
    const info = this.domains.info(id);
    if (!info.parents.includes(parentId)) {
      throw new ScmiError(
        'E_ARGUMENT',
        `clock ${formatValue(parentId)} is not a possible parent of clock ${id} (${info.parents.length === 0 ? 'it has none' : info.parents.join(', ')})`,
      );
    }
    await this.#ph.xfer.transact(ClockMessageId.PARENT_SET, (w) => w.u32(id).u32(parentId), {
      txSize: 8,
      rxSize: 0,
    });
  }

  /**
   * CLOCK_PARENT_GET: the clock id of the parent of clock `id`.
   *
   * @throws as {@link ClockProtocol.getRate} (NOT_SUPPORTED for a clock without parents);
   * ScmiMalformedError (counted) `E_TRUNCATED` for a reply shorter than 4 bytes, `E_CLOCK_ID` for
   * a parent that is not one of the clocks.
   */
  public async getParent(id: number): Promise<number> {
    this.domains.info(id);
    const returns = await this.#ph.xfer.transact(ClockMessageId.PARENT_GET, (w) => w.u32(id), {
      txSize: 4,
      rxSize: 4,
    });
    return this.#ph.xfer.decode(returns, (r) => {
      const parent = r.u32();
      // As CLOCK_POSSIBLE_PARENTS_GET's parents are checked: one that is not a clock is the
      // platform's error, and setParent could not take it back.
      if (parent >= this.domains.count) {
        throw new ScmiMalformedError(
          `CLOCK_PARENT_GET of clock ${id} names clock ${parent}, past the ${this.domains.count} clocks`,
          'E_CLOCK_ID',
        );
      }
      return parent;
    });
  }

  /**
   * CLOCK_GET_PERMISSIONS, read again (init reads it once into `domains` when the clock announces
   * it at version 3.0): what the agent may change on clock `id`.
   *
   * @throws as {@link ClockProtocol.getRate} (NOT_SUPPORTED where the platform has no
   * permissions to tell); ScmiMalformedError `E_TRUNCATED` (counted) for a reply shorter than
   * 4 bytes.
   */
  public async getPermissions(id: number): Promise<ClockPermissions> {
    this.domains.info(id);
    return getPermissions(this.#ph, id);
  }

  /**
   * CLOCK_RATE_NOTIFY: asks the platform to send (or stop sending) CLOCK_RATE_CHANGED for clock
   * `id`. Subscribing through `agent.events` sends it for you; this is the raw command,
   * which goes around the hub: disabling here what a subscription holds silences it.
   *
   * @throws as {@link ClockProtocol.getRate}.
   */
  public async notifyRateChanged(id: number, enable: boolean): Promise<void> {
    this.domains.info(id);
    await this.#notify(ClockMessageId.RATE_NOTIFY, id, enable);
  }

  /**
   * CLOCK_RATE_CHANGE_REQUESTED_NOTIFY: asks the platform to send (or stop sending)
   * CLOCK_RATE_CHANGE_REQUESTED for clock `id`; the raw command, as
   * {@link ClockProtocol.notifyRateChanged}.
   *
   * @throws as {@link ClockProtocol.getRate}.
   */
  public async notifyRateChangeRequested(id: number, enable: boolean): Promise<void> {
    this.domains.info(id);
    await this.#notify(ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY, id, enable);
  }

  async #notify(messageId: number, id: number, enable: boolean): Promise<void> {
    await sendNotify(this.#ph, this.domains, messageId, id, enable);
  }

  async #configSet(id: number, state: number, oemType: number, oemValue: number): Promise<void> {
    if (this.#ph.version >= V3) {
      await this.#ph.xfer.transact(
        ClockMessageId.CONFIG_SET,
        (w) =>
          w
            .u32(id)
            .u32(state | (oemType << 16))
            .u32(oemValue),
        { txSize: 12, rxSize: 0 },
      );
      return;
    }
    // Linux's scmi_clock_config_set: clock_id, attributes (bit 0 enable).
    await this.#ph.xfer.transact(ClockMessageId.CONFIG_SET, (w) => w.u32(id).u32(state), {
      txSize: 8,
      rxSize: 0,
    });
  }

  #requireV3(what: string): void {
    if (this.#ph.version >= V3) return;
    throw new ScmiError(
      'E_NOT_SUPPORTED',
      `${what} needs Clock protocol version 3.0; the version in use is 0x${this.#ph.version.toString(16)}`,
    );
  }
}

/** A `round` a caller gave, for an error: a string quoted, anything else named by its type. */
function describeRound(round: unknown): string {
  return typeof round === 'string' ? `'${round}'` : describeArg(round);
}

/** CLOCK_RATE_SET flags bits 3:2 for `round`. */
function roundingFlags(round: ClockRateRounding | undefined): number {
  switch (round) {
    case undefined:
    case 'down':
      return 0;
    case 'up':
      return SET_ROUND_UP;
    case 'auto':
      return SET_ROUND_AUTO;
    default: {
      const given: unknown = round;
      // The platform's README and Sensor's rounding call bit 3 "nearest": point at the name here.
      const hint = given === 'nearest' ? " ('auto', flags bit 3, rounds to the nearest)" : '';
      throw new ScmiError(
        'E_ARGUMENT',
        `clock rate rounding ${describeRound(given)} is not 'down', 'up' or 'auto'${hint}`,
      );
    }
  }
}

/**
 * Runs one of the discovery reads Linux makes after CLOCK_ATTRIBUTES and ignores the failure of:
 * its value, or its error beside `fallback` (a removal is thrown).
 */
async function optional<T>(
  read: () => Promise<T>,
  fallback: T,
): Promise<{ value: T; error?: unknown }> {
  try {
    return { value: await read() };
  } catch (e) {
    if (isRemovalError(e)) throw e;
    return { value: fallback, error: e };
  }
}

/**
 * Describes clock `id` in Linux's order (`scmi_clock_attributes_get`, then
 * `scmi_clock_describe_rates_get`): CLOCK_ATTRIBUTES (a failure fails the clock), CLOCK_NAME_GET
 * for an extended name at version 2.0 and later (Linux's clock.c asks from major 2, not 3 as most
 * protocols), CLOCK_POSSIBLE_PARENTS_GET and CLOCK_GET_PERMISSIONS when announced at version 3.0,
 * then CLOCK_DESCRIBE_RATES.
 */
async function describeClock(
  ph: ProtocolHandle,
  id: number,
  count: number,
  rateNotify: boolean,
  requestedNotify: boolean,
): Promise<ClockInfo> {
  const v2 = ph.version >= V2;
  const v3 = ph.version >= V3;
  const returns = await ph.xfer.transact(ClockMessageId.ATTRIBUTES, (w) => w.u32(id), {
    txSize: 4,
    rxSize: 8 + SHORT_NAME_SIZE,
  });
  const [attributes, shortName, latency] = ph.xfer.decode(returns, (r) => {
    const a = r.u32();
    const name = r.string(SHORT_NAME_SIZE);
    // "clock_enable_latency field is present only since SCMI v3.1": Linux reads it from major 2.
    // A platform of that version that leaves it out gives no latency rather than a malformed reply.
    const l = v2 && r.remaining >= 4 ? r.u32() : 0;
    return [a, name, l] as const;
  });
  const has = (bit: number): boolean => (attributes & bit) !== 0;
  const info: {
    -readonly [K in keyof ClockInfo]: ClockInfo[K];
  } = {
    id,
    name: shortName,
    enabled: has(ATTR_ENABLED),
    rateChangedNotifications: v2 && rateNotify && has(ATTR_RATE_CHANGED_NOTIFY),
    rateChangeRequestedNotifications:
      v2 && requestedNotify && has(ATTR_RATE_CHANGE_REQUESTED_NOTIFY),
    extendedConfig: v3 && has(ATTR_EXTENDED_CONFIG),
    // Linux: `latency ? : U32_MAX`, 0 being "not given".
    enableLatencyUs: latency === 0 ? undefined : latency,
    rates: undefined,
    parents: [],
    permissions: undefined,
  };
  if (v2 && has(ATTR_EXTENDED_NAME)) {
    const name = await optional(() => ph.xfer.extendedName(ClockMessageId.NAME_GET, id), shortName);
    info.name = name.value;
    if ('error' in name) info.nameError = name.error;
  }
  if (info.name === '' && info.nameError === undefined) {
    info.nameError = new ScmiError(
      'E_CLOCK_NAME',
      `clock ${id} has an empty name: Linux's scmi_clock_info_get gives no clock for it (clk-scmi does not register it)`,
    );
  }
  if (v3 && has(ATTR_PARENTS)) {
    const parents = await optional(() => possibleParents(ph, id, count), []);
    info.parents = parents.value;
    if ('error' in parents) info.parentsError = parents.error;
  }
  if (v3 && has(ATTR_GET_PERMISSIONS)) {
    const permissions = await optional<ClockPermissions | undefined>(
      () => getPermissions(ph, id),
      undefined,
    );
    info.permissions = permissions.value;
    if ('error' in permissions) info.permissionsError = permissions.error;
  }
  const rates = await optional<ClockRates | undefined>(() => describeRates(ph, id), undefined);
  info.rates = rates.value;
  if ('error' in rates) info.ratesError = rates.error;
  return info;
}

/**
 * CLOCK_DESCRIBE_RATES through `iterate`, as Linux's `scmi_clock_describe_rates_get`: 11:0
 * returned, 31:16 remaining, bit 12 the format. A range must come as one part of exactly 3 values
 * (min, max, step) and nothing remaining, as Linux's `iter_clk_describe_update_state` requires.
 * Linux's quirk for firmware that sends a triplet with a wrong returned count is applied, as
 * Linux applies it to every platform (QUIRK_OUT_OF_SPEC_TRIPLET, `clock_rates_triplet_out_of_spec`
 * with no vendor): accepted when nothing remains and the reply is exactly 4 + 3 × 8 bytes (older
 * SCP-firmware says "1 returned"); any other such reply is malformed. A list is sorted ascending, as Linux sorts it (`rate_cmp_func`; recent kernels only
 * for version 1.0, where ascending order is not guaranteed: sorting a sorted list changes
 * nothing). Linux bounds the walk by the first part's count only (no fixed maximum): so does this,
 * up to what the count fields can hold.
 */
async function describeRates(ph: ProtocolHandle, id: number): Promise<ClockRates> {
  let format: 'list' | 'range' | undefined;
  const values = await ph.xfer.iterate(ClockMessageId.DESCRIBE_RATES, {
    txSize: 8,
    max: 0xfff + 0xffff,
    prepare: (w, index) => w.u32(id).u32(index),
    counts: (r) => {
      const word = r.u32();
      const returned = word & 0xfff;
      const remaining = word >>> 16;
      const kind = (word & RATES_RANGE) !== 0 ? 'range' : 'list';
      if (format !== undefined && kind !== format) {
        throw new ScmiMalformedError(
          `CLOCK_DESCRIBE_RATES of clock ${id} switches from a ${format} to a ${kind} between parts`,
          'E_MULTIPART',
        );
      }
      format = kind;
      // Linux's QUIRK_OUT_OF_SPEC_TRIPLET, which matches every platform (DEFINE_SCMI_QUIRK with no
      // vendor, sub-vendor or version): older SCP-firmware answers a range with "1 returned" and
      // the whole triplet; taken as 3 when nothing remains and the reply holds exactly 3 rates.
      if (kind === 'range' && returned !== 3 && remaining === 0 && r.remaining === 3 * 8) {
        return { returned: 3, remaining };
      }
      if (kind === 'range' && (returned !== 3 || remaining !== 0)) {
        throw new ScmiMalformedError(
          `CLOCK_DESCRIBE_RATES of clock ${id}: a range triplet with ${returned} returned and ${remaining} remaining (3 and 0 expected)`,
          'E_MULTIPART',
        );
      }
      return { returned, remaining };
    },
    item: (r) => r.u64(),
  });
  if (format !== 'range') {
    return { kind: 'list', rates: values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) };
  }
  const [min = 0n, max = 0n, step = 0n] = values;
  if (max < min || (step === 0n && min < max)) {
    throw ph.xfer.malformed(
      new ScmiMalformedError(
        `CLOCK_DESCRIBE_RATES of clock ${id}: range min ${min}, max ${max}, step ${step}`,
        'E_CLOCK_RATES',
      ),
    );
  }
  return { kind: 'range', min, max, step };
}

/**
 * CLOCK_POSSIBLE_PARENTS_GET through `iterate`, as Linux's `scmi_clock_possible_parents`: 7:0
 * returned, 31:24 remaining, bounded by the first part's count. A parent that is not one of the
 * `count` clocks is malformed (Linux keeps it).
 */
async function possibleParents(ph: ProtocolHandle, id: number, count: number): Promise<number[]> {
  return ph.xfer.iterate(ClockMessageId.POSSIBLE_PARENTS_GET, {
    txSize: 8,
    max: 0xff + 0xff,
    prepare: (w, index) => w.u32(id).u32(index),
    counts: (r) => {
      const word = r.u32();
      return { returned: word & 0xff, remaining: word >>> 24 };
    },
    item: (r) => {
      const parent = r.u32();
      if (parent >= count) {
        throw new ScmiMalformedError(
          `CLOCK_POSSIBLE_PARENTS_GET of clock ${id} lists clock ${parent}, past the ${count} clocks`,
          'E_CLOCK_ID',
        );
      }
      return parent;
    },
  });
}

/** CLOCK_GET_PERMISSIONS, as Linux's `scmi_clock_get_permissions`. */
async function getPermissions(ph: ProtocolHandle, id: number): Promise<ClockPermissions> {
  const returns = await ph.xfer.transact(ClockMessageId.GET_PERMISSIONS, (w) => w.u32(id), {
    txSize: 4,
    rxSize: 4,
  });
  return ph.xfer.decode(returns, (r) => {
    const word = r.u32();
    return {
      stateControl: (word & PERMISSION_STATE) !== 0,
      parentControl: (word & PERMISSION_PARENT) !== 0,
      rateControl: (word & PERMISSION_RATE) !== 0,
    };
  });
}

/**
 * The Clock protocol driver: bind it to core's `PROTOCOL_DRIVER` (or load `protocolsModule`), and
 * `agent.protocol(clockProtocolDriver)` is the {@link ClockProtocol}. Version 3.0, the newest
 * Linux's `clock.c` supports (SCMI_PROTOCOL_SUPPORTED_VERSION) and the platform emulator's;
 * CLOCK_RATE_CHANGED and CLOCK_RATE_CHANGE_REQUESTED are registered with the agent's notification
 * hub (16-byte payloads, one source per clock).
 *
 * @example
 * ```ts
 * container.load(new ContainerModule(({ bind }) => {
 *   bind(PROTOCOL_DRIVER).toConstantValue(clockProtocolDriver);
 * }));
 * const agent = await createAgent(container, options);
 * console.log(await agent.protocol(clockProtocolDriver).getRate(0));
 * ```
 */
export const clockProtocolDriver: ProtocolDriver<ClockProtocol> = {
  protocolId: ScmiProtocolId.CLOCK,
  name: 'clock',
  version: V3,
  messageNames: ClockMessageId,
  async init(ph) {
    const clock = await ClockProtocol.create(ph);
    ph.registerEvents([
      perDomainEvent({
        id: CLOCK_RATE_CHANGED,
        name: 'clock-rate-changed',
        payload: RATE_NOTIFICATION_PAYLOAD,
        domains: clock.domains,
        what: 'clock',
        supported: (c) => c.rateChangedNotifications,
        send: (id, enable) => clock.notifyRateChanged(id, enable),
        checkFailure: checkFailureOf(
          clock.notifyCheckErrors,
          ClockMessageId.RATE_NOTIFY,
          'CLOCK_RATE_NOTIFY',
        ),
      }),
      perDomainEvent({
        id: CLOCK_RATE_CHANGE_REQUESTED,
        name: 'clock-rate-change-requested',
        payload: RATE_NOTIFICATION_PAYLOAD,
        domains: clock.domains,
        what: 'clock',
        supported: (c) => c.rateChangeRequestedNotifications,
        send: (id, enable) => clock.notifyRateChangeRequested(id, enable),
        checkFailure: checkFailureOf(
          clock.notifyCheckErrors,
          ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY,
          'CLOCK_RATE_CHANGE_REQUESTED_NOTIFY',
        ),
      }),
    ]);
    return clock;
  },
};
