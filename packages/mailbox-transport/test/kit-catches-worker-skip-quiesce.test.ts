/**
 * The conformance kit's worker campaigns must catch a worker-mode transport whose channels skip
 * quiesce: late replies from the platform's thread then reach core after the channel was released.
 * The broken transport is the mailbox one with its channels' quiesce and free made no-ops (see
 * `skipQuiesceSession`), over the mailbox fixture's worker; the wrapper records, per run, what its
 * channels let into core after their quiesce and their free were called — the ground truth the
 * kit never sees.
 *
 * Real time: which runs get a late reply depends on thread timing, so the cases assert invariants
 * only — every run in which a callback reached core after its channel's free is one the kit
 * reports as a callback against released state, and the kit reports no run in which nothing ran
 * after a quiesce — plus coverage: campaigns are repeated (bounded) until one such run happened.
 */
import {
  SEED_WORKER_PHASES,
  runDelayedResponseRaceWorker,
  runSeedScenarioWorker,
  type TransportFixture,
  type WorkerFixtureSession,
} from '@scmi-ts/conformance';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { mailboxFixture, type MailboxFixtureWorker } from './support/fixture.js';
import {
  skipQuiesceSession,
  skipQuiesceWorkerFixture,
  type SkipQuiesceRecord,
} from './support/skip-quiesce-worker-fixture.js';

/** A kit campaign's outcome, as both campaigns report it. */
interface CampaignResult {
  readonly runs: number;
  readonly phases: Readonly<Record<string, number>>;
  readonly violations: readonly string[];
}

type Campaign = (
  fixture: TransportFixture,
  session: WorkerFixtureSession,
  seed: number,
) => Promise<CampaignResult>;

/** Each campaign goes on past its 20 runs, bounded, until a reply came in time and one late. */
const CAMPAIGNS: readonly (readonly [string, Campaign])[] = [
  [
    'runSeedScenarioWorker (a late response on A2P)',
    (fixture, session, seed) =>
      runSeedScenarioWorker(fixture, { runs: 20, coverageRuns: 60, seed, session }),
  ],
  [
    'runDelayedResponseRaceWorker (a late delayed response on P2A)',
    (fixture, session, seed) =>
      runDelayedResponseRaceWorker(fixture, { runs: 20, coverageRuns: 60, seed, session }),
  ],
];

/** Campaigns a case runs at most until a late callback after free happened (each ~0.3 s). */
const MAX_CAMPAIGNS = 10;
const SEED = 42;

/** A kit violation saying a callback ran against a quiesced or released channel, and its run. */
const AGAINST_RELEASED =
  /^run (\d+) .*: [ap]2[ap]:\d+: .+ after its (quiesce returned|free began)$/;

/** The runs (by index) the kit reported a callback against released state in. */
function flaggedRuns(violations: readonly string[]): number[] {
  const runs = new Set<number>();
  for (const v of violations) {
    const m = AGAINST_RELEASED.exec(v);
    if (m !== null) runs.add(Number(m[1]));
  }
  return [...runs].sort((a, b) => a - b);
}

/** The indices of the runs whose count `pick` is not 0. */
function runsWith(record: SkipQuiesceRecord, pick: 'afterQuiesce' | 'afterFree'): number[] {
  return record.runs.flatMap((c, i) => (c[pick] > 0 ? [i] : []));
}

describe('the conformance kit, over a worker-mode mailbox transport whose channels skip quiesce', () => {
  let worker: MailboxFixtureWorker | undefined;
  const mailbox = (): MailboxFixtureWorker => {
    if (worker === undefined) throw new Error('the mailbox worker did not start');
    return worker;
  };
  beforeAll(async () => {
    worker = await mailboxFixture.worker({
      platformConfig: createDefaultPlatformConfig(),
      agentId: 1,
      seed: SEED,
    });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  describe.each(CAMPAIGNS)('%s', (_name, campaign) => {
    it('should report every run in which a late callback reached core after its channel was freed, and no run without one', async () => {
      let covered = false;
      for (let attempt = 0; attempt < MAX_CAMPAIGNS && !covered; attempt++) {
        // A fresh record per campaign: its entry i is the campaign's run i.
        const record: SkipQuiesceRecord = { runs: [] };
        const options = { broken: true };
        const r = await campaign(
          skipQuiesceWorkerFixture(options, record),
          skipQuiesceSession(mailbox(), options, record),
          SEED + attempt,
        );
        expect(record.runs).toHaveLength(r.runs);
        const flagged = flaggedRuns(r.violations);
        // Every callback against released state is reported, in the run it happened in…
        expect(flagged).toEqual(expect.arrayContaining(runsWith(record, 'afterFree')));
        // …and the kit blames no run in which nothing reached core after a quiesce.
        expect(runsWith(record, 'afterQuiesce')).toEqual(expect.arrayContaining(flagged));
        covered = runsWith(record, 'afterFree').length > 0;
      }
      // Some run did let a late callback in after free: the inclusions above were not vacuous.
      expect(covered).toBe(true);
    });

    it('should report nothing over the same wrapper when it forwards quiesce and free', async () => {
      const record: SkipQuiesceRecord = { runs: [] };
      const options = { broken: false };
      const r = await campaign(
        skipQuiesceWorkerFixture(options, record),
        skipQuiesceSession(mailbox(), options, record),
        SEED,
      );
      expect(r.violations).toEqual([]);
      expect(record.runs.every((c) => c.afterFree === 0)).toBe(true);
      // The race was run: some reply came late (the campaign goes on until one did, bounded).
      expect(Object.keys(r.phases).some((p) => p !== SEED_WORKER_PHASES.delivered)).toBe(true);
    });
  });
});
