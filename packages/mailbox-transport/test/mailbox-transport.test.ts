import { ContainerModule } from 'inversify';
import {
  ScmiConfigError,
  ScmiShutdownError,
  ScmiTimeoutError,
  ScmiTransportError,
  TRANSPORT,
  VirtualClock,
  createAgent,
  readU32,
} from '@scmi-ts/core';
import { ensureNoLeaksInSuite } from '@scmi-ts/devres';
import { BaseMessageId, ClockMessageId } from '@scmi-ts/platform';
import {
  SMT_CHANNEL_FREE,
  SMT_HEADER_SIZE,
  SmtArea,
  createMailboxTransport,
  createSameThreadMailboxWire,
  mailboxTransport,
} from '@scmi-ts/mailbox-transport';
import {
  NO_BAD_MESSAGES,
  channelStats,
  createHarness,
  defined,
  exerciseP2a,
  registerLevelNotifications,
  settle,
} from './support/harness.js';

/** A harness whose platform answers the first Clock PROTOCOL_VERSION 45 ms late (30 ms timeout). */
function lateFirstClockVersion(): ReturnType<typeof createHarness> {
  return createHarness({
    platformFaults: [
      {
        match: { protocolId: 0x14, messageId: 0x0, nth: 1 },
        action: { kind: 'late-reply', ms: 45 },
      },
    ],
  });
}

const BASE_VENDOR = { protocolId: 0x10, messageId: BaseMessageId.DISCOVER_VENDOR };

describe('mailboxTransport', () => {
  ensureNoLeaksInSuite();

  describe('.descriptor', () => {
    it('should carry the Linux mailbox limits: max_msg 20, max_msg_size 128, 30 ms, P2A, both completions', () => {
      expect(mailboxTransport.descriptor).toEqual({
        name: 'mailbox',
        maxMsg: 20,
        maxMsgSize: 128,
        rxTimeoutMs: 30,
        p2a: true,
        completion: 'both',
      });
    });
  });

  describe('.validateConfig', () => {
    const validate = (section: unknown): unknown =>
      mailboxTransport.validateConfig?.(section, 'transportConfig');
    const wire = createSameThreadMailboxWire(new VirtualClock()).wire;

    it('should name the field of an invalid section', () => {
      const field = (section: unknown): string | undefined => {
        try {
          validate(section);
        } catch (e) {
          if (ScmiConfigError.is(e)) return e.field;
          throw e;
        }
        return undefined;
      };
      expect(field(undefined)).toBe('transportConfig');
      expect(field({})).toBe('transportConfig.wire');
      expect(field({ wire: { ...wire, layout: 1 } })).toBe('transportConfig.wire.layout');
      expect(
        field({ wire: { ...wire, layout: { ...wire.layout, memory: new ArrayBuffer(8) } } }),
      ).toBe('transportConfig.wire.layout.memory');
      expect(field({ wire: { ...wire, layout: { ...wire.layout, channels: 0 } } })).toBe(
        'transportConfig.wire.layout.channels',
      );
      expect(field({ wire: { ...wire, controller: {} } })).toBe('transportConfig.wire.controller');
      expect(field({ wire: { ...wire, monitor: {} } })).toBe('transportConfig.wire.monitor');
      expect(field({ wire, freeWaitMs: -1 })).toBe('transportConfig.freeWaitMs');
      expect(field({ wire })).toBeUndefined();
    });

    it('should refuse an unknown key in the section, its wire or its layout, naming it: a misspelt option is not left at its default', () => {
      const refusal = (section: unknown): { field: string; message: string } | undefined => {
        try {
          validate(section);
        } catch (e) {
          if (ScmiConfigError.is(e)) return { field: e.field, message: e.message };
          throw e;
        }
        return undefined;
      };
      const misspelt = refusal({ wire, freeWaitMS: 5 });
      expect(misspelt?.field).toBe('transportConfig.freeWaitMS');
      expect(misspelt?.message).toMatch(/unknown option \(expected one of wire, freeWaitMs\)/);
      expect(refusal({ wire, anything: undefined })?.field).toBe('transportConfig.anything');
      expect(refusal({ wire: { ...wire, monitr: wire.monitor } })?.field).toBe(
        'transportConfig.wire.monitr',
      );
      expect(refusal({ wire: { ...wire, layout: { ...wire.layout, areasize: 156 } } })?.field).toBe(
        'transportConfig.wire.layout.areasize',
      );
      // What a wire factory makes, with or without the optional fields, is taken as before.
      expect(refusal({ wire, freeWaitMs: 5 })).toBeUndefined();
      expect(
        refusal({ wire: { layout: wire.layout, controller: wire.controller } }),
      ).toBeUndefined();
    });

    it('should fail clearly when an area cannot hold the max message size plus the 28-byte SMT header', () => {
      const small = createSameThreadMailboxWire(new VirtualClock(), { areaSize: 128 }).wire;
      expect(() => validate({ wire: small })).toThrow(
        /an SMT area of 128 bytes cannot hold the transport's messages: it needs 156 bytes \(the 28-byte SMT header \+ max message size 128\)/,
      );
      const fits = createMailboxTransport({ maxMsgSize: 100 });
      expect(() => fits.validateConfig?.({ wire: small }, 'transportConfig')).not.toThrow();
    });

    describe('having a hand-built layout', () => {
      /** The field and message of the ScmiConfigError that validating `layout` throws. */
      const refusal = (layout: unknown): { field: string; message: string } | undefined => {
        try {
          validate({ wire: { ...wire, layout } });
        } catch (e) {
          if (ScmiConfigError.is(e)) return { field: e.field, message: e.message };
          throw e;
        }
        return undefined;
      };
      const base = wire.layout; // a2p:0 at 0, p2a:0 at 156 (mailbox 1), 156-byte areas
      const [a2p, p2a] = [defined(base.channels[0]), defined(base.channels[1])];
      const channels = (...specs: unknown[]): unknown => ({ ...base, channels: specs });
      const at = 'transportConfig.wire.layout';

      it('should refuse channels whose areas overlap, naming the later one', () => {
        const overlap = refusal(channels(a2p, { ...p2a, offset: 0 }));
        expect(overlap?.field).toBe(`${at}.channels[1].offset`);
        expect(overlap?.message).toMatch(
          /the area of p2a:0 \(bytes 0\.\.155\) overlaps the area of channels\[0\] \(a2p:0, bytes 0\.\.155\)/,
        );
        expect(refusal(channels(a2p, { ...p2a, offset: 152 }))?.field).toBe(
          `${at}.channels[1].offset`,
        );
        expect(refusal(channels({ ...p2a, offset: 100 }, { ...a2p, offset: 0 }))?.field).toBe(
          `${at}.channels[1].offset`,
        );
      });

      it('should refuse an area outside the memory, or at a negative, fractional or unaligned offset', () => {
        const outside = refusal(channels(a2p, { ...p2a, offset: 160 }));
        expect(outside?.field).toBe(`${at}.channels[1].offset`);
        expect(outside?.message).toMatch(/ends at byte 316, past the 312 bytes of memory/);
        for (const offset of [-156, 1.5, 2, '0', Number.NaN]) {
          expect(refusal(channels({ ...a2p, offset }, p2a))?.field).toBe(
            `${at}.channels[0].offset`,
          );
        }
      });

      it('should refuse a bad or shared mailbox index, direction or channel id', () => {
        for (const mailbox of [-1, 0.5, 2, '1']) {
          expect(refusal(channels(a2p, { ...p2a, mailbox }))?.field).toBe(
            `${at}.channels[1].mailbox`,
          );
        }
        expect(refusal(channels(a2p, { ...p2a, mailbox: 0 }))?.message).toMatch(
          /mailbox channel 0 is channels\[0\]'s \(a2p:0\) already/,
        );
        expect(refusal(channels(a2p, { ...p2a, direction: 'x' }))?.field).toBe(
          `${at}.channels[1].direction`,
        );
        for (const id of [-1, 0x10000, 0.5]) {
          expect(refusal(channels(a2p, { ...p2a, id }))?.field).toBe(`${at}.channels[1].id`);
        }
        expect(refusal(channels(a2p, { ...p2a, direction: 'a2p' }))?.field).toBe(
          `${at}.channels[1].id`,
        );
        expect(refusal(channels(a2p, 7))?.field).toBe(`${at}.channels[1]`);
      });

      it('should refuse a hole in channels as it refuses null, naming its index, never skipping it', () => {
        // eslint-disable-next-line no-sparse-arrays
        const first = refusal({ ...base, channels: [, a2p, p2a] });
        expect(first?.field).toBe(`${at}.channels[0]`);
        expect(first?.message).toMatch(
          /expected \{ direction, id, offset, mailbox \}, got undefined/,
        );
        // eslint-disable-next-line no-sparse-arrays
        expect(refusal({ ...base, channels: [a2p, , p2a] })?.field).toBe(`${at}.channels[1]`);
        const trailing: unknown[] = [a2p, p2a];
        trailing.length = 3; // a hole at the end: forEach, filter and find skip it too
        expect(refusal({ ...base, channels: trailing })?.field).toBe(`${at}.channels[2]`);
        expect(refusal(channels(null, a2p, p2a))?.field).toBe(`${at}.channels[0]`);
      });

      it('should refuse an area size that is not a whole number of 32-bit words', () => {
        // 158 ≥ 28 + 128, but SMT fields are 32-bit words: areas back to back would be unaligned.
        const memory = new SharedArrayBuffer(400);
        const odd = refusal({ memory, areaSize: 158, channels: [a2p, { ...p2a, offset: 158 }] });
        expect(odd?.field).toBe(`${at}.areaSize`);
        expect(odd?.message).toMatch(/158 bytes .* expected a multiple of 4/);
        expect(
          refusal({ memory, areaSize: 160, channels: [a2p, { ...p2a, offset: 160 }] }),
        ).toBeUndefined();
      });

      it('should accept the layouts the wire factories make', () => {
        expect(refusal(base)).toBeUndefined();
        const wide = createSameThreadMailboxWire(new VirtualClock(), {
          a2p: [0, 1, 2],
          p2a: [0, 1],
          areaSize: 256,
        }).wire;
        expect(() => validate({ wire: wide })).not.toThrow();
        expect(refusal(channels())).toBeUndefined();
      });
    });

    describe('having a hand-built layout of unidirectional mailbox channels', () => {
      // tx 0, tx_reply 1, rx 2, rx_reply 3 (4 mbox / 2 shmem) on a controller of 4 channels.
      const uni = createSameThreadMailboxWire(new VirtualClock(), {
        nodes: [{ shmem: [0, 0], mboxes: 4 }],
      }).wire;
      const [a2p, p2a] = [defined(uni.layout.channels[0]), defined(uni.layout.channels[1])];
      const refusal = (...specs: unknown[]): { field: string; message: string } | undefined => {
        try {
          validate({ wire: { ...uni, layout: { ...uni.layout, channels: specs } } });
        } catch (e) {
          if (ScmiConfigError.is(e)) return { field: e.field, message: e.message };
          throw e;
        }
        return undefined;
      };
      const at = 'transportConfig.wire.layout.channels';
      const expectRefused = (
        r: { field: string; message: string } | undefined,
        field: string,
        message: RegExp,
      ): void => {
        expect(r?.field).toBe(field);
        expect(r?.message).toMatch(message);
      };
      /** `spec` without `key`. */
      const without = (spec: object, key: string): Record<string, unknown> =>
        Object.fromEntries(Object.entries(spec).filter(([k]) => k !== key));

      it('should accept the 2 / 1, 3 / 2 and 4 / 2 layouts Linux takes', () => {
        expect(refusal(a2p, p2a)).toBeUndefined(); // 4 / 2
        expect(refusal(a2p, { ...p2a, ackMailbox: 'none' })).toBeUndefined(); // 3 / 2
        expect(refusal(a2p)).toBeUndefined(); // 2 / 1
      });

      it('should refuse a reply channel on P2A and an acknowledgement channel on A2P, naming them', () => {
        expect(refusal(a2p, { ...p2a, replyMailbox: 3 })?.field).toBe(`${at}[1].replyMailbox`);
        expect(refusal({ ...a2p, ackMailbox: 3 }, p2a)?.field).toBe(`${at}[0].ackMailbox`);
      });

      it('should refuse a bad index, one the controller has not, or one another role has', () => {
        for (const replyMailbox of [-1, 0.5, '1', 0]) {
          expect(refusal({ ...a2p, replyMailbox }, p2a)?.field).toBe(`${at}[0].replyMailbox`);
        }
        for (const ackMailbox of [-1, 'nope', 2, null]) {
          expect(refusal(a2p, { ...p2a, ackMailbox })?.field).toBe(`${at}[1].ackMailbox`);
        }
        expectRefused(
          refusal({ ...a2p, replyMailbox: 2 }, p2a),
          `${at}[0].replyMailbox`,
          /mailbox channel 2 is channels\[1\]'s mailbox \(p2a:0\)/,
        );
        expect(refusal(a2p, { ...p2a, ackMailbox: 1 })?.message).toMatch(
          /mailbox channel 1 is channels\[0\]'s replyMailbox \(a2p:0\)/,
        );
        expectRefused(
          refusal(a2p, { ...p2a, ackMailbox: 4 }),
          `${at}[1].ackMailbox`,
          /mailbox channel 4 is not one of the controller's 4/,
        );
      });

      it('should refuse an unknown key in a channel spec, naming it: a misspelt replyMailbox never makes the channel bidirectional', () => {
        expectRefused(
          refusal({ ...without(a2p, 'replyMailbox'), replymailbox: 1 }, p2a),
          `${at}[0].replymailbox`,
          /unknown option \(expected one of direction, id, offset, mailbox, replyMailbox, ackMailbox\)/,
        );
        expect(refusal(a2p, { ...without(p2a, 'ackMailbox'), ackmailbox: 3 })?.field).toBe(
          `${at}[1].ackmailbox`,
        );
        expect(refusal(a2p, { ...p2a, label: 'rx' })?.field).toBe(`${at}[1].label`);
        // Unknown even when undefined: the key is what is misspelt.
        expect(refusal({ ...a2p, replymailbox: undefined }, p2a)?.field).toBe(
          `${at}[0].replymailbox`,
        );
      });

      it('should take each channel on its own: which channels share a device tree node is not in a layout', () => {
        // A node's two shmem may have different ids, and the P2A channel's node need not be the
        // node of the A2P channel of its id: none of these is refused.
        expect(refusal(without(a2p, 'replyMailbox'), p2a)).toBeUndefined();
        expect(
          refusal(without(a2p, 'replyMailbox'), { ...p2a, ackMailbox: 'none' }),
        ).toBeUndefined();
        expect(refusal({ ...a2p, id: 1 }, p2a)).toBeUndefined();
        expect(refusal(a2p, without(p2a, 'ackMailbox'))).toBeUndefined();
      });
    });

    it("should leave freeWaitMs to each channel (twice the agent's RX timeout) unless given", () => {
      expect(validate({ wire })).toMatchObject({ freeWaitMs: undefined });
      expect(validate({ wire, freeWaitMs: 8 })).toMatchObject({ freeWaitMs: 8 });
    });
  });

  describe('.validateChannelConfig', () => {
    const validate = (section: unknown): unknown =>
      mailboxTransport.validateChannelConfig?.(section, 'a2p[1].transport');

    it("should take no per-channel section: a channel is the wire layout's, by id", () => {
      expect(validate(undefined)).toBeUndefined();
    });

    it.each([
      ['an unknown option', { anything: 1 }],
      ['an empty section', {}],
      ['null', null],
      ['a number', 0],
      ['a string', 'tx'],
    ])('should refuse %s, naming the section', (_what, section) => {
      let refused: unknown;
      try {
        validate(section);
      } catch (e) {
        refused = e;
      }
      expect(ScmiConfigError.is(refused) && refused.field).toBe('a2p[1].transport');
      expect((refused as Error).message).toMatch(/takes no per-channel section/);
    });
  });

  describe('createMailboxTransport', () => {
    it('should reject limits that are not positive integers', () => {
      expect(() => createMailboxTransport({ maxMsg: 0 })).toThrow(RangeError);
      expect(() => createMailboxTransport({ maxMsgSize: 1.5 })).toThrow(RangeError);
      expect(createMailboxTransport({ rxTimeoutMs: 5 }).descriptor.rxTimeoutMs).toBe(5);
    });
  });

  describe('having a same-thread wire and the emulated platform', () => {
    it('should probe, discover the platform and remove, releasing both channels once', async () => {
      const h = createHarness();
      const agent = await h.create();
      expect(agent.info.vendor).toBe(h.platform.config.vendor);
      expect(agent.info.protocols.length).toBeGreaterThan(0);
      expect(agent.events.available).toBe(true);
      expect(h.mailbox.controller.stats).toEqual({ requested: 2, freed: 0, inUse: 2 });
      await agent.remove();
      expect(h.mailbox.controller.stats).toEqual({ requested: 2, freed: 2, inUse: 0 });
      const reports = h.mailbox.wire.monitor.channels;
      expect(reports.map((r) => [r.label, r.quiesced, r.frees])).toEqual([
        ['a2p:0', true, 1],
        ['p2a:0', true, 1],
      ]);
      expect(h.mailbox.wire.monitor.violations).toEqual([]);
      h.close();
    });

    it('should be chosen by name among the loaded transports', async () => {
      const h = createHarness();
      const other = {
        ...mailboxTransport,
        descriptor: { ...mailboxTransport.descriptor, name: 'other' },
      };
      h.container.load(
        new ContainerModule(({ bind }) => {
          bind(TRANSPORT).toConstantValue(other);
        }),
      );
      await expect(createAgent(h.container, { transport: 'nope' })).rejects.toThrow(
        /loaded: mailbox, other/,
      );
      const agent = await createAgent(h.container, {
        transport: 'mailbox',
        transportConfig: { wire: h.mailbox.wire },
      });
      expect(agent.config.transport).toBe('mailbox');
      await agent.remove();
      h.close();
    });

    it('should carry many transfers, one in flight per SMT channel, in order', async () => {
      const h = createHarness();
      const agent = await h.create();
      const versions = await Promise.all(
        Array.from({ length: 60 }, (_, i) => agent.transact(i % 2 === 0 ? 0x10 : 0x14, 0x0)),
      );
      expect(versions).toHaveLength(60);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.completed).toBe(a2p.sent);
      expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
      await agent.remove();
      h.close();
    });

    it('should give a protocol its dedicated A2P channel, by interrupt or by polling', async () => {
      for (const polling of [false, true]) {
        const h = createHarness();
        const agent = await h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [0x14], polling }] });
        const rate = await agent.transact(0x14, ClockMessageId.RATE_GET, (w) => w.u32(0), {
          txSize: 4,
        });
        expect(rate.byteLength).toBe(8);
        expect(channelStats(agent, 'a2p:1').completed).toBe(1);
        await agent.remove();
        h.close();
      }
    });

    it('should complete a polling channel without any completion doorbell', async () => {
      // A polled controller: on an irq one the interceptor also sees the TX-done interrupts.
      const h = createHarness({ wire: { a2p: [0], p2a: [], txDoneMethod: 'poll' } });
      const agent = await h.create({ a2p: [{ id: 0, polling: true }] });
      let doorbells = 0;
      h.mailbox.controller.setInterceptor('agent', (deliver) => {
        doorbells++;
        deliver();
      });
      await agent.base.discoverVendor();
      await agent.transact(0x14, 0x0);
      expect(doorbells).toBe(0); // INTR_ENABLED was clear: the platform never rang
      expect(channelStats(agent, 'a2p:0').completed).toBe(channelStats(agent, 'a2p:0').sent);
      await agent.remove();
      h.close();
    });

    it('should deliver notifications and delayed responses over the P2A channel, freeing it each time', async () => {
      const h = createHarness();
      const agent = await h.create();
      registerLevelNotifications(agent);
      const received: number[] = [];
      const unsubscribe = await agent.events.subscribe(
        { protocolId: 0x13, eventId: 0x1, source: 0 },
        (n) => {
          received.push(new DataView(n.payload.buffer, n.payload.byteOffset).getUint32(8, true));
        },
      );
      // Three levels, then an asynchronous rate set: its response on A2P, its delayed response on P2A.
      await exerciseP2a(agent);
      await h.clock.runUntilIdle();
      expect(received).toEqual([400_000, 800_000, 1_800_000]);
      await unsubscribe();
      const p2a = channelStats(agent, 'p2a:0');
      expect(p2a.notifications).toBe(3);
      expect(p2a.delayedResponses).toBe(1);
      expect(h.responder.counters.p2aPosted).toBe(4);
      await agent.remove();
      h.close();
    });

    it('should queue posts while the P2A area is busy and write them as the agent frees it', async () => {
      const h = createHarness();
      const agent = await h.create();
      agent.events.register(0x13, [{ id: 0x1, name: 'storm' }]);
      const received: number[] = [];
      const off = await agent.events.subscribe({ protocolId: 0x13, eventId: 0x1 }, () => {
        received.push(1);
      });
      h.platform.faults.add({
        match: { protocolId: 0x10, messageId: 0x0, nth: 1 },
        action: { kind: 'notification-storm', count: 40, protocolId: 0x13, messageId: 0x1 },
      });
      await agent.transact(0x10, 0x0);
      await h.clock.runUntilIdle();
      // 1 written at once, 32 queued, 7 refused; every one written got through, one at a time.
      expect(h.responder.counters).toMatchObject({ p2aPosted: 33, p2aRefused: 7, p2aQueued: 0 });
      expect(received).toHaveLength(33);
      await off();
      await agent.remove();
      h.close();
    });

    it('should run without notifications on a wire that has no P2A area', async () => {
      const h = createHarness({ wire: { a2p: [0], p2a: [] } });
      const agent = await h.create();
      expect(agent.events.available).toBe(false);
      expect(agent.diagnostics.channels.map((c) => c.label)).toEqual(['a2p:0']);
      await agent.remove();
      h.close();
    });

    it('should refuse a configured channel id the wire has no area for, naming it, before claiming any mailbox channel', async () => {
      const h = createHarness({ wire: { a2p: [0, 1], p2a: [0] } });
      await expect(
        h.create({ a2p: [{ id: 0 }, { id: 3, protocols: [0x14] }] }),
      ).rejects.toMatchObject({
        field: 'a2p[1].id',
        message: /a2p channel 3 .*its a2p channels: 0, 1/,
      });
      // A wire with P2A areas but not this id: a mistake, not a wire without notifications.
      await expect(h.create({ p2a: [{ id: 3 }] })).rejects.toMatchObject({ field: 'p2a[0].id' });
      expect(h.mailbox.controller.stats.inUse).toBe(0);
      // Nothing was lost: the corrected configuration probes on the same wire.
      const agent = await h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }] });
      expect(agent.events.available).toBe(true);
      await agent.remove();
      h.close();
    });

    it('should refuse a misspelt transportConfig option, a channel transport section and a hole in the layout, naming each, before claiming any mailbox channel', async () => {
      const h = createHarness();
      const { wire } = h.mailbox;
      await expect(h.create({ transportConfig: { wire, freeWaitMS: 5 } })).rejects.toMatchObject({
        field: 'transportConfig.freeWaitMS',
      });
      await expect(
        h.create({ a2p: [{ id: 0, transport: { anything: 1 } }] }),
      ).rejects.toMatchObject({ field: 'a2p[0].transport' });
      await expect(h.create({ p2a: [{ id: 0, transport: {} }] })).rejects.toMatchObject({
        field: 'p2a[0].transport',
      });
      // A hole crashed the channel look-up with a TypeError ("reading 'direction'").
      // eslint-disable-next-line no-sparse-arrays
      const holed = { ...wire, layout: { ...wire.layout, channels: [, ...wire.layout.channels] } };
      const error = await settle(h.create({ transportConfig: { wire: holed } }));
      expect(ScmiConfigError.is(error) && error.field).toBe(
        'transportConfig.wire.layout.channels[0]',
      );
      expect(h.mailbox.controller.stats.requested).toBe(0);
      // Nothing was lost: the corrected configuration probes on the same wire.
      const agent = await h.create({ transportConfig: { wire, freeWaitMs: 5 } });
      expect(agent.info.vendor).toBe(h.platform.config.vendor);
      await agent.remove();
      h.close();
    });

    it("should refuse a second agent on a wire whose mailbox channels are held, keeping the first one's wire report", async () => {
      const h = createHarness();
      const agent = await h.create();
      const error = await settle(h.create({ name: 'scmi1' }));
      expect(ScmiTransportError.is(error) && error.code).toBe('E_MBOX_BUSY');
      await agent.remove();
      // The refused setup did not replace the report of the channel the first agent held.
      const report = h.mailbox.wire.monitor.channel('a2p:0');
      expect(report).toMatchObject({ quiesced: true, freed: true, frees: 1 });
      h.close();
    });
  });

  describe('when the platform answers with the wrong header', () => {
    it.each([
      ['interrupt', false, { kind: 'corrupt-protocol' }, 'invalid'],
      ['interrupt', false, { kind: 'corrupt-type', type: 1 }, 'unknown'],
      ['polling', true, { kind: 'corrupt-protocol' }, 'invalid'],
      ['polling', true, { kind: 'corrupt-type', type: 1 }, 'unknown'],
      ['polling', true, { kind: 'corrupt-token' }, 'unexpected'],
    ] as const)(
      'should not take it as the response (%s, %j): counted once as %s, and the command times out',
      async (_mode, polling, action, reason) => {
        const h = createHarness();
        const agent = await h.create({ a2p: [{ id: 0, polling }] });
        h.platform.faults.add({ match: { protocolId: 0x14, messageId: 0x0, nth: 1 }, action });
        await expect(agent.transact(0x14, 0x0)).rejects.toBeInstanceOf(ScmiTimeoutError);
        const a2p = channelStats(agent, 'a2p:0');
        expect(a2p.badMessages[reason]).toBe(1);
        expect(a2p.completed).toBe(a2p.sent - 1);
        // The platform gave the area back: the next command goes.
        await expect(agent.transact(0x14, 0x0)).resolves.toBeInstanceOf(Uint8Array);
        await agent.remove();
        h.close();
      },
    );

    it('should count a bad polled reply once when the platform also rings for it', async () => {
      const h = createHarness();
      const agent = await h.create({ a2p: [{ id: 0, polling: true }] });
      const layout = h.mailbox.platformEnd.layout;
      const spec = defined(
        layout.channels.find((c) => c.direction === 'a2p' && c.id === 0),
        'a2p:0',
      );
      h.platform.faults.add({
        match: { protocolId: 0x14, messageId: 0x0, nth: 1 },
        action: { kind: 'corrupt-protocol' },
      });
      const handle = h.platform.handle.bind(h.platform);
      h.platform.handle = (agentId, channelId, request) => {
        const reply = handle(agentId, channelId, request);
        // Rings once the responder has written the reply, although INTR_ENABLED is clear.
        h.clock.schedule(() => h.mailbox.platformEnd.remote(spec.mailbox).ring());
        return reply;
      };
      await expect(agent.transact(0x14, 0x0)).rejects.toBeInstanceOf(ScmiTimeoutError);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.badMessages.invalid).toBe(1);
      expect(a2p.badMessages.spurious).toBe(0);
      await agent.remove();
      h.close();
    });

    it('should count a bad reply once, at the deadline, when its doorbell comes after it', async () => {
      const h = createHarness();
      const agent = await h.create({ a2p: [{ id: 0 }] });
      h.platform.faults.add({
        match: { protocolId: 0x14, messageId: 0x0, nth: 1 },
        action: { kind: 'corrupt-protocol' },
      });
      h.mailbox.controller.setInterceptor('agent', (deliver) => {
        h.clock.setTimeout(deliver, 40); // past the 30 ms deadline
      });
      await expect(agent.transact(0x14, 0x0)).rejects.toBeInstanceOf(ScmiTimeoutError);
      await h.clock.advance(50);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.badMessages.invalid).toBe(1);
      expect(a2p.lateReplies).toBe(0);
      h.mailbox.controller.setInterceptor('agent', undefined);
      await agent.remove();
      h.close();
    });

    it('should not complete a command with a response that came back on another A2P channel', async () => {
      const h = createHarness();
      const agent = await h.create({ a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }] });
      const layout = h.mailbox.platformEnd.layout;
      const spec = defined(
        layout.channels.find((c) => c.direction === 'a2p' && c.id === 0),
        'a2p:0',
      );
      const area0 = new SmtArea(layout.memory, spec.offset, layout.areaSize);
      const handle = h.platform.handle.bind(h.platform);
      // The clock command goes out on a2p:1; the platform answers it in a2p:0's idle area.
      h.platform.handle = (agentId, channelId, request) => {
        if (channelId !== 1) return handle(agentId, channelId, request);
        area0.setHeader(readU32(request, 0));
        area0.bytes.fill(0, SMT_HEADER_SIZE, SMT_HEADER_SIZE + 8);
        area0.setLength(12);
        area0.setStatus(SMT_CHANNEL_FREE);
        h.mailbox.platformEnd.remote(spec.mailbox).ring();
        return undefined;
      };
      await expect(agent.transact(0x14, 0x0)).rejects.toBeInstanceOf(ScmiTimeoutError);
      expect(channelStats(agent, 'a2p:0').badMessages.unexpected).toBe(1);
      expect(channelStats(agent, 'a2p:0').completed).toBe(channelStats(agent, 'a2p:0').sent);
      expect(channelStats(agent, 'a2p:1').timeouts).toBe(1);
      await agent.remove();
      h.close();
    });
  });

  describe("a command given up (TransactOptions.signal) while it waits for the SMT channel's lock", () => {
    it('should fail at once with the reason, never reach the platform, and leave the channel working', async () => {
      const h = createHarness({ auto: false });
      const agent = await h.probe();
      h.platform.faults.add({
        match: { protocolId: 0x10, messageId: 0x3, times: 1 },
        action: { kind: 'delay', ms: 10 },
      });
      const requests = h.platform.counters.requests;
      const first = agent.transact(0x10, 0x3); // holds the channel for 10 ms
      const abort = new AbortController();
      const reason = new Error('operator gave up');
      const second = settle(agent.transact(0x10, 0x0, undefined, { signal: abort.signal }));
      await h.clock.advance(1);
      abort.abort(reason);
      expect(await second).toBe(reason);
      await h.clock.advance(20);
      await expect(first).resolves.toBeInstanceOf(Uint8Array);
      // The given-up command never reached the platform: only the first one (and now a third).
      expect(h.platform.counters.requests).toBe(requests + 1);
      const third = agent.transact(0x10, 0x0);
      await h.clock.runUntilIdle();
      await expect(third).resolves.toBeInstanceOf(Uint8Array);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      h.close();
    });
  });

  describe('when the platform is slow', () => {
    it('should time out, then drop the late reply as a late reply, counted', async () => {
      const h = createHarness({
        auto: false,
        platformFaults: [
          {
            match: { protocolId: 0x14, messageId: 0x0, nth: 1 },
            action: { kind: 'late-reply', ms: 45 },
          },
        ],
      });
      const agent = await h.probe();
      const reply = settle(agent.transact(0x14, 0x0));
      await h.clock.advance(30);
      expect(await reply).toBeInstanceOf(ScmiTimeoutError);
      // The platform still owns the area: the next command waits for CHANNEL_FREE, then goes.
      const next = agent.transact(0x14, 0x0);
      await h.clock.advance(20);
      await expect(next).resolves.toBeInstanceOf(Uint8Array);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.timeouts).toBe(1);
      expect(a2p.lateReplies).toBe(1);
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.busyWaits).toBe(1);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      h.close();
    });

    it('should count the late reply on a polling channel, which no doorbell hands to core, before the next command overwrites it', async () => {
      const h = lateFirstClockVersion();
      const agent = await h.create({ a2p: [{ id: 0, polling: true }] });
      expect(await settle(agent.transact(0x14, 0x0))).toBeInstanceOf(ScmiTimeoutError);
      await h.clock.advance(20); // the late reply lands in the area: nobody looks at it
      expect(channelStats(agent, 'a2p:0').lateReplies).toBe(0);
      await expect(agent.transact(0x14, 0x0)).resolves.toBeInstanceOf(Uint8Array);
      await expect(agent.transact(0x14, 0x0)).resolves.toBeInstanceOf(Uint8Array);
      const a2p = channelStats(agent, 'a2p:0');
      expect([a2p.timeouts, a2p.lateReplies, a2p.completed]).toEqual([1, 1, a2p.sent - 1]);
      expect(a2p.badMessages).toMatchObject({ unexpected: 0, invalid: 0, spurious: 0 });
      await agent.remove();
      h.close();
    });

    it('should count the late reply on a polling channel that no later command follows, when the channel quiesces', async () => {
      const h = lateFirstClockVersion();
      const agent = await h.create({ a2p: [{ id: 0, polling: true }] });
      expect(await settle(agent.transact(0x14, 0x0))).toBeInstanceOf(ScmiTimeoutError);
      await h.clock.advance(20); // the late reply lands in the area: nobody looks at it
      expect(channelStats(agent, 'a2p:0').lateReplies).toBe(0);
      await agent.remove();
      // Read from the wire's record of the channel: the agent's diagnostics are gone with it.
      const a2p = defined(h.mailbox.wire.monitor.channel('a2p:0'), 'a2p:0').counters;
      expect([a2p.timeouts, a2p.lateReplies]).toEqual([1, 1]);
      expect(a2p.badMessages).toMatchObject({ unexpected: 0, invalid: 0, spurious: 0 });
      h.close();
    });

    it('should count the late reply once when its doorbell lands after the next command was written', async () => {
      const h = lateFirstClockVersion();
      const agent = await h.create({ a2p: [{ id: 0 }] });
      // The agent's doorbells take 5 ms: the next command's wait for CHANNEL_FREE sees the late
      // reply before its doorbell lands.
      h.mailbox.controller.setInterceptor('agent', (deliver) => {
        h.clock.setTimeout(deliver, 5);
      });
      expect(await settle(agent.transact(0x14, 0x0))).toBeInstanceOf(ScmiTimeoutError);
      const next = agent.transact(0x14, 0x0);
      await h.clock.advance(100);
      await expect(next).resolves.toBeInstanceOf(Uint8Array);
      const a2p = channelStats(agent, 'a2p:0');
      expect([a2p.timeouts, a2p.lateReplies, a2p.completed]).toEqual([1, 1, a2p.sent - 1]);
      expect(a2p.badMessages).toMatchObject({ unexpected: 0, invalid: 0, spurious: 0 });
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.spurious).toBe(0);
      h.mailbox.controller.setInterceptor('agent', undefined);
      await agent.remove();
      h.close();
    });

    it('should count every doorbell that finds the area busy as spurious when the late reply handed over at the next send had rung already (no-free, then spurious-doorbell)', async () => {
      const h = createHarness({ auto: false });
      const agent = await h.probe({ a2p: [{ id: 0 }] });
      // 1st vendor command: response written, ring while busy, FREE set silently at 40 ms.
      h.responder.faults.add({
        match: { ...BASE_VENDOR, nth: 1 },
        action: { kind: 'no-free', freeAfterMs: 40 },
      });
      // 2nd vendor command: the platform rings while it still owns the area, answers 2 ms later.
      h.responder.faults.add({
        match: { ...BASE_VENDOR, nth: 2 },
        action: { kind: 'spurious-doorbell', ms: 2 },
      });
      const first = settle(agent.base.discoverVendor());
      await h.clock.advance(30);
      expect(await first).toBeInstanceOf(ScmiTimeoutError);
      expect(channelStats(agent, 'a2p:0').badMessages.spurious).toBe(1);
      const next = agent.base.discoverVendor();
      await h.clock.runUntilIdle();
      await expect(next).resolves.toBe(h.platform.config.vendor);
      const a2p = channelStats(agent, 'a2p:0');
      // The responder rang twice while it owned the area: both are spurious. The first message's
      // doorbell came (spurious): none is owed when its late reply is handed over at the next send.
      expect({
        spurious: a2p.badMessages.spurious,
        late: a2p.lateReplies,
        wireSpurious: h.mailbox.wire.monitor.channel('a2p:0')?.spurious,
      }).toEqual({
        spurious: 2,
        late: 1,
        wireSpurious: 2,
      });
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      h.close();
    });

    it('should let go of the channel when its wait for CHANNEL_FREE fails, so that later commands still go out', async () => {
      const h = createHarness({
        smtFaults: [
          {
            match: { protocolId: 0x14, messageId: 0x0, nth: 1 },
            action: { kind: 'stuck-busy', ms: 50 },
          },
        ],
      });
      const agent = await h.create({ a2p: [{ id: 0 }] });
      // The clock's next yield rejects (a clock being stopped): the wait of the second command.
      const clockYield = h.clock.yield.bind(h.clock);
      let failNext = true;
      h.clock.yield = () => {
        if (!failNext) return clockYield();
        failNext = false;
        return Promise.reject(new Error('clock stopped'));
      };
      const first = settle(agent.transact(0x14, 0x0)); // times out; the area stays busy to 50 ms
      const second = settle(agent.transact(0x14, 0x0)); // waits for the lock, then for FREE
      expect(await first).toBeInstanceOf(ScmiTimeoutError);
      expect(await second).toBeInstanceOf(Error);
      expect(failNext).toBe(false);
      // Before the fix it waited for the channel lock for ever (no deadline while a send waits).
      const third = agent.transact(0x14, 0x0).then((reply) => reply instanceof Uint8Array);
      const stuck = new Promise((resolve) => h.clock.setTimeout(() => resolve('stuck'), 1000));
      expect(await Promise.race([third, stuck])).toBe(true);
      await agent.remove();
      h.close();
    });

    it('should complete a command whose good reply the deadline found, and not count its late doorbell', async () => {
      const h = createHarness();
      const agent = await h.create({ a2p: [{ id: 0 }] });
      const spec = defined(
        h.mailbox.platformEnd.layout.channels.find((c) => c.direction === 'a2p' && c.id === 0),
        'a2p:0',
      );
      h.mailbox.controller.setInterceptor('agent', (deliver) => {
        h.clock.setTimeout(deliver, 40); // past the 30 ms deadline
      });
      await expect(agent.transact(0x14, 0x0)).resolves.toBeInstanceOf(Uint8Array);
      await h.clock.advance(50); // the held completion doorbell lands
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.timeouts).toBe(0);
      expect(a2p.lateReplies).toBe(0);
      expect(a2p.completed).toBe(a2p.sent);
      expect(a2p.badMessages).toEqual(NO_BAD_MESSAGES);
      h.mailbox.controller.setInterceptor('agent', undefined);
      // A second doorbell for the same reply is one nothing waits for: still counted.
      h.mailbox.platformEnd.remote(spec.mailbox).ring();
      await h.clock.runUntilIdle();
      expect(channelStats(agent, 'a2p:0').badMessages.unexpected).toBe(1);
      // The marker is the last message's only: the next command completes by its doorbell.
      await expect(agent.transact(0x14, 0x0)).resolves.toBeInstanceOf(Uint8Array);
      expect(channelStats(agent, 'a2p:0')).toMatchObject({ timeouts: 0, lateReplies: 0 });
      expect(channelStats(agent, 'a2p:0').badMessages.unexpected).toBe(1);
      await agent.remove();
      h.close();
    });

    it('should not count as spurious the late doorbell of a reply the deadline found when it finds the next command in the area', async () => {
      // A polled controller, whose TX the agent completes at once (Linux TXDONE_BY_ACK): on an irq
      // one the second ring would wait in the mailbox queue for the first one's held TX-done
      // interrupt (as in Linux), and the second command would time out before the platform saw it.
      const h = createHarness({ wire: { a2p: [0, 1], p2a: [0], txDoneMethod: 'poll' } });
      const agent = await h.create({ a2p: [{ id: 0 }] });
      // The platform sees each request after 20 ms; the agent's doorbells are held 25 ms: the
      // first reply's doorbell comes after its 30 ms deadline, which finds the reply, and the
      // second command is written at once behind it.
      const before = channelStats(agent, 'a2p:0');
      h.mailbox.controller.setInterceptor('agent', (deliver) => {
        h.clock.setTimeout(deliver, 25);
      });
      h.mailbox.controller.setInterceptor('remote', (deliver) => {
        h.clock.setTimeout(deliver, 20);
      });
      const results = await Promise.allSettled([
        agent.transact(0x14, 0x0),
        agent.transact(0x14, 0x0),
      ]);
      await h.clock.advance(200);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      const a2p = channelStats(agent, 'a2p:0');
      expect([a2p.sent - before.sent, a2p.completed - before.completed]).toEqual([2, 2]);
      expect([a2p.timeouts, a2p.lateReplies]).toEqual([0, 0]);
      expect(a2p.badMessages).toMatchObject({ spurious: 0, unexpected: 0, invalid: 0 });
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.spurious).toBe(0);
      h.mailbox.controller.setInterceptor('agent', undefined);
      h.mailbox.controller.setInterceptor('remote', undefined);
      // The next command completes by its doorbell.
      await expect(agent.transact(0x14, 0x0)).resolves.toBeInstanceOf(Uint8Array);
      await agent.remove();
      h.close();
    });

    it('should not count the doorbell of a good polled reply when the platform rings anyway', async () => {
      const h = createHarness();
      const agent = await h.create({ a2p: [{ id: 0, polling: true }] });
      const spec = defined(
        h.mailbox.platformEnd.layout.channels.find((c) => c.direction === 'a2p' && c.id === 0),
        'a2p:0',
      );
      const handle = h.platform.handle.bind(h.platform);
      h.platform.handle = (agentId, channelId, request) => {
        const reply = handle(agentId, channelId, request);
        // Rings well after the agent's polling found the reply, although INTR_ENABLED is clear.
        h.clock.setTimeout(() => h.mailbox.platformEnd.remote(spec.mailbox).ring(), 5);
        return reply;
      };
      await expect(agent.transact(0x14, 0x0)).resolves.toBeInstanceOf(Uint8Array);
      await h.clock.advance(10);
      const a2p = channelStats(agent, 'a2p:0');
      expect(a2p.completed).toBe(a2p.sent);
      expect(a2p.badMessages.unexpected).toBe(0);
      expect(a2p.badMessages.spurious).toBe(0);
      await agent.remove();
      h.close();
    });

    it('should fail the transfer rather than write into a channel still busy after 2× the RX timeout', async () => {
      const h = createHarness({
        auto: false,
        platformFaults: [
          { match: { protocolId: 0x14, messageId: 0x0, nth: 1 }, action: { kind: 'drop' } },
        ],
      });
      const agent = await h.probe();
      const first = settle(agent.transact(0x14, 0x0));
      await h.clock.advance(30);
      expect(await first).toBeInstanceOf(ScmiTimeoutError);
      const area = new SmtArea(h.mailbox.wire.layout.memory, 0, h.mailbox.wire.layout.areaSize);
      expect(area.isFree()).toBe(false);
      const second = settle(agent.transact(0x14, 0x0));
      await h.clock.advance(61);
      const error = await second;
      expect(ScmiTransportError.is(error) && error.code).toBe('E_CHANNEL_BUSY');
      expect(h.mailbox.wire.monitor.channel('a2p:0')?.busyFailures).toBe(1);
      // The request in the area is still the first one: nothing was written over it.
      expect(h.responder.counters.requests).toBe(h.responder.counters.responses + 1);
      expect(area.status() & SMT_CHANNEL_FREE).toBe(0);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      h.close();
    });

    it('should fail transfers in flight and waiting with ScmiShutdownError when removed, count only the command written as sent, and leave nothing armed', async () => {
      const h = createHarness({
        auto: false,
        platformFaults: [{ match: { protocolId: 0x14 }, action: { kind: 'delay', ms: 10 } }],
      });
      const agent = await h.probe({ a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }] });
      // One command in the area, four waiting for the lock (one message in flight per SMT area).
      const inFlight = Array.from({ length: 5 }, () => settle(agent.transact(0x14, 0x0)));
      await h.clock.advance(1);
      expect(h.responder.counters.requests).toBeGreaterThan(0);
      const requests = h.responder.counters.requests;
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      const errors = await Promise.all(inFlight);
      expect(errors.every((e) => ScmiShutdownError.is(e))).toBe(true);
      const a2p = channelStats(agent, 'a2p:1');
      expect([a2p.sent, a2p.failed]).toEqual([1, 5]);
      // Nothing more reached the platform.
      expect(h.responder.counters.requests).toBe(requests);
      expect(h.mailbox.wire.monitor.violations).toEqual([]);
      h.close();
      expect(h.clock.armedTimers).toBe(0);
      expect(h.clock.pendingTasks).toBe(0);
    });

    it('should not count as sent a command aborted by removal while it waited for CHANNEL_FREE', async () => {
      const h = createHarness({
        auto: false,
        platformFaults: [
          { match: { protocolId: 0x14, messageId: 0x0, nth: 1 }, action: { kind: 'drop' } },
        ],
      });
      const agent = await h.probe({ a2p: [{ id: 0 }, { id: 1, protocols: [0x14] }] });
      const requests = h.responder.counters.requests;
      const first = settle(agent.transact(0x14, 0x0));
      await h.clock.advance(30);
      expect(await first).toBeInstanceOf(ScmiTimeoutError);
      // The platform never freed the area: the next command waits for CHANNEL_FREE.
      const second = settle(agent.transact(0x14, 0x0));
      await h.clock.advance(5);
      expect(h.mailbox.wire.monitor.channel('a2p:1')?.busyWaits).toBe(1);
      const removing = agent.remove();
      await h.clock.runUntilIdle();
      await removing;
      expect(ScmiShutdownError.is(await second)).toBe(true);
      const a2p = channelStats(agent, 'a2p:1');
      expect([a2p.sent, a2p.timeouts, a2p.failed]).toEqual([1, 1, 1]);
      expect(h.responder.counters.requests).toBe(requests + 1);
      expect(h.mailbox.wire.monitor.violations).toEqual([]);
      h.close();
      expect(h.clock.armedTimers).toBe(0);
    });
  });

  it('should keep the SMT header size at 28 bytes', () => {
    expect(SMT_HEADER_SIZE).toBe(28);
  });
});
