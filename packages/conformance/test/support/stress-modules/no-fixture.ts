/** A module for `pnpm stress --fixture` that exports no fixture: a usage error. */
export const nothingHere = 42;
