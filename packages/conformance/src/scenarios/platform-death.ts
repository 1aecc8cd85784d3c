import {
  ScmiError,
  ScmiShutdownError,
  ScmiTimeoutError,
  createAgent,
  type ScmiAgent,
} from '@scmi-ts/core';
import { createDefaultPlatformConfig, type FaultRule } from '@scmi-ts/platform';
import { fixtureTitle, type TransportFixture } from '../fixture.js';
import { AGENT_ID } from '../rig.js';
import { waitUntil } from '../wait-until.js';
import { u32s } from '../words.js';
import { CLOCK } from './clock-rate-events.js';
import { describeError } from './describe-error.js';
import { LateViolationWatch } from '../late-violations.js';
import {
  checkCampaignRun,
  openCampaignRun,
  settlesWithin,
  sleep,
  takeRunUnreported,
  teardownReturned,
} from './worker-campaign.js';

const CLOCK_RATE_SET = 0x5;
const CLOCK_RATE_GET = 0x6;
const MHZ = 1_000_000;

/**
 * The agent's response and delayed-response timeouts in {@link runPlatformDeathWorker}: far longer
 * than the scenario may take. A transport that does not notice the platform's death leaves its
 * commands waiting this long — the scenario reports them after `hangMs` instead — so no command
 * can settle by timing out, and a `ScmiTimeoutError` is always a transport that did not notice.
 */
const AGENT_TIMEOUT_MS = 120_000;

/** How long the platform holds what it was asked: it dies long before. */
const HOLD_MS = 600_000;

/** What is in flight when the platform dies in {@link runPlatformDeathWorker}. */
export type PlatformDeathPending =
  /** Commands waiting for their response, on the A2P channels. */
  | 'responses'
  /** An asynchronous command answered, waiting for its delayed response (needs a P2A channel). */
  | 'delayed-response';

/** Options of {@link runPlatformDeathWorker}. */
export interface PlatformDeathOptions {
  /** What is in flight when the platform dies (default `'responses'`). */
  readonly pending?: PlatformDeathPending;
  /**
   * Commands in flight with `'responses'` (default 4 when the transport completes out of order,
   * else 3: one on the wire, the others waiting for the channel).
   */
  readonly commands?: number;
  /** Seed of the worker session's platform (default: from the clock). */
  readonly seed?: number;
  /**
   * Real-time bound, in ms, on each wait after the death — the commands in flight settling, a
   * command sent after it, the removal, closing the wire (default 20 000): past it the wait is
   * reported as a hang. Far below the agent's 120 s timeouts, so a transport that does not notice
   * the death is reported, not passed by a timeout.
   */
  readonly hangMs?: number;
}

/** What {@link runPlatformDeathWorker} saw. */
export interface PlatformDeathResult {
  /**
   * False when the fixture's worker session cannot be killed (no `WorkerFixtureSession.kill`):
   * nothing ran, and every list is empty.
   */
  readonly ran: boolean;
  /** The seed of the session's platform. */
  readonly seed: number;
  /**
   * How each command in flight at the death settled, in sending order: the error's class and code
   * (`ScmiTransportError E_MBOX_REMOTE_GONE`), `answered`, or `pending` (it never settled). One
   * that did not settle within `hangMs` shows what the agent's removal failed it with
   * (`ScmiShutdownError E_SHUTDOWN`).
   */
  readonly outcomes: readonly string[];
  /** How the command sent after the death settled (same form); undefined when none was sent. */
  readonly afterDeath: string | undefined;
  /** The channels the agent shows lost once the commands settled, each with its error's code. */
  readonly lost: readonly string[];
  /** Every invariant broken, each a readable line naming the scenario and the seed. */
  readonly violations: readonly string[];
}

/** A command's outcome: `answered`, or what it was rejected with. */
type Outcome = { readonly answered: true } | { readonly answered: false; readonly error: unknown };

function outcomeOf(p: Promise<unknown>): Promise<Outcome> {
  return p.then(
    () => ({ answered: true }),
    (error: unknown) => ({ answered: false, error }),
  );
}

/** An outcome as the result lists it. */
function outcomeText(o: Outcome | undefined): string {
  if (o === undefined) return 'pending';
  if (o.answered) return 'answered';
  const e = o.error;
  return ScmiError.is(e) ? `${e.name} ${e.code}` : describeError(e);
}

/**
 * What is wrong with `o` as the end of a command the platform's death cut short, if anything: it
 * must fail with a typed SCMI error other than a timeout (the transport did not notice the death:
 * the command waited out its timeout) and other than the shutdown error (it was still waiting when
 * the agent was removed).
 */
function outcomeProblem(o: Outcome): string | undefined {
  if (o.answered) return 'was answered by a platform that died holding it';
  const e = o.error;
  if (!ScmiError.is(e)) return `failed with a non-SCMI error: ${describeError(e)}`;
  if (ScmiTimeoutError.is(e))
    return `timed out (${describeError(e)}): the transport did not notice the death`;
  if (ScmiShutdownError.is(e))
    return `failed only with the agent's removal (${describeError(e)}): the transport did not notice the death`;
  return undefined;
}

/**
 * What is wrong with `o`, a command that settled once the platform was dead, if anything: it must
 * fail with the error its channel was lost with (core fails what a lost channel carries, and
 * refuses what it is given, with the transport's error of the loss: its code at least) — not with
 * a status, an answer of the platform, nor some other failure on the way.
 */
function lossProblem(o: Outcome, loss: Error | undefined): string | undefined {
  if (loss === undefined || o.answered) return undefined; // each reported on its own
  const e = o.error;
  const code = (x: unknown): string | undefined => (ScmiError.is(x) ? x.code : undefined);
  if (e === loss || (code(e) !== undefined && code(e) === code(loss))) return undefined;
  return `failed with ${describeError(e)}, not with its channel's loss (${describeError(loss)})`;
}

/** Lets the agent's `onLost` microtask and the settled callers run. */
const nextTask = (): Promise<void> => sleep(0);

/**
 * The platform's thread dies with commands in flight. On a fresh worker session (the death is for
 * good), an agent with 120 s timeouts sends commands the platform holds (a `delay` fault rule of
 * ten minutes) — with `pending: 'responses'`, CLOCK_RATE_GET commands: as many as the channel
 * carries at once (all of them on a transport that completes out of order; one on the wire and the
 * others waiting for the channel otherwise); with `pending: 'delayed-response'`, one asynchronous
 * CLOCK_RATE_SET answered at once whose delayed response is held. Once the platform side took them
 * (`FixtureEnds.commandsTaken`, when the fixture can tell), the session is killed
 * (`WorkerFixtureSession.kill`: the thread ends abruptly, nothing closed). Checks invariants only,
 * never how long anything took:
 *
 * - every command in flight settles with a typed `ScmiError` that is neither a timeout nor the
 *   shutdown error (the transport noticed the death and failed it, core's `RxSink.failInFlight`);
 * - every A2P channel the commands used (and, with a delayed response pending, every P2A channel)
 *   is lost (`diagnostics.channels[i].lost` an `Error`), and an `onLost` listener subscribed before
 *   the death is told of each exactly once;
 * - a command sent after the death fails with a typed error, not a timeout;
 * - `agent.remove()` resolves; the kit's instrument saw no callback after a channel's quiesce or
 *   free, every resource was released once, newest first, after every quiesce, and no timer is left
 *   armed; the transport recorded nothing against itself (`FixtureEnds.transportViolations`);
 *   closing the wire and stopping the killed session resolve.
 *
 * A fixture whose session has no `kill` runs nothing (`ran: false`).
 *
 * @example
 * ```ts
 * const r = await runPlatformDeathWorker(fixture, { pending: 'responses' });
 * expect(r.violations).toEqual([]);
 * console.log(r.outcomes); // ['ScmiTransportError E_VIRTIO_DEVICE', …]
 * ```
 */
export async function runPlatformDeathWorker(
  fixture: TransportFixture,
  options: PlatformDeathOptions = {},
): Promise<PlatformDeathResult> {
  const title = fixtureTitle(fixture);
  if (fixture.worker === undefined) throw new Error(`${title}: no worker mode`);
  const pending = options.pending ?? 'responses';
  if (pending === 'delayed-response' && !fixture.capabilities.p2a) {
    throw new Error(`${title}: no P2A channel, so no delayed response can be pending`);
  }
  const seed = options.seed ?? Date.now() & 0x7fffffff;
  const hangMs = options.hangMs ?? 20_000;
  const where = `platform death (${pending}; seed ${seed})`;
  const violations: string[] = [];
  const session = await fixture.worker({
    platformConfig: createDefaultPlatformConfig(),
    agentId: AGENT_ID,
    seed,
  });
  const kill = session.kill?.bind(session);
  const outcomes: (Outcome | undefined)[] = [];
  let afterDeath: Outcome | undefined;
  let sentAfter = false;
  const lost: string[] = [];
  // The run, watched once checked: a callback after free that the transport lets happen later
  // still is read again once the session stopped.
  const watch = new LateViolationWatch();
  try {
    if (kill === undefined) {
      return { ran: false, seed, outcomes: [], afterDeath: undefined, lost: [], violations: [] };
    }
    const run = await openCampaignRun(fixture, session);
    const { ends, instrument, container } = run;
    let agent: ScmiAgent | undefined;
    try {
      agent = await createAgent(
        container,
        run.agentOptions({ rxTimeoutMs: AGENT_TIMEOUT_MS, asyncTimeoutMs: AGENT_TIMEOUT_MS }),
      );
      const told = new Map<string, number>();
      agent.onLost(({ label }) => {
        told.set(label, (told.get(label) ?? 0) + 1);
      });
      const a2p = (): { sent: number; completed: number } =>
        instrument.channels
          .filter((c) => c.label.startsWith('a2p:'))
          .reduce(
            (t, c) => ({
              sent: t.sent + c.counters.sent,
              completed: t.completed + c.counters.completed,
            }),
            { sent: 0, completed: 0 },
          );
      const before = a2p();
      const takenBefore = await ends.commandsTaken?.();

      // What the platform is to hold, and what waits for it.
      let sends: (() => Promise<unknown>)[];
      let onWire: number;
      let reached: () => boolean;
      let rules: FaultRule[];
      if (pending === 'responses') {
        const commands = options.commands ?? (fixture.capabilities.outOfOrder ? 4 : 3);
        // What the transport takes at once: the others wait for the channel (for its lock, its
        // one invocation…), sent only once one before them is done — so never, here.
        const carried = Math.min(
          ...agent.diagnostics.channels
            .filter((c) => c.direction === 'a2p')
            .map((c) => Math.max(1, c.maxInFlight)),
        );
        onWire = Math.min(commands, fixture.capabilities.outOfOrder ? carried : 1);
        rules = [
          {
            match: { protocolId: CLOCK, messageId: CLOCK_RATE_GET },
            action: { kind: 'delay', ms: HOLD_MS },
          },
        ];
        sends = Array.from(
          { length: commands },
          (_, i) => () => (agent as ScmiAgent).transact(CLOCK, CLOCK_RATE_GET, u32s(i % 2)),
        );
        reached = () => a2p().sent >= before.sent + onWire;
      } else {
        onWire = 1;
        rules = [
          {
            match: { stage: 'delayed-response', protocolId: CLOCK, messageId: CLOCK_RATE_SET },
            action: { kind: 'delay', ms: HOLD_MS },
          },
        ];
        sends = [
          () =>
            (agent as ScmiAgent).transact(CLOCK, CLOCK_RATE_SET, u32s(1, 0, 600 * MHZ, 0), {
              async: true,
            }),
        ];
        // Its response came: it waits for its delayed response now.
        reached = () => a2p().completed >= before.completed + 1;
      }
      await session.setFaults(rules);
      outcomes.push(...sends.map(() => undefined));
      // Which commands settled once the platform was dead: those must fail with their channel's
      // loss (one that settled before — the platform side gave up on it first — is judged alone).
      let dead = false;
      const afterKill: boolean[] = sends.map(() => false);
      const settled = sends.map((send, i) =>
        outcomeOf(send()).then((o) => {
          outcomes[i] = o;
          afterKill[i] = dead;
        }),
      );
      await waitUntil(reached);
      if (!reached()) {
        violations.push(
          `${where}: the commands did not reach the wire within 10 s (sent ${a2p().sent - before.sent}, completed ${a2p().completed - before.completed})`,
        );
      }
      if (takenBefore !== undefined) {
        const taken = async (): Promise<number> =>
          ((await ends.commandsTaken?.()) ?? takenBefore) - takenBefore;
        await waitUntil(async () => (await taken()) >= onWire);
        const n = await taken();
        if (n < onWire) {
          violations.push(
            `${where}: the platform side took ${n} of the ${onWire} command(s) on the wire within 10 s`,
          );
        }
      }

      // The platform's thread dies, holding them.
      dead = true;
      await kill();

      // A transport that does not notice leaves them waiting for the agent's 120 s timeout: the
      // wait below gives up after `hangMs` and says so (jest's timeout for the case would catch it
      // otherwise, never a pass).
      const all = Promise.all(settled);
      if (!(await settlesWithin(all, hangMs))) {
        const left = outcomes.filter((o) => o === undefined).length;
        violations.push(
          `${where}: ${left} of the ${sends.length} command(s) in flight did not settle within ${hangMs} ms of the platform's death (their timeout is ${AGENT_TIMEOUT_MS} ms): the transport did not notice it`,
        );
      } else {
        await all;
        await nextTask();
        const a2pLoss = agent.diagnostics.channels.find((c) => c.direction === 'a2p')?.lost;
        outcomes.forEach((o, i) => {
          const problem =
            o === undefined
              ? 'never settled'
              : (outcomeProblem(o) ??
                (afterKill[i] === true ? lossProblem(o, a2pLoss) : undefined));
          if (problem !== undefined) violations.push(`${where}: command ${i} ${problem}`);
        });
        // A command after the death: the lost channel refuses it at once (a transport that did not
        // mark it lost sends it to nobody, and it would wait out its timeout).
        sentAfter = true;
        const after = outcomeOf(agent.transact(CLOCK, CLOCK_RATE_GET, u32s(0))).then((o) => {
          afterDeath = o;
        });
        if (!(await settlesWithin(after, hangMs))) {
          violations.push(
            `${where}: a command sent after the platform's death did not settle within ${hangMs} ms (its timeout is ${AGENT_TIMEOUT_MS} ms): its channel was not marked lost`,
          );
        } else if (afterDeath !== undefined) {
          const a2pLoss = agent.diagnostics.channels.find((c) => c.direction === 'a2p')?.lost;
          const problem = outcomeProblem(afterDeath) ?? lossProblem(afterDeath, a2pLoss);
          if (problem !== undefined)
            violations.push(`${where}: a command sent after the death ${problem}`);
        }
      }

      // The channels the commands used are lost, and the listener was told of each, once.
      await nextTask();
      const channels = agent.diagnostics.channels;
      for (const c of channels) {
        if (c.lost !== undefined) {
          lost.push(`${c.label} ${ScmiError.is(c.lost) ? c.lost.code : c.lost.name}`);
        }
      }
      // The A2P channels the commands went out on, and with a delayed response pending the P2A
      // channels (core cannot tell on which one it would have come).
      const used = channels.filter(
        (c) =>
          (c.direction === 'a2p' && c.stats.sent > 0) ||
          (pending === 'delayed-response' && c.direction === 'p2a'),
      );
      for (const c of used) {
        if (!(c.lost instanceof Error)) {
          violations.push(
            `${where}: ${c.label} is not marked lost (diagnostics.channels[].lost is ${String(c.lost)}) although the platform behind it died`,
          );
        }
      }
      // Each channel lost (used or not), told once; none told that is not lost.
      for (const c of channels) {
        const n = told.get(c.label) ?? 0;
        const expected = c.lost === undefined ? 0 : 1;
        if (n !== expected) {
          violations.push(
            `${where}: the onLost listener was told of ${c.label} ${n} time(s), not ${expected === 1 ? 'once' : 'at all'} (${c.lost === undefined ? 'not lost' : 'lost'})`,
          );
        }
      }
    } catch (e) {
      violations.push(`${where}: the probe or the commands failed: ${describeError(e)}`);
    }
    if (agent !== undefined) {
      const removal = agent.remove().then(
        () => undefined,
        (e: unknown) => {
          violations.push(`${where}: agent.remove() failed: ${describeError(e)}`);
        },
      );
      if (!(await settlesWithin(removal, hangMs))) {
        violations.push(`${where}: agent.remove() did not settle within ${hangMs} ms`);
      }
    }
    teardownReturned(run);
    const closing = ends.close().catch((e: unknown) => {
      violations.push(`${where}: closing the wire failed: ${describeError(e)}`);
    });
    if (!(await settlesWithin(closing, hangMs))) {
      violations.push(`${where}: closing the wire did not settle within ${hangMs} ms`);
    }
    // The instrument's and the transport's own (`FixtureEnds.transportViolations`).
    checkCampaignRun(run, where, violations);
    watch.watch(where, () => takeRunUnreported(run));
  } finally {
    if (kill !== undefined) await kill();
    await session.stop().catch((e: unknown) => {
      violations.push(`${where}: stopping the killed session failed: ${describeError(e)}`);
    });
    await watch.finish(violations);
  }
  return {
    ran: true,
    seed,
    outcomes: outcomes.map(outcomeText),
    afterDeath: sentAfter ? outcomeText(afterDeath) : undefined,
    lost,
    violations,
  };
}
