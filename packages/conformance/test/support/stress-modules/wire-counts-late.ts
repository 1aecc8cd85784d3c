/**
 * A module for `pnpm stress --fixture`: core's loopback whose wire counts every late reply itself
 * in `droppedSignals` instead of handing it to core (see `wireCountsLateRepliesFixture`: every
 * count is right, no late reply reaches the agent), and the same wrapper left correct, as two
 * variants (`--variant counts-late`, `--variant correct`).
 */
import type { TransportFixture } from '@scmi-ts/conformance';
import { wireCountsLateRepliesFixture } from '../wire-counts-late-fixture.js';

export const countsLate: TransportFixture = {
  ...wireCountsLateRepliesFixture(),
  variant: 'counts-late',
};
export const correct: TransportFixture = {
  ...wireCountsLateRepliesFixture({ broken: false }),
  variant: 'correct',
};
