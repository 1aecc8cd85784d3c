import { ScmiConfigError, type ChannelDirection } from '@scmi-ts/core';
import {
  SMT_CHANNEL_FREE,
  SMT_DEFAULT_AREA_SIZE,
  SMT_HEADER_SIZE,
  SMT_STATUS_OFFSET,
} from './smt-layout.js';

/** One SCMI channel of a wire: its SMT area and the mailbox channel that rings for it. */
export interface SmtChannelSpec {
  /** A2P (commands) or P2A (notifications and delayed responses). */
  readonly direction: ChannelDirection;
  /** The SCMI channel id (as the agent configuration names it). */
  readonly id: number;
  /** Byte offset of the channel's SMT area in {@link SmtWireLayout.memory}. */
  readonly offset: number;
  /** Index of the mailbox channel (doorbell) of this SCMI channel. */
  readonly mailbox: number;
}

/**
 * The shared memory of one mailbox wire, as plain data (it crosses to a worker thread by
 * `postMessage`: the `SharedArrayBuffer` is shared, not copied): every SMT area back to back, and
 * which SCMI channel uses which area and which mailbox channel — the equivalent of the `shmem` and
 * `mboxes` properties of the device tree node.
 */
export interface SmtWireLayout {
  /** The SMT areas. */
  readonly memory: SharedArrayBuffer;
  /** Bytes of each area. */
  readonly areaSize: number;
  /** The SCMI channels. */
  readonly channels: readonly SmtChannelSpec[];
}

/** Options of {@link createSmtWireLayout}. */
export interface SmtWireLayoutOptions {
  /** A2P channel ids (default `[0]`). */
  readonly a2p?: readonly number[];
  /** P2A channel ids (default `[0]`; `[]` for a wire without notifications). */
  readonly p2a?: readonly number[];
  /** Bytes of each SMT area (default 156: the 28-byte SMT header + 128-byte messages). */
  readonly areaSize?: number;
}

/**
 * Allocates the shared memory of a wire: one SMT area per channel, A2P first, each with its own
 * mailbox channel (index = position). Every area starts zeroed with CHANNEL_FREE set, as platform
 * firmware leaves them at boot: an A2P area is the agent's to write, a P2A area has nothing
 * pending.
 *
 * @throws ScmiConfigError when an id is invalid or repeated, or `areaSize` is not a multiple of 4
 * of at least 28 bytes.
 * @example
 * ```ts
 * const layout = createSmtWireLayout({ a2p: [0, 1], p2a: [0] });
 * layout.channels.map((c) => `${c.direction}:${c.id}`); // ['a2p:0', 'a2p:1', 'p2a:0']
 * ```
 */
export function createSmtWireLayout(options: SmtWireLayoutOptions = {}): SmtWireLayout {
  const areaSize = options.areaSize ?? SMT_DEFAULT_AREA_SIZE;
  if (!Number.isInteger(areaSize) || areaSize < SMT_HEADER_SIZE || areaSize % 4 !== 0) {
    throw new ScmiConfigError(
      'areaSize',
      `expected a multiple of 4 of at least ${SMT_HEADER_SIZE} bytes, got ${String(areaSize)}`,
    );
  }
  const channels: SmtChannelSpec[] = [];
  const add = (direction: ChannelDirection, ids: readonly number[]): void => {
    const seen = new Set<number>();
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id > 0xffff || seen.has(id)) {
        throw new ScmiConfigError(
          `${direction}[${i}]`,
          `expected a unique channel id in 0..65535, got ${String(id)}`,
        );
      }
      seen.add(id);
      const index = channels.length;
      channels.push({ direction, id, offset: index * areaSize, mailbox: index });
    });
  };
  add('a2p', options.a2p ?? [0]);
  add('p2a', options.p2a ?? [0]);
  const memory = new SharedArrayBuffer(Math.max(1, channels.length) * areaSize);
  const view = new DataView(memory);
  for (const c of channels) view.setUint32(c.offset + SMT_STATUS_OFFSET, SMT_CHANNEL_FREE, true);
  return { memory, areaSize, channels };
}

/** The spec of channel `direction:id` in `layout`, if it has one. */
export function findSmtChannel(
  layout: SmtWireLayout,
  direction: ChannelDirection,
  id: number,
): SmtChannelSpec | undefined {
  return layout.channels.find((c) => c.direction === direction && c.id === id);
}

/** The number of mailbox channels `layout` uses (highest index + 1). */
export function smtMailboxCount(layout: SmtWireLayout): number {
  return layout.channels.reduce((n, c) => Math.max(n, c.mailbox + 1), 0);
}
