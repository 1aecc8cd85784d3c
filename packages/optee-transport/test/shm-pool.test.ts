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

  it('should never hand out overlapping blocks, and get everything back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 100 })), { maxLength: 60 }),
        (ops) => {
          const pool = new ShmPool(0, 512);
          const live = new Map<number, number>();
          for (const [alloc, size] of ops) {
            if (alloc || live.size === 0) {
              const at = pool.alloc(size);
              if (at === undefined) continue;
              for (const [o, s] of live) expect(at + size <= o || o + s <= at).toBe(true);
              expect(at % 8).toBe(0);
              expect(at + size).toBeLessThanOrEqual(512);
              live.set(at, size);
            } else {
              const first = live.keys().next().value as number;
              pool.free(first);
              live.delete(first);
            }
          }
          for (const o of live.keys()) pool.free(o);
          expect(pool.alloc(512)).toBe(0);
        },
      ),
    );
  });
});
