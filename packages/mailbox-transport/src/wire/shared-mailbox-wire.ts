import { SharedDoorbell, type Clock, type SharedDoorbellOptions } from '@scmi-ts/core';
import {
  SharedMailboxController,
  SharedMailboxRemote,
} from '../mailbox/shared-mailbox-controller.js';
import {
  MAX_MAILBOX_CHANNELS,
  checkMailboxClock,
  controllerTxDoneMethod,
  type MailboxRemoteEnd,
} from '../mailbox/mailbox-controller.js';
import {
  buildSmtWireLayout,
  checkSmtWireOptions,
  smtMailboxCount,
  type SmtWireLayout,
  type SmtWireLayoutOptions,
} from '../smt/smt-wire-layout.js';
import { SmtWireMonitor, type MonitoredMailboxWire, type SmtPlatformEnd } from './mailbox-wire.js';

/**
 * A wire across threads as plain data: post it to the platform's thread (the buffers are shared,
 * not copied) and open its end there with {@link openSharedPlatformEnd}.
 */
export interface SharedMailboxWireSpec {
  /** The SMT areas. */
  readonly layout: SmtWireLayout;
  /** The mailbox controller's region. */
  readonly region: SharedArrayBuffer;
}

/** Options of {@link createSharedMailboxWire}. */
export interface SharedMailboxWireOptions extends SmtWireLayoutOptions {
  /**
   * How the controller detects TX completion: `irq` (default; every channel completes on the
   * TX-done interrupt, a client that knows too, as Linux's `mbox_request_channel` binds it) or
   * `poll` (a client that knows, as SCMI's A2P channels, then uses `ack`); anything else is
   * refused (never taken for `poll`).
   */
  readonly txDoneMethod?: 'irq' | 'poll';
  /** The clock of TX-done polling on the agent's side (default a `RealClock`). */
  readonly clock?: Clock;
  /**
   * The poll window of the agent's doorbells, in µs (`SharedMailboxControllerOptions`); default
   * 50 (0 on a single CPU), 0 sleeps after one look. The platform's end takes its own in
   * {@link openSharedPlatformEnd}.
   */
  readonly pollWindowUs?: number;
}

/** The agent end of a wire across threads, and its spec for the other thread. */
export interface SharedMailboxWire {
  /** The agent end: `transportConfig: { wire }`. */
  readonly wire: MonitoredMailboxWire;
  /** What the platform's thread needs: pass it to {@link openSharedPlatformEnd} there. */
  readonly spec: SharedMailboxWireSpec;
  /**
   * The wire's controller (also `wire.controller`), as its class: tell it when the platform's
   * thread is gone ({@link SharedMailboxController.markRemoteGone}).
   */
  readonly controller: SharedMailboxController;
}

/**
 * Creates a mailbox wire whose platform end runs on another thread: SMT areas in a
 * `SharedArrayBuffer` and a {@link SharedMailboxController} (doorbells on `Atomics`), one
 * bidirectional mailbox channel per area, or those of each device tree node of `nodes` (see
 * {@link SmtNodeOptions}). Keep `wire` for the agent; post `spec` to the platform's worker.
 *
 * Everything is checked before anything is made: a refused call leaves nothing behind.
 *
 * @throws ScmiConfigError naming the field: `txDoneMethod` when it is neither `irq` nor `poll`
 * (nor absent); `clock` when it is given and is not a clock; `pollWindowUs` when it is not a number
 * from 0 to 1,000,000; `options`, `a2p`, `p2a`, `a2p[i]`, `p2a[i]`, `areaSize`, `nodes…` as
 * {@link createSmtWireLayout} refuses them; the first `a2p[i]` / `p2a[i]` (or `nodes[i].mboxes`)
 * past 1024 mailbox channels (the controller has at most 1024).
 * @example
 * ```ts
 * const { wire, spec } = createSharedMailboxWire({ a2p: [0], p2a: [0] });
 * // 3 unidirectional mailbox channels (MHUv2-like): tx, tx_reply, rx; no P2A acknowledgement.
 * createSharedMailboxWire({ nodes: [{ shmem: [0, 0], mboxes: 3 }] });
 * await host.call('smtOpen', { agentId: 1, spec });
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig: { wire } });
 * ```
 */
export function createSharedMailboxWire(options: SharedMailboxWireOptions = {}): SharedMailboxWire {
  checkSmtWireOptions(options);
  const txDoneMethod = controllerTxDoneMethod(options.txDoneMethod);
  if (options.clock !== undefined) checkMailboxClock(options.clock);
  const pollWindowUs = SharedDoorbell.checkPollWindow(options.pollWindowUs);
  const layout = buildSmtWireLayout(options, MAX_MAILBOX_CHANNELS);
  const region = SharedMailboxController.allocate(
    Math.max(1, smtMailboxCount(layout)),
    txDoneMethod,
  );
  const controller = new SharedMailboxController(region, {
    pollWindowUs,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return {
    wire: { layout, controller, monitor: new SmtWireMonitor() },
    spec: { layout, region },
    controller,
  };
}

/**
 * Opens the platform end of a wire made by {@link createSharedMailboxWire}, on the platform's
 * thread. Each remote end is opened once, when first asked for, with `doorbell` (the poll window
 * of the platform's doorbells: default 50 µs, or 0 on a single CPU; 0 sleeps after one look).
 *
 * @throws ScmiTransportError `E_MBOX_REGION` when `spec.region` is not a mailbox region;
 * ScmiConfigError `pollWindowUs` for a bad poll window.
 * @example
 * ```ts
 * // in the worker
 * const end = openSharedPlatformEnd(spec);
 * const responder = new SmtResponder({ platform, agentId: 1, end, clock: new RealClock() });
 * ```
 */
export function openSharedPlatformEnd(
  spec: SharedMailboxWireSpec,
  doorbell: SharedDoorbellOptions = {},
): SmtPlatformEnd {
  const options = { pollWindowUs: SharedDoorbell.checkPollWindow(doorbell.pollWindowUs) };
  const remotes = new Map<number, MailboxRemoteEnd>();
  return {
    layout: spec.layout,
    remote: (index) => {
      let remote = remotes.get(index);
      if (remote === undefined) {
        remote = new SharedMailboxRemote(spec.region, index, options);
        remotes.set(index, remote);
      }
      return remote;
    },
  };
}
