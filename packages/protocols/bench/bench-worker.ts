/**
 * The benchmark's platform thread: the emulated platform, with the Performance fast channels of
 * {@link FastChannelsBenchWorkerData.config} (polled on a real clock) in the `SharedArrayBuffer`
 * the agent maps too, behind the mailbox transport's SMT responders.
 */
import { workerData } from 'node:worker_threads';
import { RealClock, serveWorker } from '@scmi-ts/core';
import { createSmtWorkerHandlers } from '@scmi-ts/mailbox-transport';
import { ScmiPlatform, type PlatformConfig } from '@scmi-ts/platform';

/** What the benchmark's main thread gives its platform worker. */
export interface FastChannelsBenchWorkerData {
  /**
   * The platform's configuration, its `performanceFastChannels.memory` a `SharedArrayBuffer`
   * (shared with the main thread, not copied).
   */
  readonly config: PlatformConfig;
}

const data = workerData as FastChannelsBenchWorkerData;
const clock = new RealClock();
const platform = new ScmiPlatform(data.config, { clock });
const smt = createSmtWorkerHandlers(platform, clock);

serveWorker(
  {
    ...smt.handlers,
    platformCounters: () => ({ ...platform.counters }),
  },
  {
    onStop: () => {
      smt.closeAll();
      platform.close();
    },
  },
);
