import {
  MAX_TIMER_MS,
  ScmiConfigError,
  formatValue,
  isRecord,
  optionKeys,
  refuseUnknownKeys,
} from '@scmi-ts/core';
import type { OpteeDriver } from '../driver/optee-driver.js';
import type { TeeDriver } from '../tee/tee-driver.js';
import { checkMsgBufferSize } from '../wire/pta-scmi.js';

/**
 * The agent-wide section of the OP-TEE transport's configuration (`transportConfig`): the TEE
 * driver to open a context on, and where static SMT areas are (the device tree's `shmem` nodes).
 * Build it from an {@link OpteeDriver} with {@link opteeTransportConfig}.
 *
 * @example
 * ```ts
 * const agent = await createAgent(container, {
 *   transport: 'optee',
 *   a2p: [{ id: 0 }, { id: 1, protocols: [0x14], transport: { shmem: 'dynamic' } }],
 *   transportConfig: opteeTransportConfig(driver),
 * });
 * ```
 */
export interface OpteeTransportConfig {
  /** The normal world's TEE driver (an `OpteeDriver`); the agent opens its own context on it. */
  readonly tee: TeeDriver;
  /**
   * The static SMT area of OP-TEE channel `channelId` (what Linux maps from the `shmem`
   * phandle), or undefined when it has none; default: no static area (MSG on every channel).
   */
  readonly staticShmem?: (channelId: number) => Uint8Array | undefined;
  /**
   * How long a send may wait for a channel that the invocation of a timed-out transfer still
   * owns, in ms, before it fails with `E_CHAN_BUSY`; default twice the agent's `rxTimeoutMs` (as
   * Linux's `shmem_tx_prepare` waits for a channel the platform still holds). A number of ms in
   * (0, `MAX_TIMER_MS`], else a `ScmiConfigError` naming `transportConfig.busyTimeoutMs`.
   */
  readonly busyTimeoutMs?: number;
  /**
   * How long a send waits for its invocation to return before handing the transfer to core's
   * polling loop, in ms; default 1. Linux's invoke is synchronous (`sync_cmds_completed_on_ret`):
   * waiting here lets the common case complete without the polling loop spinning the agent's
   * thread while the secure world works (it competes with a secure world in a worker for CPU: on a
   * loaded two-core machine the 99th-percentile round trip went from 1.6–5.7 ms to 0.1–0.4 ms,
   * the median unchanged). The response timeout of a slower invocation starts after this wait;
   * 0 starts it at once. A number of ms in 0 … `MAX_TIMER_MS` (the longest timer a clock arms),
   * else a `ScmiConfigError` naming `transportConfig.syncWaitMs`.
   */
  readonly syncWaitMs?: number;
  /**
   * Size in bytes of the buffer each MSG channel (no static SMT area) registers with the TEE,
   * header included: the command goes out in it (p1) and OP-TEE writes the response into all of
   * it (p2 of this size), so a response holds this size less 4 bytes of status and return values.
   * Default `SCMI_SHMEM_MAX_PAYLOAD_SIZE` (104), as current Linux; 128 (`SCMI_OPTEE_MAX_MSG_SIZE`)
   * as older kernels. An integer from `OPTEE_MSG_BUFFER_MIN_SIZE` (8: a header and a status) to
   * 128 (the descriptor's `maxMsgSize`: core's transfers carry no more); anything else is a
   * `ScmiConfigError` naming `transportConfig.msgBufferSize`. A command larger than the buffer
   * less its header, or with a payload over OP-TEE's 92 bytes, fails with `E_MSG_SIZE`; a response
   * that does not fit p2 is answered PROTOCOL_ERROR by OP-TEE. SMT channels do not use it.
   */
  readonly msgBufferSize?: number;
}

/**
 * The per-channel section of the OP-TEE transport's configuration (`a2p[i].transport`), after
 * Linux's device-tree properties.
 *
 * @example
 * ```ts
 * const channel = { id: 1, protocols: [0x13], transport: { opteeChannelId: 3, shmem: 'dynamic' } };
 * ```
 */
export interface OpteeChannelConfig {
  /**
   * The OP-TEE channel id (`linaro,optee-channel-id`); default the SCMI channel id. Each SCMI
   * channel of an agent needs its own (Linux gets one PTA channel handle per SCMI channel): a
   * second channel on an id already used is a `ScmiConfigError` at probe.
   */
  readonly opteeChannelId?: number;
  /**
   * `'static'`: SMT in the channel's static area (PTA command 1; an error when there is none);
   * `'dynamic'`: MSG in a shared memory of `transportConfig.msgBufferSize` bytes (default 104, as
   * Linux) registered with the TEE (command 4). Default: static when the channel has a static
   * area, else dynamic — as Linux decides by the presence of the `shmem` property.
   */
  readonly shmem?: 'static' | 'dynamic';
}

/** A validated {@link OpteeTransportConfig}, defaults applied. */
export interface ResolvedOpteeTransportConfig {
  /** The TEE driver. */
  readonly tee: TeeDriver;
  /** Static SMT areas by OP-TEE channel id. */
  readonly staticShmem: (channelId: number) => Uint8Array | undefined;
  /** Wait for a held channel, ms (undefined: twice the agent's `rxTimeoutMs`). */
  readonly busyTimeoutMs: number | undefined;
  /** Synchronous wait of a send for its invocation, ms. */
  readonly syncWaitMs: number;
  /** Size of each MSG channel's registered buffer, bytes (default 104). */
  readonly msgBufferSize: number;
}

/** A validated {@link OpteeChannelConfig}. */
export interface ResolvedOpteeChannelConfig {
  /** The OP-TEE channel id, or undefined for the SCMI channel id. */
  readonly opteeChannelId: number | undefined;
  /** The shared-memory choice, or undefined for "static when there is a static area". */
  readonly shmem: 'static' | 'dynamic' | undefined;
  /**
   * The field the section was validated as (`a2p[1].transport`), so that a check only channel
   * setup can make (an OP-TEE channel id another SCMI channel of the agent already uses) names it.
   */
  readonly field: string;
}

// Every key of each section, as records the compiler checks against the interfaces: an option
// added there without being added here (or the reverse) does not compile.
const CONFIG_KEYS: ReadonlySet<string> = optionKeys<OpteeTransportConfig>({
  tee: true,
  staticShmem: true,
  busyTimeoutMs: true,
  syncWaitMs: true,
  msgBufferSize: true,
});
const CHANNEL_KEYS: ReadonlySet<string> = optionKeys<OpteeChannelConfig>({
  opteeChannelId: true,
  shmem: true,
});

// Every operation the transport calls: `submit` starts each message's invocation, so a driver
// without it would pass setup and then fail every send.
const DRIVER_METHODS = [
  'openSession',
  'invoke',
  'submit',
  'cancel',
  'closeSession',
  'allocSharedMemory',
] as const;

/**
 * Validates the agent-wide section.
 *
 * @throws ScmiConfigError naming the field (`transportConfig.tee`, `transportConfig.msgBufferSize`,
 * …), an unknown key (`transportConfig.busyTimeoutMS`: a misspelt option is refused, not left at
 * its default unnoticed), or a null `staticShmem` or `syncWaitMs` (only an absent option takes the
 * default).
 */
export function validateOpteeConfig(section: unknown, field: string): ResolvedOpteeTransportConfig {
  if (!isRecord(section)) {
    throw new ScmiConfigError(field, 'expected an object with the TEE driver ({ tee })');
  }
  refuseUnknownKeys(section, CONFIG_KEYS, field);
  const tee = section.tee;
  if (typeof tee !== 'object' || tee === null) {
    throw new ScmiConfigError(`${field}.tee`, 'expected a TEE driver');
  }
  for (const m of DRIVER_METHODS) {
    if (typeof (tee as Record<string, unknown>)[m] !== 'function') {
      throw new ScmiConfigError(`${field}.tee`, `expected a TEE driver (no ${m}())`);
    }
  }
  // Only an absent option takes its default: null is refused like any other wrong type.
  const staticShmem = section.staticShmem === undefined ? () => undefined : section.staticShmem;
  if (typeof staticShmem !== 'function') {
    const got = staticShmem === null ? ', got null (leave it out for no static area)' : '';
    throw new ScmiConfigError(
      `${field}.staticShmem`,
      `expected a function (channel id → area)${got}`,
    );
  }
  // Default: 2 × the agent's RX timeout, resolved per channel (as Linux bounds a held channel).
  const busy = section.busyTimeoutMs;
  if (
    busy !== undefined &&
    (typeof busy !== 'number' || !Number.isFinite(busy) || busy <= 0 || busy > MAX_TIMER_MS)
  ) {
    throw new ScmiConfigError(
      `${field}.busyTimeoutMs`,
      `expected a number of ms in (0, ${MAX_TIMER_MS}], got ${formatValue(busy)}`,
    );
  }
  const sync = section.syncWaitMs === undefined ? 1 : section.syncWaitMs;
  // At most the longest timer a clock arms: a longer wait could not be armed, and would have
  // been skipped silently at the first send.
  if (typeof sync !== 'number' || !Number.isFinite(sync) || sync < 0 || sync > MAX_TIMER_MS) {
    throw new ScmiConfigError(
      `${field}.syncWaitMs`,
      `expected a number of ms in 0 … ${MAX_TIMER_MS}, got ${formatValue(sync)}`,
    );
  }
  const msgBufferSize = checkMsgBufferSize(section.msgBufferSize, `${field}.msgBufferSize`);
  return {
    tee: tee as TeeDriver,
    staticShmem: staticShmem as (channelId: number) => Uint8Array | undefined,
    busyTimeoutMs: busy,
    syncWaitMs: sync,
    msgBufferSize,
  };
}

/**
 * Validates the per-channel section (undefined is the default). Whether the OP-TEE channel id is
 * free is checked at channel setup (it depends on the agent's other channels): see
 * `OpteeTransport.setupChannel`.
 *
 * @throws ScmiConfigError naming the field (`a2p[1].transport.shmem`, …), or an unknown key
 * (`a2p[1].transport.opteeChanelId`: a misspelt option is refused, not left at its default).
 */
export function validateOpteeChannelConfig(
  section: unknown,
  field: string,
): ResolvedOpteeChannelConfig {
  if (section === undefined) return { opteeChannelId: undefined, shmem: undefined, field };
  if (!isRecord(section)) throw new ScmiConfigError(field, 'expected an object');
  refuseUnknownKeys(section, CHANNEL_KEYS, field);
  const id = section.opteeChannelId;
  if (
    id !== undefined &&
    (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffff)
  ) {
    throw new ScmiConfigError(
      `${field}.opteeChannelId`,
      `expected an integer in 0..65535, got ${formatValue(id)}`,
    );
  }
  const shmem = section.shmem;
  if (shmem !== undefined && shmem !== 'static' && shmem !== 'dynamic') {
    throw new ScmiConfigError(
      `${field}.shmem`,
      `expected 'static' or 'dynamic', got ${formatValue(shmem)}`,
    );
  }
  return { opteeChannelId: id, shmem, field };
}

/**
 * The transport configuration for an agent on `driver`'s wire: the driver, and the wire's static
 * SMT areas; `options` adds the optional fields.
 *
 * @example
 * ```ts
 * const transportConfig = opteeTransportConfig(new OpteeDriver(wire.ree), { busyTimeoutMs: 100 });
 * // MSG buffers as older kernels sized them:
 * const legacy = opteeTransportConfig(driver, { msgBufferSize: SCMI_OPTEE_MAX_MSG_SIZE });
 * ```
 */
export function opteeTransportConfig(
  driver: OpteeDriver,
  options: Pick<OpteeTransportConfig, 'busyTimeoutMs' | 'syncWaitMs' | 'msgBufferSize'> = {},
): OpteeTransportConfig {
  return {
    tee: driver,
    staticShmem: (channelId) => driver.wire.staticShmem(channelId),
    ...options,
  };
}
