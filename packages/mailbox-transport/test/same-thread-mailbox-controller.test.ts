import { fieldOfConfigError } from '../../core/test/support/code-of.js';
import { ScmiConfigError, VirtualClock } from '@scmi-ts/core';
import {
  SameThreadMailboxController,
  type MailboxClient,
  type MailboxRemoteEnd,
} from '@scmi-ts/mailbox-transport';
import { codeOf } from './support/harness.js';

interface Recorder extends MailboxClient {
  readonly rx: number;
  readonly txDone: (error: unknown) => void;
  readonly done: unknown[];
  readonly ignoredSeen: number;
}

function recorder(knowsTxDone?: boolean): Recorder {
  const r = {
    rx: 0,
    done: [] as unknown[],
    ignoredSeen: 0,
    rxCallback: () => {
      r.rx++;
    },
    txDone: (error: unknown) => {
      r.done.push(error);
    },
    rxIgnored: () => {
      r.ignoredSeen++;
    },
    ...(knowsTxDone === undefined ? {} : { knowsTxDone }),
  };
  return r;
}

/** A remote that counts the rings it hears, and answers each when `echo` is set. */
function platform(remote: MailboxRemoteEnd, echo = false): { heard: () => number } {
  let heard = 0;
  remote.listen(() => {
    heard++;
    if (echo) remote.ring();
  });
  return { heard: () => heard };
}

describe(SameThreadMailboxController, () => {
  describe('constructor', () => {
    it('should refuse a bad channel count or poll period', () => {
      const clock = new VirtualClock();
      expect(() => new SameThreadMailboxController(clock, { channels: 0 })).toThrow(RangeError);
      expect(() => new SameThreadMailboxController(clock, { channels: 1.5 })).toThrow(RangeError);
      expect(
        () => new SameThreadMailboxController(clock, { channels: 1, txPollPeriodMs: 0 }),
      ).toThrow(RangeError);
    });

    it('should refuse a txDoneMethod other than irq or poll with an ScmiConfigError naming it, not keep it', () => {
      const clock = new VirtualClock();
      const method = (v: unknown): 'irq' => v as 'irq';
      expect(
        () =>
          new SameThreadMailboxController(clock, { channels: 1, txDoneMethod: method('bogus') }),
      ).toThrow(ScmiConfigError);
      for (const bad of ['bogus', 'ack', '', null, 2]) {
        expect(
          fieldOfConfigError(
            () =>
              new SameThreadMailboxController(clock, { channels: 1, txDoneMethod: method(bad) }),
          ),
        ).toBe('txDoneMethod');
      }
      expect([clock.pendingTasks, clock.armedTimers]).toEqual([0, 0]);
      const poll = new SameThreadMailboxController(clock, { channels: 1, txDoneMethod: 'poll' });
      expect(poll.txDoneMethod).toBe('poll');
      expect(new SameThreadMailboxController(clock, { channels: 1 }).txDoneMethod).toBe('irq');
    });
  });

  describe('.requestChannel', () => {
    it('should refuse an index out of range, a held channel and a freed one', () => {
      const c = new SameThreadMailboxController(new VirtualClock(), { channels: 2, name: 'mhu' });
      expect(codeOf(() => c.requestChannel(2, recorder()))).toBe('E_MBOX_INDEX');
      expect(codeOf(() => c.requestChannel(0.5, recorder()))).toBe('E_MBOX_INDEX');
      const chan = c.requestChannel(0, recorder());
      expect(codeOf(() => c.requestChannel(0, recorder()))).toBe('E_MBOX_BUSY');
      chan.free();
      chan.free(); // idempotent
      expect(codeOf(() => c.requestChannel(0, recorder()))).toBe('E_MBOX_FREED');
      expect(c.stats).toEqual({ requested: 1, freed: 1, inUse: 0 });
      expect(codeOf(() => c.remote(5))).toBe('E_MBOX_INDEX');
    });
  });

  describe('having a polling controller and a client that knows TX completion (ack)', () => {
    it('should ring the remote as a task, deliver its answer, and queue sends behind the active one', async () => {
      const clock = new VirtualClock();
      const c = new SameThreadMailboxController(clock, { channels: 1, txDoneMethod: 'poll' });
      const remote = platform(c.remote(0), true);
      const client = recorder(true);
      const chan = c.requestChannel(0, client);
      expect(chan.txDoneMethod).toBe('ack');
      chan.send();
      expect(remote.heard()).toBe(0); // never synchronously inside send
      chan.send();
      chan.send();
      expect([chan.txActive, chan.queued]).toEqual([true, 2]);
      await clock.runTasks();
      expect([remote.heard(), client.rx]).toEqual([1, 1]);
      chan.clientTxDone();
      await clock.runTasks();
      expect(client.done).toEqual([undefined]);
      expect([remote.heard(), chan.queued]).toEqual([2, 1]);
      const failure = new Error('timed out');
      chan.clientTxDone(failure);
      chan.clientTxDone(); // the last one
      expect(client.done).toEqual([undefined, failure, undefined]);
      expect(chan.txActive).toBe(false);
      chan.clientTxDone(); // nothing active: a no-op
      expect(client.done).toHaveLength(3);
      chan.free();
    });

    it('should refuse a 21st queued message and any send after free', () => {
      const c = new SameThreadMailboxController(new VirtualClock(), {
        channels: 1,
        txDoneMethod: 'poll',
      });
      const chan = c.requestChannel(0, recorder(true));
      for (let i = 0; i <= 20; i++) chan.send();
      expect(chan.queued).toBe(20);
      expect(codeOf(() => chan.send())).toBe('E_MBOX_QUEUE_FULL');
      chan.free();
      expect([chan.txActive, chan.queued, chan.freed]).toEqual([false, 0, true]);
      expect(codeOf(() => chan.send())).toBe('E_MBOX_FREED');
    });
  });

  describe('having a controller that signals TX-done by interrupt', () => {
    it('should report TX done when the remote consumed the ring, and ignore client acks', async () => {
      const clock = new VirtualClock();
      const c = new SameThreadMailboxController(clock, { channels: 1, txDoneMethod: 'irq' });
      const remote = platform(c.remote(0));
      const client = recorder();
      const chan = c.requestChannel(0, client);
      expect(chan.txDoneMethod).toBe('irq');
      chan.send();
      chan.send();
      chan.clientTxDone(new Error('ignored')); // not the client's call on this method
      expect(client.done).toEqual([]);
      await clock.runTasks();
      expect(remote.heard()).toBe(2);
      expect(client.done).toEqual([undefined, undefined]);
      chan.free();
    });
  });

  describe('having a controller that signals TX-done by interrupt and a client that knows TX completion', () => {
    it('should keep the interrupt (Linux turns only TXDONE_BY_POLL into ACK), ignoring the client acks', async () => {
      const clock = new VirtualClock();
      const c = new SameThreadMailboxController(clock, { channels: 1, txDoneMethod: 'irq' });
      const held: (() => void)[] = [];
      c.setInterceptor('remote', (deliver) => held.push(deliver));
      const remote = platform(c.remote(0));
      const client = recorder(true);
      const chan = c.requestChannel(0, client);
      expect(chan.txDoneMethod).toBe('irq');
      chan.send();
      chan.send();
      // The client's ack does not end the transmission: the remote has not consumed the ring.
      chan.clientTxDone();
      chan.clientTxDone(new Error('timed out'));
      await clock.runTasks();
      expect(client.done).toEqual([]);
      expect([chan.txActive, chan.queued, remote.heard()]).toEqual([true, 1, 0]);
      // The remote consumes the ring: the TX-done interrupt ends it and the queued one is rung.
      held.splice(0).forEach((d) => d());
      await clock.runTasks();
      expect(client.done).toEqual([undefined]);
      expect([chan.txActive, chan.queued, remote.heard()]).toEqual([true, 0, 1]);
      held.splice(0).forEach((d) => d());
      await clock.runTasks();
      expect(client.done).toEqual([undefined, undefined]);
      expect([chan.txActive, remote.heard()]).toEqual([false, 2]);
      chan.free();
    });
  });

  describe('having a controller that polls for TX-done', () => {
    it('should poll every period until the remote consumed the ring, then stop polling', async () => {
      const clock = new VirtualClock();
      const c = new SameThreadMailboxController(clock, {
        channels: 1,
        txDoneMethod: 'poll',
        txPollPeriodMs: 2,
      });
      const held: (() => void)[] = [];
      c.setInterceptor('remote', (deliver) => held.push(deliver));
      const remote = platform(c.remote(0));
      const client = recorder();
      const chan = c.requestChannel(0, client);
      chan.send();
      await clock.advance(5);
      expect(client.done).toEqual([]);
      expect(clock.armedTimers).toBe(1);
      held.splice(0).forEach((d) => d());
      expect(remote.heard()).toBe(1);
      await clock.advance(2);
      expect(client.done).toEqual([undefined]);
      expect(clock.armedTimers).toBe(0);
      c.setInterceptor('remote', undefined);
      chan.send();
      chan.free(); // cancels the poll
      expect(clock.armedTimers).toBe(0);
    });

    it('should keep one poll while it drains queued sends, and leave none armed once freed', async () => {
      const clock = new VirtualClock();
      const c = new SameThreadMailboxController(clock, { channels: 1, txDoneMethod: 'poll' });
      platform(c.remote(0));
      const client = recorder();
      const chan = c.requestChannel(0, client);
      chan.send();
      chan.send(); // queued behind the first: transmitted by the poll that finds the first done
      await clock.advance(1);
      expect(clock.armedTimers).toBe(1);
      chan.send();
      chan.send();
      chan.send();
      await clock.advance(1);
      expect(clock.armedTimers).toBe(1);
      const done = client.done.length;
      chan.free();
      expect(clock.armedTimers).toBe(0);
      await clock.advance(10);
      expect(client.done).toHaveLength(done); // nothing polls a freed channel
    });
  });

  describe('.stopRx', () => {
    it('should drop and count rings toward the client, including one already held', async () => {
      const clock = new VirtualClock();
      const c = new SameThreadMailboxController(clock, { channels: 1 });
      const held: (() => void)[] = [];
      c.setInterceptor('agent', (deliver) => held.push(deliver));
      const client = recorder(true);
      const chan = c.requestChannel(0, client);
      const remote = c.remote(0);
      remote.ring();
      expect(held).toHaveLength(1);
      chan.stopRx();
      chan.stopRx(); // idempotent
      expect(chan.rxStopped).toBe(true);
      const deliver = held[0] as () => void;
      deliver();
      deliver(); // runs at most once
      remote.ring();
      await clock.runTasks();
      expect(client.rx).toBe(0);
      expect([chan.ignored, client.ignoredSeen]).toEqual([2, 2]);
      // TX still works after RX stopped.
      chan.send();
      chan.free();
      remote.ring();
      expect([chan.ignored, client.ignoredSeen]).toEqual([3, 3]);
      remote.close();
      remote.close();
      expect(remote.closed).toBe(true);
      remote.ring(); // a closed remote rings nothing
      expect(chan.ignored).toBe(3);
    });

    it('should deliver a ring made before the client listened once it does', async () => {
      const clock = new VirtualClock();
      const c = new SameThreadMailboxController(clock, { channels: 1 });
      c.remote(0).ring();
      const client = recorder(true);
      const chan = c.requestChannel(0, client);
      await clock.runTasks();
      expect(client.rx).toBe(1);
      chan.free();
    });
  });
});
