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
import type { MsgqEnd } from '../wire/msgq-end.js';
import { MsgqChannel } from './msgq-channel.js';

/**
 * The `transportConfig` section of an agent using the msgq transport.
 *
 * @example
 * ```ts
 * const wire = createSameThreadMsgqWire(clock);
 * await createAgent(container, { transport: 'msgq', transportConfig: { end: wire.agent } });
 * ```
 */
export interface MsgqTransportConfig {
  /** The agent's end of a msgq wire (live objects cannot come from JSON: docs §3). */
  readonly end: MsgqEnd;
}

// §3: every key of the section, checked by the compiler against the interface.
const CONFIG_KEYS: ReadonlySet<string> = optionKeys<MsgqTransportConfig>({ end: true });

// §3: the limits are data (Linux `struct scmi_desc`).
const descriptor: TransportDescriptor = {
  name: 'msgq',
  maxMsg: 16, // transfers of an agent at once; past one per channel, they wait in `send`
  maxMsgSize: 128, // payload after the header, bytes: a longer message is refused (`oversize`)
  rxTimeoutMs: 30,
  p2a: true, // a wire may still lack it: setupChannel then refuses P2A with E_NOT_SUPPORTED
  completion: 'both', // per channel: interrupt (the default) or polling
};

/**
 * The msgq transport: SCMI messages in the MSG layout carried as copied byte buffers over a msgq
 * wire (`transportConfig: { end }`), one command in flight per A2P channel, completion by
 * interrupt or polling, notifications and delayed responses on P2A channel 0 when the wire has
 * it. The smallest complete transport, written to be copied (see the package README).
 *
 * `validateConfig` refuses a section that is not `{ end }` with an `ScmiConfigError` naming the
 * field (`transportConfig.end`, `transportConfig.ned`); `validateChannels` refuses an A2P id the
 * wire does not carry (`a2p[1].id`) and a P2A id other than 0 (`p2a[0].id`); a channel takes no
 * `transport` section (`a2p[0].transport`). On a wire without P2A, setting up the P2A channel
 * fails with `E_NOT_SUPPORTED`, and core runs the agent without notifications. Bound to
 * `TRANSPORT` by `msgqTransportModule`.
 *
 * @example
 * ```ts
 * msgqTransport.descriptor.name; // 'msgq': agents choose it with transport: 'msgq'
 * ```
 */
export const msgqTransport: Transport = {
  descriptor,

  validateConfig(section: unknown, field: string): MsgqTransportConfig {
    if (!isRecord(section)) {
      throw new ScmiConfigError(field, `expected { end }, got ${formatValue(section)}`);
    }
    refuseUnknownKeys(section, CONFIG_KEYS, field); // a misspelt key is refused, not ignored
    const end = section.end;
    if (!isRecord(end) || typeof end.send !== 'function' || !Array.isArray(end.a2p)) {
      throw new ScmiConfigError(
        `${field}.end`,
        `expected the agent end of a msgq wire (createSameThreadMsgqWire(…).agent, openMsgqPortEnd(…)), got ${formatValue(end)}`,
      );
    }
    return { end: end as unknown as MsgqEnd };
  },

  // A channel is found on the wire by its id: there is nothing to set per channel.
  validateChannelConfig(section: unknown, field: string): undefined {
    if (section !== undefined) {
      throw new ScmiConfigError(
        field,
        `msgq takes no channel section, got ${formatValue(section)}`,
      );
    }
    return undefined;
  },

  // §3: what only the pair of them can tell, before anything is set up.
  validateChannels({ a2p, p2a }, config: unknown): void {
    const { end } = config as MsgqTransportConfig;
    a2p.forEach((c, i) => {
      if (!end.a2p.includes(c.id)) {
        throw new ScmiConfigError(
          `a2p[${i}].id`,
          `the msgq wire has no a2p channel ${c.id} (its a2p channels: ${end.a2p.join(', ')})`,
        );
      }
    });
    p2a.forEach((c, i) => {
      if (end.p2a && c.id !== 0) {
        throw new ScmiConfigError(`p2a[${i}].id`, `the msgq wire's P2A channel is 0, got ${c.id}`);
      }
    });
  },

  // §4: nothing to wait for (no handshake), so `setup.signal` is not needed. A throw inside the
  // executor rejects: setupChannel never throws.
  setupChannel(setup: ChannelSetup): Promise<TransportChannel> {
    return new Promise((resolve) => {
      const { end } = setup.config as MsgqTransportConfig;
      if (setup.direction === 'p2a' && !end.p2a) {
        // Core then runs the agent without notifications and delayed responses.
        throw new ScmiTransportError('E_NOT_SUPPORTED', `${setup.agent}: the msgq wire has no P2A`);
      }
      resolve(new MsgqChannel(setup, end, descriptor.maxMsgSize)); // or E_CHANNEL_BUSY: taken
    });
  },
};
