import { sensorReading } from '@scmi-ts/platform';

describe(sensorReading, () => {
  it('should follow each generator kind', () => {
    expect(sensorReading({ kind: 'constant', value: 7 }, 123, 1)).toBe(7);
    const ramp = { kind: 'ramp', from: 0, to: 100, periodMs: 1000 } as const;
    expect([0, 250, 999, 1000, 1500].map((t) => sensorReading(ramp, t, 1))).toEqual([
      0, 25, 100, 0, 50,
    ]);
    const sine = { kind: 'sine', offset: 10, amplitude: 10, periodMs: 400 } as const;
    expect([0, 100, 200, 300].map((t) => sensorReading(sine, t, 1))).toEqual([10, 20, 10, 0]);
    expect(sensorReading({ ...sine, phase: 0.25 }, 0, 1)).toBe(20);
    const seq = { kind: 'sequence', values: [1, 2, 3], intervalMs: 10 } as const;
    expect([0, 9, 10, 25, 30].map((t) => sensorReading(seq, t, 1))).toEqual([1, 1, 2, 3, 1]);
  });

  it('should add seeded noise that depends only on the seed and the time', () => {
    const noisy = { kind: 'constant', value: 1000, noise: { amplitude: 50 } } as const;
    const a = [0, 1, 2, 3, 4, 5].map((t) => sensorReading(noisy, t, 42));
    const b = [0, 1, 2, 3, 4, 5].map((t) => sensorReading(noisy, t, 42));
    expect(a).toEqual(b);
    expect(a.every((v) => v >= 950 && v <= 1050)).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(1);
    const c = [0, 1, 2, 3, 4, 5].map((t) => sensorReading(noisy, t, 43));
    expect(c).not.toEqual(a);
    const own = { ...noisy, noise: { amplitude: 50, seed: 9 } };
    expect(sensorReading(own, 3, 1)).toBe(sensorReading(own, 3, 2));
  });

  it('should clamp negative time to zero and never return -0', () => {
    expect(sensorReading({ kind: 'constant', value: -0.2 }, -5, 1)).toBe(0);
    expect(Object.is(sensorReading({ kind: 'constant', value: -0.2 }, 0, 1), 0)).toBe(true);
  });
});
