/**
 * The Performance client's fast channels end to end, on one thread: the emulated platform's
 * channels (SCP-firmware's layout and polling) written and read by the client through the agent's
 * memory map, as Linux's `perf.c` uses them.
 */
import { ScmiMemoryMap, type ScmiAgent } from '@scmi-ts/core';
import {
  PERF_FAST_CHANNEL_LEVEL_GET_OFFSET,
  PERF_FAST_CHANNEL_LEVEL_SET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_GET_OFFSET,
  PERF_FAST_CHANNEL_LIMITS_SET_OFFSET,
  PERF_FAST_CHANNEL_SLOT_SIZE,
  createDefaultPlatformConfig,
  validatePlatformConfig,
  type PerformanceDomainConfig,
} from '@scmi-ts/platform';
import {
  PERFORMANCE_LEVEL_CHANGED,
  PerformanceMessageId,
  decodePerformanceLevelChanged,
  performanceProtocolDriver,
} from '../src/performance/performance-protocol.js';
import { createHarness, type Harness } from './support/harness.js';
import { spyRequests } from './support/spy-requests.js';

const PERF = 0x13;
const BASE = 0x4000_0000n;
/** The platform reads the set channels every millisecond. */
const RATE_LIMIT_US = 1000;

const LEVELS = [
  { value: 400_000, powerCost: 100, latencyUs: 50, index: 10, indicativeFreqKhz: 400_000 },
  { value: 800_000, powerCost: 250, latencyUs: 50, index: 11, indicativeFreqKhz: 800_000 },
  { value: 1_200_000, powerCost: 500, latencyUs: 100, index: 12, indicativeFreqKhz: 1_200_000 },
];
/** The levels of a domain not in level indexing mode (no index, no indicative frequency). */
const VALUE_LEVELS = LEVELS.map(({ value, powerCost, latencyUs }) => ({
  value,
  powerCost,
  latencyUs,
}));

interface World {
  readonly h: Harness;
  /**
   * Runs the clock's tasks until `command` settles, for a command sent as a message (the clock is
   * manual, so that each test decides when the platform polls).
   */
  readonly run: <T>(command: Promise<T>) => Promise<T>;
  readonly agent: ScmiAgent;
  readonly memory: SharedArrayBuffer;
  readonly mem: DataView;
}

describe('Performance fast channels, client and emulated platform', () => {
  let h: Harness | undefined;

  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /**
   * Domain 0 (`cpu`) with fast channels, domain 1 (`gpu`) without; the agent maps the channels'
   * memory at BASE unless `mapped` is false.
   */
  async function world(
    options: { levelIndexing?: boolean; mapped?: boolean; spy?: (h: Harness) => void } = {},
  ): Promise<World> {
    const memory = new SharedArrayBuffer(2 * PERF_FAST_CHANNEL_SLOT_SIZE);
    const performanceDomains: PerformanceDomainConfig[] = [
      {
        name: 'cpu',
        levels: options.levelIndexing === true ? LEVELS : VALUE_LEVELS,
        level: 800_000,
        fastChannels: true,
        ...(options.levelIndexing === true ? { levelIndexing: true } : {}),
      },
      { name: 'gpu', levels: VALUE_LEVELS },
    ];
    h = createHarness({
      auto: false,
      drivers: [performanceProtocolDriver],
      platformConfig: validatePlatformConfig({
        ...createDefaultPlatformConfig(),
        devices: [],
        agents: [{ id: 1, name: 'OSPM', protocols: ['performance'] }],
        performanceVersion: 0x40000,
        performanceDomains,
        performanceFastChannels: { memory, base: BASE, rateLimitUs: RATE_LIMIT_US },
      }),
    });
    options.spy?.(h);
    const agent = await h.create(
      options.mapped === false ? {} : { memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]) },
    );
    const clock = h.clock;
    const run = async <T>(command: Promise<T>): Promise<T> => {
      const [value] = await Promise.all([command, clock.advance(0)]);
      return value;
    };
    return { h, run, agent, memory, mem: new DataView(memory) };
  }

  it('should find the platform channels as Linux does and use them for every level and limit command', async () => {
    let requests: number[][] = [];
    const {
      h: harness,
      run,
      agent,
      mem,
    } = await world({
      spy: (hh) => {
        requests = spyRequests(hh, PERF);
      },
    });
    const sent = (messageId: number): number[][] =>
      requests.filter(([m]) => m === messageId).map(([, ...words]) => words);
    const fastChannelSetUp = requests.filter(
      ([m, w0]) =>
        m === PerformanceMessageId.DESCRIBE_FASTCHANNEL ||
        (m === 0x2 && w0 !== undefined && w0 >= 0x5 && w0 <= 0x8),
    );
    const perf = agent.protocol(performanceProtocolDriver);
    const channel = (offset: number, size: number) => ({
      attributes: 0,
      rateLimitUs: RATE_LIMIT_US,
      address: BASE + BigInt(offset),
      size,
    });
    expect(perf.fastChannels(0)).toEqual({
      levelGet: channel(PERF_FAST_CHANNEL_LEVEL_GET_OFFSET, 4),
      limitsGet: channel(PERF_FAST_CHANNEL_LIMITS_GET_OFFSET, 8),
      levelSet: channel(PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, 4),
      limitsSet: channel(PERF_FAST_CHANNEL_LIMITS_SET_OFFSET, 8),
      skipped: new Map(),
    });
    expect(perf.fastChannels(1)).toBeUndefined();
    // Linux's order: each command's PROTOCOL_MESSAGE_ATTRIBUTES, then its description.
    const DESCRIBE = PerformanceMessageId.DESCRIBE_FASTCHANNEL;
    expect(fastChannelSetUp).toEqual([
      [0x2, 0x8],
      [DESCRIBE, 0, 0x8],
      [0x2, 0x6],
      [DESCRIBE, 0, 0x6],
      [0x2, 0x7],
      [DESCRIBE, 0, 0x7],
      [0x2, 0x5],
      [DESCRIBE, 0, 0x5],
    ]);

    // The level goes into the channel; the platform takes it at its next poll, not before.
    await perf.setLevel(0, 1_200_000);
    expect(mem.getUint32(PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, true)).toBe(1_200_000);
    expect(await perf.getLevel(0)).toBe(800_000);
    await harness.clock.advance(1);
    expect(harness.platform.snapshot().performanceDomains[0]?.level).toBe(1_200_000);
    expect(await perf.getLevel(0)).toBe(1_200_000);
    expect(sent(PerformanceMessageId.LEVEL_SET)).toEqual([]);

    // Limits: the platform pulls the level inside them, and both get channels tell it.
    await perf.setLimits(0, 800_000, 400_000);
    await harness.clock.advance(1);
    expect(await perf.getLimits(0)).toEqual({ max: 800_000, min: 400_000 });
    expect(await perf.getLevel(0)).toBe(800_000);
    expect(harness.platform.counters.fastChannelApplied).toBe(2);

    // A command sent as a message shows in the get channel too.
    await run(perf.withoutFastChannels().setLimits(0, 1_200_000, 400_000));
    expect(await perf.getLimits(0)).toEqual({ max: 1_200_000, min: 400_000 });
    // Until the next poll: the limits left in LIMITS_SET are applied again (SCP-firmware's
    // perf_fch_process reads the set channels at every poll).
    await harness.clock.advance(1);
    expect(await perf.getLimits(0)).toEqual({ max: 800_000, min: 400_000 });

    // The other domain has no channel: messages.
    await run(perf.setLevel(1, 400_000));
    expect(sent(PerformanceMessageId.LEVEL_SET)).toEqual([[1, 400_000]]);
    await agent.remove();
  });

  it('should refuse here what no status would tell, and let the platform count what it refuses', async () => {
    const { h: harness, run, agent, mem } = await world();
    const perf = agent.protocol(performanceProtocolDriver);
    // 500 000 is no level of the domain, and min above max: by message the platform would answer
    // OUT_OF_RANGE and INVALID_PARAMETERS; a fast channel has no answer, so the client refuses.
    await expect(perf.setLevel(0, 500_000)).rejects.toMatchObject({
      code: 'E_ARGUMENT',
      message: expect.stringMatching(
        /500000 is not one of performance domain 0's levels/,
      ) as unknown,
    });
    await expect(perf.setLimits(0, 400_000, 800_000)).rejects.toMatchObject({
      code: 'E_ARGUMENT',
      message: expect.stringMatching(/range min 800000 is above range max 400000/) as unknown,
    });
    await expect(perf.setLimits(0, 1_200_000, 300_000)).rejects.toMatchObject({
      code: 'E_ARGUMENT',
    });
    expect(new Uint8Array(mem.buffer, 0, 12).every((b) => b === 0)).toBe(true); // nothing written
    // A level of the domain outside its limits: only the platform knows. Resolved, not applied,
    // counted once however many polls read it.
    await run(perf.withoutFastChannels().setLimits(0, 1_200_000, 800_000));
    await perf.setLevel(0, 400_000);
    await harness.clock.advance(5);
    expect(await perf.getLevel(0)).toBe(800_000);
    expect(harness.platform.counters.fastChannelRejected).toBe(1);
    await perf.setLevel(0, 1_200_000);
    await harness.clock.advance(1);
    expect(await perf.getLevel(0)).toBe(1_200_000);
    expect(harness.platform.counters).toMatchObject({
      fastChannelRejected: 1,
      fastChannelApplied: 1,
    });
    await agent.remove();
  });

  it('should tell a subscribed agent of a level set through the channel, agent_id 0', async () => {
    const { h: harness, run, agent } = await world();
    const perf = agent.protocol(performanceProtocolDriver);
    const wait = await run(
      agent.events.waitFor(
        { protocolId: PERF, eventId: PERFORMANCE_LEVEL_CHANGED, source: 0 },
        { timeoutMs: 100 },
      ),
    );
    await perf.setLevel(0, 400_000);
    await harness.clock.advance(1);
    const notification = await wait.notification;
    expect(decodePerformanceLevelChanged(notification.payload)).toMatchObject({
      agentId: 0,
      domainId: 0,
      level: 400_000,
    });
    await agent.remove();
  });

  it('should write and read level indices in level indexing mode, speaking values to the caller', async () => {
    const { h: harness, agent, mem } = await world({ levelIndexing: true });
    const perf = agent.protocol(performanceProtocolDriver);
    expect(perf.domains.info(0).levelIndexing).toBe(true);
    expect(mem.getUint32(PERF_FAST_CHANNEL_LEVEL_GET_OFFSET, true)).toBe(11);
    await perf.setLevel(0, 1_200_000);
    expect(mem.getUint32(PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, true)).toBe(12);
    await harness.clock.advance(1);
    expect(harness.platform.snapshot().performanceDomains[0]?.level).toBe(1_200_000);
    expect(mem.getUint32(PERF_FAST_CHANNEL_LEVEL_GET_OFFSET, true)).toBe(12);
    expect(await perf.getLevel(0)).toBe(1_200_000);
    await perf.setLimits(0, 800_000, 400_000);
    await harness.clock.advance(1);
    expect(await perf.getLimits(0)).toEqual({ max: 800_000, min: 400_000 });
    // An index no level has, written by the platform side, is a malformed reply.
    mem.setUint32(PERF_FAST_CHANNEL_LEVEL_GET_OFFSET, 99, true);
    await expect(perf.getLevel(0)).rejects.toMatchObject({ code: 'E_LEVEL_INDEX' });
    expect(agent.diagnostics.malformedReplies).toEqual({ perf: 1 });
    await agent.remove();
  });

  it('should send messages when the agent has not mapped the channels, as Linux when ioremap fails', async () => {
    let levelSets: number[][] = [];
    const {
      h: harness,
      run,
      agent,
      mem,
    } = await world({
      mapped: false,
      spy: (hh) => {
        levelSets = spyRequests(hh, PERF, PerformanceMessageId.LEVEL_SET);
      },
    });
    const perf = agent.protocol(performanceProtocolDriver);
    const fc = perf.fastChannels(0);
    expect(fc?.levelSet).toBeUndefined();
    expect([...(fc?.skipped.values() ?? [])].map((e) => (e as { code: string }).code)).toEqual([
      'E_NOT_MAPPED',
      'E_NOT_MAPPED',
      'E_NOT_MAPPED',
      'E_NOT_MAPPED',
    ]);
    await run(perf.setLevel(0, 400_000));
    expect(levelSets).toEqual([[0, 400_000]]);
    expect(mem.getUint32(PERF_FAST_CHANNEL_LEVEL_SET_OFFSET, true)).toBe(0);
    expect(mem.getUint32(PERF_FAST_CHANNEL_LEVEL_GET_OFFSET, true)).toBe(400_000);
    await harness.clock.advance(1);
    expect(await run(perf.getLevel(0))).toBe(400_000);
    await agent.remove();
  });

  it('should touch the memory no more once the agent is removed', async () => {
    const { agent, memory } = await world();
    const perf = agent.protocol(performanceProtocolDriver);
    await perf.setLevel(0, 400_000);
    await agent.remove();
    const before = new Uint8Array(memory).slice();
    await expect(perf.setLevel(0, 1_200_000)).rejects.toMatchObject({ code: 'E_REVOKED' });
    await expect(perf.getLevel(0)).rejects.toMatchObject({ code: 'E_REVOKED' });
    expect(new Uint8Array(memory)).toEqual(before);
  });
});
