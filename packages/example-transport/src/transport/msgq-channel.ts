import {
  RxGuard,
  ScmiShutdownError,
  ScmiStatus,
  ScmiTransportError,
  encodeMsg,
  readI32,
  readU32,
  type ChannelSetup,
  type NotificationBuffer,
  type TransportChannel,
  type Xfer,
} from '@scmi-ts/core';
import type { MsgqEnd } from '../wire/msgq-end.js';

const EMPTY = new Uint8Array(0);

/** A `send` waiting for the channel's one slot. */
interface WaitingSend {
  readonly xfer: Xfer;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * One SCMI channel over a msgq wire (internal: `msgqTransport.setupChannel` makes it). Each "§n"
 * below names the section of docs/writing-a-transport.md that the code implements.
 *
 * One command in flight per A2P channel, as on an SMT area: `send` takes the slot, `markTxDone`
 * gives it back. Completion by interrupt (the doorbell hands each reply to core) or by polling
 * (the doorbell keeps the command's reply for `pollDone`). The doorbell is plugged in as the
 * channel is made and unplugged at `free`: nothing of the channel stays armed.
 */
export class MsgqChannel implements TransportChannel {
  /** §7: one command on the wire at a time; the others wait in `send`. */
  public readonly maxInFlight = 1;
  readonly #setup: ChannelSetup;
  readonly #end: MsgqEnd;
  readonly #maxMsgSize: number;
  readonly #guard = new RxGuard();
  readonly #waiting: WaitingSend[] = [];
  /** The transfer whose command is on the wire, from its `send` to its `markTxDone`. */
  #onWire: Xfer | undefined;
  /** Polling: the reply of `#onWire`, kept until core polls for it. */
  #held: Uint8Array | undefined;
  #closed = false;
  /** §1.5: the other end is gone; every later `send` fails with this. */
  #lost: ScmiTransportError | undefined;

  public constructor(setup: ChannelSetup, end: MsgqEnd, maxMsgSize: number) {
    this.#setup = setup;
    this.#end = end;
    this.#maxMsgSize = maxMsgSize;
    end.listen(setup.direction, setup.channel.id, {
      message: (bytes) => this.#doorbell(bytes),
      gone: () => this.#gone(),
    });
  }

  /** §1.1, §7: writes the command if the slot is free, else waits until `markTxDone` frees it. */
  public send(xfer: Xfer): void | Promise<void> {
    if (this.#closed) throw new ScmiShutdownError(this.#setup.agent);
    if (this.#lost !== undefined) throw this.#lost;
    if (this.#onWire !== undefined) {
      return new Promise((resolve, reject) => this.#waiting.push({ xfer, resolve, reject }));
    }
    this.#write(xfer);
  }

  /** §6: `ctx` is the message the doorbell gave `sink.rx`; undefined after `pollDone`. */
  public fetchResponse(xfer: Xfer, ctx: unknown): void {
    let bytes = ctx as Uint8Array | undefined;
    if (bytes === undefined) [bytes, this.#held] = [this.#held, undefined];
    if (bytes === undefined || bytes.byteLength < 8) {
      // No status word: malformed, counted here; its command completes with PROTOCOL_ERROR.
      if (bytes !== undefined) this.#setup.sink.badMessage('invalid');
      xfer.receiveResponse(ScmiStatus.PROTOCOL_ERROR, EMPTY, 0, 0);
      return;
    }
    // MSG layout: header, int32 status, return values (core clamps them to the xfer's rxMax).
    xfer.receiveResponse(readI32(bytes, 4), bytes, 8, bytes.byteLength - 8);
  }

  /** §1.4: always through `buffer.receive`, an empty payload too. */
  public fetchNotification(buffer: NotificationBuffer, ctx: unknown): void {
    const bytes = ctx as Uint8Array; // the doorbell checked it holds the 4-byte header
    buffer.receive(bytes, 4, bytes.byteLength - 4);
  }

  /** §1.2: true once the polled command's reply is kept (its whole header checked on arrival). */
  public pollDone(xfer: Xfer): boolean {
    return xfer === this.#onWire && this.#held !== undefined;
  }

  /** §1.3: after every successful send, after a timeout too: frees the slot for the next. */
  public markTxDone(xfer: Xfer): void {
    if (xfer !== this.#onWire) return;
    this.#onWire = undefined;
    // §1.2: a reply kept for a polled transfer that gave up: nobody polls for it any more, so it
    // goes to core now, through the guard as any reply (core counts it late).
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) this.#doorbell(held);
    for (let next = this.#waiting.shift(); next !== undefined; next = this.#waiting.shift()) {
      if (next.xfer.state === 'sent') {
        this.#write(next.xfer);
        next.resolve();
        return;
      }
      // Given up while it waited (its caller's signal): never written, refused.
      next.reject(new ScmiShutdownError(this.#setup.agent));
    }
  }

  /** §8, devres phase 1: refuse every callback from now on; wait for the running ones. */
  public quiesce(): Promise<void> {
    this.#closed = true;
    const drained = this.#guard.quiesce();
    this.#rejectWaiting(new ScmiShutdownError(this.#setup.agent)); // no send waits on teardown
    return drained;
  }

  /** §8, devres phase 2: unplug the doorbell; the wire drops (and counts) what comes later. */
  public free(): void {
    this.#end.listen(this.#setup.direction, this.#setup.channel.id, undefined);
  }

  #write(xfer: Xfer): void {
    this.#onWire = xfer;
    this.#end.send('a2p', this.#setup.channel.id, encodeMsg(xfer.header, xfer.request()));
  }

  /** §5: every message from the platform, inside the RX guard, count-in first. Never throws. */
  #doorbell(bytes: Uint8Array): void {
    if (!this.#guard.enter()) {
      this.#setup.counters.refusedAfterQuiesce++; // quiescing: dropped, counted
      return;
    }
    try {
      this.#receive(bytes);
    } finally {
      this.#guard.exit();
    }
  }

  #receive(bytes: Uint8Array): void {
    const sink = this.#setup.sink;
    // §6: the length is the other side's: under 4 bytes there is no header, over 4 + maxMsgSize
    // the platform broke the descriptor's limit. Rejected whole, counted, nothing read.
    if (bytes.byteLength < 4 || bytes.byteLength > 4 + this.#maxMsgSize) {
      sink.badMessage(bytes.byteLength < 4 ? 'invalid' : 'oversize');
      return;
    }
    const header = readU32(bytes, 0);
    if (this.#setup.direction === 'a2p') {
      // Core looks tokens up agent-wide: a reply with the header of a command still waiting in
      // `send` (unwritten: nothing can answer it) would complete that command unsent.
      if (this.#waiting.some((w) => w.xfer.header === header)) {
        sink.badMessage('unexpected');
        return;
      }
      // §1.2 polling: keep the reply whose header is exactly its command's, for `pollDone`.
      const xfer = this.#onWire;
      const polled = xfer?.polling === true && xfer.state === 'sent' && header === xfer.header;
      if (polled) {
        // A second reply while the first is kept is a duplicate response (core's `invalid`):
        // dropped and counted, the first stays the answer. Handed to core, it would complete
        // the polled command with its bytes, and the first would be counted late.
        if (this.#held === undefined) this.#held = bytes;
        else sink.badMessage('invalid');
        return;
      }
    }
    // §5: token matching, late replies, duplicates and message types are core's.
    sink.rx(header, bytes);
  }

  /** §1.5: the other end is gone: refuse what waits, deliver what came, fail the rest at once. */
  #gone(): void {
    if (this.#lost !== undefined) return;
    const { agent, direction, channel } = this.#setup;
    const lost = new ScmiTransportError(
      'E_MSGQ_GONE',
      `${agent}: the other end of msgq channel ${direction}:${channel.id} is gone`,
    );
    this.#lost = lost;
    this.#rejectWaiting(lost);
    if (!this.#guard.enter()) return; // quiescing: the shutdown fails everything already
    try {
      const held = this.#held;
      this.#held = undefined;
      if (held !== undefined) this.#setup.sink.rx(readU32(held, 0), held);
      this.#setup.sink.failInFlight(lost);
    } finally {
      this.#guard.exit();
    }
  }

  #rejectWaiting(error: Error): void {
    for (const waiting of this.#waiting.splice(0)) waiting.reject(error);
  }
}
