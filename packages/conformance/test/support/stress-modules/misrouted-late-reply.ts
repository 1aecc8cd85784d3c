/**
 * A module for `pnpm stress --fixture`: the loopback whose A2P channels hand a late reply to the
 * next transfer (see `misroutedLateReplyFixture`), which the interleaving simulator must catch.
 */
import { misroutedLateReplyFixture } from '../broken-fixtures.js';

export const misroutedLateReply = misroutedLateReplyFixture();
