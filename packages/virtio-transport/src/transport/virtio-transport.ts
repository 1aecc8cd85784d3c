import {
  ScmiConfigError,
  ScmiTransportError,
  type ChannelSetup,
  type DeviceSetup,
  type Transport,
  type TransportChannel,
  type TransportDescriptor,
} from '@scmi-ts/core';
import {
  VIRTIO_SCMI_MAX_MSG_SIZE,
  VIRTIO_SCMI_MAX_PENDING,
  VIRTIO_SCMI_RX_TIMEOUT_MS,
} from '../layout/virtio-constants.js';
import { VirtioScmiDriver, cmdqMessages } from '../driver/virtio-scmi-driver.js';
import type { VirtioScmiWire } from '../wire/virtio-scmi-wire.js';
import {
  validateVirtioTransportConfig,
  type ResolvedVirtioTransportConfig,
} from './virtio-transport-config.js';

/** The transport's name, as agents choose it (`createAgent(…, { transport: 'virtio' })`). */
export const VIRTIO_TRANSPORT_NAME = 'virtio';

/**
 * The default descriptor's `maxMsg`: 1023, the most messages a cmdq carries at once (two
 * descriptors each, tokens to spare). An agent's pool follows its cmdq (`cmdqSize / 2`) up to
 * that, as Linux's `virtio_get_max_msg` follows the virtqueue, so {@link virtioTransport} serves
 * any queue size. See {@link createVirtioTransport} for how the pool and the queue size relate.
 */
export const VIRTIO_DEFAULT_MAX_MSG: number = VIRTIO_SCMI_MAX_PENDING;

/** Options of {@link createVirtioTransport}. */
export interface VirtioTransportOptions {
  /**
   * The descriptor's `maxMsg`, 1 … 1023; default {@link VIRTIO_DEFAULT_MAX_MSG} (1023): the upper
   * bound of an agent's transfer pool, which otherwise follows its cmdq (`cmdqSize / 2`). Lower it
   * to cap every agent's pool below what its cmdq carries.
   */
  readonly maxMsg?: number;
  /** The descriptor's default response timeout, ms; default 60 000 (Linux's virtio value). */
  readonly rxTimeoutMs?: number;
}

/** The driver of each wire (a wire serves one driver for its life). */
const drivers = new WeakMap<VirtioScmiWire, VirtioScmiDriver>();

/**
 * Creates the virtio-scmi transport (Linux `scmi_virtio_desc` + `scmi_virtio_ops`): A2P channel 0
 * is the cmdq, P2A channel 0 the eventq (only with `VIRTIO_SCMI_F_P2A_CHANNELS`; otherwise its setup
 * rejects with `E_NOT_SUPPORTED` and core runs without notifications). The cmdq completes by
 * used-buffer notification or by polling, as configured; the eventq by notification only
 * (`p2a[0].polling: true` is refused). The transport object holds no state: everything lives
 * with the wire passed in each agent's `transportConfig` ({@link VirtioTransportConfig}).
 *
 * **Pool size and queue size.** As Linux's `get_max_msg`, the transport tells core
 * (`maxMsgFor`) that an agent carries `cmdqSize / 2` messages at once, `cmdqSize` being the cmdq the
 * agent sets up (`transportConfig.cmdqSize`, by default the wire's), capped at the descriptor's
 * `maxMsg`. Core sizes the agent's transfer pool to that unless the agent gives `maxMsg` itself:
 * a smaller one is taken as is; a larger one (up to the descriptor's) makes the transfers beyond
 * the cmdq's slots wait in `send` for one, at most `slotWaitMs`.
 *
 * @throws ScmiConfigError naming `maxMsg` (not an integer in 1 … 1023) or `rxTimeoutMs` (not positive).
 * @example
 * ```ts
 * const transport = createVirtioTransport({ maxMsg: 32 }); // no agent gets more than 32 transfers
 * container.load(new ContainerModule(({ bind }) => {
 *   bind(TRANSPORT).toConstantValue(transport);
 * }));
 * ```
 */
export function createVirtioTransport(options: VirtioTransportOptions = {}): Transport {
  const maxMsg = options.maxMsg ?? VIRTIO_DEFAULT_MAX_MSG;
  if (!Number.isInteger(maxMsg) || maxMsg < 1 || maxMsg > VIRTIO_SCMI_MAX_PENDING) {
    throw new ScmiConfigError(
      'maxMsg',
      `must be an integer in 1 … ${VIRTIO_SCMI_MAX_PENDING}, got ${maxMsg}`,
    );
  }
  const rxTimeoutMs = options.rxTimeoutMs ?? VIRTIO_SCMI_RX_TIMEOUT_MS;
  if (!(typeof rxTimeoutMs === 'number' && rxTimeoutMs > 0 && Number.isFinite(rxTimeoutMs))) {
    throw new ScmiConfigError('rxTimeoutMs', `must be a positive number, got ${rxTimeoutMs}`);
  }
  const descriptor: TransportDescriptor = {
    name: VIRTIO_TRANSPORT_NAME,
    maxMsg,
    maxMsgSize: VIRTIO_SCMI_MAX_MSG_SIZE,
    rxTimeoutMs,
    p2a: true,
    completion: 'both',
  };
  return {
    descriptor,
    validateConfig: (section, field) => {
      const config = validateVirtioTransportConfig(section, field);
      if (config.wire.layout.maxMsgSize < descriptor.maxMsgSize) {
        throw new ScmiConfigError(
          `${field}.wire`,
          `the wire carries ${config.wire.layout.maxMsgSize}-byte payloads; the transport needs ${descriptor.maxMsgSize}`,
        );
      }
      return config;
    },
    // The cmdq the driver sets up (`transportConfig.cmdqSize`, the wire's by default) sizes the
    // pool, not the wire's largest: every transfer then has a cmdq slot of its own.
    maxMsgFor: (config) =>
      Math.min(descriptor.maxMsg, cmdqMessages((config as ResolvedVirtioTransportConfig).cmdqSize)),
    validateChannelConfig: (section, field) => {
      if (section !== undefined) {
        throw new ScmiConfigError(field, 'virtio channels take no transport section');
      }
      return undefined;
    },
    // Checked before the handshake claims the wire: a refused configuration loses nothing.
    validateChannels: ({ a2p, p2a }) => {
      for (const [direction, channels] of [
        ['a2p', a2p],
        ['p2a', p2a],
      ] as const) {
        channels.forEach((c, i) => {
          if (c.id !== 0) {
            throw new ScmiConfigError(`${direction}[${i}].id`, onlyChannelZero(direction, c.id));
          }
          if (direction === 'p2a' && c.polling) {
            throw new ScmiConfigError(`p2a[${i}].polling`, EVENTQ_NOT_POLLED);
          }
        });
      }
    },
    setupDevice: async (setup: DeviceSetup) => {
      const config = setup.config as ResolvedVirtioTransportConfig;
      const driver = await VirtioScmiDriver.attach(setup, config);
      drivers.set(config.wire, driver);
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- the contract is async; opening is not
    setupChannel: async (setup: ChannelSetup): Promise<TransportChannel> => openChannel(setup),
  };
}

function openChannel(setup: ChannelSetup): TransportChannel {
  const config = setup.config as ResolvedVirtioTransportConfig;
  const driver = drivers.get(config.wire);
  if (driver === undefined) {
    throw new ScmiTransportError(
      'E_VIRTIO_CHANNEL',
      `${setup.agent}: the virtio device was not set up`,
    );
  }
  // validateChannels refused these already for an agent; kept for a direct setupChannel.
  if (setup.channel.id !== 0) {
    throw new ScmiConfigError(setup.direction, onlyChannelZero(setup.direction, setup.channel.id));
  }
  if (setup.direction === 'a2p') return driver.openCmdq(setup);
  if (setup.channel.polling) throw new ScmiConfigError('p2a', EVENTQ_NOT_POLLED);
  return driver.openEventq(setup);
}

const EVENTQ_NOT_POLLED = 'the eventq completes by used-buffer notification only, not by polling';

function onlyChannelZero(direction: 'a2p' | 'p2a', id: number): string {
  return `virtio-scmi has one ${direction === 'a2p' ? 'cmdq' : 'eventq'}: only channel id 0 exists, got ${id}`;
}

/**
 * The virtio-scmi transport with the default descriptor (`maxMsg` 1023, so each agent's pool
 * follows its cmdq; 128-byte messages; 60 s timeout), as {@link virtioTransportModule} binds it.
 *
 * @example
 * ```ts
 * container.load(coreModule);
 * container.bind(TRANSPORT).toConstantValue(virtioTransport); // what virtioTransportModule does
 * ```
 */
export const virtioTransport: Transport = createVirtioTransport();
