import {
  PayloadReader,
  VirtualClock,
  buildHeader,
  decodeMsgResponse,
  encodeMsg,
  headerMessageId,
  headerProtocolId,
  headerToken,
  headerType,
  readU32,
  type PlatformAgentLink,
  type PlatformConnection,
} from '@scmi-ts/core';
import {
  ScmiPlatform,
  createDefaultPlatformConfig,
  type PlatformConfig,
  type ScmiPlatformOptions,
} from '@scmi-ts/platform';

/** A link that records what the platform sends; `accept` decides whether `post` succeeds. */
export class FakeLink implements PlatformAgentLink {
  public readonly p2a: boolean;
  public readonly maxMsgSize: number;
  /** Responses sent later (`respond`), with the command each answers when the platform names it. */
  public readonly responses: {
    channelId: number;
    bytes: Uint8Array;
    command: number | undefined;
  }[] = [];
  public readonly posted: Uint8Array[] = [];
  /** What reached the agent in order: `response` for each later response, `p2a` for each post. */
  public readonly order: ('response' | 'p2a')[] = [];
  public refused = 0;
  public accept: (message: Uint8Array) => boolean = () => true;

  public constructor(p2a = true, maxMsgSize = 128) {
    this.p2a = p2a;
    this.maxMsgSize = maxMsgSize;
  }

  public respond(channelId: number, response: Uint8Array, command?: number): void {
    this.responses.push({ channelId, bytes: response.slice(), command });
    this.order.push('response');
  }

  public post(message: Uint8Array): boolean {
    if (!this.accept(message)) {
      this.refused++;
      return false;
    }
    this.posted.push(message.slice());
    this.order.push('p2a');
    return true;
  }

  /** Posted messages decoded: header fields and payload words. */
  public get messages(): Posted[] {
    return this.posted.map(decodePosted);
  }
}

/** A decoded P2A message. */
export interface Posted {
  readonly type: number;
  readonly protocolId: number;
  readonly messageId: number;
  readonly token: number;
  readonly words: number[];
}

export function decodePosted(bytes: Uint8Array): Posted {
  const word = readU32(bytes, 0);
  const words: number[] = [];
  for (let at = 4; at + 4 <= bytes.byteLength; at += 4) words.push(readU32(bytes, at));
  return {
    type: headerType(word),
    protocolId: headerProtocolId(word),
    messageId: headerMessageId(word),
    token: headerToken(word),
    words,
  };
}

/** A decoded response. */
export interface Answer {
  readonly status: number;
  readonly token: number;
  readonly header: number;
  /** Return values as little-endian words (padded reads are the caller's business). */
  readonly words: number[];
  /** A reader over the return values. */
  readonly r: PayloadReader;
  readonly bytes: Uint8Array;
}

export function decodeAnswer(bytes: Uint8Array): Answer {
  const d = decodeMsgResponse(bytes);
  const words: number[] = [];
  for (let at = 0; at + 4 <= d.returns.byteLength; at += 4) words.push(readU32(d.returns, at));
  return {
    status: d.status,
    token: d.header.token,
    header: d.headerWord,
    words,
    r: new PayloadReader(d.returns),
    bytes,
  };
}

/** `value`, or a thrown error when it is undefined (tests may not use `!`). */
export function defined<T>(value: T | undefined, what = 'value'): T {
  if (value === undefined) throw new Error(`${what} is undefined`);
  return value;
}

/** Little-endian u32 words as bytes. */
export function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    view.setUint32(i * 4, v >>> 0, true);
  });
  return out;
}

/** A command in the MSG layout. */
export function command(
  protocolId: number,
  messageId: number,
  token: number,
  payload: Uint8Array | number[] = [],
): Uint8Array {
  const bytes = payload instanceof Uint8Array ? payload : u32s(...payload);
  return encodeMsg(buildHeader(messageId, 0, protocolId, token), bytes);
}

/**
 * Runs `fn` while `clock` cannot arm a timer (its `setTimeout` throws), as when the platform's
 * timer service fails: the platform answers such a command GENERIC_ERROR. Restores the clock after.
 */
export function whileTimersFail<T>(clock: VirtualClock, fn: () => T): T {
  const setTimeout = clock.setTimeout.bind(clock);
  clock.setTimeout = () => {
    throw new Error('the clock failed');
  };
  try {
    return fn();
  } finally {
    clock.setTimeout = setTimeout;
  }
}

/** A platform on a virtual clock with fake links, for protocol tests. */
export class Harness {
  public readonly clock = new VirtualClock();
  public readonly platform: ScmiPlatform;
  public readonly links = new Map<number, FakeLink>();
  public readonly connections = new Map<number, PlatformConnection>();
  #token = 0;

  public constructor(
    config: PlatformConfig = createDefaultPlatformConfig(),
    options: Omit<ScmiPlatformOptions, 'clock'> = {},
  ) {
    this.platform = new ScmiPlatform(config, { clock: this.clock, ...options });
  }

  /** Connects `agentId` with a new fake link. */
  public connect(agentId = 1, p2a = true, maxMsgSize = 128): FakeLink {
    const link = new FakeLink(p2a, maxMsgSize);
    this.links.set(agentId, link);
    this.connections.set(agentId, this.platform.connect(agentId, link));
    return link;
  }

  /** The fake link of a connected agent. */
  public link(agentId: number): FakeLink {
    return defined(this.links.get(agentId), `link of agent ${agentId}`);
  }

  /** The connection of a connected agent. */
  public connection(agentId: number): PlatformConnection {
    return defined(this.connections.get(agentId), `connection of agent ${agentId}`);
  }

  /** Sends a command and returns the raw response (undefined: none now). */
  public send(
    agentId: number,
    protocolId: number,
    messageId: number,
    payload: Uint8Array | number[] = [],
    token?: number,
  ): Uint8Array | undefined {
    const t = token ?? (this.#token = (this.#token + 1) & 0x3ff);
    return this.platform.handle(agentId, 0, command(protocolId, messageId, t, payload));
  }

  /** Sends a command as agent 1 (or `agentId`) and decodes the response, which must come now. */
  public call(
    protocolId: number,
    messageId: number,
    payload: Uint8Array | number[] = [],
    agentId = 1,
  ): Answer {
    const raw = this.send(agentId, protocolId, messageId, payload);
    if (raw === undefined) throw new Error('no response');
    return decodeAnswer(raw);
  }

  /** Closes the platform and checks that no timer is left. */
  public close(): void {
    this.platform.close();
    expect(this.platform.armedTimers).toBe(0);
    expect(this.clock.armedTimers).toBe(0);
  }
}
