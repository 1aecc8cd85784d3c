/**
 * The SCMI messaging engine: wire codec, errors, clocks, the channel RX guard, the transport
 * plugin contract and the platform-side contract.
 *
 * @packageDocumentation
 */
export type { Clock, TimerHandle } from './clock/clock.js';
export type { DeadlineLane, DeadlineNode } from './clock/deadline-queue.js';
export type { VirtualClockOptions } from './clock/virtual-clock.js';
export type { Doorbell } from './doorbell/doorbell.js';
export type { DoorbellInterceptor } from './doorbell/same-thread-doorbell.js';
export type { MessageRef } from './errors/scmi-error.js';
export type {
  PlatformAgentLink,
  PlatformConnection,
  ScmiPlatformPort,
} from './platform/platform-port.js';
export type { ScmiHeader } from './wire/header.js';
export type { DecodedMsg, DecodedMsgResponse } from './wire/msg-layout.js';
export type { ServeWorkerOptions, WorkerHandlers } from './worker/worker-entry.js';
export type { StartWorkerOptions } from './worker/worker-host.js';

export { RevokedError } from '@scmi-ts/devres';
export { RxGuard } from './channel/rx-guard.js';
export { RealClock } from './clock/clock.js';
export { DeadlineQueue } from './clock/deadline-queue.js';
export { VirtualClock } from './clock/virtual-clock.js';
export {
  SameThreadDoorbell,
  createSameThreadDoorbellPair,
} from './doorbell/same-thread-doorbell.js';
export { SharedDoorbell } from './doorbell/shared-doorbell.js';
export {
  ScmiConfigError,
  ScmiError,
  ScmiMalformedError,
  ScmiShutdownError,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
} from './errors/scmi-error.js';
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
  packHeader,
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
export { PayloadReader, PayloadWriter, decodeAsciiz } from './wire/payload.js';
export { CommonMessageId, ScmiProtocolId, scmiProtocolName } from './wire/protocol-id.js';
export { ScmiStatus, isKnownScmiStatus, scmiStatusName } from './wire/status.js';
export { serveWorker } from './worker/worker-entry.js';
export { WorkerHost, resolveWorkerEntry, startWorker } from './worker/worker-host.js';
