import { ScmiMessageType, headerToken, headerType, type TransportChannel } from '@scmi-ts/core';
import { join } from 'node:path';
import type { FixtureEnds, TransportFixture } from '@scmi-ts/conformance';
import {
  decorateTransport,
  forwardChannel,
  forwardTrackingInFlight,
  type ChannelDecorator,
  type SentTransfer,
} from './decorate-transport.js';
import { loopbackFixture } from './loopback-fixture.js';

/** Options of the deliberately broken fixtures below. */
export interface BrokenFixtureOptions {
  /**
   * Whether the defect is there (default true). With `false` the fixture is the same decorated
   * loopback, correct: what a self-test runs to show the kit reports nothing for it, and what a
   * mutation check flips to show the self-test then fails.
   */
  readonly broken?: boolean;
}

/** Core's in-memory loopback as a fixture, each channel of its transport built by `decorate`. */
function decoratedLoopback(decorate: ChannelDecorator): TransportFixture {
  return wrappedLoopback((ends) => ({
    ...ends,
    transport: decorateTransport(ends.transport, decorate),
  }));
}

/** Core's in-memory loopback, as a fixture whose same-thread ends are passed through `wrap`. */
function wrappedLoopback(wrap: (ends: FixtureEnds) => FixtureEnds): TransportFixture {
  const inner = loopbackFixture();
  return {
    ...inner,
    sameThread: async (ctx) => wrap(await inner.sameThread(ctx)),
  };
}

/** What {@link misroutedLateReplyFixture} did, for the self-test to check its own premise. */
export interface MisrouteRecord {
  /** Late replies handed to core under the header of another transfer in flight. */
  misrouted: number;
}

/**
 * Core's in-memory loopback, as a fixture whose A2P channels do not check a reply's token: a
 * response whose token matches none of the transfers the channel has in flight (the late reply of
 * a transfer that timed out: core called its `markTxDone` already) is handed to core as the reply
 * of the oldest transfer the channel still has in flight, under that transfer's header — as a
 * transport that trusts the slot a reply lands in, not the token it carries (an SMT transport
 * without its `replyHeaderDefect` / `#foreign` check, Linux before 437a310b2224). The next transfer
 * is then completed with the late reply's payload, and its own reply, when it comes, is dropped.
 * Only the interrupt path is misrouted (a polled reply is looked up by token in the loopback); with
 * no transfer in flight the late reply goes to core unchanged (core counts it late).
 *
 * With `broken: false` the channels forward every reply as it came (and `record.misrouted` stays 0).
 */
export function misroutedLateReplyFixture(
  options: BrokenFixtureOptions = {},
  record: MisrouteRecord = { misrouted: 0 },
): TransportFixture {
  const broken = options.broken ?? true;
  const fixture = decoratedLoopback(async (setup, open) => {
    // The transfers sent on this channel whose markTxDone core has not called yet, oldest
    // first, with the header each was sent with (an Xfer is reused once it is put back).
    const inFlight: SentTransfer[] = [];
    const rx = (header: number, ctx2: unknown): void => {
      const isResponse =
        setup.direction === 'a2p' && headerType(header) === ScmiMessageType.COMMAND;
      const oldest = inFlight[0];
      if (
        broken &&
        isResponse &&
        oldest !== undefined &&
        !inFlight.some((t) => headerToken(t.header) === headerToken(header))
      ) {
        record.misrouted++;
        setup.sink.rx(oldest.header, ctx2);
        return;
      }
      setup.sink.rx(header, ctx2);
    };
    const channel: TransportChannel = await open({
      ...setup,
      sink: {
        rx,
        badMessage: (reason) => {
          setup.sink.badMessage(reason);
        },
        failInFlight: (error) => setup.sink.failInFlight(error),
      },
    });
    return forwardTrackingInFlight(channel, inFlight);
  });
  // The broken one is what `stress-modules/misrouted-late-reply.ts` exports: replay hints give it.
  return broken
    ? { ...fixture, stressModule: join(__dirname, 'stress-modules', 'misrouted-late-reply.ts') }
    : fixture;
}

/**
 * Core's in-memory loopback, as a fixture whose channels' quiesce never settles: each closes its
 * RX guard as it should, then waits for an acknowledgement that never comes (a transport waiting
 * for the platform to give a channel back, with no bound on the wait). Removing an agent, or
 * tearing down a failed probe, hangs at the first channel's quiesce step, for ever. It holds
 * nothing: no timer, no task, only promises that never settle, so a test that meets it still ends.
 *
 * With `broken: false` the channels quiesce as the loopback does.
 */
export function hangingQuiesceFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  return decoratedLoopback(async (setup, open) => {
    const channel = await open(setup);
    return forwardChannel(channel, {
      quiesce: broken
        ? () => channel.quiesce().then(() => new Promise<void>(() => undefined))
        : () => channel.quiesce(),
    });
  });
}

/** How a broken channel below lets a callback happen later: `cb` is the callback. */
export type Later = (cb: () => void) => void;

/**
 * A decorator whose A2P channels call `sink.rx` once more after `free()` — with the header of the
 * last command they sent — when `later` runs the callback: a channel that leaves a timer or a
 * task of its own running past its free (the bug of the seed race, late). The kit's instrument
 * flags the call (`sink.rx after its free began`), if it reads it after the call.
 */
export function rxAfterFree(later: Later): ChannelDecorator {
  return async (setup, open) => {
    const channel = await open(setup);
    if (setup.direction !== 'a2p') return channel;
    let last = 0;
    return forwardChannel(channel, {
      send: (xfer) => {
        last = xfer.header;
        return channel.send(xfer);
      },
      free: async () => {
        await channel.free();
        later(() => {
          setup.sink.rx(last, undefined);
        });
      },
    });
  };
}

/**
 * Core's in-memory loopback, as a fixture whose A2P channels call `sink.rx` once more `delayMs`
 * ms of **real** time after their `free()` (a Node timer, not the rig's virtual clock): nothing
 * the rig runs brings it about; it lands while the next schedules of a campaign run, or at its
 * end. With `broken: false` nothing is called after free.
 */
export function rxOnRealTimerAfterFreeFixture(
  options: BrokenFixtureOptions & { readonly delayMs?: number } = {},
): TransportFixture {
  const broken = options.broken ?? true;
  const delayMs = options.delayMs ?? 3;
  return decoratedLoopback(
    broken ? rxAfterFree((cb) => setTimeout(cb, delayMs)) : (setup, open) => open(setup),
  );
}

/**
 * Core's in-memory loopback, as a fixture whose wire, once closed, calls `sink.rx` on A2P channel
 * 0 from a task of its own two macrotask turns later (`setImmediate` twice: a doorbell the closed
 * line still delivers): after the rig's first read of its instrument. With `broken: false` the
 * close does nothing more.
 */
export function rxAfterCloseFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  return wrappedLoopback((ends) => {
    let rx: (() => void) | undefined;
    const transport = decorateTransport(ends.transport, async (setup, open) => {
      const channel = await open(setup);
      if (setup.direction === 'a2p' && setup.channel.id === 0) {
        rx = () => {
          setup.sink.rx(0, undefined);
        };
      }
      return channel;
    });
    return {
      ...ends,
      transport,
      close: async () => {
        await ends.close();
        if (broken) setImmediate(() => setImmediate(() => rx?.()));
      },
    };
  });
}

/**
 * Core's in-memory loopback, as a fixture whose wire counts once more when it is closed: its
 * `droppedSignals()` answers one more from its `close()` on — a wire that counts at its close what
 * it still held, though core counted it already (a reply counted twice). Read before the close,
 * the count looks right. With `broken: false` the close counts nothing.
 */
export function countsAgainAtCloseFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  return wrappedLoopback((ends) => {
    let closed = false;
    return {
      ...ends,
      droppedSignals: () => (ends.droppedSignals?.() ?? 0) + (broken && closed ? 1 : 0),
      close: async () => {
        closed = true;
        await ends.close();
      },
    };
  });
}

/**
 * Core's in-memory loopback, as a fixture whose wire swallows every late reply uncounted: its A2P
 * channels drop a response whose token is not that of a transfer in flight (one that timed out)
 * before core sees it, and their RX guards' refusals after quiesce are counted nowhere (the
 * channel is handed counters that ignore them). No asynchronous command (its capabilities say no
 * P2A channel), so no delayed response comes late either. Nothing breaks and nothing is counted:
 * every invariant holds, but no late reply is ever seen — an interleaving campaign over it never
 * shows its late replies raced and counted, which the kit must not call a pass. With
 * `broken: false` every reply reaches core and every refusal is counted.
 */
export function swallowsLateRepliesFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  const inner = decoratedLoopback(async (setup, open) => {
    if (!broken || setup.direction !== 'a2p') return open(setup);
    const inFlight: SentTransfer[] = [];
    const counters = new Proxy(setup.counters, {
      set: (target, key, value: unknown) =>
        key === 'refusedAfterQuiesce' ? true : Reflect.set(target, key, value),
    });
    const channel = await open({
      ...setup,
      counters,
      sink: {
        rx: (header, ctx) => {
          const late =
            headerType(header) === ScmiMessageType.COMMAND &&
            !inFlight.some((t) => headerToken(t.header) === headerToken(header));
          if (!late) setup.sink.rx(header, ctx);
        },
        badMessage: (reason) => {
          setup.sink.badMessage(reason);
        },
        failInFlight: (error) => setup.sink.failInFlight(error),
      },
    });
    return forwardTrackingInFlight(channel, inFlight);
  });
  return { ...inner, capabilities: { ...inner.capabilities, p2a: false } };
}

/**
 * Core's in-memory loopback, as a fixture whose A2P channels count every reply for no transfer in
 * flight twice: they report it to core as a bad message (`unexpected`) and hand it to core as
 * well, which counts it again — a hostile reply (a corrupted token, a duplicate…) or a response
 * that came after its transfer was done, counted two times where it came once. With
 * `broken: false` every reply is handed to core once.
 */
export function countsStrayRepliesTwiceFixture(
  options: BrokenFixtureOptions = {},
): TransportFixture {
  const broken = options.broken ?? true;
  return decoratedLoopback(async (setup, open) => {
    if (!broken || setup.direction !== 'a2p') return open(setup);
    const inFlight: SentTransfer[] = [];
    const channel = await open({
      ...setup,
      sink: {
        rx: (header, ctx) => {
          const stray =
            headerType(header) === ScmiMessageType.COMMAND &&
            !inFlight.some((t) => headerToken(t.header) === headerToken(header));
          if (stray) setup.sink.badMessage('unexpected');
          setup.sink.rx(header, ctx);
        },
        badMessage: (reason) => {
          setup.sink.badMessage(reason);
        },
        failInFlight: (error) => setup.sink.failInFlight(error),
      },
    });
    return forwardTrackingInFlight(channel, inFlight);
  });
}
