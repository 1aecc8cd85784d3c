/**
 * A post the link refuses (`PlatformAgentLink.post` returns false) is the poster's to count — the
 * platform's `notificationsDropped`, and in the notification teardown case the kit's, as the
 * platform side that posted it — never the wire's (`FixtureEnds.droppedSignals`). Over a wire
 * whose platform side stays connected until the wire is closed (its agent side freed, the link
 * still live), the notification posted after the removal is refused by the link:
 *
 * - a wire that counts the refusal in `droppedSignals` too must fail the case, with a message
 *   whose terms add up to the total it reports, the refused post named among them;
 * - the same wire counting nothing for it must pass, the refusal counted once (by the kit).
 */
import type { PlatformConnection, ScmiPlatformPort } from '@scmi-ts/core';
import {
  runNotificationTeardownSameThread,
  type NotificationTeardownPhase,
  type TransportFixture,
} from '@scmi-ts/conformance';
import { createLoopbackTransport } from '../../core/test/support/loopback-transport.js';
import type { BrokenFixtureOptions } from './support/broken-fixtures.js';

/**
 * Core's in-memory loopback, as a fixture whose platform connection is disconnected only when the
 * wire is closed (as a backend that serves the agent until its wire goes): after the removal its
 * link is still live, and refuses a post (the P2A channel was freed), which the loopback counts in
 * `refusedPosts`. Broken (the default), the wire reports that count as its own drops
 * (`droppedSignals`); with `broken: false` it reports none.
 */
function countsRefusedPostFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  return {
    name: 'loopback',
    variant: 'connected-until-close',
    capabilities: { p2a: true, interrupt: true, polling: true, outOfOrder: true, worker: false },
    sameThread: ({ platform, clock, agentId }) => {
      const connections: PlatformConnection[] = [];
      const connectedUntilClose: ScmiPlatformPort = {
        connect: (id, link) => {
          const connection = platform.connect(id, link);
          connections.push(connection);
          // The transport's release leaves it connected: the wire's close disconnects it.
          return { agentId: connection.agentId, disconnect: () => undefined };
        },
        handle: (id, channelId, request) => platform.handle(id, channelId, request),
      };
      const { transport, wire } = createLoopbackTransport({
        platform: connectedUntilClose,
        clock,
        agentId,
      });
      return Promise.resolve({
        transport,
        setAgentSignalInterceptor: (interceptor) => {
          wire.intercept = interceptor === undefined ? undefined : (d) => interceptor(d.deliver);
        },
        droppedSignals: () => (broken ? wire.refusedPosts : 0),
        close: () => {
          for (const c of connections.splice(0)) c.disconnect();
          return Promise.resolve();
        },
      });
    },
  };
}

/** The terms of the kit's "counted N times in all" message, and its total. */
function termsOf(problem: string): { total: number; terms: Record<string, number> } {
  const m = /counted (\d+) times in all, not once \(([^)]*)\)/.exec(problem);
  if (m === null) throw new Error(`not a count message: ${problem}`);
  const terms = Object.fromEntries(
    (m[2] as string).split(', ').map((part) => {
      const at = part.lastIndexOf(' ');
      return [part.slice(0, at), Number(part.slice(at + 1))];
    }),
  );
  return { total: Number(m[1]), terms };
}

describe('a wire that counts a post its link refused in droppedSignals', () => {
  it('should fail the after-release case, naming every term of the count, the refused post among them', async () => {
    const r = await runNotificationTeardownSameThread(countsRefusedPostFixture(), 'after-release');
    expect(r.posted).toBe(false);
    expect(r.accounted).toBe(2);
    expect(r.problems).toEqual([
      "the notification posted after-release was dropped and counted 2 times in all, not once (the agent's hub 0, P2A guards 0, the wire 1, the platform side 0, a post refused 1): the link refused the post (returned false), which the platform side counts — a wire must not count a post it refused in droppedSignals too",
    ]);
  });

  it('should report terms that add up to the total it reports', async () => {
    const r = await runNotificationTeardownSameThread(countsRefusedPostFixture(), 'after-release');
    const { total, terms } = termsOf(r.problems[0] ?? '');
    expect(Object.keys(terms)).toEqual([
      "the agent's hub",
      'P2A guards',
      'the wire',
      'the platform side',
      'a post refused',
    ]);
    expect(Object.values(terms).reduce((a, b) => a + b, 0)).toBe(total);
    expect(total).toBe(r.accounted);
  });

  it.each<NotificationTeardownPhase>([
    'before-quiesce',
    'during-quiesce',
    'draining',
    'after-release',
  ])('should report nothing over the same wire left correct (%s)', async (phase) => {
    const r = await runNotificationTeardownSameThread(
      countsRefusedPostFixture({ broken: false }),
      phase,
    );
    expect(r.problems).toEqual([]);
    expect(r.accounted).toBe(1);
    // After the release the link refused it, and the kit counted it once, as the platform side.
    if (phase === 'after-release') expect(r.posted).toBe(false);
  });
});
