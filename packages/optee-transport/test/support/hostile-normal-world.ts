/**
 * A hostile normal world for the secure-side fuzz campaign (`secure-side-fuzz.test.ts`): it writes
 * the call slots of a same-thread OP-TEE wire itself (no driver: the way a buggy kernel driver
 * could), rings the secure world, and scribbles on the shared memory — against the emulated
 * OP-TEE, its SCMI pseudo-TA and SCMI server, and a real `ScmiPlatform` behind a checking port.
 *
 * It carries the test's oracle: a model of the emulated secure world (sessions with their running
 * invocation and queued closes, registered shared memory with its users, channels with their
 * handle and claim, the platform's delayed responses and the server's platform timeout) that,
 * for every call, computes at the moment the secure world runs it what it must answer — the TEE
 * result and origin, the values and sizes written back into the slot, the bytes of the SMT area
 * or MSG buffer, and the counters it must move — from the rules of `core/pta/scmi.c` and
 * `core/drivers/scmi-msg/` as the README states them for the emulation. Everything the model
 * decides happens at the same instant of the `VirtualClock` as in the secure world: the checking
 * port arms the model's timers (a delayed response, the platform timeout) just before the SCMI
 * server arms its own, so ties fire in the same order.
 *
 * Limits of the model, by choice: it never posts an invocation into a session whose invocation
 * still waits for the platform unless a close is queued there first (then the invocation must be
 * refused BAD_PARAMETERS from the TEE, whatever it carries). An invocation queued behind a waiting
 * one would read its SMT area or MSG buffer only after the waiting one's response lands there, and
 * the enumerated tests (`emulated-optee.test.ts`) cover that order.
 */
import {
  isCommandHeader,
  readU32,
  sameCommandHeader,
  writeU32,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
  type TimerHandle,
  type VirtualClock,
} from '@scmi-ts/core';
import { TeeLogin } from '../../src/tee/tee-login.js';
import { TeeParamType } from '../../src/tee/tee-param.js';
import { TeeOrigin, TeeResult } from '../../src/tee/tee-result.js';
import { parseTeeUuid } from '../../src/tee/tee-uuid.js';
import {
  OPTEE_CALL_SLOT_BYTES,
  OpteeCallState,
  OpteeMsgAttr,
  OpteeMsgCmd,
  SLOT_CANCEL_ID,
  SLOT_CMD,
  SLOT_FUNC,
  SLOT_LOGIN,
  SLOT_NUM_PARAMS,
  SLOT_RET,
  SLOT_RET_ORIGIN,
  SLOT_SESSION,
  SLOT_STATE,
  SLOT_UUID,
  paramOffset,
} from '../../src/wire/optee-msg-arg.js';
import type { OpteeWireEnd } from '../../src/wire/optee-wire.js';
import {
  PTA_SCMI_CAPS_MASK,
  PTA_SCMI_UUID,
  PtaScmiCommand,
  SCMI_SEC_PAYLOAD_SIZE,
  SMT_BUF_SLOT_SIZE,
} from '../../src/wire/pta-scmi.js';
import {
  SMT_HEADER,
  SMT_HEADER_SIZE,
  SMT_LENGTH,
  SMT_PAYLOAD,
  SMT_STATUS,
  SMT_STATUS_ERROR,
  SMT_STATUS_FREE,
} from '../../src/wire/smt-layout.js';

const { NONE, VALUE_INPUT, VALUE_OUTPUT, VALUE_INOUT, MEMREF_INPUT, MEMREF_OUTPUT, MEMREF_INOUT } =
  TeeParamType;
const PTA_UUID = parseTeeUuid(PTA_SCMI_UUID);
/** OP-TEE's login methods (`TEE_LOGIN_*`): PUBLIC, USER, GROUP, APPLICATION*, REE_KERNEL. */
const KNOWN_LOGINS: ReadonlySet<number> = new Set([0, 1, 2, 4, 5, 6, 0x80000000]);
/** What the normal world leaves in SLOT_RET before posting: the secure world must overwrite it. */
export const RET_SENTINEL = 0x5eed5eed;
/** SCMI status PROTOCOL_ERROR, as the server writes it for a response too large for its buffer. */
const PROTOCOL_ERROR = -10 >>> 0;

/** A byte range of the wire memory, [start, end). */
export interface Range {
  readonly start: number;
  readonly end: number;
}

function overlaps(a: Range, b: Range): boolean {
  return a.start < b.end && b.start < a.end;
}

/** One parameter as the normal world writes it into a slot. */
export interface SlotParam {
  attr: number;
  a: number;
  b: number;
  c: number;
}

/** Everything the normal world writes into a call slot. */
export interface CallSpec {
  cmd: number;
  func: number;
  session: number;
  cancelId: number;
  numParams: number;
  login: number;
  uuid: Uint8Array;
  params: SlotParam[];
}

/** A call spec with every field zero/NONE. */
export function emptySpec(cmd: number): CallSpec {
  return {
    cmd,
    func: 0,
    session: 0,
    cancelId: 0,
    numParams: 0,
    login: 0,
    uuid: new Uint8Array(16),
    params: [0, 1, 2, 3].map(() => ({ attr: 0, a: 0, b: 0, c: 0 })),
  };
}

/** A parameter as the emulated OP-TEE core decodes it (`PtaParam`), plus where it came from. */
interface Decoded {
  type: number;
  a: number;
  b: number;
  size: number;
  address: number;
  hasBuffer: boolean;
}

/** A channel of the wire, as the model knows it. */
interface ModelChannel {
  readonly id: number;
  readonly area: Range | undefined;
  threaded: boolean;
  /** The message holding the claim while it waits for the platform. */
  waiting: Call | undefined;
  /**
   * An SMT message refused after the claim (`scmi_entry_smt`'s `out:` path) kept it: every later
   * message on the channel is refused as busy.
   */
  wedged: boolean;
}

interface ModelShm {
  readonly offset: number;
  readonly size: number;
  users: number;
}

interface ModelSession {
  readonly id: number;
  /** The invocation running (waiting for the platform). */
  running: Call | undefined;
  /** Work queued behind it (closes, and invocations posted after a close). */
  readonly queue: Call[];
}

/** What the model expects a response to look like once it lands (the platform's bytes). */
interface ResponseCheck {
  readonly kind: 'smt' | 'msg';
  /** The area (SMT) or p2's range (MSG). */
  readonly range: Range;
  readonly response: Uint8Array;
  /** The area's channel_status word as the server read it before writing FREE. */
  readonly statusBefore: number;
  /** p2's size (MSG). */
  readonly outSize: number;
}

/** One call the hostile world posted, with the model's expectation. */
export interface Call {
  readonly id: number;
  readonly slot: number;
  readonly label: string;
  readonly spec: CallSpec;
  /** Built as a proper call (a PTA command with a proper SCMI message, a proper open or close). */
  readonly proper: boolean;
  /** Writes the secure world may make for this call. */
  readonly allowed: Range[];
  /** Where its response lands (writes of others there make `clobbered`). */
  verifyRange: Range | undefined;
  /** Decoded parameters (invocations that passed the core's decode). */
  decoded: Decoded[] | undefined;
  /** Registered-memory cookies it holds (users). */
  shmRefs: number[];
  /** The result the model computed, once the secure world ran the call. */
  result: { ret: number; origin: number } | undefined;
  /** Values the slot's parameters must hold after the return (index, a, b) and sizes. */
  outValues: { i: number; a: number; b: number }[];
  outSizes: { i: number; size: number }[];
  /** Session id the slot must carry after a successful open. */
  openedSession: number | undefined;
  /** The response the area or buffer must hold. */
  response: ResponseCheck | undefined;
  /** An SMT area that must carry ERROR | FREE (smtFail). */
  smtFailArea: Range | undefined;
  /** SMT request header (or MSG), for the echo check of proper calls. */
  requestHeader: number | undefined;
  /** Another call or a hostile write touched its response range while in flight. */
  clobbered: string | undefined;
  /** How it ended (for the summary): 'answered', 'busy', 'timeout', … */
  outcome: string;
  waitingChannel: ModelChannel | undefined;
  /** Model timers (delayed response, timeout) of a message waiting for the platform. */
  timers: TimerHandle[];
}

/** The counters the model expects of `EmulatedOptee.stats` and the platform. */
export interface ExpectedCounters {
  calls: number;
  cancelRequests: number;
  cancelledInvocations: number;
  refusedCalls: number;
  callsOverRunningSlot: number;
  ptaRefused: number;
  withoutArea: number;
  messages: number;
  rejected: number;
  busy: number;
  platformTimeouts: number;
  strayResponses: number;
  platformRequests: number;
  platformDropped: number;
}

/** A request the platform must see next (the model predicted it). */
interface PlatformExpectation {
  readonly call: Call;
  readonly channelId: number;
  readonly request: Uint8Array;
  /** Delay of the response in ms (the hostile world holds it), or undefined to answer at once. */
  readonly delay: number | undefined;
}

/** Options of {@link HostileNormalWorld}. */
export interface HostileNormalWorldOptions {
  readonly wire: OpteeWireEnd;
  readonly clock: VirtualClock;
  /** The real platform behind the checking port. */
  readonly platform: ScmiPlatformPort;
  readonly platformTimeoutMs: number;
  readonly rng: () => number;
}

/**
 * The hostile normal world and its model of the secure world. Use {@link port} as the emulated
 * OP-TEE's platform; {@link post} calls, {@link ring}, then let the clock run.
 */
export class HostileNormalWorld {
  public readonly memory: SharedArrayBuffer;
  public readonly bytes: Uint8Array;
  public readonly view: DataView;
  public readonly words: Int32Array;
  public readonly wire: OpteeWireEnd;
  public readonly clock: VirtualClock;
  public readonly counters: ExpectedCounters = {
    calls: 0,
    cancelRequests: 0,
    cancelledInvocations: 0,
    refusedCalls: 0,
    callsOverRunningSlot: 0,
    ptaRefused: 0,
    withoutArea: 0,
    messages: 0,
    rejected: 0,
    busy: 0,
    platformTimeouts: 0,
    strayResponses: 0,
    platformRequests: 0,
    platformDropped: 0,
  };
  /** Broken invariants seen inside callbacks (the platform port, the model's timers). */
  public readonly violations: string[] = [];
  public readonly channels = new Map<number, ModelChannel>();
  public readonly shm = new Map<number, ModelShm>();
  public readonly sessions = new Map<number, ModelSession>();
  /** Sessions closed (ids the hostile world may reuse). */
  public readonly closedSessions: number[] = [];
  /** Cookies unregistered (the hostile world may reference them). */
  public readonly freedCookies: number[] = [];
  /** Calls posted and not yet collected, by slot. */
  public readonly inFlight = new Map<number, Call>();
  /** Delayed platform responses still to come (the model's own count). */
  public pendingDeliveries = 0;
  /** Hold the next message's response (a burst's first message keeps its channel claimed). */
  public holdNext = false;
  /** Set once the emulated OP-TEE is closed: held responses then reach nobody. */
  public secureClosed = false;
  /** Probability that the platform's answer is held back (set per phase). */
  public delayChance = 0.15;
  readonly #platform: ScmiPlatformPort;
  readonly #timeoutMs: number;
  readonly #rng: () => number;
  readonly #expectations: PlatformExpectation[] = [];
  #link: PlatformAgentLink | undefined;
  #nextSession = 1;
  #nextId = 0;
  /** Calls of the current step (for clobber marking). */
  #stepCalls: Call[] = [];

  public constructor(o: HostileNormalWorldOptions) {
    this.wire = o.wire;
    this.memory = o.wire.memory;
    this.bytes = new Uint8Array(this.memory);
    this.view = new DataView(this.memory);
    this.words = new Int32Array(this.memory);
    this.clock = o.clock;
    this.#platform = o.platform;
    this.#timeoutMs = o.platformTimeoutMs;
    this.#rng = o.rng;
    for (const c of o.wire.layout.channels.values()) {
      this.channels.set(c.id, {
        id: c.id,
        area:
          c.shmemOffset === undefined
            ? undefined
            : { start: c.shmemOffset, end: c.shmemOffset + c.shmemSize },
        threaded: false,
        waiting: undefined,
        wedged: false,
      });
    }
    o.wire.doorbell.listen(() => undefined);
  }

  /**
   * The platform port the emulated OP-TEE gets: it checks that every request it forwards is one
   * the model predicted — channel, exact bytes, a header and at most 92 bytes of payload — and
   * holds the responses the model decided to delay.
   */
  public readonly port: ScmiPlatformPort = {
    connect: (agentId: number, link: PlatformAgentLink): PlatformConnection => {
      this.#link = link;
      return this.#platform.connect(agentId, link);
    },
    handle: (agentId: number, channelId: number, request: Uint8Array): Uint8Array | undefined => {
      const exp = this.#expectations.shift();
      const hex = Buffer.from(request).toString('hex');
      if (request.byteLength < 4 || request.byteLength - 4 > SCMI_SEC_PAYLOAD_SIZE) {
        this.violations.push(
          `the platform got a malformed request of ${request.byteLength} bytes on channel ${channelId}`,
        );
      }
      if (exp === undefined) {
        this.violations.push(`the platform got a request the model did not expect: ${hex}`);
        return this.#platform.handle(agentId, channelId, request);
      }
      if (
        exp.channelId !== channelId ||
        Buffer.compare(Buffer.from(exp.request), Buffer.from(request)) !== 0
      ) {
        this.violations.push(
          `${exp.call.label}: the platform got ${hex} on channel ${channelId}, the model expected ${Buffer.from(exp.request).toString('hex')} on ${exp.channelId}`,
        );
      }
      const response = this.#platform.handle(agentId, channelId, request);
      const command = isCommandHeader(readU32(request, 0));
      if (command !== (response !== undefined)) {
        this.violations.push(
          `${exp.call.label}: the platform ${response === undefined ? 'dropped a command' : 'answered a non-command'} (${hex})`,
        );
      }
      if (response === undefined) return undefined;
      const copy = response.slice();
      if (exp.delay === undefined) {
        exp.call.response = { ...(exp.call.response as ResponseCheck), response: copy };
        return response;
      }
      this.#hold(exp.call, channelId, readU32(request, 0), copy, exp.delay);
      return undefined;
    },
  };

  public slotBase(slot: number): number {
    return this.wire.layout.slotOffset(slot);
  }

  public slotState(slot: number): number {
    return Atomics.load(this.words, (this.slotBase(slot) + SLOT_STATE) / 4);
  }

  /** Starts a step: the calls it posts are compared against each other for clobbering. */
  public beginStep(): void {
    this.#stepCalls = [];
  }

  /** The normal world writes `bytes` at `offset` (hostile scribbles included): marks clobbered calls. */
  public scribble(offset: number, bytes: Uint8Array | number[], why: string): void {
    const data = Uint8Array.from(bytes);
    this.bytes.set(data, offset);
    this.#touch({ start: offset, end: offset + data.byteLength }, undefined, why);
  }

  public u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  public setU32(offset: number, value: number, why: string): void {
    const b = new Uint8Array(4);
    writeU32(b, 0, value >>> 0);
    this.scribble(offset, b, why);
  }

  /**
   * Writes `spec` into free slot `slot`, has the model evaluate it as the secure world will run it
   * (the slot is dispatched at the next ring, in slot order), and stores POSTED.
   */
  public post(slot: number, spec: CallSpec, label: string, proper: boolean): Call {
    const base = this.slotBase(slot);
    const v = this.view;
    v.setUint32(base + SLOT_CMD, spec.cmd >>> 0, true);
    v.setUint32(base + SLOT_FUNC, spec.func >>> 0, true);
    v.setUint32(base + SLOT_SESSION, spec.session >>> 0, true);
    v.setUint32(base + SLOT_CANCEL_ID, spec.cancelId >>> 0, true);
    v.setUint32(base + SLOT_RET, RET_SENTINEL, true);
    v.setUint32(base + SLOT_RET_ORIGIN, 0, true);
    v.setUint32(base + SLOT_NUM_PARAMS, spec.numParams >>> 0, true);
    v.setUint32(base + SLOT_LOGIN, spec.login >>> 0, true);
    this.bytes.set(spec.uuid, base + SLOT_UUID);
    for (let i = 0; i < 4; i++) {
      const p = spec.params[i] as SlotParam;
      const at = base + paramOffset(i);
      v.setUint32(at, p.attr >>> 0, true);
      v.setUint32(at + 4, p.a >>> 0, true);
      v.setUint32(at + 8, p.b >>> 0, true);
      v.setUint32(at + 12, p.c >>> 0, true);
    }
    const call: Call = {
      id: this.#nextId++,
      slot,
      label: `#${this.#nextId - 1} ${label} (slot ${slot})`,
      spec,
      proper,
      allowed: [
        { start: base + SLOT_STATE, end: base + SLOT_STATE + 4 },
        { start: base + SLOT_RET, end: base + SLOT_RET_ORIGIN + 4 },
      ],
      verifyRange: undefined,
      decoded: undefined,
      shmRefs: [],
      result: undefined,
      outValues: [],
      outSizes: [],
      openedSession: undefined,
      response: undefined,
      smtFailArea: undefined,
      requestHeader: undefined,
      clobbered: undefined,
      outcome: 'refused',
      waitingChannel: undefined,
      timers: [],
    };
    this.inFlight.set(slot, call);
    this.#stepCalls.push(call);
    this.counters.calls++;
    this.#dispatch(call);
    Atomics.store(this.words, (base + SLOT_STATE) / 4, OpteeCallState.POSTED);
    return call;
  }

  /**
   * Posts over a slot whose call is still running (a normal world writing a busy thread's slot):
   * the secure world must not take it.
   */
  public postOverRunning(slot: number, garbage: number[]): void {
    const base = this.slotBase(slot);
    // Everything but the state word, at random (the running call's results land over it).
    for (let i = 4; i < OPTEE_CALL_SLOT_BYTES; i += 4) {
      this.view.setUint32(base + i, (garbage[(i / 4) % garbage.length] as number) >>> 0, true);
    }
    Atomics.store(this.words, (base + SLOT_STATE) / 4, OpteeCallState.POSTED);
    this.counters.callsOverRunningSlot++;
  }

  public ring(): void {
    this.wire.doorbell.ring();
  }

  /** Stores FREE in a returned slot (the normal world read the results). */
  public release(slot: number): void {
    Atomics.store(this.words, (this.slotBase(slot) + SLOT_STATE) / 4, OpteeCallState.FREE);
    this.inFlight.delete(slot);
  }

  /** The writable ranges of every call in flight now. */
  public allowedRanges(): Range[] {
    const out: Range[] = [];
    for (const c of this.inFlight.values()) out.push(...c.allowed);
    return out;
  }

  // ---- the model ------------------------------------------------------------------------------

  #refuseTee(call: Call, ret: number): void {
    this.counters.refusedCalls++;
    call.result = { ret: ret >>> 0, origin: TeeOrigin.TEE };
  }

  #touch(range: Range, by: Call | undefined, why: string): void {
    const seen = new Set<Call>();
    for (const c of [...this.inFlight.values(), ...this.#stepCalls]) {
      if (c === by || seen.has(c)) continue;
      seen.add(c);
      const r = c.verifyRange ?? c.smtFailArea;
      if (r !== undefined && overlaps(r, range)) c.clobbered ??= why;
    }
  }

  #dispatch(call: Call): void {
    const s = call.spec;
    switch (s.cmd) {
      case OpteeMsgCmd.OPEN_SESSION:
        this.#open(call);
        return;
      case OpteeMsgCmd.INVOKE_COMMAND:
        this.#invoke(call);
        return;
      case OpteeMsgCmd.CLOSE_SESSION:
        this.#close(call);
        return;
      case OpteeMsgCmd.CANCEL:
        this.#cancel(call);
        return;
      case OpteeMsgCmd.REGISTER_SHM:
        this.#register(call);
        return;
      case OpteeMsgCmd.UNREGISTER_SHM:
        this.#unregister(call);
        return;
      default:
        this.#refuseTee(call, TeeResult.BAD_PARAMETERS);
    }
  }

  #open(call: Call): void {
    const s = call.spec;
    // `get_open_session_meta` refuses an unknown login method before the TA is looked up.
    if (!KNOWN_LOGINS.has(s.login >>> 0)) {
      this.#refuseTee(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    if (Buffer.compare(Buffer.from(s.uuid), Buffer.from(PTA_UUID)) !== 0) {
      this.#refuseTee(call, TeeResult.ITEM_NOT_FOUND);
      return;
    }
    if (s.login >>> 0 !== TeeLogin.REE_KERNEL) {
      this.counters.ptaRefused++;
      call.result = { ret: TeeResult.ACCESS_DENIED, origin: TeeOrigin.TRUSTED_APP };
      return;
    }
    const id = this.#nextSession++;
    this.sessions.set(id, { id, running: undefined, queue: [] });
    call.openedSession = id;
    const base = this.slotBase(call.slot);
    call.allowed.push({ start: base + SLOT_SESSION, end: base + SLOT_SESSION + 4 });
    call.result = { ret: TeeResult.SUCCESS, origin: TeeOrigin.TRUSTED_APP };
    call.outcome = 'opened';
  }

  #close(call: Call): void {
    // entry_close_session refuses any parameter before it looks for the session.
    if (call.spec.numParams >>> 0 !== 0) {
      this.#refuseTee(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    const id = call.spec.session >>> 0;
    const session = this.sessions.get(id);
    if (session === undefined) {
      this.#refuseTee(call, TeeResult.ITEM_NOT_FOUND);
      return;
    }
    if (session.running !== undefined || session.queue.length > 0) {
      session.queue.push(call);
      call.outcome = 'queued close';
      return;
    }
    this.#runClose(call, session);
  }

  #runClose(call: Call, session: ModelSession): void {
    if (this.sessions.get(session.id) !== session) {
      this.#refuseTee(call, TeeResult.ITEM_NOT_FOUND);
    } else {
      this.sessions.delete(session.id);
      this.closedSessions.push(session.id);
      call.result = { ret: TeeResult.SUCCESS, origin: TeeOrigin.TEE };
      if (call.outcome !== 'queued close') call.outcome = 'closed';
    }
  }

  /** Runs what is queued behind `session`'s finished invocation (closes; invocations refused). */
  #next(session: ModelSession): void {
    for (;;) {
      const work = session.queue.shift();
      if (work === undefined) return;
      if (work.spec.cmd === OpteeMsgCmd.CLOSE_SESSION) {
        this.#runClose(work, session);
        continue;
      }
      // An invocation queued behind a close: its session is gone (the model posts none other).
      if (this.sessions.get(session.id) === session) {
        this.violations.push(`${work.label}: the model queued an invocation it cannot predict`);
      }
      this.counters.refusedCalls++;
      this.#finishInvocation(work, TeeResult.BAD_PARAMETERS, TeeOrigin.TEE);
    }
  }

  #cancel(call: Call): void {
    this.counters.cancelRequests++;
    // entry_cancel refuses any parameter before it looks for the session.
    if (call.spec.numParams >>> 0 !== 0) {
      this.#refuseTee(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    const session = this.sessions.get(call.spec.session >>> 0);
    if (session === undefined) {
      this.#refuseTee(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    call.result = { ret: TeeResult.SUCCESS, origin: TeeOrigin.TEE };
    call.outcome = 'cancel';
    const running = session.running;
    if (running !== undefined && !running.outcome.includes('cancelled')) {
      running.outcome += ' cancelled';
      this.counters.cancelledInvocations++;
    }
  }

  #register(call: Call): void {
    const s = call.spec;
    const p = s.params[0] as SlotParam;
    const layout = this.wire.layout;
    if (
      s.numParams >>> 0 !== 1 ||
      p.attr >>> 0 !== OpteeMsgAttr.TMEM_OUTPUT ||
      p.b >>> 0 === 0 ||
      p.a >>> 0 < layout.poolOffset ||
      (p.a >>> 0) + (p.b >>> 0) > layout.poolOffset + layout.poolSize ||
      this.shm.has(p.c >>> 0)
    ) {
      this.#refuseTee(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    this.shm.set(p.c >>> 0, { offset: p.a >>> 0, size: p.b >>> 0, users: 0 });
    call.result = { ret: TeeResult.SUCCESS, origin: TeeOrigin.TEE };
    call.outcome = 'registered';
  }

  #unregister(call: Call): void {
    const cookie = (call.spec.params[0] as SlotParam).c >>> 0;
    const shm = this.shm.get(cookie);
    if (call.spec.numParams >>> 0 !== 1 || shm === undefined) {
      this.#refuseTee(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    if (shm.users > 0) {
      this.#refuseTee(call, TeeResult.BUSY);
      return;
    }
    this.shm.delete(cookie);
    this.freedCookies.push(cookie);
    call.result = { ret: TeeResult.SUCCESS, origin: TeeOrigin.TEE };
    call.outcome = 'unregistered';
  }

  /** The parameters as OP-TEE's `copy_in_params` reads them, or the TEE result refusing them. */
  #decode(call: Call): Decoded[] | TeeResult {
    const s = call.spec;
    const n = s.numParams >>> 0;
    if (n > 4) return TeeResult.BAD_PARAMETERS;
    const out: Decoded[] = [];
    const refs: number[] = [];
    for (let i = 0; i < 4; i++) {
      const p = s.params[i] as SlotParam;
      const attr = i < n ? p.attr >>> 0 : OpteeMsgAttr.NONE;
      const a = p.a >>> 0;
      const b = p.b >>> 0;
      const c = p.c >>> 0;
      switch (attr) {
        case OpteeMsgAttr.NONE:
          out.push({ type: NONE, a: 0, b: 0, size: 0, address: 0, hasBuffer: false });
          break;
        case OpteeMsgAttr.VALUE_INPUT:
        case OpteeMsgAttr.VALUE_OUTPUT:
        case OpteeMsgAttr.VALUE_INOUT: {
          const out0 = attr === OpteeMsgAttr.VALUE_OUTPUT;
          out.push({
            type: attr,
            a: out0 ? 0 : a,
            b: out0 ? 0 : b,
            size: 0,
            address: 0,
            hasBuffer: false,
          });
          break;
        }
        case OpteeMsgAttr.RMEM_INPUT:
        case OpteeMsgAttr.RMEM_OUTPUT:
        case OpteeMsgAttr.RMEM_INOUT: {
          const shm = this.shm.get(c);
          // `set_rmem_param`: an unknown cookie BAD_PARAMETERS, past the buffer's end SECURITY.
          if (shm === undefined) return TeeResult.BAD_PARAMETERS;
          if (a + b > shm.size) return TeeResult.SECURITY;
          out.push({
            type: attr,
            a: 0,
            b: 0,
            size: b,
            address: shm.offset + a,
            hasBuffer: b !== 0,
          });
          if (!refs.includes(c)) refs.push(c);
          break;
        }
        default:
          return TeeResult.BAD_PARAMETERS;
      }
    }
    call.shmRefs = refs;
    return out;
  }

  #invoke(call: Call): void {
    const session = this.sessions.get(call.spec.session >>> 0);
    if (session === undefined) {
      this.#refuseTee(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    const decoded = this.#decode(call);
    if (typeof decoded === 'number') {
      this.#refuseTee(call, decoded);
      return;
    }
    call.decoded = decoded;
    const base = this.slotBase(call.slot);
    decoded.forEach((p, i) => {
      const at = base + paramOffset(i);
      if (p.type === VALUE_OUTPUT || p.type === VALUE_INOUT) {
        call.allowed.push({ start: at + 4, end: at + 12 });
        call.outValues.push({ i, a: p.a, b: p.b });
      } else if (p.type === MEMREF_OUTPUT || p.type === MEMREF_INOUT) {
        call.allowed.push({ start: at + 8, end: at + 12 });
        call.outSizes.push({ i, size: p.size });
        if (p.hasBuffer) call.allowed.push({ start: p.address, end: p.address + p.size });
      }
    });
    if (call.spec.func >>> 0 === PtaScmiCommand.PROCESS_SMT_CHANNEL) {
      const area = this.channels.get((decoded[0] as Decoded).a)?.area;
      if ((decoded[0] as Decoded).type === VALUE_INPUT && area !== undefined) {
        call.allowed.push(area);
      }
    }
    for (const ref of call.shmRefs) (this.shm.get(ref) as ModelShm).users++;
    if (session.running !== undefined || session.queue.length > 0) {
      session.queue.push(call);
      call.outcome = 'queued invocation';
      return;
    }
    this.#pta(call, session, decoded);
  }

  #finishInvocation(call: Call, ret: number, origin: number): void {
    for (const ref of call.shmRefs) {
      const shm = this.shm.get(ref);
      if (shm !== undefined) shm.users--;
    }
    call.result = { ret: ret >>> 0, origin };
  }

  #ptaRefuse(call: Call, ret: number): void {
    this.counters.ptaRefused++;
    this.#finishInvocation(call, ret, TeeOrigin.TRUSTED_APP);
  }

  #ta(call: Call, ret: number): void {
    this.#finishInvocation(call, ret, TeeOrigin.TRUSTED_APP);
  }

  #pta(call: Call, session: ModelSession, p: Decoded[]): void {
    const types = (t0: number, t1 = NONE, t2 = NONE, t3 = NONE): boolean =>
      p[0]?.type === t0 && p[1]?.type === t1 && p[2]?.type === t2 && p[3]?.type === t3;
    const func = call.spec.func >>> 0;
    const setValue = (a: number, b: number): void => {
      const o = call.outValues.find((x) => x.i === 0);
      if (o !== undefined) {
        o.a = a >>> 0;
        o.b = b >>> 0;
      }
    };
    switch (func) {
      case PtaScmiCommand.CAPABILITIES:
        if (!types(VALUE_OUTPUT)) {
          this.#ptaRefuse(call, TeeResult.BAD_PARAMETERS);
          return;
        }
        setValue(PTA_SCMI_CAPS_MASK, 0);
        call.outcome = 'capabilities';
        this.#ta(call, TeeResult.SUCCESS);
        return;
      case PtaScmiCommand.GET_CHANNEL_HANDLE: {
        const v = p[0] as Decoded;
        if (!types(VALUE_INOUT) || (v.b & ~PTA_SCMI_CAPS_MASK) !== 0) {
          this.#ptaRefuse(call, TeeResult.BAD_PARAMETERS);
          return;
        }
        if ((v.b & PTA_SCMI_CAPS_MASK) === 0) {
          this.#ptaRefuse(call, TeeResult.NOT_SUPPORTED);
          return;
        }
        const channel = this.channels.get(v.a);
        if (channel === undefined) {
          this.#ptaRefuse(call, TeeResult.BAD_PARAMETERS);
          return;
        }
        channel.threaded = true;
        setValue(channel.id, v.b);
        call.outcome = 'channel handle';
        this.#ta(call, TeeResult.SUCCESS);
        return;
      }
      case PtaScmiCommand.PROCESS_SMT_CHANNEL:
      case PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE:
      case PtaScmiCommand.PROCESS_MSG_CHANNEL:
        break;
      default:
        this.#ptaRefuse(call, TeeResult.NOT_SUPPORTED);
        return;
    }
    const want =
      func === PtaScmiCommand.PROCESS_SMT_CHANNEL
        ? types(VALUE_INPUT)
        : func === PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE
          ? types(VALUE_INPUT, MEMREF_INOUT)
          : types(VALUE_INPUT, MEMREF_INPUT, MEMREF_OUTPUT) &&
            (p[1] as Decoded).hasBuffer &&
            (p[2] as Decoded).hasBuffer;
    if (!want) {
      this.#ptaRefuse(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    if (
      func === PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE &&
      (p[1] as Decoded).size < SMT_BUF_SLOT_SIZE
    ) {
      this.#ptaRefuse(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    const channel = this.channels.get((p[0] as Decoded).a);
    if (channel === undefined) {
      this.#ptaRefuse(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    if (!channel.threaded) {
      this.#ptaRefuse(call, TeeResult.BAD_STATE);
      return;
    }
    if (func === PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE && channel.area !== undefined) {
      this.#ptaRefuse(call, TeeResult.BAD_STATE);
      return;
    }
    if (func === PtaScmiCommand.PROCESS_MSG_CHANNEL) {
      this.#msgEntry(call, session, channel, p[1] as Decoded, p[2] as Decoded);
      return;
    }
    const p1 = p[1] as Decoded;
    const area =
      func === PtaScmiCommand.PROCESS_SMT_CHANNEL
        ? channel.area
        : { start: p1.address, end: p1.address + p1.size };
    if (area === undefined) {
      this.counters.withoutArea++;
      call.outcome = 'without area';
      this.#ta(call, TeeResult.SUCCESS);
      return;
    }
    this.#smtEntry(call, session, channel, area);
  }

  #smtFail(call: Call, area: Range, outcome: string): void {
    call.outcome = outcome;
    call.smtFailArea = area;
    call.response = undefined;
    call.verifyRange = undefined;
    this.#touch(area, call, `${call.label} set ERROR | FREE`);
    this.#ta(call, TeeResult.SUCCESS);
  }

  #smtEntry(call: Call, session: ModelSession, channel: ModelChannel, area: Range): void {
    if (channel.waiting !== undefined || channel.wedged) {
      this.counters.busy++;
      this.#smtFail(call, area, 'busy');
      return;
    }
    const status = this.u32(area.start + SMT_STATUS);
    const inSize = (this.u32(area.start + SMT_LENGTH) - 4) >>> 0;
    if (
      inSize > SCMI_SEC_PAYLOAD_SIZE ||
      SMT_PAYLOAD + inSize > area.end - area.start ||
      (status & (SMT_STATUS_ERROR | SMT_STATUS_FREE)) !== 0
    ) {
      this.counters.rejected++;
      channel.wedged = true;
      this.#smtFail(call, area, 'rejected');
      return;
    }
    const request = this.bytes.slice(area.start + SMT_HEADER, area.start + SMT_PAYLOAD + inSize);
    call.response = {
      kind: 'smt',
      range: area,
      response: new Uint8Array(0),
      statusBefore: status,
      outSize: 0,
    };
    call.verifyRange = area;
    this.#touch(area, call, `${call.label} wrote its SMT response`);
    this.#toPlatform(call, session, channel, request, () => this.#smtFail(call, area, 'dropped'));
  }

  #msgEntry(
    call: Call,
    session: ModelSession,
    channel: ModelChannel,
    input: Decoded,
    output: Decoded,
  ): void {
    if (
      input.size < 4 ||
      input.size - 4 > SCMI_SEC_PAYLOAD_SIZE ||
      input.address % 4 !== 0 ||
      output.size < 8 ||
      output.address % 4 !== 0
    ) {
      this.counters.rejected++;
      call.outcome = 'rejected';
      this.#ta(call, TeeResult.BAD_PARAMETERS);
      return;
    }
    if (channel.waiting !== undefined || channel.wedged) {
      this.counters.busy++;
      call.outcome = 'busy';
      this.#ta(call, TeeResult.BUSY);
      return;
    }
    const request = this.bytes.slice(input.address, input.address + input.size);
    const range = { start: output.address, end: output.address + output.size };
    call.response = {
      kind: 'msg',
      range,
      response: new Uint8Array(0),
      statusBefore: 0,
      outSize: output.size,
    };
    call.verifyRange = range;
    this.#touch(range, call, `${call.label} wrote its MSG response`);
    this.#toPlatform(call, session, channel, request, () => {
      call.outcome = 'dropped';
      call.response = undefined;
      this.#ta(call, TeeResult.COMMUNICATION);
    });
  }

  /** The request reaches the platform: answered now, held (waiting), or dropped (not a command). */
  #toPlatform(
    call: Call,
    session: ModelSession,
    channel: ModelChannel,
    request: Uint8Array,
    dropped: () => void,
  ): void {
    this.counters.messages++;
    const header = readU32(request, 0);
    call.requestHeader = header;
    const command = isCommandHeader(header);
    const held = this.holdNext || this.#rng() < this.delayChance;
    this.holdNext = false;
    const delay = command && held ? this.#pickDelay() : undefined;
    this.#expectations.push({ call, channelId: channel.id, request, delay });
    if (!command) {
      this.counters.platformDropped++;
      this.counters.rejected++;
      dropped();
      return;
    }
    this.counters.platformRequests++;
    if (delay === undefined) {
      call.outcome = 'answered';
      this.#ta(call, TeeResult.SUCCESS);
      if (call.response?.kind === 'msg') this.#setMsgSize(call);
      return;
    }
    call.outcome = 'waiting';
    call.waitingChannel = channel;
    channel.waiting = call;
    session.running = call;
  }

  #pickDelay(): number {
    const r = this.#rng();
    if (r < 0.1) return this.#timeoutMs; // a tie with the platform timeout: the response wins
    if (r < 0.6) return 1 + Math.floor(this.#rng() * (this.#timeoutMs - 1));
    return this.#timeoutMs + 1 + Math.floor(this.#rng() * 80);
  }

  /** MSG: p2's size once the response is known (set when the check runs). */
  #setMsgSize(call: Call): void {
    call.outSizes = call.outSizes.map((o) => (o.i === 2 ? { i: 2, size: -1 } : o));
  }

  /** Holds `response` for `delay` ms; the model's timeout timer is armed before the server's. */
  #hold(call: Call, channelId: number, header: number, response: Uint8Array, delay: number): void {
    this.pendingDeliveries++;
    const deliver = this.clock.setTimeout(() => {
      this.pendingDeliveries--;
      if (!this.secureClosed) this.#deliver(channelId, header, response);
      this.#link?.respond(channelId, response, header);
    }, delay);
    const timeout = this.clock.setTimeout(() => {
      this.#resolve(call, undefined);
    }, this.#timeoutMs);
    call.timers.push(deliver, timeout);
  }

  /** A held response arrives: it goes to the channel's waiting message when it answers it. */
  #deliver(channelId: number, header: number, response: Uint8Array): void {
    const channel = this.channels.get(channelId) as ModelChannel;
    const waiting = channel.waiting;
    if (waiting === undefined || !sameCommandHeader(header, waiting.requestHeader as number)) {
      this.counters.strayResponses++;
      return;
    }
    this.#resolve(waiting, response);
  }

  /** A waiting message ends: with `response`, or after the platform timeout (undefined). */
  #resolve(call: Call, response: Uint8Array | undefined): void {
    const channel = call.waitingChannel as ModelChannel;
    if (channel.waiting !== call) return;
    (call.timers[1] as TimerHandle).cancel();
    channel.waiting = undefined;
    const session = [...this.sessions.values()].find((s) => s.running === call);
    if (response === undefined) {
      this.counters.platformTimeouts++;
      if (call.response?.kind === 'smt') {
        this.#smtFail(call, call.response.range, 'timeout');
      } else {
        call.outcome = 'timeout';
        call.response = undefined;
        call.verifyRange = undefined;
        this.#ta(call, TeeResult.COMMUNICATION);
      }
    } else {
      call.outcome = 'answered late';
      if (call.response !== undefined) {
        if (call.response.kind === 'smt') {
          call.response = {
            ...call.response,
            response,
            statusBefore: this.u32(call.response.range.start + SMT_STATUS),
          };
        } else {
          call.response = { ...call.response, response };
          this.#setMsgSize(call);
        }
        this.#touch(call.response.range, call, `${call.label}'s late response landed`);
      }
      this.#ta(call, TeeResult.SUCCESS);
    }
    if (session !== undefined) {
      session.running = undefined;
      this.#next(session);
    }
  }

  // ---- checks ---------------------------------------------------------------------------------

  /**
   * Checks a returned call against the model: result, origin, what came back in the slot and in
   * the shared memory. Returns the problems found.
   */
  public verify(call: Call): string[] {
    const problems: string[] = [];
    const base = this.slotBase(call.slot);
    const v = this.view;
    const ret = v.getUint32(base + SLOT_RET, true);
    const origin = v.getUint32(base + SLOT_RET_ORIGIN, true);
    if (call.result === undefined) {
      problems.push(
        `${call.label} returned 0x${ret.toString(16)}/${origin} while the model has it ${call.outcome}`,
      );
      return problems;
    }
    if (ret !== call.result.ret || origin !== call.result.origin) {
      problems.push(
        `${call.label} (${call.outcome}) returned 0x${ret.toString(16)} origin ${origin}, expected 0x${call.result.ret.toString(16)} origin ${call.result.origin}`,
      );
    }
    if (call.openedSession !== undefined) {
      const s = v.getUint32(base + SLOT_SESSION, true);
      if (s !== call.openedSession)
        problems.push(`${call.label}: session ${s}, expected ${call.openedSession}`);
    }
    for (const o of call.outValues) {
      const at = base + paramOffset(o.i);
      const a = v.getUint32(at + 4, true);
      const b = v.getUint32(at + 8, true);
      if (a !== o.a || b !== o.b) {
        problems.push(`${call.label}: p${o.i} value (${a}, ${b}), expected (${o.a}, ${o.b})`);
      }
    }
    const r = call.response;
    for (const o of call.outSizes) {
      const size = v.getUint32(base + paramOffset(o.i) + 8, true);
      let expected = o.size;
      if (o.size === -1 && r !== undefined) {
        const fits = r.response.byteLength - 4 <= r.outSize - 4;
        expected = fits ? r.response.byteLength : 8;
      }
      const given = call.decoded?.[o.i]?.size ?? 0;
      if (size > given) {
        problems.push(`${call.label}: p${o.i} output size ${size} past the ${given} bytes given`);
      }
      if (size !== expected) {
        problems.push(`${call.label}: p${o.i} output size ${size}, expected ${expected}`);
      }
    }
    if (call.clobbered !== undefined) return problems;
    if (call.smtFailArea !== undefined) {
      const status = this.u32(call.smtFailArea.start + SMT_STATUS);
      if ((status & (SMT_STATUS_ERROR | SMT_STATUS_FREE)) !== (SMT_STATUS_ERROR | SMT_STATUS_FREE))
        problems.push(`${call.label} (${call.outcome}): channel_status 0x${status.toString(16)}`);
    }
    if (r !== undefined && call.result.ret === TeeResult.SUCCESS && r.response.byteLength >= 4) {
      const expected = this.#expectedBytes(r);
      const at = r.kind === 'smt' ? r.range.start + SMT_HEADER : r.range.start;
      const got = this.bytes.slice(at, at + expected.byteLength);
      if (Buffer.compare(Buffer.from(got), Buffer.from(expected)) !== 0) {
        problems.push(
          `${call.label}: response ${Buffer.from(got).toString('hex')}, expected ${Buffer.from(expected).toString('hex')}`,
        );
      }
      if (r.kind === 'smt') {
        const length = this.u32(r.range.start + SMT_LENGTH);
        const status = this.u32(r.range.start + SMT_STATUS);
        if (length !== expected.byteLength || SMT_HEADER + length > r.range.end - r.range.start) {
          problems.push(`${call.label}: SMT length ${length}, expected ${expected.byteLength}`);
        }
        if (status !== (r.statusBefore | SMT_STATUS_FREE) >>> 0) {
          problems.push(`${call.label}: channel_status 0x${status.toString(16)}`);
        }
      }
      if (call.proper && readU32(r.response, 0) !== call.requestHeader) {
        problems.push(
          `${call.label}: the response header 0x${readU32(r.response, 0).toString(16)} does not echo the command 0x${(call.requestHeader ?? 0).toString(16)}`,
        );
      }
    }
    return problems;
  }

  /** The bytes (header on) the server must have written for response check `r`. */
  #expectedBytes(r: ResponseCheck): Uint8Array {
    const capacity =
      r.kind === 'smt' ? r.range.end - r.range.start - SMT_HEADER_SIZE : r.outSize - 4;
    if (r.response.byteLength - 4 > capacity) {
      const out = new Uint8Array(8);
      out.set(r.response.subarray(0, 4));
      writeU32(out, 4, PROTOCOL_ERROR);
      return out;
    }
    return r.response;
  }
}
