/**
 * virtio-transport benchmark: SCMI over virtio against the floor of the same virtqueues moving the
 * same bytes with no SCMI (see support/floor.ts), measured in the same run, interleaved rounds,
 * medians. The floor is measured with two signalling policies — each buffer returned as answered
 * with a NAPI-style driver (this package's with `pollAfterDrain`), and once per pass — and the
 * faster one is the floor: which is faster depends on timing,
 * and the ratio must not profit from a policy that happens to slow the floor down. A third floor,
 * `streaming` (both ends keep looking while they find work, so few doorbells ring), is printed
 * beside it: with the device in the same thread it is the most these virtqueues move, and shows
 * how much of the SCMI path's time is its own CPU work rather than wake-ups (in worker mode its
 * extra looks cost tasks of their own, and it is not always the fastest).
 *
 * In worker mode the doorbells poll for their poll window after each wake-up (core's
 * `SharedDoorbell`), so while commands flow neither thread sleeps, and each end finds the other's
 * ring on its next event-loop turn (about 1.5 µs on these machines). The floor's device answers
 * within about a hundred nanoseconds; the round trip also runs against `floor + platform time`,
 * the per-pass floor whose device spins, per command, as long as the platform takes to handle one
 * (measured in the worker in this run), and the benchmark prints what those few hundred
 * nanoseconds add to the floor's round trip. Information, not a target: the target is checked
 * against the floor above.
 *
 * In the same thread the target is out of reach by construction: the floor is a few hundred
 * nanoseconds of ring work per command, and the device and the platform alone (no-core), without
 * core or the driver, already take more than that — the check's line prints what they reach.
 *
 * - Throughput at 1, 16 and 64 commands in flight (Base PROTOCOL_VERSION: 4-byte request, 12-byte
 *   response), device in a worker thread and device in the same thread.
 * - Round trip (one command at a time) in worker mode.
 * - In worker mode, the awaited floor: the floor whose driver awaits a promise per command (a copy
 *   of the response, as `transact` gives), against the floor, at depth 16 and for the round trip —
 *   the most any promise-per-command API could reach were SCMI free (information, not a target).
 * - Heap over 1,000,000 commands, in the agent's thread and in the device worker (run with
 *   --expose-gc; `pnpm bench` does: the flag is process-wide, so the worker collects too).
 * - In worker mode, under each throughput and round-trip line, the CPU each thread spent per
 *   command (Linux's per-thread `schedstat`, read around each timed run) and how busy it was: with
 *   the doorbells polling, a thread also burns CPU while it waits for the other, so its CPU per
 *   command is an upper bound of its work, and a busy share near 100% on both threads says the
 *   subject is bound by CPU, not by wake-ups; a thread well below 100% (the floor's device at
 *   depth 16) sleeps while the other is the bottleneck. The busy share can pass 100% by a little:
 *   the CPU is read around the timed run, the wall time within it.
 *
 * Each scmi/floor ratio is the median of the per-round ratios (each round against that round's
 * faster floor policy: the subjects of a round run back to back, so a slow spell of the shared
 * machine hits them alike), printed with its spread over the rounds (`rounds a–b`): on these
 * machines it is often as wide as the margin to the target. The other columns are medians.
 *
 * Targets: throughput ≥ 0.8 × floor at depth 16; round trip ≤ 1.3 × floor in worker mode; heap flat.
 * Run: pnpm --filter @scmi-ts/virtio-transport bench
 */
import {
  CLOCK,
  RealClock,
  coreModule,
  createAgent,
  resolveWorkerEntry,
  startWorker,
  type ScmiAgent,
  type WorkerHost,
  type XferOps,
} from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  VirtioScmiDevice,
  VirtioScmiWire,
  attachRemoteVirtioDevice,
  virtioTransportModule,
} from '../src/index.js';
import { Container } from 'inversify';
import { join } from 'node:path';
import { FloorDevice, FloorDriver, type FloorPolicy } from './support/floor.js';
import { protocolVersionLoops } from './support/scmi-loops.js';
import { threadCpuNs } from './support/thread-cpu.js';

const CMDQ = 128; // 64 messages in flight at most
const WIRE = { cmdqSize: CMDQ, eventqSize: 16 };
const DEPTHS = [1, 16, 64] as const;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const HEAP_COMMANDS = Number(process.env.BENCH_HEAP_COMMANDS ?? 1_000_000);
/** Work added per command to the floor's device in the `floor sensitivity` lines, in ns. */
const SENSITIVITY_NS = [10, 30, 100, 300] as const;

interface Subject {
  /** Runs `n` round trips with `depth` in flight; resolves when done. */
  run(depth: number, n: number): Promise<void>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function timed(subject: Subject, depth: number, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  await subject.run(depth, n);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** SCMI: `depth` loops, each sending Base PROTOCOL_VERSION and awaiting its response. */
function scmiSubject(agent: ScmiAgent): Subject {
  const ops: XferOps = agent.xfer(0x10);
  return { run: (depth, n) => protocolVersionLoops(ops, depth, n) };
}

function newContainer(): Container {
  const container = new Container();
  container.load(coreModule, virtioTransportModule);
  container.rebind(CLOCK).toConstantValue(new RealClock());
  return container;
}

interface Pair {
  /** The virtqueues alone, buffers returned as answered, NAPI-style driver (`as-answered`). */
  readonly floor: Subject;
  /** The virtqueues alone, signalling once per pass (`per-pass`). */
  readonly floorPerPass: Subject;
  /** The virtqueues alone, both ends looking again while they find work (`streaming`). */
  readonly streaming: Subject;
  /** The same bytes through the real device and the platform, driven without core. */
  readonly device: Subject;
  /**
   * Worker mode only: the `per-pass` floor whose device also spins, per command, as long as the
   * platform takes to handle one (`platformNs`, measured in the worker in this run).
   */
  readonly worked?: { readonly subject: Subject; readonly platformNs: number };
  /**
   * Worker mode only: the floor (both policies) whose device also works `workNs` per command, for
   * each of {@link SENSITIVITY_NS}.
   */
  readonly sensitivity?: readonly {
    readonly workNs: number;
    readonly asAnswered: FloorDriver;
    readonly perPass: FloorDriver;
  }[];
  /**
   * Worker mode only: the `as-answered` floor whose driver awaits a promise per command
   * (`FloorDriver.runAwaited`): the same ring work, plus the least an awaited command costs — the
   * ceiling of any API that gives each command a promise, as `transact` does.
   */
  readonly awaited?: Subject;
  /** SCMI: core, the transport, the device and the platform. */
  readonly scmi: Subject;
  readonly agent: ScmiAgent;
  /**
   * Worker mode only: the device worker's CPU time in ns (see support/thread-cpu.ts), undefined
   * where it cannot be read.
   */
  readonly deviceCpuNs?: () => Promise<number | undefined>;
  close(): Promise<void>;
}

async function workerPair(host: WorkerHost): Promise<Pair> {
  const floorWire = VirtioScmiWire.shared(WIRE);
  await host.call('attachFloor', floorWire.handle, CMDQ, true, 'as-answered');
  const floor = new FloorDriver(floorWire, CMDQ, true, 'as-answered');
  const perPassWire = VirtioScmiWire.shared(WIRE);
  await host.call('attachFloor', perPassWire.handle, CMDQ, true, 'per-pass');
  const floorPerPass = new FloorDriver(perPassWire, CMDQ, true, 'per-pass');
  const streamingWire = VirtioScmiWire.shared(WIRE);
  await host.call('attachFloor', streamingWire.handle, CMDQ, true, 'streaming');
  const streaming = new FloorDriver(streamingWire, CMDQ, true, 'streaming');
  const platformNs = (await host.call('platformHandleNs')) as number;
  const workedWire = VirtioScmiWire.shared(WIRE);
  await host.call('attachFloor', workedWire.handle, CMDQ, true, 'per-pass', platformNs);
  const worked = new FloorDriver(workedWire, CMDQ, true, 'per-pass');
  const floorOf = async (policy: FloorPolicy, workNs: number): Promise<FloorDriver> => {
    const wire = VirtioScmiWire.shared(WIRE);
    await host.call('attachFloor', wire.handle, CMDQ, true, policy, workNs);
    return new FloorDriver(wire, CMDQ, true, policy);
  };
  const sensitivity: NonNullable<Pair['sensitivity']>[number][] = [];
  for (const workNs of SENSITIVITY_NS) {
    sensitivity.push({
      workNs,
      asAnswered: await floorOf('as-answered', workNs),
      perPass: await floorOf('per-pass', workNs),
    });
  }
  const awaitedWire = VirtioScmiWire.shared(WIRE);
  await host.call('attachFloor', awaitedWire.handle, CMDQ, true, 'as-answered');
  const awaitedDriver = new FloorDriver(awaitedWire, CMDQ, true, 'as-answered');
  const deviceWire = VirtioScmiWire.shared(WIRE);
  await attachRemoteVirtioDevice(host, deviceWire, 2);
  const device = new FloorDriver(deviceWire, CMDQ, true);
  await device.handshake(CMDQ);
  const scmiWire = VirtioScmiWire.shared(WIRE);
  await attachRemoteVirtioDevice(host, scmiWire, 1);
  const agent = await createAgent(newContainer(), {
    transport: 'virtio',
    maxMsg: CMDQ / 2,
    rxTimeoutMs: 5000,
    transportConfig: { wire: scmiWire },
  });
  return {
    floor,
    floorPerPass,
    streaming,
    device,
    worked: { subject: worked, platformNs },
    sensitivity,
    awaited: { run: (depth, n) => awaitedDriver.runAwaited(depth, n) },
    scmi: scmiSubject(agent),
    agent,
    deviceCpuNs: async () => ((await host.call('threadCpuNs')) as number | null) ?? undefined,
    close: async () => {
      await agent.remove();
      worked.close();
      awaitedDriver.close();
      for (const f of sensitivity) {
        f.asAnswered.close();
        f.perPass.close();
      }
      floor.close();
      floorPerPass.close();
      streaming.close();
      device.close();
    },
  };
}

async function sameThreadPair(): Promise<Pair> {
  const clock = new RealClock();
  const floorWire = VirtioScmiWire.sameThread(clock, WIRE);
  const floorDevice = new FloorDevice(floorWire, CMDQ, true, 'as-answered');
  const floor = new FloorDriver(floorWire, CMDQ, true, 'as-answered');
  const perPassWire = VirtioScmiWire.sameThread(clock, WIRE);
  const perPassDevice = new FloorDevice(perPassWire, CMDQ, true, 'per-pass');
  const floorPerPass = new FloorDriver(perPassWire, CMDQ, true, 'per-pass');
  const streamingWire = VirtioScmiWire.sameThread(clock, WIRE);
  const streamingDevice = new FloorDevice(streamingWire, CMDQ, true, 'streaming');
  const streaming = new FloorDriver(streamingWire, CMDQ, true, 'streaming');
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const rawWire = VirtioScmiWire.sameThread(clock, WIRE);
  const rawDevice = new VirtioScmiDevice(rawWire, { platform, agentId: 2, clock });
  const raw = new FloorDriver(rawWire, CMDQ, true);
  await raw.handshake(CMDQ);
  const scmiWire = VirtioScmiWire.sameThread(clock, WIRE);
  const device = new VirtioScmiDevice(scmiWire, { platform, agentId: 1, clock });
  const agent = await createAgent(newContainer(), {
    transport: 'virtio',
    maxMsg: CMDQ / 2,
    rxTimeoutMs: 5000,
    transportConfig: { wire: scmiWire },
  });
  return {
    floor,
    floorPerPass,
    streaming,
    device: raw,
    scmi: scmiSubject(agent),
    agent,
    close: async () => {
      await agent.remove();
      device.close();
      rawDevice.close();
      raw.close();
      platform.close();
      floor.close();
      floorDevice.close();
      floorPerPass.close();
      perPassDevice.close();
      streaming.close();
      streamingDevice.close();
    },
  };
}

/** Median seconds of each subject, and the floor: the faster of the two floor policies. */
interface Times {
  readonly floor: number;
  readonly asAnswered: number;
  readonly perPass: number;
  readonly streaming: number;
  readonly device: number;
  readonly scmi: number;
  /** The floor with the platform's time per command, when the pair has it. */
  readonly worked: number | undefined;
  /**
   * Worker mode, where threads' CPU time can be read: per subject (floor as answered, floor per
   * pass, streaming floor, no-core, scmi), the CPU each thread spent per command, in ns, and the
   * share of the wall time it was busy (medians over the rounds).
   */
  readonly cpu: readonly ThreadCpu[] | undefined;
  /**
   * Per round, in seconds: the floor (the faster policy of that round), scmi, and the floor with
   * the platform's time (NaN when the pair has none).
   */
  readonly rounds: readonly {
    readonly floor: number;
    readonly scmi: number;
    readonly worked: number;
  }[];
}

/** CPU per command of one subject in worker mode: each thread's ns, and its busy share of the wall time. */
interface ThreadCpu {
  readonly agentNs: number;
  readonly deviceNs: number;
  readonly agentBusy: number;
  readonly deviceBusy: number;
}

/**
 * Median seconds of `n` round trips at `depth` of each subject, in interleaved rounds; with
 * `withWorked`, the floor with the platform's time too (when the pair has it).
 */
async function compare(pair: Pair, depth: number, n: number, withWorked = false): Promise<Times> {
  const subjects = [pair.floor, pair.floorPerPass, pair.streaming, pair.device, pair.scmi];
  if (withWorked && pair.worked !== undefined) subjects.push(pair.worked.subject);
  for (const s of subjects) await timed(s, depth, n); // warm-up
  const times: number[][] = subjects.map((): number[] => []);
  // Per subject, per round: each thread's CPU in ns (read around the timed run, outside it).
  const cpus: { agent: number; device: number }[][] = subjects.map(() => []);
  let cpuReadable = pair.deviceCpuNs !== undefined;
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so that drift hits every subject alike.
    for (let k = 0; k < subjects.length; k++) {
      const i = (round + k) % subjects.length;
      const agentBefore = cpuReadable ? threadCpuNs() : undefined;
      const deviceBefore = cpuReadable ? await pair.deviceCpuNs?.() : undefined;
      times[i]?.push(await timed(subjects[i] as Subject, depth, n));
      const deviceAfter = cpuReadable ? await pair.deviceCpuNs?.() : undefined;
      const agentAfter = cpuReadable ? threadCpuNs() : undefined;
      if (
        agentBefore === undefined ||
        deviceBefore === undefined ||
        deviceAfter === undefined ||
        agentAfter === undefined
      ) {
        cpuReadable = false;
      } else {
        cpus[i]?.push({ agent: agentAfter - agentBefore, device: deviceAfter - deviceBefore });
      }
    }
  }
  const [asAnswered, perPass, streaming, device, scmi, worked] = times.map(median) as [
    number,
    number,
    number,
    number,
    number,
    number | undefined,
  ];
  const rounds = Array.from({ length: ROUNDS }, (_, r) => ({
    floor: Math.min(times[0]?.[r] as number, times[1]?.[r] as number),
    scmi: times[4]?.[r] as number,
    worked: times[5]?.[r] ?? Number.NaN,
  }));
  // Five subjects (not the floor with the platform's time): as answered, per pass, streaming,
  // no-core, scmi. Busy shares against the round's own wall time.
  const cpu = cpuReadable
    ? cpus.slice(0, 5).map((rs, i): ThreadCpu => {
        const wall = (r: number): number => (times[i]?.[r] as number) * 1e9;
        return {
          agentNs: median(rs.map((c) => c.agent / n)),
          deviceNs: median(rs.map((c) => c.device / n)),
          agentBusy: median(rs.map((c, r) => c.agent / wall(r))),
          deviceBusy: median(rs.map((c, r) => c.device / wall(r))),
        };
      })
    : undefined;
  return {
    floor: Math.min(asAnswered, perPass),
    asAnswered,
    perPass,
    streaming,
    device,
    scmi,
    worked,
    cpu,
    rounds,
  };
}

/**
 * The line that says, in worker mode, where each subject's time goes: the CPU each thread spent
 * per command and how busy it was; nothing when the threads' CPU cannot be read.
 */
function cpuLine(t: Times): string | undefined {
  if (t.cpu === undefined) return undefined;
  const names = ['floor as answered', 'per pass', 'streaming', 'no-core', 'scmi'];
  const parts = t.cpu.map(
    (c, i) =>
      `${names[i]} ${c.agentNs.toFixed(0)} + ${c.deviceNs.toFixed(0)} ns (${(c.agentBusy * 100).toFixed(0)}% / ${(c.deviceBusy * 100).toFixed(0)}%)`,
  );
  return `            CPU per command, agent thread + device thread (busy share of each): ${parts.join(', ')}`;
}

/**
 * What the floor with the platform's time reached, and scmi's ratio to it (median of the rounds),
 * for the end of a line; empty when it was not measured. `show` formats a median time.
 */
function workedNote(
  pair: Pair,
  t: Times,
  show: (seconds: number) => string,
  ratio: (round: Times['rounds'][number]) => number,
): string {
  if (pair.worked === undefined || t.worked === undefined) return '';
  return `  floor + platform time (${pair.worked.platformNs.toFixed(0)} ns/command) ${show(t.worked).trim()}, scmi/that ${median(t.rounds.map(ratio)).toFixed(2)} (${spread(t, ratio)})`;
}

/** The lowest and highest of one ratio over the rounds, e.g. `rounds 0.71–1.10`. */
function spread(t: Times, ratio: (round: Times['rounds'][number]) => number): string {
  const rs = t.rounds.map(ratio);
  return `rounds ${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}`;
}

function rate(n: number, seconds: number): string {
  return `${Math.round(n / seconds).toLocaleString('en-US')}/s`.padStart(11);
}

/**
 * Throughput at each depth; returns, at depth 16, scmi / floor, scmi / streaming floor, and
 * no-core / floor (what the device and the platform alone reach, without core and the driver).
 */
async function throughput(
  name: string,
  pair: Pair,
): Promise<{ ratio: number; streamingRatio: number; noCoreRatio: number }> {
  let ratioAt16 = 0;
  let streamingAt16 = 0;
  let noCoreAt16 = 0;
  for (const depth of DEPTHS) {
    const n = depth === 1 ? 10_000 : 40_000;
    const t = await compare(pair, depth, n);
    const ratio = median(t.rounds.map((r) => r.floor / r.scmi));
    if (depth === 16) {
      ratioAt16 = ratio;
      streamingAt16 = t.streaming / t.scmi;
      noCoreAt16 = t.floor / t.device;
    }
    console.log(
      `${name} throughput, depth ${String(depth).padStart(2)}: scmi ${rate(n, t.scmi)}  no-core ${rate(n, t.device)}  floor ${rate(n, t.floor)} (as answered ${rate(n, t.asAnswered).trim()}, per pass ${rate(n, t.perPass).trim()})  scmi/floor ${ratio.toFixed(2)} (${spread(t, (r) => r.floor / r.scmi)})  scmi/no-core ${(t.device / t.scmi).toFixed(2)}  streaming floor ${rate(n, t.streaming).trim()}, scmi/streaming ${(t.streaming / t.scmi).toFixed(2)}`,
    );
    const cpu = cpuLine(t);
    if (cpu !== undefined) console.log(cpu);
  }
  return { ratio: ratioAt16, streamingRatio: streamingAt16, noCoreRatio: noCoreAt16 };
}

/**
 * The round trip; returns scmi / floor, scmi / (floor + platform time), and what the platform's
 * time added to the per-pass floor, in µs.
 */
async function roundTrip(
  pair: Pair,
): Promise<{ ratio: number; workedRatio: number; workedAddsUs: number }> {
  const n = 10_000;
  const t = await compare(pair, 1, n, true);
  const us = (s: number): string => `${((s / n) * 1e6).toFixed(1)} µs`.padStart(8);
  const ratio = median(t.rounds.map((r) => r.scmi / r.floor));
  const workedRatio = median(t.rounds.map((r) => r.scmi / r.worked));
  console.log(
    `worker      round trip (depth  1): scmi ${us(t.scmi)}  no-core ${us(t.device)}  floor ${us(t.floor)} (as answered ${us(t.asAnswered).trim()}, per pass ${us(t.perPass).trim()})  scmi/floor ${ratio.toFixed(2)} (${spread(t, (r) => r.scmi / r.floor)})  scmi/no-core ${(t.scmi / t.device).toFixed(2)}  streaming floor ${us(t.streaming).trim()}, scmi/streaming ${(t.scmi / t.streaming).toFixed(2)}${workedNote(
      pair,
      t,
      us,
      (r) => r.scmi / r.worked,
    )}`,
  );
  const cpu = cpuLine(t);
  if (cpu !== undefined) console.log(cpu);
  const workedAddsUs = (((t.worked ?? Number.NaN) - t.perPass) / n) * 1e6;
  return { ratio, workedRatio, workedAddsUs };
}

/**
 * Seconds of `n` round trips at `depth` of each subject, per subject and per round: a warm-up run
 * of each, then {@link ROUNDS} rounds, the order rotated each round so that drift hits every
 * subject alike.
 */
async function interleaved(
  subjects: readonly Subject[],
  depth: number,
  n: number,
): Promise<number[][]> {
  for (const s of subjects) await timed(s, depth, n); // warm-up
  const times = subjects.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < subjects.length; k++) {
      const i = (round + k) % subjects.length;
      times[i]?.push(await timed(subjects[i] as Subject, depth, n));
    }
  }
  return times;
}

/**
 * How the floor itself moves when its device works a little longer per command: the floor (the
 * faster policy of each round) with {@link SENSITIVITY_NS} of work against the floor without, in
 * interleaved rounds, for the round trip and for throughput at depth 16. Returns, for each amount
 * of work, the round trip's and the depth-16 throughput's ratio to the floor (medians of rounds).
 */
async function floorSensitivity(
  pair: Pair,
): Promise<readonly { workNs: number; roundTrip: number; throughput: number }[]> {
  const rows = pair.sensitivity ?? [];
  const subjects = [
    pair.floor,
    pair.floorPerPass,
    ...rows.flatMap((f) => [f.asAnswered, f.perPass]),
  ];
  const measure = (depth: number, n: number): Promise<number[][]> =>
    interleaved(subjects, depth, n);
  /** The faster policy of round `r` for the pair of subjects at `i` (0: no work). */
  const fastest = (times: number[][], i: number, r: number): number =>
    Math.min(times[2 * i]?.[r] as number, times[2 * i + 1]?.[r] as number);
  const [rtN, tpN] = [10_000, 40_000];
  const rt = await measure(1, rtN);
  const tp = await measure(16, tpN);
  const out: { workNs: number; roundTrip: number; throughput: number }[] = [];
  const show = (times: number[][], i: number, ratio: (r: number) => number): string => {
    const rs = Array.from({ length: ROUNDS }, (_, r) => ratio(r));
    return `${median(rs).toFixed(2)} × floor (rounds ${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`;
  };
  const rtUs = (i: number): string =>
    `${((median(Array.from({ length: ROUNDS }, (_, r) => fastest(rt, i, r))) / rtN) * 1e6).toFixed(1)} µs`;
  const tpRate = (i: number): string =>
    rate(tpN, median(Array.from({ length: ROUNDS }, (_, r) => fastest(tp, i, r)))).trim();
  console.log(
    `worker      floor sensitivity: the floor's device working longer per command (calibrated busy loop), the faster policy in each round; no work: round trip ${rtUs(0)}, depth 16 ${tpRate(0)}`,
  );
  rows.forEach((row, k) => {
    const i = k + 1;
    const rtRatio = (r: number): number => fastest(rt, i, r) / fastest(rt, 0, r);
    const tpRatio = (r: number): number => fastest(tp, 0, r) / fastest(tp, i, r);
    console.log(
      `            + ${String(row.workNs).padStart(3)} ns/command: round trip ${rtUs(i)}, ${show(rt, i, rtRatio)};  depth 16 ${tpRate(i)}, ${show(tp, i, tpRatio)}`,
    );
    out.push({
      workNs: row.workNs,
      roundTrip: median(Array.from({ length: ROUNDS }, (_, r) => rtRatio(r))),
      throughput: median(Array.from({ length: ROUNDS }, (_, r) => tpRatio(r))),
    });
  });
  return out;
}

/**
 * The ceiling of a promise-per-command API: the floor whose driver awaits a promise per command
 * against the floor itself (the faster policy of each round), interleaved, at depth 16 and for the
 * round trip. Returns the medians of the per-round ratios (throughput: awaited / floor; round
 * trip: awaited / floor), or undefined in a pair without it.
 */
async function awaitedCeiling(
  pair: Pair,
): Promise<{ throughput: number; roundTrip: number } | undefined> {
  const awaited = pair.awaited;
  if (awaited === undefined) return undefined;
  const subjects = [pair.floor, pair.floorPerPass, awaited];
  const measure = async (depth: number, n: number): Promise<number[]> => {
    const times = await interleaved(subjects, depth, n);
    // Per round: the awaited floor's time over the floor's (the faster policy of the round).
    return Array.from(
      { length: ROUNDS },
      (_, r) =>
        (times[2]?.[r] as number) / Math.min(times[0]?.[r] as number, times[1]?.[r] as number),
    );
  };
  const tp = (await measure(16, 40_000)).map((x) => 1 / x);
  const rt = await measure(1, 10_000);
  const show = (rs: number[]): string =>
    `${median(rs).toFixed(2)} × floor (rounds ${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`;
  console.log(
    `worker      awaited floor (the floor's driver awaiting a promise per command, as any promise API does): depth 16 throughput ${show(tp)}; round trip ${show(rt)}`,
  );
  return { throughput: median(tp), roundTrip: median(rt) };
}

/** Used heap of the agent's thread and of the device worker, each after a full collection. */
async function heapNow(host: WorkerHost): Promise<{ agent: number; device: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  return { agent: process.memoryUsage().heapUsed, device: (await host.call('heapUsed')) as number };
}

async function heap(
  pair: Pair,
  host: WorkerHost,
): Promise<{ growthKiB: number; deviceGrowthKiB: number; measured: boolean }> {
  const measured = (globalThis as { gc?: () => void }).gc !== undefined;
  await pair.scmi.run(16, 50_000); // warm-up: pools, inline caches
  const before = await heapNow(host);
  await pair.scmi.run(16, HEAP_COMMANDS / 2);
  const half = await heapNow(host);
  await pair.scmi.run(16, HEAP_COMMANDS / 2);
  const after = await heapNow(host);
  const kib = (b: number): string => `${(b / 1024).toFixed(0)} KiB`;
  const line = (side: 'agent' | 'device'): string =>
    `before ${kib(before[side])}, half-way ${kib(half[side])}, after ${kib(after[side])}; growth ${kib(after[side] - before[side])}`;
  console.log(
    `heap over ${HEAP_COMMANDS.toLocaleString('en-US')} commands (worker, depth 16): agent thread ${line('agent')}; device worker ${line('device')}${measured ? '' : ' (run with --expose-gc for a meaningful number)'}`,
  );
  return {
    growthKiB: (after.agent - before.agent) / 1024,
    deviceGrowthKiB: (after.device - before.device) / 1024,
    measured,
  };
}

async function main(): Promise<void> {
  const host = await startWorker({
    entry: resolveWorkerEntry(join(__dirname, 'support'), 'bench-device-worker'),
    name: 'virtio-bench',
  });
  try {
    console.log(
      `virtio-transport benchmark: Base PROTOCOL_VERSION (4-byte request, 12-byte response), cmdq ${CMDQ} entries, EVENT_IDX, median of ${ROUNDS} interleaved rounds; scmi/floor is the median of the per-round ratios, "rounds a–b" its lowest and highest`,
    );
    console.log(
      '  scmi = agent (core + transport) → device → platform; no-core = the same bytes through the real device and platform from a bare driver; floor = the same virtqueues moving the same bytes, no SCMI, the faster of two signalling policies (see support/floor.ts); floor + platform time = the per-pass floor whose device also spins, per command, as long as the platform takes to handle one (measured in the worker in this run; information, not a target)',
    );
    const worker = await workerPair(host);
    const at16 = await throughput('worker     ', worker);
    const rtt = await roundTrip(worker);
    const sensitivity = await floorSensitivity(worker);
    const ceiling = await awaitedCeiling(worker);
    const mem = await heap(worker, host);
    await worker.close();
    const same = await sameThreadPair();
    const sameAt16 = await throughput('same-thread', same);
    await same.close();
    const checks = [
      [`throughput ≥ 0.8 × floor at depth 16 (worker)`, at16.ratio >= 0.8],
      [
        `throughput ≥ 0.8 × floor at depth 16 (same thread; the device and the platform alone, without core, reach ${sameAt16.noCoreRatio.toFixed(2)})`,
        sameAt16.ratio >= 0.8,
      ],
      [`round trip ≤ 1.3 × floor (worker)`, rtt.ratio <= 1.3],
      [
        `heap flat over ${HEAP_COMMANDS.toLocaleString('en-US')} commands (< 1 MiB growth, agent thread and device worker)`,
        mem.measured && mem.growthKiB < 1024 && mem.deviceGrowthKiB < 1024,
      ],
    ] as const;
    for (const [what, ok] of checks) console.log(`${ok ? 'met ' : 'MISS'}  ${what}`);
    console.log(
      `note  ${worker.worked?.platformNs.toFixed(0) ?? '?'} ns of work per command on the floor device's side (as long as the platform takes to handle one) add ${rtt.workedAddsUs.toFixed(1)} µs to the per-pass floor's round trip; against that floor scmi reaches ${rtt.workedRatio.toFixed(2)}`,
    );
    const missRt = sensitivity.find((f) => f.roundTrip > 1.3);
    const missTp = sensitivity.find((f) => f.throughput < 0.8);
    const platformNs = worker.worked?.platformNs;
    const alone = (
      f: (typeof sensitivity)[number] | undefined,
      what: string,
      ratio: number | undefined,
    ): string =>
      f === undefined || ratio === undefined
        ? `no amount measured (up to ${SENSITIVITY_NS[SENSITIVITY_NS.length - 1]} ns) takes the floor itself past the ${what} target`
        : `${f.workNs} ns more per command on the floor's device alone take it past the ${what} target (${ratio.toFixed(2)} × floor)${platformNs !== undefined && f.workNs < platformNs ? ` — less than the platform alone takes per command (${platformNs.toFixed(0)} ns)` : ''}`;
    console.log(
      `note  floor sensitivity: ${alone(missRt, 'round-trip', missRt?.roundTrip)}; ${alone(missTp, 'depth-16 throughput', missTp?.throughput)}`,
    );
    if (ceiling !== undefined) {
      console.log(
        `note  a promise per command alone (the awaited floor: same rings, no SCMI) reaches ${ceiling.throughput.toFixed(2)} × floor at depth 16 and ${ceiling.roundTrip.toFixed(2)} × floor for the round trip (worker): the most transact's API could reach with SCMI for free`,
      );
    }
    console.log(
      `note  against the streaming floor at depth 16 (both ends keep looking while they find work), scmi reaches ${at16.streamingRatio.toFixed(2)} (worker) and ${sameAt16.streamingRatio.toFixed(2)} (same thread)`,
    );
    process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    await host.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
