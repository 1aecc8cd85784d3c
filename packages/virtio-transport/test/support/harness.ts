import {
  CLOCK,
  VirtualClock,
  coreModule,
  createAgent,
  type AgentOptions,
  type ScmiAgent,
} from '@scmi-ts/core';
import { DevresEventLog } from '@scmi-ts/devres';
import {
  ScmiPlatform,
  createDefaultPlatformConfig,
  type ScmiPlatformOptions,
} from '@scmi-ts/platform';
import { virtioTransportModule } from '@scmi-ts/virtio-transport';
import { Container } from 'inversify';
import {
  openSameThreadVirtio,
  type SameThreadVirtio,
  type SameThreadVirtioOptions,
} from './fixture.js';

/** A same-thread agent + platform + virtio wire on a VirtualClock. */
export interface VirtioHarness extends SameThreadVirtio {
  readonly clock: VirtualClock;
  readonly platform: ScmiPlatform;
  readonly container: Container;
  readonly log: DevresEventLog;
  /** Creates (probes) an agent over the wire; options override the defaults (30 ms timeout). */
  create(options?: Partial<AgentOptions>): Promise<ScmiAgent>;
  /** Closes the device and the platform. */
  shutdown(): Promise<void>;
}

/** Options of {@link createVirtioHarness}. */
export interface VirtioHarnessOptions extends SameThreadVirtioOptions {
  /** Run the virtual clock by itself (default true). */
  readonly auto?: boolean;
  /** Platform options besides the clock. */
  readonly platform?: Omit<ScmiPlatformOptions, 'clock'>;
}

/** Builds a harness for agent 1 of the default platform configuration. */
export function createVirtioHarness(options: VirtioHarnessOptions = {}): VirtioHarness {
  const clock = new VirtualClock({ auto: options.auto ?? true });
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { ...options.platform, clock });
  const ends = openSameThreadVirtio({ platform, clock, agentId: 1 }, options);
  const container = new Container();
  container.load(coreModule, virtioTransportModule);
  container.rebind(CLOCK).toConstantValue(clock);
  const log = new DevresEventLog();
  return {
    ...ends,
    clock,
    platform,
    container,
    log,
    create: (o = {}) =>
      createAgent(container, {
        transport: 'virtio',
        rxTimeoutMs: 30,
        log: log.sink,
        ...ends.agentOptions,
        ...o,
      }),
    shutdown: async () => {
      await ends.close();
      platform.close();
    },
  };
}
