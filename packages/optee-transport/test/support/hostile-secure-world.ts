/**
 * A hostile secure world for the OP-TEE fuzz campaign (`optee-fuzz.test.ts`): it sits between
 * the emulated OP-TEE and the normal world's driver of a same-thread wire and, per returned call,
 * rewrites what the secure world controls before the driver reads it — the call slot (TEE result,
 * origin, the output size of PROCESS_MSG_CHANNEL's p2, the values of CAPABILITIES and
 * GET_CHANNEL_HANDLE) and the shared memory (the SMT area: channel_status, length, header,
 * payload; the MSG buffer: header, status, payload) — and may hold the return past the agent's
 * timeout. It runs on the driver's return interceptor, so a held return keeps its call slot and
 * its shared-memory references, as an invocation still running in OP-TEE does.
 *
 * For every message it rewrites, it computes what the agent must make of it (a {@link Verdict},
 * from the rules `README.md` states: "What happens when things go wrong"), read from the memory
 * and the slot exactly as they are when the return is delivered: the test's oracle.
 */
import {
  readI32,
  readU32,
  replyHeaderDefect,
  writeU32,
  type BadMessageReason,
  type VirtualClock,
} from '@scmi-ts/core';
import {
  OpteeCallState,
  OpteeMsgCmd,
  SLOT_CANCEL_ID,
  SLOT_CMD,
  SLOT_FUNC,
  SLOT_RET,
  SLOT_RET_ORIGIN,
  SLOT_SESSION,
  SLOT_STATE,
  paramOffset,
} from '../../src/wire/optee-msg-arg.js';
import {
  SMT_HEADER,
  SMT_LENGTH,
  SMT_PAYLOAD,
  SMT_STATUS,
  SMT_STATUS_ERROR,
  SMT_STATUS_FREE,
  smtRead,
  smtWrite,
} from '../../src/wire/smt-layout.js';
import {
  PtaScmiCommand,
  TeeOrigin,
  TeeResult,
  type OpteeDriver,
  type OpteeTransport,
  type TeeMemrefParam,
  type TeeValueParam,
} from '../../src/index.js';

/** What the agent must make of one returned message (the oracle). */
export type Verdict =
  | { readonly kind: 'tee-error' }
  | { readonly kind: 'channel-error' }
  | { readonly kind: 'bad'; readonly reason: BadMessageReason }
  | { readonly kind: 'ok'; readonly status: number; readonly returns: Uint8Array };

/** One PROCESS_SMT_CHANNEL / PROCESS_MSG_CHANNEL invocation the hostile world saw start. */
export interface TrackedInvocation {
  readonly mode: 'smt' | 'msg';
  /** The SMT area, or the MSG buffer (p2's shared memory). */
  readonly buffer: Uint8Array;
  /** The request's header (as the agent wrote it before the call). */
  readonly header: number;
  /** What the test attached to it (its transact), or undefined for a command it did not send. */
  readonly tag: unknown;
  /** What the agent must make of the return, once delivered. */
  verdict: Verdict | undefined;
}

/** What the hostile world does to the returns, by phase. */
export type HostileMode =
  /** Everything returned as the emulated OP-TEE answered it. */
  | 'proper'
  /** Message invocations rewritten at random (the fuzz's hostile phase). */
  | 'hostile'
  /** CAPABILITIES and GET_CHANNEL_HANDLE rewritten at random, one message invocation in ten too. */
  | 'probe';

/** The actions the hostile world can take on one return, counted for the summary. */
export const HOSTILE_ACTIONS = [
  'proper',
  'tee-result',
  'out-size',
  'slot-params',
  'header',
  'status-payload',
  'smt-length',
  'smt-status',
  'slow',
  'late',
  'setup-result',
  'setup-value',
] as const;

/** One of {@link HOSTILE_ACTIONS}. */
export type HostileAction = (typeof HOSTILE_ACTIONS)[number];

/** Options of {@link attachHostileSecureWorld}. */
export interface HostileOptions {
  /** The driver of the wire (its return interceptor and `submit` are taken over). */
  readonly driver: OpteeDriver;
  /** The agent's transport (to find a channel's SMT area by its handle). */
  readonly transport: OpteeTransport;
  /** The virtual clock (held returns are delivered by its timers). */
  readonly clock: VirtualClock;
  /** The case's random source. */
  readonly rng: () => number;
  /** The agent's response timeout, ms (a late return is held well past it, a slow one well inside). */
  readonly rxTimeoutMs: number;
  /**
   * Called when a message invocation starts, with a key naming its command (protocol, message id
   * and payload bytes); returns what to attach to it (see {@link TrackedInvocation.tag}).
   */
  readonly onSubmit: (key: string) => unknown;
}

/** A hostile secure world attached to a driver. */
export interface HostileSecureWorld {
  /** What it does now (default `'proper'`). */
  mode: HostileMode;
  /** How often each action was taken. */
  readonly actions: Record<HostileAction, number>;
  /** Returns held now (delivered later by a timer). */
  readonly held: number;
  /** Every message invocation seen, in order. */
  readonly invocations: readonly TrackedInvocation[];
}

/** The key of a command: protocol id, message id and payload bytes (token left out). */
export function commandKey(header: number, payload: Uint8Array): string {
  const proto = (header >>> 10) & 0xff;
  const msg = header & 0xff;
  return `${proto}:${msg}:${Buffer.from(payload).toString('hex')}`;
}

const PROCESS_SMT = PtaScmiCommand.PROCESS_SMT_CHANNEL as number;
const PROCESS_MSG = PtaScmiCommand.PROCESS_MSG_CHANNEL as number;
const CAPABILITIES = PtaScmiCommand.CAPABILITIES as number;
const GET_CHANNEL_HANDLE = PtaScmiCommand.GET_CHANNEL_HANDLE as number;

/** TEE results a hostile world may return (known ones, and 0 with a garbage origin). */
const RESULTS = [
  TeeResult.GENERIC,
  TeeResult.BUSY,
  TeeResult.COMMUNICATION,
  TeeResult.BAD_PARAMETERS,
  TeeResult.BAD_STATE,
  TeeResult.OUT_OF_MEMORY,
  TeeResult.TARGET_DEAD,
  TeeResult.CANCEL,
  TeeResult.SUCCESS,
] as const;

/**
 * Attaches the hostile world to `options.driver` (same-thread wire): it wraps `driver.submit`
 * (to learn each message invocation's request before OP-TEE overwrites it) and installs a return
 * interceptor. Every return goes through it; in `'proper'` mode it is delivered at once, as is.
 */
export function attachHostileSecureWorld(options: HostileOptions): HostileSecureWorld {
  const { driver, transport, clock, rng, rxTimeoutMs } = options;
  const wire = driver.wire;
  const view = new DataView(wire.memory);
  const words = new Int32Array(wire.memory);
  const threads = wire.layout.threads;
  const held = new Set<number>();
  const bySlotKey = new Map<string, TrackedInvocation>();
  const invocations: TrackedInvocation[] = [];
  const handlesSeen: number[] = [];
  const actions = Object.fromEntries(HOSTILE_ACTIONS.map((a) => [a, 0])) as Record<
    HostileAction,
    number
  >;
  const world: HostileSecureWorld = {
    mode: 'proper',
    actions,
    get held() {
      return held.size;
    },
    invocations,
  };

  const int = (n: number): number => Math.floor(rng() * n);
  const chance = (p: number): boolean => rng() < p;
  const pick = <T>(list: readonly T[]): T => list[int(list.length)] as T;
  const u32 = (at: number): number => view.getUint32(at, true);
  const set = (at: number, v: number): void => {
    view.setUint32(at, v >>> 0, true);
  };
  const randomU32 = (): number => (int(0x10000) * 0x10000 + int(0x10000)) >>> 0;

  /** The static SMT area of the channel whose handle is `handle`. */
  function areaOf(handle: number): Uint8Array {
    const info = transport.diagnostics().channels.find((c) => c.handle === handle);
    const area = info === undefined ? undefined : wire.staticShmem(info.opteeChannelId);
    if (area === undefined) throw new Error(`hostile world: no SMT area for handle ${handle}`);
    return area;
  }

  // Learn each message invocation's request as the agent wrote it (OP-TEE rewrites the MSG
  // buffer's header with the response's), and where its response will be.
  const submit = driver.submit.bind(driver);
  driver.submit = (session, func, cancelId, params, onReturn) => {
    if (func === PROCESS_SMT || func === PROCESS_MSG) {
      let buffer: Uint8Array;
      let header: number;
      let payload: Uint8Array;
      if (func === PROCESS_MSG) {
        const p1 = params[1] as TeeMemrefParam;
        buffer = p1.shm.bytes;
        header = readU32(buffer, 0);
        payload = buffer.slice(4, p1.size);
      } else {
        buffer = areaOf((params[0] as TeeValueParam).a);
        header = smtRead(buffer, SMT_HEADER);
        payload = buffer.slice(SMT_PAYLOAD, SMT_PAYLOAD + smtRead(buffer, SMT_LENGTH) - 4);
      }
      const inv: TrackedInvocation = {
        mode: func === PROCESS_MSG ? 'msg' : 'smt',
        buffer,
        header,
        tag: options.onSubmit(commandKey(header, payload)),
        verdict: undefined,
      };
      invocations.push(inv);
      bySlotKey.set(`${session}:${cancelId}`, inv);
    }
    submit(session, func, cancelId, params, onReturn);
  };

  /** The slot whose return the driver hands over now: the first returned one not held. */
  function returnedSlot(): number {
    for (let slot = 0; slot < threads; slot++) {
      if (held.has(slot)) continue;
      const state = (wire.layout.slotOffset(slot) + SLOT_STATE) / 4;
      if (Atomics.load(words, state) === (OpteeCallState.RETURNED as number)) return slot;
    }
    throw new Error('hostile world: a return with no returned slot');
  }

  /** Rewrites a message invocation's return at random; counts what it did. */
  function rewriteMessage(base: number, inv: TrackedInvocation): void {
    if (chance(0.3)) {
      actions.proper++;
      return;
    }
    const smt = inv.mode === 'smt';
    const buffer = inv.buffer;
    const headerAt = smt ? SMT_HEADER : 0;
    const statusAt = smt ? SMT_PAYLOAD : 4;
    const kinds: HostileAction[] = smt
      ? ['tee-result', 'slot-params', 'header', 'status-payload', 'smt-length', 'smt-status']
      : ['tee-result', 'out-size', 'slot-params', 'header', 'status-payload'];
    const n = 1 + (chance(0.25) ? int(3) : 0);
    for (let i = 0; i < n; i++) {
      const kind = pick(kinds);
      actions[kind]++;
      switch (kind) {
        case 'tee-result':
          set(base + SLOT_RET, chance(0.2) ? randomU32() : pick(RESULTS));
          set(base + SLOT_RET_ORIGIN, chance(0.5) ? int(5) : randomU32());
          break;
        case 'out-size': {
          const size = buffer.byteLength;
          set(
            base + paramOffset(2) + 8,
            pick([
              0,
              int(8),
              8,
              8 + int(size - 7),
              size,
              size + 1,
              size + 1 + int(4096),
              0xffffffff,
              randomU32(),
            ]),
          );
          break;
        }
        case 'slot-params':
          // Garbage in every word of the four parameters but p2's offset and memory id: the
          // driver reads back only what its own parameter types name (MSG: p2's size).
          for (let p = 0; p < 4; p++) {
            const at = base + paramOffset(p);
            if (!smt && p === 2) set(at + 8, chance(0.5) ? randomU32() : int(200));
            else if (smt || p !== 1) set(at + 4 + 4 * int(3), randomU32());
          }
          break;
        case 'header': {
          const want = inv.header;
          writeU32(
            buffer,
            headerAt,
            pick([
              (want & ~(0x3ff << 18)) | ((((want >>> 18) + 1 + int(0x3fe)) & 0x3ff) << 18), // token
              (want & ~(0xff << 10)) | ((((want >>> 10) + 1 + int(0xfe)) & 0xff) << 10), // protocol
              (want & ~0xff) | ((want + 1 + int(0xfe)) & 0xff), // message id
              (want & ~(3 << 8)) | ((1 + int(3)) << 8), // type 1, 2 or 3
              want | ((1 + int(15)) << 28), // reserved bits
              randomU32(),
              want,
            ]) >>> 0,
          );
          break;
        }
        case 'status-payload': {
          writeU32(buffer, statusAt, pick([0, 0, (-1 - int(10)) >>> 0, randomU32(), int(100)]));
          const from = statusAt + 4 + int(buffer.byteLength - statusAt - 4);
          const to = from + int(buffer.byteLength - from + 1);
          for (let i2 = from; i2 < to; i2++) buffer[i2] = int(256);
          break;
        }
        case 'smt-length': {
          const room = buffer.byteLength - SMT_HEADER;
          smtWrite(
            buffer,
            SMT_LENGTH,
            pick([0, int(8), 8, 8 + int(room - 7), room, room + 1, room + int(4096), 0xffffffff]),
          );
          break;
        }
        case 'smt-status':
          smtWrite(
            buffer,
            SMT_STATUS,
            pick([
              0,
              SMT_STATUS_FREE,
              SMT_STATUS_ERROR,
              SMT_STATUS_FREE | SMT_STATUS_ERROR,
              randomU32(),
              SMT_STATUS_FREE | (randomU32() & ~3),
            ]),
          );
          break;
        default:
          break;
      }
    }
  }

  /** What the agent must make of the return in `base` (read as the agent reads it). */
  function verdictOf(base: number, inv: TrackedInvocation): Verdict {
    if (u32(base + SLOT_RET) !== (TeeResult.SUCCESS as number)) return { kind: 'tee-error' };
    if (inv.mode === 'smt') {
      const area = inv.buffer;
      const status = smtRead(area, SMT_STATUS);
      if ((status & SMT_STATUS_FREE) === 0) return { kind: 'bad', reason: 'spurious' };
      if ((status & SMT_STATUS_ERROR) !== 0) return { kind: 'channel-error' };
      const defect = replyHeaderDefect(smtRead(area, SMT_HEADER), inv.header);
      if (defect !== undefined) return { kind: 'bad', reason: defect };
      const length = smtRead(area, SMT_LENGTH);
      if (length < 8) return { kind: 'bad', reason: 'invalid' };
      if (length > area.byteLength - SMT_HEADER) return { kind: 'bad', reason: 'oversize' };
      return {
        kind: 'ok',
        status: readI32(area, SMT_PAYLOAD),
        returns: area.slice(SMT_PAYLOAD + 4, SMT_PAYLOAD + 4 + length - 8),
      };
    }
    const buffer = inv.buffer;
    const size = u32(base + paramOffset(2) + 8);
    if (size < 8) return { kind: 'bad', reason: 'invalid' };
    if (size > buffer.byteLength) return { kind: 'bad', reason: 'oversize' };
    const defect = replyHeaderDefect(readU32(buffer, 0), inv.header);
    if (defect !== undefined) return { kind: 'bad', reason: defect };
    return { kind: 'ok', status: readI32(buffer, 4), returns: buffer.slice(8, size) };
  }

  /** Probe-time hostility: CAPABILITIES and GET_CHANNEL_HANDLE answered at random. */
  function rewriteSetup(base: number, func: number): void {
    if (chance(0.3)) return;
    if (chance(0.3)) {
      actions['setup-result']++;
      set(base + SLOT_RET, chance(0.3) ? randomU32() : pick(RESULTS));
      set(base + SLOT_RET_ORIGIN, pick([TeeOrigin.TEE, TeeOrigin.TRUSTED_APP, randomU32()]));
      return;
    }
    actions['setup-value']++;
    const at = base + paramOffset(0);
    if (func === CAPABILITIES) {
      set(at + 4, pick([0, 1, 2, 3, 4, randomU32()]));
    } else {
      // Another handle: random, or one already given (the probe must refuse a duplicate).
      const seen = handlesSeen.length > 0 && chance(0.5);
      set(at + 4, seen ? pick(handlesSeen) : pick([int(8), randomU32(), 0xffffffff]));
    }
    set(at + 8, randomU32());
  }

  driver.setReturnInterceptor((deliver) => {
    const slot = returnedSlot();
    const base = wire.layout.slotOffset(slot);
    const cmd = u32(base + SLOT_CMD);
    const func = u32(base + SLOT_FUNC);
    const invoke = cmd === (OpteeMsgCmd.INVOKE_COMMAND as number);
    if (invoke && (func === PROCESS_SMT || func === PROCESS_MSG)) {
      const key = `${u32(base + SLOT_SESSION)}:${u32(base + SLOT_CANCEL_ID)}`;
      const inv = bySlotKey.get(key);
      bySlotKey.delete(key);
      if (inv === undefined)
        throw new Error(`hostile world: a message return ${key} never submitted`);
      // A hostile probe rewrites a message now and then only: the probe should get through
      // sometimes, so that what the setup answers at random reaches the channels.
      const hostile = world.mode === 'hostile' || (world.mode === 'probe' && chance(0.1));
      const roll = hostile ? rng() : 1;
      const delay =
        roll < 0.08
          ? 2 * rxTimeoutMs + int(3 * rxTimeoutMs) // late: well past the timeout
          : roll < 0.25
            ? int(Math.max(1, Math.floor(rxTimeoutMs / 3))) // slow: well inside it
            : -1;
      if (delay >= 0) actions[roll < 0.08 ? 'late' : 'slow']++;
      const finish = (): void => {
        if (hostile) rewriteMessage(base, inv);
        inv.verdict = verdictOf(base, inv);
        deliver();
      };
      if (delay < 0) {
        finish();
        return;
      }
      held.add(slot);
      clock.setTimeout(() => {
        held.delete(slot);
        finish();
      }, delay);
      return;
    }
    if (
      invoke &&
      world.mode === 'probe' &&
      (func === CAPABILITIES || func === GET_CHANNEL_HANDLE)
    ) {
      rewriteSetup(base, func);
    }
    if (invoke && func === GET_CHANNEL_HANDLE && u32(base + SLOT_RET) === 0) {
      handlesSeen.push(u32(base + paramOffset(0) + 4));
    }
    deliver();
  });
  return world;
}
