/**
 * The notification hub's bookkeeping against a model of the platform, over random sequences of
 * subscribes and unsubscribes (per source and every source) whose notify commands fail at random —
 * refused by the platform, refused before anything was sent, timed out after the platform applied
 * them or before — and every-source commands that fail for some sources only
 * (`ScmiNotifyOutcome`). After each step:
 *
 * - a subscribe of one source that resolved has that source enabled at the platform;
 * - a step in which no command failed leaves enabled exactly the sources a subscriber wants, when
 *   no earlier failure left a source enabled that nobody wants;
 * - and once the agent is removed, with every disable of the removal succeeding, the platform
 *   sends nothing: no source is left enabled after the agent is gone.
 *
 * `SCMI_FUZZ_SEED` (default 1) is the first seed, `SCMI_FUZZ_RUNS` the number of sequences
 * (default 200); sequence i runs seed `SCMI_FUZZ_SEED + i`, and a failure names its seed. A long
 * campaign: `SCMI_FUZZ_SEED=1000 SCMI_FUZZ_RUNS=20000 npx jest packages/core/test/notification-model-fuzz`.
 */
import {
  ScmiError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  mulberry32,
  type ScmiAgent,
  type ScmiEventFilter,
  type ScmiNotifyOutcome,
} from '@scmi-ts/core';
import { failedSeeds, fuzzSeeds } from './support/fuzz.js';
import { createHarness } from './support/harness.js';

const PROTOCOL = 0x14;
const NOTIFY = { protocolId: PROTOCOL, messageId: 0x9 };
const SOURCES = 4;
const STEPS = 24;
const { first: FIRST_SEED, runs: RUNS, seeds: SEEDS } = fuzzSeeds(200);

type Failure = 'refuse' | 'refuse-unsent' | 'timeout-applied' | 'timeout-unapplied';
const FAILURES: readonly Failure[] = [
  'refuse',
  'refuse-unsent',
  'timeout-applied',
  'timeout-unapplied',
];

/** The platform: what it sends, and whether the next notify commands fail. */
class ModelPlatform {
  readonly enabled = new Set<number>();
  /** Each command fails with this probability (0 during the removal). */
  failRate = 0;
  /** Commands that failed since the last `step()`. */
  failed = 0;
  /** When set, each command answers after 0 to 3 ms of this clock (commands then overlap). */
  delay: ((fn: () => void, ms: number) => void) | undefined;
  readonly #random: () => number;

  constructor(random: () => number) {
    this.#random = random;
  }

  /** `settle` now, or after a random delay. */
  #answer(settle: () => Promise<void>): Promise<void> {
    const delay = this.delay;
    if (delay === undefined) return settle();
    const ms = Math.floor(this.#random() * 4);
    return new Promise<void>((resolve) => {
      delay(resolve, ms);
    }).then(settle);
  }

  step(): void {
    this.failed = 0;
  }

  /** One source's notify command. */
  send(source: number, enable: boolean): Promise<void> {
    const fail =
      this.#random() < this.failRate
        ? FAILURES[Math.floor(this.#random() * FAILURES.length)]
        : undefined;
    if (fail !== undefined) this.failed++;
    if (fail === 'refuse-unsent') {
      return Promise.reject(new ScmiError('E_NOT_SUPPORTED', `source ${source} refused`));
    }
    // The platform acts when the command reaches it; its answer may come later.
    if (fail !== 'refuse' && fail !== 'timeout-unapplied') {
      if (enable) this.enabled.add(source);
      else this.enabled.delete(source);
    }
    return this.#answer(() => {
      if (fail === 'refuse') return Promise.reject(new ScmiStatusError(ScmiStatus.DENIED, NOTIFY));
      if (fail !== undefined) return Promise.reject(new ScmiTimeoutError(NOTIFY, 5, 30_000));
      return Promise.resolve();
    });
  }

  /** The every-source command, one command per source as protocols' `perDomainNotify` sends. */
  async sendAll(enable: boolean): Promise<ScmiNotifyOutcome | undefined> {
    const failed = new Map<number, unknown>();
    for (let s = 0; s < SOURCES; s++) {
      try {
        await this.send(s, enable);
      } catch (error) {
        failed.set(s, error);
      }
    }
    if (failed.size === 0) return undefined;
    if (failed.size < SOURCES) return { failed };
    // None took: an error whose outcome is unknown first, as perDomainNotify reports.
    const errors = [...failed.values()];
    throw errors.find((e) => e instanceof ScmiTimeoutError) ?? errors[0];
  }
}

interface Held {
  readonly source: number | undefined;
  readonly off: () => Promise<void>;
}

/** An agent with one event whose notify commands go to a model platform. */
async function createModel(
  seed: number,
  delayed: boolean,
): Promise<{ random: () => number; agent: ScmiAgent; platform: ModelPlatform }> {
  const random = mulberry32(seed);
  const h = createHarness();
  const agent = await h.create();
  const platform = new ModelPlatform(random);
  if (delayed) {
    platform.delay = (fn, ms) => {
      h.clock.setTimeout(fn, ms);
    };
  }
  agent.events.register(PROTOCOL, [
    {
      id: 0,
      name: 'rate-changed',
      numSources: SOURCES,
      setNotifyEnabled: (source, enable) =>
        source === undefined ? platform.sendAll(enable) : platform.send(source, enable),
    },
  ]);
  return { random, agent, platform };
}

/** What is wrong once the agent is removed: anything still sent, any disable that failed. */
function afterRemoval(agent: ScmiAgent, platform: ModelPlatform): string[] {
  const problems: string[] = [];
  const stats = agent.diagnostics.notifications;
  if (platform.enabled.size > 0) {
    problems.push(
      `after the removal (disableFailures ${stats.disableFailures}) the platform still sends {${[...platform.enabled].join(',')}}`,
    );
  }
  if (stats.disableFailures !== 0) problems.push(`disableFailures ${stats.disableFailures}`);
  return problems;
}

/** The sources the subscribers in `held` want sent. */
function wanted(held: readonly Held[]): Set<number> {
  if (held.some((x) => x.source === undefined)) return new Set([0, 1, 2, 3]);
  return new Set(held.map((x) => x.source as number));
}

/** A subscription to draw (one draw of `random`): every source one time in six, else one source. */
function drawFilter(random: () => number): {
  source: number | undefined;
  filter: ScmiEventFilter;
} {
  const pick = Math.floor(random() * 6);
  const source = pick === 5 ? undefined : pick % SOURCES;
  return {
    source,
    filter:
      source === undefined
        ? { protocolId: PROTOCOL, eventId: 0 }
        : { protocolId: PROTOCOL, eventId: 0, source },
  };
}

async function runSequence(seed: number): Promise<string[]> {
  const { random, agent, platform } = await createModel(seed, false);
  const problems: string[] = [];
  const held: Held[] = [];
  /** Whether a failed command may have left a source enabled that nobody wants. */
  let dirty = false;
  const trace: string[] = [];
  for (let step = 0; step < STEPS; step++) {
    platform.step();
    // Half the steps fail nothing; the others some commands, or nearly all.
    const r = random();
    platform.failRate = r < 0.5 ? 0 : r < 0.8 ? 0.35 : 0.9;
    const unsubscribe = held.length > 0 && random() < 0.45;
    if (unsubscribe) {
      const [x] = held.splice(Math.floor(random() * held.length), 1) as [Held];
      const outcome = await x.off().then(
        () => 'ok',
        () => 'failed',
      );
      trace.push(`off ${x.source ?? '*'} ${outcome} (${platform.failed} failed)`);
      // The last subscriber of a source gone, none for every source, nothing failed: not sent.
      const source = x.source;
      if (
        source !== undefined &&
        outcome === 'ok' &&
        platform.failed === 0 &&
        !held.some((y) => y.source === undefined || y.source === source) &&
        platform.enabled.has(source)
      ) {
        problems.push(`step ${step}: the last subscriber of ${source} left, the platform sends it`);
      }
    } else {
      const { source, filter } = drawFilter(random);
      const off = await agent.events.subscribe(filter, () => undefined).catch(() => undefined);
      trace.push(`sub ${source ?? '*'} ${off ? 'ok' : 'failed'} (${platform.failed} failed)`);
      if (off !== undefined) {
        held.push({ source, off });
        if (source !== undefined && !platform.enabled.has(source)) {
          problems.push(
            `step ${step}: subscribe ${source} resolved, the platform does not send it`,
          );
        }
      }
    }
    if (platform.failed > 0) dirty = true;
    if (platform.failed === 0 && !dirty) {
      const got = [...platform.enabled].sort().join(',');
      const expected = [...wanted(held)].sort().join(',');
      if (got !== expected) {
        problems.push(
          `step ${step}: the platform sends {${got}}, the subscribers want {${expected}}`,
        );
      }
    }
  }
  // Half the sequences let every subscriber go first (their commands failing as any): the
  // removal must then disable exactly what failed commands may have left enabled.
  if (random() < 0.5) {
    while (held.length > 0) {
      platform.step();
      const [x] = held.splice(Math.floor(random() * held.length), 1) as [Held];
      const outcome = await x.off().then(
        () => 'ok',
        () => 'failed',
      );
      trace.push(`off ${x.source ?? '*'} ${outcome} (${platform.failed} failed)`);
    }
  }
  platform.failRate = 0;
  await agent.remove();
  problems.push(...afterRemoval(agent, platform));
  return problems.length === 0 ? [] : [...problems, `trace: ${trace.join('; ')}`];
}

/**
 * Batches of one to three subscribes and unsubscribes at once, each command answered after a
 * random delay (they overlap), and in a third of the sequences the removal started while a batch
 * is under way. A batch in which nothing failed leaves the platform sending what the subscribers
 * want (until a failure may have left more); the removal leaves nothing sending.
 */
async function runConcurrent(seed: number): Promise<string[]> {
  const { random, agent, platform } = await createModel(seed, true);
  const problems: string[] = [];
  const trace: string[] = [];
  const held: Held[] = [];
  let dirty = false;
  const removeAt = random() < 1 / 3 ? Math.floor(random() * 8) : -1;
  let removing: Promise<void> | undefined;
  for (let batch = 0; batch < 8 && removing === undefined; batch++) {
    platform.step();
    const r = random();
    platform.failRate = r < 0.5 ? 0 : r < 0.8 ? 0.35 : 0.9;
    const ops: Promise<string>[] = [];
    const n = 1 + Math.floor(random() * 3);
    for (let i = 0; i < n; i++) {
      if (held.length > 0 && random() < 0.4) {
        const [x] = held.splice(Math.floor(random() * held.length), 1) as [Held];
        ops.push(
          x.off().then(
            () => `off ${x.source ?? '*'} ok`,
            () => `off ${x.source ?? '*'} failed`,
          ),
        );
      } else {
        const { source, filter } = drawFilter(random);
        ops.push(
          agent.events
            .subscribe(filter, () => undefined)
            .then(
              (off) => {
                held.push({ source, off });
                return `sub ${source ?? '*'} ok`;
              },
              () => `sub ${source ?? '*'} failed`,
            ),
        );
      }
    }
    if (batch === removeAt) {
      // The removal's own commands (and the batch's, from now on) do not fail.
      platform.failRate = 0;
      removing = agent.remove();
      trace.push('remove');
    }
    const outcomes = await Promise.all(ops);
    trace.push(`[${outcomes.join(', ')}] (${platform.failed} failed)`);
    if (platform.failed > 0) dirty = true;
    if (removing === undefined && !dirty) {
      const got = [...platform.enabled].sort().join(',');
      const expected = [...wanted(held)].sort().join(',');
      if (got !== expected) {
        problems.push(
          `batch ${batch}: the platform sends {${got}}, the subscribers want {${expected}}`,
        );
      }
    }
  }
  platform.failRate = 0;
  await (removing ?? agent.remove());
  problems.push(...afterRemoval(agent, platform));
  return problems.length === 0 ? [] : [...problems, `trace: ${trace.join('; ')}`];
}

describe('notification hub bookkeeping against a model platform', () => {
  it.each([
    ['one command at a time', runSequence],
    ['commands overlapping, the removal among them', runConcurrent],
  ])(
    `keeps the platform's notify state true, %s, over ${RUNS} random sequences (seeds ${FIRST_SEED}…)`,
    async (_what, run) => {
      expect(await failedSeeds(SEEDS, run)).toEqual([]);
      // A campaign takes about 1 ms a sequence: its own timeout.
    },
    Math.max(60_000, RUNS * 10),
  );
});
