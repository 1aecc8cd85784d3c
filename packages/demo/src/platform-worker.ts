/**
 * The demo's platform thread: the emulated SCMI firmware (`@scmi-ts/platform`) and the
 * platform-side backend of one transport (`workerData.transport`) — the mailbox transport's SMT
 * responders, the virtio-scmi devices, or the emulated OP-TEE with its SCMI PTA — served to the
 * main thread with core's worker host. Started from its TypeScript source in tests and from
 * `dist/` by `pnpm demo` (see `resolveWorkerEntry`).
 */
import { RealClock, serveWorker, type WorkerHandlers } from '@scmi-ts/core';
import { createSmtWorkerHandlers } from '@scmi-ts/mailbox-transport';
import { createEmulatedOpteeHost } from '@scmi-ts/optee-transport';
import {
  PERF_FAST_CHANNEL_SLOT_SIZE,
  ScmiPlatform,
  createDefaultPlatformConfig,
  startPeerPort,
  type FaultRule,
  type PeerPort,
  type PerformanceFastChannelsConfig,
  type PlatformConfig,
} from '@scmi-ts/platform';
import { serveVirtioDevices } from '@scmi-ts/virtio-transport';
import { workerData } from 'node:worker_threads';

/** What the main thread gives the platform worker. */
export interface PlatformWorkerData {
  /** Which transport's backend to serve. */
  readonly transport: 'mailbox' | 'virtio' | 'optee' | 'peer-port';
  /** The agent id the backend connects (the emulated OP-TEE serves one agent). */
  readonly agentId: number;
  /** How long the emulated OP-TEE's SCMI server waits for a platform response, ms. */
  readonly platformTimeoutMs?: number;
  /**
   * The platform's configuration (`pnpm demo --config <file>`, loaded and checked by the main
   * thread); default `createDefaultPlatformConfig()`.
   */
  readonly config?: PlatformConfig;
  /**
   * Performance fast channels (as SCP-firmware's) in this shared memory, seen by the agent at
   * `base`: given to the platform as its `performanceFastChannels`, every performance domain whose
   * 24-byte slot fits in `memory` then having them — unless `config` has fast channels of its own.
   */
  readonly fastChannels?: PerformanceFastChannelsConfig;
}

interface Backend {
  readonly handlers: WorkerHandlers;
  close(): void | Promise<void>;
}

const data = workerData as PlatformWorkerData;
const clock = new RealClock();

/**
 * `config` with the fast channels of `data.fastChannels`, when given and it has none of its own
 * and at least one performance domain whose slot fits in the memory.
 */
function withFastChannels(config: PlatformConfig): PlatformConfig {
  const fast = data.fastChannels;
  if (fast === undefined || config.performanceFastChannels !== undefined) return config;
  const slots = Math.floor(fast.memory.byteLength / PERF_FAST_CHANNEL_SLOT_SIZE);
  if (slots === 0 || (config.performanceDomains ?? []).length === 0) return config;
  return {
    ...config,
    performanceFastChannels: fast,
    performanceDomains: (config.performanceDomains ?? []).map((d, i) =>
      i < slots ? { ...d, fastChannels: true } : d,
    ),
  };
}

// OP-TEE's SCMI server answers NOT_SUPPORTED to a message it does not know (scmi_msg.c) and
// INVALID_PARAMETERS to a domain id past the last (clock.c, reset_domain.c, …); SCP-firmware,
// behind the mailbox and virtio transports, answers NOT_FOUND to both.
const platform = new ScmiPlatform(withFastChannels(data.config ?? createDefaultPlatformConfig()), {
  clock,
  ...(data.transport === 'optee'
    ? { behaviour: { unknownMessage: 'not-supported', unknownDomain: 'invalid-parameters' } }
    : {}),
});

function openBackend(): Backend {
  switch (data.transport) {
    case 'mailbox': {
      const smt = createSmtWorkerHandlers(platform, clock);
      return { handlers: smt.handlers, close: () => smt.closeAll() };
    }
    case 'virtio': {
      const devices = serveVirtioDevices(platform, clock);
      return { handlers: devices.handlers, close: () => devices.closeAll() };
    }
    case 'optee': {
      const host = createEmulatedOpteeHost({
        platform,
        agentId: data.agentId,
        clock,
        ...(data.platformTimeoutMs === undefined
          ? {}
          : { platformTimeoutMs: data.platformTimeoutMs }),
      });
      return { handlers: host.handlers, close: () => host.close() };
    }
    case 'peer-port':
      return peerPortBackend();
  }
}

/**
 * The peer port's backend: one port per wire (loopback TCP, a free port), each serving the one
 * agent id — a connection serves one agent, once, and a new port needs no wait for the last
 * connection's close to be seen.
 */
function peerPortBackend(): Backend {
  const ports = new Map<number, PeerPort>();
  let next = 0;
  return {
    handlers: {
      openPeerPort: async () => {
        const port = await startPeerPort(platform, { agentIds: [data.agentId] });
        const id = next++;
        ports.set(id, port);
        return { id, address: port.address };
      },
      closePeerPort: async (id: number) => {
        const port = ports.get(id);
        ports.delete(id);
        await port?.close();
      },
    },
    close: async () => {
      const closing = [...ports.values()].map((port) => port.close());
      ports.clear();
      await Promise.all(closing);
    },
  };
}

const backend = openBackend();

serveWorker(
  {
    ...backend.handlers,
    // All or nothing: a list with a bad rule leaves the rules in force as they were.
    setFaults: (rules: readonly FaultRule[]) => {
      platform.faults.set(rules);
    },
    // Timers other than accepted asynchronous operations' (those complete even after their
    // agent is gone) and the fast channels' polling (as long as the platform runs): a late reply
    // still to send, or one nothing can use any more.
    armedTimers: () => platform.armedTimers - platform.pendingOperations - platform.pollingTimers,
    platformCounters: () => ({ ...platform.counters }),
    // What the platform did for one agent, and the statuses it answered it.
    agentCounters: (agentId: number) => platform.agentCounters(agentId),
  },
  {
    onStop: async () => {
      await backend.close();
      platform.close();
    },
  },
);
