import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import type { PowerDomainConfig } from '../../config/platform-config.js';
import {
  concat,
  domainCheck,
  extendedName,
  fail,
  needsExtendedName,
  notifyCommand,
  ok,
  shortName,
  words,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
  type ProtocolServer,
  type Reply,
} from '../protocol-server.js';
import { PowerMessageId, PowerNotificationId } from './power-message-id.js';

/**
 * Payload of POWER_STATE_CHANGED and POWER_STATE_CHANGE_REQUESTED as posted (see `#set` and
 * `#apply`): agent_id, domain_id, power_state.
 */
const STATE_NOTIFICATION = 12;

/**
 * Power domain protocol (0x11), version 3.0. Synchronous sets apply at once; asynchronous ones
 * (domains with `asyncSet`, P2A links only) apply after the async latency, with no delayed response
 * (as the protocol specifies): completion is seen through POWER_STATE_CHANGED. @internal
 */
export class PowerProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.POWER;
  public readonly version = 0x30000;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #domains: readonly PowerDomainConfig[];
  readonly #state: number[];

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.#domains = services.config.powerDomains ?? [];
    this.#state = this.#domains.map((d) => d.state ?? 0);
    const count = (): number => this.#domains.length;
    this.messages = new Map<number, MessageHandler>([
      [PowerMessageId.DOMAIN_ATTRIBUTES, { size: 4, run: (req) => this.#attributes(req) }],
      [PowerMessageId.STATE_SET, { size: 12, run: (req) => this.#set(req) }],
      [PowerMessageId.STATE_GET, { size: 4, run: (req) => this.#get(req) }],
      [
        PowerMessageId.STATE_NOTIFY,
        notifyCommand(
          services,
          this.id,
          PowerNotificationId.STATE_CHANGED,
          STATE_NOTIFICATION,
          'power',
          count,
        ),
      ],
      [
        PowerMessageId.STATE_CHANGE_REQUESTED_NOTIFY,
        notifyCommand(
          services,
          this.id,
          PowerNotificationId.STATE_CHANGE_REQUESTED,
          STATE_NOTIFICATION,
          'power',
          count,
        ),
      ],
      [PowerMessageId.DOMAIN_NAME_GET, { size: 4, run: (req) => this.#name(req) }],
    ]);
  }

  /** Current state of every domain. */
  public states(): readonly number[] {
    return [...this.#state];
  }

  public attributes(): Reply {
    return ok(words(this.#domains.length, 0, 0, 0));
  }

  #attributes(req: PlatformRequest): Reply {
    const id = req.r.u32();
    const bad = domainCheck(req, 'power', id, this.#domains.length, false);
    if (bad !== undefined) return bad;
    const d = this.#domains[id] as PowerDomainConfig;
    const p2a = req.link.p2a;
    // Bits 31 (state changed) and 28 (state change requested notifications): only on a link the
    // notification fits; elsewhere the *_NOTIFY command answers NOT_SUPPORTED (see notifyCommand).
    // Bit 30 (asynchronous set) needs only the P2A channel: the set has no delayed response, and
    // its completion can be read with POWER_STATE_GET without POWER_STATE_CHANGED.
    const notifications = p2a && this.#p.notificationFits(req, STATE_NOTIFICATION);
    const flags =
      (notifications ? 1 << 31 : 0) |
      (p2a && d.asyncSet === true ? 1 << 30 : 0) |
      (1 << 29) |
      (notifications ? 1 << 28 : 0) |
      (needsExtendedName(d.name) ? 1 << 27 : 0);
    return ok(concat(words(flags), shortName(d.name)));
  }

  #set(req: PlatformRequest): Reply {
    const flags = req.r.u32();
    const id = req.r.u32();
    const state = req.r.u32();
    if ((flags & ~1) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    const bad = domainCheck(req, 'power', id, this.#domains.length, true);
    if (bad !== undefined) return bad;
    const d = this.#domains[id] as PowerDomainConfig;
    if (!(d.states ?? []).includes(state)) return fail(ScmiStatus.INVALID_PARAMETERS);
    const async = flags === 1;
    if (async && (!req.link.p2a || d.asyncSet !== true)) return fail(ScmiStatus.NOT_SUPPORTED);
    const cause = req.agent.id;
    this.#p.notify(
      this.id,
      PowerNotificationId.STATE_CHANGE_REQUESTED,
      id,
      words(cause, id, state),
    );
    if (!async) {
      this.#apply(id, state, cause);
      return ok();
    }
    this.#p.later(req, this.#p.behaviour.asyncLatencyMs, 'power', false, () => {
      this.#apply(id, state, cause);
      return ok();
    });
    return ok();
  }

  #apply(id: number, state: number, cause: number): void {
    if (this.#state[id] === state) return;
    this.#state[id] = state;
    this.#p.notify(this.id, PowerNotificationId.STATE_CHANGED, id, words(cause, id, state));
  }

  #get(req: PlatformRequest): Reply {
    const id = req.r.u32();
    const bad = domainCheck(req, 'power', id, this.#domains.length, true);
    if (bad !== undefined) return bad;
    return ok(words(this.#state[id] as number));
  }

  #name(req: PlatformRequest): Reply {
    const id = req.r.u32();
    const bad = domainCheck(req, 'power', id, this.#domains.length, false);
    if (bad !== undefined) return bad;
    return ok(extendedName((this.#domains[id] as PowerDomainConfig).name));
  }
}
