import {
  encodeMsgResponse,
  readU32,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
} from '@scmi-ts/core';

/**
 * A minimal ScmiPlatformPort for device tests: records requests, answers SUCCESS with the request's
 * payload echoed (or what `reply` says), and keeps the link so tests can respond and post later.
 */
export class StubPlatform implements ScmiPlatformPort {
  public link: PlatformAgentLink | undefined;
  public connects = 0;
  public disconnects = 0;
  public readonly requests: Uint8Array[] = [];
  public reply: (request: Uint8Array) => Uint8Array | undefined = (request) =>
    encodeMsgResponse(readU32(request, 0), 0, request.subarray(4));
  public refuseConnect = false;

  public connect(agentId: number, link: PlatformAgentLink): PlatformConnection {
    if (this.refuseConnect) throw new Error('agent already connected');
    this.link = link;
    this.connects++;
    return {
      agentId,
      disconnect: () => {
        if (this.link === link) this.link = undefined;
        this.disconnects++;
      },
    };
  }

  public handle(_agentId: number, _channelId: number, request: Uint8Array): Uint8Array | undefined {
    this.requests.push(request.slice());
    return this.reply(request);
  }
}
