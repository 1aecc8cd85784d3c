/**
 * The Performance client's fast channels against a platform whose fast-channel answers a stub
 * gives (PERF_DOMAIN_ATTRIBUTES bit 27, PROTOCOL_MESSAGE_ATTRIBUTES, PERF_DESCRIBE_FASTCHANNEL):
 * what the emulated platform never answers — a doorbell, a wrong chan_size, an address outside
 * the memory map. The emulated platform's own fast channels: performance-fast-channels.test.ts.
 */
import {
  LOGGER,
  RevokedError,
  ScmiError,
  ScmiMemoryMap,
  ScmiStatusError,
  silentLogger,
  type ProtocolDriver,
} from '@scmi-ts/core';
import {
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type FaultRule,
  type PerformanceDomainConfig,
} from '@scmi-ts/platform';
import {
  PerformanceMessageId,
  performanceProtocolDriver,
  type PerformanceProtocol,
} from '../src/performance/performance-protocol.js';
import { createHarness, type Harness } from './support/harness.js';
import { spyRequests } from './support/spy-requests.js';
import { stubbedDriver, type TransactStub } from './support/stub-handle.js';
import { DENIED, corrupt, le32, le64, onCommand } from './support/wire-bytes.js';

const PERF = 0x13;
const PROTOCOL_MESSAGE_ATTRIBUTES = 0x2;
const LEVELS = [
  { value: 400_000, powerCost: 100, latencyUs: 50 },
  { value: 800_000, powerCost: 250, latencyUs: 50 },
  { value: 1_200_000, powerCost: 500, latencyUs: 100 },
];
const BASE = 0x8000_0000n;

/** The Performance driver over a handle whose commands `stub` may answer. */
function perfDriver(stub: TransactStub): ProtocolDriver<PerformanceProtocol> {
  return stubbedDriver(performanceProtocolDriver, stub);
}

const words = (...w: number[]): Uint8Array => new Uint8Array(w.flatMap(le32));

/** That `error` is an ScmiError with `code` and a message matching `message`. */
function expectSkipped(error: unknown, code: string, message: RegExp): void {
  expect(error).toBeInstanceOf(ScmiError);
  expect((error as ScmiError).code).toBe(code);
  expect((error as ScmiError).message).toMatch(message);
}

/** A PERF_DESCRIBE_FASTCHANNEL reply: no doorbell unless `doorbell` is given. */
function describeReply(
  address: bigint,
  size: number,
  doorbell?: { widthCode: number; address: bigint; set: bigint; preserve: bigint },
): Uint8Array {
  const attributes = doorbell === undefined ? 0 : 1 | (doorbell.widthCode << 1);
  return new Uint8Array([
    ...le32(attributes),
    ...le32(1000),
    ...le64(address),
    ...le32(size),
    ...le64(doorbell?.address ?? 0n),
    ...le64(doorbell?.set ?? 0n),
    ...le64(doorbell?.preserve ?? 0n),
  ]);
}

/** The stub's channels from BASE: LEVEL_SET 0x00, LIMITS_SET 0x04, LEVEL_GET 0x0c, LIMITS_GET 0x10. */
const OFFSETS: Record<number, [number, number]> = {
  [PerformanceMessageId.LEVEL_SET]: [0x0, 4],
  [PerformanceMessageId.LIMITS_SET]: [0x4, 8],
  [PerformanceMessageId.LEVEL_GET]: [0xc, 4],
  [PerformanceMessageId.LIMITS_GET]: [0x10, 8],
};

interface StubOptions {
  /** PROTOCOL_MESSAGE_ATTRIBUTES of the four commands (default 1: a fast channel). */
  readonly messageAttributes?: number;
  /** PERF_DESCRIBE_FASTCHANNEL's reply for a message id, or undefined for the default layout. */
  readonly describe?: (messageId: number) => Uint8Array | undefined;
  /** The domain's flags are ANDed with this (to clear set-level or set-limits). */
  readonly flagsMask?: number;
}

/** A stub that gives domain 0 fast channels at BASE (see {@link OFFSETS}). */
function fastChannelStub(options: StubOptions = {}): TransactStub {
  return (messageId, w, forward) => {
    if (messageId === PerformanceMessageId.DOMAIN_ATTRIBUTES && w[0] === 0) {
      return forward().then((reply) => {
        const copy = reply.slice();
        const view = new DataView(copy.buffer);
        view.setUint32(
          0,
          ((view.getUint32(0, true) | (1 << 27)) & (options.flagsMask ?? ~0)) >>> 0,
          true,
        );
        return copy;
      });
    }
    if (messageId === PROTOCOL_MESSAGE_ATTRIBUTES && (w[0] ?? 0) >= 0x5 && (w[0] ?? 0) <= 0x8) {
      return Promise.resolve(words(options.messageAttributes ?? 1));
    }
    if (messageId === PerformanceMessageId.DESCRIBE_FASTCHANNEL) {
      const id = w[1] ?? 0;
      const given = options.describe?.(id);
      if (given !== undefined) return Promise.resolve(given);
      const [offset, size] = OFFSETS[id] ?? [0, 4];
      return Promise.resolve(describeReply(BASE + BigInt(offset), size));
    }
    return undefined;
  };
}

describe('Performance client fast channels (stubbed platform answers)', () => {
  let h: Harness | undefined;

  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  function harness(
    driver: ProtocolDriver<PerformanceProtocol>,
    levels: PerformanceDomainConfig['levels'] = LEVELS,
    platformFaults: readonly FaultRule[] = [],
  ): Harness {
    const performanceDomains: PerformanceDomainConfig[] = [
      { name: 'cpu', levels, level: 800_000 },
      { name: 'gpu', levels: LEVELS },
    ];
    h = createHarness({
      drivers: [driver],
      platformFaults,
      platformConfig: validatePlatformConfig({
        ...createDefaultPlatformConfig(),
        devices: [],
        agents: [{ id: 1, name: 'OSPM', protocols: ['performance'] }],
        performanceDomains,
      }),
    });
    return h;
  }

  it('should set the channels up as Linux does, in its order, and leave the other domain alone', async () => {
    const driver = perfDriver(fastChannelStub());
    const harnessed = harness(driver);
    const attributesAsked = spyRequests(harnessed, PERF, PROTOCOL_MESSAGE_ATTRIBUTES);
    const memory = new SharedArrayBuffer(64);
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
    });
    const perf = agent.protocol(driver);
    const fc = perf.fastChannels(0);
    expect(fc).toEqual({
      levelGet: { attributes: 0, rateLimitUs: 1000, address: BASE + 0xcn, size: 4 },
      limitsGet: { attributes: 0, rateLimitUs: 1000, address: BASE + 0x10n, size: 8 },
      levelSet: { attributes: 0, rateLimitUs: 1000, address: BASE, size: 4 },
      limitsSet: { attributes: 0, rateLimitUs: 1000, address: BASE + 0x4n, size: 8 },
      skipped: new Map(),
    });
    expect(perf.fastChannels(1)).toBeUndefined(); // no bit 27
    expect(perf.domains.info(0).fastChannels).toBe(true);
    // The stub answered the fast-channel checks: none of them reached the platform.
    expect(attributesAsked.filter(([m]) => m !== undefined && m >= 5 && m <= 8)).toEqual([]);
    await agent.remove();
  });

  it('should write a level and limits into their channels, sending no message, and read them back', async () => {
    const driver = perfDriver(fastChannelStub());
    const harnessed = harness(driver);
    const levelSets = spyRequests(harnessed, PERF, PerformanceMessageId.LEVEL_SET);
    const memory = new SharedArrayBuffer(64);
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
    });
    const perf = agent.protocol(driver);
    const mem = new DataView(memory);
    await perf.setLevel(0, 1_200_000);
    expect(mem.getUint32(0x0, true)).toBe(1_200_000);
    await perf.setLimits(0, 800_000, 400_000);
    expect([mem.getUint32(0x4, true), mem.getUint32(0x8, true)]).toEqual([800_000, 400_000]);
    expect(levelSets).toEqual([]);
    // The platform never read the channel: its level is the configured one.
    expect(harnessed.platform.snapshot().performanceDomains[0]?.level).toBe(800_000);
    // The get channels read what the platform (here the test) wrote there.
    mem.setUint32(0xc, 400_000, true);
    mem.setUint32(0x10, 1_200_000, true);
    mem.setUint32(0x14, 800_000, true);
    expect(await perf.getLevel(0)).toBe(400_000);
    expect(await perf.getLimits(0)).toEqual({ max: 1_200_000, min: 800_000 });
    expect(await perf.getFrequency(0)).toBe(400_000 * perf.domains.info(0).multFactor);
    // A view with call options uses the channels too; withoutFastChannels sends the messages.
    await perf.withCallOptions({ timeoutMs: 50 }).setLevel(0, 400_000);
    expect(mem.getUint32(0x0, true)).toBe(400_000);
    expect(levelSets).toEqual([]);
    await perf.withoutFastChannels().setLevel(0, 1_200_000);
    expect(levelSets).toEqual([[0, 1_200_000]]);
    expect(await perf.withoutFastChannels().getLevel(0)).toBe(1_200_000);
    expect(mem.getUint32(0x0, true)).toBe(400_000);
    await agent.remove();
    // After the removal nothing reaches the memory.
    await expect(perf.setLevel(0, 800_000)).rejects.toBeInstanceOf(RevokedError);
    expect(mem.getUint32(0x0, true)).toBe(400_000);
  });

  it('should ring a set channel doorbell as Linux does: set mask ORed over the preserved bits', async () => {
    const memory = new SharedArrayBuffer(64);
    const mem = new DataView(memory);
    const cases = [
      { widthCode: 0, at: 0x20, set: 0x81n, preserve: 0x0fn, before: 0xf3, after: 0x83 },
      { widthCode: 1, at: 0x22, set: 0x8000n, preserve: 0x00ffn, before: 0x1234, after: 0x8034 },
      { widthCode: 2, at: 0x24, set: 0x1n, preserve: 0n, before: 0xffff_fff0, after: 0x1 },
      {
        widthCode: 3,
        at: 0x28,
        set: 1n << 63n,
        preserve: 0xffn,
        before: 0x1234_5678n,
        after: (1n << 63n) | 0x78n,
      },
    ];
    for (const c of cases) {
      const driver = perfDriver(
        fastChannelStub({
          describe: (id) =>
            id === PerformanceMessageId.LEVEL_SET
              ? describeReply(BASE, 4, {
                  widthCode: c.widthCode,
                  address: BASE + BigInt(c.at),
                  set: c.set,
                  preserve: c.preserve,
                })
              : undefined,
        }),
      );
      const harnessed = harness(driver);
      const agent = await harnessed.create({
        memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
      });
      const perf = agent.protocol(driver);
      expect(perf.fastChannels(0)?.levelSet?.doorbell).toEqual({
        widthBits: 8 << c.widthCode,
        address: BASE + BigInt(c.at),
        setMask: c.set,
        preserveMask: c.preserve,
      });
      const read = (): number | bigint =>
        c.widthCode === 0
          ? mem.getUint8(c.at)
          : c.widthCode === 1
            ? mem.getUint16(c.at, true)
            : c.widthCode === 2
              ? mem.getUint32(c.at, true)
              : mem.getBigUint64(c.at, true);
      if (c.widthCode === 0) mem.setUint8(c.at, c.before as number);
      else if (c.widthCode === 1) mem.setUint16(c.at, c.before as number, true);
      else if (c.widthCode === 2) mem.setUint32(c.at, c.before as number, true);
      else mem.setBigUint64(c.at, c.before as bigint, true);
      await perf.setLevel(0, 400_000);
      expect(mem.getUint32(0, true)).toBe(400_000);
      expect(read()).toBe(c.after);
      await agent.remove();
      await harnessed.close();
      h = undefined;
    }
  });

  it('should leave to messages each command whose channel cannot be set up, saying why', async () => {
    const memory = new SharedArrayBuffer(64);
    const driver = perfDriver(
      fastChannelStub({
        describe: (id) => {
          if (id === PerformanceMessageId.LEVEL_GET) return describeReply(BASE + 0xcn, 8); // wrong size
          if (id === PerformanceMessageId.LIMITS_GET) return describeReply(0x1000n, 8); // not mapped
          if (id === PerformanceMessageId.LEVEL_SET) {
            // its doorbell is not mapped
            return describeReply(BASE, 4, {
              widthCode: 2,
              address: 0x2000n,
              set: 1n,
              preserve: 0n,
            });
          }
          return undefined; // PERF_LIMITS_SET: the default layout, mapped
        },
      }),
    );
    const harnessed = harness(driver);
    const levelSets = spyRequests(harnessed, PERF, PerformanceMessageId.LEVEL_SET);
    const logged: string[] = [];
    harnessed.container.rebind(LOGGER).toConstantValue({
      ...silentLogger,
      debug: (m: string) => logged.push(`debug ${m}`),
      warn: (m: string) => logged.push(`warn ${m}`),
    });
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
    });
    const perf = agent.protocol(driver);
    const fc = perf.fastChannels(0);
    expect(fc?.levelGet).toBeUndefined();
    expect(fc?.limitsGet).toBeUndefined();
    expect(fc?.levelSet).toBeUndefined();
    expectSkipped(
      fc?.skipped.get(PerformanceMessageId.LEVEL_GET),
      'E_FAST_CHANNEL_SIZE',
      /PERF_LEVEL_GET's fast channel is 8 bytes \(chan_size\), not 4/,
    );
    expectSkipped(
      fc?.skipped.get(PerformanceMessageId.LIMITS_GET),
      'E_NOT_MAPPED',
      /fast channel \(8 bytes at 0x1000\) is in no region/,
    );
    expectSkipped(
      fc?.skipped.get(PerformanceMessageId.LEVEL_SET),
      'E_NOT_MAPPED',
      /doorbell \(4 bytes at 0x2000\)/,
    );
    // Each logged as Linux does: a warning, "using regular messaging".
    const about = logged.filter((l) => l.includes('fast channel for'));
    expect(about).toHaveLength(3);
    expect(about[0]).toMatch(
      /^warn scmi0: protocol perf: performance domain 0: no fast channel for PERF_LEVEL_GET, using regular messaging: .*chan_size/,
    );
    expect(about[1]).toMatch(
      /^warn .*PERF_LIMITS_GET, using regular messaging: .*memoryMap option/,
    );
    expect(about[2]).toMatch(/^warn .*PERF_LEVEL_SET, using regular messaging: .*doorbell/);
    // The wrong size is a malformed reply, counted.
    expect(agent.diagnostics.malformedReplies).toEqual({ perf: 1 });
    // Left to messages: the level goes to the platform, which answers.
    await perf.setLevel(0, 400_000);
    expect(levelSets).toEqual([[0, 400_000]]);
    expect(await perf.getLevel(0)).toBe(400_000);
    await agent.remove();
  });

  it('should take no channel without bit 0 in PROTOCOL_MESSAGE_ATTRIBUTES, nor one the domain may not set', async () => {
    const describes: number[] = [];
    const stub = fastChannelStub({ messageAttributes: 0 });
    const driver = perfDriver((messageId, w, forward) => {
      if (messageId === PerformanceMessageId.DESCRIBE_FASTCHANNEL) describes.push(w[1] ?? -1);
      return stub(messageId, w, forward);
    });
    const harnessed = harness(driver);
    const logged: string[] = [];
    harnessed.container.rebind(LOGGER).toConstantValue({
      ...silentLogger,
      debug: (m: string) => logged.push(`debug ${m}`),
      warn: (m: string) => logged.push(`warn ${m}`),
    });
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory: new SharedArrayBuffer(64) }]),
    });
    const fc = agent.protocol(driver).fastChannels(0);
    expect([...(fc?.skipped.keys() ?? [])]).toEqual([0x8, 0x6, 0x7, 0x5]); // Linux's order
    // Linux's dev_dbg "Skip FC init": debug lines, no warning.
    expect(logged.filter((l) => l.includes('no fast channel announced'))).toEqual([
      'debug scmi0: protocol perf: performance domain 0: PERF_LEVEL_GET: no fast channel announced',
      'debug scmi0: protocol perf: performance domain 0: PERF_LIMITS_GET: no fast channel announced',
      'debug scmi0: protocol perf: performance domain 0: PERF_LEVEL_SET: no fast channel announced',
      'debug scmi0: protocol perf: performance domain 0: PERF_LIMITS_SET: no fast channel announced',
    ]);
    expect(logged.filter((l) => l.startsWith('warn'))).toEqual([]);
    expectSkipped(
      fc?.skipped.get(0x7),
      'E_NOT_SUPPORTED',
      /PERF_LEVEL_SET's PROTOCOL_MESSAGE_ATTRIBUTES \(0x0\) does not announce/,
    );
    expect(describes).toEqual([]);
    await agent.remove();
    await harnessed.close();

    // A domain without set-level (bit 30) and set-limits (bit 31): only the get channels.
    const described: number[] = [];
    const stub2 = fastChannelStub({ flagsMask: ~((1 << 30) | (1 << 31)) });
    const driver2 = perfDriver((messageId, w, forward) => {
      if (messageId === PerformanceMessageId.DESCRIBE_FASTCHANNEL) described.push(w[1] ?? -1);
      return stub2(messageId, w, forward);
    });
    const second = harness(driver2);
    const agent2 = await second.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory: new SharedArrayBuffer(64) }]),
    });
    const fc2 = agent2.protocol(driver2).fastChannels(0);
    expect(described).toEqual([0x8, 0x6]);
    expect(fc2?.levelGet).toBeDefined();
    expect(fc2?.levelSet).toBeUndefined();
    expect(fc2?.skipped.size).toBe(0);
    // Sent as a message, and the platform answers for itself.
    await expect(agent2.protocol(driver2).setLevel(0, 400_000)).resolves.toBeUndefined();
    await agent2.remove();
  });

  it('should refuse a channel or doorbell that is not aligned or lies over another, counted', async () => {
    const memory = new SharedArrayBuffer(64);
    const mem = new DataView(memory);
    const driver = perfDriver(
      fastChannelStub({
        describe: (id) => {
          // PERF_LEVEL_GET at BASE + 2: its word is not 4-byte aligned.
          if (id === PerformanceMessageId.LEVEL_GET) return describeReply(BASE + 0x2n, 4);
          // PERF_LIMITS_GET over PERF_LIMITS_SET's words (BASE + 4, 8 bytes).
          if (id === PerformanceMessageId.LIMITS_GET) return describeReply(BASE + 0x8n, 8);
          // PERF_LEVEL_SET's 64-bit doorbell at BASE + 0x24: not 8-byte aligned.
          if (id === PerformanceMessageId.LEVEL_SET) {
            return describeReply(BASE, 4, {
              widthCode: 3,
              address: BASE + 0x24n,
              set: 1n,
              preserve: 0n,
            });
          }
          return undefined; // PERF_LIMITS_SET: BASE + 4, no doorbell
        },
      }),
    );
    const harnessed = harness(driver);
    const requests = spyRequests(harnessed, PERF);
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
    });
    const perf = agent.protocol(driver);
    const fc = perf.fastChannels(0);
    expectSkipped(
      fc?.skipped.get(PerformanceMessageId.LEVEL_GET),
      'E_FAST_CHANNEL_ALIGN',
      /PERF_LEVEL_GET's fast channel is at 0x80000002, not 4-byte aligned/,
    );
    expectSkipped(
      fc?.skipped.get(PerformanceMessageId.LEVEL_SET),
      'E_FAST_CHANNEL_ALIGN',
      /PERF_LEVEL_SET's doorbell is at 0x80000024, not 8-byte aligned/,
    );
    // PERF_LIMITS_GET was set up before PERF_LIMITS_SET (Linux's order): the later one is refused.
    expect(fc?.limitsGet?.address).toBe(BASE + 0x8n);
    expectSkipped(
      fc?.skipped.get(PerformanceMessageId.LIMITS_SET),
      'E_FAST_CHANNEL_OVERLAP',
      /PERF_LIMITS_SET's fast channel \(8 bytes at 0x80000004\) overlaps performance domain 0 PERF_LIMITS_GET's fast channel \(8 bytes at 0x80000008\)/,
    );
    expect(agent.diagnostics.malformedReplies).toEqual({ perf: 3 });
    // Left to messages, which the platform answers: nothing written to the memory.
    const before = new Uint8Array(memory).slice();
    await perf.setLevel(0, 400_000);
    await perf.setLimits(0, 800_000, 400_000);
    expect(await perf.getLevel(0)).toBe(400_000);
    expect(requests.filter(([m]) => m === 0x5 || m === 0x7 || m === 0x8).length).toBe(3);
    expect(Buffer.from(new Uint8Array(memory)).equals(Buffer.from(before))).toBe(true);
    expect(mem.getUint32(0, true)).toBe(0);
    await agent.remove();
  });

  it('should take one doorbell for both set channels, but none over a channel', async () => {
    const memory = new SharedArrayBuffer(64);
    const mem = new DataView(memory);
    const bell = { widthCode: 2, address: BASE + 0x20n, set: 0x1n, preserve: 0n };
    const driver = perfDriver(
      fastChannelStub({
        describe: (id) => {
          if (id === PerformanceMessageId.LEVEL_SET) return describeReply(BASE, 4, bell);
          if (id === PerformanceMessageId.LIMITS_SET) return describeReply(BASE + 0x4n, 8, bell);
          return undefined;
        },
      }),
    );
    const harnessed = harness(driver);
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
    });
    const perf = agent.protocol(driver);
    expect(perf.fastChannels(0)?.skipped.size).toBe(0);
    await perf.setLimits(0, 800_000, 400_000);
    expect(mem.getUint32(0x20, true)).toBe(1);
    await agent.remove();
    await harnessed.close();

    // A doorbell on PERF_LEVEL_GET's word (BASE + 0xc): ringing it would write the level.
    const over = perfDriver(
      fastChannelStub({
        describe: (id) =>
          id === PerformanceMessageId.LEVEL_SET
            ? describeReply(BASE, 4, { ...bell, address: BASE + 0xcn })
            : undefined,
      }),
    );
    const second = harness(over);
    const agent2 = await second.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory: new SharedArrayBuffer(64) }]),
    });
    expectSkipped(
      agent2.protocol(over).fastChannels(0)?.skipped.get(PerformanceMessageId.LEVEL_SET),
      'E_FAST_CHANNEL_OVERLAP',
      /PERF_LEVEL_SET's doorbell \(4 bytes at 0x8000000c\) overlaps performance domain 0 PERF_LEVEL_GET's fast channel/,
    );
    await agent2.remove();
  });

  it("should reject with a view's signal that fired already, the channel not touched", async () => {
    const memory = new SharedArrayBuffer(64);
    const mem = new DataView(memory);
    const driver = perfDriver(fastChannelStub());
    const harnessed = harness(driver);
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
    });
    const perf = agent.protocol(driver);
    const reason = new Error('cancelled by the test');
    const view = perf.withCallOptions({ timeoutMs: 50 }).withCallOptions({
      signal: AbortSignal.abort(reason),
    });
    await expect(view.setLevel(0, 400_000)).rejects.toBe(reason);
    await expect(view.setLimits(0, 800_000, 400_000)).rejects.toBe(reason);
    await expect(view.getLevel(0)).rejects.toBe(reason);
    await expect(view.getLimits(0)).rejects.toBe(reason);
    await expect(view.withoutFastChannels().setLevel(0, 400_000)).rejects.toBe(reason);
    expect(new Uint8Array(memory).every((b) => b === 0)).toBe(true);
    // The client itself is not affected.
    await perf.setLevel(0, 400_000);
    expect(mem.getUint32(0, true)).toBe(400_000);
    await agent.remove();
    // After the removal, RevokedError first, as a command sent by message rejects with it.
    await expect(view.setLevel(0, 800_000)).rejects.toBeInstanceOf(RevokedError);
    expect(mem.getUint32(0, true)).toBe(400_000);
  });

  it('should refuse over a fast channel what no status would tell, writing nothing', async () => {
    const memory = new SharedArrayBuffer(64);
    const mem = new DataView(memory);
    const driver = perfDriver(fastChannelStub());
    // A domain whose lowest level is 0 (the platform's configuration allows it outside level
    // indexing mode).
    const harnessed = harness(driver, [{ value: 0, powerCost: 1, latencyUs: 1 }, ...LEVELS]);
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
    });
    const perf = agent.protocol(driver);
    const refused = async (call: Promise<void>, message: RegExp): Promise<void> => {
      const error: unknown = await call.catch((e: unknown) => e);
      expectSkipped(error, 'E_ARGUMENT', message);
    };
    // Level 0, a level of the domain: a polling platform takes it as "nothing asked".
    await refused(perf.setLevel(0, 0), /performance level 0 .* "nothing asked"/);
    // setFrequency: the level its frequency names must be one of the domain's (multFactor 1000).
    expect(perf.domains.info(0).multFactor).toBe(1000);
    await refused(perf.setFrequency(0, 500_000_000), /500000 is not one of performance domain 0/);
    await perf.setFrequency(0, 800_000_000);
    expect(mem.getUint32(0x0, true)).toBe(800_000);
    // A 0 limit is the current one, as LIMITS_GET's channel tells it (here written by the test:
    // max 800 000, min 400 000).
    mem.setUint32(0x10, 800_000, true);
    mem.setUint32(0x14, 400_000, true);
    await refused(
      perf.setLimits(0, 0, 1_200_000),
      /range min 1200000 is above range max 800000 .*a 0 limit being the current one/,
    );
    expect([mem.getUint32(0x4, true), mem.getUint32(0x8, true)]).toEqual([0, 0]);
    await perf.setLimits(0, 1_200_000, 0);
    expect([mem.getUint32(0x4, true), mem.getUint32(0x8, true)]).toEqual([1_200_000, 0]);
    await agent.remove();
  });

  it('should not refuse a level it cannot check: the levels were not all read', async () => {
    const memory = new SharedArrayBuffer(64);
    const mem = new DataView(memory);
    const driver = perfDriver(fastChannelStub());
    // The platform's first PERF_DESCRIBE_LEVELS answers DENIED: domain 0's levels are not read.
    const harnessed = harness(driver, LEVELS, [
      onCommand(PERF, PerformanceMessageId.DESCRIBE_LEVELS, corrupt(4, DENIED), 1),
    ]);
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
    });
    const perf = agent.protocol(driver);
    expect(perf.domains.info(0).levelsError).toBeDefined();
    await perf.setLevel(0, 123);
    expect(mem.getUint32(0x0, true)).toBe(123);
    await agent.remove();
  });

  it('should end the set-up at a removal under way, the probe failing with its reason', async () => {
    const memory = new SharedArrayBuffer(64);
    const abort = new AbortController();
    const reason = new Error('probe given up during the fast channels');
    const stub = fastChannelStub();
    let described = 0;
    // The probe is given up while PERF_LEVEL_SET's description is in flight: the set-up ends
    // there (no PERF_LIMITS_SET asked, no other domain), not recorded as a skipped channel.
    const driver = perfDriver((messageId, w, forward) => {
      if (messageId === PerformanceMessageId.DESCRIBE_FASTCHANNEL && ++described === 3) {
        // Sent for real, so that the abort reaches it: it fails as the probe's transfers do.
        const sent = forward();
        abort.abort(reason);
        return sent;
      }
      return stub(messageId, w, forward);
    });
    const harnessed = harness(driver);
    await expect(
      harnessed.create({
        memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
        signal: abort.signal,
      }),
    ).rejects.toBe(reason);
    expect(described).toBe(3);
  });

  it('should record a PERF_DESCRIBE_FASTCHANNEL error status and go on', async () => {
    // The emulated platform itself answers NOT_SUPPORTED to PERF_DESCRIBE_FASTCHANNEL on a domain
    // without fast channels: let the stub set bit 27 and the attributes, and the platform answer
    // the descriptions.
    const stub = fastChannelStub();
    const passThrough = perfDriver((messageId, w, forward) =>
      messageId === PerformanceMessageId.DESCRIBE_FASTCHANNEL
        ? undefined
        : stub(messageId, w, forward),
    );
    const harnessed = harness(passThrough);
    const agent = await harnessed.create({
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory: new SharedArrayBuffer(64) }]),
    });
    const fc = agent.protocol(passThrough).fastChannels(0);
    expect(fc?.skipped.size).toBe(4);
    for (const error of fc?.skipped.values() ?? []) {
      expect(error).toBeInstanceOf(ScmiStatusError);
      expect(error).toMatchObject({ status: -1 }); // NOT_SUPPORTED
    }
    await agent.remove();
  });
});
