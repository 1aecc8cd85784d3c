import { TeeError } from '../tee/tee-error.js';
import type { TeeCallResult, TeeDriver } from '../tee/tee-driver.js';
import { TeeParamType, type TeeParam } from '../tee/tee-param.js';
import { TeeOrigin, TeeResult } from '../tee/tee-result.js';
import { TeeSharedMemory } from '../tee/tee-shared-memory.js';
import { OpteeCallState, OpteeMsgAttr, OpteeMsgCmd, SLOT_STATE } from '../wire/optee-msg-arg.js';
import * as msgArg from '../wire/optee-msg-arg.js';
import { TEE_STATE_CLOSED, WIRE_TEE_STATE_WORD } from '../wire/optee-wire-layout.js';
import type { OpteeWireEnd } from '../wire/optee-wire.js';
import { ShmPool } from './shm-pool.js';

/**
 * Takes over the delivery of one call's return (see {@link OpteeDriver.setReturnInterceptor}):
 * call `deliver` when the caller should see the return. `deliver` runs at most once; after the
 * driver closed it does nothing.
 */
export type TeeReturnInterceptor = (deliver: () => void) => void;

/** Counters of an {@link OpteeDriver}. */
export interface OpteeDriverStats {
  /** Calls posted to the secure world. */
  readonly calls: number;
  /** Calls that had to wait for a free thread (call slot). */
  readonly waitedForThread: number;
  /** Calls posted and not yet returned (or returned and held by an interceptor). */
  readonly inFlight: number;
  /** Returns seen for a slot with no call of ours (a hostile or confused secure world), ignored. */
  readonly strayReturns: number;
  /** Shared memories registered with the TEE and not yet given back (leaked ones excluded). */
  readonly sharedMemory: number;
  /**
   * Shared memories the secure world refused to unregister once no call of ours referenced them
   * (a confused or hostile secure world): their bytes stay out of the pool, never reused.
   */
  readonly leakedSharedMemory: number;
  /** Pool bytes held by {@link OpteeDriverStats.leakedSharedMemory}. */
  readonly leakedBytes: number;
}

type RawParam = readonly [attr: number, a: number, b: number, c: number];

interface PendingCall {
  readonly cmd: OpteeMsgCmd;
  readonly func: number;
  readonly session: number;
  readonly cancelId: number;
  readonly login: number;
  readonly uuid: Uint8Array | undefined;
  readonly params: readonly TeeParam[];
  readonly raw: readonly RawParam[];
  readonly resolve: (r: TeeCallResult) => void;
  seen: boolean;
  /** The call took a reference on the shared memory its parameters point into. */
  holdsShm: boolean;
}

/** One registered shared memory, as the driver tracks it (Linux `struct tee_shm`). */
interface ShmRegistration {
  /** Its block in the pool. */
  readonly offset: number;
  /** Bytes of the block. */
  readonly size: number;
  /**
   * Calls in flight (queued, posted, or returned and held by an interceptor) whose parameters
   * reference it: Linux's `tee_shm` reference count, taken for each memref parameter.
   */
  refs: number;
  /** Freeing began: calls that reference it are refused. */
  closing: boolean;
  /** The secure world refused to unregister it: the block stays out of the pool. */
  leaked: boolean;
  /** Wakes the free waiting for `refs` to reach 0. */
  idle: (() => void) | undefined;
}

const NO_PARAMS: readonly TeeParam[] = [];
const NO_RAW: readonly RawParam[] = [];

// Hot imported values read once, at load: the per-call paths then read module-local bindings,
// not properties of other modules' exports (a getter call per access under CommonJS loaders such
// as tsx's).
const { FREE, POSTED, RETURNED } = OpteeCallState;
const {
  SLOT_CANCEL_ID,
  SLOT_CMD,
  SLOT_FUNC,
  SLOT_LOGIN,
  SLOT_NUM_PARAMS,
  SLOT_RET,
  SLOT_RET_ORIGIN,
  SLOT_SESSION,
  SLOT_UUID,
  SLOT_MAX_PARAMS,
  paramOffset,
} = msgArg;
const ATTR_NONE = OpteeMsgAttr.NONE as number;
const INVOKE_COMMAND = OpteeMsgCmd.INVOKE_COMMAND as number;
const { NONE, VALUE_OUTPUT, VALUE_INOUT, MEMREF_OUTPUT, MEMREF_INOUT } = TeeParamType;
const TEE_STATE_WORD = WIRE_TEE_STATE_WORD;
const TEE_CLOSED = TEE_STATE_CLOSED;

function attrOf(p: TeeParam): number {
  // TEE parameter types and OPTEE_MSG_ATTR_TYPE_{VALUE,RMEM}_* share their numbers.
  return p.type;
}

/**
 * The normal world's OP-TEE driver (Linux `drivers/tee/optee/`): it implements the TEE driver
 * operations over an OP-TEE wire — each call is written into a free call slot (one per OP-TEE
 * thread; a call waits when all are taken), posted with a doorbell ring (the SMC), and completed
 * when the secure world marks the slot returned and rings back. Shared memory is allocated from
 * the wire's pool and registered with OP-TEE (`OPTEE_MSG_CMD_REGISTER_SHM`); memory references
 * travel as registered-memory parameters (cookie, offset, size).
 *
 * Everything the secure world writes is read as plain numbers and handed back unchecked to the
 * client API (sizes included): the users of a call bound what they read.
 *
 * Shared memory is reference-counted like Linux's `tee_shm`: each call in flight holds the
 * memories its parameters point into, and freeing one waits until none does before
 * unregistering it (a call that references memory being freed fails at once with
 * `TEE_ERROR_BAD_PARAMETERS`, origin COMMS). Memory the secure world refuses to unregister after
 * that is never reused (`stats.leakedSharedMemory`).
 *
 * @example
 * ```ts
 * const driver = new OpteeDriver(wire.ree);
 * const context = openTeeContext(driver);
 * // …
 * driver.close();
 * ```
 */
export class OpteeDriver implements TeeDriver {
  /** `'optee'`. */
  public readonly implementation = 'optee';
  readonly #wire: OpteeWireEnd;
  readonly #words: Int32Array;
  readonly #view: DataView;
  readonly #slots: (PendingCall | undefined)[];
  /** Int32 index of each call slot's state word. */
  readonly #stateWords: number[] = [];
  readonly #queue: PendingCall[] = [];
  readonly #pool: ShmPool;
  readonly #shms = new Map<number, ShmRegistration>();
  #nextShmId = 1;
  #interceptor: TeeReturnInterceptor | undefined;
  #closed = false;
  /** What calls fail with once the driver is closed: COMMUNICATION, or TARGET_DEAD (`teeDied`). */
  #closedResult: TeeResult = TeeResult.COMMUNICATION;
  #calls = 0;
  #waited = 0;
  #stray = 0;
  #leaked = 0;
  #leakedBytes = 0;

  /**
   * Starts the driver on the normal world's end of a wire (it listens to the end's doorbell
   * until {@link OpteeDriver.close}).
   *
   * @throws TeeError `TEE_ERROR_BAD_PARAMETERS` (origin API) when `wire` is the secure world's end.
   */
  public constructor(wire: OpteeWireEnd) {
    if (wire.side !== 'ree') {
      throw new TeeError(
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.API,
        'an OP-TEE driver needs the normal world end of the wire',
      );
    }
    this.#wire = wire;
    this.#words = new Int32Array(wire.memory);
    this.#view = new DataView(wire.memory);
    this.#slots = new Array<PendingCall | undefined>(wire.layout.threads).fill(undefined);
    for (let slot = 0; slot < wire.layout.threads; slot++) {
      this.#stateWords.push((wire.layout.slotOffset(slot) + SLOT_STATE) / 4);
    }
    this.#pool = new ShmPool(wire.layout.poolOffset, wire.layout.poolSize);
    wire.doorbell.listen(() => {
      this.#onReturn();
    });
  }

  /** The wire the driver runs over. */
  public get wire(): OpteeWireEnd {
    return this.#wire;
  }

  /** @inheritDoc */
  public get closed(): boolean {
    return this.#closed;
  }

  /** The driver's counters. */
  public get stats(): OpteeDriverStats {
    return {
      calls: this.#calls,
      waitedForThread: this.#waited,
      inFlight: this.#slots.filter((c) => c !== undefined).length + this.#queue.length,
      strayReturns: this.#stray,
      sharedMemory: this.#shms.size - this.#leaked,
      leakedSharedMemory: this.#leaked,
      leakedBytes: this.#leakedBytes,
    };
  }

  /**
   * Hands every future call return to `interceptor` instead of delivering it at once, so that a
   * same-thread test can hold a return (the secure world has answered, the caller does not know
   * yet) and deliver it at a moment it chooses; `undefined` restores direct delivery. A held
   * return keeps its call slot until delivered.
   */
  public setReturnInterceptor(interceptor: TeeReturnInterceptor | undefined): void {
    this.#interceptor = interceptor;
  }

  /** @inheritDoc */
  public openSession(uuid: Uint8Array, login: number): Promise<TeeCallResult> {
    // The slot holds 16 bytes of UUID; anything else is the caller's mistake, not a call.
    if (uuid.byteLength !== 16) return Promise.resolve(failed(TeeResult.BAD_PARAMETERS));
    return this.#call(OpteeMsgCmd.OPEN_SESSION, 0, 0, 0, login, uuid, NO_PARAMS, []);
  }

  /** @inheritDoc */
  public invoke(
    session: number,
    func: number,
    cancelId: number,
    params: readonly TeeParam[],
  ): Promise<TeeCallResult> {
    return this.#call(
      OpteeMsgCmd.INVOKE_COMMAND,
      func,
      session,
      cancelId,
      0,
      undefined,
      params,
      NO_RAW,
    );
  }

  /** @inheritDoc */
  public submit(
    session: number,
    func: number,
    cancelId: number,
    params: readonly TeeParam[],
    onReturn: (result: TeeCallResult) => void,
  ): void {
    this.#start(
      OpteeMsgCmd.INVOKE_COMMAND,
      func,
      session,
      cancelId,
      0,
      undefined,
      params,
      NO_RAW,
      onReturn,
    );
  }

  /** @inheritDoc */
  public cancel(session: number, cancelId: number): Promise<TeeCallResult> {
    return this.#call(OpteeMsgCmd.CANCEL, 0, session, cancelId, 0, undefined, NO_PARAMS, []);
  }

  /** @inheritDoc */
  public closeSession(session: number): Promise<TeeCallResult> {
    return this.#call(OpteeMsgCmd.CLOSE_SESSION, 0, session, 0, 0, undefined, NO_PARAMS, []);
  }

  /** @inheritDoc */
  public async allocSharedMemory(size: number): Promise<TeeSharedMemory> {
    if (this.#closed) {
      throw new TeeError(
        this.#closedResult,
        TeeOrigin.COMMS,
        'allocate shared memory: the driver is closed',
      );
    }
    const offset = this.#pool.alloc(size);
    if (offset === undefined) {
      throw new TeeError(
        TeeResult.OUT_OF_MEMORY,
        TeeOrigin.COMMS,
        `allocate shared memory: no ${size} bytes left in the pool`,
      );
    }
    const bytes = new Uint8Array(this.#wire.memory, offset, size);
    bytes.fill(0);
    const id = this.#nextShmId++;
    const r = await this.#call(OpteeMsgCmd.REGISTER_SHM, 0, 0, 0, 0, undefined, NO_PARAMS, [
      [OpteeMsgAttr.TMEM_OUTPUT, offset, size, id],
    ]);
    if (r.result !== TeeResult.SUCCESS) {
      this.#pool.free(offset);
      throw new TeeError(r.result, r.origin, 'register shared memory');
    }
    this.#shms.set(id, {
      offset,
      size: ShmPool.blockBytes(size),
      refs: 0,
      closing: false,
      leaked: false,
      idle: undefined,
    });
    return new TeeSharedMemory(this, id, bytes, () => this.#unregister(id));
  }

  /**
   * Closes the driver: stops listening, and fails every call still pending with
   * `TEE_ERROR_COMMUNICATION` (origin COMMS); later calls fail the same way. Idempotent.
   */
  public close(): void {
    this.#shutDown(TeeResult.COMMUNICATION);
  }

  /**
   * The secure world is gone without closing the wire (its thread exited or was terminated, so it
   * will never return a call): marks the wire's TEE closed, stops listening and fails every call
   * pending with `TEE_ERROR_TARGET_DEAD` (origin COMMS), as a TEE that closes does; later calls
   * and shared memory allocations fail the same way. Idempotent; a no-op once the driver is
   * closed.
   *
   * @example
   * ```ts
   * void host.exited.then(() => driver.teeDied());
   * ```
   */
  public teeDied(): void {
    if (this.#closed) return;
    Atomics.store(this.#words, TEE_STATE_WORD, TEE_CLOSED);
    this.#shutDown(TeeResult.TARGET_DEAD);
  }

  /** Stops listening and fails every pending call, and later ones, with `result`. */
  #shutDown(result: TeeResult): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedResult = result;
    this.#wire.doorbell.close();
    const pending = [...this.#slots.filter((c) => c !== undefined), ...this.#queue];
    this.#slots.fill(undefined);
    this.#queue.length = 0;
    for (const call of pending) this.#settle(call, failed(result));
  }

  /**
   * Unregisters shared memory `id` and gives its block back, the way Linux frees a `tee_shm`
   * (`drivers/tee/tee_shm.c`: every memref parameter of an invocation holds a reference, and
   * `tee_shm_release` — unregister, then free — runs only when the last one is dropped): it
   * refuses new calls that reference the memory, waits until no call in flight does, then asks
   * the secure world to unregister it. A secure world that still refuses (OP-TEE answers
   * TEE_ERROR_BUSY only while one of its threads holds the mobj, `mobj_dyn_shm.c:
   * try_release_reg_shm`, and none of ours does) is confused or hostile: the block is kept out of
   * the pool, counted as leaked, and the refusal thrown. Once the driver is closed or the TEE is
   * gone nobody will write the block again, and it goes back to the pool.
   */
  async #unregister(id: number): Promise<void> {
    const reg = this.#shms.get(id);
    if (reg === undefined || reg.closing) return;
    reg.closing = true;
    while (reg.refs > 0 && !this.#closed) {
      await new Promise<void>((resolve) => {
        reg.idle = resolve;
      });
    }
    const r = this.#closed
      ? failed(TeeResult.COMMUNICATION)
      : await this.#call(OpteeMsgCmd.UNREGISTER_SHM, 0, 0, 0, 0, undefined, NO_PARAMS, [
          [OpteeMsgAttr.RMEM_INPUT, 0, 0, id],
        ]);
    if (r.result === TeeResult.SUCCESS || this.#closed || this.#teeGone()) {
      this.#shms.delete(id);
      this.#pool.free(reg.offset);
      if (r.result !== TeeResult.SUCCESS && !this.#closed) {
        throw new TeeError(r.result, r.origin, 'unregister shared memory');
      }
      return;
    }
    reg.leaked = true;
    this.#leaked++;
    this.#leakedBytes += reg.size;
    throw new TeeError(
      r.result,
      r.origin,
      `unregister shared memory: the TEE still refers to it, its ${reg.size} bytes stay out of the pool`,
    );
  }

  /** True once the secure world marked the wire closed: it takes no call any more. */
  #teeGone(): boolean {
    return Atomics.load(this.#words, TEE_STATE_WORD) === TEE_CLOSED;
  }

  /**
   * Takes a reference on every registered shared memory `call`'s parameters point into; false
   * (nothing taken) when one of them is being freed.
   */
  #hold(call: PendingCall): boolean {
    const params = call.params;
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as TeeParam;
      if ('shm' in p && this.#shms.get(p.shm.id)?.closing === true) return false;
    }
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as TeeParam;
      if (!('shm' in p)) continue;
      const reg = this.#shms.get(p.shm.id);
      if (reg === undefined) continue;
      reg.refs++;
      call.holdsShm = true;
    }
    return true;
  }

  /** Drops the references `call` took, waking a free that waits for the last one. */
  #unhold(call: PendingCall): void {
    call.holdsShm = false;
    const params = call.params;
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as TeeParam;
      if (!('shm' in p)) continue;
      const reg = this.#shms.get(p.shm.id);
      if (reg === undefined || --reg.refs > 0) continue;
      const idle = reg.idle;
      reg.idle = undefined;
      idle?.();
    }
  }

  /** Ends `call` with `result`: its references are dropped first. */
  #settle(call: PendingCall, result: TeeCallResult): void {
    if (call.holdsShm) this.#unhold(call);
    call.resolve(result);
  }

  #call(
    cmd: OpteeMsgCmd,
    func: number,
    session: number,
    cancelId: number,
    login: number,
    uuid: Uint8Array | undefined,
    params: readonly TeeParam[],
    raw: readonly RawParam[],
  ): Promise<TeeCallResult> {
    return new Promise<TeeCallResult>((resolve) => {
      this.#start(cmd, func, session, cancelId, login, uuid, params, raw, resolve);
    });
  }

  #start(
    cmd: OpteeMsgCmd,
    func: number,
    session: number,
    cancelId: number,
    login: number,
    uuid: Uint8Array | undefined,
    params: readonly TeeParam[],
    raw: readonly RawParam[],
    resolve: (r: TeeCallResult) => void,
  ): void {
    const call: PendingCall = {
      cmd,
      func,
      session,
      cancelId,
      login,
      uuid,
      params,
      raw,
      resolve,
      seen: false,
      holdsShm: false,
    };
    if (this.#closed) {
      resolve(failed(this.#closedResult));
      return;
    }
    if (params.length > 0 && !this.#hold(call)) {
      // Its shared memory is being freed: the call would race the unregistration.
      resolve(failed(TeeResult.BAD_PARAMETERS));
      return;
    }
    if (!this.#post(call)) {
      this.#waited++;
      this.#queue.push(call);
    }
  }

  /** Posts `call` in a free slot; false when every slot is taken. */
  #post(call: PendingCall): boolean {
    if (Atomics.load(this.#words, TEE_STATE_WORD) === TEE_CLOSED) {
      this.#settle(call, failed(TeeResult.TARGET_DEAD));
      return true;
    }
    let slot = -1;
    for (let i = 0; i < this.#slots.length; i++) {
      // A slot is ours to use when no call of ours holds it and the secure world left it free.
      if (
        this.#slots[i] === undefined &&
        Atomics.load(this.#words, this.#stateWords[i] as number) === FREE
      ) {
        slot = i;
        break;
      }
    }
    if (slot < 0) return false;
    const state = this.#stateWords[slot] as number;
    this.#write(this.#wire.layout.slotOffset(slot), call);
    this.#slots[slot] = call;
    this.#calls++;
    Atomics.store(this.#words, state, POSTED);
    this.#wire.doorbell.ring();
    if (
      Atomics.load(this.#words, TEE_STATE_WORD) === TEE_CLOSED &&
      Atomics.compareExchange(this.#words, state, POSTED, FREE) === POSTED
    ) {
      // The secure world closed while we posted, before it took the call: it never will.
      this.#slots[slot] = undefined;
      this.#settle(call, failed(TeeResult.TARGET_DEAD));
    }
    return true;
  }

  #write(base: number, call: PendingCall): void {
    const v = this.#view;
    v.setUint32(base + SLOT_CMD, call.cmd, true);
    v.setUint32(base + SLOT_FUNC, call.func, true);
    v.setUint32(base + SLOT_SESSION, call.session, true);
    v.setUint32(base + SLOT_CANCEL_ID, call.cancelId, true);
    v.setUint32(base + SLOT_RET, 0, true);
    v.setUint32(base + SLOT_RET_ORIGIN, 0, true);
    v.setUint32(base + SLOT_LOGIN, call.login, true);
    const uuid = call.uuid;
    if (uuid !== undefined) new Uint8Array(this.#wire.memory, base + SLOT_UUID, 16).set(uuid);
    const n = call.raw.length > 0 ? call.raw.length : call.params.length;
    v.setUint32(base + SLOT_NUM_PARAMS, n, true);
    for (let i = 0; i < SLOT_MAX_PARAMS; i++) {
      const at = base + paramOffset(i);
      let attr = ATTR_NONE;
      let a = 0;
      let b = 0;
      let c = 0;
      const raw = call.raw[i];
      const p = call.params[i];
      if (raw !== undefined) [attr, a, b, c] = raw;
      else if (p !== undefined && p.type !== NONE) {
        attr = attrOf(p);
        if ('shm' in p) {
          a = p.offset;
          b = p.size;
          c = p.shm.id;
        } else {
          a = p.a;
          b = p.b;
        }
      }
      v.setUint32(at, attr, true);
      v.setUint32(at + 4, a >>> 0, true);
      v.setUint32(at + 8, b >>> 0, true);
      v.setUint32(at + 12, c >>> 0, true);
    }
  }

  /** The secure world rang: deliver every returned call (rings coalesce: look at all slots). */
  #onReturn(): void {
    const words = this.#words;
    const stateWords = this.#stateWords;
    let freedStray = false;
    for (let slot = 0; slot < stateWords.length; slot++) {
      // A caller resolved below may close the driver: its calls then all failed already.
      if (this.#closed) return;
      const state = stateWords[slot] as number;
      if (Atomics.load(words, state) !== RETURNED) continue;
      const call = this.#slots[slot];
      if (call === undefined) {
        // Not a call of ours (a hostile secure world): give the slot back, count it.
        this.#stray++;
        Atomics.store(words, state, FREE);
        freedStray = true;
        continue;
      }
      if (call.seen) continue;
      call.seen = true;
      const intercept = this.#interceptor;
      if (intercept === undefined) {
        this.#deliver(slot, call);
        continue;
      }
      let done = false;
      intercept(() => {
        if (done || this.#closed || this.#slots[slot] !== call) return;
        done = true;
        this.#deliver(slot, call);
      });
    }
    // A slot a stray return freed takes a call that waited for one (delivering pumps too).
    if (freedStray && this.#queue.length > 0 && !this.#closed) this.#pump();
  }

  /** Hands the return in `slot` to its caller, frees the slot, posts a call that waited for one. */
  #deliver(slot: number, call: PendingCall): void {
    const result = this.#read(this.#wire.layout.slotOffset(slot), call);
    Atomics.store(this.#words, this.#stateWords[slot] as number, FREE);
    this.#slots[slot] = undefined;
    this.#settle(call, result);
    if (this.#queue.length > 0) this.#pump();
  }

  #read(base: number, call: PendingCall): TeeCallResult {
    const v = this.#view;
    const result = v.getUint32(base + SLOT_RET, true);
    const origin = v.getUint32(base + SLOT_RET_ORIGIN, true);
    const session = v.getUint32(base + SLOT_SESSION, true);
    let params = NO_PARAMS;
    if (call.cmd === INVOKE_COMMAND && call.params.length > 0) {
      params = call.params.map((p, i): TeeParam => {
        const at = base + paramOffset(i);
        switch (p.type) {
          case VALUE_OUTPUT:
          case VALUE_INOUT:
            return { type: p.type, a: v.getUint32(at + 4, true), b: v.getUint32(at + 8, true) };
          case MEMREF_OUTPUT:
          case MEMREF_INOUT:
            return { type: p.type, shm: p.shm, offset: p.offset, size: v.getUint32(at + 8, true) };
          default:
            return p;
        }
      });
    }
    return { result, origin, session, params };
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as PendingCall;
      if (!this.#post(next)) return;
      this.#queue.shift();
    }
  }
}

function failed(result: TeeResult): TeeCallResult {
  return { result, origin: TeeOrigin.COMMS, session: 0, params: NO_PARAMS };
}
