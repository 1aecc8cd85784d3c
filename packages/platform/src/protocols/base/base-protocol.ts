import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import { domainProtocolOf } from '../protocol-names.js';
import {
  concat,
  fail,
  ok,
  readNotifyEnable,
  reportedVersion,
  shortName,
  words,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
  type ProtocolServer,
  type Reply,
} from '../protocol-server.js';
import { BaseMessageId, BaseNotificationId } from './base-message-id.js';

const CALLER = 0xffffffff;
const BASE: number = ScmiProtocolId.BASE;
const V1 = 0x10000;
const V2 = 0x20000;
/** Base 2.1 (SCMI v3.2): 2.0 and NEGOTIATE_PROTOCOL_VERSION, no layout changed. */
const V2_1 = 0x20001;
/** A BASE_ERROR_EVENT payload with one error report: agent_id, error_status, one 64-bit report. */
const ERROR_EVENT_SIZE = 16;

/**
 * Base protocol (0x10), version 2.1 (SCMI v3.2; 2.0 without version negotiation, see
 * `reportedVersion`): discovery, agents, error notifications and permissions. 2.1 only adds
 * NEGOTIATE_PROTOCOL_VERSION, so 2.0 negotiated is answered alike. Version 1.0 can be negotiated:
 * BASE_DISCOVER_AGENT then returns name[16] alone (the v1 layout, which Linux `base.c` read until
 * commit d1cbd9e0f7e5 "Fix base agent discover response"), and the permission commands 0x9–0xB,
 * added in version 2.0, are unknown. @internal
 */
export class BaseProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.BASE;
  public readonly version: number;
  public readonly olderVersions: readonly number[] = [V1];
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #implemented: ReadonlySet<number>;

  public constructor(services: PlatformServices, implemented: ReadonlySet<number>) {
    this.#p = services;
    this.#implemented = implemented;
    this.version = reportedVersion(services, V2_1);
    const cfg = services.config;
    this.messages = new Map<number, MessageHandler>([
      [BaseMessageId.DISCOVER_VENDOR, { size: 0, run: () => ok(shortName(cfg.vendor)) }],
      [BaseMessageId.DISCOVER_SUB_VENDOR, { size: 0, run: () => ok(shortName(cfg.subVendor)) }],
      [
        BaseMessageId.DISCOVER_IMPLEMENTATION_VERSION,
        { size: 0, run: () => ok(words(cfg.implementationVersion)) },
      ],
      [BaseMessageId.DISCOVER_LIST_PROTOCOLS, { size: 4, run: (req) => this.#listProtocols(req) }],
      [BaseMessageId.DISCOVER_AGENT, { size: 4, run: (req) => this.#discoverAgent(req) }],
      [
        BaseMessageId.NOTIFY_ERRORS,
        {
          size: 4,
          p2a: true,
          run: (req) => {
            // A BASE_ERROR_EVENT with its one report (the header word refused): 16 bytes.
            const on = readNotifyEnable(this.#p, req, ERROR_EVENT_SIZE);
            if (typeof on !== 'boolean') return on;
            req.agent.subscribe(this.id, BaseNotificationId.ERROR_EVENT, 0, on);
            return ok();
          },
        },
      ],
      [
        BaseMessageId.SET_DEVICE_PERMISSIONS,
        { size: 12, since: V2, run: (req) => this.#setDevice(req) },
      ],
      [
        BaseMessageId.SET_PROTOCOL_PERMISSIONS,
        { size: 16, since: V2, run: (req) => this.#setProtocol(req) },
      ],
      [
        BaseMessageId.RESET_AGENT_CONFIGURATION,
        { size: 8, since: V2, run: (req) => this.#resetAgent(req) },
      ],
    ]);
  }

  public attributes(req: PlatformRequest): Reply {
    const protocols = this.#visible(req).length;
    return ok(words((protocols & 0xff) | ((this.#p.config.agents.length & 0xff) << 8)));
  }

  /** The protocols an agent sees: those it may use that the platform implements, ascending. */
  #visible(req: PlatformRequest): number[] {
    return [...req.agent.protocols].filter((p) => this.#implemented.has(p)).sort((a, b) => a - b);
  }

  #listProtocols(req: PlatformRequest): Reply {
    const skip = req.r.u32();
    const all = this.#visible(req);
    if (skip > all.length) return fail(ScmiStatus.INVALID_PARAMETERS);
    const left = all.length - skip;
    // Protocol ids are bytes packed four per word: a partial reply returns whole words.
    const room = this.#p.fit(req, 4, 4) * 4;
    const n = Math.min(left, room, this.#p.behaviour.multiPartMax);
    const ids = new Uint8Array(Math.ceil(n / 4) * 4);
    ids.set(all.slice(skip, skip + n));
    return ok(concat(words(n), ids));
  }

  #discoverAgent(req: PlatformRequest): Reply {
    const asked = req.r.u32();
    const id = asked === CALLER ? req.agent.id : asked;
    const name = id === 0 ? 'platform' : this.#p.agent(id)?.config.name;
    if (name === undefined) return fail(ScmiStatus.NOT_FOUND);
    // v1: name[16]; v2: agent_id, name[16].
    return ok(req.version < V2 ? shortName(name) : concat(words(id), shortName(name)));
  }

  /**
   * BASE_SET_DEVICE_PERMISSIONS, in the order of SCP-firmware's `module/scmi/src/mod_scmi_base.c`:
   * a caller that may not change permissions is DENIED first (scmi_base_permissions_handler, before
   * the handler), then scmi_base_set_device_permissions looks at the agent (NOT_FOUND), at the
   * reserved flag bits (INVALID_PARAMETERS) and only then at the device: NOT_FOUND, as the SCMI
   * specification and Arm's scmi-tests have it (SCP-firmware's `mod_resource_perms.c`
   * mod_res_agent_set_device_permission answers INVALID_PARAMETERS for a device id past its
   * devices). Nothing changes on a refusal.
   *
   * Whether the agent can access the device now is not looked at: denying a device none of whose
   * domains the agent may use (or one already denied) answers SUCCESS and changes nothing, as
   * SCP-firmware's mod_res_agent_set_device_permission (`module/resource_perms/src/
   * mod_resource_perms.c`), which sets the per-resource bits of each of the device's domains and
   * returns FWK_SUCCESS for every device it knows. Arm's scmi-tests `test_b012` (check 3, "Remove
   * access for invalid device") expects NOT_FOUND there instead; SCP-firmware is followed.
   */
  #setDevice(req: PlatformRequest): Reply {
    const agentId = req.r.u32();
    const deviceId = req.r.u32();
    const flags = req.r.u32();
    if (req.agent.config.trusted !== true) return fail(ScmiStatus.DENIED);
    const target = this.#p.agent(agentId);
    if (target === undefined) return fail(ScmiStatus.NOT_FOUND);
    if ((flags & ~1) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    const device = this.#p.config.devices?.[deviceId];
    if (device === undefined) return fail(ScmiStatus.NOT_FOUND);
    for (const [protocol, ids] of Object.entries(device.domains)) {
      for (const id of ids) {
        target.setAllowed(protocol as keyof typeof device.domains, id, flags === 1);
      }
    }
    this.#p.permissionsChanged(target.id);
    return ok();
  }

  /**
   * BASE_SET_PROTOCOL_PERMISSIONS, in the order of SCP-firmware's
   * scmi_base_set_protocol_permissions (`module/scmi/src/mod_scmi_base.c`): DENIED for a caller
   * that may not change permissions, the agent (NOT_FOUND), the reserved flag bits
   * (INVALID_PARAMETERS), then **DENIED for the Base protocol**, whose access cannot be taken away
   * (SCP-firmware: `command_id == MOD_SCMI_PROTOCOL_ID_BASE` → SCMI_DENIED; Arm's scmi-tests
   * `test_b011` only needs a failure there, its mock platform says NOT_FOUND), then the device
   * (NOT_FOUND, as for SET_DEVICE_PERMISSIONS) and the protocol: NOT_FOUND for one the platform
   * does not implement or that has no domains (System power; SCP-firmware's
   * `module/resource_perms/src/mod_resource_perms.c` answers SUCCESS for a known protocol it does
   * not implement); SUCCESS, changing nothing, for a protocol the device has no domain of (as
   * SCP-firmware's mod_res_agent_set_device_protocol_permission, which walks the device's domains
   * and finds none to change). Nothing changes on a refusal.
   */
  #setProtocol(req: PlatformRequest): Reply {
    const agentId = req.r.u32();
    const deviceId = req.r.u32();
    const protocolId = req.r.u32();
    const flags = req.r.u32();
    if (req.agent.config.trusted !== true) return fail(ScmiStatus.DENIED);
    const target = this.#p.agent(agentId);
    if (target === undefined) return fail(ScmiStatus.NOT_FOUND);
    if ((flags & ~1) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (protocolId === BASE) return fail(ScmiStatus.DENIED);
    const device = this.#p.config.devices?.[deviceId];
    if (device === undefined) return fail(ScmiStatus.NOT_FOUND);
    const protocol = domainProtocolOf(protocolId);
    if (protocol === undefined || !this.#implemented.has(protocolId)) {
      return fail(ScmiStatus.NOT_FOUND);
    }
    const ids = device.domains[protocol] ?? [];
    if (ids.length === 0) return ok();
    for (const id of ids) target.setAllowed(protocol, id, flags === 1);
    this.#p.permissionsChanged(target.id);
    return ok();
  }

  #resetAgent(req: PlatformRequest): Reply {
    const agentId = req.r.u32();
    const flags = req.r.u32();
    const target = this.#p.agent(agentId);
    if (target === undefined) return fail(ScmiStatus.NOT_FOUND);
    const trusted = req.agent.config.trusted === true;
    if (target !== req.agent && !trusted) return fail(ScmiStatus.DENIED);
    if ((flags & ~1) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    // Restoring permissions is changing them: an agent that is not trusted may reset its own
    // configuration but not its permissions, or it would undo what a trusted agent denied it.
    // NXP's System Manager asks the same privilege for both (`imx-sm` BaseResetAgentConfiguration
    // checks the caller's PRIV over the target agent, itself included).
    if (flags === 1 && !trusted) return fail(ScmiStatus.DENIED);
    this.#p.resetAgent(target.id);
    if (flags === 1) {
      target.resetPermissions();
      this.#p.permissionsChanged(target.id);
    }
    return ok();
  }
}
