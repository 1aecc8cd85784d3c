/** The SCMI subject's work, shared by the time and instruction benchmarks. */
import type { XferOps } from '@scmi-ts/core';

/**
 * Runs `n` Base PROTOCOL_VERSION commands through `ops` (the Base protocol's transfer operations)
 * with `depth` in flight: `depth` loops, each sending one and awaiting its response before the
 * next, as a caller of `transact` does.
 *
 * @example
 * ```ts
 * await protocolVersionLoops(agent.xfer(0x10), 16, 40_000);
 * ```
 */
export async function protocolVersionLoops(ops: XferOps, depth: number, n: number): Promise<void> {
  let issued = 0;
  const loop = async (): Promise<void> => {
    while (issued < n) {
      issued++;
      await ops.transact(0, undefined, { rxSize: 4 });
    }
  };
  await Promise.all(Array.from({ length: depth }, loop));
}
