/**
 * The benchmark's floor: the same virtqueues (driver and device ends, the same wire, doorbells
 * and guest memory) moving the same bytes as an SCMI Base PROTOCOL_VERSION round trip — a 4-byte
 * request, a 12-byte response — with no SCMI on either side: no core engine, no platform.
 */
import type { Doorbell } from '@scmi-ts/core';
import { DescriptorChain } from '../../src/ring/descriptor-chain.js';
import { DeviceVirtqueue, POP_EMPTY } from '../../src/ring/device-virtqueue.js';
import { DriverVirtqueue, type UsedElement } from '../../src/ring/driver-virtqueue.js';
import { GuestMemoryAllocator } from '../../src/memory/guest-memory-allocator.js';
import {
  VirtioFeature,
  VirtioStatus,
  VirtqDescFlag,
  featureMask,
} from '../../src/layout/virtio-constants.js';
import { VIRTIO_INTERRUPT_USED_BUFFER, VirtioRegister } from '../../src/layout/wire-layout.js';
import type { VirtioScmiWire } from '../../src/wire/virtio-scmi-wire.js';

/**
 * How the floor's ends signal.
 *
 * - `as-answered`: the device returns each buffer as soon as it is answered, as this package's
 *   device does; the driver, after a drain that took buffers, looks again in a task with
 *   interrupts disabled, and enables them when it finds the queue empty — as this package's driver
 *   does with `pollAfterDrain`. Off by default there (with the doorbells' poll window the SCMI
 *   path is faster without it), but the floor keeps it: at depth 16 it is the faster way for the
 *   bare virtqueues, and the floor must not be slowed down by a choice the SCMI path made.
 * - `per-pass`, the classic way: the device returns the buffers of one pass over the queue
 *   together at its end; the driver enables interrupts after every drain.
 * - `streaming`: `as-answered`, and the device too looks again in a task after a pass that took
 *   buffers (notifications left disabled meanwhile). While both ends find work neither sleeps, so
 *   no doorbell rings: the most these virtqueues can move. This package's device does not do it.
 *
 * `as-answered` and `per-pass` make the floor of the issue's target (the faster of the two); the
 * benchmark prints `streaming` beside it.
 */
export type FloorPolicy = 'as-answered' | 'per-pass' | 'streaming';

/**
 * The device end of the floor: echoes each request's header with a SUCCESS status and a word,
 * notifying the driver when EVENT_IDX asks for it, with the interrupt status bit set first.
 * With `workNs` it also busies the thread that long per request before answering (a calibrated
 * loop, see {@link busyIterations}): a stand-in for the time a platform takes to handle a command,
 * which shows how the floor depends on it (the benchmark's `floor + platform time` and
 * `floor sensitivity` lines).
 */
export class FloorDevice {
  readonly #vq: DeviceVirtqueue;
  readonly #chain: DescriptorChain;
  readonly #scratch: Uint8Array;
  readonly #response = new Uint8Array(12);
  readonly #notify: Doorbell;
  readonly #interrupt: Doorbell;
  readonly #registers: VirtioScmiWire['registers'];
  readonly #eachAnswer: boolean;
  readonly #streaming: boolean;
  readonly #workIterations: number;
  #lookQueued = false;
  #closed = false;
  readonly #lookAgain = (): void => {
    this.#lookQueued = false;
    if (!this.#closed) this.#process();
  };

  public constructor(
    wire: VirtioScmiWire,
    cmdqSize: number,
    eventIdx: boolean,
    policy: FloorPolicy = 'as-answered',
    workNs = 0,
  ) {
    this.#workIterations = busyIterations(workNs);
    this.#eachAnswer = policy !== 'per-pass';
    this.#streaming = policy === 'streaming';
    const ends = wire.claimDeviceEnd();
    this.#registers = wire.registers;
    this.#notify = ends.notify;
    this.#interrupt = ends.interrupt;
    const layout = wire.layout;
    this.#vq = new DeviceVirtqueue(wire.cmdqRing(cmdqSize), wire.deviceMemory(), {
      indirect: false,
      eventIdx,
    });
    this.#chain = new DescriptorChain(cmdqSize);
    this.#scratch = new Uint8Array(layout.pduSize);
    this.#response.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
    this.#vq.enableNotifications();
    this.#notify.listen(() => {
      this.#process();
    });
  }

  #process(): void {
    const vq = this.#vq;
    const chain = this.#chain;
    let took = 0;
    for (;;) {
      const head = vq.pop();
      if (head === POP_EMPTY) {
        if (took > 0 && this.#streaming) {
          // With EVENT_IDX, leaving avail_event behind is what keeps the driver from notifying
          // (Linux's vhost_disable_notify writes nothing either).
          if (!this.#lookQueued) {
            this.#lookQueued = true;
            setImmediate(this.#lookAgain);
          }
          break;
        }
        if (vq.enableNotifications()) continue;
        break;
      }
      took++;
      if (head < 0 || vq.walk(head, chain) !== undefined) continue;
      vq.readChain(chain, this.#scratch);
      if (this.#workIterations > 0) busy(this.#workIterations);
      const r = this.#response;
      for (let i = 0; i < 4; i++) r[i] = this.#scratch[i] as number;
      vq.pushUsed(head, vq.writeChain(chain, r, 12));
      if (this.#eachAnswer) this.#publish();
    }
    this.#publish();
  }

  #publish(): void {
    if (this.#vq.publishUsed()) {
      this.#registers.or(VirtioRegister.INTERRUPT_STATUS, VIRTIO_INTERRUPT_USED_BUFFER);
      this.#interrupt.ring();
    }
  }

  /** Stops listening. */
  public close(): void {
    this.#closed = true;
    this.#notify.close();
    this.#interrupt.close();
  }
}

/** Settled once: `SETTLED.then(cb)` runs `cb` on a microtask (as the cmdq channel's kick). */
const SETTLED: Promise<void> = Promise.resolve();

let sink = 0;

/** Runs `iterations` rounds of a loop the optimiser cannot remove (each a few cycles). */
function busy(iterations: number): number {
  let x = sink;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 31) + i) | 0;
  sink = x;
  return x;
}

let nsPerIteration: number | undefined;

/**
 * How many rounds of {@link busy} take `ns` nanoseconds on this thread, calibrated once as the
 * floor's device calls it: many short calls, timed once the function is optimised (a single long
 * call would time unoptimised code, several times slower). A loop, not a clock read per round:
 * reading the clock costs tens of nanoseconds itself, as much as the smallest amounts measured.
 */
export function busyIterations(ns: number): number {
  if (ns <= 0) return 0;
  if (nsPerIteration === undefined) {
    const calls = 200_000;
    const each = 100;
    for (let c = 0; c < calls; c++) busy(each); // warm-up: optimised code
    const samples: number[] = [];
    for (let s = 0; s < 5; s++) {
      const start = process.hrtime.bigint();
      for (let c = 0; c < calls; c++) busy(each);
      samples.push(Number(process.hrtime.bigint() - start) / (calls * each));
    }
    nsPerIteration = samples.sort((a, b) => a - b)[2] ?? 1;
  }
  return Math.max(1, Math.round(ns / nsPerIteration));
}

/**
 * The driver end of the floor: keeps `depth` buffers in flight until `n` round trips are done.
 * Against a real `VirtioScmiDevice` (`handshake`), it first brings the device to DRIVER_OK by
 * hand, so the same bytes go through the real device and the platform without core.
 */
export class FloorDriver {
  readonly #vq: DriverVirtqueue;
  readonly #notify: Doorbell;
  readonly #interrupt: Doorbell;
  readonly #u8: Uint8Array;
  readonly #u32: Uint32Array;
  readonly #request: number[] = [];
  readonly #response: number[] = [];
  readonly #rx = new Uint8Array(12);
  readonly #used: UsedElement = { id: 0, len: 0 };
  readonly #pdu: number;
  #issued = 0;
  #done = 0;
  readonly #lookAgain: boolean;
  #pollQueued = false;
  readonly #poll = (): void => {
    this.#pollQueued = false;
    if (!this.#closed) this.#onUsed();
  };
  #closed = false;
  #target = 0;
  #finish: (() => void) | undefined;
  /** Awaited mode ({@link FloorDriver.runAwaited}): each slot's command's resolve function. */
  readonly #waiters: (((response: Uint8Array) => void) | undefined)[] = [];
  /** {@link FloorDriver.runAwaited} is running. */
  #awaited = false;
  #kickQueued = false;
  readonly #kick = (): void => {
    this.#kickQueued = false;
    if (!this.#closed && this.#vq.kickPrepare()) this.#notify.ring();
  };

  readonly #wire: VirtioScmiWire;

  public constructor(
    wire: VirtioScmiWire,
    cmdqSize: number,
    eventIdx: boolean,
    policy: FloorPolicy = 'as-answered',
  ) {
    this.#lookAgain = policy !== 'per-pass';
    this.#wire = wire;
    const ends = wire.claimDriverEnd();
    this.#notify = ends.notify;
    this.#interrupt = ends.interrupt;
    const ring = wire.cmdqRing(cmdqSize);
    ring.clear();
    this.#vq = new DriverVirtqueue(ring, eventIdx);
    const layout = wire.layout;
    this.#pdu = layout.pduSize;
    const memory = new GuestMemoryAllocator(layout.guestMemory, layout.guestMemoryBytes);
    for (let s = 0; s < cmdqSize / 2; s++) {
      this.#request.push(memory.allocate(this.#pdu));
      this.#response.push(memory.allocate(this.#pdu));
    }
    this.#u8 = new Uint8Array(wire.sab);
    this.#u32 = new Uint32Array(wire.sab, 0, wire.sab.byteLength >> 2);
    this.#vq.enableInterrupts();
    this.#interrupt.listen(() => {
      this.#onUsed();
    });
  }

  /** Brings a real virtio-scmi device to DRIVER_OK (features VERSION_1 and EVENT_IDX; no eventq). */
  public async handshake(cmdqSize: number): Promise<void> {
    const r = this.#wire.registers;
    const status = async (value: number): Promise<void> => {
      r.write(VirtioRegister.STATUS_REQUEST, value);
      const seq = r.increment(VirtioRegister.STATUS_SEQUENCE);
      this.#notify.ring();
      while (r.read(VirtioRegister.STATUS_ACK) !== seq)
        await new Promise((resolve) => setImmediate(resolve));
    };
    await status(0);
    await status(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
    r.writeFeatures(
      VirtioRegister.DRIVER_FEATURES_LOW,
      VirtioRegister.DRIVER_FEATURES_HIGH,
      featureMask(VirtioFeature.VERSION_1) | featureMask(VirtioFeature.RING_EVENT_IDX),
    );
    const base = VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK;
    await status(base);
    r.write(VirtioRegister.CMDQ_NUM, cmdqSize);
    r.write(VirtioRegister.CMDQ_READY, 1);
    await status(base | VirtioStatus.DRIVER_OK);
  }

  /** Runs `n` round trips with `depth` in flight. */
  public run(depth: number, n: number): Promise<void> {
    this.#issued = 0;
    this.#done = 0;
    this.#target = n;
    return new Promise((resolve) => {
      this.#finish = resolve;
      for (let s = 0; s < depth && this.#issued < n; s++) this.#post(s);
      if (this.#vq.kickPrepare()) this.#notify.ring();
    });
  }

  /**
   * Runs `n` round trips as `depth` loops that each send one command and await its response — a
   * promise per command, resolved with a copy of the response, as any asynchronous API does —
   * with the device notified once per burst (after the commands sent by the continuations of one
   * drain). The ring work is the floor's; what it adds is the least an awaited command costs.
   */
  public async runAwaited(depth: number, n: number): Promise<void> {
    this.#issued = 0;
    this.#done = 0;
    this.#target = Infinity;
    let sent = 0;
    const loop = async (slot: number): Promise<void> => {
      while (sent < n) {
        sent++;
        await this.#command(slot);
      }
    };
    this.#awaited = true;
    try {
      await Promise.all(Array.from({ length: depth }, (_, slot) => loop(slot)));
    } finally {
      this.#awaited = false;
    }
  }

  #command(slot: number): Promise<Uint8Array> {
    const response = new Promise<Uint8Array>((resolve) => {
      this.#waiters[slot] = resolve;
    });
    this.#post(slot);
    if (!this.#kickQueued) {
      this.#kickQueued = true;
      void SETTLED.then(this.#kick);
    }
    return response;
  }

  #post(slot: number): void {
    this.#issued++;
    const request = this.#request[slot] as number;
    this.#u32[request >> 2] = 0x00004000 | ((this.#issued & 0x3ff) << 18); // Base PROTOCOL_VERSION
    const head = slot << 1;
    const ring = this.#vq.ring;
    ring.writeDesc(head, request, 4, VirtqDescFlag.NEXT, head + 1);
    ring.writeDesc(head + 1, this.#response[slot] as number, this.#pdu, VirtqDescFlag.WRITE, 0);
    this.#vq.publish(head, this.#pdu);
  }

  /** Takes every used buffer and re-posts it; then looks again or enables interrupts (the policy). */
  #onUsed(): void {
    const vq = this.#vq;
    const el = this.#used;
    let took = 0;
    for (;;) {
      const taken = vq.take(el);
      if (taken === 'empty') {
        if (took > 0 && this.#lookAgain) {
          vq.disableInterrupts();
          if (!this.#pollQueued) {
            this.#pollQueued = true;
            setImmediate(this.#poll);
          }
          break;
        }
        if (vq.enableInterrupts()) continue;
        break;
      }
      took++;
      if (taken !== 'ok') continue;
      const slot = el.id >> 1;
      const from = this.#response[slot] as number;
      const n = Math.min(el.len, 12);
      const waiter = this.#awaited ? this.#waiters[slot] : undefined;
      if (waiter !== undefined) {
        this.#waiters[slot] = undefined;
        waiter(this.#u8.slice(from + 8, from + n));
        continue;
      }
      for (let i = 0; i < n; i++) this.#rx[i] = this.#u8[from + i] as number;
      this.#done++;
      if (this.#issued < this.#target) this.#post(slot);
    }
    if (vq.kickPrepare()) this.#notify.ring();
    if (this.#done === this.#target) {
      const finish = this.#finish;
      this.#finish = undefined;
      finish?.();
    }
  }

  /** Stops listening. */
  public close(): void {
    this.#closed = true;
    this.#notify.close();
    this.#interrupt.close();
  }
}
