import { ScmiConfigError, ScmiTransportError, VirtualClock, type WorkerHost } from '@scmi-ts/core';
import {
  VIRTIO_WORKER_METHODS,
  VirtioDevicePresence,
  VirtioScmiWire,
  attachRemoteVirtioDevice,
  serveVirtioDevices,
  type VirtioDeviceStats,
} from '@scmi-ts/virtio-transport';
import { StubPlatform } from './support/stub-platform.js';

/** A stand-in for a worker host that calls the handlers in this thread. */
function inThreadHost(
  handlers: Readonly<Record<string, (...args: never[]) => unknown>>,
): WorkerHost {
  return {
    call: (method: string, ...args: unknown[]) => {
      try {
        const handler = handlers[method] as (...a: unknown[]) => unknown;
        return Promise.resolve(handler(...args));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
    // This thread never exits while the test runs.
    exited: new Promise<number>(() => undefined),
  } as unknown as WorkerHost;
}

describe(serveVirtioDevices, () => {
  it('should attach, report, configure and close devices by id', async () => {
    const clock = new VirtualClock();
    const server = serveVirtioDevices(new StubPlatform(), clock);
    const host = inThreadHost(server.handlers);
    const wire = VirtioScmiWire.shared({ cmdqSize: 8, eventqSize: 2 });
    const device = await attachRemoteVirtioDevice(host, wire, 1, {
      completion: 'reverse',
      features: '0x100000001',
    });
    expect(server.devices).toBe(1);
    expect(wire.devicePresence).toBe(VirtioDevicePresence.ATTACHED);
    const stats: VirtioDeviceStats = await device.stats();
    expect(stats.commands).toBe(0);
    await device.setWireFaults([{ kind: 'used-idx-jump' }]);
    await expect(device.setWireFaults([{ kind: 'nope' as never }])).rejects.toBeInstanceOf(
      ScmiConfigError,
    );
    await device.close();
    await device.close();
    expect(server.devices).toBe(0);
    expect(wire.devicePresence).toBe(VirtioDevicePresence.CLOSED);
    // The worker forgot the device; its counters as they were at the close stay readable.
    await expect(device.stats()).resolves.toEqual(stats);
    await expect(host.call(VIRTIO_WORKER_METHODS.stats, device.id)).rejects.toThrow(
      /no virtio device/,
    );
  });

  it.each(['E_WORKER_STOPPED', 'E_WORKER_EXITED'])(
    'should close quietly once the worker is gone (%s): the device went with it',
    async (code) => {
      const server = serveVirtioDevices(new StubPlatform(), new VirtualClock());
      const inThread = inThreadHost(server.handlers);
      let gone = false;
      const host = {
        exited: inThread.exited,
        call: (method: string, ...args: unknown[]) =>
          gone
            ? Promise.reject(new ScmiTransportError(code, `cannot call "${method}"`))
            : inThread.call(method, ...args),
      } as unknown as WorkerHost;
      const device = await attachRemoteVirtioDevice(
        host,
        VirtioScmiWire.shared({ cmdqSize: 4 }),
        1,
      );
      gone = true; // host.stop() first, then device.close(), as a finally block may do
      await expect(device.close()).resolves.toBeUndefined();
      await expect(device.close()).resolves.toBeUndefined();
    },
  );

  it('should still reject a close the worker refuses for another reason', async () => {
    const host = {
      call: (method: string) =>
        method === VIRTIO_WORKER_METHODS.close
          ? Promise.reject(new ScmiTransportError('E_WORKER_PROTOCOL', 'malformed answer'))
          : Promise.resolve(7),
      exited: new Promise<number>(() => undefined),
    } as unknown as WorkerHost;
    const device = await attachRemoteVirtioDevice(host, VirtioScmiWire.shared({ cmdqSize: 4 }), 1);
    await expect(device.close()).rejects.toThrow('malformed answer');
  });

  it('should close every device at once', async () => {
    const server = serveVirtioDevices(new StubPlatform(), new VirtualClock());
    const host = inThreadHost(server.handlers);
    const wires = [VirtioScmiWire.shared({ cmdqSize: 4 }), VirtioScmiWire.shared({ cmdqSize: 4 })];
    for (const w of wires) await attachRemoteVirtioDevice(host, w, 1);
    server.closeAll();
    expect(server.devices).toBe(0);
    expect(wires.every((w) => w.devicePresence === VirtioDevicePresence.CLOSED)).toBe(true);
  });
});

describe(attachRemoteVirtioDevice, () => {
  it('should refuse a same-thread wire', async () => {
    const wire = VirtioScmiWire.sameThread(new VirtualClock());
    await expect(attachRemoteVirtioDevice(inThreadHost({}), wire, 1)).rejects.toMatchObject({
      field: 'wire',
    });
  });

  it.each(['1', 1.5, undefined, null])(
    'should reject with E_WORKER_PROTOCOL when the worker answers attach with %p, not a device id',
    async (answer) => {
      const host = { name: 'rogue', call: () => Promise.resolve(answer) } as unknown as WorkerHost;
      const error: unknown = await attachRemoteVirtioDevice(host, VirtioScmiWire.shared(), 1).catch(
        (e: unknown) => e,
      );
      expect(ScmiTransportError.is(error)).toBe(true);
      expect(error).toMatchObject({
        code: 'E_WORKER_PROTOCOL',
        message: `worker "rogue" answered "virtio.attach" with ${String(answer)}, not a device id`,
      });
    },
  );
});
