import { ScmiConfigError, SharedDoorbell, type Doorbell } from '@scmi-ts/core';
import { OpteeWireLayout, allocateOpteeWire, openOpteeWireEnd } from '../src/index.js';

describe(OpteeWireLayout, () => {
  it('should lay out slots, static areas and the pool without overlap', () => {
    const l = new OpteeWireLayout({
      channels: [
        { id: 2, staticShmem: true, shmemSize: 256 },
        { id: 0 },
        { id: 5, staticShmem: true },
      ],
      threads: 4,
      shmPoolSize: 1000,
    });
    expect(l.channels.get(0)).toEqual({ id: 0, shmemOffset: undefined, shmemSize: 0 });
    const c2 = l.channels.get(2);
    const c5 = l.channels.get(5);
    expect(c2?.shmemSize).toBe(256);
    expect((c2?.shmemOffset ?? 0) >= l.slotOffset(4)).toBe(true);
    expect(c5?.shmemOffset).toBe((c2?.shmemOffset ?? 0) + 256);
    expect(l.poolOffset).toBeGreaterThanOrEqual((c5?.shmemOffset ?? 0) + 128);
    expect(l.poolSize).toBe(1000);
    expect(l.bytes).toBeGreaterThanOrEqual(l.poolOffset + 1000);
    expect(l.options.channels).toHaveLength(3);
  });

  it.each([
    [{ channels: [] }, 'wire.channels'],
    [{ channels: [{ id: 1 }, { id: 1 }] }, 'wire.channels[1].id'],
    [{ channels: [{ id: -1 }] }, 'wire.channels[0].id'],
    [{ channels: [{ id: 0, staticShmem: 'yes' }] }, 'wire.channels[0].staticShmem'],
    [{ channels: [{ id: 0, shmemSize: 30 }] }, 'wire.channels[0].shmemSize'],
    // Smaller than OP-TEE's 128-byte SMT slot (SMT_BUF_SLOT_SIZE), though a multiple of 4.
    [{ channels: [{ id: 0, staticShmem: true, shmemSize: 124 }] }, 'wire.channels[0].shmemSize'],
    [{ channels: [{ id: 0, shmemSize: 130 }] }, 'wire.channels[0].shmemSize'],
    [{ channels: [7] }, 'wire.channels[0]'],
    [{ threads: 0 }, 'wire.threads'],
    // A cancel request needs a thread besides the invocations it cancels, one per channel.
    [{ threads: 1 }, 'wire.threads'],
    [{ channels: [{ id: 0 }, { id: 1 }], threads: 2 }, 'wire.threads'],
    [{ shmPoolSize: 10 }, 'wire.shmPoolSize'],
    [null, 'wire'],
  ])('should refuse %j naming %s', (options, field) => {
    try {
      new OpteeWireLayout(options as never);
      throw new Error('accepted');
    } catch (e) {
      expect(ScmiConfigError.is(e) && e.field).toBe(field);
    }
  });

  it("should put the control block after core's doorbell region, whatever its size", async () => {
    await jest.isolateModulesAsync(async () => {
      jest.doMock('@scmi-ts/core', () => {
        const actual = jest.requireActual<typeof import('@scmi-ts/core')>('@scmi-ts/core');
        class WiderDoorbell extends actual.SharedDoorbell {
          public static override readonly BYTES = 20;
        }
        return { ...actual, SharedDoorbell: WiderDoorbell };
      });
      const wire = await import('../src/wire/optee-wire-layout.js');
      expect(wire.WIRE_DOORBELL_BYTES).toBe(20);
      expect(wire.WIRE_CONTROL_OFFSET).toBe(24);
      expect(wire.WIRE_TEE_STATE_WORD).toBe(24 / 4 + 3);
      expect(new wire.OpteeWireLayout().slotsOffset).toBe(24 + 32);
    });
  });

  it('should give both ends’ doorbells the poll window of the options, and refuse a bad one naming wire.pollWindowUs', () => {
    const windowOf = (d: Doorbell): number =>
      d instanceof SharedDoorbell ? d.pollWindowUs : Number.NaN;
    const memory = allocateOpteeWire({ pollWindowUs: 3 });
    const ree = openOpteeWireEnd(memory, { pollWindowUs: 3 }, 'ree');
    const tee = openOpteeWireEnd(memory, { pollWindowUs: 3 }, 'tee');
    expect([windowOf(ree.doorbell), windowOf(tee.doorbell)]).toEqual([3, 3]);
    const byDefault = openOpteeWireEnd(allocateOpteeWire(), {}, 'ree');
    expect(windowOf(byDefault.doorbell)).toBe(SharedDoorbell.defaultPollWindowUs());
    for (const end of [ree, tee, byDefault]) end.doorbell.close();
    for (const pollWindowUs of [-1, Number.NaN, 2_000_000]) {
      expect(() => new OpteeWireLayout({ pollWindowUs })).toThrow(
        expect.objectContaining({ field: 'wire.pollWindowUs' }) as ScmiConfigError,
      );
    }
  });

  it('should refuse memory laid out for another layout', () => {
    const memory = allocateOpteeWire({ threads: 2 });
    expect(() => openOpteeWireEnd(memory, { threads: 3 }, 'tee')).toThrow(/wire.memory/);
    expect(() => new OpteeWireLayout({ threads: 2 }).check(new SharedArrayBuffer(8))).toThrow(
      /at least/,
    );
    expect(() =>
      new OpteeWireLayout().check(new ArrayBuffer(8) as unknown as SharedArrayBuffer),
    ).toThrow(/SharedArrayBuffer/);
    const end = openOpteeWireEnd(memory, { threads: 2 }, 'ree');
    expect(end.staticShmem(0)?.byteLength).toBe(128);
    expect(end.staticShmem(9)).toBeUndefined();
    end.doorbell.close();
  });
});
