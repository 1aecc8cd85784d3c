import type { PlatformConnection, ScmiPlatformPort } from '@scmi-ts/core';
import type { MsgqEnd } from '../wire/msgq-end.js';

/**
 * Options of {@link MsgqResponder}.
 *
 * @example
 * ```ts
 * const options: MsgqResponderOptions = { platform, agentId: 1, end: wire.platform };
 * ```
 */
export interface MsgqResponderOptions {
  /** The platform (an `ScmiPlatform` of `@scmi-ts/platform`, or any `ScmiPlatformPort`). */
  readonly platform: ScmiPlatformPort;
  /** The agent id the platform's configuration gives the agent at the other end. */
  readonly agentId: number;
  /** The platform's end of the wire. */
  readonly end: MsgqEnd;
  /** Largest payload after the header the platform may send, bytes (default 128, the transport's). */
  readonly maxMsgSize?: number;
}

/**
 * The platform side of a msgq wire (docs §9): connects the agent to the platform, hands each
 * command to `platform.handle` and sends its response back on the command's channel; a response
 * the platform sends later (`respond`) and P2A posts (`post`) go over the wire too.
 *
 * The wire is a queue, not one slot per command: every message is carried and the agent side
 * sorts them out (core matches tokens; duplicates and unsolicited replies are counted there), so
 * nothing here pairs a late response with its command. `post` refuses (returns false, the poster
 * counts it) only on a wire without P2A or once closed. Closing disconnects the agent (the
 * platform drops what it still held for it) and stops taking commands; idempotent. When the other
 * end is gone (a port closed), the responder closes itself.
 *
 * @example
 * ```ts
 * const responder = new MsgqResponder({ platform, agentId: 1, end: wire.platform });
 * // … the agent's life …
 * responder.close();
 * ```
 */
export class MsgqResponder {
  /** Commands taken from the wire. */
  public requests = 0;
  readonly #options: MsgqResponderOptions;
  readonly #connection: PlatformConnection;
  #closed = false;

  /** Connects `options.agentId` to the platform and listens on every A2P channel of the wire. */
  public constructor(options: MsgqResponderOptions) {
    const { platform, agentId, end } = options;
    this.#options = options;
    this.#connection = platform.connect(agentId, {
      p2a: end.p2a,
      maxMsgSize: options.maxMsgSize ?? 128,
      respond: (channelId, response) => {
        if (!this.#closed) end.send('a2p', channelId, response);
      },
      post: (message) => {
        if (this.#closed || !end.p2a) return false;
        end.send('p2a', 0, message);
        return true;
      },
    });
    for (const id of end.a2p) {
      end.listen('a2p', id, {
        message: (request) => this.#command(id, request),
        gone: () => this.close(),
      });
    }
  }

  /** Disconnects the agent and stops listening; idempotent. */
  public close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of this.#options.end.a2p) this.#options.end.listen('a2p', id, undefined);
    this.#connection.disconnect();
  }

  #command(channelId: number, request: Uint8Array): void {
    this.requests++;
    const { platform, agentId, end } = this.#options;
    // The platform never throws on malformed input: it answers with an error status, or drops it.
    const response = platform.handle(agentId, channelId, request);
    if (response !== undefined) end.send('a2p', channelId, response);
  }
}
