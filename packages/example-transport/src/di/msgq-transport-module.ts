import { TRANSPORT } from '@scmi-ts/core';
import { ContainerModule } from 'inversify';
import { msgqTransport } from '../transport/msgq-transport.js';

/**
 * The inversify module of the msgq transport (docs §10): binds {@link msgqTransport} to core's
 * `TRANSPORT` token, so that `createAgent(container, { transport: 'msgq', … })` finds it by name
 * next to the other transports loaded.
 *
 * @example
 * ```ts
 * const container = new Container();
 * container.load(coreModule, msgqTransportModule);
 * const agent = await createAgent(container, { transport: 'msgq', transportConfig: { end } });
 * ```
 */
export const msgqTransportModule: ContainerModule = new ContainerModule(({ bind }) => {
  bind(TRANSPORT).toConstantValue(msgqTransport);
});
