import { MessageChannel } from 'node:worker_threads';
import { isWorkerGone, resolveWorkerEntry, startWorker } from '@scmi-ts/core';
import type {
  FixtureEnds,
  SameThreadFixtureContext,
  TransportFixture,
  WorkerFixtureContext,
  WorkerFixtureSession,
} from '@scmi-ts/conformance';
import {
  MsgqResponder,
  createSameThreadMsgqWire,
  msgqTransport,
  openMsgqPortEnd,
  type MsgqWireOptions,
} from '@scmi-ts/example-transport';
import type { MsgqWorkerData, MsgqWorkerState } from './msgq-worker.js';

/** The channels of every fixture wire: A2P 0 and 1, and P2A. */
const WIRE: MsgqWireOptions = { a2p: [0, 1], p2a: true };

/** Same thread: both ends on the kit's virtual clock, the responder over the kit's platform. */
function sameThread({ platform, clock, agentId }: SameThreadFixtureContext): Promise<FixtureEnds> {
  const wire = createSameThreadMsgqWire(clock, WIRE);
  const responder = new MsgqResponder({ platform, agentId, end: wire.platform });
  return Promise.resolve({
    transport: msgqTransport,
    agentOptions: { transportConfig: { end: wire.agent } },
    setAgentSignalInterceptor: (interceptor) => wire.setAgentSignalInterceptor(interceptor),
    // Messages that reached the agent's end for a channel already freed (or not yet set up).
    droppedSignals: () => wire.agent.dropped,
    commandsTaken: () => responder.requests,
    close: () => {
      responder.close();
      return Promise.resolve();
    },
  });
}

/** Worker: the platform and a responder per wire in a worker thread, a `MessagePort` per wire. */
async function worker(ctx: WorkerFixtureContext): Promise<WorkerFixtureSession> {
  const data: MsgqWorkerData = { ...ctx, wire: WIRE };
  const host = await startWorker({
    entry: resolveWorkerEntry(__dirname, 'msgq-worker'),
    data,
    name: 'msgq-platform',
  });
  let killing: Promise<void> | undefined;
  /** Undefined when the session was killed and `error` says the worker is gone; else throws. */
  const unlessKilled = (error: unknown): undefined => {
    if (killing !== undefined && isWorkerGone(error)) return undefined;
    throw error;
  };
  const state = async (): Promise<MsgqWorkerState | undefined> =>
    (await host.call('state').catch(unlessKilled)) as MsgqWorkerState | undefined;

  const open = async (): Promise<FixtureEnds> => {
    const before = await state();
    if (before === undefined) throw new Error('msgq fixture: the worker was killed');
    let last = before;
    const { port1, port2 } = new MessageChannel();
    const id = (await host.callTransferring('openWire', [port2], port2)) as number;
    const end = openMsgqPortEnd(port1, WIRE);
    let atClose: MsgqWorkerState | undefined;
    let closing: Promise<void> | undefined;
    return {
      transport: msgqTransport,
      agentOptions: { transportConfig: { end } },
      droppedSignals: () => end.dropped,
      commandsTaken: async () => {
        const now = atClose ?? (await state());
        return now === undefined ? undefined : now.requests - before.requests;
      },
      repliesCancelled: async () => {
        last = atClose ?? (await state()) ?? last;
        return last.cancelledOnDisconnect - before.cancelledOnDisconnect;
      },
      // The platform side first (it disconnects the agent and closes its port), then wait for
      // the agent's end to read what was sent before the close: its drop count is final then.
      close: () =>
        (closing ??= (async () => {
          atClose = (await host.call('closeWire', id).catch(unlessKilled)) as
            MsgqWorkerState | undefined;
          await end.closed;
        })()),
    };
  };

  return {
    open,
    setFaults: async (rules) => {
      await host.call('setFaults', rules);
    },
    releaseHeldResponses: async () => (await host.call('releaseHeldResponses')) as number,
    faultCounts: async () => (await host.call('faultCounts')) as Readonly<Record<string, number>>,
    stop: () => host.stop(),
    kill: () =>
      (killing ??= (async () => {
        await host.worker.terminate();
        await host.exited;
      })()),
  };
}

/**
 * The msgq transport's fixture for the conformance kit: same thread on the kit's virtual clock,
 * and the platform in a worker thread over a `MessagePort` per wire.
 */
export const msgqFixture: TransportFixture = {
  name: 'msgq',
  capabilities: { p2a: true, interrupt: true, polling: true, outOfOrder: false, worker: true },
  sameThread,
  worker,
};
