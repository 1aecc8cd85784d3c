import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import {
  fail,
  ok,
  readNotifyEnable,
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
/** Payload of SYSTEM_POWER_STATE_NOTIFIER as posted (see `#set`): agent_id, flags, system_state. */
const STATE_NOTIFICATION = 12;

/**
 * System power protocol (0x12), version 1.0. A state set is recorded (the emulated system does not
 * go down) and announced to subscribers. @internal
 */
export class SystemPowerProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.SYSTEM;
  public readonly version = 0x10000;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  #state: number;

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.#state = services.config.systemPower?.state ?? 3;
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
            const on = readNotifyEnable(this.#p, req, STATE_NOTIFICATION);
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
    // To every other subscriber: the agent that asked for the transition knows of it (SCP-firmware
    // `mod_scmi_system_power.c`, scmi_sys_power_state_notify, skips the requesting service).
    this.#p.notify(
      this.id,
      SystemPowerNotificationId.STATE_NOTIFIER,
      0,
      words(req.agent.id, flags, state),
      req.agent,
    );
    return ok();
  }
}
