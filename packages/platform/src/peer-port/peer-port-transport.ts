import {
  RxGuard,
  ScmiConfigError,
  ScmiShutdownError,
  ScmiStatus,
  ScmiTransportError,
  formatValue,
  optionKeys,
  readI32,
  readU32,
  refuseUnknownKeys,
  type BadMessageReason,
  type ChannelConfig,
  type ChannelDirection,
  type ChannelSetup,
  type DeviceSetup,
  type NotificationBuffer,
  type Transport,
  type TransportChannel,
  type TransportDescriptor,
  type Xfer,
} from '@scmi-ts/core';
import {
  PeerPortConnection,
  type PeerPortClaim,
  type PeerPortEndpoint,
} from './peer-port-connection.js';
import { isRecord, numberOption } from './option-checks.js';

/** The transport's name, as agents choose it (`createAgent(…, { transport: 'peer-port' })`). */
export const PEER_PORT_TRANSPORT_NAME = 'peer-port';

/**
 * The `transportConfig` section of an agent on the `peer-port` transport.
 *
 * @example
 * ```ts
 * const options: AgentOptions = {
 *   transport: 'peer-port',
 *   transportConfig: { connection: await connectPeerPort(port.address) },
 * };
 * ```
 */
export interface PeerPortTransportConfig {
  /** The connection to the port, from {@link connectPeerPort}; it serves one agent, once. */
  readonly connection: PeerPortConnection;
}

/** Options of {@link createPeerPortTransport}. */
export interface PeerPortTransportOptions {
  /**
   * The descriptor's `maxMsgSize`: the largest payload after the header, in bytes — the port's
   * `maxMsgSize` (its default, 128, is this one's). An integer in 8 … 16 MiB − 4. The platform
   * answers within the port's size (status and return values), multi-part replies shrinking to fit,
   * and sends no notification larger; the agent sizes its buffers and commands to this one. Give
   * both the same: with a smaller one here the agent cuts longer replies (counted `oversize`), with
   * a larger one it expects lists the platform shortens. A command takes this + 4 bytes in its
   * frame, which the port's `maxFrameSize` (default 4096) must hold: a longer frame makes the port
   * close the connection.
   */
  readonly maxMsgSize?: number;
  /**
   * The descriptor's `maxMsg`: transfers in flight per agent, 1 … 1023; default 64. The port
   * answers each command as it reads it, and fault rules (delay, hold, reorder) answer out of
   * order; the socket carries any number, so this bounds only the agent's transfer pool.
   */
  readonly maxMsg?: number;
  /**
   * The descriptor's default response timeout, ms; default 1000: the port is usually another
   * process, whose scheduling rather than the platform's work sets the round trip. An agent
   * lowers it with its own `rxTimeoutMs`.
   */
  readonly rxTimeoutMs?: number;
}

/** The resolved `transportConfig` section. @internal */
interface ResolvedPeerPortTransportConfig {
  readonly connection: PeerPortConnection;
}

const CONFIG_KEYS: ReadonlySet<string> = optionKeys<PeerPortTransportConfig>({
  connection: true,
});
const OPTION_KEYS: ReadonlySet<string> = optionKeys<PeerPortTransportOptions>({
  maxMsgSize: true,
  maxMsg: true,
  rxTimeoutMs: true,
});

/** Bytes of the header word in front of a message's payload in a kind-1 or kind-3 frame. */
const MSG_HEADER = 4;
/** Header and status word: the shortest response. */
const MIN_RESPONSE = 8;
/** The largest frame payload a port takes (16 MiB), less the header word. */
const MAX_MSG_SIZE = (1 << 24) - MSG_HEADER;
const EMPTY = new Uint8Array(0);

/** Channels the connection has: one per direction, id 0 (the port's A2P channel 0). */
function onlyChannelZero(direction: ChannelDirection, id: number): string {
  const frames = direction === 'a2p' ? 'kind-1 frames' : 'kind-3 frames';
  const name = direction.toUpperCase();
  return `the peer port has one ${name} channel (${frames}): only id 0 exists, got ${id}`;
}

/**
 * One channel over a peer-port connection: A2P channel 0 (commands out as kind-1 frames, their
 * responses back as kind-1 frames) or P2A channel 0 (notifications and delayed responses as
 * kind-3 frames). Completion is by interrupt only: a frame read is handed to core at once,
 * through the channel's `RxGuard`. Any number of commands is in flight; core matches
 * responses to them by token, in whatever order they come.
 */
class PeerPortChannel implements TransportChannel, PeerPortEndpoint {
  public readonly maxInFlight: number;
  readonly #setup: ChannelSetup;
  readonly #connection: PeerPortConnection;
  readonly #claim: PeerPortClaim;
  readonly #guard = new RxGuard();
  #freed = false;

  public constructor(
    setup: ChannelSetup,
    connection: PeerPortConnection,
    claim: PeerPortClaim,
    maxInFlight: number,
  ) {
    this.#setup = setup;
    this.#connection = connection;
    this.#claim = claim;
    this.maxInFlight = maxInFlight;
  }

  /**
   * Writes the command as one kind-1 frame. Never waits: the socket queues what the kernel does
   * not take at once, up to the connection's `maxQueuedBytes` (commands that timed out still
   * wait there, so the agent's pool alone would not bound it): past it the connection is lost.
   *
   * @throws ScmiShutdownError after quiesce; ScmiTransportError `E_PEER_PORT_CLOSED` when the
   * connection is lost or closed (nothing written).
   */
  public send(xfer: Xfer): void {
    if (this.#guard.closed || this.#freed) throw new ScmiShutdownError(this.#setup.agent, 'send');
    this.#connection.sendCommand(xfer.header, xfer.request());
  }

  /** A frame for this channel: its header to core (which finds the transfer), or counted. */
  public receive(message: Uint8Array): void {
    this.#guarded((sink) => {
      // Not even a header word: nothing to match it with.
      if (message.byteLength < MSG_HEADER) sink.badMessage('invalid');
      else sink.rx(readU32(message, 0), message);
    });
  }

  /** A frame the connection rejected: counted as `reason`. */
  public reject(reason: BadMessageReason): void {
    this.#guarded((sink) => {
      sink.badMessage(reason);
    });
  }

  /** The connection is gone: what this channel carries fails now, with `error`. */
  public lost(error: ScmiTransportError): void {
    this.#guarded((sink) => {
      sink.failInFlight(error);
    });
  }

  /**
   * Runs `body` inside the channel's RX guard, counted in first; after quiesce nothing reaches
   * core: the callback is counted `refusedAfterQuiesce` instead.
   */
  #guarded(body: (sink: ChannelSetup['sink']) => void): void {
    if (!this.#guard.enter()) {
      this.#setup.counters.refusedAfterQuiesce++;
      return;
    }
    try {
      body(this.#setup.sink);
    } finally {
      this.#guard.exit();
    }
  }

  /**
   * Copies a response (or delayed response) from its frame, `ctx`: status at 4, return values
   * after it. A frame too short for a status is counted `invalid` and completes the transfer
   * with PROTOCOL_ERROR. `Xfer.receiveResponse` clamps to what the caller expects (counted
   * `oversize` by core when longer).
   */
  public fetchResponse(xfer: Xfer, ctx: unknown): void {
    if (!(ctx instanceof Uint8Array) || ctx.byteLength < MIN_RESPONSE) {
      if (ctx instanceof Uint8Array) this.#setup.sink.badMessage('invalid');
      xfer.receiveResponse(ScmiStatus.PROTOCOL_ERROR, EMPTY, 0, 0);
      return;
    }
    xfer.receiveResponse(readI32(ctx, 4), ctx, MIN_RESPONSE, ctx.byteLength - MIN_RESPONSE);
  }

  /** Copies a notification's payload (after its header) from its frame, `ctx`. */
  public fetchNotification(buffer: NotificationBuffer, ctx: unknown): void {
    // `receive` checked the header word is there; an empty payload is received too.
    const message = ctx instanceof Uint8Array ? ctx : EMPTY;
    buffer.receive(message, MSG_HEADER, message.byteLength - MSG_HEADER);
  }

  /** Nothing to release: a frame holds no slot of the wire. */
  public markTxDone(): void {
    // A reply that comes after the transfer ended goes to core like any (counted late there).
  }

  /** Refuses every later frame (counted `refusedAfterQuiesce`) and waits for the running ones. */
  public quiesce(): Promise<void> {
    return this.#guard.quiesce();
  }

  /** Stops the connection routing frames here (they are counted `undelivered` from then on). */
  public free(): void {
    this.#freed = true;
    if (this.#setup.direction === 'a2p') {
      if (this.#claim.a2p === this) this.#claim.a2p = undefined;
    } else if (this.#claim.p2a === this) this.#claim.p2a = undefined;
  }
}

/**
 * Creates the agent side of the platform's peer port (`startPeerPort`): SCMI over a stream socket
 * with frames `le32 kind | le32 length | bytes`. A2P channel 0 writes each command as a kind-1
 * frame (header, payload) and reads its response from a kind-1 frame (header, status, return
 * values); P2A channel 0 reads notifications and delayed responses from kind-3 frames — when the
 * connection has P2A ({@link PeerPortConnectOptions.p2a}; otherwise its setup rejects with
 * `E_NOT_SUPPORTED` and core runs without notifications). Other channel ids do not exist
 * (`ScmiConfigError` `a2p[1].id`), and completion is by interrupt only (core refuses
 * `polling: true`).
 *
 * Every frame is checked before core sees it: one shorter than a header word is counted
 * `invalid`, a response without a status word completes its command with PROTOCOL_ERROR (counted
 * `invalid`), a kind-3 frame where the agent has no P2A channel is counted `invalid`, a frame of
 * another kind `unknown`; core then checks the header (an unknown token, reserved bits, the wrong
 * type) and counts what it refuses. A frame longer than the connection's `maxFrameSize` is a
 * stream that can no longer be read: counted `oversize`, and the connection is lost (see
 * {@link PeerPortConnection}). After a channel's quiesce a frame is not delivered but counted
 * (`refusedAfterQuiesce`); after its free it is no longer routed to it (counted `undelivered` on
 * the connection).
 *
 * The transport holds no state: the connection (`transportConfig: { connection }`) does, and
 * serves one agent, once. The socket is the user's to close.
 *
 * @throws ScmiConfigError naming the option: `maxMsgSize` not an integer in 8 … 16 MiB − 4,
 *   `maxMsg` not an integer in 1 … 1023, `rxTimeoutMs` not a number in 1 … 2^31 − 1, an unknown
 *   option, `options` not an object.
 * @example
 * ```ts
 * const port = await startPeerPort(platform, { maxMsgSize: 256, maxFrameSize: 4096 });
 * const transport = createPeerPortTransport({ maxMsgSize: 256 }); // the port's
 * container.bind(TRANSPORT).toConstantValue(transport);
 * ```
 */
export function createPeerPortTransport(options: PeerPortTransportOptions = {}): Transport {
  if (!isRecord(options)) {
    throw new ScmiConfigError('options', `expected an object, got ${formatValue(options)}`);
  }
  refuseUnknownKeys(options, OPTION_KEYS, '');
  const descriptor: TransportDescriptor = {
    name: PEER_PORT_TRANSPORT_NAME,
    maxMsg: numberOption(options.maxMsg, 'maxMsg', 64, 1, 1023, true),
    maxMsgSize: numberOption(options.maxMsgSize, 'maxMsgSize', 128, 8, MAX_MSG_SIZE, true),
    rxTimeoutMs: numberOption(options.rxTimeoutMs, 'rxTimeoutMs', 1000, 1, 0x7fffffff, false),
    p2a: true,
    completion: 'interrupt',
  };
  const frameNeeded = descriptor.maxMsgSize + MSG_HEADER;

  const claimOf = (
    setup: ChannelSetup,
  ): { connection: PeerPortConnection; claim: PeerPortClaim } => {
    const { connection } = setup.config as ResolvedPeerPortTransportConfig;
    const claim = connection.claimOf(setup.agent);
    if (claim === undefined) {
      throw new ScmiTransportError(
        'E_PEER_PORT_CHANNEL',
        `${setup.agent}: the peer-port connection was not set up for this agent`,
      );
    }
    return { connection, claim };
  };

  return {
    descriptor,
    validateConfig: (section, field): ResolvedPeerPortTransportConfig => {
      if (!isRecord(section)) {
        throw new ScmiConfigError(
          field,
          `expected { connection } (from connectPeerPort), got ${formatValue(section)}`,
        );
      }
      refuseUnknownKeys(section, CONFIG_KEYS, field);
      const connection = section.connection;
      if (!(connection instanceof PeerPortConnection)) {
        throw new ScmiConfigError(
          `${field}.connection`,
          `expected a PeerPortConnection (await connectPeerPort(port.address)), got ${formatValue(connection)}`,
        );
      }
      if (connection.maxFrameSize < frameNeeded) {
        throw new ScmiConfigError(
          `${field}.connection`,
          `reads frames of at most ${connection.maxFrameSize} bytes, but a response or ` +
            `notification of this transport takes up to ${frameNeeded} (maxMsgSize ` +
            `${descriptor.maxMsgSize} + a 4-byte header): connect with maxFrameSize ≥ ${frameNeeded}`,
        );
      }
      if (connection.agent !== undefined) {
        throw new ScmiConfigError(`${field}.connection`, connection.inUseMessage());
      }
      return { connection };
    },
    validateChannelConfig: (section, field) => {
      if (section !== undefined) {
        throw new ScmiConfigError(field, 'peer-port channels take no transport section');
      }
      return undefined;
    },
    // Before anything is set up: a refused configuration leaves the connection unclaimed.
    validateChannels: ({ a2p, p2a }) => {
      const check = (direction: ChannelDirection, channels: readonly ChannelConfig[]): void => {
        channels.forEach((c, i) => {
          if (c.id !== 0) {
            throw new ScmiConfigError(`${direction}[${i}].id`, onlyChannelZero(direction, c.id));
          }
        });
      };
      check('a2p', a2p);
      check('p2a', p2a);
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- the contract is async
    setupDevice: async (setup: DeviceSetup): Promise<void> => {
      const { connection } = setup.config as ResolvedPeerPortTransportConfig;
      const claim = connection.claim(setup.agent);
      setup.devres.add({
        name: 'peer-port connection',
        value: claim,
        // After every channel was freed (newest first): nothing routes to the agent any more.
        release: (c) => {
          connection.release(c);
        },
      });
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- the contract is async
    setupChannel: async (setup: ChannelSetup): Promise<TransportChannel> => {
      const { connection, claim } = claimOf(setup);
      // validateChannels refused these already for an agent; kept for a direct setupChannel.
      if (setup.channel.id !== 0) {
        throw new ScmiConfigError(
          setup.direction,
          onlyChannelZero(setup.direction, setup.channel.id),
        );
      }
      if (setup.direction === 'p2a' && !connection.p2a) {
        throw new ScmiTransportError(
          'E_NOT_SUPPORTED',
          `${setup.agent}: the peer-port connection has no P2A channel (connected with p2a: false)`,
        );
      }
      connection.throwIfLost();
      const channel = new PeerPortChannel(setup, connection, claim, descriptor.maxMsg);
      if (setup.direction === 'a2p') claim.a2p = channel;
      else claim.p2a = channel;
      return channel;
    },
  };
}

/**
 * The `peer-port` transport with the default descriptor (`maxMsgSize` 128, as a port's default;
 * 64 transfers in flight; 1000 ms timeout). Bind it to core's `TRANSPORT` token; see
 * {@link createPeerPortTransport} for what it does and {@link connectPeerPort} for the connection
 * each agent needs.
 *
 * @example
 * ```ts
 * const container = new Container();
 * container.load(coreModule);
 * container.bind(TRANSPORT).toConstantValue(peerPortTransport);
 * const connection = await connectPeerPort(port.address);
 * const agent = await createAgent(container, {
 *   transport: 'peer-port',
 *   transportConfig: { connection },
 * });
 * ```
 */
export const peerPortTransport: Transport = createPeerPortTransport();
