import type { VirtualClock } from '@scmi-ts/core';
import {
  VIRTIO_DEVICE_MAX_SEGMENTS,
  VIRTQ_DESC_SIZE,
  VirtioRegister,
  VirtioStatus,
  VirtqDescFlag,
  isQueueSize,
  type ChainDefect,
  type SplitRing,
  type VirtioScmiWire,
  type VirtioWireDoorbells,
} from '@scmi-ts/virtio-transport';

/** A guest-memory area: a descriptor's buffer. */
export interface Segment {
  readonly addr: number;
  readonly len: number;
}

/** A raw descriptor, every field as the driver may write it (the high address word included). */
export interface RawDescriptor {
  readonly addr: number;
  readonly high?: number;
  readonly len: number;
  readonly flags: number;
  readonly next: number;
}

/** What the specification's rules make of a chain: a defect, or its segments. */
export type ReferenceWalk =
  | { readonly defect: ChainDefect }
  | {
      readonly defect?: undefined;
      readonly read: readonly Segment[];
      readonly write: readonly Segment[];
      readonly readBytes: number;
      readonly writeBytes: number;
    };

/**
 * The test's own walk of the chain headed at `head` (VIRTIO 1.2 §2.7.5, with the device's limits
 * and the order in which the device's documentation lists its checks): independent of
 * `DeviceVirtqueue.walk`, so that the fuzz can tell what the device should have made of a chain.
 * Segments are limited to `max(queue size, VIRTIO_DEVICE_MAX_SEGMENTS)`.
 */
export function referenceWalk(
  view: DataView,
  ring: SplitRing,
  head: number,
  memory: { readonly start: number; readonly end: number },
  indirect: boolean,
): ReferenceWalk {
  const size = ring.size;
  const maxSegments = Math.max(size, VIRTIO_DEVICE_MAX_SEGMENTS);
  const read: Segment[] = [];
  const write: Segment[] = [];
  let readBytes = 0;
  let writeBytes = 0;
  const inMemory = (high: number, addr: number, len: number): boolean =>
    high === 0 && addr >= memory.start && addr + len <= memory.end;
  /** Adds a buffer descriptor; a defect or undefined. */
  const add = (flags: number, addr: number, len: number): ChainDefect | undefined => {
    if (read.length + write.length >= maxSegments) return 'too-many-segments';
    if ((flags & VirtqDescFlag.WRITE) !== 0) {
      write.push({ addr, len });
      writeBytes += len;
      return undefined;
    }
    if (write.length > 0) return 'readable-after-writable';
    read.push({ addr, len });
    readBytes += len;
    return undefined;
  };
  const done = (): ReferenceWalk => ({ read, write, readBytes, writeBytes });
  if (head >= size) return { defect: 'head-out-of-range' };
  const desc = ring.layout.desc;
  let i = head;
  for (let visited = 0; ;) {
    visited++;
    if (visited > size) return { defect: 'chain-too-long' };
    const at = desc + VIRTQ_DESC_SIZE * i;
    const addr = view.getUint32(at, true);
    const high = view.getUint32(at + 4, true);
    const len = view.getUint32(at + 8, true);
    const flags = view.getUint16(at + 12, true);
    if ((flags & VirtqDescFlag.INDIRECT) !== 0) {
      if (!indirect) return { defect: 'indirect-not-negotiated' };
      if ((flags & VirtqDescFlag.NEXT) !== 0) return { defect: 'indirect-with-next' };
      if (!inMemory(high, addr, len)) return { defect: 'address-out-of-bounds' };
      if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) return { defect: 'indirect-bad-length' };
      const entries = len / VIRTQ_DESC_SIZE;
      let j = 0;
      for (let seen = 0; ;) {
        seen++;
        if (seen > entries) return { defect: 'chain-too-long' };
        const e = addr + VIRTQ_DESC_SIZE * j;
        const eAddr = view.getUint32(e, true);
        const eHigh = view.getUint32(e + 4, true);
        const eLen = view.getUint32(e + 8, true);
        const eFlags = view.getUint16(e + 12, true);
        if ((eFlags & VirtqDescFlag.INDIRECT) !== 0) return { defect: 'indirect-nested' };
        if (!inMemory(eHigh, eAddr, eLen)) return { defect: 'address-out-of-bounds' };
        const defect = add(eFlags, eAddr, eLen);
        if (defect !== undefined) return { defect };
        if ((eFlags & VirtqDescFlag.NEXT) === 0) return done();
        j = view.getUint16(e + 14, true);
        if (j >= entries) return { defect: 'next-out-of-range' };
      }
    }
    if (!inMemory(high, addr, len)) return { defect: 'address-out-of-bounds' };
    const defect = add(flags, addr, len);
    if (defect !== undefined) return { defect };
    if ((flags & VirtqDescFlag.NEXT) === 0) return done();
    i = view.getUint16(at + 14, true);
    if (i >= size) return { defect: 'next-out-of-range' };
  }
}

/** The first `len` bytes of `segments`, in order, from `bytes`. */
export function gather(bytes: Uint8Array, segments: readonly Segment[], len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  for (const { addr, len: n } of segments) {
    if (done >= len) break;
    const take = Math.min(n, len - done);
    out.set(bytes.subarray(addr, addr + take), done);
    done += take;
  }
  return out;
}

/** Whether two segment lists share a byte (empty segments share none). */
export function overlaps(a: readonly Segment[], b: readonly Segment[]): boolean {
  for (const x of a) {
    if (x.len === 0) continue;
    for (const y of b) {
      if (y.len !== 0 && x.addr < y.addr + y.len && y.addr < x.addr + x.len) return true;
    }
  }
  return false;
}

/** Which queue. */
export type QueueName = 'cmdq' | 'eventq';

/** A used element as a driver reads it. */
export interface UsedEntry {
  readonly id: number;
  readonly len: number;
}

/**
 * A driver end that does the status handshake properly and can then write anything into the
 * rings, the descriptors, guest memory and the status register: the hostile counterpart of
 * `ManualDriver` for the device fuzz. It never runs the clock itself: every time the device may run
 * goes through `run` (the fuzz wraps each such window with its checks).
 */
export class HostileDriver {
  public readonly doorbells: VirtioWireDoorbells;
  public readonly bytes: Uint8Array;
  public readonly view: DataView;
  /** The rings at the sizes of the last handshake. */
  public readonly rings: Partial<Record<QueueName, SplitRing>> = {};
  /** The driver's `avail.idx` of each queue (free-running, 16 bits). */
  public readonly availIdx: Record<QueueName, number> = { cmdq: 0, eventq: 0 };
  /** The driver's `last_used_idx` of each queue. */
  public readonly lastUsed: Record<QueueName, number> = { cmdq: 0, eventq: 0 };
  /**
   * How many times each head was made available since the last handshake, less the times a used
   * element returned it: what a driver checks a used element against (it may not name a head the
   * driver did not make available, nor return one more often than it was).
   */
  public readonly offered: Record<QueueName, Map<number, number>> = {
    cmdq: new Map(),
    eventq: new Map(),
  };
  /** Used-ring reads that found more than the queue size unread (the device cannot know how far the driver read). */
  public overruns = 0;
  /**
   * Set by a status write outside the handshake (garbage may restart the device over rings the
   * driver did not set up again): `offered` then proves nothing until the next handshake.
   */
  public untracked = false;

  public constructor(
    public readonly wire: VirtioScmiWire,
    public readonly clock: VirtualClock,
    private readonly run: (what: string) => Promise<void>,
  ) {
    this.doorbells = wire.claimDriverEnd();
    this.bytes = new Uint8Array(wire.sab);
    this.view = new DataView(wire.sab);
  }

  /** The status register as the device published it. */
  public get deviceStatus(): number {
    return this.wire.registers.read(VirtioRegister.DEVICE_STATUS);
  }

  /** Writes a status request and notifies (does not run the device). */
  public writeStatus(value: number): number {
    const r = this.wire.registers;
    r.write(VirtioRegister.STATUS_REQUEST, value >>> 0);
    r.increment(VirtioRegister.STATUS_SEQUENCE);
    this.doorbells.notify.ring();
    return r.read(VirtioRegister.STATUS_SEQUENCE);
  }

  /** Writes a status request, lets the device run; the status it reads back and whether it acknowledged. */
  public async status(value: number): Promise<{ status: number; acked: boolean }> {
    const sequence = this.writeStatus(value);
    await this.run(`status 0x${(value >>> 0).toString(16)}`);
    const r = this.wire.registers;
    return { status: this.deviceStatus, acked: r.read(VirtioRegister.STATUS_ACK) === sequence };
  }

  /**
   * The whole handshake (VIRTIO 1.2 §3.1.1): reset, ACKNOWLEDGE | DRIVER, features, FEATURES_OK,
   * the queues (cleared, sizes written, ready), DRIVER_OK. Returns what went wrong (empty: the
   * device is live).
   */
  public async handshake(options: {
    features: bigint;
    cmdqSize: number;
    eventqSize: number;
    p2a: boolean;
  }): Promise<string[]> {
    const problems: string[] = [];
    const { ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK } = VirtioStatus;
    const reset = await this.status(0);
    if (!reset.acked || reset.status !== 0) {
      problems.push(`reset: status ${reset.status}, acknowledged ${String(reset.acked)}`);
    }
    const r = this.wire.registers;
    const step1 = await this.status(ACKNOWLEDGE | DRIVER);
    if (step1.status !== (ACKNOWLEDGE | DRIVER)) problems.push(`ACK|DRIVER read ${step1.status}`);
    r.writeFeatures(
      VirtioRegister.DRIVER_FEATURES_LOW,
      VirtioRegister.DRIVER_FEATURES_HIGH,
      options.features,
    );
    const base = ACKNOWLEDGE | DRIVER | FEATURES_OK;
    const step2 = await this.status(base);
    if (step2.status !== base) problems.push(`FEATURES_OK read ${step2.status}`);
    const cmdq = this.wire.cmdqRing(options.cmdqSize);
    cmdq.clear();
    this.rings.cmdq = cmdq;
    r.write(VirtioRegister.CMDQ_NUM, options.cmdqSize);
    r.write(VirtioRegister.CMDQ_READY, 1);
    if (options.p2a) {
      const eventq = this.wire.eventqRing(options.eventqSize);
      eventq.clear();
      this.rings.eventq = eventq;
      r.write(VirtioRegister.EVENTQ_NUM, options.eventqSize);
      r.write(VirtioRegister.EVENTQ_READY, 1);
    } else {
      delete this.rings.eventq;
    }
    this.untracked = false;
    for (const q of ['cmdq', 'eventq'] as const) {
      this.availIdx[q] = 0;
      this.lastUsed[q] = 0;
      this.offered[q].clear();
    }
    const step3 = await this.status(base | DRIVER_OK);
    if (step3.status !== (base | DRIVER_OK)) problems.push(`DRIVER_OK read ${step3.status}`);
    return problems;
  }

  /** Writes descriptor `i` of `ring` raw (the high address word too). */
  public writeDesc(ring: SplitRing, i: number, d: RawDescriptor): void {
    const at = ring.layout.desc + VIRTQ_DESC_SIZE * i;
    this.writeEntry(at, d);
  }

  /** Writes a 16-byte descriptor at guest address `at` (an indirect table's entry). */
  public writeEntry(at: number, d: RawDescriptor): void {
    const v = this.view;
    v.setUint32(at, d.addr >>> 0, true);
    v.setUint32(at + 4, (d.high ?? 0) >>> 0, true);
    v.setUint32(at + 8, d.len >>> 0, true);
    v.setUint16(at + 12, d.flags & 0xffff, true);
    v.setUint16(at + 14, d.next & 0xffff, true);
  }

  /** Puts `head` in the next available entry of queue `q` and publishes `avail.idx`. */
  public offer(q: QueueName, head: number): void {
    const ring = this.rings[q];
    if (ring === undefined) return;
    ring.writeAvailEntry(this.availIdx[q] & (ring.size - 1), head & 0xffff);
    this.availIdx[q] = (this.availIdx[q] + 1) & 0xffff;
    ring.storeAvailIdx(this.availIdx[q]);
    this.offered[q].set(head, (this.offered[q].get(head) ?? 0) + 1);
  }

  /**
   * Moves `avail.idx` of queue `q` by `delta` without writing entries: whatever the entries it
   * passes hold is made available (so `offered` proves nothing until the next handshake).
   */
  public moveAvailIdx(q: QueueName, delta: number): void {
    const ring = this.rings[q];
    if (ring === undefined) return;
    this.untracked = true;
    this.availIdx[q] = (this.availIdx[q] + delta) & 0xffff;
    ring.storeAvailIdx(this.availIdx[q]);
  }

  /** Notifies the device (does not run it). */
  public kick(): void {
    this.doorbells.notify.ring();
  }

  /**
   * Reads the used elements of queue `q` published since the last read, checking each as a driver
   * would: an id the driver made available and not yet got back. Returns the elements and what
   * was wrong with them.
   */
  public reclaim(q: QueueName): { entries: UsedEntry[]; problems: string[] } {
    const ring = this.rings[q];
    const entries: UsedEntry[] = [];
    const problems: string[] = [];
    if (ring === undefined || !isQueueSize(ring.size)) return { entries, problems };
    const idx = ring.loadUsedIdx();
    const unread = (idx - this.lastUsed[q]) & 0xffff;
    if (unread > ring.size) {
      // The driver left more than the queue size unread: the ring wrapped over them.
      this.overruns++;
      this.lastUsed[q] = idx;
      return { entries, problems };
    }
    while (this.lastUsed[q] !== idx) {
      const slot = this.lastUsed[q] & (ring.size - 1);
      const e = { id: ring.usedId(slot), len: ring.usedLen(slot) };
      entries.push(e);
      this.lastUsed[q] = (this.lastUsed[q] + 1) & 0xffff;
      const n = this.offered[q].get(e.id) ?? 0;
      if (this.untracked) continue;
      if (e.id >= ring.size || n === 0) {
        problems.push(
          `${q} used element ${e.id} (len ${e.len}): not made available, or returned more often than made available`,
        );
      } else if (n === 1) this.offered[q].delete(e.id);
      else this.offered[q].set(e.id, n - 1);
    }
    return { entries, problems };
  }

  /** Closes the driver's doorbells. */
  public close(): void {
    this.doorbells.notify.close();
    this.doorbells.interrupt.close();
  }
}
