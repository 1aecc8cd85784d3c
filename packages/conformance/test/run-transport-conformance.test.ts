import { runTransportConformance } from '@scmi-ts/conformance';
import { loopbackFixture } from './support/loopback-fixture.js';

// The kit tested against core's in-memory loopback transport.
runTransportConformance(loopbackFixture());
