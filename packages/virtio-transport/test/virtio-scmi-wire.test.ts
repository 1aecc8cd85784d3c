import {
  ScmiConfigError,
  ScmiTransportError,
  SharedDoorbell,
  VirtualClock,
  type Doorbell,
} from '@scmi-ts/core';
import {
  VIRTIO_ID_SCMI,
  VIRTIO_MAGIC,
  VirtioDevicePresence,
  VirtioRegister,
  VirtioScmiWire,
} from '@scmi-ts/virtio-transport';

describe(VirtioScmiWire, () => {
  describe('.sameThread', () => {
    it('should lay out the buffer and write the identification registers', () => {
      const wire = VirtioScmiWire.sameThread(new VirtualClock(), { cmdqSize: 16, eventqSize: 4 });
      expect(wire.mode).toBe('same-thread');
      expect(wire.sab.byteLength).toBe(wire.layout.bytes);
      const r = wire.registers;
      expect(r.read(VirtioRegister.MAGIC)).toBe(VIRTIO_MAGIC);
      expect(r.read(VirtioRegister.DEVICE_ID)).toBe(VIRTIO_ID_SCMI);
      expect(r.read(VirtioRegister.CMDQ_NUM_MAX)).toBe(16);
      expect(r.read(VirtioRegister.EVENTQ_NUM_MAX)).toBe(4);
      expect(wire.devicePresence).toBe(VirtioDevicePresence.ABSENT);
      expect(wire.cmdqRing(8).size).toBe(8);
      expect(wire.eventqRing(4).layout.desc).toBe(wire.layout.eventqBase);
    });

    it('should connect the two ends with doorbells on the clock', async () => {
      const clock = new VirtualClock();
      const wire = VirtioScmiWire.sameThread(clock);
      const driver = wire.claimDriverEnd();
      const device = wire.claimDeviceEnd();
      expect(wire.devicePresence).toBe(VirtioDevicePresence.ATTACHED);
      const seen: string[] = [];
      device.notify.listen(() => seen.push('device notified'));
      driver.notify.listen(() => seen.push('driver config'));
      driver.interrupt.listen(() => seen.push('driver interrupt'));
      driver.notify.ring();
      device.notify.ring();
      device.interrupt.ring();
      await clock.runTasks();
      expect(seen).toEqual(['device notified', 'driver config', 'driver interrupt']);
      for (const d of [driver.notify, driver.interrupt, device.notify, device.interrupt]) d.close();
    });
  });

  describe('.shared', () => {
    /** A shared doorbell's poll window; NaN for any other doorbell. */
    const windowOf = (d: Doorbell): number =>
      d instanceof SharedDoorbell ? d.pollWindowUs : Number.NaN;

    it("should build each end's doorbells with the poll window it asks for, and claim nothing for a bad one", () => {
      const wire = VirtioScmiWire.shared({ cmdqSize: 4, eventqSize: 1 });
      for (const claim of [
        (pollWindowUs: number) => wire.claimDriverEnd({ pollWindowUs }),
        (pollWindowUs: number) => wire.claimDeviceEnd({ pollWindowUs }),
      ]) {
        expect(() => claim(-1)).toThrow(
          expect.objectContaining({ field: 'pollWindowUs' }) as ScmiConfigError,
        );
        const end = claim(7);
        expect([end.notify, end.interrupt].map(windowOf)).toEqual([7, 7]);
        end.notify.close();
        end.interrupt.close();
      }
      expect(wire.devicePresence).toBe(VirtioDevicePresence.ATTACHED);
      const other = VirtioScmiWire.shared({ cmdqSize: 4, eventqSize: 1 });
      const byDefault = other.claimDriverEnd();
      expect(windowOf(byDefault.interrupt)).toBe(SharedDoorbell.defaultPollWindowUs());
      byDefault.notify.close();
      byDefault.interrupt.close();
    });

    it('should check the poll window on a same-thread wire too, where the doorbells ignore it', () => {
      const wire = VirtioScmiWire.sameThread(new VirtualClock());
      expect(() => wire.claimDriverEnd({ pollWindowUs: Number.NaN })).toThrow(ScmiConfigError);
      const end = wire.claimDriverEnd({ pollWindowUs: 0 });
      expect(end.interrupt).not.toBeInstanceOf(SharedDoorbell);
    });
  });

  describe('when the wire would be too large', () => {
    function thrown(f: () => unknown): unknown {
      try {
        f();
        return undefined;
      } catch (e) {
        return e;
      }
    }

    it.each([
      [
        'sameThread',
        () => VirtioScmiWire.sameThread(new VirtualClock(), { guestMemoryBytes: 2 ** 40 }),
      ],
      ['shared', () => VirtioScmiWire.shared({ guestMemoryBytes: 2 ** 40 })],
    ])(
      'should refuse .%s with guestMemoryBytes 2^40 (past 4 GiB) as an ScmiConfigError, not a RangeError',
      (_, create) => {
        const e = thrown(create);
        expect(e).not.toBeInstanceOf(RangeError);
        expect(ScmiConfigError.is(e)).toBe(true);
        expect(e).toMatchObject({ code: 'E_CONFIG', field: 'guestMemoryBytes' });
      },
    );

    it('should turn a failed SharedArrayBuffer allocation into E_VIRTIO_WIRE with the cause', () => {
      const real = globalThis.SharedArrayBuffer;
      const failure = new RangeError('Array buffer allocation failed');
      globalThis.SharedArrayBuffer = function (): never {
        throw failure;
      } as unknown as SharedArrayBufferConstructor;
      let sameThread: unknown;
      let shared: unknown;
      try {
        sameThread = thrown(() => VirtioScmiWire.sameThread(new VirtualClock()));
        shared = thrown(() => VirtioScmiWire.shared());
      } finally {
        globalThis.SharedArrayBuffer = real;
      }
      for (const e of [sameThread, shared]) {
        expect(ScmiTransportError.is(e)).toBe(true);
        expect(e).toMatchObject({ code: 'E_VIRTIO_WIRE', cause: failure });
      }
    });
  });

  describe('.claimDriverEnd / .claimDeviceEnd', () => {
    it('should let each end be claimed once, across reopened views', () => {
      const wire = VirtioScmiWire.shared();
      const other = VirtioScmiWire.open(wire.handle);
      const driver = wire.claimDriverEnd();
      const device = other.claimDeviceEnd();
      expect(() => other.claimDriverEnd()).toThrow(
        expect.objectContaining({ code: 'E_VIRTIO_WIRE_CLAIMED' }) as Error,
      );
      expect(() => wire.claimDeviceEnd()).toThrow(
        expect.objectContaining({ code: 'E_VIRTIO_WIRE_CLAIMED' }) as Error,
      );
      for (const d of [driver.notify, driver.interrupt, device.notify, device.interrupt]) d.close();
    });
  });

  describe('.open', () => {
    it('should reopen a shared wire from its handle without rewriting it', () => {
      const wire = VirtioScmiWire.shared({ cmdqSize: 8 });
      wire.registers.write(VirtioRegister.DEVICE_STATUS, 7);
      const again = VirtioScmiWire.open(wire.handle);
      expect(again.layout).toEqual(wire.layout);
      expect(again.registers.read(VirtioRegister.DEVICE_STATUS)).toBe(7);
    });

    it('should refuse a handle that is not a wire', () => {
      expect(() =>
        VirtioScmiWire.open({ sab: new SharedArrayBuffer(1 << 16), options: {} }),
      ).toThrow(expect.objectContaining({ code: 'E_VIRTIO_WIRE' }) as Error);
      expect(() =>
        VirtioScmiWire.open({
          sab: new ArrayBuffer(8) as unknown as SharedArrayBuffer,
          options: {},
        }),
      ).toThrow(/SharedArrayBuffer/);
      const small = VirtioScmiWire.shared({ cmdqSize: 8 });
      expect(() => VirtioScmiWire.open({ sab: small.sab, options: {} })).toThrow(/needs/);
    });
  });

  describe('.setUsedBufferInterceptor', () => {
    it('should hold used-buffer notifications and count those delivered after the driver closed', async () => {
      const clock = new VirtualClock();
      const wire = VirtioScmiWire.sameThread(clock);
      const driver = wire.claimDriverEnd();
      const device = wire.claimDeviceEnd();
      let interrupts = 0;
      driver.interrupt.listen(() => interrupts++);
      const held: (() => void)[] = [];
      wire.setUsedBufferInterceptor((deliver) => held.push(deliver));
      device.interrupt.ring();
      await clock.runTasks();
      expect([interrupts, held.length]).toEqual([0, 1]);
      held[0]?.();
      expect(interrupts).toBe(1);
      device.interrupt.ring();
      driver.interrupt.close();
      held[1]?.();
      expect(interrupts).toBe(1);
      expect(wire.driverDiagnostics.signalsAfterClose).toBe(1);
      wire.setUsedBufferInterceptor(undefined);
      for (const d of [driver.notify, device.notify, device.interrupt]) d.close();
    });

    it('should refuse on a shared wire', () => {
      expect(() => {
        VirtioScmiWire.shared().setUsedBufferInterceptor(undefined);
      }).toThrow(/same-thread/);
    });
  });
});
