/**
 * The cancel path in worker mode: quiesce sends a cancel request for an invocation still running,
 * and the emulated TEE — now in another thread — must see it against the running invocation. The
 * same-thread tests cover it on the virtual clock; here the request crosses threads over the
 * wire. Invariants only, no timings: the transfer's timeout is certain (the PTA holds the
 * invocation until it is cancelled), and removal can only return once the cancel request reached
 * the worker's PTA.
 */
import { ScmiTimeoutError } from '@scmi-ts/core';
import { ensureNoLeaksInSuite, type DevresEvent } from '@scmi-ts/devres';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { createOpteeFixture, createWorkerAgent, type OpteeWorker } from './support/fixture.js';

/**
 * `p`, or a rejection once `ms` pass first: a hang guard (a removal that waits for an invocation
 * nobody cancels never returns), not a timing check — the wire's close in `finally` then lets the
 * invocation go, so the test fails instead of hanging until jest's timeout.
 */
function orHang<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

describe.each(['static', 'dynamic'] as const)(
  'worker-mode cancel with %s shared memory',
  (shmem) => {
    ensureNoLeaksInSuite();
    let worker: OpteeWorker;

    beforeAll(async () => {
      worker = await createOpteeFixture({ shmem, busyTimeoutMs: 5000 }).worker({
        platformConfig: createDefaultPlatformConfig(),
        agentId: 1,
        seed: 11,
      });
    });

    afterAll(async () => {
      await worker.stop();
    });

    it('should end a PTA hang through the cancel request quiesce sends across threads', async () => {
      const ends = await worker.open();
      try {
        const events: DevresEvent[] = [];
        // The file's 1000 ms: the probe's commands must be answered in time on a loaded machine;
        // the hung transfer times out whatever the limit (the PTA never returns it by itself).
        const agent = await createWorkerAgent(ends, {
          rxTimeoutMs: 1000,
          log: (e) => events.push(e),
        });
        await ends.setWireFaults([{ match: { times: 1 }, action: { kind: 'hang-until-cancel' } }]);
        const hung = await agent
          .transact(0x10, 0x3, undefined, { rxSize: 16 })
          .catch((e: unknown) => e);
        expect(hung).toBeInstanceOf(ScmiTimeoutError);
        // The channel stays held: its invocation still runs in the worker.
        const held = ends.transport.diagnostics().channels[0];
        expect(held?.invoking).toBe(true);
        expect((await ends.teeStats())?.cancelRequests).toBe(0);

        await orHang(agent.remove(), 20_000, 'agent.remove()');

        // The worker's OP-TEE took one cancel request, against the invocation it was running.
        expect(await ends.teeStats()).toMatchObject({
          cancelRequests: 1,
          cancelledInvocations: 1,
          openSessions: 0,
          registeredShm: 0,
          internalErrors: 0,
          callsOverRunningSlot: 0,
        });
        // The transport sent one, and counted the return it caused as late, refused after quiesce.
        const d = ends.transport.diagnostics();
        expect(d.totals).toMatchObject({
          cancelRequests: 1,
          lateReturns: 1,
          lateReplies: 0,
          refusedReturns: 1,
          teeErrors: 0,
          busyRejections: 0,
        });
        expect(d.violations).toEqual([]);
        expect(d.channels).toEqual([]);
        expect(d.armedTimers).toBe(0);
        const adds = events.filter((e) => e.type === 'add').map((e) => e.resource);
        const releases = events.filter((e) => e.type === 'release').map((e) => e.resource);
        expect(releases).toEqual([...adds].reverse());
        expect(await worker.platformTimers()).toBe(0);
      } finally {
        await ends.setWireFaults([]).catch(() => undefined);
        await ends.close();
      }
    });
  },
);
