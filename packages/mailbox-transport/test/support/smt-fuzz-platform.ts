import { buildHeader, headerToken, readU32, type Clock, type TimerHandle } from '@scmi-ts/core';
import type { ScmiPlatform } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SMT_HEADER_OFFSET,
  SMT_PAYLOAD_OFFSET,
  type MailboxRemoteEnd,
  type SmtArea,
  type SmtPlatformEnd,
} from '@scmi-ts/mailbox-transport';
import type { FuzzProbe } from './smt-fuzz-wire.js';

/** What a hostile step did (counted for the campaign's summary). */
export type HostileAction =
  | 'answer'
  | 'answer-length'
  | 'answer-header'
  | 'answer-garbage'
  | 'answer-late'
  | 'answer-unsolicited'
  | 'status-bits'
  | 'ring-a2p'
  | 'ring-p2a'
  | 'post-p2a'
  | 'random-bytes'
  | 'nothing';

/** The actions of a hostile step and their weights. */
const ACTIONS: readonly (readonly [HostileAction, number])[] = [
  ['answer', 30],
  ['answer-length', 10],
  ['answer-header', 10],
  ['answer-garbage', 6],
  ['answer-late', 6],
  ['answer-unsolicited', 4],
  ['status-bits', 6],
  ['ring-a2p', 6],
  ['ring-p2a', 4],
  ['post-p2a', 12],
  ['random-bytes', 6],
  ['nothing', 10],
];
const WEIGHTS = ACTIONS.reduce((n, [, w]) => n + w, 0);

/** A small seeded toolbox over a `[0, 1)` generator. */
export class Dice {
  readonly #next: () => number;

  public constructor(next: () => number) {
    this.#next = next;
  }

  /** A number in `[0, 1)`. */
  public real(): number {
    return this.#next();
  }

  /** An integer in `[0, n)`. */
  public int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  /** True with probability `p`. */
  public chance(p: number): boolean {
    return this.#next() < p;
  }

  /** One of `items`. */
  public pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** A 32-bit word. */
  public u32(): number {
    return (this.int(0x10000) * 0x10000 + this.int(0x10000)) >>> 0;
  }
}

/** The command the platform took from the A2P area, and what it answers. */
interface Held {
  readonly header: number;
  readonly response: Uint8Array | undefined;
}

/**
 * The platform end of a fuzz case over a same-thread mailbox wire (A2P 0, P2A 0): a real
 * {@link ScmiPlatform} computes the answers, and this end writes them into the SMT area — properly
 * (the whole response, CHANNEL_FREE, the doorbell when INTR_ENABLED asks for it) while `hostile` is
 * false, and as a hostile firmware would while it is true: {@link FuzzPlatform.step} then does one
 * random {@link HostileAction}.
 */
export class FuzzPlatform {
  /** Answer each command at once, properly (probe and calm phases). */
  public hostile = false;
  /** How many times each hostile action ran. */
  public readonly actions = new Map<HostileAction, number>();
  /** Commands the platform read from the A2P area. */
  public commands = 0;
  /** Acknowledgements the agent rang on P2A. */
  public acks = 0;
  readonly #clock: Clock;
  readonly #platform: ScmiPlatform;
  readonly #dice: Dice;
  readonly #a2p: SmtArea;
  readonly #p2a: SmtArea;
  readonly #a2pReply: MailboxRemoteEnd;
  readonly #p2aPost: MailboxRemoteEnd;
  /** Every mailbox channel toward the agent (a spurious ring picks one). */
  readonly #towardAgent: MailboxRemoteEnd[];
  readonly #timers = new Set<TimerHandle>();
  #held: Held | undefined;
  /** The last command header the platform saw (a delayed response may name its token). */
  #lastHeader = 0;

  public constructor(
    clock: Clock,
    platform: ScmiPlatform,
    end: SmtPlatformEnd,
    probe: FuzzProbe,
    dice: Dice,
  ) {
    this.#clock = clock;
    this.#platform = platform;
    this.#dice = dice;
    this.#a2p = probe.a2p.area;
    this.#p2a = probe.p2a.area;
    const a2p = end.layout.channels.find((c) => c.direction === 'a2p' && c.id === 0);
    const p2a = end.layout.channels.find((c) => c.direction === 'p2a' && c.id === 0);
    if (a2p === undefined || p2a === undefined) throw new Error('a2p:0 and p2a:0 expected');
    const command = end.remote(a2p.mailbox);
    command.listen(() => {
      this.#onCommand();
    });
    this.#a2pReply = a2p.replyMailbox === undefined ? command : end.remote(a2p.replyMailbox);
    this.#p2aPost = end.remote(p2a.mailbox);
    // The agent acknowledges on rx_reply (4 mboxes), on the bidirectional channel, or nowhere.
    this.#p2aPost.listen(() => {
      this.acks++;
    });
    const ack = typeof p2a.ackMailbox === 'number' ? end.remote(p2a.ackMailbox) : undefined;
    ack?.listen(() => {
      this.acks++;
    });
    this.#towardAgent = [this.#a2pReply, this.#p2aPost, ...(ack === undefined ? [] : [ack])];
  }

  /**
   * Ends the hostile phase as a platform that recovers would: no late answer left to come, the
   * command it holds answered properly, an area it kept busy for nothing given back, a P2A post
   * never rung withdrawn; from then on every command is answered at once.
   */
  public calm(): void {
    this.hostile = false;
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
    if (this.#held !== undefined) this.#answer(this.#held, 'proper');
    else if (!this.#a2p.isFree()) this.#a2p.setStatus(SMT_CHANNEL_FREE);
    if (!this.#p2a.isFree()) this.#p2a.setStatus(SMT_CHANNEL_FREE);
  }

  /** One hostile step: a random action. */
  public step(): HostileAction {
    let roll = this.#dice.int(WEIGHTS);
    let action: HostileAction = 'nothing';
    for (const [a, w] of ACTIONS) {
      if (roll < w) {
        action = a;
        break;
      }
      roll -= w;
    }
    this.#do(action);
    this.actions.set(action, (this.actions.get(action) ?? 0) + 1);
    return action;
  }

  #do(action: HostileAction): void {
    const d = this.#dice;
    const held = this.#held;
    switch (action) {
      case 'answer':
      case 'answer-length':
      case 'answer-header':
      case 'answer-garbage':
        if (held !== undefined) {
          this.#answer(held, action === 'answer' ? 'proper' : action.slice(7));
          // A duplicate answer now and then: the command stays held.
          if (d.chance(0.9)) this.#held = undefined;
        }
        return;
      case 'answer-late': {
        if (held === undefined) return;
        this.#held = undefined;
        // Slow, mostly after the command timed out (the agent's RX timeout is 10 to 30 ms).
        const timer = this.#clock.setTimeout(
          () => {
            this.#timers.delete(timer);
            this.#answer(held, d.chance(0.7) ? 'proper' : 'header');
          },
          25 + d.int(40),
        );
        this.#timers.add(timer);
        return;
      }
      case 'answer-unsolicited':
        this.#answer({ header: d.u32(), response: undefined }, d.pick(['proper', 'header']));
        return;
      case 'status-bits': {
        const area = d.chance(0.7) ? this.#a2p : this.#p2a;
        const statuses = [
          0,
          SMT_CHANNEL_FREE,
          SMT_CHANNEL_ERROR,
          SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR,
        ];
        area.setStatus(d.chance(0.9) ? d.pick(statuses) : d.u32());
        return;
      }
      case 'ring-a2p':
        this.#a2pReply.ring();
        return;
      case 'ring-p2a':
        d.pick(this.#towardAgent).ring();
        return;
      case 'post-p2a':
        this.#post();
        return;
      case 'random-bytes': {
        const area = d.chance(0.6) ? this.#a2p : this.#p2a;
        const at = d.int(area.size);
        const n = Math.min(area.size - at, 1 + d.int(12));
        for (let i = 0; i < n; i++) area.bytes[at + i] = d.int(256);
        return;
      }
      case 'nothing':
        return;
    }
  }

  /** The agent rang A2P: take the command when the area is the platform's. */
  #onCommand(): void {
    const area = this.#a2p;
    if (area.isFree()) return; // nothing to take (the agent never rings so)
    const length = Math.min(area.length(), area.maxLength);
    const request = area.bytes.slice(SMT_HEADER_OFFSET, SMT_HEADER_OFFSET + length);
    if (request.byteLength < 4) return;
    this.commands++;
    const header = readU32(request, 0);
    this.#lastHeader = header;
    const held: Held = { header, response: this.#platform.handle(1, 0, request) };
    if (this.hostile) this.#held = held;
    else this.#answer(held, 'proper');
  }

  /**
   * Writes an answer to `held` into the A2P area: `proper` (the platform's response), or with a
   * hostile `length` field, a wrong `header`, or `garbage` status and payload; then CHANNEL_FREE
   * (now and then CHANNEL_ERROR with it, or alone) and the doorbell (as INTR_ENABLED asks, or not).
   */
  #answer(held: Held, how: string): void {
    const d = this.#dice;
    const area = this.#a2p;
    const proper = how === 'proper' || !this.hostile;
    let response = held.response;
    if (response === undefined) {
      response = new Uint8Array(8); // header + SUCCESS
      new DataView(response.buffer).setUint32(0, held.header, true);
    }
    const n = Math.min(response.byteLength, area.maxLength);
    area.bytes.set(response.subarray(0, n), SMT_HEADER_OFFSET);
    area.setLength(n);
    if (how === 'length') area.setLength(this.#length(area, n, 8));
    if (how === 'header') area.setHeader(this.#wrongHeader(held.header));
    if (how === 'garbage') {
      const length = 8 + d.int(area.maxLength - 7);
      for (let i = SMT_PAYLOAD_OFFSET; i < SMT_HEADER_OFFSET + length; i++) {
        area.bytes[i] = d.int(256);
      }
      area.setLength(length);
    }
    let status = SMT_CHANNEL_FREE;
    if (!proper && d.chance(0.15)) {
      status = d.pick([SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR, SMT_CHANNEL_ERROR]);
    }
    area.setStatus(status);
    const asked = (area.flags() & SMT_FLAG_INTR_ENABLED) !== 0;
    const ring = proper ? asked : d.chance(0.1) ? !asked : asked;
    if (ring) this.#a2pReply.ring();
  }

  /** A hostile length field: 0, short, exact, the area's, past it, huge. */
  #length(area: SmtArea, exact: number, short: number): number {
    const d = this.#dice;
    switch (d.int(8)) {
      case 0:
        return 0;
      case 1:
        return d.int(short);
      case 2:
        return exact;
      case 3:
        return area.maxLength;
      case 4:
        return area.maxLength + 1 + d.int(64);
      case 5:
        return area.size * 4;
      case 6:
        return 0xffffffff;
      default:
        return d.u32();
    }
  }

  /** `header` with another token, protocol, message id or type, or reserved bits set. */
  #wrongHeader(header: number): number {
    const d = this.#dice;
    const id = header & 0xff;
    const type = (header >>> 8) & 0x3;
    const protocol = (header >>> 10) & 0xff;
    const token = headerToken(header);
    switch (d.int(6)) {
      case 0:
        // Often the token of a transfer still queued behind the channel lock (predictable).
        return buildHeader(
          id,
          type,
          protocol,
          (token + 1 + d.int(d.chance(0.5) ? 3 : 1023)) % 1024,
        );
      case 1:
        return buildHeader(id, type, (protocol + 1 + d.int(255)) % 256, token);
      case 2:
        return buildHeader((id + 1 + d.int(255)) % 256, type, protocol, token);
      case 3:
        return buildHeader(id, 1 + d.int(3), protocol, token);
      case 4:
        return (header | ((1 + d.int(15)) << 28)) >>> 0;
      default:
        return d.u32();
    }
  }

  /**
   * A P2A message: a notification (of the event the agent subscribed to, or of none), a delayed
   * response (to the last command's token, or another), a command or a random word, with a random
   * length and payload, posted (CHANNEL_FREE cleared, usually) and rung (usually).
   */
  #post(): void {
    const d = this.#dice;
    const area = this.#p2a;
    const last = this.#lastHeader;
    const headers = [
      buildHeader(0x1, 3, 0x13, d.int(1024)),
      buildHeader(d.int(256), 3, d.int(256), d.int(1024)),
      buildHeader(last & 0xff, 2, (last >>> 10) & 0xff, headerToken(last)),
      buildHeader(d.int(256), 2, d.int(256), d.int(1024)),
      buildHeader(d.int(256), 0, d.int(256), d.int(1024)),
      d.u32(),
    ];
    area.setHeader(d.pick(headers));
    for (let i = SMT_PAYLOAD_OFFSET; i < area.size; i++) area.bytes[i] = d.int(256);
    area.setLength(d.chance(0.5) ? 4 + d.int(area.maxPayload + 1) : this.#length(area, 16, 4));
    area.setFlags(d.chance(0.5) ? SMT_FLAG_INTR_ENABLED : 0);
    if (d.chance(0.85)) area.setStatus(0);
    if (d.chance(0.9)) this.#p2aPost.ring();
  }
}
