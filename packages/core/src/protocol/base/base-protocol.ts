import { ScmiMalformedError, ScmiStatusError } from '../../errors/scmi-error.js';
import type { ScmiEventDescriptor } from '../../notification/notification-hub.js';
import { PayloadReader } from '../../wire/payload.js';
import { ScmiProtocolId } from '../../wire/protocol-id.js';
import { ScmiStatus } from '../../wire/status.js';
import { flagArg, u32Arg, uintArg } from '../field-arg.js';
import type {
  CallOptions,
  ProtocolDriver,
  ProtocolHandle,
  ProtocolVersionSource,
} from '../protocol-handle.js';

/** Bytes of an SCMI short name, NUL included (Linux `SCMI_SHORT_NAME_MAX_SIZE`). */
const SCMI_SHORT_NAME_SIZE = 16;

/**
 * Base protocol message ids (`scmi-wire.md` §4, Base).
 *
 * @example
 * ```ts
 * await ph.xfer.transact(BaseMessageId.DISCOVER_VENDOR);
 * ```
 */
export enum BaseMessageId {
  /** Vendor identifier, 16 bytes. */
  DISCOVER_VENDOR = 0x3,
  /** Sub-vendor identifier, 16 bytes (optional). */
  DISCOVER_SUB_VENDOR = 0x4,
  /** Vendor-defined implementation version. */
  DISCOVER_IMPLEMENTATION_VERSION = 0x5,
  /** The protocols implemented (multi-part, by skip). */
  DISCOVER_LIST_PROTOCOLS = 0x6,
  /** An agent's id and name. */
  DISCOVER_AGENT = 0x7,
  /** Enables BASE_ERROR_EVENT notifications. */
  NOTIFY_ERRORS = 0x8,
  /** Grants or revokes an agent's access to a device. */
  SET_DEVICE_PERMISSIONS = 0x9,
  /** Grants or revokes an agent's access to a protocol on a device. */
  SET_PROTOCOL_PERMISSIONS = 0xa,
  /** Resets an agent's configuration. */
  RESET_AGENT_CONFIGURATION = 0xb,
}

/** BASE_ERROR_EVENT (notification 0x0). */
export const BASE_ERROR_EVENT = 0x0;

/** A BASE_ERROR_EVENT, decoded by {@link decodeBaseErrorEvent} (Linux `scmi_base_error_report`). */
export interface BaseErrorReport {
  /** The agent whose messages the platform reports (`agent_id`). */
  readonly agentId: number;
  /** Whether the platform took the error as fatal (`error_status` bit 31). */
  readonly fatal: boolean;
  /** How many message reports `error_status` (bits 9:0) announces. */
  readonly count: number;
  /**
   * The message reports (`msg_reports`) the payload holds, at most `count`: each a 64-bit word
   * whose layout the platform defines. Fewer than `count` when the payload is cut short.
   */
  readonly reports: readonly bigint[];
}

/**
 * Decodes a BASE_ERROR_EVENT payload: `agent_id`, `error_status` (bit 31 fatal, bits 9:0 the
 * count) and the 64-bit `msg_reports` (scmi-wire.md §4). It reads no more reports than the
 * payload holds — Linux's `scmi_base_fill_custom_report` only refuses a payload over the largest
 * report, then reads `count` reports whatever arrived (stale buffer bytes past a short payload):
 * a payload shorter than its count says gives the reports that arrived here, and `count` keeps
 * what the platform announced, so the two can be compared.
 *
 * @throws ScmiMalformedError `E_TRUNCATED` when the payload is shorter than 8 bytes (the hub
 * queues none shorter: the event's `minPayload`).
 * @example
 * ```ts
 * await agent.events.subscribe({ protocolId: 0x10, eventId: BASE_ERROR_EVENT }, (n) => {
 *   const { agentId, fatal, count, reports } = decodeBaseErrorEvent(n.payload);
 *   console.log(agentId, fatal, count, reports.length);
 * });
 * ```
 */
export function decodeBaseErrorEvent(payload: Uint8Array): BaseErrorReport {
  const r = new PayloadReader(payload);
  const agentId = r.u32();
  const status = r.u32();
  const count = status & 0x3ff;
  const reports: bigint[] = [];
  while (reports.length < count && r.remaining >= 8) {
    const low = r.u32();
    const high = r.u32();
    reports.push((BigInt(high) << 32n) | BigInt(low));
  }
  return { agentId, fatal: (status & 0x80000000) !== 0, count, reports };
}

/** Base PROTOCOL_ATTRIBUTES. */
export interface BaseAttributes {
  /** Protocols implemented, excluding Base (bits 7:0). */
  readonly numProtocols: number;
  /** Agents in the system (bits 15:8). */
  readonly numAgents: number;
}

/** An agent as BASE_DISCOVER_AGENT describes it. */
export interface ScmiAgentInfo {
  /**
   * The agent id asked for (0 is the platform); for 0xFFFFFFFF (the caller), the id the platform
   * answered with.
   */
  readonly id: number;
  /** The agent name. */
  readonly name: string;
  /**
   * The agent id the platform wrote in its answer, present only when it is not `id`: the answer
   * is taken as the description of the agent asked for all the same, as Linux's
   * `scmi_base_discover_agent_get` never reads that field.
   */
  readonly reportedId?: number;
}

/**
 * The Base protocol client (Linux `base.c`), written on the protocol-driver API as its first user.
 *
 * @example
 * ```ts
 * const vendor = await agent.base.discoverVendor();
 * const protocols = await agent.base.discoverListProtocols(5);
 * ```
 */
export class BaseProtocol {
  readonly #ph: ProtocolHandle;

  /** Creates the client over a protocol handle for protocol 0x10. */
  public constructor(ph: ProtocolHandle) {
    this.#ph = ph;
  }

  /** The protocol version in use (major 31:16, minor 15:0). */
  public get version(): number {
    return this.#ph.version;
  }

  /** Where {@link BaseProtocol.version} comes from (see {@link ProtocolVersionSource}). */
  public get versionSource(): ProtocolVersionSource {
    return this.#ph.versionSource;
  }

  /**
   * This client with `options` applied to every command its methods send: `timeoutMs` bounds
   * each command's response instead of the agent's `rxTimeoutMs`, and `signal` gives the
   * commands in flight up when it fires (see {@link CallOptions}). The view shares everything
   * else with this client (its version, its channel); calls on this client itself are
   * unchanged. A view of a view keeps the signals of both and the newer timeout.
   *
   * @throws ScmiError `E_ARGUMENT` for options that are not an object, hold a key
   * {@link CallOptions} does not have, a `timeoutMs` that is not a positive number or a `signal`
   * that is not an `AbortSignal` (see {@link ProtocolHandle.withCallOptions}).
   * @example
   * ```ts
   * const controller = new AbortController();
   * process.once('SIGINT', () => controller.abort(new Error('interrupted')));
   * const base = agent.base.withCallOptions({
   *   timeoutMs: 200,
   *   signal: controller.signal,
   * });
   * console.log(await base.discoverVendor());
   * ```
   */
  public withCallOptions(options: CallOptions): BaseProtocol {
    return new BaseProtocol(this.#ph.withCallOptions(options));
  }

  /** PROTOCOL_ATTRIBUTES: number of protocols (excluding Base) and of agents. */
  public async attributes(): Promise<BaseAttributes> {
    const returns = await this.#ph.xfer.transact(0x1, undefined, { rxSize: 4 });
    const a = this.#ph.xfer.decode(returns, (r) => r.u32());
    return { numProtocols: a & 0xff, numAgents: (a >>> 8) & 0xff };
  }

  /** BASE_DISCOVER_VENDOR. */
  public async discoverVendor(): Promise<string> {
    return this.#name16(BaseMessageId.DISCOVER_VENDOR);
  }

  /** BASE_DISCOVER_SUB_VENDOR (optional: NOT_SUPPORTED / NOT_FOUND on some platforms). */
  public async discoverSubVendor(): Promise<string> {
    return this.#name16(BaseMessageId.DISCOVER_SUB_VENDOR);
  }

  /** BASE_DISCOVER_IMPLEMENTATION_VERSION. */
  public async discoverImplementationVersion(): Promise<number> {
    const returns = await this.#ph.xfer.transact(
      BaseMessageId.DISCOVER_IMPLEMENTATION_VERSION,
      undefined,
      { rxSize: 4 },
    );
    return this.#ph.xfer.decode(returns, (r) => r.u32());
  }

  /**
   * BASE_DISCOVER_LIST_PROTOCOLS, repeated with `skip` until `total` protocols are listed (Linux
   * `scmi_base_implementation_list_get`): protocol ids come as bytes packed into 32-bit words.
   * The ids are pushed into `into` (and returned) as each reply arrives, so that what was listed
   * before a failure stays there.
   *
   * The first LIST_PROTOCOLS is sent whatever `total` is, as Linux's do/while sends it: with
   * `total` 0, a reply of no protocol gives an empty list, and one listing some is refused as too
   * many (Linux: "No. Returned protocols > Total protocols", nothing stored).
   *
   * `total` is the number of protocols to list, excluding Base: PROTOCOL_ATTRIBUTES'
   * `numProtocols`, an 8-bit field, so an integer from 0 to 255.
   *
   * A reply longer than its list (padded to whole words) is accepted, as Linux accepts it (with a
   * "Malformed reply" warning): its ids are kept, it is not counted as malformed, and `warn` is
   * told of it, with a message and an {@link ScmiMalformedError} `E_LENGTH` (not thrown) — once
   * per call, however many replies are long (a platform that pads one reply so pads them all).
   * Discovery passes its own `warn`; without one, the reply is accepted silently. A reply shorter
   * than its padded list is refused (`E_TRUNCATED`), as Linux refuses it.
   *
   * @throws ScmiMalformedError `E_FIELD_RANGE` (nothing sent) when `total` is not an integer from 0
   * to 255: Infinity would never end the loop against a platform that ignores `skip`, NaN would
   * pass the "too many" check. `E_TRUNCATED` when a reply is short, `E_MULTIPART` when one
   * announces more protocols than are left (its ids are then not added) or returns none before
   * `total` are listed; the error of a failed transfer. `total` is taken as the platform's own
   * count (as discovery passes it): a reply that contradicts it is counted in
   * `diagnostics.malformedReplies`.
   * @example
   * ```ts
   * const listed: number[] = [];
   * await agent.base.discoverListProtocols(5, listed).catch(() => undefined); // listed: the ids read
   * ```
   */
  public async discoverListProtocols(
    total: number,
    into: number[] = [],
    warn?: (message: string, error: Error) => void,
  ): Promise<number[]> {
    // The caller's count, checked before anything is sent (a bad one is not the platform's fault):
    // `total` bounds the loop below, and only a count the 8-bit num_protocols can hold does.
    uintArg(total, 'LIST_PROTOCOLS total', 0xff);
    const list = into;
    const first = list.length;
    let longReplyWarned = false;
    // A do/while, as in Linux's `scmi_base_implementation_list_get`: the first request goes out
    // even when PROTOCOL_ATTRIBUTES announced no protocol, and its answer is checked as any other.
    do {
      const skip = list.length - first;
      let longReply: string | undefined;
      const returns = await this.#ph.xfer.transact(
        BaseMessageId.DISCOVER_LIST_PROTOCOLS,
        (w) => w.u32(skip),
        {
          txSize: 4,
        },
      );
      // Read whole or not at all: a malformed reply adds no id (and is counted, see decode).
      const ids = this.#ph.xfer.decode(returns, (r) => {
        const n = r.u32();
        // None returned: the end of the list. Before all are listed, the platform contradicts its
        // PROTOCOL_ATTRIBUTES: Linux (`if (!loop_num_ret) break;`) stops there silently; here the
        // ids read so far stay in `into`, and the caller learns that the list is short. With none
        // announced (total 0) it is the answer expected.
        if (n === 0) {
          if (skip >= total) return undefined; // the end of the list
          throw new ScmiMalformedError(
            `LIST_PROTOCOLS returned no protocol after ${skip} of ${total}: the list ends early`,
            'E_MULTIPART',
          );
        }
        // More than PROTOCOL_ATTRIBUTES announced are left (Linux: "No. Returned protocols >
        // Total protocols"): the platform contradicts itself, and the list must not outgrow `total`.
        if (n > total - skip) {
          throw new ScmiMalformedError(
            `LIST_PROTOCOLS returned ${n} protocols after ${skip} of ${total}: too many`,
            'E_MULTIPART',
          );
        }
        // The ids are packed four to a word and the list is padded to whole words; Linux
        // (`scmi_base_implementation_list_get`) fails a reply shorter than the padded list with
        // -EPROTO and only warns of a longer one.
        const padded = (n + 3) & ~3;
        if (r.remaining < padded) {
          throw new ScmiMalformedError(
            `LIST_PROTOCOLS truncated: ${n} protocols (${padded} bytes, padded) in ${r.remaining} bytes`,
            'E_TRUNCATED',
          );
        }
        // Longer: the ids are all there, so the reply is taken, as Linux takes it after its
        // dev_warn("Malformed reply - real_sz ... calc_sz ..."); not counted as malformed, since
        // it is not refused.
        if (r.remaining > padded) {
          longReply = `LIST_PROTOCOLS reply longer than its list: ${n} protocols (${padded} bytes, padded) in ${r.remaining} bytes after ${skip} of ${total}; accepted, as Linux accepts it`;
        }
        return r.bytes(n);
      });
      // Told outside `decode`, once the reply is taken: what `warn` might throw is not the
      // platform's. Once per call: a platform that pads one reply long pads every one.
      if (longReply !== undefined && !longReplyWarned) {
        longReplyWarned = true;
        warn?.(longReply, new ScmiMalformedError(longReply, 'E_LENGTH'));
      }
      if (ids === undefined) break;
      for (const id of ids) list.push(id);
    } while (list.length - first < total);
    return list;
  }

  /**
   * BASE_DISCOVER_AGENT for `id` (0: the platform; 0xFFFFFFFF: the caller, SCMI v3). Version 1
   * platforms return the name only. An answer whose agent id is not `id` is taken as the
   * description of agent `id`, as Linux takes it, its id kept in `reportedId`.
   *
   * @throws ScmiStatusError NOT_FOUND for an unknown id (NOT_SUPPORTED on OP-TEE);
   * ScmiMalformedError `E_TRUNCATED` for an answer shorter than its agent id and 16-byte name,
   * `E_FIELD_RANGE` (nothing sent) for an id that is not an integer from 0 to 0xFFFFFFFF.
   * @example
   * ```ts
   * const a = await agent.base.discoverAgent(2);
   * if (a.reportedId !== undefined) console.warn(`agent ${a.id} answered as ${a.reportedId}`);
   * ```
   */
  public async discoverAgent(id: number): Promise<ScmiAgentInfo> {
    u32Arg(id, 'agent id');
    const returns = await this.#ph.xfer.transact(BaseMessageId.DISCOVER_AGENT, (w) => w.u32(id), {
      txSize: 4,
      rxSize: 20,
    });
    if (this.#ph.version >>> 16 < 2) {
      return { id, name: this.#ph.xfer.decode(returns, (r) => r.string(SCMI_SHORT_NAME_SIZE)) };
    }
    const [reportedId, name] = this.#ph.xfer.decode(
      returns,
      (r) => [r.u32(), r.string(SCMI_SHORT_NAME_SIZE)] as const,
    );
    // For 0xFFFFFFFF the answer's id is the caller's own, the one thing to learn from it. For any
    // other id, Linux (`scmi_base_discover_agent_get`) copies `agent_info->name` and never reads
    // `agent_id`: a platform that writes another id there still described the agent asked for.
    // The answer is kept under that id, and the id written is kept beside it.
    if (id === 0xffffffff) return { id: reportedId, name };
    return reportedId === id ? { id, name } : { id, name, reportedId };
  }

  /**
   * BASE_NOTIFY_ERRORS: enables (`true`) or disables (`false`) BASE_ERROR_EVENT for this agent.
   * Subscribing to the event through `agent.events` sends it for you; this is the raw command,
   * which goes around the hub: disabling here what a subscription holds silences it.
   * `enable` must be a boolean: a truthy `'false'` would send notify_enable 1.
   *
   * @throws ScmiError `E_ARGUMENT` (nothing sent) when `enable` is not `true` or `false`;
   * ScmiStatusError for an error status; the error of a failed transfer.
   * @example
   * ```ts
   * await agent.base.notifyErrors(true);
   * ```
   */
  public async notifyErrors(enable: boolean): Promise<void> {
    const on = flagArg(enable, 'notifyErrors enable');
    await this.#ph.xfer.transact(BaseMessageId.NOTIFY_ERRORS, (w) => w.u32(on), {
      txSize: 4,
      rxSize: 0,
    });
  }

  /**
   * BASE_SET_DEVICE_PERMISSIONS (privileged agents only): allows (`true`) or denies (`false`)
   * agent `agentId` access to device `deviceId`. `allow` must be a boolean: a truthy `'false'`
   * would turn a deny into an allow.
   *
   * @throws ScmiMalformedError `E_FIELD_RANGE` (nothing sent) for an id that is not an integer
   * from 0 to 0xFFFFFFFF; ScmiError `E_ARGUMENT` (nothing sent) when `allow` is not `true` or
   * `false`; ScmiStatusError for an error status (DENIED for an agent that is not privileged,
   * NOT_FOUND for an unknown agent or device); the error of a failed transfer.
   * @example
   * ```ts
   * await agent.base.setDevicePermissions(2, 0, false); // agent 2 may no longer use device 0
   * ```
   */
  public async setDevicePermissions(
    agentId: number,
    deviceId: number,
    allow: boolean,
  ): Promise<void> {
    u32Arg(agentId, 'agent id');
    u32Arg(deviceId, 'device id');
    const flags = flagArg(allow, 'setDevicePermissions allow');
    await this.#ph.xfer.transact(
      BaseMessageId.SET_DEVICE_PERMISSIONS,
      (w) => w.u32(agentId).u32(deviceId).u32(flags),
      { txSize: 12 },
    );
  }

  /**
   * BASE_SET_PROTOCOL_PERMISSIONS (privileged agents only): allows (`true`) or denies (`false`)
   * agent `agentId` access to protocol `protocolId` on device `deviceId`. `allow` must be a
   * boolean, as {@link BaseProtocol.setDevicePermissions}'s.
   *
   * @throws ScmiMalformedError `E_FIELD_RANGE` (nothing sent) for an id that is not an integer
   * from 0 to 0xFFFFFFFF; ScmiError `E_ARGUMENT` (nothing sent) when `allow` is not `true` or
   * `false`; ScmiStatusError for an error status; the error of a failed transfer.
   * @example
   * ```ts
   * await agent.base.setProtocolPermissions(2, 0, 0x14, false); // no Clock on device 0
   * ```
   */
  public async setProtocolPermissions(
    agentId: number,
    deviceId: number,
    protocolId: number,
    allow: boolean,
  ): Promise<void> {
    u32Arg(agentId, 'agent id');
    u32Arg(deviceId, 'device id');
    u32Arg(protocolId, 'protocol id');
    const flags = flagArg(allow, 'setProtocolPermissions allow');
    await this.#ph.xfer.transact(
      BaseMessageId.SET_PROTOCOL_PERMISSIONS,
      (w) => w.u32(agentId).u32(deviceId).u32(protocolId).u32(flags),
      { txSize: 16 },
    );
  }

  /**
   * BASE_RESET_AGENT_CONFIGURATION: resets agent `agentId`'s configuration; `resetPermissions`
   * (`true`) also resets its permissions. `resetPermissions` must be a boolean: a truthy
   * `'false'` would reset the permissions too.
   *
   * @throws ScmiMalformedError `E_FIELD_RANGE` (nothing sent) for an agent id that is not an
   * integer from 0 to 0xFFFFFFFF; ScmiError `E_ARGUMENT` (nothing sent) when `resetPermissions`
   * is not `true` or `false`; ScmiStatusError for an error status; the error of a failed transfer.
   * @example
   * ```ts
   * await agent.base.resetAgentConfiguration(2, false); // permissions kept
   * ```
   */
  public async resetAgentConfiguration(agentId: number, resetPermissions: boolean): Promise<void> {
    u32Arg(agentId, 'agent id');
    const flags = flagArg(resetPermissions, 'resetAgentConfiguration resetPermissions');
    await this.#ph.xfer.transact(
      BaseMessageId.RESET_AGENT_CONFIGURATION,
      (w) => w.u32(agentId).u32(flags),
      { txSize: 8 },
    );
  }

  /**
   * @internal Counts `error`, found in Base's return values outside a single reply's decoding
   * (discovery's check of the listed protocol ids), as a malformed Base reply; returns it.
   */
  public malformed(error: ScmiMalformedError): ScmiMalformedError {
    return this.#ph.xfer.malformed(error);
  }

  async #name16(messageId: number): Promise<string> {
    const returns = await this.#ph.xfer.transact(messageId, undefined, { rxSize: 16 });
    return this.#ph.xfer.decode(returns, (r) => r.string(SCMI_SHORT_NAME_SIZE));
  }
}

/**
 * A Base discovery step that failed during probe and was passed over, as Linux's
 * `scmi_base_protocol_init` passes over it: the platform answered with an error status, or with
 * a malformed reply. An agent described under another agent id is not one: its answer is kept
 * (see {@link ScmiAgentInfo.reportedId}).
 *
 * @example
 * ```ts
 * for (const f of agent.info.discoveryFailures) console.warn(`${f.step}: ${f.error.message}`);
 * ```
 */
export interface ScmiDiscoveryFailure {
  /** The step (`agent 3`: DISCOVER_AGENT for id 3). */
  readonly step: ScmiDiscoveryStep;
  /** What it threw: an {@link ScmiStatusError} or an {@link ScmiMalformedError}. */
  readonly error: Error;
}

/**
 * A Base discovery step that may fail without failing the probe (see
 * {@link ScmiDiscoveryFailure}).
 *
 * @example
 * ```ts
 * const step: ScmiDiscoveryStep = 'agent 2';
 * ```
 */
export type ScmiDiscoveryStep =
  'vendor' | 'sub-vendor' | 'implementation-version' | 'list-protocols' | `agent ${number}`;

/** What Base discovery learned about the platform during probe. */
export interface ScmiPlatformInfo {
  /** Base protocol version (major 31:16, minor 15:0). */
  readonly version: number;
  /**
   * Where `version` comes from: `best-effort` when the platform refused or garbled Base's
   * PROTOCOL_VERSION (or the negotiation of a newer one) and the agent runs Base at its own version
   * (see {@link ProtocolVersionSource}).
   */
  readonly versionSource: ProtocolVersionSource;
  /** Vendor identifier ('' when DISCOVER_VENDOR failed, as Linux leaves `vendor_id` empty). */
  readonly vendor: string;
  /** Sub-vendor identifier, when the platform implements it. */
  readonly subVendor: string | undefined;
  /** Implementation version, when the platform implements it. */
  readonly implementationVersion: number | undefined;
  /**
   * Protocols implemented (excluding Base), as the platform listed them; when the listing failed
   * part-way, the ids read before the failure (a protocol not listed is not instantiated).
   */
  readonly protocols: readonly number[];
  /** Agents in the system, as PROTOCOL_ATTRIBUTES reports. */
  readonly numAgents: number;
  /**
   * Agents described by DISCOVER_AGENT, ids 0 (the platform) to `numAgents`, an id the platform
   * does not know or fails to describe left out (empty when the platform does not support the
   * command); one described under another agent id is kept under the id asked for, with
   * `reportedId`.
   */
  readonly agents: readonly ScmiAgentInfo[];
  /**
   * The steps that failed and were passed over, in order (empty on a platform that answered
   * everything). An agent described under another agent id is not a failure: it is in `agents`
   * with `reportedId`. NOT_SUPPORTED / NOT_FOUND from an optional command (sub-vendor, implementation
   * version, an agent id) is not a failure.
   */
  readonly discoveryFailures: readonly ScmiDiscoveryFailure[];
}

/** NOT_SUPPORTED or NOT_FOUND: the platform does not implement the command (or know the id). */
function isNotImplemented(e: unknown): boolean {
  return (
    ScmiStatusError.is(e) &&
    (e.status === ScmiStatus.NOT_SUPPORTED || e.status === ScmiStatus.NOT_FOUND)
  );
}

/**
 * A failure discovery passes over, as Linux's Base init does: an error status or a malformed
 * reply. A timeout is not one of them (see {@link discoverPlatform}); nor is a transport error or
 * the agent being removed.
 */
function isPlatformFailure(e: unknown): e is Error {
  return ScmiStatusError.is(e) || ScmiMalformedError.is(e);
}

/**
 * Runs Base discovery as Linux's probe (`scmi_base_protocol_init`) does: attributes, vendor,
 * sub-vendor, implementation version, the protocol list, and every agent (ids 0, the platform, to
 * num_agents). PROTOCOL_ATTRIBUTES must succeed (PROTOCOL_VERSION, before this, may be refused:
 * Base's version is then its driver's, best-effort, as in Linux); as in Linux, a later step that gets an error status or a malformed reply is recorded in
 * `discoveryFailures` (and passed to `warn`) and discovery goes on: the vendor stays '', the
 * protocol list keeps the ids read before the failure. The list keeps protocol ids from 0x11,
 * each once: one with a reserved id, Base's or a repeated one is recorded (`E_PROTOCOL_ID`).
 * Discover agent skips an id that fails (NOT_FOUND silently; any other error recorded per id,
 * but warned of once for all ids) and stops at NOT_SUPPORTED (OP-TEE does not implement it). An
 * answer that names another agent id is kept, as Linux ignores that field, under the id asked
 * for with `reportedId` (warned of once for all ids, with an `E_AGENT_ID` error). The
 * protocol list is asked for even when PROTOCOL_ATTRIBUTES announced none, as Linux asks; a
 * LIST_PROTOCOLS reply longer than its list is kept, as Linux keeps it, and only passed to `warn`
 * (not a failure, not counted as malformed: see {@link BaseProtocol.discoverListProtocols}).
 *
 * Unlike Linux, a timeout in any step fails the probe: the timed-out message still holds what it
 * was sent in (the SMT area until the platform frees it, the OP-TEE invocation until it returns,
 * the virtio buffer until the device gives it back), so the next step could only wait for it and
 * fail as busy. (Linux's `shmem_tx_prepare` gives up the wait without writing the message and
 * carries on, "the transport functionality is probably permanently compromised": each later step
 * then times out in turn.)
 *
 * @throws the error of PROTOCOL_ATTRIBUTES, a timeout ({@link ScmiTimeoutError}), and any error
 * that is not the platform's (a transport error, the agent being removed).
 * @example
 * ```ts
 * const info = await discoverPlatform(base, (m, e) => logger.warn(m, { error: e }));
 * for (const f of info.discoveryFailures) console.log(f.step, f.error.message);
 * ```
 */
export async function discoverPlatform(
  base: BaseProtocol,
  warn?: (message: string, error: Error) => void,
): Promise<ScmiPlatformInfo> {
  const failures: ScmiDiscoveryFailure[] = [];
  const warnOf = (what: string, error: Error): void =>
    warn?.(`Base discovery: ${what} failed (${error.message}); going on, as Linux does`, error);
  const record = (step: ScmiDiscoveryStep, error: Error): void => {
    failures.push({ step, error });
    warnOf(step, error);
  };
  const attempt = async <T>(
    step: ScmiDiscoveryStep,
    run: () => Promise<T>,
    notImplemented: 'tolerated' | 'failure',
  ): Promise<T | undefined> => {
    try {
      return await run();
    } catch (e) {
      if (notImplemented === 'tolerated' && isNotImplemented(e)) return undefined;
      if (!isPlatformFailure(e)) throw e;
      record(step, e);
      return undefined;
    }
  };
  const attributes = await base.attributes();
  const vendor = (await attempt('vendor', () => base.discoverVendor(), 'failure')) ?? '';
  const subVendor = await attempt('sub-vendor', () => base.discoverSubVendor(), 'tolerated');
  const implementationVersion = await attempt(
    'implementation-version',
    () => base.discoverImplementationVersion(),
    'tolerated',
  );
  const listed: number[] = [];
  await attempt(
    'list-protocols',
    () =>
      base.discoverListProtocols(attributes.numProtocols, listed, (message, error) =>
        warn?.(`Base discovery: ${message}`, error),
      ),
    'failure',
  );
  // Protocol ids from 0x11: 0x10 is Base, below it reserved. An id listed twice is listed once.
  const protocols = [...new Set(listed.filter((id) => id > ScmiProtocolId.BASE))];
  if (protocols.length !== listed.length) {
    record(
      'list-protocols',
      base.malformed(
        new ScmiMalformedError(
          `LIST_PROTOCOLS listed reserved, Base or repeated protocol ids (${listed.map((id) => `0x${id.toString(16)}`).join(', ')}): kept ${protocols.length} of ${listed.length}`,
          'E_PROTOCOL_ID',
        ),
      ),
    );
  }
  const agents: ScmiAgentInfo[] = [];
  const agentFailures: ScmiDiscoveryFailure[] = [];
  // The first agent described under another agent id, and how many were: kept in `agents` (with
  // `reportedId`), so not failures; warned of once.
  let mismatch: { readonly step: string; readonly error: Error } | undefined;
  let mismatchedIds = 0;
  // Agent 0 is the platform and agents are numbered from 1, so the walk ends at num_agents
  // (Linux `base.c` stops at num_agents − 1 and never asks for the last agent). NOT_FOUND is a gap
  // in the numbering, skipped; NOT_SUPPORTED means the command is not implemented: stop.
  for (let id = 0; id <= attributes.numAgents; id++) {
    try {
      const agent = await base.discoverAgent(id);
      agents.push(agent);
      if (agent.reportedId !== undefined) {
        mismatch ??= {
          step: `agent ${id}`,
          error: new ScmiMalformedError(
            `DISCOVER_AGENT for agent ${id} answered for agent ${agent.reportedId}; kept as agent ${id}`,
            'E_AGENT_ID',
          ),
        };
        mismatchedIds++;
      }
    } catch (e) {
      if (ScmiStatusError.is(e) && e.status === ScmiStatus.NOT_FOUND) continue;
      if (isNotImplemented(e)) break;
      if (!isPlatformFailure(e)) throw e;
      agentFailures.push({ step: `agent ${id}`, error: e });
    }
  }
  // Each failed id is recorded, but warned of once: a platform that denies DISCOVER_AGENT to this
  // agent denies it for every id, up to 256 of them; one that writes a wrong agent id writes it
  // in every answer (Linux logs each name at debug level only).
  failures.push(...agentFailures);
  const steps = (step: string, count: number): string =>
    count === 1 ? step : `${step} and ${count - 1} more agent id(s)`;
  const [firstFailure] = agentFailures;
  if (firstFailure !== undefined) {
    warnOf(steps(firstFailure.step, agentFailures.length), firstFailure.error);
  }
  if (mismatch !== undefined) {
    warn?.(
      `Base discovery: ${steps(mismatch.step, mismatchedIds)} described under another agent id (${mismatch.error.message}), as Linux ignores that field`,
      mismatch.error,
    );
  }
  return {
    version: base.version,
    versionSource: base.versionSource,
    vendor,
    subVendor,
    implementationVersion,
    protocols,
    numAgents: attributes.numAgents,
    agents,
    discoveryFailures: failures,
  };
}

/**
 * The Base protocol driver: core instantiates it first, during probe; the probe fails when it does.
 *
 * @example
 * ```ts
 * const base = await baseProtocolDriver.init(ph, group);
 * ```
 */
export const baseProtocolDriver: ProtocolDriver<BaseProtocol> = {
  protocolId: ScmiProtocolId.BASE,
  name: 'base',
  version: 0x20001,
  messageNames: BaseMessageId,
  init(ph) {
    const base = new BaseProtocol(ph);
    const errorEvent: ScmiEventDescriptor = {
      id: BASE_ERROR_EVENT,
      name: 'base-error',
      // agent_id, error_status, then up to 1024 msg_reports of 8 bytes (Linux's
      // scmi_base_error_notify_payld bounds the payload the same way).
      minPayload: 8,
      maxPayload: 8 + 8 * 1024,
      // Linux: one source (SCMI_BASE_NUM_SOURCES), 0 in every report (scmi_base_fill_custom_report).
      numSources: 1,
      sourceOf: () => 0,
      setNotifyEnabled: (_source, enable) => base.notifyErrors(enable),
    };
    ph.registerEvents([errorEvent]);
    return base;
  },
};
