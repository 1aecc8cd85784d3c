import {
  FixtureCapabilityError,
  INTERLEAVING_OUTCOMES,
  runInterleavingSimulation,
  runSeedScenarioSameThread,
  type TransportFixture,
} from '@scmi-ts/conformance';
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
    // Clock commands answered BUSY while clock 0's asynchronous rate change was pending: an outcome
    // the simulator allows for those commands only.
    expect(r.commands.platformBusy).toBeGreaterThan(0);
  });

  it("should give each schedule's seed to the fixture's wire (ctx.seed), 1 elsewhere", async () => {
    const inner = loopbackFixture();
    const seeds: (number | undefined)[] = [];
    const fixture: TransportFixture = {
      ...inner,
      sameThread: (ctx) => {
        seeds.push(ctx.seed);
        return inner.sameThread(ctx);
      },
    };
    await runInterleavingSimulation(fixture, { seed: 99, schedules: 3 });
    expect(seeds).toEqual([99, 100, 101]);
    seeds.length = 0;
    await runSeedScenarioSameThread(fixture, 'before-quiesce');
    expect(seeds).toEqual([1]);
  });

  it('should refuse a fixture without setAgentSignalInterceptor before running, its ends closed', async () => {
    const inner = loopbackFixture();
    let closed = 0;
    const fixture: TransportFixture = {
      ...inner,
      sameThread: async (ctx) => {
        const ends = { ...(await inner.sameThread(ctx)) };
        delete ends.setAgentSignalInterceptor;
        return {
          ...ends,
          close: async () => {
            closed++;
            await ends.close();
          },
        };
      },
    };
    const refusal = runInterleavingSimulation(fixture, { seed: 1, schedules: 3 });
    await expect(refusal).rejects.toThrow(FixtureCapabilityError);
    await expect(refusal).rejects.toThrow(/^loopback: the interleaving simulator needs/);
    await expect(refusal).rejects.toMatchObject({
      code: 'E_FIXTURE',
      missing: 'setAgentSignalInterceptor',
    });
    expect(closed).toBe(1);
    await expect(runSeedScenarioSameThread(fixture, 'draining')).rejects.toThrow(
      /^loopback: the same-thread seed scenario needs the same-thread ends' setAgentSignalInterceptor/,
    );
    expect(closed).toBe(2);
  });

  it('should be determined by its seed: schedule i runs with seed + i, so a named schedule seed replays alone', async () => {
    const fixture = loopbackFixture({ brokenQuiesce: true });
    const campaign = await runInterleavingSimulation(fixture, { seed: 99, schedules: 60 });
    // The violations of the campaign, by the schedule seed each names.
    const bySeed = new Map<number, string[]>();
    for (const v of campaign.violations) {
      const m = /^schedule seed (\d+): (.*)$/s.exec(v);
      expect(m).not.toBeNull();
      const scheduleSeed = Number(m?.[1]);
      bySeed.set(scheduleSeed, [...(bySeed.get(scheduleSeed) ?? []), m?.[2] ?? '']);
    }
    const seeds = [...bySeed.keys()];
    expect(seeds.length).toBeGreaterThan(0);
    // Every named seed is one of the campaign's: seed + i for a schedule i < 60.
    expect(seeds.every((s) => s >= 99 && s < 99 + 60)).toBe(true);
    // The replay hint prints the campaign and how to replay one schedule with its own seed.
    expect(campaign.reproduce).toContain('--seed 99 --interleavings 60');
    expect(campaign.reproduce).toContain('--seed <its seed> --interleavings 1');

    // A schedule that showed violations replays alone with its seed, showing the same ones.
    const shown = seeds[seeds.length - 1] as number;
    const replay = await runInterleavingSimulation(fixture, { seed: shown, schedules: 1 });
    expect(replay.seed).toBe(shown);
    expect(replay.violations).toEqual(
      (bySeed.get(shown) ?? []).map((p) => `schedule seed ${shown}: ${p}`),
    );
    // A schedule of the campaign that showed none replays clean with its own seed.
    const clean = Array.from({ length: 60 }, (_, i) => 99 + i).find((s) => !bySeed.has(s));
    expect(clean).toBeDefined();
    const quiet = await runInterleavingSimulation(fixture, { seed: clean as number, schedules: 1 });
    expect(quiet.violations).toEqual([]);
    // The same seed gives the same campaign, outcomes and totals included.
    expect(await runInterleavingSimulation(fixture, { seed: 99, schedules: 60 })).toEqual(campaign);
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

  it('should quote a variant that is not one shell word, and give the module a fixture names', async () => {
    const fixture = {
      ...loopbackFixture({ brokenQuiesce: true }),
      variant: "no ack, won't wait",
      stressModule: '/somewhere/my fixtures/fixture.ts',
    };
    const r = await runInterleavingSimulation(fixture, { seed: 99, schedules: 5 });
    expect(r.violations.length).toBeGreaterThan(0);
    expect(r.reproduce).toContain(
      `pnpm stress --fixture '/somewhere/my fixtures/fixture.ts' --transport loopback --variant 'no ack, won'\\''t wait' --seed 99`,
    );
  });
});
