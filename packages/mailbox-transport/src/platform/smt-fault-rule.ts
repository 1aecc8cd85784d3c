import { ScmiConfigError, formatValue, isRecord, type ChannelDirection } from '@scmi-ts/core';

/**
 * A2P: write the response but keep the channel busy — CHANNEL_FREE and the completion doorbell
 * come only after `ms`, or never when `ms` is absent (a platform that hangs: the agent's transfer
 * times out and its next send fails with `E_CHANNEL_BUSY` after waiting 2× the RX timeout).
 */
export interface StuckBusyFault {
  /** Discriminant. */
  readonly kind: 'stuck-busy';
  /** When CHANNEL_FREE is finally set (and the doorbell rung), ms; absent: never. */
  readonly ms?: number;
}

/** Write `length` in the length field of the response (A2P) or of the posted message (P2A). */
export interface HostileLengthFault {
  /** Discriminant. */
  readonly kind: 'hostile-length';
  /** The length field to write, 0 … 0xFFFFFFFF. */
  readonly length: number;
}

/**
 * Ring the agent when there is nothing for it: A2P, while the platform still owns the area
 * (CHANNEL_FREE clear), then answer after `ms` — unless a response the platform sent meanwhile
 * (`link.respond`) answered the command: it is then dropped, never handed to the platform after
 * the agent's next command; P2A, with nothing posted (CHANNEL_FREE set), then post after `ms`,
 * later posts waiting behind it (queued, or refused when the queue is full).
 */
export interface SpuriousDoorbellFault {
  /** Discriminant. */
  readonly kind: 'spurious-doorbell';
  /** Delay of the real answer or post, ms (default 1). */
  readonly ms?: number;
}

/**
 * A2P: write the response and ring without setting CHANNEL_FREE (the agent must ignore that
 * doorbell); set CHANNEL_FREE silently after `freeAfterMs`, or never when absent.
 */
export interface NoFreeFault {
  /** Discriminant. */
  readonly kind: 'no-free';
  /** When CHANNEL_FREE is set at last (without a doorbell), ms; absent: never. */
  readonly freeAfterMs?: number;
}

/**
 * A2P: set CHANNEL_FREE and ring before the response is written; the response is written `ms`
 * later (default 1), unless the agent has taken the area back meanwhile. The agent reads whatever
 * the area holds then — bounds-checked, never past the area.
 *
 * "Unless taken back" is exact in the same thread. Across threads the responder's look and its
 * write are not atomic with the agent's claim of a free area (no compare-and-swap on either side,
 * as in Linux's `shmem_tx_prepare`: the platform is never to touch a free area), so the late write
 * can land in the agent's next command as the agent writes it — what firmware with this bug would
 * do; the platform then answers whatever it reads, and the agent bounds-checks that reply too.
 */
export interface EarlyFreeFault {
  /** Discriminant. */
  readonly kind: 'early-free';
  /** Delay of the response write, ms (default 1). */
  readonly ms?: number;
}

/** What a wire-level fault rule does. */
export type SmtFaultAction =
  StuckBusyFault | HostileLengthFault | SpuriousDoorbellFault | NoFreeFault | EarlyFreeFault;

/** The kinds of wire-level fault. */
export type SmtFaultKind = SmtFaultAction['kind'];

/** Which messages a wire-level rule fires on; every field optional. */
export interface SmtFaultMatch {
  /** `a2p` (responses to commands; default) or `p2a` (notifications and delayed responses). */
  readonly direction?: ChannelDirection;
  /** Only this SCMI channel id. */
  readonly channelId?: number;
  /** Only messages of this protocol. */
  readonly protocolId?: number;
  /** Only this message id. */
  readonly messageId?: number;
  /** Fire on the n-th matching message only (1-based). */
  readonly nth?: number;
  /** Fire at most this many times. */
  readonly times?: number;
}

/**
 * A wire-level fault rule of an {@link SmtResponder}: when `match` selects a message, `action`
 * breaks the SMT protocol the way faulty firmware does. Plain data (JSON-able). The first rule
 * that fires on a message applies; message-level faults (drop, delay, corrupt headers…) belong to
 * the platform (`@scmi-ts/platform`).
 *
 * @example
 * ```ts
 * responder.faults.add({ match: { protocolId: 0x10, messageId: 0x3 }, action: { kind: 'hostile-length', length: 0xffffffff } });
 * ```
 */
export interface SmtFaultRule {
  /** A name for the log; default `smt-rule-<n>`. */
  readonly id?: string;
  /** Which messages; default every A2P response. */
  readonly match?: SmtFaultMatch;
  /** What to do. */
  readonly action: SmtFaultAction;
}

const A2P_ONLY: ReadonlySet<string> = new Set(['stuck-busy', 'no-free', 'early-free']);
const KINDS: ReadonlySet<string> = new Set([
  'stuck-busy',
  'hostile-length',
  'spurious-doorbell',
  'no-free',
  'early-free',
]);

function optionalInt(
  record: Record<string, unknown>,
  key: string,
  field: string,
  min: number,
  max: number,
): void {
  const v = record[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ScmiConfigError(
      `${field}.${key}`,
      `expected an integer in ${min}..${max}, got ${formatValue(v)}`,
    );
  }
}

function optionalMs(record: Record<string, unknown>, key: string, field: string): void {
  const v = record[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new ScmiConfigError(
      `${field}.${key}`,
      `expected a duration ≥ 0 ms, got ${formatValue(v)}`,
    );
  }
}

/**
 * A copy of `rule` down to `match` and `action` (the rule is plain data: no deeper level), each
 * property read once; a `null` match (absent, as in JSON written by hand) is dropped; anything
 * else that is not an object is left as is, for the checks to name.
 */
function copyRule(rule: unknown): unknown {
  if (!isRecord(rule)) return rule;
  const { match, action, ...rest } = rule;
  return {
    ...rest,
    ...(match === undefined || match === null
      ? {}
      : { match: isRecord(match) ? { ...match } : match }),
    action: isRecord(action) ? { ...action } : action,
  };
}

/**
 * Checks a wire-level fault rule (untrusted data, e.g. from a test across a worker boundary) and
 * returns a checked copy of it (its `match` and `action` copied too): changing `rule` afterwards
 * changes nothing in the copy, so it cannot bypass the checks.
 *
 * @throws ScmiConfigError naming the invalid field (`action.kind`, `match.nth`…).
 * @example
 * ```ts
 * validateSmtFaultRule({ action: { kind: 'no-free' } }); // ok
 * ```
 */
export function validateSmtFaultRule(original: unknown, field = 'rule'): SmtFaultRule {
  // Copied first, then checked: what is checked is what is returned.
  const rule = copyRule(original);
  if (!isRecord(rule)) throw new ScmiConfigError(field, 'expected an object');
  if (rule.id !== undefined && (typeof rule.id !== 'string' || rule.id === '')) {
    throw new ScmiConfigError(`${field}.id`, 'expected a non-empty string');
  }
  const match = rule.match ?? {};
  if (!isRecord(match)) throw new ScmiConfigError(`${field}.match`, 'expected an object');
  const direction = match.direction ?? 'a2p';
  if (direction !== 'a2p' && direction !== 'p2a') {
    throw new ScmiConfigError(`${field}.match.direction`, "expected 'a2p' or 'p2a'");
  }
  optionalInt(match, 'channelId', `${field}.match`, 0, 0xffff);
  optionalInt(match, 'protocolId', `${field}.match`, 0, 0xff);
  optionalInt(match, 'messageId', `${field}.match`, 0, 0xff);
  optionalInt(match, 'nth', `${field}.match`, 1, Number.MAX_SAFE_INTEGER);
  optionalInt(match, 'times', `${field}.match`, 1, Number.MAX_SAFE_INTEGER);
  const action = rule.action;
  if (!isRecord(action) || typeof action.kind !== 'string' || !KINDS.has(action.kind)) {
    throw new ScmiConfigError(
      `${field}.action.kind`,
      `expected one of ${[...KINDS].join(', ')}, got ${formatValue(isRecord(action) ? action.kind : action)}`,
    );
  }
  if (direction === 'p2a' && A2P_ONLY.has(action.kind)) {
    throw new ScmiConfigError(
      `${field}.action.kind`,
      `${action.kind} applies to A2P responses only`,
    );
  }
  const a = `${field}.action`;
  if (action.kind === 'hostile-length') {
    if (action.length === undefined) throw new ScmiConfigError(`${a}.length`, 'is required');
    optionalInt(action, 'length', a, 0, 0xffffffff);
  }
  optionalMs(action, 'ms', a);
  optionalMs(action, 'freeAfterMs', a);
  return rule as unknown as SmtFaultRule;
}
