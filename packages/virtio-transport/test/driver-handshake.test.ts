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
import { manualRig } from './support/manual-rig.js';

const { ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, FAILED } = VirtioStatus;

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

  it('should accept ACCESS_PLATFORM and ORDER_PLATFORM when offered (a driver SHOULD, VIRTIO 1.2 §6.1), and no other bit it does not know', async () => {
    const unknown = featureMask(40) | featureMask(5) | featureMask(63);
    const offered =
      VIRTIO_SCMI_DEVICE_FEATURES |
      featureMask(VirtioFeature.ACCESS_PLATFORM) |
      featureMask(VirtioFeature.ORDER_PLATFORM) |
      unknown;
    const h = createVirtioHarness({ device: { features: offered } });
    const agent = await h.create();
    const f = h.wire.driverDiagnostics.features;
    expect(hasFeature(f, VirtioFeature.ACCESS_PLATFORM)).toBe(true);
    expect(hasFeature(f, VirtioFeature.ORDER_PLATFORM)).toBe(true);
    expect(f & unknown).toBe(0n);
    expect(h.device.features).toBe(f);
    expect(await agent.base.discoverVendor()).toBe('scmi-ts');
    await agent.remove();
    await h.shutdown();
  });

  it('should not ask for ACCESS_PLATFORM or ORDER_PLATFORM when the device does not offer them', async () => {
    const h = createVirtioHarness();
    const agent = await h.create();
    const f = h.wire.driverDiagnostics.features;
    expect(hasFeature(f, VirtioFeature.ACCESS_PLATFORM)).toBe(false);
    expect(hasFeature(f, VirtioFeature.ORDER_PLATFORM)).toBe(false);
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

  it('should initialize the device in the order VIRTIO 1.2 §3.1.1 gives', async () => {
    const { clock, platform, wire, device, probe } = manualRig();
    const agent = await probe();
    // Reset; ACKNOWLEDGE; DRIVER; features written, then FEATURES_OK (read back); queues set up,
    // then DRIVER_OK — each status keeping the bits before it.
    expect(device.statusLog.map((e) => e.status)).toEqual([
      0,
      ACKNOWLEDGE,
      ACKNOWLEDGE | DRIVER,
      ACKNOWLEDGE | DRIVER | FEATURES_OK,
      ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK,
    ]);
    const [, ack, drv, featuresOk, driverOk] = device.statusLog;
    // No feature before DRIVER; the accepted ones (VERSION_1, P2A: what this device offers) by
    // FEATURES_OK, unchanged after it.
    const accepted =
      featureMask(VirtioFeature.VERSION_1) | featureMask(VirtioFeature.SCMI_P2A_CHANNELS);
    expect([ack?.driverFeatures, drv?.driverFeatures]).toEqual([0n, 0n]);
    expect([featuresOk?.driverFeatures, driverOk?.driverFeatures]).toEqual([accepted, accepted]);
    // The virtqueues are made ready after FEATURES_OK, before DRIVER_OK.
    expect([featuresOk?.cmdqReady, featuresOk?.eventqReady]).toEqual([0, 0]);
    expect([driverOk?.cmdqReady, driverOk?.eventqReady]).toEqual([1, 1]);
    expect(wire.driverDiagnostics.state).toBe('live');
    const removing = agent.remove();
    await clock.runUntilIdle();
    await removing;
    expect(device.statusWrites.at(-1)).toBe(0); // the teardown's reset
    platform.close();
  });

  it('should fail with E_VIRTIO_FEATURES when the device clears FEATURES_OK, and go no further', async () => {
    const { clock, platform, wire, device, create } = manualRig();
    device.refuseFeatures = true;
    const writes: number[] = [];
    const write = wire.registers.write.bind(wire.registers);
    jest.spyOn(wire.registers, 'write').mockImplementation((reg, value) => {
      if (reg === VirtioRegister.STATUS_REQUEST) writes.push(value);
      write(reg, value);
    });
    await expect(create()).rejects.toMatchObject({
      code: 'E_VIRTIO_FEATURES',
      message: /refused the features/,
    });
    // FAILED after FEATURES_OK (VIRTIO 1.2 §3.1.1 step 6: the device does not support this
    // subset), then the teardown's reset; DRIVER_OK never written, no queue made ready. (The
    // device acts on the latest status only: it sees the reset written over FAILED.)
    expect(writes).toEqual([
      0,
      ACKNOWLEDGE,
      ACKNOWLEDGE | DRIVER,
      ACKNOWLEDGE | DRIVER | FEATURES_OK,
      // FAILED added to what the device holds (it kept DRIVER but not FEATURES_OK), no bit cleared.
      ACKNOWLEDGE | DRIVER | FAILED,
      0,
    ]);
    expect(device.statusLog.map((e) => e.status).at(-1)).toBe(0);
    expect(device.statusLog.every((e) => e.cmdqReady === 0 && e.eventqReady === 0)).toBe(true);
    expect(device.cmdq).toBeUndefined();
    expect(wire.driverDiagnostics.state).toBe('closed');
    expect(clock.armedTimers).toBe(0);
    platform.close();
  });

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
    // Added to the status the device holds (VIRTIO 1.2 §2.1.1: no bit cleared), as Linux's
    // virtio_add_status does: the device counts no bad status write.
    expect(writes).toContain(ACKNOWLEDGE | DRIVER | FAILED);
    expect(writes).not.toContain(FAILED);
    expect(h.device.stats.badStatusWrites).toBe(0);
    // Teardown reset follows (status 0 last).
    expect(writes.at(-1)).toBe(0);
    await h.shutdown();
  });
});
