import { INTERLEAVING_OUTCOMES, runInterleavingSimulation } from '@scmi-ts/conformance';
import { loopbackFixture } from './support/loopback-fixture.js';

describe(runInterleavingSimulation, () => {
  it('should run clean over a correct transport, racing teardown against late replies', async () => {
    const r = await runInterleavingSimulation(loopbackFixture(), { seed: 20261202, schedules: 60 });
    expect(r.violations).toEqual([]);
    expect(r.schedules).toBe(60);
    expect(r.outcomes[INTERLEAVING_OUTCOMES.probeTimedOut]).toBeGreaterThan(0);
    expect(r.outcomes[INTERLEAVING_OUTCOMES.removedBusy]).toBeGreaterThan(0);
    expect(r.lateRepliesCounted).toBeGreaterThan(0);
    expect(r.commands.succeeded).toBeGreaterThan(0);
    expect(r.commands.timedOut + r.commands.shutDown).toBeGreaterThan(0);
  });

  it('should be determined by its seed: the same seed gives the same schedules and outcomes', async () => {
    const options = { seed: 7, schedules: 15 };
    const a = await runInterleavingSimulation(loopbackFixture(), options);
    const b = await runInterleavingSimulation(loopbackFixture(), options);
    expect(b).toEqual(a);
    // One schedule replays on its own with its seed (schedule i runs with seed + i).
    const one = await runInterleavingSimulation(loopbackFixture(), { seed: 7 + 4, schedules: 1 });
    const alone = await runInterleavingSimulation(loopbackFixture(), { seed: 7 + 4, schedules: 1 });
    expect(one).toEqual(alone);
  });

  it('should catch a transport whose channels skip quiesce, naming the seed of each schedule that showed it', async () => {
    const r = await runInterleavingSimulation(loopbackFixture({ brokenQuiesce: true }), {
      seed: 99,
      schedules: 60,
    });
    expect(r.violations.length).toBeGreaterThan(0);
    expect(r.violations.every((v) => /^schedule seed \d+: /.test(v))).toBe(true);
    expect(r.violations.some((v) => /after its (quiesce returned|free began)/.test(v))).toBe(true);
    expect(r.reproduce).toContain('--transport loopback --seed 99');
  });

  it("should name the fixture's variant in the replay hint, so that it runs that fixture alone", async () => {
    const fixture = { ...loopbackFixture({ brokenQuiesce: true }), variant: 'msg' };
    const r = await runInterleavingSimulation(fixture, { seed: 99, schedules: 5 });
    expect(r.violations.length).toBeGreaterThan(0);
    expect(r.reproduce).toContain('--transport loopback --variant msg --seed 99');
  });
});
