/**
 * A seeded fuzz campaign of the emulated secure world — `EmulatedOptee`, the SCMI pseudo-TA and
 * its SCMI server, in front of a real `ScmiPlatform` — against a hostile normal world that writes
 * the call slots and the shared memory itself (`support/hostile-normal-world.ts`), as a buggy
 * kernel driver could. The randomized complement of the enumerated cases of
 * `emulated-optee.test.ts`, `scmi-pta.test.ts` and `param-slot-3.test.ts`; the agent-side
 * counterpart is `optee-fuzz.test.ts`. The project rule it enforces: hostile bytes from the other
 * end of a transport are bounds-checked, rejected and counted — never a crash, never a read or
 * write out of bounds.
 *
 * Each case is one seed (`mulberry32`), on a `VirtualClock` (stepped by the test) and a
 * same-thread wire with four channels (two with a static SMT area), so every case replays
 * exactly. A case opens 1–3 sessions to the SCMI PTA (sometimes after hostile opens), asks
 * CAPABILITIES and channel handles (sometimes leaving a channel without one), registers buffers,
 * then runs {@link STEPS} steps; per step the hostile world picks one action — a proper
 * PROCESS_SMT_CHANNEL / PROCESS_SMT_CHANNEL_MESSAGE / PROCESS_MSG_CHANNEL with a proper SCMI
 * command, the same with 1–3 hostile fields (cmd, func, session, num_params, parameter attributes,
 * values, memref offsets, sizes and cookies — unregistered, freed, overflowing; the SMT length,
 * channel_status and header; a short, huge or misaligned MSG buffer), two calls on one channel in
 * one ring, CAPABILITIES / GET_CHANNEL_HANDLE proper or not, opens and closes (mid-flight: queued
 * behind an invocation waiting for the platform), cancels of random ids, shared memory registered
 * and unregistered at random (in use, twice, out of the pool), unknown message commands, a call
 * posted over a running slot, random bytes over areas and buffers in use — while the platform's
 * responses are now and then held back, inside or past the server's platform timeout. The clock
 * advances at random between steps. A calm phase follows, then everything is closed — or, one
 * case in eight, the emulated OP-TEE is closed with calls in flight.
 *
 * Invariants, checked after every step (a failure names the seed):
 * 1. nothing throws out of the emulated OP-TEE, the PTA or the platform: no exception from the
 *    clock's tasks and timers, `internalErrors` 0; every call returns exactly when the model says
 *    it ends, with the TEE result and origin the model computes (BAD_PARAMETERS, BAD_STATE,
 *    ITEM_NOT_FOUND, BUSY, … as `core/pta/scmi.c` and OP-TEE's core answer them);
 * 2. the secure world writes only inside the ranges of the calls in flight — their slot's result
 *    fields and output values, their writable memrefs, the static area of PROCESS_SMT_CHANNEL's
 *    channel: the whole wire memory is compared before and after each step, every other byte is
 *    a canary; output sizes are never past the buffer given;
 * 3. the platform gets exactly the requests the model predicts (channel and bytes: a header and at
 *    most 92 bytes of payload, never one a check should have stopped), and every counter —
 *    calls, refused calls, PTA refusals, SMT-without-area, SCMI messages, rejected, busy, platform
 *    timeouts, stray responses, cancels, calls over a running slot, the platform's requests and
 *    dropped requests — is exactly what the model counted;
 * 4. a proper call is answered correctly — the platform's response in the area or buffer, its
 *    header echoing the command, token included, the SMT length and status, p2's size — unless a
 *    hostile action destroyed it legitimately: the channel busy (another session's message waits
 *    for the platform), the platform timeout, or another call or a scribble over its area or
 *    buffer while in flight (counted in the summary);
 * 5. after the calm phase, PROTOCOL_VERSION of Base on every channel (a fresh session) answers
 *    SUCCESS with the 4-byte version — except on an SMT channel a message was refused on after
 *    the claim (payload over 92 bytes, area FREE or ERROR): OP-TEE keeps that claim for good, so
 *    the message is refused as busy (ERROR | FREE);
 * 6. closing leaves no session, no registered memory, no call in flight, no armed timer and no
 *    pending task; after an abrupt close every call in flight returned TARGET_DEAD from the TEE.
 *
 * Seeds: case i runs seed `SCMI_FUZZ_SEED` (default 1) + i, for `SCMI_FUZZ_RUNS` cases (default
 * {@link DEFAULT_RUNS}). `pnpm --filter @scmi-ts/optee-transport fuzz:secure-side` runs a long
 * campaign.
 */
import {
  ScmiMessageType,
  VirtualClock,
  buildHeader,
  mulberry32,
  readU32,
  writeU32,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { fuzzSeeds } from '../../core/test/support/fuzz.js';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  EmulatedOptee,
  PTA_SCMI_UUID,
  TeeLogin,
  TeeOrigin,
  TeeResult,
  createSameThreadOpteeWire,
  parseTeeUuid,
} from '../src/index.js';
import {
  OpteeCallState,
  OpteeMsgAttr,
  OpteeMsgCmd,
  SLOT_MAX_PARAMS,
} from '../src/wire/optee-msg-arg.js';
import { PtaScmiCommand } from '../src/wire/pta-scmi.js';
import { SMT_FLAGS, SMT_HEADER, SMT_LENGTH, SMT_STATUS } from '../src/wire/smt-layout.js';
import {
  HostileNormalWorld,
  emptySpec,
  type Call,
  type CallSpec,
  type Range,
  type SlotParam,
} from './support/hostile-normal-world.js';

/** Cases in the default run (the whole file takes about 4.5 s on a loaded two-core machine). */
const DEFAULT_RUNS = 100;
/** Steps of a hostile phase. */
const STEPS = 150;
/** The server's platform timeout (the emulated OP-TEE's default). */
const PLATFORM_TIMEOUT_MS = 50;
/** MSG p2 size as current Linux passes it. */
const MSG_BUFFER = 104;
/** Size of each buffer the hostile world carves out of the pool, and their stride. */
const BUFFER_SIZE = 160;
const BUFFER_STRIDE = 256;
/** Buffers for the hostile phase; the calm phase uses the ones after. */
const HOSTILE_BUFFERS = 8;

const { first: SEED_BASE, runs: RUNS, seeds: SEEDS } = fuzzSeeds(DEFAULT_RUNS);

const BASE = 0x10;
const PERF = 0x13;
const CLOCK = 0x14;
/** Proper commands: protocol, message id, u32 parameters. */
const COMMANDS: readonly (readonly [number, number, number])[] = [
  [BASE, 0x0, 0],
  [BASE, 0x1, 0],
  [BASE, 0x2, 1],
  [BASE, 0x3, 0],
  [BASE, 0x5, 0],
  [BASE, 0x6, 1],
  [CLOCK, 0x0, 0],
  [CLOCK, 0x1, 0],
  [CLOCK, 0x3, 1],
  [CLOCK, 0x4, 2],
  [CLOCK, 0x6, 1],
  [PERF, 0x0, 0],
  [PERF, 0x1, 0],
  [PERF, 0x3, 1],
  [PERF, 0x4, 2],
  [PERF, 0x8, 1],
];

const ACTIONS = [
  'proper',
  'hostile',
  'burst',
  'caps',
  'session',
  'cancel',
  'shm',
  'unknown-cmd',
  'over-running',
  'scribble',
  'invoke-after-close',
] as const;
type Action = (typeof ACTIONS)[number];
const WEIGHTS: Record<Action, number> = {
  proper: 26,
  hostile: 30,
  burst: 5,
  caps: 5,
  session: 8,
  cancel: 5,
  shm: 9,
  'unknown-cmd': 2,
  'over-running': 3,
  scribble: 5,
  'invoke-after-close': 2,
};

/** Totals over every case, for the summary line. */
const totals = {
  cases: 0,
  abrupt: 0,
  calls: 0,
  actions: Object.fromEntries(ACTIONS.map((a) => [a, 0])) as Record<Action, number>,
  outcomes: {} as Record<string, number>,
  proper: 0,
  properAnswered: 0,
  /** Proper calls destroyed legitimately, by reason. */
  properDestroyed: {} as Record<string, number>,
  results: {} as Record<string, number>,
};

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function teeName(ret: number): string {
  const name: string | undefined = TeeResult[ret];
  return name ?? `0x${ret.toString(16)}`;
}

/** Runs the case of `seed`; throws an Error naming the seed on the first broken invariant. */
async function runCase(seed: number): Promise<void> {
  const rng = mulberry32(seed);
  const fail = (what: string): never => {
    throw new Error(
      `optee secure-side fuzz: seed ${seed} (SCMI_FUZZ_SEED=${seed} SCMI_FUZZ_RUNS=1 reproduces it): ${what}`,
    );
  };
  const int = (n: number): number => Math.floor(rng() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const chance = (p: number): boolean => rng() < p;
  const u32 = (): number => Math.floor(rng() * 0x100000000) >>> 0;

  const clock = new VirtualClock({ auto: false });
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), {
    clock,
    behaviour: { unknownMessage: 'not-supported', unknownDomain: 'invalid-parameters' },
  });
  const wire = createSameThreadOpteeWire(clock, {
    channels: [
      { id: 0, staticShmem: true },
      { id: 1 },
      { id: 2, staticShmem: true, shmemSize: pick([128, 160, 256]) },
      { id: 5 },
    ],
    threads: 8,
  });
  const world = new HostileNormalWorld({
    wire: wire.ree,
    clock,
    platform,
    platformTimeoutMs: PLATFORM_TIMEOUT_MS,
    rng,
  });
  const optee = new EmulatedOptee({
    wire: wire.tee,
    platform: world.port,
    agentId: 1,
    clock,
    platformTimeoutMs: PLATFORM_TIMEOUT_MS,
  });
  const layout = wire.ree.layout;
  const channelIds = [...layout.channels.keys()];
  const bufferAt = (i: number): number => layout.poolOffset + 64 + i * BUFFER_STRIDE;
  // Canaries: the whole pool holds random bytes (the diff of every step checks all the memory).
  for (let i = layout.poolOffset; i < layout.poolOffset + layout.poolSize; i++) {
    world.bytes[i] = int(256);
  }
  let token = 0;
  let nextCookie = 0x100;
  /** Registered buffers the hostile world knows: cookie → buffer index. */
  const buffers = new Map<number, number>();

  const freeSlot = (exclude: number[] = []): number | undefined => {
    const free: number[] = [];
    for (let s = 0; s < layout.threads; s++) {
      if (
        !world.inFlight.has(s) &&
        world.slotState(s) === OpteeCallState.FREE &&
        !exclude.includes(s)
      )
        free.push(s);
    }
    return free.length === 0 ? undefined : pick(free);
  };
  /** Open sessions with nothing running or queued. */
  const idleSessions = (): number[] =>
    [...world.sessions.values()]
      .filter((s) => s.running === undefined && s.queue.length === 0)
      .map((s) => s.id);

  const internalError = (): string => {
    const e = optee.lastInternalError;
    if (e === undefined) return '';
    return `; last internal error: ${e instanceof Error ? (e.stack ?? e.message) : JSON.stringify(e)}`;
  };
  const checkStats = (where: string): void => {
    const s = optee.stats;
    const c = world.counters;
    const got = {
      calls: s.calls,
      openSessions: s.openSessions,
      registeredShm: s.registeredShm,
      cancelRequests: s.cancelRequests,
      cancelledInvocations: s.cancelledInvocations,
      internalErrors: s.internalErrors,
      refusedCalls: s.refusedCalls,
      callsOverRunningSlot: s.callsOverRunningSlot,
      ptaRefused: s.pta.refused,
      withoutArea: s.pta.withoutArea,
      messages: s.scmi.messages,
      rejected: s.scmi.rejected,
      busy: s.scmi.busy,
      platformTimeouts: s.scmi.platformTimeouts,
      strayResponses: s.scmi.strayResponses,
      platformRequests: platform.counters.requests,
      platformDropped: platform.counters.droppedRequests,
    };
    const want = {
      ...c,
      openSessions: world.sessions.size,
      registeredShm: world.shm.size,
      internalErrors: 0,
    };
    const diff = Object.keys(want).filter(
      (k) => got[k as keyof typeof got] !== want[k as keyof typeof want],
    );
    if (diff.length > 0) {
      fail(
        `${where}: counters ${diff.map((k) => `${k} ${got[k as keyof typeof got]} (expected ${want[k as keyof typeof want]})`).join(', ')}${internalError()}`,
      );
    }
  };

  /** Runs one step: `act` writes memory and posts calls; then the clock runs `dt` ms. */
  const step = async (where: string, act: () => void, dt: number): Promise<void> => {
    world.beginStep();
    // The hostile world's own writes (requests, scribbles, slots) come first; the snapshot
    // after them is what the secure world may change only inside the calls' ranges.
    act();
    const snapshot = world.bytes.slice();
    world.ring();
    try {
      await clock.runTasks();
      if (dt > 0) await clock.advance(dt);
    } catch (error) {
      fail(`${where}: the clock's tasks threw: ${String(error)}`);
    }
    // (2) Writes only inside the ranges of the calls in flight.
    const allowed = world.allowedRanges();
    const now = world.bytes;
    for (let i = 0; i < now.length; i++) {
      if (now[i] === snapshot[i]) continue;
      if (allowed.some((r: Range) => i >= r.start && i < r.end)) continue;
      fail(
        `${where}: the secure world wrote byte ${i} (0x${(snapshot[i] as number).toString(16)} → 0x${(now[i] as number).toString(16)}) outside every range of the calls in flight [${[...world.inFlight.values()].map((c) => c.label).join('; ')}]`,
      );
    }
    if (world.violations.length > 0) fail(`${where}: ${world.violations.join('; ')}`);
    // (1), (4) Each call returned when the model says it ended, as the model says.
    for (const call of [...world.inFlight.values()]) {
      const state = world.slotState(call.slot);
      if (state === OpteeCallState.RETURNED) {
        const problems = world.verify(call);
        if (call.proper && call.result?.ret === TeeResult.BAD_STATE) call.outcome = 'no handle';
        if (problems.length > 0) fail(`${where}: ${problems.join('; ')}`);
        record(call);
        world.release(call.slot);
      } else if (call.result !== undefined) {
        fail(
          `${where}: ${call.label} ended in the model (${call.outcome}) but its slot is ${state}`,
        );
      } else if (state !== OpteeCallState.RUNNING) {
        fail(`${where}: ${call.label} (${call.outcome}) left in slot state ${state}`);
      }
    }
    checkStats(where);
  };

  const record = (call: Call): void => {
    totals.calls++;
    bump(totals.outcomes, call.outcome.replace(' cancelled', ''));
    bump(totals.results, teeName(call.result?.ret ?? 0));
    const func = call.spec.func;
    if (
      call.proper &&
      call.spec.cmd === OpteeMsgCmd.INVOKE_COMMAND &&
      (func === PtaScmiCommand.PROCESS_SMT_CHANNEL ||
        func === PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE ||
        func === PtaScmiCommand.PROCESS_MSG_CHANNEL)
    ) {
      totals.proper++;
      if (call.clobbered !== undefined) bump(totals.properDestroyed, 'clobbered');
      else if (call.outcome === 'answered' || call.outcome.startsWith('answered late'))
        totals.properAnswered++;
      else bump(totals.properDestroyed, call.outcome.replace(' cancelled', ''));
    }
  };

  // ---- builders -------------------------------------------------------------------------------

  const value = (attr: number, a = 0, b = 0): SlotParam => ({ attr, a, b, c: 0 });
  const memref = (attr: number, cookie: number, offset: number, size: number): SlotParam => ({
    attr,
    a: offset,
    b: size,
    c: cookie,
  });
  const invoke = (session: number, func: number, params: SlotParam[]): CallSpec => {
    const s = emptySpec(OpteeMsgCmd.INVOKE_COMMAND);
    s.session = session;
    s.func = func;
    s.numParams = SLOT_MAX_PARAMS;
    params.forEach((p, i) => (s.params[i] = p));
    return s;
  };
  /** A proper SCMI command: header and payload. */
  const scmiCommand = (): Uint8Array => {
    const [protocolId, messageId, n] = pick(COMMANDS);
    token = (token + 1) & 0x3ff;
    const bytes = new Uint8Array(4 + 4 * n);
    writeU32(bytes, 0, buildHeader(messageId, ScmiMessageType.COMMAND, protocolId, token));
    for (let i = 0; i < n; i++) writeU32(bytes, 4 + 4 * i, int(3));
    return bytes;
  };
  const writeSmtRequest = (area: number, message: Uint8Array, why: string): void => {
    const head = new Uint8Array(SMT_HEADER);
    writeU32(head, SMT_STATUS, 0);
    writeU32(head, SMT_FLAGS, 0);
    writeU32(head, SMT_LENGTH, message.byteLength);
    world.scribble(area, head, why);
    world.scribble(area + SMT_HEADER, message, why);
  };
  /** A registered buffer the hostile world knows (cookie and offset), or undefined. */
  const someBuffer = (): { cookie: number; offset: number } | undefined => {
    // A cookie freed and registered again by a hostile registration may name other memory now.
    const known = [...buffers.entries()].filter(([c, i]) => {
      const shm = world.shm.get(c);
      return shm?.offset === bufferAt(i) && shm.size === BUFFER_SIZE;
    });
    if (known.length === 0) return undefined;
    const [cookie, index] = pick(known);
    return { cookie, offset: bufferAt(index) };
  };

  /**
   * A proper PROCESS_* invocation on `channel` in `session`, its request written into the area or
   * buffer: the spec, or undefined when the channel needs a buffer and none is registered.
   */
  const properProcess = (
    session: number,
    channel: number,
    message: Uint8Array,
    write = true,
  ): CallSpec | undefined => {
    const area = layout.channels.get(channel)?.shmemOffset;
    if (area !== undefined) {
      if (write) writeSmtRequest(area, message, 'a proper request');
      return invoke(session, PtaScmiCommand.PROCESS_SMT_CHANNEL, [
        value(OpteeMsgAttr.VALUE_INPUT, channel),
      ]);
    }
    const buffer = someBuffer();
    if (buffer === undefined) return undefined;
    if (chance(0.3)) {
      if (write) writeSmtRequest(buffer.offset, message, 'a proper request');
      return invoke(session, PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE, [
        value(OpteeMsgAttr.VALUE_INPUT, channel),
        memref(OpteeMsgAttr.RMEM_INOUT, buffer.cookie, 0, pick([128, BUFFER_SIZE])),
      ]);
    }
    if (write) world.scribble(buffer.offset, message, 'a proper request');
    return invoke(session, PtaScmiCommand.PROCESS_MSG_CHANNEL, [
      value(OpteeMsgAttr.VALUE_INPUT, channel),
      memref(OpteeMsgAttr.RMEM_INPUT, buffer.cookie, 0, message.byteLength),
      memref(OpteeMsgAttr.RMEM_OUTPUT, buffer.cookie, 0, MSG_BUFFER),
    ]);
  };

  /** A session id for a hostile field: unknown, closed, 0, or an idle open one. */
  const hostileSession = (): number => {
    const idle = idleSessions();
    const options = [0, 0xffffffff, 1000 + int(100), ...world.closedSessions, ...idle];
    for (;;) {
      const id = pick(options);
      const s = world.sessions.get(id);
      if (s === undefined || (s.running === undefined && s.queue.length === 0)) return id;
    }
  };
  const hostileCookie = (): number => {
    const opts = [u32(), 0, ...world.freedCookies, ...world.shm.keys()];
    return pick(opts);
  };

  /** Applies 1–3 hostile mutations to `spec` (and the memory it references). */
  const mutate = (spec: CallSpec): string[] => {
    const what: string[] = [];
    const n = 1 + int(3);
    for (let k = 0; k < n; k++) {
      const i = int(4);
      const p = spec.params[i] as SlotParam;
      switch (int(15)) {
        case 0:
          spec.func = pick([0, 1, 2, 3, 4, 5, 6, 0x800, 0xffffffff, u32()]);
          what.push(`func ${spec.func}`);
          break;
        case 1:
          spec.numParams = pick([0, 1, 2, 3, 5, 0xffffffff, u32()]);
          what.push(`num_params ${spec.numParams}`);
          break;
        case 2:
          p.attr = pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xffffffff]);
          what.push(`p${i}.attr ${p.attr}`);
          break;
        case 3:
          p.a = pick([
            0,
            1,
            2,
            3,
            4,
            5,
            6,
            0xffff,
            0x7fffffff,
            0xffffffff,
            BUFFER_SIZE - 1,
            BUFFER_SIZE,
            u32(),
          ]);
          what.push(`p${i}.a ${p.a}`);
          break;
        case 4:
          p.b = pick([
            0,
            1,
            3,
            4,
            7,
            8,
            95,
            96,
            97,
            127,
            128,
            BUFFER_SIZE,
            BUFFER_SIZE + 1,
            0xffffffff,
            u32(),
          ]);
          what.push(`p${i}.b ${p.b}`);
          break;
        case 5:
          p.c = hostileCookie();
          what.push(`p${i}.c ${p.c}`);
          break;
        case 6:
          spec.session = hostileSession();
          what.push(`session ${spec.session}`);
          break;
        case 7:
          spec.cmd = pick([0, 2, 3, 4, 5, 6, 7, 0xffffffff]);
          what.push(`cmd ${spec.cmd}`);
          // Never close or cancel a busy session this way (the model does not queue invocations).
          if (spec.cmd === OpteeMsgCmd.CLOSE_SESSION || spec.cmd === OpteeMsgCmd.CANCEL) {
            spec.session = hostileSession();
          }
          break;
        case 8:
        case 9:
        case 10: {
          // The request in memory: SMT length / status / header, MSG header.
          const p0 = spec.params[0] as SlotParam;
          const area =
            spec.func === PtaScmiCommand.PROCESS_SMT_CHANNEL
              ? layout.channels.get(p0.a)?.shmemOffset
              : spec.func === PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE ||
                  spec.func === PtaScmiCommand.PROCESS_MSG_CHANNEL
                ? (() => {
                    const c = (spec.params[1] as SlotParam).c;
                    const index = buffers.get(c);
                    return index === undefined ? undefined : bufferAt(index);
                  })()
                : undefined;
          if (area === undefined) break;
          const smt = spec.func !== PtaScmiCommand.PROCESS_MSG_CHANNEL;
          const field = int(3);
          if (smt && field === 0) {
            const len = pick([0, 1, 3, 4, 5, 96, 97, 100, 132, 0xffffffff, u32()]);
            world.setU32(area + SMT_LENGTH, len, 'a hostile SMT length');
            what.push(`SMT length ${len}`);
          } else if (smt && field === 1) {
            const st = pick([1, 2, 3, 0xfffffffc, u32()]);
            world.setU32(area + SMT_STATUS, st, 'a hostile channel_status');
            what.push(`channel_status 0x${st.toString(16)}`);
          } else {
            const at = smt ? area + SMT_HEADER : area;
            const h = readU32(world.bytes, at);
            const bad =
              pick([h | (1 << 8), h | (2 << 8), h | (3 << 8), h | (1 << 28), u32()]) >>> 0;
            world.setU32(at, bad, 'a hostile header');
            what.push(`header 0x${bad.toString(16)}`);
          }
          break;
        }
        case 11:
          p.attr = pick([
            OpteeMsgAttr.RMEM_INPUT,
            OpteeMsgAttr.RMEM_OUTPUT,
            OpteeMsgAttr.RMEM_INOUT,
          ]);
          p.c = pick([...world.shm.keys(), hostileCookie()]);
          p.a = pick([0, 1, 2, 4, 32, 64]);
          p.b = pick([0, 4, 7, 8, 96, 104, 128, BUFFER_SIZE]);
          what.push(`p${i} memref(${p.attr}, ${p.a}, ${p.b}, ${p.c})`);
          break;
        case 12:
        case 13: {
          // A size at the boundaries the checks draw, on the memrefs the PTA reads.
          const q = spec.params[1 + int(2)] as SlotParam;
          q.b = pick([
            0,
            3,
            4,
            5,
            7,
            8,
            31,
            32,
            64,
            95,
            96,
            97,
            100,
            103,
            104,
            105,
            127,
            128,
            129,
            BUFFER_SIZE,
            BUFFER_SIZE + 1,
          ]);
          what.push(`memref size ${q.b}`);
          break;
        }
        default: {
          const p0 = spec.params[0] as SlotParam;
          p0.a = pick([3, 4, 6, 0xffff, 0x10000, u32(), ...channelIds]);
          what.push(`channel ${p0.a}`);
        }
      }
    }
    return what;
  };

  const postProper = (
    slot: number,
    session: number,
    channel: number,
    label: string,
  ): Call | undefined => {
    const spec = properProcess(session, channel, scmiCommand());
    if (spec === undefined) return undefined;
    return world.post(slot, spec, `${label} f${spec.func} ch${channel} s${session}`, true);
  };

  const openSpec = (hostile: boolean): CallSpec => {
    const s = emptySpec(OpteeMsgCmd.OPEN_SESSION);
    s.uuid = parseTeeUuid(PTA_SCMI_UUID);
    s.login = TeeLogin.REE_KERNEL;
    if (hostile) {
      if (chance(0.5)) s.login = pick([0, 1, 4, 0x80000001, u32()]);
      else {
        const i = int(16);
        s.uuid[i] = ((s.uuid[i] as number) ^ (1 + int(255))) & 0xff;
      }
    }
    return s;
  };
  const closeSpec = (session: number): CallSpec => {
    const s = emptySpec(OpteeMsgCmd.CLOSE_SESSION);
    s.session = session;
    return s;
  };
  const registerSpec = (offset: number, size: number, cookie: number): CallSpec => {
    const s = emptySpec(OpteeMsgCmd.REGISTER_SHM);
    s.numParams = 1;
    s.params[0] = { attr: OpteeMsgAttr.TMEM_OUTPUT, a: offset, b: size, c: cookie };
    return s;
  };
  const unregisterSpec = (cookie: number): CallSpec => {
    const s = emptySpec(OpteeMsgCmd.UNREGISTER_SHM);
    s.numParams = 1;
    s.params[0] = { attr: OpteeMsgAttr.RMEM_INPUT, a: 0, b: 0, c: cookie };
    return s;
  };
  const registerBuffer = (slot: number, index: number): void => {
    const cookie = nextCookie++;
    buffers.set(cookie, index);
    world.post(
      slot,
      registerSpec(bufferAt(index), BUFFER_SIZE, cookie),
      `register b${index}`,
      true,
    );
  };
  const gch = (slot: number, session: number, channel: number, caps = 3): Call =>
    world.post(
      slot,
      invoke(session, PtaScmiCommand.GET_CHANNEL_HANDLE, [
        value(OpteeMsgAttr.VALUE_INOUT, channel, caps),
      ]),
      `get channel handle ${channel}`,
      true,
    );
  /** Posts `spec` in a free slot (or does nothing when none is free). */
  const postAny = (spec: CallSpec, label: string, proper: boolean): Call | undefined => {
    const slot = freeSlot();
    return slot === undefined ? undefined : world.post(slot, spec, label, proper);
  };

  // ---- setup ----------------------------------------------------------------------------------
  const nSessions = 1 + int(3);
  for (let i = 0; i < nSessions; i++) {
    if (chance(0.3))
      await step('setup', () => void postAny(openSpec(true), 'hostile open', false), 0);
    await step('setup', () => void postAny(openSpec(false), 'open', true), 0);
  }
  const first = [...world.sessions.keys()][0] as number;
  await step(
    'setup',
    () =>
      void postAny(
        invoke(first, PtaScmiCommand.CAPABILITIES, [value(OpteeMsgAttr.VALUE_OUTPUT)]),
        'capabilities',
        true,
      ),
    0,
  );
  const withoutHandle = chance(0.3) ? pick(channelIds) : undefined;
  await step(
    'setup',
    () => {
      for (const ch of channelIds) {
        if (ch === withoutHandle) continue;
        const slot = freeSlot();
        if (slot !== undefined) gch(slot, first, ch, pick([1, 2, 3]));
      }
    },
    0,
  );
  const nBuffers = 2 + int(4);
  await step(
    'setup',
    () => {
      for (let i = 0; i < nBuffers; i++) {
        const slot = freeSlot();
        if (slot !== undefined) registerBuffer(slot, i);
      }
    },
    0,
  );

  // ---- the hostile phase ----------------------------------------------------------------------
  const weightTotal = ACTIONS.reduce((n, a) => n + WEIGHTS[a], 0);
  const pickAction = (): Action => {
    let r = rng() * weightTotal;
    for (const a of ACTIONS) {
      r -= WEIGHTS[a];
      if (r < 0) return a;
    }
    return 'proper';
  };
  for (let n = 0; n < STEPS; n++) {
    const action = pickAction();
    totals.actions[action]++;
    const where = `step ${n} (${action})`;
    await step(
      where,
      () => {
        const idle = idleSessions();
        switch (action) {
          case 'proper': {
            const slot = freeSlot();
            if (slot === undefined || idle.length === 0) return;
            postProper(slot, pick(idle), pick(channelIds), 'proper');
            return;
          }
          case 'hostile': {
            const slot = freeSlot();
            if (slot === undefined || idle.length === 0) return;
            const channel = pick(channelIds);
            const spec = properProcess(pick(idle), channel, scmiCommand());
            if (spec === undefined) return;
            const what = mutate(spec);
            world.post(slot, spec, `hostile f${spec.func} ch${channel}: ${what.join(', ')}`, false);
            return;
          }
          case 'burst': {
            // Two messages on one channel in one ring, from two sessions.
            if (idle.length < 2) return;
            const channel = pick(channelIds);
            const a = freeSlot();
            if (a === undefined) return;
            const b = freeSlot([a]);
            if (b === undefined) return;
            const [s1, s2] = [idle[0] as number, idle[1] as number];
            const [lo, hi] = a < b ? [a, b] : [b, a];
            // Dispatched in slot order, after both are written: the first message is held by the
            // platform (its channel stays claimed), the second, written without touching memory
            // (it would overwrite the first's request before the secure world reads it), finds
            // the channel busy — or is refused before, when the first never reached the platform.
            const spec1 = properProcess(s1, channel, scmiCommand());
            if (spec1 === undefined) return;
            world.holdNext = true;
            world.post(lo, spec1, `burst 1 f${spec1.func} ch${channel}`, true);
            world.holdNext = false;
            const spec2 = properProcess(s2, channel, scmiCommand(), false);
            if (spec2 === undefined) return;
            // Not counted as a proper message: its area or buffer holds whatever was left there.
            world.post(hi, spec2, `burst 2 f${spec2.func} ch${channel}`, false);
            return;
          }
          case 'caps': {
            if (idle.length === 0) return;
            const session = pick(idle);
            const spec = chance(0.5)
              ? invoke(session, PtaScmiCommand.CAPABILITIES, [value(OpteeMsgAttr.VALUE_OUTPUT)])
              : invoke(session, PtaScmiCommand.GET_CHANNEL_HANDLE, [
                  value(OpteeMsgAttr.VALUE_INOUT, pick(channelIds), pick([1, 2, 3])),
                ]);
            const hostile = chance(0.6);
            const what = hostile ? mutate(spec) : [];
            postAny(
              spec,
              `caps/handle f${spec.func}${hostile ? `: ${what.join(', ')}` : ''}`,
              !hostile,
            );
            return;
          }
          case 'session': {
            const r = rng();
            if (r < 0.3) postAny(openSpec(chance(0.4)), 'open', false);
            else if (r < 0.6 && world.sessions.size > 1) {
              // Close an open session — busy or not (a close queues behind a waiting invocation).
              const ids = [...world.sessions.keys()];
              postAny(closeSpec(pick(ids)), 'close', true);
            } else {
              postAny(
                closeSpec(pick([0, 0xffffffff, ...world.closedSessions, 999])),
                'close unknown',
                false,
              );
            }
            return;
          }
          case 'cancel': {
            const s = emptySpec(OpteeMsgCmd.CANCEL);
            s.session = pick([...world.sessions.keys(), ...world.closedSessions, 0, u32()]);
            s.cancelId = u32();
            postAny(s, `cancel s${s.session}`, false);
            return;
          }
          case 'shm': {
            const r = rng();
            if (r < 0.3) {
              const slot = freeSlot();
              if (slot !== undefined) registerBuffer(slot, int(HOSTILE_BUFFERS));
            } else if (r < 0.55) {
              const s = registerSpec(
                pick([
                  0,
                  layout.poolOffset - 4,
                  layout.poolOffset + layout.poolSize - 8,
                  bufferAt(int(HOSTILE_BUFFERS)),
                  u32(),
                ]),
                pick([0, 1, 8, BUFFER_SIZE, layout.poolSize, 0xffffffff]),
                pick([nextCookie++, ...world.shm.keys(), ...world.freedCookies]),
              );
              if (chance(0.2)) s.numParams = pick([0, 2, 4]);
              if (chance(0.2)) (s.params[0] as SlotParam).attr = pick([0, 5, 6, 7, 9, 0xb]);
              postAny(s, 'hostile register', false);
            } else {
              const s = unregisterSpec(hostileCookie());
              if (chance(0.15)) s.numParams = pick([0, 2]);
              postAny(s, `unregister ${(s.params[0] as SlotParam).c}`, false);
            }
            return;
          }
          case 'unknown-cmd': {
            const s = emptySpec(pick([6, 7, 0x10, 0xffffffff, u32()]));
            s.session = pick([...world.sessions.keys(), 0]);
            s.numParams = int(6);
            postAny(s, `unknown cmd ${s.cmd}`, false);
            return;
          }
          case 'over-running': {
            const running = [...world.inFlight.values()].filter(
              (c) => world.slotState(c.slot) === OpteeCallState.RUNNING,
            );
            if (running.length === 0) return;
            const target = pick(running);
            world.postOverRunning(target.slot, [u32(), u32(), u32(), 1, 4]);
            return;
          }
          case 'scribble': {
            // Random bytes over an area or buffer, in use or not.
            const areas: Range[] = [];
            for (const c of layout.channels.values()) {
              if (c.shmemOffset !== undefined)
                areas.push({ start: c.shmemOffset, end: c.shmemOffset + c.shmemSize });
            }
            for (let i = 0; i < HOSTILE_BUFFERS; i++)
              areas.push({ start: bufferAt(i), end: bufferAt(i) + BUFFER_SIZE });
            const r = pick(areas);
            const at = r.start + int(r.end - r.start - 4);
            const len = 1 + int(Math.min(32, r.end - at));
            world.scribble(
              at,
              Array.from({ length: len }, () => int(256)),
              'a scribble',
            );
            return;
          }
          case 'invoke-after-close': {
            // A close queued behind a waiting invocation, then an invocation in that session:
            // it must be refused once the close ran.
            const busy = [...world.sessions.values()].filter((s) => s.running !== undefined);
            if (busy.length === 0) return;
            const s = pick(busy);
            const a = freeSlot();
            if (a === undefined) return;
            const closing = s.queue.some((c) => c.spec.cmd === OpteeMsgCmd.CLOSE_SESSION);
            if (!closing) world.post(a, closeSpec(s.id), `close busy s${s.id}`, true);
            const b = freeSlot([a]);
            if (b === undefined) return;
            const spec = invoke(s.id, PtaScmiCommand.CAPABILITIES, [
              value(OpteeMsgAttr.VALUE_OUTPUT),
            ]);
            // Slots are dispatched in order: in a lower slot than the close posted now, the
            // invocation would queue before it (the model posts no invocation it cannot predict).
            if (!closing && b < a) return;
            world.post(b, spec, `invoke after close s${s.id}`, false);
            return;
          }
        }
      },
      chance(0.2) ? 0 : chance(0.1) ? 40 + int(60) : 1 + int(15),
    );
  }

  // ---- abrupt close (one case in eight) --------------------------------------------------------
  if (chance(1 / 8)) {
    totals.abrupt++;
    totals.cases++;
    const inFlight = [...world.inFlight.values()];
    optee.close();
    world.secureClosed = true;
    for (const call of inFlight) {
      const base = world.slotBase(call.slot);
      const state = world.slotState(call.slot);
      const ret = world.view.getUint32(base + 20, true);
      const origin = world.view.getUint32(base + 24, true);
      if (
        state !== OpteeCallState.RETURNED ||
        ret !== TeeResult.TARGET_DEAD ||
        origin !== TeeOrigin.TEE
      ) {
        fail(`abrupt close: ${call.label} left in state ${state}, 0x${ret.toString(16)}/${origin}`);
      }
      world.release(call.slot);
    }
    await clock.advance(500);
    await clock.runUntilIdle();
    if (clock.armedTimers !== 0 || clock.pendingTasks !== 0 || world.pendingDeliveries !== 0) {
      fail(`abrupt close: ${clock.armedTimers} timer(s), ${clock.pendingTasks} task(s) left`);
    }
    platform.close();
    wire.ree.doorbell.close();
    return;
  }

  // ---- calm phase -----------------------------------------------------------------------------
  world.delayChance = 0;
  await step('calm: drain', () => undefined, 400);
  if (world.inFlight.size > 0 || world.pendingDeliveries > 0) {
    fail(`calm: ${world.inFlight.size} call(s) still in flight after 400 ms`);
  }
  await step('calm', () => void postAny(openSpec(false), 'calm open', true), 0);
  const calmSession = [...world.sessions.keys()].pop() as number;
  const calmCookie = nextCookie++;
  await step(
    'calm',
    () => {
      buffers.set(calmCookie, HOSTILE_BUFFERS);
      postAny(
        registerSpec(bufferAt(HOSTILE_BUFFERS), BUFFER_SIZE, calmCookie),
        'calm register',
        true,
      );
    },
    0,
  );
  for (const channel of channelIds) {
    await step('calm', () => void gch(freeSlot() as number, calmSession, channel), 0);
    let call: Call | undefined;
    const header = buildHeader(0, ScmiMessageType.COMMAND, BASE, (token = (token + 1) & 0x3ff));
    const message = new Uint8Array(4);
    writeU32(message, 0, header);
    await step(
      `calm: PROTOCOL_VERSION on channel ${channel}`,
      () => {
        const area = layout.channels.get(channel)?.shmemOffset;
        let spec: CallSpec;
        if (area !== undefined) {
          writeSmtRequest(area, message, 'the calm request');
          spec = invoke(calmSession, PtaScmiCommand.PROCESS_SMT_CHANNEL, [
            value(OpteeMsgAttr.VALUE_INPUT, channel),
          ]);
        } else {
          const at = bufferAt(HOSTILE_BUFFERS);
          world.scribble(at, message, 'the calm request');
          spec = invoke(calmSession, PtaScmiCommand.PROCESS_MSG_CHANNEL, [
            value(OpteeMsgAttr.VALUE_INPUT, channel),
            memref(OpteeMsgAttr.RMEM_INPUT, calmCookie, 0, 4),
            memref(OpteeMsgAttr.RMEM_OUTPUT, calmCookie, 0, MSG_BUFFER),
          ]);
        }
        call = world.post(freeSlot() as number, spec, `calm PROTOCOL_VERSION ch${channel}`, true);
      },
      0,
    );
    // (5) SUCCESS with the 4-byte version (the step's verify checked every byte against the
    // platform's response; here what that response must be) — or busy on a wedged SMT channel.
    const c = call;
    if (world.channels.get(channel)?.wedged === true) {
      if (c?.outcome !== 'busy') {
        fail(
          `calm: PROTOCOL_VERSION on channel ${channel}, wedged by a refused SMT message: ${c?.outcome ?? 'not posted'}, expected busy`,
        );
      }
      continue;
    }
    const r = c?.response?.response;
    if (c?.result?.ret !== TeeResult.SUCCESS || r === undefined || r.byteLength !== 12) {
      fail(
        `calm: PROTOCOL_VERSION on channel ${channel}: ${c?.outcome ?? 'not posted'}, ${r === undefined ? 'no response' : Buffer.from(r).toString('hex')}`,
      );
    }
    const rr = r as Uint8Array;
    if (readU32(rr, 0) !== header || readU32(rr, 4) !== 0 || readU32(rr, 8) === 0) {
      fail(
        `calm: PROTOCOL_VERSION on channel ${channel} answered ${Buffer.from(rr).toString('hex')}`,
      );
    }
    const at =
      layout.channels.get(channel)?.shmemOffset === undefined
        ? bufferAt(HOSTILE_BUFFERS)
        : (layout.channels.get(channel)?.shmemOffset as number) + SMT_HEADER;
    if (Buffer.compare(Buffer.from(world.bytes.slice(at, at + 12)), Buffer.from(rr)) !== 0) {
      fail(
        `calm: PROTOCOL_VERSION on channel ${channel}: memory holds ${Buffer.from(world.bytes.slice(at, at + 12)).toString('hex')}`,
      );
    }
  }

  // ---- close everything -----------------------------------------------------------------------
  for (const id of [...world.sessions.keys()]) {
    await step('close', () => void postAny(closeSpec(id), `close s${id}`, true), 0);
  }
  for (const cookie of [...world.shm.keys()]) {
    await step(
      'close',
      () => void postAny(unregisterSpec(cookie), `unregister ${cookie}`, true),
      0,
    );
  }
  await clock.runUntilIdle();
  const s = optee.stats;
  const left = {
    openSessions: s.openSessions,
    registeredShm: s.registeredShm,
    inFlight: world.inFlight.size,
    armedTimers: clock.armedTimers,
    pendingTasks: clock.pendingTasks,
    pendingDeliveries: world.pendingDeliveries,
    internalErrors: s.internalErrors,
  };
  if (Object.values(left).some((v) => v !== 0)) {
    fail(`left behind after closing: ${JSON.stringify(left)}`);
  }
  optee.close();
  platform.close();
  wire.ree.doorbell.close();
  totals.cases++;
}

describe('OP-TEE secure-side fuzz: the emulated OP-TEE against a hostile normal world', () => {
  ensureNoLeaksInSuite();

  afterAll(() => {
    const list = (counts: Record<string, number>): string =>
      Object.entries(counts)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
    console.log(
      `optee secure-side fuzz: seeds ${SEED_BASE}…${SEED_BASE + RUNS - 1}: ${totals.cases} cases (${totals.abrupt} closed abruptly), ${totals.calls} calls; proper messages ${totals.proper}: ${totals.properAnswered} answered, destroyed: ${list(totals.properDestroyed)}; actions: ${list(totals.actions)}; outcomes: ${list(totals.outcomes)}; results: ${list(totals.results)}`,
    );
  });

  it.each(SEEDS)(
    'should bound, reject and count what the normal world writes (seed %i)',
    async (seed) => {
      await runCase(seed);
    },
  );
});
