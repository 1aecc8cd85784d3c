import {
  ScmiConfigError,
  formatValue,
  optionKeys,
  refuseUnknownKeys,
  type ChannelDirection,
} from '@scmi-ts/core';
import {
  SMT_CHANNEL_FREE,
  SMT_DEFAULT_AREA_SIZE,
  SMT_MIN_AREA_SIZE,
  SMT_STATUS_OFFSET,
} from './smt-layout.js';

/**
 * One SCMI channel of a wire: its SMT area and the mailbox channels that ring for it — what Linux
 * `mailbox_chan_validate` works out from a device tree node's `mboxes` and `shmem`
 * (`drivers/firmware/arm_scmi/transports/mailbox.c`).
 *
 * With `mailbox` alone the mailbox channel is bidirectional: it carries the agent's ring and the
 * platform's (DT `mboxes` with one entry per `shmem`: 1 mbox / 1 shmem, 2 / 2). The other fields
 * describe unidirectional mailbox channels (2 mbox / 1 shmem, 3 / 2, 4 / 2; see
 * {@link SmtNodeOptions}). Each channel is checked on its own: which A2P and P2A channels share a
 * device tree node is not in a layout (a node's two `shmem` may have different ids).
 *
 * @example
 * ```ts
 * // mboxes = <&tx 0>, <&rx 0>, <&rx 1>, <&tx 1>; shmem = <&a2p0>, <&p2a0>; (4 mbox / 2 shmem)
 * const channels: SmtChannelSpec[] = [
 *   { direction: 'a2p', id: 0, offset: 0, mailbox: 0, replyMailbox: 1 },
 *   { direction: 'p2a', id: 0, offset: 156, mailbox: 2, ackMailbox: 3 },
 * ];
 * ```
 */
export interface SmtChannelSpec {
  /** A2P (commands) or P2A (notifications and delayed responses). */
  readonly direction: ChannelDirection;
  /** The SCMI channel id (as the agent configuration names it). */
  readonly id: number;
  /** Byte offset of the channel's SMT area in {@link SmtWireLayout.memory}. */
  readonly offset: number;
  /**
   * Index of the mailbox channel of this SCMI channel: A2P, the one the agent rings for a command
   * (DT `tx`); P2A, the one the platform rings for a notification or delayed response (DT `rx`).
   * Bidirectional unless `replyMailbox` / `ackMailbox` says otherwise: the reply, or the agent's
   * acknowledgement, rings on it too.
   */
  readonly mailbox: number;
  /**
   * A2P only: the mailbox channel the platform rings for the reply (DT `tx_reply`, Linux
   * `chan_receiver`, `mboxes[1]` of a node of 2, 3 or 4 mboxes). `mailbox` then only carries the
   * agent's rings. Absent: the reply rings on `mailbox`.
   */
  readonly replyMailbox?: number;
  /**
   * P2A only, on unidirectional mailbox channels (its node's A2P channel has a `replyMailbox`):
   * the mailbox channel the agent rings to acknowledge a message the platform posted with
   * INTR_ENABLED (DT `rx_reply`, Linux `chan_platform_receiver`, `mboxes[3]` of a 4-mbox node),
   * or `'none'` for a 3-mbox node, where `mailbox` only carries the platform's rings and nothing
   * carries an acknowledgement (the platform polls CHANNEL_FREE). Absent: bidirectional, the
   * acknowledgement rings on `mailbox`.
   */
  readonly ackMailbox?: number | 'none';
}

// Every key of a channel spec, as a record the compiler checks against the interface: a field
// added there without being added here (or the reverse) does not compile.
const SMT_CHANNEL_SPEC_KEYS: ReadonlySet<string> = optionKeys<SmtChannelSpec>({
  direction: true,
  id: true,
  offset: true,
  mailbox: true,
  replyMailbox: true,
  ackMailbox: true,
});

/**
 * Checks that a hand-built layout's channel spec `c` (at `at`, e.g.
 * `transportConfig.wire.layout.channels[1]`) is an object with only the keys of an
 * {@link SmtChannelSpec}: a hole of a sparse `channels` array (`undefined`), `null` or a number is
 * refused, and so is an unknown key — a misspelt `replymailbox` would otherwise turn a
 * unidirectional layout bidirectional unnoticed. Its fields' values are the caller's to check.
 *
 * @throws ScmiConfigError naming `at`, or `${at}.${key}` for an unknown key.
 * @internal
 */
export function checkSmtChannelSpecShape(
  c: unknown,
  at: string,
): asserts c is Record<string, unknown> {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    throw new ScmiConfigError(
      at,
      `expected { direction, id, offset, mailbox }, got ${formatValue(c)}${c === undefined ? ' (a hole of a sparse array?)' : ''}`,
    );
  }
  refuseUnknownKeys(c, SMT_CHANNEL_SPEC_KEYS, at);
}

/**
 * The shared memory of one mailbox wire, as plain data (it crosses to a worker thread by
 * `postMessage`: the `SharedArrayBuffer` is shared, not copied): every SMT area back to back, and
 * which SCMI channel uses which area and which mailbox channels — the equivalent of the `shmem`
 * and `mboxes` properties of the device tree nodes, as Linux `mailbox_chan_validate` resolves them
 * (see {@link SmtChannelSpec}).
 *
 * @example
 * ```ts
 * const layout = createSmtWireLayout({ nodes: [{ shmem: [0], mboxes: 2 }] });
 * layout.channels; // [{ direction: 'a2p', id: 0, offset: 0, mailbox: 0, replyMailbox: 1 }]
 * ```
 */
export interface SmtWireLayout {
  /** The SMT areas. */
  readonly memory: SharedArrayBuffer;
  /** Bytes of each area. */
  readonly areaSize: number;
  /** The SCMI channels. */
  readonly channels: readonly SmtChannelSpec[];
}

/**
 * One transport node of the device tree (the `scmi` node, or a `protocol@N` child with its own
 * channels) as {@link SmtWireLayoutOptions.nodes} takes it: its `shmem` areas and how many
 * mailbox channels its `mboxes` lists. The combinations are Linux's (`mailbox_chan_validate`):
 *
 * | `shmem`      | `mboxes` | mailbox channels, in `mboxes` order (DT `mbox-names`)          |
 * | ------------ | -------- | -------------------------------------------------------------- |
 * | `[a2p]`      | 1        | `tx`: bidirectional, command and reply                         |
 * | `[a2p]`      | 2        | `tx`, `tx_reply`: unidirectional, the reply on its own channel |
 * | `[a2p, p2a]` | 2        | `tx`, `rx`: bidirectional, each SMT area its own               |
 * | `[a2p, p2a]` | 3        | `tx`, `tx_reply`, `rx`: unidirectional, no P2A acknowledgement |
 * | `[a2p, p2a]` | 4        | `tx`, `tx_reply`, `rx`, `rx_reply`: the acknowledgement's own  |
 *
 * Anything else (2 mboxes with 3 shmem, 1 mbox with 2 shmem, 5 mboxes…) Linux refuses, and so do
 * the wire factories, with an `ScmiConfigError` naming the field (`nodes[0].mboxes`).
 *
 * @example
 * ```ts
 * // scmi { mboxes = <&tx 0>, <&rx 0>, <&rx 1>, <&tx 1>; shmem = <&a2p0>, <&p2a0>; }
 * // protocol@13 { mboxes = <&tx 2>, <&rx 2>; shmem = <&a2p1>; }
 * const nodes: SmtNodeOptions[] = [
 *   { shmem: [0, 0], mboxes: 4 },
 *   { shmem: [1], mboxes: 2 },
 * ];
 * ```
 */
export interface SmtNodeOptions {
  /**
   * The node's SMT areas by SCMI channel id, DT `shmem`: `[a2pId]`, or `[a2pId, p2aId]` (the first
   * area is always the A2P one, as Linux maps `shmem[0]` to TX and `shmem[1]` to RX).
   */
  readonly shmem: readonly number[];
  /**
   * How many mailbox channels the node's `mboxes` lists (default: one per `shmem`, bidirectional).
   */
  readonly mboxes?: number;
}

/** Options of {@link createSmtWireLayout}. */
export interface SmtWireLayoutOptions {
  /** A2P channel ids, each an integer in 0..65535, no repeat (default `[0]`). */
  readonly a2p?: readonly number[];
  /** P2A channel ids, as `a2p` (default `[0]`; `[]` for a wire without notifications). */
  readonly p2a?: readonly number[];
  /**
   * The channels as device tree nodes, each with its `shmem` and its number of `mboxes`
   * ({@link SmtNodeOptions}): how to have unidirectional mailbox channels (a separate reply
   * channel, a P2A acknowledgement channel). Instead of `a2p` / `p2a`, not with them. Without it
   * every SMT area has one bidirectional mailbox channel.
   */
  readonly nodes?: readonly SmtNodeOptions[];
  /**
   * Bytes of each SMT area: a multiple of 4 of at least 32 (default 156: the 28-byte SMT header +
   * 128-byte messages); all the areas of a wire together take at most 1 GiB.
   */
  readonly areaSize?: number;
}

/** Most bytes of the shared memory of one wire (every SMT area together): 1 GiB. */
const MAX_WIRE_BYTES = 2 ** 30;

/**
 * Allocates the shared memory of a wire: one SMT area per channel, A2P first, each with its own
 * bidirectional mailbox channel (index = position) — or, with `nodes`, each node's areas (A2P,
 * then P2A) and mailbox channels in turn, unidirectional when the node has more mailbox channels
 * than areas (see {@link SmtNodeOptions}). Every area starts zeroed with CHANNEL_FREE set, as
 * platform firmware leaves them at boot: an A2P area is the agent's to write, a P2A area has
 * nothing pending.
 *
 * Every option is checked before anything is allocated.
 *
 * @throws ScmiConfigError naming the field: `options` when it is not an object; `a2p` / `p2a`
 * when it is not an array; `a2p[i]` / `p2a[i]` when an id is not an integer in 0..65535, is
 * repeated, or (a hole of a sparse array) missing, or when its area would take the wire past
 * 1 GiB; `areaSize` when it is not a multiple of 4 of at least 32 bytes (the SMT header, then a
 * response's status) and at most 1 GiB; `nodes` when it is not an array or comes with `a2p` /
 * `p2a`; `nodes[i]` when a node is not an object; `nodes[i].shmem` / `nodes[i].mboxes` for a
 * combination Linux `mailbox_chan_validate` refuses (the count that cannot be right is named:
 * `shmem` when there are not 1 or 2 areas, else `mboxes`); `nodes[i].shmem[j]` for an id that is
 * not an integer in 0..65535 or is another node's in the same place.
 * @example
 * ```ts
 * const layout = createSmtWireLayout({ a2p: [0, 1], p2a: [0] });
 * layout.channels.map((c) => `${c.direction}:${c.id}`); // ['a2p:0', 'a2p:1', 'p2a:0']
 * // MHUv2-style unidirectional mailbox channels, with a P2A acknowledgement channel:
 * createSmtWireLayout({ nodes: [{ shmem: [0, 0], mboxes: 4 }] }).channels;
 * // [{ direction: 'a2p', id: 0, offset: 0, mailbox: 0, replyMailbox: 1 },
 * //  { direction: 'p2a', id: 0, offset: 156, mailbox: 2, ackMailbox: 3 }]
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
    throw new ScmiConfigError('options', `expected an object, got ${formatValue(options)}`);
  }
}

/**
 * {@link createSmtWireLayout} for a mailbox controller of at most `maxChannels` channels: an id
 * past that many channels is refused too, before anything is allocated.
 *
 * @throws ScmiConfigError as {@link createSmtWireLayout}, and naming the first `a2p[i]` /
 * `p2a[i]` (or `nodes[i].mboxes`) that would need mailbox channel `maxChannels` or more.
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
      `expected a multiple of 4 of at least ${SMT_MIN_AREA_SIZE} bytes (the SMT header, a message header and a status) and at most 1 GiB, got ${formatValue(areaSize)}`,
    );
  }
  if (options.nodes !== undefined) return buildFromNodes(options, areaSize, maxChannels);
  const channels: SmtChannelSpec[] = [];
  const add = (direction: ChannelDirection, value: unknown): void => {
    const ids = value ?? [0];
    if (!Array.isArray(ids)) {
      throw new ScmiConfigError(
        direction,
        `expected an array of channel ids, got ${formatValue(ids)}`,
      );
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
          `expected a unique channel id in 0..65535, got ${formatValue(id)}`,
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
  return allocate(areaSize, channels);
}

/** The memory of `channels`' areas, each CHANNEL_FREE, and the layout over it. */
function allocate(areaSize: number, channels: SmtChannelSpec[]): SmtWireLayout {
  const areas = channels.length;
  const memory = new SharedArrayBuffer(Math.max(1, areas) * areaSize);
  const view = new DataView(memory);
  for (const c of channels) view.setUint32(c.offset + SMT_STATUS_OFFSET, SMT_CHANNEL_FREE, true);
  return { memory, areaSize, channels };
}

/**
 * The combinations of `mboxes` and `shmem` counts Linux `mailbox_chan_validate` accepts
 * (`drivers/firmware/arm_scmi/transports/mailbox.c`), as `mboxes/shmem`.
 */
const LINUX_MBOX_SHMEM = ['1/1', '2/1', '2/2', '3/2', '4/2'];

/** A channel id in 0..65535. */
function isChannelId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;
}

/**
 * {@link buildSmtWireLayout} for `options.nodes`: each node's areas (A2P, then P2A) and mailbox
 * channels (in `mboxes` order: `tx`, `tx_reply`, `rx`, `rx_reply`) follow the previous node's.
 */
function buildFromNodes(
  options: SmtWireLayoutOptions,
  areaSize: number,
  maxChannels: number,
): SmtWireLayout {
  const nodes: unknown = options.nodes;
  if (!Array.isArray(nodes)) {
    throw new ScmiConfigError(
      'nodes',
      `expected an array of { shmem, mboxes }, got ${formatValue(nodes)}`,
    );
  }
  if (options.a2p !== undefined || options.p2a !== undefined) {
    throw new ScmiConfigError(
      'nodes',
      'give the channels either as a2p / p2a (one bidirectional mailbox channel per SMT area) or as nodes, not both',
    );
  }
  const channels: SmtChannelSpec[] = [];
  const seen = { a2p: new Set<number>(), p2a: new Set<number>() };
  let mailboxes = 0;
  // By index: a hole of a sparse array is refused, not skipped; it ends at the first bad node.
  for (let i = 0; i < nodes.length; i++) {
    const at = `nodes[${i}]`;
    const node: unknown = nodes[i];
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      throw new ScmiConfigError(at, `expected { shmem, mboxes }, got ${formatValue(node)}`);
    }
    const { shmem, mboxes } = node as { shmem?: unknown; mboxes?: unknown };
    if (!Array.isArray(shmem)) {
      throw new ScmiConfigError(
        `${at}.shmem`,
        `expected [a2pId] or [a2pId, p2aId], got ${formatValue(shmem)}`,
      );
    }
    // Linux takes 1 or 2 shmem only (num_sh > 2 is -EINVAL; 0 finds no channel): named first,
    // whatever `mboxes` says.
    if (shmem.length < 1 || shmem.length > 2) {
      throw new ScmiConfigError(
        `${at}.shmem`,
        `${shmem.length} shmem: Linux (mailbox_chan_validate) takes a node with 1 (A2P) or 2 (A2P, P2A) SMT areas`,
      );
    }
    const count = mboxes === undefined ? shmem.length : mboxes;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
      throw new ScmiConfigError(
        `${at}.mboxes`,
        `expected how many mailbox channels the node lists, 1 to 4, got ${formatValue(mboxes)}`,
      );
    }
    // Linux mailbox_chan_validate: "Invalid channel descriptor … mbs:%d shm:%d".
    if (!LINUX_MBOX_SHMEM.includes(`${count}/${shmem.length}`)) {
      throw new ScmiConfigError(
        `${at}.mboxes`,
        `${count} mbox with ${shmem.length} shmem: Linux (mailbox_chan_validate) takes 1 mbox / 1 shmem, 2 / 1 (unidirectional), 2 / 2, 3 / 2 (unidirectional) or 4 / 2 (unidirectional, with a P2A acknowledgement channel)`,
      );
    }
    // By index (1 or 2 of them by now): a hole is refused, not skipped.
    const ids: number[] = [];
    for (let j = 0; j < shmem.length; j++) {
      const id: unknown = shmem[j];
      const direction = j === 0 ? 'a2p' : 'p2a';
      if (!isChannelId(id) || seen[direction].has(id)) {
        throw new ScmiConfigError(
          `${at}.shmem[${j}]`,
          `expected ${j === 0 ? 'the A2P' : 'the P2A'} channel id, an integer in 0..65535 no other node's shmem[${j}] has, got ${formatValue(id)}`,
        );
      }
      ids.push(id);
    }
    for (const [j, id] of ids.entries()) seen[j === 0 ? 'a2p' : 'p2a'].add(id);
    if (mailboxes + count > maxChannels) {
      throw new ScmiConfigError(
        `${at}.mboxes`,
        `a wire has at most ${maxChannels} mailbox channels: with this node's ${count} it would have ${mailboxes + count}`,
      );
    }
    if ((channels.length + ids.length) * areaSize > MAX_WIRE_BYTES) {
      throw new ScmiConfigError(
        `${at}.shmem`,
        `the SMT areas of a wire take at most 1 GiB: with this node's, ${channels.length + ids.length} areas of ${areaSize} bytes would not fit`,
      );
    }
    // Linux mailbox_chan_validate's mapping: 1 or 2 / 2, bidirectional (tx [, rx]); 2 / 1, 3 / 2,
    // 4 / 2: tx, a2p_rx_chan = 1 [, p2a_chan = 2 [, p2a_rx_chan = 3]].
    const base = mailboxes;
    const unidirectional = count > ids.length;
    const [a2pId, p2aId] = ids as [number, number | undefined];
    channels.push({
      direction: 'a2p',
      id: a2pId,
      offset: channels.length * areaSize,
      mailbox: base,
      ...(unidirectional ? { replyMailbox: base + 1 } : {}),
    });
    if (p2aId !== undefined) {
      channels.push({
        direction: 'p2a',
        id: p2aId,
        offset: channels.length * areaSize,
        mailbox: unidirectional ? base + 2 : base + 1,
        ...(unidirectional ? { ackMailbox: count === 4 ? base + 3 : 'none' } : {}),
      });
    }
    mailboxes += count;
  }
  return allocate(areaSize, channels);
}

/** The spec of channel `direction:id` in `layout`, if it has one. */
export function findSmtChannel(
  layout: SmtWireLayout,
  direction: ChannelDirection,
  id: number,
): SmtChannelSpec | undefined {
  return layout.channels.find((c) => c.direction === direction && c.id === id);
}

/** The number of mailbox channels `layout` uses (highest index + 1, every role counted). */
export function smtMailboxCount(layout: SmtWireLayout): number {
  return layout.channels.reduce((n, c) => {
    const ack = typeof c.ackMailbox === 'number' ? c.ackMailbox : -1;
    return Math.max(n, c.mailbox + 1, (c.replyMailbox ?? -1) + 1, ack + 1);
  }, 0);
}
