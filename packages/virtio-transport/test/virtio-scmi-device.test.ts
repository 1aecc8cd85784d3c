import {
  ScmiConfigError,
  ScmiMessageType,
  ScmiProtocolId,
  VirtualClock,
  buildHeader,
  encodeMsg,
  encodeMsgResponse,
  readU32,
} from '@scmi-ts/core';
import {
  BaseMessageId,
  BaseNotificationId,
  ScmiPlatform,
  createDefaultPlatformConfig,
} from '@scmi-ts/platform';
import {
  SplitRing,
  VIRTIO_SCMI_DEVICE_FEATURES,
  VIRTQ_USED_F_NO_NOTIFY,
  VirtioDevicePresence,
  VirtioFeature,
  VirtioRegister,
  VirtioScmiDevice,
  VirtioScmiWire,
  VirtioStatus,
  VirtqDescFlag,
  featureMask,
  type VirtioCompletionOrder,
  type VirtioScmiDeviceOptions,
} from '@scmi-ts/virtio-transport';
import { ManualDriver, type ChainElement } from './support/manual-driver.js';
import { StubPlatform } from './support/stub-platform.js';

const { ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, DEVICE_NEEDS_RESET, FAILED } = VirtioStatus;
const V1 = featureMask(VirtioFeature.VERSION_1);
const P2A = featureMask(VirtioFeature.SCMI_P2A_CHANNELS);

function command(token: number, payload: number[] = []): Uint8Array {
  return encodeMsg(buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, token), new Uint8Array(payload));
}

function setup(
  options: Partial<Omit<VirtioScmiDeviceOptions, 'platform' | 'agentId' | 'clock'>> = {},
) {
  const clock = new VirtualClock();
  const wire = VirtioScmiWire.sameThread(clock, { cmdqSize: 8, eventqSize: 4 });
  const platform = new StubPlatform();
  const device = new VirtioScmiDevice(wire, { platform, agentId: 1, clock, ...options });
  const driver = new ManualDriver(wire, clock);
  const done = (): void => {
    device.close();
    driver.close();
  };
  return { clock, wire, platform, device, driver, done };
}

describe(VirtioScmiDevice, () => {
  describe('the handshake', () => {
    it('should offer its features, accept a subset with VERSION_1 and connect at DRIVER_OK', async () => {
      const { wire, platform, device, driver, done } = setup();
      expect(
        wire.registers.readFeatures(
          VirtioRegister.DEVICE_FEATURES_LOW,
          VirtioRegister.DEVICE_FEATURES_HIGH,
        ),
      ).toBe(VIRTIO_SCMI_DEVICE_FEATURES);
      const status = await driver.start();
      expect(status).toBe(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
      expect(device.features).toBe(V1 | P2A);
      expect(device.live).toBe(true);
      expect(platform.link?.p2a).toBe(true);
      expect(platform.link?.maxMsgSize).toBe(128);
      expect(wire.registers.read(VirtioRegister.STATUS_ACK)).toBe(
        wire.registers.read(VirtioRegister.STATUS_SEQUENCE),
      );
      expect(driver.configSignals).toBeGreaterThan(0);
      done();
    });

    it('should connect without P2A when the driver did not take P2A_CHANNELS', async () => {
      const { platform, driver, done } = setup();
      await driver.start({ features: V1 });
      expect(platform.link?.p2a).toBe(false);
      done();
    });

    it.each([
      ['without VERSION_1', P2A],
      ['with a feature it did not offer', V1 | featureMask(VirtioFeature.SCMI_SHARED_MEMORY)],
    ])('should refuse FEATURES_OK %s', async (_, features) => {
      const { device, driver, done } = setup();
      const status = await driver.start({ features });
      expect(status & FEATURES_OK).toBe(0);
      expect(status & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
      expect(device.live).toBe(false);
      done();
    });

    it.each([
      ['a cmdq larger than offered', { cmdqSize: 16 }],
      ['an eventq that is not a power of two', { eventqSize: 3 }],
    ])('should set DEVICE_NEEDS_RESET at DRIVER_OK for %s', async (_, queues) => {
      const { device, driver, done } = setup();
      const status = await driver.start(queues);
      expect(status & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
      expect(device.live).toBe(false);
      done();
    });

    it('should set DEVICE_NEEDS_RESET when the platform refuses the agent', async () => {
      const { platform, driver, done } = setup();
      platform.refuseConnect = true;
      expect((await driver.start()) & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
      done();
    });

    it('should reset on status 0: disconnect, forget every buffer, read back 0', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      platform.reply = () => undefined;
      driver.command(0, command(1));
      await driver.kick();
      expect(device.outstandingCommands).toBe(1);
      expect(await driver.status(0)).toBe(0);
      expect([device.live, device.outstandingCommands, platform.disconnects]).toEqual([
        false,
        0,
        1,
      ]);
      expect(device.stats.resets).toBe(2);
      done();
    });

    it('should, with reset-ack-late, go on serving until it resets, then acknowledge and look at a status written meanwhile', async () => {
      const { clock, wire, platform, device, driver, done } = setup();
      await driver.start();
      platform.reply = () => undefined; // the platform answers later
      driver.command(0, command(1));
      await driver.kick();
      device.faults.add({ kind: 'reset-ack-late', ackAfterMs: 10 });
      const r = wire.registers;
      const live = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
      expect(await driver.status(0)).toBe(live); // not reset yet
      const resetSequence = r.read(VirtioRegister.STATUS_SEQUENCE);
      expect(r.read(VirtioRegister.STATUS_ACK)).not.toBe(resetSequence);
      // Still serving: the platform's answer is written into the buffer the device holds.
      platform.link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 1), 0));
      await clock.runTasks();
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 8 }]);
      expect(device.stats.lateResponses).toBe(1);
      // A status written meanwhile waits for the reset.
      const writesBefore = device.stats.statusWrites;
      expect(await driver.status(ACKNOWLEDGE)).toBe(live);
      expect(device.stats.statusWrites).toBe(writesBefore);
      await clock.advance(10);
      expect(device.faults.counts['reset-ack-late']).toBe(1);
      expect([device.live, platform.disconnects, device.stats.resets]).toEqual([false, 1, 2]);
      expect(r.read(VirtioRegister.DEVICE_STATUS)).toBe(ACKNOWLEDGE);
      expect(r.read(VirtioRegister.STATUS_ACK)).toBe(r.read(VirtioRegister.STATUS_SEQUENCE));
      expect(r.read(VirtioRegister.STATUS_SEQUENCE)).toBe(resetSequence + 1);
      done();
    });

    it('should cancel a late reset when it is closed, and refuse ackAfterMs on other kinds', async () => {
      const { clock, device, driver, done } = setup();
      await driver.start();
      device.faults.add({ kind: 'reset-ack-late', ackAfterMs: 10 });
      await driver.status(0);
      device.close();
      expect(clock.armedTimers).toBe(0);
      expect(() => device.faults.add({ kind: 'used-idx-jump', ackAfterMs: 1 })).toThrow(
        expect.objectContaining({ field: 'rule.ackAfterMs' }) as Error,
      );
      expect(() => device.faults.add({ kind: 'reset-ack-late', ackAfterMs: -1 })).toThrow(
        expect.objectContaining({ field: 'rule.ackAfterMs' }) as Error,
      );
      done();
    });

    it('should refuse a status write that clears a bit it holds: it needs a reset, takes no more commands and neither starts again nor reconnects', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      platform.reply = () => undefined; // the platform answers later
      driver.command(0, command(1));
      await driver.kick();
      const base = ACKNOWLEDGE | DRIVER | FEATURES_OK;
      // DRIVER_OK cleared (a driver MUST NOT clear a status bit; only 0 resets), then set again.
      expect(await driver.status(base)).toBe(base | DRIVER_OK | DEVICE_NEEDS_RESET);
      expect(await driver.status(base | DRIVER_OK)).toBe(base | DRIVER_OK | DEVICE_NEEDS_RESET);
      expect(device.stats).toMatchObject({ badStatusWrites: 1, starts: 1 });
      expect([platform.connects, platform.disconnects, device.live]).toEqual([1, 0, false]);
      // No more commands are taken; the reset then disconnects and forgets the outstanding one.
      driver.command(2, command(2));
      await driver.kick();
      expect([platform.requests.length, driver.usedCmdq()]).toEqual([1, []]);
      expect(await driver.status(0)).toBe(0);
      expect([device.outstandingCommands, platform.disconnects]).toEqual([0, 1]);
      // And a new handshake works.
      platform.reply = (request) => encodeMsgResponse(readU32(request, 0), 0, new Uint8Array(0));
      expect(await driver.start()).toBe(base | DRIVER_OK);
      done();
    });

    it('should neither negotiate features nor start after a bad status write before DRIVER_OK, until a reset', async () => {
      const { platform, device, driver, done } = setup();
      await driver.status(0);
      await driver.status(ACKNOWLEDGE | DRIVER);
      // DRIVER cleared: a driver error before any feature was negotiated.
      expect(await driver.status(ACKNOWLEDGE)).toBe(ACKNOWLEDGE | DRIVER | DEVICE_NEEDS_RESET);
      // The rest of a handshake, as if nothing happened: FEATURES_OK refused, DRIVER_OK refused.
      const status = await driver.start({ reset: false });
      expect(status & (FEATURES_OK | DEVICE_NEEDS_RESET)).toBe(DEVICE_NEEDS_RESET);
      expect(device.stats).toMatchObject({
        badStatusWrites: 1,
        featuresRefused: 2,
        startsRefused: 1,
        starts: 0,
      });
      expect([device.live, platform.connects]).toEqual([false, 0]);
      // A reset clears it: the next handshake starts the device.
      expect(await driver.start()).toBe(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
      expect([device.live, platform.connects, device.stats.starts]).toEqual([true, 1, 1]);
      done();
    });

    it('should count a refused FEATURES_OK and a refused DRIVER_OK', async () => {
      const { device, driver, done } = setup();
      // A feature the device never offered: FEATURES_OK stays clear (refused at the write that
      // sets it, and again at the write that sets DRIVER_OK with it), DRIVER_OK is then refused.
      const status = await driver.start({ features: V1 | P2A | (1n << 40n) });
      expect(status & (FEATURES_OK | DEVICE_NEEDS_RESET)).toBe(DEVICE_NEEDS_RESET);
      expect(device.stats).toMatchObject({ featuresRefused: 2, startsRefused: 1, starts: 0 });
      expect(await driver.status(0)).toBe(0);
      // Queues the device does not support: FEATURES_OK accepted, DRIVER_OK refused.
      expect((await driver.start({ cmdqSize: 16 })) & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
      expect(device.stats).toMatchObject({ featuresRefused: 2, startsRefused: 2, starts: 0 });
      done();
    });

    it.each([
      ['DEVICE_NEEDS_RESET', DEVICE_NEEDS_RESET],
      ['a reserved bit (0x10)', 0x10],
      ['a bit above the eight status bits', 0x10000],
    ])(
      "should refuse a status write that sets %s, a bit that is not the driver's: it needs a reset and takes no more commands",
      async (_what, bit) => {
        const { platform, device, driver, done } = setup();
        const live = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
        expect(await driver.start()).toBe(live);
        expect(await driver.status(live | bit)).toBe(live | DEVICE_NEEDS_RESET);
        expect(device.stats.badStatusWrites).toBe(1);
        expect(device.live).toBe(false);
        driver.command(0, command(1));
        await driver.kick();
        expect([platform.requests.length, driver.usedCmdq()]).toEqual([0, []]);
        done();
      },
    );

    it('should take a status write that echoes the DEVICE_NEEDS_RESET it holds (read-modify-write drivers do)', async () => {
      const { device, driver, done } = setup();
      // DRIVER_OK refused (queues it does not support): the device holds DEVICE_NEEDS_RESET.
      const held = await driver.start({ cmdqSize: 16 });
      expect(held & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
      expect(await driver.status(held)).toBe(held);
      expect(device.stats.badStatusWrites).toBe(0);
      done();
    });

    it("should keep only the driver's bits of a FAILED write", async () => {
      const { device, driver, done } = setup();
      await driver.start();
      expect(await driver.status(ACKNOWLEDGE | FAILED | DEVICE_NEEDS_RESET | 0x10)).toBe(
        ACKNOWLEDGE | FAILED,
      );
      expect(device.live).toBe(false);
      done();
    });

    it('should stop on FAILED added to the status it holds, counting no bad status write', async () => {
      const { device, driver, done } = setup();
      const held = await driver.start();
      expect(await driver.status(held | FAILED)).toBe(held | FAILED);
      expect(device.live).toBe(false);
      expect(device.stats.badStatusWrites).toBe(0);
      done();
    });

    it('should stop on a FAILED that clears bits it holds, counting the write as bad (VIRTIO 1.2 §2.1.1)', async () => {
      const { device, driver, done } = setup();
      await driver.start();
      expect(await driver.status(ACKNOWLEDGE | FAILED)).toBe(ACKNOWLEDGE | FAILED);
      expect(device.live).toBe(false);
      expect(device.stats.badStatusWrites).toBe(1);
      done();
    });
  });

  describe('the cmdq', () => {
    it('should answer each command in its own buffer, returning and notifying each as soon as it is answered', async () => {
      const { wire, platform, device, driver, done } = setup();
      await driver.start();
      const a = driver.command(0, command(1, [1, 2, 3, 4]));
      const b = driver.command(2, command(2));
      const usedWhenAnswering: number[] = [];
      const echo = platform.reply;
      platform.reply = (request) => {
        usedWhenAnswering.push(driver.cmdq.loadUsedIdx());
        return echo(request);
      };
      await driver.kick();
      // In order, the first response is visible to the driver before the second command runs.
      expect(usedWhenAnswering).toEqual([0, 1]);
      expect(wire.registers.read(VirtioRegister.INTERRUPT_STATUS)).not.toBe(0);
      expect(platform.requests.map((r) => readU32(r, 0) >>> 18)).toEqual([1, 2]);
      expect(driver.usedCmdq()).toEqual([
        { id: 0, len: 12 },
        { id: 2, len: 8 },
      ]);
      expect(readU32(driver.bytes.subarray(a.response), 8)).toBe(0x04030201);
      expect(readU32(driver.bytes.subarray(b.response), 0) >>> 18).toBe(2);
      expect(driver.interrupts).toBe(1); // the two rings coalesce into one delivery
      expect(device.stats).toMatchObject({ commands: 2, responses: 2, interrupts: 2 });
      done();
    });

    it.each<[VirtioCompletionOrder, number[]]>([
      ['in-order', [0, 2, 4, 6]],
      ['reverse', [6, 4, 2, 0]],
    ])('should complete one pass %s', async (completion, ids) => {
      const { driver, done } = setup({ completion });
      await driver.start();
      for (const head of [0, 2, 4, 6]) driver.command(head, command(head));
      await driver.kick();
      expect(driver.usedCmdq().map((u) => u.id)).toEqual(ids);
      done();
    });

    it('should shuffle the completions of one pass, reproducibly per seed', async () => {
      const run = async (seed: number): Promise<number[]> => {
        const { driver, done } = setup({ completion: 'shuffle', seed });
        await driver.start();
        for (const head of [0, 2, 4, 6]) driver.command(head, command(head));
        await driver.kick();
        const ids = driver.usedCmdq().map((u) => u.id);
        done();
        return ids;
      };
      const first = await run(3);
      expect([...first].sort()).toEqual([0, 2, 4, 6]);
      expect(await run(3)).toEqual(first);
    });

    it('should write a later response into the outstanding buffer with its token, and drop one matching none', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      platform.reply = () => undefined;
      const a = driver.command(0, command(5));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([]);
      const link = platform.link;
      link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 9), 0)); // no such token
      link?.respond(1, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 5), 0)); // not the cmdq
      link?.respond(0, new Uint8Array(2)); // no header
      link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 5), 0));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 8 }]);
      expect(readU32(driver.bytes.subarray(a.response), 0) >>> 18).toBe(5);
      link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 5), 0)); // a duplicate
      expect(device.stats).toMatchObject({ deferred: 1, lateResponses: 1, unmatchedResponses: 4 });
      done();
    });

    it('should drop and count a response through the link of a device reset since', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      platform.reply = () => undefined;
      driver.command(0, command(5));
      await driver.kick();
      const stale = platform.link;
      expect(await driver.status(0)).toBe(0);
      await driver.start();
      driver.command(0, command(5)); // the same header, in the same buffer, on the new link
      await driver.kick();
      stale?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 5), 0));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([]);
      expect(device.stats).toMatchObject({ lateResponses: 0, unmatchedResponses: 1 });
      platform.link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 5), 0));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 8 }]);
      expect(device.stats).toMatchObject({ lateResponses: 1, unmatchedResponses: 1 });
      done();
    });

    it('should give back unanswered an outstanding command superseded by one with the same header, and match responses on the whole header', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      platform.reply = () => undefined;
      const clockAttributes = (token: number): Uint8Array =>
        encodeMsg(buildHeader(0x3, ScmiMessageType.COMMAND, 0x14, token), new Uint8Array(4));
      // Token 5 twice with other headers: both stay outstanding, each answered into its own buffer.
      const a = driver.command(0, command(5));
      const b = driver.command(2, clockAttributes(5));
      await driver.kick();
      const link = platform.link;
      link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x14, 5), 0));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 2, len: 8 }]);
      expect(readU32(driver.bytes.subarray(b.response), 0)).toBe(buildHeader(0x3, 0, 0x14, 5));
      // The agent gave up on `a` and reuses its header: `a` comes back unanswered at once, and
      // the response goes to the new command's buffer.
      const c = driver.command(4, command(5));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 0 }]);
      expect(readU32(driver.bytes.subarray(a.response), 0)).toBe(0);
      link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 5), 0));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 4, len: 8 }]);
      expect(readU32(driver.bytes.subarray(c.response), 0)).toBe(buildHeader(0x3, 0, 0x10, 5));
      expect(device.stats).toMatchObject({
        deferred: 3,
        lateResponses: 2,
        supersededCommands: 1,
        unmatchedResponses: 0,
      });
      expect(device.outstandingCommands).toBe(0);
      done();
    });

    it('should return malformed chains and requests with length 0', async () => {
      const { wire, device, driver, done } = setup();
      await driver.start();
      driver.cmdq.writeDesc(0, 0, 8, 0, 0); // outside guest memory
      driver.offerCmdq(0);
      driver.command(2, new Uint8Array(2)); // shorter than a header
      const big = driver.memory.allocate(300);
      driver.cmdq.writeDesc(4, big, 300, VirtqDescFlag.NEXT, 5); // larger than a message buffer
      driver.cmdq.writeDesc(5, big, 8, VirtqDescFlag.WRITE, 0);
      driver.offerCmdq(4);
      driver.offerCmdq(9); // head out of range: dropped
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([
        { id: 0, len: 0 },
        { id: 2, len: 0 },
        { id: 4, len: 0 },
      ]);
      expect(device.stats).toMatchObject({ badChains: 2, badRequests: 2, commands: 0 });
      expect(device.stats.badChainReasons).toEqual({
        'address-out-of-bounds': 1,
        'head-out-of-range': 1,
      });
      expect(wire.registers.read(VirtioRegister.DEVICE_STATUS) & DEVICE_NEEDS_RESET).toBe(0);
      done();
    });

    it.each([
      ['reserved bits', (buildHeader(0x3, ScmiMessageType.COMMAND, 0x10, 4) | 0x10000000) >>> 0],
      ['a notification', buildHeader(0x3, ScmiMessageType.NOTIFICATION, 0x10, 5)],
      ['a delayed response', buildHeader(0x3, ScmiMessageType.DELAYED_RESPONSE, 0x10, 6)],
    ])(
      'should hand a request header with %s to the real platform and return its buffer at once with length 0',
      async (_what, header) => {
        // The platform drops it (counted) and never answers it: held as deferred, the buffer
        // would be the device's until the reset.
        const clock = new VirtualClock();
        const wire = VirtioScmiWire.sameThread(clock, { cmdqSize: 8, eventqSize: 4 });
        const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
        const device = new VirtioScmiDevice(wire, { platform, agentId: 1, clock });
        const driver = new ManualDriver(wire, clock);
        await driver.start();
        driver.command(0, encodeMsg(header, new Uint8Array(0)));
        await driver.kick();
        expect(driver.usedCmdq()).toEqual([{ id: 0, len: 0 }]);
        expect(device.outstandingCommands).toBe(0);
        expect(device.stats).toMatchObject({ badRequests: 1, deferred: 0 });
        expect(platform.counters.droppedRequests).toBe(1);
        device.close();
        driver.close();
        platform.close();
      },
    );

    it.each([
      ['no writable part', 0],
      ['a writable part of a header only', 4],
      ['a writable part one byte short of header and status', 7],
    ])(
      'should not give the platform a command with %s, and return it with length 0',
      async (_what, writable) => {
        // The platform would carry the command out while the agent could never read the outcome.
        const { platform, device, driver, done } = setup();
        await driver.start();
        const req = driver.memory.allocate(8);
        driver.bytes.set(command(1), req);
        if (writable === 0) {
          driver.cmdq.writeDesc(0, req, 4, 0, 0);
        } else {
          driver.cmdq.writeDesc(0, req, 4, VirtqDescFlag.NEXT, 1);
          driver.cmdq.writeDesc(
            1,
            driver.memory.allocate(writable),
            writable,
            VirtqDescFlag.WRITE,
            0,
          );
        }
        driver.offerCmdq(0);
        driver.command(2, command(2), 8); // header and status fit: answered
        await driver.kick();
        expect(driver.usedCmdq()).toEqual([
          { id: 0, len: 0 },
          { id: 2, len: 8 },
        ]);
        expect(platform.requests).toHaveLength(1);
        expect(device.stats).toMatchObject({ badRequests: 1, commands: 1, responses: 1 });
        done();
      },
    );

    it('should cut a response to the writable part and count it, at once and later', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      // The stub echoes the payload: a 12-byte response into 10 writable bytes.
      driver.command(0, command(1, [1, 2, 3, 4]), 10);
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 10 }]);
      expect(device.stats).toMatchObject({ responses: 1, responsesTruncated: 1 });
      platform.reply = () => undefined; // answered later
      driver.command(2, command(2), 9);
      await driver.kick();
      platform.link?.respond(0, encodeMsgResponse(readU32(command(2), 0), 0, new Uint8Array(4)));
      expect(driver.usedCmdq()).toEqual([{ id: 2, len: 9 }]);
      expect(device.stats).toMatchObject({ lateResponses: 1, responsesTruncated: 2 });
      // One that fits is not counted.
      platform.link?.respond(0, new Uint8Array(0)); // unmatched: nothing written
      driver.command(4, command(3), 8);
      platform.reply = (request) => encodeMsgResponse(readU32(request, 0), 0);
      await driver.kick();
      expect(device.stats.responsesTruncated).toBe(2);
      done();
    });

    it('should return with length 0 a command whose platform.handle threw, count it, and answer the next', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      const reply = platform.reply;
      platform.reply = (request) => {
        platform.reply = reply;
        throw new Error(`platform bug on ${readU32(request, 0)}`);
      };
      driver.command(0, command(1));
      driver.command(2, command(2));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([
        { id: 0, len: 0 },
        { id: 2, len: 8 },
      ]);
      expect(device.stats).toMatchObject({ platformErrors: 1, commands: 2, responses: 1 });
      expect(device.live).toBe(true);
      done();
    });

    it('should return a full pass early when the driver keeps adding commands while it runs (reordered)', async () => {
      const { platform, device, driver, done } = setup({ completion: 'reverse' });
      await driver.start({ features: V1 | P2A | featureMask(VirtioFeature.RING_INDIRECT_DESC) });
      // Eight commands, one indirect descriptor each: every head of the cmdq, one full pass.
      for (let head = 0; head < 8; head++) {
        driver.placeChain(driver.cmdq, [head], [{ read: command(head) }, { write: 16 }], 0);
        driver.offerCmdq(head);
      }
      let extra = 0;
      const used: number[] = [];
      const echo = platform.reply;
      platform.reply = (request) => {
        // As a driver in another thread would: it consumes what comes back and offers heads 0
        // and 1 again. The device pops those entries only after it returned the full pass (they
        // are behind the eight in the available ring), so it takes them.
        used.push(...driver.usedCmdq().map((u) => u.id));
        if (extra < 2) driver.offerCmdq(extra++);
        return echo(request);
      };
      await driver.kick();
      used.push(...driver.usedCmdq().map((u) => u.id));
      expect(used).toEqual([7, 6, 5, 4, 3, 2, 1, 0, 1, 0]);
      expect(device.stats).toMatchObject({ commands: 10, badChains: 0 });
      expect(device.stats.interrupts).toBe(2); // one per returned batch (the rings coalesce)
      done();
    });

    it('should refuse a head it still holds (a bad chain, not returned), so it never holds more commands than the cmdq has entries', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      platform.reply = () => undefined; // every command waits for a later response
      driver.command(0, command(1));
      await driver.kick();
      for (let round = 0; round < 6; round++) {
        for (let k = 0; k < 4; k++) driver.offerCmdq(0); // head 0 again, still with the device
        await driver.kick();
      }
      expect(device.outstandingCommands).toBe(1);
      expect(platform.requests).toHaveLength(1);
      expect(device.stats).toMatchObject({ badChains: 24, deferred: 1 });
      expect(device.stats.badChainReasons).toEqual({ 'head-held': 24 });
      expect(driver.usedCmdq()).toEqual([]);
      platform.link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 1), 0));
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 8 }]);
      driver.offerCmdq(0); // returned: the driver may offer it again
      await driver.kick();
      expect(platform.requests).toHaveLength(2);
      expect(device.outstandingCommands).toBe(1);
      expect(device.stats.badChains).toBe(24);
      done();
    });

    describe('when the driver did not negotiate EVENT_IDX', () => {
      it('should set NO_NOTIFY while it processes a pass and clear it when it sleeps, losing no command', async () => {
        const { platform, device, driver, done } = setup();
        await driver.start(); // VERSION_1 and P2A_CHANNELS only
        driver.command(0, command(1));
        driver.command(2, command(2));
        const flags: number[] = [];
        const notified: boolean[] = [];
        const echo = platform.reply;
        platform.reply = (request) => {
          flags.push(driver.cmdq.loadUsedFlags());
          const token = readU32(request, 0) >>> 18;
          if (token < 4) {
            driver.command(2 * token + 2, command(token + 2)); // heads 4 and 6
            notified.push(driver.notifyCmdqUnlessSuppressed());
          }
          return echo(request);
        };
        const kicks = device.stats.kicks; // the handshake's status writes
        await driver.kick();
        expect(flags).toEqual([
          VIRTQ_USED_F_NO_NOTIFY,
          VIRTQ_USED_F_NO_NOTIFY,
          VIRTQ_USED_F_NO_NOTIFY,
          VIRTQ_USED_F_NO_NOTIFY,
        ]);
        expect(notified).toEqual([false, false, false]);
        expect(driver.cmdq.loadUsedFlags()).toBe(0);
        expect(driver.usedCmdq().map((u) => u.id)).toEqual([0, 2, 4, 6]);
        expect(device.stats).toMatchObject({ kicks: kicks + 1, commands: 4 });
        done();
      });

      it('should look at the available ring again after clearing NO_NOTIFY, so a command the driver adds just before is not lost', async () => {
        const { device, driver, done } = setup();
        await driver.start();
        driver.command(0, command(1));
        const notified: boolean[] = [];
        let added = false;
        const store = Object.getOwnPropertyDescriptor(SplitRing.prototype, 'storeUsedFlags')
          ?.value as (this: SplitRing, flags: number) => void;
        const spy = jest.spyOn(SplitRing.prototype, 'storeUsedFlags').mockImplementation(function (
          this: SplitRing,
          value: number,
        ) {
          // The driver (in another thread) adds a command after the device found the ring empty
          // and before it clears NO_NOTIFY: it sees NO_NOTIFY and does not notify.
          if (value === 0 && device.stats.commands === 1 && !added) {
            added = true;
            driver.command(2, command(2));
            notified.push(driver.notifyCmdqUnlessSuppressed());
          }
          store.call(this, value);
        });
        const kicks = device.stats.kicks;
        try {
          await driver.kick();
        } finally {
          spy.mockRestore();
        }
        expect(notified).toEqual([false]);
        expect(driver.usedCmdq().map((u) => u.id)).toEqual([0, 2]);
        expect(device.stats).toMatchObject({ kicks: kicks + 1, commands: 2 });
        expect(driver.cmdq.loadUsedFlags()).toBe(0);
        done();
      });
    });

    it('should clear a NO_NOTIFY left in the used rings when it starts with EVENT_IDX (the specification: flags MUST be 0)', async () => {
      const { device, driver, done } = setup();
      // A driver that does not clear the used rings it set up again: an earlier session without
      // EVENT_IDX left NO_NOTIFY in them.
      // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its ring as `this`
      const clear = SplitRing.prototype.clear;
      const spy = jest.spyOn(SplitRing.prototype, 'clear').mockImplementation(function (
        this: SplitRing,
      ) {
        clear.call(this);
        this.storeUsedFlags(VIRTQ_USED_F_NO_NOTIFY);
      });
      try {
        await driver.start({ features: V1 | P2A | featureMask(VirtioFeature.RING_EVENT_IDX) });
      } finally {
        spy.mockRestore();
      }
      expect(device.live).toBe(true);
      expect([driver.cmdq.loadUsedFlags(), driver.eventq.loadUsedFlags()]).toEqual([0, 0]);
      driver.command(0, command(1));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 8 }]);
      expect(driver.cmdq.loadUsedFlags()).toBe(0);
      done();
    });

    it('should leave an idle cmdq alone on a kick: no suppression field written (a cache line the driver reads)', async () => {
      const { device, driver, done } = setup();
      await driver.start(); // without EVENT_IDX: suppression by used.flags
      driver.command(0, command(1));
      await driver.kick();
      expect(driver.usedCmdq().map((u) => u.id)).toEqual([0]);
      const spy = jest.spyOn(SplitRing.prototype, 'storeUsedFlags');
      const commands = device.stats.commands;
      try {
        await driver.kick(); // nothing new on either queue
        expect(spy).not.toHaveBeenCalled();
        driver.command(2, command(2));
        await driver.kick(); // and a kick with work still takes it
        expect(spy).toHaveBeenCalled();
      } finally {
        spy.mockRestore();
      }
      expect(device.stats.commands).toBe(commands + 1);
      expect(driver.usedCmdq().map((u) => u.id)).toEqual([2]);
      done();
    });

    it('should need a reset when the driver moves avail.idx past the queue size', async () => {
      const { wire, device, driver, done } = setup();
      await driver.start();
      driver.cmdq.storeAvailIdx(100);
      await driver.kick();
      expect(wire.registers.read(VirtioRegister.DEVICE_STATUS) & DEVICE_NEEDS_RESET).toBe(
        DEVICE_NEEDS_RESET,
      );
      expect(device.live).toBe(false);
      expect(device.stats.badChainReasons).toEqual({ 'avail-idx-jump': 1 });
      done();
    });
  });

  describe('the eventq', () => {
    const notification = encodeMsg(
      buildHeader(0, ScmiMessageType.NOTIFICATION, 0x10, 0),
      new Uint8Array(8),
    );
    const delayed = encodeMsgResponse(
      buildHeader(0x5, ScmiMessageType.DELAYED_RESPONSE, 0x14, 3),
      0,
      new Uint8Array(12),
    );

    it('should drop a notification without a buffer and post one with a buffer', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      expect(platform.link?.post(notification)).toBe(false);
      driver.eventBuffer(0);
      await driver.kick();
      expect(device.eventBuffers).toBe(1);
      expect(platform.link?.post(notification)).toBe(true);
      expect(driver.usedEventq()).toEqual([{ id: 0, len: 12 }]);
      expect(device.stats).toMatchObject({ notificationsDropped: 1, notificationsPosted: 1 });
      done();
    });

    it('should keep a delayed response until a buffer comes, and refuse when too many wait', async () => {
      const { platform, device, driver, done } = setup({ maxWaitingDelayedResponses: 1 });
      await driver.start();
      expect(platform.link?.post(delayed)).toBe(true);
      expect(platform.link?.post(delayed)).toBe(false);
      driver.eventBuffer(1);
      await driver.kick();
      expect(driver.usedEventq()).toEqual([{ id: 1, len: 20 }]);
      expect(device.stats).toMatchObject({
        delayedResponsesQueued: 1,
        delayedResponsesRefused: 1,
        delayedResponsesPosted: 1,
      });
      driver.eventBuffer(2);
      await driver.kick();
      expect(platform.link?.post(delayed)).toBe(true);
      expect(device.stats.delayedResponsesPosted).toBe(2);
      done();
    });

    it('should drop a message larger than the buffer (the specification allows it)', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      driver.eventBuffer(0, 8);
      await driver.kick();
      expect(platform.link?.post(notification)).toBe(false);
      expect(device.stats.eventsTooLarge).toBe(1);
      expect(device.eventBuffers).toBe(1);
      done();
    });

    it('should refuse an eventq head it still holds (a bad chain, not returned), so it never holds more buffers than the eventq has entries', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      driver.eventBuffer(0);
      await driver.kick();
      for (let round = 0; round < 6; round++) {
        for (let k = 0; k < 4; k++) driver.offerEventq(0);
        await driver.kick();
      }
      expect(device.eventBuffers).toBe(1);
      expect(device.stats.badChains).toBe(24);
      expect(device.stats.badChainReasons).toEqual({ 'head-held': 24 });
      expect(driver.usedEventq()).toEqual([]);
      expect(platform.link?.post(notification)).toBe(true);
      expect(platform.link?.post(notification)).toBe(false); // one buffer, not 25
      expect(driver.usedEventq()).toEqual([{ id: 0, len: 12 }]);
      driver.offerEventq(0); // returned: the driver may offer it again
      await driver.kick();
      expect(device.eventBuffers).toBe(1);
      expect(device.stats.badChains).toBe(24);
      done();
    });

    it('should take a buffer the driver made available but did not kick for before dropping a notification', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      driver.eventBuffer(0); // re-queued, its kick not delivered yet
      expect(platform.link?.post(notification)).toBe(true);
      expect(driver.usedEventq()).toEqual([{ id: 0, len: 12 }]);
      driver.eventBuffer(0);
      expect(platform.link?.post(delayed)).toBe(true);
      expect(driver.usedEventq()).toEqual([{ id: 0, len: 20 }]);
      expect(device.stats).toMatchObject({
        notificationsPosted: 1,
        notificationsDropped: 0,
        delayedResponsesPosted: 1,
        delayedResponsesQueued: 0,
      });
      done();
    });

    it('should post a notification the platform sends while handling a command into a buffer not taken yet, and still answer the command', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      const a = driver.command(0, command(7, [9, 8, 7, 6]));
      const event = driver.eventBuffer(1);
      const echo = platform.reply;
      const posted: boolean[] = [];
      platform.reply = (request) => {
        posted.push(platform.link?.post(notification) ?? false);
        return echo(request);
      };
      await driver.kick(); // the device handles the cmdq before it looks at the eventq
      expect(posted).toEqual([true]);
      expect(driver.usedEventq()).toEqual([{ id: 1, len: 12 }]);
      expect(readU32(driver.bytes.subarray(event), 0)).toBe(readU32(notification, 0));
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 12 }]);
      expect(readU32(driver.bytes.subarray(a.response), 0) >>> 18).toBe(7);
      expect(readU32(driver.bytes.subarray(a.response), 8)).toBe(0x06070809);
      expect(device.eventBuffers).toBe(0);
      done();
    });

    it('should write a message into a later buffer it fits when the first is too small', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      driver.eventBuffer(0, 8);
      driver.eventBuffer(1);
      await driver.kick();
      expect(platform.link?.post(notification)).toBe(true);
      expect(driver.usedEventq()).toEqual([{ id: 1, len: 12 }]);
      expect(device.eventBuffers).toBe(1);
      expect(device.stats.eventsTooLarge).toBe(0);
      done();
    });

    it('should keep a delayed response that fits no buffer it holds until one it fits comes, whether it waited already or not', async () => {
      const { platform, device, driver, done } = setup();
      await driver.start();
      expect(platform.link?.post(delayed)).toBe(true); // no buffer: it waits
      driver.eventBuffer(0, 8);
      await driver.kick();
      expect(platform.link?.post(delayed)).toBe(true); // a buffer too small: it waits too
      expect(driver.usedEventq()).toEqual([]);
      expect(device.stats).toMatchObject({ delayedResponsesQueued: 2, delayedResponsesPosted: 0 });
      driver.eventBuffer(1);
      driver.eventBuffer(2);
      await driver.kick();
      expect(driver.usedEventq()).toEqual([
        { id: 1, len: 20 },
        { id: 2, len: 20 },
      ]);
      expect(device.stats.delayedResponsesPosted).toBe(2);
      expect(device.eventBuffers).toBe(1); // the small one, for a notification that fits
      done();
    });

    it('should refuse a delayed response larger than the link carries (no buffer sized as the specification asks holds it)', async () => {
      const { wire, platform, device, driver, done } = setup();
      await driver.start();
      driver.eventBuffer(0, 1024);
      await driver.kick();
      const huge = encodeMsgResponse(
        buildHeader(0x5, ScmiMessageType.DELAYED_RESPONSE, 0x14, 3),
        0,
        new Uint8Array(wire.layout.maxMsgSize - 3), // header + status + payload = 4 + maxMsgSize + 1
      );
      expect(platform.link?.post(huge)).toBe(false);
      expect(device.stats).toMatchObject({
        delayedResponsesTooLarge: 1,
        delayedResponsesQueued: 0,
        delayedResponsesPosted: 0,
      });
      expect(driver.usedEventq()).toEqual([]);
      const largest = encodeMsgResponse(
        buildHeader(0x5, ScmiMessageType.DELAYED_RESPONSE, 0x14, 3),
        0,
        new Uint8Array(wire.layout.maxMsgSize - 4),
      );
      expect(platform.link?.post(largest)).toBe(true);
      expect(driver.usedEventq()).toEqual([{ id: 0, len: wire.layout.maxMsgSize + 4 }]);
      done();
    });

    it.each([4, 7])(
      'should return an eventq buffer of %i bytes unused: no eventq message fits it',
      async (bytes) => {
        const { device, driver, done } = setup();
        await driver.start();
        driver.eventBuffer(0, bytes);
        driver.eventBuffer(1, 8);
        await driver.kick();
        expect(driver.usedEventq()).toEqual([{ id: 0, len: 0 }]);
        expect([device.stats.badChains, device.eventBuffers]).toEqual([1, 1]);
        expect(device.stats.badChainReasons).toEqual({ 'eventq-too-small': 1 });
        done();
      },
    );

    it('should return device-readable eventq buffers unused', async () => {
      const { device, driver, done } = setup();
      await driver.start();
      const addr = driver.memory.allocate(16);
      driver.eventq.writeDesc(0, addr, 16, 0, 0);
      driver.eventq.writeAvailEntry(0, 0);
      driver.eventq.storeAvailIdx(1);
      await driver.kick();
      expect(driver.usedEventq()).toEqual([{ id: 0, len: 0 }]);
      expect(device.stats.badChains).toBe(1);
      expect(device.stats.badChainReasons).toEqual({ 'eventq-readable': 1 });
      done();
    });

    it('should refuse to post without P2A', async () => {
      const { platform, driver, done } = setup();
      await driver.start({ features: V1 });
      expect(platform.link?.post(notification)).toBe(false);
      done();
    });
  });

  describe('with wire-level faults', () => {
    it('should write three used elements per command when both id faults fire, wrapping over unread ones, and keep its own bookkeeping', async () => {
      const { device, driver, done } = setup({
        faults: [{ kind: 'used-id-out-of-range' }, { kind: 'used-id-not-in-flight' }],
      });
      await driver.start();
      for (const head of [0, 2, 4, 6]) driver.command(head, command(head));
      await driver.kick();
      // 12 elements on an 8-entry used ring, none read yet: slot k holds the last element k mod 8.
      // Per command: { 15 (Q + 7), 0 }, the real { head, 8 }, { head + 1 (second descriptor), 0 }.
      expect(driver.cmdq.loadUsedIdx()).toBe(12);
      const slots = Array.from({ length: 8 }, (_, k) => driver.cmdq.usedId(k));
      expect(slots).toEqual([5, 15, 6, 7, 2, 3, 15, 4]);
      expect(device.faults.counts).toMatchObject({
        'used-id-out-of-range': 4,
        'used-id-not-in-flight': 4,
      });
      expect(device.stats).toMatchObject({ commands: 4, responses: 4, badChains: 0 });
      expect(device.outstandingCommands).toBe(0);
      // It holds none of them: the driver may offer every head again, and the device answers.
      device.faults.clear();
      driver.usedCmdq(); // the driver catches up with used.idx
      for (const head of [0, 2, 4, 6]) driver.offerCmdq(head);
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([0, 2, 4, 6].map((id) => ({ id, len: 8 })));
      expect(device.stats).toMatchObject({ commands: 8, badChains: 0 });
      done();
    });

    it('should hold a used-idx-jump for restoreAfterMs, then store the true index and interrupt again', async () => {
      const { clock, device, driver, done } = setup({
        faults: [{ kind: 'used-idx-jump', times: 1, restoreAfterMs: 5 }],
      });
      await driver.start();
      driver.command(0, command(1));
      const before = driver.interrupts;
      await driver.kick();
      expect(driver.cmdq.loadUsedIdx()).toBe(1 + 8 + 1); // the real element, then Q + 1 more
      expect(driver.interrupts).toBe(before + 1);
      await clock.advance(4);
      expect(driver.cmdq.loadUsedIdx()).toBe(10);
      await clock.advance(1);
      expect(driver.cmdq.loadUsedIdx()).toBe(1);
      expect(driver.interrupts).toBe(before + 2);
      expect(clock.armedTimers).toBe(0);
      expect(device.faults.counts['used-idx-jump']).toBe(1);
      done();
    });

    it('should not restore a used-idx-jump once the device needs a reset', async () => {
      const { wire, clock, driver, done } = setup({
        faults: [{ kind: 'used-idx-jump', times: 1, restoreAfterMs: 5 }],
      });
      await driver.start();
      driver.command(0, command(1));
      await driver.kick();
      expect(driver.cmdq.loadUsedIdx()).toBe(10);
      driver.cmdq.storeAvailIdx(100); // the driver's own corruption: DEVICE_NEEDS_RESET
      await driver.kick();
      expect(wire.registers.read(VirtioRegister.DEVICE_STATUS) & DEVICE_NEEDS_RESET).toBe(
        DEVICE_NEEDS_RESET,
      );
      expect(clock.armedTimers).toBe(0);
      const interrupts = driver.interrupts;
      await clock.advance(10);
      expect(driver.cmdq.loadUsedIdx()).toBe(10); // left as it was: the queue is no longer served
      expect(driver.interrupts).toBe(interrupts);
      done();
    });

    it('should end a timed used-idx-jump at the next publication, cancelling its restore', async () => {
      const { clock, driver, done } = setup({
        faults: [{ kind: 'used-idx-jump', nth: 1, restoreAfterMs: 5 }],
      });
      await driver.start();
      driver.command(0, command(1));
      await driver.kick();
      expect(driver.cmdq.loadUsedIdx()).toBe(10);
      expect(clock.armedTimers).toBe(1);
      driver.command(2, command(2));
      await driver.kick(); // the second publication: the true index, then its element
      expect(driver.cmdq.loadUsedIdx()).toBe(2);
      expect(clock.armedTimers).toBe(0);
      const interrupts = driver.interrupts;
      await clock.advance(10);
      expect(driver.cmdq.loadUsedIdx()).toBe(2);
      expect(driver.interrupts).toBe(interrupts); // no late restore, no spurious interrupt
      done();
    });

    it('should keep a withheld command held, refusing its head, until the reset', async () => {
      const { device, driver, done } = setup({
        faults: [{ kind: 'used-id-out-of-range', withhold: true, times: 1 }],
      });
      await driver.start();
      driver.command(0, command(1));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 15, len: 0 }]);
      expect(device.outstandingCommands).toBe(1);
      driver.offerCmdq(0);
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([]);
      expect(device.stats).toMatchObject({ commands: 1, badChains: 1 });
      expect(await driver.status(0)).toBe(0);
      expect(device.outstandingCommands).toBe(0);
      await driver.start();
      driver.command(0, command(2));
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 8 }]);
      done();
    });
  });

  describe('with INDIRECT_DESC and a real platform, whatever the split of a message', () => {
    const INDIRECT_DESC = featureMask(VirtioFeature.RING_INDIRECT_DESC);
    const BASE = ScmiProtocolId.BASE;
    const { COMMAND, NOTIFICATION } = ScmiMessageType;

    function setupReal() {
      const clock = new VirtualClock();
      const wire = VirtioScmiWire.sameThread(clock, { cmdqSize: 8, eventqSize: 4 });
      const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
      const device = new VirtioScmiDevice(wire, { platform, agentId: 1, clock });
      const driver = new ManualDriver(wire, clock);
      const done = (): void => {
        device.close();
        driver.close();
        platform.close();
      };
      return { device, driver, done };
    }

    const bytesOf = (word: number): Uint8Array => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, word, true);
      return b;
    };
    const read = (bytes: Uint8Array): ChainElement => ({ read: bytes });
    const write = (n: number): ChainElement => ({ write: n });
    const words = (bytes: Uint8Array): number[] =>
      Array.from({ length: bytes.byteLength / 4 }, (_, i) => readU32(bytes, 4 * i));
    const vendor = (bytes: Uint8Array): string =>
      new TextDecoder().decode(bytes.subarray(8, 24)).replace(/\0+$/, '');

    it('should answer commands split over indirect tables longer than a two-entry cmdq, and post into a table on a one-entry eventq', async () => {
      const { device, driver, done } = setupReal();
      const status = await driver.start({
        features: V1 | P2A | INDIRECT_DESC,
        cmdqSize: 2,
        eventqSize: 1,
      });
      expect(status & DRIVER_OK).toBe(DRIVER_OK);
      expect(device.features & INDIRECT_DESC).toBe(INDIRECT_DESC);

      // PROTOCOL_VERSION: the whole message in one table, the response over three writable
      // buffers, one of them empty.
      const version = buildHeader(0x0, COMMAND, BASE, 1);
      const a = driver.placeChain(
        driver.cmdq,
        [0],
        [read(bytesOf(version)), write(5), write(0), write(7)],
        0,
      );
      driver.offerCmdq(a.head);
      await driver.kick();
      const [ua] = driver.usedCmdq();
      expect(ua).toEqual({ id: 0, len: 12 });
      expect(words(driver.gather(a, 12))).toEqual([version, 0, 0x20001]);

      // DISCOVER_VENDOR: a readable descriptor in the queue with the header's first byte, then a
      // table with the rest of the header over two buffers (and an empty one), and the 24-byte
      // response over four writable buffers. The table says WRITE, which the device ignores.
      const vendorHeader = bytesOf(buildHeader(BaseMessageId.DISCOVER_VENDOR, COMMAND, BASE, 2));
      const b = driver.placeChain(
        driver.cmdq,
        [1, 0],
        [
          read(vendorHeader.subarray(0, 1)),
          read(vendorHeader.subarray(1, 3)),
          read(new Uint8Array(0)),
          read(vendorHeader.subarray(3)),
          write(3),
          write(0),
          write(13),
          write(8),
        ],
        1,
        VirtqDescFlag.INDIRECT | VirtqDescFlag.WRITE,
      );
      driver.offerCmdq(b.head);
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 1, len: 24 }]);
      const response = driver.gather(b, 24);
      expect(words(response.subarray(0, 8))).toEqual([readU32(vendorHeader, 0), 0]);
      expect(vendor(response)).toBe('scmi-ts');

      // A notification into a table of two writable buffers, the eventq's only entry.
      const e = driver.placeChain(driver.eventq, [0], [write(6), write(30)], 0);
      driver.offerEventq(e.head);
      await driver.kick();
      expect(device.eventBuffers).toBe(1);
      const subscribe = encodeMsg(
        buildHeader(BaseMessageId.NOTIFY_ERRORS, COMMAND, BASE, 3),
        bytesOf(1),
      );
      const c = driver.placeChain(driver.cmdq, [0], [read(subscribe), write(8)], 0);
      driver.offerCmdq(c.head);
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 0, len: 8 }]);
      expect(words(driver.gather(c, 8))).toEqual([readU32(subscribe, 0), 0]);
      // A header with reserved bits set: the platform drops it and reports a BASE_ERROR_EVENT.
      const bad = buildHeader(BaseMessageId.DISCOVER_VENDOR, COMMAND, BASE, 4) | 0xf0000000;
      const d = driver.placeChain(driver.cmdq, [1], [read(bytesOf(bad)), write(8)], 0);
      driver.offerCmdq(d.head);
      await driver.kick();
      expect(driver.usedEventq()).toEqual([{ id: 0, len: 20 }]);
      expect(driver.usedCmdq()).toEqual([{ id: 1, len: 0 }]); // given back, never answered
      expect(words(driver.gather(e, 20))).toEqual([
        buildHeader(BaseNotificationId.ERROR_EVENT, NOTIFICATION, BASE, 0),
        1, // agent id
        1, // one message report
        bad >>> 0,
        0,
      ]);
      expect(device.stats).toMatchObject({ badChains: 0, badRequests: 1, notificationsPosted: 1 });
      done();
    });

    it('should answer a command whose header is split over direct readable descriptors, one empty, and whose response is split too', async () => {
      const { device, driver, done } = setupReal();
      await driver.start({ features: V1 | P2A | INDIRECT_DESC });
      const header = bytesOf(buildHeader(BaseMessageId.DISCOVER_VENDOR, COMMAND, BASE, 9));
      const chain = driver.placeChain(
        driver.cmdq,
        [5, 2, 7, 0, 3, 6],
        [
          read(header.subarray(0, 2)),
          read(new Uint8Array(0)),
          read(header.subarray(2, 3)),
          read(header.subarray(3)),
          write(4),
          write(100),
        ],
      );
      driver.offerCmdq(chain.head);
      await driver.kick();
      expect(driver.usedCmdq()).toEqual([{ id: 5, len: 24 }]);
      const response = driver.gather(chain, 24);
      expect(readU32(response, 0)).toBe(readU32(header, 0));
      expect(readU32(response, 4)).toBe(0);
      expect(vendor(response)).toBe('scmi-ts');
      expect(device.stats).toMatchObject({ commands: 1, responses: 1, badChains: 0 });
      done();
    });
  });

  describe('.close', () => {
    it('should disconnect, mark the device end closed, signal the driver and ignore later calls', async () => {
      const { wire, platform, device, driver } = setup();
      await driver.start();
      const link = platform.link;
      device.close();
      device.close();
      await driver.clock.runTasks();
      expect(wire.devicePresence).toBe(VirtioDevicePresence.CLOSED);
      expect(platform.disconnects).toBe(1);
      expect(device.closed).toBe(true);
      expect(link?.post(encodeMsg(buildHeader(0, 3, 0x10, 0)))).toBe(false);
      link?.respond(0, encodeMsgResponse(buildHeader(0x3, 0, 0x10, 5), 0));
      driver.close();
    });
  });

  it('should refuse invalid options', () => {
    const clock = new VirtualClock();
    const make = (o: Partial<VirtioScmiDeviceOptions>) => () =>
      new VirtioScmiDevice(VirtioScmiWire.sameThread(clock), {
        platform: new StubPlatform(),
        agentId: 1,
        clock,
        ...o,
      });
    expect(make({ completion: 'sideways' as never })).toThrow(ScmiConfigError);
    expect(make({ seed: 1.5 })).toThrow(ScmiConfigError);
    expect(make({ maxWaitingDelayedResponses: -1 })).toThrow(ScmiConfigError);
  });
});
