import {
  ScmiMessageType,
  ScmiShutdownError,
  ScmiStatus,
  ScmiStatusError,
  ScmiTimeoutError,
  ScmiTransportError,
  VirtualClock,
  type NotificationBuffer,
  type TransportChannel,
  type Xfer,
} from '../src/index.js';
import { NotificationHub } from '../src/notification/notification-hub.js';
import { ChannelRuntime, TransferEngine } from '../src/transfer/transfer-engine.js';

/** The response bytes the scripted channel delivers: header, `status` (SUCCESS), a 4-byte version. */
function response(header: number, status = 0): Uint8Array {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, header, true);
  view.setInt32(4, status, true);
  view.setUint32(8, 0x20000, true);
  return bytes;
}

/** `header` as the header of its delayed response. */
function delayed(header: number): number {
  return ((header & ~0x300) | (ScmiMessageType.DELAYED_RESPONSE << 8)) >>> 0;
}

/**
 * A transport channel whose `send` the test scripts: it answers later (`answer`), returns a
 * promise the test settles, or throws; it records every `markTxDone`.
 */
class ScriptedChannel implements TransportChannel {
  readonly maxInFlight = 4;
  /** What the next `send` does. */
  next: 'accept' | 'throw' | 'wait' = 'accept';
  /** The transfers sent and accepted (their responses not delivered yet). */
  readonly sent: Xfer[] = [];
  /** `markTxDone` calls: the transfer's token and the error passed. */
  readonly txDone: { token: number; error: unknown }[] = [];
  /** Settles the promise of a waiting `send`. */
  release: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  /** Responses `pollDone` reports as there. */
  readonly polled = new Set<Xfer>();
  /** When set, `pollDone` throws it (a transport breaking its contract). */
  pollError: Error | undefined = undefined;
  /** When set, `fetchResponse` throws it. */
  fetchError: Error | undefined = undefined;
  /** When set, `quiesce` rejects with it. */
  quiesceError: Error | undefined = undefined;

  /**
   * @param runtime - the A2P channel it serves (responses come back on it)
   * @param p2a - the P2A channel delayed responses come back on
   */
  constructor(
    readonly runtime: () => ChannelRuntime,
    readonly p2a: () => ChannelRuntime,
  ) {}

  send(xfer: Xfer): void | Promise<void> {
    if (this.next === 'throw') throw new RangeError('the wire is gone');
    if (this.next === 'wait') {
      return new Promise<void>((resolve, reject) => {
        this.release = {
          resolve: () => {
            this.sent.push(xfer);
            resolve();
          },
          reject,
        };
      });
    }
    this.sent.push(xfer);
  }

  /** Delivers the response (with `status`) to the oldest transfer sent; returns that transfer. */
  answer(status = 0): Xfer {
    const xfer = this.sent.shift();
    if (xfer === undefined) throw new Error('nothing sent');
    this.runtime().rx(xfer.header, response(xfer.header, status));
    return xfer;
  }

  /** Delivers the delayed response of `xfer` on the P2A channel. */
  answerDelayed(xfer: Xfer): void {
    const header = delayed(xfer.header);
    this.p2a().rx(header, response(header));
  }

  fetchResponse(xfer: Xfer, ctx: unknown): void {
    if (this.fetchError !== undefined) throw this.fetchError;
    const bytes = ctx instanceof Uint8Array ? ctx : response(xfer.header);
    const status = new DataView(bytes.buffer, bytes.byteOffset).getInt32(4, true);
    xfer.receiveResponse(status, bytes, 8, bytes.byteLength - 8);
  }

  fetchNotification(buffer: NotificationBuffer): void {
    buffer.length = 0;
  }

  pollDone(xfer: Xfer): boolean {
    if (this.pollError !== undefined) throw this.pollError;
    return this.polled.has(xfer);
  }

  markTxDone(xfer: Xfer, error: unknown): void {
    this.txDone.push({ token: xfer.token, error });
  }

  quiesce(): Promise<void> {
    return this.quiesceError === undefined ? Promise.resolve() : Promise.reject(this.quiesceError);
  }

  free(): void {}
}

/** A clock whose `yield` fails: what a broken injected clock does to a polling transfer. */
class FailingYieldClock extends VirtualClock {
  override yield(): Promise<void> {
    return Promise.reject(new Error('yield failed'));
  }
}

function setup(options: { polling?: boolean; clock?: VirtualClock } = {}): {
  engine: TransferEngine;
  channel: ChannelRuntime;
  p2a: ChannelRuntime;
  transport: ScriptedChannel;
  clock: VirtualClock;
  xfer: () => Xfer;
} {
  const clock = options.clock ?? new VirtualClock();
  const engine = new TransferEngine({
    agent: 'test',
    clock,
    poolSize: 4,
    maxMsgSize: 128,
    rxTimeoutMs: 30,
    asyncTimeoutMs: 2000,
    notifications: new NotificationHub('test', clock, 4, 128),
  });
  const channel = new ChannelRuntime(engine, 0, 'a2p', options.polling === true);
  const p2a = new ChannelRuntime(engine, 0, 'p2a', false);
  const transport = new ScriptedChannel(
    () => channel,
    () => p2a,
  );
  channel.attach(transport);
  p2a.attach(transport);
  const xfer = (): Xfer => {
    const x = engine.tryGet(channel, 0x10, 0x0, 0, 4);
    if (x === undefined) throw new Error('pool exhausted');
    return x;
  };
  return { engine, channel, p2a, transport, clock, xfer };
}

/** What `p` rejected with; undefined when it resolved. */
function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** What `fn` threw; undefined when it returned. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Whether the channel's quiesce finishes: every transfer operation on it ended. */
async function quiesces(channel: ChannelRuntime, clock: VirtualClock): Promise<boolean> {
  let done = false;
  void channel.quiesce().then(() => (done = true));
  await clock.settle();
  return done;
}

describe(TransferEngine, () => {
  describe('.do', () => {
    it('should resolve with the response copied, then call markTxDone once with no error', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const done = engine.do(channel, x);
      expect(transport.txDone).toEqual([]);
      transport.answer();
      await done;
      expect(Array.from(x.response())).toEqual([0, 0, 2, 0]);
      expect(transport.txDone).toEqual([{ token: x.token, error: undefined }]);
      expect(channel.counters.sent).toBe(1);
      expect(channel.counters.completed).toBe(1);
      expect(engine.armedDeadlines).toBe(0);
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it('should fail a send that throws with E_SEND (cause kept), count it, owe no markTxDone and end the operation', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.next = 'throw';
      const x = xfer();
      const caught = await failure(engine.do(channel, x));
      expect(caught).toBeInstanceOf(ScmiTransportError);
      expect(caught).toMatchObject({ code: 'E_SEND' });
      expect((caught as Error).cause).toBeInstanceOf(RangeError);
      expect(x.state).toBe('failed');
      expect(channel.counters.failed).toBe(1);
      expect(channel.counters.sent).toBe(0);
      expect(transport.txDone).toEqual([]);
      expect(engine.pool.lookup(x.token)).toBeUndefined();
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it('should wait for a send that waits, then for the response', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.next = 'wait';
      const x = xfer();
      const done = engine.do(channel, x);
      await clock.settle();
      expect(channel.counters.sent).toBe(0);
      expect(await quiesces(channel, clock)).toBe(false); // the operation is still running
      transport.release?.resolve();
      await clock.settle();
      expect(channel.counters.sent).toBe(1);
      expect(engine.armedDeadlines).toBe(1);
      transport.answer();
      await done;
      expect(transport.txDone).toEqual([{ token: x.token, error: undefined }]);
      expect(engine.armedDeadlines).toBe(0);
    });

    it('should fail a waiting send that rejects like one that throws: E_SEND, counted once, no markTxDone', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.next = 'wait';
      const x = xfer();
      const done = engine.do(channel, x);
      transport.release?.reject(new RangeError('no slot'));
      await expect(done).rejects.toMatchObject({ code: 'E_SEND' });
      expect(channel.counters.failed).toBe(1);
      expect(transport.txDone).toEqual([]);
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it('should fail with ScmiShutdownError a transfer whose send was still waiting at shutdown, and still call markTxDone once it was sent', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.next = 'wait';
      const x = xfer();
      const done = engine.do(channel, x);
      engine.shutdown();
      transport.release?.resolve();
      await expect(done).rejects.toBeInstanceOf(ScmiShutdownError);
      expect(channel.counters.failed).toBe(1);
      expect(transport.txDone).toHaveLength(1);
      expect(transport.txDone[0]?.error).toBeInstanceOf(ScmiShutdownError);
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it("should let the caller of a send still waiting go at shutdown, and end the channel operation only when the transport's send settles", async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.next = 'wait';
      const x = xfer();
      const done = engine.do(channel, x);
      engine.shutdown();
      // Rejected while the transport still holds the send (a slot wait, an invocation).
      await expect(done).rejects.toBeInstanceOf(ScmiShutdownError);
      expect(channel.counters.failed).toBe(1);
      expect(transport.txDone).toEqual([]);
      // Its caller puts it back: the transport still holds it, so it stays as it is until then.
      engine.put(x);
      expect(x.state).toBe('failed');
      expect(x.error).toBeInstanceOf(ScmiShutdownError);
      // The channel's quiesce still waits for the send to settle: its buffer is the transport's.
      let quiesced = false;
      const quiescing = channel.quiesce().then(() => {
        quiesced = true;
      });
      await clock.settle();
      expect(quiesced).toBe(false);
      // The command went out after all: markTxDone once, with the shutdown error; then the end.
      expect(channel.counters.sent).toBe(0);
      transport.release?.resolve();
      await quiescing;
      expect(channel.counters.sent).toBe(1);
      expect(transport.txDone).toHaveLength(1);
      expect(transport.txDone[0]?.error).toBeInstanceOf(ScmiShutdownError);
      expect(x.state).toBe('free');
    });

    it('should let the caller of a send still waiting go at once with the reason when it gives the transfer up, the transport finishing with it later', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.next = 'wait';
      const x = xfer();
      const done = engine.do(channel, x);
      await clock.settle();
      const reason = new Error('given up');
      engine.abandon(x, reason);
      // The caller goes now, with the reason — not with what the transport says of a failed
      // transfer when it finally looks at it.
      expect(await failure(done)).toBe(reason);
      expect(channel.counters.failed).toBe(1);
      engine.put(x);
      expect(x.state).toBe('failed');
      expect(await quiesces(channel, clock)).toBe(false);
      // The transport refuses the failed transfer (as the mailbox, virtio and OP-TEE do): the
      // reason stands, counted once.
      transport.release?.reject(new RangeError('refused: the transfer failed'));
      expect(await quiesces(channel, clock)).toBe(true);
      expect(channel.counters.failed).toBe(1);
      expect(transport.txDone).toEqual([]);
      // Put back once the transport let it go.
      expect(x.state).toBe('free');
    });

    it('should fail a transfer waiting for its response with the reason when it is given up, and leave an answered one alone', async () => {
      const { channel, transport, engine, xfer } = setup();
      const x = xfer();
      const done = engine.do(channel, x);
      const reason = new Error('given up');
      engine.abandon(x, reason);
      expect(await failure(done)).toBe(reason);
      expect(transport.txDone).toEqual([{ token: x.token, error: reason }]);
      expect(engine.pool.isRetired(x.token)).toBe(true);
      engine.put(x);
      const y = xfer();
      const answered = engine.do(channel, y);
      transport.answer();
      await answered;
      engine.abandon(y, reason);
      expect(y.state).toBe('response');
      expect(channel.counters.failed).toBe(1);
    });

    it('should leave an asynchronous command answered with an error status to that status when it is given up right then', async () => {
      const { channel, transport, engine, xfer } = setup();
      const x = xfer();
      const done = engine.doWithResponse(channel, x);
      // The response is in (an error status: no delayed response can follow), its caller not
      // told yet.
      transport.answer(ScmiStatus.DENIED);
      engine.abandon(x, new Error('given up'));
      expect(await failure(done)).toMatchObject({ status: ScmiStatus.DENIED });
      expect(channel.counters).toMatchObject({ failed: 0, completed: 1 });
    });

    it('should let the caller go at once when the engine shuts down inside the send that then waits', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.next = 'wait';
      const send = transport.send.bind(transport);
      transport.send = (x: Xfer): void | Promise<void> => {
        const waiting = send(x);
        engine.shutdown(); // as a removal run from a callback inside the transport's send
        return waiting;
      };
      const done = engine.do(channel, xfer());
      await expect(done).rejects.toBeInstanceOf(ScmiShutdownError);
      transport.release?.resolve();
      expect(await quiesces(channel, clock)).toBe(true);
      expect(transport.txDone).toHaveLength(1);
    });

    it('should end the operation of a send let go at shutdown without markTxDone when the transport then refuses it', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.next = 'wait';
      const done = engine.do(channel, xfer());
      engine.shutdown();
      await expect(done).rejects.toBeInstanceOf(ScmiShutdownError);
      transport.release?.reject(new ScmiShutdownError('agent', 'send'));
      expect(await quiesces(channel, clock)).toBe(true);
      expect(transport.txDone).toEqual([]);
      expect(channel.counters.failed).toBe(1);
      expect(channel.counters.sent).toBe(0);
    });

    it('should complete a polling transfer when a later poll finds the response', async () => {
      const { channel, transport, engine, xfer, clock } = setup({ polling: true });
      const x = xfer();
      const done = engine.do(channel, x);
      await clock.advance(1);
      expect(x.state).toBe('sent'); // polled, not there yet
      transport.polled.add(x);
      await clock.advance(1);
      await done;
      expect(Array.from(x.response())).toEqual([0, 0, 2, 0]);
      expect(transport.txDone).toEqual([{ token: x.token, error: undefined }]);
    });

    it('should time a polling transfer out at rxTimeoutMs when no poll finds its response, and call markTxDone with the timeout', async () => {
      const { channel, transport, engine, xfer, clock } = setup({ polling: true });
      const x = xfer();
      const done = failure(engine.do(channel, x));
      await clock.advance(29.9);
      expect(x.state).toBe('sent'); // still polling just before the deadline
      expect(channel.counters.timeouts).toBe(0);
      await clock.advance(0.2);
      const error = await done;
      expect(error).toBeInstanceOf(ScmiTimeoutError);
      expect(error).toMatchObject({ phase: 'response' });
      expect(x.state).toBe('timed-out');
      expect([channel.counters.timeouts, channel.counters.failed]).toEqual([1, 0]);
      expect(transport.txDone).toEqual([{ token: x.token, error }]);
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it("should fail a polling transfer with E_POLL (the clock's error as cause) when yield fails, and still call markTxDone", async () => {
      const { channel, transport, engine, xfer, clock } = setup({
        polling: true,
        clock: new FailingYieldClock(),
      });
      const x = xfer();
      const error: unknown = await failure(engine.do(channel, x));
      expect(error).toBeInstanceOf(ScmiTransportError);
      expect(error).toMatchObject({ code: 'E_POLL', cause: new Error('yield failed') });
      expect(x.state).toBe('failed');
      expect(channel.counters.failed).toBe(1);
      expect(transport.txDone).toHaveLength(1);
      expect(await quiesces(channel, clock)).toBe(true);
    });
  });

  describe("when the transport's pollDone throws", () => {
    const broken = new RangeError('ring unreadable');

    it.each([
      ['on the first poll, right after send', 'accept'],
      ['on the first poll after a send that waited', 'wait'],
    ] as const)(
      'should fail the transfer with E_POLL %s, call markTxDone and end the channel operation',
      async (_when, next) => {
        const { channel, transport, engine, xfer, clock } = setup({ polling: true });
        transport.next = next;
        transport.pollError = broken;
        const x = xfer();
        const done = failure(engine.do(channel, x));
        transport.release?.resolve();
        const error = await done;
        expect(error).toBeInstanceOf(ScmiTransportError);
        expect(error).toMatchObject({ code: 'E_POLL', cause: broken });
        expect(channel.counters.failed).toBe(1);
        expect(transport.txDone).toEqual([{ token: x.token, error }]);
        expect(await quiesces(channel, clock)).toBe(true);
      },
    );

    it('should fail the transfer with E_POLL when the deadline re-check throws (not out of the timer)', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const done = failure(engine.do(channel, x));
      transport.pollError = broken;
      await clock.advance(30);
      expect(await done).toMatchObject({ code: 'E_POLL', cause: broken });
      expect(channel.counters.timeouts).toBe(0);
      expect(channel.counters.failed).toBe(1);
      expect(transport.txDone).toHaveLength(1);
    });
  });

  describe('.doWithResponse', () => {
    it('should fail with E_FETCH at once when the delayed response cannot be read (no timeout)', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const done = failure(engine.doWithResponse(channel, x));
      transport.answer();
      await clock.settle(); // the response is in; the delayed response is awaited
      transport.fetchError = new RangeError('buffer gone');
      transport.answerDelayed(x);
      const error = await done;
      expect(error).toMatchObject({ code: 'E_FETCH', cause: transport.fetchError });
      expect(clock.now()).toBe(0);
      expect(channel.counters.failed).toBe(1);
      expect(channel.counters.badMessages.invalid).toBe(0);
      expect(transport.txDone).toHaveLength(1);
    });

    it('should refuse a delayed response after an error response, counting it invalid: the error stands', async () => {
      const { channel, p2a, transport, engine, xfer } = setup();
      const x = xfer();
      const done = engine.doWithResponse(channel, x);
      transport.answer(-6); // BUSY
      transport.answerDelayed(x); // in the same task, before the caller read the status
      await expect(done).rejects.toBeInstanceOf(ScmiStatusError);
      expect(p2a.counters.badMessages.invalid).toBe(1);
      expect(p2a.counters.delayedResponses).toBe(0);
    });
  });

  describe('when a message comes on a channel of the wrong direction', () => {
    it('should count a notification or delayed response on an A2P channel invalid, delivering nothing', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const done = failure(engine.doWithResponse(channel, x));
      const asNotification = ((x.header & ~0x300) | (ScmiMessageType.NOTIFICATION << 8)) >>> 0;
      channel.rx(asNotification, response(asNotification)); // a response retyped as notification
      channel.rx(delayed(x.header), response(delayed(x.header)));
      expect(channel.counters.badMessages.invalid).toBe(2);
      expect(channel.counters.notifications).toBe(0);
      transport.answer();
      transport.answerDelayed(x); // on the P2A channel: taken
      expect(await done).toBeUndefined();
      await clock.settle();
    });

    it('should count a response on a P2A channel invalid, leaving the command waiting', async () => {
      const { channel, p2a, transport, engine, xfer } = setup();
      const x = xfer();
      const done = failure(engine.do(channel, x));
      p2a.rx(x.header, response(x.header));
      expect(p2a.counters.badMessages.invalid).toBe(1);
      expect(channel.counters.completed).toBe(0);
      transport.answer();
      expect(await done).toBeUndefined();
    });
  });

  describe('ChannelRuntime.quiesce', () => {
    it("should still wait for every markTxDone when the transport's quiesce fails", async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.quiesceError = new Error('quiesce failed');
      const x = xfer();
      const done = engine.do(channel, x).catch(() => undefined);
      let settled = false;
      const quiesced = channel.quiesce().finally(() => (settled = true));
      await clock.settle();
      expect(settled).toBe(false); // the transfer is still on the wire
      engine.shutdown();
      await done;
      await expect(quiesced).rejects.toThrow('quiesce failed');
      expect(transport.txDone).toHaveLength(1);
    });
  });

  describe('RxSink.failInFlight', () => {
    const lost = (): ScmiTransportError =>
      new ScmiTransportError('E_TEST_LOST', 'the other end is gone');

    it('should fail at once, with the given error, the transfers waiting for their response on that A2P channel, and call markTxDone for each', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const a = xfer();
      const b = xfer();
      const doneA = failure(engine.do(channel, a));
      const doneB = failure(engine.do(channel, b));
      const error = lost();
      expect(channel.failInFlight(error)).toBe(2);
      expect(await doneA).toBe(error);
      expect(await doneB).toBe(error);
      expect(a.state).toBe('failed');
      expect(channel.counters.failed).toBe(2);
      expect(channel.counters.timeouts).toBe(0);
      expect(transport.txDone.map((t) => t.error)).toEqual([error, error]);
      expect(engine.armedDeadlines).toBe(0);
      await clock.advance(100); // no timeout follows
      expect(channel.counters.timeouts).toBe(0);
      // The platform's reply still comes: late, its token retired.
      transport.answer();
      expect(channel.counters.lateReplies).toBe(1);
      expect(channel.counters.badMessages.unexpected).toBe(0);
    });

    it('should leave alone a transfer on another A2P channel, one whose send still waits, and one answered already', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const other = new ChannelRuntime(engine, 1, 'a2p', false);
      other.attach(transport);
      const answered = xfer();
      const answeredDone = engine.do(channel, answered);
      transport.answer();
      await answeredDone;
      const elsewhere = xfer();
      const elsewhereDone = failure(engine.do(other, elsewhere));
      transport.next = 'wait';
      const waiting = xfer();
      const waitingDone = failure(engine.do(channel, waiting));
      expect(channel.failInFlight(lost())).toBe(0);
      expect(answered.state).toBe('response');
      expect(elsewhere.state).toBe('sent');
      expect(waiting.state).toBe('sent');
      // The waiting send is the transport's to refuse; the other channel's transfer times out.
      transport.release?.reject(lost());
      expect(await waitingDone).toMatchObject({ code: 'E_TEST_LOST' });
      await clock.advance(30);
      expect(await elsewhereDone).toBeInstanceOf(ScmiTimeoutError);
    });

    it('should fail a polled transfer: its poll loop ends at its next look, without a timeout', async () => {
      const { channel, transport, engine, xfer, clock } = setup({ polling: true });
      const x = xfer();
      const done = failure(engine.do(channel, x));
      await clock.advance(5);
      expect(channel.failInFlight(lost())).toBe(1);
      expect(x.state).toBe('failed');
      await clock.advance(1); // the poll loop's yield
      expect(await done).toMatchObject({ code: 'E_TEST_LOST' });
      expect(transport.txDone).toHaveLength(1);
      expect(channel.counters.timeouts).toBe(0);
    });

    it('should fail, on a P2A channel, the transfers waiting for their delayed response — also one whose wait is not armed yet — and not those waiting for their response', async () => {
      const { channel, p2a, transport, engine, xfer, clock } = setup();
      const waitingDelayed = xfer();
      const delayedDone = failure(engine.doWithResponse(channel, waitingDelayed));
      transport.answer(); // its response: now it waits for the delayed response
      await clock.settle();
      const justAnswered = xfer();
      const justDone = failure(engine.doWithResponse(channel, justAnswered));
      transport.answer(); // no microtask ran since: the delayed-response wait is not armed yet
      const waitingResponse = xfer();
      const responseDone = failure(engine.doWithResponse(channel, waitingResponse));
      const error = lost();
      expect(p2a.failInFlight(error)).toBe(2);
      expect(await delayedDone).toBe(error);
      expect(await justDone).toBe(error);
      expect(waitingResponse.state).toBe('sent');
      expect(channel.counters.failed).toBe(2); // counted on the channel that carried them
      expect(p2a.counters.failed).toBe(0);
      expect(engine.armedDeadlines).toBe(1); // the response wait of the third only
      // The delayed response that still comes is late.
      transport.answerDelayed(waitingDelayed);
      expect(p2a.counters.lateReplies).toBe(1);
      // The third's response comes: its delayed-response wait fails at once (the loss stands).
      transport.answer();
      expect(await responseDone).toBe(error);
      expect(clock.now()).toBe(0);
    });

    it('should keep the loss: a send the transport completed as it reported the loss fails once core sees it sent, and so does a later one', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      transport.next = 'wait';
      const x = xfer();
      const done = failure(engine.do(channel, x));
      transport.release?.resolve(); // the command is written…
      const error = lost();
      expect(channel.failInFlight(error)).toBe(0); // …but core has not seen it sent yet
      expect(await done).toBe(error);
      expect(transport.txDone).toEqual([{ token: x.token, error }]);
      transport.next = 'accept';
      const sent = transport.sent.length;
      const later = failure(engine.do(channel, xfer()));
      expect(await later).toBe(error);
      expect(transport.sent).toHaveLength(sent); // not handed to the transport at all
      expect([channel.counters.failed, channel.counters.timeouts]).toEqual([2, 0]);
      expect(transport.txDone).toHaveLength(1); // nothing sent: no markTxDone
      expect(engine.armedDeadlines).toBe(0);
      await clock.advance(100);
      expect(channel.counters.timeouts).toBe(0);
    });

    it('should keep a P2A loss: a delayed-response wait that starts later fails as soon as its response came', async () => {
      const { channel, p2a, transport, engine, xfer, clock } = setup();
      const error = lost();
      expect(p2a.failInFlight(error)).toBe(0);
      expect([channel.lost, p2a.lost]).toEqual([undefined, error]); // the A2P channel is sound
      const x = xfer();
      const done = failure(engine.doWithResponse(channel, x));
      transport.answer();
      expect(await done).toBe(error);
      expect(x.state).toBe('failed');
      expect([channel.counters.completed, channel.counters.failed]).toEqual([1, 1]);
      expect(engine.armedDeadlines).toBe(0);
      // A synchronous command is not affected.
      const y = xfer();
      const yDone = engine.do(channel, y);
      transport.answer();
      await yDone;
      await clock.advance(3000);
      expect(channel.counters.timeouts).toBe(0);
    });

    it('should wrap a value that is not an SCMI error', async () => {
      const { channel, engine, xfer } = setup();
      const done = failure(engine.do(channel, xfer()));
      expect(channel.failInFlight('gone')).toBe(1);
      const error = await done;
      expect(error).toBeInstanceOf(ScmiTransportError);
      expect(error).toMatchObject({ code: 'E_CHANNEL_LOST' });
    });

    it('should fail nothing once the engine shut down, nor keep a loss reported after it', async () => {
      const { channel, engine, xfer } = setup();
      const y = xfer();
      const yDone = failure(engine.do(channel, y));
      engine.shutdown();
      expect(channel.failInFlight(lost())).toBe(0);
      expect(await yDone).toBeInstanceOf(ScmiShutdownError);
      expect(channel.lost).toBeUndefined();
    });
  });

  describe('a reply to a transfer that failed', () => {
    it('should be counted late, not unexpected, when it comes after the shutdown failed its transfer', async () => {
      const { channel, transport, engine, xfer } = setup();
      const x = xfer();
      const done = failure(engine.do(channel, x));
      engine.shutdown();
      expect(await done).toBeInstanceOf(ScmiShutdownError);
      transport.answer(); // the platform answers the command the shutdown gave up on
      expect(channel.counters.lateReplies).toBe(1);
      expect(channel.counters.badMessages.unexpected).toBe(0);
    });
  });

  describe('Xfer.receiveResponse', () => {
    it('should copy nothing from an offset outside the source or for a length that is not a finite count', () => {
      const { xfer } = setup();
      const x = xfer();
      const source = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
      for (const [offset, length] of [
        [-4, 4],
        [1.5, 4],
        [Number.NaN, 4],
        [0, Number.NaN],
        [0, -8],
        [0, Number.POSITIVE_INFINITY],
      ] as const) {
        x.rx.fill(0xee);
        x.receiveResponse(0, source, offset, length);
        expect([offset, length, x.rxLen]).toEqual([offset, length, 0]);
      }
      x.receiveResponse(0, source, 2, 2);
      expect(Array.from(x.response())).toEqual([3, 4]);
    });

    it('should store a status that is not a finite number as PROTOCOL_ERROR, never SUCCESS', () => {
      const { xfer } = setup();
      const x = xfer();
      x.receiveResponse(Number.NaN, new Uint8Array(0), 0, 0);
      expect(x.status).toBe(-10);
      x.receiveResponse(0xffffffff, new Uint8Array(0), 0, 0);
      expect(x.status).toBe(-1);
    });
  });

  describe('transfer state', () => {
    it('should send a transfer again after its response, with its token (as Linux iterators do)', async () => {
      const { channel, transport, engine, xfer } = setup();
      const x = xfer();
      for (let i = 0; i < 2; i++) {
        const done = engine.do(channel, x);
        expect(transport.answer()).toBe(x);
        await done;
      }
      expect([channel.counters.sent, channel.counters.completed]).toEqual([2, 2]);
    });

    it('should refuse with E_XFER_STATE to send a transfer in flight, changing nothing', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const first = engine.do(channel, x);
      expect(await failure(engine.do(channel, x))).toMatchObject({ code: 'E_XFER_STATE' });
      expect(await failure(engine.doWithResponse(channel, x))).toMatchObject({
        code: 'E_XFER_STATE',
      });
      expect(x.isAsync).toBe(false); // not marked asynchronous by the refused call
      expect(channel.counters.sent).toBe(1);
      transport.answer();
      await first;
      expect(transport.txDone).toEqual([{ token: x.token, error: undefined }]);
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it('should refuse with E_XFER_STATE to send again a transfer that timed out or failed: its token is out of the pending table', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const timedOut = failure(engine.do(channel, x));
      await clock.advance(30);
      expect(await timedOut).toBeInstanceOf(ScmiTimeoutError);
      expect(await failure(engine.do(channel, x))).toMatchObject({ code: 'E_XFER_STATE' });
      expect(channel.counters.sent).toBe(1);
      engine.put(x);
      transport.next = 'throw';
      const y = xfer();
      expect(await failure(engine.do(channel, y))).toMatchObject({ code: 'E_SEND' });
      expect(thrown(() => engine.begin(channel, y))).toMatchObject({ code: 'E_XFER_STATE' });
      expect([channel.counters.sent, channel.counters.failed]).toEqual([1, 1]);
      engine.put(y);
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it('should refuse to put back or send again a transfer in flight (sent, or waiting for its delayed response), changing nothing', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const done = engine.doWithResponse(channel, x);
      expect(thrown(() => engine.put(x))).toMatchObject({ code: 'E_XFER_STATE' });
      transport.answer();
      await clock.settle(); // the response is in; the delayed response is awaited
      expect(thrown(() => engine.put(x))).toMatchObject({ code: 'E_XFER_STATE' });
      // Nor sent again while it waits for its delayed response.
      expect(await failure(engine.do(channel, x))).toMatchObject({ code: 'E_XFER_STATE' });
      expect(channel.counters.sent).toBe(1);
      transport.answerDelayed(x);
      await done;
      engine.put(x);
      expect(x.state).toBe('free');
      engine.put(x); // a no-op once free
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it('should refuse to put back a transfer between its response and the wait for its delayed response', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const done = engine.doWithResponse(channel, x);
      transport.answer();
      // Right after the response settled the phase, before doWithResponse armed its next wait.
      await Promise.resolve();
      expect(x.state).toBe('response');
      expect(thrown(() => engine.put(x))).toMatchObject({ code: 'E_XFER_STATE' });
      expect(await failure(engine.do(channel, x))).toMatchObject({ code: 'E_XFER_STATE' });
      await clock.settle();
      transport.answerDelayed(x);
      await expect(done).resolves.toBeUndefined();
      expect(channel.counters.sent).toBe(1);
      engine.put(x);
      expect(x.state).toBe('free');
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it('should never hand out again a transfer put back with replace: a second put or a send of it cannot reach the transfer of whoever got the next one', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const held = Array.from({ length: 4 }, xfer); // the whole pool
      const x = held[0] as Xfer;
      const done = engine.do(channel, x);
      transport.answer();
      await done;
      const waiting = engine.get(channel, 0x10, 0x0, 0, 4); // the pool is empty: it waits
      const [tx, rx] = [x.tx, x.rx];
      engine.put(x, true);
      const y = await waiting;
      expect(y).not.toBe(x); // a new transfer took x's place, with x's buffers (none allocated)
      expect(y.tx === tx && y.rx === rx).toBe(true);
      expect([x.tx.byteLength, x.rx.byteLength]).toEqual([0, 0]);
      expect(y.state).toBe('allocated');
      engine.put(x, true); // stale: a no-op, y stays taken
      engine.put(x);
      expect(y.state).toBe('allocated');
      expect(engine.pool.lookup(y.token)).toBe(y);
      expect(engine.pool.inUse).toBe(4);
      expect(await failure(engine.do(channel, x))).toMatchObject({ code: 'E_XFER_STATE' });
      expect(channel.counters.sent).toBe(1);
      const sent = engine.do(channel, y); // y works as any transfer
      transport.answer();
      await sent;
      for (const h of [y, ...held.slice(1)]) engine.put(h, true);
      expect(engine.pool.inUse).toBe(0);
      // The pool keeps its size, and the objects it hands out now are none put back with replace.
      const again = Array.from({ length: 4 }, xfer);
      expect(again.some((a) => a === x || a === y || held.includes(a))).toBe(false);
      expect(engine.pool.tryGet()).toBeUndefined();
      for (const a of again) engine.put(a);
      expect(xfer()).toBe(again[3]); // without replace, the object is reused
      expect(await quiesces(channel, clock)).toBe(true);
    });
  });

  describe('.begin and .end', () => {
    it('should be do() in two halves: begin sends and returns what to wait for, end calls markTxDone and throws the outcome', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const waiting = engine.begin(channel, x);
      expect(waiting).toBeInstanceOf(Promise);
      expect(channel.counters.sent).toBe(1);
      transport.answer();
      await waiting;
      expect(transport.txDone).toEqual([]); // not before end
      expect(await quiesces(channel, clock)).toBe(false);
      engine.end(channel, x);
      expect(transport.txDone).toEqual([{ token: x.token, error: undefined }]);
      expect(await quiesces(channel, clock)).toBe(true);
    });

    it('should return nothing to wait for when the first poll finds the response', () => {
      const { channel, transport, engine, xfer } = setup({ polling: true });
      const x = xfer();
      const accept = transport.send.bind(transport);
      transport.send = (t: Xfer): void | Promise<void> => {
        transport.polled.add(t);
        return accept(t);
      };
      expect(engine.begin(channel, x)).toBeUndefined();
      engine.end(channel, x);
      expect(transport.txDone).toHaveLength(1);
    });

    it('should end with the timeout when no response came in time', async () => {
      const { channel, transport, engine, xfer, clock } = setup();
      const x = xfer();
      const waiting = engine.begin(channel, x);
      await clock.advance(30);
      await waiting;
      expect(() => engine.end(channel, x)).toThrow(ScmiTimeoutError);
      expect(transport.txDone[0]?.error).toBeInstanceOf(ScmiTimeoutError);
      expect(channel.counters.timeouts).toBe(1);
    });

    it('should throw at once, with nothing to end, after shutdown or on a channel not set up', () => {
      const { channel, engine, xfer } = setup();
      const x = xfer();
      const bare = new ChannelRuntime(engine, 1, 'a2p', false);
      let error: unknown;
      try {
        void engine.begin(bare, x);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ScmiTransportError);
      expect(error).toMatchObject({ code: 'E_NO_CHANNEL' });
      engine.shutdown();
      expect(() => engine.begin(channel, x)).toThrow(ScmiShutdownError);
    });
  });
});
