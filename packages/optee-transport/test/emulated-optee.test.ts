import {
  ScmiMessageType,
  VirtualClock,
  buildHeader,
  createSameThreadDoorbellPair,
  encodeMsgResponse,
  readU32,
  type PlatformAgentLink,
  type PlatformConnection,
  type ScmiPlatformPort,
} from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  EmulatedOptee,
  PTA_SCMI_UUID,
  TeeLogin,
  TeeOrigin,
  TeeParamType,
  TeeResult,
  createSameThreadOpteeWire,
  parseTeeUuid,
  teeValue,
  type SameThreadOpteeWire,
} from '../src/index.js';
import { OpteeWireEnd } from '../src/wire/optee-wire.js';
import { createOpteeHarness } from './support/harness.js';
import { HOLD_PTA_UUID, HoldPtaCommand, addHoldPta } from './support/hold-pta.js';
import { createTeeBench } from './support/tee-bench.js';

/** Offsets of a call slot (modelled on struct optee_msg_arg), as a hostile normal world writes them. */
const CMD = 4;
const FUNC = 8;
const SESSION = 12;
const RET = 20;
const ORIGIN = 24;
const NUM_PARAMS = 28;
const LOGIN = 32;
const UUID = 40;
const PARAMS = 56;

/** A wire and an emulated OP-TEE with no driver: the test is the (hostile) normal world. */
interface RawBench {
  readonly clock: VirtualClock;
  readonly wire: SameThreadOpteeWire;
  readonly optee: EmulatedOptee;
  close(): Promise<void>;
}

function createRawBench(): RawBench {
  const clock = new VirtualClock({ auto: true });
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const wire = createSameThreadOpteeWire(clock);
  const optee = new EmulatedOptee({ wire: wire.tee, platform, agentId: 1, clock });
  return {
    clock,
    wire,
    optee,
    close: () => {
      optee.close();
      platform.close();
      return Promise.resolve();
    },
  };
}

interface RawParam {
  attr: number;
  a?: number;
  b?: number;
  c?: number;
}

/**
 * Posts a raw call in the last slot (the driver fills slots from the first) and returns what the
 * secure world answered.
 */
async function rawCall(
  b: RawBench,
  fields: {
    cmd: number;
    func?: number;
    session?: number;
    numParams?: number;
    params?: RawParam[];
    uuid?: Uint8Array;
    login?: number;
  },
): Promise<{ result: number; origin: number; session: number }> {
  const layout = b.wire.ree.layout;
  const base = layout.slotOffset(layout.threads - 1);
  const v = new DataView(b.wire.ree.memory);
  v.setUint32(base + CMD, fields.cmd, true);
  v.setUint32(base + FUNC, fields.func ?? 0, true);
  v.setUint32(base + SESSION, fields.session ?? 0, true);
  v.setUint32(base + NUM_PARAMS, fields.numParams ?? fields.params?.length ?? 0, true);
  v.setUint32(base + LOGIN, fields.login ?? 0, true);
  if (fields.uuid !== undefined)
    new Uint8Array(b.wire.ree.memory, base + UUID, 16).set(fields.uuid);
  (fields.params ?? []).forEach((p, i) => {
    const at = base + PARAMS + 16 * i;
    v.setUint32(at, p.attr, true);
    v.setUint32(at + 4, p.a ?? 0, true);
    v.setUint32(at + 8, p.b ?? 0, true);
    v.setUint32(at + 12, p.c ?? 0, true);
  });
  const words = new Int32Array(b.wire.ree.memory);
  Atomics.store(words, base / 4, 1); // POSTED
  b.wire.ree.doorbell.ring();
  await b.clock.runUntilIdle(100);
  expect(Atomics.load(words, base / 4)).toBe(3); // RETURNED
  Atomics.store(words, base / 4, 0);
  return {
    result: v.getUint32(base + RET, true),
    origin: v.getUint32(base + ORIGIN, true),
    session: v.getUint32(base + SESSION, true),
  };
}

describe(EmulatedOptee, () => {
  describe('when the normal world sends malformed calls', () => {
    let b: RawBench;
    afterEach(async () => {
      await b.close();
    });

    it.each([
      ['an unknown command', { cmd: 9 }],
      ['an invocation in an unknown session', { cmd: 1, session: 77 }],
      ['a cancel in an unknown session', { cmd: 3, session: 77 }],
      ['registering memory without a buffer', { cmd: 4, params: [{ attr: 1 }] }],
      [
        'registering memory outside the pool',
        { cmd: 4, params: [{ attr: 0xa, a: 0, b: 64, c: 9 }] },
      ],
      ['unregistering unknown memory', { cmd: 5, params: [{ attr: 5, c: 1234 }] }],
      ['registering memory with two parameters', { cmd: 4, params: [{ attr: 0xa }, { attr: 0 }] }],
      ['unregistering memory with no parameter', { cmd: 5, params: [] }],
      // entry_close_session checks num_params before it looks for the session.
      ['closing an unknown session with a parameter', { cmd: 2, session: 77, numParams: 1 }],
    ])('should answer %s with BAD_PARAMETERS from the TEE', async (_name, fields) => {
      b = createRawBench();
      expect(await rawCall(b, fields)).toMatchObject({
        result: TeeResult.BAD_PARAMETERS,
        origin: TeeOrigin.TEE,
      });
      expect(b.optee.stats).toMatchObject({ calls: 1, refusedCalls: 1 });
    });

    it('should answer closing an unknown session with ITEM_NOT_FOUND, as tee_ta_close_session does', async () => {
      b = createRawBench();
      expect(await rawCall(b, { cmd: 2, session: 77 })).toMatchObject({
        result: TeeResult.ITEM_NOT_FOUND,
        origin: TeeOrigin.TEE,
      });
      expect(b.optee.stats.refusedCalls).toBe(1);
    });

    it('should refuse an unknown login method with BAD_PARAMETERS from the TEE before looking the TA up, as get_open_session_meta does, and leave the known ones to the TA', async () => {
      b = createRawBench();
      const uuid = parseTeeUuid(PTA_SCMI_UUID);
      for (const login of [3, 7, 0x80000001, 0xdead]) {
        expect(await rawCall(b, { cmd: 0, uuid, login })).toMatchObject({
          result: TeeResult.BAD_PARAMETERS,
          origin: TeeOrigin.TEE,
        });
      }
      // Even for a TA that does not exist: the login is read first.
      expect(await rawCall(b, { cmd: 0, uuid: new Uint8Array(16), login: 3 })).toMatchObject({
        result: TeeResult.BAD_PARAMETERS,
        origin: TeeOrigin.TEE,
      });
      expect(b.optee.stats).toMatchObject({ refusedCalls: 5, openSessions: 0 });
      // A known method other than REE_KERNEL reaches the SCMI PTA, which denies it.
      for (const login of [TeeLogin.PUBLIC, TeeLogin.USER, TeeLogin.GROUP_APPLICATION]) {
        expect(await rawCall(b, { cmd: 0, uuid, login })).toMatchObject({
          result: TeeResult.ACCESS_DENIED,
          origin: TeeOrigin.TRUSTED_APP,
        });
      }
      expect(b.optee.stats).toMatchObject({ refusedCalls: 5, openSessions: 0 });
    });

    it.each([
      ['one parameter of type NONE', { params: [{ attr: 0 }] }],
      ['four value parameters', { params: [1, 2, 3, 4].map((a) => ({ attr: 1, a })) }],
    ])(
      'should refuse closing a session with %s with BAD_PARAMETERS from the TEE, as entry_close_session does, and leave it open',
      async (_name, extra) => {
        b = createRawBench();
        const { session } = await rawCall(b, {
          cmd: 0,
          uuid: parseTeeUuid(PTA_SCMI_UUID),
          login: TeeLogin.REE_KERNEL,
        });
        expect(await rawCall(b, { cmd: 2, session, ...extra })).toMatchObject({
          result: TeeResult.BAD_PARAMETERS,
          origin: TeeOrigin.TEE,
        });
        expect(b.optee.stats).toMatchObject({ calls: 2, openSessions: 1, refusedCalls: 1 });
        // The session still serves its TA: CAPABILITIES (0) answers.
        expect(await rawCall(b, { cmd: 1, session, func: 0, params: [{ attr: 2 }] })).toMatchObject(
          { result: TeeResult.SUCCESS, origin: TeeOrigin.TRUSTED_APP },
        );
        // A close without parameters closes it.
        expect(await rawCall(b, { cmd: 2, session })).toMatchObject({
          result: TeeResult.SUCCESS,
          origin: TeeOrigin.TEE,
        });
        expect(b.optee.stats).toMatchObject({ calls: 4, openSessions: 0, refusedCalls: 1 });
      },
    );

    it('should refuse a cancel request with a parameter with BAD_PARAMETERS from the TEE, as entry_cancel does, leaving the running invocation alone', async () => {
      b = createRawBench();
      const pta = addHoldPta(b.optee);
      const { session } = await rawCall(b, { cmd: 0, uuid: parseTeeUuid(HOLD_PTA_UUID) });
      // HOLD (0) posted by hand in slot 0 (rawCall waits for a return): the TA keeps it running.
      const v = new DataView(b.wire.ree.memory);
      const words = new Int32Array(b.wire.ree.memory);
      const slot = b.wire.ree.layout.slotOffset(0);
      v.setUint32(slot + CMD, 1, true);
      v.setUint32(slot + FUNC, HoldPtaCommand.HOLD, true);
      v.setUint32(slot + SESSION, session, true);
      v.setUint32(slot + NUM_PARAMS, 1, true);
      v.setUint32(slot + PARAMS, 1, true); // VALUE_INPUT: the label
      v.setUint32(slot + PARAMS + 4, 7, true);
      Atomics.store(words, slot / 4, 1); // POSTED
      b.wire.ree.doorbell.ring();
      await b.clock.runUntilIdle(100);
      expect(Atomics.load(words, slot / 4)).toBe(2); // RUNNING
      expect(pta.held).toHaveLength(1);

      expect(await rawCall(b, { cmd: 3, session, params: [{ attr: 1, a: 7 }] })).toMatchObject({
        result: TeeResult.BAD_PARAMETERS,
        origin: TeeOrigin.TEE,
      });
      // Nothing was flagged: the invocation still runs, held by its TA.
      expect(b.optee.stats).toMatchObject({
        cancelRequests: 1,
        cancelledInvocations: 0,
        refusedCalls: 1,
        openSessions: 1,
      });
      expect(Atomics.load(words, slot / 4)).toBe(2);
      expect(pta.held).toHaveLength(1);

      // The same request without a parameter cancels it: the TA returns TEE_ERROR_CANCEL.
      expect(await rawCall(b, { cmd: 3, session })).toMatchObject({
        result: TeeResult.SUCCESS,
        origin: TeeOrigin.TEE,
      });
      expect(b.optee.stats).toMatchObject({
        cancelRequests: 2,
        cancelledInvocations: 1,
        refusedCalls: 1,
      });
      expect(Atomics.load(words, slot / 4)).toBe(3); // RETURNED
      expect([v.getUint32(slot + RET, true), v.getUint32(slot + ORIGIN, true)]).toEqual([
        TeeResult.CANCEL,
        TeeOrigin.TRUSTED_APP,
      ]);
      expect(pta.held).toHaveLength(0);
    });

    it('should refuse registering the same cookie twice', async () => {
      b = createRawBench();
      const pool = b.wire.ree.layout.poolOffset;
      const reg = { cmd: 4, params: [{ attr: 0xa, a: pool, b: 64, c: 5 }] };
      expect((await rawCall(b, reg)).result).toBe(TeeResult.SUCCESS);
      expect((await rawCall(b, reg)).result).toBe(TeeResult.BAD_PARAMETERS);
    });

    it('should check invocation parameters like OP-TEE copy_in_params', async () => {
      b = createRawBench();
      const { session } = await rawCall(b, {
        cmd: 0,
        uuid: parseTeeUuid(PTA_SCMI_UUID),
        login: TeeLogin.REE_KERNEL,
      });
      const pool = b.wire.ree.layout.poolOffset;
      await rawCall(b, { cmd: 4, params: [{ attr: 0xa, a: pool, b: 64, c: 5 }] });
      const invoke = (params: RawParam[], numParams?: number) =>
        rawCall(b, {
          cmd: 1,
          session,
          func: 0,
          params,
          ...(numParams === undefined ? {} : { numParams }),
        });
      expect((await invoke([], 5)).result).toBe(TeeResult.BAD_PARAMETERS);
      expect((await invoke([{ attr: 0xf }])).result).toBe(TeeResult.BAD_PARAMETERS);
      // An unknown cookie is BAD_PARAMETERS, a reference past its buffer's end SECURITY
      // (`entry_std.c: set_rmem_param`), both from the TEE.
      expect((await invoke([{ attr: 5, a: 0, b: 8, c: 6 }])).result).toBe(TeeResult.BAD_PARAMETERS);
      expect(await invoke([{ attr: 5, a: 60, b: 8, c: 5 }])).toMatchObject({
        result: TeeResult.SECURITY,
        origin: TeeOrigin.TEE,
      });
      // A valid reference reaches the PTA, which checks the types of CAPABILITIES.
      expect(await invoke([{ attr: 5, a: 0, b: 8, c: 5 }])).toMatchObject({
        result: TeeResult.BAD_PARAMETERS,
        origin: TeeOrigin.TRUSTED_APP,
      });
      expect(await invoke([{ attr: 2 }])).toMatchObject({
        result: TeeResult.SUCCESS,
        origin: TeeOrigin.TRUSTED_APP,
      });
      // The core's four refusals; the PTA's own answer is the TA's, not counted.
      expect(b.optee.stats.refusedCalls).toBe(4);
    });

    it('should not take a call posted into a slot whose call is still running: the running call returns there, with its own results', async () => {
      // A platform that answers later, when the test says: the SMT call stays RUNNING meanwhile.
      let link: PlatformAgentLink | undefined;
      const platform: ScmiPlatformPort = {
        connect: (_agentId: number, l: PlatformAgentLink): PlatformConnection => {
          link = l;
          return { agentId: 1, disconnect: () => undefined };
        },
        handle: () => undefined,
      };
      const clock = new VirtualClock({ auto: true });
      const wire = createSameThreadOpteeWire(clock); // static SMT channel 0
      const optee = new EmulatedOptee({
        wire: wire.tee,
        platform,
        agentId: 1,
        clock,
        platformTimeoutMs: 1e9, // the test answers when it wants, whatever the virtual time
      });
      b = {
        clock,
        wire,
        optee,
        close: () => {
          optee.close();
          return Promise.resolve();
        },
      };
      const { session } = await rawCall(b, {
        cmd: 0,
        uuid: parseTeeUuid(PTA_SCMI_UUID),
        login: TeeLogin.REE_KERNEL,
      });
      // GET_CHANNEL (3) for channel 0, SMT: channel handle 0.
      const channel = { cmd: 1, session, func: 3, params: [{ attr: 3, b: 1 }] };
      expect((await rawCall(b, channel)).result).toBe(TeeResult.SUCCESS);
      // PROCESS_SMT_CHANNEL (1) on a Base PROTOCOL_VERSION in the static area, in slot 0.
      const area = wire.ree.staticShmem(0) as Uint8Array;
      const av = new DataView(area.buffer, area.byteOffset, area.byteLength);
      const header = buildHeader(0, ScmiMessageType.COMMAND, 0x10, 5);
      av.setUint32(4, 0, true); // status: busy
      av.setUint32(0x14, 4, true);
      av.setUint32(0x18, header, true);
      const v = new DataView(wire.ree.memory);
      const words = new Int32Array(wire.ree.memory);
      const slot = wire.ree.layout.slotOffset(0);
      const post = (func: number, attr: number, a: number): void => {
        v.setUint32(slot + CMD, 1, true);
        v.setUint32(slot + FUNC, func, true);
        v.setUint32(slot + SESSION, session, true);
        v.setUint32(slot + NUM_PARAMS, 1, true);
        v.setUint32(slot + PARAMS, attr, true);
        v.setUint32(slot + PARAMS + 4, a, true);
        Atomics.store(words, slot / 4, 1); // POSTED, whatever the slot's state
        wire.ree.doorbell.ring();
      };
      post(1, 1, 0); // VALUE_INPUT: channel handle 0
      await clock.runUntilIdle(100);
      expect(Atomics.load(words, slot / 4)).toBe(2); // RUNNING: the platform has not answered
      const calls = optee.stats.calls;
      // Hostile: CAPABILITIES (0) posted over the running slot, many times.
      for (let i = 0; i < 50; i++) {
        post(0, 2, 0xdead); // VALUE_OUTPUT: the capabilities would overwrite 0xdead
        await clock.runUntilIdle(100);
      }
      expect(optee.stats).toMatchObject({ calls, callsOverRunningSlot: 50, refusedCalls: 0 });
      expect(Atomics.load(words, slot / 4)).toBe(2); // still the SMT call's
      // The platform answers: the SMT call returns in its slot; nothing queued behind it runs.
      link?.respond(0, encodeMsgResponse(header, 0, new Uint8Array(4)), header);
      await clock.runUntilIdle(100);
      expect(Atomics.load(words, slot / 4)).toBe(3);
      expect(v.getUint32(slot + RET, true)).toBe(TeeResult.SUCCESS);
      expect(v.getUint32(slot + PARAMS + 4, true)).toBe(0xdead); // CAPABILITIES never ran here
      expect(optee.stats.calls).toBe(calls);
      // The session serves the next call at once.
      Atomics.store(words, slot / 4, 0);
      expect(await rawCall(b, { cmd: 1, session, func: 0, params: [{ attr: 2 }] })).toMatchObject({
        result: TeeResult.SUCCESS,
        origin: TeeOrigin.TRUSTED_APP,
      });
    });
  });

  it("should leave a live secure world's SMT areas alone when a second one on the same wire is refused by the platform", async () => {
    const h = await createOpteeHarness({ shmem: 'static' });
    const agent = await h.create();
    const ree = h.ends.driver.wire;
    const area = ree.staticShmem(0) as Uint8Array;
    const reply = agent.transact(0x10, 0x3, undefined, { rxSize: 16 });
    // The agent has written its command (the secure world runs it in a later task).
    for (let i = 0; i < 100 && (readU32(area, 4) & 1) !== 0; i++) await Promise.resolve();
    expect(readU32(area, 4) & 1).toBe(0);
    const before = area.slice(0, 0x20);
    const [, doorbell] = createSameThreadDoorbellPair(h.clock);
    const second = new OpteeWireEnd('tee', ree.memory, ree.layout, doorbell);
    expect(
      () => new EmulatedOptee({ wire: second, platform: h.platform, agentId: 1, clock: h.clock }),
    ).toThrow(/already connected/);
    expect(area.slice(0, 0x20)).toEqual(before);
    expect(new TextDecoder().decode(await reply).replace(/\0+$/, '')).toBe('scmi-ts');
    await agent.remove();
    await h.close();
  });

  it('should run the invocations of one session one at a time, in order', async () => {
    const b = createTeeBench();
    b.optee.faults.add({ match: { times: 1 }, action: { kind: 'hang-until-cancel' } });
    const s = await b.context.openSession('a8cfe406-d4f5-4a2e-9f8d-a25dc754c099');
    await s.invoke(3, [teeValue(TeeParamType.VALUE_INOUT, 0, 1)]);
    const order: string[] = [];
    const hung = s
      .invoke(1, [teeValue(TeeParamType.VALUE_INPUT, 0)], { cancelId: 1 })
      .catch(() => order.push('hung'));
    const queued = s
      .invoke(0, [teeValue(TeeParamType.VALUE_OUTPUT)])
      .then(() => order.push('queued'));
    const closing = s.close().then(() => order.push('closed'));
    await b.clock.runUntilIdle(50);
    expect(order).toEqual([]);
    await b.context.cancel(s, 1).catch(() => undefined);
    await Promise.all([hung, queued, closing]);
    expect(order).toEqual(['hung', 'queued', 'closed']);
    await b.close();
  });

  it('should answer calls queued behind the close of their session from the TEE as OP-TEE finds the session gone: an invocation BAD_PARAMETERS, a close ITEM_NOT_FOUND', async () => {
    // A normal world that keeps calling a session it closes (the client API refuses it; the
    // driver lets it through): OP-TEE's tee_ta_get_session then finds no session.
    const b = createTeeBench();
    b.optee.faults.add({ match: { times: 1 }, action: { kind: 'hang-until-cancel' } });
    const s = await b.context.openSession(PTA_SCMI_UUID);
    await s.invoke(3, [teeValue(TeeParamType.VALUE_INOUT, 0, 1)]);
    const hung = b.driver.invoke(s.id, 1, 77, [teeValue(TeeParamType.VALUE_INPUT, 0)]);
    const closed = b.driver.closeSession(s.id);
    const invokedAfter = b.driver.invoke(s.id, 0, 0, [teeValue(TeeParamType.VALUE_OUTPUT)]);
    const closedAgain = b.driver.closeSession(s.id);
    await b.clock.runUntilIdle(50);
    expect(b.driver.stats.inFlight).toBe(4);
    await b.driver.cancel(s.id, 77);
    expect((await hung).result).toBe(TeeResult.CANCEL);
    expect((await closed).result).toBe(TeeResult.SUCCESS);
    const [invoked, closedTwice] = [await invokedAfter, await closedAgain];
    expect([invoked.result, invoked.origin]).toEqual([TeeResult.BAD_PARAMETERS, TeeOrigin.TEE]);
    expect([closedTwice.result, closedTwice.origin]).toEqual([
      TeeResult.ITEM_NOT_FOUND,
      TeeOrigin.TEE,
    ]);
    expect(b.driver.stats.inFlight).toBe(0);
    expect(b.optee.stats).toMatchObject({ openSessions: 0, refusedCalls: 2 });
    await b.close();
  });
});
