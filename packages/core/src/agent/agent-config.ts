import type { DevresEventSink } from '@scmi-ts/devres';
import type { ChannelConfig, Transport } from '../channel/transport.js';
import { describeArg, formatValue } from '../errors/format-value.js';
import { ScmiConfigError, ScmiError } from '../errors/scmi-error.js';
import { isSignalGivenAsOptions, signalHint } from '../protocol/abort-watch.js';
import { ScmiMemoryMap } from '../memory/memory-map.js';
import { ScmiProtocolId } from '../wire/protocol-id.js';

/** One channel in {@link AgentOptions}. */
export interface AgentChannelOptions {
  /** Channel id, unique per direction (the transport maps it to its wire). */
  readonly id: number;
  /** Protocols with this dedicated A2P channel; Base's channel carries the others. */
  readonly protocols?: readonly number[];
  /** Complete by polling (default: false, or true on a polling-only transport). */
  readonly polling?: boolean;
  /** The transport-specific section for this channel (validated by the transport). */
  readonly transport?: unknown;
}

/**
 * An agent's configuration — the equivalent of the device tree node: which transport, its
 * channels, which protocol uses which channel, polling or interrupt, timeouts, and a
 * transport-specific section each transport validates.
 *
 * @example
 * ```ts
 * const options: AgentOptions = {
 *   transport: 'mailbox',
 *   a2p: [{ id: 0 }, { id: 1, protocols: [0x13], polling: true }],
 *   p2a: [{ id: 0 }],
 *   rxTimeoutMs: 30,
 *   transportConfig: { wire }, // from createSameThreadMailboxWire(clock, { a2p: [0, 1], p2a: [0] })
 * };
 * ```
 */
export interface AgentOptions {
  /** The transport's name (as its descriptor says). */
  readonly transport: string;
  /** The device name (default `scmi0`). */
  readonly name?: string;
  /** A2P channels (default: one, id 0, carrying Base and every protocol). */
  readonly a2p?: readonly AgentChannelOptions[];
  /** P2A channels, or `false` for none (default: one, id 0, when the transport supports P2A). */
  readonly p2a?: readonly AgentChannelOptions[] | false;
  /** Response timeout, ms (default: the transport's). */
  readonly rxTimeoutMs?: number;
  /** Delayed-response timeout, ms (default 2000, as Linux). */
  readonly asyncTimeoutMs?: number;
  /**
   * Transfer pool size (default: the transport's `maxMsgFor(transportConfig)`, else its
   * descriptor's `maxMsg`; at most the descriptor's `maxMsg`).
   */
  readonly maxMsg?: number;
  /** Notifications queued per protocol before new ones are dropped (default 32). */
  readonly notificationQueueDepth?: number;
  /** The transport's agent-wide section (validated by the transport). */
  readonly transportConfig?: unknown;
  /** Receives every devres event of the agent (for teardown logs). */
  readonly log?: DevresEventSink;
  /** Record creation stacks of the agent's resources. */
  readonly debug?: boolean;
  /**
   * Aborts the probe. Once it fires, the transfers in flight fail at once (`ScmiShutdownError`), a
   * send still waiting for the channel included, the probe stops at its next step and tears down
   * what it set up (quiesce, then release in reverse), and `createAgent` rejects with
   * `signal.reason`, which every teardown step also gets as its `probe-failed` reason's error. A
   * transport's device and channel setups under way (a handshake, a session being opened) get the
   * signal too (`DeviceSetup.signal`, `ChannelSetup.signal`): virtio's handshake stops waiting for
   * the device, OP-TEE gives up a session open, shared memory registration or PTA query still
   * waiting for a secure-world thread; a transport that ignores it has its step let finish,
   * bounded by its own timeouts. The teardown takes what the transport's quiesce and release take
   * (OP-TEE's quiesce waits for the invocation in flight, and closing a session or unregistering
   * memory needs a thread; virtio still resets the device). A signal already aborted rejects
   * before anything is set up; one that fires after the probe resolved changes nothing (remove the
   * agent then). For a test tool's Ctrl-C, or a deadline on a platform that may never answer
   * (virtio's 60 s timeout): `AbortSignal.timeout(5000)`.
   * Release failures are attached to the error a probe rejects with (`getReleaseFailure`): probes
   * that share one signal share its reason, which keeps those of the last probe torn down; every
   * probe's `log` still gets its own `release-failed` events.
   */
  readonly signal?: AbortSignal;
  /**
   * The physical memory the platform shares outside the transport (fast channels): what protocol
   * drivers can map with `ProtocolHandle.ioremap`. Default: none (every `ioremap` returns
   * undefined, and the Performance client sends every command as a message, as Linux does when
   * mapping a fast channel fails).
   */
  readonly memoryMap?: ScmiMemoryMap;
}

/** A validated {@link AgentOptions}, defaults applied. */
export interface AgentConfig {
  /** The device name. */
  readonly name: string;
  /** The transport's name. */
  readonly transport: string;
  /** A2P channels; the first is Base's unless another lists Base. */
  readonly a2p: readonly ChannelConfig[];
  /** P2A channels (possibly none). */
  readonly p2a: readonly ChannelConfig[];
  /** Response timeout, ms. */
  readonly rxTimeoutMs: number;
  /** Delayed-response timeout, ms. */
  readonly asyncTimeoutMs: number;
  /** Transfer pool size. */
  readonly maxMsg: number;
  /** Notification queue depth per protocol. */
  readonly notificationQueueDepth: number;
  /** The transport's section, as its validator returned it. */
  readonly transportConfig: unknown;
  /** Devres event sink. */
  readonly log: DevresEventSink | undefined;
  /** Debug mode. */
  readonly debug: boolean;
  /** Aborts the probe (see {@link AgentOptions.signal}). */
  readonly signal: AbortSignal | undefined;
  /** Shared memory outside the transport (see {@link AgentOptions.memoryMap}). */
  readonly memoryMap: ScmiMemoryMap | undefined;
}

/**
 * Whether `v` is an options record: an object, not null, not an array (what core's and the
 * transports' option checks take before looking at the fields; `refuseUnknownKeys` then names
 * a misspelt one). A class instance passes: its fields are checked like any record's.
 *
 * @example
 * ```ts
 * if (!isRecord(config)) throw new ScmiConfigError('transportConfig', 'expected an object');
 * ```
 */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ScmiConfigError(
      field,
      `expected an integer in ${min}..${max}, got ${formatValue(v)}`,
    );
  }
  return v;
}

const AGENT_KEYS: ReadonlySet<string> = new Set([
  'transport',
  'name',
  'a2p',
  'p2a',
  'rxTimeoutMs',
  'asyncTimeoutMs',
  'maxMsg',
  'notificationQueueDepth',
  'transportConfig',
  'log',
  'debug',
  'signal',
  'memoryMap',
]);
const CHANNEL_KEYS: ReadonlySet<string> = new Set(['id', 'protocols', 'polling', 'transport']);

/**
 * The option names of `T` as a set for {@link refuseUnknownKeys}, from a record the compiler checks
 * against `T`: every key of `T` must be there and nothing else may be, so an option added to the
 * interface without being added here (or the reverse) does not compile.
 *
 * @example
 * ```ts
 * const CONFIG_KEYS = optionKeys<MyTransportConfig>({ wire: true, queueSize: true });
 * refuseUnknownKeys(section, CONFIG_KEYS, 'transportConfig');
 * ```
 */
export function optionKeys<T>(keys: Record<keyof T, true>): ReadonlySet<string> {
  return new Set(Object.keys(keys));
}

/**
 * Refuses a key `record` does not know, naming it under `field` (the key alone when `field` is
 * empty): a misspelt option (`rxTimeoutMS`, a transport's `cmdqsize`) would otherwise leave the
 * default in force unnoticed. For transports too, whose `validateConfig` and
 * `validateChannelConfig` refuse misspelt keys as core refuses its own.
 *
 * @throws ScmiConfigError `<field>.<key>` for the first unknown key.
 * @example
 * ```ts
 * refuseUnknownKeys({ cmdqsize: 16 }, new Set(['cmdqSize']), 'transportConfig');
 * // throws ScmiConfigError: invalid configuration: transportConfig.cmdqsize: unknown option
 * // (expected one of cmdqSize)
 * ```
 */
export function refuseUnknownKeys(record: object, keys: ReadonlySet<string>, field: string): void {
  for (const key of Object.keys(record)) {
    if (!keys.has(key)) {
      throw new ScmiConfigError(
        field === '' ? key : `${field}.${key}`,
        `unknown option (expected one of ${[...keys].join(', ')})`,
      );
    }
  }
}

/**
 * The error for the first key of a caller's argument object `record` that `keys` does not have,
 * or undefined: {@link refuseUnknownKeys} for a call's arguments rather than a configuration —
 * ScmiError `E_ARGUMENT` (nothing sent), prefixed with `what` (the caller and the call), naming
 * the key, listing the expected ones. The caller throws or rejects it as its call does.
 *
 * @example
 * ```ts
 * const e = unknownKeyError({ timeoutMS: 5 }, CALL_KEYS, 'scmi0: withCallOptions');
 * // ScmiError E_ARGUMENT: scmi0: withCallOptions: unknown option "timeoutMS" (expected one of
 * // timeoutMs, signal)
 * if (e !== undefined) throw e;
 * ```
 */
export function unknownKeyError(
  record: object,
  keys: ReadonlySet<string>,
  what: string,
  noun = 'option',
): ScmiError | undefined {
  for (const key of Object.keys(record)) {
    if (!keys.has(key)) {
      return new ScmiError(
        'E_ARGUMENT',
        `${what}: unknown ${noun} ${JSON.stringify(key)} (expected one of ${[...keys].join(', ')})`,
      );
    }
  }
  return undefined;
}

/**
 * The error for a call's optional options argument that is not an options object — a JavaScript
 * caller's `null`, an array, a number, or an `AbortSignal` / `AbortController` given for
 * `{ signal }` (no key of its own: it would pass as options holding none) — or for its first
 * unknown key; undefined when `options` is fine. `whom` names what a signal would have been for,
 * in the hint.
 *
 * @internal
 */
export function optionsArgError(
  options: unknown,
  keys: ReadonlySet<string>,
  what: string,
  whom: string,
): ScmiError | undefined {
  if (
    typeof options !== 'object' ||
    options === null ||
    Array.isArray(options) ||
    isSignalGivenAsOptions(options)
  ) {
    return new ScmiError(
      'E_ARGUMENT',
      `${what}: options must be an object or left out, got ${describeArg(options)}${signalHint(options, whom)}`,
    );
  }
  return unknownKeyError(options, keys, what);
}

function positive(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new ScmiConfigError(field, `expected a positive number, got ${formatValue(v)}`);
  }
  return v;
}

/**
 * The pool size the transport asks for with this configuration (`maxMsgFor`), checked: a
 * third-party transport's NaN or fraction would otherwise surface as a raw RangeError in the probe,
 * and a zero or negative one be clamped without a word.
 *
 * @throws ScmiConfigError `maxMsg` naming the transport, for anything but an integer ≥ 1.
 */
function transportMaxMsg(transport: Transport, config: unknown): number | undefined {
  const n = transport.maxMsgFor?.(config);
  if (n === undefined || (Number.isInteger(n) && n >= 1)) return n;
  throw new ScmiConfigError(
    'maxMsg',
    `transport ${transport.descriptor.name}: maxMsgFor gave ${formatValue(n)}, not an integer ≥ 1; give maxMsg explicitly`,
  );
}

function channels(
  raw: unknown,
  field: string,
  transport: Transport,
  direction: 'a2p' | 'p2a',
): ChannelConfig[] {
  if (!Array.isArray(raw)) throw new ScmiConfigError(field, 'expected an array of channels');
  const seen = new Set<number>();
  // Array.from, not map: a hole (`[{ id: 0 }, , { id: 1 }]`) is visited as undefined and refused,
  // where map would skip it and leave it for the probe to trip over.
  const list: readonly unknown[] = raw;
  return Array.from(list, (c: unknown, i) => {
    const f = `${field}[${i}]`;
    if (!isRecord(c)) throw new ScmiConfigError(f, 'expected an object');
    refuseUnknownKeys(c, CHANNEL_KEYS, f);
    const id = int(c.id, `${f}.id`, 0, 0xffff);
    if (seen.has(id)) throw new ScmiConfigError(`${f}.id`, `channel id ${id} is used twice`);
    seen.add(id);
    let protocols: number[] = [];
    if (c.protocols !== undefined) {
      if (direction === 'p2a')
        throw new ScmiConfigError(`${f}.protocols`, 'P2A channels carry every protocol');
      if (!Array.isArray(c.protocols))
        throw new ScmiConfigError(`${f}.protocols`, 'expected an array of protocol ids');
      const ids: readonly unknown[] = c.protocols;
      protocols = Array.from(ids, (p: unknown, j) => int(p, `${f}.protocols[${j}]`, 0x10, 0xff));
    }
    const completion = transport.descriptor.completion;
    let polling: boolean;
    if (c.polling === undefined) polling = completion === 'polling';
    else if (typeof c.polling !== 'boolean')
      throw new ScmiConfigError(`${f}.polling`, 'expected a boolean');
    else polling = c.polling;
    if (polling && completion === 'interrupt') {
      throw new ScmiConfigError(
        `${f}.polling`,
        `transport ${transport.descriptor.name} does not support polling`,
      );
    }
    if (!polling && completion === 'polling') {
      throw new ScmiConfigError(
        `${f}.polling`,
        `transport ${transport.descriptor.name} completes by polling only`,
      );
    }
    const section = transport.validateChannelConfig?.(c.transport, `${f}.transport`) ?? c.transport;
    return { id, protocols, polling, transport: section };
  });
}

/**
 * Validates agent options against the chosen transport and applies defaults.
 *
 * @throws ScmiConfigError naming the first invalid field (e.g. `a2p[1].protocols[0]`), or the
 * first unknown option (e.g. `rxTimeoutMS`, `a2p[0].poling`): a misspelt option is refused, not
 * left at its default unnoticed.
 * @example
 * ```ts
 * const config = validateAgentConfig({ transport: 'mailbox', transportConfig: { wire } }, mailboxTransport);
 * config.a2p[0]?.id; // 0
 * ```
 */
export function validateAgentConfig(options: unknown, transport: Transport): AgentConfig {
  if (!isRecord(options)) throw new ScmiConfigError('options', 'expected an object');
  refuseUnknownKeys(options, AGENT_KEYS, '');
  const d = transport.descriptor;
  const name = options.name ?? 'scmi0';
  if (typeof name !== 'string' || name === '')
    throw new ScmiConfigError('name', 'expected a non-empty string');
  const a2p = channels(options.a2p ?? [{ id: 0 }], 'a2p', transport, 'a2p');
  if (a2p.length === 0)
    throw new ScmiConfigError('a2p', 'at least one A2P channel is needed (Base)');
  const owner = new Map<number, number>();
  a2p.forEach((c, i) =>
    c.protocols.forEach((p, j) => {
      if (owner.has(p)) {
        throw new ScmiConfigError(
          `a2p[${i}].protocols[${j}]`,
          `protocol 0x${p.toString(16)} already has channel ${owner.get(p)}`,
        );
      }
      owner.set(p, c.id);
    }),
  );
  let p2a: ChannelConfig[];
  if (options.p2a === false) p2a = [];
  else if (options.p2a === undefined)
    p2a = d.p2a ? channels([{ id: 0 }], 'p2a', transport, 'p2a') : [];
  else p2a = channels(options.p2a, 'p2a', transport, 'p2a');
  if (p2a.length > 0 && !d.p2a) {
    throw new ScmiConfigError(
      'p2a',
      `transport ${d.name} has no P2A channel (notifications and delayed responses)`,
    );
  }
  const transportConfig =
    transport.validateConfig?.(options.transportConfig, 'transportConfig') ??
    options.transportConfig;
  transport.validateChannels?.({ a2p, p2a }, transportConfig);
  // The pool is one per agent (Linux keeps one per instance), never larger than the token space.
  // Its default follows the transport's configuration when the transport says how (Linux
  // `get_max_msg`); an explicit `maxMsg` may go up to the descriptor's (the transport then makes
  // the extra transfers wait in `send`).
  const upper = Math.min(d.maxMsg, 1023);
  const maxMsg =
    options.maxMsg === undefined
      ? Math.min(transportMaxMsg(transport, transportConfig) ?? upper, upper)
      : int(options.maxMsg, 'maxMsg', 1, upper);
  const log = options.log;
  if (log !== undefined && typeof log !== 'function')
    throw new ScmiConfigError('log', 'expected a function');
  if (options.debug !== undefined && typeof options.debug !== 'boolean')
    throw new ScmiConfigError('debug', 'expected a boolean');
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new ScmiConfigError('signal', 'expected an AbortSignal');
  const memoryMap = options.memoryMap;
  if (memoryMap !== undefined && !(memoryMap instanceof ScmiMemoryMap)) {
    throw new ScmiConfigError(
      'memoryMap',
      `expected an ScmiMemoryMap (new ScmiMemoryMap([{ base, memory }])), got ${describeArg(memoryMap)}`,
    );
  }
  return {
    name,
    transport: d.name,
    a2p,
    p2a,
    rxTimeoutMs:
      options.rxTimeoutMs === undefined
        ? d.rxTimeoutMs
        : positive(options.rxTimeoutMs, 'rxTimeoutMs'),
    asyncTimeoutMs:
      options.asyncTimeoutMs === undefined
        ? 2000
        : positive(options.asyncTimeoutMs, 'asyncTimeoutMs'),
    maxMsg,
    notificationQueueDepth:
      options.notificationQueueDepth === undefined
        ? 32
        : int(options.notificationQueueDepth, 'notificationQueueDepth', 1, 4096),
    transportConfig,
    log: log as DevresEventSink | undefined,
    debug: options.debug === true,
    signal,
    memoryMap,
  };
}

/**
 * The A2P channel that carries `protocolId`: its dedicated one, else Base's (the one listing Base, else the first).
 *
 * Never throws, and any id gets a channel (an unknown protocol gets Base's); `config` must come
 * from {@link validateAgentConfig}, which guarantees an A2P channel.
 *
 * @example
 * ```ts
 * // config from validateAgentConfig, with a2p: [{ id: 0 }, { id: 1, protocols: [0x13] }]
 * channelFor(config, ScmiProtocolId.PERF).id; // 1: its dedicated channel
 * channelFor(config, ScmiProtocolId.CLOCK).id; // 0: Base's channel
 * ```
 */
export function channelFor(config: AgentConfig, protocolId: number): ChannelConfig {
  return (
    config.a2p.find((c) => c.protocols.includes(protocolId)) ??
    config.a2p.find((c) => c.protocols.includes(ScmiProtocolId.BASE)) ??
    (config.a2p[0] as ChannelConfig)
  );
}
