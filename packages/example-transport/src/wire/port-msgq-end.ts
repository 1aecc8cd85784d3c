import type { MessagePort } from 'node:worker_threads';
import { MsgqEndpoint, type MsgqEnd } from './msgq-end.js';
import type { MsgqWireOptions } from './same-thread-msgq-wire.js';

/**
 * A msgq end over a `MessagePort`: the real wire, across threads.
 *
 * @example
 * ```ts
 * end.close();
 * await end.closed; // every message sent before the close has been read (or dropped, counted)
 * ```
 */
export interface MsgqPortEnd extends MsgqEnd {
  /** Resolves once the port is closed: by either end, or by the other thread's exit. */
  readonly closed: Promise<void>;
  /** Closes the port; the other end reads what was sent before, then is told `gone`. */
  close(): void;
}

/**
 * Opens a msgq end over `port`, one end of a `MessageChannel` whose other end is opened the same
 * way (same `options`) in the other thread. A message is a `[direction, channelId, bytes]` frame
 * (`postMessage` copies it); a frame of another shape is dropped and counted, never thrown. When
 * the port closes, every receiver is told `gone`, after the messages sent before the close.
 *
 * @example
 * ```ts
 * const { port1, port2 } = new MessageChannel();
 * await host.callTransferring('openWire', [port2], port2); // the worker opens port2 the same way
 * const end = openMsgqPortEnd(port1, { a2p: [0], p2a: true });
 * ```
 */
export function openMsgqPortEnd(port: MessagePort, options: MsgqWireOptions = {}): MsgqPortEnd {
  let open = true;
  const end = new MsgqEndpoint([...(options.a2p ?? [0])], options.p2a ?? true, (d, id, bytes) => {
    if (open) port.postMessage([d, id, bytes]);
  });
  port.on('message', (frame: unknown) => {
    // §6: the other thread's frame is what it says only once looked at.
    const [direction, id, bytes] = Array.isArray(frame) ? (frame as unknown[]) : [];
    if (
      (direction !== 'a2p' && direction !== 'p2a') ||
      !Number.isInteger(id) ||
      Object.prototype.toString.call(bytes) !== '[object Uint8Array]'
    ) {
      end.dropped++;
      return;
    }
    end.arrive(direction, id as number, bytes as Uint8Array);
  });
  const closed = new Promise<void>((resolve) => {
    port.once('close', () => {
      open = false;
      end.goneAll();
      resolve();
    });
  });
  return Object.assign(end, { closed, close: () => port.close() });
}
