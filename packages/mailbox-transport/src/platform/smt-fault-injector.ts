import {
  ScmiConfigError,
  headerMessageId,
  headerProtocolId,
  headerToken,
  type ChannelDirection,
} from '@scmi-ts/core';
import {
  validateSmtFaultRule,
  type SmtFaultAction,
  type SmtFaultKind,
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

interface Rule {
  readonly id: string;
  readonly rule: SmtFaultRule;
  matched: number;
  fired: number;
}

const MAX_LOG = 1000;

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
  readonly #rules: Rule[] = [];
  readonly #log: SmtFaultLogEntry[] = [];
  readonly #counts: Record<SmtFaultKind, number> = {
    'stuck-busy': 0,
    'hostile-length': 0,
    'spurious-doorbell': 0,
    'no-free': 0,
    'early-free': 0,
  };
  #seq = 0;
  #nextId = 1;

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
    const id = valid.id ?? `smt-rule-${this.#nextId++}`;
    if (this.#rules.some((r) => r.id === id)) {
      throw new ScmiConfigError('rule.id', `rule id ${id} is already used`);
    }
    this.#rules.push({ id, rule: valid, matched: 0, fired: 0 });
    return id;
  }

  /** Removes the rule `id`; false when there is none. */
  public remove(id: string): boolean {
    const i = this.#rules.findIndex((r) => r.id === id);
    if (i < 0) return false;
    this.#rules.splice(i, 1);
    return true;
  }

  /** Removes every rule (the log and counts stay). */
  public clear(): void {
    this.#rules.length = 0;
  }

  /** Copies of the rules, in the order they were added, with their ids. */
  public get rules(): readonly SmtFaultRule[] {
    // Copies down to match and action: changing what this returns changes no rule.
    return this.#rules.map(({ id, rule }) => ({
      ...rule,
      id,
      ...(rule.match === undefined ? {} : { match: { ...rule.match } }),
      action: { ...rule.action },
    }));
  }

  /** What fired, oldest first (the last 1000 entries). */
  public get log(): readonly SmtFaultLogEntry[] {
    return [...this.#log];
  }

  /** Faults fired, per kind. */
  public get counts(): Readonly<Record<SmtFaultKind, number>> {
    return { ...this.#counts };
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
    for (const r of this.#rules) {
      const m = r.rule.match ?? {};
      if ((m.direction ?? 'a2p') !== direction) continue;
      if (m.channelId !== undefined && m.channelId !== channelId) continue;
      if (m.protocolId !== undefined && m.protocolId !== headerProtocolId(header)) continue;
      if (m.messageId !== undefined && m.messageId !== headerMessageId(header)) continue;
      r.matched++;
      if (chosen !== undefined) continue;
      if (m.nth !== undefined && r.matched !== m.nth) continue;
      if (m.times !== undefined && r.fired >= m.times) continue;
      r.fired++;
      chosen = r.rule.action;
      this.#counts[chosen.kind]++;
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
