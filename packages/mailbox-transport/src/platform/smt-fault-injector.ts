import {
  FaultRuleList,
  ScmiConfigError,
  type FaultRuleEntry,
  headerMessageId,
  headerProtocolId,
  headerToken,
  type ChannelDirection,
} from '@scmi-ts/core';
import {
  validateSmtFaultRule,
  type SmtFaultAction,
  type SmtFaultKind,
  type SmtFaultMatch,
  type SmtFaultRule,
} from './smt-fault-rule.js';

/** One wire-level fault the responder injected. */
export interface SmtFaultLogEntry {
  /** Order of injection, from 1. */
  readonly seq: number;
  /** The rule that fired. */
  readonly ruleId: string;
  /** The kind of fault. */
  readonly kind: SmtFaultKind;
  /** `a2p` or `p2a`. */
  readonly direction: ChannelDirection;
  /** The SCMI channel id. */
  readonly channelId: number;
  /** The message's header word. */
  readonly header: number;
  /** Its token. */
  readonly token: number;
}

const MAX_LOG = 1000;
/** The match of a rule that has none: every A2P response. */
const NO_MATCH: SmtFaultMatch = Object.freeze({});

/**
 * The wire-level fault rules of an {@link SmtResponder}, with a bounded log (last 1000) and
 * counts per kind.
 *
 * @example
 * ```ts
 * const id = responder.faults.add({ action: { kind: 'spurious-doorbell' } });
 * responder.faults.counts['spurious-doorbell']; // how many fired
 * responder.faults.remove(id);
 * ```
 */
export class SmtFaultInjector {
  readonly #list = new FaultRuleList<SmtFaultRule, SmtFaultKind>({
    kinds: ['stuck-busy', 'hostile-length', 'spurious-doorbell', 'no-free', 'early-free'],
    idPrefix: 'smt-rule-',
    duplicate: (id, field) =>
      new ScmiConfigError(`${field ?? 'rule'}.id`, `rule id ${id} is already used`),
    // Copies down to match and action: changing what `rules` returns changes no rule.
    copyFields: ['match', 'action'],
  });
  readonly #log: SmtFaultLogEntry[] = [];
  #seq = 0;

  /**
   * Adds a rule (validated) and returns its id.
   *
   * The injector keeps a copy of `rule`: changing the object afterwards changes nothing. A refused
   * rule changes nothing either.
   *
   * @throws ScmiConfigError when the rule is invalid (naming the field) or its id is already used.
   */
  public add(rule: SmtFaultRule): string {
    // Checked and kept as a copy: a caller changing the rule later must not bypass the checks.
    const valid = validateSmtFaultRule(rule);
    return this.#list.add(valid, valid.id);
  }

  /**
   * Replaces every rule with `rules`, in order (ids as {@link SmtFaultInjector.add} gives them).
   * All or nothing: the whole list is checked first, and when one rule is refused the rules stay
   * as they were — a list half installed would run faults nobody asked for.
   *
   * @throws ScmiConfigError as {@link SmtFaultInjector.add}, naming `rules[i].<field>` (or
   *   `rules` when it is not an array); two rules of the list with one id are refused too.
   */
  public set(rules: readonly SmtFaultRule[]): void {
    if (!Array.isArray(rules)) throw new ScmiConfigError('rules', 'expected an array of rules');
    const list: readonly unknown[] = rules;
    // An index loop, not map: a hole of a sparse list is refused, not skipped.
    const entries: FaultRuleEntry<SmtFaultRule>[] = [];
    for (let i = 0; i < list.length; i++) {
      const field = `rules[${i}]`;
      const valid = validateSmtFaultRule(list[i], field);
      entries.push({ rule: valid, id: valid.id, field });
    }
    this.#list.set(entries);
  }

  /** Removes the rule `id`; false when there is none. */
  public remove(id: string): boolean {
    return this.#list.remove(id);
  }

  /** Removes every rule (the log and counts stay). */
  public clear(): void {
    this.#list.clear();
  }

  /** Copies of the rules, in the order they were added, with their ids. */
  public get rules(): readonly SmtFaultRule[] {
    return this.#list.rules;
  }

  /** What fired, oldest first (the last 1000 entries). */
  public get log(): readonly SmtFaultLogEntry[] {
    return [...this.#log];
  }

  /** Faults fired, per kind. */
  public get counts(): Readonly<Record<SmtFaultKind, number>> {
    return this.#list.counts;
  }

  /**
   * The action of the first rule that fires on the message with `header` on channel
   * `direction:channelId`, if any (logged and counted). @internal
   */
  public select(
    direction: ChannelDirection,
    channelId: number,
    header: number,
  ): SmtFaultAction | undefined {
    let chosen: SmtFaultAction | undefined;
    for (const r of this.#list.states) {
      const m = r.rule.match ?? NO_MATCH;
      if ((m.direction ?? 'a2p') !== direction) continue;
      if (m.channelId !== undefined && m.channelId !== channelId) continue;
      if (m.protocolId !== undefined && m.protocolId !== headerProtocolId(header)) continue;
      if (m.messageId !== undefined && m.messageId !== headerMessageId(header)) continue;
      // After the first rule that fired, the others still count the message as matched.
      if (chosen !== undefined) {
        this.#list.see(r);
        continue;
      }
      if (!this.#list.fires(r, m, r.rule.action.kind)) continue;
      chosen = r.rule.action;
      this.#log.push({
        seq: ++this.#seq,
        ruleId: r.id,
        kind: chosen.kind,
        direction,
        channelId,
        header,
        token: headerToken(header),
      });
      if (this.#log.length > MAX_LOG) this.#log.shift();
    }
    return chosen;
  }
}
