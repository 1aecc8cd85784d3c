/**
 * Numbers of the VIRTIO specification (v1.2/1.3) that both ends of the wire use: the SCMI device
 * chapter (`oasis-tcs/virtio-spec:device-types/scmi`), the split virtqueue (`split-ring.tex`), the
 * device status field and the reserved feature bits. Linux mirrors them in
 * `include/uapi/linux/virtio_scmi.h`, `virtio_ring.h` and `virtio_config.h`.
 */

/** Device id of the SCMI device (virtio-pci modern device id 0x1040 + 32 = 0x1060). */
export const VIRTIO_ID_SCMI = 32;

/** The virtqueues of an SCMI device, by index. */
export enum VirtioScmiQueue {
  /** Driver → device commands; each response comes back in the command's own buffer (A2P). */
  CMDQ = 0,
  /** Device → driver notifications and delayed responses (P2A); only with P2A_CHANNELS. */
  EVENTQ = 1,
}

/**
 * Feature bit numbers (bit n of the 64-bit feature word). Bits 0–23 are device specific (here:
 * SCMI), 24–40 are reserved for the queue and the transport.
 */
export const VirtioFeature = {
  /** `VIRTIO_SCMI_F_P2A_CHANNELS`: the device implements notifications or delayed responses (eventq). */
  SCMI_P2A_CHANNELS: 0,
  /** `VIRTIO_SCMI_F_SHARED_MEMORY`: statistics shared-memory regions (not used by this driver). */
  SCMI_SHARED_MEMORY: 1,
  /** `VIRTIO_F_INDIRECT_DESC`: descriptors may point to a table of descriptors. */
  RING_INDIRECT_DESC: 28,
  /** `VIRTIO_F_EVENT_IDX`: notification suppression by `used_event` / `avail_event`. */
  RING_EVENT_IDX: 29,
  /** `VIRTIO_F_VERSION_1`: a modern (1.x, little-endian) device; required by this device model. */
  VERSION_1: 32,
  /**
   * `VIRTIO_F_ACCESS_PLATFORM`: the device reaches memory through the platform's translation
   * (an IOMMU). Accepted when offered: the driver's addresses are offsets into the wire's guest
   * memory, which both ends see alike.
   */
  ACCESS_PLATFORM: 33,
  /**
   * `VIRTIO_F_ORDER_PLATFORM`: the ring accesses need the platform's memory ordering. Accepted
   * when offered: every index access is an `Atomics` operation (sequentially consistent).
   */
  ORDER_PLATFORM: 36,
} as const;

/**
 * The bit mask (a 64-bit `bigint`) of feature bit number `bit` (see {@link VirtioFeature}).
 *
 * @example
 * ```ts
 * const wanted = featureMask(VirtioFeature.VERSION_1) | featureMask(VirtioFeature.SCMI_P2A_CHANNELS);
 * ```
 */
export function featureMask(bit: number): bigint {
  return 1n << BigInt(bit);
}

/**
 * Whether the feature word `features` has bit number `bit`.
 *
 * @example
 * ```ts
 * if (!hasFeature(offered, VirtioFeature.VERSION_1)) throw new Error('legacy device');
 * ```
 */
export function hasFeature(features: bigint, bit: number): boolean {
  return (features & featureMask(bit)) !== 0n;
}

/** Bits of the device status field (`virtio_config.h`). */
export enum VirtioStatus {
  /** The guest found the device. */
  ACKNOWLEDGE = 1,
  /** The guest has a driver for it. */
  DRIVER = 2,
  /** The driver is set up and ready to drive the device. */
  DRIVER_OK = 4,
  /** The driver has acknowledged the features it understands; feature negotiation is complete. */
  FEATURES_OK = 8,
  /** The device hit an error it cannot recover from without a reset. */
  DEVICE_NEEDS_RESET = 64,
  /** Something went wrong in the guest; it gave up on the device. */
  FAILED = 128,
}

/** Flags of a split-ring descriptor (`struct virtq_desc.flags`). */
export enum VirtqDescFlag {
  /** The buffer continues at `next`. */
  NEXT = 1,
  /** Device-writable (otherwise device-readable). */
  WRITE = 2,
  /** `addr`/`len` point to a table of descriptors (only with `VIRTIO_F_INDIRECT_DESC`; never with NEXT). */
  INDIRECT = 4,
}

/** `VIRTQ_AVAIL_F_NO_INTERRUPT`: the driver does not want used-buffer notifications (a hint). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

/** `VIRTQ_USED_F_NO_NOTIFY`: the device does not want available-buffer notifications (a hint). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Largest queue size the split ring allows. */
export const VIRTQ_MAX_SIZE = 32768;

/** Bytes of one split-ring descriptor. */
export const VIRTQ_DESC_SIZE = 16;

/**
 * Largest SCMI message payload after the header, in bytes (Linux `VIRTIO_SCMI_MAX_MSG_SIZE`).
 */
export const VIRTIO_SCMI_MAX_MSG_SIZE = 128;

/**
 * Bytes of SCMI protocol overhead around a payload: header and status (Linux
 * `SCMI_MSG_MAX_PROT_OVERHEAD`), so a message buffer holds `maxMsgSize + 8` bytes (Linux
 * `VIRTIO_SCMI_MAX_PDU_SIZE`).
 */
export const SCMI_MSG_OVERHEAD = 8;

/** Default response timeout of virtio-scmi in ms, as Linux (`VIRTIO_MAX_RX_TIMEOUT_MS`). */
export const VIRTIO_SCMI_RX_TIMEOUT_MS = 60_000;

/** Most messages an agent may have pending (Linux `MSG_TOKEN_MAX`, 1024, minus one for the pool). */
export const VIRTIO_SCMI_MAX_PENDING = 1023;

/**
 * Most buffers the driver keeps on the eventq, whatever its size: 1024, as Linux's
 * `scmi_vio_probe` caps every virtqueue's messages at `MSG_TOKEN_MAX` ("Only %ld allowed to be
 * pending"), the eventq's buffers included.
 */
export const VIRTIO_SCMI_MAX_EVENTQ_BUFFERS = 1024;
