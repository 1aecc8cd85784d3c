/**
 * The worker of the virtio fixture: one emulated platform and any number of virtio-scmi devices
 * (one per wire the main thread attaches), on real time.
 */
import { RealClock, serveWorker } from '@scmi-ts/core';
import { ScmiPlatform, type FaultRule, type PlatformConfig } from '@scmi-ts/platform';
import { serveVirtioDevices } from '@scmi-ts/virtio-transport';
import { workerData } from 'node:worker_threads';

/** What the worker's `platformState` answers. */
export interface VirtioWorkerPlatformState {
  /** Timers the platform has armed. */
  readonly armedTimers: number;
  /** The agents connected to it. */
  readonly connectedAgents: readonly number[];
  /** Pending replies and timers it cancelled because their agent disconnected (all time). */
  readonly cancelledOnDisconnect: number;
}

/** What the fixture gives the worker. */
export interface VirtioWorkerData {
  readonly platformConfig: PlatformConfig;
  readonly seed: number;
}

const data = workerData as VirtioWorkerData;
const clock = new RealClock();
const platform = new ScmiPlatform(data.platformConfig, { clock, seed: data.seed });
const devices = serveVirtioDevices(platform, clock);

serveWorker(
  {
    ...devices.handlers,
    setFaults: (rules: readonly FaultRule[]) => {
      platform.faults.clear();
      for (const rule of rules) platform.faults.add(rule);
    },
    releaseHeldResponses: (): number => platform.releaseHeldResponses(),
    faultCounts: (): Readonly<Record<string, number>> => platform.faults.counts,
    /**
     * Blocks this thread, and every device in it, until the main thread sets word 1 of `flags`
     * (at most 10 s): word 0 is set first, so the caller knows the devices stopped looking. What
     * the driver makes available meanwhile is all there at the device's next pass.
     */
    stall: (flags: SharedArrayBuffer) => {
      const words = new Int32Array(flags);
      Atomics.store(words, 0, 1);
      Atomics.wait(words, 1, 0, 10_000);
    },
    platformState: (): VirtioWorkerPlatformState => ({
      armedTimers: platform.armedTimers,
      connectedAgents: platform.connectedAgents,
      cancelledOnDisconnect: platform.counters.cancelledOnDisconnect,
    }),
  },
  {
    onStop: () => {
      devices.closeAll();
      platform.close();
    },
  },
);
