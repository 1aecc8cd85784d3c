/**
 * What the platform is asked to send, kept true when a notify command fails: a source whose
 * enable failed after the every-source disable is enabled again by its next subscriber; an event
 * whose disable failed (or whose enable's outcome is unknown) is disabled by the removal; a
 * transport that copies no notification leaves no stale bytes queued; a notification arriving
 * once the removal started is discarded, not counted `nomem`.
 */
import {
  ScmiError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  readU32,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness, type Harness } from './support/harness.js';

const PROTOCOL = 0x14;
/** The notify command of event 0 (CLOCK_RATE_NOTIFY), for the errors the fake answers. */
const NOTIFY = { protocolId: PROTOCOL, messageId: 0x9 };

/** Little-endian 32-bit words. */
function u32s(...words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w, true));
  return b;
}

/** A simulated platform's notify state, driven by event 0's `setNotifyEnabled`. */
interface NotifyPlatform {
  /** `enable 5`, `disable *`… in order. */
  readonly calls: string[];
  /** What the platform sends: sources, `*` for every source. */
  readonly enabled: Set<string>;
  /**
   * The next calls matching these are refused (a status error), refused before anything is sent
   * (an `ScmiError` `E_NOT_SUPPORTED`, as a protocol driver refuses a source that does not
   * announce the event), or time out (applied or not).
   */
  readonly failNext: Map<
    string,
    'refuse' | 'refuse-unsent' | 'timeout-applied' | 'timeout-unapplied'
  >;
  /** While set, calls are held until it is called (then released in order). */
  hold: Promise<void> | undefined;
}

async function withEvent(h: Harness, options: { depth?: number } = {}) {
  const agent = await h.create(
    options.depth === undefined ? {} : { notificationQueueDepth: options.depth },
  );
  const p: NotifyPlatform = {
    calls: [],
    enabled: new Set(),
    failNext: new Map(),
    hold: undefined,
  };
  agent.events.register(PROTOCOL, [
    {
      id: 0,
      name: 'rate-changed',
      setNotifyEnabled: (source, enable) => {
        const what = `${enable ? 'enable' : 'disable'} ${source ?? '*'}`;
        p.calls.push(what);
        const fail = p.failNext.get(what);
        p.failNext.delete(what);
        const apply = (): void => {
          if (source === undefined) {
            if (enable) p.enabled.add('*');
            else p.enabled.clear(); // every source stops
          } else if (enable) p.enabled.add(String(source));
          else p.enabled.delete(String(source));
        };
        if (fail === 'refuse') {
          return Promise.reject(new ScmiStatusError(ScmiStatus.DENIED, NOTIFY));
        }
        if (fail === 'refuse-unsent') {
          return Promise.reject(new ScmiError('E_NOT_SUPPORTED', 'source 5 announces nothing'));
        }
        if (fail !== 'timeout-unapplied') apply();
        if (fail !== undefined) return Promise.reject(new ScmiTimeoutError(NOTIFY, 5, 30_000));
        return p.hold ?? Promise.resolve();
      },
    },
  ]);
  return { agent, p };
}

describe('notification enable bookkeeping', () => {
  let agent: ScmiAgent | undefined;
  afterEach(async () => {
    await agent?.remove();
    agent = undefined;
  });
  ensureNoLeaksInSuite();

  it('should enable again, at its next subscriber, a source whose enable failed after the every-source disable', async () => {
    const h = createHarness();
    const { agent: a, p } = await withEvent(h);
    agent = a;
    await a.events.subscribe({ protocolId: PROTOCOL, eventId: 0, source: 5 }, () => undefined);
    const offAll = await a.events.subscribe({ protocolId: PROTOCOL, eventId: 0 }, () => undefined);
    p.failNext.set('enable 5', 'refuse');
    await expect(offAll()).rejects.toBeInstanceOf(ScmiStatusError);
    expect(p.enabled).toEqual(new Set()); // source 5 has a subscriber and is not sent
    await a.events.subscribe({ protocolId: PROTOCOL, eventId: 0, source: 5 }, () => undefined);
    expect(p.calls).toEqual(['enable 5', 'enable *', 'disable *', 'enable 5', 'enable 5']);
    expect(p.enabled).toEqual(new Set(['5']));
  });

  it('should not disable at removal a source whose enable was refused before anything was sent', async () => {
    const h = createHarness();
    const { agent: a, p } = await withEvent(h);
    p.failNext.set('enable 5', 'refuse-unsent');
    await expect(
      a.events.subscribe({ protocolId: PROTOCOL, eventId: 0, source: 5 }, () => undefined),
    ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    p.failNext.set('enable 6', 'timeout-unapplied');
    await expect(
      a.events.subscribe({ protocolId: PROTOCOL, eventId: 0, source: 6 }, () => undefined),
    ).rejects.toBeInstanceOf(ScmiTimeoutError);
    const sent = p.calls.length;
    await a.remove();
    // Source 6's enable may have reached the platform: disabled. Source 5's certainly did not.
    expect(p.calls.slice(sent)).toEqual(['disable 6']);
    expect(a.diagnostics.notifications).toMatchObject({ disabledAtRemoval: 1, disableFailures: 0 });
  });

  it('should not disable, when its subscribers leave, a source whose enable failed', async () => {
    const h = createHarness();
    const { agent: a, p } = await withEvent(h);
    agent = a;
    const off5 = await a.events.subscribe(
      { protocolId: PROTOCOL, eventId: 0, source: 5 },
      () => undefined,
    );
    const offAll = await a.events.subscribe({ protocolId: PROTOCOL, eventId: 0 }, () => undefined);
    p.failNext.set('enable 5', 'refuse');
    await expect(offAll()).rejects.toBeInstanceOf(ScmiStatusError);
    await off5();
    expect(p.calls).toEqual(['enable 5', 'enable *', 'disable *', 'enable 5']);
  });

  it('should disable at removal an event whose disable failed at its unsubscribe, or whose enable timed out', async () => {
    const h = createHarness();
    const { agent: a, p } = await withEvent(h);
    agent = a;
    const off3 = await a.events.subscribe(
      { protocolId: PROTOCOL, eventId: 0, source: 3 },
      () => undefined,
    );
    p.failNext.set('disable 3', 'timeout-unapplied');
    await expect(off3()).rejects.toBeInstanceOf(ScmiTimeoutError);
    await expect(off3()).resolves.toBeUndefined(); // idempotent: nothing sent
    // An enable that timed out: the platform may have applied it.
    p.failNext.set('enable 4', 'timeout-applied');
    await expect(
      a.events.subscribe({ protocolId: PROTOCOL, eventId: 0, source: 4 }, () => undefined),
    ).rejects.toBeInstanceOf(ScmiTimeoutError);
    // A refused enable was not applied: nothing to disable for it.
    p.failNext.set('enable 6', 'refuse');
    await expect(
      a.events.subscribe({ protocolId: PROTOCOL, eventId: 0, source: 6 }, () => undefined),
    ).rejects.toBeInstanceOf(ScmiStatusError);
    expect(p.enabled).toEqual(new Set(['3', '4']));
    await a.remove();
    agent = undefined;
    expect(p.enabled).toEqual(new Set());
    expect(p.calls.slice(-2).sort()).toEqual(['disable 3', 'disable 4']);
    expect(a.diagnostics.notifications).toMatchObject({ disabledAtRemoval: 2, disableFailures: 0 });
  });

  it('should count as left enabled, at a removal that sends nothing, an event whose disable failed', async () => {
    const h = createHarness();
    const { agent: a, p } = await withEvent(h);
    agent = a;
    const off = await a.events.subscribe({ protocolId: PROTOCOL, eventId: 0 }, () => undefined);
    p.failNext.set('disable *', 'refuse');
    await expect(off()).rejects.toBeInstanceOf(ScmiStatusError);
    await a.remove({ disableNotifications: false });
    agent = undefined;
    expect(a.diagnostics.notifications.leftEnabledAtRemoval).toBe(1);
  });

  it('should settle a source that may be enabled once a later subscriber enables it and the last leaves', async () => {
    const h = createHarness();
    const { agent: a, p } = await withEvent(h);
    agent = a;
    const off = await a.events.subscribe(
      { protocolId: PROTOCOL, eventId: 0, source: 2 },
      () => undefined,
    );
    p.failNext.set('disable 2', 'timeout-unapplied');
    await expect(off()).rejects.toBeInstanceOf(ScmiTimeoutError);
    const again = await a.events.subscribe(
      { protocolId: PROTOCOL, eventId: 0, source: 2 },
      () => undefined,
    );
    await again();
    const sent = p.calls.length;
    await a.remove();
    agent = undefined;
    expect(p.calls.slice(sent)).toEqual([]); // nothing left to disable
    expect(p.enabled).toEqual(new Set());
  });

  it('should queue nothing for a transport whose fetch copies nothing, counting it invalid', async () => {
    const h = createHarness();
    const { agent: a } = await withEvent(h, { depth: 1 });
    agent = a;
    const got: number[] = [];
    await a.events.subscribe({ protocolId: PROTOCOL, eventId: 0 }, (n) => {
      got.push(readU32(n.payload, 8));
    });
    h.platform.notify(1, PROTOCOL, 0, u32s(1, 0, 111));
    await h.clock.runUntilIdle();
    // The next notification's fetch copies nothing.
    const p2a = h.wire.channels.get('p2a:0');
    if (p2a === undefined) throw new Error('no P2A channel');
    const fetch = p2a.fetchNotification.bind(p2a);
    p2a.fetchNotification = (): void => undefined;
    h.platform.notify(1, PROTOCOL, 0, u32s(1, 0, 222));
    await h.clock.runUntilIdle();
    p2a.fetchNotification = fetch;
    expect(got).toEqual([111]);
    const stats = a.diagnostics.channels.find((c) => c.direction === 'p2a')?.stats;
    expect(stats?.badMessages.invalid).toBe(1);
    expect(a.diagnostics.notifications).toMatchObject({ queued: 1, delivered: 1 });
  });

  it('should discard, not count nomem, a notification arriving once the removal started', async () => {
    const h = createHarness();
    const { agent: a, p } = await withEvent(h, { depth: 2 });
    agent = a;
    await a.events.subscribe({ protocolId: PROTOCOL, eventId: 0 }, () => undefined);
    // The removal disables the event first: its command is held, the agent still live.
    let release = (): void => undefined;
    p.hold = new Promise((resolve) => {
      release = resolve;
    });
    const removing = a.remove();
    for (let i = 0; i < 5; i++) h.platform.notify(1, PROTOCOL, 0, u32s(1, 0, i));
    await h.clock.runTasks();
    expect(a.removed).toBe(false);
    release();
    await h.clock.runUntilIdle();
    await removing;
    agent = undefined;
    const stats = a.diagnostics.channels.find((c) => c.direction === 'p2a')?.stats;
    expect(stats?.badMessages.nomem).toBe(0);
    expect(a.diagnostics.notifications).toMatchObject({ dropped: 0, discarded: 5, delivered: 0 });
  });

  it('should count an event the removal gave up on once, even when its disable fails after', async () => {
    const h = createHarness();
    const a = await h.create({ rxTimeoutMs: 30 });
    agent = a;
    a.events.register(PROTOCOL, [
      {
        id: 0,
        name: 'late-failure',
        // The disable fails, but only long after the removal's bound (3 × 30 ms).
        setNotifyEnabled: (_source, enable) =>
          enable
            ? Promise.resolve()
            : new Promise<void>((_resolve, reject) => {
                h.clock.setTimeout(() => {
                  reject(new ScmiTimeoutError(NOTIFY, 5, 30));
                }, 500);
              }),
      },
    ]);
    await a.events.subscribe({ protocolId: PROTOCOL, eventId: 0, source: 1 }, () => undefined);
    const removing = a.remove();
    await h.clock.runUntilIdle();
    await removing;
    agent = undefined;
    expect(a.diagnostics.notifications).toMatchObject({ disabledAtRemoval: 1, disableFailures: 1 });
  });

  describe('after a review of the bookkeeping', () => {
    const sub = (a: ScmiAgent, source?: number) =>
      a.events.subscribe(
        source === undefined
          ? { protocolId: PROTOCOL, eventId: 0 }
          : { protocolId: PROTOCOL, eventId: 0, source },
        () => undefined,
      );

    it('should enable again, at its next subscriber, a source the failed every-source disable may have stopped', async () => {
      const h = createHarness();
      const { agent: a, p } = await withEvent(h);
      agent = a;
      await sub(a, 5);
      const offAll = await sub(a);
      p.failNext.set('disable *', 'timeout-applied');
      await expect(offAll()).rejects.toBeInstanceOf(ScmiTimeoutError);
      expect(p.enabled).toEqual(new Set());
      await sub(a, 5);
      expect(p.enabled).toEqual(new Set(['5']));
    });

    it('should disable, when its last subscriber leaves, a source a failed every-source disable may have left sending', async () => {
      // Found by notification-model-fuzz (seed 11).
      const h = createHarness();
      const { agent: a, p } = await withEvent(h);
      agent = a;
      const off5 = await sub(a, 5);
      const offAll = await sub(a);
      p.failNext.set('disable *', 'refuse'); // the platform keeps sending every source
      await expect(offAll()).rejects.toBeInstanceOf(ScmiStatusError);
      await off5();
      expect(p.calls.at(-1)).toBe('disable 5');
    });

    it('should disable, when its last subscriber leaves, a source whose re-enable timed out', async () => {
      const h = createHarness();
      const { agent: a, p } = await withEvent(h);
      agent = a;
      const off5 = await sub(a, 5);
      const offAll = await sub(a);
      p.failNext.set('enable 5', 'timeout-applied');
      await expect(offAll()).rejects.toBeInstanceOf(ScmiTimeoutError);
      await off5();
      expect(p.calls.at(-1)).toBe('disable 5');
      expect(p.enabled).toEqual(new Set());
    });

    it('should disable every source at once at removal past 16 sources that may be enabled', async () => {
      const h = createHarness();
      const { agent: a, p } = await withEvent(h);
      for (let source = 0; source < 20; source++) {
        p.failNext.set(`enable ${source}`, 'timeout-applied');
        await expect(sub(a, source)).rejects.toBeInstanceOf(ScmiTimeoutError);
      }
      const sent = p.calls.length;
      await a.remove();
      expect(p.calls.slice(sent)).toEqual(['disable *']);
      expect(p.enabled).toEqual(new Set());
      expect(a.diagnostics.notifications.disabledAtRemoval).toBe(1);
    });

    it('should not count as left enabled a source whose re-enable the platform refused', async () => {
      const h = createHarness();
      const { agent: a, p } = await withEvent(h);
      await sub(a, 5);
      const offAll = await sub(a);
      p.failNext.set('enable 5', 'refuse');
      await expect(offAll()).rejects.toBeInstanceOf(ScmiStatusError);
      await a.remove({ disableNotifications: false });
      expect(p.enabled).toEqual(new Set());
      expect(a.diagnostics.notifications.leftEnabledAtRemoval).toBe(0);
    });

    it('should forget the sources that may be enabled once an every-source disable succeeded', async () => {
      const h = createHarness();
      const { agent: a, p } = await withEvent(h);
      const off3 = await sub(a, 3);
      p.failNext.set('disable 3', 'timeout-unapplied');
      await expect(off3()).rejects.toBeInstanceOf(ScmiTimeoutError);
      const offAll = await sub(a);
      await offAll();
      const sent = p.calls.length;
      await a.remove();
      expect(p.calls.slice(sent)).toEqual([]);
      expect(p.enabled).toEqual(new Set());
    });
  });
});
