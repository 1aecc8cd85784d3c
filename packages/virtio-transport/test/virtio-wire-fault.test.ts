import { fieldOfConfigError } from '../../core/test/support/code-of.js';
import { ScmiConfigError, mulberry32 } from '@scmi-ts/core';
import { VirtioWireFaultInjector, type VirtioWireFaultRule } from '@scmi-ts/virtio-transport';

describe(VirtioWireFaultInjector, () => {
  it('should fire on the n-th candidate only', () => {
    const f = new VirtioWireFaultInjector(mulberry32(1));
    f.add({ kind: 'used-len-oversize', nth: 2 });
    expect([1, 2, 3].map(() => f.fire('used-len-oversize') !== undefined)).toEqual([
      false,
      true,
      false,
    ]);
    expect(f.counts['used-len-oversize']).toBe(1);
    expect(f.fire('used-idx-jump')).toBeUndefined();
  });

  it('should fire at most `times` times', () => {
    const f = new VirtioWireFaultInjector(mulberry32(1));
    const id = f.add({ kind: 'event-oversize', times: 2 });
    expect(id).toBe('wire-1');
    expect([1, 2, 3].map(() => f.fire('event-oversize') !== undefined)).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('should draw probabilities from the seed: same seed, same faults', () => {
    const run = (seed: number): boolean[] => {
      const f = new VirtioWireFaultInjector(mulberry32(seed));
      f.add({ kind: 'used-id-not-in-flight', probability: 0.5 });
      return Array.from({ length: 32 }, () => f.fire('used-id-not-in-flight') !== undefined);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7).filter(Boolean).length).toBeGreaterThan(4);
    expect(run(7)).not.toEqual(run(8));
  });

  it('should replace, list and clear rules', () => {
    const f = new VirtioWireFaultInjector(mulberry32(1));
    f.set([
      { id: 'a', kind: 'used-idx-jump' },
      { kind: 'used-id-out-of-range', withhold: true },
    ]);
    expect(f.rules.map((r) => r.id)).toEqual(['a', 'wire-1']);
    expect(f.has('used-idx-jump')).toBe(true);
    f.clear();
    expect(f.has('used-idx-jump')).toBe(false);
  });

  it.each<[object, string]>([
    [{ kind: 'nope' }, 'rule.kind'],
    [{ kind: 'used-idx-jump', nth: 0 }, 'rule.nth'],
    [{ kind: 'used-idx-jump', times: 1.5 }, 'rule.times'],
    [{ kind: 'used-idx-jump', probability: 2 }, 'rule.probability'],
    [{ kind: 'used-idx-jump', restoreAfterMs: -1 }, 'rule.restoreAfterMs'],
    [{ kind: 'used-idx-jump', restoreAfterMs: Infinity }, 'rule.restoreAfterMs'],
    [{ kind: 'used-len-oversize', restoreAfterMs: 1 }, 'rule.restoreAfterMs'],
    [{ kind: 'used-idx-jump', withhold: true }, 'rule.withhold'],
    [{ kind: 'used-id-out-of-range', withhold: 'yes' }, 'rule.withhold'],
    [{ kind: 'used-id-out-of-range', withhold: 1 }, 'rule.withhold'],
    [{ kind: 'used-idx-jump', nth: '2' }, 'rule.nth'],
    [{ kind: 'used-idx-jump', times: true }, 'rule.times'],
    [{ kind: 'used-idx-jump', probability: '0.5' }, 'rule.probability'],
    [{ kind: 'used-idx-jump', restoreAfterMs: '5' }, 'rule.restoreAfterMs'],
    [{ id: 7, kind: 'used-idx-jump' }, 'rule.id'],
    [{ id: '', kind: 'used-idx-jump' }, 'rule.id'],
    [{ kind: 7 }, 'rule.kind'],
  ])('should reject %p naming %s, and add nothing', (rule, field) => {
    const f = new VirtioWireFaultInjector(mulberry32(1));
    f.add({ id: 'keep', kind: 'event-oversize' });
    expect(() => f.add(rule as never)).toThrow(
      expect.objectContaining({ field }) as ScmiConfigError,
    );
    expect(() => {
      f.set([rule as never]);
    }).toThrow(expect.objectContaining({ field: field.replace(/^rule/, 'rules[0]') }) as Error);
    expect(f.rules).toEqual([{ id: 'keep', kind: 'event-oversize' }]);
  });

  it.each([null, undefined, 'used-idx-jump', 3, ['used-idx-jump']])(
    'should refuse the rule %p with an ScmiConfigError naming it, not a TypeError',
    (rule) => {
      const f = new VirtioWireFaultInjector(mulberry32(1));
      expect(fieldOfConfigError(() => f.add(rule as never))).toBe('rule');
      expect(
        fieldOfConfigError(() => {
          f.set([{ kind: 'used-idx-jump' }, rule as never]);
        }),
      ).toBe('rules[1]');
      expect(f.rules).toEqual([]);
    },
  );

  it('should refuse a rule list that is not an array naming rules', () => {
    const f = new VirtioWireFaultInjector(mulberry32(1));
    expect(fieldOfConfigError(() => f.set(null as never))).toBe('rules');
    expect(fieldOfConfigError(() => f.set({ kind: 'used-idx-jump' } as never))).toBe('rules');
  });

  describe('rule ids', () => {
    it('should refuse an id already in use naming rule.id, keeping the rules', () => {
      const f = new VirtioWireFaultInjector(mulberry32(1));
      f.add({ id: 'x', kind: 'used-len-oversize' });
      let e: unknown;
      try {
        f.add({ id: 'x', kind: 'used-idx-jump' });
      } catch (err) {
        e = err;
      }
      expect(ScmiConfigError.is(e)).toBe(true);
      expect(e).toMatchObject({ code: 'E_CONFIG', field: 'rule.id' });
      expect(f.rules).toEqual([{ id: 'x', kind: 'used-len-oversize' }]);
      expect(f.has('used-idx-jump')).toBe(false);
    });

    it('should refuse a list with one id twice naming rules[i].id, replacing nothing', () => {
      const f = new VirtioWireFaultInjector(mulberry32(1));
      f.add({ id: 'keep', kind: 'event-oversize' });
      expect(
        fieldOfConfigError(() => {
          f.set([
            { id: 'a', kind: 'used-len-oversize' },
            { id: 'a', kind: 'used-idx-jump' },
          ]);
        }),
      ).toBe('rules[1].id');
      expect(f.rules.map((r) => r.id)).toEqual(['keep']);
      // The refused list took no automatic id either.
      expect(f.add({ kind: 'used-idx-jump' })).toBe('wire-1');
    });

    it('should let set() reuse the ids of the rules it replaces', () => {
      const f = new VirtioWireFaultInjector(mulberry32(1));
      f.add({ id: 'a', kind: 'event-oversize' });
      f.set([{ id: 'a', kind: 'used-len-oversize' }]);
      expect(f.rules).toEqual([{ id: 'a', kind: 'used-len-oversize' }]);
    });

    it("should give set()'s automatic ids around the ids its list names, wherever they stand", () => {
      const f = new VirtioWireFaultInjector(mulberry32(1));
      f.set([{ kind: 'used-idx-jump' }, { id: 'wire-1', kind: 'event-oversize' }]);
      expect(f.rules.map((r) => r.id)).toEqual(['wire-2', 'wire-1']);
    });

    it('should skip an automatic id a rule already has', () => {
      const f = new VirtioWireFaultInjector(mulberry32(1));
      f.add({ id: 'wire-1', kind: 'event-oversize' });
      expect(f.add({ kind: 'used-idx-jump' })).toBe('wire-2');
      expect(f.rules.map((r) => r.id)).toEqual(['wire-1', 'wire-2']);
    });
  });

  describe('when the caller changes a rule after adding it', () => {
    it('should keep the checked copy made by add()', () => {
      const f = new VirtioWireFaultInjector(mulberry32(1));
      const rule: { -readonly [K in keyof VirtioWireFaultRule]: VirtioWireFaultRule[K] } = {
        kind: 'used-len-oversize',
        nth: 2,
      };
      f.add(rule);
      rule.nth = -1;
      rule.kind = 'used-idx-jump';
      expect(f.rules).toEqual([{ id: 'wire-1', kind: 'used-len-oversize', nth: 2 }]);
      expect(f.has('used-idx-jump')).toBe(false);
      expect([1, 2, 3].map(() => f.fire('used-len-oversize') !== undefined)).toEqual([
        false,
        true,
        false,
      ]);
    });

    it('should keep the checked copies made by set()', () => {
      const f = new VirtioWireFaultInjector(mulberry32(1));
      const rule: { -readonly [K in keyof VirtioWireFaultRule]: VirtioWireFaultRule[K] } = {
        kind: 'used-id-out-of-range',
        withhold: true,
      };
      f.set([rule]);
      rule.withhold = 'yes' as unknown as boolean;
      expect(f.fire('used-id-out-of-range')?.withhold).toBe(true);
    });

    it('should hand out rules whose changes do not reach the injector', () => {
      const f = new VirtioWireFaultInjector(mulberry32(1));
      f.add({ kind: 'used-len-oversize', times: 1 });
      (f.rules[0] as { times?: number }).times = 5;
      expect(f.rules[0]?.times).toBe(1);
    });
  });
});
