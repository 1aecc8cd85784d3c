/**
 * A module for `pnpm stress --fixture`: core's in-memory loopback, as a fixture whose same-thread
 * ends have no `setAgentSignalInterceptor` (the same-thread campaigns must report it, not crash).
 */
import type { TransportFixture } from '@scmi-ts/conformance';
import { loopbackFixture } from '../loopback-fixture.js';

const inner = loopbackFixture();
export const noInterceptor: TransportFixture = {
  ...inner,
  sameThread: async (ctx) => {
    const ends = { ...(await inner.sameThread(ctx)) };
    delete ends.setAgentSignalInterceptor;
    return ends;
  },
};
