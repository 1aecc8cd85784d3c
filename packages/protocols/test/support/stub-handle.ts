import {
  PayloadWriter,
  type CallOptions,
  type ProtocolDriver,
  type ProtocolHandle,
  type XferOps,
} from '@scmi-ts/core';

/**
 * What a stub answers for a command of the protocol (its payload as little-endian words), or
 * undefined to let the platform answer it; `forward` asks the platform.
 */
export type TransactStub = (
  messageId: number,
  words: readonly number[],
  forward: () => Promise<Uint8Array>,
) => Promise<Uint8Array> | undefined;

/** The words of a command's payload, as `transact` was given it. */
function payloadWords(payload: Parameters<XferOps['transact']>[1]): number[] {
  const w = new PayloadWriter(64);
  if (typeof payload === 'function') payload(w);
  const bytes = typeof payload === 'function' ? w.bytesWritten() : (payload ?? new Uint8Array());
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words: number[] = [];
  for (let at = 0; at + 4 <= bytes.byteLength; at += 4) words.push(view.getUint32(at, true));
  return words;
}

/**
 * `driver` over a handle whose commands `stub` may answer (what the emulated platform does not
 * send: a doorbell, a hostile description…); every other call goes to the real handle. A view
 * (`withCallOptions`) is wrapped too, or a client's view would go around the stub.
 */
export function stubbedDriver<T>(driver: ProtocolDriver<T>, stub: TransactStub): ProtocolDriver<T> {
  const wrap = (ph: ProtocolHandle): ProtocolHandle => {
    const xfer = new Proxy(ph.xfer, {
      get(target, key): unknown {
        if (key === 'transact') {
          const transact: XferOps['transact'] = (messageId, payload, options) => {
            const forward = (): Promise<Uint8Array> => target.transact(messageId, payload, options);
            return stub(messageId, payloadWords(payload), forward) ?? forward();
          };
          return transact;
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    return new Proxy(ph, {
      get(target, key): unknown {
        if (key === 'xfer') return xfer;
        if (key === 'withCallOptions') {
          return (options: CallOptions): ProtocolHandle => wrap(target.withCallOptions(options));
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
  };
  return { ...driver, init: (ph, group) => driver.init(wrap(ph), group) };
}
