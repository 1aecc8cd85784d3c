import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_USED_F_NO_NOTIFY,
  VirtqDescFlag,
} from '../src/layout/virtio-constants.js';
import { DeviceVirtqueue } from '../src/ring/device-virtqueue.js';
import { DriverVirtqueue, type UsedElement } from '../src/ring/driver-virtqueue.js';
import { makeRing } from './support/rings.js';

function setup(size = 8, eventIdx = false) {
  const { ring, memory } = makeRing(size);
  const vq = new DriverVirtqueue(ring, eventIdx);
  const el: UsedElement = { id: -1, len: -1 };
  /** The device's side, by hand: return `id` with `len`. */
  let used = 0;
  const deviceReturns = (id: number, len: number): void => {
    ring.writeUsedElem(used % size, id, len);
    used++;
    ring.storeUsedIdx(used);
  };
  return { ring, memory, vq, el, deviceReturns };
}

describe(DriverVirtqueue, () => {
  describe('.publish', () => {
    it('should write the head into the available ring and publish the index', () => {
      const { ring, memory, vq } = setup();
      ring.writeDesc(0, memory.start, 12, VirtqDescFlag.NEXT, 1);
      ring.writeDesc(1, memory.start + 16, 32, VirtqDescFlag.WRITE, 0);
      vq.publish(0, 32);
      expect(ring.loadAvailIdx()).toBe(1);
      expect(ring.availEntry(0)).toBe(0);
      expect(vq.inFlight).toBe(1);
      expect(vq.owned(0)).toBe(true);
    });

    it('should refuse a head already with the device or out of range (a driver bug)', () => {
      const { vq } = setup();
      vq.publish(2, 8);
      expect(() => {
        vq.publish(2, 8);
      }).toThrow(/in flight/);
      expect(() => {
        vq.publish(8, 8);
      }).toThrow(/out of range/);
    });
  });

  describe('.kickPrepare', () => {
    it('should notify once per batch unless the device set NO_NOTIFY', () => {
      const { ring, vq } = setup();
      expect(vq.kickPrepare()).toBe(false);
      vq.publish(0, 8);
      vq.publish(2, 8);
      expect(vq.kickPrepare()).toBe(true);
      expect(vq.kickPrepare()).toBe(false);
      ring.storeUsedFlags(VIRTQ_USED_F_NO_NOTIFY);
      vq.publish(4, 8);
      expect(vq.kickPrepare()).toBe(false);
    });

    it('should follow avail_event with EVENT_IDX', () => {
      const { ring, vq } = setup(8, true);
      ring.storeAvailEvent(1); // the device wants to hear when entry 1 is published
      vq.publish(0, 8);
      expect(vq.kickPrepare()).toBe(false);
      vq.publish(2, 8);
      expect(vq.kickPrepare()).toBe(true);
    });
  });

  describe('.take', () => {
    it('should return the buffers in the order the device used them', () => {
      const { vq, el, deviceReturns } = setup();
      vq.publish(0, 16);
      vq.publish(2, 16);
      deviceReturns(2, 10);
      deviceReturns(0, 16);
      expect(vq.take(el)).toBe('ok');
      expect(el).toEqual({ id: 2, len: 10 });
      expect(vq.take(el)).toBe('ok');
      expect(el).toEqual({ id: 0, len: 16 });
      expect(vq.take(el)).toBe('empty');
      expect(vq.inFlight).toBe(0);
    });

    it('should reject an id out of range and break the virtqueue: nothing after it is read', () => {
      const { vq, el, deviceReturns } = setup();
      vq.publish(0, 16);
      vq.publish(2, 16);
      deviceReturns(99, 0);
      deviceReturns(0, 4);
      expect(vq.broken).toBeUndefined();
      expect(vq.take(el)).toBe('bad-id');
      expect(vq.broken).toBe('bad-id');
      expect(vq.take(el)).toBe('empty'); // the valid element after it is not read
      expect(vq.owned(0)).toBe(true);
      expect(vq.inFlight).toBe(2);
    });

    it.each([
      ['never made available', 1],
      ['a chain returned twice', 0],
    ])(
      'should reject an id that heads no chain in flight (%s) and break the virtqueue',
      (_, id) => {
        const { vq, el, deviceReturns } = setup();
        vq.publish(0, 16);
        vq.publish(2, 16);
        deviceReturns(0, 4);
        deviceReturns(id, 0);
        deviceReturns(2, 4);
        expect(vq.take(el)).toBe('ok');
        expect(vq.take(el)).toBe('not-in-flight');
        expect(vq.broken).toBe('not-in-flight');
        expect(vq.take(el)).toBe('empty');
        expect(vq.owned(2)).toBe(true);
      },
    );

    it('should flag a length larger than the writable part, yet give the buffer back and stay sound', () => {
      const { vq, el, deviceReturns } = setup();
      vq.publish(0, 16);
      vq.publish(2, 16);
      deviceReturns(0, 17);
      deviceReturns(2, 16);
      expect(vq.take(el)).toBe('oversize');
      expect(vq.owned(0)).toBe(false);
      expect(vq.broken).toBeUndefined();
      expect(vq.take(el)).toBe('ok');
    });

    it('should report a used index that jumps by more than the queue size once, consume nothing, and never read the ring again', () => {
      const { ring, vq, el } = setup();
      vq.publish(0, 16);
      ring.storeUsedIdx(9);
      expect(vq.take(el)).toBe('bad-index');
      expect(vq.broken).toBe('bad-index');
      expect(vq.lastUsed).toBe(0);
      expect(vq.take(el)).toBe('empty');
      ring.storeUsedIdx(0x8000);
      expect(vq.take(el)).toBe('empty');
      ring.writeUsedElem(0, 0, 3);
      ring.storeUsedIdx(1); // the device "recovers": it is not trusted again
      expect(vq.take(el)).toBe('empty');
      expect(vq.lastUsed).toBe(0);
      expect(vq.owned(0)).toBe(true);
    });

    it('should neither notify, nor ask for interrupts, nor make chains available once broken; a reset makes it sound', () => {
      const { ring, vq, el, deviceReturns } = setup();
      vq.publish(0, 16);
      deviceReturns(5, 0);
      expect(vq.take(el)).toBe('not-in-flight');
      vq.disableInterrupts();
      expect(vq.enableInterrupts()).toBe(false);
      expect(ring.loadAvailFlags()).toBe(VIRTQ_AVAIL_F_NO_INTERRUPT);
      expect(vq.kickPrepare()).toBe(false);
      expect(() => {
        vq.publish(2, 16);
      }).toThrow(/broken/);
      vq.reset();
      expect(vq.broken).toBeUndefined();
      vq.publish(0, 16);
      expect(vq.kickPrepare()).toBe(true);
      ring.writeUsedElem(0, 0, 4);
      ring.storeUsedIdx(1);
      expect(vq.take(el)).toBe('ok');
    });

    it('should wrap the free-running indices at 2^16', () => {
      const { vq, el, deviceReturns } = setup(2);
      let ok = 0;
      for (let i = 0; i < 70_000; i++) {
        vq.publish(0, 4);
        deviceReturns(0, 4);
        if (vq.take(el) === 'ok') ok++;
      }
      expect(ok).toBe(70_000);
      expect(vq.lastUsed).toBe(70_000 & 0xffff);
    });
  });

  describe('.enableInterrupts / .disableInterrupts', () => {
    it('should use the NO_INTERRUPT flag without EVENT_IDX and report pending elements', () => {
      const { ring, vq, deviceReturns } = setup();
      vq.disableInterrupts();
      expect(ring.loadAvailFlags()).toBe(VIRTQ_AVAIL_F_NO_INTERRUPT);
      expect(vq.enableInterrupts()).toBe(false);
      expect(ring.loadAvailFlags()).toBe(0);
      vq.publish(0, 4);
      deviceReturns(0, 4);
      expect(vq.enableInterrupts()).toBe(true);
      ring.storeUsedIdx(100);
      expect(vq.enableInterrupts()).toBe(false); // a bad index is not an arrival
    });

    it('should move used_event with EVENT_IDX, leaving the avail flags 0 (VIRTIO 1.2 §2.7.10)', () => {
      const { ring, vq, el, deviceReturns } = setup(8, true);
      vq.publish(0, 4);
      deviceReturns(0, 4);
      vq.take(el);
      expect(ring.loadUsedEvent()).toBe(1);
      vq.disableInterrupts();
      expect(ring.loadUsedEvent()).toBe(0x8001);
      expect(ring.loadAvailFlags()).toBe(0);
      vq.enableInterrupts();
      expect(ring.loadUsedEvent()).toBe(1);
    });

    it.each([false, true])(
      'should write used_event and the avail flags only when they change, and again after a reset (EVENT_IDX %s)',
      (eventIdx) => {
        const { ring, vq, el, deviceReturns } = setup(8, eventIdx);
        const flags = jest.spyOn(ring, 'storeAvailFlags');
        const usedEvent = jest.spyOn(ring, 'storeUsedEvent');
        const writes = (): number[] => [flags.mock.calls.length, usedEvent.mock.calls.length];
        vq.enableInterrupts();
        const [flagWrites, usedEventWrites] = writes() as [number, number];
        vq.enableInterrupts();
        vq.enableInterrupts();
        expect(writes()).toEqual([flagWrites, usedEventWrites]); // nothing changed: nothing written
        vq.publish(0, 4);
        deviceReturns(0, 4);
        vq.take(el);
        vq.enableInterrupts(); // used_event moved with the take (EVENT_IDX), flags unchanged
        expect(writes()).toEqual([flagWrites, usedEventWrites + (eventIdx ? 1 : 0)]);
        vq.disableInterrupts();
        vq.enableInterrupts();
        expect(writes()).toEqual(
          eventIdx ? [flagWrites, usedEventWrites + 3] : [flagWrites + 2, usedEventWrites],
        );
        // What the driver asked for is in the ring, as if every call had written it.
        expect(ring.loadAvailFlags()).toBe(0);
        if (eventIdx) expect(ring.loadUsedEvent()).toBe(1);
      },
    );

    it.each([false, true])(
      'should write again after a reset zeroed the ring, even a value it wrote before (EVENT_IDX %s)',
      (eventIdx) => {
        const { ring, vq } = setup(8, eventIdx);
        const suppressed = (): number => (eventIdx ? ring.loadUsedEvent() : ring.loadAvailFlags());
        const expected = eventIdx ? 0x8000 : VIRTQ_AVAIL_F_NO_INTERRUPT;
        vq.disableInterrupts();
        expect(suppressed()).toBe(expected);
        vq.reset();
        expect(suppressed()).toBe(0);
        vq.disableInterrupts(); // polling again after the reset: the ring must say so again
        expect(suppressed()).toBe(expected);
      },
    );
  });

  describe('.suspendInterrupts', () => {
    /**
     * Four buffers with a real device end, which returns them one by one while the driver takes
     * them in one drain (the first return is the notification that starts it); returns the
     * used-buffer notifications the device owed over the drain.
     */
    function drainWhileTheDeviceReturns(eventIdx: boolean, suspend: boolean) {
      const { ring, memory, vq, el } = setup(8, eventIdx);
      const device = new DeviceVirtqueue(ring, memory, { indirect: false, eventIdx });
      device.enableNotifications();
      for (let head = 0; head < 4; head++) {
        ring.writeDesc(head, memory.start + head * 64, 64, VirtqDescFlag.WRITE, 0);
        vq.publish(head, 64);
      }
      const heads = [0, 1, 2, 3].map(() => device.pop());
      let owed = 0;
      const deviceReturns = (head: number): void => {
        device.pushUsed(head, 8);
        if (device.publishUsed()) owed++;
      };
      deviceReturns(heads[0] as number);
      if (suspend) vq.suspendInterrupts();
      for (let i = 1; i < 4; i++) {
        expect(vq.take(el)).toBe('ok');
        deviceReturns(heads[i] as number);
      }
      expect(vq.take(el)).toBe('ok');
      expect(vq.take(el)).toBe('empty');
      const during = { usedEvent: ring.loadUsedEvent(), flags: ring.loadAvailFlags() };
      expect(vq.enableInterrupts()).toBe(false);
      return { owed, during, ring };
    }

    it.each([true, false])(
      'should leave the device owing one notification for a drain, not one per element (EVENT_IDX %s)',
      (eventIdx) => {
        const suspended = drainWhileTheDeviceReturns(eventIdx, true);
        expect(suspended.owed).toBe(1);
        // Linux's virtqueue_disable_cb: with EVENT_IDX used_event stays where the device passed
        // it; without, NO_INTERRUPT is set.
        expect(suspended.during).toEqual(
          eventIdx
            ? { usedEvent: 0, flags: 0 }
            : { usedEvent: 0, flags: VIRTQ_AVAIL_F_NO_INTERRUPT },
        );
        // enableInterrupts asks again, for the next element.
        expect(suspended.ring.loadAvailFlags()).toBe(0);
        if (eventIdx) expect(suspended.ring.loadUsedEvent()).toBe(4);
        // Taking with interrupts on asks for each next element: a notification per return.
        expect(drainWhileTheDeviceReturns(eventIdx, false).owed).toBe(4);
      },
    );

    it('should leave polling as it is: used_event stays far away', () => {
      const { ring, vq } = setup(8, true);
      vq.disableInterrupts();
      vq.suspendInterrupts();
      expect(ring.loadUsedEvent()).toBe(0x8000);
      expect(vq.idle).toBe(false); // a look that enables interrupts is owed
    });
  });

  describe('.idle', () => {
    it('should be true while interrupts are enabled and the device returned nothing new', () => {
      const { vq, el, deviceReturns } = setup();
      expect(vq.idle).toBe(true);
      vq.publish(0, 4);
      expect(vq.idle).toBe(true); // in flight, not returned
      deviceReturns(0, 4);
      expect(vq.idle).toBe(false);
      vq.take(el);
      expect(vq.idle).toBe(true);
    });

    it('should be false while interrupts are disabled: a look that enables them is owed', () => {
      const { vq } = setup(8, true);
      vq.disableInterrupts();
      expect(vq.idle).toBe(false);
      vq.enableInterrupts();
      expect(vq.idle).toBe(true);
    });

    it('should be true once broken: nothing is read any more', () => {
      const { ring, vq, el } = setup();
      ring.writeUsedElem(0, 99, 4);
      ring.storeUsedIdx(1);
      expect(vq.idle).toBe(false);
      expect(vq.take(el)).toBe('bad-id');
      ring.storeUsedIdx(2);
      expect(vq.idle).toBe(true);
    });
  });

  describe('.reset', () => {
    it('should count what the device returned unread, and of it what newlyUsed had not counted', () => {
      const { ring, vq, el, deviceReturns } = setup();
      vq.publish(0, 4);
      vq.publish(2, 4);
      vq.publish(4, 4);
      deviceReturns(0, 4);
      expect(vq.take(el)).toBe('ok');
      deviceReturns(2, 4);
      expect(vq.newlyUsed()).toBe(1); // a callback refused after quiesce counted it
      deviceReturns(4, 4);
      expect(vq.uncountedUsed).toBe(1);
      expect(vq.reset()).toBe(2);
      expect(vq.uncountedUsed).toBe(0);
      // A used index past the chains in flight counts nothing.
      vq.publish(0, 4);
      ring.storeUsedIdx(5);
      expect(vq.uncountedUsed).toBe(0);
      expect(vq.reset()).toBe(0);
      // Nor does one the device moved back below what newlyUsed counted.
      const back = setup();
      back.vq.publish(0, 4);
      back.vq.publish(2, 4);
      back.deviceReturns(0, 4);
      back.deviceReturns(2, 4);
      expect(back.vq.newlyUsed()).toBe(2);
      back.ring.storeUsedIdx(1);
      expect(back.vq.uncountedUsed).toBe(0);
    });

    it('should give both counts from one read of the used index (unreadUsedNow): a device that still publishes cannot make them disagree', () => {
      const { ring, vq, deviceReturns } = setup();
      vq.publish(0, 4);
      vq.publish(2, 4);
      deviceReturns(0, 4);
      // The device publishes its second element as soon as the used index has been read once.
      const load = ring.loadUsedIdx.bind(ring);
      let reads = 0;
      ring.loadUsedIdx = () => {
        const idx = load();
        if (++reads === 1) deviceReturns(2, 4);
        return idx;
      };
      expect(vq.unreadUsedNow()).toEqual({ unread: 1, uncounted: 1 });
      expect(vq.unreadUsedNow()).toEqual({ unread: 2, uncounted: 2 });
      expect(reads).toBe(2);
    });

    it('should forget every chain and zero the ring', () => {
      const { ring, vq } = setup();
      vq.publish(0, 4);
      vq.reset();
      expect(vq.inFlight).toBe(0);
      expect(vq.owned(0)).toBe(false);
      expect(ring.loadAvailIdx()).toBe(0);
      vq.publish(0, 4);
      expect(ring.availEntry(0)).toBe(0);
    });

    it('should ask for interrupts again, as the zeroed ring does, whatever it had asked before', () => {
      const { ring, vq } = setup();
      vq.disableInterrupts();
      expect(ring.loadAvailFlags()).toBe(VIRTQ_AVAIL_F_NO_INTERRUPT);
      vq.reset();
      expect(ring.loadAvailFlags()).toBe(0);
      expect(vq.idle).toBe(true);
      // A drain then suppresses interrupts while it takes (it would not, believing them off).
      vq.suspendInterrupts();
      expect(ring.loadAvailFlags()).toBe(VIRTQ_AVAIL_F_NO_INTERRUPT);
    });
  });
});
