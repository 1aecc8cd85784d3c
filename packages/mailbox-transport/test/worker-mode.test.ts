import { Container } from 'inversify';
import {
  ScmiShutdownError,
  ScmiTimeoutError,
  coreModule,
  createAgent,
  type AgentOptions,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import {
  ClockMessageId,
  PerformanceMessageId,
  createDefaultPlatformConfig,
} from '@scmi-ts/platform';
import { waitUntil } from '@scmi-ts/conformance';
import { mailboxTransportModule } from '@scmi-ts/mailbox-transport';
import {
  mailboxFixture,
  type MailboxFixtureEnds,
  type MailboxFixtureWorker,
} from './support/fixture.js';
import { channelStats, defined, registerLevelNotifications, settle } from './support/harness.js';

/**
 * The mailbox transport with the platform and its SMT responder in a worker thread: shared SMT
 * areas, `Atomics` doorbells, real time. One worker for the file; a fresh wire per test.
 */

describe('mailbox transport in worker mode', () => {
  ensureNoLeaksInSuite();
  let worker: MailboxFixtureWorker | undefined;
  const container = new Container();
  container.load(coreModule, mailboxTransportModule);

  beforeAll(async () => {
    worker = await mailboxFixture.worker({
      platformConfig: createDefaultPlatformConfig(),
      agentId: 1,
      seed: 7,
    });
  });

  afterAll(async () => {
    await worker?.stop();
  });

  /** Opens a wire, probes an agent over it, runs `body`, removes the agent and closes the wire. */
  async function withAgent(
    options: Partial<AgentOptions>,
    body: (agent: ScmiAgent, ends: MailboxFixtureEnds) => Promise<void>,
  ): Promise<void> {
    const w = defined(worker);
    const ends = await w.open();
    try {
      // Real time on a possibly loaded machine: generous timeouts unless a test sets its own.
      const rxTimeoutMs = options.rxTimeoutMs ?? 1000;
      const agent = await createAgent(container, {
        transport: 'mailbox',
        ...ends.agentOptions,
        ...options,
        rxTimeoutMs,
        transportConfig: {
          ...(ends.agentOptions?.transportConfig as object),
          freeWaitMs: 4 * rxTimeoutMs,
        },
      });
      try {
        await body(agent, ends);
      } finally {
        await agent.remove();
      }
      expect(ends.wire.monitor.violations).toEqual([]);
      expect(ends.wire.controller.stats.inUse).toBe(0);
    } finally {
      await ends.close();
      await w.setFaults([]);
    }
    expect((await w.platformStats()).armedTimers).toBe(0);
  }

  it('should probe, discover the platform, answer Base commands and a raw message, and remove', async () => {
    const w = defined(worker);
    const before = await w.platformStats();
    await withAgent({}, async (agent) => {
      expect((await w.platformStats()).connectedAgents).toEqual([1]);
      expect(agent.info.vendor).toBe(createDefaultPlatformConfig().vendor);
      expect(agent.info.protocols).toEqual(expect.arrayContaining([0x11, 0x13, 0x14, 0x15, 0x16]));
      expect((await agent.base.discoverAgent(0)).name).toBe('platform');
      const clockVersion = await agent.transact(0x14, 0x0);
      expect(new DataView(clockVersion.buffer, clockVersion.byteOffset).getUint32(0, true)).toBe(
        0x30000,
      );
    });
    // Removed and its wire closed: the platform forgot the agent, with nothing armed and every
    // command answered in time (no late response).
    expect(await w.platformStats()).toEqual({
      armedTimers: 0,
      connectedAgents: [],
      lateResponses: before.lateResponses,
      cancelledOnDisconnect: before.cancelledOnDisconnect,
    });
  });

  it('should carry many transfers over Base’s channel, a dedicated interrupt channel and a polling one', async () => {
    await withAgent(
      {
        a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }, { id: 2, protocols: [0x13], polling: true }],
      },
      async (agent) => {
        const work = Array.from({ length: 300 }, (_, i) =>
          agent.transact([0x10, 0x14, 0x13][i % 3] as number, 0x0),
        );
        expect(await Promise.all(work)).toHaveLength(300);
        for (const label of ['a2p:0', 'a2p:1', 'a2p:2']) {
          const s = channelStats(agent, label);
          expect(s.completed).toBe(s.sent);
          expect(s.timeouts + s.failed).toBe(0);
        }
      },
    );
  });

  it('should deliver notifications and delayed responses from the worker over the P2A channel', async () => {
    await withAgent({}, async (agent) => {
      registerLevelNotifications(agent);
      let resolve!: () => void;
      const got = new Promise<void>((r) => {
        resolve = r;
      });
      const off = await agent.events.subscribe(
        { protocolId: 0x13, eventId: 0x1, source: 0 },
        () => {
          resolve();
        },
      );
      await agent.transact(0x13, PerformanceMessageId.LEVEL_SET, (w) => w.u32(0).u32(400_000), {
        txSize: 8,
      });
      await got;
      const delayed = await agent.transact(
        0x14,
        ClockMessageId.RATE_SET,
        (w) => w.u32(1).u32(1).u32(24_000_000).u32(0),
        { txSize: 16, async: true },
      );
      expect(new DataView(delayed.buffer, delayed.byteOffset).getUint32(4, true)).toBe(24_000_000);
      await off();
      expect(channelStats(agent, 'p2a:0').delayedResponses).toBe(1);
    });
  });

  it('should time out, drop the late reply as counted, and send the next command once the area is free', async () => {
    // Real time, so margins of at least 1 s either way: the probe's commands and the command
    // after the timeout have 1000 ms each to be answered; the late reply comes 2500 ms after the
    // platform took the command, 1500 ms past the agent's deadline, so a stall of the agent's
    // thread shorter than that cannot turn the timeout into a success; the next command waits for
    // CHANNEL_FREE at most freeWaitMs (4000 ms, see withAgent) from its start at the timeout,
    // 2500 ms more than the late reply needs.
    await withAgent({ rxTimeoutMs: 1000 }, async (agent) => {
      await defined(worker).setFaults([
        {
          match: { protocolId: 0x14, messageId: 0x0, times: 1 },
          action: { kind: 'late-reply', ms: 2500 },
        },
      ]);
      expect(await settle(agent.transact(0x14, 0x0))).toBeInstanceOf(ScmiTimeoutError);
      await agent.transact(0x14, 0x0); // waits for CHANNEL_FREE (the late reply), then goes
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.timeouts).toBe(1);
      // Counted once whenever its doorbell lands: before the next command is written (the
      // doorbell hands it to core), or after (the next send hands it to core before writing over
      // it; the doorbell is then owed and absorbed, or coalesces with the next completion's).
      expect(a2p.lateReplies).toBe(1);
      expect(a2p.badMessages.spurious).toBe(0);
      expect(a2p.completed).toBe(a2p.sent - 1);
    });
  });

  it('should fail every transfer in flight with ScmiShutdownError on remove, and hang nothing', async () => {
    const w = defined(worker);
    const ends = await w.open();
    const agent = await createAgent(container, {
      transport: 'mailbox',
      ...ends.agentOptions,
      rxTimeoutMs: 30_000, // the clock commands are dropped: none may time out before the remove
      a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }],
    });
    // The platform never answers clock commands: whenever the remove comes, none has completed.
    // (A 20 ms delay and a 2 ms sleep made the outcome depend on the agent's thread not stalling.)
    await w.setFaults([{ match: { protocolId: 0x14 }, action: { kind: 'drop' } }]);
    const before = (await ends.responderStats()).counters.requests;
    const inFlight = Array.from({ length: 6 }, () => settle(agent.transact(0x14, 0x0)));
    // Until the first is on the wire (the others wait for the channel): bounded by a deadline,
    // not by a count of 1 ms sleeps (about a second, which a loaded machine could exceed).
    await waitUntil(async () => (await ends.responderStats()).counters.requests !== before);
    expect((await ends.responderStats()).counters.requests).toBe(before + 1);
    await agent.remove();
    const errors = await Promise.all(inFlight);
    expect(errors.every((e) => ScmiShutdownError.is(e))).toBe(true);
    expect(ends.wire.monitor.violations).toEqual([]);
    await ends.close();
    await w.setFaults([]);
    expect((await w.platformStats()).armedTimers).toBe(0);
  });

  it('should count once the reply to a message abandoned at the free that lands, and rings, across threads afterwards', async () => {
    // The platform rings as soon as it takes the command (the area still its own: counted
    // spurious, and no doorbell is owed any more), and answers 2500 ms later, ringing again. The
    // agent gives up at 1000 ms and is removed at once: the message is abandoned at the free, and
    // its reply and second doorbell, from the worker's thread, must be counted once between them
    // (repliesAfterFree), not again as a ring dropped after the free. Margins of 1.5 s either way.
    const w = defined(worker);
    const ends = await w.open();
    const agent = await createAgent(container, {
      transport: 'mailbox',
      ...ends.agentOptions,
      rxTimeoutMs: 1000,
    });
    await ends.setWireFaults([
      {
        match: { protocolId: 0x10, messageId: 0x3, times: 1 },
        action: { kind: 'spurious-doorbell', ms: 2500 },
      },
    ]);
    const responsesBefore = (await ends.responderStats()).counters.responses;
    expect(await settle(agent.base.discoverVendor())).toBeInstanceOf(ScmiTimeoutError);
    await agent.remove();
    const atFree = defined(ends.wire.monitor.channel('a2p:0'));
    expect(atFree.abandonedAtFree).toBe(1);
    await waitUntil(async () => {
      const answered = (await ends.responderStats()).counters.responses > responsesBefore;
      return answered && (ends.wire.monitor.channel('a2p:0')?.ignoredRings ?? 0) >= 1;
    });
    const after = defined(ends.wire.monitor.channel('a2p:0'));
    expect(after.ignoredRings).toBe(1);
    expect(after.repliesAfterFree).toBe(1);
    expect(
      after.counters.lateReplies +
        after.counters.refusedAfterQuiesce +
        after.ignoredAfterFree +
        after.repliesAfterFree,
    ).toBe(1);
    expect(ends.wire.monitor.violations).toEqual([]);
    await ends.close();
    await w.setFaults([]);
  });

  it('should reject hostile wire faults from the worker, counted, and carry on', async () => {
    await withAgent({}, async (agent, ends) => {
      await ends.setWireFaults([
        {
          match: { protocolId: 0x10, messageId: 0x3, times: 1 },
          action: { kind: 'hostile-length', length: 0xffffffff },
        },
        {
          match: { protocolId: 0x10, messageId: 0x4, times: 1 },
          action: { kind: 'spurious-doorbell', ms: 5 },
        },
      ]);
      await agent.base.discoverVendor();
      await agent.base.discoverSubVendor();
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.badMessages.oversize).toBeGreaterThanOrEqual(1);
      // Seen as spurious unless the agent's thread was too slow to see it before the real doorbell
      // (they coalesce): on real time the count is not exact.
      expect(a2p.completed).toBe(a2p.sent);
      const responder = await ends.responderStats();
      expect(responder.faults).toMatchObject({ 'hostile-length': 1, 'spurious-doorbell': 1 });
    });
  });
});
