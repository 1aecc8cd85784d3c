import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { runInNewContext } from 'node:vm';
import { transformSync } from '@swc/core';
import * as core from '@scmi-ts/core';
import {
  RevokedError,
  ScmiConfigError,
  ScmiStatus,
  ScmiTransportError,
  createAgent,
  readU32,
  validateAgentConfig,
  type AgentOptions,
  type ScmiAgent,
  type Transport,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import type { FakePlatform, FakeReply, FakeRequest } from './support/fake-platform.js';
import { createHarness, type Harness } from './support/harness.js';

/**
 * The TypeScript examples of the "Using an agent" section of packages/core/README.md, run as
 * written, as packages/devres/test/docs.test.ts runs those of docs/devres.md: each block's
 * `@scmi-ts/core` imports are dropped (core's exports are its globals), and it gets the names the
 * section says it goes on from — `agent`, `container`, `wire` — from the README's Configuration
 * example.
 *
 * That example runs on the mailbox transport and the emulated platform (`@scmi-ts/platform`),
 * which core's tests do not depend on (see support/fake-platform.ts). Here core's loopback
 * transport stands in for the mailbox one (its name and descriptor limits), and core's fake
 * platform, answering as the emulated platform's default configuration does for what the examples
 * send (Base discovery, clocks 0 and 1, their notifications and delayed responses), for the
 * platform; the values checked are those the README's comments give.
 */
function examples(): string[] {
  const md = readFileSync(join(__dirname, '../README.md'), 'utf8');
  const start = md.indexOf('\n## Using an agent\n');
  if (start === -1) throw new Error('README.md has no "Using an agent" section');
  const end = md.indexOf('\n## ', start + 1);
  const section = md.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

/** The mailbox transport's descriptor limits (`createMailboxTransport()`'s defaults). */
const MAILBOX = { name: 'mailbox', maxMsg: 20, maxMsgSize: 128, rxTimeoutMs: 30 } as const;

/** The README's Configuration example's options, on the stand-in's wire. */
function configurationOptions(h: Harness): AgentOptions {
  return {
    transport: 'mailbox',
    a2p: [{ id: 0 }, { id: 1, protocols: [0x13], polling: true }],
    p2a: [{ id: 0 }],
    rxTimeoutMs: 30,
    asyncTimeoutMs: 2000,
    transportConfig: { wire: h.wire },
  };
}

function le32(...words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => {
    v.setUint32(i * 4, w >>> 0, true);
  });
  return out;
}

function name(s: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(Buffer.from(s));
  return out;
}

const TWO_32 = 2 ** 32;
const MHZ = 1_000_000;

/**
 * Makes `platform` answer as the emulated platform's default configuration does, to agent 1
 * (OSPM), for what the examples send: Base discovery, and Clock's PROTOCOL_VERSION (3.0),
 * CLOCK_RATE_GET, CLOCK_RATE_SET (synchronous, or asynchronous with a delayed response of
 * clock_id, rate), CLOCK_NAME_GET and CLOCK_RATE_NOTIFY (CLOCK_RATE_CHANGED when a rate changes).
 */
function answerAsEmulatedPlatform(platform: FakePlatform): void {
  platform.protocols = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16];
  const clocks = [
    { name: 'cpu-pll', rate: 1200 * MHZ },
    { name: 'uart', rate: 24 * MHZ },
    { name: 'gpu-core', rate: 200 * MHZ },
    { name: 'periph-pll', rate: 600 * MHZ },
  ];
  const notified = new Set<number>();
  const agents = ['platform', 'OSPM', 'PSCI'];
  const apply = (agentId: number, id: number, rate: number): void => {
    const clock = clocks[id] as { rate: number };
    if (clock.rate === rate) return;
    clock.rate = rate;
    if (notified.has(id)) {
      platform.notify(agentId, 0x14, 0x0, le32(agentId, id, rate % TWO_32, rate / TWO_32));
    }
  };
  platform.override = (req: FakeRequest): FakeReply | undefined => {
    const ok = (returns?: Uint8Array): FakeReply =>
      returns === undefined
        ? { status: ScmiStatus.SUCCESS }
        : { status: ScmiStatus.SUCCESS, returns };
    if (req.protocolId === 0x10) {
      switch (req.messageId) {
        case 0x3:
          return ok(name('scmi-ts', 16));
        case 0x4:
          return ok(name('emulated', 16));
        case 0x5:
          return ok(le32(0x10000));
        case 0x7: {
          const asked = readU32(req.payload, 0);
          const id = asked === 0xffffffff ? req.agentId : asked;
          const agent = agents[id];
          if (agent === undefined) return { status: ScmiStatus.NOT_FOUND };
          const out = new Uint8Array(20);
          out.set(le32(id));
          out.set(name(agent, 16), 4);
          return ok(out);
        }
        default:
          return undefined;
      }
    }
    if (req.protocolId !== 0x14) return undefined;
    if (req.messageId === 0x0) return ok(le32(0x30000));
    if (req.messageId < 0x5 || req.messageId > 0x9) return undefined;
    const at = req.messageId === 0x5 ? 4 : 0; // CLOCK_RATE_SET: flags, then clock_id
    const id = readU32(req.payload, at);
    const clock = clocks[id];
    if (clock === undefined) return { status: ScmiStatus.NOT_FOUND };
    switch (req.messageId) {
      case 0x5: {
        const rate = readU32(req.payload, 8) + readU32(req.payload, 12) * TWO_32;
        if ((readU32(req.payload, 0) & 1) === 0) {
          apply(req.agentId, id, rate);
          return ok();
        }
        platform.later(1, () => {
          apply(req.agentId, id, rate);
          platform.delayedResponse(req, 0, le32(id, rate % TWO_32, rate / TWO_32));
        });
        return ok();
      }
      case 0x6:
        return ok(le32(clock.rate % TWO_32, clock.rate / TWO_32));
      case 0x8: {
        const out = new Uint8Array(68);
        out.set(name(clock.name, 64), 4);
        return ok(out);
      }
      case 0x9:
        if ((readU32(req.payload, 4) & 1) === 1) notified.add(id);
        else notified.delete(id);
        return ok();
      default:
        return undefined;
    }
  };
}

/** The stand-in set up as the README's Configuration example leaves things. */
function setUp(): Harness {
  const h = createHarness({ descriptor: MAILBOX });
  answerAsEmulatedPlatform(h.platform);
  return h;
}

/**
 * Runs example `index` on a fresh stand-in, with the probed `agent` unless the example probes its
 * own; returns the lines it printed. Checks that it left nothing behind: every agent removed (the
 * platform has no link left), no timer armed, no callback on a freed channel.
 */
async function run(index: number, protocols?: number[]): Promise<string[]> {
  const source = examples()[index];
  if (source === undefined) throw new Error(`no example ${index}`);
  const body = source.replace(/^import\s[^;]*?\sfrom '@scmi-ts\/core';\n/gm, '');
  if (/^import\s/m.test(body)) throw new Error(`example ${index} imports another package`);
  const { code } = transformSync(`module.exports = (async () => {\n${body}\n})();`, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  const h = setUp();
  if (protocols !== undefined) h.platform.protocols = protocols;
  const agent = /\bcreateAgent\(/.test(body)
    ? undefined
    : await createAgent(h.container, configurationOptions(h));
  const printed: string[] = [];
  const console = {
    log: (...args: unknown[]) => printed.push(format(...args)),
    error: (...args: unknown[]) => printed.push(`error: ${format(...args)}`),
  };
  const module = { exports: undefined as unknown };
  // This realm's Uint8Array: `transact` tells bytes from a writer with `instanceof Uint8Array`,
  // which a vm context's own Uint8Array would fail.
  const globals = { ...core, Uint8Array, console, module, container: h.container, wire: h.wire };
  try {
    runInNewContext(code, agent === undefined ? globals : { ...globals, agent });
    await (module.exports as Promise<void>);
  } finally {
    await agent?.remove();
  }
  expect(h.platform.links.size).toBe(0);
  expect(h.clock.armedTimers).toBe(0);
  expect(h.wire.violations).toEqual([]);
  return printed;
}

describe('packages/core/README.md: Using an agent', () => {
  ensureNoLeaksInSuite();

  it('should have runnable examples', () => {
    expect(examples()).toHaveLength(6);
  });

  it('should print what the Base example says', async () => {
    await expect(run(0)).resolves.toEqual([
      'scmi-ts emulated power system perf clock sensor reset',
      '0 platform, 1 OSPM, 2 PSCI',
      '6',
      'OSPM',
    ]);
  });

  it('should print what the raw-command example says', async () => {
    await expect(run(1)).resolves.toEqual([
      '1200000000n',
      '8',
      'clock message 0x6 failed: NOT_FOUND (-4)',
      '0 800000000n',
    ]);
  });

  it('should deliver the notification the notification example prints', async () => {
    await expect(run(2)).resolves.toEqual(['clock-rate-changed 0 600000000', '400000000']);
  });

  it('should print what the protocol-driver example says', async () => {
    await expect(run(3)).resolves.toEqual(['24000000n', 'true cpu-pll']);
  });

  it('should choose the vendor protocol driver the vendor-protocol example says', async () => {
    await expect(run(4, [0x14, 0x81])).resolves.toEqual([
      'scmi-ts a client for whatever 0x81 is here',
    ]);
  });

  it('should print what the diagnostics-and-removal example says', async () => {
    await expect(run(5)).resolves.toEqual([
      'a2p:0 0 undefined',
      'a2p:1 0 undefined',
      'p2a:0 0 undefined',
      '{ size: 20, inUse: 0, waiting: 0 }',
      'true undefined',
    ]);
  });
});

/** What the section's prose says beside its examples. */
describe('packages/core/README.md: Using an agent, as its text says', () => {
  let agent: ScmiAgent | undefined;
  afterEach(async () => {
    await agent?.remove();
    agent = undefined;
  });
  ensureNoLeaksInSuite();

  const sent = (h: Harness, protocolId: number, messageId: number): number =>
    h.platform.requests.filter((r) => r.protocolId === protocolId && r.messageId === messageId)
      .length;

  it('should refuse a subscribe without a P2A channel with E_NOT_SUPPORTED, sending nothing', async () => {
    const h = setUp();
    agent = await createAgent(h.container, { ...configurationOptions(h), p2a: false });
    expect(agent.events.available).toBe(false);
    const refusal: unknown = await agent.events
      .subscribe({ protocolId: 0x10, eventId: 0x0 }, () => undefined)
      .catch((e: unknown) => e);
    expect(ScmiTransportError.is(refusal) && refusal.code).toBe('E_NOT_SUPPORTED');
    expect(sent(h, 0x10, 0x8)).toBe(0); // no BASE_NOTIFY_ERRORS
  });

  it('should refuse a subscribe to an event nobody registered with E_UNKNOWN_EVENT', async () => {
    const h = setUp();
    agent = await createAgent(h.container, configurationOptions(h));
    const refusal: unknown = await agent.events
      .subscribe({ protocolId: 0x14, eventId: 0x0 }, () => undefined)
      .catch((e: unknown) => e);
    expect(ScmiTransportError.is(refusal) && refusal.code).toBe('E_UNKNOWN_EVENT');
  });

  it('should refuse an async command without a P2A channel with E_NOT_SUPPORTED, sending nothing, and send it without async', async () => {
    const h = setUp();
    agent = await createAgent(h.container, { ...configurationOptions(h), p2a: false });
    const from = h.clock.now();
    const failure: unknown = await agent
      .transact(0x14, 0x5, le32(1, 0, 800 * MHZ, 0), { async: true })
      .catch((e: unknown) => e);
    expect(ScmiTransportError.is(failure) && failure.code).toBe('E_NOT_SUPPORTED');
    expect(h.clock.now()).toBe(from);
    expect(sent(h, 0x14, 0x5)).toBe(0);
    // Through a transfer held by the caller too.
    const ops = agent.xfer(0x14);
    const xfer = await ops.get(0x5, 16);
    await expect(ops.doWithResponse(xfer)).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    ops.put(xfer);
    expect(sent(h, 0x14, 0x5)).toBe(0);
    // Without `async`, the command (its own flags ask for asynchronous work) gets its response.
    await agent.transact(0x14, 0x5, le32(1, 0, 800 * MHZ, 0));
    expect(sent(h, 0x14, 0x5)).toBe(1);
  });

  it('should cut a reply longer than rxSize to it, counted oversize', async () => {
    const h = setUp();
    agent = await createAgent(h.container, configurationOptions(h));
    const returns = await agent.transact(0x14, 0x6, le32(0), { rxSize: 4 });
    expect(returns).toEqual(le32(1200 * MHZ));
    expect(agent.diagnostics.channels[0]?.stats.badMessages.oversize).toBe(1);
  });

  it('should reject transact with RevokedError after the removal (a rejection, as every failure of transact)', async () => {
    const h = setUp();
    const removed = await createAgent(h.container, configurationOptions(h));
    await removed.remove();
    let outcome: Promise<Uint8Array> | undefined;
    expect(() => (outcome = removed.transact(0x14, 0x6, le32(0)))).not.toThrow();
    await expect(outcome).rejects.toBeInstanceOf(RevokedError);
  });

  it('should call handlers on a task of the clock, not inside the transport callback', async () => {
    const h = setUp();
    agent = await createAgent(h.container, configurationOptions(h));
    let calls = 0;
    let callsInCallback = -1;
    await agent.events.subscribe({ protocolId: 0x10, eventId: 0x0 }, () => {
      calls++;
    });
    h.wire.intercept = (d) => {
      if (d.channel !== 'p2a:0') {
        h.clock.schedule(d.deliver);
        return;
      }
      d.deliver(); // the transport's receive callback
      callsInCallback = calls;
    };
    expect(h.platform.notify(1, 0x10, 0x0, le32(1, 0))).toBe(true); // BASE_ERROR_EVENT
    await new Promise<void>((resolve) => {
      h.clock.setTimeout(resolve, 1);
    });
    expect([callsInCallback, calls]).toEqual([0, 1]);
  });

  it('should apply the defaults and ranges of the options table', () => {
    const transport: Transport = {
      descriptor: { ...MAILBOX, p2a: true, completion: 'both' },
      setupChannel: () => Promise.reject(new Error('not used')),
    };
    const config = validateAgentConfig({ transport: 'mailbox' }, transport);
    expect(config).toMatchObject({
      name: 'scmi0',
      a2p: [{ id: 0, protocols: [], polling: false }],
      p2a: [{ id: 0, protocols: [], polling: false }],
      rxTimeoutMs: 30,
      asyncTimeoutMs: 2000,
      maxMsg: 20,
      notificationQueueDepth: 32,
      debug: false,
    });
    const field = (options: object): string | undefined => {
      try {
        validateAgentConfig({ transport: 'mailbox', ...options }, transport);
      } catch (e) {
        if (ScmiConfigError.is(e)) return e.field;
        throw e;
      }
      return undefined;
    };
    expect(field({ notificationQueueDepth: 4096, maxMsg: 20, rxTimeoutMs: 0.5 })).toBeUndefined();
    expect(field({ notificationQueueDepth: 4097 })).toBe('notificationQueueDepth');
    expect(field({ maxMsg: 21 })).toBe('maxMsg');
    expect(field({ rxTimeoutMs: 0 })).toBe('rxTimeoutMs');
    expect(field({ asyncTimeoutMs: Infinity })).toBe('asyncTimeoutMs');
    expect(field({ a2p: [{ id: 0x10000 }] })).toBe('a2p[0].id');
    expect(field({ a2p: [{ id: 0, protocols: [0x0f] }] })).toBe('a2p[0].protocols[0]');
    expect(field({ p2a: [{ id: 0, protocols: [0x14] }] })).toBe('p2a[0].protocols');
    const withoutP2a = { ...transport, descriptor: { ...transport.descriptor, p2a: false } };
    expect(validateAgentConfig({ transport: 'mailbox' }, withoutP2a).p2a).toEqual([]);
  });
});
