import type { ScmiPlatformPort, VirtualClock } from '@scmi-ts/core';
import {
  DescriptorChain,
  DeviceVirtqueue,
  POP_BAD_INDEX,
  POP_EMPTY,
  VirtioFeature,
  VirtioRegister,
  VirtioStatus,
  featureMask,
  hasFeature,
  type DeviceMemory,
  type SplitRing,
  type UsedRingDefect,
  type VirtioScmiWire,
  type VirtioWireDoorbells,
} from '@scmi-ts/virtio-transport';

/** A chain the device took from an available ring and has not returned yet. */
export interface HeldChain {
  /** Virtual time the device took it. */
  readonly poppedAt: number;
  /** The command's header (cmdq; 0 on the eventq). */
  readonly header: number;
  /** First byte of its (single) writable descriptor. */
  readonly writeAddr: number;
  /** Bytes the chain lets the device write. */
  readonly writeBytes: number;
  /**
   * Its command was failed before its deadline (core's `failInFlight`: the device failed or the
   * cmdq broke): abandoned from then on, as a command that timed out.
   */
  lost: boolean;
}

/** A used element as the device published it (id and length as they are in the ring). */
export interface PublishedElement {
  readonly id: number;
  readonly len: number;
}

/** Bounds of a count: `[min, max]`. */
export type Bounds = readonly [number, number];

/**
 * A used element the driver read, classified when it read it (the driver may make a chain
 * available between the device's publishing of an element and its reading of it, and then the
 * element returns that chain): `return` when its id heads a chain the device held then, else the
 * {@link UsedRingDefect} the driver must find. For a `return`, what the channel's counters must
 * grow by: `rejected` (bad messages and late replies; on the eventq notifications and delayed
 * responses too: every element the eventq reads is counted once) and `completed` (commands
 * completed), and their sum `either`. Each is exact, unless the element was read at the very
 * moment its command's deadline passed: then the driver alone knows which it was.
 */
export interface ReadElement extends PublishedElement {
  readonly kind: 'return' | 'bad-id' | 'not-in-flight';
  readonly rejected: Bounds;
  readonly completed: Bounds;
  readonly either: Bounds;
}

/**
 * What the device end knows about one of its queues, and what it learns of the driver's reading
 * (`read`, `takes`: fed by a spy on `DriverVirtqueue.take`, see `driver-fuzz.test.ts`).
 */
export class QueueModel {
  /**
   * Chains taken from the available ring whose return the driver has not read, by head: the
   * device may not return them again, and the driver may not make them available again.
   */
  public readonly held = new Map<number, HeldChain>();
  /** Every element published since DRIVER_OK, in used-ring order. */
  public readonly elements: PublishedElement[] = [];
  /** The elements the driver read, as it must have found them. */
  public readonly readElements: ReadElement[] = [];
  /** Used-ring entries published (free-running, not wrapped: `used.idx` is its low 16 bits). */
  public published = 0;
  /** Elements the driver consumed (`take` moved its `last_used_idx`). */
  public read = 0;
  /** Calls of the driver's `take` on this queue. */
  public takes = 0;
  /** Where `used.idx` jumped past the queue size from the driver's reading position, if it did. */
  public jumpAt: number | undefined;
  /** `takes` when it jumped: a take after it must find `bad-index`. */
  public takesAtJump = 0;

  public constructor(
    public readonly name: 'cmdq' | 'eventq',
    public readonly vq: DeviceVirtqueue,
  ) {}

  public get size(): number {
    return this.vq.size;
  }

  /** The first element read whose id is a defect, if any. */
  public get firstDefect(): number | undefined {
    const i = this.readElements.findIndex((e) => e.kind !== 'return');
    return i < 0 ? undefined : i;
  }

  /** Held chains no published element returns yet: those the device may answer. */
  public answerable(): number[] {
    const returned = new Set(this.elements.slice(this.read).map((e) => e.id));
    return [...this.held.keys()].filter((h) => !returned.has(h));
  }

  /**
   * Where the driver must stop reading and what it must find there (`undefined` defect: it never
   * looked after the jump), or undefined while the ring is sound.
   */
  public expectedBreak(): { at: number; defect: UsedRingDefect | undefined } | undefined {
    const defect = this.firstDefect;
    if (this.jumpAt !== undefined && (defect === undefined || this.jumpAt <= defect)) {
      return {
        at: this.jumpAt,
        defect: this.takes > this.takesAtJump ? 'bad-index' : undefined,
      };
    }
    if (defect === undefined) return undefined;
    return {
      at: defect,
      defect: (this.readElements[defect] as ReadElement).kind as UsedRingDefect,
    };
  }
}

/** A random source in [0, 1) (`mulberry32`). */
export type Random = () => number;

/**
 * A device end for the virtio driver fuzz (`driver-fuzz.test.ts`): it completes the handshake and
 * the reset like a sound device, takes every chain the driver makes available (checking that the
 * driver never makes available one it still holds, nor a malformed chain), and then does what the
 * test asks — answer a command through the platform, write any bytes into a buffer it holds,
 * publish any used element or move `used.idx` — keeping a {@link QueueModel} of each queue so the
 * test can say what the driver must have counted. Everything runs on the test's virtual clock;
 * the only randomness is the one handed in.
 */
export class FuzzDevice {
  public readonly doorbells: VirtioWireDoorbells;
  public readonly memory: DeviceMemory;
  public cmdq: QueueModel | undefined;
  public eventq: QueueModel | undefined;
  /** What the driver did that it must not (must stay empty). */
  public readonly violations: string[] = [];
  /** Whether the device answers every command at once, properly (the probe and the calm phase). */
  public calm = true;
  /** Set after DRIVER_OK until the reset that follows is acknowledged. */
  public live = false;
  /** Whether DEVICE_NEEDS_RESET was set. */
  public needsReset = false;
  /** Virtual ms the device takes to acknowledge the teardown's reset. */
  public resetDelayMs = 0;
  /** Chains the driver counted as the device's when it acknowledged the teardown's reset. */
  public ownedAtReset: number | undefined;
  /** Whether EVENT_IDX is offered. */
  public readonly eventIdxOffered: boolean;
  readonly #rxTimeoutMs: number;
  readonly #deadlineSlackMs: number;
  #eventIdx = false;
  #sequence = 0;
  readonly #chain = new DescriptorChain(64);
  readonly #scratch = new Uint8Array(4096);

  public constructor(
    public readonly wire: VirtioScmiWire,
    public readonly clock: VirtualClock,
    public readonly platform: ScmiPlatformPort,
    public readonly random: Random,
    options: {
      readonly eventIdx: boolean;
      readonly rxTimeoutMs: number;
      /** How late after its deadline a command may still complete (a polling one: one poll). */
      readonly deadlineSlackMs: number;
    },
  ) {
    this.eventIdxOffered = options.eventIdx;
    this.#rxTimeoutMs = options.rxTimeoutMs;
    this.#deadlineSlackMs = options.deadlineSlackMs;
    this.doorbells = wire.claimDeviceEnd();
    let offered =
      featureMask(VirtioFeature.VERSION_1) | featureMask(VirtioFeature.SCMI_P2A_CHANNELS);
    if (options.eventIdx) offered |= featureMask(VirtioFeature.RING_EVENT_IDX);
    wire.registers.writeFeatures(
      VirtioRegister.DEVICE_FEATURES_LOW,
      VirtioRegister.DEVICE_FEATURES_HIGH,
      offered,
    );
    const layout = wire.layout;
    this.memory = wire.deviceMemory();
    platform.connect(1, {
      p2a: true,
      maxMsgSize: layout.maxMsgSize,
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
      this.#onStatus(r.read(VirtioRegister.STATUS_REQUEST), sequence);
    }
    if (!this.live) return;
    this.popAll();
    if (this.calm) this.answerAll();
  }

  #onStatus(status: number, sequence: number): void {
    const r = this.wire.registers;
    const ack = (value: number): void => {
      r.write(VirtioRegister.DEVICE_STATUS, value);
      r.write(VirtioRegister.STATUS_ACK, sequence);
      this.doorbells.notify.ring();
    };
    if (status === 0 && this.live) {
      // The teardown's reset: every chain made available is the device's until the acknowledgement;
      // it may still write into them meanwhile.
      this.popAll();
      for (const q of this.#queues()) for (const held of q.held.values()) this.scribble(held);
      const acknowledge = (): void => {
        this.ownedAtReset = (this.cmdq?.held.size ?? 0) + (this.eventq?.held.size ?? 0);
        this.live = false;
        for (const q of this.#queues()) q.held.clear();
        ack(0);
      };
      if (this.resetDelayMs > 0) this.clock.setTimeout(acknowledge, this.resetDelayMs);
      else acknowledge();
      return;
    }
    if ((status & VirtioStatus.DRIVER_OK) !== 0 && !this.live && this.cmdq === undefined) {
      const negotiated = r.readFeatures(
        VirtioRegister.DRIVER_FEATURES_LOW,
        VirtioRegister.DRIVER_FEATURES_HIGH,
      );
      this.#eventIdx = hasFeature(negotiated, VirtioFeature.RING_EVENT_IDX);
      const features = { indirect: false, eventIdx: this.#eventIdx };
      this.cmdq = new QueueModel(
        'cmdq',
        new DeviceVirtqueue(
          this.wire.cmdqRing(r.read(VirtioRegister.CMDQ_NUM)),
          this.memory,
          features,
        ),
      );
      this.eventq = new QueueModel(
        'eventq',
        new DeviceVirtqueue(
          this.wire.eventqRing(r.read(VirtioRegister.EVENTQ_NUM)),
          this.memory,
          features,
        ),
      );
      this.live = true;
    }
    ack(status);
  }

  *#queues(): Generator<QueueModel> {
    if (this.cmdq !== undefined) yield this.cmdq;
    if (this.eventq !== undefined) yield this.eventq;
  }

  /**
   * Takes every chain the driver made available, checking it: a head in range, not held already
   * (the driver must not make available a buffer the device still holds), a sound chain — on the
   * cmdq a readable request then one writable response, on the eventq one writable buffer.
   */
  public popAll(): void {
    for (const q of this.#queues()) {
      const vq = q.vq;
      for (;;) {
        const head = vq.pop();
        if (head === POP_EMPTY) {
          // With EVENT_IDX, ask for a notification at the next entry (or look again).
          if (this.#eventIdx && vq.enableNotifications()) continue;
          break;
        }
        if (head === POP_BAD_INDEX) {
          this.violations.push(`${q.name}: avail.idx moved by more than the queue size`);
          break;
        }
        if (head >= vq.size) {
          this.violations.push(`${q.name}: head ${head} out of range made available`);
          continue;
        }
        if (q.held.has(head)) {
          this.violations.push(
            `${q.name}: head ${head} made available while the device still holds it (t=${this.clock.now()}, live ${this.live})`,
          );
          continue;
        }
        const chain = this.#chain;
        const defect = vq.walk(head, chain);
        const shapeOk =
          q.name === 'cmdq'
            ? chain.readCount === 1 && chain.writeCount === 1
            : chain.readCount === 0 && chain.writeCount === 1;
        if (defect !== undefined || !shapeOk) {
          this.violations.push(`${q.name}: head ${head} made available as a bad chain (${defect})`);
          continue;
        }
        let header = 0;
        if (q.name === 'cmdq') {
          vq.readChain(chain, this.#scratch);
          header = this.memory.view.getUint32(chain.readAddr[0] as number, true);
        }
        q.held.set(head, {
          poppedAt: this.clock.now(),
          header,
          writeAddr: chain.writeAddr[0] as number,
          writeBytes: chain.writeBytes,
          lost: false,
        });
      }
    }
  }

  /** The platform's response to the held command `head`, written into its buffer; its length. */
  public writeAnswer(head: number): number {
    const q = this.cmdq as QueueModel;
    const vq = q.vq;
    vq.walk(head, this.#chain);
    const n = vq.readChain(this.#chain, this.#scratch);
    const response = this.platform.handle(1, 0, this.#scratch.subarray(0, Math.min(n, 4096)));
    if (response === undefined) return 0;
    return vq.writeChain(this.#chain, response, response.byteLength);
  }

  /** Writes `bytes` at `offset` of a held chain's writable buffer (clipped to it). */
  public write(held: HeldChain, bytes: Uint8Array, offset = 0): void {
    const n = Math.max(0, Math.min(bytes.byteLength, held.writeBytes - offset));
    this.memory.bytes.set(bytes.subarray(0, n), held.writeAddr + offset);
  }

  /** Random bytes at a random place of a held chain's buffer, which stays the device's. */
  public scribble(held: HeldChain): void {
    const offset = Math.floor(this.random() * held.writeBytes);
    this.write(held, this.randomBytes(1 + Math.floor(this.random() * 16)), offset);
  }

  public randomBytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.random() * 256);
    return out;
  }

  /** Answers every held command properly and returns them in one batch (the calm device). */
  public answerAll(): void {
    const q = this.cmdq;
    if (q === undefined) return;
    const elements = q.answerable().map((head) => ({ id: head, len: this.writeAnswer(head) }));
    if (this.publish(q, elements)) this.doorbells.interrupt.ring();
  }

  /**
   * Publishes `elements` (written into the used ring), or with `stale` moves `used.idx` by `stale`
   * over whatever the ring holds (the driver's reading classifies them, see
   * {@link FuzzDevice.onRead}). Returns false when nothing was published: the device does not write to
   * a ring whose index it already threw past the driver's reach, since a later move could bring
   * it back in range over elements nobody can account for.
   */
  public publish(
    q: QueueModel,
    elements: readonly { id: number; len: number }[],
    stale = 0,
  ): boolean {
    if (q.jumpAt !== undefined) return false;
    const k = stale > 0 ? stale : elements.length;
    if (k === 0) return false;
    const ring: SplitRing = q.vq.ring;
    const mask = q.size - 1;
    if (q.published + k - q.read > q.size) {
      // The driver will find used.idx further than the queue size from its last_used_idx.
      q.jumpAt = q.read;
      q.takesAtJump = q.takes;
      for (let i = 0; i < elements.length; i++) {
        const e = elements[i] as { id: number; len: number };
        ring.writeUsedElem((q.published + i) & mask, e.id >>> 0, e.len >>> 0);
      }
      q.published += k;
      ring.storeUsedIdx(q.published & 0xffff);
      return true;
    }
    for (let i = 0; i < k; i++) {
      const slot = (q.published + i) & mask;
      if (stale === 0) {
        const e = elements[i] as { id: number; len: number };
        ring.writeUsedElem(slot, e.id >>> 0, e.len >>> 0);
      }
      q.elements.push({ id: ring.usedId(slot), len: ring.usedLen(slot) });
    }
    q.published += k;
    ring.storeUsedIdx(q.published & 0xffff);
    return true;
  }

  /**
   * Moves `used.idx` by `delta` (more than the queue size) without writing anything: a driver that
   * looks must find `bad-index`.
   */
  public jump(q: QueueModel, delta: number): boolean {
    return this.publish(q, [], delta);
  }

  /**
   * The driver consumed the next used element of `q` (`found`: what its `take` read): classifies
   * it against what the device holds now, and the chain it returns is the driver's again.
   */
  public onRead(q: QueueModel, found: PublishedElement): void {
    const published = q.elements[q.read];
    if (published === undefined) {
      this.violations.push(`${q.name}: the driver read element ${q.read}, never published`);
    } else if (published.id !== found.id || published.len !== found.len) {
      this.violations.push(
        `${q.name}: the driver read element ${q.read} as ${found.id}/${found.len}, published ${published.id}/${published.len}`,
      );
    }
    q.readElements.push(this.#classify(q, found.id, found.len, this.clock.now()));
    q.read++;
  }

  #classify(q: QueueModel, id: number, len: number, now: number): ReadElement {
    const none: Bounds = [0, 0];
    if (id >= q.size)
      return { id, len, kind: 'bad-id', rejected: none, completed: none, either: none };
    const held = q.held.get(id);
    if (held === undefined) {
      return { id, len, kind: 'not-in-flight', rejected: none, completed: none, either: none };
    }
    q.held.delete(id);
    const element = (
      rejected: Bounds,
      completed: Bounds = none,
      either = rejected,
    ): ReadElement => ({
      id,
      len,
      kind: 'return',
      rejected,
      completed,
      either,
    });
    const one: Bounds = [1, 1];
    const maybe: Bounds = [0, 1];
    // Every element the eventq reads is counted once: rejected by the driver or core (a bad
    // length, header, type, token…) or, for a notification of a registered event, queued
    // (`notifications`). No command of the fuzz is asynchronous, so no delayed response fits.
    if (q.name === 'eventq') return element(one);
    const header = held.writeBytes >= 4 ? this.memory.view.getUint32(held.writeAddr, true) : 0;
    // The command's deadline: core arms it when the command is made available, and the device
    // takes each chain on the notification that follows, at the same virtual time. Past it, core
    // timed the command out before now (time moves on only once every task and microtask due
    // before has run), and its buffer is abandoned; before it, the command is waiting.
    // A polling command checks its deadline once per poll, every `yieldQuantumMs`: up to one
    // poll late.
    const deadline = held.poppedAt + this.#rxTimeoutMs;
    const timedOut = held.lost
      ? true
      : now > deadline + this.#deadlineSlackMs
        ? true
        : now < deadline
          ? false
          : undefined;
    // A reply the driver refuses is counted as what it is; and since its buffer is back, a
    // command still waiting completes at once (COMMS_ERROR), one abandoned does not.
    const refused = (): ReadElement =>
      timedOut === true
        ? element(one)
        : timedOut === false
          ? element(one, one, [2, 2])
          : element(one, maybe, [1, 2]);
    // Over the buffer: `oversize`, whatever else (the driver must not read it).
    if (len > held.writeBytes) return refused();
    // Returned unanswered: refused (`invalid`) while its command waits, nothing once abandoned.
    if (len === 0) {
      return timedOut === true
        ? element(none)
        : timedOut === false
          ? element(one, one, [2, 2])
          : element(maybe, maybe, [0, 2]);
    }
    // Too short for a header and a status, or another command's header: refused.
    if (len < 8 || header !== held.header) return refused();
    // Its command's reply: completed while it waits, a late reply once abandoned.
    if (timedOut === true) return element(one);
    if (timedOut === false) return element(none, one, one);
    return element(maybe, maybe, one);
  }

  /**
   * Core failed every command in flight on `q` at once (`failInFlight`, after the driver took what
   * the device had returned): the chains the device holds now belong to abandoned commands.
   */
  public lostInFlight(q: QueueModel): void {
    for (const held of q.held.values()) held.lost = true;
  }

  /** Sets DEVICE_NEEDS_RESET and signals a configuration change. */
  public setNeedsReset(): void {
    const r = this.wire.registers;
    r.write(
      VirtioRegister.DEVICE_STATUS,
      r.read(VirtioRegister.DEVICE_STATUS) | VirtioStatus.DEVICE_NEEDS_RESET,
    );
    this.needsReset = true;
    this.doorbells.notify.ring();
  }
}
