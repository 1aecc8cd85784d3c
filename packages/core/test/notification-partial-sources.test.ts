/**
 * An every-source enable or disable that failed for some sources and succeeded for others
 * (`ScmiNotifyOutcome`): as Linux's `__scmi_enable_evt` counts each source on its own, a source
 * the every-source enable left out is enabled by a subscriber of its own, and a source whose
 * command may have been applied is disabled by the removal.
 */
import {
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  type ScmiAgent,
  type ScmiNotifyOutcome,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createHarness } from './support/harness.js';

const PROTOCOL = 0x14;
const NOTIFY = { protocolId: PROTOCOL, messageId: 0x9 };
const SOURCES = 4;

type Failure = 'refuse' | 'timeout-applied' | 'timeout-unapplied';

/** A platform whose notify command names one source; every source is one command per source. */
interface PerSourcePlatform {
  /** `enable 2`, `disable 0`… one per command, in order. */
  readonly calls: string[];
  /** The sources it sends. */
  readonly enabled: Set<number>;
  /** How the next command matching a key (`enable 2`) fails. */
  readonly failNext: Map<string, Failure>;
  /** What the every-source call reports besides the failures it met (a descriptor's mistake). */
  extraFailed: [unknown, unknown][];
  /** Sources whose every command is refused (as SCP-firmware refuses a domain without the event). */
  readonly refuseAlways: Set<number>;
}

function withPerSourceEvent(a: ScmiAgent): PerSourcePlatform {
  const p: PerSourcePlatform = {
    calls: [],
    enabled: new Set(),
    failNext: new Map(),
    extraFailed: [],
    refuseAlways: new Set(),
  };
  const send = (source: number, enable: boolean): Promise<void> => {
    const what = `${enable ? 'enable' : 'disable'} ${source}`;
    p.calls.push(what);
    const fail = p.refuseAlways.has(source) ? 'refuse' : p.failNext.get(what);
    p.failNext.delete(what);
    if (fail === 'refuse') return Promise.reject(new ScmiStatusError(ScmiStatus.DENIED, NOTIFY));
    if (fail !== 'timeout-unapplied') {
      if (enable) p.enabled.add(source);
      else p.enabled.delete(source);
    }
    if (fail !== undefined) return Promise.reject(new ScmiTimeoutError(NOTIFY, 5, 30_000));
    return Promise.resolve();
  };
  a.events.register(PROTOCOL, [
    {
      id: 0,
      name: 'rate-changed',
      numSources: SOURCES,
      setNotifyEnabled: async (source, enable): Promise<ScmiNotifyOutcome | undefined> => {
        if (source !== undefined) {
          await send(source, enable);
          return undefined;
        }
        const failed = new Map<unknown, unknown>(p.extraFailed);
        let done = 0;
        for (let s = 0; s < SOURCES; s++) {
          try {
            await send(s, enable);
            done++;
          } catch (error) {
            failed.set(s, error);
          }
        }
        if (done === 0) throw failed.get(0);
        return { failed: failed as Map<number, unknown> };
      },
    },
  ]);
  return p;
}

const sub = (a: ScmiAgent, source?: number) =>
  a.events.subscribe(
    source === undefined
      ? { protocolId: PROTOCOL, eventId: 0 }
      : { protocolId: PROTOCOL, eventId: 0, source },
    () => undefined,
  );

describe('an every-source notify command that failed for some sources', () => {
  let agent: ScmiAgent | undefined;
  afterEach(async () => {
    await agent?.remove();
    agent = undefined;
  });
  ensureNoLeaksInSuite();

  async function setup() {
    const h = createHarness();
    const a = await h.create();
    agent = a;
    return { a, p: withPerSourceEvent(a) };
  }

  /** Removes `a` (the suite's agent) and returns the commands its removal sent to `p`. */
  async function removalCalls(a: ScmiAgent, p: PerSourcePlatform): Promise<string[]> {
    const sent = p.calls.length;
    await a.remove();
    agent = undefined;
    return p.calls.slice(sent);
  }

  it('should enable, at a subscriber of its own, a source the every-source enable failed for, and no other', async () => {
    const { a, p } = await setup();
    p.failNext.set('enable 2', 'refuse');
    await sub(a); // the others took: the subscribe succeeds
    expect(p.enabled).toEqual(new Set([0, 1, 3]));
    const sent = p.calls.length;
    await sub(a, 3); // covered by the every-source subscriber
    const off2 = await sub(a, 2); // not covered: its enable is sent again
    expect(p.calls.slice(sent)).toEqual(['enable 2']);
    expect(p.enabled).toEqual(new Set([0, 1, 2, 3]));
    await (
      await sub(a, 2)
    )(); // now enabled: a second subscriber sends nothing
    await off2(); // the every-source subscriber still wants it: not disabled
    await sub(a, 2); // and, enabled, not covered any less than the others: nothing sent
    expect(p.calls.slice(sent)).toEqual(['enable 2']);
    expect(p.enabled).toEqual(new Set([0, 1, 2, 3]));
  });

  it('should try again at the next subscriber when the own enable of a left-out source fails too', async () => {
    const { a, p } = await setup();
    p.failNext.set('enable 1', 'refuse');
    await sub(a);
    p.failNext.set('enable 1', 'refuse');
    await expect(sub(a, 1)).rejects.toBeInstanceOf(ScmiStatusError);
    await sub(a, 1);
    expect(p.calls.filter((c) => c === 'enable 1')).toHaveLength(3);
    expect(p.enabled.has(1)).toBe(true);
  });

  it('should keep enabled, without sending, a left-out source its own subscribers held enabled', async () => {
    const { a, p } = await setup();
    const off2 = await sub(a, 2);
    p.failNext.set('enable 2', 'refuse'); // the every-source enable's resend is refused
    await sub(a);
    await off2(); // the every-source subscriber still wants it: not disabled
    const sent = p.calls.length;
    await sub(a, 2);
    expect(p.calls.slice(sent)).toEqual([]);
    expect(p.enabled.has(2)).toBe(true);
  });

  it('should forget the left-out sources once the last every-source subscriber left', async () => {
    const { a, p } = await setup();
    p.failNext.set('enable 2', 'refuse');
    const offAll = await sub(a);
    await offAll();
    await sub(a); // every source takes this time
    const sent = p.calls.length;
    await sub(a, 2);
    expect(p.calls.slice(sent)).toEqual([]);
  });

  it('should disable at removal a source whose enable timed out while the others took, once the every-source subscriber left', async () => {
    const { a, p } = await setup();
    p.failNext.set('enable 3', 'timeout-applied');
    const offAll = await sub(a);
    p.failNext.set('disable 3', 'timeout-applied');
    await expect(offAll()).resolves.toBeUndefined(); // the others were disabled
    expect(p.enabled).toEqual(new Set());
    p.enabled.add(3); // the platform applied the enable after all, and never the disable
    expect(await removalCalls(a, p)).toEqual(['disable 3']);
    expect(p.enabled).toEqual(new Set());
    expect(a.diagnostics.notifications).toMatchObject({ disabledAtRemoval: 1, disableFailures: 0 });
  });

  it('should disable at removal a source whose every-source disable the platform refused: it kept sending', async () => {
    // A refused disable leaves the source possibly sending (the platform kept it): the removal
    // disables it, whereas a refused enable (above) is certain to have enabled nothing.
    const { a, p } = await setup();
    const offAll = await sub(a);
    p.failNext.set('disable 0', 'refuse');
    await offAll();
    expect(p.enabled).toEqual(new Set([0]));
    expect(await removalCalls(a, p)).toEqual(['disable 0']);
    expect(p.enabled).toEqual(new Set());
  });

  it('should neither disable nor count failed a source whose enable the platform refused, when its disable is refused too', async () => {
    const { a, p } = await setup();
    p.refuseAlways.add(2);
    const offAll = await sub(a);
    await offAll(); // the disable of 2 is refused again: 2 was never enabled
    await sub(a); // and with an every-source subscriber at the removal
    expect(await removalCalls(a, p)).toEqual(['disable 0', 'disable 1', 'disable 2', 'disable 3']);
    expect(a.diagnostics.notifications).toMatchObject({ disabledAtRemoval: 1, disableFailures: 0 });
    expect(p.enabled).toEqual(new Set());
  });

  it('should still disable a source refused at the every-source enable when it was possibly sending before', async () => {
    const { a, p } = await setup();
    const off2 = await sub(a, 2);
    p.failNext.set('disable 2', 'refuse'); // the platform keeps sending 2
    await expect(off2()).rejects.toBeInstanceOf(ScmiStatusError);
    p.failNext.set('enable 2', 'refuse');
    const offAll = await sub(a);
    p.failNext.set('disable 2', 'refuse');
    await offAll();
    expect(p.enabled).toEqual(new Set([2]));
    expect(await removalCalls(a, p)).toEqual(['disable 2']);
    expect(p.enabled).toEqual(new Set());
  });

  it('should disable at removal a left-out source whose own enable timed out, when its every-source disable is refused', async () => {
    const { a, p } = await setup();
    p.failNext.set('enable 2', 'refuse');
    const offAll = await sub(a);
    p.failNext.set('enable 2', 'timeout-applied'); // now possibly sent after all
    await expect(sub(a, 2)).rejects.toBeInstanceOf(ScmiTimeoutError);
    p.failNext.set('disable 2', 'refuse');
    await offAll();
    expect(p.enabled).toEqual(new Set([2]));
    expect(await removalCalls(a, p)).toEqual(['disable 2']);
    expect(p.enabled).toEqual(new Set());
  });

  it('should count a failure when the removal’s every-source disable failed for some sources', async () => {
    const { a, p } = await setup();
    await sub(a);
    p.failNext.set('disable 1', 'refuse');
    await a.remove();
    agent = undefined;
    expect(p.enabled).toEqual(new Set([1]));
    expect(a.diagnostics.notifications).toMatchObject({ disabledAtRemoval: 1, disableFailures: 1 });
  });

  it('should ignore a reported failure that names no source of the event', async () => {
    const { a, p } = await setup();
    // Timeouts: a source they named would be kept possibly enabled, and disabled at removal.
    const timeout = new ScmiTimeoutError(NOTIFY, 5, 30_000);
    p.extraFailed = [
      [SOURCES, timeout],
      ['2', timeout],
      [1.5, timeout],
      [-1, timeout],
    ];
    const offAll = await sub(a);
    const sent = p.calls.length;
    const offs = [];
    for (let s = 0; s < SOURCES; s++) offs.push(await sub(a, s));
    expect(p.calls.slice(sent)).toEqual([]); // every source covered
    for (const off of offs) await off();
    await offAll(); // its disable reports them too
    expect(await removalCalls(a, p)).toEqual([]); // nothing possibly enabled
  });
});
