import { Container, ContainerModule } from 'inversify';
import {
  CLOCK,
  LOGGER,
  PROTOCOL_DRIVER,
  TRANSPORT,
  VirtualClock,
  coreModule,
  createAgent,
  silentLogger,
  type AgentOptions,
  type ProtocolDriver,
  type ScmiAgent,
  type TransportDescriptor,
} from '@scmi-ts/core';
import { DevresEventLog } from '@scmi-ts/devres';
import { FakePlatform } from './fake-platform.js';
import { createLoopbackTransport, type LoopbackWire } from './loopback-transport.js';

/** Everything a core test needs: a virtual clock, the fake platform, the loopback wire, a container. */
export interface Harness {
  readonly clock: VirtualClock;
  readonly platform: FakePlatform;
  readonly wire: LoopbackWire;
  readonly container: Container;
  readonly log: DevresEventLog;
  create(options?: Partial<AgentOptions>): Promise<ScmiAgent>;
}

/** Builds a harness; `auto` runs the virtual clock by itself. */
export function createHarness(
  options: {
    auto?: boolean;
    descriptor?: Partial<TransportDescriptor>;
    drivers?: ProtocolDriver[];
    brokenQuiesce?: boolean;
  } = {},
): Harness {
  const clock = new VirtualClock({ auto: options.auto ?? true });
  const platform = new FakePlatform(clock);
  const { transport, wire } = createLoopbackTransport({
    platform,
    clock,
    ...(options.descriptor === undefined ? {} : { descriptor: options.descriptor }),
    brokenQuiesce: options.brokenQuiesce === true,
  });
  const container = new Container();
  container.load(coreModule);
  container.rebind(CLOCK).toConstantValue(clock);
  container.load(
    new ContainerModule(({ bind }) => {
      bind(TRANSPORT).toConstantValue(transport);
      for (const d of options.drivers ?? []) bind(PROTOCOL_DRIVER).toConstantValue(d);
    }),
  );
  const log = new DevresEventLog();
  return {
    clock,
    platform,
    wire,
    container,
    log,
    create: (o = {}) => createAgent(container, { transport: 'loopback', log: log.sink, ...o }),
  };
}

/** Binds a `LOGGER` that collects the messages the agents created with `h` warn of; returns them. */
export function captureWarnings(h: Harness): string[] {
  const warnings: string[] = [];
  h.container.rebind(LOGGER).toConstantValue({
    ...silentLogger,
    warn: (message: string) => {
      warnings.push(message);
    },
  });
  return warnings;
}
