import { ScmiTransportError } from '@scmi-ts/core';
import {
  VIRTIO_SCMI_DEVICE_FEATURES,
  VirtioFeature,
  VirtioRegister,
  VirtioStatus,
  VirtqDescFlag,
  featureMask,
  hasFeature,
} from '@scmi-ts/virtio-transport';
import { createVirtioHarness } from './support/harness.js';

// The driver's side of the handshake and of each message, as the issue and Linux's virtio driver
// want them: VERSION_1 required, SHARED_MEMORY never taken, FAILED written when the handshake
// fails, and two direct descriptors per message even when INDIRECT_DESC is negotiated.
describe('the virtio-scmi driver', () => {
  it('should never accept SHARED_MEMORY, even when the device offers it', async () => {
    const h = createVirtioHarness({
      device: {
        features: VIRTIO_SCMI_DEVICE_FEATURES | featureMask(VirtioFeature.SCMI_SHARED_MEMORY),
      },
    });
    const agent = await h.create();
    const f = h.wire.driverDiagnostics.features;
    expect(hasFeature(f, VirtioFeature.SCMI_SHARED_MEMORY)).toBe(false);
    expect(hasFeature(h.device.features, VirtioFeature.SCMI_SHARED_MEMORY)).toBe(false);
    expect(hasFeature(f, VirtioFeature.VERSION_1)).toBe(true);
    await agent.remove();
    await h.shutdown();
  });

  it.each([false, true])(
    'should use two direct descriptors per message, a readable request and a writable response (INDIRECT_DESC negotiated: %p)',
    async (indirectDesc) => {
      const h = createVirtioHarness({ transportConfig: { features: { indirectDesc } } });
      const agent = await h.create();
      expect(hasFeature(h.wire.driverDiagnostics.features, VirtioFeature.RING_INDIRECT_DESC)).toBe(
        indirectDesc,
      );
      // 20 commands at once: several slots used.
      await Promise.all(Array.from({ length: 20 }, () => agent.base.discoverVendor()));
      const ring = h.wire.cmdqRing(h.wire.layout.cmdqSize);
      let used = 0;
      for (let k = 0; k < ring.size / 2; k++) {
        const head = 2 * k;
        if (ring.descLen(head) === 0) continue;
        used++;
        expect(ring.descFlags(head)).toBe(VirtqDescFlag.NEXT);
        expect(ring.descNext(head)).toBe(head + 1);
        expect(ring.descLen(head)).toBeGreaterThanOrEqual(4);
        expect(ring.descFlags(head + 1)).toBe(VirtqDescFlag.WRITE);
        expect(ring.descLen(head + 1)).toBe(h.wire.layout.pduSize);
        expect(ring.descFlags(head) & VirtqDescFlag.INDIRECT).toBe(0);
      }
      expect(used).toBeGreaterThan(1);
      await agent.remove();
      await h.shutdown();
    },
  );

  it('should write FAILED when the handshake fails (the device lacks VERSION_1), then reset', async () => {
    const h = createVirtioHarness({
      device: { features: featureMask(VirtioFeature.SCMI_P2A_CHANNELS) },
    });
    const writes: number[] = [];
    const orig = h.wire.registers.write.bind(h.wire.registers);
    jest.spyOn(h.wire.registers, 'write').mockImplementation((reg, value) => {
      if (reg === VirtioRegister.STATUS_REQUEST) writes.push(value);
      orig(reg, value);
    });
    await expect(h.create()).rejects.toBeInstanceOf(ScmiTransportError);
    expect(writes).toContain(VirtioStatus.FAILED);
    // Teardown reset follows (status 0 last).
    expect(writes.at(-1)).toBe(0);
    await h.shutdown();
  });
});
