import { ScmiMemoryMap, type WorkerHost } from '@scmi-ts/core';
import {
  SMT_HEADER_SIZE,
  mailboxTransportModule,
  openSmtWorkerWire,
  type SmtWorkerWire,
} from '@scmi-ts/mailbox-transport';
import { PERF_FAST_CHANNEL_SLOT_SIZE } from '@scmi-ts/platform';
import { sleep } from './format.js';
import type { DemoWire, LateReplyReport, TransportDemoSetup } from './transport-demo-setup.js';

const AGENT_ID = 1;

/**
 * The Performance fast channels' memory, shared by the platform worker and the agent: eight
 * 24-byte slots (SCP-firmware's layout), seen by the agent at {@link FAST_CHANNEL_BASE}.
 */
const FAST_CHANNELS = new SharedArrayBuffer(8 * PERF_FAST_CHANNEL_SLOT_SIZE);
/** Where the agent sees the fast channels (a physical address, as the platform describes it). */
const FAST_CHANNEL_BASE = 0x4000_0000n;

/** Waits until the worker's responder has answered every command it read (bounded). */
async function settled(smt: SmtWorkerWire, sent: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const { counters } = await smt.stats();
    if (counters.requests >= sent && counters.responses === counters.requests) return;
    await sleep(1);
  }
}

async function lateReply(smt: SmtWorkerWire): Promise<LateReplyReport> {
  await settled(smt, smt.wire.monitor.channel('a2p:0')?.counters.sent ?? 0);
  await sleep(1); // the doorbell crosses threads
  const a2p = smt.wire.monitor.channel('a2p:0');
  if (a2p === undefined) return { where: 'had no channel to land on', counted: '-' };
  const c = a2p.counters;
  const where =
    c.lateReplies > 0
      ? 'landed while the channel was still open: dropped as a late reply'
      : c.refusedAfterQuiesce > 0
        ? 'landed after the channel quiesced: refused by its RX guard'
        : 'landed after the channel was released: dropped by its stopped doorbell';
  return {
    where,
    counted: `lateReplies ${c.lateReplies}, refusedAfterQuiesce ${c.refusedAfterQuiesce}, dropped after release ${a2p.ignoredAfterFree}`,
  };
}

/**
 * The mailbox transport in the demo: SMT shared memory areas and `Atomics` doorbells, the SMT
 * responder in the platform worker. The probe uses three A2P channels — Base, Clock on its own,
 * Performance by polling — and one P2A channel; the platform's Performance domains have fast
 * channels (SCP-firmware's, polled every millisecond) in a shared memory the agent maps.
 *
 * @example
 * ```ts
 * await runTransportDemo(console.log, mailboxDemo);
 * ```
 */
export const mailboxDemo: TransportDemoSetup = {
  name: 'mailbox',
  title: 'SMT shared memory + mailbox doorbells, platform in a worker',
  backend: 'SMT responder',
  workerData: {
    transport: 'mailbox',
    agentId: AGENT_ID,
    fastChannels: { memory: FAST_CHANNELS, base: FAST_CHANNEL_BASE, rateLimitUs: 1000 },
  },
  routes: { clock: 'a2p:1', perf: 'a2p:2, polling' },
  seedNote:
    'a reply after the timeout is written to the SMT area and rings the completion doorbell',
  open: async (host: WorkerHost, purpose): Promise<DemoWire> => {
    const probe = purpose === 'probe';
    const smt = await openSmtWorkerWire(host, {
      agentId: AGENT_ID,
      a2p: probe ? [0, 1, 2] : [0],
      p2a: [0],
    });
    return {
      description: `${probe ? 'a2p:0 (Base), a2p:1 (Clock), a2p:2 (Performance, polling)' : 'a2p:0'}, p2a:0; ${smt.wire.layout.areaSize}-byte SMT areas (${SMT_HEADER_SIZE}-byte header)`,
      module: mailboxTransportModule,
      agentOptions: {
        ...(probe
          ? {
              a2p: [
                { id: 0 },
                { id: 1, protocols: [0x14] },
                { id: 2, protocols: [0x13], polling: true },
              ],
            }
          : {}),
        transportConfig: { wire: smt.wire },
        memoryMap: new ScmiMemoryMap([
          { base: FAST_CHANNEL_BASE, memory: FAST_CHANNELS, name: 'fast channels' },
        ]),
      },
      report: () =>
        Promise.resolve({
          violations: smt.wire.monitor.violations.length,
          rows: [
            [
              'SMT channels freed',
              smt.wire.monitor.channels.map((r) => `${r.label} ×${r.frees}`).join(', '),
            ],
          ],
        }),
      lateReply: () => lateReply(smt),
      close: async () => {
        await smt.close();
      },
    };
  },
};
