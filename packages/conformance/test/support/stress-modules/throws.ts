/** A module for `pnpm stress --fixture` that throws as it loads: reported, exit code 1. */
throw new Error('this fixture module is broken on purpose');
