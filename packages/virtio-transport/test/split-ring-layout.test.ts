import fc from 'fast-check';
import {
  isQueueSize,
  splitRingBytes,
  splitRingLayout,
  vringNeedEvent,
} from '../src/layout/split-ring-layout.js';

describe(splitRingLayout, () => {
  it('should lay the three areas out as the specification aligns them', () => {
    const ring = splitRingLayout(0x100, 256);
    expect(ring).toEqual({
      size: 256,
      desc: 0x100,
      avail: 0x100 + 16 * 256,
      used: 0x100 + 16 * 256 + 6 + 2 * 256 + 2, // avail end, aligned to 4
      end: 0x100 + 16 * 256 + 6 + 2 * 256 + 2 + 6 + 8 * 256,
    });
    expect(ring.used % 4).toBe(0);
    // The values the TSDoc example of splitRingLayout shows.
    expect([ring.desc, ring.avail, ring.used, ring.end]).toEqual([0x100, 0x1100, 0x1308, 0x1b0e]);
  });

  it('should keep every area aligned for any queue size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), fc.nat(1000), (log2, base16) => {
        const ring = splitRingLayout(base16 * 16, 1 << log2);
        return (
          ring.desc % 16 === 0 &&
          ring.avail % 2 === 0 &&
          ring.used % 4 === 0 &&
          ring.avail >= ring.desc + 16 * ring.size &&
          ring.used >= ring.avail + 6 + 2 * ring.size
        );
      }),
    );
  });

  it('should give the bytes of a ring region', () => {
    expect(splitRingBytes(4)).toBe(splitRingLayout(0, 4).end);
    expect(splitRingBytes(256)).toBe(16 * 256 + (6 + 2 * 256 + 2) + (6 + 8 * 256)); // its example
  });

  describe('when the size is not a power of two or too large', () => {
    it.each([0, 3, 100, 65536, 1.5])('should throw a RangeError for %p', (size) => {
      expect(() => splitRingLayout(0, size)).toThrow(RangeError);
    });
  });

  describe('when the base is not 16-aligned', () => {
    it.each([8, 4, 20])('should throw a RangeError for %p', (base) => {
      expect(() => splitRingLayout(base, 4)).toThrow(RangeError);
      expect(() => splitRingLayout(base, 4)).toThrow(/16-aligned/);
    });
  });
});

describe(isQueueSize, () => {
  it('should accept powers of two up to 32768 only', () => {
    expect([1, 2, 64, 32768].every(isQueueSize)).toBe(true);
    expect([0, 6, 65536, -2, '4', 2.5].some(isQueueSize)).toBe(false);
  });
});

describe(vringNeedEvent, () => {
  it('should notify exactly when the index crosses the event index, wrapping at 2^16', () => {
    expect(vringNeedEvent(5, 6, 5)).toBe(true);
    expect(vringNeedEvent(9, 6, 5)).toBe(false);
    expect(vringNeedEvent(0xffff, 1, 0xfffe)).toBe(true);
    expect(vringNeedEvent(0xfffe, 0, 0xffff)).toBe(false);
  });

  it('should agree with "event is in [old, new)" for any small step', () => {
    fc.assert(
      fc.property(
        fc.nat(0xffff),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 400 }),
        (old, step, offset) => {
          const now = (old + step) & 0xffff;
          const event = (old + offset) & 0xffff;
          return vringNeedEvent(event, now, old) === offset < step;
        },
      ),
    );
  });
});
