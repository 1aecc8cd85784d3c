/**
 * A module for `pnpm stress --fixture`: the mailbox worker fixture whose A2P channels hide every
 * hostile reply from the agent (see `hiddenBadMessagesFixture`), and the same wrapper left
 * correct, as two variants (`--variant hidden`, `--variant correct`).
 */
import type { TransportFixture } from '@scmi-ts/conformance';
import { hiddenBadMessagesFixture } from '../broken-worker-fixtures.js';

export const hidden: TransportFixture = { ...hiddenBadMessagesFixture(), variant: 'hidden' };
export const correct: TransportFixture = {
  ...hiddenBadMessagesFixture({ broken: false }),
  variant: 'correct',
};
