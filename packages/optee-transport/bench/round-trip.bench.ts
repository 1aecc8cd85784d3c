/**
 * OP-TEE transport benchmark: the round trip of one SCMI command (Base / Clock PROTOCOL_VERSION,
 * through core, the transport, the OP-TEE driver, the emulated OP-TEE, the SCMI PTA and the
 * platform) over an SMT channel and over a MSG channel, against the floor measured in the same
 * run: a bare invocation with no SCMI (PTA CAPABILITIES through the TEE client API, awaited).
 * Worker mode (the secure world in a worker thread, calls crossing threads over shared memory)
 * and same-thread mode (both worlds on this thread's event loop). Rounds are interleaved; the
 * median of each is reported, with the ratio to the floor — the median of the per-round ratios,
 * with their lowest and highest (target in worker mode: ≤ 1.3×; the script exits non-zero when it
 * is missed).
 *
 * The floor is the same mechanism with no SCMI: the TEE client API, the driver, the wire and its
 * doorbell wait, the emulated OP-TEE core and the SCMI PTA's entry, with one value parameter — the
 * shape of an SMT invocation (PROCESS_SMT_CHANNEL carries one value; the SMT area is the SCMI
 * transport's own memory, so writing and reading it is SCMI work). A MSG invocation also passes
 * two references to registered shared memory, TEE mechanism rather than SCMI work: for MSG the
 * floor is the stricter one, its ratio counts the memory references as overhead.
 *
 * By default a send waits for its invocation to return (`syncWaitMs`, 1 ms) the way the bare
 * invocation is awaited: both sleep on the wire's doorbell, so the floor and SCMI wait alike. A
 * second floor, the bare invocation checked between event-loop turns (setImmediate) instead, shows
 * what polling does by itself: in worker mode it skips the doorbell wake-up and is often faster,
 * at the price of a spinning thread. The SCMI path with `syncWaitMs: 0` (core polls at once) is
 * measured too and compared with that polled floor, so each way of waiting is set against the
 * bare invocation waited for the same way. The target is checked on the default path.
 *
 * Run: pnpm --filter @scmi-ts/optee-transport bench
 */
import {
  RealClock,
  TRANSPORT,
  coreModule,
  createAgent,
  resolveWorkerEntry,
  startWorker,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { Container, ContainerModule } from 'inversify';
import { join } from 'node:path';
import {
  EmulatedOptee,
  OpteeDriver,
  OpteeTransport,
  PTA_SCMI_UUID,
  PtaScmiCommand,
  TeeParamType,
  createSameThreadOpteeWire,
  openOpteeWorkerWire,
  openTeeContext,
  opteeTransportConfig,
  teeValue,
  type OpteeWireOptions,
  type TeeSession,
} from '../src/index.js';

const OPS = Number(process.env.BENCH_OPS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const WIRE: OpteeWireOptions = { channels: [{ id: 0, staticShmem: true }, { id: 1 }], threads: 8 };
const CAPS = [teeValue(TeeParamType.VALUE_OUTPUT)];

interface Wire {
  readonly driver: OpteeDriver;
  close(): Promise<void>;
}

async function timeOps(op: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) await op();
  return Number(process.hrtime.bigint() - t0) / OPS;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function probe(driver: OpteeDriver, syncWaitMs?: number): Promise<ScmiAgent> {
  const container = new Container();
  container.load(coreModule);
  container.load(
    new ContainerModule(({ bind }) => {
      bind(TRANSPORT).toConstantValue(new OpteeTransport());
    }),
  );
  return createAgent(container, {
    transport: 'optee',
    // Base on the SMT channel 0, Clock on the MSG channel 1.
    a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }],
    rxTimeoutMs: 1000,
    transportConfig: opteeTransportConfig(driver, syncWaitMs === undefined ? {} : { syncWaitMs }),
  });
}

/** What one mode measured: the printed lines and each SCMI round trip's ratio to the floor. */
interface Measured {
  readonly lines: string[];
  readonly ratios: {
    readonly smt: number;
    readonly msg: number;
    /** `syncWaitMs: 0` against the polled floor. */
    readonly smtPolled: number;
    readonly msgPolled: number;
  };
}

/**
 * Measures every kind of round trip over `wire`, then closes what it opened and the wire, newest
 * first — also when a measurement fails, so that a failed run still exits.
 */
async function measure(label: string, wire: Wire): Promise<Measured> {
  const opened: (() => Promise<void>)[] = [() => wire.close()];
  try {
    return await measureOn(label, wire, opened);
  } finally {
    for (const close of opened.reverse()) {
      await close().catch((error: unknown) => {
        console.error(`closing after the ${label} measurement failed:`, error);
        process.exitCode = 1;
      });
    }
  }
}

async function measureOn(
  label: string,
  wire: Wire,
  opened: (() => Promise<void>)[],
): Promise<Measured> {
  const agent = await probe(wire.driver);
  opened.push(() => agent.remove());
  // The same SCMI path with `syncWaitMs: 0`: core polls at once instead of the send sleeping
  // until the invocation returns — compared with the bare invocation waited for the same way.
  const pollingAgent = await probe(wire.driver, 0);
  opened.push(() => pollingAgent.remove());
  const context = openTeeContext(wire.driver);
  opened.push(() => context.close());
  const session: TeeSession = await context.openSession(PTA_SCMI_UUID);
  opened.push(() => session.close());
  // The same bare invocation, waited for the way core waits for a polling transfer: checking
  // between event-loop turns (setImmediate) instead of sleeping until the return.
  const polled = async (): Promise<void> => {
    let returned = false;
    session.submit(PtaScmiCommand.CAPABILITIES, CAPS, {}, () => {
      returned = true;
    });
    const done = (): boolean => returned;
    while (!done()) await new Promise((resolve) => setImmediate(resolve));
  };
  const kinds: [string, () => Promise<unknown>][] = [
    ['bare invocation (floor)', () => session.invoke(PtaScmiCommand.CAPABILITIES, CAPS)],
    ['bare invocation, polled', polled],
    ['SCMI round trip, SMT', () => agent.transact(0x10, 0x0, undefined, { rxSize: 4 })],
    ['SCMI round trip, MSG', () => agent.transact(0x14, 0x0, undefined, { rxSize: 4 })],
    ['SCMI, SMT, syncWaitMs 0', () => pollingAgent.transact(0x10, 0x0, undefined, { rxSize: 4 })],
    ['SCMI, MSG, syncWaitMs 0', () => pollingAgent.transact(0x14, 0x0, undefined, { rxSize: 4 })],
  ];
  // Warm up every path, then interleave the rounds.
  for (const [, op] of kinds) for (let i = 0; i < 500; i++) await op();
  const samples = kinds.map((): number[] => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < kinds.length; k++) {
      (globalThis as { gc?: () => void }).gc?.();
      samples[k]?.push(await timeOps((kinds[k] as [string, () => Promise<unknown>])[1]));
    }
  }
  // A ratio is the median of the per-round ratios: within a round the kinds run back to back, so
  // a slow spell of the shared machine hits the floor and SCMI alike and cancels out (as core's
  // bench); the lowest and highest round show the spread.
  const perRound = (k: number, base: number): number[] =>
    (samples[k] as number[]).map((x, r) => x / ((samples[base] as number[])[r] as number));
  const ratioOf = (k: number, base = 0): number => median(perRound(k, base));
  const spread = (k: number, base: number): string => {
    const rs = perRound(k, base);
    return `rounds ${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}`;
  };
  const lines = kinds.map(([name], k) => {
    const m = median(samples[k] as number[]);
    const ratio = k === 0 ? '' : `  ${ratioOf(k).toFixed(2)}× floor (${spread(k, 0)})`;
    const vsPolled = k < 2 ? '' : `  ${ratioOf(k, 1).toFixed(2)}× polled floor (${spread(k, 1)})`;
    const best = Math.min(...(samples[k] as number[]));
    return `  ${label.padEnd(12)} ${name.padEnd(26)} ${(m / 1000).toFixed(1).padStart(7)} µs/op (best ${(best / 1000).toFixed(1)})${ratio}${vsPolled}`;
  });
  return {
    lines,
    ratios: {
      smt: ratioOf(2),
      msg: ratioOf(3),
      smtPolled: ratioOf(4, 1),
      msgPolled: ratioOf(5, 1),
    },
  };
}

async function workerWire(): Promise<{ wire: Wire; stop(): Promise<void> }> {
  const host = await startWorker({
    entry: resolveWorkerEntry(join(__dirname, '..', 'test', 'support'), 'optee-worker'),
    data: { platformConfig: createDefaultPlatformConfig(), agentId: 1, seed: 1 },
  });
  const wire = await openOpteeWorkerWire(host, WIRE);
  return { wire, stop: () => host.stop() };
}

function sameThreadWire(): Wire {
  const clock = new RealClock();
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const w = createSameThreadOpteeWire(clock, WIRE);
  const optee = new EmulatedOptee({
    wire: w.tee,
    platform: platform,
    agentId: 1,
    clock,
  });
  const driver = new OpteeDriver(w.ree);
  return {
    driver,
    close: () => {
      driver.close();
      optee.close();
      platform.close();
      return Promise.resolve();
    },
  };
}

async function main(): Promise<void> {
  console.log(
    `OP-TEE transport round trip (${ROUNDS} rounds × ${OPS} ops, median; Node ${process.version})`,
  );
  const worker = await workerWire();
  let inWorker: Measured;
  try {
    inWorker = await measure('worker', worker.wire);
    for (const line of inWorker.lines) console.log(line);
  } finally {
    await worker.stop();
  }
  for (const line of (await measure('same-thread', sameThreadWire())).lines) console.log(line);
  const checks = [
    ['SCMI round trip over SMT ≤ 1.3 × floor (worker)', inWorker.ratios.smt <= 1.3],
    ['SCMI round trip over MSG ≤ 1.3 × floor (worker)', inWorker.ratios.msg <= 1.3],
    [
      'SCMI round trip over SMT, syncWaitMs 0, ≤ 1.3 × polled floor (worker)',
      inWorker.ratios.smtPolled <= 1.3,
    ],
    [
      'SCMI round trip over MSG, syncWaitMs 0, ≤ 1.3 × polled floor (worker)',
      inWorker.ratios.msgPolled <= 1.3,
    ],
  ] as const;
  for (const [what, ok] of checks) console.log(`${ok ? 'met ' : 'MISS'}  ${what}`);
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
