import { mulberry32, mulberry32Mix } from '../src/random/mulberry32.js';

describe(mulberry32, () => {
  it('should give the same sequence for the same seed, in [0, 1)', () => {
    const a = mulberry32(42);
    expect([a(), a()]).toEqual([0.6011037519201636, 0.44829055899754167]);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 1000 }, () => b());
    expect(xs.slice(0, 2)).toEqual([0.6011037519201636, 0.44829055899754167]);
    expect(c()).not.toBe(0.6011037519201636);
    for (const x of xs) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    // Not stuck: a thousand draws spread over the interval.
    expect(new Set(xs).size).toBe(1000);
    expect(Math.min(...xs)).toBeLessThan(0.01);
    expect(Math.max(...xs)).toBeGreaterThan(0.99);
  });

  it('should cut the seed to an unsigned 32-bit integer', () => {
    expect(mulberry32(-1)()).toBe(mulberry32(0xffffffff)());
    expect(mulberry32(1.5)()).toBe(mulberry32(1)());
    expect(mulberry32(2 ** 32 + 7)()).toBe(mulberry32(7)());
  });

  it('should draw each value through mulberry32Mix of its state', () => {
    const r = mulberry32(42);
    expect(r()).toBe(mulberry32Mix((42 + 0x6d2b79f5) >>> 0));
    expect(r()).toBe(mulberry32Mix((42 + 2 * 0x6d2b79f5) >>> 0));
  });
});
