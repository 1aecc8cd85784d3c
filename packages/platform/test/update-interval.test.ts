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
    [655_355, { sec: 65_535, exponent: -5 }], // rounds past the field by one: 0xFFFF, 5 µs off
    [655_365, { sec: 6_554, exponent: -4 }], // 65 536.5 units: the next exponent is nearer
  ])('should give %d µs the wire form nearest to it', (us, wire) => {
    expect(intervalToWireNearest(us)).toEqual(wire);
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
