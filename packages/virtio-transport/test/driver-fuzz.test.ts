/**
 * A seeded fuzz campaign of the agent-side virtio driver against a hostile device: the randomized
 * complement of the enumerated cases in `hostile-device.test.ts` and
 * `driver-hostile-returns.test.ts`. Each case is one seed: an agent is probed over a
 * {@link FuzzDevice} answering properly, then for {@link STEPS} steps the agent keeps commands in
 * flight while the device picks, at random, among answering properly, late or with hostile bytes
 * and lengths, returning ids that are out of range, not in flight, a chain's second descriptor or
 * duplicated, moving `used.idx` over stale or random elements (rarely past the queue size),
 * returning eventq buffers with random contents and lengths, writing into buffers it holds,
 * ringing the interrupt or the configuration signal for nothing, holding commands past their
 * timeout, and rarely setting DEVICE_NEEDS_RESET; virtual time moves by random amounts between
 * steps. Then the device turns calm, and the agent is removed.
 *
 * Invariants, each failure naming the seed:
 *
 * 1. nothing throws out of the driver, every command settles, and every rejection is an
 *    `ScmiError` with a code; no unhandled rejection (jest-circus fails the running case on one);
 * 2. the driver never makes available a cmdq or eventq buffer the device still holds, nor a
 *    malformed chain (checked by the device when it takes each chain), and frees no buffer before
 *    the device acknowledged the reset;
 * 3. what the driver reads is counted as the device's model says: a defective used ring breaks the
 *    virtqueue with the defect the model predicts (counted once, and nothing after it is read),
 *    and the elements it read before moved the channel's counters exactly as the model says —
 *    rejections (bad messages, late replies; on the eventq notifications and delayed responses
 *    too, every element being counted once) and completed commands apart — except for the few
 *    read at the very moment their command's deadline passed, which are bounded;
 * 4. after the calm phase a well-formed command succeeds, unless the cmdq broke or the device set
 *    DEVICE_NEEDS_RESET, when it fails with `E_VIRTIO_DEVICE` (or, polling, times out on the
 *    defect it finds), the driver's state saying `failed` exactly when DEVICE_NEEDS_RESET was set;
 * 5. `remove()` resolves, devres reports no leak, the driver's `violations` stay empty, no buffer
 *    leaks, and the buffers the driver still counted as the device's at the reset are reclaimed,
 *    exactly that many.
 *
 * The driver's reading position is taken from a spy on `DriverVirtqueue.take` (how many elements
 * it consumed, how often it looked): what was read is the driver's to decide, what it must make of
 * each element is the model's.
 *
 * `SCMI_FUZZ_SEED` (default 1) and `SCMI_FUZZ_RUNS` (default {@link DEFAULT_RUNS}) choose the seeds
 * `SCMI_FUZZ_SEED … SCMI_FUZZ_SEED + SCMI_FUZZ_RUNS - 1`; `pnpm fuzz` runs a long campaign from a
 * seed taken from the time. A failure names its seed and the case's configuration;
 * `SCMI_FUZZ_DEBUG=1` prints the failing case's steps and the elements the driver read.
 */
import {
  CLOCK,
  ScmiError,
  ScmiMessageType,
  VirtualClock,
  buildHeader,
  coreModule,
  createAgent,
  mulberry32,
  type ChannelStats,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import {
  fuzzSeeds,
  thrownText,
  watch,
  weightedChooser,
  type Watched,
} from '../../core/test/support/fuzz.js';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  DriverVirtqueue,
  GuestMemoryAllocator,
  VirtioScmiWire,
  virtioTransportModule,
  type UsedElement,
} from '@scmi-ts/virtio-transport';
import { Container } from 'inversify';
import { ChannelRuntime } from '../../core/src/transfer/transfer-engine.js';
import { FuzzDevice, type QueueModel } from './support/fuzz-device.js';

/** Cases in the suite's run: the whole file takes a few seconds on two cores. */
const DEFAULT_RUNS = 30;
/** Hostile steps per case. */
const STEPS = 150;
const RX_TIMEOUT_MS = 30;

const { first: BASE_SEED, seeds: SEEDS } = fuzzSeeds(DEFAULT_RUNS);

/** Read-only commands (protocol, message, parameter words): Base, Performance, Clock. */
const COMMANDS: readonly (readonly [number, number, number])[] = [
  [0x10, 0, 0],
  [0x10, 1, 0],
  [0x10, 2, 1],
  [0x10, 3, 0],
  [0x10, 4, 0],
  [0x10, 5, 0],
  [0x10, 6, 1],
  [0x10, 7, 1],
  [0x13, 0, 0],
  [0x13, 1, 0],
  [0x13, 3, 1],
  [0x13, 4, 2],
  [0x13, 8, 1],
  [0x14, 0, 0],
  [0x14, 1, 0],
  [0x14, 3, 1],
  [0x14, 4, 2],
  [0x14, 6, 1],
];

/** What the device may do in a hostile step, with its weight. */
const ACTIONS = {
  answer: 18,
  'answer-all': 5,
  'answer-batch': 6,
  'answer-hostile': 14,
  'answer-late': 6,
  'bad-id': 0.5,
  'move-idx': 1.5,
  jump: 0.1,
  event: 10,
  scribble: 8,
  'spurious-interrupt': 5,
  'config-signal': 1,
  hold: 15,
  'needs-reset': 0.1,
} as const;
type Action = keyof typeof ACTIONS;
/**
 * Actions that (mostly) break a virtqueue or the device: their weight is scaled per case, so that
 * half the cases run their whole hostile phase on sound virtqueues.
 */
const FATAL: ReadonlySet<Action> = new Set<Action>(['bad-id', 'move-idx', 'jump', 'needs-reset']);

/** Counts over the whole run, for the summary line. */
const totals = new Map<string, number>();
function tally(key: string, n = 1): void {
  totals.set(key, (totals.get(key) ?? 0) + n);
}

function sumRejected(s: ChannelStats, p2a: boolean): number {
  const b = s.badMessages;
  const bad = b.unexpected + b.invalid + b.unknown + b.nomem + b.spurious + b.oversize;
  return (
    bad + s.lateReplies + s.overtakenResponses + (p2a ? s.notifications + s.delayedResponses : 0)
  );
}

/** Runs the clock until nothing is pending (virtual time) and says what `outcome` came to. */
async function runUntilSettled<T>(
  clock: VirtualClock,
  outcome: Watched<T>,
  what: string,
): Promise<T> {
  await clock.runUntilIdle(10_000);
  if (!outcome.settled) throw new Error(`${what} never settled`);
  if (outcome.error !== undefined) {
    throw outcome.error instanceof Error
      ? outcome.error
      : new Error(thrownText(outcome.error, { stack: true }));
  }
  return outcome.value as T;
}

/** One case: the problems found (empty when every invariant held). */
async function runCase(seed: number): Promise<string[]> {
  const random = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const problems: string[] = [];
  const trace: string[] = [];

  const cmdqSize = pick([4, 8, 16]);
  const eventqSize = pick([2, 4, 8]);
  const eventIdx = random() < 0.5;
  const polling = random() < 0.25;
  const slots = cmdqSize / 2;
  const maxMsg = random() < 0.3 ? slots + int(1, 3) : slots;
  const fatalScale = pick([0, 0, 0.3, 1]);
  const config = `cmdq ${cmdqSize}, eventq ${eventqSize}, maxMsg ${maxMsg}${eventIdx ? ', EVENT_IDX' : ''}${polling ? ', polling cmdq' : ''}, fatal actions ×${fatalScale}`;
  const weights = (Object.entries(ACTIONS) as [Action, number][]).map(
    ([a, w]) => [a, FATAL.has(a) ? w * fatalScale : w] as const,
  );
  const chooseAction = weightedChooser(random, weights, 'hold');

  const clock = new VirtualClock();
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const wire = VirtioScmiWire.sameThread(clock, { cmdqSize, eventqSize });
  const device = new FuzzDevice(wire, clock, platform, random, {
    eventIdx,
    rxTimeoutMs: RX_TIMEOUT_MS,
    deadlineSlackMs: polling ? 0.1 : 0, // VirtualClock's yield quantum is 0.05 ms
  });
  const modelOf = (used: number): QueueModel | undefined => {
    if (device.cmdq?.vq.ring.layout.used === used) return device.cmdq;
    if (device.eventq?.vq.ring.layout.used === used) return device.eventq;
    return undefined;
  };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its queue as `this`
  const take = DriverVirtqueue.prototype.take;
  const takeSpy = jest.spyOn(DriverVirtqueue.prototype, 'take').mockImplementation(function (
    this: DriverVirtqueue,
    out: UsedElement,
  ) {
    const q = modelOf(this.ring.layout.used);
    // The device runs alongside: it has taken whatever the driver made available.
    if (q !== undefined) device.popAll();
    const before = this.lastUsed;
    const taken = take.call(this, out);
    if (q !== undefined) {
      q.takes++;
      if (this.lastUsed !== before) device.onRead(q, out);
    }
    return taken;
  });
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its allocator as `this`
  const free = GuestMemoryAllocator.prototype.free;
  const freeSpy = jest.spyOn(GuestMemoryAllocator.prototype, 'free').mockImplementation(function (
    this: GuestMemoryAllocator,
    addr: number,
  ) {
    if (device.live)
      device.violations.push(
        `buffer 0x${addr.toString(16)} freed before the reset's acknowledgement`,
      );
    free.call(this, addr);
  });

  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its channel as `this`
  const failInFlight = ChannelRuntime.prototype.failInFlight;
  const lostSpy = jest.spyOn(ChannelRuntime.prototype, 'failInFlight').mockImplementation(function (
    this: ChannelRuntime,
    error: unknown,
  ) {
    // The commands in flight on the cmdq are abandoned from now on (not at their deadline).
    if (this.direction === 'a2p' && device.cmdq !== undefined) device.lostInFlight(device.cmdq);
    return failInFlight.call(this, error);
  });

  let agent: ScmiAgent | undefined;
  let inFlight = 0;
  try {
    const container = new Container();
    container.load(coreModule, virtioTransportModule);
    container.rebind(CLOCK).toConstantValue(clock);
    const probing = createAgent(container, {
      transport: 'virtio',
      rxTimeoutMs: RX_TIMEOUT_MS,
      maxMsg,
      ...(polling ? { a2p: [{ id: 0, polling: true }] } : {}),
      transportConfig: { wire, handshakeTimeoutMs: 50, resetTimeoutMs: 50, slotWaitMs: 100 },
    });
    agent = await runUntilSettled(clock, watch(probing), 'the probe');
    const live = agent;
    const cmdq = device.cmdq as QueueModel;
    const eventq = device.eventq as QueueModel;

    const settled = (outcome: string): void => {
      inFlight--;
      tally(`outcome ${outcome}`);
    };
    const send = (): void => {
      const [protocolId, messageId, words] = pick(COMMANDS);
      const payload = new Uint8Array(4 * words);
      for (let w = 0; w < words; w++) payload[4 * w] = int(0, 3);
      inFlight++;
      let reply: Promise<Uint8Array>;
      try {
        reply =
          random() < 0.5
            ? live.transact(protocolId, messageId, payload)
            : live.xfer(protocolId).transact(messageId, payload);
      } catch (error: unknown) {
        inFlight--;
        problems.push(`a command threw synchronously: ${thrownText(error, { stack: true })}`);
        return;
      }
      reply.then(
        () => settled('ok'),
        (error: unknown) => {
          if (!ScmiError.is(error) || typeof error.code !== 'string' || error.code === '') {
            problems.push(
              `a command rejected with ${thrownText(error, { stack: true })}, not an ScmiError with a code`,
            );
          }
          settled(ScmiError.is(error) ? error.code : 'not-an-ScmiError');
        },
      );
    };

    const heldOf = (q: QueueModel): number[] => q.answerable();
    const freshest = (q: QueueModel, heads: readonly number[]): number =>
      heads.reduce((a, b) =>
        (q.held.get(b)?.poppedAt ?? 0) > (q.held.get(a)?.poppedAt ?? 0) ? b : a,
      );
    const ringAfter = (published: boolean): void => {
      if (published && random() < 0.85) device.doorbells.interrupt.ring();
    };

    // ---- the hostile phase ------------------------------------------------------------------
    device.calm = false;
    const target = int(1, maxMsg + 1);
    for (let step = 0; step < STEPS; step++) {
      while (inFlight < target) send();
      await clock.runTasks(); // the commands reach the cmdq before the device acts
      device.popAll();
      const action = chooseAction();
      tally(`action ${action}`);
      if (process.env.SCMI_FUZZ_DEBUG !== undefined)
        trace.push(
          `step ${step} t=${clock.now()} ${action} cmdq P=${cmdq.published} R=${cmdq.read} held=[${heldOf(cmdq).join(',')}] eventq P=${eventq.published} R=${eventq.read}`,
        );
      switch (action) {
        case 'answer': {
          const held = heldOf(cmdq);
          if (held.length === 0) break;
          const head = pick(held);
          ringAfter(device.publish(cmdq, [{ id: head, len: device.writeAnswer(head) }]));
          break;
        }
        case 'answer-all':
          device.answerAll();
          break;
        case 'answer-batch': {
          const held = heldOf(cmdq).filter(() => random() < 0.6);
          for (let i = held.length - 1; i > 0; i--) {
            const j = int(0, i);
            [held[i], held[j]] = [held[j] as number, held[i] as number];
          }
          const elements = held.map((head) => ({ id: head, len: device.writeAnswer(head) }));
          ringAfter(device.publish(cmdq, elements));
          break;
        }
        case 'answer-late': {
          const late = heldOf(cmdq).filter(
            (h) => clock.now() - (cmdq.held.get(h)?.poppedAt ?? 0) > RX_TIMEOUT_MS,
          );
          if (late.length === 0) break;
          const head = pick(late);
          ringAfter(device.publish(cmdq, [{ id: head, len: device.writeAnswer(head) }]));
          break;
        }
        case 'answer-hostile': {
          const held = heldOf(cmdq);
          if (held.length === 0) break;
          // Mostly the command taken last, so that hostile replies reach transfers still waiting.
          const head = random() < 0.6 ? freshest(cmdq, held) : pick(held);
          const chain = cmdq.held.get(head);
          if (chain === undefined) break;
          const cap = chain.writeBytes;
          let written = 0;
          const body = int(0, 3);
          if (body < 3) {
            const bytes = device.randomBytes(int(body === 0 ? 0 : 8, cap));
            const view = new DataView(bytes.buffer);
            if (body === 1) view.setUint32(0, chain.header, true);
            if (body === 2) {
              const wrong = random() < 0.5 ? chain.header ^ (1 << int(0, 31)) : int(0, 0xffffffff);
              view.setUint32(0, wrong >>> 0, true);
            }
            device.write(chain, bytes);
            written = bytes.byteLength;
          }
          const len = pick([0, int(1, 7), written, int(0, cap), cap, cap + int(1, 64), 0xffffffff]);
          ringAfter(device.publish(cmdq, [{ id: head, len }]));
          break;
        }
        case 'bad-id': {
          const q = random() < 0.7 ? cmdq : eventq;
          const held = heldOf(q);
          const free = Array.from({ length: q.size }, (_, i) => i).filter(
            (i) => !q.held.has(i) && (q.name === 'eventq' || i % 2 === 0),
          );
          const elements: { id: number; len: number }[] = [];
          if (held.length > 0 && random() < 0.5) {
            const head = pick(held);
            elements.push({ id: head, len: q === cmdq ? device.writeAnswer(head) : 0 });
          }
          const kind = int(0, 3);
          if (kind === 0)
            elements.push({ id: pick([q.size + int(0, 64), 0xffff, 0xffffffff]), len: 8 });
          else if (kind === 1 && free.length > 0) elements.push({ id: pick(free), len: 8 });
          else if (kind === 2 && held.length > 0)
            elements.push({ id: q === cmdq ? pick(held) + 1 : pick(held), len: 8 });
          else if (held.length > 0) {
            const head = pick(held);
            elements.push({ id: head, len: 0 }, { id: head, len: 8 }); // the same buffer twice
          } else elements.push({ id: q.size, len: 0 });
          ringAfter(device.publish(q, elements));
          break;
        }
        case 'move-idx': {
          const q = random() < 0.7 ? cmdq : eventq;
          const k = int(1, Math.min(q.size, 4));
          const mode = random();
          if (mode < 0.5) {
            ringAfter(device.publish(q, [], k)); // stale elements
          } else {
            const held = heldOf(q);
            const elements = Array.from({ length: k }, () => ({
              id: mode < 0.85 && held.length > 0 ? pick(held) : int(0, 2 * q.size),
              len: pick([0, int(1, 16), int(0, 200), 0xffffffff]),
            }));
            ringAfter(device.publish(q, elements));
          }
          break;
        }
        case 'jump': {
          const q = random() < 0.7 ? cmdq : eventq;
          ringAfter(device.jump(q, int(q.size + 1, 0x8000)));
          break;
        }
        case 'event': {
          const held = heldOf(eventq);
          if (held.length === 0) break;
          const head = pick(held);
          const chain = eventq.held.get(head);
          if (chain === undefined) break;
          const cap = chain.writeBytes;
          let written = 0;
          const body = int(0, 4);
          if (body < 4) {
            const bytes = device.randomBytes(int(body === 0 ? 0 : 4, Math.min(cap, 40)));
            if (body > 0) {
              const type = [
                ScmiMessageType.NOTIFICATION,
                ScmiMessageType.DELAYED_RESPONSE,
                ScmiMessageType.COMMAND,
              ][body - 1] as ScmiMessageType;
              const header = buildHeader(
                int(0, 3),
                type,
                pick([0x10, 0x13, 0x14, 0x77]),
                int(0, 1023),
              );
              new DataView(bytes.buffer).setUint32(0, header, true);
            }
            device.write(chain, bytes);
            written = bytes.byteLength;
          }
          const len = pick([
            0,
            int(1, 3),
            int(4, 7),
            written,
            written,
            cap,
            cap + int(1, 64),
            0xffffffff,
          ]);
          ringAfter(device.publish(eventq, [{ id: head, len }]));
          break;
        }
        case 'scribble': {
          const q = random() < 0.6 ? cmdq : eventq;
          const held = heldOf(q);
          if (held.length === 0) break;
          const chain = q.held.get(pick(held));
          if (chain !== undefined) device.scribble(chain);
          break;
        }
        case 'spurious-interrupt':
          device.doorbells.interrupt.ring();
          break;
        case 'config-signal':
          device.doorbells.notify.ring();
          break;
        case 'needs-reset':
          if (!device.needsReset) device.setNeedsReset();
          break;
        case 'hold':
          break;
      }
      if (random() < 0.35) await clock.runTasks();
      else await clock.advance(int(1, 240) / 20);
    }

    // ---- the calm phase ---------------------------------------------------------------------
    device.calm = true;
    device.popAll();
    device.answerAll();
    device.doorbells.interrupt.ring();
    await clock.runUntilIdle(10_000);
    if (inFlight !== 0) problems.push(`${inFlight} commands never settled`);
    device.doorbells.interrupt.ring(); // the driver reads whatever is left in its used rings
    await clock.runTasks();

    const a2pRecord = wire.driverDiagnostics.channels.get('a2p:0');
    const cmdqDead = device.needsReset || a2pRecord?.broken !== undefined;
    let final = 'pending';
    void live.transact(0x10, 3).then(
      () => (final = 'ok'),
      (error: unknown) =>
        (final = ScmiError.is(error) ? error.code : thrownText(error, { stack: true })),
    );
    await clock.runUntilIdle(10_000);
    device.doorbells.interrupt.ring();
    await clock.runTasks();
    tally(`final ${final}`);

    // 4. a well-formed command succeeds, or the device is reported broken
    const brokenNow = wire.driverDiagnostics.channels.get('a2p:0')?.broken !== undefined;
    if (!cmdqDead && !brokenNow && final !== 'ok') {
      problems.push(`a well-formed command after the calm phase ended in ${final}`);
    }
    if (cmdqDead && final !== 'E_VIRTIO_DEVICE') {
      problems.push(`the cmdq is dead (broken or needs reset) but a command ended in ${final}`);
    }
    if (!cmdqDead && brokenNow && final !== 'E_TIMEOUT' && final !== 'ok') {
      problems.push(`the cmdq broke under the last command, which ended in ${final}`);
    }
    const failed = wire.driverDiagnostics.state === 'failed';
    if (failed !== device.needsReset) {
      problems.push(
        `driver state ${wire.driverDiagnostics.state} while DEVICE_NEEDS_RESET ${device.needsReset ? 'was' : 'was not'} set`,
      );
    }

    // 3. the used rings read as the model says, and counted within its bounds
    for (const [q, label] of [
      [cmdq, 'a2p:0'],
      [eventq, 'p2a:0'],
    ] as const) {
      const record = wire.driverDiagnostics.channels.get(label);
      const expected = q.expectedBreak();
      const fatalRead = expected?.defect === 'bad-id' || expected?.defect === 'not-in-flight';
      if (expected !== undefined && q.read > (fatalRead ? expected.at + 1 : expected.at)) {
        problems.push(
          `${q.name}: the driver read ${q.read} used elements, past its defect at ${expected.at}`,
        );
      }
      // The eventq, and an interrupt-driven cmdq, drain on the interrupt rung after the calm phase.
      if (q.name === 'eventq' || !polling) {
        if (expected === undefined && q.read !== q.elements.length) {
          problems.push(
            `${q.name}: the driver read ${q.read} of ${q.elements.length} used elements`,
          );
        }
        if (expected !== undefined && expected.defect === undefined) {
          problems.push(`${q.name}: the driver never looked at the used ring after it jumped`);
        }
      }
      if (record?.broken !== expected?.defect) {
        problems.push(
          `${q.name}: broken ${String(record?.broken)}, the device's model says ${String(expected?.defect)}`,
        );
      }
      // The break counts one `invalid`; the elements before it count as classified.
      const broke = expected?.defect === undefined ? 0 : 1;
      const sums = { rejected: [broke, broke], completed: [0, 0], either: [broke, broke] };
      const counted = Math.min(q.read, expected?.at ?? q.read);
      for (const e of q.readElements.slice(0, counted)) {
        for (const k of ['rejected', 'completed', 'either'] as const) {
          (sums[k][0] as number) += e[k][0];
          (sums[k][1] as number) += e[k][1];
        }
      }
      const stats = live.diagnostics.channels.find((c) => c.label === label)?.stats;
      const rejected = stats === undefined ? -1 : sumRejected(stats, q.name === 'eventq');
      const completed = q.name === 'cmdq' ? (stats?.completed ?? -1) : 0;
      const actual = { rejected, completed, either: rejected + completed };
      for (const k of ['rejected', 'completed', 'either'] as const) {
        const [lo, hi] = sums[k] as [number, number];
        if (actual[k] < lo || actual[k] > hi) {
          problems.push(
            `${q.name}: ${k} counters moved by ${actual[k]} for ${counted} used elements read, ${lo === hi ? lo : `${lo}…${hi}`} expected`,
          );
        }
      }
      tally(`${q.name} elements read`, counted);
      if (record?.broken !== undefined) tally(`${q.name} broken ${record.broken}`);
    }

    // 5. the teardown
    device.resetDelayMs = random() < 0.5 ? 0 : int(1, 20);
    const removing = watch(live.remove());
    agent = undefined;
    await clock.runUntilIdle(10_000);
    if (!removing.settled) problems.push('remove() never settled');
    if (removing.error !== undefined)
      problems.push(`remove() rejected: ${thrownText(removing.error, { stack: true })}`);
    const d = wire.driverDiagnostics;
    if (d.violations.length > 0) problems.push(`driver violations: ${d.violations.join(', ')}`);
    if (d.leakedBuffers !== 0 || d.buffersAllocated !== 0 || d.resetTimeouts !== 0) {
      problems.push(
        `after remove: leaked ${d.leakedBuffers}, allocated ${d.buffersAllocated}, reset timeouts ${d.resetTimeouts}`,
      );
    }
    if (d.reclaimedBuffers !== device.ownedAtReset) {
      problems.push(
        `reclaimed ${d.reclaimedBuffers} buffers at the reset, the device had ${String(device.ownedAtReset)}`,
      );
    }
    for (const [label, record] of d.channels) {
      if (record.frees !== 1) problems.push(`${label} freed ${record.frees} times`);
    }
    tally('buffers reclaimed at reset', d.reclaimedBuffers);
  } catch (error: unknown) {
    problems.push(`threw: ${thrownText(error, { stack: true })}`);
  } finally {
    takeSpy.mockRestore();
    freeSpy.mockRestore();
    lostSpy.mockRestore();
    // After a throw: remove the agent all the same, without waiting on a removal that hangs.
    if (agent !== undefined) {
      watch(agent.remove());
      await clock.runUntilIdle(10_000);
    }
    platform.close();
  }
  problems.push(...device.violations.map((v) => `device saw: ${v}`));
  if (problems.length > 0) problems.unshift(`[${config}]`);
  if (problems.length > 0 && process.env.SCMI_FUZZ_DEBUG !== undefined) {
    console.log(
      [
        ...trace,
        `cmdq read ${JSON.stringify(device.cmdq?.readElements)}`,
        `eventq read ${JSON.stringify(device.eventq?.readElements)}`,
      ].join('\n'),
    );
  }
  return problems;
}

describe('virtio driver fuzz: a hostile device', () => {
  ensureNoLeaksInSuite();
  let started = 0;

  beforeAll(() => {
    started = Date.now();
  });

  afterAll(() => {
    const counts = [...totals].map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(
      `virtio driver fuzz: ${SEEDS.length} cases (seeds ${BASE_SEED}…${BASE_SEED + SEEDS.length - 1}, ${STEPS} steps each) in ${Date.now() - started} ms; ${counts}`,
    );
  });

  // One test per seed: the name carries the seed, also when jest-circus fails a case on an
  // unhandled rejection (a listener of this file's own would not see one: its `process` is the
  // sandbox's).
  it.each(SEEDS)('seed %i: keeps every invariant', async (seed) => {
    tally('cases');
    const problems = await runCase(seed);
    if (problems.length > 0) {
      throw new Error(
        `virtio driver fuzz: seed ${seed} (SCMI_FUZZ_SEED=${seed} SCMI_FUZZ_RUNS=1 reproduces it): ${problems.join('; ')}`,
      );
    }
  });
});
