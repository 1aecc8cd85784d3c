import { ScmiTimeoutError, type ChannelStats } from '@scmi-ts/core';
import { ensureNoLeaksInSuite, type DevresEvent } from '@scmi-ts/devres';
import { createOpteeHarness, type OpteeHarness } from './support/harness.js';

/**
 * The seed scenario over OP-TEE (LKML, "firmware: arm_scmi: Free mailbox channels if probe
 * fails"): Base discovery times out during probe, the invocation carrying it returns late, probe
 * fails. Over OP-TEE the late "reply" is the invocation's return: the secure world answered at
 * 20 ms, the normal world sees the return when the test delivers it — in each phase of the
 * teardown. It can never come after release: the channel's quiesce waits for the invocation,
 * because the invocation owns the shared memory.
 */
type Phase =
  | 'before quiesce'
  | 'during quiesce, before the channel'
  | 'as the channel quiesces'
  | 'only once teardown waits for it';

interface Run {
  readonly h: OpteeHarness;
  readonly error: unknown;
  readonly events: DevresEvent[];
  readonly counters: ChannelStats | undefined;
  readonly releasedBeforeDelivery: number;
}

async function runSeedScenario(shmem: 'static' | 'dynamic', phase: Phase): Promise<Run> {
  const h = await createOpteeHarness({ shmem, auto: false });
  // Base PROTOCOL_VERSION is answered after 20 ms (before the 30 ms timeout) …
  h.platform.faults.add({
    match: { protocolId: 0x10, messageId: 0x0, nth: 1 },
    action: { kind: 'delay', ms: 20 },
  });
  const events: DevresEvent[] = [];
  let held: (() => void) | undefined;
  let releasedBeforeDelivery = -1;
  const deliver = (): void => {
    if (held === undefined) return;
    const begin = events.findIndex((e) => e.type === 'teardown-begin');
    releasedBeforeDelivery =
      begin < 0 ? 0 : events.slice(begin).filter((e) => e.type === 'release').length;
    const d = held;
    held = undefined;
    d();
  };
  const deliverAt = (event: DevresEvent): void => {
    const trigger =
      (phase === 'before quiesce' && event.type === 'teardown-begin') ||
      (phase === 'during quiesce, before the channel' &&
        event.type === 'quiesce' &&
        event.resource === 'agent gate') ||
      (phase === 'as the channel quiesces' &&
        event.type === 'quiesce' &&
        event.resource === 'channel a2p:0');
    if (trigger) deliver();
  };
  const probe = h
    .create({
      log: (e) => {
        events.push(e);
        deliverAt(e);
      },
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  // Setup runs on tasks only; then PROTOCOL_VERSION's invocation waits in the secure world.
  await h.clock.runTasks();
  expect(h.ends.optee.stats.scmi.messages).toBe(1);
  // … but the normal world sees the invocation return only when the test delivers it.
  h.ends.setAgentSignalInterceptor((d) => {
    if (held === undefined && releasedBeforeDelivery < 0) held = d;
    else h.clock.schedule(d);
  });
  await h.clock.advance(30); // the secure world answers at 20; the agent times out at 30
  await h.clock.runUntilIdle(); // teardown: cancel request, session close… are calls too
  if (phase === 'only once teardown waits for it') {
    // The device teardown is stuck in the channel's quiesce: nothing of it was released.
    const begin = events.findIndex((e) => e.type === 'teardown-begin');
    expect(events.slice(begin).filter((e) => e.type === 'release')).toEqual([]);
    expect(held).toBeDefined();
    deliver();
    await h.clock.runUntilIdle();
  }
  const error = await probe;
  const counters = h.ends.transport.diagnostics().totals;
  return {
    h,
    error,
    events,
    counters: {
      lateReplies: counters.lateReplies,
      refusedAfterQuiesce: counters.refusedReturns,
    } as ChannelStats,
    releasedBeforeDelivery,
  };
}

describe('seed scenario over OP-TEE: Base discovery times out, the invocation returns late, probe fails', () => {
  ensureNoLeaksInSuite();

  describe.each(['static', 'dynamic'] as const)('with %s shared memory', (shmem) => {
    describe.each<Phase>([
      'before quiesce',
      'during quiesce, before the channel',
      'as the channel quiesces',
      'only once teardown waits for it',
    ])('when the invocation return is seen %s', (phase) => {
      it('should fail the probe with the timeout, count the late return, and release only after it', async () => {
        const { h, error, events, counters, releasedBeforeDelivery } = await runSeedScenario(
          shmem,
          phase,
        );
        expect(error).toBeInstanceOf(ScmiTimeoutError);
        // Delivered and counted while the channel was open, or refused by its closed guard.
        const late = counters?.lateReplies ?? 0;
        const refused = counters?.refusedAfterQuiesce ?? 0;
        expect(late + refused).toBe(1);
        // Until the channel's quiesce step runs, its guard is open (the return is handled in the
        // task that delivers it); once it runs, the return is refused.
        expect(refused).toBe(phase === 'only once teardown waits for it' ? 1 : 0);
        expect(h.ends.transport.diagnostics().totals.lateReturns).toBe(1);
        // The invocation returned before the teardown released anything: it owned the memory.
        expect(releasedBeforeDelivery).toBe(0);
        expect(h.ends.transport.diagnostics().violations).toEqual([]);
        // Every resource released exactly once, newest first, after every quiesce.
        const adds = events.filter((e) => e.type === 'add').map((e) => e.resource);
        const releases = events.filter((e) => e.type === 'release').map((e) => e.resource);
        expect(releases).toEqual([...adds].reverse());
        const teardown = events.slice(events.findIndex((e) => e.type === 'teardown-begin'));
        expect(teardown.filter((e) => e.type === 'quiesce').map((e) => e.resource)).toEqual([
          'agent gate',
          'channel a2p:0',
          'transfers',
          'notifications',
        ]);
        const lastQuiesce = teardown.map((e) => e.type).lastIndexOf('quiesce');
        expect(lastQuiesce).toBeLessThan(teardown.findIndex((e) => e.type === 'release'));
        // Sessions closed, shared memory unregistered, no timer armed, nothing left to run.
        expect(h.ends.optee.stats.openSessions).toBe(0);
        expect(h.ends.optee.stats.registeredShm).toBe(0);
        expect(h.clock.armedTimers).toBe(0);
        expect(h.clock.pendingTasks).toBe(0);
        await h.close();
      });
    });

    it('should deliver the reply to the live transfer when the return is seen before the timeout', async () => {
      const h = await createOpteeHarness({ shmem, auto: false });
      h.platform.faults.add({
        match: { protocolId: 0x10, messageId: 0x0, nth: 1 },
        action: { kind: 'delay', ms: 20 },
      });
      const probe = h.create();
      await h.clock.runUntilIdle();
      const agent = await probe;
      expect(agent.info.vendor).toBe('scmi-ts');
      expect(h.ends.transport.diagnostics().totals.lateReturns).toBe(0);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      await h.close();
    });
  });
});
