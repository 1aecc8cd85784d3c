/**
 * SCMI protocol clients for the agent (Linux `drivers/firmware/arm_scmi/*.c`): one protocol
 * driver (core's `ProtocolDriver`) per protocol, bound by {@link protocolsModule}.
 *
 * @packageDocumentation
 */
export type {
  ClockConfigSet,
  ClockConfiguration,
  ClockInfo,
  ClockPermissions,
  ClockRateList,
  ClockRateNotification,
  ClockRateRange,
  ClockRateRounding,
  ClockRateSetOptions,
  ClockRateSetResult,
  ClockRates,
} from './clock/clock-protocol.js';
export {
  CLOCK_RATE_CHANGED,
  CLOCK_RATE_CHANGE_REQUESTED,
  ClockMessageId,
  ClockProtocol,
  clockProtocolDriver,
  decodeClockRateChangeRequested,
  decodeClockRateChanged,
} from './clock/clock-protocol.js';
export { DomainTable } from './common/domain-table.js';
export type { ProtocolEventHandler } from './common/events.js';
export { PROTOCOL_DRIVERS, protocolsModule } from './di/protocols-module.js';
export type {
  PerformanceAttributes,
  PerformanceDomainInfo,
  PerformanceLevel,
  PerformanceLevelChanged,
  PerformanceLevelReport,
  PerformanceLimits,
  PerformanceLimitsChanged,
  PerformanceLimitsReport,
  PerformancePowerEstimate,
  PerformancePowerScale,
} from './performance/performance-protocol.js';
export type {
  PerformanceDomainFastChannels,
  PerformanceFastChannel,
  PerformanceFastChannelDoorbell,
} from './performance/fast-channels.js';
export {
  PERFORMANCE_LEVEL_CHANGED,
  PERFORMANCE_LIMITS_CHANGED,
  PerformanceMessageId,
  PerformanceProtocol,
  decodePerformanceLevelChanged,
  decodePerformanceLimitsChanged,
  performanceProtocolDriver,
} from './performance/performance-protocol.js';
export type {
  PowerDomainInfo,
  PowerSetOptions,
  PowerStateFields,
  PowerStateNotification,
  PowerStatistics,
} from './power/power-protocol.js';
export {
  POWER_STATE_CHANGED,
  POWER_STATE_CHANGE_REQUESTED,
  POWER_STATE_CONTEXT_LOST,
  POWER_STATE_ID_MASK,
  POWER_STATE_OFF,
  POWER_STATE_ON,
  PowerMessageId,
  PowerProtocol,
  decodePowerStateNotification,
  parsePowerState,
  powerProtocolDriver,
  powerState,
} from './power/power-protocol.js';
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
export type {
  SensorAxisInfo,
  SensorConfigSettings,
  SensorConfigState,
  SensorInfo,
  SensorProtocolAttributes,
  SensorRangeAttributes,
  SensorReadOptions,
  SensorReading,
  SensorTripPointEvent,
  SensorTripPointMode,
  SensorUpdate,
  SensorUpdateInterval,
  SensorUpdateIntervalList,
  SensorUpdateIntervalRange,
  SensorUpdateIntervals,
} from './sensor/sensor-protocol.js';
export {
  SENSOR_MAX_AXES,
  SENSOR_TRIP_POINT_EVENT,
  SENSOR_UPDATE,
  SensorMessageId,
  SensorProtocol,
  decodeSensorTripPointEvent,
  decodeSensorUpdate,
  sensorProtocolDriver,
} from './sensor/sensor-protocol.js';
export { SensorUnit, sensorUnitSymbol, sensorValueText } from './sensor/sensor-unit.js';
export type {
  SystemPowerSetOptions,
  SystemPowerStateNotifier,
  SystemPowerStateSetSupport,
} from './system-power/system-power-protocol.js';
export {
  SYSTEM_POWER_GRACEFUL,
  SYSTEM_POWER_STATE_NOTIFIER,
  SYSTEM_POWER_STATE_VENDOR,
  SystemPowerMessageId,
  SystemPowerProtocol,
  SystemPowerState,
  decodeSystemPowerStateNotifier,
  systemPowerProtocolDriver,
} from './system-power/system-power-protocol.js';
export type {
  VoltageDomainInfo,
  VoltageLevelList,
  VoltageLevelRange,
  VoltageLevelSetOptions,
  VoltageLevelSetResult,
  VoltageLevels,
} from './voltage/voltage-protocol.js';
export {
  VOLTAGE_CONFIG_OFF,
  VOLTAGE_CONFIG_ON,
  VOLTAGE_CONFIG_VENDOR,
  VoltageMessageId,
  VoltageProtocol,
  voltageProtocolDriver,
} from './voltage/voltage-protocol.js';
