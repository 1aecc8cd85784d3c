/**
 * `pnpm stress` announces what it will run: its header (with `--runs`) lists, per fixture, only the
 * campaigns that run on it — a fixture without a worker mode runs the same-thread seed phases and
 * no hostile or delayed-response campaign, one without a P2A channel no delayed-response race —
 * and says what it skips, and why; each fixture's heading says so again.
 */
import { join } from 'node:path';
import {
  describeSkipped,
  fixtureCampaigns,
  parseStressArgs,
  stressHeaderBudget,
  stressPlan,
} from '../src/stress/plan.js';
import { runStress } from './support/run-stress.js';

const planOf = (...argv: string[]) => stressPlan(parseStressArgs(argv, 1), 1);
const WORKER_P2A = { worker: true, p2a: true };
const WORKER_NO_P2A = { worker: true, p2a: false };
const NO_WORKER = { worker: false, p2a: true };

describe(fixtureCampaigns, () => {
  it('should run every campaign asked on a worker fixture with a P2A channel', () => {
    expect(fixtureCampaigns(planOf('--runs', '4', '--interleavings', '2'), WORKER_P2A)).toEqual({
      run: ['4 seed runs', '1 hostile run', '1 delayed-response run', '2 schedules'],
      skipped: [],
    });
  });

  it('should skip the delayed-response race on a worker fixture without a P2A channel', () => {
    expect(fixtureCampaigns(planOf('--runs', '4', '--interleavings', '2'), WORKER_NO_P2A)).toEqual({
      run: ['4 seed runs', '1 hostile run', '2 schedules'],
      skipped: [
        {
          what: '1 delayed-response run',
          campaign: 'the delayed-response race',
          why: 'the fixture has no P2A channel',
        },
      ],
    });
  });

  it('should run the same-thread seed phases and skip the worker campaigns without a worker mode', () => {
    expect(fixtureCampaigns(planOf('--runs', '4', '--interleavings', '100'), NO_WORKER)).toEqual({
      run: ['4 same-thread seed runs', '100 schedules'],
      skipped: [
        {
          what: '1 hostile run',
          campaign: 'the hostile-reply campaign',
          why: 'the fixture has no worker mode',
        },
        {
          what: '1 delayed-response run',
          campaign: 'the delayed-response race',
          why: 'the fixture has no worker mode',
        },
      ],
    });
  });

  it('should run the hostile runs as same-thread seed runs when only those were asked for (as main does)', () => {
    expect(fixtureCampaigns(planOf('--runs', '0', '--hostile-runs', '3'), NO_WORKER)).toEqual({
      run: ['3 same-thread seed runs'],
      skipped: [],
    });
  });
});

describe(stressHeaderBudget, () => {
  it('should promise only what runs, and say what a fixture without a worker mode skips', () => {
    expect(
      stressHeaderBudget(planOf('--runs', '4', '--interleavings', '100'), [
        { label: 'dbuf', ...NO_WORKER },
      ]),
    ).toBe(
      '4 same-thread seed runs, 100 schedules per fixture over dbuf (skipped: 1 hostile run, 1 delayed-response run — the fixture has no worker mode)',
    );
  });

  it('should group the fixtures that run the same, in the order first met', () => {
    expect(
      stressHeaderBudget(planOf('--runs', '4'), [
        { label: 'mailbox', ...WORKER_P2A },
        { label: 'optee (smt)', ...WORKER_NO_P2A },
        { label: 'virtio', ...WORKER_P2A },
        { label: 'dbuf', ...NO_WORKER },
      ]),
    ).toBe(
      '4 seed runs, 1 hostile run, 1 delayed-response run, 4 schedules per fixture over mailbox, virtio; ' +
        '4 seed runs, 1 hostile run, 4 schedules per fixture over optee (smt) (skipped: 1 delayed-response run — the fixture has no P2A channel); ' +
        '4 same-thread seed runs, 4 schedules per fixture over dbuf (skipped: 1 hostile run, 1 delayed-response run — the fixture has no worker mode)',
    );
  });

  it('should say nothing is skipped when the plan asks only for what runs', () => {
    const plan = planOf('--runs', '4', '--hostile-runs', '0', '--delayed-runs', '0');
    expect(stressHeaderBudget(plan, [{ label: 'dbuf', ...NO_WORKER }])).toBe(
      '4 same-thread seed runs, 4 schedules per fixture over dbuf',
    );
    expect(describeSkipped(fixtureCampaigns(plan, NO_WORKER).skipped, 'campaign')).toBe('');
  });
});

describe('pnpm stress --runs over a fixture without a worker mode', () => {
  it('should announce only the campaigns it runs, run them, and name those it skips', () => {
    const r = runStress([
      '--fixture',
      join('test', 'support', 'stress-modules', 'loopback.ts'),
      '--runs',
      '4',
      '--interleavings',
      '2',
      '--seed',
      '7',
    ]);
    expect(r.stdout).toMatch(
      /^pnpm stress: seed 7, 4 same-thread seed runs, 2 schedules per fixture over loopback \(skipped: 1 hostile run, 1 delayed-response run — the fixture has no worker mode\)\n/,
    );
    expect(r.stdout).toContain(
      '\nloopback (same thread; skipped: the hostile-reply campaign, the delayed-response race — the fixture has no worker mode)\n',
    );
    // What it announced ran, and nothing else.
    expect(r.stdout).toContain('\n  seed scenario: 4 runs; ');
    expect(r.stdout).toContain('\n  interleavings:   2 schedules ');
    expect(r.stdout).not.toContain('hostile replies:');
    expect(r.stdout).not.toContain('delayed resp.:');
    expect(r.status).toBe(0);
  });
});
