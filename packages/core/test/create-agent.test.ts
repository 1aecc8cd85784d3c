import { getEventListeners } from 'node:events';
import {
  BASE_ERROR_EVENT,
  RevokedError,
  ScmiError,
  ScmiConfigError,
  ScmiMalformedError,
  ScmiShutdownError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  CLOCK,
  LOGGER,
  PROTOCOL_DRIVER,
  TRANSPORT,
  coreModule,
  createAgent,
  decodeBaseErrorEvent,
  encodeMsgResponse,
  silentLogger,
  validateAgentConfig,
  readU32,
  type BaseErrorReport,
  type ChannelStats,
  type ProtocolDriver,
  type ScmiAgent,
  type Transport,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { Container } from 'inversify';
import { runInNewContext } from 'node:vm';
import { captureWarnings, createHarness } from './support/harness.js';
import type { LoopbackChannel, LoopbackDelivery } from './support/loopback-transport.js';

function u32(n: number): Uint8Array {
  return u32s(n);
}

function u32s(...words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w, true));
  return b;
}

/**
 * Makes the fake platform list its protocols four per LIST_PROTOCOLS reply, answering
 * GENERIC_ERROR from `failFromSkip` on.
 */
function listFourPerReply(h: ReturnType<typeof createHarness>, failFromSkip = Infinity): void {
  const real = h.platform.override;
  h.platform.override = (req) => {
    if (req.protocolId !== 0x10 || req.messageId !== 0x6) return real?.(req);
    const skip = readU32(req.payload, 0);
    if (skip >= failFromSkip) return { status: ScmiStatus.GENERIC_ERROR };
    const list = h.platform.protocols.slice(skip, skip + 4);
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, list.length, true);
    bytes.set(list, 4);
    return { status: 0, returns: bytes };
  };
}

/** A driver for `protocolId` whose API is its protocol id. */
function idDriver(protocolId: number): ProtocolDriver<number> {
  return { protocolId, name: `id-${protocolId}`, version: 0x10000, init: () => protocolId };
}

/** The counters of the agent's channel a2p:0. */
function a2pStats(agent: ScmiAgent): ChannelStats | undefined {
  return agent.diagnostics.channels.find((c) => c.label === 'a2p:0')?.stats;
}

/** The bad messages `stats` counted, every reason. */
function badTotal(stats: ChannelStats | undefined): number {
  return Object.values(stats?.badMessages ?? {}).reduce((a, b) => a + b, 0);
}
describe(createAgent, () => {
  ensureNoLeaksInSuite();

  describe('when the platform answers Base discovery', () => {
    it('should probe, discover the platform and remove cleanly', async () => {
      const h = createHarness();
      const agent = await h.create();
      expect(agent.info).toEqual({
        version: 0x20000,
        versionSource: 'platform',
        vendor: 'fake-vendor',
        subVendor: 'fake-sub',
        implementationVersion: 0x0102,
        protocols: [0x14, 0x15],
        numAgents: 2,
        agents: [
          { id: 0, name: 'platform' },
          { id: 1, name: 'agent1' },
          { id: 2, name: 'agent2' },
        ],
        discoveryFailures: [],
      });
      expect(await agent.base.discoverVendor()).toBe('fake-vendor');
      await agent.remove();
      expect(h.wire.violations).toEqual([]);
      expect(h.clock.armedTimers).toBe(0);
      // Quiesce every channel before releasing anything, newest first.
      const steps = h.log.filter('quiesce', 'release').map((e) => `${e.type} ${e.resource}`);
      expect(steps).toEqual([
        'quiesce agent',
        'quiesce protocol handle',
        'quiesce agent gate',
        'quiesce channel p2a:0',
        'quiesce channel a2p:0',
        'quiesce transfers',
        'quiesce notifications',
        'release agent',
        'release protocol handle',
        'release agent gate',
        'release channel p2a:0',
        'release channel a2p:0',
        'release loopback connection',
        'release transfers',
        'release notifications',
      ]);
    });

    it('should tolerate NOT_SUPPORTED from sub-vendor, implementation version and discover agent', async () => {
      const h = createHarness();
      h.platform.override = (req) =>
        req.protocolId === 0x10 && [0x4, 0x5, 0x7].includes(req.messageId)
          ? { status: ScmiStatus.NOT_SUPPORTED }
          : undefined;
      const agent = await h.create();
      expect(agent.info.subVendor).toBeUndefined();
      expect(agent.info.implementationVersion).toBeUndefined();
      expect(agent.info.agents).toEqual([]);
      expect(agent.info.discoveryFailures).toEqual([]); // not implemented is not a failure
      await agent.remove();
    });

    it('should discover agents 0 … num_agents, skipping an id the platform does not know', async () => {
      const h = createHarness();
      h.platform.numAgents = 3;
      const asked: number[] = [];
      h.platform.override = (req) => {
        if (req.protocolId !== 0x10 || req.messageId !== 0x7) return undefined;
        const id = readU32(req.payload, 0);
        asked.push(id);
        return id === 2 ? { status: ScmiStatus.NOT_FOUND } : undefined;
      };
      const agent = await h.create();
      expect(asked).toEqual([0, 1, 2, 3]);
      expect(agent.info.agents.map((a) => a.id)).toEqual([0, 1, 3]);
      expect(agent.info.discoveryFailures).toEqual([]);
      await agent.remove();
    });

    it('should pass over an agent the platform fails to describe, recording it (as Linux ignores it)', async () => {
      const h = createHarness();
      h.platform.override = (req) =>
        req.protocolId === 0x10 && req.messageId === 0x7 && readU32(req.payload, 0) === 1
          ? { status: ScmiStatus.DENIED }
          : undefined;
      const agent = await h.create();
      expect(agent.info.agents.map((a) => a.id)).toEqual([0, 2]);
      expect(agent.info.discoveryFailures).toMatchObject([
        { step: 'agent 1', error: { status: ScmiStatus.DENIED } },
      ]);
      await agent.remove();
    });

    it('should keep an agent described under another agent id as the agent asked for (Linux ignores the field), with reportedId, warning of it', async () => {
      const h = createHarness();
      const warnings = captureWarnings(h);
      h.platform.override = (req) => {
        if (req.protocolId !== 0x10 || req.messageId !== 0x7 || readU32(req.payload, 0) !== 1)
          return undefined;
        const returns = new Uint8Array(20);
        new DataView(returns.buffer).setUint32(0, 0xffffffff, true); // not agent 1
        returns.set(Buffer.from('evil'), 4);
        return { status: 0, returns };
      };
      const agent = await h.create();
      expect(agent.info.agents).toStrictEqual([
        { id: 0, name: 'platform' },
        { id: 1, name: 'evil', reportedId: 0xffffffff },
        { id: 2, name: 'agent2' },
      ]);
      // Not a failure: the agent is described.
      expect(agent.info.discoveryFailures).toEqual([]);
      expect(warnings).toEqual([
        expect.stringMatching(
          /agent 1 described under another agent id \(DISCOVER_AGENT for agent 1 answered for agent 4294967295; kept as agent 1\)/,
        ),
      ]);
      await agent.remove();
    });

    it('should contain a logger that throws: the probe and a command that warns go on, each throw counted in diagnostics.loggerErrors', async () => {
      const h = createHarness();
      h.container.rebind(LOGGER).toConstantValue({
        ...silentLogger,
        warn: () => {
          throw new Error('a broken logger');
        },
      });
      h.platform.override = (req) => {
        if (req.protocolId === 0x10 && req.messageId === 0x7 && readU32(req.payload, 0) === 1) {
          const returns = new Uint8Array(20);
          new DataView(returns.buffer).setUint32(0, 9, true); // another agent id: a warning
          returns.set(Buffer.from('agent1'), 4);
          return { status: 0, returns };
        }
        // A multi-part reply that ends early: another warning, from iterate.
        if (req.protocolId === 0x14 && req.messageId === 0x4)
          return { status: 0, returns: u32s(0 | (3 << 16)) };
        return undefined;
      };
      const agent = await h.create();
      expect(agent.info.agents[1]).toStrictEqual({ id: 1, name: 'agent1', reportedId: 9 });
      expect(agent.diagnostics.loggerErrors).toBe(1);
      const items = await agent.xfer(0x14).iterate(0x4, {
        txSize: 4,
        prepare: (w, index) => w.u32(index),
        counts: (r) => {
          const n = r.u32();
          return { returned: n & 0xffff, remaining: n >>> 16 };
        },
        item: (r) => r.u32(),
      });
      expect(items).toEqual([]);
      expect(agent.diagnostics.loggerErrors).toBe(2);
      await agent.remove();
    });

    it('should record failed agent ids in id order and keep mismatched ones, warning once for each kind', async () => {
      const h = createHarness();
      h.platform.numAgents = 4;
      const warnings = captureWarnings(h);
      h.platform.override = (req) => {
        if (req.protocolId !== 0x10 || req.messageId !== 0x7) return undefined;
        const id = readU32(req.payload, 0);
        if (id === 1 || id === 3) return { status: ScmiStatus.DENIED };
        if (id === 0) return undefined;
        const returns = new Uint8Array(20);
        new DataView(returns.buffer).setUint32(0, 7, true); // every other id: "agent 7"
        returns.set(Buffer.from(`agent${id}`), 4);
        return { status: 0, returns };
      };
      const agent = await h.create();
      expect(agent.info.agents).toStrictEqual([
        { id: 0, name: 'platform' },
        { id: 2, name: 'agent2', reportedId: 7 },
        { id: 4, name: 'agent4', reportedId: 7 },
      ]);
      expect(agent.info.discoveryFailures).toMatchObject([
        { step: 'agent 1', error: { status: ScmiStatus.DENIED } },
        { step: 'agent 3', error: { status: ScmiStatus.DENIED } },
      ]);
      expect(warnings).toEqual([
        expect.stringMatching(/agent 1 and 1 more agent id\(s\) failed/),
        expect.stringMatching(
          /agent 2 and 1 more agent id\(s\) described under another agent id .*kept/,
        ),
      ]);
      await agent.remove();
    });

    it.each([
      ['its agent id only', 4],
      ['a name cut short', 12],
    ])(
      'should leave out and record as truncated an agent answered with %s, whatever its agent id',
      async (_what, bytes) => {
        const h = createHarness();
        h.platform.override = (req) => {
          if (req.protocolId !== 0x10 || req.messageId !== 0x7 || readU32(req.payload, 0) !== 1)
            return undefined;
          const returns = new Uint8Array(bytes);
          new DataView(returns.buffer).setUint32(0, 9, true);
          returns.fill(0x41, 4);
          return { status: 0, returns };
        };
        const agent = await h.create();
        expect(agent.info.agents.map((a) => a.id)).toEqual([0, 2]);
        expect(agent.info.discoveryFailures).toMatchObject([
          { step: 'agent 1', error: { code: 'E_TRUNCATED' } },
        ]);
        await agent.remove();
      },
    );

    it('should keep protocol ids from 0x11, each once, recording a list with reserved, Base or repeated ids', async () => {
      const h = createHarness();
      h.platform.protocols = [0x14, 0x15, 0x16, 0x17]; // four announced
      h.platform.override = (req) => {
        if (req.protocolId !== 0x10 || req.messageId !== 0x6) return undefined;
        const returns = new Uint8Array(8);
        new DataView(returns.buffer).setUint32(0, 4, true);
        returns.set([0x00, 0x10, 0x14, 0x14], 4);
        return { status: 0, returns };
      };
      const agent = await h.create();
      expect(agent.info.protocols).toEqual([0x14]);
      expect(agent.info.discoveryFailures).toMatchObject([
        { step: 'list-protocols', error: { code: 'E_PROTOCOL_ID' } },
      ]);
      await agent.remove();
    });

    it('should record every agent the platform denies but warn once for all of them', async () => {
      const h = createHarness();
      h.platform.numAgents = 5;
      const warnings = captureWarnings(h);
      h.platform.override = (req) =>
        req.protocolId === 0x10 && req.messageId === 0x7
          ? { status: ScmiStatus.DENIED }
          : undefined;
      const agent = await h.create();
      expect(agent.info.agents).toEqual([]);
      expect(agent.info.discoveryFailures.map((f) => f.step)).toEqual([
        'agent 0',
        'agent 1',
        'agent 2',
        'agent 3',
        'agent 4',
        'agent 5',
      ]);
      expect(warnings).toEqual([expect.stringMatching(/agent 0 and 5 more agent id\(s\) failed/)]);
      await agent.remove();
    });

    it('should go on without a vendor, sub-vendor or implementation version that failed, recording each (as Linux)', async () => {
      const h = createHarness();
      const warnings = captureWarnings(h);
      h.platform.override = (req) => {
        if (req.protocolId !== 0x10) return undefined;
        if (req.messageId === 0x3) return { status: ScmiStatus.GENERIC_ERROR };
        if (req.messageId === 0x4) return { status: ScmiStatus.DENIED };
        // Two bytes where a 32-bit version is due: a malformed reply.
        if (req.messageId === 0x5) return { status: 0, returns: new Uint8Array(2) };
        return undefined;
      };
      const agent = await h.create();
      expect(agent.info.vendor).toBe('');
      expect(agent.info.subVendor).toBeUndefined();
      expect(agent.info.implementationVersion).toBeUndefined();
      expect(agent.info.protocols).toEqual([0x14, 0x15]);
      expect(agent.info.discoveryFailures.map((f) => f.step)).toEqual([
        'vendor',
        'sub-vendor',
        'implementation-version',
      ]);
      expect(agent.info.discoveryFailures.map((f) => f.error.constructor)).toEqual([
        ScmiStatusError,
        ScmiStatusError,
        ScmiMalformedError,
      ]);
      expect(warnings).toHaveLength(3);
      expect(warnings[0]).toMatch(/vendor failed/);
      await agent.remove();
    });

    it('should read a 16-byte vendor with no NUL as 15 characters (Linux strscpy) and record a short one as malformed', async () => {
      const h = createHarness();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x10) return undefined;
        if (req.messageId === 0x3) return { status: 0, returns: Buffer.from('ABCDEFGHIJKLMNOP') };
        if (req.messageId === 0x4) return { status: 0, returns: Buffer.from('sub\0') };
        return undefined;
      };
      const agent = await h.create();
      expect(agent.info.vendor).toBe('ABCDEFGHIJKLMNO');
      expect(agent.info.subVendor).toBeUndefined();
      expect(agent.info.discoveryFailures).toMatchObject([
        { step: 'sub-vendor', error: { code: 'E_TRUNCATED' } },
      ]);
      await agent.remove();
    });

    it('should record a LIST_PROTOCOLS reply whose ids are not padded to a whole word as truncated (Linux -EPROTO)', async () => {
      const h = createHarness();
      h.platform.protocols = [0x11, 0x13, 0x14];
      h.platform.override = (req) =>
        req.protocolId === 0x10 && req.messageId === 0x6
          ? { status: 0, returns: new Uint8Array([3, 0, 0, 0, 0x11, 0x13, 0x14]) }
          : undefined;
      const agent = await h.create();
      expect(agent.info.protocols).toEqual([]);
      expect(agent.info.discoveryFailures).toMatchObject([
        { step: 'list-protocols', error: { code: 'E_TRUNCATED' } },
      ]);
      await agent.remove();
    });

    it('should accept a LIST_PROTOCOLS reply padded beyond the list (Linux only warns)', async () => {
      const h = createHarness();
      h.platform.protocols = [0x11, 0x13, 0x14];
      h.platform.override = (req) =>
        req.protocolId === 0x10 && req.messageId === 0x6
          ? { status: 0, returns: new Uint8Array([3, 0, 0, 0, 0x11, 0x13, 0x14, 0, 0, 0, 0, 0]) }
          : undefined;
      const agent = await h.create();
      expect(agent.info.protocols).toEqual([0x11, 0x13, 0x14]);
      expect(agent.info.discoveryFailures).toEqual([]);
      await agent.remove();
    });

    it("should warn of LIST_PROTOCOLS replies longer than their list once, through discovery's warn, keeping their ids and neither recording nor counting them (Linux only warns: scmi_base_implementation_list_get)", async () => {
      const h = createHarness();
      const warnings = captureWarnings(h);
      h.platform.protocols = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16];
      // Four ids per reply, each reply a word longer than its padded list.
      h.platform.override = (req) => {
        if (req.protocolId !== 0x10 || req.messageId !== 0x6) return undefined;
        const list = h.platform.protocols.slice(readU32(req.payload, 0)).slice(0, 4);
        const returns = new Uint8Array(12);
        new DataView(returns.buffer).setUint32(0, list.length, true);
        returns.set(list, 4);
        return { status: 0, returns };
      };
      const agent = await h.create();
      expect(agent.info.protocols).toEqual([0x11, 0x12, 0x13, 0x14, 0x15, 0x16]);
      expect(agent.info.discoveryFailures).toEqual([]);
      expect(agent.diagnostics.malformedReplies).toEqual({});
      // Two long replies, one warning.
      expect(warnings).toEqual([
        expect.stringMatching(
          /^scmi0: Base discovery: LIST_PROTOCOLS reply longer than its list: 4 protocols \(4 bytes, padded\) in 8 bytes after 0 of 6; accepted, as Linux accepts it$/,
        ),
      ]);
      // Called directly, the caller's warn is told, with an E_LENGTH error (not thrown).
      const warn = jest.fn<undefined, [string, Error]>();
      await expect(agent.base.discoverListProtocols(6, [], warn)).resolves.toEqual([
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
      ]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(/^LIST_PROTOCOLS reply longer than its list/),
        expect.objectContaining({ code: 'E_LENGTH' }),
      );
      expect(warn.mock.calls[0]?.[1]).toBeInstanceOf(ScmiMalformedError);
      expect(agent.diagnostics.malformedReplies).toEqual({});
      await agent.remove();
    });

    it('should list protocols over several LIST_PROTOCOLS replies (skip loop)', async () => {
      const h = createHarness();
      h.platform.protocols = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16];
      listFourPerReply(h);
      const agent = await h.create();
      expect(agent.info.protocols).toEqual([0x11, 0x12, 0x13, 0x14, 0x15, 0x16]);
      expect(
        h.platform.requests.filter((r) => r.messageId === 0x6 && r.protocolId === 0x10),
      ).toHaveLength(2);
      await agent.remove();
    });
  });

  it('should keep the protocols listed before LIST_PROTOCOLS failed, and instantiate only those', async () => {
    const h = createHarness({ drivers: [idDriver(0x14), idDriver(0x15)] });
    h.platform.protocols = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16];
    listFourPerReply(h, 4);
    const agent = await h.create();
    expect(agent.info.protocols).toEqual([0x11, 0x12, 0x13, 0x14]);
    expect(agent.protocolApi(0x14)).toBe(0x14);
    expect(() => agent.protocolApi(0x15)).toThrow(
      /protocol sensor is not listed by the platform .*failed part-way/,
    );
    expect(agent.info.discoveryFailures).toMatchObject([
      { step: 'list-protocols', error: { status: ScmiStatus.GENERIC_ERROR } },
    ]);
    await agent.remove();
  });

  it('should record a LIST_PROTOCOLS that returns no protocol before all announced are listed, keeping those listed', async () => {
    const h = createHarness();
    h.platform.protocols = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16];
    listFourPerReply(h);
    const listed = h.platform.override;
    h.platform.override = (req) => {
      if (req.protocolId === 0x10 && req.messageId === 0x6 && readU32(req.payload, 0) >= 4) {
        return { status: 0, returns: new Uint8Array(4) }; // none returned, two still announced
      }
      return listed?.(req);
    };
    const agent = await h.create();
    expect(agent.info.protocols).toEqual([0x11, 0x12, 0x13, 0x14]);
    expect(agent.info.discoveryFailures).toMatchObject([
      { step: 'list-protocols', error: { code: 'E_MULTIPART', message: /after 4 of 6/ } },
    ]);
    await agent.remove();
  });

  it('should stop listing when LIST_PROTOCOLS returns more protocols than PROTOCOL_ATTRIBUTES announced, keeping none of that reply', async () => {
    const h = createHarness();
    h.platform.protocols = [0x11, 0x12];
    const real = h.platform.override;
    h.platform.override = (req) => {
      if (req.protocolId === 0x10 && req.messageId === 0x6) {
        const bytes = new Uint8Array(8); // three ids for two announced
        new DataView(bytes.buffer).setUint32(0, 3, true);
        bytes.set([0x11, 0x12, 0x13], 4);
        return { status: 0, returns: bytes };
      }
      return real?.(req);
    };
    const agent = await h.create();
    expect(agent.info.protocols).toEqual([]);
    expect(agent.info.discoveryFailures).toMatchObject([
      { step: 'list-protocols', error: { code: 'E_MULTIPART' } },
    ]);
    await agent.remove();
    expect(h.clock.armedTimers).toBe(0);
  });

  describe('when PROTOCOL_ATTRIBUTES announces no protocol', () => {
    /** The LIST_PROTOCOLS requests the platform saw, as their skip. */
    const listSkips = (h: ReturnType<typeof createHarness>): number[] =>
      h.platform.requests
        .filter((r) => r.protocolId === 0x10 && r.messageId === 0x6)
        .map((r) => readU32(r.payload, 0));

    it('should still send one LIST_PROTOCOLS (Linux do/while), and list none when it returns none', async () => {
      const h = createHarness();
      h.platform.protocols = [];
      const agent = await h.create();
      expect(listSkips(h)).toEqual([0]);
      expect(agent.info.protocols).toEqual([]);
      expect(agent.info.discoveryFailures).toEqual([]);
      expect(await agent.base.discoverListProtocols(0)).toEqual([]);
      expect(listSkips(h)).toEqual([0, 0]);
      await agent.remove();
    });

    it('should keep none of a LIST_PROTOCOLS that lists protocols anyway, recording too many, and instantiate none', async () => {
      const h = createHarness({ drivers: [idDriver(0x14)] });
      h.platform.protocols = [0x14];
      h.platform.override = (req) =>
        req.protocolId === 0x10 && req.messageId === 0x1
          ? { status: 0, returns: u32(0 | (h.platform.numAgents << 8)) } // no protocol announced
          : undefined;
      const agent = await h.create();
      expect(listSkips(h)).toEqual([0]);
      expect(agent.info.protocols).toEqual([]);
      expect(() => agent.protocolApi(0x14)).toThrow(/protocol clock is not listed by the platform/);
      expect(agent.info.discoveryFailures).toMatchObject([
        {
          step: 'list-protocols',
          error: { code: 'E_MULTIPART', message: /1 protocols after 0 of 0: too many/ },
        },
      ]);
      await expect(agent.base.discoverListProtocols(0)).rejects.toMatchObject({
        code: 'E_MULTIPART',
      });
      await agent.remove();
    });

    it.each([
      ['an error status', { status: ScmiStatus.DENIED }, { status: ScmiStatus.DENIED }],
      [
        'a reply too short for its count',
        { status: 0, returns: new Uint8Array(2) },
        { code: 'E_TRUNCATED' },
      ],
    ])(
      'should record a LIST_PROTOCOLS answered with %s and go on with no protocol',
      async (_what, reply, error) => {
        const h = createHarness();
        h.platform.protocols = [];
        h.platform.override = (req) =>
          req.protocolId === 0x10 && req.messageId === 0x6 ? reply : undefined;
        const agent = await h.create();
        expect(listSkips(h)).toEqual([0]);
        expect(agent.info.protocols).toEqual([]);
        expect(agent.info.discoveryFailures).toMatchObject([{ step: 'list-protocols', error }]);
        await agent.remove();
      },
    );
  });

  describe('.base.discoverAgent', () => {
    it('should answer for the agent asked for, with the id the platform wrote as reportedId when another', async () => {
      const h = createHarness();
      const agent = await h.create();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x10 || req.messageId !== 0x7) return undefined;
        const returns = new Uint8Array(20);
        new DataView(returns.buffer).setUint32(0, 7, true);
        returns.set(Buffer.from('seven'), 4);
        return { status: 0, returns };
      };
      await expect(agent.base.discoverAgent(2)).resolves.toStrictEqual({
        id: 2,
        name: 'seven',
        reportedId: 7,
      });
      await expect(agent.base.discoverAgent(7)).resolves.toStrictEqual({ id: 7, name: 'seven' });
      // 0xFFFFFFFF asks for the caller: the id written is its own, not a mismatch.
      await expect(agent.base.discoverAgent(0xffffffff)).resolves.toStrictEqual({
        id: 7,
        name: 'seven',
      });
      await agent.remove();
    });

    it('should refuse, sending nothing, an id or permission field that is not an integer from 0 to 0xFFFFFFFF (the writer would send it modulo 2^32)', async () => {
      const h = createHarness();
      const agent = await h.create();
      const before = h.platform.requests.length;
      for (const bad of [-1, 1.5, 2 ** 32 + 2, Number.NaN]) {
        await expect(agent.base.discoverAgent(bad)).rejects.toMatchObject({
          code: 'E_FIELD_RANGE',
          message: expect.stringContaining(`agent id ${String(bad)}`) as unknown,
        });
      }
      await expect(agent.base.setDevicePermissions(1, -2, true)).rejects.toMatchObject({
        code: 'E_FIELD_RANGE',
        message: expect.stringContaining('device id -2') as unknown,
      });
      await expect(agent.base.setProtocolPermissions(1, 0, 0x1_0000_0014, true)).rejects.toThrow(
        /protocol id 4294967316/,
      );
      await expect(agent.base.resetAgentConfiguration(-1, false)).rejects.toThrow(/agent id -1/);
      expect(h.platform.requests).toHaveLength(before);
      await agent.remove();
    });
  });

  describe('.base.discoverListProtocols', () => {
    it('should refuse, sending nothing, a total that is not an integer from 0 to 255 (num_protocols is 8 bits; Infinity or NaN would unbound the skip loop)', async () => {
      const h = createHarness();
      const agent = await h.create();
      const before = h.platform.requests.length;
      for (const bad of [Infinity, Number.NaN, -1, 1.5, 256]) {
        const into: number[] = [];
        const e = await agent.base
          .discoverListProtocols(bad, into)
          .catch((error: unknown) => error);
        expect(e).toBeInstanceOf(ScmiMalformedError);
        expect(e).toMatchObject({
          code: 'E_FIELD_RANGE',
          message: `LIST_PROTOCOLS total ${String(bad)} is not an integer from 0 to 0xFF`,
        });
        expect(into).toEqual([]);
      }
      expect(h.platform.requests).toHaveLength(before);
      // A caller's value, not the platform's reply: not counted.
      expect(agent.diagnostics.malformedReplies).toEqual({});
      // 255, the largest count the field holds, is asked for (and the platform's two fall short).
      await expect(agent.base.discoverListProtocols(255)).rejects.toMatchObject({
        code: 'E_MULTIPART',
        message: /after 2 of 255/,
      });
      await agent.remove();
    });
  });

  describe('when probe fails', () => {
    it('should go on with the token sequence on the next probe over the same transport, so the late reply to the failed one matches nothing (Linux transfer_last_id)', async () => {
      const h = createHarness();
      const le32 = (n: number): Uint8Array => u32(n);
      let stale: Uint8Array | undefined;
      const tokens: number[] = [];
      let probe = 1;
      h.platform.override = (req) => {
        if (req.protocolId !== 0x10 || req.messageId !== 0x0) return undefined;
        tokens.push(req.token);
        if (probe === 1) {
          // A slow platform: its answer (the version it reported then) comes later.
          stale = encodeMsgResponse(req.header, 0, le32(0x10000));
          return 'drop';
        }
        // The late reply to the failed probe lands just before the retry's own reply.
        h.platform.respond(1, 0, stale as Uint8Array);
        return undefined;
      };
      await expect(h.create()).rejects.toBeInstanceOf(ScmiTimeoutError);
      probe = 2;
      const agent = await h.create();
      expect(tokens[1]).not.toBe(tokens[0]);
      expect(agent.info.version).toBe(0x20000); // the platform's answer now, not the stale one
      const a2p = agent.diagnostics.channels.find((c) => c.label === 'a2p:0');
      // The stale reply matched no transfer of this probe: dropped and counted.
      expect(a2p?.stats.badMessages.unexpected).toBe(1);
      await agent.remove();
    });

    it('should fail and tear down when PROTOCOL_ATTRIBUTES fails', async () => {
      const h = createHarness();
      h.platform.override = (req) =>
        req.protocolId === 0x10 && req.messageId === 0x1
          ? { status: ScmiStatus.GENERIC_ERROR }
          : undefined;
      await expect(h.create()).rejects.toBeInstanceOf(ScmiStatusError);
      expect(h.log.filter('release').map((e) => e.resource)).toContain('channel a2p:0');
      expect(h.clock.armedTimers).toBe(0);
    });

    it('should fail and tear down when PROTOCOL_VERSION and PROTOCOL_ATTRIBUTES both fail (the version alone does not: best-effort)', async () => {
      const h = createHarness();
      h.platform.override = (req) =>
        req.protocolId === 0x10 && req.messageId <= 0x1
          ? { status: ScmiStatus.GENERIC_ERROR }
          : undefined;
      await expect(h.create()).rejects.toMatchObject({ messageId: 0x1 });
      expect(h.log.filter('release').map((e) => e.resource)).toContain('channel a2p:0');
      expect(h.clock.armedTimers).toBe(0);
    });

    it.each([
      ['DISCOVER_VENDOR', 0x3, 0],
      ['DISCOVER_IMPLEMENTATION_VERSION', 0x5, 0],
      ['DISCOVER_LIST_PROTOCOLS', 0x6, 0],
      ['DISCOVER_AGENT 1', 0x7, 1],
    ])(
      'should fail and tear down when %s times out (its message still holds the channel)',
      async (_name, messageId, agentId) => {
        const h = createHarness();
        h.platform.override = (req) =>
          req.protocolId === 0x10 &&
          req.messageId === messageId &&
          (messageId !== 0x7 || readU32(req.payload, 0) === agentId)
            ? 'drop'
            : undefined;
        await expect(h.create()).rejects.toBeInstanceOf(ScmiTimeoutError);
        expect(h.log.filter('release').map((e) => e.resource)).toContain('channel a2p:0');
        expect(h.clock.armedTimers).toBe(0);
      },
    );

    it('should fail the probe on a transport error in a discovery step that would pass over an error status', async () => {
      const h = createHarness();
      h.platform.override = (req) => {
        if (req.protocolId === 0x10 && req.messageId === 0x3) {
          const channel = h.wire.channels.get('a2p:0');
          if (channel === undefined) throw new Error('no a2p:0');
          channel.fetchResponse = (): void => {
            throw new RangeError('hostile length');
          };
        }
        return undefined;
      };
      await expect(h.create()).rejects.toMatchObject({ code: 'E_FETCH' });
      expect(h.log.filter('release').map((e) => e.resource)).toContain('channel a2p:0');
    });

    it('should reject invalid configuration naming the field, before setting anything up', async () => {
      const h = createHarness();
      await expect(h.create({ a2p: [{ id: 0 }, { id: 0 }] })).rejects.toMatchObject({
        field: 'a2p[1].id',
      });
      await expect(
        h.create({
          a2p: [
            { id: 0, protocols: [0x14] },
            { id: 1, protocols: [0x14] },
          ],
        }),
      ).rejects.toBeInstanceOf(ScmiConfigError);
      await expect(h.create({ rxTimeoutMs: -1 })).rejects.toMatchObject({ field: 'rxTimeoutMs' });
      expect(h.platform.requests).toHaveLength(0);
    });

    it('should refuse a hole in a channel list or a protocol list (sparse arrays), claiming nothing', async () => {
      const h = createHarness();
      // eslint-disable-next-line no-sparse-arrays -- the hole is the point
      await expect(h.create({ a2p: [{ id: 0 }, , { id: 1 }] as never })).rejects.toMatchObject({
        name: 'ScmiConfigError',
        field: 'a2p[1]',
      });
      await expect(h.create({ a2p: new Array(1) as never })).rejects.toMatchObject({
        field: 'a2p[0]',
      });
      await expect(
        // eslint-disable-next-line no-sparse-arrays -- the hole is the point
        h.create({ a2p: [{ id: 0, protocols: [, 0x14] as never }] }),
      ).rejects.toMatchObject({ field: 'a2p[0].protocols[0]' });
      expect(h.platform.requests).toHaveLength(0);
      // Nothing was claimed: a corrected configuration probes on the same wire.
      const agent = await h.create({ a2p: [{ id: 0 }] });
      await agent.remove();
    });

    it.each([
      ['interrupt', true, /transport loopback does not support polling/],
      ['polling', false, /transport loopback completes by polling only/],
    ] as const)(
      'should refuse, on a transport whose completion is %s only, a channel with polling %p, naming the field',
      async (completion, polling, message) => {
        const h = createHarness({ descriptor: { completion } });
        await expect(h.create({ a2p: [{ id: 0 }, { id: 1, polling }] })).rejects.toMatchObject({
          name: 'ScmiConfigError',
          field: 'a2p[1].polling',
          message,
        });
        await expect(h.create({ a2p: [{ id: 0, polling: 'yes' as never }] })).rejects.toMatchObject(
          { field: 'a2p[0].polling', message: /expected a boolean/ },
        );
        expect(h.platform.requests).toHaveLength(0);
        // Unset, a channel completes the only way the transport can.
        const agent = await h.create();
        expect(agent.config.a2p[0]?.polling).toBe(completion === 'polling');
        expect(h.wire.channels.get('a2p:0')?.polling).toBe(completion === 'polling');
        await agent.remove();
      },
    );

    it('should refuse an unknown (misspelt) option, at the top or in a channel, and a debug that is not a boolean', async () => {
      const h = createHarness();
      await expect(h.create({ rxTimeoutMS: 5 } as never)).rejects.toMatchObject({
        field: 'rxTimeoutMS',
        message: /unknown option/,
      });
      await expect(h.create({ a2p: [{ id: 0, poling: true }] } as never)).rejects.toMatchObject({
        field: 'a2p[0].poling',
      });
      await expect(h.create({ debug: 'yes' as never })).rejects.toMatchObject({ field: 'debug' });
      for (const options of [null, undefined, 'loopback', ['loopback']]) {
        await expect(createAgent(h.container, options as never)).rejects.toMatchObject({
          field: 'options',
          message: /expected an object/,
        });
      }
      // Not a container at all (a JavaScript caller's undefined, or the module itself): named as
      // such, not a TypeError from inside inversify.
      for (const container of [undefined, null, {}, coreModule]) {
        const e = await createAgent(container as never, { transport: 'loopback' }).catch(
          (error: unknown) => error,
        );
        expect(e).toBeInstanceOf(ScmiConfigError);
        expect(e).toMatchObject({
          field: 'container',
          message: expect.stringContaining('expected an inversify Container') as unknown,
        });
      }
      expect(h.platform.requests).toHaveLength(0);
    });

    it('should let the transport check the channels against its configuration (validateChannels), before anything is set up', () => {
      const h = createHarness();
      const transport = h.container.get(TRANSPORT);
      const seen: unknown[] = [];
      const checked: Transport = {
        ...transport,
        validateChannels: ({ a2p, p2a }, config) => {
          seen.push({ a2p: a2p.map((c) => c.id), p2a: p2a.map((c) => c.id), config });
          if (a2p.length > 1) throw new ScmiConfigError('a2p[1].id', 'no such channel');
        },
      };
      validateAgentConfig({ transport: 'loopback', transportConfig: { queue: 8 } }, checked);
      expect(seen).toEqual([{ a2p: [0], p2a: [0], config: { queue: 8 } }]);
      expect(() =>
        validateAgentConfig(
          { transport: 'loopback', a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }] },
          checked,
        ),
      ).toThrow(expect.objectContaining({ field: 'a2p[1].id' }) as Error);
      expect(h.platform.requests).toHaveLength(0);
    });

    it('should size the transfer pool by the transport configuration when the transport says how', () => {
      const h = createHarness();
      const transport = h.container.get(TRANSPORT);
      const sized = {
        ...transport,
        maxMsgFor: (config: unknown) => (config as { queue: number }).queue / 2,
      };
      const config = validateAgentConfig(
        { transport: 'loopback', transportConfig: { queue: 8 } },
        sized,
      );
      expect(config.maxMsg).toBe(4);
      expect(() =>
        validateAgentConfig(
          { transport: 'loopback', maxMsg: 17, transportConfig: { queue: 8 } },
          sized,
        ),
      ).toThrow(ScmiConfigError);
      expect(
        validateAgentConfig(
          { transport: 'loopback', maxMsg: 3, transportConfig: { queue: 8 } },
          sized,
        ).maxMsg,
      ).toBe(3);
      // What the transport gives must be a pool size: refused, naming the transport, otherwise.
      for (const queue of [Number.NaN, 5, 0, -6]) {
        expect(() =>
          validateAgentConfig({ transport: 'loopback', transportConfig: { queue } }, sized),
        ).toThrow(
          expect.objectContaining({
            field: 'maxMsg',
            message: expect.stringMatching(/transport loopback: maxMsgFor gave/) as string,
          }) as Error,
        );
      }
      // Unless the configuration gives one itself.
      expect(
        validateAgentConfig(
          { transport: 'loopback', maxMsg: 2, transportConfig: { queue: Number.NaN } },
          sized,
        ).maxMsg,
      ).toBe(2);
    });

    it('should name the loaded transports when the transport is unknown', async () => {
      const h = createHarness();
      await expect(createAgent(h.container, { transport: 'nope' })).rejects.toThrow(
        /unknown transport "nope"; loaded: loopback/,
      );
      await expect(createAgent(new Container(), { transport: 'nope' })).rejects.toThrow(
        /loaded: none/,
      );
    });

    it('should refuse, with a typed error naming the cause and before anything is set up, a transport loaded twice, a container without CLOCK, CLOCK or LOGGER bound twice, and two drivers for one protocol', async () => {
      const h = createHarness();
      const bare = new Container(); // no coreModule
      for (const t of h.container.getAll(TRANSPORT)) bare.bind(TRANSPORT).toConstantValue(t);
      await expect(createAgent(bare, { transport: 'loopback' })).rejects.toThrow(
        expect.objectContaining({
          field: 'container',
          message: expect.stringMatching(/no CLOCK is bound: load coreModule/) as unknown,
        }) as Error,
      );
      const twice = createHarness();
      twice.container.load(coreModule); // a second CLOCK and LOGGER
      await expect(twice.create()).rejects.toThrow(/CLOCK is bound 2 times/);
      twice.container.unbind(CLOCK);
      twice.container.bind(CLOCK).toConstantValue(twice.clock);
      await expect(twice.create()).rejects.toThrow(/LOGGER is bound 2 times/);
      const dup = createHarness();
      const [loopback] = dup.container.getAll(TRANSPORT);
      dup.container.bind(TRANSPORT).toConstantValue({ ...loopback } as Transport);
      await expect(dup.create()).rejects.toThrow(
        expect.objectContaining({
          field: 'transport',
          message: expect.stringMatching(/2 transports named "loopback" are loaded/) as unknown,
        }) as Error,
      );
      // Two drivers for one protocol: both would probe, and agent.protocol(first) would give
      // the second's API.
      const drivers = createHarness();
      const driver = (name: string): ProtocolDriver<string> => ({
        protocolId: 0x14,
        name,
        version: 0x30000,
        init: () => name,
      });
      drivers.container.bind(PROTOCOL_DRIVER).toConstantValue(driver('clock a'));
      drivers.container.bind(PROTOCOL_DRIVER).toConstantValue(driver('clock b'));
      await expect(drivers.create()).rejects.toThrow(
        expect.objectContaining({
          field: 'container',
          message: expect.stringMatching(/two protocol drivers for protocol clock/) as unknown,
        }) as Error,
      );
      // Nothing was set up: the platform saw no agent.
      for (const x of [h, twice, dup, drivers]) expect(x.platform.requests).toHaveLength(0);
    });
  });

  describe('.transact', () => {
    it('should send raw commands to any protocol on its channel', async () => {
      const h = createHarness();
      const agent = await h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [0x15] }] });
      const echo = await agent.transact(0x15, 0x3, u32(0xdeadbeef));
      expect(readU32(echo, 0)).toBe(0xdeadbeef);
      expect(h.platform.requests.at(-1)?.channelId).toBe(1);
      await agent.transact(0x14, 0x3, u32(1));
      expect(h.platform.requests.at(-1)?.channelId).toBe(0);
      await expect(agent.transact(0x19, 0x3)).rejects.toMatchObject({
        status: ScmiStatus.NOT_SUPPORTED,
      });
      const ops = agent.xfer(0x15);
      await agent.remove();
      // A rejection, as every failure of transact (a caller's .catch() sees it).
      await expect(agent.transact(0x14, 0)).rejects.toBeInstanceOf(RevokedError);
      expect(() => agent.base).toThrow(RevokedError);
      await expect(ops.transact(0x3)).rejects.toBeInstanceOf(RevokedError);
    });

    it('should complete by polling on a polling channel', async () => {
      const h = createHarness();
      const agent = await h.create({ a2p: [{ id: 0, polling: true }] });
      const echo = await agent.transact(0x14, 0x3, u32(7));
      expect(readU32(echo, 0)).toBe(7);
      await agent.remove();
    });
  });

  describe('.xfer: get, do, put', () => {
    it('should not let a second put of a transfer take the transfer of whoever got the next one', async () => {
      const h = createHarness();
      const agent = await h.create();
      const ops = agent.xfer(0x15);
      const x = await ops.get(0x3, 4, 4);
      x.tx.set(u32(1));
      await ops.do(x);
      ops.put(x);
      const y = await ops.get(0x3, 4, 4);
      ops.put(x); // stale: a no-op
      y.tx.set(u32(2));
      await ops.do(y); // y is still its caller's
      expect(readU32(y.rx, 0)).toBe(2);
      await expect(ops.do(x)).rejects.toMatchObject({ code: 'E_XFER_STATE' });
      // Its buffers moved to the transfer that took its place: a stale write lands nowhere.
      expect([x.tx.byteLength, x.rx.byteLength, x.response().byteLength]).toEqual([0, 0, 0]);
      expect(() => x.tx.set(u32(3))).toThrow(/out of bounds/); // a RangeError (another realm's)
      expect(readU32(y.tx, 0)).toBe(2);
      ops.put(y);
      await agent.remove();
    });
  });

  describe('timeouts', () => {
    it('should time out, drop the late reply as a late reply, and keep the next transfer unaffected', async () => {
      const h = createHarness();
      const agent = await h.create();
      h.platform.delay = (req) => (req.messageId === 0x9 ? 45 : undefined);
      const late = agent.transact(0x14, 0x9, u32(1));
      await expect(late).rejects.toBeInstanceOf(ScmiTimeoutError);
      h.platform.delay = undefined;
      const next = await agent.transact(0x14, 0x3, u32(2));
      expect(readU32(next, 0)).toBe(2);
      await h.clock.runUntilIdle();
      const a2p = agent.diagnostics.channels.find((c) => c.label === 'a2p:0');
      expect(a2p?.stats.timeouts).toBe(1);
      expect(a2p?.stats.lateReplies).toBe(1);
      expect(a2p?.stats.badMessages.unexpected).toBe(0);
      await agent.remove();
    });

    it.each([
      ['interrupt', false],
      ['polling', true],
    ])(
      "should time out a command at its own timeoutMs (%s), not the agent's, and still drop its late reply",
      async (_, polling) => {
        const h = createHarness();
        const agent = await h.create({ a2p: [{ id: 0, polling }] });
        h.platform.delay = (req) => (req.messageId === 0x9 ? 12 : undefined);
        const sent = h.clock.now();
        const e: unknown = await agent
          .transact(0x14, 0x9, u32(1), { timeoutMs: 5 })
          .catch((error: unknown) => error);
        expect(e).toBeInstanceOf(ScmiTimeoutError);
        expect(e).toMatchObject({ timeoutMs: 5, phase: 'response' });
        expect(h.clock.now() - sent).toBeLessThan(12);
        // Longer than the agent's 30 ms: answered at 45 ms, in time.
        h.platform.delay = (req) => (req.messageId === 0x9 ? 45 : undefined);
        const slow = await agent.transact(0x14, 0x9, u32(2), { timeoutMs: 60 });
        expect(readU32(slow, 0)).toBe(2);
        h.platform.delay = undefined;
        // The next command has the agent's timeout again (the pool's transfer was reset).
        h.platform.delay = (req) => (req.messageId === 0x9 ? 45 : undefined);
        await expect(agent.transact(0x14, 0x9, u32(3))).rejects.toMatchObject({ timeoutMs: 30 });
        h.platform.delay = undefined;
        await h.clock.runUntilIdle();
        const a2p = agent.diagnostics.channels.find((c) => c.label === 'a2p:0');
        expect(a2p?.stats).toMatchObject({ timeouts: 2, lateReplies: 2 });
        expect(a2p?.stats.badMessages.unexpected).toBe(0);
        await agent.remove();
      },
    );

    describe('options.signal', () => {
      it('should fail a command waiting for its response with the reason at once, and drop its late reply', async () => {
        const h = createHarness();
        const agent = await h.create();
        h.platform.delay = (req) => (req.messageId === 0x9 ? 20 : undefined);
        const failed = a2pStats(agent)?.failed ?? 0;
        const abort = new AbortController();
        const reason = new Error('operator gave up');
        const pending = agent
          .transact(0x14, 0x9, u32(1), { signal: abort.signal })
          .catch((error: unknown) => error);
        await h.clock.advance(5);
        expect(getEventListeners(abort.signal, 'abort')).toHaveLength(1);
        abort.abort(reason);
        expect(await pending).toBe(reason);
        expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
        h.platform.delay = undefined;
        await h.clock.runUntilIdle();
        expect(a2pStats(agent)).toMatchObject({ failed: failed + 1, lateReplies: 1, timeouts: 0 });
        // The agent goes on; a signal of a command that settled changes nothing.
        const done = new AbortController();
        expect(readU32(await agent.transact(0x14, 0x3, u32(7), { signal: done.signal }), 0)).toBe(
          7,
        );
        expect(getEventListeners(done.signal, 'abort')).toHaveLength(0);
        done.abort();
        await agent.remove();
      });

      it('should give up an asynchronous command waiting for its delayed response', async () => {
        const h = createHarness();
        const agent = await h.create({ asyncTimeoutMs: 100 });
        h.platform.override = (req) =>
          req.protocolId === 0x14 && req.messageId === 0x5 ? { status: 0 } : undefined;
        const abort = new AbortController();
        const pending = agent
          .transact(0x14, 0x5, u32(1), { async: true, signal: abort.signal })
          .catch((error: unknown) => error);
        await h.clock.advance(10);
        abort.abort();
        const e = await pending;
        expect(e).toBe(abort.signal.reason);
        expect((e as Error).name).toBe('AbortError');
        expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
        await agent.remove();
      });

      it('should send nothing when the payload writer itself fires the signal', async () => {
        const h = createHarness();
        const agent = await h.create();
        const sent = a2pStats(agent)?.sent;
        const abort = new AbortController();
        const reason = new Error('writer gave up');
        const e: unknown = await agent
          .transact(
            0x14,
            0x3,
            (w) => {
              w.u32(1);
              abort.abort(reason);
            },
            { txSize: 4, signal: abort.signal },
          )
          .catch((error: unknown) => error);
        expect(e).toBe(reason);
        expect(a2pStats(agent)?.sent).toBe(sent);
        await agent.remove();
      });

      it('should give many commands sharing one signal one listener, and fail each with the reason', async () => {
        const h = createHarness({ descriptor: { maxMsg: 16 } });
        const agent = await h.create({ maxMsg: 16 });
        h.platform.delay = () => 20;
        const abort = new AbortController();
        const pending = Array.from({ length: 12 }, (_, i) =>
          agent
            .transact(0x14, 0x3, u32(i), { signal: abort.signal })
            .catch((error: unknown) => error),
        );
        await h.clock.advance(1);
        expect(getEventListeners(abort.signal, 'abort')).toHaveLength(1);
        const reason = new Error('all of them');
        abort.abort(reason);
        expect(await Promise.all(pending)).toEqual(pending.map(() => reason));
        h.platform.delay = undefined;
        await h.clock.runUntilIdle();
        expect(a2pStats(agent)?.lateReplies).toBe(12);
        await agent.remove();
      });

      it('should send nothing for a signal that fired already, and refuse one that is not an AbortSignal', async () => {
        const h = createHarness();
        const agent = await h.create();
        const sent = a2pStats(agent)?.sent;
        const reason = new Error('already');
        expect(
          await agent
            .transact(0x14, 0x3, u32(1), { signal: AbortSignal.abort(reason) })
            .catch((error: unknown) => error),
        ).toBe(reason);
        const e: unknown = await agent
          .transact(0x14, 0x3, u32(1), { signal: { aborted: false } as unknown as AbortSignal })
          .catch((error: unknown) => error);
        expect(e).toMatchObject({ code: 'E_ARGUMENT' });
        expect(a2pStats(agent)?.sent).toBe(sent);
        await agent.remove();
      });
    });

    it('should refuse a bad timeoutMs before it waits for a transfer, running no payload writer', async () => {
      const h = createHarness();
      const agent = await h.create({ maxMsg: 1 });
      const held = await agent.xfer(0x14).get(0x3, 4, 4);
      let wrote = 0;
      const e: unknown = await agent
        .transact(
          0x14,
          0x3,
          (w) => {
            wrote++;
            w.u32(1);
          },
          { txSize: 4, timeoutMs: -1 },
        )
        .catch((error: unknown) => error);
      expect(e).toMatchObject({ code: 'E_ARGUMENT' });
      expect(wrote).toBe(0);
      agent.xfer(0x14).put(held);
      await agent.remove();
    });

    it('should refuse a timeoutMs that is not a positive number, sending nothing', async () => {
      const h = createHarness();
      const agent = await h.create();
      const sent = (): number | undefined => a2pStats(agent)?.sent;
      const before = sent();
      for (const timeoutMs of [0, -1, NaN, Infinity, '5', 1n, null]) {
        const e: unknown = await agent
          .transact(0x14, 0x3, u32(1), { timeoutMs: timeoutMs as number })
          .catch((error: unknown) => error);
        expect(e).toMatchObject({ code: 'E_ARGUMENT' });
        expect((e as Error).message).toMatch(/timeoutMs must be a positive number of ms/);
      }
      expect(sent()).toBe(before);
      // Nothing was lost: the agent goes on.
      expect(readU32(await agent.transact(0x14, 0x3, u32(7), { timeoutMs: 5 }), 0)).toBe(7);
      await agent.remove();
    });

    it('should re-check completion before failing a transfer whose reply is already there', async () => {
      const h = createHarness({ auto: false });
      const probing = h.create();
      await h.clock.runUntilIdle();
      const agent = await probing;
      // The reply reaches the channel (as a shared-memory area the platform wrote) but its
      // completion signal (the doorbell) is held: pollDone sees the reply there, fetchResponse reads it.
      const channel = h.wire.channels.get('a2p:0') as LoopbackChannel;
      let held: LoopbackDelivery | undefined;
      h.wire.intercept = (d) => {
        held = d;
      };
      const tokenOf = (bytes: Uint8Array): number => (readU32(bytes, 0) >>> 18) & 0x3ff;
      channel.pollDone = (xfer) => held !== undefined && tokenOf(held.bytes) === xfer.token;
      const fetch = channel.fetchResponse.bind(channel);
      channel.fetchResponse = (xfer, ctx) => {
        fetch(xfer, ctx ?? held?.bytes);
      };
      let settled = false;
      const pending = agent.transact(0x14, 0x3, u32(9)).finally(() => {
        settled = true;
      });
      await h.clock.runTasks();
      expect(held).toBeDefined();
      // Just before the deadline (rxTimeoutMs 30): nothing completed it, the doorbell is still held.
      await h.clock.advance(29);
      expect(settled).toBe(false);
      // Past the deadline: the re-check finds the reply, no false timeout.
      await h.clock.advance(2);
      expect(settled).toBe(true);
      expect(readU32(await pending, 0)).toBe(9);
      const stats = (): ChannelStats | undefined => a2pStats(agent);
      expect(stats()?.timeouts).toBe(0);
      const completed = stats()?.completed;
      // The doorbell comes at last: a reply for a transfer already over, never a second completion.
      h.wire.intercept = undefined;
      held?.deliver();
      await h.clock.runUntilIdle();
      expect(stats()).toMatchObject({ timeouts: 0, completed });
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      expect(h.wire.violations).toEqual([]);
    });
  });

  describe('a transport whose fetchResponse throws', () => {
    it.each([
      ['polling', true],
      ['interrupt', false],
    ])(
      'should fail the transfer with a transport error on a %s channel, still mark it done, and go on',
      async (_mode, polling) => {
        const h = createHarness();
        const agent = await h.create({ a2p: [{ id: 0, polling }] });
        const channel = h.wire.channels.get('a2p:0');
        if (channel === undefined) throw new Error('no a2p:0');
        const fetch = channel.fetchResponse.bind(channel);
        const before = channel.txDone.count;
        channel.fetchResponse = (): void => {
          throw new RangeError('hostile length');
        };
        const failing = agent.transact(0x14, 0x3, u32(1));
        await expect(failing).rejects.toMatchObject({ code: 'E_FETCH' });
        await expect(failing).rejects.toBeInstanceOf(ScmiTransportError);
        expect(channel.txDone.count).toBe(before + 1);
        expect(channel.txDone.lastError).toBeInstanceOf(ScmiTransportError);
        channel.fetchResponse = fetch;
        expect(readU32(await agent.transact(0x14, 0x3, u32(2)), 0)).toBe(2);
        const stats = a2pStats(agent);
        expect(stats?.failed).toBe(1);
        expect(stats?.completed).toBeGreaterThan(0);
        await agent.remove();
      },
    );
  });

  describe('a transport whose send rejects after shutdown', () => {
    it('should count the failed transfer once', async () => {
      const h = createHarness();
      const agent = await h.create();
      const channel = h.wire.channels.get('a2p:0');
      if (channel === undefined) throw new Error('no a2p:0');
      let reject: ((error: Error) => void) | undefined;
      channel.send = (): Promise<void> =>
        new Promise<void>((_resolve, rej) => {
          reject = rej;
        });
      const pending = agent.transact(0x14, 0x3, u32(1));
      const outcome = pending.catch((error: unknown) => error);
      await h.clock.runUntilIdle();
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      expect(channel.counters.failed).toBe(1);
      reject?.(new Error('the doorbell went away'));
      await removing;
      expect(await outcome).toBeInstanceOf(Error);
      expect(channel.counters.failed).toBe(1);
    });
  });

  describe('bad messages', () => {
    it('should count unknown tokens, duplicates, wrong types, bad headers and wrong protocols, never crash', async () => {
      const h = createHarness();
      const agent = await h.create();
      const header = (msg: number, type: number, proto: number, token: number): number =>
        (msg | (type << 8) | (proto << 10) | (token << 18)) >>> 0;
      const resp = (hdr: number, status = 0): Uint8Array => {
        const b = new Uint8Array(8);
        const v = new DataView(b.buffer);
        v.setUint32(0, hdr, true);
        v.setInt32(4, status, true);
        return b;
      };
      h.platform.respond(1, 0, resp(header(3, 0, 0x14, 999))); // unknown token
      h.platform.respond(1, 0, resp(0xf0000000)); // reserved bits
      h.platform.respond(1, 0, resp(header(3, 1, 0x14, 1))); // type 1
      h.platform.respond(1, 0, new Uint8Array(2)); // no header
      // Hold the reply of one transfer; deliver a copy with another protocol id, then the reply twice.
      const held: { bytes: Uint8Array; deliver: () => void }[] = [];
      h.wire.intercept = (d) => held.push(d);
      const p = agent.transact(0x14, 0x3, u32(1));
      while (held.length === 0) await h.clock.settle();
      h.wire.intercept = undefined;
      const reply = held[0] as { bytes: Uint8Array; deliver: () => void };
      const wrongProtocol = reply.bytes.slice();
      new DataView(wrongProtocol.buffer).setUint32(
        0,
        (readU32(reply.bytes, 0) & ~(0xff << 10)) | (0x15 << 10),
        true,
      );
      h.platform.respond(1, 0, wrongProtocol);
      await h.clock.settle();
      reply.deliver();
      reply.deliver();
      await p;
      await h.clock.runUntilIdle();
      const stats = agent.diagnostics.channels[0]?.stats;
      expect(stats?.badMessages).toMatchObject({ unexpected: 1, invalid: 4, unknown: 1 });
      await agent.remove();
    });

    it('should clamp and count a response longer than expected', async () => {
      const h = createHarness();
      const agent = await h.create();
      const r = await agent.transact(0x14, 0x3, new Uint8Array(12), { rxSize: 4 });
      expect(r.byteLength).toBe(4);
      expect(agent.diagnostics.channels[0]?.stats.badMessages.oversize).toBe(1);
      await agent.remove();
    });
  });

  describe('error statuses by channel', () => {
    it('should count responses and delayed responses that are not SUCCESS by status name, on the channel that carried them', async () => {
      const h = createHarness();
      const agent = await h.create();
      const stats = (direction: 'a2p' | 'p2a') =>
        agent.diagnostics.channels.find((c) => c.direction === direction)?.stats;
      expect(stats('a2p')?.errorStatuses).toEqual({});
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14) return undefined;
        if (req.messageId === 0x6) return { status: -1 }; // NOT_SUPPORTED
        if (req.messageId === 0x7) return { status: 0x7fffffff };
        if (req.messageId === 0x5) {
          h.platform.later(5, () => h.platform.delayedResponse(req, -6)); // BUSY
          return { status: 0 };
        }
        return undefined;
      };
      await expect(agent.transact(0x14, 0x6)).rejects.toMatchObject({ status: -1 });
      await expect(agent.transact(0x14, 0x6)).rejects.toMatchObject({ status: -1 });
      await expect(agent.transact(0x14, 0x7)).rejects.toMatchObject({ status: 0x7fffffff });
      await expect(agent.transact(0x14, 0x5, u32(1), { async: true })).rejects.toMatchObject({
        status: -6,
      });
      await agent.transact(0x14, 0x3);
      expect(stats('a2p')?.errorStatuses).toEqual({
        NOT_SUPPORTED: 2,
        'UNKNOWN(2147483647)': 1,
      });
      expect(stats('a2p')?.completed).toBe(
        (stats('a2p')?.sent ?? 0) - (stats('a2p')?.timeouts ?? 0) - (stats('a2p')?.failed ?? 0),
      );
      expect(stats('p2a')?.errorStatuses).toEqual({ BUSY: 1 });
      await agent.remove();
    });
  });

  describe('delayed responses', () => {
    it('should wait for the delayed response of an asynchronous command', async () => {
      const h = createHarness();
      const agent = await h.create();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x5) return undefined;
        h.platform.later(5, () => h.platform.delayedResponse(req, 0, u32(0xabc)));
        return { status: 0 };
      };
      const r = await agent.transact(0x14, 0x5, u32(1), { async: true });
      expect(readU32(r, 0)).toBe(0xabc);
      expect(
        agent.diagnostics.channels.find((c) => c.direction === 'p2a')?.stats.delayedResponses,
      ).toBe(1);
      await agent.remove();
    });

    it('should give the delayed response room for the max message size, whatever rxSize limited the response to (Linux)', async () => {
      const h = createHarness();
      const agent = await h.create();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x5) return undefined;
        h.platform.later(5, () =>
          h.platform.delayedResponse(req, 0, new Uint8Array([...u32(1), ...u32(2), ...u32(3)])),
        );
        return { status: 0 };
      };
      const r = await agent.transact(0x14, 0x5, u32(1), { async: true, rxSize: 4 });
      expect([readU32(r, 0), readU32(r, 4), readU32(r, 8)]).toEqual([1, 2, 3]);
      for (const c of agent.diagnostics.channels) expect(c.stats.badMessages.oversize).toBe(0);
      await agent.remove();
    });

    it('should accept a delayed response that overtakes its response (the response never comes)', async () => {
      const h = createHarness();
      const agent = await h.create();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x5) return undefined;
        h.platform.delayedResponse(req, 0, u32(0x55));
        return 'drop';
      };
      const p = agent.transact(0x14, 0x5, u32(1), { async: true });
      const r = await p;
      expect(readU32(r, 0)).toBe(0x55);
      await agent.remove();
    });

    it('should count the response that follows the delayed response which overtook it as overtaken, not bad, leaving the transfer as it was', async () => {
      const h = createHarness();
      const agent = await h.create();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x5) return undefined;
        h.platform.delayedResponse(req, 0, u32(0x55));
        return { status: 0, returns: u32(0x66) };
      };
      // The response leaves 5 ms after the delayed response.
      h.platform.delay = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x5 ? 5 : undefined;
      const a2p = (): ChannelStats | undefined => a2pStats(agent);
      const bad = (): number => badTotal(a2p());
      const ops = agent.xfer(0x14);
      const xfer = await ops.get(0x5, 4, 4);
      xfer.tx.set(u32(1));
      await ops.doWithResponse(xfer);
      expect([xfer.state, readU32(xfer.rx, 0)]).toEqual(['delayed-response', 0x55]);
      expect(a2p()?.overtakenResponses).toBe(0);
      await h.clock.advance(10); // the response arrives, its transfer still held
      expect([a2p()?.overtakenResponses, bad()]).toEqual([1, 0]);
      // Not read into the transfer: its buffer still holds the delayed response's values.
      expect([xfer.state, readU32(xfer.rx, 0)]).toEqual(['delayed-response', 0x55]);
      ops.put(xfer);
      await agent.remove();
    });

    it('should send a transfer again with a new token while the response its delayed response overtook is owed, and count that response when it comes', async () => {
      const h = createHarness();
      const agent = await h.create();
      let first = true;
      let owed = -1;
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x5 || !first) return undefined;
        first = false;
        h.platform.delayedResponse(req, 0, u32(0x55));
        return { status: 0, returns: u32(0x66) };
      };
      // The first command's response leaves 5 ms after its delayed response; the second is
      // answered at once (the fake platform echoes the payload).
      h.platform.delay = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x5 && req.token === owed ? 5 : undefined;
      const a2p = (): ChannelStats | undefined => a2pStats(agent);
      const bad = (): number => badTotal(a2p());
      const ops = agent.xfer(0x14);
      const xfer = await ops.get(0x5, 4, 4);
      owed = xfer.token;
      xfer.tx.set(u32(1));
      await ops.doWithResponse(xfer);
      expect(readU32(xfer.rx, 0)).toBe(0x55);
      // Sent again before its response came: with its old token, that response would complete
      // the new command (0x66 instead of the echo). It goes with a new token.
      xfer.tx.set(u32(7));
      await ops.do(xfer);
      expect(xfer.token).not.toBe(owed);
      expect(h.platform.requests.at(-1)?.token).toBe(xfer.token);
      expect(readU32(xfer.rx, 0)).toBe(7);
      expect(a2p()?.overtakenResponses).toBe(0);
      await h.clock.advance(10); // the first command's response, to the old token
      expect([a2p()?.overtakenResponses, bad(), a2p()?.lateReplies]).toEqual([1, 0, 0]);
      expect([xfer.state, readU32(xfer.rx, 0)]).toEqual(['response', 7]);
      ops.put(xfer);
      await agent.remove();
    });

    it('should count the response as late, not overtaken, when the delayed response that overtook it could not be read', async () => {
      const h = createHarness();
      const agent = await h.create();
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x5) return undefined;
        h.platform.delayedResponse(req, 0, u32(0x55));
        return { status: 0, returns: u32(0x66) };
      };
      h.platform.delay = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x5 ? 5 : undefined;
      const p2a = h.wire.channels.get('p2a:0');
      if (p2a === undefined) throw new Error('no p2a:0');
      p2a.fetchResponse = (): void => {
        throw new RangeError('hostile length');
      };
      // The delayed response overtakes the response, then fails to be read: the transfer failed.
      await expect(agent.transact(0x14, 0x5, u32(1), { async: true })).rejects.toMatchObject({
        code: 'E_FETCH',
      });
      await h.clock.advance(10);
      const a2p = a2pStats(agent);
      // Its token retired by the failure: the response that comes is late, as the transports count
      // one for a transfer that ended in a failure.
      expect([a2p?.lateReplies, a2p?.overtakenResponses]).toEqual([1, 0]);
      await agent.remove();
    });

    it('should not give a transfer sent again the token it owes a response for, even when the token sequence has come round to it', async () => {
      const h = createHarness();
      const agent = await h.create();
      let first = true;
      let owed = -1;
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x5 || !first) return undefined;
        first = false;
        h.platform.delayedResponse(req, 0, u32(0x55));
        return { status: 0, returns: u32(0x66) };
      };
      // The first command's response leaves 5 ms after its delayed response.
      h.platform.delay = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x5 && req.token === owed && !first
          ? 5
          : undefined;
      const a2p = (): ChannelStats | undefined => a2pStats(agent);
      const ops = agent.xfer(0x14);
      const xfer = await ops.get(0x5, 4, 4);
      owed = xfer.token;
      xfer.tx.set(u32(1));
      await ops.doWithResponse(xfer);
      // 1023 other commands take the shared sequence round to the token before the owed one.
      for (let i = 0; i < 1023; i++) await agent.transact(0x10, 0x0);
      xfer.tx.set(u32(7));
      await ops.do(xfer);
      expect(xfer.token).not.toBe(owed);
      expect(readU32(xfer.rx, 0)).toBe(7); // its own answer, not the old command's 0x66
      await h.clock.advance(10);
      expect(a2p()?.overtakenResponses).toBe(1);
      expect(badTotal(a2p())).toBe(0);
      ops.put(xfer);
      await agent.remove();
    });

    it('should count an overtaken response that comes after its transfer was put back as overtaken, once; a stray reply with its token, or a second one, is unexpected', async () => {
      const h = createHarness();
      const agent = await h.create();
      let again: (() => void) | undefined;
      let stray: (() => void) | undefined;
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x5) return undefined;
        again = () => {
          h.platform.respond(
            req.agentId,
            req.channelId,
            encodeMsgResponse(req.header, 0, u32(0x66)),
          );
        };
        // A reply with the owed token to another message: not the response owed.
        stray = () => {
          h.platform.respond(
            req.agentId,
            req.channelId,
            encodeMsgResponse((req.header & ~0xff) | 0x6, 0, u32(0x66)),
          );
        };
        h.platform.delayedResponse(req, 0, u32(0x55));
        return { status: 0, returns: u32(0x66) };
      };
      h.platform.delay = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x5 ? 5 : undefined;
      const a2p = (): ChannelStats | undefined => a2pStats(agent);
      expect(readU32(await agent.transact(0x14, 0x5, u32(1), { async: true }), 0)).toBe(0x55);
      // A stray reply with the token does not pay the debt: it is unexpected.
      stray?.();
      await h.clock.advance(1);
      expect([a2p()?.overtakenResponses, a2p()?.badMessages.unexpected]).toEqual([0, 1]);
      // transact put its transfer back: the response finds no transfer, only its token's debt.
      await h.clock.advance(10);
      expect(a2p()?.overtakenResponses).toBe(1);
      expect(a2p()?.badMessages.unexpected).toBe(1);
      expect(a2p()?.lateReplies).toBe(0);
      // The same response again (a platform that answers twice) owes nothing: unexpected.
      expect(again).toBeDefined();
      again?.();
      await h.clock.advance(1);
      expect([a2p()?.overtakenResponses, a2p()?.badMessages.unexpected]).toEqual([1, 2]);
      await agent.remove();
    });

    it('should send a transfer again synchronously after its asynchronous use: no delayed response awaited, none taken, not failed at removal', async () => {
      const h = createHarness();
      const agent = await h.create();
      let sent = 0;
      h.platform.override = (req) => {
        if (req.protocolId !== 0x14 || req.messageId !== 0x5) return undefined;
        sent++;
        if (sent === 1) h.platform.later(5, () => h.platform.delayedResponse(req, 0, u32(1)));
        else h.platform.later(5, () => h.platform.delayedResponse(req, 0, u32(2))); // stray
        return { status: 0 };
      };
      const ops = agent.xfer(0x14);
      const xfer = await ops.get(0x5, 4, 4);
      xfer.tx.set(u32(1));
      await ops.doWithResponse(xfer);
      expect(readU32(xfer.rx, 0)).toBe(1);
      await ops.do(xfer); // the same command, now as a synchronous one
      await h.clock.advance(10); // a delayed response for it comes all the same
      expect(xfer.state).toBe('response');
      // Rejected as a delayed response for a synchronous command, counted.
      const p2a = agent.diagnostics.channels.find((c) => c.direction === 'p2a');
      expect(p2a?.stats.badMessages.invalid).toBe(1);
      expect(p2a?.stats.delayedResponses).toBe(1);
      await agent.remove();
      expect(xfer.state).toBe('response'); // not failed by the shutdown
    });

    it('should time out a missing delayed response with its own timeout', async () => {
      const h = createHarness();
      const agent = await h.create({ asyncTimeoutMs: 100 });
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x5 ? { status: 0 } : undefined;
      const err = await agent.transact(0x14, 0x5, u32(1), { async: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ScmiTimeoutError);
      expect((err as ScmiTimeoutError).phase).toBe('delayed-response');
      expect((err as ScmiTimeoutError).timeoutMs).toBe(100);
      await agent.remove();
    });

    it('should fail with the status of a failed response without waiting for a delayed response', async () => {
      const h = createHarness();
      const agent = await h.create();
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x5 ? { status: ScmiStatus.BUSY } : undefined;
      await expect(agent.transact(0x14, 0x5, u32(1), { async: true })).rejects.toMatchObject({
        status: ScmiStatus.BUSY,
      });
      await agent.remove();
    });
  });

  describe('notifications', () => {
    it('should deliver registered notifications in order per source, off the RX path', async () => {
      const h = createHarness();
      const agent = await h.create();
      const enabled: boolean[] = [];
      agent.events.register(0x14, [
        {
          id: 0,
          name: 'rate-changed',
          setNotifyEnabled: (_s, e) => void enabled.push(e) as unknown as Promise<void>,
        },
      ]);
      const got: number[] = [];
      const off = await agent.events.subscribe({ protocolId: 0x14, eventId: 0, source: 3 }, (n) => {
        got.push(readU32(n.payload, 8));
      });
      for (let i = 0; i < 5; i++)
        h.platform.notify(1, 0x14, 0, new Uint8Array([...u32(1), ...u32(3), ...u32(i)]));
      h.platform.notify(1, 0x14, 0, new Uint8Array([...u32(1), ...u32(4), ...u32(99)])); // other source
      h.platform.notify(1, 0x15, 0, u32(1)); // nobody registered
      await h.clock.runUntilIdle();
      expect(got).toEqual([0, 1, 2, 3, 4]);
      expect(
        agent.diagnostics.channels.find((c) => c.direction === 'p2a')?.stats.badMessages.unknown,
      ).toBe(1);
      await off();
      await off();
      expect(enabled).toEqual([true, false]);
      await agent.remove();
    });

    it('should disable, as the removal starts, an event a subscriber still holds, once, and let an unsubscribe called meanwhile resolve, sending nothing more', async () => {
      const h = createHarness();
      const agent = await h.create();
      const off = await agent.events.subscribe({ protocolId: 0x10, eventId: 0 }, () => undefined);
      const sent = h.platform.requests.length;
      const removing = agent.remove();
      await Promise.resolve();
      await expect(off()).resolves.toBeUndefined();
      await removing;
      // One BASE_NOTIFY_ERRORS(0), from the removal: firmware forgets a subscriber only when told.
      const after = h.platform.requests.slice(sent);
      expect(after.map((r) => [r.protocolId, r.messageId, [...r.payload]])).toEqual([
        [0x10, 0x8, [0, 0, 0, 0]],
      ]);
      expect(agent.diagnostics.notifications).toMatchObject({
        disabledAtRemoval: 1,
        disableFailures: 0,
      });
    });

    describe('when the agent is removed with events enabled', () => {
      /** An agent with event 0 of protocol 0x14 registered, recording each enable and disable. */
      async function withEvent(
        setNotify?: (source: number | undefined, enable: boolean) => Promise<void>,
      ) {
        const h = createHarness();
        const agent = await h.create();
        const calls: [number | undefined, boolean][] = [];
        agent.events.register(0x14, [
          {
            id: 0,
            name: 'rate-changed',
            setNotifyEnabled: async (source, enable) => {
              calls.push([source, enable]);
              await setNotify?.(source, enable);
            },
          },
        ]);
        return { h, agent, calls };
      }

      it('should disable each source with subscribers of its own, all at once', async () => {
        const { agent, calls } = await withEvent();
        await agent.events.subscribe({ protocolId: 0x14, eventId: 0, source: 3 }, () => undefined);
        await agent.events.subscribe({ protocolId: 0x14, eventId: 0, source: 5 }, () => undefined);
        await agent.events.subscribe({ protocolId: 0x14, eventId: 0, source: 5 }, () => undefined);
        calls.length = 0;
        await agent.remove();
        expect(calls).toEqual([
          [3, false],
          [5, false],
        ]);
        expect(agent.diagnostics.notifications.disabledAtRemoval).toBe(2);
      });

      it('should disable the event for every source once when it has an every-source subscriber', async () => {
        const { agent, calls } = await withEvent();
        await agent.events.subscribe({ protocolId: 0x14, eventId: 0, source: 3 }, () => undefined);
        await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => undefined);
        calls.length = 0;
        await agent.remove();
        expect(calls).toEqual([[undefined, false]]);
      });

      it('should send nothing for events whose subscribers all left', async () => {
        const { agent, calls } = await withEvent();
        const off = await agent.events.subscribe(
          { protocolId: 0x14, eventId: 0, source: 3 },
          () => undefined,
        );
        await off();
        calls.length = 0;
        await agent.remove();
        expect(calls).toEqual([]);
        expect(agent.diagnostics.notifications.disabledAtRemoval).toBe(0);
      });

      it('should count a disable that fails and go on with the removal', async () => {
        const { agent, calls } = await withEvent((_source, enable) =>
          enable
            ? Promise.resolve()
            : Promise.reject(new ScmiTransportError('E_TEST', 'the disable did not go through')),
        );
        await agent.events.subscribe({ protocolId: 0x14, eventId: 0, source: 3 }, () => undefined);
        await expect(agent.remove()).resolves.toBeUndefined();
        expect(calls.at(-1)).toEqual([3, false]);
        expect(agent.diagnostics.notifications).toMatchObject({
          disabledAtRemoval: 1,
          disableFailures: 1,
        });
        expect(agent.devres).toBeUndefined(); // torn down all the same
      });

      it('should disable, after it, an event whose enable was under way when the removal started', async () => {
        let answer: (() => void) | undefined;
        const { agent, calls } = await withEvent(async (_source, enable) => {
          if (enable) await new Promise<void>((resolve) => (answer = resolve));
        });
        const subscribing = agent.events.subscribe(
          { protocolId: 0x14, eventId: 0, source: 7 },
          () => undefined,
        );
        await Promise.resolve();
        const removing = agent.remove();
        // A subscribe after the removal started is refused; the one under way goes on.
        await expect(
          agent.events.subscribe({ protocolId: 0x14, eventId: 1 }, () => undefined),
        ).rejects.toMatchObject({ code: 'E_SHUTDOWN' });
        expect(calls).toEqual([[7, true]]);
        answer?.();
        // Its enable went through, but it did not subscribe: no handler is called on a removed
        // agent. The removal disables what it enabled.
        await expect(subscribing).rejects.toMatchObject({ code: 'E_SHUTDOWN' });
        await removing;
        expect(calls).toEqual([
          [7, true],
          [7, false],
        ]);
      });

      it.each([
        ['its disable never settles', 'disable', 1],
        ['an enable of it under way never settles', 'enable', 0],
      ] as const)(
        'should give up on an event after three times the RX timeout when %s',
        async (_what, hangs, sent) => {
          const h = createHarness();
          const agent = await h.create({ rxTimeoutMs: 30 });
          agent.events.register(0x14, [
            {
              id: 0,
              name: 'hangs',
              setNotifyEnabled: (_source, enable) =>
                enable === (hangs === 'enable')
                  ? new Promise<void>(() => undefined)
                  : Promise.resolve(),
            },
          ]);
          const subscribing = agent.events.subscribe(
            { protocolId: 0x14, eventId: 0, source: 2 },
            () => undefined,
          );
          // An enable that hangs is still under way when the removal starts.
          if (hangs === 'disable') await subscribing;
          else await Promise.resolve();
          const start = h.clock.now();
          const removing = agent.remove();
          await h.clock.runUntilIdle();
          await removing;
          expect(h.clock.now() - start).toBe(90);
          expect(agent.diagnostics.notifications).toMatchObject({
            disabledAtRemoval: sent,
            disableFailures: 1,
          });
          expect(h.clock.armedTimers).toBe(0);
        },
      );

      it('should disable an event whose last unsubscribe was still waiting for its turn when the removal started', async () => {
        const { agent, calls } = await withEvent();
        const off = await agent.events.subscribe(
          { protocolId: 0x14, eventId: 0, source: 3 },
          () => undefined,
        );
        calls.length = 0;
        const leaving = off(); // its turn has not run yet
        await agent.remove();
        await leaving;
        expect(calls).toEqual([[3, false]]);
        expect(agent.diagnostics.notifications).toMatchObject({
          disabledAtRemoval: 1,
          disableFailures: 0,
        });
      });

      /**
       * Registers event 0 of protocols 0x14 and 0x15, each enable or disable a command (0x9:
       * source, enable) the platform answers; records each call in the array it returns.
       */
      function registerNotifyCommands(agent: ScmiAgent): [number, number | undefined, boolean][] {
        const calls: [number, number | undefined, boolean][] = [];
        for (const protocolId of [0x14, 0x15]) {
          agent.events.register(protocolId, [
            {
              id: 0,
              name: 'event',
              setNotifyEnabled: async (source, enable) => {
                calls.push([protocolId, source, enable]);
                await agent.transact(protocolId, 0x9, (w) => w.u32(source ?? 0).u32(+enable), {
                  txSize: 8,
                });
              },
            },
          ]);
        }
        return calls;
      }

      it('should wait one timeout, not one per event, for a platform that answers no disable', async () => {
        const h = createHarness();
        const agent = await h.create({ rxTimeoutMs: 30 });
        registerNotifyCommands(agent);
        for (const protocolId of [0x14, 0x15])
          await agent.events.subscribe({ protocolId, eventId: 0, source: 1 }, () => undefined);
        h.platform.override = (req) => (req.messageId === 0x9 ? 'drop' : undefined);
        const start = h.clock.now();
        const removing = agent.remove();
        await h.clock.runUntilIdle();
        await removing;
        expect(h.clock.now() - start).toBe(30);
        expect(agent.diagnostics.notifications).toMatchObject({
          disabledAtRemoval: 2,
          disableFailures: 2,
        });
      });

      it('should disable every source of a platform that answers each in time, however long they queue behind each other', async () => {
        const h = createHarness();
        // One transfer: the sixteen disables go out one after another, 20 ms each (the RX timeout
        // is 30 ms, the removal's bound 90 ms): 320 ms in all, and none given up.
        const agent = await h.create({ rxTimeoutMs: 30, maxMsg: 1 });
        registerNotifyCommands(agent);
        for (let source = 0; source < 8; source++) {
          for (const protocolId of [0x14, 0x15])
            await agent.events.subscribe({ protocolId, eventId: 0, source }, () => undefined);
        }
        h.platform.delay = (req) => (req.messageId === 0x9 ? 20 : undefined);
        const sent = h.platform.requests.length;
        const start = h.clock.now();
        const removing = agent.remove();
        await h.clock.runUntilIdle();
        await removing;
        const disables = h.platform.requests
          .slice(sent)
          .filter((r) => r.messageId === 0x9)
          .map(
            (r) => `${r.protocolId.toString(16)}:${readU32(r.payload, 0)}:${readU32(r.payload, 4)}`,
          );
        expect(disables.sort()).toEqual(
          [0x14, 0x15]
            .flatMap((p) => [0, 1, 2, 3, 4, 5, 6, 7].map((s) => `${p.toString(16)}:${s}:0`))
            .sort(),
        );
        expect(h.clock.now() - start).toBe(320);
        expect(agent.diagnostics.notifications).toMatchObject({
          disabledAtRemoval: 16,
          disableFailures: 0,
        });
        expect(h.clock.armedTimers).toBe(0);
      });

      it('should send nothing and start the teardown at once when told not to disable (a platform known to be gone)', async () => {
        const h = createHarness();
        const agent = await h.create({ rxTimeoutMs: 30 });
        const calls = registerNotifyCommands(agent);
        await agent.events.subscribe({ protocolId: 0x14, eventId: 0, source: 1 }, () => undefined);
        await agent.events.subscribe({ protocolId: 0x14, eventId: 0, source: 2 }, () => undefined);
        await agent.events.subscribe({ protocolId: 0x15, eventId: 0, source: 4 }, () => undefined);
        await agent.events.subscribe({ protocolId: 0x15, eventId: 0 }, () => undefined);
        h.platform.override = () => 'drop'; // the platform is gone
        calls.length = 0;
        const sent = h.platform.requests.length;
        const start = h.clock.now();
        const removing = agent.remove({ disableNotifications: false });
        // Later calls get the first call's removal, whatever their options (null from JavaScript).
        expect(agent.remove()).toBe(removing);
        expect(agent.remove(null as unknown as undefined)).toBe(removing);
        // The teardown began at once: the agent is revoked already.
        await expect(
          agent.events.subscribe({ protocolId: 0x14, eventId: 0, source: 3 }, () => undefined),
        ).rejects.toThrow(RevokedError); // a rejection, never a synchronous throw
        await h.clock.runUntilIdle();
        await removing;
        expect(h.clock.now() - start).toBe(0);
        expect(calls).toEqual([]);
        expect(h.platform.requests.length).toBe(sent);
        expect(agent.diagnostics.notifications).toMatchObject({
          disabledAtRemoval: 0,
          disableFailures: 0,
          // 0x14 for sources 1 and 2, 0x15 for every source.
          leftEnabledAtRemoval: 3,
        });
        expect(agent.devres).toBeUndefined();
      });
    });

    it('should enable an event once for two subscriptions made at once, and disable it only when both left', async () => {
      const h = createHarness();
      const agent = await h.create();
      const enabled: boolean[] = [];
      agent.events.register(0x14, [
        {
          id: 0,
          name: 'rate-changed',
          // The platform round trip each takes: the second subscribe arrives during the first's.
          setNotifyEnabled: async (_s, e) => {
            await h.clock.settle();
            enabled.push(e);
          },
        },
      ]);
      const filter = { protocolId: 0x14, eventId: 0, source: 3 };
      const [off1, off2] = await Promise.all([
        agent.events.subscribe(filter, () => undefined),
        agent.events.subscribe(filter, () => undefined),
      ]);
      expect(enabled).toEqual([true]);
      await off1();
      expect(enabled).toEqual([true]); // the other subscription still wants it
      await off2();
      expect(enabled).toEqual([true, false]);
      await agent.remove();
    });

    it('should drop and count notifications beyond the queue depth', async () => {
      const h = createHarness();
      const agent = await h.create({ notificationQueueDepth: 4 });
      agent.events.register(0x14, [{ id: 0, name: 'e' }]);
      let n = 0;
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => {
        n++;
      });
      // A storm delivered in one task: the queue fills before delivery runs.
      h.wire.intercept = (d) => d.deliver();
      for (let i = 0; i < 10; i++) h.platform.notify(1, 0x14, 0, new Uint8Array(8));
      h.wire.intercept = undefined;
      await h.clock.runUntilIdle();
      expect(n).toBe(4);
      expect(agent.diagnostics.notifications.dropped).toBe(6);
      await agent.remove();
    });

    it('should call no handler once the removal started: a handler that removes the agent is the last one called', async () => {
      const h = createHarness();
      const agent = await h.create({ notificationQueueDepth: 8 });
      agent.events.register(0x14, [{ id: 0, name: 'e' }]);
      const calls: boolean[] = [];
      let removing: Promise<void> | undefined;
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => {
        calls.push(agent.removed);
        removing ??= agent.remove();
      });
      // Three queued before delivery runs: the first handler removes the agent.
      h.wire.intercept = (d) => d.deliver();
      for (let i = 0; i < 3; i++) h.platform.notify(1, 0x14, 0, new Uint8Array(8));
      h.wire.intercept = undefined;
      await h.clock.runUntilIdle();
      await removing;
      expect(calls).toEqual([false]);
      expect(agent.diagnostics.notifications).toMatchObject({ delivered: 1, discarded: 2 });
    });

    it('should call no other subscriber of the same notification once a handler started the removal', async () => {
      const h = createHarness();
      const agent = await h.create({ notificationQueueDepth: 8 });
      agent.events.register(0x14, [{ id: 0, name: 'e' }]);
      const calls: string[] = [];
      let removing: Promise<void> | undefined;
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => {
        calls.push(`first, removed ${String(agent.removed)}`);
        removing ??= agent.remove();
      });
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => {
        calls.push(`second, removed ${String(agent.removed)}`);
      });
      h.platform.notify(1, 0x14, 0, new Uint8Array(8));
      await h.clock.runUntilIdle();
      await removing;
      expect(calls).toEqual(['first, removed false']);
    });

    it('should refuse a handler that is not a function before enabling anything at the platform', async () => {
      const h = createHarness();
      const agent = await h.create();
      const sent = h.platform.requests.length;
      await expect(
        agent.events.subscribe({ protocolId: 0x10, eventId: 0 }, undefined as never),
      ).rejects.toMatchObject({ code: 'E_ARGUMENT', message: /handler must be a function/ });
      expect(h.platform.requests).toHaveLength(sent);
      await agent.remove();
    });

    it('should refuse subscriptions without a P2A channel, and send NOTIFY_ERRORS only on subscription', async () => {
      const h = createHarness({ descriptor: { p2a: false } });
      const agent = await h.create();
      expect(agent.events.available).toBe(false);
      await expect(
        agent.events.subscribe({ protocolId: 0x10, eventId: 0 }, () => undefined),
      ).rejects.toMatchObject({
        code: 'E_NOT_SUPPORTED',
      });
      expect(h.platform.requests.some((r) => r.protocolId === 0x10 && r.messageId === 0x8)).toBe(
        false,
      );
      await agent.remove();

      const h2 = createHarness();
      const agent2 = await h2.create();
      expect(h2.platform.requests.some((r) => r.protocolId === 0x10 && r.messageId === 0x8)).toBe(
        false,
      );
      const off = await agent2.events.subscribe({ protocolId: 0x10, eventId: 0 }, () => undefined);
      expect(
        h2.platform.requests
          .filter((r) => r.protocolId === 0x10 && r.messageId === 0x8)
          .map((r) => readU32(r.payload, 0)),
      ).toEqual([1]);
      await off();
      await agent2.remove();
    });

    it('should catch and count failing handlers', async () => {
      const h = createHarness();
      const agent = await h.create();
      agent.events.register(0x14, [{ id: 0, name: 'e' }]);
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => {
        throw new Error('handler');
      });
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () =>
        Promise.reject(new Error('async handler')),
      );
      // A promise of another realm (a vm context) is not `instanceof Promise` here.
      await agent.events.subscribe(
        { protocolId: 0x14, eventId: 0 },
        () => runInNewContext('Promise.reject(new Error("foreign"))') as Promise<void>,
      );
      h.platform.notify(1, 0x14, 0, new Uint8Array(8));
      await h.clock.runUntilIdle();
      expect(agent.diagnostics.notifications.handlerErrors).toBe(3);
      await agent.remove();
    });
  });

  describe('when a handler unsubscribes another during a delivery', () => {
    it('should not call the unsubscribed handler for that notification', async () => {
      const h = createHarness();
      const agent = await h.create();
      agent.events.register(0x14, [{ id: 0, name: 'e' }]);
      const calls: string[] = [];
      const off: { second?: () => Promise<void> } = {};
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => {
        calls.push('first');
        void off.second?.();
      });
      off.second = await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => {
        calls.push('second');
      });
      h.platform.notify(1, 0x14, 0, new Uint8Array(8));
      await h.clock.runUntilIdle();
      expect(calls).toEqual(['first']);
      await agent.remove();
    });
  });

  describe('when an event reads its source from a payload too short for it', () => {
    it('should count the notification, not deliver it, and go on delivering the next ones', async () => {
      const h = createHarness();
      const agent = await h.create();
      agent.events.register(0x14, [
        {
          id: 0,
          name: 'e',
          sourceOf: (payload) =>
            new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(4, true),
        },
      ]);
      const sources: (number | undefined)[] = [];
      await agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, (n) => {
        sources.push(n.source);
      });
      h.platform.notify(1, 0x14, 0, new Uint8Array(0));
      h.platform.notify(1, 0x14, 0, new Uint8Array([0, 0, 0, 0, 7, 0, 0, 0]));
      await h.clock.runUntilIdle();
      expect(sources).toEqual([7]);
      // Queued both; delivered the one whose source could be read.
      expect(agent.diagnostics.notifications).toMatchObject({
        queued: 2,
        delivered: 1,
        sourceErrors: 1,
        handlerErrors: 0,
      });
      await agent.remove();
    });
  });

  describe('when a notification payload has a size its event does not allow', () => {
    const p2aStats = (agent: ScmiAgent): ChannelStats | undefined =>
      agent.diagnostics.channels.find((c) => c.direction === 'p2a')?.stats;
    /**
     * Subscribes to event 0 of `protocolId`, has the platform send one notification of each
     * length in `lengths`, and resolves to the payload sizes the handler got.
     */
    const deliveredSizes = async (
      h: ReturnType<typeof createHarness>,
      agent: ScmiAgent,
      protocolId: number,
      lengths: readonly number[],
    ): Promise<number[]> => {
      const sizes: number[] = [];
      await agent.events.subscribe({ protocolId, eventId: 0 }, (n) => {
        sizes.push(n.payload.byteLength);
      });
      for (const length of lengths) h.platform.notify(1, protocolId, 0, new Uint8Array(length));
      await h.clock.runUntilIdle();
      return sizes;
    };

    it('should drop and count as invalid one shorter than minPayload or longer than maxPayload, and deliver the next', async () => {
      const h = createHarness();
      const agent = await h.create();
      agent.events.register(0x14, [{ id: 0, name: 'rate', minPayload: 16, maxPayload: 16 }]);
      expect(await deliveredSizes(h, agent, 0x14, [0, 12, 20, 16])).toEqual([16]);
      expect(p2aStats(agent)?.badMessages.invalid).toBe(3);
      expect(p2aStats(agent)?.notifications).toBe(1);
      expect(agent.diagnostics.notifications).toMatchObject({ queued: 1, delivered: 1 });
      await agent.remove();
    });

    it('should drop one longer than the max message size, counted oversize only, never delivered cut', async () => {
      const h = createHarness();
      const agent = await h.create();
      agent.events.register(0x14, [{ id: 0, name: 'any' }]);
      expect(await deliveredSizes(h, agent, 0x14, [500, 8])).toEqual([8]);
      expect(p2aStats(agent)?.badMessages.oversize).toBe(1);
      expect(p2aStats(agent)?.notifications).toBe(1);
      await agent.remove();
    });

    it('should hold BASE_ERROR_EVENT to its agent_id and error_status (8 bytes) at least', async () => {
      const h = createHarness();
      const agent = await h.create();
      expect(await deliveredSizes(h, agent, 0x10, [3, 8])).toEqual([8]);
      expect(p2aStats(agent)?.badMessages.invalid).toBe(1);
      await agent.remove();
    });

    it('should give BASE_ERROR_EVENT source 0, as Linux does, and decode it with decodeBaseErrorEvent', async () => {
      const h = createHarness();
      const agent = await h.create();
      const reports: BaseErrorReport[] = [];
      const sources: (number | undefined)[] = [];
      await agent.events.subscribe(
        { protocolId: 0x10, eventId: BASE_ERROR_EVENT, source: 0 },
        (n) => {
          sources.push(n.source);
          reports.push(decodeBaseErrorEvent(n.payload));
        },
      );
      // agent 1, fatal, two reports: 0x0000_0002_0000_0001 and 0xffff_ffff_8000_0000.
      const payload = u32s(1, 0x80000002, 1, 2, 0x80000000, 0xffffffff);
      h.platform.notify(1, 0x10, BASE_ERROR_EVENT, payload);
      await h.clock.runUntilIdle();
      expect(sources).toEqual([0]);
      expect(reports).toEqual([
        { agentId: 1, fatal: true, count: 2, reports: [0x2_0000_0001n, 0xffff_ffff_8000_0000n] },
      ]);
      await agent.remove();
    });

    it('should decode, as Linux does, only the BASE_ERROR_EVENT reports its payload holds', () => {
      expect(decodeBaseErrorEvent(u32s(3, 0))).toEqual({
        agentId: 3,
        fatal: false,
        count: 0,
        reports: [],
      });
      // Bits 30:10 are not the count: 0x400 counts 0 reports.
      expect(decodeBaseErrorEvent(u32s(3, 0x7ffffc00))).toMatchObject({ count: 0, reports: [] });
      // Announced 2, one and a half arrived: the whole one only.
      expect(decodeBaseErrorEvent(u32s(3, 2, 5, 0, 6))).toMatchObject({ count: 2, reports: [5n] });
      // Announced 1, two arrived: the one announced.
      expect(decodeBaseErrorEvent(u32s(3, 1, 5, 0, 6, 0))).toMatchObject({
        count: 1,
        reports: [5n],
      });
      expect(decodeBaseErrorEvent(u32s(3, 0x3ff))).toMatchObject({ count: 1023, reports: [] });
      for (const payload of [u32s(3), new Uint8Array(7)]) {
        expect(() => decodeBaseErrorEvent(payload)).toThrow(ScmiMalformedError);
        expect(() => decodeBaseErrorEvent(payload)).toThrow(/truncated/);
      }
    });

    it('should refuse a BASE_ERROR_EVENT subscription for a source other than 0, sending nothing (Linux num_sources 1)', async () => {
      const h = createHarness();
      const agent = await h.create();
      const sent = h.platform.requests.length;
      for (const source of [1, -1, 0.5]) {
        await expect(
          agent.events.subscribe(
            { protocolId: 0x10, eventId: BASE_ERROR_EVENT, source },
            () => undefined,
          ),
        ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      }
      expect(h.platform.requests.length).toBe(sent);
      await agent.remove();
    });

    it('should refuse a descriptor whose payload bounds are not integers 0 ≤ min ≤ max, registering nothing', async () => {
      const h = createHarness();
      const agent = await h.create();
      for (const bounds of [
        { minPayload: -1 },
        { minPayload: 1.5 },
        { maxPayload: Number.NaN },
        { minPayload: 8, maxPayload: 4 },
        { numSources: 0 },
        { numSources: 1.5 },
      ]) {
        let error: unknown;
        try {
          agent.events.register(0x14, [{ id: 0, name: 'e', ...bounds }]);
        } catch (e) {
          error = e;
        }
        expect(error).toMatchObject({ code: 'E_ARGUMENT' });
      }
      await expect(
        agent.events.subscribe({ protocolId: 0x14, eventId: 0 }, () => undefined),
      ).rejects.toMatchObject({ code: 'E_UNKNOWN_EVENT' });
      await agent.remove();
    });
  });

  describe('.remove', () => {
    it('should take null options from JavaScript as none', async () => {
      const h = createHarness();
      const agent = await h.create();
      await agent.events.subscribe(
        { protocolId: 0x10, eventId: BASE_ERROR_EVENT },
        () => undefined,
      );
      await agent.remove(null as unknown as undefined);
      expect(agent.diagnostics.notifications).toMatchObject({
        disabledAtRemoval: 1,
        leftEnabledAtRemoval: 0,
      });
      expect(agent.devres).toBeUndefined();
    });

    it('should refuse options it does not take, removing nothing, and remove with good ones after', async () => {
      const h = createHarness();
      const agent = await h.create();
      await agent.events.subscribe(
        { protocolId: 0x10, eventId: BASE_ERROR_EVENT },
        () => undefined,
      );
      for (const [options, message] of [
        [{ disableNotificatons: false }, 'unknown option "disableNotificatons"'],
        ['yes', 'options must be an object or left out, got string "yes"'],
        [42, 'options must be an object or left out, got number 42'],
        [{ disableNotifications: 'no' }, 'disableNotifications must be a boolean, got string "no"'],
      ] as const) {
        let removing: Promise<void> | undefined;
        expect(() => {
          removing = agent.remove(options as never);
        }).not.toThrow(); // a rejection, as every other failure of remove
        const e = await removing?.catch((error: unknown) => error);
        expect(e).toBeInstanceOf(ScmiError);
        expect(e).toMatchObject({
          code: 'E_ARGUMENT',
          message: expect.stringContaining(`scmi0: remove: ${message}`) as unknown,
        });
      }
      // Nothing was done: the agent is live, its subscription still enabled.
      await expect(agent.transact(0x10, 0x0)).resolves.toBeDefined();
      expect(agent.devres).toBeDefined();
      await agent.remove({ disableNotifications: false });
      expect(agent.diagnostics.notifications).toMatchObject({
        disabledAtRemoval: 0,
        leftEnabledAtRemoval: 1,
      });
    });

    it('should fail transfers in flight promptly with the shutdown error', async () => {
      const h = createHarness();
      const agent = await h.create();
      h.platform.override = (req) => (req.protocolId === 0x14 ? 'drop' : undefined);
      const inFlight = [agent.transact(0x14, 0x3, u32(1)), agent.transact(0x14, 0x3, u32(2))];
      await h.clock.settle();
      await agent.remove();
      for (const p of inFlight) await expect(p).rejects.toBeInstanceOf(ScmiShutdownError);
      expect(h.clock.armedTimers).toBe(0);
    });

    it('should fail callers waiting for a free transfer with the shutdown error', async () => {
      const h = createHarness();
      const agent = await h.create({ maxMsg: 1 });
      h.platform.override = (req) => (req.protocolId === 0x14 ? 'drop' : undefined);
      const first = agent.transact(0x14, 0x3, u32(1));
      const waiting = agent.transact(0x14, 0x3, u32(2));
      await h.clock.settle();
      expect(agent.diagnostics.pool).toEqual({ size: 1, inUse: 1, waiting: 1 });
      await agent.remove();
      await expect(first).rejects.toBeInstanceOf(ScmiShutdownError);
      await expect(waiting).rejects.toBeInstanceOf(ScmiShutdownError);
    });
  });

  describe('.remove, called again', () => {
    it('should give a later call the one removal, resolved, not E_NOT_BOUND', async () => {
      const h = createHarness();
      const agent = await h.create();
      const first = agent.remove();
      expect(agent.remove()).toBe(first);
      await first;
      expect(agent.devres).toBeUndefined();
      // The device's own remove() now says E_NOT_BOUND: the agent's gives the removal it did.
      await expect(agent.remove()).resolves.toBeUndefined();
      expect(agent.remove()).toBe(first);
    });
  });

  describe('protocol drivers', () => {
    interface EchoApi {
      echo(n: number): Promise<number>;
    }
    const echoDriver: ProtocolDriver<EchoApi> = {
      protocolId: 0x14,
      name: 'echo',
      version: 0x10000,
      init: (ph) => ({
        echo: async (n) => readU32(await ph.xfer.transact(0x3, u32(n)), 0),
      }),
    };

    it('should instantiate drivers for listed protocols in their own group, revoked at remove', async () => {
      const h = createHarness({
        drivers: [echoDriver, { ...echoDriver, protocolId: 0x30, name: 'unlisted' }],
      });
      const agent = await h.create();
      const echo = agent.protocol(echoDriver);
      expect(await echo.echo(42)).toBe(42);
      expect(agent.protocolIds).toEqual([0x14]);
      expect(() => agent.protocolApi(0x30)).toThrow(/no driver/);
      await agent.remove();
      await expect(echo.echo(1)).rejects.toBeInstanceOf(RevokedError);
    });

    it('should go on without a driver whose init fails, and record why', async () => {
      const failing: ProtocolDriver = {
        protocolId: 0x15,
        name: 'failing',
        version: 0x10000,
        init: () => {
          throw new ScmiTransportError('E_X', 'init failed');
        },
      };
      const h = createHarness({ drivers: [failing] });
      const agent = await h.create();
      expect(agent.protocolErrors.get(0x15)).toMatchObject({ code: 'E_X' });
      await agent.remove();
    });
  });
});
