import { TRANSPORT } from '@scmi-ts/core';
import { ContainerModule } from 'inversify';
import { virtioTransport } from '../transport/virtio-transport.js';

/**
 * Binds the virtio-scmi transport ({@link virtioTransport}) to core's `TRANSPORT` token, so that
 * agents can choose it by name.
 *
 * @example
 * ```ts
 * const container = new Container();
 * container.load(coreModule, virtioTransportModule);
 * const agent = await createAgent(container, { transport: 'virtio', transportConfig: { wire } });
 * ```
 */
export const virtioTransportModule: ContainerModule = new ContainerModule(({ bind }) => {
  bind(TRANSPORT).toConstantValue(virtioTransport);
});
