import { STRESS_USAGE, StressUsageError, parseStressArgs, stressPlan } from '../src/stress/plan.js';

const SEED = 1234;

describe(parseStressArgs, () => {
  it('should default to 120 s over every transport, with the given default seed', () => {
    expect(parseStressArgs([], SEED)).toEqual({
      durationS: 120,
      runs: undefined,
      hostileRuns: undefined,
      delayedRuns: undefined,
      interleavings: undefined,
      seed: SEED,
      only: undefined,
      variant: undefined,
      fixtureModules: [],
      polling: false,
      help: false,
    });
  });

  it('should collect --fixture modules in order, each once', () => {
    expect(
      parseStressArgs(
        ['--fixture', 'a/fixture.ts', '--fixture', '../b.js', '--fixture', 'a/fixture.ts'],
        SEED,
      ).fixtureModules,
    ).toEqual(['a/fixture.ts', '../b.js']);
  });

  it('should read every flag, skip the "--" pnpm passes on, and floor counts', () => {
    expect(
      parseStressArgs(
        [
          '--',
          '--runs',
          '10.7',
          '--hostile-runs',
          '3',
          '--delayed-runs',
          '2.5',
          '--interleavings',
          '5',
          '--seed',
          '42',
        ],
        SEED,
      ),
    ).toMatchObject({ runs: 10, hostileRuns: 3, delayedRuns: 2, interleavings: 5, seed: 42 });
    expect(parseStressArgs(['--duration', '7', '--transport', 'virtio'], SEED)).toMatchObject({
      durationS: 7,
      only: 'virtio',
      variant: undefined,
    });
    expect(parseStressArgs(['--transport', 'optee', '--variant', 'msg'], SEED)).toMatchObject({
      only: 'optee',
      variant: 'msg',
    });
    expect(parseStressArgs(['--polling', '--runs', '4'], SEED)).toMatchObject({
      polling: true,
      runs: 4,
    });
    expect(parseStressArgs(['-h'], SEED).help).toBe(true);
    expect(parseStressArgs(['--help'], SEED).help).toBe(true);
  });

  it.each([
    [['--runs'], /--runs needs a value/],
    [['--runs', '--seed', '1'], /--runs needs a value/],
    [['--runs', '-1'], /needs a non-negative number, got -1/],
    [['--duration', 'soon'], /needs a non-negative number, got soon/],
    [['--seed', ' '], /needs a non-negative number/],
    [['--hostile-runs', '3'], /--hostile-runs goes with --runs/],
    [['--delayed-runs', '3'], /--delayed-runs goes with --runs/],
    [['--fast'], /unknown argument --fast/],
    [['--variant'], /--variant needs a value/],
    [['--transport', '-h'], /--transport needs a name, got -h/],
    [['--fixture'], /--fixture needs a value/],
    [['--fixture', '--runs', '1'], /--fixture needs a value/],
    [['--fixture', ' '], /--fixture needs a module path/],
  ])('should refuse %j with a StressUsageError', (argv, message) => {
    expect(() => parseStressArgs(argv, SEED)).toThrow(StressUsageError);
    expect(() => parseStressArgs(argv, SEED)).toThrow(message);
  });

  it('should document every flag it reads in the usage', () => {
    for (const flag of [
      '--duration',
      '--runs',
      '--hostile-runs',
      '--delayed-runs',
      '--interleavings',
      '--seed',
      '--transport',
      '--variant',
      '--polling',
      '--fixture',
      '--help',
    ])
      expect(STRESS_USAGE).toContain(flag);
  });
});

describe(stressPlan, () => {
  const plan = (argv: string[], fixtures = 4): ReturnType<typeof stressPlan> =>
    stressPlan(parseStressArgs(argv, SEED), fixtures);

  it('should share a duration between the fixtures: 40 % seed scenario, 10 % delayed responses, a fifth hostile, the rest interleavings', () => {
    const p = plan(['--duration', '40']);
    expect(p.seed).toEqual({ runs: Number.MAX_SAFE_INTEGER, durationMs: 4000 });
    expect(p.delayed).toEqual({ runs: Number.MAX_SAFE_INTEGER, durationMs: 1000 });
    expect(p.hostile).toEqual({ runs: Number.MAX_SAFE_INTEGER, durationMs: 2000 });
    expect(p.interleavings).toEqual({ runs: Number.MAX_SAFE_INTEGER, durationMs: 3000 });
  });

  it('should give --runs n seed runs, n / 10 hostile runs and n / 4 delayed-response runs (at least 1 each) and n schedules', () => {
    expect(plan(['--runs', '30'])).toEqual({
      seed: { runs: 30 },
      hostile: { runs: 3 },
      delayed: { runs: 7 },
      interleavings: { runs: 30 },
    });
    expect(plan(['--runs', '3']).hostile).toEqual({ runs: 1 });
    expect(plan(['--runs', '3']).delayed).toEqual({ runs: 1 });
  });

  it('should run the delayed-response race alone for --runs 0 --delayed-runs n --hostile-runs 0 --interleavings 0 (the replay it prints)', () => {
    expect(
      plan(['--runs', '0', '--delayed-runs', '9', '--hostile-runs', '0', '--interleavings', '0']),
    ).toEqual({
      seed: undefined,
      hostile: undefined,
      delayed: { runs: 9 },
      interleavings: undefined,
    });
  });

  it('should run the hostile campaign alone for --runs 0 --hostile-runs n (the replay it prints)', () => {
    expect(plan(['--runs', '0', '--hostile-runs', '8'])).toEqual({
      seed: undefined,
      hostile: { runs: 8 },
      delayed: undefined,
      interleavings: undefined,
    });
  });

  it('should run the interleavings alone for --runs 0 --interleavings n (the replay it prints)', () => {
    expect(plan(['--runs', '0', '--interleavings', '1'])).toEqual({
      seed: undefined,
      hostile: undefined,
      delayed: undefined,
      interleavings: { runs: 1 },
    });
  });

  it('should run the seed scenario alone for --runs n --hostile-runs 0 --delayed-runs 0 --interleavings 0 (the replay it prints)', () => {
    expect(
      plan(['--runs', '12', '--hostile-runs', '0', '--delayed-runs', '0', '--interleavings', '0']),
    ).toEqual({
      seed: { runs: 12 },
      hostile: undefined,
      delayed: undefined,
      interleavings: undefined,
    });
  });

  it('should plan nothing for --duration 0 or --runs 0 alone (main then fails: nothing ran)', () => {
    expect(plan(['--duration', '0'])).toEqual({
      seed: undefined,
      hostile: undefined,
      delayed: undefined,
      interleavings: undefined,
    });
    expect(plan(['--runs', '0'])).toEqual({
      seed: undefined,
      hostile: undefined,
      delayed: undefined,
      interleavings: undefined,
    });
  });

  it('should take --interleavings beside a duration as a number of schedules', () => {
    expect(plan(['--duration', '8', '--interleavings', '50']).interleavings).toEqual({ runs: 50 });
  });
});
