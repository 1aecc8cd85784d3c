import { Container } from 'inversify';
import {
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  coreModule,
  createAgent,
  type ScmiAgent,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { createDefaultPlatformConfig } from '@scmi-ts/platform';
import { waitUntil } from '@scmi-ts/conformance';
import {
  SMT_FLAG_INTR_ENABLED,
  SmtArea,
  mailboxTransportModule,
  type SmtChannelReport,
  type SmtFaultRule,
} from '@scmi-ts/mailbox-transport';
import {
  mailboxFixture,
  type MailboxFixtureEnds,
  type MailboxFixtureWorker,
} from './support/fixture.js';
import { channelStats, defined, settle } from './support/harness.js';

/**
 * The SMT responder's wire-level fault rules with the responder in a worker thread (shared SMT
 * areas, `Atomics` doorbells, real time), against a real agent. The same-thread versions are in
 * `smt-fault-rules.test.ts`.
 *
 * Every test asserts invariants, never timings: each fault is armed so that its outcome does not
 * depend on how fast either thread runs.
 * - The faulted command is Clock PROTOCOL_VERSION on a dedicated channel, `a2p:1`, that the probe
 *   never uses: it is the first message written into that area, so no doorbell of an earlier
 *   message can still be on its way (the channel would absorb it once, uncounted) or coalesce
 *   with the fault's.
 * - Where the platform answers never (stuck busy, no FREE) or only long after the test ends
 *   (spurious doorbell, early FREE: a 10-minute delay, cancelled when the responder closes), the
 *   outcome is certain, whatever the load.
 * - Only the probe needs a real answer in time: `rxTimeoutMs` is 1000 for it (the faulted
 *   transfers time out after it). `freeWaitMs` is short: it only bounds waits for an area the
 *   platform never frees.
 */

/** Clock PROTOCOL_VERSION on `a2p:1`. */
const CLOCK_VERSION = { protocolId: 0x14, messageId: 0x0, channelId: 1 } as const;
/** An answer the test outlives: the responder's timer is cancelled when it closes. */
const NEVER_MS = 600_000;
const RX_TIMEOUT_MS = 1000;
const FREE_WAIT_MS = 100;

function record(ends: MailboxFixtureEnds, label: string): SmtChannelReport {
  return defined(ends.wire.monitor.channel(label), label);
}

describe('SmtResponder wire-level fault rules in worker mode, against the agent', () => {
  ensureNoLeaksInSuite();
  let worker: MailboxFixtureWorker | undefined;
  const container = new Container();
  container.load(coreModule, mailboxTransportModule);

  beforeAll(async () => {
    worker = await mailboxFixture.worker({
      platformConfig: createDefaultPlatformConfig(),
      agentId: 1,
      seed: 11,
    });
  });

  afterAll(async () => {
    await worker?.stop();
  });

  /**
   * Opens a wire, probes an agent with Base on `a2p:0` and Clock on `a2p:1` (interrupt mode),
   * arms `rules` in the worker's responder, runs `body` with the SMT area of `a2p:1`, removes the
   * agent, runs `afterRemove`, and closes the wire.
   */
  async function withClockChannel(
    rules: readonly SmtFaultRule[],
    body: (agent: ScmiAgent, ends: MailboxFixtureEnds, area: SmtArea) => Promise<void>,
    afterRemove: (ends: MailboxFixtureEnds) => void = () => undefined,
  ): Promise<void> {
    const w = defined(worker);
    const ends = await w.open();
    try {
      const agent = await createAgent(container, {
        transport: 'mailbox',
        ...ends.agentOptions,
        rxTimeoutMs: RX_TIMEOUT_MS,
        a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }],
        transportConfig: {
          ...(ends.agentOptions?.transportConfig as object),
          freeWaitMs: FREE_WAIT_MS,
        },
      });
      try {
        // The probe never wrote into a2p:1's area: the faulted command is its first message.
        expect(channelStats(agent, 'a2p:1').sent).toBe(0);
        await ends.setWireFaults(rules);
        const { layout } = ends.wire;
        const spec = defined(layout.channels.find((c) => c.direction === 'a2p' && c.id === 1));
        await body(agent, ends, new SmtArea(layout.memory, spec.offset, layout.areaSize));
      } finally {
        await agent.remove();
      }
      afterRemove(ends);
      expect(ends.wire.monitor.violations).toEqual([]);
      expect(ends.wire.controller.stats.inUse).toBe(0);
    } finally {
      await ends.close();
    }
    expect((await w.platformStats()).armedTimers).toBe(0);
  }

  /** Waits (bounded) until the responder has written a response more than `before`. */
  async function responseWritten(ends: MailboxFixtureEnds, before: number): Promise<void> {
    await waitUntil(async () => (await ends.responderStats()).counters.responses > before);
    expect((await ends.responderStats()).counters.responses).toBe(before + 1);
  }

  /**
   * The next command on `a2p:1`, with the area still busy: it waits for CHANNEL_FREE, gives up
   * with E_CHANNEL_BUSY and writes nothing — the area's bytes are the same after as before.
   */
  async function nextFailsBusy(agent: ScmiAgent, area: SmtArea): Promise<void> {
    expect(area.isFree()).toBe(false);
    const bytes = area.bytes.slice();
    const error = await settle(agent.transact(0x14, 0x0));
    expect(ScmiTransportError.is(error) && error.code).toBe('E_CHANNEL_BUSY');
    expect(area.bytes.slice()).toEqual(bytes);
    expect(area.isFree()).toBe(false);
  }

  /**
   * What a command that timed out, followed by one refused E_CHANNEL_BUSY, leaves on `a2p:1`:
   * sent once (the second failed in the transport, never sent), one busy wait that failed, and the
   * responder reached once (the second command was never written nor rung). Returns the counters
   * for the test's own checks.
   */
  async function timedOutThenBusy(
    agent: ScmiAgent,
    ends: MailboxFixtureEnds,
    before: { readonly requests: number; readonly ringsWhileBusy: number },
  ): Promise<{
    a2p: ReturnType<typeof channelStats>;
    r: SmtChannelReport;
    responder: Awaited<ReturnType<MailboxFixtureEnds['responderStats']>>;
  }> {
    const a2p = channelStats(agent, 'a2p:1');
    expect(a2p).toMatchObject({ sent: 1, completed: 0, timeouts: 1, failed: 1, lateReplies: 0 });
    const r = record(ends, 'a2p:1');
    expect(r.busyWaits).toBe(1);
    expect(r.busyFailures).toBe(1);
    const responder = await ends.responderStats();
    expect(responder.counters.requests).toBe(before.requests + 1);
    expect(responder.counters.ringsWhileBusy).toBe(before.ringsWhileBusy);
    return { a2p, r, responder };
  }

  it('stuck-busy: should time out while the area is never freed, then fail the next send with E_CHANNEL_BUSY without writing the area', async () => {
    await withClockChannel(
      [{ match: CLOCK_VERSION, action: { kind: 'stuck-busy' } }],
      async (agent, ends, area) => {
        const before = (await ends.responderStats()).counters;
        // The platform writes its response and never sets CHANNEL_FREE nor rings: a timeout,
        // whenever either thread runs.
        expect(await settle(agent.transact(0x14, 0x0))).toBeInstanceOf(ScmiTimeoutError);
        // Nothing more will touch the area once the response is written (no timer: never freed).
        await responseWritten(ends, before.responses);
        expect(area.status()).toBe(0);
        expect(area.length()).toBe(12); // header, status, version: written, never handed over
        await nextFailsBusy(agent, area);
        const { a2p, r, responder } = await timedOutThenBusy(agent, ends, before);
        expect(a2p.badMessages).toMatchObject({ spurious: 0, unexpected: 0, invalid: 0 });
        expect(r.spurious).toBe(0);
        expect(responder.faults['stuck-busy']).toBe(1);
        expect(responder.armedTimers).toBe(0);
      },
    );
  });

  it('no-free: should ignore the doorbell of a response written without CHANNEL_FREE (counted spurious once), time out, then fail the next send with E_CHANNEL_BUSY', async () => {
    await withClockChannel(
      [{ match: CLOCK_VERSION, action: { kind: 'no-free' } }],
      async (agent, ends, area) => {
        const before = (await ends.responderStats()).counters;
        expect(await settle(agent.transact(0x14, 0x0))).toBeInstanceOf(ScmiTimeoutError);
        await responseWritten(ends, before.responses);
        // The one doorbell, rung once the response was written: seen whenever the agent's thread
        // gets to it, with the area still the platform's, and nothing else rings on a2p:1.
        await waitUntil(() => channelStats(agent, 'a2p:1').badMessages.spurious >= 1);
        expect(area.status()).toBe(0);
        expect(area.flags() & SMT_FLAG_INTR_ENABLED).toBe(SMT_FLAG_INTR_ENABLED);
        expect(area.length()).toBe(12);
        expect(area.payloadI32()).toBe(ScmiStatus.SUCCESS);
        await nextFailsBusy(agent, area);
        // Not taken: no completion, no late reply, nothing handed to core.
        const { a2p, r, responder } = await timedOutThenBusy(agent, ends, before);
        expect(a2p.badMessages.spurious).toBe(1);
        expect(a2p.badMessages).toMatchObject({ unexpected: 0, invalid: 0, oversize: 0 });
        expect(r.spurious).toBe(1);
        expect(responder.faults['no-free']).toBe(1);
      },
      (ends) => {
        // Its reply never handed over (the area still the platform's at the free): abandoned.
        const r = record(ends, 'a2p:1');
        expect(r.abandonedAtFree).toBe(1);
        expect(r.repliesAfterFree).toBe(0);
      },
    );
  });

  it('early-free: should read the area as it is when CHANNEL_FREE comes before the response (a bogus reply, counted invalid), and carry on', async () => {
    // The response is written NEVER_MS after FREE and the doorbell, so the agent reads the area
    // as the request left it (length 4: no status word) whenever its thread gets to it. With a
    // short delay the outcome would depend on which thread runs first: the request, the response
    // or a mix of the two.
    await withClockChannel(
      [{ match: { ...CLOCK_VERSION, times: 1 }, action: { kind: 'early-free', ms: NEVER_MS } }],
      async (agent, ends, area) => {
        const error = await settle(agent.transact(0x14, 0x0));
        expect(ScmiStatusError.is(error) && error.status).toBe(ScmiStatus.PROTOCOL_ERROR);
        expect(area.isFree()).toBe(true);
        expect(area.length()).toBe(4); // the request's length: the response never came
        let a2p = channelStats(agent, 'a2p:1');
        expect(a2p.badMessages.invalid).toBe(1);
        expect(a2p.completed).toBe(1);
        expect(a2p.timeouts).toBe(0);
        let responder = await ends.responderStats();
        expect(responder.faults['early-free']).toBe(1);
        expect(responder.armedTimers).toBe(1); // the response write, still to come
        // The channel works on: the next command's header replaces the one the late write waits
        // for, so that write can never land over it.
        const version = await agent.transact(0x14, 0x0);
        expect(new DataView(version.buffer, version.byteOffset).getUint32(0, true)).toBe(0x30000);
        a2p = channelStats(agent, 'a2p:1');
        expect(a2p).toMatchObject({
          sent: 2,
          completed: 2,
          timeouts: 0,
          failed: 0,
          lateReplies: 0,
        });
        expect(a2p.badMessages).toMatchObject({
          invalid: 1,
          spurious: 0,
          unexpected: 0,
          oversize: 0,
        });
        responder = await ends.responderStats();
        expect(responder.faults['early-free']).toBe(1);
        // Still armed; when it fires, the area holds another header, so it writes nothing.
        expect(responder.armedTimers).toBe(1);
        expect(record(ends, 'a2p:1').busyWaits).toBe(0);
      },
    );
  });

  it('spurious-doorbell: should count a doorbell rung while the platform owns the area exactly once, and not complete the transfer with it', async () => {
    // The platform rings as it takes the command and answers NEVER_MS later: no other ring on
    // a2p:1 can coalesce with the spurious one, and the area stays the platform's until the
    // responder closes, so the agent sees it busy whenever its thread takes the doorbell.
    await withClockChannel(
      [{ match: CLOCK_VERSION, action: { kind: 'spurious-doorbell', ms: NEVER_MS } }],
      async (agent, ends, area) => {
        const before = (await ends.responderStats()).counters;
        const version = settle(agent.transact(0x14, 0x0));
        await waitUntil(() => channelStats(agent, 'a2p:1').badMessages.spurious >= 1);
        expect(channelStats(agent, 'a2p:1').badMessages.spurious).toBe(1);
        // Not a completion: the transfer times out, and the count stays 1.
        expect(await version).toBeInstanceOf(ScmiTimeoutError);
        const a2p = channelStats(agent, 'a2p:1');
        expect(a2p.badMessages.spurious).toBe(1);
        expect(a2p).toMatchObject({
          sent: 1,
          completed: 0,
          timeouts: 1,
          failed: 0,
          lateReplies: 0,
        });
        expect(a2p.badMessages).toMatchObject({ unexpected: 0, invalid: 0, oversize: 0 });
        expect(record(ends, 'a2p:1').spurious).toBe(1);
        // The area still holds the request, the platform's.
        expect(area.status()).toBe(0);
        expect(area.length()).toBe(4);
        const responder = await ends.responderStats();
        expect(responder.counters.requests).toBe(before.requests + 1);
        expect(responder.counters.responses).toBe(before.responses);
        expect(responder.faults['spurious-doorbell']).toBe(1);
        expect(responder.armedTimers).toBe(1); // the answer, cancelled when the wire closes
      },
      (ends) => {
        const r = record(ends, 'a2p:1');
        expect(r.spurious).toBe(1);
        expect(r.abandonedAtFree).toBe(1);
        expect(r.repliesAfterFree).toBe(0);
      },
    );
  });
});
