import { runTransportConformance } from '@scmi-ts/conformance';
import { mailboxFixture } from './support/fixture.js';

runTransportConformance(mailboxFixture);
