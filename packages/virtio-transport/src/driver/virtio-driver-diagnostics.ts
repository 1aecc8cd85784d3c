import type { ChannelCounters } from '@scmi-ts/core';
import type { UsedRingDefect } from '../ring/driver-virtqueue.js';

/** Where the driver end of a wire is in its life. */
export type VirtioDriverState =
  'idle' | 'negotiating' | 'live' | 'failed' | 'resetting' | 'reset' | 'closed';

/** What the driver records about one of its channels. */
export interface VirtioChannelRecord {
  /** Core's counters of the channel (they outlive a failed probe here). */
  readonly counters: ChannelCounters;
  /** Times the channel was freed (exactly 1 after teardown). */
  frees: number;
  /** Virtio buffers (see {@link VirtioDriverDiagnostics}) the channel freed at teardown. */
  buffersFreed: number;
  /**
   * What proved that the device corrupts the channel's used ring, once it did: the virtqueue is
   * broken and no longer read (Linux `BAD_RING`); undefined while it is sound.
   */
  broken: UsedRingDefect | undefined;
  /**
   * cmdq: slots whose command ended (timed out, failed) while the device still holds their buffer
   * — never reused until it returns it, or the reset reclaims it (Linux keeps such a message off
   * its free list likewise, `virtio_mark_txdone`). A gauge: up as a command is abandoned, down as
   * its buffer comes back; left as it was at teardown. Always 0 on the eventq.
   */
  abandonedSlots: number;
}

/** @internal A channel's record as it starts: nothing freed, sound, no slot abandoned. */
export function newChannelRecord(counters: ChannelCounters): VirtioChannelRecord {
  return { counters, frees: 0, buffersFreed: 0, broken: undefined, abandonedSlots: 0 };
}

/**
 * What the driver end of a wire records about itself, for tests, tools and the demo: its state,
 * the negotiated features, every channel with core's counters (readable after a failed probe,
 * when no agent object exists), buffer reclamation at teardown, and violations — a callback that
 * ran against a freed channel, which must never happen.
 *
 * Every buffer count is in **virtio buffers**, as Linux's `virtqueue_add_sgs` adds them and
 * `virtqueue_get_buf` / `virtqueue_detach_unused_buf` return them: one descriptor chain the driver
 * makes available. A cmdq message is one buffer (its readable request and writable response
 * descriptors together), an eventq entry is one buffer. So after a teardown the device did not
 * acknowledge, `buffersAllocated` equals `leakedBuffers`.
 *
 * @example
 * ```ts
 * await agent.remove();
 * const d = wire.driverDiagnostics;
 * expect(d.violations).toEqual([]);
 * expect(d.channels.get('a2p:0')?.frees).toBe(1);
 * ```
 */
export class VirtioDriverDiagnostics {
  /** Where the driver is in its life. */
  public state: VirtioDriverState = 'idle';
  /** Features negotiated with the device (0 before FEATURES_OK). */
  public features = 0n;
  /** Every channel the driver set up, by label (`a2p:0`, `p2a:0`). */
  public readonly channels = new Map<string, VirtioChannelRecord>();
  /** Callbacks that ran against a freed channel (must stay empty). */
  public readonly violations: string[] = [];
  /** Buffers the device still held at teardown, reclaimed after it acknowledged the reset. */
  public reclaimedBuffers = 0;
  /**
   * Buffers of timed-out or aborted commands that the device returned later: with a late reply
   * (dropped and counted), or unanswered (length 0: no reply, not counted as one).
   */
  public lateReturns = 0;
  /** Buffers left to a device that never acknowledged the reset (never freed nor reused). */
  public leakedBuffers = 0;
  /**
   * Virtqueues marked broken: the device corrupted their used ring (see
   * {@link VirtioChannelRecord.broken}). Each is counted once, with one `invalid` bad message.
   */
  public brokenVirtqueues = 0;
  /** Resets the device did not acknowledge in time. */
  public resetTimeouts = 0;
  /** Used-buffer notifications delivered after the driver closed its end (dropped). */
  public signalsAfterClose = 0;
  /**
   * Buffers the device had returned (used ring entries) that the driver had not read when the
   * device acknowledged its reset: replies and events that came after their channel stopped
   * reading, dropped with the reclaim of their buffers (Linux's `virtqueue_detach_unused_buf`
   * takes them back the same way). Counted only when the used index is plausible (no further than
   * the chains in flight); a corrupt one counts nothing. A reset the device did not acknowledge
   * ({@link VirtioDriverDiagnostics.resetTimeouts}) counts those it had returned when the wait
   * ended; their buffers stay with it (`leakedBuffers`), and what it returns later nobody reads.
   */
  public unreadAtReset = 0;
  /**
   * Of {@link VirtioDriverDiagnostics.unreadAtReset}, those no callback had counted: a used-buffer
   * notification refused after its channel quiesced counts its elements in core's
   * `refusedAfterQuiesce`, and they are not counted here again. What the reset dropped that nothing
   * else counted.
   */
  public uncountedAtReset = 0;
  /** Buffers whose guest memory is allocated and not freed (those leaked included). */
  public buffersAllocated = 0;
}
