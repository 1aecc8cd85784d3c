/**
 * The demo's platform thread: the emulated SCMI firmware (`@scmi-ts/platform`) and the mailbox
 * transport's SMT responders, served to the main thread with core's worker host. Started from its
 * TypeScript source in tests and from `dist/` by `pnpm demo` (see `resolveWorkerEntry`).
 */
import { RealClock, serveWorker } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig, type FaultRule } from '@scmi-ts/platform';
import { createSmtWorkerHandlers } from '@scmi-ts/mailbox-transport';

const clock = new RealClock();
const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
const smt = createSmtWorkerHandlers(platform, clock);

serveWorker(
  {
    ...smt.handlers,
    setFaults: (rules: readonly FaultRule[]) => {
      platform.faults.clear();
      for (const rule of rules) platform.faults.add(rule);
    },
    armedTimers: () => platform.armedTimers,
  },
  {
    onStop: () => {
      smt.closeAll();
      platform.close();
    },
  },
);
