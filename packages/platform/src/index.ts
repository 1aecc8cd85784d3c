/**
 * An emulated SCMI platform firmware at the message level — the other end of every transport, for
 * tests, demos and benchmarks: configuration, the protocol servers, message-level fault injection
 * and a peer port.
 *
 * @packageDocumentation
 */
export type {
  ClockConfig,
  ClockRateRange,
  ConstantSensorValue,
  PerformanceDomainConfig,
  PerformanceFastChannelsConfig,
  PerformanceLevelConfig,
  PerformanceLimitsConfig,
  PlatformAgentConfig,
  PlatformConfig,
  PlatformDeviceConfig,
  PlatformDomainProtocol,
  PlatformDomainSet,
  PlatformProtocolName,
  PowerDomainConfig,
  RampSensorValue,
  ResetDomainConfig,
  SensorAxisConfig,
  SensorConfig,
  SensorIntervalRange,
  SensorNoiseConfig,
  SensorValueGenerator,
  SequenceSensorValue,
  SineSensorValue,
  SystemPowerConfig,
  VoltageDomainConfig,
  VoltageLevelRange,
} from './config/platform-config.js';
export type { PlatformErrorCode } from './errors/platform-error.js';
export type { FiredFault } from './faults/fault-injector.js';
export type {
  CorruptBytesFault,
  CorruptProtocolFault,
  CorruptTokenFault,
  CorruptTypeFault,
  DelayFault,
  DropFault,
  DuplicateFault,
  FaultAction,
  FaultKind,
  FaultLogEntry,
  FaultMatch,
  FaultRule,
  FaultStage,
  HoldFault,
  IdentifiedFaultRule,
  LateReplyFault,
  NotificationStormFault,
  ReorderFault,
  TruncateFault,
  UnsolicitedFault,
} from './faults/fault-rule.js';
export type {
  PlatformBehaviour,
  ResolvedPlatformBehaviour,
} from './platform/platform-behaviour.js';
export type {
  PlatformAgentCounters,
  PlatformCounters,
  PlatformHandlerError,
} from './platform/platform-counters.js';
export type {
  ClockSnapshot,
  NotificationSubscription,
  PerformanceSnapshot,
  PlatformStateSnapshot,
  ResetSnapshot,
  SensorSnapshot,
  VoltageSnapshot,
} from './platform/platform-snapshot.js';
export type { PeerFrameContext, PeerFrameHandler } from './peer-port/frame-kind-registry.js';
export type { PeerFrame, PeerFrameBatch, PeerFrameReaderOptions } from './peer-port/peer-frame.js';
export type {
  PeerPortConnectOptions,
  PeerPortConnectionStats,
  PeerPortPathTarget,
  PeerPortTarget,
  PeerPortTcpTarget,
} from './peer-port/peer-port-connection.js';
export type {
  PeerPortTransportConfig,
  PeerPortTransportOptions,
} from './peer-port/peer-port-transport.js';
export type {
  PeerPortAddress,
  PeerPortEvent,
  PeerPortLogEntry,
  PeerPortOptions,
  PeerPortPathAddress,
  PeerPortTcpAddress,
} from './peer-port/peer-port.js';
export type { ScmiPlatformOptions } from './platform/scmi-platform.js';
export type {
  PlatformVendorCommand,
  PlatformVendorProtocol,
  PlatformVendorReply,
  PlatformVendorRequest,
} from './protocols/vendor/platform-vendor-protocol.js';

export { createDefaultPlatformConfig } from './config/default-platform-config.js';
export { loadPlatformConfig } from './config/load-platform-config.js';
export { validatePlatformConfig } from './config/validate-platform-config.js';
export { PlatformError } from './errors/platform-error.js';
export { FaultInjector } from './faults/fault-injector.js';
export { registerFrameKind } from './peer-port/frame-kind-registry.js';
export {
  MAX_CLOSE_REASON,
  PEER_FRAME_HEADER_SIZE,
  PeerFrameKind,
  decodeCloseReason,
  encodeCloseFrame,
  PeerFrameReader,
  encodePeerFrame,
} from './peer-port/peer-frame.js';
export { PeerPort, startPeerPort } from './peer-port/peer-port.js';
export { peerPortTransportModule } from './peer-port/peer-port-transport-module.js';
export { PeerPortConnection, connectPeerPort } from './peer-port/peer-port-connection.js';
export {
  PEER_PORT_TRANSPORT_NAME,
  createPeerPortTransport,
  peerPortTransport,
} from './peer-port/peer-port-transport.js';
export { resolvePlatformBehaviour } from './platform/platform-behaviour.js';
export { ScmiPlatform } from './platform/scmi-platform.js';
export { BaseMessageId, BaseNotificationId } from './protocols/base/base-message-id.js';
export { ClockMessageId, ClockNotificationId } from './protocols/clock/clock-message-id.js';
export {
  PERF_FAST_CHANNEL_LEVEL_GET_OFFSET,
  PERF_FAST_CHANNEL_LEVEL_SET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_GET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_SET_OFFSET,
  PERF_FAST_CHANNEL_SLOT_SIZE,
} from './protocols/performance/performance-fast-channel-layout.js';
export {
  PerformanceMessageId,
  PerformanceNotificationId,
} from './protocols/performance/performance-message-id.js';
export { PowerMessageId, PowerNotificationId } from './protocols/power/power-message-id.js';
export { ResetMessageId, ResetNotificationId } from './protocols/reset/reset-message-id.js';
export { SensorMessageId, SensorNotificationId } from './protocols/sensor/sensor-message-id.js';
export { PROTOCOL_ID_OF } from './protocols/protocol-names.js';
export { sensorReading } from './protocols/sensor/sensor-reading.js';
export {
  SystemPowerMessageId,
  SystemPowerNotificationId,
} from './protocols/system-power/system-power-message-id.js';
export { VoltageMessageId } from './protocols/voltage/voltage-message-id.js';
export { SeededRandom } from './random/seeded-random.js';
