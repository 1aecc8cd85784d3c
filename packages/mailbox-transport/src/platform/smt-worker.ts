import {
  callForId,
  isWorkerGone,
  type Clock,
  type ScmiPlatformPort,
  type WorkerHandlers,
  type WorkerHost,
} from '@scmi-ts/core';
import type { SmtFaultKind, SmtFaultRule } from './smt-fault-rule.js';
import { SmtResponder, type SmtResponderCounters } from './smt-responder.js';
import {
  createSharedMailboxWire,
  openSharedPlatformEnd,
  type SharedMailboxWireOptions,
  type SharedMailboxWireSpec,
} from '../wire/shared-mailbox-wire.js';
import type { MonitoredMailboxWire } from '../wire/mailbox-wire.js';

/** What the agent's thread asks a worker to serve: one wire for one agent. */
export interface SmtWorkerOpenRequest {
  /** The agent id the platform knows the agent by. */
  readonly agentId: number;
  /** The wire (shared buffers). */
  readonly spec: SharedMailboxWireSpec;
  /** Wire-level fault rules to start with. */
  readonly faults?: readonly SmtFaultRule[];
  /** P2A queue depth of the responder (default 32). */
  readonly p2aQueueDepth?: number;
}

/** A responder's state as the worker reports it. */
export interface SmtResponderStats {
  /** The responder's counters. */
  readonly counters: SmtResponderCounters;
  /** Wire-level faults fired, per kind. */
  readonly faults: Readonly<Record<SmtFaultKind, number>>;
  /** Fault timers armed. */
  readonly armedTimers: number;
  /** Whether the responder is closed. */
  readonly closed: boolean;
}

/** The worker side of {@link createSmtWorkerHandlers}. */
export interface SmtWorkerService {
  /** Methods to pass to `serveWorker` (with your own): `smtOpen`, `smtClose`, `smtStats`, `smtSetFaults`. */
  readonly handlers: WorkerHandlers;
  /** Responders open now. */
  readonly open: number;
  /** Closes every responder (call it from `serveWorker`'s `onStop`). */
  closeAll(): void;
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
 * The platform side of the worker mode: methods a worker serves (with core's `serveWorker`) so
 * that the agent's thread can open SMT responders over shared wires, each connected to `platform`.
 * The worker entry builds the platform (a dev dependency of the tests and the demo) and serves
 * these; the agent's thread opens wires with {@link openSmtWorkerWire}.
 *
 * @example
 * ```ts
 * // platform-worker.ts
 * const clock = new RealClock();
 * const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
 * const smt = createSmtWorkerHandlers(platform, clock);
 * serveWorker(smt.handlers, { onStop: () => { smt.closeAll(); platform.close(); } });
 * ```
 */
export function createSmtWorkerHandlers(
  platform: ScmiPlatformPort,
  clock: Clock,
): SmtWorkerService {
  const responders = new Map<number, SmtResponder>();
  let next = 1;
  const get = (id: number): SmtResponder => {
    const r = responders.get(id);
    if (r === undefined) throw new RangeError(`no SMT responder ${id}`);
    return r;
  };
  const handlers = {
    smtOpen: (request: SmtWorkerOpenRequest): number => {
      const responder = new SmtResponder({
        platform,
        agentId: request.agentId,
        end: openSharedPlatformEnd(request.spec),
        clock,
        ...(request.faults === undefined ? {} : { faults: request.faults }),
        ...(request.p2aQueueDepth === undefined ? {} : { p2aQueueDepth: request.p2aQueueDepth }),
      });
      const id = next++;
      responders.set(id, responder);
      return id;
    },
    smtClose: (id: number): SmtResponderStats => {
      const r = get(id);
      r.close();
      responders.delete(id);
      return statsOf(r);
    },
    smtStats: (id: number): SmtResponderStats => statsOf(get(id)),
    smtSetFaults: (id: number, rules: readonly SmtFaultRule[]): void => {
      // All or nothing (`set` checks the whole list first): a refused rule leaves the rules as they
      // were, not the ones before it installed and the old ones gone.
      get(id).faults.set(rules);
    },
  };
  return {
    handlers,
    get open() {
      return responders.size;
    },
    closeAll: () => {
      for (const r of responders.values()) r.close();
      responders.clear();
    },
  };
}

/** Options of {@link openSmtWorkerWire}. */
export interface SmtWorkerWireOptions extends SharedMailboxWireOptions {
  /** The agent id the platform knows the agent by. */
  readonly agentId: number;
  /** Wire-level fault rules to start with. */
  readonly faults?: readonly SmtFaultRule[];
  /** P2A queue depth of the responder (default 32). */
  readonly p2aQueueDepth?: number;
}

/** A wire whose platform end is served by a worker; see {@link openSmtWorkerWire}. */
export interface SmtWorkerWire {
  /** The agent end: `transportConfig: { wire }`. */
  readonly wire: MonitoredMailboxWire;
  /** The responder's state in the worker. */
  stats(): Promise<SmtResponderStats>;
  /**
   * Replaces the responder's wire-level fault rules, all or nothing.
   *
   * @throws (rejects) the worker's ScmiConfigError naming `rules[i].<field>` when a rule is
   * invalid (or two share an id): the rules then stay as they were.
   */
  setFaults(rules: readonly SmtFaultRule[]): Promise<void>;
  /**
   * Closes the responder in the worker (disconnecting the agent from the platform) and resolves
   * with its final state; with undefined when the worker was stopped or exited first (the
   * responder went with it: nothing is left to close). Idempotent.
   */
  close(): Promise<SmtResponderStats | undefined>;
}

/**
 * Creates a shared wire and has the worker behind `host` (serving
 * {@link createSmtWorkerHandlers}) open its platform end. Should the worker exit while an agent
 * uses the wire (crashed, terminated), its controller is marked gone: commands in flight and those
 * waiting for a channel fail at once with `E_MBOX_REMOTE_GONE`, and so does every later one.
 *
 * @throws (rejects) the worker's error when it cannot open the responder (unknown agent, agent
 * already connected, invalid fault rule); ScmiTransportError `E_WORKER_PROTOCOL` when the worker
 * answers with no responder id.
 * @example
 * ```ts
 * const host = await startWorker({ entry: resolveWorkerEntry(__dirname, 'platform-worker') });
 * const smt = await openSmtWorkerWire(host, { agentId: 1 });
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig: { wire: smt.wire } });
 * await agent.remove();
 * await smt.close();
 * await host.stop();
 * ```
 */
export async function openSmtWorkerWire(
  host: WorkerHost,
  options: SmtWorkerWireOptions,
): Promise<SmtWorkerWire> {
  const { wire, spec, controller } = createSharedMailboxWire(options);
  const request: SmtWorkerOpenRequest = {
    agentId: options.agentId,
    spec,
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    ...(options.p2aQueueDepth === undefined ? {} : { p2aQueueDepth: options.p2aQueueDepth }),
  };
  const id = await callForId(host, 'a responder id', 'smtOpen', request);
  // A worker that exits without closing the responder (crashed, terminated) never writes its
  // doorbells' closed flags: the agent would wait out every command's timeout, then fail every
  // later one with E_CHANNEL_BUSY. Marked gone, as the virtio wire marks its device end gone and
  // the OP-TEE wire tells its driver the TEE died. A no-op for channels freed already.
  void host.exited.then(() => {
    controller.markRemoteGone();
  });
  let closing: Promise<SmtResponderStats | undefined> | undefined;
  return {
    wire,
    stats: async () => (await host.call('smtStats', id)) as SmtResponderStats,
    setFaults: async (rules) => {
      await host.call('smtSetFaults', id, rules);
    },
    close: () => {
      closing ??= (host.call('smtClose', id) as Promise<SmtResponderStats>).catch(
        (error: unknown) => {
          // A worker stopped (its onStop closed its responders) or gone: nothing is left to close.
          if (!isWorkerGone(error)) throw error;
          return undefined;
        },
      );
      return closing;
    },
  };
}
