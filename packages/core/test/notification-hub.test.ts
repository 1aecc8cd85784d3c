import {
  ChannelCounters,
  NotificationBuffer,
  ScmiMessageType,
  VirtualClock,
  buildHeader,
  type ScmiNotification,
  type TransportChannel,
} from '../src/index.js';
import { NotificationHub } from '../src/notification/notification-hub.js';

/** The P2A side of a transport: copies an 8-byte payload into the hub's buffer. */
const channel = {
  fetchNotification(buffer: NotificationBuffer): void {
    buffer.receive(new Uint8Array(8), 0, 8);
  },
} as unknown as TransportChannel;

const HEADER = buildHeader(0, ScmiMessageType.NOTIFICATION, 0x14, 0);

function setup(): { hub: NotificationHub; counters: ChannelCounters; clock: VirtualClock } {
  const clock = new VirtualClock();
  const hub = new NotificationHub('test', clock, 4, 32);
  hub.setP2a(true);
  hub.register(0x14, [{ id: 0, name: 'e' }]);
  return { hub, counters: new ChannelCounters(), clock };
}

describe(NotificationHub, () => {
  it('should count a notification that arrives after it quiesced as discarded, not as unknown', () => {
    const { hub, counters } = setup();
    hub.quiesce();
    expect(hub.accept(HEADER, counters, channel, undefined)).toBeUndefined();
    expect(hub.stats.discarded).toBe(1);
    expect(counters.notifications).toBe(0);
  });

  it('should count the notifications still queued for a protocol whose driver was released as discarded', () => {
    const { hub, counters } = setup();
    hub.accept(HEADER, counters, channel, undefined);
    hub.accept(HEADER, counters, channel, undefined);
    expect(hub.stats.queued).toBe(2);
    hub.unregister(0x14);
    expect(hub.stats.discarded).toBe(2);
    // No driver any more: unknown, for the engine to count.
    expect(hub.accept(HEADER, counters, channel, undefined)).toBe('unknown');
  });

  describe('enabling per source (Linux notify.c counts users per source)', () => {
    /**
     * A hub whose event 0 of protocol 0x14 records each enable / disable it asks for, answered by
     * `answer` (default: done).
     */
    function recording(answer: (call: string) => Promise<void> = () => Promise.resolve()): {
      hub: NotificationHub;
      calls: string[];
    } {
      const hub = new NotificationHub('test', new VirtualClock(), 4, 32);
      hub.setP2a(true);
      const calls: string[] = [];
      hub.register(0x14, [
        {
          id: 0,
          name: 'rate-changed',
          setNotifyEnabled: (source, enable) => {
            const call = `${enable ? 'enable' : 'disable'} ${source ?? '*'}`;
            calls.push(call);
            return answer(call);
          },
        },
      ]);
      return { hub, calls };
    }
    const none = (): undefined => undefined;

    it('should enable again a source with its own subscriber when the last every-source subscriber leaves', async () => {
      const { hub, calls } = recording();
      await hub.subscribe({ protocolId: 0x14, eventId: 0, source: 5 }, none);
      await hub.subscribe({ protocolId: 0x14, eventId: 0, source: 6 }, none);
      const all = await hub.subscribe({ protocolId: 0x14, eventId: 0 }, none);
      await all();
      expect(calls).toEqual([
        'enable 5',
        'enable 6',
        'enable *',
        'disable *',
        'enable 5',
        'enable 6',
      ]);
    });

    it('should neither enable nor disable a source on its own while an every-source subscriber covers it', async () => {
      const { hub, calls } = recording();
      const all = await hub.subscribe({ protocolId: 0x14, eventId: 0 }, none);
      const five = await hub.subscribe({ protocolId: 0x14, eventId: 0, source: 5 }, none);
      await five();
      expect(calls).toEqual(['enable *']);
      await all();
      expect(calls).toEqual(['enable *', 'disable *']);
    });

    it('should try to enable again every source when one fails, and reject with that failure', async () => {
      const refused = new Error('enable 5 refused');
      let failing = false;
      const { hub, calls } = recording((call) =>
        failing && call === 'enable 5' ? Promise.reject(refused) : Promise.resolve(),
      );
      await hub.subscribe({ protocolId: 0x14, eventId: 0, source: 5 }, none);
      await hub.subscribe({ protocolId: 0x14, eventId: 0, source: 6 }, none);
      const all = await hub.subscribe({ protocolId: 0x14, eventId: 0 }, none);
      failing = true;
      await expect(all()).rejects.toBe(refused);
      expect(calls.slice(3)).toEqual(['disable *', 'enable 5', 'enable 6']);
    });

    it('should enable nothing again once the removal started during the every-source disable', async () => {
      let finishDisable: (() => void) | undefined;
      const { hub, calls } = recording((call) =>
        call === 'disable *' ? new Promise<void>((r) => (finishDisable = r)) : Promise.resolve(),
      );
      await hub.subscribe({ protocolId: 0x14, eventId: 0, source: 5 }, none);
      const all = await hub.subscribe({ protocolId: 0x14, eventId: 0 }, none);
      const leaving = all();
      await Promise.resolve();
      await Promise.resolve();
      expect(calls).toEqual(['enable 5', 'enable *', 'disable *']);
      hub.stopDelivery();
      finishDisable?.();
      await expect(leaving).resolves.toBeUndefined();
      expect(calls).toEqual(['enable 5', 'enable *', 'disable *']);
    });

    it('should disable a source whose own subscribers left once no every-source subscriber covers it', async () => {
      const { hub, calls } = recording();
      const five = await hub.subscribe({ protocolId: 0x14, eventId: 0, source: 5 }, none);
      const all = await hub.subscribe({ protocolId: 0x14, eventId: 0 }, none);
      await five(); // still covered
      await all();
      const again = await hub.subscribe({ protocolId: 0x14, eventId: 0, source: 5 }, none);
      await again();
      expect(calls).toEqual(['enable 5', 'enable *', 'disable *', 'enable 5', 'disable 5']);
    });
  });
});

describe('NotificationHub payloads', () => {
  it.each([
    ['the first', 0],
    ['the last', 1],
  ])(
    'should give each handler a payload of its own, unchanged by %s handler changing its copy',
    async (_which, changer) => {
      const clock = new VirtualClock();
      const hub = new NotificationHub('test', clock, 4, 32);
      hub.setP2a(true);
      hub.register(0x14, [{ id: 0, name: 'e' }]);
      const source = {
        fetchNotification(buffer: NotificationBuffer): void {
          buffer.receive(new Uint8Array([1, 0, 0, 0, 7, 0, 0, 0]), 0, 8);
        },
      } as unknown as TransportChannel;
      const kept: ScmiNotification[] = [];
      for (let i = 0; i < 2; i++) {
        await hub.subscribe({ protocolId: 0x14, eventId: 0 }, (n) => {
          kept.push(n);
          if (i === changer) n.payload.fill(0xff);
        });
      }
      hub.accept(HEADER, new ChannelCounters(), source, undefined);
      await clock.runTasks();
      expect(kept.map((n) => Array.from(n.payload))).toEqual(
        [0, 1].map((i) =>
          i === changer ? new Array<number>(8).fill(0xff) : [1, 0, 0, 0, 7, 0, 0, 0],
        ),
      );
    },
  );
});

describe(NotificationBuffer, () => {
  it.each([
    ['NaN', 0, Number.NaN],
    ['Infinity', 0, Number.POSITIVE_INFINITY],
    ['negative', 0, -3],
  ])('should take a %s length as 0', (_what, offset, length) => {
    const b = new NotificationBuffer(16);
    b.receive(new Uint8Array([9, 9, 9, 9]), offset, length);
    expect([b.length, b.truncated]).toEqual([0, false]);
  });

  it.each([
    ['negative', -4],
    ['fractional', 0.5],
    ['NaN', Number.NaN],
    ['past the end', 5],
  ])('should take nothing from a %s offset, truncated', (_what, offset) => {
    const b = new NotificationBuffer(16);
    b.data.fill(0xee);
    b.receive(new Uint8Array([9, 9, 9, 9]), offset, 4);
    expect([b.length, b.truncated]).toEqual([0, true]);
  });

  it('should clamp to the end of the source and to its capacity, and say so', () => {
    const b = new NotificationBuffer(3);
    b.receive(new Uint8Array([1, 2, 3, 4, 5]), 1, 10);
    expect([b.length, b.truncated, Array.from(b.data)]).toEqual([3, true, [2, 3, 4]]);
    b.receive(new Uint8Array([1, 2]), 0, 2);
    expect([b.length, b.truncated]).toEqual([2, false]);
  });
});
