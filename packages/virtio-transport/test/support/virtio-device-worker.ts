/**
 * The worker of the virtio fixture: one emulated platform and any number of virtio-scmi devices
 * (one per wire the main thread attaches), on real time.
 */
import { RealClock, serveWorker } from '@scmi-ts/core';
import { ScmiPlatform, type FaultRule, type PlatformConfig } from '@scmi-ts/platform';
import {
  VirtioScmiDevice,
  VirtioScmiWire,
  type VirtioCompletionOrder,
  type VirtioScmiWireHandle,
  type VirtioWireFaultRule,
} from '@scmi-ts/virtio-transport';
import { workerData } from 'node:worker_threads';

/** What the fixture gives the worker. */
export interface VirtioWorkerData {
  readonly platformConfig: PlatformConfig;
  readonly seed: number;
}

/** Device options of one attach (plain data). */
export interface VirtioWorkerDeviceOptions {
  readonly completion?: VirtioCompletionOrder;
  readonly faults?: readonly VirtioWireFaultRule[];
  /** Offered features as a decimal or hex string (a bigint as text). */
  readonly features?: string;
}

const data = workerData as VirtioWorkerData;
const clock = new RealClock();
const platform = new ScmiPlatform(data.platformConfig, { clock, seed: data.seed });
const devices = new Map<number, VirtioScmiDevice>();
let next = 1;

function device(id: number): VirtioScmiDevice {
  const d = devices.get(id);
  if (d === undefined) throw new Error(`no device ${id}`);
  return d;
}

serveWorker(
  {
    attach: (handle: VirtioScmiWireHandle, agentId: number, options: VirtioWorkerDeviceOptions) => {
      const id = next++;
      devices.set(
        id,
        new VirtioScmiDevice(VirtioScmiWire.open(handle), {
          platform,
          agentId,
          clock,
          seed: data.seed + id,
          ...(options.completion === undefined ? {} : { completion: options.completion }),
          ...(options.faults === undefined ? {} : { faults: options.faults }),
          ...(options.features === undefined ? {} : { features: BigInt(options.features) }),
        }),
      );
      return id;
    },
    close: (id: number) => {
      devices.get(id)?.close();
      devices.delete(id);
    },
    stats: (id: number) => device(id).stats,
    setWireFaults: (id: number, rules: readonly VirtioWireFaultRule[]) => {
      device(id).faults.set(rules);
    },
    setFaults: (rules: readonly FaultRule[]) => {
      platform.faults.clear();
      for (const rule of rules) platform.faults.add(rule);
    },
    platformState: () => ({
      armedTimers: platform.armedTimers,
      connectedAgents: platform.connectedAgents,
    }),
  },
  {
    onStop: () => {
      for (const d of devices.values()) d.close();
      devices.clear();
      platform.close();
    },
  },
);
