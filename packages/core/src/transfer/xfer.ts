import type { DeadlineLane, DeadlineNode } from '../clock/deadline-queue.js';
import { ScmiStatus } from '../wire/status.js';
import { clampedCopy, requestedBytes } from './clamped-copy.js';

/**
 * Where a transfer is in its life (Linux `SCMI_XFER_*` states plus ours):
 * `free` (in the pool) → `allocated` (token taken, being built) → `sent` → `response` →
 * `delayed-response` (asynchronous commands), or `timed-out` / `failed`.
 */
export type XferState =
  'free' | 'allocated' | 'sent' | 'response' | 'delayed-response' | 'timed-out' | 'failed';

/** How a transfer reports its events to the engine that owns it (core's transfer engine). */
export interface XferOwner {
  /** The transfer's deadline passed. */
  onXferDeadline(xfer: Xfer): void;
}

/** The buffers of a transfer replaced in the pool (see {@link Xfer.handOver}). */
const NO_BYTES = new Uint8Array(0);

/**
 * One SCMI transfer (Linux `struct scmi_xfer`): a command with preallocated TX and RX buffers,
 * its token, and its state. Transfers come from a bounded pool: a caller builds the command in
 * {@link Xfer.tx}, sends it, reads the response from {@link Xfer.rx} and puts the transfer back. An
 * object put back through `XferOps.put` is not handed out again (a new one takes its place), so
 * a stale reference can never reach another caller's transfer; core's own `transact` reuses its
 * objects, which never leave it. Transports read `header`, `tx`/`txLen` and write the response with
 * {@link Xfer.receiveResponse}.
 *
 * @example
 * ```ts
 * const xfer = await ph.xfer.get(CLOCK_RATE_GET, 4, 8);
 * new PayloadWriter(xfer.tx).u32(clockId);
 * await ph.xfer.do(xfer);
 * const rate = new PayloadReader(xfer.response()).u64();
 * ph.xfer.put(xfer);
 * ```
 */
export class Xfer implements DeadlineNode {
  /** The 10-bit token, echoed by the platform. */
  public token = 0;
  /** The packed header word (message id, type 0, protocol id, token). */
  public header = 0;
  /** The protocol id. */
  public protocolId = 0;
  /** The message id. */
  public messageId = 0;
  /**
   * Command payload buffer (capacity: the transport's max message size; empty once the transfer
   * was put back through `XferOps.put`).
   */
  public readonly tx: Uint8Array;
  /** Bytes of {@link Xfer.tx} to send. */
  public txLen = 0;
  /**
   * Response buffer: return values after the status (capacity: max message size; empty once the
   * transfer was put back through `XferOps.put`).
   */
  public readonly rx: Uint8Array;
  /** Bytes of {@link Xfer.rx} received. */
  public rxLen = 0;
  /** Largest response the caller expects (return values, bytes); longer ones are clamped and counted. */
  public rxMax = 0;
  /** The status word of the response (or of the delayed response). */
  public status = 0;
  /** Complete by polling rather than interrupt. */
  public polling = false;
  /**
   * How long to wait for this transfer's response, ms; `undefined` (as taken from the pool): the
   * agent's `rxTimeoutMs`. `XferOps.transact` sets it from its `timeoutMs` option; a driver that
   * takes a transfer with `get` may set it before `do`. A positive finite number, else `do`
   * refuses the transfer (`E_ARGUMENT`, nothing sent). The delayed response of an asynchronous
   * command keeps the agent's `asyncTimeoutMs`.
   */
  public timeoutMs: number | undefined = undefined;
  /** The command is asynchronous: a delayed response follows the response. */
  public isAsync = false;
  /** Where the transfer is in its life. */
  public state: XferState = 'free';
  /** True when the last received response was longer than {@link Xfer.rxMax} and was clamped. */
  public truncated = false;
  /** A sequence number (transfers sent by this agent so far), for traces. */
  public seq = 0;

  /** @internal */
  public dlAt = 0;
  /** @internal */
  public dlPrev: DeadlineNode | undefined = undefined;
  /** @internal */
  public dlNext: DeadlineNode | undefined = undefined;
  /** @internal */
  public dlLane: DeadlineLane | undefined = undefined;

  /** @internal Settles the phase being waited for (response, then delayed response). */
  public waiter: (() => void) | undefined = undefined;
  /**
   * @internal A `doWithResponse` of it has not settled: between its response and the wait for its
   * delayed response (a few microtasks, no waiter armed yet) it is still in flight.
   */
  public withResponse = false;
  /** @internal The command reached the transport (its send returned): `markTxDone` is owed. */
  public onWire = false;
  /**
   * @internal The engine shut down, or its caller gave it up, while the transport's send of it was
   * still pending: its caller was let go, and the send's own settling ends the channel operation
   * (and owes `markTxDone` when it went out after all), not `end`.
   */
  public opDetached = false;
  /**
   * @internal A detached send (see `opDetached`) has not settled: the transport holds the
   * transfer, so a put back waits until it settles (`putDeferred`).
   */
  public sendHeld = false;
  /** @internal A put back of a transfer whose send was held, done once the send settles. */
  public putDeferred: 'put' | 'replace' | undefined = undefined;
  /**
   * @internal Its delayed response overtook its response, which is still to come: counted
   * `overtakenResponses` when it does; sent again, the transfer gets a new token (the old one
   * keeps the debt).
   */
  public responseOwed = false;
  /** @internal The channel the transfer was sent on (core's runtime object). */
  public route: unknown = undefined;
  /** @internal The error that ended the transfer, if any. */
  public error: unknown = undefined;

  readonly #owner: XferOwner;

  /**
   * @internal Created by the transfer pool: with buffers of `capacity` bytes, or with the buffers
   * given (see {@link Xfer.handOver}).
   */
  public constructor(owner: XferOwner, capacity: number, tx?: Uint8Array, rx?: Uint8Array) {
    this.#owner = owner;
    this.tx = tx ?? new Uint8Array(capacity);
    this.rx = rx ?? new Uint8Array(capacity);
  }

  /**
   * @internal A new transfer that takes over this one's buffers, this one left with empty ones:
   * how the pool replaces an object whose holder may keep the reference. Buffers above 64 bytes
   * live outside V8's heap and cost about a microsecond each to allocate (Node 20), so they move
   * instead; the replaced object's `tx` and `rx` hold no bytes, so a stale write through them
   * lands nowhere (`set` throws a RangeError) and a stale read finds nothing. A view taken before
   * (`response()`, a `PayloadWriter` over `tx`) still reaches the buffers, now the next transfer's.
   */
  public handOver(): Xfer {
    const next = new Xfer(this.#owner, 0, this.tx, this.rx);
    const self = this as { tx: Uint8Array; rx: Uint8Array };
    self.tx = NO_BYTES;
    self.rx = NO_BYTES;
    return next;
  }

  /** The command payload: a view of the first {@link Xfer.txLen} bytes of {@link Xfer.tx}. */
  public request(): Uint8Array {
    return this.tx.subarray(0, this.txLen);
  }

  /** The response return values: a view of the first {@link Xfer.rxLen} bytes of {@link Xfer.rx}. */
  public response(): Uint8Array {
    return this.rx.subarray(0, this.rxLen);
  }

  /**
   * Stores a response: `status`, then `length` bytes of return values read from `source` at
   * `offset`. The copy is clamped to {@link Xfer.rxMax} and to the end of `source` — a hostile
   * length never reads out of bounds. A response longer than `rxMax` sets {@link Xfer.truncated}
   * (core counts it `oversize`); a length past the end of `source` is the transport's to check
   * and count, before it calls this. As `NotificationBuffer.receive`, a negative or
   * non-finite length counts as 0 and an offset that is not an integer within `source` leaves
   * nothing to copy; a `status` that is not a finite number is stored as PROTOCOL_ERROR, never as
   * SUCCESS. Called by transports inside `fetchResponse`.
   */
  public receiveResponse(status: number, source: Uint8Array, offset: number, length: number): void {
    const wanted = requestedBytes(length);
    this.truncated = wanted > this.rxMax;
    this.rxLen = clampedCopy(this.rx, this.rxMax, source, offset, wanted);
    this.status = Number.isFinite(status) ? status | 0 : ScmiStatus.PROTOCOL_ERROR;
  }

  /** @internal */
  public onDeadline(): void {
    this.#owner.onXferDeadline(this);
  }
}
