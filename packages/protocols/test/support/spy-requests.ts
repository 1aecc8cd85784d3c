import type { Harness } from './harness.js';

/**
 * The requests of `protocolId`'s `messageId` that reach the platform, as 32-bit words after the
 * header, copied as each arrives (the buffer is the channel's, written again by the next command).
 * Without `messageId`, every request of the protocol, each its message id then its words.
 * Spy once per harness: a second spy would call the first, now the same mock.
 */
export function spyRequests(h: Harness, protocolId: number, messageId?: number): number[][] {
  const seen: number[][] = [];
  const handle = h.platform.handle.bind(h.platform);
  jest.spyOn(h.platform, 'handle').mockImplementation((agentId, channelId, request) => {
    const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
    const header = view.getUint32(0, true);
    const id = header & 0xff;
    if ((messageId === undefined || id === messageId) && ((header >>> 10) & 0xff) === protocolId) {
      // Copied now: the buffer is the channel's, written again by the next command.
      const words: number[] = messageId === undefined ? [id] : [];
      for (let at = 4; at + 4 <= request.byteLength; at += 4) words.push(view.getUint32(at, true));
      seen.push(words);
    }
    return handle(agentId, channelId, request);
  });
  return seen;
}
