import {
  ScmiConfigError,
  ScmiShutdownError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  type ChannelStats,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { runInNewContext } from 'node:vm';
import {
  OPTEE_TRANSPORT_DESCRIPTOR,
  OpteeTransport,
  PtaScmiCaps,
  PtaScmiCommand,
  SCMI_OPTEE_MAX_MSG_SIZE,
  SCMI_SHMEM_MAX_PAYLOAD_SIZE,
  TeeContext,
  TeeError,
  TeeResult,
  opteeTransportConfig,
  type TeeMemrefParam,
  type TeeSession,
} from '../src/index.js';
import { OpteeChannel } from '../src/transport/optee-channel.js';
import { createOpteeHarness, type OpteeHarness } from './support/harness.js';

const BASE = 0x10;
const DISCOVER_VENDOR = 0x3;
const CLOCK = 0x14;
const SENSOR = 0x15;
const SENSOR_DESCRIPTION_GET = 0x3;

/** SENSOR_DESCRIPTION_GET from descriptor 0: as many descriptors as the platform's link carries. */
function sensorDescriptions(agent: ScmiAgent): Promise<Uint8Array> {
  return agent.transact(SENSOR, SENSOR_DESCRIPTION_GET, new Uint8Array(4));
}

function stats(agent: ScmiAgent, label = 'a2p:0'): ChannelStats {
  const c = agent.diagnostics.channels.find((x) => x.label === label);
  if (c === undefined) throw new Error(`no channel ${label}`);
  return c.stats;
}

function vendor(agent: ScmiAgent): Promise<Uint8Array> {
  return agent.transact(BASE, DISCOVER_VENDOR, undefined, { rxSize: 16 });
}

async function settle(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => v,
    (e: unknown) => e,
  );
}

/**
 * Sends one command that times out (the harness delays or holds its return), lets the late return
 * arrive (`release`, or the delay running out), and checks it is counted as the bad message
 * `reason`, not as a late reply, and that the channel serves the next command.
 */
async function expectLateReturnCountedAs(
  h: OpteeHarness,
  agent: ScmiAgent,
  reason: keyof ChannelStats['badMessages'],
  release?: () => void,
): Promise<void> {
  const first = settle(vendor(agent));
  await h.clock.advance(32);
  expect(await first).toBeInstanceOf(ScmiTimeoutError);
  release?.();
  await h.clock.runUntilIdle();
  const channel = h.ends.transport.diagnostics().channels[0]?.stats;
  expect([channel?.lateReturns, channel?.lateReplies]).toEqual([1, 0]);
  expect(stats(agent).lateReplies).toBe(0);
  expect(stats(agent).badMessages[reason]).toBe(1);
  const next = vendor(agent);
  await h.clock.runUntilIdle();
  expect(await next).toBeInstanceOf(Uint8Array);
  const removing = agent.remove();
  await h.clock.runUntilIdle();
  await removing;
}

describe(OpteeTransport, () => {
  ensureNoLeaksInSuite();

  let h: OpteeHarness | undefined;
  /** A harness on a manual clock (kept in `h` for the cleanup) and the agent it probed. */
  async function manualAgent(
    options: Parameters<typeof createOpteeHarness>[0],
  ): Promise<[OpteeHarness, ScmiAgent]> {
    const harness = await createOpteeHarness({ ...options, auto: false });
    h = harness;
    const probe = harness.create();
    await harness.clock.runUntilIdle();
    return [harness, await probe];
  }
  afterEach(async () => {
    if (h === undefined) return;
    await h.close();
    expect(h.ends.transport.diagnostics().violations).toEqual([]);
    expect(h.clock.armedTimers).toBe(0);
    h = undefined;
  });

  it('should describe itself like Linux scmi_optee_desc, with the largest MSG buffer an agent may choose', () => {
    // Current Linux has max_msg_size SCMI_SHMEM_MAX_PAYLOAD_SIZE (104), its MSG buffer's size;
    // here each agent chooses its buffer (msgBufferSize, up to 128) and the descriptor is one for
    // every agent: core's transfers carry the largest.
    expect(SCMI_SHMEM_MAX_PAYLOAD_SIZE).toBe(104);
    expect(OPTEE_TRANSPORT_DESCRIPTOR).toEqual({
      name: 'optee',
      maxMsg: 20,
      maxMsgSize: SCMI_OPTEE_MAX_MSG_SIZE,
      rxTimeoutMs: 30,
      p2a: false,
      completion: 'polling',
    });
  });

  describe.each(['static', 'dynamic'] as const)('with %s shared memory', (shmem) => {
    const mode = shmem === 'static' ? 'smt' : 'msg';

    it('should probe, discover the platform and remove, quiescing before releasing, newest first', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      expect(agent.info.vendor).toBe('scmi-ts');
      expect(agent.info.protocols.length).toBeGreaterThan(0);
      expect(h.ends.transport.diagnostics().channels).toMatchObject([
        { label: 'a2p:0', mode, opteeChannelId: 0, handle: 0, invoking: false, freed: false },
      ]);
      // No P2A channel over OP-TEE: core skipped notifications.
      expect(agent.events.available).toBe(false);
      await agent.remove();
      const steps = h.log.filter('quiesce', 'release').map((e) => `${e.type} ${e.resource}`);
      expect(steps).toEqual(EXPECTED_TEARDOWN);
      expect(h.ends.optee.stats.openSessions).toBe(0);
      expect(h.ends.optee.stats.registeredShm).toBe(0);
      expect(h.ends.transport.diagnostics().channels).toEqual([]);
    });

    it('should end the send on the return, polling once per transfer, with one sync-wait timer for back-to-back sends', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      const polls = jest.spyOn(OpteeChannel.prototype, 'pollDone');
      const timers = jest.spyOn(h.clock, 'setTimeout');
      try {
        for (let i = 0; i < 50; i++) await vendor(agent);
        // The invocation returned within the send's sync wait: core's first poll finds it done.
        expect(polls).toHaveBeenCalledTimes(50);
        expect(polls.mock.results.every((r) => r.value === true)).toBe(true);
        // The sync-wait timer is shared (armed by the probe's sends, or by the first of these),
        // not armed and cancelled per message.
        expect(timers.mock.calls.length).toBeLessThanOrEqual(1);
      } finally {
        polls.mockRestore();
        timers.mockRestore();
      }
      await agent.remove();
    });

    it('should carry many transfers, serialized on one channel and in parallel on two', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK] }] });
      const transfers: Promise<Uint8Array>[] = [];
      for (let i = 0; i < 100; i++) {
        transfers.push(vendor(agent));
        transfers.push(agent.transact(CLOCK, 0x1, undefined, { rxSize: 4 }));
      }
      const results = await Promise.all(transfers);
      expect(results).toHaveLength(200);
      expect(stats(agent, 'a2p:0').completed).toBeGreaterThanOrEqual(100);
      expect(stats(agent, 'a2p:1').completed).toBe(100);
      const diag = h.ends.transport.diagnostics().channels;
      expect(diag.map((c) => c.opteeChannelId)).toEqual([0, 1]);
      expect(diag[1]?.stats.invocations).toBe(100);
      await agent.remove();
    });

    it('should time out, hold the channel until the late invocation returns, then count the late reply', async () => {
      h = await createOpteeHarness({ shmem, auto: false });
      const probe = h.create();
      await h.clock.runUntilIdle();
      const agent = await probe;
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'delay', ms: 45 } });
      const before = h.ends.optee.stats.scmi.messages;
      const first = settle(vendor(agent));
      const second = vendor(agent);
      await h.clock.advance(32);
      expect(await first).toBeInstanceOf(ScmiTimeoutError);
      expect(h.ends.transport.diagnostics().channels[0]?.invoking).toBe(true);
      expect(h.ends.transport.diagnostics().armedTimers).toBe(1);
      // The second transfer waits for the channel: the invocation still owns the memory.
      expect(h.ends.optee.stats.scmi.messages).toBe(before + 1);
      await h.clock.runUntilIdle();
      expect(await second).toBeInstanceOf(Uint8Array);
      expect(stats(agent).lateReplies).toBe(1);
      expect(h.ends.transport.diagnostics().channels[0]?.stats.lateReturns).toBe(1);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
    });

    it('should count a late return whose output size is past the buffer as a bad message (oversize), not as a late reply', async () => {
      const [harness, agent] = await manualAgent({ shmem });
      harness.platform.faults.add({ match: { nth: 1 }, action: { kind: 'delay', ms: 45 } });
      harness.ends.optee.faults.add({
        match: { times: 1 },
        action: { kind: 'output-size', excess: 4096 },
      });
      await expectLateReturnCountedAs(harness, agent, 'oversize');
    });

    it('should drop the late platform reply to a message the SCMI server gave up on, not complete the next message with it', async () => {
      h = await createOpteeHarness({ shmem, auto: false, platformTimeoutMs: 20 });
      const probe = h.create();
      await h.clock.runUntilIdle();
      const agent = await probe;
      // The first reply comes at 25 ms, after the server gave up (20 ms); the second message,
      // sent at 21 ms, is answered at 36 ms: the first reply comes while the second waits.
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'delay', ms: 25 } });
      h.platform.faults.add({ match: { nth: 2 }, action: { kind: 'delay', ms: 15 } });
      const first = settle(vendor(agent));
      await h.clock.advance(21);
      const e = await first;
      expect(ScmiStatusError.is(e) && e.status).toBe(ScmiStatus.COMMS_ERROR);
      const second = settle(vendor(agent));
      await h.clock.advance(10);
      expect(h.ends.optee.stats.scmi.strayResponses).toBe(1);
      await h.clock.runUntilIdle();
      expect(await second).toBeInstanceOf(Uint8Array);
      expect(h.ends.optee.stats.scmi).toMatchObject({ platformTimeouts: 1, strayResponses: 1 });
      expect(stats(agent).badMessages.unexpected).toBe(0);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
    });

    it('should fail a send with E_CHAN_BUSY when a late invocation holds the channel past busyTimeoutMs', async () => {
      h = await createOpteeHarness({ shmem, auto: false, platformTimeoutMs: 500 });
      const probe = h.create();
      await h.clock.runUntilIdle();
      const agent = await probe;
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'delay', ms: 200 } });
      const first = settle(vendor(agent));
      const second = settle(vendor(agent));
      await h.clock.advance(32);
      expect(await first).toBeInstanceOf(ScmiTimeoutError);
      await h.clock.advance(60);
      const e = await second;
      expect(ScmiTransportError.is(e) && e.code).toBe('E_CHAN_BUSY');
      // Stuck now: a new send fails at once, until the invocation returns.
      await expect(vendor(agent)).rejects.toMatchObject({ code: 'E_CHAN_BUSY' });
      expect(h.ends.transport.diagnostics().channels[0]?.stats.busyRejections).toBe(2);
      await h.clock.advance(120);
      const third = vendor(agent);
      await h.clock.runUntilIdle();
      expect(await third).toBeInstanceOf(Uint8Array);
      expect(stats(agent).lateReplies).toBe(1);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
    });

    it('should fail transfers in flight with ScmiShutdownError on remove and wait for the invocation', async () => {
      h = await createOpteeHarness({ shmem, auto: false });
      const probe = h.create();
      await h.clock.runUntilIdle();
      const agent = await probe;
      h.platform.faults.add({ match: { nth: 1 }, action: { kind: 'delay', ms: 20 } });
      const inFlight = settle(vendor(agent));
      const waiting = settle(vendor(agent));
      await h.clock.advance(5);
      let removed = false;
      const removing = agent.remove().then(() => (removed = true));
      await h.clock.advance(5);
      expect(await inFlight).toBeInstanceOf(ScmiShutdownError);
      expect(await waiting).toBeInstanceOf(ScmiShutdownError);
      // The PTA ignores the cancel request: teardown waits for the invocation to return.
      expect(removed).toBe(false);
      expect(h.ends.optee.stats.cancelRequests).toBe(1);
      expect(h.ends.optee.stats.cancelledInvocations).toBe(1);
      await h.clock.runUntilIdle();
      await removing;
      expect(h.clock.now()).toBeGreaterThanOrEqual(20);
      const free = h.log.filter('release').map((e) => e.resource);
      expect(free).toContain('channel a2p:0');
    });

    describe('when remove fails a transfer waiting for a channel while another channel quiesces', () => {
      interface Removal {
        /** What each transfer ended with: BASE in flight, BASE waiting, CLOCK in flight. */
        readonly results: unknown[];
        /** SCMI messages the PTA passed to the platform since the transfers were started. */
        readonly messages: number;
        /** Transfers core counted sent on a2p:0 since then. */
        readonly sent: number;
        /** a2p:0's busy rejections `busyAt` ms into the removal. */
        readonly busy: number | undefined;
      }

      /**
       * An agent with BASE on a2p:0 and CLOCK on a2p:1; one BASE command in flight and one
       * waiting for a2p:0, one CLOCK command in flight on a2p:1 (the platform answers BASE after
       * `baseMs`, CLOCK after `clockMs`). Removal fails all three (the engine's shutdown), then
       * quiesces a2p:1 first (newest first), which waits for its invocation while a2p:0's
       * returns, or its held channel reaches its busy bound.
       */
      async function removeWithWaiter(
        harness: OpteeHarness,
        baseMs: number,
        clockMs: number,
        busyAt = 0,
      ): Promise<Removal> {
        const probe = harness.create({ a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK] }] });
        await harness.clock.runUntilIdle();
        const agent = await probe;
        const faults = harness.platform.faults;
        faults.add({
          match: { protocolId: BASE, times: 1 },
          action: { kind: 'delay', ms: baseMs },
        });
        faults.add({
          match: { protocolId: CLOCK, times: 1 },
          action: { kind: 'delay', ms: clockMs },
        });
        const messages = harness.ends.optee.stats.scmi.messages;
        const sent = stats(agent).sent;
        const transfers = [
          settle(vendor(agent)),
          settle(vendor(agent)),
          settle(agent.transact(CLOCK, 0x1, undefined, { rxSize: 4 })),
        ];
        await harness.clock.advance(5);
        const removing = settle(agent.remove());
        await harness.clock.advance(busyAt);
        const a2p0 = harness.ends.transport.diagnostics().channels.find((c) => c.label === 'a2p:0');
        await harness.clock.runUntilIdle();
        expect(await removing).toBeUndefined();
        return {
          results: await Promise.all(transfers),
          messages: harness.ends.optee.stats.scmi.messages - messages,
          sent: stats(agent).sent - sent,
          busy: a2p0?.stats.busyRejections,
        };
      }

      it('should refuse the waiter with ScmiShutdownError when the channel frees, never sending it', async () => {
        h = await createOpteeHarness({ shmem, auto: false });
        // a2p:0's invocation returns at 15 ms, while a2p:1's quiesce waits until 25 ms.
        const r = await removeWithWaiter(h, 10, 20);
        expect(r.results.map((e) => e instanceof ScmiShutdownError)).toEqual([true, true, true]);
        // The waiting command never reached the PTA, and core did not count it sent.
        expect(r.messages).toBe(2);
        expect(r.sent).toBe(1);
      });

      it('should refuse the waiter with ScmiShutdownError, not E_CHAN_BUSY, when the held channel times out', async () => {
        h = await createOpteeHarness({ shmem, auto: false, platformTimeoutMs: 500 });
        // a2p:0's held channel passes its 60 ms busy bound while a2p:1's quiesce waits (until
        // 105 ms); a2p:0's own quiesce then waits for its invocation (until 205 ms).
        const r = await removeWithWaiter(h, 200, 100, 120);
        expect(r.results.map((e) => e instanceof ScmiShutdownError)).toEqual([true, true, true]);
        expect(r.busy).toBe(0);
        expect(r.messages).toBe(2);
        expect(r.sent).toBe(1);
      });
    });

    it('should end a PTA hang through the cancel request sent by quiesce', async () => {
      h = await createOpteeHarness({ shmem, auto: false });
      const probe = h.create();
      await h.clock.runUntilIdle();
      const agent = await probe;
      h.ends.optee.faults.add({ match: { times: 1 }, action: { kind: 'hang-until-cancel' } });
      const hung = settle(vendor(agent));
      await h.clock.advance(32);
      expect(await hung).toBeInstanceOf(ScmiTimeoutError);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      expect(h.ends.optee.stats.cancelledInvocations).toBe(1);
      const channel = h.log.filter('quiesce').map((e) => e.resource);
      expect(channel).toContain('channel a2p:0');
    });

    it('should hold remove while the secure world keeps an invocation, and let it go when the driver is closed', async () => {
      h = await createOpteeHarness({ shmem, auto: false });
      const probe = h.create();
      await h.clock.runUntilIdle();
      const agent = await probe;
      const ends = h.ends;
      // From now on no return reaches the normal world: a wedged secure world.
      ends.setAgentSignalInterceptor(() => undefined);
      const hung = settle(vendor(agent));
      await h.clock.advance(32);
      expect(await hung).toBeInstanceOf(ScmiTimeoutError);
      let removed: unknown;
      const removing = agent.remove().then(
        () => (removed = 'removed'),
        (e: unknown) => (removed = e),
      );
      await h.clock.advance(10_000);
      // The invocation still owns the channel's memory: nothing may be released.
      expect(removed).toBeUndefined();
      expect(h.log.filter('release')).toEqual([]);
      ends.driver.close(); // fails every pending call with TEE_ERROR_COMMUNICATION
      await h.clock.runUntilIdle();
      await removing;
      // Quiesce ended; closing the session cannot reach the TEE any more: reported, all released.
      expect(removed).toBeInstanceOf(Error);
      expect((removed as Error).message).toMatch(/channel a2p:0 \(release\)/);
      expect(h.log.filter('release').map((e) => e.resource)).toContain('channel a2p:0');
    });

    it('should complete with COMMS_ERROR when the channel is busy in OP-TEE', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      h.ends.optee.faults.add({ match: { times: 1 }, action: { kind: 'busy-channel' } });
      const e = await settle(vendor(agent));
      expect(ScmiStatusError.is(e) && e.status).toBe(ScmiStatus.COMMS_ERROR);
      const c = h.ends.transport.diagnostics().channels[0]?.stats;
      expect(shmem === 'static' ? c?.channelErrors : c?.teeErrors).toBe(1);
      expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
      await agent.remove();
    });

    it.each([
      ['one word past the end (the default)', undefined],
      ['far past the end', 4096],
    ])(
      'should reject a response size %s of the buffer with COMMS_ERROR, counted as oversize',
      async (_, excess) => {
        h = await createOpteeHarness({ shmem });
        const agent = await h.create();
        h.ends.optee.faults.add({
          match: { times: 1 },
          action: excess === undefined ? { kind: 'output-size' } : { kind: 'output-size', excess },
        });
        const e = await settle(vendor(agent));
        expect(ScmiStatusError.is(e) && e.status).toBe(ScmiStatus.COMMS_ERROR);
        expect(stats(agent).badMessages.oversize).toBe(1);
        expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
        await agent.remove();
      },
    );

    it('should clamp a response longer than the message but inside the buffer, as Linux does', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      // DISCOVER_VENDOR returns 16 bytes; the secure world reports 8 more, still in the buffer.
      h.ends.optee.faults.add({ match: { times: 1 }, action: { kind: 'output-size', excess: 8 } });
      const r = await agent.transact(BASE, DISCOVER_VENDOR, undefined, { rxSize: 64 });
      expect(r.byteLength).toBe(24);
      expect(new TextDecoder().decode(r.subarray(0, 16)).replace(/\0+$/, '')).toBe('scmi-ts');
      expect(stats(agent).badMessages.oversize).toBe(0);
      await agent.remove();
    });

    it('should count only the wire faults that acted: a TEE result ends the invocation alone, and a size fault it preempted fires on the next one', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      const faults = h.ends.optee.faults;
      faults.add({ id: 'size', match: { times: 1 }, action: { kind: 'output-size' } });
      faults.add({ id: 'result', match: { nth: 1 }, action: { kind: 'tee-result', result: 1 } });
      // Matches the first invocation too (its nth spent), but the TEE result ended it first.
      faults.add({ id: 'after', match: { nth: 1 }, action: { kind: 'busy-channel' } });
      const first = await settle(vendor(agent));
      expect(ScmiStatusError.is(first) && first.status).toBe(ScmiStatus.COMMS_ERROR);
      expect(faults.counts).toMatchObject({ 'tee-result': 1, 'output-size': 0, 'busy-channel': 0 });
      const second = await settle(vendor(agent));
      expect(ScmiStatusError.is(second) && second.status).toBe(ScmiStatus.COMMS_ERROR);
      expect(stats(agent).badMessages.oversize).toBe(1);
      expect(faults.counts).toMatchObject({ 'tee-result': 1, 'output-size': 1, 'busy-channel': 0 });
      expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
      await agent.remove();
    });

    it('should take back a size fault on an invocation a busy-channel fault refused, and an SMT status fault on a MSG channel', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      const faults = h.ends.optee.faults;
      faults.add({ match: { times: 1 }, action: { kind: 'busy-channel' } });
      faults.add({ match: { times: 1 }, action: { kind: 'output-size' } });
      const busy = await settle(vendor(agent));
      expect(ScmiStatusError.is(busy) && busy.status).toBe(ScmiStatus.COMMS_ERROR);
      expect(faults.counts).toMatchObject({ 'busy-channel': 1, 'output-size': 0 });
      const oversize = await settle(vendor(agent));
      expect(ScmiStatusError.is(oversize) && oversize.status).toBe(ScmiStatus.COMMS_ERROR);
      expect(faults.counts).toMatchObject({ 'busy-channel': 1, 'output-size': 1 });
      faults.add({ match: { times: 1 }, action: { kind: 'smt-status', status: 0 } });
      if (shmem === 'dynamic') {
        // MSG: no channel_status to write — the command goes through, and the rule keeps its firing.
        expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
        expect(faults.counts['smt-status']).toBe(0);
      } else {
        const e = await settle(vendor(agent));
        expect(ScmiStatusError.is(e) && e.status).toBe(ScmiStatus.COMMS_ERROR);
        expect(faults.counts['smt-status']).toBe(1);
      }
      await agent.remove();
    });

    it('should complete with COMMS_ERROR when the PTA returns an unknown TEE result', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      h.ends.optee.faults.add({
        match: { times: 1 },
        action: { kind: 'tee-result', result: 0x1234 },
      });
      const e = await settle(vendor(agent));
      expect(ScmiStatusError.is(e) && e.status).toBe(ScmiStatus.COMMS_ERROR);
      expect(h.ends.transport.diagnostics().channels[0]?.stats.teeErrors).toBe(1);
      await agent.remove();
    });

    it.each([
      ['corrupt-token', 'unexpected'],
      ['corrupt-type', 'unknown'],
      ['corrupt-protocol', 'invalid'],
      ['truncate', 'invalid'],
    ] as const)(
      'should reject a %s response as %s, counted, with COMMS_ERROR',
      async (kind, reason) => {
        h = await createOpteeHarness({ shmem });
        const agent = await h.create();
        h.platform.faults.add({ match: { times: 1 }, action: { kind } });
        const e = await settle(vendor(agent));
        expect(ScmiStatusError.is(e) && e.status).toBe(ScmiStatus.COMMS_ERROR);
        expect(stats(agent).badMessages[reason]).toBe(1);
        expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
        await agent.remove();
      },
    );

    it('should give a delayed response whose token a rule rewrote to its waiting message (the platform names the command), for the agent to reject', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      h.platform.faults.add({ match: { times: 1 }, action: { kind: 'delay', ms: 10 } });
      h.platform.faults.add({ match: { times: 1 }, action: { kind: 'corrupt-token', token: 1 } });
      const e = await settle(vendor(agent));
      expect(ScmiStatusError.is(e) && e.status).toBe(ScmiStatus.COMMS_ERROR);
      expect(stats(agent).badMessages.unexpected).toBe(1);
      // Matched by its own header it would be stray, and the message would wait for the server's
      // timeout instead.
      expect(h.ends.optee.stats.scmi).toMatchObject({ strayResponses: 0, platformTimeouts: 0 });
      expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
      await agent.remove();
    });

    it.each(['duplicate', 'unsolicited', 'notification-storm'] as const)(
      'should drop a %s message the platform sends outside an invocation',
      async (kind) => {
        h = await createOpteeHarness({ shmem });
        const agent = await h.create();
        const action =
          kind === 'notification-storm'
            ? { kind, count: 10 }
            : kind === 'duplicate'
              ? { kind, delayMs: 1 }
              : { kind };
        h.platform.faults.add({ match: { times: 1 }, action });
        expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
        await h.clock.runUntilIdle(10);
        expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
        expect(Object.values(stats(agent).badMessages).every((n) => n === 0)).toBe(true);
        // The rule fired once: the message was sent, and dropped below the agent.
        expect(h.platform.faults.counts[kind]).toBe(1);
        if (kind === 'notification-storm') {
          // OP-TEE has no P2A channel: the platform's link refuses every notification of the storm.
          expect(h.platform.counters).toMatchObject({
            notificationsPosted: 0,
            notificationsDropped: 10,
          });
          expect(h.ends.optee.stats.scmi.strayResponses).toBe(0);
        } else {
          expect(h.platform.counters.lateResponses).toBe(1);
          expect(h.ends.optee.stats.scmi.strayResponses).toBe(1);
        }
        expect(stats(agent).notifications).toBe(0);
        await agent.remove();
      },
    );

    it('should time out a dropped message and free the channel when the SCMI server gives up', async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      h.platform.faults.add({ match: { times: 1 }, action: { kind: 'drop' } });
      expect(await settle(vendor(agent))).toBeInstanceOf(ScmiTimeoutError);
      expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
      const c = h.ends.transport.diagnostics().channels[0]?.stats;
      expect(c?.lateReturns).toBe(1);
      expect(stats(agent).lateReplies).toBe(0);
      expect(shmem === 'static' ? c?.channelErrors : c?.teeErrors).toBe(1);
      await agent.remove();
    });

    describe('when the invocation cannot be started (its session was closed under the channel)', () => {
      /** Opens an agent and returns it with the TEE session of its channel a2p:0. */
      async function agentAndSession(
        harness: OpteeHarness,
        probe: () => Promise<void> = () => Promise.resolve(),
      ): Promise<{ agent: ScmiAgent; session: TeeSession }> {
        // Calls through: the sessions the transport opens are in the spy's results.
        const spy = jest.spyOn(TeeContext.prototype, 'openSession');
        try {
          const creating = harness.create();
          await probe();
          const agent = await creating;
          // The capabilities session was closed; the channel's is the last one.
          const session = await (spy.mock.results.at(-1)?.value as Promise<TeeSession>);
          return { agent, session };
        } finally {
          spy.mockRestore();
        }
      }

      it('should fail the send with E_TEE, give the channel back, and still quiesce and free', async () => {
        h = await createOpteeHarness({ shmem });
        const { agent, session } = await agentAndSession(h);
        const started = h.ends.transport.diagnostics().channels[0]?.stats.invocations;
        await session.close();
        for (let i = 0; i < 2; i++) {
          const e = await settle(vendor(agent));
          expect(ScmiTransportError.is(e) && e.code).toBe('E_TEE');
          expect(TeeError.is((e as Error).cause) && (e as { cause: TeeError }).cause.code).toBe(
            'TEE_ERROR_BAD_STATE',
          );
        }
        expect(stats(agent).failed).toBe(2);
        // Nothing was posted, and nothing holds the channel.
        expect(h.ends.transport.diagnostics().channels[0]).toMatchObject({
          invoking: false,
          stats: { invocations: started },
        });
        await agent.remove();
        expect(h.ends.transport.diagnostics().channels).toEqual([]);
      });

      it('should fail a send that waited for the channel, and the next one, without wedging it', async () => {
        h = await createOpteeHarness({ shmem, auto: false });
        const harness = h;
        const { agent, session } = await agentAndSession(harness, () =>
          harness.clock.runUntilIdle(),
        );
        const first = settle(vendor(agent));
        const waiting = settle(vendor(agent));
        await new Promise((resolve) => setImmediate(resolve));
        expect(harness.ends.transport.diagnostics().channels[0]?.invoking).toBe(true);
        // The session closes while the first invocation runs and the second send waits.
        const closing = session.close();
        await harness.clock.runUntilIdle();
        expect(await first).toBeInstanceOf(Uint8Array);
        const e = await waiting;
        expect(ScmiTransportError.is(e) && e.code).toBe('E_TEE');
        await closing;
        await expect(vendor(agent)).rejects.toMatchObject({ code: 'E_TEE' });
        const removing = agent.remove();
        await harness.clock.runUntilIdle();
        await removing;
      });
    });

    it("should refuse a payload over OP-TEE's 92 bytes before sending it (its SMT entry would keep the channel claimed), and send one of 92", async () => {
      h = await createOpteeHarness({ shmem });
      const agent = await h.create();
      const messagesBefore = h.ends.optee.stats.scmi.messages;
      for (const size of [93, 100, 128]) {
        const e = await settle(agent.transact(BASE, DISCOVER_VENDOR, new Uint8Array(size)));
        expect(ScmiTransportError.is(e) && e.code).toBe('E_MSG_SIZE');
        expect((e as Error).message).toContain('SCMI_SEC_PAYLOAD_SIZE (92 bytes)');
      }
      // Nothing reached OP-TEE, and the channel still works.
      expect(h.ends.optee.stats.scmi.messages).toBe(messagesBefore);
      const fits = await settle(agent.transact(BASE, DISCOVER_VENDOR, new Uint8Array(92)));
      expect(ScmiStatusError.is(fits) && fits.status).toBe(ScmiStatus.PROTOCOL_ERROR);
      expect(h.ends.optee.stats.scmi.messages).toBe(messagesBefore + 1);
      expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
      expect(h.ends.optee.stats.scmi).toMatchObject({ rejected: 0, busy: 0 });
      await agent.remove();
    });
  });

  describe('with a hostile SMT channel status', () => {
    it('should count a late return that leaves the channel busy as spurious, not as a late reply', async () => {
      const [harness, agent] = await manualAgent({ shmem: 'static' });
      harness.platform.faults.add({ match: { nth: 1 }, action: { kind: 'delay', ms: 45 } });
      harness.ends.optee.faults.add({
        match: { times: 1 },
        action: { kind: 'smt-status', status: 0 },
      });
      await expectLateReturnCountedAs(harness, agent, 'spurious');
    });

    it("should count a late return whose SMT area holds another command's header as unexpected, not as a late reply", async () => {
      const [harness, agent] = await manualAgent({ shmem: 'static' });
      // Hold the return; rewrite the token of the response header the SCMI PTA wrote, then let the
      // return through (a secure world that answers another command in this area).
      const held: (() => void)[] = [];
      harness.ends.driver.setReturnInterceptor((deliver) => held.push(deliver));
      const area = harness.ends.driver.wire.staticShmem(0) as Uint8Array;
      const header = new DataView(area.buffer, area.byteOffset + 0x18, 4);
      await expectLateReturnCountedAs(harness, agent, 'unexpected', () => {
        header.setUint32(0, header.getUint32(0, true) ^ (1 << 18), true);
        harness.ends.driver.setReturnInterceptor(undefined);
        for (const deliver of held.splice(0)) deliver();
      });
    });

    it('should count a return that leaves the channel busy as spurious, and an error flag as a channel error', async () => {
      h = await createOpteeHarness({ shmem: 'static' });
      const agent = await h.create();
      h.ends.optee.faults.add({ match: { nth: 1 }, action: { kind: 'smt-status', status: 0 } });
      h.ends.optee.faults.add({ match: { nth: 2 }, action: { kind: 'smt-status', status: 3 } });
      for (let i = 0; i < 2; i++) {
        const e = await settle(vendor(agent));
        expect(ScmiStatusError.is(e) && e.status).toBe(ScmiStatus.COMMS_ERROR);
      }
      expect(stats(agent).badMessages.spurious).toBe(1);
      expect(h.ends.transport.diagnostics().channels[0]?.stats.channelErrors).toBe(1);
      expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
      await agent.remove();
    });
  });

  describe('.setupChannel', () => {
    it('should refuse P2A channels with E_NOT_SUPPORTED', async () => {
      h = await createOpteeHarness();
      await expect(
        h.ends.transport.setupChannel({ direction: 'p2a' } as never),
      ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
    });

    it('should refuse a static channel without a static area, and a mode the PTA lacks', async () => {
      h = await createOpteeHarness({ shmem: 'dynamic' });
      await expect(
        h.create({ a2p: [{ id: 0, transport: { shmem: 'static' } }] }),
      ).rejects.toMatchObject({
        code: 'E_NO_SHMEM',
      });
      await h.close();
      // The PTA built with MSG only cannot serve an SMT channel.
      h = await createOpteeHarnessWithCaps(PtaScmiCaps.MSG_HEADER);
      await expect(h.create()).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
      expect(h.ends.optee.stats.openSessions).toBe(0);
    });

    it('should refuse a channel before its device is set up, and an SMT area too small for a message', async () => {
      h = await createOpteeHarness({ shmem: 'static' });
      const config = h.ends.transport.validateConfig(h.ends.agentOptions.transportConfig, 'tc');
      await expect(
        h.ends.transport.setupChannel({
          direction: 'a2p',
          config,
          channel: { id: 0, protocols: [], polling: true, transport: undefined },
        } as never),
      ).rejects.toMatchObject({ code: 'E_NO_DEVICE' });
      const base = h.ends.agentOptions.transportConfig as object;
      await expect(
        h.create({ transportConfig: { ...base, staticShmem: () => new Uint8Array(16) } }),
      ).rejects.toMatchObject({ code: 'E_NO_SHMEM' });
    });

    describe('when transportConfig.staticShmem gives no usable area', () => {
      it.each<[string, () => unknown]>([
        ['null', () => null],
        ['a number', () => 64],
        ['an object with a byteLength', () => ({ byteLength: 64 })],
        ['a DataView', () => new DataView(new ArrayBuffer(64))],
        ['a Uint16Array', () => new Uint16Array(64)],
      ])(
        'should refuse %s with an ScmiConfigError naming transportConfig.staticShmem, opening nothing',
        async (_, staticShmem) => {
          h = await createOpteeHarness({ shmem: 'static' });
          const base = h.ends.agentOptions.transportConfig as object;
          const e = await settle(h.create({ transportConfig: { ...base, staticShmem } }));
          expect(e).not.toBeInstanceOf(TypeError);
          expect(ScmiConfigError.is(e)).toBe(true);
          expect(e).toMatchObject({ code: 'E_CONFIG', field: 'transportConfig.staticShmem' });
          expect(h.ends.optee.stats.openSessions).toBe(0);
          expect(h.ends.optee.stats.registeredShm).toBe(0);
          expect(h.ends.transport.diagnostics().channels).toEqual([]);
          // The refusal kept nothing: the same transport then probes with the real areas.
          const agent = await h.create();
          await agent.remove();
        },
      );

      it('should fail with E_NO_SHMEM, the error as cause, when it throws', async () => {
        h = await createOpteeHarness({ shmem: 'static' });
        const base = h.ends.agentOptions.transportConfig as object;
        const failure = new Error('no shmem node');
        const staticShmem = (): never => {
          throw failure;
        };
        const e = await settle(h.create({ transportConfig: { ...base, staticShmem } }));
        expect(ScmiTransportError.is(e)).toBe(true);
        expect(e).toMatchObject({ code: 'E_NO_SHMEM', cause: failure });
        expect(h.ends.optee.stats.openSessions).toBe(0);
      });

      it.each<[string, (area: Uint8Array) => Uint8Array]>([
        ['a Buffer', (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)],
        [
          'a Uint8Array of another realm',
          (a) =>
            runInNewContext('new Uint8Array(buffer, offset, length)', {
              buffer: a.buffer,
              offset: a.byteOffset,
              length: a.byteLength,
            }) as Uint8Array,
        ],
      ])('should take %s over the same memory as the area', async (_, view) => {
        h = await createOpteeHarness({ shmem: 'static' });
        const wire = h.ends.driver.wire;
        const base = h.ends.agentOptions.transportConfig as object;
        const staticShmem = (id: number): Uint8Array | undefined => {
          const area = wire.staticShmem(id);
          return area && view(area);
        };
        const agent = await h.create({ transportConfig: { ...base, staticShmem } });
        expect(h.ends.transport.diagnostics().channels).toMatchObject([{ mode: 'smt' }]);
        expect(await vendor(agent)).toBeInstanceOf(Uint8Array);
        await agent.remove();
      });
    });

    it('should use MSG on a channel with a static area when told to, and another OP-TEE channel id', async () => {
      h = await createOpteeHarness({ shmem: 'static' });
      const agent = await h.create({
        a2p: [{ id: 0, transport: { shmem: 'dynamic', opteeChannelId: 2 } }],
      });
      expect(h.ends.transport.diagnostics().channels).toMatchObject([
        { mode: 'msg', opteeChannelId: 2 },
      ]);
      await agent.remove();
    });

    describe.each(['static', 'dynamic'] as const)('with %s shared memory', (shmem) => {
      // Linux gets one PTA channel handle per SCMI channel (linaro,optee-channel-id): two SCMI
      // channels on one OP-TEE channel would share its SMT area (or PTA channel), each waiting only
      // for its own previous message, and overwrite each other's messages.
      it.each([
        [
          'an explicit id taken by an implicit one',
          [{ id: 0 }, { id: 1, protocols: [CLOCK], transport: { opteeChannelId: 0 } }],
          'a2p[1].transport.opteeChannelId',
          'OP-TEE channel 0 is already used by a2p[0] (SCMI channel 0)',
        ],
        [
          'an implicit id (the SCMI channel id) taken by an explicit one',
          [
            { id: 0, transport: { opteeChannelId: 1 } },
            { id: 1, protocols: [CLOCK] },
          ],
          'a2p[1].transport.opteeChannelId',
          'OP-TEE channel 1 (default: the SCMI channel id) is already used by a2p[0] (SCMI channel 0)',
        ],
        [
          'an explicit id taken by an explicit one, two channels apart',
          [
            { id: 0, transport: { opteeChannelId: 2 } },
            { id: 1, protocols: [CLOCK] },
            { id: 3, protocols: [0x13], transport: { opteeChannelId: 2 } },
          ],
          'a2p[2].transport.opteeChannelId',
          'OP-TEE channel 2 is already used by a2p[0] (SCMI channel 0)',
        ],
      ])(
        'should refuse two SCMI channels on one OP-TEE channel id (%s) with ScmiConfigError, releasing what it set up',
        async (_, a2p, field, message) => {
          h = await createOpteeHarness({ shmem });
          const e = await settle(h.create({ a2p }));
          expect(ScmiConfigError.is(e) && e.field).toBe(field);
          expect((e as Error).message).toContain(message);
          expect(h.ends.optee.stats.openSessions).toBe(0);
          expect(h.ends.optee.stats.registeredShm).toBe(0);
          expect(h.ends.transport.diagnostics().channels).toEqual([]);
          expect(h.log.filter('release').map((x) => x.resource)).toContain('optee context');
          // Nothing of the refused probe stays reserved: an agent with distinct ids probes.
          const agent = await h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK] }] });
          await agent.remove();
        },
      );

      it('should carry concurrent transfers on two SCMI channels with swapped OP-TEE channel ids', async () => {
        h = await createOpteeHarness({ shmem });
        const agent = await h.create({
          a2p: [
            { id: 0, transport: { opteeChannelId: 1 } },
            { id: 1, protocols: [CLOCK], transport: { opteeChannelId: 0 } },
          ],
        });
        expect(h.ends.transport.diagnostics().channels.map((c) => c.opteeChannelId)).toEqual([
          1, 0,
        ]);
        const transfers: Promise<Uint8Array>[] = [];
        for (let i = 0; i < 20; i++) {
          transfers.push(vendor(agent));
          transfers.push(agent.transact(CLOCK, 0x1, undefined, { rxSize: 4 }));
        }
        expect(await Promise.all(transfers)).toHaveLength(40);
        expect(stats(agent, 'a2p:1').completed).toBe(20);
        expect(stats(agent, 'a2p:0').failed).toBe(0);
        expect(stats(agent, 'a2p:1').failed).toBe(0);
        await agent.remove();
      });
    });
    it('should fail with E_TEE, closing what it opened, when OP-TEE refuses the channel', async () => {
      h = await createOpteeHarness({ shmem: 'dynamic' });
      const e = await settle(h.create({ a2p: [{ id: 0, transport: { opteeChannelId: 9 } }] }));
      expect(ScmiTransportError.is(e) && e.code).toBe('E_TEE');
      expect(TeeError.is((e as Error).cause) && (e as { cause: TeeError }).cause.result).toBe(
        TeeResult.BAD_PARAMETERS,
      );
      expect(h.ends.optee.stats.openSessions).toBe(0);
      expect(h.ends.optee.stats.registeredShm).toBe(0);
    });
  });

  describe('.setupDevice', () => {
    it('should fail with E_TEE when the driver is closed or the PTA refuses sessions', async () => {
      h = await createOpteeHarness();
      h.ends.driver.close();
      await expect(h.create()).rejects.toMatchObject({ code: 'E_TEE' });
      await h.close();
      h = await createOpteeHarnessWithCaps(0);
      await expect(h.create()).rejects.toMatchObject({ code: 'E_TEE' });
    });
  });

  describe('MSG buffer size (transportConfig.msgBufferSize)', () => {
    it('should register a 104-byte MSG buffer by default, as Linux, pass all of it as p2, and get at most 100 bytes of status and returns', async () => {
      h = await createOpteeHarness({ shmem: 'dynamic' });
      const d = h.ends.driver;
      const allocated: number[] = [];
      const alloc = d.allocSharedMemory.bind(d);
      jest.spyOn(d, 'allocSharedMemory').mockImplementation((size) => {
        allocated.push(size);
        return alloc(size);
      });
      const p2: number[] = [];
      const answered: number[] = [];
      const submit = d.submit.bind(d);
      jest.spyOn(d, 'submit').mockImplementation((session, func, cancel, params, done) => {
        if (func === PtaScmiCommand.PROCESS_MSG_CHANNEL)
          p2.push((params[2] as TeeMemrefParam).size);
        submit(session, func, cancel, params, (r) => {
          if (func === PtaScmiCommand.PROCESS_MSG_CHANNEL)
            answered.push((r.params[2] as TeeMemrefParam).size);
          done(r);
        });
      });
      const agent = await h.create();
      const sensors = await sensorDescriptions(agent);
      expect(allocated).toEqual([SCMI_SHMEM_MAX_PAYLOAD_SIZE]);
      expect(p2.length).toBeGreaterThan(1);
      expect(new Set(p2)).toEqual(new Set([104]));
      // OP-TEE writes the header and at most 100 bytes of status and return values; the
      // descriptions fill what the link carries (three 28-byte ones after the count: 96 bytes).
      expect(Math.max(...answered)).toBeLessThanOrEqual(104);
      expect(sensors.byteLength).toBeGreaterThan(100 - 4 - 28);
      expect(sensors.byteLength).toBeLessThanOrEqual(100 - 4);
      await agent.remove();
    });

    it('should get PROTOCOL_ERROR for a response past the default buffer, as for any response that does not fit p2, and carry it with msgBufferSize 128', async () => {
      // The emulated OP-TEE sizes responses to 128-byte buffers (124 bytes of status and returns):
      // four sensor descriptions, 116 bytes of returns.
      h = await createOpteeHarness({ shmem: 'dynamic', teeMsgBufferSize: 128 });
      const agent = await h.create();
      const e = await settle(sensorDescriptions(agent));
      expect(ScmiStatusError.is(e) && e.status).toBe(ScmiStatus.PROTOCOL_ERROR);
      await agent.remove();
      const legacy = await h.create({
        transportConfig: opteeTransportConfig(h.ends.driver, {
          msgBufferSize: SCMI_OPTEE_MAX_MSG_SIZE,
        }),
      });
      const sensors = await sensorDescriptions(legacy);
      expect(sensors.byteLength).toBeGreaterThan(104 - 8);
      expect(sensors.byteLength).toBeLessThanOrEqual(128 - 8);
      await legacy.remove();
    });

    it.each([7, 0, -104, 129, 256, 104.5, Number.NaN, Number.POSITIVE_INFINITY, '104', null, true])(
      'should refuse msgBufferSize %p with a ScmiConfigError naming transportConfig.msgBufferSize',
      async (msgBufferSize) => {
        h = await createOpteeHarness({ shmem: 'dynamic' });
        const base = h.ends.agentOptions.transportConfig as object;
        const e = await settle(h.create({ transportConfig: { ...base, msgBufferSize } }));
        expect(ScmiConfigError.is(e) && e.field).toBe('transportConfig.msgBufferSize');
        expect((e as Error).message).toContain('8..128');
        expect(h.ends.optee.stats.openSessions).toBe(0);
      },
    );

    it('should accept msgBufferSize from 8 to 128, default 104', async () => {
      h = await createOpteeHarness({ shmem: 'dynamic' });
      const transport = new OpteeTransport();
      const base = h.ends.agentOptions.transportConfig as object;
      const size = (section: object): number =>
        transport.validateConfig(section, 'transportConfig').msgBufferSize;
      expect(size(base)).toBe(104);
      expect(size({ ...base, msgBufferSize: 8 })).toBe(8);
      expect(size({ ...base, msgBufferSize: 128 })).toBe(128);
    });

    it('should fail a command past a msgBufferSize buffer with E_MSG_SIZE before sending', async () => {
      h = await createOpteeHarness({ shmem: 'dynamic', msgBufferSize: 64, teeMsgBufferSize: 64 });
      const agent = await h.create();
      const taken = h.ends.optee.stats.scmi.messages;
      // 60 bytes after the header fit a 64-byte buffer; 61 do not (a 104-byte one would take them).
      const fits = await settle(agent.transact(BASE, DISCOVER_VENDOR, new Uint8Array(60)));
      expect(ScmiStatusError.is(fits) && fits.status).toBe(ScmiStatus.PROTOCOL_ERROR);
      const tooBig = await settle(agent.transact(BASE, DISCOVER_VENDOR, new Uint8Array(61)));
      expect(ScmiTransportError.is(tooBig) && tooBig.code).toBe('E_MSG_SIZE');
      expect((tooBig as Error).message).toContain('the MSG buffer (60 bytes)');
      expect(h.ends.optee.stats.scmi.messages).toBe(taken + 1);
      await agent.remove();
    });
  });

  describe('.validateConfig', () => {
    it.each([
      [undefined, 'transportConfig'],
      [{}, 'transportConfig.tee'],
      [{ tee: { openSession: 1 } }, 'transportConfig.tee'],
      ['tee', 'transportConfig'],
    ])('should refuse %j naming %s', async (section, field) => {
      h = await createOpteeHarness();
      await expect(h.create({ transportConfig: section })).rejects.toMatchObject({ field });
    });

    it('should refuse a TEE driver without submit, naming transportConfig.tee', async () => {
      h = await createOpteeHarness();
      const driver = h.ends.driver;
      // Every other operation of the driver, bound: only submit (each message's invocation) is missing.
      const tee = {
        implementation: driver.implementation,
        closed: driver.closed,
        openSession: driver.openSession.bind(driver),
        invoke: driver.invoke.bind(driver),
        cancel: driver.cancel.bind(driver),
        closeSession: driver.closeSession.bind(driver),
        allocSharedMemory: driver.allocSharedMemory.bind(driver),
      };
      const base = h.ends.agentOptions.transportConfig as object;
      const e = await settle(h.create({ transportConfig: { ...base, tee } }));
      expect(ScmiConfigError.is(e) && e.field).toBe('transportConfig.tee');
      expect((e as Error).message).toContain('submit');
    });

    it('should refuse a bad busyTimeoutMs, staticShmem and channel section', async () => {
      h = await createOpteeHarness();
      const base = h.ends.agentOptions.transportConfig as object;
      const cases: [object, string][] = [
        [{ transportConfig: { ...base, busyTimeoutMs: 0 } }, 'transportConfig.busyTimeoutMs'],
        [{ transportConfig: { ...base, busyTimeoutMs: 2 ** 31 } }, 'transportConfig.busyTimeoutMs'],
        [{ transportConfig: { ...base, staticShmem: 3 } }, 'transportConfig.staticShmem'],
        [{ transportConfig: { ...base, syncWaitMs: -1 } }, 'transportConfig.syncWaitMs'],
        [{ transportConfig: { ...base, syncWaitMs: 2 ** 31 } }, 'transportConfig.syncWaitMs'],
        [{ a2p: [{ id: 0, transport: 'x' }] }, 'a2p[0].transport'],
        [
          { a2p: [{ id: 0, transport: { opteeChannelId: 1e6 } }] },
          'a2p[0].transport.opteeChannelId',
        ],
        [{ a2p: [{ id: 0, transport: { shmem: 'maybe' } }] }, 'a2p[0].transport.shmem'],
        [{ p2a: [{ id: 0 }] }, 'p2a'],
      ];
      for (const [options, field] of cases) {
        const e = await settle(h.create(options));
        expect(ScmiConfigError.is(e) && e.field).toBe(field);
      }
    });

    it.each<[string, (base: object) => object]>([
      // Misspelt: each would otherwise leave its default in force unnoticed.
      [
        'transportConfig.busyTimeoutMS',
        (base) => ({ transportConfig: { ...base, busyTimeoutMS: 5 } }),
      ],
      [
        'transportConfig.msgBuffersize',
        (base) => ({ transportConfig: { ...base, msgBuffersize: 64 } }),
      ],
      [
        'a2p[1].transport.opteeChanelId',
        () => ({
          a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK], transport: { opteeChanelId: 3 } }],
        }),
      ],
      [
        'a2p[0].transport.mode',
        () => ({ a2p: [{ id: 0, transport: { shmem: 'dynamic', mode: 'msg' } }] }),
      ],
      [
        'p2a[0].transport.opteeChannelID',
        () => ({ p2a: [{ id: 0, transport: { opteeChannelID: 0 } }] }),
      ],
      // Only an absent option takes its default.
      [
        'transportConfig.staticShmem',
        (base) => ({ transportConfig: { ...base, staticShmem: null } }),
      ],
      [
        'transportConfig.syncWaitMs',
        (base) => ({ transportConfig: { ...base, syncWaitMs: null } }),
      ],
      [
        'transportConfig.busyTimeoutMs',
        (base) => ({ transportConfig: { ...base, busyTimeoutMs: null } }),
      ],
      [
        'transportConfig.msgBufferSize',
        (base) => ({ transportConfig: { ...base, msgBufferSize: null } }),
      ],
      ['a2p[0].transport', () => ({ a2p: [{ id: 0, transport: null }] })],
      [
        'a2p[0].transport.opteeChannelId',
        () => ({ a2p: [{ id: 0, transport: { opteeChannelId: null } }] }),
      ],
    ])(
      'should refuse an unknown option or a null one, naming %s, then probe with the corrected configuration',
      async (field, options) => {
        h = await createOpteeHarness();
        const base = h.ends.agentOptions.transportConfig as object;
        const e = await settle(h.create(options(base)));
        expect(e).toMatchObject({ code: 'E_CONFIG', field });
        expect((e as Error).message).toContain(field);
        // A refused configuration claimed nothing: the corrected one probes.
        const agent = await h.create({
          a2p: [{ id: 0 }, { id: 1, protocols: [CLOCK], transport: { opteeChannelId: 3 } }],
        });
        expect(h.ends.transport.diagnostics().channels.map((c) => c.opteeChannelId)).toEqual([
          0, 3,
        ]);
        await agent.remove();
      },
    );

    it('should list the known options when it refuses an unknown one', () => {
      const transport = new OpteeTransport();
      expect(() =>
        transport.validateConfig({ tee: {}, busyTimeoutMS: 5 }, 'transportConfig'),
      ).toThrow(
        'transportConfig.busyTimeoutMS: unknown option (expected one of tee, staticShmem, busyTimeoutMs, syncWaitMs, msgBufferSize)',
      );
      expect(() =>
        transport.validateChannelConfig({ opteeChanelId: 3 }, 'a2p[1].transport'),
      ).toThrow(
        'a2p[1].transport.opteeChanelId: unknown option (expected one of opteeChannelId, shmem)',
      );
    });

    it('should accept every documented option, and undefined for each optional one', async () => {
      h = await createOpteeHarness();
      const transport = h.ends.transport;
      const driver = h.ends.driver;
      const staticShmem = (): undefined => undefined;
      const every = {
        tee: driver,
        staticShmem,
        busyTimeoutMs: 5,
        syncWaitMs: 0,
        msgBufferSize: 64,
      };
      expect(transport.validateConfig(every, 'transportConfig')).toEqual(every);
      const resolved = transport.validateConfig(
        {
          tee: driver,
          staticShmem: undefined,
          busyTimeoutMs: undefined,
          syncWaitMs: undefined,
          msgBufferSize: undefined,
        },
        'transportConfig',
      );
      expect(resolved).toMatchObject({
        busyTimeoutMs: undefined,
        syncWaitMs: 1,
        msgBufferSize: 104,
      });
      // A resolved configuration is a valid section too.
      expect(transport.validateConfig(resolved, 'transportConfig')).toEqual(resolved);
      expect(
        transport.validateChannelConfig({ opteeChannelId: 2, shmem: 'static' }, 'a2p[0].transport'),
      ).toEqual({ opteeChannelId: 2, shmem: 'static', field: 'a2p[0].transport' });
      expect(
        transport.validateChannelConfig(
          { opteeChannelId: undefined, shmem: undefined },
          'a2p[0].transport',
        ),
      ).toEqual({ opteeChannelId: undefined, shmem: undefined, field: 'a2p[0].transport' });
    });
  });
});

async function createOpteeHarnessWithCaps(capabilities: number): Promise<OpteeHarness> {
  return createOpteeHarness({ shmem: 'static', capabilities });
}

/** Teardown of an agent over OP-TEE: every quiesce, then every release, newest first. */
const EXPECTED_TEARDOWN: string[] = [
  'quiesce agent',
  'quiesce protocol handle',
  'quiesce agent gate',
  'quiesce channel a2p:0',
  'quiesce transfers',
  'quiesce notifications',
  'release agent',
  'release protocol handle',
  'release agent gate',
  'release channel a2p:0',
  'release optee context',
  'release transfers',
  'release notifications',
];
