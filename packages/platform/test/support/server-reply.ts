import { CommonMessageId, PayloadReader, VirtualClock, buildHeader } from '@scmi-ts/core';
import { createDefaultPlatformConfig, type PlatformConfig } from '@scmi-ts/platform';
import { validatePlatformConfig } from '../../src/config/validate-platform-config';
import { resolvePlatformBehaviour } from '../../src/platform/platform-behaviour';
import { PlatformEngine } from '../../src/platform/platform-engine';
import type { PlatformServices, ProtocolServer } from '../../src/protocols/protocol-server';
import { FakeLink, u32s } from './harness';

/** A protocol server's own answer, before the engine fits it to the link. */
export interface ServerReply {
  readonly status: number;
  /** Return values as little-endian words. */
  readonly words: number[];
}

/**
 * Runs one command through a protocol server built on a real {@link PlatformEngine}, for agent
 * `agentId` connected with a link of `maxMsgSize` bytes, and returns the server's reply as is.
 *
 * The engine answers PROTOCOL_ERROR to a reply that does not fit the link, and every domain
 * attributes reply (CLOCK_ATTRIBUTES 24 bytes of return values, RESET_DOMAIN_ATTRIBUTES 24,
 * POWER_DOMAIN_ATTRIBUTES 20, PERF_DOMAIN_ATTRIBUTES 32) is larger than the notifications and
 * delayed responses it advertises: the bits a server sets for a link too small for those can only
 * be seen here, not through `ScmiPlatform.handle`.
 */
export function serverReply(
  make: (services: PlatformServices) => ProtocolServer,
  link: { readonly p2a?: boolean; readonly maxMsgSize: number },
  messageId: number,
  payload: number[] = [],
  agentId = 1,
  config: PlatformConfig = createDefaultPlatformConfig(),
): ServerReply {
  const engine = new PlatformEngine(
    validatePlatformConfig(config),
    resolvePlatformBehaviour(),
    new VirtualClock(),
    1,
  );
  try {
    const server = make(engine);
    engine.register(server);
    const fake = new FakeLink(link.p2a ?? true, link.maxMsgSize);
    engine.connect(agentId, fake);
    const agent = engine.agent(agentId);
    if (agent === undefined) throw new Error(`agent ${agentId} is not configured`);
    const req = {
      agent,
      link: fake,
      headerWord: buildHeader(messageId, 0, server.id, 0),
      r: new PayloadReader(u32s(...payload)),
      version: server.version,
    };
    let reply;
    if (messageId === (CommonMessageId.PROTOCOL_ATTRIBUTES as number)) {
      reply = server.attributes(req);
    } else {
      const handler = server.messages.get(messageId);
      if (handler === undefined) throw new Error(`message 0x${messageId.toString(16)} unknown`);
      reply = handler.run(req);
    }
    const returns = reply.returns ?? new Uint8Array(0);
    const r = new PayloadReader(returns);
    const words: number[] = [];
    while (r.remaining >= 4) words.push(r.u32());
    return { status: reply.status, words };
  } finally {
    engine.close();
  }
}
