import { AsyncLocalStorage } from 'node:async_hooks';
import {
  nextEventSeq,
  getResourceTracker,
  type DevresEvent,
  type DevresEventSink,
  type ResourceTracker,
  type TrackedResource,
} from './diagnostics.js';
import {
  DevresClosedError,
  DevresError,
  DevresReleaseError,
  RevokedError,
  type ReleaseFailure,
} from './errors.js';
import { Revocable, isPromiseLike } from './revocable.js';
import {
  DISPOSE_REASON,
  EARLY_RELEASE_REASON,
  REFUSED_REASON,
  type TeardownReason,
} from './teardown-reason.js';

/**
 * A typed key for a per-device singleton resource (Linux `devres_find` matches by release function
 * and data; here a key object does it, and carries the value's type).
 *
 * @example
 * ```ts
 * const POOL = new DevresKey<Map<number, Buffer>>('buffer pool');
 * const pool = res.getOrAdd(POOL, () => ({
 *   name: 'buffer pool', value: new Map(), release: (m) => m.clear(),
 * }));
 * res.find(POOL); // Map<number, Buffer> | undefined
 * ```
 */
export class DevresKey<T> {
  /** Phantom field that carries the value type; never set. */
  declare public readonly valueType: T;

  /** Names the key in errors. */
  public readonly description: string;

  /** Creates a key; `description` names it in errors. */
  public constructor(description: string) {
    this.description = description;
  }
}

/** A teardown step: receives the resource's value and why it is being torn down. */
export type TeardownStep<T> = (value: T, reason: TeardownReason) => void | PromiseLike<void>;

/**
 * A resource to register: its name, its value, its release step and an optional quiesce step.
 *
 * `quiesce` runs in phase 1 of teardown (newest first, before any release) and must stop new
 * callbacks and wait for running ones; `release` runs in phase 2 (newest first). `key` makes the
 * resource findable with {@link ResourceScope.find} (a per-device singleton).
 */
export interface ResourceSpec<T> {
  /** A name for logs, errors and leak reports, e.g. `chan[a2p:0]`. */
  readonly name: string;
  /** The resource; handed to the steps and readable from the handle while live. */
  readonly value: T;
  /** Releases the resource. Runs exactly once. */
  readonly release: TeardownStep<T>;
  /**
   * Stops callbacks into the resource and waits for running ones (phase 1). It may start the
   * release of a group that holds this resource, but must not await it: that release waits for
   * this step to return, so awaiting it never settles.
   *
   * If it throws or rejects, the failure is reported (event `quiesce-failed`, one of the
   * teardown's failures) and the teardown goes on: the resource is still released in phase 2, as
   * every teardown completes. devres cannot tell whether callbacks stopped before the step
   * failed, so stop them first, before anything that can fail — close the gate synchronously,
   * then wait (core's channel guard does exactly that).
   */
  readonly quiesce?: TeardownStep<T>;
  /** Lookup key for {@link ResourceScope.find}; unique per device. */
  readonly key?: DevresKey<T>;
}

/** Options for {@link ResourceScope.addAction} and {@link ResourceScope.acquire}. */
export interface StepOptions<T> {
  /** A quiesce step to run in phase 1 of teardown. */
  readonly quiesce?: TeardownStep<T>;
  /** Lookup key for {@link ResourceScope.find}. */
  readonly key?: DevresKey<T>;
}

/**
 * Where a resource is in its life: `live` (registered; also between its quiesce and its release
 * during a teardown), `quiescing` (its quiesce step runs), `releasing` (its release step runs or,
 * released early during a teardown's quiesce phase, waits for that teardown's release phase; see
 * {@link ResourceScope.release}), `released` (its value is revoked), `forgotten` (handed back to
 * the caller by {@link ResourceScope.forget}).
 */
export type ResourceState = 'live' | 'quiescing' | 'releasing' | 'released' | 'forgotten';

/**
 * The handle of a registered resource: pass it to {@link ResourceScope.release} or
 * {@link ResourceScope.forget}; read the value while the resource is live.
 *
 * @example
 * ```ts
 * const h = res.add({ name: 'irq', value: irq, release: (v) => v.free() });
 * h.value.enable();
 * await res.release(h); // early release; h.value now throws RevokedError
 * ```
 */
export interface ResourceHandle<T> {
  /** The name given at registration. */
  readonly name: string;
  /**
   * The resource value.
   *
   * @throws RevokedError once the resource has been released (a forgotten resource's value stays
   * readable: its ownership went back to the caller).
   */
  readonly value: T;
  /** Where the resource is in its life. */
  readonly state: ResourceState;
}

/** A live resource as {@link Devres.live} reports it. */
export interface LiveResource {
  /** The resource name. */
  readonly name: string;
  /** Path of enclosing groups, `''` at top level. */
  readonly group: string;
  /** Creation stack (debug mode only). */
  readonly stack: string | undefined;
}

/** Options of a {@link Devres}. */
export interface DevresOptions {
  /** Receives every event (add, forget, quiesce, release, teardown, groups). */
  readonly log?: DevresEventSink;
  /** Capture a creation stack trace for every resource (slow; for debugging leaks). */
  readonly debug?: boolean;
}

/** Where a devres is in its life. */
export type DevresState = 'open' | 'quiescing' | 'releasing' | 'closed';

/** Where a group is in its life. */
export type DevresGroupState = 'open' | 'closed' | 'releasing' | 'released' | 'removed';

/** @internal Test-only switches (not exported from the package). */
export const testing = {
  /** Mutation check: skip phase 1 (quiesce). Tests prove they catch this. */
  skipQuiescePhase: false,
};

// ---------------------------------------------------------------------------------------------
// Internal model: each scope (the devres root, or a group) is a doubly linked list of nodes; a node
// is an entry (a resource) or a nested group. Only live entries and unreleased groups are linked,
// so early release is O(1) and teardown is O(N).

type Node = Entry<unknown> | GroupNode;

/**
 * The async context of a running `group()` transaction: the groups it opens (its own first) are
 * the targets of implicit registrations made from that context, and of no other. Frames nest like
 * the transactions that opened them; code outside every transaction has no frame.
 */
interface Frame {
  readonly parent: Frame | undefined;
  /**
   * The transaction's own group. Once it (or a scope around it) is being released or was
   * released, implicit registrations from the frame are refused by it, as registrations through
   * the group object are: they never skip it to land around it.
   */
  group?: GroupNode;
}

const frames = new AsyncLocalStorage<Frame>();

/** `group()` functions running now, in every devres of this realm. */
let transactions = 0;

/**
 * Runs a transaction's function in its frame. On Node 20 an enabled `AsyncLocalStorage` costs
 * every promise of the process a hook call (more than twice the cost of a bare `await`): it is
 * enabled only while some transaction runs, and disabled again when the last one has ended.
 */
async function runInFrame<A, R>(
  frame: Frame,
  fn: (arg: A) => R | PromiseLike<R>,
  arg: A,
): Promise<R> {
  transactions++;
  try {
    return await frames.run(frame, fn, arg);
  } finally {
    if (--transactions === 0) frames.disable();
  }
}

abstract class ListScope {
  head: Node | undefined = undefined;
  tail: Node | undefined = undefined;
  /**
   * Releases running beside this scope's own teardown, in this scope or below it: early releases,
   * releases of nested groups, immediate releases of refused resources. The scope's teardown waits
   * for them (created on first use).
   */
  pending: Set<Promise<unknown>> | undefined = undefined;
  /** While this scope's own teardown runs: its failures, where refused resources report theirs. */
  failures: ReleaseFailure[] | undefined = undefined;
  /**
   * From the start of this scope's own teardown until its release phase begins (or, for a group,
   * until its teardown leaves its resources to a teardown around it): releases of what lies below
   * it are deferred to that release phase (see {@link quiescePhaseAround}).
   */
  quiescePhase = false;

  append(node: Node): void {
    node.owner = this;
    node.prev = this.tail;
    node.next = undefined;
    if (this.tail === undefined) this.head = node;
    else this.tail.next = node;
    this.tail = node;
  }

  unlink(node: Node): void {
    if (node.prev === undefined) this.head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = undefined;
    node.next = undefined;
  }

  abstract get core(): Core;
  abstract get path(): string;
  abstract acceptsRegistration(): boolean;
}

class Entry<T> implements ResourceHandle<T>, TrackedResource {
  prev: Node | undefined = undefined;
  next: Node | undefined = undefined;
  owner!: ListScope;
  state: ResourceState = 'live';
  quiesced = false;
  /** Its quiesce step while it runs (a release must not start before it ended). */
  quiescing: Promise<void> | undefined = undefined;
  stack: string | undefined = undefined;
  /**
   * The tracker in force when the entry was registered; told when it goes: forgotten, or its
   * release step finished (not when its release starts).
   */
  tracker: ResourceTracker | undefined = undefined;
  #value: T | undefined;

  constructor(
    readonly core: Core,
    readonly name: string,
    value: T,
    readonly releaseStep: TeardownStep<T> | undefined,
    readonly quiesceStep: TeardownStep<T> | undefined,
    readonly key: DevresKey<T> | undefined,
  ) {
    this.#value = value;
  }

  get device(): string {
    return this.core.name;
  }

  get value(): T {
    if (this.state === 'released') throw new RevokedError(this.name);
    return this.#value as T;
  }

  rawValue(): T {
    return this.#value as T;
  }

  dropValue(): void {
    this.#value = undefined;
  }
}

class GroupNode extends ListScope {
  prev: Node | undefined = undefined;
  next: Node | undefined = undefined;
  owner!: ListScope;
  state: DevresGroupState = 'open';
  /** Its own release (`releaseAll()`), while and after it runs. */
  releasing: Promise<void> | undefined = undefined;
  /**
   * Its own release quiesced it while the device's teardown was quiescing, and left its
   * resources for the device's release phase to release in order (see `teardownScope`).
   */
  deferred = false;
  /** The frame whose implicit registrations it receives while open. */
  frame: Frame | undefined = undefined;
  #released: { promise: Promise<void>; resolve: () => void } | undefined = undefined;

  /** Resolves once the group is released, whoever releases it. */
  whenReleased(): Promise<void> {
    if (this.state === 'released') return Promise.resolve();
    if (this.#released === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#released = { promise, resolve };
    }
    return this.#released.promise;
  }

  markReleased(): void {
    this.owner.unlink(this);
    this.state = 'released';
    this.#released?.resolve();
  }

  constructor(
    readonly parentCore: Core,
    readonly name: string,
  ) {
    super();
  }

  get core(): Core {
    return this.parentCore;
  }

  get path(): string {
    const p = this.owner.path;
    return p === '' ? this.name : `${p}/${this.name}`;
  }

  acceptsRegistration(): boolean {
    return (this.state === 'open' || this.state === 'closed') && this.owner.acceptsRegistration();
  }
}

class Core extends ListScope {
  state: DevresState = 'open';
  readonly openGroups: GroupNode[] = [];
  keys: Map<DevresKey<unknown>, Entry<unknown>> | undefined = undefined;
  teardown: Promise<void> | undefined = undefined;

  constructor(
    readonly name: string,
    readonly sink: DevresEventSink | undefined,
    readonly debug: boolean,
  ) {
    super();
  }

  get core(): this {
    return this;
  }

  get path(): string {
    return '';
  }

  acceptsRegistration(): boolean {
    return this.state === 'open';
  }

  /**
   * The scope that implicit registrations go to: the innermost open group of the calling context
   * (the `group()` transaction it runs in, then the transactions around it, then code outside every
   * transaction), or the root. A transaction of this devres whose group no longer accepts
   * registrations because it, or a scope around it, is being released or was released is the
   * target itself (so the registration is refused, as through the group object); one whose group
   * was only closed (committed) or removed passes on to the transaction around it.
   */
  currentTarget(): ListScope {
    const open = this.openGroups;
    let frame = frames.getStore();
    if (open.length === 0 && frame === undefined) return this;
    for (; ; frame = frame.parent) {
      for (let i = open.length - 1; i >= 0; i--) {
        const group = open[i] as GroupNode;
        if (group.frame === frame) return group;
      }
      if (frame === undefined) return this;
      const own = frame.group;
      if (own !== undefined && own.core === this && refusesImplicit(own)) return own;
    }
  }

  emit(
    type: DevresEvent['type'],
    resource: string,
    where: ListScope | string,
    extra?: { reason?: TeardownReason; stack?: string | undefined; error?: unknown },
  ): void {
    const sink = this.sink;
    if (sink === undefined) return;
    const group = typeof where === 'string' ? where : where.path;
    const event: {
      -readonly [K in keyof DevresEvent]: DevresEvent[K];
    } = { seq: nextEventSeq(), type, device: this.name, resource, group };
    if (extra?.reason !== undefined) event.reason = extra.reason.kind;
    if (extra?.stack !== undefined) event.stack = extra.stack;
    if (extra !== undefined && 'error' in extra) event.error = extra.error;
    try {
      sink(event);
    } catch {
      // A diagnostics sink must never break teardown.
    }
  }

  /**
   * Tracks a release running outside a teardown, in `scope`, so that the teardowns of `scope` and
   * of every scope around it wait for it.
   */
  track<P extends Promise<unknown>>(p: P, scope: ListScope): P {
    if (scope === this) {
      const pending = (this.pending ??= new Set());
      pending.add(p);
      const done = (): void => {
        pending.delete(p);
      };
      p.then(done, done);
      return p;
    }
    const sets: Set<Promise<unknown>>[] = [];
    for (let s: ListScope | undefined = scope; s !== undefined; s = ownerOf(s)) {
      const pending = (s.pending ??= new Set());
      pending.add(p);
      sets.push(pending);
    }
    const done = (): void => {
      for (const pending of sets) pending.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /**
   * What to wait for before `scope`'s teardown goes on: every release tracked in it now settled, or
   * `undefined` when none runs. A caller loops — `for (let p = pendingIn(s); p; p = pendingIn(s))
   * await p` — so that the check that finds nothing and its next step run in one microtask: an
   * async helper returning after its own last check would leave its caller a few microtasks later,
   * in which a release tracked meanwhile (a refused registration's) would go unjoined.
   */
  pendingIn(scope: ListScope): Promise<unknown> | undefined {
    const pending = scope.pending;
    return pending === undefined || pending.size === 0 ? undefined : Promise.allSettled(pending);
  }

  register<T>(
    scope: ListScope,
    name: string,
    value: T,
    release: TeardownStep<T> | undefined,
    quiesce: TeardownStep<T> | undefined,
    key: DevresKey<T> | undefined,
  ): Entry<T> {
    const entry = new Entry<T>(this, name, value, release, quiesce, key);
    const tracker = getResourceTracker();
    if (this.debug || tracker?.wantsStacks === true) entry.stack = new Error('created here').stack;
    if (key !== undefined && this.keys?.has(key) === true) throw this.duplicateKey(key);
    // Everything that can throw comes first: a failed registration links nothing.
    if (tracker !== undefined) {
      tracker.trackResource(entry, entry.stack);
      entry.tracker = tracker;
    }
    if (key !== undefined) {
      this.keys ??= new Map();
      this.keys.set(key, entry as Entry<unknown>);
    }
    scope.append(entry as Entry<unknown>);
    if (this.sink !== undefined) this.emit('add', name, scope, { stack: entry.stack });
    return entry;
  }

  duplicateKey(key: DevresKey<unknown>): DevresError {
    return new DevresError(
      'E_DUPLICATE_KEY',
      `${this.name}: a resource with key ${key.description} is already registered`,
    );
  }

  /** Refuses a registration into `scope` whose offered resource needs no release. */
  refuse(scope: ListScope, name: string): DevresClosedError {
    this.emit('refuse', name, scope);
    return this.closedError(scope, name, Promise.resolve());
  }

  /**
   * Refuses a registration into `scope` and quiesces and releases the offered resource at once
   * (reason `refused`). If a step fails, the failure is logged (`quiesce-failed`,
   * `release-failed`) and reported to the teardown that refused it — the nearest scope around
   * `scope` whose own teardown runs — besides `releaseError` of the returned error.
   */
  refuseAndRelease<T>(
    scope: ListScope,
    name: string,
    release: TeardownStep<T> | undefined,
    value: T,
    quiesce?: TeardownStep<T>,
  ): DevresClosedError {
    this.emit('refuse', name, scope);
    let failures: ReleaseFailure[] | undefined;
    for (let s: ListScope | undefined = scope; s !== undefined; s = ownerOf(s)) {
      if (s.failures !== undefined) {
        failures = s.failures;
        break;
      }
    }
    return this.closedError(
      scope,
      name,
      this.releaseUnregistered(scope, name, release, value, failures, quiesce),
    );
  }

  closedError(scope: ListScope, name: string, released: Promise<unknown>): DevresClosedError {
    if (scope === this) {
      return new DevresClosedError(
        `device ${this.name} is tearing down or torn down: ${name} refused`,
        released,
      );
    }
    const group = `group ${scope.path} of ${this.name}`;
    // Only registration through the group object reaches a removed group (implicit registrations
    // go around it): it was dissolved into its parent, not torn down.
    const why =
      scope instanceof GroupNode && scope.state === 'removed'
        ? 'was removed (dissolved into its parent; register there)'
        : 'is tearing down or torn down';
    return new DevresClosedError(`${group} ${why}: ${name} refused`, released);
  }

  /**
   * Runs the quiesce step (when given), then the release step, of a resource that was offered to
   * `scope` but not registered, at once, with reason `refused`; tracked in `scope` so that
   * teardowns wait for it. The release runs even when the quiesce step failed, as in a teardown.
   * A failure is logged, added to `failures` when given, and rejects the returned promise (the
   * release's failure when both failed).
   */
  releaseUnregistered<T>(
    scope: ListScope,
    name: string,
    release: TeardownStep<T> | undefined,
    value: T,
    failures: ReleaseFailure[] | undefined,
    quiesce?: TeardownStep<T>,
  ): Promise<void> {
    return this.track(this.runUnregistered(scope, name, release, value, failures, quiesce), scope);
  }

  async runUnregistered<T>(
    scope: ListScope,
    name: string,
    release: TeardownStep<T> | undefined,
    value: T,
    failures: ReleaseFailure[] | undefined,
    quiesce: TeardownStep<T> | undefined,
  ): Promise<void> {
    let failed: { error: unknown } | undefined;
    if (quiesce !== undefined) {
      // Called before the first await: the steps start in the refused call itself.
      try {
        const q = quiesce(value, REFUSED_REASON);
        if (isPromiseLike(q)) await q;
      } catch (error) {
        failures?.push({ resource: name, phase: 'quiesce', error });
        this.emit('quiesce-failed', name, scope, { reason: REFUSED_REASON, error });
        failed = { error };
      }
    }
    try {
      const r = release?.(value, REFUSED_REASON);
      if (isPromiseLike(r)) await r;
    } catch (error) {
      failures?.push({ resource: name, phase: 'release', error });
      this.emit('release-failed', name, scope, { reason: REFUSED_REASON, error });
      throw error;
    }
    if (failed !== undefined) throw failed.error;
  }

  /**
   * Runs one teardown step and then finishes the phase for the entry. Returns a promise only when
   * the step is asynchronous: synchronous steps cost no allocation and no closure, so that tearing
   * down 100k resources stays linear.
   */
  runStep(
    entry: Entry<unknown>,
    phase: ReleaseFailure['phase'],
    step: TeardownStep<unknown>,
    reason: TeardownReason,
    failures: ReleaseFailure[],
    previous: ResourceState,
  ): Promise<void> | undefined {
    let r: void | PromiseLike<void>;
    let pending: boolean;
    try {
      r = step(entry.rawValue(), reason);
      // Inside the try: a returned value whose `then` getter throws is the step failing, not the
      // teardown (it would otherwise escape and stop every later step).
      pending = isPromiseLike(r);
    } catch (error) {
      this.fail(entry, phase, reason, error, failures);
      this.endStep(entry, phase, previous, reason);
      return undefined;
    }
    if (!pending) {
      this.endStep(entry, phase, previous, reason);
      return undefined;
    }
    return this.awaitStep(entry, phase, r as PromiseLike<void>, reason, failures, previous);
  }

  async awaitStep(
    entry: Entry<unknown>,
    phase: ReleaseFailure['phase'],
    pending: PromiseLike<void>,
    reason: TeardownReason,
    failures: ReleaseFailure[],
    previous: ResourceState,
  ): Promise<void> {
    try {
      await pending;
    } catch (error) {
      this.fail(entry, phase, reason, error, failures);
    } finally {
      this.endStep(entry, phase, previous, reason);
    }
  }

  /** Finishes an entry's step (see `finishStep`) and logs its end. */
  endStep(
    entry: Entry<unknown>,
    phase: ReleaseFailure['phase'],
    previous: ResourceState,
    reason: TeardownReason,
  ): void {
    finishStep(entry, phase, previous);
    if (this.sink !== undefined)
      this.emit(phase === 'quiesce' ? 'quiesce-end' : 'release-end', entry.name, entry.owner, {
        reason,
      });
  }

  fail(
    entry: Entry<unknown>,
    phase: ReleaseFailure['phase'],
    reason: TeardownReason,
    error: unknown,
    failures: ReleaseFailure[],
  ): void {
    failures.push({ resource: entry.name, phase, error });
    this.emit(phase === 'quiesce' ? 'quiesce-failed' : 'release-failed', entry.name, entry.owner, {
      reason,
      error,
    });
  }

  /** Runs an entry's quiesce step unless it has none or it already ran. */
  quiesceEntry(
    entry: Entry<unknown>,
    reason: TeardownReason,
    failures: ReleaseFailure[],
  ): Promise<void> | undefined {
    const step = entry.quiesceStep;
    if (step === undefined || entry.quiesced) return undefined;
    entry.quiesced = true;
    const previous = entry.state;
    entry.state = 'quiescing';
    if (this.sink !== undefined) this.emit('quiesce', entry.name, entry.owner, { reason });
    const pending = this.runStep(entry, 'quiesce', step, reason, failures, previous);
    if (pending !== undefined) {
      entry.quiescing = pending;
      void pending.then(() => {
        entry.quiescing = undefined;
      });
    }
    return pending;
  }

  /** Runs the release step of an entry already unlinked from its scope. */
  releaseDetached(
    entry: Entry<unknown>,
    reason: TeardownReason,
    failures: ReleaseFailure[],
  ): Promise<void> | undefined {
    entry.state = 'releasing';
    if (this.sink !== undefined) this.emit('release', entry.name, entry.owner, { reason });
    const step = entry.releaseStep;
    if (step === undefined) {
      this.endStep(entry, 'release', 'releasing', reason);
      return undefined;
    }
    return this.runStep(entry, 'release', step, reason, failures, 'releasing');
  }

  /**
   * Unlinks an entry from its scope (and its key). The leak tracker keeps it until its release step
   * has finished (see `finishStep`), unless it was forgotten: a release that hangs is a leak.
   */
  detach(entry: Entry<unknown>, state: ResourceState): void {
    entry.owner.unlink(entry);
    entry.state = state;
    if (entry.key !== undefined) this.keys?.delete(entry.key);
    if (state === 'forgotten') untrack(entry);
  }

  /**
   * Both phases over one scope (the root, or a group): quiesce newest first, then release newest
   * first. `beforeRelease` runs between the phases.
   *
   * The releases running beside it in the scope ({@link ListScope.pending}: early releases, the
   * own releases of nested groups, immediate releases of refused resources) finish before the
   * quiesce phase begins, before the release phase begins and after each release: an entry or a
   * group released early is then released before every older one, as if the teardown had reached
   * it in order, and no entry is released while its quiesce step runs elsewhere. A nested group
   * whose own release runs is joined, never entered: two loops never take entries from one group.
   * A scope's own release is tracked in the scopes around it, never in itself, so it never waits
   * for itself.
   */
  async teardownScope(
    scope: ListScope,
    reason: TeardownReason,
    failures: ReleaseFailure[],
    beforeRelease?: () => void,
  ): Promise<void> {
    scope.quiescePhase = true;
    // Only when there are some: otherwise the quiesce steps start in the releaseAll() call itself —
    // the newest resource is quiesced (no guard taken, no callback admitted) once it has returned,
    // and older ones too up to the first step that does not finish synchronously.
    for (let p = this.pendingIn(scope); p !== undefined; p = this.pendingIn(scope)) await p;
    if (!testing.skipQuiescePhase) {
      for (const entry of collectNewestFirst(scope)) {
        // Its quiesce step runs in another teardown (the device's, an enclosing group's): every
        // quiesce step of this scope returns before this scope releases anything.
        if (quiesceOnStack(entry)) await Promise.resolve();
        if (entry.quiescing !== undefined) {
          await entry.quiescing;
          continue;
        }
        if (entry.state !== 'live') continue;
        const pending = this.quiesceEntry(entry, reason, failures);
        if (pending !== undefined) await pending;
      }
    }
    // Only when there is one: an await per entry would cost the synchronous path its speed.
    for (let p = this.pendingIn(scope); p !== undefined; p = this.pendingIn(scope)) await p;
    scope.quiescePhase = false;
    if (scope instanceof GroupNode && quiescePhaseAround(scope.owner)) {
      // A group released while a teardown around it (the device's, an enclosing group's)
      // quiesces: an older resource outside the group (a channel) may still have a callback in
      // flight that uses what the group holds, so the group releases nothing now. Its resources
      // stay where they are, quiesced, for that teardown's release phase, which releases them in
      // order once every quiesce step has returned. The group's own release ends here: waiting
      // for that phase could wait for itself (a quiesce step waiting for a callback that awaits
      // this release).
      scope.deferred = true;
      this.emit('defer', scope.name, scope.owner, { reason });
      return;
    }
    beforeRelease?.();
    for (;;) {
      const entry = this.takeNewest(scope);
      if (entry === undefined) break;
      if (entry instanceof GroupNode) {
        // Its own release runs (pendingIn covers it; this is the belt to its braces): wait for
        // it to unlink the group. Its failures are that release's to report.
        await (entry.releasing as Promise<void>).catch(ignore);
        continue;
      }
      // Another teardown (a group's, the device's) may still be running its quiesce step.
      if (quiesceOnStack(entry)) {
        // Let the step return, then take the newest entry again (it may have changed meanwhile).
        await Promise.resolve();
        continue;
      }
      const quiescing = entry.quiescing;
      this.detach(entry, 'releasing');
      if (quiescing !== undefined) await quiescing;
      const pending = this.releaseDetached(entry, reason, failures);
      if (pending !== undefined) await pending;
      for (let p = this.pendingIn(scope); p !== undefined; p = this.pendingIn(scope)) await p;
    }
    // Releases started by the last steps (early releases, refused registrations). The caller
    // looks again once this returns (see pendingIn).
    for (let p = this.pendingIn(scope); p !== undefined; p = this.pendingIn(scope)) await p;
  }

  /**
   * The newest live entry in `scope` (depth first), or the newest nested group whose own release
   * runs (to be joined, not entered); empty groups on the way are unlinked as released.
   */
  takeNewest(scope: ListScope): Entry<unknown> | GroupNode | undefined {
    let s: ListScope = scope;
    for (;;) {
      const node = s.tail;
      if (node === undefined) {
        if (s === scope || !(s instanceof GroupNode)) return undefined;
        const group = s;
        s = group.owner;
        group.markReleased();
        continue;
      }
      if (node instanceof GroupNode) {
        if (node.releasing !== undefined && !node.deferred) return node;
        node.state = 'releasing';
        s = node;
        continue;
      }
      return node;
    }
  }

  /**
   * Closes `group` and every open group inside it (all open groups when `undefined`). Open groups
   * elsewhere — a concurrent transaction's — stay open.
   */
  closeOpenGroupsFrom(group: GroupNode | undefined): void {
    const open = this.openGroups;
    const i = group === undefined ? 0 : open.indexOf(group);
    if (i < 0) return;
    let kept = i;
    for (let j = i; j < open.length; j++) {
      const g = open[j] as GroupNode;
      if (group === undefined || g === group || isInside(g, group)) {
        if (g.state === 'open') {
          g.state = 'closed';
          this.emit('group-close', g.name, g.owner.path);
        }
      } else {
        open[kept++] = g;
      }
    }
    open.length = kept;
  }

  async releaseAll(reason: TeardownReason): Promise<void> {
    this.state = 'quiescing';
    this.closeOpenGroupsFrom(undefined);
    this.emit('teardown-begin', this.name, '', { reason });
    const failures: ReleaseFailure[] = [];
    this.failures = failures;
    // Early releases (of resources or groups) already running finish first, so that no entry can be
    // released by this teardown while its own quiesce step is still running elsewhere.
    await this.teardownScope(this, reason, failures, () => {
      this.state = 'releasing';
    });
    // A registration refused while teardownScope returned (still `releasing`) is joined here, and
    // the state closes in the microtask that found nothing left.
    for (let p = this.pendingIn(this); p !== undefined; p = this.pendingIn(this)) await p;
    this.state = 'closed';
    this.failures = undefined;
    this.emit('teardown-end', this.name, '', { reason });
    if (failures.length > 0) throw new DevresReleaseError(this.name, failures, reason);
  }
}

/**
 * Whether `entry`'s quiesce step is still on the stack: it started the teardown that asks (a
 * group's `releaseAll()` called from a quiesce step before its first `await`), so it has no
 * promise yet. One microtask lets it return; its promise (`entry.quiescing`) is then set, or it
 * finished synchronously.
 */
function quiesceOnStack(entry: Entry<unknown>): boolean {
  return entry.state === 'quiescing' && entry.quiescing === undefined;
}

/**
 * Whether `scope` or a scope around it is in its teardown's quiesce phase: an older resource there
 * (a channel) may still run a callback that uses what lies in `scope`, so nothing in `scope` may be
 * released before that teardown's release phase.
 */
function quiescePhaseAround(scope: ListScope): boolean {
  for (let s: ListScope | undefined = scope; s !== undefined; s = ownerOf(s)) {
    if (s.quiescePhase) return true;
  }
  return false;
}

/**
 * Tells the entry's leak tracker it is gone. A tracker must not throw; one that does cannot stop a
 * teardown half-way (older resources never released, the devres stuck releasing), as a log sink
 * that throws cannot: its throw is dropped.
 */
function untrack(entry: Entry<unknown>): void {
  try {
    entry.tracker?.untrackResource(entry);
  } catch {
    // The tracker's bug: the resource is released all the same.
  }
}

/**
 * Whether a transaction's group refuses the implicit registrations of its transaction: it, or a
 * scope around it, is being released or was released. A closed (committed) group in an open scope
 * does not, nor does a removed one (its transaction's registrations go around it).
 */
function refusesImplicit(group: GroupNode): boolean {
  return group.state !== 'removed' && !group.acceptsRegistration();
}

/**
 * Ends a phase for an entry: quiesce restores its previous state; release marks it released (also
 * when its step failed) and only then tells the leak tracker it is gone.
 */
function finishStep(
  entry: Entry<unknown>,
  phase: ReleaseFailure['phase'],
  previous: ResourceState,
): void {
  if (phase === 'release') {
    entry.state = 'released';
    entry.dropValue();
    untrack(entry);
  } else if (entry.state === 'quiescing') {
    entry.state = previous;
  }
}

function ignore(): void {
  // A settled promise is all that is wanted.
}

/** The scope around `scope`, `undefined` for the root. */
function ownerOf(scope: ListScope): ListScope | undefined {
  return scope instanceof GroupNode ? scope.owner : undefined;
}

/** Whether `node` lies (at any depth) inside `group`. */
function isInside(node: GroupNode, group: GroupNode): boolean {
  for (let s: ListScope | undefined = node.owner; s !== undefined; s = ownerOf(s)) {
    if (s === group) return true;
  }
  return false;
}

/** The name of a scope in errors: the device, or `device/group path`. */
function scopeName(scope: ListScope): string {
  return scope instanceof GroupNode ? `${scope.core.name}/${scope.path}` : scope.core.name;
}

function collectNewestFirst(scope: ListScope): Entry<unknown>[] {
  const out: Entry<unknown>[] = [];
  const stack: (Node | undefined)[] = [scope.tail];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === undefined) continue;
    stack.push(node.prev);
    if (node instanceof GroupNode) stack.push(node.tail);
    else out.push(node);
  }
  return out;
}

const scopes = new WeakMap<ResourceScope, ListScope>();

function scopeOf(s: ResourceScope): ListScope {
  return scopes.get(s) as ListScope;
}

function asEntry(core: Core, handle: ResourceHandle<unknown>, op: string): Entry<unknown> {
  const entry = ownEntry(core, handle);
  if (entry === undefined) throw foreignHandle(core, op);
  return entry;
}

/** The entry behind `handle` when `core` owns it. */
function ownEntry(core: Core, handle: ResourceHandle<unknown>): Entry<unknown> | undefined {
  return handle instanceof Entry && handle.core === core ? handle : undefined;
}

/** What a wrong argument is, for an `E_ARGUMENT` message. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === '') return 'an empty string';
  return typeof value;
}

/**
 * @internal Throws `E_ARGUMENT` unless `name` is a non-empty string: a device's, a group's or a
 * resource's name prefixes errors and forms group paths, where `''` means top level. `then`, when
 * given, ends the message (`nothing was registered`).
 */
export function checkName(op: string, name: unknown, then?: string): asserts name is string {
  if (typeof name === 'string' && name !== '') return;
  throw new DevresError(
    'E_ARGUMENT',
    `${op}: the name must be a non-empty string, not ${kindOf(name)}${then === undefined ? '' : `; ${then}`}`,
  );
}

/**
 * Throws `E_ARGUMENT` unless `name` is a non-empty string and each step is a function (`optional`
 * ones may be undefined): checked before anything is registered, opened or released, so a bad
 * argument fails where it is given rather than at teardown, and the caller still owns the resource.
 */
function checkSteps(
  op: string,
  name: unknown,
  steps: Readonly<Record<string, unknown>>,
  optional: readonly string[],
  then = 'nothing was registered',
): void {
  checkName(op, name, then);
  for (const [field, step] of Object.entries(steps)) {
    if (typeof step === 'function' || (step === undefined && optional.includes(field))) continue;
    throw new DevresError(
      'E_ARGUMENT',
      `${op}(${name}): ${field} must be a function${optional.includes(field) ? ' or undefined' : ''}, not ${kindOf(step)}; ${then}`,
    );
  }
}

/** What `E_NOT_LIVE` says of a resource in each state that is not live. */
const NOT_LIVE: Readonly<Record<Exclude<ResourceState, 'live'>, string>> = {
  quiescing: 'is being quiesced (released early, or reached by a teardown)',
  releasing: 'is being released (or, released during a quiesce phase, waits for its release phase)',
  released: 'was already released',
  forgotten: 'was forgotten: it no longer belongs to the device',
};

/** `E_NOT_LIVE` for a handle whose resource is being released, was released or was forgotten. */
function notLive(core: Core, entry: Entry<unknown>): DevresError {
  const state = entry.state as Exclude<ResourceState, 'live'>;
  return new DevresError('E_NOT_LIVE', `${core.name}: ${entry.name} ${NOT_LIVE[state]}`);
}

function foreignHandle(core: Core, op: string): DevresError {
  return new DevresError(
    'E_FOREIGN_HANDLE',
    `${core.name}: ${op}: the handle does not belong to this device`,
  );
}

// ---------------------------------------------------------------------------------------------

/**
 * The registration API shared by a {@link Devres} and its {@link DevresGroup}s.
 *
 * Registration on a {@link Devres} goes to its innermost open group (as Linux `devres_open_group`)
 * of the calling async context — see {@link ResourceScope.group} — or to the devres itself;
 * registration on a group goes to that group. Registration after teardown began (or through a
 * group object after `group.remove()`) is refused with {@link DevresClosedError} and the offered
 * resource is quiesced and released at once. Names must be non-empty strings and steps functions:
 * otherwise `E_ARGUMENT`, and nothing is registered.
 *
 * Abstract (its constructor is internal): type a parameter with it to take either a
 * {@link Devres} or a {@link DevresGroup}.
 *
 * @example
 * ```ts
 * const addChannel = (scope: ResourceScope, id: number) =>
 *   scope.addAction(`free channel ${id}`, () => mbox.free(id));
 * addChannel(res, 0); // into the devres (or its innermost open group)
 * await res.group('perf', (g) => addChannel(g, 1)); // into group 'perf'
 * ```
 */
export abstract class ResourceScope {
  /** @internal */
  protected constructor(scope: ListScope) {
    scopes.set(this, scope);
  }

  /** Where registrations made through this object go. */
  #target(): ListScope {
    const s = scopeOf(this);
    return s instanceof Core ? s.currentTarget() : s;
  }

  /**
   * Registers a resource and returns its handle.
   *
   * @throws DevresClosedError when teardown has begun; `spec.quiesce` (if any), then
   * `spec.release`, have then been started at once (reason `refused`). If one fails, the failure
   * is in the error's `releaseError`, is logged as `quiesce-failed` / `release-failed`, and — when
   * a teardown of the device or of an enclosing group is running — is one of the failures of that
   * teardown's {@link DevresReleaseError}.
   * @throws DevresError `E_DUPLICATE_KEY` when `spec.key` is already registered (nothing is released).
   * @throws DevresError `E_ARGUMENT` when `spec` is not an object, its `name` is not a non-empty
   * string, or its `release` (or a given `quiesce`) is not a function: nothing is registered or
   * released, also during teardown.
   * @example
   * ```ts
   * const h = res.add({ name: 'irq', value: irq, release: (v) => v.free(), quiesce: (v) => v.disable() });
   * ```
   */
  public add<T>(spec: ResourceSpec<T>): ResourceHandle<T> {
    // Typed as an object; checked because JavaScript callers (and `as never`) get past the type.
    const given: unknown = spec;
    if (typeof given !== 'object' || given === null) {
      throw new DevresError(
        'E_ARGUMENT',
        `add: the resource spec must be an object, not ${given === null ? 'null' : typeof given}; nothing was registered`,
      );
    }
    checkSteps('add', spec.name, { release: spec.release, quiesce: spec.quiesce }, ['quiesce']);
    const target = this.#target();
    const core = target.core;
    if (!target.acceptsRegistration()) {
      throw core.refuseAndRelease(target, spec.name, spec.release, spec.value, spec.quiesce);
    }
    return core.register(target, spec.name, spec.value, spec.release, spec.quiesce, spec.key);
  }

  /**
   * Opens a resource and registers it, atomically: if registration fails once `open` has returned
   * — refused because teardown began (of the device, or of the group registered into: for an
   * implicit registration from a {@link ResourceScope.group} transaction, its group or one around
   * it, also when released while `open` ran), or `options.key` registered meanwhile — `options.quiesce`
   * (if any) and `close` run at once (reason `refused`) and the call throws once they have
   * finished — nothing leaks, and nothing is closed unquiesced. If `open` throws,
   * nothing is registered and its error propagates. When `options.key` is already registered,
   * `open` is not called at all.
   *
   * A `close` that fails there is reported, never lost: on refusal, in the
   * {@link DevresClosedError}'s `releaseError` and in the running teardown's
   * {@link DevresReleaseError} (as for {@link ResourceScope.add}); on any other registration
   * failure, attached to the thrown error as a {@link DevresReleaseError} (read it with
   * {@link getReleaseFailure}). Both are also logged as `release-failed`.
   *
   * @throws DevresClosedError when teardown began before or while `open` ran (after `close` ran).
   * @throws DevresError `E_DUPLICATE_KEY` when `options.key` is already registered (before `open`
   * is called, or after `close` ran when it was registered while `open` ran).
   * @throws DevresError `E_ARGUMENT` when `name` is not a non-empty string, or `open`, `close` or a
   * given `options.quiesce` is not a function (before `open` is called).
   * @example
   * ```ts
   * const chan = await res.acquire('mbox chan', () => mbox.request(0), (c) => c.free());
   * chan.value.send(msg);
   * ```
   */
  public async acquire<T>(
    name: string,
    open: () => T | PromiseLike<T>,
    close: TeardownStep<T>,
    options: StepOptions<T> = {},
  ): Promise<ResourceHandle<T>> {
    checkSteps('acquire', name, { open, close, quiesce: options.quiesce }, ['quiesce']);
    const key = options.key;
    if (key !== undefined) {
      const core = scopeOf(this).core;
      if (core.keys?.has(key) === true) throw core.duplicateKey(key);
    }
    const value = await open();
    const target = this.#target();
    const core = target.core;
    if (!target.acceptsRegistration()) {
      const error = core.refuseAndRelease(target, name, close, value, options.quiesce);
      await error.released;
      throw error;
    }
    try {
      return core.register(target, name, value, close, options.quiesce, key);
    } catch (error) {
      // Registered nothing (a key registered while open ran, or anything else): close the value.
      const failures: ReleaseFailure[] = [];
      await core
        .releaseUnregistered(target, name, close, value, failures, options.quiesce)
        .catch(ignore);
      if (failures.length > 0) {
        attachReleaseFailure(
          error,
          new DevresReleaseError(scopeName(target), failures, REFUSED_REASON),
        );
      }
      throw error;
    }
  }

  /**
   * Registers an action to run at teardown (Linux `devm_add_action`). If registration is refused,
   * the action is **not** run — the caller still owns what it would clean up; use
   * {@link ResourceScope.addActionOrReset} to have it run.
   *
   * @throws DevresClosedError when teardown has begun (the action did not run).
   * @throws DevresError `E_ARGUMENT` when `name` is not a non-empty string, or `action` or a given
   * `options.quiesce` is not a function (nothing is registered).
   * @example
   * ```ts
   * res.addAction('disable clock', () => clk.disable());
   * ```
   */
  public addAction(
    name: string,
    action: (reason: TeardownReason) => void | PromiseLike<void>,
    options: StepOptions<undefined> = {},
  ): ResourceHandle<undefined> {
    checkSteps('addAction', name, { action, quiesce: options.quiesce }, ['quiesce']);
    const target = this.#target();
    const core = target.core;
    if (!target.acceptsRegistration()) throw core.refuse(target, name);
    return core.register(
      target,
      name,
      undefined,
      (_v, why) => action(why),
      options.quiesce,
      options.key,
    );
  }

  /**
   * Registers an action, or runs it at once if registration is refused (Linux
   * `devm_add_action_or_reset`).
   *
   * @throws DevresClosedError when teardown has begun; `released` settles when the action has run.
   * @throws DevresError `E_ARGUMENT` when `name` is not a non-empty string, or `action` or a given
   * `options.quiesce` is not a function (nothing is registered, nothing runs).
   * @example
   * ```ts
   * res.addActionOrReset('assert reset', () => rst.assert());
   * ```
   */
  public addActionOrReset(
    name: string,
    action: (reason: TeardownReason) => void | PromiseLike<void>,
    options: StepOptions<undefined> = {},
  ): ResourceHandle<undefined> {
    checkSteps('addActionOrReset', name, { action, quiesce: options.quiesce }, ['quiesce']);
    return this.add({
      name,
      value: undefined,
      release: (_v, why) => action(why),
      ...(options.quiesce === undefined ? {} : { quiesce: options.quiesce }),
      ...(options.key === undefined ? {} : { key: options.key }),
    });
  }

  /**
   * Wraps `value` in a {@link Revocable} registered as a resource: its quiesce step revokes it
   * (waiting for guards already held) and its release step runs `release`, if given.
   *
   * @throws DevresClosedError when teardown has begun (the revocable is revoked and released at once).
   * @throws DevresError `E_ARGUMENT` when `name` is not a non-empty string, or a given `release`
   * is not a function (nothing is registered).
   * @example
   * ```ts
   * const regs = res.revocable('regs', map(), (r) => r.unmap());
   * regs.access((r) => r.write(0, 1));
   * ```
   */
  public revocable<T>(name: string, value: T, release?: TeardownStep<T>): Revocable<T> {
    checkSteps('revocable', name, { release }, ['release']);
    const r = new Revocable(name, value);
    this.add({
      name,
      value: r,
      quiesce: () => r.revoke(),
      release: async (_r, why) => {
        await r.revoke();
        await release?.(value, why);
      },
    });
    return r;
  }

  /**
   * The value registered under `key` in this device, or `undefined` (Linux `devres_find`).
   *
   * @example
   * ```ts
   * const pool = res.find(POOL_KEY); // typed by the key
   * ```
   */
  public find<T>(key: DevresKey<T>): T | undefined {
    const entry = scopeOf(this).core.keys?.get(key);
    return entry === undefined ? undefined : (entry.rawValue() as T);
  }

  /**
   * The value registered under `key`, or a new resource made by `create` and registered under
   * `key` (a per-device singleton, Linux `devres_get`).
   *
   * @throws DevresClosedError when it must create and teardown has begun.
   * @example
   * ```ts
   * const pool = res.getOrAdd(POOL_KEY, () => ({ name: 'pool', value: new Pool(), release: (p) => p.drain() }));
   * ```
   */
  public getOrAdd<T>(key: DevresKey<T>, create: () => Omit<ResourceSpec<T>, 'key'>): T {
    const existing = scopeOf(this).core.keys?.get(key);
    if (existing !== undefined) return existing.rawValue() as T;
    return this.add({ ...create(), key }).value;
  }

  /**
   * Releases one resource now (Linux `devres_release`): its quiesce step (unless already run),
   * then its release step, with reason `early-release`. Allowed at most once per handle, also
   * during a teardown that has not reached the resource yet: the teardown — of the device or of
   * any group around the resource — then waits for it to finish before it releases anything older
   * and before it resolves (so a resource never outlives one registered before it), and the same
   * holds for a group released during the teardown.
   *
   * During the quiesce phase of such a teardown (it began, its release phase not yet) nothing is
   * released at once: an older resource not yet quiesced (a channel) may still run a callback that
   * uses this one. The resource is quiesced now and left in place, in state `releasing` (its value
   * still readable), for that teardown's release phase, which releases it in reverse order with
   * the teardown's reason and reports a failing release step; the promise resolves once it is
   * quiesced and rejects only when its quiesce step failed. Awaiting it from a quiesce step is
   * therefore safe; waiting for the release itself is waiting for the teardown.
   *
   * Its failures are reported through the returned promise (and logged as `release-failed`), not
   * through the teardown that waits for it: a step that starts an early release without awaiting
   * it (`void res.release(h)`) gets the ordering, but not the error, into its teardown's
   * {@link DevresReleaseError}. Await it (or return it) from the step to have the error count as
   * the step's own.
   *
   * Every failure is a rejection of the returned promise, never a synchronous throw. A misuse
   * (`E_NOT_LIVE`, `E_FOREIGN_HANDLE`) is not tracked by any teardown: a caller that does not
   * await or handle the promise gets an unhandled rejection, as it should for a bug.
   *
   * @throws DevresError (as a rejection) `E_NOT_LIVE` when the resource is not live: being
   * quiesced or released (early, or by a teardown that reached it), released, or forgotten;
   * `E_FOREIGN_HANDLE` when the handle belongs to another device.
   * @throws DevresReleaseError (as a rejection) when a step failed; the resource is released anyway.
   */
  public release(handle: ResourceHandle<unknown>): Promise<void> {
    const core = scopeOf(this).core;
    const entry = ownEntry(core, handle);
    if (entry === undefined) return Promise.reject(foreignHandle(core, 'release'));
    if (entry.state !== 'live') return Promise.reject(notLive(core, entry));
    const failures: ReleaseFailure[] = [];
    let run: () => Promise<void>;
    if (quiescePhaseAround(entry.owner)) {
      // A teardown around it quiesces: an older resource (a channel) may still run a callback that
      // uses this one. Quiesce it now; leave it linked, in place, for that teardown's release
      // phase, which releases it in order with its own reason and reports a failing release step.
      entry.state = 'releasing';
      core.emit('defer', entry.name, entry.owner, { reason: EARLY_RELEASE_REASON });
      run = async (): Promise<void> => {
        await core.quiesceEntry(entry, EARLY_RELEASE_REASON, failures);
        if (failures.length > 0)
          throw new DevresReleaseError(entry.name, failures, EARLY_RELEASE_REASON);
      };
    } else {
      // Unlink first so that no teardown can take it, then quiesce, then release.
      core.detach(entry, 'quiescing');
      run = async (): Promise<void> => {
        await core.quiesceEntry(entry, EARLY_RELEASE_REASON, failures);
        await core.releaseDetached(entry, EARLY_RELEASE_REASON, failures);
        if (failures.length > 0)
          throw new DevresReleaseError(entry.name, failures, EARLY_RELEASE_REASON);
      };
    }
    // Tracked before it starts: a quiesce step may synchronously start the teardown of a group
    // around the resource, which must wait for it.
    return publishThenStart((released) => {
      void core.track(released, entry.owner); // handled: the caller gets `released`
    }, run);
  }

  /**
   * Unregisters a resource without running any step (Linux `devres_remove`): ownership goes back to
   * the caller. Allowed at most once per handle.
   *
   * @throws DevresError `E_NOT_LIVE` when the resource is not live: being quiesced or released,
   * released, or forgotten.
   */
  public forget(handle: ResourceHandle<unknown>): void {
    const core = scopeOf(this).core;
    const entry = asEntry(core, handle, 'forget');
    if (entry.state !== 'live') throw notLive(core, entry);
    core.detach(entry, 'forgotten');
    core.emit('forget', entry.name, entry.owner);
  }

  /**
   * Opens a nested group (Linux `devres_open_group`). Until it is closed, implicit registrations on
   * the devres made from the same async context go into it: from code outside every
   * {@link ResourceScope.group} transaction when opened there, from the transaction's function
   * (and what it calls and awaits) when opened inside one.
   *
   * `name` must be a non-empty string: it is the group's segment of the path that
   * {@link Devres.live} and the event log show (`''` there means top level).
   *
   * @throws DevresClosedError when teardown has begun (or, on a group object, when that group was
   * removed).
   * @throws DevresError `E_ARGUMENT` when `name` is not a non-empty string (nothing is opened,
   * also during teardown).
   */
  public openGroup(name: string): DevresGroup {
    checkName('openGroup', name, 'nothing was opened');
    return this.#openGroup(name, frames.getStore());
  }

  #openGroup(name: string, frame: Frame | undefined): DevresGroup {
    const target = this.#target();
    const core = target.core;
    if (!target.acceptsRegistration()) throw core.refuse(target, name);
    const node = new GroupNode(core, name);
    node.frame = frame;
    target.append(node);
    core.openGroups.push(node);
    core.emit('group-open', name, target.path);
    return new DevresGroup(node);
  }

  /**
   * Runs `fn` inside a new group, transactionally: on success the group is closed and kept (it can
   * be released later as a unit); if `fn` throws, everything registered in the group is torn down
   * (quiesce, then reverse release, reason `probe-failed`) and the original error is rethrown with
   * the release failures attached (see {@link getReleaseFailure}). During the quiesce phase of a
   * teardown around it (see {@link DevresGroup.releaseAll}) the error is rethrown once the group is quiesced:
   * its release is left to the teardown's release phase, with that teardown's reason, and its
   * failures are that teardown's, not attached to the error.
   *
   * The group is the target of implicit registrations (`res.add(…)` on the devres) made from
   * `fn`'s async context only — `fn` itself and everything it calls or awaits, tracked with
   * `AsyncLocalStorage`. Transactions started concurrently from one context are therefore siblings,
   * each receiving its own function's registrations, and a failing one releases only its own; a
   * transaction started inside another's function nests in it. Code running outside `fn`'s context
   * (a callback of an event source set up elsewhere) registers around the group: register through
   * the `group` argument to be explicit.
   *
   * Once the group is being released or was released — by its own `releaseAll()`, or with a group
   * around it or the device — implicit registrations from `fn`'s context are refused by it exactly
   * as registrations through the `group` argument are ({@link DevresClosedError}, the offered
   * resource quiesced and released at once; an `acquire` whose `open` was pending closes what it
   * opened): they never land around the group. After a commit (the group closed, not released) or
   * `group.remove()`, they go to the transaction around it, or to the devres. Code of `fn`'s
   * context that runs once no `group()` function runs any more is not tracked: it registers as
   * code outside every transaction does.
   *
   * @throws DevresError (as a rejection) `E_ARGUMENT` when `name` is not a non-empty string or `fn`
   * is not a function: checked first, so nothing is opened, registered or released (also during
   * teardown).
   * @throws DevresClosedError (as a rejection) when teardown has begun (or, on a group object,
   * when that group was removed): `fn` is not called.
   *
   * @example
   * ```ts
   * await res.group('clock protocol', async (g) => {
   *   g.addAction('unregister events', () => events.off());
   *   await negotiateVersion();
   * });
   * ```
   */
  public async group<R>(name: string, fn: (group: DevresGroup) => R | PromiseLike<R>): Promise<R> {
    checkSteps('group', name, { fn }, [], 'nothing was opened');
    const frame: Frame = { parent: frames.getStore() };
    const group = this.#openGroup(name, frame);
    frame.group = groupNodes.get(group) as GroupNode;
    let result: R;
    try {
      result = await runInFrame(frame, fn, group);
    } catch (error) {
      await releaseGroupAfterFailure(group, error);
      throw error;
    }
    if (group.state === 'open') group.close();
    return result;
  }
}

const releaseFailures = new WeakMap<object, DevresReleaseError>();

/**
 * The teardown failures attached to an error rethrown by a failed probe or group transaction, if
 * any step failed. Only object errors can carry them.
 *
 * @example
 * ```ts
 * try { await probe(dev, fn); } catch (e) { getReleaseFailure(e)?.failures.forEach(console.log); }
 * ```
 */
export function getReleaseFailure(error: unknown): DevresReleaseError | undefined {
  return typeof error === 'object' && error !== null ? releaseFailures.get(error) : undefined;
}

/**
 * @internal Starts `start` and returns its promise, handed to `publish` before `start` runs: a
 * teardown's steps start synchronously, and one that calls back in (`releaseAll()`, `remove()`)
 * must find the teardown already under way, not start a second one.
 */
export function publishThenStart(
  publish: (promise: Promise<void>) => void,
  start: () => Promise<void>,
): Promise<void> {
  let adopt!: (promise: Promise<void>) => void;
  const promise = new Promise<void>((resolve) => {
    adopt = resolve;
  });
  publish(promise);
  adopt(start());
  return promise;
}

/** @internal Attaches teardown failures to the error that caused the teardown. */
export function attachReleaseFailure(error: unknown, failure: unknown): void {
  if (typeof error === 'object' && error !== null && DevresReleaseError.is(failure)) {
    releaseFailures.set(error, failure);
  }
}

async function releaseGroupAfterFailure(group: DevresGroup, error: unknown): Promise<void> {
  try {
    await releaseGroup(group, { kind: 'probe-failed', error });
  } catch (failure) {
    attachReleaseFailure(error, failure);
  }
}

const groupNodes = new WeakMap<DevresGroup, GroupNode>();

function releaseGroup(group: DevresGroup, reason: TeardownReason): Promise<void> {
  const node = groupNodes.get(group) as GroupNode;
  const core = node.core;
  if (node.releasing !== undefined) return node.releasing;
  if (node.state === 'released') return Promise.resolve();
  if (node.state === 'removed') {
    return Promise.reject(
      new DevresError('E_GROUP_STATE', `${core.name}: group ${node.name} was removed`),
    );
  }
  if (node.state === 'releasing') {
    // The device's teardown has reached this group; its errors are reported there.
    return node.whenReleased();
  }
  core.closeOpenGroupsFrom(node);
  node.state = 'releasing';
  const run = async (): Promise<void> => {
    const failures: ReleaseFailure[] = [];
    node.failures = failures;
    try {
      await core.teardownScope(node, reason, failures);
      // As releaseAll: what was refused while teardownScope returned is joined before it ends.
      for (let p = core.pendingIn(node); p !== undefined; p = core.pendingIn(node)) await p;
    } finally {
      node.failures = undefined;
      if (node.state === 'releasing' && !node.deferred) node.markReleased();
    }
    if (failures.length > 0) throw new DevresReleaseError(scopeName(node), failures, reason);
  };
  // Tracked in the scopes around it, before it starts (a step may call back in synchronously):
  // their teardowns join it instead of entering the group.
  return publishThenStart((releasing) => {
    node.releasing = core.track(releasing, node.owner);
  }, run);
}

/**
 * A group of resources inside a {@link Devres} (Linux devres groups, Effect child scopes): close
 * it to stop implicit registrations, remove it to merge its resources into the parent, or release
 * everything in it (quiesce, then reverse release) without tearing the device down. Groups nest.
 *
 * A group keeps its place in the device's order — where it was opened. A resource registered
 * through the group object after something else was registered after the group (in the device or
 * a group around it) goes into the group, so the device's teardown quiesces and releases it
 * *after* that newer resource, as an Effect child scope does: register a resource into an older
 * group only if it does not use anything registered after the group opened.
 *
 * `await using g = res.openGroup('x')` releases the group at the end of the block.
 *
 * @example
 * ```ts
 * const g = res.openGroup('perf domain 0');
 * g.addAction('unsubscribe', () => unsub());
 * g.close();
 * // later
 * await g.releaseAll();
 * ```
 */
export class DevresGroup extends ResourceScope implements AsyncDisposable {
  /** @internal */
  public constructor(node: GroupNode) {
    super(node);
    groupNodes.set(this, node);
  }

  /** The group's name. */
  public get name(): string {
    return (groupNodes.get(this) as GroupNode).name;
  }

  /** Where the group is in its life. */
  public get state(): DevresGroupState {
    return (groupNodes.get(this) as GroupNode).state;
  }

  /**
   * Stops implicit registrations going to this group (Linux `devres_close_group`); groups opened
   * inside it are closed too. Registration through the group object itself is still allowed.
   *
   * @throws DevresError `E_GROUP_STATE` when the group is not open.
   */
  public close(): void {
    const node = groupNodes.get(this) as GroupNode;
    if (node.state !== 'open') {
      throw new DevresError(
        'E_GROUP_STATE',
        `${node.core.name}: group ${node.name} is ${node.state}, not open`,
      );
    }
    node.core.closeOpenGroupsFrom(node);
  }

  /**
   * Removes the group but keeps its resources: they move to the parent, in place and in order
   * (Linux `devres_remove_group`).
   *
   * The group object takes no registration afterwards: `g.add(…)` and the like are refused with
   * {@link DevresClosedError} (code `E_CLOSED`, the message saying the group was removed), as any
   * refused registration is — the offered resource is quiesced and released at once (an
   * `addAction` action is not run). Register through the parent instead.
   *
   * @throws DevresError `E_GROUP_STATE` when the group is releasing, released or removed.
   */
  public remove(): void {
    const node = groupNodes.get(this) as GroupNode;
    const core = node.core;
    if (node.state !== 'open' && node.state !== 'closed') {
      throw new DevresError('E_GROUP_STATE', `${core.name}: group ${node.name} is ${node.state}`);
    }
    core.closeOpenGroupsFrom(node);
    const parent = node.owner;
    // Splice the children in place of the group node.
    for (let child = node.head; child !== undefined; child = child.next) child.owner = parent;
    const first = node.head;
    const last = node.tail;
    if (first !== undefined && last !== undefined) {
      first.prev = node.prev;
      last.next = node.next;
      if (node.prev === undefined) parent.head = first;
      else node.prev.next = first;
      if (node.next === undefined) parent.tail = last;
      else node.next.prev = last;
      node.prev = undefined;
      node.next = undefined;
    } else {
      parent.unlink(node);
    }
    node.head = undefined;
    node.tail = undefined;
    node.state = 'removed';
    core.emit('group-remove', node.name, parent.path);
  }

  /**
   * Tears down the group: quiesce every resource in it newest first, then release newest first
   * (Linux `devres_release_group`); the group is gone afterwards, reason `early-release` (during
   * a quiesce phase around it, see below, its state stays `releasing` until that release phase has
   * released it). Calling it again returns the same promise; a group reached by its device's
   * teardown (or by the teardown of a group around it) resolves when that teardown has passed it.
   * A step of a resource in the group may call it but must not await it: that promise waits for
   * the step, so awaiting it never settles.
   *
   * Releases already running inside the group are joined, never overtaken: a nested group whose
   * own `releaseAll()` runs is waited for as a unit (its entries are not taken a second time), and
   * so are early releases of its resources and immediate releases of resources refused by it. The
   * promise resolves only once everything below the group has been released — except during the
   * quiesce phase of a teardown around the group (the device's or an enclosing group's: it began,
   * its release phase not yet): the group's resources are then quiesced and left for that
   * teardown's release phase, which releases them in reverse order once every quiesce step has
   * returned (an older channel may still have a callback in flight that uses them), and the
   * promise resolves once they are quiesced. They are released with the reason of the teardown
   * that reaches them then — that one, or that of a group around this one released during the
   * release phase — which reports their failures.
   *
   * @throws DevresReleaseError when steps failed (all steps still ran), including the release of a
   * resource refused during this teardown. Failures of a nested group's own `releaseAll()` or of
   * an early release are reported by those calls, not here.
   */
  public releaseAll(): Promise<void> {
    return releaseGroup(this, EARLY_RELEASE_REASON);
  }

  /** Same as {@link DevresGroup.releaseAll}, for `await using`. */
  public [Symbol.asyncDispose](): Promise<void> {
    return this.releaseAll();
  }
}

/**
 * The device-managed resources of one device: register resources as they are acquired; tear them
 * all down in two phases — **quiesce** every resource newest first, then **release** every
 * resource newest first — so that no callback can run against released state.
 *
 * Teardown runs every step even when some throw and reports the failures as one
 * {@link DevresReleaseError}. Concurrent teardown calls share one promise. Registration after
 * teardown began is refused ({@link DevresClosedError}) and the offered resource quiesced and
 * released at once; if a step fails during the teardown, it is one of the teardown's failures. After teardown
 * every handle is revoked.
 *
 * @example
 * ```ts
 * await using res = new Devres('mbox0');
 * const chan = res.add({
 *   name: 'chan[a2p]', value: openChannel(),
 *   quiesce: (c) => c.stopCallbacks(), release: (c) => c.free(),
 * });
 * // leaving the block: quiesce chan, then free it
 * ```
 */
export class Devres extends ResourceScope implements AsyncDisposable {
  readonly #core: Core;

  /**
   * Creates an empty, open devres for the named device.
   *
   * @throws DevresError `E_ARGUMENT` when `name` is not a non-empty string (it prefixes every
   * error and event of the device).
   */
  public constructor(name: string, options: DevresOptions = {}) {
    checkName('new Devres', name);
    const core = new Core(name, options.log, options.debug ?? false);
    super(core);
    this.#core = core;
  }

  /** The device name. */
  public get name(): string {
    return this.#core.name;
  }

  /** Where the devres is in its life. */
  public get state(): DevresState {
    return this.#core.state;
  }

  /** Number of live resources (walks the list: O(N)). */
  public get size(): number {
    return collectNewestFirst(this.#core).length;
  }

  /**
   * A snapshot of the live resources, oldest first, with their group path (and creation stack in
   * debug mode).
   */
  public live(): LiveResource[] {
    return collectNewestFirst(this.#core)
      .reverse()
      .map((e) => ({ name: e.name, group: e.owner.path, stack: e.stack }));
  }

  /**
   * Tears everything down: phase 1 runs every quiesce step newest first, phase 2 every release step
   * newest first; early releases (of resources or groups) and immediate releases of refused
   * resources still running are awaited. Concurrent calls share one promise; calling it after
   * teardown returns the settled promise of that teardown.
   *
   * A step of this teardown that calls it again gets the same promise, so it must not await it
   * (nor return it): the teardown waits for the step and the step for the teardown, and neither
   * ever settles. Likewise a step that never settles leaves the devres `quiescing` or `releasing`
   * for good, and every call returns that pending promise.
   *
   * @param reason - passed to every step (default `{ kind: 'dispose' }`).
   * @throws DevresReleaseError when steps failed, including the release of a resource refused
   * during the teardown (not the failures of early releases: their own promises report those);
   * `cause` is the probe error for `probe-failed`.
   */
  public releaseAll(reason: TeardownReason = DISPOSE_REASON): Promise<void> {
    const core = this.#core;
    return (
      core.teardown ??
      publishThenStart(
        (teardown) => {
          core.teardown = teardown;
        },
        () => core.releaseAll(reason),
      )
    );
  }

  /** Same as {@link Devres.releaseAll} with reason `dispose`, for `await using`. */
  public [Symbol.asyncDispose](): Promise<void> {
    return this.releaseAll(DISPOSE_REASON);
  }
}
