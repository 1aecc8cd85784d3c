/**
 * A seeded fuzz campaign of the OP-TEE transport's agent side against a hostile secure world —
 * the randomized complement of the enumerated cases of `hostile-tee.test.ts`. The project rule it
 * enforces: hostile bytes from the other end of a transport are bounds-checked, rejected and
 * counted — never a crash, never a read out of bounds.
 *
 * Each case is one seed (`mulberry32`), on a `VirtualClock` and the same-thread emulated OP-TEE,
 * so every case replays exactly. A case probes an agent with 1–3 channels, each SMT (static area)
 * or MSG (registered buffer) at random, then:
 * - most cases: a hostile phase of {@link STEPS} commands (Base, clock, perf) with up to 4 in
 *   flight, while the secure world (`support/hostile-secure-world.ts`) rewrites each return at
 *   random — TEE result and origin, p2's output size, garbage in the call slot's parameters, the
 *   header, status and payload, the SMT length and channel_status — or holds it past the timeout
 *   (late) or inside it (slow); sometimes the emulated OP-TEE's own wire faults fire too, one of
 *   them a PTA that hangs an invocation until cancelled. A calm phase follows (proper answers),
 *   then `agent.remove()`.
 * - one case in five: a hostile probe — CAPABILITIES and GET_CHANNEL_HANDLE answered with random
 *   results, capabilities and handles (one already given, say), the probe's own messages rewritten
 *   too. The probe must then succeed or fail with a typed error.
 *
 * The secure world computes, for each message it returns, what the agent must make of it (the
 * rules of the README's "What happens when things go wrong"); the invariants, checked per case:
 * 1. every command settles; a rejection is an `ScmiError` with a code, the one the oracle names
 *    (COMMS_ERROR for a failed invocation or an unusable response, the status of a sound one,
 *    a timeout for a late one, `E_CHAN_BUSY` for a send a late invocation held too long,
 *    `E_MSG_SIZE` for a command larger than the MSG buffer — `msgBufferSize` is random too);
 * 2. a resolved response is exactly the bytes the secure world left after the status, clamped to
 *    the caller's size: never more than the buffer less its header and status;
 * 3. the counters are exact: core's bad messages by reason, late replies and timeouts, the
 *    transport's TEE errors, channel errors, late returns, busy rejections and invocations;
 * 4. after the calm phase a command on every channel succeeds — but on a channel whose invocation
 *    hangs, which by design stays held until `remove()` cancels it (its invocation owns the
 *    shared memory): `E_CHAN_BUSY` there, and the cancelled return refused after quiesce;
 * 5. `remove()` resolves; no devres leak, no session open or shared memory registered in the TEE,
 *    none held by the driver, no call in flight, no channel left, no armed timer, no callback
 *    against released state — and no unhandled rejection: jest-circus fails the running case on
 *    one (a listener of the test file's own would not see it: its `process` is the sandbox's).
 *
 * Seeds: case i runs seed `SCMI_FUZZ_SEED` (default 1) + i, for `SCMI_FUZZ_RUNS` cases (default
 * {@link DEFAULT_RUNS}). `pnpm --filter @scmi-ts/optee-transport fuzz` runs a long campaign.
 */
import {
  ScmiError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  mulberry32,
  type AgentOptions,
  type BadMessageReason,
  type ChannelStats,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { fuzzSeeds } from '../../core/test/support/fuzz.js';
import {
  OPTEE_TRANSPORT_DESCRIPTOR,
  SCMI_SEC_PAYLOAD_SIZE,
  TeeResult,
  type OpteeWireFault,
} from '../src/index.js';
import { createOpteeHarness, type OpteeHarness } from './support/harness.js';
import {
  HOSTILE_ACTIONS,
  attachHostileSecureWorld,
  commandKey,
  type HostileAction,
  type HostileSecureWorld,
  type Verdict,
} from './support/hostile-secure-world.js';

/** Cases in the default run (the whole file stays within about 8 s on a two-core machine). */
const DEFAULT_RUNS = 100;
/** Commands of a hostile phase. */
const STEPS = 150;

const { first: SEED_BASE, runs: RUNS, seeds: SEEDS } = fuzzSeeds(DEFAULT_RUNS);

const BASE = 0x10;
const PERF = 0x13;
const CLOCK = 0x14;
/** The largest response core's transfers take (the descriptor's max message size). */
const MAX_RX = OPTEE_TRANSPORT_DESCRIPTOR.maxMsgSize;
/** The SMT area's header (28 bytes) and the status word: what an area holds besides return values. */
const SMT_OVERHEAD = 32;
/** The static SMT areas of the fixture's wire (its default size). */
const SMT_AREA = 128;
/** The MSG buffer's header and status word. */
const MSG_OVERHEAD = 8;

/** Commands the fuzz sends: protocol, message id, u32 parameters. */
const COMMANDS: readonly (readonly [number, number, number])[] = [
  [BASE, 0x0, 0], // PROTOCOL_VERSION
  [BASE, 0x1, 0], // PROTOCOL_ATTRIBUTES
  [BASE, 0x2, 1], // PROTOCOL_MESSAGE_ATTRIBUTES
  [BASE, 0x3, 0], // DISCOVER_VENDOR
  [BASE, 0x5, 0], // DISCOVER_IMPLEMENTATION_VERSION
  [BASE, 0x6, 1], // DISCOVER_LIST_PROTOCOLS
  [CLOCK, 0x0, 0],
  [CLOCK, 0x1, 0],
  [CLOCK, 0x3, 1], // CLOCK_ATTRIBUTES
  [CLOCK, 0x4, 2], // CLOCK_DESCRIBE_RATES
  [CLOCK, 0x6, 1], // CLOCK_RATE_GET
  [PERF, 0x0, 0],
  [PERF, 0x1, 0],
  [PERF, 0x3, 1], // PERF_DOMAIN_ATTRIBUTES
  [PERF, 0x4, 2], // PERF_DESCRIBE_LEVELS
  [PERF, 0x8, 1], // PERF_LEVEL_GET
];

/** One command the fuzz sent, and what became of it. */
interface Op {
  readonly protocolId: number;
  readonly messageId: number;
  readonly payload: Uint8Array;
  readonly key: string;
  /** The caller's `rxSize` (undefined: core's default, the max message size). */
  readonly rxSize: number | undefined;
  /** Sent by the calm phase (must succeed). */
  readonly calm: boolean;
  /** The invocation that carried it (none when the send failed before it reached OP-TEE). */
  invoked: boolean;
  verdict: () => Verdict | undefined;
  settled: boolean;
  result: Uint8Array | undefined;
  error: unknown;
}

/** Totals over every case, for the summary line. */
const totals = {
  cases: 0,
  probeCases: 0,
  probeFailures: 0,
  commands: 0,
  invocations: 0,
  late: 0,
  /** Cases whose PTA hung an invocation until remove() cancelled it. */
  hung: 0,
  actions: Object.fromEntries(HOSTILE_ACTIONS.map((a) => [a, 0])) as Record<HostileAction, number>,
  verdicts: {} as Record<string, number>,
  /** How the hostile probes that failed failed, by error code. */
  probeErrors: {} as Record<string, number>,
};

/** Settles `p` to its value or its error. */
function settle<T>(p: Promise<T>): Promise<T | Error> {
  return p.then(
    (v) => v,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
}

/** Waits `ms` of virtual time (the clock runs by itself). */
function sleep(h: OpteeHarness, ms: number): Promise<void> {
  return new Promise((resolve) => {
    h.clock.setTimeout(resolve, ms);
  });
}

function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = ScmiError.is(e) ? ` ${e.code}` : '';
    return `${e.constructor.name}${code}: ${e.message}`;
  }
  return String(e);
}

function sumStats(agent: ScmiAgent): {
  bad: Record<BadMessageReason, number>;
  lateReplies: number;
  timeouts: number;
  refused: number;
} {
  const bad: Record<BadMessageReason, number> = {
    unexpected: 0,
    invalid: 0,
    unknown: 0,
    nomem: 0,
    spurious: 0,
    oversize: 0,
  };
  let lateReplies = 0;
  let timeouts = 0;
  let refused = 0;
  for (const c of agent.diagnostics.channels) {
    const s: ChannelStats = c.stats;
    for (const r of Object.keys(bad) as BadMessageReason[]) bad[r] += s.badMessages[r];
    lateReplies += s.lateReplies;
    timeouts += s.timeouts;
    refused += s.refusedAfterQuiesce;
  }
  return { bad, lateReplies, timeouts, refused };
}

/** Runs the case of `seed`; throws an Error naming the seed on the first broken invariant. */
async function runCase(seed: number): Promise<void> {
  const rng = mulberry32(seed);
  const int = (n: number): number => Math.floor(rng() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)] as T;
  const check = (ok: boolean, what: () => string): void => {
    if (!ok) {
      throw new Error(
        `optee fuzz: seed ${seed} (SCMI_FUZZ_SEED=${seed} SCMI_FUZZ_RUNS=1 reproduces it): ${what()}`,
      );
    }
  };

  const probeCase = rng() < 0.2;
  const channels = 1 + int(3);
  const shmem = Array.from({ length: channels }, () => (rng() < 0.5 ? 'static' : 'dynamic'));
  const rxTimeoutMs = pick([6, 10, 16]);
  // The MSG buffer (`msgBufferSize`): Linux's 104, older kernels' 128, or another size the probe's
  // Base discovery still fits; the emulated OP-TEE sized alike, or not (a link it sizes larger
  // answers PROTOCOL_ERROR to what does not fit the agent's buffer).
  const msgBufferSize = pick([104, 104, 128, 40 + int(89)]);
  const teeMsgBufferSize = rng() < 0.8 ? msgBufferSize : pick([104, 128]);
  /** The mode of the channel that carries `protocolId`. */
  const modeOf = (protocolId: number): string => {
    const i = protocolId === CLOCK ? 1 : protocolId === PERF ? 2 : 0;
    return shmem[i < channels ? i : 0] === 'static' ? 'smt' : 'msg';
  };
  const a2p: AgentOptions['a2p'] = [
    { id: 0, transport: { shmem: shmem[0] } },
    { id: 1, protocols: [CLOCK], transport: { shmem: shmem[1] } },
    { id: 2, protocols: [PERF], transport: { shmem: shmem[2] } },
  ].slice(0, channels);
  const h = await createOpteeHarness({
    shmem: 'static',
    channels: 4,
    msgBufferSize,
    teeMsgBufferSize,
  });
  const { driver, optee, transport } = h.ends;

  // Commands not yet seen by the secure world, by key (a key is unique among them).
  const unsent = new Map<string, Op>();
  const ops: Op[] = [];
  /** Sends refused `E_CHAN_BUSY` since the hostile loop last looked. */
  let busySince = 0;
  /** The channel (index) whose PTA may hang an invocation until cancelled, now and then. */
  const hangChannel = !probeCase && rng() < 0.15 ? int(channels) : undefined;
  /** The channel whose invocation did hang (the fault fired). */
  let hung: number | undefined;
  /** Commands whose invocation never returned before remove(): the hung one. */
  let hungOps = 0;
  const world: HostileSecureWorld = attachHostileSecureWorld({
    driver,
    transport,
    clock: h.clock,
    rng,
    rxTimeoutMs,
    onSubmit: (key) => {
      const op = unsent.get(key);
      if (op === undefined) return undefined;
      unsent.delete(key);
      op.invoked = true;
      return op;
    },
  });
  const verdictOf = (op: Op): Verdict | undefined =>
    world.invocations.find((i) => i.tag === op)?.verdict;

  /** A command with a key no unsent command has. */
  function newOp(calm: boolean, fixed?: readonly [number, number, number]): Op {
    for (;;) {
      const [protocolId, messageId, params] = fixed ?? pick(COMMANDS);
      const payload = new Uint8Array(4 * params);
      const view = new DataView(payload.buffer);
      for (let i = 0; i < params; i++) {
        view.setUint32(4 * i, rng() < 0.7 ? int(4) : int(0x10000) * 0x10000 + int(0x10000), true);
      }
      const key = commandKey((protocolId << 10) | messageId, payload);
      if (unsent.has(key)) continue;
      const op: Op = {
        protocolId,
        messageId,
        payload,
        key,
        rxSize: !calm && rng() < 0.25 ? 1 + int(16) : undefined,
        calm,
        invoked: false,
        verdict: () => verdictOf(op),
        settled: false,
        result: undefined,
        error: undefined,
      };
      return op;
    }
  }

  /** Sends `op`; the promise never rejects (the outcome is in the op). */
  function launch(op: Op): Promise<void> {
    ops.push(op);
    unsent.set(op.key, op);
    totals.commands++;
    const options = op.rxSize === undefined ? undefined : { rxSize: op.rxSize };
    let sent: Promise<Uint8Array>;
    try {
      sent = agent.transact(op.protocolId, op.messageId, op.payload, options);
    } catch (e) {
      sent = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return sent.then(
      (r) => {
        op.settled = true;
        op.result = r;
        if (unsent.get(op.key) === op) unsent.delete(op.key);
      },
      (e: unknown) => {
        op.settled = true;
        op.error = e;
        if (ScmiError.is(e) && e.code === 'E_CHAN_BUSY') busySince++;
        if (unsent.get(op.key) === op) unsent.delete(op.key);
      },
    );
  }

  /** Invariants 1 and 2 for one settled command. */
  function checkOp(op: Op): void {
    const name = `command 0x${op.protocolId.toString(16)}/0x${op.messageId.toString(16)} (payload ${Buffer.from(op.payload).toString('hex') || '-'}, rxSize ${String(op.rxSize)})`;
    check(op.settled, () => `${name} never settled`);
    const e = op.error;
    if (e !== undefined) {
      check(
        ScmiError.is(e) && typeof e.code === 'string' && e.code !== '',
        () => `${name} rejected with something other than a coded ScmiError: ${describeError(e)}`,
      );
    }
    if (!op.invoked) {
      // Refused before OP-TEE: a late invocation held the channel too long, or the command does
      // not fit the MSG buffer less its header, or OP-TEE's 92-byte payload bound.
      const tooBig =
        op.payload.byteLength > SCMI_SEC_PAYLOAD_SIZE ||
        (modeOf(op.protocolId) === 'msg' && op.payload.byteLength > msgBufferSize - 4);
      check(
        ScmiError.is(e) && e.code === (tooBig ? 'E_MSG_SIZE' : 'E_CHAN_BUSY'),
        () =>
          `${name} never reached OP-TEE yet ${e === undefined ? 'resolved' : `failed with ${describeError(e)}`} (expected ${tooBig ? 'E_MSG_SIZE' : 'E_CHAN_BUSY'})`,
      );
      return;
    }
    const v = op.verdict();
    if (v === undefined) {
      // Only the invocation the PTA hangs never returns before remove(); its command timed out.
      check(
        hung !== undefined && ScmiTimeoutError.is(e),
        () => `${name}: its invocation never returned (${describeError(e)})`,
      );
      hungOps++;
      return;
    }
    const verdict = v;
    if (ScmiTimeoutError.is(e)) return; // late: counted, checked with the totals
    const rxMax = op.rxSize ?? MAX_RX;
    if (verdict.kind !== 'ok') {
      check(
        ScmiStatusError.is(e) && e.status === (ScmiStatus.COMMS_ERROR as number),
        () =>
          `${name}: the secure world's return is ${JSON.stringify(verdict)}, expected COMMS_ERROR, got ${e === undefined ? 'a response' : describeError(e)}`,
      );
      return;
    }
    if (verdict.status !== 0) {
      check(
        ScmiStatusError.is(e) && e.status === verdict.status,
        () =>
          `${name}: status ${verdict.status} returned, expected ScmiStatusError, got ${e === undefined ? 'a response' : describeError(e)}`,
      );
      return;
    }
    check(e === undefined, () => `${name}: a sound response, yet ${describeError(e)}`);
    const r = op.result as Uint8Array;
    // Never more than the buffer holds after the header and the status (invariant 2).
    const room =
      modeOf(op.protocolId) === 'smt' ? SMT_AREA - SMT_OVERHEAD : msgBufferSize - MSG_OVERHEAD;
    check(
      r.byteLength <= Math.min(rxMax, room),
      () => `${name}: a ${r.byteLength}-byte response, more than ${Math.min(rxMax, room)}`,
    );
    const want = verdict.returns.subarray(0, Math.min(rxMax, verdict.returns.byteLength));
    check(
      Buffer.from(r).equals(Buffer.from(want)),
      () =>
        `${name}: response ${Buffer.from(r).toString('hex')}, the secure world left ${Buffer.from(want).toString('hex')}`,
    );
  }

  let agent: ScmiAgent;
  world.mode = probeCase ? 'probe' : 'proper';
  const probed = await settle(h.create({ a2p, rxTimeoutMs }));
  totals.cases++;
  if (probeCase) totals.probeCases++;
  if (probed instanceof Error) {
    check(probeCase, () => `the probe failed against a proper TEE: ${describeError(probed)}`);
    check(
      ScmiError.is(probed) && typeof probed.code === 'string',
      () =>
        `the hostile probe failed with something other than a coded ScmiError: ${describeError(probed)}`,
    );
    totals.probeFailures++;
    const code = ScmiError.is(probed) ? probed.code : 'none';
    totals.probeErrors[code] = (totals.probeErrors[code] ?? 0) + 1;
  } else {
    agent = probed;
    world.mode = probeCase ? 'probe' : 'hostile';
    const faults: OpteeWireFault[] = [];
    if (!probeCase && rng() < 0.3) {
      // The emulated OP-TEE's own faults, now and then.
      for (let i = int(3); i >= 0; i--) {
        const match = { nth: 1 + int(STEPS), times: 1 + int(5) };
        faults.push(
          pick<OpteeWireFault>([
            { match, action: { kind: 'busy-channel' } },
            { match, action: { kind: 'output-size' } },
            { match, action: { kind: 'output-size', excess: 1 + int(64) } },
            { match, action: { kind: 'smt-status', status: int(4) } },
            { match, action: { kind: 'tee-result', result: TeeResult.GENERIC } },
          ]),
        );
      }
    }
    if (hangChannel !== undefined) {
      // A PTA that never returns one invocation of one channel until it is cancelled: the channel
      // stays held (its invocation owns the shared memory) until remove() cancels it. First in the
      // list: the first `tee-result` or hang that fires on an invocation ends it alone (a
      // `tee-result` before it would answer the invocation, and the hang would not fire).
      faults.unshift({
        id: 'hang',
        match: { channelId: hangChannel, nth: 1 + int(40) },
        action: { kind: 'hang-until-cancel' },
      });
    }
    optee.faults.set(faults);
    // The hostile phase (a probe case sends a few commands only, whose outcome is any typed one).
    const steps = probeCase ? 8 : STEPS;
    const inFlight = 1 + int(4);
    const running = new Set<Promise<void>>();
    for (let step = 0; step < steps; step++) {
      const p = launch(newOp(false));
      running.add(p);
      void p.then(() => running.delete(p));
      while (running.size >= inFlight) await Promise.race(running);
      if (busySince > 0) {
        // A late invocation holds a channel: let time pass rather than spend the steps on sends
        // refused at once.
        busySince = 0;
        await sleep(h, rxTimeoutMs);
      }
    }
    await Promise.all(running);
    // Whatever the secure world still holds returns within 5 × rxTimeoutMs.
    world.mode = 'proper';
    if (optee.faults.counts['hang-until-cancel'] > 0) {
      hung = hangChannel;
      totals.hung++;
    }
    optee.faults.clear();
    await sleep(h, 6 * rxTimeoutMs);
    check(world.held === 0, () => `${world.held} returns still held after the hostile phase`);
    const invoking = transport
      .diagnostics()
      .channels.filter((c) => c.invoking)
      .map((c) => c.opteeChannelId);
    check(
      JSON.stringify(invoking) === JSON.stringify(hung === undefined ? [] : [hung]),
      () =>
        `invocations still run on OP-TEE channels [${invoking.join(', ')}] after the hostile phase (hung: ${String(hung)})`,
    );
    // The calm phase: a command on each channel must succeed — but on a hung channel, which by
    // design stays held until remove() (E_CHAN_BUSY once past busyTimeoutMs).
    const calm: Op[] = [];
    if (!probeCase) {
      const protocols = [BASE, CLOCK, PERF].slice(0, channels);
      for (const proto of protocols) {
        const op = newOp(true, [proto, 0x0, 0]);
        calm.push(op);
        await launch(op);
      }
      for (const [i, op] of calm.entries()) {
        const stuck = i === hung;
        check(
          stuck
            ? ScmiError.is(op.error) && op.error.code === 'E_CHAN_BUSY'
            : op.error === undefined && op.result?.byteLength === 4,
          () =>
            `the calm phase's PROTOCOL_VERSION of 0x${op.protocolId.toString(16)} ${stuck ? 'on the hung channel did not fail E_CHAN_BUSY' : 'failed'}: ${op.error === undefined ? 'a response' : describeError(op.error)}`,
        );
      }
    }
    for (const op of ops) checkOp(op);
    check(
      hungOps === (hung === undefined ? 0 : 1),
      () => `${hungOps} commands whose invocation never returned (hung: ${String(hung)})`,
    );
    if (!probeCase) checkTotals(agent);
    const removed = await settle(agent.remove());
    check(!(removed instanceof Error), () => `remove() rejected: ${describeError(removed)}`);
  }

  /** Invariant 3: the counters are exactly what the secure world's returns call for. */
  function checkTotals(a: ScmiAgent): void {
    const bad: Record<BadMessageReason, number> = {
      unexpected: 0,
      invalid: 0,
      unknown: 0,
      nomem: 0,
      spurious: 0,
      oversize: 0,
    };
    let teeErrors = 0;
    let channelErrors = 0;
    let lateReturns = 0;
    let lateReplies = 0;
    let busy = 0;
    let timeouts = 0;
    for (const op of ops) {
      if (!op.invoked) {
        if (ScmiError.is(op.error) && op.error.code === 'E_CHAN_BUSY') busy++;
        continue;
      }
      const late = ScmiTimeoutError.is(op.error);
      if (late) timeouts++;
      const v = op.verdict();
      if (v === undefined) continue; // hung: its return comes after quiesce (checked below)
      if (late) lateReturns++;
      totals.verdicts[v.kind === 'bad' ? v.reason : v.kind] =
        (totals.verdicts[v.kind === 'bad' ? v.reason : v.kind] ?? 0) + 1;
      if (v.kind === 'tee-error') teeErrors++;
      else if (v.kind === 'channel-error') channelErrors++;
      else if (v.kind === 'bad') bad[v.reason]++;
      else if (late) lateReplies++;
      else if (v.returns.byteLength > (op.rxSize ?? MAX_RX)) bad.oversize++; // core's clamp
    }
    totals.late += lateReturns;
    // The probe's own commands, answered properly, count nothing.
    for (const inv of world.invocations) {
      if (inv.tag === undefined) {
        check(
          inv.verdict?.kind === 'ok',
          () => `a probe message was answered ${JSON.stringify(inv.verdict)}`,
        );
      }
    }
    const got = sumStats(a);
    const t = transport.diagnostics().totals;
    const want = {
      bad,
      lateReplies,
      timeouts,
      refused: 0,
      teeErrors,
      channelErrors,
      lateReturns,
      transportLateReplies: lateReplies,
      busyRejections: busy,
      invocations: world.invocations.length,
    };
    const have = {
      ...got,
      teeErrors: t.teeErrors,
      channelErrors: t.channelErrors,
      lateReturns: t.lateReturns,
      transportLateReplies: t.lateReplies,
      busyRejections: t.busyRejections,
      invocations: t.invocations,
    };
    check(
      JSON.stringify(have) === JSON.stringify(want),
      () => `counters ${JSON.stringify(have)}, the returns call for ${JSON.stringify(want)}`,
    );
  }

  // Invariant 5: nothing left behind.
  await sleep(h, 1);
  totals.invocations += world.invocations.length;
  for (const a of HOSTILE_ACTIONS) totals.actions[a] += world.actions[a];
  const d = transport.diagnostics();
  const tee = optee.stats;
  const drv = driver.stats;
  const left = {
    channels: d.channels.length,
    violations: d.violations,
    armedTimers: d.armedTimers,
    teeSessions: tee.openSessions,
    teeShm: tee.registeredShm,
    driverShm: drv.sharedMemory,
    leakedShm: drv.leakedSharedMemory,
    inFlight: drv.inFlight,
    held: world.held,
    // A hostile probe's late return may come after its failed probe quiesced the channel: refused
    // then, and counted. Elsewhere every return came before remove() but the hung invocation's,
    // which remove() cancelled (one cancel request) and then refused.
    refusedReturns: probeCase ? 0 : d.totals.refusedReturns - (hung === undefined ? 0 : 1),
    cancelRequests: probeCase ? 0 : d.totals.cancelRequests - (hung === undefined ? 0 : 1),
  };
  check(
    JSON.stringify(left) ===
      JSON.stringify({
        channels: 0,
        violations: [],
        armedTimers: 0,
        teeSessions: 0,
        teeShm: 0,
        driverShm: 0,
        leakedShm: 0,
        inFlight: 0,
        held: 0,
        refusedReturns: 0,
        cancelRequests: 0,
      }),
    () => `left behind after remove(): ${JSON.stringify(left)}`,
  );
  await h.close();
}

describe('OP-TEE transport fuzz: the agent against a hostile secure world', () => {
  ensureNoLeaksInSuite();

  afterAll(() => {
    const actions = HOSTILE_ACTIONS.map((a) => `${a} ${totals.actions[a]}`).join(', ');
    const list = (counts: Record<string, number>): string =>
      Object.entries(counts)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
    const verdicts = list(totals.verdicts);
    console.log(
      `optee fuzz: seeds ${SEED_BASE}…${SEED_BASE + RUNS - 1}: ${totals.cases} cases (${totals.probeCases} hostile probes, ${totals.probeFailures} failed typed${totals.probeFailures > 0 ? `: ${list(totals.probeErrors)}` : ''}), ${totals.commands} commands, ${totals.invocations} invocations, ${totals.late} late, ${totals.hung} hung until remove(); actions: ${actions}; verdicts: ${verdicts}`,
    );
  });

  it.each(SEEDS)(
    'should bound, reject and count what the secure world returns (seed %i)',
    async (seed) => {
      await runCase(seed);
    },
  );
});
