import type {
  BadMessageReason,
  ChannelDirection,
  RxSink,
  TransportChannel,
} from '../channel/transport.js';
import type { Clock } from '../clock/clock.js';
import { DeadlineQueue } from '../clock/deadline-queue.js';
import { ChannelCounters } from '../diagnostics/channel-counters.js';
import { trace } from '../diagnostics/trace.js';
import { describeArg } from '../errors/format-value.js';
import {
  ScmiError,
  ScmiMalformedError,
  ScmiShutdownError,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  type MessageRef,
} from '../errors/scmi-error.js';
import type { NotificationHub } from '../notification/notification-hub.js';
import {
  ScmiMessageType,
  buildHeader,
  headerDefect,
  headerMessageId,
  headerProtocolId,
  headerToken,
  headerType,
} from '../wire/header.js';
import { SCMI_VENDOR_PROTOCOL_BASE, scmiProtocolName } from '../wire/protocol-id.js';
import type { TokenSequence } from './token-allocator.js';
import { XferPool, type GiveUpWatch } from './xfer-pool.js';
import type { Xfer, XferOwner, XferState } from './xfer.js';

/**
 * Core's side of one channel: the {@link RxSink} the transport calls, the channel's counters, and
 * the count of transfer operations running on it (so that the channel's quiesce also waits until
 * core has called `markTxDone` for every transfer sent on it: no `markTxDone` after `free`).
 *
 * Core makes one per configured channel (its constructor is internal) and hands it to the
 * transport as the channel's `setup.sink`. A message core cannot use is counted in `counters`
 * (`badMessages`, `lateReplies`), not thrown back at the transport.
 *
 * @example
 * ```ts
 * // `channel`: the runtime of A2P channel 0 (its transport's `setup.sink`)
 * channel.label; // 'a2p:0'
 * channel.rx(0x00144000, ctx); // a reply for token 5, which is not in flight: counted
 * channel.counters.badMessages.unexpected; // 1
 * ```
 */
export class ChannelRuntime implements RxSink {
  /** The channel id. */
  public readonly id: number;
  /** The channel's direction. */
  public readonly direction: ChannelDirection;
  /** Complete by polling. */
  public readonly polling: boolean;
  /** The channel's counters. */
  public readonly counters = new ChannelCounters();
  /** A name for logs, e.g. `a2p:0`. */
  public readonly label: string;
  #transport: TransportChannel | undefined;
  readonly #engine: TransferEngine;
  #lost: Error | undefined;
  #ops = 0;
  #drained: (() => void) | undefined;

  /** @internal Created by the engine before the transport sets the channel up. */
  public constructor(
    engine: TransferEngine,
    id: number,
    direction: ChannelDirection,
    polling: boolean,
  ) {
    this.#engine = engine;
    this.id = id;
    this.direction = direction;
    this.polling = polling;
    this.label = `${direction}:${id}`;
  }

  /** The transport's channel, once set up. */
  public get transport(): TransportChannel | undefined {
    return this.#transport;
  }

  /**
   * @internal What the transport's first {@link RxSink.failInFlight} on this channel gave (as
   * core fails transfers with it); undefined while the channel is sound. Core sends nothing more
   * on a lost A2P channel (see `begin`); the agent's diagnostics show it.
   */
  public get lost(): Error | undefined {
    return this.#lost;
  }

  /**
   * @internal Called once, synchronously, when the channel is first marked lost (the agent
   * defers its loss listeners from here; see `ScmiAgent.onLost`). Must not throw.
   */
  public onFirstLoss: ((channel: ChannelRuntime) => void) | undefined = undefined;

  /** @internal Keeps the first loss of the channel (and tells `onFirstLoss` of it). */
  public markLost(error: Error): void {
    if (this.#lost !== undefined) return;
    this.#lost = error;
    this.onFirstLoss?.(this);
  }

  /** @internal */
  public attach(channel: TransportChannel): void {
    this.#transport = channel;
  }

  /** @inheritDoc */
  public rx(header: number, ctx: unknown): void {
    this.#engine.onRx(this, header, ctx);
  }

  /** @inheritDoc */
  public badMessage(reason: BadMessageReason): void {
    this.#engine.countBad(this, reason, undefined);
  }

  /** @inheritDoc */
  public failInFlight(error: unknown): number {
    return this.#engine.failInFlight(this, error);
  }

  /** @internal */
  public enterOp(): void {
    this.#ops++;
  }

  /** @internal */
  public exitOp(): void {
    if (--this.#ops === 0 && this.#drained !== undefined) {
      const d = this.#drained;
      this.#drained = undefined;
      d();
    }
  }

  /**
   * The channel's devres quiesce step: the transport's quiesce (no more callbacks; sends in progress
   * return), then wait until every transfer operation on the channel has called `markTxDone`.
   */
  public async quiesce(): Promise<void> {
    try {
      await this.#transport?.quiesce();
    } finally {
      // Even when the transport's quiesce failed: free must not come before the last markTxDone.
      if (this.#ops !== 0) {
        await new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
      }
    }
  }
}

/** Options of a {@link TransferEngine}. */
export interface TransferEngineOptions {
  /** The agent name, for errors. */
  readonly agent: string;
  /** The injected clock. */
  readonly clock: Clock;
  /** Transfers in the pool (the transport's `maxMsg`). */
  readonly poolSize: number;
  /** Buffer capacity of each transfer (the transport's `maxMsgSize`). */
  readonly maxMsgSize: number;
  /** Response timeout, ms. */
  readonly rxTimeoutMs: number;
  /** Delayed-response timeout, ms (Linux: 2 s). */
  readonly asyncTimeoutMs: number;
  /** Where notifications go. */
  readonly notifications: NotificationHub;
  /**
   * The token sequence to go on with (core passes one per transport, kept across probes); default:
   * a sequence of the engine's own, from token 0.
   */
  readonly tokens?: TokenSequence;
}

function stateOf(xfer: Xfer): XferState {
  return xfer.state;
}

function routeOf(xfer: Xfer): ChannelRuntime {
  return xfer.route as ChannelRuntime;
}

/**
 * The messaging engine of one agent (Linux `driver.c`): the transfer pool and token space, the
 * pending table, timeouts on one deadline queue, completion by interrupt or polling, delayed
 * responses, and the RX path with its bad-message taxonomy.
 *
 * The RX path (header decode → pending lookup → copy → resolve) allocates nothing: the response is
 * copied into the transfer's preallocated buffer and the waiting promise (the only allocation of a
 * transfer) is resolved. Errors never reject a promise nobody awaits: a phase always resolves, and
 * its outcome is read from the transfer.
 *
 * @example
 * ```ts
 * const xfer = await engine.get(channel, 0x10, 0x0, 0, 4);
 * await engine.do(channel, xfer);
 * const version = readU32(xfer.rx, 0);
 * engine.put(xfer);
 * ```
 */
export class TransferEngine implements XferOwner {
  /** The transfer pool, token space and pending table. */
  public readonly pool: XferPool;
  readonly #deadlines: DeadlineQueue;
  readonly #o: TransferEngineOptions;
  #closed = false;
  /**
   * The wake-up of each send that waits in the transport (see `#raceShutdown`): the engine's
   * shutdown wakes them all, a transfer given up (`abandon`) its own.
   */
  readonly #waitingSends = new Map<Xfer, () => void>();
  /** What a P2A channel's failInFlight gave: no delayed response will come (see doWithResponse). */
  #delayedResponsesLost: Error | undefined;
  #seq = 0;
  /** Command names by protocol id, then message id (see {@link TransferEngine.nameMessages}). */
  readonly #messageNames = new Map<number, ReadonlyMap<number, string>>();
  /** Vendor protocols' driver names (see {@link TransferEngine.nameProtocol}). */
  readonly #protocolNames = new Map<number, string>();

  /** Creates the engine and preallocates its pool. */
  public constructor(options: TransferEngineOptions) {
    this.#o = options;
    this.pool = new XferPool(
      this,
      options.poolSize,
      options.maxMsgSize,
      options.agent,
      options.tokens,
    );
    this.#deadlines = new DeadlineQueue(options.clock);
  }

  /** The agent's name, as errors name it. */
  public get agent(): string {
    return this.#o.agent;
  }

  /** Whether {@link TransferEngine.shutdown} has run. */
  public get closed(): boolean {
    return this.#closed;
  }

  /** Transfers whose deadline is armed. */
  public get armedDeadlines(): number {
    return this.#deadlines.size;
  }

  /**
   * A transfer for `messageId` of `protocolId`, with room for a `txSize`-byte command and a
   * response of up to `rxSize` bytes (0: the largest the transport carries). `watch` lets a
   * caller give up while it waits for a free transfer (see {@link XferPool.get}).
   *
   * @throws ScmiShutdownError when the agent is shutting down.
   * @throws ScmiMalformedError `E_OVERFLOW` when a size exceeds the transport's max message size.
   */
  public async get(
    channel: ChannelRuntime,
    protocolId: number,
    messageId: number,
    txSize: number,
    rxSize: number,
    watch?: GiveUpWatch,
  ): Promise<Xfer> {
    return (
      this.tryGet(channel, protocolId, messageId, txSize, rxSize) ??
      this.#prepare(channel, await this.pool.get(watch), protocolId, messageId, txSize, rxSize)
    );
  }

  /**
   * {@link TransferEngine.get} without waiting: the transfer at once, or `undefined` when every
   * transfer is in use or the pool is closed (then `get` waits, or rejects). The hot path of
   * `transact`, which saves an async step per command.
   *
   * @throws ScmiMalformedError `E_OVERFLOW` when a size exceeds the transport's max message size;
   * `E_FIELD_RANGE` when the protocol or message id does not fit its 8 header bits (it is not
   * cut to 8 bits: that would send another command).
   */
  public tryGet(
    channel: ChannelRuntime,
    protocolId: number,
    messageId: number,
    txSize: number,
    rxSize: number,
  ): Xfer | undefined {
    // Integers 0…255 only; `>>> 0` is not enough (0x114 would pass as 0x14 on the wire).
    if (!isU8(protocolId) || !isU8(messageId)) {
      throw new ScmiMalformedError(
        `${this.#o.agent}: ${idDefect({ protocol: protocolId, message: messageId })}`,
        'E_FIELD_RANGE',
      );
    }
    const max = this.#o.maxMsgSize;
    if (
      !Number.isInteger(txSize) ||
      txSize < 0 ||
      txSize > max ||
      !Number.isInteger(rxSize) ||
      rxSize < 0 ||
      rxSize > max
    ) {
      throw new ScmiMalformedError(
        `${this.#o.agent}: message sizes tx ${txSize} / rx ${rxSize} exceed the transport's ${max} bytes`,
        'E_OVERFLOW',
      );
    }
    const xfer = this.pool.tryGet();
    return xfer === undefined
      ? undefined
      : this.#prepare(channel, xfer, protocolId, messageId, txSize, rxSize);
  }

  #prepare(
    channel: ChannelRuntime,
    xfer: Xfer,
    protocolId: number,
    messageId: number,
    txSize: number,
    rxSize: number,
  ): Xfer {
    xfer.protocolId = protocolId;
    xfer.messageId = messageId;
    xfer.header = buildHeader(xfer.messageId, ScmiMessageType.COMMAND, xfer.protocolId, xfer.token);
    xfer.txLen = txSize;
    xfer.rxMax = rxSize === 0 ? this.#o.maxMsgSize : rxSize;
    xfer.rxLen = 0;
    xfer.status = 0;
    xfer.isAsync = false;
    xfer.polling = channel.polling;
    xfer.timeoutMs = undefined;
    return xfer;
  }

  /**
   * Puts a transfer back into the pool (Linux `xfer_put`). A no-op for a transfer already free.
   * With `replace` (how `XferOps.put` puts back a transfer its caller held), the object is
   * never handed out again: a second put of it, or a send, cannot touch the transfer of whoever
   * gets the next one (see {@link XferPool.put}). Without it (core's own `transact`, which never
   * lets the object out), the object is reused.
   *
   * @throws ScmiError `E_XFER_STATE` when the transfer is still in flight (sent, or waiting for
   * its delayed response): its `do` has not settled, and the transport may still hold it. Nothing
   * changes; put it back once `do` settled.
   */
  public put(xfer: Xfer, replace = false): void {
    if (inFlight(xfer)) {
      throw new ScmiError(
        'E_XFER_STATE',
        `${this.#o.agent}: transfer (token ${xfer.token}) put back while in flight; put it back once its do() settled`,
      );
    }
    this.#deadlines.disarm(xfer);
    // Its response, overtaken by its delayed response, still to come: the token keeps the debt.
    if (xfer.responseOwed) this.pool.oweResponse(xfer.token, xfer.header, xfer.route);
    // Its send let go at shutdown but still held by the transport: put back once it settles,
    // without touching what the transport reads (its error, its state) before that.
    if (xfer.sendHeld) {
      xfer.putDeferred = replace ? 'replace' : 'put';
      return;
    }
    xfer.route = undefined;
    this.pool.put(xfer, replace);
  }

  /**
   * Sends `xfer` and waits for its response (Linux `do_xfer`): by interrupt with the RX timeout, or
   * by polling. Calls `markTxDone` after every successful send, whatever happens next.
   *
   * @throws ScmiStatusError when the platform answered with an error status.
   * @throws ScmiTimeoutError when no response came in time (the token is retired).
   * @throws ScmiTransportError when the transport failed to send.
   * @throws ScmiShutdownError when the agent shut down meanwhile.
   * @throws ScmiError `E_XFER_STATE` when the transfer cannot be sent: it is in flight, timed out
   * or failed (a transfer is sent fresh from the pool, or again after a response).
   */
  public do(channel: ChannelRuntime, xfer: Xfer): Promise<void> {
    // A transfer sent before with doWithResponse is synchronous now: no delayed response is
    // expected for it (Linux's do_xfer_with_response clears xfer->async_done when it returns).
    // One in flight is refused as it is.
    if (!inFlight(xfer)) xfer.isAsync = false;
    return this.#send(channel, xfer);
  }

  /**
   * Sends an asynchronous command and waits for its response, then for its delayed response
   * (Linux `do_xfer_with_response`), with the delayed-response timeout. A delayed response that
   * overtakes the response is accepted, the response then taken as successful (as Linux does).
   *
   * @throws ScmiStatusError, ScmiTimeoutError (phase `delayed-response`), ScmiTransportError,
   * ScmiShutdownError — as {@link TransferEngine.do}.
   */
  public async doWithResponse(channel: ChannelRuntime, xfer: Xfer): Promise<void> {
    // Checked before it is marked asynchronous: a refused transfer in flight stays as it was.
    this.#checkSendable(xfer);
    xfer.isAsync = true;
    // Sent (its checks passed) before it is marked, so that begin's own check does not refuse it.
    const sending = this.#send(channel, xfer);
    xfer.withResponse = true;
    try {
      await sending;
      if (xfer.state === 'response') {
        const done = this.#phase(xfer);
        if (this.#closed) this.#fail(xfer, new ScmiShutdownError(this.#o.agent));
        else if (this.#delayedResponsesLost !== undefined) {
          // A P2A channel's failInFlight: no delayed response will come.
          routeOf(xfer).counters.failed++;
          this.#fail(xfer, this.#delayedResponsesLost);
        } else this.#deadlines.arm(xfer, this.#o.asyncTimeoutMs);
        await done;
        this.#deadlines.disarm(xfer);
      }
    } finally {
      xfer.withResponse = false;
    }
    this.#throwIfFailed(xfer);
  }

  /**
   * Sends `xfer` and waits until it leaves the `sent` state, then throws its failure if it failed:
   * {@link TransferEngine.begin}, then {@link TransferEngine.end}.
   */
  async #send(channel: ChannelRuntime, xfer: Xfer): Promise<void> {
    const waiting = this.begin(channel, xfer);
    if (waiting !== undefined) await waiting;
    this.end(channel, xfer);
  }

  /**
   * @internal The first half of {@link TransferEngine.do}, for a caller that is an async function
   * already (`transact`): sends `xfer` and returns what to wait for before
   * {@link TransferEngine.end} — `undefined` when the transfer already left the `sent` state (a
   * transport that completes within `send`, or the first poll), else a promise that **always
   * resolves** (the outcome is in the transfer). It saves `do`'s own async step: about 700 bytes
   * allocated and a microtask hop per command, on the path from a response to the next command.
   *
   * Unless it throws, the caller must call `end` once the returned promise (if any) resolved:
   * `end` calls `markTxDone` and ends the channel operation (the channel's quiesce waits for it).
   *
   * A transfer is sent when it was just taken from the pool or after a response (Linux's
   * iterators send one transfer again, with its token); not while it is in flight, nor after it
   * timed out or failed — its token is retired or out of the pending table, so a response could
   * not reach it: put it back and take a new one.
   *
   * @throws ScmiShutdownError, ScmiTransportError (`E_NO_CHANNEL`, or the transport's send
   * error), the error of the channel's loss (its transport's `failInFlight`: the transfer is
   * failed, not sent), ScmiError `E_XFER_STATE` (the transfer is free, in flight, timed out or
   * failed), ScmiError `E_ARGUMENT` (its {@link Xfer.timeoutMs} is not a positive number) — then
   * there is nothing to end.
   */
  public begin(channel: ChannelRuntime, xfer: Xfer): Promise<void> | undefined {
    this.#checkSendable(xfer);
    const timeoutMs: unknown = xfer.timeoutMs;
    if (timeoutMs !== undefined) checkTimeoutMs(timeoutMs, this.#o.agent);
    if (this.#closed) throw new ScmiShutdownError(this.#o.agent);
    const transport = channel.transport;
    if (transport === undefined)
      throw new ScmiTransportError(
        'E_NO_CHANNEL',
        `${this.#o.agent}: channel ${channel.label} is not set up`,
      );
    // The transport said the channel's other end is gone (failInFlight): the command is not
    // handed to it at all (whether its send would refuse it too).
    const lost = channel.lost;
    if (lost !== undefined) throw this.#sendFailed(channel, xfer, lost) as Error;
    if (xfer.responseOwed) {
      // Its delayed response overtook its response, still to come: sent again with its token,
      // the new command would take that response for its own. It goes with a new token; the
      // old one keeps the debt (counted overtaken when the response comes).
      this.pool.oweResponse(xfer.token, xfer.header, xfer.route);
      this.pool.retoken(xfer);
      xfer.header = buildHeader(
        xfer.messageId,
        ScmiMessageType.COMMAND,
        xfer.protocolId,
        xfer.token,
      );
      xfer.responseOwed = false;
    }
    channel.enterOp();
    xfer.state = 'sent';
    xfer.seq = ++this.#seq;
    xfer.error = undefined;
    xfer.route = channel;
    xfer.onWire = false;
    xfer.opDetached = false;
    let pending: void | Promise<void>;
    try {
      pending = transport.send(xfer);
    } catch (cause) {
      channel.exitOp();
      throw this.#sendFailed(channel, xfer, cause) as Error;
    }
    if (pending !== undefined) return this.#afterPendingSend(channel, transport, xfer, pending);
    return this.#afterSend(channel, transport, xfer);
  }

  /** Throws `E_XFER_STATE` unless `xfer` may be sent: fresh from the pool, or after a response. */
  #checkSendable(xfer: Xfer): void {
    const state = xfer.state;
    const busy = inFlight(xfer);
    if (!busy && (state === 'allocated' || state === 'response' || state === 'delayed-response')) {
      return;
    }
    throw new ScmiError(
      'E_XFER_STATE',
      `${this.#o.agent}: a ${busy ? 'transfer in flight' : `${state} transfer`} (token ${xfer.token}) cannot be sent; ${busy ? 'wait until its do() settled' : 'put it back and take a new one'}`,
    );
  }

  /**
   * @internal The second half of {@link TransferEngine.do}, once what
   * {@link TransferEngine.begin} returned has resolved: `markTxDone` (when the command reached
   * the transport), the end of the channel operation, then the transfer's failure, if it failed.
   *
   * @throws ScmiStatusError, ScmiTimeoutError, ScmiTransportError, ScmiShutdownError — as
   * {@link TransferEngine.do}.
   */
  public end(channel: ChannelRuntime, xfer: Xfer): void {
    // Its send let go at shutdown (#detach): the send's settling ends the operation, not this.
    if (xfer.opDetached) {
      this.#throwIfFailed(xfer);
      return;
    }
    this.#endOp(channel, xfer);
    this.#throwIfFailed(xfer);
  }

  /** `markTxDone` when the command reached the transport, then the end of the channel operation. */
  #endOp(channel: ChannelRuntime, xfer: Xfer): void {
    try {
      if (xfer.onWire) {
        this.#deadlines.disarm(xfer);
        channel.transport?.markTxDone(xfer, xfer.error);
      }
    } catch {
      // A transport's markTxDone must not throw; if it does, the transfer's outcome stands.
    } finally {
      channel.exitOp();
    }
  }

  /**
   * Counts a failed send and takes the transfer out of the pending table; returns the error (also
   * kept as the transfer's). Shutdown may already have failed (and counted) the transfer while the
   * send was awaited.
   */
  #sendFailed(channel: ChannelRuntime, xfer: Xfer, cause: unknown): unknown {
    // Failed already while the send was awaited (shutdown, its caller giving it up): that error
    // stands — the transport's refusal of a failed transfer is its consequence, not its cause.
    if (stateOf(xfer) === 'failed' && xfer.error !== undefined) return xfer.error;
    channel.counters.failed++;
    xfer.state = 'failed';
    xfer.waiter = undefined;
    this.pool.unlist(xfer, false);
    const error = this.#asScmiError(cause, 'E_SEND', `send on ${channel.label} failed`);
    xfer.error = error;
    return error;
  }

  /** `cause` when it is an SCMI error already, else a transport error `code` that wraps it. */
  #asScmiError(cause: unknown, code: string, what: string): Error {
    return ScmiError.is(cause)
      ? cause
      : new ScmiTransportError(code, `${this.#o.agent}: ${what}`, { cause });
  }

  /** A send that waits (for a free slot, say), then as {@link TransferEngine.begin}; never rejects. */
  async #afterPendingSend(
    channel: ChannelRuntime,
    transport: TransportChannel,
    xfer: Xfer,
    pending: Promise<void>,
  ): Promise<void> {
    try {
      // The shutdown, or its caller giving the transfer up, lets the caller go at once: a send
      // waiting for the channel (a slot a timed-out command holds, an invocation the transport
      // waits on) settles when the transport lets it, at its quiesce at the latest — the probe's
      // abort, the removal and a command's signal do not wait for it.
      if ((await this.#raceShutdown(pending, xfer)) === 'closed') {
        this.#detach(channel, xfer, pending);
        return;
      }
    } catch (cause) {
      this.#sendFailed(channel, xfer, cause); // end() throws it
      return;
    }
    const waiting = this.#afterSend(channel, transport, xfer);
    if (waiting !== undefined) await waiting;
  }

  /**
   * `pending`'s outcome, or `'closed'` when the engine shuts down first, or its caller gives
   * `xfer` up ({@link TransferEngine.abandon}). One wake-up per waiting send, dropped when the race
   * ends: a promise shared by every send would keep a reaction for each of them until shutdown
   * (hundreds of bytes per command on a transport whose every send waits, as OP-TEE's synchronous
   * wait).
   */
  async #raceShutdown(pending: Promise<void>, xfer: Xfer): Promise<'sent' | 'closed'> {
    // Shut down already (inside the transport's send): no need to wait for it.
    if (this.#closed) return 'closed';
    let wake!: () => void;
    const closed = new Promise<'closed'>((resolve) => {
      wake = () => {
        resolve('closed');
      };
    });
    this.#waitingSends.set(xfer, wake);
    try {
      const outcome: unknown = await Promise.race([pending, closed]);
      return outcome === 'closed' ? 'closed' : 'sent';
    } finally {
      this.#waitingSends.delete(xfer);
    }
  }

  /**
   * Lets the caller of `xfer` go while the transport's send of it is still pending (the engine
   * shut down, or its caller gave it up: the transfer failed, counted): the channel operation
   * stays open — the channel's quiesce still waits for it — until the send settles, then ends,
   * with `markTxDone` when the command went out after all, and the transfer is put back then if
   * its caller put it back meanwhile. A failed transfer is never sent again, and a reply to it is
   * dropped and counted.
   */
  #detach(channel: ChannelRuntime, xfer: Xfer, pending: Promise<void>): void {
    xfer.opDetached = true;
    xfer.sendHeld = true;
    // Kept set once the operation ended, so that `end` (which may run after it) does not end it
    // again; a transfer failed at shutdown is never sent again (begin would clear it).
    const settle = (sent: boolean): void => {
      if (sent) {
        // The command reached the transport after all: counted sent (and failed, at shutdown).
        xfer.onWire = true;
        channel.counters.sent++;
      }
      this.#endOp(channel, xfer);
      xfer.sendHeld = false;
      const deferred = xfer.putDeferred;
      xfer.putDeferred = undefined;
      if (deferred !== undefined) this.put(xfer, deferred === 'replace');
    };
    pending.then(
      () => {
        settle(true);
      },
      () => {
        settle(false);
      },
    );
  }

  /** The command is with the transport: what to wait for (see {@link TransferEngine.begin}). */
  #afterSend(
    channel: ChannelRuntime,
    transport: TransportChannel,
    xfer: Xfer,
  ): Promise<void> | undefined {
    xfer.onWire = true;
    channel.counters.sent++;
    if (trace.tx.hasSubscribers) {
      trace.tx.publish({
        agent: this.#o.agent,
        channel: channel.label,
        protocolId: xfer.protocolId,
        messageId: xfer.messageId,
        token: xfer.token,
      });
    }
    // The state may have moved while send was awaited (response, shutdown).
    if (this.#closed && stateOf(xfer) === 'sent')
      this.#fail(xfer, new ScmiShutdownError(this.#o.agent));
    // The transport said its other end is gone (failInFlight) while this send was completing:
    // nothing will answer it.
    const lost = channel.lost;
    if (lost !== undefined && stateOf(xfer) === 'sent') {
      channel.counters.failed++;
      this.#fail(xfer, lost);
    }
    if (stateOf(xfer) !== 'sent') return undefined;
    if (!xfer.polling) {
      this.#deadlines.arm(xfer, xfer.timeoutMs ?? this.#o.rxTimeoutMs);
      // Every way out of 'sent' (response, failure, timeout, shutdown) settles the phase.
      return this.#phase(xfer);
    }
    if (this.#pollOnce(channel, transport, xfer)) return undefined;
    return this.#poll(channel, transport, xfer);
  }

  /**
   * One poll: true when `xfer` left the `sent` state — the transport said its response is there
   * (then it is fetched), or `pollDone` threw. Never throws.
   */
  #pollOnce(channel: ChannelRuntime, transport: TransportChannel, xfer: Xfer): boolean {
    let arrived: boolean;
    try {
      arrived = transport.pollDone?.(xfer) === true;
    } catch (cause) {
      // A transport's pollDone must not throw. If it does, the transfer fails now, as when its
      // fetch throws: the throw would otherwise escape begin() with the channel operation left
      // open (its quiesce never returning), or out of a deadline's timer callback.
      this.#pollFailed(channel, xfer, cause);
      return true;
    }
    if (!arrived) return false;
    this.#fetchAndComplete(channel, transport, xfer, undefined);
    return true;
  }

  /** Fails a transfer whose polling failed, with the error wrapped as a transport error. */
  #pollFailed(channel: ChannelRuntime, xfer: Xfer, cause: unknown): void {
    channel.counters.failed++;
    this.#fail(xfer, this.#asScmiError(cause, 'E_POLL', `polling ${channel.label} failed`));
  }

  /**
   * Polls for completion, yielding to the event loop between polls (never a synchronous spin).
   * Never rejects: a clock whose `yield` throws fails the transfer (`E_POLL` unless it threw an
   * SCMI error).
   */
  async #poll(channel: ChannelRuntime, transport: TransportChannel, xfer: Xfer): Promise<void> {
    const clock = this.#o.clock;
    const deadline = clock.now() + (xfer.timeoutMs ?? this.#o.rxTimeoutMs);
    try {
      while (xfer.state === 'sent') {
        if (clock.now() >= deadline) {
          this.#timeout(channel, xfer, 'response');
          return;
        }
        await clock.yield();
        if (stateOf(xfer) !== 'sent') return; // re-read after the await
        if (this.#pollOnce(channel, transport, xfer)) return;
      }
    } catch (cause) {
      if (stateOf(xfer) === 'sent') this.#pollFailed(channel, xfer, cause);
    }
  }

  /** Creates the promise of the next phase; it always resolves (the outcome is in `xfer.error`). */
  #phase(xfer: Xfer): Promise<void> {
    // A shared executor, not a closure per transfer: it hands `resolve` out through a module
    // variable, read back at once (the executor runs synchronously inside the constructor).
    const promise = new Promise<void>(captureResolve);
    xfer.waiter = capturedResolve;
    capturedResolve = undefined;
    return promise;
  }

  #settle(xfer: Xfer): void {
    const waiter = xfer.waiter;
    xfer.waiter = undefined;
    waiter?.();
  }

  /**
   * @internal Names the commands of `protocolId` in this engine's errors (see
   * `ProtocolDriver.messageNames`): copied now, keeping only integer keys from 0 to 255 with a
   * string value, so that nothing of `names` runs when an error is made.
   *
   * @throws ScmiError `E_ARGUMENT` when `names` is neither undefined nor an object.
   */
  public nameMessages(protocolId: number, names: unknown): void {
    if (names === undefined) return;
    if (typeof names !== 'object' || names === null) {
      throw new ScmiError(
        'E_ARGUMENT',
        `${this.#o.agent}: ${scmiProtocolName(protocolId)}: the driver's messageNames must be an object, got ${describeArg(names)}`,
      );
    }
    const kept = new Map<number, string>();
    for (const [key, name] of Object.entries(names)) {
      const id = Number(key);
      if (
        typeof name === 'string' &&
        name !== '' &&
        Number.isInteger(id) &&
        id >= 0 &&
        id <= 0xff &&
        String(id) === key
      )
        kept.set(id, name);
    }
    this.#messageNames.set(protocolId, kept);
  }

  /**
   * @internal Names vendor protocol `protocolId` (0x80–0xff) in this engine's errors by its
   * driver's `name`; a standard protocol's id has a name already, and a name that is not a
   * non-empty string is left out.
   */
  public nameProtocol(protocolId: number, name: unknown): void {
    if (protocolId >= SCMI_VENDOR_PROTOCOL_BASE && typeof name === 'string' && name !== '') {
      this.#protocolNames.set(protocolId, name);
    }
  }

  /** @internal The name of vendor protocol `protocolId`'s driver, if any. */
  public protocolName(protocolId: number): string | undefined {
    return this.#protocolNames.get(protocolId);
  }

  /** @internal The name the driver of `protocolId` gives `messageId`, if any. */
  public messageName(protocolId: number, messageId: number): string | undefined {
    return this.#messageNames.get(protocolId)?.get(messageId);
  }

  /** What an error says of `xfer`'s command: its ids, and its name when its driver gave one. */
  #ref(xfer: Xfer): MessageRef {
    return {
      protocolId: xfer.protocolId,
      messageId: xfer.messageId,
      messageName: this.messageName(xfer.protocolId, xfer.messageId),
      protocolName: this.protocolName(xfer.protocolId),
    };
  }

  #fail(xfer: Xfer, error: unknown): void {
    // A failed transfer's token is retired: a response that comes is late, not overtaken (as
    // the transports count one that ended in a failure).
    xfer.responseOwed = false;
    xfer.state = 'failed';
    xfer.error = error;
    this.#deadlines.disarm(xfer);
    this.pool.unlist(xfer, true);
    this.#settle(xfer);
  }

  #throwIfFailed(xfer: Xfer): void {
    if (xfer.error !== undefined) throw xfer.error as Error;
    if (xfer.status !== 0) throw new ScmiStatusError(xfer.status, this.#ref(xfer));
  }

  #timeout(channel: ChannelRuntime, xfer: Xfer, phase: 'response' | 'delayed-response'): void {
    const timeoutMs =
      phase === 'response' ? (xfer.timeoutMs ?? this.#o.rxTimeoutMs) : this.#o.asyncTimeoutMs;
    channel.counters.timeouts++;
    xfer.state = 'timed-out';
    xfer.error = new ScmiTimeoutError(this.#ref(xfer), xfer.token, timeoutMs, phase);
    this.pool.unlist(xfer, true);
    if (trace.timeout.hasSubscribers) {
      trace.timeout.publish({
        agent: this.#o.agent,
        channel: channel.label,
        protocolId: xfer.protocolId,
        messageId: xfer.messageId,
        token: xfer.token,
        phase,
      });
    }
    this.#settle(xfer);
  }

  /**
   * @internal Its caller gave up on `xfer` (`TransactOptions.signal`): a transfer waiting for its
   * response, or for its delayed response, fails now with `reason`, as at a timeout — its token is
   * retired (a late reply is dropped and counted), `markTxDone` gets `reason` at the end, counted
   * in `failed`. A send the transport still holds lets its caller go at once, as at shutdown: the
   * channel operation stays open until the transport lets the send go. A transfer in any other
   * state is left as it is (answered — an error status included — failed already, not sent).
   */
  public abandon(xfer: Xfer, reason: unknown): void {
    const channel = xfer.route as ChannelRuntime | undefined;
    if (channel === undefined) return;
    if (stateOf(xfer) !== 'sent' && !awaitsDelayedResponse(xfer)) return;
    channel.counters.failed++;
    this.#fail(xfer, reason);
    this.#waitingSends.get(xfer)?.();
  }

  /** @internal A transfer's deadline passed. */
  public onXferDeadline(xfer: Xfer): void {
    const channel = xfer.route as ChannelRuntime | undefined;
    if (channel === undefined) return;
    if (xfer.state === 'sent') {
      // Re-check the real completion condition before failing: a late timer must not produce a
      // false timeout when the response is there but its doorbell has not been delivered yet.
      // Linux re-checks so on its polling path (commit c23c03bf1faa); core does on every channel
      // whose transport can tell (`pollDone`).
      const transport = channel.transport;
      if (transport !== undefined && this.#pollOnce(channel, transport, xfer)) return;
      // The look may have settled it another way (a transport that delivered it through rx).
      if (stateOf(xfer) !== 'sent') return;
      this.#timeout(channel, xfer, 'response');
    } else if (xfer.state === 'response' && xfer.isAsync) {
      this.#timeout(channel, xfer, 'delayed-response');
    }
  }

  #fetchAndComplete(
    channel: ChannelRuntime,
    transport: TransportChannel,
    xfer: Xfer,
    ctx: unknown,
  ): void {
    try {
      transport.fetchResponse(xfer, ctx);
    } catch (cause) {
      this.#fetchFailed(channel, xfer, cause);
      return;
    }
    if (xfer.truncated) this.countBad(channel, 'oversize', xfer.header);
    this.#completeResponse(channel, xfer);
  }

  /**
   * A transport's fetch must not throw. If it does, the transfer fails now with a transport error
   * (`E_FETCH`) — on the polling, deadline and delayed-response paths too, where the throw would
   * otherwise escape (skipping markTxDone, out of a timer callback, or leaving the caller to wait
   * for a timeout) — and its token is retired.
   */
  #fetchFailed(channel: ChannelRuntime, xfer: Xfer, cause: unknown): void {
    channel.counters.failed++;
    this.#fail(
      xfer,
      new ScmiTransportError(
        'E_FETCH',
        `${this.#o.agent}: reading the response on ${channel.label} failed`,
        { cause },
      ),
    );
  }

  #completeResponse(channel: ChannelRuntime, xfer: Xfer): void {
    channel.counters.completed++;
    if (xfer.status !== 0) channel.counters.countStatus(xfer.status);
    this.#deadlines.disarm(xfer);
    xfer.state = 'response';
    // It stays in the pending table until put back: a duplicate response is then `invalid`.
    this.#settle(xfer);
  }

  /**
   * @internal Counts a rejected message; `cause`, when the transport threw reading it, goes to
   * the trace.
   */
  public countBad(
    channel: ChannelRuntime,
    reason: BadMessageReason,
    header: number | undefined,
    cause?: unknown,
  ): void {
    channel.counters.badMessages[reason]++;
    if (trace.badMessage.hasSubscribers) {
      trace.badMessage.publish(
        cause === undefined
          ? { agent: this.#o.agent, channel: channel.label, reason, header }
          : { agent: this.#o.agent, channel: channel.label, reason, header, cause },
      );
    }
  }

  /** @internal The RX path, called by the transport inside its RX guard. Never throws. */
  public onRx(channel: ChannelRuntime, header: number, ctx: unknown): void {
    const transport = channel.transport;
    if (transport === undefined) {
      this.countBad(channel, 'unexpected', header);
      return;
    }
    try {
      this.#dispatch(channel, transport, header, ctx);
    } catch (cause) {
      // A transport's fetch must not throw; if it does, the message is counted, not fatal (and
      // what it threw goes to the bad-message trace, for the transport's author).
      this.countBad(channel, 'invalid', header, cause);
    } finally {
      if (channel.direction === 'p2a') transport.clearChannel?.(ctx);
    }
  }

  #dispatch(
    channel: ChannelRuntime,
    transport: TransportChannel,
    header: number,
    ctx: unknown,
  ): void {
    const defect = headerDefect(header);
    if (defect !== undefined) {
      this.countBad(channel, defect === 'unknown-type' ? 'unknown' : 'invalid', header);
      return;
    }
    const type = headerType(header);
    if (trace.rx.hasSubscribers) {
      const kind =
        type === ScmiMessageType.NOTIFICATION
          ? 'notification'
          : type === ScmiMessageType.DELAYED_RESPONSE
            ? 'delayed-response'
            : 'response';
      trace.rx.publish({ agent: this.#o.agent, channel: channel.label, header, kind });
    }
    if ((type === ScmiMessageType.COMMAND) !== (channel.direction === 'a2p')) {
      // Responses come back on A2P channels, notifications and delayed responses on P2A ones
      // (Linux's scmi_rx_callback does not look): on an A2P channel, a message of another type
      // is a response whose type was corrupted, not a notification for the user's handlers.
      this.countBad(channel, 'invalid', header);
      return;
    }
    if (type === ScmiMessageType.NOTIFICATION) {
      const bad = this.#o.notifications.accept(header, channel.counters, transport, ctx);
      if (bad !== undefined) this.countBad(channel, bad, header);
      return;
    }
    const token = headerToken(header);
    const xfer = this.pool.lookup(token);
    if (xfer === undefined) {
      if (this.pool.isRetired(token)) channel.counters.lateReplies++;
      else if (
        type === ScmiMessageType.COMMAND &&
        this.pool.takeOwedResponse(token, header, channel)
      )
        channel.counters.overtakenResponses++;
      else this.countBad(channel, 'unexpected', header);
      return;
    }
    if (
      xfer.protocolId !== headerProtocolId(header) ||
      xfer.messageId !== headerMessageId(header)
    ) {
      this.countBad(channel, 'invalid', header);
      return;
    }
    if (type === ScmiMessageType.COMMAND && xfer.route !== channel) {
      // A response comes back on the channel its command went out on; one on another channel is
      // not this transfer's (Linux looks the token up agent-wide and would read the other
      // channel's memory into it).
      this.countBad(channel, 'unexpected', header);
      return;
    }
    // No reference count (Linux's xfer->users, taken under xfer_lock): this path runs to its end
    // without yielding, so nothing can put the transfer back or reuse it while it is read here.
    if (type === ScmiMessageType.COMMAND) {
      if (xfer.state !== 'sent') {
        if (xfer.responseOwed) {
          // The response its delayed response overtook, not read: the transfer's buffer holds
          // the delayed response's return values, which its caller may not have read yet.
          xfer.responseOwed = false;
          channel.counters.overtakenResponses++;
        } else this.countBad(channel, 'invalid', header); // a duplicate, or after the delayed response
        return;
      }
      this.#fetchAndComplete(channel, transport, xfer, ctx);
      return;
    }
    // Delayed response: only after a successful response (or overtaking it) — a platform
    // sends none for a command it refused, and its status must not turn the refusal into a
    // success before the caller has read it — and only for a command the transport sent: one
    // whose send still waits (for a channel lock, a free area, a buffer) was never written, and
    // the platform cannot answer it (its token is predictable: this is a guess or a stale reply).
    if (!xfer.onWire) {
      this.countBad(channel, 'unexpected', header);
      return;
    }
    if (
      !xfer.isAsync ||
      (xfer.state !== 'sent' && xfer.state !== 'response') ||
      (xfer.state === 'response' && xfer.status !== 0)
    ) {
      this.countBad(channel, 'invalid', header);
      return;
    }
    const owner = (xfer.route as ChannelRuntime | undefined) ?? channel;
    if (xfer.state === 'sent') {
      // The delayed response overtook the response: take the response as successful (Linux),
      // and count the response when it comes (overtakenResponses), not as a bad message.
      xfer.status = 0;
      xfer.responseOwed = true;
      this.#completeResponse(owner, xfer);
    }
    // The delayed response has its own return values: room for the max message size, whatever
    // the command's response was limited to (Linux's scmi_handle_response resets rx.len so).
    xfer.rxMax = this.#o.maxMsgSize;
    try {
      transport.fetchResponse(xfer, ctx);
    } catch (cause) {
      this.#fetchFailed(owner, xfer, cause);
      return;
    }
    if (xfer.truncated) this.countBad(channel, 'oversize', header);
    channel.counters.delayedResponses++;
    if (xfer.status !== 0) channel.counters.countStatus(xfer.status);
    xfer.state = 'delayed-response';
    this.#deadlines.disarm(xfer);
    this.#settle(xfer);
  }

  /** @internal {@link RxSink.failInFlight} of `channel`. Never throws. */
  public failInFlight(channel: ChannelRuntime, cause: unknown): number {
    if (this.#closed) return 0;
    const error = this.#asScmiError(
      cause,
      'E_CHANNEL_LOST',
      `the other end of ${channel.label} will not answer`,
    );
    const a2p = channel.direction === 'a2p';
    channel.markLost(error);
    if (!a2p) this.#delayedResponsesLost ??= error;
    let failed = 0;
    for (const xfer of [...this.pool.pending()]) {
      // A command whose send still waits (not on the wire) is the transport's to refuse.
      const waits = a2p
        ? xfer.route === channel && xfer.state === 'sent' && xfer.onWire
        : awaitsDelayedResponse(xfer);
      if (!waits) continue;
      routeOf(xfer).counters.failed++;
      this.#fail(xfer, error);
      failed++;
    }
    return failed;
  }

  /**
   * Shuts the engine down (the agent's first teardown step): no new transfer; every transfer in
   * flight fails promptly with {@link ScmiShutdownError}; callers waiting for a transfer too; no
   * deadline stays armed. Idempotent.
   */
  public shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of this.#waitingSends.values()) wake();
    this.pool.close();
    for (const xfer of [...this.pool.pending()]) {
      if (xfer.state === 'sent' || awaitsDelayedResponse(xfer)) {
        routeOf(xfer).counters.failed++;
        this.#fail(xfer, new ScmiShutdownError(this.#o.agent));
      }
    }
    this.#deadlines.close();
  }
}

/** Where {@link captureResolve} leaves the resolve function of the promise being created. */
let capturedResolve: (() => void) | undefined;

/** The executor of every phase promise: no closure allocated per transfer. */
function captureResolve(resolve: () => void): void {
  capturedResolve = resolve;
}

/** An integer 0…255 (a header's protocol or message id). */
function isU8(n: number): boolean {
  return (n & 0xff) === n;
}

/** `n` for a message: hexadecimal when it is a number, else as given (a caller's bad argument). */
export function idText(n: unknown): string {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? `0x${n.toString(16)}` : String(n);
}

/**
 * @internal What is wrong with the protocol or message ids of a command (empty when both fit
 * the header's 8 bits), for an `E_FIELD_RANGE` error: an integer outside 0…255 does not fit;
 * anything else (a JavaScript caller's `'0x14'`, 1.5, NaN) is not an id at all, and is named by
 * its type so that it does not read as a valid id refused.
 *
 * @example
 * ```ts
 * idDefect({ protocol: 0x114 }); // "protocol 0x114 does not fit the header's 8 bits"
 * idDefect({ protocol: '0x14' }); // 'protocol must be an integer 0…255, got string "0x14"'
 * ```
 */
export function idDefect(ids: { readonly protocol: unknown; readonly message?: unknown }): string {
  return Object.entries(ids)
    .filter(([, n]) => typeof n !== 'number' || !isU8(n))
    .map(([what, n]) =>
      typeof n === 'number' && Number.isInteger(n)
        ? `${what} ${idText(n)} does not fit the header's 8 bits`
        : `${what} must be an integer 0…255, got ${describeArg(n)}`,
    )
    .join('; ');
}

/**
 * Whether `xfer` has its (successful) response and waits for its delayed response — or is about
 * to: `doWithResponse` arms that wait on the microtask after the response.
 */
function awaitsDelayedResponse(xfer: Xfer): boolean {
  return xfer.state === 'response' && xfer.isAsync && xfer.status === 0;
}

/**
 * Whether a `do` of `xfer` has not settled: it is sent, or a `doWithResponse` of it has not
 * settled (waiting for its delayed response, or about to).
 */
function inFlight(xfer: Xfer): boolean {
  return xfer.state === 'sent' || xfer.waiter !== undefined || xfer.withResponse;
}

/**
 * @internal Throws unless `value` is a response timeout: a positive finite number of ms
 * ({@link Xfer.timeoutMs}, `CallOptions.timeoutMs`); `what` names it in the message.
 *
 * @throws ScmiError `E_ARGUMENT` naming the agent, `what` and what was given.
 */
export function checkTimeoutMs(
  value: unknown,
  agent: string,
  what = "a transfer's timeoutMs",
): void {
  if (typeof value === 'number' && value > 0 && value < Infinity) return;
  throw new ScmiError(
    'E_ARGUMENT',
    `${agent}: ${what} must be a positive number of ms, got ${describeArg(value)}`,
  );
}
