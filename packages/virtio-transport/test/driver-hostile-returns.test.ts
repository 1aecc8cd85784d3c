/**
 * The driver against a device that returns what it should not (found by an adversarial review):
 * the same cmdq buffer twice in one pass while a command waits for a slot, a used index moved back
 * and forth under the eventq's re-check, a response after its own delayed response, and a polling
 * cmdq broken by what `send` itself takes back.
 */
import { ScmiMessageType, ScmiTimeoutError, buildHeader, encodeMsgResponse } from '@scmi-ts/core';
import { ClockMessageId } from '@scmi-ts/platform';
import { DescriptorChain, SplitRing } from '@scmi-ts/virtio-transport';
import { manualRig } from './support/manual-rig.js';

function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('undefined');
  return value;
}

/**
 * The device returns the same cmdq head twice in one batch (one used.idx store). The first element
 * is for an abandoned slot (its command timed out): #drain releases the slot *inside the pass* and
 * hands it to a command waiting for a slot, which is made available at once. The second, duplicate
 * element then names a chain "in flight" and is accepted as that new command's return — although
 * the device never took it from the available ring (same thread: no device code ran in between).
 *
 * Without a waiter the very same batch breaks the cmdq (`not-in-flight`), and the eventq defers its
 * re-queues to the end of the pass precisely so that a duplicate in one pass is refused. Here
 * instead: the new command is failed (its "response" is the zeroed header → bad message, then a
 * timeout), its slot is freed and reused while the device still holds the chain: the device ends
 * up holding the same head twice.
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
    const head = device.heldCommands[0] as number;
    const cmdq = defined(device.cmdq);
    const chain = new DescriptorChain(8);
    cmdq.walk(head, chain);
    const req = new Uint8Array(16);
    cmdq.readChain(chain, req);
    const resp = new Uint8Array(8);
    resp.set(req.subarray(0, 4)); // echo A's header, status 0
    const len = cmdq.writeChain(chain, resp, 8);
    cmdq.pushUsed(head, len);
    cmdq.pushUsed(head, len); // the duplicate, same batch
    cmdq.publishUsed();
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
    const head = device.heldCommands[0] as number;
    const cmdq = defined(device.cmdq);
    const chain = new DescriptorChain(8);
    cmdq.walk(head, chain);
    const req = new Uint8Array(16);
    cmdq.readChain(chain, req);
    const resp = new Uint8Array(8);
    resp.set(req.subarray(0, 4));
    const len = cmdq.writeChain(chain, resp, 8);
    cmdq.pushUsed(head, len);
    cmdq.pushUsed(head, len);
    cmdq.publishUsed();
    device.doorbells.interrupt.ring();
    await clock.runTasks();
    expect(defined(wire.driverDiagnostics.channels.get('a2p:0')).broken).toBe('not-in-flight');
    await agent.remove();
    platform.close();
  });
});

/**
 * A hostile device in another thread flips used.idx between last_used_idx and last_used_idx + 1.
 * take() sees "empty", enableInterrupts() sees one pending element, the pass loops again.
 * The cmdq bounds a pass (budget 2·Q, counting the `continue`s); the eventq's #drainPass is a bare
 * for(;;): the device decides how long the agent's thread spins in one pass.
 * Simulated deterministically by spying on SplitRing.loadUsedIdx for the ring under attack.
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
  it('eventq: should end a pass after its budget, looking again in a task, while the device flips the used index', async () => {
    const { clock, platform, wire, device, create } = manualRig();
    const agent = await create();
    const used = wire.eventqRing(wire.layout.eventqSize).layout.used;
    const FLIPS = 200_000;
    const flip = flipUsedIdx(used, FLIPS);
    let ranBetween = -1;
    try {
      device.doorbells.interrupt.ring(); // one notification, nothing new in the ring
      clock.schedule(() => {
        ranBetween = flip.calls();
      });
      await clock.runTasks();
    } finally {
      flip.restore();
    }
    // eventq size 4: a bounded pass would read used.idx a handful of times (cmdq: ≤ 2·Q iterations)
    expect(ranBetween).toBeLessThanOrEqual(2 * 2 * 4 + 2);
    await agent.remove();
    platform.close();
  });

  it('cmdq (control): the same flipping is bounded by the 2·Q budget', async () => {
    const { clock, platform, wire, device, create } = manualRig();
    const agent = await create();
    const used = wire.cmdqRing(16).layout.used;
    const flip = flipUsedIdx(used, 200_000);
    let ranBetween = -1;
    try {
      device.doorbells.interrupt.ring();
      clock.schedule(() => {
        ranBetween = flip.calls();
      });
      await clock.runTasks();
    } finally {
      flip.restore();
    }
    expect(ranBetween).toBeLessThanOrEqual(2 * 2 * 16 + 2);
    await agent.remove();
    platform.close();
  });
});

/**
 * The device sends the delayed response of an asynchronous command before returning the cmdq
 * buffer with the command's (synchronous) response. Core takes the delayed response (the response
 * assumed successful, as Linux does); the transfer ends, markTxDone marks the slot ABANDONED; the
 * response that comes after is then counted by the cmdq as a *late reply* — "a reply that arrived
 * after its command timed out" — although nothing timed out. Core itself counts a response after
 * the delayed response as `invalid` (transfer-engine: "duplicate, or after the delayed response"),
 * as Linux's scmi_msg_response_validate rejects it in SCMI_XFER_DRESP_OK.
 */
describe('cmdq response arriving after its own delayed response', () => {
  it('is not a late reply (no command timed out)', async () => {
    const { clock, platform, wire, device, create } = manualRig();
    const agent = await create();
    device.holdCommands = true;
    const done = agent.transact(
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
    await clock.runTasks();
    expect(device.heldCommands).toHaveLength(1);
    const head = device.heldCommands[0] as number;
    const cmdq = defined(device.cmdq);
    const chain = new DescriptorChain(8);
    expect(cmdq.walk(head, chain)).toBeUndefined();
    const req = new Uint8Array(64);
    cmdq.readChain(chain, req);
    const header = new DataView(req.buffer).getUint32(0, true);
    const token = (header >>> 18) & 0x3ff;
    // 1. the delayed response, on the eventq
    const dr = encodeMsgResponse(
      buildHeader(ClockMessageId.RATE_SET, ScmiMessageType.DELAYED_RESPONSE, 0x14, token),
      0,
      new Uint8Array([0, 0, 0, 0, 0x00, 0x84, 0xd7, 0x17, 0, 0, 0, 0]),
    );
    device.event(device.eventHeads.shift() as number, dr);
    await clock.runTasks();
    await done;
    // 2. the synchronous response, in the cmdq buffer, echoing the command's header
    const resp = encodeMsgResponse(header, 0);
    cmdq.pushUsed(head, cmdq.writeChain(chain, resp, resp.byteLength));
    cmdq.publishUsed();
    device.doorbells.interrupt.ring();
    await clock.runTasks();
    const a2p = defined(wire.driverDiagnostics.channels.get('a2p:0')).counters;
    expect(a2p.timeouts).toBe(0);
    // The transfer completed (markTxDone got error === undefined): this is no late reply. Core, on
    // a transport that hands it the message, counts it as a bad message (invalid while the
    // transfer is listed, unexpected once put back) — never lateReplies.
    expect(a2p.lateReplies).toBe(0);
    expect(a2p.badMessages.invalid + a2p.badMessages.unexpected).toBe(1);
    await agent.remove();
    platform.close();
  });
});

/**
 * Polling cmdq, every slot held by the device (the command timed out: slot ABANDONED). The next
 * send() drains the used ring itself (#reclaimPolled) and finds a corrupt element there: the cmdq
 * breaks inside that send. send() then does not look at vq.broken again: with no free slot it
 * queues the command as a slot waiter on a cmdq that will never return a slot. The command waits
 * slotWaitMs (60 s by default), polled every 1 ms, and fails E_VIRTIO_BUSY — instead of failing
 * at once with E_VIRTIO_DEVICE as send() documents for a broken cmdq.
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
