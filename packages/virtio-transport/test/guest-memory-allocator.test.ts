import { ScmiTransportError } from '@scmi-ts/core';
import fc from 'fast-check';
import { GuestMemoryAllocator } from '../src/memory/guest-memory-allocator.js';

describe(GuestMemoryAllocator, () => {
  it('should allocate 8-aligned buffers inside the region, first fit', () => {
    const m = new GuestMemoryAllocator(1024, 256);
    const a = m.allocate(13);
    const b = m.allocate(8);
    expect(a).toBe(1024);
    expect(b).toBe(1040);
    expect(m.allocations).toBe(2);
    expect(m.allocatedBytes).toBe(24);
    expect(m.contains(a, 13)).toBe(true);
    expect(m.contains(1270, 16)).toBe(false);
  });

  it('should merge freed neighbours so the region can be allocated whole again', () => {
    const m = new GuestMemoryAllocator(0, 64);
    const a = m.allocate(16);
    const b = m.allocate(16);
    const c = m.allocate(32);
    m.free(b);
    m.free(a);
    m.free(c);
    expect(m.allocate(64)).toBe(0);
  });

  describe('.free', () => {
    it('should throw E_VIRTIO_BAD_FREE on a double free', () => {
      const m = new GuestMemoryAllocator(0, 64);
      const a = m.allocate(8);
      m.free(a);
      expect(() => {
        m.free(a);
      }).toThrow(expect.objectContaining({ code: 'E_VIRTIO_BAD_FREE' }) as Error);
    });
  });

  describe('.allocate', () => {
    it('should throw E_VIRTIO_NOMEM when nothing fits', () => {
      const m = new GuestMemoryAllocator(0, 32);
      m.allocate(24);
      expect(() => m.allocate(16)).toThrow(ScmiTransportError);
      expect(() => m.allocate(16)).toThrow(
        expect.objectContaining({ code: 'E_VIRTIO_NOMEM' }) as Error,
      );
      // The 8 bytes left still serve a request that fits them.
      expect(m.allocate(8)).toBe(24);
    });

    it('should take the first free range that fits, past ranges too small, not the smallest one', () => {
      const m = new GuestMemoryAllocator(0, 96);
      const a = m.allocate(8); // [0, 8)
      expect(m.allocate(8)).toBe(8);
      const c = m.allocate(40); // [16, 56)
      expect(m.allocate(8)).toBe(56);
      m.free(a);
      m.free(c);
      // Free, in address order: [0, 8), [16, 56) and [64, 96).
      expect(m.allocate(20)).toBe(16); // 24 bytes: [0, 8) is too small, [64, 96) comes later
      expect(m.allocate(32)).toBe(64); // [0, 8) and [40, 56) are too small
      expect(m.allocate(16)).toBe(40);
      expect(m.allocate(5)).toBe(0);
      expect(m.allocatedBytes).toBe(96);
    });

    it('should allocate from a later free range when the first one is too small', () => {
      const m = new GuestMemoryAllocator(0, 64);
      const a = m.allocate(8);
      expect([m.allocate(16), m.allocate(16)]).toEqual([8, 24]);
      m.free(a);
      // Free: [0, 8) and [40, 64).
      expect(m.allocate(16)).toBe(40);
    });

    it('should refuse non-positive sizes', () => {
      expect(() => new GuestMemoryAllocator(0, 32).allocate(0)).toThrow(RangeError);
    });
  });

  it('should refuse a misaligned region', () => {
    expect(() => new GuestMemoryAllocator(4, 32)).toThrow(RangeError);
    expect(() => new GuestMemoryAllocator(0, 30)).toThrow(RangeError);
  });

  it('should never hand out overlapping buffers, and fail only when no free range fits, whatever the sequence', () => {
    const region = 512;
    fc.assert(
      fc.property(
        // Two allocations for each free, of a live buffer picked at random: the region fills up
        // and fragments, so that allocations fail both for want of space and for want of a range.
        fc.array(fc.tuple(fc.nat({ max: 2 }), fc.integer({ min: 1, max: 64 }), fc.nat()), {
          maxLength: 100,
          size: 'max',
        }),
        (ops) => {
          const m = new GuestMemoryAllocator(0, region);
          // The model: live buffers by address, each taking its size rounded up to 8.
          const live = new Map<number, number>();
          let allocated = 0;
          /**
           * Where the first free range of at least `want` bytes starts (the gaps between live
           * buffers: freed neighbours merged), or undefined when there is none.
           */
          const firstFit = (want: number): number | undefined => {
            let at = 0;
            for (const [a, s] of [...live].sort(([x], [y]) => x - y)) {
              if (a - at >= want) return at;
              at = a + s;
            }
            return region - at >= want ? at : undefined;
          };
          for (const [op, size, pick] of ops) {
            if (op > 0 || live.size === 0) {
              const want = Math.ceil(size / 8) * 8;
              const fit = firstFit(want);
              let addr: number;
              try {
                addr = m.allocate(size);
              } catch (e) {
                if (!ScmiTransportError.is(e) || e.code !== 'E_VIRTIO_NOMEM') throw e;
                // E_VIRTIO_NOMEM only when no free range is large enough.
                if (fit !== undefined) return false;
                continue;
              }
              // First fit: the lowest free range large enough; overlapping no live buffer.
              if (addr !== fit) return false;
              for (const [a, s] of live) if (addr < a + s && a < addr + want) return false;
              live.set(addr, want);
              allocated += want;
            } else {
              const addr = [...live.keys()][pick % live.size] as number;
              m.free(addr);
              allocated -= live.get(addr) as number;
              live.delete(addr);
            }
            if (m.allocatedBytes !== allocated || m.allocations !== live.size) return false;
          }
          for (const addr of live.keys()) m.free(addr);
          return m.allocations === 0 && m.allocate(region) === 0;
        },
      ),
    );
  });
});
