/**
 * virtio-transport instruction counts: the user-space instructions one command costs, counted by
 * valgrind's callgrind, for the floor (the bare virtqueues), `no-core` (the real device and
 * platform driven by a bare driver) and `scmi` (core, the transport, the device and the platform),
 * device in the same thread, at depths 1 and 16 — the same subjects and command as `pnpm bench` —
 * and `awaited-floor`: the floor's driver sending each command from a loop that awaits a promise
 * of its response (`FloorDriver.runAwaited`), the least any asynchronous API adds per command.
 *
 * Why: the time benchmark runs on shared machines whose load moves its ratios by tens of percent
 * from run to run, more than most changes to the code. An instruction count does not move with the
 * load: V8 in `--predictable` mode (no background compilation or GC threads, fixed random and hash
 * seeds) with a predictable GC schedule (heap growing not timed by the wall clock) runs the same
 * instructions for the same input, to within a few hundred in billions. So a change's effect on
 * the CPU work per command can be measured exactly, before and after. What it
 * does not see: the kernel (futex and epoll system calls, wake-ups), cache misses, instructions per
 * cycle, and the other thread in worker mode — it is a companion of `pnpm bench`, not a stand-in.
 *
 * Each subject runs twice under callgrind, with `small` and `large` commands after the same
 * warm-up; the difference divided by `large - small` is the count per command, start-up, warm-up
 * and teardown cancelling out. Runs go two at a time (one per core). About 7 minutes on 2 cores.
 *
 * Run: pnpm --filter @scmi-ts/virtio-transport bench:instructions (needs valgrind: Debian's
 * `valgrind` package). Environment: INSTR_WARMUP (default 5000), INSTR_SMALL (5000), INSTR_LARGE
 * (25000) commands; INSTR_DEPTHS (default "1,16").
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const SUBJECTS = ['floor', 'awaited-floor', 'no-core', 'scmi'] as const;
type Subject = (typeof SUBJECTS)[number];

/**
 * V8 flags that make a run repeat the same instructions (see the file comment). Without
 * `--predictable-gc-schedule` the heap's growing and idle heuristics follow the wall clock, so a
 * run under valgrind on a loaded machine collected at other points: the no-core count moved from
 * 8,700 to 13,800 per command between runs of one build.
 */
const PREDICTABLE = [
  '--predictable',
  '--predictable-gc-schedule',
  '--random-seed=1',
  '--hash-seed=1',
];

function envCount(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got ${text}`);
  return n;
}

/** The instructions callgrind collected over one run of `subject`. */
function collected(subject: Subject, depth: number, warmUp: number, n: number): Promise<number> {
  const script = join(__dirname, 'support', 'instructions-subject.js');
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      process.execPath,
      ...PREDICTABLE,
      script,
      subject,
      String(depth),
      String(warmUp),
      String(n),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const total = /Collected : (\d+)/.exec(stderr);
      if (code !== 0 || total === null) {
        reject(
          new Error(
            `callgrind run of ${subject} (depth ${depth}, ${n} commands) failed (exit ${String(code)}):\n${stderr.slice(-2000)}`,
          ),
        );
        return;
      }
      resolve(Number(total[1]));
    });
  });
}

/** Instructions per command of `subject` at `depth`: two runs, side by side. */
async function perCommand(
  subject: Subject,
  depth: number,
  warmUp: number,
  small: number,
  large: number,
): Promise<number> {
  const [a, b] = await Promise.all([
    collected(subject, depth, warmUp, small),
    collected(subject, depth, warmUp, large),
  ]);
  return (b - a) / (large - small);
}

async function main(): Promise<void> {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    console.error(
      'bench:instructions needs valgrind on the PATH (Debian: apt-get install valgrind); not found',
    );
    process.exitCode = 2;
    return;
  }
  const warmUp = envCount('INSTR_WARMUP', 5000);
  const small = envCount('INSTR_SMALL', 5000);
  const large = envCount('INSTR_LARGE', 25000);
  if (large <= small) throw new Error('INSTR_LARGE must be more than INSTR_SMALL');
  const depths = (process.env.INSTR_DEPTHS ?? '1,16').split(',').map((d) => {
    const n = Number(d);
    if (!Number.isInteger(n) || n < 1 || n > 64)
      throw new Error(`INSTR_DEPTHS: depths from 1 to 64, got ${d}`);
    return n;
  });
  console.log(
    `virtio-transport instruction counts: ${probe.stdout.trim()} callgrind, node ${process.version} ${PREDICTABLE.join(' ')}; user-space instructions per Base PROTOCOL_VERSION round trip, device in the same thread, (${large.toLocaleString('en-US')} − ${small.toLocaleString('en-US')}) commands after ${warmUp.toLocaleString('en-US')} of warm-up`,
  );
  console.log(
    '  floor = the bare virtqueues (as-answered); awaited = the floor, each command awaited by its sender (a promise per command resolved with a copy of the response); no-core = the real device and platform from a bare driver; scmi = core + transport + device + platform; core + driver = scmi − no-core (what the agent side adds to the bare driver), of which an await = awaited − floor is what any promise-per-command API adds',
  );
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(7);
  for (const depth of depths) {
    const counts = {} as Record<Subject, number>;
    for (const subject of SUBJECTS)
      counts[subject] = await perCommand(subject, depth, warmUp, small, large);
    console.log(
      `depth ${String(depth).padStart(2)}: floor ${fmt(counts.floor)}  awaited ${fmt(counts['awaited-floor'])}  no-core ${fmt(counts['no-core'])}  scmi ${fmt(counts.scmi)}  core + driver ${fmt(counts.scmi - counts['no-core'])} (an await ${fmt(counts['awaited-floor'] - counts.floor).trim()})  scmi/floor ${(counts.scmi / counts.floor).toFixed(2)}  no-core/floor ${(counts['no-core'] / counts.floor).toFixed(2)}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
