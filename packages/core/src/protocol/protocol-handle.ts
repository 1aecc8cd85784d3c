import { isPromiseLike, type DevresGroup } from '@scmi-ts/devres';
import {
  ScmiError,
  ScmiMalformedError,
  ScmiStatusError,
  ScmiTransportError,
  placeMalformed,
  type MalformedCommand,
} from '../errors/scmi-error.js';
import type {
  ScmiEventDescriptor,
  ScmiNotificationHandler,
} from '../notification/notification-hub.js';
import { copyOut } from '../transfer/clamped-copy.js';
import {
  checkTimeoutMs,
  type ChannelRuntime,
  type TransferEngine,
} from '../transfer/transfer-engine.js';
import type { GiveUpWatch } from '../transfer/xfer-pool.js';
import type { Xfer } from '../transfer/xfer.js';
import type { ScmiLogger } from '../diagnostics/logger.js';
import type { ScmiIoMem } from '../memory/memory-map.js';
import { PayloadReader, PayloadWriter } from '../wire/payload.js';
import { CommonMessageId, scmiProtocolName } from '../wire/protocol-id.js';
import { ScmiStatus } from '../wire/status.js';
import { describeArg } from '../errors/format-value.js';
import { u32Arg } from './field-arg.js';
import { optionKeys, unknownKeyError } from '../agent/agent-config.js';
import {
  isAbortSignal,
  isSignalGivenAsOptions,
  noWatch,
  signalHint,
  watchAbort,
} from './abort-watch.js';

/** How a command's payload is given to {@link XferOps.transact}: bytes, or a function that writes them. */
export type PayloadSource = Uint8Array | ((writer: PayloadWriter) => void);

/**
 * What a subscription of a protocol's event takes ({@link ProtocolHandle.subscribe}, and the
 * protocol clients' `on…` methods): the source (the domain, clock or sensor id), and a signal
 * that ends it.
 *
 * @example
 * ```ts
 * const options: ProtocolSubscribeOptions = { source: 1, signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface ProtocolSubscribeOptions {
  /**
   * Only notifications about this source (Linux's `src_id`: a clock, domain or sensor id); every
   * source when omitted.
   */
  readonly source?: number;
  /** Ends the subscription when it fires (as `ScmiSubscribeOptions.signal` does). */
  readonly signal?: AbortSignal;
}

/**
 * What a command can be given besides its payload: its own timeout, and a signal that gives it
 * up. {@link XferOps.transact} takes them per command; {@link ProtocolHandle.withCallOptions}
 * (and each protocol client's `withCallOptions`) applies them to every command sent through a view.
 *
 * @example
 * ```ts
 * const quick: CallOptions = { timeoutMs: 100, signal: AbortSignal.timeout(5_000) };
 * await ph.xfer.transact(CommonMessageId.PROTOCOL_VERSION, undefined, { ...quick, rxSize: 4 });
 * ```
 */
export interface CallOptions {
  /**
   * How long to wait for this command's response, ms (a positive number; default: the agent's
   * `rxTimeoutMs`) — for a command the platform is known to take long over, or a test that must
   * not wait out virtio's 60 s. On expiry the command fails with `ScmiTimeoutError` (its
   * `timeoutMs` this value) and its token is retired, as at any timeout: a late reply is dropped
   * and counted. The delayed response of an asynchronous command keeps the agent's
   * `asyncTimeoutMs`. It counts from the send, as Linux's timeout does: a send that waits for its
   * channel first (an SMT area still busy, an OP-TEE thread) is bounded by the transport's own
   * wait (virtio's wait for a slot held by ended commands takes this timeout). Anything but a
   * positive number is refused `E_ARGUMENT`, nothing sent, before a transfer is taken.
   */
  readonly timeoutMs?: number;
  /**
   * Gives the command up (a test tool's Ctrl-C): when the signal fires while the command waits
   * for its response or its delayed response, it fails at once with `signal.reason`, as at a
   * timeout — its token is retired, so a reply that comes later is dropped and counted, and the
   * transport releases what it holds for it as after a timeout. A signal that fired already
   * rejects with its reason, nothing sent (also when the payload writer fires it). A command
   * whose send the transport still holds (the SMT area's lock, an OP-TEE thread, a virtio slot)
   * fails at once too; the transport finishes with it on its own (it does not send a failed
   * transfer it has not sent yet; OP-TEE's synchronous wait has, and its late return is counted).
   * A command still waiting for a free transfer (every one in flight) leaves the queue at once. A
   * signal that fires after the command settled changes nothing; many commands may share one signal (it gets one
   * listener, removed when the last of them settles). Anything but an `AbortSignal` is refused
   * `E_ARGUMENT`.
   */
  readonly signal?: AbortSignal;
}

/**
 * Options of {@link XferOps.transact}: the payload's room and the command's kind, with the
 * {@link CallOptions} any command takes.
 */
export interface TransactOptions extends CallOptions {
  /** Room for the command payload when `payload` is a writer function (default: the max message size). */
  readonly txSize?: number;
  /**
   * Largest response expected, in bytes after the status (default: the max message size). The
   * delayed response of an asynchronous command always has room for the max message size (as
   * Linux resets `rx.len` for it).
   */
  readonly rxSize?: number;
  /**
   * The command is asynchronous: wait for its delayed response too. Refused with
   * `ScmiTransportError` `E_NOT_SUPPORTED` (nothing sent) on an agent without a P2A channel, where
   * no delayed response can come.
   */
  readonly async?: boolean;
}

/** The counts at the start of one part of a multi-part reply. */
export interface MultiPartCounts {
  /** Items in this part. */
  readonly returned: number;
  /** Items still to come after this part. */
  readonly remaining: number;
}

/**
 * A multi-part reply description for {@link XferOps.iterate} (Linux `scmi_iterator_ops`): how to
 * ask for the part starting at `index`, how to read the returned/remaining counts, and how to read
 * one item.
 *
 * @example
 * ```ts
 * const levels = await ph.xfer.iterate(PERF_DESCRIBE_LEVELS, {
 *   txSize: 8,
 *   prepare: (w, index) => w.u32(domain).u32(index),
 *   counts: (r) => { const n = r.u32(); return { returned: n & 0xffff, remaining: n >>> 16 }; },
 *   item: (r) => ({ perf: r.u32(), power: r.u32(), latency: r.u32() & 0xffff }),
 * });
 * ```
 */
export interface MultiPartSpec<T> {
  /** Bytes of the request. */
  readonly txSize: number;
  /** Writes the request for the part starting at item `index`. */
  prepare(writer: PayloadWriter, index: number): void;
  /** Reads the returned and remaining counts at the start of a reply. */
  counts(reader: PayloadReader): MultiPartCounts;
  /** Reads one item; `index` is its position in the whole list. */
  item(reader: PayloadReader, index: number): T;
  /**
   * Upper bound on the number of items; default 4096. The first part's count (returned +
   * remaining) then bounds the rest: a later part announcing more is malformed, so a platform that
   * never says "0 remaining" cannot loop.
   */
  readonly max?: number;
  /**
   * Told when a part returns no item but announces more remaining: the walk ends there with the
   * items collected so far, as Linux's `scmi_iterator_run` ends it. `error` (an
   * {@link ScmiMalformedError} `E_MULTIPART`, not thrown, counted already in
   * `diagnostics.malformedReplies`) describes the anomaly for a log, as `discoverPlatform`'s
   * `warn` gets one. Without it, the agent's logger warns (Linux's iterator ends silently; a
   * platform that stops early is worth a line in the log).
   */
  readonly warn?: (message: string, error: Error) => void;
}

/**
 * The transfer operations a protocol driver uses (Linux `struct scmi_xfer_ops`), bound to the
 * protocol's id and channel.
 *
 * @example
 * ```ts
 * const returns = await ph.xfer.transact(CLOCK_RATE_GET, (w) => w.u32(clockId), { rxSize: 8 });
 * const rate = ph.xfer.decode(returns, (r) => r.u64()); // a short reply: counted, E_TRUNCATED
 * ```
 */
export interface XferOps {
  /**
   * A transfer for `messageId`, room for `txSize` bytes of command and up to `rxSize` bytes of
   * response (0: the max message size). Waits while the pool is exhausted.
   *
   * Rejects with ScmiShutdownError when the agent is shutting down, RevokedError after removal;
   * on a view ({@link ProtocolHandle.withCallOptions}) with the reason of its signal once that
   * fired (at once, or while it waits for a transfer) — as its `do` and `doWithResponse` do.
   */
  get(messageId: number, txSize: number, rxSize?: number): Promise<Xfer>;
  /**
   * Sends and waits for the response; throws {@link ScmiStatusError} on an error status. A
   * transfer is sent fresh from `get` or again after a response (its token kept, as Linux's
   * iterators do); one in flight, timed out or failed is refused with `E_XFER_STATE` — put it
   * back and get a new one.
   */
  do(xfer: Xfer): Promise<void>;
  /**
   * Sends an asynchronous command and waits for its delayed response too (as `do` otherwise).
   * Rejects with `ScmiTransportError` `E_NOT_SUPPORTED` (nothing sent) on an agent without a P2A
   * channel.
   */
  doWithResponse(xfer: Xfer): Promise<void>;
  /**
   * Puts the transfer back into the pool, once its `do` settled: a transfer still in flight is
   * refused with `E_XFER_STATE` (thrown), and nothing changes. The object is done with once put:
   * it is never handed out again (a new one takes its place in the pool), so a second put is a
   * no-op and a send of it is refused with `E_XFER_STATE` — neither can reach the transfer of
   * whoever gets the next one. Read the response before putting it back: its buffers move to the
   * transfer that takes its place, and it keeps empty ones (a stale write through `xfer.tx` lands
   * nowhere, `set` throws a RangeError). Views taken before the put (`response()`, a
   * `PayloadWriter` over `tx`) still reach the buffers, now the next transfer's: drop them too.
   */
  put(xfer: Xfer): void;
  /**
   * get + write + do + copy of the response + put, in one call; resolves to the return values.
   * Rejects with ScmiMalformedError `E_PAYLOAD` (no transfer taken) when `payload` is neither a
   * Uint8Array nor a writer function, `E_FIELD_RANGE` when `messageId` is not an integer 0…255;
   * with ScmiError `E_ARGUMENT` (no transfer taken) when `options` is given but not an object
   * (`null`) or holds a key it does not take (a misspelt `timeoutMS` is refused, not left at its
   * default).
   */
  transact(
    messageId: number,
    payload?: PayloadSource,
    options?: TransactOptions,
  ): Promise<Uint8Array>;
  /**
   * Collects a multi-part reply (index += returned until remaining is 0). A part that returns no
   * item ends the walk with the items collected so far, whatever it announces as remaining, as
   * Linux's `scmi_iterator_run` does (`while (st->num_returned && st->num_remaining)`); when it
   * announced more, the part is counted once as a malformed reply of this protocol in the agent's
   * `diagnostics.malformedReplies` (it contradicts itself, as a LIST_PROTOCOLS that returns none
   * before its total does) and `spec.warn` is told (by default, the agent's logger warns); nothing
   * is thrown. A part that returns none and announces none is the end of the list: neither counted
   * nor warned of.
   *
   * @throws ScmiMalformedError `E_MULTIPART` when a part announces more items than `spec.max`, or
   * (after the first) more than the first part announced; the error of a failed transfer, or
   * whatever `spec`'s callbacks throw (a short part: `E_TRUNCATED` from the reader) — each part
   * is read through {@link XferOps.decode}, so a malformed one is counted; ScmiError
   * `E_ARGUMENT` (nothing sent) when `spec.max` is not a whole number, 0 or more.
   */
  iterate<T>(messageId: number, spec: MultiPartSpec<T>): Promise<T[]>;
  /**
   * The extended name of resource `id` (`*_NAME_GET`: request `id` [, `flags`], response `flags`,
   * `name[64]`; Linux `scmi_common_extended_name_get`). `flags` is sent only when given (a 4-byte
   * request without it). A name with no NUL in its 64 bytes is cut to 63 characters.
   *
   * @throws ScmiMalformedError `E_FIELD_RANGE` (nothing sent, no transfer taken) when `id`, or
   * `flags` when given, is not an integer from 0 to 0xFFFFFFFF (the writer would send it modulo
   * 2^32: -1 as 0xFFFFFFFF, 2^32 + 5 as 5), or `messageId` not one from 0 to 255; `E_TRUNCATED`
   * (counted in `diagnostics.malformedReplies`) for a reply shorter than its flags and name;
   * {@link ScmiStatusError} on an error status; the error of a failed transfer.
   */
  extendedName(messageId: number, id: number, flags?: number): Promise<string>;
  /**
   * Reads a response's return values with `read`, over a {@link PayloadReader} of `returns`, and
   * gives what it returns. A {@link ScmiMalformedError} thrown while reading — a reply shorter
   * than its fields (`E_TRUNCATED` from the reader), counts that contradict each other (one the
   * driver throws) — is counted as a malformed reply of this protocol in the agent's
   * `diagnostics.malformedReplies` and rethrown: the platform's bad bytes are rejected and
   * counted, as the transports count theirs. Any other error is rethrown uncounted, and so is a
   * malformed error about a caller's own value (`E_FIELD_RANGE`, `E_PAYLOAD`); an error is counted
   * once however many `decode` calls it passes through (one inside a spec callback of `iterate`).
   * A `read` that returns a promise has its rejection counted alike. A counted error names its
   * reply: `protocolId` always, `messageId` and `token` when `returns` is the reply this
   * `transact` gave last (a driver decoding right after its command), in its fields and at the
   * head of its message (`clock message 0x6 (token 35): payload truncated: …`). Core's own
   * decoding (Base, `iterate`, `extendedName`, `versionGet`) goes through it; a driver should too.
   *
   * @example
   * ```ts
   * const returns = await ph.xfer.transact(CLOCK_RATE_GET, (w) => w.u32(clockId), { rxSize: 8 });
   * const rate = ph.xfer.decode(returns, (r) => r.u64()); // a 4-byte reply: E_TRUNCATED, counted
   * ```
   */
  decode<T>(returns: Uint8Array, read: (reader: PayloadReader) => T): T;
  /**
   * Counts `error` as a malformed reply of this protocol (as {@link XferOps.decode} counts what
   * it catches) and returns it, to throw or record: for what a driver finds wrong in the
   * platform's return values outside `decode` — across several replies, say. An error counted
   * already (by `decode`, or an earlier call) is not counted again, nor one of a caller's own
   * argument (`E_FIELD_RANGE`, `E_PAYLOAD`).
   *
   * @example
   * ```ts
   * if (new Set(ids).size !== ids.length) {
   *   throw ph.xfer.malformed(new ScmiMalformedError('a clock id listed twice', 'E_CLOCK_ID'));
   * }
   * ```
   */
  malformed(error: ScmiMalformedError): ScmiMalformedError;
  /** PROTOCOL_VERSION of this protocol. */
  versionGet(): Promise<number>;
  /** Whether the platform implements `messageId` (PROTOCOL_MESSAGE_ATTRIBUTES is not NOT_FOUND). */
  messageSupported(messageId: number): Promise<boolean>;
}

/**
 * Where a protocol's version in use comes from: `platform` — the platform's PROTOCOL_VERSION, no
 * newer than the driver's; `negotiated` — the driver's, the platform being newer and accepting it
 * through NEGOTIATE_PROTOCOL_VERSION; `best-effort` — the driver's, the platform having refused or
 * garbled PROTOCOL_VERSION or the negotiation (Linux goes on "in best-effort mode" there too,
 * backward compatibility not assured).
 *
 * @example
 * ```ts
 * if (agent.info.versionSource === 'best-effort') console.warn('Base runs best-effort');
 * ```
 */
export type ProtocolVersionSource = 'platform' | 'negotiated' | 'best-effort';

/**
 * What a protocol driver receives at init (Linux `struct scmi_protocol_handle`): its protocol id,
 * the version in use, transfer operations bound to its channel, and its notification registration.
 */
export interface ProtocolHandle {
  /** The protocol id. */
  readonly protocolId: number;
  /** The agent (device) name. */
  readonly agent: string;
  /**
   * The protocol version in use: major in 31:16, minor in 15:0. The platform's when the driver
   * knows it, else the driver's (negotiated, or best-effort when the platform refused or garbled
   * PROTOCOL_VERSION or the negotiation, as in Linux).
   */
  readonly version: number;
  /** Where {@link ProtocolHandle.version} comes from (see {@link ProtocolVersionSource}). */
  readonly versionSource: ProtocolVersionSource;
  /** Whether the transport has a P2A channel (notifications and delayed responses possible). */
  readonly p2a: boolean;
  /** Transfer operations. */
  readonly xfer: XferOps;
  /** Registers the notifications this protocol can emit. */
  registerEvents(events: readonly ScmiEventDescriptor[]): void;
  /**
   * Subscribes `handler` to event `eventId` of this protocol — `agent.events.subscribe` for a
   * protocol client's own events, so that it can offer typed subscriptions (`clock.onRateChanged`):
   * the same enabling and disabling at the platform, the same refusals and errors, the
   * subscription ended by the function it resolves to or by `options.signal`. A view
   * ({@link ProtocolHandle.withCallOptions}) subscribes as its handle does.
   *
   * @throws (rejects) RevokedError once the handle is revoked; ScmiError `E_ARGUMENT` when
   * `options` is not an object or holds a key {@link ProtocolSubscribeOptions} does not have;
   * otherwise as `agent.events.subscribe` (`E_NOT_SUPPORTED` without a P2A channel,
   * `E_UNKNOWN_EVENT` for an event the driver did not register, `E_SHUTDOWN` during removal…).
   * @example
   * ```ts
   * const off = await ph.subscribe(0x0, (n) => console.log(n.payload), { source: 1 });
   * await off();
   * ```
   */
  subscribe(
    eventId: number,
    handler: ScmiNotificationHandler,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>>;
  /**
   * A view of this handle whose every command takes `options` — a protocol client's
   * `withCallOptions` is built on it, so that a caller can bound or give up the commands of any
   * of its methods. The view shares everything else with this handle (protocol, version, channel,
   * revocation). Where a command gives its own option through `transact`, its `timeoutMs` wins
   * over the view's, and both signals give it up; a view of a view keeps the signals of both and
   * the newer timeout. A transfer taken with the view's `xfer.get` carries its `timeoutMs` (the
   * driver may change it), and its `do`/`doWithResponse` watch its signals. After the removal
   * the view's commands reject with `RevokedError`, whatever its signal did. A wrapper of a
   * handle (a test's Proxy that answers some commands itself) must wrap the views it gives too,
   * or a client's `withCallOptions` goes around it.
   *
   * @throws ScmiError `E_ARGUMENT` when `options` is not an object (an `AbortSignal` given for
   * `{ signal }` included), holds a key that {@link CallOptions} does not have, a `timeoutMs` that
   * is not a positive number or a `signal` that is not an `AbortSignal`. A signal that fired
   * already is taken: every command of the view then rejects with its reason, nothing sent.
   * @example
   * ```ts
   * const controller = new AbortController();
   * process.once('SIGINT', () => controller.abort(new Error('interrupted')));
   * const view = ph.withCallOptions({ timeoutMs: 200, signal: controller.signal });
   * await view.xfer.transact(CommonMessageId.PROTOCOL_VERSION, undefined, { rxSize: 4 });
   * ```
   */
  withCallOptions(options: CallOptions): ProtocolHandle;
  /**
   * Maps `size` bytes of the shared memory at `address` — Linux's `devm_ioremap(ph->dev…)`, for
   * an address the platform gave (a fast channel's, PERF_DESCRIBE_FASTCHANNEL): the agent's
   * `memoryMap` (`AgentOptions.memoryMap`) must hold the whole range in one region, or it is not
   * mapped (undefined: the driver then goes on without it, as Linux's does when `devm_ioremap`
   * fails). The mapping belongs to the protocol: once the agent's removal quiesces it, every
   * access throws RevokedError, and its release drops the view of the memory. A view
   * ({@link ProtocolHandle.withCallOptions}) maps for its handle.
   *
   * @throws ScmiError `E_ARGUMENT` when `address` is not a bigint from 0 or `size` not a whole
   * number from 1; RevokedError once the protocol is quiesced.
   * @example
   * ```ts
   * const set = ph.ioremap(0x4000_0000n, 4);
   * if (set === undefined) await sendLevelSet(level); // not mapped: the message instead
   * else set.write32(level);
   * ```
   */
  ioremap(address: bigint, size: number): ScmiIoMem | undefined;
  /**
   * The agent's logger (the `LOGGER` binding), each message prefixed with the agent's and the
   * protocol's names (`scmi0: protocol perf: …`) — Linux's `dev_warn(ph->dev, …)`, for what a
   * driver gives up on and goes on without (a fast channel it could not set up). A view logs as
   * its handle.
   *
   * @example
   * ```ts
   * ph.logger.warn('domain 3: no fast channel for PERF_LEVEL_SET; using messages', { error });
   * ```
   */
  readonly logger: ScmiLogger;
}

/** The view's part of {@link ProtocolHandle.withCallOptions}, checked. */
interface CallDefaults {
  readonly timeoutMs: number | undefined;
  /** Every signal of the view (a view of a view has more than one); never empty. */
  readonly signals: readonly AbortSignal[];
}

const CALL_OPTION_KEYS: ReadonlySet<string> = optionKeys<CallOptions>({
  timeoutMs: true,
  signal: true,
});

/**
 * `options` checked as {@link ProtocolHandle.withCallOptions} takes them, merged over `base` (a
 * view's own, when a view is made of a view): undefined when they add nothing.
 */
function callDefaults(
  options: CallOptions,
  base: CallDefaults | undefined,
  agent: string,
): CallDefaults | undefined {
  const given: unknown = options;
  if (
    typeof given !== 'object' ||
    given === null ||
    Array.isArray(given) ||
    isSignalGivenAsOptions(given)
  ) {
    throw new ScmiError(
      'E_ARGUMENT',
      `${agent}: withCallOptions: options must be an object, got ${describeArg(given)}${signalHint(given, 'the view')}`,
    );
  }
  const unknown = unknownKeyError(given, CALL_OPTION_KEYS, `${agent}: withCallOptions`);
  if (unknown !== undefined) throw unknown;
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined) checkTimeoutMs(timeoutMs, agent, 'withCallOptions: timeoutMs');
  const signalGiven: unknown = signal;
  if (signalGiven !== undefined && !isAbortSignal(signalGiven)) {
    throw new ScmiError(
      'E_ARGUMENT',
      `${agent}: withCallOptions: signal must be an AbortSignal, got ${describeArg(signalGiven)}`,
    );
  }
  const signals = base?.signals ?? [];
  const merged: CallDefaults = {
    timeoutMs: timeoutMs ?? base?.timeoutMs,
    signals: signal === undefined || signals.includes(signal) ? signals : [...signals, signal],
  };
  return merged.timeoutMs === undefined && merged.signals.length === 0 ? undefined : merged;
}

/** The signal that fired, of a command's own (looked at first) and its view's, if any. */
function firedSignal(
  own: AbortSignal | undefined,
  view: CallDefaults | undefined,
): AbortSignal | undefined {
  if (own?.aborted === true) return own;
  if (view === undefined) return undefined;
  for (const signal of view.signals) if (signal.aborted) return signal;
  return undefined;
}

/** @internal Transfer operations of one protocol on one channel. */
export class BoundXferOps implements XferOps {
  readonly #engine: TransferEngine;
  readonly #channel: ChannelRuntime;
  readonly #protocolId: number;
  readonly #maxMsgSize: number;
  readonly #checkLive: () => void;
  readonly #warn: ((message: string, error: Error) => void) | undefined;
  readonly #onMalformed: (() => void) | undefined;
  readonly #p2a: boolean;
  /** A view's options ({@link BoundXferOps.withCallOptions}); undefined on the handle's own. */
  #view: CallDefaults | undefined;
  /**
   * The reply `transact` gave last, and its command's message id and token: a malformed error
   * `decode` finds in that very reply names its command (see `placeMalformed`). Three field writes
   * per command — a map from every reply to its command would cost more than the command's copy.
   */
  #lastReturns: Uint8Array | undefined;
  #lastMessageId = 0;
  #lastToken = 0;

  public constructor(
    engine: TransferEngine,
    channel: ChannelRuntime,
    protocolId: number,
    maxMsgSize: number,
    checkLive: () => void,
    warn?: (message: string, error: Error) => void,
    onMalformed?: () => void,
    p2a = true,
  ) {
    this.#engine = engine;
    this.#channel = channel;
    this.#protocolId = protocolId;
    this.#maxMsgSize = maxMsgSize;
    this.#checkLive = checkLive;
    this.#warn = warn;
    this.#onMalformed = onMalformed;
    this.#p2a = p2a;
  }

  /**
   * These operations with `options` applied to every command (see
   * {@link ProtocolHandle.withCallOptions}, which checks and documents them).
   */
  public withCallOptions(options: CallOptions): BoundXferOps {
    const view = new BoundXferOps(
      this.#engine,
      this.#channel,
      this.#protocolId,
      this.#maxMsgSize,
      this.#checkLive,
      this.#warn,
      this.#onMalformed,
      this.#p2a,
    );
    view.#view = callDefaults(options, this.#view, this.#engine.agent);
    return view;
  }

  /**
   * Refuses to wait for a delayed response on an agent without a P2A channel, where none can
   * come: the command would only wait out `asyncTimeoutMs`. (The command's own asynchronous flag is
   * in its payload: sent without `async`, it gets its immediate response as any command.)
   */
  #checkAsync(): void {
    if (this.#p2a) return;
    throw new ScmiTransportError(
      'E_NOT_SUPPORTED',
      `protocol ${scmiProtocolName(this.#protocolId)}: no P2A channel, so no delayed response can come; send it without async to get its response`,
    );
  }

  public get(messageId: number, txSize: number, rxSize = 0): Promise<Xfer> {
    try {
      this.#checkLive();
      // A view whose signal fired: refused whether or not a transfer is free.
      const fired = firedSignal(undefined, this.#view);
      if (fired !== undefined) throw fired.reason;
    } catch (error: unknown) {
      // A rejection, as every failure of an operation that returns a promise.
      return rejected(error);
    }
    const taking = this.#engine.get(
      this.#channel,
      this.#protocolId,
      messageId,
      txSize,
      rxSize,
      this.#giveUpWatch(undefined),
    );
    const timeoutMs = this.#view?.timeoutMs;
    if (timeoutMs === undefined) return taking;
    return taking.then((xfer) => {
      xfer.timeoutMs = timeoutMs;
      return xfer;
    });
  }

  public do(xfer: Xfer): Promise<void> {
    if (this.#view === undefined) return this.#engine.do(this.#channel, xfer);
    return this.#doInView(xfer, () => this.#engine.do(this.#channel, xfer));
  }

  public doWithResponse(xfer: Xfer): Promise<void> {
    try {
      this.#checkAsync();
    } catch (error: unknown) {
      return rejected(error);
    }
    if (this.#view === undefined) return this.#engine.doWithResponse(this.#channel, xfer);
    return this.#doInView(xfer, () => this.#engine.doWithResponse(this.#channel, xfer));
  }

  /**
   * `send` (the engine's do or doWithResponse of `xfer`) given up when a signal of the view
   * fires; refused with the reason of one that fired already, nothing sent.
   */
  async #doInView(xfer: Xfer, send: () => Promise<void>): Promise<void> {
    const fired = firedSignal(undefined, this.#view);
    if (fired !== undefined) throw fired.reason;
    // Watched only once this call sent it (the engine numbers each send, synchronously): a
    // transfer it refuses (in flight for another caller) is not this view's to give up.
    const seq = xfer.seq;
    const sending = send();
    const stop = xfer.seq === seq ? undefined : this.#abandonOnAbort(undefined, xfer);
    try {
      await sending;
    } finally {
      stop?.();
    }
  }

  public put(xfer: Xfer): void {
    this.#engine.put(xfer, true); // replace the object
  }

  public transact(
    messageId: number,
    payload?: PayloadSource,
    options: TransactOptions = NO_OPTIONS,
  ): Promise<Uint8Array> {
    // Not an async function: the common case (a transfer at once, a synchronous command) costs
    // one `then` on the phase promise instead of an async function's frame, promise and resume.
    let xfer: Xfer | undefined;
    let waiting: Promise<void> | undefined;
    let signal: AbortSignal | undefined;
    const view = this.#view;
    try {
      // Checked before a transfer is taken (JavaScript callers get past the type).
      const given: unknown = payload;
      if (given !== undefined && !(given instanceof Uint8Array) && typeof given !== 'function') {
        throw new ScmiMalformedError(
          `transact: the payload must be a Uint8Array or a writer function, not ${given === null ? 'null' : Array.isArray(given) ? 'an array' : typeof given}`,
          'E_PAYLOAD',
        );
      }
      // `null` would otherwise fail as a plain TypeError on the first option read. A misspelt
      // option (`timeoutMS`) is refused, not left at its default: looked for only when options
      // were given (a for-in over a literal's few keys, no allocation).
      const opts: unknown = options;
      if (opts !== NO_OPTIONS) {
        if (typeof opts !== 'object' || opts === null || isSignalGivenAsOptions(opts)) {
          throw optionsError(opts);
        }
        const unknown = unknownTransactOption(opts);
        if (unknown !== undefined) throw unknown;
      }
      // Before a transfer is taken (begin checks it again, for drivers that set it themselves).
      if (options.timeoutMs !== undefined) checkTimeoutMs(options.timeoutMs, this.#engine.agent);
      signal = options.signal;
      if (signal !== undefined) checkSignal(signal);
      // After the arguments (a bad one is refused first), before the signals: after the removal
      // a command rejects with RevokedError whatever its signal did.
      this.#checkLive();
      if (signal !== undefined || view !== undefined) {
        // A signal that fired already, the command's own or its view's: nothing sent.
        const fired = firedSignal(signal, view);
        if (fired !== undefined) throw fired.reason;
      }
      const timeoutMs = options.timeoutMs ?? view?.timeoutMs;
      const txSize =
        payload === undefined
          ? 0
          : payload instanceof Uint8Array
            ? payload.byteLength
            : (options.txSize ?? this.#maxMsgSize);
      const rxSize = options.rxSize ?? 0;
      if (options.async === true) this.#checkAsync();
      xfer = this.#engine.tryGet(this.#channel, this.#protocolId, messageId, txSize, rxSize);
      if (xfer === undefined || options.async === true) {
        return this.#transactAsync(xfer, messageId, payload, options, timeoutMs, txSize, rxSize);
      }
      try {
        xfer.timeoutMs = timeoutMs;
        this.#write(xfer, payload, txSize);
        // Given up by the payload writer itself: nothing sent.
        const fired = firedSignal(signal, view);
        if (fired !== undefined) throw fired.reason;
        // do() without its own async step (see TransferEngine.begin).
        waiting = this.#engine.begin(this.#channel, xfer);
      } catch (error: unknown) {
        this.#engine.put(xfer);
        throw error;
      }
      if (waiting === undefined) return Promise.resolve(this.#finish(xfer));
    } catch (error: unknown) {
      return rejected(error);
    }
    const sent = xfer;
    if (signal === undefined && view === undefined) return waiting.then(() => this.#finish(sent));
    const stop = this.#abandonOnAbort(signal, sent);
    if (stop === undefined) return waiting.then(() => this.#finish(sent));
    return waiting.then(() => {
      stop();
      return this.#finish(sent);
    });
  }

  /**
   * Fails `xfer` when `signal` or a signal of the view fires (see {@link CallOptions.signal});
   * returns the unwatch, or undefined when there is no signal to watch.
   */
  #abandonOnAbort(signal: AbortSignal | undefined, xfer: Xfer): (() => void) | undefined {
    const engine = this.#engine;
    return this.#watchSignals(signal, (reason) => {
      engine.abandon(xfer, reason);
    });
  }

  /**
   * Calls `onAbort` with the reason of `signal` or of a signal of the view, whichever fires
   * first; returns the unwatch, or undefined when there is no signal to watch. One listener per
   * signal whatever the commands watching it ({@link watchAbort}); no `AbortSignal.any`, whose
   * combined signals a long-lived one keeps (nodejs/node#55351).
   */
  #watchSignals(
    signal: AbortSignal | undefined,
    onAbort: (reason: unknown) => void,
  ): (() => void) | undefined {
    const watch = (s: AbortSignal): (() => void) =>
      watchAbort(s, () => {
        onAbort(s.reason);
      });
    const viewSignals = this.#view?.signals;
    if (viewSignals === undefined) return signal === undefined ? undefined : watch(signal);
    const stops = viewSignals.map(watch);
    if (signal !== undefined && !viewSignals.includes(signal)) stops.push(watch(signal));
    return () => {
      for (const stop of stops) stop();
    };
  }

  /**
   * What lets a wait for a free transfer be given up on `signal` or the view's signals (see
   * {@link XferPool.get}); undefined when there is none.
   */
  #giveUpWatch(signal: AbortSignal | undefined): GiveUpWatch | undefined {
    if (signal === undefined && (this.#view?.signals.length ?? 0) === 0) return undefined;
    return (giveUp) => this.#watchSignals(signal, giveUp) ?? noWatch;
  }

  /** {@link BoundXferOps.transact} when it waits for a transfer, or for an asynchronous command. */
  async #transactAsync(
    taken: Xfer | undefined,
    messageId: number,
    payload: PayloadSource | undefined,
    options: TransactOptions,
    timeoutMs: number | undefined,
    txSize: number,
    rxSize: number,
  ): Promise<Uint8Array> {
    const signal = options.signal;
    const xfer =
      taken ??
      (await this.#engine.get(
        this.#channel,
        this.#protocolId,
        messageId,
        txSize,
        rxSize,
        this.#giveUpWatch(signal),
      ));
    let stop: (() => void) | undefined;
    try {
      xfer.timeoutMs = timeoutMs;
      this.#write(xfer, payload, txSize);
      // Given up while it waited for a transfer: nothing sent.
      const fired = firedSignal(signal, this.#view);
      if (fired !== undefined) throw fired.reason;
      // Watched from here, with no await before the send: an abort before it finds nothing sent.
      stop = this.#abandonOnAbort(signal, xfer);
      if (options.async === true) {
        await this.#engine.doWithResponse(this.#channel, xfer);
      } else {
        const waiting = this.#engine.begin(this.#channel, xfer);
        if (waiting !== undefined) await waiting;
        this.#engine.end(this.#channel, xfer);
      }
      return this.#returns(xfer);
    } finally {
      stop?.();
      // The object never left this call: reused as is (the caller got a copy of the response).
      this.#engine.put(xfer);
    }
  }

  /** Writes the command payload into a transfer taken by `transact`. */
  #write(xfer: Xfer, payload: PayloadSource | undefined, txSize: number): void {
    if (payload instanceof Uint8Array) {
      xfer.tx.set(payload);
    } else if (payload !== undefined) {
      const w = new PayloadWriter(xfer.tx.subarray(0, txSize));
      try {
        payload(w);
      } catch (e) {
        // Written past txSize: name the command, as a timeout or a status error does.
        if (
          e instanceof ScmiMalformedError &&
          e.code === 'E_OVERFLOW' &&
          e.protocolId === undefined
        ) {
          placeMalformed(e, this.#protocolId, this.#command(xfer.messageId, undefined));
          e.message += ` (its payload writer, given txSize ${txSize})`;
        }
        throw e;
      }
      xfer.txLen = w.length;
    }
  }

  /**
   * The end of a synchronous `transact` once its response phase is over: `end` (markTxDone, the
   * failure if any), the copy of the response, and the transfer back into the pool whatever
   * happened.
   */
  #finish(xfer: Xfer): Uint8Array {
    try {
      this.#engine.end(this.#channel, xfer);
      return this.#returns(xfer);
    } finally {
      // The object never left this call: reused as is (the caller got a copy of the response).
      this.#engine.put(xfer);
    }
  }

  /** What a malformed error says of the command `messageId` of this protocol (see decode). */
  #command(messageId: number, token: number | undefined): MalformedCommand {
    return {
      messageId,
      token,
      messageName: this.#engine.messageName(this.#protocolId, messageId),
      protocolName: this.#engine.protocolName(this.#protocolId),
    };
  }

  /** A copy of `xfer`'s response for its caller, noted as the reply given last. */
  #returns(xfer: Xfer): Uint8Array {
    const returns = copyOut(xfer.rx, xfer.rxLen);
    this.#lastReturns = returns;
    this.#lastMessageId = xfer.messageId;
    this.#lastToken = xfer.token;
    return returns;
  }

  public decode<T>(returns: Uint8Array, read: (reader: PayloadReader) => T): T {
    // Whose reply it is, read now: another command may be answered before a promise settles.
    const command =
      returns === this.#lastReturns
        ? this.#command(this.#lastMessageId, this.#lastToken)
        : undefined;
    let value: T;
    try {
      value = read(new PayloadReader(returns));
    } catch (error) {
      this.#countMalformed(error, command);
      throw error;
    }
    if (!isPromiseLike(value)) return value;
    return Promise.resolve(value).catch((error: unknown) => {
      this.#countMalformed(error, command);
      throw error;
    }) as T;
  }

  public malformed(error: ScmiMalformedError): ScmiMalformedError {
    this.#countMalformed(error, undefined);
    return error;
  }

  /**
   * Counts `error` once if it is a malformed reply (not a caller's own bad value), and says whose
   * reply it is (`placeMalformed`).
   */
  #countMalformed(error: unknown, command: MalformedCommand | undefined): void {
    if (!ScmiMalformedError.is(error) || CALLER_VALUE_CODES.has(error.code)) return;
    placeMalformed(error, this.#protocolId, command);
    if (countedMalformed.has(error)) return;
    countedMalformed.add(error);
    this.#onMalformed?.();
  }

  public async iterate<T>(messageId: number, spec: MultiPartSpec<T>): Promise<T[]> {
    // The bound: `spec.max`, then what the first part announced. A later part may not announce
    // more (index + returned + remaining), and the walk goes on only after a part with items, so it
    // ends within the announced count: a platform that ignores the index and answers
    // "1 returned, 1 remaining" forever is caught at its second part, not after `max` round trips
    // (Linux bounds its iterators by the count it knows, `max_resources`).
    let max = spec.max ?? 4096;
    // The caller's bound, checked before anything is sent (a bad one is not the platform's fault).
    if (!isCount(max)) {
      throw new ScmiError(
        'E_ARGUMENT',
        `iterate message 0x${messageId.toString(16)}: spec.max must be a whole number, 0 or more, not ${String(max)}`,
      );
    }
    const items: T[] = [];
    for (;;) {
      const index = items.length;
      const returns = await this.transact(messageId, (w) => spec.prepare(w, index), {
        txSize: spec.txSize,
      });
      // Its token, unless another command was answered before this one's caller resumed. Its
      // errors are placed here: decode would know the command only in the first case.
      const command = this.#command(
        messageId,
        returns === this.#lastReturns ? this.#lastToken : undefined,
      );
      const done = this.decode(returns, (r) => {
        try {
          return this.#part(messageId, spec, r, items, max, command);
        } catch (error) {
          if (ScmiMalformedError.is(error) && !CALLER_VALUE_CODES.has(error.code)) {
            placeMalformed(error, this.#protocolId, command);
          }
          throw error;
        }
      });
      if (done === true) return items;
      max = done;
    }
  }

  /**
   * Reads one part of `iterate`'s multi-part reply into `items`: true when the walk ends there,
   * else the bound on the items (what the part announced, checked against `max`).
   */
  #part<T>(
    messageId: number,
    spec: MultiPartSpec<T>,
    r: PayloadReader,
    items: T[],
    max: number,
    command: MalformedCommand,
  ): true | number {
    const index = items.length;
    const { returned, remaining } = spec.counts(r);
    // A spec that decodes signed fields (or reads past the reply) could give -1 or NaN, and the
    // walk would then never move on: counts are checked before they are trusted.
    if (!isCount(returned) || !isCount(remaining)) {
      throw new ScmiMalformedError(
        `multi-part reply: the spec's counts gave returned ${String(returned)}, remaining ${String(remaining)} at index ${index} (whole numbers expected)`,
        'E_MULTIPART',
      );
    }
    // No item returned ends the walk, whatever is announced as remaining: Linux's
    // `scmi_iterator_run` loops `while (st->num_returned && st->num_remaining)` ("to avoid
    // infinite loop due to buggy firmware"), and its one check before that,
    // `st->num_returned > st->max_resources - st->desc_index`, cannot fire for 0, so it returns
    // 0 with the items read so far. Nor is the announced count checked for such a part.
    if (returned === 0) {
      if (remaining > 0) {
        // The walk ends as Linux ends it, but the part contradicts itself (nothing given, more
        // promised): counted as a malformed reply, as Base counts its LIST_PROTOCOLS that returns
        // none before the total, though not thrown. Counted before `warn` runs, so a warn that
        // throws cannot skip the count (nor, being the same error, count it twice).
        const error = new ScmiMalformedError(
          `multi-part reply returned 0 items with ${remaining} remaining at index ${index}: ending with ${index} items, as Linux does`,
          'E_MULTIPART',
        );
        this.#countMalformed(error, command);
        (spec.warn ?? this.#warn)?.(error.message, error);
      }
      return true;
    }
    const announced = index + returned + remaining;
    if (announced > max) {
      throw new ScmiMalformedError(
        index === 0
          ? `multi-part reply announces more than ${max} items`
          : `multi-part reply announces ${announced} items at index ${index}, after ${max}`,
        'E_MULTIPART',
      );
    }
    for (let i = 0; i < returned; i++) items.push(spec.item(r, index + i));
    return remaining === 0 ? true : announced;
  }

  public async extendedName(messageId: number, id: number, flags?: number): Promise<string> {
    // Checked before a transfer is taken: the writer would send -1 as 0xFFFFFFFF and 2^32 + 5 as
    // 5, the name of another resource than the one asked for (Base's commands check theirs so).
    u32Arg(id, 'extended name: resource id');
    if (flags !== undefined) u32Arg(flags, 'extended name: flags');
    const returns = await this.transact(
      messageId,
      (w) => {
        w.u32(id);
        if (flags !== undefined) w.u32(flags);
      },
      { txSize: flags === undefined ? 4 : 8, rxSize: 68 },
    );
    return this.decode(returns, (r) => {
      r.u32(); // flags
      return r.string(64);
    });
  }

  public async versionGet(): Promise<number> {
    const returns = await this.transact(CommonMessageId.PROTOCOL_VERSION, undefined, { rxSize: 4 });
    return this.decode(returns, (r) => r.u32());
  }

  public async messageSupported(messageId: number): Promise<boolean> {
    try {
      await this.transact(CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES, (w) => w.u32(messageId), {
        txSize: 4,
        rxSize: 4,
      });
      return true;
    } catch (e) {
      if (
        ScmiStatusError.is(e) &&
        (e.status === ScmiStatus.NOT_FOUND || e.status === ScmiStatus.NOT_SUPPORTED)
      )
        return false;
      throw e;
    }
  }
}

/** Malformed errors counted already (see `BoundXferOps.decode`): each is counted once. */
const countedMalformed = new WeakSet<object>();

/** ScmiMalformedError codes that describe a caller's own value, never the platform's bytes. */
const CALLER_VALUE_CODES: ReadonlySet<string> = new Set(['E_FIELD_RANGE', 'E_PAYLOAD']);

/** Throws unless `signal` is an `AbortSignal` (whether it fired is looked at after). */
function checkSignal(signal: unknown): void {
  if (!isAbortSignal(signal)) {
    throw new ScmiError(
      'E_ARGUMENT',
      `transact: options.signal must be an AbortSignal, got ${describeArg(signal)}`,
    );
  }
}

/** `transact`'s options when none are given: one frozen object, not one per command. */
const NO_OPTIONS: TransactOptions = Object.freeze({});

const TRANSACT_OPTION_KEYS: ReadonlySet<string> = optionKeys<TransactOptions>({
  timeoutMs: true,
  signal: true,
  txSize: true,
  rxSize: true,
  async: true,
});

/** The error for the first option of `options` that `transact` does not take, if any. */
function unknownTransactOption(options: object): ScmiError | undefined {
  for (const key in options) {
    if (!TRANSACT_OPTION_KEYS.has(key) && Object.hasOwn(options, key)) {
      return unknownKeyError(options, TRANSACT_OPTION_KEYS, 'transact');
    }
  }
  return undefined;
}

/** The error for `transact` options that are not an object (a JavaScript caller's `null`). */
function optionsError(options: unknown): ScmiError {
  return new ScmiError(
    'E_ARGUMENT',
    `transact: options must be an object or left out, got ${describeArg(options)}${signalHint(options, 'the command')}`,
  );
}

/** Whether `n` is a count: a whole number, 0 or more. */
function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * A promise rejected with `error`, whatever it is (a caller's payload writer may throw anything):
 * `transact` is not an async function, and rejects as one would.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- rejects, as an async function does
async function rejected(error: unknown): Promise<never> {
  throw error;
}

/**
 * A protocol driver (Linux `struct scmi_protocol`): bound to the `PROTOCOL_DRIVER` DI token
 * (multi-injection), instantiated at probe for each protocol the platform lists, inside its own
 * devres group (released as a unit, before the channels).
 *
 * @example
 * ```ts
 * // ClockProtocol: your API class over the handle (core ships only Base's driver)
 * const clockDriver: ProtocolDriver<ClockProtocol> = {
 *   protocolId: 0x14, name: 'clock', version: 0x30000,
 *   init: async (ph) => new ClockProtocol(ph),
 * };
 * // A vendor protocol: this driver is chosen only for an NXP platform (BASE_DISCOVER_VENDOR)
 * const bbmDriver: ProtocolDriver<BbmProtocol> = {
 *   protocolId: 0x81, name: 'imx-bbm', version: 0x10000, vendor: 'NXP', subVendor: 'IMX',
 *   init: (ph) => new BbmProtocol(ph),
 * };
 * ```
 */
export interface ProtocolDriver<TApi = unknown> {
  /** The protocol id it serves. */
  readonly protocolId: number;
  /**
   * A name for logs; a vendor protocol's errors show it beside the protocol id
   * (`0x82 (acme-bbm) message 0x3 RTC_TIME_GET failed: NOT_FOUND (-4)`).
   */
  readonly name: string;
  /**
   * The highest protocol version it implements: negotiated when the platform is newer, and used
   * best-effort when the platform refuses that (see {@link ProtocolHandle.version}).
   */
  readonly version: number;
  /**
   * The names of its commands by message id, for the messages of its errors (a timeout or an
   * error status then says `clock message 0x6 RATE_GET`, and the error's `messageName` holds it).
   * A TypeScript numeric enum of the message ids serves as it is (its reverse map).
   * Only entries with an integer key from 0 to 255 and a non-empty string value are kept; anything
   * else than an object fails the protocol's initialization with ScmiError `E_ARGUMENT`.
   */
  readonly messageNames?: Readonly<Record<number, string>>;
  /**
   * For a vendor protocol (id 0x80–0xff): the platform vendor it is written for, matched against
   * Base discovery's `vendor` (BASE_DISCOVER_VENDOR), as Linux matches a vendor protocol module's
   * `vendor_id`. Several drivers for one vendor protocol id may be bound; the probe instantiates
   * the one that matches the platform most closely, as Linux's `scmi_vendor_protocol_lookup`: a
   * driver with an implementation version when vendor, sub-vendor and version are all equal, then
   * one with a sub-vendor and no version when vendor and sub-vendor are, then one with the vendor
   * alone; identifiers compared case-insensitively. A driver without `vendor` (Linux refuses to
   * register one) is instantiated only when no bound driver matches. 1 to 15 printable ASCII
   * characters; refused on a standard protocol (ScmiConfigError naming `container`, as two drivers
   * of the same identification are).
   */
  readonly vendor?: string;
  /**
   * With {@link ProtocolDriver.vendor}: the sub-vendor (BASE_DISCOVER_SUB_VENDOR) it is written
   * for. Not given is Linux's empty `sub_vendor_id`: with an implementation version, such a driver
   * matches only a platform that does not answer BASE_DISCOVER_SUB_VENDOR (taken as `''`).
   */
  readonly subVendor?: string;
  /**
   * With {@link ProtocolDriver.vendor}: the one implementation version
   * (BASE_DISCOVER_IMPLEMENTATION_VERSION, a uint32; 0 for a platform that does not answer it) it
   * is written for. 0, as not given, means any version, as Linux's `impl_ver` 0.
   */
  readonly implementationVersion?: number;
  /**
   * Initializes the protocol; registers what it acquires in `group` and its notifications with
   * `ph.registerEvents`. Resolves to the protocol's API object.
   */
  init(ph: ProtocolHandle, group: DevresGroup): TApi | Promise<TApi>;
}
