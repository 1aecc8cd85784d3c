import { VirtualClock } from '@scmi-ts/core';
import {
  OpteeDriver,
  PTA_SCMI_UUID,
  PtaScmiCommand,
  TeeContext,
  TeeError,
  TeeLogin,
  TeeOrigin,
  TeeParamType,
  TeeResult,
  createSameThreadOpteeWire,
  openTeeContext,
  teeMemref,
  teeValue,
  type SameThreadOpteeWire,
  type TeeCallResult,
  type TeeDriver,
  type TeeParam,
  type TeeSharedMemory,
  type TeeValueParam,
} from '../src/index.js';
import { OpteeMsgCmd } from '../src/wire/optee-msg-arg.js';
import { serveTeeCalls } from './support/test-secure-world.js';
import { createTeeBench } from './support/tee-bench.js';
import { withoutSystemSessions } from './support/ffa-driver.js';

async function teeError(p: Promise<unknown>): Promise<TeeError> {
  try {
    await p;
  } catch (e) {
    if (TeeError.is(e)) return e;
    throw e;
  }
  throw new Error('expected a TeeError');
}

/** What {@link reusingTee} did, and the test's hold on its closes. */
interface ReusingTee {
  /** Sessions open in the TEE. */
  readonly open: Set<number>;
  /** While true, the return of each close is held (the session is gone in the TEE already). */
  holdCloses: boolean;
  /** Stops holding closes, and returns the held ones. */
  release(): void;
}

/**
 * A secure world of the test's own on `wire` (no EmulatedOptee) that gives each new session the
 * lowest free id, so an id is handed out again as soon as its session closed in the TEE — what a
 * TEE whose ids are its session objects' addresses does when the allocator reuses the freed one.
 * It answers every call at once, except the closes it holds (see {@link ReusingTee.holdCloses}):
 * the thread ran the close, and the normal world has not seen it return.
 */
function reusingTee(wire: SameThreadOpteeWire): ReusingTee {
  const held: (() => void)[] = [];
  const tee: ReusingTee = {
    open: new Set<number>(),
    holdCloses: false,
    release: () => {
      tee.holdCloses = false;
      for (const ret of held.splice(0)) ret();
    },
  };
  serveTeeCalls(wire, (call) => {
    let result: number = TeeResult.SUCCESS;
    let session: number | undefined;
    if (call.cmd === (OpteeMsgCmd.OPEN_SESSION as number)) {
      session = 1;
      while (tee.open.has(session)) session++;
      tee.open.add(session);
    } else if (call.cmd === (OpteeMsgCmd.CLOSE_SESSION as number)) {
      if (!tee.open.delete(call.session)) result = TeeResult.ITEM_NOT_FOUND;
      if (tee.holdCloses) {
        held.push(() => {
          call.return(result);
        });
        return;
      }
    } else if (call.cmd !== (OpteeMsgCmd.REGISTER_SHM as number) && !tee.open.has(call.session)) {
      result = TeeResult.BAD_PARAMETERS;
    }
    call.return(result, session === undefined ? {} : { session });
  });
  return tee;
}

/**
 * A TEE driver of the test's own that checks nothing: each open answers the next id of `ids`,
 * and each close waits for {@link finishCloses}. For the context's own rules, which
 * `OpteeDriver`'s checks would otherwise hide.
 */
function uncheckedDriver(ids: number[]): {
  driver: TeeDriver;
  closed: number[];
  finishCloses: () => void;
} {
  const ok = (session = 0): TeeCallResult => ({
    result: TeeResult.SUCCESS,
    origin: TeeOrigin.TEE,
    session,
    params: [],
  });
  const closed: number[] = [];
  const closes: (() => void)[] = [];
  const driver: TeeDriver = {
    implementation: 'unchecked',
    closed: false,
    openSession: () => Promise.resolve(ok(ids.shift() ?? 0)),
    invoke: () => Promise.resolve(ok()),
    submit: (...args: Parameters<TeeDriver['submit']>) => {
      args[4](ok());
    },
    cancel: () => Promise.resolve(ok()),
    closeSession: (session) =>
      new Promise<TeeCallResult>((resolve) => {
        closed.push(session);
        closes.push(() => {
          resolve(ok());
        });
      }),
    allocSharedMemory: () => Promise.reject(new Error('no shared memory')),
  };
  return {
    driver,
    closed,
    finishCloses: () => {
      for (const finish of closes.splice(0)) finish();
    },
  };
}

describe(TeeContext, () => {
  describe('.openSession', () => {
    it('should open a session to the SCMI PTA with the REE kernel login and invoke CAPABILITIES', async () => {
      const b = createTeeBench();
      const session = await b.context.openSession(PTA_SCMI_UUID, { login: TeeLogin.REE_KERNEL });
      const { params } = await session.invoke(PtaScmiCommand.CAPABILITIES, [
        teeValue(TeeParamType.VALUE_OUTPUT),
      ]);
      expect(params[0]).toEqual({ type: TeeParamType.VALUE_OUTPUT, a: 0x3, b: 0 });
      expect(b.context.sessionCount).toBe(1);
      await session.close();
      expect(session.closed).toBe(true);
      expect(b.context.sessionCount).toBe(0);
      expect(b.optee.stats.openSessions).toBe(0);
      await b.close();
    });

    it.each([TeeLogin.PUBLIC, TeeLogin.USER, TeeLogin.APPLICATION])(
      'should be denied by the PTA for login %d',
      async (login) => {
        const b = createTeeBench();
        const e = await teeError(b.context.openSession(PTA_SCMI_UUID, { login }));
        expect([e.result, e.origin, e.code]).toEqual([
          TeeResult.ACCESS_DENIED,
          TeeOrigin.TRUSTED_APP,
          'TEE_ERROR_ACCESS_DENIED',
        ]);
        expect(b.optee.stats.pta.refused).toBe(1);
        await b.close();
      },
    );

    it('should report an unknown trusted application as ITEM_NOT_FOUND from the TEE', async () => {
      const b = createTeeBench();
      const e = await teeError(b.context.openSession('00000000-0000-0000-0000-000000000001'));
      expect([e.result, e.origin]).toEqual([TeeResult.ITEM_NOT_FOUND, TeeOrigin.TEE]);
      await b.close();
    });

    it('should refuse a malformed UUID in the client API', async () => {
      const b = createTeeBench();
      expect((await teeError(b.context.openSession('not-a-uuid'))).origin).toBe(TeeOrigin.API);
      const e = await teeError(b.context.openSession(new Uint8Array(3)));
      expect([e.result, e.origin]).toEqual([TeeResult.BAD_FORMAT, TeeOrigin.API]);
      await b.close();
    });

    // Linux optee_close_session takes the session out of the context's list before it asks the
    // secure world to close it, and OpteeDriver forgets the id then too: the TEE may give the id
    // to a new session as soon as its thread ran the close, before the close returns.
    it('should take a session the TEE opens with the id of a session whose close has not returned, in the context and the driver alike', async () => {
      const clock = new VirtualClock({ auto: true });
      const wire = createSameThreadOpteeWire(clock, { channels: [{ id: 0 }], threads: 3 });
      const tee = reusingTee(wire);
      const driver = new OpteeDriver(wire.ree);
      const context = openTeeContext(driver);
      const s = await context.openSession(PTA_SCMI_UUID);
      tee.holdCloses = true;
      let closed = false;
      const closing = s.close().then(() => (closed = true));
      await clock.runUntilIdle(10);
      expect([tee.open.size, closed]).toEqual([0, false]);

      const t = await context.openSession(PTA_SCMI_UUID);
      expect(t.id).toBe(s.id);
      expect(tee.open.has(t.id)).toBe(true);
      // The driver tracks it too: it can be made a system session.
      context.systemSession(t);
      expect(driver.stats.systemSessions).toBe(1);

      tee.release();
      await closing;
      expect(context.sessionCount).toBe(1);
      await t.invoke(PtaScmiCommand.CAPABILITIES, []);
      await context.close();
      expect(tee.open.size).toBe(0);
      expect(driver.stats.systemSessions).toBe(0);
      expect(driver.systemSession(t.id).result).toBe(TeeResult.BAD_PARAMETERS);
      driver.close();
      wire.tee.doorbell.close();
      await clock.runUntilIdle(10);
    });

    it('should refuse an id of a session open in the context, and take the id of one whose close began, whatever the driver checks', async () => {
      const { driver, closed, finishCloses } = uncheckedDriver([7, 7, 7]);
      const context = openTeeContext(driver);
      const s = await context.openSession(PTA_SCMI_UUID);
      const e = await teeError(context.openSession(PTA_SCMI_UUID));
      expect([e.result, e.origin]).toEqual([TeeResult.BAD_STATE, TeeOrigin.COMMS]);
      expect(e.message).toMatch(/already open in this context/);
      const closing = s.close();
      const t = await context.openSession(PTA_SCMI_UUID);
      expect([t.id, t.closed, context.sessionCount]).toEqual([7, false, 2]);
      finishCloses();
      await closing;
      expect(context.sessionCount).toBe(1);
      await t.invoke(0, []);
      const ending = context.close();
      finishCloses();
      await ending;
      expect(closed).toEqual([7, 7]);
    });

    it("should refuse a cancel that could reach the new session holding a closing session's id, and take it once the close returned", async () => {
      const clock = new VirtualClock({ auto: true });
      const wire = createSameThreadOpteeWire(clock, { channels: [{ id: 0 }], threads: 3 });
      const tee = reusingTee(wire);
      const driver = new OpteeDriver(wire.ree);
      const context = openTeeContext(driver);
      const other = openTeeContext(driver);
      const s = await context.openSession(PTA_SCMI_UUID);
      // Closing, not reused yet: the cancel goes through to the TEE (it may unblock the close;
      // this TEE, which ran the close already, answers that it knows no such session).
      tee.holdCloses = true;
      const closing = s.close();
      await clock.runUntilIdle(10);
      const reached = await teeError(context.cancel(s, 1));
      expect([reached.result, reached.origin]).toEqual([TeeResult.BAD_PARAMETERS, TeeOrigin.TEE]);
      // Reused by a session of this context: refused by the context.
      const t = await context.openSession(PTA_SCMI_UUID);
      expect(t.id).toBe(s.id);
      const e = await teeError(context.cancel(s, 1));
      expect([e.result, e.origin]).toEqual([TeeResult.BAD_STATE, TeeOrigin.API]);
      // The new one's own cancel, while the old close is out: the driver cannot tell whose it
      // is, and refuses it, sending nothing.
      const d = await teeError(context.cancel(t, 1));
      expect([d.result, d.origin]).toEqual([TeeResult.BAD_STATE, TeeOrigin.COMMS]);
      tee.release();
      await closing;
      await expect(context.cancel(t, 1)).resolves.toBeUndefined();
      await context.close();
      await other.close();
      driver.close();
      wire.tee.doorbell.close();
      await clock.runUntilIdle(10);
    });

    it('should refuse, in the context, a cancel of a closing session whose id an open one has, whatever the driver checks', async () => {
      const { driver, finishCloses } = uncheckedDriver([7, 7]);
      const context = openTeeContext(driver);
      const s = await context.openSession(PTA_SCMI_UUID);
      const closing = s.close();
      await expect(context.cancel(s, 0)).resolves.toBeUndefined();
      const t = await context.openSession(PTA_SCMI_UUID);
      const e = await teeError(context.cancel(s, 0));
      expect([e.result, e.origin]).toEqual([TeeResult.BAD_STATE, TeeOrigin.API]);
      await expect(context.cancel(t, 0)).resolves.toBeUndefined(); // no driver check here
      finishCloses();
      await closing;
      const ending = context.close();
      finishCloses();
      await ending;
    });

    it('should report NOT_SUPPORTED from the PTA when it has neither SMT nor MSG', async () => {
      const b = createTeeBench({ optee: { capabilities: 0 } });
      const e = await teeError(b.context.openSession(PTA_SCMI_UUID));
      expect([e.result, e.origin]).toEqual([TeeResult.NOT_SUPPORTED, TeeOrigin.TRUSTED_APP]);
      await b.close();
    });
  });

  describe('.invoke', () => {
    it('should refuse bad parameters in the client API before anything is sent', async () => {
      const b = createTeeBench();
      const s = await b.context.openSession(PTA_SCMI_UUID);
      const calls = b.driver.stats.calls;
      const bogus: unknown = { type: 9 };
      const five = Array.from({ length: 5 }, () => teeValue(TeeParamType.VALUE_INPUT));
      const bad: TeeParam[][] = [
        five,
        [{ type: TeeParamType.VALUE_INPUT, a: -1, b: 0 }],
        [{ type: TeeParamType.VALUE_INPUT, a: 1.5, b: 0 }],
        [bogus as TeeParam],
      ];
      for (const params of bad) {
        const e = await teeError(s.invoke(PtaScmiCommand.CAPABILITIES, params));
        expect([e.result, e.origin]).toEqual([TeeResult.BAD_PARAMETERS, TeeOrigin.API]);
      }
      await expect(s.invoke(0, [], { cancelId: -1 })).rejects.toMatchObject({
        result: TeeResult.BAD_PARAMETERS,
      });
      expect(b.driver.stats.calls).toBe(calls);
      await b.close();
    });

    it('should refuse memory references outside their memory or from another context', async () => {
      const b = createTeeBench();
      const s = await b.context.openSession(PTA_SCMI_UUID);
      const shm = await b.context.allocSharedMemory(64);
      const other = openTeeContext(b.driver);
      const foreign = await other.allocSharedMemory(64);
      const cases: TeeParam[] = [
        teeMemref(TeeParamType.MEMREF_INPUT, shm, 60, 8),
        teeMemref(TeeParamType.MEMREF_INPUT, shm, -1, 4),
        teeMemref(TeeParamType.MEMREF_INPUT, foreign, 0, 4),
      ];
      for (const p of cases) {
        const e = await teeError(s.invoke(PtaScmiCommand.PROCESS_MSG_CHANNEL, [p]));
        expect([e.result, e.origin]).toEqual([TeeResult.BAD_PARAMETERS, TeeOrigin.API]);
      }
      await shm.free();
      const e = await teeError(s.invoke(0, [teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4)]));
      expect(e.origin).toBe(TeeOrigin.API);
      await other.close();
      await b.close();
    });

    it('should reject with the PTA result and the returned parameters', async () => {
      const b = createTeeBench();
      const s = await b.context.openSession(PTA_SCMI_UUID);
      const e = await teeError(s.invoke(0x77, []));
      expect([e.result, e.origin, e.params]).toEqual([
        TeeResult.NOT_SUPPORTED,
        TeeOrigin.TRUSTED_APP,
        [],
      ]);
      expect(e.message).toContain('TEE_ERROR_NOT_SUPPORTED');
      await b.close();
    });

    it('should fail on a closed session or context with BAD_STATE from the API', async () => {
      const b = createTeeBench();
      const s = await b.context.openSession(PTA_SCMI_UUID);
      await s.close();
      await expect(s.close()).resolves.toBeUndefined();
      expect((await teeError(s.invoke(0, []))).result).toBe(TeeResult.BAD_STATE);
      await b.context.close();
      expect((await teeError(b.context.openSession(PTA_SCMI_UUID))).result).toBe(
        TeeResult.BAD_STATE,
      );
      expect((await teeError(b.context.allocSharedMemory(8))).result).toBe(TeeResult.BAD_STATE);
      await b.close();
    });
  });

  describe('.allocSharedMemory', () => {
    it('should register zeroed memory with the TEE and unregister it when freed', async () => {
      const b = createTeeBench();
      const shm = await b.context.allocSharedMemory(100);
      expect(shm.size).toBe(100);
      expect(shm.bytes.every((x) => x === 0)).toBe(true);
      expect(b.optee.stats.registeredShm).toBe(1);
      expect(b.context.sharedMemoryCount).toBe(1);
      await shm.free();
      await shm.free();
      expect(shm.freed).toBe(true);
      expect(b.optee.stats.registeredShm).toBe(0);
      expect(b.context.sharedMemoryCount).toBe(0);
      await b.close();
    });

    it('should fail with OUT_OF_MEMORY when the pool is exhausted, and reuse freed memory', async () => {
      const b = createTeeBench({ wire: { shmPoolSize: 256 } });
      const a = await b.context.allocSharedMemory(200);
      const e = await teeError(b.context.allocSharedMemory(100));
      expect([e.result, e.origin]).toEqual([TeeResult.OUT_OF_MEMORY, TeeOrigin.COMMS]);
      await a.free();
      const again = await b.context.allocSharedMemory(256);
      expect(again.size).toBe(256);
      await b.close();
    });

    it('should refuse a size that is not a positive integer', async () => {
      const b = createTeeBench();
      for (const size of [0, -4, 1.5]) {
        expect((await teeError(b.context.allocSharedMemory(size))).result).toBe(
          TeeResult.BAD_PARAMETERS,
        );
      }
      await b.close();
    });
  });

  describe('.cancel', () => {
    it('should send a cancel request for an invocation the PTA holds until cancelled', async () => {
      const b = createTeeBench();
      b.optee.faults.add({ action: { kind: 'hang-until-cancel' } });
      const s = await b.context.openSession(PTA_SCMI_UUID);
      await s.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [teeValue(TeeParamType.VALUE_INOUT, 0, 1)]);
      const hung = teeError(
        s.invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL, [teeValue(TeeParamType.VALUE_INPUT, 0)], {
          cancelId: 7,
        }),
      );
      await b.clock.runUntilIdle(100);
      await b.context.cancel(s, 7);
      const e = await hung;
      expect([e.result, e.origin]).toEqual([TeeResult.CANCEL, TeeOrigin.TRUSTED_APP]);
      expect(b.optee.stats.cancelRequests).toBe(1);
      expect(b.optee.stats.cancelledInvocations).toBe(1);
      expect(b.optee.faults.counts['hang-until-cancel']).toBe(1);
      await b.close();
    });

    it('should refuse to cancel in a session the context does not hold', async () => {
      const b = createTeeBench();
      const s = await b.context.openSession(PTA_SCMI_UUID);
      const other = openTeeContext(b.driver);
      expect((await teeError(other.cancel(s, 1))).result).toBe(TeeResult.BAD_STATE);
      await other.close();
      await b.close();
    });
  });

  describe('.close', () => {
    it('should close the sessions and free the memory left, newest first', async () => {
      const b = createTeeBench();
      const s1 = await b.context.openSession(PTA_SCMI_UUID);
      const s2 = await b.context.openSession(PTA_SCMI_UUID);
      const shm: TeeSharedMemory = await b.context.allocSharedMemory(16);
      await b.context.close();
      await b.context.close();
      expect([s1.closed, s2.closed, shm.freed]).toEqual([true, true, true]);
      expect(b.optee.stats.openSessions).toBe(0);
      expect(b.optee.stats.registeredShm).toBe(0);
      await b.close();
    });

    it('should collect failures into an AggregateError when the TEE is gone', async () => {
      const b = createTeeBench();
      await b.context.openSession(PTA_SCMI_UUID);
      b.optee.close();
      await expect(b.context.close()).rejects.toBeInstanceOf(AggregateError);
      expect(b.context.sessionCount).toBe(0);
      await b.close();
    });
  });

  describe('.systemSession', () => {
    /** Its TeeError, thrown synchronously. */
    function thrown(f: () => void): TeeError {
      try {
        f();
      } catch (e) {
        if (TeeError.is(e)) return e;
        throw e;
      }
      throw new Error('expected a TeeError');
    }

    it('should make the session a system session once, until it closes', async () => {
      const b = createTeeBench();
      const s = await b.context.openSession(PTA_SCMI_UUID);
      expect(s.usesSystemThread).toBe(false);
      b.context.systemSession(s);
      b.context.systemSession(s);
      expect(s.usesSystemThread).toBe(true);
      expect(b.driver.stats.systemSessions).toBe(1);
      await s.close();
      expect(b.driver.stats.systemSessions).toBe(0);
      expect(s.usesSystemThread).toBe(true);
      await b.close();
    });

    it('should refuse with BAD_STATE from the API a closed or foreign session, and a closed context', async () => {
      const b = createTeeBench();
      const other = openTeeContext(b.driver);
      const foreign = await other.openSession(PTA_SCMI_UUID);
      const closed = await b.context.openSession(PTA_SCMI_UUID);
      await closed.close();
      const open = await b.context.openSession(PTA_SCMI_UUID);
      for (const [context, session] of [
        [b.context, foreign],
        [b.context, closed],
      ] as const) {
        const e = thrown(() => context.systemSession(session));
        expect([e.result, e.origin]).toEqual([TeeResult.BAD_STATE, TeeOrigin.API]);
        expect(e.message).toMatch(/not open in this context/);
      }
      await b.context.close();
      const e = thrown(() => b.context.systemSession(open));
      expect([e.result, e.origin]).toEqual([TeeResult.BAD_STATE, TeeOrigin.API]);
      expect(b.driver.stats.systemSessions).toBe(0);
      await other.close();
      await b.close();
    });

    it('should refuse with NOT_SUPPORTED a driver without system sessions (API) or one that does not know its threads (COMMS)', async () => {
      const b = createTeeBench({ driver: { knowsThreadCount: false } });
      const s = await b.context.openSession(PTA_SCMI_UUID);
      const refused = thrown(() => b.context.systemSession(s));
      expect([refused.result, refused.origin]).toEqual([TeeResult.NOT_SUPPORTED, TeeOrigin.COMMS]);
      expect(s.usesSystemThread).toBe(false);
      // The session still works, as a normal one.
      await s.invoke(PtaScmiCommand.CAPABILITIES, [teeValue(TeeParamType.VALUE_OUTPUT)]);
      // A driver whose ops have no system_session (Linux's OP-TEE driver over FF-A).
      const ffa = withoutSystemSessions(b.driver);
      const context = openTeeContext(ffa);
      const t = await context.openSession(PTA_SCMI_UUID);
      const none = thrown(() => context.systemSession(t));
      expect([none.result, none.origin]).toEqual([TeeResult.NOT_SUPPORTED, TeeOrigin.API]);
      await context.close();
      await b.close();
    });
  });

  describe('options.signal (a caller that gives up)', () => {
    const NOT_A_SIGNAL = { aborted: false } as unknown as AbortSignal;

    /** Holds every call return until the test delivers it (`held`). */
    function holdReturns(b: ReturnType<typeof createTeeBench>): (() => void)[] {
      const held: (() => void)[] = [];
      b.driver.setReturnInterceptor((deliver) => held.push(deliver));
      return held;
    }

    it('should close a session the TEE opened after the signal fired, and reject with CANCEL from the API', async () => {
      const b = createTeeBench();
      const held = holdReturns(b);
      const abort = new AbortController();
      const opening = teeError(b.context.openSession(PTA_SCMI_UUID, { signal: abort.signal }));
      await b.clock.runUntilIdle(10);
      // The TEE has the call (posted at once): the signal cannot withdraw it any more.
      expect(held).toHaveLength(1);
      expect(b.optee.stats.openSessions).toBe(1);
      abort.abort();
      b.driver.setReturnInterceptor(undefined);
      held[0]?.();
      const e = await opening;
      expect([e.result, e.origin]).toEqual([TeeResult.CANCEL, TeeOrigin.API]);
      expect(b.optee.stats.openSessions).toBe(0);
      expect(b.context.sessionCount).toBe(0);
      await b.close();
    });

    it('should free memory the TEE registered after the signal fired, and reject with CANCEL from the API', async () => {
      const b = createTeeBench();
      const held = holdReturns(b);
      const abort = new AbortController();
      const allocating = teeError(b.context.allocSharedMemory(64, { signal: abort.signal }));
      await b.clock.runUntilIdle(10);
      expect(b.optee.stats.registeredShm).toBe(1);
      abort.abort();
      b.driver.setReturnInterceptor(undefined);
      held[0]?.();
      const e = await allocating;
      expect([e.result, e.origin]).toEqual([TeeResult.CANCEL, TeeOrigin.API]);
      expect(b.optee.stats.registeredShm).toBe(0);
      expect(b.context.sharedMemoryCount).toBe(0);
      expect(b.driver.stats.sharedMemory).toBe(0);
      await b.close();
    });

    it('should post nothing for a signal that fired already, and refuse a signal that is not an AbortSignal', async () => {
      const b = createTeeBench();
      const s = await b.context.openSession(PTA_SCMI_UUID);
      const calls = b.driver.stats.calls;
      const aborted = AbortSignal.abort();
      for (const [call, origin] of [
        [b.context.openSession(PTA_SCMI_UUID, { signal: aborted }), TeeOrigin.API],
        [b.context.allocSharedMemory(64, { signal: aborted }), TeeOrigin.API],
        // Withdrawn by the driver (an invocation has nothing to undo): from COMMS.
        [s.invoke(PtaScmiCommand.CAPABILITIES, [], { signal: aborted }), TeeOrigin.COMMS],
      ] as const) {
        const e = await teeError(call);
        expect([e.result, e.origin]).toEqual([TeeResult.CANCEL, origin]);
      }
      for (const call of [
        b.context.openSession(PTA_SCMI_UUID, { signal: NOT_A_SIGNAL }),
        b.context.allocSharedMemory(64, { signal: NOT_A_SIGNAL }),
        s.invoke(PtaScmiCommand.CAPABILITIES, [], { signal: NOT_A_SIGNAL }),
      ]) {
        const e = await teeError(call);
        expect([e.result, e.origin]).toEqual([TeeResult.BAD_PARAMETERS, TeeOrigin.API]);
        expect(e.message).toMatch(/signal is not an AbortSignal/);
      }
      expect(b.driver.stats.calls).toBe(calls);
      expect(b.context).toMatchObject({ sessionCount: 1, sharedMemoryCount: 0 });
      await b.close();
    });

    it("should resolve an invocation the TEE had when the signal fired with the TEE's answer", async () => {
      const b = createTeeBench();
      const s = await b.context.openSession(PTA_SCMI_UUID);
      const held = holdReturns(b);
      const abort = new AbortController();
      const invoking = s.invoke(
        PtaScmiCommand.CAPABILITIES,
        [teeValue(TeeParamType.VALUE_OUTPUT)],
        {
          signal: abort.signal,
        },
      );
      await b.clock.runUntilIdle(10);
      abort.abort();
      held[0]?.();
      const { params } = await invoking;
      expect((params[0] as TeeValueParam).a).not.toBe(0);
      b.driver.setReturnInterceptor(undefined);
      await b.close();
    });
  });

  describe(openTeeContext, () => {
    it('should refuse a closed driver', async () => {
      const b = createTeeBench();
      b.driver.close();
      expect(() => openTeeContext(b.driver)).toThrow(TeeError);
      await b.close();
    });
  });

  it('should return value outputs of GET_CHANNEL_HANDLE', async () => {
    const b = createTeeBench();
    const s = await b.context.openSession(PTA_SCMI_UUID);
    const r = await s.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [
      teeValue(TeeParamType.VALUE_INOUT, 1, 2),
    ]);
    expect((r.params[0] as TeeValueParam).a).toBe(1);
    await b.close();
  });
});
