import {
  ScmiError,
  formatValue,
  refusedForSure,
  type ProtocolHandle,
  type ScmiEventDescriptor,
  type ScmiNotifyOutcome,
} from '@scmi-ts/core';
import { boolArg } from './args.js';
import { checkImplemented, isRemovalError, type DomainTable } from './domain-table.js';

/**
 * The `setNotifyEnabled` of a per-domain event (see core's `ScmiEventDescriptor`): one source
 * sends `send(id, enable)` for that domain; every source (`undefined`) sends it for each domain
 * that announced the notification, and succeeds when one of them did, as Linux's
 * `__scmi_enable_evt` counts a source enabled for every `set_notify_enabled` that succeeded —
 * resolving to the domains that failed (core's `ScmiNotifyOutcome`: the hub has a subscriber of
 * one of them alone send its enable again, and the removal disable one whose outcome is unknown)
 * — and fails only when none did, then with an error whose outcome is unknown (a timeout) before
 * a refusal. A domain that did not announce the notification (or that the platform did not
 * describe) is refused `E_NOT_SUPPORTED`, nothing sent, as Linux's core asks the protocol's
 * `is_notify_supported` first; every source skips it, an enable reporting it failed with that
 * refusal (the hub then refuses a subscriber of that domain alone as Linux does).
 *
 * @internal
 */
export function perDomainNotify<T>(
  domains: DomainTable<T>,
  supported: (info: T) => boolean,
  send: (id: number, enable: boolean) => Promise<void>,
  checkFailure?: NotifyCheckFailure,
): (source: number | undefined, enable: boolean) => Promise<ScmiNotifyOutcome | undefined> {
  const announced = (id: number): boolean => {
    const info = domains.failures.has(id) ? undefined : domains.info(id);
    return info !== undefined && supported(info);
  };
  const unannounced = (id: number): ScmiError =>
    checkFailure === undefined
      ? new ScmiError('E_NOT_SUPPORTED', `domain ${id} does not announce this notification`)
      : new ScmiError(
          'E_NOT_SUPPORTED',
          `domain ${id} does not announce this notification; ${leftOut(checkFailure)}`,
          { cause: checkFailure.error },
        );
  return async (source, enable) => {
    if (source !== undefined) {
      if (!announced(source)) throw unannounced(source);
      await send(source, enable);
      return undefined;
    }
    let first: { error: unknown } | undefined;
    let uncertain: { error: unknown } | undefined;
    const failed = new Map<number, unknown>();
    let done = 0;
    for (let id = 0; id < domains.count; id++) {
      if (!announced(id)) {
        // An enable reports it refused (nothing sent), so that a subscriber of that domain alone
        // is refused as without an every-source one.
        if (enable) failed.set(id, unannounced(id));
        continue;
      }
      try {
        await send(id, enable);
        done++;
      } catch (e) {
        // The agent is going away: no later domain can take, and the hub must hear it.
        if (isRemovalError(e)) throw e;
        failed.set(id, e);
        first ??= { error: e };
        if (!refusedForSure(e)) uncertain ??= { error: e };
      }
    }
    if (done > 0) return failed.size > 0 ? { failed } : undefined;
    // None succeeded. An error whose outcome is unknown (a timeout: the platform may have applied
    // it) goes first, so that the hub keeps the event possibly enabled and the removal disables it;
    // a refusal would tell it nothing was enabled.
    const reported = uncertain ?? first;
    if (reported !== undefined) throw reported.error as Error;
    throw checkFailure === undefined
      ? new ScmiError('E_NOT_SUPPORTED', 'no domain announces this notification')
      : new ScmiError(
          'E_NOT_SUPPORTED',
          `no domain announces this notification; ${leftOut(checkFailure)}`,
          { cause: checkFailure.error },
        );
  };
}

/**
 * Why a `*_NOTIFY` command is left out, for a refusal's message: `CLOCK_RATE_NOTIFY is left out:
 * its check at init failed (…)`, the check's error message (or the value) in parentheses.
 *
 * @internal
 */
export function leftOut(failure: NotifyCheckFailure): string {
  const why = failure.error instanceof Error ? failure.error.message : formatValue(failure.error);
  return `${failure.command} is left out: its check at init failed (${why})`;
}

/**
 * A `*_NOTIFY` command whose PROTOCOL_MESSAGE_ATTRIBUTES check at init failed (see
 * `checkImplemented`): left out, and a refused enable names the error.
 *
 * @internal
 */
export interface NotifyCheckFailure {
  /** The command's name, e.g. `CLOCK_RATE_NOTIFY`. */
  readonly command: string;
  /** The check's error (its cause). */
  readonly error: unknown;
}

/**
 * The `sourceOf` of a per-domain event whose payload is agent_id, then the domain id: that id,
 * when it is one of the `count` domains. A notification about a domain the platform never
 * announced is not delivered (the hub counts it in `sourceErrors`): an every-source subscriber
 * could not look it up. Linux's `scmi_sensor_fill_custom_report` drops such a SENSOR_UPDATE;
 * here every protocol's events do.
 *
 * @internal
 */
export function domainSource(count: number, what: string): (payload: Uint8Array) => number {
  return (payload) => {
    const id = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(
      4,
      true,
    );
    if (id < count) return id;
    throw new ScmiError('E_SOURCE', `a notification about ${what} ${id}, of ${count}`);
  };
}

/** What {@link perDomainEvent} needs of one per-domain event. @internal */
export interface PerDomainEventSpec<T> {
  /** The notification's message id. */
  readonly id: number;
  /** Its name, for logs and subscriptions. */
  readonly name: string;
  /** Its payload size in bytes: exactly this many, or from `[0]` to `[1]`. */
  readonly payload: number | readonly [min: number, max: number];
  /** The protocol's domains: one source each. */
  readonly domains: DomainTable<T>;
  /** What a domain is called, for errors (`'clock'`, `'power domain'`…). */
  readonly what: string;
  /** Whether a domain announces the event (see {@link perDomainNotify}). */
  readonly supported: (info: T) => boolean;
  /** Sends the event's `*_NOTIFY` for one domain. */
  readonly send: (id: number, enable: boolean) => Promise<void>;
  /** The source of a payload, checked (default {@link domainSource}). */
  readonly sourceOf?: (payload: Uint8Array) => number;
  /** The failed check of the event's `*_NOTIFY` command at init, if it failed. */
  readonly checkFailure?: NotifyCheckFailure | undefined;
}

/**
 * The descriptor of a per-domain event for the agent's notification hub: its payload bounds (as
 * Linux's `fill_custom_report` bounds them), one source per domain (at least one: the hub takes a
 * positive count, and with no domain every subscribe is refused `E_ARGUMENT`), the source read
 * and checked from the payload ({@link domainSource}), and the enable of {@link perDomainNotify}.
 *
 * @internal
 */
export function perDomainEvent<T>(spec: PerDomainEventSpec<T>): ScmiEventDescriptor {
  const [minPayload, maxPayload] =
    typeof spec.payload === 'number' ? [spec.payload, spec.payload] : spec.payload;
  return {
    id: spec.id,
    name: spec.name,
    minPayload,
    maxPayload,
    numSources: Math.max(1, spec.domains.count),
    sourceOf: spec.sourceOf ?? domainSource(spec.domains.count, spec.what),
    setNotifyEnabled: perDomainNotify(spec.domains, spec.supported, spec.send, spec.checkFailure),
  };
}

/**
 * Sends a `*_NOTIFY` command (domain_id, notify_enable) for domain `id` of `domains`.
 *
 * @throws ScmiError `E_ARGUMENT` / `E_DOMAIN_UNAVAILABLE` (nothing sent) for an id that is not a
 * described domain, `E_ARGUMENT` for an `enable` that is not a boolean; ScmiStatusError for an
 * error status; the error of a failed transfer.
 * @internal
 */
export async function sendNotify<T>(
  ph: ProtocolHandle,
  domains: DomainTable<T>,
  messageId: number,
  id: number,
  enable: boolean,
): Promise<void> {
  domains.info(id);
  const on = boolArg(enable, 'enable') ? 1 : 0;
  await ph.xfer.transact(messageId, (w) => w.u32(id).u32(on), { txSize: 8, rxSize: 0 });
}

/**
 * The `*_NOTIFY` commands of a protocol checked at init (PROTOCOL_MESSAGE_ATTRIBUTES, as Linux's
 * `protocol_msg_check`): whether each is implemented, and for a check that failed (a timeout, an
 * error status other than NOT_FOUND, a malformed reply) its error — the command is then left out
 * all the same, as Linux leaves it, but a refused subscription says why (see
 * {@link checkFailureOf}).
 *
 * @internal
 */
export class NotifyChecks {
  readonly #implemented: ReadonlyMap<number, boolean>;
  /** The failed checks' errors by message id (a client's `notifyCheckErrors`). */
  public readonly errors: ReadonlyMap<number, unknown>;

  private constructor(
    implemented: ReadonlyMap<number, boolean>,
    errors: ReadonlyMap<number, unknown>,
  ) {
    this.#implemented = implemented;
    this.errors = errors;
  }

  /** Checks `messageIds` in turn. A removal is thrown. */
  public static async run(
    ph: ProtocolHandle,
    messageIds: readonly number[],
  ): Promise<NotifyChecks> {
    const implemented = new Map<number, boolean>();
    const errors = new Map<number, unknown>();
    for (const id of messageIds) {
      const check = await checkImplemented(ph, id);
      implemented.set(id, check.implemented);
      if ('checkError' in check) errors.set(id, check.checkError);
    }
    return new NotifyChecks(implemented, errors);
  }

  /** Whether the platform implements `messageId` (false when its check failed). */
  public implemented(messageId: number): boolean {
    return this.#implemented.get(messageId) === true;
  }
}

/**
 * The failed check of notify command `messageId` (named `command` in errors) among a client's
 * `notifyCheckErrors`, for {@link PerDomainEventSpec.checkFailure}; undefined when it was answered.
 *
 * @internal
 */
export function checkFailureOf(
  errors: ReadonlyMap<number, unknown>,
  messageId: number,
  command: string,
): NotifyCheckFailure | undefined {
  return errors.has(messageId) ? { command, error: errors.get(messageId) } : undefined;
}
