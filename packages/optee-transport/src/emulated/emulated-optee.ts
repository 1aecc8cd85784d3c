import { ScmiConfigError, formatValue, type Clock, type ScmiPlatformPort } from '@scmi-ts/core';
import { TeeLogin } from '../tee/tee-login.js';
import { TeeParamType } from '../tee/tee-param.js';
import { TeeOrigin, TeeResult } from '../tee/tee-result.js';
import { formatTeeUuid } from '../tee/tee-uuid.js';
import { OpteeCallState, OpteeMsgAttr, OpteeMsgCmd } from '../wire/optee-msg-arg.js';
import * as msgArg from '../wire/optee-msg-arg.js';
import {
  TEE_STATE_CLOSED,
  TEE_STATE_RUNNING,
  WIRE_TEE_STATE_WORD,
} from '../wire/optee-wire-layout.js';
import type { OpteeWireEnd } from '../wire/optee-wire.js';
import { PTA_SCMI_CAPS_MASK, checkMsgBufferSize } from '../wire/pta-scmi.js';
import { OpteeWireFaults, type OpteeWireFault } from './optee-wire-fault.js';
import type { PseudoTa, PtaInvocation, PtaParam } from './pseudo-ta.js';
import { ScmiMsgServer, type ScmiMsgServerStats } from './scmi-msg-server.js';
import { ScmiPta, type ScmiPtaStats } from './scmi-pta.js';

// Hot imported values read once, at load: the per-call paths then read module-local bindings,
// not properties of other modules' exports (a getter call per access under CommonJS loaders such
// as tsx's).
const {
  SLOT_CMD,
  SLOT_FUNC,
  SLOT_LOGIN,
  SLOT_NUM_PARAMS,
  SLOT_RET,
  SLOT_RET_ORIGIN,
  SLOT_SESSION,
  SLOT_STATE,
  SLOT_UUID,
  SLOT_MAX_PARAMS,
  paramOffset,
} = msgArg;
const MsgAttr = OpteeMsgAttr;
const MsgCmd = OpteeMsgCmd;
const ParamType = TeeParamType;
const Result = TeeResult;

/** The login methods the TEE core accepts at session open (every `TeeLogin`). */
const KNOWN_LOGINS: ReadonlySet<number> = new Set(
  Object.values(TeeLogin).filter((v): v is number => typeof v === 'number'),
);
const Origin = TeeOrigin;
const { POSTED, RUNNING, RETURNED } = OpteeCallState;

/** Options of an {@link EmulatedOptee}. */
export interface EmulatedOpteeOptions {
  /** The secure world's end of the wire. */
  readonly wire: OpteeWireEnd;
  /** The SCMI platform the SCMI server forwards messages to (an `ScmiPlatform` in tests and the demo). */
  readonly platform: ScmiPlatformPort;
  /** The SCMI agent id of the normal world (as the platform configuration names it). */
  readonly agentId: number;
  /** The clock of the platform-timeout timers (the platform's clock). */
  readonly clock: Clock;
  /**
   * The SCMI PTA's capabilities (`PtaScmiCaps` bits), standing for OP-TEE's build options
   * `CFG_SCMI_MSG_SMT` and `CFG_SCMI_MSG_SHM_MSG`; default both.
   */
  readonly capabilities?: number;
  /**
   * How long a message waits for a platform response that a fault rule delayed or dropped, in
   * ms, before the SCMI server gives up with a channel error; default 50.
   */
  readonly platformTimeoutMs?: number;
  /**
   * Size in bytes of the MSG buffers the normal world registers and passes as p2 (its
   * `transportConfig.msgBufferSize`): the SCMI server sizes every response to it less the 4-byte
   * header (or to the smallest static SMT area, when smaller), where OP-TEE sizes each response
   * to its own p2. Default `SCMI_SHMEM_MAX_PAYLOAD_SIZE` (104), as current Linux; 128 for an agent
   * that sizes its buffers as older kernels did. An integer from 8 to 128, else a
   * `ScmiConfigError` naming `msgBufferSize`. Larger than an agent's buffer, it has the platform
   * size multi-part replies past that agent's p2, which the server then answers PROTOCOL_ERROR.
   */
  readonly msgBufferSize?: number;
  /** Wire fault rules to add at once. */
  readonly faults?: readonly OpteeWireFault[];
}

/** Counters of an {@link EmulatedOptee}. */
export interface EmulatedOpteeStats {
  /** Calls taken from the wire. */
  readonly calls: number;
  /** Sessions open now. */
  readonly openSessions: number;
  /** Shared memories registered now. */
  readonly registeredShm: number;
  /** Cancel requests received (refused ones included). */
  readonly cancelRequests: number;
  /** Invocations that were running when a cancel request for them arrived. */
  readonly cancelledInvocations: number;
  /**
   * Calls whose processing threw inside the emulated secure world (the platform threw, say):
   * each was answered `TEE_ERROR_GENERIC` from the TEE (origin TEE) and its SCMI channel
   * released, instead of the exception escaping the doorbell and leaving the call slot running.
   */
  readonly internalErrors: number;
  /**
   * Calls the emulated OP-TEE core refused before any TA saw them, with an error from origin TEE:
   * an unknown command, TA or session, bad parameters or memory references (a close or cancel
   * request with any parameter too), shared memory still in use (TEE_ERROR_ITEM_NOT_FOUND,
   * TEE_ERROR_BAD_PARAMETERS, TEE_ERROR_BUSY). A normal world that keeps track of its sessions
   * and memory sees none.
   */
  readonly refusedCalls: number;
  /**
   * Calls posted into a call slot whose previous call was still running (the normal world wrote a
   * busy OP-TEE thread's slot): not taken, never dispatched. The running call returns in that slot
   * as usual; the slot cannot carry two calls, and two calls sharing it would have the second
   * answered with the first one's results. A normal world that waits for RETURNED sees none.
   */
  readonly callsOverRunningSlot: number;
  /** The SCMI pseudo TA's counters: what it refused itself, before the SCMI server. */
  readonly pta: ScmiPtaStats;
  /** The SCMI server's counters. */
  readonly scmi: ScmiMsgServerStats;
}

interface CoreSession {
  readonly id: number;
  readonly ta: PseudoTa;
  running: Invocation | undefined;
  readonly queue: (() => void)[];
}

class Invocation implements PtaInvocation {
  public cancelled = false;
  public onCancel: (() => void) | undefined = undefined;
  #done = false;

  public constructor(
    public readonly core: CoreSession,
    public readonly slot: number,
    public readonly command: number,
    public readonly params: readonly PtaParam[],
    public readonly shmRefs: readonly number[],
    private readonly finish: (inv: Invocation, result: number, origin: TeeOrigin) => void,
    private readonly onCrash: (error: unknown) => void,
  ) {}

  /** The session id. */
  public get session(): number {
    return this.core.id;
  }

  public complete(result: number): void {
    if (this.#done) return;
    this.#done = true;
    this.finish(this, result >>> 0, Origin.TRUSTED_APP);
  }

  public crash(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.onCrash(error);
    this.finish(this, Result.GENERIC, Origin.TEE);
  }

  /** Ends the invocation before it reaches the TA, with the TEE's `result`. */
  public refuse(result: number): void {
    if (this.#done) return;
    this.#done = true;
    this.finish(this, result, Origin.TEE);
  }
}

/**
 * An emulated OP-TEE (the secure world) on the secure end of an OP-TEE wire: it takes calls from
 * the call slots when the normal world rings (OP-TEE's `tee_entry_std`: open session, invoke,
 * close session, cancel, register and unregister shared memory), checks sessions and memory
 * references like OP-TEE's core, and runs its one pseudo TA, the SCMI PTA
 * (`a8cfe406-d4f5-4a2e-9f8d-a25dc754c099`), whose SCMI server forwards messages to an
 * {@link ScmiPlatformPort}. It runs in the caller's thread (a same-thread wire, every step a task
 * on the clock) or in a worker thread (a cross-thread wire).
 *
 * Calls of one session run one at a time, in order (`tee_ta_get_session` takes a session
 * exclusively); calls of different sessions run concurrently. {@link EmulatedOptee.close} answers
 * every call still running with `TEE_ERROR_TARGET_DEAD`. A call whose processing throws (the
 * platform threw, say) is answered `TEE_ERROR_GENERIC` from the TEE and counted
 * (`stats.internalErrors`); the exception never escapes into the doorbell or the platform.
 *
 * @example
 * ```ts
 * const wire = createSameThreadOpteeWire(clock, { channels: [{ id: 0, staticShmem: true }] });
 * const optee = new EmulatedOptee({ wire: wire.tee, platform, agentId: 1, clock });
 * optee.faults.add({ match: { nth: 3 }, action: { kind: 'busy-channel' } });
 * // …
 * optee.close();
 * ```
 */
export class EmulatedOptee {
  /** The wire fault rules. */
  public readonly faults = new OpteeWireFaults();
  readonly #wire: OpteeWireEnd;
  readonly #words: Int32Array;
  readonly #view: DataView;
  readonly #server: ScmiMsgServer;
  readonly #tas = new Map<string, PseudoTa>();
  readonly #sessions = new Map<number, CoreSession>();
  readonly #shm = new Map<number, { offset: number; size: number; users: number }>();
  /** The call running in each slot (taken from the wire, not yet returned). */
  readonly #running: (true | undefined)[];
  /** Int32 index of each call slot's state word. */
  readonly #stateWords: number[];
  /** Ends an invocation: one function for all of them (no closure per call). */
  readonly #finishInvocation = (inv: Invocation, result: number, origin: TeeOrigin): void => {
    for (const ref of inv.shmRefs) {
      const shm = this.#shm.get(ref);
      if (shm !== undefined) shm.users--;
    }
    const session = inv.core;
    session.running = undefined;
    if (this.#running[inv.slot] === true) {
      this.#writeParams(inv.slot, inv.params);
      this.#finish(inv.slot, result, origin);
    }
    this.#next(session);
  };
  /** Counts a call whose processing threw (one function for all invocations). */
  readonly #countCrash = (error: unknown): void => {
    this.#internalErrors++;
    this.#lastInternalError = error;
  };
  #nextSession = 1;
  #calls = 0;
  #cancelRequests = 0;
  #cancelled = 0;
  #internalErrors = 0;
  #refusedCalls = 0;
  readonly #pta: ScmiPta;
  #callsOverRunningSlot = 0;
  #lastInternalError: unknown = undefined;
  #closed = false;

  /**
   * Boots the emulated OP-TEE on `options.wire` (the secure end): initializes the static SMT
   * areas, connects the agent to the platform and starts taking calls.
   *
   * @throws ScmiConfigError when the wire is the normal world's end or an option is invalid;
   * the platform's error when the agent cannot connect.
   */
  public constructor(options: EmulatedOpteeOptions) {
    const { wire } = options;
    if (wire.side !== 'tee')
      throw new ScmiConfigError('wire', 'the emulated OP-TEE needs the secure world end');
    const timeout = options.platformTimeoutMs ?? 50;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new ScmiConfigError(
        'platformTimeoutMs',
        `expected a positive number, got ${formatValue(timeout)}`,
      );
    }
    const caps = options.capabilities ?? PTA_SCMI_CAPS_MASK;
    if (!Number.isInteger(caps) || (caps & ~PTA_SCMI_CAPS_MASK) !== 0) {
      throw new ScmiConfigError(
        'capabilities',
        `expected PtaScmiCaps bits, got ${formatValue(caps)}`,
      );
    }
    const msgBufferSize = checkMsgBufferSize(options.msgBufferSize, 'msgBufferSize');
    for (const f of options.faults ?? []) this.faults.add(f);
    this.#wire = wire;
    this.#words = new Int32Array(wire.memory);
    this.#view = new DataView(wire.memory);
    this.#running = new Array<true | undefined>(wire.layout.threads).fill(undefined);
    this.#stateWords = [];
    for (let slot = 0; slot < wire.layout.threads; slot++) {
      this.#stateWords.push((wire.layout.slotOffset(slot) + SLOT_STATE) / 4);
    }
    this.#server = new ScmiMsgServer({
      layout: wire.layout,
      memory: wire.memory,
      platform: options.platform,
      agentId: options.agentId,
      clock: options.clock,
      platformTimeoutMs: timeout,
      msgBufferSize,
      faults: this.faults,
    });
    const pta = new ScmiPta(this.#server, caps, this.faults);
    this.#pta = pta;
    this.#tas.set(pta.uuid, pta);
    Atomics.store(this.#words, WIRE_TEE_STATE_WORD, TEE_STATE_RUNNING);
    wire.doorbell.listen(() => {
      this.#onCall();
    });
  }

  /** True once {@link EmulatedOptee.close} was called. */
  public get closed(): boolean {
    return this.#closed;
  }

  /** The counters. */
  public get stats(): EmulatedOpteeStats {
    return {
      calls: this.#calls,
      openSessions: this.#sessions.size,
      registeredShm: this.#shm.size,
      cancelRequests: this.#cancelRequests,
      cancelledInvocations: this.#cancelled,
      internalErrors: this.#internalErrors,
      refusedCalls: this.#refusedCalls,
      callsOverRunningSlot: this.#callsOverRunningSlot,
      pta: this.#pta.stats,
      scmi: this.#server.stats,
    };
  }

  /**
   * @internal Adds a pseudo trusted application besides the SCMI PTA — for this package's tests:
   * another TEE client's TA (one that holds its calls, say). Sessions to it are opened and
   * invoked like the SCMI PTA's, on the same threads.
   *
   * @throws ScmiConfigError naming `pseudoTa` when a TA with its UUID is already there.
   * @example
   * ```ts
   * optee.addPseudoTa({ uuid, openSession: () => TeeResult.SUCCESS, invoke: (c) => held.push(c) });
   * ```
   */
  public addPseudoTa(ta: PseudoTa): void {
    if (this.#tas.has(ta.uuid)) {
      throw new ScmiConfigError('pseudoTa', `a pseudo TA ${ta.uuid} is already there`);
    }
    this.#tas.set(ta.uuid, ta);
  }

  /** What the last call counted in `stats.internalErrors` threw (for diagnosis), or undefined. */
  public get lastInternalError(): unknown {
    return this.#lastInternalError;
  }

  /**
   * Shuts the secure world down: marks the wire closed, answers every call still running with
   * `TEE_ERROR_TARGET_DEAD`, drops the messages waiting for the platform, disconnects from the
   * platform and stops listening. Idempotent.
   */
  public close(): void {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(this.#words, WIRE_TEE_STATE_WORD, TEE_STATE_CLOSED);
    this.#server.close();
    const layout = this.#wire.layout;
    for (let slot = 0; slot < layout.threads; slot++) {
      const state = (layout.slotOffset(slot) + SLOT_STATE) / 4;
      const taken = Atomics.compareExchange(
        this.#words,
        state,
        OpteeCallState.POSTED,
        OpteeCallState.RUNNING,
      );
      if (taken === OpteeCallState.POSTED || this.#running[slot] === true) {
        this.#running[slot] = undefined;
        this.#return(slot, Result.TARGET_DEAD, Origin.TEE);
      }
    }
    this.#sessions.clear();
    this.#shm.clear();
    this.#wire.doorbell.ring();
    this.#wire.doorbell.close();
  }

  /** The normal world rang: take every posted call (rings coalesce). */
  #onCall(): void {
    if (this.#closed) return;
    const words = this.#words;
    const stateWords = this.#stateWords;
    for (let slot = 0; slot < stateWords.length; slot++) {
      if (Atomics.compareExchange(words, stateWords[slot] as number, POSTED, RUNNING) === POSTED) {
        if (this.#running[slot] === true) {
          // POSTED over a call still running in this slot: its state is RUNNING again, as it was,
          // and that call returns here when it ends. Dispatched, the new call would share the slot
          // (answered with the other's results) and could queue behind its session without bound.
          this.#callsOverRunningSlot++;
          continue;
        }
        this.#calls++;
        this.#running[slot] = true;
        try {
          this.#dispatch(slot);
        } catch (error) {
          // A call that threw must not escape the doorbell (the other slots would not be looked
          // at) nor stay RUNNING for ever: it ends with the TEE's generic error.
          this.#countCrash(error);
          this.#finish(slot, Result.GENERIC, Origin.TEE);
        }
      }
    }
  }

  #u32(slot: number, field: number): number {
    return this.#view.getUint32(this.#wire.layout.slotOffset(slot) + field, true);
  }

  #dispatch(slot: number): void {
    const cmd = this.#u32(slot, SLOT_CMD);
    switch (cmd) {
      case MsgCmd.OPEN_SESSION:
        this.#openSession(slot);
        return;
      case MsgCmd.INVOKE_COMMAND:
        this.#invoke(slot);
        return;
      case MsgCmd.CLOSE_SESSION:
        this.#closeSession(slot);
        return;
      case MsgCmd.CANCEL:
        this.#cancel(slot);
        return;
      case MsgCmd.REGISTER_SHM:
        this.#registerShm(slot);
        return;
      case MsgCmd.UNREGISTER_SHM:
        this.#unregisterShm(slot);
        return;
      default:
        this.#refuse(slot, Result.BAD_PARAMETERS);
    }
  }

  #openSession(slot: number): void {
    const base = this.#wire.layout.slotOffset(slot);
    // OP-TEE `entry_std.c: get_open_session_meta` refuses a login method it does not know before
    // it looks the TA up; the TA then decides on the known ones.
    const login = this.#u32(slot, SLOT_LOGIN);
    if (!KNOWN_LOGINS.has(login)) {
      this.#refuse(slot, Result.BAD_PARAMETERS);
      return;
    }
    const uuid = formatTeeUuid(new Uint8Array(this.#wire.memory, base + SLOT_UUID, 16).slice());
    const ta = this.#tas.get(uuid);
    if (ta === undefined) {
      this.#refuse(slot, Result.ITEM_NOT_FOUND);
      return;
    }
    const result = ta.openSession(login) >>> 0;
    if (result !== Result.SUCCESS) {
      this.#finish(slot, result, Origin.TRUSTED_APP);
      return;
    }
    const id = this.#nextSession++;
    this.#sessions.set(id, { id, ta, running: undefined, queue: [] });
    this.#view.setUint32(base + SLOT_SESSION, id, true);
    this.#finish(slot, Result.SUCCESS, Origin.TRUSTED_APP);
  }

  /** Runs `work` when the session is free (exclusive access, in order). */
  #exclusive(session: CoreSession, work: () => void): void {
    if (session.running === undefined && session.queue.length === 0) work();
    else session.queue.push(work);
  }

  #next(session: CoreSession): void {
    const work = session.queue.shift();
    work?.();
  }

  #invoke(slot: number): void {
    const session = this.#sessions.get(this.#u32(slot, SLOT_SESSION));
    if (session === undefined) {
      this.#refuse(slot, Result.BAD_PARAMETERS);
      return;
    }
    const decoded = this.#decodeParams(slot);
    if (typeof decoded === 'number') {
      this.#refuse(slot, decoded);
      return;
    }
    const command = this.#u32(slot, SLOT_FUNC);
    for (const ref of decoded.shmRefs) (this.#shm.get(ref) as { users: number }).users++;
    const invocation = new Invocation(
      session,
      slot,
      command,
      decoded.params,
      decoded.shmRefs,
      this.#finishInvocation,
      this.#countCrash,
    );
    // Exclusive access, in order: at once when the session is free (no closure), else queued.
    if (session.running === undefined && session.queue.length === 0) this.#run(invocation);
    else session.queue.push(() => this.#run(invocation));
  }

  #run(invocation: Invocation): void {
    if (this.#closed) return;
    if (this.#sessions.get(invocation.core.id) !== invocation.core) {
      // Queued behind the close of its session: OP-TEE's tee_ta_get_session finds no session,
      // and entry_invoke_command answers TEE_ERROR_BAD_PARAMETERS (the next queued call runs).
      this.#refusedCalls++;
      invocation.refuse(Result.BAD_PARAMETERS);
      return;
    }
    invocation.core.running = invocation;
    try {
      invocation.core.ta.invoke(invocation);
    } catch (error) {
      // The session's next call must still run: the invocation ends, its session is free again.
      invocation.crash(error);
    }
  }

  #closeSession(slot: number): void {
    // OP-TEE's `entry_close_session` (core/tee/entry_std.c) takes no parameter: it answers
    // TEE_ERROR_BAD_PARAMETERS (origin TEE) before it looks for the session, which stays open.
    if (this.#u32(slot, SLOT_NUM_PARAMS) !== 0) {
      this.#refuse(slot, Result.BAD_PARAMETERS);
      return;
    }
    const id = this.#u32(slot, SLOT_SESSION);
    const session = this.#sessions.get(id);
    // OP-TEE's `tee_ta_close_session` (core/kernel/tee_ta_manager.c) answers a session it cannot
    // find with TEE_ERROR_ITEM_NOT_FOUND.
    if (session === undefined) {
      this.#refuse(slot, Result.ITEM_NOT_FOUND);
      return;
    }
    this.#exclusive(session, () => {
      // A close queued behind another close of the same session finds it gone.
      const gone = this.#sessions.get(id) !== session;
      this.#sessions.delete(id);
      if (gone) this.#refuse(slot, Result.ITEM_NOT_FOUND);
      else this.#finish(slot, Result.SUCCESS, Origin.TEE);
      // The calls queued behind the close still run (and find the session gone).
      this.#next(session);
    });
  }

  #cancel(slot: number): void {
    this.#cancelRequests++;
    // OP-TEE's `entry_cancel` (core/tee/entry_std.c) takes no parameter either: it answers
    // TEE_ERROR_BAD_PARAMETERS (origin TEE) before it looks for the session, and flags nothing.
    if (this.#u32(slot, SLOT_NUM_PARAMS) !== 0) {
      this.#refuse(slot, Result.BAD_PARAMETERS);
      return;
    }
    const session = this.#sessions.get(this.#u32(slot, SLOT_SESSION));
    if (session === undefined) {
      this.#refuse(slot, Result.BAD_PARAMETERS);
      return;
    }
    // OP-TEE's entry_cancel flags the session's running command; the TA decides what to do.
    const running = session.running;
    this.#finish(slot, Result.SUCCESS, Origin.TEE);
    if (running !== undefined && !running.cancelled) {
      running.cancelled = true;
      this.#cancelled++;
      try {
        running.onCancel?.();
      } catch (error) {
        running.crash(error);
      }
    }
  }

  #registerShm(slot: number): void {
    const at = this.#wire.layout.slotOffset(slot) + paramOffset(0);
    const v = this.#view;
    // OP-TEE's `register_shm` (core/tee/entry_std.c) takes exactly one parameter.
    if (this.#u32(slot, SLOT_NUM_PARAMS) !== 1) {
      this.#refuse(slot, Result.BAD_PARAMETERS);
      return;
    }
    const attr = v.getUint32(at, true);
    const offset = v.getUint32(at + 4, true);
    const size = v.getUint32(at + 8, true);
    const cookie = v.getUint32(at + 12, true);
    const layout = this.#wire.layout;
    if (
      attr !== MsgAttr.TMEM_OUTPUT ||
      size === 0 ||
      offset < layout.poolOffset ||
      offset + size > layout.poolOffset + layout.poolSize ||
      this.#shm.has(cookie)
    ) {
      this.#refuse(slot, Result.BAD_PARAMETERS);
      return;
    }
    this.#shm.set(cookie, { offset, size, users: 0 });
    this.#finish(slot, Result.SUCCESS, Origin.TEE);
  }

  #unregisterShm(slot: number): void {
    const at = this.#wire.layout.slotOffset(slot) + paramOffset(0);
    const cookie = this.#view.getUint32(at + 12, true);
    const shm = this.#shm.get(cookie);
    // OP-TEE's `unregister_shm` (core/tee/entry_std.c) takes exactly one parameter, and
    // `mobj_reg_shm_release_by_cookie` answers an unknown cookie (or a second release) with
    // TEE_ERROR_BAD_PARAMETERS.
    if (this.#u32(slot, SLOT_NUM_PARAMS) !== 1 || shm === undefined) {
      this.#refuse(slot, Result.BAD_PARAMETERS);
      return;
    }
    if (shm.users > 0) {
      // Referenced by a running invocation: OP-TEE's `mobj_dyn_shm.c: try_release_reg_shm`
      // answers TEE_ERROR_BUSY while another reference to the mobj is held (mainline's
      // `mobj_reg_shm_release_by_cookie` then waits for it; the emulation answers at once). The
      // driver never unregisters memory its calls still reference, so only a driver that lost
      // track of its calls sees this.
      this.#refuse(slot, Result.BUSY);
      return;
    }
    this.#shm.delete(cookie);
    this.#finish(slot, Result.SUCCESS, Origin.TEE);
  }

  /** Reads the four parameters, checking memory references against registered memory (OP-TEE `copy_in_params`). */
  #decodeParams(slot: number): { params: PtaParam[]; shmRefs: number[] } | number {
    const base = this.#wire.layout.slotOffset(slot);
    const v = this.#view;
    const n = v.getUint32(base + SLOT_NUM_PARAMS, true);
    if (n > SLOT_MAX_PARAMS) return Result.BAD_PARAMETERS;
    const params: PtaParam[] = [];
    const shmRefs: number[] = [];
    for (let i = 0; i < SLOT_MAX_PARAMS; i++) {
      const at = base + paramOffset(i);
      const attr = i < n ? v.getUint32(at, true) : MsgAttr.NONE;
      const a = v.getUint32(at + 4, true);
      const b = v.getUint32(at + 8, true);
      const c = v.getUint32(at + 12, true);
      switch (attr) {
        case MsgAttr.NONE:
          params.push({
            type: ParamType.NONE,
            a: 0,
            b: 0,
            buffer: undefined,
            address: 0,
            size: 0,
          });
          break;
        case MsgAttr.VALUE_INPUT:
        case MsgAttr.VALUE_OUTPUT:
        case MsgAttr.VALUE_INOUT:
          params.push({
            type: attr,
            a: attr === MsgAttr.VALUE_OUTPUT ? 0 : a,
            b: attr === MsgAttr.VALUE_OUTPUT ? 0 : b,
            buffer: undefined,
            address: 0,
            size: 0,
          });
          break;
        case MsgAttr.RMEM_INPUT:
        case MsgAttr.RMEM_OUTPUT:
        case MsgAttr.RMEM_INOUT: {
          const shm = this.#shm.get(c);
          // OP-TEE `entry_std.c: set_rmem_param`: an unknown cookie is BAD_PARAMETERS, a
          // reference past the end of its buffer SECURITY.
          if (shm === undefined) return Result.BAD_PARAMETERS;
          if (a + b > shm.size) return Result.SECURITY;
          const address = shm.offset + a;
          params.push({
            type: attr,
            a: 0,
            b: 0,
            buffer: b === 0 ? undefined : new Uint8Array(this.#wire.memory, address, b),
            address,
            size: b,
          });
          if (!shmRefs.includes(c)) shmRefs.push(c);
          break;
        }
        default:
          return Result.BAD_PARAMETERS;
      }
    }
    return { params, shmRefs };
  }

  #writeParams(slot: number, params: readonly PtaParam[]): void {
    const base = this.#wire.layout.slotOffset(slot);
    const v = this.#view;
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as PtaParam;
      const at = base + paramOffset(i);
      if (p.type === ParamType.VALUE_OUTPUT || p.type === ParamType.VALUE_INOUT) {
        v.setUint32(at + 4, p.a >>> 0, true);
        v.setUint32(at + 8, p.b >>> 0, true);
      } else if (p.type === ParamType.MEMREF_OUTPUT || p.type === ParamType.MEMREF_INOUT) {
        v.setUint32(at + 8, p.size >>> 0, true);
      }
    }
  }

  /** Answers the call in `slot` with the TEE core's `result` (an error), counted. */
  #refuse(slot: number, result: number): void {
    this.#refusedCalls++;
    this.#finish(slot, result, Origin.TEE);
  }

  /** Ends the call in `slot` with `result` and rings the normal world. */
  #finish(slot: number, result: number, origin: TeeOrigin): void {
    if (this.#running[slot] !== true) return;
    this.#running[slot] = undefined;
    this.#return(slot, result, origin);
    this.#wire.doorbell.ring();
  }

  #return(slot: number, result: number, origin: TeeOrigin): void {
    const base = this.#wire.layout.slotOffset(slot);
    this.#view.setUint32(base + SLOT_RET, result >>> 0, true);
    this.#view.setUint32(base + SLOT_RET_ORIGIN, origin, true);
    Atomics.store(this.#words, this.#stateWords[slot] as number, RETURNED);
  }
}
