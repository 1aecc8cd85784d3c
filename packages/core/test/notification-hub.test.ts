import {
  ChannelCounters,
  ScmiMessageType,
  VirtualClock,
  buildHeader,
  type NotificationBuffer,
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
    hub.accept(HEADER, counters, channel, undefined);
    expect(hub.stats.discarded).toBe(1);
    expect(counters.badMessages.unknown).toBe(0);
    expect(counters.notifications).toBe(0);
  });

  it('should count the notifications still queued for a protocol whose driver was released as discarded', () => {
    const { hub, counters } = setup();
    hub.accept(HEADER, counters, channel, undefined);
    hub.accept(HEADER, counters, channel, undefined);
    expect(hub.stats.queued).toBe(2);
    hub.unregister(0x14);
    expect(hub.stats.discarded).toBe(2);
    hub.accept(HEADER, counters, channel, undefined); // no driver any more: unknown
    expect(counters.badMessages.unknown).toBe(1);
  });
});
