import { ScmiConfigError } from '@scmi-ts/core';

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
  /** A name for the log; default `wire-<n>`. */
  readonly id?: string;
  /** Which invocations; default every message-processing invocation. */
  readonly match?: OpteeWireFaultMatch;
  /** What to do. */
  readonly action: OpteeWireFaultAction;
}

interface RuleState {
  readonly id: string;
  readonly rule: OpteeWireFault;
  seen: number;
  fired: number;
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
 * Checks a wire fault rule.
 *
 * @throws ScmiConfigError naming the field (`fault.action.kind`, …).
 */
function validate(rule: OpteeWireFault): void {
  const r = rule as unknown as Record<string, unknown>;
  const m = (r.match ?? {}) as Record<string, unknown>;
  const a = (r.action ?? {}) as Record<string, unknown>;
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
}

/**
 * The wire fault rules of an emulated OP-TEE, with counts of what fired.
 *
 * @example
 * ```ts
 * const id = optee.faults.add({ action: { kind: 'output-size', excess: 32 } });
 * optee.faults.remove(id);
 * ```
 */
export class OpteeWireFaults {
  readonly #rules: RuleState[] = [];
  readonly #counts: Record<OpteeWireFaultKind, number> = {
    'busy-channel': 0,
    'output-size': 0,
    'hang-until-cancel': 0,
    'smt-status': 0,
    'tee-result': 0,
  };
  #next = 1;

  /**
   * Adds a rule; returns its id.
   *
   * @throws ScmiConfigError when the rule is invalid or its id is taken.
   */
  public add(rule: OpteeWireFault): string {
    validate(rule);
    const id = rule.id ?? `wire-${this.#next++}`;
    if (this.#rules.some((r) => r.id === id))
      throw new ScmiConfigError('fault.id', `rule ${id} exists`);
    this.#rules.push({ id, rule, seen: 0, fired: 0 });
    return id;
  }

  /** Replaces every rule with `rules`. @throws ScmiConfigError as {@link OpteeWireFaults.add} (nothing replaced then). */
  public set(rules: readonly OpteeWireFault[]): void {
    rules.forEach(validate);
    this.clear();
    for (const r of rules) this.add(r);
  }

  /** Removes the rule `id`; false when there was none. */
  public remove(id: string): boolean {
    const i = this.#rules.findIndex((r) => r.id === id);
    if (i < 0) return false;
    this.#rules.splice(i, 1);
    return true;
  }

  /** Removes every rule (the counts stay). */
  public clear(): void {
    this.#rules.length = 0;
  }

  /** The rules, in the order they were added. */
  public get rules(): readonly OpteeWireFault[] {
    return this.#rules.map((r) => ({ ...r.rule, id: r.id }));
  }

  /** How many times each kind fired. */
  public get counts(): Readonly<Record<OpteeWireFaultKind, number>> {
    return { ...this.#counts };
  }

  /** @internal The actions that fire on an invocation of `command` on `channelId`. */
  public select(channelId: number, command: number): OpteeWireFaultAction[] {
    if (this.#rules.length === 0) return NONE;
    const fired: OpteeWireFaultAction[] = [];
    for (const r of this.#rules) {
      const m = r.rule.match ?? {};
      if (m.channelId !== undefined && m.channelId !== channelId) continue;
      if (m.command !== undefined && m.command !== command) continue;
      r.seen++;
      if (m.nth !== undefined && r.seen !== m.nth) continue;
      if (m.times !== undefined && r.fired >= m.times) continue;
      r.fired++;
      this.#counts[r.rule.action.kind]++;
      fired.push(r.rule.action);
    }
    return fired;
  }
}

const NONE: OpteeWireFaultAction[] = [];
