import {
  ScmiConfigError,
  ScmiTransportError,
  type ChannelSetup,
  type DeviceSetup,
  type ScmiLogger,
  type Transport,
  type TransportChannel,
  type TransportDescriptor,
} from '@scmi-ts/core';
import { openTeeContext, type TeeContext } from '../tee/tee-context.js';
import { TeeLogin } from '../tee/tee-login.js';
import { TeeParamType, teeValue, type TeeValueParam } from '../tee/tee-param.js';
import type { TeeSession } from '../tee/tee-session.js';
import type { TeeSharedMemory } from '../tee/tee-shared-memory.js';
import {
  PTA_SCMI_UUID,
  PtaScmiCaps,
  PtaScmiCommand,
  SCMI_OPTEE_MAX_MSG_SIZE,
} from '../wire/pta-scmi.js';
import { SMT_PAYLOAD } from '../wire/smt-layout.js';
import {
  OpteeChannel,
  wrap,
  type OpteeChannelInfo,
  type OpteeChannelStats,
} from './optee-channel.js';
import {
  validateOpteeChannelConfig,
  validateOpteeConfig,
  type ResolvedOpteeChannelConfig,
  type ResolvedOpteeTransportConfig,
} from './optee-config.js';

/**
 * The OP-TEE transport's descriptor (Linux `scmi_optee_desc`): 20 messages, 128-byte messages,
 * 30 ms response timeout, no P2A channel, polling completion only (`sync_cmds_completed_on_ret`:
 * the invocation returning is the completion).
 *
 * `maxMsgSize` is {@link SCMI_OPTEE_MAX_MSG_SIZE} (128), as older kernels had it; current Linux
 * has `SCMI_SHMEM_MAX_PAYLOAD_SIZE` (104), its MSG buffer's size. Here the MSG buffer's size is
 * each agent's choice (`transportConfig.msgBufferSize`, default 104, at most 128) while the
 * descriptor is one for every agent of the transport, and core sizes its transfers by it: it
 * carries the largest buffer an agent may choose. Each channel bounds its own messages: a command
 * larger than its MSG buffer (or SMT area) less the header, or whose payload exceeds OP-TEE's
 * `SCMI_SEC_PAYLOAD_SIZE` (92 bytes), fails with `E_MSG_SIZE` before it is sent (OP-TEE's SMT
 * entry would refuse it and keep the channel claimed for good), and OP-TEE answers a response
 * that does not fit p2 with PROTOCOL_ERROR.
 *
 * @example
 * ```ts
 * OPTEE_TRANSPORT_DESCRIPTOR.completion; // 'polling'
 * ```
 */
export const OPTEE_TRANSPORT_DESCRIPTOR: TransportDescriptor = {
  name: 'optee',
  maxMsg: 20,
  maxMsgSize: SCMI_OPTEE_MAX_MSG_SIZE,
  rxTimeoutMs: 30,
  p2a: false,
  completion: 'polling',
};

/** What {@link OpteeTransport.diagnostics} reports. */
export interface OpteeTransportDiagnostics {
  /** The channels set up and not yet freed. */
  readonly channels: readonly OpteeChannelInfo[];
  /** Callbacks that ran against a freed channel (must stay empty). */
  readonly violations: readonly string[];
  /** Timers the live channels hold armed. */
  readonly armedTimers: number;
  /** The counters of every channel this transport set up, freed ones included, summed. */
  readonly totals: OpteeChannelStats;
  /**
   * Channel sessions the TEE driver refused to make system sessions (Linux: "Could not switch to
   * system session, do best effort"), each logged as a warning; those channels run without the
   * reserved thread. Freed channels included.
   */
  readonly systemSessionsRefused: number;
}

const ZERO_STATS: OpteeChannelStats = {
  invocations: 0,
  withdrawnInvocations: 0,
  lateReturns: 0,
  lateReplies: 0,
  refusedReturns: 0,
  teeErrors: 0,
  channelErrors: 0,
  cancelRequests: 0,
  busyRejections: 0,
};

function sum(a: OpteeChannelStats, b: OpteeChannelStats): OpteeChannelStats {
  const out: Record<string, number> = {};
  for (const k of Object.keys(ZERO_STATS) as (keyof OpteeChannelStats)[]) out[k] = a[k] + b[k];
  return out as unknown as OpteeChannelStats;
}

/**
 * The static SMT area `config.staticShmem` gives for `opteeChannelId` (undefined: none), checked:
 * the channel reads and writes it byte by byte as the SMT layout, so it must be a `Uint8Array`
 * (a `Buffer` is one; another view would index other units). Its size is checked by the caller.
 *
 * @throws ScmiConfigError naming `transportConfig.staticShmem` (core validates the section under
 *   that name) for any other value, null included; ScmiTransportError `E_NO_SHMEM` when the
 *   function throws (its error as `cause`).
 */
function staticArea(
  config: ResolvedOpteeTransportConfig,
  opteeChannelId: number,
  label: string,
): Uint8Array | undefined {
  let area: unknown;
  try {
    area = config.staticShmem(opteeChannelId);
  } catch (cause) {
    throw new ScmiTransportError(
      'E_NO_SHMEM',
      `${label}: transportConfig.staticShmem(${opteeChannelId}) threw: ${String(cause)}`,
      { cause },
    );
  }
  if (area === undefined) return undefined;
  // The tag of a typed array, not instanceof: a Uint8Array made in another realm (a `node:vm`
  // context, an iframe) is still one.
  if (!ArrayBuffer.isView(area) || Object.prototype.toString.call(area) !== '[object Uint8Array]') {
    const got = area === null ? 'null' : Object.prototype.toString.call(area);
    throw new ScmiConfigError(
      'transportConfig.staticShmem',
      `returned ${got} for OP-TEE channel ${opteeChannelId}: expected a Uint8Array (the static SMT area) or undefined (none)`,
    );
  }
  return area as Uint8Array;
}

/** Why `context.systemSession` refused, for the warning. */
function describeRefusal(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface DeviceState {
  readonly context: TeeContext;
  readonly caps: number;
  /** The OP-TEE channel ids the agent's channels use (set up or being set up), with their field. */
  readonly opteeChannels: Map<number, string>;
  /** The channel handles the TEE gave the agent's channels (GET_CHANNEL_HANDLE), with their label. */
  readonly handles: Map<number, string>;
  /** The agent's logger (core's `DeviceSetup.logger`). */
  readonly logger: ScmiLogger;
}

/**
 * The agent side of SCMI over the OP-TEE SCMI PTA (Linux `drivers/firmware/arm_scmi/optee.c`).
 *
 * - `setupDevice` opens a TEE context on the configured driver (released last) and queries the
 *   PTA's capabilities once, in a throw-away session (Linux `get_capabilities`).
 * - `setupChannel` (A2P) opens a session per channel, makes it a system session (Linux ≥ 6.8
 *   `tee_client_system_session`: the TEE driver keeps a thread for the channels' invocations, so
 *   that SCMI still runs when other TEE clients hold every other thread; best effort — a refusal
 *   is logged as a warning, counted in `systemSessionsRefused`, and the channel works without
 *   it), and asks for the channel handle with the capability of the channel's mode: SMT when
 *   the channel has a static area, MSG (a registered buffer of `transportConfig.msgBufferSize`
 *   bytes, default 104 as current Linux) otherwise. The throw-away capabilities session is not
 *   made a system session, as in Linux.
 *   P2A channels are not supported (`E_NOT_SUPPORTED`: core then skips notifications and never
 *   requests asynchronous operations).
 * - The probe's abort (`DeviceSetup.signal`, `ChannelSetup.signal`) gives up a setup call still
 *   waiting for a secure-world thread — another TEE client may hold every one — so that the
 *   probe can stop: the call never reaches the TEE. A call the TEE has runs to its end; what it
 *   opened is closed (a session) or freed (a MSG buffer), which needs a thread too.
 * - Each channel carries one message at a time and completes by polling; see `OpteeChannel`.
 * - When the secure world dies (the driver's `onTeeDied`: `OpteeDriver.teeDied`, which the worker
 *   wire calls once the worker exits), every channel is lost for good: core fails what it carries
 *   at once with `ScmiTransportError` `E_TEE_DEAD` (`RxSink.failInFlight`), and every later
 *   command the same way, unsent; `remove()` then resolves (the sessions went with the TEE).
 * - Each SCMI channel of an agent needs its own OP-TEE channel id: two would share one SMT area
 *   (or PTA channel) and overwrite each other's messages. The second is refused at probe with a
 *   `ScmiConfigError` naming its `a2p[i].transport.opteeChannelId`.
 *
 * Failures of the TEE during setup are `ScmiTransportError` `E_TEE` with the `TeeError` as cause;
 * a PTA without the needed capability is `E_NOT_SUPPORTED`.
 *
 * @example
 * ```ts
 * const container = new Container();
 * container.load(coreModule, opteeTransportModule);
 * const agent = await createAgent(container, {
 *   transport: 'optee',
 *   transportConfig: opteeTransportConfig(driver),
 * });
 * ```
 */
export class OpteeTransport implements Transport {
  /** @inheritDoc */
  public readonly descriptor: TransportDescriptor = OPTEE_TRANSPORT_DESCRIPTOR;
  readonly #devices = new WeakMap<object, DeviceState>();
  readonly #channels = new Set<OpteeChannel>();
  readonly #violations: string[] = [];
  #freedTotals: OpteeChannelStats = ZERO_STATS;
  #systemSessionsRefused = 0;

  /** @inheritDoc */
  public validateConfig(section: unknown, field: string): ResolvedOpteeTransportConfig {
    return validateOpteeConfig(section, field);
  }

  /** @inheritDoc */
  public validateChannelConfig(section: unknown, field: string): ResolvedOpteeChannelConfig {
    return validateOpteeChannelConfig(section, field);
  }

  /** The live channels, the violations seen and the armed timers. */
  public diagnostics(): OpteeTransportDiagnostics {
    const channels = [...this.#channels];
    const infos = channels.map((c) => c.info);
    return {
      channels: infos,
      violations: [...this.#violations],
      armedTimers: channels.reduce((n, c) => n + c.armedTimers, 0),
      totals: infos.reduce((t, c) => sum(t, c.stats), this.#freedTotals),
      systemSessionsRefused: this.#systemSessionsRefused,
    };
  }

  /**
   * Makes the channel's session a system session, best effort (Linux `scmi_optee_chan_setup`:
   * `tee_client_system_session`, and on failure only `dev_warn(dev, "Could not switch to system
   * session, do best effort")`): a refusal is logged and counted, never thrown.
   */
  #requestSystemSession(device: DeviceState, session: TeeSession, label: string): void {
    try {
      device.context.systemSession(session);
    } catch (error) {
      this.#systemSessionsRefused++;
      // Core's logger: contained, a broken one cannot fail the probe from here.
      device.logger.warn(
        `${label}: could not switch to system session, do best effort (${describeRefusal(error)})`,
        { error },
      );
    }
  }

  /**
   * Opens the agent's TEE context and reads the PTA's capabilities in a throw-away session.
   *
   * @throws ScmiTransportError `E_TEE` when the TEE fails, `E_NOT_SUPPORTED` when the PTA
   * supports neither SMT nor MSG.
   */
  public async setupDevice(setup: DeviceSetup): Promise<void> {
    const config = setup.config as ResolvedOpteeTransportConfig;
    let context: TeeContext;
    try {
      context = openTeeContext(config.tee);
    } catch (cause) {
      throw wrap(`${setup.agent}: opening a TEE context failed`, cause);
    }
    setup.devres.add({
      name: 'optee context',
      value: context,
      release: (c) => {
        this.#devices.delete(config);
        return c.close();
      },
    });
    // The probe's abort gives up a call still waiting for a secure-world thread (another TEE
    // client may hold every one); the throw-away session's close does not take it.
    const abort = setup.signal === undefined ? {} : { signal: setup.signal };
    let caps: number;
    try {
      const session = await context.openSession(PTA_SCMI_UUID, {
        login: TeeLogin.REE_KERNEL,
        ...abort,
      });
      try {
        const r = await session.invoke(
          PtaScmiCommand.CAPABILITIES,
          [teeValue(TeeParamType.VALUE_OUTPUT)],
          abort,
        );
        caps = (r.params[0] as TeeValueParam).a;
      } finally {
        // A throw-away session: a TEE that fails to close it does not fail the probe, nor hide
        // the invocation's own error (Linux get_capabilities ignores the close's result).
        await session.close().catch(() => undefined);
      }
    } catch (cause) {
      throw wrap(`${setup.agent}: reading the SCMI PTA capabilities failed`, cause);
    }
    if ((caps & (PtaScmiCaps.SMT_HEADER | PtaScmiCaps.MSG_HEADER)) === 0) {
      throw new ScmiTransportError(
        'E_NOT_SUPPORTED',
        `${setup.agent}: the OP-TEE SCMI PTA supports neither SMT nor MSG (capabilities 0x${caps.toString(16)})`,
      );
    }
    this.#devices.set(config, {
      context,
      caps,
      opteeChannels: new Map(),
      handles: new Map(),
      logger: setup.logger,
    });
  }

  /**
   * Sets up an A2P channel: its mode, a session, the channel handle (and, in MSG mode, the
   * registered buffer). The channel holds its OP-TEE channel id for the agent until it is freed
   * (or its setup fails).
   *
   * @throws ScmiConfigError naming `a2p[i].transport.opteeChannelId` when another channel of the
   * agent already uses the OP-TEE channel id (explicit, or by default the SCMI channel id): Linux
   * gets one PTA channel handle per SCMI channel, and two SCMI channels on one OP-TEE channel would
   * overwrite each other's messages in its shared memory.
   * @throws ScmiConfigError naming `transportConfig.staticShmem` when it returns something other
   * than a `Uint8Array` or undefined (null included) for the channel's OP-TEE channel id.
   * @throws ScmiTransportError `E_NOT_SUPPORTED` for a P2A channel or a mode the PTA lacks,
   * `E_NO_SHMEM` when `shmem: 'static'` names a channel without a static area, when the static
   * area is smaller than an SMT header and one payload word (32 bytes), or when
   * `transportConfig.staticShmem` throws (its error as `cause`), `E_NO_DEVICE` when `setupDevice`
   * did not run, `E_TEE` when the TEE fails.
   */
  public async setupChannel(setup: ChannelSetup): Promise<TransportChannel> {
    if (setup.direction === 'p2a') {
      throw new ScmiTransportError(
        'E_NOT_SUPPORTED',
        `${setup.agent}: OP-TEE has no P2A channel (no notifications, no delayed responses)`,
      );
    }
    const config = setup.config as ResolvedOpteeTransportConfig;
    const device = this.#devices.get(config);
    if (device === undefined) {
      throw new ScmiTransportError(
        'E_NO_DEVICE',
        `${setup.agent}: the OP-TEE device was not set up`,
      );
    }
    const chan = (setup.channel.transport ??
      validateOpteeChannelConfig(
        undefined,
        `a2p(id ${setup.channel.id}).transport`,
      )) as ResolvedOpteeChannelConfig;
    const opteeChannelId = chan.opteeChannelId ?? setup.channel.id;
    const label = `${setup.agent} a2p:${setup.channel.id}`;
    // Checked and taken before the first await: no other setup of the agent's can slip in between.
    const owner = device.opteeChannels.get(opteeChannelId);
    if (owner !== undefined) {
      const implicit = chan.opteeChannelId === undefined ? ' (default: the SCMI channel id)' : '';
      throw new ScmiConfigError(
        `${chan.field}.opteeChannelId`,
        `OP-TEE channel ${opteeChannelId}${implicit} is already used by ${owner}: each SCMI channel needs its own OP-TEE channel (Linux gets one PTA channel handle per SCMI channel)`,
      );
    }
    const area = chan.shmem === 'dynamic' ? undefined : staticArea(config, opteeChannelId, label);
    if (chan.shmem === 'static' && area === undefined) {
      throw new ScmiTransportError(
        'E_NO_SHMEM',
        `${label}: OP-TEE channel ${opteeChannelId} has no static SMT area`,
      );
    }
    if (area !== undefined && area.byteLength < SMT_PAYLOAD + 4) {
      throw new ScmiTransportError(
        'E_NO_SHMEM',
        `${label}: the SMT area of ${area.byteLength} bytes is too small`,
      );
    }
    const caps = area === undefined ? PtaScmiCaps.MSG_HEADER : PtaScmiCaps.SMT_HEADER;
    if ((device.caps & caps) === 0) {
      throw new ScmiTransportError(
        'E_NOT_SUPPORTED',
        `${label}: the OP-TEE SCMI PTA does not support ${area === undefined ? 'MSG' : 'SMT'} channels`,
      );
    }
    const { context, opteeChannels, handles } = device;
    opteeChannels.set(
      opteeChannelId,
      `${chan.field.replace(/\.transport$/, '')} (SCMI channel ${setup.channel.id})`,
    );
    // Linux scmi_optee_chan_setup: shared memory, session, channel handle; undone in reverse.
    let shm: TeeSharedMemory | undefined;
    let session: TeeSession | undefined;
    // As in setupDevice: the probe's abort gives up a call still waiting for a thread.
    const abort = setup.signal === undefined ? {} : { signal: setup.signal };
    try {
      // setup_dynamic_shmem: msg_size bytes (Linux: SCMI_SHMEM_MAX_PAYLOAD_SIZE), both p1 and p2.
      if (area === undefined) shm = await context.allocSharedMemory(config.msgBufferSize, abort);
      session = await context.openSession(PTA_SCMI_UUID, { login: TeeLogin.REE_KERNEL, ...abort });
      // Right after opening it, before GET_CHANNEL (Linux ≥ 6.8), so that every call of the
      // channel's session may use the thread kept for system sessions.
      this.#requestSystemSession(device, session, label);
      const r = await session.invoke(
        PtaScmiCommand.GET_CHANNEL_HANDLE,
        [teeValue(TeeParamType.VALUE_INOUT, opteeChannelId, caps)],
        abort,
      );
      const handle = (r.params[0] as TeeValueParam).a;
      // Two channels on one handle would overwrite each other's messages in the PTA (Linux takes
      // the handle unchecked): a TEE that hands out one already given is refused.
      const holder = handles.get(handle);
      if (holder !== undefined) {
        throw new ScmiTransportError(
          'E_TEE',
          `${label}: the TEE gave channel handle ${handle}, already that of ${holder}`,
        );
      }
      // The channel's onTeeDied subscription, ended at free: the driver outlives the agent.
      const watch: { stop: (() => void) | undefined } = { stop: undefined };
      const channel = new OpteeChannel({
        setup,
        context,
        session,
        opteeChannelId,
        handle,
        area,
        shm,
        busyTimeoutMs: config.busyTimeoutMs ?? 2 * setup.rxTimeoutMs,
        syncWaitMs: config.syncWaitMs,
        violations: this.#violations,
        onFreed: (c) => {
          watch.stop?.();
          opteeChannels.delete(opteeChannelId);
          handles.delete(handle);
          this.#channels.delete(c);
          this.#freedTotals = sum(this.#freedTotals, c.info.stats);
        },
      });
      this.#channels.add(channel);
      handles.set(handle, label);
      // A secure world that dies (its thread gone) never returns anything again: the channel is
      // then lost for good (see OpteeChannel.teeDied). Told at once when it died already.
      watch.stop = context.driver.onTeeDied?.(() => {
        channel.teeDied();
      });
      return channel;
    } catch (cause) {
      opteeChannels.delete(opteeChannelId);
      await session?.close().catch(() => undefined);
      await shm?.free().catch(() => undefined);
      throw wrap(`${label}: setting up OP-TEE channel ${opteeChannelId} failed`, cause);
    }
  }
}
