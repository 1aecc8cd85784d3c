import {
  OpteeDriver,
  PTA_SCMI_UUID,
  PtaScmiCommand,
  TeeError,
  TeeOrigin,
  TeeParamType,
  TeeResult,
  teeValue,
  type TeeSession,
} from '../src/index.js';
import { createTeeBench } from './support/tee-bench.js';

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

async function smtSession(b: ReturnType<typeof createTeeBench>): Promise<TeeSession> {
  const s = await b.context.openSession(PTA_SCMI_UUID);
  await s.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [teeValue(TeeParamType.VALUE_INOUT, 0, 1)]);
  return s;
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
});
