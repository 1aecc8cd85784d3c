import { TRANSPORT } from '@scmi-ts/core';
import { ContainerModule } from 'inversify';
import { peerPortTransport } from './peer-port-transport.js';

/**
 * The inversify module of the agent end of a peer port: binds {@link peerPortTransport} (the
 * default descriptor: `maxMsgSize` 128, as a port's default) to core's `TRANSPORT` token, so that
 * `createAgent(container, { transport: 'peer-port', … })` finds it by name next to the other
 * transports loaded. For a port with another `maxMsgSize`, bind
 * `createPeerPortTransport({ maxMsgSize })` instead.
 *
 * @example
 * ```ts
 * const container = new Container();
 * container.load(coreModule, peerPortTransportModule);
 * const connection = await connectPeerPort(port.address);
 * const agent = await createAgent(container, {
 *   transport: 'peer-port',
 *   transportConfig: { connection },
 * });
 * ```
 */
export const peerPortTransportModule: ContainerModule = new ContainerModule(({ bind }) => {
  bind(TRANSPORT).toConstantValue(peerPortTransport);
});
