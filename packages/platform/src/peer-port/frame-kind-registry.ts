import type { ScmiPlatformPort } from '@scmi-ts/core';
import { PlatformError } from '../errors/platform-error.js';
import { PeerFrameKind } from './peer-frame.js';

/** What a frame handler knows about the connection its frame came from. */
export interface PeerFrameContext {
  /** The platform the port serves. */
  readonly platform: ScmiPlatformPort;
  /** The agent id the connection was given. */
  readonly agentId: number;
  /** A number that identifies the connection in the port's log. */
  readonly connectionId: number;
  /** Per-connection storage for the handler (e.g. the state of an emulated SMT channel). */
  readonly data: Map<unknown, unknown>;
  /** Sends a frame to this connection (ignored once it is closed). */
  send(kind: number, payload: Uint8Array): void;
}

/**
 * Handles one frame of a registered kind: returns the payload of the reply frame (same kind), or
 * `undefined` for none. Throwing closes that connection (the reason is logged); other connections
 * are not affected.
 */
export type PeerFrameHandler = (
  context: PeerFrameContext,
  payload: Uint8Array,
) => Uint8Array | undefined;

const handlers = new Map<number, PeerFrameHandler>();
const RESERVED: ReadonlySet<number> = new Set([
  PeerFrameKind.MSG,
  PeerFrameKind.P2A,
  PeerFrameKind.CLOSE,
]);

/**
 * Adds a frame kind to every peer port of this thread (ports started before and after), so that a
 * transport package can carry its own wire over the peer port — the mailbox transport adds kind 2,
 * a whole SMT area. Returns a function that removes the registration.
 *
 * @throws PlatformError `E_FRAME_KIND` when `kind` is not a u32, is reserved by the platform (1,
 *   3, 4), or is already registered.
 * @example
 * ```ts
 * const unregister = registerFrameKind(PeerFrameKind.SMT, createSmtPeerFrameHandler());
 * // … later
 * unregister();
 * ```
 */
export function registerFrameKind(kind: number, handler: PeerFrameHandler): () => void {
  if (!Number.isInteger(kind) || kind < 0 || kind > 0xffffffff) {
    throw new PlatformError('E_FRAME_KIND', `frame kind ${kind} is not a u32`);
  }
  if (RESERVED.has(kind)) {
    throw new PlatformError('E_FRAME_KIND', `frame kind ${kind} is reserved by the platform`);
  }
  if (handlers.has(kind)) {
    throw new PlatformError('E_FRAME_KIND', `frame kind ${kind} is already registered`);
  }
  handlers.set(kind, handler);
  return () => {
    if (handlers.get(kind) === handler) handlers.delete(kind);
  };
}

/** The handler registered for `kind`, if any. @internal */
export function frameKindHandler(kind: number): PeerFrameHandler | undefined {
  return handlers.get(kind);
}
