/**
 * The SCMI mailbox transport: SMT shared memory areas with mailbox doorbells (Linux
 * `transports/mailbox.c` + `shmem.c`). Both ends of the wire: the agent-side transport
 * ({@link mailboxTransport}, bound by {@link mailboxTransportModule}) and the platform-side
 * {@link SmtResponder}, over one SMT layout; mailbox controllers for one thread (virtual time) or
 * across a worker thread.
 *
 * @packageDocumentation
 */
export type {
  MailboxChannel,
  MailboxClient,
  MailboxController,
  MailboxControllerStats,
  MailboxRemoteEnd,
  MailboxTxDoneMethod,
} from './mailbox/mailbox-controller.js';
export type { SameThreadMailboxControllerOptions } from './mailbox/same-thread-mailbox-controller.js';
export type { SharedMailboxControllerOptions } from './mailbox/shared-mailbox-controller.js';
export type { SmtPeerFrameContext } from './peer/smt-peer-frame.js';
export type { SmtFaultLogEntry } from './platform/smt-fault-injector.js';
export type {
  EarlyFreeFault,
  HostileLengthFault,
  NoFreeFault,
  SmtFaultAction,
  SmtFaultKind,
  SmtFaultMatch,
  SmtFaultRule,
  SpuriousDoorbellFault,
  StuckBusyFault,
} from './platform/smt-fault-rule.js';
export type { SmtResponderCounters, SmtResponderOptions } from './platform/smt-responder.js';
export type {
  SmtResponderStats,
  SmtWorkerOpenRequest,
  SmtWorkerService,
  SmtWorkerWire,
  SmtWorkerWireOptions,
} from './platform/smt-worker.js';
export type {
  SmtChannelSpec,
  SmtNodeOptions,
  SmtWireLayout,
  SmtWireLayoutOptions,
} from './smt/smt-wire-layout.js';
export type {
  MailboxTransportConfig,
  MailboxTransportOptions,
  ResolvedMailboxTransportConfig,
} from './transport/mailbox-transport.js';
export type {
  MailboxWire,
  MonitoredMailboxWire,
  SmtChannelReport,
  SmtPlatformEnd,
} from './wire/mailbox-wire.js';
export type {
  SameThreadMailboxWire,
  SameThreadMailboxWireOptions,
} from './wire/same-thread-mailbox-wire.js';
export type {
  SharedMailboxWire,
  SharedMailboxWireOptions,
  SharedMailboxWireSpec,
} from './wire/shared-mailbox-wire.js';

export { mailboxTransportModule } from './di/mailbox-transport-module.js';
export { SameThreadMailboxController } from './mailbox/same-thread-mailbox-controller.js';
export {
  SharedMailboxController,
  SharedMailboxRemote,
} from './mailbox/shared-mailbox-controller.js';
export {
  SMT_PEER_FRAME_KIND,
  SMT_PEER_MAX_AREA,
  createSmtPeerFrameHandler,
  processSmtArea,
} from './peer/smt-peer-frame.js';
export { SmtFaultInjector } from './platform/smt-fault-injector.js';
export { validateSmtFaultRule } from './platform/smt-fault-rule.js';
export { SmtResponder } from './platform/smt-responder.js';
export { createSmtWorkerHandlers, openSmtWorkerWire } from './platform/smt-worker.js';
export {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_DEFAULT_AREA_SIZE,
  SMT_FLAGS_OFFSET,
  SMT_FLAG_INTR_ENABLED,
  SMT_HEADER_OFFSET,
  SMT_HEADER_SIZE,
  SMT_LENGTH_OFFSET,
  SMT_PAYLOAD_OFFSET,
  SMT_STATUS_OFFSET,
  SmtArea,
} from './smt/smt-layout.js';
export { createSmtWireLayout } from './smt/smt-wire-layout.js';
export { createMailboxTransport, mailboxTransport } from './transport/mailbox-transport.js';
export { SmtWireMonitor } from './wire/mailbox-wire.js';
export { createSameThreadMailboxWire } from './wire/same-thread-mailbox-wire.js';
export { createSharedMailboxWire, openSharedPlatformEnd } from './wire/shared-mailbox-wire.js';
