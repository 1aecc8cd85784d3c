import { getEventListeners } from 'node:events';
import {
  ScmiMessageType,
  ScmiTimeoutError,
  buildHeader,
  encodeMsg,
  type ChannelStats,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import {
  DescriptorChain,
  POP_EMPTY,
  SplitRing,
  VIRTIO_SCMI_MAX_EVENTQ_BUFFERS,
  VirtioStatus,
} from '@scmi-ts/virtio-transport';
import { ManualDevice } from './support/manual-device.js';
import { BASE_NOTIFICATION, manualRig } from './support/manual-rig.js';

function p2a(agent: ScmiAgent): ChannelStats {
  const c = agent.diagnostics.channels.find((ch) => ch.label === 'p2a:0');
  if (c === undefined) throw new Error('no eventq');
  return c.stats;
}

/** A notification of a protocol nobody registered: counted `unknown`, queued nowhere. */
const stray = encodeMsg(buildHeader(0, ScmiMessageType.NOTIFICATION, 0x77, 0), new Uint8Array(8));

describe('virtio driver against a hostile device', () => {
  ensureNoLeaksInSuite();

  describe('on the eventq', () => {
    it.each<[string, (d: ManualDevice, id: number) => void, keyof ChannelStats['badMessages']]>([
      ['a length shorter than a header', (d, id) => d.event(id, BASE_NOTIFICATION, 2), 'invalid'],
      [
        'a delayed response without its status',
        (d, id) =>
          d.event(id, encodeMsg(buildHeader(5, ScmiMessageType.DELAYED_RESPONSE, 0x14, 1)), 6),
        'invalid',
      ],
      [
        'a response without its status',
        (d, id) => d.event(id, encodeMsg(buildHeader(3, ScmiMessageType.COMMAND, 0x10, 1)), 4),
        'invalid',
      ],
      [
        'a length larger than the buffer',
        (d, id) => d.event(id, BASE_NOTIFICATION, 4096),
        'oversize',
      ],
      [
        'a notification nobody registered',
        (d, id) => d.event(id, encodeMsg(buildHeader(0, ScmiMessageType.NOTIFICATION, 0x77, 0))),
        'unknown',
      ],
    ])(
      'should reject %s, count it and make the buffer available again',
      async (_, hostile, reason) => {
        const { clock, platform, device, create } = manualRig();
        const agent = await create();
        const id = device.eventHeads.shift() as number;
        hostile(device, id);
        await clock.runTasks();
        expect(p2a(agent).badMessages[reason]).toBe(1);
        expect(device.eventHeads).toContain(id);
        await agent.remove();
        platform.close();
      },
    );

    it.each<[string, (d: ManualDevice) => void, string]>([
      [
        'an element whose id is not a descriptor index',
        (d) => {
          d.eventq?.pushUsed(99, 4);
          d.event(d.eventHeads.shift() as number, BASE_NOTIFICATION);
        },
        'bad-id',
      ],
      [
        'a used index that jumps by more than the queue size',
        (d) => {
          d.eventq?.corruptUsedIdx(100);
          d.doorbells.interrupt.ring();
        },
        'bad-index',
      ],
    ])(
      'should break the eventq on %s: count it once, read nothing more, and reclaim its buffers at the reset',
      async (_, hostile, defect) => {
        const { clock, platform, wire, device, create } = manualRig();
        const agent = await create();
        hostile(device);
        await clock.runTasks();
        expect(p2a(agent).badMessages.invalid).toBe(1);
        const d = wire.driverDiagnostics;
        expect(d.channels.get('p2a:0')?.broken).toBe(defect);
        expect(d.channels.get('a2p:0')?.broken).toBeUndefined();
        expect(d.brokenVirtqueues).toBe(1);
        // A sound element now is not read: no BASE_NOTIFICATION, nothing more counted, no re-queue.
        device.eventq?.restoreUsedIdx();
        const heads = device.eventHeads.length;
        device.event(device.eventHeads.shift() as number, BASE_NOTIFICATION);
        await clock.runTasks();
        expect(p2a(agent).notifications + p2a(agent).badMessages.unknown).toBe(0);
        expect(p2a(agent).badMessages.invalid).toBe(1);
        expect(device.eventHeads).toHaveLength(heads - 1);
        // The cmdq is another virtqueue: commands still complete.
        expect(await agent.base.discoverVendor()).toBe('scmi-ts');
        await agent.remove();
        // Every eventq buffer was still the device's (returned, but never taken back).
        expect(d.reclaimedBuffers).toBe(4);
        expect(d.buffersAllocated).toBe(0);
        expect(d.leakedBuffers).toBe(0);
        expect(d.violations).toEqual([]);
        expect(d.brokenVirtqueues).toBe(1);
        expect(clock.armedTimers).toBe(0);
        platform.close();
      },
    );
  });

  describe('when the device returns one eventq buffer twice in one batch', () => {
    it('should deliver it once and break the eventq on the copy (not in flight), never delivering stale bytes twice', async () => {
      const { clock, platform, wire, device, create } = manualRig();
      const agent = await create();
      agent.events.register(0x14, [{ id: 0, name: 'e' }]);
      let seen = 0;
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => {
        seen++;
      });
      const eventq = device.eventq;
      if (eventq === undefined) throw new Error('no eventq');
      const bytes = encodeMsg(
        buildHeader(0, ScmiMessageType.NOTIFICATION, 0x14, 0),
        new Uint8Array(8),
      );
      const id = device.eventHeads.shift() as number;
      const chain = new DescriptorChain(8);
      expect(eventq.walk(id, chain)).toBeUndefined();
      eventq.writeChain(chain, bytes, bytes.byteLength);
      eventq.pushUsed(id, bytes.byteLength);
      eventq.pushUsed(id, bytes.byteLength);
      eventq.publishUsed();
      device.doorbells.interrupt.ring();
      await clock.runTasks();
      expect(seen).toBe(1);
      expect(p2a(agent).notifications).toBe(1);
      expect(p2a(agent).badMessages.invalid).toBe(1);
      expect(wire.driverDiagnostics.channels.get('p2a:0')?.broken).toBe('not-in-flight');
      await agent.remove();
      expect(wire.driverDiagnostics.violations).toEqual([]);
      expect(wire.driverDiagnostics.buffersAllocated).toBe(0);
      platform.close();
    });
  });

  describe('when the device returns an eventq buffer again without writing it', () => {
    it('should deliver its notification once and refuse the unwritten return (the header was cleared on re-queue)', async () => {
      const { clock, platform, device, create } = manualRig();
      const agent = await create();
      agent.events.register(0x14, [{ id: 0, name: 'e' }]);
      let seen = 0;
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => {
        seen++;
      });
      const bytes = encodeMsg(
        buildHeader(0, ScmiMessageType.NOTIFICATION, 0x14, 0),
        new Uint8Array(8),
      );
      const id = device.eventHeads.shift() as number;
      device.event(id, bytes);
      await clock.runTasks();
      expect(seen).toBe(1);
      // The driver made the buffer available again; the device takes it and returns it at once,
      // claiming the same length but writing nothing.
      device.doorbells.notify.ring();
      await clock.runTasks();
      expect(device.eventHeads).toContain(id);
      device.eventHeads.splice(device.eventHeads.indexOf(id), 1);
      device.event(id, new Uint8Array(0), bytes.byteLength);
      await clock.runTasks();
      expect(seen).toBe(1);
      expect(p2a(agent).notifications).toBe(1);
      expect(p2a(agent).badMessages.unknown + p2a(agent).badMessages.invalid).toBe(1);
      await agent.remove();
      platform.close();
    });
  });

  describe('when the device returns each eventq buffer as soon as the driver re-queues it', () => {
    it('should take one element per buffer in a drain pass, letting other tasks run between passes', async () => {
      const { clock, platform, wire, device, probe } = manualRig(false);
      const agent = await probe();
      const eventq = device.eventq;
      if (eventq === undefined) throw new Error('no eventq');
      // A device that returns each eventq buffer again as soon as the driver re-queues it, and
      // notifies, 20 times.
      const avail = wire.eventqRing(wire.layout.eventqSize).layout.avail;
      const chain = new DescriptorChain(256);
      let storm = 20;
      const returnAgain = (): void => {
        if (storm === 0) return;
        const head = eventq.pop();
        if (head === POP_EMPTY) return;
        storm--;
        eventq.walk(head, chain);
        eventq.pushUsed(head, eventq.writeChain(chain, stray, stray.byteLength));
        eventq.publishUsed();
        device.doorbells.interrupt.ring();
      };
      // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its ring as `this`
      const storeAvailIdx = SplitRing.prototype.storeAvailIdx;
      const requeue = jest.spyOn(SplitRing.prototype, 'storeAvailIdx').mockImplementation(function (
        this: SplitRing,
        idx: number,
      ) {
        storeAvailIdx.call(this, idx);
        if (this.layout.avail === avail) returnAgain();
      });
      const record = wire.driverDiagnostics.channels.get('p2a:0');
      const unknown = (): number => record?.counters.badMessages.unknown ?? -1;
      let seenByTask = -1;
      try {
        device.event(device.eventHeads.shift() as number, stray);
        // Queued behind the first pass: before, one pass took up to twice the queue size.
        clock.schedule(() => {
          seenByTask = unknown();
        });
        await clock.runUntilIdle();
      } finally {
        requeue.mockRestore();
      }
      expect(seenByTask).toBe(1);
      expect(unknown()).toBe(21);
      const removing = agent.remove();
      await clock.runUntilIdle();
      await removing;
      const d = wire.driverDiagnostics;
      expect(record?.counters.refusedAfterQuiesce).toBe(0);
      expect(d.violations).toEqual([]);
      expect(d.buffersAllocated).toBe(0);
      expect(clock.armedTimers).toBe(0);
      expect(clock.pendingTasks).toBe(0);
      platform.close();
    });
  });

  describe('when the device sets DEVICE_NEEDS_RESET', () => {
    it('should stop sending: commands fail at once with E_VIRTIO_DEVICE', async () => {
      const { clock, platform, wire, device, create } = manualRig();
      const agent = await create();
      device.needsReset();
      await clock.runTasks();
      expect(wire.driverDiagnostics.state).toBe('failed');
      await expect(agent.base.discoverVendor()).rejects.toMatchObject({ code: 'E_VIRTIO_DEVICE' });
      await agent.remove();
      expect(wire.driverDiagnostics.state).toBe('closed');
      platform.close();
    });

    it('should fail the commands in flight and those waiting for a cmdq buffer at once, and not send the waiting ones to it later', async () => {
      const { clock, platform, device, create } = manualRig(true, 4); // two cmdq buffers
      const agent = await create({ maxMsg: 4 });
      device.holdCommands = true;
      const outcomes = Promise.allSettled(
        Array.from({ length: 4 }, () => agent.base.discoverVendor()),
      );
      await clock.runTasks();
      expect(device.heldCommands).toHaveLength(2); // two in flight, two waiting for a buffer
      device.needsReset();
      await clock.runTasks();
      expect(clock.now()).toBe(0);
      const settled = await outcomes;
      expect(clock.now()).toBe(0); // no timeout ran: they failed at once
      const reasons = settled.map((o) =>
        o.status === 'rejected' ? (o.reason as unknown) : undefined,
      );
      expect(reasons).toEqual(Array(4).fill(expect.objectContaining({ code: 'E_VIRTIO_DEVICE' })));
      expect(reasons.some((e) => e instanceof ScmiTimeoutError)).toBe(false);
      expect(device.heldCommands).toHaveLength(2); // nothing more was sent
      await agent.remove();
      platform.close();
    });
  });

  describe('at teardown', () => {
    it('should count a refused interrupt on the virtqueue that had used buffers only (the interrupt is shared)', async () => {
      const { clock, platform, wire, device, probe } = manualRig(false);
      const agent = await probe();
      device.acknowledgeReset = false; // teardown waits for the reset: both channels quiesced
      const removing = agent.remove();
      await clock.runTasks();
      device.event(device.eventHeads.shift() as number, BASE_NOTIFICATION);
      await clock.runTasks();
      const channels = wire.driverDiagnostics.channels;
      expect(channels.get('p2a:0')?.counters.refusedAfterQuiesce).toBe(1);
      expect(channels.get('a2p:0')?.counters.refusedAfterQuiesce).toBe(0);
      await clock.runUntilIdle();
      await removing;
      device.hang();
      platform.close();
    });

    it('should leave its buffers to a device that never acknowledges the reset, and say so', async () => {
      const { clock, platform, wire, device, create } = manualRig();
      const agent = await create();
      device.acknowledgeReset = false;
      await agent.remove();
      const d = wire.driverDiagnostics;
      expect(d.resetTimeouts).toBe(1);
      expect(d.leakedBuffers).toBe(4); // the eventq's, still with the device
      expect(d.buffersAllocated).toBe(4);
      expect(d.reclaimedBuffers).toBe(0);
      expect(d.violations).toEqual([]);
      expect(clock.armedTimers).toBe(0);
      device.hang();
      platform.close();
    });

    it('should count what a device that never acknowledges the reset returned unread, and leave its buffers', async () => {
      const { clock, platform, wire, device, create } = manualRig();
      const agent = await create();
      device.acknowledgeReset = false;
      const removing = agent.remove();
      await clock.runTasks(); // the channels quiesced; the driver waits for the reset
      // An event returned without a notification (as under suppression): nothing reads it.
      const eventq = device.eventq as NonNullable<typeof device.eventq>;
      eventq.pushUsed(device.eventHeads.shift() as number, 0);
      eventq.publishUsed();
      await clock.runUntilIdle();
      await removing;
      const d = wire.driverDiagnostics;
      expect(d.resetTimeouts).toBe(1);
      expect(d.unreadAtReset).toBe(1);
      expect(d.uncountedAtReset).toBe(1);
      expect(d.leakedBuffers).toBe(4);
      expect(d.violations).toEqual([]);
      device.hang();
      platform.close();
    });

    it('should keep at most 1024 buffers on an eventq of more entries (Linux MSG_TOKEN_MAX), and refuse an id past them as not in flight', async () => {
      const { clock, wire, device, create } = manualRig(true, 16, 2048);
      const agent = await create();
      expect(wire.driverDiagnostics.buffersAllocated).toBe(16 / 2 + VIRTIO_SCMI_MAX_EVENTQ_BUFFERS);
      expect(device.eventHeads).toHaveLength(VIRTIO_SCMI_MAX_EVENTQ_BUFFERS);
      expect(Math.max(...device.eventHeads)).toBe(VIRTIO_SCMI_MAX_EVENTQ_BUFFERS - 1);
      // A device returning an entry the driver never made available.
      device.event(VIRTIO_SCMI_MAX_EVENTQ_BUFFERS, BASE_NOTIFICATION);
      await clock.runUntilIdle();
      expect(p2a(agent).badMessages.invalid).toBe(1);
      expect(wire.driverDiagnostics.brokenVirtqueues).toBe(1);
      await agent.remove();
    });

    it('should count in virtio buffers (one per cmdq message, one per eventq entry): what it leaks is what stays allocated', async () => {
      const { clock, platform, wire, device, create } = manualRig();
      const agent = await create();
      const d = wire.driverDiagnostics;
      expect(d.buffersAllocated).toBe(16 / 2 + 4);
      // A device that stops listening: the command stays with it and times out; the reset is never
      // acknowledged.
      device.hang();
      await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiTimeoutError);
      await agent.remove();
      expect(d.resetTimeouts).toBe(1);
      expect(d.leakedBuffers).toBe(1 + 4);
      expect(d.buffersAllocated).toBe(d.leakedBuffers);
      expect(d.reclaimedBuffers).toBe(0);
      expect(d.channels.get('a2p:0')?.buffersFreed).toBe(16 / 2 - 1);
      expect(d.channels.get('p2a:0')?.buffersFreed).toBe(0);
      expect(d.violations).toEqual([]);
      expect(clock.armedTimers).toBe(0);
      platform.close();
    });
  });

  describe('during the handshake', () => {
    it("should stop waiting for a device that does not answer when the probe's signal fires, and reject with its reason", async () => {
      const { clock, platform, wire, device, create } = manualRig();
      device.hang();
      const controller = new AbortController();
      const reason = new Error('operator gave up');
      clock.setTimeout(() => {
        controller.abort(reason);
      }, 5);
      await expect(
        create({
          signal: controller.signal,
          // A patient handshake: only the abort ends its wait.
          transportConfig: { wire, handshakeTimeoutMs: 60_000, resetTimeoutMs: 50 },
        }),
      ).rejects.toBe(reason);
      // 5 ms, then the teardown's reset of a device that does not answer (50 ms): not 60 s.
      expect(clock.now()).toBe(55);
      expect(wire.driverDiagnostics.state).toBe('closed');
      expect(wire.driverDiagnostics.resetTimeouts).toBe(1);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      expect(clock.armedTimers).toBe(0);
      platform.close();
    });

    it('should still write, and wait for, the teardown reset when the signal fires in the middle of the handshake', async () => {
      const { clock, platform, wire, device, create } = manualRig();
      const controller = new AbortController();
      const reason = new Error('operator gave up');
      // The abort comes as the device reads ACKNOWLEDGE (which it then acknowledges, too late).
      const writes = device.statusWrites;
      const push = writes.push.bind(writes);
      writes.push = (...statuses: number[]): number => {
        if (statuses.includes(VirtioStatus.ACKNOWLEDGE)) controller.abort(reason);
        return push(...statuses);
      };
      await expect(create({ signal: controller.signal })).rejects.toBe(reason);
      // Nothing after ACKNOWLEDGE but the teardown's reset, which the device acknowledged.
      expect([...device.statusWrites]).toEqual([0, VirtioStatus.ACKNOWLEDGE, 0]);
      expect(wire.driverDiagnostics.resetTimeouts).toBe(0);
      expect(wire.driverDiagnostics.state).toBe('closed');
      expect(clock.armedTimers).toBe(0);
      platform.close();
    });

    it('should fail the probe with E_VIRTIO_HANDSHAKE when the device does not answer', async () => {
      const { clock, platform, wire, device, create } = manualRig();
      device.hang();
      await expect(create()).rejects.toMatchObject({ code: 'E_VIRTIO_HANDSHAKE' });
      expect(wire.driverDiagnostics.state).toBe('closed');
      expect(wire.driverDiagnostics.resetTimeouts).toBe(1);
      expect(clock.armedTimers).toBe(0);
      platform.close();
    });

    it('should fail the probe with E_VIRTIO_HANDSHAKE when the device does not read back status 0 after the reset', async () => {
      const { clock, platform, wire, device, create } = manualRig();
      device.statusAfterReset = VirtioStatus.DEVICE_NEEDS_RESET;
      await expect(create()).rejects.toMatchObject({
        code: 'E_VIRTIO_HANDSHAKE',
        message: /did not complete the reset \(status 0x40/,
      });
      // Nothing went past the reset: no ACKNOWLEDGE (the device acts on the latest write only:
      // the teardown's reset, written over FAILED).
      expect(device.statusWrites.length).toBeGreaterThan(1);
      expect(device.statusWrites.every((s) => (s & VirtioStatus.ACKNOWLEDGE) === 0)).toBe(true);
      expect(device.cmdq).toBeUndefined();
      expect(wire.driverDiagnostics.state).toBe('closed');
      expect(clock.armedTimers).toBe(0);
      platform.close();
    });
  });
});
