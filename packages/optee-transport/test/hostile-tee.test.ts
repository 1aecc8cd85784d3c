/**
 * The agent side against a TEE that answers what it should not (found by an adversarial review):
 * a channel handle it already gave to another channel, a session id already open, an error closing
 * the throw-away capabilities session.
 */
import { ScmiTransportError, type ScmiAgent } from '@scmi-ts/core';
import {
  PtaScmiCommand,
  TeeError,
  TeeOrigin,
  TeeResult,
  type TeeValueParam,
} from '../src/index.js';
import { createOpteeHarness } from './support/harness.js';

const CLOCK = 0x14;

/** Settles `p` to its value or its error. */
async function settle<T>(p: Promise<T>): Promise<T | Error> {
  return p.then(
    (v) => v,
    (e: unknown) => e as Error,
  );
}

describe.each(['static', 'dynamic'] as const)(
  'a TEE that gives two channels one handle (%s)',
  (shmem) => {
    it('should refuse the second channel (E_TEE), leaving no session open', async () => {
      const h = await createOpteeHarness({ shmem, auto: false });
      const d = h.ends.driver;
      const invoke = d.invoke.bind(d);
      d.invoke = async (session, func, cancel, params) => {
        const r = await invoke(session, func, cancel, params);
        if (func !== PtaScmiCommand.GET_CHANNEL_HANDLE || r.result !== 0) return r;
        return { ...r, params: [{ ...(r.params[0] as TeeValueParam), a: 0 }] };
      };
      const probe = settle(h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK] }] }));
      await h.clock.runUntilIdle();
      const error = await probe;
      expect(error).toBeInstanceOf(Error);
      const cause = (error as Error & { cause?: unknown }).cause;
      const chain = [error, cause].filter((e) => ScmiTransportError.is(e));
      expect(chain.some((e) => /already that of/.test((e as Error).message))).toBe(true);
      expect(h.ends.optee.stats.openSessions).toBe(0);
      expect(h.ends.transport.diagnostics().channels).toEqual([]);
      await h.close();
    });
  },
);

describe('a TEE that answers an open session with the id of one already open', () => {
  it('should refuse it (BAD_STATE, origin COMMS) and close each session it accepted exactly once', async () => {
    const h = await createOpteeHarness({ shmem: 'static', auto: false });
    const d = h.ends.driver;
    const open = d.openSession.bind(d);
    const close = d.closeSession.bind(d);
    const closed: number[] = [];
    let opened = 0;
    let first: number | undefined;
    d.openSession = async (uuid, login) => {
      const r = await open(uuid, login);
      opened++;
      // 1: capabilities (closed at once), 2: a2p:0, 3: a2p:1, answered with a2p:0's id.
      if (opened === 2) first = r.session;
      return opened === 3 && first !== undefined ? { ...r, session: first } : r;
    };
    d.closeSession = (session) => {
      closed.push(session);
      return close(session);
    };
    const probe = settle(h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK] }] }));
    await h.clock.runUntilIdle();
    const error = await probe;
    expect(error).toBeInstanceOf(Error);
    const cause = (error as Error & { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(TeeError);
    expect([(cause as TeeError).result, (cause as TeeError).origin]).toEqual([
      TeeResult.BAD_STATE,
      TeeOrigin.COMMS,
    ]);
    expect(new Set(closed).size).toBe(closed.length);
    expect(closed).toContain(first);
    await h.close();
  });
});

describe('a TEE that answers an error closing the throw-away capabilities session', () => {
  it('should probe all the same (Linux get_capabilities ignores the close)', async () => {
    const h = await createOpteeHarness({ shmem: 'static' });
    const d = h.ends.driver;
    const close = d.closeSession.bind(d);
    let first = true;
    d.closeSession = async (session) => {
      const r = await close(session); // closed in the TEE all the same
      if (!first) return r;
      first = false;
      return { ...r, result: TeeResult.BUSY, origin: TeeOrigin.TEE };
    };
    const agent: ScmiAgent | Error = await settle(h.create());
    expect(agent).not.toBeInstanceOf(Error);
    if (!(agent instanceof Error)) {
      expect(await agent.base.discoverVendor()).toBe('scmi-ts');
      await agent.remove();
    }
    await h.close();
  });
});
