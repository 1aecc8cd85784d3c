/**
 * The kit must catch a callback against released state that a wire lets happen *after* the run was
 * checked: a channel whose timer calls `sink.rx` 30 ms after its `free()` (a worker campaign checks
 * a run a few ms after its removal), one whose closed line still delivers from a task of its own (a
 * same-thread rig reads its instrument as the clock goes idle). Each broken fixture (see
 * `broken-fixtures.ts`, `broken-worker-fixtures.ts`) beside the same wrapper left correct.
 */
import {
  SameThreadRig,
  runInterleavingSimulation,
  runSeedScenarioWorker,
  type WorkerFixtureSession,
} from '@scmi-ts/conformance';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { rxAfterCloseFixture, rxOnRealTimerAfterFreeFixture } from './support/broken-fixtures.js';
import { rxAfterFreeWorkerFixture } from './support/broken-worker-fixtures.js';

const SEED = 4242;
const LATE = ' (recorded after the run was checked)';

describe('a worker campaign over a wire that calls back 30 ms after free (runSeedScenarioWorker)', () => {
  let session: WorkerFixtureSession | undefined;
  afterEach(async () => {
    await session?.stop();
    session = undefined;
  });
  const context = { platformConfig: createDefaultPlatformConfig(), agentId: 1, seed: SEED };

  it('should report the late sink.rx of the runs it checked before it came', async () => {
    const fixture = rxAfterFreeWorkerFixture();
    session = await fixture.worker?.(context);
    const r = await runSeedScenarioWorker(fixture, {
      runs: 10,
      seed: SEED,
      ...(session && { session }),
    });
    expect(r.runs).toBe(10);
    // Run 0's call comes 30 ms after its free: while the 9 runs after it wait for their replies
    // (at least 6 ms each), so before the campaign ends — read when a later run is checked (or, on
    // a machine slow enough to delay run 0's own check past it, then).
    expect(r.violations).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^run 0 \\(seed ${SEED}, delay [\\d.]+ ms\\): a2p:0: sink\\.rx after its free began(${escape(LATE)})?$`,
        ),
      ),
    );
    // Nothing else: each call reported once, under its own run.
    for (const v of r.violations)
      expect(v).toMatch(/^run \d+ .*: a2p:0: sink\.rx after its free began/);
    expect(new Set(r.violations).size).toBe(r.violations.length);
  });

  it('should report nothing over the same wrapper when nothing calls back after free', async () => {
    const fixture = rxAfterFreeWorkerFixture({ broken: false });
    session = await fixture.worker?.(context);
    const r = await runSeedScenarioWorker(fixture, {
      runs: 10,
      seed: SEED,
      ...(session && { session }),
    });
    expect(r.violations).toEqual([]);
  });
});

describe('the interleaving simulator over a wire that calls back on a real timer 3 ms after free', () => {
  // The schedules run on the virtual clock, in far less than 3 ms of real time each: the call lands
  // while later schedules run, or in the campaign's grace at its end (a timer due before the
  // grace's own fires first) — each schedule's is reported, under its seed.
  const options = { seed: 20261202, schedules: 5 };

  it("should report every schedule's late sink.rx, under the schedule's seed", async () => {
    const r = await runInterleavingSimulation(rxOnRealTimerAfterFreeFixture(), options);
    for (let i = 0; i < options.schedules; i++) {
      expect(r.violations).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^schedule seed ${options.seed + i}: a2p:0: sink\\.rx after its free began( \\(recorded after the (run was checked|rig was disposed)\\))?$`,
          ),
        ),
      );
    }
  });

  it('should report nothing over the same wrapper when nothing calls back after free', async () => {
    const r = await runInterleavingSimulation(
      rxOnRealTimerAfterFreeFixture({ broken: false }),
      options,
    );
    expect(r.violations).toEqual([]);
  });
});

describe('SameThreadRig.dispose over a wire whose closed line still delivers two turns later', () => {
  it('should report the sink.rx it made after the first read, as recorded after the rig was disposed', async () => {
    const rig = await SameThreadRig.create(rxAfterCloseFixture());
    const agent = await rig.probe();
    await agent.remove();
    expect(await rig.dispose()).toEqual([
      'a2p:0: sink.rx after its free began (recorded after the rig was disposed)',
    ]);
    // Reported once: a campaign that reads the rig again later finds nothing new.
    expect(rig.takeUnreportedViolations()).toEqual([]);
  });

  it('should report nothing over the same wrapper when the close delivers nothing', async () => {
    const rig = await SameThreadRig.create(rxAfterCloseFixture({ broken: false }));
    const agent = await rig.probe();
    await agent.remove();
    expect(await rig.dispose()).toEqual([]);
  });
});

/** `text` as a regular expression matching it literally. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
