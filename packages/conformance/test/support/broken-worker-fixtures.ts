import {
  ScmiMessageType,
  headerType,
  type RxSink,
  type Transport,
  type TransportChannel,
} from '@scmi-ts/core';
import type { FixtureEnds, TransportFixture, WorkerFixtureSession } from '@scmi-ts/conformance';
import { mailboxFixture } from '../../../mailbox-transport/test/support/fixture.js';
import { rxAfterFree, type BrokenFixtureOptions } from './broken-fixtures.js';
import {
  decorateTransport,
  forwardChannel,
  forwardTrackingInFlight,
  type SentTransfer,
} from './decorate-transport.js';

/**
 * The mailbox transport's fixture (a worker thread running the platform and the SMT responders),
 * each wire its worker opens passed through `wrap`: the deliberately broken worker fixtures of the
 * kit's self-tests. Its same-thread mode is the mailbox fixture's, unchanged.
 */
function wrappedMailboxWorker(wrap: (ends: FixtureEnds) => FixtureEnds): TransportFixture {
  return {
    ...mailboxFixture,
    worker: async (context): Promise<WorkerFixtureSession> => {
      const inner = await mailboxFixture.worker(context);
      return {
        open: async () => wrap(await inner.open()),
        setFaults: (rules) => inner.setFaults(rules),
        releaseHeldResponses: () => inner.releaseHeldResponses(),
        faultCounts: () => inner.faultCounts(),
        stop: () => inner.stop(),
        kill: () => inner.kill(),
      };
    },
  };
}

/**
 * The mailbox worker fixture whose P2A channels never deliver a delayed response: each message
 * they receive is handed to core as a bad message (`unexpected`) instead. Every asynchronous
 * command then times out waiting for its delayed response, which core counts as dropped: no
 * invariant breaks, but the delayed-response race never delivers anything — what the kit must
 * not call a pass. With `broken: false` the P2A channels forward every message.
 */
export function lostDelayedResponseFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  const transport = (inner: Transport): Transport =>
    decorateTransport(inner, (setup, open) => {
      if (!broken || setup.direction !== 'p2a') return open(setup);
      const sink: RxSink = {
        rx: () => {
          setup.sink.badMessage('unexpected');
        },
        badMessage: (reason) => {
          setup.sink.badMessage(reason);
        },
        failInFlight: (error) => setup.sink.failInFlight(error),
      };
      return open({ ...setup, sink });
    });
  return wrappedMailboxWorker((ends) => ({ ...ends, transport: transport(ends.transport) }));
}

/**
 * The mailbox worker fixture whose wires report a violation of their own on every run
 * (`transportViolations()` returns `INJECTED` beside the mailbox monitor's list): what a transport
 * that saw a callback after free on its own wire reports. With `broken: false` it reports the
 * monitor's list only.
 */
export function selfReportedViolationFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  return wrappedMailboxWorker((ends) => ({
    ...ends,
    transportViolations: () => [
      ...(ends.transportViolations?.() ?? []),
      ...(broken ? ['INJECTED'] : []),
    ],
  }));
}

/**
 * The mailbox worker fixture whose A2P channels hide every hostile reply from the agent: a reply
 * whose header is not the header of a command in flight on the channel (a corrupted token, type or
 * protocol), and every message the transport rejected itself (`sink.badMessage`: a truncation), is
 * dropped before core sees it, and counted as a signal the wire dropped (`droppedSignals`). Its
 * command then times out (or fails), nothing breaks and the drop is counted, but the agent never
 * counts a bad message: its diagnostics show no hostile reply at all. With `uncounted: true` the
 * wire does not count them either: they vanish. With `broken: false` every reply and bad message
 * reaches core.
 */
export function hiddenBadMessagesFixture(
  options: BrokenFixtureOptions & { readonly uncounted?: boolean } = {},
): TransportFixture {
  const broken = options.broken ?? true;
  const uncounted = options.uncounted ?? false;
  return wrappedMailboxWorker((ends) => {
    let hidden = 0;
    const transport = decorateTransport(ends.transport, async (setup, open) => {
      if (!broken || setup.direction !== 'a2p') return open(setup);
      const inFlight: SentTransfer[] = [];
      const sink: RxSink = {
        rx: (header, ctx) => {
          const own =
            headerType(header) === ScmiMessageType.COMMAND &&
            inFlight.some((t) => t.header === header);
          if (own) setup.sink.rx(header, ctx);
          else hidden++;
        },
        badMessage: () => {
          hidden++;
        },
        failInFlight: (error) => setup.sink.failInFlight(error),
      };
      const channel: TransportChannel = await open({ ...setup, sink });
      return forwardTrackingInFlight(channel, inFlight);
    });
    return {
      ...ends,
      transport,
      droppedSignals: () => (ends.droppedSignals?.() ?? 0) + (uncounted ? 0 : hidden),
    };
  });
}

/**
 * The mailbox worker fixture whose channels never tell core that the platform's thread died: the
 * transport's `sink.failInFlight` calls are swallowed (answered 0). Its sends waiting for a
 * channel still fail (the mailbox refuses them itself), but the command on the wire waits out its
 * timeout, and no channel is marked lost — what the platform-death scenario must not call a pass.
 * With `broken: false` every call reaches core.
 */
export function unnoticedDeathFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  const transport = (inner: Transport): Transport =>
    decorateTransport(inner, (setup, open) => {
      if (!broken) return open(setup);
      const sink: RxSink = {
        rx: (header, ctx) => {
          setup.sink.rx(header, ctx);
        },
        badMessage: (reason) => {
          setup.sink.badMessage(reason);
        },
        failInFlight: () => 0,
      };
      return open({ ...setup, sink });
    });
  return wrappedMailboxWorker((ends) => ({ ...ends, transport: transport(ends.transport) }));
}

/**
 * The mailbox worker fixture whose A2P channels call `sink.rx` once more `delayMs` ms (default 30)
 * after their `free()`, on a timer of their own (see `rxAfterFree`): a run's campaign checks the
 * run a few ms after its removal, so the call lands while later runs go on, or after the last
 * one. With `broken: false` nothing is called after free.
 */
export function rxAfterFreeWorkerFixture(
  options: BrokenFixtureOptions & { readonly delayMs?: number } = {},
): TransportFixture {
  const broken = options.broken ?? true;
  const delayMs = options.delayMs ?? 30;
  return wrappedMailboxWorker((ends) =>
    broken
      ? {
          ...ends,
          transport: decorateTransport(
            ends.transport,
            rxAfterFree((cb) => setTimeout(cb, delayMs)),
          ),
        }
      : ends,
  );
}

/**
 * The mailbox worker fixture whose A2P channels count one signal twice as they quiesce: once as
 * refused after quiesce, in core's counters (as a transport's RX guard counts a signal it
 * refuses), and once more as a signal the wire dropped (`droppedSignals`) — what a wire that
 * counts at its reset a reply its guard already refused and counted does, in every run instead of
 * the rare run where the race lands there. The seed campaign must report every run. With
 * `broken: false` the channels count nothing of their own.
 */
export function doubleCountedReplyFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  return wrappedMailboxWorker((ends) => {
    let counted = 0;
    const transport = decorateTransport(ends.transport, async (setup, open) => {
      const channel = await open(setup);
      if (!broken || setup.direction !== 'a2p') return channel;
      return forwardChannel(channel, {
        quiesce: () => {
          setup.counters.refusedAfterQuiesce++;
          counted++;
          return channel.quiesce();
        },
      });
    });
    return { ...ends, transport, droppedSignals: () => (ends.droppedSignals?.() ?? 0) + counted };
  });
}

/**
 * The mailbox worker fixture whose second wire's A2P channels take `delayMs` to quiesce: with a
 * campaign's `hangMs` below it, the second run (the first a seed campaign aims at the teardown)
 * hangs in its removal, and the agent's teardown goes on after the campaign stopped.
 */
export function slowSecondQuiesceFixture(delayMs: number): TransportFixture {
  let wires = 0;
  return wrappedMailboxWorker((ends) => {
    if (wires++ !== 1) return ends;
    const transport = decorateTransport(ends.transport, async (setup, open) => {
      const channel = await open(setup);
      if (setup.direction !== 'a2p') return channel;
      return forwardChannel(channel, {
        quiesce: async () => {
          await new Promise((r) => setTimeout(r, delayMs));
          await channel.quiesce();
        },
      });
    });
    return { ...ends, transport };
  });
}

/**
 * The mailbox worker fixture whose wires report 100 stray replies more than their platform side
 * dropped (`strayRepliesDropped`): every hostile run then counts more than its faults fired — what
 * a wire that counts replies both where it drops them and where the agent already counted them
 * shows (100, more than any run's late replies on a loaded machine could explain). The hostile
 * campaign must report each run. With `broken: false` the counts are the wire's.
 */
export function overCountedStrayFixture(options: BrokenFixtureOptions = {}): TransportFixture {
  const broken = options.broken ?? true;
  return wrappedMailboxWorker((ends) => {
    const inner = ends.strayRepliesDropped?.bind(ends);
    if (inner === undefined) throw new Error('the mailbox fixture reports its stray replies');
    return {
      ...ends,
      strayRepliesDropped: async () => (await inner()) + (broken ? 100 : 0),
    };
  });
}
