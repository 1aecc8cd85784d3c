import { DescriptorChain } from '../src/ring/descriptor-chain.js';
import { DeviceVirtqueue, POP_EMPTY } from '../src/ring/device-virtqueue.js';
import { DriverVirtqueue, type UsedElement } from '../src/ring/driver-virtqueue.js';
import { VirtqDescFlag } from '../src/layout/virtio-constants.js';
import { makeRing } from './support/rings.js';

// The driver's and the device's free-running 16-bit indices wrap together (the driver's own wrap
// is also tested in driver-virtqueue.test.ts; this is the device's).
describe('a driver and a device virtqueue on one split ring', () => {
  it.each([false, true])(
    'should keep passing chains past the 16-bit wrap of both indices, 70,000 of them (EVENT_IDX %p)',
    (eventIdx) => {
      const { ring, memory } = makeRing(4);
      const drv = new DriverVirtqueue(ring, eventIdx);
      const dev = new DeviceVirtqueue(ring, memory, { indirect: false, eventIdx });
      const chain = new DescriptorChain(4);
      const el: UsedElement = { id: 0, len: 0 };
      const m = memory.start;
      ring.writeDesc(0, m, 8, VirtqDescFlag.NEXT, 1);
      ring.writeDesc(1, m + 8, 16, VirtqDescFlag.WRITE, 0);
      drv.enableInterrupts();
      dev.enableNotifications();
      let kicks = 0;
      let irqs = 0;
      // Plain checks in the loop (an expect per step would take seconds); the first bad step is
      // reported.
      let bad: string | undefined;
      for (let i = 0; i < 70_000 && bad === undefined; i++) {
        drv.publish(0, 16);
        if (drv.kickPrepare()) kicks++;
        const head = dev.pop();
        if (head !== 0 || dev.walk(head, chain) !== undefined) bad = `step ${i}: pop gave ${head}`;
        dev.pushUsed(0, 12);
        if (dev.publishUsed()) irqs++;
        if (dev.pop() !== POP_EMPTY) bad ??= `step ${i}: the avail ring was not empty`;
        dev.enableNotifications();
        if (drv.take(el) !== 'ok' || drv.take(el) !== 'empty') bad ??= `step ${i}: take`;
        drv.enableInterrupts();
      }
      expect(bad).toBeUndefined();
      expect(dev.lastAvail).toBe(70_000 & 0xffff);
      expect(dev.usedIdx).toBe(70_000 & 0xffff);
      expect(drv.broken).toBeUndefined();
      expect(kicks).toBe(70_000);
      expect(irqs).toBe(70_000);
    },
  );
});
