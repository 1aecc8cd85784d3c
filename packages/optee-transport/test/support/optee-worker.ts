/**
 * Worker entry of the OP-TEE fixture: an `ScmiPlatform` (OP-TEE's behaviour for unknown messages)
 * on real time, and one emulated OP-TEE per open wire, serving the agent's calls across threads.
 */
import { RealClock, serveWorker } from '@scmi-ts/core';
import { ScmiPlatform, type FaultRule, type PlatformConfig } from '@scmi-ts/platform';
import { workerData } from 'node:worker_threads';
import {
  EmulatedOptee,
  openOpteeWireEnd,
  type EmulatedOpteeStats,
  type OpteeWireFault,
  type OpteeWireOptions,
} from '../../src/index.js';

const data = workerData as {
  platformConfig: PlatformConfig;
  agentId: number;
  seed: number;
  platformTimeoutMs?: number;
};
const clock = new RealClock();
const platform = new ScmiPlatform(data.platformConfig, {
  clock,
  seed: data.seed,
  behaviour: { unknownMessage: 'not-supported' },
});
const wires = new Map<number, EmulatedOptee>();
let next = 1;

serveWorker(
  {
    open: (memory: SharedArrayBuffer, options: OpteeWireOptions): number => {
      const optee = new EmulatedOptee({
        wire: openOpteeWireEnd(memory, options, 'tee'),
        platform,
        agentId: data.agentId,
        clock,
        ...(data.platformTimeoutMs === undefined
          ? {}
          : { platformTimeoutMs: data.platformTimeoutMs }),
      });
      const id = next++;
      wires.set(id, optee);
      return id;
    },
    close: (id: number): void => {
      wires.get(id)?.close();
      wires.delete(id);
    },
    setFaults: (rules: readonly FaultRule[]): void => {
      platform.faults.clear();
      for (const rule of rules) platform.faults.add(rule);
    },
    setWireFaults: (id: number, rules: readonly OpteeWireFault[]): void => {
      wires.get(id)?.faults.set(rules);
    },
    stats: (id: number): EmulatedOpteeStats | undefined => wires.get(id)?.stats,
    platformTimers: (): number => platform.armedTimers,
  },
  {
    onStop: () => {
      for (const optee of wires.values()) optee.close();
      wires.clear();
      platform.close();
    },
  },
);
