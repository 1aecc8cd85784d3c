/**
 * What the platform has done, counted since it was created (a snapshot: read
 * {@link ScmiPlatform.counters} again for fresh values).
 */
export interface PlatformCounters {
  /** Commands with a valid header from a connected agent. */
  readonly requests: number;
  /** Responses `handle` returned. */
  readonly responses: number;
  /** Responses sent later through `link.respond` (fault rules: delay, late reply, duplicate, reorder, unsolicited). */
  readonly lateResponses: number;
  /**
   * Requests dropped without a response: shorter than a header, a bad header (reserved bits, type 1),
   * not a command, from an agent that is not connected, or after `close`.
   */
  readonly droppedRequests: number;
  /** Notifications `link.post` accepted. */
  readonly notificationsPosted: number;
  /**
   * Notifications dropped (as the virtio specification allows): `link.post` refused them or threw
   * (for any notification: a protocol's, a BASE_ERROR_EVENT, a storm's, one a fault rule delayed),
   * they were larger than the link's `maxMsgSize`, or a fault's timer for them could not be armed.
   */
  readonly notificationsDropped: number;
  /** Delayed responses `link.post` accepted. */
  readonly delayedResponsesPosted: number;
  /** Times a refused delayed response was scheduled to be posted again. */
  readonly delayedResponseRetries: number;
  /**
   * Delayed responses given up: after `maxPostRetries` refusals, or at once when `link.post` threw
   * (a link that failed, not one that is full for now: no retry).
   */
  readonly delayedResponsesDropped: number;
  /**
   * Commands whose handler threw (a platform bug), or whose vendor protocol handler returned a
   * reply that breaks its contract (see `PlatformVendorCommand`): answered with GENERIC_ERROR.
   * Also asynchronous commands whose completion failed so (a vendor protocol's `respondLater`
   * `complete`): their delayed response says GENERIC_ERROR (when it is sent at all).
   */
  readonly handlerErrors: number;
  /**
   * Messages the platform still had to send to an agent when it disconnected, never sent: responses
   * delayed, held or sent late by a fault rule, delayed responses, notifications (each counts once).
   * This includes a delayed response, or the second copy of a `duplicate` rule, whose `link.post`
   * disconnected the agent (the peer port dropping a slow consumer): no retry or copy is armed for
   * an agent that is gone. The delayed response of an asynchronous operation counts when the
   * operation completes, which it does even after its agent disconnected.
   */
  readonly cancelledOnDisconnect: number;
  /**
   * Polls at which a value read from a Performance fast channel (LEVEL_SET, LIMITS_SET) changed a
   * domain's level or limits. A value left in the channel is read again at every poll: it changes
   * nothing, and is not counted, while the state is what it asks for — but once a command has
   * changed that state, the next poll applies the value again (as SCP-firmware's
   * `perf_fch_process`), counted again. LIMITS_SET's two words are read one after the other, as
   * an agent writes them: a poll between the agent's two writes reads the new range_max with the
   * old range_min, and may apply (or refuse) that pair before the next poll reads both.
   * Platform-wide only (not in {@link PlatformAgentCounters}): no agent is known to have written a
   * fast channel.
   */
  readonly fastChannelApplied: number;
  /**
   * Values read from a Performance fast channel that PERF_LEVEL_SET or PERF_LIMITS_SET would have
   * refused (not a level, outside the limits, range_max below range_min, a domain whose level or
   * limits agents may not set…): ignored, nothing changes. Counted once per value written: a
   * value left in the channel is refused again at every poll without being counted again (the
   * channel remembers its last refused word until it reads another). Platform-wide only.
   */
  readonly fastChannelRejected: number;
}

/** The counters that no agent caused, kept platform-wide only (a fast channel has no agent). */
type PlatformWideCounter = 'fastChannelApplied' | 'fastChannelRejected';

/**
 * What the platform did for one agent ({@link ScmiPlatform.agentCounters}): the
 * {@link PlatformCounters} that concern it (all but the fast-channel ones, which no agent causes)
 * — its requests, the responses, notifications and delayed responses sent (or dropped, or
 * cancelled at its disconnect) to it, its commands whose handler threw — and the responses it
 * was sent by status.
 */
export interface PlatformAgentCounters extends Omit<
  PlatformCounters,
  'fastChannelApplied' | 'fastChannelRejected'
> {
  /**
   * The responses sent to the agent (returned by `handle` or sent late), by status name
   * (`SUCCESS`, `DENIED`, `NOT_FOUND`…, core's `scmiStatusName`; `UNKNOWN(7)` for a code a
   * `corrupt-bytes` fault wrote): which of its commands failed, and how. A status never answered
   * is absent; a response a `truncate` fault cut before its status counts in `responses` only.
   */
  readonly statuses: Readonly<Record<string, number>>;
}

/** The mutable counters the platform keeps. @internal */
export type MutablePlatformCounters = { -readonly [K in keyof PlatformCounters]: number };

/** The mutable counters the platform keeps for one agent. @internal */
export type MutableAgentCounters = {
  -readonly [K in Exclude<keyof PlatformCounters, PlatformWideCounter>]: number;
};

/** Zeroed counters of one agent. @internal */
export function createAgentCounters(): MutableAgentCounters {
  return {
    requests: 0,
    responses: 0,
    lateResponses: 0,
    droppedRequests: 0,
    notificationsPosted: 0,
    notificationsDropped: 0,
    delayedResponsesPosted: 0,
    delayedResponseRetries: 0,
    delayedResponsesDropped: 0,
    handlerErrors: 0,
    cancelledOnDisconnect: 0,
  };
}

/** Zeroed platform-wide counters. @internal */
export function createPlatformCounters(): MutablePlatformCounters {
  return { ...createAgentCounters(), fastChannelApplied: 0, fastChannelRejected: 0 };
}

/**
 * One command whose handler failed (a platform bug, or a vendor protocol handler that broke its
 * contract), kept in {@link ScmiPlatform.handlerErrorLog} beside the `handlerErrors` count: the
 * agent got GENERIC_ERROR (in the delayed response, for a failed asynchronous completion), and
 * this says why.
 *
 * @example
 * ```ts
 * for (const f of platform.handlerErrorLog) {
 *   console.log(`agent ${f.agentId} 0x${f.protocolId.toString(16)}/0x${f.messageId.toString(16)}`, f.error);
 * }
 * ```
 */
export interface PlatformHandlerError {
  /** Platform clock time, in ms. */
  readonly atMs: number;
  /** The agent that sent the command. */
  readonly agentId: number;
  /** The command's protocol id. */
  readonly protocolId: number;
  /** The command's message id. */
  readonly messageId: number;
  /** The command's token. */
  readonly token: number;
  /** What the handler threw (or the contract its reply broke, as an Error). */
  readonly error: unknown;
}
