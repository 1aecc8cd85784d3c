/** The benchmark's worker: an SCMI platform with virtio devices, and floor devices, on real time. */
import { RealClock, serveWorker } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { getHeapStatistics } from 'node:v8';
import { VirtioScmiWire, serveVirtioDevices, type VirtioScmiWireHandle } from '../../src/index.js';
import { FloorDevice, type FloorPolicy } from './floor.js';
import { threadCpuNs } from './thread-cpu.js';

const clock = new RealClock();
const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
const devices = serveVirtioDevices(platform, clock);
const floors: FloorDevice[] = [];

/**
 * Median nanoseconds the platform takes to handle one Base PROTOCOL_VERSION (what the benchmark
 * sends), on a platform of its own in this thread, with no transport: the platform's share of a
 * round trip, given to a floor device as its `workNs`.
 */
function platformHandleNs(): number {
  const own = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  own.connect(1, { p2a: false, maxMsgSize: 128, respond: () => undefined, post: () => false });
  const request = new Uint8Array(4);
  new DataView(request.buffer).setUint32(0, 0x10 << 10, true); // Base (0x10), message 0
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const n = 50_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      if (own.handle(1, 0, request)?.byteLength !== 12)
        throw new Error('no PROTOCOL_VERSION response');
    }
    rounds.push(Number(process.hrtime.bigint() - start) / n);
  }
  own.close();
  return rounds.sort((a, b) => a - b)[3] as number;
}

serveWorker(
  {
    ...devices.handlers,
    /** This worker's used heap after a full collection (with --expose-gc), for the heap check. */
    heapUsed: () => {
      (globalThis as { gc?: () => void }).gc?.();
      return getHeapStatistics().used_heap_size;
    },
    attachFloor: (
      handle: VirtioScmiWireHandle,
      cmdqSize: number,
      eventIdx: boolean,
      policy: FloorPolicy,
      workNs = 0,
    ) => {
      floors.push(new FloorDevice(VirtioScmiWire.open(handle), cmdqSize, eventIdx, policy, workNs));
    },
    platformHandleNs,
    /** This thread's CPU time in ns (see thread-cpu.ts), or null where it cannot be read. */
    threadCpuNs: () => threadCpuNs() ?? null,
  },
  {
    onStop: () => {
      for (const f of floors) f.close();
      devices.closeAll();
      platform.close();
    },
  },
);
