/**
 * The part of a fault rule that decides, once a message matched it, whether it fires: every field
 * optional, a rule without any fires on every match.
 *
 * @example
 * ```ts
 * const gate: FaultRuleGate = { nth: 2, times: 1 }; // the second match only
 * ```
 */
export interface FaultRuleGate {
  /** Fire only on the n-th match (1-based): the count includes the earlier matches that did not fire. */
  readonly nth?: number;
  /** Fire at most this many times. */
  readonly times?: number;
  /**
   * Fire only when a draw in [0, 1) of the list's `random` is below it; read only by a list that
   * has a `random` (see {@link FaultRuleListOptions.random}).
   */
  readonly probability?: number;
}

/**
 * A rule as a {@link FaultRuleList} holds it: the rule, its id and what it saw. Read-only to
 * everyone but the list: {@link FaultRuleList.fires} and {@link FaultRuleList.see} count.
 *
 * @example
 * ```ts
 * for (const state of list.states) console.log(state.id, state.seen, state.fired);
 * ```
 */
export interface FaultRuleState<R> {
  /** The rule's id: the one it was given, or an automatic `<idPrefix><n>`. */
  readonly id: string;
  /** The rule, as it was added (the list neither copies nor freezes it). */
  readonly rule: R;
  /** How many messages matched the rule (whether it fired or not). */
  readonly seen: number;
  /** How many times it fired. */
  readonly fired: number;
}

/**
 * The id {@link FaultRuleList.rules} gives each copy of a rule: `R & FaultRuleIdentity` is a rule
 * with its id, the one it was given or its automatic one.
 *
 * @example
 * ```ts
 * const listed: readonly (Rule & FaultRuleIdentity)[] = list.rules;
 * listed[0]?.id; // 'wire-1'
 * ```
 */
export interface FaultRuleIdentity {
  /** The rule's id in its list. */
  readonly id: string;
}

/**
 * One rule of a list given to {@link FaultRuleList.set}: the rule, its own id if any, and the
 * name of the rule in errors (passed to {@link FaultRuleListOptions.duplicate}).
 *
 * @example
 * ```ts
 * const entry: FaultRuleEntry<Rule> = { rule, id: rule.id, field: 'rules[0]' };
 * ```
 */
export interface FaultRuleEntry<R> {
  /** The rule (checked by the caller already). */
  readonly rule: R;
  /** Its own id; absent or undefined: the next automatic id. */
  readonly id?: string | undefined;
  /** The rule's name in errors (`rule`, `rules[2]`), handed to the duplicate-id error factory. */
  readonly field?: string | undefined;
}

/**
 * How a {@link FaultRuleList} names its rules, counts its kinds, reports a duplicate id and draws
 * its probabilities.
 *
 * @example
 * ```ts
 * const options: FaultRuleListOptions<Rule, 'drop' | 'delay'> = {
 *   kinds: ['drop', 'delay'],
 *   idPrefix: 'wire-',
 *   duplicate: (id, field) => new ScmiConfigError(`${field ?? 'rule'}.id`, `rule ${id} exists`),
 * };
 * ```
 */
export interface FaultRuleListOptions<R, K extends string> {
  /** Every kind of fault, in the order {@link FaultRuleList.counts} lists them (each from 0). */
  readonly kinds: readonly K[];
  /** The automatic ids are this prefix and a number: `wire-` gives `wire-1`, `wire-2`, … */
  readonly idPrefix: string;
  /**
   * The error thrown for an id another rule has, given the id and the rule's `field` as the
   * caller named it (undefined when it did not): the list throws what it returns, unchanged.
   */
  readonly duplicate: (id: string, field: string | undefined) => Error;
  /**
   * Draws in [0, 1) for a gate's `probability`. Without it the list has no probability step:
   * `probability` is not read (a rule whose type has no probability fires as if it had none).
   */
  readonly random?: (() => number) | undefined;
  /**
   * Fields of a rule that {@link FaultRuleList.rules} copies one level deep (objects, as a rule's
   * `match` and `action`), so that changing what it returns changes no rule; default none (the
   * rule is spread, its fields shared: freeze them when they must not change).
   */
  readonly copyFields?: readonly (keyof R & string)[] | undefined;
}

/** {@link FaultRuleState}, as the list changes it. */
interface LiveState<R> {
  readonly id: string;
  readonly rule: R;
  seen: number;
  fired: number;
}

const NO_IDS: ReadonlySet<string> = new Set();

/** Whether a rule of `states` has the id `id` (a plain loop: no closure per call). */
function taken<R>(states: readonly FaultRuleState<R>[], id: string): boolean {
  for (const s of states) if (s.id === id) return true;
  return false;
}

/**
 * The rules of a fault injector, in order, with their ids, what each saw and fired, and how many
 * faults of each kind fired: the bookkeeping every injector shares, the rules themselves being the
 * injector's (it checks and copies them, matches them against its messages and decides whether the
 * first rule that fires wins or every rule that fires applies).
 *
 * Ids are unique: a rule keeps the id it is given, or gets the next automatic `<idPrefix><n>`
 * (the numbering starts at 1, never goes back — not even on {@link FaultRuleList.clear} — and
 * skips the ids rules already have); a taken id is refused with the error {@link FaultRuleListOptions.duplicate} builds,
 * and nothing changes then. The counts stay across {@link FaultRuleList.remove},
 * {@link FaultRuleList.clear} and {@link FaultRuleList.set}. Matching a message is the injector's: it walks
 * {@link FaultRuleList.states} and, for each rule that matches, asks {@link FaultRuleList.fires}
 * (or only counts it with {@link FaultRuleList.see}); neither allocates.
 *
 * @example
 * ```ts
 * const list = new FaultRuleList<Rule, Rule['kind']>({
 *   kinds: ['drop', 'delay'],
 *   idPrefix: 'wire-',
 *   duplicate: (id) => new Error(`rule ${id} exists`),
 * });
 * list.add({ kind: 'drop', nth: 2 }); // 'wire-1'
 * for (const r of list.states) if (list.fires(r, r.rule, r.rule.kind)) apply(r.rule);
 * list.counts.drop; // 1 after the second message
 * ```
 */
export class FaultRuleList<R extends object, K extends string> {
  readonly #prefix: string;
  readonly #duplicate: (id: string, field: string | undefined) => Error;
  readonly #random: (() => number) | undefined;
  readonly #copyFields: readonly string[];
  readonly #counts = {} as Record<K, number>;
  #states: LiveState<R>[] = [];
  #next = 1;

  /** An empty list named and counted as `options` says. */
  public constructor(options: FaultRuleListOptions<R, K>) {
    this.#prefix = options.idPrefix;
    this.#duplicate = options.duplicate;
    this.#random = options.random;
    this.#copyFields = options.copyFields ?? [];
    for (const kind of options.kinds) this.#counts[kind] = 0;
  }

  /**
   * Adds `rule` after the others with the id `id`, or the next automatic id when `id` is
   * undefined; returns the id.
   *
   * @throws what {@link FaultRuleListOptions.duplicate} builds, given `id` and `field`, when
   *   another rule has the id. Nothing is added then.
   */
  public add(rule: R, id?: string, field?: string): string {
    const state = this.#admit(this.#states, rule, id, field, NO_IDS);
    this.#states.push(state);
    return state.id;
  }

  /**
   * Replaces every rule with `entries`, in order, ids as {@link FaultRuleList.add} gives them;
   * the rules replaced do not count as taken, and an automatic id skips the ids the entries give
   * their own rules, wherever they stand. All or nothing: when an entry is refused, the rules and
   * the automatic numbering stay as they were.
   *
   * @throws what {@link FaultRuleListOptions.duplicate} builds when two entries have one id.
   */
  public set(entries: readonly FaultRuleEntry<R>[]): void {
    const reserved = new Set<string>();
    for (const e of entries) if (e.id !== undefined) reserved.add(e.id);
    const next = this.#next;
    const states: LiveState<R>[] = [];
    try {
      for (const e of entries) states.push(this.#admit(states, e.rule, e.id, e.field, reserved));
    } catch (error) {
      this.#next = next;
      throw error;
    }
    this.#states = states;
  }

  /** Removes the rule `id`; false when there is none. The counts stay. */
  public remove(id: string): boolean {
    const i = this.#states.findIndex((s) => s.id === id);
    if (i < 0) return false;
    this.#states.splice(i, 1);
    return true;
  }

  /** Removes every rule. The counts and the automatic numbering stay. */
  public clear(): void {
    this.#states = [];
  }

  /** Whether there is no rule. */
  public get isEmpty(): boolean {
    return this.#states.length === 0;
  }

  /**
   * The rules in order, in the list's own array (no copy, for the injector's per-message loop):
   * read it, do not keep it across a change of the list.
   */
  public get states(): readonly FaultRuleState<R>[] {
    return this.#states;
  }

  /**
   * Copies of the rules in order, each with its id, and the
   * {@link FaultRuleListOptions.copyFields} copied one level: `{ ...rule, id }`.
   */
  public get rules(): (R & FaultRuleIdentity)[] {
    return this.#states.map(({ rule, id }) => {
      const copy: Record<string, unknown> = { ...rule, id };
      for (const field of this.#copyFields) {
        const value = copy[field];
        if (value !== undefined) copy[field] = { ...(value as object) };
      }
      return copy as R & FaultRuleIdentity;
    });
  }

  /** How many faults of each kind fired (a copy), every kind listed. */
  public get counts(): Readonly<Record<K, number>> {
    return { ...this.#counts };
  }

  /**
   * Counts a message `state`'s rule matched and says whether the rule fires on it: it counts the
   * match, then fires unless `gate.nth` is set and this is not that match, `gate.times` is set and
   * reached, or `gate.probability` is set, the list has a `random`, and its draw is not below it
   * (drawn only when nth and times let the rule fire). A rule that fires is counted, and so is
   * `kind` (one of the list's kinds). `state` must be one of {@link FaultRuleList.states}.
   * Allocates nothing.
   */
  public fires(state: FaultRuleState<R>, gate: FaultRuleGate, kind: K): boolean {
    const s = state as LiveState<R>;
    s.seen++;
    if (gate.nth !== undefined && s.seen !== gate.nth) return false;
    if (gate.times !== undefined && s.fired >= gate.times) return false;
    const p = gate.probability;
    if (p !== undefined && this.#random !== undefined && this.#random() >= p) return false;
    s.fired++;
    this.#counts[kind]++;
    return true;
  }

  /**
   * Takes back a firing of `state`'s rule that the injector could not apply (the message it fired
   * on was never processed): the rule's fired count and the count of `kind` go back by one, so a
   * `times` rule keeps that firing for a later message; the match stays counted (its `nth`).
   * `state` must be one of {@link FaultRuleList.states}, and its rule must have fired.
   */
  public withdraw(state: FaultRuleState<R>, kind: K): void {
    const s = state as LiveState<R>;
    if (s.fired === 0) return;
    s.fired--;
    this.#counts[kind]--;
  }

  /**
   * Counts a message `state`'s rule matched without letting it fire: for the rules after the one
   * that fired, in an injector where the first rule that fires wins (their `nth` still counts it).
   */
  public see(state: FaultRuleState<R>): void {
    (state as LiveState<R>).seen++;
  }

  /** `rule` admitted among `states` (not added): its id chosen and checked. */
  #admit(
    states: readonly LiveState<R>[],
    rule: R,
    id: string | undefined,
    field: string | undefined,
    reserved: ReadonlySet<string>,
  ): LiveState<R> {
    let chosen = id;
    if (chosen === undefined) {
      do chosen = `${this.#prefix}${this.#next++}`;
      while (reserved.has(chosen) || taken(states, chosen));
    }
    if (taken(states, chosen)) throw this.#duplicate(chosen, field);
    return { id: chosen, rule, seen: 0, fired: 0 };
  }
}
