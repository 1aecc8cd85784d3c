import {
  isWorkerGone,
  resolveWorkerEntry,
  startWorker,
  type Clock,
  type DoorbellInterceptor,
  type ScmiPlatformPort,
  type WorkerHost,
} from '@scmi-ts/core';
import type { FixtureEnds, TransportFixture } from '@scmi-ts/conformance';
import type { FaultRule, PlatformConfig } from '@scmi-ts/platform';
import {
  SmtResponder,
  createSameThreadMailboxWire,
  mailboxTransport,
  openSmtWorkerWire,
  type MonitoredMailboxWire,
  type SmtFaultRule,
  type SmtResponderStats,
  type SmtWireLayoutOptions,
} from '@scmi-ts/mailbox-transport';
import type { MailboxWorkerData, MailboxWorkerPlatformStats } from './mailbox-worker.js';

// ---- The mailbox fixture ------------------------------------------------------------------------

/** The SCMI channels of every fixture wire: A2P 0–3 (Base's and dedicated ones) and P2A 0. */
const CHANNELS: SmtWireLayoutOptions = { a2p: [0, 1, 2, 3], p2a: [0] };

/**
 * The same channels on unidirectional mailbox channels (Linux `mailbox_chan_validate`): the `scmi`
 * node with 4 mboxes (tx, tx_reply, rx, rx_reply) for A2P 0 and P2A 0, and a protocol node with 2
 * (tx, tx_reply) for each of A2P 1–3.
 */
const UNIDIRECTIONAL: SmtWireLayoutOptions = {
  nodes: [
    { shmem: [0, 0], mboxes: 4 },
    { shmem: [1], mboxes: 2 },
    { shmem: [2], mboxes: 2 },
    { shmem: [3], mboxes: 2 },
  ],
};

/** The mailbox fixture's ends, with what the mailbox tests also look at. */
export interface MailboxFixtureEnds extends FixtureEnds {
  /** The agent end of the wire (its monitor records violations and per-channel reports). */
  readonly wire: MonitoredMailboxWire;
  /**
   * Same-thread only: while set, every agent→platform ring (a command, a P2A acknowledgement) is
   * handed to the interceptor — the way to make the platform answer *late*, at a chosen moment
   * (holding only the agent's signal is not enough on SMT: core re-checks `pollDone` at the
   * deadline and sees CHANNEL_FREE).
   */
  setPlatformSignalInterceptor?(interceptor: DoorbellInterceptor | undefined): void;
  /** Replaces the responder's wire-level fault rules. */
  setWireFaults(rules: readonly SmtFaultRule[]): Promise<void>;
  /** The responder's state. */
  responderStats(): Promise<SmtResponderStats>;
}

/** The mailbox fixture's same-thread ends: both interceptors are there. */
export interface MailboxSameThreadEnds extends MailboxFixtureEnds {
  setAgentSignalInterceptor(interceptor: DoorbellInterceptor | undefined): void;
  setPlatformSignalInterceptor(interceptor: DoorbellInterceptor | undefined): void;
}

/** The mailbox fixture's worker mode, with what the mailbox tests also look at. */
export interface MailboxFixtureWorker {
  open(): Promise<MailboxFixtureEnds>;
  setFaults(rules: readonly FaultRule[]): Promise<void>;
  /** Sends now what the worker platform holds for `hold` faults; resolves with how many. */
  releaseHeldResponses(): Promise<number>;
  /** The worker platform's fault counts per kind (cumulative). */
  faultCounts(): Promise<Readonly<Record<string, number>>>;
  stop(): Promise<void>;
  /** Ends the worker's thread abruptly (`worker.terminate()`), as a platform that dies would. */
  kill(): Promise<void>;
  /** The worker platform's state (armed timers, connected agents). */
  platformStats(): Promise<MailboxWorkerPlatformStats>;
}

function statsOf(r: SmtResponder): SmtResponderStats {
  return {
    counters: r.counters,
    faults: r.faults.counts,
    armedTimers: r.armedTimers,
    closed: r.closed,
  };
}

/**
 * Replies the agent side of `wire` dropped after a channel was freed without seeing them: a late
 * reply the responder wrote and rang for after the agent let its channel go (a doorbell dropped
 * across threads; the drops it saw are in core's `refusedAfterQuiesce` already), and the reply to
 * a message abandoned at the free that landed in the area afterwards (`repliesAfterFree`; its
 * doorbell, if any, is not counted again).
 */
function ringsDroppedAfterFree(wire: MonitoredMailboxWire): number {
  return wire.monitor.channels.reduce((n, c) => n + c.ignoredAfterFree + c.repliesAfterFree, 0);
}

/**
 * A fixture for the conformance kit over wires of `channels`: same-thread wires over the kit's
 * platform and virtual clock, and a worker (the platform and the SMT responders) reused across
 * runs, one shared wire per `open()`.
 */
function fixtureOver(channels: SmtWireLayoutOptions, variant?: string) {
  return {
    name: 'mailbox',
    ...(variant === undefined ? {} : { variant }),
    capabilities: { p2a: true, interrupt: true, polling: true, outOfOrder: false, worker: true },

    sameThread(ctx: {
      platform: ScmiPlatformPort;
      clock: Clock;
      agentId: number;
    }): Promise<MailboxSameThreadEnds> {
      const mailbox = createSameThreadMailboxWire(ctx.clock, channels);
      const responder = new SmtResponder({
        platform: ctx.platform,
        agentId: ctx.agentId,
        end: mailbox.platformEnd,
        clock: ctx.clock,
      });
      return Promise.resolve({
        transport: mailboxTransport,
        agentOptions: { transportConfig: { wire: mailbox.wire } },
        wire: mailbox.wire,
        setAgentSignalInterceptor: (interceptor) => {
          mailbox.controller.setInterceptor('agent', interceptor);
        },
        setPlatformSignalInterceptor: (interceptor) => {
          mailbox.controller.setInterceptor('remote', interceptor);
        },
        setWireFaults: (rules) => {
          responder.faults.clear();
          for (const rule of rules) responder.faults.add(rule);
          return Promise.resolve();
        },
        responderStats: () => Promise.resolve(statsOf(responder)),
        droppedSignals: () => ringsDroppedAfterFree(mailbox.wire),
        // Responses for no pending command (duplicates, unsolicited, a late answer to a command
        // already answered) the responder dropped instead of writing an area the agent owns.
        strayRepliesDropped: () => responder.counters.strayResponsesDropped,
        // What the agent end's monitor recorded (a callback after free…).
        transportViolations: () => mailbox.wire.monitor.violations,
        close: () => {
          responder.close();
          return Promise.resolve();
        },
      });
    },

    async worker(ctx: {
      platformConfig: PlatformConfig;
      agentId: number;
      seed: number;
    }): Promise<MailboxFixtureWorker> {
      const data: MailboxWorkerData = { platformConfig: ctx.platformConfig, seed: ctx.seed };
      const host: WorkerHost = await startWorker({
        entry: resolveWorkerEntry(__dirname, 'mailbox-worker'),
        data,
        name: 'mailbox-platform',
      });
      const platformStats = async (): Promise<MailboxWorkerPlatformStats> =>
        (await host.call('platformStats')) as MailboxWorkerPlatformStats;
      // Set by kill(): the worker's thread was ended abruptly, nothing in it answers any more.
      let killing: Promise<void> | undefined;
      /** `error`, unless the session was killed and it says the worker is gone. */
      const unlessKilled = (error: unknown): undefined => {
        if (killing !== undefined && isWorkerGone(error)) return undefined;
        throw error;
      };
      return {
        open: async () => {
          const cancelledBefore = (await platformStats()).cancelledOnDisconnect;
          const smt = await openSmtWorkerWire(host, { agentId: ctx.agentId, ...channels });
          let closed = false;
          return {
            transport: mailboxTransport,
            agentOptions: { transportConfig: { wire: smt.wire } },
            wire: smt.wire,
            setWireFaults: (rules) => smt.setFaults(rules),
            responderStats: () => smt.stats(),
            droppedSignals: () => ringsDroppedAfterFree(smt.wire),
            // The responder's count, read in the worker; once closed, from its final state.
            strayRepliesDropped: async () => {
              const stats = await (closed ? smt.close() : smt.stats());
              if (stats === undefined) throw new Error('the worker is gone, and its counters');
              return stats.counters.strayResponsesDropped;
            },
            // Commands the responder read from an A2P area (undefined once the worker was killed).
            commandsTaken: async () =>
              (await (closed ? smt.close() : smt.stats()).catch(unlessKilled))?.counters.requests,
            transportViolations: () => smt.wire.monitor.violations,
            close: async () => {
              closed = true;
              // After kill() there is no responder left to close.
              await smt.close().catch(unlessKilled);
            },
            // What the platform cancelled unsent since this wire opened: closing the responder
            // disconnects the agent, and a reply still delayed then is dropped there (the worker's
            // platform serves the wires one at a time in the kit's runs).
            repliesCancelled: async () =>
              (await platformStats()).cancelledOnDisconnect - cancelledBefore,
          };
        },
        setFaults: async (rules) => {
          await host.call('setFaults', rules);
        },
        releaseHeldResponses: async () => (await host.call('releaseHeldResponses')) as number,
        faultCounts: async () =>
          (await host.call('faultCounts')) as Readonly<Record<string, number>>,
        platformStats,
        stop: () => host.stop(),
        kill: () =>
          (killing ??= (async () => {
            await host.worker.terminate();
            await host.exited;
          })()),
      };
    },
  } satisfies TransportFixture;
}

/**
 * The mailbox transport's fixture for the conformance kit: one bidirectional mailbox channel per
 * SMT area (A2P 0–3, P2A 0).
 */
export const mailboxFixture = fixtureOver(CHANNELS);

/**
 * The mailbox fixture on unidirectional mailbox channels: a reply channel for every A2P area and
 * an acknowledgement channel for the P2A one (the 4- and 2-mbox layouts). Every kit scenario and
 * `pnpm stress` run over it as over {@link mailboxFixture}.
 */
export const mailboxUnidirectionalFixture = fixtureOver(UNIDIRECTIONAL, 'unidirectional');

/**
 * The mailbox fixture on unidirectional mailbox channels with no P2A acknowledgement channel
 * (Linux's 3-mbox layout: tx, tx_reply, rx): the platform cannot be told the P2A area is free and
 * polls CHANNEL_FREE. Every kit scenario and `pnpm stress` run over it too.
 */
export const mailboxNoAckFixture = fixtureOver(
  {
    nodes: [
      { shmem: [0, 0], mboxes: 3 },
      { shmem: [1], mboxes: 2 },
      { shmem: [2], mboxes: 2 },
      { shmem: [3], mboxes: 2 },
    ],
  },
  'unidirectional, no acknowledgement',
);
