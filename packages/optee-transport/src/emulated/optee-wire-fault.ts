import { FaultRuleList, ScmiConfigError, isRecord } from '@scmi-ts/core';

/**
 * Which PTA invocations a wire fault fires on. Every field is optional; an empty match fires on
 * every message-processing invocation (PTA commands 1, 2 and 4).
 */
export interface OpteeWireFaultMatch {
  /** Only this OP-TEE channel (the channel handle the invocation carries). */
  readonly channelId?: number;
  /** Only this PTA command (`PtaScmiCommand`). */
  readonly command?: number;
  /** Fire only on the n-th matching invocation (1-based). */
  readonly nth?: number;
  /** Fire at most this many times. */
  readonly times?: number;
}

/** The SCMI server finds the channel claimed: an SMT area gets ERROR | FREE, a MSG invocation `TEE_ERROR_BUSY`. */
export interface BusyChannelFault {
  /** Discriminant. */
  readonly kind: 'busy-channel';
}

/**
 * The reported output size is wrong (MSG: the output memref's size; SMT: the length field). By
 * default it points one word (4 bytes) past the end of the buffer — MSG: the output buffer's size
 * + 4; SMT: the area's size − 24 (the length counts from the header at 0x18) + 4 — which the
 * agent must reject. With `excess`, it is the real size plus `excess`, which may stay inside the
 * buffer (a response longer than the message has, padded with what the buffer held).
 */
export interface OutputSizeFault {
  /** Discriminant. */
  readonly kind: 'output-size';
  /** Bytes added to the real size instead of the default (past the end of the buffer). */
  readonly excess?: number;
}

/** The PTA does not process the message and does not return until the invocation is cancelled (`TEE_ERROR_CANCEL`). */
export interface HangUntilCancelFault {
  /** Discriminant. */
  readonly kind: 'hang-until-cancel';
}

/** After processing, the SMT `channel_status` word is overwritten with `status` (SMT only). */
export interface SmtStatusFault {
  /** Discriminant. */
  readonly kind: 'smt-status';
  /** The status word to write (e.g. 0: busy, never freed). */
  readonly status: number;
}

/** The PTA returns `result` (any u32, known or not) without processing the message. */
export interface TeeResultFault {
  /** Discriminant. */
  readonly kind: 'tee-result';
  /** The TEE result code to return. */
  readonly result: number;
}

/** What a wire fault does. */
export type OpteeWireFaultAction =
  BusyChannelFault | OutputSizeFault | HangUntilCancelFault | SmtStatusFault | TeeResultFault;

/** The kinds of wire fault. */
export type OpteeWireFaultKind = OpteeWireFaultAction['kind'];

/**
 * A fault of the emulated OP-TEE at the wire level (below the SCMI messages, which
 * `@scmi-ts/platform`'s fault rules cover): plain data, so a worker can receive it.
 *
 * @example
 * ```ts
 * optee.faults.add({ match: { channelId: 0, nth: 2 }, action: { kind: 'busy-channel' } });
 * ```
 */
export interface OpteeWireFault {
  /** A name for the log, unique among the rules; default `wire-<n>` (the first one not taken). */
  readonly id?: string;
  /** Which invocations; default every message-processing invocation. */
  readonly match?: OpteeWireFaultMatch;
  /** What to do. */
  readonly action: OpteeWireFaultAction;
}

const KINDS: readonly OpteeWireFaultKind[] = [
  'busy-channel',
  'output-size',
  'hang-until-cancel',
  'smt-status',
  'tee-result',
];

function u32(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function positive(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

/**
 * Checks a wire fault rule and returns a copy of what the emulator reads (rules are plain data):
 * a caller changing its object after {@link OpteeWireFaults.add} must not bypass these checks.
 * Each field's type is checked before it is read, so null, or a `match` that is not an object
 * (which would otherwise match every invocation), is a typed error rather than a `TypeError`.
 *
 * @throws ScmiConfigError naming the field (`fault`, `fault.id`, `fault.match`,
 *   `fault.action.kind`, …).
 */
function validate(rule: unknown): OpteeWireFault {
  if (!isRecord(rule)) {
    throw new ScmiConfigError('fault', 'expected an object ({ match?, action })');
  }
  const r = rule;
  if (r.id !== undefined && (typeof r.id !== 'string' || r.id === '')) {
    throw new ScmiConfigError('fault.id', 'expected a non-empty string');
  }
  // null stands for an absent match, as in JSON written by hand (as the platform's rules take it).
  if (r.match !== undefined && r.match !== null && !isRecord(r.match)) {
    throw new ScmiConfigError(
      'fault.match',
      'expected an object ({ channelId?, command?, nth?, times? })',
    );
  }
  if (!isRecord(r.action)) {
    throw new ScmiConfigError(
      'fault.action',
      `expected an object with a kind: ${KINDS.join(', ')}`,
    );
  }
  const m: Record<string, unknown> = isRecord(r.match) ? r.match : {};
  const a = r.action;
  if (!KINDS.includes(a.kind as OpteeWireFaultKind)) {
    throw new ScmiConfigError('fault.action.kind', `expected one of ${KINDS.join(', ')}`);
  }
  for (const k of ['channelId', 'command'] as const) {
    if (m[k] !== undefined && !u32(m[k]))
      throw new ScmiConfigError(`fault.match.${k}`, 'expected a u32');
  }
  for (const k of ['nth', 'times'] as const) {
    if (m[k] !== undefined && !positive(m[k]))
      throw new ScmiConfigError(`fault.match.${k}`, 'expected an integer ≥ 1');
  }
  if (a.kind === 'output-size' && a.excess !== undefined && !positive(a.excess)) {
    throw new ScmiConfigError('fault.action.excess', 'expected an integer ≥ 1');
  }
  if (a.kind === 'smt-status' && !u32(a.status))
    throw new ScmiConfigError('fault.action.status', 'expected a u32');
  if (a.kind === 'tee-result' && !u32(a.result))
    throw new ScmiConfigError('fault.action.result', 'expected a u32');
  return {
    ...(r.id === undefined ? {} : { id: r.id }),
    ...(isRecord(r.match) ? { match: { ...m } } : {}),
    action: { ...a } as unknown as OpteeWireFaultAction,
  };
}

/** The match of a rule that has none: every message-processing invocation. */
const NO_MATCH: OpteeWireFaultMatch = Object.freeze({});

/**
 * The wire fault rules of an emulated OP-TEE, with counts of what fired.
 *
 * Every rule that fires on an invocation acts on it, in rule order (two `output-size` rules
 * both change the size), with these exceptions: the first `tee-result` or `hang-until-cancel`
 * that fires ends the invocation by itself — the rules after it do not fire (their `nth` still
 * counts it) and the ones before it are taken back; a `busy-channel` leaves nothing for
 * `output-size` and `smt-status` to act on; and a rule whose invocation ends without it acting
 * (refused before it is processed, found busy, never answered, `smt-status` on a MSG channel)
 * is taken back too. So {@link OpteeWireFaults.counts} counts the faults that acted, and a
 * `times` rule spends its firings on invocations it acted on.
 *
 * @example
 * ```ts
 * const id = optee.faults.add({ action: { kind: 'output-size', excess: 32 } });
 * optee.faults.remove(id);
 * ```
 */
export class OpteeWireFaults {
  readonly #list = new FaultRuleList<OpteeWireFault, OpteeWireFaultKind>({
    kinds: KINDS,
    idPrefix: 'wire-',
    duplicate: (id) => new ScmiConfigError('fault.id', `rule ${id} exists`),
    // Copies down to match and action: changing what `rules` returns changes no rule.
    copyFields: ['match', 'action'],
  });

  /**
   * Adds a rule after the others; returns its id (`wire-<n>` when it has none, skipping the ids
   * already taken). The rule is copied: changing the object afterwards changes nothing.
   *
   * @throws ScmiConfigError when the rule is invalid — `fault` when it is not an object,
   *   `fault.match` / `fault.action` when they are not objects, `fault.action.kind`,
   *   `fault.match.nth`, … — or `fault.id` when it is not a non-empty string or is taken. Nothing
   *   is added then.
   */
  public add(rule: OpteeWireFault): string {
    const valid = validate(rule);
    return this.#list.add(valid, valid.id);
  }

  /**
   * Replaces every rule with `rules`, in order (ids as {@link OpteeWireFaults.add} gives them).
   * The whole list is checked first, duplicate ids within it included.
   *
   * @throws ScmiConfigError as {@link OpteeWireFaults.add} (`faults` when `rules` is not an
   *   array): nothing replaced then.
   */
  public set(rules: readonly OpteeWireFault[]): void {
    if (!Array.isArray(rules)) throw new ScmiConfigError('faults', 'expected an array of rules');
    const list: readonly unknown[] = rules;
    const valid = Array.from(list, (r) => validate(r)); // a hole is validated too (undefined)
    this.#list.set(valid.map((r) => ({ rule: r, id: r.id })));
  }

  /** Removes the rule `id`; false when there was none. */
  public remove(id: string): boolean {
    return this.#list.remove(id);
  }

  /** Removes every rule (the counts stay). */
  public clear(): void {
    this.#list.clear();
  }

  /** The rules, in the order they were added (copies: changing them changes nothing). */
  public get rules(): readonly OpteeWireFault[] {
    return this.#list.rules;
  }

  /** How many times each kind fired. */
  public get counts(): Readonly<Record<OpteeWireFaultKind, number>> {
    return this.#list.counts;
  }

  /**
   * @internal The actions that fire on an invocation of `command` on `channelId`, in rule order.
   * The first `tee-result` or `hang-until-cancel` that fires ends the look and is all that is
   * returned: the PTA then processes nothing, so the rules that fired before it are taken back
   * (see {@link OpteeWireFaults.withdraw}) and the ones after it only count the invocation as
   * matched (their `nth`), without firing.
   */
  public select(channelId: number, command: number): OpteeWireFaultAction[] {
    if (this.#list.isEmpty) return NONE;
    const fired: OpteeWireFaultAction[] = [];
    let ended = false;
    for (const r of this.#list.states) {
      const m = r.rule.match ?? NO_MATCH;
      if (m.channelId !== undefined && m.channelId !== channelId) continue;
      if (m.command !== undefined && m.command !== command) continue;
      if (ended) {
        this.#list.see(r);
        continue;
      }
      const action = r.rule.action;
      if (!this.#list.fires(r, m, action.kind)) continue;
      if (action.kind === 'tee-result' || action.kind === 'hang-until-cancel') {
        this.withdraw(fired);
        fired.length = 0;
        ended = true;
      }
      fired.push(action);
    }
    return fired;
  }

  /**
   * @internal Takes back the firings of `actions` (from {@link OpteeWireFaults.select}) but those
   * of kind `applied`: the invocation they fired on ended without them acting (refused
   * before processing, the channel busy, no response, a `busy-channel` instead of a response, an
   * `smt-status` on a MSG channel). Each rule's fired count and its kind's count go back by one,
   * so a `times` rule keeps that firing for a later invocation; its match stays counted. A rule
   * removed meanwhile is not found, and its count stays.
   */
  public withdraw(actions: readonly OpteeWireFaultAction[], applied?: OpteeWireFaultKind): void {
    for (const action of actions) {
      if (action.kind === applied) continue;
      for (const r of this.#list.states) {
        if (r.rule.action === action) {
          this.#list.withdraw(r, action.kind);
          break;
        }
      }
    }
  }
}

const NONE: OpteeWireFaultAction[] = [];
