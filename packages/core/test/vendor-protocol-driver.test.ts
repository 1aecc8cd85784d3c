import {
  LOGGER,
  PROTOCOL_DRIVER,
  SCMI_VENDOR_PROTOCOL_BASE,
  ScmiConfigError,
  ScmiError,
  ScmiStatus,
  silentLogger,
  type ProtocolDriver,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness } from './support/harness.js';

/** A driver for vendor protocol 0x81 whose API is its name. */
function vendorDriver(
  name: string,
  vendor: Partial<Pick<ProtocolDriver, 'vendor' | 'subVendor' | 'implementationVersion'>>,
  protocolId = 0x81,
): ProtocolDriver<string> {
  return { protocolId, name, version: 0x10000, ...vendor, init: () => name };
}

// The fake platform answers Base discovery with vendor "fake-vendor", sub-vendor "fake-sub" and
// implementation version 0x102.
const GENERIC = vendorDriver('generic', {});
const VENDOR = vendorDriver('vendor', { vendor: 'FAKE-VENDOR' });
const SUB = vendorDriver('sub', { vendor: 'fake-vendor', subVendor: 'Fake-Sub' });
const EXACT = vendorDriver('exact', {
  vendor: 'fake-vendor',
  subVendor: 'fake-sub',
  implementationVersion: 0x102,
});
const OTHER_VERSION = vendorDriver('other version', {
  vendor: 'fake-vendor',
  subVendor: 'fake-sub',
  implementationVersion: 0x103,
});
const OTHER_SUB = vendorDriver('other sub', { vendor: 'fake-vendor', subVendor: 'other' });
const OTHER_VENDOR = vendorDriver('nxp', { vendor: 'NXP', subVendor: 'IMX' });

/** A harness whose platform lists clock and vendor protocol 0x81, with the drivers bound. */
function harnessWith(drivers: ProtocolDriver[]): ReturnType<typeof createHarness> {
  const h = createHarness({ drivers });
  h.platform.protocols = [0x14, 0x81];
  return h;
}

/** The PROTOCOL_VERSION commands the platform saw for `protocolId`. */
function versionQueries(h: ReturnType<typeof createHarness>, protocolId: number): number {
  return h.platform.requests.filter((r) => r.protocolId === protocolId && r.messageId === 0).length;
}

describe('vendor protocol drivers', () => {
  ensureNoLeaksInSuite();

  it('SCMI_VENDOR_PROTOCOL_BASE is the first vendor protocol id', () => {
    expect(SCMI_VENDOR_PROTOCOL_BASE).toBe(0x80);
  });

  it.each([
    ['all three match', [GENERIC, VENDOR, SUB, EXACT, OTHER_VERSION, OTHER_VENDOR], 'exact'],
    ['the implementation version differs', [GENERIC, VENDOR, SUB, OTHER_VERSION], 'sub'],
    ['no sub-vendor driver matches', [GENERIC, OTHER_SUB, VENDOR, OTHER_VERSION], 'vendor'],
    ['no driver names the vendor', [OTHER_VENDOR, GENERIC], 'generic'],
    ['the exact driver is bound first', [EXACT, SUB, VENDOR, GENERIC], 'exact'],
  ])('should instantiate the closest match when %s', async (_case, drivers, chosen: string) => {
    const h = harnessWith(drivers);
    const infos: string[] = [];
    h.container.rebind(LOGGER).toConstantValue({
      ...silentLogger,
      info: (message: string) => infos.push(message),
    });
    const agent = await h.create();
    expect(agent.protocolIds).toEqual([0x81]);
    expect(agent.protocolApi(0x81)).toBe(chosen);
    const winner = drivers.find((d) => d.name === chosen) as ProtocolDriver<string>;
    expect(agent.protocol(winner)).toBe(chosen);
    // One driver only was set up: one version query for the protocol.
    expect(versionQueries(h, 0x81)).toBe(1);
    expect(infos).toContainEqual(
      expect.stringContaining(`vendor protocol 0x81: driver "${chosen}"`),
    );
    // Every other bound driver: its API is not the winner's.
    for (const loser of drivers.filter((d) => d !== winner)) {
      expect(() => agent.protocol(loser)).toThrow(
        expect.objectContaining({
          code: 'E_NO_PROTOCOL',
          message: expect.stringContaining(`driver "${loser.name}" (`) as unknown,
        }) as Error,
      );
    }
    // A copy of the winner (as toDynamicValue binds) stands for it; another identification not.
    expect(agent.protocol({ ...winner })).toBe(chosen);
    expect(() => agent.protocol(vendorDriver('unbound', { vendor: 'x' }))).toThrow(
      /driver "unbound" \(vendor "x"\) is not the one chosen for the platform/,
    );
    await agent.remove();
  });

  it('should tell a loser apart from the winner in its error', async () => {
    const h = harnessWith([SUB, EXACT]);
    const agent = await h.create();
    expect(() => agent.protocol(SUB)).toThrow(
      new ScmiError(
        'E_NO_PROTOCOL',
        'scmi0: protocol 0x81: driver "sub" (vendor "fake-vendor", sub-vendor "Fake-Sub") is not the one chosen for the platform (vendor "fake-vendor", sub-vendor "fake-sub", implementation version 0x102): driver "exact" (vendor "fake-vendor", sub-vendor "fake-sub", implementation version 0x102) is',
      ),
    );
    await agent.remove();
  });

  it('should leave the protocol out, and say why, when no bound driver names the vendor', async () => {
    const h = harnessWith([OTHER_VENDOR, OTHER_SUB, OTHER_VERSION]);
    const infos: string[] = [];
    h.container.rebind(LOGGER).toConstantValue({
      ...silentLogger,
      warn: (message: string) => infos.push(message),
    });
    const agent = await h.create();
    expect(agent.protocolIds).toEqual([]);
    expect(versionQueries(h, 0x81)).toBe(0);
    const why =
      'scmi0: protocol 0x81: no bound driver matches the platform (vendor "fake-vendor", sub-vendor "fake-sub", implementation version 0x102); bound: "nxp" (vendor "NXP", sub-vendor "IMX"), "other sub" (vendor "fake-vendor", sub-vendor "other"), "other version" (vendor "fake-vendor", sub-vendor "fake-sub", implementation version 0x103)';
    expect(() => agent.protocolApi(0x81)).toThrow(new ScmiError('E_NO_PROTOCOL', why));
    expect(() => agent.protocol(OTHER_VENDOR)).toThrow(new ScmiError('E_NO_PROTOCOL', why));
    expect(infos).toContainEqual(
      expect.stringContaining('protocol 0x81: no bound driver matches the platform'),
    );
    await agent.remove();
  });

  it('should match an unanswered sub-vendor and implementation version as empty and 0, as Linux', async () => {
    const h = harnessWith([
      vendorDriver('sub', { vendor: 'fake-vendor', subVendor: 'fake-sub' }),
      vendorDriver('vendor', { vendor: 'fake-vendor' }),
    ]);
    h.platform.override = (req) =>
      req.protocolId === 0x10 && (req.messageId === 0x4 || req.messageId === 0x5)
        ? { status: ScmiStatus.NOT_SUPPORTED }
        : undefined;
    const agent = await h.create();
    expect(agent.info.subVendor).toBeUndefined();
    expect(agent.protocolApi(0x81)).toBe('vendor');
    await agent.remove();
  });

  it('should keep one driver per protocol for several vendor protocols', async () => {
    const h = harnessWith([
      vendorDriver('a81', { vendor: 'fake-vendor' }),
      vendorDriver('a82', { vendor: 'fake-vendor' }, 0x82),
      vendorDriver('b82', { vendor: 'NXP' }, 0x82),
    ]);
    h.platform.protocols = [0x81, 0x82];
    const agent = await h.create();
    expect(agent.protocolIds).toEqual([0x81, 0x82]);
    expect([agent.protocolApi(0x81), agent.protocolApi(0x82)]).toEqual(['a81', 'a82']);
    await agent.remove();
  });

  it('should take an implementation version of 0 as any version, as Linux', async () => {
    const h = harnessWith([
      vendorDriver('zero', {
        vendor: 'fake-vendor',
        subVendor: 'fake-sub',
        implementationVersion: 0,
      }),
      vendorDriver('vendor', { vendor: 'fake-vendor' }),
    ]);
    const agent = await h.create();
    expect(agent.protocolApi(0x81)).toBe('zero');
    await agent.remove();
  });

  it('should take an unanswered implementation version as 0: a driver of one version does not match', async () => {
    const h = harnessWith([EXACT, SUB]);
    h.platform.override = (req) =>
      req.protocolId === 0x10 && req.messageId === 0x5
        ? { status: ScmiStatus.NOT_SUPPORTED }
        : undefined;
    const agent = await h.create();
    expect(agent.info.implementationVersion).toBeUndefined();
    expect(agent.protocolApi(0x81)).toBe('sub');
    await agent.remove();
  });

  it.each([
    ['does not answer', true, 'no sub'],
    ['answers', false, 'vendor'],
  ])(
    'should match a driver with a version and no sub-vendor only when the platform %s BASE_DISCOVER_SUB_VENDOR',
    async (_case, unanswered, chosen) => {
      const h = harnessWith([
        vendorDriver('no sub', { vendor: 'fake-vendor', implementationVersion: 0x102 }),
        VENDOR,
      ]);
      if (unanswered) {
        h.platform.override = (req) =>
          req.protocolId === 0x10 && req.messageId === 0x4
            ? { status: ScmiStatus.NOT_SUPPORTED }
            : undefined;
      }
      const agent = await h.create();
      expect(agent.protocolApi(0x81)).toBe(chosen);
      await agent.remove();
    },
  );

  it('should find the API of a driver bound with toDynamicValue (a copy) by its identification', async () => {
    const spec = vendorDriver('raw', {});
    const h = harnessWith([]);
    h.container.bind(PROTOCOL_DRIVER).toDynamicValue(() => ({ ...spec }));
    const agent = await h.create();
    expect(agent.protocol(spec)).toBe('raw');
    await agent.remove();
  });

  it('should refuse a driver with invalid vendor fields with an ScmiError, not a TypeError', async () => {
    const h = harnessWith([EXACT]);
    const agent = await h.create();
    const odd = vendorDriver('odd', {
      vendor: 'v',
      subVendor: 's',
      implementationVersion: null as unknown as number,
    });
    expect(() => agent.protocol(odd)).toThrow(
      new ScmiError(
        'E_NO_PROTOCOL',
        'scmi0: protocol 0x81: driver "odd" (vendor "v", sub-vendor "s", implementation version null) is not the one chosen for the platform (vendor "fake-vendor", sub-vendor "fake-sub", implementation version 0x102): driver "exact" (vendor "fake-vendor", sub-vendor "fake-sub", implementation version 0x102) is',
      ),
    );
    await agent.remove();
  });

  it('should name the chosen driver whose init failed, and refuse another as not chosen', async () => {
    const failing: ProtocolDriver<string> = {
      ...EXACT,
      init: () => {
        throw new Error('boom');
      },
    };
    const h = harnessWith([failing, GENERIC]);
    const agent = await h.create();
    expect(agent.protocolIds).toEqual([]);
    const why =
      'scmi0: protocol 0x81: its driver "exact" (vendor "fake-vendor", sub-vendor "fake-sub", implementation version 0x102) failed to initialize (boom); see agent.protocolErrors';
    const refusal = expect.objectContaining({ code: 'E_NO_PROTOCOL', message: why }) as Error;
    expect(() => agent.protocolApi(0x81)).toThrow(refusal);
    expect(() => agent.protocol(failing)).toThrow(refusal);
    expect((agent.protocolErrors.get(0x81) as Error).message).toBe('boom');
    // No fallback to the next match, as in Linux.
    expect(() => agent.protocol(GENERIC)).toThrow(
      /driver "generic" \(any vendor\) is not the one chosen/,
    );
    await agent.remove();
  });

  describe('refused before anything is set up', () => {
    const clock: ProtocolDriver<string> = {
      protocolId: 0x14,
      name: 'clock',
      version: 0x30000,
      init: () => 'clock',
    };
    it.each([
      [
        'vendor on a standard protocol',
        [{ ...clock, vendor: 'fake-vendor' }],
        'driver "clock" for protocol clock: vendor apply only to vendor protocols (0x80–0xff); a standard protocol has one driver, whatever the platform\'s vendor',
      ],
      [
        'a vendor of 16 characters',
        [vendorDriver('long', { vendor: 'x'.repeat(16) })],
        'driver "long" for protocol 0x81: vendor must be 1 to 15 printable ASCII characters (BASE_DISCOVER_VENDOR\'s 16-byte string), got "xxxxxxxxxxxxxxxx"',
      ],
      [
        'an empty vendor',
        [vendorDriver('empty', { vendor: '' })],
        'driver "empty" for protocol 0x81: vendor must be 1 to 15 printable ASCII characters (BASE_DISCOVER_VENDOR\'s 16-byte string), got ""',
      ],
      [
        'a sub-vendor that is not ASCII',
        [vendorDriver('utf', { vendor: 'v', subVendor: 'ñ' })],
        'driver "utf" for protocol 0x81: subVendor must be 1 to 15 printable ASCII characters (BASE_DISCOVER_VENDOR\'s 16-byte string), got "ñ"',
      ],
      [
        'a vendor that is not a string',
        [vendorDriver('num', { vendor: 7 as unknown as string })],
        'driver "num" for protocol 0x81: vendor must be 1 to 15 printable ASCII characters (BASE_DISCOVER_VENDOR\'s 16-byte string), got 7',
      ],
      [
        'a sub-vendor without vendor',
        [vendorDriver('sub', { subVendor: 'x' })],
        'driver "sub" for protocol 0x81: subVendor is given without vendor; it narrows a vendor (Linux refuses a vendor protocol without vendor_id)',
      ],
      [
        'an implementation version without vendor',
        [vendorDriver('impl', { implementationVersion: 1 })],
        'driver "impl" for protocol 0x81: implementationVersion is given without vendor; it narrows a vendor (Linux refuses a vendor protocol without vendor_id)',
      ],
      [
        'an implementation version of 0 beside none: both match any version (Linux keys them alike)',
        [
          vendorDriver('zero', { vendor: 'v', subVendor: 's', implementationVersion: 0 }),
          vendorDriver('none', { vendor: 'v', subVendor: 's' }),
        ],
        'two protocol drivers for protocol 0x81 match vendor "v", sub-vendor "s" ("zero" and "none"); bind one, or tell them apart by vendor, subVendor or implementationVersion',
      ],
      [
        'an implementation version past 32 bits',
        [vendorDriver('big', { vendor: 'v', subVendor: 's', implementationVersion: 2 ** 32 })],
        'driver "big" for protocol 0x81: implementationVersion must be an integer from 0 to 0xffffffff (BASE_DISCOVER_IMPLEMENTATION_VERSION), got 4294967296',
      ],
      [
        'a fractional implementation version',
        [vendorDriver('half', { vendor: 'v', subVendor: 's', implementationVersion: 1.5 })],
        'driver "half" for protocol 0x81: implementationVersion must be an integer from 0 to 0xffffffff (BASE_DISCOVER_IMPLEMENTATION_VERSION), got 1.5',
      ],
      [
        'two drivers that match the same platform (case-insensitively)',
        [
          vendorDriver('a', { vendor: 'NXP', subVendor: 'imx' }),
          vendorDriver('b', { vendor: 'nxp', subVendor: 'IMX' }),
        ],
        'two protocol drivers for protocol 0x81 match vendor "nxp", sub-vendor "IMX" ("a" and "b"); bind one, or tell them apart by vendor, subVendor or implementationVersion',
      ],
      [
        'two drivers for any vendor',
        [vendorDriver('a', {}), vendorDriver('b', {})],
        'two protocol drivers for protocol 0x81 match any vendor ("a" and "b"); bind one, or tell them apart by vendor, subVendor or implementationVersion',
      ],
    ])('%s', async (_case, drivers, message) => {
      const h = harnessWith(drivers);
      await expect(h.create()).rejects.toThrow(new ScmiConfigError('container', message));
      await expect(h.create()).rejects.toBeInstanceOf(ScmiConfigError);
      expect(h.platform.requests).toHaveLength(0);
    });

    it('should accept the same vendor on different protocols, and different versions', async () => {
      const h = harnessWith([
        vendorDriver('a', { vendor: 'v', subVendor: 's', implementationVersion: 1 }),
        vendorDriver('b', { vendor: 'v', subVendor: 's', implementationVersion: 2 }),
        vendorDriver('c', { vendor: 'v' }, 0x82),
      ]);
      const agent = await h.create();
      // None names fake-vendor: the platform's 0x81 is left out.
      expect(agent.protocolIds).toEqual([]);
      await agent.remove();
    });
  });

  it("should name a vendor protocol by its driver's name in its commands' errors", async () => {
    const named: ProtocolDriver<{ get(): Promise<Uint8Array>; put(): Promise<Uint8Array> }> = {
      protocolId: 0x81,
      name: 'acme-bbm',
      version: 0x10000,
      vendor: 'fake-vendor',
      messageNames: { 0x3: 'RTC_TIME_GET' },
      init: (ph) => ({
        get: () => ph.xfer.transact(0x3, undefined, { rxSize: 4 }),
        put: () => ph.xfer.transact(0x3, (w) => w.u32(1).u32(2), { txSize: 4 }),
      }),
    };
    const h = harnessWith([named]);
    h.platform.override = (req) =>
      req.protocolId === 0x81 && req.messageId === 0x3
        ? { status: ScmiStatus.NOT_FOUND }
        : undefined;
    const agent = await h.create();
    const client = agent.protocol(named);
    await expect(client.get()).rejects.toThrow(
      '0x81 (acme-bbm) message 0x3 RTC_TIME_GET failed: NOT_FOUND (-4)',
    );
    // Written past txSize: the command named, nothing sent.
    const sent = h.platform.requests.length;
    await expect(client.put()).rejects.toMatchObject({
      code: 'E_OVERFLOW',
      protocolId: 0x81,
      messageId: 0x3,
      message:
        '0x81 (acme-bbm) message 0x3 RTC_TIME_GET: payload overflow: u32 needs 4 byte(s) at offset 4, capacity 4 (its payload writer, given txSize 4)',
    });
    expect(h.platform.requests).toHaveLength(sent);
    await agent.remove();
  });
});
