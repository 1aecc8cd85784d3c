import {
  CommonMessageId,
  MSG_HEADER_SIZE,
  MSG_STATUS_SIZE,
  PayloadReader,
  ScmiError,
  ScmiMessageType,
  ScmiProtocolId,
  ScmiStatus,
  buildHeader,
  encodeMsg,
  encodeMsgResponse,
  headerMessageId,
  headerProtocolId,
  headerToken,
  isCommandHeader,
  readU32,
  writeU32,
  type Clock,
  type PlatformAgentLink,
  type PlatformConnection,
  type TimerHandle,
} from '@scmi-ts/core';
import type { PlatformConfig } from '../config/platform-config.js';
import { PlatformError } from '../errors/platform-error.js';
import {
  DELIVERY_KINDS,
  FaultInjector,
  type FiredFault,
  type FaultSubject,
} from '../faults/fault-injector.js';
import type { FaultAction, FaultStage } from '../faults/fault-rule.js';
import { BaseNotificationId } from '../protocols/base/base-message-id.js';
import {
  fail,
  ok,
  words,
  wordsOf,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
  type ProtocolServer,
  type Reply,
} from '../protocols/protocol-server.js';
import { AgentSession } from './agent-session.js';
import type { ResolvedPlatformBehaviour } from './platform-behaviour.js';
import {
  createPlatformCounters,
  type MutableAgentCounters,
  type MutablePlatformCounters,
  type PlatformHandlerError,
} from './platform-counters.js';
import { TimerBag } from './timer-bag.js';

const EMPTY = new Uint8Array(0);

/**
 * The payload of a request (a view of its bytes after the header). A header alone (most
 * discovery commands) gives the shared empty array: `subarray` costs as much as a tenth of a
 * whole PROTOCOL_VERSION answer.
 */
function payloadOf(request: Uint8Array): Uint8Array {
  return request.byteLength === MSG_HEADER_SIZE ? EMPTY : request.subarray(MSG_HEADER_SIZE);
}

/** How many of the newest handler failures {@link PlatformEngine.handlerErrorLog} keeps. */
export const HANDLER_ERROR_LOG_SIZE = 32;
const DEFAULT_TRUNCATE = 6;
const SUCCESS: number = ScmiStatus.SUCCESS;
const BASE: number = ScmiProtocolId.BASE;
const DEFAULT_HOLD_MS = 100;
const NEGOTIATE: number = CommonMessageId.NEGOTIATE_PROTOCOL_VERSION;

interface Held {
  readonly bytes: Uint8Array;
  /** The header word of the command it answers. */
  readonly command: number;
  readonly timer: TimerHandle;
}

/** A response or P2A message a `hold` fault keeps until it is released (or its timer sends it). */
interface HeldUntilReleased {
  readonly session: AgentSession;
  /** The link of the connection it was held for: sent only while that connection lasts. */
  readonly link: PlatformAgentLink;
  /** Sends it, as it would have gone without the fault. */
  readonly send: () => void;
  timer?: TimerHandle;
}

/** A storm's payload when the rule gives none: agent_id 0, domain 0, value 0. */
const DEFAULT_STORM_PAYLOAD: readonly number[] = [0, 0, 0];

/** Rewrites one field of the header word at the start of `bytes` (when there is one). */
function rewriteHeader(bytes: Uint8Array, edit: (word: number) => number): void {
  if (bytes.byteLength >= MSG_HEADER_SIZE) writeU32(bytes, 0, edit(readU32(bytes, 0)) >>> 0);
}

/**
 * Whether a response (or delayed response) with `returns` bytes of return values fits `link`: its
 * status and return values within `maxMsgSize`. One that does not is answered PROTOCOL_ERROR.
 */
function responseFits(link: PlatformAgentLink, returns: number): boolean {
  return MSG_STATUS_SIZE + returns <= link.maxMsgSize;
}

/**
 * Whether a notification with `payload` bytes after its header fits `link`. One that does not is
 * dropped and counted in `notificationsDropped`.
 */
function notificationFits(link: PlatformAgentLink, payload: number): boolean {
  return payload <= link.maxMsgSize;
}

function sizeOk(size: MessageHandler['size'], n: number): boolean {
  return typeof size === 'number' ? n === size : size.includes(n);
}

/** The handler of `messageId` when the message exists in protocol version `version`. */
function messageOf(
  server: ProtocolServer,
  messageId: number,
  version: number,
): MessageHandler | undefined {
  const handler = server.messages.get(messageId);
  return handler === undefined || (handler.since ?? 0) > version ? undefined : handler;
}

/**
 * Whether a server speaks `version`: its own major with a minor up to its own (minor versions only
 * add, as NXP's System Manager checks: `imx-sm` `*NegotiateProtocolVersion`), or one of its
 * declared older versions.
 */
function speaks(server: ProtocolServer, version: number): boolean {
  const own = server.version;
  const sameMajor = version >>> 16 === own >>> 16 && (version & 0xffff) <= (own & 0xffff);
  return sameMajor || (server.olderVersions ?? []).includes(version);
}

/**
 * The platform's message engine: sessions, dispatch to protocol servers, P2A delivery with retries,
 * fault injection and timers. {@link ScmiPlatform} is its public face. @internal
 */
export class PlatformEngine implements PlatformServices {
  public readonly config: PlatformConfig;
  public readonly behaviour: ResolvedPlatformBehaviour;
  public readonly clock: Clock;
  public readonly seed: number;
  public readonly startedAt: number;
  public readonly timers: TimerBag;
  public readonly counters: MutablePlatformCounters = createPlatformCounters();
  readonly #handlerErrorLog: PlatformHandlerError[] = [];
  public readonly faults: FaultInjector;
  readonly #sessions = new Map<number, AgentSession>();
  readonly #servers = new Map<number, ProtocolServer>();
  readonly #held = new Map<string, Held>();
  readonly #heldUntilReleased = new Set<HeldUntilReleased>();
  #closed = false;
  /** Accepted asynchronous operations not complete yet, and those of them with a delayed response. */
  #pendingOperations = 0;
  #pendingDelayed = 0;

  public constructor(
    config: PlatformConfig,
    behaviour: ResolvedPlatformBehaviour,
    clock: Clock,
    seed: number,
  ) {
    this.config = config;
    this.behaviour = behaviour;
    this.clock = clock;
    this.seed = seed;
    this.startedAt = clock.now();
    this.timers = new TimerBag(clock);
    this.faults = new FaultInjector(
      clock,
      seed,
      config.agents.map((a) => a.id),
    );
    for (const a of config.agents) this.#sessions.set(a.id, new AgentSession(a, config));
  }

  public get closed(): boolean {
    return this.#closed;
  }

  /** The newest handler failures (at most {@link HANDLER_ERROR_LOG_SIZE}), oldest first. */
  public get handlerErrorLog(): readonly PlatformHandlerError[] {
    return [...this.#handlerErrorLog];
  }

  /** Adds a protocol server. */
  public register(server: ProtocolServer): void {
    this.#servers.set(server.id, server);
  }

  public agents(): Iterable<AgentSession> {
    return this.#sessions.values();
  }

  public agent(id: number): AgentSession | undefined {
    return this.#sessions.get(id);
  }

  // ---- the port ---------------------------------------------------------------------------

  public connect(agentId: number, link: PlatformAgentLink): PlatformConnection {
    if (this.#closed) throw new PlatformError('E_CLOSED', 'the platform is closed');
    const session = this.#sessions.get(agentId);
    if (session === undefined) {
      throw new PlatformError('E_UNKNOWN_AGENT', `agent ${agentId} is not in the configuration`);
    }
    if (session.link !== undefined) {
      throw new PlatformError('E_AGENT_CONNECTED', `agent ${agentId} is already connected`);
    }
    // A link object of its own per connection: what the platform keeps for a connection (a
    // delayed response, a late response, a storm's posts, the disconnect below) compares the
    // session's link with the one it captured, so a later connection of the agent over the same
    // link object must not pass for this one.
    const own = new ConnectionLink(link);
    session.link = own;
    return {
      agentId,
      disconnect: () => {
        if (session.link === own) this.#disconnect(session);
      },
    };
  }

  public handle(agentId: number, channelId: number, request: Uint8Array): Uint8Array | undefined {
    const session = this.#sessions.get(agentId);
    const link = session?.link;
    if (this.#closed || session === undefined || link === undefined) {
      this.#count(session, 'droppedRequests');
      return undefined;
    }
    if (request.byteLength < MSG_HEADER_SIZE) {
      this.#count(session, 'droppedRequests');
      this.#errorEvent(session, link, undefined);
      return undefined;
    }
    const word = readU32(request, 0);
    if (!isCommandHeader(word)) {
      this.#count(session, 'droppedRequests');
      this.#errorEvent(session, link, word);
      return undefined;
    }
    // Each command's path: the fields written directly (a keyed `#count` costs a third of
    // `handle` here).
    this.counters.requests++;
    session.counters.requests++;
    if (this.faults.isEmpty && this.#held.size === 0) {
      // No fault rule and no held response: what the general path below does then, without
      // building a fault subject or looking up held responses per command.
      const response = this.#process(session, link, word, payloadOf(request));
      this.counters.responses++;
      session.counters.responses++;
      this.#countStatus(session, response);
      return response;
    }
    const fired = this.faults.select(this.#subject('command', agentId, word));
    const delivery = fired.find((f) => DELIVERY_KINDS.has(f.action.kind))?.action;
    const posted = this.#extras(session, link, channelId, word, fired);
    // A link may disconnect its agent from inside `post` (the peer port closes a client that does
    // not read a notification storm): the command is then not processed, or it would change the
    // state (subscriptions, timers) of an agent that is gone. What the storms posted was done;
    // the rest fired on the command was not (an unsolicited response's timer went with the
    // agent): taken back from the log and the counts, as if those rules had not fired.
    if (session.link !== link) {
      this.faults.withdraw(fired.filter((f) => !posted.includes(f)));
      return undefined;
    }
    if (delivery?.kind === 'delay') {
      const payload = request.slice(MSG_HEADER_SIZE);
      this.timers.arm(
        delivery.ms,
        () => {
          const response = this.#transform(
            this.#process(session, link, word, payload),
            fired,
            word,
          );
          this.#respond(session, link, channelId, response, word);
        },
        agentId,
      );
      return undefined;
    }
    const payload = payloadOf(request);
    const response = this.#transform(this.#process(session, link, word, payload), fired, word);
    return this.#deliver(session, link, channelId, word, response, delivery);
  }

  /**
   * Accepted asynchronous operations not complete yet: each holds one timer, which completes it
   * even after its agent disconnected (see `later`).
   */
  public get pendingOperations(): number {
    return this.#pendingOperations;
  }

  /**
   * Disconnects every agent and cancels every timer — the pending operations' too, whose delayed
   * responses then count in `cancelledOnDisconnect`; idempotent.
   */
  public close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#sessions.values()) if (s.link !== undefined) this.#disconnect(s);
    this.counters.cancelledOnDisconnect += this.#pendingDelayed;
    this.#pendingOperations = 0;
    this.#pendingDelayed = 0;
    this.timers.cancelAll();
    this.#held.clear();
    this.#heldUntilReleased.clear();
  }

  /**
   * Sends now every response and P2A message a `hold` fault holds, oldest first, and returns how
   * many were sent; each to its agent's link, as its timer would have. One whose agent a send
   * before it disconnected (a link that drops a slow consumer) is not sent: the disconnect
   * cancelled and counted it.
   */
  public releaseHeldResponses(): number {
    const held = [...this.#heldUntilReleased];
    this.#heldUntilReleased.clear();
    let sent = 0;
    for (const h of held) {
      h.timer?.cancel();
      if (h.session.link !== h.link) continue;
      h.send();
      sent++;
    }
    return sent;
  }

  /** Holds `send` for {@link releaseHeldResponses}, or until `maxHoldMs` passes. */
  #hold(
    session: AgentSession,
    link: PlatformAgentLink,
    maxHoldMs: number | undefined,
    send: () => void,
  ): void {
    const held: HeldUntilReleased = { session, link, send };
    held.timer = this.timers.arm(
      maxHoldMs ?? DEFAULT_HOLD_MS,
      () => {
        this.#heldUntilReleased.delete(held);
        send();
      },
      session.id,
    );
    this.#heldUntilReleased.add(held);
  }

  // ---- services for protocol servers --------------------------------------------------------

  public notify(
    protocolId: number,
    notificationId: number,
    domainId: number,
    payload: Uint8Array | ((agent: AgentSession) => Uint8Array),
    except?: AgentSession,
  ): number {
    let sent = 0;
    for (const s of this.#sessions.values()) {
      if (s === except) continue;
      const bytes = typeof payload === 'function' ? payload(s) : payload;
      if (this.notifyAgent(s, protocolId, notificationId, domainId, bytes)) sent++;
    }
    return sent;
  }

  public notifyAgent(
    agent: AgentSession,
    protocolId: number,
    notificationId: number,
    domainId: number,
    payload: Uint8Array,
  ): boolean {
    const link = agent.link;
    // Permission is checked now, at each send, not only when the agent subscribed: a domain denied
    // since (BASE_SET_DEVICE_PERMISSIONS / SET_PROTOCOL_PERMISSIONS) is DENIED for every command,
    // so its events stop too. The subscription itself stays, as in SCP-firmware: its permission
    // commands only flip bits in the permission tables
    // (`module/resource_perms/src/mod_resource_perms.c`, mod_res_agent_set_device_permission),
    // and a subscriber is removed only by the agent's own *_NOTIFY
    // (`module/scmi/src/mod_scmi.c`, scmi_notification_remove_subscriber). SCP-firmware's
    // scmi_notification_notify then sends to every subscriber unchecked; here allowing the domain
    // again resumes delivery without a new *_NOTIFY.
    if (link === undefined || !agent.receives(protocolId, notificationId, domainId)) return false;
    // As in #postP2a, which checks it too for the messages that do not come this way: a
    // notification the link cannot carry is dropped and counted, and not reported as sent.
    if (!notificationFits(link, payload.byteLength)) {
      this.#count(agent, 'notificationsDropped');
      return false;
    }
    const header = buildHeader(notificationId, ScmiMessageType.NOTIFICATION, protocolId, 0);
    try {
      this.#postP2a(agent, link, encodeMsg(header, payload), 'notification');
    } catch {
      // A link whose `post` throws, or a fault's timer the clock cannot arm: the notification is
      // lost, never the command that caused it. A protocol server announces a change once it has
      // accepted it (a pending operation armed, a state changed); a throw here would answer that
      // command GENERIC_ERROR while the change goes on.
      this.#count(agent, 'notificationsDropped');
    }
    // Handed to the agent's P2A path: what the fault rules and `link.post` did with it (a copy of
    // a duplicate posted, the next lost to a clock that could not arm its timer) is counted there.
    return true;
  }

  public later(
    req: PlatformRequest,
    ms: number,
    tag: string,
    respond: boolean,
    complete: () => Reply,
  ): void {
    // A handler that closed the platform (a vendor protocol's, or a link callback's) leaves nothing
    // armed: `close` cancels every pending operation, and this one comes after it.
    if (this.#closed) return;
    const { agent, link, headerWord } = req;
    // Owned by the platform, not by the agent: an operation the platform accepted completes even
    // if the agent disconnects first (firmware does not undo a state change it answered SUCCESS
    // to because a channel went away); only its delayed response is then not sent — neither to
    // the agent that is gone nor to a later connection of the same agent.
    this.timers.arm(
      ms,
      () => {
        this.#pendingOperations--;
        if (respond) this.#pendingDelayed--;
        let reply: Reply;
        try {
          reply = complete();
        } catch (e) {
          // A bug in the completion (a vendor protocol's `complete`, or a built-in's) is the
          // command's handler failing late: answered GENERIC_ERROR in its delayed response and
          // counted and logged as a handler's. Never thrown: this runs from the clock's callback.
          reply = this.#handlerFailed(agent, headerWord, e);
        }
        if (!respond) return;
        if (agent.link !== link) {
          this.#count(agent, 'cancelledOnDisconnect');
          return;
        }
        const header = ((headerWord & ~0x300) | (ScmiMessageType.DELAYED_RESPONSE << 8)) >>> 0;
        this.#postP2a(agent, link, this.#encode(link, header, reply), 'delayed-response');
      },
      undefined,
      tag,
    );
    // Counted once armed (a clock that cannot arm it throws, and nothing is pending).
    this.#pendingOperations++;
    if (respond) this.#pendingDelayed++;
  }

  public fit(req: PlatformRequest, fixed: number, entrySize: number): number {
    // At least one: a reply that cannot hold one entry is answered PROTOCOL_ERROR (too large).
    return Math.max(1, Math.floor((req.link.maxMsgSize - MSG_STATUS_SIZE - fixed) / entrySize));
  }

  public delayedFits(req: PlatformRequest, returns: number): boolean {
    return responseFits(req.link, returns);
  }

  public notificationFits(req: PlatformRequest, payload: number): boolean {
    return notificationFits(req.link, payload);
  }

  public resetAgent(agentId: number): void {
    this.#sessions.get(agentId)?.clearSubscriptions();
    for (const server of this.#servers.values()) server.detach?.(agentId);
  }

  public permissionsChanged(agentId: number): void {
    for (const server of this.#servers.values()) server.permissionsChanged?.(agentId);
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Counts `amount` of `key` platform-wide and for `session`'s agent (when there is one). */
  #count(session: AgentSession | undefined, key: keyof MutableAgentCounters, amount = 1): void {
    this.counters[key] += amount;
    if (session !== undefined) session.counters[key] += amount;
  }

  /**
   * Counts the status of a response returned to `session`'s agent (its `statuses`); one cut
   * before its status (a `truncate` fault) has none to count.
   */
  #countStatus(session: AgentSession, response: Uint8Array | undefined): void {
    if (response === undefined || response.byteLength < MSG_HEADER_SIZE + 4) return;
    session.countStatus(readU32(response, MSG_HEADER_SIZE) | 0);
  }

  #disconnect(session: AgentSession): void {
    session.link = undefined;
    session.clearVersions();
    for (const key of [...this.#held.keys()]) {
      if (key.startsWith(`${session.id}:`)) this.#held.delete(key);
    }
    for (const h of this.#heldUntilReleased)
      if (h.session === session) this.#heldUntilReleased.delete(h);
    // A held response has its release timer too: each pending message is one timer.
    this.#count(session, 'cancelledOnDisconnect', this.timers.cancelOwner(session.id));
    this.resetAgent(session.id);
  }

  #subject(stage: FaultStage, agentId: number, word: number): FaultSubject {
    return {
      stage,
      agentId,
      protocolId: headerProtocolId(word),
      messageId: headerMessageId(word),
      token: headerToken(word),
    };
  }

  #process(
    session: AgentSession,
    link: PlatformAgentLink,
    word: number,
    payload: Uint8Array,
  ): Uint8Array {
    return this.#encode(link, word, this.#dispatch(session, link, word, payload));
  }

  /** Header, status, returns (only on success); PROTOCOL_ERROR when it does not fit the link. */
  #encode(link: PlatformAgentLink, header: number, reply: Reply): Uint8Array {
    const returns = reply.status === SUCCESS ? (reply.returns ?? EMPTY) : EMPTY;
    if (!responseFits(link, returns.byteLength)) {
      return encodeMsgResponse(header, ScmiStatus.PROTOCOL_ERROR);
    }
    return encodeMsgResponse(header, reply.status, returns);
  }

  #dispatch(
    session: AgentSession,
    link: PlatformAgentLink,
    word: number,
    payload: Uint8Array,
  ): Reply {
    const protocolId = headerProtocolId(word);
    const messageId = headerMessageId(word);
    const server = this.#servers.get(protocolId);
    if (server === undefined) return fail(ScmiStatus.NOT_SUPPORTED);
    if (protocolId !== BASE && !session.protocols.has(protocolId)) {
      return fail(
        this.behaviour.hiddenProtocol === 'denied' ? ScmiStatus.DENIED : ScmiStatus.NOT_SUPPORTED,
      );
    }
    const req: PlatformRequest = {
      agent: session,
      link,
      headerWord: word,
      r: new PayloadReader(payload),
      version: session.negotiatedVersion(protocolId) ?? server.version,
    };
    // PROTOCOL_ATTRIBUTES runs server code too (a vendor protocol's `attributes`): a throw there
    // is a platform bug answered as a handler's is, never one out of `handle`.
    try {
      const common = this.#common(server, req, messageId, payload.byteLength);
      if (common !== undefined) return common;
      const handler = messageOf(server, messageId, req.version);
      if (handler === undefined) {
        return fail(
          this.behaviour.unknownMessage === 'not-found'
            ? ScmiStatus.NOT_FOUND
            : ScmiStatus.NOT_SUPPORTED,
        );
      }
      if (!sizeOk(handler.size, payload.byteLength)) return fail(ScmiStatus.PROTOCOL_ERROR);
      if (handler.p2a === true && !link.p2a) return fail(ScmiStatus.NOT_SUPPORTED);
      return handler.run(req);
    } catch (e) {
      if (ScmiError.is(e) && e.code === 'E_TRUNCATED') return fail(ScmiStatus.PROTOCOL_ERROR);
      return this.#handlerFailed(session, word, e);
    }
  }

  /**
   * Counts and logs the failure of the handler of the command `word` of `session`'s agent (it
   * threw `error`), and returns the GENERIC_ERROR that answers it.
   */
  #handlerFailed(session: AgentSession, word: number, error: unknown): Reply {
    this.#count(session, 'handlerErrors');
    this.#handlerErrorLog.push({
      atMs: this.clock.now(),
      agentId: session.id,
      protocolId: headerProtocolId(word),
      messageId: headerMessageId(word),
      token: headerToken(word),
      error,
    });
    if (this.#handlerErrorLog.length > HANDLER_ERROR_LOG_SIZE) this.#handlerErrorLog.shift();
    return fail(ScmiStatus.GENERIC_ERROR);
  }

  /**
   * PROTOCOL_VERSION (the version in force for the agent), PROTOCOL_ATTRIBUTES,
   * PROTOCOL_MESSAGE_ATTRIBUTES and NEGOTIATE_PROTOCOL_VERSION; undefined for the others.
   */
  #common(
    server: ProtocolServer,
    req: PlatformRequest,
    messageId: number,
    size: number,
  ): Reply | undefined {
    const negotiation = this.behaviour.versionNegotiation;
    switch (messageId) {
      case CommonMessageId.PROTOCOL_VERSION:
        return size === 0 ? ok(words(req.version)) : fail(ScmiStatus.PROTOCOL_ERROR);
      case CommonMessageId.PROTOCOL_ATTRIBUTES:
        return size === 0 ? server.attributes(req) : fail(ScmiStatus.PROTOCOL_ERROR);
      case CommonMessageId.PROTOCOL_MESSAGE_ATTRIBUTES: {
        if (size !== 4) return fail(ScmiStatus.PROTOCOL_ERROR);
        const asked = req.r.u32();
        if (asked <= 0x2 || (negotiation && asked === NEGOTIATE)) return ok(words(0));
        const handler = messageOf(server, asked, req.version);
        if (handler === undefined || (handler.p2a === true && !req.link.p2a)) {
          return fail(ScmiStatus.NOT_FOUND);
        }
        return ok(words(handler.attributes ?? 0));
      }
      case NEGOTIATE: {
        if (!negotiation) return undefined;
        if (size !== 4) return fail(ScmiStatus.PROTOCOL_ERROR);
        const version = req.r.u32();
        if (!speaks(server, version)) return fail(ScmiStatus.NOT_SUPPORTED);
        req.agent.negotiate(server.id, version);
        return ok();
      }
      default:
        return undefined;
    }
  }

  /** Header rewrites, then byte rewrites, then truncation, as the fired rules say. */
  #transform(bytes: Uint8Array, fired: readonly FiredFault[], word: number): Uint8Array {
    let out = bytes;
    for (const { action: a } of fired) {
      if (a.kind === 'corrupt-token') {
        const token = a.token ?? headerToken(word) ^ 0x200;
        rewriteHeader(out, (w) => (w & ~(0x3ff << 18)) | (token << 18));
      } else if (a.kind === 'corrupt-type') {
        const type = a.type ?? 1;
        rewriteHeader(out, (w) => (w & ~0x300) | (type << 8));
      } else if (a.kind === 'corrupt-protocol') {
        const protocolId = a.protocolId ?? headerProtocolId(word) ^ 0xff;
        rewriteHeader(out, (w) => (w & ~(0xff << 10)) | (protocolId << 10));
      }
    }
    for (const { action: a } of fired) {
      if (a.kind === 'corrupt-bytes' && a.offset < out.byteLength) {
        out.set(a.bytes.slice(0, out.byteLength - a.offset), a.offset);
      }
    }
    for (const { action: a } of fired) {
      if (a.kind === 'truncate')
        out = out.slice(0, Math.min(out.byteLength, a.length ?? DEFAULT_TRUNCATE));
    }
    return out;
  }

  /**
   * Unsolicited responses and notification storms; returns the storms that posted a notification
   * (to the agent, or counted as dropped because the link cannot carry it).
   */
  #extras(
    session: AgentSession,
    link: PlatformAgentLink,
    channelId: number,
    word: number,
    fired: readonly FiredFault[],
  ): FiredFault[] {
    const posted: FiredFault[] = [];
    for (const f of fired) {
      const a = f.action;
      if (a.kind === 'unsolicited') {
        const token = a.token ?? headerToken(word) ^ 0x200;
        const header = buildHeader(
          headerMessageId(word),
          ScmiMessageType.COMMAND,
          headerProtocolId(word),
          token,
        );
        const bytes = encodeMsgResponse(header, ScmiStatus.SUCCESS);
        this.timers.arm(
          0,
          () => {
            this.#respond(session, link, channelId, bytes, undefined);
          },
          session.id,
        );
      } else if (a.kind === 'notification-storm') {
        const header = buildHeader(
          a.messageId ?? 0,
          ScmiMessageType.NOTIFICATION,
          a.protocolId ?? headerProtocolId(word),
          0,
        );
        const payload = wordsOf(a.payload ?? DEFAULT_STORM_PAYLOAD);
        // As in #postP2a: a notification the link cannot carry is dropped and counted, every copy.
        if (!notificationFits(link, payload.byteLength)) {
          this.#count(session, 'notificationsDropped', a.count);
          posted.push(f);
          continue;
        }
        for (let i = 0; i < a.count && session.link === link; i++) {
          this.#sendNotification(session, link, encodeMsg(header, payload));
          if (i === 0) posted.push(f);
        }
      }
    }
    return posted;
  }

  /** Returns the response now, or arranges its later delivery as the delivery fault says. */
  #deliver(
    session: AgentSession,
    link: PlatformAgentLink,
    channelId: number,
    command: number,
    response: Uint8Array,
    delivery: FaultAction | undefined,
  ): Uint8Array | undefined {
    // The handler's own notification `post` may have disconnected the agent (the peer port drops a
    // slow consumer): `#disconnect` already cancelled its timers, so none is armed for it now. A
    // response that would have gone later (late reply, held, the duplicate's copy) is one more
    // message cancelled by the disconnect, as `#postP2a` counts a duplicate's copy; what is
    // returned now is returned as the no-fault path does, which does not look at the link.
    if (session.link !== link) {
      const kind = delivery?.kind;
      if (kind === 'late-reply' || kind === 'reorder' || kind === 'hold' || kind === 'duplicate') {
        this.#count(session, 'cancelledOnDisconnect');
      }
      if (kind === 'drop' || kind === 'late-reply' || kind === 'reorder' || kind === 'hold')
        return undefined;
      this.#count(session, 'responses');
      this.#countStatus(session, response);
      return response;
    }
    const key = `${session.id}:${channelId}`;
    switch (delivery?.kind) {
      case 'drop':
        return undefined;
      case 'late-reply':
        this.timers.arm(
          delivery.ms,
          () => {
            this.#respond(session, link, channelId, response, command);
          },
          session.id,
        );
        return undefined;
      case 'hold':
        this.#hold(session, link, delivery.maxHoldMs, () => {
          this.#respond(session, link, channelId, response, command);
        });
        return undefined;
      case 'reorder': {
        this.#releaseHeld(session, link, channelId);
        const timer = this.timers.arm(
          delivery.maxHoldMs ?? DEFAULT_HOLD_MS,
          () => {
            this.#held.delete(key);
            this.#respond(session, link, channelId, response, command);
          },
          session.id,
        );
        this.#held.set(key, { bytes: response, command, timer });
        return undefined;
      }
      case 'duplicate': {
        const copy = response.slice();
        this.timers.arm(
          delivery.delayMs ?? 0,
          () => {
            this.#respond(session, link, channelId, copy, command);
          },
          session.id,
        );
        break;
      }
      default:
        break;
    }
    this.#releaseHeld(session, link, channelId);
    this.#count(session, 'responses');
    this.#countStatus(session, response);
    return response;
  }

  /** A held (reordered) response goes right after the response being returned now. */
  #releaseHeld(session: AgentSession, link: PlatformAgentLink, channelId: number): void {
    const key = `${session.id}:${channelId}`;
    const held = this.#held.get(key);
    if (held === undefined) return;
    this.#held.delete(key);
    held.timer.cancel();
    this.timers.arm(
      0,
      () => {
        this.#respond(session, link, channelId, held.bytes, held.command);
      },
      session.id,
    );
  }

  #respond(
    session: AgentSession,
    link: PlatformAgentLink,
    channelId: number,
    bytes: Uint8Array,
    command: number | undefined,
  ): void {
    if (session.link !== link) return;
    this.#count(session, 'lateResponses');
    this.#countStatus(session, bytes);
    link.respond(channelId, bytes, command);
  }

  /**
   * Posts a notification or delayed response, through the P2A fault rules. A notification the link
   * cannot carry is dropped and counted here, before any rule sees it (a delayed response was
   * fitted to the link by `#encode`: PROTOCOL_ERROR when its return values do not fit).
   */
  #postP2a(
    session: AgentSession,
    link: PlatformAgentLink,
    bytes: Uint8Array,
    stage: 'notification' | 'delayed-response',
  ): void {
    if (stage === 'notification' && !notificationFits(link, bytes.byteLength - MSG_HEADER_SIZE)) {
      this.#count(session, 'notificationsDropped');
      return;
    }
    const word = readU32(bytes, 0);
    const fired = this.faults.select(this.#subject(stage, session.id, word));
    const out = this.#transform(bytes, fired, word);
    const send = (b: Uint8Array): void => {
      if (stage === 'notification') this.#sendNotification(session, link, b);
      else this.#sendDelayed(session, link, b, 0);
    };
    const delivery = fired.find((f) => DELIVERY_KINDS.has(f.action.kind))?.action;
    switch (delivery?.kind) {
      case 'drop':
        return;
      case 'delay':
      case 'late-reply':
        this.timers.arm(
          delivery.ms,
          () => {
            send(out);
          },
          session.id,
        );
        return;
      case 'hold':
        this.#hold(session, link, delivery.maxHoldMs, () => {
          send(out);
        });
        return;
      case 'duplicate': {
        send(out);
        // `post` may have disconnected the agent (the peer port drops a slow consumer): its timers
        // are already cancelled, so the copy is not armed but counted as cancelled with them.
        if (session.link !== link) {
          this.#count(session, 'cancelledOnDisconnect');
          return;
        }
        const copy = out.slice();
        this.timers.arm(
          delivery.delayMs ?? 0,
          () => {
            send(copy);
          },
          session.id,
        );
        return;
      }
      default:
        send(out);
    }
  }

  #sendNotification(session: AgentSession, link: PlatformAgentLink, bytes: Uint8Array): void {
    if (session.link !== link) return;
    let accepted: boolean;
    try {
      accepted = link.post(bytes);
    } catch {
      // A link whose `post` throws loses the notification, as one that refuses it (see
      // notifyAgent). Never thrown on: this runs inside `handle` (a storm, an ERROR_EVENT) and from
      // a fault's timer, where a throw would escape the clock's callback.
      this.#count(session, 'notificationsDropped');
      return;
    }
    if (accepted) this.#count(session, 'notificationsPosted');
    else this.#count(session, 'notificationsDropped');
  }

  #sendDelayed(
    session: AgentSession,
    link: PlatformAgentLink,
    bytes: Uint8Array,
    attempt: number,
  ): void {
    if (session.link !== link) return;
    let accepted: boolean;
    try {
      accepted = link.post(bytes);
    } catch {
      // Runs from a timer (the operation's, a retry's, a P2A fault's): a throw would escape the
      // clock's callback — with a real clock, an uncaught exception. A link that throws failed,
      // unlike one that refuses for now (a full queue), so the delayed response is dropped at once,
      // not retried.
      this.#count(session, 'delayedResponsesDropped');
      return;
    }
    if (accepted) {
      this.#count(session, 'delayedResponsesPosted');
      return;
    }
    // A link may disconnect its agent from inside `post` and refuse (the peer port drops a slow
    // consumer): the agent's timers were cancelled then, so no retry is armed for it — the delayed
    // response is one more message cancelled by the disconnect.
    if (session.link !== link) {
      this.#count(session, 'cancelledOnDisconnect');
      return;
    }
    if (attempt >= this.behaviour.maxPostRetries) {
      this.#count(session, 'delayedResponsesDropped');
      return;
    }
    this.#count(session, 'delayedResponseRetries');
    this.timers.arm(
      this.behaviour.postRetryMs,
      () => {
        this.#sendDelayed(session, link, bytes, attempt + 1);
      },
      session.id,
    );
  }

  /** BASE_ERROR_EVENT to the agent that sent a malformed message, if it subscribed. */
  #errorEvent(session: AgentSession, link: PlatformAgentLink, word: number | undefined): void {
    if (!session.subscribed(ScmiProtocolId.BASE, BaseNotificationId.ERROR_EVENT, 0)) return;
    const payload = word === undefined ? words(session.id, 0) : words(session.id, 1, word, 0);
    const header = buildHeader(
      BaseNotificationId.ERROR_EVENT,
      ScmiMessageType.NOTIFICATION,
      ScmiProtocolId.BASE,
      0,
    );
    try {
      this.#postP2a(session, link, encodeMsg(header, payload), 'notification');
    } catch {
      // As in notifyAgent (a link whose `post` throws is counted in #sendNotification): a fault's
      // timer the clock cannot arm loses the event. `handle` never throws on malformed input
      // (ScmiPlatformPort), and this is its answer to malformed input.
      this.#count(session, 'notificationsDropped');
    }
  }
}

/**
 * One connection's view of an agent's link: delegates to the transport's link, and is a new object
 * for each `connect`, so that identity comparisons tell one connection from the next even when a
 * transport reconnects an agent with the same link object.
 */
class ConnectionLink implements PlatformAgentLink {
  public constructor(readonly link: PlatformAgentLink) {}

  public get p2a(): boolean {
    return this.link.p2a;
  }

  public get maxMsgSize(): number {
    return this.link.maxMsgSize;
  }

  public respond(channelId: number, response: Uint8Array, command?: number): void {
    this.link.respond(channelId, response, command);
  }

  public post(message: Uint8Array): boolean {
    return this.link.post(message);
  }
}
