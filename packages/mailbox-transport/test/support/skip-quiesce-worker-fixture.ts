import type {
  FixtureEnds,
  TransportFixture,
  WorkerFixtureContext,
  WorkerFixtureSession,
} from '@scmi-ts/conformance';
import type { RxSink, Transport, TransportChannel } from '@scmi-ts/core';
import {
  decorateTransport,
  forwardChannel,
} from '../../../conformance/test/support/decorate-transport.js';
import { mailboxFixture } from './fixture.js';

/** What the channels of one wire let into core once they were told to stop. */
export interface LateCallbackCount {
  /** `sink.rx` / `sink.badMessage` / `sink.failInFlight` calls after the channel's quiesce was called. */
  afterQuiesce: number;
  /** The same, after the channel's free was called: callbacks against released state. */
  afterFree: number;
}

/**
 * What the wrapped sessions saw, one entry per `open()` — per run of a kit campaign, in order:
 * entry `i` is run `i` of a campaign that started with an empty record. The kit never reads it
 * (the fixture gives it no `transportViolations`): it is the self-test's ground truth.
 */
export interface SkipQuiesceRecord {
  readonly runs: LateCallbackCount[];
}

/** Options of {@link skipQuiesceSession}. */
export interface SkipQuiesceOptions {
  /**
   * Whether the channels skip quiesce (default true). With `false`, the same wrapper forwards
   * quiesce and free to the mailbox channels: the correct transport, through the same layers.
   */
  readonly broken?: boolean;
}

/** The agent-side channel of one wire, and whether the wrapper has let it go. */
interface Held {
  readonly channel: TransportChannel;
  letGo: boolean;
}

/**
 * The mailbox transport of `inner`'s wires, with channels that skip quiesce: `quiesce` returns at
 * once without closing the SMT channel's RX guard or stopping its doorbell line, and `free` marks
 * the channel released but leaves its mailbox channel bound, so that the platform's doorbells
 * still reach it and it still calls core — the teardown bug of the seed race (the Linux mailbox
 * channel freed only after the failed probe's cleanup), with the platform in a worker thread. The
 * mailbox channels are let go (quiesced, then freed) only when the wire is closed, so that the
 * worker's doorbell listeners never keep the process alive.
 */
function skipQuiesceTransport(
  inner: Transport,
  broken: boolean,
  count: LateCallbackCount,
  held: Held[],
): Transport {
  return decorateTransport(inner, async (setup, open) => {
    let quiesceCalled = false;
    let freeCalled = false;
    const late = (): void => {
      if (quiesceCalled) count.afterQuiesce++;
      if (freeCalled) count.afterFree++;
    };
    const sink: RxSink = {
      rx: (header, ctx) => {
        late();
        setup.sink.rx(header, ctx);
      },
      badMessage: (reason) => {
        late();
        setup.sink.badMessage(reason);
      },
      failInFlight: (error) => {
        late();
        return setup.sink.failInFlight(error);
      },
    };
    const channel = await open({ ...setup, sink });
    const entry: Held = { channel, letGo: false };
    held.push(entry);
    return forwardChannel(channel, {
      quiesce: async () => {
        quiesceCalled = true;
        if (!broken) await channel.quiesce();
      },
      free: () => {
        freeCalled = true;
        if (broken) return undefined;
        entry.letGo = true;
        return channel.free();
      },
    });
  });
}

/**
 * `inner` (a mailbox worker session) with every wire's transport made to skip quiesce (see
 * {@link skipQuiesceTransport}), recording in `record` what each wire's channels let into core
 * after their quiesce and their free were called. `stop` is `inner`'s: the caller owns it.
 */
export function skipQuiesceSession(
  inner: WorkerFixtureSession,
  options: SkipQuiesceOptions,
  record: SkipQuiesceRecord,
): WorkerFixtureSession {
  const broken = options.broken ?? true;
  return {
    open: async (): Promise<FixtureEnds> => {
      const ends = await inner.open();
      const count: LateCallbackCount = { afterQuiesce: 0, afterFree: 0 };
      record.runs.push(count);
      const held: Held[] = [];
      return {
        ...ends,
        transport: skipQuiesceTransport(ends.transport, broken, count, held),
        close: async () => {
          // Let go of what the broken channels kept: their doorbell listeners hold the process.
          for (const entry of held.splice(0)) {
            if (entry.letGo) continue;
            entry.letGo = true;
            await entry.channel.quiesce();
            await entry.channel.free();
          }
          await ends.close();
        },
      };
    },
    setFaults: (rules) => inner.setFaults(rules),
    ...(inner.releaseHeldResponses === undefined
      ? {}
      : { releaseHeldResponses: inner.releaseHeldResponses.bind(inner) }),
    ...(inner.faultCounts === undefined ? {} : { faultCounts: inner.faultCounts.bind(inner) }),
    stop: () => inner.stop(),
  };
}

/**
 * The mailbox fixture whose worker sessions are {@link skipQuiesceSession}s (its same-thread mode
 * is the mailbox fixture's, unchanged). A kit campaign started with a `session` uses that session
 * and never calls `worker`; without one, it starts a session of its own here.
 */
export function skipQuiesceWorkerFixture(
  options: SkipQuiesceOptions,
  record: SkipQuiesceRecord,
): TransportFixture {
  return {
    ...mailboxFixture,
    worker: async (ctx: WorkerFixtureContext) =>
      skipQuiesceSession(await mailboxFixture.worker(ctx), options, record),
  };
}

/**
 * `inner` (a mailbox worker session) with every wire's channels made to hang at quiesce: each
 * quiesces its mailbox channel (its RX guard closed, as it should), then waits for ever — a
 * transport waiting, unbounded, for an acknowledgement that never comes. An agent's removal (or its
 * failed probe's teardown) then never settles. Closing the wire frees the mailbox channels, so
 * that the worker's doorbell listeners never keep the process alive; the hung agent holds only
 * promises that never settle. `stop` is `inner`'s: the caller owns it.
 */
export function hangingQuiesceSession(inner: WorkerFixtureSession): WorkerFixtureSession {
  return {
    open: async (): Promise<FixtureEnds> => {
      const ends = await inner.open();
      const opened: { channel: TransportChannel; quiesced?: Promise<void> }[] = [];
      return {
        ...ends,
        transport: decorateTransport(ends.transport, async (setup, open) => {
          const entry: { channel: TransportChannel; quiesced?: Promise<void> } = {
            channel: await open(setup),
          };
          opened.push(entry);
          return forwardChannel(entry.channel, {
            quiesce: () => {
              entry.quiesced ??= Promise.resolve(entry.channel.quiesce());
              return entry.quiesced.then(() => new Promise<void>(() => undefined));
            },
          });
        }),
        close: async () => {
          for (const entry of opened.splice(0)) {
            await (entry.quiesced ?? entry.channel.quiesce());
            await entry.channel.free();
          }
          await ends.close();
        },
      };
    },
    setFaults: (rules) => inner.setFaults(rules),
    ...(inner.releaseHeldResponses === undefined
      ? {}
      : { releaseHeldResponses: inner.releaseHeldResponses.bind(inner) }),
    ...(inner.faultCounts === undefined ? {} : { faultCounts: inner.faultCounts.bind(inner) }),
    stop: () => inner.stop(),
  };
}
