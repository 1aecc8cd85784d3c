import {
  ScmiTransportError,
  type ChannelSetup,
  type Clock,
  type DeviceSetup,
  type RxSink,
  type TimerHandle,
} from '@scmi-ts/core';
import {
  VIRTIO_ID_SCMI,
  VIRTIO_SCMI_MAX_PENDING,
  VirtioFeature,
  VirtioStatus,
  featureMask,
  hasFeature,
} from '../layout/virtio-constants.js';
import { VIRTIO_MAGIC, VirtioDevicePresence, VirtioRegister } from '../layout/wire-layout.js';
import { GuestMemoryAllocator } from '../memory/guest-memory-allocator.js';
import { DriverVirtqueue, type UsedRingDefect } from '../ring/driver-virtqueue.js';
import type { ResolvedVirtioTransportConfig } from '../transport/virtio-transport-config.js';
import type { VirtioScmiWire, VirtioWireDoorbells } from '../wire/virtio-scmi-wire.js';
import { CmdqChannel } from './cmdq-channel.js';
import { EventqChannel } from './eventq-channel.js';
import type { VirtioChannelRecord, VirtioDriverDiagnostics } from './virtio-driver-diagnostics.js';

interface AckWaiter {
  readonly sequence: number;
  readonly resolve: (status: number | undefined) => void;
  readonly timer: TimerHandle;
}

/**
 * The driver of one virtio-scmi device (Linux `scmi_vio_probe` + the virtio core's handshake): it
 * claims the driver end of a wire, negotiates features, sets the queues up, and owns what both
 * channels share — the guest-memory allocator, the two {@link DriverVirtqueue}s, the doorbells and
 * the device reset at teardown. Core registers it in the device's devres (from the transport's
 * `setupDevice`) before any channel, so its quiesce step — the reset — runs after every channel has
 * quiesced, and its release after every channel was freed:
 *
 * 1. channels quiesce (their RX guards close; the cmdq's transfers call `markTxDone`);
 * 2. the driver writes status 0 and waits until the device acknowledges the reset (or the device
 *    end is closed): from then on the device touches no buffer;
 * 3. the channels are freed and reclaim every buffer, those the device still held included,
 *    exactly once; without an acknowledgement they leave those buffers to the device (counted).
 *
 * @internal Created by the transport's `setupDevice`; not exported from the package.
 */
export class VirtioScmiDriver {
  /** The wire. */
  public readonly wire: VirtioScmiWire;
  /** The validated configuration. */
  public readonly config: ResolvedVirtioTransportConfig;
  /** The agent name. */
  public readonly agent: string;
  /** The clock of every timer. */
  public readonly clock: Clock;
  /** The allocator of message buffers. */
  public readonly memory: GuestMemoryAllocator;
  /** The wire's driver diagnostics. */
  public readonly diagnostics: VirtioDriverDiagnostics;
  #doorbells: VirtioWireDoorbells | undefined;
  #features = 0n;
  #cmdq: DriverVirtqueue | undefined;
  #eventq: DriverVirtqueue | undefined;
  #cmdqChannel: CmdqChannel | undefined;
  #eventqChannel: EventqChannel | undefined;
  #ack: AckWaiter | undefined;
  /** The probe's abort signal: the handshake stops waiting for the device when it fires. */
  readonly #signal: AbortSignal | undefined;
  #live = false;
  #resetAcknowledged = false;
  #closed = false;

  private constructor(config: ResolvedVirtioTransportConfig, setup: DeviceSetup) {
    this.wire = config.wire;
    this.config = config;
    this.agent = setup.agent;
    this.clock = setup.clock;
    this.#signal = setup.signal;
    this.diagnostics = config.wire.driverDiagnostics;
    const layout = config.wire.layout;
    this.memory = new GuestMemoryAllocator(layout.guestMemory, layout.guestMemoryBytes);
  }

  /**
   * Claims the wire's driver end, registers the driver in `setup.devres` (quiesce: reset the
   * device; release: close the doorbells), and runs the handshake up to DRIVER_OK.
   *
   * @throws ScmiTransportError `E_VIRTIO_WIRE_CLAIMED` (wire already used), `E_VIRTIO_NO_DEVICE`
   * (no virtio-scmi device on the wire), `E_VIRTIO_FEATURES` (no VERSION_1, or FEATURES_OK refused),
   * `E_VIRTIO_HANDSHAKE` (a step not acknowledged in time, or DEVICE_NEEDS_RESET).
   */
  public static async attach(
    setup: DeviceSetup,
    config: ResolvedVirtioTransportConfig,
  ): Promise<VirtioScmiDriver> {
    const driver = new VirtioScmiDriver(config, setup);
    driver.#doorbells = config.wire.claimDriverEnd({ pollWindowUs: config.pollWindowUs });
    setup.devres.add({
      name: 'virtio device',
      value: driver,
      quiesce: (d) => d.#resetDevice(),
      release: (d) => {
        d.#release();
      },
    });
    driver.#doorbells.notify.listen(() => {
      driver.#onConfigSignal();
    });
    driver.#doorbells.interrupt.listen(() => {
      driver.#onUsedBuffers();
    });
    await driver.#handshake();
    return driver;
  }

  /** Features negotiated with the device. */
  public get features(): bigint {
    return this.#features;
  }

  /** Whether P2A_CHANNELS was negotiated (the eventq exists). */
  public get p2a(): boolean {
    return hasFeature(this.#features, VirtioFeature.SCMI_P2A_CHANNELS);
  }

  /** True from DRIVER_OK until the reset. */
  public get live(): boolean {
    return this.#live;
  }

  /**
   * True once the device acknowledged the reset (or its end was closed): the driver may reclaim
   * every buffer.
   */
  public get resetAcknowledged(): boolean {
    return this.#resetAcknowledged;
  }

  /**
   * @internal Whether a buffer the device still holds may be freed now: only once the device
   * acknowledged the reset. Counts it as reclaimed, or as leaked (left to the device) when not.
   */
  public reclaimHeldBuffer(): boolean {
    if (!this.#resetAcknowledged) {
      this.diagnostics.leakedBuffers++;
      return false;
    }
    this.diagnostics.reclaimedBuffers++;
    return true;
  }

  /**
   * @internal A channel's virtqueue broke (see {@link DriverVirtqueue.broken}): counts one
   * `invalid` bad message on the channel's sink, records what broke it on the channel's record and
   * counts the virtqueue — once per virtqueue.
   */
  public recordBroken(record: VirtioChannelRecord, sink: RxSink, defect: UsedRingDefect): void {
    if (record.broken !== undefined) return;
    sink.badMessage('invalid');
    record.broken = defect;
    this.diagnostics.brokenVirtqueues++;
  }

  /** Notifies the device (a queue notification; the device looks at every queue). */
  public kick(): void {
    this.#doorbells?.notify.ring();
  }

  /**
   * Sets up the cmdq channel (A2P channel 0).
   *
   * @throws ScmiTransportError `E_VIRTIO_CHANNEL` when it exists already or the device is not live.
   */
  public openCmdq(setup: ChannelSetup): CmdqChannel {
    const vq = this.#cmdq;
    if (vq === undefined || !this.#live || this.#cmdqChannel !== undefined) {
      throw new ScmiTransportError(
        'E_VIRTIO_CHANNEL',
        `${this.agent}: the cmdq cannot be set up now`,
      );
    }
    const channel = new CmdqChannel(this, vq, setup);
    this.#cmdqChannel = channel;
    return channel;
  }

  /**
   * Sets up the eventq channel (P2A channel 0).
   *
   * @throws ScmiTransportError `E_NOT_SUPPORTED` without P2A_CHANNELS; `E_VIRTIO_CHANNEL` when it
   * exists already or the device is not live.
   */
  public openEventq(setup: ChannelSetup): EventqChannel {
    if (!this.p2a) {
      throw new ScmiTransportError(
        'E_NOT_SUPPORTED',
        `${this.agent}: VIRTIO_SCMI_F_P2A_CHANNELS was not negotiated: no eventq`,
      );
    }
    const vq = this.#eventq;
    if (vq === undefined || !this.#live || this.#eventqChannel !== undefined) {
      throw new ScmiTransportError(
        'E_VIRTIO_CHANNEL',
        `${this.agent}: the eventq cannot be set up now`,
      );
    }
    const channel = new EventqChannel(this, vq, setup);
    this.#eventqChannel = channel;
    return channel;
  }

  // ---- handshake -----------------------------------------------------------------------------

  async #handshake(): Promise<void> {
    const r = this.wire.registers;
    const d = this.diagnostics;
    d.state = 'negotiating';
    if (
      r.read(VirtioRegister.MAGIC) !== VIRTIO_MAGIC ||
      r.read(VirtioRegister.DEVICE_ID) !== VIRTIO_ID_SCMI
    ) {
      throw this.#fail('E_VIRTIO_NO_DEVICE', 'the wire holds no virtio-scmi device');
    }
    if (this.wire.devicePresence !== VirtioDevicePresence.ATTACHED) {
      throw this.#fail('E_VIRTIO_NO_DEVICE', 'no device is attached to the wire');
    }
    // VIRTIO 1.2 §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK.
    // The reset is complete only when the device reads back status 0 (VIRTIO 1.2 §2.4: the driver
    // SHOULD consider it done when it reads 0; Linux `vp_reset` waits for that read).
    const afterReset = await this.#writeStatus(0, 'reset');
    if (afterReset !== 0) {
      throw this.#fail(
        'E_VIRTIO_HANDSHAKE',
        `the device did not complete the reset (status 0x${afterReset.toString(16)} read back, 0 expected)`,
      );
    }
    await this.#writeStatus(VirtioStatus.ACKNOWLEDGE, 'ACKNOWLEDGE');
    await this.#writeStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER, 'DRIVER');
    const offered = r.readFeatures(
      VirtioRegister.DEVICE_FEATURES_LOW,
      VirtioRegister.DEVICE_FEATURES_HIGH,
    );
    if (!hasFeature(offered, VirtioFeature.VERSION_1)) {
      throw this.#fail(
        'E_VIRTIO_FEATURES',
        'the device does not offer VIRTIO_F_VERSION_1 (legacy devices are not supported)',
      );
    }
    const f = this.config.features;
    let wanted = featureMask(VirtioFeature.VERSION_1);
    if (f.p2a) wanted |= featureMask(VirtioFeature.SCMI_P2A_CHANNELS);
    if (f.eventIdx) wanted |= featureMask(VirtioFeature.RING_EVENT_IDX);
    if (f.indirectDesc) wanted |= featureMask(VirtioFeature.RING_INDIRECT_DESC);
    // A driver SHOULD accept both when offered (VIRTIO 1.2 §6.1, "Reserved Feature Bits"; a device
    // MAY refuse to work without ACCESS_PLATFORM), as Linux keeps them (`vring_transport_features`):
    // they cost nothing here (see VirtioFeature).
    wanted |=
      featureMask(VirtioFeature.ACCESS_PLATFORM) | featureMask(VirtioFeature.ORDER_PLATFORM);
    // SHARED_MEMORY is never asked for: this driver has no use for the statistics regions.
    const accepted = wanted & offered;
    r.writeFeatures(
      VirtioRegister.DRIVER_FEATURES_LOW,
      VirtioRegister.DRIVER_FEATURES_HIGH,
      accepted,
    );
    const base = VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER;
    const status = await this.#writeStatus(base | VirtioStatus.FEATURES_OK, 'FEATURES_OK');
    if ((status & VirtioStatus.FEATURES_OK) === 0) {
      throw this.#fail(
        'E_VIRTIO_FEATURES',
        'the device refused the features (FEATURES_OK not set)',
      );
    }
    this.#features = accepted;
    d.features = accepted;
    const eventIdx = hasFeature(accepted, VirtioFeature.RING_EVENT_IDX);
    const cmdqRing = this.wire.cmdqRing(this.config.cmdqSize);
    cmdqRing.clear();
    this.#cmdq = new DriverVirtqueue(cmdqRing, eventIdx);
    r.write(VirtioRegister.CMDQ_NUM, this.config.cmdqSize);
    r.write(VirtioRegister.CMDQ_READY, 1);
    if (this.p2a) {
      const eventqRing = this.wire.eventqRing(this.config.eventqSize);
      eventqRing.clear();
      this.#eventq = new DriverVirtqueue(eventqRing, eventIdx);
      r.write(VirtioRegister.EVENTQ_NUM, this.config.eventqSize);
      r.write(VirtioRegister.EVENTQ_READY, 1);
    }
    const ok = await this.#writeStatus(
      base | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK,
      'DRIVER_OK',
    );
    if ((ok & VirtioStatus.DEVICE_NEEDS_RESET) !== 0 || (ok & VirtioStatus.DRIVER_OK) === 0) {
      throw this.#fail('E_VIRTIO_HANDSHAKE', 'the device refused DRIVER_OK (DEVICE_NEEDS_RESET)');
    }
    this.#live = true;
    d.state = 'live';
  }

  #fail(code: string, message: string): ScmiTransportError {
    this.diagnostics.state = 'failed';
    // FAILED added to the status the device holds, not written alone: the driver MUST NOT clear
    // a device status bit (VIRTIO 1.2 §2.1.1); Linux's virtio_add_status reads, ORs and writes.
    const held = this.wire.registers.read(VirtioRegister.DEVICE_STATUS);
    this.wire.registers.write(VirtioRegister.STATUS_REQUEST, held | VirtioStatus.FAILED);
    this.wire.registers.increment(VirtioRegister.STATUS_SEQUENCE);
    this.kick();
    return new ScmiTransportError(code, `${this.agent}: ${message}`);
  }

  /**
   * Writes the device status and waits for the device to act on it; resolves with the status the
   * device reads back.
   *
   * @throws ScmiTransportError `E_VIRTIO_HANDSHAKE` when it is not acknowledged in time, the
   * device end closed, or the probe's signal fired.
   */
  async #writeStatus(status: number, step: string): Promise<number> {
    const acked = await this.#request(status, this.config.handshakeTimeoutMs, this.#signal);
    if (acked === undefined && this.#signal?.aborted === true) {
      throw this.#fail('E_VIRTIO_HANDSHAKE', `${step} abandoned: the probe was aborted`);
    }
    if (acked === undefined) {
      throw this.#fail(
        'E_VIRTIO_HANDSHAKE',
        `the device did not acknowledge ${step} within ${this.config.handshakeTimeoutMs} ms`,
      );
    }
    return acked;
  }

  /** Writes a status request and waits for its acknowledgement: the device status, or undefined (timeout, device gone). */
  #request(status: number, timeoutMs: number, signal?: AbortSignal): Promise<number | undefined> {
    // The handshake's steps pass the probe's signal; the teardown's reset does not: it must be
    // written, and waited for, however the probe ended (buffers are reclaimed only after it).
    // Aborted already: no request written, none to wait for.
    if (signal?.aborted === true) return Promise.resolve(undefined);
    const r = this.wire.registers;
    r.write(VirtioRegister.STATUS_REQUEST, status);
    const sequence = r.increment(VirtioRegister.STATUS_SEQUENCE);
    return new Promise<number | undefined>((settle) => {
      // The probe's abort ends the wait as the timeout would (the caller reads which it was).
      const abandon = (): void => {
        if (this.#ack?.sequence !== sequence) return;
        this.#ack.timer.cancel();
        this.#ack = undefined;
        settle(undefined);
      };
      const resolve = (acked: number | undefined): void => {
        signal?.removeEventListener('abort', abandon);
        settle(acked);
      };
      const timer = this.clock.setTimeout(() => {
        if (this.#ack?.sequence === sequence) this.#ack = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#ack = { sequence, resolve, timer };
      signal?.addEventListener('abort', abandon, { once: true });
      this.kick();
      // The device of a shared wire may have answered already.
      this.#onConfigSignal();
    });
  }

  /**
   * The device signalled a configuration change: a status acknowledgement, its end closed, or
   * DEVICE_NEEDS_RESET (VIRTIO 1.2 §2.1.2) — then the device is no longer live: new commands,
   * those in flight and those waiting for their delayed response fail at once with
   * `E_VIRTIO_DEVICE`.
   */
  #onConfigSignal(): void {
    const r = this.wire.registers;
    // A device that needs a reset, or whose end closed (it will never answer again), is no longer
    // driven: new commands fail at once instead of waiting out the RX timeout.
    if (
      this.#live &&
      ((r.read(VirtioRegister.DEVICE_STATUS) & VirtioStatus.DEVICE_NEEDS_RESET) !== 0 ||
        this.#deviceClosed())
    ) {
      this.#live = false;
      this.diagnostics.state = 'failed';
      this.#cmdqChannel?.deviceFailed();
      this.#eventqChannel?.deviceFailed();
    }
    const waiter = this.#ack;
    if (waiter === undefined) return;
    const gone = this.wire.devicePresence === VirtioDevicePresence.CLOSED;
    if (!gone && r.read(VirtioRegister.STATUS_ACK) !== waiter.sequence) return;
    this.#ack = undefined;
    waiter.timer.cancel();
    waiter.resolve(gone ? undefined : r.read(VirtioRegister.DEVICE_STATUS));
  }

  /** Used buffers came back: each channel drains its queue (inside its own RX guard). */
  #onUsedBuffers(): void {
    this.#cmdqChannel?.onUsedBuffers();
    this.#eventqChannel?.onUsedBuffers();
  }

  // ---- teardown ------------------------------------------------------------------------------

  /**
   * The devres quiesce step: every channel has quiesced (they are newer), so no callback runs into
   * core any more; reset the device and wait for the acknowledgement before anything is reclaimed.
   */
  async #resetDevice(): Promise<void> {
    const d = this.diagnostics;
    this.#live = false;
    d.state = 'resetting';
    if (this.wire.devicePresence !== VirtioDevicePresence.ATTACHED) {
      // No device (never attached, or its end closed): nothing can touch the buffers.
      this.#resetAcknowledged = true;
    } else {
      const status = await this.#request(0, this.config.resetTimeoutMs);
      // Re-read after the wait: the device end may have closed meanwhile.
      this.#resetAcknowledged = status === 0 || this.#deviceClosed();
      if (!this.#resetAcknowledged) d.resetTimeouts++;
    }
    // What the device returned and no channel read is dropped and counted here. Acknowledged, the
    // rings are forgotten and the buffers reclaimed; not acknowledged, the buffers stay with the
    // device and what it returned by the end of the wait is counted all the same (what it may
    // write after that, nothing reads).
    // Each queue's two counts from one read of its used index: not acknowledged, the device may
    // still publish between two reads.
    for (const vq of [this.#cmdq, this.#eventq]) {
      if (vq === undefined) continue;
      const { unread, uncounted } = vq.unreadUsedNow();
      d.uncountedAtReset += uncounted;
      d.unreadAtReset += unread;
      if (this.#resetAcknowledged) vq.reset();
    }
    d.state = 'reset';
  }

  #deviceClosed(): boolean {
    return this.wire.devicePresence === VirtioDevicePresence.CLOSED;
  }

  /** The devres release step: the channels were freed; close the doorbells. */
  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#live = false;
    const waiter = this.#ack;
    this.#ack = undefined;
    waiter?.timer.cancel();
    waiter?.resolve(undefined);
    this.#doorbells?.notify.close();
    this.#doorbells?.interrupt.close();
    this.diagnostics.state = 'closed';
  }
}

/**
 * Messages the cmdq of `size` entries carries at once: two descriptors each (a readable request,
 * a writable response), at most 1023 (`VIRTIO_SCMI_MAX_PENDING`: the 1024 tokens less one).
 *
 * @example
 * ```ts
 * cmdqMessages(128); // 64
 * cmdqMessages(4096); // 1023
 * ```
 */
export function cmdqMessages(size: number): number {
  return Math.min(Math.floor(size / 2), VIRTIO_SCMI_MAX_PENDING);
}
