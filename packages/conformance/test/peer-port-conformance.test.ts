import { runTransportConformance } from '@scmi-ts/conformance';
import { peerPortFixture } from './support/peer-port-fixture.js';

runTransportConformance(peerPortFixture);
