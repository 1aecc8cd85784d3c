import { fieldOfConfigError } from '../../core/test/support/code-of.js';
import { ScmiConfigError } from '@scmi-ts/core';
import {
  SharedMailboxController,
  SharedMailboxRemote,
  type MailboxClient,
} from '@scmi-ts/mailbox-transport';
import { codeOf } from './support/harness.js';
import { sleepsAfterExchange } from './support/poll-window.js';

/** Resolves when `cond` holds, checking on each event-loop turn (bounded). */
async function until(cond: () => boolean, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

function client(knowsTxDone?: boolean): MailboxClient & { rx: number; done: unknown[] } {
  const c = {
    rx: 0,
    done: [] as unknown[],
    rxCallback: () => {
      c.rx++;
    },
    txDone: (e: unknown) => {
      c.done.push(e);
    },
    ...(knowsTxDone === undefined ? {} : { knowsTxDone }),
  };
  return c;
}

describe(SharedMailboxController, () => {
  describe('.allocate', () => {
    it('should refuse a bad channel count', () => {
      expect(() => SharedMailboxController.allocate(0)).toThrow(RangeError);
      expect(() => SharedMailboxController.allocate(2000)).toThrow(RangeError);
    });

    it('should refuse a txDoneMethod other than irq or poll with an ScmiConfigError naming it, not take it for poll', () => {
      const method = (v: unknown): 'irq' => v as 'irq';
      expect(() => SharedMailboxController.allocate(1, method('bogus'))).toThrow(ScmiConfigError);
      for (const bad of ['bogus', 'ack', null]) {
        expect(fieldOfConfigError(() => SharedMailboxController.allocate(1, method(bad)))).toBe(
          'txDoneMethod',
        );
      }
      const poll = new SharedMailboxController(SharedMailboxController.allocate(1, 'poll'));
      expect(poll.txDoneMethod).toBe('poll');
      expect(new SharedMailboxController(SharedMailboxController.allocate(1)).txDoneMethod).toBe(
        'irq',
      );
    });
  });

  describe('constructor', () => {
    it('should refuse a region it did not allocate', () => {
      expect(codeOf(() => new SharedMailboxController(new SharedArrayBuffer(64)))).toBe(
        'E_MBOX_REGION',
      );
      expect(
        codeOf(
          () => new SharedMailboxController(new ArrayBuffer(64) as unknown as SharedArrayBuffer),
        ),
      ).toBe('E_MBOX_REGION');
      const region = SharedMailboxController.allocate(1);
      expect(codeOf(() => new SharedMailboxRemote(region, 1))).toBe('E_MBOX_INDEX');
      expect(() => new SharedMailboxController(region, { txPollPeriodMs: -1 })).toThrow(RangeError);
    });
  });

  describe('.requestChannel', () => {
    it('should refuse an index out of range, a held channel (E_MBOX_BUSY) and a freed one (E_MBOX_FREED), as the contract says', () => {
      const controller = new SharedMailboxController(SharedMailboxController.allocate(2), {
        name: 'mhu',
      });
      expect(codeOf(() => controller.requestChannel(2, client()))).toBe('E_MBOX_INDEX');
      expect(codeOf(() => controller.requestChannel(0.5, client()))).toBe('E_MBOX_INDEX');
      const chan = controller.requestChannel(0, client());
      expect(codeOf(() => controller.requestChannel(0, client()))).toBe('E_MBOX_BUSY');
      chan.free();
      chan.free(); // idempotent
      expect(codeOf(() => controller.requestChannel(0, client()))).toBe('E_MBOX_FREED');
      expect(() => controller.requestChannel(0, client())).toThrow(
        'mhu: mailbox channel 0 was freed',
      );
      expect(controller.stats).toEqual({ requested: 1, freed: 1, inUse: 0 });
      // The other channel is untouched.
      controller.requestChannel(1, client()).free();
      expect(controller.stats).toEqual({ requested: 2, freed: 2, inUse: 0 });
    });
  });

  describe('poll window', () => {
    it('should refuse a bad pollWindowUs on either end with an ScmiConfigError naming it', () => {
      const region = SharedMailboxController.allocate(1);
      expect(
        fieldOfConfigError(() => new SharedMailboxController(region, { pollWindowUs: -1 })),
      ).toBe('pollWindowUs');
      expect(
        fieldOfConfigError(() => new SharedMailboxRemote(region, 0, { pollWindowUs: Infinity })),
      ).toBe('pollWindowUs');
    });

    it.each([
      [0, 1_000_000, true],
      [1_000_000, 0, true],
      [1_000_000, 1_000_000, false],
    ])(
      'should build the doorbells with the controller’s pollWindowUs %p and the remote’s %p (a new wait armed after an exchange: %p)',
      async (controllerWindow, remoteWindow, sleeps) => {
        const region = SharedMailboxController.allocate(1);
        const controller = new SharedMailboxController(region, { pollWindowUs: controllerWindow });
        const remote = new SharedMailboxRemote(region, 0, { pollWindowUs: remoteWindow });
        await expect(sleepsAfterExchange(controller, remote)).resolves.toBe(sleeps);
      },
    );
  });

  describe('having both ends on this thread', () => {
    it('should carry rings both ways with acknowledged TX, and free the listening handles', async () => {
      // A polled controller: the client that knows TX completion acknowledges it (ack).
      const region = SharedMailboxController.allocate(2, 'poll');
      const controller = new SharedMailboxController(region, { name: 'mhu' });
      expect([controller.channelCount, controller.txDoneMethod]).toEqual([2, 'poll']);
      const remote = new SharedMailboxRemote(region, 1);
      let heard = 0;
      remote.listen(() => {
        heard++;
        remote.ring();
      });
      const c = client(true);
      const chan = controller.requestChannel(1, c);
      expect(codeOf(() => controller.requestChannel(1, client()))).toBe('E_MBOX_BUSY');
      expect(codeOf(() => controller.requestChannel(2, client()))).toBe('E_MBOX_INDEX');
      chan.send();
      await until(() => c.rx === 1);
      expect(heard).toBe(1);
      chan.clientTxDone();
      expect(c.done).toEqual([undefined]);
      const before = timeouts();
      chan.stopRx(); // drops the handle that kept the thread alive to hear rings
      expect(timeouts()).toBe(before - 1);
      remote.ring();
      remote.ring();
      await until(() => chan.ignored === 2);
      chan.free();
      remote.close();
      expect(timeouts()).toBe(before - 2);
      expect(remote.closed).toBe(true);
      expect(controller.stats).toEqual({ requested: 1, freed: 1, inUse: 0 });
    });

    it('should count a ring made before RX stopped but not delivered yet as dropped', async () => {
      const region = SharedMailboxController.allocate(1);
      const controller = new SharedMailboxController(region);
      const remote = new SharedMailboxRemote(region, 0);
      const c = client(true);
      const chan = controller.requestChannel(0, c);
      expect(chan.ignored).toBe(0);
      remote.ring(); // the agent's wait loop has not woken yet...
      chan.stopRx(); // ...when RX stops
      remote.ring();
      await new Promise((resolve) => setImmediate(resolve));
      expect([c.rx, chan.ignored]).toEqual([0, 2]);
      chan.free();
      remote.close();
    });

    it('should learn TX completion by interrupt when the remote consumes the ring', async () => {
      const region = SharedMailboxController.allocate(1, 'irq');
      const controller = new SharedMailboxController(region);
      const remote = new SharedMailboxRemote(region, 0);
      remote.listen(() => undefined);
      const c = client();
      const chan = controller.requestChannel(0, c);
      chan.send();
      chan.send();
      await until(() => c.done.length === 2);
      expect(chan.txActive).toBe(false);
      chan.free();
      remote.close();
    });

    it('should keep the interrupt for a client that knows TX completion, completing TX when the remote consumes the ring', async () => {
      const region = SharedMailboxController.allocate(1, 'irq');
      const controller = new SharedMailboxController(region);
      const c = client(true);
      const chan = controller.requestChannel(0, c);
      expect(chan.txDoneMethod).toBe('irq');
      chan.send();
      chan.send();
      chan.clientTxDone(); // not the client's call on an irq controller (Linux: refused)
      expect([c.done, chan.txActive, chan.queued]).toEqual([[], true, 1]);
      const remote = new SharedMailboxRemote(region, 0);
      remote.listen(() => undefined); // consumes the rings: the TX-done interrupt ends each
      await until(() => c.done.length === 2);
      expect(chan.txActive).toBe(false);
      chan.free();
      remote.close();
    });

    it('should learn TX completion by polling the remote consumed sequence', async () => {
      const region = SharedMailboxController.allocate(1, 'poll');
      const controller = new SharedMailboxController(region, { txPollPeriodMs: 1 });
      expect(controller.txDoneMethod).toBe('poll');
      const c = client();
      const chan = controller.requestChannel(0, c);
      chan.send();
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(c.done).toEqual([]); // nobody consumed it yet
      const remote = new SharedMailboxRemote(region, 0);
      remote.listen(() => undefined); // the latched ring is consumed now
      await until(() => c.done.length === 1);
      chan.free();
      remote.close();
    });
  });
});
