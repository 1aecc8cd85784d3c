import {
  ScmiConfigError,
  type Clock,
  type ScmiPlatformPort,
  type WorkerHandlers,
} from '@scmi-ts/core';
import { openOpteeWireEnd } from '../wire/optee-wire.js';
import type { OpteeWireOptions } from '../wire/optee-wire-layout.js';
import { EmulatedOptee, type EmulatedOpteeStats } from './emulated-optee.js';
import type { OpteeWireFault } from './optee-wire-fault.js';

/** Options of {@link createEmulatedOpteeHost}. */
export interface EmulatedOpteeHostOptions {
  /** The platform every emulated OP-TEE forwards SCMI messages to. */
  readonly platform: ScmiPlatformPort;
  /** The SCMI agent id of the normal world. */
  readonly agentId: number;
  /** The clock of the platform (a `RealClock` in a worker). */
  readonly clock: Clock;
  /** The SCMI PTA's capabilities (default SMT and MSG). */
  readonly capabilities?: number;
  /** Platform-response wait of the SCMI server, ms (default 50). */
  readonly platformTimeoutMs?: number;
  /** The MSG buffer size the SCMI server sizes responses to (default 104; see `EmulatedOptee`). */
  readonly msgBufferSize?: number;
}

/** The secure world's side of OP-TEE wires in a worker thread: handlers to serve, and a close. */
export interface EmulatedOpteeHost {
  /**
   * Handlers for core's `serveWorker`, named `optee*` so they can be served next to others:
   * `opteeOpen(memory, options)` boots an emulated OP-TEE on a new wire and returns its id;
   * `opteeClose(id)` closes it and returns its last counters (idempotent: undefined for an id
   * already closed or never opened); `opteeSetWireFaults(id, rules)` replaces its wire faults (all
   * or nothing, see `OpteeWireFaults.set`); `opteeStats(id)` returns its counters. The last two
   * throw `ScmiConfigError` naming `id` for an id closed or never opened — the worker forgets a
   * closed OP-TEE, so there is nothing to set faults on or count (the agent's thread gets the
   * error as the call's rejection).
   */
  readonly handlers: WorkerHandlers;
  /** Emulated OP-TEEs running now. */
  readonly size: number;
  /** Closes every emulated OP-TEE (call it from `serveWorker`'s `onStop`). */
  close(): void;
}

/**
 * Hosts emulated OP-TEEs in a worker thread: one per wire the normal world opens with
 * `openOpteeWorkerWire`, all forwarding to one platform. A worker entry serves its handlers.
 *
 * @example
 * ```ts
 * // optee-worker.ts, started with startWorker({ entry, data: { platformConfig } })
 * const clock = new RealClock();
 * const platform = new ScmiPlatform(workerData.platformConfig, { clock });
 * const host = createEmulatedOpteeHost({ platform, agentId: 1, clock });
 * serveWorker(host.handlers, { onStop: () => { host.close(); platform.close(); } });
 * ```
 */
export function createEmulatedOpteeHost(options: EmulatedOpteeHostOptions): EmulatedOpteeHost {
  const wires = new Map<number, EmulatedOptee>();
  let next = 1;
  // An id the worker does not know is refused, as mailbox's smtStats and virtio's device handlers
  // refuse theirs: faults set on nothing, or no counters, would pass unnoticed.
  const get = (id: number): EmulatedOptee => {
    const optee = wires.get(id);
    if (optee === undefined) {
      throw new ScmiConfigError(
        'id',
        `no emulated OP-TEE ${String(id)} in this worker (closed, or never opened)`,
      );
    }
    return optee;
  };
  const handlers = {
    opteeOpen: (memory: SharedArrayBuffer, wireOptions: OpteeWireOptions): number => {
      const optee = new EmulatedOptee({
        wire: openOpteeWireEnd(memory, wireOptions, 'tee'),
        platform: options.platform,
        agentId: options.agentId,
        clock: options.clock,
        ...(options.capabilities === undefined ? {} : { capabilities: options.capabilities }),
        ...(options.platformTimeoutMs === undefined
          ? {}
          : { platformTimeoutMs: options.platformTimeoutMs }),
        ...(options.msgBufferSize === undefined ? {} : { msgBufferSize: options.msgBufferSize }),
      });
      const id = next++;
      wires.set(id, optee);
      return id;
    },
    opteeClose: (id: number): EmulatedOpteeStats | undefined => {
      const optee = wires.get(id);
      optee?.close();
      wires.delete(id);
      // The worker forgets a closed OP-TEE: its last counters go back with the close.
      return optee?.stats;
    },
    opteeSetWireFaults: (id: number, rules: readonly OpteeWireFault[]): void => {
      get(id).faults.set(rules);
    },
    opteeStats: (id: number): EmulatedOpteeStats => get(id).stats,
  };
  return {
    handlers,
    get size() {
      return wires.size;
    },
    close: () => {
      for (const optee of wires.values()) optee.close();
      wires.clear();
    },
  };
}
