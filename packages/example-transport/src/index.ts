/**
 * The example transport, "msgq": the smallest complete SCMI transport, written to be copied.
 * MSG-layout messages carried as copied byte buffers over a two-way wire with a doorbell per
 * channel: the agent side ({@link msgqTransport}, bound by {@link msgqTransportModule}), the
 * platform side ({@link MsgqResponder}), and two wires — one thread on the injected clock
 * ({@link createSameThreadMsgqWire}) and across threads over a `MessagePort`
 * ({@link openMsgqPortEnd}).
 *
 * @packageDocumentation
 */
export type { MsgqResponderOptions } from './platform/msgq-responder.js';
export type { MsgqTransportConfig } from './transport/msgq-transport.js';
export type { MsgqEnd, MsgqReceiver } from './wire/msgq-end.js';
export type { MsgqPortEnd } from './wire/port-msgq-end.js';
export type { MsgqWireOptions, SameThreadMsgqWire } from './wire/same-thread-msgq-wire.js';

export { msgqTransportModule } from './di/msgq-transport-module.js';
export { MsgqResponder } from './platform/msgq-responder.js';
export { msgqTransport } from './transport/msgq-transport.js';
export { openMsgqPortEnd } from './wire/port-msgq-end.js';
export { createSameThreadMsgqWire } from './wire/same-thread-msgq-wire.js';
