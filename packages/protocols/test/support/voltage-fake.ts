/**
 * A test-only Voltage domain management protocol (0x17) server, until the emulated platform
 * (`@scmi-ts/platform`) serves it: an `ScmiPlatformPort` that wraps the real platform, answers
 * every 0x17 command itself and forwards everything else.
 *
 * Base must list the protocol, or the agent never initializes a driver for it. The port does not
 * touch the platform's configuration or code: it patches the two Base replies discovery reads —
 * PROTOCOL_ATTRIBUTES (num_protocols + 1) and BASE_DISCOVER_LIST_PROTOCOLS (the platform's own
 * list, read from it through the same port method, with 0x17 merged in) — and only when the
 * platform does not list 0x17 already (once it does, the fake still answers 0x17 itself). No
 * fault rule of the platform applies to 0x17: hostile replies come from `tamper`.
 *
 * Written from Linux's `drivers/firmware/arm_scmi/voltage.c` (what the agent sends and reads) and
 * OP-TEE's `core/drivers/scmi-msg/voltage_domain.c` (a platform's answers): layouts only, no
 * claim to be the platform's eventual behaviour — the client must not depend on its choices
 * (status codes for a bad level or domain, page size).
 */
import {
  ScmiMessageType,
  ScmiStatus,
  buildHeader,
  type Clock,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
  type TimerHandle,
} from '@scmi-ts/core';

const VOLTAGE = 0x17;
const BASE = 0x10;
const BASE_PROTOCOL_ATTRIBUTES = 0x1;
const BASE_DISCOVER_LIST_PROTOCOLS = 0x6;

/** A domain the fake serves. */
export interface FakeVoltageDomain {
  /** Its name: longer than 15 characters announces an extended name (version 2.0). */
  readonly name: string;
  /** Its levels, in µV. */
  readonly levels:
    | { readonly kind: 'list'; readonly microvolts: readonly number[] }
    | { readonly kind: 'range'; readonly min: number; readonly max: number; readonly step: number };
  /** Attributes bit 31 (version 2.0): asynchronous level set. */
  readonly async?: boolean;
  /** Its level at start (default: its first level). */
  readonly level?: number;
  /** Its configuration mode at start (default 0x7, on). */
  readonly config?: number;
}

/** One exchange of the fake, as `tamper` sees it. */
export interface VoltageExchange {
  /** A command's response, or LEVEL_SET's delayed response. */
  readonly stage: 'response' | 'delayed-response';
  readonly messageId: number;
  /** The request's 32-bit words after the header. */
  readonly params: readonly number[];
  /** 1 for the first exchange of this message id and stage, 2 for the next… */
  readonly nth: number;
}

/** Options of {@link createVoltageFake}. */
export interface VoltageFakeOptions {
  /** PROTOCOL_VERSION's answer (default 0x20000). */
  readonly version?: number;
  /** The domains (default {@link DEFAULT_VOLTAGE_DOMAINS}). */
  readonly domains?: readonly FakeVoltageDomain[];
  /** Most levels a VOLTAGE_DESCRIBE_LEVELS part carries (default 3: lists come in parts). */
  readonly pageSize?: number;
  /** Time before LEVEL_SET's delayed response, ms (default 1). */
  readonly asyncDelayMs?: number;
  /** Whether NEGOTIATE_PROTOCOL_VERSION is implemented (default true). */
  readonly negotiation?: boolean;
  /**
   * Rewrites a reply before it goes out: gets the exchange and the payload the fake would send
   * (int32 status, then the return values), returns the payload to send instead, `'drop'` to
   * send nothing, or undefined to leave it.
   */
  readonly tamper?: (
    exchange: VoltageExchange,
    payload: Uint8Array,
  ) => Uint8Array | 'drop' | undefined;
  /**
   * How late a command's response comes, ms (undefined or 0: at once), through the link's
   * `respond` as the platform's `delay` fault rule sends it: the SMT channel stays busy meanwhile.
   */
  readonly delay?: (exchange: VoltageExchange) => number | undefined;
}

/** The fake's domains unless a test gives its own. */
export const DEFAULT_VOLTAGE_DOMAINS: readonly FakeVoltageDomain[] = [
  // A list in three parts (pageSize 3), not sorted, asynchronous level set.
  {
    name: 'vdd-cpu',
    levels: {
      kind: 'list',
      microvolts: [900_000, 800_000, 1_000_000, 1_100_000, 700_000, 1_200_000, 750_000],
    },
    async: true,
    level: 900_000,
  },
  // A range, with an extended name.
  {
    name: 'vdd-gpu-core-and-shader-array',
    levels: { kind: 'range', min: 600_000, max: 1_000_000, step: 12_500 },
    level: 800_000,
    config: 0x0,
  },
  // One fixed level.
  { name: 'vddio', levels: { kind: 'list', microvolts: [3_300_000] } },
];

/** The state of one domain (what the agent's commands changed). */
export interface FakeVoltageState {
  level: number;
  config: number;
}

/** The port {@link createVoltageFake} builds, with what tests look at. */
export interface VoltageFake extends ScmiPlatformPort {
  /** Each domain's level and mode now. */
  readonly state: FakeVoltageState[];
  /** Every 0x17 request received: its message id and 32-bit words after the header. */
  readonly requests: { messageId: number; params: number[] }[];
  /** Delayed responses posted. */
  readonly delayedResponses: number;
  /** Cancels the pending delayed responses. */
  close(): void;
}

/** Little-endian words as bytes (signed values as their two's complement). */
export function words(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}

/** `name` as a NUL-padded field of `size` bytes (cut to `size − 1` characters). */
function nameField(name: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(name.slice(0, size - 1)));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

const status = (s: number): Uint8Array => words(s);
const ok = (...returns: Uint8Array[]): Uint8Array => concat(words(ScmiStatus.SUCCESS), ...returns);

/** Whether `level` is one `domain` can be set to. */
function validLevel(domain: FakeVoltageDomain, level: number): boolean {
  const l = domain.levels;
  if (l.kind === 'list') return l.microvolts.includes(level);
  if (level < l.min || level > l.max) return false;
  return l.step === 0 ? level === l.min : (level - l.min) % l.step === 0;
}

/**
 * Wraps `platform` (the harness's `ScmiPlatform`) into a port that serves Voltage (see the file's
 * comment). Pass it as the harness's `platformPort`:
 * `createHarness({ platformPort: (p, clock) => createVoltageFake(p, clock, options) })`.
 */
export function createVoltageFake(
  platform: ScmiPlatformPort,
  clock: Clock,
  options: VoltageFakeOptions = {},
): VoltageFake {
  const domains = options.domains ?? DEFAULT_VOLTAGE_DOMAINS;
  const pageSize = options.pageSize ?? 3;
  const asyncDelayMs = options.asyncDelayMs ?? 1;
  const negotiation = options.negotiation ?? true;
  let version = options.version ?? 0x20000;
  const links = new Map<number, PlatformAgentLink>();
  const timers = new Set<TimerHandle>();
  const seen = new Map<string, number>();
  const state: FakeVoltageState[] = domains.map((d) => ({
    level: d.level ?? (d.levels.kind === 'list' ? (d.levels.microvolts[0] ?? 0) : d.levels.min),
    config: d.config ?? 0x7,
  }));
  const requests: { messageId: number; params: number[] }[] = [];
  let delayedResponses = 0;

  /** The exchange's payload once `tamper` saw it. */
  const tampered = (
    stage: VoltageExchange['stage'],
    messageId: number,
    params: number[],
    payload: Uint8Array,
  ): Uint8Array | undefined => {
    const key = `${stage}:${messageId}`;
    const nth = (seen.get(key) ?? 0) + 1;
    seen.set(key, nth);
    const exchange = { stage, messageId, params, nth };
    const out = options.tamper?.(exchange, payload);
    lastDelay = options.delay?.(exchange) ?? 0;
    if (out === 'drop') return undefined;
    return out ?? payload;
  };
  let lastDelay = 0;

  /** The platform's own protocol list for this agent (its LIST_PROTOCOLS, every part). */
  const platformProtocols = (agentId: number, channelId: number, token: number): number[] => {
    const ids: number[] = [];
    for (;;) {
      const header = buildHeader(BASE_DISCOVER_LIST_PROTOCOLS, 0, BASE, token);
      const reply = platform.handle(agentId, channelId, words(header, ids.length));
      if (reply === undefined || reply.byteLength < 12) return ids;
      const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
      const n = view.getUint32(8, true);
      if (view.getInt32(4, true) !== 0 || n === 0 || reply.byteLength < 12 + n) return ids;
      ids.push(...reply.subarray(12, 12 + n));
    }
  };

  /** Base's two discovery replies with Voltage merged in (undefined: forward as is). */
  const base = (
    agentId: number,
    channelId: number,
    header: number,
    request: Uint8Array,
  ): Uint8Array | undefined => {
    const messageId = header & 0xff;
    if (messageId !== BASE_PROTOCOL_ATTRIBUTES && messageId !== BASE_DISCOVER_LIST_PROTOCOLS) {
      return undefined;
    }
    const own = platformProtocols(agentId, channelId, (header >>> 18) & 0x3ff);
    if (own.includes(VOLTAGE)) return undefined;
    if (messageId === BASE_PROTOCOL_ATTRIBUTES) {
      const reply = platform.handle(agentId, channelId, request);
      if (reply === undefined || reply.byteLength < 12) return reply;
      const out = reply.slice();
      const view = new DataView(out.buffer);
      if (view.getInt32(4, true) === 0) out[8] = ((out[8] ?? 0) + 1) & 0xff;
      return out;
    }
    if (request.byteLength !== 8) return undefined; // the platform's PROTOCOL_ERROR
    const skip = new DataView(request.buffer, request.byteOffset).getUint32(4, true);
    const all = [...own, VOLTAGE].sort((a, b) => a - b);
    if (skip > all.length) return concat(words(header), status(ScmiStatus.INVALID_PARAMETERS));
    const room = Math.floor(((links.get(agentId)?.maxMsgSize ?? 128) - 8) / 4) * 4;
    const n = Math.min(all.length - skip, room);
    const ids = new Uint8Array(Math.ceil(n / 4) * 4);
    ids.set(all.slice(skip, skip + n));
    return concat(words(header), ok(words(n), ids));
  };

  /** The answer to a Voltage command (status, returns), before `tamper`. */
  const answer = (
    agentId: number,
    header: number,
    messageId: number,
    params: number[],
  ): Uint8Array => {
    const v2 = version >= 0x20000;
    const sizes: Record<number, number> = {
      0x0: 0,
      0x1: 0,
      0x2: 1,
      0x3: 1,
      0x4: 2,
      0x5: 2,
      0x6: 1,
      0x7: 3,
      0x8: 1,
      0x9: 1,
      0x10: 1,
    };
    const implemented = (id: number): boolean =>
      (id <= 0x8 || (id === 0x9 && v2) || (id === 0x10 && negotiation)) && id in sizes;
    if (!implemented(messageId)) return status(ScmiStatus.NOT_SUPPORTED);
    if (params.length !== sizes[messageId]) return status(ScmiStatus.PROTOCOL_ERROR);
    const [first = 0, second = 0, third = 0] = params;
    switch (messageId) {
      case 0x0:
        return ok(words(version));
      case 0x1:
        return ok(words(domains.length & 0xffff));
      case 0x2:
        return implemented(first) ? ok(words(0)) : status(ScmiStatus.NOT_FOUND);
      case 0x10:
        // Versions this fake speaks: 1.0 up to its own.
        if (first < 0x10000 || first > (options.version ?? 0x20000)) {
          return status(ScmiStatus.NOT_SUPPORTED);
        }
        version = first;
        return ok();
      default:
        break;
    }
    const d = domains[first];
    const s = state[first];
    if (d === undefined || s === undefined) return status(ScmiStatus.NOT_FOUND);
    switch (messageId) {
      case 0x3: {
        const extended = v2 && d.name.length > 15;
        const attributes = (v2 && d.async === true ? 1 << 31 : 0) | (extended ? 1 << 30 : 0);
        return ok(words(attributes), nameField(d.name, 16));
      }
      case 0x4: {
        const l = d.levels;
        if (l.kind === 'range') {
          if (second !== 0) return status(ScmiStatus.INVALID_PARAMETERS);
          return ok(words(3 | (1 << 12), l.min, l.max, l.step));
        }
        if (second >= l.microvolts.length) return status(ScmiStatus.INVALID_PARAMETERS);
        const part = l.microvolts.slice(second, second + pageSize);
        const remaining = l.microvolts.length - second - part.length;
        return ok(words(part.length | (remaining << 16), ...part));
      }
      case 0x5:
        // Bits 31:4 reserved; architectural 1 to 6 reserved.
        if ((second & ~0xf) !== 0 || (second >= 1 && second <= 6)) {
          return status(ScmiStatus.INVALID_PARAMETERS);
        }
        s.config = second;
        return ok();
      case 0x6:
        return ok(words(s.config));
      case 0x7: {
        const level = third | 0;
        if ((second & ~1) !== 0) return status(ScmiStatus.INVALID_PARAMETERS);
        if (!validLevel(d, level)) return status(ScmiStatus.OUT_OF_RANGE);
        if ((second & 1) === 0) {
          s.level = level;
          return ok();
        }
        const link = links.get(agentId);
        if (!v2 || d.async !== true || link?.p2a !== true) return status(ScmiStatus.NOT_SUPPORTED);
        const token = (header >>> 18) & 0x3ff;
        const t = clock.setTimeout(() => {
          timers.delete(t);
          s.level = level;
          const payload = tampered('delayed-response', 0x7, params, ok(words(first, level)));
          if (payload === undefined) return;
          const delayed = buildHeader(0x7, ScmiMessageType.DELAYED_RESPONSE, VOLTAGE, token);
          if (link.post(concat(words(delayed), payload))) delayedResponses++;
        }, asyncDelayMs);
        timers.add(t);
        return ok();
      }
      case 0x8:
        return ok(words(s.level));
      case 0x9:
        if (!v2) return status(ScmiStatus.NOT_SUPPORTED);
        return ok(words(0), nameField(d.name, 64));
      default:
        return status(ScmiStatus.NOT_SUPPORTED);
    }
  };

  return {
    state,
    requests,
    get delayedResponses() {
      return delayedResponses;
    },
    connect(agentId: number, link: PlatformAgentLink): PlatformConnection {
      const connection = platform.connect(agentId, link);
      links.set(connection.agentId, link);
      return connection;
    },
    handle(agentId: number, channelId: number, request: Uint8Array): Uint8Array | undefined {
      if (request.byteLength < 4) return platform.handle(agentId, channelId, request);
      const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
      const header = view.getUint32(0, true);
      const protocolId = (header >>> 10) & 0xff;
      if (protocolId === BASE) {
        return (
          base(agentId, channelId, header, request) ?? platform.handle(agentId, channelId, request)
        );
      }
      if (protocolId !== VOLTAGE || ((header >>> 8) & 0x3) !== 0) {
        return platform.handle(agentId, channelId, request);
      }
      const messageId = header & 0xff;
      const params: number[] = [];
      for (let at = 4; at + 4 <= request.byteLength; at += 4) params.push(view.getUint32(at, true));
      requests.push({ messageId, params });
      const payload =
        request.byteLength % 4 !== 0
          ? status(ScmiStatus.PROTOCOL_ERROR)
          : answer(agentId, header, messageId, params);
      const out = tampered('response', messageId, params, payload);
      if (out === undefined) return undefined;
      const response = concat(words(header), out);
      const link = links.get(agentId);
      if (lastDelay <= 0 || link === undefined) return response;
      const t = clock.setTimeout(() => {
        timers.delete(t);
        link.respond(channelId, response, header);
      }, lastDelay);
      timers.add(t);
      return undefined;
    },
    close() {
      for (const t of timers) t.cancel();
      timers.clear();
    },
  };
}
