/**
 * Performance fast channels benchmark: what a fast channel buys over the message it replaces, with
 * the platform (SCP-firmware's fast channels, polled every 1000 µs on a real clock) in a worker
 * thread behind the mailbox transport, and the agent on this thread mapping the same
 * `SharedArrayBuffer` (`memoryMap`). In interleaved rounds (the order alternates so drift hits
 * both alike), medians of the rounds:
 *
 * - `perf.setLevel(0, level)` (two levels in turn) through the LEVEL_SET fast channel — a write
 *   to the shared word, resolved at once, the platform applying it at its next poll — against
 *   `perf.withoutFastChannels().setLevel(…)`, a PERF_LEVEL_SET round trip answered once the
 *   platform has applied the level;
 * - `perf.getLevel(0)` through the LEVEL_GET fast channel (a read of the shared word) against
 *   `perf.withoutFastChannels().getLevel(0)` (PERF_LEVEL_GET round trip);
 *
 * then the latency from a fast-channel write until the LEVEL_GET channel shows the level (the
 * poll's wait, which the fast path's cost above leaves out), for writes just after a poll and at a
 * random moment of the polling period. No targets: it reports, exit 0.
 *
 * Run: pnpm --filter @scmi-ts/protocols bench
 */
import { availableParallelism } from 'node:os';
import { Container } from 'inversify';
import {
  ScmiMemoryMap,
  coreModule,
  createAgent,
  resolveWorkerEntry,
  startWorker,
  type ScmiAgent,
  type WorkerHost,
} from '@scmi-ts/core';
import {
  mailboxTransportModule,
  openSmtWorkerWire,
  type SmtWorkerWire,
} from '@scmi-ts/mailbox-transport';
import {
  PERF_FAST_CHANNEL_SLOT_SIZE,
  createDefaultPlatformConfig,
  type PlatformConfig,
  type PlatformCounters,
} from '@scmi-ts/platform';
import {
  performanceProtocolDriver,
  protocolsModule,
  type PerformanceProtocol,
} from '@scmi-ts/protocols';
import type { FastChannelsBenchWorkerData } from './bench-worker';

const gc = (globalThis as { gc?: () => void }).gc;
const ROUNDS = 9;
/** About how long one timed run of one subject lasts, ms (the call count is calibrated to it). */
const RUN_MS = 100;
/** The platform's polling period of its fast channels, µs. */
const RATE_LIMIT_US = 1000;
/** How many write-to-visible latency samples, after a few thrown away. */
const LATENCY_SAMPLES = 300;
const BASE = 0x9000_0000n;
const LEVELS = [
  { value: 400, powerCost: 1, latencyUs: 10 },
  { value: 800, powerCost: 2, latencyUs: 10 },
  { value: 1200, powerCost: 3, latencyUs: 10 },
];

/** One call of a subject; `i` counts the calls of a run (to alternate levels). */
type Op = (i: number) => Promise<unknown>;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] as number;
}

/** ns per call of `n` calls of `op`, one after the other. */
async function timed(op: Op, n: number): Promise<number> {
  gc?.();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await op(i);
  return Number(process.hrtime.bigint() - start) / n;
}

/** Warms `op` up, and returns how many of its calls last about {@link RUN_MS}. */
async function calibrate(op: Op): Promise<number> {
  await timed(op, 2000);
  const ns = await timed(op, 2000);
  return Math.max(1000, Math.min(5_000_000, Math.round((RUN_MS * 1e6) / ns)));
}

interface Comparison {
  /** Median ns per call through the fast channel, and by message. */
  readonly fast: number;
  readonly message: number;
  /** Median of the per-round ratios fast / message, and the lowest and highest of them. */
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
}

/**
 * Interleaved rounds of `fast` and `message` (the order alternating): the medians of their ns per
 * call, and of the per-round ratios — each round's two runs adjacent in time, a slow spell of the
 * shared machine hits both.
 */
async function compare(fast: Op, message: Op): Promise<Comparison> {
  const nFast = await calibrate(fast);
  const nMessage = await calibrate(message);
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      a.push(await timed(fast, nFast));
      b.push(await timed(message, nMessage));
    } else {
      b.push(await timed(message, nMessage));
      a.push(await timed(fast, nFast));
    }
  }
  const ratios = a.map((f, i) => f / (b[i] as number));
  return {
    fast: median(a),
    message: median(b),
    ratio: median(ratios),
    low: Math.min(...ratios),
    high: Math.max(...ratios),
  };
}

function perCall(ns: number): string {
  const ops = (1e9 / ns).toFixed(0).padStart(10);
  return `${ns.toFixed(0).padStart(7)} ns/call ${ops} ops/s`;
}

function report(title: string, r: Comparison, fastWhat: string, messageWhat: string): void {
  console.log(`${title} (medians of ${ROUNDS} interleaved rounds):`);
  console.log(`  fast channel ${perCall(r.fast)}  ${fastWhat}`);
  console.log(`  message      ${perCall(r.message)}  ${messageWhat}`);
  console.log(
    `  ratio fast / message ${r.ratio.toFixed(4)} (median of the per-round ratios; rounds ${r.low.toFixed(4)}–${r.high.toFixed(4)}), i.e. the fast channel ${(1 / r.ratio).toFixed(0)}× faster per call`,
  );
}

/**
 * The latencies (µs) from a fast-channel LEVEL_SET write until the LEVEL_GET fast channel shows
 * that level: each sample writes the level LEVEL_GET does not show, then reads LEVEL_GET until it
 * does (a busy read: the platform runs on its own thread). Samples past 1 s count as lost.
 * Without `randomPhase` each write comes right after the poll that showed the last one (about a
 * whole polling period to wait); with it, after a busy wait of 0 to {@link RATE_LIMIT_US} µs
 * more (a write at any moment of the period, as an agent's would be).
 */
async function writeToVisible(
  perf: PerformanceProtocol,
  randomPhase: boolean,
): Promise<{ us: number[]; lost: number }> {
  const us: number[] = [];
  let lost = 0;
  for (let i = 0; i < LATENCY_SAMPLES + 5; i++) {
    const target = (await perf.getLevel(0)) === 400 ? 800 : 400;
    if (randomPhase) {
      const until =
        process.hrtime.bigint() + BigInt(Math.floor(Math.random() * RATE_LIMIT_US * 1000));
      while (process.hrtime.bigint() < until);
    }
    const start = process.hrtime.bigint();
    await perf.setLevel(0, target);
    const deadline = start + 1_000_000_000n;
    let seen = false;
    while (!seen && process.hrtime.bigint() < deadline) seen = (await perf.getLevel(0)) === target;
    const elapsed = process.hrtime.bigint() - start;
    if (!seen) lost++;
    else if (i >= 5) us.push(Number(elapsed) / 1000);
  }
  return { us, lost };
}

async function main(): Promise<void> {
  const wall = performance.now();
  console.log(
    `Performance fast channels benchmark (node ${process.version}, ${availableParallelism()} CPUs; platform in a worker thread behind the mailbox transport, polling its fast channels every ${RATE_LIMIT_US} µs; ${gc === undefined ? 'no --expose-gc' : 'GC before each timed run'})`,
  );
  const memory = new SharedArrayBuffer(PERF_FAST_CHANNEL_SLOT_SIZE);
  const config: PlatformConfig = {
    ...createDefaultPlatformConfig(),
    devices: [],
    agents: [{ id: 1, name: 'OSPM', protocols: ['performance'] }],
    performanceFastChannels: { memory, base: BASE, rateLimitUs: RATE_LIMIT_US },
    performanceDomains: [{ name: 'cpu', levels: LEVELS, level: 1200, fastChannels: true }],
  };
  const data: FastChannelsBenchWorkerData = { config };
  const host: WorkerHost = await startWorker({
    entry: resolveWorkerEntry(__dirname, 'bench-worker'),
    data,
    name: 'bench-platform',
  });
  let smt: SmtWorkerWire | undefined;
  let agent: ScmiAgent | undefined;
  try {
    smt = await openSmtWorkerWire(host, { agentId: 1, a2p: [0], p2a: [0] });
    const container = new Container();
    container.load(coreModule, mailboxTransportModule, protocolsModule);
    agent = await createAgent(container, {
      transport: 'mailbox',
      transportConfig: { wire: smt.wire },
      memoryMap: new ScmiMemoryMap([{ base: BASE, memory }]),
      // Generous: a scheduling stall of a loaded machine must not fail a transfer.
      rxTimeoutMs: 2000,
    });
    const perf = agent.protocol(performanceProtocolDriver);
    const fc = perf.fastChannels(0);
    if (fc?.levelSet === undefined || fc.levelGet === undefined) {
      throw new Error(
        `domain 0 has no LEVEL_SET / LEVEL_GET fast channel (skipped: ${JSON.stringify([...(fc?.skipped ?? [])])})`,
      );
    }
    const message = perf.withoutFastChannels();
    const level = (i: number): number => ((i & 1) === 0 ? 400 : 800);

    const set = await compare(
      (i) => perf.setLevel(0, level(i)),
      (i) => message.setLevel(0, level(i)),
    );
    report(
      'setLevel(0, 400 ↔ 800)',
      set,
      '— writes the LEVEL_SET word and returns: the platform applies it at its next poll, not counted here',
      '— PERF_LEVEL_SET round trip to the worker: returns once the platform has applied the level and answered',
    );
    const get = await compare(
      () => perf.getLevel(0),
      () => message.getLevel(0),
    );
    report(
      'getLevel(0)',
      get,
      '— reads the LEVEL_GET word, as the platform last published it',
      '— PERF_LEVEL_GET round trip to the worker',
    );

    console.log(
      `latency from a fast-channel LEVEL_SET write until the LEVEL_GET channel shows the level — the wait for the platform's next poll (every ${RATE_LIMIT_US} µs, on the worker's timers) that the fast path's ${(set.fast / 1000).toFixed(2)} µs per call leaves out; by message the level is applied when setLevel resolves (${(set.message / 1000).toFixed(2)} µs):`,
    );
    for (const [randomPhase, what] of [
      [false, 'written just after a poll'],
      [true, 'written at a random moment'],
    ] as const) {
      const latency = await writeToVisible(perf, randomPhase);
      console.log(
        `  ${what.padEnd(26)}: median ${median(latency.us).toFixed(0)} µs (p10 ${quantile(latency.us, 0.1).toFixed(0)}, p90 ${quantile(latency.us, 0.9).toFixed(0)}, max ${Math.max(...latency.us).toFixed(0)} µs; ${latency.us.length} samples${latency.lost > 0 ? `, ${latency.lost} not seen within 1 s` : ''})`,
      );
    }
    const counters = (await host.call('platformCounters')) as PlatformCounters;
    console.log(
      `platform: ${counters.fastChannelApplied.toLocaleString('en')} fast-channel levels applied at its polls, ${counters.fastChannelRejected} refused (most fast-channel writes are overwritten before a poll reads them)`,
    );
  } finally {
    await agent?.remove();
    await smt?.close();
    await host.stop();
  }
  console.log(`wall time ${((performance.now() - wall) / 1000).toFixed(1)} s`);
}

void main();
