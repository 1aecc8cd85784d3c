import {
  ScmiMessageType,
  ScmiStatus,
  buildHeader,
  encodeMsg,
  encodeMsgResponse,
  headerMessageId,
  headerProtocolId,
  headerToken,
  readU32,
  type Clock,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
} from '@scmi-ts/core';

/** What a handler answers: a status and return values, or nothing (drop). */
export type FakeReply = { status: number; returns?: Uint8Array } | 'drop';

/** A request as the fake platform saw it. */
export interface FakeRequest {
  readonly agentId: number;
  readonly channelId: number;
  readonly header: number;
  readonly protocolId: number;
  readonly messageId: number;
  readonly token: number;
  readonly payload: Uint8Array;
}

function le32(...words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true));
  return out;
}

function name16(s: string): Uint8Array {
  const out = new Uint8Array(16);
  out.set(Buffer.from(s).subarray(0, 15));
  return out;
}

/**
 * A minimal platform for core's own tests: Base discovery, echo for other protocols, and hooks to
 * delay, drop, duplicate or reorder replies, post notifications and delayed responses. (The full
 * emulated firmware is `@scmi-ts/platform`; core does not depend on it.)
 */
export class FakePlatform implements ScmiPlatformPort {
  readonly requests: FakeRequest[] = [];
  readonly links = new Map<number, PlatformAgentLink>();
  protocols = [0x14, 0x15];
  baseVersion = 0x20000;
  numAgents = 2;
  /** Per-request override: return a reply, or undefined for the default behaviour. */
  override: ((req: FakeRequest) => FakeReply | undefined) | undefined;
  /** Per-request delay (ms on the clock) before replying through `link.respond`; undefined: reply now. */
  delay: ((req: FakeRequest) => number | undefined) | undefined;
  readonly #clock: Clock;
  readonly #timers = new Set<{ cancel(): void }>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  connect(agentId: number, link: PlatformAgentLink): PlatformConnection {
    this.links.set(agentId, link);
    return {
      agentId,
      disconnect: () => {
        this.links.delete(agentId);
        for (const t of this.#timers) t.cancel();
        this.#timers.clear();
      },
    };
  }

  handle(agentId: number, channelId: number, request: Uint8Array): Uint8Array | undefined {
    if (request.byteLength < 4) return undefined;
    const header = readU32(request, 0);
    const req: FakeRequest = {
      agentId,
      channelId,
      header,
      protocolId: headerProtocolId(header),
      messageId: headerMessageId(header),
      token: headerToken(header),
      payload: request.slice(4),
    };
    this.requests.push(req);
    const reply = this.override?.(req) ?? this.#default(req);
    if (reply === 'drop') return undefined;
    const bytes = encodeMsgResponse(header, reply.status, reply.returns);
    const ms = this.delay?.(req);
    if (ms === undefined) return bytes;
    this.later(ms, () => this.links.get(agentId)?.respond(channelId, bytes));
    return undefined;
  }

  /** Runs `fn` after `ms` on the clock (cancelled at disconnect). */
  later(ms: number, fn: () => void): void {
    const t = this.#clock.setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  /** Posts a notification to `agentId`. */
  notify(agentId: number, protocolId: number, eventId: number, payload: Uint8Array): boolean {
    const header = buildHeader(eventId, ScmiMessageType.NOTIFICATION, protocolId, 0);
    return this.links.get(agentId)?.post(encodeMsg(header, payload)) ?? false;
  }

  /** Posts a delayed response for `req` to its agent. */
  delayedResponse(
    req: FakeRequest,
    status: number,
    returns: Uint8Array = new Uint8Array(0),
  ): boolean {
    const header = buildHeader(
      req.messageId,
      ScmiMessageType.DELAYED_RESPONSE,
      req.protocolId,
      req.token,
    );
    const payload = new Uint8Array(4 + returns.byteLength);
    new DataView(payload.buffer).setInt32(0, status, true);
    payload.set(returns, 4);
    return this.links.get(req.agentId)?.post(encodeMsg(header, payload)) ?? false;
  }

  /** Sends a raw response to `agentId` on `channelId` (duplicates, unsolicited replies). */
  respond(agentId: number, channelId: number, bytes: Uint8Array): void {
    this.links.get(agentId)?.respond(channelId, bytes);
  }

  #default(req: FakeRequest): FakeReply {
    if (req.protocolId !== 0x10) {
      if (req.messageId === 0) return { status: ScmiStatus.SUCCESS, returns: le32(0x10000) };
      if (!this.protocols.includes(req.protocolId)) return { status: ScmiStatus.NOT_SUPPORTED };
      return { status: ScmiStatus.SUCCESS, returns: req.payload };
    }
    switch (req.messageId) {
      case 0x0:
        return { status: ScmiStatus.SUCCESS, returns: le32(this.baseVersion) };
      case 0x1:
        return {
          status: ScmiStatus.SUCCESS,
          returns: le32(this.protocols.length | (this.numAgents << 8)),
        };
      case 0x2:
        return { status: ScmiStatus.NOT_FOUND };
      case 0x3:
        return { status: ScmiStatus.SUCCESS, returns: name16('fake-vendor') };
      case 0x4:
        return { status: ScmiStatus.SUCCESS, returns: name16('fake-sub') };
      case 0x5:
        return { status: ScmiStatus.SUCCESS, returns: le32(0x0102) };
      case 0x6: {
        const skip = readU32(req.payload, 0);
        const list = this.protocols.slice(skip);
        const bytes = new Uint8Array(4 + Math.ceil(list.length / 4) * 4);
        new DataView(bytes.buffer).setUint32(0, list.length, true);
        bytes.set(list, 4);
        return { status: ScmiStatus.SUCCESS, returns: bytes };
      }
      case 0x7: {
        const id = readU32(req.payload, 0);
        // Agent 0 is the platform; agents are 1 … numAgents.
        if (id > this.numAgents) return { status: ScmiStatus.NOT_FOUND };
        const out = new Uint8Array(20);
        new DataView(out.buffer).setUint32(0, id, true);
        out.set(name16(id === 0 ? 'platform' : `agent${id}`), 4);
        return { status: ScmiStatus.SUCCESS, returns: out };
      }
      case 0x8:
        return { status: ScmiStatus.SUCCESS };
      default:
        return { status: ScmiStatus.NOT_FOUND };
    }
  }
}
