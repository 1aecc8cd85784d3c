/**
 * What a transport backend knows about the agent it serves, given to the platform when the agent
 * connects: how to reach the agent later (responses after a delay, notifications, delayed
 * responses) and what its transport can carry.
 *
 * Implemented by each transport's platform-side backend (an SMT responder, a virtio device, an
 * emulated PTA); used by the platform (`@scmi-ts/platform`).
 */
export interface PlatformAgentLink {
  /** Whether the agent's transport has a P2A channel (notifications and delayed responses). */
  readonly p2a: boolean;
  /** Largest message payload (after the header) the transport carries, in bytes. */
  readonly maxMsgSize: number;
  /**
   * Delivers a response to a command on A2P channel `channelId` later than `handle` returned
   * (fault injection: delayed, duplicated or unsolicited responses). MSG layout: header, status,
   * return values. Ignored once the link is closed.
   *
   * `command` is the header word of the command the response answers, when there is one (a
   * delayed, late, reordered or duplicated response); undefined for an unsolicited response, or
   * from a platform that does not say. A backend pairs the response with its command by `command`
   * when given — `sameCommandHeader(command, header of the command it holds)`, from core — not by
   * the response's own header, which a fault rule may have rewritten: a rewritten response then
   * still answers its command (for the agent to reject), and a copy for a command already
   * answered is dropped. Without it, a backend can only match by the response's header.
   */
  respond(channelId: number, response: Uint8Array, command?: number): void;
  /**
   * Posts a notification or a delayed response (MSG layout: header, payload) on the P2A channel.
   * Returns false when it could not be posted (no P2A channel, no free buffer, the agent side gone,
   * link closed): a notification may then be dropped, a delayed response must be posted again
   * later. A refused post is the caller's to count as dropped (the platform's
   * `notificationsDropped`; a delayed response it retries), not the backend's: a backend may keep
   * a statistic of its refusals (the SMT responder's `p2aRefused`), but what it reports as
   * messages it dropped (the conformance kit's `FixtureEnds.droppedSignals`) is only what it took
   * (returned true) and could not deliver after all — a queued post dropped when the agent side
   * went, a ring after release. A refusal counted there too is one message counted twice.
   */
  post(message: Uint8Array): boolean;
}

/** A connection between one agent and the platform; disconnect it when the agent's transport goes. */
export interface PlatformConnection {
  /** The agent id the platform assigned to this connection. */
  readonly agentId: number;
  /** Stops every notification and delayed response to the agent; idempotent. */
  disconnect(): void;
}

/**
 * The platform side of every transport: the emulated firmware turns request bytes into response
 * bytes, keeps device state, and reaches agents through their {@link PlatformAgentLink}.
 *
 * Transport backends call it; the platform implements it. Neither depends on the other: both meet
 * here, in core. Messages use the MSG layout (`le32 header` + payload; responses `le32 header`,
 * `int32 status`, return values), whatever the wire.
 *
 * @example
 * ```ts
 * const conn = platform.connect(1, link);
 * const response = platform.handle(conn.agentId, 0, request); // undefined: no reply now
 * ```
 */
export interface ScmiPlatformPort {
  /**
   * Connects agent `agentId` (as the platform configuration names it) through `link`.
   *
   * @throws Error when the agent id is unknown or already connected.
   */
  connect(agentId: number, link: PlatformAgentLink): PlatformConnection;
  /**
   * Processes one command from agent `agentId` received on A2P channel `channelId`. Returns the
   * response, or `undefined` when there is none now (a fault rule dropped or delayed it; a delayed
   * one comes later through {@link PlatformAgentLink.respond}). Never throws on malformed input:
   * the platform answers it with an SCMI error status (or drops it, when not even a header can be
   * read). The request bytes are only read during the call.
   */
  handle(agentId: number, channelId: number, request: Uint8Array): Uint8Array | undefined;
}
