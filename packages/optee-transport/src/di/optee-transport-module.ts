import { TRANSPORT } from '@scmi-ts/core';
import { ContainerModule } from 'inversify';
import { OpteeTransport } from '../transport/optee-transport.js';

/**
 * Binds the OP-TEE transport (one instance per container) to core's `TRANSPORT` token; agents
 * choose it with `transport: 'optee'`. The transport logs its warnings (a system session the TEE
 * driver refused) to each agent's logger (core's `DeviceSetup.logger`: the container's `LOGGER`).
 *
 * @example
 * ```ts
 * const container = new Container();
 * container.load(coreModule, opteeTransportModule);
 * const agent = await createAgent(container, {
 *   transport: 'optee',
 *   transportConfig: opteeTransportConfig(driver),
 * });
 * ```
 */
export const opteeTransportModule = new ContainerModule(({ bind }) => {
  bind(TRANSPORT)
    .toDynamicValue(() => new OpteeTransport())
    .inSingletonScope();
});
