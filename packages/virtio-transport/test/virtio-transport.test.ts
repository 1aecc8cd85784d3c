import {
  CLOCK,
  ScmiConfigError,
  ScmiShutdownError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  readU32,
  type ChannelStats,
  type Clock,
  type ScmiAgent,
  type ScmiNotification,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { BaseMessageId, ClockMessageId } from '@scmi-ts/platform';
import {
  DriverVirtqueue,
  GuestMemoryAllocator,
  SplitRing,
  VirtioFeature,
  featureMask,
  type VirtioWireDoorbells,
} from '@scmi-ts/virtio-transport';
import { createVirtioHarness, type VirtioHarness } from './support/harness.js';

const BASE = 0x10;
const CLOCK_PROTOCOL = 0x14;

function stats(agent: ScmiAgent, label: string): ChannelStats {
  const c = agent.diagnostics.channels.find((ch) => ch.label === label);
  if (c === undefined) throw new Error(`no channel ${label}`);
  return c.stats;
}

/**
 * A one-slot polling cmdq whose first DISCOVER_VENDOR timed out, its reply now in the used ring
 * where nothing polls it.
 */
async function pollingAfterLateVendor(): Promise<{ h: VirtioHarness; agent: ScmiAgent }> {
  const h = createVirtioHarness({ wire: { cmdqSize: 2, eventqSize: 4 } });
  const agent = await h.create({ maxMsg: 1, a2p: [{ id: 0, polling: true }] });
  h.platform.faults.add({
    match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 },
    action: { kind: 'late-reply', ms: 50 },
  });
  await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiTimeoutError);
  await h.clock.advance(50);
  return { h, agent };
}

/** Removes the agent, closes both ends, and checks what every test must leave behind. */
async function finish(h: VirtioHarness, agent?: ScmiAgent): Promise<void> {
  await agent?.remove();
  await h.shutdown();
  const d = h.wire.driverDiagnostics;
  expect(d.violations).toEqual([]);
  expect(d.buffersAllocated).toBe(0);
  expect(d.leakedBuffers).toBe(0);
  for (const record of d.channels.values()) expect(record.frees).toBe(1);
  expect(h.clock.armedTimers).toBe(0);
  expect(h.platform.armedTimers).toBe(0);
}

function rateSet(async: boolean, rate: number) {
  return (w: { u32(v: number): unknown }): void => {
    w.u32(async ? 1 : 0);
    w.u32(0);
    w.u32(rate);
    w.u32(0);
  };
}

describe('virtio transport (same thread)', () => {
  ensureNoLeaksInSuite();

  describe('when the device answers', () => {
    it('should probe, discover the platform and remove: channels quiesce, then the device resets, then everything is released', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      expect(agent.info.vendor).toBe('scmi-ts');
      expect(agent.info.protocols).toEqual([0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17]);
      expect(await agent.base.discoverVendor()).toBe('scmi-ts');
      expect(h.wire.driverDiagnostics.state).toBe('live');
      expect(h.wire.driverDiagnostics.features).toBe(
        featureMask(VirtioFeature.VERSION_1) |
          featureMask(VirtioFeature.SCMI_P2A_CHANNELS) |
          featureMask(VirtioFeature.RING_EVENT_IDX),
      );
      await finish(h, agent);
      const steps = h.log.filter('quiesce', 'release').map((e) => `${e.type} ${e.resource}`);
      expect(steps.filter((s) => /channel|virtio/.test(s))).toEqual([
        'quiesce channel p2a:0',
        'quiesce channel a2p:0',
        'quiesce virtio device',
        'release channel p2a:0',
        'release channel a2p:0',
        'release virtio device',
      ]);
      expect(h.wire.driverDiagnostics.state).toBe('closed');
      expect(h.device.stats.resets).toBe(2); // the handshake's and the teardown's
    });

    it.each([
      ['in-order', false],
      ['shuffle', false],
      ['reverse', true],
    ] as const)(
      'should carry many commands in flight at once, completed %s (EVENT_IDX off: %p)',
      async (completion, noEventIdx) => {
        const h = createVirtioHarness({
          device: { completion, seed: 11 },
          transportConfig: { features: { eventIdx: !noEventIdx } },
        });
        const agent = await h.create();
        // The order the commands (sent in index order) complete in.
        const completed: number[] = [];
        const replies = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            (i % 2 === 0 ? agent.base.discoverVendor() : agent.base.discoverSubVendor()).then(
              (reply) => {
                completed.push(i);
                return reply;
              },
            ),
          ),
        );
        expect(replies.filter((r) => r === 'scmi-ts')).toHaveLength(100);
        expect(replies.filter((r) => r === 'emulated')).toHaveLength(100);
        const sent = Array.from({ length: 200 }, (_, i) => i);
        expect([...completed].sort((a, b) => a - b)).toEqual(sent);
        // A command completes before one sent earlier only when the device answered out of order.
        const overtakes = completed.filter((c, k) => k > 0 && c < (completed[k - 1] as number));
        if (completion === 'in-order') expect(completed).toEqual(sent);
        else expect(overtakes.length).toBeGreaterThan(0);
        // Reversed, the device's first pass (every command available then) comes back last first.
        if (completion === 'reverse') expect(completed[0]).toBeGreaterThan(completed[1] as number);
        const a2p = stats(agent, 'a2p:0');
        expect(a2p.completed).toBe(a2p.sent);
        expect(a2p.badMessages.invalid + a2p.badMessages.unexpected).toBe(0);
        await finish(h, agent);
      },
    );

    it.each([
      [true, 1],
      [false, 2],
    ])(
      'should notify the device for the first command of a burst and once for the rest (EVENT_IDX: %p)',
      async (eventIdx, rings) => {
        const h = createVirtioHarness({ transportConfig: { features: { eventIdx } } });
        const claim = jest.spyOn(h.wire, 'claimDriverEnd');
        const agent = await h.create();
        const notify = (claim.mock.results[0]?.value as VirtioWireDoorbells).notify;
        const ring = jest.spyOn(notify, 'ring');
        const commands = h.device.stats.commands;
        const replies = await Promise.all(
          Array.from({ length: 16 }, () => agent.base.discoverVendor()),
        );
        expect(new Set(replies)).toEqual(new Set(['scmi-ts']));
        expect(h.device.stats.commands - commands).toBe(16);
        // Without EVENT_IDX nothing suppresses a notification: one per command unless batched.
        // With it, the device has not run yet when the burst ends: no second notification.
        expect(ring).toHaveBeenCalledTimes(rings);
        ring.mockRestore();
        await finish(h, agent);
      },
    );

    it('should complete by polling, with used-buffer notifications suppressed', async () => {
      const h = createVirtioHarness();
      const agent = await h.create({ a2p: [{ id: 0, polling: true }] });
      const interrupts = h.device.stats.interrupts;
      const replies = await Promise.all(
        Array.from({ length: 40 }, () => agent.base.discoverVendor()),
      );
      expect(new Set(replies)).toEqual(new Set(['scmi-ts']));
      expect(h.device.stats.interrupts).toBe(interrupts);
      await finish(h, agent);
    });

    it('should poll without EVENT_IDX too (NO_INTERRUPT flag)', async () => {
      const h = createVirtioHarness({ transportConfig: { features: { eventIdx: false } } });
      const agent = await h.create({ a2p: [{ id: 0, polling: true }] });
      expect(await agent.base.discoverVendor()).toBe('scmi-ts');
      await finish(h, agent);
    });

    it('should carry more commands than the cmdq holds by waiting for free buffers', async () => {
      const h = createVirtioHarness({ wire: { cmdqSize: 4, eventqSize: 4 } });
      const agent = await h.create({ maxMsg: 8 });
      const replies = await Promise.all(
        Array.from({ length: 30 }, () => agent.base.discoverVendor()),
      );
      expect(replies).toHaveLength(30);
      await finish(h, agent);
    });

    it('should size the transfer pool from the cmdq the agent chose, so no command waits in send for a buffer', async () => {
      // A 256-entry wire and a 16-entry cmdq: 8 slots. A pool sized from the wire (128 transfers)
      // would send 30 commands at once and leave 22 waiting for a slot longer than slotWaitMs.
      const h = createVirtioHarness({
        wire: { cmdqSize: 256, eventqSize: 4 },
        transportConfig: { cmdqSize: 16, slotWaitMs: 5 },
      });
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'delay', ms: 10 },
      });
      const agent = await h.create();
      expect(agent.diagnostics.pool.size).toBe(8);
      expect(agent.diagnostics.channels[0]?.maxInFlight).toBe(8);
      const replies = await Promise.all(
        Array.from({ length: 30 }, () => agent.base.discoverVendor()),
      );
      expect(new Set(replies)).toEqual(new Set(['scmi-ts']));
      await finish(h, agent);
    });

    it('should deliver a delayed response on the eventq and re-queue its buffer', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      const returns = await agent.transact(
        CLOCK_PROTOCOL,
        ClockMessageId.RATE_SET,
        rateSet(true, 400_000_000),
        {
          txSize: 16,
          async: true,
          rxSize: 12,
        },
      );
      expect(readU32(returns, 4)).toBe(400_000_000);
      expect(stats(agent, 'p2a:0').delayedResponses).toBe(1);
      await h.clock.runTasks();
      expect(h.device.eventBuffers).toBe(h.wire.layout.eventqSize);
      await finish(h, agent);
    });

    it('should deliver notifications and re-queue every eventq buffer', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      const seen: ScmiNotification[] = [];
      agent.events.register(CLOCK_PROTOCOL, [
        {
          id: 0,
          name: 'clock-rate-changed',
          setNotifyEnabled: async (source, enable) => {
            await agent.transact(
              CLOCK_PROTOCOL,
              ClockMessageId.RATE_NOTIFY,
              (w) => w.u32(source ?? 0).u32(enable ? 1 : 0),
              { txSize: 8, rxSize: 0 },
            );
          },
        },
      ]);
      const off = await agent.events.subscribe(
        { protocolId: CLOCK_PROTOCOL, eventId: 0, source: 0 },
        (n) => {
          seen.push(n);
        },
      );
      for (let i = 0; i < 40; i++) {
        await agent.transact(
          CLOCK_PROTOCOL,
          ClockMessageId.RATE_SET,
          rateSet(false, (300 + (i % 2) * 100) * 1_000_000),
          {
            txSize: 16,
          },
        );
      }
      await h.clock.runTasks();
      expect(seen).toHaveLength(40);
      expect(seen.every((n) => n.source === 0)).toBe(true);
      expect(h.device.eventBuffers).toBe(h.wire.layout.eventqSize);
      await off();
      await finish(h, agent);
    });

    it('should take a burst of notifications in one drain that asks for the next interrupt once (Linux: virtqueue_disable_cb first)', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'notification-storm', count: 8, protocolId: BASE, messageId: 0 },
      });
      const eventq = h.wire.eventqRing(h.wire.layout.eventqSize);
      const usedEvent = jest.spyOn(SplitRing.prototype, 'storeUsedEvent');
      try {
        const vendor = agent.base.discoverVendor();
        await h.clock.runTasks();
        await expect(vendor).resolves.toBe('scmi-ts');
        expect(h.device.stats.notificationsPosted).toBe(8);
        const p2a = stats(agent, 'p2a:0');
        expect(p2a.notifications + p2a.badMessages.nomem).toBe(8);
        // The eventq's writes: one, after the drain took the eight.
        const onEventq = usedEvent.mock.contexts.filter(
          (ring) => (ring as SplitRing).layout.desc === eventq.layout.desc,
        );
        expect(onEventq).toHaveLength(1);
        expect(eventq.loadUsedEvent()).toBe(eventq.loadUsedIdx());
      } finally {
        usedEvent.mockRestore();
      }
      await finish(h, agent);
    });

    it('should drop notifications the eventq has no buffer for, as the specification allows', async () => {
      const h = createVirtioHarness();
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'notification-storm', count: 50, protocolId: BASE, messageId: 0 },
      });
      const agent = await h.create();
      await h.clock.runTasks();
      const p2a = stats(agent, 'p2a:0');
      expect(h.device.stats.notificationsPosted).toBe(16);
      expect(h.device.stats.notificationsDropped).toBe(34);
      expect(p2a.notifications + p2a.badMessages.nomem).toBe(16);
      expect(h.device.eventBuffers).toBe(16);
      await finish(h, agent);
    });
  });

  describe('without VIRTIO_SCMI_F_P2A_CHANNELS', () => {
    it.each([
      ['the driver does not ask for it', { transportConfig: { features: { p2a: false } } }],
      [
        'the device does not offer it',
        { device: { features: featureMask(VirtioFeature.VERSION_1) } },
      ],
    ])(
      'should run without an eventq when %s: core refuses to wait for a delayed response, and the platform refuses asynchronous commands',
      async (_, options) => {
        const h = createVirtioHarness(options);
        const agent = await h.create();
        expect(agent.diagnostics.channels.map((c) => c.label)).toEqual(['a2p:0']);
        expect(agent.events.available).toBe(false);
        const sent = agent.diagnostics.channels[0]?.stats.sent;
        // `async`: no delayed response can come, so nothing is sent.
        await expect(
          agent.transact(CLOCK_PROTOCOL, ClockMessageId.RATE_SET, rateSet(true, 400_000_000), {
            txSize: 16,
            async: true,
          }),
        ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
        expect(agent.diagnostics.channels[0]?.stats.sent).toBe(sent);
        // The command's own asynchronous flag, sent without `async`: the platform refuses it.
        await expect(
          agent.transact(CLOCK_PROTOCOL, ClockMessageId.RATE_SET, rateSet(true, 400_000_000), {
            txSize: 16,
          }),
        ).rejects.toMatchObject({ status: ScmiStatus.NOT_SUPPORTED });
        await finish(h, agent);
      },
    );
  });

  describe('when the device fails', () => {
    it.each([
      ['interrupt', false],
      ['polling', true],
    ])(
      'should deliver a response the device returned before its end closed, not fail it (%s mode)',
      async (_mode, polling) => {
        const h = createVirtioHarness({ auto: false });
        const probe = h.create({ rxTimeoutMs: 10_000, a2p: [{ id: 0, polling }] });
        await h.clock.runUntilIdle();
        const agent = await probe;
        const vendor = agent.base.discoverVendor().catch((e: unknown) => e);
        await h.clock.runTasks(); // the device answered: the response is in the used ring
        h.device.close(); // before the driver looked (its poll, or in worker mode its interrupt)
        await h.clock.advance(1);
        expect(await vendor).toBe('scmi-ts');
        const a2p = stats(agent, 'a2p:0');
        expect([a2p.failed, a2p.timeouts, a2p.lateReplies]).toEqual([0, 0, 0]);
        await expect(agent.base.discoverVendor()).rejects.toMatchObject({
          code: 'E_VIRTIO_DEVICE',
        });
        const removing = agent.remove();
        await h.clock.runUntilIdle();
        await removing;
        expect(stats(agent, 'a2p:0').lateReplies).toBe(0);
        expect(h.wire.driverDiagnostics).toMatchObject({ buffersAllocated: 0, leakedBuffers: 0 });
        await h.shutdown();
      },
    );

    it('should fail at once, when the device end closes, the commands in flight and those waiting for their delayed response', async () => {
      const h = createVirtioHarness({ auto: false });
      const probe = h.create({ rxTimeoutMs: 10_000 });
      await h.clock.runUntilIdle();
      const agent = await probe;
      // The platform holds the vendor command and the rate change's delayed response.
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'delay', ms: 5_000 },
      });
      h.platform.faults.add({
        match: { stage: 'delayed-response' },
        action: { kind: 'delay', ms: 5_000 },
      });
      const rate = agent
        .transact(CLOCK_PROTOCOL, ClockMessageId.RATE_SET, rateSet(true, 400_000_000), {
          txSize: 16,
          async: true,
          rxSize: 12,
        })
        .catch((e: unknown) => e);
      const vendor = agent.base.discoverVendor().catch((e: unknown) => e);
      const start = h.clock.now();
      await h.clock.runTasks();
      expect(h.device.outstandingCommands).toBe(1); // the vendor command
      expect(stats(agent, 'a2p:0').completed).toBe(stats(agent, 'a2p:0').sent - 1); // rate: answered
      const outcomes: unknown[] = [];
      void Promise.all([vendor, rate]).then((o) => outcomes.push(...o));
      const told: [string, Error][] = [];
      agent.onLost(({ label, error }) => void told.push([label, error]));
      h.device.close(); // its end closed: nothing will come back
      await h.clock.runTasks();
      expect(h.clock.now()).toBe(start); // no time passed: not a timeout
      expect(told).toEqual([
        ['a2p:0', expect.objectContaining({ code: 'E_VIRTIO_DEVICE' })],
        ['p2a:0', expect.objectContaining({ code: 'E_VIRTIO_DEVICE' })],
      ]); // onLost: each channel once
      expect(outcomes).toEqual([
        expect.objectContaining({ code: 'E_VIRTIO_DEVICE' }),
        expect.objectContaining({ code: 'E_VIRTIO_DEVICE' }),
      ]);
      const a2p = stats(agent, 'a2p:0');
      expect([a2p.failed, a2p.timeouts]).toEqual([2, 0]);
      expect(h.wire.driverDiagnostics.state).toBe('failed');
      // The agent's diagnostics say why each channel is lost.
      expect(agent.diagnostics.channels.map((c) => [c.label, c.lost?.message])).toEqual([
        ['a2p:0', expect.stringContaining('the virtio device is not live')],
        ['p2a:0', expect.stringContaining('the virtio device is not live')],
      ]);
      // A later command fails at once too; removal reclaims everything (the end closed).
      await expect(agent.base.discoverSubVendor()).rejects.toMatchObject({
        code: 'E_VIRTIO_DEVICE',
      });
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      const d = h.wire.driverDiagnostics;
      expect(d.violations).toEqual([]);
      expect(d.buffersAllocated).toBe(0);
      expect(d.leakedBuffers).toBe(0);
      await h.shutdown();
      expect(h.platform.armedTimers).toBe(0);
    });
  });

  describe('when a command times out', () => {
    it.each([
      ['interrupt', false],
      ['polling', true],
    ])(
      'should keep its buffers with the device, drop and count the late reply, then reuse them (%s mode)',
      async (_mode, polling) => {
        const h = createVirtioHarness({ wire: { cmdqSize: 2, eventqSize: 4 } });
        const agent = await h.create({ maxMsg: 1, a2p: [{ id: 0, polling }] });
        h.platform.faults.add({
          match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 },
          action: { kind: 'late-reply', ms: 50 },
        });
        await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiTimeoutError);
        // The only slot is still the device's: the next command waits for it.
        const next = agent.base.discoverSubVendor();
        await h.clock.advance(25);
        expect(h.wire.driverDiagnostics.lateReturns).toBe(1);
        expect(await next).toBe('emulated');
        expect(stats(agent, 'a2p:0').lateReplies).toBe(1);
        await finish(h, agent);
      },
    );

    it('should, polling, not keep a slot for a command whose wait for one failed (the clock could not arm its poll)', async () => {
      const h = createVirtioHarness({ wire: { cmdqSize: 2, eventqSize: 4 } });
      let failPoll = false;
      const clock: Clock = {
        now: () => h.clock.now(),
        schedule: (cb) => {
          h.clock.schedule(cb);
        },
        yield: () => h.clock.yield(),
        setTimeout: (cb, ms) => {
          if (failPoll && ms === 1) {
            failPoll = false;
            throw new Error('the clock failed');
          }
          return h.clock.setTimeout(cb, ms);
        },
      };
      h.container.rebind(CLOCK).toConstantValue(clock);
      const agent = await h.create({ maxMsg: 2, a2p: [{ id: 0, polling: true }] });
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 },
        action: { kind: 'delay', ms: 10 },
      });
      const first = agent.base.discoverVendor(); // the only slot, for 10 ms
      await Promise.resolve();
      failPoll = true; // the 1 ms slot poll of the command that waits for the slot
      const second = agent.base.discoverSubVendor().then(
        () => 'sent',
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      expect(await first).toBe('scmi-ts');
      expect(await second).toMatch(/send on a2p:0 failed/); // core's E_SEND, the clock's error its cause
      const commands = h.device.stats.commands;
      // Before the fix the slot went to the failed command, whose command was sent: the next one
      // waited slotWaitMs and failed E_VIRTIO_BUSY, as every later one would.
      expect(await agent.base.discoverVendor()).toBe('scmi-ts');
      expect(h.device.stats.commands - commands).toBe(1);
      await finish(h, agent);
    });

    it('should, polling, count the late reply that no later command looks for when the channel quiesces', async () => {
      const { h, agent } = await pollingAfterLateVendor();
      expect(stats(agent, 'a2p:0').lateReplies).toBe(0);
      await agent.remove();
      const d = h.wire.driverDiagnostics;
      expect(d.channels.get('a2p:0')?.counters.lateReplies).toBe(1);
      expect([d.lateReturns, d.unreadAtReset]).toEqual([1, 0]);
      await finish(h);
    });

    it.each([0, 1, 2, 3])(
      'should, polling, count once the reply the device returned for a command that removal failed (removal %i task(s) after the return)',
      async (tasks) => {
        const h = createVirtioHarness({ wire: { cmdqSize: 2, eventqSize: 4 } });
        const agent = await h.create({ maxMsg: 1, a2p: [{ id: 0, polling: true }] });
        h.platform.faults.add({
          match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 },
          action: { kind: 'delay', ms: 10 },
        });
        const vendor = agent.base.discoverVendor().then(
          () => 'answered',
          (e: unknown) => (e instanceof ScmiShutdownError ? 'shut down' : String(e)),
        );
        // Removal starts just after the device returns the buffer (its 10 ms timer armed after
        // the platform's), `tasks` tasks later: before or after the command's poll looks.
        let removing: Promise<void> | undefined;
        const removeAfter = (n: number): void => {
          if (n === 0) removing = agent.remove();
          else h.clock.schedule(() => removeAfter(n - 1));
        };
        const deferred = h.device.stats.deferred;
        const whenDeferred = (): void => {
          if (h.device.stats.deferred > deferred) h.clock.setTimeout(() => removeAfter(tasks), 10);
          else h.clock.schedule(whenDeferred);
        };
        h.clock.schedule(whenDeferred);
        const outcome = await vendor;
        await h.clock.advance(5);
        await removing;
        const d = h.wire.driverDiagnostics;
        const c = d.channels.get('a2p:0')?.counters.snapshot();
        const counted = (c?.lateReplies ?? 0) + (c?.refusedAfterQuiesce ?? 0) + d.unreadAtReset;
        expect(counted).toBe(outcome === 'shut down' ? 1 : 0);
        await finish(h);
      },
    );

    it('should, polling, take back a buffer the device returned before the next command', async () => {
      const { h, agent } = await pollingAfterLateVendor();
      expect(h.wire.driverDiagnostics.lateReturns).toBe(0);
      const now = h.clock.now();
      expect(await agent.base.discoverSubVendor()).toBe('emulated');
      expect(h.clock.now() - now).toBeLessThan(1); // no wait for the buffer
      expect(h.wire.driverDiagnostics.lateReturns).toBe(1);
      expect(stats(agent, 'a2p:0').lateReplies).toBe(1);
      await finish(h, agent);
    });

    it.each([
      ['an unknown message type', 'corrupt-type', 'unknown'],
      ['a cut header', 'truncate', 'invalid'],
    ] as const)(
      'should take back a late buffer holding %s, counting it as what it is, not as a late reply',
      async (_what, kind, reason) => {
        const h = createVirtioHarness({ wire: { cmdqSize: 2, eventqSize: 4 } });
        const agent = await h.create({ maxMsg: 1 });
        const match = { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 };
        h.platform.faults.add({ match, action: { kind: 'late-reply', ms: 50 } });
        h.platform.faults.add({
          match,
          action: kind === 'truncate' ? { kind, length: 4 } : { kind },
        });
        await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiTimeoutError);
        const next = agent.base.discoverSubVendor();
        await h.clock.advance(25);
        expect(await next).toBe('emulated');
        expect(h.wire.driverDiagnostics.lateReturns).toBe(1);
        const s = stats(agent, 'a2p:0');
        expect(s.lateReplies).toBe(0);
        expect(s.badMessages[reason]).toBe(1);
        await finish(h, agent);
      },
    );

    it('should reclaim the buffers of a dropped reply exactly once, after the reset', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'drop' },
      });
      const failures = await Promise.allSettled([
        agent.base.discoverVendor(),
        agent.base.discoverVendor(),
      ]);
      expect(
        failures.every((f) => f.status === 'rejected' && f.reason instanceof ScmiTimeoutError),
      ).toBe(true);
      expect(h.device.outstandingCommands).toBe(2);
      await finish(h, agent);
      const d = h.wire.driverDiagnostics;
      // In virtio buffers: one per cmdq message (request and response), one per eventq entry.
      expect(d.reclaimedBuffers).toBe(2 + h.wire.layout.eventqSize);
      expect(d.channels.get('a2p:0')?.buffersFreed).toBe(h.wire.layout.cmdqSize / 2);
      expect(d.channels.get('p2a:0')?.buffersFreed).toBe(h.wire.layout.eventqSize);
    });

    it('should fail with E_VIRTIO_BUSY when every buffer stays with the device', async () => {
      const h = createVirtioHarness({
        wire: { cmdqSize: 2, eventqSize: 4 },
        transportConfig: { slotWaitMs: 100 },
      });
      const agent = await h.create({ maxMsg: 2 });
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'drop' },
      });
      await expect(agent.base.discoverVendor()).rejects.toBeInstanceOf(ScmiTimeoutError);
      await expect(agent.base.discoverSubVendor()).rejects.toMatchObject({ code: 'E_VIRTIO_BUSY' });
      await finish(h, agent);
    });
  });

  it('should work on a wire past 2 GiB, its buffers at addresses from 2^31 up', async () => {
    const high = 2 ** 31;
    // The driver's first allocation fills guest memory below 2^31 (not in its diagnostics): every
    // buffer it allocates then lies above, where a signed shift of an address turns negative.
    const allocate = Object.getOwnPropertyDescriptor(GuestMemoryAllocator.prototype, 'allocate')
      ?.value as (this: GuestMemoryAllocator, size: number) => number;
    const filled = new WeakSet<GuestMemoryAllocator>();
    const addresses: number[] = [];
    const spy = jest.spyOn(GuestMemoryAllocator.prototype, 'allocate').mockImplementation(function (
      this: GuestMemoryAllocator,
      size: number,
    ) {
      if (!filled.has(this)) {
        filled.add(this);
        allocate.call(this, high - this.start);
      }
      const addr = allocate.call(this, size);
      addresses.push(addr);
      return addr;
    });
    try {
      const h = createVirtioHarness({
        wire: { cmdqSize: 8, eventqSize: 4, guestMemoryBytes: high + 64 * 1024 },
      });
      expect(h.wire.sab.byteLength).toBeGreaterThan(high);
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'notification-storm', count: 1, protocolId: BASE, messageId: 0 },
      });
      const agent = await h.create({ maxMsg: 4 });
      expect(Math.min(...addresses)).toBeGreaterThanOrEqual(high);
      expect(await agent.base.discoverVendor()).toBe('scmi-ts');
      expect(await agent.base.discoverVendor()).toBe('scmi-ts');
      await h.clock.runTasks();
      const p2a = stats(agent, 'p2a:0');
      // One notification per DISCOVER_VENDOR: the probe's and these two.
      expect(p2a.notifications + p2a.badMessages.nomem).toBe(3);
      expect(p2a.badMessages.invalid + p2a.badMessages.oversize).toBe(0);
      await finish(h, agent);
    } finally {
      spy.mockRestore();
    }
  });

  it('should never send a command waiting for a slot once shutdown failed its transfer', async () => {
    const h = createVirtioHarness({ auto: false, wire: { cmdqSize: 2, eventqSize: 4 } });
    const probe = h.create({ maxMsg: 3, rxTimeoutMs: 10_000, a2p: [{ id: 0, polling: true }] });
    await h.clock.runUntilIdle();
    const agent = await probe;
    // Polling, one slot: A is answered, and the send of C takes A's buffer back (a drain outside
    // A's poll) — A's slot is back, its reply not yet taken by A's next poll. B and C wait.
    const a = agent.base.discoverVendor().catch((e: unknown) => e);
    const b = agent.base.discoverSubVendor().catch((e: unknown) => e);
    await h.clock.runTasks(); // no time passes: the device answers A, nothing polls yet
    const c = agent.base.discoverImplementationVersion().catch((e: unknown) => e);
    await h.clock.runTasks();
    const commands = h.device.stats.commands;
    // Shutdown fails A, B and C; A's end frees its slot before the cmdq quiesces: B must not
    // take it (nor C) — nothing is made available from now on.
    const publish = jest.spyOn(DriverVirtqueue.prototype, 'publish');
    try {
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      expect(publish).not.toHaveBeenCalled();
    } finally {
      publish.mockRestore();
    }
    for (const outcome of [await a, await b, await c]) {
      expect(outcome).toBeInstanceOf(ScmiShutdownError);
    }
    expect(h.device.stats.commands).toBe(commands);
    // A's good reply, taken and never delivered: late (its transfer failed first).
    expect(stats(agent, 'a2p:0').lateReplies).toBe(1);
    // Nothing held by the device but the eventq's buffers (B's would be one more, posted).
    expect(h.wire.driverDiagnostics.reclaimedBuffers).toBe(h.wire.layout.eventqSize);
    await finish(h);
  });

  describe('after a drain that took used buffers', () => {
    /**
     * A manual-clock harness with a probed agent (EVENT_IDX negotiated), and at each scheduled task
     * whether the driver had used-buffer notifications off: with EVENT_IDX the avail flags stay 0
     * (VIRTIO 1.2 §2.7.10) and `used_event` is moved far (half the index space) from `used.idx`.
     */
    async function probed(pollAfterDrain?: boolean): Promise<{
      h: VirtioHarness;
      agent: ScmiAgent;
      offAtTask: boolean[];
      flagsAtTask: number[];
    }> {
      const h = createVirtioHarness({
        auto: false,
        ...(pollAfterDrain === undefined ? {} : { transportConfig: { pollAfterDrain } }),
      });
      const probe = h.create();
      await h.clock.runUntilIdle();
      const agent = await probe;
      const ring = h.wire.cmdqRing(h.wire.layout.cmdqSize);
      const offAtTask: boolean[] = [];
      const flagsAtTask: number[] = [];
      const schedule = h.clock.schedule.bind(h.clock);
      h.clock.schedule = (cb: () => void): void => {
        offAtTask.push(interruptsOff(ring));
        flagsAtTask.push(ring.loadAvailFlags());
        schedule(cb);
      };
      return { h, agent, offAtTask, flagsAtTask };
    }

    /** `used_event` about half the index space from `used.idx` (on: at or a few entries behind it). */
    function interruptsOff(ring: SplitRing): boolean {
      const distance = (ring.loadUsedEvent() - ring.loadUsedIdx()) & 0xffff;
      return distance >= 0x4000 && distance <= 0xc000;
    }

    /** Removes the agent on the manual clock, then checks the teardown (see `finish`). */
    async function removeAndFinish(h: VirtioHarness, agent: ScmiAgent): Promise<void> {
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      await finish(h);
    }

    it('should enable interrupts again at once on a same-thread wire (no look scheduled)', async () => {
      const { h, agent, offAtTask, flagsAtTask } = await probed();
      const ring = h.wire.cmdqRing(h.wire.layout.cmdqSize);
      const scheduled = offAtTask.length;
      const vendors = Promise.all([agent.base.discoverVendor(), agent.base.discoverVendor()]);
      await h.clock.runTasks();
      await expect(vendors).resolves.toHaveLength(2);
      // Two tasks: the kick that reached the device and the interrupt that reached the driver.
      expect(offAtTask.length - scheduled).toBe(2);
      expect(offAtTask.some((off) => off)).toBe(false);
      expect(flagsAtTask.every((f) => f === 0)).toBe(true);
      expect(ring.loadUsedEvent()).toBe(ring.loadUsedIdx());
      await removeAndFinish(h, agent);
    });

    it('should ask for the next interrupt once per drain, not once per buffer taken (Linux: virtqueue_disable_cb first)', async () => {
      const { h, agent } = await probed();
      const ring = h.wire.cmdqRing(h.wire.layout.cmdqSize);
      const usedEvent = jest.spyOn(SplitRing.prototype, 'storeUsedEvent');
      try {
        const used = ring.loadUsedIdx();
        const vendors = Promise.all([1, 2, 3, 4].map(() => agent.base.discoverVendor()));
        await h.clock.runTasks();
        await expect(vendors).resolves.toHaveLength(4);
        // One pass of the device answered the four; one drain took them and then asked for an
        // interrupt at the next element: one write of used_event, not one per element.
        expect(ring.loadUsedIdx()).toBe((used + 4) & 0xffff);
        expect(usedEvent.mock.calls).toEqual([[ring.loadUsedIdx()]]);
      } finally {
        usedEvent.mockRestore();
      }
      await removeAndFinish(h, agent);
    });

    it('should, with pollAfterDrain, look again in a task with interrupts disabled, then enable them when the cmdq is empty', async () => {
      const { h, agent, offAtTask, flagsAtTask } = await probed(true);
      const ring = h.wire.cmdqRing(h.wire.layout.cmdqSize);
      const vendors = Promise.all([agent.base.discoverVendor(), agent.base.discoverVendor()]);
      await h.clock.runTasks();
      await expect(vendors).resolves.toHaveLength(2);
      // The drain that delivered the responses scheduled its next look with interrupts off
      // (used_event moved far; the flags, with EVENT_IDX, left at 0) ...
      expect(offAtTask.some((off) => off)).toBe(true);
      expect(flagsAtTask.every((f) => f === 0)).toBe(true);
      // ... and that look found the cmdq empty: interrupts on again, used_event at used.idx.
      expect(ring.loadAvailFlags()).toBe(0);
      expect(ring.loadUsedEvent()).toBe(ring.loadUsedIdx());
      // A command sent now is still completed by interrupt: no look was scheduled before its
      // response; the tasks are the kick that reached the device and the interrupt (both with
      // interrupts on), then the look the drain that took the response scheduled (interrupts off),
      // which found the cmdq empty and enabled them again.
      const scheduled = offAtTask.length;
      const again = agent.base.discoverVendor();
      await h.clock.runTasks();
      await expect(again).resolves.toBe('scmi-ts');
      expect(offAtTask.slice(scheduled)).toEqual([false, false, true]);
      expect(ring.loadUsedEvent()).toBe(ring.loadUsedIdx());
      await removeAndFinish(h, agent);
    });

    it('should, with pollAfterDrain, leave a look still scheduled when the channel quiesces alone, counting nothing as refused', async () => {
      const { h, agent, offAtTask } = await probed(true);
      const vendor = agent.base.discoverVendor();
      let removing: Promise<void> | undefined;
      const schedule = h.clock.schedule.bind(h.clock);
      h.clock.schedule = (cb: () => void): void => {
        schedule(cb);
        // The drain's look is scheduled (interrupts off): remove the agent before it runs.
        if (removing === undefined && offAtTask[offAtTask.length - 1] === true) {
          removing = agent.remove();
        }
      };
      await h.clock.runTasks();
      await expect(vendor).resolves.toBeDefined();
      expect(removing).toBeDefined();
      await h.clock.runUntilIdle();
      await removing;
      const record = h.wire.driverDiagnostics.channels.get('a2p:0');
      expect(record?.counters.refusedAfterQuiesce).toBe(0);
      await finish(h);
    });
  });

  describe('when the agent is removed with commands in flight', () => {
    it('should fail them with ScmiShutdownError, fail those waiting for a buffer too, and reclaim everything', async () => {
      // Time moves only by hand: the platform's 10 ms delay cannot elapse before the removal.
      const h = createVirtioHarness({ wire: { cmdqSize: 4, eventqSize: 4 }, auto: false });
      const probe = h.create({ maxMsg: 6 });
      await h.clock.runUntilIdle();
      const agent = await probe;
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'delay', ms: 10 },
      });
      const deferredBefore = h.device.stats.deferred;
      const pending = Array.from({ length: 6 }, () => agent.base.discoverVendor());
      const outcomes = Promise.allSettled(pending);
      await h.clock.runTasks();
      // Two commands at the device (two buffers of a 4-entry cmdq), four waiting for a buffer.
      expect(h.device.stats.deferred - deferredBefore).toBe(2);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      const settled = await outcomes;
      expect(
        settled.every((s) => s.status === 'rejected' && s.reason instanceof ScmiShutdownError),
      ).toBe(true);
      await finish(h);
      // The two commands' buffers (the four waiting never had any) and every eventq buffer.
      expect(h.wire.driverDiagnostics.reclaimedBuffers).toBe(2 + h.wire.layout.eventqSize);
    });
  });

  describe('when the device acknowledges the reset late (reset-ack-late)', () => {
    /** An agent with two DISCOVER_VENDOR commands held at the device (answered after 10 ms). */
    async function twoHeld(resetTimeoutMs?: number) {
      const h = createVirtioHarness({ wire: { cmdqSize: 4, eventqSize: 4 }, auto: false });
      const probe = h.create(
        resetTimeoutMs === undefined ? {} : { transportConfig: { wire: h.wire, resetTimeoutMs } },
      );
      await h.clock.runUntilIdle();
      const agent = await probe;
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'delay', ms: 10 },
      });
      const outcomes = Promise.allSettled([
        agent.base.discoverVendor(),
        agent.base.discoverVendor(),
      ]);
      await h.clock.runTasks();
      return { h, agent, outcomes };
    }

    it('should reclaim nothing while the device still serves, though it writes into the buffers it holds, and everything once it acknowledges', async () => {
      const { h, agent, outcomes } = await twoHeld();
      h.device.faults.add({ kind: 'reset-ack-late', ackAfterMs: 20 });
      const resetsBefore = h.device.stats.resets;
      const lateBefore = h.device.stats.lateResponses;
      let removed = false;
      const removing = agent.remove().then(() => (removed = true));
      await h.clock.runTasks();
      const d = h.wire.driverDiagnostics;
      expect(d.state).toBe('resetting');
      await h.clock.advance(10); // the platform answers both: the device writes them back
      expect(h.device.live).toBe(true);
      expect(h.device.stats.resets).toBe(resetsBefore);
      expect(h.device.stats.lateResponses - lateBefore).toBe(2);
      expect([d.reclaimedBuffers, d.leakedBuffers, removed]).toEqual([0, 0, false]);
      await h.clock.advance(10);
      await removing;
      expect(h.device.faults.counts['reset-ack-late']).toBe(1);
      expect(h.device.stats.resets).toBe(resetsBefore + 1);
      expect([d.resetTimeouts, d.reclaimedBuffers]).toEqual([0, 2 + h.wire.layout.eventqSize]);
      expect(
        (await outcomes).every(
          (o) => o.status === 'rejected' && o.reason instanceof ScmiShutdownError,
        ),
      ).toBe(true);
      await finish(h);
    });

    it('should leave its buffers to a device that acknowledges after the driver stopped waiting', async () => {
      const { h, agent, outcomes } = await twoHeld(15);
      h.device.faults.add({ kind: 'reset-ack-late', ackAfterMs: 40 });
      const resetsBefore = h.device.stats.resets;
      const removing = agent.remove();
      await h.clock.advance(15);
      await removing;
      const d = h.wire.driverDiagnostics;
      expect([d.resetTimeouts, d.reclaimedBuffers]).toEqual([1, 0]);
      expect(d.leakedBuffers).toBe(2 + h.wire.layout.eventqSize);
      await outcomes;
      await h.clock.advance(25); // the device resets in the end, on its own
      expect(h.device.stats.resets).toBe(resetsBefore + 1);
      expect(h.device.live).toBe(false);
      await h.shutdown();
      expect(d.violations).toEqual([]);
      expect(h.clock.armedTimers).toBe(0);
    });

    it('should carry out a late reset at probe too: the handshake goes on once it is acknowledged', async () => {
      const h = createVirtioHarness({ auto: false });
      h.device.faults.add({ kind: 'reset-ack-late', ackAfterMs: 5, times: 1 });
      // The probe's first step is a reset: acknowledged 5 ms late, the handshake goes on after it.
      const probe = h.create();
      await h.clock.runTasks();
      expect(h.device.stats.resets).toBe(0);
      await h.clock.advance(5);
      await h.clock.runUntilIdle();
      const agent = await probe;
      expect(h.device.stats.resets).toBe(1);
      expect(h.device.live).toBe(true);
      const vendor = agent.base.discoverVendor();
      await h.clock.runUntilIdle();
      await expect(vendor).resolves.toBe('scmi-ts');
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      await finish(h);
    });

    it('should forget a late reset when the device is closed first', async () => {
      const { h, agent, outcomes } = await twoHeld();
      h.device.faults.add({ kind: 'reset-ack-late', ackAfterMs: 20 });
      const removing = agent.remove();
      await h.clock.runTasks();
      h.device.close(); // the driver reclaims on the closed end, without the acknowledgement
      await h.clock.runTasks();
      await removing;
      await outcomes;
      expect(h.wire.driverDiagnostics.resetTimeouts).toBe(0);
      await finish(h);
    });
  });

  describe('when the device end is closed first', () => {
    it('should fail new commands at once with E_VIRTIO_DEVICE instead of waiting out the RX timeout', async () => {
      const h = createVirtioHarness({ auto: false });
      const probe = h.create({ rxTimeoutMs: 5000 });
      await h.clock.runUntilIdle();
      const agent = await probe;
      const closedAt = h.clock.now();
      h.device.close();
      await h.clock.runTasks();
      expect(h.wire.driverDiagnostics.state).toBe('failed');
      const outcome = agent.base.discoverVendor().catch((e: unknown) => e);
      await h.clock.runTasks();
      expect(await outcome).toMatchObject({ code: 'E_VIRTIO_DEVICE' });
      expect(h.clock.now()).toBe(closedAt);
      const removing = agent.remove();
      await h.clock.runTasks();
      await removing;
      await finish(h);
    });

    it('should reclaim without waiting for a reset acknowledgement', async () => {
      const h = createVirtioHarness({ auto: false });
      const probe = h.create();
      await h.clock.runUntilIdle();
      const agent = await probe;
      h.device.close();
      const removing = agent.remove();
      await h.clock.runTasks();
      await removing;
      expect(h.wire.driverDiagnostics.resetTimeouts).toBe(0);
      await finish(h);
    });
  });

  describe('configuration', () => {
    it('should refuse a second channel in either direction, and a polled eventq, naming the field', async () => {
      const h = createVirtioHarness();
      await expect(
        h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }] }),
      ).rejects.toMatchObject({ field: 'a2p[1].id' });
      await expect(h.create({ p2a: [{ id: 2 }] })).rejects.toMatchObject({ field: 'p2a[0].id' });
      await expect(h.create({ p2a: [{ id: 0, polling: true }] })).rejects.toMatchObject({
        field: 'p2a[0].polling',
        message: /eventq/,
      });
      await h.shutdown();
      expect(h.wire.driverDiagnostics.violations).toEqual([]);
      expect(h.wire.driverDiagnostics.buffersAllocated).toBe(0);
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['a misspelt option', { cmdqsize: 16 }, 'transportConfig.cmdqsize'],
      [
        'a misspelt feature',
        { features: { eventidx: false } },
        'transportConfig.features.eventidx',
      ],
      ['null features', { features: null }, 'transportConfig.features'],
    ])(
      'should refuse %s in transportConfig, naming the field, then probe with the corrected one',
      async (_, extra, field) => {
        const h = createVirtioHarness();
        await expect(
          h.create({ transportConfig: { wire: h.wire, ...extra } }),
        ).rejects.toMatchObject({
          code: 'E_CONFIG',
          field,
        });
        const agent = await h.create(); // the refused section claimed nothing
        await agent.remove();
        await finish(h);
      },
    );

    it('should refuse any channel transport section, null included', async () => {
      const h = createVirtioHarness();
      await expect(
        h.create({ a2p: [{ id: 0, transport: { opteeChannelId: 3 } }] }),
      ).rejects.toMatchObject({ field: 'a2p[0].transport' });
      await expect(h.create({ p2a: [{ id: 0, transport: null }] })).rejects.toMatchObject({
        field: 'p2a[0].transport',
      });
      await h.shutdown();
    });

    it('should lose nothing on a refused configuration: the same wire then probes with a corrected one', async () => {
      const h = createVirtioHarness();
      await expect(
        h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }] }),
      ).rejects.toBeInstanceOf(ScmiConfigError);
      const agent = await h.create(); // not E_VIRTIO_WIRE_CLAIMED: the handshake never ran
      await agent.remove();
      await finish(h);
    });

    it('should refuse a wire that already served a driver', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      await agent.remove();
      await expect(h.create()).rejects.toMatchObject({ code: 'E_VIRTIO_WIRE_CLAIMED' });
      await finish(h);
    });
  });

  describe('when the handshake fails', () => {
    it('should fail the probe with E_VIRTIO_FEATURES when the device lacks VERSION_1, and tear down cleanly', async () => {
      const h = createVirtioHarness({
        device: { features: featureMask(VirtioFeature.SCMI_P2A_CHANNELS) },
      });
      await expect(h.create()).rejects.toMatchObject({ code: 'E_VIRTIO_FEATURES' });
      await finish(h);
      expect(h.wire.driverDiagnostics.state).toBe('closed');
    });

    it('should fail the probe with E_VIRTIO_HANDSHAKE when the device refuses DRIVER_OK', async () => {
      const h = createVirtioHarness();
      const other = h.platform.connect(1, {
        p2a: false,
        maxMsgSize: 128,
        respond: () => undefined,
        post: () => false,
      });
      await expect(h.create()).rejects.toMatchObject({ code: 'E_VIRTIO_HANDSHAKE' });
      other.disconnect();
      await finish(h);
    });

    it('should fail the probe with E_VIRTIO_NO_DEVICE on a wire without a device', async () => {
      const h = createVirtioHarness();
      h.device.close();
      await expect(h.create()).rejects.toMatchObject({ code: 'E_VIRTIO_NO_DEVICE' });
      await finish(h);
    });
  });

  describe('when the device is hostile (wire-level faults)', () => {
    it.each([
      // The bad element comes before the real one, which is never read: the command in flight
      // fails at once (nothing will come back on a cmdq no longer read).
      ['used-id-out-of-range', 'bad-id', 'lost', 1],
      // The bad element comes after the real one: the command completes.
      ['used-id-not-in-flight', 'not-in-flight', 'ok', 0],
      // used.idx runs ahead before the driver takes the real element.
      ['used-idx-jump', 'bad-index', 'lost', 1],
    ] as const)(
      'should break the cmdq on %s (%s): counted once, the command in flight %s, later commands fail at once with E_VIRTIO_DEVICE',
      async (kind, defect, first, held) => {
        // Interrupt mode, then polling mode. A polling driver looks only between its own yields
        // (0.05 ms each on this clock), so there the jump must outlast one.
        for (const polling of [false, true]) {
          await breakCmdq(polling, kind, defect, first, held);
        }
      },
    );

    async function breakCmdq(
      polling: boolean,
      kind: 'used-id-out-of-range' | 'used-id-not-in-flight' | 'used-idx-jump',
      defect: string,
      first: 'ok' | 'lost',
      held: number,
    ): Promise<void> {
      const h = createVirtioHarness();
      const agent = await h.create({ a2p: [{ id: 0, polling }] });
      h.device.faults.add({
        kind,
        times: 1,
        ...(polling && kind === 'used-idx-jump' ? { restoreAfterMs: 1 } : {}),
      });
      const start = h.clock.now();
      const vendor = agent.base.discoverVendor();
      if (first === 'ok') expect(await vendor).toBe('scmi-ts');
      else {
        // At once, naming the defect: not a timeout 30 ms later.
        await expect(vendor).rejects.toMatchObject({
          code: 'E_VIRTIO_DEVICE',
          message: expect.stringContaining(`the cmdq is broken`) as unknown,
        });
        await expect(vendor).rejects.toThrow(defect);
        expect(h.clock.now() - start).toBeLessThan(30);
      }
      expect(stats(agent, 'a2p:0').timeouts).toBe(0);
      const d = h.wire.driverDiagnostics;
      expect(d.channels.get('a2p:0')?.broken).toBe(defect);
      expect(d.brokenVirtqueues).toBe(1);
      const now = h.clock.now();
      const sent = stats(agent, 'a2p:0').sent;
      await expect(agent.base.discoverVendor()).rejects.toMatchObject({
        code: 'E_VIRTIO_DEVICE',
      });
      await expect(agent.base.discoverSubVendor()).rejects.toMatchObject({
        code: 'E_VIRTIO_DEVICE',
      });
      expect(h.clock.now()).toBe(now); // at once: no timeout ran
      const a2p = stats(agent, 'a2p:0');
      expect(a2p.badMessages.invalid).toBe(1);
      expect(a2p.sent).toBe(sent); // never made available
      expect(a2p.failed).toBe(2 + held);
      expect(a2p.timeouts).toBe(0);
      expect(h.device.faults.counts[kind]).toBe(1);
      // The eventq is another virtqueue: it stays sound.
      expect(d.channels.get('p2a:0')?.broken).toBeUndefined();
      await finish(h, agent);
      // The reset still reclaims what the device held, once: the unread command's buffer too.
      expect(d.reclaimedBuffers).toBe(held + h.wire.layout.eventqSize);
    }

    it('should cancel a used-idx-jump restore still pending when the device resets', async () => {
      const h = createVirtioHarness();
      const agent = await h.create({ a2p: [{ id: 0, polling: true }] });
      h.device.faults.add({ kind: 'used-idx-jump', times: 1, restoreAfterMs: 600_000 });
      await expect(agent.base.discoverVendor()).rejects.toMatchObject({ code: 'E_VIRTIO_DEVICE' });
      expect(h.wire.driverDiagnostics.channels.get('a2p:0')?.broken).toBe('bad-index');
      expect(h.clock.armedTimers).toBe(1); // the restore, 10 minutes away
      await finish(h, agent); // asserts no timer is left armed
    });

    it('should fail the commands in flight and those waiting for a cmdq buffer at once when the cmdq breaks', async () => {
      const h = createVirtioHarness({ wire: { cmdqSize: 4, eventqSize: 4 } });
      const agent = await h.create({ maxMsg: 6 });
      h.device.faults.add({ kind: 'used-id-out-of-range', times: 1 });
      // Two commands take the two slots, four wait for one; the first response breaks the cmdq.
      const settled = await Promise.allSettled(
        Array.from({ length: 6 }, () => agent.base.discoverVendor()),
      );
      const reasons = settled.map((s) =>
        s.status === 'rejected' ? (s.reason as { code?: string }) : undefined,
      );
      expect(reasons.map((r) => r?.code)).toEqual(Array(6).fill('E_VIRTIO_DEVICE'));
      expect(stats(agent, 'a2p:0').timeouts).toBe(0);
      await finish(h, agent);
      expect(h.wire.driverDiagnostics.reclaimedBuffers).toBe(2 + h.wire.layout.eventqSize);
    });

    it('should fail a command whose buffer the device withholds behind a bad id, and reclaim that buffer after the reset', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      h.device.faults.add({ kind: 'used-id-out-of-range', times: 1, withhold: true });
      await expect(agent.base.discoverVendor()).rejects.toMatchObject({ code: 'E_VIRTIO_DEVICE' });
      expect(stats(agent, 'a2p:0').badMessages.invalid).toBe(1);
      await expect(agent.base.discoverVendor()).rejects.toMatchObject({ code: 'E_VIRTIO_DEVICE' });
      await finish(h, agent);
      expect(h.wire.driverDiagnostics.reclaimedBuffers).toBe(1 + h.wire.layout.eventqSize);
    });

    it.each([
      ['interrupt', false],
      ['polling', true],
    ])(
      'should reject a used length larger than the buffer without reading it, fail the command at once with COMMS_ERROR (%s) and reuse the buffer',
      async (_mode, polling) => {
        const h = createVirtioHarness({ wire: { cmdqSize: 2, eventqSize: 4 } });
        const agent = await h.create({ maxMsg: 1, a2p: [{ id: 0, polling }] });
        h.device.faults.add({ kind: 'used-len-oversize', times: 1 });
        const before = h.clock.now();
        // The buffer is back: nothing else can come for the command, so it does not wait out
        // its timeout (30 ms).
        await expect(agent.base.discoverVendor()).rejects.toMatchObject({
          status: ScmiStatus.COMMS_ERROR,
        });
        expect(h.clock.now() - before).toBeLessThan(5);
        const a2p = stats(agent, 'a2p:0');
        expect([a2p.badMessages.oversize, a2p.timeouts]).toEqual([1, 0]);
        expect(await agent.base.discoverVendor()).toBe('scmi-ts');
        await finish(h, agent);
      },
    );

    it('should reject an eventq element larger than its buffer and re-queue the buffer', async () => {
      const h = createVirtioHarness();
      h.device.faults.add({ kind: 'event-oversize', nth: 2 });
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR },
        action: { kind: 'notification-storm', count: 3, protocolId: BASE, messageId: 0 },
      });
      const agent = await h.create();
      await h.clock.runTasks();
      const p2a = stats(agent, 'p2a:0');
      expect(p2a.badMessages.oversize).toBe(1);
      expect(p2a.notifications + p2a.badMessages.nomem).toBe(2);
      expect(h.device.eventBuffers).toBe(h.wire.layout.eventqSize);
      await finish(h, agent);
    });

    it('should survive length faults at random, every command completing or failing with COMMS_ERROR, the queues staying sound', async () => {
      const h = createVirtioHarness({ device: { completion: 'shuffle', seed: 5 } });
      const agent = await h.create();
      h.device.faults.add({ kind: 'used-len-oversize', probability: 0.05 });
      h.device.faults.add({ kind: 'event-oversize', probability: 0.05 });
      const settled = await Promise.allSettled(
        Array.from({ length: 400 }, () => agent.base.discoverVendor()),
      );
      const ok = settled.filter((s) => s.status === 'fulfilled').length;
      const refused = settled.filter(
        (s) =>
          s.status === 'rejected' &&
          ScmiStatusError.is(s.reason) &&
          s.reason.status === ScmiStatus.COMMS_ERROR,
      ).length;
      const a2p = stats(agent, 'a2p:0');
      expect(ok + refused).toBe(400);
      expect(refused).toBe(a2p.badMessages.oversize);
      expect(refused).toBeGreaterThan(0);
      expect(a2p.timeouts).toBe(0);
      expect(h.wire.driverDiagnostics.brokenVirtqueues).toBe(0);
      await finish(h, agent);
    });

    it('should survive used-ring faults at random: commands complete until the cmdq breaks, then those in flight and every later one fail at once', async () => {
      const h = createVirtioHarness({ device: { completion: 'shuffle', seed: 5 } });
      const agent = await h.create();
      for (const kind of [
        'used-id-out-of-range',
        'used-id-not-in-flight',
        'used-idx-jump',
      ] as const)
        h.device.faults.add({ kind, probability: 0.05 });
      h.device.faults.add({ kind: 'used-id-out-of-range', probability: 0.02, withhold: true });
      // Core sends in call order (its pool hands transfers out first come, first served).
      const probe = stats(agent, 'a2p:0'); // the probe's commands
      const settled = await Promise.allSettled(
        Array.from({ length: 400 }, () => agent.base.discoverVendor()),
      );
      const outcomes = settled
        .map((s) => {
          if (s.status === 'fulfilled') return 'o';
          if (s.reason instanceof ScmiTimeoutError) return 't';
          return (s.reason as { code?: string }).code === 'E_VIRTIO_DEVICE' ? 'x' : '?';
        })
        .join('');
      // Completed while the cmdq was sound, or failed at once: nothing waits for a timeout. In
      // call order the two mix (the device returns buffers shuffled: the pass that broke the
      // cmdq delivered some responses first), but every command never made available failed.
      expect(outcomes).toMatch(/^[ox]+$/);
      const a2p = stats(agent, 'a2p:0');
      const lost = outcomes.split('x').length - 1;
      expect(a2p.timeouts).toBe(0);
      expect(a2p.failed).toBe(lost);
      const sent = a2p.sent - probe.sent;
      expect(outcomes.slice(sent)).toMatch(/^x+$/);
      // Besides those never sent, the ones in flight when it broke: at most the pool.
      expect(lost - (400 - sent)).toBeGreaterThan(0);
      expect(lost - (400 - sent)).toBeLessThanOrEqual(agent.diagnostics.pool.size);
      expect(a2p.badMessages.invalid).toBe(1);
      expect(h.wire.driverDiagnostics.brokenVirtqueues).toBe(1);
      await finish(h, agent);
    });
  });

  describe('when the platform misbehaves at the message level', () => {
    it.each([
      ['corrupt-token', 'unexpected'],
      ['corrupt-type', 'unknown'],
      ['corrupt-protocol', 'invalid'],
      ['truncate', 'invalid'],
    ] as const)(
      'should reject a %s response in its own buffer (%s) and fail the command at once with COMMS_ERROR (the buffer is back: nothing else can come)',
      async (kind, reason) => {
        const h = createVirtioHarness();
        const agent = await h.create();
        h.platform.faults.add({
          match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 },
          action: { kind },
        });
        await expect(agent.base.discoverVendor()).rejects.toMatchObject({
          status: ScmiStatus.COMMS_ERROR,
        });
        expect(stats(agent, 'a2p:0').badMessages[reason]).toBe(1);
        expect(stats(agent, 'a2p:0').timeouts).toBe(0);
        expect(await agent.base.discoverVendor()).toBe('scmi-ts');
        await finish(h, agent);
      },
    );

    it.each([
      [{ kind: 'corrupt-token', token: 1 }, 'unexpected'],
      [{ kind: 'corrupt-protocol' }, 'invalid'],
      [{ kind: 'truncate', length: 2 }, 'invalid'],
    ] as const)(
      "should write a delayed response rewritten by %o into its command's buffer (the platform names the command) for the agent to reject (%s), the buffer given back",
      async (action, reason) => {
        const h = createVirtioHarness();
        const agent = await h.create();
        const match = { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 };
        h.platform.faults.add({ match, action: { kind: 'delay', ms: 10 } });
        h.platform.faults.add({ match, action });
        await expect(agent.base.discoverVendor()).rejects.toMatchObject({
          status: ScmiStatus.COMMS_ERROR,
        });
        await h.clock.runUntilIdle();
        expect(stats(agent, 'a2p:0').badMessages[reason]).toBe(1);
        // Matched by its own header, the response would match no command, and the device would
        // keep the buffer until a reset.
        expect(h.device.stats).toMatchObject({ lateResponses: 1, unmatchedResponses: 0 });
        expect(h.device.outstandingCommands).toBe(0);
        expect(await agent.base.discoverVendor()).toBe('scmi-ts');
        await finish(h, agent);
      },
    );

    it.each(['duplicate', 'unsolicited'] as const)(
      'should complete the command and drop the %s response at the device (no buffer for it)',
      async (kind) => {
        const h = createVirtioHarness();
        const agent = await h.create();
        h.platform.faults.add({
          match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 },
          action: { kind },
        });
        expect(await agent.base.discoverVendor()).toBe('scmi-ts');
        await h.clock.runUntilIdle();
        expect(h.device.stats.unmatchedResponses).toBe(1);
        await finish(h, agent);
      },
    );

    it('should complete reordered responses out of order', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      h.platform.faults.add({
        match: { protocolId: BASE, messageId: BaseMessageId.DISCOVER_VENDOR, nth: 1 },
        action: { kind: 'reorder' },
      });
      const completed: string[] = [];
      const [vendor, sub] = await Promise.all([
        agent.base.discoverVendor().then((v) => (completed.push('vendor'), v)),
        agent.base.discoverSubVendor().then((v) => (completed.push('sub-vendor'), v)),
      ]);
      expect([vendor, sub]).toEqual(['scmi-ts', 'emulated']);
      // The platform held the first response back until after the second.
      expect(completed).toEqual(['sub-vendor', 'vendor']);
      await finish(h, agent);
    });

    it('should report a status error as such', async () => {
      const h = createVirtioHarness();
      const agent = await h.create();
      await expect(
        agent.transact(CLOCK_PROTOCOL, ClockMessageId.RATE_GET, (w) => w.u32(99), { txSize: 4 }),
      ).rejects.toBeInstanceOf(ScmiStatusError);
      await finish(h, agent);
    });
  });
});
