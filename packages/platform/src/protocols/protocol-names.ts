import { ScmiProtocolId } from '@scmi-ts/core';
import type { PlatformDomainProtocol, PlatformProtocolName } from '../config/platform-config.js';

/**
 * The SCMI protocol id of each protocol name a platform configuration gives an agent
 * ({@link PlatformProtocolName}; Base, 0x10, is always there and has no name).
 *
 * @example
 * ```ts
 * const ids = agentConfig.protocols.map((name) => PROTOCOL_ID_OF[name]); // e.g. [0x11, 0x14]
 * ```
 */
export const PROTOCOL_ID_OF: Readonly<Record<PlatformProtocolName, number>> = {
  power: ScmiProtocolId.POWER,
  'system-power': ScmiProtocolId.SYSTEM,
  performance: ScmiProtocolId.PERF,
  clock: ScmiProtocolId.CLOCK,
  sensor: ScmiProtocolId.SENSOR,
  reset: ScmiProtocolId.RESET,
  voltage: ScmiProtocolId.VOLTAGE,
};

const DOMAIN_PROTOCOL_OF: ReadonlyMap<number, PlatformDomainProtocol> = new Map([
  [PROTOCOL_ID_OF.power, 'power'],
  [PROTOCOL_ID_OF.performance, 'performance'],
  [PROTOCOL_ID_OF.clock, 'clock'],
  [PROTOCOL_ID_OF.sensor, 'sensor'],
  [PROTOCOL_ID_OF.reset, 'reset'],
  [PROTOCOL_ID_OF.voltage, 'voltage'],
]);

/** The domain protocol of a protocol id, if it has domains. @internal */
export function domainProtocolOf(protocolId: number): PlatformDomainProtocol | undefined {
  return DOMAIN_PROTOCOL_OF.get(protocolId);
}
