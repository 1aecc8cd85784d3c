import {
  RevokedError,
  ScmiError,
  ScmiMalformedError,
  ScmiShutdownError,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  mulberry32,
  type ScmiAgent,
} from '@scmi-ts/core';
import { fuzzSeeds, thrownText } from '../../core/test/support/fuzz.js';
import {
  PROTOCOL_DRIVERS,
  VOLTAGE_CONFIG_OFF,
  VOLTAGE_CONFIG_ON,
  VOLTAGE_CONFIG_VENDOR,
  VoltageMessageId,
  voltageProtocolDriver,
  type VoltageProtocol,
} from '../src/index.js';
import { createHarness, type Harness, type HarnessOptions } from './support/harness.js';
import {
  createVoltageFake,
  words,
  type FakeVoltageDomain,
  type VoltageExchange,
  type VoltageFake,
  type VoltageFakeOptions,
} from './support/voltage-fake.js';

const VOLTAGE = 0x17;
const { DESCRIBE_LEVELS, LEVEL_SET, LEVEL_GET, CONFIG_GET, CONFIG_SET, DOMAIN_ATTRIBUTES } =
  VoltageMessageId;

/** What a JavaScript caller may pass where the types say otherwise. */
const loose = (value: unknown): never => value as never;

/** A `tamper` that replaces the `nth` reply (every one when left out) to `messageId` at `stage`. */
function replace(
  messageId: number,
  payload: Uint8Array | 'drop' | ((p: Uint8Array) => Uint8Array),
  nth?: number,
  stage: VoltageExchange['stage'] = 'response',
): NonNullable<VoltageFakeOptions['tamper']> {
  return (e, p) => {
    if (e.messageId !== messageId || e.stage !== stage || (nth !== undefined && e.nth !== nth)) {
      return undefined;
    }
    return typeof payload === 'function' ? payload(p) : payload;
  };
}

/** A status as a reply payload. */
const fail = (status: number): Uint8Array => words(status);

describe('Voltage protocol client', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function start(
    fakeOptions: VoltageFakeOptions = {},
    options: HarnessOptions = {},
  ): Promise<{ h: Harness; agent: ScmiAgent; fake: VoltageFake }> {
    let fake: VoltageFake | undefined;
    const harness = createHarness({
      drivers: [voltageProtocolDriver],
      platformPort: (platform, clock) => (fake = createVoltageFake(platform, clock, fakeOptions)),
      ...options,
    });
    h = harness;
    const agent = await harness.create();
    if (fake === undefined) throw new Error('no fake');
    return { h: harness, agent, fake };
  }

  async function probe(
    fakeOptions: VoltageFakeOptions = {},
    options: HarnessOptions = {},
  ): Promise<{ h: Harness; agent: ScmiAgent; fake: VoltageFake; voltage: VoltageProtocol }> {
    const started = await start(fakeOptions, options);
    return { ...started, voltage: started.agent.protocol(voltageProtocolDriver) };
  }

  /** The words of each request of `messageId` the fake received. */
  const sent = (fake: VoltageFake, messageId: number): number[][] =>
    fake.requests.filter((r) => r.messageId === messageId).map((r) => r.params);

  describe('discovery at init', () => {
    it('describes every domain: a list read in parts, a range, an extended name, async support', async () => {
      const { agent, fake, voltage } = await probe();
      expect(agent.protocolIds).toContain(VOLTAGE);
      expect(voltage.version).toBe(0x20000);
      expect(voltage.versionSource).toBe('platform');
      expect(voltage.domains.count).toBe(3);
      expect(voltage.domains.failures.size).toBe(0);
      expect(voltage.domains.list).toEqual([
        {
          id: 0,
          name: 'vdd-cpu',
          asyncLevelSet: true,
          negativeVolts: false,
          // The platform's order, as Linux keeps it.
          levels: {
            kind: 'list',
            microvolts: [900_000, 800_000, 1_000_000, 1_100_000, 700_000, 1_200_000, 750_000],
          },
        },
        {
          id: 1,
          name: 'vdd-gpu-core-and-shader-array',
          asyncLevelSet: false,
          negativeVolts: false,
          levels: {
            kind: 'range',
            minMicrovolts: 600_000,
            maxMicrovolts: 1_000_000,
            stepMicrovolts: 12_500,
          },
        },
        {
          id: 2,
          name: 'vddio',
          asyncLevelSet: false,
          negativeVolts: false,
          levels: { kind: 'list', microvolts: [3_300_000] },
        },
      ]);
      // Seven levels, three to a part: indices 0, 3, 6.
      expect(sent(fake, DESCRIBE_LEVELS)).toEqual([
        [0, 0],
        [0, 3],
        [0, 6],
        [1, 0],
        [2, 0],
      ]);
      // Only the domain with a long name is asked for it.
      expect(sent(fake, VoltageMessageId.DOMAIN_NAME_GET)).toEqual([[1]]);
      expect(agent.diagnostics.malformedReplies).toEqual({});
    });

    it('flags negative levels as Linux does (negative_volts_allowed)', async () => {
      const domains: FakeVoltageDomain[] = [
        { name: 'bias', levels: { kind: 'list', microvolts: [-500_000, 0, 500_000] } },
        {
          name: 'bias-range',
          levels: { kind: 'range', min: -100_000, max: 100_000, step: 50_000 },
        },
        // One fixed level whose step is negative: any negative value counts, as in Linux.
        { name: 'fixed', levels: { kind: 'range', min: 1_800_000, max: 1_800_000, step: -1 } },
        { name: 'plain', levels: { kind: 'range', min: 1_800_000, max: 1_800_000, step: 0 } },
      ];
      const { voltage } = await probe({ domains });
      expect(voltage.domains.list.map((d) => d.negativeVolts)).toEqual([true, true, true, false]);
      expect(await voltage.levelGet(0)).toBe(-500_000);
      await voltage.levelSet(1, -50_000);
      expect(await voltage.levelGet(1)).toBe(-50_000);
    });

    it('reads neither extended names nor async support below version 2.0, as Linux', async () => {
      // A 1.0 platform whose attributes carry bits 31 and 30 all the same: ignored.
      const { fake, voltage } = await probe({
        version: 0x10000,
        tamper: (e, p) =>
          e.messageId === DOMAIN_ATTRIBUTES
            ? new Uint8Array([...p.subarray(0, 4), 0, 0, 0, 0xc0, ...p.subarray(8)])
            : undefined,
      });
      expect(voltage.version).toBe(0x10000);
      expect(voltage.domains.list.map((d) => [d.name, d.asyncLevelSet])).toEqual([
        ['vdd-cpu', false],
        ['vdd-gpu-core-an', false], // the short name, 15 characters
        ['vddio', false],
      ]);
      expect(sent(fake, VoltageMessageId.DOMAIN_NAME_GET)).toEqual([]);
      await expect(voltage.levelSet(0, 800_000, { async: true })).rejects.toMatchObject({
        code: 'E_NOT_SUPPORTED',
        message: expect.stringContaining('read from version 2.0') as unknown,
      });
      // The default is synchronous there.
      await expect(voltage.levelSet(0, 800_000)).resolves.toEqual({
        async: false,
        microvolts: undefined,
      });
    });

    it('negotiates down a newer platform, and goes best-effort when it cannot', async () => {
      const { voltage } = await probe({ version: 0x20001 });
      expect([voltage.version, voltage.versionSource]).toEqual([0x20000, 'negotiated']);
      await h?.close();
      const { voltage: v3 } = await probe({ version: 0x30000, negotiation: false });
      expect([v3.version, v3.versionSource]).toEqual([0x20000, 'best-effort']);
    });

    it('keeps the short name when VOLTAGE_DOMAIN_NAME_GET fails, with its error', async () => {
      const { voltage } = await probe({
        tamper: replace(VoltageMessageId.DOMAIN_NAME_GET, fail(-3)),
      });
      const gpu = voltage.domains.info(1);
      expect(gpu.name).toBe('vdd-gpu-core-an');
      expect(gpu.nameError).toBeInstanceOf(ScmiStatusError);
      expect(gpu.levels?.kind).toBe('range');
    });

    it('records a domain whose attributes fail, and goes on with the others; sends nothing for it later', async () => {
      const { agent, fake, voltage } = await probe({
        tamper: replace(DOMAIN_ATTRIBUTES, fail(-3), 2),
      });
      expect(voltage.domains.list.map((d) => d.id)).toEqual([0, 2]);
      expect(voltage.domains.failures.get(1)).toBeInstanceOf(ScmiStatusError);
      // Linux skips the domain's levels too.
      expect(sent(fake, DESCRIBE_LEVELS).map((w) => w[0])).not.toContain(1);
      const requests = fake.requests.length;
      await expect(voltage.levelGet(1)).rejects.toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
      await expect(voltage.enable(1)).rejects.toMatchObject({ code: 'E_DOMAIN_UNAVAILABLE' });
      expect(fake.requests).toHaveLength(requests);
      expect(agent.diagnostics.malformedReplies).toEqual({});
    });

    it('counts a short VOLTAGE_DOMAIN_ATTRIBUTES reply as malformed and records the domain failed', async () => {
      const { agent, voltage } = await probe({
        tamper: replace(DOMAIN_ATTRIBUTES, (p) => p.subarray(0, 4 + 4 + 8), 1),
      });
      expect(voltage.domains.failures.get(0)).toMatchObject({ code: 'E_TRUNCATED' });
      expect(voltage.domains.list.map((d) => d.id)).toEqual([1, 2]);
      expect(agent.diagnostics.malformedReplies).toEqual({ voltage: 1 });
    });

    it('fails to initialize when PROTOCOL_ATTRIBUTES fails: the agent goes on without it', async () => {
      const { agent } = await start({ tamper: replace(0x1, fail(-3)) });
      expect(agent.protocolErrors.get(VOLTAGE)).toBeInstanceOf(ScmiStatusError);
      expect(() => agent.protocol(voltageProtocolDriver)).toThrow(
        expect.objectContaining({ code: 'E_NO_PROTOCOL' }) as Error,
      );
    });

    it('is bound by protocolsModule, and instantiated beside the others when the platform lists it', async () => {
      expect(PROTOCOL_DRIVERS.at(-1)).toBe(voltageProtocolDriver);
      let fake: VoltageFake | undefined;
      h = createHarness({
        drivers: PROTOCOL_DRIVERS,
        platformPort: (platform, clock) => (fake = createVoltageFake(platform, clock)),
      });
      const agent = await h.create();
      expect(agent.protocolErrors.size).toBe(0);
      expect([...agent.protocolIds].sort()).toEqual([0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17]);
      expect(agent.protocol(voltageProtocolDriver).domains.count).toBe(3);
      expect(fake?.requests.length).toBeGreaterThan(0);
      expect(agent.diagnostics.malformedReplies).toEqual({});
    });
  });

  describe('hostile VOLTAGE_DESCRIBE_LEVELS replies', () => {
    /** The levels of domain 0 as a reply of the fake's replaced first DESCRIBE_LEVELS. */
    async function levelsOf(
      ...parts: Uint8Array[]
    ): Promise<{ agent: ScmiAgent; voltage: VoltageProtocol }> {
      const { agent, voltage } = await probe({
        tamper: (e) =>
          e.messageId === DESCRIBE_LEVELS && e.params[0] === 0 ? parts[e.nth - 1] : undefined,
      });
      return { agent, voltage };
    }
    const TRIPLET = 1 << 12;

    it.each([
      [
        'a triplet with 1 returned',
        words(0, 1 | TRIPLET, 600_000, 900_000, 100_000),
        'E_MULTIPART',
      ],
      ['a triplet with 2 remaining', words(0, 3 | TRIPLET | (2 << 16), 1, 2, 3), 'E_MULTIPART'],
      ['a first part that announces no level', words(0, 0), 'E_MULTIPART'],
      ['more levels announced than the part holds', words(0, 5, 700_000, 800_000), 'E_TRUNCATED'],
      ['a triplet cut short', words(0, 3 | TRIPLET, 600_000, 900_000), 'E_TRUNCATED'],
      ['a reply without its flags', new Uint8Array([0, 0, 0, 0, 1, 0]), 'E_TRUNCATED'],
      ['a triplet whose high is below its low', words(0, 3 | TRIPLET, 9, 5, 1), 'E_VOLTAGE_LEVELS'],
      ['a triplet with step 0 over a range', words(0, 3 | TRIPLET, 5, 9, 0), 'E_VOLTAGE_LEVELS'],
      ['a triplet with a negative step', words(0, 3 | TRIPLET, 5, 9, -1), 'E_VOLTAGE_LEVELS'],
    ])(
      'records %s as the domain levels error (counted), keeping the domain',
      async (_, reply, code) => {
        const { agent, voltage } = await levelsOf(reply);
        const d = voltage.domains.info(0);
        expect(d.levels).toBeUndefined();
        expect(d.negativeVolts).toBe(false);
        expect(d.levelsError).toBeInstanceOf(ScmiMalformedError);
        expect(d.levelsError).toMatchObject({ code, protocolId: VOLTAGE });
        expect(agent.diagnostics.malformedReplies).toEqual({ voltage: 1 });
        // The domain stays usable by id (Linux's info_get hides it from its regulator).
        expect(await voltage.levelGet(0)).toBe(900_000);
        // Read again, the platform's (untampered) levels are taken.
        await expect(voltage.describeLevels(0)).resolves.toMatchObject({ kind: 'list' });
      },
    );

    it('refuses a reply that switches from a list to a triplet between parts', async () => {
      const { voltage } = await levelsOf(
        words(0, 2 | (3 << 16), 1, 2),
        words(0, 3 | TRIPLET, 3, 4, 5),
      );
      expect(voltage.domains.info(0).levelsError).toMatchObject({
        code: 'E_MULTIPART',
        message: expect.stringContaining('switches from a list to a range') as unknown,
      });
    });

    it('refuses a later part that announces more levels than the first', async () => {
      const { voltage } = await levelsOf(words(0, 2 | (1 << 16), 1, 2), words(0, 1 | (5 << 16), 3));
      expect(voltage.domains.info(0).levelsError).toMatchObject({ code: 'E_MULTIPART' });
    });

    it('ends the walk at a part that returns none, with the levels read (as Linux), counting it once', async () => {
      const { agent, voltage } = await levelsOf(
        words(0, 2 | (3 << 16), 1, 2),
        words(0, 0 | (3 << 16)),
      );
      expect(voltage.domains.info(0).levels).toEqual({ kind: 'list', microvolts: [1, 2] });
      expect(agent.diagnostics.malformedReplies).toEqual({ voltage: 1 });
    });

    it('refuses a first part that returns none while announcing some, counting it once', async () => {
      const { agent, voltage } = await levelsOf(words(0, 0 | (4 << 16)));
      expect(voltage.domains.info(0).levelsError).toMatchObject({ code: 'E_VOLTAGE_LEVELS' });
      expect(agent.diagnostics.malformedReplies).toEqual({ voltage: 1 });
    });

    it('takes a triplet of one fixed level whatever its step, and a reply padded longer', async () => {
      const { voltage } = await levelsOf(words(0, 3 | TRIPLET, 1_800_000, 1_800_000, 0, 0xdead));
      expect(voltage.domains.info(0).levels).toEqual({
        kind: 'range',
        minMicrovolts: 1_800_000,
        maxMicrovolts: 1_800_000,
        stepMicrovolts: 0,
      });
    });

    it('records an error status from VOLTAGE_DESCRIBE_LEVELS, uncounted', async () => {
      const { agent, voltage } = await levelsOf(fail(-1));
      expect(voltage.domains.info(0).levelsError).toBeInstanceOf(ScmiStatusError);
      expect(agent.diagnostics.malformedReplies).toEqual({});
    });
  });

  describe('levels', () => {
    it('reads and sets a level synchronously on a domain without async support', async () => {
      const { fake, voltage } = await probe();
      expect(await voltage.levelGet(1)).toBe(800_000);
      await expect(voltage.levelSet(1, 612_500)).resolves.toEqual({
        async: false,
        microvolts: undefined,
      });
      expect(await voltage.levelGet(1)).toBe(612_500);
      expect(sent(fake, LEVEL_SET)).toEqual([[1, 0, 612_500]]);
      expect(fake.delayedResponses).toBe(0);
    });

    it('sets the level asynchronously on a domain that announces it, waiting for the delayed response', async () => {
      const { h, fake, voltage } = await probe({ asyncDelayMs: 5 });
      const start = h.clock.now();
      await expect(voltage.levelSet(0, 1_100_000)).resolves.toEqual({
        async: true,
        microvolts: 1_100_000,
      });
      expect(h.clock.now() - start).toBeGreaterThanOrEqual(5);
      expect(fake.delayedResponses).toBe(1);
      expect(sent(fake, LEVEL_SET)).toEqual([[0, 1, 1_100_000]]);
      expect(fake.state[0]?.level).toBe(1_100_000);
      // Synchronous when asked (Linux's SCMI_VOLTAGE_LEVEL_SET_SYNC).
      await expect(voltage.levelSet(0, 700_000, { async: false })).resolves.toMatchObject({
        async: false,
      });
      expect(sent(fake, LEVEL_SET)[1]).toEqual([0, 0, 700_000]);
    });

    it('refuses async on a domain that does not announce it, sending nothing', async () => {
      const { fake, voltage } = await probe();
      const requests = fake.requests.length;
      const e: unknown = await voltage
        .levelSet(1, 800_000, { async: true })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ScmiError);
      expect(e).toMatchObject({
        code: 'E_NOT_SUPPORTED',
        message:
          'voltage domain 1 does not announce asynchronous level set (VOLTAGE_DOMAIN_ATTRIBUTES bit 31)',
      });
      expect(fake.requests).toHaveLength(requests);
    });

    it('sets synchronously without a P2A channel, and refuses async there (nothing sent)', async () => {
      const { fake, voltage } = await probe({}, { wire: { a2p: [0], p2a: [] } });
      await expect(voltage.levelSet(0, 800_000)).resolves.toMatchObject({ async: false });
      const requests = fake.requests.length;
      const e: unknown = await voltage
        .levelSet(0, 800_000, { async: true })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ScmiTransportError);
      expect(e).toMatchObject({ code: 'E_NOT_SUPPORTED' });
      expect(fake.requests).toHaveLength(requests);
    });

    it('refuses a delayed response about another domain (Linux: -EPROTO), counted', async () => {
      const { agent, voltage } = await probe({
        tamper: replace(LEVEL_SET, words(0, 2, 800_000), 1, 'delayed-response'),
      });
      await expect(voltage.levelSet(0, 800_000)).rejects.toMatchObject({
        code: 'E_DOMAIN_ID',
        message: expect.stringContaining('names domain 2, not 0') as unknown,
      });
      expect(agent.diagnostics.malformedReplies).toEqual({ voltage: 1 });
    });

    it('refuses a delayed response without its level, counted', async () => {
      const { agent, voltage } = await probe({
        tamper: replace(LEVEL_SET, words(0, 0), 1, 'delayed-response'),
      });
      await expect(voltage.levelSet(0, 800_000)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
      expect(agent.diagnostics.malformedReplies).toEqual({ voltage: 1 });
    });

    it('reports the level the delayed response gives, as Linux logs it (not checked)', async () => {
      const { voltage } = await probe({
        tamper: replace(LEVEL_SET, words(0, 0, 1_000_000), 1, 'delayed-response'),
      });
      await expect(voltage.levelSet(0, 800_000)).resolves.toEqual({
        async: true,
        microvolts: 1_000_000,
      });
    });

    it('fails with the status of a failed delayed response, or a timeout when none comes', async () => {
      const { voltage } = await probe({
        tamper: (e) =>
          e.stage !== 'delayed-response'
            ? undefined
            : e.nth === 1
              ? fail(-9) // HARDWARE_ERROR
              : 'drop',
      });
      await expect(voltage.levelSet(0, 800_000)).rejects.toMatchObject({ status: -9 });
      await expect(voltage.levelSet(0, 800_000)).rejects.toBeInstanceOf(ScmiTimeoutError);
    });

    it("passes the platform's refusal of a level on, and counts a short LEVEL_GET reply", async () => {
      const { agent, voltage } = await probe({
        tamper: replace(LEVEL_GET, (p) => p.subarray(0, 6), 2),
      });
      const e: unknown = await voltage.levelSet(1, 612_000).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ScmiStatusError);
      expect(e).toMatchObject({ status: -5, messageName: 'LEVEL_SET' });
      expect(await voltage.levelGet(1)).toBe(800_000);
      await expect(voltage.levelGet(1)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
      expect(agent.diagnostics.malformedReplies).toEqual({ voltage: 1 });
    });

    it('gives the agent up while it waits for a delayed response: the call fails with the shutdown', async () => {
      const { h, agent, fake, voltage } = await probe({ asyncDelayMs: 60_000 }, { auto: false });
      const settled = voltage.levelSet(0, 800_000).then(
        () => 'resolved',
        (e: unknown) => e,
      );
      await h.clock.advance(10);
      const removing = agent.remove();
      await h.clock.advance(10);
      await removing;
      expect(ScmiShutdownError.is(await settled)).toBe(true);
      expect(fake.delayedResponses).toBe(0);
      // The fake's pending delayed response is cancelled by the harness.
    });
  });

  describe('configuration', () => {
    it('enables, disables and reads the mode, as Linux regulator ops', async () => {
      const { fake, voltage } = await probe();
      expect(await voltage.configGet(1)).toBe(VOLTAGE_CONFIG_OFF);
      expect(await voltage.isEnabled(1)).toBe(false);
      await voltage.enable(1);
      expect(fake.state[1]?.config).toBe(VOLTAGE_CONFIG_ON);
      expect(await voltage.isEnabled(1)).toBe(true);
      await voltage.disable(1);
      expect(await voltage.configGet(1)).toBe(VOLTAGE_CONFIG_OFF);
      await voltage.configSet(1, VOLTAGE_CONFIG_VENDOR | 2);
      // Linux's is_enabled: config & 0x7.
      expect(await voltage.isEnabled(1)).toBe(true);
      await voltage.configSet(1, VOLTAGE_CONFIG_VENDOR);
      expect(await voltage.isEnabled(1)).toBe(false);
      expect(sent(fake, CONFIG_SET)).toEqual([
        [1, 7],
        [1, 0],
        [1, 0xa],
        [1, 0x8],
      ]);
    });

    it("passes the platform's refusal of a reserved mode on, and drops CONFIG_GET's reserved bits", async () => {
      const { voltage } = await probe({ tamper: replace(CONFIG_GET, words(0, 0xfff0_0007)) });
      await expect(voltage.configSet(0, 3)).rejects.toMatchObject({ status: -2 });
      expect(await voltage.configGet(0)).toBe(VOLTAGE_CONFIG_ON);
      expect(await voltage.isEnabled(0)).toBe(true);
    });
  });

  describe('argument checks (nothing sent)', () => {
    it('refuses bad ids, levels, modes and options', async () => {
      const { fake, voltage } = await probe();
      const requests = fake.requests.length;
      for (const id of [3, -1, 0.5, Number.NaN]) {
        await expect(voltage.levelGet(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
        await expect(voltage.levelSet(id, 800_000)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
        await expect(voltage.configGet(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
        await expect(voltage.configSet(id, 0)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
        await expect(voltage.enable(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
        await expect(voltage.isEnabled(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
        await expect(voltage.describeLevels(id)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      }
      for (const [call, message] of [
        [() => voltage.levelGet(loose('1')), 'voltage domain id must be a number, got string "1"'],
        [() => voltage.levelGet(7), "voltage domain 7 is not one of the platform's 3 (0 to 2)"],
        [
          () => voltage.levelSet(0, 2 ** 31),
          'voltage level 2147483648 is not an integer from -2147483648 to 2147483647 (a signed 32-bit value)',
        ],
        [
          () => voltage.levelSet(0, -(2 ** 31) - 1),
          'voltage level -2147483649 is not an integer from -2147483648 to 2147483647 (a signed 32-bit value)',
        ],
        [
          () => voltage.levelSet(0, 0.5),
          'voltage level 0.5 is not an integer from -2147483648 to 2147483647 (a signed 32-bit value)',
        ],
        [
          () => voltage.levelSet(0, loose(800_000n)),
          'voltage level must be a number, got bigint 800000n',
        ],
        [
          () => voltage.levelSet(0, 800_000, loose(null)),
          'voltage levelSet options must be an object, got null',
        ],
        [
          () => voltage.levelSet(0, 800_000, loose({ asnyc: true })),
          'voltage levelSet options: unknown option "asnyc" (expected one of async)',
        ],
        [
          () => voltage.levelSet(0, 800_000, { async: loose('false') }),
          'async must be true, false or left out, not a string',
        ],
        [() => voltage.configSet(0, 16), 'voltage config mode 16 is not an integer from 0 to 0xF'],
        [() => voltage.configSet(0, -1), 'voltage config mode -1 is not an integer from 0 to 0xF'],
        [
          () => voltage.configSet(0, loose('7')),
          'voltage config mode must be a number, got string "7"',
        ],
      ] as const) {
        await expect(call()).rejects.toMatchObject({ code: 'E_ARGUMENT', message });
      }
      expect(fake.requests).toHaveLength(requests);
      // The extremes of the field are taken (and refused by the platform, not the client).
      await expect(voltage.levelSet(1, -(2 ** 31))).rejects.toBeInstanceOf(ScmiStatusError);
      await expect(voltage.levelSet(1, 2 ** 31 - 1)).rejects.toBeInstanceOf(ScmiStatusError);
      expect(sent(fake, LEVEL_SET).map((w) => w[2])).toEqual([0x80000000, 0x7fffffff]);
    });

    it('rejects every command with RevokedError after removal, keeping the domains readable', async () => {
      const { agent, voltage } = await probe();
      await agent.remove();
      await expect(voltage.levelGet(0)).rejects.toBeInstanceOf(RevokedError);
      await expect(voltage.levelSet(0, 800_000)).rejects.toBeInstanceOf(RevokedError);
      await expect(voltage.levelGet(9)).rejects.toMatchObject({ code: 'E_ARGUMENT' });
      expect(voltage.domains.info(2).name).toBe('vddio');
    });
  });

  describe('withCallOptions', () => {
    it("bounds a view's commands by its timeoutMs, the client keeping the agent's", async () => {
      const { voltage } = await probe({ delay: (e) => (e.messageId === LEVEL_GET ? 20 : 0) });
      const e: unknown = await voltage
        .withCallOptions({ timeoutMs: 5 })
        .levelGet(0)
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ScmiTimeoutError);
      expect(e).toMatchObject({ timeoutMs: 5, phase: 'response' });
      // 20 ms is well within the agent's own timeout: the client itself is unchanged.
      expect(await voltage.levelGet(0)).toBe(900_000);
    });

    it('gives its commands up when the signal fires, and sends nothing once it has', async () => {
      const { h, fake, voltage } = await probe({
        delay: (e) => (e.messageId === LEVEL_GET ? 20 : 0),
      });
      const abort = new AbortController();
      const view = voltage.withCallOptions({ signal: abort.signal });
      expect(view.domains).toBe(voltage.domains);
      const pending = view.levelGet(0).catch((x: unknown) => x);
      await h.clock.advance(2);
      const reason = new Error('operator gave up');
      abort.abort(reason);
      expect(await pending).toBe(reason);
      const requests = fake.requests.length;
      await expect(view.enable(0)).rejects.toBe(reason);
      expect(fake.requests).toHaveLength(requests);
      expect(() => voltage.withCallOptions({ timeoutMs: -1 })).toThrow(
        expect.objectContaining({ code: 'E_ARGUMENT' }) as Error,
      );
    });
  });
});

describe('Voltage protocol client against a hostile fake (seeded fuzz)', () => {
  const { seeds } = fuzzSeeds(40);

  it.each(seeds)('seed %i: every failure is a typed SCMI error', async (seed) => {
    const random = mulberry32(seed);
    const int = (n: number): number => Math.floor(random() * n);
    const rules = Array.from({ length: 1 + int(6) }, () => ({
      messageId: [0x1, 0x3, 0x4, 0x4, 0x6, 0x7, 0x8, 0x9][int(8)] ?? 0x4,
      stage: random() < 0.2 ? ('delayed-response' as const) : ('response' as const),
      nth: 1 + int(4),
      kind: int(3),
      offset: int(24),
      bytes: Array.from({ length: 1 + int(6) }, () => int(256)),
      length: int(24),
    }));
    const tamper: VoltageFakeOptions['tamper'] = (e, p) => {
      const rule = rules.find(
        (r) => r.messageId === e.messageId && r.stage === e.stage && r.nth === e.nth,
      );
      if (rule === undefined) return undefined;
      if (rule.kind === 0) return p.subarray(0, rule.length);
      const out = new Uint8Array(Math.max(p.byteLength, rule.offset + rule.bytes.length));
      out.set(p);
      out.set(rule.bytes, rule.kind === 1 ? 4 + rule.offset : 0);
      return out;
    };
    let fake: VoltageFake | undefined;
    const h = createHarness({
      drivers: [voltageProtocolDriver],
      platformPort: (platform, clock) => (fake = createVoltageFake(platform, clock, { tamper })),
    });
    const problems: string[] = [];
    const typed = async (what: string, op: () => Promise<unknown>): Promise<void> => {
      try {
        await op();
      } catch (e) {
        if (!ScmiError.is(e)) problems.push(`${what}: ${thrownText(e, { stack: true })}`);
      }
    };
    let agent: ScmiAgent | undefined;
    try {
      agent = await h.create();
      const error = agent.protocolErrors.get(VOLTAGE);
      if (error !== undefined && !ScmiError.is(error)) problems.push(`init: ${thrownText(error)}`);
      if (agent.protocolIds.includes(VOLTAGE)) {
        const voltage = agent.protocol(voltageProtocolDriver);
        for (const [, e] of voltage.domains.failures) {
          if (!ScmiError.is(e)) problems.push(`failure: ${thrownText(e)}`);
        }
        for (const d of voltage.domains.list) {
          for (const e of [d.nameError, d.levelsError]) {
            if (e !== undefined && !ScmiError.is(e)) problems.push(`recorded: ${thrownText(e)}`);
          }
          const level =
            d.levels?.kind === 'list' ? d.levels.microvolts[0] : d.levels?.minMicrovolts;
          await typed(`get ${d.id}`, () => voltage.levelGet(d.id));
          if (level !== undefined) await typed(`set ${d.id}`, () => voltage.levelSet(d.id, level));
          await typed(`enabled ${d.id}`, () => voltage.isEnabled(d.id));
          await typed(`describe ${d.id}`, () => voltage.describeLevels(d.id));
        }
      }
    } catch (e) {
      if (!ScmiError.is(e)) problems.push(`probe: ${thrownText(e, { stack: true })}`);
    } finally {
      await agent?.remove();
      await h.close();
    }
    expect(fake).toBeDefined();
    if (problems.length > 0) {
      throw new Error(`seed ${seed}:\n${problems.join('\n')}\nrules: ${JSON.stringify(rules)}`);
    }
  });
});
