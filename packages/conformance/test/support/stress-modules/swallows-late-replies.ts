/**
 * A module for `pnpm stress --fixture`: core's loopback whose wire swallows every late reply
 * uncounted (see `swallowsLateRepliesFixture`: no invariant breaks, no late reply is ever seen),
 * and the same wrapper left correct, as two variants (`--variant swallows`, `--variant correct`).
 */
import type { TransportFixture } from '@scmi-ts/conformance';
import { swallowsLateRepliesFixture } from '../broken-fixtures.js';

export const swallows: TransportFixture = { ...swallowsLateRepliesFixture(), variant: 'swallows' };
export const correct: TransportFixture = {
  ...swallowsLateRepliesFixture({ broken: false }),
  variant: 'correct',
};
