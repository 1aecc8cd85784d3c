/**
 * The benchmark's platform thread: the emulated platform with SMT responders (the SCMI path), and
 * bare echo remotes on the same kind of shared mailbox channel (the floor: ring in, ring back, no
 * SCMI). Both wait with the same primitive (`SharedDoorbell.listen`, `Atomics.waitAsync`).
 */
import { RealClock, serveWorker } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { SharedMailboxRemote, createSmtWorkerHandlers } from '@scmi-ts/mailbox-transport';

const clock = new RealClock();
const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
const smt = createSmtWorkerHandlers(platform, clock);
const echoes: SharedMailboxRemote[] = [];

serveWorker(
  {
    ...smt.handlers,
    echoStart: (region: SharedArrayBuffer, index: number) => {
      const remote = new SharedMailboxRemote(region, index);
      remote.listen(() => {
        remote.ring();
      });
      echoes.push(remote);
    },
    echoStop: () => {
      for (const r of echoes.splice(0)) r.close();
    },
    heap: () => {
      (globalThis as { gc?: () => void }).gc?.();
      return process.memoryUsage().heapUsed;
    },
  },
  {
    onStop: () => {
      for (const r of echoes.splice(0)) r.close();
      smt.closeAll();
      platform.close();
    },
  },
);
