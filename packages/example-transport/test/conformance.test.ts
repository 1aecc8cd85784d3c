import { runTransportConformance } from '@scmi-ts/conformance';
import { msgqFixture } from './support/fixture.js';

runTransportConformance(msgqFixture);
