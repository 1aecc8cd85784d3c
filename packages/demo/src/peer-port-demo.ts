import { type WorkerHost } from '@scmi-ts/core';
import {
  connectPeerPort,
  peerPortTransportModule,
  type PeerPortAddress,
  type PeerPortConnection,
} from '@scmi-ts/platform';
import { sleep } from './format.js';
import type { DemoWire, LateReplyReport, TransportDemoSetup } from './transport-demo-setup.js';

const AGENT_ID = 1;

/** What the platform worker answers `openPeerPort` with. */
interface OpenedPort {
  readonly id: number;
  readonly address: PeerPortAddress;
}

/**
 * Where the seed scenario's late reply went: read from the connection's counts, waiting (bounded)
 * for the frame the platform sends after its delay. The seed's connection receives nothing before
 * it: the probe's first command is the one answered late.
 */
async function lateReply(c: PeerPortConnection): Promise<LateReplyReport> {
  for (let i = 0; i < 2000 && c.stats.framesReceived === 0 && !c.closed; i++) await sleep(1);
  const { framesReceived, undelivered } = c.stats;
  const where =
    // A connection closed with nothing undelivered: what came may have been the port's CLOSE.
    framesReceived === 0 || (c.closed && undelivered === 0)
      ? 'was not seen on the connection (no frame came)'
      : undelivered > 0
        ? "came after the agent's channels were freed: the connection counted it undelivered and routed it nowhere"
        : "came while the agent's channels were open: core dropped it (a late reply, or refused after quiesce)";
  return {
    where,
    counted: `frames received ${framesReceived}, undelivered ${undelivered}`,
  };
}

/**
 * The peer-port transport in the demo: the platform served by its peer port (loopback TCP) in the
 * platform worker, the agent connecting to it as a tool in another process would
 * (`connectPeerPort`). One A2P and one P2A channel, both channel 0: commands as kind-1 frames,
 * notifications and delayed responses as kind-3 frames. Each wire gets a port of its own (one
 * agent per connection, once).
 *
 * @example
 * ```ts
 * await runTransportDemo(console.log, peerPortDemo);
 * ```
 */
export const peerPortDemo: TransportDemoSetup = {
  name: 'peer-port',
  title: 'the platform on its peer port (loopback TCP), platform in a worker',
  backend: 'peer port',
  workerData: { transport: 'peer-port', agentId: AGENT_ID },
  routes: { clock: 'a2p:0, kind-1 frame', perf: 'a2p:0, kind-1 frame' },
  seedNote:
    'a reply after the timeout is written to the socket as a kind-1 frame; the connection routes it to the agent only while its channels exist',
  open: async (host: WorkerHost): Promise<DemoWire> => {
    const port = (await host.call('openPeerPort')) as OpenedPort;
    let connection: PeerPortConnection;
    try {
      connection = await connectPeerPort(port.address);
    } catch (e) {
      // The connect error is the one to report: a failed close of the port must not hide it.
      await host.call('closePeerPort', port.id).catch(() => undefined);
      throw e;
    }
    let closed = false;
    const where =
      'path' in port.address ? port.address.path : `${port.address.host}:${port.address.port}`;
    return {
      description: `a2p:0 (kind-1 frames), p2a:0 (kind-3 frames) over ${where}`,
      module: peerPortTransportModule,
      agentOptions: { transportConfig: { connection } },
      report: () => {
        const s = connection.stats;
        return Promise.resolve({
          // The transport keeps no record of callbacks on freed channels: a frame for one is
          // routed nowhere (counted undelivered), so none can run.
          violations: 0,
          rows: [
            [
              'peer-port connection',
              `frames sent ${s.framesSent}, received ${s.framesReceived}, undelivered ${s.undelivered}`,
            ],
          ],
        });
      },
      lateReply: () => lateReply(connection),
      close: async () => {
        if (closed) return;
        closed = true;
        await connection.close();
        await host.call('closePeerPort', port.id);
      },
    };
  },
};
