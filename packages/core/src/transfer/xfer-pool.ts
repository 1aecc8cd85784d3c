import { ScmiShutdownError } from '../errors/scmi-error.js';
import { SCMI_TOKEN_COUNT } from '../wire/header.js';
import { TokenAllocator, type TokenSequence } from './token-allocator.js';
import { Xfer, type XferOwner } from './xfer.js';

/**
 * How a caller waiting for a transfer may give the wait up ({@link XferPool.get}): given the
 * function that gives up with a reason, it returns the function that stops watching.
 */
export type GiveUpWatch = (giveUp: (reason: unknown) => void) => () => void;

/** A retired token's command timed out: a reply for it is a late reply. */
const RETIRED_TIMED_OUT = 1;
/** A retired token's transfer ended by a delayed response that overtook its response. */
const RETIRED_RESPONSE_OWED = 2;

/** What a wait that was never watched stops. */
function noWatch(): void {
  // Nothing to stop.
}

/**
 * The bounded pool of transfers of one agent instance, with its token space and its pending table
 * (Linux keeps one of each per SCMI instance). Getting a transfer allocates a token monotonically
 * and enters the transfer in the pending table; putting it back frees both. When every transfer is
 * in use, callers wait in FIFO order; closing the pool fails the waiters with
 * {@link ScmiShutdownError}.
 *
 * @example
 * ```ts
 * const pool = new XferPool(owner, 20, 128, 'scmi0');
 * const xfer = await pool.get();
 * pool.lookup(xfer.token) === xfer; // true while in use
 * pool.put(xfer);
 * ```
 */
export class XferPool {
  readonly #free: Xfer[] = [];
  readonly #pending: (Xfer | undefined)[] = new Array<Xfer | undefined>(SCMI_TOKEN_COUNT).fill(
    undefined,
  );
  /**
   * Tokens out of the pending table whose reply may still come (cleared on reuse):
   * `RETIRED_TIMED_OUT` or `RETIRED_RESPONSE_OWED`.
   */
  readonly #retired = new Uint8Array(SCMI_TOKEN_COUNT);
  /** For a token that owes a response: the header of its command (the response's is the same). */
  readonly #owedHeader = new Uint32Array(SCMI_TOKEN_COUNT);
  /** For a token that owes a response: the channel its command went out on. */
  readonly #owedRoute: unknown[] = new Array<unknown>(SCMI_TOKEN_COUNT).fill(undefined);
  readonly #tokens: TokenAllocator;
  readonly #waiters: { resolve: (x: Xfer) => void; reject: (e: unknown) => void }[] = [];
  readonly #agent: string;
  /** Capacity of the pool. */
  public readonly size: number;
  #closed = false;

  /**
   * Preallocates `size` transfers with buffers of `capacity` bytes; their tokens come from
   * `tokens` (default: a sequence of the pool's own, from 0).
   */
  public constructor(
    owner: XferOwner,
    size: number,
    capacity: number,
    agent: string,
    tokens?: TokenSequence,
  ) {
    if (!Number.isInteger(size) || size < 1 || size >= SCMI_TOKEN_COUNT) {
      throw new RangeError(`transfer pool size must be 1..${SCMI_TOKEN_COUNT - 1}, got ${size}`);
    }
    this.#tokens = new TokenAllocator(tokens);
    this.size = size;
    this.#agent = agent;
    for (let i = 0; i < size; i++) this.#free.push(new Xfer(owner, capacity));
  }

  /** Transfers currently in use. */
  public get inUse(): number {
    return this.size - this.#free.length;
  }

  /** Callers waiting for a transfer. */
  public get waiting(): number {
    return this.#waiters.length;
  }

  /** A transfer at once, or `undefined` when all are in use (or the pool is closed). */
  public tryGet(): Xfer | undefined {
    if (this.#closed) return undefined;
    const xfer = this.#free.pop();
    if (xfer !== undefined) this.#take(xfer);
    return xfer;
  }

  /**
   * A transfer, waiting in FIFO order while all are in use. A caller that may give up while it
   * waits (a command's `signal`) passes `watch`: it is called once the caller has to wait, with
   * the function that gives the wait up — the caller leaves the queue, the promise rejects with
   * the reason it is given — and returns the function that stops watching, called once the wait
   * ends any way. A `watch` that throws fails the wait with its error, the caller out of the
   * queue.
   *
   * @throws ScmiShutdownError when the pool is closed (also while waiting).
   */
  public get(watch?: GiveUpWatch): Promise<Xfer> {
    if (this.#closed)
      return Promise.reject(new ScmiShutdownError(this.#agent, 'transfer allocation'));
    const xfer = this.tryGet();
    if (xfer !== undefined) return Promise.resolve(xfer);
    if (watch === undefined) {
      return new Promise((resolve, reject) => {
        this.#waiters.push({ resolve, reject });
      });
    }
    let stop = noWatch;
    const waiting = new Promise<Xfer>((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#waiters.push(waiter);
      const giveUp = (reason: unknown): void => {
        const at = this.#waiters.indexOf(waiter);
        if (at === -1) return; // handed a transfer, or failed by close, already
        this.#waiters.splice(at, 1);
        waiter.reject(reason);
      };
      try {
        stop = watch(giveUp);
      } catch (error: unknown) {
        // Out of the queue with the watch's error: a waiter left in it would be handed a
        // transfer nobody takes, and the pool would lose it for good.
        giveUp(error);
      }
    });
    // However the wait ends (given up within `watch` itself too), the watch is stopped.
    return waiting.finally(() => {
      stop();
    });
  }

  /** The transfer in flight with `token`, if any. */
  public lookup(token: number): Xfer | undefined {
    return this.#pending[token];
  }

  /** Whether `token` belongs to a command that timed out and has not been reused. */
  public isRetired(token: number): boolean {
    return this.#retired[token] === RETIRED_TIMED_OUT;
  }

  /**
   * Marks `token` as owing the response to the command `header` sent on `route` (see
   * `Xfer.responseOwed`): its transfer, completed by a delayed response that overtook that
   * response, is put back or sent again with another token. Cleared when the response is taken
   * ({@link XferPool.takeOwedResponse}) or the token is reused.
   */
  public oweResponse(token: number, header: number, route: unknown): void {
    this.#retired[token] = RETIRED_RESPONSE_OWED;
    this.#owedHeader[token] = header;
    this.#owedRoute[token] = route;
  }

  /**
   * Takes the owed response of `token` once: true, and the token no longer owes it, when `header`
   * is the owed command's (its response's header is the same) and it came on `route`, the channel
   * that command went out on — a stray reply with that token, on another channel or to another
   * command, does not pay the debt (it is a bad message, and the real response still counts).
   */
  public takeOwedResponse(token: number, header: number, route: unknown): boolean {
    if (
      this.#retired[token] !== RETIRED_RESPONSE_OWED ||
      this.#owedHeader[token] !== header >>> 0 ||
      this.#owedRoute[token] !== route
    ) {
      return false;
    }
    this.#retired[token] = 0;
    this.#owedRoute[token] = undefined;
    return true;
  }

  /**
   * Gives `xfer`, in use, a new token (the next one, as `get` would), its old one freed: how a
   * transfer that owes a response is sent again — with its old token, the response it owes would
   * be taken for the new command's. The caller marks the old token first
   * ({@link XferPool.oweResponse}) and rebuilds the header.
   */
  public retoken(xfer: Xfer): void {
    const old = xfer.token;
    if (this.#pending[old] === xfer) this.#pending[old] = undefined;
    // The new token first, the old one still in flight: freed first, it could be the next one
    // allocated (the sequence come round to it) — the resend would then take the response it owes.
    // (No overflow: the pool holds fewer than 1024 transfers.)
    const token = this.#tokens.allocate();
    this.#tokens.free(old);
    xfer.token = token;
    this.#retired[token] = 0;
    this.#owedRoute[token] = undefined;
    this.#pending[token] = xfer;
  }

  /**
   * Takes `xfer` out of the pending table (its command timed out or failed): a reply for its token
   * will not find it. `retire` marks the token so that such a reply counts as a late reply.
   */
  public unlist(xfer: Xfer, retire: boolean): void {
    if (this.#pending[xfer.token] === xfer) this.#pending[xfer.token] = undefined;
    if (retire) this.#retired[xfer.token] = RETIRED_TIMED_OUT;
  }

  /**
   * Puts `xfer` back: frees its token and hands a transfer to the next waiter. A no-op when
   * already free.
   *
   * With `replace`, the object itself is not reused: it stays `free` for good (a later `put` of it
   * is a no-op, a send is refused) and a new transfer takes its place in the pool, with the
   * buffers moved to it — the replaced object keeps empty ones (see `Xfer.handOver`). This is how
   * a transfer that left core's hands is put back: its holder may keep the reference, and a
   * second `put` of a reused object would take the transfer from whoever got it next (Linux's
   * `__scmi_xfer_put` has that hazard; its refcount cannot tell the two puts apart). Not to be
   * confused with a retired token ({@link XferPool.unlist}).
   */
  public put(xfer: Xfer, replace = false): void {
    if (xfer.state === 'free') return;
    if (this.#pending[xfer.token] === xfer) this.#pending[xfer.token] = undefined;
    this.#tokens.free(xfer.token);
    xfer.state = 'free';
    xfer.responseOwed = false;
    xfer.waiter = undefined;
    xfer.error = undefined;
    const next = replace ? xfer.handOver() : xfer;
    const waiter = this.#closed ? undefined : this.#waiters.shift();
    if (waiter === undefined) {
      this.#free.push(next);
      return;
    }
    this.#take(next);
    waiter.resolve(next);
  }

  /** Every transfer currently in the pending table. */
  public *pending(): IterableIterator<Xfer> {
    for (const x of this.#pending) if (x !== undefined) yield x;
  }

  /** Refuses further `get` calls and fails every waiter with {@link ScmiShutdownError}. */
  public close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0))
      w.reject(new ScmiShutdownError(this.#agent, 'transfer allocation'));
  }

  #take(xfer: Xfer): void {
    const token = this.#tokens.allocate();
    xfer.token = token;
    xfer.state = 'allocated';
    xfer.truncated = false;
    xfer.responseOwed = false;
    this.#retired[token] = 0;
    this.#owedRoute[token] = undefined;
    this.#pending[token] = xfer;
  }
}
