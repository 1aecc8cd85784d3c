/**
 * A seeded fuzz campaign of the platform side of the mailbox transport — `SmtResponder` and its
 * P2A posting — against a hostile agent end: the randomized complement of the enumerated cases of
 * `smt-responder.test.ts`. The responder is what a test tool uses to emulate firmware in front of
 * a real or buggy OS agent, so the project's rule holds for it too: hostile bytes from the other
 * end of a transport are bounds-checked, rejected and counted — never a crash, never a read or
 * write out of bounds.
 *
 * Each case is one seed (`mulberry32`), all on a manual virtual clock over a same-thread wire, so
 * a seed replays exactly. It draws a layout (bidirectional with one or two A2P channels; Linux's
 * unidirectional 2/1, 3/2 and 4/2 mboxes, alone or with a 2/1 protocol node), an area size (36 to
 * 256 bytes), the controller's TX-done method (`irq` or `poll`; each agent channel a client that
 * knows TX completion or not), a P2A queue depth (32, 4, 1 or 0) and platform fault rules (a
 * command delayed now and then, so that the responder holds commands while the agent goes on; a
 * notification storm on DISCOVER_VENDOR). The areas are moved apart in a larger memory with random
 * canary bytes around and between them. A real `ScmiPlatform` answers behind the responder. Then:
 *
 * 1. **setup**: the agent subscribes properly to BASE_ERROR_EVENT and PERF LEVEL_CHANGED, so that
 *    P2A traffic follows its commands (level changes, each malformed header it sends);
 * 2. **hostile phase** (`STEPS` steps, `HostileAgent.step`): proper commands (when the area is
 *    free; INTR_ENABLED or not); commands with a hostile length (0, < 4, exact, the area's, past
 *    it, 0xffffffff, random), a header that is not a command (types 1–3, reserved bits, random),
 *    CHANNEL_ERROR left set, or written while the platform owns the area; doorbells without a
 *    write; CHANNEL_FREE set (or the status cleared) behind the platform's back; random bytes
 *    anywhere in any area; P2A messages acknowledged properly, without a doorbell, with a doorbell
 *    and no CHANNEL_FREE, twice, or never, and acknowledgements with nothing posted; doorbells on
 *    the wrong mailbox channel (a `tx_reply` or `rx` nobody takes: the agent's mailbox queue then
 *    fills, counted); TX completions at random. Virtual time moves by 0 to 20 ms between steps;
 * 3. **calm phase**: the agent recovers (`HostileAgent.calm`: queued mailbox messages completed,
 *    a posted message acknowledged, an acknowledgement rung in case the queue waits behind an area
 *    freed without one), waits for an area the platform still holds, rings once an area left busy
 *    with nothing pending, then sends PROTOCOL_VERSION on each A2P channel;
 * 4. **close**: the responder is closed, the agent rings and writes again, the platform calls the
 *    link again, the agent's mailbox channels are freed.
 *
 * Invariants (`ResponderOracle` in `support/hostile-agent.ts` checks them at every door through
 * which the responder can act: the doorbells it listens to, the platform's `link.respond` and
 * `link.post`, its timers), each failure naming the seed:
 * 1. nothing throws out of the responder (any door), the controller or the platform; a clock step
 *    that throws is a failure;
 * 2. every byte of the shared memory that changes is the agent's or the responder's inside a door,
 *    and the responder's only in the area of that door (its status, length and message fields;
 *    flags too on P2A) — never a canary byte around or between the areas; every length field it
 *    writes is at most the area's `maxLength` (size − 0x18), and the area holds exactly what the
 *    oracle predicts (the response, a refusal — PROTOCOL_ERROR, length 8, CHANNEL_FREE |
 *    CHANNEL_ERROR — or nothing);
 * 3. each doorbell is counted exactly once where the responder's counters say (`ringsWhileFree`,
 *    `ringsWhileBusy`, `malformedRequests` for a bad length, CHANNEL_ERROR left set or a header
 *    that is not a command, `requests`), with the doorbell back exactly when INTR_ENABLED asks; a
 *    request of a bad length or with CHANNEL_ERROR is never handed to the platform; one that is not
 *    a command is handed as it was read and the platform drops it and counts it
 *    (`droppedRequests`); a command is handed exactly as the area held it; every counter of the
 *    responder is as predicted after every door;
 * 4. each proper command (written while the area was free, and rung) is answered, with its header
 *    echoed, within the platform's delay — unless a hostile action destroyed it first, named in
 *    the summary: the agent wrote over it, set CHANNEL_FREE before the platform read it, or rang it
 *    while the platform still held an earlier command (the agent having taken the area back);
 * 5. P2A: the responder never writes the P2A area while CHANNEL_FREE is clear (a message the agent
 *    has not acknowledged); each `link.post` is written now, queued or refused as the queue and
 *    the area say (`p2aPosted`, `p2aQueued`, `p2aRefused` exact), queued posts in order, each with
 *    INTR_ENABLED unless no mailbox channel carries an acknowledgement (3 mboxes), where the 1 ms
 *    CHANNEL_FREE poll is armed exactly while posts wait; after the calm phase nothing is queued;
 *    the platform's `notificationsPosted` matches the posts accepted;
 * 6. after the calm phase PROTOCOL_VERSION is answered SUCCESS with the 4-byte version 2.1 on every
 *    A2P channel;
 * 7. close leaves no timer armed on the virtual clock (the responder's poll, the platform's timers
 *    for the agent, the mailbox's TX polls once the agent's channels are freed), the platform
 *    connection dropped, no door opening again (doorbells, `link.post` refused and counted), every
 *    mailbox channel freed, and no devres leak (`ensureNoLeaksInSuite`; the responder holds none).
 *
 * `SCMI_FUZZ_SEED` (default 1) is the first seed, `SCMI_FUZZ_RUNS` the number of cases (default
 * `SUITE_RUNS`); case i runs seed `SCMI_FUZZ_SEED + i`. A long campaign:
 * `pnpm --filter @scmi-ts/mailbox-transport fuzz:responder`.
 */
import { VirtualClock, mulberry32, type Clock } from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { fuzzSeeds, thrownText } from '../../core/test/support/fuzz.js';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_FREE,
  SmtResponder,
  createSameThreadMailboxWire,
  type SameThreadMailboxWireOptions,
  type SmtResponderCounters,
} from '@scmi-ts/mailbox-transport';
import {
  HostileAgent,
  ResponderOracle,
  guardedLayout,
  properOutcome,
  type ProperCommand,
} from './support/hostile-agent.js';
import { Dice } from './support/smt-fuzz-platform.js';

/** Cases in the normal suite: about 2.5 s on a 2-core machine (more when it is loaded). */
const SUITE_RUNS = 200;
/** Hostile steps per case. */
const STEPS = 150;

const { first: BASE_SEED, runs: RUNS, seeds: SEEDS } = fuzzSeeds(SUITE_RUNS);

/** The layouts a case draws from (Linux `mailbox_chan_validate`'s, with and without P2A). */
const LAYOUTS: readonly (readonly [string, SameThreadMailboxWireOptions])[] = [
  ['bidirectional', { a2p: [0], p2a: [0] }],
  ['bidirectional, 2 A2P', { a2p: [0, 1], p2a: [0] }],
  ['2/1', { nodes: [{ shmem: [0], mboxes: 2 }] }],
  ['3/2', { nodes: [{ shmem: [0, 0], mboxes: 3 }] }],
  ['4/2', { nodes: [{ shmem: [0, 0], mboxes: 4 }] }],
  [
    '4/2 + 2/1',
    {
      nodes: [
        { shmem: [0, 0], mboxes: 4 },
        { shmem: [1], mboxes: 2 },
      ],
    },
  ],
  [
    '3/2 + 2/1',
    {
      nodes: [
        { shmem: [0, 0], mboxes: 3 },
        { shmem: [1], mboxes: 2 },
      ],
    },
  ],
];

/**
 * `clock` for the mailbox controller, counting the timers it has armed and not yet fired or
 * cancelled (its TX-done polls), so that the close can tell them from anyone else's.
 */
function countingClock(clock: VirtualClock): { clock: Clock; live: () => number } {
  let live = 0;
  return {
    live: () => live,
    clock: {
      now: () => clock.now(),
      schedule: (cb) => {
        clock.schedule(cb);
      },
      yield: () => clock.yield(),
      setTimeout: (cb, ms) => {
        live++;
        let done = false;
        const h = clock.setTimeout(() => {
          done = true;
          live--;
          cb();
        }, ms);
        return {
          cancel: () => {
            if (done) return;
            done = true;
            live--;
            h.cancel();
          },
        };
      },
    },
  };
}

/** What the whole campaign did, for the summary line. */
interface Totals {
  cases: number;
  modes: Map<string, number>;
  actions: Map<string, number>;
  doors: Map<string, number>;
  proper: Map<string, number>;
  counted: Map<string, number>;
  p2a: Map<string, number>;
  queueFull: number;
}

function add(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function show(map: Map<string, number>): string {
  return [...map]
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
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
  const [layoutName, layoutOptions] = d.pick(LAYOUTS);
  const areaSize = d.pick([36, 40, 64, 128, 156, 156, 156, 256]);
  const txDoneMethod = d.pick(['irq', 'poll'] as const);
  const depth = d.pick([32, 32, 4, 1, 0]);
  const delayMs = d.chance(0.6) ? 1 + d.int(8) : 0;
  const storm = d.chance(0.5) ? 1 + d.int(48) : 0;
  add(totals.modes, `${layoutName}/${txDoneMethod}`);

  const clock = new VirtualClock();
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock, seed });
  if (delayMs > 0) {
    platform.faults.add({ match: { probability: 0.15 }, action: { kind: 'delay', ms: delayMs } });
  }
  if (storm > 0) {
    platform.faults.add({
      match: { protocolId: 0x10, messageId: 0x3 },
      action: { kind: 'notification-storm', count: storm, protocolId: 0x13, messageId: 0x1 },
    });
  }
  const mailboxClock = countingClock(clock);
  const mailbox = createSameThreadMailboxWire(mailboxClock.clock, {
    ...layoutOptions,
    areaSize,
    txDoneMethod,
  });
  const layout = guardedLayout(mailbox.platformEnd.layout, d);
  const oracle = new ResponderOracle(
    layout,
    (index) => mailbox.platformEnd.remote(index),
    platform,
    clock,
    depth,
  );
  const problems = oracle.problems;
  const responder = new SmtResponder({
    platform: oracle.port,
    agentId: 1,
    end: oracle.end,
    clock: oracle.clock,
    p2aQueueDepth: depth,
  });
  const agent = new HostileAgent(layout, mailbox.controller, oracle, clock, d);
  oracle.attach(
    () => responder.counters,
    () => responder.armedTimers,
    (id) => agent.lastProper(id),
  );
  const a2pIds = layout.channels.filter((c) => c.direction === 'a2p').map((c) => c.id);

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

  /** A proper command on `id`, once the area is free; waits for what becomes of it. */
  const proper = async (
    what: string,
    id: number,
    command?: { protocolId: number; messageId: number; words: readonly number[] },
  ): Promise<ProperCommand | undefined> => {
    const area = oracle.a2pArea(id);
    if (area === undefined) return undefined;
    for (let t = 0; t < delayMs + 5 && !area.isFree(); t++) {
      if (!(await run(what, () => clock.advance(1)))) return undefined;
    }
    const c = agent.command(id, command);
    if (c === undefined) {
      problems.push(`${what}: a2p:${id} never came back free`);
      return undefined;
    }
    for (let t = 0; t < delayMs + 5 && (c.state === 'rung' || c.state === 'read'); t++) {
      if (!(await run(what, () => clock.advance(t === 0 ? 0 : 1)))) return undefined;
    }
    if (c.state !== 'answered') problems.push(`${what}: a2p:${id}: ${properOutcome(c)}`);
    return c;
  };

  // Setup: subscriptions, so that P2A traffic follows the agent's commands.
  agent.hostile = false;
  const first = a2pIds[0] ?? 0;
  await proper('setup', first, { protocolId: 0x10, messageId: 0x8, words: [1] });
  await proper('setup', first, { protocolId: 0x13, messageId: 0xa, words: [0, 1] });
  await proper('setup', first, { protocolId: 0x13, messageId: 0xa, words: [1, 1] });

  // Hostile phase.
  agent.hostile = true;
  for (let i = 0; i < STEPS && problems.length === 0; i++) {
    agent.step();
    const roll = d.int(10);
    const ms = roll < 3 ? 0 : roll < 6 ? d.real() : roll < 9 ? d.real() * 5 : d.real() * 20;
    if (!(await run(`hostile step ${i}`, () => clock.advance(ms)))) break;
  }

  // A quarter of the cases close right after the hostile phase (posts queued, the CHANNEL_FREE
  // poll armed, a command held by the platform): the close must stop all of it.
  const abrupt = d.chance(0.25);
  if (abrupt) add(totals.modes, 'closed right after the hostile phase');
  if (!abrupt) {
    // Calm phase: the agent recovers; an area the platform holds comes back within its delay; an
    // area left busy with nothing pending (the agent cleared CHANNEL_FREE and rang nothing, or its
    // doorbell was refused) is rung once and comes back (answered or refused).
    agent.calm();
    await run('calm phase', () => clock.advance(delayMs + 5));
    for (const id of a2pIds) {
      const area = oracle.a2pArea(id);
      if (area === undefined || area.isFree() || problems.length > 0) continue;
      agent.ringA2p(id);
      agent.txDoneAll();
      await run('calm phase', () => clock.advance(delayMs + 5));
      if (!area.isFree()) {
        problems.push(
          `calm phase: a2p:${id} still busy after a doorbell (status 0x${area.status().toString(16)}, responder holding a command: ${oracle.awaiting(id)})`,
        );
      }
    }
    for (const id of a2pIds) {
      if (problems.length > 0) break;
      const c = await proper('calm', id, { protocolId: 0x10, messageId: 0x0, words: [] });
      const area = oracle.a2pArea(id);
      if (c?.state !== 'answered' || area === undefined) continue;
      const version = new DataView(area.bytes.buffer, area.bytes.byteOffset + 0x20, 4).getUint32(
        0,
        true,
      );
      if (
        area.status() !== SMT_CHANNEL_FREE ||
        area.length() !== 12 ||
        area.header() !== c.header ||
        area.payloadI32() !== 0 ||
        version !== 0x20001
      ) {
        problems.push(
          `calm: a2p:${id} PROTOCOL_VERSION answered status 0x${area.status().toString(16)}, length ${area.length()}, header 0x${area.header().toString(16)} (sent 0x${c.header.toString(16)}), SCMI status ${area.payloadI32()}, version 0x${version.toString(16)}`,
        );
      }
    }
    // Posts queued during the hostile phase drain once the agent acknowledges each at once.
    for (let t = 0; t < 100 && oracle.queuedPosts > 0 && problems.length === 0; t++) {
      await run('calm P2A', () => clock.advance(1));
    }
    if (oracle.queuedPosts > 0) {
      problems.push(`calm: ${oracle.queuedPosts} P2A posts still queued after 100 ms`);
    }
  }

  // Every proper command was answered within the platform's delay, or destroyed by the agent.
  for (const c of agent.proper) {
    if (c.state === 'rung' && c.sendRefused) {
      c.state = 'destroyed';
      c.reason = 'never rung: the agent’s mailbox queue was full';
    } else if (abrupt && (c.state === 'rung' || c.state === 'read')) {
      c.state = 'destroyed';
      c.reason = 'the responder closed before it was answered';
    }
    add(totals.proper, properOutcome(c));
    if (c.state === 'rung' || c.state === 'read') {
      problems.push(
        `proper command 0x${c.header.toString(16)} on a2p:${c.channelId} written at ${c.writtenAt.toFixed(2)} ms: ${c.state}, never answered`,
      );
    } else if (c.state === 'answered' && c.answeredAt - c.readAt > delayMs + 1e-6) {
      problems.push(
        `proper command 0x${c.header.toString(16)} answered ${(c.answeredAt - c.readAt).toFixed(2)} ms after it was read (platform delay ${delayMs} ms)`,
      );
    }
  }
  const counters: SmtResponderCounters = responder.counters;
  if (
    platform.counters.notificationsPosted + platform.counters.delayedResponsesPosted !==
    oracle.postsAccepted
  ) {
    problems.push(
      `the platform counted ${platform.counters.notificationsPosted} notifications posted, the link accepted ${oracle.postsAccepted}`,
    );
  }
  if (platform.counters.requests !== oracle.handedCommands) {
    problems.push(
      `the platform counted ${platform.counters.requests} requests, the responder handed ${oracle.handedCommands} commands`,
    );
  }

  // Close.
  if (responder.armedTimers > 0) add(totals.modes, 'CHANNEL_FREE poll armed at close');
  responder.close();
  oracle.closed();
  if (!responder.closed || responder.armedTimers !== 0) {
    problems.push(`close: closed ${responder.closed}, ${responder.armedTimers} timers armed`);
  }
  if (platform.connectedAgents.includes(1)) problems.push('close: the agent is still connected');
  if (platform.armedTimers !== platform.pendingOperations) {
    problems.push(
      `close: the platform keeps ${platform.armedTimers - platform.pendingOperations} timers for nothing`,
    );
  }
  // No door opens again: doorbells, writes, the platform calling the link.
  agent.afterClose();
  oracle.link?.post(new Uint8Array(8));
  oracle.link?.respond(first, new Uint8Array(12), 0);
  await run('after close', () => clock.advance(5));
  agent.txDoneAll();
  agent.free();
  if (mailbox.controller.stats.inUse !== 0) {
    problems.push(`close: ${mailbox.controller.stats.inUse} mailbox channels still in use`);
  }
  // Every timer is gone now: the mailbox's TX-done polls too (free() cancels the one poll a
  // channel runs; two ran, and one outlived the free, when a poll that found TX done transmitted
  // the next queued message — the bug this campaign found in mailbox-line.ts's #armPoll).
  if (clock.armedTimers !== 0) {
    problems.push(
      `close: ${clock.armedTimers} timers still armed on the clock (platform ${platform.armedTimers}, mailbox ${mailboxClock.live()})`,
    );
  }
  oracle.finish('close');

  for (const [a, n] of agent.actions) add(totals.actions, a, n);
  for (const [k, n] of oracle.doors) add(totals.doors, k, n);
  for (const [k, n] of agent.p2a) add(totals.p2a, k, n);
  for (const k of Object.keys(counters) as (keyof SmtResponderCounters)[]) {
    add(totals.counted, k, counters[k]);
  }
  totals.queueFull += agent.queueFull;
  const leaked = leaks();
  if (leaked.length > 0) problems.push(`devres leaks: ${JSON.stringify(leaked)}`);
  platform.close();
  return problems;
}

describe('mailbox responder fuzz: SmtResponder and its P2A posting against a hostile agent', () => {
  const guard = ensureNoLeaksInSuite({ captureStacks: false });
  const totals: Totals = {
    cases: 0,
    modes: new Map(),
    actions: new Map(),
    doors: new Map(),
    proper: new Map(),
    counted: new Map(),
    p2a: new Map(),
    queueFull: 0,
  };

  afterAll(() => {
    console.log(
      `mailbox responder fuzz: ${totals.cases} cases (seeds ${BASE_SEED}..${BASE_SEED + RUNS - 1}), ${totals.cases * STEPS} hostile steps; ` +
        `wires: ${show(totals.modes)}; actions: ${show(totals.actions)}; doors: ${show(totals.doors)}; ` +
        `proper commands: ${show(totals.proper)}; P2A by the agent: ${show(totals.p2a)}; ` +
        `agent mailbox queue full: ${totals.queueFull}; responder counted: ${show(totals.counted)}`,
    );
  });

  // One test per seed: the name carries the seed, also when jest-circus fails a case on an
  // unhandled rejection (a listener of this file's own would not see one: its `process` is the
  // sandbox's).
  it.each(SEEDS)(
    `should bounds-check, reject and count everything a hostile agent does (${STEPS} hostile steps; seed %i)`,
    async (seed) => {
      const leaks = (): readonly unknown[] => guard.tracker?.leaks() ?? [];
      const problems = await runCase(seed, totals, leaks);
      if (problems.length > 0) {
        throw new Error(
          `mailbox responder fuzz: seed ${seed} (SCMI_FUZZ_SEED=${seed} SCMI_FUZZ_RUNS=1 reproduces it): ${problems.slice(0, 5).join('\n  ')}${problems.length > 5 ? `\n  … ${problems.length - 5} more` : ''}`,
        );
      }
      totals.cases++;
    },
  );
});
