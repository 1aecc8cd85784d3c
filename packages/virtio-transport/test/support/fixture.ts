import {
  isWorkerGone,
  resolveWorkerEntry,
  startWorker,
  type AgentOptions,
  type Clock,
  type ScmiPlatformPort,
  type WorkerHost,
} from '@scmi-ts/core';
import type { FixtureEnds, TransportFixture } from '@scmi-ts/conformance';
import type { FaultRule, PlatformConfig } from '@scmi-ts/platform';
import {
  VirtioScmiDevice,
  VirtioScmiWire,
  attachRemoteVirtioDevice,
  virtioTransport,
  type RemoteVirtioDeviceOptions,
  type VirtioDeviceStats,
  type VirtioScmiDeviceOptions,
  type VirtioTransportConfig,
  type VirtioWireFaultRule,
  type WireLayoutOptions,
} from '@scmi-ts/virtio-transport';
import type { VirtioWorkerData, VirtioWorkerPlatformState } from './virtio-device-worker.js';

// ---- The virtio fixture -------------------------------------------------------------------------

/** The wire every fixture run uses: a 64-entry cmdq (32 messages in flight), a 16-entry eventq. */
export const FIXTURE_WIRE: WireLayoutOptions = { cmdqSize: 64, eventqSize: 16 };

/**
 * The agent options that go with `wire`: no `maxMsg`, so the transport sizes the pool from the cmdq
 * the agent sets up (32 transfers on {@link FIXTURE_WIRE}).
 */
function agentOptionsFor(
  wire: VirtioScmiWire,
  extra: Partial<VirtioTransportConfig>,
): Partial<AgentOptions> {
  const transportConfig: VirtioTransportConfig = {
    wire,
    handshakeTimeoutMs: 1000,
    resetTimeoutMs: 1000,
    slotWaitMs: 1000,
    ...extra,
  };
  return { transportConfig };
}

/** Same-thread ends with the wire and the device exposed, for this package's own tests. */
export interface SameThreadVirtio extends FixtureEnds {
  /** The wire. */
  readonly wire: VirtioScmiWire;
  /** The device (the platform end). */
  readonly device: VirtioScmiDevice;
}

/** Options of {@link openSameThreadVirtio}. */
export interface SameThreadVirtioOptions {
  /** Wire sizes; default {@link FIXTURE_WIRE}. */
  readonly wire?: WireLayoutOptions;
  /** Device options besides platform, agent and clock. */
  readonly device?: Omit<VirtioScmiDeviceOptions, 'platform' | 'agentId' | 'clock'>;
  /** Transport section overrides (besides the wire). */
  readonly transportConfig?: Partial<VirtioTransportConfig>;
}

/** Opens a same-thread virtio wire and device over `platform`. */
export function openSameThreadVirtio(
  ctx: { platform: ScmiPlatformPort; clock: Clock; agentId: number },
  options: SameThreadVirtioOptions = {},
): SameThreadVirtio {
  const wire = VirtioScmiWire.sameThread(ctx.clock, options.wire ?? FIXTURE_WIRE);
  const device = new VirtioScmiDevice(wire, {
    ...options.device,
    platform: ctx.platform,
    agentId: ctx.agentId,
    clock: ctx.clock,
  });
  return {
    wire,
    device,
    transport: virtioTransport,
    agentOptions: agentOptionsFor(wire, options.transportConfig ?? {}),
    setAgentSignalInterceptor: (interceptor) => {
      wire.setUsedBufferInterceptor(interceptor);
    },
    // Replies and events the wire dropped because the agent side no longer took them: those still
    // unread in the used ring when the device was reset that no refused callback counted already
    // (as in worker mode). A reply that came after its polling channel quiesced rings no
    // notification, and one whose notification was held until after release rings one the closed
    // line drops (`signalsAfterClose`): both are here, once. The used buffer of an abandoned
    // command taken before is counted by core (a late reply or a bad message), not here: the kit
    // would count it twice. A device that never acknowledged the reset keeps its buffers (they
    // leak): what it had returned when the wait ended is counted there all the same, and one it
    // returns later rings a notification the closed line drops (`signalsAfterClose`).
    droppedSignals: () => {
      const d = wire.driverDiagnostics;
      return d.uncountedAtReset + (d.resetTimeouts > 0 ? d.signalsAfterClose : 0);
    },
    // Responses the device got from the platform for no outstanding command buffer (duplicates,
    // unsolicited, after a reset or close) and dropped.
    strayRepliesDropped: () => device.stats.unmatchedResponses,
    // What the driver recorded against itself (used buffers handled after free…).
    transportViolations: () => wire.driverDiagnostics.violations,
    close: () => {
      device.close();
      return Promise.resolve();
    },
  };
}

/** Worker-mode ends with the wire and a handle on the worker's device, for this package's tests. */
export interface WorkerVirtio extends FixtureEnds {
  /** The wire (this thread's view). */
  readonly wire: VirtioScmiWire;
  /** The device's counters, read in the worker. */
  deviceStats(): Promise<VirtioDeviceStats>;
  /** Replaces the device's wire-level fault rules. */
  setWireFaults(rules: readonly VirtioWireFaultRule[]): Promise<void>;
}

/** The worker session the fixture returns, with extras for this package's tests. */
export interface VirtioWorkerSession {
  /** A fresh wire and device for one agent. */
  open(options?: {
    transportConfig?: Partial<VirtioTransportConfig>;
    device?: RemoteVirtioDeviceOptions;
  }): Promise<WorkerVirtio>;
  /** Replaces the worker platform's fault rules. */
  setFaults(rules: readonly FaultRule[]): Promise<void>;
  /** Sends now what the worker platform holds for `hold` faults; resolves with how many. */
  releaseHeldResponses(): Promise<number>;
  /** The worker platform's fault counts per kind (cumulative). */
  faultCounts(): Promise<Readonly<Record<string, number>>>;
  /** Timers the worker platform has armed, its connected agents, its disconnect cancellations. */
  platformState(): Promise<VirtioWorkerPlatformState>;
  /** Ends the worker (awaited exit). */
  stop(): Promise<void>;
  /**
   * Ends the worker's thread abruptly (`worker.terminate()`: no `onStop`, no device closed), as a
   * device that dies would; resolves once it exited. Idempotent.
   */
  kill(): Promise<void>;
  /** The worker host. */
  readonly host: WorkerHost;
}

/** Starts the device worker (platform + devices) for `agentId`. */
export async function startVirtioWorker(ctx: {
  platformConfig: PlatformConfig;
  agentId: number;
  seed: number;
}): Promise<VirtioWorkerSession> {
  const data: VirtioWorkerData = { platformConfig: ctx.platformConfig, seed: ctx.seed };
  const host = await startWorker({
    entry: resolveWorkerEntry(__dirname, 'virtio-device-worker'),
    data,
    name: 'virtio-device',
  });
  const platformState = async (): Promise<VirtioWorkerPlatformState> =>
    (await host.call('platformState')) as VirtioWorkerPlatformState;
  // Set by kill(): the worker's thread was ended abruptly, nothing in it answers any more.
  let killing: Promise<void> | undefined;
  /** `error`, unless the session was killed and it says the worker is gone. */
  const unlessKilled = (error: unknown): undefined => {
    if (killing !== undefined && isWorkerGone(error)) return undefined;
    throw error;
  };
  return {
    host,
    open: async (options = {}) => {
      const cancelledBefore = (await platformState()).cancelledOnDisconnect;
      const wire = VirtioScmiWire.shared(FIXTURE_WIRE);
      const device = await attachRemoteVirtioDevice(host, wire, ctx.agentId, {
        seed: ctx.seed,
        ...options.device,
      });
      return {
        wire,
        transport: virtioTransport,
        agentOptions: agentOptionsFor(wire, options.transportConfig ?? {}),
        // Replies the wire dropped because the agent side no longer took them: those still unread
        // in the used ring when the device was reset (they came after the channel quiesced) that
        // no refused callback counted already. The used buffer of an abandoned command taken
        // before is counted by core (a late reply or a bad message), not here: the kit would count
        // it twice.
        droppedSignals: () => wire.driverDiagnostics.uncountedAtReset,
        // Responses the device got from the platform for no outstanding command buffer
        // (duplicates, unsolicited, after a reset): read in the worker, or once the device is
        // closed, as they were when it closed.
        strayRepliesDropped: async () => (await device.stats()).unmatchedResponses,
        // Commands the device took from the cmdq (valid ones: a bad chain is not a command);
        // undefined once the worker was killed.
        commandsTaken: async () => (await device.stats().catch(unlessKilled))?.commands,
        transportViolations: () => wire.driverDiagnostics.violations,
        // After kill() there is no device left to close.
        close: () => device.close().catch(unlessKilled),
        // What the platform cancelled unsent since this wire opened: the device's reset at
        // teardown disconnects the agent, and a reply still delayed then is dropped there. The
        // worker's platform is shared by the wires it serves, one at a time in the kit's runs.
        repliesCancelled: async () =>
          (await platformState()).cancelledOnDisconnect - cancelledBefore,
        deviceStats: () => device.stats(),
        setWireFaults: (rules) => device.setWireFaults(rules),
      };
    },
    setFaults: async (rules) => {
      await host.call('setFaults', rules);
    },
    releaseHeldResponses: async () => (await host.call('releaseHeldResponses')) as number,
    faultCounts: async () => (await host.call('faultCounts')) as Readonly<Record<string, number>>,
    platformState,
    stop: () => host.stop(),
    kill: () =>
      (killing ??= (async () => {
        await host.worker.terminate();
        await host.exited;
      })()),
  };
}

/**
 * The virtio transport's fixture for the conformance kit: same-thread (a {@link VirtioScmiWire}
 * on the kit's VirtualClock, the device in the same thread; the interceptor holds used-buffer
 * notifications, not status acknowledgements) and worker mode (the platform and the devices in one
 * worker, a fresh shared wire per `open()`).
 */
export const virtioFixture: TransportFixture = {
  name: 'virtio',
  capabilities: { p2a: true, interrupt: true, polling: true, outOfOrder: true, worker: true },
  sameThread: (ctx) => {
    const ends = openSameThreadVirtio(ctx);
    return Promise.resolve(ends);
  },
  worker: async (ctx) => {
    const session = await startVirtioWorker(ctx);
    return {
      open: () => session.open(),
      setFaults: (rules) => session.setFaults(rules),
      releaseHeldResponses: () => session.releaseHeldResponses(),
      faultCounts: () => session.faultCounts(),
      stop: () => session.stop(),
      kill: () => session.kill(),
    };
  },
};

/** The device rule of {@link virtioSlowResetFixture}: every reset acknowledged 2 ms late. */
const SLOW_RESET: readonly VirtioWireFaultRule[] = [{ kind: 'reset-ack-late', ackAfterMs: 2 }];

/**
 * The virtio fixture with a device whose reset takes 2 ms (`reset-ack-late`): from the driver's
 * status 0 to its acknowledgement the device goes on serving — the platform's late replies are
 * written into the buffers it holds while the agent tears down — and the driver must reclaim
 * nothing before the acknowledgement. Every kit scenario and `pnpm stress` run over it as over
 * {@link virtioFixture}.
 */
export const virtioSlowResetFixture: TransportFixture = {
  name: 'virtio',
  variant: 'slow-reset',
  capabilities: virtioFixture.capabilities,
  sameThread: (ctx) =>
    Promise.resolve(openSameThreadVirtio(ctx, { device: { faults: SLOW_RESET } })),
  worker: async (ctx) => {
    const session = await startVirtioWorker(ctx);
    return {
      open: () => session.open({ device: { faults: SLOW_RESET } }),
      setFaults: (rules) => session.setFaults(rules),
      releaseHeldResponses: () => session.releaseHeldResponses(),
      faultCounts: () => session.faultCounts(),
      stop: () => session.stop(),
      kill: () => session.kill(),
    };
  },
};
