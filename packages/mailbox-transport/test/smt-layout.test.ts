import { fieldOfConfigError } from '../../core/test/support/code-of.js';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_DEFAULT_AREA_SIZE,
  SMT_FLAGS_OFFSET,
  SMT_FLAG_INTR_ENABLED,
  SMT_HEADER_OFFSET,
  SMT_HEADER_SIZE,
  SMT_LENGTH_OFFSET,
  SMT_PAYLOAD_OFFSET,
  SMT_STATUS_OFFSET,
  SmtArea,
  createSmtWireLayout,
} from '@scmi-ts/mailbox-transport';
import { findSmtChannel, smtMailboxCount } from '../src/smt/smt-wire-layout.js';

describe(SmtArea, () => {
  it('should match the Linux shmem.c layout', () => {
    expect([
      SMT_STATUS_OFFSET,
      SMT_FLAGS_OFFSET,
      SMT_LENGTH_OFFSET,
      SMT_HEADER_OFFSET,
      SMT_PAYLOAD_OFFSET,
    ]).toEqual([0x04, 0x10, 0x14, 0x18, 0x1c]);
    expect([SMT_CHANNEL_FREE, SMT_CHANNEL_ERROR, SMT_FLAG_INTR_ENABLED]).toEqual([1, 2, 1]);
    expect(SMT_HEADER_SIZE).toBe(28);
    expect(SMT_DEFAULT_AREA_SIZE).toBe(156);
  });

  describe('constructor', () => {
    it('should refuse a region that is misaligned, too small or out of the buffer', () => {
      const memory = new SharedArrayBuffer(256);
      expect(() => new SmtArea(memory, 2, 128)).toThrow(RangeError);
      expect(() => new SmtArea(memory, 0, 27)).toThrow(RangeError);
      expect(() => new SmtArea(memory, 200, 128)).toThrow(RangeError);
      expect(() => new SmtArea(memory, -4, 128)).toThrow(RangeError);
      expect(new SmtArea(memory, 128, 128).maxPayload).toBe(100);
    });
  });

  describe('having an area at an offset', () => {
    const memory = new SharedArrayBuffer(64 + 128);
    const area = new SmtArea(memory, 64, 128);
    const raw = new DataView(memory, 64);

    it('should write every field little-endian at its offset', () => {
      area.setStatus(SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR);
      area.setFlags(SMT_FLAG_INTR_ENABLED);
      area.setLength(12);
      area.setHeader(0x12345678);
      area.writePayload(new Uint8Array([0xfe, 0xff, 0xff, 0xff, 9]), 0, 5);
      expect(raw.getUint32(0x04, true)).toBe(3);
      expect(raw.getUint32(0x10, true)).toBe(1);
      expect(raw.getUint32(0x14, true)).toBe(12);
      expect(raw.getUint32(0x18, true)).toBe(0x12345678);
      expect(area.payloadI32()).toBe(-2);
      expect(raw.getUint8(0x20)).toBe(9);
      expect([area.status(), area.flags(), area.length(), area.header()]).toEqual([
        3, 1, 12, 0x12345678,
      ]);
      expect(area.isFree()).toBe(true);
      area.setStatus(0);
      expect(area.isFree()).toBe(false);
    });

    it('should clamp a hostile length and never write past the area', () => {
      area.setLength(0xffffffff);
      expect(area.length()).toBe(0xffffffff);
      expect(area.clampedLength()).toBe(128 - 0x18);
      const big = new Uint8Array(500).fill(7);
      expect(area.writePayload(big, 0, 500)).toBe(100);
      expect(area.writePayload(big, 498, 100)).toBe(2);
      expect(area.writePayload(big, 0, -3)).toBe(0);
      expect(new Uint8Array(memory, 0, 64).every((b) => b === 0)).toBe(true);
    });
  });
});

describe(createSmtWireLayout, () => {
  it('should place one area per channel, A2P first, each free, with its own mailbox channel', () => {
    const layout = createSmtWireLayout({ a2p: [0, 2], p2a: [0] });
    expect(layout.areaSize).toBe(156);
    expect(layout.memory.byteLength).toBe(3 * 156);
    expect(layout.channels).toEqual([
      { direction: 'a2p', id: 0, offset: 0, mailbox: 0 },
      { direction: 'a2p', id: 2, offset: 156, mailbox: 1 },
      { direction: 'p2a', id: 0, offset: 312, mailbox: 2 },
    ]);
    for (const c of layout.channels) {
      expect(new SmtArea(layout.memory, c.offset, layout.areaSize).status()).toBe(SMT_CHANNEL_FREE);
    }
    expect(findSmtChannel(layout, 'a2p', 2)?.mailbox).toBe(1);
    expect(findSmtChannel(layout, 'p2a', 1)).toBeUndefined();
    expect(smtMailboxCount(layout)).toBe(3);
  });

  it('should default to A2P 0 and P2A 0, and allow a wire without P2A', () => {
    expect(createSmtWireLayout().channels.map((c) => `${c.direction}:${c.id}`)).toEqual([
      'a2p:0',
      'p2a:0',
    ]);
    expect(createSmtWireLayout({ p2a: [] }).channels).toHaveLength(1);
  });

  it('should name the invalid field', () => {
    const field = fieldOfConfigError;
    expect(field(() => createSmtWireLayout({ areaSize: 130 }))).toBe('areaSize');
    expect(field(() => createSmtWireLayout({ areaSize: 24 }))).toBe('areaSize');
    expect(field(() => createSmtWireLayout({ a2p: [0, 0] }))).toBe('a2p[1]');
    expect(field(() => createSmtWireLayout({ p2a: [-1] }))).toBe('p2a[0]');
  });
});
