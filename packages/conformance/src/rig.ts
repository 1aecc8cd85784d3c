import {
  CLOCK,
  TRANSPORT,
  coreModule,
  createAgent,
  type AgentOptions,
  type Clock,
  type ScmiAgent,
  VirtualClock,
} from '@scmi-ts/core';
import { DevresEventLog, type DevresEvent } from '@scmi-ts/devres';
import {
  createDefaultPlatformConfig,
  ScmiPlatform,
  type PlatformBehaviour,
} from '@scmi-ts/platform';
import { Container, ContainerModule } from 'inversify';
import {
  FixtureCapabilityError,
  fixtureTitle,
  type FixtureEnds,
  type TransportFixture,
} from './fixture.js';
import { HoldingPlatformPort } from './holding-port.js';
import { TransportInstrument, checkTeardownLog } from './instrument.js';
import { takeUnreported } from './late-violations.js';

/** The agent id the default platform configuration gives the agent under test (OSPM). */
export const AGENT_ID = 1;

/** Options of a {@link SameThreadRig}. */
export interface RigOptions {
  /** Let the virtual clock run by itself (default true). */
  readonly auto?: boolean;
  /** Platform behaviour switches. */
  readonly behaviour?: PlatformBehaviour;
  /** Seed of the platform and of the fixture's wire (`SameThreadFixtureContext.seed`); default 1. */
  readonly seed?: number;
}

/**
 * Builds an inversify container with core and one transport, on `clock`.
 *
 * A new container on every call. Nothing is checked here: `createAgent` finds the transport by
 * the name its options give, and validates the options against it.
 *
 * @example
 * ```ts
 * const ends = await fixture.sameThread({ platform, clock, agentId: AGENT_ID });
 * const container = buildContainer(ends.transport, clock);
 * const agent = await createAgent(container, { ...ends.agentOptions, transport: fixture.name });
 * ```
 */
export function buildContainer(transport: FixtureEnds['transport'], clock: Clock): Container {
  const container = new Container();
  container.load(coreModule);
  container.rebind(CLOCK).toConstantValue(clock);
  container.load(
    new ContainerModule(({ bind }) => {
      bind(TRANSPORT).toConstantValue(transport);
    }),
  );
  return container;
}

/**
 * One same-thread conformance run: a virtual clock, the emulated platform (default
 * configuration), the fixture's wire, an instrumented transport, and a devres event log.
 * {@link SameThreadRig.dispose} tears it all down and reports what was left behind.
 *
 * @example
 * ```ts
 * const rig = await SameThreadRig.create(fixture);
 * const agent = await rig.probe();
 * await agent.remove();
 * expect(await rig.dispose()).toEqual([]);
 * ```
 */
export class SameThreadRig {
  /** The virtual clock. */
  public readonly clock: VirtualClock;
  /** The emulated platform. */
  public readonly platform: ScmiPlatform;
  /** The port the fixture's backend talks to: the platform, with replies the kit can hold. */
  public readonly port: HoldingPlatformPort;
  /** The fixture's wire. */
  public readonly ends: FixtureEnds;
  /** The transport instrument (violations, counters). */
  public readonly instrument: TransportInstrument;
  /** Every devres event of every agent probed through this rig. */
  public readonly log = new DevresEventLog(100_000);
  /** The container the agents are created from. */
  public readonly container: Container;
  /** Called with each devres event as it happens (set by scenarios). */
  public onEvent: ((event: DevresEvent) => void) | undefined;
  readonly #fixture: TransportFixture;
  readonly #agents: ScmiAgent[] = [];
  /** How much of the instrument's and the transport's lists was reported (by dispose, then later). */
  readonly #reported = { instrument: 0, transport: 0 };

  private constructor(
    fixture: TransportFixture,
    clock: VirtualClock,
    platform: ScmiPlatform,
    port: HoldingPlatformPort,
    ends: FixtureEnds,
  ) {
    this.#fixture = fixture;
    this.clock = clock;
    this.platform = platform;
    this.port = port;
    this.ends = ends;
    this.instrument = new TransportInstrument(clock);
    this.container = buildContainer(this.instrument.wrap(ends.transport), clock);
  }

  /** Builds a rig for `fixture`. */
  public static async create(
    fixture: TransportFixture,
    options: RigOptions = {},
  ): Promise<SameThreadRig> {
    const clock = new VirtualClock({ auto: options.auto ?? true });
    const seed = options.seed ?? 1;
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), {
      clock,
      seed,
      ...(options.behaviour === undefined ? {} : { behaviour: options.behaviour }),
    });
    const port = new HoldingPlatformPort(platform);
    const ends = await fixture.sameThread({ platform: port, clock, agentId: AGENT_ID, seed });
    return new SameThreadRig(fixture, clock, platform, port, ends);
  }

  /**
   * The ends' `setAgentSignalInterceptor`, which `scenario` needs: when the fixture has none, the
   * rig is disposed and {@link FixtureCapabilityError} thrown.
   */
  public async requireSignalInterceptor(
    scenario: string,
  ): Promise<NonNullable<FixtureEnds['setAgentSignalInterceptor']>> {
    const { ends } = this;
    if (ends.setAgentSignalInterceptor !== undefined) {
      return (interceptor) => ends.setAgentSignalInterceptor?.(interceptor);
    }
    // The capability error is the news: a dispose that throws must not replace it.
    await this.dispose().catch(() => undefined);
    throw new FixtureCapabilityError(
      fixtureTitle(this.#fixture),
      'setAgentSignalInterceptor',
      scenario,
    );
  }

  /** The agent options the rig uses: the fixture's, the kit's (transport, log), then `overrides`. */
  public agentOptions(overrides: Partial<AgentOptions> = {}): AgentOptions {
    return {
      ...this.ends.agentOptions,
      transport: this.#fixture.name,
      rxTimeoutMs: 30,
      log: (event) => {
        this.log.sink(event);
        this.onEvent?.(event);
      },
      ...overrides,
    };
  }

  /** Probes an agent (the caller removes it, or {@link SameThreadRig.dispose} does). */
  public async probe(overrides: Partial<AgentOptions> = {}): Promise<ScmiAgent> {
    const agent = await createAgent(this.container, this.agentOptions(overrides));
    this.#agents.push(agent);
    return agent;
  }

  /**
   * Removes agents still bound, closes the wire, checks that the platform holds no timer any more
   * (before closing it, since closing cancels them all), closes the platform, runs the clock until
   * idle, and returns the hygiene problems: platform timers left armed, instrument violations, the
   * transport's own violations ({@link FixtureEnds.transportViolations}),
   * resources left live, teardown order (every resource released once, newest first, each
   * teardown's quiesce steps before its releases: {@link checkTeardownLog}), timers of the agent
   * or the transport still armed once the platform is closed (checked before the clock runs, which
   * would fire them), timers armed and tasks pending after it ran. Then one more macrotask turn and
   * the clock until idle again, and the instrument and the transport's list read again: what a
   * callback the wire let happen later still recorded (a task of its own after the close, a
   * `setImmediate`) is reported too, marked `(recorded after the rig was disposed)`. What they
   * record later still is {@link SameThreadRig.takeUnreportedViolations}'s.
   */
  public async dispose(): Promise<string[]> {
    const problems: string[] = [];
    for (const agent of this.#agents) {
      if (agent.devres !== undefined) {
        const removing = agent.remove().catch(() => undefined);
        if (!(await this.settle(removing))) problems.push(`${agent.name}: remove did not complete`);
      }
    }
    await this.ends.close();
    // Before `platform.close()`, which cancels every timer: with every agent removed and the wire
    // closed, a timer the platform still holds is one nothing can ever use (a retry for an agent
    // that is gone…).
    // An accepted asynchronous operation is not one: it completes after its agent is gone; nor is
    // the fast channels' polling, which runs as long as the platform does.
    const platformArmed =
      this.platform.armedTimers - this.platform.pendingOperations - this.platform.pollingTimers;
    if (platformArmed > 0)
      problems.push(
        `platform: ${platformArmed} timer(s) left armed after the agents were removed and the wire closed`,
      );
    this.platform.close();
    // The platform's timers are cancelled now: a timer still armed on the shared clock is the
    // agent's or the transport's, left behind by a removal that should have cancelled it. Checked
    // before running the clock, which would fire it and hide the leak.
    if (this.clock.armedTimers > 0)
      problems.push(
        `${this.clock.armedTimers} timer(s) left armed after the agents were removed and the wire and the platform closed`,
      );
    await this.clock.runUntilIdle();
    problems.push(...this.takeUnreportedViolations());
    for (const agent of this.#agents) {
      const live = agent.devres?.live() ?? [];
      if (live.length > 0) problems.push(`${agent.name}: ${live.length} resource(s) left live`);
    }
    problems.push(...checkTeardownLog(this.log.events));
    if (this.clock.armedTimers > 0) problems.push(`${this.clock.armedTimers} timer(s) left armed`);
    if (this.clock.pendingTasks > 0)
      problems.push(`${this.clock.pendingTasks} task(s) left pending`);
    // A callback the wire lets happen from a real task of its own (not the virtual clock's) comes
    // after the reads above: one more turn, the clock again, and what it recorded is read.
    await this.clock.settle();
    await this.clock.runUntilIdle();
    for (const v of this.takeUnreportedViolations())
      problems.push(`${v} (recorded after the rig was disposed)`);
    return problems;
  }

  /**
   * Where replies that came too late were counted: by the agent (core's late replies, RX guards'
   * refusals after quiesce, core's unexpected replies), by the wire (`droppedSignals`) and by the
   * platform side (sent to a disconnected link), and the sum. Read once the wire is closed
   * ({@link SameThreadRig.dispose}): a wire that counts a reply again as it closes is seen.
   */
  public lateReplyCounts(): {
    /** Counted by the agent: core's late and unexpected replies, guards' refusals after quiesce. */
    byAgent: number;
    /** Counted by the wire (`droppedSignals`). */
    wire: number;
    /** Sent to a disconnected link (`droppedAfterDisconnect`). */
    platformSide: number;
    /** The sum of the three. */
    accounted: number;
  } {
    const i = this.instrument;
    const byAgent = i.lateReplies + i.refusedAfterQuiesce + i.badMessages().unexpected;
    const wire = this.ends.droppedSignals?.() ?? 0;
    const platformSide = this.port.droppedAfterDisconnect;
    return { byAgent, wire, platformSide, accounted: byAgent + wire + platformSide };
  }

  /**
   * The violations the instrument and the transport (`FixtureEnds.transportViolations`, prefixed
   * `transport: `) recorded that were not reported yet — by {@link SameThreadRig.dispose}, or an
   * earlier call — each returned once. A campaign of many rigs (the interleaving simulator) calls
   * it on its disposed rigs again later, and at its end: a callback on a real timer of the wire's,
   * after the rig was disposed, is caught there.
   */
  public takeUnreportedViolations(): string[] {
    return takeUnreported(
      this.#reported,
      this.instrument.violations,
      this.ends.transportViolations?.() ?? [],
    );
  }

  /**
   * Runs the clock until `p` settles (for a rig whose clock does not run by itself) and returns its
   * value.
   *
   * @throws what `p` rejects with; Error when it does not settle within 60 s of virtual time.
   */
  public async run<T>(p: Promise<T>): Promise<T> {
    if (!(await this.settle(p))) throw new Error('did not settle within 60 s of virtual time');
    return p;
  }

  /**
   * Waits for `p` while running the clock, for at most `limitMs` of virtual time; false when it did
   * not settle (a hang is reported, not waited for forever).
   */
  public async settle(p: Promise<unknown>, limitMs = 60_000): Promise<boolean> {
    // Read through a function: the promise settles while this loop awaits.
    let done = false;
    const mark = (): void => {
      done = true;
    };
    const isDone = (): boolean => done;
    p.then(mark, mark);
    const until = this.clock.now() + limitMs;
    while (!isDone() && this.clock.now() < until) {
      await this.clock.runUntilIdle(100);
      if (!isDone() && this.clock.armedTimers === 0 && this.clock.pendingTasks === 0)
        await this.clock.advance(100);
    }
    return isDone();
  }
}
