/**
 * The fourth TEE parameter slot (index 3). The SCMI commands use at most three, so every other
 * test leaves slot 3 NONE and a driver or emulator that encoded, decoded or wrote back only three
 * slots would pass them all. Here slot 3 carries values and memory references: through the
 * emulated OP-TEE (the SCMI PTA must refuse a non-NONE p[3], as `core/pta/scmi.c` checks the
 * parameter types of all four), and through a secure world of the test's own that transforms
 * every slot, over a same-thread wire and across threads.
 */
import { VirtualClock, resolveWorkerEntry, startWorker, type WorkerHost } from '@scmi-ts/core';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  OpteeDriver,
  PTA_SCMI_UUID,
  PtaScmiCaps,
  PtaScmiCommand,
  TeeError,
  TeeOrigin,
  TeeParamType,
  TeeResult,
  createSameThreadOpteeWire,
  openOpteeWorkerWire,
  openTeeContext,
  teeMemref,
  teeValue,
  type EmulatedOpteeStats,
  type TeeContext,
  type TeeMemrefParam,
  type TeeParam,
  type TeeValueParam,
} from '../src/index.js';
import { OpteeMsgAttr } from '../src/wire/optee-msg-arg.js';
import { attachEchoTee, type EchoCall } from './support/echo-tee.js';
import { createOpteeFixture, type OpteeWorker } from './support/fixture.js';
import { createTeeBench } from './support/tee-bench.js';

const { NONE, VALUE_INPUT, VALUE_OUTPUT, VALUE_INOUT, MEMREF_INPUT, MEMREF_OUTPUT, MEMREF_INOUT } =
  TeeParamType;
const none: TeeParam = { type: NONE };

/** Settles `p` to its value or its error. */
async function settle(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => v,
    (e: unknown) => e,
  );
}

/** A TEE context on an emulated OP-TEE, with its counters, same-thread or in a worker. */
interface PtaEnds {
  readonly context: TeeContext;
  readonly driver: OpteeDriver;
  stats(): Promise<EmulatedOpteeStats | undefined>;
  close(): Promise<void>;
}

function sameThreadPta(): Promise<PtaEnds> {
  const b = createTeeBench();
  return Promise.resolve({
    context: b.context,
    driver: b.driver,
    stats: () => Promise.resolve(b.optee.stats),
    close: () => b.close(),
  });
}

let worker: OpteeWorker | undefined;

async function workerPta(): Promise<PtaEnds> {
  worker ??= await createOpteeFixture({ shmem: 'static' }).worker({
    platformConfig: createDefaultPlatformConfig(),
    agentId: 1,
    seed: 3,
  });
  const ends = await worker.open();
  const context = openTeeContext(ends.driver);
  return {
    context,
    driver: ends.driver,
    stats: () => ends.teeStats(),
    close: async () => {
      await context.close().catch(() => undefined);
      await ends.close();
    },
  };
}

afterAll(async () => {
  await worker?.stop();
});

describe.each([
  ['same-thread', sameThreadPta],
  ['worker', workerPta],
] as const)('parameter slot 3 through the emulated OP-TEE (%s)', (_mode, open) => {
  it('should have the SCMI PTA refuse CAPABILITIES with a value in p[3] (BAD_PARAMETERS from the TA), and accept it with p[3] NONE', async () => {
    const t = await open();
    try {
      const session = await t.context.openSession(PTA_SCMI_UUID);
      const refused = await settle(
        session.invoke(PtaScmiCommand.CAPABILITIES, [
          teeValue(VALUE_OUTPUT),
          none,
          none,
          teeValue(VALUE_INPUT, 1, 2),
        ]),
      );
      expect(refused).toBeInstanceOf(TeeError);
      expect([(refused as TeeError).result, (refused as TeeError).origin]).toEqual([
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.TRUSTED_APP,
      ]);
      const before = await t.stats();
      expect(before?.pta.refused).toBe(1);
      expect(before?.refusedCalls).toBe(0); // refused by the PTA, not by OP-TEE's core
      // The same call with four slots, p[3] NONE: the PTA answers.
      const ok = await session.invoke(PtaScmiCommand.CAPABILITIES, [
        teeValue(VALUE_OUTPUT),
        none,
        none,
        none,
      ]);
      expect((ok.params[0] as TeeValueParam).a).toBe(
        PtaScmiCaps.SMT_HEADER | PtaScmiCaps.MSG_HEADER,
      );
      expect((await t.stats())?.pta.refused).toBe(1);
      await session.close();
    } finally {
      await t.close();
    }
  });

  it("should write p[3]'s VALUE_OUTPUT back from the secure world: the caller's stale words come back zeroed", async () => {
    // OP-TEE's copy_in_params gives the TA zeroed VALUE_OUTPUT words and copy_out_params writes
    // them back: the words the driver left in the slot must not survive the call.
    const t = await open();
    try {
      const session = await t.context.openSession(PTA_SCMI_UUID);
      const refused = await settle(
        session.invoke(PtaScmiCommand.CAPABILITIES, [
          teeValue(VALUE_OUTPUT),
          none,
          none,
          teeValue(VALUE_OUTPUT, 0xaaaa5555, 0xbbbb6666),
        ]),
      );
      expect(TeeError.is(refused) && refused.result).toBe(TeeResult.BAD_PARAMETERS);
      expect((refused as TeeError).params?.[3]).toEqual({ type: VALUE_OUTPUT, a: 0, b: 0 });
      await session.close();
    } finally {
      await t.close();
    }
  });

  it("should check p[3]'s memory reference in OP-TEE's core (SECURITY from the TEE past its buffer), and round-trip an INOUT memref's size", async () => {
    const t = await open();
    try {
      const session = await t.context.openSession(PTA_SCMI_UUID);
      const shm = await t.context.allocSharedMemory(64);
      // In bounds: OP-TEE's core takes it, the PTA refuses the types; the size comes back as sent.
      const inBounds = await settle(
        session.invoke(PtaScmiCommand.CAPABILITIES, [
          teeValue(VALUE_OUTPUT),
          none,
          none,
          teeMemref(MEMREF_INOUT, shm, 8, 24),
        ]),
      );
      expect([(inBounds as TeeError).result, (inBounds as TeeError).origin]).toEqual([
        TeeResult.BAD_PARAMETERS,
        TeeOrigin.TRUSTED_APP,
      ]);
      const back = (inBounds as TeeError).params?.[3] as TeeMemrefParam;
      expect([back.type, back.shm, back.offset, back.size]).toEqual([MEMREF_INOUT, shm, 8, 24]);
      // Past the end of its shared memory (straight to the driver: the client API would refuse
      // it before the call): OP-TEE's core refuses the call before any TA sees it.
      const refusedBefore = (await t.stats())?.refusedCalls ?? -1;
      const ptaBefore = (await t.stats())?.pta.refused ?? -1;
      const r = await t.driver.invoke(session.id, PtaScmiCommand.CAPABILITIES, 0, [
        teeValue(VALUE_OUTPUT),
        none,
        none,
        { type: MEMREF_INOUT, shm, offset: 8, size: 4096 },
      ]);
      expect([r.result, r.origin]).toEqual([TeeResult.SECURITY, TeeOrigin.TEE]);
      const after = await t.stats();
      expect(after?.refusedCalls).toBe(refusedBefore + 1);
      expect(after?.pta.refused).toBe(ptaBefore);
      await shm.free();
      await session.close();
      expect(await t.stats()).toMatchObject({ openSessions: 0, registeredShm: 0 });
    } finally {
      await t.close();
    }
  });
});

/** A TEE context on the echo TEE, with the calls it received, same-thread or in a worker. */
interface EchoEnds {
  readonly context: TeeContext;
  calls(): Promise<readonly EchoCall[]>;
  close(): Promise<void>;
}

function sameThreadEcho(): Promise<EchoEnds> {
  const clock = new VirtualClock({ auto: true });
  const wire = createSameThreadOpteeWire(clock, { channels: [{ id: 0 }] });
  const tee = attachEchoTee(wire.tee);
  const driver = new OpteeDriver(wire.ree);
  const context = openTeeContext(driver);
  return Promise.resolve({
    context,
    calls: () => Promise.resolve(tee.calls),
    close: async () => {
      await context.close();
      driver.close();
      tee.close();
    },
  });
}

let echoHost: WorkerHost | undefined;

async function workerEcho(): Promise<EchoEnds> {
  echoHost ??= await startWorker({
    entry: resolveWorkerEntry(`${__dirname}/support`, 'echo-tee-worker'),
    data: {},
    name: 'echo-tee',
  });
  const host = echoHost;
  const wire = await openOpteeWorkerWire(host, { channels: [{ id: 0 }] });
  const context = openTeeContext(wire.driver);
  return {
    context,
    calls: async () => (await host.call('echoCalls')) as readonly EchoCall[],
    close: async () => {
      await context.close();
      await wire.close();
    },
  };
}

afterAll(async () => {
  await echoHost?.stop();
});

describe.each([
  ['same-thread', sameThreadEcho],
  ['worker', workerEcho],
] as const)('parameter slot 3 through the OP-TEE driver (%s wire)', (_mode, open) => {
  it('should encode slot 3 for the secure world and decode what it wrote back, for values and memory references', async () => {
    const t = await open();
    try {
      const session = await t.context.openSession(PTA_SCMI_UUID);
      const shm = await t.context.allocSharedMemory(64);
      shm.bytes.set(Array.from({ length: 64 }, (_, i) => i));
      // Slots 0–2 always hold something, so a slot shifted or dropped shows; slot 3 takes each
      // kind in turn.
      const front: TeeParam[] = [
        teeValue(VALUE_INOUT, 0x10, 0x20),
        teeValue(VALUE_INPUT, 0x30, 0x40),
        teeMemref(MEMREF_INPUT, shm, 0, 4),
      ];
      const last: TeeParam[] = [
        teeValue(VALUE_INPUT, 0x12345678, 0x9abcdef0),
        teeValue(VALUE_OUTPUT, 0xdead, 0xbeef),
        teeValue(VALUE_INOUT, 0xfffffffe, 0x0f0f0f0f),
        teeMemref(MEMREF_OUTPUT, shm, 16, 8),
        teeMemref(MEMREF_INOUT, shm, 40, 6),
      ];
      const returned: (readonly TeeParam[])[] = [];
      for (let i = 0; i < last.length; i++) {
        const r = await session.invoke(0x40 + i, [...front, last[i] as TeeParam]);
        returned.push(r.params);
      }
      const calls = await t.calls();
      expect(calls).toHaveLength(last.length);
      // What the secure world found in slot 3 (attr, a, b, c; cookie = the shared memory's id).
      expect(calls.map((c) => c.numParams)).toEqual([4, 4, 4, 4, 4]);
      expect(calls.map((c) => c.slots[3])).toEqual([
        { attr: OpteeMsgAttr.VALUE_INPUT, a: 0x12345678, b: 0x9abcdef0, c: 0 },
        { attr: OpteeMsgAttr.VALUE_OUTPUT, a: 0xdead, b: 0xbeef, c: 0 },
        { attr: OpteeMsgAttr.VALUE_INOUT, a: 0xfffffffe, b: 0x0f0f0f0f, c: 0 },
        {
          attr: OpteeMsgAttr.RMEM_OUTPUT,
          a: 16,
          b: 8,
          c: shm.id,
          bytes: [16, 17, 18, 19, 20, 21, 22, 23],
        },
        { attr: OpteeMsgAttr.RMEM_INOUT, a: 40, b: 6, c: shm.id, bytes: [40, 41, 42, 43, 44, 45] },
      ]);
      // …and the other slots as they were sent.
      for (const c of calls) {
        expect(c.slots.slice(0, 3)).toEqual([
          { attr: OpteeMsgAttr.VALUE_INOUT, a: 0x10, b: 0x20, c: 0 },
          { attr: OpteeMsgAttr.VALUE_INPUT, a: 0x30, b: 0x40, c: 0 },
          { attr: OpteeMsgAttr.RMEM_INPUT, a: 0, b: 4, c: shm.id, bytes: [0, 1, 2, 3] },
        ]);
      }
      // What came back in slot 3.
      const p3 = returned.map((p) => p[3] as TeeParam);
      expect(p3[0]).toEqual({ type: VALUE_INPUT, a: 0x12345678, b: 0x9abcdef0 });
      expect(p3[1]).toEqual({ type: VALUE_OUTPUT, a: 0xe3, b: 0x41 });
      expect(p3[2]).toEqual({ type: VALUE_INOUT, a: 0xffffffff, b: 0xf0f0f0f0 });
      const out = p3[3] as TeeMemrefParam;
      expect([out.type, out.shm, out.offset, out.size]).toEqual([MEMREF_OUTPUT, shm, 16, 16]);
      const inout = p3[4] as TeeMemrefParam;
      expect([inout.type, inout.shm, inout.offset, inout.size]).toEqual([MEMREF_INOUT, shm, 40, 5]);
      expect([...shm.bytes.subarray(16, 24)]).toEqual(new Array<number>(8).fill(0xa3));
      expect([...shm.bytes.subarray(40, 46)]).toEqual([45, 44, 43, 42, 41, 40]);
      // Slot 0's VALUE_INOUT came back transformed on every call (a + 1, ~b).
      for (const p of returned)
        expect(p[0]).toEqual({ type: VALUE_INOUT, a: 0x11, b: ~0x20 >>> 0 });
      await shm.free();
      await session.close();
    } finally {
      await t.close();
    }
  });
});
