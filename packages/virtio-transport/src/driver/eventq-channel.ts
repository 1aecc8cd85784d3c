import {
  RxGuard,
  ScmiMessageType,
  ScmiTransportError,
  headerType,
  type ChannelSetup,
  type NotificationBuffer,
  type TransportChannel,
  type Xfer,
} from '@scmi-ts/core';
import { VIRTIO_SCMI_MAX_EVENTQ_BUFFERS, VirtqDescFlag } from '../layout/virtio-constants.js';
import type { DriverVirtqueue, UsedElement } from '../ring/driver-virtqueue.js';
import { newChannelRecord, type VirtioChannelRecord } from './virtio-driver-diagnostics.js';
import type { VirtioScmiDriver } from './virtio-scmi-driver.js';

const WRITE = VirtqDescFlag.WRITE;
/** `#held` state of a buffer consumed in the current drain pass, made available when it ends. */
const REQUEUE = 2;

/**
 * The eventq as core's P2A channel 0 (Linux `scmi_vio_feed_vq_rx`, `virtio_fetch_notification`):
 * pre-filled with one device-writable buffer per entry; each used buffer is checked (an element
 * the driver made available, a length that fits the buffer and holds a header — and a status for a
 * delayed response), handed to core, and made available again as soon as core has consumed it
 * (`clearChannel`), or at once when it was rejected.
 *
 * @internal Created by {@link VirtioScmiDriver.openEventq}.
 */
export class EventqChannel implements TransportChannel {
  /** The eventq carries no commands. */
  public readonly maxInFlight = 0;
  readonly #driver: VirtioScmiDriver;
  readonly #vq: DriverVirtqueue;
  readonly #setup: ChannelSetup;
  readonly #guard = new RxGuard();
  readonly #record: VirtioChannelRecord;
  readonly #label: string;
  readonly #addr: Uint32Array;
  readonly #usedLen: Uint32Array;
  /**
   * 1 while the driver holds the buffer (between its return and its re-queue), REQUEUE while it
   * waits for the end of the drain pass to go back, 0 while the device holds it.
   */
  readonly #held: Uint8Array;
  /** Buffers consumed in the current drain pass, made available when it ends. */
  readonly #pending: number[] = [];
  #draining = false;
  readonly #u8: Uint8Array;
  readonly #u32: Uint32Array;
  readonly #i32: Int32Array;
  readonly #used: UsedElement = { id: 0, len: 0 };
  readonly #pdu: number;
  #requeued = false;
  #freed = false;
  /** {@link EventqChannel.#lost} is running. */
  #losing = false;
  /** A `#redrain` is scheduled and has not run yet: passes out of budget schedule one at most. */
  #redrainQueued = false;
  /**
   * The next pass after one that ran out of budget (see `#drainPass`); not a device callback, so a
   * channel quiesced or freed meanwhile is left alone and nothing is counted as refused.
   */
  readonly #redrain = (): void => {
    this.#redrainQueued = false;
    if (this.#freed || this.#guard.closed) return;
    this.onUsedBuffers();
  };

  /** @internal */
  public constructor(driver: VirtioScmiDriver, vq: DriverVirtqueue, setup: ChannelSetup) {
    this.#driver = driver;
    this.#vq = vq;
    this.#setup = setup;
    this.#label = `p2a:${setup.channel.id}`;
    const sab = driver.wire.sab;
    this.#u8 = new Uint8Array(sab);
    // Unsigned arithmetic on wire offsets (`/ 4`, `>>> 2`): a wire reaches 4 GiB, and a signed
    // shift turns an offset from 2^31 up negative.
    this.#u32 = new Uint32Array(sab, 0, sab.byteLength / 4);
    this.#i32 = new Int32Array(sab, 0, sab.byteLength / 4);
    this.#pdu = driver.wire.layout.pduSize;
    // One buffer per entry, up to Linux's cap; ids past it are never made available, so the
    // device returning one is refused as not in flight.
    const n = Math.min(vq.size, VIRTIO_SCMI_MAX_EVENTQ_BUFFERS);
    this.#addr = new Uint32Array(n);
    this.#usedLen = new Uint32Array(n);
    this.#held = new Uint8Array(n);
    this.#record = newChannelRecord(setup.counters);
    driver.diagnostics.channels.set(this.#label, this.#record);
    for (let i = 0; i < n; i++) {
      this.#addr[i] = driver.memory.allocate(this.#pdu);
      driver.diagnostics.buffersAllocated++;
      this.#held[i] = 1;
      this.#requeue(i);
    }
    vq.enableInterrupts();
    this.#kickIfNeeded();
  }

  /** The eventq carries no commands. @throws ScmiTransportError `E_VIRTIO_CHANNEL` always. */
  public send(): void {
    throw new ScmiTransportError('E_VIRTIO_CHANNEL', 'the eventq carries no commands');
  }

  /**
   * A used-buffer notification (from the driver's interrupt listener, shared with the cmdq). One
   * that finds the eventq idle (nothing returned) returns at once: it was the cmdq's.
   */
  public onUsedBuffers(): void {
    if (this.#vq.idle) return;
    if (!this.#guard.enter()) {
      // The interrupt is shared with the cmdq: refused here only if the eventq had something.
      this.#setup.counters.refusedAfterQuiesce += this.#vq.newlyUsed();
      return;
    }
    try {
      if (this.#freed)
        this.#driver.diagnostics.violations.push(`${this.#label}: used buffers handled after free`);
      this.#drain();
      this.#kickIfNeeded();
    } finally {
      this.#guard.exit();
    }
  }

  /**
   * Takes the used elements. Buffers go back to the device only when the pass ends: until then
   * none is in flight again, so a pass takes at most one element per buffer (queue-size elements:
   * a device that returns each buffer as soon as it is re-queued cannot keep one pass going), and
   * an element that returns the same buffer twice in a pass is refused as `not-in-flight` rather
   * than its stale bytes delivered twice. A pass also stops after twice the queue size of looks,
   * re-checks included (a device that moves the used index back and forth could otherwise keep
   * the re-check after enabling interrupts finding an element that `take` does not), and leaves the
   * rest to a new task, as the cmdq does. An element that proves the device corrupts the used
   * ring breaks the eventq (counted `invalid` once): nothing more is read or made available, so
   * notifications stop, and the commands waiting for their delayed response fail at once
   * (`E_VIRTIO_DEVICE`); the buffers the device holds go back at the reset.
   */
  #drain(): void {
    this.#draining = true;
    try {
      this.#drainPass();
    } finally {
      this.#draining = false;
      this.#flushRequeues();
    }
  }

  #drainPass(): void {
    const vq = this.#vq;
    if (vq.broken !== undefined) return;
    const el = this.#used;
    const sink = this.#setup.sink;
    // As the cmdq's pass: no notification per element until enableInterrupts ends it.
    vq.suspendInterrupts();
    for (let budget = 2 * vq.size; ; budget--) {
      if (budget === 0) {
        if (!this.#redrainQueued) {
          this.#redrainQueued = true;
          this.#setup.clock.schedule(this.#redrain);
        }
        return;
      }
      const taken = vq.take(el);
      if (taken === 'empty') {
        // Buffers came back meanwhile: take them, asking for no notification again (Linux
        // loops back to virtqueue_disable_cb).
        if (vq.enableInterrupts()) {
          vq.suspendInterrupts();
          continue;
        }
        return;
      }
      if (taken === 'bad-index' || taken === 'bad-id' || taken === 'not-in-flight') {
        this.#driver.recordBroken(this.#record, sink, taken);
        this.#lost(
          `the eventq is broken (the device corrupted its used ring: ${taken}); it is no longer used`,
        );
        return;
      }
      const id = el.id;
      this.#held[id] = 1;
      if (taken === 'oversize') {
        sink.badMessage('oversize');
        this.#requeue(id);
        continue;
      }
      const len = el.len;
      const header = len >= 4 ? (this.#u32[(this.#addr[id] as number) >>> 2] as number) : 0;
      // A notification needs its header; anything else core would take as a (delayed) response,
      // which needs its status too.
      if (len < 4 || (headerType(header) !== ScmiMessageType.NOTIFICATION && len < 8)) {
        sink.badMessage('invalid');
        this.#requeue(id);
        continue;
      }
      this.#usedLen[id] = len;
      sink.rx(header, id);
      // Core calls clearChannel after every rx; if it did not, the buffer goes back anyway.
      if (this.#held[id] === 1) this.#requeue(id);
    }
  }

  /**
   * Makes buffer `id` available again (at the end of the pass while draining); the driver keeps
   * it once the eventq is broken.
   */
  #requeue(id: number): void {
    if (this.#held[id] !== 1 || this.#vq.broken !== undefined) return;
    if (this.#draining) {
      this.#held[id] = REQUEUE;
      this.#pending.push(id);
      return;
    }
    this.#held[id] = 0;
    const addr = this.#addr[id] as number;
    // A header no notification or delayed response has (a command's): a buffer the device returns
    // without writing it is refused, not taken for the message it held before (as the cmdq does).
    this.#u32[addr >>> 2] = 0;
    this.#vq.ring.writeDesc(id, addr, this.#pdu, WRITE, 0);
    this.#vq.publish(id, this.#pdu);
    this.#requeued = true;
  }

  /** Makes available the buffers the pass consumed, in the order it consumed them. */
  #flushRequeues(): void {
    const pending = this.#pending;
    for (let i = 0; i < pending.length; i++) {
      const id = pending[i] as number;
      this.#held[id] = 1;
      this.#requeue(id);
    }
    pending.length = 0;
  }

  #kickIfNeeded(): void {
    if (!this.#requeued) return;
    this.#requeued = false;
    if (this.#vq.kickPrepare()) this.#driver.kick();
  }

  /** Copies a notification's payload (after the header); the length was checked. */
  public fetchNotification(buffer: NotificationBuffer, ctx: unknown): void {
    const id = ctx as number;
    buffer.receive(this.#u8, (this.#addr[id] as number) + 4, (this.#usedLen[id] as number) - 4);
  }

  /** Copies a delayed response (status, returns); the length was checked. */
  public fetchResponse(xfer: Xfer, ctx: unknown): void {
    const id = ctx as number;
    const addr = this.#addr[id] as number;
    xfer.receiveResponse(
      this.#i32[(addr + 4) >>> 2] as number,
      this.#u8,
      addr + 8,
      (this.#usedLen[id] as number) - 8,
    );
  }

  /** Makes the buffer available again (core consumed it). */
  public clearChannel(ctx: unknown): void {
    if (typeof ctx === 'number') this.#requeue(ctx);
  }

  /** Nothing to release: the eventq sends nothing. */
  public markTxDone(): void {
    // No transfer is ever sent on the eventq.
  }

  /**
   * The device needs a reset or its end closed: the commands waiting for their delayed response
   * fail now with `E_VIRTIO_DEVICE` (none will come).
   */
  public deviceFailed(): void {
    this.#lost('the virtio device is not live');
  }

  /**
   * No delayed response will come: through the RX guard, core fails the transfers waiting for
   * one, with `why` — after one more drain of the used ring unless it is broken (what the device
   * returned before it failed is delivered: in worker mode the configuration signal may overtake
   * the used-buffer interrupt). After quiesce there is nothing left to fail (core's shutdown failed
   * it).
   */
  #lost(why: string): void {
    // A drain below that breaks the eventq comes back here: the call running goes on.
    if (this.#losing) return;
    const guard = this.#guard;
    if (guard.closed || !guard.enter()) return;
    this.#losing = true;
    try {
      if (this.#vq.broken === undefined && !this.#freed) this.#drain();
      this.#setup.sink.failInFlight(
        new ScmiTransportError('E_VIRTIO_DEVICE', `${this.#setup.agent}: ${why}`),
      );
    } finally {
      this.#losing = false;
      guard.exit();
    }
  }

  /** Refuses callbacks (counting them) and waits for running ones. */
  public quiesce(): Promise<void> {
    return this.#guard.quiesce();
  }

  /**
   * Frees the buffers, after the driver's reset: those the device held are reclaimed (once) when it
   * acknowledged the reset, otherwise left to it and counted as leaked. Idempotent.
   */
  public free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#record.frees++;
    const d = this.#driver.diagnostics;
    for (let i = 0; i < this.#addr.length; i++) {
      if (this.#held[i] === 0 && !this.#driver.reclaimHeldBuffer()) continue;
      this.#held[i] = 1;
      this.#driver.memory.free(this.#addr[i] as number);
      d.buffersAllocated--;
      this.#record.buffersFreed++;
    }
  }
}
