import { ScmiConfigError } from '@scmi-ts/core';

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
  | 'event-oversize';

/** Every {@link VirtioWireFaultKind}, in a stable order. */
export const VIRTIO_WIRE_FAULT_KINDS: readonly VirtioWireFaultKind[] = [
  'used-id-out-of-range',
  'used-id-not-in-flight',
  'used-len-oversize',
  'used-idx-jump',
  'event-oversize',
];

/**
 * A wire-level fault rule: plain data (JSON-able, so it crosses to a worker). The candidates of
 * a rule are the used elements the device returns on the rule's queue (cmdq for every kind but
 * `event-oversize`, which applies to the eventq).
 *
 * @example
 * ```ts
 * device.faults.add({ kind: 'used-len-oversize', nth: 2 }); // the second response lies about its length
 * ```
 */
export interface VirtioWireFaultRule {
  /** A name for counts; default `wire-<n>`. */
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
}

interface ActiveRule {
  readonly rule: VirtioWireFaultRule;
  readonly id: string;
  seen: number;
  fired: number;
}

function check(rule: VirtioWireFaultRule, field: string): void {
  if (!VIRTIO_WIRE_FAULT_KINDS.includes(rule.kind)) {
    throw new ScmiConfigError(
      `${field}.kind`,
      `must be one of ${VIRTIO_WIRE_FAULT_KINDS.join(', ')}`,
    );
  }
  for (const key of ['nth', 'times'] as const) {
    const v = rule[key];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
      throw new ScmiConfigError(`${field}.${key}`, `must be a positive integer, got ${String(v)}`);
    }
  }
  const only = [
    ['withhold', 'used-id-out-of-range'],
    ['restoreAfterMs', 'used-idx-jump'],
  ] as const;
  for (const [key, kind] of only) {
    if (rule[key] !== undefined && rule.kind !== kind) {
      throw new ScmiConfigError(`${field}.${key}`, `applies to ${kind} only`);
    }
  }
  const ms = rule.restoreAfterMs;
  if (ms !== undefined && !(typeof ms === 'number' && Number.isFinite(ms) && ms >= 0)) {
    throw new ScmiConfigError(
      `${field}.restoreAfterMs`,
      `must be a finite number ≥ 0, got ${String(ms)}`,
    );
  }
  const p = rule.probability;
  if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 1)) {
    throw new ScmiConfigError(`${field}.probability`, `must be in 0 … 1, got ${String(p)}`);
  }
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
  #rules: ActiveRule[] = [];
  #next = 1;
  readonly #random: () => number;
  readonly #counts = Object.fromEntries(VIRTIO_WIRE_FAULT_KINDS.map((k) => [k, 0])) as Record<
    VirtioWireFaultKind,
    number
  >;

  /** An injector whose probabilities come from `random` (values in [0, 1)). */
  public constructor(random: () => number) {
    this.#random = random;
  }

  /**
   * Adds a rule and returns its id.
   *
   * @throws ScmiConfigError naming the invalid field (`kind`, `nth`, `times`, `probability`,
   *   `restoreAfterMs`; `withhold` or `restoreAfterMs` on a kind they do not apply to).
   */
  public add(rule: VirtioWireFaultRule): string {
    check(rule, 'rule');
    const id = rule.id ?? `wire-${this.#next++}`;
    this.#rules.push({ rule, id, seen: 0, fired: 0 });
    return id;
  }

  /** Replaces every rule with `rules`. @throws ScmiConfigError as {@link VirtioWireFaultInjector.add}. */
  public set(rules: readonly VirtioWireFaultRule[]): void {
    rules.forEach((r, i) => {
      check(r, `rules[${i}]`);
    });
    this.#rules = [];
    for (const r of rules) this.add(r);
  }

  /** Removes every rule (counts stay). */
  public clear(): void {
    this.#rules = [];
  }

  /** The rules, in order. */
  public get rules(): readonly VirtioWireFaultRule[] {
    return this.#rules.map((r) => ({ ...r.rule, id: r.id }));
  }

  /** How many faults of each kind fired. */
  public get counts(): Readonly<Record<VirtioWireFaultKind, number>> {
    return { ...this.#counts };
  }

  /** Whether any rule of `kind` is set (skips the candidate bookkeeping on the fast path). */
  public has(kind: VirtioWireFaultKind): boolean {
    // A plain loop: asked for every command, it should not allocate a closure each time.
    for (const r of this.#rules) if (r.rule.kind === kind) return true;
    return false;
  }

  /** The first rule of `kind` that fires on this candidate (counting it), if any. @internal */
  public fire(kind: VirtioWireFaultKind): VirtioWireFaultRule | undefined {
    let chosen: VirtioWireFaultRule | undefined;
    for (const r of this.#rules) {
      if (r.rule.kind !== kind) continue;
      r.seen++;
      if (chosen !== undefined) continue;
      const { nth, times, probability } = r.rule;
      if (nth !== undefined && r.seen !== nth) continue;
      if (times !== undefined && r.fired >= times) continue;
      if (probability !== undefined && this.#random() >= probability) continue;
      r.fired++;
      this.#counts[kind]++;
      chosen = r.rule;
    }
    return chosen;
  }
}
