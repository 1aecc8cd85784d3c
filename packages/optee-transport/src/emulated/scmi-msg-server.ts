import {
  ScmiStatus,
  type Clock,
  type PlatformConnection,
  type ScmiPlatformPort,
  type TimerHandle,
} from '@scmi-ts/core';
import * as core from '@scmi-ts/core';
import { TeeResult } from '../tee/tee-result.js';
import { OPTEE_MSG_BUFFER_MIN_SIZE, SCMI_SEC_PAYLOAD_SIZE } from '../wire/pta-scmi.js';
import type { OpteeWireLayout } from '../wire/optee-wire-layout.js';
import * as smtLayout from '../wire/smt-layout.js';
import type { OpteeWireFaultAction, OpteeWireFaults } from './optee-wire-fault.js';
import type { PtaParam } from './pseudo-ta.js';

// Hot imported values read once, at load: the per-message paths then read module-local bindings,
// not properties of other modules' exports (a getter call per access under CommonJS loaders such
// as tsx's).
const { isCommandHeader, readU32, sameCommandHeader, writeU32 } = core;
const {
  SMT_HEADER,
  SMT_HEADER_SIZE,
  SMT_LENGTH,
  SMT_PAYLOAD,
  SMT_STATUS,
  SMT_STATUS_ERROR,
  SMT_STATUS_FREE,
  smtRead,
  smtWrite,
} = smtLayout;
const MAX_PAYLOAD = SCMI_SEC_PAYLOAD_SIZE;
/** Smallest MSG output buffer the emulation accepts: the header and the status. */
const MSG_MIN_OUT = OPTEE_MSG_BUFFER_MIN_SIZE;
const { SUCCESS, BAD_PARAMETERS, BUSY, COMMUNICATION } = TeeResult;

/** One SCMI channel of the server (OP-TEE `struct scmi_msg_channel`). */
export interface ServerChannel {
  /** The OP-TEE channel id (also its handle, as `scmi_smt_channel_handle` returns). */
  readonly id: number;
  /** The static SMT area, when the channel has one. */
  readonly staticArea: Uint8Array | undefined;
  /** Set by GET_CHANNEL_HANDLE: the channel is served by threaded entries. */
  threaded: boolean;
  /** Claimed by a message being processed (`scmi_msg_claim_channel`). */
  busy: boolean;
  /** The message waiting for a response the platform gives later, with its header word. */
  waiter: { readonly header: number; deliver(bytes: Uint8Array): void; cancel(): void } | undefined;
}

/**
 * Whether `response` answers the command with header word `command`: same token, protocol id and
 * message id. A later response may be the answer to an earlier message on the channel that the
 * server gave up on (the platform timeout) while the next one waits; OP-TEE answers within the
 * message's own call and never sees such a response. The type is not compared: a response
 * whose type a fault rule rewrote still reaches the agent, which must reject it. A response too
 * short for a header has nothing to compare; it goes to the waiting message, whose header the
 * entry writes (as OP-TEE echoes it).
 */
function answers(command: number, response: Uint8Array): boolean {
  if (response.byteLength < 4) return true;
  return sameCommandHeader(readU32(response, 0), command);
}

/**
 * Whether a later response answers the waiting message with header word `waiting`: by the command
 * the platform names (`named`, from `link.respond`) when it names one — a response whose header a
 * fault rule rewrote then still reaches its message, for the agent to reject — else by the
 * response's own header ({@link answers}).
 */
function answersWaiting(waiting: number, response: Uint8Array, named: number | undefined): boolean {
  return named === undefined ? answers(waiting, response) : sameCommandHeader(named, waiting);
}

/** Ends `call` because processing its message threw: the channel claim is released first. */
function crashed(channel: ServerChannel, call: ServerCompletion, error: unknown): void {
  channel.busy = false;
  call.crash(error);
}

/** Counters of the emulated SCMI server. */
export interface ScmiMsgServerStats {
  /** Messages passed to the platform. */
  readonly messages: number;
  /**
   * Messages refused before dispatch (too long, bad SMT status, bad MSG buffers), and messages
   * whose header is not a command (reserved bits, another type): the platform sees those, drops
   * them and never answers, so they are failed at once instead of holding their channel until
   * the platform timeout.
   */
  readonly rejected: number;
  /** Messages refused because the channel was claimed. */
  readonly busy: number;
  /** Messages whose platform response did not come within the platform timeout. */
  readonly platformTimeouts: number;
  /**
   * Responses the platform sent later that answer no message waiting on the channel (dropped):
   * none waited, or the one waiting has another token, protocol id or message id — the late
   * answer to an earlier message the server gave up on (`platformTimeouts`).
   */
  readonly strayResponses: number;
}

/** Options of the server. */
export interface ScmiMsgServerOptions {
  /** The wire layout: the server serves its channels, with their static SMT areas. */
  readonly layout: OpteeWireLayout;
  /** The wire memory the static SMT areas live in. */
  readonly memory: SharedArrayBuffer;
  /** Where the messages go (OP-TEE's `scmi_process_message` and its protocol handlers). */
  readonly platform: ScmiPlatformPort;
  /** The SCMI agent id of the normal world, as the platform knows it. */
  readonly agentId: number;
  /** The clock of the platform-timeout timers. */
  readonly clock: Clock;
  /** How long a message waits for a response the platform gives later, ms, before failing. */
  readonly platformTimeoutMs: number;
  /**
   * Size of the MSG buffers the normal world passes as p2, checked (`checkMsgBufferSize`):
   * responses are sized to it less the 4-byte header, unless a static SMT area is smaller.
   */
  readonly msgBufferSize: number;
  /**
   * The wire fault rules the entries' `faults` come from: a firing an invocation ends without
   * applying is taken back there ({@link OpteeWireFaults.withdraw}).
   */
  readonly faults: OpteeWireFaults;
}

/** A response carrying only PROTOCOL_ERROR, for responses that do not fit (`scmi_write_response`). */
function protocolError(): Uint8Array {
  const out = new Uint8Array(4);
  writeU32(out, 0, ScmiStatus.PROTOCOL_ERROR >>> 0);
  return out;
}

/** What an entry completes: the PTA invocation (`PtaInvocation`). */
export interface ServerCompletion {
  /** Ends the invocation with `result` (the TA's answer). */
  complete(result: number): void;
  /** Ends the invocation because processing it threw (`TEE_ERROR_GENERIC` from the TEE). */
  crash(error: unknown): void;
}

function hasBusyFault(faults: readonly OpteeWireFaultAction[]): boolean {
  for (let i = 0; i < faults.length; i++) if (faults[i]?.kind === 'busy-channel') return true;
  return false;
}

/** The SMT channel error: ERROR | FREE in the status, the invocation itself succeeds. */
function smtFail(area: Uint8Array, call: ServerCompletion): void {
  smtWrite(area, SMT_STATUS, smtRead(area, SMT_STATUS) | SMT_STATUS_ERROR | SMT_STATUS_FREE);
  call.complete(SUCCESS);
}

/** Writes the platform's `response` into the SMT area over the request, gives the area back. */
function smtRespond(
  channel: ServerChannel,
  area: Uint8Array,
  faults: readonly OpteeWireFaultAction[],
  request: Uint8Array,
  response: Uint8Array,
  call: ServerCompletion,
): void {
  channel.busy = false;
  const capacity = area.byteLength - SMT_HEADER_SIZE;
  let length = 4;
  if (response.byteLength < 4) {
    smtWrite(area, SMT_HEADER, readU32(request, 0));
  } else if (response.byteLength - 4 > capacity) {
    const out = protocolError();
    area.set(out, SMT_PAYLOAD);
    smtWrite(area, SMT_HEADER, readU32(response, 0));
    length += out.byteLength;
  } else {
    // A byte loop, not set(subarray()): the common path allocates nothing.
    for (let i = 4; i < response.byteLength; i++) {
      area[SMT_PAYLOAD - 4 + i] = response[i] as number;
    }
    smtWrite(area, SMT_HEADER, readU32(response, 0));
    length += response.byteLength - 4;
  }
  for (let i = 0; i < faults.length; i++) {
    const f = faults[i] as OpteeWireFaultAction;
    // Default: one word past the area (the length counts from the header on).
    if (f.kind === 'output-size')
      length = f.excess === undefined ? area.byteLength - SMT_HEADER + 4 : length + f.excess;
  }
  smtWrite(area, SMT_LENGTH, length);
  smtWrite(area, SMT_STATUS, smtRead(area, SMT_STATUS) | SMT_STATUS_FREE);
  for (let i = 0; i < faults.length; i++) {
    const f = faults[i] as OpteeWireFaultAction;
    if (f.kind === 'smt-status') smtWrite(area, SMT_STATUS, f.status);
  }
  call.complete(SUCCESS);
}

/** Writes the platform's `response` into the MSG output buffer and sets its size. */
function msgRespond(
  channel: ServerChannel,
  output: PtaParam,
  faults: readonly OpteeWireFaultAction[],
  request: Uint8Array,
  response: Uint8Array,
  call: ServerCompletion,
): void {
  channel.busy = false;
  const out = output.buffer as Uint8Array;
  let size = 4;
  if (response.byteLength < 4) {
    writeU32(out, 0, readU32(request, 0));
  } else if (response.byteLength - 4 > output.size - 4) {
    const payload = protocolError();
    writeU32(out, 0, readU32(response, 0));
    out.set(payload, 4);
    size += payload.byteLength;
  } else {
    writeU32(out, 0, readU32(response, 0));
    for (let i = 4; i < response.byteLength; i++) out[i] = response[i] as number;
    size += response.byteLength - 4;
  }
  for (let i = 0; i < faults.length; i++) {
    const f = faults[i] as OpteeWireFaultAction;
    // Default: one word past the output buffer.
    if (f.kind === 'output-size') size = f.excess === undefined ? output.size + 4 : size + f.excess;
  }
  output.size = size;
  call.complete(SUCCESS);
}

/**
 * The emulated OP-TEE SCMI server (`core/drivers/scmi-msg/`): its channels with their claim
 * flag, the SMT entry (`smt.c: scmi_entry_smt`) and the MSG entry (`shm_msg.c: scmi_entry_msg`),
 * with OP-TEE's checks and errors; the messages themselves go to an {@link ScmiPlatformPort}
 * (OP-TEE's `scmi_process_message` and its protocol handlers). Internal to the package.
 *
 * Where the emulation differs from OP-TEE, on purpose:
 * - the platform may answer later (a delay rule): the message then keeps its channel claimed and
 *   its invocation running until the response comes, or until `platformTimeoutMs` passes (then the
 *   SMT area gets ERROR | FREE, a MSG invocation `TEE_ERROR_COMMUNICATION`); a response that comes
 *   when nothing waits, or that answers another command than the waiting message (the answer to a
 *   message given up on: by the command the platform names, else by the response's token,
 *   protocol id and message id), is dropped and counted in `strayResponses` — OP-TEE answers
 *   within the message's own call, so a response cannot reach another message;
 * - the response's header is the platform's (OP-TEE echoes the request's), so that a header
 *   rewritten by a platform fault rule reaches the agent, which must reject it (a later response
 *   whose token, protocol or message id was rewritten reaches the waiting message when the
 *   platform names that message's command, and is dropped when it names none);
 * - a message whose header is not a command (reserved bits, another type) goes to the platform,
 *   which counts and drops it (OP-TEE would process it whatever its type); its channel is then
 *   released at once and the message failed as one the platform never answered (SMT ERROR |
 *   FREE, MSG `TEE_ERROR_COMMUNICATION`), instead of holding the channel for `platformTimeoutMs`;
 * - responses are sized to one link size for every channel — a MSG buffer as the normal world
 *   sizes it less its header (`msgBufferSize`: 100 bytes by default, as current Linux's 104-byte
 *   buffer holds; 124 for older kernels' 128), or the smallest static SMT area — where OP-TEE
 *   sizes each to its own buffer. A response larger than the buffer it goes into is answered
 *   PROTOCOL_ERROR there, as OP-TEE answers one that does not fit: a p2 smaller than
 *   `msgBufferSize`, or through PROCESS_SMT_CHANNEL_MESSAGE an area smaller than the link (a
 *   128-byte area holds 100 bytes of message);
 * - a MSG output buffer of 4 to 7 bytes is refused with `TEE_ERROR_BAD_PARAMETERS` (OP-TEE's
 *   `shm_msg.c` admits it, then asserts in `scmi_status_response`);
 * - a message whose processing throws (the platform threw) releases the claim and ends its
 *   invocation with `TEE_ERROR_GENERIC` from the TEE (`PtaInvocation.crash`), the exception kept
 *   out of the platform's and the clock's call stacks.
 *
 * As OP-TEE does: the two SMT error paths after the claim (a payload over 92 bytes, an area
 * already FREE or ERROR) set ERROR | FREE and keep the claim — `scmi_entry_smt` jumps to `out:`
 * past `scmi_msg_release_channel` — so every later message on that channel is refused as busy
 * (counted in `busy`) until the emulated OP-TEE is closed; this agent never sends either. And a
 * message on a claimed SMT channel sets ERROR | FREE in the area
 * (`scmi_entry_smt`'s `out:` path), even when the claim is a message the platform answers later —
 * whose response then lands in an area already given back, ERROR still set. Only an agent that
 * invokes a channel whose area it has not got back (never Linux, nor this agent) meets it.
 */
export class ScmiMsgServer {
  readonly #o: ScmiMsgServerOptions;
  readonly #channels = new Map<number, ServerChannel>();
  readonly #connection: PlatformConnection;
  #messages = 0;
  #rejected = 0;
  #busy = 0;
  #platformTimeouts = 0;
  #stray = 0;
  #closed = false;

  /**
   * Sets the channels up from the wire layout and connects the agent to the platform.
   *
   * @throws the platform's error when the agent cannot connect.
   */
  public constructor(options: ScmiMsgServerOptions) {
    this.#o = options;
    // A MSG buffer as the normal world sizes it (less its header; 100 bytes of Linux's 104), or
    // the smallest static SMT area. Not the 128-byte area PROCESS_SMT_CHANNEL_MESSAGE accepts
    // (100 bytes of message): the link bounds every response, not only multi-part ones, and a MSG
    // channel of a larger buffer would lose what fits it; a response larger than that area is
    // answered PROTOCOL_ERROR there (smtRespond), one larger than a p2 in msgRespond.
    let maxMsgSize = options.msgBufferSize - 4;
    for (const c of options.layout.channels.values()) {
      const staticArea =
        c.shmemOffset === undefined
          ? undefined
          : new Uint8Array(options.memory, c.shmemOffset, c.shmemSize);
      if (staticArea !== undefined) {
        maxMsgSize = Math.min(maxMsgSize, c.shmemSize - SMT_HEADER_SIZE);
      }
      this.#channels.set(c.id, {
        id: c.id,
        staticArea,
        threaded: false,
        busy: false,
        waiter: undefined,
      });
    }
    // Connected before any area is touched: a server the platform refuses (its agent is already
    // connected: another secure world on the same wire) must leave the live one's areas alone.
    this.#connection = options.platform.connect(options.agentId, {
      // OP-TEE has no P2A channel: no notification, no delayed response.
      p2a: false,
      maxMsgSize,
      respond: (channelId, bytes, command) => {
        this.#respond(channelId, bytes, command);
      },
      post: () => false,
    });
    for (const c of this.#channels.values()) {
      if (c.staticArea === undefined) continue;
      // scmi_smt_init_agent_channel: the area starts free, no error.
      c.staticArea.fill(0, 0, SMT_HEADER_SIZE);
      smtWrite(c.staticArea, SMT_STATUS, SMT_STATUS_FREE);
    }
  }

  /** The server's counters. */
  public get stats(): ScmiMsgServerStats {
    return {
      messages: this.#messages,
      rejected: this.#rejected,
      busy: this.#busy,
      platformTimeouts: this.#platformTimeouts,
      strayResponses: this.#stray,
    };
  }

  /** The channel `id` (`plat_scmi_get_channel`), or undefined. */
  public channel(id: number): ServerChannel | undefined {
    return this.#channels.get(id);
  }

  /**
   * Processes the message in SMT `area` on `channel` (`scmi_entry_smt`); `call` is completed
   * (TEE_SUCCESS) once the response (or the error flags) are in the area — at once, unless the
   * platform answers later.
   */
  public smtEntry(
    channel: ServerChannel,
    area: Uint8Array,
    faults: readonly OpteeWireFaultAction[],
    call: ServerCompletion,
  ): void {
    const busyFault = hasBusyFault(faults);
    if (busyFault || !this.#claim(channel)) {
      this.#o.faults.withdraw(faults, busyFault ? 'busy-channel' : undefined);
      this.#busy++;
      smtFail(area, call);
      return;
    }
    const status = smtRead(area, SMT_STATUS);
    // size_t arithmetic, as in C: a length below 4 wraps to a huge size and is refused.
    const inSize = (smtRead(area, SMT_LENGTH) - 4) >>> 0;
    if (
      inSize > MAX_PAYLOAD ||
      SMT_PAYLOAD + inSize > area.byteLength ||
      (status & (SMT_STATUS_ERROR | SMT_STATUS_FREE)) !== 0
    ) {
      this.#o.faults.withdraw(faults);
      this.#rejected++;
      // The claim is kept, as OP-TEE's `out:` path keeps it (see the class comment).
      smtFail(area, call);
      return;
    }
    // The request is copied out first (OP-TEE copies it into secure memory): the response is
    // written over it in place.
    const request = area.slice(SMT_HEADER, SMT_PAYLOAD + inSize);
    try {
      const response = this.#process(channel, request);
      if (response !== undefined) {
        smtRespond(channel, area, faults, request, response, call);
        return;
      }
    } catch (error) {
      this.#o.faults.withdraw(faults);
      crashed(channel, call, error);
      return;
    }
    if (this.#dropped(channel, request)) {
      this.#o.faults.withdraw(faults);
      smtFail(area, call);
      return;
    }
    this.#wait(channel, readU32(request, 0), call, (late) => {
      if (late === undefined) {
        this.#o.faults.withdraw(faults);
        channel.busy = false;
        smtFail(area, call);
      } else smtRespond(channel, area, faults, request, late, call);
    });
  }

  /**
   * Processes the MSG request in `input` into `output` on `channel` (`scmi_entry_msg`); `call` is
   * completed with the TEE result (at once, unless the platform answers later), and `output.size`
   * holds the response size on success.
   */
  public msgEntry(
    channel: ServerChannel,
    input: PtaParam,
    output: PtaParam,
    faults: readonly OpteeWireFaultAction[],
    call: ServerCompletion,
  ): void {
    const inSize = input.size;
    const outSize = output.size;
    // shm_msg.c refuses an output buffer below the 4-byte header (BAD_PARAMETERS); one of 4 to 7
    // bytes passes that check but leaves less than the 4-byte status every response starts with,
    // and OP-TEE then trips the assert in entry.c's scmi_status_response (a panic; without
    // asserts, a write past the buffer). The emulation refuses it with the other buffer checks:
    // BAD_PARAMETERS, before the channel is claimed, nothing written.
    if (
      inSize < 4 ||
      inSize - 4 > MAX_PAYLOAD ||
      input.address % 4 !== 0 ||
      outSize < MSG_MIN_OUT ||
      output.address % 4 !== 0 ||
      input.buffer === undefined ||
      output.buffer === undefined
    ) {
      this.#o.faults.withdraw(faults);
      this.#rejected++;
      call.complete(BAD_PARAMETERS);
      return;
    }
    const busyFault = hasBusyFault(faults);
    if (busyFault || !this.#claim(channel)) {
      this.#o.faults.withdraw(faults, busyFault ? 'busy-channel' : undefined);
      this.#busy++;
      call.complete(BUSY);
      return;
    }
    const request = input.buffer.slice(0, inSize);
    try {
      const response = this.#process(channel, request);
      if (response !== undefined) {
        // A MSG channel has no channel_status: `smt-status` does not act on it.
        this.#o.faults.withdraw(faults, 'output-size');
        msgRespond(channel, output, faults, request, response, call);
        return;
      }
    } catch (error) {
      this.#o.faults.withdraw(faults);
      crashed(channel, call, error);
      return;
    }
    if (this.#dropped(channel, request)) {
      this.#o.faults.withdraw(faults);
      call.complete(COMMUNICATION);
      return;
    }
    this.#wait(channel, readU32(request, 0), call, (late) => {
      this.#o.faults.withdraw(faults, late === undefined ? undefined : 'output-size');
      if (late === undefined) {
        channel.busy = false;
        call.complete(COMMUNICATION);
      } else msgRespond(channel, output, faults, request, late, call);
    });
  }

  /** Disconnects from the platform and drops every message waiting for a response. Idempotent. */
  public close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#channels.values()) {
      c.waiter?.cancel();
      c.waiter = undefined;
    }
    this.#connection.disconnect();
  }

  #claim(channel: ServerChannel): boolean {
    if (channel.busy) return false;
    channel.busy = true;
    return true;
  }

  /**
   * Whether `request`, which the platform did not answer now, is one it will never answer: a
   * header that is not a command, which the platform drops. The channel is then released and the
   * message counted as rejected, for the caller to fail at once.
   */
  #dropped(channel: ServerChannel, request: Uint8Array): boolean {
    if (isCommandHeader(readU32(request, 0))) return false;
    channel.busy = false;
    this.#rejected++;
    return true;
  }

  /** Hands `request` to the platform: its response, or undefined when it answers later. */
  #process(channel: ServerChannel, request: Uint8Array): Uint8Array | undefined {
    this.#messages++;
    return this.#o.platform.handle(this.#o.agentId, channel.id, request);
  }

  /**
   * Waits for the platform's later response to the message with header word `header`: `respond`
   * gets a copy of it, or undefined after the platform timeout. An exception on the way ends
   * `call` (see {@link crashed}) instead of escaping into the platform or the clock.
   */
  #wait(
    channel: ServerChannel,
    header: number,
    call: ServerCompletion,
    respond: (response: Uint8Array | undefined) => void,
  ): void {
    const settle = (bytes: Uint8Array | undefined): void => {
      try {
        respond(bytes === undefined ? undefined : bytes.slice());
      } catch (error) {
        crashed(channel, call, error);
      }
    };
    let timer: TimerHandle | undefined = this.#o.clock.setTimeout(() => {
      timer = undefined;
      channel.waiter = undefined;
      this.#platformTimeouts++;
      settle(undefined);
    }, this.#o.platformTimeoutMs);
    channel.waiter = {
      header,
      deliver: (bytes) => {
        timer?.cancel();
        timer = undefined;
        channel.waiter = undefined;
        settle(bytes);
      },
      cancel: () => {
        timer?.cancel();
        timer = undefined;
      },
    };
  }

  #respond(channelId: number, bytes: Uint8Array, command: number | undefined): void {
    const waiter = this.#channels.get(channelId)?.waiter;
    if (waiter === undefined || this.#closed || !answersWaiting(waiter.header, bytes, command)) {
      this.#stray++;
      return;
    }
    waiter.deliver(bytes);
  }
}
