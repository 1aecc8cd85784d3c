import { runTransportConformance } from '@scmi-ts/conformance';
import { virtioFixture } from './support/fixture.js';

runTransportConformance(virtioFixture);
