import { ScmiTransportError, type Clock, type TimerHandle } from '@scmi-ts/core';
import type { MailboxChannel, MailboxClient, MailboxTxDoneMethod } from './mailbox-controller.js';

/**
 * The wire of one mailbox channel as a controller implements it (internal): the doorbell toward
 * the remote, the doorbell back, and the TX bookkeeping the remote keeps.
 */
export interface MailboxLine {
  /** Rings the remote; returns the ring's sequence number. */
  ring(): number;
  /**
   * Delivers the remote's rings to `onRing`, with how many rings each call covers (at least 1:
   * rings coalesce); after close, calls `onIgnored` for each ring it drops when it can see it.
   */
  listen(onRing: (rings: number) => void, onIgnored: () => void): void;
  /** Stops listening (idempotent). */
  close(): void;
  /** Rings of the remote dropped after close. */
  ignored(): number;
  /** Sequence number of the last ring the remote has consumed. */
  consumed(): number;
  /** Calls `onTxIrq` for each TX-done interrupt (the `irq` method only). */
  listenTxDone(onTxIrq: () => void): void;
}

/** Linux `MBOX_TX_QUEUE_LEN`: messages a channel queues behind the active one. */
export const MBOX_TX_QUEUE_LEN = 20;

/**
 * The TX-done method of a channel bound to `client` on a controller whose own method is
 * `controllerMethod` (Linux `drivers/mailbox/mailbox.c`, `__mbox_bind_client`, called by
 * `mbox_request_channel`): only `TXDONE_BY_POLL` becomes `TXDONE_BY_ACK` for a client that
 * `knows_txdone`; a controller with a TX-done interrupt keeps `TXDONE_BY_IRQ`, and the client's
 * `mbox_client_txdone` on it is refused ("Client can't run the TX ticker") — here a no-op.
 * @internal
 */
export function clientTxDoneMethod(
  controllerMethod: 'irq' | 'poll',
  client: MailboxClient,
): MailboxTxDoneMethod {
  return controllerMethod === 'poll' && client.knowsTxDone === true ? 'ack' : controllerMethod;
}

/** Sequence numbers wrap at 2^32: `a` is at or after `b`. */
function reached(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/**
 * The channel logic every controller shares (Linux `drivers/mailbox/mailbox.c`: `msg_submit`,
 * `tx_tick`, `txdone_hrtimer`): one active message, a queue behind it, TX completion by
 * interrupt, polling or client acknowledgement.
 */
export class MailboxLineChannel implements MailboxChannel {
  public readonly index: number;
  public readonly txDoneMethod: MailboxTxDoneMethod;
  readonly #line: MailboxLine;
  readonly #client: MailboxClient;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #onFree: () => void;
  #active = false;
  #target = 0;
  #queued = 0;
  #poll: TimerHandle | undefined;
  #rxStopped = false;
  #freed = false;

  /** @internal Created by a controller's `requestChannel`. */
  public constructor(
    index: number,
    client: MailboxClient,
    line: MailboxLine,
    controllerMethod: 'irq' | 'poll',
    clock: Clock,
    pollMs: number,
    onFree: () => void,
  ) {
    this.index = index;
    this.#client = client;
    this.#line = line;
    this.#clock = clock;
    this.#pollMs = pollMs;
    this.#onFree = onFree;
    this.txDoneMethod = clientTxDoneMethod(controllerMethod, client);
    if (this.txDoneMethod === 'irq') {
      line.listenTxDone(() => {
        this.#checkTxDone();
      });
    }
    line.listen(
      (rings) => {
        client.rxCallback(rings);
      },
      () => {
        client.rxIgnored?.();
      },
    );
  }

  public get txActive(): boolean {
    return this.#active;
  }

  public get queued(): number {
    return this.#queued;
  }

  public get rxStopped(): boolean {
    return this.#rxStopped;
  }

  public get freed(): boolean {
    return this.#freed;
  }

  public get ignored(): number {
    return this.#line.ignored();
  }

  public send(): void {
    if (this.#freed) {
      throw new ScmiTransportError('E_MBOX_FREED', `mailbox channel ${this.index} was freed`);
    }
    if (!this.#active) {
      this.#transmit();
      return;
    }
    if (this.#queued >= MBOX_TX_QUEUE_LEN) {
      throw new ScmiTransportError(
        'E_MBOX_QUEUE_FULL',
        `mailbox channel ${this.index}: ${MBOX_TX_QUEUE_LEN} messages already queued`,
      );
    }
    this.#queued++;
  }

  public clientTxDone(error?: unknown): void {
    if (this.txDoneMethod !== 'ack' || !this.#active) return;
    this.#txDone(error);
  }

  public stopRx(): void {
    if (this.#rxStopped) return;
    this.#rxStopped = true;
    this.#line.close();
  }

  public free(): void {
    if (this.#freed) return;
    this.stopRx();
    this.#freed = true;
    this.#active = false;
    this.#queued = 0;
    this.#poll?.cancel();
    this.#poll = undefined;
    this.#onFree();
  }

  #transmit(): void {
    this.#active = true;
    this.#target = this.#line.ring();
    if (this.txDoneMethod === 'poll') this.#armPoll();
  }

  #armPoll(): void {
    this.#poll = this.#clock.setTimeout(() => {
      this.#poll = undefined;
      // TX done: #txDone transmitted the next queued message, if any, and #transmit armed the poll
      // for it. Arming one more here would leave two polls running, and free() would cancel only
      // the newer.
      if (this.#checkTxDone()) return;
      if (this.#active && !this.#freed) this.#armPoll();
    }, this.#pollMs);
  }

  /** `last_tx_done`: the remote has consumed the active ring. True when it reported TX done. */
  #checkTxDone(): boolean {
    if (!this.#active || this.#freed) return false;
    if (!reached(this.#line.consumed(), this.#target)) return false;
    this.#poll?.cancel();
    this.#poll = undefined;
    this.#txDone(undefined);
    return true;
  }

  #txDone(error: unknown): void {
    this.#active = false;
    this.#client.txDone?.(error);
    if (this.#queued > 0 && !this.#freed) {
      this.#queued--;
      this.#transmit();
    }
  }
}
