/**
 * Real time, in ms, a campaign waits at its end (after one macrotask turn) before it reads its
 * runs' records a last time ({@link LateViolationWatch.finish}): a callback a wire lets happen a
 * few ms after its run was checked still lands before that read. Small on purpose: a run's own
 * checks come after it waited for its reply, and every later run of the campaign is more time in
 * which an earlier run's late callback is seen.
 */
export const LATE_GRACE_MS = 5;

/**
 * How long, in ms of real time, a checked run stays watched at least (default of
 * {@link LateViolationWatch}): a long campaign (a `pnpm stress` duration) then keeps only its
 * recent runs' records alive, not thousands of wires.
 */
const DEFAULT_WATCH_MS = 2_000;

/** One checked run: where it is, how to take what it recorded since, and when it was checked. */
interface Watched {
  readonly where: string;
  readonly take: () => readonly string[];
  readonly since: number;
}

/**
 * The runs of a campaign, watched after they were checked: a run's instrument and its transport's
 * own list (`FixtureEnds.transportViolations`) are read when the run is checked, but a wire may
 * still call back later — a `sink.rx` on a timer of its own 30 ms after `free()` lands while the
 * next runs go on. Each watched run is read again whenever another run is checked
 * ({@link LateViolationWatch.collect}) and once more at the end of the campaign, after one
 * macrotask turn and {@link LATE_GRACE_MS} ({@link LateViolationWatch.finish}); what it recorded
 * after it was checked is a violation of that run, reported once, marked
 * `(recorded after the run was checked)`.
 *
 * @example
 * ```ts
 * const watch = new LateViolationWatch();
 * for (const seed of seeds) {
 *   watch.collect(violations); // what the earlier runs recorded since they were checked
 *   const rig = await SameThreadRig.create(fixture);
 *   // … run it …
 *   for (const p of await rig.dispose()) violations.push(`seed ${seed}: ${p}`);
 *   watch.watch(`seed ${seed}`, () => rig.takeUnreportedViolations());
 * }
 * await watch.finish(violations);
 * ```
 */
export class LateViolationWatch {
  readonly #watched: Watched[] = [];
  readonly #watchMs: number;

  /** Watches each run for `watchMs` of real time at least (default 2 s), and to the campaign's end. */
  public constructor(watchMs = DEFAULT_WATCH_MS) {
    this.#watchMs = watchMs;
  }

  /**
   * Watches a run just checked: `take` returns what its records hold that was not reported yet
   * (each entry once: what the check reported is not returned again).
   */
  public watch(where: string, take: () => readonly string[]): void {
    this.#watched.push({ where, take, since: Date.now() });
  }

  /**
   * Adds to `violations` what the watched runs recorded since they were last read, each prefixed
   * with its run's `where`; then stops watching the runs watched for long enough.
   */
  public collect(violations: string[]): void {
    const now = Date.now();
    for (const w of this.#watched) {
      for (const v of w.take())
        violations.push(`${w.where}: ${v} (recorded after the run was checked)`);
    }
    let retired = 0;
    while (
      retired < this.#watched.length &&
      now - (this.#watched[retired] as Watched).since >= this.#watchMs
    )
      retired++;
    this.#watched.splice(0, retired);
  }

  /**
   * The campaign's end: one macrotask turn and `graceMs` of real time (default
   * {@link LATE_GRACE_MS}), then {@link LateViolationWatch.collect} over every run still watched,
   * which it then stops watching.
   */
  public async finish(violations: string[], graceMs = LATE_GRACE_MS): Promise<void> {
    if (this.#watched.length === 0) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (graceMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, graceMs));
    this.collect(violations);
    this.#watched.length = 0;
  }
}

/**
 * What a run's records hold beyond what was reported (`reported`, advanced here): the
 * instrument's violations as they read, the transport's own (`transportViolations`) prefixed with
 * `transport: `. Each entry is returned once. @internal
 */
export function takeUnreported(
  reported: { instrument: number; transport: number },
  instrument: readonly string[],
  transport: readonly string[],
): string[] {
  const fresh = [
    ...instrument.slice(reported.instrument),
    ...transport.slice(reported.transport).map((v) => `transport: ${v}`),
  ];
  reported.instrument = Math.max(reported.instrument, instrument.length);
  reported.transport = Math.max(reported.transport, transport.length);
  return fresh;
}
