import {
  ScmiTransportError,
  SharedDoorbell,
  createSameThreadDoorbellPair,
  type Clock,
  type Doorbell,
  type SameThreadDoorbell,
  type SharedDoorbellOptions,
} from '@scmi-ts/core';
import { SplitRing } from '../layout/split-ring.js';
import type { DeviceMemory } from '../ring/device-virtqueue.js';
import { splitRingLayout } from '../layout/split-ring-layout.js';
import { VIRTIO_ID_SCMI } from '../layout/virtio-constants.js';
import { VirtioRegisters } from '../layout/virtio-registers.js';
import {
  VIRTIO_INTERRUPT_CONFIG,
  VIRTIO_MAGIC,
  VirtioDevicePresence,
  VirtioRegister,
  computeWireLayout,
  type WireLayout,
  type WireLayoutOptions,
} from '../layout/wire-layout.js';
import { VirtioDriverDiagnostics } from '../driver/virtio-driver-diagnostics.js';

/** How the two ends of a wire signal each other. */
export type VirtioWireMode = 'same-thread' | 'shared';

/**
 * A wire as plain data, to hand the device end to a worker (`postMessage` / `workerData`: the
 * `SharedArrayBuffer` is shared, not copied). Reopen it with {@link VirtioScmiWire.open}.
 */
export interface VirtioScmiWireHandle {
  /** The shared buffer. */
  readonly sab: SharedArrayBuffer;
  /** What the layout was computed from. */
  readonly options: WireLayoutOptions;
}

/** One end's doorbells: `notify` and `interrupt` as seen from that end. */
export interface VirtioWireDoorbells {
  /**
   * Driver → device (queue notifications and status writes) and, the other way, device → driver
   * configuration-change signals (status acknowledgements).
   */
  readonly notify: Doorbell;
  /** Device → driver used-buffer notifications (the interrupt line of the queues). */
  readonly interrupt: Doorbell;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([0x0102]).buffer)[0] === 0x02;

function assertLittleEndianHost(): void {
  if (!LITTLE_ENDIAN) {
    throw new ScmiTransportError(
      'E_VIRTIO_ENDIAN',
      'the virtio wire uses typed views of little-endian (VERSION_1) structures: a big-endian host is not supported',
    );
  }
}

/**
 * A zeroed shared buffer of the `bytes` the wire's layout needs (at most 4 GiB: the layout bounds
 * it).
 *
 * @throws ScmiTransportError `E_VIRTIO_WIRE` (the engine's error as `cause`) when the buffer cannot
 *   be allocated: the memory is not available, or `SharedArrayBuffer` is not (a browser page that
 *   is not cross-origin isolated).
 */
function allocateWireBuffer(bytes: number): SharedArrayBuffer {
  try {
    return new SharedArrayBuffer(bytes);
  } catch (cause) {
    throw new ScmiTransportError(
      'E_VIRTIO_WIRE',
      `allocating the ${bytes}-byte shared buffer of the wire failed: ${String(cause)}`,
      { cause },
    );
  }
}

/**
 * The virtio-scmi "wire" that whoever wires both ends (a test, the demo, a worker fixture) creates
 * first and hands to both: one `SharedArrayBuffer` holding a register file, the doorbell regions,
 * the cmdq and eventq split rings and the guest memory for message buffers (see
 * {@link computeWireLayout}), plus the doorbells between the ends.
 *
 * - {@link VirtioScmiWire.sameThread}: both ends in this thread; the doorbells deliver as tasks on
 *   the given clock (a `VirtualClock` makes every interleaving deterministic).
 * - {@link VirtioScmiWire.shared}: the device end runs in another thread; the doorbells are
 *   `SharedDoorbell`s inside the buffer. Give {@link VirtioScmiWire.handle} to the other thread and
 *   reopen it there with {@link VirtioScmiWire.open}.
 *
 * A wire serves one driver and one device for its whole life (like one boot of a machine): each
 * end claims its side once, across threads. The host must be little-endian (the VERSION_1 layout is
 * read through typed views).
 *
 * @example
 * ```ts
 * const wire = VirtioScmiWire.sameThread(clock, { cmdqSize: 64 });
 * const device = new VirtioScmiDevice(wire, { platform, agentId: 1, clock });
 * const agent = await createAgent(container, { transport: 'virtio', transportConfig: { wire } });
 * ```
 */
export class VirtioScmiWire {
  /** The shared buffer. */
  public readonly sab: SharedArrayBuffer;
  /** Where everything lies in it. */
  public readonly layout: WireLayout;
  /** How the ends signal each other. */
  public readonly mode: VirtioWireMode;
  /** The register file. */
  public readonly registers: VirtioRegisters;
  /**
   * What the driver end records about itself for tests and tools (teardown, reclaimed buffers,
   * channel counters that outlive a failed probe); only meaningful on the driver's thread.
   */
  public readonly driverDiagnostics = new VirtioDriverDiagnostics();
  readonly #options: WireLayoutOptions;
  readonly #pairs:
    | {
        notify: [SameThreadDoorbell, SameThreadDoorbell];
        interrupt: [SameThreadDoorbell, SameThreadDoorbell];
      }
    | undefined;
  #driverTaken = false;
  #deviceTaken = false;

  private constructor(
    sab: SharedArrayBuffer,
    options: WireLayoutOptions,
    mode: VirtioWireMode,
    clock: Clock | undefined,
    initialise: boolean,
  ) {
    assertLittleEndianHost();
    this.layout = computeWireLayout(options);
    if (sab.byteLength < this.layout.bytes) {
      throw new ScmiTransportError(
        'E_VIRTIO_WIRE',
        `the wire needs ${this.layout.bytes} bytes, the buffer has ${sab.byteLength}`,
      );
    }
    this.sab = sab;
    this.#options = options;
    this.mode = mode;
    this.registers = new VirtioRegisters(sab);
    if (initialise) {
      const r = this.registers;
      r.write(VirtioRegister.MAGIC, VIRTIO_MAGIC);
      r.write(VirtioRegister.VERSION, 2);
      r.write(VirtioRegister.DEVICE_ID, VIRTIO_ID_SCMI);
      r.write(VirtioRegister.VENDOR_ID, 0x53434d49); // "SCMI"
      r.write(VirtioRegister.CMDQ_NUM_MAX, this.layout.cmdqSize);
      r.write(VirtioRegister.EVENTQ_NUM_MAX, this.layout.eventqSize);
    } else if (this.registers.read(VirtioRegister.MAGIC) !== VIRTIO_MAGIC) {
      throw new ScmiTransportError('E_VIRTIO_WIRE', 'the buffer does not hold a virtio wire');
    }
    this.#pairs =
      clock === undefined
        ? undefined
        : {
            notify: createSameThreadDoorbellPair(clock),
            interrupt: createSameThreadDoorbellPair(clock),
          };
  }

  /**
   * A wire whose two ends live in this thread; their doorbells deliver as tasks on `clock`.
   *
   * @throws ScmiConfigError for invalid sizes (see {@link computeWireLayout}), among them a wire
   *   larger than 4 GiB (`guestMemoryBytes`: what a 32-bit descriptor address reaches);
   *   ScmiTransportError `E_VIRTIO_WIRE` when its `SharedArrayBuffer` cannot be allocated (the
   *   engine's error as `cause`), `E_VIRTIO_ENDIAN` on a big-endian host.
   */
  public static sameThread(clock: Clock, options: WireLayoutOptions = {}): VirtioScmiWire {
    const sab = allocateWireBuffer(computeWireLayout(options).bytes);
    return new VirtioScmiWire(sab, options, 'same-thread', clock, true);
  }

  /**
   * A wire whose ends may live in different threads (doorbells over the buffer). Hand
   * {@link VirtioScmiWire.handle} to the other thread.
   *
   * @throws ScmiConfigError for invalid sizes (see {@link computeWireLayout}), among them a wire
   *   larger than 4 GiB; ScmiTransportError `E_VIRTIO_WIRE` when its `SharedArrayBuffer` cannot be
   *   allocated (the engine's error as `cause`), `E_VIRTIO_ENDIAN` on a big-endian host.
   */
  public static shared(options: WireLayoutOptions = {}): VirtioScmiWire {
    const sab = allocateWireBuffer(computeWireLayout(options).bytes);
    return new VirtioScmiWire(sab, options, 'shared', undefined, true);
  }

  /**
   * Reopens a shared wire from its handle, in another thread.
   *
   * @throws ScmiTransportError `E_VIRTIO_WIRE` when the handle does not describe a wire.
   */
  public static open(handle: VirtioScmiWireHandle): VirtioScmiWire {
    if (Object.prototype.toString.call(handle.sab) !== '[object SharedArrayBuffer]') {
      throw new ScmiTransportError('E_VIRTIO_WIRE', 'a wire handle needs a SharedArrayBuffer');
    }
    return new VirtioScmiWire(handle.sab, handle.options, 'shared', undefined, false);
  }

  /** The wire as plain data, for another thread. */
  public get handle(): VirtioScmiWireHandle {
    return { sab: this.sab, options: this.#options };
  }

  /** The presence of the device end, as the device last wrote it. */
  public get devicePresence(): VirtioDevicePresence {
    const value = this.registers.read(VirtioRegister.DEVICE_PRESENCE);
    if (value === 1) return VirtioDevicePresence.ATTACHED;
    return value === 2 ? VirtioDevicePresence.CLOSED : VirtioDevicePresence.ABSENT;
  }

  /**
   * The guest memory of the wire as a device end reads and writes it (the bounds every descriptor
   * is checked against, and views of the whole shared buffer): one object per call, for a device
   * end's `DeviceVirtqueue`s to share.
   *
   * @example
   * ```ts
   * const cmdq = new DeviceVirtqueue(wire.cmdqRing(size), wire.deviceMemory(), { indirect: false, eventIdx: false });
   * ```
   */
  public deviceMemory(): DeviceMemory {
    const layout = this.layout;
    return {
      start: layout.guestMemory,
      end: layout.guestMemory + layout.guestMemoryBytes,
      bytes: new Uint8Array(this.sab),
      view: new DataView(this.sab),
    };
  }

  /** The cmdq ring laid out for `size` entries (at most the wire's cmdq size). */
  public cmdqRing(size: number): SplitRing {
    return new SplitRing(this.sab, splitRingLayout(this.layout.cmdqBase, size));
  }

  /** The eventq ring laid out for `size` entries (at most the wire's eventq size). */
  public eventqRing(size: number): SplitRing {
    return new SplitRing(this.sab, splitRingLayout(this.layout.eventqBase, size));
  }

  /**
   * Claims the driver end (once per wire, across threads) and returns its doorbells. On a shared
   * wire they are `SharedDoorbell`s built with `doorbell` (their poll window); a same-thread wire's
   * doorbells deliver as tasks and ignore it.
   *
   * @throws ScmiTransportError `E_VIRTIO_WIRE_CLAIMED` when a driver already claimed the wire;
   *   ScmiConfigError `pollWindowUs` for a bad poll window (the wire is then not claimed).
   */
  public claimDriverEnd(doorbell: SharedDoorbellOptions = {}): VirtioWireDoorbells {
    const ends = this.#ends('a', doorbell);
    if (
      this.#driverTaken ||
      Atomics.compareExchange(this.#word(VirtioRegister.DRIVER_PRESENCE), 0, 0, 1) !== 0
    ) {
      throw new ScmiTransportError(
        'E_VIRTIO_WIRE_CLAIMED',
        'this virtio wire already served a driver: create a new wire for a new agent',
      );
    }
    this.#driverTaken = true;
    return ends;
  }

  /**
   * Claims the device end (once per wire, across threads) and returns its doorbells; the device
   * then writes {@link VirtioDevicePresence.ATTACHED}. `doorbell` as for
   * {@link VirtioScmiWire.claimDriverEnd}.
   *
   * @throws ScmiTransportError `E_VIRTIO_WIRE_CLAIMED` when a device already claimed the wire;
   *   ScmiConfigError `pollWindowUs` for a bad poll window (the wire is then not claimed).
   */
  public claimDeviceEnd(doorbell: SharedDoorbellOptions = {}): VirtioWireDoorbells {
    const ends = this.#ends('b', doorbell);
    const presence = this.#word(VirtioRegister.DEVICE_PRESENCE);
    if (
      this.#deviceTaken ||
      Atomics.compareExchange(
        presence,
        0,
        VirtioDevicePresence.ABSENT,
        VirtioDevicePresence.ATTACHED,
      ) !== VirtioDevicePresence.ABSENT
    ) {
      throw new ScmiTransportError(
        'E_VIRTIO_WIRE_CLAIMED',
        'this virtio wire already has a device',
      );
    }
    this.#deviceTaken = true;
    return ends;
  }

  /**
   * Shared wires: records that the device end is gone without having closed — its worker exited
   * (crashed, or was terminated) while the device was attached. Does what the device's own close
   * would have: presence CLOSED, a configuration change signalled to the driver (which then fails
   * new commands at once with `E_VIRTIO_DEVICE` and, at removal, reclaims its buffers without
   * waiting for a reset acknowledgement nobody can give), and the device's doorbell sides closed.
   * Returns false, changing nothing, when no device is attached (it closed, or never came).
   *
   * @throws ScmiTransportError `E_VIRTIO_WIRE` on a same-thread wire (its device cannot vanish).
   * @example
   * ```ts
   * void host.exited.then(() => wire.markDeviceEndGone());
   * ```
   */
  public markDeviceEndGone(): boolean {
    if (this.#pairs !== undefined) {
      throw new ScmiTransportError(
        'E_VIRTIO_WIRE',
        'only a shared wire has its device end in another thread',
      );
    }
    const presence = this.#word(VirtioRegister.DEVICE_PRESENCE);
    if (
      Atomics.compareExchange(
        presence,
        0,
        VirtioDevicePresence.ATTACHED,
        VirtioDevicePresence.CLOSED,
      ) !== VirtioDevicePresence.ATTACHED
    ) {
      return false;
    }
    this.registers.or(VirtioRegister.INTERRUPT_STATUS, VIRTIO_INTERRUPT_CONFIG);
    const ends = this.#ends('b', { pollWindowUs: 0 });
    ends.notify.ring();
    ends.notify.close();
    ends.interrupt.close();
    return true;
  }

  /**
   * The doorbells of the end whose notify side is `notifySide` (`'a'` the driver, `'b'` the
   * device; the interrupt doorbell runs the other way): on a shared wire `SharedDoorbell`s built
   * with `options`, on a same-thread wire the ends of the task pairs (the option checked all the
   * same). Built before the end is claimed, so that a bad option claims nothing.
   */
  #ends(notifySide: 'a' | 'b', options: SharedDoorbellOptions): VirtioWireDoorbells {
    const pairs = this.#pairs;
    if (pairs !== undefined) {
      SharedDoorbell.checkPollWindow(options.pollWindowUs);
      return notifySide === 'a'
        ? { notify: pairs.notify[0], interrupt: pairs.interrupt[1] }
        : { notify: pairs.notify[1], interrupt: pairs.interrupt[0] };
    }
    const interruptSide = notifySide === 'a' ? 'b' : 'a';
    return {
      notify: new SharedDoorbell(this.sab, this.layout.notifyDoorbell, notifySide, options),
      interrupt: new SharedDoorbell(
        this.sab,
        this.layout.interruptDoorbell,
        interruptSide,
        options,
      ),
    };
  }

  /**
   * Same-thread wires only: while `interceptor` is set, every used-buffer notification toward the
   * driver is handed to it instead of being delivered (call `deliver` to deliver it; a delivery
   * made after the driver closed its end is dropped and counted in
   * {@link VirtioDriverDiagnostics.signalsAfterClose}). Status acknowledgements are not
   * intercepted: they belong to the device handshake, not to SCMI messages.
   *
   * @throws ScmiTransportError `E_VIRTIO_WIRE` on a shared wire.
   */
  public setUsedBufferInterceptor(interceptor: ((deliver: () => void) => void) | undefined): void {
    const pairs = this.#pairs;
    if (pairs === undefined) {
      throw new ScmiTransportError(
        'E_VIRTIO_WIRE',
        'only a same-thread wire can intercept its signals',
      );
    }
    const driverSide = pairs.interrupt[1];
    if (interceptor === undefined) {
      driverSide.setInterceptor(undefined);
      return;
    }
    const diagnostics = this.driverDiagnostics;
    driverSide.setInterceptor((deliver) => {
      interceptor(() => {
        if (driverSide.closed) diagnostics.signalsAfterClose++;
        deliver();
      });
    });
  }

  #word(reg: VirtioRegister): Int32Array {
    return new Int32Array(this.sab, reg, 1);
  }
}
