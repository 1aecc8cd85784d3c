import { runTransportConformance } from '@scmi-ts/conformance';
import { virtioSlowResetFixture } from './support/fixture.js';

// The whole kit again, over a device whose reset is acknowledged 2 ms late (see the fixture).
runTransportConformance(virtioSlowResetFixture);
