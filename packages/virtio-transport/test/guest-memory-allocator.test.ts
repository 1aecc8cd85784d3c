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
    });

    it('should refuse non-positive sizes', () => {
      expect(() => new GuestMemoryAllocator(0, 32).allocate(0)).toThrow(RangeError);
    });
  });

  it('should refuse a misaligned region', () => {
    expect(() => new GuestMemoryAllocator(4, 32)).toThrow(RangeError);
    expect(() => new GuestMemoryAllocator(0, 30)).toThrow(RangeError);
  });

  it('should never hand out overlapping buffers, whatever the sequence', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 40 })), { maxLength: 80 }),
        (ops) => {
          const m = new GuestMemoryAllocator(0, 512);
          const live = new Map<number, number>();
          for (const [alloc, size] of ops) {
            if (alloc || live.size === 0) {
              try {
                const addr = m.allocate(size);
                for (const [a, s] of live) if (addr < a + s && a < addr + size) return false;
                live.set(addr, size);
              } catch (e) {
                if (!ScmiTransportError.is(e)) throw e;
              }
            } else {
              const [addr] = live.keys();
              m.free(addr as number);
              live.delete(addr as number);
            }
          }
          for (const addr of live.keys()) m.free(addr);
          return m.allocations === 0 && m.allocate(512) === 0;
        },
      ),
    );
  });
});
