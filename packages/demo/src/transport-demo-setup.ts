import type { AgentOptions, WorkerHost } from '@scmi-ts/core';
import type { ContainerModule } from 'inversify';
import type { PlatformWorkerData } from './platform-worker.js';

/** The transports the demo knows, in the order it shows them. */
export const DEMO_TRANSPORTS = ['mailbox', 'virtio', 'optee', 'peer-port'] as const;

/** The name of a transport the demo can run (its descriptor name). */
export type DemoTransportName = (typeof DEMO_TRANSPORTS)[number];

/** Where the seed scenario's late reply went, as one transport's wire recorded it. */
export interface LateReplyReport {
  /** Completes "the platform's late reply …". */
  readonly where: string;
  /** The counters that account for it. */
  readonly counted: string;
}

/** What a wire's own instrumentation recorded about its channels once the agent is gone. */
export interface WireReport {
  /** Callbacks that ran against a released channel (must be 0). */
  readonly violations: number;
  /** Transport-specific evidence of the release, as label/value rows. */
  readonly rows: readonly (readonly [label: string, value: string])[];
}

/** One wire between the agent and the platform worker, as one transport builds it. */
export interface DemoWire {
  /** One line describing the wire's channels. */
  readonly description: string;
  /** Binds a transport for this wire to core's `TRANSPORT` token (loaded in a fresh container). */
  readonly module: ContainerModule;
  /** The agent options that wire the agent to this wire (channels, `transportConfig`, pool). */
  readonly agentOptions: Omit<AgentOptions, 'transport'>;
  /** What the wire recorded about its channels (call it before {@link DemoWire.close}). */
  report(): Promise<WireReport>;
  /** After the seed scenario, once the platform sent its late reply: where it went. */
  lateReply(): Promise<LateReplyReport>;
  /** Closes the wire and its platform end in the worker; idempotent. */
  close(): Promise<void>;
}

/** What the messages of step 2 travel on, per transport. */
export interface DemoRawMessageRoutes {
  /** The channel the Clock protocol's message uses, as printed. */
  readonly clock: string;
  /** The channel the Performance protocol's message uses, as printed. */
  readonly perf: string;
}

/**
 * One transport in the demo: how to start its platform worker, how to open a wire to it, and how
 * to describe it. {@link runTransportDemo} does the rest, the same for every transport.
 */
export interface TransportDemoSetup {
  /** The transport's descriptor name. */
  readonly name: DemoTransportName;
  /** The heading of its part of the demo. */
  readonly title: string;
  /** What runs in the platform thread besides the emulated firmware. */
  readonly backend: string;
  /** Given to the platform worker. */
  readonly workerData: PlatformWorkerData;
  /** Where the raw messages of step 2 travel. */
  readonly routes: DemoRawMessageRoutes;
  /** What happens to a reply that comes after the agent's timeout, on this transport. */
  readonly seedNote: string;
  /** Opens a wire for the probe of steps 1–2 (`purpose: 'probe'`) or the seed scenario. */
  open(host: WorkerHost, purpose: 'probe' | 'seed'): Promise<DemoWire>;
}
