import { ScmiMessageType, packHeader } from '@scmi-ts/core';
import type { DevresEvent } from '@scmi-ts/devres';
import type { TransportFixture } from '../fixture.js';
import { AGENT_ID, SameThreadRig } from '../rig.js';
import { u32s } from '../words.js';
import { CLOCK, CLOCK_RATE_CHANGED, registerClockRateChanged } from './clock-rate-events.js';

/**
 * When the platform posts the scenario's notification, as the agent is removed:
 *
 * - `before-quiesce`: as teardown begins, before any quiesce step;
 * - `during-quiesce`: at the agent's own quiesce step (the first), before it has stopped the
 *   delivery of notifications and before any channel quiesces;
 * - `draining`: once the P2A channel's quiesce step has started (its guard is closing or closed);
 * - `after-release`: after the removal finished (the wire is reset or closed).
 */
export type NotificationTeardownPhase =
  'before-quiesce' | 'during-quiesce' | 'draining' | 'after-release';

/** The outcome of one {@link runNotificationTeardownSameThread} run. */
export interface NotificationTeardownResult {
  /** The phase asked for. */
  readonly phase: NotificationTeardownPhase;
  /**
   * The platform's post was taken by the wire (false: `PlatformAgentLink.post` refused it, or the
   * link was already disconnected — counted once in `accounted`, by the kit as the platform side
   * that posted it, never by the wire).
   */
  readonly posted: boolean;
  /** Handler calls for the notification posted during teardown (there must be none). */
  readonly handled: number;
  /**
   * Where the notification posted during teardown was dropped and counted, each place once: the
   * agent's notification queue (`discarded` when it quiesced, `dropped`), a P2A channel's RX guard
   * (`refusedAfterQuiesce`), the wire (`droppedSignals`: a post it took, then could not deliver —
   * a ring after release, a queued post dropped at the free), or the platform side (a post to a
   * link already disconnected, or one the link refused by returning false: the poster's to count,
   * and the kit counts it, so a wire that counts it in `droppedSignals` too counts it twice) —
   * read once the wire is closed. The kit requires exactly 1 (anything else is in `problems` too,
   * each of these terms named).
   */
  readonly accounted: number;
  /** The agent's notification hub accepted it into its queue (must be false from `draining` on). */
  readonly queuedByAgent: boolean;
  /**
   * The wire signalled the notification to the agent as it was posted (through
   * `FixtureEnds.setAgentSignalInterceptor`): it then reached the agent in the phase asked for.
   * False for a fixture without the interceptor, whose wire signals from a task of its own: the
   * notification then reaches the agent only when teardown first waits, at a channel's quiesce.
   */
  readonly signalledAtPost: boolean;
  /** Invariant violations, each a readable line (the rig's hygiene problems included). */
  readonly problems: readonly string[];
}

/** CLOCK_RATE_CHANGED for clock 0 with `rate` (agent id, clock id, rate low and high words). */
function rateChanged(rate: number): Uint8Array {
  const header = packHeader({
    messageId: CLOCK_RATE_CHANGED,
    type: ScmiMessageType.NOTIFICATION,
    protocolId: CLOCK,
    token: 0,
  });
  return u32s(header, AGENT_ID, 0, rate, 0);
}

/**
 * A notification arrives while the agent is removed, at `phase`, in the same thread on the virtual
 * clock — the notification side of the seed scenario. The agent subscribes to CLOCK_RATE_CHANGED
 * of clock 0 and first gets one notification while live (the wire carries notifications at all);
 * then the platform posts a second one at `phase` of the removal. Checks that no handler is called
 * for it — not once the removal began, let alone against a released channel — that it is dropped
 * and counted exactly once (by the agent's hub, a P2A guard, the wire or the platform side), that
 * the agent's hub is never handed it once the P2A channel's quiesce has started, and the rig's
 * hygiene (every resource released once, newest first; no callback after quiesce; nothing left
 * armed).
 *
 * @example
 * ```ts
 * const r = await runNotificationTeardownSameThread(fixture, 'draining');
 * expect(r.problems).toEqual([]);
 * expect(r.accounted).toBe(1);
 * ```
 */
export async function runNotificationTeardownSameThread(
  fixture: TransportFixture,
  phase: NotificationTeardownPhase,
): Promise<NotificationTeardownResult> {
  const rig = await SameThreadRig.create(fixture);
  const problems: string[] = [];
  const agent = await rig.probe({ notificationQueueDepth: 4 });
  registerClockRateChanged(agent);
  const rates: number[] = [];
  await agent.events.subscribe(
    { protocolId: CLOCK, eventId: CLOCK_RATE_CHANGED, source: 0 },
    (n) => {
      rates.push(new DataView(n.payload.buffer, n.payload.byteOffset).getUint32(8, true));
    },
  );

  // While live: the notification reaches the handler (else the rest would pass vacuously).
  const LIVE = 1;
  const DURING_TEARDOWN = 2;
  if (!rig.port.post(AGENT_ID, rateChanged(LIVE)))
    problems.push('the wire refused a notification while live');
  await rig.clock.runUntilIdle();
  if (!rates.includes(LIVE))
    problems.push('a notification posted while live never reached its handler');

  // Signals to the agent are delivered as the wire gives them, not from a task of the wire's own
  // (a same-thread doorbell's), so that the notification reaches the agent in the phase asked for.
  let signalled = false;
  rig.ends.setAgentSignalInterceptor?.((deliver) => {
    signalled = true;
    deliver();
  });
  const hubBefore = agent.diagnostics.notifications;
  const wireBefore = rig.ends.droppedSignals?.() ?? 0;
  const portBefore = rig.port.droppedAfterDisconnect;
  let posted: boolean | undefined;
  // The notification reached the agent as it was posted (the wire signalled it at once).
  let signalledAtPost = false;
  const post = (): void => {
    if (posted !== undefined) return;
    signalled = false;
    posted = rig.port.post(AGENT_ID, rateChanged(DURING_TEARDOWN));
    signalledAtPost = signalled;
  };
  // Read through a function: `post` sets it from a devres event or a quiesce hook.
  const wasSignalledAtPost = (): boolean => signalledAtPost;
  rig.onEvent = (e: DevresEvent): void => {
    if (phase === 'before-quiesce' && e.type === 'teardown-begin') post();
    if (phase === 'during-quiesce' && e.type === 'quiesce' && e.resource === 'agent') post();
  };
  if (phase === 'draining') {
    rig.instrument.onQuiesceStarted = (record): void => {
      if (record.label.startsWith('p2a:')) post();
    };
  }
  // Its failure is recorded once it settles; a removal that never settles is reported, not
  // awaited (the rig's dispose reports it again, within its own bound).
  const removed = agent.remove().catch((e: unknown) => {
    problems.push(`the removal failed: ${String(e)}`);
  });
  if (!(await rig.settle(removed))) problems.push('the removal never completed');
  if (phase === 'after-release') post();
  await rig.clock.runUntilIdle();
  rig.onEvent = undefined;
  rig.instrument.onQuiesceStarted = undefined;
  rig.ends.setAgentSignalInterceptor?.(undefined);

  if (posted === undefined) problems.push(`the notification was never posted (${phase})`);
  const handled = rates.filter((r) => r === DURING_TEARDOWN).length;
  if (handled > 0) {
    problems.push(`a handler was called ${handled} time(s) for a notification posted ${phase}`);
  }
  const hub = agent.diagnostics.notifications;
  // The hub took it: queued, or discarded on arrival (once the removal started it queues nothing)
  // or from its queue when it quiesced.
  const queuedByAgent = hub.queued > hubBefore.queued;
  const reachedHub = queuedByAgent || hub.discarded > hubBefore.discarded;
  if (reachedHub && (phase === 'draining' || phase === 'after-release')) {
    // Once its P2A channel's quiesce started, the transport's guard must refuse it: nothing
    // reaches core (the instrument flags an rx only once the quiesce returned).
    problems.push(`the agent's notification hub was handed a notification posted ${phase}`);
  }
  // Before any channel quiesced, a notification the wire signalled at once reaches the agent's
  // hub, which discards it (counted): the phase was really reached.
  const early = phase === 'before-quiesce' || phase === 'during-quiesce';
  if (early && wasSignalledAtPost() && !reachedHub) {
    problems.push(
      `the notification posted ${phase} was signalled to the agent at once, but its notification hub never took it`,
    );
  }
  // The rig's dispose closes the wire; the counts are read after it, so that a wire that counts the
  // notification again as it closes is seen.
  problems.push(...(await rig.dispose()));
  const final = agent.diagnostics.notifications;
  const byHub = final.discarded - hubBefore.discarded + (final.dropped - hubBefore.dropped);
  const byGuards = rig.instrument.refusedAfterQuiesce;
  const byWire = (rig.ends.droppedSignals?.() ?? 0) - wireBefore;
  const byPlatformSide = rig.port.droppedAfterDisconnect - portBefore;
  // A post the link refused while it was live (`post` returned false: no free buffer, the agent
  // side gone): the poster's to count — the platform's `notificationsDropped`, here the kit's, as
  // it posted — never the wire's (see `PlatformAgentLink.post`).
  const refusedPost = posted === false && byPlatformSide === 0 ? 1 : 0;
  const accounted = byHub + byGuards + byWire + byPlatformSide + refusedPost;
  if (accounted !== 1) {
    const twice =
      refusedPost === 1 && byWire > 0
        ? ': the link refused the post (returned false), which the platform side counts — a wire must not count a post it refused in droppedSignals too'
        : '';
    problems.push(
      `the notification posted ${phase} was dropped and counted ${accounted} times in all, not once (the agent's hub ${byHub}, P2A guards ${byGuards}, the wire ${byWire}, the platform side ${byPlatformSide}, a post refused ${refusedPost})${twice}`,
    );
  }
  return {
    phase,
    posted: posted === true,
    handled,
    accounted,
    queuedByAgent,
    signalledAtPost: wasSignalledAtPost(),
    problems,
  };
}
