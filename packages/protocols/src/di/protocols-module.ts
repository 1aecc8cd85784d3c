import { PROTOCOL_DRIVER, type ProtocolDriver } from '@scmi-ts/core';
import { ContainerModule } from 'inversify';
import { clockProtocolDriver } from '../clock/clock-protocol.js';
import { performanceProtocolDriver } from '../performance/performance-protocol.js';
import { powerProtocolDriver } from '../power/power-protocol.js';
import { resetProtocolDriver } from '../reset/reset-protocol.js';
import { sensorProtocolDriver } from '../sensor/sensor-protocol.js';
import { systemPowerProtocolDriver } from '../system-power/system-power-protocol.js';
import { voltageProtocolDriver } from '../voltage/voltage-protocol.js';

/**
 * Every protocol driver of this package, in protocol id order: what {@link protocolsModule}
 * binds.
 *
 * @example
 * ```ts
 * for (const d of PROTOCOL_DRIVERS) console.log(d.protocolId.toString(16), d.name);
 * ```
 */
export const PROTOCOL_DRIVERS: readonly ProtocolDriver[] = [
  powerProtocolDriver,
  systemPowerProtocolDriver,
  performanceProtocolDriver,
  clockProtocolDriver,
  sensorProtocolDriver,
  resetProtocolDriver,
  voltageProtocolDriver,
];

/**
 * The inversify module of this package: binds each of {@link PROTOCOL_DRIVERS} to core's
 * `PROTOCOL_DRIVER` token, so that every agent created from the container instantiates the
 * protocols its platform lists. To take only some, bind those drivers yourself.
 *
 * @example
 * ```ts
 * container.load(coreModule, mailboxTransportModule, protocolsModule);
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig: { wire } });
 * await agent.protocol(resetProtocolDriver).reset(0);
 * ```
 */
export const protocolsModule: ContainerModule = new ContainerModule(({ bind }) => {
  for (const driver of PROTOCOL_DRIVERS) bind(PROTOCOL_DRIVER).toConstantValue(driver);
});
