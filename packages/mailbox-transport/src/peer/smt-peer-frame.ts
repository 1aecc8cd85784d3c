import { isCommandHeader, type ScmiPlatformPort } from '@scmi-ts/core';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_HEADER_OFFSET,
  SMT_MIN_AREA_SIZE,
  SmtArea,
  fitSmtResponse,
} from '../smt/smt-layout.js';

/** The peer-port frame kind of a whole SMT area (the platform reserves it for this package). */
export const SMT_PEER_FRAME_KIND = 2;

/** Largest SMT area a kind-2 frame may carry, bytes. */
export const SMT_PEER_MAX_AREA = 4096;

/**
 * What a peer-port frame handler is given (structurally the `PeerFrameContext` of
 * `@scmi-ts/platform`, which this package cannot import).
 */
export interface SmtPeerFrameContext {
  /** The platform the port serves. */
  readonly platform: ScmiPlatformPort;
  /** The agent id of the connection. */
  readonly agentId: number;
}

/**
 * Processes one SMT area as the platform would over shared memory, and returns the updated area
 * (a new array of the same size):
 *
 * - CHANNEL_FREE set: nothing is pending; the area comes back unchanged;
 * - a length field out of the area (or below a header): refused (`SmtArea.refuse`: PROTOCOL_ERROR,
 *   length 8, CHANNEL_ERROR | CHANNEL_FREE, as SCP-firmware); CHANNEL_ERROR already set: refused
 *   the same way, as OP-TEE's smt.c refuses it (SCP-firmware clears the bit and processes the
 *   message);
 * - a header that is not a command (reserved bits, another type): the platform sees it (and drops
 *   it), and the area comes back refused the same way;
 * - else the message (header + payload) goes to `platform.handle` on A2P channel `channelId`; its
 *   response is written over it and CHANNEL_FREE set — or, when it is larger than the area (the
 *   platform sizes responses to the port's link), the response's header with PROTOCOL_ERROR. When the platform has no response now
 *   (a fault rule delayed or dropped it) the area comes back still busy; a later response reaches
 *   the client by the port's own way (a kind-1 frame).
 *
 * @throws RangeError when `area` is smaller than 32 bytes (the SMT header and a status) or larger than
 * {@link SMT_PEER_MAX_AREA} (the peer port then closes that connection).
 * @example
 * ```ts
 * const updated = processSmtArea(platform, 1, 0, area);
 * new DataView(updated.buffer).getUint32(4, true) & SMT_CHANNEL_FREE; // 1: answered
 * ```
 */
export function processSmtArea(
  platform: ScmiPlatformPort,
  agentId: number,
  channelId: number,
  area: Uint8Array,
): Uint8Array {
  const size = area.byteLength;
  if (size < SMT_MIN_AREA_SIZE || size > SMT_PEER_MAX_AREA) {
    throw new RangeError(
      `an SMT area frame must hold ${SMT_MIN_AREA_SIZE}..${SMT_PEER_MAX_AREA} bytes, got ${size}`,
    );
  }
  const memory = new SharedArrayBuffer(Math.ceil(size / 4) * 4);
  const smt = new SmtArea(memory, 0, memory.byteLength);
  smt.bytes.set(area);
  if (!smt.isFree()) {
    const length = smt.length();
    if (
      length < 4 ||
      length > size - SMT_HEADER_OFFSET ||
      (smt.status() & SMT_CHANNEL_ERROR) !== 0
    ) {
      smt.refuse();
    } else {
      const header = smt.header();
      const response = platform.handle(
        agentId,
        channelId,
        smt.bytes.subarray(SMT_HEADER_OFFSET, SMT_HEADER_OFFSET + length),
      );
      if (!isCommandHeader(header)) {
        // Not a command: the platform saw it (counted, BASE_ERROR_EVENT) and drops it; no later
        // frame will answer it, so the area goes back now, with CHANNEL_ERROR, as SmtResponder
        // gives it back.
        smt.refuse();
      } else if (response !== undefined) {
        // The platform sizes its responses to the port's link, not to this frame's area: one
        // that does not fit is answered PROTOCOL_ERROR (as SmtResponder does) rather than cut
        // into a success missing return values.
        const written = fitSmtResponse(response, size - SMT_HEADER_OFFSET);
        smt.bytes.set(written, SMT_HEADER_OFFSET);
        smt.setLength(written.byteLength);
        smt.setStatus(SMT_CHANNEL_FREE);
      }
    }
  }
  return smt.bytes.slice(0, size);
}

/**
 * A peer-port frame handler for kind 2 (a whole SMT area in, the updated area back), to register
 * with `registerFrameKind` of `@scmi-ts/platform` where that package is available (this one
 * cannot depend on it):
 *
 * ```ts
 * import { PeerFrameKind, registerFrameKind } from '@scmi-ts/platform';
 * const unregister = registerFrameKind(PeerFrameKind.SMT, createSmtPeerFrameHandler());
 * ```
 *
 * Every frame is A2P channel `channelId` (default 0) of the connection's agent.
 *
 * @example
 * ```ts
 * const handler = createSmtPeerFrameHandler();
 * const updated = handler({ platform, agentId: 1 }, area);
 * ```
 */
export function createSmtPeerFrameHandler(
  channelId = 0,
): (context: SmtPeerFrameContext, payload: Uint8Array) => Uint8Array {
  return (context, payload) =>
    processSmtArea(context.platform, context.agentId, channelId, payload);
}
