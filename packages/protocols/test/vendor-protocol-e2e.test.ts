import {
  ScmiError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  readU32,
  type ProtocolDriver,
  type ProtocolHandle,
  type ScmiNotification,
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

/** MISC_CONTROL_EVENT: control_id, value. */
const CONTROL_EVENT = 0x0;
/** How long MISC_CONTROL_SET_ASYNC takes, in ms of the platform's clock. */
const ASYNC_MS = 10;

/**
 * The platform's side: a table of controls, a command whose handler has a bug, a p2a NOTIFY that
 * subscribes to MISC_CONTROL_EVENT about one control, and asynchronous commands (one of them
 * completing with a bug).
 */
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
      0x5: {
        name: 'MISC_CONTROL_NOTIFY',
        requestSize: 8, // control_id, notify_enable
        p2a: true,
        handle: (req) => {
          const id = req.payload.u32();
          const enable = req.payload.u32();
          if (enable > 1) return { status: ScmiStatus.INVALID_PARAMETERS };
          req.setNotify(CONTROL_EVENT, id, enable === 1);
          return { status: ScmiStatus.SUCCESS };
        },
      },
      0x6: {
        name: 'MISC_CONTROL_SET_ASYNC',
        requestSize: 8, // control_id, value
        p2a: true,
        handle: (req) => {
          const id = req.payload.u32();
          const value = req.payload.u32();
          req.respondLater(ASYNC_MS, () => {
            controls.set(id, value);
            return { status: ScmiStatus.SUCCESS, returns: u32s(id, value) };
          });
          return { status: ScmiStatus.SUCCESS };
        },
      },
      0x7: {
        name: 'MISC_ASYNC_BUG',
        requestSize: 0,
        p2a: true,
        handle: (req) => {
          req.respondLater(ASYNC_MS, () => {
            throw new RangeError('complete has a bug');
          });
          return { status: ScmiStatus.SUCCESS };
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
  return u32s(value);
}

function u32s(...values: number[]): Uint8Array {
  const bytes = new Uint8Array(4 * values.length);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => {
    view.setUint32(4 * i, v, true);
  });
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
  /** MISC_CONTROL_SET_ASYNC: resolves after its delayed response, to its control_id and value. */
  public async setAsync(id: number, value: number): Promise<[number, number]> {
    const returns = await this.#ph.xfer.transact(0x6, (w) => w.u32(id).u32(value), {
      txSize: 8,
      rxSize: 8,
      async: true,
    });
    return this.#ph.xfer.decode(returns, (r) => [r.u32(), r.u32()]);
  }
  public async asyncBug(): Promise<void> {
    await this.#ph.xfer.transact(0x7, undefined, { async: true });
  }
  /** MISC_CONTROL_EVENT about control `id`: its new value. */
  public onControl(
    id: number,
    handler: (value: number, n: ScmiNotification) => void,
  ): Promise<() => Promise<void>> {
    return this.#ph.subscribe(
      CONTROL_EVENT,
      (n) => {
        handler(readU32(n.payload, 4), n);
      },
      { source: id },
    );
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
    messageNames: {
      0x3: 'MISC_CONTROL_SET',
      0x4: 'MISC_CONTROL_GET',
      0x5: 'MISC_CONTROL_NOTIFY',
      0x6: 'MISC_CONTROL_SET_ASYNC',
      0x7: 'MISC_ASYNC_BUG',
      0x9: 'MISC_BUG',
    },
    init: (ph) => {
      ph.registerEvents([
        {
          id: CONTROL_EVENT,
          name: 'misc-control-event',
          minPayload: 8, // control_id, value
          maxPayload: 8,
          sourceOf: (payload) => readU32(payload, 0),
          setNotifyEnabled: async (id, enable) => {
            if (id === undefined) {
              throw new ScmiError('E_ARGUMENT', 'MISC_CONTROL_NOTIFY names one control');
            }
            await ph.xfer.transact(0x5, (w) => w.u32(id).u32(enable ? 1 : 0), {
              txSize: 8,
              rxSize: 0,
            });
          },
        },
      ]);
      return new MiscClient(ph, name);
    },
  };
}

/** A promise of the next value `subscribe` gives its handler. */
function nextValue(subscribe: (handler: (value: number) => void) => Promise<() => Promise<void>>): {
  readonly value: Promise<number>;
  readonly off: Promise<() => Promise<void>>;
} {
  let resolve!: (value: number) => void;
  const value = new Promise<number>((r) => (resolve = r));
  return { value, off: subscribe((v) => resolve(v)) };
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
    expect(await misc.supports(0x5)).toBe(true); // NOTIFY: this wire has a P2A channel
    expect(await misc.supports(0x8)).toBe(false);
    // The platform's error status, named by the driver's messageNames.
    const missing = await misc.get(8).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ScmiStatusError);
    expect(missing).toMatchObject({
      status: ScmiStatus.NOT_FOUND,
      messageName: 'MISC_CONTROL_GET',
      message: expect.stringContaining(
        '0x84 (emulated misc) message 0x4 MISC_CONTROL_GET',
      ) as unknown,
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

  describe('notifications', () => {
    it("should deliver a notification the platform posts to the driver's subscriber", async () => {
      h = createHarness({ drivers: [EMULATED], vendorProtocols: [miscProtocol()] });
      const agent = await h.create();
      const misc = agent.protocol(EMULATED);
      const next = nextValue((handler) => misc.onControl(7, (value) => handler(value)));
      const off = await next.off;
      // The subscribe sent MISC_CONTROL_NOTIFY(7, enable) before it resolved.
      expect(h.platform.subscriptions(1)).toEqual([
        { protocolId: MISC, notificationId: CONTROL_EVENT, domainId: 7 },
      ]);
      expect(h.platform.postVendorNotification(MISC, CONTROL_EVENT, 7, u32s(7, 99))).toBe(1);
      expect(await next.value).toBe(99);
      // Another control is another source: not subscribed, not posted.
      expect(h.platform.postVendorNotification(MISC, CONTROL_EVENT, 8, u32s(8, 1))).toBe(0);
      await off();
      expect(h.platform.subscriptions(1)).toEqual([]);
      expect(h.platform.postVendorNotification(MISC, CONTROL_EVENT, 7, u32s(7, 100))).toBe(0);
      expect(agent.diagnostics.notifications.handlerErrors).toBe(0);
    });

    it('should deliver it to agent.events.subscribe too, with its name and source', async () => {
      h = createHarness({ drivers: [EMULATED], vendorProtocols: [miscProtocol()] });
      const agent = await h.create();
      let received!: (n: ScmiNotification) => void;
      const arrived = new Promise<ScmiNotification>((resolve) => (received = resolve));
      const off = await agent.events.subscribe(
        { protocolId: MISC, eventId: CONTROL_EVENT, source: 3 },
        (n) => received(n),
      );
      h.platform.postVendorNotification(MISC, CONTROL_EVENT, 3, u32s(3, 42));
      const n = await arrived;
      expect(n).toMatchObject({ protocolId: MISC, eventId: 0, name: 'misc-control-event' });
      expect(n.source).toBe(3);
      expect([...n.payload]).toEqual([...u32s(3, 42)]);
      await off();
    });

    it('should refuse the subscribe on a wire without a P2A channel, where NOTIFY is not listed', async () => {
      h = createHarness({
        drivers: [EMULATED],
        vendorProtocols: [miscProtocol()],
        wire: { a2p: [0], p2a: [] },
      });
      const agent = await h.create();
      const misc = agent.protocol(EMULATED);
      await expect(misc.onControl(7, () => undefined)).rejects.toMatchObject({
        code: 'E_NOT_SUPPORTED',
      });
      expect(await misc.supports(0x5)).toBe(false);
      // Raw, the platform answers it NOT_SUPPORTED before the handler runs.
      await expect(agent.transact(MISC, 0x5, u32s(7, 1))).rejects.toMatchObject({
        status: ScmiStatus.NOT_SUPPORTED,
      });
      expect(h.platform.subscriptions(1)).toEqual([]);
    });
  });

  describe('delayed responses', () => {
    it("should resolve an asynchronous command with its delayed response's return values", async () => {
      h = createHarness({ drivers: [EMULATED], vendorProtocols: [miscProtocol()] });
      const agent = await h.create();
      const misc = agent.protocol(EMULATED);
      const start = h.clock.now();
      expect(await misc.setAsync(7, 42)).toEqual([7, 42]);
      expect(h.clock.now() - start).toBeGreaterThanOrEqual(ASYNC_MS);
      expect(await misc.get(7)).toBe(42);
      expect(h.platform.counters.delayedResponsesPosted).toBe(1);
      expect(h.platform.pendingOperations).toBe(0);
    });

    it('should reject with GENERIC_ERROR when complete has a bug, and the platform say why', async () => {
      h = createHarness({ drivers: [EMULATED], vendorProtocols: [miscProtocol()] });
      const agent = await h.create();
      const failed = await agent
        .protocol(EMULATED)
        .asyncBug()
        .catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(ScmiStatusError);
      expect(failed).toMatchObject({
        status: ScmiStatus.GENERIC_ERROR,
        messageName: 'MISC_ASYNC_BUG',
      });
      const [failure] = h.platform.handlerErrorLog;
      expect(failure).toMatchObject({ agentId: 1, protocolId: MISC, messageId: 0x7 });
      expect(failure?.error).toBeInstanceOf(RangeError);
      // The channel goes on.
      expect(await agent.protocol(EMULATED).setAsync(1, 5)).toEqual([1, 5]);
    });

    it('should refuse an asynchronous command on a wire without a P2A channel', async () => {
      h = createHarness({
        drivers: [EMULATED],
        vendorProtocols: [miscProtocol()],
        wire: { a2p: [0], p2a: [] },
      });
      const agent = await h.create();
      // Refused by the agent, nothing sent; sent raw without `async`, by the platform.
      await expect(agent.protocol(EMULATED).setAsync(7, 1)).rejects.toMatchObject({
        code: 'E_NOT_SUPPORTED',
      });
      await expect(agent.transact(MISC, 0x6, u32s(7, 1))).rejects.toMatchObject({
        status: ScmiStatus.NOT_SUPPORTED,
      });
      expect(h.platform.pendingOperations).toBe(0);
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
