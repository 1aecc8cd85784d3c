/**
 * `pnpm stress` as a process: its exit codes are what a CI job or a shell loop reads, so each way
 * it ends is checked on the real entry point (`src/stress/main.ts` run by tsx, as the `stress`
 * script runs it). Each case is a small, same-thread campaign (the interleaving simulator on the
 * virtual clock) or ends before any campaign: about a second each; those of the worker campaigns'
 * own checks run a small worker campaign over the mailbox fixture, wrapped: a few seconds.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  PACKAGE,
  STRESS_ARGS as ARGS,
  runStress,
  type StressEnded as Ended,
} from './support/run-stress.js';

/** No worker campaign: only the deterministic simulator runs. */
const NO_WORKER_CAMPAIGN = ['--runs', '0', '--hostile-runs', '0', '--delayed-runs', '0'];
/** One fixture, no worker campaign. */
const SMALL = ['--transport', 'mailbox', ...NO_WORKER_CAMPAIGN];

function stress(...args: string[]): Ended {
  return runStress(args);
}

/** `pnpm stress …` as started from `initCwd` (see `runStress`). */
function stressFrom(initCwd: string, ...args: string[]): Ended {
  return runStress(args, initCwd);
}

/** The `--fixture` modules of these tests, relative to the package. */
const MODULES = join('test', 'support', 'stress-modules');
/** The simulator only, a fixed seed: the same schedules every run. */
const SIMULATOR_ONLY = [...NO_WORKER_CAMPAIGN, '--interleavings', '30', '--seed', '20261202'];

describe('pnpm stress (src/stress/main.ts)', () => {
  it('should exit 0 after a clean campaign, printing its totals', () => {
    const r = stress(...SMALL, '--interleavings', '2', '--seed', '7');
    expect(r.stdout).toContain('interleavings:   2 schedules');
    expect(r.stdout).toContain('\ninvariant violations: 0\n');
    expect(r.status).toBe(0);
  });

  it('should exit 1 when nothing ran: an empty budget is not a pass', () => {
    const r = stress(...SMALL, '--interleavings', '0');
    expect(r.stderr).toContain('pnpm stress: nothing ran');
    expect(r.status).toBe(1);
  });

  it('should exit 2 with the usage for an unknown flag', () => {
    const r = stress('--bogus');
    expect(r.stderr).toMatch(/^pnpm stress: .*--bogus/);
    expect(r.stderr).toContain('Usage: pnpm stress');
    expect(r.status).toBe(2);
  });

  it('should exit 2 naming the fixtures when --transport matches none', () => {
    const r = stress('--transport', 'nosuch', '--interleavings', '1', '--runs', '0');
    expect(r.stderr).toContain('pnpm stress: no fixture matches --transport nosuch (fixtures: ');
    expect(r.stderr).toContain('--transport mailbox');
    expect(r.status).toBe(2);
  });

  it('should print the usage and exit 0 for --help', () => {
    const r = stress('--help');
    expect(r.stdout).toContain('Usage: pnpm stress');
    expect(r.status).toBe(0);
  });

  it('should stop quietly with 141 when the reader of its output goes away (… | head)', async () => {
    const child = spawn(process.execPath, [...ARGS, ...SMALL, '--interleavings', '2'], {
      cwd: PACKAGE,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    // The reader goes before the child writes anything: its first line meets EPIPE, whatever the
    // timing.
    child.stdout.destroy();
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(status).toBe(141);
  });

  describe('--fixture <module>', () => {
    it('should exit 1 on a violation, with a replay command that gives the module and fails the same way', () => {
      const module = join(MODULES, 'misrouted-late-reply.ts');
      const r = stress('--fixture', module, ...SIMULATOR_ONLY);
      const total = /\ninvariant violations: (\d+)\n/.exec(r.stdout);
      expect(Number(total?.[1])).toBeGreaterThan(0);
      expect(r.stdout).toContain('VIOLATION schedule seed 2026');
      expect(r.status).toBe(1);
      // The replay command names the module, as an absolute path (it works from any directory):
      // without it, it would stress this repository's.
      const hint = /\n {2}again: loopback: pnpm stress (.*) \(one schedule/.exec(r.stdout);
      expect(hint?.[1]).toBe(
        `--fixture ${join(PACKAGE, module)} --transport loopback --seed 20261202 --interleavings 30 --runs 0`,
      );
      const replay = stressFrom('/', ...(hint?.[1] ?? '').split(' '));
      expect(replay.stdout).toContain(`\ninvariant violations: ${total?.[1]}\n`);
      expect(replay.status).toBe(1);
    });

    it('should fail, not crash, the same-thread campaigns of a fixture without setAgentSignalInterceptor', () => {
      const r = stress(
        '--fixture',
        join(MODULES, 'no-interceptor.ts'),
        ...['--runs', '1', '--interleavings', '5', '--seed', '20261202'],
      );
      const why =
        "needs the same-thread ends' setAgentSignalInterceptor (FixtureEnds), to deliver each platform→agent signal when it chooses";
      expect(r.stdout).toContain(`FAILED not run: loopback: the same-thread seed scenario ${why}`);
      expect(r.stdout).toContain(`FAILED not run: loopback: the interleaving simulator ${why}`);
      expect(r.stdout).toContain('\ncampaign checks failed: 2 ');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(1);
    });

    it("should stress each fixture the module exports once, and none of this repository's", () => {
      const r = stress('--fixture', join(MODULES, 'loopback.ts'), ...SIMULATOR_ONLY);
      expect(r.stdout).toMatch(/^pnpm stress: seed 20261202, .* per fixture over loopback\n/);
      expect(r.stdout).toContain('interleavings:   30 schedules');
      expect(r.stdout).toContain('\ninvariant violations: 0\n');
      expect(r.status).toBe(0);
    });

    it('should take a relative path from the directory pnpm was started in (INIT_CWD)', () => {
      const r = stressFrom(
        join(PACKAGE, 'test', 'support'),
        '--fixture',
        join('stress-modules', 'loopback.ts'),
        ...SIMULATOR_ONLY,
      );
      expect(r.stdout).toContain('\ninvariant violations: 0\n');
      expect(r.status).toBe(0);
    });

    it('should select among its fixtures with --transport, naming them when none matches', () => {
      const r = stress('--fixture', join(MODULES, 'loopback.ts'), '--transport', 'virtio');
      expect(r.stderr).toContain(
        'pnpm stress: no fixture matches --transport virtio (fixtures: --transport loopback)',
      );
      expect(r.status).toBe(2);
    });

    it.each([
      [
        'a file that does not exist',
        'nosuch.ts',
        /^pnpm stress: --fixture nosuch\.ts: no such file \(\/.*\/nosuch\.ts\)/,
      ],
      [
        'a module that exports no fixture',
        join(MODULES, 'no-fixture.ts'),
        /^pnpm stress: --fixture .*no-fixture\.ts: \/.*no-fixture\.ts exports no TransportFixture/,
      ],
    ])('should exit 2 with the usage for %s', (_what, module, message) => {
      const r = stress('--fixture', module, ...SIMULATOR_ONLY);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('Usage: pnpm stress');
      expect(r.stdout).not.toContain('invariant violations');
      expect(r.status).toBe(2);
    });

    it.each([
      ['does not poll', 'no-polling.ts', 'loopback does not poll (capabilities.polling)'],
      [
        'has no worker mode',
        'loopback.ts',
        'loopback has no worker mode (only the worker campaigns poll)',
      ],
    ])(
      'should refuse --polling with the usage (exit 2) for a fixture that %s, running nothing',
      (_what, module, why) => {
        const r = stress('--fixture', join(MODULES, module), '--polling', ...SIMULATOR_ONLY);
        expect(r.stderr).toMatch(new RegExp(`^pnpm stress: --polling: ${escape(why)}; `));
        expect(r.stderr).toContain('Usage: pnpm stress');
        expect(r.stdout).not.toContain('invariant violations');
        expect(r.status).toBe(2);
      },
    );

    it('should exit 1 naming a module that throws as it loads, with its error', () => {
      const r = stress('--fixture', join(MODULES, 'throws.ts'), ...SIMULATOR_ONLY);
      expect(r.stderr).toMatch(
        /^pnpm stress: --fixture .*throws\.ts: \/.*throws\.ts could not be loaded: this fixture module is broken on purpose\n$/,
      );
      expect(r.status).toBe(1);
    });
  });

  // The checks the jest cases apply besides the invariants (shared: raceCampaignShortfalls,
  // hostileCampaignShortfalls), over the mailbox worker fixture wrapped broken, beside the same
  // wrapper left correct (`--variant correct`). A worker campaign: a few seconds each.
  describe('a worker campaign that held its invariants without running what it is about', () => {
    const DELAYED_ONLY = ['--runs', '0', '--delayed-runs', '10', '--hostile-runs', '0'];
    const HOSTILE_ONLY = ['--runs', '0', '--hostile-runs', '8', '--delayed-runs', '0'];
    const SEEDED = ['--interleavings', '0', '--seed', '42'];

    it('should exit 1 when no delayed response came in time, with the seed and the replay command', () => {
      const module = join(MODULES, 'lost-delayed-response.ts');
      const r = stress('--fixture', module, '--variant', 'lost', ...DELAYED_ONLY, ...SEEDED);
      // The campaign went on for its coverage runs (10 + 30), then failed the jest case's check.
      expect(r.stdout).toContain(
        '\n  FAILED nothing was delivered in time: no delayed response came in time in 40 run(s) (seed 42)',
      );
      expect(r.stdout).toContain('\ncampaign checks failed: 1 ');
      expect(r.stdout).toContain(
        `\n  again: mailbox (lost): pnpm stress --fixture ${join(PACKAGE, module)} --transport mailbox --variant lost --seed 42 --runs 0 --delayed-runs 40 `,
      );
      expect(r.status).toBe(1);
    });

    it('should exit 1 when the hostile campaign counted no bad message, with the seed and the replay command', () => {
      const module = join(MODULES, 'hidden-bad-messages.ts');
      const r = stress('--fixture', module, '--variant', 'hidden', ...HOSTILE_ONLY, ...SEEDED);
      // Every hostile reply was counted somewhere (by the wire): no invariant violation…
      expect(r.stdout).toContain('\ninvariant violations: 0\n');
      // …but none as a bad message, which the jest case requires.
      expect(r.stdout).toMatch(
        /\n {2}FAILED no bad message was counted in 8 run\(s\) \(seed 42\), though \d+ hostile replies every wire carries/,
      );
      expect(r.stdout).toContain(
        `\n  again: mailbox (hidden): pnpm stress --fixture ${join(PACKAGE, module)} --transport mailbox --variant hidden --seed 42 --runs 0 --hostile-runs 8 `,
      );
      expect(r.status).toBe(1);
    });

    it.each([
      ['the delayed-response race', 'lost-delayed-response.ts', DELAYED_ONLY],
      ['the hostile campaign', 'hidden-bad-messages.ts', HOSTILE_ONLY],
    ])('should exit 0 for %s over the same wrapper left correct', (_what, module, campaign) => {
      const r = stress(
        '--fixture',
        join(MODULES, module),
        '--variant',
        'correct',
        ...campaign,
        ...SEEDED,
      );
      expect(r.stdout).toContain('\ninvariant violations: 0\ncampaign checks failed: 0 ');
      expect(r.status).toBe(0);
    });
  });

  // The jest cases' checks beyond `problems`, now the scenario's own or shared: the same-thread
  // seed phases (a fixture without a worker mode) require the late reply counted exactly once in
  // all, read once the wire is closed; the interleaving simulator requires, from 100 schedules, a
  // probe timed out and a late reply counted. Same-thread campaigns: about a second each.
  describe('a same-thread campaign judged as the jest cases judge it', () => {
    const COUNTS_AGAIN = join(MODULES, 'counts-again-at-close.ts');
    const SWALLOWS = join(MODULES, 'swallows-late-replies.ts');
    const SEED_PHASES_ONLY = [
      '--runs',
      '4',
      '--hostile-runs',
      '0',
      '--delayed-runs',
      '0',
      '--interleavings',
      '0',
    ];
    const SIMULATOR_100 = [...NO_WORKER_CAMPAIGN, '--interleavings', '100', '--seed', '42'];

    it('should exit 1 when the same-thread seed scenario counted the late reply twice (at the close)', () => {
      const r = stress('--fixture', COUNTS_AGAIN, '--variant', 'again', ...SEED_PHASES_ONLY);
      expect(r.stdout).toMatch(
        /\n {2}VIOLATION the late reply was counted 2 times in all, not once \(by the agent \d, by the wire \d, by the platform side 0\)\n/,
      );
      expect(r.stdout).toContain(
        "runSeedScenarioSameThread(fixture, 'before-quiesce') fails the same way",
      );
      expect(r.status).toBe(1);
    });

    it('should exit 1 when 100 schedules counted no late reply, with the seed and the replay command', () => {
      const r = stress('--fixture', SWALLOWS, '--variant', 'swallows', ...SIMULATOR_100);
      // Every invariant held: nothing was counted because nothing was seen…
      expect(r.stdout).toContain('\ninvariant violations: 0\n');
      // …which the jest case does not call a pass, nor does stress.
      expect(r.stdout).toContain(
        '\n  FAILED no late reply was counted in 100 schedules (seed 42)\n',
      );
      expect(r.stdout).toContain('\ncampaign checks failed: 1 ');
      expect(r.stdout).toContain(
        `\n  again: loopback (swallows): pnpm stress --fixture ${join(PACKAGE, SWALLOWS)} --transport loopback --variant swallows --seed 42 --interleavings 100 --runs 0 `,
      );
      expect(r.status).toBe(1);
    });

    it.each([
      ['the same-thread seed phases', COUNTS_AGAIN, SEED_PHASES_ONLY],
      ['the interleaving simulator', SWALLOWS, SIMULATOR_100],
    ])('should exit 0 for %s over the same wrapper left correct', (_what, module, campaign) => {
      const r = stress('--fixture', module, '--variant', 'correct', ...campaign);
      expect(r.stdout).toContain('\ninvariant violations: 0\ncampaign checks failed: 0 ');
      expect(r.status).toBe(0);
    });
  });
});

/** `text` as a regular expression matching it literally. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
