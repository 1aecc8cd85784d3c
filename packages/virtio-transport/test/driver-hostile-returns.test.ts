/**
 * The driver against a device that returns what it should not (found by an adversarial review):
 * the same cmdq buffer twice in one pass while a command waits for a slot, a used index moved back
 * and forth under the eventq's re-check, a response after its own delayed response, and a polling
 * cmdq broken by what `send` itself takes back.
 */
import {
  ScmiMessageType,
  ScmiStatus,
  ScmiTimeoutError,
  buildHeader,
  encodeMsgResponse,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ClockMessageId } from '@scmi-ts/platform';
import {
  DescriptorChain,
  DriverVirtqueue,
  SplitRing,
  type DeviceVirtqueue,
} from '@scmi-ts/virtio-transport';
import { watch } from '../../core/test/support/fuzz.js';
import type { ManualDevice } from './support/manual-device.js';
import { manualRig } from './support/manual-rig.js';

function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('undefined');
  return value;
}

/** Sends an asynchronous CLOCK_RATE_SET (clock 1, 400 MHz): its response, then a delayed response. */
function rateSetAsync(agent: ScmiAgent): Promise<Uint8Array> {
  return agent.transact(
    0x14,
    ClockMessageId.RATE_SET,
    (wr) => {
      wr.u32(1);
      wr.u32(0);
      wr.u32(400_000_000);
      wr.u32(0);
    },
    { txSize: 16, async: true, rxSize: 12 },
  );
}

/** The one command the device holds (`holdCommands`): its chain and the header it carries. */
function heldCommand(device: ManualDevice): {
  cmdq: DeviceVirtqueue;
  head: number;
  chain: DescriptorChain;
  header: number;
} {
  expect(device.heldCommands).toHaveLength(1);
  const head = device.heldCommands[0] as number;
  const cmdq = defined(device.cmdq);
  const chain = new DescriptorChain(8);
  expect(cmdq.walk(head, chain)).toBeUndefined();
  const req = new Uint8Array(64);
  cmdq.readChain(chain, req);
  return { cmdq, head, chain, header: new DataView(req.buffer).getUint32(0, true) };
}

/**
 * Returns the held command's buffer with a SUCCESS response echoing its header (no interrupt),
 * `times` used elements for it in one batch (2: a duplicate).
 */
function returnResponse(held: ReturnType<typeof heldCommand>, times = 1): void {
  const resp = encodeMsgResponse(held.header, 0);
  const len = held.cmdq.writeChain(held.chain, resp, resp.byteLength);
  for (let i = 0; i < times; i++) held.cmdq.pushUsed(held.head, len);
  held.cmdq.publishUsed();
}

/** The delayed response of the CLOCK_RATE_SET with header `header` (rate 400 MHz). */
function rateSetDelayedResponse(header: number): Uint8Array {
  const token = (header >>> 18) & 0x3ff;
  return encodeMsgResponse(
    buildHeader(ClockMessageId.RATE_SET, ScmiMessageType.DELAYED_RESPONSE, 0x14, token),
    0,
    new Uint8Array([0, 0, 0, 0, 0x00, 0x84, 0xd7, 0x17, 0, 0, 0, 0]),
  );
}

/**
 * The device gives a waiting command's buffer back with a reply the driver refuses (counted as
 * what it is): nothing else can come for that command, so it fails at once with COMMS_ERROR
 * instead of waiting out its timeout (Linux hands every used buffer to the core, which fails or
 * completes its transfer then, `scmi_vio_complete_cb`).
 */
describe('cmdq: a buffer returned with a reply the driver refuses', () => {
  it.each([
    ['shorter than a header and a status', 'short', false],
    ["with another command's header", 'header', false],
    ['past the writable buffer', 'oversize', false],
    ['shorter than a header and a status (polling)', 'short', true],
    ["with another command's header (polling)", 'header', true],
  ] as const)(
    'should fail the command at once with COMMS_ERROR, the reply %s counted, and reuse the slot',
    async (_what, forge, polling) => {
      // A manual clock: time moves only when the test says (one cmdq slot).
      const { clock, platform, device, probe } = manualRig(false, 2);
      const agent = await probe({ maxMsg: 2, rxTimeoutMs: 60_000, a2p: [{ id: 0, polling }] });
      device.holdCommands = true;
      const outcome = watch(agent.base.discoverVendor());
      await clock.runTasks();
      const held = heldCommand(device);
      const resp = encodeMsgResponse(
        forge === 'header' ? (held.header ^ (1 << 18)) >>> 0 : held.header,
        0,
      );
      const len = held.cmdq.writeChain(held.chain, resp, resp.byteLength);
      held.cmdq.pushUsed(held.head, forge === 'short' ? 4 : forge === 'oversize' ? 4096 : len);
      held.cmdq.publishUsed();
      device.heldCommands.length = 0;
      device.doorbells.interrupt.ring();
      await clock.runTasks();
      if (polling) await clock.advance(5); // a poll or two, far from the 60 s timeout
      expect(outcome.settled).toBe(true);
      expect(outcome.error).toMatchObject({ status: ScmiStatus.COMMS_ERROR });
      const stats = defined(agent.diagnostics.channels.find((c) => c.label === 'a2p:0')).stats;
      const b = stats.badMessages;
      expect([b.invalid + b.unexpected + b.oversize, stats.timeouts, stats.lateReplies]).toEqual([
        1, 0, 0,
      ]);
      // The slot is free again: the next command goes out and is answered.
      device.holdCommands = false;
      const next = agent.base.discoverVendor();
      await clock.runUntilIdle();
      expect(await next).toBe('scmi-ts');
      const removing = agent.remove();
      await clock.runUntilIdle();
      await removing;
      platform.close();
    },
  );
});

/**
 * A device that never returns the buffers of commands that timed out: their slots stay abandoned
 * (counted), and once every slot is, a command waits for a late reply to free one no longer than
 * the agent's rxTimeoutMs — not `slotWaitMs` (60 s) each — then fails with E_VIRTIO_BUSY (Linux's
 * `virtio_send_message` fails at once with -EBUSY on an empty free list). A buffer that comes back
 * makes its slot usable again.
 */
describe('cmdq: every slot held by the device for commands that timed out', () => {
  it("should count the abandoned slots, bound a new command's wait by rxTimeoutMs, and recover when a buffer comes back", async () => {
    const { clock, platform, wire, device, probe } = manualRig(false, 4); // two cmdq slots
    const agent = await probe({ maxMsg: 4, rxTimeoutMs: 30 });
    const record = defined(wire.driverDiagnostics.channels.get('a2p:0'));
    device.holdCommands = true;
    const timedOut = [watch(agent.base.discoverVendor()), watch(agent.base.discoverSubVendor())];
    await clock.advance(30);
    for (const w of timedOut) expect(w.error).toBeInstanceOf(ScmiTimeoutError);
    expect(record.abandonedSlots).toBe(2);
    const refused = watch(agent.base.discoverVendor());
    await clock.advance(29);
    expect(refused.settled).toBe(false);
    await clock.advance(1);
    expect(refused.error).toMatchObject({ code: 'E_VIRTIO_BUSY' });
    // A command with a timeout of its own waits no longer than it.
    const own = watch(agent.transact(0x10, 0x3, undefined, { timeoutMs: 5 }));
    await clock.advance(4);
    expect(own.settled).toBe(false);
    await clock.advance(1);
    expect(own.error).toMatchObject({ code: 'E_VIRTIO_BUSY' });
    // A waiting command gets the slot a late return frees.
    const waiting = watch(agent.base.discoverSubVendor());
    await clock.advance(10);
    const first = defined(device.heldCommands.shift());
    const cmdq = defined(device.cmdq);
    cmdq.pushUsed(first, 0); // given back unanswered
    cmdq.publishUsed();
    device.holdCommands = false;
    device.doorbells.interrupt.ring();
    await clock.runUntilIdle();
    expect(waiting.value).toBe('emulated');
    expect(record.abandonedSlots).toBe(1);
    const removing = agent.remove();
    await clock.runUntilIdle();
    await removing;
    platform.close();
  });
});

/**
 * The device returns the same cmdq head twice in one batch (one used.idx store). The first element
 * is for an abandoned slot (its command timed out), and a command waits for a slot. The slot goes
 * to the waiting command only when the pass ends, so the second element names a buffer not in
 * flight and breaks the cmdq, as the same batch does with no command waiting. (Released inside the
 * pass, the slot was re-posted at once and the duplicate passed for the new command's return,
 * which the device never took; the slot was later reused while the device held it.)
 */
describe('cmdq: the same id twice in one batch while a command waits for a slot', () => {
  it('should refuse the duplicate (not in flight), as it does without a waiter', async () => {
    const { clock, platform, wire, device, create } = manualRig(true, 2); // one cmdq slot
    const agent = await create({ maxMsg: 2 });
    device.holdCommands = true;
    // A: times out, its slot abandoned (the device holds head 0).
    await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiTimeoutError);
    // B: waits for the slot.
    const b = agent.base.discoverSubVendor().then(
      () => 'answered',
      (e: unknown) => (e instanceof ScmiTimeoutError ? 'timeout' : (e as { code?: string }).code),
    );
    await Promise.resolve();
    returnResponse(heldCommand(device), 2); // A's response and its duplicate, in one batch
    device.doorbells.interrupt.ring();
    await clock.runTasks();
    const record = defined(wire.driverDiagnostics.channels.get('a2p:0'));
    const outcomeB = await b;
    // Let the device look at the available ring again, then send C into the slot B freed.
    device.doorbells.notify.ring();
    await clock.runTasks();
    const c = agent.base.discoverVendor().catch(() => undefined);
    await clock.runTasks();
    await c;
    expect({
      broken: record.broken,
      outcomeB,
      // heads the device took from the available ring without having returned them
      heldByDevice: device.heldCommands.slice(1),
    }).toEqual({ broken: 'not-in-flight', outcomeB: 'E_VIRTIO_DEVICE', heldByDevice: [] });
    await agent.remove();
    platform.close();
  });

  it('control: the same batch without a waiter breaks the cmdq', async () => {
    const { clock, platform, wire, device, create } = manualRig(true, 2);
    const agent = await create({ maxMsg: 2 });
    device.holdCommands = true;
    await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiTimeoutError);
    returnResponse(heldCommand(device), 2);
    device.doorbells.interrupt.ring();
    await clock.runTasks();
    expect(defined(wire.driverDiagnostics.channels.get('a2p:0')).broken).toBe('not-in-flight');
    await agent.remove();
    platform.close();
  });
});

/**
 * A hostile device in another thread that flips used.idx between last_used_idx and
 * last_used_idx + 1: `take` sees nothing, `enableInterrupts` sees one more element, and the pass
 * looks again. Simulated deterministically by spying on SplitRing.loadUsedIdx for the ring under
 * attack (`flips` reads). Each queue bounds a pass to 2 × its size of looks.
 */
function flipUsedIdx(
  usedOffset: number,
  flips: number,
): { calls: () => number; restore: () => void } {
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const real = SplitRing.prototype.loadUsedIdx;
  let n = 0;
  const spy = jest.spyOn(SplitRing.prototype, 'loadUsedIdx').mockImplementation(function (
    this: SplitRing,
  ) {
    const v = real.call(this);
    if (this.layout.used !== usedOffset || n >= flips) return v;
    n++;
    // odd reads (take) see the true index, even reads (enableInterrupts) see one more.
    return n % 2 === 1 ? v : (v + 1) & 0xffff;
  });
  return { calls: () => n, restore: () => spy.mockRestore() };
}

describe('drain pass bound against a device flipping used.idx', () => {
  it.each([
    ['eventq', 4],
    ['cmdq', 16],
  ] as const)(
    '%s: should end a pass after its budget (2 × the queue size of looks), looking again in a task',
    async (queue, size) => {
      const { clock, platform, wire, device, create } = manualRig();
      const agent = await create();
      const ring = queue === 'eventq' ? wire.eventqRing(wire.layout.eventqSize) : wire.cmdqRing(16);
      const flip = flipUsedIdx(ring.layout.used, 200_000);
      let ranBetween = -1;
      try {
        device.doorbells.interrupt.ring(); // one interrupt, nothing new in the ring
        clock.schedule(() => {
          ranBetween = flip.calls();
        });
        await clock.runTasks();
      } finally {
        flip.restore();
      }
      // Two reads of used.idx per look: a task queued behind the first pass runs after it.
      expect(ranBetween).toBeLessThanOrEqual(2 * 2 * size + 2);
      await agent.remove();
      platform.close();
    },
  );
});

/**
 * The device sends the delayed response of an asynchronous command before it returns the cmdq
 * buffer with the command's response. Core takes the delayed response (the response assumed
 * successful, as Linux does) and the transfer ends while the device holds the buffer. The response
 * that comes after is a response its delayed response overtook — counted `overtakenResponses`, as
 * core counts one it is handed (Linux's scmi_msg_response_validate rejects it in
 * SCMI_XFER_DRESP_OK as an error) — not a late reply (nothing timed out), not a bad message.
 */
describe('cmdq response arriving after its own delayed response', () => {
  it('is not a late reply (no command timed out)', async () => {
    const { clock, platform, wire, device, create } = manualRig();
    const agent = await create();
    device.holdCommands = true;
    const done = rateSetAsync(agent);
    await clock.runTasks();
    const held = heldCommand(device);
    // 1. the delayed response, on the eventq
    device.event(device.eventHeads.shift() as number, rateSetDelayedResponse(held.header));
    await clock.runTasks();
    await done;
    // 2. the synchronous response, in the cmdq buffer, echoing the command's header
    returnResponse(held);
    device.doorbells.interrupt.ring();
    await clock.runTasks();
    const a2p = defined(wire.driverDiagnostics.channels.get('a2p:0')).counters;
    expect(a2p.timeouts).toBe(0);
    // The transfer completed (markTxDone got error === undefined): this is no late reply and no
    // bad message, but the response its delayed response overtook.
    expect(a2p.lateReplies).toBe(0);
    expect(Object.values(a2p.badMessages).reduce((n, v) => n + v, 0)).toBe(0);
    expect(a2p.overtakenResponses).toBe(1);
    await agent.remove();
    platform.close();
  });
});

/**
 * Polling cmdq, every slot held by the device (the command timed out: slot abandoned). The next
 * `send` takes the used ring back itself and finds a corrupt element there: the cmdq breaks inside
 * that send, which then fails at once with E_VIRTIO_DEVICE (as `send` documents for a broken cmdq)
 * rather than waiting slotWaitMs for a slot that will never come back.
 */
describe('polling cmdq breaking inside send()', () => {
  it('should fail the command at once with E_VIRTIO_DEVICE, not park it as a slot waiter', async () => {
    const { clock, platform, wire, device, create } = manualRig(true, 2); // one cmdq slot
    const agent = await create({
      maxMsg: 1,
      a2p: [{ id: 0, polling: true }],
      transportConfig: { wire, handshakeTimeoutMs: 50, resetTimeoutMs: 50, slotWaitMs: 5_000 },
    });
    device.holdCommands = true;
    await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiTimeoutError);
    // The device returns garbage: a used element whose id is no descriptor index.
    defined(device.cmdq).pushUsed(99, 8);
    defined(device.cmdq).publishUsed();
    const t0 = clock.now();
    const outcome = await agent.base.discoverSubVendor().then(
      () => 'answered',
      (e: unknown) => (e as { code?: string }).code,
    );
    const waited = clock.now() - t0;
    expect(wire.driverDiagnostics.channels.get('a2p:0')?.broken).toBe('bad-id');
    expect({ outcome, waited }).toEqual({ outcome: 'E_VIRTIO_DEVICE', waited: 0 });
    await agent.remove();
    platform.close();
  });
});

describe('a pass out of budget, while the device keeps the re-check busy', () => {
  it.each([
    ['eventq', 8],
    ['cmdq', 32],
  ])(
    '%s: should keep at most one rescheduled drain queued, however many interrupts arrive',
    async (which, budget) => {
      const { clock, platform, wire, device, probe } = manualRig(false);
      const agent = await probe();
      const used =
        which === 'eventq'
          ? wire.eventqRing(wire.layout.eventqSize).layout.used
          : wire.cmdqRing(16).layout.used;
      // A device that keeps the re-check after enabling interrupts busy (used.idx moved back and
      // forth): enableInterrupts() on the eventq says "more arrived", take() finds nothing.
      // eslint-disable-next-line @typescript-eslint/unbound-method
      const real = DriverVirtqueue.prototype.enableInterrupts;
      let storm = true;
      let passes = 0;
      const spy = jest
        .spyOn(DriverVirtqueue.prototype, 'enableInterrupts')
        .mockImplementation(function (this: DriverVirtqueue) {
          const r = real.call(this);
          if (this.ring.layout.used !== used) return r;
          return storm ? true : r;
        });
      // eslint-disable-next-line @typescript-eslint/unbound-method
      const realTake = DriverVirtqueue.prototype.take;
      const takeSpy = jest.spyOn(DriverVirtqueue.prototype, 'take').mockImplementation(function (
        this: DriverVirtqueue,
        out,
      ) {
        if (this.ring.layout.used === used) passes++;
        return realTake.call(this, out);
      });
      const looksPerRound: number[] = [];
      let rounds = 0;
      let last = 0;
      try {
        const round = (): void => {
          looksPerRound.push(passes - last);
          last = passes;
          if (++rounds === 12) {
            storm = false;
            return;
          }
          device.doorbells.interrupt.ring(); // one more used-buffer interrupt
          clock.schedule(round);
        };
        clock.schedule(round);
        await clock.runTasks();
      } finally {
        spy.mockRestore();
        takeSpy.mockRestore();
      }
      const removing = agent.remove();
      await clock.runUntilIdle();
      await removing;
      expect(wire.driverDiagnostics.violations).toEqual([]);
      expect(clock.pendingTasks).toBe(0);
      platform.close();
      // Looks at the eventq per round (one round = one task of the test): bounded by one pass
      // (2 x queue size = 8 looks) plus the interrupt's own pass, not growing with the interrupts.
      // Without the one-queued rule each interrupt started one more self-rescheduling drain: 0, 8,
      // 16, ... 88 looks per round on the eventq.
      expect(Math.max(...looksPerRound)).toBeLessThanOrEqual(2 * budget);
    },
  );
});

describe('cmdq: an abandoned command given back unanswered (length 0)', () => {
  it.each([
    [0, { lateReplies: 0, badMessages: 0, lateReturns: 1 }],
    [4, { lateReplies: 0, badMessages: 1, lateReturns: 1 }],
  ])('with used length %i: the buffer back, counted %o', async (len, expected) => {
    // As this package's device returns a superseded command: no reply at all, so neither a
    // late reply nor a bad message; a length of 1 to 7 is a reply too short (invalid).
    const { clock, platform, wire, device, create } = manualRig(true, 2); // one cmdq slot
    const agent = await create({ maxMsg: 2 });
    device.holdCommands = true;
    await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiTimeoutError);
    const held = heldCommand(device);
    held.cmdq.pushUsed(held.head, len);
    held.cmdq.publishUsed();
    device.doorbells.interrupt.ring();
    await clock.runTasks();
    const a2p = defined(wire.driverDiagnostics.channels.get('a2p:0')).counters;
    expect({
      lateReplies: a2p.lateReplies,
      badMessages: Object.values(a2p.badMessages).reduce((n, v) => n + v, 0),
      lateReturns: wire.driverDiagnostics.lateReturns,
    }).toEqual(expected);
    // The slot is free again: the next command is sent and answered.
    device.holdCommands = false;
    await expect(agent.base.discoverSubVendor()).resolves.toBeDefined();
    await agent.remove();
    platform.close();
  });
});

describe('polling cmdq: response drained by another look, then the delayed response completes the command', () => {
  async function run(withWaiter: boolean): Promise<{
    lateReplies: number;
    overtakenResponses: number;
    badMessages: number;
    lateReturns: number;
  }> {
    const { clock, platform, wire, device, probe } = manualRig(false, 2); // one cmdq slot
    const agent = await probe({
      maxMsg: 2,
      a2p: [{ id: 0, polling: true }],
      transportConfig: { wire, handshakeTimeoutMs: 50, resetTimeoutMs: 50, slotWaitMs: 5_000 },
    });
    device.holdCommands = true;
    let xOutcome: unknown = 'pending';
    const x = rateSetAsync(agent).then(
      () => (xOutcome = 'ok'),
      (e: unknown) => (xOutcome = e),
    );
    await clock.runTasks(); // sent; its poll sleeps on a virtual-time yield (time does not move)
    const held = heldCommand(device);
    // 1. The device returns X's (synchronous) response; polling: no interrupt.
    returnResponse(held);
    // 2. Y is sent: no free slot, so send() takes the used ring back itself (#reclaimPolled):
    //    X's slot becomes RETURNED (valid, not delivered); Y waits for a slot.
    const y = withWaiter
      ? agent.base.discoverVendor().then(
          () => 'ok',
          (e: unknown) => (e as { code?: string }).code ?? String(e),
        )
      : Promise.resolve('none');
    await clock.runTasks();
    // 3. X's delayed response, on the eventq: core completes X (the response taken as successful).
    device.event(device.eventHeads.shift() as number, rateSetDelayedResponse(held.header));
    await clock.runTasks();
    await clock.advance(1); // X's poll wakes up, sees it done; markTxDone(X, undefined)
    await x;
    expect(xOutcome).toBe('ok');
    const removing = agent.remove();
    await clock.runUntilIdle();
    await removing;
    await y;
    platform.close();
    const a2p = defined(wire.driverDiagnostics.channels.get('a2p:0')).counters;
    const bad = Object.values(a2p.badMessages).reduce((n, v) => n + v, 0);
    return {
      lateReplies: a2p.lateReplies,
      overtakenResponses: a2p.overtakenResponses,
      badMessages: bad,
      lateReturns: wire.driverDiagnostics.lateReturns,
    };
  }

  it('control: nobody else drains before markTxDone -> ABANDONED, endedOk -> counted overtaken once', async () => {
    const c = await run(false);
    expect(c).toEqual({ lateReplies: 0, overtakenResponses: 1, badMessages: 0, lateReturns: 1 });
  });

  it('should count the response when another look drained it before the delayed response completed the command', async () => {
    const c = await run(true);
    // The synchronous response that the driver took from the used ring is counted, once, as the
    // response its delayed response overtook.
    expect(c).toMatchObject({ lateReplies: 0, overtakenResponses: 1, badMessages: 0 });
  });
});
