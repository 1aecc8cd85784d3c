import { SplitRing } from '../../src/layout/split-ring.js';
import { splitRingLayout } from '../../src/layout/split-ring-layout.js';
import type { DeviceMemory } from '../../src/ring/device-virtqueue.js';

/** A ring of `size` entries at offset 0 and `memoryBytes` of guest memory after it, in one buffer. */
export function makeRing(
  size: number,
  memoryBytes = 4096,
): {
  sab: SharedArrayBuffer;
  ring: SplitRing;
  memory: DeviceMemory;
  bytes: Uint8Array;
} {
  const layout = splitRingLayout(0, size);
  const start = Math.ceil(layout.end / 16) * 16;
  const sab = new SharedArrayBuffer(start + memoryBytes);
  const bytes = new Uint8Array(sab);
  return {
    sab,
    ring: new SplitRing(sab, layout),
    memory: { start, end: start + memoryBytes, bytes, view: new DataView(sab) },
    bytes,
  };
}
