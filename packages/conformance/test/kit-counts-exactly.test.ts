/**
 * The kit must count a late reply, a notification dropped at teardown and a hostile reply exactly
 * once in all — and read the counts once the wire is closed:
 *
 * - a wire that counts a reply again as it closes (`countsAgainAtCloseFixture`: right before the
 *   close, wrong after it) must fail the same-thread seed scenario, the notification side of it,
 *   and the jest late-reply cases;
 * - a wire that counts every reply for no transfer in flight twice (`countsStrayRepliesTwiceFixture`)
 *   must fail the jest hostile-reply cases and the overtaken-response case, whose counts are
 *   exact (one per fault fired, one overtaken response).
 *
 * Each beside the same wrapper left correct. The jest cases are captured and run here (see
 * `captureCases`), so that this suite holds no failing case.
 */
import {
  runNotificationTeardownSameThread,
  runSeedScenarioSameThread,
  type NotificationTeardownPhase,
  type SeedPhase,
  type TransportFixture,
} from '@scmi-ts/conformance';
import {
  countsAgainAtCloseFixture,
  countsStrayRepliesTwiceFixture,
} from './support/broken-fixtures.js';
import {
  captureCases,
  conformanceCase,
  runCase,
  type CapturedCase,
} from './support/capture-conformance-cases.js';
import { runTransportConformance } from '@scmi-ts/conformance';

const PHASES = ['before-quiesce', 'during-quiesce', 'draining', 'after-release'] as const;

/** The case of `fixture`'s suite whose titles, from its innermost describe on, end with `titles`. */
function caseAt(fixture: TransportFixture, ...titles: string[]): CapturedCase {
  const found = captureCases(() => {
    runTransportConformance(fixture);
  }).filter((c) => !c.skipped && c.path.slice(-titles.length).every((t, i) => t === titles[i]));
  if (found.length !== 1)
    throw new Error(`expected one case at ${titles.join(' > ')}, found ${found.length}`);
  return found[0] as CapturedCase;
}

describe('a wire that counts the late reply again as it closes', () => {
  describe(runSeedScenarioSameThread, () => {
    it.each<SeedPhase>(PHASES)(
      'should report the reply counted twice in all (%s)',
      async (phase) => {
        const r = await runSeedScenarioSameThread(countsAgainAtCloseFixture(), phase);
        expect(r.accounted).toBe(2);
        expect(r.problems).toContainEqual(
          expect.stringMatching(
            /^the late reply was counted 2 times in all, not once \(by the agent \d, by the wire \d, by the platform side 0\)$/,
          ),
        );
      },
    );

    it.each<SeedPhase>(PHASES)(
      'should report nothing over the same wrapper left correct (%s)',
      async (phase) => {
        const r = await runSeedScenarioSameThread(
          countsAgainAtCloseFixture({ broken: false }),
          phase,
        );
        expect(r.problems).toEqual([]);
        expect(r.accounted).toBe(1);
      },
    );
  });

  describe(runNotificationTeardownSameThread, () => {
    it.each<NotificationTeardownPhase>(PHASES)(
      'should report the notification counted twice in all (%s)',
      async (phase) => {
        const r = await runNotificationTeardownSameThread(countsAgainAtCloseFixture(), phase);
        expect(r.accounted).toBe(2);
        expect(r.problems).toContainEqual(
          expect.stringMatching(
            new RegExp(
              `^the notification posted ${phase} was dropped and counted 2 times in all, not once`,
            ),
          ),
        );
      },
    );

    it.each<NotificationTeardownPhase>(PHASES)(
      'should report nothing over the same wrapper left correct (%s)',
      async (phase) => {
        const r = await runNotificationTeardownSameThread(
          countsAgainAtCloseFixture({ broken: false }),
          phase,
        );
        expect(r.problems).toEqual([]);
        expect(r.accounted).toBe(1);
      },
    );
  });

  describe("runTransportConformance's late-reply cases, checked once the wire is closed", () => {
    const LATE_REPLY_CASE =
      'should time out, count the late reply, and leave the next transfer unaffected';
    const POLLED_CASE = 'should drop it and count it exactly once, never lose it';
    const POLLED_AFTER_REMOVAL =
      'with a late reply on a polling channel, sent after the agent was removed';

    it('should fail the late-reply case: 2 counted, not 1', async () => {
      const failure = await runCase(conformanceCase(countsAgainAtCloseFixture(), LATE_REPLY_CASE));
      expect(failure).toMatch(/Expected: 1\s+Received: 2/);
    });

    it('should fail the polled late-reply case (sent after the agent was removed): 2 counted, not 1', async () => {
      const failure = await runCase(
        caseAt(countsAgainAtCloseFixture(), POLLED_AFTER_REMOVAL, POLLED_CASE),
      );
      expect(failure).toMatch(/Expected: 1\s+Received: 2/);
    });

    it('should pass both over the same wrapper left correct', async () => {
      const fixture = countsAgainAtCloseFixture({ broken: false });
      expect(await runCase(conformanceCase(fixture, LATE_REPLY_CASE))).toBeUndefined();
      expect(await runCase(caseAt(fixture, POLLED_AFTER_REMOVAL, POLLED_CASE))).toBeUndefined();
    });
  });
});

describe('a wire that counts every reply for no transfer in flight twice', () => {
  const HOSTILE_CASE = 'should count them, never crash, and keep working';
  const OVERTAKEN_CASE = 'should accept a delayed response that overtakes its response';

  it.each(['corrupt-token', 'duplicate', 'unsolicited'])(
    'should fail the hostile case (%s): 4 counted for the 2 faults fired',
    async (kind) => {
      const failure = await runCase(
        caseAt(countsStrayRepliesTwiceFixture(), `with hostile replies (${kind})`, HOSTILE_CASE),
      );
      expect(failure).toMatch(/Expected: 2\s+Received: 4/);
    },
  );

  it('should fail the overtaken-response case: the response after the delayed one counted twice', async () => {
    const failure = await runCase(
      conformanceCase(countsStrayRepliesTwiceFixture(), OVERTAKEN_CASE),
    );
    expect(failure).toMatch(/Expected: 1\s+Received: 2/);
  });

  it.each(['corrupt-token', 'duplicate', 'unsolicited'])(
    'should pass the hostile case (%s) over the same wrapper left correct',
    async (kind) => {
      const fixture = countsStrayRepliesTwiceFixture({ broken: false });
      expect(
        await runCase(caseAt(fixture, `with hostile replies (${kind})`, HOSTILE_CASE)),
      ).toBeUndefined();
    },
  );

  it('should pass the overtaken-response case over the same wrapper left correct', async () => {
    const fixture = countsStrayRepliesTwiceFixture({ broken: false });
    expect(await runCase(conformanceCase(fixture, OVERTAKEN_CASE))).toBeUndefined();
  });
});
