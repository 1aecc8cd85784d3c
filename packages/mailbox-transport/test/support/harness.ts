import { Container } from 'inversify';
import {
  CLOCK,
  ChannelCounters,
  ScmiTransportError,
  VirtualClock,
  coreModule,
  createAgent,
  type AgentOptions,
  type ChannelSetup,
  type Clock,
  type ChannelStats,
  type ScmiAgent,
} from '@scmi-ts/core';
import { DevresEventLog } from '@scmi-ts/devres';
import {
  ClockMessageId,
  PerformanceMessageId,
  ScmiPlatform,
  createDefaultPlatformConfig,
  type FaultRule,
  type PlatformConfig,
} from '@scmi-ts/platform';
import {
  SmtResponder,
  createSameThreadMailboxWire,
  mailboxTransportModule,
  type SameThreadMailboxWire,
  type SameThreadMailboxWireOptions,
  type SmtFaultRule,
} from '@scmi-ts/mailbox-transport';
import { codeOfError } from '../../../core/test/support/code-of.js';

/** Options of {@link createHarness}. */
export interface HarnessOptions {
  /** Run the virtual clock by itself (default true). */
  readonly auto?: boolean;
  /** The wire's channels and area size (default A2P 0 and 1, P2A 0). */
  readonly wire?: SameThreadMailboxWireOptions;
  /** Platform configuration (default `createDefaultPlatformConfig()`). */
  readonly platformConfig?: PlatformConfig;
  /** Message-level faults of the platform. */
  readonly platformFaults?: readonly FaultRule[];
  /** Wire-level faults of the responder. */
  readonly smtFaults?: readonly SmtFaultRule[];
  /** The agent id (default 1). */
  readonly agentId?: number;
}

/** A same-thread mailbox setup on a virtual clock: platform, responder, wire, container. */
export interface Harness {
  readonly clock: VirtualClock;
  readonly platform: ScmiPlatform;
  readonly responder: SmtResponder;
  readonly mailbox: SameThreadMailboxWire;
  readonly container: Container;
  readonly log: DevresEventLog;
  /** Probes an agent over the wire. */
  create(options?: Partial<AgentOptions>): Promise<ScmiAgent>;
  /** {@link Harness.create} on a manual clock (`auto: false`): runs the clock until it probed. */
  probe(options?: Partial<AgentOptions>): Promise<ScmiAgent>;
  /** Closes the responder and the platform and checks that no timer is left. */
  close(): void;
}

/** Builds a same-thread harness. */
export function createHarness(options: HarnessOptions = {}): Harness {
  const clock = new VirtualClock({ auto: options.auto ?? true });
  const platform = new ScmiPlatform(options.platformConfig ?? createDefaultPlatformConfig(), {
    clock,
    ...(options.platformFaults === undefined ? {} : { faults: options.platformFaults }),
  });
  const mailbox = createSameThreadMailboxWire(clock, options.wire ?? { a2p: [0, 1], p2a: [0] });
  const responder = new SmtResponder({
    platform,
    agentId: options.agentId ?? 1,
    end: mailbox.platformEnd,
    clock,
    ...(options.smtFaults === undefined ? {} : { faults: options.smtFaults }),
  });
  const container = new Container();
  container.load(coreModule, mailboxTransportModule);
  container.rebind(CLOCK).toConstantValue(clock);
  const log = new DevresEventLog();
  const create = (o: Partial<AgentOptions> = {}): Promise<ScmiAgent> =>
    createAgent(container, {
      transport: 'mailbox',
      log: log.sink,
      transportConfig: { wire: mailbox.wire },
      ...o,
    });
  return {
    clock,
    platform,
    responder,
    mailbox,
    container,
    log,
    create,
    probe: async (o = {}) => {
      const probing = create(o);
      await clock.runUntilIdle();
      return probing;
    },
    close: () => {
      responder.close();
      platform.close();
      expect(responder.armedTimers).toBe(0);
      expect(platform.armedTimers).toBe(0);
    },
  };
}

/**
 * A harness on a manual clock and an agent probed over it on A2P channel 0 (polling or not; the
 * default P2A channel), with the SMT responder's `rules` armed once the probe is done.
 */
export async function probeWithFaults(
  rules: readonly SmtFaultRule[],
  polling = false,
  wire?: SameThreadMailboxWireOptions,
): Promise<{ h: Harness; agent: ScmiAgent }> {
  const h = createHarness({ auto: false, ...(wire === undefined ? {} : { wire }) });
  const agent = await h.probe({ a2p: [{ id: 0, polling }] });
  for (const rule of rules) h.responder.faults.add(rule);
  return { h, agent };
}

/** A channel's `badMessages` with nothing rejected: every reason core counts, each 0. */
export const NO_BAD_MESSAGES = {
  unexpected: 0,
  invalid: 0,
  unknown: 0,
  nomem: 0,
  spurious: 0,
  oversize: 0,
} as const;

/** The counters of the agent's channel `label` (`a2p:0`, `p2a:0`…); throws when it has none. */
export function channelStats(agent: ScmiAgent, label: string): ChannelStats {
  return defined(
    agent.diagnostics.channels.find((c) => c.label === label),
    label,
  ).stats;
}

/**
 * Removes `agent` on the harness's manual clock, then checks that the wire saw no violation,
 * closes the harness (responder and platform, none of their timers left) and that no timer is left
 * on the clock.
 */
export async function removeAndClose(h: Harness, agent: ScmiAgent): Promise<void> {
  const removing = agent.remove();
  await h.clock.runUntilIdle();
  await removing;
  expect(h.mailbox.wire.monitor.violations).toEqual([]);
  h.close();
  expect(h.clock.armedTimers).toBe(0);
}

/** Resolves once `p` settles, returning its error (or undefined when it fulfilled). */
export async function settle(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e;
  }
}

/**
 * What core hands `setupChannel` for the A2P channel 0 of agent `scmi0`, with a sink that drops
 * everything: for tests that drive one channel by hand, without an agent.
 */
export function a2pChannelSetup(
  config: unknown,
  clock: Clock,
  rxTimeoutMs: number,
  counters = new ChannelCounters(),
): ChannelSetup {
  return {
    agent: 'scmi0',
    direction: 'a2p',
    channel: { id: 0, protocols: [], polling: false, transport: undefined },
    config,
    sink: { rx: () => undefined, badMessage: () => undefined, failInFlight: () => 0 },
    clock,
    counters,
    rxTimeoutMs,
  };
}

/** `value`, or a thrown error when it is undefined (tests may not use `!`). */
export function defined<T>(value: T | undefined, what = 'value'): T {
  if (value === undefined) throw new Error(`${what} is undefined`);
  return value;
}

/** The error code of what `fn` throws (an ScmiTransportError), or undefined when it does not. */
export const codeOf = codeOfError(ScmiTransportError);

/**
 * Registers Performance's PERF_LEVEL_CHANGED (0x13 / 0x1) with `agent`, enabled and disabled by
 * PERF_NOTIFY_LEVEL, so that the tests can subscribe to it (the agent has no Performance driver).
 */
export function registerLevelNotifications(agent: ScmiAgent): void {
  agent.events.register(0x13, [
    {
      id: 0x1,
      name: 'performance-level-changed',
      setNotifyEnabled: async (source, enable) => {
        await agent.transact(
          0x13,
          PerformanceMessageId.NOTIFY_LEVEL,
          (w) => w.u32(source ?? 0).u32(enable ? 1 : 0),
          { txSize: 8 },
        );
      },
    },
  ]);
}

/**
 * Sets performance levels 400 MHz, 800 MHz and 1.8 GHz of domain 0 (each a PERF_LEVEL_CHANGED
 * notification for a subscribed agent) and, asynchronously, clock 1 to 48 MHz: the response on
 * A2P, then the delayed response on P2A, whose rate it checks.
 */
export async function exerciseP2a(agent: ScmiAgent): Promise<void> {
  for (const level of [400_000, 800_000, 1_800_000]) {
    await agent.transact(0x13, PerformanceMessageId.LEVEL_SET, (w) => w.u32(0).u32(level), {
      txSize: 8,
    });
  }
  const delayed = await agent.transact(
    0x14,
    ClockMessageId.RATE_SET,
    (w) => w.u32(1).u32(1).u32(48_000_000).u32(0),
    { txSize: 16, async: true },
  );
  expect(new DataView(delayed.buffer, delayed.byteOffset).getUint32(4, true)).toBe(48_000_000);
}
