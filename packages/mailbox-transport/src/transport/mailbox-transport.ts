import {
  ScmiConfigError,
  ScmiTransportError,
  type ChannelSetup,
  type Transport,
  type TransportChannel,
  type TransportDescriptor,
} from '@scmi-ts/core';
import type { MailboxController } from '../mailbox/mailbox-controller.js';
import { SMT_HEADER_SIZE, SmtArea } from '../smt/smt-layout.js';
import { findSmtChannel, type SmtWireLayout } from '../smt/smt-wire-layout.js';
import { SmtWireMonitor, type MailboxWire } from '../wire/mailbox-wire.js';
import { SmtChannel } from './smt-channel.js';

/**
 * The `transportConfig` section of an agent using the mailbox transport.
 *
 * @example
 * ```ts
 * const { wire } = createSameThreadMailboxWire(clock);
 * await createAgent(container, { transport: 'mailbox', transportConfig: { wire } });
 * ```
 */
export interface MailboxTransportConfig {
  /** The agent end of the wire: SMT areas and the mailbox controller. */
  readonly wire: MailboxWire;
  /**
   * How long a send waits for CHANNEL_FREE before it fails the transfer, ms (default: twice the
   * agent's `rxTimeoutMs`, as Linux `shmem_tx_prepare`).
   */
  readonly freeWaitMs?: number;
}

/** A validated {@link MailboxTransportConfig}, defaults applied. */
export interface ResolvedMailboxTransportConfig {
  /** The wire. */
  readonly wire: MailboxWire;
  /** How long a send waits for CHANNEL_FREE, ms (undefined: twice the agent's `rxTimeoutMs`). */
  readonly freeWaitMs: number | undefined;
  /** Where the channels record what happened (the wire's monitor, or a new one). */
  readonly monitor: SmtWireMonitor;
}

/** Options of {@link createMailboxTransport}: the descriptor's limits (Linux `scmi_desc`). */
export interface MailboxTransportOptions {
  /** Transfers in flight per agent (default 20, Linux `max_msg`). */
  readonly maxMsg?: number;
  /** Largest message payload, bytes (default 128, Linux `max_msg_size`). */
  readonly maxMsgSize?: number;
  /** Default response timeout, ms (default 30, Linux `max_rx_timeout_ms`). */
  readonly rxTimeoutMs?: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateLayout(v: unknown, field: string, maxMsgSize: number): SmtWireLayout {
  if (!isRecord(v)) throw new ScmiConfigError(field, 'expected an SMT wire layout');
  if (Object.prototype.toString.call(v.memory) !== '[object SharedArrayBuffer]') {
    throw new ScmiConfigError(`${field}.memory`, 'expected a SharedArrayBuffer');
  }
  const needed = SMT_HEADER_SIZE + maxMsgSize;
  if (typeof v.areaSize !== 'number' || !Number.isInteger(v.areaSize) || v.areaSize < needed) {
    throw new ScmiConfigError(
      `${field}.areaSize`,
      `an SMT area of ${String(v.areaSize)} bytes cannot hold the transport's messages: it needs ${needed} bytes (the ${SMT_HEADER_SIZE}-byte SMT header + max message size ${maxMsgSize})`,
    );
  }
  if (!Array.isArray(v.channels)) {
    throw new ScmiConfigError(`${field}.channels`, 'expected an array of channels');
  }
  return v as unknown as SmtWireLayout;
}

function validateController(v: unknown, field: string): MailboxController {
  if (!isRecord(v) || typeof v.requestChannel !== 'function') {
    throw new ScmiConfigError(field, 'expected a mailbox controller');
  }
  return v as unknown as MailboxController;
}

/**
 * Creates a mailbox transport with the given limits (the DI module binds the default one,
 * {@link mailboxTransport}).
 *
 * The transport (Linux `transports/mailbox.c` + `shmem.c`): each SCMI channel is an SMT area and
 * a mailbox channel of the wire given in `transportConfig` ({@link MailboxTransportConfig});
 * A2P channels as the agent configuration lists them (dedicated to protocols, or Base's shared
 * one), one optional P2A channel for notifications and delayed responses (setting one up on a
 * wire without a P2A area is refused with `E_NOT_SUPPORTED`, so the agent runs without), one
 * message in flight per SMT channel, completion by interrupt (the platform's doorbell) or by
 * polling (CHANNEL_FREE and the token).
 *
 * @throws RangeError when a limit is not a positive integer.
 * @example
 * ```ts
 * const transport = createMailboxTransport({ maxMsgSize: 100 }); // fits 128-byte SMT areas
 * container.load(new ContainerModule(({ bind }) => bind(TRANSPORT).toConstantValue(transport)));
 * ```
 */
export function createMailboxTransport(options: MailboxTransportOptions = {}): Transport {
  const limit = (v: number | undefined, name: string, fallback: number): number => {
    const value = v ?? fallback;
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
    }
    return value;
  };
  const descriptor: TransportDescriptor = {
    name: 'mailbox',
    maxMsg: limit(options.maxMsg, 'maxMsg', 20),
    maxMsgSize: limit(options.maxMsgSize, 'maxMsgSize', 128),
    rxTimeoutMs: limit(options.rxTimeoutMs, 'rxTimeoutMs', 30),
    p2a: true,
    completion: 'both',
  };
  return {
    descriptor,
    validateConfig(section: unknown, field: string): ResolvedMailboxTransportConfig {
      if (!isRecord(section)) {
        throw new ScmiConfigError(field, 'expected { wire } (the agent end of a mailbox wire)');
      }
      const wire = section.wire;
      if (!isRecord(wire)) {
        throw new ScmiConfigError(`${field}.wire`, 'expected the agent end of a mailbox wire');
      }
      validateLayout(wire.layout, `${field}.wire.layout`, descriptor.maxMsgSize);
      validateController(wire.controller, `${field}.wire.controller`);
      if (wire.monitor !== undefined && !(wire.monitor instanceof SmtWireMonitor)) {
        throw new ScmiConfigError(`${field}.wire.monitor`, 'expected an SmtWireMonitor');
      }
      // Default: 2 × the agent's RX timeout, resolved per channel (Linux shmem_tx_prepare).
      const freeWaitMs = section.freeWaitMs;
      if (
        freeWaitMs !== undefined &&
        (typeof freeWaitMs !== 'number' || !(freeWaitMs > 0) || !Number.isFinite(freeWaitMs))
      ) {
        throw new ScmiConfigError(
          `${field}.freeWaitMs`,
          `expected a positive number, got ${JSON.stringify(freeWaitMs)}`,
        );
      }
      const valid = wire as unknown as MailboxWire;
      return { wire: valid, freeWaitMs, monitor: valid.monitor ?? new SmtWireMonitor() };
    },
    setupChannel(setup: ChannelSetup): Promise<TransportChannel> {
      const config = setup.config as ResolvedMailboxTransportConfig;
      const { layout, controller } = config.wire;
      const spec = findSmtChannel(layout, setup.direction, setup.channel.id);
      if (spec === undefined) {
        if (setup.direction === 'p2a') {
          return Promise.reject(
            new ScmiTransportError(
              'E_NOT_SUPPORTED',
              `${setup.agent}: the mailbox wire has no P2A channel ${setup.channel.id}`,
            ),
          );
        }
        return Promise.reject(
          new ScmiTransportError(
            'E_NO_SMT_CHANNEL',
            `${setup.agent}: the mailbox wire has no SMT area for a2p channel ${setup.channel.id} (it has ${layout.channels.map((c) => `${c.direction}:${c.id}`).join(', ')})`,
          ),
        );
      }
      try {
        const area = new SmtArea(layout.memory, spec.offset, layout.areaSize);
        return Promise.resolve(
          SmtChannel.open(
            setup,
            area,
            (client) => controller.requestChannel(spec.mailbox, client),
            config.freeWaitMs ?? 2 * setup.rxTimeoutMs,
            config.monitor,
          ),
        );
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
  };
}

/**
 * The mailbox transport with Linux's limits: `max_msg` 20, `max_msg_size` 128, RX timeout 30 ms,
 * interrupt and polling completion, a P2A channel. Bound to `TRANSPORT` by
 * {@link mailboxTransportModule}; agents choose it with `transport: 'mailbox'`.
 *
 * @example
 * ```ts
 * mailboxTransport.descriptor.maxMsgSize; // 128
 * ```
 */
export const mailboxTransport: Transport = createMailboxTransport();
