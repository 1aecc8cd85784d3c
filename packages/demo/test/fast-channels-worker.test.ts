/**
 * Performance fast channels across threads: the platform (SCP-firmware's fast channels, polled on
 * a real clock) in the demo's platform worker behind the mailbox transport, the agent on this
 * thread, one `SharedArrayBuffer` both ends map — each word an `Atomics` access on both sides.
 * Real time: the test waits (bounded) for what must happen, and asserts what happened, never how
 * long it took.
 */
import { join } from 'node:path';
import {
  ScmiMemoryMap,
  coreModule,
  createAgent,
  resolveWorkerEntry,
  startWorker,
  type ScmiAgent,
  type WorkerHost,
} from '@scmi-ts/core';
import {
  mailboxTransportModule,
  openSmtWorkerWire,
  type SmtWorkerWire,
} from '@scmi-ts/mailbox-transport';
import {
  PERF_FAST_CHANNEL_LEVEL_SET_OFFSET,
  PERF_FAST_CHANNEL_SLOT_SIZE,
  createDefaultPlatformConfig,
  type PlatformConfig,
  type PlatformCounters,
} from '@scmi-ts/platform';
import { performanceProtocolDriver, protocolsModule } from '@scmi-ts/protocols';
import { Container } from 'inversify';
import type { PlatformWorkerData } from '../src/platform-worker.js';

const BASE = 0x9000_0000n;

/**
 * Waits until `check` holds, trying again every millisecond or so for 10 s of real time at most;
 * returns whether it did.
 */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return check();
}

/** The one performance domain, pinned here: what is counted below depends on its limits. */
const LEVELS = [
  { value: 400, powerCost: 1, latencyUs: 10 },
  { value: 800, powerCost: 2, latencyUs: 10 },
  { value: 1200, powerCost: 3, latencyUs: 10 },
];

describe('Performance fast channels with the platform in a worker', () => {
  it('should carry a level and limits through shared memory both ways, and stop at the removal', async () => {
    const memory = new SharedArrayBuffer(4 * PERF_FAST_CHANNEL_SLOT_SIZE);
    const defaults = createDefaultPlatformConfig();
    const config: PlatformConfig = {
      ...defaults,
      devices: [],
      agents: [{ id: 1, name: 'OSPM', protocols: ['performance'] }],
      performanceFastChannels: { memory, base: BASE, rateLimitUs: 1000 },
      // At the top level, limits the whole range: the first limits set changes them.
      performanceDomains: [{ name: 'cpu', levels: LEVELS, level: 1200, fastChannels: true }],
    };
    const data: PlatformWorkerData = { transport: 'mailbox', agentId: 1, config };
    const host: WorkerHost = await startWorker({
      entry: resolveWorkerEntry(join(__dirname, '../src'), 'platform-worker'),
      data,
      name: 'fast-channels-worker-test',
    });
    let agent: ScmiAgent | undefined;
    let smt: SmtWorkerWire | undefined;
    try {
      smt = await openSmtWorkerWire(host, { agentId: 1, a2p: [0], p2a: [0] });
      const container = new Container();
      container.load(coreModule, mailboxTransportModule, protocolsModule);
      agent = await createAgent(container, {
        transport: 'mailbox',
        transportConfig: { wire: smt.wire },
        memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
        rxTimeoutMs: 1000,
      });
      const perf = agent.protocol(performanceProtocolDriver);
      expect(perf.domains.info(0).levels.map((l) => l.value)).toEqual([400, 800, 1200]);
      const fc = perf.fastChannels(0);
      expect(fc?.skipped.size).toBe(0);
      expect(fc?.levelSet?.address).toBe(BASE + BigInt(PERF_FAST_CHANNEL_LEVEL_SET_OFFSET));
      const [lowest, second] = [400, 800];

      // Limits written here are read by the worker's poll: the level is pulled inside them, and
      // both come back in the get channels.
      await perf.setLimits(0, second, lowest);
      expect(
        await eventually(async () => {
          const limits = await perf.getLimits(0);
          return limits.max === second && limits.min === lowest;
        }),
      ).toBe(true);
      expect(await eventually(async () => (await perf.getLevel(0)) === second)).toBe(true);
      // Then a level inside them. (Both values stay in their channels, the platform reading them
      // at every poll: inside each other, they change nothing more, so what is counted below
      // does not depend on how many polls ran.)
      await perf.setLevel(0, lowest);
      expect(await eventually(async () => (await perf.getLevel(0)) === lowest)).toBe(true);
      // The platform's state says so too, through a command sent as a message.
      expect(await perf.withoutFastChannels().getLevel(0)).toBe(lowest);
      const counters = (await host.call('platformCounters')) as PlatformCounters;
      expect(counters).toMatchObject({ fastChannelApplied: 2, fastChannelRejected: 0 });

      await agent.remove();
      agent = undefined;
      // Nothing of the agent's reaches the memory after the removal.
      const before = new Uint8Array(memory).slice();
      await expect(perf.setLevel(0, second)).rejects.toMatchObject({ code: 'E_REVOKED' });
      expect(Buffer.from(new Uint8Array(memory)).equals(Buffer.from(before))).toBe(true);
    } finally {
      await agent?.remove();
      await smt?.close();
      await host.stop();
    }
  });
});
