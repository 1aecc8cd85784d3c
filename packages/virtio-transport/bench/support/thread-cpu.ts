/** The CPU time of the calling thread, for the benchmark's per-thread accounting. */
import { readFileSync } from 'node:fs';

/**
 * Nanoseconds the calling thread has run on a CPU since it started: the first field of Linux's
 * `/proc/thread-self/schedstat` (the scheduler's `sum_exec_runtime`, exact to the nanosecond,
 * user and kernel time together). Undefined where that file cannot be read (not Linux, or a
 * kernel without `CONFIG_SCHED_INFO`): the benchmark then prints no CPU line. Node 20 has no
 * per-thread CPU clock of its own (`process.cpuUsage()` is the whole process's; the per-thread
 * `process.threadCpuUsage()` came with Node 23.9).
 *
 * @example
 * ```ts
 * const before = threadCpuNs();
 * work();
 * const spent = before === undefined ? undefined : (threadCpuNs() as number) - before;
 * ```
 */
export function threadCpuNs(): number | undefined {
  try {
    const first = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0];
    const ns = Number(first);
    return Number.isFinite(ns) ? ns : undefined;
  } catch {
    return undefined;
  }
}
