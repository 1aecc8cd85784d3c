/**
 * SCMI protocol clients for the agent (Linux `drivers/firmware/arm_scmi/*.c`): one protocol
 * driver (core's `ProtocolDriver`) per protocol, bound by {@link protocolsModule}.
 *
 * @packageDocumentation
 */
export { DomainTable } from './common/domain-table.js';
export { PROTOCOL_DRIVERS, protocolsModule } from './di/protocols-module.js';
export type { ResetDomainInfo, ResetIssued, ResetOptions } from './reset/reset-protocol.js';
export {
  RESET_ISSUED,
  RESET_STATE_COLD,
  RESET_STATE_VENDOR,
  ResetMessageId,
  ResetProtocol,
  decodeResetIssued,
  resetProtocolDriver,
} from './reset/reset-protocol.js';
