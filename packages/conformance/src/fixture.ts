import type {
  AgentChannelOptions,
  AgentOptions,
  Clock,
  ScmiPlatformPort,
  Transport,
} from '@scmi-ts/core';
import type { FaultRule, PlatformConfig } from '@scmi-ts/platform';

/**
 * What a transport can do; the kit skips the cases that do not apply (OP-TEE has no P2A, so no
 * notification and no delayed-response case runs on it).
 */
export interface TransportFixtureCapabilities {
  /** Notifications and delayed responses (a P2A channel). */
  readonly p2a: boolean;
  /** Completion by interrupt / doorbell. */
  readonly interrupt: boolean;
  /** Completion by polling. */
  readonly polling: boolean;
  /** Several commands in flight at once, completed out of order. */
  readonly outOfOrder: boolean;
  /** A worker-thread mode exists. */
  readonly worker: boolean;
}

/** One wire between an agent-side transport and the platform side, built by a fixture. */
export interface FixtureEnds {
  /** The agent side, to bind to the `TRANSPORT` token. */
  readonly transport: Transport;
  /** Agent options the transport needs (`transportConfig`, channels); the kit adds the rest. */
  readonly agentOptions?: Partial<AgentOptions>;
  /**
   * Same-thread only: while set, every platform→agent signal (completion doorbell, used-buffer
   * notification, invocation return…) goes to `interceptor` instead of being delivered, so that the
   * kit can deliver it at a chosen moment. The timing is part of the contract: call `interceptor`
   * synchronously where the platform side sends (its `respond` or `post`), and make `deliver()`
   * reach the agent's receive path synchronously — the seed scenario calls it at an event of the
   * teardown and expects the reply to land in that phase (it reports a `deliver()` that returned
   * before the reply reached the agent: no `sink.rx`, refusal or drop counted). On a byte stream,
   * hold whole frames at the platform's write side, and have `deliver()` write the frame and flush
   * it through the deframer at once (holding bytes already in the stream would reorder them). While
   * it is set, delivery is whole messages: exercise the medium's own splitting and coalescing with
   * tests of your own and in the worker mode.
   */
  setAgentSignalInterceptor?(interceptor: ((deliver: () => void) => void) | undefined): void;
  /**
   * Signals and replies from the platform the wire dropped because the agent side no longer took
   * them (a doorbell ring after the listener stopped, a virtio reply still unread in the used ring
   * when the device was reset, a post the wire took and then could not deliver…), if the wire
   * counts them. Not a post the wire refused: one for which `PlatformAgentLink.post` returned
   * false is counted by whoever posted it (the platform's `notificationsDropped`, or a delayed
   * response posted again later; in the kit's notification case the kit counts it, as the
   * platform side), so a wire that counts it here too counts it twice, and the case fails. The
   * same-thread cases read it after {@link FixtureEnds.close} too (a late reply or a notification
   * counted exactly once in all), so it must still answer then, with what the wire counted up to
   * and at its close: a reply the wire counts again as it closes is then counted twice, and the
   * case fails.
   */
  droppedSignals?(): number;
  /**
   * Replies the platform side of the wire got from the platform for no pending command (a
   * duplicate, an unsolicited reply, a reply for a command the agent gave up on or whose channel
   * was reset) and dropped instead of carrying them to the agent, if the wire counts them (an SMT
   * responder's stray responses, a virtio device's unmatched responses…). Without it the kit
   * cannot tell a hostile reply the wire refused to carry from one that was never sent: the
   * hostile-reply cases then require a count only for the replies every wire must carry (corrupt
   * header, truncation), and a worker seed run whose late reply left no trace is reported as
   * `never arrived` instead of `dropped by the wire at teardown (counted)`. The seed campaign reads
   * it after {@link FixtureEnds.close}, so it must still answer then, with what the wire counted
   * up to its close.
   */
  strayRepliesDropped?(): number | Promise<number>;
  /**
   * Commands the platform side of the wire took from the agent (a virtio device's `commands`, an
   * SMT responder's `requests`…), if the wire counts them; read after {@link FixtureEnds.close},
   * so it must still answer then. A worker seed run whose command timed out before the platform
   * side took it (still queued when the wire was reset or closed) has no late reply at all: with
   * this the kit reports it as such instead of `never arrived`. Undefined when the wire cannot tell
   * any more (its platform side is gone).
   */
  commandsTaken?(): number | undefined | Promise<number | undefined>;
  /**
   * Replies the platform cancelled before sending them because this wire's agent was disconnected
   * (the platform's `cancelledOnDisconnect` since the wire was opened): a virtio device reset, an
   * agent gone while its reply was still delayed. Read after {@link FixtureEnds.close}, so it must
   * still answer then. Without it a worker seed run whose reply the platform cancelled is reported
   * as `never arrived` instead of `cancelled unsent`.
   */
  repliesCancelled?(): number | Promise<number>;
  /**
   * What the agent-side transport itself recorded as broken invariants (a callback after its
   * channel was freed, an invocation returned after free, used buffers handled after free…), if it
   * keeps such a list; read after {@link FixtureEnds.close}, and again later (while a campaign's
   * later runs go on, and at its end): an entry added after the first read is reported too. The
   * kit reports each as a violation of the run: a transport may see what the kit's instrument
   * cannot (its own wire's events).
   */
  transportViolations?(): readonly string[];
  /**
   * Stops the platform side of this wire; idempotent. Resolves after the session's
   * {@link WorkerFixtureSession.kill} too: the platform side is gone then, nothing is left to stop.
   */
  close(): Promise<void>;
}

/** Context of {@link TransportFixture.sameThread}. */
export interface SameThreadFixtureContext {
  /** The emulated platform (an `ScmiPlatform`). */
  readonly platform: ScmiPlatformPort;
  /** The virtual clock everything runs on. */
  readonly clock: Clock;
  /** The agent id the platform configuration gives this agent. */
  readonly agentId: number;
  /**
   * A seed for the wire's own random choices (how a byte stream splits and coalesces its frames,
   * say), so that a same-thread case stays deterministic: the interleaving simulator gives each
   * schedule's seed (its replay hint then replays the wire too), the other cases 1. The platform
   * is seeded with it as well. Optional for callers of your own: read it as `ctx.seed ?? 1`.
   */
  readonly seed?: number;
}

/** Context of {@link TransportFixture.worker}. */
export interface WorkerFixtureContext {
  /** The platform configuration to build the worker's `ScmiPlatform` from. */
  readonly platformConfig: PlatformConfig;
  /** The agent id. */
  readonly agentId: number;
  /** Seed of the platform's fault probabilities. */
  readonly seed: number;
}

/** A worker running the platform and the transport backend, reused across runs. */
export interface WorkerFixtureSession {
  /** A fresh wire to the running platform, for one agent. */
  open(): Promise<FixtureEnds>;
  /** Replaces the worker platform's fault rules. */
  setFaults(rules: readonly FaultRule[]): Promise<void>;
  /**
   * Sends now the responses the worker platform holds for `hold` fault rules
   * (`ScmiPlatform.releaseHeldResponses`) and resolves with how many. Optional: with it, the
   * worker seed campaign holds every other run's late reply and releases it at a devres event of
   * the agent's teardown it draws — inside the teardown, where the race is; without it every run
   * delays its reply by a time drawn around the timeout, which lands there seldom.
   *
   * @example
   * ```ts
   * // in a fixture's worker(); its worker serves
   * // `releaseHeldResponses: () => platform.releaseHeldResponses()`
   * releaseHeldResponses: async () => (await host.call('releaseHeldResponses')) as number,
   * ```
   */
  releaseHeldResponses?(): Promise<number>;
  /**
   * The worker platform's `faults.counts`: how many faults of each kind fired since the worker
   * started (clearing the rules keeps them). Optional: with it, the hostile-reply campaign checks
   * that each hostile reply that fired was counted exactly once (the counts live in the worker);
   * without it, that the runs of kinds every wire carries counted something.
   */
  faultCounts?(): Promise<Readonly<Record<string, number>>>;
  /**
   * Ends the worker and waits for its exit; idempotent. After {@link WorkerFixtureSession.kill}
   * it resolves too (the thread is gone: nothing is left to stop).
   */
  stop(): Promise<void>;
  /**
   * Ends the worker's thread abruptly, as a platform that dies would: `worker.terminate()` — no
   * `onStop`, nothing closed in the worker, no SMT responder, device or OP-TEE told — and
   * resolves once the thread has exited. The agent side learns of it only as a real one would:
   * its wire sees the thread gone (core's `WorkerHost.exited`). Idempotent. The wires opened on
   * the session stay usable on the agent's side: their {@link FixtureEnds.close} must then still
   * resolve (the platform side is gone: nothing to stop), and {@link FixtureEnds.commandsTaken}
   * answer undefined (it can no longer tell). Optional: without it the kit's platform-death cases
   * (the platform's thread dies with commands in flight) run nothing and pass.
   *
   * @example
   * ```ts
   * // in a fixture's worker(): `host` is core's WorkerHost running the platform and the backend
   * let killing: Promise<void> | undefined;
   * const session: WorkerFixtureSession = {
   *   open, setFaults,
   *   stop: () => host.stop(),
   *   kill: () =>
   *     (killing ??= (async () => {
   *       await host.worker.terminate();
   *       await host.exited;
   *     })()),
   * };
   * ```
   */
  kill?(): Promise<void>;
}

/**
 * How the conformance kit builds both ends of a transport: in the same thread on a virtual clock,
 * and optionally with the platform in a worker thread.
 *
 * @example
 * ```ts
 * export const loopbackFixture: TransportFixture = {
 *   name: 'loopback',
 *   capabilities: { p2a: true, interrupt: true, polling: true, outOfOrder: true, worker: false },
 *   // createLoopbackEnds: yours, building both ends over one wire (see test/support/loopback-fixture.ts)
 *   sameThread: async ({ platform, clock, agentId }) => createLoopbackEnds(platform, clock, agentId),
 * };
 * runTransportConformance(loopbackFixture);
 * ```
 */
export interface TransportFixture {
  /** The transport's descriptor name. */
  readonly name: string;
  /**
   * Which of its transport's fixtures this is, when a transport package exports several (OP-TEE:
   * `smt` and `msg`). Reproduction hints name it (`pnpm stress --transport optee --variant msg`),
   * so that a replay runs this fixture only, and the conformance suite's title shows it.
   */
  readonly variant?: string;
  /**
   * The module that exports this fixture, as an absolute path, for a fixture `pnpm stress` does
   * not find by itself (one outside this repository's `packages/*-transport/test/support/`):
   * reproduction hints then give it (`pnpm stress --fixture <module> --transport …`), so that a
   * hint printed by a jest run replays as printed. Absent: the hints select among the
   * repository's fixtures.
   */
  readonly stressModule?: string;
  /** What the transport can do. */
  readonly capabilities: TransportFixtureCapabilities;
  /** Both ends in the same thread. */
  sameThread(ctx: SameThreadFixtureContext): Promise<FixtureEnds>;
  /** The platform and the backend in a worker thread. */
  worker?(ctx: WorkerFixtureContext): Promise<WorkerFixtureSession>;
}

/**
 * A fixture lacks something a scenario needs — the same-thread ends' `setAgentSignalInterceptor`,
 * which the same-thread seed scenario and the interleaving simulator use to deliver a late reply
 * at the moment they choose. Thrown before the scenario runs anything, once what it made for the
 * fixture is disposed; `pnpm stress` reports it as a failed campaign, not a crash.
 *
 * @example
 * ```ts
 * try {
 *   await runInterleavingSimulation(fixture, { schedules: 10, seed: 1 });
 * } catch (e) {
 *   if (e instanceof FixtureCapabilityError) console.log(e.missing); // 'setAgentSignalInterceptor'
 * }
 * ```
 */
export class FixtureCapabilityError extends Error {
  /** The error's code, for a check that does not import the class. */
  public readonly code = 'E_FIXTURE';
  /** What the fixture lacks (`setAgentSignalInterceptor`). */
  public readonly missing: string;

  /** `fixture` (its title) lacks `missing`, which `scenario` needs. */
  public constructor(fixture: string, missing: string, scenario: string) {
    super(
      `${fixture}: ${scenario} needs the same-thread ends' ${missing} (FixtureEnds), to deliver each platform→agent signal when it chooses; the fixture's sameThread ends have none (see docs/writing-a-transport.md, "Same thread means the virtual clock")`,
    );
    this.name = 'FixtureCapabilityError';
    this.missing = missing;
  }
}

/**
 * A fixture as reports name it: its transport, and its variant when it has one (`optee (msg)`).
 * @internal
 */
export function fixtureTitle(fixture: TransportFixture): string {
  return fixture.variant === undefined ? fixture.name : `${fixture.name} (${fixture.variant})`;
}

/**
 * The A2P channels of `ends` (its `agentOptions.a2p`, or channel 0), each set to complete by
 * polling: what the kit's polling cases and campaigns probe with. @internal
 */
export function pollingA2p(ends: FixtureEnds): AgentChannelOptions[] {
  return (ends.agentOptions?.a2p ?? [{ id: 0 }]).map((c) => ({ ...c, polling: true }));
}
