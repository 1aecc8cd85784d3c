import { ScmiMessageType, VirtualClock, buildHeader, type PlatformAgentLink } from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_ERROR,
  SMT_CHANNEL_FREE,
  SMT_PEER_FRAME_KIND,
  SmtArea,
  createSmtPeerFrameHandler,
  processSmtArea,
} from '@scmi-ts/mailbox-transport';

function area(size: number, fill: (a: SmtArea) => void): Uint8Array {
  const memory = new SharedArrayBuffer(size);
  const a = new SmtArea(memory, 0, size);
  fill(a);
  return new Uint8Array(a.bytes);
}

function view(bytes: Uint8Array): SmtArea {
  const memory = new SharedArrayBuffer(Math.ceil(bytes.byteLength / 4) * 4);
  new Uint8Array(memory).set(bytes);
  return new SmtArea(memory, 0, memory.byteLength);
}

const link: PlatformAgentLink = {
  p2a: false,
  maxMsgSize: 128,
  respond: () => undefined,
  post: () => false,
};

describe(processSmtArea, () => {
  const clock = new VirtualClock();
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const connection = platform.connect(1, link);
  afterAll(() => {
    connection.disconnect();
    platform.close();
  });
  const vendor = buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 5);

  it('should answer the command in a busy area and hand the area back freed', () => {
    const request = area(156, (a) => {
      a.setStatus(0);
      a.setLength(4);
      a.setHeader(vendor);
    });
    const handler = createSmtPeerFrameHandler();
    const updated = view(handler({ platform, agentId: 1 }, request));
    expect(SMT_PEER_FRAME_KIND).toBe(2);
    expect(updated.status()).toBe(SMT_CHANNEL_FREE);
    expect(updated.header()).toBe(vendor);
    expect(updated.payloadI32()).toBe(0);
    expect(updated.length()).toBe(4 + 4 + 16);
    expect(Buffer.from(updated.bytes.subarray(0x20, 0x27)).toString()).toBe('scmi-ts');
  });

  it('should hand a free area back unchanged, and answer a hostile length with CHANNEL_ERROR', () => {
    const idle = area(128, (a) => {
      a.setStatus(SMT_CHANNEL_FREE);
      a.setLength(0xffff);
    });
    expect(processSmtArea(platform, 1, 0, idle)).toEqual(idle);
    const hostile = area(128, (a) => {
      a.setStatus(0);
      a.setLength(0xffffffff);
    });
    expect(view(processSmtArea(platform, 1, 0, hostile)).status()).toBe(
      SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR,
    );
    const short = area(128, (a) => {
      a.setStatus(0);
      a.setLength(2);
    });
    expect(view(processSmtArea(platform, 1, 0, short)).status()).toBe(
      SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR,
    );
  });

  it('should refuse a frame that cannot be an SMT area', () => {
    expect(() => processSmtArea(platform, 1, 0, new Uint8Array(20))).toThrow(RangeError);
    expect(() => processSmtArea(platform, 1, 0, new Uint8Array(5000))).toThrow(RangeError);
  });

  it('should leave the area busy when the platform has no response now', () => {
    platform.faults.add({
      match: { protocolId: 0x10, messageId: 0x3, times: 1 },
      action: { kind: 'drop' },
    });
    const request = area(130, (a) => {
      a.setStatus(0);
      a.setLength(4);
      a.setHeader(vendor);
    });
    const updated = processSmtArea(platform, 1, 0, request);
    expect(updated.byteLength).toBe(130);
    expect(view(updated).status()).toBe(0);
  });
});
