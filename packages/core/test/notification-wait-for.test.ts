import {
  ChannelCounters,
  NotificationBuffer,
  ScmiError,
  ScmiMessageType,
  ScmiTransportError,
  VirtualClock,
  buildHeader,
  type TransportChannel,
} from '../src/index.js';
import { NotificationHub } from '../src/notification/notification-hub.js';

/** The P2A side of a transport: an 8-byte payload whose first byte is `seq` (set per delivery). */
let seq = 0;
const channel = {
  fetchNotification(buffer: NotificationBuffer): void {
    buffer.receive(Uint8Array.of(seq, 0, 0, 0, 0, 0, 0, 0), 0, 8);
  },
} as unknown as TransportChannel;

const HEADER = buildHeader(0, ScmiMessageType.NOTIFICATION, 0x14, 0);
const EVENT = { protocolId: 0x14, eventId: 0 } as const;

/** A hub whose event 0 of protocol 0x14 records each enable / disable it asks for. */
function recording(): { hub: NotificationHub; clock: VirtualClock; calls: string[] } {
  const clock = new VirtualClock();
  const hub = new NotificationHub('test', clock, 4, 32);
  hub.setP2a(true);
  const calls: string[] = [];
  hub.register(0x14, [
    {
      id: 0,
      name: 'rate-changed',
      setNotifyEnabled: (source, enable) => {
        calls.push(`${enable ? 'enable' : 'disable'} ${source ?? '*'}`);
        return Promise.resolve();
      },
    },
  ]);
  return { hub, clock, calls };
}

/** Delivers one notification carrying `n` to the hub and runs what it schedules. */
async function deliver(hub: NotificationHub, clock: VirtualClock, n: number): Promise<void> {
  seq = n;
  hub.accept(HEADER, new ChannelCounters(), channel, undefined);
  await clock.runTasks();
}

describe('NotificationHub.waitFor', () => {
  it('should resolve once the event is enabled, its notification with the first one after', async () => {
    const { hub, clock, calls } = recording();
    const wait = await hub.waitFor(EVENT, { timeoutMs: 100 });
    expect(calls).toEqual(['enable *']); // resolved once the enable was answered
    await deliver(hub, clock, 7);
    await deliver(hub, clock, 8); // after the wait ended: nobody to hand it to
    expect((await wait.notification).payload[0]).toBe(7);
    await clock.settle();
    expect(calls).toEqual(['enable *', 'disable *']);
    expect(clock.armedTimers).toBe(0); // the bound's timer was cancelled
  });

  it('should end the notification with E_EVENT_TIMEOUT after timeoutMs of the clock, the event disabled', async () => {
    const { hub, clock, calls } = recording();
    const wait = await hub.waitFor({ ...EVENT, source: 3 }, { timeoutMs: 50 });
    const outcome = wait.notification.catch((e: unknown) => e);
    await clock.advance(49);
    expect(calls).toEqual(['enable 3']);
    await clock.advance(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(ScmiError);
    expect(error).toMatchObject({
      code: 'E_EVENT_TIMEOUT',
      message:
        "test: clock event 0 (rate-changed): no notification within 50 ms of the agent's clock",
    });
    await clock.settle();
    expect(calls).toEqual(['enable 3', 'disable 3']);
    expect(clock.armedTimers).toBe(0);
  });

  /** A hub whose enables are answered only when the test says (`answer`), disables at once. */
  function unanswered(): {
    hub: NotificationHub;
    clock: VirtualClock;
    calls: string[];
    answer: () => void;
  } {
    const clock = new VirtualClock();
    const hub = new NotificationHub('test', clock, 4, 32);
    hub.setP2a(true);
    const calls: string[] = [];
    const pending: (() => void)[] = [];
    hub.register(0x14, [
      {
        id: 0,
        name: 'rate-changed',
        setNotifyEnabled: (_source, enable) => {
          calls.push(enable ? 'enable' : 'disable');
          return enable ? new Promise<void>((resolve) => pending.push(resolve)) : Promise.resolve();
        },
      },
    ]);
    return { hub, clock, calls, answer: () => pending.shift()?.() };
  }

  it('should reject the call at its bound while its enable is unanswered, and leave once answered', async () => {
    const { hub, clock, calls, answer } = unanswered();
    const made = hub.waitFor(EVENT, { timeoutMs: 10 }).catch((e: unknown) => e);
    await clock.advance(10);
    expect(await made).toMatchObject({
      code: 'E_EVENT_TIMEOUT',
      message:
        "test: clock event 0 (rate-changed): not enabled at the platform within 10 ms of the agent's clock",
    });
    expect(clock.armedTimers).toBe(0);
    answer(); // answered after the bound: the subscription is left at once
    await clock.settle();
    expect(calls).toEqual(['enable', 'disable']);
  });

  it('should reject the call when its signal fires while it is queued behind another enable', async () => {
    const { hub, clock, calls, answer } = unanswered();
    const first = hub.subscribe(EVENT, () => undefined); // its enable hangs
    const stop = new AbortController();
    const made = hub.waitFor(EVENT, { signal: stop.signal }).catch((e: unknown) => e);
    await clock.runTasks();
    stop.abort(new Error('enough'));
    expect(await made).toEqual(new Error('enough'));
    answer(); // the first one's enable; the abandoned wait sends nothing of its own
    await first;
    await clock.settle();
    expect(calls).toEqual(['enable']);
  });

  it('should reject the call with E_SHUTDOWN when the removal starts during its enable', async () => {
    const { hub, clock, answer } = unanswered();
    const made = hub.waitFor(EVENT).catch((e: unknown) => e);
    await clock.runTasks();
    hub.stopDelivery();
    expect(await made).toMatchObject({ code: 'E_SHUTDOWN' });
    answer();
    await clock.settle();
  });

  it("should end with the signal's reason when it fires, and send nothing when it had fired", async () => {
    const { hub, clock, calls } = recording();
    const stop = new AbortController();
    const wait = await hub.waitFor(EVENT, { signal: stop.signal });
    stop.abort(new Error('enough'));
    await expect(wait.notification).rejects.toThrow('enough');
    await clock.settle();
    expect(calls).toEqual(['enable *', 'disable *']);
    calls.length = 0;
    const reason = new Error('before');
    await expect(hub.waitFor(EVENT, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await clock.settle();
    expect(calls).toEqual([]);
    expect(clock.armedTimers).toBe(0);
  });

  it('should end with E_SHUTDOWN when the removal stops delivery, its timer cancelled', async () => {
    const { hub, clock } = recording();
    const wait = await hub.waitFor(EVENT, { timeoutMs: 1000 });
    hub.stopDelivery();
    await expect(wait.notification).rejects.toBeInstanceOf(ScmiTransportError);
    await expect(wait.notification).rejects.toMatchObject({ code: 'E_SHUTDOWN' });
    await clock.settle();
    expect(clock.armedTimers).toBe(0);
  });

  it('should end with E_SHUTDOWN at the quiesce of a teardown', async () => {
    const { hub } = recording();
    const wait = await hub.waitFor(EVENT);
    hub.quiesce();
    await expect(wait.notification).rejects.toMatchObject({ code: 'E_SHUTDOWN' });
  });

  it('should not leave an unhandled rejection when nobody awaits the notification', async () => {
    const { hub, clock } = recording();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await hub.waitFor(EVENT, { timeoutMs: 5 }); // its notification never awaited
      await clock.advance(5);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it("should reject with what subscribe refuses, its bound's timer cancelled", async () => {
    const { hub, clock } = recording();
    await expect(
      hub.waitFor({ protocolId: 0x14, eventId: 9 }, { timeoutMs: 10 }),
    ).rejects.toMatchObject({ code: 'E_UNKNOWN_EVENT' });
    expect(clock.armedTimers).toBe(0);
  });

  it.each([
    [{ timeoutMs: 0 }, 'options.timeoutMs must be an integer from 1 to 2147483647, got number 0'],
    [{ timeoutMs: 1.5 }, 'options.timeoutMs must be an integer from 1 to 2147483647'],
    [{ timeoutMs: 2 ** 31 }, 'options.timeoutMs must be an integer from 1 to 2147483647'],
    [{ timeoutMs: '5' }, 'options.timeoutMs must be an integer from 1 to 2147483647, got string'],
    [{ signal: {} }, 'options.signal must be an AbortSignal'],
    [{ timeoutMS: 5 }, 'timeoutMS'],
    [null, 'waitFor'],
  ])('should refuse options %p with E_ARGUMENT, sending nothing', async (options, message) => {
    const { hub, clock, calls } = recording();
    const made = hub.waitFor(EVENT, options as never);
    await expect(made).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    await expect(made).rejects.toThrow(message);
    await clock.settle();
    expect(calls).toEqual([]);
    expect(clock.armedTimers).toBe(0);
  });
});
