/**
 * The worker of the msgq fixture's worker mode: the emulated platform on real time, and a
 * `MsgqResponder` on a `MessagePort` per wire the main thread opens.
 */
import { RealClock, serveWorker } from '@scmi-ts/core';
import {
  MsgqResponder,
  openMsgqPortEnd,
  type MsgqPortEnd,
  type MsgqWireOptions,
} from '@scmi-ts/example-transport';
import { ScmiPlatform, type FaultRule, type PlatformConfig } from '@scmi-ts/platform';
import { workerData, type MessagePort } from 'node:worker_threads';

/** What the fixture gives the worker. */
export interface MsgqWorkerData {
  readonly platformConfig: PlatformConfig;
  readonly seed: number;
  readonly agentId: number;
  readonly wire: MsgqWireOptions;
}

/** The platform's counters a wire reads (deltas from its opening). */
export interface MsgqWorkerState {
  /** Commands the platform took. */
  readonly requests: number;
  /** Replies it cancelled unsent because their agent disconnected. */
  readonly cancelledOnDisconnect: number;
}

const data = workerData as MsgqWorkerData;
const platform = new ScmiPlatform(data.platformConfig, { clock: new RealClock(), seed: data.seed });
const wires = new Map<number, { end: MsgqPortEnd; responder: MsgqResponder }>();
let next = 0;

const state = (): MsgqWorkerState => ({
  requests: platform.counters.requests,
  cancelledOnDisconnect: platform.counters.cancelledOnDisconnect,
});

function closeWire(id: number): void {
  const wire = wires.get(id);
  wires.delete(id);
  wire?.responder.close(); // disconnects the agent: the platform cancels what it still held
  wire?.end.close(); // the agent's end sees the close after what was sent before
}

serveWorker(
  {
    /** Opens a wire on the port the main thread moved here; answers its number. */
    openWire: (port: MessagePort): number => {
      const end = openMsgqPortEnd(port, data.wire);
      wires.set(++next, {
        end,
        responder: new MsgqResponder({ platform, agentId: data.agentId, end }),
      });
      return next;
    },
    closeWire: (id: number): MsgqWorkerState => {
      closeWire(id);
      return state();
    },
    state,
    setFaults: (rules: readonly FaultRule[]) => {
      platform.faults.clear();
      for (const rule of rules) platform.faults.add(rule);
    },
    releaseHeldResponses: (): number => platform.releaseHeldResponses(),
    faultCounts: (): Readonly<Record<string, number>> => platform.faults.counts,
  },
  {
    onStop: () => {
      for (const id of [...wires.keys()]) closeWire(id);
      platform.close();
    },
  },
);
