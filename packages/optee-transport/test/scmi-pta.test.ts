import {
  ScmiConfigError,
  ScmiStatus,
  VirtualClock,
  buildHeader,
  readI32,
  readU32,
  writeU32,
  type ScmiPlatformPort,
} from '@scmi-ts/core';
import { ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  EmulatedOptee,
  OpteeDriver,
  PTA_SCMI_UUID,
  PtaScmiCaps,
  PtaScmiCommand,
  SMT_HEADER,
  SMT_LENGTH,
  SMT_PAYLOAD,
  SMT_STATUS,
  SMT_STATUS_ERROR,
  SMT_STATUS_FREE,
  TeeError,
  TeeOrigin,
  TeeParamType,
  TeeResult,
  createSameThreadOpteeWire,
  openTeeContext,
  smtRead,
  smtWrite,
  teeMemref,
  teeValue,
  type TeeMemrefParam,
  type TeeParam,
  type TeeSession,
} from '../src/index.js';
import { createTeeBench, type TeeBench } from './support/tee-bench.js';

const VERSION = buildHeader(0x0, 0, 0x10, 5); // Base PROTOCOL_VERSION, token 5

async function result(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return TeeResult.SUCCESS;
  } catch (e) {
    if (TeeError.is(e)) return e.result;
    throw e;
  }
}

async function channel(b: TeeBench, id: number, caps: number): Promise<TeeSession> {
  const s = await b.context.openSession(PTA_SCMI_UUID);
  await s.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [teeValue(TeeParamType.VALUE_INOUT, id, caps)]);
  return s;
}

function smtMessage(
  area: Uint8Array,
  header: number,
  payload: Uint8Array = new Uint8Array(0),
): void {
  smtWrite(area, SMT_STATUS, 0);
  smtWrite(area, SMT_LENGTH, 4 + payload.byteLength);
  smtWrite(area, SMT_HEADER, header);
  area.set(payload, SMT_PAYLOAD);
}

function processSmt(s: TeeSession, id = 0): Promise<unknown> {
  return s.invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL, [teeValue(TeeParamType.VALUE_INPUT, id)]);
}

describe('the emulated SCMI PTA', () => {
  let b: TeeBench | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  describe('CAPABILITIES', () => {
    it('should report the capabilities built in and refuse other parameter types', async () => {
      b = createTeeBench({ optee: { capabilities: PtaScmiCaps.MSG_HEADER } });
      const s = await b.context.openSession(PTA_SCMI_UUID);
      const r = await s.invoke(PtaScmiCommand.CAPABILITIES, [teeValue(TeeParamType.VALUE_OUTPUT)]);
      expect(r.params[0]).toMatchObject({ a: PtaScmiCaps.MSG_HEADER, b: 0 });
      expect(await result(s.invoke(PtaScmiCommand.CAPABILITIES, []))).toBe(
        TeeResult.BAD_PARAMETERS,
      );
      expect(
        await result(s.invoke(PtaScmiCommand.CAPABILITIES, [teeValue(TeeParamType.VALUE_INOUT)])),
      ).toBe(TeeResult.BAD_PARAMETERS);
    });
  });

  describe('GET_CHANNEL_HANDLE', () => {
    it('should check the requested capabilities and the channel', async () => {
      b = createTeeBench({ optee: { capabilities: PtaScmiCaps.SMT_HEADER } });
      const s = await b.context.openSession(PTA_SCMI_UUID);
      const get = (id: number, caps: number): Promise<number> =>
        result(
          s.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [
            teeValue(TeeParamType.VALUE_INOUT, id, caps),
          ]),
        );
      expect(await get(0, PtaScmiCaps.SMT_HEADER)).toBe(TeeResult.SUCCESS);
      expect(await get(0, 0x4)).toBe(TeeResult.BAD_PARAMETERS);
      expect(await get(0, PtaScmiCaps.MSG_HEADER)).toBe(TeeResult.NOT_SUPPORTED);
      // As mainline's `if (!(caps & supported_caps()))`: no capability at all is refused, and a
      // request sharing one bit with what is built is accepted.
      expect(await get(0, PtaScmiCaps.NONE)).toBe(TeeResult.NOT_SUPPORTED);
      expect(await get(0, PtaScmiCaps.SMT_HEADER | PtaScmiCaps.MSG_HEADER)).toBe(TeeResult.SUCCESS);
      expect(await get(9, PtaScmiCaps.SMT_HEADER)).toBe(TeeResult.BAD_PARAMETERS);
      expect(
        await result(
          s.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [teeValue(TeeParamType.VALUE_INPUT, 0)]),
        ),
      ).toBe(TeeResult.BAD_PARAMETERS);
    });
  });

  describe('PROCESS_SMT_CHANNEL', () => {
    it('should process the message in the static area and answer in place', async () => {
      b = createTeeBench();
      const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      const area = b.wire.ree.staticShmem(0) as Uint8Array;
      smtMessage(area, VERSION);
      await processSmt(s);
      expect(smtRead(area, SMT_STATUS)).toBe(SMT_STATUS_FREE);
      expect(smtRead(area, SMT_HEADER)).toBe(VERSION);
      expect(smtRead(area, SMT_LENGTH)).toBe(12);
      expect(readI32(area, SMT_PAYLOAD)).toBe(ScmiStatus.SUCCESS);
      expect(readU32(area, SMT_PAYLOAD + 4)).toBe(0x20001);
    });

    it('should answer an unknown message id with NOT_SUPPORTED, as OP-TEE does', async () => {
      b = createTeeBench();
      const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      const area = b.wire.ree.staticShmem(0) as Uint8Array;
      smtMessage(area, buildHeader(0x3f, 0, 0x10, 1));
      await processSmt(s);
      expect(readI32(area, SMT_PAYLOAD)).toBe(ScmiStatus.NOT_SUPPORTED);
    });

    it('should flag ERROR | FREE for a payload over 92 bytes, a length below 4 and a free or errored channel, and keep the channel claimed as OP-TEE does', async () => {
      const setups: ((a: Uint8Array) => void)[] = [
        (a) => smtMessage(a, VERSION, new Uint8Array(93)),
        (a) => {
          smtMessage(a, VERSION);
          smtWrite(a, SMT_LENGTH, 3);
        },
        (a) => {
          smtMessage(a, VERSION);
          smtWrite(a, SMT_STATUS, SMT_STATUS_FREE);
        },
        (a) => {
          smtMessage(a, VERSION);
          smtWrite(a, SMT_STATUS, SMT_STATUS_ERROR);
        },
      ];
      for (const setup of setups) {
        b = createTeeBench();
        const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
        const area = b.wire.ree.staticShmem(0) as Uint8Array;
        setup(area);
        await processSmt(s);
        expect(smtRead(area, SMT_STATUS) & 3).toBe(SMT_STATUS_ERROR | SMT_STATUS_FREE);
        expect(b.optee.stats.scmi).toMatchObject({ rejected: 1, busy: 0 });
        // `scmi_entry_smt` left the claim held (its `out:` path skips the release): a proper
        // message after it is refused as busy, and so is every later one.
        for (let i = 0; i < 2; i++) {
          smtMessage(area, VERSION);
          await processSmt(s);
          expect(smtRead(area, SMT_STATUS) & 3).toBe(SMT_STATUS_ERROR | SMT_STATUS_FREE);
        }
        expect(b.optee.stats.scmi).toMatchObject({ rejected: 1, busy: 2 });
        await b.close();
        b = undefined;
      }
    });

    it('should answer a 92-byte payload (the platform says PROTOCOL_ERROR for its size)', async () => {
      b = createTeeBench();
      const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      const area = b.wire.ree.staticShmem(0) as Uint8Array;
      smtMessage(area, VERSION, new Uint8Array(92));
      await processSmt(s);
      expect(smtRead(area, SMT_STATUS)).toBe(SMT_STATUS_FREE);
      expect(readI32(area, SMT_PAYLOAD)).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(b.optee.stats.scmi.rejected).toBe(0);
    });

    it('should find the channel busy while another message waits for the platform', async () => {
      b = createTeeBench();
      b.platform.faults.add({ match: { nth: 1 }, action: { kind: 'delay', ms: 10 } });
      const s1 = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      const s2 = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      const area = b.wire.ree.staticShmem(0) as Uint8Array;
      smtMessage(area, VERSION);
      const first = processSmt(s1);
      await b.clock.runTasks();
      // A second caller on the same channel (the agent never does this): OP-TEE finds it claimed.
      smtWrite(area, SMT_STATUS, 0);
      await processSmt(s2);
      expect(smtRead(area, SMT_STATUS) & SMT_STATUS_ERROR).toBe(SMT_STATUS_ERROR);
      expect(b.optee.stats.scmi.busy).toBe(1);
      smtWrite(area, SMT_STATUS, 0);
      await first;
      expect(smtRead(area, SMT_STATUS)).toBe(SMT_STATUS_FREE);
      expect(readU32(area, SMT_PAYLOAD + 4)).toBe(0x20001);
    });

    it.each([
      ['a reserved bit set', (VERSION | (1 << 28)) >>> 0],
      ['the unknown type 1', buildHeader(0x0, 1, 0x10, 5)],
      ['a notification', buildHeader(0x0, 3, 0x10, 5)],
    ])(
      'should fail a header with %s at once (the platform drops it) and serve the next message',
      async (_what, header) => {
        b = createTeeBench({ optee: { platformTimeoutMs: 1e9 } });
        const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
        const area = b.wire.ree.staticShmem(0) as Uint8Array;
        smtMessage(area, header);
        await processSmt(s);
        expect(smtRead(area, SMT_STATUS) & 3).toBe(SMT_STATUS_ERROR | SMT_STATUS_FREE);
        expect(b.optee.stats.scmi).toMatchObject({ messages: 1, rejected: 1, platformTimeouts: 0 });
        expect(b.platform.counters.droppedRequests).toBe(1);
        expect(b.clock.now()).toBe(0);
        smtMessage(area, VERSION);
        await processSmt(s);
        expect(smtRead(area, SMT_STATUS)).toBe(SMT_STATUS_FREE);
        expect(readU32(area, SMT_PAYLOAD + 4)).toBe(0x20001);
        expect(b.optee.stats.scmi.busy).toBe(0);
      },
    );

    it('should refuse a channel that has no handle yet, an unknown channel and wrong types', async () => {
      b = createTeeBench();
      const s = await b.context.openSession(PTA_SCMI_UUID);
      expect(await result(processSmt(s))).toBe(TeeResult.BAD_STATE);
      expect(await result(processSmt(s, 5))).toBe(TeeResult.BAD_PARAMETERS);
      expect(await result(s.invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL, []))).toBe(
        TeeResult.BAD_PARAMETERS,
      );
      // Counted by the PTA, which refused them itself: neither the TEE core nor the SCMI server.
      expect(b.optee.stats).toMatchObject({
        pta: { refused: 3, withoutArea: 0 },
        refusedCalls: 0,
        scmi: { messages: 0, rejected: 0 },
      });
    });

    it('should succeed without processing on a channel that has no static area', async () => {
      b = createTeeBench();
      const s = await channel(b, 1, PtaScmiCaps.SMT_HEADER);
      expect(await result(processSmt(s, 1))).toBe(TeeResult.SUCCESS);
      expect(b.optee.stats.scmi.messages).toBe(0);
      expect(b.optee.stats.pta).toEqual({ refused: 0, withoutArea: 1 });
    });

    it('should give up on a platform that never answers, with a channel error', async () => {
      b = createTeeBench({ optee: { platformTimeoutMs: 20 } });
      b.platform.faults.add({ match: { nth: 1 }, action: { kind: 'drop' } });
      const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      const area = b.wire.ree.staticShmem(0) as Uint8Array;
      smtMessage(area, VERSION);
      await processSmt(s);
      expect(smtRead(area, SMT_STATUS) & 3).toBe(SMT_STATUS_ERROR | SMT_STATUS_FREE);
      expect(b.optee.stats.scmi.platformTimeouts).toBe(1);
      expect(b.clock.now()).toBe(20);
    });

    it('should report a length past the area under the output-size fault, or the real length plus excess', async () => {
      b = createTeeBench();
      const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      const area = b.wire.ree.staticShmem(0) as Uint8Array;
      b.optee.faults.add({ match: { nth: 1 }, action: { kind: 'output-size' } });
      b.optee.faults.add({ match: { nth: 2 }, action: { kind: 'output-size', excess: 8 } });
      smtMessage(area, VERSION);
      await processSmt(s);
      // The length counts from the header (0x18): 128 - 0x18 = 104 bytes fit, one word more.
      expect(smtRead(area, SMT_LENGTH)).toBe(108);
      smtMessage(area, VERSION);
      await processSmt(s);
      expect(smtRead(area, SMT_LENGTH)).toBe(20);
    });

    it('should count a platform response that comes when nothing waits', async () => {
      b = createTeeBench();
      b.platform.faults.add({ match: { nth: 1 }, action: { kind: 'duplicate', delayMs: 1 } });
      const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      smtMessage(b.wire.ree.staticShmem(0) as Uint8Array, VERSION);
      await processSmt(s);
      await b.clock.runUntilIdle(10);
      expect(b.optee.stats.scmi.strayResponses).toBe(1);
    });
  });

  describe('PROCESS_SMT_CHANNEL_MESSAGE', () => {
    it('should process an SMT area passed by memory reference of at least 128 bytes', async () => {
      b = createTeeBench();
      const s = await channel(b, 1, PtaScmiCaps.SMT_HEADER);
      const shm = await b.context.allocSharedMemory(128);
      smtMessage(shm.bytes, VERSION);
      await s.invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE, [
        teeValue(TeeParamType.VALUE_INPUT, 1),
        teeMemref(TeeParamType.MEMREF_INOUT, shm),
      ]);
      expect(smtRead(shm.bytes, SMT_STATUS)).toBe(SMT_STATUS_FREE);
      expect(readU32(shm.bytes, SMT_PAYLOAD + 4)).toBe(0x20001);
      const short = teeMemref(TeeParamType.MEMREF_INOUT, shm, 0, 127);
      expect(
        await result(
          s.invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE, [
            teeValue(TeeParamType.VALUE_INPUT, 1),
            short,
          ]),
        ),
      ).toBe(TeeResult.BAD_PARAMETERS);
    });

    /**
     * SENSOR_DESCRIPTION_GET from descriptor 0 (as many descriptors as the link carries) through
     * command 2 in a `bytes`-byte area: the area's status, the SCMI status, the SMT length.
     */
    async function sensorsInArea(bench: TeeBench, s: TeeSession, bytes: number): Promise<number[]> {
      const shm = await bench.context.allocSharedMemory(bytes);
      smtMessage(shm.bytes, buildHeader(0x3, 0, 0x15, 6), new Uint8Array(4));
      await s.invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE, [
        teeValue(TeeParamType.VALUE_INPUT, 1),
        teeMemref(TeeParamType.MEMREF_INOUT, shm),
      ]);
      return [
        smtRead(shm.bytes, SMT_STATUS),
        readI32(shm.bytes, SMT_PAYLOAD),
        smtRead(shm.bytes, SMT_LENGTH),
      ];
    }

    it('should answer PROTOCOL_ERROR, not a cut reply, when a response does not fit the area of command 2', async () => {
      // Responses sized to 128-byte MSG buffers, as older kernels had them (124 bytes without a
      // static area): more than a 128-byte area's 100; a 160-byte area holds them.
      const bench = createTeeBench({
        wire: { channels: [{ id: 1 }] },
        optee: { msgBufferSize: 128 },
      });
      b = bench;
      const s = await channel(bench, 1, PtaScmiCaps.SMT_HEADER);
      expect(await sensorsInArea(bench, s, 128)).toEqual([
        SMT_STATUS_FREE,
        ScmiStatus.PROTOCOL_ERROR,
        8,
      ]);
      const [status, scmi, length] = await sensorsInArea(bench, s, 160);
      expect([status, scmi]).toEqual([SMT_STATUS_FREE, ScmiStatus.SUCCESS]);
      expect(length).toBeGreaterThan(4 + 100);
    });

    it('should fit a response sized to the default MSG buffer (104 bytes, as Linux) in the smallest area of command 2', async () => {
      // 100 bytes of message: what a 128-byte area holds after the SMT header.
      const bench = createTeeBench({ wire: { channels: [{ id: 1 }] } });
      b = bench;
      const s = await channel(bench, 1, PtaScmiCaps.SMT_HEADER);
      const [status, scmi, length] = await sensorsInArea(bench, s, 128);
      expect([status, scmi]).toEqual([SMT_STATUS_FREE, ScmiStatus.SUCCESS]);
      expect(length).toBeGreaterThan(8);
      expect(length).toBeLessThanOrEqual(4 + 100);
    });

    it('should refuse a channel that has a static area', async () => {
      b = createTeeBench();
      const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      const shm = await b.context.allocSharedMemory(128);
      expect(
        await result(
          s.invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL_MESSAGE, [
            teeValue(TeeParamType.VALUE_INPUT, 0),
            teeMemref(TeeParamType.MEMREF_INOUT, shm),
          ]),
        ),
      ).toBe(TeeResult.BAD_STATE);
    });
  });

  describe('PROCESS_MSG_CHANNEL', () => {
    async function msg(
      s: TeeSession,
      input: TeeMemrefParam,
      output: TeeMemrefParam,
    ): Promise<{ result: number; size: number }> {
      try {
        const r = await s.invoke(PtaScmiCommand.PROCESS_MSG_CHANNEL, [
          teeValue(TeeParamType.VALUE_INPUT, 1),
          input,
          output,
        ]);
        return { result: 0, size: (r.params[2] as TeeMemrefParam).size };
      } catch (e) {
        if (TeeError.is(e))
          return { result: e.result, size: (e.params?.[2] as TeeMemrefParam).size };
        throw e;
      }
    }

    it('should answer in the output buffer and update its size', async () => {
      b = createTeeBench();
      const s = await channel(b, 1, PtaScmiCaps.MSG_HEADER);
      const shm = await b.context.allocSharedMemory(128);
      writeU32(shm.bytes, 0, VERSION);
      const r = await msg(
        s,
        teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
        teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, 128),
      );
      expect(r).toEqual({ result: 0, size: 12 });
      expect([readU32(shm.bytes, 0), readI32(shm.bytes, 4), readU32(shm.bytes, 8)]).toEqual([
        VERSION,
        0,
        0x20001,
      ]);
    });

    it('should refuse short, long and misaligned buffers with BAD_PARAMETERS', async () => {
      b = createTeeBench();
      const s = await channel(b, 1, PtaScmiCaps.MSG_HEADER);
      const shm = await b.context.allocSharedMemory(128);
      writeU32(shm.bytes, 0, VERSION);
      const io = (inOff: number, inSize: number, outOff: number, outSize: number) =>
        msg(
          s,
          teeMemref(TeeParamType.MEMREF_INPUT, shm, inOff, inSize),
          teeMemref(TeeParamType.MEMREF_OUTPUT, shm, outOff, outSize),
        );
      expect((await io(0, 3, 0, 128)).result).toBe(TeeResult.BAD_PARAMETERS);
      expect((await io(0, 97, 0, 128)).result).toBe(TeeResult.BAD_PARAMETERS);
      expect((await io(1, 4, 0, 120)).result).toBe(TeeResult.BAD_PARAMETERS);
      expect((await io(0, 4, 2, 120)).result).toBe(TeeResult.BAD_PARAMETERS);
      expect((await io(0, 4, 0, 3)).result).toBe(TeeResult.BAD_PARAMETERS);
      expect((await io(0, 4, 0, 0)).result).toBe(TeeResult.BAD_PARAMETERS);
      expect((await io(0, 96, 0, 128)).result).toBe(TeeResult.SUCCESS);
      // The PTA itself refuses the size-0 memref (no buffer, `cmd_process_msg_channel`); the
      // SCMI server counts the other five.
      expect(b.optee.stats.scmi.rejected).toBe(5);
    });

    it.each([4, 7])(
      'should refuse a %d-byte output buffer (no room for the status) with BAD_PARAMETERS and stay usable',
      async (outSize) => {
        b = createTeeBench();
        const s = await channel(b, 1, PtaScmiCaps.MSG_HEADER);
        const shm = await b.context.allocSharedMemory(128);
        writeU32(shm.bytes, 0, VERSION);
        shm.bytes.fill(0xee, 4);
        const small = await msg(
          s,
          teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
          teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, outSize),
        );
        expect(small.result).toBe(TeeResult.BAD_PARAMETERS);
        // Nothing was written, the channel was not claimed, the call slot was given back.
        expect(shm.bytes[4]).toBe(0xee);
        expect(b.optee.stats.scmi).toMatchObject({ rejected: 1, messages: 0 });
        expect(b.driver.stats.inFlight).toBe(0);
        const r = await msg(
          s,
          teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
          teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, 128),
        );
        expect(r).toEqual({ result: 0, size: 12 });
      },
    );

    it('should report a size past the output buffer under the output-size fault, or the real size plus excess', async () => {
      b = createTeeBench();
      const s = await channel(b, 1, PtaScmiCaps.MSG_HEADER);
      const shm = await b.context.allocSharedMemory(128);
      const io = () => {
        writeU32(shm.bytes, 0, VERSION);
        return msg(
          s,
          teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
          teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, 128),
        );
      };
      b.optee.faults.add({ match: { nth: 1 }, action: { kind: 'output-size' } });
      b.optee.faults.add({ match: { nth: 2 }, action: { kind: 'output-size', excess: 8 } });
      expect(await io()).toEqual({ result: 0, size: 132 });
      expect(await io()).toEqual({ result: 0, size: 20 });
    });

    it('should answer PROTOCOL_ERROR when the response does not fit the output buffer', async () => {
      b = createTeeBench();
      const s = await channel(b, 1, PtaScmiCaps.MSG_HEADER);
      const shm = await b.context.allocSharedMemory(128);
      writeU32(shm.bytes, 0, VERSION);
      const r = await msg(
        s,
        teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
        teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, 8),
      );
      expect(r).toEqual({ result: 0, size: 8 });
      expect(readI32(shm.bytes, 4)).toBe(ScmiStatus.PROTOCOL_ERROR);
    });

    it('should answer BUSY while the channel waits for the platform, and COMMUNICATION when the platform never answers', async () => {
      b = createTeeBench({ optee: { platformTimeoutMs: 5 } });
      b.platform.faults.add({ match: { nth: 1 }, action: { kind: 'drop' } });
      const s1 = await channel(b, 1, PtaScmiCaps.MSG_HEADER);
      const s2 = await channel(b, 1, PtaScmiCaps.MSG_HEADER);
      const a = await b.context.allocSharedMemory(128);
      const c = await b.context.allocSharedMemory(128);
      writeU32(a.bytes, 0, VERSION);
      writeU32(c.bytes, 0, VERSION);
      const params = (shm: typeof a): TeeParam[] => [
        teeValue(TeeParamType.VALUE_INPUT, 1),
        teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
        teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, 128),
      ];
      const first = result(s1.invoke(PtaScmiCommand.PROCESS_MSG_CHANNEL, params(a)));
      await b.clock.runTasks();
      expect(await result(s2.invoke(PtaScmiCommand.PROCESS_MSG_CHANNEL, params(c)))).toBe(
        TeeResult.BUSY,
      );
      expect(await first).toBe(TeeResult.COMMUNICATION);
      // The memory a running invocation references cannot be unregistered meanwhile; now it can.
      await a.free();
      expect(b.optee.stats.registeredShm).toBe(1);
    });

    it('should fail a header that is not a command at once with COMMUNICATION, the channel free for the next', async () => {
      b = createTeeBench({ optee: { platformTimeoutMs: 1e9 } });
      const s = await channel(b, 1, PtaScmiCaps.MSG_HEADER);
      const shm = await b.context.allocSharedMemory(128);
      const send = (header: number): Promise<{ result: number; size: number }> => {
        writeU32(shm.bytes, 0, header);
        return msg(
          s,
          teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
          teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, 128),
        );
      };
      expect((await send((VERSION | (1 << 28)) >>> 0)).result).toBe(TeeResult.COMMUNICATION);
      expect(b.optee.stats.scmi).toMatchObject({ messages: 1, rejected: 1, platformTimeouts: 0 });
      expect(b.clock.now()).toBe(0);
      expect(await send(VERSION)).toEqual({ result: 0, size: 12 });
    });

    /**
     * SENSOR_DESCRIPTION_GET from descriptor 0 (as many descriptors as the link carries) on MSG
     * channel 1, answered into a `p2`-byte output buffer: the TEE result, the size OP-TEE set, the
     * SCMI status.
     */
    async function sensorsInP2(bench: TeeBench, p2: number): Promise<number[]> {
      const s = await channel(bench, 1, PtaScmiCaps.MSG_HEADER);
      const shm = await bench.context.allocSharedMemory(p2);
      writeU32(shm.bytes, 0, buildHeader(0x3, 0, 0x15, 6));
      writeU32(shm.bytes, 4, 0);
      const r = await msg(
        s,
        teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 8),
        teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, p2),
      );
      return [r.result, r.size, readI32(shm.bytes, 4)];
    }

    it('should size responses to a 104-byte p2 by default, as Linux sizes its MSG buffer: at most 100 bytes of status and returns', async () => {
      b = createTeeBench({ wire: { channels: [{ id: 1 }] } });
      const [tee, size, scmi] = await sensorsInP2(b, 104);
      expect([tee, scmi]).toEqual([0, ScmiStatus.SUCCESS]);
      // Three 28-byte descriptors in 100 bytes (96 in all): a link well below 100 carries fewer.
      expect(size).toBeGreaterThan(4 + 64);
      expect(size).toBeLessThanOrEqual(104);
    });

    it('should carry a response of up to 124 bytes with msgBufferSize 128, as older kernels sized the buffer', async () => {
      b = createTeeBench({ wire: { channels: [{ id: 1 }] }, optee: { msgBufferSize: 128 } });
      const [tee, size, scmi] = await sensorsInP2(b, 128);
      expect([tee, scmi]).toEqual([0, ScmiStatus.SUCCESS]);
      expect(size).toBeGreaterThan(4 + 100);
      expect(size).toBeLessThanOrEqual(128);
    });

    it('should answer PROTOCOL_ERROR in a 104-byte p2 a response sized to 128-byte buffers, from the room p2 gives', async () => {
      // The platform sizes the reply to 124 bytes; the room comes from p2 (its size less 4), not
      // from the link: a 104-byte p2 gets the status alone, as any response that does not fit.
      b = createTeeBench({ wire: { channels: [{ id: 1 }] }, optee: { msgBufferSize: 128 } });
      expect(await sensorsInP2(b, 104)).toEqual([0, 8, ScmiStatus.PROTOCOL_ERROR]);
    });

    it('should refuse the command when MSG is not built in', async () => {
      b = createTeeBench({ optee: { capabilities: PtaScmiCaps.SMT_HEADER } });
      const s = await channel(b, 0, PtaScmiCaps.SMT_HEADER);
      const shm = await b.context.allocSharedMemory(128);
      const r = await msg(
        s,
        teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
        teeMemref(TeeParamType.MEMREF_OUTPUT, shm, 0, 128),
      );
      expect(r.result).toBe(TeeResult.NOT_SUPPORTED);
    });
  });

  describe('when processing a call throws', () => {
    /** A platform port in front of `platform` that throws when `fault.handle` or `fault.late` says. */
    function faultyPort(platform: ScmiPlatform): {
      port: ScmiPlatformPort;
      fault: { handle: boolean; late: boolean };
    } {
      const fault = { handle: false, late: false };
      const port: ScmiPlatformPort = {
        connect: (agentId, link) =>
          platform.connect(agentId, {
            p2a: link.p2a,
            maxMsgSize: link.maxMsgSize,
            post: (m) => link.post(m),
            // A late response that blows up once the SCMI server touches it.
            respond: (channelId, bytes) =>
              link.respond(channelId, fault.late ? new ExplodingBytes(bytes) : bytes),
          }),
        handle: (agentId, channelId, request) => {
          if (fault.handle) throw new Error('platform bug');
          return platform.handle(agentId, channelId, request);
        },
      };
      return { port, fault };
    }

    class ExplodingBytes extends Uint8Array {
      public override slice(): Uint8Array<ArrayBuffer> {
        throw new Error('late platform bug');
      }
    }

    async function setup(): Promise<{
      fault: { handle: boolean; late: boolean };
      platform: ScmiPlatform;
      optee: EmulatedOptee;
      smt: () => Promise<unknown>;
      msg: () => Promise<unknown>;
      close: () => Promise<void>;
    }> {
      const clock = new VirtualClock({ auto: true });
      const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
      const { port, fault } = faultyPort(platform);
      const wire = createSameThreadOpteeWire(clock, {
        channels: [{ id: 0, staticShmem: true }, { id: 1 }],
      });
      const optee = new EmulatedOptee({ wire: wire.tee, platform: port, agentId: 1, clock });
      const driver = new OpteeDriver(wire.ree);
      const context = openTeeContext(driver);
      const open = async (id: number, caps: number): Promise<TeeSession> => {
        const s = await context.openSession(PTA_SCMI_UUID);
        await s.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [
          teeValue(TeeParamType.VALUE_INOUT, id, caps),
        ]);
        return s;
      };
      const s0 = await open(0, PtaScmiCaps.SMT_HEADER);
      const s1 = await open(1, PtaScmiCaps.MSG_HEADER);
      const area = wire.ree.staticShmem(0) as Uint8Array;
      const shm = await context.allocSharedMemory(128);
      return {
        fault,
        platform,
        optee,
        smt: () => {
          smtMessage(area, VERSION);
          return processSmt(s0);
        },
        msg: () => {
          writeU32(shm.bytes, 0, VERSION);
          return s1.invoke(PtaScmiCommand.PROCESS_MSG_CHANNEL, [
            teeValue(TeeParamType.VALUE_INPUT, 1),
            teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 4),
            teeMemref(TeeParamType.MEMREF_OUTPUT, shm),
          ]);
        },
        close: async () => {
          await context.close();
          driver.close();
          optee.close();
          platform.close();
          expect(clock.armedTimers).toBe(0);
        },
      };
    }

    it.each(['smt', 'msg'] as const)(
      'should answer a %s message whose platform call throws with GENERIC from the TEE, count it and keep the channel usable',
      async (mode) => {
        const t = await setup();
        t.fault.handle = true;
        const e = await t[mode]().catch((x: unknown) => x);
        expect(TeeError.is(e) && [e.result, e.origin]).toEqual([TeeResult.GENERIC, TeeOrigin.TEE]);
        expect(t.optee.stats.internalErrors).toBe(1);
        expect((t.optee.lastInternalError as Error).message).toBe('platform bug');
        t.fault.handle = false;
        await expect(t[mode]()).resolves.toBeDefined();
        expect(t.optee.stats.internalErrors).toBe(1);
        await t.close();
      },
    );

    it.each(['smt', 'msg'] as const)(
      'should answer a %s message whose late platform response throws with GENERIC from the TEE and keep the channel usable',
      async (mode) => {
        const t = await setup();
        t.platform.faults.add({ match: { times: 1 }, action: { kind: 'delay', ms: 5 } });
        t.fault.late = true;
        const e = await t[mode]().catch((x: unknown) => x);
        expect(TeeError.is(e) && [e.result, e.origin]).toEqual([TeeResult.GENERIC, TeeOrigin.TEE]);
        expect(t.optee.stats.internalErrors).toBe(1);
        expect((t.optee.lastInternalError as Error).message).toBe('late platform bug');
        t.fault.late = false;
        await expect(t[mode]()).resolves.toBeDefined();
        await t.close();
      },
    );
  });

  it('should answer an unknown command with NOT_SUPPORTED from the trusted application', async () => {
    b = createTeeBench();
    const s = await b.context.openSession(PTA_SCMI_UUID);
    await expect(s.invoke(42, [])).rejects.toMatchObject({
      result: TeeResult.NOT_SUPPORTED,
      origin: TeeOrigin.TRUSTED_APP,
    });
  });

  it('should be an EmulatedOptee that refuses the normal world end and bad options', () => {
    const bench = (b = createTeeBench());
    const base = { platform: bench.platform, agentId: 2, clock: bench.clock };
    const { ree, tee } = bench.wire;
    expect(() => new EmulatedOptee({ ...base, wire: ree })).toThrow(/secure world/);
    expect(() => new EmulatedOptee({ ...base, wire: tee, platformTimeoutMs: 0 })).toThrow(
      /platformTimeoutMs/,
    );
    expect(() => new EmulatedOptee({ ...base, wire: tee, capabilities: 8 })).toThrow(
      /capabilities/,
    );
  });

  it.each([7, 129, 104.5, Number.NaN, '104', null])(
    'should be an EmulatedOptee that refuses msgBufferSize %p with a ScmiConfigError naming it',
    (msgBufferSize) => {
      const bench = (b = createTeeBench());
      const options = {
        wire: bench.wire.tee,
        platform: bench.platform,
        agentId: 2,
        clock: bench.clock,
        msgBufferSize: msgBufferSize as number,
      };
      let error: unknown;
      try {
        new EmulatedOptee(options).close();
      } catch (e) {
        error = e;
      }
      expect(ScmiConfigError.is(error) && error.field).toBe('msgBufferSize');
    },
  );
});
