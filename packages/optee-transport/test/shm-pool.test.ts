import fc from 'fast-check';
import { ShmPool } from '../src/driver/shm-pool.js';

describe(ShmPool, () => {
  it('should allocate 8-aligned blocks first fit and merge freed neighbours', () => {
    const pool = new ShmPool(64, 64);
    const a = pool.alloc(10);
    const b = pool.alloc(8);
    const c = pool.alloc(30);
    expect([a, b, c]).toEqual([64, 80, 88]);
    expect(pool.alloc(16)).toBeUndefined();
    pool.free(80);
    pool.free(64);
    expect(pool.alloc(24)).toBe(64);
    pool.free(88);
    pool.free(64);
    pool.free(1234);
    expect(pool.used).toBe(0);
    expect(pool.alloc(64)).toBe(64);
  });

  it('should take the first free block that fits, past blocks too small, not the smallest one', () => {
    const pool = new ShmPool(0, 96);
    const a = pool.alloc(8); // [0, 8)
    expect(pool.alloc(8)).toBe(8);
    const c = pool.alloc(40); // [16, 56)
    expect(pool.alloc(8)).toBe(56);
    pool.free(a as number);
    pool.free(c as number);
    // Free, by offset: [0, 8), [16, 56) and [64, 96).
    expect(pool.alloc(20)).toBe(16); // 24 bytes: [0, 8) is too small, [64, 96) comes later
    expect(pool.alloc(32)).toBe(64); // [0, 8) and [40, 56) are too small
    expect(pool.alloc(16)).toBe(40);
    expect(pool.alloc(5)).toBe(0);
    expect(pool.used).toBe(96);
    expect(pool.alloc(1)).toBeUndefined();
  });

  it('should allocate from a later free block when the first one is too small', () => {
    const pool = new ShmPool(64, 64);
    const a = pool.alloc(8);
    expect([pool.alloc(16), pool.alloc(16)]).toEqual([72, 88]);
    pool.free(a as number);
    // Free: [64, 72) and [104, 128).
    expect(pool.alloc(16)).toBe(104);
  });

  it('should never hand out overlapping blocks, fail only when no free block fits, and get everything back', () => {
    const size = 512;
    fc.assert(
      fc.property(
        // Two allocations for each free, of a live block picked at random: the pool fills up and
        // fragments, so that allocations fail both for want of space and for want of a block.
        fc.array(fc.tuple(fc.nat({ max: 2 }), fc.integer({ min: 1, max: 100 }), fc.nat()), {
          maxLength: 100,
          size: 'max',
        }),
        (ops) => {
          const pool = new ShmPool(0, size);
          // The model: live blocks by offset, each taking its size rounded up to 8.
          const live = new Map<number, number>();
          let used = 0;
          /**
           * Where the first free block of at least `want` bytes starts (the gaps between live
           * blocks: freed neighbours merged), or undefined when there is none.
           */
          const firstFit = (want: number): number | undefined => {
            let at = 0;
            for (const [o, s] of [...live].sort(([x], [y]) => x - y)) {
              if (o - at >= want) return at;
              at = o + s;
            }
            return size - at >= want ? at : undefined;
          };
          for (const [op, n, pick] of ops) {
            if (op > 0 || live.size === 0) {
              const want = Math.ceil(n / 8) * 8;
              // First fit: the lowest free block large enough, or undefined when none is.
              const fit = firstFit(want);
              const at = pool.alloc(n);
              if (at !== fit) return false;
              if (at === undefined) continue;
              // Not overlapping a live block, aligned, inside the pool.
              for (const [o, s] of live) if (at < o + s && o < at + want) return false;
              if (at % 8 !== 0 || at + want > size) return false;
              live.set(at, want);
              used += want;
            } else {
              const o = [...live.keys()][pick % live.size] as number;
              pool.free(o);
              used -= live.get(o) as number;
              live.delete(o);
            }
            if (pool.used !== used) return false;
          }
          for (const o of live.keys()) pool.free(o);
          return pool.used === 0 && pool.alloc(size) === 0;
        },
      ),
    );
  });
});
