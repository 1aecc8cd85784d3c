import {
  RxGuard,
  ScmiShutdownError,
  ScmiStatus,
  ScmiTransportError,
  replyHeaderDefect,
  type BadMessageReason,
  type ChannelSetup,
  type TimerHandle,
  type TransportChannel,
  type Xfer,
} from '@scmi-ts/core';
import * as core from '@scmi-ts/core';
import type { TeeContext } from '../tee/tee-context.js';
import { TeeError } from '../tee/tee-error.js';
import { TeeOrigin, TeeResult } from '../tee/tee-result.js';
import type { TeeCallResult } from '../tee/tee-driver.js';
import {
  TeeParamType,
  teeMemref,
  teeValue,
  type TeeMemrefParam,
  type TeeParam,
} from '../tee/tee-param.js';
import type { TeeSession } from '../tee/tee-session.js';
import type { TeeSharedMemory } from '../tee/tee-shared-memory.js';
import { PtaScmiCommand, SCMI_SEC_PAYLOAD_SIZE } from '../wire/pta-scmi.js';
import * as smtLayout from '../wire/smt-layout.js';

// Hot imported values read once, at load: the per-message paths then read module-local bindings,
// not properties of other modules' exports (a getter call per access under CommonJS loaders such
// as tsx's).
const { readI32, readU32, writeU32 } = core;
const {
  SMT_FLAGS,
  SMT_HEADER,
  SMT_LENGTH,
  SMT_PAYLOAD,
  SMT_STATUS,
  SMT_STATUS_ERROR,
  SMT_STATUS_FREE,
  smtRead,
  smtWrite,
} = smtLayout;
const PROCESS_SMT_CHANNEL = PtaScmiCommand.PROCESS_SMT_CHANNEL;
const PROCESS_MSG_CHANNEL = PtaScmiCommand.PROCESS_MSG_CHANNEL;

/** How a channel carries messages: SMT in a static area (PTA command 1) or MSG in registered shared memory (command 4). */
export type OpteeChannelMode = 'smt' | 'msg';

/** Counters of one OP-TEE channel (besides core's channel counters). */
export interface OpteeChannelStats {
  /**
   * Invocations started (one per message), withdrawn ones taken back: those that reached or will
   * reach OP-TEE.
   */
  readonly invocations: number;
  /**
   * Invocations withdrawn before they reached OP-TEE: they waited for a free OP-TEE thread while
   * core failed their transfer (the agent's shutdown) or the channel began to quiesce, so their
   * command was never sent. Not counted in `invocations`, nor as late returns.
   */
  readonly withdrawnInvocations: number;
  /** Invocations that returned after their transfer was over (timed out, aborted). */
  readonly lateReturns: number;
  /**
   * Late returns that carried the response to their command, counted in core's `lateReplies`. A
   * late response an on-time read would reject is counted as what it is instead (core's
   * bad-message counters, `teeErrors`, `channelErrors`).
   */
  readonly lateReplies: number;
  /** Late returns refused by the RX guard after quiesce (core's `refusedAfterQuiesce`). */
  readonly refusedReturns: number;
  /** Invocations that failed with a TEE error (the transfer completed with COMMS_ERROR). */
  readonly teeErrors: number;
  /** SMT areas the PTA returned with CHANNEL_ERROR (the transfer completed with COMMS_ERROR). */
  readonly channelErrors: number;
  /** Cancel requests sent (by quiesce, for an invocation in flight). */
  readonly cancelRequests: number;
  /** Sends refused because a timed-out transfer's invocation held the channel too long. */
  readonly busyRejections: number;
}

/** What an OP-TEE channel reports about itself (see `OpteeTransport.diagnostics`). */
export interface OpteeChannelInfo {
  /** `a2p:<id>`. */
  readonly label: string;
  /** The OP-TEE channel id. */
  readonly opteeChannelId: number;
  /** The channel handle the PTA gave. */
  readonly handle: number;
  /** SMT or MSG. */
  readonly mode: OpteeChannelMode;
  /**
   * True when the channel's session is a system session (the driver keeps a thread for its
   * invocations); false when the driver refused (the channel then works best effort).
   */
  readonly systemSession: boolean;
  /** The counters. */
  readonly stats: OpteeChannelStats;
  /** True while an invocation runs. */
  readonly invoking: boolean;
  /** True once freed. */
  readonly freed: boolean;
}

/** What a channel needs besides core's setup. */
export interface OpteeChannelParts {
  /** Core's setup of the channel (sink, clock, counters…). */
  readonly setup: ChannelSetup;
  /** The agent's TEE context (cancel requests go through it). */
  readonly context: TeeContext;
  /** The channel's own session with the SCMI PTA (closed by free). */
  readonly session: TeeSession;
  /** The OP-TEE channel id. */
  readonly opteeChannelId: number;
  /** The channel handle GET_CHANNEL_HANDLE gave. */
  readonly handle: number;
  /** SMT: the static area; MSG: undefined. */
  readonly area: Uint8Array | undefined;
  /** MSG: the registered buffer (`transportConfig.msgBufferSize` bytes); SMT: undefined. */
  readonly shm: TeeSharedMemory | undefined;
  /** How long a send waits for a channel a late invocation holds, before `E_CHAN_BUSY`. */
  readonly busyTimeoutMs: number;
  /** How long `send` waits for the invocation to return before leaving it to core's polling. */
  readonly syncWaitMs: number;
  /** Where callbacks against a freed channel are reported (must stay empty). */
  readonly violations: string[];
  /** Called once the channel is freed. */
  readonly onFreed: (channel: OpteeChannel) => void;
}

/** One invocation: the message of `xfer`, from send until the TEE returns it. */
interface Invocation {
  readonly xfer: Xfer;
  /**
   * The command's header, kept for a late return: by then `xfer` may be back in core's pool and
   * carry another command's header.
   */
  readonly header: number;
  readonly cancelId: number;
  returned: boolean;
  /** The TEE result (SUCCESS or the error's). */
  result: number;
  /** MSG: the response size the TEE reported. */
  outSize: number;
  /** core called markTxDone before the return: the transfer is over, the return is late. */
  abandoned: boolean;
  /** When `abandoned`: core had failed the transfer (not timed it out) by then. */
  transferFailed: boolean;
  /**
   * The driver withdrew it before posting it (`#stillWanted` answered false): it never reached
   * OP-TEE, and its return is the driver's `TEE_ERROR_CANCEL`.
   */
  withdrawn: boolean;
  /** fetchResponse read the response. */
  fetched: boolean;
  /** Resolves the send's synchronous wait (see `syncWaitMs`); cleared once called. */
  syncWaiter: (() => void) | undefined;
  /** Fails the send's synchronous wait (the invocation was withdrawn); cleared with syncWaiter. */
  syncFail: ((error: unknown) => void) | undefined;
  /**
   * The TEE died while it ran (see `OpteeChannel.teeDied`): its return is the driver's
   * `TEE_ERROR_TARGET_DEAD`, not an answer — never counted as a late return or a TEE error.
   */
  endedByDeath: boolean;
  /** When the send's synchronous wait ends at the latest (clock time). */
  syncUntil: number;
}

interface SendWaiter {
  readonly xfer: Xfer;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const EMPTY = new Uint8Array(0);

/**
 * One A2P channel over the OP-TEE SCMI PTA (Linux `drivers/firmware/arm_scmi/optee.c`): its own
 * TEE session and channel handle, an SMT area (static) or a MSG buffer (registered shared memory),
 * polling completion only — the invocation returning is the completion.
 *
 * One message in flight: `send` takes the channel (waiting for it, like Linux's `channel->mu`),
 * starts the invocation and waits up to `syncWaitMs` for it to return (Linux's invoke is
 * synchronous); core polls `pollDone` (has it returned?) and reads the response with
 * `fetchResponse`; `markTxDone` gives the channel back — unless the invocation has not returned
 * yet (the transfer timed out or was aborted): the invocation still owns the shared memory, so the
 * channel stays held until it returns. Its late return is then counted inside the RX guard —
 * `lateReplies` when it carries the response to its command, else as an on-time read would count
 * it — or refused after quiesce. A send that waits longer than
 * `busyTimeoutMs` for such a channel fails with `E_CHAN_BUSY`.
 *
 * An invocation the driver queued because every OP-TEE thread was busy is withdrawn, never posted,
 * when a thread frees for it after core failed its transfer (the agent's removal) or once the
 * channel quiesces: the platform must not run a command whose caller was told it failed.
 *
 * Quiesce closes the RX guard, sends a cancel request for an invocation in flight (the SCMI PTA
 * may ignore it) and waits until the invocation returns (or is withdrawn); free then closes the
 * session and frees the MSG buffer. A transfer whose invocation failed, or whose response is
 * unusable (header of another message, too short, a size past the SMT area or the MSG buffer,
 * channel error), completes with `COMMS_ERROR`; the cause is counted (core's bad-message
 * counters: `invalid`, `oversize`…, or this channel's `teeErrors` / `channelErrors`).
 *
 * A secure world that dies (the driver's `onTeeDied`) leaves the channel lost for good: what it
 * carries fails at once with `E_TEE_DEAD` through core's `failInFlight`, and so does every later
 * send (see {@link OpteeChannel.teeDied}).
 */
export class OpteeChannel implements TransportChannel {
  /** One message at a time per channel. */
  public readonly maxInFlight = 1;
  /** The channel's RX guard. */
  public readonly guard = new RxGuard();
  /** `a2p:<id>`. */
  public readonly label: string;
  /** SMT or MSG. */
  public readonly mode: OpteeChannelMode;
  readonly #p: OpteeChannelParts;
  readonly #smtParams: readonly TeeParam[];
  /** MSG: the invocation's parameters, built once; the request size is set per message. */
  readonly #msgParams: readonly TeeParam[] | undefined;
  readonly #msgRequest: { -readonly [K in keyof TeeMemrefParam]: TeeMemrefParam[K] } | undefined;
  /** The driver's completion callback, one for the channel's life (one invocation at a time). */
  readonly #onReturned: (r: TeeCallResult) => void;
  /** The driver's `stillWanted` hook, one for the channel's life (it asks about `#inv`). */
  readonly #stillWanted: () => boolean;
  #inv: Invocation | undefined;
  #owner: Xfer | undefined;
  readonly #waiters: SendWaiter[] = [];
  #heldTimer: TimerHandle | undefined;
  #syncTimer: TimerHandle | undefined;
  #stuck = false;
  #closing = false;
  #freed = false;
  /** The TEE died (see {@link OpteeChannel.teeDied}): what every send fails with from then on. */
  #lost: ScmiTransportError | undefined;
  /**
   * The TEE died after it answered the invocation in flight, whose answer core has not read yet:
   * core is told of the loss once it has (at the transfer's `markTxDone`).
   */
  #lossPending = false;
  #idle: (() => void) | undefined;
  #nextCancelId = 0;
  #invocations = 0;
  #withdrawnInvocations = 0;
  #lateReturns = 0;
  #lateReplies = 0;
  #refusedReturns = 0;
  #teeErrors = 0;
  #channelErrors = 0;
  /** Return-value bytes of the response `#checkResponse` last found sound. */
  #checkedReturns = 0;
  #cancelRequests = 0;
  #busyRejections = 0;

  /** @internal Created by the transport once the session and the handle exist. */
  public constructor(parts: OpteeChannelParts) {
    this.#p = parts;
    this.label = `${parts.setup.direction}:${parts.setup.channel.id}`;
    this.mode = parts.area === undefined ? 'msg' : 'smt';
    const handle = teeValue(TeeParamType.VALUE_INPUT, parts.handle);
    this.#smtParams = [handle];
    const shm = parts.shm;
    if (parts.area === undefined && shm !== undefined) {
      // Like Linux, one buffer is both the request (p1, the command's size) and the response (p2,
      // the whole buffer: `msgBufferSize` bytes, SCMI_SHMEM_MAX_PAYLOAD_SIZE in Linux).
      this.#msgRequest = { type: TeeParamType.MEMREF_INPUT, shm, offset: 0, size: 4 };
      const response = teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, shm.size);
      this.#msgParams = [handle, this.#msgRequest, response];
    }
    // The channel holds one invocation at a time (a new one starts only once the last returned),
    // so the return always belongs to `#inv`.
    this.#onReturned = (r) => {
      const inv = this.#inv;
      if (inv === undefined || inv.returned) {
        this.#p.violations.push(`${this.label}: a return with no invocation in flight`);
        return;
      }
      if (inv.withdrawn) {
        this.#onWithdrawn(inv, r.result);
        return;
      }
      const out = r.params[2];
      this.#onReturn(inv, r.result, out !== undefined && 'size' in out ? out.size : 0);
    };
    // Asked by the driver right before it posts an invocation that waited for a free OP-TEE
    // thread — the channel's one invocation, `#inv`. Linux never gets here: its invoke runs in
    // the sending task (scmi_optee_send_message), which waits for the thread before the transfer
    // can fail. Here core's shutdown may fail the transfer meanwhile (agent removal fails every
    // transfer before any channel quiesces), or the channel may be quiescing (nobody reads the
    // response any more): the command must then never reach the platform, as a send waiting for
    // the channel is refused (`#refuseDead`, quiesce). A transfer that only timed out still runs
    // (its late return is counted), as any late invocation does.
    this.#stillWanted = () => {
      const inv = this.#inv;
      if (inv === undefined) return true; // never asked then: the driver asks about a queued call
      const failed = inv.abandoned ? inv.transferFailed : inv.xfer.state === 'failed';
      if (!failed && !this.#closing) return true;
      inv.withdrawn = true;
      return false;
    };
  }

  /** What the channel reports about itself. */
  public get info(): OpteeChannelInfo {
    return {
      label: this.label,
      opteeChannelId: this.#p.opteeChannelId,
      handle: this.#p.handle,
      mode: this.mode,
      systemSession: this.#p.session.usesSystemThread,
      stats: {
        invocations: this.#invocations,
        withdrawnInvocations: this.#withdrawnInvocations,
        lateReturns: this.#lateReturns,
        lateReplies: this.#lateReplies,
        refusedReturns: this.#refusedReturns,
        teeErrors: this.#teeErrors,
        channelErrors: this.#channelErrors,
        cancelRequests: this.#cancelRequests,
        busyRejections: this.#busyRejections,
      },
      invoking: this.#inv !== undefined && !this.#inv.returned,
      freed: this.#freed,
    };
  }

  /** Timers the channel holds armed (a held channel's bound, the synchronous wait's). */
  public get armedTimers(): number {
    return (this.#heldTimer === undefined ? 0 : 1) + (this.#syncTimer === undefined ? 0 : 1);
  }

  /**
   * Takes the channel for `xfer` and starts its invocation; waits when the channel is held.
   *
   * @throws ScmiShutdownError once the channel quiesces, or when core failed the transfer (the
   * agent shut down) while it waited for the channel, or for a free OP-TEE thread during the
   * synchronous wait — its command is then never sent (an invocation still waiting for a thread
   * when core fails its transfer later is withdrawn too, see `withdrawnInvocations`);
   * ScmiTransportError `E_CHAN_BUSY` when the invocation of a timed-out transfer holds the channel
   * past `busyTimeoutMs`, `E_MSG_SIZE` when the command does not fit the SMT area or the MSG
   * buffer or its payload exceeds OP-TEE's 92 bytes (`SCMI_SEC_PAYLOAD_SIZE`), `E_TEE` (the
   * `TeeError` as cause) when the invocation cannot be started (the session or the TEE context is
   * closed, the MSG buffer freed): the channel is then given back at once, as core's contract
   * wants of a send that throws.
   */
  public send(xfer: Xfer): void | Promise<void> {
    if (this.#closing) throw new ScmiShutdownError(this.#p.setup.agent, `send on ${this.label}`);
    if (this.#lost !== undefined) throw this.#lost;
    this.#checkSize(xfer);
    if (this.#owner === undefined && this.#inv === undefined) {
      return this.#syncWait(this.#start(xfer));
    }
    if (this.#stuck) {
      this.#busyRejections++;
      throw this.#busyError();
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ xfer, resolve, reject });
    });
  }

  /**
   * Waits up to `syncWaitMs` for `inv` to return, as Linux's synchronous invoke does
   * (`sync_cmds_completed_on_ret`): the common case then completes without core's polling loop
   * spinning the thread while the secure world works. A slower invocation is left to the polling
   * loop, whose response timeout starts after this wait.
   */
  #syncWait(inv: Invocation): void | Promise<void> {
    const ms = this.#p.syncWaitMs;
    if (ms <= 0 || inv.returned) return;
    inv.syncUntil = this.#p.setup.clock.now() + ms;
    // One timer per channel, re-armed only when it fires with a wait still running: back-to-back
    // sends (tens of µs each) share it instead of arming and cancelling one each.
    if (this.#syncTimer === undefined) {
      try {
        this.#armSyncTimer(ms);
      } catch {
        // The clock could not arm it: no synchronous wait. The invocation is started (the channel
        // is this transfer's), so `send` must not throw now; core's polling loop takes over.
        return undefined;
      }
    }
    return new Promise<void>((resolve, reject) => {
      inv.syncWaiter = resolve;
      inv.syncFail = reject;
    });
  }

  #armSyncTimer(ms: number): void {
    this.#syncTimer = this.#p.setup.clock.setTimeout(() => {
      this.#syncTimer = undefined;
      const inv = this.#inv;
      if (inv?.syncWaiter === undefined) return;
      const left = inv.syncUntil - this.#p.setup.clock.now();
      // The invocation is slow: hand the transfer to core's polling loop.
      if (left <= 0) {
        endSyncWait(inv);
        return;
      }
      try {
        this.#armSyncTimer(left);
      } catch {
        endSyncWait(inv); // no timer to end the wait later: end it now
      }
    }, ms);
  }

  /** Whether `xfer`'s invocation has returned (polling completion). */
  public pollDone(xfer: Xfer): boolean {
    const inv = this.#inv;
    return inv !== undefined && inv.xfer === xfer && inv.returned && this.#owner === xfer;
  }

  /** Reads `xfer`'s response from the SMT area or the MSG buffer, bounding every length. */
  public fetchResponse(xfer: Xfer): void {
    // Polling only: core passes no context.
    const inv = this.#inv;
    if (inv === undefined || inv.xfer !== xfer || !inv.returned || inv.fetched) {
      this.#fail(xfer, 'unexpected');
      return;
    }
    inv.fetched = true;
    if (inv.result !== 0) {
      this.#teeErrors++;
      this.#fail(xfer, undefined);
      return;
    }
    const verdict = this.#checkResponse(inv);
    if (verdict === 'channel-error') {
      this.#channelErrors++;
      this.#fail(xfer, undefined);
    } else if (verdict !== undefined) {
      this.#fail(xfer, verdict);
    } else {
      // Status and return values after the header (bounded by the check: inside the buffer). A
      // response longer or shorter than the caller expects is Linux's `min(expected, length - 8)`
      // clamp, in `Xfer.receiveResponse` (core counts the longer ones).
      const area = this.#p.area;
      const buffer = area ?? (this.#p.shm as TeeSharedMemory).bytes;
      const at = area === undefined ? 4 : SMT_PAYLOAD;
      xfer.receiveResponse(readI32(buffer, at), buffer, at + 4, this.#checkedReturns);
    }
  }

  /** OP-TEE has no P2A channel: nothing is ever posted to this one. */
  public fetchNotification(): void {
    this.#p.setup.sink.badMessage('unknown');
  }

  /**
   * The transfer is over. The channel goes to the next sender, unless the invocation has not
   * returned: then it stays held until it does (the invocation owns the shared memory).
   */
  public markTxDone(xfer: Xfer, error: unknown): void {
    if (this.#owner !== xfer) return;
    this.#owner = undefined;
    const inv = this.#inv;
    if (inv === undefined || inv.xfer !== xfer) {
      this.#grant();
      return;
    }
    if (inv.returned) {
      // Returned but never read: the transfer timed out (or was aborted) just as it returned. A
      // withdrawn invocation never ran, and one the TEE's death ended returned nothing: nothing
      // came back to count.
      if (error !== undefined && !inv.fetched && !inv.withdrawn && !inv.endedByDeath) {
        this.#countLate(inv);
      }
      this.#inv = undefined;
      this.#grant();
      // The TEE answered this one before it died: now that core has it, core learns of the loss.
      if (this.#lossPending) {
        this.#lossPending = false;
        this.#tellLoss(this.#lost);
      }
      return;
    }
    inv.abandoned = true;
    // The transfer is over, and `xfer` may go back to core's pool and carry another command: what
    // `#stillWanted` needs to know of it is kept now.
    inv.transferFailed = xfer.state === 'failed';
    if (this.#closing) return;
    try {
      this.#heldTimer = this.#p.setup.clock.setTimeout(() => {
        this.#heldTimer = undefined;
        this.#stuckNow();
      }, this.#p.busyTimeoutMs);
    } catch {
      // The clock could not arm the bound: the channel counts as stuck at once rather than keep
      // its waiters unbounded (a TEE that never returns would hold them until removal).
      this.#stuckNow();
    }
  }

  /** The held channel is past its bound: waiting senders, and later ones, fail `E_CHAN_BUSY`. */
  #stuckNow(): void {
    this.#stuck = true;
    for (const w of this.#waiters.splice(0)) {
      if (this.#refuseDead(w)) continue;
      this.#busyRejections++;
      w.reject(this.#busyError());
    }
  }

  /**
   * Stops the channel: refuses new sends (waiting ones fail with ScmiShutdownError), closes the
   * RX guard, asks the TEE to cancel an invocation in flight and waits until it has returned —
   * or, when it still waits for an OP-TEE thread, until the driver withdraws it as a thread
   * frees (never posted: nobody would read its response).
   */
  public async quiesce(): Promise<void> {
    this.#closing = true;
    for (const w of this.#waiters.splice(0)) {
      w.reject(new ScmiShutdownError(this.#p.setup.agent, `send on ${this.label}`));
    }
    await this.guard.quiesce();
    const inv = this.#inv;
    if (inv !== undefined && !inv.returned) {
      const returned = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      this.#cancelRequests++;
      // The SCMI PTA never looks at cancel requests; the invocation returns when it is done.
      this.#p.context.cancel(this.#p.session, inv.cancelId).catch(() => undefined);
      await returned;
    }
    this.#disarm();
    this.#disarmSync();
  }

  /** Closes the session, then frees the MSG buffer (Linux `scmi_optee_chan_free`). */
  public async free(): Promise<void> {
    if (this.#freed) return;
    this.#freed = true;
    this.#disarm();
    this.#disarmSync();
    // Both steps run even when the first fails (the TEE is gone, say): nothing stays half-freed.
    const errors: ScmiTransportError[] = [];
    try {
      await this.#p.session.close();
    } catch (cause) {
      // After the TEE died the session went with it: nothing is left to close (the driver can
      // only answer TARGET_DEAD), and the channel's loss was reported already.
      if (!this.#goneWithTee(cause)) {
        errors.push(wrap(`${this.label}: closing the TEE session failed`, cause));
      }
    }
    try {
      await this.#p.shm?.free();
    } catch (cause) {
      if (!this.#goneWithTee(cause)) {
        errors.push(wrap(`${this.label}: freeing the MSG buffer failed`, cause));
      }
    }
    this.#p.onFreed(this);
    if (errors.length === 1) throw errors[0] as ScmiTransportError;
    if (errors.length > 1) throw new AggregateError(errors, `${this.label}: free failed`);
  }

  /**
   * The secure world died (the driver's `onTeeDied`, from `OpteeDriver.teeDied`: its thread
   * exited without closing): nothing on this channel will ever return, and the channel is lost for
   * good, as the mailbox transport's channels are when their platform's thread is gone. Called
   * before the driver fails the calls pending then. Sends waiting for the channel (never written)
   * fail with `E_TEE_DEAD`, and so does every later send; the invocation in flight is marked
   * ended by the death (the driver's `TARGET_DEAD` that follows is not counted as a late return
   * nor a TEE error); then core fails at once, with the same error, the transfer the channel
   * carries (`RxSink.failInFlight`, inside the RX guard), which marks the channel lost. An
   * invocation the TEE answered before it died whose answer core has not read yet is read first:
   * core is told of the loss once it has (at the transfer's `markTxDone`). Nothing is called into
   * core once the channel quiesces (the agent's removal failed everything). Idempotent.
   */
  public teeDied(): void {
    if (this.#lost !== undefined) return;
    const error = new ScmiTransportError(
      'E_TEE_DEAD',
      `${this.#p.setup.agent}: the TEE behind OP-TEE channel ${this.label} died (its thread exited without closing): nothing will answer`,
      { cause: new TeeError(TeeResult.TARGET_DEAD, TeeOrigin.COMMS, 'the secure world died') },
    );
    this.#lost = error;
    // Being freed: nothing is left to fail, but the free's session close (or buffer free), still
    // waiting, now fails TARGET_DEAD — the death, not a failure of the free (see #goneWithTee).
    if (this.#freed) return;
    for (const w of this.#waiters.splice(0)) w.reject(error);
    const inv = this.#inv;
    if (inv !== undefined && !inv.returned) inv.endedByDeath = true;
    if (this.#closing) return;
    if (
      inv !== undefined &&
      inv.returned &&
      !inv.withdrawn &&
      !inv.fetched &&
      !inv.abandoned &&
      this.#owner === inv.xfer
    ) {
      this.#lossPending = true;
      return;
    }
    this.#tellLoss(error);
  }

  /** Tells core the channel is lost (`failInFlight`), inside the RX guard; not once it closed. */
  #tellLoss(error: ScmiTransportError | undefined): void {
    if (error === undefined) return;
    const guard = this.guard;
    if (guard.closed || !guard.enter()) return;
    try {
      this.#p.setup.sink.failInFlight(error);
    } finally {
      guard.exit();
    }
  }

  /** Whether `cause` is the driver's TARGET_DEAD for a channel whose TEE died. */
  #goneWithTee(cause: unknown): boolean {
    return this.#lost !== undefined && TeeError.is(cause) && cause.result === TeeResult.TARGET_DEAD;
  }

  /**
   * Refuses, before anything is written, a command OP-TEE would not take: one that does not fit
   * the SMT area or the MSG buffer, or whose payload exceeds `SCMI_SEC_PAYLOAD_SIZE` (92 bytes).
   * OP-TEE refuses the latter too, but in SMT mode only after it claimed the channel, and its
   * `scmi_entry_smt` error path never releases the claim (`core/drivers/scmi-msg/smt.c`): every
   * later message on the channel is refused until OP-TEE restarts. (MSG mode refuses it with
   * `TEE_ERROR_BAD_PARAMETERS` before the claim; nothing gained by sending it either.)
   */
  #checkSize(xfer: Xfer): void {
    const buffer =
      this.#p.area !== undefined
        ? this.#p.area.byteLength - SMT_PAYLOAD
        : (this.#p.shm?.size ?? 0) - 4;
    const room = Math.min(buffer, SCMI_SEC_PAYLOAD_SIZE);
    if (xfer.txLen > room) {
      const where =
        room < buffer
          ? `OP-TEE's SCMI_SEC_PAYLOAD_SIZE (${room} bytes)`
          : `the ${this.mode === 'smt' ? 'SMT area' : 'MSG buffer'} (${room} bytes)`;
      throw new ScmiTransportError(
        'E_MSG_SIZE',
        `${this.label}: a ${xfer.txLen}-byte command payload exceeds ${where}`,
      );
    }
  }

  #busyError(): ScmiTransportError {
    return new ScmiTransportError(
      'E_CHAN_BUSY',
      `${this.label}: the invocation of a timed-out transfer still owns the channel after ${this.#p.busyTimeoutMs} ms`,
    );
  }

  /** Writes the command and starts the invocation (Linux `scmi_optee_send_message`). */
  #start(xfer: Xfer): Invocation {
    this.#owner = xfer;
    const inv: Invocation = {
      xfer,
      header: xfer.header,
      cancelId: (this.#nextCancelId = (this.#nextCancelId + 1) >>> 0),
      returned: false,
      result: 0,
      outSize: 0,
      abandoned: false,
      transferFailed: false,
      withdrawn: false,
      fetched: false,
      syncWaiter: undefined,
      syncFail: undefined,
      syncUntil: 0,
      endedByDeath: false,
    };
    this.#inv = inv;
    let command: number;
    let params: readonly TeeParam[];
    const area = this.#p.area;
    if (area !== undefined) {
      // shmem_tx_prepare: busy (status 0), polling (no interrupt flag), length, header, payload.
      smtWrite(area, SMT_STATUS, 0);
      smtWrite(area, SMT_FLAGS, 0);
      smtWrite(area, SMT_LENGTH, 4 + xfer.txLen);
      smtWrite(area, SMT_HEADER, xfer.header);
      copyRequest(xfer, area, SMT_PAYLOAD);
      command = PROCESS_SMT_CHANNEL;
      params = this.#smtParams;
    } else {
      // msg_tx_prepare: header and payload at the start of the buffer, p1 covering them.
      const shm = this.#p.shm as TeeSharedMemory;
      writeU32(shm.bytes, 0, xfer.header);
      copyRequest(xfer, shm.bytes, 4);
      command = PROCESS_MSG_CHANNEL;
      (this.#msgRequest as { size: number }).size = 4 + xfer.txLen;
      params = this.#msgParams as readonly TeeParam[];
    }
    // The completion callback runs in the task that delivers the return: no promise hop between
    // the return and this channel's RX guard.
    try {
      this.#p.session.submit(
        command,
        params,
        { cancelId: inv.cancelId, stillWanted: this.#stillWanted },
        this.#onReturned,
      );
    } catch (cause) {
      // Nothing was posted: give the channel back before throwing, as Linux's
      // scmi_optee_send_message unlocks `channel->mu` when the invoke fails. Core then fails the
      // transfer without calling markTxDone.
      this.#inv = undefined;
      this.#owner = undefined;
      throw wrap(`${this.label}: starting the invocation failed`, cause);
    }
    this.#invocations++;
    return inv;
  }

  /** The invocation returned (the TEE's return, or the driver's failure). */
  #onReturn(inv: Invocation, result: number, outSize: number): void {
    if (this.#freed) this.#p.violations.push(`${this.label}: invocation returned after free`);
    inv.returned = true;
    inv.result = result;
    inv.outSize = outSize;
    endSyncWait(inv);
    if (inv.abandoned) {
      // The transfer is over: a late return. The channel is free again once it is counted, and
      // goes to the next waiting send at once — inside the driver's delivery, after the driver
      // gave the OP-TEE thread this invocation held to the calls waiting for one (as Linux's
      // optee_cq_wait_final does before the invoke returns): the next invocation waits behind
      // them, in the order the driver keeps. The driver's failure of an invocation the TEE's death
      // ended is no return of the TEE: nothing to count.
      if (!inv.endedByDeath) this.#countLate(inv);
      this.#releaseAbandoned(inv);
    }
    this.#wakeIdle();
  }

  /** The channel is free again after `inv`, whose transfer was over (markTxDone came first). */
  #releaseAbandoned(inv: Invocation): void {
    if (this.#inv === inv) this.#inv = undefined;
    this.#disarm();
    this.#stuck = false;
    this.#grant();
  }

  /** Wakes a quiesce waiting for the invocation in flight to end. */
  #wakeIdle(): void {
    const idle = this.#idle;
    this.#idle = undefined;
    idle?.();
  }

  /**
   * The driver withdrew `inv` before posting it (`#stillWanted`): its command never reached OP-TEE.
   * It is taken back from `invocations` and counted in `withdrawnInvocations` only — core counted
   * the transfer's failure (or timeout), and nothing came back to count as a late return. A send
   * still in its synchronous wait fails with ScmiShutdownError, as `#refuseDead` refuses one
   * waiting for the channel: core then fails the transfer (counted once: its shutdown did) without
   * calling markTxDone, so the channel is given back here, as when the invocation cannot be
   * started. After markTxDone the channel is free again at once; between the two, markTxDone
   * frees it.
   */
  #onWithdrawn(inv: Invocation, result: number): void {
    if (this.#freed) this.#p.violations.push(`${this.label}: invocation withdrawn after free`);
    inv.returned = true;
    inv.result = result;
    this.#invocations--;
    this.#withdrawnInvocations++;
    const fail = inv.syncFail;
    if (fail !== undefined) {
      inv.syncWaiter = undefined;
      inv.syncFail = undefined;
      this.#inv = undefined;
      this.#owner = undefined;
      fail(new ScmiShutdownError(this.#p.setup.agent, `send on ${this.label}`));
      this.#grant();
    } else if (inv.abandoned) {
      this.#releaseAbandoned(inv);
    }
    this.#wakeIdle();
  }

  /** Counts a return nobody will read, inside the RX guard (refused after quiesce). */
  #countLate(inv: Invocation): void {
    this.#lateReturns++;
    const counters = this.#p.setup.counters;
    if (!this.guard.enter()) {
      counters.refusedAfterQuiesce++;
      this.#refusedReturns++;
      return;
    }
    try {
      if (this.#freed) this.#p.violations.push(`${this.label}: late return counted after free`);
      if (inv.result !== 0) {
        this.#teeErrors++;
        return;
      }
      // A late reply is counted as one only when it is one: a response an on-time read would
      // reject is counted as what it is, as virtio's cmdq does.
      const verdict = this.#checkResponse(inv);
      if (verdict === undefined) {
        counters.lateReplies++;
        this.#lateReplies++;
      } else if (verdict === 'channel-error') this.#channelErrors++;
      else this.#p.setup.sink.badMessage(verdict);
    } finally {
      this.guard.exit();
    }
  }

  /**
   * Checks the response a returned invocation left (Linux `shmem_fetch_response` /
   * `msg_fetch_response`, with the checks Linux leaves out): `undefined` when it is the response
   * to `inv`'s command — its return-value byte count is then in `#checkedReturns` — else why not:
   * a bad message's reason, or `'channel-error'` for an SMT area the platform marked ERROR. Each
   * field the secure world wrote is read once, so it cannot change between check and use.
   */
  #checkResponse(inv: Invocation): BadMessageReason | 'channel-error' | undefined {
    const area = this.#p.area;
    if (area !== undefined) {
      const status = smtRead(area, SMT_STATUS);
      // The TEE returned without giving the channel back: nothing trustworthy to read.
      if ((status & SMT_STATUS_FREE) === 0) return 'spurious';
      if ((status & SMT_STATUS_ERROR) !== 0) return 'channel-error';
      const defect = replyHeaderDefect(smtRead(area, SMT_HEADER), inv.header);
      if (defect !== undefined) return defect;
      const length = smtRead(area, SMT_LENGTH);
      if (length < 8) return 'invalid';
      // The length counts the header and the payload after it: past the area, it describes bytes
      // that are not there — a broken or hostile secure world, not a response to clamp.
      if (length > area.byteLength - SMT_HEADER) return 'oversize';
      this.#checkedReturns = length - 8;
      return undefined;
    }
    const buffer = (this.#p.shm as TeeSharedMemory).bytes;
    if (inv.outSize < 8) return 'invalid';
    // OP-TEE reports the size it wrote into p2 (`cmd_process_msg_channel`); more than p2 holds
    // is a broken or hostile secure world, not a response to clamp.
    if (inv.outSize > buffer.byteLength) return 'oversize';
    const defect = replyHeaderDefect(readU32(buffer, 0), inv.header);
    if (defect !== undefined) return defect;
    this.#checkedReturns = inv.outSize - 8;
    return undefined;
  }

  /**
   * Gives the free channel to the next waiting sender whose transfer is still live. Core fails
   * transfers that wait here without telling the channel: agent removal first shuts the engine
   * down (every transfer in `sent` fails), and this channel's quiesce, which refuses its waiters,
   * may come much later — after other channels' quiesces waited for their invocations. Such a
   * waiter is refused, never started: its command must not reach the SCMI PTA, to be run by the
   * platform, after its caller was told it failed.
   */
  #grant(): void {
    while (this.#owner === undefined && this.#inv === undefined) {
      const next = this.#waiters.shift();
      if (next === undefined) return;
      if (this.#refuseDead(next)) continue;
      try {
        const waiting = this.#syncWait(this.#start(next.xfer));
        if (waiting === undefined) next.resolve();
        else void waiting.then(next.resolve, next.reject);
        return;
      } catch (e) {
        next.reject(e);
      }
    }
  }

  /**
   * Refuses `w` with ScmiShutdownError when core already failed its transfer (it left `sent`
   * while waiting for the channel — Linux's `channel->mu`); true when it did. Core counted the
   * failure; the refusal is not a busy rejection nor an invocation.
   */
  #refuseDead(w: SendWaiter): boolean {
    if (w.xfer.state === 'sent') return false;
    w.reject(new ScmiShutdownError(this.#p.setup.agent, `send on ${this.label}`));
    return true;
  }

  #disarm(): void {
    this.#heldTimer?.cancel();
    this.#heldTimer = undefined;
  }

  #disarmSync(): void {
    this.#syncTimer?.cancel();
    this.#syncTimer = undefined;
  }

  /** Completes `xfer` with COMMS_ERROR, counting `reason` when the response itself was bad. */
  #fail(xfer: Xfer, reason: BadMessageReason | undefined): void {
    if (reason !== undefined) this.#p.setup.sink.badMessage(reason);
    xfer.receiveResponse(ScmiStatus.COMMS_ERROR, EMPTY, 0, 0);
  }
}

/** Copies `xfer`'s command payload to `at` in `target` (a byte loop: no view allocated). */
function copyRequest(xfer: Xfer, target: Uint8Array, at: number): void {
  const tx = xfer.tx;
  for (let i = 0; i < xfer.txLen; i++) target[at + i] = tx[i] as number;
}

/** Ends `inv`'s synchronous wait, if one runs. */
function endSyncWait(inv: Invocation): void {
  const resolve = inv.syncWaiter;
  if (resolve === undefined) return;
  inv.syncWaiter = undefined;
  inv.syncFail = undefined;
  resolve();
}

/** Wraps a TEE failure as a transport error (the TEE error as cause). */
export function wrap(message: string, cause: unknown): ScmiTransportError {
  const detail = TeeError.is(cause) ? `: ${cause.code} (${cause.originName})` : '';
  return new ScmiTransportError('E_TEE', `${message}${detail}`, { cause });
}
