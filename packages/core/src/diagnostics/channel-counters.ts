import type { BadMessageReason } from '../channel/transport.js';

/** A point-in-time copy of a channel's {@link ChannelCounters}. */
export interface ChannelStats {
  /** Commands sent. */
  readonly sent: number;
  /** Commands completed with a response (any status). */
  readonly completed: number;
  /** Commands that timed out (response or delayed response). */
  readonly timeouts: number;
  /** Commands that failed in the transport or were aborted by shutdown. */
  readonly failed: number;
  /** Replies that arrived after their command timed out, dropped. */
  readonly lateReplies: number;
  /** Delayed responses delivered. */
  readonly delayedResponses: number;
  /** Notifications queued for delivery. */
  readonly notifications: number;
  /** Callbacks refused by the channel's RX guard after quiesce (late doorbells, used buffers…). */
  readonly refusedAfterQuiesce: number;
  /** Rejected messages by reason. */
  readonly badMessages: Readonly<Record<BadMessageReason, number>>;
}

/**
 * Per-channel counters: every transfer outcome and every rejected message is counted here, so a
 * late or hostile reply is never silent. Core and the transport both increment them; read them with
 * {@link ChannelCounters.snapshot}.
 *
 * @example
 * ```ts
 * const stats = agent.diagnostics.channels[0]?.stats;
 * console.log(stats?.lateReplies, stats?.badMessages.unexpected);
 * ```
 */
export class ChannelCounters {
  /** Commands sent. */
  public sent = 0;
  /** Commands completed with a response (any status). */
  public completed = 0;
  /** Commands that timed out. */
  public timeouts = 0;
  /** Commands that failed in the transport or were aborted by shutdown. */
  public failed = 0;
  /** Replies that arrived after their command timed out, dropped. */
  public lateReplies = 0;
  /** Delayed responses delivered. */
  public delayedResponses = 0;
  /** Notifications queued for delivery. */
  public notifications = 0;
  /** Callbacks refused by the RX guard after quiesce. */
  public refusedAfterQuiesce = 0;
  /** Rejected messages by reason. */
  public readonly badMessages: Record<BadMessageReason, number> = {
    unexpected: 0,
    invalid: 0,
    unknown: 0,
    nomem: 0,
    spurious: 0,
    oversize: 0,
  };

  /** Total rejected messages, all reasons. */
  public get badMessageTotal(): number {
    const b = this.badMessages;
    return b.unexpected + b.invalid + b.unknown + b.nomem + b.spurious + b.oversize;
  }

  /** A copy of every counter. */
  public snapshot(): ChannelStats {
    return {
      sent: this.sent,
      completed: this.completed,
      timeouts: this.timeouts,
      failed: this.failed,
      lateReplies: this.lateReplies,
      delayedResponses: this.delayedResponses,
      notifications: this.notifications,
      refusedAfterQuiesce: this.refusedAfterQuiesce,
      badMessages: { ...this.badMessages },
    };
  }
}
