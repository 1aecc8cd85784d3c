import type { ChannelDirection, ChannelStats } from '@scmi-ts/core';
import type { MailboxController, MailboxRemoteEnd } from '../mailbox/mailbox-controller.js';
import type { SmtWireLayout } from '../smt/smt-wire-layout.js';

/**
 * The agent end of a mailbox wire — what `transportConfig.wire` must be: the SMT areas, the
 * mailbox controller whose channels ring for them, and a monitor that records what happened on
 * each channel. Made by {@link createSameThreadMailboxWire} or {@link createSharedMailboxWire};
 * one wire serves one agent.
 */
export interface MailboxWire {
  /** The SMT areas and which channel uses which. */
  readonly layout: SmtWireLayout;
  /** The mailbox controller (agent side). */
  readonly controller: MailboxController;
  /** What the transport's channels record (optional: the transport makes one when absent). */
  readonly monitor?: SmtWireMonitor;
}

/** A {@link MailboxWire} whose monitor is there (the wire factories always make one). */
export interface MonitoredMailboxWire extends MailboxWire {
  /** What the transport's channels record: per-channel reports and violations. */
  readonly monitor: SmtWireMonitor;
}

/**
 * The platform end of a mailbox wire — what an {@link SmtResponder} needs: the same SMT areas and
 * the remote end of each mailbox channel.
 */
export interface SmtPlatformEnd {
  /** The SMT areas (the same layout as the agent's). */
  readonly layout: SmtWireLayout;
  /** The remote end of mailbox channel `index`. */
  remote(index: number): MailboxRemoteEnd;
}

/** What the agent side recorded about one SMT channel (read by tests, the demo, diagnostics). */
export interface SmtChannelReport {
  /** `a2p:0`, `p2a:0`… */
  readonly label: string;
  /** The channel's direction. */
  readonly direction: ChannelDirection;
  /** Its quiesce step ran. */
  readonly quiesced: boolean;
  /** Its free step ran (the mailbox channel and the area are released). */
  readonly freed: boolean;
  /** Free steps that ran (must be 0 or 1). */
  readonly frees: number;
  /** Completion doorbells ignored as spurious (A2P: CHANNEL_FREE clear; P2A: nothing posted). */
  readonly spurious: number;
  /** Length fields larger than the area, clamped. */
  readonly hostileLengths: number;
  /** Sends that had to wait for CHANNEL_FREE. */
  readonly busyWaits: number;
  /** Sends that failed because the channel stayed busy (E_CHANNEL_BUSY). */
  readonly busyFailures: number;
  /**
   * P2A: acknowledgements the platform asked for (INTR_ENABLED) on a node whose mailbox channels
   * cannot carry one (3 mboxes: the P2A channel is receive-only, and there is no `rx_reply`): the
   * area is freed, nothing rings. Linux tries the receive-only channel, which a unidirectional
   * controller refuses. Always 0 on other layouts.
   */
  readonly acksWithoutMailbox: number;
  /**
   * P2A: acknowledgements the mailbox channel refused (its queue full: a platform that asks for
   * them and never takes the rings); the area was freed all the same (Linux
   * `mailbox_clear_channel` ignores the error too).
   */
  readonly ackFailures: number;
  /** Rings dropped because RX had stopped (seen or not), on any of its mailbox channels. */
  readonly ignoredRings: number;
  /**
   * Of those, the ones dropped after the channel was freed without the agent seeing them (across
   * threads): they are not in `counters.refusedAfterQuiesce`. One for a message abandoned at the
   * free (see {@link SmtChannelReport.abandonedAtFree}) is taken for its reply's doorbell, and
   * counted in {@link SmtChannelReport.repliesAfterFree} instead, once that reply is in the area
   * as the report is made; until then it is counted here (the agent cannot tell, across threads,
   * whether it came before the reply or after).
   */
  readonly ignoredAfterFree: number;
  /**
   * A2P: messages abandoned to the platform at the free (0 or 1: the area holds one message) — it
   * still held the area (CHANNEL_FREE clear, no reply yet) and no doorbell was owed for it: a
   * polled message (INTR_ENABLED clear), or one whose doorbell came early, while the area was still
   * busy. A count of messages, not of replies: whether the reply came is
   * {@link SmtChannelReport.repliesAfterFree}. A reply already in the area at free is counted in
   * `counters.lateReplies` instead; one whose doorbell is owed, when that doorbell is dropped.
   */
  readonly abandonedAtFree: number;
  /**
   * A2P: replies to an abandoned message (see {@link SmtChannelReport.abandonedAtFree}) that landed
   * after the free, read from the area as the report is made (CHANNEL_FREE set: only the platform
   * can set it once the agent let the area go). Nobody reads the area any more: each is dropped
   * unseen, counted here once — a doorbell the platform rang for it is not counted again in
   * `ignoredAfterFree` or `refusedAfterQuiesce`. A doorbell rung with no reply in the area (the
   * message still the platform's) is not the reply's: counted as any ring dropped, in
   * `counters.refusedAfterQuiesce` when the agent sees it (same thread), else in `ignoredAfterFree`.
   */
  readonly repliesAfterFree: number;
  /** Core's counters of the channel (they stay readable after a failed probe). */
  readonly counters: ChannelStats;
}

/** A live record behind an {@link SmtChannelReport}. @internal */
export interface SmtChannelRecord {
  label: string;
  direction: ChannelDirection;
  quiesced: boolean;
  freed: boolean;
  frees: number;
  spurious: number;
  hostileLengths: number;
  busyWaits: number;
  busyFailures: number;
  acksWithoutMailbox: number;
  ackFailures: number;
  ignored: () => number;
  ignoredAtFree: number | undefined;
  abandonedAtFree: number;
  abandonedReplyLanded: () => boolean;
  /** Freed with the previous reply's doorbell still owed (its reply counted already). */
  owedDoorbell: () => boolean;
  counters: () => ChannelStats;
}

/**
 * What the agent side of a wire recorded: per-channel reports and **violations** — a callback
 * that ran against a freed channel, a channel freed twice. The seed-scenario tests assert that
 * the violations stay empty.
 *
 * @example
 * ```ts
 * const { wire } = createSameThreadMailboxWire(clock);
 * // … probe, fail, tear down …
 * expect(wire.monitor?.violations).toEqual([]);
 * ```
 */
export class SmtWireMonitor {
  /** What must never happen, in words (empty on a correct run). */
  public readonly violations: string[] = [];
  readonly #records = new Map<string, SmtChannelRecord>();

  /** Reports of every channel set up over the wire, in setup order. */
  public get channels(): readonly SmtChannelReport[] {
    return [...this.#records.values()].map(report);
  }

  /** The report of channel `label` (`a2p:0`), if it was set up. */
  public channel(label: string): SmtChannelReport | undefined {
    const r = this.#records.get(label);
    return r === undefined ? undefined : report(r);
  }

  /** @internal Registers a channel's record (replacing one of the same label). */
  public track(record: SmtChannelRecord): void {
    this.#records.set(record.label, record);
  }

  /** @internal Records a violation. */
  public violation(what: string): void {
    this.violations.push(what);
  }
}

function report(r: SmtChannelRecord): SmtChannelReport {
  // One read of each: across threads the count moves and the reply may land, and the fields below
  // must agree.
  const ignored = r.ignored();
  const landed = r.abandonedReplyLanded();
  return {
    label: r.label,
    direction: r.direction,
    quiesced: r.quiesced,
    freed: r.freed,
    frees: r.frees,
    spurious: r.spurious,
    hostileLengths: r.hostileLengths,
    busyWaits: r.busyWaits,
    busyFailures: r.busyFailures,
    acksWithoutMailbox: r.acksWithoutMailbox,
    ackFailures: r.ackFailures,
    ignoredRings: ignored,
    // A ring after the free of an abandoned message, once its reply is in the area, is taken for
    // that reply's doorbell: counted with the reply (`repliesAfterFree`), not here. Until the reply
    // is there, a ring is counted here, as any other. Seen in the same thread, it is absorbed as it
    // comes (only when the reply is there by then).
    // A channel freed with a doorbell owed (its reply taken or counted already): the first ring
    // after the free is that doorbell, not counted here either (seen in the same thread, it is
    // absorbed as it comes and no longer owed).
    ignoredAfterFree:
      r.ignoredAtFree === undefined
        ? 0
        : Math.max(
            0,
            ignored -
              r.ignoredAtFree -
              (landed ? r.abandonedAtFree : 0) -
              (r.owedDoorbell() ? 1 : 0),
          ),
    abandonedAtFree: r.abandonedAtFree,
    repliesAfterFree: landed ? 1 : 0,
    counters: r.counters(),
  };
}
