import { ScmiMessageType, headerToken, headerType, type TransportChannel } from '@scmi-ts/core';
import type { TransportFixture } from '@scmi-ts/conformance';
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
  const inner = loopbackFixture();
  return {
    ...inner,
    sameThread: async (ctx) => {
      const ends = await inner.sameThread(ctx);
      return { ...ends, transport: decorateTransport(ends.transport, decorate) };
    },
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
  return decoratedLoopback(async (setup, open) => {
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
