/**
 * A seeded fuzz campaign of the platform-side virtio-scmi device (`VirtioScmiDevice`) against a
 * hostile driver: the randomized complement of the enumerated cases in `virtio-scmi-device.test.ts`
 * and `device-virtqueue.test.ts`. Each case is one seed: a device (random features offered,
 * completion order, queue sizes) in front of a real `ScmiPlatform` (sometimes with message-level
 * fault rules: delayed, late, dropped, duplicated, reordered, rewritten responses, notification
 * storms); a {@link HostileDriver} does the handshake properly, then for {@link STEPS} steps picks
 * at random among posting proper commands (any split over direct descriptors and, when negotiated,
 * an indirect table) and eventq buffers, posting hostile chains (addresses outside guest memory,
 * lengths 0, huge or past 2^32, loops, chains longer than the queue, readable after writable,
 * INDIRECT with NEXT, nested, badly sized, without the feature, tables of 1024 and 1025 entries),
 * making available heads out of range or held, moving `avail.idx` by any amount, scribbling over
 * the buffers and descriptors of chains the device holds, kicking for nothing, reading the used
 * rings or leaving them, resetting and redoing the handshake, and writing garbage status values;
 * virtual time moves by random amounts between steps. Then a calm phase and `device.close()`.
 *
 * The device runs only inside windows the fuzz opens (the same-thread wire delivers on the virtual
 * clock), and a spy on `DeviceVirtqueue.prototype.pop` / `pushUsed` tells the fuzz's model each
 * chain the device takes and each element it returns, as they happen. Invariants, each failure
 * naming the seed:
 *
 * 1. nothing throws out of the device or the platform (every clock run is wrapped);
 * 2. in each window, no byte of the shared buffer changes but the device's registers, the used
 *    rings and the writable buffers of chains the device held then — as the test's own walk
 *    (`referenceWalk`) finds them, never a readable one, never past a descriptor's length, never a
 *    buffer of a chain forgotten at a reset;
 * 3. each available entry the device takes is the one the ring says (a jump of `avail.idx` past the
 *    queue size is found as such), and every element it returns names a head it holds — taken and
 *    not yet returned, so never twice — with the length the model expects (0 for a refused chain or
 *    request, the platform's response cut to the writable capacity, its bytes in the buffer); what
 *    it publishes in the used ring is exactly what it pushed; the driver, reading the ring as an
 *    agent would, never gets a head it did not make available;
 * 4. the device's counters move exactly as the model says: `badChains` by reason, `badRequests`,
 *    `commands`, `responses`, `deferred`, `responsesTruncated`, `lateResponses`,
 *    `unmatchedResponses`, `supersededCommands`, eventq writes, no `platformErrors`; a chain refused
 *    or answered in a pass is returned in that pass (unless the device gave up: DEVICE_NEEDS_RESET);
 *    DEVICE_NEEDS_RESET is set only for a cause (an `avail.idx` jump, a refused status write or start);
 * 5. the platform gets exactly the readable bytes of each chain the device accepted, and only
 *    those: its `droppedRequests` move only by the requests whose header is not a command (which
 *    the device hands over by design, see the README), its handler never fails;
 * 6. after the calm phase, proper commands (Base PROTOCOL_VERSION) are answered correctly, right
 *    away or, when the device is in DEVICE_NEEDS_RESET or not live, after a reset and handshake;
 * 7. `close()` disconnects the agent from the platform and leaves no timer of the device's armed,
 *    the device then changes nothing in the shared buffer whatever the driver writes, and devres
 *    finds no leak.
 *
 * `SCMI_FUZZ_SEED` (default 1) and `SCMI_FUZZ_RUNS` (default {@link DEFAULT_RUNS}) choose the seeds
 * `SCMI_FUZZ_SEED … SCMI_FUZZ_SEED + SCMI_FUZZ_RUNS - 1`; `pnpm fuzz:device` runs a long campaign
 * from a seed taken from the time. `SCMI_FUZZ_DEBUG=1` prints the failing case's steps.
 */
import {
  SCMI_HEADER_RESERVED_MASK,
  ScmiMessageType,
  VirtualClock,
  buildHeader,
  isCommandHeader,
  mulberry32,
  readU32,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { fuzzSeeds, thrownText, weightedChooser } from '../../core/test/support/fuzz.js';
import { ScmiPlatform, createDefaultPlatformConfig, type FaultRule } from '@scmi-ts/platform';
import {
  DeviceVirtqueue,
  POP_BAD_INDEX,
  POP_EMPTY,
  VirtioFeature,
  VirtioRegister,
  VirtioScmiDevice,
  VirtioScmiWire,
  VirtioStatus,
  VirtqDescFlag,
  featureMask,
  guestMemoryNeeded,
  hasFeature,
  isQueueSize,
  splitRingLayout,
  type SplitRing,
  type VirtioBadChainReason,
  type VirtioCompletionOrder,
  type VirtioDeviceStats,
} from '@scmi-ts/virtio-transport';
import {
  HostileDriver,
  gather,
  overlaps,
  referenceWalk,
  type QueueName,
  type RawDescriptor,
  type Segment,
  type UsedEntry,
} from './support/hostile-driver.js';

/** Cases in the suite's run: the whole file takes a few seconds on two cores. */
const DEFAULT_RUNS = 60;
/** Hostile steps per case. */
const STEPS = 150;

const { first: BASE_SEED, seeds: SEEDS } = fuzzSeeds(DEFAULT_RUNS);

const { ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, DEVICE_NEEDS_RESET, FAILED } = VirtioStatus;
const LIVE = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
const V1 = featureMask(VirtioFeature.VERSION_1);
const P2A = featureMask(VirtioFeature.SCMI_P2A_CHANNELS);
const INDIRECT = featureMask(VirtioFeature.RING_INDIRECT_DESC);
const EVENT_IDX = featureMask(VirtioFeature.RING_EVENT_IDX);
/** What pairs a later response with its command (message id, protocol id, token). */
const HEADER_MATCH_MASK = ~(SCMI_HEADER_RESERVED_MASK | (0x3 << 8)) >>> 0;
/** The device's registers (DEVICE_STATUS, STATUS_ACK, INTERRUPT_STATUS, DEVICE_PRESENCE). */
const DEVICE_REGISTERS: Segment = { addr: VirtioRegister.DEVICE_STATUS, len: 16 };
const { NEXT, WRITE } = VirtqDescFlag;
const INDIRECT_FLAG = VirtqDescFlag.INDIRECT;

/** Proper commands (protocol, message, parameter words): read-only, and some that make the platform post. */
const COMMANDS: readonly (readonly [number, number, readonly number[]])[] = [
  [0x10, 0, []],
  [0x10, 1, []],
  [0x10, 3, []],
  [0x10, 4, []],
  [0x10, 5, []],
  [0x10, 6, [0]],
  [0x10, 8, [1]], // BASE_NOTIFY_ERRORS: the platform posts an error event for each dropped request
  [0x13, 0, []],
  [0x13, 3, [0]],
  [0x14, 0, []],
  [0x14, 3, [0]],
  [0x14, 9, [0, 1]], // CLOCK_RATE_NOTIFY
  [0x14, 5, [1, 0, 400_000_000, 0]], // asynchronous CLOCK_RATE_SET: a delayed response
  [0x14, 5, [0, 1, 200_000_000, 0]],
];

/** What the driver may do in a hostile step, with its weight. */
const ACTIONS = {
  command: 20,
  'hostile-chain': 14,
  'defect-chain': 3,
  'long-indirect': 0.6,
  'bad-head': 4,
  'move-idx': 1,
  'scribble-buffer': 4,
  'scribble-descriptor': 4,
  kick: 4,
  'eventq-buffer': 7,
  'eventq-hostile': 5,
  reclaim: 10,
  reset: 0.6,
  'garbage-status': 0.5,
} as const;
type Action = keyof typeof ACTIONS;
/** Actions that (mostly) stop the device until a reset: scaled per case. */
const FATAL: ReadonlySet<Action> = new Set<Action>(['move-idx', 'garbage-status']);

/** Counts over the whole run, for the summary line. */
const totals = new Map<string, number>();
function tally(key: string, n = 1): void {
  totals.set(key, (totals.get(key) ?? 0) + n);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What the device should do with a chain it took, as the model says. */
type HeldKind =
  | 'defect' // refused: returned with length 0 in its pass
  | 'bad-request' // not given to the platform, or dropped by it: returned with length 0 in its pass
  | 'command' // handed to the platform: returned with its response in its pass
  | 'deferred' // the platform answers later (`link.respond`)
  | 'superseded' // a deferred command whose header a newer one reused: returned with length 0
  | 'event'; // an eventq buffer the device keeps for a message

interface Held {
  readonly head: number;
  kind: HeldKind;
  /** The readable buffers (already read when the device took the chain). */
  readonly read: readonly Segment[];
  readonly write: readonly Segment[];
  readonly writeBytes: number;
  request?: Uint8Array;
  response?: Uint8Array;
  header?: number;
}

/** The model of one `DeviceVirtqueue` instance (the device makes new ones at each DRIVER_OK). */
class QueueState {
  public lastAvail = 0;
  public readonly held = new Map<number, Held>();
  /** Elements pushed (free-running). */
  public pushed = 0;
  /** Elements pushed since the last look at the used ring. */
  public unchecked: UsedEntry[] = [];
  /** A queue of an earlier generation: the device must not touch it again. */
  public stale = false;
  /** `avail.idx` jumped: the device needs a reset, and may leave pushed elements unpublished. */
  public dead = false;
  /** cmdq: deferred commands in the order they were deferred. eventq: buffers in the order taken. */
  public readonly order: Held[] = [];

  public constructor(
    public readonly name: QueueName,
    public readonly vq: DeviceVirtqueue,
    public readonly ring: SplitRing,
  ) {}

  public get size(): number {
    return this.ring.size;
  }
}

type ExpectedKey =
  | 'badChains'
  | 'badRequests'
  | 'commands'
  | 'responses'
  | 'deferred'
  | 'responsesTruncated'
  | 'lateResponses'
  | 'unmatchedResponses'
  | 'supersededCommands'
  | 'platformErrors';
const EXPECTED_KEYS: readonly ExpectedKey[] = [
  'badChains',
  'badRequests',
  'commands',
  'responses',
  'deferred',
  'responsesTruncated',
  'lateResponses',
  'unmatchedResponses',
  'supersededCommands',
  'platformErrors',
];

/**
 * What the device should have done, learned as it goes: the chains it holds (by the test's own
 * walk, when the device takes them), the elements it returns, the counters it should show.
 */
class Model {
  public device: VirtioScmiDevice | undefined;
  public readonly problems: string[] = [];
  public readonly trace: string[] = [];
  public readonly expected: Record<ExpectedKey, number> = {
    badChains: 0,
    badRequests: 0,
    commands: 0,
    responses: 0,
    deferred: 0,
    responsesTruncated: 0,
    lateResponses: 0,
    unmatchedResponses: 0,
    supersededCommands: 0,
    platformErrors: 0,
  };
  public readonly reasons: Partial<Record<VirtioBadChainReason, number>> = {};
  /** Eventq buffers the device wrote a message into. */
  public eventWrites = 0;
  /** Requests handed to the platform whose header is not a command: the platform drops them. */
  public platformDrops = 0;
  /** An `avail.idx` jump was found since the last reset: DEVICE_NEEDS_RESET is due. */
  public jumpSinceReset = false;
  public readonly states = new Map<DeviceVirtqueue, QueueState>();
  /** Chains accepted and not yet handed to the platform. */
  public readonly pendingHandle: Held[] = [];
  /** The link the device connected last, until its disconnect. */
  public currentLink = 0;
  public linkSerial = 0;
  /** Delayed responses the device accepted and has not written yet. */
  public waiting: Uint8Array[] = [];
  /** The response being delivered through `link.respond`, and the command it must land in. */
  public respondTarget: Held | undefined | null = null;
  public respondBytes: Uint8Array | undefined;
  /** The message being posted through `link.post`. */
  public posting: Uint8Array | undefined;
  /** Whether the message being posted was written (else a delayed response waits). */
  public postingWritten = false;
  /** The window open now: what the device may write in it. */
  public allowed: Segment[] = [];
  public written: Held[] = [];
  public closed = false;
  /** Called after each window (the device took what was available). */
  public afterWindow: () => void = () => undefined;
  public statusBaseline = { badStatusWrites: 0, startsRefused: 0 };
  readonly #snapshot: Uint32Array;
  readonly #words: Uint32Array;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  public constructor(
    public readonly wire: VirtioScmiWire,
    public readonly platform: ScmiPlatform,
  ) {
    this.#words = new Uint32Array(wire.sab);
    this.#snapshot = new Uint32Array(this.#words.length);
    this.#bytes = new Uint8Array(wire.sab);
    this.#view = new DataView(wire.sab);
  }

  public problem(text: string): void {
    if (this.problems.length < 20) this.problems.push(text);
  }

  get #memory(): { start: number; end: number } {
    const l = this.wire.layout;
    return { start: l.guestMemory, end: l.guestMemory + l.guestMemoryBytes };
  }

  #bad(reason: VirtioBadChainReason): void {
    this.expected.badChains++;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
    tally(`refused ${reason}`);
  }

  /** The model of `vq`; a new instance makes the earlier ones of its queue stale. */
  public stateOf(vq: DeviceVirtqueue): QueueState {
    let st = this.states.get(vq);
    if (st !== undefined) return st;
    const name: QueueName = vq.ring.layout.desc === this.wire.layout.cmdqBase ? 'cmdq' : 'eventq';
    for (const other of this.states.values()) if (other.name === name) other.stale = true;
    const ring = name === 'cmdq' ? this.wire.cmdqRing(vq.size) : this.wire.eventqRing(vq.size);
    st = new QueueState(name, vq, ring);
    this.states.set(vq, st);
    const features = this.device?.features ?? 0n;
    if (!hasFeature(features, VirtioFeature.VERSION_1)) {
      this.problem(`${name}: a queue went live without VERSION_1 negotiated`);
    }
    return st;
  }

  /** The live model of queue `name`, if any. */
  public live(name: QueueName): QueueState | undefined {
    for (const st of this.states.values()) if (st.name === name && !st.stale) return st;
    return undefined;
  }

  /** Whether the device holds `head` on queue `name`. */
  public holds(name: QueueName, head: number): boolean {
    return this.live(name)?.held.has(head) ?? false;
  }

  // ---- what the spies report ------------------------------------------------------------------

  public onPop(vq: DeviceVirtqueue, result: number): void {
    const st = this.stateOf(vq);
    if (st.stale) this.problem(`${st.name}: took an entry from a queue of an earlier generation`);
    const ring = st.ring;
    const idx = ring.loadAvailIdx();
    const last = st.lastAvail;
    let expected: number;
    if (idx === last) expected = POP_EMPTY;
    else if (((idx - last) & 0xffff) > st.size) expected = POP_BAD_INDEX;
    else expected = ring.availEntry(last & (st.size - 1));
    if (expected !== result) {
      this.problem(
        `${st.name}: took ${result} at available index ${last} (avail.idx ${idx}), the ring says ${expected}`,
      );
    }
    if (result >= 0) st.lastAvail = (last + 1) & 0xffff;
    if (result === POP_EMPTY) return;
    if (result === POP_BAD_INDEX) {
      this.#bad('avail-idx-jump');
      st.dead = true;
      this.jumpSinceReset = true;
      return;
    }
    const head = result;
    if (head < st.size && st.held.has(head)) {
      this.#bad('head-held');
      return;
    }
    const features = this.device?.features ?? 0n;
    const walk = referenceWalk(
      this.#view,
      ring,
      head,
      this.#memory,
      hasFeature(features, VirtioFeature.RING_INDIRECT_DESC),
    );
    if (head >= st.size) {
      this.#bad(walk.defect ?? 'head-out-of-range');
      if (walk.defect !== 'head-out-of-range')
        this.problem(`${st.name}: walk of ${head} found no defect`);
      return;
    }
    if (walk.defect !== undefined) {
      this.#bad(walk.defect);
      st.held.set(head, { head, kind: 'defect', read: [], write: [], writeBytes: 0 });
      return;
    }
    this.allowed.push(...walk.write);
    /** The chain as the device holds it, as a `kind`. */
    const holding = (kind: HeldKind): Held => ({
      head,
      kind,
      read: walk.read,
      write: walk.write,
      writeBytes: walk.writeBytes,
    });
    const pdu = this.wire.layout.pduSize;
    if (st.name === 'cmdq') {
      const n = walk.readBytes;
      if (n < 4 || n > pdu || walk.writeBytes < 8) {
        this.expected.badRequests++;
        tally('bad request (size)');
        st.held.set(head, holding('bad-request'));
        return;
      }
      const held: Held = { ...holding('command'), request: gather(this.#bytes, walk.read, n) };
      st.held.set(head, held);
      this.pendingHandle.push(held);
      return;
    }
    const defect: VirtioBadChainReason | undefined =
      walk.read.length > 0
        ? 'eventq-readable'
        : walk.writeBytes < 8
          ? 'eventq-too-small'
          : undefined;
    if (defect !== undefined) {
      this.#bad(defect);
      st.held.set(head, holding('defect'));
      return;
    }
    const held = holding('event');
    st.held.set(head, held);
    st.order.push(held);
  }

  /** Whether what the device wrote into `held` may have been overwritten by another write. */
  #clobbered(held: Held): boolean {
    const w = held.write;
    for (let i = 0; i < w.length; i++) {
      if (overlaps([w[i] as Segment], w.slice(i + 1))) return true;
    }
    for (const st of this.states.values()) {
      for (const other of st.held.values()) {
        if (other !== held && overlaps(w, other.write)) return true;
      }
    }
    return this.written.some((other) => other !== held && overlaps(w, other.write));
  }

  #content(st: QueueState, held: Held, len: number, message: Uint8Array, what: string): void {
    if (this.#clobbered(held)) {
      tally('content not checked (overlapping buffers)');
      return;
    }
    const got = gather(this.#bytes, held.write, len);
    if (!sameBytes(got, message.subarray(0, len))) {
      this.problem(`${st.name}: head ${held.head}: the bytes written are not the ${what}`);
    }
  }

  public onPush(vq: DeviceVirtqueue, id: number, len: number): void {
    const st = this.stateOf(vq);
    if (st.stale) this.problem(`${st.name}: returned ${id} on a queue of an earlier generation`);
    st.pushed++;
    st.unchecked.push({ id, len });
    const held = id < st.size ? st.held.get(id) : undefined;
    if (held === undefined) {
      this.problem(`${st.name}: returned head ${id} (len ${len}), which it did not hold`);
      return;
    }
    st.held.delete(id);
    const i = st.order.indexOf(held);
    if (i >= 0) st.order.splice(i, 1);
    this.written.push(held);
    if (len > held.writeBytes) {
      this.problem(
        `${st.name}: head ${id} returned with len ${len} > its ${held.writeBytes} writable bytes`,
      );
    }
    switch (held.kind) {
      case 'defect':
      case 'bad-request':
      case 'superseded':
        if (len !== 0)
          this.problem(`${st.name}: ${held.kind} head ${id} returned with len ${len}, not 0`);
        tally(`returned ${held.kind}`);
        return;
      case 'command': {
        const response = held.response;
        if (response === undefined) {
          this.problem(`cmdq: head ${id} returned before the platform answered it`);
          return;
        }
        const want = Math.min(response.byteLength, held.writeBytes);
        if (len !== want)
          this.problem(`cmdq: head ${id} returned with len ${len}, ${want} expected`);
        else this.#content(st, held, len, response, 'response');
        tally('returned answered');
        return;
      }
      case 'deferred': {
        const bytes = this.respondBytes;
        if (this.respondTarget !== held || bytes === undefined) {
          this.problem(`cmdq: deferred head ${id} returned outside the response it waits for`);
          return;
        }
        const want = Math.min(bytes.byteLength, held.writeBytes);
        if (len !== want)
          this.problem(`cmdq: late response in ${id} with len ${len}, ${want} expected`);
        else this.#content(st, held, len, bytes, 'late response');
        this.respondTarget = null;
        tally('returned late response');
        return;
      }
      case 'event': {
        const candidates = [
          ...this.waiting,
          ...(this.posting === undefined || this.postingWritten ? [] : [this.posting]),
        ].filter((m) => m.byteLength === len);
        if (candidates.length === 0) {
          this.problem(
            `eventq: head ${id} returned with len ${len}, no message being posted has it`,
          );
          return;
        }
        this.eventWrites++;
        const got = gather(this.#bytes, held.write, len);
        const message = candidates.find((m) => sameBytes(m, got)) ?? candidates[0];
        if (message === undefined) return;
        if (message === this.posting) this.postingWritten = true;
        const w = this.waiting.indexOf(message);
        if (w >= 0) this.waiting.splice(w, 1);
        this.#content(st, held, len, message, 'message posted');
        tally('eventq messages');
        return;
      }
    }
  }

  // ---- the platform's side --------------------------------------------------------------------

  /** The platform port the device gets: the platform, watched. */
  public port(): ScmiPlatformPort {
    return {
      connect: (agentId, link) => this.#connect(agentId, link),
      handle: (agentId, channelId, request) => this.#handle(agentId, channelId, request),
    };
  }

  #connect(agentId: number, link: PlatformAgentLink): PlatformConnection {
    const serial = ++this.linkSerial;
    const watched: PlatformAgentLink = {
      p2a: link.p2a,
      maxMsgSize: link.maxMsgSize,
      respond: (channelId, bytes, command) => {
        this.#onRespond(serial, channelId, bytes, command);
        link.respond(channelId, bytes, command);
        if (this.respondTarget !== null && this.respondTarget !== undefined) {
          this.problem(`cmdq: a late response for head ${this.respondTarget.head} was not written`);
        }
        this.respondTarget = null;
        this.respondBytes = undefined;
      },
      post: (bytes) => {
        const outer = [this.posting, this.postingWritten] as const;
        const message = bytes.slice();
        this.posting = message;
        this.postingWritten = false;
        const posted = link.post(bytes);
        const delayed =
          bytes.byteLength >= 4 &&
          ((readU32(bytes, 0) >>> 8) & 3) === ScmiMessageType.DELAYED_RESPONSE;
        if (posted && serial !== this.currentLink) this.problem('a stale link posted a message');
        const written = this.#postingWasWritten();
        if (posted && delayed && !written) this.waiting.push(message);
        if (posted && !delayed && !written) {
          this.problem('eventq: a notification the device took was not written');
        }
        [this.posting, this.postingWritten] = outer;
        return posted;
      },
    };
    const connection = this.platform.connect(agentId, watched);
    this.currentLink = serial;
    return {
      agentId: connection.agentId,
      disconnect: () => {
        if (this.currentLink === serial) {
          this.currentLink = 0;
          this.waiting = [];
        }
        connection.disconnect();
      },
    };
  }

  /** Whether `onPush` wrote the message being posted (a call: `link.post` changes it). */
  #postingWasWritten(): boolean {
    return this.postingWritten;
  }

  #onRespond(
    serial: number,
    channelId: number,
    bytes: Uint8Array,
    command: number | undefined,
  ): void {
    this.respondTarget = null;
    this.respondBytes = bytes.slice();
    if (serial !== this.currentLink) {
      this.expected.unmatchedResponses++; // a stale link: the device drops it
      return;
    }
    const device = this.device;
    if (
      device === undefined ||
      device.closed ||
      !device.live ||
      channelId !== 0 ||
      (command === undefined && bytes.byteLength < 4)
    ) {
      this.expected.unmatchedResponses++;
      return;
    }
    const header = (command ?? readU32(bytes, 0)) & HEADER_MATCH_MASK;
    const st = this.live('cmdq');
    const i = st === undefined ? -1 : st.order.findIndex((h) => h.header === header);
    if (st === undefined || i < 0) {
      this.expected.unmatchedResponses++;
      return;
    }
    const held = st.order.splice(i, 1)[0] as Held;
    this.respondTarget = held;
    this.expected.lateResponses++;
    if (bytes.byteLength > held.writeBytes) this.expected.responsesTruncated++;
  }

  #handle(agentId: number, channelId: number, request: Uint8Array): Uint8Array | undefined {
    const held = this.pendingHandle.shift();
    if (held === undefined) {
      this.problem(
        `the platform got a request no accepted chain carried (${request.byteLength} bytes)`,
      );
    } else if (held.request === undefined || !sameBytes(request, held.request)) {
      this.problem(
        `cmdq: head ${held.head}: the platform got other bytes than the chain's readable ones`,
      );
    }
    if (agentId !== 1 || channelId !== 0) this.problem(`handle(${agentId}, ${channelId})`);
    this.expected.commands++;
    const word = request.byteLength >= 4 ? readU32(request, 0) : 0;
    if (!isCommandHeader(word)) this.platformDrops++;
    let response: Uint8Array | undefined;
    try {
      response = this.platform.handle(agentId, channelId, request);
    } catch (error: unknown) {
      this.problem(`the platform threw: ${thrownText(error, { stack: true })}`);
      throw error;
    }
    // The device drops what follows when a re-entrant post broke the eventq (it needs a reset).
    if (held === undefined || this.device?.live !== true) return response;
    if (response === undefined) {
      if (!isCommandHeader(word)) {
        this.expected.badRequests++;
        held.kind = 'bad-request';
        tally('bad request (not a command)');
      } else {
        this.expected.deferred++;
        held.kind = 'deferred';
        held.header = word & HEADER_MATCH_MASK;
        const st = this.live('cmdq');
        if (st !== undefined) {
          const i = st.order.findIndex((h) => h.header === held.header);
          if (i >= 0) {
            const old = st.order.splice(i, 1)[0] as Held;
            old.kind = 'superseded';
            this.expected.supersededCommands++;
          }
          st.order.push(held);
        }
        tally('deferred');
      }
    } else {
      this.expected.responses++;
      held.response = response.slice();
      if (response.byteLength > held.writeBytes) this.expected.responsesTruncated++;
    }
    return response;
  }

  // ---- windows ----------------------------------------------------------------------------------

  /** Runs `body` (the device may run in it) and checks what it did. */
  public async window(label: string, body: () => Promise<void> | void): Promise<void> {
    if (process.env.SCMI_FUZZ_DEBUG !== undefined) this.trace.push(label);
    this.#snapshot.set(this.#words);
    this.allowed = [];
    this.written = [];
    if (!this.closed) {
      for (const st of this.states.values()) {
        if (st.stale) continue;
        for (const held of st.held.values()) this.allowed.push(...held.write);
      }
    }
    const platformBefore = this.platform.counters;
    try {
      await body();
    } catch (error: unknown) {
      this.problem(`${label}: threw: ${thrownText(error, { stack: true })}`);
    }
    this.#check(label, platformBefore.droppedRequests);
    this.afterWindow();
  }

  /** Byte areas the device may have written in this window besides `allowed`. */
  #deviceAreas(): Segment[] {
    if (this.closed) return [];
    const areas: Segment[] = [DEVICE_REGISTERS];
    const r = this.wire.registers;
    const l = this.wire.layout;
    const used = (base: number, size: number): void => {
      const layout = splitRingLayout(base, size);
      areas.push({ addr: layout.used, len: layout.end - layout.used });
    };
    const cmdqSize = r.read(VirtioRegister.CMDQ_NUM);
    if (isQueueSize(cmdqSize) && cmdqSize <= l.cmdqSize) used(l.cmdqBase, cmdqSize);
    const eventqSize = r.read(VirtioRegister.EVENTQ_NUM);
    if (isQueueSize(eventqSize) && eventqSize <= l.eventqSize) used(l.eventqBase, eventqSize);
    for (const st of this.states.values()) {
      if (!st.stale) used(st.name === 'cmdq' ? l.cmdqBase : l.eventqBase, st.size);
    }
    return areas;
  }

  #check(label: string, droppedBefore: number): void {
    const device = this.device;
    // 2. nothing changed but what the device may write
    const areas = [...this.#deviceAreas(), ...(this.closed ? [] : this.allowed)];
    const words = this.#words;
    const snap = this.#snapshot;
    let reported = 0;
    for (let w = 0; w < words.length; w++) {
      if (words[w] === snap[w]) continue;
      for (let b = 0; b < 4; b++) {
        const at = 4 * w + b;
        const shift = 8 * b;
        if (
          (((words[w] as number) >>> shift) & 0xff) ===
          (((snap[w] as number) >>> shift) & 0xff)
        ) {
          continue;
        }
        if (areas.some((a) => at >= a.addr && at < a.addr + a.len)) continue;
        if (reported++ < 3) {
          this.problem(
            `${label}: the device wrote byte 0x${at.toString(16)}, outside its registers, used rings and the writable buffers it held`,
          );
        }
      }
    }
    if (device === undefined) return;
    const stats = device.stats;
    const gaveUp = !device.live || (device.status & DEVICE_NEEDS_RESET) !== 0;
    // 3. the used rings hold what was pushed
    for (const st of this.states.values()) {
      if (st.unchecked.length === 0 || st.dead) {
        st.unchecked = [];
        continue;
      }
      const idx = st.ring.loadUsedIdx();
      if (!this.closed && !st.stale && idx !== (st.pushed & 0xffff)) {
        this.problem(`${label}: ${st.name} used.idx ${idx}, ${st.pushed & 0xffff} elements pushed`);
      } else if (!st.stale) {
        const k = Math.min(st.unchecked.length, st.size);
        for (let j = 0; j < k; j++) {
          const slot = (st.pushed - k + j) & (st.size - 1);
          const e = st.unchecked[st.unchecked.length - k + j] as UsedEntry;
          if (st.ring.usedId(slot) !== e.id || st.ring.usedLen(slot) !== e.len) {
            this.problem(`${label}: ${st.name} used slot ${slot} is not the element pushed`);
          }
        }
      }
      st.unchecked = [];
    }
    // 4. what a pass takes it returns in that pass, unless the device gave up
    if (!gaveUp) {
      for (const st of this.states.values()) {
        if (st.stale || st.dead) continue;
        for (const held of st.held.values()) {
          if (held.kind !== 'deferred' && held.kind !== 'event') {
            this.problem(
              `${label}: ${st.name} head ${held.head} (${held.kind}) not returned in its pass`,
            );
          }
        }
      }
      if (this.pendingHandle.length > 0) {
        this.problem(
          `${label}: ${this.pendingHandle.length} accepted commands never reached the platform`,
        );
      }
    }
    this.pendingHandle.length = 0;
    for (const key of EXPECTED_KEYS) {
      if (stats[key] !== this.expected[key]) {
        this.problem(`${label}: device ${key} ${stats[key]}, the model says ${this.expected[key]}`);
        this.expected[key] = stats[key]; // one report per divergence
      }
    }
    const reasons = stats.badChainReasons;
    for (const key of new Set([...Object.keys(reasons), ...Object.keys(this.reasons)])) {
      const k = key as VirtioBadChainReason;
      if ((reasons[k] ?? 0) !== (this.reasons[k] ?? 0)) {
        this.problem(
          `${label}: badChainReasons.${k} ${reasons[k] ?? 0}, the model says ${this.reasons[k] ?? 0}`,
        );
        this.reasons[k] = reasons[k] ?? 0;
      }
    }
    const posted = stats.notificationsPosted + stats.delayedResponsesPosted;
    if (posted !== this.eventWrites) {
      this.problem(`${label}: ${posted} eventq messages posted, ${this.eventWrites} written`);
      this.eventWrites = posted;
    }
    if ((device.status & DEVICE_NEEDS_RESET) !== 0 && !this.closed) {
      const cause =
        this.jumpSinceReset ||
        stats.badStatusWrites > this.statusBaseline.badStatusWrites ||
        stats.startsRefused > this.statusBaseline.startsRefused;
      if (!cause) this.problem(`${label}: DEVICE_NEEDS_RESET with no cause`);
    }
    // 5. the platform dropped only what the device handed over as not a command
    const counters = this.platform.counters;
    if (counters.droppedRequests - droppedBefore !== this.platformDrops) {
      this.problem(
        `${label}: the platform dropped ${counters.droppedRequests - droppedBefore} requests, ${this.platformDrops} were not commands`,
      );
    }
    this.platformDrops = 0;
    if (counters.handlerErrors !== 0) this.problem(`${label}: platform handler errors`);
    // A device with no queues made every earlier queue stale.
    if (!device.live) for (const st of this.states.values()) st.stale = true;
    if (device.status === 0) this.#resetSeen(stats);
  }

  /** After a reset (the device reads back status 0): DEVICE_NEEDS_RESET needs a new cause. */
  #resetSeen(stats: VirtioDeviceStats): void {
    this.jumpSinceReset = false;
    this.statusBaseline = {
      badStatusWrites: stats.badStatusWrites,
      startsRefused: stats.startsRefused,
    };
  }
}

/** One case: the problems found (empty when every invariant held). */
async function runCase(seed: number): Promise<string[]> {
  const random = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const chance = (p: number): boolean => random() < p;

  const wireCmdq = pick([2, 4, 8, 16, 32]);
  const wireEventq = pick([1, 2, 4, 8]);
  let offered = V1;
  for (const f of [P2A, INDIRECT, EVENT_IDX]) if (chance(0.75)) offered |= f;
  const completion = pick<VirtioCompletionOrder>(['in-order', 'in-order', 'reverse', 'shuffle']);
  const fatalScale = pick([0, 0.5, 1, 2]);
  const faulty = chance(0.5);
  const maxWaiting = pick([0, 1, 4, 64]);
  const config = `wire cmdq ${wireCmdq}, eventq ${wireEventq}, offered 0x${offered.toString(16)}, ${completion}, fatal ×${fatalScale}${faulty ? ', platform faults' : ''}, maxWaiting ${maxWaiting}`;
  const weights = (Object.entries(ACTIONS) as [Action, number][]).map(
    ([a, w]) => [a, FATAL.has(a) ? w * fatalScale : w] as const,
  );
  const chooseAction = weightedChooser(random, weights, 'kick');

  const clock = new VirtualClock();
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock, seed });
  if (faulty) {
    const rules: FaultRule[] = [
      { action: { kind: 'delay', ms: int(1, 40) }, match: { probability: 0.25 } },
      { action: { kind: 'late-reply', ms: int(1, 60) }, match: { probability: 0.05 } },
      { action: { kind: 'drop' }, match: { probability: 0.03 } },
      { action: { kind: 'duplicate', delayMs: int(0, 5) }, match: { probability: 0.05 } },
      { action: { kind: 'reorder', maxHoldMs: int(1, 50) }, match: { probability: 0.05 } },
      { action: { kind: 'unsolicited' }, match: { probability: 0.03 } },
      { action: { kind: 'corrupt-token' }, match: { probability: 0.03 } },
      { action: { kind: 'truncate', length: int(0, 12) }, match: { probability: 0.03 } },
      {
        action: { kind: 'notification-storm', count: int(1, 12), protocolId: 0x10, messageId: 0 },
        match: { probability: 0.03 },
      },
    ];
    for (const rule of rules) if (chance(0.5)) platform.faults.add(rule);
  }
  const layoutNeeds = guestMemoryNeeded(wireCmdq, wireEventq, 128);
  // Room for an indirect table of 1025 entries, and for proper buffers.
  const guestMemoryBytes = layoutNeeds + 24 * 1024;
  const wire = VirtioScmiWire.sameThread(clock, {
    cmdqSize: wireCmdq,
    eventqSize: wireEventq,
    guestMemoryBytes,
  });
  const model = new Model(wire, platform);
  const gm = wire.layout.guestMemory;
  const ge = gm + wire.layout.guestMemoryBytes;
  const pdu = wire.layout.pduSize;

  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its queue as `this`
  const pop = DeviceVirtqueue.prototype.pop;
  const popSpy = jest.spyOn(DeviceVirtqueue.prototype, 'pop').mockImplementation(function (
    this: DeviceVirtqueue,
  ) {
    const head = pop.call(this);
    model.onPop(this, head);
    return head;
  });
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its queue as `this`
  const pushUsed = DeviceVirtqueue.prototype.pushUsed;
  const pushSpy = jest.spyOn(DeviceVirtqueue.prototype, 'pushUsed').mockImplementation(function (
    this: DeviceVirtqueue,
    id: number,
    len: number,
  ) {
    model.onPush(this, id, len);
    pushUsed.call(this, id, len);
  });

  const device = new VirtioScmiDevice(wire, {
    platform: model.port(),
    agentId: 1,
    clock,
    features: offered,
    completion,
    seed,
    maxWaitingDelayedResponses: maxWaiting,
  });
  model.device = device;
  const driver = new HostileDriver(wire, clock, (what) =>
    model.window(what, () => clock.runTasks()),
  );
  const problems = model.problems;

  /** Proper buffers: a bump allocator over the first part of guest memory, wrapping. */
  const arenaBytes = guestMemoryBytes - 18 * 1024;
  let arenaNext = 0;
  const allocate = (bytes: number): number => {
    const n = Math.max(8, Math.ceil(bytes / 8) * 8);
    if (arenaNext + n > arenaBytes) arenaNext = 0;
    const addr = gm + arenaNext;
    arenaNext += n;
    return addr;
  };
  let token = 0;
  /** Proper commands in flight, by head: their header and writable capacity. */
  const proper = new Map<number, { header: number; capacity: number }>();
  let negotiated = 0n;
  let calm = false;

  const handshake = async (why: string): Promise<boolean> => {
    let features = V1;
    for (const f of [P2A, INDIRECT, EVENT_IDX])
      if ((offered & f) !== 0n && chance(0.7)) features |= f;
    const cmdqSize = pick([2, 4, 8, 16, 32].filter((n) => n <= wireCmdq));
    const eventqSize = pick([1, 2, 4, 8].filter((n) => n <= wireEventq));
    const p2a = (features & P2A) !== 0n;
    const found = await driver.handshake({ features, cmdqSize, eventqSize, p2a });
    proper.clear();
    negotiated = features;
    tally(`handshakes (${why})`);
    for (const p of found) model.problem(`handshake (${why}): ${p}`);
    if (device.features !== features) {
      model.problem(`handshake (${why}): device features 0x${device.features.toString(16)}`);
    }
    if (!device.live) model.problem(`handshake (${why}): the device is not live`);
    return found.length === 0;
  };

  const reclaim = (q: QueueName): UsedEntry[] => {
    const { entries, problems: found } = driver.reclaim(q);
    for (const p of found) model.problem(`driver read: ${p}`);
    if (q === 'cmdq') {
      for (const e of entries) {
        const p = proper.get(e.id);
        if (p === undefined) continue;
        proper.delete(e.id);
        // Hostile chains may take a proper chain's descriptors: only the calm phase's are sure.
        if (calm && e.len > p.capacity) {
          model.problem(`driver read: cmdq ${e.id} len ${e.len} > ${p.capacity}`);
        }
      }
    }
    tally(`${q} elements read by the driver`, entries.length);
    return entries;
  };

  /**
   * Descriptors of proper chains made available since the device last ran: another proper chain
   * must not take them (hostile chains may).
   */
  const pending: Record<QueueName, Set<number>> = { cmdq: new Set(), eventq: new Set() };
  /** Distinct descriptor ids of queue `q` of `size`, `head` first, none pending; undefined when too few. */
  const ids = (q: QueueName, size: number, head: number, n: number): number[] | undefined => {
    const others = Array.from({ length: size }, (_, i) => i).filter(
      (i) => i !== head && !pending[q].has(i),
    );
    if (others.length < n - 1) return undefined;
    for (let i = others.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [others[i], others[j]] = [others[j] as number, others[i] as number];
    }
    const chosen = [head, ...others.slice(0, n - 1)];
    for (const i of chosen) pending[q].add(i);
    return chosen;
  };

  /** Splits `total` bytes over `parts` buffers (some may be empty). */
  const split = (total: number, parts: number): number[] => {
    const cuts = Array.from({ length: parts - 1 }, () => int(0, total)).sort((a, b) => a - b);
    const out: number[] = [];
    let at = 0;
    for (const c of cuts) {
      out.push(c - at);
      at = c;
    }
    out.push(total - at);
    return out;
  };

  /**
   * Writes a well-formed chain on `ring` at `head`: `read` then `write` buffers (lengths given), over
   * direct descriptors and, when `indirect`, an indirect table for the tail. Returns false when the
   * queue has too few descriptors for it.
   */
  const placeProper = (
    q: QueueName,
    ring: SplitRing,
    head: number,
    read: readonly Uint8Array[],
    write: readonly number[],
    indirect: boolean,
  ): Segment[] | undefined => {
    const elements: { addr: number; len: number; flags: number }[] = [];
    for (const r of read) {
      const addr = allocate(r.byteLength);
      driver.bytes.set(r, addr);
      elements.push({ addr, len: r.byteLength, flags: 0 });
    }
    for (const w of write) elements.push({ addr: allocate(w), len: w, flags: WRITE });
    const direct = indirect ? int(0, elements.length - 1) : elements.length;
    const descriptors = direct + (indirect ? 1 : 0);
    const chainIds = ids(q, ring.size, head, descriptors);
    if (chainIds === undefined) return undefined;
    for (let k = 0; k < direct; k++) {
      const e = elements[k] as (typeof elements)[number];
      const last = k === descriptors - 1;
      driver.writeDesc(ring, chainIds[k] as number, {
        ...e,
        flags: last ? e.flags : e.flags | NEXT,
        next: last ? int(0, 0xffff) : (chainIds[k + 1] as number),
      });
    }
    if (indirect) {
      const n = elements.length - direct;
      const table = allocate(16 * n);
      // Entry 0 first, the others in reverse order: the device has to follow `next`.
      const slot = (k: number): number => (k === 0 ? 0 : n - k);
      for (let k = 0; k < n; k++) {
        const e = elements[direct + k] as (typeof elements)[number];
        const last = k === n - 1;
        driver.writeEntry(table + 16 * slot(k), {
          ...e,
          flags: last ? e.flags : e.flags | NEXT,
          next: last ? 0 : slot(k + 1),
        });
      }
      driver.writeDesc(ring, chainIds[direct] as number, {
        addr: table,
        len: 16 * n,
        flags: INDIRECT_FLAG | (chance(0.3) ? WRITE : 0), // WRITE is ignored on it
        next: int(0, 0xffff),
      });
    }
    return elements.filter((e) => e.flags === WRITE).map(({ addr, len }) => ({ addr, len }));
  };

  model.afterWindow = () => {
    pending.cmdq.clear();
    pending.eventq.clear();
  };

  const freeHead = (q: QueueName, size: number): number | undefined => {
    const free = Array.from({ length: size }, (_, i) => i).filter(
      (h) => !model.holds(q, h) && !pending[q].has(h),
    );
    return free.length === 0 ? undefined : pick(free);
  };

  const properCommand = (
    command: readonly [number, number, readonly number[]],
    options: { capacity?: number; simple?: boolean } = {},
  ): { head: number; write: Segment[] } | undefined => {
    const ring = driver.rings.cmdq;
    if (ring === undefined) return undefined;
    const head = freeHead('cmdq', ring.size);
    if (head === undefined) return undefined;
    const [protocolId, messageId, words] = command;
    // Now and then the token of the command before (an agent that gave up on it and reuses it).
    if (calm || chance(0.8)) token = (token + 1) & 0x3ff;
    const header = buildHeader(messageId, ScmiMessageType.COMMAND, protocolId, token);
    const request = new Uint8Array(4 + 4 * words.length);
    const v = new DataView(request.buffer);
    v.setUint32(0, header, true);
    words.forEach((w, i) => v.setUint32(4 + 4 * i, w >>> 0, true));
    const capacity = options.capacity ?? (chance(0.8) ? pdu : int(8, 24));
    const simple = options.simple === true;
    const readParts = simple ? 1 : int(1, 3);
    const writeParts = simple ? 1 : int(1, 3);
    const reads: Uint8Array[] = [];
    let at = 0;
    for (const n of split(request.byteLength, readParts)) {
      reads.push(request.slice(at, at + n));
      at += n;
    }
    const indirect = !simple && (negotiated & INDIRECT) !== 0n && chance(0.4);
    const write = placeProper('cmdq', ring, head, reads, split(capacity, writeParts), indirect);
    if (write === undefined) return undefined;
    driver.offer('cmdq', head);
    proper.set(head, { header, capacity });
    tally(indirect ? 'proper commands (indirect)' : 'proper commands');
    return { head, write };
  };

  const properEventBuffer = (): void => {
    const ring = driver.rings.eventq;
    if (ring === undefined) return;
    const head = freeHead('eventq', ring.size);
    if (head === undefined) return;
    const capacity = chance(0.8) ? pdu : int(8, 40);
    const indirect = (negotiated & INDIRECT) !== 0n && chance(0.3);
    if (placeProper('eventq', ring, head, [], split(capacity, int(1, 2)), indirect) !== undefined) {
      driver.offer('eventq', head);
      tally('eventq buffers');
    }
  };

  /** A hostile address and length: inside guest memory mostly, else anything. */
  const hostileBuffer = (): { addr: number; high: number; len: number } => {
    const r = random();
    if (r < 0.6) {
      const len = pick([0, 1, 4, 8, int(0, 64), int(8, pdu), pdu, pdu + int(1, 64)]);
      return { addr: int(gm, Math.max(gm, ge - len)), high: 0, len };
    }
    const kind = int(0, 9);
    switch (kind) {
      case 0:
        return { addr: int(0, gm - 1), high: 0, len: int(0, 64) }; // registers and rings
      case 1: {
        const len = int(1, 64);
        return { addr: ge - len + 1, high: 0, len }; // one byte past the end
      }
      case 2:
        return { addr: ge, high: 0, len: pick([0, 1, 8]) };
      case 3:
        return { addr: pick([0xffffffff, 0xfffffff0, 0x80000000]), high: 0, len: int(0, 16) };
      case 4: {
        const addr = int(gm, ge - 1);
        return { addr, high: 0, len: 2 ** 32 - addr + int(0, 16) }; // addr + len wraps 32 bits
      }
      case 5:
        return { addr: int(gm, ge - 8), high: pick([1, 0xffffffff, int(1, 0xffff)]), len: 8 };
      case 6:
        return { addr: int(gm, ge - 1), high: 0, len: pick([0xffffffff, 0x80000000, ge]) };
      case 7:
        return { addr: gm - 1, high: 0, len: int(1, 8) };
      default:
        return { addr: int(0, 0xffffffff), high: 0, len: int(0, 0xffffffff) };
    }
  };

  const hostileFlags = (last: boolean): number => {
    let flags = last ? (chance(0.15) ? NEXT : 0) : chance(0.9) ? NEXT : 0;
    if (chance(0.45)) flags |= WRITE;
    if (chance(0.08)) flags |= INDIRECT_FLAG;
    if (chance(0.05)) flags |= int(0, 0xffff) & ~7; // unknown bits
    return flags;
  };

  /** Writes a hostile indirect table; returns the descriptor that refers to it. */
  const hostileTable = (next: number): RawDescriptor => {
    const entries = int(1, 8);
    const table = chance(0.85)
      ? allocate(16 * entries) + (chance(0.2) ? int(1, 15) : 0) // misaligned sometimes
      : hostileBuffer().addr;
    if (table >= gm && table + 16 * entries <= ge) {
      let writable = false;
      for (let j = 0; j < entries; j++) {
        const b = chance(0.6)
          ? (() => {
              const len = int(0, pdu);
              return { addr: int(gm, ge - len), high: 0, len };
            })()
          : hostileBuffer();
        let flags = hostileFlags(j === entries - 1);
        if (chance(0.8)) flags &= ~INDIRECT_FLAG; // nested INDIRECT sometimes
        if (writable && chance(0.8)) flags |= WRITE;
        if ((flags & WRITE) !== 0) writable = true;
        const following = chance(0.85) ? (j + 1) % entries : int(0, 0xffff); // loops, out of range
        driver.writeEntry(table + 16 * j, { ...b, flags, next: following });
      }
    }
    const len = pick([
      16 * entries,
      16 * entries,
      16 * entries,
      0,
      16 * entries + int(1, 15),
      int(0, 0xffffffff),
    ]);
    return {
      addr: table,
      high: chance(0.05) ? 1 : 0,
      len,
      flags: INDIRECT_FLAG | (chance(0.15) ? NEXT : 0) | (chance(0.3) ? WRITE : 0),
      next,
    };
  };

  /** Writes a hostile chain on queue `q` and makes it available (most of the time at a free head). */
  const hostileChain = (q: QueueName): void => {
    const ring = driver.rings[q];
    if (ring === undefined) return;
    const size = ring.size;
    const head = chance(0.85) ? (freeHead(q, size) ?? int(0, size - 1)) : int(0, size - 1);
    const n = int(1, Math.min(size + 2, 6));
    let i = head;
    let writable = false;
    for (let k = 0; k < n; k++) {
      const last = k === n - 1;
      const next = chance(0.9) ? int(0, size - 1) : pick([size, size + int(0, 64), 0xffff]);
      if (chance(0.08)) {
        driver.writeDesc(ring, i, hostileTable(next));
      } else {
        const b = chance(0.7)
          ? (() => {
              const len = int(0, pdu);
              return { addr: int(gm, ge - len), high: 0, len };
            })()
          : hostileBuffer();
        let flags = hostileFlags(last);
        flags &= chance(0.9) ? ~INDIRECT_FLAG : 0xffff;
        if (writable && chance(0.85)) flags |= WRITE;
        if ((flags & WRITE) !== 0) writable = true;
        driver.writeDesc(ring, i, { addr: b.addr, high: b.high, len: b.len, flags, next });
      }
      if (next >= size) break;
      i = next;
    }
    // Sometimes a valid-looking request in the first readable buffer.
    if (q === 'cmdq' && chance(0.5)) {
      const addr = driver.view.getUint32(ring.layout.desc + 16 * head, true);
      if (addr >= gm && addr + 8 <= ge) {
        const [protocolId, messageId] = pick(COMMANDS);
        let header = buildHeader(messageId, ScmiMessageType.COMMAND, protocolId, int(0, 1023));
        if (chance(0.2)) header = (header | (int(1, 3) << 8)) >>> 0; // another type
        if (chance(0.1)) header |= 0x10000000;
        driver.view.setUint32(addr, header >>> 0, true);
      }
    }
    driver.offer(q, head);
    tally(`hostile chains (${q})`);
  };

  /** A chain with one chosen defect, everything else well-formed (on a free head of the cmdq). */
  const defectChain = (): void => {
    const ring = driver.rings.cmdq;
    if (ring === undefined) return;
    const size = ring.size;
    const head = freeHead('cmdq', size);
    if (head === undefined) return;
    const good = (flags: number, next = 0): RawDescriptor => ({
      addr: allocate(16),
      len: 16,
      flags,
      next,
    });
    const table = (entries: readonly RawDescriptor[]): number => {
      const at = allocate(16 * entries.length);
      entries.forEach((e, j) => driver.writeEntry(at + 16 * j, e));
      return at;
    };
    const other = (head + 1) % size;
    const kind = int(0, 9);
    switch (kind) {
      case 0: // nested INDIRECT
        driver.writeDesc(ring, head, {
          addr: table([good(NEXT, 1), { ...good(INDIRECT_FLAG), len: 16 }]),
          len: 32,
          flags: INDIRECT_FLAG,
          next: 0,
        });
        break;
      case 1: // INDIRECT with NEXT
        driver.writeDesc(ring, head, {
          addr: table([good(0)]),
          len: 16,
          flags: INDIRECT_FLAG | NEXT,
          next: other,
        });
        break;
      case 2: // a loop in the queue's table (itself, or through every descriptor)
        if (chance(0.5)) driver.writeDesc(ring, head, good(NEXT, head));
        else
          for (let k = 0; k < size; k++)
            driver.writeDesc(ring, (head + k) % size, good(NEXT, (head + k + 1) % size));
        break;
      case 3: // a loop in an indirect table
        driver.writeDesc(ring, head, {
          addr: table([good(NEXT, 1), good(NEXT, 0)]),
          len: 32,
          flags: INDIRECT_FLAG,
          next: 0,
        });
        break;
      case 4: // readable after writable
        driver.writeDesc(ring, head, good(WRITE | NEXT, other));
        driver.writeDesc(ring, other, good(0));
        break;
      case 5: {
        // addr + len past 2^32
        const addr = allocate(16);
        driver.writeDesc(ring, head, { addr, len: 2 ** 32 - addr + 8, flags: 0, next: 0 });
        break;
      }
      case 6: // a high address word
        driver.writeDesc(ring, head, { ...good(0), high: 1 });
        break;
      case 7: // an indirect table past the end of guest memory, or in the rings
        driver.writeDesc(ring, head, {
          addr: chance(0.5) ? ge - 16 : int(0, gm - 32),
          len: 32,
          flags: INDIRECT_FLAG,
          next: 0,
        });
        break;
      case 8: // an indirect table whose length is not a multiple of 16, or 0
        driver.writeDesc(ring, head, {
          addr: table([good(0), good(WRITE)]),
          len: pick([0, 8, 24, 33]),
          flags: INDIRECT_FLAG,
          next: 0,
        });
        break;
      default: // next out of range in the table, and in the queue
        if (chance(0.5)) {
          driver.writeDesc(ring, head, {
            addr: table([good(NEXT, 7)]),
            len: 16,
            flags: INDIRECT_FLAG,
            next: 0,
          });
        } else driver.writeDesc(ring, head, good(NEXT, size + int(0, 100)));
    }
    driver.offer('cmdq', head);
    tally('defect chains');
  };

  /** An indirect table of 1024 or 1025 buffer descriptors (the device's segment limit). */
  const longIndirect = (): void => {
    const ring = driver.rings.cmdq;
    if (ring === undefined) return;
    const head = freeHead('cmdq', ring.size);
    if (head === undefined) return;
    const entries = chance(0.5) ? 1024 : 1025;
    const table = ge - 16 * entries - int(0, 64) * 16;
    const buffer = allocate(pdu);
    for (let j = 0; j < entries; j++) {
      const last = j === entries - 1;
      driver.writeEntry(table + 16 * j, {
        addr: buffer,
        len: j === 0 ? 4 : last ? pdu : 0,
        flags: (last ? WRITE : 0) | (last ? 0 : NEXT),
        next: j + 1,
      });
    }
    driver.view.setUint32(buffer, buildHeader(0, ScmiMessageType.COMMAND, 0x10, 0), true);
    driver.writeDesc(ring, head, { addr: table, len: 16 * entries, flags: INDIRECT_FLAG, next: 0 });
    driver.offer('cmdq', head);
    tally(`indirect tables of ${entries}`);
  };

  /** Random bytes over `segments` (those inside guest memory). */
  const scribble = (segments: readonly Segment[]): void => {
    for (const s of segments) {
      if (s.addr < gm || s.addr + s.len > ge) continue;
      const n = Math.min(s.len, int(1, 32));
      for (let k = 0; k < n; k++) driver.bytes[s.addr + int(0, s.len - 1)] = int(0, 255);
    }
  };

  interface HeldChain {
    q: QueueName;
    head: number;
    read: readonly Segment[];
    write: readonly Segment[];
  }
  const heldChains = (): HeldChain[] => {
    const out: HeldChain[] = [];
    for (const q of ['cmdq', 'eventq'] as const) {
      const st = model.live(q);
      if (st === undefined) continue;
      for (const h of st.held.values()) out.push({ q, head: h.head, read: h.read, write: h.write });
    }
    return out;
  };

  const step = async (label: string): Promise<void> => {
    await model.window(label, () =>
      chance(0.4) ? clock.runTasks() : clock.advance(int(1, 240) / 20),
    );
  };

  try {
    if (!(await handshake('start'))) return [`[${config}]`, ...problems];

    // ---- the hostile phase ----------------------------------------------------------------
    for (let s = 0; s < STEPS; s++) {
      const action = chooseAction();
      tally(`action ${action}`);
      let kick = chance(0.9);
      const size = (q: QueueName): number => driver.rings[q]?.size ?? 1;
      switch (action) {
        case 'command': {
          const n = int(1, 3);
          for (let k = 0; k < n; k++) properCommand(pick(COMMANDS));
          break;
        }
        case 'defect-chain':
          defectChain();
          break;
        case 'hostile-chain': {
          const n = chance(0.9) ? int(1, Math.min(3, size('cmdq'))) : int(1, 3);
          for (let k = 0; k < n; k++) hostileChain('cmdq');
          break;
        }
        case 'long-indirect':
          if ((negotiated & INDIRECT) !== 0n || chance(0.2)) longIndirect();
          break;
        case 'bad-head': {
          const q: QueueName = chance(0.7) || driver.rings.eventq === undefined ? 'cmdq' : 'eventq';
          const held = heldChains().filter((c) => c.q === q);
          const head = pick([
            size(q) + int(0, 100),
            0xffff,
            held.length > 0 ? pick(held).head : int(0, size(q) - 1),
            int(0, size(q) - 1),
          ]);
          driver.offer(q, head);
          if (chance(0.3)) driver.offer(q, head); // twice in a row
          break;
        }
        case 'move-idx': {
          const q: QueueName = chance(0.7) || driver.rings.eventq === undefined ? 'cmdq' : 'eventq';
          const delta = pick([
            1,
            int(1, size(q)),
            size(q) + 1,
            int(size(q) + 1, 0xffff),
            -1,
            -int(1, size(q)),
          ]);
          driver.moveAvailIdx(q, delta);
          tally('avail.idx moved');
          break;
        }
        case 'scribble-buffer': {
          const held = heldChains();
          // Over a held chain's request (already read) or response buffers.
          const chosen = held.length > 0 ? pick(held) : undefined;
          if (chosen !== undefined) scribble(chance(0.5) ? chosen.read : chosen.write);
          break;
        }
        case 'scribble-descriptor': {
          // Over the descriptors of a chain the device holds, or any of the queue's.
          const held = heldChains();
          const chosen = held.length > 0 ? pick(held) : undefined;
          const q: QueueName = chosen?.q ?? 'cmdq';
          const ring = driver.rings[q];
          if (ring === undefined) break;
          const i = chosen !== undefined && chance(0.7) ? chosen.head : int(0, ring.size - 1);
          const at = ring.layout.desc + 16 * i;
          for (let k = 0; k < 16; k++) if (chance(0.5)) driver.bytes[at + k] = int(0, 255);
          break;
        }
        case 'kick':
          kick = true;
          break;
        case 'eventq-buffer': {
          const n = int(1, 3);
          for (let k = 0; k < n; k++) properEventBuffer();
          kick = chance(0.5);
          break;
        }
        case 'eventq-hostile':
          hostileChain('eventq');
          break;
        case 'reclaim':
          reclaim('cmdq');
          reclaim('eventq');
          kick = false;
          break;
        case 'reset':
          await handshake('mid-flight reset');
          kick = false;
          break;
        case 'garbage-status': {
          const value = pick([
            int(0, 0xffffffff),
            int(1, 0xff),
            LIVE & ~pick([ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK]),
            LIVE | DEVICE_NEEDS_RESET,
            FAILED,
            LIVE | FAILED,
            DEVICE_NEEDS_RESET,
            LIVE | 0x10,
            ACKNOWLEDGE,
          ]);
          driver.untracked = true;
          driver.writeStatus(value);
          tally('garbage status writes');
          break;
        }
      }
      if (kick) driver.kick();
      await step(`step ${s}: ${action}`);
      // A driver finds a device that needs a reset, or stopped, and resets it (sometimes later).
      const status = driver.deviceStatus;
      if ((status !== LIVE || !device.live) && chance(0.3)) await handshake('recovery');
    }

    // ---- the calm phase ---------------------------------------------------------------------
    platform.faults.clear();
    driver.kick();
    await model.window('calm: time passes', () => clock.advance(500));
    reclaim('cmdq');
    reclaim('eventq');
    // From here on no hostile write can take a proper chain's descriptors.
    proper.clear();
    calm = true;
    const ask = async (what: string): Promise<string | undefined> => {
      if (driver.rings.cmdq === undefined) return 'no cmdq';
      const sent: { head: number; write: Segment[]; header: number }[] = [];
      for (let k = 0; k < 3; k++) {
        const placed = properCommand([0x10, 0, []], { capacity: pdu, simple: k === 0 });
        if (placed === undefined) break;
        sent.push({ ...placed, header: proper.get(placed.head)?.header ?? -1 });
      }
      if (sent.length === 0) return 'no free head';
      tally('calm commands', sent.length);
      driver.kick();
      await model.window(`calm: ${what}`, () => clock.runTasks());
      const got = new Map(reclaim('cmdq').map((e) => [e.id, e]));
      for (const { head, write, header } of sent) {
        const e = got.get(head);
        if (e === undefined) return `PROTOCOL_VERSION at ${head} not answered`;
        if (e.len !== 12) return `PROTOCOL_VERSION at ${head}: len ${e.len}, 12 expected`;
        const r = gather(driver.bytes, write, 12);
        const words = [0, 4, 8].map((o) => readU32(r, o));
        if (words[0] !== header || words[1] !== 0 || words[2] !== 0x20001) {
          return `PROTOCOL_VERSION at ${head}: response ${words.map((w) => `0x${w.toString(16)}`).join(' ')}`;
        }
      }
      return undefined;
    };
    const needed =
      (driver.deviceStatus & DEVICE_NEEDS_RESET) !== 0 ||
      driver.deviceStatus !== LIVE ||
      !device.live;
    let outcome: string;
    if (needed) {
      await handshake('calm');
      const failure = await ask('after reset');
      outcome = failure === undefined ? 'ok after reset' : failure;
      if (failure !== undefined) model.problem(`calm phase, after a reset: ${failure}`);
    } else {
      const first = await ask('commands');
      if (first === undefined) outcome = 'ok';
      else {
        const gaveUp = (device.status & DEVICE_NEEDS_RESET) !== 0 || !device.live;
        if (!gaveUp && first !== 'no free head') {
          model.problem(`calm phase: ${first}, and the device does not need a reset`);
        }
        await handshake('calm retry');
        const failure = await ask('after reset');
        outcome = failure === undefined ? `ok after reset (${first})` : failure;
        if (failure !== undefined) model.problem(`calm phase, after a reset: ${failure}`);
      }
    }
    tally(`final ${outcome.startsWith('ok after reset') ? 'ok after reset' : outcome}`);

    // ---- close ------------------------------------------------------------------------------
    const statsBefore = device.stats;
    await model.window('close', () => {
      device.close();
    });
    model.closed = true;
    if (platform.connectedAgents.length !== 0) {
      model.problem(
        `after close the platform still has agents ${platform.connectedAgents.join(', ')}`,
      );
    }
    if (clock.armedTimers !== platform.armedTimers) {
      model.problem(
        `after close: ${clock.armedTimers} timers armed, the platform's ${platform.armedTimers}`,
      );
    }
    // A closed device changes nothing, whatever the driver does.
    hostileChain('cmdq');
    properCommand([0x10, 0, []]);
    driver.writeStatus(pick([0, LIVE, ACKNOWLEDGE]));
    driver.kick();
    await model.window('after close', () => clock.advance(50));
    if (JSON.stringify(device.stats) !== JSON.stringify(statsBefore)) {
      model.problem('a closed device moved its counters');
    }
    platform.close();
    if (clock.armedTimers !== 0) model.problem(`${clock.armedTimers} timers armed after close`);
  } catch (error: unknown) {
    model.problem(`threw: ${thrownText(error, { stack: true })}`);
  } finally {
    popSpy.mockRestore();
    pushSpy.mockRestore();
    device.close();
    driver.close();
    platform.close();
  }
  const stats = device.stats;
  tally('kicks', stats.kicks);
  tally('commands handed to the platform', stats.commands);
  if (problems.length > 0) problems.unshift(`[${config}]`);
  if (problems.length > 0 && process.env.SCMI_FUZZ_DEBUG !== undefined) {
    console.log(model.trace.join('\n'));
  }
  return problems;
}

describe('virtio device fuzz: a hostile driver', () => {
  ensureNoLeaksInSuite();
  let started = 0;

  beforeAll(() => {
    started = Date.now();
  });

  afterAll(() => {
    const counts = [...totals]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(
      `virtio device fuzz: ${SEEDS.length} cases (seeds ${BASE_SEED}…${BASE_SEED + SEEDS.length - 1}, ${STEPS} steps each) in ${Date.now() - started} ms; ${counts}`,
    );
  });

  // One test per seed: the name carries the seed, also when jest-circus fails a case on an
  // unhandled rejection (a listener of this file's own would not see one: its `process` is the
  // sandbox's).
  it.each(SEEDS)('seed %i: keeps every invariant', async (seed) => {
    tally('cases');
    const problems = await runCase(seed);
    if (problems.length > 0) {
      throw new Error(
        `virtio device fuzz: seed ${seed} (SCMI_FUZZ_SEED=${seed} SCMI_FUZZ_RUNS=1 reproduces it): ${problems.join('; ')}`,
      );
    }
  });
});
