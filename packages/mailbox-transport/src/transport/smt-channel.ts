import {
  RxGuard,
  ScmiMessageType,
  ScmiShutdownError,
  ScmiStatus,
  ScmiTransportError,
  headerDefect,
  headerToken,
  headerType,
  replyHeaderDefect,
  type ChannelSetup,
  type NotificationBuffer,
  type TransportChannel,
  type Xfer,
} from '@scmi-ts/core';
import type { MailboxChannel, MailboxClient } from '../mailbox/mailbox-controller.js';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SMT_PAYLOAD_OFFSET,
  type SmtArea,
} from '../smt/smt-layout.js';
import type { SmtMailboxRoles } from '../smt/smt-mailbox-roles.js';
import type { SmtChannelRecord, SmtWireMonitor } from '../wire/mailbox-wire.js';
import { ChannelLock } from './channel-lock.js';

/** Waits for CHANNEL_FREE that yield to the event loop before the wait backs off to timers. */
const YIELD_POLLS = 16;
/** Longest sleep between two looks at CHANNEL_FREE, ms. */
const MAX_FREE_POLL_MS = 1;
const EMPTY = new Uint8Array(0);

/**
 * One SCMI channel over an SMT area and its mailbox channels: the agent side of Linux `shmem.c`
 * plus `transports/mailbox.c`. Internal to the package; the transport creates it in `setupChannel`.
 *
 * - A2P: `send` takes the channel lock (one message in flight per area, held until `markTxDone`,
 *   also after a timeout), waits for CHANNEL_FREE (at most `freeWaitMs`, then fails the transfer
 *   rather than write into a busy area), clears the status, sets INTR_ENABLED unless polling,
 *   writes length, header and payload, and rings. The completion doorbell is ignored and counted
 *   as spurious while CHANNEL_FREE is clear (Linux 437a310b2224: the platform sets FREE first,
 *   then rings); with FREE set its header goes to core, which matches the token — unless
 *   `pollDone` already took that reply (a polled message, or core's look at the deadline before
 *   the doorbell came): then the transfer is complete and its doorbell is not counted, not even
 *   as spurious when it finds the next command already in the area. The doorbell still owed for a
 *   reply taken so, delivered alone (one ring, as the mailbox counts them) once the next reply is in
 *   the area and before that reply's own doorbell, takes that reply to core; its own doorbell is
 *   then absorbed once, as after `pollDone` (across threads the platform sets CHANNEL_FREE and
 *   rings a moment later: the agent can look in between). A reply whose token is not
 *   that of the message last written into the area answers nothing on the wire: it is counted
 *   `unexpected` here and never handed to core (see `#foreign`). A reply nothing handed to core
 *   (it came after its transfer timed out, on a polling channel or ahead of its doorbell) is
 *   handed to core by the next `send` before it overwrites it: a late reply, counted.
 * - P2A: a doorbell with something posted (CHANNEL_FREE clear) goes to core, which fetches the
 *   notification or delayed response and calls `clearChannel` (set FREE; ring back when the
 *   platform asked for it with INTR_ENABLED).
 * - Every length the platform wrote is bounds-checked against the area: a hostile one is clamped
 *   and counted once (`oversize`), never read past; a notification shorter than its header is
 *   rejected (`invalid`), not delivered.
 * - A transfer aborted by shutdown while `send` waited (for the lock or for CHANNEL_FREE) is never
 *   written: `send` rejects with `ScmiShutdownError`.
 * - The platform's end gone for good (`remoteGone`, from the controller): a reply it completed
 *   and never rang for is taken, then everything waiting on the channel fails at once with
 *   `E_MBOX_REMOTE_GONE`, and so does every later send.
 * - Unidirectional mailbox channels (Linux `mailbox_chan_setup`): the channel is the client of
 *   its second mailbox channel too (the A2P reply channel, the P2A acknowledgement channel), so a
 *   ring there reaches the same `rxCallback`, guarded and counted alike; it rings commands on the
 *   first and acknowledgements on the acknowledgement channel (none on a 3-mbox node: counted
 *   `acksWithoutMailbox`), stops and frees both.
 */
export class SmtChannel implements TransportChannel, MailboxClient {
  public readonly maxInFlight = 1;
  readonly #setup: ChannelSetup;
  readonly #area: SmtArea;
  readonly #freeWaitMs: number;
  readonly #monitor: SmtWireMonitor;
  readonly #record: SmtChannelRecord;
  readonly #guard = new RxGuard();
  readonly #lock = new ChannelLock();
  readonly #a2p: boolean;
  readonly #roles: SmtMailboxRoles;
  /** The mailbox channel requested first (Linux `smbox->chan`): A2P TX, P2A RX. */
  #mbox: MailboxChannel | undefined;
  /**
   * The second one, on unidirectional mailbox channels: the A2P reply channel (Linux
   * `chan_receiver`) or the P2A acknowledgement channel (`chan_platform_receiver`).
   */
  #extra: MailboxChannel | undefined;
  #owner: Xfer | undefined;
  #closed = false;
  #freed = false;
  /** The platform's end is gone for good (see {@link SmtChannel.remoteGone}). */
  #gone = false;
  #wake: (() => void) | undefined;
  #seenIgnored = 0;
  /**
   * What became of the reply to the message in the area: `counted` by `pollDone` as a bad reply,
   * `polled`: taken by `pollDone` as the good reply (core completed the transfer with it, its
   * doorbell is still to come), or handed to `core` by a doorbell; `undefined` until then (reset
   * by each message written).
   */
  #replySeen: 'counted' | 'polled' | 'core' | undefined;
  /** Whether the message in the area asked for a completion doorbell (INTR_ENABLED). */
  #intrEnabled = false;
  /**
   * The previous message's completion doorbell is still to come although the area holds the next
   * message: `pollDone` took that reply (or counted it, a bad one) at the deadline, before its
   * doorbell, and the next sender wrote at once. The first doorbell that finds the area busy is
   * that one, not a spurious one: absorbed once, uncounted. One that finds the next reply already
   * there takes it to core: when
   * the delivery stands for several rings, they coalesced, and that reply's own doorbell is among
   * them; when it stands for one ring, that reply's own doorbell is still to come (the platform
   * set CHANNEL_FREE and has not rung yet — across threads the agent can look in between) and is
   * absorbed once, as after `pollDone`. Reset by each message written.
   */
  #doorbellOwed = false;
  /** Whether a message was written into the area (whose reply `#replySeen` tracks). */
  #written = false;
  /**
   * The transfer of the message in the area ended well (`markTxDone` without an error) before its
   * reply was seen: its delayed response overtook it, and the reply, when counted here, is an
   * overtaken response, not a late one. Reset by each message written.
   */
  #endedOk = false;
  /** The header of the message last written into the area (`undefined` before the first). */
  #writtenHeader: number | undefined;
  /**
   * Whether a doorbell came while the message in the area was there (other than the previous
   * message's owed one): then its doorbell is not owed any more, even if it found the area busy
   * (a platform that rings before setting CHANNEL_FREE). Reset by each message written.
   */
  #rang = false;
  /**
   * The reply to the last message was counted late at quiesce or free: a doorbell dropped after
   * that is its own, not another late reply refused.
   */
  #lateCounted = false;
  /**
   * The last message was abandoned to the platform at the free (`abandonedAtFree`): a doorbell
   * dropped after the free while its reply is in the area is that reply's, counted with it
   * (`repliesAfterFree`) — once. One with nothing in the area is not: counted as any ring refused.
   */
  #abandonedDoorbell = false;

  /** @internal Use {@link SmtChannel.open}. */
  private constructor(
    setup: ChannelSetup,
    area: SmtArea,
    roles: SmtMailboxRoles,
    freeWaitMs: number,
    monitor: SmtWireMonitor,
  ) {
    this.#setup = setup;
    this.#roles = roles;
    this.#area = area;
    this.#freeWaitMs = freeWaitMs;
    this.#monitor = monitor;
    this.#a2p = setup.direction === 'a2p';
    this.#record = {
      label: `${setup.direction}:${setup.channel.id}`,
      direction: setup.direction,
      quiesced: false,
      freed: false,
      frees: 0,
      spurious: 0,
      hostileLengths: 0,
      busyWaits: 0,
      busyFailures: 0,
      acksWithoutMailbox: 0,
      ackFailures: 0,
      ignored: () => this.#ignored(),
      ignoredAtFree: undefined,
      abandonedAtFree: 0,
      abandonedReplyLanded: () => this.#record.abandonedAtFree > 0 && this.#area.isFree(),
      owedDoorbell: () => this.#freed && this.#doorbellOwed,
      counters: () => setup.counters.snapshot(),
    };
  }

  /**
   * Creates the channel over `area` and binds it, as one client, to its mailbox channels (`roles`:
   * the main one, and on unidirectional ones the reply or acknowledgement channel), which start
   * delivering doorbells to it — as Linux `mailbox_chan_setup` requests `chan` and then
   * `chan_receiver` / `chan_platform_receiver` with the same `mbox_client`.
   *
   * @throws ScmiTransportError from the controller (`E_MBOX_BUSY`, `E_MBOX_INDEX`…); a mailbox
   * channel requested before the one that failed is freed first (Linux `mailbox_chan_setup`
   * returns without freeing `chan` when `chan_receiver`'s request fails).
   */
  public static open(
    setup: ChannelSetup,
    area: SmtArea,
    roles: SmtMailboxRoles,
    request: (index: number, client: MailboxClient) => MailboxChannel,
    freeWaitMs: number,
    monitor: SmtWireMonitor,
  ): SmtChannel {
    const channel = new SmtChannel(setup, area, roles, freeWaitMs, monitor);
    const main = request(roles.main, channel);
    channel.#mbox = main;
    if (roles.extra !== undefined) {
      try {
        channel.#extra = request(roles.extra, channel);
      } catch (e) {
        main.free();
        throw e;
      }
    }
    // Tracked once the mailbox channels are ours: a refused setup (E_MBOX_BUSY, another agent on
    // the wire) must not replace the report of the channel that holds them.
    monitor.track(channel.#record);
    return channel;
  }

  /**
   * Linux `cl->knows_txdone = tx` (`mailbox_chan_setup`): the A2P client completes its
   * transmissions itself (`mark_txdone`, on a polled controller), the P2A client does not.
   */
  public get knowsTxDone(): boolean {
    return this.#a2p;
  }

  /** `a2p:0`… */
  public get label(): string {
    return this.#record.label;
  }

  // ---- TransportChannel ---------------------------------------------------------------------

  public send(xfer: Xfer): void | Promise<void> {
    if (this.#closed) throw new ScmiShutdownError(this.#setup.agent);
    if (this.#gone) throw this.#goneError();
    if (!this.#lock.tryAcquire()) return this.#sendAfterLock(xfer);
    this.#owner = xfer;
    if (this.#area.isFree()) {
      this.#write(xfer);
      return undefined;
    }
    return this.#waitFreeThenWrite(xfer);
  }

  public fetchResponse(xfer: Xfer, ctx?: unknown): void {
    if (!this.#live('fetchResponse')) return;
    const area = this.#area;
    if ((area.status() & SMT_CHANNEL_ERROR) !== 0) {
      // The platform reports a transport failure (OP-TEE smt.c sets ERROR|FREE): no valid payload,
      // and the length field is not read, so a stale or garbage one is not counted `oversize` —
      // the reply is what it says, a COMMS_ERROR.
      xfer.receiveResponse(ScmiStatus.COMMS_ERROR, EMPTY, 0, 0);
      return;
    }
    const length = this.#lengthOf(ctx);
    if (length > area.maxLength) {
      // Linux shmem_fetch_response: rx.len = min(expected, length − 8), here also clamped to the
      // area. Counted `oversize` here, once; core counts `oversize` too when a payload is longer
      // than the transfer's rxMax (Xfer.truncated), so it is handed no more than rxMax: a hostile
      // length counts once whatever the caller's rxSize.
      this.#countHostile();
      const payload = Math.min(area.maxPayload - 4, xfer.rxMax);
      xfer.receiveResponse(area.payloadI32(), area.bytes, SMT_PAYLOAD_OFFSET + 4, payload);
      return;
    }
    if (length < 8) {
      // Not even a status word: a malformed response (Linux would read a stale status word).
      this.#setup.sink.badMessage('invalid');
      xfer.receiveResponse(ScmiStatus.PROTOCOL_ERROR, EMPTY, 0, 0);
      return;
    }
    // Linux shmem_fetch_response: rx.len = min(expected, length − 8) (core clamps to rxMax).
    xfer.receiveResponse(area.payloadI32(), area.bytes, SMT_PAYLOAD_OFFSET + 4, length - 8);
  }

  public fetchNotification(buffer: NotificationBuffer, ctx?: unknown): void {
    if (!this.#live('fetchNotification')) return;
    const area = this.#area;
    const length = this.#lengthOf(ctx);
    // Linux shmem_fetch_notification: length − 4 bytes of payload after the header. A length
    // under 4 never gets here (rxCallback rejects it before core queues anything).
    if (length > area.maxLength) {
      // Counted `oversize` here, once: core's notification hub counts `oversize` too when the
      // buffer clamps (NotificationBuffer.truncated), so it is handed no more than its capacity.
      this.#countHostile();
      buffer.receive(
        area.bytes,
        SMT_PAYLOAD_OFFSET,
        Math.min(area.maxPayload, buffer.data.byteLength),
      );
      return;
    }
    buffer.receive(area.bytes, SMT_PAYLOAD_OFFSET, length - 4);
  }

  public clearChannel(): void {
    if (!this.#live('clearChannel')) return;
    const area = this.#area;
    area.setStatus(SMT_CHANNEL_FREE);
    // Linux mailbox_clear_channel: tell the platform the slot is free when it asked to know, on
    // chan_platform_receiver when the node has one (4 mboxes), else on chan.
    if ((area.flags() & SMT_FLAG_INTR_ENABLED) !== 0) {
      if (this.#roles.agentRings === undefined) {
        // 3 mboxes: chan is the receive-only rx channel. Linux sends on it all the same, and a
        // unidirectional controller refuses (MHUv2's receiver send_data: -EIO, "Trying to
        // transmit on a receiver MHU frame"). Here nothing rings, and the request is counted.
        this.#record.acksWithoutMailbox++;
        return;
      }
      const mbox = this.#roles.extra === undefined ? this.#mbox : this.#extra;
      if (mbox === undefined || mbox.freed) return;
      try {
        mbox.send();
        mbox.clientTxDone();
      } catch {
        // The ring back is best effort: the platform also sees FREE when it looks. Counted.
        this.#record.ackFailures++;
      }
    }
  }

  public pollDone(xfer: Xfer): boolean {
    if (!this.#live('pollDone')) return false;
    // Status first (an atomic load), then the header written before it (Linux shmem_poll_done).
    const status = this.#area.status();
    if ((status & (SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR)) === 0) return false;
    const reason = replyHeaderDefect(this.#area.header(), xfer.header);
    if (reason === undefined) {
      // Core completes the transfer with this reply now (a polled transfer, or the deadline's look
      // before a late doorbell): its doorbell, when the platform rings, is not a reply for core.
      this.#replySeen = 'polled';
      return true;
    }
    // Linux matches the token only, and would take a reply of another type or to another
    // protocol or message as this one's. Not here: the transfer is left to time out. The reply
    // is counted here (a polled transfer, or the deadline's look before a late doorbell) unless a
    // doorbell already handed it to core, which counted it; a doorbell after this is not.
    if (this.#replySeen === undefined) {
      this.#replySeen = 'counted';
      this.#setup.sink.badMessage(reason);
    }
    return false;
  }

  public markTxDone(xfer: Xfer, error: unknown): void {
    if (this.#owner !== xfer) return;
    this.#owner = undefined;
    this.#endedOk = error === undefined;
    // Linux mailbox_mark_txdone: mbox_client_txdone on chan, the TX channel (nothing is sent on
    // chan_receiver); a no-op unless the controller polls (see MailboxLineChannel).
    const mbox = this.#mbox;
    if (mbox !== undefined && !mbox.freed) mbox.clientTxDone(error);
    this.#lock.release();
  }

  public async quiesce(): Promise<void> {
    this.#closed = true;
    const drained = this.#guard.quiesce();
    this.#countUnseenReply();
    this.#mbox?.stopRx();
    this.#extra?.stopRx();
    this.#lock.close();
    this.#wake?.();
    await drained;
    this.#record.quiesced = true;
  }

  public free(): void {
    this.#record.frees++;
    if (this.#freed) {
      this.#monitor.violation(`${this.label}: freed twice`);
      return;
    }
    // A reply that came between the quiesce and now (a polled transfer still ending its loop), or
    // the message abandoned to the platform (no doorbell owed, the area still the platform's).
    const abandoned = this.#countUnseenReply(true);
    this.#freed = true;
    this.#closed = true;
    this.#lock.close();
    this.#wake?.();
    const mbox = this.#mbox;
    if (mbox !== undefined) {
      // Drops across threads are not seen as they happen: count the ones since RX stopped. One
      // read: the platform's thread may ring between two, and a ring that landed after the count
      // but before `ignoredAtFree` was taken would be counted neither here nor after free.
      const ignored = this.#ignored();
      let dropped = Math.max(0, ignored - this.#seenIgnored);
      // The first ring dropped was the previous reply's owed doorbell: that reply was counted.
      if (dropped > 0 && this.#absorbOwedDoorbell()) dropped--;
      if (this.#lateCounted && dropped > 0) {
        // The first ring dropped was the doorbell of the reply counted late already.
        this.#lateCounted = false;
        dropped--;
      }
      this.#setup.counters.refusedAfterQuiesce += dropped;
      this.#seenIgnored = ignored;
      this.#record.ignoredAtFree = ignored;
      // Linux mailbox_chan_free: chan, then chan_receiver and chan_platform_receiver.
      mbox.free();
      this.#extra?.free();
    }
    if (abandoned) {
      // Counted once, here, whatever comes of it: the wire's record tells whether its reply landed
      // (`repliesAfterFree`), and a doorbell rung for it after the free, once the reply is there, is
      // its own, not another reply refused (the rings dropped before the free, counted above, were
      // not its reply's: the area was still busy). Seen here, such a drop is absorbed (see
      // rxIgnored); across threads the record takes one off `ignoredAfterFree` once the reply is
      // there. A ring with nothing in the area is counted as any other ring dropped.
      this.#record.abandonedAtFree++;
      this.#abandonedDoorbell = true;
    }
    this.#record.freed = true;
  }

  // ---- MailboxClient ------------------------------------------------------------------------

  /**
   * A doorbell (see the class comment); `rings`: how many rings the mailbox delivers in this call,
   * when it knows (they coalesce).
   */
  public rxCallback(rings?: number): void {
    const guard = this.#guard;
    if (!guard.enter()) {
      // The previous reply's owed doorbell (see #doorbellOwed), late: that reply was counted.
      if (this.#absorbOwedDoorbell()) return;
      this.#setup.counters.refusedAfterQuiesce++;
      return;
    }
    try {
      if (!this.#live('rx callback')) return;
      const free = this.#area.isFree();
      // A2P: the platform still owns the area, so this doorbell cannot be a completion (Linux
      // 437a310b2224: a stale IRQ of a timed-out reply must not complete the next transfer).
      // P2A: nothing was posted.
      if (free !== this.#a2p) {
        if (this.#doorbellOwed) {
          // The previous reply's doorbell, late (see #doorbellOwed): not spurious.
          this.#doorbellOwed = false;
          return;
        }
        this.#rang = true;
        this.#record.spurious++;
        this.#setup.sink.badMessage('spurious');
        return;
      }
      if (this.#a2p) {
        this.#wake?.();
        if (this.#doorbellOwed && rings === 1) {
          // The previous reply's doorbell alone (see #doorbellOwed), late: it finds this message's
          // reply already there, whose own doorbell is still to come. Not this message's doorbell
          // (`#rang` stays clear). The reply is taken now — or was, by pollDone — and its own
          // doorbell absorbed once when it comes ('polled'): handed to core again it would be
          // counted `unexpected`, and on the next message, written meanwhile, `spurious`.
          this.#doorbellOwed = false;
          if (this.#replySeen !== undefined) return;
          const header = this.#area.header();
          if (this.#foreign(header)) return;
          this.#replySeen = 'polled';
          this.#setup.sink.rx(header, undefined);
          return;
        }
        // An owed doorbell coalesced with this one (or the count is not known): consumed here.
        this.#doorbellOwed = false;
        this.#rang = true;
        // A platform may ring even for a polled message (INTR_ENABLED clear). Each reply is
        // counted once: not handed to core when pollDone counted it already (pollDone still
        // completes the transfer if a good reply replaces it), and pollDone does not count one
        // handed to core.
        if (this.#replySeen === 'counted') return;
        if (this.#replySeen === 'polled') {
          // The doorbell of a reply pollDone already took (the deadline's look found it before
          // the doorbell came, or the platform rang for a polled message): core completed the
          // transfer with it, so handing the header over would count a good reply `unexpected`.
          // Only this one doorbell: a later one for the same reply goes to core, as before.
          this.#replySeen = 'core';
          return;
        }
        const header = this.#area.header();
        if (this.#foreign(header)) return;
        this.#replySeen = 'core';
        this.#setup.sink.rx(header, undefined);
        return;
      }
      // P2A: the length is read once, here, and handed to the fetch as `ctx`, so the check below
      // and the copy see the same value even if the platform rewrites it meanwhile (worker mode).
      const header = this.#area.header();
      const length = this.#area.length();
      if (length < 4 && headerType(header) === ScmiMessageType.NOTIFICATION) {
        // Shorter than its own header word: older Linux shmem_fetch_notification underflowed
        // length − 4 (clamped to max_len, a whole area of stale bytes); current Linux delivers an
        // empty payload (`len > 4 ? len - 4 : 0`). Rejected here as malformed, counted
        // `invalid` once and never queued (core's hub queues whatever fetchNotification copies);
        // the area goes back to the platform as after any notification (mailbox_clear_channel).
        this.#setup.sink.badMessage('invalid');
        this.clearChannel();
        return;
      }
      this.#setup.sink.rx(header, length);
    } finally {
      guard.exit();
    }
  }

  /**
   * The platform's thread is gone (see {@link MailboxClient.remoteGone}). On an A2P channel, a
   * reply the platform completed before it went (CHANNEL_FREE set, its doorbell not seen) is taken
   * first, as its doorbell would have been — and that doorbell, should it still be delivered (rung
   * before the thread went), is absorbed, not handed to core again. A message posted in a P2A area
   * and not rung is not taken: the platform clears CHANNEL_FREE before it writes, so a busy area
   * may hold a half-written message or the last one again. Then the commands waiting for the
   * channel (the lock, or CHANNEL_FREE) fail with `E_MBOX_REMOTE_GONE`, unwritten, and core fails
   * at once, with the same error, the transfers waiting for what this channel would carry
   * (`failInFlight`: A2P, the command in the area; P2A, the delayed responses). Later sends fail
   * at once. Nothing is called into core once the channel quiesced (the agent's shutdown failed
   * everything). Idempotent: a channel on a pair of unidirectional mailbox channels hears it from
   * both.
   */
  public remoteGone(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#lock.close();
    this.#wake?.();
    if (this.#closed) return;
    if (this.#a2p && this.#written && this.#replySeen === undefined && this.#area.isFree()) {
      this.rxCallback();
      this.#absorbDoorbellOfTaken();
    }
    const guard = this.#guard;
    if (guard.closed || !guard.enter()) return;
    try {
      this.#setup.sink.failInFlight(this.#goneError());
    } finally {
      guard.exit();
    }
  }

  /** A reply handed to core without its doorbell: that doorbell, if still to come, is absorbed once (as after pollDone). */
  #absorbDoorbellOfTaken(): void {
    if (this.#replySeen === 'core') this.#replySeen = 'polled';
  }

  #goneError(): ScmiTransportError {
    return new ScmiTransportError(
      'E_MBOX_REMOTE_GONE',
      `${this.#setup.agent}: the platform's end of SMT channel ${this.label} is gone (its thread exited): nothing will answer`,
    );
  }

  public rxIgnored(): void {
    // A doorbell after quiesce, dropped by the mailbox: a late reply refused and counted — unless
    // it is the doorbell of the reply the quiesce (or free) already counted late, or of the reply
    // to the message abandoned at the free, landed in the area (counted as `repliesAfterFree`).
    this.#seenIgnored++;
    if (this.#record.ignoredAtFree !== undefined) this.#record.ignoredAtFree++;
    // The previous reply's owed doorbell (see #doorbellOwed), late: that reply was counted.
    if (this.#absorbOwedDoorbell()) return;
    if (this.#abandonedDoorbell && this.#area.isFree()) {
      this.#abandonedDoorbell = false;
      return;
    }
    if (this.#lateCounted) {
      this.#lateCounted = false;
      return;
    }
    this.#setup.counters.refusedAfterQuiesce++;
    // The reply to the last message, in the area (CHANNEL_FREE) and counted nowhere yet: this was
    // its doorbell (a polled message's too, when the platform rings all the same), refused and
    // counted now — the free must not count it late again.
    if (
      this.#a2p &&
      !this.#freed &&
      this.#written &&
      this.#replySeen === undefined &&
      this.#area.isFree()
    ) {
      this.#replySeen = 'counted';
    }
  }

  /**
   * At quiesce and at free: the reply to the last message written, found in the area and never
   * handed to core (its transfer ended: timed out, or failed by the shutdown — or completed by
   * its delayed response, which overtook it: counted `overtakenResponses` then), is counted late,
   * once — when no doorbell will bring it: a polled message's (none is owed), or one whose doorbell
   * already came (it found the area still busy, and FREE was set after). An interrupt message
   * whose doorbell is still owed is counted when that doorbell is dropped after the quiesce. At free
   * (`atFree`), such a message whose reply has not come (the platform still holds the area) is
   * counted abandoned instead (the wire record's `abandonedAtFree`).
   */
  #countUnseenReply(atFree = false): boolean {
    if (!this.#a2p || !this.#written || this.#replySeen !== undefined) return false;
    if (this.#intrEnabled && !this.#rang) return false;
    if (this.#freed) return false;
    // One read of the status: in worker mode the platform may set CHANNEL_FREE meanwhile, and the
    // reply must be counted late or abandoned, not neither.
    if (!this.#area.isFree()) {
      // At free, the platform still holds the area and no doorbell is owed: the message is
      // abandoned to it, and its reply, if it comes, lands where nobody reads (see free()).
      return atFree;
    }
    this.#lateCounted = true;
    if (this.#foreign(this.#area.header())) return false; // not a reply to it: `unexpected`
    this.#replySeen = 'counted';
    // Its transfer ended well (markTxDone), or is completed by its delayed response and not yet
    // ended (the quiesce runs before the channel's last operation ends): an overtaken response.
    if (this.#endedOk || this.#owner?.responseOwed === true)
      this.#setup.counters.overtakenResponses++;
    else this.#setup.counters.lateReplies++;
    return false;
  }

  // ---- internals ----------------------------------------------------------------------------

  /**
   * After the quiesce: a doorbell the channel no longer takes is, first, the previous reply's owed
   * one (see #doorbellOwed) — that reply was taken or counted already, so the doorbell is absorbed
   * once, uncounted, as on a live channel. True when it was.
   */
  #absorbOwedDoorbell(): boolean {
    if (!this.#doorbellOwed) return false;
    this.#doorbellOwed = false;
    return true;
  }

  /** Rings dropped after RX stopped, on every mailbox channel of this channel. */
  #ignored(): number {
    return (this.#mbox?.ignored ?? 0) + (this.#extra?.ignored ?? 0);
  }

  /**
   * True, and the reply counted `unexpected` once, when `header` is a valid header with another
   * token than the message last written into the area (or when none was written). The area holds
   * one message at a time, so such a reply answers nothing that is on the wire; core, which looks
   * tokens up agent-wide, would take it for a transfer still waiting for the channel lock (its
   * token is predictable) and complete that transfer before it is written. Linux has the same
   * gap: `scmi_rx_callback` looks the token up among all pending transfers, and `do_xfer` marks a
   * transfer SENT_OK before the mailbox framework writes it. Headers with reserved bits or of the
   * unused type are left to core, which counts them as it counts them on every path.
   */
  #foreign(header: number): boolean {
    if (headerDefect(header) !== undefined) return false;
    const written = this.#writtenHeader;
    if (written !== undefined && headerToken(header) === headerToken(written)) return false;
    this.#replySeen = 'counted';
    this.#setup.sink.badMessage('unexpected');
    return true;
  }

  /** False (and a recorded violation) when the channel was freed: nothing may touch it then. */
  #live(what: string): boolean {
    if (!this.#freed) return true;
    this.#monitor.violation(`${this.label}: ${what} ran after free`);
    return false;
  }

  /** The length field as rxCallback read it (P2A), or as the area holds it now (A2P, polling). */
  #lengthOf(ctx: unknown): number {
    return typeof ctx === 'number' ? ctx : this.#area.length();
  }

  /** Counts a length field larger than the area (`oversize`, and in the wire monitor's record). */
  #countHostile(): void {
    this.#record.hostileLengths++;
    this.#setup.sink.badMessage('oversize');
  }

  async #sendAfterLock(xfer: Xfer): Promise<void> {
    const acquired = await this.#lock.acquire();
    // Closed while waiting (shutdown, or the platform gone): the transfer was failed by shutdown
    // already, or fails now. Either way nothing was written, so send rejects: resolving would tell
    // core the command went out (it counts it `sent`); on a rejection it counts the failure unless
    // shutdown already did.
    if (!acquired) throw this.#stoppedError(xfer);
    this.#owner = xfer;
    if (this.#area.isFree()) {
      this.#abortIfStopped(xfer);
      this.#write(xfer);
      return;
    }
    await this.#waitFreeThenWrite(xfer);
  }

  /**
   * Throws (after releasing the lock: core calls no markTxDone for a send that rejects)
   * `ScmiShutdownError` when shutdown aborted `xfer` or closed the channel while `send` waited,
   * `E_MBOX_REMOTE_GONE` when the platform's end went meanwhile.
   */
  #abortIfStopped(xfer: Xfer): void {
    if (!this.#closed && !this.#gone && xfer.state === 'sent') return;
    this.#owner = undefined;
    this.#lock.release();
    throw this.#stoppedError(xfer);
  }

  /**
   * Why a send of `xfer` that waited stops unwritten: the platform's end gone, unless shutdown
   * failed the transfer or closed the channel (then that is what its caller learns).
   */
  #stoppedError(xfer: Xfer): Error {
    return this.#gone && !this.#closed && xfer.state === 'sent'
      ? this.#goneError()
      : new ScmiShutdownError(this.#setup.agent);
  }

  /**
   * Linux shmem_tx_prepare: wait until the platform frees the area, at most `freeWaitMs` (2× the
   * RX timeout), yielding between looks; then fail the transfer rather than overwrite a response
   * the platform is still writing.
   */
  async #waitFreeThenWrite(xfer: Xfer): Promise<void> {
    try {
      await this.#waitFree(xfer);
    } catch (error: unknown) {
      // Whatever failed the wait (the clock's yield or timer threw), the lock is let go: core
      // calls no markTxDone for a send that rejects, and every later send would wait for ever.
      if (this.#owner === xfer) {
        this.#owner = undefined;
        this.#lock.release();
      }
      throw error;
    }
    this.#abortIfStopped(xfer);
    this.#write(xfer);
  }

  /** The wait for CHANNEL_FREE of `#waitFreeThenWrite`; throws as it says. */
  async #waitFree(xfer: Xfer): Promise<void> {
    const clock = this.#setup.clock;
    const deadline = clock.now() + this.#freeWaitMs;
    this.#record.busyWaits++;
    let polls = 0;
    while (!this.#area.isFree()) {
      // Shut down meanwhile: nothing is written, send rejects.
      this.#abortIfStopped(xfer);
      const left = deadline - clock.now();
      if (left <= 0) {
        this.#owner = undefined;
        this.#lock.release();
        this.#record.busyFailures++;
        throw new ScmiTransportError(
          'E_CHANNEL_BUSY',
          `${this.#setup.agent}: SMT channel ${this.label} still busy after ${this.#freeWaitMs} ms: the platform has not freed it; not writing into it`,
        );
      }
      if (polls++ < YIELD_POLLS) await clock.yield();
      else await this.#sleep(Math.min(MAX_FREE_POLL_MS, left));
    }
  }

  /** Sleeps on the clock; a doorbell, quiesce or free wakes it early. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.#setup.clock.setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        this.#wake = undefined;
        timer.cancel();
        resolve();
      };
    });
  }

  /**
   * Hands core the reply the area holds when nothing has yet (no doorbell, no `pollDone`): the
   * previous message's transfer gave up on it, or its delayed response overtook it, and the
   * platform answered after (a polled message is never looked at again; an interrupt message's
   * doorbell may still be on its way). Core counts it (`lateReplies` for the retired token,
   * `overtakenResponses` for an overtaken one) before `next` overwrites it — a late reply is
   * dropped *and counted*, whatever the completion mode. Not when its token is `next`'s own (the
   * token space wrapped): core would take it for `next`'s reply. A reply with another token than
   * the message's is counted `unexpected` here instead (see `#foreign`). True when the reply was
   * handed over or counted: its doorbell, if one is still owed, is then that reply's own.
   */
  #takeUnseenReply(next: Xfer): boolean {
    if (!this.#written || this.#replySeen !== undefined) return false;
    const header = this.#area.header();
    if (this.#foreign(header)) return true;
    if (headerToken(header) === headerToken(next.header) || !this.#guard.enter()) return false;
    try {
      this.#replySeen = 'core';
      this.#setup.sink.rx(header, undefined);
    } finally {
      this.#guard.exit();
    }
    return true;
  }

  /** Writes the command into the area (the lock is held and the area is free) and rings. */
  #write(xfer: Xfer): void {
    const area = this.#area;
    const taken = this.#takeUnseenReply(xfer);
    // A doorbell asked for and not come yet: the reply pollDone took or counted (a bad reply found
    // at the deadline), or the unseen one just handed to core or counted, was an interrupt
    // message's. (A reply #foreign counted with its doorbell still to come, from the owed path of
    // rxCallback, owes it too; the quiesce's and the free's counts come after the last write.)
    this.#doorbellOwed =
      (taken || this.#replySeen === 'polled' || this.#replySeen === 'counted') &&
      this.#intrEnabled &&
      !this.#rang;
    this.#written = true;
    this.#endedOk = false;
    this.#writtenHeader = xfer.header;
    this.#rang = false;
    this.#intrEnabled = !xfer.polling;
    this.#replySeen = undefined;
    area.setStatus(0); // busy, error cleared
    area.setFlags(xfer.polling ? 0 : SMT_FLAG_INTR_ENABLED);
    area.setLength(4 + xfer.txLen);
    area.setHeader(xfer.header);
    area.writePayload(xfer.tx, 0, xfer.txLen);
    try {
      (this.#mbox as MailboxChannel).send();
    } catch (e) {
      this.#owner = undefined;
      this.#lock.release();
      throw e;
    }
  }
}
