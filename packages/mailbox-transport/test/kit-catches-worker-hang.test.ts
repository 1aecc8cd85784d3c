/**
 * The conformance kit's worker campaigns must report a worker-mode transport whose removal hangs
 * (a channel's quiesce never settles) as a violation, within their real-time bound, and stop —
 * not wait for ever. The broken transport is the mailbox one with every channel's quiesce left
 * pending after it quiesced the mailbox channel (see `hangingQuiesceSession`).
 */
import {
  runDelayedResponseRaceWorker,
  runHostileRepliesWorker,
  runSeedScenarioWorker,
  type WorkerFixtureSession,
} from '@scmi-ts/conformance';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { mailboxFixture, type MailboxFixtureWorker } from './support/fixture.js';
import { hangingQuiesceSession } from './support/skip-quiesce-worker-fixture.js';

const HANG_MS = 300;

type Campaign = (
  session: WorkerFixtureSession,
) => Promise<{ readonly runs: number; readonly violations: readonly string[] }>;

const CAMPAIGNS: readonly (readonly [string, string, Campaign])[] = [
  [
    'runSeedScenarioWorker',
    'the probe or the removal',
    (session) =>
      runSeedScenarioWorker(mailboxFixture, { runs: 5, seed: 1, session, hangMs: HANG_MS }),
  ],
  [
    'runDelayedResponseRaceWorker',
    'the probe, the rate set or the removal',
    (session) =>
      runDelayedResponseRaceWorker(mailboxFixture, { runs: 5, seed: 1, session, hangMs: HANG_MS }),
  ],
  [
    'runHostileRepliesWorker',
    'the probe, the commands or the removal',
    (session) =>
      runHostileRepliesWorker(mailboxFixture, { runs: 5, seed: 1, session, hangMs: HANG_MS }),
  ],
];

describe('the conformance kit, over a worker-mode mailbox transport whose removal hangs', () => {
  let worker: MailboxFixtureWorker | undefined;
  beforeAll(async () => {
    worker = await mailboxFixture.worker({
      platformConfig: createDefaultPlatformConfig(),
      agentId: 1,
      seed: 1,
    });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it.each(CAMPAIGNS)(
    '%s should report the hang of its first run and stop there',
    async (_name, what, campaign) => {
      if (worker === undefined) throw new Error('the mailbox worker did not start');
      const r = await campaign(hangingQuiesceSession(worker));
      expect(r.runs).toBe(0);
      expect(r.violations).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^run 0 .*: ${what} did not settle within ${HANG_MS} ms \\(a hang\\); the campaign stopped here$`,
          ),
        ),
      );
    },
  );
});
