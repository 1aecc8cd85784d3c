import {
  ScmiError,
  ScmiStatus,
  buildHeader,
  headerToken,
  isCommandHeader,
  readU32,
  sameCommandHeader,
  type Clock,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
  type TimerHandle,
} from '@scmi-ts/core';
import type { ScmiPlatform } from '@scmi-ts/platform';
import { thrownText } from '../../../core/test/support/fuzz.js';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SMT_HEADER_OFFSET,
  SmtArea,
  type MailboxChannel,
  type MailboxController,
  type MailboxRemoteEnd,
  type SmtChannelSpec,
  type SmtPlatformEnd,
  type SmtResponderCounters,
  type SmtWireLayout,
} from '@scmi-ts/mailbox-transport';
import type { Dice } from './smt-fuzz-platform.js';

/**
 * The instruments of the responder fuzz (`responder-fuzz.test.ts`): a hostile agent end that
 * writes the SMT areas and rings the mailbox channels itself, as a hand-written (or buggy) OS
 * driver would, and an oracle around every door through which `SmtResponder` can act —
 *
 * - the doorbells it listens to and rings (`platformEnd.remote`, wrapped),
 * - the platform port it calls and the link the platform calls back (`handle`, `connect`,
 *   `link.respond`, `link.post`, wrapped),
 * - the clock of its timers (the 3-mbox CHANNEL_FREE poll, wrapped) —
 *
 * so that every byte of the shared memory that changes is attributed: to the hostile agent (its
 * steps and doorbell callbacks), or to the responder inside one of those doors. The areas sit in
 * one `SharedArrayBuffer` with random canary bytes around and between them. At each door the
 * oracle predicts, from the area as it is when the door opens and a model of what the responder
 * holds (a command pending per A2P channel, the P2A queue), what the responder must do — exactly:
 * the counter that moves, the bytes it writes (and nothing else, nowhere else), whether it rings,
 * what it hands the platform — and records every difference in {@link ResponderOracle.problems}.
 */

/** Bytes of random canary around and between the SMT areas. */
const GAP = 16;

/** A2P channel model: what the responder holds. */
interface A2pModel {
  readonly spec: SmtChannelSpec;
  readonly area: SmtArea;
  /** A command was handed to the platform and not answered yet. */
  awaiting: boolean;
  /** Its header. */
  header: number;
  /** The proper command of the hostile agent the platform is processing, if it is one. */
  proper: ProperCommand | undefined;
}

/** P2A channel model. */
interface P2aModel {
  readonly spec: SmtChannelSpec;
  readonly area: SmtArea;
  /** The agent can ring an acknowledgement (not a 3-mbox node). */
  readonly ack: boolean;
  /** Posts accepted and not written yet, oldest first. */
  readonly queue: Uint8Array[];
}

/** What a door of the responder is. */
type DoorKind = 'a2p-ring' | 'respond' | 'post' | 'p2a-ack' | 'timer';

interface Door {
  readonly kind: DoorKind;
  readonly label: string;
  /** Byte offsets of the memory the responder may change through this door. */
  readonly allowed: (offset: number) => boolean;
  /** Mailbox channels the responder rang (toward the agent) through this door. */
  readonly rings: number[];
  /** Requests it handed to the platform. */
  readonly handed: { request: Uint8Array; response: Uint8Array | undefined }[];
}

/** A command the hostile agent wrote properly (the area was free) and rang for. */
export interface ProperCommand {
  readonly channelId: number;
  readonly header: number;
  /** Header and payload as written. */
  readonly bytes: Uint8Array;
  readonly writtenAt: number;
  /** Where it went: `rung` until the responder's doorbell callback first looks at the area. */
  state: 'rung' | 'read' | 'answered' | 'destroyed';
  /** Why it was destroyed (a hostile action in between), or how it was answered. */
  reason: string;
  readAt: number;
  /** When the responder wrote its response. */
  answeredAt: number;
  /** Its mailbox send was refused (the agent's mailbox queue was full): maybe never rung. */
  sendRefused: boolean;
}

/** The proper commands of the campaign, by what became of them. */
export function properOutcome(c: ProperCommand): string {
  return c.state === 'destroyed' ? `destroyed (${c.reason})` : c.state;
}

/**
 * A layout like `inner` (same channels, same mailbox indexes), its areas moved apart in a larger
 * memory with `GAP` random canary bytes before, between and after them; every area CHANNEL_FREE.
 */
export function guardedLayout(inner: SmtWireLayout, dice: Dice): SmtWireLayout {
  const stride = inner.areaSize + GAP;
  const memory = new SharedArrayBuffer(GAP + inner.channels.length * stride);
  const bytes = new Uint8Array(memory);
  for (let i = 0; i < bytes.length; i++) bytes[i] = dice.int(256);
  const channels = inner.channels.map((c, i) => ({ ...c, offset: GAP + i * stride }));
  for (const c of channels) {
    bytes.fill(0, c.offset, c.offset + inner.areaSize);
    new SmtArea(memory, c.offset, inner.areaSize).setStatus(SMT_CHANNEL_FREE);
  }
  return { memory, areaSize: inner.areaSize, channels };
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * A refused request as `SmtArea.refuse` gives it back (`expected` is a copy of the area): the
 * header kept, PROTOCOL_ERROR as the status word and length 8 when the area can hold them, then
 * CHANNEL_FREE | CHANNEL_ERROR.
 */
function refused(expected: Uint8Array, maxLength: number): void {
  const v = new DataView(expected.buffer);
  if (maxLength >= 8) {
    v.setInt32(0x1c, ScmiStatus.PROTOCOL_ERROR, true);
    v.setUint32(0x14, 8, true);
  }
  v.setUint32(4, SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR, true);
}

/** The responder's counters the oracle predicts (all of them). */
type Counters = { -readonly [K in keyof SmtResponderCounters]: number };

/**
 * The oracle: wraps what the responder is given (`end`, `port`, `clock`) and checks every door.
 * Build it, give the responder `oracle.end`, `oracle.port` and `oracle.clock`, then `attach` it.
 */
export class ResponderOracle {
  /** Broken rules, in words (empty on a correct run). */
  public readonly problems: string[] = [];
  /** Counters the oracle expects of the responder. */
  public readonly expected: Counters = {
    requests: 0,
    responses: 0,
    lateResponses: 0,
    strayResponsesDropped: 0,
    malformedRequests: 0,
    platformErrors: 0,
    responsesTooLarge: 0,
    ringsWhileFree: 0,
    ringsWhileBusy: 0,
    p2aPosted: 0,
    p2aRefused: 0,
    p2aQueued: 0,
  };
  /** Doors opened, by kind and outcome (for the summary). */
  public readonly doors = new Map<string, number>();
  /** Requests not commands the responder handed to the platform (it drops and counts them). */
  public handedNotCommands = 0;
  /** Commands handed to the platform. */
  public handedCommands = 0;
  /** `link.post` calls that returned true. */
  public postsAccepted = 0;
  /** The wrapped platform end, port and clock to give the responder. */
  public readonly end: SmtPlatformEnd;
  public readonly port: ScmiPlatformPort;
  public readonly clock: Clock;
  /** The link the platform holds (wrapped), once connected. */
  public link: PlatformAgentLink | undefined;
  readonly #layout: SmtWireLayout;
  readonly #mem: Uint8Array;
  readonly #baseline: Uint8Array;
  readonly #canary: Uint8Array;
  readonly #inArea: Int32Array;
  readonly #a2p = new Map<number, A2pModel>();
  readonly #p2a: P2aModel | undefined;
  readonly #depth: number;
  readonly #stack: Door[] = [];
  readonly #platform: ScmiPlatform;
  #counters: (() => SmtResponderCounters) | undefined;
  #armed: (() => number) | undefined;
  #closed = false;
  /** Proper commands of the agent, as `ProperCommand`s, looked up by channel. */
  #proper: (channelId: number) => ProperCommand | undefined = () => undefined;

  public constructor(
    layout: SmtWireLayout,
    remote: (index: number) => MailboxRemoteEnd,
    platform: ScmiPlatform,
    clock: Clock,
    depth: number,
  ) {
    this.#layout = layout;
    this.#platform = platform;
    this.#depth = depth;
    this.#mem = new Uint8Array(layout.memory);
    this.#baseline = this.#mem.slice();
    this.#canary = this.#mem.slice();
    this.#inArea = new Int32Array(this.#mem.length).fill(-1);
    layout.channels.forEach((spec, i) => {
      this.#inArea.fill(i, spec.offset, spec.offset + layout.areaSize);
      const area = new SmtArea(layout.memory, spec.offset, layout.areaSize);
      if (spec.direction === 'a2p') {
        this.#a2p.set(spec.id, { spec, area, awaiting: false, header: 0, proper: undefined });
      }
    });
    const p2aSpec = layout.channels.find((c) => c.direction === 'p2a');
    this.#p2a =
      p2aSpec === undefined
        ? undefined
        : {
            spec: p2aSpec,
            area: new SmtArea(layout.memory, p2aSpec.offset, layout.areaSize),
            ack: p2aSpec.ackMailbox !== 'none',
            queue: [],
          };
    this.end = { layout, remote: (index) => this.#remote(index, remote(index)) };
    this.port = {
      connect: (agentId, link) => this.#connect(agentId, link),
      handle: (agentId, channelId, request) => this.#handle(agentId, channelId, request),
    };
    this.clock = {
      now: () => clock.now(),
      schedule: (cb) => {
        clock.schedule(cb);
      },
      yield: () => clock.yield(),
      setTimeout: (cb, ms): TimerHandle =>
        clock.setTimeout(() => {
          this.#timer(cb, ms);
        }, ms),
    };
  }

  /** Starts checking the responder's counters and armed timers at every door. */
  public attach(
    counters: () => SmtResponderCounters,
    armedTimers: () => number,
    proper: (channelId: number) => ProperCommand | undefined,
  ): void {
    this.#counters = counters;
    this.#armed = armedTimers;
    this.#proper = proper;
    this.#checkCounters('after the constructor');
  }

  /** The responder was closed: its doors must stay shut; its queue is dropped. */
  public closed(): void {
    this.#closed = true;
    if (this.#p2a !== undefined) this.#p2a.queue.length = 0;
    this.#checkpoint(undefined);
    this.#checkCounters('after close');
  }

  /** The A2P area of channel `id`. */
  public a2pArea(id: number): SmtArea | undefined {
    return this.#a2p.get(id)?.area;
  }

  /** Whether the responder holds a command of A2P channel `id` (by the model). */
  public awaiting(id: number): boolean {
    return this.#a2p.get(id)?.awaiting === true;
  }

  /** Posts the responder still has to write (by the model). */
  public get queuedPosts(): number {
    return this.#p2a?.queue.length ?? 0;
  }

  /**
   * Runs a step of the hostile agent: nothing may have changed since the last door, the agent may
   * write any byte of any area (never the canaries).
   */
  public agent<T>(what: string, fn: () => T): T {
    this.#checkpoint(undefined, what);
    const out = fn();
    for (let i = 0; i < this.#mem.length; i++) {
      if (this.#inArea[i] === -1 && this.#mem[i] !== this.#canary[i]) {
        throw new Error(`the test's agent wrote a canary byte at ${i} (${what})`);
      }
    }
    this.#baseline.set(this.#mem);
    return out;
  }

  /** Final checks: nothing written since the last door, canaries intact, counters as predicted. */
  public finish(what: string): void {
    this.#checkpoint(undefined, what);
    this.#checkCounters(what);
  }

  // ---- doors --------------------------------------------------------------------------------

  #problem(what: string): void {
    if (this.problems.length < 50) this.problems.push(what);
  }

  #count(key: string): void {
    this.doors.set(key, (this.doors.get(key) ?? 0) + 1);
  }

  /** Where byte `i` of the memory is, in words. */
  #where(i: number): string {
    const a = this.#inArea[i] ?? -1;
    if (a === -1) return `canary byte ${i} (outside every area)`;
    const spec = this.#layout.channels[a] as SmtChannelSpec;
    return `${spec.direction}:${spec.id} +${hex(i - spec.offset)}`;
  }

  /**
   * Every byte that changed since the baseline belongs to `door` (its allowed set) — or, without
   * a door, nothing may have changed; then the baseline is the memory as it is.
   */
  #checkpoint(door: Door | undefined, what?: string): void {
    const mem = this.#mem;
    const base = this.#baseline;
    for (let i = 0; i < mem.length; i++) {
      if (mem[i] === base[i]) continue;
      if (door === undefined || !door.allowed(i)) {
        this.#problem(
          `${door === undefined ? `outside the responder's doors (${what ?? '?'})` : door.label}: byte ${this.#where(i)} changed ${hex(base[i] ?? 0)} → ${hex(mem[i] ?? 0)}${this.#inArea[i] === -1 ? ': written out of its area' : ''}`,
        );
      }
    }
    base.set(mem);
  }

  #open<T>(door: Door, fn: () => T): T | undefined {
    this.#checkpoint(this.#stack.at(-1), `before ${door.label}`);
    this.#stack.push(door);
    try {
      return fn();
    } catch (e) {
      this.#problem(`${door.label}: threw out of the responder: ${thrownText(e)}`);
      return undefined;
    } finally {
      this.#checkpoint(door);
      this.#stack.pop();
    }
  }

  #checkCounters(where: string): void {
    // Inside a door (a post while the platform handles a command), the enclosing door's counters
    // have moved already: checked when the outermost door closes.
    if (this.#stack.length > 0) return;
    const got = this.#counters?.();
    if (got === undefined) return;
    const exp = { ...this.expected, p2aQueued: this.#p2a?.queue.length ?? 0 };
    const diff = (Object.keys(exp) as (keyof Counters)[])
      .filter((k) => got[k] !== exp[k])
      .map((k) => `${k} ${got[k]} (expected ${exp[k]})`);
    if (diff.length > 0) this.#problem(`${where}: counters ${diff.join(', ')}`);
    // The only timer the responder arms here (no wire fault rule) is the 3-mbox CHANNEL_FREE poll,
    // armed exactly while posts wait.
    const p = this.#p2a;
    const armed = this.#armed?.() ?? 0;
    const want = !this.#closed && p !== undefined && !p.ack && p.queue.length > 0 ? 1 : 0;
    if (armed !== want) {
      this.#problem(`${where}: ${armed} responder timers armed, expected ${want}`);
    }
  }

  #remote(index: number, inner: MailboxRemoteEnd): MailboxRemoteEnd {
    const a2p = this.#layout.channels.find((c) => c.direction === 'a2p' && c.mailbox === index);
    return {
      get closed() {
        return inner.closed;
      },
      close: () => {
        inner.close();
      },
      ring: () => {
        const door = this.#stack.at(-1);
        if (door === undefined) this.#problem(`mailbox ${index} rung outside any door`);
        else door.rings.push(index);
        inner.ring();
      },
      listen: (onRing) => {
        inner.listen(
          a2p === undefined
            ? () => {
                this.#onAck(onRing);
              }
            : () => {
                this.#onA2pRing(a2p.id, onRing);
              },
        );
      },
    };
  }

  #areaDoor(kind: DoorKind, label: string, area: SmtArea, p2a: boolean): Door {
    const start = area.bytes.byteOffset;
    return {
      kind,
      label,
      rings: [],
      handed: [],
      allowed: (i) => {
        const o = i - start;
        if (o < 0 || o >= area.size) return false;
        // status, length, message; and flags on P2A (INTR_ENABLED asks for the acknowledgement).
        return (o >= 4 && o < 8) || (o >= 0x14 && o < area.size) || (p2a && o >= 0x10 && o < 0x14);
      },
    };
  }

  /** The agent rang A2P channel `id`: predict, run, check. */
  #onA2pRing(id: number, onRing: () => void): void {
    const m = this.#a2p.get(id) as A2pModel;
    const area = m.area;
    const before = area.bytes.slice();
    const status = area.status();
    const length = area.length();
    const flags = area.flags();
    const header = area.header();
    const outcome =
      (status & SMT_CHANNEL_FREE) !== 0
        ? 'free'
        : m.awaiting
          ? 'busy'
          : length < 4 || length > area.maxLength || (status & SMT_CHANNEL_ERROR) !== 0
            ? 'bad length or error bit'
            : isCommandHeader(header)
              ? 'command'
              : 'not a command';
    this.#count(`a2p ring: ${outcome}`);
    const read = this.#classifyProper(m, outcome);
    const door = this.#areaDoor('a2p-ring', `a2p:${id} doorbell (${outcome})`, area, false);
    this.#open(door, onRing);
    const rang = door.rings.filter((r) => r === (m.spec.replyMailbox ?? m.spec.mailbox)).length;
    const wrongRings = door.rings.filter(
      (r) => r !== (m.spec.replyMailbox ?? m.spec.mailbox) && r !== this.#p2a?.spec.mailbox,
    );
    if (wrongRings.length > 0)
      this.#problem(`${door.label}: rang mailbox ${wrongRings.join(', ')}`);
    const expected = before.slice();
    const asked = (flags & SMT_FLAG_INTR_ENABLED) !== 0;
    let ring = false;
    const e = this.expected;
    switch (outcome) {
      case 'free':
        e.ringsWhileFree++;
        break;
      case 'busy':
        e.ringsWhileBusy++;
        break;
      case 'bad length or error bit':
      case 'not a command':
        e.malformedRequests++;
        refused(expected, area.maxLength);
        ring = asked;
        break;
      case 'command': {
        e.requests++;
        const handed = door.handed[0];
        if (handed === undefined) break; // reported below
        m.proper = read;
        if (handed.response === undefined) {
          m.awaiting = true;
          m.header = header;
        } else {
          this.#answered(m, handed.response, expected);
          ring = asked;
        }
        break;
      }
    }
    // What it handed the platform: a command (or a header that is not one) exactly as the area
    // held it when its doorbell came — never a request of a bad length or with CHANNEL_ERROR.
    const wantHanded = outcome === 'command' || outcome === 'not a command' ? 1 : 0;
    if (door.handed.length !== wantHanded) {
      this.#problem(
        `${door.label}: handed ${door.handed.length} requests to the platform, expected ${wantHanded} (status ${hex(status)}, length ${length}, header ${hex(header)})`,
      );
    }
    this.#expectArea(door.label, area, expected);
    if (rang !== (ring ? 1 : 0)) {
      this.#problem(
        `${door.label}: rang the agent back ${rang} times, expected ${ring ? 1 : 0} (INTR_ENABLED ${asked})`,
      );
    }
    this.#checkCounters(door.label);
  }

  /** What the responder writes for a response `response` to the pending command of `m`. */
  #answered(m: A2pModel, response: Uint8Array, expected: Uint8Array): void {
    const area = m.area;
    const e = this.expected;
    e.responses++;
    let bytes = response;
    if (response.byteLength > area.maxLength) {
      e.responsesTooLarge++;
      bytes = new Uint8Array(8);
      bytes.set(response.subarray(0, 4));
      new DataView(bytes.buffer).setInt32(4, -10, true);
    }
    expected.set(bytes, SMT_HEADER_OFFSET);
    new DataView(expected.buffer).setUint32(0x14, bytes.byteLength, true);
    new DataView(expected.buffer).setUint32(4, SMT_CHANNEL_FREE, true);
    m.awaiting = false;
    const proper = m.proper;
    m.proper = undefined;
    if (proper?.state === 'read') {
      const echoed = readU32(bytes, 0);
      if (echoed !== proper.header || headerToken(echoed) !== headerToken(proper.header)) {
        this.#problem(
          `a2p:${m.spec.id}: proper command ${hex(proper.header)} answered with header ${hex(echoed)}`,
        );
      }
      proper.state = 'answered';
      proper.answeredAt = this.clock.now();
    }
  }

  /**
   * Decides what became of the agent's last proper command of `m` at this doorbell; returns it
   * when the platform is to read it now.
   */
  #classifyProper(m: A2pModel, outcome: string): ProperCommand | undefined {
    const c = this.#proper(m.spec.id);
    if (c?.state !== 'rung') return undefined;
    const area = m.area;
    const intact =
      area.length() === c.bytes.byteLength &&
      c.bytes.every((b, i) => area.bytes[SMT_HEADER_OFFSET + i] === b) &&
      (area.status() & ~SMT_CHANNEL_FREE) === 0;
    if (!intact) {
      c.state = 'destroyed';
      c.reason = 'the agent wrote over it before the platform read it';
    } else if (outcome === 'free') {
      c.state = 'destroyed';
      c.reason = 'the agent set CHANNEL_FREE before the platform read it';
    } else if (outcome === 'busy') {
      c.state = 'destroyed';
      c.reason = 'rung while the platform held an earlier command (the agent took the area back)';
    } else if (outcome === 'command') {
      c.state = 'read';
      c.readAt = this.clock.now();
      return c;
    } else {
      this.#problem(`a2p:${m.spec.id}: proper command ${hex(c.header)} seen as "${outcome}"`);
    }
    return undefined;
  }

  #expectArea(label: string, area: SmtArea, expected: Uint8Array): void {
    const got = area.bytes;
    for (let i = 0; i < expected.length; i++) {
      if (got[i] !== expected[i]) {
        this.#problem(
          `${label}: area byte +${hex(i)} is ${hex(got[i] ?? 0)}, expected ${hex(expected[i] ?? 0)} (length field ${area.length()}, area holds ${area.maxLength})`,
        );
        return;
      }
    }
  }

  #handle(agentId: number, channelId: number, request: Uint8Array): Uint8Array | undefined {
    const door = this.#stack.at(-1);
    const m = this.#a2p.get(channelId);
    if (door?.kind !== 'a2p-ring' || m === undefined) {
      this.#problem(`platform.handle called outside an A2P doorbell (channel ${channelId})`);
      return this.#platform.handle(agentId, channelId, request);
    }
    // Exactly what the area holds now (same thread: nothing wrote it since the copy), bounded.
    const area = m.area;
    const length = area.length();
    if (
      request.byteLength !== length ||
      length < 4 ||
      length > area.maxLength ||
      !request.every((b, i) => area.bytes[SMT_HEADER_OFFSET + i] === b)
    ) {
      this.#problem(
        `${door.label}: handed the platform ${request.byteLength} bytes that are not the area's message (length field ${length}, area holds ${area.maxLength})`,
      );
    }
    const before = this.#platform.counters;
    const response = this.#platform.handle(agentId, channelId, request);
    const after = this.#platform.counters;
    const command = request.byteLength >= 4 && isCommandHeader(readU32(request, 0));
    if (command) this.handedCommands++;
    else this.handedNotCommands++;
    const dropped = after.droppedRequests - before.droppedRequests;
    const requests = after.requests - before.requests;
    if (dropped !== (command ? 0 : 1) || requests !== (command ? 1 : 0)) {
      this.#problem(
        `${door.label}: the platform counted ${requests} requests and ${dropped} dropped for ${command ? 'a command' : 'a header that is not a command'}`,
      );
    }
    door.handed.push({ request: request.slice(), response: response?.slice() });
    return response;
  }

  #connect(agentId: number, link: PlatformAgentLink): PlatformConnection {
    const wrapped: PlatformAgentLink = {
      p2a: link.p2a,
      maxMsgSize: link.maxMsgSize,
      respond: (channelId, bytes, command) => {
        this.#respond(channelId, bytes, command, () => {
          link.respond(channelId, bytes, command);
        });
      },
      post: (message) => this.#post(message, () => link.post(message)),
    };
    this.link = wrapped;
    return this.#platform.connect(agentId, wrapped);
  }

  #respond(
    channelId: number,
    bytes: Uint8Array,
    command: number | undefined,
    inner: () => void,
  ): void {
    const m = this.#a2p.get(channelId);
    if (m === undefined) {
      this.#count('respond: no channel');
      const door = this.#doorWithoutArea('respond', `link.respond(${channelId})`);
      this.#open(door, inner);
      if (!this.#closed) this.expected.strayResponsesDropped++;
      this.#checkCounters(door.label);
      return;
    }
    const area = m.area;
    const before = area.bytes.slice();
    const flags = area.flags();
    const door = this.#areaDoor('respond', `a2p:${channelId} link.respond`, area, false);
    // The platform (ScmiPlatform) always names the command a late response answers.
    const answers =
      !this.#closed &&
      m.awaiting &&
      (command === undefined
        ? sameCommandHeader(readU32(bytes, 0), m.header)
        : sameCommandHeader(command, m.header));
    this.#count(`respond: ${this.#closed ? 'after close' : answers ? 'late response' : 'stray'}`);
    this.#open(door, inner);
    const expected = before.slice();
    if (answers) {
      this.expected.lateResponses++;
      this.#answered(m, bytes, expected);
    } else if (!this.#closed) {
      this.expected.strayResponsesDropped++;
    }
    this.#expectArea(door.label, area, expected);
    const rang = door.rings.length;
    const ring = answers && (flags & SMT_FLAG_INTR_ENABLED) !== 0;
    if (rang !== (ring ? 1 : 0)) {
      this.#problem(`${door.label}: rang ${rang} times, expected ${ring ? 1 : 0}`);
    }
    this.#checkCounters(door.label);
  }

  #doorWithoutArea(kind: DoorKind, label: string): Door {
    return { kind, label, rings: [], handed: [], allowed: () => false };
  }

  /**
   * `link.post`: written now, queued, or refused — as predicted. One that finds posts queued and
   * the area free (the agent freed it without ringing back) writes the queue's head first, and
   * queues itself.
   */
  #post(message: Uint8Array, inner: () => boolean): boolean {
    const p = this.#p2a;
    const before = p?.area.bytes.slice();
    const free = p?.area.isFree() === true;
    let predicted: 'refused' | 'now' | 'queued';
    let head: Uint8Array | undefined;
    if (this.#closed || p === undefined || message.byteLength > p.area.maxLength) {
      predicted = 'refused';
    } else {
      if (free) head = p.queue.shift();
      if (head === undefined && free) predicted = 'now';
      else if (p.queue.length >= this.#depth) predicted = 'refused';
      else predicted = 'queued';
    }
    this.#count(`post: ${predicted}${head === undefined ? '' : ' behind the queue’s head'}`);
    const door =
      p === undefined
        ? this.#doorWithoutArea('post', 'link.post')
        : this.#areaDoor('post', `p2a link.post (${predicted})`, p.area, true);
    const accepted = this.#open(door, inner) === true;
    if (accepted) this.postsAccepted++;
    if (accepted !== (predicted !== 'refused')) {
      this.#problem(`${door.label}: returned ${accepted}`);
    }
    if (predicted === 'refused') this.expected.p2aRefused++;
    if (predicted === 'queued' && p !== undefined) p.queue.push(message.slice());
    if (p !== undefined && before !== undefined) {
      this.#expectPost(door, p, before, free, predicted === 'now' ? message : head);
    }
    this.#checkCounters(door.label);
    return accepted;
  }

  /**
   * The agent rang its P2A acknowledgement (or the bidirectional P2A channel): the head of the
   * queue is written if the area is free.
   */
  #onAck(onRing: () => void): void {
    this.#drain('p2a-ack', 'p2a acknowledgement doorbell', onRing);
  }

  /** A responder timer: the 3-mbox CHANNEL_FREE poll (the only one without wire fault rules). */
  #timer(cb: () => void, ms: number): void {
    if (ms !== 1 || this.#p2a === undefined || this.#p2a.ack) {
      this.#problem(`a responder timer of ${ms} ms fired (only the 3-mbox 1 ms poll expected)`);
    }
    this.#drain('timer', 'p2a CHANNEL_FREE poll', cb);
  }

  #drain(kind: DoorKind, label: string, fn: () => void): void {
    const p = this.#p2a;
    if (p === undefined) {
      this.#problem(`${label} without a P2A channel`);
      fn();
      return;
    }
    const before = p.area.bytes.slice();
    const free = p.area.isFree();
    const next = !this.#closed && free ? p.queue.shift() : undefined;
    this.#count(`${label}: ${next === undefined ? 'nothing to post' : 'posts the next'}`);
    const door = this.#areaDoor(kind, label, p.area, true);
    this.#open(door, fn);
    this.#expectPost(door, p, before, free, next);
    this.#checkCounters(door.label);
  }

  /** Checks a door of the P2A area: `message` written (and rung) if given, else nothing. */
  #expectPost(
    door: Door,
    p: P2aModel,
    before: Uint8Array,
    free: boolean,
    message: Uint8Array | undefined,
  ): void {
    const area = p.area;
    const changed = area.bytes.some((b, i) => b !== before[i]);
    const rings = door.rings.filter((r) => r === p.spec.mailbox).length;
    if ((changed || rings > 0) && !free) {
      this.#problem(
        `${door.label}: posted into the P2A area while the agent had not acknowledged the last message (CHANNEL_FREE clear)`,
      );
    }
    if (message === undefined) {
      if (changed || rings > 0) {
        this.#problem(`${door.label}: posted (${rings} rings) when nothing was to be posted`);
      }
      return;
    }
    this.expected.p2aPosted++;
    const expected = before.slice();
    const v = new DataView(expected.buffer);
    v.setUint32(4, 0, true);
    v.setUint32(0x10, p.ack ? SMT_FLAG_INTR_ENABLED : 0, true);
    expected.set(message, SMT_HEADER_OFFSET);
    v.setUint32(0x14, message.byteLength, true);
    this.#expectArea(door.label, area, expected);
    if (rings !== 1) this.#problem(`${door.label}: posted with ${rings} rings`);
  }
}

// ---- the hostile agent ----------------------------------------------------------------------

/** What a hostile step did (counted for the campaign's summary). */
export type AgentAction =
  | 'command'
  | 'hostile-length'
  | 'bad-header'
  | 'error-bit'
  | 'ring-only'
  | 'write-while-busy'
  | 'set-free'
  | 'clear-status'
  | 'random-bytes'
  | 'p2a-ack'
  | 'ring-wrong'
  | 'tx-done'
  | 'nothing';

const ACTIONS: readonly (readonly [AgentAction, number])[] = [
  ['command', 24],
  ['hostile-length', 8],
  ['bad-header', 8],
  ['error-bit', 3],
  ['ring-only', 5],
  ['write-while-busy', 5],
  ['set-free', 5],
  ['clear-status', 3],
  ['random-bytes', 8],
  ['p2a-ack', 14],
  ['ring-wrong', 4],
  ['tx-done', 4],
  ['nothing', 9],
];
const WEIGHTS = ACTIONS.reduce((n, [, w]) => n + w, 0);

/** A command the agent may send: protocol, message, parameter words. */
interface Command {
  readonly protocolId: number;
  readonly messageId: number;
  readonly words: readonly number[];
}

/**
 * Commands of the hostile agent (some with the wrong size or an unknown id: the platform answers
 * them with an error). PERF_LEVEL_SET changes levels, which the subscribed agent is notified of.
 */
function commands(d: Dice): Command {
  const cpu = [400_000, 800_000, 1_200_000, 1_800_000];
  const gpu = [200, 400, 600];
  return d.pick<Command>([
    { protocolId: 0x10, messageId: 0x0, words: [] }, // PROTOCOL_VERSION
    { protocolId: 0x10, messageId: 0x3, words: [] }, // DISCOVER_VENDOR (storm rule)
    { protocolId: 0x10, messageId: 0x6, words: [0] }, // DISCOVER_LIST_PROTOCOLS
    { protocolId: 0x10, messageId: 0x8, words: [1] }, // NOTIFY_ERRORS on
    { protocolId: 0x13, messageId: 0x7, words: [0, d.pick(cpu)] }, // PERF_LEVEL_SET
    { protocolId: 0x13, messageId: 0x7, words: [1, d.pick(gpu)] },
    { protocolId: 0x13, messageId: 0x7, words: [0, d.pick(cpu)] },
    { protocolId: 0x13, messageId: 0x8, words: [0] }, // PERF_LEVEL_GET
    { protocolId: 0x13, messageId: 0xa, words: [d.int(2), 1] }, // PERF_NOTIFY_LEVEL on
    { protocolId: 0x14, messageId: 0x6, words: [1] }, // CLOCK_RATE_GET
    { protocolId: 0x13, messageId: 0x99, words: [7] }, // unknown message
    { protocolId: 0x13, messageId: 0x7, words: [0] }, // wrong size
  ]);
}

/** One mailbox channel the agent holds, and what came on it. */
interface Held {
  readonly index: number;
  readonly chan: MailboxChannel;
  rings: number;
}

/**
 * The agent end of a responder fuzz case, driven by hand as an OS driver would be (hostile or
 * buggy while `hostile`): it holds every mailbox channel of the layout (the `tx`, `tx_reply`,
 * `rx`, `rx_reply` of Linux's layouts, each as a client that knows TX completion or not, at
 * random), writes the SMT areas itself and rings. Every write goes through the oracle's
 * `agent(…)`, so that it is never taken for the responder's.
 */
export class HostileAgent {
  public hostile = true;
  public readonly actions = new Map<AgentAction, number>();
  /** Every proper command written, in order. */
  public readonly proper: ProperCommand[] = [];
  /** Sends the mailbox refused (its queue of 20 was full: the agent rang a channel nobody takes). */
  public queueFull = 0;
  /** P2A messages the agent found posted, by what it did with them. */
  public readonly p2a = new Map<string, number>();
  readonly #d: Dice;
  readonly #oracle: ResponderOracle;
  readonly #clock: Clock;
  readonly #a2p: { spec: SmtChannelSpec; area: SmtArea }[] = [];
  readonly #p2aSpec: SmtChannelSpec | undefined;
  readonly #p2aArea: SmtArea | undefined;
  readonly #held = new Map<number, Held>();
  readonly #all: SmtArea[] = [];
  #token = 0;

  public constructor(
    layout: SmtWireLayout,
    controller: MailboxController,
    oracle: ResponderOracle,
    clock: Clock,
    dice: Dice,
  ) {
    this.#d = dice;
    this.#oracle = oracle;
    this.#clock = clock;
    for (const spec of layout.channels) {
      const area = new SmtArea(layout.memory, spec.offset, layout.areaSize);
      this.#all.push(area);
      if (spec.direction === 'a2p') this.#a2p.push({ spec, area });
    }
    this.#p2aSpec = layout.channels.find((c) => c.direction === 'p2a');
    this.#p2aArea =
      this.#p2aSpec === undefined
        ? undefined
        : new SmtArea(layout.memory, this.#p2aSpec.offset, layout.areaSize);
    const indexes = new Set<number>();
    for (const c of layout.channels) {
      indexes.add(c.mailbox);
      if (c.replyMailbox !== undefined) indexes.add(c.replyMailbox);
      if (typeof c.ackMailbox === 'number') indexes.add(c.ackMailbox);
    }
    for (const index of [...indexes].sort((a, b) => a - b)) {
      const held: Held = {
        index,
        rings: 0,
        chan: controller.requestChannel(index, {
          knowsTxDone: dice.chance(0.5),
          rxCallback: () => {
            held.rings++;
            if (index === this.#p2aSpec?.mailbox && !this.hostile) this.#ackProperly();
          },
        }),
      };
      this.#held.set(index, held);
    }
  }

  /** The last proper command written on A2P channel `id`. */
  public lastProper(id: number): ProperCommand | undefined {
    for (let i = this.proper.length - 1; i >= 0; i--) {
      const c = this.proper[i] as ProperCommand;
      if (c.channelId === id) return c;
    }
    return undefined;
  }

  /** Doorbells the agent got, by mailbox channel. */
  public get doorbells(): number {
    let n = 0;
    for (const h of this.#held.values()) n += h.rings;
    return n;
  }

  /** One hostile step: a random action. */
  public step(): AgentAction {
    let roll = this.#d.int(WEIGHTS);
    let action: AgentAction = 'nothing';
    for (const [a, w] of ACTIONS) {
      if (roll < w) {
        action = a;
        break;
      }
      roll -= w;
    }
    this.#oracle.agent(action, () => {
      this.#do(action);
    });
    this.actions.set(action, (this.actions.get(action) ?? 0) + 1);
    return action;
  }

  /**
   * A proper command on A2P channel `id` (the area must be free): clear the status, flags,
   * length, header, payload; ring. Returns it, or undefined when the area is not free.
   */
  public command(id: number, c?: Command, interrupt = true): ProperCommand | undefined {
    const ch = this.#a2p.find((a) => a.spec.id === id);
    if (ch === undefined) return undefined;
    return this.#oracle.agent('command', () =>
      this.#write(ch, c ?? commands(this.#d), 'proper', interrupt),
    );
  }

  /**
   * Ends the hostile phase as a driver that recovers would: every queued mailbox message
   * completed, a P2A message posted and not acknowledged freed, and one acknowledgement rung
   * whatever the area's INTR_ENABLED says — posts may wait behind an area freed without a
   * doorbell, or one whose INTR_ENABLED the hostile phase cleared (a Linux agent rings only when it
   * is set: `mailbox_clear_channel`), and the responder waits for that doorbell, as firmware waits
   * for its completion interrupt (3 mboxes: it polls). From then on every post is acknowledged at
   * once, as INTR_ENABLED asks.
   */
  public calm(): void {
    this.hostile = false;
    this.#oracle.agent('calm', () => {
      for (const h of this.#held.values()) {
        while (h.chan.txActive && h.chan.txDoneMethod === 'ack') h.chan.clientTxDone();
      }
      const area = this.#p2aArea;
      const spec = this.#p2aSpec;
      if (area === undefined || spec === undefined) return;
      if (!area.isFree()) {
        this.p2a.set('acknowledged (calm)', (this.p2a.get('acknowledged (calm)') ?? 0) + 1);
        area.setStatus(SMT_CHANNEL_FREE);
      }
      // Whatever INTR_ENABLED says now: the hostile phase may have cleared it (random bytes) or
      // freed the area without the doorbell, and the responder waits for that doorbell (or for
      // its next post, which the calm phase may not make).
      if (spec.ackMailbox !== 'none') this.#send(spec.ackMailbox ?? spec.mailbox);
    });
  }

  /** Rings A2P channel `id` once more (recovery: an area left busy with nobody processing it). */
  public ringA2p(id: number): void {
    const ch = this.#a2p.find((a) => a.spec.id === id);
    if (ch !== undefined) this.#send(ch.spec.mailbox);
  }

  /** Completes every queued mailbox message on channels that complete by acknowledgement. */
  public txDoneAll(): void {
    for (const h of this.#held.values()) {
      while (h.chan.txActive && h.chan.txDoneMethod === 'ack') h.chan.clientTxDone();
    }
  }

  /** Rings every mailbox channel it holds and writes a command (after the responder closed). */
  public afterClose(): void {
    this.#oracle.agent('after close', () => {
      for (const ch of this.#a2p) this.#write(ch, commands(this.#d), 'proper', true);
      for (const h of this.#held.values()) this.#send(h.index);
      if (this.#p2aArea !== undefined) this.#p2aArea.setStatus(SMT_CHANNEL_FREE);
    });
  }

  /** Frees every mailbox channel it holds. */
  public free(): void {
    for (const h of this.#held.values()) h.chan.free();
  }

  #send(index: number): boolean {
    const h = this.#held.get(index);
    if (h === undefined) return false;
    try {
      h.chan.send();
    } catch (e) {
      if (ScmiError.is(e) && e.code === 'E_MBOX_QUEUE_FULL') {
        this.queueFull++;
        return false;
      }
      throw e;
    }
    // A client that knows TX completion (ack) reports it now and then.
    if (h.chan.txDoneMethod === 'ack' && (!this.hostile || this.#d.chance(0.7))) {
      h.chan.clientTxDone();
    }
    return true;
  }

  #do(action: AgentAction): void {
    const d = this.#d;
    const ch = d.pick(this.#a2p);
    switch (action) {
      case 'command':
        // A proper driver waits for CHANNEL_FREE: nothing this step when it is clear.
        if (ch.area.isFree()) this.#write(ch, commands(d), 'proper', d.chance(0.7));
        return;
      case 'hostile-length':
      case 'bad-header':
      case 'error-bit':
        this.#write(ch, commands(d), action, d.chance(0.7));
        return;
      case 'write-while-busy':
        this.#write(ch, commands(d), ch.area.isFree() ? 'proper' : 'busy', d.chance(0.7));
        return;
      case 'ring-only':
        this.#send(ch.spec.mailbox);
        return;
      case 'set-free':
        ch.area.setStatus(d.chance(0.8) ? SMT_CHANNEL_FREE : SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
        if (d.chance(0.3)) this.#send(ch.spec.mailbox);
        return;
      case 'clear-status':
        ch.area.setStatus(d.chance(0.8) ? 0 : d.u32());
        if (d.chance(0.5)) this.#send(ch.spec.mailbox);
        return;
      case 'random-bytes': {
        const area = d.pick(this.#all);
        const at = d.int(area.size);
        const n = Math.min(area.size - at, 1 + d.int(12));
        for (let i = 0; i < n; i++) area.bytes[at + i] = d.int(256);
        if (d.chance(0.3)) this.#send(d.pick([...this.#held.keys()]));
        return;
      }
      case 'p2a-ack':
        this.#hostileAck();
        return;
      case 'ring-wrong':
        this.#send(d.pick([...this.#held.keys()]));
        return;
      case 'tx-done': {
        const h = d.pick([...this.#held.values()]);
        h.chan.clientTxDone();
        return;
      }
      case 'nothing':
        return;
    }
  }

  /**
   * Writes a command into `ch`'s area and rings: `proper` (recorded when the area was free), or
   * with a hostile length, a header that is not a command, CHANNEL_ERROR left set, or into an area
   * the platform owns (`busy`).
   */
  #write(
    ch: { spec: SmtChannelSpec; area: SmtArea },
    c: Command,
    how: 'proper' | 'hostile-length' | 'bad-header' | 'error-bit' | 'busy',
    interrupt: boolean,
  ): ProperCommand | undefined {
    const d = this.#d;
    const area = ch.area;
    const free = area.isFree();
    this.#token = (this.#token + 1) % 1024;
    let header = buildHeader(c.messageId, 0, c.protocolId, this.#token);
    const length = 4 + 4 * c.words.length;
    const n = Math.min(length, area.maxLength);
    const bytes = new Uint8Array(n);
    const v = new DataView(bytes.buffer);
    v.setUint32(0, header, true);
    c.words.forEach((w, i) => {
      if (4 + 4 * i + 4 <= n) v.setUint32(4 + 4 * i, w, true);
    });
    if (how === 'bad-header') {
      header = d.pick([
        buildHeader(c.messageId, 1 + d.int(3), c.protocolId, this.#token),
        (header | ((1 + d.int(15)) << 28)) >>> 0,
        d.u32(),
      ]);
      v.setUint32(0, header, true);
    }
    area.setStatus(how === 'error-bit' ? SMT_CHANNEL_ERROR : 0);
    area.setFlags(interrupt ? SMT_FLAG_INTR_ENABLED : 0);
    area.bytes.set(bytes, SMT_HEADER_OFFSET);
    if (how === 'hostile-length') {
      area.setLength(
        d.pick([
          0,
          d.int(4),
          n,
          area.maxLength,
          area.maxLength + 1 + d.int(64),
          area.size * 4,
          0xffffffff,
          d.u32(),
        ]),
      );
      if (d.chance(0.5)) {
        for (let i = SMT_HEADER_OFFSET + n; i < area.size; i++) area.bytes[i] = d.int(256);
      }
    } else area.setLength(n);
    const proper =
      how === 'proper' && free && n === length
        ? {
            channelId: ch.spec.id,
            header,
            bytes,
            writtenAt: this.#clock.now(),
            state: 'rung' as const,
            reason: '',
            readAt: 0,
            answeredAt: 0,
            sendRefused: false,
          }
        : undefined;
    if (proper !== undefined) {
      const older = this.lastProper(ch.spec.id);
      if (older?.state === 'rung') {
        older.state = 'destroyed';
        older.reason = 'the agent wrote its next command over it before the platform read it';
      }
      this.proper.push(proper);
    }
    const sent = this.#send(ch.spec.mailbox);
    if (proper !== undefined && !sent) proper.sendRefused = true;
    return proper;
  }

  /** A P2A message in the area, by the agent: acknowledged properly, badly, twice, or not. */
  #hostileAck(): void {
    const d = this.#d;
    const area = this.#p2aArea;
    const spec = this.#p2aSpec;
    if (area === undefined || spec === undefined) return;
    const ack = spec.ackMailbox === 'none' ? undefined : (spec.ackMailbox ?? spec.mailbox);
    const count = (what: string): void => {
      this.p2a.set(what, (this.p2a.get(what) ?? 0) + 1);
    };
    if (area.isFree()) {
      count('acknowledgement with nothing posted');
      if (ack !== undefined) this.#send(ack);
      return;
    }
    const roll = d.int(10);
    if (roll < 6) {
      count('acknowledged');
      area.setStatus(SMT_CHANNEL_FREE);
      if (ack !== undefined && (area.flags() & SMT_FLAG_INTR_ENABLED) !== 0) this.#send(ack);
    } else if (roll < 7) {
      count('freed without a doorbell');
      area.setStatus(SMT_CHANNEL_FREE);
    } else if (roll < 8) {
      count('doorbell without freeing');
      if (ack !== undefined) this.#send(ack);
    } else if (roll < 9) {
      count('acknowledged twice');
      area.setStatus(SMT_CHANNEL_FREE);
      if (ack !== undefined) {
        this.#send(ack);
        this.#send(ack);
      }
    } else {
      count('left unacknowledged');
    }
  }

  /** In calm: the message posted is read, the area freed, the acknowledgement rung when asked. */
  #ackProperly(): void {
    const area = this.#p2aArea;
    const spec = this.#p2aSpec;
    if (area === undefined || spec === undefined || area.isFree()) return;
    const ack = (): void => {
      this.p2a.set('acknowledged (calm)', (this.p2a.get('acknowledged (calm)') ?? 0) + 1);
      area.setStatus(SMT_CHANNEL_FREE);
      if (spec.ackMailbox !== 'none' && (area.flags() & SMT_FLAG_INTR_ENABLED) !== 0) {
        this.#send(spec.ackMailbox ?? spec.mailbox);
      }
    };
    this.#oracle.agent('calm acknowledgement', ack);
  }
}
