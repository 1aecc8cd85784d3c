import {
  intervalFromWire,
  intervalToWire,
  intervalToWireNearest,
} from '../src/protocols/sensor/update-interval.js';

describe(intervalToWireNearest, () => {
  it.each([
    [10_100, { sec: 101, exponent: -4 }], // exact: trailing zeros folded
    [65_535, { sec: 65_535, exponent: -6 }], // exact at the field's limit
    [65_725, { sec: 6_573, exponent: -5 }], // no exact form: half up at 10 µs
    [65_536, { sec: 65_535, exponent: -6 }], // 1 µs off; 6 554 × 10⁻⁵ s would be 4
    [65_537, { sec: 65_535, exponent: -6 }], // 2 µs off; 6 554 × 10⁻⁵ s would be 3
    [65_538, { sec: 6_554, exponent: -5 }], // 2 µs off either way: the coarser, half up
    [655_355, { sec: 65_535, exponent: -5 }], // rounds past the field by one: 0xFFFF, 5 µs off
    [655_365, { sec: 65_535, exponent: -5 }], // 15 µs off; 6 554 × 10⁻⁴ s would be 35
  ])('should give %d µs the wire form nearest to it', (us, wire) => {
    expect(intervalToWireNearest(us)).toEqual(wire);
  });

  it('should be no further from the interval than any wire form the field holds', () => {
    const candidates = (us: number): number[] => {
      const values: number[] = [];
      for (let e = -6; e <= 0; e++) {
        const unit = 10 ** (e + 6);
        for (const sec of [Math.floor(us / unit), Math.ceil(us / unit), 0xffff]) {
          if (sec >= 1 && sec <= 0xffff) values.push(sec * unit);
        }
      }
      return values;
    };
    for (let us = 60_000; us < 8_000_000; us += 37) {
      const w = intervalToWireNearest(us);
      const error = Math.abs(intervalFromWire(w.sec, w.exponent) - us);
      const best = Math.min(...candidates(us).map((v) => Math.abs(v - us)));
      if (error !== best) throw new Error(`${us} µs: ${error} µs off, ${best} possible`);
    }
  });

  it('should fit the 16-bit field and be exact whenever an exact form exists', () => {
    for (let us = 1; us < 3_000_000; us += 997) {
      const w = intervalToWireNearest(us);
      expect(w.sec).toBeLessThanOrEqual(0xffff);
      const exact = intervalToWire(us);
      if (exact !== undefined) expect(w).toEqual(exact);
      else
        expect(Math.abs(intervalFromWire(w.sec, w.exponent) - us)).toBeLessThanOrEqual(us / 13_000); // half a unit of ≥ 6 553
    }
  });
});
