/**
 * The checks a worker campaign must pass besides its invariants, which the jest cases and
 * `pnpm stress` share: each one on a result that fails it alone, and on one that passes.
 */
import {
  HOSTILE_ACTIONS,
  INTERLEAVING_OUTCOMES,
  SEED_WORKER_PHASES,
  hostileActionName,
  hostileCampaignShortfalls,
  interleavingCampaignShortfalls,
  raceCampaignShortfalls,
  raceCoverageRuns,
  type HostileKindTotals,
} from '@scmi-ts/conformance';

const DELIVERED = SEED_WORKER_PHASES.delivered;
const LATE = SEED_WORKER_PHASES.refused;

describe(raceCampaignShortfalls, () => {
  it('should find nothing missing in a campaign that ran its runs, a reply in time and one late', () => {
    const r = { seed: 7, runs: 30, phases: { [DELIVERED]: 12, [LATE]: 18 } };
    expect(raceCampaignShortfalls(r, 30, 'reply')).toEqual([]);
  });

  it('should fail a campaign in which nothing was delivered in time, naming the seed', () => {
    const r = { seed: 7, runs: 40, phases: { [LATE]: 40 } };
    expect(raceCampaignShortfalls(r, 10, 'delayed response')).toEqual([
      expect.stringMatching(
        /^nothing was delivered in time: no delayed response came in time in 40 run\(s\) \(seed 7\)/,
      ),
    ]);
  });

  it('should fail a campaign in which no reply was late: the race was never run', () => {
    const r = { seed: 7, runs: 40, phases: { [DELIVERED]: 40 } };
    expect(raceCampaignShortfalls(r, 10, 'reply')).toEqual([
      expect.stringMatching(/^no reply was late in 40 run\(s\) \(seed 7\)/),
    ]);
  });

  it('should not count a phase seen 0 times as a late reply', () => {
    const r = { seed: 7, runs: 4, phases: { [DELIVERED]: 4, [LATE]: 0 } };
    expect(raceCampaignShortfalls(r, 4, 'reply')).toEqual([
      expect.stringMatching(/^no reply was late/),
    ]);
  });

  it('should fail a campaign that did fewer runs than asked, and not one given a time budget (0 asked)', () => {
    const r = { seed: 7, runs: 3, phases: { [DELIVERED]: 1, [LATE]: 2 } };
    expect(raceCampaignShortfalls(r, 10, 'reply')).toEqual(['ran 3 of the 10 runs asked (seed 7)']);
    expect(raceCampaignShortfalls(r, 0, 'reply')).toEqual([]);
  });
});

describe(raceCoverageRuns, () => {
  it('should allow 3 × the runs more, and at least 30', () => {
    expect([raceCoverageRuns(100), raceCoverageRuns(10), raceCoverageRuns(1)]).toEqual([
      300, 30, 30,
    ]);
  });
});

describe(hostileCampaignShortfalls, () => {
  const kinds = (placed: (name: string) => number): Record<string, HostileKindTotals> =>
    Object.fromEntries(
      HOSTILE_ACTIONS.map(hostileActionName).map((name) => [
        name,
        { runs: 1, placed: placed(name), counted: placed(name) },
      ]),
    );
  const result = {
    seed: 9,
    runs: 7,
    faultsPlaced: 70,
    badMessages: 50,
    probeTimeouts: 0,
    byKind: kinds(() => 10),
  };

  it('should find nothing missing in a campaign that placed faults and counted bad messages', () => {
    expect(hostileCampaignShortfalls(result)).toEqual([]);
  });

  it('should fail a campaign that placed no fault, naming the seed', () => {
    expect(
      hostileCampaignShortfalls({
        ...result,
        faultsPlaced: 0,
        badMessages: 0,
        probeTimeouts: 3,
        byKind: {},
      }),
    ).toEqual([
      'no hostile fault was placed in 7 run(s) (seed 9; 3 probe(s) timed out): the campaign tested nothing',
    ]);
  });

  it('should fail a campaign that placed replies every wire carries and counted no bad message', () => {
    expect(hostileCampaignShortfalls({ ...result, badMessages: 0 })).toEqual([
      expect.stringMatching(
        /^no bad message was counted in 7 run\(s\) \(seed 9\), though 50 hostile replies every wire carries/,
      ),
    ]);
  });

  it('should not ask for bad messages when only duplicate and unsolicited replies were placed (a wire may drop them unseen)', () => {
    const byKind = kinds((name) => (name === 'duplicate' || name === 'unsolicited' ? 10 : 0));
    expect(
      hostileCampaignShortfalls({ ...result, faultsPlaced: 20, badMessages: 0, byKind }),
    ).toEqual([]);
  });
});

describe(interleavingCampaignShortfalls, () => {
  const outcomes = (timedOut: number): Record<string, number> => ({
    [INTERLEAVING_OUTCOMES.probeTimedOut]: timedOut,
    [INTERLEAVING_OUTCOMES.removedBusy]: 50,
    [INTERLEAVING_OUTCOMES.removedIdle]: 50 - timedOut,
  });
  const result = { seed: 5, schedules: 100, outcomes: outcomes(30), lateRepliesCounted: 40 };

  it('should find nothing missing in a campaign that ran its schedules and raced teardown against late replies', () => {
    expect(interleavingCampaignShortfalls(result, 100)).toEqual([]);
  });

  it('should fail a campaign that ran fewer schedules than asked, and not one given a time budget (0 asked)', () => {
    const r = { ...result, schedules: 40 };
    expect(interleavingCampaignShortfalls(r, 100)).toEqual([
      'ran 40 of the 100 schedules asked (seed 5)',
    ]);
    expect(interleavingCampaignShortfalls(r, 0)).toEqual([]);
  });

  it('should fail a campaign of 100 schedules in which no probe timed out, or no late reply was counted', () => {
    expect(
      interleavingCampaignShortfalls(
        { ...result, outcomes: outcomes(0), lateRepliesCounted: 0 },
        100,
      ),
    ).toEqual([
      'no schedule had its probe time out in 100 schedules (seed 5): teardown never raced a late reply',
      'no late reply was counted in 100 schedules (seed 5)',
    ]);
  });

  it('should not ask it of fewer schedules, which may all miss it by chance (a replay of one)', () => {
    const one = { seed: 5, schedules: 1, outcomes: outcomes(0), lateRepliesCounted: 0 };
    expect(interleavingCampaignShortfalls(one, 1)).toEqual([]);
  });
});
