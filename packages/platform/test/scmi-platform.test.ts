import {
  RealClock,
  ScmiConfigError,
  ScmiProtocolId,
  ScmiStatus,
  VirtualClock,
  buildHeader,
  encodeMsg,
} from '@scmi-ts/core';
import {
  BaseMessageId,
  ClockMessageId,
  PlatformError,
  ScmiPlatform,
  createDefaultPlatformConfig,
} from '@scmi-ts/platform';
import { FakeLink, Harness, command, decodeAnswer, defined } from './support/harness';

describe(ScmiPlatform, () => {
  describe('constructor', () => {
    it('should validate the configuration, the behaviour and the seed', () => {
      const clock = new VirtualClock();
      expect(
        () => new ScmiPlatform({ ...createDefaultPlatformConfig(), vendor: '' }, { clock }),
      ).toThrow(ScmiConfigError);
      expect(
        () =>
          new ScmiPlatform(createDefaultPlatformConfig(), {
            clock,
            behaviour: { asyncLatencyMs: -1 },
          }),
      ).toThrow(expect.objectContaining({ field: 'behaviour.asyncLatencyMs' }) as Error);
      expect(() => new ScmiPlatform(createDefaultPlatformConfig(), { clock, seed: 1.5 })).toThrow(
        expect.objectContaining({ field: 'seed' }) as Error,
      );
    });

    it('should refuse a misspelt behaviour option, like the configuration does', () => {
      let error: unknown;
      try {
        new ScmiPlatform(createDefaultPlatformConfig(), {
          clock: new VirtualClock(),
          behaviour: { unknownMesage: 'not-supported' } as never,
        });
      } catch (e) {
        error = e;
      }
      expect(ScmiConfigError.is(error)).toBe(true);
      expect((error as ScmiConfigError).field).toBe('behaviour.unknownMesage');
    });

    it.each([
      [undefined, 'options'],
      [null, 'options'],
      [5, 'options'],
      [[], 'options'],
      [{}, 'clock'],
      [{ clock: 'x' }, 'clock'],
      [{ clock: null }, 'clock'],
      [{ clock: { now: (): number => 0 } }, 'clock'],
      [{ clock: new VirtualClock(), faults: {} }, 'faults'],
      [{ clock: new VirtualClock(), faults: null }, 'faults'],
      [{ clock: new VirtualClock(), faults: 'drop' }, 'faults'],
      // eslint-disable-next-line no-sparse-arrays
      [{ clock: new VirtualClock(), faults: [, { action: { kind: 'drop' } }] }, 'faults[0]'],
      [{ clock: new VirtualClock(), seed: null }, 'seed'],
      [{ clock: new VirtualClock(), seed: '1' }, 'seed'],
      [{ clock: new VirtualClock(), behaviour: null }, 'behaviour'],
      // Misspelt options are refused, as the configuration's and the behaviour's fields are.
      [{ clock: new VirtualClock(), behavior: { unknownMessage: 'not-supported' } }, 'behavior'],
      [{ clock: new VirtualClock(), fault: [] }, 'fault'],
      [{ clock: new VirtualClock(), seeds: 2 }, 'seeds'],
    ])('should refuse the options %p, naming %s', (options, field) => {
      let error: unknown;
      try {
        new ScmiPlatform(createDefaultPlatformConfig(), options as never).close();
      } catch (e) {
        error = e;
      }
      expect(ScmiConfigError.is(error)).toBe(true);
      expect((error as ScmiConfigError).field).toBe(field);
    });

    it('should name the fault rule that is refused, and take every rule or none', () => {
      const clock = new VirtualClock();
      const faults = [
        { id: 'a', action: { kind: 'drop' } },
        { id: 'b', action: { kind: 'nope' } },
      ] as const;
      expect(
        () => new ScmiPlatform(createDefaultPlatformConfig(), { clock, faults } as never),
      ).toThrow(
        expect.objectContaining({
          code: 'E_FAULT_RULE',
          message: expect.stringMatching(/^faults\[1\]: invalid fault rule/) as string,
        }) as Error,
      );
      const twice = [
        { id: 'a', action: { kind: 'drop' } },
        { id: 'a', action: { kind: 'drop' } },
      ] as const;
      expect(
        () => new ScmiPlatform(createDefaultPlatformConfig(), { clock, faults: twice }),
      ).toThrow(expect.objectContaining({ code: 'E_FAULT_RULE' }) as Error);
      expect(clock.armedTimers + clock.pendingTasks).toBe(0);
    });

    it('should neither change nor keep its options', () => {
      const rule = { match: { protocolId: 0x10 }, action: { kind: 'drop' as const } };
      const options = Object.freeze({ clock: new VirtualClock(), faults: Object.freeze([rule]) });
      const p = new ScmiPlatform(createDefaultPlatformConfig(), options);
      rule.match.protocolId = 0x11;
      expect(p.faults.rules).toEqual([{ id: 'rule-1', ...rule, match: { protocolId: 0x10 } }]);
      const q = new ScmiPlatform(createDefaultPlatformConfig(), {
        clock: new VirtualClock(),
        behaviour: undefined,
        faults: undefined,
        seed: undefined,
      } as never);
      expect(q.behaviour).toEqual(p.behaviour);
      p.close();
      q.close();
    });

    it('should add the fault rules of the options', () => {
      const h = new Harness(createDefaultPlatformConfig(), {
        faults: [{ id: 'x', action: { kind: 'drop' } }],
      });
      expect(h.platform.faults.rules.map((r) => r.id)).toEqual(['x']);
      h.close();
    });

    it('should accept plain JSON data', () => {
      const json = JSON.parse(JSON.stringify(createDefaultPlatformConfig())) as unknown;
      const p = new ScmiPlatform(json as ReturnType<typeof createDefaultPlatformConfig>, {
        clock: new RealClock(),
      });
      expect(p.config.vendor).toBe('scmi-ts');
      expect(p.behaviour.unknownMessage).toBe('not-found');
      p.close();
    });
  });

  describe('.connect', () => {
    it('should refuse unknown agents, a second connection and connections after close', () => {
      const h = new Harness();
      h.connect(1);
      expect(() => h.platform.connect(9, new FakeLink())).toThrow(
        expect.objectContaining({ code: 'E_UNKNOWN_AGENT' }) as Error,
      );
      expect(() => h.platform.connect(1, new FakeLink())).toThrow(
        expect.objectContaining({ code: 'E_AGENT_CONNECTED' }) as Error,
      );
      h.close();
      let error: unknown;
      try {
        h.platform.connect(2, new FakeLink());
      } catch (e) {
        error = e;
      }
      expect(PlatformError.is(error)).toBe(true);
      expect(PlatformError.is(new Error('x'))).toBe(false);
      expect((error as PlatformError).code).toBe('E_CLOSED');
    });

    it('should let an agent reconnect after disconnect; a stale disconnect is a no-op', () => {
      const h = new Harness();
      h.connect(1);
      const first = h.connection(1);
      first.disconnect();
      first.disconnect();
      expect(h.platform.connectedAgents).toEqual([]);
      const second = h.platform.connect(1, new FakeLink());
      first.disconnect();
      expect(h.platform.connectedAgents).toEqual([1]);
      expect(second.agentId).toBe(1);
      h.close();
      expect(h.platform.connectedAgents).toEqual([]);
    });

    it('should tell a reconnection over the same link object from the old connection: no delayed response of the old one, no disconnect by its stale handle', async () => {
      const h = new Harness();
      const link = new FakeLink();
      const first = h.platform.connect(1, link);
      // An asynchronous CLOCK_RATE_SET (clock 1, 48 MHz, token 7): answered now, its delayed
      // response due later — for this connection only.
      const immediate = decodeAnswer(
        defined(h.platform.handle(1, 0, command(ScmiProtocolId.CLOCK, 0x5, 7, [1, 1, 48e6, 0]))),
      );
      expect(immediate.status).toBe(ScmiStatus.SUCCESS);
      first.disconnect();
      const second = h.platform.connect(1, link); // the same link object, a new connection
      await h.clock.advance(1000);
      expect(link.posted).toEqual([]);
      expect(h.platform.counters.cancelledOnDisconnect).toBe(1);
      first.disconnect(); // stale: leaves the new connection alone
      expect(h.platform.connectedAgents).toEqual([1]);
      second.disconnect();
      expect(h.platform.connectedAgents).toEqual([]);
      h.close();
    });
  });

  describe('.handle', () => {
    let h: Harness;
    beforeEach(() => {
      h = new Harness();
      h.connect(1);
    });
    afterEach(() => {
      h.close();
    });

    it('should echo the command header in the response', () => {
      const request = command(ScmiProtocolId.BASE, BaseMessageId.DISCOVER_VENDOR, 513);
      const response = defined(h.platform.handle(1, 0, request));
      expect(Array.from(response.subarray(0, 4))).toEqual(Array.from(request.subarray(0, 4)));
      expect(decodeAnswer(response).token).toBe(513);
      expect(h.platform.counters).toMatchObject({ requests: 1, responses: 1 });
    });

    it('should drop, without throwing, requests shorter than a header or with a bad header', () => {
      const reserved = command(0x10, 0, 1);
      reserved[3] = 0x10;
      const type1 = encodeMsg(buildHeader(0, 1, 0x10, 1));
      const delayed = encodeMsg(buildHeader(0, 2, 0x10, 1));
      const notification = encodeMsg(buildHeader(0, 3, 0x10, 1));
      for (const bytes of [
        new Uint8Array(0),
        new Uint8Array(3),
        reserved,
        type1,
        delayed,
        notification,
      ]) {
        expect(h.platform.handle(1, 0, bytes)).toBeUndefined();
      }
      expect(h.platform.counters).toMatchObject({ droppedRequests: 6, requests: 0 });
    });

    it('should drop requests from agents that are not connected, and after close', () => {
      expect(h.platform.handle(2, 0, command(0x10, 0, 1))).toBeUndefined();
      expect(h.platform.handle(77, 0, command(0x10, 0, 1))).toBeUndefined();
      h.platform.close();
      expect(h.platform.closed).toBe(true);
      expect(h.platform.handle(1, 0, command(0x10, 0, 1))).toBeUndefined();
      expect(h.platform.counters.droppedRequests).toBe(3);
    });

    it('should answer NOT_SUPPORTED to an unknown protocol', () => {
      expect(h.call(0x99, 0x0).status).toBe(ScmiStatus.NOT_SUPPORTED);
      expect(h.call(ScmiProtocolId.POWERCAP, 0x0).status).toBe(ScmiStatus.NOT_SUPPORTED);
    });

    it('should answer NOT_FOUND to an unknown message id by default', () => {
      expect(h.call(ScmiProtocolId.CLOCK, 0x42).status).toBe(ScmiStatus.NOT_FOUND);
      expect(h.call(ScmiProtocolId.BASE, 0x11).status).toBe(ScmiStatus.NOT_FOUND);
    });

    it('should return only the status on error', () => {
      const a = h.call(ScmiProtocolId.CLOCK, ClockMessageId.RATE_GET, [99]);
      expect(a.status).toBe(ScmiStatus.NOT_FOUND);
      expect(a.bytes.byteLength).toBe(8);
    });

    it('should answer PROTOCOL_ERROR to a truncated or oversized payload', () => {
      expect(h.call(ScmiProtocolId.CLOCK, ClockMessageId.RATE_GET, new Uint8Array(3)).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
      expect(h.call(ScmiProtocolId.CLOCK, ClockMessageId.RATE_GET, [0, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });
  });

  describe('NEGOTIATE_PROTOCOL_VERSION', () => {
    const NEGOTIATE = 0x10;
    const protocols = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16];
    let h: Harness;
    beforeEach(() => {
      h = new Harness();
      h.connect(1);
      h.connect(2);
    });
    afterEach(() => {
      h.close();
    });

    const version = (protocolId: number, agentId = 1): number =>
      defined(h.call(protocolId, 0x0, [], agentId).words[0]);

    it('should be implemented by every protocol', () => {
      for (const p of protocols) {
        expect(h.call(p, 0x2, [NEGOTIATE])).toMatchObject({ status: 0, words: [0] });
      }
    });

    /** PROTOCOL_VERSION of a SCMI v3.2 platform (Performance at its default 3.0). */
    const V3_2: Record<number, number> = {
      [ScmiProtocolId.BASE]: 0x20001,
      [ScmiProtocolId.POWER]: 0x30001,
      [ScmiProtocolId.SYSTEM]: 0x20001,
      [ScmiProtocolId.PERF]: 0x30000,
      [ScmiProtocolId.CLOCK]: 0x30000,
      [ScmiProtocolId.SENSOR]: 0x30001,
      [ScmiProtocolId.RESET]: 0x30001,
    };
    /** The protocols whose SCMI v3.2 minor (x.1) only adds NEGOTIATE_PROTOCOL_VERSION. */
    const minorOne: number[] = [
      ScmiProtocolId.BASE,
      ScmiProtocolId.POWER,
      ScmiProtocolId.SYSTEM,
      ScmiProtocolId.SENSOR,
      ScmiProtocolId.RESET,
    ];

    it('should report the SCMI v3.2 versions (Linux negotiates none of them down)', () => {
      expect(Object.fromEntries(protocols.map((p) => [p, version(p)]))).toEqual(V3_2);
    });

    it('should accept minor 0 of a v3.2 minor 1 and answer it to that agent only', () => {
      for (const p of minorOne) {
        const own = defined(V3_2[p]);
        expect(h.call(p, NEGOTIATE, [own - 1]).status).toBe(ScmiStatus.SUCCESS);
        expect(version(p)).toBe(own - 1);
      }
      // Agent 2 (which may use Base, Power and System power of them) still gets the newest.
      for (const p of [ScmiProtocolId.BASE, ScmiProtocolId.POWER, ScmiProtocolId.SYSTEM]) {
        expect(version(p, 2)).toBe(V3_2[p]);
      }
    });

    it('should report the SCMI v3.1 versions without version negotiation, not a minor 1', () => {
      const old = new Harness(createDefaultPlatformConfig(), {
        behaviour: { versionNegotiation: false },
      });
      old.connect(1);
      const reported = protocols.map((p) => defined(old.call(p, 0x0).words[0]));
      const v3_1 = (p: number): number => defined(V3_2[p]) - (minorOne.includes(p) ? 1 : 0);
      expect(reported).toEqual(protocols.map(v3_1));
      old.close();
    });

    it('should accept the version the platform speaks, and keep answering it', () => {
      for (const p of protocols) {
        const own = version(p);
        expect(h.call(p, NEGOTIATE, [own]).status).toBe(ScmiStatus.SUCCESS);
        expect(version(p)).toBe(own);
      }
    });

    it('should answer NOT_SUPPORTED to a newer minor, another major, or an older major it does not speak', () => {
      for (const p of protocols) {
        const own = version(p);
        for (const v of [own + 1, own + 0x10000, 0, 0xffffffff]) {
          expect(h.call(p, NEGOTIATE, [v]).status).toBe(ScmiStatus.NOT_SUPPORTED);
        }
        expect(version(p)).toBe(own);
      }
      expect(h.call(ScmiProtocolId.CLOCK, NEGOTIATE, [0x20000]).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
    });

    it('should apply a negotiated version to the agent that chose it, until it disconnects', () => {
      expect(h.call(ScmiProtocolId.BASE, NEGOTIATE, [0x10000]).status).toBe(ScmiStatus.SUCCESS);
      expect(version(ScmiProtocolId.BASE)).toBe(0x10000);
      expect(version(ScmiProtocolId.BASE, 2)).toBe(0x20001);
      h.connection(1).disconnect();
      h.connect(1);
      expect(version(ScmiProtocolId.BASE)).toBe(0x20001);
    });

    it('should let the agent negotiate again, back to the newest version', () => {
      h.call(ScmiProtocolId.BASE, NEGOTIATE, [0x10000]);
      expect(h.call(ScmiProtocolId.BASE, NEGOTIATE, [0x20001]).status).toBe(ScmiStatus.SUCCESS);
      expect(version(ScmiProtocolId.BASE)).toBe(0x20001);
    });

    it('should answer PROTOCOL_ERROR without exactly one version word', () => {
      expect(h.call(ScmiProtocolId.CLOCK, NEGOTIATE).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.call(ScmiProtocolId.CLOCK, NEGOTIATE, [0x30000, 0]).status).toBe(
        ScmiStatus.PROTOCOL_ERROR,
      );
    });

    it('should hide the protocols an agent may not use', () => {
      expect(h.call(ScmiProtocolId.CLOCK, NEGOTIATE, [0x30000], 2).status).toBe(
        ScmiStatus.NOT_SUPPORTED,
      );
    });

    it('should be an unknown message when versionNegotiation is off', () => {
      const old = new Harness(createDefaultPlatformConfig(), {
        behaviour: { versionNegotiation: false },
      });
      old.connect(1);
      expect(old.call(ScmiProtocolId.CLOCK, NEGOTIATE, [0x30000]).status).toBe(
        ScmiStatus.NOT_FOUND,
      );
      expect(old.call(ScmiProtocolId.CLOCK, 0x2, [NEGOTIATE]).status).toBe(ScmiStatus.NOT_FOUND);
      old.close();
    });
  });

  describe('behaviour switches', () => {
    it('should answer NOT_SUPPORTED to an unknown message id like OP-TEE', () => {
      const h = new Harness(createDefaultPlatformConfig(), {
        behaviour: { unknownMessage: 'not-supported' },
      });
      h.connect(1);
      expect(h.call(ScmiProtocolId.CLOCK, 0x42).status).toBe(ScmiStatus.NOT_SUPPORTED);
      // PROTOCOL_MESSAGE_ATTRIBUTES still says NOT_FOUND, as OP-TEE does.
      expect(h.call(ScmiProtocolId.CLOCK, 0x2, [0x42]).status).toBe(ScmiStatus.NOT_FOUND);
      h.close();
    });

    it('should answer a domain id past the last NOT_FOUND, or INVALID_PARAMETERS like OP-TEE', () => {
      const past = 0xffff;
      const commands: [string, number, number, number[]][] = [
        ['clock attributes', ScmiProtocolId.CLOCK, 0x3, [past]],
        ['clock rate get', ScmiProtocolId.CLOCK, 0x6, [past]],
        ['power state get', ScmiProtocolId.POWER, 0x5, [past]],
        ['power notify', ScmiProtocolId.POWER, 0x6, [past, 1]],
        ['performance level get', ScmiProtocolId.PERF, 0x8, [past]],
        ['sensor reading get', ScmiProtocolId.SENSOR, 0x6, [past, 0]],
        ['reset attributes', ScmiProtocolId.RESET, 0x3, [past]],
        ['reset', ScmiProtocolId.RESET, 0x4, [past, 0, 0]],
        ['voltage level get', ScmiProtocolId.VOLTAGE, 0x8, [past]],
      ];
      const statuses = (h: Harness): Record<string, number> =>
        Object.fromEntries(commands.map(([name, p, m, w]) => [name, h.call(p, m, w).status]));
      const spec = new Harness();
      spec.connect(1);
      const optee = new Harness(createDefaultPlatformConfig(), {
        behaviour: { unknownDomain: 'invalid-parameters' },
      });
      optee.connect(1);
      const all = (status: number): Record<string, number> =>
        Object.fromEntries(commands.map(([name]) => [name, status]));
      expect(statuses(spec)).toEqual(all(ScmiStatus.NOT_FOUND));
      expect(statuses(optee)).toEqual(all(ScmiStatus.INVALID_PARAMETERS));
      // The payload size is checked first, and a domain that exists is unaffected.
      expect(optee.call(ScmiProtocolId.CLOCK, 0x3, []).status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(optee.call(ScmiProtocolId.CLOCK, 0x3, [0]).status).toBe(ScmiStatus.SUCCESS);
      spec.close();
      optee.close();
    });

    it('should answer hidden protocols NOT_SUPPORTED by default and DENIED when asked', () => {
      const h = new Harness();
      h.connect(2);
      expect(h.call(ScmiProtocolId.CLOCK, 0x0, [], 2).status).toBe(ScmiStatus.NOT_SUPPORTED);
      h.close();
      const d = new Harness(createDefaultPlatformConfig(), {
        behaviour: { hiddenProtocol: 'denied' },
      });
      d.connect(2);
      expect(d.call(ScmiProtocolId.CLOCK, 0x0, [], 2).status).toBe(ScmiStatus.DENIED);
      expect(d.call(0x99, 0x0, [], 2).status).toBe(ScmiStatus.NOT_SUPPORTED);
      d.close();
    });
  });

  describe('.subscriptions and .snapshot', () => {
    it('should list subscriptions sorted, and none for unknown agents', () => {
      const h = new Harness();
      h.connect(1);
      h.call(ScmiProtocolId.CLOCK, ClockMessageId.RATE_NOTIFY, [1, 1]);
      h.call(ScmiProtocolId.BASE, BaseMessageId.NOTIFY_ERRORS, [1]);
      expect(h.platform.subscriptions(1)).toEqual([
        { protocolId: 0x10, notificationId: 0, domainId: 0 },
        { protocolId: 0x14, notificationId: 0, domainId: 1 },
      ]);
      expect(h.platform.subscriptions(42)).toEqual([]);
      h.connections.get(1)?.disconnect();
      expect(h.platform.subscriptions(1)).toEqual([]);
      h.close();
    });

    it('should report the initial device state', () => {
      const h = new Harness();
      const s = h.platform.snapshot();
      expect(s.powerDomains).toEqual([0, 0x40000000, 0]);
      expect(s.systemPower).toBe(3);
      expect(s.performanceDomains.map((p) => p.level)).toEqual([1_200_000, 200]);
      expect(s.clocks.map((c) => c.enabled)).toEqual([true, true, false, true]);
      expect(s.clocks[2]?.parent).toBe(0);
      expect(s.sensors.map((x) => x.enabled)).toEqual([true, true, true, true]);
      expect(s.resetDomains).toEqual([
        { asserted: false, resets: 0 },
        { asserted: false, resets: 0 },
        { asserted: false, resets: 0 },
      ]);
      h.close();
    });

    it('should report no system power when it is not configured', () => {
      const h = new Harness({
        vendor: 'v',
        subVendor: 's',
        implementationVersion: 0,
        agents: [{ id: 1, name: 'a', protocols: [] }],
      });
      expect(h.platform.snapshot().systemPower).toBeUndefined();
      h.close();
    });
  });

  describe('.close', () => {
    it('should cancel every timer and disconnect every agent, idempotently', () => {
      const h = new Harness(createDefaultPlatformConfig(), { behaviour: { asyncLatencyMs: 50 } });
      h.connect(1);
      h.call(ScmiProtocolId.CLOCK, ClockMessageId.RATE_SET, [1, 0, 300_000_000, 0]);
      h.call(ScmiProtocolId.SENSOR, 0x5, [2, 1, 1000, 0]);
      h.call(ScmiProtocolId.SENSOR, 0x4, [2, 1]);
      expect(h.platform.armedTimers).toBe(2);
      h.platform.close();
      h.platform.close();
      expect(h.platform.armedTimers).toBe(0);
      expect(h.clock.armedTimers).toBe(0);
      expect(h.platform.connectedAgents).toEqual([]);
    });
  });
});
