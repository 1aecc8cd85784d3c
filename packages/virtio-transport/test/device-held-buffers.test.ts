/**
 * What the device keeps of a buffer it holds for later (an eventq buffer, a deferred command's
 * response buffer) is bounded by the largest message it writes there (header + `maxMsgSize`), not
 * by the descriptors the driver wrote: one indirect table of many writable entries pointing at the
 * same few bytes, referred to by every head, would otherwise make it keep a copy of every entry
 * per head. Observed through the chain each write goes over (`DeviceVirtqueue.writeChain`).
 */
import {
  ScmiMessageType,
  VirtualClock,
  buildHeader,
  encodeMsg,
  encodeMsgResponse,
} from '@scmi-ts/core';
import {
  DescriptorChain,
  DeviceVirtqueue,
  VIRTIO_DEVICE_MAX_SEGMENTS,
  VirtioFeature,
  VirtioScmiDevice,
  VirtioScmiWire,
  VirtqDescFlag,
  featureMask,
} from '@scmi-ts/virtio-transport';
import { ManualDriver } from './support/manual-driver.js';
import { StubPlatform } from './support/stub-platform.js';

const FEATURES =
  featureMask(VirtioFeature.VERSION_1) |
  featureMask(VirtioFeature.SCMI_P2A_CHANNELS) |
  featureMask(VirtioFeature.RING_INDIRECT_DESC);
const EVENTQ = 64;
const MAX_MSG = 128;
/** The most the device writes into a buffer it holds: header + maxMsgSize. */
const LARGEST = 4 + MAX_MSG;
/** Non-empty entries of 8 bytes cover LARGEST in this many segments (the last one cut). */
const SEGMENTS_KEPT = Math.ceil(LARGEST / 8);

interface Written {
  readonly segments: number;
  readonly capacity: number;
  readonly bytes: number;
}

async function setup() {
  const clock = new VirtualClock();
  const wire = VirtioScmiWire.sameThread(clock, {
    cmdqSize: 8,
    eventqSize: EVENTQ,
    maxMsgSize: MAX_MSG,
    guestMemoryBytes: 128 * 1024,
  });
  const platform = new StubPlatform();
  const device = new VirtioScmiDevice(wire, { platform, agentId: 1, clock });
  const driver = new ManualDriver(wire, clock);
  await driver.start({ features: FEATURES });
  /** The chains the device wrote over, as it held them. */
  const written: Written[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its queue as `this`
  const write = DeviceVirtqueue.prototype.writeChain;
  const spy = jest.spyOn(DeviceVirtqueue.prototype, 'writeChain').mockImplementation(function (
    this: DeviceVirtqueue,
    chain: DescriptorChain,
    source: Uint8Array,
    length: number,
  ) {
    written.push({
      segments: chain.writeCount,
      capacity: chain.maxSegments,
      bytes: chain.writeBytes,
    });
    return write.call(this, chain, source, length);
  });
  /**
   * An indirect table of `entries` writable entries, alternately 8 bytes (all the same 8 bytes of
   * guest memory) and empty: `entries / 2 * 8` writable bytes over `entries` segments.
   */
  const table = (entries: number): { addr: number; len: number } => {
    const target = driver.memory.allocate(8);
    const addr = driver.memory.allocate(16 * entries);
    for (let j = 0; j < entries; j++) {
      const at = addr + 16 * j;
      const last = j === entries - 1;
      driver.view.setUint32(at, target, true);
      driver.view.setUint32(at + 4, 0, true);
      driver.view.setUint32(at + 8, j % 2 === 0 ? 8 : 0, true);
      driver.view.setUint16(
        at + 12,
        last ? VirtqDescFlag.WRITE : VirtqDescFlag.WRITE | VirtqDescFlag.NEXT,
        true,
      );
      driver.view.setUint16(at + 14, last ? 0 : j + 1, true);
    }
    return { addr, len: 16 * entries };
  };
  const done = (): void => {
    spy.mockRestore();
    device.close();
    driver.close();
  };
  return { wire, platform, device, driver, written, table, done };
}

describe('VirtioScmiDevice held buffers', () => {
  it('should keep of each eventq buffer only the non-empty segments covering header + maxMsgSize, whatever the table every head refers to', async () => {
    const { platform, device, driver, written, table, done } = await setup();
    const shared = table(VIRTIO_DEVICE_MAX_SEGMENTS);
    for (let head = 0; head < EVENTQ; head++) {
      driver.eventq.writeDesc(head, shared.addr, shared.len, VirtqDescFlag.INDIRECT, 0);
      driver.offerEventq(head);
    }
    await driver.kick();
    expect(device.eventBuffers).toBe(EVENTQ);
    const notification = encodeMsg(
      buildHeader(0, ScmiMessageType.NOTIFICATION, 0x10, 0),
      new Uint8Array(8),
    );
    for (let k = 0; k < EVENTQ; k++) expect(platform.link?.post(notification)).toBe(true);
    expect(written).toHaveLength(EVENTQ);
    // Each of the 64 buffers: 17 segments kept (132 bytes) of its 1024 (4096 bytes).
    for (const w of written) {
      expect(w).toEqual({ segments: SEGMENTS_KEPT, capacity: SEGMENTS_KEPT, bytes: LARGEST });
    }
    expect(driver.usedEventq()).toEqual(
      Array.from({ length: EVENTQ }, (_, id) => ({ id, len: notification.byteLength })),
    );
    done();
  });

  it('should drop a notification larger than the link carries, and make event-oversize lie past the whole buffer, not the part kept', async () => {
    const { platform, device, driver, written, table, done } = await setup();
    const shared = table(VIRTIO_DEVICE_MAX_SEGMENTS);
    for (let head = 0; head < 2; head++) {
      driver.eventq.writeDesc(head, shared.addr, shared.len, VirtqDescFlag.INDIRECT, 0);
      driver.offerEventq(head);
    }
    await driver.kick();
    const larger = encodeMsg(
      buildHeader(0, ScmiMessageType.NOTIFICATION, 0x10, 0),
      new Uint8Array(LARGEST), // 4 bytes more than the link carries
    );
    expect(platform.link?.post(larger)).toBe(false);
    expect(device.stats.eventsTooLarge).toBe(1);
    device.faults.add({ kind: 'event-oversize' });
    const largest = encodeMsg(
      buildHeader(0, ScmiMessageType.NOTIFICATION, 0x10, 0),
      new Uint8Array(MAX_MSG),
    );
    expect(platform.link?.post(largest)).toBe(true);
    // The lie goes past the whole buffer (VIRTIO_DEVICE_MAX_SEGMENTS / 2 entries of 8 bytes).
    expect(driver.usedEventq()).toEqual([{ id: 0, len: (VIRTIO_DEVICE_MAX_SEGMENTS / 2) * 8 + 1 }]);
    expect(written).toEqual([{ segments: SEGMENTS_KEPT, capacity: SEGMENTS_KEPT, bytes: LARGEST }]);
    done();
  });

  it("should keep of a deferred command's buffer only the non-empty segments covering header + maxMsgSize, cutting a later response there", async () => {
    const { platform, device, driver, written, table, done } = await setup();
    platform.reply = () => undefined; // every command is answered later
    const request = (token: number): Uint8Array =>
      encodeMsg(buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, token), new Uint8Array(0));
    // With the request's descriptor, the most a chain takes.
    const entries = VIRTIO_DEVICE_MAX_SEGMENTS - 2;
    const shared = table(entries);
    for (let k = 0; k < 3; k++) {
      const head = 2 * k;
      const req = driver.memory.allocate(8);
      driver.bytes.set(request(k + 1), req);
      driver.cmdq.writeDesc(head, req, 4, VirtqDescFlag.NEXT, head + 1);
      driver.cmdq.writeDesc(head + 1, shared.addr, shared.len, VirtqDescFlag.INDIRECT, 0);
      driver.offerCmdq(head);
    }
    await driver.kick();
    expect(device.outstandingCommands).toBe(3);
    const link = platform.link;
    // A response as large as the link carries, written whole.
    link?.respond(
      0,
      encodeMsgResponse(buildHeader(0x3, 0, 0x10, 1), 0, new Uint8Array(MAX_MSG - 4)),
    );
    // One larger than the link carries: cut at header + maxMsgSize, and counted.
    link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 2), 0, new Uint8Array(MAX_MSG)));
    expect(device.stats.responsesTruncated).toBe(1);
    // used-len-oversize still goes past the whole buffer.
    device.faults.add({ kind: 'used-len-oversize' });
    link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 3), 0));
    expect(driver.usedCmdq()).toEqual([
      { id: 0, len: LARGEST },
      { id: 2, len: LARGEST },
      { id: 4, len: (entries / 2) * 8 + 64 },
    ]);
    expect(written).toEqual(
      Array.from({ length: 3 }, () => ({
        segments: SEGMENTS_KEPT,
        capacity: SEGMENTS_KEPT,
        bytes: LARGEST,
      })),
    );
    done();
  });
});

describe('DescriptorChain.writablePrefix', () => {
  it('should copy the non-empty writable segments covering the first bytes, cutting the last', () => {
    const chain = new DescriptorChain(8);
    chain.reset(3);
    chain.secondIndex = 5;
    chain.add(false, 0x100, 4);
    chain.add(true, 0x200, 0);
    chain.add(true, 0x300, 6);
    chain.add(true, 0x400, 0);
    chain.add(true, 0x500, 6);
    chain.add(true, 0x600, 6);
    const copy = chain.writablePrefix(10);
    expect([copy.head, copy.secondIndex, copy.readCount, copy.maxSegments]).toEqual([3, 5, 0, 2]);
    expect([copy.writeCount, copy.writeBytes]).toEqual([2, 10]);
    expect([...copy.writeAddr]).toEqual([0x300, 0x500]);
    expect([...copy.writeLen]).toEqual([6, 4]);
    const whole = chain.writablePrefix(1000);
    expect([whole.writeCount, whole.writeBytes, whole.maxSegments]).toEqual([3, 18, 3]);
    expect(chain.writablePrefix(0).writeCount).toBe(0);
  });
});
