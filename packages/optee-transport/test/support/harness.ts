import {
  CLOCK,
  LOGGER,
  type ScmiLogger,
  TRANSPORT,
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
import { Container, ContainerModule } from 'inversify';
import {
  createOpteeFixture,
  type OpteeFixtureOptions,
  type OpteeSameThreadEnds,
} from './fixture.js';

/** A same-thread OP-TEE setup: virtual clock, platform (OP-TEE behaviour), emulated OP-TEE, driver, container. */
export interface OpteeHarness {
  readonly clock: VirtualClock;
  readonly platform: ScmiPlatform;
  readonly ends: OpteeSameThreadEnds;
  readonly container: Container;
  readonly log: DevresEventLog;
  create(options?: Partial<AgentOptions>): Promise<ScmiAgent>;
  /** Closes the wire and the platform. */
  close(): Promise<void>;
}

/** Builds a harness in SMT (`'static'`) or MSG (`'dynamic'`) mode. */
export async function createOpteeHarness(
  options: Partial<OpteeFixtureOptions> & {
    auto?: boolean;
    platform?: Partial<Omit<ScmiPlatformOptions, 'clock'>>;
    /** The agents' logger (the container's `LOGGER`; default core's). */
    logger?: ScmiLogger;
  } = {},
): Promise<OpteeHarness> {
  const clock = new VirtualClock({ auto: options.auto ?? true });
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), {
    clock,
    behaviour: { unknownMessage: 'not-supported', unknownDomain: 'invalid-parameters' },
    ...options.platform,
  });
  const fixture = createOpteeFixture({ shmem: 'static', ...options });
  const ends = await fixture.sameThread({ platform, clock, agentId: 1 });
  const container = new Container();
  container.load(coreModule);
  container.rebind(CLOCK).toConstantValue(clock);
  if (options.logger !== undefined) {
    if (container.isBound(LOGGER)) container.rebind(LOGGER).toConstantValue(options.logger);
    else container.bind(LOGGER).toConstantValue(options.logger);
  }
  container.load(
    new ContainerModule(({ bind }) => {
      bind(TRANSPORT).toConstantValue(ends.transport);
    }),
  );
  const log = new DevresEventLog();
  return {
    clock,
    platform,
    ends,
    container,
    log,
    create: (o = {}) =>
      createAgent(container, { transport: 'optee', log: log.sink, ...ends.agentOptions, ...o }),
    close: async () => {
      await ends.close();
      platform.close();
    },
  };
}
