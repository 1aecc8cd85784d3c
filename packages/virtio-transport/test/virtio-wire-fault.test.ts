import { ScmiConfigError } from '@scmi-ts/core';
import { VirtioWireFaultInjector, createSeededRandom } from '@scmi-ts/virtio-transport';

describe(VirtioWireFaultInjector, () => {
  it('should fire on the n-th candidate only', () => {
    const f = new VirtioWireFaultInjector(createSeededRandom(1));
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
    const f = new VirtioWireFaultInjector(createSeededRandom(1));
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
      const f = new VirtioWireFaultInjector(createSeededRandom(seed));
      f.add({ kind: 'used-id-not-in-flight', probability: 0.5 });
      return Array.from({ length: 32 }, () => f.fire('used-id-not-in-flight') !== undefined);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7).filter(Boolean).length).toBeGreaterThan(4);
    expect(run(7)).not.toEqual(run(8));
  });

  it('should replace, list and clear rules', () => {
    const f = new VirtioWireFaultInjector(createSeededRandom(1));
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
  ])('should reject %p naming %s', (rule, field) => {
    const f = new VirtioWireFaultInjector(createSeededRandom(1));
    expect(() => f.add(rule as never)).toThrow(
      expect.objectContaining({ field }) as ScmiConfigError,
    );
    expect(() => {
      f.set([rule as never]);
    }).toThrow(ScmiConfigError);
  });
});
