import { MAX_TIMER_MS, ScmiConfigError } from '@scmi-ts/core';
import { object, show } from '../config/config-checks.js';

/**
 * Switches for the points where real firmware differs, and the platform's timing. Every field is
 * optional; {@link resolvePlatformBehaviour} fills in the defaults of the absent (undefined) ones
 * and, as for the platform configuration, refuses null and any other field (a misspelt switch must
 * not pass silently). JSON-able.
 *
 * Fixed behaviours (both SCP-firmware and OP-TEE agree): a wrong payload size gets
 * PROTOCOL_ERROR; an unknown protocol gets NOT_SUPPORTED; a response that does not fit the link's
 * `maxMsgSize` gets PROTOCOL_ERROR.
 *
 * @example
 * ```ts
 * const optee: PlatformBehaviour = {
 *   unknownMessage: 'not-supported',
 *   unknownDomain: 'invalid-parameters',
 * };
 * ```
 */
export interface PlatformBehaviour {
  /**
   * Status for a message id the protocol does not implement: `'not-found'` (default, SCP-firmware,
   * scmi-tests) or `'not-supported'` (OP-TEE).
   */
  readonly unknownMessage?: 'not-found' | 'not-supported';
  /**
   * Status for a command to a protocol the platform implements but the agent may not use (it is
   * absent from the agent's LIST_PROTOCOLS): `'not-supported'` (default: the protocol looks
   * absent, like an unknown one) or `'denied'`.
   */
  readonly hiddenProtocol?: 'not-supported' | 'denied';
  /**
   * Status for a domain id past a protocol's last domain (clock, power, performance, sensor,
   * reset, voltage): `'not-found'` (default: the SCMI specification and SCP-firmware) or
   * `'invalid-parameters'` (OP-TEE's `scmi-msg` servers check `id >= plat_scmi_*_count()` and
   * answer SCMI_INVALID_PARAMETERS, e.g. `core/drivers/scmi-msg/clock.c`). The payload size is
   * checked first either way (PROTOCOL_ERROR), as both do. A clock's parent id past the last
   * clock (CLOCK_PARENT_SET) stays NOT_FOUND: OP-TEE has no parent commands.
   */
  readonly unknownDomain?: 'not-found' | 'invalid-parameters';
  /**
   * Time an asynchronous operation takes before its delayed response, in ms; default 1. This and
   * the other times in ms are at most 2^31 − 1, the longest Node timer.
   */
  readonly asyncLatencyMs?: number;
  /** Wait before posting a delayed response again after `link.post` refused it, in ms; default 1. */
  readonly postRetryMs?: number;
  /** How many times a refused delayed response is posted again before it is dropped; default 20. */
  readonly maxPostRetries?: number;
  /** Largest number of entries in one multi-part reply (besides what fits); default unbounded. */
  readonly multiPartMax?: number;
  /**
   * Asynchronous operations pending at once per protocol (clock, power, sensor, reset, voltage;
   * BUSY beyond); default 8, at most 255. Platform-wide: an operation accepted for an agent that has
   * disconnected since counts until it completes.
   * Advertised in Clock and Sensor PROTOCOL_ATTRIBUTES (bits 23:16) only to an agent whose link
   * has a P2A channel and can carry the delayed response (Clock: CLOCK_RATE_SET's; Sensor: that of
   * at least one sensor that reads asynchronously): elsewhere no such operation can be accepted,
   * so 0 is advertised (Power, Reset and Voltage have no such field).
   */
  readonly maxPendingAsync?: number;
  /** How often sensors are sampled for trip points while any is armed, in ms; default 10. */
  readonly sensorPollMs?: number;
  /**
   * Whether every protocol implements NEGOTIATE_PROTOCOL_VERSION (0x10, SCMI v3.2); default true.
   * False emulates firmware older than SCMI v3.2: the message is unknown, and the protocols whose
   * SCMI v3.2 minor only adds it report the SCMI v3.1 version instead: Base 0x20000, Power domain
   * 0x30000, System power 0x20000, Sensor 0x30000, Reset 0x30000 and Voltage 0x20000 (rather than
   * 0x20001, 0x30001, 0x20001, 0x30001, 0x30001 and 0x20001). Clock (0x30000) and Performance (`performanceVersion`) keep
   * theirs.
   */
  readonly versionNegotiation?: boolean;
}

/** A {@link PlatformBehaviour} with every default filled in. */
export type ResolvedPlatformBehaviour = Required<PlatformBehaviour>;

/** The fields of a {@link PlatformBehaviour}. */
const FIELDS: readonly (keyof PlatformBehaviour)[] = [
  'unknownMessage',
  'hiddenProtocol',
  'unknownDomain',
  'asyncLatencyMs',
  'postRetryMs',
  'maxPostRetries',
  'multiPartMax',
  'maxPendingAsync',
  'sensorPollMs',
  'versionNegotiation',
];

/**
 * Fills in the defaults of a {@link PlatformBehaviour} and checks the values. Only an absent
 * (undefined) field, or an absent `b`, takes the default: null is refused, as the platform
 * configuration does.
 *
 * @throws ScmiConfigError naming the field (`behaviour.postRetryMs`, …) when a value is invalid
 *   (null included), or when `b` has a field {@link PlatformBehaviour} does not declare
 *   (`behaviour.unknownMesage`: is not a known field), as the platform configuration does;
 *   `behaviour` when `b` is not an object (null included).
 * @example
 * ```ts
 * resolvePlatformBehaviour({}).unknownMessage; // 'not-found'
 * ```
 */
export function resolvePlatformBehaviour(b: PlatformBehaviour = {}): ResolvedPlatformBehaviour {
  const o = object(b, 'behaviour', FIELDS);
  // Only an absent (undefined) field takes its default, as in the platform configuration: null
  // is refused below like any other value of the wrong type, not read as "the default".
  const or = <T>(field: keyof PlatformBehaviour, fallback: T): T => {
    const v = o[field];
    return v === undefined ? fallback : (v as T);
  };
  const r: ResolvedPlatformBehaviour = {
    unknownMessage: or('unknownMessage', 'not-found'),
    hiddenProtocol: or('hiddenProtocol', 'not-supported'),
    unknownDomain: or('unknownDomain', 'not-found'),
    asyncLatencyMs: or('asyncLatencyMs', 1),
    postRetryMs: or('postRetryMs', 1),
    maxPostRetries: or('maxPostRetries', 20),
    multiPartMax: or('multiPartMax', Number.MAX_SAFE_INTEGER),
    maxPendingAsync: or('maxPendingAsync', 8),
    sensorPollMs: or('sensorPollMs', 10),
    versionNegotiation: or('versionNegotiation', true),
  };
  if (!['not-found', 'not-supported'].includes(r.unknownMessage)) {
    throw new ScmiConfigError(
      'behaviour.unknownMessage',
      `must be not-found or not-supported, got ${show(r.unknownMessage)}`,
    );
  }
  if (!['not-supported', 'denied'].includes(r.hiddenProtocol)) {
    throw new ScmiConfigError(
      'behaviour.hiddenProtocol',
      `must be not-supported or denied, got ${show(r.hiddenProtocol)}`,
    );
  }
  if (!['not-found', 'invalid-parameters'].includes(r.unknownDomain)) {
    throw new ScmiConfigError(
      'behaviour.unknownDomain',
      `must be not-found or invalid-parameters, got ${show(r.unknownDomain)}`,
    );
  }
  check('asyncLatencyMs', r.asyncLatencyMs, 0, false, MAX_TIMER_MS);
  check('postRetryMs', r.postRetryMs, 0, false, MAX_TIMER_MS);
  check('maxPostRetries', r.maxPostRetries, 0, true);
  check('multiPartMax', r.multiPartMax, 1, true);
  check('maxPendingAsync', r.maxPendingAsync, 1, true, 255);
  check('sensorPollMs', r.sensorPollMs, 0.001, false, MAX_TIMER_MS);
  if (typeof r.versionNegotiation !== 'boolean') {
    throw new ScmiConfigError(
      'behaviour.versionNegotiation',
      `must be a boolean, got ${show(r.versionNegotiation)}`,
    );
  }
  return r;
}

function check(field: string, v: number, min: number, integer: boolean, max = Infinity): void {
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    v >= min &&
    v <= max &&
    (!integer || Number.isInteger(v));
  if (!ok) {
    throw new ScmiConfigError(
      `behaviour.${field}`,
      `must be ${integer ? 'an integer' : 'a number'} in ${min} … ${max}, got ${show(v)}`,
    );
  }
}
