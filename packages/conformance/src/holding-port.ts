import type { PlatformAgentLink, PlatformConnection, ScmiPlatformPort } from '@scmi-ts/core';
import { headerMessageId, headerProtocolId, readU32 } from '@scmi-ts/core';

/** A message the platform sent towards an agent, as {@link HoldingPlatformPort.observe} sees it. */
export interface PortMessage {
  /**
   * `response`: a response to a command (returned by `handle`, or sent later through
   * `link.respond`); `post`: a notification or delayed response posted on the P2A channel.
   */
  readonly kind: 'response' | 'post';
  /** The agent it is addressed to. */
  readonly agentId: number;
  /** The message (header first). */
  readonly bytes: Uint8Array;
}

interface Held {
  readonly agentId: number;
  readonly channelId: number;
  readonly response: Uint8Array;
  /** The header word of the command it answers. */
  readonly command: number;
}

/**
 * Wraps the platform port so that the kit can hold chosen replies: a held command is processed by
 * the platform at once (its state changes, its response is computed) but the response is kept
 * back and sent through the agent's link only when {@link HoldingPlatformPort.release} is called —
 * at the exact moment a scenario chooses. Replies released after the agent's link was disconnected
 * go nowhere and are counted in {@link HoldingPlatformPort.droppedAfterDisconnect}.
 *
 * @example
 * ```ts
 * port.hold((protocolId, messageId) => protocolId === 0x10 && messageId === 0x0);
 * // … later, inside a teardown event:
 * port.release();
 * ```
 */
export class HoldingPlatformPort implements ScmiPlatformPort {
  readonly #inner: ScmiPlatformPort;
  readonly #links = new Map<number, { link: PlatformAgentLink; open: boolean }>();
  #predicate: ((protocolId: number, messageId: number) => boolean) | undefined;
  #observer: ((message: PortMessage) => void) | undefined;
  #held: Held[] = [];
  #dropped = 0;

  /** Wraps `inner`. */
  public constructor(inner: ScmiPlatformPort) {
    this.#inner = inner;
  }

  /** Replies released, and messages posted, after their agent disconnected. */
  public get droppedAfterDisconnect(): number {
    return this.#dropped;
  }

  /** Replies currently held. */
  public get heldCount(): number {
    return this.#held.length;
  }

  /** The A2P channel ids of the replies currently held, in order. */
  public get heldChannels(): readonly number[] {
    return this.#held.map((h) => h.channelId);
  }

  /** Holds the replies of commands matching `predicate` (once each) until released. */
  public hold(predicate: ((protocolId: number, messageId: number) => boolean) | undefined): void {
    this.#predicate = predicate;
  }

  /**
   * Calls `observer` with every message the platform sends towards an agent, as it is sent (before
   * the wire carries it), or stops with `undefined`. Held replies are seen when released.
   */
  public observe(observer: ((message: PortMessage) => void) | undefined): void {
    this.#observer = observer;
  }

  /** Sends every held reply now, in order. Returns how many were sent to a live link. */
  public release(): number {
    const held = this.#held;
    this.#held = [];
    let sent = 0;
    for (const h of held) {
      const entry = this.#links.get(h.agentId);
      if (entry === undefined || !entry.open) {
        this.#dropped++;
        continue;
      }
      this.#observer?.({ kind: 'response', agentId: h.agentId, bytes: h.response });
      entry.link.respond(h.channelId, h.response, h.command);
      sent++;
    }
    return sent;
  }

  /**
   * Posts `message` (a notification or delayed response, header first) to agent `agentId` on its
   * P2A channel now, as the platform would: true when the wire took it. A link already
   * disconnected takes nothing: false, counted in {@link HoldingPlatformPort.droppedAfterDisconnect}.
   * The observer sees it as a `post` when the link is live.
   */
  public post(agentId: number, message: Uint8Array): boolean {
    const entry = this.#links.get(agentId);
    if (entry === undefined || !entry.open) {
      this.#dropped++;
      return false;
    }
    this.#observer?.({ kind: 'post', agentId, bytes: message });
    return entry.link.post(message);
  }

  /** @inheritDoc */
  public connect(agentId: number, link: PlatformAgentLink): PlatformConnection {
    const observed: PlatformAgentLink = {
      get p2a() {
        return link.p2a;
      },
      get maxMsgSize() {
        return link.maxMsgSize;
      },
      respond: (channelId, response, command) => {
        this.#observer?.({ kind: 'response', agentId, bytes: response });
        link.respond(channelId, response, command);
      },
      post: (message) => {
        this.#observer?.({ kind: 'post', agentId, bytes: message });
        return link.post(message);
      },
    };
    const conn = this.#inner.connect(agentId, observed);
    const entry = { link, open: true };
    this.#links.set(agentId, entry);
    return {
      agentId: conn.agentId,
      disconnect: () => {
        entry.open = false;
        conn.disconnect();
      },
    };
  }

  /** @inheritDoc */
  public handle(agentId: number, channelId: number, request: Uint8Array): Uint8Array | undefined {
    const response = this.#inner.handle(agentId, channelId, request);
    const predicate = this.#predicate;
    if (response === undefined) return response;
    if (predicate === undefined || request.byteLength < 4) return this.#sent(agentId, response);
    const header = readU32(request, 0);
    if (!predicate(headerProtocolId(header), headerMessageId(header)))
      return this.#sent(agentId, response);
    this.#predicate = undefined; // once
    this.#held.push({ agentId, channelId, response, command: header });
    return undefined;
  }

  #sent(agentId: number, response: Uint8Array): Uint8Array {
    this.#observer?.({ kind: 'response', agentId, bytes: response });
    return response;
  }
}
