import {
  ScmiConfigError,
  SharedDoorbell,
  formatValue,
  isRecord,
  optionKeys,
  refuseUnknownKeys,
} from '@scmi-ts/core';
import { isQueueSize } from '../layout/split-ring-layout.js';
import { VirtioScmiWire } from '../wire/virtio-scmi-wire.js';

/** Which optional features the driver asks for (it takes those the device offers). */
export interface VirtioDriverFeatureOptions {
  /** `VIRTIO_SCMI_F_P2A_CHANNELS` (the eventq: notifications, delayed responses); default true. */
  readonly p2a?: boolean;
  /** `VIRTIO_F_EVENT_IDX` (notification suppression by event indices); default true. */
  readonly eventIdx?: boolean;
  /**
   * `VIRTIO_F_INDIRECT_DESC`; default false. The driver still uses two direct descriptors per
   * message: negotiating it only lets the device accept indirect chains.
   */
  readonly indirectDesc?: boolean;
}

/**
 * The `transportConfig` section of an agent on the virtio transport. Only `wire` is required.
 *
 * @example
 * ```ts
 * const options: AgentOptions = {
 *   transport: 'virtio', // a pool of cmdqSize / 2 = 32 transfers, each with its cmdq slot
 *   transportConfig: { wire, cmdqSize: 64, features: { eventIdx: false } },
 * };
 * ```
 */
export interface VirtioTransportConfig {
  /** The wire to drive (created by whoever wires both ends). */
  readonly wire: VirtioScmiWire;
  /**
   * cmdq size the driver sets up: a power of two ≥ 2, at most the device's; default the device's.
   * It sizes the agent's transfer pool too (`cmdqSize / 2`, see `createVirtioTransport`).
   */
  readonly cmdqSize?: number;
  /** eventq size the driver sets up: a power of two, at most the device's; default the device's. */
  readonly eventqSize?: number;
  /** Optional features to negotiate. */
  readonly features?: VirtioDriverFeatureOptions;
  /** How long each step of the device handshake may take, ms; default 1000. */
  readonly handshakeTimeoutMs?: number;
  /** How long the device may take to acknowledge the reset at teardown, ms; default 1000. */
  readonly resetTimeoutMs?: number;
  /**
   * How long a command may wait for free cmdq buffers (all held by the device), ms; default
   * 60 000 (the virtio response timeout). Then it fails with `E_VIRTIO_BUSY`.
   */
  readonly slotWaitMs?: number;
  /**
   * After a used-buffer notification whose drain took responses, keep cmdq interrupts disabled and
   * look at the used ring again on the next task (NAPI-style), instead of enabling interrupts at
   * once (`virtqueue_enable_cb`, as Linux's virtio-scmi does). Default false, on either wire. On a
   * shared wire the interrupt doorbell already polls for its poll window after each wake-up
   * (core's `SharedDoorbell`), so an interrupt the device rings meanwhile costs no wake-up; with
   * interrupts off the device rings none, and a response the single extra look misses waits for
   * a full wake-up. Measured on 2 cores in three interleaved runs: the worker-mode round trip took
   * 7.3–7.7 µs with it and 6.3–6.5 µs without in two of them (8.3 against 7.3 in the third); at
   * depth 16 neither was clearly faster (1.6–2.2 µs per command either way). On a same-thread wire
   * an interrupt is a task too, so the extra look only adds one.
   */
  readonly pollAfterDrain?: boolean;
  /**
   * On a shared wire, the poll window of the driver's doorbells, in µs: how long the interrupt
   * doorbell keeps looking for the device's next ring after a wake-up before the agent's thread
   * sleeps (core's `SharedDoorbellOptions`); default 50 (0 on a single CPU). 0 sleeps after one
   * look, sparing the CPU
   * at the price of a thread wake-up per response when commands come one at a time. A number from
   * 0 to 1,000,000; ignored on a same-thread wire.
   */
  readonly pollWindowUs?: number;
}

/** A validated {@link VirtioTransportConfig}, defaults applied. */
export interface ResolvedVirtioTransportConfig {
  /** The wire. */
  readonly wire: VirtioScmiWire;
  /** cmdq size. */
  readonly cmdqSize: number;
  /** eventq size. */
  readonly eventqSize: number;
  /** Features the driver asks for. */
  readonly features: Required<VirtioDriverFeatureOptions>;
  /** Handshake step timeout, ms. */
  readonly handshakeTimeoutMs: number;
  /** Reset acknowledgement timeout, ms. */
  readonly resetTimeoutMs: number;
  /** Wait for free cmdq buffers, ms. */
  readonly slotWaitMs: number;
  /** Whether a drain that took responses looks again on the next task, interrupts disabled. */
  readonly pollAfterDrain: boolean;
  /** The driver's doorbells' poll window, µs. */
  readonly pollWindowUs: number;
}

// Every key of the section and of its `features`, as records the compiler checks against the
// interfaces: an option added there without being added here (or the reverse) does not compile.
const CONFIG_KEYS: ReadonlySet<string> = optionKeys<VirtioTransportConfig>({
  wire: true,
  cmdqSize: true,
  eventqSize: true,
  features: true,
  handshakeTimeoutMs: true,
  resetTimeoutMs: true,
  slotWaitMs: true,
  pollAfterDrain: true,
  pollWindowUs: true,
});
const FEATURE_KEYS: ReadonlySet<string> = optionKeys<VirtioDriverFeatureOptions>({
  p2a: true,
  eventIdx: true,
  indirectDesc: true,
});

function positive(v: unknown, field: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new ScmiConfigError(field, `expected a positive number of ms, got ${formatValue(v)}`);
  }
  return v;
}

function flag(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new ScmiConfigError(field, 'expected a boolean');
  return v;
}

function queueSize(v: unknown, field: string, max: number, min: number): number {
  if (v === undefined) return max;
  if (!isQueueSize(v) || v < min || v > max) {
    throw new ScmiConfigError(
      field,
      `expected a power of two in ${min} … ${max} (the device's), got ${formatValue(v)}`,
    );
  }
  return v;
}

/**
 * Validates the virtio transport section of an agent configuration and applies defaults.
 *
 * @throws ScmiConfigError naming the field (prefixed with `field`): a missing or foreign `wire`,
 *   a queue size that is not a power of two or exceeds the device's, a bad timeout or flag, a
 *   `features` that is not an object (null included), or an unknown key in the section or in its
 *   `features` (`transportConfig.cmdqsize`, `transportConfig.features.eventidx`): a misspelt option
 *   is refused, not left at its default unnoticed.
 * @example
 * ```ts
 * const config = validateVirtioTransportConfig({ wire }, 'transportConfig');
 * config.cmdqSize; // the wire's
 * ```
 */
export function validateVirtioTransportConfig(
  section: unknown,
  field: string,
): ResolvedVirtioTransportConfig {
  if (!isRecord(section)) {
    throw new ScmiConfigError(field, 'expected an object with a `wire` (a VirtioScmiWire)');
  }
  refuseUnknownKeys(section, CONFIG_KEYS, field);
  const wire = section.wire;
  if (!(wire instanceof VirtioScmiWire)) {
    throw new ScmiConfigError(
      `${field}.wire`,
      'expected a VirtioScmiWire (VirtioScmiWire.sameThread / shared)',
    );
  }
  // Only an absent `features` means the defaults: null is refused like any other non-object.
  const features = section.features === undefined ? {} : section.features;
  if (!isRecord(features)) {
    throw new ScmiConfigError(
      `${field}.features`,
      features === null
        ? 'expected an object, got null (leave it out for the defaults)'
        : 'expected an object',
    );
  }
  refuseUnknownKeys(features, FEATURE_KEYS, `${field}.features`);
  return {
    wire,
    cmdqSize: queueSize(section.cmdqSize, `${field}.cmdqSize`, wire.layout.cmdqSize, 2),
    eventqSize: queueSize(section.eventqSize, `${field}.eventqSize`, wire.layout.eventqSize, 1),
    features: {
      p2a: flag(features.p2a, `${field}.features.p2a`, true),
      eventIdx: flag(features.eventIdx, `${field}.features.eventIdx`, true),
      indirectDesc: flag(features.indirectDesc, `${field}.features.indirectDesc`, false),
    },
    handshakeTimeoutMs: positive(section.handshakeTimeoutMs, `${field}.handshakeTimeoutMs`, 1000),
    resetTimeoutMs: positive(section.resetTimeoutMs, `${field}.resetTimeoutMs`, 1000),
    slotWaitMs: positive(section.slotWaitMs, `${field}.slotWaitMs`, 60_000),
    pollAfterDrain: flag(section.pollAfterDrain, `${field}.pollAfterDrain`, false),
    pollWindowUs: SharedDoorbell.checkPollWindow(section.pollWindowUs, `${field}.pollWindowUs`),
  };
}
