import fc from 'fast-check';
import { TokenAllocator } from '@scmi-ts/core';

describe(TokenAllocator, () => {
  it('should hand out tokens monotonically from 0, wrapping at 1024', () => {
    const tokens = new TokenAllocator();
    const seen: number[] = [];
    for (let i = 0; i < 1030; i++) {
      const t = tokens.allocate();
      seen.push(t);
      tokens.free(t);
    }
    expect(seen.slice(0, 3)).toEqual([0, 1, 2]);
    expect(seen.slice(1022, 1027)).toEqual([1022, 1023, 0, 1, 2]);
  });

  it('should skip tokens in flight and refuse when all 1024 are in flight', () => {
    const tokens = new TokenAllocator();
    const all = Array.from({ length: 1024 }, () => tokens.allocate());
    expect(new Set(all).size).toBe(1024);
    expect(() => tokens.allocate()).toThrow(RangeError);
    tokens.free(5);
    tokens.free(5); // freeing twice is a no-op
    expect(tokens.inFlight).toBe(1023);
    expect(tokens.allocate()).toBe(5);
  });

  it('should, for any sequence of allocations and frees, give the next free token after the last one used', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant('alloc' as const), fc.nat(1023)), { maxLength: 400 }),
        (ops) => {
          const tokens = new TokenAllocator();
          const inFlight = new Set<number>();
          let last = 1023;
          for (const op of ops) {
            if (op === 'alloc') {
              if (inFlight.size === 1024) continue;
              let expected = (last + 1) % 1024;
              while (inFlight.has(expected)) expected = (expected + 1) % 1024;
              const t = tokens.allocate();
              expect(t).toBe(expected);
              inFlight.add(t);
              last = t;
            } else {
              tokens.free(op);
              inFlight.delete(op);
            }
            expect(tokens.inFlight).toBe(inFlight.size);
            expect(tokens.isInFlight(last)).toBe(inFlight.has(last));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('should go on with a sequence it shares with an earlier allocator, and keep its own tokens in flight', () => {
    const sequence = { last: 1023 };
    const first = new TokenAllocator(sequence);
    expect([first.allocate(), first.allocate(), first.allocate()]).toEqual([0, 1, 2]);
    const next = new TokenAllocator(sequence);
    expect(next.allocate()).toBe(3);
    expect(next.inFlight).toBe(1);
    expect(first.inFlight).toBe(3);
    expect(sequence.last).toBe(3);
    // A sequence of its own by default, from 0.
    expect(new TokenAllocator().allocate()).toBe(0);
  });
});
