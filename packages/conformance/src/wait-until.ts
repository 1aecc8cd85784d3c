/**
 * Polls `done` every 5 ms until it holds or `limitMs` of real time (default 10 s) have passed, for
 * worker-mode tests that wait for the other thread: a bound against a hang, not a timing (a count
 * of short sleeps would end early on a loaded machine). It never throws on the deadline and
 * returns nothing: the caller then asserts what it waited for, so a condition that never held
 * fails there, with the caller's message. A `done` that throws or rejects ends the wait with that
 * error.
 *
 * @example
 * ```ts
 * await waitUntil(async () => (await device.stats()).commands >= 3);
 * expect((await device.stats()).commands).toBe(3);
 * ```
 */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  limitMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await done()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
