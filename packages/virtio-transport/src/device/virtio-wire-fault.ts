import { FaultRuleList, ScmiConfigError, type FaultRuleEntry, formatValue } from '@scmi-ts/core';

/**
 * The wire-level faults a {@link VirtioScmiDevice} can inject — a hostile or broken device, as the
 * driver must survive it (message-level faults belong to the platform's rules). What each writes
 * to the used ring of a queue of size Q, per chain it returns:
 *
 * - `used-id-out-of-range` (cmdq): an element `{ id: Q + 7, len: 0 }` before the chain's real
 *   element; with `withhold`, no real element at all — the device keeps the chain (and refuses
 *   its head if the driver offers it again) until the reset.
 * - `used-id-not-in-flight` (cmdq): after the real element, `{ id, len: 0 }` whose id is in range
 *   but heads no chain the driver made available: the chain's second descriptor, or its head again
 *   for a chain of one descriptor (an indirect one).
 * - `used-len-oversize` (cmdq): the real element's `len` is the chain's writable bytes + 64 (the
 *   response written is the real one).
 * - `used-idx-jump` (cmdq): after a publish, `used.idx` is stored as the published index + Q + 1
 *   with no elements, and the driver notified; the device's next clock task — or, with
 *   `restoreAfterMs`, a timer that long on the device's clock — stores the true index again and
 *   notifies again (so does the device's next publish, whichever comes first). A polling driver
 *   looks only between its own yields, so it sees the jump only when it lasts that long.
 * - `event-oversize` (eventq): the element's `len` is the eventq buffer's writable bytes + 1.
 * - `reset-ack-late` (device status): a reset the driver asks for (status 0) is carried out and
 *   acknowledged `ackAfterMs` later (device clock; default 0: on a timer of 0 ms) — until then the
 *   device goes on serving its queues as before, writing into the buffers it holds, as a device
 *   whose reset takes time may. A status the driver writes meanwhile is looked at after the reset.
 *   What it tests: the driver reclaims nothing before the acknowledgement (VIRTIO 1.2 §2.4: the
 *   reset is done when the device reads back 0), and leaves its buffers to a device that takes
 *   longer than it waits.
 *
 * With both id faults a chain yields three used elements. The device cannot know how far the
 * driver has read the used ring (nothing tells it without EVENT_IDX), so once more than Q elements
 * are unread the ring wraps and the oldest unread ones are overwritten: the driver then sees
 * `used.idx` move by more than Q. The device's own state never depends on it — it never reads the
 * used ring back, its used index is a free-running counter, and only the real element releases
 * the chain it held — so the device keeps serving, whatever fires.
 */
export type VirtioWireFaultKind =
  | 'used-id-out-of-range'
  | 'used-id-not-in-flight'
  | 'used-len-oversize'
  | 'used-idx-jump'
  | 'event-oversize'
  | 'reset-ack-late';

/** Every {@link VirtioWireFaultKind}, in a stable order. */
export const VIRTIO_WIRE_FAULT_KINDS: readonly VirtioWireFaultKind[] = [
  'used-id-out-of-range',
  'used-id-not-in-flight',
  'used-len-oversize',
  'used-idx-jump',
  'event-oversize',
  'reset-ack-late',
];

/**
 * A wire-level fault rule: plain data (JSON-able, so it crosses to a worker). The candidates of
 * a rule are the used elements the device returns on the rule's queue (cmdq for every kind but
 * `event-oversize`, which applies to the eventq, and `reset-ack-late`, whose candidates are the
 * resets the driver asks for).
 *
 * @example
 * ```ts
 * device.faults.add({ kind: 'used-len-oversize', nth: 2 }); // the second response lies about its length
 * ```
 */
export interface VirtioWireFaultRule {
  /** A name, unique among the injector's rules; default `wire-<n>` (the first one not taken). */
  readonly id?: string;
  /** What to do. */
  readonly kind: VirtioWireFaultKind;
  /** Fire on the n-th candidate only (1-based). */
  readonly nth?: number;
  /** Fire at most this many times. */
  readonly times?: number;
  /** Fire with this probability (0 … 1), from the device's seeded generator. */
  readonly probability?: number;
  /** `used-id-out-of-range` only: also keep the real buffer until the device is reset. */
  readonly withhold?: boolean;
  /**
   * `used-idx-jump` only: milliseconds (device clock) the wrong index stays before the device
   * stores the true one again; default: until the device's next task.
   */
  readonly restoreAfterMs?: number;
  /**
   * `reset-ack-late` only: milliseconds (device clock) the device goes on serving before it
   * resets and acknowledges; default 0.
   */
  readonly ackAfterMs?: number;
}

function isObject(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null;
}

/**
 * Checks `rule` (named `field` in errors: `rule`, `rules[2]`) and returns a frozen copy of the
 * fields the injector reads: rules are plain data, and a caller changing its object after
 * {@link VirtioWireFaultInjector.add} must not bypass these checks. Every field is checked for its
 * type before it is read, so null, a string or `withhold: 'yes'` is a typed error, not a
 * `TypeError` or a value taken as truthy.
 */
function checkedCopy(rule: unknown, field: string): VirtioWireFaultRule {
  if (!isObject(rule) || Array.isArray(rule)) {
    throw new ScmiConfigError(field, `must be an object with a kind, got ${formatValue(rule)}`);
  }
  const r = rule;
  if (r.id !== undefined && (typeof r.id !== 'string' || r.id === '')) {
    throw new ScmiConfigError(
      `${field}.id`,
      `must be a non-empty string, got ${formatValue(r.id)}`,
    );
  }
  const kind = r.kind as VirtioWireFaultKind;
  if (!VIRTIO_WIRE_FAULT_KINDS.includes(kind)) {
    throw new ScmiConfigError(
      `${field}.kind`,
      `must be one of ${VIRTIO_WIRE_FAULT_KINDS.join(', ')}`,
    );
  }
  for (const key of ['nth', 'times'] as const) {
    const v = r[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)) {
      throw new ScmiConfigError(
        `${field}.${key}`,
        `must be a positive integer, got ${formatValue(v)}`,
      );
    }
  }
  const only = [
    ['withhold', 'used-id-out-of-range'],
    ['restoreAfterMs', 'used-idx-jump'],
    ['ackAfterMs', 'reset-ack-late'],
  ] as const;
  for (const [key, k] of only) {
    if (r[key] !== undefined && kind !== k) {
      throw new ScmiConfigError(`${field}.${key}`, `applies to ${k} only`);
    }
  }
  const withhold = r.withhold;
  if (withhold !== undefined && typeof withhold !== 'boolean') {
    throw new ScmiConfigError(
      `${field}.withhold`,
      `must be a boolean, got ${formatValue(withhold)}`,
    );
  }
  for (const key of ['restoreAfterMs', 'ackAfterMs'] as const) {
    const v = r[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      throw new ScmiConfigError(
        `${field}.${key}`,
        `must be a finite number ≥ 0, got ${formatValue(v)}`,
      );
    }
  }
  const p = r.probability;
  if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 1)) {
    throw new ScmiConfigError(`${field}.probability`, `must be in 0 … 1, got ${formatValue(p)}`);
  }
  const copy: { -readonly [K in keyof VirtioWireFaultRule]: VirtioWireFaultRule[K] } = { kind };
  if (r.id !== undefined) copy.id = r.id;
  if (r.nth !== undefined) copy.nth = r.nth as number;
  if (r.times !== undefined) copy.times = r.times as number;
  if (p !== undefined) copy.probability = p;
  if (withhold !== undefined) copy.withhold = withhold;
  if (r.restoreAfterMs !== undefined) copy.restoreAfterMs = r.restoreAfterMs as number;
  if (r.ackAfterMs !== undefined) copy.ackAfterMs = r.ackAfterMs as number;
  return Object.freeze(copy);
}

/**
 * The device's wire-level fault rules (`device.faults`): add, clear, read what fired. Probabilities
 * come from a generator seeded with the device seed, so the same seed and the same traffic inject
 * the same faults.
 *
 * @example
 * ```ts
 * device.faults.add({ kind: 'used-idx-jump', times: 1 });
 * device.faults.counts['used-idx-jump']; // 1 once it fired
 * ```
 */
export class VirtioWireFaultInjector {
  readonly #list: FaultRuleList<VirtioWireFaultRule, VirtioWireFaultKind>;

  /** An injector whose probabilities come from `random` (values in [0, 1)). */
  public constructor(random: () => number) {
    this.#list = new FaultRuleList({
      kinds: VIRTIO_WIRE_FAULT_KINDS,
      idPrefix: 'wire-',
      duplicate: (id, field) =>
        new ScmiConfigError(`${field ?? 'rule'}.id`, `rule id ${id} is already in use`),
      random,
    });
  }

  /**
   * Adds a rule after the existing ones and returns its id (`wire-<n>` when it has none, skipping
   * the ids already taken).
   *
   * The injector keeps a copy of `rule`: changing the object afterwards changes nothing.
   *
   * @throws ScmiConfigError naming the invalid field — `rule` when it is not an object; `rule.id`
   *   when it is not a non-empty string or another rule has it; `rule.kind`, `rule.nth`,
   *   `rule.times`, `rule.probability`, `rule.restoreAfterMs`, `rule.ackAfterMs`, `rule.withhold`
   *   of a wrong type or out of range; `withhold`, `restoreAfterMs` or `ackAfterMs` on a kind they
   *   do not apply to. Nothing is added then.
   */
  public add(rule: VirtioWireFaultRule): string {
    const copy = checkedCopy(rule, 'rule');
    return this.#list.add(copy, copy.id, 'rule');
  }

  /**
   * Replaces every rule with `rules`, in order (ids as {@link VirtioWireFaultInjector.add} gives
   * them). The whole list is checked first: when one rule is refused nothing is replaced.
   *
   * @throws ScmiConfigError as {@link VirtioWireFaultInjector.add}, naming `rules[i].<field>` (or
   *   `rules` when it is not an array); two rules of the list with one id are refused too.
   */
  public set(rules: readonly VirtioWireFaultRule[]): void {
    if (!Array.isArray(rules)) {
      throw new ScmiConfigError('rules', `must be an array of rules, got ${formatValue(rules)}`);
    }
    const list: readonly unknown[] = rules;
    // An index loop, not map: a hole of a sparse list is refused, not skipped.
    const entries: FaultRuleEntry<VirtioWireFaultRule>[] = [];
    for (let i = 0; i < list.length; i++) {
      const field = `rules[${i}]`;
      const copy = checkedCopy(list[i], field);
      entries.push({ rule: copy, id: copy.id, field });
    }
    this.#list.set(entries);
  }

  /** Removes every rule (counts stay). */
  public clear(): void {
    this.#list.clear();
  }

  /** The rules, in order. */
  public get rules(): readonly VirtioWireFaultRule[] {
    return this.#list.rules;
  }

  /** How many faults of each kind fired. */
  public get counts(): Readonly<Record<VirtioWireFaultKind, number>> {
    return this.#list.counts;
  }

  /** Whether any rule of `kind` is set (skips the candidate bookkeeping on the fast path). */
  public has(kind: VirtioWireFaultKind): boolean {
    // A plain loop: asked for every command, it should not allocate a closure each time.
    for (const r of this.#list.states) if (r.rule.kind === kind) return true;
    return false;
  }

  /** The first rule of `kind` that fires on this candidate (counting it), if any. @internal */
  public fire(kind: VirtioWireFaultKind): VirtioWireFaultRule | undefined {
    let chosen: VirtioWireFaultRule | undefined;
    for (const r of this.#list.states) {
      if (r.rule.kind !== kind) continue;
      // After the first rule that fired, the others still count the candidate as seen.
      if (chosen !== undefined) this.#list.see(r);
      else if (this.#list.fires(r, r.rule, kind)) chosen = r.rule;
    }
    return chosen;
  }
}
