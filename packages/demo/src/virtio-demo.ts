import { type WorkerHost } from '@scmi-ts/core';
import type { PlatformCounters } from '@scmi-ts/platform';
import {
  VirtioScmiWire,
  attachRemoteVirtioDevice,
  virtioTransportModule,
  type RemoteVirtioDevice,
  type VirtioDeviceStats,
} from '@scmi-ts/virtio-transport';
import type { DemoWire, LateReplyReport, TransportDemoSetup } from './transport-demo-setup.js';

const AGENT_ID = 1;
/** A 64-entry cmdq (two descriptors per message: 32 in flight) and a 16-entry eventq. */
const WIRE = { cmdqSize: 64, eventqSize: 16 } as const;

function lateReply(
  wire: VirtioScmiWire,
  device: VirtioDeviceStats,
  platform: PlatformCounters,
): LateReplyReport {
  const d = wire.driverDiagnostics;
  const c = d.channels.get('a2p:0')?.counters;
  const lateReplies = c?.lateReplies ?? 0;
  const refused = c?.refusedAfterQuiesce ?? 0;
  let where: string;
  if (lateReplies > 0) where = 'came while the cmdq was open: dropped as a late reply';
  else if (refused > 0) where = 'came after the cmdq quiesced: refused by its RX guard';
  else if (device.lateResponses + device.unmatchedResponses > 0)
    where = 'came after the reset: the device found no buffer for it and dropped it';
  else if (platform.cancelledOnDisconnect > 0)
    where =
      'never came: the reset disconnected the agent, the platform cancelled it, and the driver reclaimed the buffers the device held (the command buffer included) once it acknowledged the reset';
  else where = 'was not seen anywhere (no counter moved)';
  return {
    where,
    counted: `lateReplies ${lateReplies}, refusedAfterQuiesce ${refused}, buffers returned late ${d.lateReturns}, reclaimed after reset ${d.reclaimedBuffers}; device: resets ${device.resets}, deferred ${device.deferred}, unmatched ${device.unmatchedResponses}; platform: cancelled on disconnect ${platform.cancelledOnDisconnect}`,
  };
}

/**
 * The virtio transport in the demo: virtio-scmi over split virtqueues in a `SharedArrayBuffer`,
 * the device in the platform worker. The cmdq is A2P channel 0, the eventq P2A channel 0, so
 * notifications work.
 *
 * @example
 * ```ts
 * await runTransportDemo(console.log, virtioDemo);
 * ```
 */
export const virtioDemo: TransportDemoSetup = {
  name: 'virtio',
  title: 'virtio-scmi over split virtqueues, device and platform in a worker',
  backend: 'virtio-scmi device',
  workerData: { transport: 'virtio', agentId: AGENT_ID },
  routes: { clock: 'a2p:0, cmdq', perf: 'a2p:0, cmdq' },
  // Linux virtio.c: VIRTIO_SCMI_MAX_RX_TIMEOUT_MS is 60 s; the demo uses a short timeout instead.
  seedNote:
    'a reply after the timeout returns the command buffer on the used ring; the driver resets the device before it frees a buffer the device may still hold',
  open: async (host: WorkerHost): Promise<DemoWire> => {
    const wire = VirtioScmiWire.shared(WIRE);
    const device: RemoteVirtioDevice = await attachRemoteVirtioDevice(host, wire, AGENT_ID);
    return {
      description: `a2p:0 (cmdq, ${WIRE.cmdqSize} descriptors), p2a:0 (eventq, ${WIRE.eventqSize} buffers); ${wire.sab.byteLength}-byte shared wire`,
      module: virtioTransportModule,
      agentOptions: { maxMsg: WIRE.cmdqSize / 2, transportConfig: { wire } },
      report: () => {
        const d = wire.driverDiagnostics;
        return Promise.resolve({
          violations: d.violations.length,
          rows: [
            [
              'virtqueues freed (driver)',
              [...d.channels].map(([label, r]) => `${label} ×${r.frees}`).join(', '),
            ],
            [
              'driver state, buffers',
              `${d.state}; ${d.buffersAllocated} allocated, ${d.leakedBuffers} leaked`,
            ],
          ],
        });
      },
      lateReply: async () =>
        lateReply(
          wire,
          await device.stats(),
          (await host.call('platformCounters')) as PlatformCounters,
        ),
      close: () => device.close(),
    };
  },
};
