/**
 * The kit's worker campaigns, and the jest cases that run them, over deliberately broken worker
 * fixtures (the mailbox transport's worker fixture, wrapped: see `broken-worker-fixtures.ts`),
 * each beside the same wrapper left correct:
 *
 * - a wire that never delivers a delayed response must fail the delayed-response race — its
 *   invariants hold vacuously;
 * - a transport that records a violation against itself (`FixtureEnds.transportViolations`) must
 *   fail the hostile-reply campaign, as it fails the race campaigns;
 * - a wire that hides every hostile reply from the agent must fail the hostile case;
 * - a wire that counts a reply the agent counted too must fail the seed campaign;
 * - each randomized jest case must fail with its seed and the command that replays it in the
 *   message, whichever check failed;
 * - a fixture whose capabilities declare a worker mode it does not provide must fail a case that
 *   says so, not skip the worker cases without a word;
 * - a transport that does not tell core of the platform's death (its command waits out its
 *   timeout, its channels are never lost) must fail the platform-death scenario and its case.
 *
 * The jest cases are captured (see `captureCases`) and run here, so that this suite holds no
 * failing case; hooks are not run, so each worker case starts a worker of its own.
 */
import {
  runDelayedResponseRaceWorker,
  runHostileRepliesWorker,
  runPlatformDeathWorker,
  runSeedScenarioWorker,
  runTransportConformance,
  SEED_WORKER_PHASES,
  type ConformanceOptions,
  type TransportFixture,
  type WorkerFixtureSession,
} from '@scmi-ts/conformance';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { join } from 'node:path';
import { misroutedLateReplyFixture } from './support/broken-fixtures.js';
import {
  doubleCountedReplyFixture,
  hiddenBadMessagesFixture,
  overCountedStrayFixture,
  slowSecondQuiesceFixture,
  lostDelayedResponseFixture,
  selfReportedViolationFixture,
  unnoticedDeathFixture,
} from './support/broken-worker-fixtures.js';
import {
  captureCases,
  conformanceCase,
  runCase,
  type CapturedCase,
} from './support/capture-conformance-cases.js';
import { loopbackFixture } from './support/loopback-fixture.js';

const SEED = 4242;
const DELAYED_CASE =
  'should race late delayed responses against the removal on real time, with no invariant violated';
const HOSTILE_CASE = 'should survive hostile replies from the worker, and count them';
const INTERLEAVINGS_CASE =
  'should keep every invariant over seeded interleavings of send, reply, timeout, probe failure and remove';
const WORKER_MODE_CASE = 'should provide the worker mode its capabilities declare';
const DEATH_CASE =
  "should fail the commands in flight with a typed error, mark their channels lost and remove, when the platform's thread dies";
/** Small campaigns: the broken fixtures fail at once, the correct ones cover their race quickly. */
const SMALL: ConformanceOptions = { workerDelayedRuns: 10, workerHostileRuns: 8 };

/** The case `title` of `fixture`'s suite, registered with `SCMI_SEED` set to {@link SEED}. */
function seededCase(
  fixture: TransportFixture,
  title: string,
  options: ConformanceOptions = {},
): CapturedCase {
  const saved = process.env.SCMI_SEED;
  process.env.SCMI_SEED = String(SEED);
  try {
    return conformanceCase(fixture, title, { ...SMALL, ...options });
  } finally {
    if (saved === undefined) delete process.env.SCMI_SEED;
    else process.env.SCMI_SEED = saved;
  }
}

/** A worker session of `fixture`, which must have a worker mode. */
function sessionOfFixture(
  fixture: TransportFixture,
  context: Parameters<NonNullable<TransportFixture['worker']>>[0],
): Promise<WorkerFixtureSession> {
  if (fixture.worker === undefined) throw new Error('a worker fixture was expected');
  return fixture.worker(context);
}

/** The start of a worker case's failure: its campaign, the seed, and the jest and stress replays. */
const seeded = (what: string): RegExp =>
  new RegExp(
    `^${what}: seed ${SEED} \\(SCMI_SEED=${SEED} repeats its delays and fault placement; again: pnpm stress --transport mailbox --seed ${SEED} `,
  );

describe('the kit over worker campaigns that test nothing, or whose transport reports itself', () => {
  let session: WorkerFixtureSession | undefined;
  const context = { platformConfig: createDefaultPlatformConfig(), agentId: 1, seed: SEED };
  const sessionOf = (fixture: TransportFixture): Promise<WorkerFixtureSession> => {
    if (fixture.worker === undefined) throw new Error('a worker fixture was expected');
    return fixture.worker(context);
  };
  afterEach(async () => {
    await session?.stop();
    session = undefined;
  });

  describe(runDelayedResponseRaceWorker, () => {
    it('should report a campaign of 10 runs or more in which no delayed response came in time', async () => {
      const fixture = lostDelayedResponseFixture();
      session = await sessionOf(fixture);
      const r = await runDelayedResponseRaceWorker(fixture, { runs: 10, seed: SEED, session });
      expect(r.runs).toBe(10);
      expect(r.violations).toEqual([
        `no delayed response came in time in 10 runs (seed ${SEED}; about half the delays send it before the 3 ms timeout): the wire does not deliver delayed responses`,
      ]);
    });

    it('should report nothing over the same wrapper when it delivers them', async () => {
      const fixture = lostDelayedResponseFixture({ broken: false });
      session = await sessionOf(fixture);
      const r = await runDelayedResponseRaceWorker(fixture, {
        runs: 10,
        coverageRuns: 30,
        seed: SEED,
        session,
      });
      expect(r.violations).toEqual([]);
    });
  });

  describe(runSeedScenarioWorker, () => {
    it('should report each run whose reply both the agent and the wire counted', async () => {
      const fixture = doubleCountedReplyFixture();
      session = await sessionOf(fixture);
      const r = await runSeedScenarioWorker(fixture, { runs: 6, seed: SEED, session });
      const doubled = r.violations.filter((v) =>
        /^run \d+ \(seed \d+, [^)]*\): the late reply was counted by the agent \(\d+\) and by the wire \(\d+\)$/.test(
          v,
        ),
      );
      expect(doubled.map((v) => Number(/^run (\d+)/.exec(v)?.[1]))).toEqual([0, 1, 2, 3, 4, 5]);
    });

    it("should hold every other run's reply and release it once, at an event of the teardown, when the session can", async () => {
      const fixture = doubleCountedReplyFixture({ broken: false });
      const inner = await sessionOf(fixture);
      session = inner;
      const released: number[] = [];
      const counting: WorkerFixtureSession = {
        open: () => inner.open(),
        setFaults: (rules) => inner.setFaults(rules),
        releaseHeldResponses: async () => {
          const n = (await inner.releaseHeldResponses?.()) ?? -1;
          released.push(n);
          return n;
        },
        stop: () => inner.stop(),
      };
      const r = await runSeedScenarioWorker(fixture, { runs: 6, seed: SEED, session: counting });
      expect(r.violations).toEqual([]);
      expect(r.aimedRuns).toBe(3);
      // One release per aimed run, each sending the reply the platform held (none was cancelled:
      // the mailbox's platform side stays connected until the wire closes, after the release).
      expect(released).toEqual([1, 1, 1]);
      // No aimed run can be answered in time: its reply waits for the teardown.
      expect(r.phases[SEED_WORKER_PHASES.delivered] ?? 0).toBeLessThanOrEqual(3);
      const plain = await runSeedScenarioWorker(fixture, {
        runs: 2,
        seed: SEED,
        session: counting,
        aimAtTeardown: false,
      });
      expect([plain.aimedRuns, released.length]).toEqual([0, 3]);
    });

    it('should release nothing once a run hung and the campaign returned', async () => {
      const fixture = slowSecondQuiesceFixture(400);
      const inner = await sessionOf(fixture);
      session = inner;
      let releases = 0;
      const counting: WorkerFixtureSession = {
        open: () => inner.open(),
        setFaults: (rules) => inner.setFaults(rules),
        releaseHeldResponses: () => {
          releases++;
          return inner.releaseHeldResponses?.() ?? Promise.resolve(0);
        },
        stop: () => inner.stop(),
      };
      // Seed 5 draws event 16 of 20 for run 1: past the A2P quiesce the removal hangs in.
      const r = await runSeedScenarioWorker(fixture, {
        runs: 4,
        seed: 5,
        session: counting,
        hangMs: 150,
      });
      expect(r.runs).toBe(1);
      expect(r.violations).toEqual([
        expect.stringMatching(/^run 1 .*: the probe or the removal did not settle within 150 ms/),
      ]);
      const seen = releases;
      // The hung removal goes on; its teardown's events must release nothing now.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect([releases, r.violations.length]).toEqual([seen, 1]);
    });

    it('should report nothing over the same wrapper when each reply is counted once', async () => {
      const fixture = doubleCountedReplyFixture({ broken: false });
      session = await sessionOf(fixture);
      const r = await runSeedScenarioWorker(fixture, { runs: 6, seed: SEED, session });
      expect(r.violations).toEqual([]);
    });
  });

  describe(runHostileRepliesWorker, () => {
    it('should report, run by run, what the transport recorded against itself (FixtureEnds.transportViolations)', async () => {
      const fixture = selfReportedViolationFixture();
      session = await sessionOf(fixture);
      const r = await runHostileRepliesWorker(fixture, { runs: 2, seed: SEED, session });
      expect(r.violations).toEqual([
        expect.stringMatching(new RegExp(`^run 0 \\(seed ${SEED}, .*\\): transport: INJECTED$`)),
        expect.stringMatching(new RegExp(`^run 1 \\(seed ${SEED}, .*\\): transport: INJECTED$`)),
      ]);
    });

    it('should report each run whose hostile replies were counted more than once each', async () => {
      const fixture = overCountedStrayFixture();
      session = await sessionOf(fixture);
      const r = await runHostileRepliesWorker(fixture, { runs: 2, seed: SEED, session });
      const counted = (run: number): RegExp =>
        new RegExp(
          `^run ${run} \\(seed ${SEED}, .*\\): \\d+ .* fault\\(s\\) fired on commands the platform answered, counted \\d+ time\\(s\\) in all, too many .*stray \\d{3}`,
        );
      expect(r.violations).toEqual([
        expect.stringMatching(counted(0)),
        expect.stringMatching(counted(1)),
      ]);
      for (const v of r.violations) {
        const [, fired, seen] = /: (\d+) .* fault\(s\) fired.*counted (\d+) time/.exec(v) ?? [];
        expect(Number(seen) - Number(fired)).toBeGreaterThanOrEqual(100);
      }
    });

    it('should report each run whose hostile replies vanished uncounted', async () => {
      const fixture = hiddenBadMessagesFixture({ uncounted: true });
      session = await sessionOf(fixture);
      const r = await runHostileRepliesWorker(fixture, { runs: 2, seed: SEED, session });
      // The seed's first two kinds (truncations) reach every agent: each run counted too few.
      expect(r.violations).toEqual([
        expect.stringMatching(
          new RegExp(`^run 0 \\(seed ${SEED}, truncate .*fault\\(s\\) fired.*, too few `),
        ),
        expect.stringMatching(
          new RegExp(`^run 1 \\(seed ${SEED}, truncate .*fault\\(s\\) fired.*, too few `),
        ),
      ]);
    });

    it('should report nothing over the same wrapper when it counts what it dropped', async () => {
      const fixture = overCountedStrayFixture({ broken: false });
      session = await sessionOf(fixture);
      const r = await runHostileRepliesWorker(fixture, { runs: 2, seed: SEED, session });
      expect(r.violations).toEqual([]);
    });

    it('should report nothing over the same wrapper when the transport records nothing', async () => {
      const fixture = selfReportedViolationFixture({ broken: false });
      session = await sessionOf(fixture);
      const r = await runHostileRepliesWorker(fixture, { runs: 2, seed: SEED, session });
      expect(r.violations).toEqual([]);
    });
  });
});

describe("runTransportConformance's randomized cases: every failure names the seed that replays it", () => {
  it('should fail the delayed-response race of a wire that delivers no delayed response, with the seed', async () => {
    const failure = await runCase(seededCase(lostDelayedResponseFixture(), DELAYED_CASE));
    expect(failure).toMatch(seeded('delayed-response race'));
    expect(failure).toContain(
      `- nothing was delivered in time: no delayed response came in time in 40 run(s) (seed ${SEED})`,
    );
  });

  it('should pass the delayed-response race over the same wrapper when it delivers them', async () => {
    expect(
      await runCase(seededCase(lostDelayedResponseFixture({ broken: false }), DELAYED_CASE)),
    ).toBeUndefined();
  });

  it('should fail the hostile case of a wire that hides every hostile reply, with the seed', async () => {
    const failure = await runCase(seededCase(hiddenBadMessagesFixture(), HOSTILE_CASE));
    expect(failure).toMatch(seeded('hostile replies'));
    expect(failure).toMatch(
      new RegExp(`\\n {2}- no bad message was counted in 8 run\\(s\\) \\(seed ${SEED}\\)`),
    );
  });

  it('should fail the hostile case of a transport that reports itself, with the seed', async () => {
    const failure = await runCase(seededCase(selfReportedViolationFixture(), HOSTILE_CASE));
    expect(failure).toMatch(seeded('hostile replies'));
    expect(failure).toMatch(/\n {2}- run 0 \(seed 4242, .*\): transport: INJECTED\n/);
  });

  it.each([
    ['hides no hostile reply', hiddenBadMessagesFixture({ broken: false })],
    ['records nothing against itself', selfReportedViolationFixture({ broken: false })],
  ])('should pass the hostile case over the same wrapper when it %s', async (_what, fixture) => {
    expect(await runCase(seededCase(fixture, HOSTILE_CASE))).toBeUndefined();
  });

  it('should fail the interleavings case with its seed and the variable that replays it', async () => {
    const failure = await runCase(
      conformanceCase(misroutedLateReplyFixture(), INTERLEAVINGS_CASE, { interleavings: 30 }),
    );
    // The hint gives the module that exports the fixture: it replays as printed.
    const module = join(__dirname, 'support', 'stress-modules', 'misrouted-late-reply.ts');
    expect(failure).toContain(
      `interleavings: seed 20261202 (SCMI_INTERLEAVING_SEED=20261202 runs the same schedules; again: pnpm stress --fixture ${module} --transport loopback --seed 20261202 `,
    );
    expect(failure?.startsWith('interleavings: ')).toBe(true);
    expect(failure).toMatch(/\n {2}- schedule seed \d+: /);
  });
});

describe(runPlatformDeathWorker, () => {
  // A short hang bound: the broken transport's command waits for its 120 s timeout.
  const HANG_MS = 1500;

  it('should report a transport that does not tell core of the death: a command left waiting, its channel not lost', async () => {
    const r = await runPlatformDeathWorker(unnoticedDeathFixture(), {
      seed: SEED,
      hangMs: HANG_MS,
    });
    expect(r.ran).toBe(true);
    // The mailbox refuses the commands waiting for the channel itself; the one on the wire waits
    // until the removal fails it.
    expect(r.outcomes).toEqual([
      'ScmiShutdownError E_SHUTDOWN',
      'ScmiTransportError E_MBOX_REMOTE_GONE',
      'ScmiTransportError E_MBOX_REMOTE_GONE',
    ]);
    expect(r.lost).toEqual([]);
    const where = `platform death (responses; seed ${SEED})`;
    expect(r.violations).toEqual([
      `${where}: 1 of the 3 command(s) in flight did not settle within ${HANG_MS} ms of the platform's death (their timeout is 120000 ms): the transport did not notice it`,
      `${where}: a2p:0 is not marked lost (diagnostics.channels[].lost is undefined) although the platform behind it died`,
    ]);
  });

  it('should report nothing over the same wrapper when the transport tells core', async () => {
    const r = await runPlatformDeathWorker(unnoticedDeathFixture({ broken: false }), {
      seed: SEED,
      hangMs: HANG_MS,
    });
    expect(r.violations).toEqual([]);
    expect(r.outcomes).toEqual(Array(3).fill('ScmiTransportError E_MBOX_REMOTE_GONE'));
    expect(r.afterDeath).toBe('ScmiTransportError E_MBOX_REMOTE_GONE');
    expect(r.lost).toEqual(['a2p:0 E_MBOX_REMOTE_GONE', 'p2a:0 E_MBOX_REMOTE_GONE']);
  });

  it("should fail the kit's case over the broken wrapper, with the seed and what it saw", async () => {
    const failure = await runCase(
      seededCase(unnoticedDeathFixture(), DEATH_CASE, { workerTimeoutMs: 3 * HANG_MS }),
    );
    expect(failure).toMatch(
      new RegExp(
        `^platform death \\(responses\\): seed ${SEED}; in flight \\["ScmiShutdownError E_SHUTDOWN",`,
      ),
    );
    expect(failure).toContain('a2p:0 is not marked lost');
  });

  it('should run nothing, and pass, for a fixture whose sessions cannot be killed', async () => {
    const inner = unnoticedDeathFixture();
    const fixture: TransportFixture = {
      ...inner,
      worker: async (context) => {
        const session = await sessionOfFixture(inner, context);
        return {
          open: () => session.open(),
          setFaults: (rules) => session.setFaults(rules),
          stop: () => session.stop(),
        };
      },
    };
    const r = await runPlatformDeathWorker(fixture, { seed: SEED });
    expect(r).toMatchObject({ ran: false, violations: [] });
  });
});

describe("runTransportConformance's worker mode", () => {
  const declaring = (worker: boolean): TransportFixture => {
    const inner = loopbackFixture();
    return { ...inner, capabilities: { ...inner.capabilities, worker } };
  };

  it('should fail, saying what is missing, for a fixture that declares a worker mode and has no worker()', async () => {
    const failure = await runCase(conformanceCase(declaring(true), WORKER_MODE_CASE));
    expect(failure).toBe(
      'loopback: capabilities.worker is true but the fixture has no worker() — the worker cases (the seed scenario and the delayed-response race on real time, hostile replies from a worker) cannot run; give the fixture its worker(), or set capabilities.worker to false',
    );
  });

  it('should pass for a fixture that has the worker mode it declares', async () => {
    expect(
      await runCase(
        conformanceCase(selfReportedViolationFixture({ broken: false }), WORKER_MODE_CASE),
      ),
    ).toBeUndefined();
  });

  it('should not ask it of a fixture that declares none', () => {
    const cases = captureCases(() => {
      runTransportConformance(declaring(false));
    });
    expect(cases.filter((c) => c.path.at(-1) === WORKER_MODE_CASE)).toEqual([
      expect.objectContaining({ skipped: true }),
    ]);
  });
});
