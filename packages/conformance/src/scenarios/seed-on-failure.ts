/**
 * Runs a worker campaign so that its seed is printed when it does not return a result: when it
 * throws, and when it is still running near the case's `timeoutMs` (a teardown that hangs, the
 * very thing the campaign looks for, would otherwise end as a bare jest timeout). A result is
 * checked, and its seed printed, by the case.
 *
 * @example
 * ```ts
 * const r = await withSeedOnFailure('seed scenario', seed, 60_000, () =>
 *   runSeedScenarioWorker(fixture, { runs: 100, seed }),
 * );
 * ```
 */
export async function withSeedOnFailure<T>(
  what: string,
  seed: number,
  timeoutMs: number,
  campaign: () => Promise<T>,
): Promise<T> {
  const again = `SCMI_SEED=${seed} repeats its delays and fault placement`;
  const watchdog = setTimeout(
    () => {
      console.error(
        `${what}: still running after ${Math.round(timeoutMs * 0.9)} ms, seed ${seed} (${again})`,
      );
    },
    Math.max(0, timeoutMs * 0.9),
  );
  try {
    return await campaign();
  } catch (error: unknown) {
    console.error(`${what}: failed, seed ${seed} (${again})`);
    throw error;
  } finally {
    clearTimeout(watchdog);
  }
}
