import { TRANSPORT, type WorkerHost } from '@scmi-ts/core';
import {
  OpteeTransport,
  openOpteeWorkerWire,
  opteeTransportConfig,
  type OpteeWireOptions,
} from '@scmi-ts/optee-transport';
import { ContainerModule } from 'inversify';
import type { DemoWire, LateReplyReport, TransportDemoSetup } from './transport-demo-setup.js';

const AGENT_ID = 1;

/** OP-TEE channel 0 has a static SMT area (SMT mode); channel 1 has none (MSG mode). */
const WIRE: OpteeWireOptions = { channels: [{ id: 0, staticShmem: true }, { id: 1 }] };

function lateReply(transport: OpteeTransport): LateReplyReport {
  const t = transport.diagnostics().totals;
  const where =
    t.lateReplies > 0
      ? 'came back with its invocation while the channel was open: dropped as a late reply'
      : t.refusedReturns > 0
        ? "came back with its invocation while the channel quiesced (quiesce waited for it): refused by the channel's RX guard"
        : 'never came back (no invocation returned late)';
  return {
    where,
    counted: `invocations ${t.invocations}, late returns ${t.lateReturns} (lateReplies ${t.lateReplies}, refusedAfterQuiesce ${t.refusedReturns}), cancel requests ${t.cancelRequests}`,
  };
}

/**
 * The OP-TEE transport in the demo: SCMI through the OP-TEE SCMI pseudo-TA, the emulated OP-TEE
 * in the platform worker (calls cross threads through shared call slots and doorbells). Channel 0
 * uses SMT in its static area, channel 1 (Clock) MSG in registered shared memory; OP-TEE has no
 * P2A channel, so the agent asks for none.
 *
 * @example
 * ```ts
 * await runTransportDemo(console.log, opteeDemo);
 * ```
 */
export const opteeDemo: TransportDemoSetup = {
  name: 'optee',
  title: 'SCMI through the OP-TEE SCMI pseudo-TA, emulated OP-TEE and platform in a worker',
  backend: 'emulated OP-TEE (SCMI PTA)',
  // The SCMI server waits for the platform longer than the seed scenario's late reply takes.
  workerData: { transport: 'optee', agentId: AGENT_ID, platformTimeoutMs: 1000 },
  routes: { clock: 'a2p:1, MSG', perf: 'a2p:0, SMT' },
  // Linux optee.c: the invocation is synchronous; the shared memory is the secure world's until
  // it returns, so the channel stays held and its quiesce waits for the return.
  seedNote:
    'the reply is the invocation returning; after the timeout the channel stays held until it returns, and quiesce waits for it',
  open: async (host: WorkerHost, purpose): Promise<DemoWire> => {
    const wire = await openOpteeWorkerWire(host, WIRE);
    const transport = new OpteeTransport();
    return {
      description:
        'a2p:0 (OP-TEE channel 0, SMT in a static area), a2p:1 (channel 1, MSG in registered memory); no P2A channel',
      module: new ContainerModule(({ bind }) => {
        bind(TRANSPORT).toConstantValue(transport);
      }),
      agentOptions: {
        ...(purpose === 'probe' ? { a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }] } : {}),
        p2a: false,
        transportConfig: opteeTransportConfig(wire.driver),
      },
      report: async () => {
        const d = transport.diagnostics();
        const tee = await wire.stats();
        return {
          violations: d.violations.length,
          rows: [
            ['OP-TEE channels left open', String(d.channels.length)],
            [
              'TEE sessions, registered shm left',
              tee === undefined ? '?' : `${tee.openSessions}, ${tee.registeredShm}`,
            ],
          ],
        };
      },
      lateReply: () => Promise.resolve(lateReply(transport)),
      close: () => wire.close(),
    };
  },
};
