import {
  ScmiConfigError,
  callForId,
  isWorkerGone,
  type Clock,
  type ScmiPlatformPort,
  type WorkerHost,
} from '@scmi-ts/core';
import { VirtioScmiWire, type VirtioScmiWireHandle } from '../wire/virtio-scmi-wire.js';
import type { VirtioDeviceStats } from './virtio-device-stats.js';
import { VirtioScmiDevice, type VirtioCompletionOrder } from './virtio-scmi-device.js';
import type { VirtioWireFaultRule } from './virtio-wire-fault.js';

/** Options of a device in a worker: plain data, as they cross threads. */
export interface RemoteVirtioDeviceOptions {
  /** Completion order; default `in-order`. */
  readonly completion?: VirtioCompletionOrder;
  /** Seed of the shuffle and fault probabilities; default 1. */
  readonly seed?: number;
  /** Wire-level fault rules to start with. */
  readonly faults?: readonly VirtioWireFaultRule[];
  /** Features offered, as a `bigint` in text (`'0x100000001'`); default the device's. */
  readonly features?: string;
  /** Delayed responses that may wait for an eventq buffer; default 64. */
  readonly maxWaitingDelayedResponses?: number;
  /** The device's doorbells' poll window, µs; default 50, 0 on a single CPU (see `VirtioScmiDeviceOptions`). */
  readonly pollWindowUs?: number;
}

/** The worker methods {@link serveVirtioDevices} provides, by name. */
export const VIRTIO_WORKER_METHODS = {
  /** `(handle, agentId, options) → id`: attaches a device to a wire. */
  attach: 'virtio.attach',
  /** `(id) → stats | undefined`: closes a device; answers its counters as they were then. */
  close: 'virtio.close',
  /** `(id) → VirtioDeviceStats`. */
  stats: 'virtio.stats',
  /** `(id, rules) → void`: replaces a device's wire-level fault rules. */
  setWireFaults: 'virtio.setWireFaults',
} as const;

/** What {@link serveVirtioDevices} returns. */
export interface VirtioDeviceServer {
  /** Worker handlers to merge into the ones given to core's `serveWorker`. */
  readonly handlers: Readonly<Record<string, (...args: never[]) => unknown>>;
  /** Devices attached now. */
  readonly devices: number;
  /** Closes every device (call it from the worker's `onStop`). */
  closeAll(): void;
}

/**
 * Worker side: serves virtio-scmi devices over `platform`, one per wire the main thread attaches
 * with {@link attachRemoteVirtioDevice}. Merge `handlers` into the worker's `serveWorker` handlers
 * and call `closeAll()` from its `onStop`.
 *
 * @example
 * ```ts
 * // device-worker.ts (a worker entry)
 * const clock = new RealClock();
 * const platform = new ScmiPlatform(createDefaultPlatformConfig(), { clock });
 * const devices = serveVirtioDevices(platform, clock);
 * serveWorker(devices.handlers, { onStop: () => { devices.closeAll(); platform.close(); } });
 * ```
 */
export function serveVirtioDevices(platform: ScmiPlatformPort, clock: Clock): VirtioDeviceServer {
  const devices = new Map<number, VirtioScmiDevice>();
  let next = 1;
  const device = (id: number): VirtioScmiDevice => {
    const d = devices.get(id);
    if (d === undefined) throw new ScmiConfigError('id', `no virtio device ${id} in this worker`);
    return d;
  };
  const handlers = {
    [VIRTIO_WORKER_METHODS.attach]: (
      handle: VirtioScmiWireHandle,
      agentId: number,
      options: RemoteVirtioDeviceOptions = {},
    ): number => {
      const id = next++;
      const { features, ...rest } = options;
      devices.set(
        id,
        new VirtioScmiDevice(VirtioScmiWire.open(handle), {
          ...rest,
          ...(features === undefined ? {} : { features: BigInt(features) }),
          platform,
          agentId,
          clock,
        }),
      );
      return id;
    },
    [VIRTIO_WORKER_METHODS.close]: (id: number): VirtioDeviceStats | undefined => {
      const d = devices.get(id);
      d?.close();
      devices.delete(id);
      // The worker forgets a closed device: its last counters go back with the close.
      return d?.stats;
    },
    [VIRTIO_WORKER_METHODS.stats]: (id: number): VirtioDeviceStats => device(id).stats,
    [VIRTIO_WORKER_METHODS.setWireFaults]: (
      id: number,
      rules: readonly VirtioWireFaultRule[],
    ): void => {
      device(id).faults.set(rules);
    },
  };
  return {
    handlers,
    get devices() {
      return devices.size;
    },
    closeAll: () => {
      for (const d of devices.values()) d.close();
      devices.clear();
    },
  };
}

/** A device running in a worker, seen from the main thread. */
export interface RemoteVirtioDevice {
  /** The device's id in its worker. */
  readonly id: number;
  /**
   * The device's counters; once closed, as they were when it closed (the worker forgets a closed
   * device, and counts nothing for it after: its agent is disconnected from the platform).
   */
  stats(): Promise<VirtioDeviceStats>;
  /** Replaces the device's wire-level fault rules. */
  setWireFaults(rules: readonly VirtioWireFaultRule[]): Promise<void>;
  /**
   * Closes the device (the driver may then reclaim without a reset acknowledgement); idempotent.
   * Resolves as well when the worker was stopped or exited first: the device went with it.
   */
  close(): Promise<void>;
}

/**
 * Main-thread side: attaches a device, in the worker `host` (which runs
 * {@link serveVirtioDevices}), to the shared `wire`, for agent `agentId`. Give the same wire to
 * the agent's `transportConfig`.
 *
 * @throws ScmiConfigError when the wire is not shared; the worker's error when it cannot attach;
 * ScmiTransportError `E_WORKER_PROTOCOL` when the worker answers with no device id.
 * @example
 * ```ts
 * const wire = VirtioScmiWire.shared();
 * const device = await attachRemoteVirtioDevice(host, wire, 1);
 * const agent = await createAgent(container, { transport: 'virtio', transportConfig: { wire } });
 * ```
 */
export async function attachRemoteVirtioDevice(
  host: WorkerHost,
  wire: VirtioScmiWire,
  agentId: number,
  options: RemoteVirtioDeviceOptions = {},
): Promise<RemoteVirtioDevice> {
  if (wire.mode !== 'shared') {
    throw new ScmiConfigError(
      'wire',
      'a device in a worker needs a shared wire (VirtioScmiWire.shared)',
    );
  }
  const id = await callForId(
    host,
    'a device id',
    VIRTIO_WORKER_METHODS.attach,
    wire.handle,
    agentId,
    options,
  );
  let closing: Promise<void> | undefined;
  let final: VirtioDeviceStats | undefined;
  // A worker that exits without closing the device (it crashed, or was terminated) leaves it
  // attached on the wire: the driver would wait out every RX timeout, then the reset, and count
  // every buffer leaked, for a device that can never answer again. Marked gone, as the OP-TEE
  // wire tells its driver the TEE died (`teeDied`). A no-op once the device closed.
  void host.exited.then(() => {
    wire.markDeviceEndGone();
  });
  return {
    id,
    stats: async () => {
      if (closing !== undefined) await closing.catch(() => undefined);
      return final ?? ((await host.call(VIRTIO_WORKER_METHODS.stats, id)) as VirtioDeviceStats);
    },
    setWireFaults: async (rules) => {
      await host.call(VIRTIO_WORKER_METHODS.setWireFaults, id, rules);
    },
    close: () => {
      closing ??= host.call(VIRTIO_WORKER_METHODS.close, id).then(
        (stats) => {
          final = stats as VirtioDeviceStats | undefined;
        },
        (error: unknown) => {
          // A worker stopped (its onStop closed its devices) or gone: nothing is left to close.
          if (!isWorkerGone(error)) throw error;
        },
      );
      return closing;
    },
  };
}
