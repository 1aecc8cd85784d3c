import { TeeLogin } from '../tee/tee-login.js';
import { TeeParamType } from '../tee/tee-param.js';
import { TeeResult } from '../tee/tee-result.js';
import {
  PTA_SCMI_CAPS_MASK,
  PTA_SCMI_UUID,
  PtaScmiCaps,
  PtaScmiCommand,
  SMT_BUF_SLOT_SIZE,
} from '../wire/pta-scmi.js';
import type { OpteeWireFaults } from './optee-wire-fault.js';
import type { PseudoTa, PtaInvocation, PtaParam } from './pseudo-ta.js';
import type { ScmiMsgServer } from './scmi-msg-server.js';

// Hot imported values read once, at load: the per-call paths then read module-local bindings,
// not properties of other modules' exports (a getter call per access under CommonJS loaders such
// as tsx's).
const {
  CAPABILITIES,
  GET_CHANNEL_HANDLE,
  PROCESS_MSG_CHANNEL,
  PROCESS_SMT_CHANNEL,
  PROCESS_SMT_CHANNEL_MESSAGE,
} = PtaScmiCommand;
const { ACCESS_DENIED, BAD_PARAMETERS, BAD_STATE, CANCEL, NOT_SUPPORTED, SUCCESS } = TeeResult;
const { MSG_HEADER: CAPS_MSG_HEADER, NONE: CAPS_NONE, SMT_HEADER: CAPS_SMT_HEADER } = PtaScmiCaps;
const SLOT_SIZE = SMT_BUF_SLOT_SIZE;
const { NONE, VALUE_INPUT, VALUE_OUTPUT, VALUE_INOUT, MEMREF_INPUT, MEMREF_OUTPUT, MEMREF_INOUT } =
  TeeParamType;

function types(
  params: readonly PtaParam[],
  t0: TeeParamType,
  t1: TeeParamType = NONE,
  t2: TeeParamType = NONE,
  t3: TeeParamType = NONE,
): boolean {
  return (
    params[0]?.type === t0 &&
    params[1]?.type === t1 &&
    params[2]?.type === t2 &&
    params[3]?.type === t3
  );
}

/** Counters of the emulated SCMI pseudo TA (`EmulatedOpteeStats.pta`). */
export interface ScmiPtaStats {
  /**
   * Sessions and invocations the PTA itself refused, as OP-TEE's `core/pta/scmi.c` answers them:
   * a login other than the REE kernel (ACCESS_DENIED), wrong parameter types, an unknown channel,
   * capability bits not defined or a message buffer too small (BAD_PARAMETERS), a command or
   * capability not built in (NOT_SUPPORTED), a channel without a handle yet or command 2 on a
   * channel with a static area (BAD_STATE, where OP-TEE asserts). Wire-fault results are not
   * counted here.
   */
  readonly refused: number;
  /**
   * PROCESS_SMT_CHANNEL on a channel that has no static SMT area: the invocation succeeds and
   * nothing is processed, as in OP-TEE (`scmi_entry_smt`: "No shared buffer"); an agent polling
   * that channel's area would wait for nothing.
   */
  readonly withoutArea: number;
}

/**
 * The emulated SCMI pseudo TA (`OP-TEE/optee_os:core/pta/scmi.c`): REE-kernel logins only,
 * CAPABILITIES, PROCESS_SMT_CHANNEL, PROCESS_SMT_CHANNEL_MESSAGE, GET_CHANNEL_HANDLE and
 * PROCESS_MSG_CHANNEL with OP-TEE's parameter checks and result codes. `capabilities` stands for
 * the build options `CFG_SCMI_MSG_SMT` / `CFG_SCMI_MSG_SHM_MSG`. Like the real PTA it never looks
 * at cancel requests, except under the `hang-until-cancel` wire fault. Internal to the package.
 */
export class ScmiPta implements PseudoTa {
  /** The PTA's UUID. */
  public readonly uuid = PTA_SCMI_UUID;
  readonly #server: ScmiMsgServer;
  readonly #caps: number;
  readonly #faults: OpteeWireFaults;
  #refused = 0;
  #withoutArea = 0;

  public constructor(server: ScmiMsgServer, capabilities: number, faults: OpteeWireFaults) {
    this.#server = server;
    this.#caps = capabilities & PTA_SCMI_CAPS_MASK;
    this.#faults = faults;
  }

  /** The PTA's counters. */
  public get stats(): ScmiPtaStats {
    return { refused: this.#refused, withoutArea: this.#withoutArea };
  }

  /** `pta_scmi_open_session`: only the REE kernel may use SCMI resources. */
  public openSession(login: number): number {
    const result =
      login !== TeeLogin.REE_KERNEL
        ? ACCESS_DENIED
        : this.#caps === CAPS_NONE
          ? NOT_SUPPORTED
          : SUCCESS;
    if (result !== SUCCESS) this.#refused++;
    return result;
  }

  /** Ends `call` with an error the PTA itself answers (counted). */
  #refuse(call: PtaInvocation, result: number): void {
    this.#refused++;
    call.complete(result);
  }

  /** `pta_scmi_invoke_command`. */
  public invoke(call: PtaInvocation): void {
    const p = call.params;
    switch (call.command) {
      case CAPABILITIES:
        this.#capabilities(call, p);
        return;
      case GET_CHANNEL_HANDLE:
        this.#getChannelHandle(call, p);
        return;
      case PROCESS_SMT_CHANNEL:
      case PROCESS_SMT_CHANNEL_MESSAGE:
      case PROCESS_MSG_CHANNEL:
        this.#process(call, p);
        return;
      default:
        this.#refuse(call, NOT_SUPPORTED);
    }
  }

  #capabilities(call: PtaInvocation, p: readonly PtaParam[]): void {
    if (!types(p, VALUE_OUTPUT)) {
      this.#refuse(call, BAD_PARAMETERS);
      return;
    }
    const out = p[0] as PtaParam;
    out.a = this.#caps;
    out.b = 0;
    call.complete(SUCCESS);
  }

  /**
   * `cmd_get_channel_handle` as mainline has it since the SCP-firmware server came in: unknown
   * capability bits are BAD_PARAMETERS (`valid_caps`), and the request is NOT_SUPPORTED only when
   * it shares no bit with what is built in (`if (!(caps & supported_caps()))`, the bits coming
   * from `_CFG_SCMI_PTA_SMT_HEADER` / `_CFG_SCMI_PTA_MSG_HEADER`, `mk/config.mk`). So no bit at
   * all is refused, and SMT | MSG is accepted when only one of them is built. (Before that,
   * `core/pta/scmi.c` refused each requested bit that was not built, and accepted 0.)
   */
  #getChannelHandle(call: PtaInvocation, p: readonly PtaParam[]): void {
    const v = p[0] as PtaParam;
    const caps = v.b;
    if (!types(p, VALUE_INOUT) || (caps & ~PTA_SCMI_CAPS_MASK) !== 0) {
      this.#refuse(call, BAD_PARAMETERS);
      return;
    }
    if ((caps & this.#caps) === 0) {
      this.#refuse(call, NOT_SUPPORTED);
      return;
    }
    const channel = this.#server.channel(v.a);
    if (channel === undefined) {
      this.#refuse(call, BAD_PARAMETERS);
      return;
    }
    channel.threaded = true;
    v.a = channel.id;
    call.complete(SUCCESS);
  }

  #process(call: PtaInvocation, p: readonly PtaParam[]): void {
    const command = call.command;
    const want =
      command === PROCESS_SMT_CHANNEL
        ? types(p, VALUE_INPUT)
        : command === PROCESS_SMT_CHANNEL_MESSAGE
          ? types(p, VALUE_INPUT, MEMREF_INOUT)
          : types(p, VALUE_INPUT, MEMREF_INPUT, MEMREF_OUTPUT) &&
            p[1]?.buffer !== undefined &&
            p[2]?.buffer !== undefined;
    if (!want) {
      this.#refuse(call, BAD_PARAMETERS);
      return;
    }
    const needed = command === PROCESS_MSG_CHANNEL ? CAPS_MSG_HEADER : CAPS_SMT_HEADER;
    if ((this.#caps & needed) === 0) {
      this.#refuse(call, NOT_SUPPORTED);
      return;
    }
    if (command === PROCESS_SMT_CHANNEL_MESSAGE && (p[1] as PtaParam).size < SLOT_SIZE) {
      this.#refuse(call, BAD_PARAMETERS);
      return;
    }
    const channelId = (p[0] as PtaParam).a;
    const channel = this.#server.channel(channelId);
    if (channel === undefined) {
      this.#refuse(call, BAD_PARAMETERS);
      return;
    }
    // OP-TEE asserts these (a panic); an emulation answers BAD_STATE instead.
    if (!channel.threaded) {
      this.#refuse(call, BAD_STATE);
      return;
    }
    if (command === PROCESS_SMT_CHANNEL_MESSAGE && channel.staticArea !== undefined) {
      this.#refuse(call, BAD_STATE);
      return;
    }
    // A `tee-result` or `hang-until-cancel` that fires comes alone (OpteeWireFaults.select).
    const faults = this.#faults.select(channelId, command);
    for (const f of faults) {
      if (f.kind === 'tee-result') {
        call.complete(f.result);
        return;
      }
      if (f.kind === 'hang-until-cancel') {
        if (call.cancelled) call.complete(CANCEL);
        else call.onCancel = () => call.complete(CANCEL);
        return;
      }
    }
    if (command === PROCESS_MSG_CHANNEL) {
      this.#server.msgEntry(channel, p[1] as PtaParam, p[2] as PtaParam, faults, call);
      return;
    }
    const area = command === PROCESS_SMT_CHANNEL ? channel.staticArea : (p[1] as PtaParam).buffer;
    if (area === undefined) {
      // scmi_entry_smt: "No shared buffer for channel": nothing is processed, the PTA succeeds.
      this.#faults.withdraw(faults);
      this.#withoutArea++;
      call.complete(SUCCESS);
      return;
    }
    this.#server.smtEntry(channel, area, faults, call);
  }
}
