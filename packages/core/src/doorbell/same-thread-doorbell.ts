import type { Clock } from '../clock/clock.js';
import { ScmiTransportError } from '../errors/scmi-error.js';
import type { Doorbell } from './doorbell.js';

/**
 * Takes over the delivery of a ring (see {@link SameThreadDoorbell.setInterceptor}): call
 * `deliver` when the listener should run. `deliver` runs the listener at most once, and not at all
 * if the side was closed in between; calling it again is a no-op.
 */
export type DoorbellInterceptor = (deliver: () => void) => void;

/**
 * One side of a same-thread doorbell pair (see {@link createSameThreadDoorbellPair}): ringing one
 * side runs the other side's listener as a task on the injected {@link Clock}, never
 * synchronously inside `ring()`.
 *
 * It behaves like an interrupt line, not a queue: a ring raises the line; further rings coalesce
 * until the delivery task runs, which lowers the line and then calls the listener once (so a ring
 * made by the listener itself is delivered again, by a new task). A ring that arrives before
 * {@link SameThreadDoorbell.listen} stays latched and is delivered once the listener is set.
 *
 * Closing a side stops its own listening: nothing is delivered to it afterwards, not even a
 * delivery that was already scheduled or held by an interceptor — such a ring, made before the
 * close, is counted in its {@link SameThreadDoorbell.droppedAtClose} (not in `ignored`: a wire
 * that counts its held deliveries itself, as the mailbox one does, would count it twice); rings
 * toward it after the close are counted in its {@link SameThreadDoorbell.ignored}, and its own
 * rings do nothing. A ring made before the ringing side closed is still delivered to a peer that
 * is open.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const [agent, platform] = createSameThreadDoorbellPair(clock);
 * platform.listen(() => console.log('request pending'));
 * agent.ring();
 * agent.ring(); // coalesced with the first ring
 * await clock.runTasks(); // logs once
 * ```
 */
export class SameThreadDoorbell implements Doorbell {
  readonly #clock: Clock;
  #peer: SameThreadDoorbell | undefined;
  #listener: (() => void) | undefined;
  #interceptor: DoorbellInterceptor | undefined;
  #pending = false;
  #closed = false;
  #ignored = 0;
  #droppedAtClose = 0;
  #delivered = 0;

  /**
   * @internal Use {@link createSameThreadDoorbellPair}. Links the new side with `peer` when given.
   */
  public constructor(clock: Clock, peer?: SameThreadDoorbell) {
    this.#clock = clock;
    if (peer !== undefined) {
      this.#peer = peer;
      peer.#peer = this;
    }
  }

  /** @inheritDoc */
  public get closed(): boolean {
    return this.#closed;
  }

  /** @inheritDoc */
  public get ignored(): number {
    return this.#ignored;
  }

  /**
   * Rings toward this side whose delivery was still pending (scheduled, or held by an
   * interceptor) when it closed: dropped, never delivered — 0 or 1, as pending rings coalesce.
   * A wire that accounts for every ring adds it to its own count; rings after the close are in
   * `ignored`.
   */
  public get droppedAtClose(): number {
    return this.#droppedAtClose;
  }

  /** Times the listener of this side was called. */
  public get delivered(): number {
    return this.#delivered;
  }

  /** True while a ring toward this side waits for its delivery (the line is raised). */
  public get pending(): boolean {
    return this.#pending;
  }

  /**
   * Rings the other side: raises its line and, unless a delivery is already pending there,
   * schedules one. A no-op when this side is closed; counted in the peer's `ignored` when the peer
   * is closed.
   */
  public ring(): void {
    const peer = this.#peer;
    if (this.#closed || peer === undefined) return;
    peer.#raise();
  }

  /**
   * Sets the listener of this side; a ring already latched is delivered (as a task).
   *
   * @throws ScmiTransportError `E_DOORBELL_CLOSED` when this side is closed,
   * `E_DOORBELL_LISTENING` when a listener is already set.
   */
  public listen(onRing: () => void): void {
    if (this.#closed) {
      throw new ScmiTransportError('E_DOORBELL_CLOSED', 'cannot listen on a closed doorbell');
    }
    if (this.#listener !== undefined) {
      throw new ScmiTransportError('E_DOORBELL_LISTENING', 'the doorbell already has a listener');
    }
    this.#listener = onRing;
    if (this.#pending) this.#dispatch();
  }

  /**
   * Hands each future delivery toward this side to `interceptor` instead of `clock.schedule`, so
   * that a test can hold a ring and fire it at a moment it chooses; `undefined` restores the
   * clock. A delivery already scheduled keeps its route.
   *
   * @example
   * ```ts
   * const held: (() => void)[] = [];
   * agentSide.setInterceptor((deliver) => held.push(deliver));
   * platformSide.ring(); // held, not scheduled
   * await agent.remove(); // teardown first...
   * held[0]?.(); // ...then the late doorbell: dropped, the side is closed
   * ```
   */
  public setInterceptor(interceptor: DoorbellInterceptor | undefined): void {
    this.#interceptor = interceptor;
  }

  /**
   * Closes this side: its listener is dropped and never called again, even by a delivery already
   * scheduled or held (that ring counted in {@link SameThreadDoorbell.droppedAtClose}); later
   * rings toward it are counted in {@link SameThreadDoorbell.ignored}. Idempotent.
   */
  public close(): void {
    if (!this.#closed && this.#pending) this.#droppedAtClose++;
    this.#closed = true;
    this.#listener = undefined;
    this.#pending = false;
  }

  #raise(): void {
    if (this.#closed) {
      this.#ignored++;
      return;
    }
    if (this.#pending) return;
    this.#pending = true;
    if (this.#listener !== undefined) this.#dispatch();
  }

  #dispatch(): void {
    let used = false;
    const deliver = (): void => {
      if (used) return;
      used = true;
      const listener = this.#listener;
      if (this.#closed || !this.#pending || listener === undefined) return;
      this.#pending = false;
      this.#delivered++;
      listener();
    };
    const intercept = this.#interceptor;
    if (intercept === undefined) this.#clock.schedule(deliver);
    else intercept(deliver);
  }
}

/**
 * Creates the two sides of a doorbell whose rings are delivered as tasks on `clock`: with a
 * {@link VirtualClock} a test (or the conformance kit's interleaving simulator,
 * `runInterleavingSimulation`) decides when each ring lands; with
 * {@link RealClock} they land on a later event-loop turn.
 *
 * @returns `[a, b]`: ringing `a` calls the listener of `b`, and the reverse.
 * @example
 * ```ts
 * const [agent, platform] = createSameThreadDoorbellPair(new VirtualClock({ auto: true }));
 * agent.listen(() => readResponse());
 * platform.listen(() => {
 *   handleRequest();
 *   platform.ring();
 * });
 * agent.ring();
 * ```
 */
export function createSameThreadDoorbellPair(
  clock: Clock,
): [SameThreadDoorbell, SameThreadDoorbell] {
  const a = new SameThreadDoorbell(clock);
  const b = new SameThreadDoorbell(clock, a);
  return [a, b];
}
