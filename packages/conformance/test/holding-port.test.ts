import { HoldingPlatformPort } from '@scmi-ts/conformance';
import {
  ScmiMessageType,
  buildHeader,
  encodeMsg,
  encodeMsgResponse,
  type PlatformAgentLink,
  type ScmiPlatformPort,
} from '@scmi-ts/core';

/** A platform that answers every command SUCCESS at once and keeps the agent's link. */
function answeringPlatform(): { port: ScmiPlatformPort; link: () => PlatformAgentLink } {
  let kept: PlatformAgentLink | undefined;
  return {
    port: {
      connect: (agentId, link) => {
        kept = link;
        return { agentId, disconnect: () => undefined };
      },
      handle: (_agentId, _channelId, request) =>
        encodeMsgResponse(new DataView(request.buffer).getUint32(0, true), 0),
    },
    link: () => {
      if (kept === undefined) throw new Error('not connected');
      return kept;
    },
  };
}

/** A link that records what reaches the agent through `respond` and `post`. */
function recordingLink(
  takesPosts = false,
): PlatformAgentLink & { readonly got: unknown[][]; readonly posted: Uint8Array[] } {
  const got: unknown[][] = [];
  const posted: Uint8Array[] = [];
  return {
    p2a: takesPosts,
    maxMsgSize: 128,
    got,
    posted,
    respond: (channelId, response, command) => got.push([channelId, response[0], command]),
    post: (message) => {
      if (takesPosts) posted.push(message);
      return takesPosts;
    },
  };
}

describe(HoldingPlatformPort, () => {
  const header = buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 7);

  it('should name the held command when it releases its reply', () => {
    const inner = answeringPlatform();
    const port = new HoldingPlatformPort(inner.port);
    const link = recordingLink();
    port.connect(1, link);
    port.hold((protocolId, messageId) => protocolId === 0x10 && messageId === 0x3);
    expect(port.handle(1, 2, encodeMsg(header))).toBeUndefined();
    expect(port.heldChannels).toEqual([2]);
    expect(port.release()).toBe(1);
    expect(link.got).toEqual([[2, header & 0xff, header]]);
  });

  it('should pass on the command the platform names with a later response, and its absence', () => {
    const inner = answeringPlatform();
    const port = new HoldingPlatformPort(inner.port);
    const link = recordingLink();
    port.connect(1, link);
    const late = encodeMsgResponse(header, 0);
    inner.link().respond(0, late, header);
    inner.link().respond(0, late);
    expect(link.got).toEqual([
      [0, header & 0xff, header],
      [0, header & 0xff, undefined],
    ]);
  });

  describe('.post', () => {
    const notification = encodeMsg(buildHeader(0x0, ScmiMessageType.NOTIFICATION, 0x14, 0));

    it("should post on the agent's live link, show it to the observer, and say whether the wire took it", () => {
      const port = new HoldingPlatformPort(answeringPlatform().port);
      const taking = recordingLink(true);
      const refusing = recordingLink(false);
      port.connect(1, taking);
      port.connect(2, refusing);
      const seen: unknown[] = [];
      port.observe((m) => seen.push([m.kind, m.agentId]));
      expect(port.post(1, notification)).toBe(true);
      expect(taking.posted).toEqual([notification]);
      expect(port.post(2, notification)).toBe(false);
      expect(seen).toEqual([
        ['post', 1],
        ['post', 2],
      ]);
      expect(port.droppedAfterDisconnect).toBe(0);
    });

    it('should take nothing for an agent disconnected or never connected, and count it', () => {
      const port = new HoldingPlatformPort(answeringPlatform().port);
      const link = recordingLink(true);
      port.connect(1, link).disconnect();
      expect(port.post(1, notification)).toBe(false);
      expect(port.post(9, notification)).toBe(false);
      expect(link.posted).toEqual([]);
      expect(port.droppedAfterDisconnect).toBe(2);
    });
  });
});
