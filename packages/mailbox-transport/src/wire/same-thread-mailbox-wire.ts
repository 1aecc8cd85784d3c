import type { Clock } from '@scmi-ts/core';
import {
  MAX_MAILBOX_CHANNELS,
  checkMailboxClock,
  controllerTxDoneMethod,
} from '../mailbox/mailbox-controller.js';
import { SameThreadMailboxController } from '../mailbox/same-thread-mailbox-controller.js';
import {
  buildSmtWireLayout,
  checkSmtWireOptions,
  smtMailboxCount,
  type SmtWireLayoutOptions,
} from '../smt/smt-wire-layout.js';
import { SmtWireMonitor, type MonitoredMailboxWire, type SmtPlatformEnd } from './mailbox-wire.js';

/** Options of {@link createSameThreadMailboxWire}. */
export interface SameThreadMailboxWireOptions extends SmtWireLayoutOptions {
  /**
   * How the controller detects TX completion: `irq` (default; every channel completes on the
   * TX-done interrupt, a client that knows too, as Linux's `mbox_request_channel` binds it) or
   * `poll` (a client that knows, as SCMI's A2P channels, then uses `ack`); anything else is
   * refused.
   */
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
 * {@link SameThreadMailboxController} with one bidirectional channel per area — or, with `nodes`,
 * the mailbox channels each device tree node lists (unidirectional ones: a separate reply channel,
 * a P2A acknowledgement channel; see {@link SmtNodeOptions}). Give `wire` to the agent and
 * `platformEnd` to an {@link SmtResponder}.
 *
 * Everything is checked before anything is made: a refused call leaves nothing behind.
 *
 * @throws ScmiConfigError naming the field: `clock` when it is not a clock; `txDoneMethod` when
 * it is neither `irq` nor `poll` (nor absent); `options`, `a2p`, `p2a`, `a2p[i]`, `p2a[i]`,
 * `areaSize`, `nodes…` as {@link createSmtWireLayout} refuses them; the first `a2p[i]` / `p2a[i]`
 * (or `nodes[i].mboxes`) past 1024 mailbox channels (the controller has at most 1024).
 * @example
 * ```ts
 * const clock = new VirtualClock({ auto: true });
 * const { wire, platformEnd } = createSameThreadMailboxWire(clock, { a2p: [0, 1] });
 * // Unidirectional mailbox channels: tx, tx_reply, rx and rx_reply for A2P 0 and P2A 0.
 * createSameThreadMailboxWire(clock, { nodes: [{ shmem: [0, 0], mboxes: 4 }] });
 * const responder = new SmtResponder({ platform, agentId: 1, end: platformEnd, clock });
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig: { wire } });
 * ```
 */
export function createSameThreadMailboxWire(
  clock: Clock,
  options: SameThreadMailboxWireOptions = {},
): SameThreadMailboxWire {
  checkMailboxClock(clock);
  checkSmtWireOptions(options);
  const txDoneMethod = controllerTxDoneMethod(options.txDoneMethod);
  const layout = buildSmtWireLayout(options, MAX_MAILBOX_CHANNELS);
  const controller = new SameThreadMailboxController(clock, {
    channels: Math.max(1, smtMailboxCount(layout)),
    txDoneMethod,
  });
  return {
    wire: { layout, controller, monitor: new SmtWireMonitor() },
    platformEnd: { layout, remote: (index) => controller.remote(index) },
    controller,
  };
}
