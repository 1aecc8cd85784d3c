import type { Clock } from '@scmi-ts/core';
import { SameThreadMailboxController } from '../mailbox/same-thread-mailbox-controller.js';
import {
  createSmtWireLayout,
  smtMailboxCount,
  type SmtWireLayoutOptions,
} from '../smt/smt-wire-layout.js';
import { SmtWireMonitor, type MonitoredMailboxWire, type SmtPlatformEnd } from './mailbox-wire.js';

/** Options of {@link createSameThreadMailboxWire}. */
export interface SameThreadMailboxWireOptions extends SmtWireLayoutOptions {
  /** How the controller detects TX completion for clients that do not know it (default `irq`). */
  readonly txDoneMethod?: 'irq' | 'poll';
}

/** Both ends of a wire on one thread; see {@link createSameThreadMailboxWire}. */
export interface SameThreadMailboxWire {
  /** The agent end: `transportConfig: { wire }`. */
  readonly wire: MonitoredMailboxWire;
  /** The platform end: give it to an {@link SmtResponder}. */
  readonly platformEnd: SmtPlatformEnd;
  /** The controller (to hold rings with `setInterceptor`). */
  readonly controller: SameThreadMailboxController;
}

/**
 * Creates a mailbox wire whose both ends run on this thread, every ring a task on `clock`: the
 * SMT areas (default: A2P channel 0 and P2A channel 0, 156-byte areas) and a
 * {@link SameThreadMailboxController} with one channel per area. Give `wire` to the agent and
 * `platformEnd` to an {@link SmtResponder}.
 *
 * @throws ScmiConfigError for invalid channel ids or area size.
 * @example
 * ```ts
 * const clock = new VirtualClock({ auto: true });
 * const { wire, platformEnd } = createSameThreadMailboxWire(clock, { a2p: [0, 1] });
 * const responder = new SmtResponder({ platform, agentId: 1, end: platformEnd, clock });
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig: { wire } });
 * ```
 */
export function createSameThreadMailboxWire(
  clock: Clock,
  options: SameThreadMailboxWireOptions = {},
): SameThreadMailboxWire {
  const layout = createSmtWireLayout(options);
  const controller = new SameThreadMailboxController(clock, {
    channels: Math.max(1, smtMailboxCount(layout)),
    ...(options.txDoneMethod === undefined ? {} : { txDoneMethod: options.txDoneMethod }),
  });
  return {
    wire: { layout, controller, monitor: new SmtWireMonitor() },
    platformEnd: { layout, remote: (index) => controller.remote(index) },
    controller,
  };
}
