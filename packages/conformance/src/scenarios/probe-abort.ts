import type { TransportFixture } from '../fixture.js';
import { SameThreadRig } from '../rig.js';
import { describeError } from './describe-error.js';

/** Virtual milliseconds from the platform taking Base PROTOCOL_VERSION to the abort. */
export const PROBE_ABORT_AFTER_MS = 5;

/** The response timeout the aborted probe runs with (the abort comes well before it). */
const RX_TIMEOUT_MS = 30;

/** The outcome of one {@link runProbeAbortSameThread} run. */
export interface ProbeAbortResult {
  /** What the probe rejected with (the kit's abort reason, when the transport did its part). */
  readonly probeError: unknown;
  /** The abort reason the kit gave. */
  readonly reason: Error;
  /**
   * Virtual milliseconds from the abort to the start of the probe's teardown (the step it was on
   * failed, and with it the probe); `undefined` when it never started.
   */
  readonly teardownAfterMs: number | undefined;
  /**
   * The probe did not settle while the platform held the reply (for 5 s of virtual time): the
   * transport's teardown waits for the platform (a quiesce that awaits the invocation in flight,
   * with no bound of its own), and the kit released the reply to let it end.
   */
  readonly waitedForPlatform: boolean;
  /** How many times the held reply was accounted: delivered late and counted, or dropped. */
  readonly accounted: number;
  /** Hygiene problems (the rig's dispose) and the run's own. */
  readonly problems: string[];
}

/**
 * Aborts a probe while Base discovery waits for the platform, in same-thread mode: the platform
 * holds the reply to Base PROTOCOL_VERSION, and {@link PROBE_ABORT_AFTER_MS} later (virtual time,
 * before the 30 ms response timeout) the kit fires the probe's `AgentOptions.signal`. The probe
 * must give up at once — its teardown starts then, not at the timeout — reject with the signal's
 * reason, and tear down as a failed probe does: every resource released once, quiesce first, no
 * timer left. The held reply, sent once the probe settled (or while a teardown waits for it), must
 * be dropped and counted once, reaching no released state.
 *
 * @example
 * ```ts
 * const r = await runProbeAbortSameThread(fixture);
 * expect(r.probeError).toBe(r.reason);
 * expect(r.problems).toEqual([]);
 * ```
 */
export async function runProbeAbortSameThread(
  fixture: TransportFixture,
): Promise<ProbeAbortResult> {
  const rig = await SameThreadRig.create(fixture, { auto: false });
  const { port, clock } = rig;
  const controller = new AbortController();
  const reason = new Error(`${fixture.name}: the probe was aborted (conformance kit)`);
  let abortedAt: number | undefined;
  port.hold((protocolId, messageId) => {
    if (protocolId !== 0x10 || messageId !== 0x0 || abortedAt !== undefined) return false;
    abortedAt = clock.now() + PROBE_ABORT_AFTER_MS;
    clock.setTimeout(() => {
      controller.abort(reason);
    }, PROBE_ABORT_AFTER_MS);
    return true;
  });
  let probeError: unknown;
  // When the probe gave up: its teardown begins as soon as the step it was on fails.
  let teardownAt: number | undefined;
  rig.onEvent = (e): void => {
    if (e.type === 'teardown-begin') teardownAt ??= clock.now();
  };
  const outcome = rig.probe({ rxTimeoutMs: RX_TIMEOUT_MS, signal: controller.signal }).then(
    () => undefined,
    (e: unknown) => {
      probeError = e;
    },
  );
  let settled = await rig.settle(outcome, 5_000);
  const problems: string[] = [];
  let waitedForPlatform = false;
  if (!settled && port.heldCount > 0) {
    // The transport waits for the held reply (its send, or its teardown): let it go.
    waitedForPlatform = true;
    port.release();
    settled = await rig.settle(outcome, 5_000);
  }
  // Sent after the probe settled: the agent is gone, the reply is dropped and counted.
  port.release();
  await clock.runUntilIdle();
  if (abortedAt === undefined) problems.push('the platform never received Base PROTOCOL_VERSION');
  if (!settled) problems.push('the aborted probe never settled');
  else if (probeError !== reason)
    problems.push(`expected the abort's reason, got ${describeError(probeError)}`);
  problems.push(...(await rig.dispose()));
  const { accounted } = rig.lateReplyCounts();
  return {
    probeError,
    reason,
    teardownAfterMs:
      teardownAt !== undefined && abortedAt !== undefined ? teardownAt - abortedAt : undefined,
    waitedForPlatform,
    accounted,
    problems,
  };
}
