import {
  ScmiError,
  ScmiMalformedError,
  baseProtocolDriver,
  type ProtocolDriver,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness, type Harness } from './support/harness.js';

/** A driver for `protocolId` whose API is its protocol id. */
function idDriver(protocolId: number): ProtocolDriver<number> {
  return { protocolId, name: `id-${protocolId}`, version: 0x10000, init: () => protocolId };
}

/** What a JavaScript caller may pass where the types say otherwise. */
const loose = (value: unknown): never => value as never;

describe('a caller’s bad arguments to the agent and Base', () => {
  // Removes the test's agent before the leak check: jest runs afterEach hooks in declaration order.
  let h: Harness;
  let agent: ScmiAgent;
  const made: ScmiAgent[] = [];
  afterEach(async () => {
    for (const a of made.splice(0)) await a.remove();
  });
  ensureNoLeaksInSuite();

  /** Probes an agent with `harness`, removed after the test. */
  async function probe(harness: Harness): Promise<ScmiAgent> {
    const a = await harness.create();
    made.push(a);
    return a;
  }

  describe('Base flags', () => {
    beforeEach(async () => {
      h = createHarness();
      agent = await probe(h);
    });

    it('should refuse a notifyErrors enable, an allow or a resetPermissions that is not a boolean, sending nothing (a truthy "false" sent 1)', async () => {
      const before = h.platform.requests.length;
      const no = loose('false');
      for (const [call, name] of [
        [() => agent.base.notifyErrors(no), 'notifyErrors enable'],
        [() => agent.base.notifyErrors(loose(1)), 'notifyErrors enable'],
        [() => agent.base.setDevicePermissions(1, 0, no), 'setDevicePermissions allow'],
        [() => agent.base.setProtocolPermissions(1, 0, 0x14, no), 'setProtocolPermissions allow'],
        [
          () => agent.base.resetAgentConfiguration(1, no),
          'resetAgentConfiguration resetPermissions',
        ],
      ] as const) {
        const e = await call().catch((error: unknown) => error);
        expect(e).toBeInstanceOf(ScmiError);
        expect(e).toMatchObject({
          code: 'E_ARGUMENT',
          message: expect.stringContaining(name) as unknown,
        });
      }
      expect(h.platform.requests).toHaveLength(before);
      // true and false still go out as 1 and 0.
      // (The fake platform answers NOT_FOUND: what counts is what was sent.)
      await agent.base.setDevicePermissions(1, 0, false).catch(() => undefined);
      await agent.base.setDevicePermissions(1, 0, true).catch(() => undefined);
      expect(h.platform.requests.slice(before).map((r) => r.payload.at(8))).toEqual([0, 1]);
    });

    it('should name the type of an id that is not a number, keeping the range message for a number', async () => {
      const e = await agent.base.discoverAgent(loose(1n)).catch((error: unknown) => error);
      expect(e).toBeInstanceOf(ScmiMalformedError);
      expect(e).toMatchObject({
        code: 'E_FIELD_RANGE',
        message: 'agent id must be a number, got bigint 1n',
      });
      await expect(agent.base.discoverAgent(loose('1'))).rejects.toThrow(
        'agent id must be a number, got string "1"',
      );
      await expect(agent.base.discoverAgent(-1)).rejects.toThrow(
        'agent id -1 is not an integer from 0 to 0xFFFFFFFF',
      );
    });
  });

  describe('agent.protocol and agent.protocolApi', () => {
    it('should refuse, with a typed error and not a TypeError, a driver that is not a driver', async () => {
      h = createHarness();
      agent = await probe(h);
      for (const bad of [{}, null, undefined, 7, { protocolId: '0x14' }, { protocolId: 256 }]) {
        let thrown: unknown;
        try {
          agent.protocol(loose(bad));
        } catch (e) {
          thrown = e;
        }
        expect(thrown).toBeInstanceOf(ScmiError);
        expect(thrown).toMatchObject({ code: 'E_ARGUMENT', message: /protocol: .*driver/ });
      }
      expect(() => agent.protocolApi(loose(undefined))).toThrow(
        'scmi0: protocol: protocolId must be an integer from 0 to 255, got undefined',
      );
    });

    it('should say why there is no API: not listed by the platform, no driver bound, init failed, or Base', async () => {
      const failure = new Error('PROTOCOL_ATTRIBUTES refused');
      h = createHarness({
        drivers: [
          idDriver(0x13), // bound, not listed for this agent
          {
            protocolId: 0x15,
            name: 'broken',
            version: 0x10000,
            init: () => {
              throw failure;
            },
          },
        ],
      });
      h.platform.protocols = [0x14, 0x15];
      agent = await probe(h);
      const noProtocol = (id: number): ScmiError => {
        try {
          agent.protocolApi(id);
        } catch (e) {
          return e as ScmiError;
        }
        throw new Error(`protocol 0x${id.toString(16)} has an API`);
      };
      expect(noProtocol(0x13)).toMatchObject({
        code: 'E_NO_PROTOCOL',
        message:
          'scmi0: protocol perf is not listed by the platform for this agent (agent.info.protocols: clock, sensor), so no driver was initialized for it',
      });
      expect(noProtocol(0x14)).toMatchObject({
        code: 'E_NO_PROTOCOL',
        message:
          'scmi0: no driver for protocol clock is bound to PROTOCOL_DRIVER (the platform lists it)',
      });
      expect(noProtocol(0x15)).toMatchObject({
        code: 'E_NO_PROTOCOL',
        message:
          'scmi0: protocol sensor: its driver failed to initialize (PROTOCOL_ATTRIBUTES refused); see agent.protocolErrors',
        cause: failure,
      });
      expect(() => agent.protocol(baseProtocolDriver)).toThrow(/use agent\.base/);
    });
  });

  describe("a driver's messageNames", () => {
    /** A clock driver whose messages are named by `names`. */
    const named = (names: unknown): ProtocolDriver<number> => ({
      ...idDriver(0x14),
      messageNames: names as Readonly<Record<number, string>>,
    });

    it('should name the command in a timeout and in an error status, and keep only integer ids 0-255 with a string', async () => {
      enum ClockMessageId {
        RATE_GET = 0x6,
        CONFIG_SET = 0x7,
      }
      h = createHarness({
        drivers: [named({ ...ClockMessageId, 300: 'TOO_BIG', 1.5: 'HALF', 8: 42 })],
      });
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x7 ? { status: -3 } : undefined;
      h.platform.delay = (req) =>
        req.protocolId === 0x14 && req.messageId === 0x6 ? 1e6 : undefined;
      agent = await probe(h);
      const timeout = await agent.transact(0x14, 0x6).catch((e: unknown) => e);
      expect(timeout).toMatchObject({
        code: 'E_TIMEOUT',
        messageName: 'RATE_GET',
        message: expect.stringMatching(
          /^clock message 0x6 RATE_GET \(token \d+\): no response/,
        ) as unknown,
      });
      await expect(agent.transact(0x14, 0x7)).rejects.toMatchObject({
        messageName: 'CONFIG_SET',
        message: 'clock message 0x7 CONFIG_SET failed: DENIED (-3)',
      });
      // Only what the driver named: no name for the others, none for a value that is not a string.
      h.platform.override = (req) =>
        req.protocolId === 0x14 && req.messageId !== 0x0 ? { status: -1 } : undefined;
      await expect(agent.transact(0x14, 0x8)).rejects.toMatchObject({
        messageName: undefined,
        message: 'clock message 0x8 failed: NOT_SUPPORTED (-1)',
      });
      await expect(agent.transact(0x14, 0x2c)).rejects.toMatchObject({
        message: 'clock message 0x2c failed: NOT_SUPPORTED (-1)',
      });
    });

    it('should fail the protocol, with a typed error, for messageNames that are not an object', async () => {
      h = createHarness({ drivers: [named('RATE_GET')] });
      agent = await probe(h);
      expect(agent.protocolErrors.get(0x14)).toMatchObject({
        code: 'E_ARGUMENT',
        message:
          'scmi0: clock: the driver\'s messageNames must be an object, got string "RATE_GET"',
      });
    });
  });

  describe('agent.protocol, given what a JavaScript caller may write', () => {
    it('should take a driver written as a class with static fields, and say why a driver whose init threw something odd has no API', async () => {
      // A function with the fields (as a class with static ones is): only its protocolId is read
      // to find the API, which the bound driver built.
      const fnDriver = Object.assign(
        function clockDriver(): undefined {
          return undefined;
        },
        { protocolId: 0x14 },
      );
      const odd = Object.create(null) as unknown;
      h = createHarness({
        drivers: [
          loose({ ...idDriver(0x14), init: () => ({ kind: 'class-built' }) }),
          {
            protocolId: 0x15,
            name: 'odd',
            version: 0x10000,
            init: () => {
              throw odd;
            },
          },
        ],
      });
      h.platform.protocols = [0x14, 0x15];
      agent = await probe(h);
      expect(agent.protocol(loose(fnDriver))).toEqual({ kind: 'class-built' });
      let thrown: unknown;
      try {
        agent.protocolApi(0x15);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(ScmiError);
      expect(thrown).toMatchObject({
        code: 'E_NO_PROTOCOL',
        message: expect.stringMatching(/its driver failed to initialize \(\{\}\)/) as unknown,
      });
    });
  });

  describe('agent.transact and agent.events.subscribe', () => {
    beforeEach(async () => {
      h = createHarness();
      agent = await probe(h);
    });

    it('should reject transact options that are null with a typed error naming them, sending nothing', async () => {
      const before = h.platform.requests.length;
      let sent: Promise<Uint8Array> | undefined;
      expect(() => {
        sent = agent.transact(0x10, 0x0, undefined, loose(null));
      }).not.toThrow();
      const e = await sent?.catch((error: unknown) => error);
      expect(e).toBeInstanceOf(ScmiError);
      expect(e).toMatchObject({
        code: 'E_ARGUMENT',
        message: 'transact: options must be an object or left out, got null',
      });
      await expect(
        agent.xfer(0x10).transact(0x0, (w) => w.u32(0), loose(null)),
      ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(h.platform.requests).toHaveLength(before);
      expect(agent.diagnostics.pool.inUse).toBe(0);
    });

    it('should reject a misspelt transact option with a typed error naming it, sending nothing (not left at its default)', async () => {
      const before = h.platform.requests.length;
      for (const send of [
        () => agent.transact(0x10, 0x0, undefined, loose({ timeoutMS: 5 })),
        () => agent.xfer(0x10).transact(0x0, undefined, loose({ rxSize: 8, asnyc: true })),
      ]) {
        const e = await send().catch((error: unknown) => error);
        expect(e).toBeInstanceOf(ScmiError);
        expect(e).toMatchObject({
          code: 'E_ARGUMENT',
          message: expect.stringMatching(
            /^transact: unknown option "(timeoutMS|asnyc)" \(expected one of timeoutMs, signal, txSize, rxSize, async\)$/,
          ) as unknown,
        });
      }
      expect(h.platform.requests).toHaveLength(before);
      expect(agent.diagnostics.pool.inUse).toBe(0);
      // Keys it takes, given as undefined, and inherited enumerable ones, are not refused.
      const inherited = Object.create({ colour: 'red' }) as object;
      await expect(agent.transact(0x10, 0x0, undefined, loose(inherited))).resolves.toBeDefined();
      await expect(
        agent.transact(0x10, 0x0, undefined, loose({ timeoutMs: undefined, signal: undefined })),
      ).resolves.toBeDefined();
    });

    it('should name the type of a protocol or message id that is not a number, keeping the range message for an integer', async () => {
      for (const [send, message] of [
        [
          () => agent.transact(loose('0x14'), 0x6),
          'scmi0: protocol must be an integer 0…255, got string "0x14"',
        ],
        [
          () => agent.transact(0x114, 0x6),
          "scmi0: protocol 0x114 does not fit the header's 8 bits",
        ],
        [
          () => agent.transact(0x10, loose(1.5)),
          'scmi0: message must be an integer 0…255, got number 1.5',
        ],
        [
          () => agent.xfer(0x10).transact(0x100),
          "scmi0: message 0x100 does not fit the header's 8 bits",
        ],
      ] as const) {
        const e = await send().catch((error: unknown) => error);
        expect(e).toBeInstanceOf(ScmiMalformedError);
        expect(e).toMatchObject({ code: 'E_FIELD_RANGE', message });
      }
    });

    it('should reject a subscribe filter that is null, empty or misspelt with a typed error, sending nothing', async () => {
      const before = h.platform.requests.length;
      const handler = (): void => undefined;
      for (const [filter, message] of [
        [null, 'the filter must be an object, got null'],
        [{}, 'filter.protocolId must be an integer from 0 to 255, got undefined'],
        [{ protocolId: 0x10 }, 'filter.eventId must be an integer from 0 to 255, got undefined'],
        [
          { protocolId: 0x10, eventId: 0, sorce: 0 },
          'unknown filter key "sorce" (expected one of protocolId, eventId, source)',
        ],
      ] as const) {
        let subscribing: Promise<unknown> | undefined;
        expect(() => {
          subscribing = agent.events.subscribe(loose(filter), handler);
        }).not.toThrow();
        const e = await subscribing?.catch((error: unknown) => error);
        expect(e).toBeInstanceOf(ScmiError);
        expect(e).toMatchObject({ code: 'E_ARGUMENT', message: `scmi0: subscribe: ${message}` });
      }
      expect(h.platform.requests).toHaveLength(before);
    });

    it('should hand a subscribe its options: a signal that fires unsubscribes and disables the event', async () => {
      const stop = new AbortController();
      const seen: number[] = [];
      await agent.events.subscribe(
        { protocolId: 0x10, eventId: 0 },
        (n) => void seen.push(n.payload.length),
        { signal: stop.signal },
      );
      const notifyErrors = (): number[] =>
        h.platform.requests
          .filter((r) => r.protocolId === 0x10 && r.messageId === 0x8) // BASE_NOTIFY_ERRORS
          .map((r) => r.payload[0] ?? -1);
      expect(notifyErrors()).toEqual([1]);
      expect(h.platform.notify(1, 0x10, 0x0, new Uint8Array(8))).toBe(true);
      await h.clock.runUntilIdle();
      expect(seen).toEqual([8]);
      stop.abort();
      await h.clock.runUntilIdle();
      expect(notifyErrors()).toEqual([1, 0]);
      h.platform.notify(1, 0x10, 0x0, new Uint8Array(8));
      await h.clock.runUntilIdle();
      expect(seen).toEqual([8]);
      expect(agent.diagnostics.notifications.signalLeaveFailures).toBe(0);
    });

    it('should reject subscribe options that are not an object, sending nothing', async () => {
      const before = h.platform.requests.length;
      const e = await agent.events
        .subscribe({ protocolId: 0x10, eventId: 0 }, () => undefined, loose(new AbortController()))
        .catch((error: unknown) => error);
      expect(e).toBeInstanceOf(ScmiError);
      expect(e).toMatchObject({
        code: 'E_ARGUMENT',
        message: expect.stringContaining(
          '(to give the subscription a signal, pass { signal })',
        ) as unknown,
      });
      expect(h.platform.requests).toHaveLength(before);
    });
  });
});
