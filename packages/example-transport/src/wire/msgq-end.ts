import { ScmiTransportError, type ChannelDirection } from '@scmi-ts/core';

/**
 * What a msgq end tells the receiver of one channel: a message arrived, or the other end is gone.
 *
 * @example
 * ```ts
 * end.listen('a2p', 0, { message: (bytes) => console.log(bytes.byteLength), gone: () => {} });
 * ```
 */
export interface MsgqReceiver {
  /** The doorbell: one message (MSG layout; the receiver's own copy) arrived on the channel. */
  message(bytes: Uint8Array): void;
  /** The other end is gone (its thread died, its port closed): nothing will arrive any more. */
  gone(): void;
}

/**
 * One end of a msgq wire: SCMI messages in the MSG layout (header word, then payload) carried as
 * copied byte buffers to an SCMI channel of the other end, each delivery ringing its doorbell.
 *
 * A2P channels carry commands and their responses; P2A channel 0, when the wire has it, carries
 * notifications and delayed responses. A message is delivered after `send` returns, never inside
 * it, to the receiver listening then; one that arrives for a channel nobody listens to is dropped
 * and counted in `dropped` (the kit's `FixtureEnds.droppedSignals`).
 *
 * @example
 * ```ts
 * const { agent, platform } = createSameThreadMsgqWire(clock);
 * platform.listen('a2p', 0, { message: (bytes) => platform.send('a2p', 0, bytes), gone: () => {} });
 * agent.send('a2p', 0, request); // the platform's receiver gets a copy on a later clock task
 * ```
 */
export interface MsgqEnd {
  /** The A2P channel ids the wire carries. */
  readonly a2p: readonly number[];
  /** Whether the wire carries P2A messages (on P2A channel 0). */
  readonly p2a: boolean;
  /** Messages that arrived for a channel nobody listened to, or malformed: dropped. */
  readonly dropped: number;
  /** Copies `bytes` to the other end (the caller may reuse them at once). Never throws. */
  send(direction: ChannelDirection, channelId: number, bytes: Uint8Array): void;
  /**
   * Sets the receiver of one channel at this end, or removes it (`undefined`).
   *
   * @throws ScmiTransportError `E_CHANNEL_BUSY` when the channel has a receiver already.
   */
  listen(direction: ChannelDirection, channelId: number, receiver: MsgqReceiver | undefined): void;
}

/** Both wires' ends: receivers by channel, the drop count; the wire gives `carry`. @internal */
export class MsgqEndpoint implements MsgqEnd {
  public dropped = 0;
  readonly #receivers = new Map<string, MsgqReceiver>();
  readonly #carry: (direction: ChannelDirection, id: number, bytes: Uint8Array) => void;

  public constructor(
    public readonly a2p: readonly number[],
    public readonly p2a: boolean,
    carry: (direction: ChannelDirection, id: number, bytes: Uint8Array) => void,
  ) {
    this.#carry = carry;
  }

  public send(direction: ChannelDirection, channelId: number, bytes: Uint8Array): void {
    this.#carry(direction, channelId, bytes);
  }

  public listen(direction: ChannelDirection, id: number, receiver: MsgqReceiver | undefined): void {
    const key = `${direction}:${id}`;
    if (receiver === undefined) this.#receivers.delete(key);
    else if (this.#receivers.has(key))
      throw new ScmiTransportError('E_CHANNEL_BUSY', `msgq channel ${key} has a receiver already`);
    else this.#receivers.set(key, receiver);
  }

  /** A message from the other end: to its channel's receiver, or dropped and counted. */
  public arrive(direction: ChannelDirection, id: number, bytes: Uint8Array): void {
    const receiver = this.#receivers.get(`${direction}:${id}`);
    if (receiver === undefined) this.dropped++;
    else receiver.message(bytes);
  }

  /** The other end is gone: every receiver is told. */
  public goneAll(): void {
    for (const receiver of [...this.#receivers.values()]) receiver.gone();
  }
}
