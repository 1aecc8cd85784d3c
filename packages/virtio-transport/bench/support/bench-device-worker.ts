/** The benchmark's worker: an SCMI platform with virtio devices, and floor devices, on real time. */
import { RealClock, serveWorker } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { getHeapStatistics } from 'node:v8';
import { VirtioScmiWire, serveVirtioDevices, type VirtioScmiWireHandle } from '../../src/index.js';
import { FloorDevice, type FloorPolicy } from './floor.js';

const clock = new RealClock();
const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
const devices = serveVirtioDevices(platform, clock);
const floors: FloorDevice[] = [];

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
    ) => {
      floors.push(new FloorDevice(VirtioScmiWire.open(handle), cmdqSize, eventIdx, policy));
    },
  },
  {
    onStop: () => {
      for (const f of floors) f.close();
      devices.closeAll();
      platform.close();
    },
  },
);
