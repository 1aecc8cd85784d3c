/**
 * SCMI over the OP-TEE SCMI pseudo trusted application: a TEE client API modelled on Linux's
 * (`TeeContext`, `TeeSession`, shared memory, typed TEE errors), the normal world's OP-TEE driver
 * over an OP-TEE wire (shared memory and doorbells, in one thread or across threads), an emulated
 * OP-TEE with the SCMI PTA and its SCMI server (the platform-side backend, wire faults included),
 * and the agent-side transport (`'optee'`: SMT and MSG channels, polling, no P2A).
 *
 * @packageDocumentation
 */
export type {
  OpteeDriverOptions,
  OpteeDriverStats,
  TeeReturnInterceptor,
} from './driver/optee-driver.js';
export type { OpteeWorkerWire } from './driver/optee-worker-wire.js';
export type {
  EmulatedOpteeHost,
  EmulatedOpteeHostOptions,
} from './emulated/emulated-optee-host.js';
export type { EmulatedOpteeOptions, EmulatedOpteeStats } from './emulated/emulated-optee.js';
export type {
  BusyChannelFault,
  HangUntilCancelFault,
  OpteeWireFault,
  OpteeWireFaultAction,
  OpteeWireFaultKind,
  OpteeWireFaultMatch,
  OutputSizeFault,
  SmtStatusFault,
  TeeResultFault,
} from './emulated/optee-wire-fault.js';
export type { ScmiMsgServerStats } from './emulated/scmi-msg-server.js';
export type { ScmiPtaStats } from './emulated/scmi-pta.js';
export type { TeeAllocOptions, TeeOpenSessionOptions } from './tee/tee-context.js';
export type { TeeCallResult, TeeDriver } from './tee/tee-driver.js';
export type { TeeMemrefParam, TeeNoneParam, TeeParam, TeeValueParam } from './tee/tee-param.js';
export type {
  TeeCallOptions,
  TeeInvokeOptions,
  TeeInvokeResult,
  TeeSubmitOptions,
} from './tee/tee-session.js';
export type {
  OpteeChannelInfo,
  OpteeChannelMode,
  OpteeChannelStats,
} from './transport/optee-channel.js';
export type {
  OpteeChannelConfig,
  OpteeTransportConfig,
  ResolvedOpteeChannelConfig,
  ResolvedOpteeTransportConfig,
} from './transport/optee-config.js';
export type { OpteeTransportDiagnostics } from './transport/optee-transport.js';
export type {
  OpteeWireChannel,
  OpteeWireChannelLayout,
  OpteeWireOptions,
} from './wire/optee-wire-layout.js';
export type { OpteeWireSide, SameThreadOpteeWire } from './wire/optee-wire.js';

export { opteeTransportModule } from './di/optee-transport-module.js';
export { OpteeDriver } from './driver/optee-driver.js';
export { openOpteeWorkerWire } from './driver/optee-worker-wire.js';
export { createEmulatedOpteeHost } from './emulated/emulated-optee-host.js';
export { EmulatedOptee } from './emulated/emulated-optee.js';
export { OpteeWireFaults } from './emulated/optee-wire-fault.js';
export { TeeContext, openTeeContext } from './tee/tee-context.js';
export { TeeError } from './tee/tee-error.js';
export { TeeLogin } from './tee/tee-login.js';
export { TEE_NUM_PARAMS, TeeParamType, teeMemref, teeValue } from './tee/tee-param.js';
export { TeeOrigin, TeeResult, teeOriginName, teeResultName } from './tee/tee-result.js';
export { TeeSession } from './tee/tee-session.js';
export { TeeSharedMemory } from './tee/tee-shared-memory.js';
export { formatTeeUuid, parseTeeUuid } from './tee/tee-uuid.js';
export { opteeTransportConfig } from './transport/optee-config.js';
export { OPTEE_TRANSPORT_DESCRIPTOR, OpteeTransport } from './transport/optee-transport.js';
export { OpteeWireLayout } from './wire/optee-wire-layout.js';
export {
  OpteeWireEnd,
  allocateOpteeWire,
  createSameThreadOpteeWire,
  openOpteeWireEnd,
} from './wire/optee-wire.js';
export {
  OPTEE_MSG_BUFFER_MIN_SIZE,
  PTA_SCMI_CAPS_MASK,
  PTA_SCMI_UUID,
  PtaScmiCaps,
  PtaScmiCommand,
  SCMI_OPTEE_MAX_MSG_SIZE,
  SCMI_SEC_PAYLOAD_SIZE,
  SCMI_SHMEM_MAX_PAYLOAD_SIZE,
  SMT_BUF_SLOT_SIZE,
} from './wire/pta-scmi.js';
export {
  SMT_FLAGS,
  SMT_FLAG_INTR_ENABLED,
  SMT_HEADER,
  SMT_HEADER_SIZE,
  SMT_LENGTH,
  SMT_PAYLOAD,
  SMT_STATUS,
  SMT_STATUS_ERROR,
  SMT_STATUS_FREE,
  smtRead,
  smtWrite,
} from './wire/smt-layout.js';
