/**
 * The worker of the fixture's worker mode: the emulated platform (`@scmi-ts/platform`, a dev
 * dependency) and the SMT responders of the wires the tests open, on real time.
 */
import { PayloadWriter, RealClock, ScmiStatus, serveWorker } from '@scmi-ts/core';
import {
  ScmiPlatform,
  type FaultRule,
  type PlatformConfig,
  type PlatformVendorProtocol,
} from '@scmi-ts/platform';
import { createSmtWorkerHandlers } from '@scmi-ts/mailbox-transport';
import { workerData } from 'node:worker_threads';

/** What the fixture gives the worker. */
export interface MailboxWorkerData {
  readonly platformConfig: PlatformConfig;
  readonly seed: number;
  /**
   * Serve vendor protocol 0x84, whose command 0x3 answers its u32 inverted: a vendor protocol's
   * functions cannot be posted to the worker, so the worker's own module gives them.
   */
  readonly vendorEcho?: boolean;
}

/** The platform's state, as `platformStats` reports it. */
export interface MailboxWorkerPlatformStats {
  readonly armedTimers: number;
  readonly connectedAgents: readonly number[];
  readonly lateResponses: number;
  /** Delayed replies and asynchronous operations' responses the platform cancelled unsent. */
  readonly cancelledOnDisconnect: number;
}

const data = workerData as MailboxWorkerData;
const clock = new RealClock();
const vendorEcho: PlatformVendorProtocol = {
  protocolId: 0x84,
  name: 'echo',
  version: 0x10000,
  commands: {
    0x3: {
      name: 'ECHO_INVERTED',
      requestSize: 4,
      handle: (req) => ({
        status: ScmiStatus.SUCCESS,
        returns: new PayloadWriter(4).u32(~req.payload.u32() >>> 0).bytesWritten(),
      }),
    },
  },
};
const platform = new ScmiPlatform(data.platformConfig, {
  clock,
  seed: data.seed,
  ...(data.vendorEcho === true ? { vendorProtocols: [vendorEcho] } : {}),
});
const smt = createSmtWorkerHandlers(platform, clock);

serveWorker(
  {
    ...smt.handlers,
    setFaults: (rules: readonly FaultRule[]) => {
      platform.faults.clear();
      for (const rule of rules) platform.faults.add(rule);
    },
    releaseHeldResponses: (): number => platform.releaseHeldResponses(),
    faultCounts: (): Readonly<Record<string, number>> => platform.faults.counts,
    platformStats: (): MailboxWorkerPlatformStats => ({
      armedTimers: platform.armedTimers,
      connectedAgents: platform.connectedAgents,
      lateResponses: platform.counters.lateResponses,
      cancelledOnDisconnect: platform.counters.cancelledOnDisconnect,
    }),
  },
  {
    onStop: () => {
      smt.closeAll();
      platform.close();
    },
  },
);
