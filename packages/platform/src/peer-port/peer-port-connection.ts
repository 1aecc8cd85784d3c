import { connect, type Socket } from 'node:net';
import {
  ScmiConfigError,
  ScmiTransportError,
  formatValue,
  isAbortSignal,
  optionKeys,
  refuseUnknownKeys,
  type BadMessageReason,
} from '@scmi-ts/core';
import { isRecord, numberOption } from './option-checks.js';
import {
  PEER_FRAME_HEADER_SIZE,
  PeerFrameKind,
  PeerFrameReader,
  decodeCloseReason,
} from './peer-frame.js';

/**
 * Where a peer port listens, as {@link connectPeerPort} takes it: a Unix socket `path`, or a TCP
 * `port` on `host` (default `127.0.0.1`). A port's own `port.address` is one.
 */
export type PeerPortTarget = PeerPortPathTarget | PeerPortTcpTarget;

/** A peer port on a Unix socket. */
export interface PeerPortPathTarget {
  /** The socket path the port listens on. */
  readonly path: string;
}

/** A peer port on TCP. */
export interface PeerPortTcpTarget {
  /** The host; default `127.0.0.1`. */
  readonly host?: string;
  /** The TCP port, 1 … 65535. */
  readonly port: number;
}

/** Options of {@link connectPeerPort}. Only an absent (undefined) option takes its default. */
export interface PeerPortConnectOptions {
  /**
   * Whether the port sends notifications and delayed responses (kind-3 frames): the port's own
   * `p2a` option, default true. With false the agent runs without a P2A channel (no
   * notifications, no asynchronous commands) and a kind-3 frame that still comes is counted
   * `invalid` on its A2P channel.
   */
  readonly p2a?: boolean;
  /**
   * Largest frame payload read from the port, in bytes: an integer in 8 … 16 MiB, default 4096
   * (the port's own default bound on what it reads). A frame announcing more ends the connection
   * (a stream that can no longer be trusted, counted `oversize`). The transport needs at least
   * its `maxMsgSize` + 4 (a header, then status and return values, or a notification's payload).
   */
  readonly maxFrameSize?: number;
  /**
   * Most bytes of commands waiting in the socket, unsent, before the connection is taken for
   * lost: an integer in 1 KiB … 1 GiB, default 1 MiB (the port's own bound on what waits for a
   * client). A port that stops reading — a wedged or stopped process — would otherwise grow
   * them without bound: the agent's pool bounds the commands in flight, not those that timed out
   * and still wait in the socket. Past it the commands in flight fail with
   * `E_PEER_PORT_CLOSED`, as at any loss.
   */
  readonly maxQueuedBytes?: number;
  /**
   * Gives up connecting when it fires (a host that drops packets leaves a TCP connect waiting
   * for the kernel's retries, minutes): `connectPeerPort` rejects with `signal.reason` and the
   * socket is destroyed. `AbortSignal.timeout(ms)` bounds the connect. Not used once connected.
   */
  readonly signal?: AbortSignal;
}

/** What a connection keeps of its {@link PeerPortConnectOptions}, checked. @internal */
export interface PeerPortConnectionSettings {
  readonly p2a: boolean;
  readonly maxFrameSize: number;
  /** Default 1 MiB when left out (see {@link PeerPortConnectOptions.maxQueuedBytes}). */
  readonly maxQueuedBytes?: number;
}

/** What a {@link PeerPortConnection} carried. */
export interface PeerPortConnectionStats {
  /** Frames written to the port (commands). */
  readonly framesSent: number;
  /** Whole frames read from the port. */
  readonly framesReceived: number;
  /**
   * Frames read while no channel of an agent could take them — before an agent's probe set its
   * channels up, after its teardown freed them (a late reply, a notification on its way), or
   * after the connection was lost — dropped unread.
   */
  readonly undelivered: number;
}

/**
 * One receiving end of a connection, as a transport channel implements it: the connection hands
 * each frame to it, and the channel passes it to core through its RX guard.
 *
 * @internal
 */
export interface PeerPortEndpoint {
  /** A frame for this channel (kind 1 on A2P, kind 3 on P2A): MSG layout, unchecked. */
  receive(message: Uint8Array): void;
  /** A frame the connection rejected itself, to be counted on the channel. */
  reject(reason: BadMessageReason): void;
  /** The connection is gone: fail what the channel carries (core's `failInFlight`). */
  lost(error: ScmiTransportError): void;
}

/**
 * What one agent holds of a connection (taken by the transport's device setup, released by its
 * teardown): the channels frames are routed to.
 *
 * @internal
 */
export interface PeerPortClaim {
  /** The agent (device) name. */
  readonly agent: string;
  /** The A2P channel, once set up and until freed. */
  a2p: PeerPortEndpoint | undefined;
  /** The P2A channel, once set up and until freed. */
  p2a: PeerPortEndpoint | undefined;
}

const TARGET_PATH_KEYS: ReadonlySet<string> = new Set(['path']);
const TARGET_TCP_KEYS: ReadonlySet<string> = new Set(['host', 'port']);
const OPTION_KEYS: ReadonlySet<string> = optionKeys<PeerPortConnectOptions>({
  p2a: true,
  maxFrameSize: true,
  maxQueuedBytes: true,
  signal: true,
});
/** The default {@link PeerPortConnectOptions.maxQueuedBytes}: 1 MiB. */
const DEFAULT_MAX_QUEUED_BYTES = 1 << 20;

/** The largest `maxFrameSize`: 16 MiB, as the port's. */
const MAX_FRAME_SIZE = 1 << 24;
/** The smallest `maxFrameSize`: a header and a status word. */
const MIN_FRAME_SIZE = 8;
/** Bytes of the MSG header word in front of a command's payload. */
const MSG_HEADER = 4;
const DEFAULT_HOST = '127.0.0.1';
/** Bounds of {@link PeerPortConnectOptions.maxQueuedBytes}. */
const MIN_QUEUED_BYTES = 1024;
const MAX_QUEUED_BYTES = 1 << 30;

/** Why the port may have closed a connection, for the errors that say it did. */
const CLOSE_HINT =
  'a port closes a connection beyond its maxConnections or when all its agentIds are in use, ' +
  "and one that sends a malformed frame: see the port's log";

/**
 * The agent end of a connection to a peer port (`startPeerPort`): one socket, `le32 kind |
 * le32 length | bytes` frames both ways. Give it to an agent as `transportConfig: { connection }`
 * on the `peer-port` transport ({@link peerPortTransport}). Made by {@link connectPeerPort}.
 *
 * **One agent, once.** The port makes each connection one agent, with its own platform session
 * (negotiated versions, subscriptions, replies still due): a connection serves the first agent
 * probed over it, and no other after it — not even after that agent was removed or its probe
 * failed. Connect again for the next one: the port then starts a fresh session, and no late
 * reply meant for the first agent can reach the second, whose tokens start over.
 *
 * **Closing is yours.** The agent's teardown stops routing frames to its channels (frames that
 * come later are counted in {@link PeerPortConnection.stats} `undelivered`) but leaves the socket
 * open; {@link PeerPortConnection.close} closes it. An open connection keeps Node.js running.
 *
 * **Loss.** When the socket closes or fails (the port closed it, or was closed), or the port sends
 * a frame over `maxFrameSize`, the connection is lost for good: the agent's commands in flight
 * and its delayed-response waits fail at once with `ScmiTransportError`
 * `E_PEER_PORT_CLOSED`, its `onLost` listeners are told, and every later command fails the same
 * way, unsent.
 *
 * @example
 * ```ts
 * const connection = await connectPeerPort(port.address);
 * const agent = await createAgent(container, {
 *   transport: 'peer-port',
 *   transportConfig: { connection },
 * });
 * await agent.remove();
 * await connection.close();
 * ```
 */
export class PeerPortConnection {
  readonly #socket: Socket;
  readonly #where: string;
  readonly #target: PeerPortTarget;
  readonly #p2a: boolean;
  readonly #maxFrameSize: number;
  readonly #maxQueuedBytes: number;
  readonly #reader: PeerFrameReader;
  readonly #closed: Promise<void>;
  #claim: PeerPortClaim | undefined;
  /** The agent that held the connection, kept after its teardown (one agent, once). */
  #agent: string | undefined;
  #error: ScmiTransportError | undefined;
  /** Why the port said it closes the connection (a `CLOSE` frame), once it has. */
  #closeReason: string | undefined;
  #framesSent = 0;
  #framesReceived = 0;
  #undelivered = 0;

  /** @internal Use {@link connectPeerPort}. */
  public constructor(socket: Socket, target: PeerPortTarget, options: PeerPortConnectionSettings) {
    this.#socket = socket;
    this.#target = target;
    this.#where = describeTarget(target);
    this.#p2a = options.p2a;
    this.#maxFrameSize = options.maxFrameSize;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    // Every kind is read (an unknown one is counted and skipped: its length is bounded, so the
    // stream stays in step); only a length over the bound ends it.
    this.#reader = new PeerFrameReader({ maxFrameSize: options.maxFrameSize });
    const onData = (chunk: Buffer): void => {
      this.#onData(chunk);
    };
    // An 'error' without a listener would be thrown and end the process; 'close' follows it.
    const onError = (e: Error): void => {
      const said = this.#closeReason;
      this.#lose(
        said === undefined
          ? `socket error: ${e.message}`
          : `the port closed the connection: ${said} (socket error: ${e.message})`,
        e,
      );
    };
    this.#closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        const pending = this.#reader.pending;
        const said = this.#closeReason;
        this.#lose(
          said !== undefined
            ? `the port closed the connection: ${said}`
            : pending > 0
              ? `the connection closed with ${pending} byte(s) of a frame unread (${CLOSE_HINT})`
              : `the connection closed (${CLOSE_HINT})`,
        );
        socket.off('data', onData);
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('data', onData);
    socket.on('error', onError);
  }

  /** Where the connection goes (a path, or a host and port), as it was given. */
  public get target(): PeerPortTarget {
    return this.#target;
  }

  /** Whether the port sends kind-3 frames (the {@link PeerPortConnectOptions.p2a} given). */
  public get p2a(): boolean {
    return this.#p2a;
  }

  /** Largest frame payload read from the port, in bytes. */
  public get maxFrameSize(): number {
    return this.#maxFrameSize;
  }

  /** The agent the connection serves or served (it serves one, once), if any yet. */
  public get agent(): string | undefined {
    return this.#agent;
  }

  /** Whether the connection is lost or closed: nothing more is sent or received. */
  public get closed(): boolean {
    return this.#error !== undefined;
  }

  /** Why the connection ended (what the agent's commands failed with), once it has. */
  public get error(): ScmiTransportError | undefined {
    return this.#error;
  }

  /** What the connection carried so far. */
  public get stats(): PeerPortConnectionStats {
    return {
      framesSent: this.#framesSent,
      framesReceived: this.#framesReceived,
      undelivered: this.#undelivered,
    };
  }

  /**
   * Resolves once the socket has closed — the port closed it (its `CLOSE` reason is in the
   * message), it failed, a malformed stream was read, or {@link PeerPortConnection.close} — with
   * the error that ended the connection (the one {@link PeerPortConnection.error} holds, and the
   * agent's commands fail with). Never rejects; resolves at once, with the same error, after the
   * close. For a tool that must notice the platform's process going away without an agent on the
   * connection, or before its agent's next command.
   *
   * @example
   * ```ts
   * void connection.whenClosed().then((why) => console.error(`platform gone: ${why.message}`));
   * ```
   */
  public async whenClosed(): Promise<ScmiTransportError> {
    await this.#closed;
    return this.#error as ScmiTransportError;
  }

  /**
   * Closes the socket (commands still in flight of an agent that holds the connection fail with
   * `E_PEER_PORT_CLOSED`, as for any loss) and resolves once it is closed. Idempotent; it never
   * rejects.
   */
  public close(): Promise<void> {
    this.#lose('closed by PeerPortConnection.close()');
    return this.#closed;
  }

  /**
   * Takes the connection for `agent`'s channels.
   *
   * @throws ScmiTransportError `E_PEER_PORT_IN_USE` when it serves or served an agent already,
   * `E_PEER_PORT_CLOSED` when it is lost or closed.
   * @internal
   */
  public claim(agent: string): PeerPortClaim {
    if (this.#agent !== undefined) {
      throw new ScmiTransportError('E_PEER_PORT_IN_USE', this.inUseMessage());
    }
    this.throwIfLost();
    this.#agent = agent;
    this.#claim = { agent, a2p: undefined, p2a: undefined };
    return this.#claim;
  }

  /** The claim `agent` holds, if it holds the connection now. @internal */
  public claimOf(agent: string): PeerPortClaim | undefined {
    return this.#claim?.agent === agent ? this.#claim : undefined;
  }

  /** Gives the connection up: frames are no longer routed to `claim`'s channels. @internal */
  public release(claim: PeerPortClaim): void {
    if (this.#claim === claim) this.#claim = undefined;
  }

  /** Why a second agent cannot have the connection. @internal */
  public inUseMessage(): string {
    return (
      `the connection to ${this.#where} serves agent ${this.#agent ?? '?'} already: one agent ` +
      'per connection, once (connectPeerPort again for another)'
    );
  }

  /**
   * Writes one command: a kind-1 frame of `header` and `payload`.
   *
   * @throws ScmiTransportError `E_PEER_PORT_CLOSED` when the connection is lost or closed.
   * @internal
   */
  public sendCommand(header: number, payload: Uint8Array): void {
    this.throwIfLost();
    const length = MSG_HEADER + payload.byteLength;
    const frame = new Uint8Array(PEER_FRAME_HEADER_SIZE + length);
    const view = new DataView(frame.buffer);
    view.setUint32(0, PeerFrameKind.MSG, true);
    view.setUint32(4, length, true);
    view.setUint32(PEER_FRAME_HEADER_SIZE, header >>> 0, true);
    frame.set(payload, PEER_FRAME_HEADER_SIZE + MSG_HEADER);
    // A write that fails later (EPIPE, the port gone) comes back as 'error': the loss.
    this.#socket.write(frame);
    this.#framesSent++;
    // What the kernel did not take waits in the socket; a port that reads nothing would let it
    // grow with every command (those that timed out included): past the bound, the connection is
    // lost. This command was written: its transfer fails with the loss, as those in flight do.
    // What earlier commands left waiting is compared, not this one: one command larger than the
    // bound is not a port that reads nothing.
    const queued = this.#socket.writableLength - frame.byteLength;
    if (queued > this.#maxQueuedBytes) {
      this.#lose(
        `the port reads nothing: ${queued} bytes of commands wait unsent, over maxQueuedBytes ${this.#maxQueuedBytes}`,
      );
    }
  }

  /** @throws ScmiTransportError `E_PEER_PORT_CLOSED` once lost or closed. @internal */
  public throwIfLost(): void {
    const error = this.#error;
    if (error !== undefined) {
      throw new ScmiTransportError('E_PEER_PORT_CLOSED', error.message, { cause: error });
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#error !== undefined) return;
    const { frames, error } = this.#reader.push(chunk);
    // The frames before a malformed one are whole: delivered first (a response taken is given).
    for (const frame of frames) {
      this.#framesReceived++;
      this.#route(frame.kind, frame.payload);
    }
    if (error !== undefined) {
      this.#reject('oversize');
      this.#lose(`the port sent a malformed stream: ${error} (maxFrameSize)`);
    }
  }

  #route(kind: number, payload: Uint8Array): void {
    const claim = this.#claim;
    const a2p = claim?.a2p;
    if (kind === PeerFrameKind.MSG) {
      if (a2p === undefined) this.#undelivered++;
      else a2p.receive(payload);
      return;
    }
    if (kind === PeerFrameKind.P2A) {
      const p2a = claim?.p2a;
      if (p2a !== undefined) p2a.receive(payload);
      // A P2A message where the agent has no P2A channel: a type the A2P channel does not carry.
      else if (a2p !== undefined) a2p.reject('invalid');
      else this.#undelivered++;
      return;
    }
    if (kind === PeerFrameKind.CLOSE) {
      // The first reason is kept: the loss that follows says it.
      this.#closeReason ??= decodeCloseReason(payload);
      return;
    }
    // Kind 2 (SMT) and anything else: never sent to a kind-1 client.
    if (a2p === undefined) this.#undelivered++;
    else a2p.reject('unknown');
  }

  /** Counts a rejected frame on the A2P channel (or as undelivered without one). */
  #reject(reason: BadMessageReason): void {
    const a2p = this.#claim?.a2p;
    if (a2p === undefined) this.#undelivered++;
    else a2p.reject(reason);
  }

  /**
   * The connection is gone (once): destroys the socket and fails what the agent's channels carry.
   */
  #lose(reason: string, cause?: unknown): void {
    if (this.#error !== undefined) return;
    const error = new ScmiTransportError(
      'E_PEER_PORT_CLOSED',
      `peer port ${this.#where}: ${reason}`,
      cause === undefined ? undefined : { cause },
    );
    this.#error = error;
    this.#socket.destroy();
    const claim = this.#claim;
    claim?.a2p?.lost(error);
    claim?.p2a?.lost(error);
  }
}

/** `path` or `host:port`, for messages. */
function describeTarget(target: PeerPortTarget): string {
  return 'path' in target ? target.path : `${target.host ?? DEFAULT_HOST}:${target.port}`;
}

/** A checked copy of `target` (its fields read once). */
function checkTarget(target: unknown): PeerPortTarget {
  if (!isRecord(target)) {
    throw new ScmiConfigError(
      'target',
      `expected { path } or { host, port } (a port's address), got ${formatValue(target)}`,
    );
  }
  if ('path' in target) {
    refuseUnknownKeys(target, TARGET_PATH_KEYS, 'target');
    const path = target.path;
    if (typeof path !== 'string' || path === '') {
      throw new ScmiConfigError(
        'target.path',
        `must be a non-empty string, got ${formatValue(path)}`,
      );
    }
    return { path };
  }
  refuseUnknownKeys(target, TARGET_TCP_KEYS, 'target');
  const host = target.host ?? DEFAULT_HOST;
  if (typeof host !== 'string' || host === '') {
    throw new ScmiConfigError(
      'target.host',
      `must be a non-empty string, got ${formatValue(host)}`,
    );
  }
  const port = target.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ScmiConfigError(
      'target.port',
      `must be an integer in 1 … 65535 (the port's address), got ${formatValue(port)}`,
    );
  }
  return { host, port };
}

/** `options` checked, with defaults (the signal apart); only an absent option takes its default. */
function checkOptions(options: unknown): Required<PeerPortConnectionSettings> & {
  readonly signal: AbortSignal | undefined;
} {
  const o = options === undefined ? {} : options;
  if (!isRecord(o)) {
    throw new ScmiConfigError('options', `expected an object, got ${formatValue(o)}`);
  }
  refuseUnknownKeys(o, OPTION_KEYS, 'options');
  const p2a = o.p2a === undefined ? true : o.p2a;
  if (typeof p2a !== 'boolean') {
    throw new ScmiConfigError('options.p2a', `must be a boolean, got ${formatValue(p2a)}`);
  }
  const signal = o.signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new ScmiConfigError(
      'options.signal',
      `must be an AbortSignal, got ${formatValue(signal)}`,
    );
  }
  return {
    p2a,
    maxFrameSize: numberOption(
      o.maxFrameSize,
      'options.maxFrameSize',
      4096,
      MIN_FRAME_SIZE,
      MAX_FRAME_SIZE,
      true,
    ),
    maxQueuedBytes: numberOption(
      o.maxQueuedBytes,
      'options.maxQueuedBytes',
      DEFAULT_MAX_QUEUED_BYTES,
      MIN_QUEUED_BYTES,
      MAX_QUEUED_BYTES,
      true,
    ),
    signal,
  };
}

/**
 * Connects to a peer port (`startPeerPort`) on a Unix socket or TCP, and resolves with the
 * connection once the socket is connected, for an agent on the `peer-port` transport
 * ({@link peerPortTransport}). Nothing is exchanged yet: the port gives the connection its agent
 * id (the first free one of its `agentIds`) as it accepts it, and a port that refuses it (no free
 * agent id, `maxConnections` reached) closes it at once — the agent's probe then fails with
 * `E_PEER_PORT_CLOSED`.
 *
 * TCP connections are made with Nagle's algorithm off (`setNoDelay`): commands are small and
 * each waits for its answer.
 *
 * @throws ScmiConfigError (the promise rejects) naming the field: `target` that is not an object
 *   with `path` or `port`, `target.path` not a non-empty string, `target.port` not in 1 … 65535,
 *   `target.host` not a non-empty string, an unknown key (`target.hots`, `options.maxFrameSise`),
 *   `options.p2a` not a boolean, `options.maxFrameSize` not an integer in 8 … 16 MiB,
 *   `options.maxQueuedBytes` not an integer in 1 KiB … 1 GiB, `options.signal` not an
 *   `AbortSignal`; nothing is connected then.
 * @throws ScmiTransportError `E_PEER_PORT_CONNECT` (the promise rejects) when the socket cannot
 *   connect (`ENOENT`, `ECONNREFUSED`…; the socket error is the `cause`).
 * @throws `options.signal.reason` (the promise rejects) when the signal fired before the socket
 *   connected (the socket destroyed).
 * @example
 * ```ts
 * const port = await startPeerPort(platform, { path: '/tmp/scmi.sock' });
 * const connection = await connectPeerPort(port.address); // or { host: '127.0.0.1', port: 4000 }
 * // … createAgent(container, { transport: 'peer-port', transportConfig: { connection } })
 * await connection.close();
 * ```
 */
export async function connectPeerPort(
  target: PeerPortTarget,
  options?: PeerPortConnectOptions,
): Promise<PeerPortConnection> {
  const where = checkTarget(target);
  const { signal, ...settings } = checkOptions(options);
  // A signal that fired already: nothing is connected.
  if (signal?.aborted === true) throw signal.reason;
  const socket =
    'path' in where ? connect(where.path) : connect(where.port, where.host ?? DEFAULT_HOST);
  return new Promise<PeerPortConnection>((resolve, reject) => {
    const settle = (): void => {
      socket.off('error', onError);
      socket.off('connect', onConnect);
      signal?.removeEventListener('abort', onAbort);
    };
    const onError = (e: Error): void => {
      settle();
      socket.destroy();
      reject(
        new ScmiTransportError(
          'E_PEER_PORT_CONNECT',
          `cannot connect to the peer port at ${describeTarget(where)}: ${e.message}`,
          { cause: e },
        ),
      );
    };
    const onAbort = (): void => {
      settle();
      // Its late error, if any, has nobody to tell.
      socket.on('error', () => undefined);
      socket.destroy();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's reason, as fetch rejects with it
      reject(signal?.reason);
    };
    const onConnect = (): void => {
      settle();
      if (!('path' in where)) socket.setNoDelay(true);
      // At once, in this callback: the connection's own 'error' listener is there before the
      // socket can emit another error.
      resolve(new PeerPortConnection(socket, where, settings));
    };
    socket.once('error', onError);
    socket.once('connect', onConnect);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
