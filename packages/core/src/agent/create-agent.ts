import {
  Device,
  RevokedError,
  type Devres,
  type DevresEvent,
  type DevresGroup,
} from '@scmi-ts/devres';
import type { Container, ServiceIdentifier } from 'inversify';
import type {
  ChannelConfig,
  ChannelDirection,
  Transport,
  TransportChannel,
} from '../channel/transport.js';
import type { Clock } from '../clock/clock.js';
import { CLOCK, LOGGER, PROTOCOL_DRIVER, TRANSPORT } from '../di/tokens.js';
import type { ScmiLogger } from '../diagnostics/logger.js';
import { ScmiIoMem, type ScmiMemoryMap } from '../memory/memory-map.js';
import { ContainedLogger, silentLogger } from '../diagnostics/logger.js';
import { trace } from '../diagnostics/trace.js';
import { describeArg, formatValue } from '../errors/format-value.js';
import {
  ScmiConfigError,
  ScmiError,
  ScmiMalformedError,
  ScmiStatusError,
  ScmiTransportError,
} from '../errors/scmi-error.js';
import { NotificationHub, type ScmiNotificationHandler } from '../notification/notification-hub.js';
import { baseProtocolDriver, discoverPlatform } from '../protocol/base/base-protocol.js';
import {
  checkProtocolDrivers,
  chooseProtocolDriver,
  describeDriverVendor,
  describePlatformVendor,
} from '../protocol/vendor-match.js';
import {
  BoundXferOps,
  type ProtocolDriver,
  type CallOptions,
  type ProtocolHandle,
  type ProtocolSubscribeOptions,
  type ProtocolVersionSource,
  type XferOps,
} from '../protocol/protocol-handle.js';
import type { TokenSequence } from '../transfer/token-allocator.js';
import { ChannelRuntime, TransferEngine, idDefect } from '../transfer/transfer-engine.js';
import { SCMI_TOKEN_COUNT } from '../wire/header.js';
import {
  CommonMessageId,
  SCMI_VENDOR_PROTOCOL_BASE,
  ScmiProtocolId,
  scmiProtocolName,
} from '../wire/protocol-id.js';
import {
  channelFor,
  isRecord,
  optionKeys,
  optionsArgError,
  validateAgentConfig,
  type AgentConfig,
  type AgentOptions,
} from './agent-config.js';
import { ScmiAgent } from './scmi-agent.js';

function getAll<T>(container: Container, token: ServiceIdentifier<T>): T[] {
  return container.isBound(token) ? container.getAll<T>(token) : [];
}

/**
 * The one binding of `token` (named `what` in errors), or `undefined` when there is none.
 *
 * @throws ScmiConfigError `container` when it is bound more than once — a module loaded twice, a
 * `bind` where `rebind` was meant: which one to use is not core's to guess (inversify's own error
 * would say "Ambiguous bindings" about a symbol).
 */
function getOne<T>(container: Container, token: ServiceIdentifier<T>, what: string): T | undefined {
  const all = getAll(container, token);
  if (all.length > 1) {
    throw new ScmiConfigError(
      'container',
      `${what} is bound ${all.length} times (coreModule loaded twice, or bind where rebind was meant); bind it once`,
    );
  }
  return all[0];
}

/** A protocol handle whose version is settled after negotiation and which is revoked with its group. */
class ProtocolHandleImpl implements ProtocolHandle {
  public version = 0;
  public versionSource: ProtocolVersionSource = 'best-effort';
  public revoked = false;
  public readonly xfer: BoundXferOps;
  public readonly logger: ScmiLogger;

  public constructor(
    public readonly protocolId: number,
    public readonly agent: string,
    public readonly p2a: boolean,
    engine: TransferEngine,
    runtime: ChannelRuntime,
    maxMsgSize: number,
    private readonly hub: NotificationHub,
    logger: ScmiLogger,
    onMalformed: () => void,
    private readonly memoryMap: ScmiMemoryMap | undefined,
  ) {
    const prefix = `${agent}: protocol ${scmiProtocolName(protocolId)}: `;
    this.logger = {
      debug: (message, fields) => {
        logger.debug(prefix + message, fields);
      },
      info: (message, fields) => {
        logger.info(prefix + message, fields);
      },
      warn: (message, fields) => {
        logger.warn(prefix + message, fields);
      },
      error: (message, fields) => {
        logger.error(prefix + message, fields);
      },
    };
    this.xfer = new BoundXferOps(
      engine,
      runtime,
      protocolId,
      maxMsgSize,
      () => {
        if (this.revoked)
          throw new RevokedError(`${agent} protocol ${scmiProtocolName(protocolId)}`);
      },
      (message, error) => {
        logger.warn(`${agent}: protocol ${scmiProtocolName(protocolId)}: ${message}`, { error });
      },
      onMalformed,
      p2a,
    );
  }

  public registerEvents(events: Parameters<NotificationHub['register']>[1]): void {
    this.hub.register(this.protocolId, events);
  }

  public subscribe(
    eventId: number,
    handler: ScmiNotificationHandler,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    const what = `${this.agent}: ${scmiProtocolName(this.protocolId)}: subscribe`;
    if (this.revoked) return Promise.reject(new RevokedError(what));
    const given: unknown = options === undefined ? {} : options;
    // A signal given for `{ signal }` has no key of its own: taken as options, it would subscribe
    // every source for good (refused by optionsArgError, with a hint).
    const refused = optionsArgError(given, PROTOCOL_SUBSCRIBE_KEYS, what, 'the subscription');
    if (refused !== undefined) return Promise.reject(refused);
    const { source, signal } = given as ProtocolSubscribeOptions;
    return this.hub.subscribe(
      { protocolId: this.protocolId, eventId, ...(source === undefined ? {} : { source }) },
      handler,
      signal === undefined ? undefined : { signal },
    );
  }

  public withCallOptions(options: CallOptions): ProtocolHandle {
    return new ProtocolHandleView(this, this.xfer.withCallOptions(options));
  }

  /** Every mapping {@link ProtocolHandleImpl.ioremap} made: unmapped at the protocol's release. */
  readonly #mappings: ScmiIoMem[] = [];

  public ioremap(address: bigint, size: number): ScmiIoMem | undefined {
    const what = `${this.agent}: ${scmiProtocolName(this.protocolId)}: ioremap`;
    if (typeof address !== 'bigint' || address < 0n) {
      throw new ScmiError(
        'E_ARGUMENT',
        `${what}: address must be a bigint from 0, got ${describeArg(address)}`,
      );
    }
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new ScmiError(
        'E_ARGUMENT',
        `${what}: size must be a whole number from 1, got ${describeArg(size)}`,
      );
    }
    if (this.revoked) throw new RevokedError(what);
    const at = this.memoryMap?.locate(address, size);
    if (at === undefined) return undefined;
    const io = new ScmiIoMem(
      `${this.agent}: ${scmiProtocolName(this.protocolId)}: ${at.region.name} at 0x${address.toString(16)}`,
      address,
      at.region.memory,
      at.offset,
      size,
      () => !this.revoked,
    );
    this.#mappings.push(io);
    return io;
  }

  /** Drops every mapping's view of the memory (the protocol's release). */
  public unmapAll(): void {
    for (const io of this.#mappings.splice(0)) io.unmap();
  }
}

const PROTOCOL_SUBSCRIBE_KEYS: ReadonlySet<string> = optionKeys<ProtocolSubscribeOptions>({
  source: true,
  signal: true,
});

/**
 * {@link ProtocolHandle.withCallOptions}'s view: the handle's own protocol, version and
 * notifications (read through, so a version settled later is seen), its own transfer operations.
 */
class ProtocolHandleView implements ProtocolHandle {
  public constructor(
    private readonly handle: ProtocolHandleImpl,
    public readonly xfer: BoundXferOps,
  ) {}

  public get protocolId(): number {
    return this.handle.protocolId;
  }

  public get agent(): string {
    return this.handle.agent;
  }

  public get version(): number {
    return this.handle.version;
  }

  public get versionSource(): ProtocolVersionSource {
    return this.handle.versionSource;
  }

  public get p2a(): boolean {
    return this.handle.p2a;
  }

  public registerEvents(events: Parameters<NotificationHub['register']>[1]): void {
    this.handle.registerEvents(events);
  }

  public subscribe(
    eventId: number,
    handler: ScmiNotificationHandler,
    options?: ProtocolSubscribeOptions,
  ): Promise<() => Promise<void>> {
    return this.handle.subscribe(eventId, handler, options);
  }

  public withCallOptions(options: CallOptions): ProtocolHandle {
    return new ProtocolHandleView(this.handle, this.xfer.withCallOptions(options));
  }

  public ioremap(address: bigint, size: number): ScmiIoMem | undefined {
    return this.handle.ioremap(address, size);
  }

  public get logger(): ScmiLogger {
    return this.handle.logger;
  }
}

/**
 * Settles the protocol version a driver works with, as Linux's `scmi_protocol_version_initialize`
 * (driver.c) does: the platform's (PROTOCOL_VERSION) when the driver knows it; when the platform
 * is newer, the driver's, negotiated with NEGOTIATE_PROTOCOL_VERSION if the platform implements
 * it. When the platform refuses the query or the negotiation (an error status) or garbles its
 * reply, it is the driver's version all the same, "in best-effort mode", with a warning: Linux
 * goes on there too, backward compatibility not assured. Unlike Linux, a timeout or a transport
 * error is thrown: the timed-out message still holds its channel, so the next command could only
 * fail as busy (see {@link discoverPlatform}); it fails the probe for Base and skips the
 * protocol for any other.
 */
async function initializeVersion(
  xfer: XferOps,
  driverVersion: number,
  warn: (message: string, error?: unknown) => void,
): Promise<{ version: number; source: ProtocolVersionSource }> {
  const bestEffort = { version: driverVersion, source: 'best-effort' } as const;
  let platformVersion: number;
  try {
    platformVersion = await xfer.versionGet();
  } catch (e) {
    if (!isPlatformFailure(e)) throw e;
    warn(`failed to query the protocol version; trying ${hex(driverVersion)}`, e);
    return bestEffort;
  }
  if (platformVersion <= driverVersion) return { version: platformVersion, source: 'platform' };
  let why: string;
  let error: unknown;
  try {
    if (await xfer.messageSupported(CommonMessageId.NEGOTIATE_PROTOCOL_VERSION)) {
      await xfer.transact(CommonMessageId.NEGOTIATE_PROTOCOL_VERSION, (w) => w.u32(driverVersion), {
        txSize: 4,
        rxSize: 0,
      });
      return { version: driverVersion, source: 'negotiated' };
    }
    why = 'NEGOTIATE_PROTOCOL_VERSION is not implemented';
  } catch (e) {
    if (!isPlatformFailure(e)) throw e;
    why = e instanceof Error ? e.message : String(e);
    error = e;
  }
  warn(
    `unsupported higher version ${hex(platformVersion)} not negotiated down (${why}); trying ${hex(driverVersion)}, backward compatibility is not assured`,
    error,
  );
  return bestEffort;
}

/** Whether `e` is the platform's answer refusing a command, or one garbled. */
function isPlatformFailure(e: unknown): boolean {
  return ScmiStatusError.is(e) || ScmiMalformedError.is(e);
}

function hex(version: number): string {
  return `0x${version.toString(16).padStart(5, '0')}`;
}

/**
 * The probe's end of {@link AgentOptions.signal}: when the signal fires, the transfers in flight
 * fail at once (the engine shuts down, as at removal), and the probe's next checkpoint throws the
 * signal's reason. Detached when the probe ends, so that a long-lived signal (one Ctrl-C
 * controller for many probes) keeps no engine alive and cannot shut down an agent that probed.
 */
class ProbeAbort {
  readonly #signal: AbortSignal | undefined;
  #engine: TransferEngine | undefined;
  readonly #listener = (): void => {
    this.#engine?.shutdown();
  };

  public constructor(signal: AbortSignal | undefined) {
    this.#signal = signal;
    signal?.addEventListener('abort', this.#listener, { once: true });
  }

  /** The engine whose transfers fail when the signal fires. */
  public stops(engine: TransferEngine): void {
    this.#engine = engine;
    this.checkpoint();
  }

  /** Throws the signal's reason once it has fired. */
  public checkpoint(): void {
    if (this.#signal?.aborted === true) throw this.#signal.reason;
  }

  /** The error the probe fails with: the signal's reason once it has fired, else `e`. */
  public errorFor(e: unknown): unknown {
    return this.#signal?.aborted === true ? this.#signal.reason : e;
  }

  /** Stops listening: from here on the signal changes nothing. */
  public detach(): void {
    this.#signal?.removeEventListener('abort', this.#listener);
    this.#engine = undefined;
  }
}

interface ProbeContext {
  readonly config: AgentConfig;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger: ContainedLogger;
  readonly drivers: readonly ProtocolDriver[];
  readonly device: Device;
  readonly abort: ProbeAbort;
}

async function setUpChannel(
  ctx: ProbeContext,
  devres: Devres,
  engine: TransferEngine,
  direction: ChannelDirection,
  channel: ChannelConfig,
): Promise<ChannelRuntime> {
  const runtime = new ChannelRuntime(engine, channel.id, direction, channel.polling);
  await devres.acquire(
    `channel ${runtime.label}`,
    async (): Promise<TransportChannel> => {
      const ch = await ctx.transport.setupChannel({
        agent: ctx.config.name,
        direction,
        channel,
        config: ctx.config.transportConfig,
        sink: runtime,
        clock: ctx.clock,
        counters: runtime.counters,
        rxTimeoutMs: ctx.config.rxTimeoutMs,
        ...(ctx.config.signal === undefined ? {} : { signal: ctx.config.signal }),
      });
      runtime.attach(ch);
      return ch;
    },
    (ch) => ch.free(),
    { quiesce: () => runtime.quiesce() },
  );
  return runtime;
}

/**
 * The token sequence of each transport object, kept across probes: a probe that follows a failed
 * one over the same transport goes on with the sequence instead of starting again at token 0,
 * where the failed probe's late replies would match its own first commands (Linux keeps one
 * sequence for the module, `transfer_last_id`).
 */
const tokenSequences = new WeakMap<Transport, TokenSequence>();

function tokenSequenceOf(transport: Transport): TokenSequence {
  let sequence = tokenSequences.get(transport);
  if (sequence === undefined) {
    sequence = { last: SCMI_TOKEN_COUNT - 1 };
    tokenSequences.set(transport, sequence);
  }
  return sequence;
}

async function probeAgent(ctx: ProbeContext, devres: Devres): Promise<ScmiAgent> {
  const { config, transport, clock } = ctx;
  const d = transport.descriptor;
  // The removal's disable of an event waits for an enable or disable of it under way, then sends
  // its own command: each takes one RX timeout at most. Three, without any of the removal's
  // commands settling nor the platform answering anything on the agent's channels, bound a
  // descriptor whose setNotifyEnabled never settles.
  const a2p = new Map<number, ChannelRuntime>();
  const hub = new NotificationHub(
    config.name,
    clock,
    config.notificationQueueDepth,
    d.maxMsgSize,
    3 * config.rxTimeoutMs,
    () => {
      let answered = 0;
      for (const runtime of a2p.values()) answered += runtime.counters.completed;
      return answered;
    },
  );
  devres.add({
    name: 'notifications',
    value: hub,
    quiesce: (h) => h.quiesce(),
    release: (h) => h.release(),
  });
  const engine = new TransferEngine({
    agent: config.name,
    clock,
    poolSize: config.maxMsg,
    maxMsgSize: d.maxMsgSize,
    rxTimeoutMs: config.rxTimeoutMs,
    asyncTimeoutMs: config.asyncTimeoutMs,
    notifications: hub,
    tokens: tokenSequenceOf(transport),
  });
  devres.add({
    name: 'transfers',
    value: engine,
    quiesce: (e) => e.shutdown(),
    release: () => undefined,
  });
  const { abort } = ctx;
  abort.stops(engine);

  await transport.setupDevice?.({
    agent: config.name,
    config: config.transportConfig,
    devres,
    clock,
    logger: ctx.logger,
    ...(config.signal === undefined ? {} : { signal: config.signal }),
  });
  abort.checkpoint();

  const channels: ChannelRuntime[] = [];
  for (const c of config.a2p) {
    const runtime = await setUpChannel(ctx, devres, engine, 'a2p', c);
    a2p.set(c.id, runtime);
    channels.push(runtime);
    abort.checkpoint();
  }
  let p2a = false;
  for (const c of config.p2a) {
    try {
      channels.push(await setUpChannel(ctx, devres, engine, 'p2a', c));
      p2a = true;
    } catch (e) {
      // A transport without P2A: core skips notifications and never requests asynchronous operations.
      if (!(ScmiTransportError.is(e) && e.code === 'E_NOT_SUPPORTED')) throw e;
      ctx.logger.info(`${config.name}: P2A channel ${c.id} not supported by ${d.name}`);
    }
    abort.checkpoint();
  }
  hub.setP2a(p2a);
  // Registered after the channels, so that it quiesces first: transfers in flight fail promptly
  // with ScmiShutdownError before any channel stops delivering.
  devres.add({
    name: 'agent gate',
    value: engine,
    quiesce: (e) => e.shutdown(),
    release: () => undefined,
  });

  const handles = new Map<number, ProtocolHandleImpl>();
  // Malformed replies by protocol id: kept by the agent, not the handles, so that a protocol whose
  // group is released (its init failed, or the agent removed) keeps its count in diagnostics.
  const malformed = new Map<number, number>();
  const xferOps = (protocolId: number): XferOps => {
    const existing = handles.get(protocolId);
    if (existing !== undefined) return existing.xfer;
    // Checked before a handle is made and kept: a protocol id that cannot be sent gets none.
    if (!Number.isInteger(protocolId) || protocolId < 0 || protocolId > 0xff) {
      throw new ScmiMalformedError(
        `${config.name}: ${idDefect({ protocol: protocolId })}`,
        'E_FIELD_RANGE',
      );
    }
    const runtime = a2p.get(channelFor(config, protocolId).id) as ChannelRuntime;
    const handle = makeHandle(protocolId, runtime);
    return handle.xfer;
  };
  const makeHandle = (protocolId: number, runtime: ChannelRuntime): ProtocolHandleImpl => {
    const handle = new ProtocolHandleImpl(
      protocolId,
      config.name,
      p2a,
      engine,
      runtime,
      d.maxMsgSize,
      hub,
      ctx.logger,
      () => {
        malformed.set(protocolId, (malformed.get(protocolId) ?? 0) + 1);
      },
      config.memoryMap,
    );
    handles.set(protocolId, handle);
    return handle;
  };

  const instantiate = async <T>(
    driver: ProtocolDriver<T>,
  ): Promise<{ api: T; group: DevresGroup }> => {
    let group!: DevresGroup;
    const setUp = async (g: DevresGroup): Promise<T> => {
      group = g;
      const runtime = a2p.get(channelFor(config, driver.protocolId).id) as ChannelRuntime;
      engine.nameMessages(driver.protocolId, driver.messageNames);
      engine.nameProtocol(driver.protocolId, driver.name);
      const ph = makeHandle(driver.protocolId, runtime);
      g.add({
        name: 'protocol handle',
        value: ph,
        quiesce: (h) => {
          h.revoked = true;
        },
        release: (h) => {
          h.unmapAll();
          hub.unregister(driver.protocolId);
          handles.delete(driver.protocolId);
        },
      });
      const settled = await initializeVersion(ph.xfer, driver.version, (message, error) => {
        ctx.logger.warn(
          `${config.name}: protocol ${scmiProtocolName(driver.protocolId)}: ${message}`,
          {
            error,
          },
        );
      });
      ph.version = settled.version;
      ph.versionSource = settled.source;
      return driver.init(ph, g);
    };
    // The group's own teardown, like the probe's, gets the abort's reason once the signal fired.
    const api = await devres.group(`protocol ${scmiProtocolName(driver.protocolId)}`, (g) =>
      setUp(g).catch((e: unknown) => {
        throw abort.errorFor(e);
      }),
    );
    return { api, group };
  };

  const base = (await instantiate(baseProtocolDriver)).api;
  const info = await discoverPlatform(base, (message, error) => {
    ctx.logger.warn(`${config.name}: ${message}`, { error });
  });
  abort.checkpoint();

  const protocols = new Map<number, { api: unknown; group: DevresGroup }>();
  const protocolErrors = new Map<number, unknown>();
  // The bound drivers of each protocol the platform lists, in the order they were bound.
  const candidates = new Map<number, ProtocolDriver[]>();
  for (const driver of ctx.drivers) {
    if (driver.protocolId === ScmiProtocolId.BASE || !info.protocols.includes(driver.protocolId))
      continue;
    const list = candidates.get(driver.protocolId);
    if (list === undefined) candidates.set(driver.protocolId, [driver]);
    else list.push(driver);
  }
  const chosenDrivers = new Map<number, ProtocolDriver>();
  const unmatchedDrivers = new Map<number, readonly ProtocolDriver[]>();
  for (const [protocolId, bound] of candidates) {
    const driver = chooseProtocolDriver(bound, info);
    if (driver === undefined) {
      unmatchedDrivers.set(protocolId, bound);
      // A warning: drivers were bound for it, so someone meant it to be served.
      ctx.logger.warn(
        `${config.name}: protocol ${scmiProtocolName(protocolId)}: no bound driver matches the platform (${describePlatformVendor(info)}); left out`,
        { drivers: bound.map((d) => `${d.name} (${describeDriverVendor(d)})`) },
      );
      continue;
    }
    chosenDrivers.set(protocolId, driver);
    if (protocolId >= SCMI_VENDOR_PROTOCOL_BASE) {
      // As Linux's "Loaded SCMI Vendor Protocol" line: which of the vendor drivers serves it.
      ctx.logger.info(
        `${config.name}: vendor protocol ${scmiProtocolName(protocolId)}: driver ${JSON.stringify(driver.name)} (${describeDriverVendor(driver)})`,
      );
    }
    try {
      protocols.set(protocolId, await instantiate(driver));
    } catch (e) {
      // A protocol whose init the abort cut short did not fail: the probe stops here.
      abort.checkpoint();
      protocolErrors.set(protocolId, e);
      ctx.logger.warn(
        `${config.name}: protocol ${scmiProtocolName(protocolId)} failed to initialize`,
        { error: e },
      );
    }
  }

  const agent = new ScmiAgent({
    device: ctx.device,
    config,
    info,
    base,
    engine,
    hub,
    channels,
    protocols,
    protocolErrors,
    chosenDrivers,
    unmatchedDrivers,
    xferOps,
    logger: ctx.logger,
    malformedReplies: () => {
      const counts: Record<string, number> = {};
      for (const [protocolId, n] of malformed) counts[scmiProtocolName(protocolId)] = n;
      return counts;
    },
  });
  devres.add({
    name: 'agent',
    value: agent,
    quiesce: (a) => {
      // Every call on the agent, and on any protocol handle it gave out, throws RevokedError;
      // and no notification handler is called on it any more.
      a.revoke();
      hub.stopDelivery();
      for (const handle of handles.values()) handle.revoked = true;
    },
    release: () => undefined,
  });
  // The last checkpoint, and no await between it and the detach: a signal that fires once the
  // agent is returned cannot reach its engine.
  abort.checkpoint();
  abort.detach();
  return agent;
}

/**
 * Whether `value` looks like an inversify container: what createAgent calls on it (`isBound`,
 * `getAll`) is there.
 */
function isContainer(value: unknown): value is Container {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Partial<Record<'isBound' | 'getAll', unknown>>;
  return typeof c.isBound === 'function' && typeof c.getAll === 'function';
}

/**
 * Creates and probes an SCMI agent: chooses the transport by name among those loaded in the
 * container, validates the configuration, sets up every channel (each registered in the device's
 * devres with its quiesce and free steps), runs Base discovery and instantiates the protocol
 * drivers bound to `PROTOCOL_DRIVER`, each in its own devres group.
 *
 * If anything fails — a timeout during Base discovery, a transport error, an error status from
 * Base PROTOCOL_VERSION or PROTOCOL_ATTRIBUTES — everything set up so far is torn down (quiesce
 * every channel, then release in reverse) before the original error is rethrown; a late reply
 * can then only be dropped and counted. An error status or a malformed reply in a later discovery
 * step (vendor, sub-vendor, implementation version, protocol list, an agent) does not fail the
 * probe, as in Linux's `scmi_base_protocol_init`: it is logged as a warning and recorded in
 * `agent.info.discoveryFailures`. An `options.signal` that fires during the probe fails it the
 * same way: transfers in flight fail at once, and the probe rejects with the signal's reason (see
 * {@link AgentOptions.signal} for what it lets finish).
 *
 * @throws ScmiConfigError for an unknown transport (the message lists the loaded ones), one loaded
 * twice under its name, or invalid options (field `options` when they are not an object at all);
 * field `container` when it is not an inversify container at all (a JavaScript caller's
 * `undefined`), has no `CLOCK` (coreModule not loaded), binds `CLOCK` or
 * `LOGGER` more than once (coreModule loaded twice, `bind` where `rebind` was meant), binds two
 * `PROTOCOL_DRIVER`s for one protocol (for one vendor identification of a vendor protocol) or a
 * driver with invalid vendor fields (see {@link ProtocolDriver.vendor}) — nothing is set up then.
 * @throws the probe's error (ScmiTimeoutError, ScmiTransportError, ScmiStatusError…); the
 * `signal`'s reason once it has fired.
 * @example
 * ```ts
 * const container = new Container();
 * container.load(coreModule, mailboxTransportModule);
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig: { wire } });
 * ```
 */
export async function createAgent(container: Container, options: AgentOptions): Promise<ScmiAgent> {
  // JavaScript callers get past the type: name `options` itself, not `transport` inside it.
  if (!isRecord(options)) throw new ScmiConfigError('options', 'expected an object');
  const given: unknown = container;
  if (!isContainer(given)) {
    throw new ScmiConfigError(
      'container',
      `expected an inversify Container (with coreModule and a transport module loaded), got ${describeArg(given)}`,
    );
  }
  const transports = getAll(container, TRANSPORT);
  const wanted = options.transport;
  const named = transports.filter((t) => t.descriptor.name === wanted);
  const transport = named[0];
  if (transport === undefined) {
    const loaded = transports.map((t) => t.descriptor.name).join(', ');
    throw new ScmiConfigError(
      'transport',
      `unknown transport ${formatValue(wanted)}; loaded: ${loaded === '' ? 'none' : loaded}`,
    );
  }
  if (named.length > 1) {
    // Not the first one found: two modules binding one name is a mistake to show, not to guess.
    throw new ScmiConfigError(
      'transport',
      `${named.length} transports named ${formatValue(wanted)} are loaded (a transport module loaded twice?); load each once`,
    );
  }
  const config = validateAgentConfig(options, transport);
  const clock = getOne(container, CLOCK, 'CLOCK');
  if (clock === undefined) {
    throw new ScmiConfigError('container', 'no CLOCK is bound: load coreModule (or bind CLOCK)');
  }
  // Contained: a logger that throws fails nothing core logs from (counted, loggerErrors).
  const logger = new ContainedLogger(getOne(container, LOGGER, 'LOGGER') ?? silentLogger);
  const drivers = getAll(container, PROTOCOL_DRIVER);
  // One driver per protocol (per vendor identification for a vendor protocol): two that could be
  // chosen for one platform are a mistake to show, not to guess between.
  checkProtocolDrivers(drivers);
  const log = (event: DevresEvent): void => {
    config.log?.(event);
    if ((event.type === 'quiesce' || event.type === 'release') && trace.teardown.hasSubscribers) {
      trace.teardown.publish({
        agent: config.name,
        step: event.type,
        resource: event.resource,
        reason: event.reason,
      });
    }
  };
  // Already aborted: rejected as an invalid option would be, before anything is set up.
  if (config.signal?.aborted === true) throw config.signal.reason;
  const device = new Device(config.name, { log, debug: config.debug });
  return device.probe(async (devres) => {
    const abort = new ProbeAbort(config.signal);
    try {
      return await probeAgent({ config, transport, clock, logger, drivers, device, abort }, devres);
    } catch (e) {
      // Thrown here, the reason is also the error of the teardown's probe-failed reason.
      throw abort.errorFor(e);
    } finally {
      abort.detach();
    }
  });
}
