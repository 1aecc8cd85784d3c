import { getEventListeners } from 'node:events';
import {
  ChannelCounters,
  NotificationBuffer,
  ScmiError,
  ScmiMessageType,
  VirtualClock,
  buildHeader,
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
const EVENT = { protocolId: 0x14, eventId: 0 } as const;

/**
 * A hub whose event 0 of protocol 0x14 records each enable / disable it asks for, answered by
 * `answer` (default: done).
 */
function recording(answer: (call: string) => Promise<void> = () => Promise.resolve()): {
  hub: NotificationHub;
  clock: VirtualClock;
  calls: string[];
} {
  const clock = new VirtualClock();
  const hub = new NotificationHub('test', clock, 4, 32);
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
  return { hub, clock, calls };
}

/** A promise the test settles by hand, and its settle functions. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** How many listeners `signal` has for 'abort' (Node's own count, as its leak warning reads it). */
function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

describe('NotificationHub.subscribe with a signal', () => {
  it('should unsubscribe when the signal fires: no handler call after it, and the event disabled', async () => {
    const { hub, clock, calls } = recording();
    const counters = new ChannelCounters();
    const seen: number[] = [];
    const stop = new AbortController();
    await hub.subscribe(EVENT, () => void seen.push(1), { signal: stop.signal });
    hub.accept(HEADER, counters, channel, undefined);
    await clock.runTasks();
    expect(seen).toEqual([1]);
    // Queued before the signal fires, delivered after: skipped, as after an unsubscribe.
    hub.accept(HEADER, counters, channel, undefined);
    stop.abort();
    await clock.runTasks();
    await clock.settle();
    expect(seen).toEqual([1]);
    expect(calls).toEqual(['enable *', 'disable *']);
    expect(abortListeners(stop.signal)).toBe(0);
  });

  it('should keep the event enabled while another subscriber holds it', async () => {
    const { hub, clock, calls } = recording();
    const stop = new AbortController();
    await hub.subscribe(EVENT, () => undefined, { signal: stop.signal });
    const other = await hub.subscribe(EVENT, () => undefined);
    stop.abort();
    await clock.settle();
    expect(calls).toEqual(['enable *']);
    await other();
    expect(calls).toEqual(['enable *', 'disable *']);
  });

  it('should reject with the reason and send nothing when the signal fired before', async () => {
    const { hub, calls } = recording();
    const reason = new Error('gave up');
    await expect(
      hub.subscribe(EVENT, () => undefined, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect(calls).toEqual([]);
  });

  it('should check its arguments before a fired signal (as transact)', async () => {
    const { hub } = recording();
    await expect(
      hub.subscribe({ ...EVENT, source: -1 }, () => undefined, {
        signal: AbortSignal.abort(new Error('gave up')),
      }),
    ).rejects.toMatchObject({ code: 'E_ARGUMENT' });
  });

  it('should send nothing when the signal fires while the subscribe waits its turn', async () => {
    const disable = deferred();
    const { hub, clock, calls } = recording((call) =>
      call === 'disable *' ? disable.promise : Promise.resolve(),
    );
    const off = await hub.subscribe(EVENT, () => undefined);
    // The last subscriber leaves: its disable holds the event's turn.
    const leaving = off();
    await clock.settle();
    expect(calls).toEqual(['enable *', 'disable *']);
    const stop = new AbortController();
    const waiting = hub.subscribe(EVENT, () => undefined, { signal: stop.signal });
    const reason = new Error('not any more');
    stop.abort(reason);
    disable.resolve();
    await leaving;
    await expect(waiting).rejects.toBe(reason);
    // It would have been the first subscriber again: no enable (and no disable after it).
    expect(calls).toEqual(['enable *', 'disable *']);
  });

  it('should leave at once, and reject with the reason, when the signal fires while its enable is under way', async () => {
    const enable = deferred();
    const { hub, clock, calls } = recording((call) =>
      call === 'enable *' ? enable.promise : Promise.resolve(),
    );
    const stop = new AbortController();
    const seen: number[] = [];
    const subscribing = hub.subscribe(EVENT, () => void seen.push(1), { signal: stop.signal });
    await clock.settle();
    expect(calls).toEqual(['enable *']);
    const reason = new Error('too late');
    stop.abort(reason);
    enable.resolve();
    await expect(subscribing).rejects.toBe(reason);
    // What the enable turned on is turned off again; no handler is left behind.
    expect(calls).toEqual(['enable *', 'disable *']);
    hub.accept(HEADER, new ChannelCounters(), channel, undefined);
    await clock.runTasks();
    expect(seen).toEqual([]);
    expect(hub.stats.signalLeaveFailures).toBe(0);
  });

  it('should count a disable a signal started that failed, and disable the event at removal', async () => {
    let failDisable = true;
    const { hub, clock, calls } = recording((call) =>
      call === 'disable *' && failDisable
        ? Promise.reject(new Error('platform busy'))
        : Promise.resolve(),
    );
    const stop = new AbortController();
    await hub.subscribe(EVENT, () => undefined, { signal: stop.signal });
    stop.abort();
    await clock.settle();
    expect(calls).toEqual(['enable *', 'disable *']);
    expect(hub.stats.signalLeaveFailures).toBe(1);
    // The event may still be sent: the removal disables it.
    failDisable = false;
    await hub.disableEvents();
    expect(calls).toEqual(['enable *', 'disable *', 'disable *']);
    expect(hub.stats.disabledAtRemoval).toBe(1);
  });

  it('should count a failed enable again of a source with its own subscriber, when the signal of the last every-source subscriber fires', async () => {
    const { hub, clock, calls } = recording();
    // Four sources; the second enable of source 0 (after the every-source disable) fails.
    hub.register(0x14, [
      {
        id: 0,
        name: 'rate-changed',
        numSources: 4,
        setNotifyEnabled: (source, enable) => {
          const call = `${enable ? 'enable' : 'disable'} ${source ?? '*'}`;
          calls.push(call);
          return call === 'enable 0' && calls.length > 1
            ? Promise.reject(new Error('platform busy'))
            : Promise.resolve();
        },
      },
    ]);
    await hub.subscribe({ ...EVENT, source: 0 }, () => undefined);
    const stop = new AbortController();
    await hub.subscribe(EVENT, () => undefined, { signal: stop.signal });
    stop.abort();
    await clock.settle();
    expect(calls).toEqual(['enable 0', 'enable *', 'disable *', 'enable 0']);
    expect(hub.stats.signalLeaveFailures).toBe(1);
  });

  it('should stop watching the signal when the subscription ends by its unsubscribe', async () => {
    const { hub, clock, calls } = recording();
    const stop = new AbortController();
    const off = await hub.subscribe(EVENT, () => undefined, { signal: stop.signal });
    expect(abortListeners(stop.signal)).toBe(1);
    await off();
    expect(abortListeners(stop.signal)).toBe(0);
    stop.abort();
    await clock.settle();
    expect(calls).toEqual(['enable *', 'disable *']);
  });

  it('should watch a signal many subscriptions share with one listener, and none after release', async () => {
    const { hub } = recording();
    hub.register(0x14, [
      { id: 0, name: 'rate-changed', numSources: 32, setNotifyEnabled: () => Promise.resolve() },
    ]);
    const stop = new AbortController();
    for (let source = 0; source < 20; source++) {
      await hub.subscribe({ ...EVENT, source }, () => undefined, { signal: stop.signal });
    }
    expect(abortListeners(stop.signal)).toBe(1);
    hub.stopDelivery();
    hub.quiesce();
    hub.release();
    expect(abortListeners(stop.signal)).toBe(0);
  });

  it('should only forget the handler when the signal fires once the removal started', async () => {
    const { hub, clock, calls } = recording();
    const stop = new AbortController();
    await hub.subscribe(EVENT, () => undefined, { signal: stop.signal });
    hub.stopDelivery();
    stop.abort();
    await clock.settle();
    expect(calls).toEqual(['enable *']);
    expect(hub.stats.signalLeaveFailures).toBe(0);
  });

  it.each([
    ['null', null, 'options must be an object or left out, got null'],
    ['a number', 5, 'options must be an object or left out, got number 5'],
    [
      'a signal given for { signal }',
      new AbortController().signal,
      '(to give the subscription a signal, pass { signal })',
    ],
    ['an unknown key', { sginal: 1 }, 'unknown option "sginal" (expected one of signal)'],
    ['a signal that is not one', { signal: 'soon' }, 'options.signal must be an AbortSignal'],
    [
      'a forged signal',
      { signal: Object.create(AbortSignal.prototype) as AbortSignal },
      'options.signal must be an AbortSignal',
    ],
  ])('should refuse %s as options with E_ARGUMENT and send nothing', async (_, options, text) => {
    const { hub, calls } = recording();
    const refusal = hub.subscribe(EVENT, () => undefined, options as never);
    await expect(refusal).rejects.toBeInstanceOf(ScmiError);
    await expect(refusal).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    await expect(refusal).rejects.toThrow(text);
    expect(calls).toEqual([]);
  });
});
