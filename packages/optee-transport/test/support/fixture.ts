import {
  isWorkerGone,
  TRANSPORT,
  coreModule,
  createAgent,
  resolveWorkerEntry,
  startWorker,
  type AgentOptions,
  type Clock,
  type ScmiAgent,
  type ScmiPlatformPort,
} from '@scmi-ts/core';
import type { FixtureEnds, TransportFixture } from '@scmi-ts/conformance';
import type { FaultRule, PlatformConfig } from '@scmi-ts/platform';
import { Container, ContainerModule } from 'inversify';
import {
  EmulatedOptee,
  OpteeDriver,
  OpteeTransport,
  createSameThreadOpteeWire,
  openOpteeWorkerWire,
  opteeTransportConfig,
  type EmulatedOpteeStats,
  type OpteeDriverOptions,
  type OpteeWireFault,
  type OpteeWireOptions,
} from '../../src/index.js';

// What the OP-TEE fixture gives besides the kit's interface, for this package's own tests.

/** Same-thread ends with the emulated OP-TEE and the driver in reach. */
export interface OpteeSameThreadEnds extends FixtureEnds {
  readonly transport: OpteeTransport;
  readonly agentOptions: Partial<AgentOptions>;
  readonly optee: EmulatedOptee;
  readonly driver: OpteeDriver;
  setAgentSignalInterceptor(interceptor: ((deliver: () => void) => void) | undefined): void;
}

/** Worker ends: the wire's faults and counters live in the worker. */
export interface OpteeWorkerEnds extends FixtureEnds {
  readonly transport: OpteeTransport;
  readonly agentOptions: Partial<AgentOptions>;
  readonly driver: OpteeDriver;
  setWireFaults(rules: readonly OpteeWireFault[]): Promise<void>;
  teeStats(): Promise<EmulatedOpteeStats | undefined>;
}

/** The worker of one fixture: a platform and emulated OP-TEEs in a worker thread. */
export interface OpteeWorker {
  open(): Promise<OpteeWorkerEnds>;
  setFaults(rules: readonly FaultRule[]): Promise<void>;
  /** Sends now what the worker platform holds for `hold` faults; resolves with how many. */
  releaseHeldResponses(): Promise<number>;
  /** The worker platform's fault counts per kind (cumulative). */
  faultCounts(): Promise<Readonly<Record<string, number>>>;
  /** Timers the worker's platform has armed. */
  platformTimers(): Promise<number>;
  stop(): Promise<void>;
  /**
   * Ends the worker's thread abruptly (`worker.terminate()`: no `onStop`, no OP-TEE closed), as a
   * secure world that dies would; resolves once it exited. Idempotent.
   */
  kill(): Promise<void>;
}

/** Options of {@link createOpteeFixture}. */
export interface OpteeFixtureOptions {
  /** `'static'`: every channel has a static SMT area (SMT mode); `'dynamic'`: none (MSG mode). */
  readonly shmem: 'static' | 'dynamic';
  /** OP-TEE channels 0 … n-1; default 4. */
  readonly channels?: number;
  /** Platform-response wait of the emulated SCMI server, ms (default the emulation's 50). */
  readonly platformTimeoutMs?: number;
  /** Busy wait of the agent for a held channel, ms (default the transport's: 2 × `rxTimeoutMs`). */
  readonly busyTimeoutMs?: number;
  /** The SCMI PTA's capabilities (`PtaScmiCaps` bits; default SMT and MSG). */
  readonly capabilities?: number;
  /** The agent's MSG buffer size (`transportConfig.msgBufferSize`; default the transport's). */
  readonly msgBufferSize?: number;
  /** The MSG buffer size the emulated OP-TEE sizes responses to (default the emulation's, 104). */
  readonly teeMsgBufferSize?: number;
  /** Options of the same-thread driver (`knowsThreadCount`). */
  readonly driver?: OpteeDriverOptions;
}

function wireOptions(o: OpteeFixtureOptions): OpteeWireOptions {
  return {
    channels: Array.from({ length: o.channels ?? 4 }, (_, id) => ({
      id,
      staticShmem: o.shmem === 'static',
    })),
    threads: 8,
  };
}

function agentOptions(driver: OpteeDriver, o: OpteeFixtureOptions): Partial<AgentOptions> {
  return {
    transportConfig: opteeTransportConfig(driver, {
      ...(o.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: o.busyTimeoutMs }),
      ...(o.msgBufferSize === undefined ? {} : { msgBufferSize: o.msgBufferSize }),
    }),
  };
}

/** Creates the OP-TEE fixture in SMT (`shmem: 'static'`) or MSG (`shmem: 'dynamic'`) mode. */
export function createOpteeFixture(options: OpteeFixtureOptions) {
  const fixture = {
    name: 'optee',
    variant: options.shmem === 'static' ? 'smt' : 'msg',
    capabilities: { p2a: false, interrupt: false, polling: true, outOfOrder: false, worker: true },

    sameThread(ctx: {
      platform: ScmiPlatformPort;
      clock: Clock;
      agentId: number;
    }): Promise<OpteeSameThreadEnds> {
      const wire = createSameThreadOpteeWire(ctx.clock, wireOptions(options));
      const optee = new EmulatedOptee({
        wire: wire.tee,
        platform: ctx.platform,
        agentId: ctx.agentId,
        clock: ctx.clock,
        ...(options.platformTimeoutMs === undefined
          ? {}
          : { platformTimeoutMs: options.platformTimeoutMs }),
        ...(options.capabilities === undefined ? {} : { capabilities: options.capabilities }),
        ...(options.teeMsgBufferSize === undefined
          ? {}
          : { msgBufferSize: options.teeMsgBufferSize }),
      });
      const driver = new OpteeDriver(wire.ree, options.driver);
      const transport = new OpteeTransport();
      let closed = false;
      return Promise.resolve({
        transport,
        // What the transport recorded against itself (an invocation returned after free…).
        transportViolations: () => transport.diagnostics().violations,
        agentOptions: agentOptions(driver, options),
        optee,
        driver,
        setAgentSignalInterceptor: (i: ((deliver: () => void) => void) | undefined) => {
          driver.setReturnInterceptor(i);
        },
        // Responses the SCMI server got from the platform that answer no message waiting on their
        // channel (duplicates, unsolicited, the answer to a message it gave up on), dropped.
        strayRepliesDropped: () => optee.stats.scmi.strayResponses,
        close: () => {
          if (!closed) {
            closed = true;
            driver.close();
            optee.close();
          }
          return Promise.resolve();
        },
      });
    },

    async worker(ctx: {
      platformConfig: PlatformConfig;
      agentId: number;
      seed: number;
    }): Promise<OpteeWorker> {
      const host = await startWorker({
        entry: resolveWorkerEntry(__dirname, 'optee-worker'),
        data: {
          platformConfig: ctx.platformConfig,
          agentId: ctx.agentId,
          seed: ctx.seed,
          ...(options.platformTimeoutMs === undefined
            ? {}
            : { platformTimeoutMs: options.platformTimeoutMs }),
          ...(options.teeMsgBufferSize === undefined
            ? {}
            : { msgBufferSize: options.teeMsgBufferSize }),
        },
        name: 'optee-worker',
      });
      // Set by kill(): the worker's thread was ended abruptly, nothing in it answers any more.
      let killing: Promise<void> | undefined;
      /** `error`, unless the session was killed and it says the worker is gone. */
      const unlessKilled = (error: unknown): undefined => {
        if (killing !== undefined && isWorkerGone(error)) return undefined;
        throw error;
      };
      return {
        async open(): Promise<OpteeWorkerEnds> {
          const cancelled = async (): Promise<number> =>
            (await host.call('cancelledOnDisconnect')) as number;
          const cancelledBefore = await cancelled();
          const wire = await openOpteeWorkerWire(host, wireOptions(options));
          const transport = new OpteeTransport();
          return {
            transport,
            transportViolations: () => transport.diagnostics().violations,
            agentOptions: agentOptions(wire.driver, options),
            driver: wire.driver,
            setWireFaults: (rules) => wire.setWireFaults(rules),
            teeStats: () => wire.stats(),
            // The SCMI server's stray responses (see the same-thread ends), read in the worker,
            // or once closed as they were when it closed.
            strayRepliesDropped: async () => (await wire.stats())?.scmi.strayResponses ?? 0,
            // Every message the SCMI server saw: passed to the platform, or refused before it
            // (undefined once the worker was killed).
            commandsTaken: async () => {
              const scmi = (await wire.stats().catch(unlessKilled))?.scmi;
              return scmi === undefined ? undefined : scmi.messages + scmi.rejected + scmi.busy;
            },
            close: () => wire.close(),
            // What the platform cancelled unsent since this wire opened: closing the wire
            // disconnects the agent, and a reply still delayed then is dropped there (the
            // worker's platform serves the wires one at a time in the kit's runs).
            repliesCancelled: async () => (await cancelled()) - cancelledBefore,
          };
        },
        async setFaults(rules: readonly FaultRule[]): Promise<void> {
          await host.call('setFaults', rules);
        },
        releaseHeldResponses: async () => (await host.call('releaseHeldResponses')) as number,
        faultCounts: async () =>
          (await host.call('faultCounts')) as Readonly<Record<string, number>>,
        platformTimers: async () => (await host.call('platformTimers')) as number,
        stop: () => host.stop(),
        kill: () =>
          (killing ??= (async () => {
            await host.worker.terminate();
            await host.exited;
          })()),
      };
    },
  };
  return fixture satisfies TransportFixture;
}

/** The OP-TEE transport in SMT mode: every channel has a static SMT area (PTA command 1). */
export const opteeFixture = createOpteeFixture({ shmem: 'static' });

/** The OP-TEE transport in MSG mode: registered shared memory per channel (PTA command 4). */
export const opteeMsgFixture = createOpteeFixture({ shmem: 'dynamic' });

/**
 * Probes an agent over worker-mode ends, in a container of its own with the ends' transport;
 * `rxTimeoutMs` 1000 unless `options` says otherwise (the probe's commands cross threads on a
 * possibly loaded machine).
 */
export function createWorkerAgent(
  ends: OpteeWorkerEnds,
  options: Partial<AgentOptions> = {},
): Promise<ScmiAgent> {
  const container = new Container();
  container.load(coreModule);
  container.load(
    new ContainerModule(({ bind }) => {
      bind(TRANSPORT).toConstantValue(ends.transport);
    }),
  );
  return createAgent(container, {
    transport: 'optee',
    ...ends.agentOptions,
    rxTimeoutMs: 1000,
    ...options,
  });
}
