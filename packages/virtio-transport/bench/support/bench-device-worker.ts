/** The benchmark's worker: an SCMI platform with virtio devices, and floor devices, on real time. */
import { RealClock, serveWorker } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  VirtioScmiDevice,
  VirtioScmiWire,
  type VirtioScmiWireHandle,
} from '@scmi-ts/virtio-transport';
import { FloorDevice } from './floor.js';

const clock = new RealClock();
const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
const ends: { close(): void }[] = [];

serveWorker(
  {
    attachScmi: (handle: VirtioScmiWireHandle, agentId: number) => {
      ends.push(new VirtioScmiDevice(VirtioScmiWire.open(handle), { platform, agentId, clock }));
    },
    attachFloor: (handle: VirtioScmiWireHandle, cmdqSize: number, eventIdx: boolean) => {
      ends.push(new FloorDevice(VirtioScmiWire.open(handle), cmdqSize, eventIdx));
    },
  },
  {
    onStop: () => {
      for (const e of ends) e.close();
      platform.close();
    },
  },
);
