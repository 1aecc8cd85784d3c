import { getEventListeners } from 'node:events';
import { VirtualClock, buildHeader, writeU32 } from '@scmi-ts/core';
import {
  OpteeDriver,
  PTA_SCMI_UUID,
  PtaScmiCaps,
  PtaScmiCommand,
  TeeError,
  TeeLogin,
  TeeOrigin,
  TeeParamType,
  TeeResult,
  createSameThreadOpteeWire,
  openTeeContext,
  parseTeeUuid,
  teeMemref,
  teeValue,
  type SameThreadOpteeWire,
  type TeeCallResult,
  type TeeSession,
  type TeeSharedMemory,
} from '../src/index.js';
import {
  OpteeCallState,
  OpteeMsgCmd,
  SLOT_CMD,
  SLOT_SESSION,
  SLOT_STATE,
} from '../src/wire/optee-msg-arg.js';
import { serveTeeCalls } from './support/test-secure-world.js';
import { HoldPtaCommand, addHoldPta, holdCall, openHoldSession } from './support/hold-pta.js';
import { createTeeBench, type TeeBench } from './support/tee-bench.js';

function hang(s: TeeSession, cancelId: number): Promise<number> {
  return s
    .invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL, [teeValue(TeeParamType.VALUE_INPUT, 0)], {
      cancelId,
    })
    .then(
      () => TeeResult.SUCCESS,
      (e: unknown) => (TeeError.is(e) ? e.result : -1),
    );
}

/** Starts a MSG invocation on channel 1 whose request and response live in `shm`. */
function processMsg(s: TeeSession, shm: TeeSharedMemory, cancelId: number): Promise<number> {
  writeU32(shm.bytes, 0, buildHeader(0x0, 0, 0x10, 1));
  return s
    .invoke(
      PtaScmiCommand.PROCESS_MSG_CHANNEL,
      [
        teeValue(TeeParamType.VALUE_INPUT, 1),
        teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
        teeMemref(TeeParamType.MEMREF_OUTPUT, shm),
      ],
      { cancelId },
    )
    .then(
      () => TeeResult.SUCCESS,
      (e: unknown) => (TeeError.is(e) ? e.result : -1),
    );
}

/**
 * A secure world of the test's own on the wire (no EmulatedOptee): it answers every call at once
 * with `answer(cmd)`, origin TEE — a confused or hostile secure world when the answer is wrong.
 */
function scriptedTee(wire: SameThreadOpteeWire, answer: (cmd: number) => number): void {
  serveTeeCalls(wire, (call) => {
    call.return(answer(call.cmd));
  });
}

async function smtSession(b: ReturnType<typeof createTeeBench>): Promise<TeeSession> {
  const s = await b.context.openSession(PTA_SCMI_UUID);
  await s.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [teeValue(TeeParamType.VALUE_INOUT, 0, 1)]);
  return s;
}

/**
 * A MSG invocation on channel 1 that references `size` bytes of registered memory and hangs until
 * cancelled with `cancelId` (the secure world still owns the memory while it runs).
 */
async function hungMsgInvocation(
  b: ReturnType<typeof createTeeBench>,
  size: number,
  cancelId: number,
): Promise<{ s: TeeSession; shm: TeeSharedMemory; hung: Promise<number> }> {
  b.optee.faults.add({ match: { times: 1 }, action: { kind: 'hang-until-cancel' } });
  const s = await b.context.openSession(PTA_SCMI_UUID);
  await s.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [
    teeValue(TeeParamType.VALUE_INOUT, 1, PtaScmiCaps.MSG_HEADER),
  ]);
  const shm = await b.context.allocSharedMemory(size);
  const hung = processMsg(s, shm, cancelId);
  await b.clock.runUntilIdle(10);
  return { s, shm, hung };
}

/**
 * A bench of `threads` OP-TEE threads with the hold PTA: `system` hold sessions declared system
 * sessions, and `normal` others.
 */
async function reservationBench(threads: number, system: number, normal: number) {
  const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads } });
  const pta = addHoldPta(b.optee);
  const sys: TeeSession[] = [];
  for (let i = 0; i < system; i++) {
    const s = await openHoldSession(b.context);
    b.context.systemSession(s);
    sys.push(s);
  }
  const norm: TeeSession[] = [];
  for (let i = 0; i < normal; i++) norm.push(await openHoldSession(b.context));
  return { b, pta, sys, norm };
}

describe(OpteeDriver, () => {
  it('should refuse the secure world end of a wire', () => {
    const b = createTeeBench();
    expect(() => new OpteeDriver(b.wire.tee)).toThrow(/normal world/);
    return b.close();
  });

  it('should queue a call beyond the OP-TEE threads (a cancel request too) and fail every pending call when it closes', async () => {
    const b = createTeeBench({ wire: { channels: [{ id: 0, staticShmem: true }], threads: 2 } });
    b.optee.faults.add({ action: { kind: 'hang-until-cancel' } });
    const s1 = await smtSession(b);
    const s2 = await smtSession(b);
    const h1 = hang(s1, 1);
    const h2 = hang(s2, 2);
    await b.clock.runUntilIdle(10);
    // Both threads are taken: the cancel request waits for one.
    const cancel = b.context.cancel(s1, 1);
    await b.clock.runUntilIdle(10);
    expect(b.driver.stats).toMatchObject({ inFlight: 3, waitedForThread: 1 });
    // Every thread hangs until cancelled, and the cancel waits for a thread: only closing ends it.
    b.driver.close();
    expect(await h1).toBe(TeeResult.COMMUNICATION);
    expect(await h2).toBe(TeeResult.COMMUNICATION);
    await expect(cancel).rejects.toMatchObject({
      result: TeeResult.COMMUNICATION,
      origin: TeeOrigin.COMMS,
    });
    await b.close();
  });

  it('should post a queued call once a thread returns', async () => {
    const b = createTeeBench({ wire: { channels: [{ id: 0, staticShmem: true }], threads: 2 } });
    b.optee.faults.add({ action: { kind: 'hang-until-cancel' }, match: { times: 1 } });
    const s1 = await smtSession(b);
    const h1 = hang(s1, 1);
    await b.clock.runUntilIdle(10);
    // One thread left: a cancel takes it and returns; the hung invocation then returns too.
    await b.context.cancel(s1, 1);
    expect(await h1).toBe(TeeResult.CANCEL);
    expect(b.driver.stats.inFlight).toBe(0);
    await b.close();
  });

  it('should hold returns with an interceptor and deliver them when told', async () => {
    const b = createTeeBench();
    const held: (() => void)[] = [];
    b.driver.setReturnInterceptor((deliver) => held.push(deliver));
    const opening = b.context.openSession(PTA_SCMI_UUID);
    let opened = false;
    void opening.then(() => (opened = true));
    await b.clock.runUntilIdle(10);
    expect(held).toHaveLength(1);
    expect(opened).toBe(false);
    b.driver.setReturnInterceptor(undefined);
    held[0]?.();
    held[0]?.();
    const s = await opening;
    expect(s.id).toBeGreaterThan(0);
    await b.close();
  });

  it('should drop a held return once the driver is closed', async () => {
    const b = createTeeBench();
    const held: (() => void)[] = [];
    b.driver.setReturnInterceptor((deliver) => held.push(deliver));
    const opening = b.context.openSession(PTA_SCMI_UUID).catch((e: unknown) => e);
    await b.clock.runUntilIdle(10);
    b.driver.close();
    held[0]?.();
    expect(await opening).toMatchObject({ result: TeeResult.COMMUNICATION });
    await b.close();
  });

  it('should answer TARGET_DEAD for running calls and new calls once the TEE is gone', async () => {
    const b = createTeeBench();
    b.optee.faults.add({ action: { kind: 'hang-until-cancel' } });
    const s = await smtSession(b);
    const h = hang(s, 1);
    await b.clock.runUntilIdle(10);
    b.optee.close();
    expect(await h).toBe(TeeResult.TARGET_DEAD);
    await expect(
      s.invoke(PtaScmiCommand.CAPABILITIES, [teeValue(TeeParamType.VALUE_OUTPUT)]),
    ).rejects.toMatchObject({
      result: TeeResult.TARGET_DEAD,
      origin: TeeOrigin.COMMS,
    });
    await b.close();
  });

  it('should count and give back a return for a slot it never posted', async () => {
    const b = createTeeBench();
    const words = new Int32Array(b.wire.ree.memory);
    const slot = b.wire.ree.layout.slotOffset(3) / 4;
    Atomics.store(words, slot, 3); // RETURNED, from a confused secure world
    b.wire.tee.doorbell.ring();
    await b.clock.runUntilIdle(10);
    expect(b.driver.stats.strayReturns).toBe(1);
    expect(Atomics.load(words, slot)).toBe(0);
    // The driver still works.
    await (await b.context.openSession(PTA_SCMI_UUID)).close();
    await b.close();
  });

  it('should post a queued call into a slot a stray return gave back', async () => {
    const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 2 } });
    const words = new Int32Array(b.wire.ree.memory);
    const states = [0, 1].map((slot) => b.wire.ree.layout.slotOffset(slot) / 4);
    for (const state of states) Atomics.store(words, state, 3); // RETURNED, never posted by us
    // Queued: no slot is FREE.
    const opening = b.driver.openSession(parseTeeUuid(PTA_SCMI_UUID), TeeLogin.REE_KERNEL);
    expect(b.driver.stats.waitedForThread).toBe(1);
    b.wire.tee.doorbell.ring(); // the confused secure world rings: both slots come back
    await b.clock.runUntilIdle(10);
    expect(b.driver.stats.strayReturns).toBe(2);
    expect((await opening).result).toBe(TeeResult.SUCCESS);
    await b.close();
  });

  it('should answer an OPEN_SESSION whose UUID is not 16 bytes with BAD_PARAMETERS, posting nothing', async () => {
    const b = createTeeBench();
    await expect(b.driver.openSession(new Uint8Array(17), 0)).resolves.toMatchObject({
      result: TeeResult.BAD_PARAMETERS,
      origin: TeeOrigin.COMMS,
    });
    expect(b.driver.stats.calls).toBe(0);
    await b.close();
  });

  it('should fail pending and later calls with TARGET_DEAD when the TEE died without closing', async () => {
    const b = createTeeBench();
    b.optee.faults.add({ action: { kind: 'hang-until-cancel' } });
    const s = await smtSession(b);
    const h = hang(s, 1);
    await b.clock.runUntilIdle(10);
    b.driver.teeDied(); // as when the secure world's thread exits: nothing will ever return
    b.driver.teeDied();
    expect(await h).toBe(TeeResult.TARGET_DEAD);
    await expect(b.driver.openSession(new Uint8Array(16), 0)).resolves.toMatchObject({
      result: TeeResult.TARGET_DEAD,
      origin: TeeOrigin.COMMS,
    });
    expect(b.driver.closed).toBe(true);
    await b.close();
  });

  it('should not use a slot the secure world has not given back', async () => {
    const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 2 } });
    const words = new Int32Array(b.wire.ree.memory);
    Atomics.store(words, b.wire.ree.layout.slotOffset(0) / 4, 2); // RUNNING, never returned
    const s = await b.context.openSession(PTA_SCMI_UUID);
    expect(s.id).toBeGreaterThan(0);
    await b.close();
  });

  it('should fail every call after close with COMMUNICATION from COMMS, and close once', async () => {
    const b = createTeeBench();
    b.driver.close();
    b.driver.close();
    expect(b.driver.closed).toBe(true);
    await expect(b.driver.openSession(new Uint8Array(16), 0)).resolves.toMatchObject({
      result: TeeResult.COMMUNICATION,
      origin: TeeOrigin.COMMS,
    });
    await expect(b.driver.allocSharedMemory(8)).rejects.toMatchObject({
      result: TeeResult.COMMUNICATION,
    });
    await b.close();
  });

  it('should keep the registration dropped when unregistering fails because the TEE is gone', async () => {
    const b = createTeeBench();
    const shm = await b.context.allocSharedMemory(64);
    b.optee.close();
    await expect(shm.free()).rejects.toMatchObject({ result: TeeResult.TARGET_DEAD });
    // The pool has the bytes back: allocating all of it gets as far as registering it (which
    // the dead TEE refuses), not OUT_OF_MEMORY.
    const again = await b.driver
      .allocSharedMemory(b.wire.ree.layout.poolSize)
      .catch((e: unknown) => e);
    expect(again).toMatchObject({ result: TeeResult.TARGET_DEAD });
    await b.close();
  });

  describe('.allocSharedMemory, then free', () => {
    it('should wait for the invocation that references the memory, then unregister it and reuse its bytes', async () => {
      const b = createTeeBench();
      const { s, shm, hung } = await hungMsgInvocation(b, 128, 7);
      const offset = shm.bytes.byteOffset;
      let freed = false;
      const freeing = shm.free().then(() => (freed = true));
      await b.clock.runUntilIdle(10);
      // The secure world still runs an invocation that writes the memory: nothing was asked of
      // it yet, the memory is still registered and still ours to keep.
      expect(freed).toBe(false);
      expect(b.optee.stats.registeredShm).toBe(1);
      expect(b.driver.stats.sharedMemory).toBe(1);
      await b.context.cancel(s, 7);
      expect(await hung).toBe(TeeResult.CANCEL);
      await freeing;
      expect(b.optee.stats.registeredShm).toBe(0);
      expect(b.driver.stats).toMatchObject({ sharedMemory: 0, leakedSharedMemory: 0 });
      // Its bytes are back in the pool.
      expect((await b.context.allocSharedMemory(128)).bytes.byteOffset).toBe(offset);
      await b.close();
    });

    it('should refuse a call that references memory being freed, without posting it', async () => {
      const b = createTeeBench();
      const { s, shm, hung } = await hungMsgInvocation(b, 64, 3);
      const freeing = shm.free();
      const calls = b.driver.stats.calls;
      // Below the client API (which refuses freed memory itself): the driver refuses it too.
      const r = await b.driver.invoke(s.id, PtaScmiCommand.PROCESS_MSG_CHANNEL, 0, [
        teeValue(TeeParamType.VALUE_INPUT, 1),
        teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
      ]);
      expect(r).toMatchObject({ result: TeeResult.BAD_PARAMETERS, origin: TeeOrigin.COMMS });
      expect(b.driver.stats.calls).toBe(calls);
      await b.context.cancel(s, 3);
      expect(await hung).toBe(TeeResult.CANCEL);
      await freeing;
      expect(b.driver.stats.sharedMemory).toBe(0);
      await b.close();
    });

    it('should give the memory back without asking the TEE when the driver closes during the wait', async () => {
      const b = createTeeBench();
      const { shm, hung } = await hungMsgInvocation(b, 64, 1);
      const freeing = shm.free();
      await b.clock.runUntilIdle(10);
      b.driver.close();
      expect(await hung).toBe(TeeResult.COMMUNICATION);
      await expect(freeing).resolves.toBeUndefined();
      expect(b.driver.stats).toMatchObject({
        sharedMemory: 0,
        leakedSharedMemory: 0,
        inFlight: 0,
      });
      await b.close();
    });

    it('should keep memory the secure world refuses to unregister out of the pool, and throw its refusal', async () => {
      const clock = new VirtualClock({ auto: true });
      const wire = createSameThreadOpteeWire(clock, { channels: [{ id: 0 }], shmPoolSize: 256 });
      // Registers, then refuses every unregistration although no call references the memory.
      scriptedTee(wire, (cmd) =>
        cmd === (OpteeMsgCmd.UNREGISTER_SHM as number) ? TeeResult.BUSY : TeeResult.SUCCESS,
      );
      const driver = new OpteeDriver(wire.ree);
      const shm = await driver.allocSharedMemory(100);
      const e = await shm.free().catch((x: unknown) => x);
      expect(TeeError.is(e) && [e.result, e.origin]).toEqual([TeeResult.BUSY, TeeOrigin.TEE]);
      expect(driver.stats).toMatchObject({
        sharedMemory: 0,
        leakedSharedMemory: 1,
        leakedBytes: 104,
      });
      // The next allocation does not get the bytes the secure world may still write.
      const next = await driver.allocSharedMemory(100);
      expect(next.bytes.byteOffset).toBe(shm.bytes.byteOffset + 104);
      await expect(driver.allocSharedMemory(256 - 104)).rejects.toMatchObject({
        result: TeeResult.OUT_OF_MEMORY,
      });
      driver.close();
      wire.tee.doorbell.close();
      await clock.runUntilIdle(10);
    });
  });
  describe('.submit with stillWanted (a caller that may withdraw a call waiting for a thread)', () => {
    /** Submits ECHO labelled `label` in `s`; `wanted` (when given) is its stillWanted answer. */
    function echo(
      b: ReturnType<typeof createTeeBench>,
      s: TeeSession,
      label: number,
      log: { asked: number[]; returned: Map<number, TeeCallResult> },
      wanted?: boolean,
    ): void {
      b.driver.submit(
        s.id,
        HoldPtaCommand.ECHO,
        0,
        [teeValue(TeeParamType.VALUE_INPUT, label)],
        (r) => log.returned.set(label, r),
        wanted === undefined ? undefined : () => (log.asked.push(label), wanted),
      );
    }

    it('should ask a queued call when a thread frees for it, withdraw it unposted when it answers false, and never ask a call posted at once', async () => {
      const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 2 } });
      const pta = addHoldPta(b.optee);
      // One session per call: the emulated OP-TEE runs a session's invocations one at a time.
      const s: TeeSession[] = [];
      for (let i = 0; i < 5; i++) s.push(await openHoldSession(b.context));
      const holds = [1, 2].map((l) => holdCall(s[l - 1] as TeeSession, HoldPtaCommand.HOLD, l));
      await b.clock.runUntilIdle(10);
      const log = { asked: [] as number[], returned: new Map<number, TeeCallResult>() };
      echo(b, s[2] as TeeSession, 3, log, false);
      echo(b, s[3] as TeeSession, 4, log, true);
      await b.clock.runUntilIdle(10);
      // Not asked while they wait and no thread frees.
      expect(log.asked).toEqual([]);
      expect(b.driver.stats).toMatchObject({ waitedForThread: 2, inFlight: 4, withdrawn: 0 });
      const calls = b.optee.stats.calls;

      pta.release(1);
      await b.clock.runUntilIdle(10);
      // The freed thread: 3 is asked and withdrawn, 4 is asked and takes it.
      expect(log.asked).toEqual([3, 4]);
      expect(log.returned.get(3)).toEqual({
        result: TeeResult.CANCEL,
        origin: TeeOrigin.COMMS,
        session: 0,
        params: [],
      });
      expect(log.returned.get(4)?.result).toBe(TeeResult.SUCCESS);
      expect(pta.arrivals).toEqual([1, 2, 4]);
      expect(b.optee.stats.calls).toBe(calls + 1);
      expect(b.driver.stats).toMatchObject({ withdrawn: 1, inFlight: 1 });

      // A thread is free: a call posted at once is never asked, whatever it would answer.
      echo(b, s[4] as TeeSession, 5, log, false);
      await b.clock.runUntilIdle(10);
      expect(log.asked).toEqual([3, 4]);
      expect(log.returned.get(5)?.result).toBe(TeeResult.SUCCESS);
      expect(pta.arrivals).toEqual([1, 2, 4, 5]);
      expect(b.driver.stats).toMatchObject({ withdrawn: 1, waitedForThread: 2 });
      pta.release();
      expect(await Promise.all(holds)).toEqual([0, 0]);
      await b.close();
    });

    it('should ask a waiting system call too, before the others, and post nothing it withdrew', async () => {
      // Three threads, one kept for the three system sessions; two normal calls and a system
      // call take all three.
      const { b, pta, sys, norm } = await reservationBench(3, 3, 2);
      const holds = [1, 2].map((l) => holdCall(norm[l - 1] as TeeSession, HoldPtaCommand.HOLD, l));
      const sysHold = holdCall(sys[0] as TeeSession, HoldPtaCommand.HOLD, 10);
      await b.clock.runUntilIdle(10);
      expect(pta.arrivals).toEqual([1, 2, 10]);
      const log = { asked: [] as number[], returned: new Map<number, TeeCallResult>() };
      echo(b, sys[1] as TeeSession, 20, log, false);
      echo(b, sys[2] as TeeSession, 30, log, true);
      await b.clock.runUntilIdle(10);
      expect(b.driver.stats).toMatchObject({ waitedForThread: 2, systemCalls: 1 });

      pta.release(10);
      await b.clock.runUntilIdle(10);
      // The kept thread frees: 20 is asked and withdrawn, 30 takes it.
      expect(log.asked).toEqual([20, 30]);
      expect(log.returned.get(20)).toMatchObject({
        result: TeeResult.CANCEL,
        origin: TeeOrigin.COMMS,
      });
      expect(log.returned.get(30)?.result).toBe(TeeResult.SUCCESS);
      expect(pta.arrivals).toEqual([1, 2, 10, 30]);
      // The withdrawn call was never posted: not a system call, nor one on the kept thread.
      expect(b.driver.stats).toMatchObject({
        withdrawn: 1,
        systemCalls: 2,
        reservedThreadCalls: 2,
      });
      expect(await sysHold).toBe(TeeResult.SUCCESS);
      pta.release();
      expect(await Promise.all(holds)).toEqual([0, 0]);
      await b.close();
    });
  });

  describe('a signal (a caller that gives up a call waiting for a thread)', () => {
    /** Two threads, both held by the hold PTA, and `free` more hold sessions for the test. */
    async function everyThreadHeld(free: number) {
      const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 2 } });
      const pta = addHoldPta(b.optee);
      const s: TeeSession[] = [];
      for (let i = 0; i < 2 + free; i++) s.push(await openHoldSession(b.context));
      const holds = [1, 2].map((l) => holdCall(s[l - 1] as TeeSession, HoldPtaCommand.HOLD, l));
      await b.clock.runUntilIdle(10);
      return { b, pta, s, holds };
    }

    function echo(b: TeeBench, s: TeeSession, label: number, signal?: AbortSignal) {
      return b.driver.invoke(
        s.id,
        HoldPtaCommand.ECHO,
        0,
        [teeValue(TeeParamType.VALUE_INPUT, label)],
        signal,
      );
    }

    const CANCELLED = { result: TeeResult.CANCEL, origin: TeeOrigin.COMMS, session: 0, params: [] };

    it('should withdraw a queued invocation at once when the signal fires, never posting it, and keep the turn of the calls behind it', async () => {
      const { b, pta, s, holds } = await everyThreadHeld(2);
      const abort = new AbortController();
      const given = echo(b, s[2] as TeeSession, 3, abort.signal);
      const behind = echo(b, s[3] as TeeSession, 4);
      await b.clock.runUntilIdle(10);
      expect(b.driver.stats).toMatchObject({ waitedForThread: 2, inFlight: 4, withdrawn: 0 });
      expect(getEventListeners(abort.signal, 'abort')).toHaveLength(1);
      const calls = b.driver.stats.calls;

      // No thread frees: the abort alone ends it.
      abort.abort();
      expect(await given).toEqual(CANCELLED);
      expect(b.driver.stats).toMatchObject({ withdrawn: 1, inFlight: 3 });
      expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);

      pta.release(1);
      await b.clock.runUntilIdle(10);
      expect((await behind).result).toBe(TeeResult.SUCCESS);
      expect(pta.arrivals).toEqual([1, 2, 4]);
      expect(b.driver.stats.calls).toBe(calls + 1);
      pta.release();
      expect(await Promise.all(holds)).toEqual([0, 0]);
      await b.close();
    });

    it('should post nothing for a signal that fired already, even with a thread free', async () => {
      const b = createTeeBench();
      const calls = b.driver.stats.calls;
      const r = await b.driver.openSession(
        parseTeeUuid(PTA_SCMI_UUID),
        TeeLogin.REE_KERNEL,
        AbortSignal.abort(),
      );
      expect(r).toEqual(CANCELLED);
      expect(b.driver.stats).toMatchObject({ calls, withdrawn: 1, inFlight: 0 });
      expect(b.optee.stats.openSessions).toBe(0);
      await b.close();
    });

    it('should let a posted call run to its end, and drop its listener once a queued call is posted', async () => {
      const { b, pta, s, holds } = await everyThreadHeld(2);
      const posted = new AbortController();
      const queued = new AbortController();
      /** HOLD labelled `label` in the test's session `label - 1`, with `signal`. */
      const hold = (label: number, signal: AbortSignal) =>
        b.driver.invoke(
          (s[label - 1] as TeeSession).id,
          HoldPtaCommand.HOLD,
          0,
          [teeValue(TeeParamType.VALUE_INPUT, label)],
          signal,
        );
      const waiting = hold(3, queued.signal);
      await b.clock.runUntilIdle(10);
      expect(getEventListeners(queued.signal, 'abort')).toHaveLength(1);
      pta.release(1);
      await b.clock.runUntilIdle(10);
      // The freed thread went to the queued call, which the TA holds: its signal no longer counts.
      expect(pta.held).toHaveLength(2);
      expect(getEventListeners(queued.signal, 'abort')).toHaveLength(0);
      queued.abort();
      pta.release(3);
      expect((await waiting).result).toBe(TeeResult.SUCCESS);

      // A thread is free: posted at once, no listener; the TA holds it while the signal fires.
      const held = hold(4, posted.signal);
      await b.clock.runUntilIdle(10);
      expect(getEventListeners(posted.signal, 'abort')).toHaveLength(0);
      posted.abort();
      pta.release(4);
      expect((await held).result).toBe(TeeResult.SUCCESS);
      expect(pta.arrivals).toEqual([1, 2, 3, 4]);
      expect(b.driver.stats.withdrawn).toBe(0);
      pta.release();
      expect(await Promise.all(holds)).toEqual([0, 0]);
      await b.close();
    });

    it('should withdraw a shared memory registration waiting for a thread, registering nothing and giving its bytes back', async () => {
      const { b, pta, holds } = await everyThreadHeld(0);
      const abort = new AbortController();
      const allocating = b.driver.allocSharedMemory(64, abort.signal);
      await b.clock.runUntilIdle(10);
      abort.abort();
      await expect(allocating).rejects.toMatchObject({
        result: TeeResult.CANCEL,
        origin: TeeOrigin.COMMS,
      });
      expect(b.optee.stats.registeredShm).toBe(0);
      expect(b.driver.stats).toMatchObject({ sharedMemory: 0, withdrawn: 1 });
      pta.release();
      expect(await Promise.all(holds)).toEqual([0, 0]);
      // The block went back to the pool: the next allocation has it.
      const first = await b.driver.allocSharedMemory(64);
      const offset = first.bytes.byteOffset;
      await first.free();
      const again = await b.driver.allocSharedMemory(64, new AbortController().signal);
      expect(again.bytes.byteOffset).toBe(offset);
      await again.free();
      await b.close();
    });

    it("should withdraw a call whose signal a caller's code fires during the pump without making the pump skip a waiting system call", async () => {
      // Three threads, one kept for system calls: two normal holds and a system one take them.
      const { b, pta, sys, norm } = await reservationBench(3, 3, 4);
      const holds = [
        holdCall(norm[0] as TeeSession, HoldPtaCommand.HOLD, 1),
        holdCall(norm[1] as TeeSession, HoldPtaCommand.HOLD, 2),
        holdCall(sys[0] as TeeSession, HoldPtaCommand.HOLD, 3),
      ];
      await b.clock.runUntilIdle(10);
      const abort = new AbortController();
      const normal = holdCall(norm[2] as TeeSession, HoldPtaCommand.ECHO, 10);
      const given = b.driver.invoke(
        (norm[3] as TeeSession).id,
        HoldPtaCommand.ECHO,
        0,
        [teeValue(TeeParamType.VALUE_INPUT, 11)],
        abort.signal,
      );
      const returned: TeeCallResult[] = [];
      // A system call whose stillWanted (run by the pump) fires the other call's signal.
      b.driver.submit(
        (sys[1] as TeeSession).id,
        HoldPtaCommand.ECHO,
        0,
        [teeValue(TeeParamType.VALUE_INPUT, 20)],
        (r) => returned.push(r),
        () => {
          abort.abort();
          return false;
        },
      );
      const system = holdCall(sys[2] as TeeSession, HoldPtaCommand.ECHO, 21);
      await b.clock.runUntilIdle(10);
      expect(b.driver.stats).toMatchObject({ inFlight: 7, withdrawn: 0 });

      // A normal thread frees: the normal call waiting is held back (the last thread is kept),
      // the system call that withdraws itself fires 11's signal, and the next system call (21)
      // takes the thread — not left waiting beside it.
      pta.release(1);
      await b.clock.runUntilIdle(10);
      expect(pta.arrivals).toEqual([1, 2, 3, 21]);
      expect(await system).toBe(TeeResult.SUCCESS);
      expect(returned.map((r) => r.result)).toEqual([TeeResult.CANCEL]);
      expect(await given).toEqual(CANCELLED);
      expect(b.driver.stats).toMatchObject({ withdrawn: 2, inFlight: 3 });
      pta.release();
      expect(await normal).toBe(TeeResult.SUCCESS);
      expect(await Promise.all(holds)).toEqual([0, 0, 0]);
      await b.close();
    });

    it("should drop a queued call's listener when the driver closes", async () => {
      const { b, s } = await everyThreadHeld(1);
      const abort = new AbortController();
      const waiting = echo(b, s[2] as TeeSession, 3, abort.signal);
      await b.clock.runUntilIdle(10);
      b.driver.close();
      expect((await waiting).result).toBe(TeeResult.COMMUNICATION);
      expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
      abort.abort();
      expect(b.driver.stats.withdrawn).toBe(0);
      await b.close();
    });
  });

  // Linux hands a returning call's thread to a waiter before the invoke returns to its caller
  // (optee_cq_wait_final: free_thread_count++, optee_cq_complete_one), so a caller that calls
  // again as soon as it learns of the return queues behind the calls that were waiting.
  describe('the order of waiting calls, against a caller that calls again from its completion', () => {
    it('should give the thread a call returns to the waiting calls before its caller calls again', async () => {
      const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 2 } });
      const pta = addHoldPta(b.optee);
      const s: TeeSession[] = [];
      for (let i = 0; i < 4; i++) s.push(await openHoldSession(b.context));
      let again: Promise<number> | undefined;
      // 1 holds a thread; its caller calls again (4) the moment it returns.
      b.driver.submit(
        s[0]?.id ?? 0,
        HoldPtaCommand.HOLD,
        0,
        [teeValue(TeeParamType.VALUE_INPUT, 1)],
        () => {
          again = holdCall(s[3] as TeeSession, HoldPtaCommand.HOLD, 4);
        },
      );
      const h2 = holdCall(s[1] as TeeSession, HoldPtaCommand.HOLD, 2);
      await b.clock.runUntilIdle(10);
      // Every thread taken: 3 waits for one.
      const h3 = holdCall(s[2] as TeeSession, HoldPtaCommand.HOLD, 3);
      await b.clock.runUntilIdle(10);
      expect(b.driver.stats.waitedForThread).toBe(1);

      pta.release(1);
      await b.clock.runUntilIdle(10);
      // 3 waited first: it takes the thread 1 gave back, and 4 waits behind it.
      expect(pta.arrivals).toEqual([1, 2, 3]);
      expect(b.driver.stats).toMatchObject({ waitedForThread: 2, inFlight: 3 });
      pta.release();
      await b.clock.runUntilIdle(10);
      pta.release();
      expect(await Promise.all([h2, h3, again])).toEqual([0, 0, 0]);
      expect(pta.arrivals).toEqual([1, 2, 3, 4]);
      await b.close();
    });

    it('should give the thread a withdrawn call leaves to the next waiting call before its caller calls again', async () => {
      const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 2 } });
      const pta = addHoldPta(b.optee);
      const s: TeeSession[] = [];
      for (let i = 0; i < 5; i++) s.push(await openHoldSession(b.context));
      const holds = [1, 2].map((l) => holdCall(s[l - 1] as TeeSession, HoldPtaCommand.HOLD, l));
      await b.clock.runUntilIdle(10);
      let again: Promise<number> | undefined;
      // 3 waits, and is withdrawn when a thread frees for it; its caller then calls again (5).
      b.driver.submit(
        s[2]?.id ?? 0,
        HoldPtaCommand.ECHO,
        0,
        [teeValue(TeeParamType.VALUE_INPUT, 3)],
        () => {
          again = holdCall(s[4] as TeeSession, HoldPtaCommand.HOLD, 5);
        },
        () => false,
      );
      const h4 = holdCall(s[3] as TeeSession, HoldPtaCommand.HOLD, 4);
      await b.clock.runUntilIdle(10);
      expect(b.driver.stats.waitedForThread).toBe(2);

      pta.release(1);
      await b.clock.runUntilIdle(10);
      // 4 waited behind 3: it takes the thread, and 5 waits behind it.
      expect(pta.arrivals).toEqual([1, 2, 4]);
      expect(b.driver.stats).toMatchObject({ withdrawn: 1, waitedForThread: 3, inFlight: 3 });
      pta.release();
      await b.clock.runUntilIdle(10);
      pta.release();
      expect(await Promise.all([...holds, h4, again])).toEqual([0, 0, 0, 0]);
      expect(pta.arrivals).toEqual([1, 2, 4, 5]);
      await b.close();
    });
  });

  it('should end every withdrawn call even when one caller throws from its onReturn', async () => {
    // A manual clock: the throw comes out of runTasks instead of an event-loop task.
    const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 2 }, auto: false });
    const pta = addHoldPta(b.optee);
    const drive = async <T>(p: Promise<T>): Promise<T> => {
      await b.clock.runUntilIdle(10);
      return p;
    };
    const s: TeeSession[] = [];
    for (let i = 0; i < 4; i++) s.push(await drive(openHoldSession(b.context)));
    const holds = [1, 2].map((l) => holdCall(s[l - 1] as TeeSession, HoldPtaCommand.HOLD, l));
    await b.clock.runUntilIdle(10);
    const got: string[] = [];
    for (const [k, session] of [s[2], s[3]].entries()) {
      b.driver.submit(
        (session as TeeSession).id,
        HoldPtaCommand.ECHO,
        0,
        [teeValue(TeeParamType.VALUE_INPUT, 3 + k)],
        (r) => {
          got.push(`x${k + 1}:${r.result === (TeeResult.CANCEL as number) ? 'cancel' : r.result}`);
          if (k === 0) throw new Error('onReturn broke its contract');
        },
        () => false,
      );
    }
    await b.clock.runUntilIdle(10);
    pta.release(1);
    // The first caller's throw goes on (it broke the contract), after both calls ended.
    await expect(b.clock.runUntilIdle(10)).rejects.toThrow('onReturn broke its contract');
    expect(got).toEqual(['x1:cancel', 'x2:cancel']);
    expect(b.driver.stats.withdrawn).toBe(2);
    await b.clock.runUntilIdle(10);
    pta.release();
    await b.clock.runUntilIdle(10);
    await drive(Promise.all(holds));
    await drive(b.close());
  });

  describe('.systemSession (Linux optee_system_session and the call queue)', () => {
    it('should keep the last free thread from a normal call while a system session is open, and let a system call take it', async () => {
      const { b, pta, sys, norm } = await reservationBench(3, 1, 3);
      expect(b.driver.stats).toMatchObject({ threadCount: 3, systemSessions: 1 });
      const h1 = holdCall(norm[0] as TeeSession, HoldPtaCommand.HOLD, 1);
      const h2 = holdCall(norm[1] as TeeSession, HoldPtaCommand.HOLD, 2);
      const h3 = holdCall(norm[2] as TeeSession, HoldPtaCommand.HOLD, 3);
      await b.clock.runUntilIdle(10);
      // One thread is free, but kept for system calls: the third normal call waits.
      expect(pta.arrivals).toEqual([1, 2]);
      expect(b.driver.stats).toMatchObject({ waitedForReservedThread: 1, inFlight: 3 });
      // A system call takes it, and gives it back to the system calls when it returns.
      expect(await holdCall(sys[0] as TeeSession, HoldPtaCommand.ECHO, 10)).toBe(TeeResult.SUCCESS);
      await b.clock.runUntilIdle(10);
      expect(pta.arrivals).toEqual([1, 2, 10]);
      expect(b.driver.stats).toMatchObject({ reservedThreadCalls: 1, systemCalls: 1 });
      // Opening a session and registering memory are normal calls (Linux passes false): they
      // wait too.
      let opened = false;
      const opening = openHoldSession(b.context).then((s) => ((opened = true), s));
      await b.clock.runUntilIdle(10);
      expect(opened).toBe(false);
      pta.release(1);
      await b.clock.runUntilIdle(10);
      // One thread came back: two are free, the waiters go in order (the call first, then the
      // open), each while more than one is free.
      expect(pta.arrivals).toEqual([1, 2, 10, 3]);
      expect(opened).toBe(false);
      pta.release();
      expect([await h1, await h2, await h3]).toEqual([0, 0, 0]);
      await (await opening).close();
      await b.close();
    });

    it('should let a normal call take every thread when no system session is open', async () => {
      const { b, pta, norm } = await reservationBench(3, 0, 3);
      const holds = norm.map((s, i) => holdCall(s, HoldPtaCommand.HOLD, i + 1));
      await b.clock.runUntilIdle(10);
      expect(pta.arrivals).toEqual([1, 2, 3]);
      expect(b.driver.stats).toMatchObject({ waitedForReservedThread: 0, systemSessions: 0 });
      pta.release();
      expect(await Promise.all(holds)).toEqual([0, 0, 0]);
      await b.close();
    });

    it('should give a freed thread to a waiting system call before an earlier normal waiter', async () => {
      const { b, pta, sys, norm } = await reservationBench(4, 2, 4);
      const holds = [1, 2, 3].map((l) =>
        holdCall(norm[l - 1] as TeeSession, HoldPtaCommand.HOLD, l),
      );
      // The last thread: a system call may take it.
      const sysHold = holdCall(sys[0] as TeeSession, HoldPtaCommand.HOLD, 10);
      await b.clock.runUntilIdle(10);
      expect(pta.arrivals).toEqual([1, 2, 3, 10]);
      // Every thread taken: a normal call waits, then a system call behind it.
      const normalWaiter = holdCall(norm[3] as TeeSession, HoldPtaCommand.HOLD, 4);
      const systemWaiter = holdCall(sys[1] as TeeSession, HoldPtaCommand.ECHO, 20);
      await b.clock.runUntilIdle(10);
      expect(b.driver.stats.waitedForThread).toBe(2);
      // Two threads come back at once: the normal waiter could take one of them, but the system
      // waiter is woken first (optee_cq_complete_one); the normal one goes once two are free.
      pta.release(1);
      pta.release(2);
      await b.clock.runUntilIdle(10);
      expect(pta.arrivals).toEqual([1, 2, 3, 10, 20, 4]);
      expect(await systemWaiter).toBe(TeeResult.SUCCESS);
      pta.release();
      expect(await Promise.all([...holds, sysHold, normalWaiter])).toEqual([0, 0, 0, 0, 0]);
      await b.close();
    });

    it('should release the kept thread when the last system session closes, and wake a waiter', async () => {
      const { b, pta, sys, norm } = await reservationBench(3, 2, 3);
      const holds = norm.map((s, i) => holdCall(s, HoldPtaCommand.HOLD, i + 1));
      await b.clock.runUntilIdle(10);
      expect(pta.arrivals).toEqual([1, 2]);
      // The close of a system session is a system call: it runs on the kept thread.
      await (sys[0] as TeeSession).close();
      await b.clock.runUntilIdle(10);
      // Another system session is still open: the thread stays kept.
      expect(b.driver.stats.systemSessions).toBe(1);
      expect(pta.arrivals).toEqual([1, 2]);
      await (sys[1] as TeeSession).close();
      await b.clock.runUntilIdle(10);
      expect(b.driver.stats.systemSessions).toBe(0);
      expect(pta.arrivals).toEqual([1, 2, 3]);
      expect(b.driver.stats.systemCalls).toBe(2);
      pta.release();
      expect(await Promise.all(holds)).toEqual([0, 0, 0]);
      await b.close();
    });

    it("should send a system session's cancel request as a system call (Linux optee_cancel_req)", async () => {
      const { b, pta, sys, norm } = await reservationBench(3, 1, 2);
      const h1 = holdCall(norm[0] as TeeSession, HoldPtaCommand.HOLD, 1);
      const sysHold = holdCall(sys[0] as TeeSession, HoldPtaCommand.HOLD, 10, 7);
      const h2 = holdCall(norm[1] as TeeSession, HoldPtaCommand.HOLD, 2);
      await b.clock.runUntilIdle(10);
      // The last thread is kept: the second normal call waits; the cancel request takes it.
      expect(pta.arrivals).toEqual([1, 10]);
      let cancelled = false;
      void b.context.cancel(sys[0] as TeeSession, 7).then(() => (cancelled = true));
      await b.clock.runUntilIdle(10);
      expect(cancelled).toBe(true);
      expect(await sysHold).toBe(TeeResult.CANCEL);
      pta.release();
      await b.clock.runUntilIdle(10);
      pta.release();
      expect([await h1, await h2]).toEqual([0, 0]);
      await b.close();
    });

    it('should count no system session once the driver is closed, also after the sessions close', async () => {
      for (const end of ['close', 'teeDied'] as const) {
        const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 3 } });
        const s = await b.context.openSession(PTA_SCMI_UUID);
        b.context.systemSession(s);
        expect(b.driver.stats.systemSessions).toBe(1);
        b.driver[end]();
        expect(b.driver.stats.systemSessions).toBe(0);
        await expect(s.close()).rejects.toBeInstanceOf(TeeError);
        expect(b.driver.stats.systemSessions).toBe(0);
        await b.close();
      }
    });

    it("should count no system session when the driver closes while a system session's close is in flight", async () => {
      const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 3 } });
      const s = await b.context.openSession(PTA_SCMI_UUID);
      b.context.systemSession(s);
      const closing = s.close(); // posted; the secure world has not returned it yet
      b.driver.teeDied();
      await expect(closing).rejects.toBeInstanceOf(TeeError);
      expect(b.driver.stats.systemSessions).toBe(0);
      await b.close();
    });

    // The driver's session ids are the secure world's: one namespace for every context of the
    // driver. A confused or hostile TEE that answers another context's open with the id of a
    // system session must neither make a second session of it (closing that one would close
    // the system session in the TEE and count it down: its calls would lose the kept thread)
    // nor inherit its flag.
    it('should refuse an open answered with the id of a session open in another context, leaving that system session as it was', async () => {
      const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 3 } });
      const s = await b.context.openSession(PTA_SCMI_UUID);
      b.context.systemSession(s);
      const other = openTeeContext(b.driver);
      // The secure world opens a session, and answers with s's id.
      const words = new Int32Array(b.wire.tee.memory);
      const view = new DataView(b.wire.tee.memory);
      b.driver.setReturnInterceptor((deliver) => {
        for (let slot = 0; slot < b.wire.tee.layout.threads; slot++) {
          const base = b.wire.tee.layout.slotOffset(slot);
          if (
            Atomics.load(words, (base + SLOT_STATE) / 4) === (OpteeCallState.RETURNED as number) &&
            view.getUint32(base + SLOT_CMD, true) === (OpteeMsgCmd.OPEN_SESSION as number)
          ) {
            view.setUint32(base + SLOT_SESSION, s.id, true);
          }
        }
        deliver();
      });
      const error = await other.openSession(PTA_SCMI_UUID).then(
        (t) => t,
        (e: unknown) => e,
      );
      b.driver.setReturnInterceptor(undefined);
      expect(TeeError.is(error) && [error.result, error.origin]).toEqual([
        TeeResult.BAD_STATE,
        TeeOrigin.COMMS,
      ]);
      expect(other.sessionCount).toBe(0);
      await other.close();
      // s is still a system session: counted, its calls still system calls.
      expect(b.driver.stats.systemSessions).toBe(1);
      const systemCalls = b.driver.stats.systemCalls;
      await s.invoke(PtaScmiCommand.CAPABILITIES, [teeValue(TeeParamType.VALUE_OUTPUT)]);
      expect(b.driver.stats.systemCalls).toBe(systemCalls + 1);
      await s.close();
      expect(b.driver.stats.systemSessions).toBe(0);
      await b.close();
    });

    it('should declare a session once, and refuse unknown sessions, an unknown thread count and a closed driver', async () => {
      const b = createTeeBench({ wire: { channels: [{ id: 0 }], threads: 3 } });
      const s = await b.context.openSession(PTA_SCMI_UUID);
      expect(b.driver.systemSession(s.id).result).toBe(TeeResult.SUCCESS);
      expect(b.driver.systemSession(s.id).result).toBe(TeeResult.SUCCESS);
      expect(b.driver.stats.systemSessions).toBe(1);
      expect(b.driver.systemSession(s.id + 100)).toMatchObject({
        result: TeeResult.BAD_PARAMETERS,
        origin: TeeOrigin.COMMS,
      });
      await s.close();
      expect(b.driver.stats.systemSessions).toBe(0);
      expect(b.driver.systemSession(s.id).result).toBe(TeeResult.BAD_PARAMETERS);
      b.driver.close();
      expect(b.driver.systemSession(s.id).result).toBe(TeeResult.COMMUNICATION);
      await b.close();

      // total_thread_count 0 (OPTEE_SMC_GET_THREAD_COUNT failed, or FF-A): -EINVAL in Linux.
      // (Linux refuses one thread too; a wire has more threads than channels, so at least two.)
      const u = createTeeBench({
        wire: { channels: [{ id: 0 }], threads: 3 },
        driver: { knowsThreadCount: false },
      });
      const t = await u.context.openSession(PTA_SCMI_UUID);
      expect(u.driver.systemSession(t.id)).toMatchObject({
        result: TeeResult.NOT_SUPPORTED,
        origin: TeeOrigin.COMMS,
      });
      expect(u.driver.stats).toMatchObject({ systemSessions: 0, threadCount: 0 });
      await u.close();
      expect(
        () => new OpteeDriver(b.wire.ree, { knowsThreadCount: 'maybe' as unknown as boolean }),
      ).toThrow(/knowsThreadCount/);
    });
  });
});
