import { TRANSPORT } from '@scmi-ts/core';
import { ContainerModule } from 'inversify';
import { mailboxTransport } from '../transport/mailbox-transport.js';

/**
 * The inversify module of the mailbox transport: binds {@link mailboxTransport} to core's
 * `TRANSPORT` token, so that `createAgent(container, { transport: 'mailbox', … })` finds it by
 * name next to the other transports loaded.
 *
 * @example
 * ```ts
 * const container = new Container();
 * container.load(coreModule, mailboxTransportModule);
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig: { wire } });
 * ```
 */
export const mailboxTransportModule: ContainerModule = new ContainerModule(({ bind }) => {
  bind(TRANSPORT).toConstantValue(mailboxTransport);
});
