import {
  SEED_WORKER_PHASES,
  runSeedScenarioSameThread,
  seedWorkerPhase,
  type SeedPhase,
  type SeedWorkerTrace,
  type TransportFixture,
} from '@scmi-ts/conformance';
import { loopbackFixture } from './support/loopback-fixture.js';

describe(runSeedScenarioSameThread, () => {
  describe("with a wire whose deliver() only queues the reply (a task of the clock's)", () => {
    const inner = loopbackFixture();
    const queuing: TransportFixture = {
      ...inner,
      sameThread: async (ctx) => {
        const ends = await inner.sameThread(ctx);
        return {
          ...ends,
          setAgentSignalInterceptor: (interceptor) => {
            ends.setAgentSignalInterceptor?.(
              interceptor === undefined
                ? undefined
                : (deliver) => {
                    interceptor(() => {
                      ctx.clock.schedule(deliver);
                    });
                  },
            );
          },
        };
      },
    };

    it.each(['before-quiesce', 'during-quiesce', 'draining'] as const)(
      'should say deliver() must reach the agent synchronously (%s)',
      async (phase) => {
        const r = await runSeedScenarioSameThread(queuing, phase);
        expect(r.problems).toContainEqual(
          expect.stringMatching(/^the wire's deliver\(\) returned before the late reply reached/),
        );
      },
    );

    it('should say nothing of it over the same loopback delivering at once', async () => {
      const r = await runSeedScenarioSameThread(inner, 'before-quiesce');
      expect(r.problems).toEqual([]);
    });
  });

  describe('with a transport that skips quiesce', () => {
    it('should report the late callback that ran against released state (after-release)', async () => {
      const r = await runSeedScenarioSameThread(
        loopbackFixture({ brokenQuiesce: true }),
        'after-release',
      );
      expect(r.observedPhase).toBe('after-release');
      expect(r.problems.some((p) => /after its (quiesce returned|free began)/.test(p))).toBe(true);
    });

    it('should report the late callback its guard let into a quiescing channel (draining)', async () => {
      const r = await runSeedScenarioSameThread(
        loopbackFixture({ brokenQuiesce: true }),
        'draining',
      );
      expect(r.observedPhase).toBe('draining');
      expect(r.problems.some((p) => /neither its RX guard nor the wire refused/.test(p))).toBe(
        true,
      );
    });
  });

  describe('with a correct transport', () => {
    it.each<SeedPhase>(['before-quiesce', 'during-quiesce', 'draining', 'after-release'])(
      'should report the phase the late reply reached (%s)',
      async (phase) => {
        const r = await runSeedScenarioSameThread(loopbackFixture(), phase);
        expect(r.requestedPhase).toBe(phase);
        expect(r.observedPhase).toBe(phase);
        expect(r.problems).toEqual([]);
      },
    );
  });

  describe('with a fixture that does not route the reply through its interceptor', () => {
    // The signal reaches the agent at once, never through the kit: no phase can be chosen, and the
    // run must say so instead of passing for the phase asked for.
    const passThrough = (): TransportFixture => {
      const inner = loopbackFixture();
      return {
        ...inner,
        sameThread: async (ctx) => {
          const ends = await inner.sameThread(ctx);
          return { ...ends, setAgentSignalInterceptor: () => undefined };
        },
      };
    };

    it.each<SeedPhase>(['draining', 'after-release'])(
      'should report that the reply did not reach the phase asked for (%s)',
      async (phase) => {
        const r = await runSeedScenarioSameThread(passThrough(), phase);
        expect(r.observedPhase).not.toBe(phase);
        expect(r.problems.some((p) => p.startsWith(`the late reply was to arrive ${phase}`))).toBe(
          true,
        );
      },
    );
  });
});

describe(seedWorkerPhase, () => {
  const none: SeedWorkerTrace = {
    delivered: false,
    refused: 0,
    droppedByCore: 0,
    rxAfterTeardown: false,
    droppedByWire: 0,
    cancelled: 0,
  };

  it.each([
    [{ delivered: true, refused: 1 }, SEED_WORKER_PHASES.delivered],
    [{ refused: 1, droppedByCore: 1, cancelled: 1 }, SEED_WORKER_PHASES.refused],
    [{ droppedByCore: 1, droppedByWire: 1 }, SEED_WORKER_PHASES.droppedBeforeTeardown],
    [{ droppedByCore: 1, rxAfterTeardown: true }, SEED_WORKER_PHASES.droppedDuringTeardown],
    [{ droppedByWire: 2, cancelled: 1 }, SEED_WORKER_PHASES.afterRelease],
    [{ cancelled: 1 }, SEED_WORKER_PHASES.cancelledUnsent],
    [{ cancelled: 1, untaken: 1 }, SEED_WORKER_PHASES.cancelledUnsent],
    [{ untaken: 1 }, SEED_WORKER_PHASES.neverTaken],
    [{}, SEED_WORKER_PHASES.neverArrived],
  ] as [Partial<SeedWorkerTrace>, string][])(
    'should tell the phase of a run from the first trace of its reply (%j)',
    (trace, phase) => {
      expect(seedWorkerPhase({ ...none, ...trace })).toBe(phase);
    },
  );
});
