/**
 * A module for `pnpm stress --fixture`: core's in-memory loopback, as a fixture whose capabilities
 * say it does not poll (`--polling` must be refused for it).
 */
import type { TransportFixture } from '@scmi-ts/conformance';
import { loopbackFixture } from '../loopback-fixture.js';

const inner = loopbackFixture();
export const noPolling: TransportFixture = {
  ...inner,
  capabilities: { ...inner.capabilities, polling: false },
};
