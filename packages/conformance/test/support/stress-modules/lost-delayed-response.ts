/**
 * A module for `pnpm stress --fixture`: the mailbox worker fixture whose P2A channels never deliver
 * a delayed response (see `lostDelayedResponseFixture`), and the same wrapper left correct, as two
 * variants (`--variant lost`, `--variant correct`).
 */
import type { TransportFixture } from '@scmi-ts/conformance';
import { lostDelayedResponseFixture } from '../broken-worker-fixtures.js';

export const lost: TransportFixture = { ...lostDelayedResponseFixture(), variant: 'lost' };
export const correct: TransportFixture = {
  ...lostDelayedResponseFixture({ broken: false }),
  variant: 'correct',
};
