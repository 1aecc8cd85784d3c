import type { TransportFixture } from '@scmi-ts/conformance';
import type { Transport } from '@scmi-ts/core';
import { createLoopbackTransport } from '../../../core/test/support/loopback-transport.js';

/**
 * Core's loopback turns a reply too short to carry a status (header and less than 4 bytes) into a
 * PROTOCOL_ERROR status for its transfer, and counts nothing: the kit's hostile-reply case
 * (`truncate 6`) catches that. The mailbox, virtio and OP-TEE transports count such a reply as an
 * invalid bad message and drop it; so does this wrapper (interrupt completion only, which is what
 * the kit uses), so that the kit can be tested against a transport that conforms.
 */
function countShortReplies(transport: Transport): Transport {
  return {
    ...transport,
    setupChannel: (setup) =>
      transport.setupChannel({
        ...setup,
        sink: {
          rx: (header, ctx) => {
            if (setup.direction === 'a2p' && ctx instanceof Uint8Array && ctx.byteLength < 8) {
              setup.sink.badMessage('invalid');
              return;
            }
            setup.sink.rx(header, ctx);
          },
          badMessage: (reason) => {
            setup.sink.badMessage(reason);
          },
        },
      }),
  };
}

/**
 * The in-memory loopback transport of core's tests as a conformance fixture. With
 * `brokenQuiesce`, its channels skip quiesce: the kit must catch that.
 */
export function loopbackFixture(options: { brokenQuiesce?: boolean } = {}): TransportFixture {
  return {
    name: 'loopback',
    capabilities: { p2a: true, interrupt: true, polling: true, outOfOrder: true, worker: false },
    sameThread: ({ platform, clock, agentId }) => {
      const { transport, wire } = createLoopbackTransport({
        platform,
        clock,
        agentId,
        brokenQuiesce: options.brokenQuiesce === true,
      });
      return Promise.resolve({
        transport: countShortReplies(transport),
        setAgentSignalInterceptor: (interceptor) => {
          wire.intercept = interceptor === undefined ? undefined : (d) => interceptor(d.deliver);
        },
        droppedSignals: () => wire.refusedPosts,
        close: () => Promise.resolve(),
      });
    },
  };
}
