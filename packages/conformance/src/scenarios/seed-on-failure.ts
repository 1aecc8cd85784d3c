/**
 * Runs a worker campaign so that its seed is given when it does not return a result: when it
 * throws, the error is thrown again with the seed first in its message (`hostile replies: seed 42
 * (SCMI_SEED=42 repeats …): <its message>`, the original as its `cause`, its `code` kept) — the
 * message is what every reporter keeps; when it is still running near the case's `timeoutMs` (a
 * teardown that hangs, the very thing the campaign looks for, would otherwise end as a bare jest
 * timeout), the seed is printed. A result is checked, and its seed given, by the case.
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
    const message = error instanceof Error ? error.message : String(error);
    const wrapped = new Error(`${what}: seed ${seed} (${again}): ${message}`, { cause: error });
    // Its code too (E_TIMEOUT, E_WORKER_EXITED…), for a check that reads it off the error.
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string') Object.assign(wrapped, { code });
    throw wrapped;
  } finally {
    clearTimeout(watchdog);
  }
}
