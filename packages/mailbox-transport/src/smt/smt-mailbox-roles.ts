import { ScmiConfigError, formatValue } from '@scmi-ts/core';
import { checkSmtChannelSpecShape, type SmtChannelSpec } from './smt-wire-layout.js';

/**
 * What each end does with the mailbox channels of one SMT channel, worked out from its
 * {@link SmtChannelSpec} as Linux `mailbox_chan_setup` does from `mailbox_chan_validate`'s
 * indexes (`drivers/firmware/arm_scmi/transports/mailbox.c`).
 * @internal
 */
export interface SmtMailboxRoles {
  /**
   * The mailbox channel the agent requests first (Linux `smbox->chan`): A2P, the one it sends
   * commands on (and whose TX it completes in `mark_txdone`); P2A, the one the platform rings.
   */
  readonly main: number;
  /**
   * A second mailbox channel the agent requests with the same client, so that its rings reach the
   * same `rx_callback`: A2P, the reply channel (`chan_receiver`); P2A, the acknowledgement channel
   * (`chan_platform_receiver`). Undefined when the node has none.
   */
  readonly extra: number | undefined;
  /** Where the platform rings: A2P, the reply (`extra` or `main`); P2A, `main`. */
  readonly platformRings: number;
  /**
   * Where the agent rings: A2P, `main` (a command); P2A, the acknowledgement (`extra`, or `main`
   * when bidirectional), or undefined when no mailbox channel carries one (a 3-mbox node).
   */
  readonly agentRings: number | undefined;
}

/**
 * The {@link SmtMailboxRoles} of `spec` (a checked one: see {@link checkSmtMailboxRoles}).
 * @internal
 */
export function smtMailboxRoles(spec: SmtChannelSpec): SmtMailboxRoles {
  if (spec.direction === 'a2p') {
    const reply = spec.replyMailbox;
    return {
      main: spec.mailbox,
      extra: reply,
      platformRings: reply ?? spec.mailbox,
      agentRings: spec.mailbox,
    };
  }
  const ack = spec.ackMailbox;
  return {
    main: spec.mailbox,
    extra: typeof ack === 'number' ? ack : undefined,
    platformRings: spec.mailbox,
    agentRings: ack === 'none' ? undefined : (ack ?? spec.mailbox),
  };
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/**
 * Checks the fields of unidirectional mailbox layouts in `channels` (a layout's, whose
 * `direction`, `id` and `mailbox` were checked, or come from a wire factory), as Linux
 * `mailbox_chan_setup` would request their mailbox channels:
 *
 * - `channels` an array whose every entry is an object with only an {@link SmtChannelSpec}'s keys
 *   (a hole of a sparse array, `null`, or a misspelt `replymailbox` is refused, never skipped or
 *   ignored: the platform end's layout is checked here, before anything reads it);
 * - `replyMailbox` only on an A2P channel, `ackMailbox` only on a P2A one, each a mailbox index
 *   (`ackMailbox` also `'none'`) other than the channel's `mailbox`;
 * - a `replyMailbox` or `ackMailbox` index is no other role's, in this channel or another: a
 *   mailbox channel serves one client (Linux `mbox_request_channel` refuses a second, `-EBUSY`).
 *   Two channels on one `mailbox` are left to the caller.
 *
 * Which A2P and P2A channels share a device tree node is not in a layout (a node's two `shmem`
 * may have different ids, and a P2A channel's node need not be an A2P channel's of the same id),
 * so each channel is checked on its own; `createSmtWireLayout`'s `nodes` checks the counts of
 * each node as `mailbox_chan_validate` does.
 *
 * @throws ScmiConfigError naming the field, e.g. `${field}.channels[1].ackMailbox`,
 * `${field}.channels[0]` (a hole, or not an object), `${field}.channels[1].replymailbox` (an
 * unknown key).
 * @internal
 */
export function checkSmtMailboxRoles(channels: readonly SmtChannelSpec[], field: string): void {
  const list: unknown = channels;
  if (!Array.isArray(list)) {
    throw new ScmiConfigError(
      `${field}.channels`,
      `expected an array of channels, got ${formatValue(list)}`,
    );
  }
  // By index, not forEach: a hole of a sparse array is refused, not skipped.
  for (let i = 0; i < list.length; i++) {
    checkSmtChannelSpecShape(list[i], `${field}.channels[${i}]`);
  }
  const owners = new Map<number, string>();
  channels.forEach((c, i) => {
    owners.set(c.mailbox, `channels[${i}]'s mailbox (${c.direction}:${c.id})`);
  });
  // A channel's extra index equal to its own `mailbox` is refused before it claims: any owner
  // found is another role's.
  const claim = (index: number, at: string, role: string): void => {
    const owner = owners.get(index);
    if (owner !== undefined) {
      throw new ScmiConfigError(
        at,
        `mailbox channel ${index} is ${owner} already: a mailbox channel serves one role of one SCMI channel`,
      );
    }
    owners.set(index, role);
  };
  channels.forEach((c, i) => {
    const at = `${field}.channels[${i}]`;
    const label = `${c.direction}:${c.id}`;
    if (c.replyMailbox !== undefined) {
      if (c.direction !== 'a2p') {
        throw new ScmiConfigError(
          `${at}.replyMailbox`,
          `${label} is a P2A channel: only an A2P channel has a reply mailbox channel (DT tx_reply); a P2A one has an ackMailbox (rx_reply)`,
        );
      }
      if (!isIndex(c.replyMailbox) || c.replyMailbox === c.mailbox) {
        throw new ScmiConfigError(
          `${at}.replyMailbox`,
          `expected the index of the mailbox channel the platform rings for the reply, other than mailbox ${c.mailbox}, got ${formatValue(c.replyMailbox)}`,
        );
      }
      claim(c.replyMailbox, `${at}.replyMailbox`, `channels[${i}]'s replyMailbox (${label})`);
    }
    if (c.ackMailbox !== undefined) {
      if (c.direction !== 'p2a') {
        throw new ScmiConfigError(
          `${at}.ackMailbox`,
          `${label} is an A2P channel: only a P2A channel has an acknowledgement mailbox channel (DT rx_reply); an A2P one has a replyMailbox (tx_reply)`,
        );
      }
      if (c.ackMailbox !== 'none' && (!isIndex(c.ackMailbox) || c.ackMailbox === c.mailbox)) {
        throw new ScmiConfigError(
          `${at}.ackMailbox`,
          `expected the index of the mailbox channel the agent rings to acknowledge, other than mailbox ${c.mailbox}, or 'none', got ${formatValue(c.ackMailbox)}`,
        );
      }
      if (c.ackMailbox !== 'none') {
        claim(c.ackMailbox, `${at}.ackMailbox`, `channels[${i}]'s ackMailbox (${label})`);
      }
    }
  });
}
