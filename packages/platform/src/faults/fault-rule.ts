/**
 * Which messages a fault rule looks at: `'command'` (the response to a command; default),
 * `'delayed-response'` or `'notification'` (messages the platform posts on the P2A channel).
 */
export type FaultStage = 'command' | 'delayed-response' | 'notification';

/**
 * Which messages a rule fires on. Every field is optional; an empty match fires on every command.
 * Any other field is refused (a misspelt `messageID` would otherwise match every message).
 * For the P2A stages, protocol and message ids are those of the delayed response or notification.
 */
export interface FaultMatch {
  /** The stage; default `'command'`. */
  readonly stage?: FaultStage;
  /** Only messages to or from this agent. */
  readonly agentId?: number;
  /** Only this protocol id. */
  readonly protocolId?: number;
  /** Only this message id. */
  readonly messageId?: number;
  /** Fire only on the n-th matching message (1-based); the count includes earlier matches that did not fire. */
  readonly nth?: number;
  /** Fire with this probability, a number in 0 … 1, drawn from the platform's seeded generator. */
  readonly probability?: number;
  /** Fire at most this many times. */
  readonly times?: number;
}

/** Process the command only after `ms` (its effects happen then); the response goes through `link.respond`. */
export interface DelayFault {
  /** Discriminant. */
  readonly kind: 'delay';
  /** Delay in ms on the platform clock, 0 … 2^31 − 1 (the longest Node timer). */
  readonly ms: number;
}

/** Process the command now and lose the response (P2A stages: lose the message). */
export interface DropFault {
  /** Discriminant. */
  readonly kind: 'drop';
}

/** Send the response (or P2A message) twice: the copy after `delayMs` (default 0) through `link.respond` / `link.post`. */
export interface DuplicateFault {
  /** Discriminant. */
  readonly kind: 'duplicate';
  /** Delay of the copy in ms, 0 … 2^31 − 1; default 0 (the next timer turn). */
  readonly delayMs?: number;
}

/**
 * Hold the response and send it right after the next response to the same agent and channel
 * (swap with the next response), or after `maxHoldMs` (default 100) if none comes.
 */
export interface ReorderFault {
  /** Discriminant. */
  readonly kind: 'reorder';
  /** Longest hold in ms, 0 … 2^31 − 1; default 100. */
  readonly maxHoldMs?: number;
}

/**
 * Process the command now and hold the response — or, on a P2A stage, hold the delayed response or
 * notification — until {@link ScmiPlatform.releaseHeldResponses} sends it, or `maxHoldMs` (default
 * 100) passes; a disconnect of its agent cancels it (counted in `cancelledOnDisconnect`). What a
 * test that must place a late message at a moment of its choosing (inside the agent's teardown, a
 * quiesce step…) uses: a delay measured in timer ticks cannot.
 */
export interface HoldFault {
  /** Discriminant. */
  readonly kind: 'hold';
  /** Longest hold in ms, 0 … 2^31 − 1; default 100. */
  readonly maxHoldMs?: number;
}

/** Process the command now, send the response after `ms` (past the agent's timeout, typically). */
export interface LateReplyFault {
  /** Discriminant. */
  readonly kind: 'late-reply';
  /** Delay of the response in ms, 0 … 2^31 − 1. */
  readonly ms: number;
}

/** Rewrite the header token (default: the token with bit 9 flipped). */
export interface CorruptTokenFault {
  /** Discriminant. */
  readonly kind: 'corrupt-token';
  /** The token to write, 0 … 1023. */
  readonly token?: number;
}

/** Rewrite the header message type (default 1, the unused type). */
export interface CorruptTypeFault {
  /** Discriminant. */
  readonly kind: 'corrupt-type';
  /** The type to write, 0 … 3. */
  readonly type?: number;
}

/** Rewrite the header protocol id (default: the protocol id with every bit flipped). */
export interface CorruptProtocolFault {
  /** Discriminant. */
  readonly kind: 'corrupt-protocol';
  /** The protocol id to write, 0 … 255. */
  readonly protocolId?: number;
}

/**
 * Overwrite bytes of the message from byte `offset` (0 is the header; in a response 4 is the
 * status and 8 the first return value): hostile content behind a valid header — a name without
 * its NUL, a count larger than the entries that follow, a status no version of the specification
 * defines. Bytes that would land past the end of the message are not written: the length stays
 * (`truncate` shortens a message). Applied after the header rewrites, before truncation.
 *
 * @example
 * ```ts
 * // DISCOVER_LIST_PROTOCOLS claims 200 protocols in a reply that carries a few.
 * platform.faults.add({
 *   match: { protocolId: 0x10, messageId: 0x6 },
 *   action: { kind: 'corrupt-bytes', offset: 8, bytes: [200, 0, 0, 0] },
 * });
 * ```
 */
export interface CorruptBytesFault {
  /** Discriminant. */
  readonly kind: 'corrupt-bytes';
  /** Byte offset in the message of the first byte written, 0 or more. */
  readonly offset: number;
  /** The bytes written, each 0 … 255; 1 … 65536 of them. */
  readonly bytes: readonly number[];
}

/** Cut the message to `length` bytes (default 6: the header and half the status). */
export interface TruncateFault {
  /** Discriminant. */
  readonly kind: 'truncate';
  /** Bytes kept. */
  readonly length?: number;
}

/** Also send a SUCCESS response for a token no one sent (default: the command's token with bit 9 flipped). */
export interface UnsolicitedFault {
  /** Discriminant. */
  readonly kind: 'unsolicited';
  /** The token of the unsolicited response, 0 … 1023. */
  readonly token?: number;
}

/**
 * Post `count` notifications at once to the agent, subscribed or not: notification `messageId`
 * (default 0) of `protocolId` (default the command's protocol) with `payload` words (default
 * agent_id 0, domain 0, value 0).
 */
export interface NotificationStormFault {
  /** Discriminant. */
  readonly kind: 'notification-storm';
  /** Number of notifications, 1 … 100000. */
  readonly count: number;
  /** Protocol id of the notifications. */
  readonly protocolId?: number;
  /** Notification id. */
  readonly messageId?: number;
  /**
   * Payload as u32 words, at most 16384 (64 KiB, the largest message payload of any scmi-ts
   * transport). A payload larger than the link's `maxMsgSize` is not posted: the storm's
   * notifications are counted as dropped.
   */
  readonly payload?: readonly number[];
}

/** What a rule does when it fires. */
export type FaultAction =
  | DelayFault
  | DropFault
  | DuplicateFault
  | ReorderFault
  | HoldFault
  | LateReplyFault
  | CorruptTokenFault
  | CorruptTypeFault
  | CorruptProtocolFault
  | CorruptBytesFault
  | TruncateFault
  | UnsolicitedFault
  | NotificationStormFault;

/** The kinds of fault, for counters. */
export type FaultKind = FaultAction['kind'];

/**
 * A message-level fault rule: when `match` selects a message, `action` is applied. Several rules
 * may fire on one message: header rewrites, byte rewrites and truncation apply first, then the
 * first delivery change (drop, delay, late reply, reorder, hold, duplicate) in the order the rules
 * were added, plus every unsolicited response and notification storm. A later delivery change does not
 * fire on that message: it is neither logged nor counted and keeps its `times`, though its `nth`
 * counts the match. Plain data (JSON-able); a field the rule, its match or its action does not
 * declare is refused, as in the platform configuration.
 *
 * @example
 * ```ts
 * platform.faults.add({ match: { protocolId: 0x10, messageId: 0x3, nth: 1 }, action: { kind: 'late-reply', ms: 50 } });
 * ```
 */
export interface FaultRule {
  /** A name for the log; default `rule-<n>` (the first such id not in use). Unique. */
  readonly id?: string;
  /** Which messages; default every command. */
  readonly match?: FaultMatch;
  /** What to do. */
  readonly action: FaultAction;
}

/** A {@link FaultRule} as the injector holds it, with its id. */
export interface IdentifiedFaultRule extends FaultRule {
  /** The rule id (given, or `rule-<n>`). */
  readonly id: string;
}

/** One fault the platform injected. */
export interface FaultLogEntry {
  /** Order of injection, from 1. */
  readonly seq: number;
  /** Platform clock time, in ms. */
  readonly atMs: number;
  /** The rule that fired. */
  readonly ruleId: string;
  /** The kind of fault. */
  readonly kind: FaultKind;
  /** The stage of the message. */
  readonly stage: FaultStage;
  /** The agent. */
  readonly agentId: number;
  /** Protocol id of the message. */
  readonly protocolId: number;
  /** Message id of the message. */
  readonly messageId: number;
  /** Token of the message (0 for notifications). */
  readonly token: number;
}
