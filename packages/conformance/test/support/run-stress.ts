/**
 * `pnpm stress …` as a process, for the tests that read what it prints and how it exits: its real
 * entry point (`src/stress/main.ts` run by tsx, as the `stress` script runs it), from the
 * conformance package.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The conformance package's directory. */
export const PACKAGE = join(__dirname, '..', '..');

/** The node arguments that start `pnpm stress` (tsx, the test tsconfig, the entry point). */
export const STRESS_ARGS = [
  require.resolve('tsx/cli'),
  '--tsconfig',
  'tsconfig.test.json',
  join('src', 'stress', 'main.ts'),
];

/** How a `pnpm stress` run ended. */
export interface StressEnded {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `pnpm stress` with `args`, as started from `initCwd` (default the package): pnpm runs the
 * script from the conformance package and says where it was started in `INIT_CWD` (set here: the
 * jest run's own would leak in). At most 60 s.
 */
export function runStress(args: readonly string[], initCwd = PACKAGE): StressEnded {
  const r = spawnSync(process.execPath, [...STRESS_ARGS, ...args], {
    cwd: PACKAGE,
    env: { ...process.env, INIT_CWD: initCwd },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
