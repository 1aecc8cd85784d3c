import { ScmiConfigError, type ChannelDirection } from '@scmi-ts/core';
import {
  SMT_CHANNEL_FREE,
  SMT_DEFAULT_AREA_SIZE,
  SMT_MIN_AREA_SIZE,
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
  /** A2P channel ids, each an integer in 0..65535, no repeat (default `[0]`). */
  readonly a2p?: readonly number[];
  /** P2A channel ids, as `a2p` (default `[0]`; `[]` for a wire without notifications). */
  readonly p2a?: readonly number[];
  /**
   * Bytes of each SMT area: a multiple of 4 of at least 32 (default 156: the 28-byte SMT header +
   * 128-byte messages); all the areas of a wire together take at most 1 GiB.
   */
  readonly areaSize?: number;
}

/** Most bytes of the shared memory of one wire (every SMT area together): 1 GiB. */
const MAX_WIRE_BYTES = 2 ** 30;

/** `v` for a message: a string quoted, an object or a function named by its type only. */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/**
 * Allocates the shared memory of a wire: one SMT area per channel, A2P first, each with its own
 * mailbox channel (index = position). Every area starts zeroed with CHANNEL_FREE set, as platform
 * firmware leaves them at boot: an A2P area is the agent's to write, a P2A area has nothing
 * pending.
 *
 * Every option is checked before anything is allocated.
 *
 * @throws ScmiConfigError naming the field: `options` when it is not an object; `a2p` / `p2a`
 * when it is not an array; `a2p[i]` / `p2a[i]` when an id is not an integer in 0..65535, is
 * repeated, or (a hole of a sparse array) missing, or when its area would take the wire past
 * 1 GiB; `areaSize` when it is not a multiple of 4 of at least 32 bytes (the SMT header, then a
 * response's status) and at most 1 GiB.
 * @example
 * ```ts
 * const layout = createSmtWireLayout({ a2p: [0, 1], p2a: [0] });
 * layout.channels.map((c) => `${c.direction}:${c.id}`); // ['a2p:0', 'a2p:1', 'p2a:0']
 * ```
 */
export function createSmtWireLayout(options: SmtWireLayoutOptions = {}): SmtWireLayout {
  return buildSmtWireLayout(options);
}

/**
 * Checks that the options of a wire are an object (`undefined` is replaced by `{}` before).
 *
 * @throws ScmiConfigError naming `options` otherwise.
 * @internal
 */
export function checkSmtWireOptions(options: unknown): asserts options is object {
  if (typeof options !== 'object' || options === null) {
    throw new ScmiConfigError('options', `expected an object, got ${show(options)}`);
  }
}

/**
 * {@link createSmtWireLayout} for a mailbox controller of at most `maxChannels` channels: an id
 * past that many channels is refused too, before anything is allocated.
 *
 * @throws ScmiConfigError as {@link createSmtWireLayout}, and naming the first `a2p[i]` /
 * `p2a[i]` that would need mailbox channel `maxChannels` or more.
 * @internal
 */
export function buildSmtWireLayout(
  options: SmtWireLayoutOptions,
  maxChannels = Infinity,
): SmtWireLayout {
  checkSmtWireOptions(options);
  const areaSize = options.areaSize ?? SMT_DEFAULT_AREA_SIZE;
  if (
    typeof areaSize !== 'number' ||
    !Number.isInteger(areaSize) ||
    areaSize < SMT_MIN_AREA_SIZE ||
    areaSize > MAX_WIRE_BYTES ||
    areaSize % 4 !== 0
  ) {
    throw new ScmiConfigError(
      'areaSize',
      `expected a multiple of 4 of at least ${SMT_MIN_AREA_SIZE} bytes (the SMT header, a message header and a status) and at most 1 GiB, got ${show(areaSize)}`,
    );
  }
  const channels: SmtChannelSpec[] = [];
  const add = (direction: ChannelDirection, value: unknown): void => {
    const ids = value ?? [0];
    if (!Array.isArray(ids)) {
      throw new ScmiConfigError(direction, `expected an array of channel ids, got ${show(ids)}`);
    }
    const seen = new Set<number>();
    // By index, not forEach: a hole of a sparse array is refused, not skipped. It ends at the
    // first bad id, so a huge `length` costs at most 65537 steps.
    for (let i = 0; i < ids.length; i++) {
      const id: unknown = ids[i];
      const field = `${direction}[${i}]`;
      if (
        typeof id !== 'number' ||
        !Number.isInteger(id) ||
        id < 0 ||
        id > 0xffff ||
        seen.has(id)
      ) {
        throw new ScmiConfigError(
          field,
          `expected a unique channel id in 0..65535, got ${show(id)}`,
        );
      }
      const index = channels.length;
      if (index >= maxChannels) {
        throw new ScmiConfigError(
          field,
          `a wire has at most ${maxChannels} channels, A2P and P2A together (one mailbox channel each): ${direction}:${id} would be channel ${index + 1}`,
        );
      }
      if ((index + 1) * areaSize > MAX_WIRE_BYTES) {
        throw new ScmiConfigError(
          field,
          `the SMT areas of a wire take at most 1 GiB: with ${direction}:${id}, ${index + 1} areas of ${areaSize} bytes would not fit`,
        );
      }
      seen.add(id);
      channels.push({ direction, id, offset: index * areaSize, mailbox: index });
    }
  };
  add('a2p', options.a2p);
  add('p2a', options.p2a);
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
