import {
  RxGuard,
  ScmiTransportError,
  readI32,
  readU32,
  type ChannelSetup,
  type Clock,
  type NotificationBuffer,
  type PlatformConnection,
  type ScmiPlatformPort,
  type Transport,
  type TransportChannel,
  type TransportDescriptor,
  type Xfer,
} from '@scmi-ts/core';

/** One message on its way to the agent; the test may hold it and deliver it later. */
export interface LoopbackDelivery {
  readonly channel: string;
  readonly bytes: Uint8Array;
  /** Delivers it now (through the channel's RX guard). */
  readonly deliver: () => void;
}

/** Test hooks of the loopback wire. */
export interface LoopbackWire {
  /** When set, every delivery to the agent goes to this function instead of the clock. */
  intercept: ((d: LoopbackDelivery) => void) | undefined;
  /** Callbacks that ran against a channel already freed (must stay empty). */
  readonly violations: string[];
  /** Channels set up, by label. */
  readonly channels: Map<string, LoopbackChannel>;
  /** Posted P2A messages refused because the P2A channel was not there. */
  refusedPosts: number;
}

/** Options of {@link createLoopbackTransport}. */
export interface LoopbackOptions {
  readonly platform: ScmiPlatformPort;
  readonly clock: Clock;
  readonly agentId?: number;
  readonly descriptor?: Partial<TransportDescriptor>;
  /** Skip the quiesce step (a deliberately broken transport). */
  readonly brokenQuiesce?: boolean;
}

/**
 * An in-memory transport for core's tests: commands go to a {@link ScmiPlatformPort} as tasks on the
 * clock; responses, delayed responses and notifications come back as tasks through each channel's
 * {@link RxGuard}. Polling channels keep responses until `pollDone` asks.
 */
export class LoopbackChannel implements TransportChannel {
  readonly maxInFlight: number;
  readonly guard = new RxGuard();
  readonly label: string;
  freed = false;
  readonly #setup: ChannelSetup;
  readonly #wire: LoopbackWire;
  readonly #platform: ScmiPlatformPort;
  readonly #agentId: number;
  readonly #polled = new Map<number, Uint8Array>();
  /** Tokens of polled transfers that ended without their reply (timed out): nothing polls it. */
  readonly #givenUp = new Set<number>();
  readonly #broken: boolean;

  constructor(
    setup: ChannelSetup,
    wire: LoopbackWire,
    platform: ScmiPlatformPort,
    agentId: number,
    broken: boolean,
  ) {
    this.#setup = setup;
    this.#wire = wire;
    this.#platform = platform;
    this.#agentId = agentId;
    this.#broken = broken;
    this.maxInFlight = 64;
    this.label = `${setup.direction}:${setup.channel.id}`;
  }

  /** Whether core set the channel up to complete by polling. */
  get polling(): boolean {
    return this.#setup.channel.polling;
  }

  /** The channel's counters (core's). */
  get counters(): ChannelSetup['counters'] {
    return this.#setup.counters;
  }

  send(xfer: Xfer): void | Promise<void> {
    const request = new Uint8Array(4 + xfer.txLen);
    new DataView(request.buffer).setUint32(0, xfer.header, true);
    request.set(xfer.request(), 4);
    const channelId = this.#setup.channel.id;
    this.#setup.clock.schedule(() => {
      const response = this.#platform.handle(this.#agentId, channelId, request);
      if (response !== undefined) this.toAgent(response);
    });
  }

  /** A message from the platform to this channel. */
  toAgent(bytes: Uint8Array): void {
    const delivery: LoopbackDelivery = {
      channel: this.label,
      bytes,
      deliver: () => this.#receive(bytes),
    };
    if (this.#wire.intercept !== undefined) this.#wire.intercept(delivery);
    else this.#setup.clock.schedule(delivery.deliver);
  }

  #receive(bytes: Uint8Array): void {
    if (!this.guard.enter()) {
      this.#setup.counters.refusedAfterQuiesce++;
      return;
    }
    try {
      if (this.freed) this.#wire.violations.push(`${this.label}: callback ran after free`);
      if (bytes.byteLength < 4) {
        this.#setup.sink.badMessage('invalid');
        return;
      }
      const header = readU32(bytes, 0);
      if (this.#setup.channel.polling && this.#setup.direction === 'a2p') {
        const token = (header >>> 18) & 0x3ff;
        // The late reply of a transfer that gave up: nothing will poll for it, core counts it.
        if (!this.#givenUp.delete(token)) {
          this.#polled.set(token, bytes);
          return;
        }
      }
      this.#setup.sink.rx(header, bytes);
    } finally {
      this.guard.exit();
    }
  }

  /**
   * The other end is gone for good: tells core through the channel's `failInFlight`, inside the
   * RX guard as a transport does (counted as refused after quiesce). Returns what core failed.
   */
  loseOtherEnd(error: Error): number {
    if (!this.guard.enter()) {
      this.#setup.counters.refusedAfterQuiesce++;
      return 0;
    }
    try {
      return this.#setup.sink.failInFlight(error);
    } finally {
      this.guard.exit();
    }
  }

  fetchResponse(xfer: Xfer, ctx: unknown): void {
    let bytes = ctx as Uint8Array | undefined;
    if (bytes === undefined) {
      bytes = this.#polled.get(xfer.token);
      this.#polled.delete(xfer.token);
    }
    if (bytes === undefined || bytes.byteLength < 8) {
      // No status word: PROTOCOL_ERROR, and a reply that came that short is counted (as the
      // mailbox transport does for an SMT length below 8).
      if (bytes !== undefined) this.#setup.sink.badMessage('invalid');
      xfer.receiveResponse(-10, new Uint8Array(0), 0, 0);
      return;
    }
    xfer.receiveResponse(readI32(bytes, 4), bytes, 8, bytes.byteLength - 8);
  }

  fetchNotification(buffer: NotificationBuffer, ctx: unknown): void {
    const bytes = ctx as Uint8Array;
    buffer.receive(bytes, 4, bytes.byteLength - 4);
  }

  pollDone(xfer: Xfer): boolean {
    return this.#polled.has(xfer.token);
  }

  /** How many times core called `markTxDone`, and the error it passed last. */
  txDone = { count: 0, lastError: undefined as unknown };

  markTxDone(xfer: Xfer, error: unknown): void {
    // Nothing to release: the loopback carries any number of messages.
    this.txDone.count++;
    this.txDone.lastError = error;
    if (error === undefined || !this.#setup.channel.polling) return;
    // A polled transfer that failed: its reply, when it comes (or came, unpolled), goes to core.
    this.#givenUp.add(xfer.token);
    const unpolled = this.#polled.get(xfer.token);
    if (unpolled === undefined) return;
    this.#polled.delete(xfer.token);
    this.#receive(unpolled);
  }

  quiesce(): Promise<void> {
    if (this.#broken) return Promise.resolve();
    return this.guard.quiesce();
  }

  free(): void {
    this.freed = true;
  }
}

/** Creates the loopback transport and its test hooks. */
export function createLoopbackTransport(options: LoopbackOptions): {
  transport: Transport;
  wire: LoopbackWire;
} {
  const wire: LoopbackWire = {
    intercept: undefined,
    violations: [],
    channels: new Map(),
    refusedPosts: 0,
  };
  const agentId = options.agentId ?? 1;
  const descriptor: TransportDescriptor = {
    name: 'loopback',
    maxMsg: 16,
    maxMsgSize: 128,
    rxTimeoutMs: 30,
    p2a: true,
    completion: 'both',
    ...options.descriptor,
  };
  let connection: PlatformConnection | undefined;
  let p2a: LoopbackChannel | undefined;
  const a2p = new Map<number, LoopbackChannel>();
  const transport: Transport = {
    descriptor,
    setupDevice: ({ devres }) => {
      connection = options.platform.connect(agentId, {
        p2a: descriptor.p2a,
        maxMsgSize: descriptor.maxMsgSize,
        respond: (channelId, bytes) => a2p.get(channelId)?.toAgent(bytes),
        post: (message) => {
          if (p2a === undefined || p2a.freed) {
            wire.refusedPosts++;
            return false;
          }
          p2a.toAgent(message);
          return true;
        },
      });
      devres.add({
        name: 'loopback connection',
        value: connection,
        release: (c) => c.disconnect(),
      });
      return Promise.resolve();
    },
    setupChannel: (setup) => {
      if (setup.direction === 'p2a' && !descriptor.p2a) {
        return Promise.reject(new ScmiTransportError('E_NOT_SUPPORTED', 'loopback without P2A'));
      }
      const ch = new LoopbackChannel(
        setup,
        wire,
        options.platform,
        agentId,
        options.brokenQuiesce === true,
      );
      wire.channels.set(ch.label, ch);
      if (setup.direction === 'p2a') p2a = ch;
      else a2p.set(setup.channel.id, ch);
      return Promise.resolve(ch);
    },
  };
  return { transport, wire };
}
