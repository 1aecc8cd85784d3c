import fc from 'fast-check';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RealClock,
  ScmiConfigError,
  ScmiProtocolId,
  ScmiStatus,
  type ScmiPlatformPort,
} from '@scmi-ts/core';
import {
  BaseMessageId,
  PeerFrameKind,
  PeerFrameReader,
  PlatformError,
  PowerMessageId,
  ScmiPlatform,
  MAX_CLOSE_REASON,
  createDefaultPlatformConfig,
  decodeCloseReason,
  encodeCloseFrame,
  encodePeerFrame,
  registerFrameKind,
  PeerPort,
  startPeerPort,
  type PeerPortOptions,
} from '@scmi-ts/platform';
import { command, decodeAnswer, decodePosted, defined, u32s } from './support/harness';
import { PeerClient } from './support/peer-client';

const BASE = ScmiProtocolId.BASE;

function header(kind: number, length: number): Uint8Array {
  return u32s(kind, length);
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 1));
}

describe(startPeerPort, () => {
  let platform: ScmiPlatform;
  let port: PeerPort | undefined;
  let client: PeerClient | undefined;

  beforeEach(() => {
    platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock: new RealClock() });
  });
  afterEach(async () => {
    await client?.close();
    await port?.close();
    client = undefined;
    port = undefined;
    platform.close();
  });

  describe('over TCP', () => {
    it('should answer a kind-1 command with a kind-1 response', async () => {
      port = await startPeerPort(platform, { agentIds: [1, 2] });
      expect(port.address).toMatchObject({ host: '127.0.0.1' });
      client = await PeerClient.open(port);
      client.send(PeerFrameKind.MSG, command(BASE, BaseMessageId.DISCOVER_VENDOR, 7));
      const [frame] = await client.frames(1);
      expect(frame?.kind).toBe(PeerFrameKind.MSG);
      const a = decodeAnswer(defined(frame).payload);
      expect([a.status, a.token, a.r.string(16)]).toEqual([0, 7, 'scmi-ts']);
      expect(platform.connectedAgents).toEqual([1]);
      expect(port.connections).toBe(1);
      // Once closed, the address is still where it served (a log written after close reads it).
      const served = port.address;
      await client.close();
      client = undefined;
      await port.close();
      expect(port.address).toEqual(served);
      port = undefined;
    });

    it('should answer several commands sent in one write, and one split over writes', async () => {
      port = await startPeerPort(platform);
      client = await PeerClient.open(port);
      const a = encodePeerFrame(PeerFrameKind.MSG, command(BASE, 0, 1));
      const b = encodePeerFrame(PeerFrameKind.MSG, command(BASE, 1, 2));
      client.write(Buffer.concat([a, b, a.subarray(0, 5)]));
      client.write(a.subarray(5));
      const frames = await client.frames(3);
      expect(frames.map((f) => decodeAnswer(f.payload).token)).toEqual([1, 2, 1]);
    });

    it('should send notifications and delayed responses as kind-3 frames', async () => {
      port = await startPeerPort(platform);
      client = await PeerClient.open(port);
      client.send(
        PeerFrameKind.MSG,
        command(ScmiProtocolId.POWER, PowerMessageId.STATE_NOTIFY, 1, [0, 1]),
      );
      client.send(
        PeerFrameKind.MSG,
        command(ScmiProtocolId.POWER, PowerMessageId.STATE_SET, 2, [0, 0, 0x40000000]),
      );
      client.send(PeerFrameKind.MSG, command(ScmiProtocolId.RESET, 0x4, 3, [0, 5, 0]));
      const frames = await client.frames(5);
      const p2a = frames
        .filter((f) => f.kind === (PeerFrameKind.P2A as number))
        .map((f) => decodePosted(f.payload));
      expect(p2a.map((m) => [m.type, m.protocolId, m.messageId])).toEqual([
        [3, ScmiProtocolId.POWER, 0],
        [2, ScmiProtocolId.RESET, 4],
      ]);
      expect(frames.filter((f) => f.kind === (PeerFrameKind.MSG as number))).toHaveLength(3);
    });

    it('should send late responses as kind-1 frames', async () => {
      platform.faults.add({ action: { kind: 'late-reply', ms: 5 } });
      port = await startPeerPort(platform);
      client = await PeerClient.open(port);
      client.send(PeerFrameKind.MSG, command(BASE, 0, 9));
      const [frame] = await client.frames(1);
      expect(decodeAnswer(defined(frame).payload).token).toBe(9);
    });

    it('should refuse P2A when p2a is false', async () => {
      port = await startPeerPort(platform, { p2a: false, maxMsgSize: 64 });
      client = await PeerClient.open(port);
      client.send(
        PeerFrameKind.MSG,
        command(ScmiProtocolId.POWER, PowerMessageId.STATE_NOTIFY, 1, [0, 1]),
      );
      const [frame] = await client.frames(1);
      expect(decodeAnswer(defined(frame).payload).status).toBe(ScmiStatus.NOT_SUPPORTED);
    });
  });

  describe('over a Unix socket', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'scmi-peer-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('should deliver every answer already produced to a client that half-closes, then close', async () => {
      // A Unix socket: its kernel buffers are small, so most answers wait in the port's socket.
      port = await startPeerPort(platform, { path: join(dir, 'half-close.sock') });
      client = await PeerClient.open(port);
      // The client stops reading, sends its commands and ends its side (`nc -N`, `socket.end()`):
      // the answers wait in the sockets, within maxQueuedBytes, and must still reach it.
      client.pause();
      const n = 30_000;
      for (let i = 0; i < n; i++) client.send(PeerFrameKind.MSG, command(BASE, 0, i & 0x3ff));
      await until(() => platform.counters.requests >= n);
      client.end();
      await until(() => port?.connections === 0);
      client.resume();
      const frames = await client.frames(n);
      expect(frames).toHaveLength(n);
      await client.closed;
      expect(port.log.at(-1)).toMatchObject({
        event: 'close',
        reason: 'the client ended the connection',
      });
    });

    /** Opens a client that stops reading, sends `n` commands and ends its side, leaving the answers unread. */
    async function endWithoutReading(p: PeerPort, n = 30_000): Promise<PeerClient> {
      const c = await PeerClient.open(p);
      c.pause();
      const before = platform.counters.requests;
      for (let i = 0; i < n; i++) c.send(PeerFrameKind.MSG, command(BASE, 0, i & 0x3ff));
      await until(() => platform.counters.requests >= before + n);
      c.end();
      await until(() => p.connections === 0);
      return c;
    }

    it('should count a client still flushing its last answers against maxConnections', async () => {
      port = await startPeerPort(platform, {
        path: join(dir, 'flush-limit.sock'),
        maxConnections: 1,
        flushTimeoutMs: 60_000,
      });
      client = await endWithoutReading(port);
      expect(port.flushing).toBe(1);
      const extra = await PeerClient.open(port);
      await extra.closed;
      expect(port.log.at(-1)).toMatchObject({
        event: 'refused',
        reason: expect.stringMatching(/connection limit 1/) as string,
      });
      // Once the client reads its answers, the socket closes and the slot is free again.
      client.resume();
      await client.closed;
      await until(() => port?.flushing === 0);
      const next = await PeerClient.open(port);
      next.send(PeerFrameKind.MSG, command(BASE, BaseMessageId.DISCOVER_SUB_VENDOR, 3));
      expect(await next.frames(1)).toHaveLength(1);
      await next.close();
    });

    it('should cut short a client that ended but does not read its last answers within flushTimeoutMs', async () => {
      port = await startPeerPort(platform, {
        path: join(dir, 'flush-timeout.sock'),
        flushTimeoutMs: 50,
      });
      client = await endWithoutReading(port);
      // The port's socket closes; the paused client would only see it after reading.
      await until(() => port?.flushing === 0);
      expect(port.log.at(-1)).toMatchObject({
        event: 'slow-consumer',
        agentId: 1,
        reason: expect.stringMatching(/unread for 50 ms \(flushTimeoutMs\)/) as string,
      });
    });

    it('should serve commands and remove the socket file on close', async () => {
      const path = join(dir, 'platform.sock');
      port = await startPeerPort(platform, { path });
      expect(port.address).toEqual({ path });
      client = await PeerClient.open(port);
      client.send(PeerFrameKind.MSG, command(BASE, BaseMessageId.DISCOVER_SUB_VENDOR, 3));
      const [frame] = await client.frames(1);
      expect(decodeAnswer(defined(frame).payload).r.string(16)).toBe('emulated');
      await client.close();
      client = undefined;
      await port.close();
      port = undefined;
      expect(existsSync(path)).toBe(false);
    });

    it('should reject with E_PEER_PORT when the path is in use, logging no server-error of a port that never listened', async () => {
      const path = join(dir, 'busy.sock');
      port = await startPeerPort(platform, { path });
      const seen: unknown[] = [];
      await expect(
        startPeerPort(platform, { path, onLog: (entry) => seen.push(entry) }),
      ).rejects.toMatchObject({ code: 'E_PEER_PORT' });
      expect(seen).toEqual([]);
    });

    it('should close a connection that lets more than maxQueuedBytes wait unread', async () => {
      // 100 000 notifications of 1 KiB: far more than the socket buffers of the kernel take.
      platform.faults.add({
        match: { times: 1 },
        action: { kind: 'notification-storm', count: 100_000, payload: new Array(256).fill(1) },
      });
      port = await startPeerPort(platform, {
        path: join(dir, 'slow.sock'),
        maxMsgSize: 2048,
        maxQueuedBytes: 65_536,
      });
      client = await PeerClient.open(port);
      client.pause();
      client.send(PeerFrameKind.MSG, command(BASE, 0, 1));
      // The command, its storm and the drop run in one 'data' event of the port.
      await until(() => platform.counters.requests === 1);
      expect(port.log.at(-1)).toMatchObject({
        event: 'slow-consumer',
        agentId: 1,
        reason: expect.stringMatching(/over maxQueuedBytes 65536/) as string,
      });
      expect(port.counts['slow-consumer']).toBe(1);
      expect(port.connections).toBe(0);
      expect(platform.connectedAgents).toEqual([]);
      // The storm stopped with the connection: nothing more was built for it.
      expect(platform.counters.notificationsPosted).toBeLessThan(100_000);
    });

    it('should reject when the path is in use', async () => {
      const path = join(dir, 'busy.sock');
      port = await startPeerPort(platform, { path });
      await expect(startPeerPort(platform, { path })).rejects.toThrow(
        expect.objectContaining({ code: 'E_PEER_PORT' }) as Error,
      );
    });
  });

  describe('malformed frames', () => {
    it.each([
      ['an unknown kind', header(77, 0), /unknown frame kind 77/],
      ['the P2A kind from a client', header(PeerFrameKind.P2A, 0), /unknown frame kind 3/],
      ['a length over the bound', header(PeerFrameKind.MSG, 65), /exceeds the bound 64/],
    ])('should close the connection on %s and log why', async (_, bytes, reason) => {
      port = await startPeerPort(platform, { maxFrameSize: 64 });
      client = await PeerClient.open(port);
      client.write(bytes);
      await client.closed;
      const entry = port.log.find((e) => e.event === 'malformed');
      expect(entry?.reason).toMatch(reason);
      expect(entry?.agentId).toBe(1);
      expect(platform.connectedAgents).toEqual([]);
      // The client was told why, in a CLOSE frame before the close.
      const [told] = await client.frames(1);
      expect(told?.kind).toBe(PeerFrameKind.CLOSE);
      expect(decodeCloseReason(defined(told).payload)).toBe(entry?.reason);
    });

    it('should log a frame cut short when the client ends', async () => {
      port = await startPeerPort(platform);
      client = await PeerClient.open(port);
      client.write(encodePeerFrame(PeerFrameKind.MSG, command(BASE, 0, 1)).subarray(0, 10));
      client.end();
      await client.closed;
      expect(port.log.at(-1)).toMatchObject({
        event: 'malformed',
        reason: expect.stringMatching(/truncated frame/) as string,
      });
    });

    it('should log a clean end', async () => {
      port = await startPeerPort(platform);
      client = await PeerClient.open(port);
      client.end();
      await client.closed;
      await until(() => port?.connections === 0);
      expect(port.log.map((e) => e.event)).toEqual(['open', 'close']);
    });

    it('should not affect other connections', async () => {
      port = await startPeerPort(platform, { agentIds: [1, 2] });
      client = await PeerClient.open(port);
      const bad = await PeerClient.open(port);
      bad.write(header(99, 0));
      await bad.closed;
      client.send(PeerFrameKind.MSG, command(BASE, BaseMessageId.DISCOVER_AGENT, 4, [0xffffffff]));
      const [frame] = await client.frames(1);
      expect(decodeAnswer(defined(frame).payload).words[0]).toBe(1);
      expect(port.connections).toBe(1);
    });

    it('should answer garbage inside a well-formed frame like the platform does', async () => {
      port = await startPeerPort(platform);
      client = await PeerClient.open(port);
      client.send(PeerFrameKind.MSG, new Uint8Array(2)); // no header: dropped, no reply
      client.send(PeerFrameKind.MSG, new Uint8Array([0, 0, 0, 0xf0])); // reserved bits
      client.send(PeerFrameKind.MSG, command(BASE, 0, 5));
      const [frame] = await client.frames(1);
      expect(decodeAnswer(defined(frame).payload).token).toBe(5);
      expect(platform.counters.droppedRequests).toBe(2);
      // Logged, so that a client waiting for an answer can learn why none comes.
      expect(port.log.filter((e) => e.event === 'dropped').map((e) => e.reason)).toEqual([
        expect.stringMatching(/frame of 2 bytes holds no command header/) as string,
        expect.stringMatching(/frame of 4 bytes holds no command header/) as string,
      ]);
      expect(port.connections).toBe(1);
    });
  });

  describe('failures around the port', () => {
    it('should close the connection, not the process, when the platform throws', async () => {
      const throwing: ScmiPlatformPort = {
        connect: (agentId) => ({ agentId, disconnect: () => undefined }),
        handle: () => {
          throw new RangeError('a platform bug');
        },
      };
      port = await startPeerPort(throwing, { agentIds: [1, 2] });
      client = await PeerClient.open(port);
      client.send(PeerFrameKind.MSG, command(BASE, 0, 1));
      await client.closed;
      expect(port.log.at(-1)).toMatchObject({
        event: 'handler-error',
        agentId: 1,
        reason: 'the platform threw on a command: a platform bug',
      });
      const other = await PeerClient.open(port);
      await until(() => port?.connections === 1);
      await other.close();
    });

    it("should log a platform that throws disconnecting an agent, and still close every connection — the client's and close()'s", async () => {
      const disconnected: number[] = [];
      const throwing: ScmiPlatformPort = {
        connect: (agentId) => ({
          agentId,
          disconnect: () => {
            disconnected.push(agentId);
            throw new Error('disconnect bug');
          },
        }),
        handle: () => undefined,
      };
      port = await startPeerPort(throwing, { agentIds: [1, 2, 3] });
      // A client that ends: the drop runs in the socket's listener (a throw there ends the process).
      const ending = await PeerClient.open(port);
      await until(() => port?.connections === 1);
      ending.end();
      await ending.closed;
      await until(() => port?.connections === 0);
      expect(port.log.slice(-2)).toMatchObject([
        { event: 'close', agentId: 1 },
        {
          event: 'handler-error',
          agentId: 1,
          reason: 'the platform threw disconnecting the agent: disconnect bug',
        },
      ]);
      // close() with two connections: both dropped, both sockets closed, close() resolves.
      const a = await PeerClient.open(port);
      const b = await PeerClient.open(port);
      await until(() => port?.connections === 2);
      await port.close();
      await Promise.all([a.closed, b.closed]);
      expect(port.connections).toBe(0);
      // Agent 1's id was free again (its connection is gone, whatever disconnect did).
      expect(disconnected).toEqual([1, 1, 2]);
      expect(port.counts['handler-error']).toBe(3);
    });

    it('should log an error of the listening server and keep serving', async () => {
      // The port keeps its server private: catch it as it starts listening.
      const listen = jest.spyOn(Server.prototype, 'listen');
      let server: Server | undefined;
      try {
        port = await startPeerPort(platform);
        server = listen.mock.contexts[0] as Server;
      } finally {
        listen.mockRestore();
      }
      const accept = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
      expect(defined(server).emit('error', accept)).toBe(true);
      expect(port.log.at(-1)).toEqual({
        event: 'server-error',
        connectionId: 0,
        agentId: undefined,
        reason: 'accept EMFILE',
      });
      expect(port.counts['server-error']).toBe(1);
      client = await PeerClient.open(port);
      client.send(PeerFrameKind.MSG, command(BASE, 0, 2));
      const [frame] = await client.frames(1);
      expect(decodeAnswer(defined(frame).payload).token).toBe(2);
    });

    it('should count a throwing onLog and still close every socket', async () => {
      port = await startPeerPort(platform, {
        onLog: () => {
          throw new Error('the logger is down');
        },
      });
      client = await PeerClient.open(port);
      client.send(PeerFrameKind.MSG, command(BASE, 0, 3));
      const [frame] = await client.frames(1);
      expect(decodeAnswer(defined(frame).payload).token).toBe(3);
      await port.close();
      await client.closed;
      expect(port.log.map((e) => e.event)).toEqual(['open', 'close']);
      expect(port.onLogErrors).toBe(2);
      expect(platform.connectedAgents).toEqual([]);
    });
  });

  describe('connection bounds and agent ids', () => {
    it('should refuse connections over the limit and accept again once one closes', async () => {
      port = await startPeerPort(platform, { agentIds: [2, 1], maxConnections: 1 });
      client = await PeerClient.open(port);
      const extra = await PeerClient.open(port);
      await extra.closed;
      expect(port.log.find((e) => e.event === 'refused')?.reason).toMatch(/connection limit 1/);
      const [told] = await extra.frames(1);
      expect(told?.kind).toBe(PeerFrameKind.CLOSE);
      expect(decodeCloseReason(defined(told).payload)).toBe('connection limit 1 reached');
      expect(platform.connectedAgents).toEqual([2]);
      await client.close();
      await until(() => port?.connections === 0);
      client = await PeerClient.open(port);
      client.send(PeerFrameKind.MSG, command(BASE, BaseMessageId.DISCOVER_AGENT, 1, [0xffffffff]));
      const [frame] = await client.frames(1);
      expect(decodeAnswer(defined(frame).payload).words[0]).toBe(2);
    });

    it('should refuse a connection when every agent id is in use or the platform refuses it', async () => {
      const logged: string[] = [];
      port = await startPeerPort(platform, {
        agentIds: [1],
        maxConnections: 3,
        onLog: (e) => logged.push(e.event),
      });
      client = await PeerClient.open(port);
      const extra = await PeerClient.open(port);
      await extra.closed;
      expect(port.log.at(-1)?.reason).toMatch(/every agent id is in use/);
      platform.connect(2, {
        p2a: false,
        maxMsgSize: 128,
        respond: () => undefined,
        post: () => false,
      });
      const port2 = await startPeerPort(platform, { agentIds: [2] });
      const other = await PeerClient.open(port2);
      await other.closed;
      expect(port2.log.at(-1)?.reason).toMatch(/the platform refused agent 2/);
      await port2.close();
      expect(logged).toEqual(['open', 'refused']);
    });

    it.each([
      [{ maxConnections: 0 }, 'maxConnections'],
      [{ maxQueuedBytes: -1 }, 'maxQueuedBytes'],
      [{ flushTimeoutMs: 0 }, 'flushTimeoutMs'],
      [{ flushTimeoutMs: 2 ** 31 }, 'flushTimeoutMs'],
      [{ maxFrameSize: 2 ** 24 + 1 }, 'maxFrameSize'],
      [{ maxFrameSize: 1.5 }, 'maxFrameSize'],
      [{ port: 65536 }, 'port'],
      [{ agentIds: [] }, 'agentIds'],
      [{ agentIds: 5 as unknown as number[] }, 'agentIds'],
      [{ agentIds: ['1'] as unknown as number[] }, 'agentIds[0]'],
      [{ agentIds: [1.5] }, 'agentIds[0]'],
      [{ agentIds: [2, -1] }, 'agentIds[1]'],
      [{ agentIds: [1, 1] }, 'agentIds[1]'],
      // Not one of the platform's agents (1 and 2): every connection would be refused.
      [{ agentIds: [1, 3] }, 'agentIds[1]'],
      // A hole would pass a forEach check, then refuse every connection.
      // eslint-disable-next-line no-sparse-arrays
      [{ agentIds: [, 1] as number[] }, 'agentIds[0]'],
      [{ agentIds: new Array<number>(3) }, 'agentIds[0]'],
      [{ path: '/tmp/x', port: 1 }, 'path'],
      // Not a TCP port on every interface: a path that is not a non-empty string is refused.
      [{ path: null as unknown as string }, 'path'],
      [{ path: 0 as unknown as string }, 'path'],
      [{ path: 8080 as unknown as string }, 'path'],
      [{ path: '' }, 'path'],
      [{ host: 5 as unknown as string }, 'host'],
      [{ host: null as unknown as string }, 'host'],
      [{ host: '' }, 'host'],
      [{ host: '', allowNonLoopback: true }, 'host'],
      [{ port: null as unknown as number }, 'port'],
      [{ port: '0' as unknown as number }, 'port'],
      [{ maxConnections: null as unknown as number }, 'maxConnections'],
      [{ p2a: 'no' as unknown as boolean }, 'p2a'],
      [{ p2a: null as unknown as boolean }, 'p2a'],
      [{ allowNonLoopback: 'yes' as unknown as boolean }, 'allowNonLoopback'],
      [{ onLog: 42 as unknown as () => void }, 'onLog'],
      [{ agentID: [2] } as PeerPortOptions, 'agentID'],
      [{ maxConnection: 2 } as PeerPortOptions, 'maxConnection'],
      [{ host: '0.0.0.0' }, 'host'],
      [{ host: '::' }, 'host'],
      [{ host: '192.168.1.10' }, 'host'],
      [{ host: '::ffff:10.0.0.1' }, 'host'],
      [{ host: '[::1]' }, 'host'],
      [{ host: 'example.com' }, 'host'],
      [{ host: '0.0.0.0', allowNonLoopback: false }, 'host'],
    ])('should refuse the options %p (field %s) before it listens', async (options, field) => {
      // Closed if it starts anyway, so that a failure cannot leave a server open.
      const started = await startPeerPort(platform, options).then(
        (p) => p.close(),
        (e: unknown) => e,
      );
      expect(started).toBeInstanceOf(ScmiConfigError);
      expect(started).toMatchObject({ field: `peerPort.${field}` });
    });

    it.each([null, 5, 'path', [1]])('should refuse the options %p, naming peerPort', async (o) => {
      const started = await startPeerPort(platform, o as PeerPortOptions).then(
        (p) => p.close(),
        (e: unknown) => e,
      );
      expect(started).toBeInstanceOf(ScmiConfigError);
      expect(started).toMatchObject({ field: 'peerPort' });
    });

    it('should neither change nor keep the options it is given', async () => {
      const agentIds = [2, 1];
      // Frozen: the port writing to it would throw.
      const options = Object.freeze({ agentIds, maxConnections: 1 });
      port = await startPeerPort(platform, options);
      agentIds.splice(0, 2, 7); // too late: the port took a copy
      client = await PeerClient.open(port);
      await until(() => platform.connectedAgents.length === 1);
      expect(platform.connectedAgents).toEqual([2]);
    });
  });

  describe('when given a host', () => {
    // IPv4 only: a CI host may have no IPv6 stack (::1 and ::ffff:127.0.0.1 pass the same check).
    it.each(['127.0.0.1', '127.0.0.2', 'localhost'])(
      'should listen on the loopback address %s',
      async (host) => {
        port = await startPeerPort(platform, { host });
        client = await PeerClient.open(port);
        client.send(PeerFrameKind.MSG, command(BASE, 0, 3));
        const [frame] = await client.frames(1);
        expect(decodeAnswer(defined(frame).payload).token).toBe(3);
      },
    );

    it('should listen on loopback or its path, whatever options it accepts', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'scmi-peer-any-'));
      const sock = join(dir, 'any.sock');
      const odd = [undefined, null, 0, 1, '', false, true, {}, []];
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.record(
              {
                path: fc.constantFrom(...odd, sock),
                host: fc.constantFrom(...odd, '127.0.0.1', 'localhost', '0.0.0.0', '::', 'x'),
                port: fc.constantFrom(undefined, null, 0, '0', -1, 1.5),
                agentIds: fc.constantFrom(undefined, [1], [2, 1]),
              },
              { requiredKeys: [] },
            ),
            async (options) => {
              const started = await startPeerPort(platform, options as PeerPortOptions).catch(
                (e: unknown) => e,
              );
              if (!(started instanceof PeerPort)) {
                expect(started).toBeInstanceOf(ScmiConfigError);
                return;
              }
              const address = started.address;
              await started.close();
              if ('path' in address) expect(address.path).toBe(sock);
              else expect(address.host).toMatch(/^(127\.|::1$|::ffff:127\.)/);
            },
          ),
          { numRuns: 150, seed: 7 },
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('should listen beyond loopback only with allowNonLoopback', async () => {
      port = await startPeerPort(platform, { host: '0.0.0.0', allowNonLoopback: true });
      expect(port.address).toMatchObject({ host: '0.0.0.0' });
    });
  });

  describe(registerFrameKind, () => {
    it('should route a registered kind to its handler, with per-connection data', async () => {
      const unregister = registerFrameKind(42, (ctx, payload) => {
        const n = ((ctx.data.get('n') as number | undefined) ?? 0) + 1;
        ctx.data.set('n', n);
        ctx.send(43, new Uint8Array([ctx.agentId]));
        return new Uint8Array([...payload, n]);
      });
      try {
        port = await startPeerPort(platform);
        client = await PeerClient.open(port);
        client.send(42, new Uint8Array([9]));
        client.send(42, new Uint8Array([8]));
        const frames = await client.frames(4);
        expect(frames.map((f) => [f.kind, ...f.payload])).toEqual([
          [43, 1],
          [42, 9, 1],
          [43, 1],
          [42, 8, 2],
        ]);
      } finally {
        unregister();
      }
    });

    it.each([
      ['undefined', undefined, 'frame kind 45: undefined'],
      ['null', null, 'frame kind 45: null'],
      ['a string', 'no luck', 'frame kind 45: no luck'],
      [
        'an object with no prototype',
        Object.create(null) as object,
        'frame kind 45: [object Object]',
      ],
    ])(
      'should close the connection, not the process, when a handler throws %s, logging what it threw',
      async (_what, thrown, reason) => {
        const unregister = registerFrameKind(45, () => {
          // A handler of plain JavaScript may throw anything.
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw thrown;
        });
        try {
          port = await startPeerPort(platform);
          client = await PeerClient.open(port);
          client.send(45, new Uint8Array(0));
          await client.closed;
          expect(port.log.at(-1)).toMatchObject({ event: 'handler-error', reason });
        } finally {
          unregister();
        }
      },
    );

    it('should close the connection when a handler throws', async () => {
      const unregister = registerFrameKind(44, () => {
        throw new Error('boom');
      });
      try {
        port = await startPeerPort(platform);
        client = await PeerClient.open(port);
        client.send(44, new Uint8Array(0));
        await client.closed;
        expect(port.log.at(-1)).toMatchObject({
          event: 'handler-error',
          reason: 'frame kind 44: boom',
        });
      } finally {
        unregister();
      }
    });

    it('should refuse reserved, taken and invalid kinds; unregistering is idempotent', () => {
      for (const kind of [
        PeerFrameKind.MSG,
        PeerFrameKind.P2A,
        PeerFrameKind.CLOSE,
        -1,
        2 ** 32,
        1.5,
      ]) {
        expect(() => registerFrameKind(kind, () => undefined)).toThrow(PlatformError);
      }
      const unregister = registerFrameKind(45, () => undefined);
      expect(() => registerFrameKind(45, () => undefined)).toThrow(
        expect.objectContaining({ code: 'E_FRAME_KIND' }) as Error,
      );
      unregister();
      unregister();
      registerFrameKind(45, () => undefined)();
    });
  });

  describe('.close', () => {
    it('should close every connection and the server, idempotently', async () => {
      port = await startPeerPort(platform, { agentIds: [1, 2] });
      const a = await PeerClient.open(port);
      const b = await PeerClient.open(port);
      await until(() => port?.connections === 2);
      const closing = port.close();
      expect(port.close()).toBe(closing);
      await closing;
      await Promise.all([a.closed, b.closed]);
      expect(platform.connectedAgents).toEqual([]);
      expect(port.connections).toBe(0);
      for (const c of [a, b]) {
        const [told] = await c.frames(1);
        expect(told?.kind).toBe(PeerFrameKind.CLOSE);
        expect(decodeCloseReason(defined(told).payload)).toBe('the port is closing');
      }
    });
  });
});

describe('CLOSE frames', () => {
  it('should carry the reason as UTF-8, cut at a character boundary within MAX_CLOSE_REASON bytes', () => {
    const frame = encodeCloseFrame('é'.repeat(MAX_CLOSE_REASON));
    const payload = frame.subarray(8);
    expect(new DataView(frame.buffer).getUint32(0, true)).toBe(PeerFrameKind.CLOSE);
    expect(payload.byteLength).toBe(MAX_CLOSE_REASON);
    expect(decodeCloseReason(payload)).toBe('é'.repeat(MAX_CLOSE_REASON / 2));
    // An odd bound: the two-byte character it falls in is left out whole.
    const odd = encodeCloseFrame(`x${'é'.repeat(MAX_CLOSE_REASON)}`).subarray(8);
    expect(odd.byteLength).toBe(MAX_CLOSE_REASON - 1);
    expect(decodeCloseReason(odd)).toBe(`x${'é'.repeat(MAX_CLOSE_REASON / 2 - 1)}`);
  });

  it("should read the other end's bytes as safe text: bad UTF-8 replaced, control characters blanked, bounded", () => {
    const hostile = new Uint8Array([
      0x6f,
      0x6b,
      0x0a,
      0x1b,
      0xff,
      0x21,
      ...new Uint8Array(2000).fill(0x41),
    ]);
    const text = decodeCloseReason(hostile);
    expect(text.startsWith('ok  \ufffd!')).toBe(true);
    expect(text.length).toBe(MAX_CLOSE_REASON);
    // C1 controls (U+009B, the 8-bit CSI), a bidi override and a line separator: blanked too.
    const c1 = new TextEncoder().encode('a\u009b2Jb\u202ec\u2028d');
    expect(decodeCloseReason(c1)).toBe('a 2Jb c d');
  });
});

describe(PeerFrameReader, () => {
  it('should give back the frames of any stream, however it is cut into chunks', () => {
    const frame = fc.record({
      kind: fc.integer({ min: 1, max: 9 }),
      payload: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(
        fc.array(frame, { maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 4000 }), { maxLength: 40 }),
        (frames, cuts) => {
          const stream = Buffer.concat(frames.map((f) => encodePeerFrame(f.kind, f.payload)));
          const at = [...new Set(cuts.map((c) => c % (stream.byteLength + 1)))].sort(
            (a, b) => a - b,
          );
          const reader = new PeerFrameReader({ maxFrameSize: 300 });
          const got: { kind: number; payload: Uint8Array }[] = [];
          let from = 0;
          for (const to of [...at, stream.byteLength]) {
            const batch = reader.push(stream.subarray(from, to));
            expect(batch.error).toBeUndefined();
            got.push(...batch.frames.map((f) => ({ kind: f.kind, payload: f.payload })));
            from = to;
          }
          expect(got).toEqual(frames);
          expect(reader.pending).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([NaN, Infinity, -1, 1.5, 2 ** 32, undefined, '4096'])(
    'should refuse a maxFrameSize of %p with an ScmiConfigError (a bound that lets any length through)',
    (max) => {
      const make = () => new PeerFrameReader({ maxFrameSize: max as number });
      expect(make).toThrow(ScmiConfigError);
      expect(make).toThrow(/maxFrameSize/);
    },
  );

  it.each([
    ['no options', undefined, 'options'],
    ['null', null, 'options'],
    ['an accepts that is not a function', { maxFrameSize: 16, accepts: true }, 'accepts'],
  ])(
    'should refuse %s with an ScmiConfigError naming the field, not a TypeError',
    (_, o, field) => {
      const make = () => new PeerFrameReader(o as never);
      expect(make).toThrow(ScmiConfigError);
      expect(make).toThrow(expect.objectContaining({ field }) as Error);
    },
  );

  it('should copy what it keeps: the caller may reuse its chunk, whole frame or pieces', () => {
    const reader = new PeerFrameReader({ maxFrameSize: 16 });
    const chunk = new Uint8Array(encodePeerFrame(1, new Uint8Array([1, 2, 3, 4])));
    const [whole] = reader.push(chunk).frames;
    chunk.fill(0xee);
    expect(Array.from(defined(whole).payload)).toEqual([1, 2, 3, 4]);
    const piece = new Uint8Array(encodePeerFrame(2, new Uint8Array([5, 6, 7, 8])).subarray(0, 10));
    expect(reader.push(piece).frames).toEqual([]);
    piece.fill(0xee);
    const [split] = reader.push(new Uint8Array([7, 8])).frames;
    expect(defined(split)).toEqual({ kind: 2, payload: new Uint8Array([5, 6, 7, 8]) });
  });

  it('should hold a frame sent one byte at a time in at most twice the bytes received, allocating nothing from its header alone', () => {
    // Measured on ArrayBuffer memory, which only this synchronous loop allocates here: a reader
    // that kept every piece (a Buffer each) held 8 bytes of it and ~128 of heap per byte received.
    const length = 1 << 20;
    const reader = new PeerFrameReader({ maxFrameSize: 1 << 24 });
    const slack = 64 * 1024;
    const before = process.memoryUsage().arrayBuffers;
    expect(reader.push(header(1, length)).frames).toEqual([]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(slack);
    const one = new Uint8Array([0x5a]);
    const half = length / 2;
    for (let i = 0; i < half; i++) reader.push(one);
    expect(reader.pending).toBe(8 + half);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 * half + slack);
    const [frame] = reader.push(new Uint8Array(half).fill(0x5a)).frames;
    const payload = defined(frame).payload;
    // The payload is the buffer itself, exactly its length: nothing more is kept.
    expect([payload.byteLength, payload.buffer.byteLength]).toEqual([length, length]);
    expect(payload.every((b) => b === 0x5a)).toBe(true);
    expect(reader.pending).toBe(0);
  });

  it('should keep failing after an error and report pending bytes', () => {
    const reader = new PeerFrameReader({ maxFrameSize: 4 });
    expect(reader.push(header(1, 4).subarray(0, 6))).toEqual({ frames: [] });
    expect(reader.pending).toBe(6);
    expect(reader.push(new Uint8Array([0, 0, 1, 2, 3, 4])).frames).toHaveLength(1);
    expect(reader.push(header(1, 5)).error).toMatch(/exceeds/);
    expect(reader.error).toMatch(/exceeds/);
    expect(reader.push(header(1, 0))).toEqual({ frames: [], error: reader.error });
  });
});
