import { BlockList, createServer, isIP, type Server, type Socket } from 'node:net';
import {
  ScmiConfigError,
  isCommandHeader,
  readU32,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
} from '@scmi-ts/core';
import { array, object, show } from '../config/config-checks.js';
import { PlatformError } from '../errors/platform-error.js';
import { ScmiPlatform } from '../platform/scmi-platform.js';
import { frameKindHandler, type PeerFrameContext } from './frame-kind-registry.js';
import {
  PeerFrameKind,
  PeerFrameReader,
  encodeCloseFrame,
  encodePeerFrame,
  type PeerFrame,
} from './peer-frame.js';

/** The largest `maxFrameSize` a peer port takes: 16 MiB. */
const MAX_FRAME_SIZE = 1 << 24;

/**
 * Options of {@link startPeerPort}. Give `path` (Unix socket) or `host`/`port` (TCP). Every field
 * is optional, and only an absent (undefined) one takes its default: null or a value of another
 * type is refused (`ScmiConfigError` naming the field, e.g. `peerPort.p2a`), and so is a field
 * this interface does not declare (`peerPort.agentID`: is not a known field), as the platform
 * configuration does — a misspelt option must not pass silently.
 */
export interface PeerPortOptions {
  /**
   * A Unix socket path to listen on (an existing file there is not removed): a non-empty string
   * (else `ScmiConfigError` `peerPort.path`; a number or null is not taken as a TCP port).
   */
  readonly path?: string;
  /**
   * TCP host; default `127.0.0.1` (loopback). The port has no authentication, so a host other
   * than a loopback address (`127.x.x.x`, `::1`, `localhost`) is refused (`ScmiConfigError`
   * `peerPort.host`) unless {@link PeerPortOptions.allowNonLoopback} is set.
   */
  readonly host?: string;
  /**
   * Listen on a `host` that is not a loopback address (e.g. `0.0.0.0`): any machine that reaches
   * it can then drive the platform. Default false.
   */
  readonly allowNonLoopback?: boolean;
  /** TCP port, 0 … 65535; default 0 (any free port: read {@link PeerPort.address}). */
  readonly port?: number;
  /**
   * The agent ids connections may take: each new connection is given the first id of the list
   * that is not in use; when none is free it is refused. Default `[1]`. A non-empty array of
   * distinct 32-bit unsigned integers, without holes (else `ScmiConfigError` `peerPort.agentIds`,
   * or `peerPort.agentIds[i]` naming the element that is not an id, is listed twice or a hole).
   */
  readonly agentIds?: readonly number[];
  /**
   * At most this many connections at once (more are refused and logged), counting those whose
   * client ended and that still send their last answers; default `agentIds.length`.
   */
  readonly maxConnections?: number;
  /**
   * Largest frame payload accepted from a client, in bytes: at most 16 MiB (each connection may
   * buffer one frame this large before it is whole); default 4096.
   */
  readonly maxFrameSize?: number;
  /** Whether connections have a P2A channel (kind-3 frames); default true. */
  readonly p2a?: boolean;
  /** The `maxMsgSize` of each connection's link; default 128. */
  readonly maxMsgSize?: number;
  /**
   * Most bytes one connection may have waiting to be sent (frames the client has not read yet);
   * past this the connection is closed, logged as `slow-consumer`. Default 1 MiB.
   */
  readonly maxQueuedBytes?: number;
  /**
   * How long a connection whose client ended its side cleanly may take to send its last answers
   * before its socket is cut short (logged `slow-consumer`), in ms: 1 … 2^31 − 1; default 5000.
   * Such a connection counts against `maxConnections` until its socket closed.
   */
  readonly flushTimeoutMs?: number;
  /**
   * Called with each log entry as it is added. An exception it throws is counted
   * ({@link PeerPort.onLogErrors}) and otherwise ignored: the entry stays in the log.
   */
  readonly onLog?: (entry: PeerPortLogEntry) => void;
}

/**
 * The events of a peer port's log:
 *
 * - `open`, `close`: a connection opened, or closed (by the client, the socket or {@link PeerPort.close}).
 * - `refused`: a connection refused (limit reached, no free agent id, the platform refused it).
 * - `malformed`: a connection closed for a malformed frame.
 * - `dropped`: a kind-1 frame the platform dropped, counted, and will never answer: shorter than
 *   a header, or not a command (reserved bits, another message type). The connection stays open;
 *   the entry tells a client that waits for an answer why none comes.
 * - `handler-error`: a connection closed because a frame kind handler or the platform threw; or,
 *   after a connection's `close` (or other closing) entry, the platform threw disconnecting its
 *   agent (the connection is closed all the same).
 * - `socket-error`: a connection closed for an error of its socket.
 * - `slow-consumer`: a connection closed because more than `maxQueuedBytes` waited to be sent to it,
 *   or cut short because its client ended and did not read its last answers within
 *   `flushTimeoutMs`.
 * - `server-error`: an error of the listening server (e.g. `EMFILE` when accepting); it keeps
 *   listening.
 */
export type PeerPortEvent =
  | 'open'
  | 'refused'
  | 'malformed'
  | 'dropped'
  | 'handler-error'
  | 'socket-error'
  | 'slow-consumer'
  | 'server-error'
  | 'close';

const EVENTS: readonly PeerPortEvent[] = [
  'open',
  'refused',
  'malformed',
  'dropped',
  'handler-error',
  'socket-error',
  'slow-consumer',
  'server-error',
  'close',
];

/** What happened on a peer port. */
export interface PeerPortLogEntry {
  /** The event. */
  readonly event: PeerPortEvent;
  /** The connection (numbered from 1 in order of arrival); 0 for a `server-error`. */
  readonly connectionId: number;
  /** The agent id of the connection, when it had one. */
  readonly agentId: number | undefined;
  /** Why, in words. */
  readonly reason: string;
}

/** A peer port listening on a Unix socket. */
export interface PeerPortPathAddress {
  /** The socket path. */
  readonly path: string;
}

/** A peer port listening on TCP. */
export interface PeerPortTcpAddress {
  /** The host address, e.g. `127.0.0.1`. */
  readonly host: string;
  /** The TCP port. */
  readonly port: number;
}

/** Where a peer port listens. */
export type PeerPortAddress = PeerPortPathAddress | PeerPortTcpAddress;

interface Connection {
  readonly id: number;
  readonly socket: Socket;
  readonly agentId: number;
  readonly reader: PeerFrameReader;
  readonly context: PeerFrameContext;
  platform: PlatformConnection | undefined;
  closing: boolean;
  readonly closed: Promise<void>;
}

const MAX_LOG = 1000;
const DEFAULT_MAX_QUEUED_BYTES = 1 << 20;
const DEFAULT_FLUSH_TIMEOUT_MS = 5000;
/** The longest delay Node accepts for a timer. */
const MAX_TIMER_MS = 0x7fffffff;
const MSG: number = PeerFrameKind.MSG;

/**
 * A platform served over a stream socket (Unix or loopback TCP) with frames
 * `le32 kind | le32 length | bytes` (see {@link PeerFrameKind}). Each connection is one agent:
 * kind-1 frames are commands answered with kind-1 frames; notifications and delayed responses
 * go out as kind-3 frames. A malformed frame (unknown kind, length over the bound, a frame cut
 * short when the client ends), a client that lets more than `maxQueuedBytes` wait unread, or an
 * exception from the platform closes that connection only, with the reason logged. A client that
 * ends its side cleanly (a half close, as `nc -N` does) is disconnected from the platform but
 * still gets the answers already produced; then its socket ends.
 *
 * Start one with {@link startPeerPort}; {@link PeerPort.close} closes the server and every
 * connection (cutting short one still sending its last answers).
 *
 * @example
 * ```ts
 * const port = await startPeerPort(platform); // loopback TCP, any free port
 * port.address; // { host: '127.0.0.1', port: 41437 } (the port varies)
 * port.connections; // 0 until a client connects
 * await port.close(); // idempotent; `address` still answers
 * ```
 */
export class PeerPort {
  readonly #server: Server;
  readonly #platform: ScmiPlatformPort;
  readonly #options: Required<
    Omit<PeerPortOptions, 'path' | 'onLog' | 'host' | 'port' | 'allowNonLoopback'>
  >;
  readonly #onLog: ((entry: PeerPortLogEntry) => void) | undefined;
  readonly #connections = new Map<number, Connection>();
  /** The address as last read while listening: what `address` answers once closed. */
  #lastAddress: PeerPortAddress | undefined;
  /** Connections whose client ended cleanly, still sending their queued answers. */
  readonly #flushing = new Set<Connection>();
  readonly #log: PeerPortLogEntry[] = [];
  readonly #counts = Object.fromEntries(EVENTS.map((e) => [e, 0])) as Record<PeerPortEvent, number>;
  #onLogErrors = 0;
  #next = 1;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link startPeerPort}. */
  public constructor(server: Server, platform: ScmiPlatformPort, options: PeerPortOptions) {
    this.#server = server;
    this.#platform = platform;
    const agentIds = [...(options.agentIds ?? [1])];
    this.#options = {
      agentIds,
      maxConnections: options.maxConnections ?? agentIds.length,
      maxFrameSize: options.maxFrameSize ?? 4096,
      p2a: options.p2a ?? true,
      maxMsgSize: options.maxMsgSize ?? 128,
      maxQueuedBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      flushTimeoutMs: options.flushTimeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS,
    };
    this.#onLog = options.onLog;
    // Read once listening: `address` still answers after close, when the server has none.
    let listening = false;
    server.once('listening', () => {
      listening = true;
      this.#readAddress();
    });
    server.on('connection', (socket) => {
      this.#accept(socket);
    });
    // A listening server still emits 'error' (e.g. EMFILE when accept fails, the server then keeps
    // listening); without a listener that error would be thrown and end the process. An error
    // before it listens (the address in use) is `startPeerPort`'s rejection, not a server-error
    // of a port that never listened.
    server.on('error', (e) => {
      if (!listening) return;
      this.#record({
        event: 'server-error',
        connectionId: 0,
        agentId: undefined,
        reason: e.message,
      });
    });
  }

  /** Where the port listens (once closed: where it listened). */
  public get address(): PeerPortAddress {
    return this.#readAddress() ?? (this.#lastAddress as PeerPortAddress);
  }

  /** The server's address while it listens (kept for after close), else undefined. */
  #readAddress(): PeerPortAddress | undefined {
    const a = this.#server.address();
    if (a === null) return undefined;
    this.#lastAddress = typeof a === 'string' ? { path: a } : { host: a.address, port: a.port };
    return this.#lastAddress;
  }

  /** Connections open now (not counting {@link PeerPort.flushing} ones). */
  public get connections(): number {
    return this.#connections.size;
  }

  /**
   * Connections whose client ended its side cleanly and that still send their last answers
   * (disconnected from the platform; they count against `maxConnections` until their socket
   * closed, at most `flushTimeoutMs` later).
   */
  public get flushing(): number {
    return this.#flushing.size;
  }

  /** What happened, oldest first (the last 1000 entries). */
  public get log(): readonly PeerPortLogEntry[] {
    return [...this.#log];
  }

  /** How many entries of each event were logged since the port started (beyond the last 1000). */
  public get counts(): Readonly<Record<PeerPortEvent, number>> {
    return { ...this.#counts };
  }

  /** How many times `onLog` threw. */
  public get onLogErrors(): number {
    return this.#onLogErrors;
  }

  /**
   * Closes the connection of agent `agentId` from the platform's side — a platform that drops
   * one agent (its firmware reset, a channel torn down) while the others go on — telling the
   * client why with a `CLOSE` frame (`reason`, default `disconnected by PeerPort.disconnect()`),
   * disconnecting the agent from the platform, and logging it (event `close`). Resolves to
   * whether it had a connection for that agent, once its socket is closed. The agent's end sees a
   * loss: its commands fail with `E_PEER_PORT_CLOSED`, the message ending with `reason`.
   *
   * @throws PlatformError `E_ARGUMENT` when `agentId` is not an integer or `reason` not a string
   *   (a rejection).
   * @example
   * ```ts
   * await port.disconnect(1, 'firmware reset'); // agent 2's connection goes on
   * ```
   */
  public async disconnect(agentId: number, reason?: string): Promise<boolean> {
    if (!Number.isSafeInteger(agentId)) {
      throw new PlatformError('E_ARGUMENT', `agentId must be an integer, got ${show(agentId)}`);
    }
    if (reason !== undefined && typeof reason !== 'string') {
      throw new PlatformError('E_ARGUMENT', `reason must be a string, got ${show(reason)}`);
    }
    const conn = [...this.#connections.values()].find((c) => c.agentId === agentId);
    if (conn === undefined) return false;
    this.#drop(conn, 'close', reason ?? 'disconnected by PeerPort.disconnect()', false, true);
    await conn.closed;
    return true;
  }

  /**
   * Stops listening, closes every connection (disconnecting its agent from the platform) and
   * resolves once the server and every socket are closed. Idempotent.
   */
  public close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const server = new Promise<void>((done) => {
        this.#server.close(() => {
          done();
        });
      });
      const sockets = [...this.#connections.values()].map((c) => {
        this.#drop(c, 'close', PORT_CLOSING);
        return c.closed;
      });
      // Connections whose client ended cleanly and that still flush their answers: cut short.
      for (const c of this.#flushing) {
        c.socket.destroy();
        sockets.push(c.closed);
      }
      void Promise.all([server, ...sockets]).then(() => {
        resolve();
      });
    });
    return this.#closing;
  }

  #record(entry: PeerPortLogEntry): void {
    this.#log.push(entry);
    if (this.#log.length > MAX_LOG) this.#log.shift();
    this.#counts[entry.event]++;
    if (this.#onLog === undefined) return;
    // The user's callback runs inside socket and server listeners: an exception there would end
    // the process, or leave a socket open that close() then waits for forever.
    try {
      this.#onLog(entry);
    } catch {
      this.#onLogErrors++;
    }
  }

  #accept(socket: Socket): void {
    const id = this.#next++;
    const refuse = (reason: string): void => {
      // A client already gone makes the CLOSE write fail: its error must not be unhandled (Node
      // defers it a tick today, and the destroy below wins; an await between would not).
      socket.on('error', () => undefined);
      tellClose(socket, reason);
      socket.destroy();
      this.#record({ event: 'refused', connectionId: id, agentId: undefined, reason });
    };
    if (this.#closing !== undefined) {
      refuse(PORT_CLOSING);
      return;
    }
    // A connection still flushing holds its socket and queued answers: it counts, or a client that
    // ends without reading could open sockets without bound.
    if (this.#connections.size + this.#flushing.size >= this.#options.maxConnections) {
      refuse(`connection limit ${this.#options.maxConnections} reached`);
      return;
    }
    const used = new Set([...this.#connections.values()].map((c) => c.agentId));
    const agentId = this.#options.agentIds.find((a) => !used.has(a));
    if (agentId === undefined) {
      refuse('every agent id is in use');
      return;
    }
    // Answers are small frames written back to back: Nagle's algorithm would hold them for the
    // client's acknowledgements (a no-op on a Unix socket).
    socket.setNoDelay(true);

    const closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        resolve();
      });
    });
    const send = (kind: number, payload: Uint8Array): boolean => {
      if (conn.closing || socket.destroyed) return false;
      socket.write(encodePeerFrame(kind, payload));
      // What the kernel does not take at once waits in the socket: a client that sends commands
      // (or sets off a notification storm) and never reads would grow that without bound.
      const queued = socket.writableLength;
      if (queued > this.#options.maxQueuedBytes) {
        this.#drop(
          conn,
          'slow-consumer',
          `${queued} bytes wait unread, over maxQueuedBytes ${this.#options.maxQueuedBytes}`,
        );
        return false;
      }
      return true;
    };
    const conn: Connection = {
      id,
      socket,
      agentId,
      reader: new PeerFrameReader({
        maxFrameSize: this.#options.maxFrameSize,
        accepts: (kind) => kind === MSG || frameKindHandler(kind) !== undefined,
      }),
      context: {
        platform: this.#platform,
        agentId,
        connectionId: id,
        data: new Map(),
        send: (kind, payload) => {
          send(kind, payload);
        },
      },
      platform: undefined,
      closing: false,
      closed,
    };
    const link: PlatformAgentLink = {
      p2a: this.#options.p2a,
      maxMsgSize: this.#options.maxMsgSize,
      respond: (_channelId, response) => {
        send(PeerFrameKind.MSG, response);
      },
      post: (message) => this.#options.p2a && send(PeerFrameKind.P2A, message),
    };
    try {
      conn.platform = this.#platform.connect(agentId, link);
    } catch (e) {
      refuse(`the platform refused agent ${agentId}: ${describeValue(e)}`);
      return;
    }
    this.#connections.set(id, conn);
    this.#record({ event: 'open', connectionId: id, agentId, reason: 'connected' });
    socket.on('data', (chunk: Buffer) => {
      this.#receive(conn, chunk);
    });
    socket.on('end', () => {
      const reason =
        conn.reader.pending > 0
          ? `truncated frame: the client ended with ${conn.reader.pending} byte(s) of a frame`
          : 'the client ended the connection';
      // A clean end (no frame cut short) is a half close: the answers already produced still
      // go out, then the socket ends. A truncated frame is dropped at once.
      if (conn.reader.pending > 0) this.#drop(conn, 'malformed', reason);
      else this.#drop(conn, 'close', reason, true);
    });
    socket.on('error', (e) => {
      this.#drop(conn, 'socket-error', e.message);
    });
    socket.on('close', () => {
      this.#drop(conn, 'close', 'the socket closed');
    });
  }

  #receive(conn: Connection, chunk: Buffer): void {
    if (conn.closing) return;
    const { frames, error } = conn.reader.push(chunk);
    for (const frame of frames) {
      if (conn.socket.destroyed) return;
      this.#dispatch(conn, frame);
    }
    if (error !== undefined) this.#drop(conn, 'malformed', error);
  }

  #dispatch(conn: Connection, frame: PeerFrame): void {
    if (frame.kind === MSG) {
      let response: Uint8Array | undefined;
      try {
        response = this.#platform.handle(conn.agentId, 0, frame.payload);
      } catch (e) {
        // `handle` must not throw; if a platform bug makes it, this runs inside the socket's
        // 'data' listener, where the exception would end the process.
        this.#drop(conn, 'handler-error', `the platform threw on a command: ${describeValue(e)}`);
        return;
      }
      if (response !== undefined) conn.context.send(PeerFrameKind.MSG, response);
      else if (!holdsCommand(frame.payload)) {
        this.#record({
          event: 'dropped',
          connectionId: conn.id,
          agentId: conn.agentId,
          reason: `a kind-1 frame of ${frame.payload.byteLength} bytes holds no command header: dropped, never answered`,
        });
      }
      return;
    }
    const handler = frameKindHandler(frame.kind);
    if (handler === undefined) {
      this.#drop(conn, 'malformed', `frame kind ${frame.kind} is no longer registered`);
      return;
    }
    try {
      const reply = handler(conn.context, frame.payload);
      if (reply !== undefined) conn.context.send(frame.kind, reply);
    } catch (e) {
      this.#drop(conn, 'handler-error', `frame kind ${frame.kind}: ${describeValue(e)}`);
    }
  }

  /**
   * Closes one connection (once), disconnecting its agent, with the reason logged. With `flush`
   * (the client ended its side cleanly) the socket first sends what is queued, then ends; the
   * port's `close()` cuts such a socket short if it is still flushing.
   */
  #drop(
    conn: Connection,
    event: PeerPortLogEntry['event'],
    reason: string,
    flush = false,
    tell = false,
  ): void {
    if (conn.closing) return;
    conn.closing = true;
    this.#connections.delete(conn.id);
    if (flush) {
      this.#flushing.add(conn);
      const ms = this.#options.flushTimeoutMs;
      const timer = setTimeout(() => {
        if (conn.socket.destroyed) return;
        const unread = conn.socket.writableLength;
        conn.socket.destroy();
        this.#record({
          event: 'slow-consumer',
          connectionId: conn.id,
          agentId: conn.agentId,
          reason: `the client ended but left ${unread} bytes unread for ${ms} ms (flushTimeoutMs)`,
        });
      }, ms);
      void conn.closed.then(() => {
        clearTimeout(timer);
        this.#flushing.delete(conn);
      });
      conn.socket.end();
    } else {
      // The client is told why, when it can still read it: not after its socket failed or closed,
      // nor when it reads too slowly already.
      if (tell || event === 'malformed' || event === 'handler-error' || reason === PORT_CLOSING) {
        tellClose(conn.socket, reason);
      }
      // Destroyed first: whatever happens after, the socket is gone (close() waits for it).
      conn.socket.destroy();
    }
    // Contained as connect() and handle() are: it runs inside socket listeners, where a throw
    // ends the process, and inside close(), which must still drop every other connection.
    let failure: unknown;
    let failed = false;
    try {
      conn.platform?.disconnect();
    } catch (e) {
      failure = e;
      failed = true;
    }
    this.#record({ event, connectionId: conn.id, agentId: conn.agentId, reason });
    if (failed) {
      this.#record({
        event: 'handler-error',
        connectionId: conn.id,
        agentId: conn.agentId,
        reason: `the platform threw disconnecting the agent: ${describeValue(failure)}`,
      });
    }
  }
}

/** Why the port's `close()` closes its connections. */
const PORT_CLOSING = 'the port is closing';

/**
 * Writes a `CLOSE` frame telling the client why its connection is about to be closed. Best
 * effort: written to a healthy socket it goes to the kernel at once and reaches the client before
 * the close; queued behind unread data, it is lost with the socket.
 */
function tellClose(socket: Socket, reason: string): void {
  if (socket.destroyed || !socket.writable) return;
  socket.write(encodeCloseFrame(reason));
}

/** Whether a kind-1 frame starts with a command header (the platform answers those, or holds them). */
function holdsCommand(payload: Uint8Array): boolean {
  return payload.byteLength >= 4 && isCommandHeader(readU32(payload, 0));
}

/**
 * What a value says, for the log or an error, whatever it is (something thrown, an option): an
 * `Error`'s message, else its `String()` — or its `Object.prototype.toString` when even that
 * throws (an object with no prototype). Never throws: it runs inside socket listeners, where a
 * throw ends the process.
 */
function describeValue(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return Object.prototype.toString.call(e);
  }
}

/**
 * Serves `platform` on a Unix socket (`options.path`) or loopback TCP (`options.host` / `port`)
 * and resolves once it listens. See {@link PeerPort} for the protocol.
 *
 * The options are checked, and copied, before anything is set up: a refused option leaves no
 * server behind, and changing `options` afterwards changes nothing.
 *
 * @throws PlatformError `E_PEER_PORT` (the promise rejects) when the server cannot listen, e.g.
 *   the path or port is in use; ScmiConfigError (the promise rejects) for invalid options, naming
 *   the field (`peerPort.maxConnections`, `peerPort.agentIds[1]`, …): a value of the wrong type
 *   or null, out of range, a field {@link PeerPortOptions} does not declare, an agent id an
 *   {@link ScmiPlatform}'s configuration does not list; `peerPort` when `options` is not an
 *   object (null included).
 * @example
 * ```ts
 * const port = await startPeerPort(platform, { agentIds: [1, 2] });
 * const { port: tcp } = port.address as { port: number };
 * // … a client connects to 127.0.0.1:tcp and writes encodePeerFrame(PeerFrameKind.MSG, command)
 * await port.close();
 * ```
 */
export async function startPeerPort(
  platform: ScmiPlatformPort,
  options: PeerPortOptions = {},
): Promise<PeerPort> {
  const checked = checkOptions(options);
  checkAgentsKnown(platform, checked.agentIds ?? [1]);
  const server = createServer();
  const port = new PeerPort(server, platform, checked);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => {
      reject(
        new PlatformError('E_PEER_PORT', `the peer port cannot listen: ${e.message}`, { cause: e }),
      );
    };
    server.once('error', onError);
    const listening = (): void => {
      // Later errors go to the port's own listener (logged as server-error).
      server.off('error', onError);
      resolve();
    };
    if (checked.path !== undefined) server.listen(checked.path, listening);
    else server.listen(checked.port ?? 0, checked.host ?? '127.0.0.1', listening);
  });
  return port;
}

/** The fields of {@link PeerPortOptions}: any other is refused (a misspelt option). */
const OPTION_FIELDS: readonly (keyof PeerPortOptions)[] = [
  'path',
  'host',
  'allowNonLoopback',
  'port',
  'agentIds',
  'maxConnections',
  'maxFrameSize',
  'p2a',
  'maxMsgSize',
  'maxQueuedBytes',
  'flushTimeoutMs',
  'onLog',
];

/**
 * Checks the options of {@link startPeerPort} and returns a copy of them, each field read once
 * (what listens is what was checked; the caller's object and arrays are not kept). Only an absent
 * (undefined) field takes its default: null, or a value of another type, is refused.
 */
function checkOptions(options: unknown): PeerPortOptions {
  const o = object(options, 'peerPort', OPTION_FIELDS);
  const integer = (field: string, min: number, max?: number): number | undefined => {
    const v = o[field];
    if (
      v !== undefined &&
      (typeof v !== 'number' ||
        !Number.isSafeInteger(v) ||
        v < min ||
        (max !== undefined && v > max))
    ) {
      const range = max === undefined ? `≥ ${min}` : `in ${min} … ${max}`;
      throw new ScmiConfigError(`peerPort.${field}`, `must be an integer ${range}, got ${show(v)}`);
    }
    return v;
  };
  const text = (field: string): string | undefined => {
    const v = o[field];
    if (v !== undefined && (typeof v !== 'string' || v === '')) {
      // A `path` that is not a string would reach `server.listen` as a TCP port on every
      // interface (null, 0), past the loopback check of `host`.
      throw new ScmiConfigError(`peerPort.${field}`, `must be a non-empty string, got ${show(v)}`);
    }
    return v;
  };
  const flag = (field: string): boolean | undefined => {
    const v = o[field];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new ScmiConfigError(`peerPort.${field}`, `must be a boolean, got ${show(v)}`);
    }
    return v;
  };
  const copy = {
    path: text('path'),
    host: text('host'),
    allowNonLoopback: flag('allowNonLoopback'),
    port: integer('port', 0, 65535),
    agentIds: agentIdsOf(o.agentIds),
    maxConnections: integer('maxConnections', 1),
    maxFrameSize: integer('maxFrameSize', 0, MAX_FRAME_SIZE),
    p2a: flag('p2a'),
    maxMsgSize: integer('maxMsgSize', 4),
    maxQueuedBytes: integer('maxQueuedBytes', 0),
    flushTimeoutMs: integer('flushTimeoutMs', 1, MAX_TIMER_MS),
    onLog: o.onLog,
  };
  if (copy.onLog !== undefined && typeof copy.onLog !== 'function') {
    throw new ScmiConfigError('peerPort.onLog', `must be a function, got ${show(copy.onLog)}`);
  }
  if (copy.path !== undefined && (copy.host !== undefined || copy.port !== undefined)) {
    throw new ScmiConfigError('peerPort.path', 'give either path or host/port, not both');
  }
  if (copy.host !== undefined && !isLoopback(copy.host) && copy.allowNonLoopback !== true) {
    throw new ScmiConfigError(
      'peerPort.host',
      `${JSON.stringify(copy.host)} is not a loopback address, and the port has no ` +
        'authentication (set allowNonLoopback to listen there anyway)',
    );
  }
  // Absent fields stay absent: the port fills in the defaults.
  const checked: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(copy)) if (v !== undefined) checked[key] = v;
  return checked;
}

/**
 * A copy of `agentIds` (undefined when absent): a non-empty array without holes (a hole would be
 * skipped here and then refuse every connection) of distinct agent ids, each refused at its index
 * (`peerPort.agentIds[i]`).
 */
function agentIdsOf(value: unknown): number[] | undefined {
  if (value === undefined) return undefined;
  // Holes refused first (`array` stops at the first one: a sparse array may claim 2^32 − 1).
  const ids = array(value, 'peerPort.agentIds', 1);
  const seen = new Map<number, number>();
  return Array.from({ length: ids.length }, (_, i) => {
    const id = ids[i];
    const field = `peerPort.agentIds[${i}]`;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
      throw new ScmiConfigError(field, `must be an agent id (0 … 2^32 − 1), got ${show(id)}`);
    }
    const first = seen.get(id);
    if (first !== undefined) {
      throw new ScmiConfigError(field, `agent ${id} is listed twice (also at [${first}])`);
    }
    seen.set(id, i);
    return id;
  });
}

/**
 * Refuses an agent id `platform` does not know, when it is an {@link ScmiPlatform} (whose
 * configuration lists its agents): each connection would otherwise be refused one by one when a
 * client connects ("the platform refused agent 5"), the port listening for nothing. Another
 * `ScmiPlatformPort` is left to refuse it at `connect`.
 *
 * @throws ScmiConfigError `peerPort.agentIds[i]` for the first unknown id.
 */
function checkAgentsKnown(platform: ScmiPlatformPort, agentIds: readonly number[]): void {
  if (!(platform instanceof ScmiPlatform)) return;
  const known = platform.config.agents.map((a) => a.id);
  agentIds.forEach((id, i) => {
    if (!known.includes(id)) {
      throw new ScmiConfigError(
        `peerPort.agentIds[${i}]`,
        `agent ${id} is not one of the platform's agents (${known.join(', ')})`,
      );
    }
  });
}

/** The loopback networks: `127.0.0.0/8` and `::1` (an IPv4-mapped `::ffff:127.x.x.x` matches too). */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether `host` names the loopback interface: `localhost`, or an address in {@link LOOPBACK}. */
function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  if (family === 0) return false;
  return LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}
