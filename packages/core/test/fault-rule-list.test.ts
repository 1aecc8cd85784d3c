import { FaultRuleList, type FaultRuleListOptions, type FaultRuleState } from '@scmi-ts/core';

type Kind = 'drop' | 'delay';

interface Rule {
  readonly id?: string;
  readonly kind: Kind;
  readonly nth?: number;
  readonly times?: number;
  readonly probability?: number;
  readonly match?: { readonly channel?: number };
}

class DuplicateIdError extends Error {
  public constructor(
    public readonly id: string,
    public readonly field: string | undefined,
  ) {
    super(`rule id ${id} is taken (${field ?? 'no field'})`);
  }
}

function list(options: Partial<FaultRuleListOptions<Rule, Kind>> = {}): FaultRuleList<Rule, Kind> {
  return new FaultRuleList<Rule, Kind>({
    kinds: ['drop', 'delay'],
    idPrefix: 'wire-',
    duplicate: (id, field) => new DuplicateIdError(id, field),
    ...options,
  });
}

const drop: Rule = { kind: 'drop' };
const delay: Rule = { kind: 'delay' };

function ids(l: FaultRuleList<Rule, Kind>): string[] {
  return l.states.map((s) => s.id);
}

function first(l: FaultRuleList<Rule, Kind>): FaultRuleState<Rule> {
  const s = l.states[0];
  if (s === undefined) throw new Error('no rule');
  return s;
}

/** `n` candidates of the first rule: whether it fired on each. */
function run(l: FaultRuleList<Rule, Kind>, n: number): boolean[] {
  const s = first(l);
  return Array.from({ length: n }, () => l.fires(s, s.rule, s.rule.kind));
}

describe(FaultRuleList, () => {
  describe('ids', () => {
    it('should number automatic ids from 1 with the prefix, never going back', () => {
      const l = list();
      expect(l.add(drop)).toBe('wire-1');
      expect(l.add(delay)).toBe('wire-2');
      expect(l.remove('wire-2')).toBe(true);
      l.clear();
      expect(l.add(drop)).toBe('wire-3');
      expect(l.add(drop, 'mine')).toBe('mine');
      expect(ids(l)).toEqual(['wire-3', 'mine']);
    });

    it('should skip the automatic ids rules already have', () => {
      const l = list();
      l.add(drop, 'wire-1');
      l.add(drop, 'wire-2');
      expect(l.add(drop)).toBe('wire-3');
      l.add(drop, 'wire-5');
      expect(l.add(drop)).toBe('wire-4');
      expect(l.add(drop)).toBe('wire-6');
    });

    it('should refuse a taken id with the error the factory builds, given the field, adding nothing', () => {
      const l = list();
      l.add(drop, 'a');
      let error: unknown;
      try {
        l.add(delay, 'a', 'rules[3]');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DuplicateIdError);
      expect(error).toMatchObject({ id: 'a', field: 'rules[3]' });
      expect(() => l.add(delay, 'a')).toThrow(new DuplicateIdError('a', undefined));
      expect(l.rules).toEqual([{ kind: 'drop', id: 'a' }]);
      // Nor did a refused rule use up an automatic number.
      expect(l.add(drop)).toBe('wire-1');
    });

    it('should remove by id, telling whether there was one', () => {
      const l = list();
      l.add(drop, 'a');
      l.add(delay, 'b');
      l.add(drop, 'c');
      expect(l.remove('b')).toBe(true);
      expect(l.remove('b')).toBe(false);
      expect(l.remove('zzz')).toBe(false);
      expect(ids(l)).toEqual(['a', 'c']);
      expect(l.add(delay, 'b')).toBe('b');
    });

    it('should clear every rule, keeping the counts', () => {
      const l = list();
      expect(l.isEmpty).toBe(true);
      l.add(drop);
      l.add(delay);
      expect(l.isEmpty).toBe(false);
      run(l, 1);
      l.clear();
      expect(l.isEmpty).toBe(true);
      expect(l.states).toEqual([]);
      expect(l.rules).toEqual([]);
      expect(l.counts).toEqual({ drop: 1, delay: 0 });
    });
  });

  describe('set', () => {
    it('should replace every rule, the replaced ids free again, automatic ids around the ids the list names', () => {
      const l = list();
      l.add(drop, 'keep');
      l.set([{ rule: drop }, { rule: delay, id: 'wire-1' }, { rule: drop, id: 'keep' }]);
      expect(ids(l)).toEqual(['wire-2', 'wire-1', 'keep']);
      expect(l.states.map((s) => s.rule)).toEqual([drop, delay, drop]);
      l.set([]);
      expect(l.isEmpty).toBe(true);
    });

    it('should change nothing, numbering included, when two entries have one id', () => {
      const l = list();
      l.add(drop, 'keep');
      const before = l.states;
      let error: unknown;
      try {
        l.set([
          { rule: drop },
          { rule: drop, id: 'a', field: 'rules[1]' },
          { rule: delay, id: 'a', field: 'rules[2]' },
        ]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DuplicateIdError);
      expect(error).toMatchObject({ id: 'a', field: 'rules[2]' });
      expect(l.states).toBe(before);
      expect(ids(l)).toEqual(['keep']);
      expect(l.add(drop)).toBe('wire-1');
    });

    it('should start the new rules from nothing seen or fired', () => {
      const l = list();
      l.add({ kind: 'drop', nth: 1 }, 'a');
      expect(run(l, 1)).toEqual([true]);
      l.set([{ rule: { kind: 'drop', nth: 1 }, id: 'a' }]);
      expect(first(l)).toMatchObject({ seen: 0, fired: 0 });
      expect(run(l, 2)).toEqual([true, false]);
    });
  });

  describe('rules', () => {
    it('should give copies with their ids, sharing the fields unless copyFields names them', () => {
      const match = { channel: 1 };
      const shared = list();
      shared.add({ kind: 'drop', match });
      const [plain] = shared.rules;
      expect(plain).toEqual({ kind: 'drop', match: { channel: 1 }, id: 'wire-1' });
      expect(plain?.match).toBe(match);
      expect(first(shared).rule).not.toHaveProperty('id');

      const copied = list({ copyFields: ['match'] });
      copied.add({ kind: 'drop', match });
      copied.add({ kind: 'delay' }, 'no-match');
      const [deep, none] = copied.rules;
      expect(deep).toEqual({ kind: 'drop', match: { channel: 1 }, id: 'wire-1' });
      expect(deep?.match).not.toBe(match);
      expect(none).toEqual({ kind: 'delay', id: 'no-match' });
      expect(none).not.toHaveProperty('match');
    });
  });

  describe('fires', () => {
    it('should fire on every match without a gate, counting seen, fired and the kind', () => {
      const l = list();
      l.add(drop);
      l.add(delay);
      expect(run(l, 3)).toEqual([true, true, true]);
      expect(first(l)).toMatchObject({ seen: 3, fired: 3 });
      expect(l.counts).toEqual({ drop: 3, delay: 0 });
      const second = l.states[1];
      if (second === undefined) throw new Error('no second rule');
      expect(l.fires(second, second.rule, 'delay')).toBe(true);
      expect(l.counts).toEqual({ drop: 3, delay: 1 });
    });

    it('should fire on the nth match only, counting the matches it did not fire on', () => {
      const l = list();
      l.add({ kind: 'drop', nth: 3 });
      expect(run(l, 5)).toEqual([false, false, true, false, false]);
      expect(first(l)).toMatchObject({ seen: 5, fired: 1 });
      expect(l.counts.drop).toBe(1);
    });

    it('should fire at most times times', () => {
      const l = list();
      l.add({ kind: 'drop', times: 2 });
      expect(run(l, 4)).toEqual([true, true, false, false]);
      expect(first(l)).toMatchObject({ seen: 4, fired: 2 });
      expect(l.counts.drop).toBe(2);
    });

    it('should fire only on a draw below the probability, drawing only past nth and times', () => {
      const draws = [0.5, 0.1, 0.69, 0.7, 0.2];
      let drawn = 0;
      const l = list({
        random: () => {
          const v = draws[drawn++];
          if (v === undefined) throw new Error('drew too often');
          return v;
        },
      });
      l.add({ kind: 'drop', probability: 0.7 });
      expect(run(l, 4)).toEqual([true, true, true, false]);
      expect(first(l)).toMatchObject({ seen: 4, fired: 3 });
      l.add({ kind: 'delay', nth: 2, probability: 1 }, 'nth');
      const nth = l.states[1];
      if (nth === undefined) throw new Error('no second rule');
      expect(l.fires(nth, nth.rule, 'delay')).toBe(false); // not the 2nd: no draw
      expect(drawn).toBe(4);
      expect(l.fires(nth, nth.rule, 'delay')).toBe(true);
      expect(drawn).toBe(5);
      expect(l.counts).toEqual({ drop: 3, delay: 1 });
    });

    it('should not read probability when the list has no random', () => {
      const l = list();
      l.add({ kind: 'drop', probability: 0 });
      expect(run(l, 2)).toEqual([true, true]);
    });

    it('should count a match it lets not fire with see, which nth counts too', () => {
      const l = list();
      l.add({ kind: 'drop', nth: 2 });
      l.see(first(l));
      expect(first(l)).toMatchObject({ seen: 1, fired: 0 });
      expect(run(l, 2)).toEqual([true, false]);
      expect(l.counts.drop).toBe(1);
    });
  });

  describe('withdraw', () => {
    it('should take a firing back: the times rule fires again, the kind counts one less, the match stays seen', () => {
      const l = list();
      l.add({ kind: 'drop', times: 1 });
      expect(run(l, 1)).toEqual([true]);
      l.withdraw(first(l), 'drop');
      expect(first(l)).toMatchObject({ seen: 1, fired: 0 });
      expect(l.counts.drop).toBe(0);
      expect(run(l, 2)).toEqual([true, false]);
      expect(l.counts.drop).toBe(1);
    });

    it('should do nothing for a rule that has not fired', () => {
      const l = list();
      l.add(drop);
      l.withdraw(first(l), 'drop');
      expect(first(l)).toMatchObject({ seen: 0, fired: 0 });
      expect(l.counts.drop).toBe(0);
    });
  });

  describe('counts', () => {
    it('should list every kind from 0, in order, as a copy', () => {
      const l = list();
      expect(Object.keys(l.counts)).toEqual(['drop', 'delay']);
      expect(l.counts).toEqual({ drop: 0, delay: 0 });
      l.add({ kind: 'delay', times: 1 });
      run(l, 2);
      const counts = l.counts as Record<Kind, number>;
      counts.delay = 99;
      expect(l.counts).toEqual({ drop: 0, delay: 1 });
      l.remove('wire-1');
      expect(l.counts).toEqual({ drop: 0, delay: 1 });
    });
  });
});
