/**
 * The SCMI messaging engine: wire codec, errors, clocks, transfers and tokens, the channel RX
 * guard, the transport plugin contract, the platform-side contract, the protocol-driver API, the
 * Base protocol, agent probe/remove and DI.
 *
 * @packageDocumentation
 */
import 'reflect-metadata';

export type { AgentChannelOptions, AgentConfig, AgentOptions } from './agent/agent-config.js';
export type {
  AgentDiagnostics,
  AgentEvents,
  ChannelDiagnostics,
  ChannelLoss,
  ChannelLossListener,
  PoolStats,
  RemoveOptions,
} from './agent/scmi-agent.js';
export type {
  BadMessageReason,
  ChannelConfig,
  ChannelDirection,
  ChannelSetup,
  CompletionMode,
  DeviceSetup,
  RxSink,
  Transport,
  TransportChannel,
  TransportDescriptor,
} from './channel/transport.js';
export type { Clock, ClockTimerOptions, TimerHandle } from './clock/clock.js';
export type { DeadlineLane, DeadlineNode } from './clock/deadline-queue.js';
export type { VirtualClockOptions } from './clock/virtual-clock.js';
export type { ChannelStats } from './diagnostics/channel-counters.js';
export type { ScmiLogger } from './diagnostics/logger.js';
export type { Doorbell } from './doorbell/doorbell.js';
export type { DoorbellInterceptor } from './doorbell/same-thread-doorbell.js';
export type { MessageRef } from './errors/scmi-error.js';
export type {
  FaultRuleEntry,
  FaultRuleGate,
  FaultRuleIdentity,
  FaultRuleListOptions,
  FaultRuleState,
} from './faults/fault-rule-list.js';
export type {
  NotificationStats,
  ScmiEventDescriptor,
  ScmiEventFilter,
  ScmiEventWait,
  ScmiNotification,
  ScmiNotificationHandler,
  ScmiNotifyOutcome,
  ScmiSubscribeOptions,
  ScmiWaitOptions,
} from './notification/notification-hub.js';
export type {
  PlatformAgentLink,
  PlatformConnection,
  ScmiPlatformPort,
} from './platform/platform-port.js';
export type {
  BaseAttributes,
  BaseErrorReport,
  ScmiAgentInfo,
  ScmiDiscoveryFailure,
  ScmiDiscoveryStep,
  ScmiPlatformInfo,
} from './protocol/base/base-protocol.js';
export type {
  CallOptions,
  MultiPartCounts,
  MultiPartSpec,
  PayloadSource,
  ProtocolDriver,
  ProtocolHandle,
  ProtocolSubscribeOptions,
  ProtocolVersionSource,
  TransactOptions,
  XferOps,
} from './protocol/protocol-handle.js';
export type { XferOwner, XferState } from './transfer/xfer.js';
export type { ScmiHeader } from './wire/header.js';
export type { DecodedMsg, DecodedMsgResponse } from './wire/msg-layout.js';
export type { ServeWorkerOptions, WorkerHandlers } from './worker/worker-entry.js';
export type { StartWorkerOptions } from './worker/worker-host.js';

export { RevokedError } from '@scmi-ts/devres';
export {
  channelFor,
  isRecord,
  optionKeys,
  refuseUnknownKeys,
  unknownKeyError,
  validateAgentConfig,
} from './agent/agent-config.js';
export { createAgent } from './agent/create-agent.js';
export { ScmiAgent } from './agent/scmi-agent.js';
export { RxGuard } from './channel/rx-guard.js';
export { MAX_TIMER_MS, RealClock } from './clock/clock.js';
export { DeadlineQueue } from './clock/deadline-queue.js';
export { VirtualClock } from './clock/virtual-clock.js';
export { coreModule } from './di/core-module.js';
export { CLOCK, LOGGER, PROTOCOL_DRIVER, TRANSPORT } from './di/tokens.js';
export { ChannelCounters } from './diagnostics/channel-counters.js';
export { silentLogger } from './diagnostics/logger.js';
export { TRACE_CHANNELS } from './diagnostics/trace.js';
export {
  SameThreadDoorbell,
  createSameThreadDoorbellPair,
} from './doorbell/same-thread-doorbell.js';
export { SharedDoorbell, type SharedDoorbellOptions } from './doorbell/shared-doorbell.js';
export {
  ScmiConfigError,
  ScmiError,
  ScmiMalformedError,
  ScmiShutdownError,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
} from './errors/scmi-error.js';
export { describeArg, formatValue } from './errors/format-value.js';
export { isAbortSignal } from './protocol/abort-watch.js';
export { FaultRuleList } from './faults/fault-rule-list.js';
export {
  SCMI_HEADER_RESERVED_MASK,
  SCMI_TOKEN_COUNT,
  ScmiMessageType,
  buildHeader,
  headerDefect,
  headerMessageId,
  headerProtocolId,
  headerToken,
  headerType,
  isCommandHeader,
  replyHeaderDefect,
  packHeader,
  sameCommandHeader,
  unpackHeader,
} from './wire/header.js';
export {
  MSG_HEADER_SIZE,
  MSG_STATUS_SIZE,
  decodeMsg,
  decodeMsgResponse,
  encodeMsg,
  encodeMsgResponse,
  readI32,
  readU32,
  writeU32,
} from './wire/msg-layout.js';
export {
  ScmiIoMem,
  ScmiMemoryMap,
  type ScmiMemoryLocation,
  type ScmiMemoryRegion,
} from './memory/memory-map.js';
export { NotificationHub, refusedForSure } from './notification/notification-hub.js';
export { mulberry32, mulberry32Mix } from './random/mulberry32.js';
export {
  BASE_ERROR_EVENT,
  BaseMessageId,
  BaseProtocol,
  baseProtocolDriver,
  decodeBaseErrorEvent,
  discoverPlatform,
} from './protocol/base/base-protocol.js';
export { NotificationBuffer } from './transfer/notification-buffer.js';
export { TokenAllocator, type TokenSequence } from './transfer/token-allocator.js';
export { Xfer } from './transfer/xfer.js';
export { XferPool, type GiveUpWatch } from './transfer/xfer-pool.js';
export { PayloadReader, PayloadWriter, decodeAsciiz } from './wire/payload.js';
export {
  CommonMessageId,
  SCMI_VENDOR_PROTOCOL_BASE,
  ScmiProtocolId,
  scmiProtocolName,
} from './wire/protocol-id.js';
export { ScmiStatus, isKnownScmiStatus, scmiStatusName } from './wire/status.js';
export { serveWorker } from './worker/worker-entry.js';
export {
  WorkerHost,
  callForId,
  isWorkerGone,
  resolveWorkerEntry,
  startWorker,
} from './worker/worker-host.js';
