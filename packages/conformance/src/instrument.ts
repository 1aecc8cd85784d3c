import type {
  BadMessageReason,
  ChannelCounters,
  ChannelSetup,
  Clock,
  ClockTimerOptions,
  NotificationBuffer,
  RxSink,
  TimerHandle,
  Transport,
  TransportChannel,
  Xfer,
} from '@scmi-ts/core';
import { checkDevresSteps, type DevresEvent } from '@scmi-ts/devres';

/** Where an instrumented channel is in its life. */
export type InstrumentedChannelState = 'open' | 'quiescing' | 'quiesced' | 'freeing' | 'freed';

/** What the instrument knows about one channel. */
export interface ChannelRecord {
  /** `a2p:0`, `p2a:0`… */
  readonly label: string;
  /** Core's counters of the channel. */
  readonly counters: ChannelCounters;
  /** Where the channel is in its life. */
  state: InstrumentedChannelState;
  /** Clock times of each `sink.rx` call. */
  readonly rxTimes: number[];
  /** Calls core made to the channel's `pollDone` (0 on a transport without one). */
  polls: number;
}

/**
 * Wraps a transport so that every callback into core is checked against the channel's life: a
 * `sink.rx` / `badMessage` / `failInFlight` after the channel's quiesce returned, and any call
 * between core and the channel (either way: `fetchResponse`, `pollDone`, `markTxDone`…) after its
 * free began, is a **violation** — exactly the bug of the seed race. Not flagged: a callback while
 * the quiesce runs (one already inside the RX guard when it closed is what the quiesce waits for;
 * the wrapper cannot tell it from a late one), and core's calls into a quiesced channel before its
 * free (core fails the transfers still in flight in a later quiesce step, and calls `markTxDone`
 * for them then). Transport-agnostic: it only sees the plugin contract.
 *
 * @example
 * ```ts
 * const instrument = new TransportInstrument(clock);
 * bind(TRANSPORT).toConstantValue(instrument.wrap(ends.transport));
 * // … run a scenario …
 * expect(instrument.violations).toEqual([]);
 * ```
 */
export class TransportInstrument {
  /** Every violation seen, as a readable line. */
  public readonly violations: string[] = [];
  /** Every channel set up through the wrapped transport, in order. */
  public readonly channels: ChannelRecord[] = [];
  /**
   * Called with the channel and the header of each `sink.rx` call, before core handles it (set by a
   * case that checks the order in which messages reached the agent).
   */
  public onRx: ((record: ChannelRecord, header: number) => void) | undefined;
  /**
   * Called when a channel's quiesce step has started — its quiesce called, not yet returned (for
   * a step that does not wait, the guard is closed by then) — so that a case can deliver a signal
   * into the draining channel.
   */
  public onQuiesceStarted: ((record: ChannelRecord) => void) | undefined;
  readonly #clock: Clock;

  /** Creates an instrument reading times from `clock`. */
  public constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Late replies dropped by core, over every channel. */
  public get lateReplies(): number {
    return this.channels.reduce((n, c) => n + c.counters.lateReplies, 0);
  }

  /**
   * Responses core dropped because their delayed response had overtaken them (core's
   * `overtakenResponses`), over every channel.
   */
  public get overtakenResponses(): number {
    return this.channels.reduce((n, c) => n + c.counters.overtakenResponses, 0);
  }

  /** Callbacks refused by the channels' RX guards after quiesce. */
  public get refusedAfterQuiesce(): number {
    return this.channels.reduce((n, c) => n + c.counters.refusedAfterQuiesce, 0);
  }

  /** Commands failed in the transport (a reply that could not be read…), over every channel. */
  public get failed(): number {
    return this.channels.reduce((n, c) => n + c.counters.failed, 0);
  }

  /** Bad messages by reason, summed over every channel. */
  public badMessages(): Record<BadMessageReason, number> {
    const sum: Record<BadMessageReason, number> = {
      unexpected: 0,
      invalid: 0,
      unknown: 0,
      nomem: 0,
      spurious: 0,
      oversize: 0,
    };
    for (const c of this.channels) {
      for (const k of Object.keys(sum) as BadMessageReason[]) sum[k] += c.counters.badMessages[k];
    }
    return sum;
  }

  /** The transport with every channel and every sink instrumented. */
  public wrap(transport: Transport): Transport {
    const wrapped: Transport = {
      descriptor: transport.descriptor,
      setupChannel: async (setup) => {
        const record: ChannelRecord = {
          label: `${setup.direction}:${setup.channel.id}`,
          counters: setup.counters,
          state: 'open',
          rxTimes: [],
          polls: 0,
        };
        this.channels.push(record);
        const inner = await transport.setupChannel({
          ...setup,
          sink: this.#wrapSink(record, setup.sink),
        });
        return this.#wrapChannel(record, inner);
      },
    };
    // Every optional hook the transport has, so that the agent is set up as a user's would be
    // (without `maxMsgFor`, core would size the transfer pool from the descriptor instead).
    if (transport.validateConfig !== undefined)
      wrapped.validateConfig = transport.validateConfig.bind(transport);
    if (transport.maxMsgFor !== undefined) wrapped.maxMsgFor = transport.maxMsgFor.bind(transport);
    if (transport.validateChannelConfig !== undefined) {
      wrapped.validateChannelConfig = transport.validateChannelConfig.bind(transport);
    }
    if (transport.validateChannels !== undefined) {
      wrapped.validateChannels = transport.validateChannels.bind(transport);
    }
    if (transport.setupDevice !== undefined)
      wrapped.setupDevice = transport.setupDevice.bind(transport);
    return wrapped;
  }

  #check(record: ChannelRecord, what: string): void {
    if (record.state === 'quiesced')
      this.violations.push(`${record.label}: ${what} after its quiesce returned`);
    else if (record.state === 'freeing' || record.state === 'freed')
      this.violations.push(`${record.label}: ${what} after its free began`);
  }

  #wrapSink(record: ChannelRecord, sink: ChannelSetup['sink']): RxSink {
    return {
      rx: (header, ctx) => {
        this.#check(record, 'sink.rx');
        record.rxTimes.push(this.#clock.now());
        this.onRx?.(record, header);
        sink.rx(header, ctx);
      },
      badMessage: (reason) => {
        this.#check(record, `sink.badMessage(${reason})`);
        sink.badMessage(reason);
      },
      failInFlight: (error) => {
        this.#check(record, 'sink.failInFlight');
        return sink.failInFlight(error);
      },
    };
  }

  #wrapChannel(record: ChannelRecord, inner: TransportChannel): TransportChannel {
    const check = (what: string): void => {
      if (record.state === 'freeing' || record.state === 'freed')
        this.violations.push(`${record.label}: ${what} after its free began`);
    };
    const channel: TransportChannel = {
      maxInFlight: inner.maxInFlight,
      send: (xfer: Xfer) => {
        check('send');
        return inner.send(xfer);
      },
      fetchResponse: (xfer: Xfer, ctx: unknown) => {
        check('fetchResponse');
        inner.fetchResponse(xfer, ctx);
      },
      fetchNotification: (buffer: NotificationBuffer, ctx: unknown) => {
        check('fetchNotification');
        inner.fetchNotification(buffer, ctx);
      },
      markTxDone: (xfer: Xfer, error: unknown) => {
        check('markTxDone');
        inner.markTxDone(xfer, error);
      },
      quiesce: async () => {
        record.state = 'quiescing';
        const quiescing = inner.quiesce();
        try {
          this.onQuiesceStarted?.(record);
        } finally {
          // Awaited even when the hook throws: the channel's quiesce is never left unawaited.
          await quiescing;
        }
        record.state = 'quiesced';
      },
      free: async () => {
        if (record.state !== 'quiesced')
          this.violations.push(`${record.label}: free before its quiesce returned`);
        record.state = 'freeing';
        await inner.free();
        record.state = 'freed';
      },
    };
    const clear = inner.clearChannel?.bind(inner);
    if (clear !== undefined) {
      channel.clearChannel = (ctx) => {
        check('clearChannel');
        clear(ctx);
      };
    }
    const poll = inner.pollDone?.bind(inner);
    if (poll !== undefined) {
      channel.pollDone = (xfer) => {
        check('pollDone');
        record.polls++;
        return poll(xfer);
      };
    }
    return channel;
  }
}

/**
 * Checks a device's devres event log: every resource released exactly once, newest first (in
 * reverse order of registration), and in each device teardown every quiesce step before the first
 * release step. From the steps' end events (devres's `checkDevresSteps`): every step that began
 * has ended (by its teardown's end), and in a teardown no release step the teardown runs in turn
 * begins while a quiesce step or another release step of the device is still running — so a slow
 * asynchronous step cannot overlap the next one unseen. (An early release, reason
 * `early-release`, may: the teardown joins it.)
 * Returns the problems found (empty when none).
 *
 * Resources are told apart by device, group and name. Names may repeat (two buffers both called
 * `buf`): then each name must be released as many times as it was registered (less the entries
 * forgotten), so a resource released twice is reported even when another of the same name was
 * never released.
 *
 * @example
 * ```ts
 * expect(checkTeardownLog(log.events)).toEqual([]);
 * ```
 */
export function checkTeardownLog(events: readonly DevresEvent[]): string[] {
  const problems: string[] = [];
  const name = (e: DevresEvent): string => `${e.group}/${e.resource}`;
  const key = (e: DevresEvent): string => `${e.device}\u0000${e.group}/${e.resource}`;
  const registered = new Map<string, number>();
  const released = new Map<string, number>();
  const labels = new Map<string, string>();
  for (const e of events) {
    if (e.type !== 'add' && e.type !== 'forget' && e.type !== 'release') continue;
    const k = key(e);
    labels.set(k, name(e));
    if (e.type === 'release') released.set(k, (released.get(k) ?? 0) + 1);
    else registered.set(k, (registered.get(k) ?? 0) + (e.type === 'add' ? 1 : -1));
  }
  for (const [k, n] of released) {
    const r = registered.get(k) ?? 0;
    if (n > r) {
      problems.push(
        `a resource was released twice: ${labels.get(k) ?? k} released ${n} time(s), registered ${r} time(s)`,
      );
    }
  }
  // Per device: the registrations still owned by the devres, in order (a forgotten entry is not
  // released), must be released newest first.
  const devices = new Set(events.map((e) => e.device));
  for (const device of devices) {
    const own = events.filter((e) => e.device === device);
    const owned: DevresEvent[] = [];
    for (const e of own) {
      if (e.type === 'add') owned.push(e);
      else if (e.type === 'forget') {
        const i = owned.map(key).lastIndexOf(key(e));
        if (i >= 0) owned.splice(i, 1);
      }
    }
    const expected = owned.map(name).reverse();
    const releases = own.filter((e) => e.type === 'release').map(name);
    if (JSON.stringify(releases) !== JSON.stringify(expected)) {
      problems.push(
        `${devices.size > 1 ? `${device}: ` : ''}releases ${JSON.stringify(releases)} are not the registrations reversed ${JSON.stringify(expected)}`,
      );
    }
  }
  // Each teardown (from its teardown-begin to the device's teardown-end) on its own: a later
  // teardown that releases before it quiesces is as wrong as the first.
  events.forEach((e, begin) => {
    if (e.type !== 'teardown-begin') return;
    const rest = events.slice(begin + 1);
    const end = rest.findIndex((x) => x.type === 'teardown-end' && x.device === e.device);
    const teardown = (end < 0 ? rest : rest.slice(0, end)).filter((x) => x.device === e.device);
    const lastQuiesce = teardown.map((x) => x.type).lastIndexOf('quiesce');
    const firstRelease = teardown.findIndex((x) => x.type === 'release');
    if (firstRelease >= 0 && lastQuiesce > firstRelease)
      problems.push(`${e.device}: a quiesce step ran after a release step`);
  });
  problems.push(...checkDevresSteps(events));
  return problems;
}

/**
 * A clock that counts the timers armed through it, so that a run on real time can check that no
 * timer is left armed (a `VirtualClock` counts its own).
 *
 * @example
 * ```ts
 * const clock = new CountingClock(new RealClock());
 * // … run …
 * expect(clock.armedTimers).toBe(0);
 * ```
 */
export class CountingClock implements Clock {
  readonly #inner: Clock;
  #armed = 0;

  /** Wraps `inner`. */
  public constructor(inner: Clock) {
    this.#inner = inner;
  }

  /** Timers armed and neither fired nor cancelled. */
  public get armedTimers(): number {
    return this.#armed;
  }

  /** @inheritDoc */
  public now(): number {
    return this.#inner.now();
  }

  /** @inheritDoc */
  public setTimeout(cb: () => void, ms: number, options?: ClockTimerOptions): TimerHandle {
    let live = true;
    this.#armed++;
    const handle = this.#inner.setTimeout(
      () => {
        if (live) {
          live = false;
          this.#armed--;
        }
        cb();
      },
      ms,
      options,
    );
    return {
      cancel: () => {
        if (live) {
          live = false;
          this.#armed--;
        }
        handle.cancel();
      },
    };
  }

  /** @inheritDoc */
  public schedule(cb: () => void): void {
    this.#inner.schedule(cb);
  }

  /** @inheritDoc */
  public yield(): Promise<void> {
    return this.#inner.yield();
  }
}
