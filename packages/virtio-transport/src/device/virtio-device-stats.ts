import type { ChainDefect } from '../ring/descriptor-chain.js';

/**
 * Why the device refused a chain the driver made available (each counted in
 * {@link VirtioDeviceStats.badChains} too): a {@link ChainDefect} its walk found, on either queue;
 * `head-held`, a head the device still holds; `avail-idx-jump`, an available index that moved by
 * more than the queue size (the device then needs a reset); on the eventq, `eventq-readable`, a
 * buffer with a device-readable part, and `eventq-too-small`, one under 8 bytes.
 */
export type VirtioBadChainReason =
  ChainDefect | 'head-held' | 'avail-idx-jump' | 'eventq-readable' | 'eventq-too-small';

/**
 * Counters of a {@link VirtioScmiDevice} (plain data: they cross to the main thread from a worker).
 */
export interface VirtioDeviceStats {
  /** Status writes the device acted on. */
  readonly statusWrites: number;
  /** Resets (status 0 written by the driver). */
  readonly resets: number;
  /**
   * Status writes refused because they cleared a bit the device held (only a write of 0 resets)
   * or set one that is not the driver's: the device then needs a reset and takes no more buffers.
   * A FAILED write that cleared a bit the device held counts here too (the device stops on it all
   * the same).
   */
  readonly badStatusWrites: number;
  /** Times the device entered DRIVER_OK and connected to the platform. */
  readonly starts: number;
  /**
   * Status writes whose FEATURES_OK the device refused (the bit left clear, as the specification
   * asks): the driver asked for a feature the device did not offer, or not for VERSION_1.
   */
  readonly featuresRefused: number;
  /**
   * DRIVER_OK refused (the device then needs a reset): before FEATURES_OK, queues not ready or
   * of a size the device does not support, or the platform refused to connect the agent.
   */
  readonly startsRefused: number;
  /** Commands taken from the cmdq and handed to the platform. */
  readonly commands: number;
  /** Commands answered at once (returned with their response). */
  readonly responses: number;
  /**
   * Responses (at once or later) larger than the writable part of their command's buffer, cut to
   * fit: the agent gets the length the device wrote and judges the response short. A later
   * response is cut at header + `maxMsgSize` too (what the link carries: the device keeps no more
   * of a buffer it holds), however large the buffer.
   */
  readonly responsesTruncated: number;
  /**
   * Commands whose `platform.handle` threw (a platform breaking its contract), returned with
   * length 0; the device goes on with the next.
   */
  readonly platformErrors: number;
  /** Commands whose response the platform will give later (`link.respond`). */
  readonly deferred: number;
  /** Later responses written into their command's buffer. */
  readonly lateResponses: number;
  /** Later responses that matched no outstanding command buffer (unsolicited, duplicates, after a reset): dropped. */
  readonly unmatchedResponses: number;
  /**
   * Outstanding commands given back unanswered (length 0) because the driver sent a new command
   * with the same header (protocol, message id, token): the agent reuses a token only after it
   * gave up on its transfer, and a later response could not tell the two apart.
   */
  readonly supersededCommands: number;
  /**
   * Malformed chains from the driver (returned with length 0), eventq buffers with a readable
   * part or too small for any eventq message (under 8 bytes: header and a word; returned with
   * length 0), and available entries whose head the device still holds (refused and not
   * returned, so what the device holds stays bounded by the queue size).
   */
  readonly badChains: number;
  /**
   * {@link VirtioDeviceStats.badChains} by reason (only the reasons seen): which rule of the
   * specification a driver broke, e.g. `{ 'address-out-of-bounds': 2, 'head-held': 1 }`.
   */
  readonly badChainReasons: Readonly<Partial<Record<VirtioBadChainReason, number>>>;
  /**
   * Requests shorter than a header, larger than a message buffer, with a writable part too small
   * for a response's header and status (not given to the platform: the agent could not read the
   * outcome), or not a command (reserved header bits, another message type: the platform drops
   * them), returned with length 0.
   */
  readonly badRequests: number;
  /** Notifications written to the eventq. */
  readonly notificationsPosted: number;
  /** Notifications dropped for want of an eventq buffer (the specification allows it). */
  readonly notificationsDropped: number;
  /**
   * Notifications that fit none of the eventq buffers the device held, dropped (the specification
   * allows it); one larger than the link carries (header + `maxMsgSize`) fits none, as the device
   * keeps only that much of each buffer.
   */
  readonly eventsTooLarge: number;
  /** Delayed responses written to the eventq. */
  readonly delayedResponsesPosted: number;
  /** Delayed responses that had to wait for an eventq buffer (none held, or none they fit). */
  readonly delayedResponsesQueued: number;
  /** Delayed responses refused because the waiting queue was full (the platform posts them again). */
  readonly delayedResponsesRefused: number;
  /**
   * Delayed responses refused because they are larger than the link carries (header +
   * `maxMsgSize`): no eventq buffer sized as the specification asks can hold one.
   */
  readonly delayedResponsesTooLarge: number;
  /** Used-buffer notifications sent to the driver. */
  readonly interrupts: number;
  /** Driver notifications (kicks) handled. */
  readonly kicks: number;
  /**
   * Passes over a queue (cmdq or eventq) that reached their budget — twice the queue size of looks
   * at the available ring, re-checks included — and left the rest to a new task of the device's
   * clock: a driver making entries available as fast as the device takes them, or an `avail.idx`
   * that does not hold still, cannot hold the device's thread. Nothing is lost: that task goes on
   * whether or not the driver notifies again.
   */
  readonly passesCutShort: number;
}

/** The device's mutable counters. @internal */
export type MutableVirtioDeviceStats = {
  -readonly [K in Exclude<keyof VirtioDeviceStats, 'badChainReasons'>]: number;
};

/** Fresh counters, all zero. @internal */
export function createVirtioDeviceStats(): MutableVirtioDeviceStats {
  return {
    statusWrites: 0,
    resets: 0,
    badStatusWrites: 0,
    starts: 0,
    featuresRefused: 0,
    startsRefused: 0,
    commands: 0,
    responses: 0,
    responsesTruncated: 0,
    platformErrors: 0,
    deferred: 0,
    lateResponses: 0,
    unmatchedResponses: 0,
    supersededCommands: 0,
    badChains: 0,
    badRequests: 0,
    notificationsPosted: 0,
    notificationsDropped: 0,
    eventsTooLarge: 0,
    delayedResponsesPosted: 0,
    delayedResponsesQueued: 0,
    delayedResponsesRefused: 0,
    delayedResponsesTooLarge: 0,
    interrupts: 0,
    kicks: 0,
    passesCutShort: 0,
  };
}
