import type { TransportFixture } from '@scmi-ts/conformance';
import { createLoopbackTransport } from '../../../core/test/support/loopback-transport.js';

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
        transport,
        setAgentSignalInterceptor: (interceptor) => {
          wire.intercept = interceptor === undefined ? undefined : (d) => interceptor(d.deliver);
        },
        // No `droppedSignals`: the loopback drops nothing it took (a signal after quiesce is
        // refused and counted by the channel's RX guard). A post it refuses (`wire.refusedPosts`:
        // its P2A channel freed while the platform is still connected) is the poster's to count
        // (`PlatformAgentLink.post`), not the wire's.
        close: () => Promise.resolve(),
      });
    },
  };
}
