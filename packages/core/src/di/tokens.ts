import type { ServiceIdentifier } from 'inversify';
import type { Transport } from '../channel/transport.js';
import type { Clock } from '../clock/clock.js';
import type { ProtocolDriver } from '../protocol/protocol-handle.js';
import type { ScmiLogger } from '../diagnostics/logger.js';

/**
 * DI token of transport plugins (multi-injection): each transport package binds its
 * {@link Transport} here in its `ContainerModule`; `createAgent` chooses one by name.
 *
 * @example
 * ```ts
 * new ContainerModule(({ bind }) => { bind(TRANSPORT).toConstantValue(mailboxTransport); });
 * ```
 */
export const TRANSPORT: ServiceIdentifier<Transport> = Symbol.for('@scmi-ts/core/Transport');

/**
 * DI token of protocol drivers (multi-injection), instantiated at probe for each protocol the
 * platform lists. Base is built in.
 *
 * @example
 * ```ts
 * bind(PROTOCOL_DRIVER).toConstantValue(clockDriver); // see the ProtocolDriver example
 * ```
 */
export const PROTOCOL_DRIVER: ServiceIdentifier<ProtocolDriver> = Symbol.for(
  '@scmi-ts/core/ProtocolDriver',
);

/**
 * DI token of the {@link Clock} (default: {@link RealClock}); tests rebind it to a `VirtualClock`.
 *
 * @example
 * ```ts
 * container.rebind(CLOCK).toConstantValue(new VirtualClock());
 * ```
 */
export const CLOCK: ServiceIdentifier<Clock> = Symbol.for('@scmi-ts/core/Clock');

/**
 * DI token of the {@link ScmiLogger} (default: silent).
 *
 * @example
 * ```ts
 * container.rebind(LOGGER).toConstantValue(consoleLogger);
 * ```
 */
export const LOGGER: ServiceIdentifier<ScmiLogger> = Symbol.for('@scmi-ts/core/Logger');
