/**
 * Core benchmark: ns per completed transfer through the whole engine (get → send → RX → copy →
 * resolve → markTxDone → put) over a loopback that answers inside `send`, so that only core is
 * measured; and the overhead of the channel RX guard (the same loop with and without it,
 * interleaved A/B rounds in one process, the median of the 41 rounds' ratios; target < 5 %).
 *
 * Run: pnpm --filter @scmi-ts/core bench
 */
import {
  RealClock,
  RxGuard,
  ScmiMessageType,
  buildHeader,
  type ChannelSetup,
  type NotificationBuffer,
  type TransportChannel,
  type Xfer,
} from '../src/index.js';
import { ChannelRuntime, TransferEngine } from '../src/transfer/transfer-engine.js';
import { NotificationHub } from '../src/notification/notification-hub.js';

/** The response the "platform" returns: status SUCCESS and a 4-byte version. */
const RESPONSE = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x02, 0x00]);

class DirectChannel implements TransportChannel {
  readonly maxInFlight = 1;
  readonly guard = new RxGuard();
  constructor(
    readonly sink: ChannelSetup['sink'],
    readonly guarded: boolean,
  ) {}
  send(xfer: Xfer): void {
    // The platform answers at once: write the echoed header, deliver through the RX path.
    const header = buildHeader(
      xfer.messageId,
      ScmiMessageType.COMMAND,
      xfer.protocolId,
      xfer.token,
    );
    RESPONSE[0] = header & 0xff;
    RESPONSE[1] = (header >>> 8) & 0xff;
    RESPONSE[2] = (header >>> 16) & 0xff;
    RESPONSE[3] = (header >>> 24) & 0xff;
    if (this.guarded) {
      if (!this.guard.enter()) return;
      try {
        this.sink.rx(header, RESPONSE);
      } finally {
        this.guard.exit();
      }
    } else {
      this.sink.rx(header, RESPONSE);
    }
  }
  fetchResponse(xfer: Xfer, ctx: unknown): void {
    const bytes = ctx as Uint8Array;
    xfer.receiveResponse(0, bytes, 8, bytes.byteLength - 8);
  }
  fetchNotification(buffer: NotificationBuffer): void {
    buffer.length = 0;
  }
  markTxDone(): void {}
  quiesce(): Promise<void> {
    return this.guard.quiesce();
  }
  free(): void {}
}

function makeEngine(guarded: boolean): { engine: TransferEngine; channel: ChannelRuntime } {
  const clock = new RealClock();
  const hub = new NotificationHub('bench', clock, 4, 128);
  const engine = new TransferEngine({
    agent: 'bench',
    clock,
    poolSize: 20,
    maxMsgSize: 128,
    rxTimeoutMs: 30,
    asyncTimeoutMs: 2000,
    notifications: hub,
  });
  const channel = new ChannelRuntime(engine, 0, 'a2p', false);
  channel.attach(new DirectChannel(channel, guarded));
  return { engine, channel };
}

async function run(engine: TransferEngine, channel: ChannelRuntime, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const xfer = engine.pool.tryGet() ?? (await engine.get(channel, 0x10, 0, 0, 4));
    xfer.protocolId = 0x10;
    xfer.messageId = 0;
    xfer.header = buildHeader(0, 0, 0x10, xfer.token);
    xfer.txLen = 0;
    xfer.rxMax = 4;
    xfer.polling = false;
    xfer.isAsync = false;
    await engine.do(channel, xfer);
    engine.put(xfer);
  }
  return Number(process.hrtime.bigint() - start) / n;
}

const ROUNDS = 41;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const guarded = makeEngine(true);
  const bare = makeEngine(false);
  const N = 100_000;
  await run(guarded.engine, guarded.channel, N); // warm-up
  await run(bare.engine, bare.channel, N);
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order so that drift hits both alike.
    if (round % 2 === 0) {
      a.push(await run(guarded.engine, guarded.channel, N));
      b.push(await run(bare.engine, bare.channel, N));
    } else {
      b.push(await run(bare.engine, bare.channel, N));
      a.push(await run(guarded.engine, guarded.channel, N));
    }
  }
  const withGuard = median(a);
  const without = median(b);
  // The median of the rounds' own ratios: each pair ran back to back, so drift cancels out.
  const overhead = (median(a.map((t, i) => t / (b[i] as number))) - 1) * 100;
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  const before = process.memoryUsage().heapUsed;
  await run(guarded.engine, guarded.channel, 1_000_000);
  collect?.();
  const after = process.memoryUsage().heapUsed;
  console.log(
    `transfer round trip through core (loopback answering in send): ${withGuard.toFixed(0)} ns/transfer`,
  );
  console.log(
    `without the RX guard:                                            ${without.toFixed(0)} ns/transfer`,
  );
  console.log(
    `RX guard overhead: ${overhead.toFixed(2)} % (median of the ratios of ${ROUNDS} interleaved rounds; target < 5 %)`,
  );
  console.log(
    `heap after 1,000,000 transfers vs before: ${((after - before) / 1024).toFixed(0)} KiB${collect === undefined ? ' (run with --expose-gc for a meaningful number)' : ''}`,
  );
  process.exitCode = overhead < 5 ? 0 : 1;
}

void main();
