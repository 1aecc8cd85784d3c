import { ScmiStatus, type Clock, type PayloadReader, type PlatformAgentLink } from '@scmi-ts/core';
import type { PlatformConfig, PlatformDomainProtocol } from '../config/platform-config.js';
import type { AgentSession } from '../platform/agent-session.js';
import type { ResolvedPlatformBehaviour } from '../platform/platform-behaviour.js';
import type { MutablePlatformCounters } from '../platform/platform-counters.js';
import type { TimerBag } from '../platform/timer-bag.js';

/** A handler's answer: a status and, on success, the return values. @internal */
export interface Reply {
  readonly status: number;
  readonly returns?: Uint8Array;
}

/** One command being processed. @internal */
export interface PlatformRequest {
  /** The agent that sent it. */
  readonly agent: AgentSession;
  /** The agent's link (connected while the request is processed). */
  readonly link: PlatformAgentLink;
  /** The raw command header word. */
  readonly headerWord: number;
  /** A bounds-checked reader over the payload (its size was already checked). */
  readonly r: PayloadReader;
  /**
   * The protocol version in force for this agent: the server's own, or the one the agent chose
   * with NEGOTIATE_PROTOCOL_VERSION. Layouts that changed between versions follow it.
   */
  readonly version: number;
}

/** One implemented message of a protocol. @internal */
export interface MessageHandler {
  /** Exact request payload size(s) in bytes; any other size gets PROTOCOL_ERROR. */
  readonly size: number | readonly number[];
  /**
   * A notification-only message (e.g. `*_NOTIFY`): without a P2A channel it answers NOT_SUPPORTED
   * and PROTOCOL_MESSAGE_ATTRIBUTES says NOT_FOUND (virtio: behave as if not implemented).
   */
  readonly p2a?: boolean;
  /** PROTOCOL_MESSAGE_ATTRIBUTES value; default 0. */
  readonly attributes?: number;
  /**
   * The first protocol version that has the message; with an older negotiated version the message
   * is unknown (and PROTOCOL_MESSAGE_ATTRIBUTES says NOT_FOUND). Default: every version.
   */
  readonly since?: number;
  /** Processes the command. May throw only on a platform bug (answered GENERIC_ERROR). */
  run(req: PlatformRequest): Reply;
}

/** The server side of one protocol. @internal */
export interface ProtocolServer {
  /** The protocol id. */
  readonly id: number;
  /** PROTOCOL_VERSION: the newest version the server speaks. */
  readonly version: number;
  /**
   * Versions of an older major the server also speaks after NEGOTIATE_PROTOCOL_VERSION (every minor
   * of its own major up to its own is always accepted).
   */
  readonly olderVersions?: readonly number[];
  /** Messages other than 0x0–0x2 (which the engine answers). */
  readonly messages: ReadonlyMap<number, MessageHandler>;
  /** PROTOCOL_ATTRIBUTES for this agent. */
  attributes(req: PlatformRequest): Reply;
  /** The agent disconnected or was reset: forget what the server keeps for it. */
  detach?(agentId: number): void;
  /**
   * The domains agent `agentId` may use changed (Base permission commands): re-check what depends
   * on them, e.g. timers kept only for agents that may use a domain.
   */
  permissionsChanged?(agentId: number): void;
}

/** What the engine offers to protocol servers. @internal */
export interface PlatformServices {
  readonly config: PlatformConfig;
  readonly behaviour: ResolvedPlatformBehaviour;
  readonly clock: Clock;
  /** The platform seed (sensor noise). */
  readonly seed: number;
  /** Clock time at creation: time zero of sensor generators. */
  readonly startedAt: number;
  readonly timers: TimerBag;
  /**
   * The platform-wide counters. A server counts here only what no agent caused (a Performance
   * fast channel's values); the engine counts the rest.
   */
  readonly counters: MutablePlatformCounters;
  /**
   * Whether the platform was closed: what a server does outside a command (a timer of its own)
   * checks it, since closing may happen in the middle (a link's `post` that closes the platform).
   */
  readonly closed: boolean;
  /** Every configured agent, connected or not. */
  agents(): Iterable<AgentSession>;
  /** One configured agent. */
  agent(id: number): AgentSession | undefined;
  /**
   * Sends notification `notificationId` of `protocolId` about `domainId` to every connected agent
   * subscribed to it that may use the domain now; `payload` starts with the agent_id of the agent
   * that caused the change. With `except`, that agent is left out (SYSTEM_POWER_STATE_NOTIFIER
   * is not sent to the agent that asked for the transition). A function for `payload` gives each
   * agent its own (Performance's level indices for an agent at version 4.0, values for one at 3.0).
   * Returns to how many agents it went (see {@link PlatformServices.notifyAgent}).
   */
  notify(
    protocolId: number,
    notificationId: number,
    domainId: number,
    payload: Uint8Array | ((agent: AgentSession) => Uint8Array),
    except?: AgentSession,
  ): number;
  /**
   * Sends one notification to one agent if it is connected, subscribed, and may use the domain now
   * ({@link AgentSession.receives}); otherwise nothing. Returns whether it was handed to the
   * agent's P2A path: false also when it does not fit the link (counted in
   * `notificationsDropped`); what the P2A fault rules and `link.post` then do with it is counted
   * there (`notificationsPosted`, `notificationsDropped`), a path that threw included.
   */
  notifyAgent(
    agent: AgentSession,
    protocolId: number,
    notificationId: number,
    domainId: number,
    payload: Uint8Array,
  ): boolean;
  /**
   * Completes the asynchronous command `req` after `ms`: `complete` runs then (apply the state
   * change there) and, when `respond` is true, its reply is posted as the delayed response.
   * The operation completes even if the agent disconnects first; its delayed response is then
   * not sent (counted in `cancelledOnDisconnect`), not even to a new connection of the agent.
   * Cancelled only when the platform closes (and nothing is armed when it is closed already: a
   * handler that closed it). `tag` counts pending operations. A delivery fault that withholds
   * the command's response (`late-reply`, `hold`, `reorder`) lets a delayed response due first
   * overtake it, as a buggy platform's would (the conformance kit's overtaken-response case). When `complete`
   * throws, the failure is counted and logged as a handler's (`handlerErrors`, `handlerErrorLog`,
   * with the command's ids and token) and the delayed response says GENERIC_ERROR.
   */
  later(
    req: PlatformRequest,
    ms: number,
    tag: string,
    respond: boolean,
    complete: () => Reply,
  ): void;
  /** How many entries of `entrySize` bytes fit in a reply after `fixed` bytes of return values. */
  fit(req: PlatformRequest, fixed: number, entrySize: number): number;
  /**
   * Whether a delayed response with `returns` bytes of return values (after the status) fits the
   * link of `req`. Where it does not, the asynchronous mode that would send it is not advertised
   * (CLOCK PROTOCOL_ATTRIBUTES pending asynchronous rate changes 0, RESET_DOMAIN_ATTRIBUTES bit 31
   * and SENSOR_DESCRIPTION_GET bit 31 clear, and SENSOR PROTOCOL_ATTRIBUTES max_pending_async 0
   * where no sensor's fits) and a command asking for it is answered NOT_SUPPORTED
   * before any change, as on a link without a P2A channel, rather than answered SUCCESS and
   * followed by a delayed response that only says PROTOCOL_ERROR. (An asynchronous CLOCK_RATE_SET
   * that asks for no delayed response, flags bit 1, sends none and is accepted.)
   */
  delayedFits(req: PlatformRequest, returns: number): boolean;
  /**
   * Whether a notification with `payload` bytes after its header fits the link of `req`: one that
   * does not is dropped and counted when posted, so it is not advertised there (its attribute bit
   * clear) and the `*_NOTIFY` command that would enable it is answered NOT_SUPPORTED.
   */
  notificationFits(req: PlatformRequest, payload: number): boolean;
  /** Forgets everything the servers keep for an agent (RESET_AGENT_CONFIGURATION). */
  resetAgent(agentId: number): void;
  /** Tells the servers that the domains agent `agentId` may use changed. */
  permissionsChanged(agentId: number): void;
}

const EMPTY = new Uint8Array(0);

/**
 * The version a protocol server reports, given `v32`, its SCMI v3.2 version whose minor (x.1) only
 * adds NEGOTIATE_PROTOCOL_VERSION: that version, or, without version negotiation
 * (`behaviour.versionNegotiation` false: firmware older than SCMI v3.2), the same major at minor
 * 0, as SCMI v3.1 firmware reports it, not a minor that claims the message it lacks. @internal
 */
export function reportedVersion(services: PlatformServices, v32: number): number {
  return services.behaviour.versionNegotiation ? v32 : (v32 & 0xffff0000) >>> 0;
}

/** A successful reply. @internal */
export function ok(returns: Uint8Array = EMPTY): Reply {
  return { status: ScmiStatus.SUCCESS, returns };
}

/** An error reply. @internal */
export function fail(status: number): Reply {
  return { status };
}

/** Little-endian u32 words as bytes. @internal */
export function words(...values: readonly number[]): Uint8Array {
  return wordsOf(values);
}

/**
 * {@link words} of an array, which a caller must not spread into arguments when it may be long
 * (a storm payload of thousands of words would overflow the call stack). @internal
 */
export function wordsOf(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  // Byte stores, not a DataView: taking `out.buffer` of a small typed array makes V8 move its
  // bytes off the heap, which cost more than the rest of a whole PROTOCOL_VERSION answer.
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    const at = i * 4;
    out[at] = v;
    out[at + 1] = v >>> 8;
    out[at + 2] = v >>> 16;
    out[at + 3] = v >>> 24;
  }
  return out;
}

/**
 * Checks a domain id: NOT_FOUND when it does not exist (INVALID_PARAMETERS with
 * `behaviour.unknownDomain`, as OP-TEE); DENIED when `use` and the agent may not use it;
 * undefined when fine. @internal
 */
export function domainCheck(
  services: PlatformServices,
  req: PlatformRequest,
  protocol: PlatformDomainProtocol,
  id: number,
  count: number,
  use: boolean,
): Reply | undefined {
  if (id >= count) {
    const invalid = services.behaviour.unknownDomain === 'invalid-parameters';
    return fail(invalid ? ScmiStatus.INVALID_PARAMETERS : ScmiStatus.NOT_FOUND);
  }
  if (use && !req.agent.mayUse(protocol, id)) return fail(ScmiStatus.DENIED);
  return undefined;
}

/** Reads a `notify_enable` word: true/false, or undefined when reserved bits are set. @internal */
export function readEnable(r: PayloadReader): boolean | undefined {
  const v = r.u32();
  if ((v & ~1) !== 0) return undefined;
  return v === 1;
}

/**
 * Reads the `notify_enable` word of a `*_NOTIFY` command that enables a notification of
 * `payload` bytes (after its header): the flag, or the reply that refuses the command —
 * INVALID_PARAMETERS when reserved bits are set, NOT_SUPPORTED when it enables a notification the
 * link of `req` cannot carry ({@link PlatformServices.notificationFits}: it is not advertised
 * there). Disabling, which can never post anything, is not refused. @internal
 */
export function readNotifyEnable(
  services: PlatformServices,
  req: PlatformRequest,
  payload: number,
): boolean | Reply {
  const on = readEnable(req.r);
  if (on === undefined) return fail(ScmiStatus.INVALID_PARAMETERS);
  if (on && !services.notificationFits(req, payload)) return fail(ScmiStatus.NOT_SUPPORTED);
  return on;
}

/**
 * The common shape of every `*_NOTIFY(domain_id, notify_enable)` command: checks the domain and
 * the flag, then (un)subscribes the agent. `payload` is the size in bytes of the notification it
 * enables (after its header). Without a P2A channel the engine answers NOT_SUPPORTED before the
 * handler runs (`p2a: true`); on a link that notification does not fit
 * ({@link PlatformServices.notificationFits}), enabling it is answered NOT_SUPPORTED and nothing
 * is subscribed, as the attribute bit that advertises it is clear there; disabling it, which can
 * never post anything, is accepted. @internal
 */
export function notifyCommand(
  services: PlatformServices,
  protocolId: number,
  notificationId: number,
  payload: number,
  protocol: PlatformDomainProtocol,
  count: () => number,
): MessageHandler {
  return {
    size: 8,
    p2a: true,
    run: (req) => {
      const id = req.r.u32();
      const bad = domainCheck(services, req, protocol, id, count(), true);
      if (bad !== undefined) return bad;
      const on = readNotifyEnable(services, req, payload);
      if (typeof on !== 'boolean') return on;
      req.agent.subscribe(protocolId, notificationId, id, on);
      return ok();
    },
  };
}

/** Encodes a 64-byte extended name reply: flags (0) and name[64]. @internal */
export function extendedName(name: string): Uint8Array {
  const out = new Uint8Array(4 + 64);
  out.set(Buffer.from(name, 'utf8').subarray(0, 63), 4);
  return out;
}

/** Writes `name` NUL-padded into 16 bytes (truncated to 15). @internal */
export function shortName(name: string): Uint8Array {
  const out = new Uint8Array(16);
  out.set(Buffer.from(name, 'utf8').subarray(0, 15));
  return out;
}

/** Concatenates byte arrays. @internal */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Whether a name needs the extended-name mechanism (longer than 15 bytes). @internal */
export function needsExtendedName(name: string): boolean {
  return Buffer.byteLength(name, 'utf8') > 15;
}
