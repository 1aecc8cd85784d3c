import {
  RxGuard,
  SCMI_TOKEN_COUNT,
  ScmiShutdownError,
  ScmiStatus,
  ScmiTransportError,
  replyHeaderDefect,
  type ChannelSetup,
  type NotificationBuffer,
  type TimerHandle,
  type TransportChannel,
  type Xfer,
} from '@scmi-ts/core';
import { VirtqDescFlag } from '../layout/virtio-constants.js';
import type { DriverVirtqueue, UsedElement, UsedRingDefect } from '../ring/driver-virtqueue.js';
import { newChannelRecord, type VirtioChannelRecord } from './virtio-driver-diagnostics.js';
import { cmdqMessages, type VirtioScmiDriver } from './virtio-scmi-driver.js';

/** Slot states. */
const FREE = 0;
/** The device holds the buffers; a transfer waits for them. */
const IN_FLIGHT = 1;
/** The device holds the buffers; their transfer is over (timed out, aborted): reclaim on return or reset. */
const ABANDONED = 2;
/** The device returned the buffers; their transfer has not called `markTxDone` yet. */
const RETURNED = 3;
/** The device returned an abandoned slot's buffers in the drain pass running now: freed when it ends. */
const RETURNED_ABANDONED = 4;

const EMPTY = new Uint8Array(0);
const NEXT = VirtqDescFlag.NEXT;
const WRITE = VirtqDescFlag.WRITE;
/** Settled once: `SETTLED.then(cb)` runs `cb` on a microtask. */
const SETTLED: Promise<void> = Promise.resolve();

interface SlotWaiter {
  readonly xfer: Xfer;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly timer: TimerHandle;
}

/** How often a polling cmdq looks for returned buffers while commands wait for a slot, ms. */
const SLOT_POLL_MS = 1;

/**
 * The cmdq as core's A2P channel 0 (Linux `virtio_send_message`, `scmi_vio_complete_cb`,
 * `virtio_poll_done`, `virtio_mark_txdone`). Each message uses a fixed slot of two descriptors —
 * `2k` readable (header + parameters), `2k + 1` writable (header + status + returns) — so up to
 * `cmdqSize / 2` commands are in flight, and responses are taken in whatever order the device
 * returns them.
 *
 * Everything the device wrote is checked before core sees it: the used element (see
 * {@link DriverVirtqueue.take}), a length of at least header + status, and the response header,
 * which must echo the command's (a response in another command's buffer is not delivered to a
 * transfer it does not belong to). A rejected element is counted in core's bad-message counters.
 * An element that proves the device corrupts the used ring (a {@link UsedRingDefect}) breaks the
 * cmdq: it is not read again, and new commands, those waiting for a slot and those in flight fail
 * at once with `E_VIRTIO_DEVICE`; teardown resets the device and reclaims their buffers as usual.
 *
 * A slot whose transfer timed out or was aborted still belongs to the device (Linux leaves such
 * messages to the device too): `markTxDone` then marks it abandoned; when the device returns it
 * the late reply is dropped and counted (`lateReplies`; a reply too short or with another header
 * is counted as the bad message it is instead) and the slot reused; at teardown the
 * slots the device still holds are reclaimed once, after the driver's reset was acknowledged.
 * In interrupt mode the used ring is drained only by used-buffer notifications (through the RX
 * guard); in polling mode only by `pollDone`, with notifications suppressed.
 *
 * @internal Created by {@link VirtioScmiDriver.openCmdq}.
 */
export class CmdqChannel implements TransportChannel {
  /** `cmdqSize / 2` (two descriptors per message), at most 1023. */
  public readonly maxInFlight: number;
  readonly #driver: VirtioScmiDriver;
  readonly #vq: DriverVirtqueue;
  readonly #setup: ChannelSetup;
  readonly #guard = new RxGuard();
  readonly #record: VirtioChannelRecord;
  readonly #label: string;
  readonly #polling: boolean;
  readonly #pollAfterDrain: boolean;
  readonly #state: Uint8Array;
  readonly #valid: Uint8Array;
  readonly #delivered: Uint8Array;
  /** 1 for an abandoned slot whose transfer ended without error (its delayed response came first). */
  readonly #endedOk: Uint8Array;
  /** Abandoned slots the drain pass running now took back, released when it ends. */
  readonly #returned: number[] = [];
  readonly #xfers: (Xfer | undefined)[];
  readonly #headers: Uint32Array;
  readonly #usedLen: Uint32Array;
  readonly #request: Uint32Array;
  readonly #response: Uint32Array;
  readonly #slotOfToken = new Int16Array(SCMI_TOKEN_COUNT).fill(-1);
  readonly #free: number[] = [];
  readonly #waiters: SlotWaiter[] = [];
  readonly #u8: Uint8Array;
  readonly #u32: Uint32Array;
  readonly #i32: Int32Array;
  readonly #used: UsedElement = { id: 0, len: 0 };
  readonly #pdu: number;
  readonly #maxPayload: number;
  #freed = false;
  /** The next look for returned buffers while commands wait for a slot (polling mode). */
  #slotPoll: TimerHandle | undefined;
  #kickQueued = false;
  #pollQueued = false;
  /** {@link CmdqChannel.#lost} is running. */
  #losing = false;

  /** @internal */
  public constructor(driver: VirtioScmiDriver, vq: DriverVirtqueue, setup: ChannelSetup) {
    const slots = cmdqMessages(vq.size);
    this.maxInFlight = slots;
    this.#driver = driver;
    this.#vq = vq;
    this.#setup = setup;
    this.#label = `a2p:${setup.channel.id}`;
    this.#polling = setup.channel.polling;
    this.#pollAfterDrain = driver.config.pollAfterDrain;
    const layout = driver.wire.layout;
    this.#pdu = layout.pduSize;
    this.#maxPayload = layout.maxMsgSize;
    const sab = driver.wire.sab;
    this.#u8 = new Uint8Array(sab);
    // Unsigned arithmetic on wire offsets (`/ 4`, `>>> 2`): a wire reaches 4 GiB, and a signed
    // shift turns an offset from 2^31 up negative.
    this.#u32 = new Uint32Array(sab, 0, sab.byteLength / 4);
    this.#i32 = new Int32Array(sab, 0, sab.byteLength / 4);
    this.#state = new Uint8Array(slots);
    this.#valid = new Uint8Array(slots);
    this.#delivered = new Uint8Array(slots);
    this.#endedOk = new Uint8Array(slots);
    this.#xfers = new Array<Xfer | undefined>(slots).fill(undefined);
    this.#headers = new Uint32Array(slots);
    this.#usedLen = new Uint32Array(slots);
    this.#request = new Uint32Array(slots);
    this.#response = new Uint32Array(slots);
    this.#record = newChannelRecord(setup.counters);
    driver.diagnostics.channels.set(this.#label, this.#record);
    // One virtio buffer per slot (a chain of two descriptors), as the diagnostics count them.
    for (let s = 0; s < slots; s++) {
      this.#request[s] = driver.memory.allocate(this.#pdu);
      this.#response[s] = driver.memory.allocate(this.#pdu);
      driver.diagnostics.buffersAllocated++;
    }
    for (let s = slots - 1; s >= 0; s--) this.#free.push(s);
    if (this.#polling) vq.disableInterrupts();
    else vq.enableInterrupts();
  }

  /**
   * Writes the command into a free slot, makes it available and notifies the device (unless
   * suppressed). With every slot held by the device it waits for one, at most `slotWaitMs`. A
   * polling channel first takes back the buffers the device returned for commands that timed out
   * (no notification would), and while commands wait it looks again every millisecond.
   *
   * @throws ScmiShutdownError after quiesce; ScmiTransportError `E_VIRTIO_DEVICE` when the device is
   * not live or the cmdq is broken (also for a command waiting for a slot when it breaks),
   * `E_VIRTIO_BUSY` when no slot came back in time: `slotWaitMs`, or the command's own timeout
   * (`xfer.timeoutMs`, else the agent's `rxTimeoutMs`) if
   * shorter when every slot is held by the device for a command that ended (`abandonedSlots`:
   * only a late reply brings one back).
   */
  public send(xfer: Xfer): void | Promise<void> {
    if (this.#guard.closed || this.#freed) throw new ScmiShutdownError(this.#setup.agent, 'send');
    if (!this.#driver.live) throw this.#notLiveError();
    if (this.#vq.broken !== undefined) throw this.#brokenError();
    if (xfer.txLen > this.#maxPayload) {
      throw new ScmiTransportError(
        'E_VIRTIO_OVERSIZE',
        `${this.#setup.agent}: ${xfer.txLen} bytes exceed the wire's ${this.#maxPayload}`,
      );
    }
    // Polling: nothing else may drain the used ring now, and the device may have returned the
    // buffers of commands that timed out (abandoned slots): take them back first.
    if (this.#polling && this.#free.length === 0) {
      this.#reclaimPolled();
      // What the device returned may have broken the cmdq: fail now, not after slotWaitMs.
      if (this.#isBroken()) throw this.#brokenError();
    }
    const slot = this.#free.pop();
    if (slot !== undefined) {
      this.#post(slot, xfer);
      return;
    }
    // Every slot held by the device for a command that ended: one comes back only with a late
    // reply, if the platform is slow rather than gone. Wait for that no longer than the agent
    // waits for this command's reply (its own timeoutMs, else rxTimeoutMs), not slotWaitMs (60 s
    // by default) per command: a command then fails no later than it would have timed out on
    // the wire. (Linux's `virtio_send_message` fails at once with -EBUSY on an empty free list.)
    const abandonedOnly = this.#record.abandonedSlots === this.#state.length;
    const waitMs = abandonedOnly
      ? Math.min(this.#driver.config.slotWaitMs, xfer.timeoutMs ?? this.#setup.rxTimeoutMs)
      : this.#driver.config.slotWaitMs;
    return new Promise<void>((resolve, reject) => {
      const waiter: SlotWaiter = {
        xfer,
        resolve,
        reject,
        timer: this.#setup.clock.setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(
            new ScmiTransportError(
              'E_VIRTIO_BUSY',
              abandonedOnly
                ? `${this.#setup.agent}: every cmdq buffer stayed with the device for a command that ended (none came back in ${waitMs} ms)`
                : `${this.#setup.agent}: every cmdq buffer stayed with the device for ${waitMs} ms`,
            ),
          );
        }, waitMs),
      };
      this.#waiters.push(waiter);
      try {
        this.#armSlotPoll();
      } catch (error: unknown) {
        // The clock could not arm the poll: this command does not wait (left queued, a slot
        // would be handed to it later and its command sent after core failed it).
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.timer.cancel();
        throw error;
      }
    });
  }

  /**
   * Polling mode: drains the used ring (notifications stay suppressed) outside any command's poll,
   * so that buffers returned for abandoned slots are released (to a waiting command first).
   */
  #reclaimPolled(): void {
    if (!this.#guard.enter()) return;
    try {
      this.#vq.disableInterrupts();
      this.#drain(false);
    } finally {
      this.#guard.exit();
    }
  }

  /**
   * Polling mode, commands waiting for a slot: looks at the used ring every
   * {@link SLOT_POLL_MS} until none waits — the commands in flight may all be abandoned, and
   * then no command's poll would ever take their buffers back.
   */
  #armSlotPoll(): void {
    if (!this.#polling || this.#slotPoll !== undefined || this.#waiters.length === 0) return;
    this.#slotPoll = this.#setup.clock.setTimeout(this.#pollForSlots, SLOT_POLL_MS);
  }

  readonly #pollForSlots = (): void => {
    this.#slotPoll = undefined;
    if (this.#freed || this.#guard.closed || this.#waiters.length === 0) return;
    this.#reclaimPolled();
    this.#armSlotPoll();
  };

  /** Fails every command waiting for a slot with `error`, and stops looking for slots. */
  #failWaiters(error: Error): void {
    this.#slotPoll?.cancel();
    this.#slotPoll = undefined;
    for (const w of this.#waiters.splice(0)) {
      w.timer.cancel();
      w.reject(error);
    }
  }

  /**
   * The device needs a reset (DEVICE_NEEDS_RESET) or its end closed: commands waiting for a slot
   * fail now with `E_VIRTIO_DEVICE` instead of being sent to it when a slot comes back, and so do
   * those in flight (core's `failInFlight`) instead of each waiting out its timeout; their slots
   * stay abandoned, the device's until the reset.
   */
  public deviceFailed(): void {
    this.#lost(this.#notLiveError());
  }

  /**
   * Nothing more will come back on the cmdq: fails the commands waiting for a slot and, through
   * the RX guard, those in flight (core's `failInFlight`) — after taking what the device did
   * return before it failed: the used ring is drained once more unless it is broken (in worker
   * mode the configuration signal may overtake the used-buffer interrupt; a polling channel looks
   * only at its polls), and every response taken and not yet delivered (a polling drain
   * delivers each at its own command's next poll) is delivered now: a good one is not lost, and
   * one the driver refused completes with `COMMS_ERROR` as it would have at its poll.
   * After quiesce there is nothing left to fail (core's shutdown failed it), and nothing is
   * called into core.
   */
  #lost(error: ScmiTransportError): void {
    this.#failWaiters(error);
    // A drain below that breaks the cmdq comes back here: the call running goes on.
    if (this.#losing) return;
    const guard = this.#guard;
    if (guard.closed || !guard.enter()) return;
    this.#losing = true;
    try {
      if (this.#vq.broken === undefined && !this.#freed) {
        if (this.#polling) this.#vq.disableInterrupts();
        this.#drain(!this.#polling);
      }
      const sink = this.#setup.sink;
      for (let slot = 0; slot < this.#state.length; slot++) {
        if (
          this.#state[slot] === RETURNED &&
          this.#delivered[slot] === 0 &&
          this.#xfers[slot] !== undefined
        ) {
          this.#delivered[slot] = 1;
          sink.rx(this.#headers[slot] as number, slot);
        }
      }
      sink.failInFlight(error);
    } finally {
      this.#losing = false;
      guard.exit();
    }
  }

  #notLiveError(): ScmiTransportError {
    return new ScmiTransportError(
      'E_VIRTIO_DEVICE',
      `${this.#setup.agent}: the virtio device is not live`,
    );
  }

  #post(slot: number, xfer: Xfer): void {
    const request = this.#request[slot] as number;
    const response = this.#response[slot] as number;
    const n = xfer.txLen;
    this.#u32[request >>> 2] = xfer.header;
    const u8 = this.#u8;
    const tx = xfer.tx;
    const base = request + 4;
    for (let i = 0; i < n; i++) u8[base + i] = tx[i] as number;
    // A header no command has: a buffer returned unwritten cannot pass for a response.
    this.#u32[response >>> 2] = 0;
    const head = slot << 1;
    const ring = this.#vq.ring;
    ring.writeDesc(head, request, 4 + n, NEXT, head + 1);
    ring.writeDesc(head + 1, response, this.#pdu, WRITE, 0);
    this.#state[slot] = IN_FLIGHT;
    this.#valid[slot] = 0;
    this.#delivered[slot] = 0;
    this.#usedLen[slot] = 0;
    this.#xfers[slot] = xfer;
    this.#headers[slot] = xfer.header;
    this.#slotOfToken[xfer.token] = slot;
    this.#vq.publish(head, this.#pdu);
    // The first command of a burst notifies at once (the device starts while core finishes its
    // bookkeeping); the rest of the burst — the commands sent from the continuations of one
    // used-buffer drain — share one notification after them.
    if (this.#kickQueued) return;
    if (this.#vq.kickPrepare()) this.#driver.kick();
    this.#kickQueued = true;
    // A reaction on a settled promise, not queueMicrotask: Node wraps each queueMicrotask callback
    // in an AsyncResource (about 100 ns more per command, on the round trip's critical path).
    // #kick cannot throw: kickPrepare reads the ring, and a doorbell's ring never throws.
    void SETTLED.then(this.#kick);
  }

  /**
   * Notifies the device of the commands made available since the burst's first one, unless none
   * were or EVENT_IDX / `NO_NOTIFY` suppresses it.
   */
  readonly #kick = (): void => {
    this.#kickQueued = false;
    if (this.#freed) return;
    if (this.#vq.kickPrepare()) this.#driver.kick();
  };

  /** A `#redrain` is scheduled and has not run yet: passes out of budget schedule one at most. */
  #redrainQueued = false;
  /**
   * The rest of a drain pass that ran out of budget (see {@link CmdqChannel.#drain}). Like
   * {@link CmdqChannel.#poll}, it is not a device callback: a channel quiesced or freed meanwhile is
   * left alone, and nothing is counted as refused.
   */
  readonly #redrain = (): void => {
    this.#redrainQueued = false;
    if (this.#freed || this.#guard.closed) return;
    this.onUsedBuffers();
  };

  /**
   * The next look at the cmdq after a drain that took used buffers (see {@link CmdqChannel.#drain}).
   * A channel quiesced or freed meanwhile is left alone: this is not a device callback, so nothing
   * is counted as refused.
   */
  readonly #poll = (): void => {
    this.#pollQueued = false;
    if (this.#freed || this.#guard.closed) return;
    this.onUsedBuffers();
  };

  /**
   * A used-buffer notification (from the driver's interrupt listener, shared with the eventq). One
   * that finds the cmdq idle (nothing returned, interrupts enabled) returns at once: it was the
   * eventq's, or its buffers were taken already.
   */
  public onUsedBuffers(): void {
    if (this.#polling || this.#vq.idle) return;
    if (!this.#guard.enter()) {
      // The interrupt is shared with the eventq: refused here only if the cmdq had something.
      this.#setup.counters.refusedAfterQuiesce += this.#vq.newlyUsed();
      return;
    }
    try {
      if (this.#freed)
        this.#driver.diagnostics.violations.push(`${this.#label}: used buffers handled after free`);
      this.#drain(true);
    } finally {
      this.#guard.exit();
    }
  }

  /**
   * Takes every used element; `deliver` hands valid responses to core at once (interrupt mode).
   * One pass takes at most twice the queue size, then leaves the rest to a new task, so that a
   * device returning elements without pause cannot hold the agent's thread.
   *
   * In interrupt mode with `pollAfterDrain` (off by default), a pass that took
   * buffers ends with interrupts disabled and one more look scheduled as a task (NAPI-style): the
   * continuations of the responses just delivered run first and send their next commands, and
   * while the device keeps returning buffers the driver keeps taking them without an interrupt
   * each. Without it (the default: on a shared wire the interrupt doorbell polls after each
   * wake-up already, see the option), and in any pass that finds the queue
   * empty, the pass enables interrupts again and re-checks (`virtqueue_enable_cb`), so a buffer
   * returned meanwhile is never left unseen.
   */
  #drain(deliver: boolean): void {
    try {
      this.#drainPass(deliver);
    } finally {
      // Slots the pass took back from abandoned transfers go to waiting commands (or the free
      // list) only now: re-posted during the pass, a second element naming the same buffer in
      // it would pass for the new command's return, while the device never took that command.
      const returned = this.#returned;
      if (returned.length !== 0) {
        for (let i = 0; i < returned.length; i++) this.#release(returned[i] as number);
        returned.length = 0; // not on every drain: setting an array's length is a builtin call
      }
    }
  }

  #drainPass(deliver: boolean): void {
    const vq = this.#vq;
    if (vq.broken !== undefined) return;
    const el = this.#used;
    const sink = this.#setup.sink;
    let took = 0;
    // No notification per element while the pass takes them: enableInterrupts at its end asks
    // again and looks once more (Linux scmi_vio_complete_cb: virtqueue_disable_cb first).
    if (deliver) vq.suspendInterrupts();
    for (let budget = 2 * vq.size; ; budget--) {
      if (budget === 0) {
        if (deliver && !this.#redrainQueued) {
          this.#redrainQueued = true;
          this.#setup.clock.schedule(this.#redrain);
        }
        return;
      }
      const taken = vq.take(el);
      if (taken === 'empty') {
        if (!deliver) return;
        if (took > 0 && this.#pollAfterDrain) {
          vq.disableInterrupts();
          if (!this.#pollQueued) {
            this.#pollQueued = true;
            this.#setup.clock.schedule(this.#poll);
          }
          return;
        }
        // Buffers came back meanwhile: take them, asking for no notification again (Linux
        // loops back to virtqueue_disable_cb).
        if (vq.enableInterrupts()) {
          vq.suspendInterrupts();
          continue;
        }
        return;
      }
      if (taken === 'bad-index' || taken === 'bad-id' || taken === 'not-in-flight') {
        this.#broke(taken);
        return;
      }
      took++;
      // Only even heads are made available, so an accepted id is the head of slot id / 2.
      const slot = el.id >> 1;
      if (taken === 'oversize') sink.badMessage('oversize');
      this.#usedLen[slot] = el.len;
      if (this.#state[slot] === ABANDONED) {
        // The buffer is back either way; the reply counts as late only if it is one (a reply
        // with a bad length or another command's header is counted by #check as what it is).
        // One for a transfer that ended well (its delayed response overtook it) is no late reply:
        // a response after its delayed response, counted overtaken (as core counts one it is
        // handed; Linux's scmi_msg_response_validate counts it an error). One returned with nothing written is the
        // device giving an abandoned command back unanswered (this package's device does when
        // the agent reuses the header: supersededCommands): no reply, late or bad.
        if (taken === 'ok' && el.len !== 0 && this.#check(slot)) {
          if (this.#endedOk[slot] === 1) this.#setup.counters.overtakenResponses++;
          else this.#setup.counters.lateReplies++;
        }
        this.#driver.diagnostics.lateReturns++;
        this.#record.abandonedSlots--;
        this.#state[slot] = RETURNED_ABANDONED;
        this.#returned.push(slot);
        continue;
      }
      this.#state[slot] = RETURNED;
      // A reply it cannot use (a length past the buffer or under a header and status, another
      // command's header) is counted by #check and still handed over: the buffer is back, so
      // nothing else will come for this command, and fetchResponse fails it with COMMS_ERROR now
      // instead of leaving it to wait out its timeout.
      if (taken === 'ok' && this.#check(slot)) this.#valid[slot] = 1;
      if (deliver) {
        this.#delivered[slot] = 1;
        sink.rx(this.#headers[slot] as number, slot);
      }
    }
  }

  /** Whether the cmdq is broken (a call, so that it is read again after one that may break it). */
  #isBroken(): boolean {
    return this.#vq.broken !== undefined;
  }

  #brokenError(): ScmiTransportError {
    return new ScmiTransportError(
      'E_VIRTIO_DEVICE',
      `${this.#setup.agent}: the cmdq is broken (the device corrupted its used ring: ${this.#vq.broken}); it is no longer used`,
    );
  }

  /**
   * The device corrupted the used ring (the virtqueue broke in `take`): counted once as `invalid`
   * and recorded; the commands waiting for a slot and those in flight fail now with
   * `E_VIRTIO_DEVICE` (the used ring is not read again: none will come back). Their buffers go
   * back at the reset.
   */
  #broke(defect: UsedRingDefect): void {
    this.#driver.recordBroken(this.#record, this.#setup.sink, defect);
    this.#lost(this.#brokenError());
  }

  /** Whether the returned slot holds a response to its own command; counts the rejection if not. */
  #check(slot: number): boolean {
    const sink = this.#setup.sink;
    if ((this.#usedLen[slot] as number) < 8) {
      sink.badMessage('invalid');
      return false;
    }
    const got = this.#u32[(this.#response[slot] as number) >>> 2] as number;
    const reason = replyHeaderDefect(got, this.#headers[slot] as number);
    if (reason === undefined) return true;
    sink.badMessage(reason);
    return false;
  }

  #slotOf(xfer: Xfer): number {
    const slot = this.#slotOfToken[xfer.token] as number;
    return slot >= 0 && this.#xfers[slot] === xfer ? slot : -1;
  }

  /**
   * Copies the response (status, returns) from the slot's writable buffer; the length was checked.
   * A slot returned with a reply the driver refused (counted as a bad message when it came back)
   * completes with `COMMS_ERROR`: the device gave the buffer back without a usable response.
   */
  public fetchResponse(xfer: Xfer, ctx: unknown): void {
    const slot = typeof ctx === 'number' ? ctx : this.#slotOf(xfer);
    if (slot < 0 || this.#xfers[slot] !== xfer || this.#state[slot] !== RETURNED) {
      xfer.receiveResponse(ScmiStatus.PROTOCOL_ERROR, EMPTY, 0, 0);
      return;
    }
    if (this.#valid[slot] !== 1) {
      xfer.receiveResponse(ScmiStatus.COMMS_ERROR, EMPTY, 0, 0);
      return;
    }
    const response = this.#response[slot] as number;
    const len = Math.min(this.#usedLen[slot] as number, this.#pdu);
    xfer.receiveResponse(
      this.#i32[(response + 4) >>> 2] as number,
      this.#u8,
      response + 8,
      len - 8,
    );
  }

  /** The cmdq carries no notifications. */
  public fetchNotification(buffer: NotificationBuffer): void {
    buffer.receive(EMPTY, 0, 0);
  }

  /**
   * Polling mode: drains the used ring (notifications stay suppressed) and says whether `xfer`'s
   * slot came back — with a valid response, or with one the driver refused (then fetched as
   * `COMMS_ERROR`). Interrupt mode: false — the used ring is consumed by
   * notifications only, so a response whose notification is late does not beat the timeout (as
   * Linux's `virtio_poll_done` serves polled transfers only); it is dropped and counted when it
   * is finally handled.
   */
  public pollDone(xfer: Xfer): boolean {
    if (!this.#polling) return false;
    if (!this.#guard.enter()) {
      this.#setup.counters.refusedAfterQuiesce++;
      return false;
    }
    try {
      if (this.#freed)
        this.#driver.diagnostics.violations.push(`${this.#label}: polled after free`);
      const slot = this.#slotOf(xfer);
      if (slot < 0) return false;
      if (this.#state[slot] !== RETURNED) {
        this.#vq.disableInterrupts();
        this.#drain(false);
      }
      if (this.#state[slot] === RETURNED && this.#delivered[slot] === 0) {
        this.#delivered[slot] = 1;
        return true;
      }
      return false;
    } finally {
      this.#guard.exit();
    }
  }

  /**
   * The transfer is over. A slot the device returned is free again (its good reply, if the failed
   * transfer never took it, counted late); one it still holds is abandoned — never reused while
   * the device may still write into it.
   */
  public markTxDone(xfer: Xfer, error: unknown): void {
    const slot = this.#slotOf(xfer);
    if (slot < 0) return;
    this.#slotOfToken[xfer.token] = -1;
    this.#xfers[slot] = undefined;
    if (this.#state[slot] === RETURNED) {
      // Polling: a good reply a drain took (another command's poll, the quiesce's, a send's
      // take-back) that its transfer never took: late when the transfer failed first (shutdown);
      // when it ended well (its delayed response came first), a response its delayed response
      // overtook, as in interrupt mode.
      if (this.#valid[slot] === 1 && this.#delivered[slot] === 0) {
        if (error !== undefined) this.#setup.counters.lateReplies++;
        else this.#setup.counters.overtakenResponses++;
      }
      this.#release(slot);
    } else if (this.#state[slot] === IN_FLIGHT) {
      this.#state[slot] = ABANDONED;
      this.#record.abandonedSlots++;
      this.#endedOk[slot] = error === undefined ? 1 : 0;
    }
  }

  #release(slot: number): void {
    this.#state[slot] = FREE;
    this.#xfers[slot] = undefined;
    // No waiter is left once the cmdq broke, quiesced or the device failed (they failed then).
    let waiter = this.#guard.closed ? undefined : this.#waiters.shift();
    // A waiter whose transfer core already failed (the agent's shutdown fails every transfer
    // before its channels quiesce) is refused, never sent: its caller was told it failed, and the
    // platform must not carry it out (as the mailbox and OP-TEE channels refuse theirs).
    while (waiter !== undefined && waiter.xfer.state !== 'sent') {
      waiter.timer.cancel();
      waiter.reject(new ScmiShutdownError(this.#setup.agent, 'send'));
      waiter = this.#waiters.shift();
    }
    if (waiter === undefined) {
      this.#free.push(slot);
      return;
    }
    waiter.timer.cancel();
    this.#post(slot, waiter.xfer);
    waiter.resolve();
  }

  /**
   * Fails commands waiting for a slot; polling, takes back the buffers the device returned for
   * commands that ended (their late replies counted, as a later command's look would count them —
   * none comes now); then refuses callbacks (counting them) and waits for running ones.
   */
  public quiesce(): Promise<void> {
    this.#failWaiters(new ScmiShutdownError(this.#setup.agent, 'send'));
    if (this.#polling && !this.#freed && this.#vq.broken === undefined) this.#reclaimPolled();
    return this.#guard.quiesce();
  }

  /**
   * Frees the slots' buffers (one virtio buffer per slot). Runs after the driver's reset (devres
   * order): when the device acknowledged it, the buffers it still held are reclaimed too (once);
   * otherwise they are left to it and counted as leaked. Idempotent.
   */
  public free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#record.frees++;
    const d = this.#driver.diagnostics;
    for (let s = 0; s < this.#state.length; s++) {
      const st = this.#state[s];
      if ((st === IN_FLIGHT || st === ABANDONED) && !this.#driver.reclaimHeldBuffer()) continue;
      this.#state[s] = FREE;
      this.#xfers[s] = undefined;
      this.#driver.memory.free(this.#request[s] as number);
      this.#driver.memory.free(this.#response[s] as number);
      d.buffersAllocated--;
      this.#record.buffersFreed++;
    }
    this.#free.length = 0;
  }
}
