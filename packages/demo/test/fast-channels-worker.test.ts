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
  type WorkerHost,
} from '@scmi-ts/core';
import { mailboxTransportModule, openSmtWorkerWire } from '@scmi-ts/mailbox-transport';
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

/** Waits until `check` holds, polling every millisecond for at most 5 s; returns whether it did. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 5000; i++) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return false;
}

describe('Performance fast channels with the platform in a worker', () => {
  it('should carry a level and limits through shared memory both ways, and stop at the removal', async () => {
    const memory = new SharedArrayBuffer(4 * PERF_FAST_CHANNEL_SLOT_SIZE);
    const defaults = createDefaultPlatformConfig();
    const config: PlatformConfig = {
      ...defaults,
      performanceFastChannels: { memory, base: BASE, rateLimitUs: 1000 },
      performanceDomains: (defaults.performanceDomains ?? []).map((d) => ({
        ...d,
        fastChannels: true,
      })),
    };
    const data: PlatformWorkerData = { transport: 'mailbox', agentId: 1, config };
    const host: WorkerHost = await startWorker({
      entry: resolveWorkerEntry(join(__dirname, '../src'), 'platform-worker'),
      data,
      name: 'fast-channels-worker-test',
    });
    try {
      const smt = await openSmtWorkerWire(host, { agentId: 1, a2p: [0], p2a: [0] });
      const container = new Container();
      container.load(coreModule, mailboxTransportModule, protocolsModule);
      const agent = await createAgent(container, {
        transport: 'mailbox',
        transportConfig: { wire: smt.wire },
        memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
        rxTimeoutMs: 1000,
      });
      const perf = agent.protocol(performanceProtocolDriver);
      const fc = perf.fastChannels(0);
      expect(fc?.skipped.size).toBe(0);
      expect(fc?.levelSet?.address).toBe(BASE + BigInt(PERF_FAST_CHANNEL_LEVEL_SET_OFFSET));
      const levels = perf.domains.info(0).levels.map((l) => l.value);
      const [lowest, second] = levels;
      if (lowest === undefined || second === undefined) throw new Error('too few levels');

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
      // Nothing of the agent's reaches the memory after the removal.
      const before = new Uint8Array(memory).slice();
      await expect(perf.setLevel(0, second)).rejects.toMatchObject({ code: 'E_REVOKED' });
      expect(Buffer.from(new Uint8Array(memory)).equals(Buffer.from(before))).toBe(true);
      await smt.close();
    } finally {
      await host.stop();
    }
  });
});
