import { describeArg, formatValue } from '../errors/format-value.js';
import { optionKeys, optionsArgError } from '../agent/agent-config.js';
import { isAbortSignal, noWatch, watchAbort } from '../protocol/abort-watch.js';
import type { BadMessageReason, TransportChannel } from '../channel/transport.js';
import { MAX_TIMER_MS, type Clock, type TimerHandle } from '../clock/clock.js';
import { ScmiError, ScmiStatusError, ScmiTransportError } from '../errors/scmi-error.js';
import type { ChannelCounters } from '../diagnostics/channel-counters.js';
import { callContained } from '../diagnostics/contained-call.js';
import { copyOut } from '../transfer/clamped-copy.js';
import { NotificationBuffer } from '../transfer/notification-buffer.js';
import { headerMessageId, headerProtocolId } from '../wire/header.js';
import { scmiProtocolName } from '../wire/protocol-id.js';

/**
 * A notification a protocol can emit (Linux `struct scmi_event`), registered by its driver.
 *
 * @example
 * ```ts
 * const BASE_ERROR_EVENT: ScmiEventDescriptor = {
 *   id: 0x0, name: 'base-error',
 *   setNotifyEnabled: (_src, enable) => base.notifyErrors(enable),
 * };
 * ```
 */
export interface ScmiEventDescriptor {
  /** The notification's message id. */
  readonly id: number;
  /** A name for logs and subscriptions. */
  readonly name: string;
  /**
   * Fewest payload bytes a well-formed notification of this event has (default 0): a shorter one
   * is not queued or delivered, and is counted as an `invalid` bad message on its channel (as
   * Linux's protocols drop a report of the wrong size in `fill_custom_report`). With it, a handler
   * and `sourceOf` may read that many bytes without a check.
   */
  readonly minPayload?: number;
  /**
   * Most payload bytes a well-formed notification of this event has (default: no limit but the
   * channel's max message size): a longer one is not queued or delivered, and is counted as an
   * `invalid` bad message (Linux's `scmi_notify` discards a payload above the event's
   * `max_payld_sz`). One the transport reports longer than the queue's buffers (the max message
   * size: `NotificationBuffer.truncated`) is counted `oversize` and dropped as well, never
   * delivered cut; a transport may instead clamp a length it finds hostile itself and count it
   * (SMT copies what its area holds, as Linux's `shmem_fetch_notification`), delivering what fits.
   */
  readonly maxPayload?: number;
  /**
   * How many sources the event has, numbered from 0 (Linux's `num_sources`): a subscribe naming
   * another source is refused (`E_ARGUMENT`), sending nothing, as Linux's `__scmi_enable_evt`
   * refuses a `src_id` past it. Default: no limit (the protocol's domain count is the platform's
   * to say).
   */
  readonly numSources?: number;
  /**
   * The source (domain) a notification is about, read from its payload; default: the 32-bit word
   * after `agent_id` (offset 4), or `undefined` when the payload is shorter. The payload is the
   * platform's, of any length: if this throws, the notification is not delivered and is counted
   * (`sourceErrors`). It must only read the payload: the array is the one a handler then gets.
   */
  sourceOf?(payload: Uint8Array): number | undefined;
  /**
   * Asks the platform to start or stop sending this notification for `source` (`undefined`: every
   * source the protocol allows). Called when a source gets its first subscriber and when it has
   * none left, counting every-source subscribers for every source (a source an every-source
   * subscriber covers is not enabled or disabled on its own); when the last every-source
   * subscriber leaves, after the every-source disable, for each source that still has its own.
   * A failed enable that certainly enabled nothing rejects with an {@link ScmiStatusError} (the
   * platform's answer) or an `ScmiError` `E_NOT_SUPPORTED` / `E_ARGUMENT` (refused before anything
   * was sent); any other rejection leaves the source possibly enabled, and the agent's removal
   * disables it.
   *
   * For every source (`undefined`), a descriptor that sends one command per source (as every
   * SCMI `*_NOTIFY` names one domain) may resolve to an {@link ScmiNotifyOutcome} naming the
   * sources its commands failed for while others succeeded, as Linux's `__scmi_enable_evt` counts
   * each source on its own: the hub then does not take such a source as enabled for the
   * every-source subscribers — a subscriber of that source alone sends its enable again — and
   * keeps possibly enabled, for the agent's removal to disable, a source whose enable may have
   * been applied (see {@link refusedForSure}) or whose disable failed (unless its enable was
   * certainly refused: it was never enabled). A descriptor that resolves to nothing succeeded
   * for every source.
   */
  setNotifyEnabled?(
    source: number | undefined,
    enable: boolean,
    // `void`: a descriptor with one command per call (`Promise<void>`) stays one, unchanged.
    // eslint-disable-next-line @typescript-eslint/no-invalid-void-type
  ): Promise<void | ScmiNotifyOutcome>;
}

/**
 * What an every-source `setNotifyEnabled` that succeeded for some sources reports of the others
 * (see {@link ScmiEventDescriptor.setNotifyEnabled}): each source its command failed for, with
 * the error, read as the hub reads a rejection ({@link refusedForSure}). A source that is not an
 * integer from 0 below the event's `numSources` is ignored.
 *
 * @example
 * ```ts
 * const setNotifyEnabled = async (source: number | undefined, enable: boolean) => {
 *   if (source !== undefined) return send(source, enable);
 *   const failed = new Map<number, unknown>();
 *   for (const id of domainIds) await send(id, enable).catch((e: unknown) => failed.set(id, e));
 *   if (failed.size < domainIds.length) return { failed };
 *   // None took: an error that may have been applied first (a timeout), for the hub to keep.
 *   const errors = [...failed.values()];
 *   throw errors.find((e) => !refusedForSure(e)) ?? errors[0];
 * };
 * ```
 */
export interface ScmiNotifyOutcome {
  /** The sources whose command failed, each with its error. */
  readonly failed: ReadonlyMap<number, unknown>;
}

/** A delivered notification. */
export interface ScmiNotification {
  /** The protocol id. */
  readonly protocolId: number;
  /** The notification's message id. */
  readonly eventId: number;
  /** The event name from its descriptor. */
  readonly name: string;
  /** The source (domain) it is about, if the descriptor could tell. */
  readonly source: number | undefined;
  /** When it was received (clock ms). */
  readonly timestamp: number;
  /** The payload: a copy of the handler's own, which it may keep and change. */
  readonly payload: Uint8Array;
}

/** A notification handler; may be async (its rejection is caught and counted). */
export type ScmiNotificationHandler = (notification: ScmiNotification) => void | Promise<void>;

/** What to subscribe to. */
export interface ScmiEventFilter {
  /** The protocol id. */
  readonly protocolId: number;
  /** The event's message id. */
  readonly eventId: number;
  /** Only notifications about this source; all sources when omitted. */
  readonly source?: number;
}

/**
 * Options of a subscribe ({@link NotificationHub.subscribe}).
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * await agent.events.subscribe({ protocolId: 0x15, eventId: 0 }, onTrip, { signal: stop.signal });
 * stop.abort(); // unsubscribes, as calling the function the subscribe resolved to would
 * ```
 */
export interface ScmiSubscribeOptions {
  /**
   * Unsubscribes when it fires, as calling the unsubscribe function would (the handler is not
   * called again, and the last subscriber's leave disables the event at the platform). Fired
   * before the subscribe: it rejects with `signal.reason` and sends nothing. Fired while the
   * subscribe waits its turn: the same. Fired while its enable is under way: the enable is
   * answered, the subscription left at once (a disable, when it was the last), and the subscribe
   * rejects with `signal.reason`. A leave a signal starts that fails (its disable, or the enable
   * again of sources with their own subscribers) is counted in
   * {@link NotificationStats.signalLeaveFailures}, as the unsubscribe function would have
   * rejected. The hub stops watching the signal when the subscription ends (its
   * unsubscribe, its signal, or the agent's removal), so a long-lived signal keeps nothing alive.
   */
  readonly signal?: AbortSignal;
}

const SUBSCRIBE_OPTION_KEYS: ReadonlySet<string> = optionKeys<ScmiSubscribeOptions>({
  signal: true,
});

/**
 * Options of {@link NotificationHub.waitFor} (`agent.events.waitFor`).
 *
 * @example
 * ```ts
 * const options: ScmiWaitOptions = { timeoutMs: 500, signal: AbortSignal.timeout(5_000) };
 * ```
 */
export interface ScmiWaitOptions {
  /**
   * Gives up after this many ms of the agent's clock (virtual time under a `VirtualClock`),
   * counted from the call: an integer from 1 to 2^31 − 1. Absent: no bound but the signal's and
   * the agent's removal.
   */
  readonly timeoutMs?: number;
  /** Gives up when it fires, with its reason. */
  readonly signal?: AbortSignal;
}

const WAIT_OPTION_KEYS: ReadonlySet<string> = optionKeys<ScmiWaitOptions>({
  timeoutMs: true,
  signal: true,
});

/**
 * A wait for one notification, made by {@link NotificationHub.waitFor} once the platform has
 * enabled the event.
 *
 * @example
 * ```ts
 * const wait: ScmiEventWait = await agent.events.waitFor({ protocolId: 0x11, eventId: 0 });
 * const n = await wait.notification; // the next POWER_STATE_CHANGED
 * ```
 */
export interface ScmiEventWait {
  /**
   * The first matching notification delivered after the subscription was made; rejects as the
   * wait ends otherwise (its bound `E_EVENT_TIMEOUT`, its signal's reason, the removal
   * `E_SHUTDOWN`).
   */
  readonly notification: Promise<ScmiNotification>;
}

/** Counters of a {@link NotificationHub}. */
export interface NotificationStats {
  /** Notifications queued. */
  readonly queued: number;
  /**
   * Notifications that reached the dispatch step: taken from their queue, their source read
   * (those whose `sourceOf` threw count in `sourceErrors` instead), handed to the subscribers
   * that match — none, when nobody subscribed to that source.
   */
  readonly delivered: number;
  /** Dropped because the protocol's queue was full. */
  readonly dropped: number;
  /**
   * Discarded at teardown: still queued (undelivered since the agent's removal started) when the
   * hub quiesced or their protocol's driver was released, or arriving once the removal started
   * (while it disables the events; after the channels quiesced, a notification is refused by its
   * channel and counted in its `refusedAfterQuiesce` instead).
   */
  readonly discarded: number;
  /** Handlers that threw or rejected. */
  readonly handlerErrors: number;
  /**
   * Notifications not delivered because their event's `sourceOf` threw on the payload (one too
   * short for it, typically: the payload is whatever the platform sent).
   */
  readonly sourceErrors: number;
  /**
   * Notify-disable commands the agent's removal issued for events a subscriber still held enabled
   * (see {@link NotificationHub.disableEvents}), failed ones included.
   */
  readonly disabledAtRemoval: number;
  /**
   * Of those commands, the ones that failed (an error status, a timeout, a transport error); and
   * events the removal gave up on at its bound (see {@link NotificationHub.disableEvents}).
   */
  readonly disableFailures: number;
  /**
   * Events (one per source, or one for every source) a subscriber still held enabled, or that a
   * failed command may have left enabled, when the agent's removal was told not to disable them
   * (`remove({ disableNotifications: false })`): they stay enabled at the platform. 0 when the
   * removal disabled them. An enable or disable under way at the removal is not counted (whether
   * the platform acted on it cannot be known).
   */
  readonly leftEnabledAtRemoval: number;
  /**
   * Leaves started by a subscription's signal ({@link ScmiSubscribeOptions.signal}) that failed
   * (an error status, a timeout, a transport error) — nobody awaits them, so they are counted
   * here: a disable that failed (the event stays possibly enabled; the agent's removal disables
   * it), or, when the last every-source subscriber left, the enable again of a source that still
   * has subscribers of its own (that source is not sent until its next subscriber enables it).
   */
  readonly signalLeaveFailures: number;
}

interface Subscription {
  readonly eventId: number;
  readonly source: number | undefined;
  readonly handler: ScmiNotificationHandler;
  /** Set by its unsubscribe: a delivery already under way skips it too. */
  removed: boolean;
  /** Stops watching its signal (see {@link ScmiSubscribeOptions.signal}), when it has one. */
  unwatch?: () => void;
}

/** A bounded ring of preallocated buffers: the RX path copies into it and never allocates. */
class ProtocolQueue {
  readonly buffers: NotificationBuffer[];
  readonly headers: Uint32Array;
  readonly stamps: Float64Array;
  readonly events = new Map<number, ScmiEventDescriptor>();
  readonly subscriptions: Subscription[] = [];
  head = 0;
  count = 0;

  constructor(depth: number, capacity: number) {
    this.buffers = Array.from({ length: depth }, () => new NotificationBuffer(capacity));
    this.headers = new Uint32Array(depth);
    this.stamps = new Float64Array(depth);
  }
}

/**
 * Whether a failed enable certainly enabled nothing, as the notification hub reads a rejection of
 * `setNotifyEnabled`: the platform answered an error status, or the descriptor refused before
 * anything was sent (`ScmiError` `E_NOT_SUPPORTED` — a source that does not announce the event, a
 * transport without a P2A channel — or `E_ARGUMENT`). Anything else (a timeout, a lost channel)
 * may have reached the platform: the hub keeps that source possibly enabled. A driver that sends
 * several notify commands for one enable uses it to report the error the hub must see.
 *
 * @example
 * ```ts
 * refusedForSure(new ScmiError('E_NOT_SUPPORTED', 'source 3 announces nothing')); // true
 * refusedForSure(timeoutError); // false: the enable may have been applied
 * ```
 */
export function refusedForSure(error: unknown): boolean {
  return (
    ScmiStatusError.is(error) ||
    (ScmiError.is(error) && (error.code === 'E_NOT_SUPPORTED' || error.code === 'E_ARGUMENT'))
  );
}

/**
 * Per-protocol notification queues and their delivery: the RX path only copies a notification
 * into its protocol's bounded queue (counting drops when full) and schedules delivery as a task;
 * no user code runs on the RX path. Delivery runs handlers in arrival order per protocol (so in
 * order per source; a protocol's queue is drained before the next protocol's). Teardown stops
 * accepting, discards what is queued (counted) and stops delivery before any channel is released.
 *
 * @example
 * ```ts
 * const off = await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, (n) => console.log(n));
 * await off();
 * ```
 */
export class NotificationHub {
  readonly #queues = new Map<number, ProtocolQueue>();
  readonly #clock: Clock;
  readonly #depth: number;
  readonly #capacity: number;
  readonly #agent: string;
  #p2a = false;
  #closed = false;
  /** False once the agent's removal started: handlers are not called on a removed agent. */
  #delivering = true;
  /** The removal's disabling of the events enabled (see `disableEvents`), when there were some. */
  #disabling: Promise<void> | undefined;
  /** Whether `disableEvents` was called (its promise is kept only when it had events). */
  #disableCalled = false;
  #disabledAtRemoval = 0;
  #disableFailures = 0;
  #leftEnabledAtRemoval = 0;
  #signalLeaveFailures = 0;
  /** The subscriptions' signal watches, each stopped when its subscription ends (see release). */
  readonly #signalWatches = new Set<() => void>();
  readonly #disableBoundMs: number;
  /** The platform's answers so far (see the constructor), or `undefined`. */
  readonly #answered: (() => number) | undefined;
  #scheduled = false;
  #queued = 0;
  #delivered = 0;
  #dropped = 0;
  #discarded = 0;
  #handlerErrors = 0;
  #sourceErrors = 0;
  /** Subscribers per `protocol:event:source`, `*` for every source (no entry: none). */
  readonly #enabled = new Map<string, number>();
  /**
   * Keys (`protocol:event:source`) with subscribers that the platform does not send: the enable
   * that followed the every-source disable failed (see the unsubscribe). The next subscriber of
   * such a source sends its enable again.
   */
  readonly #needsEnable = new Set<string>();
  /**
   * Keys without subscribers the platform may still send: a disable that failed (the platform
   * refused it, or nobody knows whether it acted: a timeout), or an enable whose outcome is
   * unknown (it timed out or the transport failed). The removal disables them too, or counts them
   * in `leftEnabledAtRemoval`; a later enable or disable that succeeds settles them.
   */
  readonly #maybeEnabled = new Set<string>();
  /**
   * Keys (`protocol:event:source`) of sources the every-source enable of their event failed for
   * while it succeeded for others (see {@link ScmiNotifyOutcome}): the every-source subscribers do
   * not cover them, so a subscriber of such a source alone sends its enable. Each is `true` when
   * that enable was refused for sure ({@link refusedForSure}): the source was never enabled, and
   * an every-source disable that fails for it leaves nothing sending (Linux sends no disable to a
   * source whose count is 0). Forgotten when the source's own enable succeeds, or when the event's
   * last every-source subscriber leaves.
   */
  readonly #notCovered = new Map<string, boolean>();
  /** Per `protocol:event`: the last enable / disable queued (see `#inTurn`). */
  readonly #turns = new Map<string, Promise<void>>();
  /** The {@link NotificationHub.waitFor} waits under way: each gives up with the error it is given. */
  readonly #waiting = new Set<(error: unknown) => void>();

  /**
   * Creates a hub whose queues hold `depth` notifications of up to `capacity` bytes each; the
   * removal gives up on its notify-disables once `disableBoundMs` passed without one settling and
   * without the platform answering anything (see {@link NotificationHub.disableEvents}; default
   * 60 s). `answered` counts the commands the platform has answered so far (the agent passes its
   * channels' `completed`): any growth is a live platform, which the removal waits for — a
   * descriptor that sends one command per source, or an enable under way before the removal's
   * turn, settle only after many answers — up to as many bounds as the removal may have commands
   * to wait for. Without it, only the removal's own commands count.
   */
  public constructor(
    agent: string,
    clock: Clock,
    depth: number,
    capacity: number,
    disableBoundMs = 60_000,
    answered?: () => number,
  ) {
    this.#agent = agent;
    this.#clock = clock;
    this.#depth = depth;
    this.#capacity = capacity;
    this.#disableBoundMs = disableBoundMs;
    this.#answered = answered;
  }

  /** @internal Whether the agent has a P2A channel (set by the agent at probe). */
  public setP2a(available: boolean): void {
    this.#p2a = available;
  }

  /** Whether notifications can arrive at all (the transport has a P2A channel). */
  public get available(): boolean {
    return this.#p2a;
  }

  /**
   * Registers the notifications `protocolId` can emit (a driver does this at init).
   *
   * @throws ScmiError `E_ARGUMENT` when an event's `minPayload` or `maxPayload` is not a
   * non-negative integer, `minPayload` exceeds `maxPayload`, or `numSources` is not a positive
   * integer (nothing is registered).
   */
  public register(protocolId: number, events: readonly ScmiEventDescriptor[]): void {
    for (const e of events) {
      // Checked at run time too (JavaScript callers get past the type).
      const min = e.minPayload ?? 0;
      const max = e.maxPayload ?? Number.MAX_SAFE_INTEGER;
      const what = `${this.#agent}: ${scmiProtocolName(protocolId)} event ${e.id} (${e.name})`;
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || min > max) {
        throw new ScmiError(
          'E_ARGUMENT',
          `${what}: minPayload and maxPayload must be integers, 0 ≤ minPayload ≤ maxPayload`,
        );
      }
      const sources = e.numSources ?? 1;
      if (!Number.isSafeInteger(sources) || sources < 1) {
        throw new ScmiError('E_ARGUMENT', `${what}: numSources must be a positive integer`);
      }
    }
    let q = this.#queues.get(protocolId);
    if (q === undefined) {
      q = new ProtocolQueue(this.#depth, this.#capacity);
      this.#queues.set(protocolId, q);
    }
    for (const e of events) q.events.set(e.id, e);
  }

  /** Forgets a protocol's events and subscriptions (its driver was released). */
  public unregister(protocolId: number): void {
    this.#discarded += this.#queues.get(protocolId)?.count ?? 0;
    this.#queues.delete(protocolId);
  }

  /**
   * Subscribes `handler`; the first subscriber for an (event, source) enables the notification at
   * the platform. Resolves to an unsubscribe function (idempotent) that disables it again when the
   * last subscriber leaves — except once the agent's removal has started, when it only forgets the
   * handler (the removal disables every event still enabled, see
   * {@link NotificationHub.disableEvents}), so it never fails then.
   *
   * A source is enabled while it has a subscriber of its own or the event has an every-source
   * one (Linux `notify.c` counts users per source): a source subscribed on its own is neither
   * enabled again nor disabled while every-source subscribers come and go, except when the last
   * every-source subscriber leaves — the hub then disables every source and enables again at once
   * each one that still has its own subscribers (the descriptor cannot name the sources one by
   * one, so a notification between the two commands is not sent). Such a source whose enable
   * fails then is enabled again by its next subscriber, and not disabled when its own leave; so is
   * a source the every-source enable reported failed ({@link ScmiNotifyOutcome}). A
   * disable that fails (or an enable that times out) leaves the event possibly enabled: the
   * removal disables it too (see {@link NotificationHub.disableEvents}).
   *
   * @throws ScmiTransportError `E_NOT_SUPPORTED` when the transport has no P2A channel.
   * @throws ScmiTransportError `E_SHUTDOWN` once the agent's removal has started — also when it
   * started while the subscribe waited for another enable or disable of the event (nothing is
   * sent) or while its own enable was under way (the removal disables what it enabled).
   * @throws ScmiTransportError `E_UNKNOWN_EVENT` when no driver registered the event.
   * @throws ScmiError `E_ARGUMENT` when `handler` is not a function, `options` is not an object
   * (or holds a key {@link ScmiSubscribeOptions} does not have, or a `signal` that is not an
   * `AbortSignal`), or the source is not an integer from 0, below the event's `numSources` when it
   * has one (nothing is sent).
   * @throws `options.signal.reason` when the signal fired before the subscription was made (see
   * {@link ScmiSubscribeOptions.signal}).
   */
  public async subscribe(
    filter: ScmiEventFilter,
    handler: ScmiNotificationHandler,
    options?: ScmiSubscribeOptions,
  ): Promise<() => Promise<void>> {
    // Checked before the platform is asked: a subscription that can never deliver enables nothing.
    const given: unknown = handler;
    if (typeof given !== 'function') {
      throw new ScmiError(
        'E_ARGUMENT',
        `${this.#agent}: subscribe: the handler must be a function, not ${given === null ? 'null' : typeof given}`,
      );
    }
    const signal = this.#subscribeSignal(options);
    const name = `${scmiProtocolName(filter.protocolId)} event ${filter.eventId}`;
    if (!this.#p2a) {
      throw new ScmiTransportError(
        'E_NOT_SUPPORTED',
        `${this.#agent}: ${name}: the transport has no P2A channel`,
      );
    }
    const shuttingDown = (): ScmiTransportError =>
      new ScmiTransportError('E_SHUTDOWN', `${this.#agent}: ${name}: the agent is shutting down`);
    if (this.#removing()) throw shuttingDown();
    const q = this.#queues.get(filter.protocolId);
    const event = q?.events.get(filter.eventId);
    if (q === undefined || event === undefined) {
      throw new ScmiTransportError(
        'E_UNKNOWN_EVENT',
        `${this.#agent}: ${name} is not registered by any protocol driver`,
      );
    }
    const source: unknown = filter.source;
    if (
      source !== undefined &&
      (!Number.isSafeInteger(source) ||
        (source as number) < 0 ||
        (source as number) >= (event.numSources ?? Infinity))
    ) {
      // register refuses a numSources under 1.
      const sources =
        event.numSources === undefined ? 'an integer from 0' : `0 to ${event.numSources - 1}`;
      throw new ScmiError(
        'E_ARGUMENT',
        `${this.#agent}: ${name} (${event.name}): source ${formatValue(source)} is not one of its sources (${sources})`,
      );
    }
    if (signal?.aborted === true) throw signal.reason;
    const sub: Subscription = {
      eventId: filter.eventId,
      source: filter.source,
      handler,
      removed: false,
    };
    const eventKey = `${filter.protocolId}:${filter.eventId}`;
    const key = `${eventKey}:${filter.source ?? '*'}`;
    const allKey = `${eventKey}:*`;
    // Enabling and disabling one event take turns: two subscribes at once enable the event once
    // and count two users (each reading the count before the other's await would count one).
    await this.#inTurn(eventKey, async () => {
      // The removal started while this subscribe waited its turn: nothing is sent.
      if (this.#removing()) throw shuttingDown();
      // Its signal fired while it waited: nothing is sent either.
      if (signal?.aborted === true) throw signal.reason;
      const users = this.#enabled.get(key) ?? 0;
      const covered =
        filter.source !== undefined &&
        (this.#enabled.get(allKey) ?? 0) > 0 &&
        !this.#notCovered.has(key);
      if ((users === 0 || this.#needsEnable.has(key)) && !covered) {
        const failed = await this.#setEnabled(event, key, filter.source, true);
        this.#needsEnable.delete(key);
        this.#notCovered.delete(key);
        // Sources the every-source enable did not enable, unless their own subscribers hold them.
        for (const [source, error] of failed) {
          const sourceKey = `${eventKey}:${source}`;
          if ((this.#enabled.get(sourceKey) ?? 0) === 0 || this.#needsEnable.has(sourceKey))
            this.#notCovered.set(
              sourceKey,
              // Never enabled: refused for sure, and not possibly sent since an earlier failure.
              refusedForSure(error) &&
                !this.#maybeEnabled.has(sourceKey) &&
                !this.#maybeEnabled.has(allKey),
            );
        }
      }
      this.#enabled.set(key, users + 1);
    });
    // The removal started while the enable was under way: the user stays counted, for the
    // removal's disable (queued after this turn) to disable what it enabled; no handler is called
    // on a removed agent, so the caller is told it did not subscribe.
    if (this.#removing()) throw shuttingDown();
    q.subscriptions.push(sub);
    const unsubscribe = async (): Promise<void> => {
      if (sub.removed) return;
      sub.removed = true;
      if (sub.unwatch !== undefined) {
        sub.unwatch();
        this.#signalWatches.delete(sub.unwatch);
      }
      const i = q.subscriptions.indexOf(sub);
      if (i >= 0) q.subscriptions.splice(i, 1);
      await this.#inTurn(eventKey, async () => {
        // Once the removal started, the count stays: its disable, queued after this turn, disables
        // what the subscribers held enabled when it was called (`disableEvents`).
        if (this.#disableCalled) return;
        const left = (this.#enabled.get(key) ?? 1) - 1;
        if (left > 0) {
          this.#enabled.set(key, left);
          return;
        }
        this.#enabled.delete(key);
        // A source whose enable failed is not sent — unless that enable's outcome is unknown, or
        // a failed every-source disable may have left every source sending.
        const wasEnabled =
          !this.#needsEnable.delete(key) ||
          this.#maybeEnabled.has(key) ||
          this.#maybeEnabled.has(allKey);
        // The every-source subscribers are gone: no source is left out of what they covered. Those
        // never enabled need no disable: its failure for them leaves nothing sending.
        const neverEnabled =
          filter.source === undefined ? this.#takeNeverEnabled(eventKey) : undefined;
        // Not once the agent's removal started (`stopDelivery`): the protocol handles are being
        // revoked.
        if (this.#closed || !this.#delivering) return;
        if (filter.source !== undefined) {
          // Still wanted by an every-source subscriber: it stays enabled. Never enabled (its
          // enable failed): nothing to disable.
          if ((this.#enabled.get(allKey) ?? 0) === 0 && wasEnabled) {
            await this.#setEnabled(event, key, filter.source, false);
          }
          return;
        }
        try {
          await this.#setEnabled(event, key, undefined, false, neverEnabled);
        } catch (error) {
          // The every-source disable may have stopped every source (a timeout): each source with
          // its own subscribers is enabled again by its next subscriber.
          for (const source of this.#subscribedSources(eventKey)) {
            this.#needsEnable.add(`${eventKey}:${source}`);
          }
          throw error;
        }
        // Each source with its own subscribers again — every one, even if one fails (the errors
        // then reject together; such a source is enabled again by its next subscriber) — unless
        // the agent's removal started meanwhile.
        const errors: unknown[] = [];
        for (const source of this.#subscribedSources(eventKey)) {
          if (!this.#accepting()) break;
          const sourceKey = `${eventKey}:${source}`;
          try {
            await this.#setEnabled(event, sourceKey, source, true);
            this.#needsEnable.delete(sourceKey);
          } catch (error) {
            this.#needsEnable.add(sourceKey);
            errors.push(error);
          }
        }
        if (errors.length === 1) throw errors[0];
        if (errors.length > 1) {
          throw new AggregateError(
            errors,
            `${this.#agent}: ${name}: enabling sources again failed`,
          );
        }
      });
    };
    if (signal === undefined) return unsubscribe;
    // Nobody awaits the leave a signal starts: its failure is counted (see ScmiSubscribeOptions).
    const leave = (): Promise<void> =>
      unsubscribe().catch(() => {
        this.#signalLeaveFailures++;
      });
    if (hasFired(signal)) {
      // It fired while the enable was under way: the subscription is left at once.
      await leave();
      throw signal.reason;
    }
    sub.unwatch = watchAbort(signal, () => void leave());
    this.#signalWatches.add(sub.unwatch);
    return unsubscribe;
  }

  /**
   * Waits for the next notification that matches `filter`, with a bound: subscribes as
   * {@link NotificationHub.subscribe} does and resolves once the subscription is made — the
   * platform has enabled the event — to a {@link ScmiEventWait} whose `notification` resolves
   * with the first one delivered after that, then leaves (the last subscriber's leave disables the
   * event at the platform; a leave that fails is counted in
   * {@link NotificationStats.signalLeaveFailures}). Send the command that causes the notification
   * after `waitFor` resolved: sent before, it may reach the platform ahead of the enable, and its
   * notification is then not sent at all. `options.timeoutMs` (on the agent's clock, counted
   * from the call), `options.signal` and the agent's removal each end the wait, and the
   * subscription, with their error: the call rejects with it while the subscription is being made,
   * `notification` after. A `notification` nobody awaits does not become an unhandled rejection.
   *
   * @throws (rejects) what {@link NotificationHub.subscribe} throws; ScmiError `E_ARGUMENT` for
   * options that are not {@link ScmiWaitOptions} (nothing sent); ScmiError `E_EVENT_TIMEOUT` when
   * `timeoutMs` passed; `options.signal.reason` when the signal fired; ScmiTransportError
   * `E_SHUTDOWN` when the agent's removal started. `notification` rejects with the same errors.
   * The call rejects at once, without waiting for a subscribe under way (queued behind another
   * enable of the event, or its own enable unanswered): that subscribe then leaves when its turn
   * comes, or sends nothing, and its outcome is not reported (E_EVENT_TIMEOUT says "not enabled
   * at the platform within …").
   * @example
   * ```ts
   * const filter = { protocolId: 0x14, eventId: 0, source: 0 }; // CLOCK_RATE_CHANGED of clock 0
   * const changed = await agent.events.waitFor(filter, { timeoutMs: 100 }); // enabled now
   * await clock.setRate(0, 600_000_000n, { async: false });
   * decodeClockRateChanged((await changed.notification).payload).rate; // 600000000n
   * ```
   */
  public async waitFor(filter: ScmiEventFilter, options?: ScmiWaitOptions): Promise<ScmiEventWait> {
    const checked = this.#waitOptions(options);
    if (checked instanceof ScmiError) throw checked;
    const { timeoutMs, signal } = checked;
    const registered = this.#queues.get(filter.protocolId)?.events.get(filter.eventId)?.name;
    const name = `${scmiProtocolName(filter.protocolId)} event ${filter.eventId}${registered === undefined ? '' : ` (${registered})`}`;
    let resolve!: (n: ScmiNotification) => void;
    let reject!: (error: unknown) => void;
    const notification = new Promise<ScmiNotification>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Handled here too: a wait whose notification nobody awaits (the caller gave up on it) must
    // not end as an unhandled rejection; the caller who awaits it still gets the error.
    notification.catch(() => undefined);
    const subscription = new AbortController();
    let timer: TimerHandle | undefined;
    let unwatch = noWatch;
    let failure: { readonly error: unknown } | undefined;
    // Read through a call: set by callbacks, which the compiler's narrowing does not follow.
    const failed = (): { readonly error: unknown } | undefined => failure;
    let subscribed = false;
    // Rejected as the wait ends: the call does not wait for a subscribe still under way (queued
    // behind another enable of the event, or its own enable unanswered) once its bound passed.
    let abandon!: (error: unknown) => void;
    const abandoned = new Promise<never>((_resolve, rej) => {
      abandon = rej;
    });
    abandoned.catch(() => undefined);
    const end = (settle: () => void): void => {
      if (subscription.signal.aborted) return;
      this.#waiting.delete(giveUp);
      timer?.cancel();
      unwatch();
      subscription.abort(); // leaves (or ends a subscribe still under way)
      settle();
    };
    const giveUp = (error: unknown): void => {
      end(() => {
        failure = { error };
        reject(error);
        abandon(error);
      });
    };
    this.#waiting.add(giveUp);
    if (signal !== undefined) {
      const given = signal;
      unwatch = watchAbort(given, () => {
        giveUp(given.reason);
      });
    }
    if (failed() === undefined && timeoutMs !== undefined) {
      timer = this.#clock.setTimeout(() => {
        const what = subscribed
          ? `no notification within ${timeoutMs} ms of the agent's clock`
          : `not enabled at the platform within ${timeoutMs} ms of the agent's clock`;
        giveUp(new ScmiError('E_EVENT_TIMEOUT', `${this.#agent}: ${name}: ${what}`));
      }, timeoutMs);
    }
    try {
      const fired = failed();
      if (fired !== undefined) throw fired.error; // the signal had fired: nothing sent
      const subscribing = this.subscribe(
        filter,
        (n) => {
          end(() => resolve(n));
        },
        { signal: subscription.signal },
      );
      // Left behind once the wait ended: its own (aborted) signal then leaves at its turn, or
      // sends nothing; what it rejects with then is the wait's end, reported already.
      subscribing.catch(() => undefined);
      await Promise.race([subscribing, abandoned]);
      subscribed = true;
    } catch (error: unknown) {
      giveUp(error); // a no-op once the wait ended
      // The wait's own end (its bound, its signal, the removal) rather than the subscribe's
      // echo of it (the internal signal's reason).
      throw failed()?.error ?? error;
    }
    const ended = failed();
    if (ended !== undefined) throw ended.error; // ended as the enable was answered
    return { notification };
  }

  /** The options of a `waitFor`, or the error that refuses them. */
  #waitOptions(options: unknown): ScmiWaitOptions | ScmiError {
    if (options === undefined) return {};
    const what = `${this.#agent}: waitFor`;
    const refused = optionsArgError(options, WAIT_OPTION_KEYS, what, 'the wait');
    if (refused !== undefined) return refused;
    const { timeoutMs, signal } = options as Record<string, unknown>;
    if (
      timeoutMs !== undefined &&
      !(
        Number.isSafeInteger(timeoutMs) &&
        (timeoutMs as number) >= 1 &&
        (timeoutMs as number) <= MAX_TIMER_MS
      )
    ) {
      return new ScmiError(
        'E_ARGUMENT',
        `${what}: options.timeoutMs must be an integer from 1 to ${MAX_TIMER_MS}, got ${describeArg(timeoutMs)}`,
      );
    }
    if (signal !== undefined && !isAbortSignal(signal)) {
      return new ScmiError(
        'E_ARGUMENT',
        `${what}: options.signal must be an AbortSignal, got ${describeArg(signal)}`,
      );
    }
    return {
      ...(timeoutMs === undefined ? {} : { timeoutMs: timeoutMs as number }),
      ...(signal === undefined ? {} : { signal }),
    };
  }

  /**
   * The signal of a subscribe's `options`, checked (a JavaScript caller's `null`, a misspelt key,
   * a signal given for `{ signal }`, a forged signal).
   */
  #subscribeSignal(options: unknown): AbortSignal | undefined {
    if (options === undefined) return undefined;
    const what = `${this.#agent}: subscribe`;
    const refused = optionsArgError(options, SUBSCRIBE_OPTION_KEYS, what, 'the subscription');
    if (refused !== undefined) throw refused;
    const { signal } = options as Record<string, unknown>;
    if (signal !== undefined && !isAbortSignal(signal)) {
      throw new ScmiError(
        'E_ARGUMENT',
        `${what}: options.signal must be an AbortSignal, got ${describeArg(signal)}`,
      );
    }
    return signal;
  }

  /** Whether the agent's removal started (its disables called, or the hub quiesced). */
  #removing(): boolean {
    return this.#closed || this.#disableCalled;
  }

  /**
   * Asks the platform to enable or disable `key` and keeps `#maybeEnabled` true to what it may be
   * sending: settled by a success; left possibly enabled by a failed disable, or by an enable
   * whose outcome is unknown (neither an error status nor a refusal before anything was sent: a
   * timeout, a transport error; see {@link refusedForSure}).
   */
  async #setEnabled(
    event: ScmiEventDescriptor,
    key: string,
    source: number | undefined,
    enable: boolean,
    neverEnabled?: ReadonlySet<number>,
  ): Promise<Map<number, unknown>> {
    let outcome: unknown;
    try {
      outcome = await event.setNotifyEnabled?.(source, enable);
    } catch (error) {
      if (!enable || !refusedForSure(error)) this.#markMaybeEnabled(key);
      throw error;
    }
    const prefix = eventPrefix(key);
    // Every source possibly sent before an every-source enable: those it failed for still are.
    const everyMaybe = source === undefined && this.#maybeEnabled.has(`${prefix}*`);
    // Settled; every source stopped by an every-source disable: none of them may still be sending.
    if (!enable && source === undefined) this.#forget(this.#maybeEnabled, prefix);
    else this.#maybeEnabled.delete(key);
    if (source !== undefined) return new Map();
    // The sources an every-source command failed for: possibly still (or already) sent unless
    // refused for sure, as a failed command for one source is — or, for a disable, never enabled.
    const failed = failedSources(outcome, event.numSources);
    for (const [s, error] of failed) {
      const uncertain = enable
        ? everyMaybe || !refusedForSure(error)
        : neverEnabled?.has(s) !== true;
      if (uncertain) this.#markMaybeEnabled(`${prefix}${s}`);
    }
    return failed;
  }

  /**
   * Forgets the sources of `protocol:event` its every-source enable left out (`#notCovered`) and
   * returns those it certainly never enabled.
   */
  #takeNeverEnabled(eventKey: string): Set<number> {
    const prefix = `${eventKey}:`;
    const never = new Set<number>();
    for (const [k, certain] of [...this.#notCovered]) {
      if (!k.startsWith(prefix)) continue;
      this.#notCovered.delete(k);
      if (certain) never.add(Number(k.slice(prefix.length)));
    }
    return never;
  }

  /** Forgets every key of one event (`protocol:event:`) in `keys`. */
  #forget(keys: Set<string>, prefix: string): void {
    for (const k of [...keys]) if (k.startsWith(prefix)) keys.delete(k);
  }

  /**
   * Notes `key` as possibly sent by the platform. Bounded per event: past
   * {@link MAYBE_ENABLED_SOURCES} sources, the event's every-source key stands for them all (the
   * removal then sends one every-source disable, not one per source that ever failed).
   */
  #markMaybeEnabled(key: string): void {
    // Possibly sent: no longer certainly never enabled.
    if (this.#notCovered.has(key)) this.#notCovered.set(key, false);
    const prefix = eventPrefix(key);
    const all = `${prefix}*`;
    if (this.#maybeEnabled.has(all)) return;
    this.#maybeEnabled.add(key);
    let n = 0;
    for (const k of this.#maybeEnabled) if (k.startsWith(prefix)) n++;
    if (n <= MAYBE_ENABLED_SOURCES) return;
    this.#forget(this.#maybeEnabled, prefix);
    this.#maybeEnabled.add(all);
  }

  /**
   * The agent's removal, before anything is torn down: disables at the platform every event a
   * subscriber still holds enabled, or that a failed disable (or an enable whose outcome is
   * unknown) may have left enabled — the event for every source when it has an every-source
   * subscriber, else each source with subscribers of its own — as Linux does when the protocol
   * drivers unbind before the channels go (their devm notifier registrations are released, and
   * `scmi_put_handler_unlocked` disables an event with its last user, `notify.c`). Firmware
   * forgets a subscriber only when told: SCP-firmware removes one only from a *_NOTIFY command
   * that disables it (`scmi_notification_remove_subscriber`), so without this the platform would
   * go on posting into the P2A channel after the agent is gone, and to the next agent probed on
   * it.
   *
   * From the call on, a subscribe is refused (`E_SHUTDOWN`) and an unsubscribe only forgets its
   * handler. Each event's commands run after any enable or disable of that event already under
   * way, and every event's at once, with the transport's timeout: a platform that answers nothing
   * costs one timeout, not one per event. The removal gives up on the events still waiting once
   * `disableBoundMs` (the constructor's; the agent gives three times its RX timeout: an enable or
   * disable under way, then the removal's own) passed without any of its commands settling, an
   * event's turn coming or the platform answering any command (the constructor's `answered`),
   * each counted as failed: a descriptor whose `setNotifyEnabled` never settles, or a platform
   * that answers nothing, cannot hang the removal — nor can other traffic, the platform's answers
   * re-arming the bound at most three times per source of each event (an enable or disable under
   * way, then the removal's own) — while a platform that answers every command in
   * time is never cut short, however many commands queue behind each other for a transfer or a
   * channel that carries one message at a time, however many enables wait before the removal's
   * turn, and however many commands a descriptor sends for one (one per source). Each command
   * counts in `disabledAtRemoval`; a failure (an error status, a timeout, a transport error) in
   * `disableFailures` too, as does an event given up; nothing is thrown: the removal goes on.
   *
   * With `send: false` (a platform known to be gone, or about to be reset) it sends nothing: the
   * refusals above start all the same, and each event and source a subscriber holds enabled is
   * counted in `leftEnabledAtRemoval` instead, since it stays enabled at the platform. An enable or
   * disable still under way is not counted: the teardown fails its command, and whether the
   * platform acted on it cannot be known.
   *
   * Returns a promise that resolves once every event's commands settled or were given up, or
   * `undefined` when no event was enabled or being enabled, or with `send: false` (nothing to wait
   * for: the teardown may start at once); later calls return the first call's result.
   *
   * @example
   * ```ts
   * await hub.disableEvents(); // then tear the agent down
   * ```
   */
  public disableEvents(options: { readonly send?: boolean } = {}): Promise<void> | undefined {
    if (this.#disableCalled) return this.#disabling;
    this.#disableCalled = true;
    // Events with subscribers, and those with an enable or disable under way (a subscribe that
    // passed its checks counts its user only once the platform answered).
    const events = new Set(this.#turns.keys());
    for (const key of [...this.#enabled.keys(), ...this.#maybeEnabled]) {
      events.add(key.slice(0, key.lastIndexOf(':')));
    }
    if (options.send === false) {
      for (const eventKey of events) {
        if (this.#notifiable(eventKey) !== undefined)
          this.#leftEnabledAtRemoval += this.#sourcesEnabled(eventKey).length;
      }
    } else if (events.size > 0) {
      this.#disabling = this.#disableAll(events);
    }
    return this.#disabling;
  }

  async #disableAll(events: ReadonlySet<string>): Promise<void> {
    // One watchdog for the whole removal, re-armed each time one of its commands settles (or an
    // event's turn comes): the removal gives up on what is left only once `disableBoundMs` passed
    // without progress. A bound per event would cut short a platform that answers every command
    // in time: the commands of all sources and events go out at once and queue behind each other
    // (for a transfer, or a channel that carries one message at a time, as SMT does), so the last
    // of sixteen may settle long after the first. An enable or disable under way, or a
    // `setNotifyEnabled`, that never settles still cannot hold the removal for ever.
    //
    // The platform's answers to any command re-arm it too (a descriptor sending one command per
    // source, an enable under way, settle only after many), but a bounded number of times: other
    // traffic (a caller polling until the agent is revoked) would otherwise keep a descriptor that
    // never settles waiting for ever. Per event: an enable or disable under way (at most twice its
    // sources: an every-source leave disables every source, then enables those subscribed alone)
    // and the removal's own (at most once each), each answered within one bound.
    let commands = 0;
    for (const eventKey of events) {
      const sources =
        this.#notifiable(eventKey)?.numSources ?? this.#sourcesEnabled(eventKey).length;
      commands += 3 * Math.max(1, sources);
    }
    const watchdog = new Watchdog(
      this.#clock,
      this.#disableBoundMs,
      this.#agent,
      this.#answered,
      commands,
    );
    try {
      await Promise.all(
        [...events].map((eventKey) => {
          // Given up, the event counts one failure, and its turn, should it come after all, sends
          // nothing.
          let givenUp = false;
          return watchdog
            .race(
              this.#inTurn(eventKey, () => {
                if (givenUp) return Promise.resolve();
                watchdog.progress();
                return this.#disableEvent(eventKey, watchdog, () => givenUp);
              }),
            )
            .catch(() => {
              givenUp = true;
              this.#disableFailures++;
            });
        }),
      );
    } finally {
      watchdog.stop();
    }
  }

  /** Disables `protocol:event` for every source its subscribers hold enabled (see `disableEvents`). */
  async #disableEvent(eventKey: string, watchdog: Watchdog, givenUp: () => boolean): Promise<void> {
    const event = this.#notifiable(eventKey);
    if (event === undefined) return;
    await Promise.all(
      this.#sourcesEnabled(eventKey).map(async (source) => {
        this.#disabledAtRemoval++; // issued, whatever comes of it
        let failed: boolean;
        try {
          const outcome = await event.setNotifyEnabled?.(source, false);
          // An every-source disable that failed for some sources failed — unless only for sources
          // its enable certainly never enabled.
          failed =
            source === undefined &&
            [...failedSources(outcome, event.numSources).keys()].some(
              (s) => this.#notCovered.get(`${eventKey}:${s}`) !== true,
            );
        } catch {
          failed = true;
        } finally {
          watchdog.progress();
        }
        // An event given up was counted failed once already.
        if (failed && !givenUp()) this.#disableFailures++;
      }),
    );
  }

  /** The descriptor of `protocol:event` when it is registered with a `setNotifyEnabled`. */
  #notifiable(eventKey: string): ScmiEventDescriptor | undefined {
    const [protocolId, eventId] = eventKey.split(':').map(Number) as [number, number];
    const event = this.#queues.get(protocolId)?.events.get(eventId);
    return event?.setNotifyEnabled === undefined ? undefined : event;
  }

  /**
   * What the platform may be sending of `protocol:event`: every source (`[undefined]`) when it
   * has an every-source subscriber (or every source may still be enabled), else each source with
   * subscribers of its own or that may still be enabled (see `#maybeEnabled`).
   */
  #sourcesEnabled(eventKey: string): (number | undefined)[] {
    const all = `${eventKey}:*`;
    if (this.#enabled.has(all) || this.#maybeEnabled.has(all)) return [undefined];
    const prefix = `${eventKey}:`;
    // A source whose enable the platform refused is not sent (unless one's outcome is unknown).
    const sources = new Set(
      this.#subscribedSources(eventKey).filter(
        (source) =>
          !this.#needsEnable.has(`${prefix}${source}`) ||
          this.#maybeEnabled.has(`${prefix}${source}`),
      ),
    );
    for (const key of this.#maybeEnabled) {
      if (key.startsWith(prefix)) sources.add(Number(key.slice(prefix.length)));
    }
    return [...sources];
  }

  /** The sources of `protocol:event` that have subscribers of their own. */
  #subscribedSources(eventKey: string): number[] {
    const sources: number[] = [];
    const prefix = `${eventKey}:`;
    for (const key of this.#enabled.keys()) {
      if (!key.startsWith(prefix)) continue;
      const source = key.slice(prefix.length);
      if (source !== '*') sources.push(Number(source));
    }
    return sources;
  }

  /** Runs `fn` after every earlier `fn` of the same key settled; resolves or rejects as it does. */
  #inTurn(key: string, fn: () => Promise<void>): Promise<void> {
    const run = (this.#turns.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#turns.set(key, tail);
    void tail.then(() => {
      if (this.#turns.get(key) === tail) this.#turns.delete(key);
    });
    return run;
  }

  /**
   * @internal The RX path: reserve a slot in the protocol's queue and let the transport copy the
   * payload into it (`fetchNotification`). Never allocates, never runs user code. Returns the
   * bad-message reason to count, if any — `unknown` (no driver registered the event), `nomem`
   * (the queue is full: dropped), `oversize` (longer than the queue's buffers: dropped, not
   * delivered cut), `invalid` (a payload size the event's descriptor does not allow: dropped) —
   * for the caller to count and publish as every bad message is (`TransferEngine.countBad`). Only
   * a notification queued counts in `counters.notifications`.
   */
  public accept(
    header: number,
    counters: ChannelCounters,
    channel: TransportChannel,
    ctx: unknown,
  ): BadMessageReason | undefined {
    if (this.#closed || !this.#delivering) {
      // Not an unknown message: a sound one that came too late to be delivered (the removal
      // started: nothing queued now would be delivered, so it is not queued, nor counted `nomem`).
      this.#discarded++;
      return undefined;
    }
    const q = this.#queues.get(headerProtocolId(header));
    const event = q?.events.get(headerMessageId(header));
    if (q === undefined || event === undefined) return 'unknown';
    if (q.count >= q.buffers.length) {
      this.#dropped++;
      return 'nomem';
    }
    const slot = (q.head + q.count) % q.buffers.length;
    const buffer = q.buffers[slot] as NotificationBuffer;
    buffer.reset();
    channel.fetchNotification(buffer, ctx);
    // A transport that copied nothing (not even an empty payload) gave no notification: the slot
    // keeps no stale bytes of the last one.
    if (!buffer.received) return 'invalid';
    // The slot is taken only by a notification delivered whole, of a size its event allows.
    if (buffer.truncated) return 'oversize';
    if (
      buffer.length < (event.minPayload ?? 0) ||
      (event.maxPayload !== undefined && buffer.length > event.maxPayload)
    ) {
      return 'invalid';
    }
    q.headers[slot] = header;
    q.stamps[slot] = this.#clock.now();
    q.count++;
    this.#queued++;
    counters.notifications++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#clock.schedule(this.#deliver);
    }
    return undefined;
  }

  readonly #deliver = (): void => {
    this.#scheduled = false;
    if (this.#closed) return;
    for (const [protocolId, q] of this.#queues) {
      while (q.count > 0 && this.#accepting()) {
        const slot = q.head;
        const buffer = q.buffers[slot] as NotificationBuffer;
        const header = q.headers[slot] as number;
        const payload = copyOut(buffer.data, buffer.length);
        const stamp = q.stamps[slot] as number;
        q.head = (q.head + 1) % q.buffers.length;
        q.count--;
        const eventId = headerMessageId(header);
        const event = q.events.get(eventId);
        if (event === undefined) continue;
        let source: number | undefined;
        try {
          source = event.sourceOf !== undefined ? event.sourceOf(payload) : defaultSource(payload);
        } catch {
          // The payload is the platform's: one too short for the descriptor's reader (or a
          // reader that fails) must not end the delivery task. Not delivered, counted.
          this.#sourceErrors++;
          continue;
        }
        this.#delivered++;
        const n: ScmiNotification = {
          protocolId,
          eventId,
          name: event.name,
          source,
          timestamp: stamp,
          payload,
        };
        // A snapshot (a handler may subscribe), in which a handler that another one unsubscribed
        // meanwhile is skipped. Each handler gets a payload of its own, copied before any runs
        // (one may change its copy); the last one gets the original.
        const targets = q.subscriptions.filter(
          (sub) => sub.eventId === eventId && (sub.source === undefined || sub.source === source),
        );
        const copies = targets.slice(1).map(() => payload.slice());
        for (let i = 0; i < targets.length; i++) {
          const sub = targets[i] as (typeof targets)[number];
          // A handler may start the agent's removal: no handler is called after it.
          if (!this.#accepting()) break;
          if (sub.removed) continue;
          const copy = copies[i]; // none for the last
          this.#call(sub.handler, copy === undefined ? n : { ...n, payload: copy });
        }
      }
    }
  };

  /** Re-read on each iteration: a handler may start the teardown (see `stopDelivery`). */
  #accepting(): boolean {
    return !this.#closed && this.#delivering;
  }

  /**
   * Teardown, phase 0, as the agent's removal starts (before any channel quiesces): no handler
   * is called any more, not even for a notification already queued — a handler that removes the
   * agent is the last one called. What is queued stays (discarded, counted, when the hub
   * quiesces); a notification arriving from now on is not queued but discarded at once (counted),
   * its P2A buffer given back to the platform as any other.
   */
  public stopDelivery(): void {
    this.#delivering = false;
    // Nothing will be delivered: every wait under way gives up (its subscription leaves).
    for (const giveUp of [...this.#waiting]) {
      giveUp(
        new ScmiTransportError('E_SHUTDOWN', `${this.#agent}: waitFor: the agent is shutting down`),
      );
    }
  }

  #call(handler: ScmiNotificationHandler, n: ScmiNotification): void {
    callContained(handler, n, () => {
      this.#handlerErrors++;
    });
  }

  /** Teardown, phase 1: stop accepting and delivering; discard (and count) what is queued. */
  public quiesce(): void {
    this.#closed = true;
    for (const giveUp of [...this.#waiting]) {
      giveUp(
        new ScmiTransportError('E_SHUTDOWN', `${this.#agent}: waitFor: the agent is shutting down`),
      );
    }
    for (const q of this.#queues.values()) {
      this.#discarded += q.count;
      q.count = 0;
    }
  }

  /** Teardown, phase 2: forget every queue and subscription. */
  public release(): void {
    // A long-lived signal would otherwise keep the hub (and every handler) reachable.
    for (const stop of this.#signalWatches) stop();
    this.#signalWatches.clear();
    this.#queues.clear();
    this.#enabled.clear();
    this.#needsEnable.clear();
    this.#maybeEnabled.clear();
    this.#notCovered.clear();
  }

  /** The hub's counters. */
  public get stats(): NotificationStats {
    return {
      queued: this.#queued,
      delivered: this.#delivered,
      dropped: this.#dropped,
      discarded: this.#discarded,
      handlerErrors: this.#handlerErrors,
      sourceErrors: this.#sourceErrors,
      disabledAtRemoval: this.#disabledAtRemoval,
      disableFailures: this.#disableFailures,
      leftEnabledAtRemoval: this.#leftEnabledAtRemoval,
      signalLeaveFailures: this.#signalLeaveFailures,
    };
  }
}

/**
 * Whether `signal` fired — read through a call: TypeScript keeps a property's narrowing across an
 * `await`, and the signal may have fired while the subscribe awaited its enable.
 */
function hasFired(signal: AbortSignal): boolean {
  return signal.aborted;
}

/**
 * Sources of one event the hub notes as possibly sent after failed notify commands before it
 * notes the event's every source instead (see `NotificationHub.#markMaybeEnabled`).
 */
const MAYBE_ENABLED_SOURCES = 16;

/** The event part of a `protocol:event:source` key, with its trailing colon (`protocol:event:`). */
function eventPrefix(key: string): string {
  return key.slice(0, key.lastIndexOf(':') + 1);
}

/**
 * The sources an every-source `setNotifyEnabled` reported failed ({@link ScmiNotifyOutcome}):
 * only integers from 0 below `numSources` (a descriptor's mistake names none), in the map's order.
 */
function failedSources(outcome: unknown, numSources: number | undefined): Map<number, unknown> {
  const failed = new Map<number, unknown>();
  if (typeof outcome !== 'object' || outcome === null) return failed;
  const given: unknown = (outcome as { failed?: unknown }).failed;
  if (!(given instanceof Map)) return failed;
  for (const [source, error] of given as Map<unknown, unknown>) {
    if (
      typeof source === 'number' &&
      Number.isSafeInteger(source) &&
      source >= 0 &&
      source < (numSources ?? Infinity)
    )
      failed.set(source, error);
  }
  return failed;
}

function defaultSource(payload: Uint8Array): number | undefined {
  if (payload.byteLength < 8) return undefined;
  return (
    ((payload[4] as number) |
      ((payload[5] as number) << 8) |
      ((payload[6] as number) << 16) |
      ((payload[7] as number) << 24)) >>>
    0
  );
}

/**
 * The removal's bound on notify-disables (see `NotificationHub.disableEvents`): a promise that
 * rejects once `ms` passed since the last {@link Watchdog.progress} without `answered` growing (the
 * platform answering any command: it is alive, and the bound starts again, up to `rearms` times);
 * {@link Watchdog.stop} cancels its timer.
 */
class Watchdog {
  readonly #clock: Clock;
  readonly #ms: number;
  readonly #agent: string;
  readonly #answered: (() => number) | undefined;
  #seen: number | undefined;
  /** How many more times answers may re-arm the bound. */
  #rearms: number;
  readonly #expired: Promise<never>;
  #reject: ((error: Error) => void) | undefined;
  #timer: TimerHandle | undefined;
  #stopped = false;

  public constructor(clock: Clock, ms: number, agent: string, answered?: () => number, rearms = 0) {
    this.#clock = clock;
    this.#ms = ms;
    this.#agent = agent;
    this.#answered = answered;
    this.#rearms = rearms;
    this.#expired = new Promise<never>((_resolve, reject) => {
      this.#reject = reject;
    });
    // Read through race(); handled here so that an expiry nobody races is no unhandled rejection.
    this.#expired.catch(() => undefined);
    this.progress();
  }

  /** `work`, or a rejection once the watchdog expired first. */
  public race(work: Promise<void>): Promise<void> {
    return Promise.race([work, this.#expired]);
  }

  /** Something settled: the bound starts again from now. */
  public progress(): void {
    if (this.#stopped) return;
    this.#seen = this.#answered?.();
    this.#timer?.cancel();
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      // The platform answered something meanwhile: alive, its answers still coming — as many
      // times as the removal may have commands to wait for.
      if (this.#rearms > 0 && this.#answered !== undefined && this.#answered() !== this.#seen) {
        this.#rearms--;
        this.progress();
        return;
      }
      this.#reject?.(
        new ScmiError(
          'E_TIMEOUT',
          `${this.#agent}: no notify-disable of the removal settled, nor any command answered, in ${this.#ms} ms`,
        ),
      );
    }, this.#ms);
  }

  /** Cancels the timer; later progress arms none. */
  public stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }
}
