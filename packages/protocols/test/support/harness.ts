import { Container, ContainerModule } from 'inversify';
import {
  CLOCK,
  PROTOCOL_DRIVER,
  type ScmiPlatformPort,
  VirtualClock,
  coreModule,
  createAgent,
  type AgentOptions,
  type ProtocolDriver,
  type ScmiAgent,
} from '@scmi-ts/core';
import {
  ScmiPlatform,
  createDefaultPlatformConfig,
  type FaultRule,
  type PlatformBehaviour,
  type PlatformConfig,
  type PlatformVendorProtocol,
} from '@scmi-ts/platform';
import {
  SmtResponder,
  createSameThreadMailboxWire,
  mailboxTransportModule,
  type SameThreadMailboxWire,
  type SameThreadMailboxWireOptions,
} from '@scmi-ts/mailbox-transport';

/** Options of {@link createHarness}. */
export interface HarnessOptions {
  /** The drivers bound (default: none but Base). */
  readonly drivers?: readonly ProtocolDriver[];
  /** Platform configuration (default `createDefaultPlatformConfig()`). */
  readonly platformConfig?: PlatformConfig;
  /** Message-level faults of the platform, armed from the start. */
  readonly platformFaults?: readonly FaultRule[];
  /** The platform's behaviour switches (default: none). */
  readonly platformBehaviour?: PlatformBehaviour;
  /** Vendor protocols the platform serves (default: none). */
  readonly vendorProtocols?: readonly PlatformVendorProtocol[];
  /** The wire's channels (default A2P 0, P2A 0: notifications and delayed responses). */
  readonly wire?: SameThreadMailboxWireOptions;
  /** The agent id (default 1, OSPM in the default configuration). */
  readonly agentId?: number;
  /**
   * Let the virtual clock run by itself (default true). On a manual clock the test runs it
   * (`advance`, `runUntilIdle`); `create` runs it until the probe is done.
   */
  readonly auto?: boolean;
  /**
   * What the SMT responder talks to instead of the platform itself: a port that wraps it (a
   * test-only responder for a protocol the platform does not serve yet, such as
   * `createVoltageFake`). Its `close`, when it has one, runs before the platform's.
   */
  readonly platformPort?: (
    platform: ScmiPlatform,
    clock: VirtualClock,
  ) => ScmiPlatformPort & { close?(): void };
}

/**
 * An agent's world on one thread and a virtual clock (running by itself unless asked): the emulated platform
 * behind an SMT responder, a same-thread mailbox wire, a container with core, the mailbox
 * transport and the drivers asked for.
 */
export interface Harness {
  readonly clock: VirtualClock;
  readonly platform: ScmiPlatform;
  readonly container: Container;
  /** The mailbox wire (its monitor counts what reached each channel). */
  readonly mailbox: SameThreadMailboxWire;
  /** Probes an agent. */
  create(options?: Partial<AgentOptions>): Promise<ScmiAgent>;
  /**
   * Removes every agent it created that is still live, closes the responder and the platform, and
   * checks that no timer is left armed — the platform's, the responder's or the virtual clock's.
   */
  close(): Promise<void>;
}

/** Builds a {@link Harness}. */
export function createHarness(options: HarnessOptions = {}): Harness {
  const auto = options.auto ?? true;
  const clock = new VirtualClock({ auto });
  const platform = new ScmiPlatform(options.platformConfig ?? createDefaultPlatformConfig(), {
    clock,
    ...(options.platformFaults === undefined ? {} : { faults: options.platformFaults }),
    ...(options.platformBehaviour === undefined ? {} : { behaviour: options.platformBehaviour }),
    ...(options.vendorProtocols === undefined ? {} : { vendorProtocols: options.vendorProtocols }),
  });
  const mailbox = createSameThreadMailboxWire(clock, options.wire ?? { a2p: [0], p2a: [0] });
  const port = options.platformPort?.(platform, clock);
  const responder = new SmtResponder({
    platform: port ?? platform,
    agentId: options.agentId ?? 1,
    end: mailbox.platformEnd,
    clock,
  });
  const container = new Container();
  container.load(coreModule, mailboxTransportModule);
  container.rebind(CLOCK).toConstantValue(clock);
  container.load(
    new ContainerModule(({ bind }) => {
      for (const d of options.drivers ?? []) bind(PROTOCOL_DRIVER).toConstantValue(d);
    }),
  );
  const agents: ScmiAgent[] = [];
  return {
    clock,
    platform,
    container,
    mailbox,
    create: async (o = {}) => {
      const probing = createAgent(container, {
        transport: 'mailbox',
        transportConfig: { wire: mailbox.wire },
        ...o,
      });
      if (!auto) await clock.runUntilIdle();
      const agent = await probing;
      agents.push(agent);
      return agent;
    },
    close: async () => {
      for (const agent of agents) {
        if (agent.removed) continue;
        const removing = agent.remove();
        if (!auto) await clock.runUntilIdle();
        await removing;
      }
      responder.close();
      port?.close?.();
      platform.close();
      expect(responder.armedTimers).toBe(0);
      expect(platform.armedTimers).toBe(0);
      expect(clock.armedTimers).toBe(0);
    },
  };
}
