import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CLOCK,
  RealClock,
  TRANSPORT,
  coreModule,
  createAgent,
  readU32,
  type AgentOptions,
  type PlatformConnection,
  type ScmiAgent,
  type Transport,
} from '@scmi-ts/core';
import {
  PeerFrameKind,
  PeerFrameReader,
  ScmiPlatform,
  createDefaultPlatformConfig,
  encodePeerFrame,
  peerPortTransport,
} from '@scmi-ts/platform';
import { Container } from 'inversify';

/** A container with core (its real clock) and `transport` bound to `TRANSPORT`. */
export function containerWith(transport: Transport = peerPortTransport): Container {
  const container = new Container();
  container.load(coreModule);
  container.rebind(CLOCK).toConstantValue(new RealClock());
  container.bind(TRANSPORT).toConstantValue(transport);
  return container;
}

/** Probes an agent on the `peer-port` transport of `container` with `options` added. */
export function probe(
  container: Container,
  options: Partial<AgentOptions> & { transportConfig: unknown },
): Promise<ScmiAgent> {
  return createAgent(container, { transport: 'peer-port', ...options });
}

/** The emulated platform of `createDefaultPlatformConfig()`, on real time. */
export function defaultPlatform(): ScmiPlatform {
  return new ScmiPlatform(createDefaultPlatformConfig(), { clock: new RealClock() });
}

/** A fresh directory for Unix sockets, and how to remove it. */
export async function socketDir(): Promise<{
  path: (name: string) => string;
  remove: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'scmi-peer-'));
  return {
    path: (name) => join(dir, name),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Polls `check` on real macrotask turns until it holds (no time limit: jest's is the guard). */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

/** An MSG-layout message: a header word, then `words`. */
export function msg(header: number, ...words: number[]): Uint8Array {
  const bytes = new Uint8Array(4 * (words.length + 1));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, header >>> 0, true);
  words.forEach((w, i) => {
    view.setUint32(4 * (i + 1), w >>> 0, true);
  });
  return bytes;
}

/** Little-endian u32 words. */
export function u32s(...words: number[]): Uint8Array {
  return msg(words[0] ?? 0, ...words.slice(1));
}

/**
 * A hand-made peer port for hostile-server tests: one Unix socket, one client, served as agent 1
 * of a real platform (kind-1 commands answered, notifications and delayed responses posted as
 * kind-3 frames) — unless `holding`, when commands are recorded and not answered — and raw bytes
 * written to the client on demand.
 */
export class ScriptedPort {
  readonly #server: Server;
  readonly #platform: ScmiPlatform;
  #client: Socket | undefined;
  #connection: PlatformConnection | undefined;
  readonly #clientClosed: Promise<void>;
  #clientArrived!: () => void;
  #clientGone!: () => void;
  /** The socket path. */
  public readonly path: string;
  /** Commands read from the client (header words), answered or not. */
  public readonly commands: number[] = [];
  /** Hold commands instead of answering them. */
  public holding = false;
  /** Resolves once the client connected. */
  public readonly connected: Promise<void>;

  private constructor(server: Server, platform: ScmiPlatform, path: string) {
    this.#server = server;
    this.#platform = platform;
    this.path = path;
    this.#clientClosed = new Promise<void>((resolve) => {
      this.#clientGone = resolve;
    });
    this.connected = new Promise<void>((resolve) => {
      this.#clientArrived = resolve;
    });
    server.on('connection', (socket) => {
      this.#accept(socket);
    });
  }

  /** Listens on `path` for one client of `platform` (agent 1). */
  public static async start(platform: ScmiPlatform, path: string): Promise<ScriptedPort> {
    const server = createServer();
    const port = new ScriptedPort(server, platform, path);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return port;
  }

  #accept(socket: Socket): void {
    this.#client = socket;
    const send = (kind: number, bytes: Uint8Array): boolean => {
      if (socket.destroyed) return false;
      socket.write(encodePeerFrame(kind, bytes));
      return true;
    };
    this.#connection = this.#platform.connect(1, {
      p2a: true,
      maxMsgSize: 128,
      respond: (_channel, bytes) => void send(PeerFrameKind.MSG, bytes),
      post: (bytes) => send(PeerFrameKind.P2A, bytes),
    });
    const reader = new PeerFrameReader({ maxFrameSize: 4096 });
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk).frames) {
        if (frame.kind !== PeerFrameKind.MSG || frame.payload.byteLength < 4) continue;
        this.commands.push(readU32(frame.payload, 0));
        if (this.holding) continue;
        const response = this.#platform.handle(1, 0, frame.payload);
        if (response !== undefined) send(PeerFrameKind.MSG, response);
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.#connection?.disconnect();
      this.#clientGone();
    });
    this.#clientArrived();
  }

  /** Stops reading what the client sends: it waits in the sockets (a port that reads nothing). */
  public stopReading(): void {
    this.#client?.pause();
  }

  /** Writes raw bytes to the client. */
  public inject(bytes: Uint8Array): void {
    this.#client?.write(bytes);
  }

  /** Writes one frame to the client. */
  public frame(kind: number, payload: Uint8Array): void {
    this.inject(encodePeerFrame(kind, payload));
  }

  /** Closes the client's socket and waits until it is closed. */
  public async dropClient(): Promise<void> {
    this.#client?.destroy();
    await this.#clientClosed;
  }

  /** Closes the client's socket and the server. */
  public async close(): Promise<void> {
    if (this.#client !== undefined) await this.dropClient();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
