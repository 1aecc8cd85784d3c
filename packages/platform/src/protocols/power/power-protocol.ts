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
  reportedVersion,
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
/** POWER_STATE_SET flags: bit 0 asynchronous, the rest reserved. */
const ASYNC = 1;
const TAG = 'power';

/** An accepted asynchronous POWER_STATE_SET not applied yet. */
interface QueuedSet {
  readonly state: number;
  readonly cause: number;
}

/**
 * Power domain protocol (0x11), version 3.1 (SCMI v3.2; 3.0 without version negotiation, see
 * `reportedVersion`). 3.1 only adds NEGOTIATE_PROTOCOL_VERSION (Linux `power.c` tells the
 * versions apart by major only), so an agent that negotiates 3.0 is answered alike.
 *
 * Synchronous sets apply at once; asynchronous ones (domains with `asyncSet`, P2A links only)
 * apply after the async latency, with no delayed response (as the protocol specifies):
 * completion is seen through POWER_STATE_CHANGED. At most
 * `maxPendingAsync` asynchronous sets are pending at once (BUSY beyond, as the clock, sensor and
 * reset protocols answer; SCP-firmware sets no such count, its bounded event queue is the limit);
 * each counts until its latency has passed, even if a synchronous set applied it earlier.
 * POWER_STATE_CHANGE_REQUESTED is sent for an accepted set only, once its timer is armed.
 *
 * The sets of a domain take effect in the order they were accepted. SCP-firmware
 * (`module/scmi_power_domain/src/mod_scmi_power_domain.c`, scmi_pd_power_state_set_handler) does
 * not refuse a set for a domain with an asynchronous set pending: it queues both to the power
 * domain module, which handles them in turn (it answers BUSY only to a synchronous set while an
 * earlier synchronous one of the domain still waits for its response, which cannot happen here:
 * a synchronous set completes before its response). So a synchronous set first applies the
 * domain's pending asynchronous sets, oldest first (each with its POWER_STATE_CHANGED), then
 * itself; an asynchronous set found already applied that way does nothing when its timer fires.
 *
 * POWER_STATE_CHANGE_REQUESTED_NOTIFY (0x7) and POWER_DOMAIN_ATTRIBUTES bit 28 stay at 3.0 and 3.1:
 * NXP's System Manager, at 3.0 (`nxp-imx/imx-sm` `sm/rpc/scmi/rpc_scmi_power.c`,
 * PROTOCOL_VERSION 0x30000), documents bit 28 "power state change requested notifications support"
 * from the specification's POWER_DOMAIN_ATTRIBUTES, and Zephyr's power domain header lists message
 * 0x7 with its supported version 0x30001. Linux `power.c` never sends it (it dropped the unused
 * id as "deprecated" when it added notifications, in 2020, whatever the version) and SCP-firmware,
 * which implements it (`mod_scmi_power_domain.c`, with notifications), stops at version 2.0:
 * neither shows it removed at 3.0.
 * @internal
 */
export class PowerProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.POWER;
  public readonly version: number;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #domains: readonly PowerDomainConfig[];
  readonly #state: number[];
  /** Per domain: accepted asynchronous sets not applied yet, oldest first. */
  readonly #queued: QueuedSet[][];

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.version = reportedVersion(services, 0x30001);
    this.#domains = services.config.powerDomains ?? [];
    this.#state = this.#domains.map((d) => d.state ?? 0);
    this.#queued = this.#domains.map(() => []);
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
    const bad = domainCheck(this.#p, req, 'power', id, this.#domains.length, false);
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

  /**
   * The order of SCP-firmware's scmi_pd_power_state_set_handler
   * (`module/scmi_power_domain/src/mod_scmi_power_domain.c`): reserved flag bits
   * (scmi_pd_power_state_set_parameters_check) before the domain is looked up; then the domain
   * (NOT_FOUND, DENIED), an asynchronous set the domain or link does not support (NOT_SUPPORTED,
   * as its type checks), and last the state itself, which SCP-firmware leaves to its power domain
   * module (INVALID_PARAMETERS here, for a state the domain does not have). Then BUSY for an
   * asynchronous set beyond `maxPendingAsync`.
   */
  #set(req: PlatformRequest): Reply {
    const flags = req.r.u32();
    const id = req.r.u32();
    const state = req.r.u32();
    if ((flags & ~ASYNC) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    const bad = domainCheck(this.#p, req, 'power', id, this.#domains.length, true);
    if (bad !== undefined) return bad;
    const d = this.#domains[id] as PowerDomainConfig;
    const async = flags === ASYNC;
    if (async && (!req.link.p2a || d.asyncSet !== true)) return fail(ScmiStatus.NOT_SUPPORTED);
    if (!(d.states ?? []).includes(state)) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (async && this.#p.timers.count(TAG) >= this.#p.behaviour.maxPendingAsync) {
      return fail(ScmiStatus.BUSY);
    }
    const cause = req.agent.id;
    // POWER_STATE_CHANGE_REQUESTED announces an accepted set only: an asynchronous set is armed
    // first, so one whose timer cannot be armed (later throws: GENERIC_ERROR) was never announced.
    const requested = (): void => {
      this.#p.notify(
        this.id,
        PowerNotificationId.STATE_CHANGE_REQUESTED,
        id,
        words(cause, id, state),
      );
    };
    const queue = this.#queued[id] as QueuedSet[];
    if (!async) {
      requested();
      this.#applyQueued(id, queue.length);
      this.#apply(id, state, cause);
      return ok();
    }
    const set: QueuedSet = { state, cause };
    this.#p.later(req, this.#p.behaviour.asyncLatencyMs, TAG, false, () => {
      // Already applied (and dequeued) by a later synchronous set: nothing left to do.
      const at = queue.indexOf(set);
      if (at >= 0) this.#applyQueued(id, at + 1);
      return ok();
    });
    // Queued once armed: a set whose timer could not be armed (later throws) was not accepted.
    queue.push(set);
    requested();
    return ok();
  }

  /** Applies the `n` oldest queued asynchronous sets of domain `id`, in order. */
  #applyQueued(id: number, n: number): void {
    const queue = this.#queued[id] as QueuedSet[];
    for (const set of queue.splice(0, n)) this.#apply(id, set.state, set.cause);
  }

  #apply(id: number, state: number, cause: number): void {
    if (this.#state[id] === state) return;
    this.#state[id] = state;
    this.#p.notify(this.id, PowerNotificationId.STATE_CHANGED, id, words(cause, id, state));
  }

  #get(req: PlatformRequest): Reply {
    const id = req.r.u32();
    const bad = domainCheck(this.#p, req, 'power', id, this.#domains.length, true);
    if (bad !== undefined) return bad;
    return ok(words(this.#state[id] as number));
  }

  #name(req: PlatformRequest): Reply {
    const id = req.r.u32();
    const bad = domainCheck(this.#p, req, 'power', id, this.#domains.length, false);
    if (bad !== undefined) return bad;
    return ok(extendedName((this.#domains[id] as PowerDomainConfig).name));
  }
}
