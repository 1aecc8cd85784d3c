import {
  RevokedError,
  ScmiConfigError,
  ScmiError,
  ScmiIoMem,
  ScmiMemoryMap,
  type ProtocolDriver,
  type ProtocolHandle,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { captureWarnings, createHarness } from './support/harness.js';

/** A driver whose API is its protocol handle, so that the tests call `ioremap` on it. */
const handleDriver: ProtocolDriver<ProtocolHandle> = {
  protocolId: 0x14,
  name: 'handle',
  version: 0x10000,
  init: (ph) => ph,
};

function configError(f: () => unknown): ScmiConfigError {
  try {
    f();
  } catch (error: unknown) {
    if (ScmiConfigError.is(error)) return error;
    throw error;
  }
  throw new Error('no error thrown');
}

describe('ScmiMemoryMap', () => {
  it('should refuse what is not a list of regions, naming the field', () => {
    const mem = new ArrayBuffer(16);
    const cases: [unknown, string, RegExp][] = [
      [{}, 'memoryMap', /expected an array/],
      [[null], 'memoryMap[0]', /expected a region/],
      [[{ base: 0x1000, memory: mem }], 'memoryMap[0].base', /bigint/],
      [[{ base: -8n, memory: mem }], 'memoryMap[0].base', /bigint from 0/],
      [[{ base: 0x1004n, memory: mem }], 'memoryMap[0].base', /a multiple of 8 .* got 0x1004/],
      // A hole in the list is refused at its index.
      // eslint-disable-next-line no-sparse-arrays
      [[{ base: 0n, memory: mem }, , { base: 0x100n, memory: mem }], 'memoryMap[1]', /region/],
      [[{ base: 0n, memory: new Uint8Array(4) }], 'memoryMap[0].memory', /ArrayBuffer/],
      [[{ base: (1n << 64n) - 8n, memory: mem }], 'memoryMap[0].base', /past the 64-bit/],
      [[{ base: 0n, memory: mem, name: 3 }], 'memoryMap[0].name', /string/],
      [
        [
          {
            base: 0n,
            memory: new (ArrayBuffer as new (n: number, o: object) => ArrayBuffer)(8, {
              maxByteLength: 16,
            }),
          },
        ],
        'memoryMap[0].memory',
        /resizable/,
      ],
      [
        [
          { base: 0x1000n, memory: mem, name: 'a' },
          { base: 0x1008n, memory: mem, name: 'b' },
        ],
        'memoryMap',
        /regions a and b overlap/,
      ],
    ];
    for (const [regions, field, message] of cases) {
      const e = configError(() => new ScmiMemoryMap(regions as never));
      expect(e.field).toBe(field);
      expect(e.message).toMatch(message);
    }
  });

  it('should keep the regions in address order and locate a range only inside one region', () => {
    const high = new SharedArrayBuffer(32);
    const low = new ArrayBuffer(16);
    const map = new ScmiMemoryMap([
      { base: 0x2000n, memory: high, name: 'high' },
      { base: 0x1000n, memory: low },
    ]);
    expect(map.regions.map((r) => r.name)).toEqual(['region1', 'high']);
    // The checked regions cannot be changed afterwards.
    expect(Object.isFrozen(map.regions)).toBe(true);
    expect(map.regions.every((r) => Object.isFrozen(r))).toBe(true);
    // Adjacent regions are allowed: one ends where the next begins.
    expect(
      () =>
        new ScmiMemoryMap([
          { base: 0x1010n, memory: low },
          { base: 0x1000n, memory: low },
        ]),
    ).not.toThrow();
    expect(map.locate(0x1000n, 16)).toEqual({ region: map.regions[0], offset: 0 });
    expect(map.locate(0x2018n, 8)).toEqual({ region: map.regions[1], offset: 0x18 });
    expect(map.locate(0x100cn, 8)).toBeUndefined(); // runs past the end of the low region
    expect(map.locate(0x0ffcn, 4)).toBeUndefined(); // before the first region
    expect(map.locate(0x1800n, 4)).toBeUndefined(); // in the gap
    expect(map.locate(0x2020n, 4)).toBeUndefined(); // past the last
  });
});

describe('ProtocolHandle.ioremap', () => {
  ensureNoLeaksInSuite();

  async function setUp(memoryMap?: ScmiMemoryMap) {
    const h = createHarness({ drivers: [handleDriver] });
    const agent = await h.create(memoryMap === undefined ? {} : { memoryMap });
    return { h, agent, ph: agent.protocol(handleDriver) };
  }

  it('should map a range of the memory map and read and write little-endian words there', async () => {
    const memory = new SharedArrayBuffer(64);
    const { agent, ph } = await setUp(new ScmiMemoryMap([{ base: 0x4000_0000n, memory }]));
    const io = ph.ioremap(0x4000_0010n, 16) as ScmiIoMem;
    expect(io).toBeInstanceOf(ScmiIoMem);
    expect(io).toMatchObject({ address: 0x4000_0010n, size: 16, mapped: true });
    io.write32(0x1234_5678, 4);
    const bytes = new Uint8Array(memory, 0x14, 4);
    expect([...bytes]).toEqual([0x78, 0x56, 0x34, 0x12]);
    expect(io.read32(4)).toBe(0x1234_5678);
    expect(io.read16(4)).toBe(0x5678);
    expect(io.read8(7)).toBe(0x12);
    io.write8(0xab, 0);
    io.write16(0xcdef, 2);
    expect(io.read32(0)).toBe(0xcdef_00ab);
    io.write64(0x0102_0304_0506_0708n, 8);
    expect(io.read32(8)).toBe(0x0506_0708);
    expect(io.read64(8)).toBe(0x0102_0304_0506_0708n);
    expect(io.read32(0xc)).toBe(0x0102_0304);
    // What the other end writes is what the mapping reads.
    new DataView(memory).setUint32(0x10, 0xfeed_beef, true);
    expect(io.read32()).toBe(0xfeed_beef);
    await agent.remove();
  });

  it('should refuse an access outside the mapping, unaligned, or a value that does not fit', async () => {
    const memory = new ArrayBuffer(64);
    const { agent, ph } = await setUp(new ScmiMemoryMap([{ base: 0x1000n, memory }]));
    const io = ph.ioremap(0x1002n, 8) as ScmiIoMem;
    const argument = (f: () => unknown, message: RegExp): void => {
      let caught: unknown;
      try {
        f();
      } catch (error: unknown) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ScmiError);
      expect(caught).toMatchObject({ code: 'E_ARGUMENT' });
      expect((caught as Error).message).toMatch(message);
    };
    argument(() => io.read32(0), /32-bit access at 0x1002 is not aligned/);
    argument(() => io.read32(6), /outside the 8 bytes mapped/);
    argument(() => io.read8(8), /outside/);
    argument(() => io.read8(-1), /outside/);
    argument(() => io.read8(1.5), /outside/);
    argument(() => io.write16(0x1_0000, 2), /not a 16-bit unsigned value/);
    argument(() => io.write32(-1, 2), /not a 32-bit unsigned value/);
    argument(() => io.write64(1 as never, 0), /64-bit access at 0x1002 is not aligned/);
    io.write32(0xffff_ffff, 2);
    expect(io.read16(2)).toBe(0xffff);
    expect(new Uint8Array(memory, 4, 4)).toEqual(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    await agent.remove();
  });

  it('should not map a range no region holds whole, nor anything without a memory map', async () => {
    const mapped = await setUp(new ScmiMemoryMap([{ base: 0x1000n, memory: new ArrayBuffer(16) }]));
    expect(mapped.ph.ioremap(0x100cn, 8)).toBeUndefined();
    expect(mapped.ph.ioremap(0x2000n, 4)).toBeUndefined();
    expect(() => mapped.ph.ioremap(0x1000 as never, 4)).toThrow(/address must be a bigint from 0/);
    expect(() => mapped.ph.ioremap(0x1000n, 0)).toThrow(/size must be a whole number from 1/);
    // A view maps for its handle.
    expect(mapped.ph.withCallOptions({ timeoutMs: 5 }).ioremap(0x1000n, 4)).toBeInstanceOf(
      ScmiIoMem,
    );
    await mapped.agent.remove();
    const bare = await setUp();
    expect(bare.ph.ioremap(0x1000n, 4)).toBeUndefined();
    await bare.agent.remove();
  });

  it("should give the driver the agent's logger, its messages prefixed, a view's too", async () => {
    const h = createHarness({ drivers: [handleDriver] });
    const warnings = captureWarnings(h);
    const agent = await h.create();
    const ph = agent.protocol(handleDriver);
    ph.logger.warn('no fast channel for domain 3');
    ph.withCallOptions({ timeoutMs: 5 }).logger.warn('from a view');
    expect(warnings).toEqual([
      'scmi0: protocol clock: no fast channel for domain 3',
      'scmi0: protocol clock: from a view',
    ]);
    await agent.remove();
  });

  it('should refuse a memory map that is not an ScmiMemoryMap', async () => {
    const h = createHarness({ drivers: [handleDriver] });
    await expect(
      h.create({ memoryMap: [{ base: 0n, memory: new ArrayBuffer(4) }] as never }),
    ).rejects.toMatchObject({
      code: 'E_CONFIG',
      field: 'memoryMap',
    });
  });

  it('should refuse an access to memory that was detached (transferred away)', async () => {
    const memory = new ArrayBuffer(16);
    const { agent, ph } = await setUp(new ScmiMemoryMap([{ base: 0x1000n, memory }]));
    const io = ph.ioremap(0x1000n, 16) as ScmiIoMem;
    io.write32(1, 0);
    structuredClone(memory, { transfer: [memory] });
    expect(() => io.read32(0)).toThrow(RevokedError);
    expect(() => io.write32(2, 4)).toThrow(/its memory was detached/);
    await agent.remove();
  });

  it('should stop every access once the agent is removed, and map nothing more', async () => {
    const memory = new SharedArrayBuffer(16);
    const { agent, ph } = await setUp(new ScmiMemoryMap([{ base: 0x1000n, memory }]));
    const io = ph.ioremap(0x1000n, 16) as ScmiIoMem;
    io.write32(5, 0);
    await agent.remove();
    expect(io.mapped).toBe(false);
    expect(() => io.write32(6, 0)).toThrow(RevokedError);
    expect(() => io.read32(0)).toThrow(RevokedError);
    expect(() => ph.ioremap(0x1000n, 4)).toThrow(RevokedError);
    expect(new Uint32Array(memory)[0]).toBe(5); // the last write before the removal stays
  });
});
