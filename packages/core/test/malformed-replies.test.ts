import {
  ScmiMalformedError,
  ScmiStatus,
  ScmiStatusError,
  type MultiPartSpec,
  type ProtocolDriver,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness } from './support/harness.js';

const BASE = 0x10;
const CLOCK = 0x14;

/** Little-endian 32-bit words. */
function u32s(...words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w, true));
  return b;
}

/** A multi-part spec reading `returned` (15:0) and `remaining` (31:16) then one u32 per item. */
const wordsSpec: MultiPartSpec<number> = {
  txSize: 4,
  prepare: (w, index) => void w.u32(index),
  counts: (r) => {
    const word = r.u32();
    return { returned: word & 0xffff, remaining: word >>> 16 };
  },
  item: (r) => r.u32(),
};

describe('agent.diagnostics.malformedReplies', () => {
  let agent: ScmiAgent | undefined;
  afterEach(async () => {
    await agent?.remove();
    agent = undefined;
  });
  ensureNoLeaksInSuite();

  it('should count a reply Base rejects after the probe, by protocol, and nothing for a sound one or an error status', async () => {
    const h = createHarness();
    agent = await h.create();
    expect(agent.diagnostics.malformedReplies).toEqual({});
    // DISCOVER_VENDOR answered SUCCESS with 4 bytes where its 16-byte name belongs.
    h.platform.override = (req) =>
      req.protocolId === BASE && req.messageId === 0x3
        ? { status: ScmiStatus.SUCCESS, returns: u32s(0x41414141) }
        : req.protocolId === BASE && req.messageId === 0x4
          ? { status: ScmiStatus.NOT_SUPPORTED }
          : undefined;
    await expect(agent.base.discoverVendor()).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiMalformedError);
    await expect(agent.base.discoverSubVendor()).rejects.toBeInstanceOf(ScmiStatusError);
    await expect(agent.base.discoverImplementationVersion()).resolves.toBe(0x0102);
    expect(agent.diagnostics.malformedReplies).toEqual({ base: 2 });
  });

  it('should count a LIST_PROTOCOLS reply refused during the probe, beside its discovery failure', async () => {
    const h = createHarness();
    // The first LIST_PROTOCOLS says 2 protocols and carries none of their ids.
    h.platform.override = (req) =>
      req.protocolId === BASE && req.messageId === 0x6
        ? { status: ScmiStatus.SUCCESS, returns: u32s(2) }
        : undefined;
    agent = await h.create();
    expect(agent.info.discoveryFailures).toMatchObject([
      { error: expect.objectContaining({ code: 'E_TRUNCATED' }) as unknown },
    ]);
    expect(agent.info.protocols).toEqual([]); // a malformed part adds no id
    expect(agent.diagnostics.malformedReplies).toEqual({ base: 1 });
  });

  it("should count a driver's decode and iterate rejections under its protocol, not other errors", async () => {
    const h = createHarness();
    agent = await h.create();
    const clock = agent.xfer(CLOCK);
    // decode gives what the reader read; a short reply is counted.
    expect(clock.decode(u32s(7, 8), (r) => [r.u32(), r.u32()])).toEqual([7, 8]);
    expect(() => clock.decode(new Uint8Array(2), (r) => r.u32())).toThrow(
      expect.objectContaining({ code: 'E_TRUNCATED' }) as Error,
    );
    // An error of the caller's own reading code is not the platform's: rethrown, not counted.
    expect(() =>
      clock.decode(u32s(1), () => {
        throw new RangeError('driver bug');
      }),
    ).toThrow(RangeError);
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });

    // A multi-part reply announcing more items than the spec allows: E_MULTIPART, counted.
    h.platform.override = (req) =>
      req.protocolId === CLOCK && req.messageId === 0x4
        ? { status: ScmiStatus.SUCCESS, returns: u32s(1 | (9 << 16), 5) }
        : undefined;
    await expect(clock.iterate(0x4, { ...wordsSpec, max: 4 })).rejects.toMatchObject({
      code: 'E_MULTIPART',
    });
    // A part shorter than its items: E_TRUNCATED from the reader, counted.
    h.platform.override = (req) =>
      req.protocolId === CLOCK && req.messageId === 0x4
        ? { status: ScmiStatus.SUCCESS, returns: u32s(2) }
        : undefined;
    await expect(clock.iterate(0x4, wordsSpec)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    // A sound two-part reply: read whole, nothing counted.
    h.platform.override = (req) => {
      if (req.protocolId !== CLOCK || req.messageId !== 0x4) return undefined;
      const index = new DataView(req.payload.buffer, req.payload.byteOffset).getUint32(0, true);
      return index === 0
        ? { status: ScmiStatus.SUCCESS, returns: u32s(1 | (1 << 16), 10) }
        : { status: ScmiStatus.SUCCESS, returns: u32s(1, 11) };
    };
    await expect(clock.iterate(0x4, wordsSpec)).resolves.toEqual([10, 11]);
    // An item reader's own error is not counted.
    await expect(
      clock.iterate(0x4, {
        ...wordsSpec,
        item: () => {
          throw new TypeError('driver bug');
        },
      }),
    ).rejects.toBeInstanceOf(TypeError);
    // An extended name cut short.
    h.platform.override = (req) =>
      req.protocolId === CLOCK && req.messageId === 0x8
        ? { status: ScmiStatus.SUCCESS, returns: u32s(0, 0x41) }
        : undefined;
    await expect(clock.extendedName(0x8, 0)).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 4 });
  });

  it('should count once a multi-part part that returns no item with items remaining, still ending the walk with the items collected (Linux scmi_iterator_run)', async () => {
    const h = createHarness();
    agent = await h.create();
    const clock = agent.xfer(CLOCK);
    // Two items of five, then "none returned, three remaining".
    h.platform.override = (req) => {
      if (req.protocolId !== CLOCK || req.messageId !== 0x4) return undefined;
      const index = new DataView(req.payload.buffer, req.payload.byteOffset).getUint32(0, true);
      return index === 0
        ? { status: ScmiStatus.SUCCESS, returns: u32s(2 | (3 << 16), 10, 11) }
        : { status: ScmiStatus.SUCCESS, returns: u32s(0 | (3 << 16)) };
    };
    const warned: Error[] = [];
    await expect(
      clock.iterate(0x4, { ...wordsSpec, warn: (_message, error) => void warned.push(error) }),
    ).resolves.toEqual([10, 11]);
    expect(warned).toHaveLength(1);
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
    // The error told is the one counted: it is not counted again.
    const [told] = warned;
    expect(told).toBeInstanceOf(ScmiMalformedError);
    clock.malformed(told as ScmiMalformedError);
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 1 });
    // A spec.warn that throws that error: the walk fails with it, counted once all the same.
    await expect(
      clock.iterate(0x4, {
        ...wordsSpec,
        warn: (_message, error) => {
          throw error;
        },
      }),
    ).rejects.toMatchObject({ code: 'E_MULTIPART' });
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 2 });
    // Without spec.warn (the agent's logger warns): counted too.
    await expect(clock.iterate(0x4, wordsSpec)).resolves.toEqual([10, 11]);
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 3 });
    // None returned and none remaining is the end of the list, not an anomaly: not counted.
    h.platform.override = (req) =>
      req.protocolId === CLOCK && req.messageId === 0x4
        ? { status: ScmiStatus.SUCCESS, returns: u32s(0) }
        : undefined;
    await expect(clock.iterate(0x4, wordsSpec)).resolves.toEqual([]);
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 3 });
  });

  it('should keep the counts after removal, and count the reply that failed a driver init', async () => {
    const clockDriver: ProtocolDriver<bigint> = {
      protocolId: CLOCK,
      name: 'clock',
      version: 0x30000,
      init: async (ph) => {
        const returns = await ph.xfer.transact(0x1, undefined, { rxSize: 8 });
        return ph.xfer.decode(returns, (r) => r.u64());
      },
    };
    const h = createHarness({ drivers: [clockDriver] });
    h.platform.override = (req) =>
      req.protocolId === CLOCK && req.messageId === 0x1
        ? { status: ScmiStatus.SUCCESS, returns: u32s(3) } // 4 bytes where 8 are read
        : undefined;
    const a = await h.create();
    expect(a.protocolErrors.get(CLOCK)).toMatchObject({ code: 'E_TRUNCATED' });
    expect(a.diagnostics.malformedReplies).toEqual({ clock: 1 });
    await a.remove();
    expect(a.diagnostics.malformedReplies).toEqual({ clock: 1 });
  });

  it('should count an error once through nested decodes and malformed(), and never a caller value or bound', async () => {
    const h = createHarness();
    agent = await h.create();
    const clock = agent.xfer(CLOCK);
    // decode inside decode (a driver decoding from a spec callback): one reply, counted once.
    expect(() =>
      clock.decode(u32s(1), () => clock.decode(new Uint8Array(1), (r) => r.u32())),
    ).toThrow(expect.objectContaining({ code: 'E_TRUNCATED' }) as Error);
    const found = new ScmiMalformedError('a clock listed twice', 'E_CLOCK_ID');
    expect(clock.malformed(found)).toBe(found);
    expect(clock.malformed(found)).toBe(found); // the same error: counted once
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 2 });
    // A caller's own value is not the platform's fault.
    expect(() =>
      clock.decode(u32s(1), () => {
        throw new ScmiMalformedError('rate does not fit', 'E_FIELD_RANGE');
      }),
    ).toThrow(ScmiMalformedError);
    // A bad bound is refused before anything is sent, and not counted.
    const sent = agent.diagnostics.channels[0]?.stats.sent;
    await expect(clock.iterate(0x4, { ...wordsSpec, max: -1 })).rejects.toMatchObject({
      code: 'E_ARGUMENT',
    });
    await expect(clock.iterate(0x4, { ...wordsSpec, max: Number.NaN })).rejects.toMatchObject({
      code: 'E_ARGUMENT',
    });
    expect(agent.diagnostics.channels[0]?.stats.sent).toBe(sent);
    // A read that returns a promise: its rejection is counted too.
    await expect(
      clock.decode(u32s(1), async (r) => {
        await Promise.resolve();
        return r.u64();
      }),
    ).rejects.toMatchObject({ code: 'E_TRUNCATED' });
    expect(agent.diagnostics.malformedReplies).toEqual({ clock: 3 });
  });

  it('should count the reserved, Base or repeated protocol ids discovery drops', async () => {
    const h = createHarness();
    h.platform.protocols = [0x14, 0x14];
    agent = await h.create();
    expect(agent.info.discoveryFailures).toMatchObject([
      {
        step: 'list-protocols',
        error: expect.objectContaining({ code: 'E_PROTOCOL_ID' }) as unknown,
      },
    ]);
    expect(agent.info.protocols).toEqual([0x14]);
    expect(agent.diagnostics.malformedReplies).toEqual({ base: 1 });
  });
});
