/**
 * The interleaving campaign's coverage counts late replies that reached the agent side (core's
 * `lateReplies`, a guard's `refusedAfterQuiesce`), not those the wire dropped and counted itself
 * (`droppedSignals`): a wire that counts every late reply itself (`wireCountsLateRepliesFixture`)
 * fails the coverage check, and the kit says what the check counts and what to change — in the
 * result (`droppedByWire`, `lateReplyCoverageHint`) and under the check's failure in `pnpm stress`.
 * Beside the same wrapper left correct.
 */
import { join } from 'node:path';
import { interleavingCampaignShortfalls, runInterleavingSimulation } from '@scmi-ts/conformance';
import { lateReplyCoverageHint } from '../src/scenarios/interleaving-simulator.js';
import { wireCountsLateRepliesFixture } from './support/wire-counts-late-fixture.js';
import { runStress, type StressEnded } from './support/run-stress.js';

const SEED = 42;
const SCHEDULES = 100;

describe('an interleaving campaign over a wire that counts its late replies itself', () => {
  it('should fail the coverage check, and say what it counts: late replies that reached the agent, not the drops of the wire', async () => {
    const r = await runInterleavingSimulation(wireCountsLateRepliesFixture(), {
      seed: SEED,
      schedules: SCHEDULES,
    });
    // Every invariant held, and every late reply was counted — by the wire.
    expect(r.violations).toEqual([]);
    expect(r.lateRepliesCounted).toBe(0);
    expect(r.droppedByWire).toBeGreaterThan(0);
    const why = `none of the late replies of ${SCHEDULES} schedules reached the agent (core's lateReplies or a guard's refusedAfterQuiesce); the wire dropped and counted ${r.droppedByWire} itself (droppedSignals), which do not count here — hand a reply found late to sink.rx inside the RX guard (core counts it late)`;
    expect(lateReplyCoverageHint(r)).toBe(why);
    expect(interleavingCampaignShortfalls(r, SCHEDULES)).toEqual([
      `no late reply was counted in ${SCHEDULES} schedules (seed ${SEED}): ${why}`,
    ]);
  });

  it('should pass over the same wrapper left correct, with no hint', async () => {
    const r = await runInterleavingSimulation(wireCountsLateRepliesFixture({ broken: false }), {
      seed: SEED,
      schedules: SCHEDULES,
    });
    expect(r.violations).toEqual([]);
    expect(r.lateRepliesCounted).toBeGreaterThan(0);
    expect(r.droppedByWire).toBe(0);
    expect(interleavingCampaignShortfalls(r, SCHEDULES)).toEqual([]);
    expect(lateReplyCoverageHint(r)).toBeUndefined();
  });
});

describe(lateReplyCoverageHint, () => {
  it('should say nothing when a late reply reached the agent, or the wire dropped nothing', () => {
    expect(
      lateReplyCoverageHint({ schedules: 100, lateRepliesCounted: 1, droppedByWire: 50 }),
    ).toBeUndefined();
    expect(
      lateReplyCoverageHint({ schedules: 100, lateRepliesCounted: 0, droppedByWire: 0 }),
    ).toBeUndefined();
  });
});

describe('pnpm stress over it', () => {
  const MODULE = join('test', 'support', 'stress-modules', 'wire-counts-late.ts');

  function stress(variant: string): StressEnded {
    return runStress([
      '--fixture',
      MODULE,
      '--variant',
      variant,
      '--runs',
      '0',
      '--hostile-runs',
      '0',
      '--delayed-runs',
      '0',
      '--interleavings',
      String(SCHEDULES),
      '--seed',
      String(SEED),
    ]);
  }

  it('should print, under the failed coverage check, what it counts and what the wire dropped', () => {
    const r = stress('counts-late');
    expect(r.stdout).toMatch(
      new RegExp(
        `\\n {2}FAILED no late reply was counted in ${SCHEDULES} schedules \\(seed ${SEED}\\): none of the late replies of ${SCHEDULES} schedules reached the agent \\(core's lateReplies or a guard's refusedAfterQuiesce\\); the wire dropped and counted [1-9]\\d* itself \\(droppedSignals\\), which do not count here — hand a reply found late to sink\\.rx inside the RX guard \\(core counts it late\\)\\n`,
      ),
    );
    expect(r.stdout).toMatch(
      /late replies counted: 0 \(reaching the agent; dropped by the wire itself, not counted here: [1-9]\d*\)/,
    );
    expect(r.status).toBe(1);
  });

  it('should print no hint over the same wrapper left correct', () => {
    const r = stress('correct');
    expect(r.stdout).not.toContain('none of the late replies');
    expect(r.stdout).toContain('\ninvariant violations: 0\ncampaign checks failed: 0 ');
    expect(r.status).toBe(0);
  });
});
