import { getEventListeners } from 'node:events';
import {
  RevokedError,
  ScmiTimeoutError,
  readU32,
  type AgentOptions,
  type ProtocolDriver,
  type ProtocolHandle,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness } from './support/harness.js';

function u32(n: number): Uint8Array {
  return new Uint8Array(new Uint32Array([n]).buffer);
}

/** A driver whose API is its protocol handle: the tests drive `withCallOptions` on it. */
const handleDriver: ProtocolDriver<ProtocolHandle> = {
  protocolId: 0x14,
  name: 'handle',
  version: 0x10000,
  init: (ph) => ph,
};

/** The FakePlatform's message that echoes its word; answered after `delayMs` when set. */
const ECHO = 0x3;
/** The FakePlatform's message the tests delay. */
const SLOW = 0x9;

async function setUp(options: Partial<AgentOptions> = {}): Promise<{
  h: ReturnType<typeof createHarness>;
  agent: ScmiAgent;
  ph: ProtocolHandle;
  stats: () => { sent: number; timeouts: number; lateReplies: number; failed: number };
}> {
  const h = createHarness({ drivers: [handleDriver] });
  const agent = await h.create(options); // rxTimeoutMs 30
  const ph = agent.protocol(handleDriver);
  const stats = () => {
    const s = agent.diagnostics.channels.find((c) => c.label === 'a2p:0')?.stats;
    if (s === undefined) throw new Error('no a2p:0');
    return s;
  };
  return { h, agent, ph, stats };
}

describe('ProtocolHandle.withCallOptions', () => {
  ensureNoLeaksInSuite();

  it("should bound every command of the view by its timeoutMs, the handle's own keeping the agent's", async () => {
    const { h, agent, ph, stats } = await setUp();
    h.platform.delay = (req) => (req.messageId === SLOW ? 12 : undefined);
    const view = ph.withCallOptions({ timeoutMs: 5 });
    const e: unknown = await view.xfer.transact(SLOW, u32(1)).catch((error: unknown) => error);
    expect(e).toBeInstanceOf(ScmiTimeoutError);
    expect(e).toMatchObject({ timeoutMs: 5, phase: 'response' });
    // What is built on transact takes it too: a NAME_GET the platform is slow to answer.
    h.platform.delay = () => 12;
    await expect(view.xfer.extendedName(SLOW, 0)).rejects.toMatchObject({ timeoutMs: 5 });
    await expect(view.xfer.versionGet()).rejects.toMatchObject({ timeoutMs: 5 });
    // The handle itself is not changed: 12 ms is in the agent's 30.
    expect(readU32(await ph.xfer.transact(SLOW, u32(2)), 0)).toBe(2);
    // A command's own timeoutMs wins over the view's.
    expect(readU32(await view.xfer.transact(SLOW, u32(3), { timeoutMs: 20 }), 0)).toBe(3);
    h.platform.delay = undefined;
    await h.clock.runUntilIdle();
    expect(stats()).toMatchObject({ timeouts: 3, lateReplies: 3 });
    await agent.remove();
  });

  it('should give up the commands of the view when its signal fires, with one listener for all', async () => {
    const { h, agent, ph, stats } = await setUp();
    h.platform.delay = () => 20;
    const abort = new AbortController();
    const view = ph.withCallOptions({ signal: abort.signal });
    const pending = [1, 2, 3].map((n) =>
      view.xfer.transact(ECHO, u32(n)).catch((error: unknown) => error),
    );
    await h.clock.advance(2);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(1);
    const reason = new Error('operator gave up');
    abort.abort(reason);
    expect(await Promise.all(pending)).toEqual([reason, reason, reason]);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
    h.platform.delay = undefined;
    await h.clock.runUntilIdle();
    expect(stats()).toMatchObject({ lateReplies: 3, timeouts: 0 });
    // A view whose signal fired sends nothing, and rejects with its reason each time.
    const sent = stats().sent;
    await expect(view.xfer.transact(ECHO, u32(4))).rejects.toBe(reason);
    await expect(view.xfer.extendedName(ECHO, 0)).rejects.toBe(reason);
    expect(stats().sent).toBe(sent);
    // The handle goes on.
    expect(readU32(await ph.xfer.transact(ECHO, u32(5)), 0)).toBe(5);
    await agent.remove();
  });

  it("should give a command up on the view's signal or its own, whichever fires", async () => {
    const { h, agent, ph } = await setUp();
    h.platform.delay = () => 20;
    const viewAbort = new AbortController();
    const ownAbort = new AbortController();
    const view = ph.withCallOptions({ signal: viewAbort.signal });
    const first = view.xfer
      .transact(ECHO, u32(1), { signal: ownAbort.signal })
      .catch((error: unknown) => error);
    await h.clock.advance(2);
    ownAbort.abort('own');
    expect(await first).toBe('own');
    // Both listeners went with the command.
    expect(getEventListeners(viewAbort.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(ownAbort.signal, 'abort')).toHaveLength(0);
    const again = new AbortController();
    const second = view.xfer
      .transact(ECHO, u32(2), { signal: again.signal })
      .catch((error: unknown) => error);
    await h.clock.advance(2);
    viewAbort.abort('view');
    expect(await second).toBe('view');
    expect(getEventListeners(again.signal, 'abort')).toHaveLength(0);
    // The command's own signal, fired already, is refused before anything is sent, on a view too.
    const quiet = ph.withCallOptions({ timeoutMs: 25 });
    await expect(
      quiet.xfer.transact(ECHO, u32(3), { signal: AbortSignal.abort('before') }),
    ).rejects.toBe('before');
    h.platform.delay = undefined;
    await h.clock.runUntilIdle();
    await agent.remove();
  });

  it('should keep the signals of both views and the newer timeout in a view of a view', async () => {
    const { h, agent, ph } = await setUp();
    h.platform.delay = () => 12;
    const outer = new AbortController();
    const inner = new AbortController();
    const view = ph
      .withCallOptions({ timeoutMs: 5, signal: outer.signal })
      .withCallOptions({ signal: inner.signal });
    await expect(view.xfer.transact(ECHO, u32(1))).rejects.toMatchObject({ timeoutMs: 5 });
    const longer = view.withCallOptions({ timeoutMs: 20 });
    expect(readU32(await longer.xfer.transact(ECHO, u32(2)), 0)).toBe(2);
    const pending = longer.xfer.transact(ECHO, u32(3)).catch((error: unknown) => error);
    await h.clock.advance(1);
    expect(getEventListeners(outer.signal, 'abort')).toHaveLength(1);
    expect(getEventListeners(inner.signal, 'abort')).toHaveLength(1);
    outer.abort('outer');
    expect(await pending).toBe('outer');
    expect(getEventListeners(inner.signal, 'abort')).toHaveLength(0);
    // The same signal given twice is watched once.
    const twice = ph
      .withCallOptions({ signal: inner.signal })
      .withCallOptions({ signal: inner.signal });
    const once = twice.xfer
      .transact(ECHO, u32(4), { signal: inner.signal })
      .catch((error: unknown) => error);
    await h.clock.advance(1);
    expect(getEventListeners(inner.signal, 'abort')).toHaveLength(1);
    inner.abort('inner');
    expect(await once).toBe('inner');
    h.platform.delay = undefined;
    await h.clock.runUntilIdle();
    await agent.remove();
  });

  it('should give a transfer taken from the view its timeout, and watch its signal in do', async () => {
    const { h, agent, ph, stats } = await setUp();
    const abort = new AbortController();
    const view = ph.withCallOptions({ timeoutMs: 5, signal: abort.signal });
    const x = await view.xfer.get(SLOW, 4, 4);
    expect(x.timeoutMs).toBe(5);
    x.tx.set(u32(1));
    h.platform.delay = () => 12;
    await expect(view.xfer.do(x)).rejects.toMatchObject({ timeoutMs: 5 });
    view.xfer.put(x);
    const y = await view.xfer.get(SLOW, 4, 4);
    y.tx.set(u32(2));
    const pending = view.xfer.do(y).catch((error: unknown) => error);
    await h.clock.advance(1);
    abort.abort('stop');
    expect(await pending).toBe('stop');
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
    view.xfer.put(y);
    // Fired: the view's get is refused, free transfer or not; a transfer taken through the
    // handle is refused by the view's do before the send, still its caller's to put back.
    await expect(view.xfer.get(SLOW, 4, 4)).rejects.toBe('stop');
    const z = await ph.xfer.get(SLOW, 4, 4);
    const sent = stats().sent;
    await expect(view.xfer.do(z)).rejects.toBe('stop');
    await expect(view.xfer.doWithResponse(z)).rejects.toBe('stop');
    expect(stats().sent).toBe(sent);
    view.xfer.put(z);
    h.platform.delay = undefined;
    await h.clock.runUntilIdle();
    await agent.remove();
  });

  describe('a command waiting for a free transfer', () => {
    it('should leave the queue at once when its signal fires, the others keeping their turn', async () => {
      const { h, agent, ph } = await setUp({ maxMsg: 1 });
      const held = await ph.xfer.get(ECHO, 4, 4);
      const abort = new AbortController();
      const givenUp = ph.xfer
        .transact(ECHO, u32(1), { signal: abort.signal })
        .catch((error: unknown) => error);
      const next = ph.xfer.transact(ECHO, u32(2));
      await h.clock.settle();
      expect(agent.diagnostics.pool).toEqual({ size: 1, inUse: 1, waiting: 2 });
      expect(getEventListeners(abort.signal, 'abort')).toHaveLength(1);
      abort.abort('no longer wanted');
      expect(await givenUp).toBe('no longer wanted');
      expect(agent.diagnostics.pool).toEqual({ size: 1, inUse: 1, waiting: 1 });
      expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
      // The transfer goes to the one still waiting; none is lost.
      ph.xfer.put(held);
      expect(readU32(await next, 0)).toBe(2);
      expect(agent.diagnostics.pool).toEqual({ size: 1, inUse: 0, waiting: 0 });
      await agent.remove();
    });

    it("should leave the queue when the view's signal fires, for transact and for get", async () => {
      const { h, agent, ph, stats } = await setUp({ maxMsg: 1 });
      const held = await ph.xfer.get(ECHO, 4, 4);
      const abort = new AbortController();
      const view = ph.withCallOptions({ signal: abort.signal });
      const sent = stats().sent;
      const pending = [
        view.xfer.transact(ECHO, u32(1)).catch((error: unknown) => error),
        view.xfer.get(ECHO, 4, 4).catch((error: unknown) => error),
      ];
      await h.clock.settle();
      expect(agent.diagnostics.pool.waiting).toBe(2);
      abort.abort('stop');
      expect(await Promise.all(pending)).toEqual(['stop', 'stop']);
      expect(agent.diagnostics.pool.waiting).toBe(0);
      expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
      expect(stats().sent).toBe(sent);
      ph.xfer.put(held);
      // A wait that ends with a transfer stops watching too.
      const later = new AbortController();
      const again = await ph.xfer.get(ECHO, 4, 4);
      const waiting = ph.xfer.transact(ECHO, u32(3), { signal: later.signal });
      await h.clock.settle();
      ph.xfer.put(again);
      expect(readU32(await waiting, 0)).toBe(3);
      expect(getEventListeners(later.signal, 'abort')).toHaveLength(0);
      await agent.remove();
    });
  });

  it.each([
    ['null', null, /options must be an object, got null/],
    ['an array', [], /options must be an object/],
    [
      'an unknown key',
      { timeoutMS: 5 },
      /unknown option "timeoutMS" \(expected one of timeoutMs, signal\)/,
    ],
    [
      'a zero timeoutMs',
      { timeoutMs: 0 },
      /withCallOptions: timeoutMs must be a positive number of ms, got number 0/,
    ],
    [
      'a string timeoutMs',
      { timeoutMs: '5' },
      /timeoutMs must be a positive number of ms, got string/,
    ],
    ['an infinite timeoutMs', { timeoutMs: Infinity }, /positive number/],
    ['a signal-like object', { signal: { aborted: false } }, /signal must be an AbortSignal/],
  ])('should refuse %s with E_ARGUMENT', async (_, options, message) => {
    const { agent, ph } = await setUp();
    let thrown: unknown;
    try {
      ph.withCallOptions(options as never);
    } catch (error: unknown) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'E_ARGUMENT', message });
    await agent.remove();
  });

  it('should refuse a signal given for the options, and a forged AbortSignal, with E_ARGUMENT', async () => {
    const { agent, ph, stats } = await setUp();
    const controller = new AbortController();
    const forged = Object.create(AbortSignal.prototype) as AbortSignal;
    for (const options of [controller.signal, controller]) {
      expect(() => ph.withCallOptions(options as never)).toThrow(/pass \{ signal \}/);
      await expect(ph.xfer.transact(ECHO, u32(1), options as never)).rejects.toMatchObject({
        code: 'E_ARGUMENT',
        message: expect.stringMatching(/pass \{ signal \}/) as unknown,
      });
    }
    expect(() => ph.withCallOptions({ signal: forged })).toThrow(/signal must be an AbortSignal/);
    const sent = stats().sent;
    await expect(ph.xfer.transact(ECHO, u32(1), { signal: forged })).rejects.toMatchObject({
      code: 'E_ARGUMENT',
    });
    expect(stats().sent).toBe(sent);
    await agent.remove();
  });

  it("should reject with RevokedError after the removal, whatever the view's or the command's signal did", async () => {
    const { agent, ph } = await setUp();
    const abort = new AbortController();
    const view = ph.withCallOptions({ signal: abort.signal });
    await agent.remove();
    abort.abort('late');
    await expect(view.xfer.transact(ECHO, u32(1))).rejects.toBeInstanceOf(RevokedError);
    await expect(view.xfer.get(ECHO, 4)).rejects.toBeInstanceOf(RevokedError);
    await expect(
      ph.xfer.transact(ECHO, u32(1), { signal: AbortSignal.abort('own') }),
    ).rejects.toBeInstanceOf(RevokedError);
  });

  it("should not give up another caller's command through a view whose do refused it", async () => {
    const { h, agent, ph } = await setUp();
    h.platform.delay = () => 10;
    const abort = new AbortController();
    const view = ph.withCallOptions({ signal: abort.signal });
    const x = await ph.xfer.get(ECHO, 4, 4);
    x.tx.set(u32(7));
    const theirs = ph.xfer.do(x);
    const refused = view.xfer.do(x).catch((error: unknown) => error);
    abort.abort('view reason');
    expect(await refused).toMatchObject({ code: 'E_XFER_STATE' });
    await theirs;
    expect(readU32(x.rx, 0)).toBe(7);
    ph.xfer.put(x);
    h.platform.delay = undefined;
    await agent.remove();
  });

  it('should read the version through, and be revoked with its handle', async () => {
    const { agent, ph } = await setUp();
    const view = ph.withCallOptions({});
    expect([view.protocolId, view.agent, view.version, view.versionSource, view.p2a]).toEqual([
      ph.protocolId,
      ph.agent,
      ph.version,
      ph.versionSource,
      ph.p2a,
    ]);
    expect(readU32(await view.xfer.transact(ECHO, u32(9)), 0)).toBe(9);
    await agent.remove();
    await expect(view.xfer.transact(ECHO, u32(1))).rejects.toBeInstanceOf(RevokedError);
    await expect(view.xfer.get(ECHO, 4)).rejects.toBeInstanceOf(RevokedError);
  });
});
