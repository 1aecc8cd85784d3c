/**
 * Worker entry of the OP-TEE fixture: an `ScmiPlatform` (OP-TEE's behaviour for unknown messages)
 * on real time, and the emulated OP-TEEs of the wires the agent side opens.
 */
import { RealClock, serveWorker } from '@scmi-ts/core';
import { ScmiPlatform, type FaultRule, type PlatformConfig } from '@scmi-ts/platform';
import { workerData } from 'node:worker_threads';
import { createEmulatedOpteeHost } from '../../src/index.js';

const data = workerData as {
  platformConfig: PlatformConfig;
  agentId: number;
  seed: number;
  platformTimeoutMs?: number;
  msgBufferSize?: number;
};
const clock = new RealClock();
const platform = new ScmiPlatform(data.platformConfig, {
  clock,
  seed: data.seed,
  behaviour: { unknownMessage: 'not-supported', unknownDomain: 'invalid-parameters' },
});
const host = createEmulatedOpteeHost({
  platform,
  agentId: data.agentId,
  clock,
  ...(data.platformTimeoutMs === undefined ? {} : { platformTimeoutMs: data.platformTimeoutMs }),
  ...(data.msgBufferSize === undefined ? {} : { msgBufferSize: data.msgBufferSize }),
});

serveWorker(
  {
    ...host.handlers,
    setFaults: (rules: readonly FaultRule[]): void => {
      platform.faults.clear();
      for (const rule of rules) platform.faults.add(rule);
    },
    releaseHeldResponses: (): number => platform.releaseHeldResponses(),
    faultCounts: (): Readonly<Record<string, number>> => platform.faults.counts,
    platformTimers: (): number => platform.armedTimers,
    /** Delayed replies and asynchronous operations' responses the platform cancelled unsent. */
    cancelledOnDisconnect: (): number => platform.counters.cancelledOnDisconnect,
  },
  {
    onStop: () => {
      host.close();
      platform.close();
    },
  },
);
