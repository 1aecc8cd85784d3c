import {
  ScmiConfigError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  resolveWorkerEntry,
  startWorker,
} from '@scmi-ts/core';
import { seedFromEnv } from '@scmi-ts/conformance';
import { ensureNoLeaksInSuite, type DevresEvent } from '@scmi-ts/devres';
import { SeededRandom, createDefaultPlatformConfig } from '@scmi-ts/platform';
import { join } from 'node:path';
import {
  PTA_SCMI_UUID,
  PtaScmiCaps,
  PtaScmiCommand,
  TeeLogin,
  TeeParamType,
  TeeResult,
  openOpteeWorkerWire,
  openTeeContext,
  parseTeeUuid,
  teeValue,
} from '../src/index.js';
import {
  createOpteeFixture,
  createWorkerAgent,
  type OpteeWorker,
  type OpteeWorkerEnds,
} from './support/fixture.js';

/** Runs `body` on a fresh wire, and closes the wire whatever happens. */
async function withWire(
  worker: OpteeWorker,
  body: (ends: OpteeWorkerEnds) => Promise<void>,
): Promise<void> {
  const ends = await worker.open();
  try {
    await body(ends);
  } finally {
    await ends.close();
  }
}

describe.each(['static', 'dynamic'] as const)('worker mode with %s shared memory', (shmem) => {
  ensureNoLeaksInSuite();
  let worker: OpteeWorker;

  beforeAll(async () => {
    // Generous limits: these cases test behaviour, not timing, on a machine that may be loaded.
    // Both stay well above the 2500 ms delay of the late-invocation case below: the emulated TEE
    // waits 5000 ms for the platform's response before it gives up on it, and a transfer that
    // timed out may hold its channel 5000 ms before later senders fail E_CHAN_BUSY.
    worker = await createOpteeFixture({
      shmem,
      busyTimeoutMs: 5000,
      platformTimeoutMs: 5000,
    }).worker({
      platformConfig: createDefaultPlatformConfig(),
      agentId: 1,
      seed: 7,
    });
  });

  afterAll(async () => {
    await worker.stop();
  });

  it('should probe, carry many transfers across threads and remove', () =>
    withWire(worker, async (ends) => {
      const agent = await createWorkerAgent(ends, {
        a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }],
      });
      expect(agent.info.vendor).toBe('scmi-ts');
      const transfers: Promise<Uint8Array>[] = [];
      for (let i = 0; i < 200; i++) {
        transfers.push(agent.transact(0x10, 0x3, undefined, { rxSize: 16 }));
        transfers.push(agent.transact(0x14, 0x1, undefined, { rxSize: 4 }));
      }
      expect(await Promise.all(transfers)).toHaveLength(400);
      const channels = ends.transport.diagnostics().channels;
      expect(channels.map((c) => c.mode)).toEqual(
        shmem === 'static' ? ['smt', 'smt'] : ['msg', 'msg'],
      );
      await agent.remove();
      expect(await ends.teeStats()).toMatchObject({ openSessions: 0, registeredShm: 0 });
      expect(ends.transport.diagnostics().violations).toEqual([]);
      await ends.close();
    }));

  it('should apply wire faults in the worker', () =>
    withWire(worker, async (ends) => {
      const agent = await createWorkerAgent(ends);
      await ends.setWireFaults([
        { match: { nth: 1 }, action: { kind: 'busy-channel' } },
        { match: { nth: 2 }, action: { kind: 'output-size', excess: 1000 } },
      ]);
      const busy = await agent.transact(0x10, 0x3).catch((e: unknown) => e);
      expect(ScmiStatusError.is(busy) && busy.status).toBe(ScmiStatus.COMMS_ERROR);
      const oversize = await agent.transact(0x10, 0x3).catch((e: unknown) => e);
      expect(ScmiStatusError.is(oversize) && oversize.status).toBe(ScmiStatus.COMMS_ERROR);
      expect(agent.diagnostics.channels[0]?.stats.badMessages.oversize).toBe(1);
      await agent.transact(0x10, 0x3, undefined, { rxSize: 16 });
      await agent.remove();
    }));

  it('should time out an invocation that returns late and count it once it returns', () =>
    withWire(worker, async (ends) => {
      // Real time, so margins of at least 1 s either way: the probe's commands and the transfer
      // after the timeout have 1000 ms each to be answered; the platform answers the delayed one
      // 2500 ms after it took it, 1500 ms past the agent's deadline (a stall shorter than that
      // cannot turn the timeout into a success) and 2500 ms before the emulated TEE would give up
      // on it (platformTimeoutMs) — and the channel, held from the timeout, is released 3500 ms
      // before busyTimeoutMs would fail the next transfer.
      const agent = await createWorkerAgent(ends, { rxTimeoutMs: 1000 });
      await worker.setFaults([{ match: { nth: 1 }, action: { kind: 'delay', ms: 2500 } }]);
      const late = await agent.transact(0x10, 0x3).catch((e: unknown) => e);
      expect(late).toBeInstanceOf(ScmiTimeoutError);
      // The next transfer waits for the channel until the late invocation returns.
      await agent.transact(0x10, 0x3, undefined, { rxSize: 16 });
      expect(agent.diagnostics.channels[0]?.stats.lateReplies).toBe(1);
      await worker.setFaults([]);
      await agent.remove();
    }));

  it('should survive the seed scenario on real time: late returns delivered, counted or refused, never after free', async () => {
    const seed = seedFromEnv('SCMI_SEED', Math.floor(Math.random() * 2 ** 31));
    console.log(
      `worker seed scenario (${shmem}): seed ${seed} (SCMI_SEED=${seed} repeats the delays)`,
    );
    const random = new SeededRandom(seed);
    const tally = { probed: 0, timedOut: 0, lateReplies: 0, refused: 0 };
    for (let i = 0; i < 100; i++) {
      const timeoutMs = 2 + random.next() * 3;
      const delayMs = random.next() * 2 * timeoutMs;
      await worker.setFaults([
        {
          match: { protocolId: 0x10, messageId: 0x0, nth: 1 },
          action: { kind: 'delay', ms: delayMs },
        },
      ]);
      const ends = await worker.open();
      const events: DevresEvent[] = [];
      const outcome = await createWorkerAgent(ends, {
        rxTimeoutMs: timeoutMs,
        log: (e) => events.push(e),
      }).then(
        async (agent) => {
          await agent.remove();
          return 'probed';
        },
        (e: unknown) => e,
      );
      const context = `seed ${seed} iteration ${i} (timeout ${timeoutMs.toFixed(2)} ms, delay ${delayMs.toFixed(2)} ms)`;
      const d = ends.transport.diagnostics();
      const t = d.totals;
      try {
        if (outcome === 'probed') tally.probed++;
        else {
          expect(outcome).toBeInstanceOf(ScmiTimeoutError);
          tally.timedOut++;
          // The timed-out invocation returned (quiesce waited for it) and was counted.
          expect(t.lateReturns).toBeGreaterThanOrEqual(1);
        }
        expect(t.lateReturns).toBe(t.lateReplies + t.refusedReturns);
        tally.lateReplies += t.lateReplies;
        tally.refused += t.refusedReturns;
        expect(d.violations).toEqual([]);
        expect(d.channels).toEqual([]);
        expect(d.armedTimers).toBe(0);
        const adds = events.filter((e) => e.type === 'add').map((e) => e.resource);
        const releases = events.filter((e) => e.type === 'release').map((e) => e.resource);
        expect(releases).toEqual([...adds].reverse());
        expect(await ends.teeStats()).toMatchObject({ openSessions: 0, registeredShm: 0 });
        expect(await worker.platformTimers()).toBe(0);
      } catch (e) {
        throw new Error(`${context}: ${String(e)}`, { cause: e });
      } finally {
        await ends.close();
      }
    }
    console.log(`worker seed scenario (${shmem}): ${JSON.stringify(tally)}`);
    await worker.setFaults([]);
  });
});

describe('an OP-TEE worker that dies', () => {
  it('should fail the calls in flight and later ones with TARGET_DEAD, and close without the worker', async () => {
    const host = await startWorker({
      entry: resolveWorkerEntry(join(__dirname, 'support'), 'optee-worker'),
      data: { platformConfig: createDefaultPlatformConfig(), agentId: 1, seed: 1 },
    });
    const wire = await openOpteeWorkerWire(host, {
      channels: [{ id: 0, staticShmem: true }],
      threads: 2,
    });
    const uuid = parseTeeUuid(PTA_SCMI_UUID);
    const context = openTeeContext(wire.driver);
    const session = await context.openSession(PTA_SCMI_UUID);
    // The channel's handle first: the PTA refuses PROCESS_SMT_CHANNEL on a channel without one
    // (BAD_STATE) before any fault applies, so the call would return at once whenever the worker
    // took it before dying.
    await session.invoke(PtaScmiCommand.GET_CHANNEL_HANDLE, [
      teeValue(TeeParamType.VALUE_INOUT, 0, PtaScmiCaps.SMT_HEADER),
    ]);
    await wire.setWireFaults([{ action: { kind: 'hang-until-cancel' } }]);
    // A call the secure world holds, then the worker dies (a crash, a terminate) mid-call.
    const held = session
      .invoke(PtaScmiCommand.PROCESS_SMT_CHANNEL, [teeValue(TeeParamType.VALUE_INPUT, 0)])
      .then(
        () => 'returned',
        (e: unknown) => (e as { result?: number }).result,
      );
    await host.worker.terminate();
    await host.exited;
    expect(await held).toBe(TeeResult.TARGET_DEAD);
    await expect(wire.driver.openSession(uuid, TeeLogin.REE_KERNEL)).resolves.toMatchObject({
      result: TeeResult.TARGET_DEAD,
    });
    await expect(wire.driver.allocSharedMemory(64)).rejects.toMatchObject({
      result: TeeResult.TARGET_DEAD,
    });
    expect(wire.driver.closed).toBe(true);
    await expect(wire.close()).resolves.toBeUndefined();
    await host.stop();
  });
});

describe('an OP-TEE worker asked about a wire it closed', () => {
  it("should reject setWireFaults with the worker's ScmiConfigError naming id, and keep the counters of the close", async () => {
    const host = await startWorker({
      entry: resolveWorkerEntry(join(__dirname, 'support'), 'optee-worker'),
      data: { platformConfig: createDefaultPlatformConfig(), agentId: 1, seed: 1 },
    });
    try {
      const wire = await openOpteeWorkerWire(host, { channels: [{ id: 0, staticShmem: true }] });
      await wire.close();
      // The worker forgot the OP-TEE: no faults set on nothing, passing unnoticed.
      const error = await wire.setWireFaults([{ action: { kind: 'busy-channel' } }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(ScmiConfigError.is(error) && error.field).toBe('id');
      expect((error as Error).message).toMatch(/no emulated OP-TEE \d+ in this worker/);
      // Its counters stay those it closed with (the worker is not asked).
      expect(await wire.stats()).toMatchObject({ openSessions: 0 });
    } finally {
      await host.stop();
    }
  });
});
