import {
  ScmiConfigError,
  ScmiTransportError,
  formatValue,
  isRecord,
  optionKeys,
  refuseUnknownKeys,
  type ChannelSetup,
  type Transport,
  type TransportChannel,
  type TransportDescriptor,
} from '@scmi-ts/core';
import type { MailboxController } from '../mailbox/mailbox-controller.js';
import { SMT_HEADER_SIZE, SmtArea } from '../smt/smt-layout.js';
import { checkSmtMailboxRoles, smtMailboxRoles } from '../smt/smt-mailbox-roles.js';
import {
  checkSmtChannelSpecShape,
  findSmtChannel,
  type SmtChannelSpec,
  type SmtWireLayout,
} from '../smt/smt-wire-layout.js';
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
  /**
   * Largest message payload, bytes (default 128, older Linux's `max_msg_size`). Current Linux has
   * `SCMI_SHMEM_MAX_PAYLOAD_SIZE`, 104, chosen to fit a 128-byte area; it counts 24 bytes of
   * overhead (`SCMI_SHMEM_LAYOUT_OVERHEAD`) where a message also takes its 4-byte header, so a
   * 104-byte payload would end 4 bytes past such an area. Here an area must hold the 28-byte
   * header and `maxMsgSize` (the layout refuses less): give 100 for 128-byte areas.
   */
  readonly maxMsgSize?: number;
  /** Default response timeout, ms (default 30, Linux `max_rx_timeout_ms`). */
  readonly rxTimeoutMs?: number;
}

// Every key of the section, of its wire and of the wire's layout, as records the compiler checks
// against the interfaces: an option added there without being added here (or the reverse) does
// not compile. (A layout's channel specs: `checkSmtChannelSpecShape`.)
const CONFIG_KEYS: ReadonlySet<string> = optionKeys<MailboxTransportConfig>({
  wire: true,
  freeWaitMs: true,
});
const WIRE_KEYS: ReadonlySet<string> = optionKeys<MailboxWire>({
  layout: true,
  controller: true,
  monitor: true,
});
const LAYOUT_KEYS: ReadonlySet<string> = optionKeys<SmtWireLayout>({
  memory: true,
  areaSize: true,
  channels: true,
});

/**
 * Checks a wire layout as the agent is about to use it (whoever built it: the wire factories, or a
 * hand-built one — a device tree's `shmem` and `mboxes`): `memory` a `SharedArrayBuffer`;
 * `areaSize` a multiple of 4 (every SMT field is a 32-bit word: an area at an unaligned offset
 * could not be mapped) of at least the 28-byte SMT header plus `maxMsgSize`; each channel a
 * direction, an id in 0..65535 unique in its direction, a 4-aligned offset whose area lies inside
 * `memory` and overlaps no other channel's, and a mailbox index (an integer ≥ 0) of its own: a
 * mailbox channel serves one client; `replyMailbox` / `ackMailbox` checked channel by channel
 * (`checkSmtMailboxRoles`); no key but these, in the layout and in each channel (a misspelt
 * `replymailbox` would make a unidirectional channel bidirectional unnoticed), and no hole in
 * `channels` (`channels[0]`: visited by index, never skipped). Every refusal is an
 * `ScmiConfigError` naming the field, e.g. `transportConfig.wire.layout.channels[1].offset`.
 */
function validateLayout(v: unknown, field: string, maxMsgSize: number): SmtWireLayout {
  if (!isRecord(v)) throw new ScmiConfigError(field, 'expected an SMT wire layout');
  refuseUnknownKeys(v, LAYOUT_KEYS, field);
  if (Object.prototype.toString.call(v.memory) !== '[object SharedArrayBuffer]') {
    throw new ScmiConfigError(`${field}.memory`, 'expected a SharedArrayBuffer');
  }
  const memoryBytes = (v.memory as SharedArrayBuffer).byteLength;
  const needed = SMT_HEADER_SIZE + maxMsgSize;
  const areaSize = v.areaSize;
  if (typeof areaSize !== 'number' || !Number.isInteger(areaSize) || areaSize < needed) {
    throw new ScmiConfigError(
      `${field}.areaSize`,
      `an SMT area of ${formatValue(areaSize)} bytes cannot hold the transport's messages: it needs ${needed} bytes (the ${SMT_HEADER_SIZE}-byte SMT header + max message size ${maxMsgSize})`,
    );
  }
  if (areaSize % 4 !== 0) {
    // SmtArea maps only 4-aligned areas: areas of 158 bytes back to back would pass the size rule
    // and fail at setup with a RangeError.
    throw new ScmiConfigError(
      `${field}.areaSize`,
      `an SMT area of ${areaSize} bytes is not a whole number of 32-bit words: expected a multiple of 4 (at least ${needed + ((4 - (needed % 4)) % 4)} bytes here)`,
    );
  }
  if (!Array.isArray(v.channels)) {
    throw new ScmiConfigError(`${field}.channels`, 'expected an array of channels');
  }
  const seen: { readonly name: string; readonly spec: SmtChannelSpec }[] = [];
  const list: readonly unknown[] = v.channels;
  // By index, not forEach: a hole of a sparse array (`[, spec]`) is refused as `channels[0]`,
  // where forEach would skip it and leave it for a later look-up to trip over (a TypeError).
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    const at = `${field}.channels[${i}]`;
    // An object with only a channel spec's keys (a misspelt `replymailbox` is refused).
    checkSmtChannelSpecShape(c, at);
    const { direction, id, offset, mailbox } = c;
    if (direction !== 'a2p' && direction !== 'p2a') {
      throw new ScmiConfigError(
        `${at}.direction`,
        `expected 'a2p' or 'p2a', got ${formatValue(direction)}`,
      );
    }
    if (!isInteger(id) || id < 0 || id > 0xffff) {
      throw new ScmiConfigError(
        `${at}.id`,
        `expected a channel id in 0..65535, got ${formatValue(id)}`,
      );
    }
    if (!isInteger(offset) || offset < 0 || offset % 4 !== 0) {
      throw new ScmiConfigError(
        `${at}.offset`,
        `expected a 4-aligned byte offset ≥ 0 into the memory, got ${formatValue(offset)}`,
      );
    }
    if (offset + areaSize > memoryBytes) {
      throw new ScmiConfigError(
        `${at}.offset`,
        `the ${areaSize}-byte area at ${offset} ends at byte ${offset + areaSize}, past the ${memoryBytes} bytes of memory`,
      );
    }
    if (!isInteger(mailbox) || mailbox < 0) {
      throw new ScmiConfigError(
        `${at}.mailbox`,
        `expected a mailbox channel index (an integer ≥ 0), got ${formatValue(mailbox)}`,
      );
    }
    const label = `${direction}:${id}`;
    for (const { name, spec: o } of seen) {
      if (o.direction === direction && o.id === id) {
        throw new ScmiConfigError(
          `${at}.id`,
          `${label} is ${name} already: one SMT area per SCMI channel`,
        );
      }
      // Every area has the same size: two overlap when their offsets are closer than that.
      if (Math.abs(o.offset - offset) < areaSize) {
        throw new ScmiConfigError(
          `${at}.offset`,
          `the area of ${label} (bytes ${offset}..${offset + areaSize - 1}) overlaps the area of ${name} (${o.direction}:${o.id}, bytes ${o.offset}..${o.offset + areaSize - 1})`,
        );
      }
      if (o.mailbox === mailbox) {
        throw new ScmiConfigError(
          `${at}.mailbox`,
          `mailbox channel ${mailbox} is ${name}'s (${o.direction}:${o.id}) already: each SCMI channel needs a mailbox channel of its own`,
        );
      }
    }
    seen.push({ name: `channels[${i}]`, spec: { direction, id, offset, mailbox } });
  }
  // Unidirectional mailbox layouts (replyMailbox, ackMailbox): each role on a mailbox channel of
  // its own.
  checkSmtMailboxRoles(v.channels as SmtChannelSpec[], field);
  return v as unknown as SmtWireLayout;
}

function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
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
 * wire without a P2A area is refused with `E_NOT_SUPPORTED`, so the agent runs without; an A2P
 * channel id the wire has no area for, or a P2A id when the wire has P2A areas but not that one,
 * is an `ScmiConfigError` naming `a2p[i].id` / `p2a[i].id`, raised before any mailbox channel is
 * requested), one
 * message in flight per SMT channel, completion by interrupt (the platform's doorbell) or by
 * polling (CHANNEL_FREE and the token). A channel's mailbox channels are the layout's (Linux
 * `mailbox_chan_setup`): one bidirectional channel, or unidirectional ones — the A2P reply on its
 * own channel (`replyMailbox`, Linux `chan_receiver`), the P2A acknowledgement on its own
 * (`ackMailbox`, `chan_platform_receiver`) or on none (`'none'`, 3 mboxes).
 *
 * `validateConfig` checks the wire's layout as well as its shape, so that a hand-built one fails
 * with an `ScmiConfigError` naming the field (`transportConfig.wire.layout.channels[1].offset`…)
 * rather than at setup: `areaSize` a multiple of 4 of at least 28 + `maxMsgSize` bytes; each
 * channel a direction, a unique id, a 4-aligned offset whose area lies inside the memory and
 * overlaps no other, and a mailbox index of its own that the controller has; a `replyMailbox` only
 * on an A2P channel and an `ackMailbox` only on a P2A one, each a mailbox index no other role
 * takes (`…channels[2].ackMailbox`) — channel by channel: which channels share a device tree node
 * is not in a layout. A key the section, its wire, the layout or a channel spec does not have is
 * refused, naming it (`transportConfig.freeWaitMS`, `…channels[0].replymailbox`), as core refuses
 * an unknown agent option, and so is a hole in `channels` (`…channels[0]`).
 * `validateChannelConfig` refuses any per-channel `transport` section (`a2p[1].transport`): a
 * channel's area and mailbox channels are the layout's, by id — there is nothing to set per channel.
 *
 * @throws RangeError when a limit is not a positive integer.
 * @example
 * ```ts
 * const transport = createMailboxTransport({ maxMsgSize: 100 }); // fits 128-byte SMT areas
 * container.load(new ContainerModule(({ bind }) => {
 *   bind(TRANSPORT).toConstantValue(transport);
 * }));
 * ```
 */
export function createMailboxTransport(options: MailboxTransportOptions = {}): Transport {
  const limit = (v: number | undefined, name: string, fallback: number): number => {
    const value = v ?? fallback;
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${formatValue(value)}`);
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
      // A misspelt option (`freeWaitMS`) is refused, not left at its default unnoticed.
      refuseUnknownKeys(section, CONFIG_KEYS, field);
      const wire = section.wire;
      if (!isRecord(wire)) {
        throw new ScmiConfigError(`${field}.wire`, 'expected the agent end of a mailbox wire');
      }
      refuseUnknownKeys(wire, WIRE_KEYS, `${field}.wire`);
      const layout = validateLayout(wire.layout, `${field}.wire.layout`, descriptor.maxMsgSize);
      const controller = validateController(wire.controller, `${field}.wire.controller`);
      const count = controller.channelCount;
      if (typeof count === 'number') {
        layout.channels.forEach((c, i) => {
          const ack = typeof c.ackMailbox === 'number' ? c.ackMailbox : undefined;
          for (const [role, index] of [
            ['mailbox', c.mailbox],
            ['replyMailbox', c.replyMailbox],
            ['ackMailbox', ack],
          ] as const) {
            if (index !== undefined && index >= count) {
              throw new ScmiConfigError(
                `${field}.wire.layout.channels[${i}].${role}`,
                `mailbox channel ${index} is not one of the controller's ${count} channels (${controller.name})`,
              );
            }
          }
        });
      }
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
          `expected a positive number, got ${formatValue(freeWaitMs)}`,
        );
      }
      const valid = wire as unknown as MailboxWire;
      return { wire: valid, freeWaitMs, monitor: valid.monitor ?? new SmtWireMonitor() };
    },
    // A channel's SMT area and mailbox channels are the wire layout's, found by the channel's id:
    // there is nothing to configure per channel, so any section (null, {} included) is refused
    // rather than ignored — it would be a setting that does nothing.
    validateChannelConfig(section: unknown, field: string): undefined {
      if (section !== undefined) {
        throw new ScmiConfigError(
          field,
          `the mailbox transport takes no per-channel section (a channel's SMT area and mailbox channels are transportConfig.wire.layout's, by id): leave it out, got ${formatValue(section)}`,
        );
      }
      return undefined;
    },
    // Checked before any mailbox channel is requested: a refused configuration loses nothing.
    validateChannels({ a2p, p2a }, config: unknown): void {
      const { layout } = (config as ResolvedMailboxTransportConfig).wire;
      const ids = (direction: 'a2p' | 'p2a'): string =>
        layout.channels
          .filter((c) => c.direction === direction)
          .map((c) => c.id)
          .join(', ');
      a2p.forEach((c, i) => {
        if (findSmtChannel(layout, 'a2p', c.id) === undefined) {
          throw new ScmiConfigError(
            `a2p[${i}].id`,
            `the mailbox wire has no SMT area for a2p channel ${c.id} (its a2p channels: ${ids('a2p')})`,
          );
        }
      });
      // A wire without any P2A area runs the agent without notifications (setupChannel refuses
      // with E_NOT_SUPPORTED); one that has P2A areas but not this id is a mistake, not that.
      if (ids('p2a') === '') return;
      p2a.forEach((c, i) => {
        if (findSmtChannel(layout, 'p2a', c.id) === undefined) {
          throw new ScmiConfigError(
            `p2a[${i}].id`,
            `the mailbox wire has no SMT area for p2a channel ${c.id} (its p2a channels: ${ids('p2a')})`,
          );
        }
      });
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
            smtMailboxRoles(spec),
            (index, client) => controller.requestChannel(index, client),
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
 * The mailbox transport with Linux's limits: `max_msg` 20, `max_msg_size` 128 (older Linux's;
 * current Linux has `SCMI_SHMEM_MAX_PAYLOAD_SIZE`, 104, for 128-byte areas, where this transport
 * takes 100: give `maxMsgSize` to {@link createMailboxTransport}), RX timeout 30 ms, interrupt and polling completion, a P2A
 * channel. Bound to `TRANSPORT` by
 * {@link mailboxTransportModule}; agents choose it with `transport: 'mailbox'`.
 *
 * @example
 * ```ts
 * mailboxTransport.descriptor.maxMsgSize; // 128
 * ```
 */
export const mailboxTransport: Transport = createMailboxTransport();
