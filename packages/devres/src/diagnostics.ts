import type { TeardownReason } from './teardown-reason.js';

/**
 * One entry of a devres event log.
 *
 * `type` is what happened; `device` names the devres; `resource` names the resource or group;
 * `group` is the path of enclosing groups (`a/b`), empty at top level; `stack` is the creation
 * stack trace of the resource, present only in debug mode; `reason` is the teardown reason for
 * quiesce/release events; `error` is what a failed step threw.
 *
 * `defer` marks an early release (of a resource or a group) asked for while a teardown around it
 * quiesces: it is quiesced now and released later, in order, by that teardown's release phase.
 *
 * A step has two events: `quiesce` / `release` when it begins and `quiesce-end` / `release-end`
 * when it has finished — returned, or settled when it returned a promise — whether it succeeded
 * or not (a failure is logged as `quiesce-failed` / `release-failed` just before its end). A
 * resource without a quiesce step logs neither quiesce event; a resource refused at registration
 * logs `refuse`, and of its steps only a failure (`quiesce-failed` / `release-failed`). The end
 * events make the ordering checkable from the log alone: no release step a teardown runs in turn
 * begins before every quiesce step of its teardown has ended, nor while a newer one's is still
 * running (an early release the teardown joins may).
 */
export interface DevresEvent {
  /** A sequence number, increasing across all devres instances in this realm. */
  readonly seq: number;
  /** What happened. */
  readonly type:
    | 'add'
    | 'forget'
    | 'refuse'
    | 'quiesce'
    | 'quiesce-failed'
    | 'quiesce-end'
    | 'release'
    | 'release-failed'
    | 'release-end'
    | 'defer'
    | 'teardown-begin'
    | 'teardown-end'
    | 'group-open'
    | 'group-close'
    | 'group-remove';
  /** The devres (device) name. */
  readonly device: string;
  /** The resource or group name. */
  readonly resource: string;
  /** Path of enclosing groups, `''` at top level. */
  readonly group: string;
  /** The teardown reason, for quiesce/release/teardown events. */
  readonly reason?: TeardownReason['kind'];
  /** Creation stack (debug mode only). */
  readonly stack?: string;
  /** What a failed step threw. */
  readonly error?: unknown;
}

/** Receives devres events as they happen. Must not throw; exceptions are swallowed. */
export type DevresEventSink = (event: DevresEvent) => void;

let nextSeq = 1;

/** @internal Allocates the next global event sequence number. */
export function nextEventSeq(): number {
  return nextSeq++;
}

/**
 * A bounded in-memory event log, usable as a {@link DevresEventSink}.
 *
 * Keeps the last `capacity` events (default 10,000); older ones are dropped and counted in
 * {@link DevresEventLog.dropped}.
 *
 * @example
 * ```ts
 * const log = new DevresEventLog();
 * const res = new Devres('mbox0', { log: log.sink });
 * res.addAction('a', () => {});
 * await res.releaseAll();
 * console.log(log.format());
 * ```
 */
export class DevresEventLog {
  readonly #capacity: number;
  #events: DevresEvent[] = [];
  #dropped = 0;

  /** Creates a log holding at most `capacity` events. */
  public constructor(capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`DevresEventLog capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** The sink to pass as the `log` option; bound to this log. */
  public readonly sink: DevresEventSink = (event) => {
    this.#events.push(event);
    if (this.#events.length > this.#capacity) {
      this.#events.shift();
      this.#dropped++;
    }
  };

  /** The recorded events, oldest first. */
  public get events(): readonly DevresEvent[] {
    return this.#events;
  }

  /** How many events were dropped because the log was full. */
  public get dropped(): number {
    return this.#dropped;
  }

  /** Events of the given types, oldest first. */
  public filter(...types: DevresEvent['type'][]): DevresEvent[] {
    return this.#events.filter((e) => types.includes(e.type));
  }

  /** Forgets every recorded event. */
  public clear(): void {
    this.#events = [];
    this.#dropped = 0;
  }

  /** One line per event, e.g. `release mbox0 chan[tx] (probe-failed)`. */
  public format(): string {
    return this.#events.map(formatDevresEvent).join('\n');
  }
}

/**
 * Formats one event as a single human-readable line.
 *
 * The type is padded to 14 columns, the resource follows its group path (`group/resource`) and
 * the reason comes in parentheses; `seq`, `stack` and `error` are left out. Never throws.
 *
 * @example
 * ```ts
 * const res = new Devres('scmi0', { log: (e) => console.log(formatDevresEvent(e)) });
 * res.addAction('free a2p channel', () => {}); // 'add            scmi0 free a2p channel'
 * await res.releaseAll(); // …, 'release        scmi0 free a2p channel (dispose)', …
 * ```
 */
export function formatDevresEvent(event: DevresEvent): string {
  const where = event.group === '' ? event.resource : `${event.group}/${event.resource}`;
  const why = event.reason === undefined ? '' : ` (${event.reason})`;
  return `${event.type.padEnd(14)} ${event.device} ${where}${why}`;
}

/** A tracked resource as a leak tracker sees it. */
export interface TrackedResource {
  /** The devres (device) that owns it. */
  readonly device: string;
  /** The resource name. */
  readonly name: string;
}

/**
 * Hooks that observe every resource's life, for leak tracking (VS Code's `IDisposableTracker`).
 * Implementations must be cheap and must not throw.
 */
export interface ResourceTracker {
  /** A resource was registered; `stack` is its creation stack when the tracker asked for stacks. */
  trackResource(resource: TrackedResource, stack: string | undefined): void;
  /**
   * A resource was released (its release step finished, also when it failed) or forgotten: it is
   * no longer the devres's to release. A resource whose release has begun but not finished — still
   * quiescing, waiting for a teardown's release phase, or in its release step — is still tracked.
   */
  untrackResource(resource: TrackedResource): void;
  /** Whether creation stacks should be captured (costly). */
  readonly wantsStacks: boolean;
}

let currentTracker: ResourceTracker | undefined;

/**
 * Installs the global resource tracker (or removes it with `undefined`) and returns the previous
 * one, so callers can restore it.
 *
 * @example
 * ```ts
 * const tracker = new LeakTracker();
 * const previous = setResourceTracker(tracker);
 * try { await run(); } finally { setResourceTracker(previous); }
 * expect(tracker.leaks()).toEqual([]);
 * ```
 */
export function setResourceTracker(
  tracker: ResourceTracker | undefined,
): ResourceTracker | undefined {
  const previous = currentTracker;
  currentTracker = tracker;
  return previous;
}

/** @internal The tracker in force, if any. */
export function getResourceTracker(): ResourceTracker | undefined {
  return currentTracker;
}

/** One resource left live, with where it was created. */
export interface LeakReport {
  /** The devres (device) that still holds it. */
  readonly device: string;
  /** The resource name. */
  readonly name: string;
  /** Its creation stack trace. */
  readonly stack: string | undefined;
}

/**
 * A {@link ResourceTracker} that remembers every live resource with its creation stack and reports
 * the ones not released or forgotten. A resource counts as released once its release step has
 * finished: one whose early release (or teardown) hangs, or is still quiescing, is a leak.
 *
 * @example
 * ```ts
 * const tracker = new LeakTracker();
 * setResourceTracker(tracker);
 * new Devres('d').addAction('leaked', () => {});
 * tracker.leaks(); // [{ device: 'd', name: 'leaked', stack: '...' }]
 * ```
 */
export class LeakTracker implements ResourceTracker {
  readonly #live = new Map<TrackedResource, string | undefined>();
  /** Whether to capture creation stacks (default true). */
  public readonly wantsStacks: boolean;

  /** Creates a tracker; `captureStacks` defaults to true. */
  public constructor(captureStacks = true) {
    this.wantsStacks = captureStacks;
  }

  /** @inheritDoc */
  public trackResource(resource: TrackedResource, stack: string | undefined): void {
    this.#live.set(resource, stack);
  }

  /** @inheritDoc */
  public untrackResource(resource: TrackedResource): void {
    this.#live.delete(resource);
  }

  /**
   * Every resource registered since the tracker was installed and neither released (its release
   * step finished) nor forgotten.
   */
  public leaks(): LeakReport[] {
    return [...this.#live].map(([r, stack]) => ({ device: r.device, name: r.name, stack }));
  }

  /** A readable multi-line report of the leaks, or `''` when there are none. */
  public report(): string {
    const leaks = this.leaks();
    if (leaks.length === 0) return '';
    const lines = leaks.map((l) => `- ${l.device}: ${l.name}\n${l.stack ?? '  (no stack)'}`);
    return `${leaks.length} device-managed resource(s) leaked:\n${lines.join('\n')}`;
  }
}

/** What {@link ensureNoLeaksInSuite} returns. */
export interface LeakGuard {
  /** The tracker of the test that is running, `undefined` between tests. */
  readonly tracker: LeakTracker | undefined;
}

interface JestLikeHooks {
  beforeEach(fn: () => void): void;
  afterEach(fn: () => void): void;
}

/**
 * Fails each test of the calling suite that leaves device-managed resources live (like VS Code's
 * `ensureNoDisposablesAreLeakedInTestSuite`). Call it in a `describe` block; it uses the test
 * framework's global `beforeEach` / `afterEach` (jest, mocha, vitest), and its `afterEach` is the
 * leak check.
 *
 * Jest (30) runs the `afterEach` hooks of one block in the order they are declared (those of
 * nested blocks first): a cleanup `afterEach` that removes the test's device must be declared
 * **before** this call, so that it runs before the leak check — declared after it, it runs after
 * the check, which reports as leaked what it was about to release. Or release the resources in the
 * test itself. (Other frameworks may order hooks differently: check yours.)
 *
 * The returned object exposes the tracker of the running test.
 *
 * @throws Error when called outside a test framework that defines `beforeEach`/`afterEach`.
 * @example
 * ```ts
 * describe('MailboxTransport', () => {
 *   let agent: ScmiAgent | undefined;
 *   afterEach(async () => { await agent?.remove(); agent = undefined; }); // first: runs first
 *   ensureNoLeaksInSuite(); // then the leak check
 *   it('frees its channels', async () => { ... });
 * });
 * ```
 */
export function ensureNoLeaksInSuite(
  options: { readonly captureStacks?: boolean } = {},
): LeakGuard {
  const hooks = globalThis as unknown as Partial<JestLikeHooks>;
  if (typeof hooks.beforeEach !== 'function' || typeof hooks.afterEach !== 'function') {
    throw new Error(
      'ensureNoLeaksInSuite() must be called inside a test suite (beforeEach/afterEach)',
    );
  }
  const state: { tracker: LeakTracker | undefined; previous: ResourceTracker | undefined } = {
    tracker: undefined,
    previous: undefined,
  };
  hooks.beforeEach(() => {
    state.tracker = new LeakTracker(options.captureStacks ?? true);
    state.previous = setResourceTracker(state.tracker);
  });
  hooks.afterEach(() => {
    const tracker = state.tracker;
    setResourceTracker(state.previous);
    state.tracker = undefined;
    const report = tracker?.report() ?? '';
    if (report !== '') throw new Error(report);
  });
  return {
    get tracker() {
      return state.tracker;
    },
  };
}

/**
 * Checks a devres event log's steps against their ends (`quiesce-end` / `release-end`), device by
 * device: no end without its beginning; every step that began has ended, by the end of the log
 * and by its teardown's end; and within a teardown no release step the teardown runs in turn begins
 * while a quiesce step or another release step of the device is still running — the release phase
 * waits for every quiesce step, and releases run one at a time, newest first. An early release
 * (reason `early-release`: a release step awaiting `release(older)`, or one begun before the
 * teardown) is joined by the teardown, not run in turn: it may overlap. Returns the problems found,
 * each prefixed with its device when the log has several (empty when none).
 *
 * @example
 * ```ts
 * const log = new DevresEventLog();
 * const res = new Devres('scmi0', { log: log.sink });
 * // … register, use, await res.releaseAll() …
 * expect(checkDevresSteps(log.events)).toEqual([]);
 * ```
 */
export function checkDevresSteps(events: readonly DevresEvent[]): string[] {
  const devices = new Set(events.map((e) => e.device));
  return [...devices].flatMap((device) =>
    checkStepEnds(
      events.filter((e) => e.device === device),
      devices.size > 1,
    ),
  );
}

/** One device's steps against their ends (see {@link checkDevresSteps}). */
function checkStepEnds(events: readonly DevresEvent[], named: boolean): string[] {
  const problems: string[] = [];
  const at = named && events[0] !== undefined ? `${events[0].device}: ` : '';
  const label = (e: DevresEvent): string => `${e.group}/${e.resource}`;
  const running = { quiesce: new Map<string, number>(), release: new Map<string, number>() };
  const busy = (m: Map<string, number>): string[] =>
    [...m].filter(([, n]) => n > 0).map(([k]) => k);
  let inTeardown = false;
  for (const e of events) {
    if (e.type === 'teardown-begin') inTeardown = true;
    if (e.type === 'teardown-end') {
      inTeardown = false;
      for (const phase of ['quiesce', 'release'] as const) {
        for (const k of busy(running[phase]))
          problems.push(`${at}the teardown ended while the ${phase} step of ${k} was running`);
      }
    }
    if (e.type === 'quiesce' || e.type === 'release') {
      // An early release (its reason `early-release`) is joined by the teardown, not run in turn:
      // a release step may await one of an older resource (devres's documented way to own its
      // error), or one may have begun before the teardown did. Its end is still checked.
      if (inTeardown && e.type === 'release' && e.reason !== 'early-release') {
        for (const phase of ['quiesce', 'release'] as const) {
          for (const k of busy(running[phase]))
            problems.push(
              `${at}the release of ${label(e)} began while the ${phase} step of ${k} was running`,
            );
        }
      }
      const m = running[e.type];
      m.set(label(e), (m.get(label(e)) ?? 0) + 1);
    }
    if (e.type === 'quiesce-end' || e.type === 'release-end') {
      const phase = e.type === 'quiesce-end' ? 'quiesce' : 'release';
      const n = running[phase].get(label(e)) ?? 0;
      if (n === 0) problems.push(`${at}the ${phase} step of ${label(e)} ended without beginning`);
      else running[phase].set(label(e), n - 1);
    }
  }
  for (const phase of ['quiesce', 'release'] as const) {
    for (const k of busy(running[phase]))
      problems.push(`${at}the ${phase} step of ${k} never ended`);
  }
  return problems;
}
