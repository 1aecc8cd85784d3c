import { RealClock } from '@scmi-ts/core';
import {
  SharedMailboxRemote,
  createSharedMailboxWire,
  mailboxTransport,
  type MailboxWire,
  type SmtChannelReport,
} from '@scmi-ts/mailbox-transport';
import { a2pChannelSetup, defined } from './support/harness.js';

/**
 * Worker mode: the platform's thread may ring at any instant of the agent's `free()`. The ring of
 * a late reply that lands while `free()` runs must be counted once: as refused after quiesce (seen
 * by free) or as ignored after free. The other thread's ring is placed deterministically right
 * after free's k-th look at the mailbox's drop count (the same Atomics.add and notify the worker
 * does), or just after free when it looks fewer times.
 */
async function freeWithRingAfterLook(k: number): Promise<SmtChannelReport> {
  const { wire, spec } = createSharedMailboxWire({ a2p: [0], p2a: [0] });
  const a2p = defined(spec.layout.channels.find((c) => c.direction === 'a2p' && c.id === 0));
  const remote = new SharedMailboxRemote(spec.region, a2p.mailbox);
  let armed = false;
  let looks = 0;
  const controller = Object.create(wire.controller) as MailboxWire['controller'];
  controller.requestChannel = (index, client) => {
    const channel = wire.controller.requestChannel(index, client);
    return new Proxy(channel, {
      get(target, prop): unknown {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop === 'ignored' && armed && ++looks === k) remote.ring();
        return typeof value === 'function'
          ? (value as (...args: unknown[]) => unknown).bind(target)
          : value;
      },
    });
  };
  const config = mailboxTransport.validateConfig?.(
    { wire: { layout: wire.layout, controller, monitor: wire.monitor } },
    'transportConfig',
  );
  const channel = await mailboxTransport.setupChannel(a2pChannelSetup(config, new RealClock(), 2));
  await channel.quiesce();
  armed = true;
  const freed = channel.free(); // its looks at the count happen synchronously, in this call
  armed = false;
  await freed;
  if (looks < k) remote.ring(); // free looked fewer times: the ring lands just after it
  remote.close();
  return defined(wire.monitor.channel('a2p:0'));
}

describe('SmtChannel.free() in worker mode', () => {
  it.each([1, 2, 3])(
    'should count a late reply rung right after its look %i at the drop count exactly once',
    async (k) => {
      const report = await freeWithRingAfterLook(k);
      expect(report.ignoredRings).toBe(1);
      expect(report.counters.refusedAfterQuiesce + report.ignoredAfterFree).toBe(1);
    },
  );
});
