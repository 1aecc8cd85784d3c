import { SplitRing } from '../src/layout/split-ring.js';
import { splitRingLayout } from '../src/layout/split-ring-layout.js';

/**
 * Both ends of every virtqueue go through `SplitRing`, so a field at the wrong offset made the
 * same way on both ends would pass every end-to-end test. These pin each field to the byte offset
 * and width the split-ring layout gives it (virtio 1.x, split-ring.tex; scmi-wire.md §2), read and
 * written with a little-endian `DataView` that knows nothing of `SplitRing`.
 */
describe(SplitRing, () => {
  const Q = 8;
  const BASE = 0x40;

  function setup(): { ring: SplitRing; view: DataView; desc: number; avail: number; used: number } {
    const sab = new SharedArrayBuffer(0x400);
    const layout = splitRingLayout(BASE, Q);
    return {
      ring: new SplitRing(sab, layout),
      view: new DataView(sab),
      desc: layout.desc,
      avail: layout.avail,
      used: layout.used,
    };
  }

  it('should write a descriptor as le64 addr, le32 len, le16 flags, le16 next, 16 bytes each', () => {
    const { ring, view, desc } = setup();
    view.setUint32(desc + 16 * 3 + 4, 0xdeadbeef, true); // a stale high word: writeDesc clears it
    ring.writeDesc(3, 0x12345678, 0x9abc, 0x0003, 0x0007);
    const at = desc + 16 * 3;
    expect(view.getBigUint64(at, true)).toBe(0x12345678n);
    expect(view.getUint32(at + 8, true)).toBe(0x9abc);
    expect(view.getUint16(at + 12, true)).toBe(0x0003);
    expect(view.getUint16(at + 14, true)).toBe(0x0007);
    // Neighbours untouched.
    expect(view.getBigUint64(at - 16, true)).toBe(0n);
    expect(view.getBigUint64(at + 16, true)).toBe(0n);
  });

  it('should read a descriptor written at the specification offsets', () => {
    const { ring, view, desc } = setup();
    const at = desc + 16 * 5;
    view.setUint32(at, 0x00c0ffee, true);
    view.setUint32(at + 4, 0x1, true);
    view.setUint32(at + 8, 136, true);
    view.setUint16(at + 12, 0x0006, true);
    view.setUint16(at + 14, 0x0002, true);
    expect([
      ring.descAddrLow(5),
      ring.descAddrHigh(5),
      ring.descLen(5),
      ring.descFlags(5),
      ring.descNext(5),
    ]).toEqual([0x00c0ffee, 1, 136, 6, 2]);
  });

  it('should lay the available ring out as le16 flags, le16 idx, le16 ring[Q], le16 used_event', () => {
    const { ring, view, avail } = setup();
    ring.storeAvailFlags(1);
    ring.storeAvailIdx(0x1_0005); // free-running: kept modulo 2^16
    ring.writeAvailEntry(0, 0x0a);
    ring.writeAvailEntry(Q - 1, 0x0e);
    ring.storeUsedEvent(0x2_0203);
    expect(view.getUint16(avail, true)).toBe(1);
    expect(view.getUint16(avail + 2, true)).toBe(5);
    expect(view.getUint16(avail + 4, true)).toBe(0x0a);
    expect(view.getUint16(avail + 4 + 2 * (Q - 1), true)).toBe(0x0e);
    expect(view.getUint16(avail + 4 + 2 * Q, true)).toBe(0x0203);
    // And read back from bytes the driver of another implementation would have written.
    view.setUint16(avail + 2, 0xfffe, true);
    view.setUint16(avail + 4 + 2 * 3, 0x0c, true);
    view.setUint16(avail + 4 + 2 * Q, 0x7777, true);
    expect([ring.loadAvailFlags(), ring.loadAvailIdx(), ring.availEntry(3)]).toEqual([
      1, 0xfffe, 0x0c,
    ]);
    expect(ring.loadUsedEvent()).toBe(0x7777);
  });

  it('should lay the used ring out as le16 flags, le16 idx, {le32 id, le32 len}[Q], le16 avail_event', () => {
    const { ring, view, used } = setup();
    ring.storeUsedFlags(1);
    ring.storeUsedIdx(0x1_0009);
    ring.writeUsedElem(0, 4, 12);
    ring.writeUsedElem(Q - 1, 0x0e, 0x01020304);
    ring.storeAvailEvent(0x3_0102);
    expect(view.getUint16(used, true)).toBe(1);
    expect(view.getUint16(used + 2, true)).toBe(9);
    expect(view.getUint32(used + 4, true)).toBe(4);
    expect(view.getUint32(used + 8, true)).toBe(12);
    expect(view.getUint32(used + 4 + 8 * (Q - 1), true)).toBe(0x0e);
    expect(view.getUint32(used + 8 + 8 * (Q - 1), true)).toBe(0x01020304);
    expect(view.getUint16(used + 4 + 8 * Q, true)).toBe(0x0102);
    view.setUint16(used + 2, 0x8001, true);
    view.setUint32(used + 4 + 8 * 2, 6, true);
    view.setUint32(used + 8 + 8 * 2, 0xffffffff, true);
    view.setUint16(used + 4 + 8 * Q, 0x4321, true);
    expect([ring.loadUsedFlags(), ring.loadUsedIdx(), ring.usedId(2), ring.usedLen(2)]).toEqual([
      1, 0x8001, 6, 0xffffffff,
    ]);
    expect(ring.loadAvailEvent()).toBe(0x4321);
  });

  it('should zero exactly its three areas on clear', () => {
    const { ring, view, desc } = setup();
    const layout = ring.layout;
    const bytes = new Uint8Array(view.buffer);
    bytes.fill(0xa5);
    ring.clear();
    // Inside the areas: zero, except the padding between the available and used rings, which
    // belongs to neither (it stays as it was).
    const availEnd = layout.avail + 6 + 2 * Q;
    for (let at = desc; at < layout.end; at++) {
      const padding = at >= availEnd && at < layout.used;
      expect([at, bytes[at]]).toEqual([at, padding ? 0xa5 : 0]);
    }
    expect(bytes[desc - 1]).toBe(0xa5);
    expect(bytes[layout.end]).toBe(0xa5);
  });
});
