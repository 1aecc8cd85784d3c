/**
 * The mailbox layouts of Linux `mailbox_chan_validate` / `mailbox_chan_setup`
 * (`drivers/firmware/arm_scmi/transports/mailbox.c`) end to end: which mailbox channel each end
 * rings and listens to for 2 mbox / 1 shmem, 3 / 2 and 4 / 2 (unidirectional mailbox channels),
 * what is counted when the other end misbehaves, teardown, and the same layouts in worker mode.
 */
import { join } from 'node:path';
import { Container } from 'inversify';
import {
  CLOCK,
  ScmiConfigError,
  ScmiMessageType,
  ScmiTimeoutError,
  VirtualClock,
  buildHeader,
  coreModule,
  createAgent,
  resolveWorkerEntry,
  startWorker,
  type AgentOptions,
  type ScmiAgent,
  type WorkerHost,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { PerformanceMessageId, ScmiPlatform, createDefaultPlatformConfig } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_FREE,
  SMT_FLAG_INTR_ENABLED,
  SmtArea,
  SmtResponder,
  createSameThreadMailboxWire,
  mailboxTransportModule,
  openSmtWorkerWire,
  type MailboxChannel,
  type MailboxController,
  type MailboxRemoteEnd,
  type SmtNodeOptions,
  type SmtPlatformEnd,
  type SmtWireLayout,
} from '@scmi-ts/mailbox-transport';
import { MBOX_TX_QUEUE_LEN } from '../src/mailbox/mailbox-line.js';
import type { MailboxWorkerData } from './support/mailbox-worker.js';
import {
  NO_BAD_MESSAGES,
  channelStats,
  codeOf,
  defined,
  exerciseP2a,
  registerLevelNotifications,
  settle,
} from './support/harness.js';

/** Rings per mailbox channel index. */
type Rings = Map<number, number>;

function count(rings: Rings, index: number): void {
  rings.set(index, (rings.get(index) ?? 0) + 1);
}

/** `rings` as a plain object, for `toEqual`. */
function byIndex(rings: Rings): Record<number, number> {
  return Object.fromEntries(rings);
}

/**
 * `controller`, counting each `send` (a ring toward the platform) per mailbox channel index, and
 * keeping every channel it hands out in `handed`.
 */
function spyController(
  controller: MailboxController,
  sent: Rings,
  handed: MailboxChannel[],
): MailboxController {
  return {
    name: controller.name,
    channelCount: controller.channelCount,
    txDoneMethod: controller.txDoneMethod,
    get stats() {
      return controller.stats;
    },
    requestChannel: (index, client): MailboxChannel => {
      const chan = controller.requestChannel(index, client);
      handed.push(chan);
      return new Proxy(chan, {
        get(target, key) {
          if (key === 'send') {
            return () => {
              count(sent, index);
              target.send();
            };
          }
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
        },
      });
    },
  };
}

/** `end`, counting each ring of the platform toward the agent per mailbox channel index. */
function spyEnd(end: SmtPlatformEnd, rang: Rings): SmtPlatformEnd {
  const wrapped = new Map<number, MailboxRemoteEnd>();
  return {
    layout: end.layout,
    remote: (index) => {
      let w = wrapped.get(index);
      if (w === undefined) {
        const r = end.remote(index);
        w = {
          get closed() {
            return r.closed;
          },
          listen: (onRing) => {
            r.listen(onRing);
          },
          ring: () => {
            count(rang, index);
            r.ring();
          },
          close: () => {
            r.close();
          },
        };
        wrapped.set(index, w);
      }
      return w;
    },
  };
}

/** A same-thread wire of `nodes` with the emulated platform, every ring counted per index. */
function createRig(nodes: SmtNodeOptions[], auto = true, txDoneMethod: 'irq' | 'poll' = 'irq') {
  const clock = new VirtualClock({ auto });
  const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
  const mailbox = createSameThreadMailboxWire(clock, { nodes, txDoneMethod });
  const agentRang: Rings = new Map();
  const platformRang: Rings = new Map();
  const responder = new SmtResponder({
    platform,
    agentId: 1,
    end: spyEnd(mailbox.platformEnd, platformRang),
    clock,
  });
  const container = new Container();
  container.load(coreModule, mailboxTransportModule);
  container.rebind(CLOCK).toConstantValue(clock);
  const handed: MailboxChannel[] = [];
  const wire = {
    ...mailbox.wire,
    controller: spyController(mailbox.controller, agentRang, handed),
  };
  return {
    clock,
    platform,
    mailbox,
    responder,
    wire,
    /** Rings of the agent toward the platform, per mailbox channel index. */
    agentRang,
    /** Rings of the platform toward the agent, per mailbox channel index. */
    platformRang,
    /** The mailbox channels the agent's transport requested. */
    handed,
    create: (o: Partial<AgentOptions> = {}): Promise<ScmiAgent> =>
      createAgent(container, { transport: 'mailbox', transportConfig: { wire }, ...o }),
    close: (): void => {
      responder.close();
      platform.close();
      expect(responder.armedTimers).toBe(0);
      expect(platform.armedTimers).toBe(0);
    },
  };
}

/**
 * Subscribes `agent` to performance level notifications of domain 0; returns the levels seen
 * (`onLevel` is called after each).
 */
async function subscribeLevels(
  agent: ScmiAgent,
  onLevel: (levels: readonly number[]) => void = () => undefined,
): Promise<number[]> {
  registerLevelNotifications(agent);
  const levels: number[] = [];
  await agent.events.subscribe({ protocolId: 0x13, eventId: 0x1, source: 0 }, (n) => {
    levels.push(new DataView(n.payload.buffer, n.payload.byteOffset).getUint32(8, true));
    onLevel(levels);
  });
  return levels;
}

/**
 * Probes an agent over a rig of `nodes`, subscribes it to level changes and exercises P2A; then the
 * platform posts a storm of ten notifications (queued in the responder, written one by one as the
 * agent frees the P2A area) on the agent's next command. Checks that every post reached the agent,
 * in order, and that nothing was refused or is left queued.
 */
async function deliverLevelStorm(
  nodes: SmtNodeOptions[],
): Promise<{ r: ReturnType<typeof createRig>; agent: ScmiAgent }> {
  const r = createRig(nodes);
  const agent = await r.create();
  const levels = await subscribeLevels(agent);
  await exerciseP2a(agent);
  addLevelStorm(r);
  await agent.transact(0x10, 0x0);
  await r.clock.runUntilIdle();
  expect(levels).toEqual([400_000, 800_000, 1_800_000, ...Array<number>(10).fill(1234)]);
  expect(r.responder.counters).toMatchObject({ p2aPosted: 14, p2aRefused: 0, p2aQueued: 0 });
  return { r, agent };
}

/** The SMT area of `direction:0` in `layout`. */
function areaOf(layout: SmtWireLayout, direction: 'a2p' | 'p2a'): SmtArea {
  const spec = defined(layout.channels.find((c) => c.direction === direction && c.id === 0));
  return new SmtArea(layout.memory, spec.offset, layout.areaSize);
}

/**
 * A storm of ten PERF_LEVEL_CHANGED notifications (agent 1, domain 0, level 1234) fired by the
 * next Base PROTOCOL_VERSION: more posts than the P2A area holds, so they wait in the responder's
 * queue.
 */
function addLevelStorm(r: { platform: { faults: { add(rule: object): unknown } } }): void {
  r.platform.faults.add({
    match: { protocolId: 0x10, messageId: 0x0, nth: 1 },
    action: {
      kind: 'notification-storm',
      count: 10,
      protocolId: 0x13,
      messageId: 0x1,
      payload: [1, 0, 1234], // agent 1, domain 0, level 1234
    },
  });
}

describe('mailbox layouts (Linux mailbox_chan_validate)', () => {
  ensureNoLeaksInSuite();

  describe('having 2 mbox / 1 shmem (tx, tx_reply)', () => {
    it('should ring commands on tx, take every reply from tx_reply, and request and free both', async () => {
      const r = createRig([{ shmem: [0], mboxes: 2 }]);
      // The mailbox channels' state when the release phase begins: every quiesce step has run.
      let atRelease: unknown;
      const agent = await r.create({
        log: (e) => {
          if (e.type === 'release' && atRelease === undefined) {
            atRelease = r.handed.map((c) => ({ rxStopped: c.rxStopped, freed: c.freed }));
          }
        },
      });
      expect(r.mailbox.controller.stats).toEqual({ requested: 2, freed: 0, inUse: 2 });
      await agent.base.discoverVendor();
      await agent.transact(0x14, 0x0);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.completed).toBe(a2p.sent);
      expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
      // The agent rang tx only, the platform tx_reply only: one ring each per command.
      expect(byIndex(r.agentRang)).toEqual({ 0: a2p.sent });
      expect(byIndex(r.platformRang)).toEqual({ 1: a2p.sent });
      await agent.remove();
      // The quiesce stopped both (Linux frees chan and chan_receiver); the release freed both.
      expect(atRelease).toEqual([
        { rxStopped: true, freed: false },
        { rxStopped: true, freed: false },
      ]);
      expect(r.mailbox.controller.stats).toEqual({ requested: 2, freed: 2, inUse: 0 });
      expect(r.wire.monitor.violations).toEqual([]);
      r.close();
    });

    it('should count a late reply rung on tx_reply after the remove once, as refused, never touching the freed channel', async () => {
      const r = createRig([{ shmem: [0], mboxes: 2 }], false);
      const probing = r.create();
      await r.clock.runUntilIdle();
      const agent = await probing;
      r.platform.faults.add({
        match: { protocolId: 0x14, messageId: 0x0, nth: 1 },
        action: { kind: 'late-reply', ms: 45 },
      });
      const x = settle(agent.transact(0x14, 0x0));
      await r.clock.advance(31);
      expect(await x).toBeInstanceOf(ScmiTimeoutError);
      const removing = agent.remove();
      await r.clock.runTasks();
      await removing;
      const repliesBefore = r.platformRang.get(1) ?? 0;
      await r.clock.advance(20); // the reply lands at 45 ms and rings tx_reply
      expect(r.platformRang.get(1)).toBe(repliesBefore + 1);
      const report = defined(r.wire.monitor.channel('a2p:0'));
      expect(report.ignoredRings).toBe(1); // dropped on the reply channel, and seen dropped
      expect(report.counters.refusedAfterQuiesce + report.counters.lateReplies).toBe(1);
      expect(r.wire.monitor.violations).toEqual([]);
      r.close();
    });

    it('should free tx when tx_reply cannot be requested, and fail the probe with the mailbox error', async () => {
      const r = createRig([{ shmem: [0], mboxes: 2 }]);
      const squatter = r.mailbox.controller.requestChannel(1, { rxCallback: () => undefined });
      expect(await settle(r.create())).toMatchObject({ code: 'E_MBOX_BUSY' });
      // tx was requested, then freed before the error went up (Linux mailbox_chan_setup keeps it).
      expect(r.mailbox.controller.stats).toEqual({ requested: 2, freed: 1, inUse: 1 });
      expect(
        codeOf(() => r.mailbox.controller.requestChannel(0, { rxCallback: () => undefined })),
      ).toBe('E_MBOX_FREED');
      squatter.free();
      r.close();
    });
  });

  describe('having 4 mbox / 2 shmem (tx, tx_reply, rx, rx_reply)', () => {
    it('should take posts from rx and acknowledge each on rx_reply, never ringing rx', async () => {
      // The storm's posts are each written when the agent's acknowledgement on rx_reply says the
      // area is free again.
      const { r, agent } = await deliverLevelStorm([{ shmem: [0, 0], mboxes: 4 }]);
      const posted = r.responder.counters.p2aPosted;
      const a2p = channelStats(agent, 'a2p:0');
      const p2a = channelStats(agent, 'p2a:0');
      expect([p2a.notifications, p2a.delayedResponses]).toEqual([13, 1]);
      expect(p2a.badMessages).toEqual(NO_BAD_MESSAGES);
      // Commands on tx, acknowledgements on rx_reply; replies on tx_reply, posts on rx.
      expect(byIndex(r.agentRang)).toEqual({ 0: a2p.sent, 3: posted });
      expect(byIndex(r.platformRang)).toEqual({ 1: a2p.sent, 2: posted });
      await agent.remove();
      expect(r.mailbox.controller.stats).toEqual({ requested: 4, freed: 4, inUse: 0 });
      r.close();
    });

    it('should request the A2P mailbox channels as a client that knows TX completion, the P2A ones as one that does not', async () => {
      // Linux mailbox_chan_setup: cl->knows_txdone = tx. On a polled controller that makes the A2P
      // channels TXDONE_BY_ACK (completed by mark_txdone) and leaves the P2A ones polled; an irq
      // controller keeps irq for all (mbox_request_channel).
      for (const [method, expected] of [
        ['poll', ['ack', 'ack', 'poll', 'poll']],
        ['irq', ['irq', 'irq', 'irq', 'irq']],
      ] as const) {
        const r = createRig([{ shmem: [0, 0], mboxes: 4 }], true, method);
        const agent = await r.create();
        expect(r.handed.map((c) => [c.index, c.txDoneMethod])).toEqual(
          expected.map((m, i) => [i, m]),
        );
        await exerciseP2a(agent); // acknowledgements complete on the polled rx_reply too
        await r.clock.runUntilIdle();
        expect(r.handed.every((c) => !c.txActive)).toBe(true);
        await agent.remove();
        r.close();
      }
    });

    it('should take a node whose two shmem have different ids, with 4 or 3 mboxes', async () => {
      for (const mboxes of [4, 3] as const) {
        const r = createRig([{ shmem: [0, 1], mboxes }]);
        expect(r.mailbox.platformEnd.layout.channels).toMatchObject([
          { direction: 'a2p', id: 0, mailbox: 0, replyMailbox: 1 },
          { direction: 'p2a', id: 1, mailbox: 2, ackMailbox: mboxes === 4 ? 3 : 'none' },
        ]);
        const agent = await r.create({ p2a: [{ id: 1 }] });
        await subscribeLevels(agent);
        await exerciseP2a(agent);
        const p2a = channelStats(agent, 'p2a:1');
        expect([p2a.notifications, p2a.delayedResponses]).toEqual([3, 1]);
        expect(byIndex(r.platformRang)).toMatchObject({ 2: 4 });
        await agent.remove();
        r.close();
      }
    });

    it('should count a ring on rx_reply with nothing posted as spurious', async () => {
      const r = createRig([{ shmem: [0, 0], mboxes: 4 }]);
      const agent = await r.create();
      // rx_reply carries the agent's rings only; a hostile platform rings it all the same.
      r.mailbox.platformEnd.remote(3).ring();
      await r.clock.runUntilIdle();
      expect(channelStats(agent, 'p2a:0').badMessages).toEqual({
        ...NO_BAD_MESSAGES,
        spurious: 1,
      });
      expect(r.wire.monitor.channel('p2a:0')?.spurious).toBe(1);
      await agent.remove();
      r.close();
    });
  });

  describe('having 3 mbox / 2 shmem (tx, tx_reply, rx: no acknowledgement channel)', () => {
    it('should deliver every post, the platform leaving INTR_ENABLED clear and polling CHANNEL_FREE, the agent never ringing back', async () => {
      // The storm's posts go one by one as the agent frees the area, which only the responder's
      // CHANNEL_FREE poll sees.
      const { r, agent } = await deliverLevelStorm([{ shmem: [0, 0], mboxes: 3 }]);
      expect(r.responder.armedTimers).toBe(0); // the poll stops once nothing waits
      // No post asked for an acknowledgement (INTR_ENABLED clear): the agent counts one it sees.
      expect(r.wire.monitor.channel('p2a:0')?.acksWithoutMailbox).toBe(0);
      expect(areaOf(r.mailbox.platformEnd.layout, 'p2a').flags() & SMT_FLAG_INTR_ENABLED).toBe(0);
      const a2p = channelStats(agent, 'a2p:0');
      expect(byIndex(r.agentRang)).toEqual({ 0: a2p.sent }); // commands only
      expect(r.platformRang.get(2)).toBe(14);
      await agent.remove();
      r.close();
    });

    it('should have the responder poll CHANNEL_FREE only while a post waits, for as long as the area stays busy, until it closes', async () => {
      const r = createRig([{ shmem: [0, 0], mboxes: 3 }], false);
      const created = r.create();
      await r.clock.runUntilIdle();
      const agent = await created;
      const subscribed = subscribeLevels(agent);
      await r.clock.runUntilIdle();
      const levels = await subscribed;
      expect(r.responder.armedTimers).toBe(0); // nothing waits: no poll
      // The area stays the agent's (as after an agent removed with a message in it): a post waits.
      const area = areaOf(r.mailbox.platformEnd.layout, 'p2a');
      area.setStatus(0);
      const set = agent.transact(
        0x13,
        PerformanceMessageId.LEVEL_SET,
        (w) => w.u32(0).u32(400_000),
        {
          txSize: 8,
        },
      );
      await r.clock.advance(50);
      await set;
      expect(r.responder.counters.p2aQueued).toBe(1);
      expect(r.responder.armedTimers).toBe(1); // polled every millisecond, still armed after 50
      expect(levels).toEqual([]);
      // Freed: the next poll posts it, and the poll stops.
      area.setStatus(SMT_CHANNEL_FREE);
      await r.clock.advance(2);
      expect(levels).toEqual([400_000]);
      expect(r.responder.armedTimers).toBe(0);
      // Busy again, a post waiting: closing the responder cancels the poll.
      area.setStatus(0);
      const again = agent.transact(
        0x13,
        PerformanceMessageId.LEVEL_SET,
        (w) => w.u32(0).u32(800_000),
        {
          txSize: 8,
        },
      );
      await r.clock.advance(10);
      await again;
      expect(r.responder.armedTimers).toBe(1);
      r.responder.close();
      expect(r.responder.armedTimers).toBe(0);
      area.setStatus(SMT_CHANNEL_FREE);
      const removed = agent.remove();
      await r.clock.runUntilIdle();
      await removed;
      r.close();
    });

    it('should free the area without ringing, and count it, when a platform asks for an acknowledgement no channel can carry', async () => {
      const r = createRig([{ shmem: [0, 0], mboxes: 3 }]);
      const agent = await r.create();
      const levels = await subscribeLevels(agent);
      const sentBefore = byIndex(r.agentRang);
      // A hand-written notification asking for a doorbell back (INTR_ENABLED), rung on rx.
      const area = areaOf(r.mailbox.platformEnd.layout, 'p2a');
      area.setStatus(0);
      area.setFlags(SMT_FLAG_INTR_ENABLED);
      area.setHeader(buildHeader(0x1, ScmiMessageType.NOTIFICATION, 0x13, 0));
      area.writePayload(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x42, 0x0f, 0]), 0, 12);
      area.setLength(16);
      r.mailbox.platformEnd.remote(2).ring();
      await r.clock.runUntilIdle();
      expect(levels).toEqual([1_000_000]);
      expect(area.status()).toBe(SMT_CHANNEL_FREE);
      expect(byIndex(r.agentRang)).toEqual(sentBefore); // nothing rang
      expect(r.wire.monitor.channel('p2a:0')?.acksWithoutMailbox).toBe(1);
      await agent.remove();
      r.close();
    });
  });

  describe('having a platform that asks for acknowledgements and never takes them', () => {
    it('should free the area all the same and count each acknowledgement the full mailbox queue refused', async () => {
      const r = createRig([{ shmem: [0, 0], mboxes: 4 }]);
      const agent = await r.create();
      const levels = await subscribeLevels(agent);
      // Nobody takes the rings on rx_reply: on this irq wire each stays in the mailbox queue.
      r.mailbox.platformEnd.remote(3).close();
      const area = areaOf(r.mailbox.platformEnd.layout, 'p2a');
      const posts = MBOX_TX_QUEUE_LEN + 3;
      for (let i = 0; i < posts; i++) {
        area.setStatus(0);
        area.setFlags(SMT_FLAG_INTR_ENABLED);
        area.setHeader(buildHeader(0x1, ScmiMessageType.NOTIFICATION, 0x13, i & 0x3ff));
        area.writePayload(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x42, 0x0f, 0]), 0, 12);
        area.setLength(16);
        r.mailbox.platformEnd.remote(2).ring();
        await r.clock.runUntilIdle();
        expect(area.status()).toBe(SMT_CHANNEL_FREE);
      }
      expect(levels).toHaveLength(posts);
      // One ring active, MBOX_TX_QUEUE_LEN queued behind it, the rest refused and counted.
      expect(r.wire.monitor.channel('p2a:0')?.ackFailures).toBe(posts - 1 - MBOX_TX_QUEUE_LEN);
      await agent.remove();
      r.close();
    });
  });

  describe('having a hand-built layout Linux refuses', () => {
    it('should have the responder refuse it with an ScmiConfigError naming the field, before connecting', () => {
      const clock = new VirtualClock();
      const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
      const { platformEnd } = createSameThreadMailboxWire(clock, {
        nodes: [{ shmem: [0, 0], mboxes: 4 }],
      });
      const [a2p, p2a] = platformEnd.layout.channels;
      // The P2A acknowledgement on the A2P reply's mailbox channel: one mailbox channel, two roles.
      const end = {
        layout: {
          ...platformEnd.layout,
          channels: [defined(a2p), { ...defined(p2a), ackMailbox: 1 }],
        },
        remote: (index: number) => platformEnd.remote(index),
      };
      let refused: unknown;
      try {
        new SmtResponder({ platform, agentId: 1, end, clock });
      } catch (e) {
        refused = e;
      }
      expect(refused).toBeInstanceOf(ScmiConfigError);
      expect((refused as ScmiConfigError).field).toBe('end.layout.channels[1].ackMailbox');
      expect(platform.connectedAgents).toEqual([]);
      expect(platformEnd.remote(0).closed).toBe(false);
      platform.close();
    });

    it('should have the responder refuse a hole, a channel that is not an object, or an unknown key, naming it, before connecting', () => {
      const clock = new VirtualClock();
      const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
      const { platformEnd } = createSameThreadMailboxWire(clock, {
        nodes: [{ shmem: [0, 0], mboxes: 4 }],
      });
      const [a2p, p2a] = [
        defined(platformEnd.layout.channels[0]),
        defined(platformEnd.layout.channels[1]),
      ];
      const { replyMailbox, ...bidirectional } = a2p;
      const refusal = (channels: unknown[]): unknown => {
        const end = {
          layout: { ...platformEnd.layout, channels: channels as never },
          remote: (index: number) => platformEnd.remote(index),
        };
        try {
          new SmtResponder({ platform, agentId: 1, end, clock }).close();
        } catch (e) {
          return ScmiConfigError.is(e) ? e.field : e;
        }
        return undefined;
      };
      // eslint-disable-next-line no-sparse-arrays
      expect(refusal([, a2p, p2a])).toBe('end.layout.channels[0]');
      // eslint-disable-next-line no-sparse-arrays
      expect(refusal([a2p, , p2a])).toBe('end.layout.channels[1]');
      expect(refusal([a2p, null])).toBe('end.layout.channels[1]');
      // The platform would ring the reply on tx, where the agent does not listen for it.
      expect(refusal([{ ...bidirectional, replymailbox: replyMailbox }, p2a])).toBe(
        'end.layout.channels[0].replymailbox',
      );
      expect(platform.connectedAgents).toEqual([]);
      expect(refusal([a2p, p2a])).toBeUndefined();
      expect(platform.connectedAgents).toEqual([]); // closed again
      platform.close();
    });

    it('should have the agent refuse a misspelt replyMailbox, naming it, rather than take the channel for bidirectional', async () => {
      const r = createRig([{ shmem: [0], mboxes: 2 }]);
      const [a2p] = r.wire.layout.channels;
      const { replyMailbox, ...rest } = defined(a2p);
      const layout = { ...r.wire.layout, channels: [{ ...rest, replymailbox: replyMailbox }] };
      const error = await settle(r.create({ transportConfig: { wire: { ...r.wire, layout } } }));
      expect(ScmiConfigError.is(error) && error.field).toBe(
        'transportConfig.wire.layout.channels[0].replymailbox',
      );
      expect(r.handed).toEqual([]);
      const agent = await r.create();
      await agent.remove();
      r.close();
    });
  });

  describe('in worker mode', () => {
    let host: WorkerHost | undefined;
    const container = new Container();
    container.load(coreModule, mailboxTransportModule);

    beforeAll(async () => {
      const data: MailboxWorkerData = { platformConfig: createDefaultPlatformConfig(), seed: 3 };
      host = await startWorker({
        entry: resolveWorkerEntry(join(__dirname, 'support'), 'mailbox-worker'),
        data,
        name: 'mailbox-layouts-platform',
      });
    });

    afterAll(async () => {
      await host?.stop();
    });

    it.each([
      ['2 mbox / 1 shmem', [{ shmem: [0], mboxes: 2 }], false],
      ['3 mbox / 2 shmem', [{ shmem: [0, 0], mboxes: 3 }], true],
      ['4 mbox / 2 shmem', [{ shmem: [0, 0], mboxes: 4 }], true],
    ] as const)(
      'should carry commands, notifications and delayed responses over %s, and tear down clean',
      async (_name, nodes, p2a) => {
        const smt = await openSmtWorkerWire(defined(host), { agentId: 1, nodes: [...nodes] });
        try {
          const agent = await createAgent(container, {
            transport: 'mailbox',
            rxTimeoutMs: 1000, // real time on a possibly loaded machine
            transportConfig: { wire: smt.wire, freeWaitMs: 4000 },
          });
          try {
            const work = Array.from({ length: 100 }, (_, i) =>
              agent.transact(i % 2 === 0 ? 0x10 : 0x14, 0x0),
            );
            expect(await Promise.all(work)).toHaveLength(100);
            if (p2a) {
              let all!: () => void;
              const got = new Promise<void>((resolve) => {
                all = resolve;
              });
              const levels = await subscribeLevels(agent, (seen) => {
                if (seen.length === 3) all();
              });
              await exerciseP2a(agent);
              await got;
              expect(levels).toEqual([400_000, 800_000, 1_800_000]);
              expect(channelStats(agent, 'p2a:0').delayedResponses).toBe(1);
            }
            const a2p = channelStats(agent, 'a2p:0');
            expect(a2p.completed).toBe(a2p.sent);
            expect(a2p.timeouts + a2p.failed).toBe(0);
            expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
          } finally {
            await agent.remove();
          }
          expect(smt.wire.monitor.violations).toEqual([]);
          expect(smt.wire.controller.stats.inUse).toBe(0);
          expect(smt.wire.monitor.channel('p2a:0')?.acksWithoutMailbox ?? 0).toBe(0);
        } finally {
          const stats = await smt.close();
          expect(stats?.counters.p2aRefused).toBe(0);
          expect(stats?.counters.p2aPosted).toBe(p2a ? 4 : 0);
        }
      },
    );
  });
});
