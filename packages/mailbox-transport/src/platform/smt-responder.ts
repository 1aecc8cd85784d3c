import {
  isCommandHeader,
  readU32,
  sameCommandHeader,
  type Clock,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
  type TimerHandle,
} from '@scmi-ts/core';
import type { MailboxRemoteEnd } from '../mailbox/mailbox-controller.js';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SMT_HEADER_OFFSET,
  SmtArea,
  fitSmtResponse,
} from '../smt/smt-layout.js';
import { checkSmtMailboxRoles, smtMailboxRoles } from '../smt/smt-mailbox-roles.js';
import type { SmtChannelSpec } from '../smt/smt-wire-layout.js';
import type { SmtPlatformEnd } from '../wire/mailbox-wire.js';
import type { SmtFaultAction, SmtFaultRule } from './smt-fault-rule.js';
import { SmtFaultInjector } from './smt-fault-injector.js';

/** Options of an {@link SmtResponder}. */
export interface SmtResponderOptions {
  /** The platform (firmware) that answers: an `ScmiPlatform`, or any {@link @scmi-ts/core!ScmiPlatformPort}. */
  readonly platform: ScmiPlatformPort;
  /** The agent id the platform knows this wire's agent by. */
  readonly agentId: number;
  /** The platform end of the wire. */
  readonly end: SmtPlatformEnd;
  /** The clock of fault timers (the platform's clock). */
  readonly clock: Clock;
  /** Wire-level fault rules to add at once. */
  readonly faults?: readonly SmtFaultRule[];
  /**
   * Notifications and delayed responses queued while the P2A area is busy (default 32); a message
   * a `spurious-doorbell` fault holds back waits ahead of them, outside this depth.
   */
  readonly p2aQueueDepth?: number;
}

/** What an {@link SmtResponder} counted. */
export interface SmtResponderCounters {
  /**
   * Commands read from an A2P area and handed to the platform (one a `spurious-doorbell` fault
   * delays is counted when read, and handed later — unless answered meanwhile, see
   * `strayResponsesDropped`).
   */
  readonly requests: number;
  /** Responses written into an A2P area (now or later). */
  readonly responses: number;
  /** Responses the platform sent later (`link.respond`) to a command still pending. */
  readonly lateResponses: number;
  /**
   * Responses for no pending command (duplicates, unsolicited, late after the command was
   * answered), responses to another command than the pending one (by the command the platform
   * names, or else a copy of the response to one of the last commands answered), or for no A2P
   * channel, dropped: never written, since the area is then the agent's (CHANNEL_FREE set) or
   * holds its next request. The delayed answer of a `spurious-doorbell` fault whose command was
   * answered meanwhile (an unsolicited `link.respond`) is one too: that command is then never
   * handed to the platform.
   */
  readonly strayResponsesDropped: number;
  /**
   * Requests answered CHANNEL_ERROR: a length field out of bounds or CHANNEL_ERROR left set in
   * the status (the platform never sees them), or a header that is not a command (reserved bits
   * set, another message type; the platform sees it and drops it).
   */
  readonly malformedRequests: number;
  /**
   * Requests whose `platform.handle` threw (a platform breaking its contract), a header that is
   * not a command included (then not counted in `malformedRequests` too): the area goes back with
   * CHANNEL_ERROR, as for a malformed request, and the channel serves the next command.
   */
  readonly platformErrors: number;
  /**
   * Responses larger than the area (a platform that ignored the link's `maxMsgSize`): answered
   * PROTOCOL_ERROR with the response's header instead of cut to fit — a cut response would read
   * as a success missing return values. SCP-firmware's `smt_respond` copies what its SCMI layer
   * sized to the mailbox and checks nothing.
   */
  readonly responsesTooLarge: number;
  /** Agent doorbells with CHANNEL_FREE set (nothing to do). */
  readonly ringsWhileFree: number;
  /** Agent doorbells while a command was already being processed. */
  readonly ringsWhileBusy: number;
  /** Notifications and delayed responses written into the P2A area. */
  readonly p2aPosted: number;
  /**
   * Posts refused (no P2A channel, queue full, closed, or a message larger than the area: a
   * platform that ignored the link's `maxMsgSize`).
   */
  readonly p2aRefused: number;
  /**
   * Posts waiting for the P2A area now: the queue, and a message a P2A `spurious-doorbell` fault
   * holds back (so at most one more than `p2aQueueDepth`).
   */
  readonly p2aQueued: number;
}

/**
 * Headers remembered per A2P channel (the last commands answered, and the rewritten headers of
 * their responses), to recognise a late copy of their responses when the platform does not name
 * the command a response answers.
 */
const ANSWERED_KEPT = 16;

/** What {@link SmtResponder} `#callPlatform` returns when the platform's `handle` threw. */
const THREW = Symbol('threw');

/** Remembers `header` as answered on `c`, forgetting the oldest beyond {@link ANSWERED_KEPT}. */
function remember(c: A2pChannel, header: number): void {
  c.answered.push(header);
  if (c.answered.length > ANSWERED_KEPT) c.answered.shift();
}

/**
 * Whether a response the platform sends later (`link.respond`) answers the command pending on
 * channel `c` (which must be awaiting an answer).
 *
 * With `command` (the header word of the command the platform says it answers) that is exact:
 * the response answers the pending command when `command` names it (same token, protocol id and
 * message id), whatever the response's own header says — a header a fault rule rewrote reaches
 * the agent, which must reject it.
 *
 * Without it (an unsolicited response, or a platform that does not say) only the response's
 * header is there: it answers the pending command unless it is a copy of the response to a
 * command answered before (a duplicate, or a late reply after the command was answered) — same
 * token, protocol id and message id as one of the last answered commands or of their responses
 * as sent, and not the pending one's. Any other response is taken as the pending command's,
 * rewritten by a fault rule if it does not match it: dropped, it would leave the area busy for
 * good. (A rule that rewrites the pending command's response to exactly a remembered header makes
 * it look like a copy: it is then dropped and the command gets no answer — the case `command`
 * settles.)
 */
function answersPending(c: A2pChannel, response: Uint8Array, command: number | undefined): boolean {
  if (command !== undefined) return sameCommandHeader(command, c.header);
  return !answersEarlierCommand(c, response);
}

/** Whether `response` is a copy of the response to one of the last commands `c` answered. */
function answersEarlierCommand(c: A2pChannel, response: Uint8Array): boolean {
  if (response.byteLength < 4) return false;
  const header = readU32(response, 0);
  return (
    !sameCommandHeader(header, c.header) && c.answered.some((h) => sameCommandHeader(h, header))
  );
}

interface A2pChannel {
  readonly spec: SmtChannelSpec;
  readonly area: SmtArea;
  /** Where the agent rings its commands (the responder listens). */
  readonly remote: MailboxRemoteEnd;
  /** Where the responder rings the reply: `remote`, or the node's `tx_reply` channel. */
  readonly reply: MailboxRemoteEnd;
  /** A command was read and not answered yet. */
  awaiting: boolean;
  /** The header word of the command read last (the pending one while `awaiting`). */
  header: number;
  /**
   * Commands read so far: a spurious-doorbell fault's delayed handling checks that its command is
   * still the pending one (an unsolicited `link.respond` may have answered it meanwhile, and the
   * agent written its next command, with any header, into the area).
   */
  reads: number;
  /**
   * Header words of the last commands answered and of their responses as sent when rewritten,
   * newest last (at most {@link ANSWERED_KEPT}).
   */
  readonly answered: number[];
  /** The fault chosen for the pending command. */
  fault: SmtFaultAction | undefined;
  /** A stuck-busy fault holds the area until its timer (or forever). */
  stuck: boolean;
  /**
   * The command as the responder read it: copied out of the area once, then checked and handed to
   * the platform, so that an agent rewriting the area meanwhile cannot change what was checked.
   */
  readonly request: Uint8Array;
}

interface P2aChannel {
  readonly spec: SmtChannelSpec;
  readonly area: SmtArea;
  /** Where the responder rings a posted message. */
  readonly remote: MailboxRemoteEnd;
  /**
   * Where the agent acknowledges (the responder listens): `remote`, or the node's `rx_reply`
   * channel; undefined on a 3-mbox node, where the responder polls CHANNEL_FREE instead.
   */
  readonly ack: MailboxRemoteEnd | undefined;
  readonly queue: Uint8Array[];
  /**
   * The message a spurious-doorbell fault holds back (rung for with nothing posted, written after
   * its delay): accepted and chosen for the area, so it goes before the queue, and the area counts
   * as taken while it is held — later posts queue behind it (or are refused when the queue is
   * full), never overtake it. Outside the queue's depth, as a message in the area is.
   */
  held: Uint8Array | undefined;
  /** The fault's delay of {@link P2aChannel.held} still runs: not written before it ends. */
  delaying: boolean;
  /** A CHANNEL_FREE poll is armed (no acknowledgement channel). */
  polling: boolean;
}

/** Posts accepted and not written yet: the queue, and a message a fault holds back. */
function waiting(p: P2aChannel): number {
  return p.queue.length + (p.held === undefined ? 0 : 1);
}

/** Period of the CHANNEL_FREE poll of a P2A channel without acknowledgement channel, ms. */
const P2A_POLL_MS = 1;

/**
 * The platform side of the mailbox transport: an SMT responder that connects the SMT areas and
 * mailbox channels of a wire to the platform, through core's platform-side contract. It works the
 * same in the agent's thread (a same-thread wire, virtual time) and in a worker (a shared wire,
 * served with core's worker host, see {@link createSmtWorkerHandlers}).
 *
 * - A2P: on the agent's doorbell, if the platform owns the area (CHANNEL_FREE clear) and nothing
 *   is pending, it reads length (bounds-checked: a length out of the area is answered
 *   CHANNEL_ERROR), header and payload, and calls `platform.handle`. A response (now, or later
 *   through `link.respond`) is written over the request (header, status, return values, length),
 *   then CHANNEL_FREE is set, then — when the agent set INTR_ENABLED — the completion doorbell
 *   rings. A response the platform sends for no pending command (a duplicate, an unsolicited
 *   reply) is dropped and counted, never written: the area is the agent's then.
 * - P2A: `link.post` writes a notification or delayed response into the P2A area when the agent
 *   has freed it (CHANNEL_FREE set), asking for a doorbell back (INTR_ENABLED), and rings; while
 *   the area is busy posts wait in a bounded queue, written one by one as the agent frees it (on
 *   its acknowledgement; at the next post, for an agent that freed the area without ringing).
 * - Wire-level fault rules ({@link SmtFaultRule}): a channel stuck busy, a hostile length, a
 *   spurious doorbell, a response without CHANNEL_FREE, CHANNEL_FREE before the payload.
 * - Mailbox layouts (the channel specs' `replyMailbox` / `ackMailbox`, Linux
 *   `mailbox_chan_validate`): it listens where the agent rings (an A2P channel's `mailbox`; a P2A
 *   channel's `ackMailbox`, or its `mailbox` when bidirectional) and rings where the agent
 *   listens (the reply on `replyMailbox` when there is one; a post on the P2A `mailbox`). On a
 *   3-mbox node (`ackMailbox: 'none'`) nothing can carry an acknowledgement: posts leave
 *   INTR_ENABLED clear and queued ones wait for a CHANNEL_FREE poll every millisecond (a timer on
 *   `clock`, armed only while posts wait).
 *
 * @example
 * ```ts
 * const { wire, platformEnd } = createSameThreadMailboxWire(clock);
 * const responder = new SmtResponder({ platform, agentId: 1, end: platformEnd, clock });
 * // … the agent uses `wire` …
 * responder.close();
 * ```
 */
export class SmtResponder {
  /** The wire-level fault rules. */
  public readonly faults = new SmtFaultInjector();
  readonly #platform: ScmiPlatformPort;
  readonly #agentId: number;
  readonly #clock: Clock;
  readonly #depth: number;
  readonly #a2p = new Map<number, A2pChannel>();
  readonly #p2a: P2aChannel | undefined;
  readonly #timers = new Set<TimerHandle>();
  readonly #connection: PlatformConnection;
  readonly #c = {
    requests: 0,
    responses: 0,
    lateResponses: 0,
    strayResponsesDropped: 0,
    malformedRequests: 0,
    platformErrors: 0,
    responsesTooLarge: 0,
    ringsWhileFree: 0,
    ringsWhileBusy: 0,
    p2aPosted: 0,
    p2aRefused: 0,
  };
  #closed = false;

  /**
   * Opens every channel of the wire, connects agent `agentId` to the platform and starts
   * listening to the agent's doorbells.
   *
   * @throws ScmiConfigError for an invalid fault rule, or a `replyMailbox` / `ackMailbox` of the
   * layout Linux would not take (named as `end.layout.channels[i].ackMailbox`, checked as the
   * agent's transport checks it, before anything is opened), a layout channel that is not an
   * object (`end.layout.channels[i]`: `null`, a hole of a sparse array) or that has a key a
   * channel spec does not (`end.layout.channels[i].replymailbox`); RangeError for an invalid queue
   * depth, or an area that does not fit the wire's memory; the platform's error when it refuses the
   * connection (unknown agent, already connected); the mailbox's `ScmiTransportError` for a
   * mailbox index it does not have (`E_MBOX_INDEX`) or a doorbell it cannot listen to
   * (`E_DOORBELL_LISTENING`: two channels of the layout share a mailbox index, or another
   * responder listens there; `E_DOORBELL_CLOSED`). Nothing is left open then: the doorbells it
   * had started listening to are closed and the agent is disconnected from the platform before
   * the error is rethrown.
   */
  public constructor(options: SmtResponderOptions) {
    this.#platform = options.platform;
    this.#agentId = options.agentId;
    this.#clock = options.clock;
    const depth = options.p2aQueueDepth ?? 32;
    if (!Number.isInteger(depth) || depth < 0) {
      throw new RangeError(`p2aQueueDepth must be an integer ≥ 0, got ${String(depth)}`);
    }
    this.#depth = depth;
    for (const rule of options.faults ?? []) this.faults.add(rule);
    const { layout } = options.end;
    // Before anything is opened: a reply or acknowledgement channel Linux would not take.
    checkSmtMailboxRoles(layout.channels, 'end.layout');
    let p2a: P2aChannel | undefined;
    let maxMsgSize = Infinity;
    for (const spec of layout.channels) {
      const area = new SmtArea(layout.memory, spec.offset, layout.areaSize);
      maxMsgSize = Math.min(maxMsgSize, area.maxPayload);
      const roles = smtMailboxRoles(spec);
      const remote = options.end.remote(spec.mailbox);
      if (spec.direction === 'a2p') {
        this.#a2p.set(spec.id, {
          spec,
          area,
          remote,
          reply: options.end.remote(roles.platformRings),
          awaiting: false,
          header: 0,
          reads: 0,
          answered: [],
          fault: undefined,
          stuck: false,
          request: new Uint8Array(area.maxLength),
        });
      } else {
        // The first P2A channel carries notifications and delayed responses (as Linux uses one).
        const ack =
          roles.agentRings === undefined ? undefined : options.end.remote(roles.agentRings);
        p2a ??= {
          spec,
          area,
          remote,
          ack,
          queue: [],
          held: undefined,
          delaying: false,
          polling: false,
        };
      }
    }
    this.#p2a = p2a;
    const link: PlatformAgentLink = {
      p2a: p2a !== undefined,
      maxMsgSize: Number.isFinite(maxMsgSize) ? maxMsgSize : 0,
      respond: (channelId, bytes, command) => {
        this.#respond(channelId, bytes, command);
      },
      post: (message) => this.#post(message),
    };
    const connection = this.#platform.connect(this.#agentId, link);
    this.#connection = connection;
    // Each doorbell listened to holds what keeps its thread alive (a shared doorbell's wait): if a
    // later listen throws (two channels on one mailbox index, a doorbell another responder holds),
    // the ones opened so far are closed and the agent disconnected before the error goes up. A
    // doorbell whose listen threw is left alone: it may be someone else's.
    const listening: MailboxRemoteEnd[] = [];
    try {
      for (const c of this.#a2p.values()) {
        c.remote.listen(() => {
          this.#onA2pRing(c);
        });
        listening.push(c.remote);
      }
      const ack = p2a?.ack;
      if (p2a !== undefined && ack !== undefined) {
        ack.listen(() => {
          this.#drainP2a(p2a);
        });
        listening.push(ack);
      }
    } catch (e) {
      this.#closed = true;
      for (const remote of listening.reverse()) remote.close();
      connection.disconnect();
      throw e;
    }
  }

  /** The agent id this responder serves. */
  public get agentId(): number {
    return this.#agentId;
  }

  /** Whether {@link SmtResponder.close} ran. */
  public get closed(): boolean {
    return this.#closed;
  }

  /** A snapshot of the counters. */
  public get counters(): SmtResponderCounters {
    const p = this.#p2a;
    return { ...this.#c, p2aQueued: p === undefined ? 0 : waiting(p) };
  }

  /**
   * Timers armed now: fault rules' delays, and on a 3-mbox node the CHANNEL_FREE poll while posts
   * wait (it goes on while the agent leaves the area busy — also after the agent is removed with a
   * message in it — until the area is free or {@link SmtResponder.close}).
   */
  public get armedTimers(): number {
    return this.#timers.size;
  }

  /**
   * Disconnects the agent from the platform (its pending replies and notifications are
   * cancelled), stops listening to every doorbell and cancels every timer. Idempotent.
   */
  public close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connection.disconnect();
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
    for (const c of this.#a2p.values()) {
      c.remote.close();
      c.reply.close();
    }
    if (this.#p2a !== undefined) {
      this.#p2a.queue.length = 0;
      this.#p2a.held = undefined;
      this.#p2a.remote.close();
      this.#p2a.ack?.close();
    }
  }

  // ---- A2P ----------------------------------------------------------------------------------

  #onA2pRing(c: A2pChannel): void {
    if (this.#closed) return;
    const area = c.area;
    if (area.isFree()) {
      this.#c.ringsWhileFree++;
      return;
    }
    if (c.awaiting || c.stuck) {
      this.#c.ringsWhileBusy++;
      return;
    }
    const length = area.length();
    if (length < 4 || length > area.maxLength || (area.status() & SMT_CHANNEL_ERROR) !== 0) {
      // A message that does not fit is refused, as SCP-firmware's SMT servers refuse it
      // (`smt_slave_handler`, `transport_message_handler`: "payload too large"). An area whose
      // status still has CHANNEL_ERROR (the agent did not clear it, as Linux's shmem_tx_prepare
      // does) is refused too, as OP-TEE's smt.c refuses it; SCP-firmware instead clears the bit
      // and processes the message ("Ensure error bit is not set"). The stricter choice shows an
      // agent that leaves the bit set, which a polling agent would misread as an answer.
      this.#refuse(c);
      return;
    }
    // Copied once, then checked and handled: the area is shared memory the agent can still write
    // (in worker mode, from another thread), and a header checked in the area and read again by the
    // platform could have become a non-command in between, which the platform drops unanswered —
    // leaving the channel awaiting an answer for good. OP-TEE's SMT server copies the payload into
    // secure memory before processing it (core/drivers/scmi-msg/smt.c), though it reads the header
    // from shared memory; the virtio device and the emulated OP-TEE of this repository copy the
    // whole message before checking it, as here.
    const request = c.request.subarray(0, length);
    request.set(area.bytes.subarray(SMT_HEADER_OFFSET, SMT_HEADER_OFFSET + length));
    const header = readU32(request, 0);
    if (!isCommandHeader(header)) {
      // Not a command (reserved bits set, or another message type). The platform still sees it
      // (it counts it and raises BASE_ERROR_EVENT to a subscribed agent), but drops it and never
      // answers: waiting for an answer would keep the area busy for good and refuse every later
      // command on the channel. The area goes back with CHANNEL_ERROR, as for a bad length.
      // A platform whose handle threw is counted as that (platformErrors), not twice.
      if (this.#callPlatform(c, request) === THREW) this.#giveBackWithError(c);
      else this.#refuse(c);
      return;
    }
    c.awaiting = true;
    c.header = header;
    const read = ++c.reads;
    c.fault = this.faults.select('a2p', c.spec.id, header);
    this.#c.requests++;
    const fault = c.fault;
    if (fault?.kind === 'spurious-doorbell') {
      // Ring while the area is still the platform's, answer later.
      c.reply.ring();
      const later = request.slice(); // `c.request` may hold the next command's by then
      this.#after(fault.ms ?? 1, () => {
        // Only if it is still the pending command. An unsolicited `link.respond` answers the
        // pending command — this one — during the delay: the agent then owns the area, and may
        // have written its next command into it. Handed to the platform now, this command would
        // reach it after that next one, and its response be written as that one's answer (an SMT
        // channel carries one message at a time: Linux mailbox.c `msg_submit` sends the next only
        // once the active one is done). The answer the fault was to give later is for a command
        // no longer pending: dropped and counted, as `#respond` drops such a response.
        if (c.awaiting && c.reads === read) this.#handle(c, later);
        else this.#c.strayResponsesDropped++;
      });
      return;
    }
    this.#handle(c, request);
  }

  /** Gives a malformed request's area back with CHANNEL_ERROR (counted), ringing when asked to. */
  #refuse(c: A2pChannel): void {
    this.#c.malformedRequests++;
    this.#giveBackWithError(c);
  }

  /**
   * PROTOCOL_ERROR, then CHANNEL_FREE with CHANNEL_ERROR (see `SmtArea.refuse`), then the doorbell
   * when the agent asked for one.
   */
  #giveBackWithError(c: A2pChannel): void {
    c.area.refuse();
    if ((c.area.flags() & SMT_FLAG_INTR_ENABLED) !== 0) c.reply.ring();
  }

  /**
   * The platform's answer to `request`, or `THREW` (counted) when its `handle` threw: a doorbell
   * callback must not throw (in worker mode it would end the worker).
   */
  #callPlatform(c: A2pChannel, request: Uint8Array): Uint8Array | undefined | typeof THREW {
    try {
      return this.#platform.handle(this.#agentId, c.spec.id, request);
    } catch {
      this.#c.platformErrors++;
      return THREW;
    }
  }

  #handle(c: A2pChannel, request: Uint8Array): void {
    const response = this.#callPlatform(c, request);
    if (response === THREW) {
      if (!c.awaiting) return;
      // Given back at once with CHANNEL_ERROR; a response the platform might still send for the
      // command is then a stray (its header is remembered as answered).
      c.awaiting = false;
      c.fault = undefined;
      remember(c, c.header);
      this.#giveBackWithError(c);
      return;
    }
    if (response !== undefined && c.awaiting) this.#answer(c, response);
  }

  /** Writes `bytes` (header, status, returns) over the area; the length field follows. */
  #write(area: SmtArea, bytes: Uint8Array): void {
    const n = Math.min(bytes.byteLength, area.maxLength);
    area.bytes.set(n === bytes.byteLength ? bytes : bytes.subarray(0, n), SMT_HEADER_OFFSET);
    area.setLength(n);
  }

  /** Completes: CHANNEL_FREE, then the doorbell when the agent asked for one. */
  #free(c: A2pChannel): void {
    c.area.setStatus(SMT_CHANNEL_FREE);
    if ((c.area.flags() & SMT_FLAG_INTR_ENABLED) !== 0) c.reply.ring();
  }

  #answer(c: A2pChannel, response: Uint8Array): void {
    const bytes = fitSmtResponse(response, c.area.maxLength);
    if (bytes !== response) this.#c.responsesTooLarge++;
    const fault = c.fault;
    c.fault = undefined;
    c.awaiting = false;
    remember(c, c.header);
    // And the header of the response as the platform sent it, when a fault rule rewrote it: a late
    // copy of that response (a duplicate) must not answer the next command either.
    const sent = bytes.byteLength >= 4 ? readU32(bytes, 0) : c.header;
    if (!sameCommandHeader(sent, c.header)) remember(c, sent);
    this.#c.responses++;
    const area = c.area;
    switch (fault?.kind) {
      case 'early-free': {
        const header = area.header();
        this.#free(c);
        const copy = bytes.slice();
        this.#after(fault.ms ?? 1, () => {
          // Only if the agent has not taken the area back for its next command: exact in the same
          // thread; across threads a look-then-write, which can race the agent's claim (see
          // EarlyFreeFault: a buggy platform's write into the agent's next command).
          if (area.isFree() && area.header() === header) this.#write(area, copy);
        });
        return;
      }
      case 'stuck-busy': {
        this.#write(area, bytes);
        c.stuck = true;
        if (fault.ms !== undefined) {
          this.#after(fault.ms, () => {
            c.stuck = false;
            this.#free(c);
          });
        }
        return;
      }
      case 'no-free':
        this.#write(area, bytes);
        if ((area.flags() & SMT_FLAG_INTR_ENABLED) !== 0) c.reply.ring();
        c.stuck = true;
        if (fault.freeAfterMs !== undefined) {
          this.#after(fault.freeAfterMs, () => {
            c.stuck = false;
            area.setStatus(SMT_CHANNEL_FREE);
          });
        }
        return;
      case 'hostile-length':
        this.#write(area, bytes);
        area.setLength(fault.length);
        this.#free(c);
        return;
      default:
        this.#write(area, bytes);
        this.#free(c);
    }
  }

  #respond(channelId: number, bytes: Uint8Array, command: number | undefined): void {
    if (this.#closed) return;
    const c = this.#a2p.get(channelId);
    if (c === undefined) {
      this.#c.strayResponsesDropped++;
      return;
    }
    if (c.awaiting && answersPending(c, bytes, command)) {
      this.#c.lateResponses++;
      this.#answer(c, bytes);
      return;
    }
    // A response for nothing pending (a duplicate, an unsolicited or a late reply), or another
    // command's while one is pending (it would answer the pending command with it and leave that
    // one's own answer stray). The area is
    // the agent's (CHANNEL_FREE set: it may be writing its next command into it right now, from
    // another thread in worker mode) or holds its next request: neither SCP-firmware nor OP-TEE
    // (smt.c) writes an SMT area the agent owns, so it is dropped, and counted.
    this.#c.strayResponsesDropped++;
  }

  // ---- P2A ----------------------------------------------------------------------------------

  #post(message: Uint8Array): boolean {
    const p = this.#p2a;
    // One larger than the area would be cut, and read as a whole message that is not.
    if (this.#closed || p === undefined || message.byteLength > p.area.maxLength) {
      this.#c.p2aRefused++;
      return false;
    }
    // An agent may free the area without ringing back although asked to (INTR_ENABLED): Linux
    // rings only when it reads that flag (`mailbox_clear_channel`), and an agent that lost it
    // would otherwise leave the queue waiting for a doorbell that never comes. So each post looks
    // at CHANNEL_FREE, as SCP-firmware's SMT transmit does at each send (OP-TEE's port,
    // `mod_optee_smt` smt_transmit; it drops a message the area cannot take, where this queues
    // it), and what waits goes first: a held message, then the queue's head.
    if (waiting(p) !== 0) this.#drainP2a(p);
    if (waiting(p) === 0 && p.area.isFree()) {
      this.#postNow(p, message);
      return true;
    }
    if (p.queue.length >= this.#depth) {
      this.#c.p2aRefused++;
      return false;
    }
    p.queue.push(message.slice());
    this.#pollP2a(p);
    return true;
  }

  #postNow(p: P2aChannel, message: Uint8Array, faulty = true): void {
    const header = message.byteLength >= 4 ? readU32(message, 0) : 0;
    const fault = faulty ? this.faults.select('p2a', p.spec.id, header) : undefined;
    if (fault?.kind === 'spurious-doorbell') {
      // Ring with nothing posted; post it later. The area stays free meanwhile, but the message
      // holds it: a post or an acknowledgement in between must not write another one first (the
      // agent would get them out of order), so later posts queue behind it. When the delay ends
      // with the area taken (a hostile agent cleared CHANNEL_FREE), it waits for the area as the
      // queue's head would, ahead of the queue and outside its depth: it was accepted, and is not
      // dropped — nor does it push the queue past its depth.
      p.remote.ring();
      p.held = message.slice();
      p.delaying = true;
      this.#after(fault.ms ?? 1, () => {
        p.delaying = false;
        this.#drainP2a(p);
        this.#pollP2a(p);
      });
      return;
    }
    const area = p.area;
    area.setStatus(0); // the platform's now
    // Ring back when freed — when a mailbox channel can carry that (not on a 3-mbox node).
    area.setFlags(p.ack === undefined ? 0 : SMT_FLAG_INTR_ENABLED);
    this.#write(area, message);
    if (fault?.kind === 'hostile-length') area.setLength(fault.length);
    this.#c.p2aPosted++;
    p.remote.ring();
    this.#pollP2a(p);
  }

  /**
   * Writes what waits first — a held message once its delay ended, else the queue's head — when
   * the area is free.
   */
  #drainP2a(p: P2aChannel): void {
    if (this.#closed || !p.area.isFree()) return;
    const held = p.held;
    if (held !== undefined) {
      if (p.delaying) return;
      p.held = undefined;
      this.#postNow(p, held, false); // its fault fired already
      return;
    }
    const next = p.queue.shift();
    if (next !== undefined) this.#postNow(p, next);
  }

  /**
   * Without an acknowledgement channel (a 3-mbox node: the agent cannot ring back), looks for
   * CHANNEL_FREE every {@link P2A_POLL_MS} while posts wait, as firmware without a completion
   * interrupt does — for as long as the area stays busy (an agent removed with a message in it
   * never frees it): {@link SmtResponder.close} cancels it. Not while a held message's delay
   * runs: nothing may be written before it, and its timer looks at the area (and arms the poll).
   */
  #pollP2a(p: P2aChannel): void {
    if (p.ack !== undefined || p.polling || p.delaying || waiting(p) === 0) return;
    p.polling = true;
    this.#after(P2A_POLL_MS, () => {
      p.polling = false;
      this.#drainP2a(p);
      this.#pollP2a(p);
    });
  }

  // ---- timers -------------------------------------------------------------------------------

  #after(ms: number, fn: () => void): void {
    const timer = this.#clock.setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) fn();
    }, ms);
    this.#timers.add(timer);
  }
}
