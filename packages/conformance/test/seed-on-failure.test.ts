import { seedFromEnv, withSeedOnFailure } from '@scmi-ts/conformance';

describe(withSeedOnFailure, () => {
  let printed: string[];
  let spy: jest.SpyInstance;
  beforeEach(() => {
    printed = [];
    spy = jest.spyOn(console, 'error').mockImplementation((line: unknown) => {
      printed.push(String(line));
    });
  });
  afterEach(() => {
    spy.mockRestore();
  });

  it('should return the result and print nothing when the campaign returns in time', async () => {
    await expect(
      withSeedOnFailure('seed scenario', 7, 60_000, () => Promise.resolve(3)),
    ).resolves.toBe(3);
    expect(printed).toEqual([]);
  });

  it('should throw again with the seed first in the message when the campaign throws', async () => {
    const error = new Error('platform gone');
    const failed = withSeedOnFailure('hostile replies', 42, 60_000, () => Promise.reject(error));
    await expect(failed).rejects.toThrow(
      'hostile replies: seed 42 (SCMI_SEED=42 repeats its delays and fault placement): platform gone',
    );
    await expect(failed).rejects.toHaveProperty('cause', error);
    const coded = Object.assign(new Error('gone'), { code: 'E_WORKER_EXITED' });
    await expect(
      withSeedOnFailure('seed scenario', 7, 60_000, () => Promise.reject(coded)),
    ).rejects.toMatchObject({ code: 'E_WORKER_EXITED', cause: coded });
    expect(printed).toEqual([]);
  });

  it('should print the seed while a campaign that hangs is still running, before the case times out', async () => {
    // The campaign ends only once the watchdog has printed: a hang, as far as the watchdog knows.
    const result = withSeedOnFailure(
      'seed scenario',
      99,
      20,
      () =>
        new Promise<string>((resolve) => {
          spy.mockImplementation((line: unknown) => {
            printed.push(String(line));
            resolve('ended');
          });
        }),
    );
    await expect(result).resolves.toBe('ended');
    expect(printed).toEqual([
      expect.stringMatching(/^seed scenario: still running after 18 ms, seed 99 \(SCMI_SEED=99/),
    ]);
  });
});

describe(seedFromEnv, () => {
  const saved = process.env.SCMI_TEST_SEED;
  afterEach(() => {
    if (saved === undefined) delete process.env.SCMI_TEST_SEED;
    else process.env.SCMI_TEST_SEED = saved;
  });

  it('should take the fallback when unset, and a whole number when set', () => {
    delete process.env.SCMI_TEST_SEED;
    expect(seedFromEnv('SCMI_TEST_SEED', 7)).toBe(7);
    process.env.SCMI_TEST_SEED = '42';
    expect(seedFromEnv('SCMI_TEST_SEED', 7)).toBe(42);
  });

  it.each(['', ' ', 'abc', '1.5', '-3', '1e400', '1e3', '0x1F', ' 7 '])(
    'should refuse %p, naming the variable',
    (v) => {
      process.env.SCMI_TEST_SEED = v;
      expect(() => seedFromEnv('SCMI_TEST_SEED', 7)).toThrow(
        `SCMI_TEST_SEED=${JSON.stringify(v)}: expected a whole number ≥ 0`,
      );
    },
  );

  it('should refuse a value under the minimum given (0 runs would pass vacuously)', () => {
    process.env.SCMI_TEST_SEED = '0';
    expect(() => seedFromEnv('SCMI_TEST_SEED', 150, 1)).toThrow(
      'SCMI_TEST_SEED="0": expected a whole number ≥ 1',
    );
  });
});
