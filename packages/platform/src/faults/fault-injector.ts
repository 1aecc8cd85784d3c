import {
  FaultRuleList,
  MAX_TIMER_MS,
  formatValue,
  type Clock,
  type FaultRuleEntry,
  type FaultRuleState,
} from '@scmi-ts/core';
import { PlatformError } from '../errors/platform-error.js';
import { SeededRandom } from '../random/seeded-random.js';
import type {
  FaultAction,
  FaultKind,
  FaultLogEntry,
  FaultRule,
  FaultStage,
  IdentifiedFaultRule,
} from './fault-rule.js';

/** Every fault kind, in a stable order. */
const KINDS: readonly FaultKind[] = [
  'delay',
  'drop',
  'duplicate',
  'reorder',
  'hold',
  'late-reply',
  'corrupt-token',
  'corrupt-type',
  'corrupt-protocol',
  'corrupt-bytes',
  'truncate',
  'unsolicited',
  'notification-storm',
];
const COMMAND_ONLY: ReadonlySet<FaultKind> = new Set([
  'reorder',
  'unsolicited',
  'notification-storm',
]);
const STAGES: readonly FaultStage[] = ['command', 'delayed-response', 'notification'];
/**
 * The actions that change how a message is delivered. One message is delivered one way: of these,
 * only the first rule that fires on it applies. @internal
 */
export const DELIVERY_KINDS: ReadonlySet<FaultKind> = new Set([
  'drop',
  'delay',
  'late-reply',
  'reorder',
  'hold',
  'duplicate',
]);
/** The fields of a rule, of its match and of each action kind: any other is refused (a typo). */
const RULE_FIELDS: readonly string[] = ['id', 'match', 'action'];
const MATCH_FIELDS: readonly string[] = [
  'stage',
  'agentId',
  'protocolId',
  'messageId',
  'nth',
  'probability',
  'times',
];
const ACTION_FIELDS: Readonly<Record<FaultKind, readonly string[]>> = {
  delay: ['kind', 'ms'],
  drop: ['kind'],
  duplicate: ['kind', 'delayMs'],
  reorder: ['kind', 'maxHoldMs'],
  hold: ['kind', 'maxHoldMs'],
  'late-reply': ['kind', 'ms'],
  'corrupt-token': ['kind', 'token'],
  'corrupt-type': ['kind', 'type'],
  'corrupt-protocol': ['kind', 'protocolId'],
  'corrupt-bytes': ['kind', 'offset', 'bytes'],
  truncate: ['kind', 'length'],
  unsolicited: ['kind', 'token'],
  'notification-storm': ['kind', 'count', 'protocolId', 'messageId', 'payload'],
};
const MAX_LOG = 10_000;
/**
 * Longest storm payload, in u32 words: 64 KiB, the largest message payload a transport of scmi-ts
 * carries (virtio's `maxMsgSize` bound); a longer notification could never be posted.
 */
const MAX_STORM_PAYLOAD_WORDS = 16_384;
/** Most bytes a `corrupt-bytes` action writes: 64 KiB, as a storm's payload. */
const MAX_CORRUPT_BYTES = 65_536;

/** The match of a rule that has none: every command. */
const NO_MATCH: NonNullable<FaultRule['match']> = Object.freeze({});

/** One rule that fired on a message: its id and action. */
export interface FiredFault {
  /** The rule id. */
  readonly ruleId: string;
  /** What to do. */
  readonly action: FaultAction;
}

/** A {@link FiredFault} as {@link FaultInjector.select} returns it: where to take it back. */
class Firing implements FiredFault {
  constructor(
    readonly ruleId: string,
    readonly action: FaultAction,
    readonly state: FaultRuleState<FaultRule>,
    readonly seq: number,
  ) {}
}

/** A message a fault rule may fire on. @internal */
export interface FaultSubject {
  readonly stage: FaultStage;
  readonly agentId: number;
  readonly protocolId: number;
  readonly messageId: number;
  readonly token: number;
}

/**
 * The platform's message-level fault rules (`platform.faults`): add rules, read what was injected.
 * Probabilities are drawn from a generator seeded with the platform seed, so the same seed and the
 * same message sequence inject the same faults. The log keeps the last 10 000 entries; the counts
 * cover everything since creation.
 *
 * @example
 * ```ts
 * platform.faults.add({ id: 'lose-vendor', match: { messageId: 0x3 }, action: { kind: 'drop' } });
 * // … run the agent …
 * expect(platform.faults.counts.drop).toBe(1);
 * ```
 */
export class FaultInjector {
  readonly #clock: Clock;
  readonly #agents: readonly number[] | undefined;
  readonly #list: FaultRuleList<FaultRule, FaultKind>;
  #seq = 0;
  readonly #log: FaultLogEntry[] = [];

  /**
   * Creates an injector on `clock` (for log times) with the probability seed `seed`. Given the
   * platform's agent ids (`agents`), a rule whose `match.agentId` is none of them is refused: it
   * could never fire (a platform's injector is given them).
   */
  public constructor(clock: Clock, seed = 1, agents?: readonly number[]) {
    this.#clock = clock;
    this.#agents = agents === undefined ? undefined : [...agents];
    const rng = new SeededRandom(seed);
    this.#list = new FaultRuleList({
      kinds: KINDS,
      idPrefix: 'rule-',
      duplicate: (id, field) =>
        new PlatformError(
          'E_FAULT_RULE',
          `${field === undefined ? '' : `${field}: `}fault rule id ${id} is already in use`,
        ),
      random: () => rng.next(),
    });
  }

  /**
   * Adds a rule after the existing ones and returns its id.
   *
   * The injector keeps a copy of `rule`: changing the object afterwards changes nothing.
   *
   * @throws PlatformError `E_FAULT_RULE` when the rule or a field is invalid (the message names
   *   the field), the rule, its `match` or its `action` has a field the type does not declare
   *   (e.g. `match.messageID`: a misspelt match field would otherwise match every message), the
   *   id is taken, the action cannot apply to the stage (reorder, unsolicited and
   *   notification-storm are for commands), or `match.agentId` is not one of the platform's
   *   agents. Nothing is added then.
   */
  public add(rule: FaultRule): string {
    // Checked and kept as a copy: a caller changing the rule later must not bypass the checks.
    const copy = freezeRule(copyRule(rule));
    checkRule(copy, this.#agents);
    return this.#list.add(copy, copy.id);
  }

  /**
   * Replaces every rule with `rules`, in order (ids as {@link FaultInjector.add} gives them; an
   * automatic id skips the ids the list gives its own rules). All or nothing: the whole list is
   * checked first, and when one rule is refused the rules stay as they were, their counts (`nth`,
   * `times`) included — a list half installed would run faults nobody asked for. Copies are kept,
   * as by `add`; the log and the kind counts stay.
   *
   * @throws PlatformError `E_FAULT_RULE` when `rules` is not an array, has a hole, or a rule is
   *   refused as `add` refuses it (the message starts with `rules[i]`), or two rules give one id.
   * @example
   * ```ts
   * platform.faults.set([{ match: { messageId: 0x3 }, action: { kind: 'drop' } }]);
   * platform.faults.set([]); // no rule left
   * ```
   */
  public set(rules: readonly FaultRule[]): void {
    const list: unknown = rules;
    if (!Array.isArray(list)) {
      throw new PlatformError(
        'E_FAULT_RULE',
        `rules must be an array of fault rules, got ${typeof list}`,
      );
    }
    const entries: FaultRuleEntry<FaultRule>[] = [];
    // An index loop: a hole of a sparse list is refused, not skipped.
    for (let i = 0; i < list.length; i++) {
      const field = `rules[${i}]`;
      if (!Object.hasOwn(list, i)) {
        throw new PlatformError('E_FAULT_RULE', `${field}: a hole (the list is sparse)`);
      }
      let copy: FaultRule;
      try {
        copy = freezeRule(copyRule(list[i] as FaultRule));
        checkRule(copy, this.#agents);
      } catch (e) {
        if (!PlatformError.is(e)) throw e;
        throw new PlatformError(e.code, `${field}: ${e.message}`, { cause: e });
      }
      entries.push({ rule: copy, id: copy.id, field });
    }
    this.#list.set(entries);
  }

  /** Removes the rule `id`; false when there is none. */
  public remove(id: string): boolean {
    return this.#list.remove(id);
  }

  /** Removes every rule (the log and the counts stay). */
  public clear(): void {
    this.#list.clear();
  }

  /** Whether no rule is set (the platform then skips the fault bookkeeping of each command). */
  public get isEmpty(): boolean {
    return this.#list.isEmpty;
  }

  /**
   * The rules, in order, with their ids. Read-only: their match, action and arrays are frozen (a
   * rule is changed by removing it and adding another).
   */
  public get rules(): readonly IdentifiedFaultRule[] {
    return this.#list.rules;
  }

  /** The faults injected, oldest first (at most the last 10 000). */
  public get log(): readonly FaultLogEntry[] {
    return [...this.#log];
  }

  /** How many faults of each kind were injected. */
  public get counts(): Readonly<Record<FaultKind, number>> {
    return this.#list.counts;
  }

  /**
   * The rules that fire on `subject`, in order; logs and counts them. Called by the platform once
   * per message. At most one delivery change fires (see {@link DELIVERY_KINDS}): a later rule of
   * that kind only counts the match (its `nth`), is neither logged nor counted, and keeps its
   * `times` — the log and the counts hold what was done to the message. @internal
   */
  public select(subject: FaultSubject): FiredFault[] {
    if (this.#list.isEmpty) return [];
    const fired: FiredFault[] = [];
    let delivery = false;
    for (const r of this.#list.states) {
      const m = r.rule.match ?? NO_MATCH;
      if ((m.stage ?? 'command') !== subject.stage) continue;
      if (m.agentId !== undefined && m.agentId !== subject.agentId) continue;
      if (m.protocolId !== undefined && m.protocolId !== subject.protocolId) continue;
      if (m.messageId !== undefined && m.messageId !== subject.messageId) continue;
      const kind = r.rule.action.kind;
      const changesDelivery = DELIVERY_KINDS.has(kind);
      if (changesDelivery && delivery) {
        this.#list.see(r);
        continue;
      }
      if (!this.#list.fires(r, m, kind)) continue;
      if (changesDelivery) delivery = true;
      this.#record(r.id, kind, subject);
      fired.push(new Firing(r.id, r.rule.action, r, this.#seq));
    }
    return fired;
  }

  /**
   * Takes back faults {@link FaultInjector.select} fired on a message that was then never
   * processed (a notification storm on the command disconnected its agent): their log entries
   * go, their kinds are counted one less, and a `times` rule keeps the firing; the match stays
   * counted for `nth`. A fault not returned by `select`, or whose log entry has already left the
   * bounded log, loses only what is left. @internal
   */
  public withdraw(faults: readonly FiredFault[]): void {
    for (const f of faults) {
      if (!(f instanceof Firing)) continue;
      if (this.#list.states.includes(f.state)) this.#list.withdraw(f.state, f.action.kind);
      const i = this.#log.findLastIndex((e) => e.seq === f.seq);
      if (i >= 0) this.#log.splice(i, 1);
    }
  }

  #record(ruleId: string, kind: FaultKind, s: FaultSubject): void {
    this.#log.push({
      seq: ++this.#seq,
      atMs: this.#clock.now(),
      ruleId,
      kind,
      stage: s.stage,
      agentId: s.agentId,
      protocolId: s.protocolId,
      messageId: s.messageId,
      token: s.token,
    });
    if (this.#log.length > MAX_LOG) this.#log.shift();
  }
}

function bad(message: string): never {
  throw new PlatformError('E_FAULT_RULE', `invalid fault rule: ${message}`);
}

function checkInt(v: number | undefined, name: string, min: number, max: number): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min || v > max)
    bad(`${name} must be an integer in ${min} … ${max}`);
}

function checkMs(v: number | undefined, name: string, required = false): void {
  if (v === undefined && !required) return;
  if (typeof v !== 'number' || !(v >= 0 && v <= MAX_TIMER_MS)) {
    bad(`${name} must be a number in 0 … ${MAX_TIMER_MS}`);
  }
}

function isObject(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null;
}

/**
 * Refuses a field of `v` outside `allowed`, naming it `<path>.<key>`; `hint` may add where such a
 * field belongs.
 */
function checkFields(
  v: object,
  path: string,
  allowed: readonly string[],
  hint: (key: string) => string = () => '',
): void {
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key)) {
      bad(`${path === '' ? '' : `${path}.`}${key} is not a known field${hint(key)}`);
    }
  }
}

/** For a field of the rule itself: where a match field put at the top level belongs. */
function matchHint(key: string): string {
  return MATCH_FIELDS.includes(key) ? ' (it belongs under match)' : '';
}

/**
 * A copy of the parts of `rule` the injector reads (rules are plain data), checking first what
 * reading them needs: null or a non-object would otherwise fail with a plain TypeError.
 */
function copyRule(rule: FaultRule): FaultRule {
  const r: unknown = rule;
  if (!isObject(r)) bad('a rule must be an object');
  checkFields(r, '', RULE_FIELDS, matchHint);
  if (r.id !== undefined && (typeof r.id !== 'string' || r.id === '')) {
    bad('id must be a non-empty string');
  }
  // null stands for an absent match, as in JSON written by hand.
  if (r.match !== undefined && r.match !== null && (!isObject(r.match) || Array.isArray(r.match)))
    bad('match must be an object');
  if (!isObject(r.action)) bad(`action must be an object with a kind: ${KINDS.join(', ')}`);
  // The payload words and the bytes are bounded because the platform builds the payload and posts
  // it `count` times, and writes the bytes into each message the rule fires on.
  const payload = copyArray(r.action.payload, MAX_STORM_PAYLOAD_WORDS, 'payload', 'words');
  const bytes = copyArray(r.action.bytes, MAX_CORRUPT_BYTES, 'bytes', 'bytes');
  const action = {
    ...r.action,
    ...(payload === undefined ? {} : { payload }),
    ...(bytes === undefined ? {} : { bytes }),
  } as unknown as FaultAction;
  return {
    ...(r.id === undefined ? {} : { id: r.id }),
    ...(isObject(r.match) ? { match: { ...r.match } } : {}),
    action,
  };
}

/**
 * A frozen copy of the array `value` (undefined when it is not one), bounded before it is copied:
 * a sparse array may claim 2^32 − 1 elements. The elements are read by index, not through the
 * array's own `slice`, which a subclass could make return something else than what was bounded.
 */
function copyArray(
  value: unknown,
  max: number,
  field: string,
  unit: string,
): readonly unknown[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const source = value as readonly unknown[];
  const n = source.length;
  if (n > max) bad(`action.${field} must have at most ${max} ${unit}, got ${n}`);
  return Object.freeze(Array.from({ length: n }, (_, i) => source[i]));
}

/** `rule`, its match and its action made read-only: the injector hands them out by `rules`. */
function freezeRule(rule: FaultRule): FaultRule {
  if (rule.match !== undefined) Object.freeze(rule.match);
  Object.freeze(rule.action);
  return Object.freeze(rule);
}

function checkRule(rule: FaultRule, agents: readonly number[] | undefined): void {
  const m = rule.match ?? {};
  checkFields(m, 'match', MATCH_FIELDS);
  const stage = m.stage ?? 'command';
  if (!STAGES.includes(stage)) {
    bad(`match.stage ${formatValue(stage)} is not a stage (${STAGES.join(', ')})`);
  }
  checkInt(m.agentId, 'match.agentId', 0, 0xffffffff);
  if (m.agentId !== undefined && agents !== undefined && !agents.includes(m.agentId)) {
    bad(
      `match.agentId ${m.agentId} is not one of the platform's agents (${agents.join(', ')}): the rule could never fire`,
    );
  }
  checkInt(m.protocolId, 'match.protocolId', 0, 0xff);
  checkInt(m.messageId, 'match.messageId', 0, 0xff);
  checkInt(m.nth, 'match.nth', 1, Number.MAX_SAFE_INTEGER);
  checkInt(m.times, 'match.times', 1, Number.MAX_SAFE_INTEGER);
  // A number only: null would compare as 0 (the rule never fires), '0.5' would be coerced.
  const p: unknown = m.probability;
  if (p !== undefined && (typeof p !== 'number' || !(p >= 0 && p <= 1))) {
    bad('match.probability must be a number in 0 … 1');
  }
  const a = rule.action;
  if (!KINDS.includes(a.kind)) {
    bad(`action.kind must be one of ${KINDS.join(', ')}, got ${formatValue(a.kind)}`);
  }
  checkFields(a, 'action', ACTION_FIELDS[a.kind]);
  if (stage !== 'command' && COMMAND_ONLY.has(a.kind)) {
    bad(`${a.kind} applies to commands only, not to stage ${stage}`);
  }
  switch (a.kind) {
    case 'delay':
    case 'late-reply':
      checkMs(a.ms, 'action.ms', true);
      break;
    case 'duplicate':
      checkMs(a.delayMs, 'action.delayMs');
      break;
    case 'reorder':
    case 'hold':
      checkMs(a.maxHoldMs, 'action.maxHoldMs');
      break;
    case 'corrupt-token':
    case 'unsolicited':
      checkInt(a.token, 'action.token', 0, 0x3ff);
      break;
    case 'corrupt-type':
      checkInt(a.type, 'action.type', 0, 3);
      break;
    case 'corrupt-protocol':
      checkInt(a.protocolId, 'action.protocolId', 0, 0xff);
      break;
    case 'corrupt-bytes':
      checkInt(
        typeof a.offset === 'number' ? a.offset : -1,
        'action.offset',
        0,
        Number.MAX_SAFE_INTEGER,
      );
      checkIntegers(a.bytes, 'action.bytes', 0xff, `an array of 1 … ${MAX_CORRUPT_BYTES} bytes`, 1);
      break;
    case 'truncate':
      checkInt(a.length, 'action.length', 0, Number.MAX_SAFE_INTEGER);
      break;
    case 'notification-storm':
      checkInt(Number.isInteger(a.count) ? a.count : -1, 'action.count', 1, 100_000);
      checkInt(a.protocolId, 'action.protocolId', 0, 0xff);
      checkInt(a.messageId, 'action.messageId', 0, 0xff);
      checkIntegers(a.payload ?? [], 'action.payload', 0xffffffff, 'an array of u32 words');
      break;
    case 'drop':
      break;
  }
}

/**
 * Refuses `value` unless it is an array of at least `minLength` integers in 0 … `max`, naming
 * `field` (or the element) in the error; `shape` says what the field must be.
 */
function checkIntegers(
  value: unknown,
  field: string,
  max: number,
  shape: string,
  minLength = 0,
): void {
  if (!Array.isArray(value) || value.length < minLength) bad(`${field} must be ${shape}`);
  const list = value as readonly unknown[];
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    // A hole of a sparse array reads as undefined, which checkInt would let pass.
    if (typeof v !== 'number') bad(`${field}[${i}] must be an integer in 0 … ${max}`);
    checkInt(v, `${field}[${i}]`, 0, max);
  }
}
