import { Container } from 'inversify';
import {
  BaseMessageId,
  PayloadReader,
  ScmiError,
  ScmiMalformedError,
  ScmiStatusError,
  coreModule,
  createAgent,
  decodeAsciiz,
  resolveWorkerEntry,
  scmiProtocolName,
  scmiStatusName,
  startWorker,
  type AgentOptions,
  type ScmiAgent,
  type WorkerHost,
} from '@scmi-ts/core';
import { formatDevresEvent, type DevresEvent } from '@scmi-ts/devres';
import type { FaultRule, PlatformAgentCounters, PlatformConfig } from '@scmi-ts/platform';
import {
  CLOCK_RATE_CHANGED,
  PROTOCOL_DRIVERS,
  SystemPowerState,
  type ClockInfo,
  clockProtocolDriver,
  decodeClockRateChanged,
  parsePowerState,
  performanceProtocolDriver,
  type PerformanceProtocol,
  powerProtocolDriver,
  protocolsModule,
  resetProtocolDriver,
  sensorProtocolDriver,
  sensorValueText,
  systemPowerProtocolDriver,
  VOLTAGE_CONFIG_OFF,
  VOLTAGE_CONFIG_ON,
  voltageProtocolDriver,
} from '@scmi-ts/protocols';
import type { Print } from './devres-demo.js';
import { formatHex, formatVersion, printRow, sleep } from './format.js';
import type { DemoWire, TransportDemoSetup } from './transport-demo-setup.js';

/** Options of {@link runTransportDemo}. */
export interface TransportDemoOptions {
  /** The agent's RX timeout in the seed-scenario replay, ms (default 30, as Linux's mailbox). */
  readonly rxTimeoutMs?: number;
  /**
   * The emulated platform's configuration, checked already (`loadPlatformConfig`); default the
   * platform's default configuration. The parts show what it has: a protocol the agent cannot use
   * is listed as not available, and a command the platform refuses (a domain it denies the agent,
   * a disabled sensor) shows the status on its row instead of failing the part.
   */
  readonly platformConfig?: PlatformConfig;
}

const CLOCK = 0x14;
const CLOCK_ATTRIBUTES = 0x3;
const PERF = 0x13;
const PERF_LEVEL_GET = 0x8;
const MHZ = 1_000_000;

/**
 * A fresh container with core and the wire's transport, and, for the probe of steps 1–2, every
 * protocol client of `@scmi-ts/protocols` (the seed scenario's probe fails in Base, before them).
 */
function containerFor(wire: DemoWire, clients: boolean): Container {
  const container = new Container();
  container.load(coreModule, wire.module);
  if (clients) container.load(protocolsModule);
  return container;
}

async function printDiscovery(print: Print, agent: ScmiAgent, startedAt: number): Promise<void> {
  const info = agent.info;
  print(`  probed ${agent.name} in ${(performance.now() - startedAt).toFixed(1)} ms`);
  printRow(print, 'vendor', info.vendor);
  printRow(print, 'sub-vendor', info.subVendor ?? '(none)');
  printRow(print, 'implementation version', formatHex(info.implementationVersion ?? 0, 8));
  printRow(print, 'Base protocol version', formatVersion(info.version));
  printRow(
    print,
    'agents',
    `${info.numAgents}, the platform not counted (DISCOVER_AGENT: ${info.agents.map((a) => `${a.id} ${a.name}`).join(', ')})`,
  );
  for (const f of info.discoveryFailures) {
    printRow(print, 'discovery step failed', `${f.step}: ${f.error.message} (probe went on)`);
  }
  print('  protocols:');
  for (const id of info.protocols) {
    const v = new PayloadReader(await agent.transact(id, 0x0)).u32();
    print(`    ${formatHex(id)} ${scmiProtocolName(id).padEnd(14)} v${formatVersion(v)}`);
  }
}

async function printBaseCommands(
  print: Print,
  agent: ScmiAgent,
  setup: TransportDemoSetup,
): Promise<void> {
  const attributes = await agent.base.attributes();
  printRow(
    print,
    'PROTOCOL_ATTRIBUTES',
    `${attributes.numProtocols} protocols, ${attributes.numAgents} agents`,
  );
  // The second agent when there is one (the default platform's PSCI), else the agent itself.
  const other = attributes.numAgents >= 2 ? 2 : 1;
  printRow(print, `DISCOVER_AGENT(${other})`, (await agent.base.discoverAgent(other)).name);
  const supported = await agent.xfer(0x10).messageSupported(BaseMessageId.DISCOVER_AGENT);
  printRow(
    print,
    'MESSAGE_ATTRIBUTES(DISCOVER_AGENT)',
    supported ? 'implemented' : 'not implemented',
  );
  if (usable(agent, clockProtocolDriver)) {
    const text = await attempt(
      () => agent.transact(CLOCK, CLOCK_ATTRIBUTES, (w) => w.u32(0), { txSize: 4 }),
      (returns) => {
        const clock = new PayloadReader(returns);
        const clockAttributes = clock.u32();
        const clockName = decodeAsciiz(clock.bytes(16));
        return `"${clockName}", ${(clockAttributes & 1) !== 0 ? 'enabled' : 'disabled'}`;
      },
    );
    printRow(print, 'raw 0x14 CLOCK_ATTRIBUTES(0)', `${text} (${setup.routes.clock})`);
  }
  if (usable(agent, performanceProtocolDriver)) {
    const text = await attempt(
      () => agent.transact(PERF, PERF_LEVEL_GET, (w) => w.u32(0), { txSize: 4 }),
      (returns) => String(new PayloadReader(returns).u32()),
    );
    printRow(print, 'raw 0x13 PERF_LEVEL_GET(0)', `${text} (${setup.routes.perf})`);
  }
}

/**
 * What `command` gave, written by `show`; or, when the platform refused it (an error status: the
 * configuration denies this agent the domain, a sensor is disabled…) or the client refused the
 * reply or the request (a malformed reply, a reading larger than the transport carries), the
 * status or the error's code — shown on the row instead of failing the part: with a configuration
 * of the user's, what the platform answers is what the demo shows. Any other error is thrown.
 */
async function attempt<T>(command: () => Promise<T>, show: (value: T) => string): Promise<string> {
  let value: T;
  try {
    value = await command();
  } catch (error) {
    return refusal(error);
  }
  return show(value);
}

/**
 * What a command's failure shows: the platform's status name, or a malformed reply's code and
 * message. Anything else (a timeout, a transport error) is thrown again: the part fails.
 */
function refusal(error: unknown): string {
  if (ScmiStatusError.is(error)) return scmiStatusName(error.status);
  if (ScmiMalformedError.is(error)) return `${error.code} (${error.message})`;
  throw error;
}

/** A voltage domain's configuration mode: `on`, `off`, or an implementation-defined `mode 0x8`. */
function voltageModeText(config: number): string {
  if (config === VOLTAGE_CONFIG_ON) return 'on';
  if (config === VOLTAGE_CONFIG_OFF) return 'off';
  return `mode 0x${config.toString(16)}`;
}

/**
 * Whether the agent has the driver's client, with domains (System power has none): a platform
 * configuration of the user's may leave a protocol out for this agent. (A domain the platform
 * announces but denies this agent is shown with its status, see `attempt`.)
 */
function usable(agent: ScmiAgent, driver: { readonly protocolId: number }): boolean {
  if (!agent.protocolIds.includes(driver.protocolId) || agent.protocolErrors.has(driver.protocolId))
    return false;
  const api = agent.protocolApi(driver.protocolId) as { domains?: { count: number } };
  return api.domains === undefined || api.domains.count > 0;
}

/**
 * How long the demo waits, at most, for the platform to read a fast channel (real time): the wait
 * ends as soon as the level shows, so a generous bound costs nothing on a machine that keeps up.
 */
const FAST_CHANNEL_WAIT_MS = 10_000;

/**
 * The first performance domain with fast channels to set and get its level (none: nothing
 * printed): where the channels are, then a level written to LEVEL_SET — no message — and read
 * back from LEVEL_GET once the platform's poll has applied it.
 */
async function printFastChannels(print: Print, perf: PerformanceProtocol): Promise<void> {
  const domain = perf.domains.list.find((d) => {
    const fc = perf.fastChannels(d.id);
    return fc?.levelSet !== undefined && fc.levelGet !== undefined;
  });
  if (domain === undefined) {
    const skipped = perf.domains.list.flatMap((d) => [...(perf.fastChannels(d.id)?.skipped ?? [])]);
    const [first] = skipped;
    if (first !== undefined) {
      printRow(print, 'performance fast channels', `not used: ${(first[1] as Error).message}`);
    }
    return;
  }
  const fc = perf.fastChannels(domain.id);
  const at = (name: string, channel: { readonly address: bigint } | undefined): string[] =>
    channel === undefined ? [] : [`${name} ${formatHex(Number(channel.address), 8)}`];
  printRow(
    print,
    'performance fast channels',
    `${domain.name}: ${[
      ...at('LEVEL_SET', fc?.levelSet),
      ...at('LIMITS_SET', fc?.limitsSet),
      ...at('LEVEL_GET', fc?.levelGet),
      ...at('LIMITS_GET', fc?.limitsGet),
    ].join(', ')}; rate limit ${fc?.levelSet?.rateLimitUs ?? 0} µs`,
  );
  const current = await perf.getLevel(domain.id);
  // A level inside the domain's limits, which the platform would refuse otherwise (silently: no
  // status comes back from a fast channel).
  const limits = await perf.getLimits(domain.id);
  const target = domain.levels.find(
    (l) => l.value !== current && l.value >= limits.min && l.value <= limits.max,
  )?.value;
  if (target === undefined) return;
  const startedAt = performance.now();
  await perf.setLevel(domain.id, target);
  let level = current;
  while (level !== target && performance.now() - startedAt < FAST_CHANNEL_WAIT_MS) {
    await sleep(1);
    level = await perf.getLevel(domain.id);
  }
  printRow(
    print,
    `fast-channel LEVEL_SET(${domain.id})`,
    level === target
      ? `${domain.name} ${current} → ${target}, no message: read back from LEVEL_GET after ${(performance.now() - startedAt).toFixed(1)} ms (the platform's poll)`
      : `${target} written, not read back within ${FAST_CHANNEL_WAIT_MS} ms (LEVEL_GET says ${level})`,
  );
}

/**
 * What the protocol clients (`@scmi-ts/protocols`) learnt at probe, and a command of each: the
 * domains each driver described, their state now, a sensor reading, a reset, the voltage domains'
 * levels.
 */
async function printProtocolClients(print: Print, agent: ScmiAgent): Promise<void> {
  const absent = PROTOCOL_DRIVERS.filter((d) => !usable(agent, d)).map((d) => d.name);
  if (absent.length > 0) printRow(print, 'not available to this agent', absent.join(', '));
  if (usable(agent, powerProtocolDriver)) {
    const power = agent.protocol(powerProtocolDriver);
    const states = await Promise.all(
      power.domains.list.map(async (d) => {
        const state = await attempt(
          () => power.getState(d.id),
          (word) => {
            const { contextLost, stateId } = parsePowerState(word);
            return `${contextLost ? 'off' : 'on'}${stateId === 0 ? '' : ` (state ${stateId})`}`;
          },
        );
        return `${d.name} ${state}`;
      }),
    );
    printRow(print, 'power domains', states.join(', '));
  }
  if (usable(agent, systemPowerProtocolDriver)) {
    const state = await attempt(
      () => agent.protocol(systemPowerProtocolDriver).getState(),
      (system) => `${SystemPowerState[system] ?? 'vendor'} (${system})`,
    );
    printRow(print, 'system power state', state);
  }
  if (usable(agent, performanceProtocolDriver)) {
    const perf = agent.protocol(performanceProtocolDriver);
    const levels = await Promise.all(
      perf.domains.list.map(async (d) => {
        const level = await attempt(
          () => perf.getLevel(d.id),
          (value) => String(value),
        );
        return `${d.name} level ${level} of ${d.levels.length}${d.levelIndexing ? ' (level indexing)' : ''}`;
      }),
    );
    printRow(print, `performance domains (v${formatVersion(perf.version)})`, levels.join(', '));
    await printFastChannels(print, perf);
  }
  if (usable(agent, clockProtocolDriver)) {
    const clock = agent.protocol(clockProtocolDriver);
    const rates = await Promise.all(
      clock.domains.list.map(
        async (c) =>
          `${c.name} ${await attempt(
            () => clock.getRate(c.id),
            (hz) => `${Number(hz) / MHZ} MHz`,
          )}`,
      ),
    );
    printRow(print, 'clocks', rates.join(', '));
  }
  if (usable(agent, sensorProtocolDriver)) {
    const sensor = agent.protocol(sensorProtocolDriver);
    const [first] = sensor.domains.list;
    if (first !== undefined) {
      const value = await attempt(
        () => sensor.readValue(first.id),
        (reading) => sensorValueText(reading, first.unitExponent, first.type),
      );
      printRow(
        print,
        'sensor reading',
        `${first.name} ${value} (${first.asyncRead ? 'asynchronous: delayed response' : 'synchronous'})`,
      );
    }
  }
  if (usable(agent, resetProtocolDriver)) {
    const reset = agent.protocol(resetProtocolDriver);
    const [domain] = reset.domains.list;
    if (domain !== undefined) {
      // The platform announces an asynchronous reset only where it can send the delayed response.
      const done = await attempt(
        () => reset.reset(domain.id),
        () => (domain.asyncReset ? 'asynchronous: delayed response' : 'synchronous'),
      );
      printRow(print, 'reset', `${domain.name} (${done})`);
    }
  }
  if (usable(agent, voltageProtocolDriver)) {
    const voltage = agent.protocol(voltageProtocolDriver);
    const levels = await Promise.all(
      voltage.domains.list.map(async (d) => {
        // The mode first: a domain the agent may not use is refused once, not for each command.
        try {
          const mode = voltageModeText(await voltage.configGet(d.id));
          const level = await attempt(
            () => voltage.levelGet(d.id),
            (uv) => `${uv / 1000} mV`,
          );
          return `${d.name} ${level} ${mode}`;
        } catch (error) {
          return `${d.name} ${refusal(error)}`;
        }
      }),
    );
    printRow(print, 'voltage domains', levels.join(', '));
  }
}

/**
 * A rate to set clock `info` to, other than `current`: 600 MHz where the clock has it (the
 * default platform's clocks), else its first listed rate (or the end of its range) that is not
 * `current`; undefined for a clock with one rate.
 */
function otherRate(info: ClockInfo, current: bigint): bigint | undefined {
  const rates = info.rates;
  if (rates === undefined) return undefined;
  const preferred = BigInt(600 * MHZ);
  if (rates.kind === 'list') {
    if (rates.rates.includes(preferred) && current !== preferred) return preferred;
    return rates.rates.find((r) => r !== current);
  }
  const inRange =
    preferred >= rates.min &&
    preferred <= rates.max &&
    (rates.step === 0n || (preferred - rates.min) % rates.step === 0n);
  if (inRange && current !== preferred) return preferred;
  if (rates.min !== current) return rates.min;
  return rates.max !== current ? rates.max : undefined;
}

/**
 * Subscribes to clock 0's rate changes (the event the Clock client registered) and sets its rate
 * through the client, or shows why it cannot.
 */
async function printNotification(print: Print, agent: ScmiAgent): Promise<void> {
  if (!usable(agent, clockProtocolDriver)) {
    printRow(print, 'notifications', 'none shown: this agent has no clock');
    return;
  }
  const client = agent.protocol(clockProtocolDriver);
  // The first clock whose rate this agent may set (CLOCK_GET_PERMISSIONS, where the platform
  // has it) to another rate it has: clock 0 on the default platform.
  let chosen: { readonly id: number; readonly rate: bigint } | undefined;
  for (const c of client.domains.list) {
    if (c.permissions?.rateControl === false) continue;
    let current: bigint;
    try {
      current = await client.getRate(c.id);
    } catch (error) {
      // A clock this agent may not use (DENIED…): the next one.
      if (ScmiStatusError.is(error)) continue;
      throw error;
    }
    const rate = otherRate(c, current);
    if (rate !== undefined) {
      chosen = { id: c.id, rate };
      break;
    }
  }
  if (chosen === undefined) {
    printRow(print, 'notifications', 'none shown: no clock whose rate this agent may change');
    return;
  }
  const { id, rate: target } = chosen;
  const label = `notification CLOCK_RATE_CHANGED(${id})`;
  let notified: (hz: bigint) => void = () => undefined;
  const rate = new Promise<bigint>((resolve) => {
    notified = resolve;
  });
  let off: () => Promise<void>;
  try {
    off = await agent.events.subscribe(
      { protocolId: CLOCK, eventId: CLOCK_RATE_CHANGED, source: id },
      (n) => {
        notified(decodeClockRateChanged(n.payload).rate);
      },
    );
  } catch (error) {
    const code = ScmiError.is(error) ? error.code : 'error';
    // E_NOT_SUPPORTED: no P2A channel, or a clock that does not announce the notification.
    printRow(print, 'notifications', `none: subscribe → ${code} (${(error as Error).message})`);
    return;
  }
  try {
    const set = await attempt(
      () => client.setRate(id, target, { async: false }),
      () => '',
    );
    if (set !== '') {
      printRow(print, label, `none: CLOCK_RATE_SET → ${set}`);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const hz = await Promise.race([
      rate,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, 5000, undefined);
      }),
    ]);
    clearTimeout(timer);
    printRow(
      print,
      label,
      hz === undefined ? 'not received within 5 s' : `${Number(hz) / MHZ} MHz (p2a:0)`,
    );
  } finally {
    await off();
  }
}

/**
 * Each channel's counters, for what it carries: commands on an A2P channel; notifications and
 * delayed responses on a P2A channel (which sends nothing).
 */
function printCounters(print: Print, agent: ScmiAgent): void {
  for (const c of agent.diagnostics.channels) {
    const s = c.stats;
    const bad = Object.values(s.badMessages).reduce((a, b) => a + b, 0);
    print(
      c.direction === 'p2a'
        ? `    ${c.label.padEnd(6)} notifications ${s.notifications}  delayed responses ${s.delayedResponses}  bad messages ${bad}${errorStatuses(s.errorStatuses)}`
        : `    ${c.label.padEnd(6)} sent ${String(s.sent).padStart(3)}  completed ${String(s.completed).padStart(3)}  timeouts ${s.timeouts}  failed ${s.failed}  late replies ${s.lateReplies}  bad messages ${bad}${overtaken(s.overtakenResponses)}${errorStatuses(s.errorStatuses)}`,
    );
  }
}

/**
 * The responses a delayed response overtook (`  overtaken responses 1`), if any: under load the
 * platform worker's doorbells on two channels may reach the agent in either order.
 */
function overtaken(n: number): string {
  return n === 0 ? '' : `  overtaken responses ${n}`;
}

/**
 * The agent's count of a channel's answers that were not SUCCESS (`  refused: NOT_SUPPORTED 1`),
 * if any: responses on an A2P channel, delayed responses on a P2A channel.
 */
function errorStatuses(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts);
  return entries.length === 0
    ? ''
    : `  refused: ${entries.map(([status, n]) => `${status} ${n}`).join(', ')}`;
}

/**
 * The other end's view: the statuses the platform answered this agent (its `agentCounters`), so
 * that a refusal shown on a row above is seen from the platform's side too.
 */
async function printPlatformAnswers(
  print: Print,
  host: WorkerHost,
  agentId: number,
): Promise<void> {
  const { requests, statuses } = (await host.call(
    'agentCounters',
    agentId,
  )) as PlatformAgentCounters;
  const answers = Object.entries(statuses)
    .map(([status, n]) => `${status} ${n}`)
    .join(', ');
  printRow(print, `platform, for agent ${agentId}`, `${requests} requests: ${answers}`);
}

/** Each channel the devres log released, with how many times (`a2p:0 ×1`). */
function releasedChannels(events: readonly DevresEvent[]): string[] {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'release' && e.resource.startsWith('channel ')) {
      const label = e.resource.slice('channel '.length);
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
  }
  return [...counts].map(([label, n]) => `${label} ×${n}`);
}

/** Prints the wire's report; returns the callbacks that ran on released channels (0 expected). */
async function printWireReport(
  print: Print,
  wire: DemoWire,
  events: readonly DevresEvent[],
): Promise<number> {
  const report = await wire.report();
  printRow(print, 'channels released (devres)', releasedChannels(events).join(', '));
  for (const [label, value] of report.rows) printRow(print, label, value);
  printRow(print, 'callbacks on released channels', String(report.violations));
  return report.violations;
}

/**
 * A transport's part of the demo ran, but what it shows did not hold: the seed scenario's probe
 * succeeded, a callback ran on a released channel, or the platform kept timers armed. Its
 * `problems` name each; `runDemo` counts the part as failed (exit code 1).
 *
 * @example
 * ```ts
 * throw new DemoCheckError('virtio', ['1 callback(s) ran on released channels']);
 * ```
 */
export class DemoCheckError extends Error {
  /** Always `DemoCheckError`. */
  public override readonly name = 'DemoCheckError';
  /** The transport whose part it is (`mailbox`, `virtio`, `optee`). */
  public readonly transport: string;
  /** What did not hold, one line each, in the order the part found them. */
  public readonly problems: readonly string[];

  /** The part of `transport` found `problems` (the message joins them). */
  public constructor(transport: string, problems: readonly string[]) {
    super(`${transport}: ${problems.join('; ')}`);
    this.transport = transport;
    this.problems = problems;
  }
}

/** Waits (bounded) until the platform has no timer armed: its late reply was sent. */
async function platformIdle(host: WorkerHost): Promise<number> {
  let armed = (await host.call('armedTimers')) as number;
  for (let i = 0; i < 2000 && armed > 0; i++) {
    await sleep(1);
    armed = (await host.call('armedTimers')) as number;
  }
  return armed;
}

async function runSeedScenario(
  print: Print,
  host: WorkerHost,
  setup: TransportDemoSetup,
  rxTimeoutMs: number,
): Promise<string[]> {
  // Well past the timeout: core re-checks completion when a deadline fires (Linux c23c03bf1faa),
  // so a reply that lands while a busy machine delays the agent's timer would be taken as on time
  // (the part would then fail: its probe must fail): 300 ms more than a loaded machine stalls.
  const lateMs = rxTimeoutMs + Math.max(rxTimeoutMs, 300);
  const fault: FaultRule = {
    match: { protocolId: 0x10, messageId: 0x0, times: 1 },
    action: { kind: 'late-reply', ms: lateMs },
  };
  await host.call('setFaults', [fault]);
  print(
    `  platform fault: Base PROTOCOL_VERSION answered after ${lateMs} ms; the agent waits ${rxTimeoutMs} ms`,
  );
  print(`  ${setup.seedNote}`);
  const wire = await setup.open(host, 'seed');
  const events: { at: number; event: DevresEvent }[] = [];
  const problems: string[] = [];
  try {
    const startedAt = performance.now();
    const options: AgentOptions = {
      ...wire.agentOptions,
      transport: setup.name,
      rxTimeoutMs,
      log: (event) => {
        events.push({ at: performance.now() - startedAt, event });
      },
    };
    try {
      const agent = await createAgent(containerFor(wire, false), options);
      print('  unexpected: the probe succeeded');
      problems.push("the seed scenario's probe succeeded: its late reply came in time");
      await agent.remove();
    } catch (error) {
      const code = ScmiError.is(error) ? error.code : 'error';
      print(
        `  probe failed after ${(performance.now() - startedAt).toFixed(1)} ms: ${code} ${(error as Error).message}`,
      );
    }
    const begin = events.findIndex((e) => e.event.type === 'teardown-begin');
    print(
      '  teardown log, ms since probe start (every quiesce first, then every release; each in reverse order of registration, the newest resource first):',
    );
    for (const { at, event } of events.slice(begin)) {
      if (event.type === 'quiesce' || event.type === 'release')
        print(`    ${at.toFixed(1).padStart(6)}  ${formatDevresEvent(event)}`);
    }
    const armed = await platformIdle(host);
    const late = await wire.lateReply();
    print(`  the platform's late reply ${late.where}`);
    printRow(print, 'counted', late.counted);
    const violations = await printWireReport(
      print,
      wire,
      events.map((e) => e.event),
    );
    if (violations > 0) problems.push(`${violations} callback(s) ran on released channels`);
    if (armed > 0) {
      printRow(print, 'platform timers still armed', String(armed));
      problems.push(`the platform still had ${armed} timer(s) armed after its late reply`);
    }
  } finally {
    await wire.close();
    await host.call('setFaults', []);
  }
  const left = (await host.call('armedTimers')) as number;
  printRow(print, 'platform timers left', String(left));
  if (left > 0) problems.push(`${left} platform timer(s) left armed once the wire closed`);
  return problems;
}

/** Steps 1 and 2; returns what did not hold (printed already), empty when all did. */
async function runProbe(
  print: Print,
  host: WorkerHost,
  setup: TransportDemoSetup,
): Promise<string[]> {
  const wire = await setup.open(host, 'probe');
  print(`  wire: ${wire.description}`);
  try {
    const startedAt = performance.now();
    const events: DevresEvent[] = [];
    const agent = await createAgent(containerFor(wire, true), {
      ...wire.agentOptions,
      transport: setup.name,
      // Real time: a generous timeout, so that a busy machine cannot fail this part.
      rxTimeoutMs: 1000,
      log: (e) => {
        events.push(e);
      },
    });
    try {
      await printDiscovery(print, agent, startedAt);
      print('');
      print('2. Base commands, raw messages, protocol clients and notifications');
      await printBaseCommands(print, agent, setup);
      await printProtocolClients(print, agent);
      await printNotification(print, agent);
      printCounters(print, agent);
      await printPlatformAnswers(print, host, setup.workerData.agentId);
    } finally {
      await agent.remove();
    }
    print(`  removed ${agent.name}: every channel quiesced, then released`);
    const violations = await printWireReport(print, wire, events);
    return violations > 0 ? [`${violations} callback(s) ran on released channels`] : [];
  } finally {
    await wire.close();
  }
}

/**
 * Runs one transport's part of the main job: the emulated platform and the transport's backend
 * in a worker thread, an agent probed over the transport and what it discovered, a few Base
 * commands, raw messages to other protocols and a notification (where the transport has a P2A
 * channel) with each channel's counters, then the seed scenario replayed — Base discovery times
 * out, the platform replies late, probe fails — with the teardown log (quiesce, then release,
 * newest first) and where the late reply went. The worker is stopped before it returns.
 *
 * @throws whatever the probe of step 1 or the worker throws (the seed scenario's probe failure is
 * expected and printed); {@link DemoCheckError}, once everything is printed, when what the part
 * shows did not hold (the seed scenario's probe succeeded, a callback ran on a released channel,
 * platform timers stayed armed).
 * @example
 * ```ts
 * await runTransportDemo(console.log, virtioDemo);
 * ```
 */
export async function runTransportDemo(
  print: Print,
  setup: TransportDemoSetup,
  options: TransportDemoOptions = {},
): Promise<void> {
  const rxTimeoutMs = options.rxTimeoutMs ?? 30;
  print(`=== ${setup.name}: ${setup.title} ===`);
  const config = options.platformConfig;
  const host = await startWorker({
    entry: resolveWorkerEntry(__dirname, 'platform-worker'),
    data: config === undefined ? setup.workerData : { ...setup.workerData, config },
    name: `scmi-platform-${setup.name}`,
  });
  try {
    print('');
    print('1. Probe and discovery');
    print(`  platform thread ${host.worker.threadId}: emulated firmware + ${setup.backend}`);
    const problems = await runProbe(print, host, setup);
    print('');
    print(
      '3. The seed scenario (LKML 2021, "firmware: arm_scmi: Free mailbox channels if probe fails")',
    );
    problems.push(...(await runSeedScenario(print, host, setup, rxTimeoutMs)));
    if (problems.length > 0) throw new DemoCheckError(setup.name, problems);
  } finally {
    await host.stop();
  }
  print('');
  print(`${setup.name}: platform worker stopped; done.`);
}
