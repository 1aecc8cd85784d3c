/**
 * The kit must catch a transport whose removal hangs (a channel's quiesce never settles) and
 * report it as a failure of its own — not leave it to jest's timeout or a process that never
 * exits. The broken fixture is core's loopback with every channel's quiesce left pending for ever
 * (see `hangingQuiesceFixture`); each scenario runs on the virtual clock and bounds its waits in
 * virtual time, so each of these cases ends in milliseconds.
 *
 * The worker campaigns' real-time bound on a hanging run is proven in the mailbox transport's
 * `kit-catches-worker-hang.test.ts` (it needs a worker fixture).
 */
import {
  runInterleavingSimulation,
  runNotificationTeardownSameThread,
  runSeedScenarioSameThread,
  type NotificationTeardownPhase,
  type SeedPhase,
  type TransportFixture,
} from '@scmi-ts/conformance';
import { hangingQuiesceFixture } from './support/broken-fixtures.js';
import {
  conformanceCase,
  runCase,
  type CapturedCase,
} from './support/capture-conformance-cases.js';

const PHASES: readonly SeedPhase[] = [
  'before-quiesce',
  'during-quiesce',
  'draining',
  'after-release',
];

const REMOVE_CASE =
  'should fail transfers in flight at remove with the shutdown error, and never hang';

/** The kit's case `REMOVE_CASE` for `fixture`, as `runTransportConformance` would register it. */
const removeCase = (fixture: TransportFixture): CapturedCase =>
  conformanceCase(fixture, REMOVE_CASE);

describe('the conformance kit, over a transport whose removal never completes', () => {
  describe(runSeedScenarioSameThread, () => {
    it.each(PHASES)(
      'should report that the failed probe (its teardown) never settled (%s)',
      async (phase) => {
        const r = await runSeedScenarioSameThread(hangingQuiesceFixture({ broken: true }), phase);
        expect(r.problems).toContain('the probe never settled');
      },
    );

    it.each(PHASES)(
      'should report nothing over the same decorated loopback when its quiesce settles (%s)',
      async (phase) => {
        const r = await runSeedScenarioSameThread(hangingQuiesceFixture({ broken: false }), phase);
        expect(r.problems).toEqual([]);
      },
    );
  });

  describe(runNotificationTeardownSameThread, () => {
    const NOTIFICATION_PHASES: readonly NotificationTeardownPhase[] = [
      'before-quiesce',
      'during-quiesce',
      'draining',
      'after-release',
    ];

    it.each(NOTIFICATION_PHASES)(
      'should report that the removal never completed, and return (%s)',
      async (phase) => {
        const r = await runNotificationTeardownSameThread(
          hangingQuiesceFixture({ broken: true }),
          phase,
        );
        expect(r.problems).toContain('the removal never completed');
      },
    );

    it.each(NOTIFICATION_PHASES)(
      'should report nothing over the same decorated loopback when its quiesce settles (%s)',
      async (phase) => {
        const r = await runNotificationTeardownSameThread(
          hangingQuiesceFixture({ broken: false }),
          phase,
        );
        expect(r.problems).toEqual([]);
      },
    );
  });

  describe(runInterleavingSimulation, () => {
    // Fixed seeds: the same schedules every time (same-thread, virtual clock).
    const options = { seed: 20261202, schedules: 10 };

    it('should report every schedule whose probe or removal never settled, and the removal left undone', async () => {
      const r = await runInterleavingSimulation(hangingQuiesceFixture({ broken: true }), options);
      expect(r.schedules).toBe(10);
      // Every schedule tears an agent down (a failed probe, or a removal): each one hangs.
      const hung = r.violations.filter((v) =>
        /^schedule seed \d+: the probe, a command or the removal never settled/.test(v),
      );
      expect(hung).toHaveLength(10);
      expect(r.violations).toContainEqual(
        expect.stringMatching(/^schedule seed \d+: scmi\d+: remove did not complete$/),
      );
    });

    it('should report nothing over the same decorated loopback when its quiesce settles', async () => {
      const r = await runInterleavingSimulation(hangingQuiesceFixture({ broken: false }), options);
      expect(r.violations).toEqual([]);
      expect(r.schedules).toBe(10);
    });
  });

  describe("runTransportConformance's cases that remove their agent themselves", () => {
    const CASES = [
      'should probe, discover the platform, exchange messages and remove',
      'should time out, count the late reply, and leave the next transfer unaffected',
    ];

    it.each(CASES)(
      "should fail the case '%s' as stuck, at once, not by a jest timeout",
      async (name) => {
        const failure = await runCase(
          conformanceCase(hangingQuiesceFixture({ broken: true }), name),
        );
        expect(failure).toMatch(/the case is stuck: it waits, and nothing is armed or scheduled/);
      },
    );

    it.each(CASES)(
      'should pass %s over the decorated loopback when its quiesce settles',
      async (name) => {
        expect(
          await runCase(conformanceCase(hangingQuiesceFixture({ broken: false }), name)),
        ).toBeUndefined();
      },
    );
  });

  describe("runTransportConformance's remove-in-flight case", () => {
    it('should fail on its own check that the removal settled, not by a jest timeout', async () => {
      const failure = await runCase(removeCase(hangingQuiesceFixture({ broken: true })));
      // `expect(await rig.settle(agent.remove())).toBe(true)`: settle gave up, in virtual time.
      expect(failure).toMatch(/Expected: true\s+Received: false/);
    });

    it('should pass over the same decorated loopback when its quiesce settles', async () => {
      expect(await runCase(removeCase(hangingQuiesceFixture({ broken: false })))).toBeUndefined();
    });
  });
});
