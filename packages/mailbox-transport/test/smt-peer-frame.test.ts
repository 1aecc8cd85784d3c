import { connect, type Socket } from 'node:net';
import {
  RealClock,
  ScmiMessageType,
  ScmiStatus,
  VirtualClock,
  buildHeader,
  type PlatformAgentLink,
} from '@scmi-ts/core';
import {
  PeerFrameKind,
  PeerFrameReader,
  ScmiPlatform,
  createDefaultPlatformConfig,
  decodeCloseReason,
  encodePeerFrame,
  registerFrameKind,
  startPeerPort,
  type PeerFrame,
} from '@scmi-ts/platform';
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

  it('should answer PROTOCOL_ERROR, with the header, when the response is larger than the area', () => {
    // BASE_DISCOVER_VENDOR: header, status and a 16-byte name (24 bytes); a 44-byte area holds
    // 20 bytes of message, a 48-byte one 24.
    const request = (size: number) =>
      area(size, (a) => {
        a.setStatus(0);
        a.setLength(4);
        a.setHeader(vendor);
      });
    const small = view(processSmtArea(platform, 1, 0, request(44)));
    expect([small.status(), small.length(), small.header(), small.payloadI32()]).toEqual([
      SMT_CHANNEL_FREE,
      8,
      vendor,
      -10, // PROTOCOL_ERROR
    ]);
    const fits = view(processSmtArea(platform, 1, 0, request(48)));
    expect([fits.status(), fits.length(), fits.payloadI32()]).toEqual([SMT_CHANNEL_FREE, 24, 0]);
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
    const refused = view(processSmtArea(platform, 1, 0, short));
    // As SCP-firmware: PROTOCOL_ERROR in the status word, length 8, with the error bit.
    expect([refused.status(), refused.payloadI32(), refused.length()]).toEqual([
      SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR,
      ScmiStatus.PROTOCOL_ERROR,
      8,
    ]);
  });

  it('should answer CHANNEL_ERROR for an area whose status has CHANNEL_ERROR, without the platform seeing it', () => {
    const before = platform.counters.requests + platform.counters.droppedRequests;
    const stale = area(156, (a) => {
      a.setStatus(SMT_CHANNEL_ERROR);
      a.setLength(4);
      a.setHeader(vendor);
    });
    expect(view(processSmtArea(platform, 1, 0, stale)).status()).toBe(
      SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR,
    );
    expect(platform.counters.requests + platform.counters.droppedRequests).toBe(before);
  });

  it.each([
    ['a reserved bit set', (buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 7) | (1 << 28)) >>> 0],
    ['a notification', buildHeader(0x3, ScmiMessageType.NOTIFICATION, 0x10, 7)],
  ])(
    'should hand a request header with %s to the platform and the area back with CHANNEL_ERROR, as SmtResponder does',
    (_what, header) => {
      const dropped = platform.counters.droppedRequests;
      const request = area(156, (a) => {
        a.setStatus(0);
        a.setLength(4);
        a.setHeader(header);
      });
      // The platform never answers it: left busy, the client would wait for nothing.
      expect(view(processSmtArea(platform, 1, 0, request)).status()).toBe(
        SMT_CHANNEL_FREE | SMT_CHANNEL_ERROR,
      );
      expect(platform.counters.droppedRequests).toBe(dropped + 1);
    },
  );

  it('should refuse a frame that cannot be an SMT area', () => {
    expect(() => processSmtArea(platform, 1, 0, new Uint8Array(20))).toThrow(RangeError);
    expect(() => processSmtArea(platform, 1, 0, new Uint8Array(28))).toThrow(RangeError);
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

describe('peer port frame kind 2 (registered with the platform)', () => {
  it('should answer a whole SMT area sent over a real peer port, and close on an area it cannot take', async () => {
    const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock: new RealClock() });
    const unregister = registerFrameKind(PeerFrameKind.SMT, createSmtPeerFrameHandler());
    // Two agent ids: the second connection is accepted, then closed for what it sends.
    const port = await startPeerPort(platform, { agentIds: [1, 2] });
    const sockets: Socket[] = [];
    const open = async (): Promise<{ socket: Socket; next: () => Promise<PeerFrame[]> }> => {
      const address = port.address;
      const socket =
        'path' in address ? connect(address.path) : connect(address.port, address.host);
      sockets.push(socket);
      socket.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const reader = new PeerFrameReader({ maxFrameSize: 1 << 16 });
      const frames: PeerFrame[] = [];
      let wake: (() => void) | undefined;
      socket.on('data', (chunk: Buffer) => {
        frames.push(...reader.push(chunk).frames);
        wake?.();
      });
      socket.once('close', () => wake?.());
      // Resolves with every frame received so far once one has arrived or the socket closed.
      const next = async (): Promise<PeerFrame[]> => {
        while (frames.length === 0 && !socket.destroyed && !socket.readableEnded) {
          await new Promise<void>((resolve) => (wake = resolve));
        }
        return frames.splice(0);
      };
      return { socket, next };
    };
    try {
      const { socket, next } = await open();
      const vendor = buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 9);
      const request = area(156, (a) => {
        a.setStatus(0);
        a.setLength(4);
        a.setHeader(vendor);
      });
      socket.write(encodePeerFrame(SMT_PEER_FRAME_KIND, request));
      const [frame] = await next();
      expect(frame?.kind).toBe(SMT_PEER_FRAME_KIND);
      const updated = view(frame?.payload ?? new Uint8Array(0));
      expect(updated.status()).toBe(SMT_CHANNEL_FREE);
      expect(updated.header()).toBe(vendor);
      expect(updated.payloadI32()).toBe(0);
      expect(Buffer.from(updated.bytes.subarray(0x20, 0x27)).toString()).toBe('scmi-ts');

      // A frame too short to be an SMT area: the handler throws, the port closes that connection.
      const bad = await open();
      bad.socket.write(encodePeerFrame(SMT_PEER_FRAME_KIND, new Uint8Array(20)));
      const told = await bad.next();
      expect(told.map((f) => f.kind)).toEqual([PeerFrameKind.CLOSE]);
      expect(decodeCloseReason(told[0]?.payload ?? new Uint8Array(0))).toMatch(/^frame kind 2: /);
      expect(await bad.next()).toEqual([]);
      expect(bad.socket.destroyed || bad.socket.readableEnded).toBe(true);
      expect(port.log.find((e) => e.event === 'handler-error')?.agentId).toBe(2);

      // The first connection is unaffected.
      socket.write(encodePeerFrame(SMT_PEER_FRAME_KIND, request));
      const [again] = await next();
      expect(view(again?.payload ?? new Uint8Array(0)).status()).toBe(SMT_CHANNEL_FREE);
    } finally {
      for (const socket of sockets) socket.destroy();
      await port.close();
      unregister();
      platform.close();
    }
  });
});
