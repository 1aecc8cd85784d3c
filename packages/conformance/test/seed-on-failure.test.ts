import { withSeedOnFailure } from '@scmi-ts/conformance';

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

  it('should print the seed and rethrow when the campaign throws', async () => {
    const error = new Error('platform gone');
    await expect(
      withSeedOnFailure('hostile replies', 42, 60_000, () => Promise.reject(error)),
    ).rejects.toBe(error);
    expect(printed).toEqual([
      expect.stringMatching(/^hostile replies: failed, seed 42 \(SCMI_SEED=42/),
    ]);
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
