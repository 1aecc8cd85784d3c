/**
 * `pnpm stress` as a process: its exit codes are what a CI job or a shell loop reads, so each way
 * it ends is checked on the real entry point (`src/stress/main.ts` run by tsx, as the `stress`
 * script runs it). Each case is a small, same-thread campaign (the interleaving simulator on the
 * virtual clock) or ends before any campaign: about a second each.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const PACKAGE = join(__dirname, '..');
const TSX = require.resolve('tsx/cli');
const ARGS = [TSX, '--tsconfig', 'tsconfig.test.json', join('src', 'stress', 'main.ts')];
/** One fixture, no worker campaign: only the deterministic simulator runs. */
const SMALL = [
  '--transport',
  'mailbox',
  '--runs',
  '0',
  '--hostile-runs',
  '0',
  '--delayed-runs',
  '0',
];

function stress(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...ARGS, ...args], {
    cwd: PACKAGE,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('pnpm stress (src/stress/main.ts)', () => {
  it('should exit 0 after a clean campaign, printing its totals', () => {
    const r = stress(...SMALL, '--interleavings', '2', '--seed', '7');
    expect(r.stdout).toContain('interleavings:   2 schedules');
    expect(r.stdout).toContain('\ninvariant violations: 0\n');
    expect(r.status).toBe(0);
  });

  it('should exit 1 when nothing ran: an empty budget is not a pass', () => {
    const r = stress(...SMALL, '--interleavings', '0');
    expect(r.stderr).toContain('pnpm stress: nothing ran');
    expect(r.status).toBe(1);
  });

  it('should exit 2 with the usage for an unknown flag', () => {
    const r = stress('--bogus');
    expect(r.stderr).toMatch(/^pnpm stress: .*--bogus/);
    expect(r.stderr).toContain('Usage: pnpm stress');
    expect(r.status).toBe(2);
  });

  it('should exit 2 naming the fixtures when --transport matches none', () => {
    const r = stress('--transport', 'nosuch', '--interleavings', '1', '--runs', '0');
    expect(r.stderr).toContain('pnpm stress: no fixture matches --transport nosuch (fixtures: ');
    expect(r.stderr).toContain('--transport mailbox');
    expect(r.status).toBe(2);
  });

  it('should print the usage and exit 0 for --help', () => {
    const r = stress('--help');
    expect(r.stdout).toContain('Usage: pnpm stress');
    expect(r.status).toBe(0);
  });

  it('should stop quietly with 141 when the reader of its output goes away (… | head)', async () => {
    const child = spawn(process.execPath, [...ARGS, ...SMALL, '--interleavings', '2'], {
      cwd: PACKAGE,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    // The reader goes before the child writes anything: its first line meets EPIPE, whatever the
    // timing.
    child.stdout.destroy();
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(status).toBe(141);
  });
});
