/**
 * Mailbox transport benchmark, in both modes (platform in a worker thread; both ends on one
 * thread): the round trip of a Base PROTOCOL_VERSION through the whole stack (agent → SMT area →
 * doorbell → responder → platform → SMT area → doorbell → agent) against the floor of the same
 * doorbell mechanism measured in the same run — a bare ring/answer ping-pong over the same kind of
 * shared mailbox channel with the same wait primitive on each side, no SCMI. Then messages per
 * second over several channels, and the agent's heap after 1,000,000 round trips.
 *
 * Targets: worker ≤ 1.3× floor; same thread ≤ 3× floor; heap within 1 MB of the heap after
 * warm-up (run with --expose-gc, GC before each sample).
 *
 * Run: pnpm --filter @scmi-ts/mailbox-transport bench
 * (BENCH_ROUND_TRIPS=100000 for a quicker heap run.)
 */
import { getHeapStatistics } from 'node:v8';
import { Container } from 'inversify';
import {
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
  SameThreadMailboxController,
  SharedMailboxController,
  SmtResponder,
  createSameThreadMailboxWire,
  mailboxTransportModule,
  openSmtWorkerWire,
  type MailboxChannel,
  type MailboxController,
  type SmtWorkerWire,
} from '@scmi-ts/mailbox-transport';

const gc = (globalThis as { gc?: () => void }).gc;
const ROUNDS = 9;
const HEAP_ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 1_000_000);

type RoundTrip = () => Promise<void>;

function heap(): number {
  gc?.();
  return getHeapStatistics().used_heap_size;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function timed(rt: RoundTrip, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await rt();
  return Number(process.hrtime.bigint() - start) / n;
}

/**
 * Interleaved A/B rounds (the order alternates so drift hits both alike): medians in ns, and the
 * ratio scmi / floor as the median of the per-round ratios — each round's two runs are adjacent in
 * time, so a slow spell of the shared machine hits both and cancels out (as core's bench) — with
 * its lowest and highest round.
 */
async function compare(floor: RoundTrip, scmi: RoundTrip, n: number): Promise<Comparison> {
  await timed(floor, n);
  await timed(scmi, n);
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      a.push(await timed(floor, n));
      b.push(await timed(scmi, n));
    } else {
      b.push(await timed(scmi, n));
      a.push(await timed(floor, n));
    }
  }
  const ratios = a.map((f, i) => (b[i] as number) / f);
  return {
    floor: median(a),
    scmi: median(b),
    ratio: median(ratios),
    low: Math.min(...ratios),
    high: Math.max(...ratios),
  };
}

interface Comparison {
  /** Median ns of a floor round trip, and of an SCMI one. */
  readonly floor: number;
  readonly scmi: number;
  /** Median of the per-round ratios scmi / floor, and the lowest and highest of them. */
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
}

/** The floor's client: ring, wait for the answer doorbell. */
function pinger(
  controller: MailboxController,
  index: number,
): { rt: RoundTrip; chan: MailboxChannel } {
  let wake: (() => void) | undefined;
  const chan = controller.requestChannel(index, {
    knowsTxDone: true,
    rxCallback: () => {
      const w = wake;
      wake = undefined;
      w?.();
    },
  });
  const rt: RoundTrip = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
      chan.send();
      chan.clientTxDone();
    });
  return { rt, chan };
}

/** Base PROTOCOL_VERSION the way a protocol driver sends it: get, do, put. */
function versionRoundTrip(ops: XferOps): RoundTrip {
  return async () => {
    const xfer = await ops.get(0x0, 0, 4);
    try {
      await ops.do(xfer);
    } finally {
      ops.put(xfer);
    }
  };
}

/** Messages per second with `lanes` channels busy at once for `ms`. */
async function throughput(
  agent: ScmiAgent,
  protocols: readonly number[],
  ms: number,
): Promise<number> {
  let count = 0;
  const end = performance.now() + ms;
  await Promise.all(
    protocols.map(async (p) => {
      const rt = versionRoundTrip(agent.xfer(p));
      while (performance.now() < end) {
        for (let i = 0; i < 64; i++) await rt();
        count += 64;
      }
    }),
  );
  return (count * 1000) / ms;
}

async function heapGrowth(rt: RoundTrip, remote?: () => Promise<number>): Promise<string> {
  await timed(rt, 50_000);
  const before = heap();
  const remoteBefore = remote === undefined ? 0 : await remote();
  await timed(rt, HEAP_ROUND_TRIPS);
  const after = heap();
  const delta = (after - before) / 1024;
  let line = `agent heap ${delta >= 0 ? '+' : ''}${delta.toFixed(0)} KiB after ${HEAP_ROUND_TRIPS.toLocaleString('en')} round trips (target within ±1024 KiB)`;
  if (remote !== undefined) {
    const r = ((await remote()) - remoteBefore) / 1024;
    line += `; platform worker heap ${r >= 0 ? '+' : ''}${r.toFixed(0)} KiB`;
  }
  return `${line} ${Math.abs(delta) <= 1024 ? 'OK' : 'OVER'}`;
}

// A generous timeout: on a loaded machine a 30 ms scheduling stall would fail a transfer, and
// this measures the steady state, not timeouts.
const AGENT_CHANNELS = {
  rxTimeoutMs: 2000,
  a2p: [
    { id: 0 },
    { id: 1, protocols: [0x14] },
    { id: 2, protocols: [0x13] },
    { id: 3, protocols: [0x15] },
  ],
};

function container(): Container {
  const c = new Container();
  c.load(coreModule, mailboxTransportModule);
  return c;
}

function ratioLine(name: string, r: Comparison, target: number): string {
  return [
    `${name}: Base PROTOCOL_VERSION ${(r.scmi / 1000).toFixed(2)} µs, floor (bare ring/answer) ${(r.floor / 1000).toFixed(2)} µs (medians of ${ROUNDS} interleaved rounds)`,
    `  ratio ${r.ratio.toFixed(2)}× (median of the per-round ratios; rounds ${r.low.toFixed(2)}–${r.high.toFixed(2)}) (target ≤ ${target}×) ${r.ratio <= target ? 'OK' : 'OVER'}`,
  ].join('\n');
}

async function workerMode(): Promise<boolean> {
  const host: WorkerHost = await startWorker({
    entry: resolveWorkerEntry(__dirname, 'bench-worker'),
    name: 'bench-platform',
  });
  let smt: SmtWorkerWire | undefined;
  let agent: ScmiAgent | undefined;
  const region = SharedMailboxController.allocate(1);
  const floor = pinger(new SharedMailboxController(region), 0);
  try {
    await host.call('echoStart', region, 0);
    smt = await openSmtWorkerWire(host, { agentId: 1, a2p: [0, 1, 2, 3], p2a: [0] });
    agent = await createAgent(container(), {
      transport: 'mailbox',
      ...AGENT_CHANNELS,
      transportConfig: { wire: smt.wire },
    });
    const r = await compare(floor.rt, versionRoundTrip(agent.xfer(0x10)), 20_000);
    console.log(ratioLine('worker mode', r, 1.3));
    const one = await throughput(agent, [0x10], 1000);
    const four = await throughput(agent, [0x10, 0x14, 0x13, 0x15], 1000);
    console.log(
      `  messages/s: 1 channel ${one.toFixed(0)}, 4 channels ${four.toFixed(0)} (${(four / one).toFixed(2)}×)`,
    );
    console.log(
      `  ${await heapGrowth(versionRoundTrip(agent.xfer(0x10)), async () => (await host.call('heap')) as number)}`,
    );
    return r.ratio <= 1.3;
  } finally {
    await agent?.remove();
    await smt?.close();
    floor.chan.free();
    await host.stop();
  }
}

async function sameThreadMode(): Promise<boolean> {
  const clock = new RealClock();
  const controller = new SameThreadMailboxController(clock, { channels: 1 });
  const remote = controller.remote(0);
  remote.listen(() => {
    remote.ring();
  });
  const floor = pinger(controller, 0);
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const mailbox = createSameThreadMailboxWire(clock, { a2p: [0, 1, 2, 3], p2a: [0] });
  const responder = new SmtResponder({ platform, agentId: 1, end: mailbox.platformEnd, clock });
  const agent = await createAgent(container(), {
    transport: 'mailbox',
    ...AGENT_CHANNELS,
    transportConfig: { wire: mailbox.wire },
  });
  try {
    const r = await compare(floor.rt, versionRoundTrip(agent.xfer(0x10)), 50_000);
    console.log(ratioLine('same thread', r, 3));
    const one = await throughput(agent, [0x10], 1000);
    const four = await throughput(agent, [0x10, 0x14, 0x13, 0x15], 1000);
    console.log(
      `  messages/s: 1 channel ${one.toFixed(0)}, 4 channels ${four.toFixed(0)} (${(four / one).toFixed(2)}×)`,
    );
    console.log(`  ${await heapGrowth(versionRoundTrip(agent.xfer(0x10)))}`);
    return r.ratio <= 3;
  } finally {
    await agent.remove();
    responder.close();
    platform.close();
    floor.chan.free();
    remote.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `mailbox transport benchmark (node ${process.version}, ${gc === undefined ? 'no --expose-gc: heap numbers are noise' : 'GC before each heap sample'})`,
  );
  const worker = await workerMode();
  const same = await sameThreadMode();
  process.exitCode = worker && same ? 0 : 1;
}

void main();
