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

const { NONE, VALUE_INPUT, VALUE_OUTPUT, VALUE_INOUT, MEMREF_INPUT, MEMREF_OUTPUT, MEMREF_INOUT } =
  TeeParamType;

function types(params: readonly PtaParam[], ...expected: TeeParamType[]): boolean {
  for (let i = 0; i < 4; i++) if (params[i]?.type !== (expected[i] ?? NONE)) return false;
  return true;
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

  public constructor(server: ScmiMsgServer, capabilities: number, faults: OpteeWireFaults) {
    this.#server = server;
    this.#caps = capabilities & PTA_SCMI_CAPS_MASK;
    this.#faults = faults;
  }

  /** `pta_scmi_open_session`: only the REE kernel may use SCMI resources. */
  public openSession(login: number): number {
    if (login !== TeeLogin.REE_KERNEL) return TeeResult.ACCESS_DENIED;
    return this.#caps === PtaScmiCaps.NONE ? TeeResult.NOT_SUPPORTED : TeeResult.SUCCESS;
  }

  /** `pta_scmi_invoke_command`. */
  public invoke(call: PtaInvocation): void {
    const p = call.params;
    switch (call.command) {
      case PtaScmiCommand.CAPABILITIES:
        this.#capabilities(call, p);
        return;
      case PtaScmiCommand.GET_CHANNEL_HANDLE:
        this.#getChannelHandle(call, p);
        return;
      case PtaScmiCommand.PROCESS_SMT_CHANNEL:
      case PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE:
      case PtaScmiCommand.PROCESS_MSG_CHANNEL:
        this.#process(call, p);
        return;
      default:
        call.complete(TeeResult.NOT_SUPPORTED);
    }
  }

  #capabilities(call: PtaInvocation, p: readonly PtaParam[]): void {
    if (!types(p, VALUE_OUTPUT)) {
      call.complete(TeeResult.BAD_PARAMETERS);
      return;
    }
    const out = p[0] as PtaParam;
    out.a = this.#caps;
    out.b = 0;
    call.complete(TeeResult.SUCCESS);
  }

  #getChannelHandle(call: PtaInvocation, p: readonly PtaParam[]): void {
    const v = p[0] as PtaParam;
    const caps = v.b;
    if (!types(p, VALUE_INOUT) || (caps & ~PTA_SCMI_CAPS_MASK) !== 0) {
      call.complete(TeeResult.BAD_PARAMETERS);
      return;
    }
    if (
      ((caps & PtaScmiCaps.SMT_HEADER) !== 0 && (this.#caps & PtaScmiCaps.SMT_HEADER) === 0) ||
      ((caps & PtaScmiCaps.MSG_HEADER) !== 0 && (this.#caps & PtaScmiCaps.MSG_HEADER) === 0)
    ) {
      call.complete(TeeResult.NOT_SUPPORTED);
      return;
    }
    const channel = this.#server.channel(v.a);
    if (channel === undefined) {
      call.complete(TeeResult.BAD_PARAMETERS);
      return;
    }
    channel.threaded = true;
    v.a = channel.id;
    call.complete(TeeResult.SUCCESS);
  }

  #process(call: PtaInvocation, p: readonly PtaParam[]): void {
    const command = call.command;
    const want =
      command === PtaScmiCommand.PROCESS_SMT_CHANNEL
        ? types(p, VALUE_INPUT)
        : command === PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE
          ? types(p, VALUE_INPUT, MEMREF_INOUT)
          : types(p, VALUE_INPUT, MEMREF_INPUT, MEMREF_OUTPUT) &&
            p[1]?.buffer !== undefined &&
            p[2]?.buffer !== undefined;
    if (!want) {
      call.complete(TeeResult.BAD_PARAMETERS);
      return;
    }
    const needed =
      command === PtaScmiCommand.PROCESS_MSG_CHANNEL
        ? PtaScmiCaps.MSG_HEADER
        : PtaScmiCaps.SMT_HEADER;
    if ((this.#caps & needed) === 0) {
      call.complete(TeeResult.NOT_SUPPORTED);
      return;
    }
    if (
      command === PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE &&
      (p[1] as PtaParam).size < SMT_BUF_SLOT_SIZE
    ) {
      call.complete(TeeResult.BAD_PARAMETERS);
      return;
    }
    const channelId = (p[0] as PtaParam).a;
    const channel = this.#server.channel(channelId);
    if (channel === undefined) {
      call.complete(TeeResult.BAD_PARAMETERS);
      return;
    }
    // OP-TEE asserts these (a panic); an emulation answers BAD_STATE instead.
    if (!channel.threaded) {
      call.complete(TeeResult.BAD_STATE);
      return;
    }
    if (
      command === PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE &&
      channel.staticArea !== undefined
    ) {
      call.complete(TeeResult.BAD_STATE);
      return;
    }
    const faults = this.#faults.select(channelId, command);
    for (const f of faults) {
      if (f.kind === 'tee-result') {
        call.complete(f.result);
        return;
      }
      if (f.kind === 'hang-until-cancel') {
        if (call.cancelled) call.complete(TeeResult.CANCEL);
        else call.onCancel = () => call.complete(TeeResult.CANCEL);
        return;
      }
    }
    if (command === PtaScmiCommand.PROCESS_MSG_CHANNEL) {
      this.#server.msgEntry(channel, p[1] as PtaParam, p[2] as PtaParam, faults, (result) => {
        call.complete(result);
      });
      return;
    }
    const area =
      command === PtaScmiCommand.PROCESS_SMT_CHANNEL
        ? channel.staticArea
        : (p[1] as PtaParam).buffer;
    if (area === undefined) {
      // scmi_entry_smt: "No shared buffer for channel": nothing is processed, the PTA succeeds.
      call.complete(TeeResult.SUCCESS);
      return;
    }
    this.#server.smtEntry(channel, area, faults, () => {
      call.complete(TeeResult.SUCCESS);
    });
  }
}
