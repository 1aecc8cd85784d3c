import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_USED_F_NO_NOTIFY,
  VirtqDescFlag,
} from '../src/layout/virtio-constants.js';
import { DescriptorChain } from '../src/ring/descriptor-chain.js';
import { DeviceVirtqueue, POP_BAD_INDEX, POP_EMPTY } from '../src/ring/device-virtqueue.js';
import { makeRing } from './support/rings.js';

const { NEXT, WRITE, INDIRECT } = VirtqDescFlag;

function setup(size = 8, features = { indirect: false, eventIdx: false }) {
  const r = makeRing(size);
  const vq = new DeviceVirtqueue(r.ring, r.memory, features);
  const chain = new DescriptorChain(size);
  let avail = 0;
  const offer = (head: number): void => {
    r.ring.writeAvailEntry(avail % size, head);
    avail++;
    r.ring.storeAvailIdx(avail);
  };
  return { ...r, vq, chain, offer, m: r.memory.start };
}

function writeIndirect(
  view: DataView,
  at: number,
  i: number,
  addr: number,
  len: number,
  flags: number,
  next: number,
): void {
  const o = at + 16 * i;
  view.setUint32(o, addr, true);
  view.setUint32(o + 4, 0, true);
  view.setUint32(o + 8, len, true);
  view.setUint16(o + 12, flags, true);
  view.setUint16(o + 14, next, true);
}

describe(DeviceVirtqueue, () => {
  describe('.pop', () => {
    it('should return heads in available order, then POP_EMPTY', () => {
      const { vq, offer } = setup();
      offer(4);
      offer(0);
      expect([vq.pop(), vq.pop(), vq.pop()]).toEqual([4, 0, POP_EMPTY]);
      expect(vq.lastAvail).toBe(2);
    });

    it('should refuse an available index that moved by more than the queue size', () => {
      const { ring, vq } = setup();
      ring.storeAvailIdx(9);
      expect(vq.pop()).toBe(POP_BAD_INDEX);
    });
  });

  describe('.walk', () => {
    it('should accept any split of a message over direct descriptors', () => {
      const { ring, vq, chain, m, bytes } = setup();
      bytes.set([1, 2, 3], m);
      bytes.set([4, 5, 6, 7], m + 100);
      ring.writeDesc(3, m, 3, NEXT, 5);
      ring.writeDesc(5, m + 100, 4, NEXT, 1);
      ring.writeDesc(1, m + 200, 2, WRITE | NEXT, 6);
      ring.writeDesc(6, m + 300, 10, WRITE, 0);
      expect(vq.walk(3, chain)).toBeUndefined();
      expect([
        chain.readCount,
        chain.readBytes,
        chain.writeCount,
        chain.writeBytes,
        chain.secondIndex,
      ]).toEqual([2, 7, 2, 12, 5]);
      const into = new Uint8Array(16);
      expect(vq.readChain(chain, into)).toBe(7);
      expect([...into.subarray(0, 7)]).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(vq.writeChain(chain, new Uint8Array([9, 8, 7, 6, 5]), 5)).toBe(5);
      expect([...bytes.subarray(m + 200, m + 202)]).toEqual([9, 8]);
      expect([...bytes.subarray(m + 300, m + 303)]).toEqual([7, 6, 5]);
    });

    it('should write at most the writable bytes and read at most the room given', () => {
      const { ring, vq, chain, m } = setup();
      ring.writeDesc(0, m, 8, NEXT, 1);
      ring.writeDesc(1, m + 8, 4, WRITE, 0);
      vq.walk(0, chain);
      expect(vq.writeChain(chain, new Uint8Array(10), 10)).toBe(4);
      expect(vq.readChain(chain, new Uint8Array(3))).toBe(8);
    });

    it('should follow an indirect table when INDIRECT_DESC was negotiated', () => {
      const { ring, vq, chain, m, memory } = setup(8, { indirect: true, eventIdx: false });
      const table = m + 512;
      writeIndirect(memory.view, table, 0, m, 4, NEXT, 2);
      writeIndirect(memory.view, table, 2, m + 64, 8, WRITE | NEXT, 1);
      writeIndirect(memory.view, table, 1, m + 128, 8, WRITE, 0);
      ring.writeDesc(0, table, 48, INDIRECT, 0);
      expect(vq.walk(0, chain)).toBeUndefined();
      expect([chain.readBytes, chain.writeBytes, chain.writeCount]).toEqual([4, 16, 2]);
    });

    describe('with INDIRECT_DESC, when the table has its own limit (its entries), not the queue size', () => {
      it('should accept a table of as many entries as the queue', () => {
        const { ring, vq, chain, m, memory } = setup(8, { indirect: true, eventIdx: false });
        const table = m + 1024;
        for (let j = 0; j < 8; j++) {
          writeIndirect(memory.view, table, j, m + 16 * j, 4, (j < 4 ? 0 : WRITE) | NEXT, j + 1);
        }
        writeIndirect(memory.view, table, 7, m + 112, 4, WRITE, 0);
        ring.writeDesc(5, table, 8 * 16, INDIRECT, 0);
        expect(vq.walk(5, chain)).toBeUndefined();
        expect([chain.readCount, chain.writeCount, chain.readBytes, chain.writeBytes]).toEqual([
          4, 4, 16, 16,
        ]);
      });

      it('should accept a table on a one-entry queue (an eventq of size 1)', () => {
        const r = makeRing(1);
        const vq = new DeviceVirtqueue(r.ring, r.memory, { indirect: true, eventIdx: false });
        const m = r.memory.start;
        writeIndirect(r.memory.view, m + 256, 0, m, 4, WRITE | NEXT, 1);
        writeIndirect(r.memory.view, m + 256, 1, m + 64, 32, WRITE, 0);
        r.ring.writeDesc(0, m + 256, 32, INDIRECT, 0);
        const chain = new DescriptorChain(4);
        expect(vq.walk(0, chain)).toBeUndefined();
        expect([chain.writeCount, chain.writeBytes]).toEqual([2, 36]);
      });

      it('should accept a request and a response in one table on a two-entry queue', () => {
        const { ring, vq, chain, m, memory } = setup(2, { indirect: true, eventIdx: false });
        writeIndirect(memory.view, m + 256, 0, m, 4, NEXT, 1);
        writeIndirect(memory.view, m + 256, 1, m + 64, 16, WRITE, 0);
        ring.writeDesc(1, m + 256, 32, INDIRECT, 0);
        expect(vq.walk(1, chain)).toBeUndefined();
        expect([chain.readBytes, chain.writeBytes]).toEqual([4, 16]);
      });

      it('should accept normal descriptors followed by one indirect descriptor, ignoring its WRITE flag', () => {
        const { ring, vq, m, memory, bytes } = setup(4, { indirect: true, eventIdx: false });
        const chain = new DescriptorChain(8);
        bytes.set([1, 2], m);
        bytes.set([3, 4], m + 8);
        ring.writeDesc(2, m, 2, NEXT, 0);
        ring.writeDesc(0, m + 8, 0, NEXT, 3); // a zero-length descriptor
        ring.writeDesc(3, m + 256, 48, INDIRECT | WRITE, 0);
        writeIndirect(memory.view, m + 256, 0, m + 8, 2, NEXT, 2);
        writeIndirect(memory.view, m + 256, 2, m + 64, 3, WRITE | NEXT, 1);
        writeIndirect(memory.view, m + 256, 1, m + 72, 0, WRITE, 0);
        expect(vq.walk(2, chain)).toBeUndefined();
        expect([chain.readCount, chain.readBytes, chain.writeCount, chain.writeBytes]).toEqual([
          3, 4, 2, 3,
        ]);
        expect(chain.secondIndex).toBe(0);
        const into = new Uint8Array(8);
        expect(vq.readChain(chain, into)).toBe(4);
        expect([...into.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
      });

      it('should accept a table longer than the queue up to the segments the chain holds, and no further', () => {
        const { ring, vq, m, memory } = setup(2, { indirect: true, eventIdx: false });
        for (let j = 0; j < 12; j++)
          writeIndirect(memory.view, m + 512, j, m, 1, WRITE | NEXT, j + 1);
        writeIndirect(memory.view, m + 512, 11, m, 1, WRITE, 0);
        ring.writeDesc(0, m + 512, 12 * 16, INDIRECT, 0);
        expect(vq.walk(0, new DescriptorChain(12))).toBeUndefined();
        expect(vq.walk(0, new DescriptorChain(11))).toBe('too-many-segments');
      });

      it('should report a loop inside the table as chain-too-long', () => {
        const { ring, vq, chain, m, memory } = setup(8, { indirect: true, eventIdx: false });
        writeIndirect(memory.view, m + 512, 0, m, 4, NEXT, 2);
        writeIndirect(memory.view, m + 512, 2, m, 4, NEXT, 1);
        writeIndirect(memory.view, m + 512, 1, m, 4, NEXT, 2);
        ring.writeDesc(0, m + 512, 3 * 16, INDIRECT, 0);
        expect(vq.walk(0, chain)).toBe('chain-too-long');
      });
    });

    describe('when the driver broke a rule', () => {
      it.each<[string, (s: ReturnType<typeof setup>) => number, boolean]>([
        ['head-out-of-range', () => 8, false],
        ['next-out-of-range', ({ ring, m }) => (ring.writeDesc(0, m, 4, NEXT, 9), 0), false],
        [
          'chain-too-long',
          ({ ring, m }) => (ring.writeDesc(0, m, 4, NEXT, 1), ring.writeDesc(1, m, 4, NEXT, 0), 0),
          false,
        ],
        ['address-out-of-bounds', ({ ring }) => (ring.writeDesc(0, 0, 4, 0, 0), 0), false],
        [
          'address-out-of-bounds',
          ({ ring, memory }) => (ring.writeDesc(0, memory.end - 2, 4, 0, 0), 0),
          false,
        ],
        [
          'readable-after-writable',
          ({ ring, m }) => (
            ring.writeDesc(0, m, 4, WRITE | NEXT, 1),
            ring.writeDesc(1, m, 4, 0, 0),
            0
          ),
          false,
        ],
        [
          'indirect-not-negotiated',
          ({ ring, m }) => (ring.writeDesc(0, m, 16, INDIRECT, 0), 0),
          false,
        ],
        [
          'indirect-with-next',
          ({ ring, m }) => (ring.writeDesc(0, m, 16, INDIRECT | NEXT, 1), 0),
          true,
        ],
        ['indirect-bad-length', ({ ring, m }) => (ring.writeDesc(0, m, 12, INDIRECT, 0), 0), true],
        [
          'indirect-nested',
          ({ ring, m, memory }) => (
            writeIndirect(memory.view, m, 0, m + 64, 16, INDIRECT, 0),
            ring.writeDesc(0, m, 16, INDIRECT, 0),
            0
          ),
          true,
        ],
        [
          'next-out-of-range',
          ({ ring, m, memory }) => (
            writeIndirect(memory.view, m, 0, m + 64, 4, NEXT, 5),
            ring.writeDesc(0, m, 32, INDIRECT, 0),
            0
          ),
          true,
        ],
        [
          'chain-too-long',
          ({ ring, m, memory }) => (
            writeIndirect(memory.view, m, 0, m + 64, 4, NEXT, 0),
            ring.writeDesc(0, m, 16, INDIRECT, 0),
            0
          ),
          true,
        ],
      ])('should report %s', (defect, build, indirect) => {
        const s = setup(8, { indirect, eventIdx: false });
        const head = build(s);
        expect(s.vq.walk(head, s.chain)).toBe(defect);
      });

      it('should refuse an address with a non-zero high word', () => {
        const s = setup();
        s.ring.writeDesc(0, s.m, 4, 0, 0);
        new Uint32Array(s.sab, 0, 2)[1] = 1; // descriptor 0's addr high word
        expect(s.vq.walk(0, s.chain)).toBe('address-out-of-bounds');
      });
    });
  });

  describe('.hold / .release', () => {
    it('should hold each head once until it is released', () => {
      const { vq } = setup(4);
      expect([vq.hold(2), vq.hold(3), vq.hold(2)]).toEqual([true, true, false]);
      expect([vq.held, vq.isHeld(2), vq.isHeld(0)]).toEqual([2, true, false]);
      vq.release(2);
      vq.release(2); // releasing a head not held changes nothing
      expect([vq.held, vq.isHeld(2), vq.hold(2)]).toEqual([1, false, true]);
    });
  });

  describe('.publishUsed', () => {
    it('should publish a batch with one index store and notify unless NO_INTERRUPT', () => {
      const { ring, vq } = setup();
      expect(vq.publishUsed()).toBe(false);
      vq.pushUsed(2, 5);
      vq.pushUsed(0, 7);
      expect(ring.loadUsedIdx()).toBe(0);
      expect(vq.publishUsed()).toBe(true);
      expect(ring.loadUsedIdx()).toBe(2);
      expect([ring.usedId(0), ring.usedLen(0), ring.usedId(1), ring.usedLen(1)]).toEqual([
        2, 5, 0, 7,
      ]);
      ring.storeAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
      vq.pushUsed(4, 0);
      expect(vq.publishUsed()).toBe(false);
    });

    it('should follow used_event with EVENT_IDX', () => {
      const { ring, vq } = setup(8, { indirect: false, eventIdx: true });
      ring.storeUsedEvent(1);
      vq.pushUsed(0, 0);
      expect(vq.publishUsed()).toBe(false);
      vq.pushUsed(2, 0);
      expect(vq.publishUsed()).toBe(true);
    });
  });

  describe('.enableNotifications', () => {
    it('should ask for the next entry with EVENT_IDX and report chains that arrived meanwhile', () => {
      const { ring, vq, offer } = setup(8, { indirect: false, eventIdx: true });
      expect(vq.enableNotifications()).toBe(false);
      offer(0);
      expect(vq.enableNotifications()).toBe(true);
      vq.pop();
      vq.enableNotifications();
      expect(ring.loadAvailEvent()).toBe(1);
    });

    it('should set used.flags to 0 with EVENT_IDX: a NO_NOTIFY an earlier session left does not stay (the specification requires it)', () => {
      const { ring, vq } = setup(8, { indirect: false, eventIdx: true });
      ring.storeUsedFlags(VIRTQ_USED_F_NO_NOTIFY);
      expect(vq.enableNotifications()).toBe(false);
      expect(ring.loadUsedFlags()).toBe(0);
      vq.disableNotifications();
      expect(ring.loadUsedFlags()).toBe(0);
    });

    it('should clear NO_NOTIFY without EVENT_IDX and report chains that arrived meanwhile', () => {
      const { ring, vq, offer } = setup();
      ring.storeUsedFlags(1);
      expect(vq.enableNotifications()).toBe(false);
      expect(ring.loadUsedFlags()).toBe(0);
      vq.disableNotifications();
      offer(3);
      expect(vq.enableNotifications()).toBe(true);
      expect(ring.loadUsedFlags()).toBe(0);
    });
  });

  describe('.disableNotifications', () => {
    it('should set NO_NOTIFY without EVENT_IDX', () => {
      const { ring, vq } = setup();
      vq.disableNotifications();
      expect(ring.loadUsedFlags()).toBe(VIRTQ_USED_F_NO_NOTIFY);
    });

    it('should leave used.flags at 0 with EVENT_IDX (the specification requires it)', () => {
      const { ring, vq } = setup(8, { indirect: false, eventIdx: true });
      vq.disableNotifications();
      expect(ring.loadUsedFlags()).toBe(0);
    });
  });

  describe('notification suppression writes', () => {
    it.each([false, true])(
      'should write avail_event and used.flags only when they change (EVENT_IDX %s)',
      (eventIdx) => {
        const { ring, vq, offer } = setup(8, { indirect: false, eventIdx });
        const flags = jest.spyOn(ring, 'storeUsedFlags');
        const availEvent = jest.spyOn(ring, 'storeAvailEvent');
        const writes = (): number[] => [flags.mock.calls.length, availEvent.mock.calls.length];
        vq.enableNotifications();
        const [flagWrites, eventWrites] = writes() as [number, number];
        vq.disableNotifications();
        vq.enableNotifications();
        // Without EVENT_IDX the flag goes up and down; with it nothing changed.
        expect(writes()).toEqual(
          eventIdx ? [flagWrites, eventWrites] : [flagWrites + 2, eventWrites],
        );
        offer(3);
        vq.pop();
        vq.enableNotifications(); // the next entry to ask about moved (EVENT_IDX)
        expect(writes()).toEqual(
          eventIdx ? [flagWrites, eventWrites + 1] : [flagWrites + 2, eventWrites],
        );
        expect(eventIdx ? ring.loadAvailEvent() : ring.loadUsedFlags()).toBe(eventIdx ? 1 : 0);
      },
    );
  });

  describe('.idle', () => {
    it('should be true while notifications are asked for and nothing new is available', () => {
      const { vq, offer } = setup();
      expect(vq.idle).toBe(true);
      offer(0);
      expect(vq.idle).toBe(false);
      vq.pop();
      expect(vq.idle).toBe(true);
    });

    it('should be false while notifications are suppressed: a look that asks again is owed', () => {
      const { vq } = setup(8, { indirect: false, eventIdx: true });
      vq.disableNotifications();
      expect(vq.idle).toBe(false);
      vq.enableNotifications();
      expect(vq.idle).toBe(true);
    });
  });

  describe('.corruptUsedIdx / .restoreUsedIdx', () => {
    it('should move used.idx without elements, then put it back', () => {
      const { ring, vq } = setup();
      vq.pushUsed(0, 0);
      vq.publishUsed();
      vq.corruptUsedIdx(9);
      expect(ring.loadUsedIdx()).toBe(10);
      vq.restoreUsedIdx();
      expect(ring.loadUsedIdx()).toBe(1);
    });
  });
});
