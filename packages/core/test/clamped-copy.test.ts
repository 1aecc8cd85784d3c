import { clampedCopy, copyOut } from '../src/transfer/clamped-copy.js';

describe(copyOut, () => {
  const source = Uint8Array.from({ length: 200 }, (_, i) => (i * 7) & 0xff);

  it.each([0, 1, 4, 64, 65, 200])(
    'should return the first %i bytes in an array of their own',
    (length) => {
      const out = copyOut(source, length);
      expect(Array.from(out)).toEqual(Array.from(source.subarray(0, length)));
      // Its own buffer, exactly as long: a caller may read `out.buffer` without `byteOffset`.
      expect(out.byteOffset).toBe(0);
      expect(out.buffer.byteLength).toBe(length);
      expect(out.buffer).not.toBe(source.buffer);
    },
  );

  it('should not change when the source is reused afterwards (the transfer buffer is)', () => {
    const reused = Uint8Array.of(1, 2, 3, 4);
    const out = copyOut(reused, 4);
    reused.fill(9);
    expect(Array.from(out)).toEqual([1, 2, 3, 4]);
  });
});

describe(clampedCopy, () => {
  it('should copy no more than the limit, the source holds, or was asked for', () => {
    const target = new Uint8Array(8);
    const source = Uint8Array.of(1, 2, 3, 4, 5, 6);
    expect(clampedCopy(target, 8, source, 2, 100)).toBe(4);
    expect(Array.from(target.subarray(0, 4))).toEqual([3, 4, 5, 6]);
    expect(clampedCopy(target, 2, source, 0, 6)).toBe(2);
    expect(clampedCopy(target, 8, source, 0, 3)).toBe(3);
  });

  it.each([-1, 1.5, 7, Number.NaN])('should copy nothing from an offset of %s', (offset) => {
    expect(clampedCopy(new Uint8Array(8), 8, Uint8Array.of(1, 2, 3), offset, 3)).toBe(0);
  });
});
