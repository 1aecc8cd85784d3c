import {
  ScmiTransportError,
  createSameThreadDoorbellPair,
  type Clock,
  type DoorbellInterceptor,
  type SameThreadDoorbell,
} from '@scmi-ts/core';
import {
  MAX_MAILBOX_CHANNELS,
  MailboxChannelTable,
  controllerTxDoneMethod,
  type MailboxChannel,
  type MailboxClient,
  type MailboxController,
  type MailboxControllerStats,
  type MailboxRemoteEnd,
} from './mailbox-controller.js';
import { MailboxLineChannel, type MailboxLine } from './mailbox-line.js';

/** Options of a {@link SameThreadMailboxController}. */
export interface SameThreadMailboxControllerOptions {
  /** Number of channels, 1 … 1024. */
  readonly channels: number;
  /**
   * How the controller detects TX completion: `irq` (default; every channel completes on the
   * TX-done interrupt, a client that knows too, as Linux's `mbox_request_channel` binds it) or
   * `poll` (a client that knows, as SCMI's A2P channels, then uses `ack`); anything else is
   * refused.
   */
  readonly txDoneMethod?: 'irq' | 'poll';
  /** Period of TX-done polling, ms (default 1; Linux `txpoll_period`). */
  readonly txPollPeriodMs?: number;
  /** A name for errors (default `mbox`). */
  readonly name?: string;
}

/** One channel's doorbells: request/answer, and the TX-done interrupt line. */
class SameThreadLine implements MailboxLine {
  readonly agentBell: SameThreadDoorbell;
  readonly remoteBell: SameThreadDoorbell;
  readonly agentTx: SameThreadDoorbell;
  readonly remoteTx: SameThreadDoorbell;
  sent = 0;
  consumedSeq = 0;
  heldIgnored = 0;
  /** Rings of the remote toward the agent while it listened, and how many were delivered. */
  rung = 0;
  rungDelivered = 0;
  onIgnored: () => void = () => undefined;

  constructor(clock: Clock, route: (toward: 'agent' | 'remote', deliver: () => void) => void) {
    [this.agentBell, this.remoteBell] = createSameThreadDoorbellPair(clock);
    [this.agentTx, this.remoteTx] = createSameThreadDoorbellPair(clock);
    // Every delivery toward the agent goes through the controller, so that a test can hold it and
    // so that a delivery that lands after the agent stopped listening is counted, not lost.
    this.agentBell.setInterceptor((deliver) => {
      let used = false;
      route('agent', () => {
        if (used) return;
        used = true;
        if (this.agentBell.closed) {
          this.heldIgnored++;
          this.onIgnored();
        } else deliver();
      });
    });
    this.agentTx.setInterceptor((deliver) => {
      route('agent', deliver);
    });
    this.remoteBell.setInterceptor((deliver) => {
      route('remote', deliver);
    });
  }

  ring(): number {
    this.sent = (this.sent + 1) | 0;
    this.agentBell.ring();
    return this.sent;
  }

  listen(onRing: (rings: number) => void, onIgnored: () => void): void {
    this.onIgnored = onIgnored;
    this.agentBell.listen(() => {
      // The rings this delivery stands for (they coalesce while one is pending).
      const rings = (this.rung - this.rungDelivered) | 0;
      this.rungDelivered = this.rung;
      onRing(Math.max(1, rings));
    });
  }

  close(): void {
    this.agentBell.close();
    this.agentTx.close();
  }

  ignored(): number {
    return this.agentBell.ignored + this.heldIgnored;
  }

  consumed(): number {
    return this.consumedSeq;
  }

  listenTxDone(onTxIrq: () => void): void {
    this.agentTx.listen(onTxIrq);
  }
}

class SameThreadRemote implements MailboxRemoteEnd {
  readonly #line: SameThreadLine;
  readonly #irq: boolean;

  constructor(line: SameThreadLine, irq: boolean) {
    this.#line = line;
    this.#irq = irq;
  }

  get closed(): boolean {
    return this.#line.remoteBell.closed;
  }

  listen(onRing: () => void): void {
    const line = this.#line;
    line.remoteBell.listen(() => {
      line.consumedSeq = line.sent;
      if (this.#irq) line.remoteTx.ring();
      onRing();
    });
  }

  ring(): void {
    const line = this.#line;
    if (line.remoteBell.closed) return;
    if (line.agentBell.closed) line.onIgnored();
    else line.rung = (line.rung + 1) | 0;
    line.remoteBell.ring();
  }

  close(): void {
    this.#line.remoteBell.close();
    this.#line.remoteTx.close();
  }
}

/**
 * A mailbox controller whose both ends live on one thread: each channel is a pair of core
 * same-thread doorbells, so every ring — toward the remote, toward the agent, TX-done interrupts
 * — is a task on the injected clock. On a `VirtualClock` a test decides when each lands, and with
 * {@link SameThreadMailboxController.setInterceptor} it can hold any ring and deliver it at the
 * moment it chooses (a reply that arrives during teardown).
 *
 * A ring toward a channel whose RX was stopped is dropped and counted, including a ring that was
 * already scheduled or held when RX stopped (the client's `rxIgnored` is called for each).
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const controller = new SameThreadMailboxController(clock, { channels: 1 });
 * controller.remote(0).listen(() => controller.remote(0).ring()); // an echoing platform
 * const chan = controller.requestChannel(0, { knowsTxDone: true, rxCallback: () => console.log('answer') });
 * chan.send();
 * await clock.runTasks(); // logs "answer"
 * chan.free();
 * ```
 */
export class SameThreadMailboxController implements MailboxController {
  public readonly name: string;
  public readonly channelCount: number;
  public readonly txDoneMethod: 'irq' | 'poll';
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #lines: SameThreadLine[] = [];
  readonly #remotes: SameThreadRemote[] = [];
  readonly #table: MailboxChannelTable;
  #agentInterceptor: DoorbellInterceptor | undefined;
  #remoteInterceptor: DoorbellInterceptor | undefined;

  /**
   * Creates the controller and its channels.
   *
   * @throws RangeError when `channels` is not an integer in 1..1024 or the poll period not
   * positive.
   * @throws ScmiConfigError naming `txDoneMethod` when it is neither `irq` nor `poll` (nor absent).
   */
  public constructor(clock: Clock, options: SameThreadMailboxControllerOptions) {
    const { channels } = options;
    if (!Number.isInteger(channels) || channels < 1 || channels > MAX_MAILBOX_CHANNELS) {
      throw new RangeError(
        `channels must be an integer in 1..${MAX_MAILBOX_CHANNELS}, got ${String(channels)}`,
      );
    }
    const txDoneMethod = controllerTxDoneMethod(options.txDoneMethod);
    const pollMs = options.txPollPeriodMs ?? 1;
    if (!(pollMs > 0)) throw new RangeError(`txPollPeriodMs must be positive, got ${pollMs}`);
    this.name = options.name ?? 'mbox';
    this.channelCount = channels;
    this.txDoneMethod = txDoneMethod;
    this.#clock = clock;
    this.#pollMs = pollMs;
    this.#table = new MailboxChannelTable(this.name, channels);
    const route = (toward: 'agent' | 'remote', deliver: () => void): void => {
      const hold = toward === 'agent' ? this.#agentInterceptor : this.#remoteInterceptor;
      if (hold === undefined) clock.schedule(deliver);
      else hold(deliver);
    };
    for (let i = 0; i < channels; i++) {
      const line = new SameThreadLine(clock, route);
      this.#lines.push(line);
      this.#remotes.push(new SameThreadRemote(line, this.txDoneMethod === 'irq'));
    }
  }

  public get stats(): MailboxControllerStats {
    return this.#table.stats;
  }

  /** True once {@link SameThreadMailboxController.markRemoteGone} ran. */
  public get remoteGone(): boolean {
    return this.#table.remoteGone;
  }

  /**
   * Simulates the remote (platform) end gone for good, as a platform thread that crashed: the
   * client of every channel held now is told at once (`remoteGone`), and later requests are
   * refused with `E_MBOX_REMOTE_GONE`. The remote ends themselves are left as they are (a test
   * that wants no more rings from them stops ringing). Idempotent.
   *
   * @example
   * ```ts
   * controller.markRemoteGone(); // the SMT channels fail what they carry with E_MBOX_REMOTE_GONE
   * ```
   */
  public markRemoteGone(): void {
    this.#table.markRemoteGone();
  }

  public requestChannel(index: number, client: MailboxClient): MailboxChannel {
    const line = this.#lines[index];
    if (!Number.isInteger(index) || line === undefined) {
      throw new ScmiTransportError(
        'E_MBOX_INDEX',
        `${this.name}: no mailbox channel ${String(index)} (0..${this.channelCount - 1})`,
      );
    }
    const freed = this.#table.hold(index, client);
    return new MailboxLineChannel(
      index,
      client,
      line,
      this.txDoneMethod,
      this.#clock,
      this.#pollMs,
      freed,
    );
  }

  /**
   * The remote (platform) end of channel `index`.
   *
   * @throws ScmiTransportError `E_MBOX_INDEX` for an index out of range.
   */
  public remote(index: number): MailboxRemoteEnd {
    const remote = this.#remotes[index];
    if (remote === undefined) {
      throw new ScmiTransportError(
        'E_MBOX_INDEX',
        `${this.name}: no mailbox channel ${String(index)}`,
      );
    }
    return remote;
  }

  /**
   * Hands every future ring toward the agent (`'agent'`: answers, notifications, TX-done
   * interrupts) or toward the remote (`'remote'`: requests, acknowledgements) to `interceptor`
   * instead of scheduling it on the clock; `undefined` restores the clock. A held delivery runs
   * at most once; one that runs after the agent stopped listening is dropped and counted.
   *
   * @example
   * ```ts
   * const held: (() => void)[] = [];
   * controller.setInterceptor('agent', (deliver) => held.push(deliver));
   * ```
   */
  public setInterceptor(
    toward: 'agent' | 'remote',
    interceptor: DoorbellInterceptor | undefined,
  ): void {
    if (toward === 'agent') this.#agentInterceptor = interceptor;
    else this.#remoteInterceptor = interceptor;
  }
}
