/**
 * The conformance kit's worker campaigns must fail a wire that delivers no reply: their teardown
 * invariants hold vacuously for it (every probe times out), so the kit asks for replies in time.
 * The mailbox worker fixture, with its agent-side RX path cut (nothing reaches core, polling never
 * finds a reply), stands for such a wire.
 */
import {
  SEED_WORKER_PHASES,
  runHostileRepliesWorker,
  runSeedScenarioWorker,
  type FixtureEnds,
  type TransportFixture,
  type WorkerFixtureContext,
  type WorkerFixtureSession,
} from '@scmi-ts/conformance';
import type { Transport } from '@scmi-ts/core';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  decorateTransport,
  forwardChannel,
} from '../../conformance/test/support/decorate-transport.js';
import { mailboxFixture } from './support/fixture.js';

/** `inner` with a dead RX path: its channels hand core nothing. */
function deaf(inner: Transport): Transport {
  return decorateTransport(inner, async (setup, open) => {
    const ch = await open({
      ...setup,
      sink: { rx: () => undefined, badMessage: () => undefined, failInFlight: () => 0 },
    });
    return forwardChannel(ch, { pollDone: () => false });
  });
}

/** A worker session of the mailbox fixture whose wires are {@link deaf}. */
async function deafSession(context: WorkerFixtureContext): Promise<WorkerFixtureSession> {
  const inner = await mailboxFixture.worker(context);
  return {
    open: async (): Promise<FixtureEnds> => {
      const ends = await inner.open();
      return { ...ends, transport: deaf(ends.transport) };
    },
    setFaults: (rules) => inner.setFaults(rules),
    releaseHeldResponses: () => inner.releaseHeldResponses(),
    faultCounts: () => inner.faultCounts(),
    stop: () => inner.stop(),
  };
}

const deafFixture: TransportFixture = { ...mailboxFixture, worker: deafSession };

describe('the conformance worker campaigns, over a wire that delivers no reply', () => {
  let session: WorkerFixtureSession | undefined;
  beforeAll(async () => {
    session = await deafSession({
      platformConfig: createDefaultPlatformConfig(),
      agentId: 1,
      seed: 42,
    });
  });
  afterAll(async () => {
    await session?.stop();
  });

  it('should report that no reply came in time in the seed scenario, and every reply it swallowed without a trace', async () => {
    const r = await runSeedScenarioWorker(deafFixture, {
      runs: 10,
      seed: 42,
      ...(session === undefined ? {} : { session }),
    });
    expect(r.runs).toBe(10);
    expect(r.phases[SEED_WORKER_PHASES.delivered]).toBeUndefined();
    const lost = r.violations.filter((v) => /the late reply left no trace/.test(v));
    expect(r.violations).toEqual([
      ...lost,
      expect.stringMatching(/no reply came in time in 10 runs/),
    ]);
    // The fixture reports cancellations: each reply the deaf wire swallowed (it reached the
    // agent's side, which counted nothing) is a violation of its own.
    expect(lost.length).toBe(r.phases[SEED_WORKER_PHASES.neverArrived] ?? 0);
    expect(lost.length).toBeGreaterThan(0);
  });

  it('should report that every probe of the hostile campaign timed out', async () => {
    const r = await runHostileRepliesWorker(deafFixture, {
      runs: 4,
      seed: 42,
      ...(session === undefined ? {} : { session }),
    });
    expect([r.runs, r.probeTimeouts, r.faultsPlaced]).toEqual([4, 4, 0]);
    expect(r.violations).toEqual([expect.stringMatching(/every one of 4 probes timed out/)]);
  });

  it('should not call 3 hostile runs whose probes all timed out a violation (a loaded machine can)', async () => {
    const r = await runHostileRepliesWorker(deafFixture, {
      runs: 3,
      seed: 42,
      ...(session === undefined ? {} : { session }),
    });
    expect([r.runs, r.probeTimeouts, r.violations]).toEqual([3, 3, []]);
  });
});
