import { ScmiTimeoutError } from '@scmi-ts/core';
import { ensureNoLeaksInSuite, type DevresEvent } from '@scmi-ts/devres';
import { BaseMessageId } from '@scmi-ts/platform';
import { createVirtioHarness } from './support/harness.js';

/**
 * The race this project exists to make impossible (LKML, "firmware: arm_scmi: Free mailbox channels
 * if probe fails"; the virtio transport exposed it first): Base discovery times out during probe,
 * the platform's reply arrives late, and probe fails. Here the reply is written into its cmdq
 * buffer at 20 ms, but its used-buffer notification is held until the test delivers it in a chosen
 * phase of the teardown.
 */
type Phase =
  | 'before quiesce'
  | 'during quiesce, before the channel'
  | 'as the channel quiesces'
  | 'after the channel quiesced, before the reset'
  | 'after release';

async function runSeedScenario(phase: Phase) {
  const h = createVirtioHarness({ auto: false });
  h.platform.faults.add({
    match: { protocolId: 0x10, messageId: 0x0, nth: 1 },
    action: { kind: 'delay', ms: 20 },
  });
  let held: (() => void) | undefined;
  h.setAgentSignalInterceptor?.((deliver) => {
    if (held === undefined) held = deliver;
    else h.clock.schedule(deliver);
  });
  const deliverAt = (event: DevresEvent): void => {
    const trigger =
      (phase === 'before quiesce' && event.type === 'teardown-begin') ||
      (phase === 'during quiesce, before the channel' &&
        event.type === 'quiesce' &&
        event.resource === 'agent gate') ||
      (phase === 'as the channel quiesces' &&
        event.type === 'quiesce' &&
        event.resource === 'channel a2p:0') ||
      (phase === 'after the channel quiesced, before the reset' &&
        event.type === 'quiesce' &&
        event.resource === 'virtio device');
    if (trigger) held?.();
  };
  const events: DevresEvent[] = [];
  const probe = h.create({
    log: (e) => {
      events.push(e);
      deliverAt(e);
    },
  });
  const outcome = probe.then(
    () => undefined,
    (e: unknown) => e,
  );
  await h.clock.advance(31); // the 30 ms timeout fires; probe fails and tears down
  const error = await outcome;
  if (phase === 'after release') held?.();
  await h.clock.runUntilIdle();
  await h.shutdown();
  const a2p = h.wire.driverDiagnostics.channels.get('a2p:0');
  return { h, error, events, held, counters: a2p?.counters };
}

describe('seed scenario: Base discovery times out, the reply arrives late, probe fails', () => {
  ensureNoLeaksInSuite();

  describe.each<Phase>([
    'before quiesce',
    'during quiesce, before the channel',
    'as the channel quiesces',
    'after the channel quiesced, before the reset',
    'after release',
  ])('when the late reply is signalled %s', (phase) => {
    it('should fail the probe with the timeout and drop the reply, counted, without touching released state', async () => {
      const { h, error, events, held, counters } = await runSeedScenario(phase);
      expect(error).toBeInstanceOf(ScmiTimeoutError);
      expect(held).toBeDefined();
      const d = h.wire.driverDiagnostics;
      // Dropped and counted: as a late reply while the channel was open, refused by its RX guard
      // once it quiesced, or dropped by the closed interrupt line after release.
      const late = counters?.lateReplies ?? 0;
      const refused = counters?.refusedAfterQuiesce ?? 0;
      expect(late + refused + d.signalsAfterClose).toBe(1);
      if (phase === 'after release') expect(d.signalsAfterClose).toBe(1);
      else if (phase === 'after the channel quiesced, before the reset') expect(refused).toBe(1);
      else expect(late).toBe(1);
      // The reply's buffer went back exactly once: returned late, or reclaimed after the reset.
      expect(d.lateReturns + d.reclaimedBuffers - h.wire.layout.eventqSize).toBe(1);
      // A reply the device returned that the driver never read is still in the used ring at the
      // reset: counted there, once.
      const unread =
        phase === 'after release' || phase === 'after the channel quiesced, before the reset';
      expect(d.unreadAtReset).toBe(unread ? 1 : 0);
      // Of those, the ones nothing counted yet: the reply whose notification the RX guard refused
      // is counted there (refusedAfterQuiesce), not again; the one signalled after release is not.
      expect(d.uncountedAtReset).toBe(phase === 'after release' ? 1 : 0);
      expect(d.violations).toEqual([]);
      expect(d.buffersAllocated).toBe(0);
      expect(d.leakedBuffers).toBe(0);
      for (const record of d.channels.values()) expect(record.frees).toBe(1);
      // Every resource released exactly once, newest first, and every quiesce before any release.
      const adds = events.filter((e) => e.type === 'add').map((e) => e.resource);
      const releases = events.filter((e) => e.type === 'release').map((e) => e.resource);
      expect(releases).toEqual([...adds].reverse());
      const teardown = events.slice(events.findIndex((e) => e.type === 'teardown-begin'));
      expect(teardown.filter((e) => e.type === 'quiesce').map((e) => e.resource)).toEqual([
        'agent gate',
        'channel p2a:0',
        'channel a2p:0',
        'virtio device',
        'transfers',
        'notifications',
      ]);
      const lastQuiesce = teardown.map((e) => e.type).lastIndexOf('quiesce');
      const firstRelease = teardown.findIndex((e) => e.type === 'release');
      expect(lastQuiesce).toBeLessThan(firstRelease);
      // No timer left armed, nothing left to run, on either side.
      expect(h.clock.armedTimers).toBe(0);
      expect(h.clock.pendingTasks).toBe(0);
      expect(h.platform.armedTimers).toBe(0);
    });
  });

  it('should deliver the reply to the live transfer when its notification comes before the timeout', async () => {
    const h = createVirtioHarness({ auto: false });
    h.platform.faults.add({
      match: { protocolId: 0x10, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 },
      action: { kind: 'delay', ms: 20 },
    });
    const probe = h.create();
    await h.clock.runUntilIdle();
    const agent = await probe;
    expect(agent.info.vendor).toBe('scmi-ts');
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    await h.shutdown();
    expect(h.wire.driverDiagnostics.channels.get('a2p:0')?.counters.lateReplies).toBe(0);
  });
});
