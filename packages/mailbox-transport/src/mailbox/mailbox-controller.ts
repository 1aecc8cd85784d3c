import { ScmiConfigError, ScmiTransportError, formatValue } from '@scmi-ts/core';

/**
 * How a mailbox client learns that the remote has taken its message (Linux
 * `include/linux/mailbox_controller.h`, `TXDONE_BY_*`):
 *
 * - `irq`: the controller raises a TX-done interrupt when the remote consumed the ring;
 * - `poll`: the controller polls its `last_tx_done` state every `txPollPeriodMs`;
 * - `ack`: the client knows (an SCMI response implies the command was taken) and says so with
 *   {@link MailboxChannel.clientTxDone} (Linux `knows_txdone` / `mbox_client_txdone`). Only a
 *   polling controller's channel becomes `ack` for such a client: an `irq` one stays `irq` (Linux
 *   `drivers/mailbox/mailbox.c`, `mbox_request_channel`).
 *
 * @example
 * ```ts
 * const chan = controller.requestChannel(0, { knowsTxDone: true, rxCallback });
 * chan.txDoneMethod; // 'ack' on a 'poll' controller, 'irq' on an 'irq' one
 * ```
 */
export type MailboxTxDoneMethod = 'irq' | 'poll' | 'ack';

/**
 * Most channels a controller of this package has (and so most SCMI channels a wire made by
 * `createSameThreadMailboxWire` / `createSharedMailboxWire` has: one mailbox channel each).
 * @internal
 */
export const MAX_MAILBOX_CHANNELS = 1024;

/**
 * The TX-done method of a controller (`irq` when `value` is undefined): `ack` is not one, it is
 * the client's ({@link MailboxClient.knowsTxDone}).
 *
 * @throws ScmiConfigError naming `field` when `value` is anything else than `irq`, `poll` or
 * undefined.
 * @internal
 */
export function controllerTxDoneMethod(value: unknown, field = 'txDoneMethod'): 'irq' | 'poll' {
  if (value === undefined) return 'irq';
  if (value === 'irq' || value === 'poll') return value;
  throw new ScmiConfigError(
    field,
    `expected 'irq' or 'poll' (a client that knows TX completion asks for 'ack' itself), got ${formatValue(value)}`,
  );
}

/**
 * Checks that `value` looks like a {@link @scmi-ts/core!Clock} (what a controller calls:
 * `schedule`, `setTimeout`, `now`).
 *
 * @throws ScmiConfigError naming `field` otherwise.
 * @internal
 */
export function checkMailboxClock(value: unknown, field = 'clock'): void {
  const c = value as Partial<Record<'now' | 'setTimeout' | 'schedule', unknown>> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.now !== 'function' ||
    typeof c.setTimeout !== 'function' ||
    typeof c.schedule !== 'function'
  ) {
    throw new ScmiConfigError(
      field,
      `expected a Clock (now, setTimeout, schedule), got ${formatValue(value)}`,
    );
  }
}

/**
 * A mailbox client (Linux `struct mbox_client`): what a controller calls back on one channel.
 *
 * @example
 * ```ts
 * const chan = controller.requestChannel(0, {
 *   knowsTxDone: true,
 *   rxCallback: () => readSharedMemory(),
 * });
 * chan.send();
 * ```
 */
export interface MailboxClient {
  /**
   * The remote rang this channel (Linux `rx_callback`). Rings may coalesce: one call may stand for
   * several rings, and `rings` says how many, when the controller knows (both controllers of this
   * package do; at least 1). A ring the remote made while a call starts is covered by that call
   * (the shared memory the call reads was written before it), never delivered again by a later one.
   */
  rxCallback(rings?: number): void;
  /**
   * The transmission of the last message ended (Linux `tx_done`): `error` is undefined on
   * success, or what {@link MailboxChannel.clientTxDone} was given.
   */
  txDone?(error: unknown): void;
  /**
   * The client reports TX completion itself (Linux `knows_txdone`): on a polling controller the
   * channel uses the `ack` method; a controller with a TX-done interrupt keeps `irq`, and the
   * client's {@link MailboxChannel.clientTxDone} is then a no-op.
   */
  readonly knowsTxDone?: boolean;
  /**
   * A ring toward this channel was dropped because its RX was stopped
   * ({@link MailboxChannel.stopRx}). Called when the controller can see the drop (the same-thread
   * controller always can; across threads the drops are only counted in
   * {@link MailboxChannel.ignored}).
   */
  rxIgnored?(): void;
  /**
   * The remote end is gone for good (its thread exited without closing its end: crashed or
   * terminated): nothing it owes this channel — a reply, a TX completion, a ring — will come. Called
   * once per channel, on the client's thread, by a controller that learns it
   * ({@link SharedMailboxController.markRemoteGone}); the channel itself stays held until freed.
   */
  remoteGone?(): void;
}

/**
 * One channel of a mailbox controller, held by one client (Linux `struct mbox_chan` as a client
 * sees it). Messages carry no data here: the data is in shared memory, the channel is the
 * doorbell.
 */
export interface MailboxChannel {
  /** The channel's index in its controller. */
  readonly index: number;
  /** How TX completion is learned on this channel. */
  readonly txDoneMethod: MailboxTxDoneMethod;
  /** True while a message is being transmitted (rung, TX not done yet). */
  readonly txActive: boolean;
  /** Messages queued behind the active one. */
  readonly queued: number;
  /** True once {@link MailboxChannel.stopRx} (or free) ran. */
  readonly rxStopped: boolean;
  /** True once {@link MailboxChannel.free} ran. */
  readonly freed: boolean;
  /** Rings toward this channel dropped after its RX stopped. */
  readonly ignored: number;
  /**
   * Sends one message (Linux `mbox_send_message`): rings the remote now if no message is active,
   * else queues it (at most 20 queued, Linux `MBOX_TX_QUEUE_LEN`); each queued message is rung
   * when the previous one's TX is done.
   *
   * @throws ScmiTransportError `E_MBOX_QUEUE_FULL` when 20 messages are queued, `E_MBOX_FREED`
   * after {@link MailboxChannel.free}.
   */
  send(): void;
  /**
   * Reports the end of the active transmission (Linux `mbox_client_txdone`); `error` is passed to
   * the client's `txDone`. Only for the `ack` method; a no-op when nothing is active, and on other
   * methods (the controller decides there; Linux refuses it: "Client can't run the TX ticker").
   */
  clientTxDone(error?: unknown): void;
  /**
   * Stops receiving: closes the doorbell listener (waking a pending cross-thread wait, dropping
   * what kept the thread alive); later rings are dropped and counted in
   * {@link MailboxChannel.ignored}. Idempotent.
   */
  stopRx(): void;
  /**
   * Releases the channel (Linux `mbox_free_channel`): stops RX, drops the active and queued
   * messages, cancels TX-done polling. A channel serves one client for its whole life: it cannot
   * be requested again. Idempotent.
   */
  free(): void;
}

/** Channel use of a {@link MailboxController}. */
export interface MailboxControllerStats {
  /** Channels requested so far. */
  readonly requested: number;
  /** Channels freed so far. */
  readonly freed: number;
  /** Channels requested and not yet freed. */
  readonly inUse: number;
}

/**
 * A mailbox controller (Linux `struct mbox_controller`): owns numbered channels, each a doorbell
 * between this side (the agent) and the remote (the platform's end, see
 * {@link MailboxRemoteEnd}). Implementations: {@link SameThreadMailboxController} (rings are
 * tasks on the injected clock) and {@link SharedMailboxController} (across threads over a
 * `SharedArrayBuffer`).
 *
 * @example
 * ```ts
 * const controller = new SameThreadMailboxController(clock, { channels: 2 });
 * const chan = controller.requestChannel(0, { rxCallback: () => onReply() });
 * chan.send();
 * chan.free();
 * ```
 */
export interface MailboxController {
  /** A name for errors and logs. */
  readonly name: string;
  /** Number of channels. */
  readonly channelCount: number;
  /**
   * How the controller itself detects TX completion (on a `poll` controller, clients that know
   * use `ack`; an `irq` controller's channels all stay `irq`).
   */
  readonly txDoneMethod: 'irq' | 'poll';
  /** Channel use so far. */
  readonly stats: MailboxControllerStats;
  /**
   * Binds channel `index` to `client` (Linux `mbox_request_channel`) and starts delivering the
   * remote's rings to `client.rxCallback`.
   *
   * @throws ScmiTransportError `E_MBOX_INDEX` for an index out of range, `E_MBOX_BUSY` when the
   * channel is held by another client, `E_MBOX_FREED` when it was freed already,
   * `E_MBOX_REMOTE_GONE` when the controller knows the remote end is gone.
   */
  requestChannel(index: number, client: MailboxClient): MailboxChannel;
}

/**
 * The remote (platform) end of one mailbox channel: it listens to the agent's rings and rings
 * back (a completion, a notification). Like {@link @scmi-ts/core!Doorbell}, rings coalesce.
 *
 * @example
 * ```ts
 * const remote = sameThreadController.remote(0); // across threads: new SharedMailboxRemote(region, 0)
 * remote.listen(() => {
 *   processRequest();
 *   remote.ring();
 * });
 * ```
 */
export interface MailboxRemoteEnd {
  /**
   * Calls `onRing` for the agent's rings (coalesced), never synchronously inside the agent's
   * `send`. Only one listener.
   *
   * @throws ScmiTransportError `E_DOORBELL_LISTENING` / `E_DOORBELL_CLOSED` as a doorbell does.
   */
  listen(onRing: () => void): void;
  /** Rings the agent's side of the channel. A no-op once this end is closed. */
  ring(): void;
  /** Stops listening and releases what kept the thread alive. Idempotent. */
  close(): void;
  /** True once {@link MailboxRemoteEnd.close} ran. */
  readonly closed: boolean;
}

/**
 * The channels of a controller as clients hold them — each idle, held (by which client) or
 * freed — the counts {@link MailboxController.stats} reports, and whether the remote end is gone.
 * Shared by both controllers, so that they refuse alike and tell their clients alike.
 *
 * @internal
 */
export class MailboxChannelTable {
  readonly #name: string;
  readonly #states: ('idle' | 'held' | 'freed')[];
  readonly #clients: (MailboxClient | undefined)[];
  #requested = 0;
  #freed = 0;
  #remoteGone = false;

  public constructor(name: string, channels: number) {
    this.#name = name;
    this.#states = new Array<'idle' | 'held' | 'freed'>(channels).fill('idle');
    this.#clients = new Array<MailboxClient | undefined>(channels).fill(undefined);
  }

  /** See {@link MailboxController.stats}. */
  public get stats(): MailboxControllerStats {
    return {
      requested: this.#requested,
      freed: this.#freed,
      inUse: this.#requested - this.#freed,
    };
  }

  /** True once {@link MailboxChannelTable.markRemoteGone} ran. */
  public get remoteGone(): boolean {
    return this.#remoteGone;
  }

  /**
   * Marks channel `index` held by `client` (its index checked by the caller) and returns what
   * marks it freed.
   *
   * @throws ScmiTransportError `E_MBOX_BUSY` when it is held, `E_MBOX_FREED` when it was freed (a
   * channel serves one client for its whole life), `E_MBOX_REMOTE_GONE` once the remote is gone.
   */
  public hold(index: number, client: MailboxClient): () => void {
    const state = this.#states[index];
    if (state !== 'idle') {
      throw new ScmiTransportError(
        state === 'held' ? 'E_MBOX_BUSY' : 'E_MBOX_FREED',
        state === 'held'
          ? `${this.#name}: mailbox channel ${index} was requested already (a channel serves one client)`
          : `${this.#name}: mailbox channel ${index} was freed`,
      );
    }
    if (this.#remoteGone) {
      throw new ScmiTransportError(
        'E_MBOX_REMOTE_GONE',
        `${this.#name}: the remote end of mailbox channel ${index} is gone`,
      );
    }
    this.#states[index] = 'held';
    this.#clients[index] = client;
    this.#requested++;
    return () => {
      this.#states[index] = 'freed';
      this.#clients[index] = undefined;
      this.#freed++;
    };
  }

  /**
   * Tells the client of every held channel that the remote end is gone (`remoteGone`), once per
   * channel (a client holding two channels hears it twice), and refuses later requests. A client that throws does not keep the others from hearing it: its
   * error is rethrown apart, on a microtask. Idempotent.
   */
  public markRemoteGone(): void {
    if (this.#remoteGone) return;
    this.#remoteGone = true;
    for (let index = 0; index < this.#clients.length; index++) {
      const client = this.#clients[index];
      if (client === undefined) continue;
      try {
        client.remoteGone?.();
      } catch (error: unknown) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
