/**
 * The worker of the peer-port fixture's worker mode: the emulated platform, on real time, served
 * over peer ports (`startPeerPort`) on Unix sockets in the directory the fixture gives — one port
 * per wire the main thread opens, each taking one connection (the fixture's agent id).
 */
import { RealClock, serveWorker } from '@scmi-ts/core';
import {
  ScmiPlatform,
  startPeerPort,
  type FaultRule,
  type PeerPort,
  type PlatformConfig,
} from '@scmi-ts/platform';
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';

/** What the fixture gives the worker. */
export interface PeerPortWorkerData {
  readonly platformConfig: PlatformConfig;
  readonly seed: number;
  /** The agent id every port gives its connection. */
  readonly agentId: number;
  /** A fresh directory (`mkdtemp`) for the ports' sockets. */
  readonly dir: string;
}

/** The platform's counters a wire reads (deltas from its opening). */
export interface PeerPortWorkerPlatformState {
  /** Commands the platform took (`counters.requests`). */
  readonly requests: number;
  /** Replies it cancelled unsent because their agent disconnected (`cancelledOnDisconnect`). */
  readonly cancelledOnDisconnect: number;
}

/** What `openPort` answers: the port's number (for `closePort`) and its socket path. */
export interface PeerPortWorkerPort {
  readonly id: number;
  readonly path: string;
}

const data = workerData as PeerPortWorkerData;
const clock = new RealClock();
const platform = new ScmiPlatform(data.platformConfig, { clock, seed: data.seed });
const ports = new Map<number, PeerPort>();
let next = 0;

const platformState = (): PeerPortWorkerPlatformState => ({
  requests: platform.counters.requests,
  cancelledOnDisconnect: platform.counters.cancelledOnDisconnect,
});

serveWorker(
  {
    /** Starts a port for one wire. */
    openPort: async (): Promise<PeerPortWorkerPort> => {
      const id = ++next;
      const path = join(data.dir, `wire-${id}.sock`);
      ports.set(id, await startPeerPort(platform, { path, agentIds: [data.agentId] }));
      return { id, path };
    },
    /**
     * Closes a wire's port — its connection dropped, the agent disconnected from the platform
     * (which cancels what it still held for it) — and answers the platform's counters then.
     */
    closePort: async (id: number): Promise<PeerPortWorkerPlatformState> => {
      const port = ports.get(id);
      ports.delete(id);
      await port?.close();
      return platformState();
    },
    setFaults: (rules: readonly FaultRule[]) => {
      platform.faults.clear();
      for (const rule of rules) platform.faults.add(rule);
    },
    releaseHeldResponses: (): number => platform.releaseHeldResponses(),
    faultCounts: (): Readonly<Record<string, number>> => platform.faults.counts,
    platformState,
  },
  {
    onStop: async () => {
      await Promise.all([...ports.values()].map((p) => p.close()));
      ports.clear();
      platform.close();
    },
  },
);
