/**
 * A module for `pnpm stress --fixture`: core's loopback whose wire counts the late reply again as
 * it closes (see `countsAgainAtCloseFixture`; no worker mode: the same-thread seed phases run), and
 * the same wrapper left correct, as two variants (`--variant again`, `--variant correct`).
 */
import type { TransportFixture } from '@scmi-ts/conformance';
import { countsAgainAtCloseFixture } from '../broken-fixtures.js';

export const again: TransportFixture = { ...countsAgainAtCloseFixture(), variant: 'again' };
export const correct: TransportFixture = {
  ...countsAgainAtCloseFixture({ broken: false }),
  variant: 'correct',
};
