import {
  ChannelCounters,
  RealClock,
  ScmiConfigError,
  ScmiProtocolId,
  ScmiShutdownError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  buildHeader,
  readU32,
  silentLogger,
  Xfer,
  PROTOCOL_DRIVER,
  type ChannelLoss,
  type ProtocolDriver,
  type DeviceSetup,
  type TransportChannel,
  type ScmiAgent,
  type ScmiNotification,
} from '@scmi-ts/core';
import {
  BaseMessageId,
  ClockMessageId,
  ClockNotificationId,
  PeerFrameKind,
  PeerPortConnection,
  ScmiPlatform,
  connectPeerPort,
  createDefaultPlatformConfig,
  createPeerPortTransport,
  peerPortTransport,
  startPeerPort,
  type PeerPort,
} from '@scmi-ts/platform';
import {
  ScriptedPort,
  containerWith,
  defaultPlatform,
  msg,
  probe,
  socketDir,
  u32s,
  until,
} from './support/peer-port-transport-harness';

const BASE = ScmiProtocolId.BASE;
const CLOCK = ScmiProtocolId.CLOCK;
const MHZ = 1_000_000;
/** A response header (type 0) for `messageId` of `protocolId` with `token`. */
const reply = (messageId: number, protocolId: number, token: number): number =>
  buildHeader(messageId, 0, protocolId, token);

/** What every test opened, closed after it in reverse order whatever happened. */
class Opened {
  readonly #closers: (() => Promise<unknown>)[] = [];

  public add<T>(value: T, close: (v: T) => unknown): T {
    this.#closers.push(() => Promise.resolve(close(value)));
    return value;
  }

  public async closeAll(): Promise<void> {
    for (const close of this.#closers.reverse()) await close();
    this.#closers.length = 0;
  }
}

/** Removes `agent` unless removed already, and checks it left nothing live. */
async function removeAgent(agent: ScmiAgent): Promise<void> {
  if (agent.removed) return;
  const devres = agent.devres;
  await agent.remove({ disableNotifications: false });
  expect(devres?.live() ?? []).toEqual([]);
}

/** The A2P channel 0 counters of `agent`. */
function a2pStats(agent: ScmiAgent): ReturnType<typeof statsOf> {
  return statsOf(agent, 'a2p:0');
}

function statsOf(agent: ScmiAgent, label: string) {
  const channel = agent.diagnostics.channels.find((c) => c.label === label);
  if (channel === undefined) throw new Error(`no channel ${label}`);
  return channel.stats;
}

/** Registers CLOCK_RATE_CHANGED (agent id, clock id, rate: 16 bytes), enabled by RATE_NOTIFY. */
function registerRateChanged(agent: ScmiAgent): void {
  agent.events.register(CLOCK, [
    {
      id: ClockNotificationId.RATE_CHANGED,
      name: 'clock-rate-changed',
      minPayload: 16,
      maxPayload: 16,
      setNotifyEnabled: async (source, enable) => {
        await agent.transact(CLOCK, ClockMessageId.RATE_NOTIFY, u32s(source ?? 0, enable ? 1 : 0));
      },
    },
  ]);
}

/** CLOCK_RATE_SET: flags, clock id, rate (low, high). */
function setRate(agent: ScmiAgent, clockId: number, hz: number, flags = 0): Promise<Uint8Array> {
  return agent.transact(CLOCK, ClockMessageId.RATE_SET, u32s(flags, clockId, hz, 0), {
    async: (flags & 1) === 1,
  });
}

function rateOf(agent: ScmiAgent, clockId: number): Promise<number> {
  return agent
    .transact(CLOCK, ClockMessageId.RATE_GET, u32s(clockId))
    .then((bytes) => readU32(bytes, 0));
}

describe('the peer-port transport', () => {
  const opened = new Opened();
  let platform: ScmiPlatform;
  let dir: Awaited<ReturnType<typeof socketDir>>;

  beforeEach(async () => {
    platform = opened.add(defaultPlatform(), (p) => {
      p.close();
    });
    dir = opened.add(await socketDir(), (d) => d.remove());
  });
  afterEach(async () => {
    await opened.closeAll();
  });

  /** A port on a Unix socket in the test's directory, closed after the test. */
  async function unixPort(options: Parameters<typeof startPeerPort>[1] = {}): Promise<PeerPort> {
    return opened.add(
      await startPeerPort(platform, { path: dir.path('scmi.sock'), ...options }),
      (p) => p.close(),
    );
  }

  async function connection(
    target: Parameters<typeof connectPeerPort>[0],
    options?: Parameters<typeof connectPeerPort>[1],
  ): Promise<PeerPortConnection> {
    return opened.add(await connectPeerPort(target, options), (c) => c.close());
  }

  async function agentOn(
    c: PeerPortConnection,
    options: Parameters<typeof probe>[1] | object = {},
    transport = peerPortTransport,
  ): Promise<ScmiAgent> {
    const agent = await probe(containerWith(transport), {
      transportConfig: { connection: c },
      ...options,
    });
    return opened.add(agent, removeAgent);
  }

  describe('against a platform with a vendor protocol', () => {
    it('should serve the vendor protocol to the driver chosen for the platform, over the socket', async () => {
      // A tool in another process, testing its vendor driver against the modelled firmware.
      const vendor = opened.add(
        new ScmiPlatform(createDefaultPlatformConfig(), {
          clock: new RealClock(),
          vendorProtocols: [
            {
              protocolId: 0x84,
              name: 'misc',
              version: 0x20000,
              commands: {
                0x3: {
                  name: 'MISC_ECHO',
                  requestSize: 4,
                  handle: (req) => ({
                    status: ScmiStatus.SUCCESS,
                    returns: u32s(~req.payload.u32()),
                  }),
                },
              },
            },
          ],
        }),
        (p) => {
          p.close();
        },
      );
      const port = opened.add(await startPeerPort(vendor, { path: dir.path('vendor.sock') }), (p) =>
        p.close(),
      );
      const c = await connection(port.address);
      const container = containerWith();
      const driver: ProtocolDriver<(x: number) => Promise<number>> = {
        protocolId: 0x84,
        name: 'emulated misc',
        version: 0x20000,
        vendor: 'SCMI-TS',
        init: (ph) => async (x) =>
          readU32(await ph.xfer.transact(0x3, (w) => w.u32(x), { txSize: 4, rxSize: 4 }), 0),
      };
      container.bind(PROTOCOL_DRIVER).toConstantValue(driver);
      const agent = opened.add(
        await probe(container, { transportConfig: { connection: c } }),
        removeAgent,
      );
      expect(agent.info.protocols).toContain(0x84);
      expect(await agent.protocol(driver)(0x0f0f0f0f)).toBe(0xf0f0f0f0);
    });
  });

  describe('against the default platform', () => {
    it('should probe over a Unix socket: Base discovery, then commands of other protocols', async () => {
      const port = await unixPort();
      const c = await connection(port.address);
      const agent = await agentOn(c);
      expect(agent.info.vendor).toBe('scmi-ts');
      expect(agent.info.protocols).toEqual(expect.arrayContaining([0x11, 0x12, 0x13, 0x14, 0x15]));
      expect(agent.info.agents.map((a) => a.name)).toEqual(['platform', 'OSPM', 'PSCI']);
      expect(await rateOf(agent, 0)).toBe(1200 * MHZ);
      expect(c.agent).toBe(agent.name);
      expect(c.stats.framesSent).toBe(c.stats.framesReceived);
      expect(agent.diagnostics.channels.map((ch) => [ch.label, ch.lost])).toEqual([
        ['a2p:0', undefined],
        ['p2a:0', undefined],
      ]);
      await removeAgent(agent);
      // The platform still serves the connection: closing it is the user's.
      expect(platform.connectedAgents).toEqual([1]);
      await c.close();
      await until(() => platform.connectedAgents.length === 0);
    });

    it('should serve two agents over loopback TCP, each with the agent id its connection was given', async () => {
      const port = opened.add(await startPeerPort(platform, { agentIds: [1, 2] }), (p) =>
        p.close(),
      );
      const first = await agentOn(await connection(port.address));
      const second = await agentOn(await connection(port.address));
      const whoAmI = async (agent: ScmiAgent): Promise<number> =>
        readU32(await agent.transact(BASE, BaseMessageId.DISCOVER_AGENT, u32s(0xffffffff)), 0);
      expect(await Promise.all([whoAmI(first), whoAmI(second)])).toEqual([1, 2]);
      // PSCI (2) may use clock 0? No: its configuration lists no Clock protocol.
      await expect(rateOf(second, 0)).rejects.toMatchObject({ status: ScmiStatus.NOT_SUPPORTED });
    });

    it('should carry many commands in flight, answered out of order', async () => {
      const port = await unixPort();
      const agent = await agentOn(await connection(port.address), { rxTimeoutMs: 30_000 });
      // The first read's reply is held until every read sent after it was answered.
      platform.faults.add({
        match: { protocolId: CLOCK, messageId: ClockMessageId.RATE_GET, times: 1 },
        action: { kind: 'hold', maxHoldMs: 60_000 },
      });
      const first = rateOf(agent, 1);
      const ids = Array.from({ length: 48 }, (_, i) => i % 2);
      const rest = await Promise.all(ids.map((id) => rateOf(agent, id)));
      expect(rest).toEqual(ids.map((id) => (id === 0 ? 1200 : 24) * MHZ));
      expect(platform.releaseHeldResponses()).toBe(1);
      expect(await first).toBe(24 * MHZ);
      expect(a2pStats(agent).completed).toBeGreaterThanOrEqual(49);
      expect(a2pStats(agent).badMessages).toMatchObject({ unexpected: 0, invalid: 0 });
    });

    it('should deliver a notification it subscribed to over P2A', async () => {
      const port = await unixPort();
      const agent = await agentOn(await connection(port.address));
      registerRateChanged(agent);
      const seen: ScmiNotification[] = [];
      const unsubscribe = await agent.events.subscribe(
        { protocolId: CLOCK, eventId: ClockNotificationId.RATE_CHANGED, source: 1 },
        (n) => void seen.push(n),
      );
      await setRate(agent, 1, 48 * MHZ);
      await until(() => seen.length > 0);
      expect(seen.map((n) => [n.source, readU32(n.payload, 4), readU32(n.payload, 8)])).toEqual([
        [1, 1, 48 * MHZ],
      ]);
      expect(statsOf(agent, 'p2a:0').notifications).toBe(1);
      await unsubscribe();
    });

    it('should complete an asynchronous command with its delayed response over P2A', async () => {
      const port = await unixPort();
      const agent = await agentOn(await connection(port.address));
      // Flags bit 0: asynchronous; the delayed response (clock id, rate) comes as a kind-3 frame.
      const delayed = await setRate(agent, 1, 19_200_000, 1);
      expect([readU32(delayed, 0), readU32(delayed, 4)]).toEqual([1, 19_200_000]);
      expect(statsOf(agent, 'p2a:0').delayedResponses).toBe(1);
      expect(await rateOf(agent, 1)).toBe(19_200_000);
    });

    it('should run without P2A on a connection that has none', async () => {
      const port = await unixPort({ p2a: false });
      const agent = await agentOn(await connection(port.address, { p2a: false }));
      expect(agent.diagnostics.channels.map((ch) => ch.label)).toEqual(['a2p:0']);
      await expect(setRate(agent, 1, 19_200_000, 1)).rejects.toMatchObject({
        code: 'E_NOT_SUPPORTED',
      });
      expect(await rateOf(agent, 0)).toBe(1200 * MHZ);
    });

    it('should time a command out when the platform drops its reply, and go on', async () => {
      const port = await unixPort();
      const agent = await agentOn(await connection(port.address), { rxTimeoutMs: 50 });
      platform.faults.add({
        match: { protocolId: CLOCK, messageId: ClockMessageId.RATE_GET, times: 1 },
        action: { kind: 'drop' },
      });
      await expect(rateOf(agent, 0)).rejects.toBeInstanceOf(ScmiTimeoutError);
      expect(platform.faults.counts.drop).toBe(1);
      expect(await rateOf(agent, 0)).toBe(1200 * MHZ);
      expect(a2pStats(agent).timeouts).toBe(1);
    });

    it('should count a late reply once, as core does for an interrupt channel', async () => {
      const port = await unixPort();
      const agent = await agentOn(await connection(port.address), { rxTimeoutMs: 50 });
      platform.faults.add({
        match: { protocolId: CLOCK, messageId: ClockMessageId.RATE_GET, times: 1 },
        action: { kind: 'hold', maxHoldMs: 60_000 },
      });
      await expect(rateOf(agent, 1)).rejects.toBeInstanceOf(ScmiTimeoutError);
      expect(platform.releaseHeldResponses()).toBe(1);
      await until(() => a2pStats(agent).lateReplies === 1);
      // The next command gets its own answer, not the late one (clock 0, not clock 1's 24 MHz).
      expect(await rateOf(agent, 0)).toBe(1200 * MHZ);
    });
  });

  describe('when the connection goes', () => {
    it('should fail a command in flight at once when the port closes, and tell onLost', async () => {
      const port = await unixPort();
      const c = await connection(port.address);
      // A long timeout: the command must fail for the loss, not time out.
      const agent = await agentOn(c, { rxTimeoutMs: 30_000 });
      const losses: ChannelLoss[] = [];
      agent.onLost((loss) => void losses.push(loss));
      platform.faults.add({
        match: { protocolId: CLOCK, messageId: ClockMessageId.RATE_GET, times: 1 },
        action: { kind: 'hold', maxHoldMs: 60_000 },
      });
      const inFlight = rateOf(agent, 0);
      await until(() => platform.faults.counts.hold === 1);
      await port.close();
      const error: unknown = await inFlight.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ScmiTransportError);
      expect(error).toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
      // The port said why before it closed the socket (a CLOSE frame).
      expect((error as Error).message).toMatch(
        /the port closed the connection: the port is closing$/,
      );
      await until(() => losses.length === 2);
      expect(losses.map((l) => [l.label, l.error])).toEqual([
        ['a2p:0', c.error],
        ['p2a:0', c.error],
      ]);
      expect(c.closed).toBe(true);
      // Every later command fails at once, unsent.
      const sent = c.stats.framesSent;
      await expect(rateOf(agent, 0)).rejects.toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
      expect(c.stats.framesSent).toBe(sent);
      // The removal's disables cannot be sent either: it still completes.
      await agent.remove();
    });

    it("should lose one agent's connection when the port disconnects it, and keep the other's", async () => {
      const port = await unixPort({ agentIds: [1, 2] });
      const first = await connection(port.address);
      const a1 = await agentOn(first, { rxTimeoutMs: 30_000 });
      const second = await connection(port.address);
      const a2 = await agentOn(second);
      expect(platform.connectedAgents).toEqual([1, 2]);
      expect(await port.disconnect(1, 'firmware reset')).toBe(true);
      const why = await first.whenClosed();
      expect(why.message).toMatch(/the port closed the connection: firmware reset$/);
      await expect(rateOf(a1, 0)).rejects.toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
      expect(await a2.base.discoverVendor()).toBe('scmi-ts'); // agent 2 (PSCI) goes on
      expect(platform.connectedAgents).toEqual([2]);
      expect(port.log.at(-1)).toMatchObject({
        event: 'close',
        agentId: 1,
        reason: 'firmware reset',
      });
      // Nothing more to disconnect for agent 1, nor for an agent never connected.
      expect(await port.disconnect(1)).toBe(false);
      expect(await port.disconnect(7)).toBe(false);
      await expect(port.disconnect(1.5)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      await expect(port.disconnect(2, 5 as unknown as string)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
      });
      expect(second.closed).toBe(false);
    });

    it('should resolve whenClosed with why, with no agent on the connection', async () => {
      const port = await unixPort();
      const c = await connection(port.address);
      let settled = false;
      const closed = c.whenClosed().then((why) => {
        settled = true;
        return why;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toBe(false);
      await port.close(); // the platform's process going away, as the tool sees it
      const why = await closed;
      expect(why).toBeInstanceOf(ScmiTransportError);
      expect(why).toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
      expect(why.message).toMatch(/the port closed the connection: the port is closing$/);
      expect(why).toBe(c.error);
      // After the close: at once, the same error.
      expect(await c.whenClosed()).toBe(why);
    });

    it('should fail a probe whose connection the port refused', async () => {
      const port = await unixPort({ agentIds: [1] });
      const first = await connection(port.address);
      await agentOn(first);
      const second = await connection(port.address);
      // The port accepted the socket and closed it, saying why: its one connection is taken.
      await until(() => second.closed);
      await expect(agentOn(second)).rejects.toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
      expect(second.error?.message).toMatch(
        /the port closed the connection: connection limit 1 reached$/,
      );
      expect(port.counts.refused).toBe(1);
    });

    it('should close idempotently, wait for the socket, and fail a send after it', async () => {
      const port = await unixPort();
      const c = await connection(port.address);
      const agent = await agentOn(c, { rxTimeoutMs: 30_000 });
      const losses: string[] = [];
      agent.onLost((loss) => void losses.push(loss.label));
      const closing = c.close();
      expect(c.close()).toBe(closing);
      await closing;
      expect(c.error?.message).toMatch(/closed by PeerPortConnection.close\(\)/);
      await expect(rateOf(agent, 0)).rejects.toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
      await until(() => losses.length === 2);
      await until(() => platform.connectedAgents.length === 0);
    });
  });

  describe('teardown', () => {
    it('should not deliver a reply that comes after remove: dropped, counted on the connection', async () => {
      const port = await unixPort();
      const c = await connection(port.address);
      const agent = await agentOn(c, { rxTimeoutMs: 30_000 });
      platform.faults.add({
        match: { protocolId: CLOCK, messageId: ClockMessageId.RATE_GET, times: 1 },
        action: { kind: 'hold', maxHoldMs: 60_000 },
      });
      const inFlight = rateOf(agent, 1);
      await until(() => platform.faults.counts.hold === 1);
      const before = c.stats;
      await removeAgent(agent);
      await expect(inFlight).rejects.toBeInstanceOf(ScmiShutdownError);
      // The held reply goes out now, to a connection whose agent is gone.
      expect(platform.releaseHeldResponses()).toBe(1);
      await until(() => c.stats.undelivered === before.undelivered + 1);
      expect(c.stats.framesReceived).toBe(before.framesReceived + 1);
      // The connection served its agent: another is refused, before anything is set up.
      await expect(agentOn(c)).rejects.toThrow(ScmiConfigError);
      await expect(agentOn(c)).rejects.toThrow(/serves agent scmi0 already/);
    });

    /**
     * A scripted server, a connection to it, and its A2P channel set up by hand as core would —
     * the device setup's claim kept by a devres stand-in — with a sink that records what reaches
     * core.
     */
    async function rawChannel(): Promise<{
      server: ScriptedPort;
      c: PeerPortConnection;
      channel: TransportChannel;
      counters: ChannelCounters;
      reached: string[];
      releaseClaim: () => void;
    }> {
      const server = opened.add(await ScriptedPort.start(platform, dir.path('s.sock')), (s) =>
        s.close(),
      );
      const c = await connection({ path: server.path });
      await server.connected;
      const config = peerPortTransport.validateConfig?.({ connection: c }, 'transportConfig');
      const releases: (() => unknown)[] = [];
      await peerPortTransport.setupDevice?.({
        agent: 'scmi-test',
        config,
        devres: {
          add: (entry: { value: unknown; release: (v: unknown) => unknown }) =>
            void releases.push(() => entry.release(entry.value)),
        } as unknown as DeviceSetup['devres'],
        clock: new RealClock(),
        logger: silentLogger,
      });
      const counters = new ChannelCounters();
      const reached: string[] = [];
      const channel = await peerPortTransport.setupChannel({
        agent: 'scmi-test',
        direction: 'a2p',
        channel: { id: 0, protocols: [], polling: false, transport: undefined },
        config,
        sink: {
          rx: (header) => void reached.push(`rx ${header}`),
          badMessage: (reason) => void reached.push(`bad ${reason}`),
          failInFlight: () => {
            reached.push('failInFlight');
            return 0;
          },
        },
        clock: new RealClock(),
        counters,
        rxTimeoutMs: 1000,
      });
      return {
        server,
        c,
        channel,
        counters,
        reached,
        releaseClaim: () => {
          for (const release of releases) release();
        },
      };
    }

    it('should refuse a frame after quiesce (counted) and route none to a freed channel', async () => {
      const { server, c, channel, counters, reached, releaseClaim } = await rawChannel();
      const header = reply(BaseMessageId.DISCOVER_VENDOR, BASE, 5);
      server.frame(PeerFrameKind.MSG, msg(header, 0));
      await until(() => c.stats.framesReceived === 1);
      expect(reached).toEqual([`rx ${header}`]);
      await channel.quiesce();
      server.frame(PeerFrameKind.MSG, msg(header, 0));
      server.frame(9, msg(header));
      await until(() => c.stats.framesReceived === 3);
      expect(reached).toHaveLength(1);
      expect(counters.refusedAfterQuiesce).toBe(2);
      await channel.free();
      server.frame(PeerFrameKind.MSG, msg(header, 0));
      await until(() => c.stats.framesReceived === 4);
      expect([reached.length, counters.refusedAfterQuiesce, c.stats.undelivered]).toEqual([
        1, 2, 1,
      ]);
      releaseClaim();
      // The loss reaches no freed channel either.
      await c.close();
      expect(reached).toHaveLength(1);
    });

    it('should refuse a loss after quiesce too: nothing reaches core', async () => {
      const { server, c, channel, counters, reached, releaseClaim } = await rawChannel();
      // The connection is claimed: a second device setup is refused (validateConfig says so
      // first for an agent).
      await expect(
        peerPortTransport.setupDevice?.({
          agent: 'other',
          config: { connection: c },
          devres: { add: () => undefined } as unknown as DeviceSetup['devres'],
          clock: new RealClock(),
          logger: silentLogger,
        }),
      ).rejects.toMatchObject({ code: 'E_PEER_PORT_IN_USE' });
      await channel.quiesce();
      await server.dropClient();
      await until(() => c.closed);
      expect(reached).toEqual([]);
      expect(counters.refusedAfterQuiesce).toBe(1);
      await channel.free();
      releaseClaim();
    });

    it('should write a command as one kind-1 frame, and refuse to once the connection is gone', async () => {
      const { server, c, channel, reached, releaseClaim } = await rawChannel();
      server.holding = true;
      const xfer = new Xfer({ onXferDeadline: () => undefined }, 128);
      xfer.header = buildHeader(ClockMessageId.RATE_GET, 0, CLOCK, 17);
      xfer.tx.set(u32s(1));
      xfer.txLen = 4;
      await channel.send(xfer);
      await until(() => server.commands.length === 1);
      expect(server.commands).toEqual([xfer.header]);
      await server.dropClient();
      await until(() => c.closed);
      expect(reached).toEqual(['failInFlight']);
      expect(() => channel.send(xfer)).toThrow(ScmiTransportError);
      expect(() => channel.send(xfer)).toThrow(/the connection closed/);
      expect(c.stats.framesSent).toBe(1);
      await channel.quiesce();
      expect(() => channel.send(xfer)).toThrow(ScmiShutdownError);
      await channel.free();
      releaseClaim();
    });
  });

  describe('against a hostile server', () => {
    async function hostileRig(): Promise<{
      server: ScriptedPort;
      c: PeerPortConnection;
      agent: ScmiAgent;
    }> {
      const server = opened.add(await ScriptedPort.start(platform, dir.path('h.sock')), (s) =>
        s.close(),
      );
      const c = await connection({ path: server.path });
      const agent = await agentOn(c, { rxTimeoutMs: 30_000 });
      return { server, c, agent };
    }

    it('should count frames it cannot use, and go on serving', async () => {
      const { server, c, agent } = await hostileRig();
      const received = c.stats.framesReceived;
      const vendor = reply(BaseMessageId.DISCOVER_VENDOR, BASE, 1000);
      server.frame(PeerFrameKind.MSG, new Uint8Array(3)); // shorter than a header: invalid
      server.frame(PeerFrameKind.P2A, new Uint8Array(1)); // on P2A too
      server.frame(9, msg(vendor, 0)); // an unknown kind: unknown
      server.frame(2, msg(vendor, 0)); // an SMT area, never sent to a kind-1 client: unknown
      server.frame(PeerFrameKind.MSG, msg(vendor, 0)); // a response to no command: unexpected
      server.frame(PeerFrameKind.MSG, msg(vendor | (1 << 28), 0)); // reserved bits: invalid
      server.frame(PeerFrameKind.MSG, msg(buildHeader(0, 3, CLOCK, 0), 1, 2, 3)); // on A2P: invalid
      server.frame(PeerFrameKind.P2A, msg(vendor, 0)); // a response on P2A: invalid
      await until(() => c.stats.framesReceived === received + 8);
      expect(a2pStats(agent).badMessages).toMatchObject({
        invalid: 3,
        unknown: 2,
        unexpected: 1,
        oversize: 0,
      });
      expect(statsOf(agent, 'p2a:0').badMessages).toMatchObject({ invalid: 2 });
      expect(await rateOf(agent, 0)).toBe(1200 * MHZ);
      expect(c.closed).toBe(false);
    });

    it('should count a kind-3 frame invalid when the agent has no P2A channel', async () => {
      const server = opened.add(await ScriptedPort.start(platform, dir.path('h.sock')), (s) =>
        s.close(),
      );
      const c = await connection({ path: server.path }, { p2a: false });
      const agent = await agentOn(c);
      const received = c.stats.framesReceived;
      server.frame(PeerFrameKind.P2A, msg(buildHeader(0, 3, CLOCK, 0), 1, 1, 0, 0));
      await until(() => c.stats.framesReceived === received + 1);
      expect(a2pStats(agent).badMessages.invalid).toBe(1);
      expect(agent.diagnostics.notifications).toMatchObject({ delivered: 0 });
    });

    it('should complete a command whose response has no status word with PROTOCOL_ERROR', async () => {
      const { server, agent } = await hostileRig();
      server.holding = true;
      const held = server.commands.length;
      const inFlight = rateOf(agent, 0).catch((e: unknown) => e);
      await until(() => server.commands.length === held + 1);
      const command = server.commands[held] ?? 0;
      server.frame(PeerFrameKind.MSG, u32s(command)); // the command's header, nothing after it
      const error = await inFlight;
      expect(error).toBeInstanceOf(ScmiStatusError);
      expect(error).toMatchObject({ status: ScmiStatus.PROTOCOL_ERROR });
      expect(a2pStats(agent).badMessages.invalid).toBe(1);
    });

    it('should take a frame longer than maxFrameSize as a lost connection, counted oversize', async () => {
      const { server, c, agent } = await hostileRig();
      const losses: string[] = [];
      agent.onLost((loss) => void losses.push(loss.label));
      server.holding = true;
      const inFlight = rateOf(agent, 0).catch((e: unknown) => e);
      await until(() => server.commands.length > 0 && c.stats.framesSent > 0);
      // A header announcing 1 MiB: read no further, never buffered.
      server.inject(u32s(PeerFrameKind.MSG, 1 << 20));
      const error = await inFlight;
      expect(error).toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
      expect((error as Error).message).toMatch(/malformed stream: frame length 1048576 exceeds/);
      expect(a2pStats(agent).badMessages.oversize).toBe(1);
      await until(() => losses.length === 2);
    });

    it('should fail a command in flight at once when the server drops the connection', async () => {
      const { server, c, agent } = await hostileRig();
      server.holding = true;
      const inFlight = rateOf(agent, 0).catch((e: unknown) => e);
      await until(() => server.commands.length > 0 && c.stats.framesSent > 0);
      // Half a frame, then the connection closes (the socket reads the bytes before its end).
      server.inject(u32s(PeerFrameKind.MSG, 12, 0));
      await server.dropClient();
      const error = await inFlight;
      expect(error).toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
      expect((error as Error).message).toMatch(/closed with \d+ byte\(s\) of a frame unread/);
      expect(a2pStats(agent).failed).toBe(1);
    });

    it('should take a port that reads nothing for lost once maxQueuedBytes of commands wait unsent', async () => {
      const server = opened.add(await ScriptedPort.start(platform, dir.path('q.sock')), (s) =>
        s.close(),
      );
      const c = await connection({ path: server.path }, { maxQueuedBytes: 1024 });
      const agent = await agentOn(c, { rxTimeoutMs: 30_000 });
      server.stopReading();
      // Commands that time out at once: the pool's transfers are reused, their bytes stay queued
      // (the kernel's buffer first, then the socket's).
      const payload = new Uint8Array(120);
      while (!c.closed) {
        await Promise.all(
          Array.from({ length: 16 }, () =>
            agent.transact(0x14, 0x6, payload, { timeoutMs: 1 }).catch(() => undefined),
          ),
        );
      }
      expect(c.error).toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
      expect(c.error?.message).toMatch(
        /the port reads nothing: \d+ bytes of commands wait unsent, over maxQueuedBytes 1024$/,
      );
      await expect(rateOf(agent, 0)).rejects.toMatchObject({ code: 'E_PEER_PORT_CLOSED' });
    });
  });

  describe('configuration', () => {
    it('should refuse what cannot work before anything is set up', async () => {
      const port = await unixPort();
      const c = await connection(port.address);
      const container = containerWith();
      const refused = (options: object): Promise<unknown> =>
        probe(container, { transportConfig: { connection: c }, ...options }).then(
          () => 'probed',
          (e: unknown) => (ScmiConfigError.is(e) ? e.field : e),
        );
      expect(await refused({ transportConfig: undefined })).toBe('transportConfig');
      expect(await refused({ transportConfig: { connection: {} } })).toBe(
        'transportConfig.connection',
      );
      expect(await refused({ transportConfig: { connection: c, conection: c } })).toBe(
        'transportConfig.conection',
      );
      expect(await refused({ a2p: [{ id: 1 }] })).toBe('a2p[0].id');
      expect(await refused({ p2a: [{ id: 2 }] })).toBe('p2a[0].id');
      expect(await refused({ a2p: [{ id: 0, polling: true }] })).toBe('a2p[0].polling');
      expect(await refused({ a2p: [{ id: 0, transport: {} }] })).toBe('a2p[0].transport');
      // The transport's messages need larger frames than the connection reads.
      const small = await connection(port.address, { maxFrameSize: 64 });
      expect(await refused({ transportConfig: { connection: small } })).toBe(
        'transportConfig.connection',
      );
      // Nothing was claimed: the connection still serves its first agent.
      expect(c.agent).toBeUndefined();
      await agentOn(c);
    });

    it('should agree with a port of another maxMsgSize when created with it', async () => {
      const port = await unixPort({ maxMsgSize: 256 });
      const transport = createPeerPortTransport({ maxMsgSize: 256, rxTimeoutMs: 5000 });
      expect(transport.descriptor).toMatchObject({ name: 'peer-port', maxMsgSize: 256 });
      const agent = await agentOn(await connection(port.address), {}, transport);
      expect(await rateOf(agent, 0)).toBe(1200 * MHZ);
    });

    it('should check its own options and connectPeerPort', async () => {
      const field = (f: () => unknown): string | undefined => {
        try {
          f();
        } catch (e) {
          if (ScmiConfigError.is(e)) return e.field;
          throw e;
        }
        return undefined;
      };
      expect(field(() => createPeerPortTransport({ maxMsgSize: 4 }))).toBe('maxMsgSize');
      expect(field(() => createPeerPortTransport({ maxMsg: 1024 }))).toBe('maxMsg');
      expect(field(() => createPeerPortTransport({ rxTimeoutMs: 0 }))).toBe('rxTimeoutMs');
      expect(field(() => createPeerPortTransport({ maxMsgsize: 1 } as object))).toBe('maxMsgsize');
      const rejected = (target: unknown, options?: unknown): Promise<unknown> =>
        connectPeerPort(target as never, options as never).then(
          () => 'connected',
          (e: unknown) => (ScmiConfigError.is(e) ? e.field : e),
        );
      expect(await rejected(null)).toBe('target');
      expect(await rejected({ path: '' })).toBe('target.path');
      expect(await rejected({ path: 'x', port: 1 })).toBe('target.port');
      expect(await rejected({ port: 0 })).toBe('target.port');
      expect(await rejected({ host: 7, port: 1 })).toBe('target.host');
      expect(await rejected({ path: 'x' }, { p2a: 1 })).toBe('options.p2a');
      expect(await rejected({ path: 'x' }, { maxFrameSize: 4 })).toBe('options.maxFrameSize');
      expect(await rejected({ path: 'x' }, { maxFramesize: 4096 })).toBe('options.maxFramesize');
      expect(await rejected({ path: 'x' }, { maxQueuedBytes: 10 })).toBe('options.maxQueuedBytes');
      // Only an absent option takes its default, as documented: null is refused.
      expect(await rejected({ path: 'x' }, { maxFrameSize: null })).toBe('options.maxFrameSize');
      expect(await rejected({ path: 'x' }, { p2a: null })).toBe('options.p2a');
      expect(await rejected({ path: 'x' }, { signal: 'soon' })).toBe('options.signal');
      // A signal that fired already: its reason, nothing connected.
      const reason = new Error('gave up');
      expect(await rejected({ path: 'x' }, { signal: AbortSignal.abort(reason) })).toBe(reason);
      const missing = await rejected({ path: dir.path('nobody-listens.sock') });
      expect(missing).toBeInstanceOf(ScmiTransportError);
      expect(missing).toMatchObject({ code: 'E_PEER_PORT_CONNECT', cause: { code: 'ENOENT' } });
    });
  });
});
