import { ScmiTimeoutError } from '@scmi-ts/core';
import { ensureNoLeaksInSuite, type DevresEvent } from '@scmi-ts/devres';
import { createHarness } from './support/harness.js';
import type { LoopbackDelivery } from './support/loopback-transport.js';

/**
 * The race this project exists to make impossible (LKML, "firmware: arm_scmi: Free mailbox channels
 * if probe fails"): Base discovery times out during probe, the platform's reply arrives late, and
 * probe fails. The late reply is driven into each phase of the teardown, deterministically.
 */
type Phase =
  | 'before quiesce'
  | 'during quiesce, before the channel'
  | 'as the channel quiesces'
  | 'after release';

async function runSeedScenario(phase: Phase, options: { brokenQuiesce?: boolean } = {}) {
  const h = createHarness({ auto: false, brokenQuiesce: options.brokenQuiesce === true });
  // The platform answers Base PROTOCOL_VERSION after 20 ms, but the reply sits in the wire (its
  // doorbell not delivered) until the test chooses to deliver it.
  h.platform.delay = (req) => (req.protocolId === 0x10 && req.messageId === 0x0 ? 20 : undefined);
  let held: LoopbackDelivery | undefined;
  h.wire.intercept = (d) => {
    if (held === undefined) held = d;
    else h.clock.schedule(d.deliver);
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
    if (trigger) held?.deliver();
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
  await h.clock.advance(30); // the 30 ms timeout fires; probe fails and tears down
  const error = await outcome;
  if (phase === 'after release') held?.deliver();
  await h.clock.runUntilIdle();
  const a2p = h.wire.channels.get('a2p:0');
  return { h, error, events, held, counters: a2p?.counters };
}

describe('seed scenario: Base discovery times out, the reply arrives late, probe fails', () => {
  ensureNoLeaksInSuite();

  describe.each<Phase>([
    'before quiesce',
    'during quiesce, before the channel',
    'as the channel quiesces',
    'after release',
  ])('when the late reply arrives %s', (phase) => {
    it('should fail the probe with the timeout and drop the reply, counted, without touching released state', async () => {
      const { h, error, events, held, counters } = await runSeedScenario(phase);
      expect(error).toBeInstanceOf(ScmiTimeoutError);
      expect(held).toBeDefined();
      // Dropped and counted: as a late reply while the channel was open, refused by the guard after.
      const late = counters?.lateReplies ?? 0;
      const refused = counters?.refusedAfterQuiesce ?? 0;
      expect(late + refused).toBe(1);
      expect(phase === 'after release' ? refused : late).toBe(1);
      // No callback against a released channel or transfer.
      expect(h.wire.violations).toEqual([]);
      // Every resource released exactly once, newest first (the failed protocol group first, as its
      // transaction unwinds), and the device teardown quiesces everything before any release.
      const adds = events.filter((e) => e.type === 'add').map((e) => e.resource);
      const releases = events.filter((e) => e.type === 'release').map((e) => e.resource);
      expect(releases).toEqual([...adds].reverse());
      const teardown = events.slice(events.findIndex((e) => e.type === 'teardown-begin'));
      const lastQuiesce = teardown.map((e) => e.type).lastIndexOf('quiesce');
      const firstRelease = teardown.findIndex((e) => e.type === 'release');
      expect(teardown.filter((e) => e.type === 'quiesce').map((e) => e.resource)).toEqual([
        'agent gate',
        'channel p2a:0',
        'channel a2p:0',
        'transfers',
        'notifications',
      ]);
      expect(lastQuiesce).toBeLessThan(firstRelease);
      // No timer left armed, nothing left to run.
      expect(h.clock.armedTimers).toBe(0);
      expect(h.clock.pendingTasks).toBe(0);
    });
  });

  it('should deliver the reply to the live transfer when it arrives before the timeout', async () => {
    const h = createHarness({ auto: false });
    h.platform.delay = (req) => (req.protocolId === 0x10 && req.messageId === 0x0 ? 20 : undefined);
    const probe = h.create();
    await h.clock.runUntilIdle();
    const agent = await probe;
    expect(agent.info.vendor).toBe('fake-vendor');
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
  });

  it('should catch the bug: a transport that skips quiesce runs the late callback against a freed channel', async () => {
    const { h } = await runSeedScenario('after release', { brokenQuiesce: true });
    expect(h.wire.violations).toEqual(['a2p:0: callback ran after free']);
  });
});
