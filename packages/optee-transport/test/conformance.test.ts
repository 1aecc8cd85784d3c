import { runTransportConformance } from '@scmi-ts/conformance';
import { opteeFixture, opteeMsgFixture } from './support/fixture.js';

// SMT mode (static shared memory, PROCESS_SMT_CHANNEL) and MSG mode (PROCESS_MSG_CHANNEL).
runTransportConformance(opteeFixture);
runTransportConformance(opteeMsgFixture);
