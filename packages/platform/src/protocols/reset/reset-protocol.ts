import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import type { ResetDomainConfig } from '../../config/platform-config.js';
import {
  concat,
  domainCheck,
  extendedName,
  fail,
  needsExtendedName,
  notifyCommand,
  ok,
  reportedVersion,
  shortName,
  words,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
  type ProtocolServer,
  type Reply,
} from '../protocol-server.js';
import { ResetMessageId, ResetNotificationId } from './reset-message-id.js';

interface ResetState {
  asserted: boolean;
  resets: number;
}

/**
 * RESET_DOMAIN_ATTRIBUTES latency of a domain without a configured one: 0xFFFFFFFF, "unknown", as
 * SCP-firmware sends (`module/scmi_reset_domain/include/internal/scmi_reset_domain.h`:
 * SCMI_RESET_DOMAIN_ATTR_LATENCY_UNSUPPORTED) and the only value Linux `reset.c`
 * (scmi_reset_domain_attributes_get: U32_MAX) takes as unknown.
 */
const UNKNOWN_LATENCY = 0xffffffff;
const AUTONOMOUS = 1;
const EXPLICIT_ASSERT = 2;
const ASYNC = 4;
const VENDOR_STATE = 0x80000000;
/** Return values of an asynchronous RESET's delayed response: domain_id. */
const RESET_DELAYED = 4;
/** Payload of RESET_ISSUED as posted (see `#reset`): agent_id, domain_id, reset_state. */
const ISSUED_NOTIFICATION = 12;
/** Timer tag of the pending asynchronous resets (counted against `maxPendingAsync`). */
const TAG = 'reset';

/**
 * Reset domain protocol (0x16), version 3.1 (SCMI v3.2; 3.0 without version negotiation, see
 * `reportedVersion`; 3.1 only adds NEGOTIATE_PROTOCOL_VERSION, so an agent that negotiates
 * 3.0 is answered alike): autonomous resets (synchronous, or asynchronous with
 * delayed response 0x4 after the domain's latency) and explicit assert/deassert. Every reset
 * issued is announced with RESET_ISSUED.
 *
 * At most `maxPendingAsync` asynchronous resets are pending at once, platform-wide: one beyond is
 * answered BUSY before any change, as Clock, Power and Sensor do (the Reset protocol has no
 * attribute advertising the count). A domain with an asynchronous reset pending is not BUSY and
 * does not queue: SCP-firmware's `module/scmi_reset_domain/src/mod_scmi_reset_domain.c`
 * (reset_request_handler) keeps no pending state per domain and hands every accepted request to
 * its reset domain driver, so another reset of the domain, synchronous or asynchronous, or an
 * explicit assert/deassert, is accepted and done on its own; each asynchronous one completes after
 * its latency with its own delayed response and RESET_ISSUED. @internal
 */
export class ResetProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.RESET;
  public readonly version: number;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #domains: readonly ResetDomainConfig[];
  readonly #state: ResetState[];

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.version = reportedVersion(services, 0x30001);
    this.#domains = services.config.resetDomains ?? [];
    this.#state = this.#domains.map(() => ({ asserted: false, resets: 0 }));
    const count = (): number => this.#domains.length;
    this.messages = new Map<number, MessageHandler>([
      [ResetMessageId.DOMAIN_ATTRIBUTES, { size: 4, run: (req) => this.#attributes(req) }],
      [ResetMessageId.RESET, { size: 12, run: (req) => this.#reset(req) }],
      [
        ResetMessageId.NOTIFY,
        notifyCommand(
          services,
          this.id,
          ResetNotificationId.ISSUED,
          ISSUED_NOTIFICATION,
          'reset',
          count,
        ),
      ],
      [ResetMessageId.DOMAIN_NAME_GET, { size: 4, run: (req) => this.#name(req) }],
    ]);
  }

  /** Assert state and number of completed autonomous resets of every domain. */
  public states(): readonly Readonly<ResetState>[] {
    return this.#state.map((s) => ({ ...s }));
  }

  public attributes(): Reply {
    return ok(words(this.#domains.length & 0xffff));
  }

  #domain(req: PlatformRequest, use: boolean): [number, ResetDomainConfig] | Reply {
    const id = req.r.u32();
    const bad = domainCheck(this.#p, req, 'reset', id, this.#domains.length, use);
    return bad ?? [id, this.#domains[id] as ResetDomainConfig];
  }

  #attributes(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    const [, d] = found;
    const p2a = req.link.p2a;
    // Bit 31 (asynchronous reset) and bit 30 (RESET_ISSUED notifications): only what the link can
    // carry, its delayed response or notification; elsewhere RESET answers NOT_SUPPORTED to an
    // asynchronous reset and RESET_NOTIFY to an enable (see notifyCommand).
    const attributes =
      (this.#asyncSupported(req, d) ? 1 << 31 : 0) |
      (p2a && this.#p.notificationFits(req, ISSUED_NOTIFICATION) ? 1 << 30 : 0) |
      (needsExtendedName(d.name) ? 1 << 29 : 0);
    return ok(concat(words(attributes, d.latencyUs ?? UNKNOWN_LATENCY), shortName(d.name)));
  }

  /** Whether an asynchronous reset of domain `d`, with its delayed response, is possible here. */
  #asyncSupported(req: PlatformRequest, d: ResetDomainConfig): boolean {
    return req.link.p2a && d.asyncReset === true && this.#p.delayedFits(req, RESET_DELAYED);
  }

  #reset(req: PlatformRequest): Reply {
    const id = req.r.u32();
    const flags = req.r.u32();
    const resetState = req.r.u32();
    // The order of SCP-firmware's `module/scmi_reset_domain/src/mod_scmi_reset_domain.c`: a domain
    // the agent may not use is DENIED first (its resource-permission check runs in
    // scmi_reset_message_handler, before the handler); then, in reset_request_handler, reserved
    // flag bits and the reset state (architectural states, bit 31 clear: only 0, the cold reset;
    // vendor states are accepted) before the domain is looked up.
    if (id < this.#domains.length && !req.agent.mayUse('reset', id)) {
      return fail(ScmiStatus.DENIED);
    }
    if ((flags & ~7) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (resetState < VENDOR_STATE && resetState !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    // NOT_FOUND only: the permission was checked first, above.
    const bad = domainCheck(this.#p, req, 'reset', id, this.#domains.length, false);
    if (bad !== undefined) return bad;
    const d = this.#domains[id] as ResetDomainConfig;
    const autonomous = (flags & AUTONOMOUS) !== 0;
    const async = (flags & ASYNC) !== 0;
    if (async && !autonomous) return fail(ScmiStatus.INVALID_PARAMETERS);
    // Not advertised (RESET_DOMAIN_ATTRIBUTES bit 31) without a P2A channel, for a domain without
    // asynchronous reset, or on a link the delayed response (domain_id) does not fit (see
    // PlatformServices.delayedFits): NOT_SUPPORTED, before any change.
    if (async && !this.#asyncSupported(req, d)) return fail(ScmiStatus.NOT_SUPPORTED);
    // At most `maxPendingAsync` asynchronous resets pending at once, platform-wide (BUSY beyond,
    // as Clock, Power and Sensor): last, once the command is otherwise valid, before any change.
    if (async && this.#p.timers.count(TAG) >= this.#p.behaviour.maxPendingAsync) {
      return fail(ScmiStatus.BUSY);
    }
    const s = this.#state[id] as ResetState;
    const cause = req.agent.id;
    const issued = (): void => {
      this.#p.notify(this.id, ResetNotificationId.ISSUED, id, words(cause, id, resetState));
    };
    if (!autonomous) {
      s.asserted = (flags & EXPLICIT_ASSERT) !== 0;
      issued();
      return ok();
    }
    if (!async) {
      s.resets++;
      issued();
      return ok();
    }
    const latency =
      d.latencyUs === undefined ? this.#p.behaviour.asyncLatencyMs : d.latencyUs / 1000;
    this.#p.later(req, latency, TAG, true, () => {
      s.resets++;
      issued();
      return ok(words(id));
    });
    return ok();
  }

  #name(req: PlatformRequest): Reply {
    const found = this.#domain(req, false);
    if (!Array.isArray(found)) return found;
    return ok(extendedName(found[1].name));
  }
}
