/**
 * The removal's bound on its notify-disables gives up on a platform that answers nothing, never
 * on one that answers every command in time: a descriptor that sends one command per source, and
 * enables waiting before the removal's turn, take many answers to settle, each of which shows the
 * platform alive. A subscribe waiting its turn when the removal starts sends nothing.
 */
import { ScmiError, type ScmiAgent } from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness, type Harness } from './support/harness.js';

const PROTOCOL = 0x14;
const NOTIFY = 0x9;
const RX_TIMEOUT_MS = 30;

/**
 * An agent whose event 0 has `sources` sources, each enabled or disabled with one NOTIFY command
 * (every source: one command per source, one after the other, as a per-domain driver sends them),
 * which the platform answers after `answerMs` — under the RX timeout, so every command succeeds.
 */
async function withPerSourceCommands(
  h: Harness,
  sources: number,
  answerMs: number,
): Promise<{ agent: ScmiAgent; commands: string[] }> {
  const creating = h.create({ rxTimeoutMs: RX_TIMEOUT_MS });
  await h.clock.runUntilIdle(); // a manual clock runs the probe
  const agent = await creating;
  const commands: string[] = [];
  h.platform.delay = (req) =>
    req.protocolId === PROTOCOL && req.messageId === NOTIFY ? answerMs : undefined;
  const send = async (source: number, enable: boolean): Promise<void> => {
    await agent.transact(PROTOCOL, NOTIFY, (w) => w.u32(source).u32(enable ? 1 : 0), {
      txSize: 8,
    });
    commands.push(`${enable ? 'enable' : 'disable'} ${source}`);
  };
  agent.events.register(PROTOCOL, [
    {
      id: 0,
      name: 'rate-changed',
      numSources: sources,
      setNotifyEnabled: async (source, enable) => {
        if (source !== undefined) return send(source, enable);
        for (let s = 0; s < sources; s++) await send(s, enable);
        return undefined;
      },
    },
  ]);
  return { agent, commands };
}

/** What a subscribe came to: `ok`, or its error's code (read at once: no rejection left unhandled). */
function codeOf(subscribing: Promise<unknown>): Promise<string> {
  return subscribing.then(
    () => 'ok',
    (e: unknown) => (e instanceof ScmiError ? e.code : String(e)),
  );
}

describe('the removal’s bound on its notify-disables', () => {
  ensureNoLeaksInSuite();

  it('should wait for a descriptor that disables every source one command at a time, each answered in time', async () => {
    const h = createHarness();
    // 8 × 24 ms: far past three RX timeouts (90 ms), every command answered in 24.
    const { agent, commands } = await withPerSourceCommands(h, 8, 24);
    await agent.events.subscribe({ protocolId: PROTOCOL, eventId: 0 }, () => undefined);
    commands.length = 0;
    const start = h.clock.now();
    await agent.remove();
    expect(commands).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((s) => `disable ${s}`));
    expect(h.clock.now() - start).toBeGreaterThan(3 * RX_TIMEOUT_MS);
    expect(agent.diagnostics.notifications).toMatchObject({
      disabledAtRemoval: 1,
      disableFailures: 0,
    });
  });

  it('should wait for an every-source enable under way, then disable what it enabled', async () => {
    const h = createHarness({ auto: false });
    const { agent, commands } = await withPerSourceCommands(h, 6, 24);
    const subscribing = codeOf(
      agent.events.subscribe({ protocolId: PROTOCOL, eventId: 0 }, () => undefined),
    );
    await h.clock.advance(5); // the first enable sent
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    expect(await subscribing).toBe('E_SHUTDOWN');
    const sources = [0, 1, 2, 3, 4, 5];
    expect(commands).toEqual([
      ...sources.map((s) => `enable ${s}`),
      ...sources.map((s) => `disable ${s}`),
    ]);
    expect(agent.diagnostics.notifications.disableFailures).toBe(0);
  });

  it('should refuse, sending nothing, the subscribes that waited their turn when the removal started', async () => {
    const h = createHarness({ auto: false });
    const { agent, commands } = await withPerSourceCommands(h, 4, 24);
    const subscribing = [0, 1, 2, 3].map((source) =>
      codeOf(agent.events.subscribe({ protocolId: PROTOCOL, eventId: 0, source }, () => undefined)),
    );
    await h.clock.advance(5); // source 0's enable under way, the others waiting
    const removing = agent.remove();
    await h.clock.runUntilIdle();
    await removing;
    expect(await Promise.all(subscribing)).toEqual([
      'E_SHUTDOWN',
      'E_SHUTDOWN',
      'E_SHUTDOWN',
      'E_SHUTDOWN',
    ]);
    expect(commands).toEqual(['enable 0', 'disable 0']);
  });

  it('should give up on a descriptor that never settles, however much other traffic the platform answers', async () => {
    const h = createHarness();
    const agent = await h.create({ rxTimeoutMs: RX_TIMEOUT_MS });
    agent.events.register(PROTOCOL, [
      {
        id: 0,
        name: 'hangs',
        setNotifyEnabled: (_source, enable) =>
          enable ? Promise.resolve() : new Promise<void>(() => undefined),
      },
    ]);
    await agent.events.subscribe({ protocolId: PROTOCOL, eventId: 0 }, () => undefined);
    const start = h.clock.now();
    // An object: a flag set inside a callback reads as always false where it is tested.
    const state = { removed: false };
    const removing = agent.remove().then(() => {
      state.removed = true;
    });
    // A caller polling the platform until the agent is revoked: answered every 10 ms.
    let polls = 0;
    while (!state.removed && polls < 1000) {
      await agent.transact(PROTOCOL, 0x0).catch(() => undefined);
      await new Promise<void>((resolve) => {
        h.clock.setTimeout(resolve, 10);
      });
      polls++;
    }
    await removing;
    // One event of one source: three re-arms by answers, then the bound: given up, counted.
    expect(h.clock.now() - start).toBeLessThanOrEqual(4 * 3 * RX_TIMEOUT_MS + 10);
    expect(agent.diagnostics.notifications).toMatchObject({
      disabledAtRemoval: 1,
      disableFailures: 1,
    });
  });

  it('should count a failure, not wait, when the platform answers none of its disables', async () => {
    const h = createHarness();
    const { agent, commands } = await withPerSourceCommands(h, 4, 24);
    await agent.events.subscribe({ protocolId: PROTOCOL, eventId: 0 }, () => undefined);
    commands.length = 0;
    h.platform.override = (req) =>
      req.protocolId === PROTOCOL && req.messageId === NOTIFY ? 'drop' : undefined;
    const start = h.clock.now();
    await agent.remove();
    // The first disable times out, and the every-source one fails with it, counted.
    expect(h.clock.now() - start).toBeLessThanOrEqual(RX_TIMEOUT_MS + 1);
    expect(commands).toEqual([]);
    expect(agent.diagnostics.notifications).toMatchObject({
      disabledAtRemoval: 1,
      disableFailures: 1,
    });
  });
});
