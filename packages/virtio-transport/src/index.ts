/**
 * virtio-scmi over split virtqueues: the agent-side transport (cmdq as A2P channel 0, eventq as
 * P2A channel 0), the platform-side device over core's platform contract, the one split-ring
 * layout both ends use, and wire-level fault injection.
 *
 * @packageDocumentation
 */
export type { WireLayout, WireLayoutOptions } from './layout/wire-layout.js';
export type { SplitRingLayout } from './layout/split-ring-layout.js';
export type { ChainDefect } from './ring/descriptor-chain.js';
export type { DeviceMemory } from './ring/device-virtqueue.js';
export type { UsedElement, UsedRingDefect, UsedTake } from './ring/driver-virtqueue.js';
export type {
  VirtioScmiWireHandle,
  VirtioWireDoorbells,
  VirtioWireMode,
} from './wire/virtio-scmi-wire.js';
export type { VirtioChannelRecord, VirtioDriverState } from './driver/virtio-driver-diagnostics.js';
export type {
  VirtioCompletionOrder,
  VirtioScmiDeviceOptions,
} from './device/virtio-scmi-device.js';
export type { VirtioBadChainReason, VirtioDeviceStats } from './device/virtio-device-stats.js';
export type {
  RemoteVirtioDevice,
  RemoteVirtioDeviceOptions,
  VirtioDeviceServer,
} from './device/remote-virtio-device.js';
export type { VirtioWireFaultKind, VirtioWireFaultRule } from './device/virtio-wire-fault.js';
export type {
  ResolvedVirtioTransportConfig,
  VirtioDriverFeatureOptions,
  VirtioTransportConfig,
} from './transport/virtio-transport-config.js';
export type { VirtioTransportOptions } from './transport/virtio-transport.js';

export { virtioTransportModule } from './di/virtio-transport-module.js';
export {
  VIRTIO_DEFAULT_MAX_MSG,
  VIRTIO_TRANSPORT_NAME,
  createVirtioTransport,
  virtioTransport,
} from './transport/virtio-transport.js';
export { validateVirtioTransportConfig } from './transport/virtio-transport-config.js';
export { VirtioScmiWire } from './wire/virtio-scmi-wire.js';
export { VirtioDriverDiagnostics } from './driver/virtio-driver-diagnostics.js';
export { VIRTIO_SCMI_DEVICE_FEATURES, VirtioScmiDevice } from './device/virtio-scmi-device.js';
export {
  VIRTIO_WORKER_METHODS,
  attachRemoteVirtioDevice,
  serveVirtioDevices,
} from './device/remote-virtio-device.js';
export { VIRTIO_WIRE_FAULT_KINDS, VirtioWireFaultInjector } from './device/virtio-wire-fault.js';
export {
  SCMI_MSG_OVERHEAD,
  VIRTIO_ID_SCMI,
  VIRTIO_SCMI_MAX_EVENTQ_BUFFERS,
  VIRTIO_SCMI_MAX_MSG_SIZE,
  VIRTIO_SCMI_MAX_PENDING,
  VIRTIO_SCMI_RX_TIMEOUT_MS,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_SIZE,
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  VirtioFeature,
  VirtioScmiQueue,
  VirtioStatus,
  VirtqDescFlag,
  featureMask,
  hasFeature,
} from './layout/virtio-constants.js';
export {
  VIRTIO_INTERRUPT_CONFIG,
  VIRTIO_INTERRUPT_USED_BUFFER,
  VIRTIO_MAGIC,
  VIRTIO_WIRE_MAX_BYTES,
  VirtioDevicePresence,
  VirtioRegister,
  computeWireLayout,
  guestMemoryNeeded,
} from './layout/wire-layout.js';
export {
  isQueueSize,
  splitRingBytes,
  splitRingLayout,
  vringNeedEvent,
} from './layout/split-ring-layout.js';
export { SplitRing } from './layout/split-ring.js';
export { VirtioRegisters } from './layout/virtio-registers.js';
export { DescriptorChain } from './ring/descriptor-chain.js';
export {
  DeviceVirtqueue,
  POP_BAD_INDEX,
  POP_EMPTY,
  VIRTIO_DEVICE_MAX_SEGMENTS,
} from './ring/device-virtqueue.js';
export { DriverVirtqueue } from './ring/driver-virtqueue.js';
export { GuestMemoryAllocator } from './memory/guest-memory-allocator.js';
