/**
 * A seeded fuzz campaign of the agent side of SMT channels against a hostile platform end: the
 * randomized complement of the enumerated hostile cases (`smt-channel-edges`, `reply-token`,
 * `late-reply-teardown`, `smt-peer-frame`). The project's rule it enforces: hostile bytes from the
 * other end of a transport are bounds-checked, rejected and counted — never a crash, never a read
 * out of bounds.
 *
 * Each case is one seed (`mulberry32`), all on a manual virtual clock over a same-thread wire, so
 * a seed replays exactly. It draws a wire (default 156-byte areas or larger ones, max message size
 * 128 or 104; bidirectional mailbox channels, or the 4- and 3-mbox unidirectional layouts; TX done
 * by interrupt or polling), a completion mode for the A2P channel (interrupt or polling) and an
 * RX timeout (10, 20 or 30 ms), then:
 *
 * 1. **probe**: the agent is created over the wire with the platform answering properly, and
 *    subscribes to Performance LEVEL_CHANGED (so that some hostile notifications are delivered);
 * 2. **hostile phase** (`STEPS` steps): the agent keeps random Base, Clock and Performance
 *    commands going (up to 4 at a time, with random `rxSize`, often the same one again, an
 *    asynchronous CLOCK_RATE_SET among them), while the platform end, per step,
 *    does one random action (`FuzzPlatform`): answer properly; answer with a hostile length field
 *    (0, short, exact, the area's, past it, 0xffffffff, random), a wrong header (token, protocol,
 *    message id, type, reserved bits, random; the token often that of a transfer queued behind
 *    the channel lock), garbage status and payload, now and then with
 *    CHANNEL_ERROR, with or without the doorbell INTR_ENABLED asks for; answer after the timeout;
 *    answer nothing it was asked; set or clear CHANNEL_FREE / CHANNEL_ERROR of either area at any
 *    time; ring any mailbox channel toward the agent spuriously; post random P2A frames
 *    (notifications, delayed responses, commands, random words, random lengths, INTR_ENABLED or
 *    not, posted or not, rung or not); write random bytes anywhere in either area. Virtual time
 *    moves by a random amount (0 to 1.5 × the RX timeout) between steps;
 * 3. **calm phase**: the platform recovers (`FuzzPlatform.calm`), every command still in flight
 *    settles, and three Base PROTOCOL_VERSION commands must succeed with the platform's answer;
 * 4. **removal** — in a quarter of the cases under fire (hostile steps while the channels quiesce
 *    and are freed) — then the checks below.
 *
 * Invariants, each failure naming the seed:
 * 1. nothing throws out of the transport: every clock step runs, every transact settles, and a
 *    rejection is an `ScmiError` with a code — never a shutdown error before the removal (the
 *    symptom of a transfer completed by a reply before it was written); no unhandled rejection
 *    (jest-circus fails the running case on one);
 * 2. nothing is read outside the area: every read is checked at the transport's boundary
 *    (`smt-fuzz-wire.ts`) — exactly the bytes the length field gives, clamped to the area, copied
 *    from the area as it was; a reply read only for the message last written into the area; no
 *    delivered notification larger than the area's payload. (The agent reads through a view of
 *    the area alone, so a read past it cannot even be expressed: what a missing clamp changes is
 *    what is read and counted, which these checks see);
 * 3. what is detectably bad is counted, exactly where the transport's documentation makes the
 *    accounting exact (`oversize` and `invalid` per read; P2A spurious and header-less
 *    notifications; the first look at a reply completes a transfer or counts it; at most one
 *    uncounted doorbell on a busy A2P area per message written — the previous reply's, owed), and
 *    at least as many rings refused after the quiesce as the mailbox dropped, less the one (per
 *    quiesce, and per message abandoned at the free) the transport counts with a late reply;
 * 4. after the calm phase a well-formed command succeeds;
 * 5. `remove()` resolves; no devres leak; the wire monitor records no violation (no callback
 *    against a freed channel, no double free); both channels quiesced and freed once.
 *
 * `SCMI_FUZZ_SEED` (default 1) is the first seed, `SCMI_FUZZ_RUNS` the number of cases (default
 * `SUITE_RUNS`); case i runs seed `SCMI_FUZZ_SEED + i`. A long campaign:
 * `pnpm --filter @scmi-ts/mailbox-transport fuzz`.
 */
import { Container } from 'inversify';
import {
  CLOCK,
  ScmiError,
  TRANSPORT,
  VirtualClock,
  coreModule,
  createAgent,
  mulberry32,
  type ChannelStats,
  type PayloadSource,
  type TransactOptions,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { fuzzSeeds, thrownText, watch, type Watched } from '../../core/test/support/fuzz.js';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  createMailboxTransport,
  createSameThreadMailboxWire,
  type SameThreadMailboxWireOptions,
} from '@scmi-ts/mailbox-transport';
import { Dice, FuzzPlatform } from './support/smt-fuzz-platform.js';
import {
  createFuzzProbe,
  instrumentController,
  instrumentTransport,
  type FuzzProbe,
} from './support/smt-fuzz-wire.js';

/** Cases in the normal suite: about 3.5 s on a 2-core machine (5–7 s when it is loaded). */
const SUITE_RUNS = 150;
/** Hostile steps per case. */
const STEPS = 150;

const { first: BASE_SEED, runs: RUNS, seeds: SEEDS } = fuzzSeeds(SUITE_RUNS);

/** The wires a case draws from (Linux `mailbox_chan_validate`'s layouts with a P2A channel). */
const LAYOUTS: readonly (readonly [string, SameThreadMailboxWireOptions])[] = [
  ['bidirectional', { a2p: [0], p2a: [0] }],
  ['4 mboxes', { nodes: [{ shmem: [0, 0], mboxes: 4 }] }],
  ['3 mboxes', { nodes: [{ shmem: [0, 0], mboxes: 3 }] }],
];

/** A command the agent sends: its parameters (32-bit words), asynchronous or not. */
interface Command {
  readonly protocolId: number;
  readonly messageId: number;
  readonly words?: readonly number[];
  readonly async?: boolean;
}

/** Commands the agent sends: Base, Clock, Performance (ids valid or not: the platform decides). */
const COMMANDS: readonly Command[] = [
  { protocolId: 0x10, messageId: 0x0 }, // PROTOCOL_VERSION
  { protocolId: 0x10, messageId: 0x1 }, // PROTOCOL_ATTRIBUTES
  { protocolId: 0x10, messageId: 0x3 }, // DISCOVER_VENDOR
  { protocolId: 0x10, messageId: 0x5 }, // DISCOVER_IMPLEMENTATION_VERSION
  { protocolId: 0x10, messageId: 0x6, words: [0] }, // DISCOVER_LIST_PROTOCOLS
  { protocolId: 0x14, messageId: 0x1 }, // CLOCK PROTOCOL_ATTRIBUTES
  { protocolId: 0x14, messageId: 0x3, words: [0] }, // CLOCK_ATTRIBUTES
  { protocolId: 0x14, messageId: 0x6, words: [1] }, // CLOCK_RATE_GET
  // CLOCK_RATE_SET, asynchronous (uart, 24 MHz): a delayed response on P2A is then awaited, and
  // the hostile platform posts delayed responses with the last command's token.
  { protocolId: 0x14, messageId: 0x5, words: [1, 1, 24_000_000, 0], async: true },
  { protocolId: 0x13, messageId: 0x1 }, // PERF PROTOCOL_ATTRIBUTES
  { protocolId: 0x13, messageId: 0x3, words: [0] }, // PERF_DOMAIN_ATTRIBUTES
  { protocolId: 0x13, messageId: 0x8, words: [0] }, // PERF_LEVEL_GET
  { protocolId: 0x13, messageId: 0x99, words: [7] }, // unknown message
];

/** How a command or the removal ended, as seen without awaiting it. */
interface Outcome<T> extends Watched<T> {
  /** It settled before `remove()` was called. */
  settledBeforeRemoval: boolean;
}

function track<T>(p: Promise<T>): Outcome<T> {
  return Object.assign(watch(p), { settledBeforeRemoval: false });
}

/** What the whole campaign did, for the summary line. */
interface Totals {
  cases: number;
  transacts: number;
  resolved: number;
  rejected: Map<string, number>;
  actions: Map<string, number>;
  counted: Map<string, number>;
  fetches: number;
  doorbells: Map<string, number>;
  modes: Map<string, number>;
}

function add(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function show(map: Map<string, number>): string {
  return [...map]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** Adds a channel's counters to the totals. */
function count(totals: Totals, label: string, s: ChannelStats): void {
  for (const [reason, n] of Object.entries(s.badMessages))
    add(totals.counted, `${label} ${reason}`, n);
  add(totals.counted, `${label} lateReplies`, s.lateReplies);
  add(totals.counted, `${label} timeouts`, s.timeouts);
  add(totals.counted, `${label} refusedAfterQuiesce`, s.refusedAfterQuiesce);
  if (label === 'p2a') {
    add(totals.counted, 'p2a notifications', s.notifications);
    add(totals.counted, 'p2a delayedResponses', s.delayedResponses);
  }
}

/**
 * Runs the case of `seed`; returns what went wrong (empty when every invariant held). Throws only
 * for a failure of the test itself.
 */
async function runCase(
  seed: number,
  totals: Totals,
  leaks: () => readonly unknown[],
): Promise<string[]> {
  const d = new Dice(mulberry32(seed));
  const maxMsgSize = d.pick([128, 104]);
  const areaSize = 28 + maxMsgSize + 4 * d.int(5);
  const [layoutName, layoutOptions] = d.pick(LAYOUTS);
  const txDoneMethod = d.pick(['irq', 'poll'] as const);
  const polling = d.chance(0.5);
  const rxTimeoutMs = d.pick([10, 20, 30]);
  add(totals.modes, `${layoutName}/${txDoneMethod}/${polling ? 'polling' : 'interrupt'}`);

  const clock = new VirtualClock();
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const mailbox = createSameThreadMailboxWire(clock, { ...layoutOptions, areaSize, txDoneMethod });
  const { layout, monitor } = mailbox.wire;
  const probe: FuzzProbe = createFuzzProbe(layout);
  const problems = probe.problems;
  const controller = instrumentController(mailbox.controller, layout, probe, monitor);
  const transport = instrumentTransport(createMailboxTransport({ maxMsgSize }), probe, monitor);
  platform.connect(1, { p2a: true, maxMsgSize, respond: () => undefined, post: () => false });
  const fuzz = new FuzzPlatform(clock, platform, mailbox.platformEnd, probe, d);

  const container = new Container();
  container.load(coreModule);
  container.bind(TRANSPORT).toConstantValue(transport);
  container.rebind(CLOCK).toConstantValue(clock);

  /** Runs the clock; a throw out of a task (a doorbell callback, a timer) is a failure. */
  const run = async (what: string, step: () => Promise<void>): Promise<boolean> => {
    try {
      await step();
      return true;
    } catch (e) {
      problems.push(`${what}: threw out of a clock task: ${thrownText(e)}`);
      return false;
    }
  };

  const probing = createAgent(container, {
    transport: 'mailbox',
    a2p: [{ id: 0, polling }],
    p2a: [{ id: 0 }],
    rxTimeoutMs,
    asyncTimeoutMs: 3 * rxTimeoutMs,
    transportConfig: { wire: { layout, controller, monitor } },
  });
  const probed = track(probing);
  if (!(await run('probe', () => clock.runUntilIdle())) || !probed.settled) {
    problems.push('the probe did not settle');
    return problems;
  }
  if (probed.error !== undefined) {
    problems.push(`the probe failed with a proper platform: ${thrownText(probed.error)}`);
    return problems;
  }
  const agent = await probing;
  agent.events.register(0x13, [{ id: 0x1, name: 'performance-level-changed' }]);
  let delivered = 0;
  await agent.events.subscribe({ protocolId: 0x13, eventId: 0x1 }, (n) => {
    delivered++;
    if (n.payload.byteLength > probe.p2a.area.maxPayload) {
      problems.push(`a notification of ${n.payload.byteLength} bytes was delivered`);
    }
  });

  const outcomes: Outcome<Uint8Array>[] = [];
  const transact = (c: Command, rxSize?: number): Outcome<Uint8Array> => {
    const words = c.words ?? [];
    const payload: PayloadSource = (w) => {
      for (const word of words) w.u32(word);
    };
    const options: TransactOptions = {
      txSize: 4 * words.length,
      ...(rxSize === undefined ? {} : { rxSize }),
      ...(c.async === true ? { async: true } : {}),
    };
    const outcome = track(agent.transact(c.protocolId, c.messageId, payload, options));
    outcomes.push(outcome);
    return outcome;
  };

  // Hostile phase.
  fuzz.hostile = true;
  let command = d.pick(COMMANDS);
  for (let i = 0; i < STEPS && problems.length === 0; i++) {
    const inFlight = outcomes.reduce((n, o) => (o.settled ? n : n + 1), 0);
    if (inFlight < 4 && d.chance(0.5)) {
      // The same command again, often (an agent polling a value): a reply forged with the token
      // of the one queued behind the channel lock then matches it in everything but the wire.
      if (d.chance(0.6)) command = d.pick(COMMANDS);
      transact(command, d.pick([undefined, undefined, 0, 4, 8, 64]));
    }
    fuzz.step();
    const roll = d.int(10);
    const ms =
      roll < 3 ? 0 : roll < 6 ? d.real() : roll < 9 ? d.real() * 5 : d.real() * 1.5 * rxTimeoutMs;
    if (!(await run(`hostile step ${i}`, () => clock.advance(ms)))) break;
  }

  // Calm phase: the platform recovers; everything in flight settles (a send waits at most
  // 2 × the RX timeout for CHANNEL_FREE, then its response at most the RX timeout, then a delayed
  // response at most 3 × the RX timeout: the platform's own delayed responses go nowhere here).
  fuzz.calm();
  await run('calm phase', () => clock.advance(7 * rxTimeoutMs + 10));
  for (let i = 0; i < 3 && problems.length === 0; i++) {
    const commands = fuzz.commands;
    const version = transact({ protocolId: 0x10, messageId: 0x0 });
    await run('calm command', () => clock.runUntilIdle());
    if (!version.settled || version.error !== undefined || fuzz.commands !== commands + 1) {
      problems.push(
        `calm command ${i}: ${version.settled ? `failed: ${thrownText(version.error)}` : 'did not settle'} (${fuzz.commands - commands} commands reached the platform)`,
      );
    } else if (version.value?.byteLength !== 4) {
      problems.push(
        `calm command ${i}: PROTOCOL_VERSION returned ${version.value?.byteLength} bytes`,
      );
    }
  }

  // Removal: under fire now and then (the platform hostile again, while the channels quiesce and
  // are freed: late answers, doorbells, posts after the free).
  for (const o of outcomes) o.settledBeforeRemoval = o.settled;
  probe.removing = true;
  const underFire = d.chance(0.25);
  if (underFire) add(totals.modes, 'removal under fire');
  const removing = track(agent.remove());
  if (underFire) {
    fuzz.hostile = true;
    for (let i = 0; i < 20 && problems.length === 0; i++) {
      fuzz.step();
      if (!(await run(`removal step ${i}`, () => clock.advance(d.real() * 3)))) break;
    }
  }
  await run('remove', () => clock.runUntilIdle());
  fuzz.calm();
  if (!removing.settled) problems.push('remove() did not settle');
  else if (removing.error !== undefined)
    problems.push(`remove() failed: ${thrownText(removing.error)}`);

  // Every transact settled; rejections are ScmiErrors with a code.
  for (const [i, o] of outcomes.entries()) {
    if (!o.settled) {
      problems.push(`transact ${i} never settled`);
      continue;
    }
    totals.transacts++;
    if (o.error === undefined) {
      totals.resolved++;
    } else if (!ScmiError.is(o.error) || typeof o.error.code !== 'string' || o.error.code === '') {
      problems.push(
        `transact ${i} rejected with ${thrownText(o.error)}, not an ScmiError with a code`,
      );
    } else {
      add(totals.rejected, o.error.code);
      if (o.error.code === 'E_SHUTDOWN' && o.settledBeforeRemoval) {
        problems.push(`transact ${i} failed as shut down before the removal: ${o.error.message}`);
      }
    }
  }
  // Teardown: both channels quiesced and freed once; no violation; rings dropped counted.
  problems.push(...monitor.violations.map((v) => `wire monitor: ${v}`));
  for (const p of [probe.a2p, probe.p2a]) {
    const r = monitor.channel(p.label);
    if (r === undefined || !r.quiesced || !r.freed || r.frees !== 1) {
      problems.push(`${p.label}: not quiesced and freed once (${JSON.stringify(r)})`);
      continue;
    }
    const absorbed = p.direction === 'a2p' ? 1 + r.abandonedAtFree : 0;
    if (r.counters.refusedAfterQuiesce + absorbed < p.dropped) {
      problems.push(
        `${p.label}: ${p.dropped} rings dropped after the quiesce, ${r.counters.refusedAfterQuiesce} counted`,
      );
    }
    count(totals, p.direction, r.counters);
    totals.fetches += p.fetches;
    for (const [kind, n] of p.doorbells) add(totals.doorbells, `${p.direction} ${kind}`, n);
  }
  add(totals.counted, 'notifications delivered', delivered);
  for (const [a, n] of fuzz.actions) add(totals.actions, a, n);
  const leaked = leaks();
  if (leaked.length > 0) problems.push(`devres leaks: ${JSON.stringify(leaked)}`);
  platform.close();
  return problems;
}

describe('mailbox SMT fuzz: the agent side of SMT channels against a hostile platform end', () => {
  const guard = ensureNoLeaksInSuite({ captureStacks: false });
  const totals: Totals = {
    cases: 0,
    transacts: 0,
    resolved: 0,
    rejected: new Map(),
    actions: new Map(),
    counted: new Map(),
    fetches: 0,
    doorbells: new Map(),
    modes: new Map(),
  };

  afterAll(() => {
    console.log(
      `mailbox SMT fuzz: ${totals.cases} cases (seeds ${BASE_SEED}..${BASE_SEED + RUNS - 1}), ${totals.cases * STEPS} hostile steps, ${totals.fetches} reads checked; ` +
        `wires: ${show(totals.modes)}; actions: ${show(totals.actions)}; doorbells: ${show(totals.doorbells)}; ` +
        `transacts: ${totals.transacts} (${totals.resolved} resolved; rejected: ${show(totals.rejected)}); ` +
        `counted: ${show(new Map([...totals.counted].filter(([, n]) => n > 0)))}`,
    );
  });

  // One test per seed: the name carries the seed, also when jest-circus fails a case on an
  // unhandled rejection (a listener of this file's own would not see one: its `process` is the
  // sandbox's).
  it.each(SEEDS)(
    `should bounds-check, reject and count every hostile frame (${STEPS} hostile steps; seed %i)`,
    async (seed) => {
      const leaks = (): readonly unknown[] => guard.tracker?.leaks() ?? [];
      const problems = await runCase(seed, totals, leaks);
      if (problems.length > 0) {
        throw new Error(
          `mailbox SMT fuzz: seed ${seed} (SCMI_FUZZ_SEED=${seed} SCMI_FUZZ_RUNS=1 reproduces it): ${problems.slice(0, 5).join('\n  ')}${problems.length > 5 ? `\n  … ${problems.length - 5} more` : ''}`,
        );
      }
      totals.cases++;
    },
  );
});
