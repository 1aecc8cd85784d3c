import type { Clock } from '@scmi-ts/core';
import { MsgqEndpoint, type MsgqEnd } from './msgq-end.js';

/**
 * The channels of a msgq wire; both ends of a wire are opened with the same.
 *
 * @example
 * ```ts
 * const options: MsgqWireOptions = { a2p: [0, 1], p2a: false }; // no notifications
 * ```
 */
export interface MsgqWireOptions {
  /** A2P channel ids (default `[0]`). */
  readonly a2p?: readonly number[];
  /** Whether the wire carries P2A messages, on P2A channel 0 (default true). */
  readonly p2a?: boolean;
}

/**
 * Both ends of a same-thread msgq wire, and the kit's hook on the platform→agent direction.
 *
 * @example
 * ```ts
 * const held: (() => void)[] = [];
 * wire.setAgentSignalInterceptor((deliver) => held.push(deliver)); // replies wait…
 * held.shift()?.(); // …until delivered, late if the command timed out meanwhile
 * ```
 */
export interface SameThreadMsgqWire {
  /** The agent's end: give it as `transportConfig: { end }`. */
  readonly agent: MsgqEnd;
  /** The platform's end: give it to a `MsgqResponder`. */
  readonly platform: MsgqEnd;
  /**
   * While set, every platform→agent delivery is handed to `interceptor` instead of the clock, to
   * run when it chooses (each `deliver` runs once; a second call does nothing) — what the kit's
   * seed scenario and interleaving simulator need (`FixtureEnds.setAgentSignalInterceptor`).
   */
  setAgentSignalInterceptor(interceptor: ((deliver: () => void) => void) | undefined): void;
}

/**
 * Creates a msgq wire whose both ends live in one thread: each message is copied and delivered by
 * a task on `clock` (`clock.schedule`), never by real I/O — with the kit's `VirtualClock` a real
 * `MessagePort` would see every command time out in virtual time before its reply arrived (docs
 * §11, "Same thread means the virtual clock").
 *
 * @example
 * ```ts
 * const clock = new VirtualClock({ auto: true });
 * const wire = createSameThreadMsgqWire(clock, { a2p: [0, 1], p2a: true });
 * const responder = new MsgqResponder({ platform, agentId: 1, end: wire.platform });
 * await createAgent(container, { transport: 'msgq', transportConfig: { end: wire.agent } });
 * ```
 */
export function createSameThreadMsgqWire(
  clock: Clock,
  options: MsgqWireOptions = {},
): SameThreadMsgqWire {
  const a2p = [...(options.a2p ?? [0])];
  const p2a = options.p2a ?? true;
  let intercept: ((deliver: () => void) => void) | undefined;
  const agent: MsgqEndpoint = new MsgqEndpoint(a2p, p2a, (direction, id, bytes) => {
    const copy = bytes.slice();
    clock.schedule(() => platform.arrive(direction, id, copy));
  });
  const platform: MsgqEndpoint = new MsgqEndpoint(a2p, p2a, (direction, id, bytes) => {
    const copy = bytes.slice();
    let done = false;
    const deliver = (): void => {
      if (done) return;
      done = true;
      agent.arrive(direction, id, copy);
    };
    if (intercept !== undefined) intercept(deliver);
    else clock.schedule(deliver);
  });
  return {
    agent,
    platform,
    setAgentSignalInterceptor: (interceptor) => {
      intercept = interceptor;
    },
  };
}
