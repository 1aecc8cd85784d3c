import { callForId, isWorkerGone, type WorkerHost } from '@scmi-ts/core';
import type { EmulatedOpteeStats } from '../emulated/emulated-optee.js';
import type { OpteeWireFault } from '../emulated/optee-wire-fault.js';
import { allocateOpteeWire, openOpteeWireEnd } from '../wire/optee-wire.js';
import type { OpteeWireOptions } from '../wire/optee-wire-layout.js';
import { OpteeDriver } from './optee-driver.js';

/** A wire to an emulated OP-TEE in a worker, with the normal world's driver on it. */
export interface OpteeWorkerWire {
  /** The driver (give it to `opteeTransportConfig`). */
  readonly driver: OpteeDriver;
  /**
   * Replaces the wire faults of the emulated OP-TEE in the worker, all or nothing.
   *
   * @throws (rejects) the worker's ScmiConfigError: naming `rules[i].<field>` for a rule it
   * refuses (the rules then stay as they were), `id` once the wire is closed (the worker forgot
   * its OP-TEE: there is nothing to set faults on); core's `E_WORKER_STOPPED` /
   * `E_WORKER_EXITED` once the worker is gone.
   */
  setWireFaults(rules: readonly OpteeWireFault[]): Promise<void>;
  /**
   * The counters of the emulated OP-TEE in the worker; once closed, as they were when it closed
   * (undefined when the worker had stopped or exited first), without asking the worker.
   */
  stats(): Promise<EmulatedOpteeStats | undefined>;
  /**
   * Closes the driver, then the emulated OP-TEE in the worker (nothing to close there once the
   * worker stopped or exited). Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Opens a wire to a worker that serves `createEmulatedOpteeHost`'s handlers: allocates the
 * shared memory, boots an emulated OP-TEE on it in the worker, and starts the normal world's
 * driver on this thread. Should the worker exit without closing its OP-TEE (a crash, a
 * terminate), the driver fails every pending and later call with `TEE_ERROR_TARGET_DEAD`
 * ({@link OpteeDriver.teeDied}).
 *
 * @throws (rejects) ScmiConfigError for invalid `options`; the worker's error when it cannot boot
 * the emulated OP-TEE (an agent already connected, for example); ScmiTransportError
 * `E_WORKER_PROTOCOL` when the worker answers with no id.
 * @example
 * ```ts
 * const host = await startWorker({ entry, data: { platformConfig } });
 * const wire = await openOpteeWorkerWire(host, { channels: [{ id: 0, staticShmem: true }] });
 * const agent = await createAgent(container, {
 *   transport: 'optee',
 *   transportConfig: opteeTransportConfig(wire.driver),
 * });
 * await agent.remove();
 * await wire.close();
 * await host.stop();
 * ```
 */
export async function openOpteeWorkerWire(
  host: WorkerHost,
  options: OpteeWireOptions = {},
): Promise<OpteeWorkerWire> {
  const memory = allocateOpteeWire(options);
  // Checked before the driver starts.
  const id = await callForId(host, 'an OP-TEE id', 'opteeOpen', memory, options);
  const driver = new OpteeDriver(openOpteeWireEnd(memory, options, 'ree'));
  // A worker that exits without closing its OP-TEE (a crash, a terminate) never returns a call:
  // fail them, and the later ones, as a TEE that closed. The callback outlives the wire (it hangs
  // on the host's `exited`): it holds the driver, and with it the wire's memory, only until close.
  let live: OpteeDriver | undefined = driver;
  void host.exited.then(() => {
    live?.teeDied();
  });
  let closing: Promise<void> | undefined;
  let final: EmulatedOpteeStats | undefined;
  return {
    driver,
    setWireFaults: async (rules) => {
      await host.call('opteeSetWireFaults', id, rules);
    },
    stats: async () => {
      if (closing !== undefined) {
        await closing.catch(() => undefined);
        return final;
      }
      return (await host.call('opteeStats', id)) as EmulatedOpteeStats | undefined;
    },
    close: () => {
      closing ??= (async () => {
        live = undefined;
        driver.close();
        try {
          final = (await host.call('opteeClose', id)) as EmulatedOpteeStats | undefined;
        } catch (error) {
          // A worker stopped (its onStop closed its OP-TEEs) or gone: nothing is left to close.
          if (!isWorkerGone(error)) throw error;
        }
      })();
      return closing;
    },
  };
}
