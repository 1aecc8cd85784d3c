/**
 * A module for `pnpm stress --fixture`: core's in-memory loopback, correct, exported twice (the
 * runner stresses it once) beside a value that is no fixture.
 */
import { loopbackFixture } from '../loopback-fixture.js';

export const loopback = loopbackFixture();
export const sameLoopback = loopback;
export const notAFixture = { name: 'loopback' };
