import {
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  type ProtocolDriver,
  type ProtocolHandle,
} from '@scmi-ts/core';
import {
  createDefaultPlatformConfig,
  type PlatformConfig,
  type PlatformVendorProtocol,
} from '@scmi-ts/platform';
import { createHarness, type Harness } from './support/harness.js';

/**
 * A vendor protocol end to end: the emulated platform serves it from `vendorProtocols`, and the
 * agent instantiates the driver whose vendor identification matches the platform's, over the
 * same-thread mailbox transport.
 */

const MISC = 0x84;

/** The platform's side: a table of controls, and a command whose handler has a bug. */
function miscProtocol(): PlatformVendorProtocol {
  const controls = new Map<number, number>([[1, 100]]);
  return {
    protocolId: MISC,
    name: 'misc',
    version: 0x10000,
    agents: [1],
    attributes: () => ({ status: ScmiStatus.SUCCESS, returns: u32(controls.size) }),
    commands: {
      0x3: {
        name: 'MISC_CONTROL_SET',
        requestSize: 8,
        handle: (req) => {
          controls.set(req.payload.u32(), req.payload.u32());
          return { status: ScmiStatus.SUCCESS };
        },
      },
      0x4: {
        name: 'MISC_CONTROL_GET',
        requestSize: 4,
        handle: (req) => {
          const value = controls.get(req.payload.u32());
          return value === undefined
            ? { status: ScmiStatus.NOT_FOUND }
            : { status: ScmiStatus.SUCCESS, returns: u32(value) };
        },
      },
      0x9: {
        name: 'MISC_BUG',
        requestSize: 0,
        handle: () => {
          throw new RangeError('the handler has a bug');
        },
      },
    },
  };
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

/** The agent's side: a client over the protocol handle. */
class MiscClient {
  readonly #ph: ProtocolHandle;
  public readonly driverName: string;
  public constructor(ph: ProtocolHandle, driverName: string) {
    this.#ph = ph;
    this.driverName = driverName;
  }
  public get version(): number {
    return this.#ph.version;
  }
  public async controls(): Promise<number> {
    const returns = await this.#ph.xfer.transact(0x1, undefined, { rxSize: 4 });
    return this.#ph.xfer.decode(returns, (r) => r.u32());
  }
  public async set(id: number, value: number): Promise<void> {
    await this.#ph.xfer.transact(0x3, (w) => w.u32(id).u32(value), { txSize: 8, rxSize: 0 });
  }
  public async get(id: number): Promise<number> {
    const returns = await this.#ph.xfer.transact(0x4, (w) => w.u32(id), { txSize: 4, rxSize: 4 });
    return this.#ph.xfer.decode(returns, (r) => r.u32());
  }
  public async bug(): Promise<void> {
    await this.#ph.xfer.transact(0x9);
  }
  public supports(messageId: number): Promise<boolean> {
    return this.#ph.xfer.messageSupported(messageId);
  }
}

function miscDriver(
  name: string,
  vendor: Partial<Pick<ProtocolDriver, 'vendor' | 'subVendor'>>,
): ProtocolDriver<MiscClient> {
  return {
    protocolId: MISC,
    name,
    version: 0x10000,
    ...vendor,
    messageNames: { 0x3: 'MISC_CONTROL_SET', 0x4: 'MISC_CONTROL_GET', 0x9: 'MISC_BUG' },
    init: (ph) => new MiscClient(ph, name),
  };
}

// The default platform is vendor "scmi-ts", sub-vendor "emulated".
const EMULATED = miscDriver('emulated misc', { vendor: 'scmi-ts', subVendor: 'emulated' });
const NXP = miscDriver('nxp misc', { vendor: 'NXP', subVendor: 'IMX' });
const ANY = miscDriver('raw misc', {});

describe('a vendor protocol between the emulated platform and the agent', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("should serve the commands through the driver that matches the platform's vendor", async () => {
    h = createHarness({ drivers: [NXP, EMULATED, ANY], vendorProtocols: [miscProtocol()] });
    const agent = await h.create();
    expect(agent.info.protocols).toContain(MISC);
    const misc = agent.protocol(EMULATED);
    expect(misc.driverName).toBe('emulated misc');
    expect(misc.version).toBe(0x10000);
    expect(await misc.controls()).toBe(1);
    expect(await misc.get(1)).toBe(100);
    await misc.set(7, 42);
    expect(await misc.get(7)).toBe(42);
    expect(await misc.controls()).toBe(2);
    expect(await misc.supports(0x4)).toBe(true);
    expect(await misc.supports(0x5)).toBe(false);
    // The platform's error status, named by the driver's messageNames.
    const missing = await misc.get(8).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ScmiStatusError);
    expect(missing).toMatchObject({
      status: ScmiStatus.NOT_FOUND,
      messageName: 'MISC_CONTROL_GET',
      message: expect.stringContaining('0x84 (emulated misc) message 0x4 MISC_CONTROL_GET') as unknown,
    });
    expect(() => agent.protocol(NXP)).toThrow(/is not the one chosen/);
  });

  it("should choose the NXP driver on an NXP platform, and the generic one on a third vendor's", async () => {
    const nxp: PlatformConfig = {
      ...createDefaultPlatformConfig(),
      vendor: 'NXP',
      subVendor: 'IMX',
    };
    h = createHarness({
      drivers: [NXP, EMULATED, ANY],
      platformConfig: nxp,
      vendorProtocols: [miscProtocol()],
    });
    const agent = await h.create();
    expect(agent.protocol(NXP).driverName).toBe('nxp misc');
    await h.close();
    h = createHarness({
      drivers: [NXP, EMULATED, ANY],
      platformConfig: { ...nxp, vendor: 'Acme', subVendor: 'IMX' },
      vendorProtocols: [miscProtocol()],
    });
    expect((await h.create()).protocol(ANY).driverName).toBe('raw misc');
  });

  it("should answer a handler's bug GENERIC_ERROR, and the platform's log say why", async () => {
    h = createHarness({ drivers: [EMULATED], vendorProtocols: [miscProtocol()] });
    const agent = await h.create();
    await expect(agent.protocol(EMULATED).bug()).rejects.toMatchObject({
      status: ScmiStatus.GENERIC_ERROR,
      messageName: 'MISC_BUG',
    });
    expect(h.platform.counters.handlerErrors).toBe(1);
    const [failure] = h.platform.handlerErrorLog;
    expect(failure).toMatchObject({ agentId: 1, protocolId: MISC, messageId: 0x9 });
    expect(failure?.error).toBeInstanceOf(RangeError);
    // The channel goes on.
    expect(await agent.protocol(EMULATED).get(1)).toBe(100);
  });

  it('should hide the protocol from an agent not in its agents, whose driver is then never set up', async () => {
    h = createHarness({ drivers: [EMULATED], vendorProtocols: [miscProtocol()], agentId: 2 });
    const agent = await h.create();
    expect(agent.info.protocols).not.toContain(MISC);
    expect(() => agent.protocol(EMULATED)).toThrow(/protocol 0x84 is not listed by the platform/);
    // Sent raw anyway: refused as a protocol the agent may not use.
    await expect(agent.transact(MISC, 0x4, u32(1))).rejects.toMatchObject({
      status: ScmiStatus.NOT_SUPPORTED,
    });
  });

  it('should take message-level faults on the vendor protocol: a dropped reply times out', async () => {
    h = createHarness({
      drivers: [EMULATED],
      vendorProtocols: [miscProtocol()],
      platformFaults: [{ match: { protocolId: MISC, messageId: 0x4 }, action: { kind: 'drop' } }],
    });
    const agent = await h.create({ rxTimeoutMs: 20 });
    const lost = await agent
      .protocol(EMULATED)
      .get(1)
      .catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(ScmiTimeoutError);
    expect(lost).toMatchObject({ messageName: 'MISC_CONTROL_GET' });
    expect(h.platform.faults.log.map((f) => [f.kind, f.protocolId])).toEqual([['drop', MISC]]);
  });
});
