import type { ScmiPlatformPort, VirtualClock } from '@scmi-ts/core';
import {
  DescriptorChain,
  DeviceVirtqueue,
  POP_EMPTY,
  VirtioFeature,
  featureMask,
  VirtioRegister,
  VirtioStatus,
  type DeviceMemory,
  type VirtioScmiWire,
  type VirtioWireDoorbells,
} from '@scmi-ts/virtio-transport';

/**
 * A hand-driven device end for hostile-device tests: it acknowledges status writes (optionally
 * not the final reset), answers cmdq commands through a platform port like a plain device, and
 * lets the test write any used element it wants on either queue.
 */
export class ManualDevice {
  public readonly doorbells: VirtioWireDoorbells;
  public readonly memory: DeviceMemory;
  public cmdq: DeviceVirtqueue | undefined;
  public eventq: DeviceVirtqueue | undefined;
  /** eventq heads the driver made available, oldest first. */
  public readonly eventHeads: number[] = [];
  /** Whether to acknowledge a reset once the device went live. */
  public acknowledgeReset = true;
  /** Every status the driver wrote, in order. */
  public readonly statusWrites: number[] = [];
  /** Every status the driver wrote, with the feature and queue registers as they were then. */
  public readonly statusLog: {
    readonly status: number;
    readonly driverFeatures: bigint;
    readonly cmdqReady: number;
    readonly eventqReady: number;
  }[] = [];
  /** Whether to read back FEATURES_OK cleared (a device that refuses the driver's features). */
  public refuseFeatures = false;
  /** The status read back after a reset (0 for a device that completes it). */
  public statusAfterReset = 0;
  /** Whether to keep cmdq commands unanswered (their heads go to {@link ManualDevice.heldCommands}). */
  public holdCommands = false;
  /** cmdq heads taken while {@link ManualDevice.holdCommands} was set, oldest first. */
  public readonly heldCommands: number[] = [];
  #live = false;
  #sequence = 0;
  readonly #chain = new DescriptorChain(256);
  readonly #scratch = new Uint8Array(256);

  public constructor(
    public readonly wire: VirtioScmiWire,
    public readonly clock: VirtualClock,
    public readonly platform: ScmiPlatformPort,
  ) {
    this.doorbells = wire.claimDeviceEnd();
    wire.registers.writeFeatures(
      VirtioRegister.DEVICE_FEATURES_LOW,
      VirtioRegister.DEVICE_FEATURES_HIGH,
      featureMask(VirtioFeature.VERSION_1) | featureMask(VirtioFeature.SCMI_P2A_CHANNELS),
    );
    this.memory = wire.deviceMemory();
    platform.connect(1, {
      p2a: true,
      maxMsgSize: 128,
      respond: () => undefined,
      post: () => false,
    });
    this.doorbells.notify.listen(() => {
      this.#onKick();
    });
  }

  #onKick(): void {
    const r = this.wire.registers;
    const sequence = r.read(VirtioRegister.STATUS_SEQUENCE);
    if (sequence !== this.#sequence) {
      this.#sequence = sequence;
      const status = r.read(VirtioRegister.STATUS_REQUEST);
      this.statusWrites.push(status);
      this.statusLog.push({
        status,
        driverFeatures: r.readFeatures(
          VirtioRegister.DRIVER_FEATURES_LOW,
          VirtioRegister.DRIVER_FEATURES_HIGH,
        ),
        cmdqReady: r.read(VirtioRegister.CMDQ_READY),
        eventqReady: r.read(VirtioRegister.EVENTQ_READY),
      });
      if (status === 0 && this.#live && !this.acknowledgeReset) return;
      if ((status & VirtioStatus.DRIVER_OK) !== 0 && !this.#live) {
        this.#live = true;
        const features = { indirect: false, eventIdx: false };
        this.cmdq = new DeviceVirtqueue(
          this.wire.cmdqRing(r.read(VirtioRegister.CMDQ_NUM)),
          this.memory,
          features,
        );
        this.eventq = new DeviceVirtqueue(
          this.wire.eventqRing(r.read(VirtioRegister.EVENTQ_NUM)),
          this.memory,
          features,
        );
      }
      const readBack = status === 0 ? this.statusAfterReset : status;
      r.write(
        VirtioRegister.DEVICE_STATUS,
        this.refuseFeatures ? readBack & ~VirtioStatus.FEATURES_OK : readBack,
      );
      r.write(VirtioRegister.STATUS_ACK, sequence);
      this.doorbells.notify.ring();
    }
    const cmdq = this.cmdq;
    if (cmdq !== undefined) {
      for (let head = cmdq.pop(); head !== POP_EMPTY; head = cmdq.pop()) {
        if (this.holdCommands) {
          this.heldCommands.push(head);
          continue;
        }
        cmdq.walk(head, this.#chain);
        const n = cmdq.readChain(this.#chain, this.#scratch);
        const response = this.platform.handle(1, 0, this.#scratch.subarray(0, n));
        cmdq.pushUsed(
          head,
          response === undefined ? 0 : cmdq.writeChain(this.#chain, response, response.byteLength),
        );
      }
      if (cmdq.publishUsed()) this.doorbells.interrupt.ring();
    }
    const eventq = this.eventq;
    if (eventq !== undefined)
      for (let head = eventq.pop(); head !== POP_EMPTY; head = eventq.pop())
        this.eventHeads.push(head);
  }

  /** Returns eventq buffer `id` with `bytes` written into it and `len` claimed; notifies. */
  public event(id: number, bytes: Uint8Array, len = bytes.byteLength): void {
    const eventq = this.eventq as DeviceVirtqueue;
    if (eventq.walk(id, this.#chain) === undefined)
      eventq.writeChain(this.#chain, bytes, bytes.byteLength);
    eventq.pushUsed(id, len);
    eventq.publishUsed();
    this.doorbells.interrupt.ring();
  }

  /** Sets DEVICE_NEEDS_RESET in the device status and signals the driver (a configuration change). */
  public needsReset(): void {
    const r = this.wire.registers;
    r.write(
      VirtioRegister.DEVICE_STATUS,
      r.read(VirtioRegister.DEVICE_STATUS) | VirtioStatus.DEVICE_NEEDS_RESET,
    );
    this.doorbells.notify.ring();
  }

  /** Closes the device's doorbells without marking the wire closed (a device that hangs). */
  public hang(): void {
    this.doorbells.notify.close();
    this.doorbells.interrupt.close();
  }
}
