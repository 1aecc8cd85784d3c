import { fieldOfConfigError } from '../../core/test/support/code-of.js';
import { SharedDoorbell } from '@scmi-ts/core';
import {
  VIRTIO_WIRE_MAX_BYTES,
  computeWireLayout,
  guestMemoryNeeded,
} from '../src/layout/wire-layout.js';
import { splitRingBytes } from '../src/layout/split-ring-layout.js';

describe(computeWireLayout, () => {
  it('should place registers, doorbells, both rings and guest memory without overlap', () => {
    const l = computeWireLayout();
    expect(l.cmdqSize).toBe(256);
    expect(l.eventqSize).toBe(64);
    expect(l.maxMsgSize).toBe(128);
    expect(l.pduSize).toBe(136);
    expect(l.interruptDoorbell).toBe(l.notifyDoorbell + SharedDoorbell.BYTES);
    expect(l.cmdqBase).toBeGreaterThanOrEqual(l.interruptDoorbell + SharedDoorbell.BYTES);
    expect(l.eventqBase).toBeGreaterThanOrEqual(l.cmdqBase + splitRingBytes(256));
    expect(l.guestMemory).toBeGreaterThanOrEqual(l.eventqBase + splitRingBytes(64));
    expect(l.guestMemoryBytes).toBe(guestMemoryNeeded(256, 64, 128));
    expect(l.bytes).toBe(l.guestMemory + l.guestMemoryBytes);
    expect([l.cmdqBase, l.eventqBase, l.guestMemory].every((o) => o % 16 === 0)).toBe(true);
  });

  it('should size guest memory for two buffers per cmdq message and one per eventq entry', () => {
    expect(guestMemoryNeeded(64, 16, 128)).toBe(32 * 2 * 136 + 16 * 136);
  });

  it('should take more guest memory when asked', () => {
    expect(computeWireLayout({ guestMemoryBytes: 100_000 }).guestMemoryBytes).toBe(100_000);
  });

  describe('when an option is invalid', () => {
    it.each([
      [{ cmdqSize: 1 }, 'cmdqSize'],
      [{ cmdqSize: 48 }, 'cmdqSize'],
      [{ eventqSize: 0 }, 'eventqSize'],
      [{ maxMsgSize: 4 }, 'maxMsgSize'],
      [{ guestMemoryBytes: 16 }, 'guestMemoryBytes'],
      [{ guestMemoryBytes: Number.NaN }, 'guestMemoryBytes'],
      [{ guestMemoryBytes: Infinity }, 'guestMemoryBytes'],
      [{ guestMemoryBytes: 1e6 + 0.5 }, 'guestMemoryBytes'],
      [{ guestMemoryBytes: 2 ** 40 }, 'guestMemoryBytes'],
      [{ guestMemoryBytes: VIRTIO_WIRE_MAX_BYTES }, 'guestMemoryBytes'],
      // What full queues of the largest sizes need by default is past 4 GiB too.
      [{ cmdqSize: 32768, eventqSize: 32768, maxMsgSize: 65536 }, 'guestMemoryBytes'],
    ])('should throw an ScmiConfigError naming the option for %p', (options, field) => {
      expect(fieldOfConfigError(() => computeWireLayout(options))).toBe(field);
    });
  });

  describe('the 4 GiB bound (what a 32-bit descriptor address reaches)', () => {
    it('should take guest memory up to the last addressable byte, and refuse one granule more', () => {
      const { guestMemory } = computeWireLayout();
      const largest = computeWireLayout({ guestMemoryBytes: VIRTIO_WIRE_MAX_BYTES - guestMemory });
      expect(largest.bytes).toBe(2 ** 32);
      expect(
        fieldOfConfigError(() =>
          computeWireLayout({ guestMemoryBytes: VIRTIO_WIRE_MAX_BYTES - guestMemory + 1 }),
        ),
      ).toBe('guestMemoryBytes');
    });
  });
});
