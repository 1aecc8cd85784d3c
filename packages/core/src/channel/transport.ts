import type { Devres } from '@scmi-ts/devres';
import type { Clock } from '../clock/clock.js';
import type { ChannelCounters } from '../diagnostics/channel-counters.js';
import type { ScmiLogger } from '../diagnostics/logger.js';
import type { NotificationBuffer } from '../transfer/notification-buffer.js';
import type { Xfer } from '../transfer/xfer.js';

/** Which way a channel carries commands: agent → platform, or platform → agent. */
export type ChannelDirection = 'a2p' | 'p2a';

/**
 * How a transport learns that a command has completed.
 *
 * - `interrupt`: the platform signals (doorbell, used-buffer notification); polling unsupported.
 * - `polling`: only polling (OP-TEE: the invocation returning is the completion).
 * - `both`: per channel, as configured.
 */
export type CompletionMode = 'interrupt' | 'polling' | 'both';

/**
 * The limits and capabilities of a transport, as data (Linux `struct scmi_desc`).
 *
 * @example
 * ```ts
 * const descriptor: TransportDescriptor = {
 *   name: 'mailbox', maxMsg: 20, maxMsgSize: 128, rxTimeoutMs: 30, p2a: true, completion: 'both',
 * };
 * ```
 */
export interface TransportDescriptor {
  /** The name agents choose the transport by (`createAgent(…, { transport: 'mailbox' })`). */
  readonly name: string;
  /** Transfers in flight for one agent: the size of its transfer pool (Linux `max_msg`). */
  readonly maxMsg: number;
  /** Largest payload of a message after the header, in bytes (Linux `max_msg_size`). */
  readonly maxMsgSize: number;
  /** Default time to wait for a response, in ms (Linux `max_rx_timeout_ms`). */
  readonly rxTimeoutMs: number;
  /** Whether a P2A channel (notifications, delayed responses) can exist. */
  readonly p2a: boolean;
  /** How completion is detected. */
  readonly completion: CompletionMode;
}

/** One channel of an agent's configuration, after validation. */
export interface ChannelConfig {
  /** The channel id, unique per direction (the transport maps it to its wire: shmem index, TEE channel id…). */
  readonly id: number;
  /** The protocols that use this channel (A2P); Base's channel also carries every protocol without one. */
  readonly protocols: readonly number[];
  /** Complete by polling instead of interrupt. */
  readonly polling: boolean;
  /** The transport-specific section of this channel, as validated by the transport. */
  readonly transport: unknown;
}

/**
 * Core's receive entry point, handed to each channel at setup (Linux `scmi_rx_callback`).
 *
 * The transport calls {@link RxSink.rx} from inside its RX guard with the header word it read and
 * an opaque `ctx` (its buffer, descriptor id…); core finds the transfer and calls back
 * {@link TransportChannel.fetchResponse} / {@link TransportChannel.fetchNotification} with the same
 * `ctx` while `rx` is running. `rx` never throws and never calls user code.
 */
export interface RxSink {
  /** Delivers one received message. */
  rx(header: number, ctx: unknown): void;
  /** Counts a message the transport rejected itself (hostile length, spurious doorbell…). */
  badMessage(reason: BadMessageReason): void;
  /**
   * The other end will never deliver on this channel again (a device that needs a reset, a
   * corrupted ring the transport no longer reads, a peer thread that died): the transfers waiting
   * for what this channel would have carried fail now with `error`, instead of each waiting out
   * its timeout. On an A2P channel, those sent on it and waiting for their response; on a P2A
   * channel, every transfer of the agent waiting for its delayed response (core cannot tell on
   * which P2A channel a delayed response would come).
   *
   * Each is failed as a timed-out one is: counted in its channel's `failed`, its token retired
   * (a reply that still comes is counted as late) — and one still waiting for its response gets
   * `markTxDone(xfer, error)`, so the transport keeps whatever the other end may still write into
   * until its teardown reclaims it (one past its response had its `markTxDone` then). The loss
   * stands from then on: core hands this A2P channel no further command (each fails at once with
   * `error`, unsent), one that reached its wire as the loss was reported (a `send` that completed
   * meanwhile) fails as soon as core sees it sent, and after a P2A loss a command's
   * delayed-response wait fails as soon as its response came. A command whose `send`
   * still waits was never written: refusing it (rejecting the send) is the transport's part, as is
   * delivering first a response it already took and has not handed over. Call it as `rx`: inside
   * the RX guard. Never throws, never calls user code (the failed callers resume on later
   * microtasks). `error` is what the callers get: an SCMI error naming the cause (a
   * `ScmiTransportError`); anything else is wrapped in `ScmiTransportError` `E_CHANNEL_LOST`.
   * Returns how many transfers it failed now: 0 once the agent is shutting down (its shutdown
   * failed them already).
   *
   * @example
   * ```ts
   * // the device reported DEVICE_NEEDS_RESET: nothing in flight will come back
   * if (guard.enter()) {
   *   try { setup.sink.failInFlight(new ScmiTransportError('E_VIRTIO_DEVICE', 'the device needs a reset')); }
   *   finally { guard.exit(); }
   * }
   * ```
   */
  failInFlight(error: unknown): number;
}

/**
 * Why a received message was rejected, after Linux's `enum scmi_bad_msg`:
 *
 * - `unexpected`: a response or delayed response for a token not in flight (unknown, expired), or
 *   a response on another channel than the one its command went out on.
 * - `invalid`: a message that breaks the protocol: reserved header bits, a duplicate response, a
 *   response of the wrong type or to the wrong protocol/message (stricter than Linux, which looks
 *   a response up by its token alone in `scmi_xfer_command_acquire` and would take it as its
 *   command's answer: here the command goes on waiting, and times out unless its real answer
 *   comes), a type the channel's direction
 *   does not carry (a notification or delayed response on A2P, a response on P2A), anything
 *   after the delayed response but the response it overtook (counted `overtakenResponses`); a
 *   notification whose payload is shorter or longer than its
 *   event's descriptor allows (`minPayload`, `maxPayload`).
 * - `unknown`: an unknown message type, or a notification nobody registered.
 * - `nomem`: no room: a notification dropped because its queue is full.
 * - `spurious`: a doorbell with nothing to read (the platform still owns the channel).
 * - `oversize`: a length field larger than the buffer: the transport never reads past the buffer;
 *   it either clamps the payload to the buffer (mailbox SMT, as Linux's `min()`) or fails the
 *   transfer (virtio and OP-TEE complete it with `COMMS_ERROR` at once, the contents unread). A
 *   notification longer than the max message size is dropped, not delivered cut.
 */
export type BadMessageReason =
  'unexpected' | 'invalid' | 'unknown' | 'nomem' | 'spurious' | 'oversize';

/** Everything a transport needs to set up one channel. */
export interface ChannelSetup {
  /** The agent (device) name, for errors and logs. */
  readonly agent: string;
  /** The channel's direction. */
  readonly direction: ChannelDirection;
  /** The channel's configuration. */
  readonly channel: ChannelConfig;
  /** The transport's agent-wide configuration section, as its `validateConfig` returned it. */
  readonly config: unknown;
  /** Core's receive entry point. */
  readonly sink: RxSink;
  /** The injected clock: every timer and same-thread task of the transport comes from it. */
  readonly clock: Clock;
  /** The channel's counters; the transport increments the ones it detects. */
  readonly counters: ChannelCounters;
  /** The agent's response timeout, ms (e.g. to bound how long `send` may wait for the channel). */
  readonly rxTimeoutMs: number;
  /**
   * The probe's abort signal (`AgentOptions.signal`), when the agent has one: as
   * {@link DeviceSetup.signal}, for a channel setup that waits for the other end (OP-TEE opens a
   * session per channel). The channel's own traffic does not take it: once set up, its transfers
   * are stopped by the engine's shutdown.
   */
  readonly signal?: AbortSignal;
}

/** Everything a transport needs for its agent-wide setup. */
export interface DeviceSetup {
  /** The agent (device) name. */
  readonly agent: string;
  /** The transport's configuration section, as its `validateConfig` returned it. */
  readonly config: unknown;
  /** The device's devres: register every agent-wide resource here (with a quiesce step if it has callbacks). */
  readonly devres: Devres;
  /** The injected clock. */
  readonly clock: Clock;
  /**
   * The agent's logger (DI token `LOGGER`, core's `silentLogger` when none is bound): where the
   * transport reports what it let pass (a best-effort step that failed, say). Contained by core: a
   * logger that throws never throws here (counted in `agent.diagnostics.loggerErrors`).
   */
  readonly logger: ScmiLogger;
  /**
   * The probe's abort signal (`AgentOptions.signal`), when the agent has one. A setup step that
   * waits for the other end (a device handshake, a session being opened) may stop waiting when it
   * fires and throw, having released what it took or registered it in `devres`: the probe then
   * rejects with the signal's reason, whatever the step threw. A transport that ignores it has its
   * step let finish (bounded by its own timeouts) before the probe stops.
   */
  readonly signal?: AbortSignal;
}

/**
 * One channel of a transport (Linux `struct scmi_transport_ops`, per channel). Core registers
 * every channel in the device's devres with {@link TransportChannel.quiesce} and
 * {@link TransportChannel.free}, and drives it:
 *
 * 1. `send(xfer)` — write the command and signal the platform. May wait for the channel
 *    (one message in flight per SMT channel). If it throws, it has released what it took; core then
 *    fails the transfer without calling `markTxDone`.
 * 2. completion — the transport calls `sink.rx(header, ctx)`, core calls `fetchResponse(xfer, ctx)`;
 *    or, for a polling channel, core calls `pollDone(xfer)` until true, then `fetchResponse(xfer, undefined)`.
 * 3. `markTxDone(xfer, error)` — after every successful `send`, including after a timeout or shutdown
 *    (`error` says which); each transport decides what it releases then.
 *
 * A P2A channel receives notifications and delayed responses: the transport calls `sink.rx`, core
 * calls `fetchNotification` or `fetchResponse`, then `clearChannel` so the platform may post again.
 */
export interface TransportChannel {
  /**
   * Messages this channel can carry at once (SMT: 1; virtio: queue size / 2). The transport
   * enforces it (its `send` waits); core reports it in the agent's diagnostics.
   */
  readonly maxInFlight: number;
  /** Writes `xfer`'s command and signals the platform. */
  send(xfer: Xfer): void | Promise<void>;
  /**
   * Copies the response (or delayed response) into `xfer` with {@link Xfer.receiveResponse}.
   * Must bounds-check every length it reads from the other side, and should not throw: a
   * response it cannot use is reported as a status (e.g. `COMMS_ERROR`) or counted. If it throws
   * anyway, core fails that transfer with {@link ScmiTransportError} `E_FETCH` (cause attached),
   * retires its token and still calls `markTxDone`.
   */
  fetchResponse(xfer: Xfer, ctx: unknown): void;
  /**
   * Copies a notification's payload into `buffer` with {@link NotificationBuffer.receive} — always
   * through it (an empty payload too: `receive(bytes, offset, 0)`): core empties the buffer before
   * the call, and one `receive` never called for is a notification not given (not queued, counted
   * `invalid`), never the previous one's bytes again.
   */
  fetchNotification(buffer: NotificationBuffer, ctx: unknown): void;
  /**
   * Gives a P2A message slot back to the platform (SMT: sets CHANNEL_FREE). Core calls it once
   * after every `sink.rx` on a P2A channel, with that call's `ctx`, before `rx` returns — whatever
   * became of the message: queued, dropped (a full queue, a notification nobody registered, one
   * that came once the removal started), rejected as a bad message (a corrupt header, a type P2A
   * does not carry, a delayed response for no transfer), or a fetch that threw. So the transport
   * need not (and should not) give the slot back again after handing a message to core. Core does
   * not call it for what it never got: a signal the channel's RX guard refused (the transport did
   * not call `sink.rx`), nor a `sink.rx` made before `setupChannel` resolved (core has no channel
   * to call yet, and counts the message `unexpected`): those slots are the transport's to give
   * back, if it must. Never called on A2P channels. Should not throw.
   */
  clearChannel?(ctx: unknown): void;
  /**
   * Whether `xfer`'s response has arrived. Core calls it in two places: in the polling loop of a
   * polling channel, and — on any channel — once more when a deadline fires, to re-check the real
   * completion condition before failing the transfer (Linux does so on its polling path, commit
   * c23c03bf1faa; core on interrupt channels too). A response found so is completed then: the
   * transport must then not hand its later doorbell to core as a new reply (core would count it
   * `unexpected`). When it returns
   * true, core calls `fetchResponse(xfer, undefined)`. An interrupt-only channel that cannot tell
   * without consuming its ring may return false. It should not throw; if it does, core fails
   * that transfer with {@link ScmiTransportError} `E_POLL` (cause attached), retires its token and
   * still calls `markTxDone`.
   */
  pollDone?(xfer: Xfer): boolean;
  /** The transmission of `xfer` is over: completed, timed out (`error`) or aborted (`error`). */
  markTxDone(xfer: Xfer, error: unknown): void;
  /** Stops every callback into core and waits for the ones running (devres phase 1). */
  quiesce(): Promise<void>;
  /** Releases the channel (devres phase 2); never called before quiesce has returned. */
  free(): void | Promise<void>;
}

/**
 * A transport plugin: a descriptor, an optional configuration validator, an optional agent-wide
 * setup, and channel setup. Transport packages bind one to the `TRANSPORT` DI token through their
 * `ContainerModule`.
 *
 * @example
 * ```ts
 * const loopback: Transport = {
 *   descriptor: { name: 'loopback', maxMsg: 8, maxMsgSize: 128, rxTimeoutMs: 30, p2a: true, completion: 'both' },
 *   setupChannel: async (setup) => new MyChannel(setup), // your TransportChannel
 * };
 * ```
 */
export interface Transport {
  /** The transport's limits and capabilities. */
  readonly descriptor: TransportDescriptor;
  /**
   * Validates the transport section of an agent configuration (`section` may be undefined) and
   * returns the typed, defaulted form passed back as `config`.
   *
   * @throws ScmiConfigError naming the field (prefixed with `field`).
   */
  validateConfig?(section: unknown, field: string): unknown;
  /**
   * Transfers in flight the transport can carry for an agent with this (validated) configuration
   * section, when it depends on it (virtio: cmdq size / 2; Linux `get_max_msg`). Core sizes the
   * agent's transfer pool to it by default; an explicit `maxMsg` option may go up to
   * `descriptor.maxMsg` (the transport then makes the extra transfers wait in `send`).
   */
  maxMsgFor?(config: unknown): number;
  /**
   * Validates the transport section of one channel's configuration.
   *
   * @throws ScmiConfigError naming the field (prefixed with `field`).
   */
  validateChannelConfig?(section: unknown, field: string): unknown;
  /**
   * Checks the agent's channels against the transport's validated configuration (`config`, as
   * {@link Transport.validateConfig} returned it): ids the wire has, a completion mode a channel
   * supports. Called while the agent configuration is validated, before anything is set up, so a
   * refused configuration claims nothing (a wire, a mailbox channel) and the same transport
   * section can be used again with a corrected one.
   *
   * @throws ScmiConfigError naming the channel's field (`a2p[1].id`, `p2a[0].polling`).
   */
  validateChannels?(
    channels: { readonly a2p: readonly ChannelConfig[]; readonly p2a: readonly ChannelConfig[] },
    config: unknown,
  ): void;
  /** Agent-wide setup before any channel (a TEE session, a virtio handshake); registers in `setup.devres`. */
  setupDevice?(setup: DeviceSetup): Promise<void>;
  /**
   * Sets up one channel.
   *
   * @throws ScmiTransportError `E_NOT_SUPPORTED` when the direction is not supported (no P2A).
   */
  setupChannel(setup: ChannelSetup): Promise<TransportChannel>;
}
