import { ScmiProtocolId, ScmiStatus } from '@scmi-ts/core';
import type { ClockConfig } from '../../config/platform-config.js';
import { isRateList } from '../../config/validate-platform-config.js';
import { roundToSupported } from '../round-to-supported.js';
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
  wordsOf,
  type MessageHandler,
  type PlatformRequest,
  type PlatformServices,
  type ProtocolServer,
  type Reply,
} from '../protocol-server.js';
import { ClockMessageId, ClockNotificationId } from './clock-message-id.js';

interface ClockState {
  rate: number;
  enabled: boolean;
  parent: number | undefined;
}

const TWO_32 = 2 ** 32;
/** CLOCK_ATTRIBUTES bit 1: CLOCK_GET_PERMISSIONS answers for this clock (Linux `clock.c`). */
const GET_PERMISSIONS_SUPPORTED = 1 << 1;
const STATE_CONTROL = 1 << 31;
const PARENT_CONTROL = 1 << 30;
const RATE_CONTROL = 1 << 29;
const RATE_ENTRY = 8;
/** Return values of CLOCK_RATE_SET's delayed response: clock_id, rate (64 bits). */
const RATE_DELAYED = 12;
/**
 * Payload of CLOCK_RATE_CHANGED and CLOCK_RATE_CHANGE_REQUESTED as posted (see `#setRate` and
 * `#apply`): agent_id, clock_id, rate_low, rate_high.
 */
const RATE_NOTIFICATION = 16;
const TAG = 'clock';

/** Splits a rate into its low and high words. */
function rateWords(rate: number): [number, number] {
  return [rate % TWO_32, Math.floor(rate / TWO_32)];
}

/**
 * Rounds `rate` to a supported one: down (default), up (flags bit 2) or to the nearest (bit 3).
 * Undefined when the rate is outside the clock's range.
 */
function roundRate(rates: ClockConfig['rates'], rate: number, flags: number): number | undefined {
  const mode = (flags & 8) !== 0 ? 'nearest' : (flags & 4) !== 0 ? 'up' : 'down';
  return roundToSupported(rates, rate, mode);
}

/**
 * Clock protocol (0x14), version 3.0: rates (list or range), asynchronous rate changes with
 * delayed responses, enable/disable, extended names, parents and per-agent permissions
 * (CLOCK_GET_PERMISSIONS, enforced by RATE_SET, CONFIG_SET and PARENT_SET).
 *
 * One operation per clock at a time, modelled on SCP-firmware's
 * `module/scmi_clock/src/mod_scmi_clock.c` (`create_event_request`: while a clock's request to its
 * driver is still in flight, its `clock_ops` entry is not available and a further request is
 * FWK_E_BUSY, which its handlers answer SCMI_BUSY). SCP-firmware itself refuses asynchronous
 * CLOCK_RATE_SET (NOT_SUPPORTED, "not yet implemented"): its busy window is a driver request in
 * flight, synchronous ones included. Here the in-flight request is an accepted asynchronous
 * CLOCK_RATE_SET: until it completes, CLOCK_ATTRIBUTES, CLOCK_RATE_GET, CLOCK_RATE_SET and a
 * valid CLOCK_CONFIG_SET (which sets the clock's state) — the commands SCP-firmware sends through
 * `create_event_request` — are answered BUSY for that clock, so an older change can never land
 * after a newer one. The clock is free again when the operation completes (it completes even if
 * its agent disconnects or resets; only `close` cancels it, and nothing is answered after that).
 * An agent that probes meanwhile sees CLOCK_ATTRIBUTES BUSY for that clock (Linux's
 * `scmi_clock_protocol_init` then leaves the clock out, as against SCP-firmware with a busy
 * driver; the window here is `asyncLatencyMs`). @internal
 */
export class ClockProtocol implements ProtocolServer {
  public readonly id = ScmiProtocolId.CLOCK;
  public readonly version = 0x30000;
  public readonly messages: ReadonlyMap<number, MessageHandler>;
  readonly #p: PlatformServices;
  readonly #clocks: readonly ClockConfig[];
  readonly #state: ClockState[];
  /** Per clock: whether an accepted asynchronous rate change has not completed yet. */
  readonly #pending: boolean[];

  public constructor(services: PlatformServices) {
    this.#p = services;
    this.#clocks = services.config.clocks ?? [];
    this.#state = this.#clocks.map((c) => ({
      rate: c.rate ?? 0,
      enabled: c.enabled !== false,
      parent: c.parent,
    }));
    this.#pending = this.#clocks.map(() => false);
    const count = (): number => this.#clocks.length;
    this.messages = new Map<number, MessageHandler>([
      [ClockMessageId.ATTRIBUTES, { size: 4, run: (req) => this.#attributes(req) }],
      [ClockMessageId.DESCRIBE_RATES, { size: 8, run: (req) => this.#describe(req) }],
      [ClockMessageId.RATE_SET, { size: 16, run: (req) => this.#setRate(req) }],
      [ClockMessageId.RATE_GET, { size: 4, run: (req) => this.#getRate(req) }],
      [ClockMessageId.CONFIG_SET, { size: [8, 12], run: (req) => this.#setConfig(req) }],
      [ClockMessageId.NAME_GET, { size: 4, run: (req) => this.#name(req) }],
      [
        ClockMessageId.RATE_NOTIFY,
        notifyCommand(
          services,
          this.id,
          ClockNotificationId.RATE_CHANGED,
          RATE_NOTIFICATION,
          'clock',
          count,
        ),
      ],
      [
        ClockMessageId.RATE_CHANGE_REQUESTED_NOTIFY,
        notifyCommand(
          services,
          this.id,
          ClockNotificationId.RATE_CHANGE_REQUESTED,
          RATE_NOTIFICATION,
          'clock',
          count,
        ),
      ],
      [ClockMessageId.CONFIG_GET, { size: 8, run: (req) => this.#getConfig(req) }],
      [ClockMessageId.POSSIBLE_PARENTS_GET, { size: 8, run: (req) => this.#parents(req) }],
      [ClockMessageId.PARENT_SET, { size: 8, run: (req) => this.#setParent(req) }],
      [ClockMessageId.PARENT_GET, { size: 4, run: (req) => this.#getParent(req) }],
      [ClockMessageId.GET_PERMISSIONS, { size: 4, run: (req) => this.#permissions(req) }],
    ]);
  }

  /** Rate, enable state and parent of every clock. */
  public states(): readonly Readonly<ClockState>[] {
    return this.#state.map((s) => ({ ...s }));
  }

  public attributes(req: PlatformRequest): Reply {
    // No P2A channel, or a link CLOCK_RATE_SET's delayed response does not fit: an asynchronous
    // set with a delayed response cannot be accepted, so no pending one is advertised (Linux
    // clock.c makes a rate set asynchronous whenever this count allows one, and waits for its
    // delayed response).
    const pending = this.#asyncSupported(req) ? this.#p.behaviour.maxPendingAsync & 0xff : 0;
    return ok(words((this.#clocks.length & 0xffff) | (pending << 16)));
  }

  /** Whether an asynchronous CLOCK_RATE_SET with its delayed response is possible on the link. */
  #asyncSupported(req: PlatformRequest): boolean {
    return req.link.p2a && this.#p.delayedFits(req, RATE_DELAYED);
  }

  #clock(req: PlatformRequest, use: boolean): [number, ClockConfig, ClockState] | Reply {
    const id = req.r.u32();
    const bad = domainCheck(this.#p, req, 'clock', id, this.#clocks.length, use);
    return bad ?? [id, this.#clocks[id] as ClockConfig, this.#state[id] as ClockState];
  }

  /**
   * BUSY while clock `id` has an asynchronous rate change pending (see the class comment), else
   * undefined.
   */
  #busy(id: number): Reply | undefined {
    return this.#pending[id] === true ? fail(ScmiStatus.BUSY) : undefined;
  }

  #attributes(req: PlatformRequest): Reply {
    const found = this.#clock(req, false);
    if (!Array.isArray(found)) return found;
    const [id, c, s] = found;
    // SCP-firmware reads the state through create_event_request (SCMI_CLOCK_REQUEST_GET_STATE).
    const busy = this.#busy(id);
    if (busy !== undefined) return busy;
    // Bits 31 (rate changed) and 30 (rate change requested notifications): only on a link with a
    // P2A channel that the notification fits; there CLOCK_RATE_NOTIFY and
    // CLOCK_RATE_CHANGE_REQUESTED_NOTIFY answer NOT_SUPPORTED (see notifyCommand).
    const notifications = req.link.p2a && this.#p.notificationFits(req, RATE_NOTIFICATION);
    const attributes =
      (s.enabled ? 1 : 0) |
      GET_PERMISSIONS_SUPPORTED |
      (notifications ? (1 << 31) | (1 << 30) : 0) |
      (needsExtendedName(c.name) ? 1 << 29 : 0) |
      ((c.parents?.length ?? 0) > 0 ? 1 << 28 : 0);
    return ok(concat(words(attributes), shortName(c.name), words(c.enableLatencyUs ?? 0)));
  }

  #describe(req: PlatformRequest): Reply {
    const found = this.#clock(req, false);
    if (!Array.isArray(found)) return found;
    const [, c] = found;
    const index = req.r.u32();
    const rates = c.rates;
    if (!isRateList(rates)) {
      // A range is one triplet (min, max, step), whatever the index.
      const triplet = [rates.min, rates.max, rates.step].flatMap(rateWords);
      return ok(words(3 | (1 << 12), ...triplet));
    }
    // From the end on, as SCP-firmware's describe-rates handler (`index >= rate_count` →
    // OUT_OF_RANGE, module/scmi_clock/src/mod_scmi_clock.c). An agent iterating as Linux does
    // (scmi_iterator_run: from 0 while returned and remaining) never asks there.
    if (index >= rates.length) return fail(ScmiStatus.OUT_OF_RANGE);
    const left = rates.length - index;
    const n = Math.min(
      left,
      this.#p.fit(req, 4, RATE_ENTRY),
      this.#p.behaviour.multiPartMax,
      0xfff,
    );
    const entries = rates.slice(index, index + n).flatMap(rateWords);
    return ok(words(n | ((left - n) << 16), ...entries));
  }

  #setRate(req: PlatformRequest): Reply {
    const flags = req.r.u32();
    // Reserved flag bits first, before the clock is looked at, as SCP-firmware's
    // scmi_clock_rate_set_handler (`module/scmi_clock/src/mod_scmi_clock.c`).
    if ((flags & ~0xf) !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    const found = this.#clock(req, true);
    if (!Array.isArray(found)) return found;
    const [id, c, s] = found;
    const low = req.r.u32();
    const high = req.r.u32();
    if (c.canSetRate === false) return fail(ScmiStatus.DENIED);
    const async = (flags & 1) !== 0;
    const respond = (flags & 2) === 0;
    if (async && !req.link.p2a) return fail(ScmiStatus.NOT_SUPPORTED);
    // With a delayed response (clock_id, rate) the link cannot carry: not advertised there
    // (PROTOCOL_ATTRIBUTES pending count 0), so NOT_SUPPORTED before any change (see
    // PlatformServices.delayedFits). One that asks for none (flags bit 1) posts no reply of its
    // own and is accepted.
    if (async && respond && !this.#asyncSupported(req)) return fail(ScmiStatus.NOT_SUPPORTED);
    // Then, in SCP-firmware's order (scmi_clock_rate_set_handler: the asynchronous check, then
    // create_event_request, then the driver), BUSY for a clock with a pending change before the
    // rate is looked at.
    const busy = this.#busy(id);
    if (busy !== undefined) return busy;
    const asked = high * TWO_32 + low;
    const rate = asked > Number.MAX_SAFE_INTEGER ? undefined : roundRate(c.rates, asked, flags);
    // A rate the clock cannot take: INVALID_PARAMETERS, as SCP-firmware answers every set whose
    // driver refused the rate (`set_request_respond`, module/scmi_clock/src/mod_scmi_clock.c:
    // FWK_E_RANGE or FWK_E_PARAM) and Arm's scmi-tests expect (test_pool/clock/test_c011.c).
    if (rate === undefined) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (async && this.#p.timers.count(TAG) >= this.#p.behaviour.maxPendingAsync) {
      return fail(ScmiStatus.BUSY);
    }
    const cause = req.agent.id;
    // CLOCK_RATE_CHANGE_REQUESTED announces an accepted set only: an asynchronous set is armed
    // first, so one whose timer cannot be armed (later throws: GENERIC_ERROR) was never announced.
    const requested = (): void => {
      this.#p.notify(
        this.id,
        ClockNotificationId.RATE_CHANGE_REQUESTED,
        id,
        words(cause, id, ...rateWords(rate)),
      );
    };
    if (!async) {
      requested();
      this.#apply(id, s, rate, cause);
      return ok();
    }
    this.#p.later(req, this.#p.behaviour.asyncLatencyMs, TAG, respond, () => {
      // Free first: the clock takes commands again whatever applying the change does.
      this.#pending[id] = false;
      this.#apply(id, s, rate, cause);
      return ok(words(id, ...rateWords(rate)));
    });
    // Busy once armed: a clock that could not arm the operation (later throws) stays free.
    this.#pending[id] = true;
    requested();
    return ok();
  }

  #apply(id: number, s: ClockState, rate: number, cause: number): void {
    if (s.rate === rate) return;
    s.rate = rate;
    this.#p.notify(
      this.id,
      ClockNotificationId.RATE_CHANGED,
      id,
      words(cause, id, ...rateWords(rate)),
    );
  }

  #getRate(req: PlatformRequest): Reply {
    const found = this.#clock(req, true);
    if (!Array.isArray(found)) return found;
    // SCP-firmware reads the rate through create_event_request (SCMI_CLOCK_REQUEST_GET_RATE).
    const busy = this.#busy(found[0]);
    if (busy !== undefined) return busy;
    return ok(wordsOf(rateWords(found[2].rate)));
  }

  #setConfig(req: PlatformRequest): Reply {
    const found = this.#clock(req, true);
    if (!Array.isArray(found)) return found;
    const [id, c, s] = found;
    const attributes = req.r.u32();
    // v3: bits 1:0 state (0 off, 1 on, 2 reserved, 3 unchanged), 23:16 OEM config type. No OEM
    // type is supported: a non-zero one is INVALID_PARAMETERS ("unsupported or invalid
    // configurations", as NXP's System Manager, which has none either), as are reserved bits and
    // state 2. State 3 is then always invalid: DEN0056 §4.6.2.9 "It is invalid to use this value
    // if Bits[23:16] is set to 0" (NXP `scmi_clock.h` SCMI_ClockConfigSet; its `rpc_scmi_clock.c`
    // ClockConfigSet refuses every state above 1). All before the permission and BUSY.
    const state = attributes & 3;
    if ((attributes & ~3) !== 0 || state >= 2) return fail(ScmiStatus.INVALID_PARAMETERS);
    if (c.canSetState === false) return fail(ScmiStatus.DENIED);
    // Last, as scmi_clock_config_set_handler calls create_event_request (SET_STATE) last.
    const busy = this.#busy(id);
    if (busy !== undefined) return busy;
    s.enabled = state === 1;
    return ok();
  }

  #getConfig(req: PlatformRequest): Reply {
    const found = this.#clock(req, true);
    if (!Array.isArray(found)) return found;
    const flags = req.r.u32();
    if (flags !== 0) return fail(ScmiStatus.INVALID_PARAMETERS);
    return ok(words(0, found[2].enabled ? 1 : 0, 0));
  }

  #name(req: PlatformRequest): Reply {
    const found = this.#clock(req, false);
    if (!Array.isArray(found)) return found;
    return ok(extendedName(found[1].name));
  }

  #parents(req: PlatformRequest): Reply {
    const found = this.#clock(req, false);
    if (!Array.isArray(found)) return found;
    const parents = found[1].parents ?? [];
    const skip = req.r.u32();
    if (parents.length === 0) return fail(ScmiStatus.NOT_SUPPORTED);
    // From the end on (a skip equal to the count included), as the other lists (describe rates,
    // levels, sensor descriptions and axes) and NXP's System Manager, which implements this
    // command (`rpc_scmi_clock.c` ClockPossibleParentsGet: `skipParents >= numMuxes`; SCP-firmware
    // has no CLOCK_POSSIBLE_PARENTS_GET). Linux (scmi_iterator_run) never asks there.
    if (skip >= parents.length) return fail(ScmiStatus.INVALID_PARAMETERS);
    const left = parents.length - skip;
    const n = Math.min(left, this.#p.fit(req, 4, 4), this.#p.behaviour.multiPartMax, 0xff);
    return ok(words(n | ((left - n) << 24), ...parents.slice(skip, skip + n)));
  }

  #setParent(req: PlatformRequest): Reply {
    const found = this.#clock(req, true);
    if (!Array.isArray(found)) return found;
    const [id, c, s] = found;
    const parent = req.r.u32();
    if ((c.parents?.length ?? 0) === 0) return fail(ScmiStatus.NOT_SUPPORTED);
    if (c.canSetParent === false) return fail(ScmiStatus.DENIED);
    // DEN0056 §4.6.2.15 (NXP `scmi_clock.h` SCMI_ClockParentSet): NOT_FOUND if the parent does not
    // exist, INVALID_PARAMETERS if it is a clock but not one of this clock's possible parents.
    if (parent >= this.#clocks.length) return fail(ScmiStatus.NOT_FOUND);
    if (!(c.parents ?? []).includes(parent)) return fail(ScmiStatus.INVALID_PARAMETERS);
    // Last: a possible parent that is one of the clock's own descendants would close a loop (the
    // parent chain would lead back to the clock), an invalid configuration of the clock tree:
    // INVALID_PARAMETERS, nothing changes. The validator refuses initial parents that form a loop,
    // so the parents always form a tree. Linux's clk framework does not check this itself
    // (`clk_core_set_parent_nolock` only asks `clk_fetch_parent_index` whether the clock is a
    // possible parent) and assumes a tree: its walks (`__clk_recalc_rates`) recurse into children.
    if (this.#descends(parent, id)) return fail(ScmiStatus.INVALID_PARAMETERS);
    s.parent = parent;
    return ok();
  }

  /** Whether clock `id` is `ancestor` or has it among its current parents, parents' parents… */
  #descends(id: number, ancestor: number): boolean {
    // The parents form a tree (see #setParent): a chain is at most as long as the clock list.
    let at: number | undefined = id;
    for (let steps = 0; at !== undefined && steps <= this.#clocks.length; steps++) {
      if (at === ancestor) return true;
      at = this.#state[at]?.parent;
    }
    return false;
  }

  /**
   * What the calling agent may change on the clock: nothing on a clock it may not use (as NXP's
   * System Manager derives the bits from the agent's permission, `rpc_scmi_clock.c`
   * `ClockGetPermissions`), else what the clock's configuration allows; parent control needs
   * parents. Works on every clock, like the other discovery commands.
   */
  #permissions(req: PlatformRequest): Reply {
    const found = this.#clock(req, false);
    if (!Array.isArray(found)) return found;
    const [id, c] = found;
    if (!req.agent.mayUse('clock', id)) return ok(words(0));
    const permissions =
      (c.canSetState !== false ? STATE_CONTROL : 0) |
      (c.canSetParent !== false && (c.parents?.length ?? 0) > 0 ? PARENT_CONTROL : 0) |
      (c.canSetRate !== false ? RATE_CONTROL : 0);
    return ok(words(permissions));
  }

  #getParent(req: PlatformRequest): Reply {
    const found = this.#clock(req, true);
    if (!Array.isArray(found)) return found;
    const parent = found[2].parent;
    if (parent === undefined) return fail(ScmiStatus.NOT_SUPPORTED);
    return ok(words(parent));
  }
}
