import { ScmiConfigError, SharedDoorbell, formatValue } from '@scmi-ts/core';
import { isQueueSize, splitRingBytes } from './split-ring-layout.js';
import { SCMI_MSG_OVERHEAD, VIRTIO_SCMI_MAX_MSG_SIZE } from './virtio-constants.js';

/**
 * Byte offsets of the 32-bit registers at the start of the shared buffer: a virtio-mmio-like
 * register file (VIRTIO 1.2 §4.2.2) reduced to what this device model needs. Each register is
 * written by one side only (noted per entry) and accessed with `Atomics`.
 */
export enum VirtioRegister {
  /** `0x74726976` ("virt"), written once when the wire is created. */
  MAGIC = 0x00,
  /** Register layout version (2, as virtio-mmio modern), written once. */
  VERSION = 0x04,
  /** Device id ({@link VIRTIO_ID_SCMI}), written once. */
  DEVICE_ID = 0x08,
  /** Vendor id, written once. */
  VENDOR_ID = 0x0c,
  /** Device: features offered, bits 0–31. */
  DEVICE_FEATURES_LOW = 0x10,
  /** Device: features offered, bits 32–63. */
  DEVICE_FEATURES_HIGH = 0x14,
  /** Driver: features accepted, bits 0–31. */
  DRIVER_FEATURES_LOW = 0x18,
  /** Driver: features accepted, bits 32–63. */
  DRIVER_FEATURES_HIGH = 0x1c,
  /** Driver: the status it writes (a request the device acts on). */
  STATUS_REQUEST = 0x20,
  /** Driver: sequence number of the last status request (incremented per write). */
  STATUS_SEQUENCE = 0x24,
  /** Device: the device status as the device reads it back (FEATURES_OK cleared if refused, 0 after a reset). */
  DEVICE_STATUS = 0x28,
  /** Device: sequence number of the last status request the device has acted on. */
  STATUS_ACK = 0x2c,
  /** Device: interrupt status bits (bit 0 used buffer, bit 1 configuration change). */
  INTERRUPT_STATUS = 0x30,
  /** Device: presence of the device end ({@link VirtioDevicePresence}). */
  DEVICE_PRESENCE = 0x34,
  /** Driver: 1 once a driver end has claimed the wire (a wire serves one driver for its life). */
  DRIVER_PRESENCE = 0x38,
  /** Device: maximum size of the cmdq (QueueNumMax of queue 0). */
  CMDQ_NUM_MAX = 0x40,
  /** Driver: size of the cmdq chosen by the driver (QueueNum of queue 0). */
  CMDQ_NUM = 0x44,
  /** Driver: 1 when the cmdq is set up (QueueReady of queue 0). */
  CMDQ_READY = 0x48,
  /** Device: maximum size of the eventq (QueueNumMax of queue 1). */
  EVENTQ_NUM_MAX = 0x50,
  /** Driver: size of the eventq chosen by the driver. */
  EVENTQ_NUM = 0x54,
  /** Driver: 1 when the eventq is set up. */
  EVENTQ_READY = 0x58,
}

/** Values of {@link VirtioRegister.DEVICE_PRESENCE}. */
export enum VirtioDevicePresence {
  /** No device end has attached to the wire yet. */
  ABSENT = 0,
  /** The device end is attached and serving. */
  ATTACHED = 1,
  /** The device end was closed: it no longer reads or writes the queues. */
  CLOSED = 2,
}

/** `INTERRUPT_STATUS` bit: a used buffer was returned. */
export const VIRTIO_INTERRUPT_USED_BUFFER = 1;
/** `INTERRUPT_STATUS` bit: the configuration (here: the device status) changed. */
export const VIRTIO_INTERRUPT_CONFIG = 2;

/** The magic value of {@link VirtioRegister.MAGIC}: "virt". */
export const VIRTIO_MAGIC = 0x74726976;

/** Bytes of the register file; the doorbell regions follow it. */
const REGISTER_BYTES = 0x80;

/**
 * Largest shared buffer of a wire, bytes: 4 GiB. Guest addresses are byte offsets in the buffer
 * and the driver writes them as 32-bit descriptor addresses (the high word stays 0, see
 * `SplitRing.writeDesc`), so a byte past 2^32 could not be addressed: a buffer allocated there
 * would be written at the truncated address instead. The bound covers the whole buffer (registers,
 * rings and guest memory), since every message buffer lies in the guest memory at its end.
 *
 * @example
 * ```ts
 * computeWireLayout({ guestMemoryBytes: VIRTIO_WIRE_MAX_BYTES }); // throws ScmiConfigError
 * ```
 */
export const VIRTIO_WIRE_MAX_BYTES = 2 ** 32;

/** What sizes the wire (see {@link computeWireLayout}). */
export interface WireLayoutOptions {
  /** Largest cmdq size the device offers (QueueNumMax), a power of two; default 256. */
  readonly cmdqSize?: number;
  /** Largest eventq size the device offers, a power of two; default 64. */
  readonly eventqSize?: number;
  /** Largest SCMI payload after the header, bytes; default 128. */
  readonly maxMsgSize?: number;
  /**
   * Bytes of guest memory for message buffers; default: exactly what a full cmdq and eventq need.
   * The whole wire, guest memory included, must fit in {@link VIRTIO_WIRE_MAX_BYTES} (4 GiB: what
   * a 32-bit descriptor address reaches).
   */
  readonly guestMemoryBytes?: number;
}

/**
 * The whole shared buffer of one virtio-scmi wire: register file, doorbell regions, the two queue
 * regions (each large enough for the largest queue size) and the guest memory that message
 * buffers are allocated from. Guest addresses in descriptors are byte offsets in the buffer; the
 * device accepts only buffers inside the guest memory region.
 */
export interface WireLayout {
  /** Total bytes of the shared buffer. */
  readonly bytes: number;
  /** Offset of the doorbell region the driver rings the device with (queue notifications, status writes). */
  readonly notifyDoorbell: number;
  /** Offset of the doorbell region the device rings the driver with (used-buffer notifications). */
  readonly interruptDoorbell: number;
  /** Offset of the cmdq region. */
  readonly cmdqBase: number;
  /** Largest cmdq size. */
  readonly cmdqSize: number;
  /** Offset of the eventq region. */
  readonly eventqBase: number;
  /** Largest eventq size. */
  readonly eventqSize: number;
  /** Largest SCMI payload after the header. */
  readonly maxMsgSize: number;
  /** Bytes of one message buffer: `maxMsgSize` + header + status (Linux `VIRTIO_SCMI_MAX_PDU_SIZE`). */
  readonly pduSize: number;
  /** Offset of guest memory. */
  readonly guestMemory: number;
  /** Bytes of guest memory. */
  readonly guestMemoryBytes: number;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Bytes of guest memory that a full cmdq (two buffers per message, Q/2 messages) and a full eventq
 * (one buffer per entry) need, each buffer 8-aligned.
 *
 * @example
 * ```ts
 * guestMemoryNeeded(64, 16, 128); // 32 messages × 2 × 136 + 16 × 136
 * ```
 */
export function guestMemoryNeeded(
  cmdqSize: number,
  eventqSize: number,
  maxMsgSize: number,
): number {
  const pdu = align(maxMsgSize + SCMI_MSG_OVERHEAD, 8);
  return (cmdqSize / 2) * 2 * pdu + eventqSize * pdu;
}

/**
 * Computes the layout of a wire.
 *
 * @throws ScmiConfigError (`E_CONFIG`, its `field` the option's name) when a queue size is not a
 *   power of two (cmdq ≥ 2), `maxMsgSize` is not an integer in 8 … 65536, or `guestMemoryBytes`
 *   is not an integer or is smaller than what full queues need; `guestMemoryBytes` too when the
 *   whole wire — the guest memory asked for, or by default what full queues of these sizes need —
 *   would exceed {@link VIRTIO_WIRE_MAX_BYTES} (4 GiB, what a 32-bit descriptor address reaches).
 * @example
 * ```ts
 * const layout = computeWireLayout({ cmdqSize: 64, eventqSize: 16 });
 * new SharedArrayBuffer(layout.bytes);
 * ```
 */
export function computeWireLayout(options: WireLayoutOptions = {}): WireLayout {
  const cmdqSize = options.cmdqSize ?? 256;
  const eventqSize = options.eventqSize ?? 64;
  const maxMsgSize = options.maxMsgSize ?? VIRTIO_SCMI_MAX_MSG_SIZE;
  if (!isQueueSize(cmdqSize) || cmdqSize < 2) {
    throw new ScmiConfigError(
      'cmdqSize',
      `must be a power of two in 2 … 32768, got ${formatValue(cmdqSize)}`,
    );
  }
  if (!isQueueSize(eventqSize)) {
    throw new ScmiConfigError(
      'eventqSize',
      `must be a power of two in 1 … 32768, got ${formatValue(eventqSize)}`,
    );
  }
  if (!Number.isInteger(maxMsgSize) || maxMsgSize < 8 || maxMsgSize > 65536) {
    throw new ScmiConfigError(
      'maxMsgSize',
      `must be an integer in 8 … 65536, got ${formatValue(maxMsgSize)}`,
    );
  }
  const asked = options.guestMemoryBytes;
  if (asked !== undefined && (!Number.isSafeInteger(asked) || asked < 0)) {
    throw new ScmiConfigError(
      'guestMemoryBytes',
      `must be a non-negative integer, got ${formatValue(asked)}`,
    );
  }
  const needed = guestMemoryNeeded(cmdqSize, eventqSize, maxMsgSize);
  const guestMemoryBytes = align(options.guestMemoryBytes ?? needed, 16);
  if (guestMemoryBytes < needed) {
    throw new ScmiConfigError(
      'guestMemoryBytes',
      `must be at least ${needed}, got ${formatValue(options.guestMemoryBytes)}`,
    );
  }
  const notifyDoorbell = REGISTER_BYTES;
  const interruptDoorbell = notifyDoorbell + SharedDoorbell.BYTES;
  const cmdqBase = align(interruptDoorbell + SharedDoorbell.BYTES, 16);
  const eventqBase = align(cmdqBase + splitRingBytes(cmdqSize), 16);
  const guestMemory = align(eventqBase + splitRingBytes(eventqSize), 16);
  if (guestMemory + guestMemoryBytes > VIRTIO_WIRE_MAX_BYTES) {
    const what =
      asked === undefined
        ? `full queues of these sizes need ${needed} bytes of guest memory`
        : `got ${asked}`;
    throw new ScmiConfigError(
      'guestMemoryBytes',
      `must be at most ${VIRTIO_WIRE_MAX_BYTES - guestMemory} (the wire is bounded to ${VIRTIO_WIRE_MAX_BYTES} bytes, what a 32-bit descriptor address reaches), ${what}`,
    );
  }
  return {
    bytes: guestMemory + guestMemoryBytes,
    notifyDoorbell,
    interruptDoorbell,
    cmdqBase,
    cmdqSize,
    eventqBase,
    eventqSize,
    maxMsgSize,
    pduSize: align(maxMsgSize + SCMI_MSG_OVERHEAD, 8),
    guestMemory,
    guestMemoryBytes,
  };
}
