import { runSeedScenarioSameThread, type SeedPhase } from '@scmi-ts/conformance';
import { loopbackFixture } from './support/loopback-fixture.js';

describe(runSeedScenarioSameThread, () => {
  describe('with a transport that skips quiesce', () => {
    it.each<SeedPhase>(['draining', 'after-release'])(
      'should report the late callback that ran against released state (%s)',
      async (phase) => {
        const r = await runSeedScenarioSameThread(loopbackFixture({ brokenQuiesce: true }), phase);
        expect(r.problems.some((p) => /after its (quiesce returned|free began)/.test(p))).toBe(
          true,
        );
      },
    );
  });

  describe('with a correct transport', () => {
    it('should report the phase the late reply reached', async () => {
      const r = await runSeedScenarioSameThread(loopbackFixture(), 'after-release');
      expect(r.observedPhase).toBe('after-release');
      expect(r.problems).toEqual([]);
    });
  });
});
