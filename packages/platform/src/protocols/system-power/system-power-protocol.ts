import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  fail,
  ok,
  readNotifyEnable,
  reportedVersion,
  words,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
  type ProtocolServer,
  type Reply,
} from '../protocol-server.js';
import { SystemPowerMessageId, SystemPowerNotificationId } from './system-power-message-id.js';

/** Highest architectural system state: 0 shutdown, 1 cold reset, 2 warm reset, 3 power up, 4 suspend. */
const MAX_ARCH_STATE = 4;
const SHUTDOWN = 0;
const POWER_UP = 3;
const SUSPEND = 4;
const V1 = 0x10000;
const V2 = 0x20000;
/** System power 2.1 (SCMI v3.2): 2.0 and NEGOTIATE_PROTOCOL_VERSION, no layout changed. */
const V2_1 = 0x20001;
/** SET and notifier flags bit 0: a graceful request. */
const GRACEFUL = 1;
/**
 * Payload of SYSTEM_POWER_STATE_NOTIFIER as posted (see `#set`): agent_id, flags, system_state,
 * and from version 2.0 timeout (Linux `system.c` scmi_system_power_state_notifier_payld).
 */
const STATE_NOTIFICATION_V1 = 12;
const STATE_NOTIFICATION_V2 = 16;

/** The SYSTEM_POWER_STATE_NOTIFIER payload size at protocol version `version`. */
function notificationSize(version: number): number {
  return version >= V2 ? STATE_NOTIFICATION_V2 : STATE_NOTIFICATION_V1;
}

/**
 * System power protocol (0x12), version 2.1 (SCMI v3.2; 2.0 without version negotiation, see
 * `reportedVersion`). A state set is recorded (the emulated system does not go down) and
 * announced to subscribers with SYSTEM_POWER_STATE_NOTIFIER, which from version 2.0 (SCMI v3.1)
 * ends with a timeout word: the time in ms the platform gives the agents to complete a graceful
 * request (`systemPower.gracefulTimeoutMs`, default 0: no deadline, as NXP's System Manager
 * sends, `nxp-imx/imx-sm` `rpc_scmi_sys.c`), 0 for a forceful one (Linux `system.c` and
 * `scmi_power_control.c` read it for a graceful shutdown only, 0 meaning no deadline). 2.1 only
 * adds NEGOTIATE_PROTOCOL_VERSION; an agent may negotiate 2.0 (answered alike) or 1.0, whose
 * notifier has no timeout word (12 bytes): each subscriber gets the layout of the version it
 * speaks. @internal
 */
export class SystemPowerProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.SYSTEM;
  public readonly version: number;
  public readonly olderVersions: readonly number[] = [V1];
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #gracefulTimeoutMs: number;
  #state: number;

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.version = reportedVersion(services, V2_1);
    this.#state = services.config.systemPower?.state ?? 3;
    this.#gracefulTimeoutMs = services.config.systemPower?.gracefulTimeoutMs ?? 0;
    this.messages = new Map<number, MessageHandler>([
      [
        SystemPowerMessageId.STATE_SET,
        // PROTOCOL_MESSAGE_ATTRIBUTES of SYSTEM_POWER_STATE_SET: bit 31 warm reset supported,
        // bit 30 suspend supported (SCP-firmware SYS_POWER_STATE_SET_ATTRIBUTES_WARM_RESET /
        // _SUSPEND; ARM scmi-tests test_s003 reads them there).
        { size: 8, attributes: 0xc0000000, run: (req) => this.#set(req) },
      ],
      [SystemPowerMessageId.STATE_GET, { size: 0, run: () => ok(words(this.#state)) }],
      [
        SystemPowerMessageId.STATE_NOTIFY,
        {
          size: 4,
          p2a: true,
          run: (req) => {
            const on = readNotifyEnable(this.#p, req, notificationSize(req.version));
            if (typeof on !== 'boolean') return on;
            req.agent.subscribe(this.id, SystemPowerNotificationId.STATE_NOTIFIER, 0, on);
            return ok();
          },
        },
      ],
    ]);
  }

  /** The current system state. */
  public get state(): number {
    return this.#state;
  }

  public attributes(): Reply {
    // Reserved, zero (DEN0056 System power PROTOCOL_ATTRIBUTES; scmi-tests test_s002 checks it):
    // warm reset and suspend support are STATE_SET's message attributes.
    return ok(words(0));
  }

  #set(req: PlatformRequest): Reply {
    const flags = req.r.u32();
    const state = req.r.u32();
    if ((flags & ~1) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    // As SCP-firmware's `mod_scmi_system_power.c` (scmi_sys_power_state_set_handler): a reserved
    // state, or a vendor one (0x80000000 and up: this platform implements none, though the
    // configuration may start the system in one, which STATE_GET reports), is INVALID_PARAMETERS
    // (its `default:` case); POWER_UP is for a management agent only (NOT_SUPPORTED otherwise —
    // here a trusted agent), and only while the system is shut down or suspended (DENIED
    // otherwise: there is nothing to power up).
    if (state > MAX_ARCH_STATE) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (state === POWER_UP) {
      if (req.agent.config.trusted !== true) return fail(ScmiStatus.NOT_SUPPORTED);
      if (this.#state !== SHUTDOWN && this.#state !== SUSPEND) return fail(ScmiStatus.DENIED);
    }
    this.#state = state;
    const timeout = (flags & GRACEFUL) !== 0 ? this.#gracefulTimeoutMs : 0;
    // To every other subscriber: the agent that asked for the transition knows of it (SCP-firmware
    // `mod_scmi_system_power.c`, scmi_sys_power_state_notify, skips the requesting service). Each
    // in the layout of the version it speaks: the timeout word from 2.0.
    this.#p.notify(
      this.id,
      SystemPowerNotificationId.STATE_NOTIFIER,
      0,
      (agent) =>
        (agent.negotiatedVersion(this.id) ?? this.version) >= V2
          ? words(req.agent.id, flags, state, timeout)
          : words(req.agent.id, flags, state),
      req.agent,
    );
    return ok();
  }
}
