import type { VirtualClock } from '@scmi-ts/core';
import {
  GuestMemoryAllocator,
  VirtioFeature,
  VirtioRegister,
  VIRTQ_USED_F_NO_NOTIFY,
  VirtioStatus,
  VirtqDescFlag,
  featureMask,
  isQueueSize,
  type SplitRing,
  type VirtioScmiWire,
  type VirtioWireDoorbells,
} from '@scmi-ts/virtio-transport';

/** One buffer element of a hand-made chain: device-readable bytes, or a device-writable area of `write` bytes. */
export type ChainElement = { readonly read: Uint8Array } | { readonly write: number };

/** A chain placed by {@link ManualDriver.placeChain}: its head and where its device-writable elements lie. */
export interface PlacedChain {
  readonly head: number;
  readonly writable: readonly { readonly addr: number; readonly len: number }[];
}

/** A hand-driven driver end for device tests: registers, rings and buffers, step by step. */
export class ManualDriver {
  public readonly doorbells: VirtioWireDoorbells;
  public readonly memory: GuestMemoryAllocator;
  public readonly bytes: Uint8Array;
  public readonly view: DataView;
  public interrupts = 0;
  public configSignals = 0;
  public cmdq!: SplitRing;
  public eventq!: SplitRing;
  #cmdqAvail = 0;
  #eventqAvail = 0;
  #cmdqUsed = 0;
  #eventqUsed = 0;

  public constructor(
    public readonly wire: VirtioScmiWire,
    public readonly clock: VirtualClock,
  ) {
    this.doorbells = wire.claimDriverEnd();
    this.doorbells.notify.listen(() => this.configSignals++);
    this.doorbells.interrupt.listen(() => this.interrupts++);
    this.memory = new GuestMemoryAllocator(wire.layout.guestMemory, wire.layout.guestMemoryBytes);
    this.bytes = new Uint8Array(wire.sab);
    this.view = new DataView(wire.sab);
  }

  /** Writes a status request, notifies, runs the device; returns the status it reads back. */
  public async status(value: number): Promise<number> {
    const r = this.wire.registers;
    r.write(VirtioRegister.STATUS_REQUEST, value);
    r.increment(VirtioRegister.STATUS_SEQUENCE);
    this.doorbells.notify.ring();
    await this.clock.runTasks();
    return r.read(VirtioRegister.DEVICE_STATUS);
  }

  /** Runs the handshake up to DRIVER_OK; returns the final status. */
  public async start(
    options: { features?: bigint; cmdqSize?: number; eventqSize?: number; reset?: boolean } = {},
  ): Promise<number> {
    const r = this.wire.registers;
    if (options.reset !== false) {
      await this.status(0);
      await this.status(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
    }
    const features =
      options.features ??
      featureMask(VirtioFeature.VERSION_1) | featureMask(VirtioFeature.SCMI_P2A_CHANNELS);
    r.writeFeatures(
      VirtioRegister.DRIVER_FEATURES_LOW,
      VirtioRegister.DRIVER_FEATURES_HIGH,
      features,
    );
    const base = VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK;
    await this.status(base);
    const cmdqSize = options.cmdqSize ?? this.wire.layout.cmdqSize;
    const eventqSize = options.eventqSize ?? this.wire.layout.eventqSize;
    // Rings are viewed at a valid size even when the test writes an invalid one to the registers.
    const layout = this.wire.layout;
    this.cmdq = this.wire.cmdqRing(
      isQueueSize(cmdqSize) && cmdqSize <= layout.cmdqSize ? cmdqSize : layout.cmdqSize,
    );
    this.eventq = this.wire.eventqRing(
      isQueueSize(eventqSize) && eventqSize <= layout.eventqSize ? eventqSize : layout.eventqSize,
    );
    this.cmdq.clear();
    this.eventq.clear();
    this.#cmdqAvail = 0;
    this.#eventqAvail = 0;
    this.#cmdqUsed = 0;
    this.#eventqUsed = 0;
    r.write(VirtioRegister.CMDQ_NUM, cmdqSize);
    r.write(VirtioRegister.CMDQ_READY, 1);
    r.write(VirtioRegister.EVENTQ_NUM, eventqSize);
    r.write(VirtioRegister.EVENTQ_READY, 1);
    return this.status(base | VirtioStatus.DRIVER_OK);
  }

  /** Puts a request (header + payload bytes) and a response buffer of `responseBytes` on the cmdq at `head`, `head + 1`. */
  public command(
    head: number,
    request: Uint8Array,
    responseBytes = 136,
  ): { request: number; response: number } {
    const req = this.memory.allocate(Math.max(8, request.byteLength));
    const resp = this.memory.allocate(responseBytes);
    this.bytes.set(request, req);
    this.cmdq.writeDesc(head, req, request.byteLength, VirtqDescFlag.NEXT, head + 1);
    this.cmdq.writeDesc(head + 1, resp, responseBytes, VirtqDescFlag.WRITE, 0);
    this.offerCmdq(head);
    return { request: req, response: resp };
  }

  /**
   * Writes `elements` as one chain on `ring` (each element in a buffer of its own): the first
   * `direct` elements in the queue's descriptors `ids` (chained by NEXT), the others, if any, in an
   * indirect table in guest memory referred to by descriptor `ids[direct]` (with `indirectFlags`).
   * Table entry 0 holds the first of them and the rest follow in reverse slot order, so the device
   * has to follow `next`. Does not make the chain available.
   */
  public placeChain(
    ring: SplitRing,
    ids: readonly number[],
    elements: readonly ChainElement[],
    direct = elements.length,
    indirectFlags: number = VirtqDescFlag.INDIRECT,
  ): PlacedChain {
    const writable: { addr: number; len: number }[] = [];
    const place = (e: ChainElement): { addr: number; len: number; flags: number } => {
      const len = 'read' in e ? e.read.byteLength : e.write;
      const addr = this.memory.allocate(Math.max(8, len));
      if ('read' in e) this.bytes.set(e.read, addr);
      else writable.push({ addr, len });
      return { addr, len, flags: 'read' in e ? 0 : VirtqDescFlag.WRITE };
    };
    const hasTable = direct < elements.length;
    for (let k = 0; k < direct; k++) {
      const { addr, len, flags } = place(elements[k] as ChainElement);
      const last = k === direct - 1 && !hasTable;
      const next = ids[k + 1] ?? 0;
      ring.writeDesc(ids[k] as number, addr, len, last ? flags : flags | VirtqDescFlag.NEXT, next);
    }
    if (hasTable) {
      const n = elements.length - direct;
      const table = this.memory.allocate(16 * n);
      // Element 0 at slot 0, element k ≥ 1 at slot n - k.
      const slot = (k: number): number => (k === 0 ? 0 : n - k);
      for (let k = 0; k < n; k++) {
        const { addr, len, flags } = place(elements[direct + k] as ChainElement);
        const at = table + 16 * slot(k);
        this.view.setUint32(at, addr, true);
        this.view.setUint32(at + 4, 0, true);
        this.view.setUint32(at + 8, len, true);
        this.view.setUint16(at + 12, k < n - 1 ? flags | VirtqDescFlag.NEXT : flags, true);
        this.view.setUint16(at + 14, k < n - 1 ? slot(k + 1) : 0, true);
      }
      ring.writeDesc(ids[direct] as number, table, 16 * n, indirectFlags, 0);
    }
    return { head: ids[0] as number, writable };
  }

  /** The first `len` bytes the device wrote over `chain`'s device-writable elements, in order. */
  public gather(chain: PlacedChain, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    for (const { addr, len: n } of chain.writable) {
      const take = Math.min(n, len - done);
      out.set(this.bytes.subarray(addr, addr + take), done);
      done += take;
    }
    return out;
  }

  /** Makes `head` available on the eventq (descriptors already written). */
  public offerEventq(head: number): void {
    this.eventq.writeAvailEntry(this.#eventqAvail % this.eventq.size, head);
    this.#eventqAvail++;
    this.eventq.storeAvailIdx(this.#eventqAvail);
  }

  /** Makes `head` available on the cmdq (descriptors already written). */
  public offerCmdq(head: number): void {
    this.cmdq.writeAvailEntry(this.#cmdqAvail % this.cmdq.size, head);
    this.#cmdqAvail++;
    this.cmdq.storeAvailIdx(this.#cmdqAvail);
  }

  /** Gives the eventq a writable buffer of `bytes` at descriptor `id`; returns its address. */
  public eventBuffer(id: number, bytes = 136): number {
    const addr = this.memory.allocate(bytes);
    this.eventq.writeDesc(id, addr, bytes, VirtqDescFlag.WRITE, 0);
    this.offerEventq(id);
    return addr;
  }

  /**
   * Notifies the device about new cmdq entries unless it suppressed notifications (the driver's
   * side of the split ring without EVENT_IDX: `VIRTQ_USED_F_NO_NOTIFY`); returns whether it did.
   * Does not run the device's tasks.
   */
  public notifyCmdqUnlessSuppressed(): boolean {
    if ((this.cmdq.loadUsedFlags() & VIRTQ_USED_F_NO_NOTIFY) !== 0) return false;
    this.doorbells.notify.ring();
    return true;
  }

  /** Notifies the device and runs its tasks. */
  public async kick(): Promise<void> {
    this.doorbells.notify.ring();
    await this.clock.runTasks();
  }

  /** Used elements of the cmdq not read yet. */
  public usedCmdq(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const idx = this.cmdq.loadUsedIdx();
    while (this.#cmdqUsed !== idx) {
      const slot = this.#cmdqUsed % this.cmdq.size;
      out.push({ id: this.cmdq.usedId(slot), len: this.cmdq.usedLen(slot) });
      this.#cmdqUsed = (this.#cmdqUsed + 1) & 0xffff;
    }
    return out;
  }

  /** Used elements of the eventq not read yet. */
  public usedEventq(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const idx = this.eventq.loadUsedIdx();
    while (this.#eventqUsed !== idx) {
      const slot = this.#eventqUsed % this.eventq.size;
      out.push({ id: this.eventq.usedId(slot), len: this.eventq.usedLen(slot) });
      this.#eventqUsed = (this.#eventqUsed + 1) & 0xffff;
    }
    return out;
  }

  /** Closes the driver's doorbells. */
  public close(): void {
    this.doorbells.notify.close();
    this.doorbells.interrupt.close();
  }
}
