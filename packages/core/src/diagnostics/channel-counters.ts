import type { BadMessageReason } from '../channel/transport.js';
import { scmiStatusName } from '../wire/status.js';

/** A point-in-time copy of a channel's {@link ChannelCounters}. */
export interface ChannelStats {
  /** Commands sent. */
  readonly sent: number;
  /** Commands completed with a response (any status: the error ones are in `errorStatuses` too). */
  readonly completed: number;
  /** Commands that timed out (response or delayed response). */
  readonly timeouts: number;
  /**
   * Commands that failed in the transport (the channel lost included), were given up by their
   * caller's signal while they waited for a response or a delayed response, or were aborted by
   * shutdown.
   */
  readonly failed: number;
  /** Replies that arrived after their command timed out, dropped. */
  readonly lateReplies: number;
  /**
   * Responses that came after their delayed response had completed the transfer, dropped: the
   * delayed response, on the P2A channel, overtook the response on its A2P channel. Nobody did
   * anything wrong — the platform sends the response first, but the signals of two channels are
   * not ordered with each other — so these are not `badMessages`. (Linux counts such a response
   * among its errors, `ERR_MSG_INVALID` or `ERR_MSG_UNEXPECTED`, after taking the response as
   * successful when the delayed response came first: `scmi_msg_response_validate`.)
   */
  readonly overtakenResponses: number;
  /** Delayed responses delivered. */
  readonly delayedResponses: number;
  /** Notifications queued for delivery. */
  readonly notifications: number;
  /** Callbacks refused by the channel's RX guard after quiesce (late doorbells, used buffers…). */
  readonly refusedAfterQuiesce: number;
  /** Rejected messages by reason. */
  readonly badMessages: Readonly<Record<BadMessageReason, number>>;
  /**
   * Responses (on an A2P channel) and delayed responses (on the P2A channel that carried them)
   * whose status was not SUCCESS, by status name (`NOT_SUPPORTED`, `UNKNOWN(7)` for one outside
   * the table): which answers were refusals, without a trace of every command. Empty when none.
   */
  readonly errorStatuses: Readonly<Record<string, number>>;
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
  /**
   * Commands that failed in the transport (the channel lost included), were given up by their
   * caller's signal while they waited for a response or a delayed response, or were aborted by
   * shutdown.
   */
  public failed = 0;
  /** Replies that arrived after their command timed out, dropped. */
  public lateReplies = 0;
  /** Responses that came after their delayed response had overtaken them, dropped. */
  public overtakenResponses = 0;
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

  /** Error statuses answered (see {@link ChannelStats.errorStatuses}), by status. */
  readonly #errorStatuses = new Map<number, number>();

  /** Counts a response or a delayed response whose status is `status` (SUCCESS is not counted). */
  public countStatus(status: number): void {
    if (status === 0) return;
    this.#errorStatuses.set(status, (this.#errorStatuses.get(status) ?? 0) + 1);
  }

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
      overtakenResponses: this.overtakenResponses,
      delayedResponses: this.delayedResponses,
      notifications: this.notifications,
      refusedAfterQuiesce: this.refusedAfterQuiesce,
      badMessages: { ...this.badMessages },
      errorStatuses: Object.fromEntries(
        [...this.#errorStatuses].map(([status, n]) => [scmiStatusName(status), n]),
      ),
    };
  }
}
