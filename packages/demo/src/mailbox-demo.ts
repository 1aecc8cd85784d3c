import { Container } from 'inversify';
import {
  BaseMessageId,
  PayloadReader,
  ScmiError,
  coreModule,
  createAgent,
  decodeAsciiz,
  resolveWorkerEntry,
  scmiProtocolName,
  startWorker,
  type ScmiAgent,
  type WorkerHost,
} from '@scmi-ts/core';
import { formatDevresEvent, type DevresEvent } from '@scmi-ts/devres';
import {
  SMT_HEADER_SIZE,
  mailboxTransportModule,
  openSmtWorkerWire,
  type SmtWorkerWire,
} from '@scmi-ts/mailbox-transport';
import type { FaultRule } from '@scmi-ts/platform';
import type { Print } from './devres-demo.js';

/** Options of {@link runMailboxDemo}. */
export interface MailboxDemoOptions {
  /** The agent's RX timeout in the seed-scenario replay, ms (default 30, as Linux). */
  readonly rxTimeoutMs?: number;
}

const AGENT_ID = 1;

function version(v: number): string {
  return `${v >>> 16}.${v & 0xffff}`;
}

function hex(v: number, width = 2): string {
  return `0x${v.toString(16).padStart(width, '0')}`;
}

function row(print: Print, label: string, value: string): void {
  print(`  ${label.padEnd(34)} ${value}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until the worker's responder has answered every command it read (bounded). */
async function settled(smt: SmtWorkerWire, sent: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const { counters } = await smt.stats();
    if (counters.requests >= sent && counters.responses === counters.requests) return;
    await sleep(1);
  }
}

async function discovery(print: Print, agent: ScmiAgent, startedAt: number): Promise<void> {
  const info = agent.info;
  print(`  probed ${agent.name} in ${(performance.now() - startedAt).toFixed(1)} ms`);
  row(print, 'vendor', info.vendor);
  row(print, 'sub-vendor', info.subVendor ?? '(none)');
  row(print, 'implementation version', hex(info.implementationVersion ?? 0, 8));
  row(print, 'Base protocol version', version(info.version));
  row(
    print,
    'agents',
    `${info.numAgents} (DISCOVER_AGENT: ${info.agents.map((a) => `${a.id} ${a.name}`).join(', ')})`,
  );
  print('  protocols:');
  for (const id of info.protocols) {
    const v = new PayloadReader(await agent.transact(id, 0x0)).u32();
    print(`    ${hex(id)} ${scmiProtocolName(id).padEnd(14)} v${version(v)}`);
  }
}

async function baseCommands(print: Print, agent: ScmiAgent): Promise<void> {
  const attributes = await agent.base.attributes();
  row(
    print,
    'PROTOCOL_ATTRIBUTES',
    `${attributes.numProtocols} protocols, ${attributes.numAgents} agents`,
  );
  row(print, 'DISCOVER_AGENT(2)', (await agent.base.discoverAgent(2)).name);
  const supported = await agent.xfer(0x10).messageSupported(BaseMessageId.DISCOVER_AGENT);
  row(print, 'MESSAGE_ATTRIBUTES(DISCOVER_AGENT)', supported ? 'implemented' : 'not implemented');
  // A raw message to another protocol, on its own channel: CLOCK_ATTRIBUTES(0).
  const clock = new PayloadReader(await agent.transact(0x14, 0x3, (w) => w.u32(0), { txSize: 4 }));
  const clockAttributes = clock.u32();
  const clockName = decodeAsciiz(clock.bytes(16));
  row(
    print,
    'raw 0x14 CLOCK_ATTRIBUTES(0)',
    `"${clockName}", ${(clockAttributes & 1) !== 0 ? 'enabled' : 'disabled'} (a2p:1)`,
  );
  // PERF_LEVEL_GET(0) on the polling channel.
  const level = new PayloadReader(await agent.transact(0x13, 0x8, (w) => w.u32(0), { txSize: 4 }));
  row(print, 'raw 0x13 PERF_LEVEL_GET(0)', `${level.u32()} (a2p:2, polling)`);
  for (const c of agent.diagnostics.channels) {
    const s = c.stats;
    print(
      `    ${c.label.padEnd(6)} sent ${String(s.sent).padStart(3)}  completed ${String(s.completed).padStart(3)}  timeouts ${s.timeouts}  bad messages ${Object.values(s.badMessages).reduce((a, b) => a + b, 0)}`,
    );
  }
}

async function seedScenario(
  print: Print,
  host: WorkerHost,
  container: Container,
  rxTimeoutMs: number,
): Promise<void> {
  const lateMs = 2 * rxTimeoutMs;
  const fault: FaultRule = {
    match: { protocolId: 0x10, messageId: 0x0, times: 1 },
    action: { kind: 'late-reply', ms: lateMs },
  };
  await host.call('setFaults', [fault]);
  print(
    `  platform fault: Base PROTOCOL_VERSION answered after ${lateMs} ms; the agent waits ${rxTimeoutMs} ms`,
  );
  const smt = await openSmtWorkerWire(host, { agentId: AGENT_ID, a2p: [0], p2a: [0] });
  const events: DevresEvent[] = [];
  try {
    const startedAt = performance.now();
    try {
      const agent = await createAgent(container, {
        transport: 'mailbox',
        rxTimeoutMs,
        transportConfig: { wire: smt.wire },
        log: (e) => {
          events.push(e);
        },
      });
      print('  unexpected: the probe succeeded');
      await agent.remove();
    } catch (error) {
      const code = ScmiError.is(error) ? error.code : 'error';
      print(
        `  probe failed after ${(performance.now() - startedAt).toFixed(1)} ms: ${code} ${(error as Error).message}`,
      );
    }
    const begin = events.findIndex((e) => e.type === 'teardown-begin');
    print('  teardown log (every quiesce first, newest first; then every release, newest first):');
    for (const e of events.slice(begin)) {
      if (e.type === 'quiesce' || e.type === 'release') print(`    ${formatDevresEvent(e)}`);
    }
    const sent = smt.wire.monitor.channel('a2p:0')?.counters.sent ?? 0;
    await settled(smt, sent);
    await sleep(1);
    const a2p = smt.wire.monitor.channel('a2p:0');
    if (a2p !== undefined) {
      const c = a2p.counters;
      const where =
        c.lateReplies > 0
          ? 'while the channel was still open: dropped as a late reply'
          : c.refusedAfterQuiesce > 0
            ? 'after the channel quiesced: refused by its RX guard'
            : 'after the channel was released: dropped by its stopped doorbell';
      print(`  the platform's late reply landed ${where}`);
      row(
        print,
        'counted',
        `lateReplies ${c.lateReplies}, refusedAfterQuiesce ${c.refusedAfterQuiesce}, dropped after release ${a2p.ignoredAfterFree}`,
      );
    }
    row(print, 'callbacks on released channels', String(smt.wire.monitor.violations.length));
    row(
      print,
      'channels released',
      smt.wire.monitor.channels.map((r) => `${r.label} ×${r.frees}`).join(', '),
    );
  } finally {
    await smt.close();
    await host.call('setFaults', []);
  }
  row(print, 'platform timers left', String(await host.call('armedTimers')));
}

/**
 * The mailbox part of the main job: the emulated platform and its SMT responder in a worker
 * thread, an agent probed over the mailbox transport (shared SMT areas, `Atomics` doorbells), the
 * platform it discovered, a few Base commands and raw messages, then the seed scenario replayed —
 * Base discovery times out, the platform replies late, probe fails — with the teardown log
 * (quiesce, then release, newest first) and where the late reply went.
 *
 * @example
 * ```ts
 * await runMailboxDemo(console.log);
 * ```
 */
export async function runMailboxDemo(
  print: Print,
  options: MailboxDemoOptions = {},
): Promise<void> {
  const rxTimeoutMs = options.rxTimeoutMs ?? 30;
  print('scmi-ts: the mailbox transport (SMT shared memory + doorbells), platform in a worker');
  const host = await startWorker({
    entry: resolveWorkerEntry(__dirname, 'mailbox-platform-worker'),
    name: 'scmi-platform',
  });
  try {
    const container = new Container();
    container.load(coreModule, mailboxTransportModule);

    print('');
    print('1. Probe and discovery');
    print(`  platform thread ${host.worker.threadId}: emulated firmware + SMT responder`);
    const smt = await openSmtWorkerWire(host, { agentId: AGENT_ID, a2p: [0, 1, 2], p2a: [0] });
    print(
      `  wire: a2p:0 (Base), a2p:1 (Clock), a2p:2 (Performance, polling), p2a:0; ${smt.wire.layout.areaSize}-byte SMT areas (${SMT_HEADER_SIZE}-byte header)`,
    );
    try {
      const startedAt = performance.now();
      const agent = await createAgent(container, {
        transport: 'mailbox',
        // Real time: a generous timeout, so that a busy machine cannot fail this part.
        rxTimeoutMs: 1000,
        a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }, { id: 2, protocols: [0x13], polling: true }],
        transportConfig: { wire: smt.wire },
      });
      try {
        await discovery(print, agent, startedAt);
        print('');
        print('2. Base commands and raw messages');
        await baseCommands(print, agent);
      } finally {
        await agent.remove();
      }
      print(
        `  removed ${agent.name}: ${smt.wire.monitor.channels.map((r) => r.label).join(', ')} quiesced, then released`,
      );
    } finally {
      await smt.close();
    }

    print('');
    print(
      '3. The seed scenario (LKML 2021, "firmware: arm_scmi: Free mailbox channels if probe fails")',
    );
    await seedScenario(print, host, container, rxTimeoutMs);
  } finally {
    await host.stop();
  }
  print('');
  print('platform worker stopped; done.');
}
