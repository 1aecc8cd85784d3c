/**
 * Scale benchmark for devres: register N resources and tear them down (quiesce + release), and
 * release N resources early in random order, at N = 10,000 and N = 100,000. Prints ns per
 * resource and the 100k/10k ratio; linear scaling means a ratio near 1 (target ≤ 1.5).
 *
 * The sizes are interleaved over many rounds and each sample starts from a collected heap
 * (`--expose-gc`), so that machine noise and leftover garbage hit both sizes alike; the median
 * of the rounds is reported.
 *
 * Run: pnpm --filter @scmi-ts/devres bench
 */
import { Devres } from '../src/index.js';

const noop = (): void => undefined;

async function registerAndTearDown(n: number): Promise<number> {
  const start = process.hrtime.bigint();
  const res = new Devres('bench');
  for (let i = 0; i < n; i++) res.add({ name: 'r', value: i, quiesce: noop, release: noop });
  await res.releaseAll();
  return Number(process.hrtime.bigint() - start) / n;
}

async function earlyRelease(n: number): Promise<number> {
  const res = new Devres('bench');
  const handles = Array.from({ length: n }, (_, i) =>
    res.add({ name: 'r', value: i, release: noop }),
  );
  // Deterministic shuffle (xorshift) so runs are comparable.
  let x = 0x9e3779b9;
  for (let i = handles.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [handles[i], handles[j]] = [
      handles[j] as (typeof handles)[number],
      handles[i] as (typeof handles)[number],
    ];
  }
  const start = process.hrtime.bigint();
  for (const h of handles) await res.release(h);
  const ns = Number(process.hrtime.bigint() - start) / n;
  await res.releaseAll();
  return ns;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const collect = (globalThis as { gc?: () => void }).gc;

async function sample(fn: (n: number) => Promise<number>, n: number): Promise<number> {
  collect?.();
  await new Promise((r) => setImmediate(r));
  return fn(n);
}

async function main(): Promise<void> {
  if (collect === undefined) console.log('note: run with --expose-gc for stable numbers');
  let ok = true;
  for (const [label, fn] of [
    ['register + teardown', registerAndTearDown],
    ['early release (random order)', earlyRelease],
  ] as const) {
    // Interleave the sizes so that machine noise hits both alike.
    const small: number[] = [];
    const large: number[] = [];
    await fn(10_000); // warm-up
    await fn(100_000);
    for (let round = 0; round < 15; round++) {
      small.push(await sample(fn, 10_000));
      large.push(await sample(fn, 100_000));
    }
    const a = median(small);
    const b = median(large);
    const ratio = b / a;
    ok &&= ratio <= 1.5;
    console.log(
      `${label.padEnd(30)} 10k: ${a.toFixed(0).padStart(5)} ns/resource   100k: ${b.toFixed(0).padStart(5)} ns/resource   ratio ${ratio.toFixed(2)} (target <= 1.5)`,
    );
  }
  console.log(ok ? 'devres scales linearly' : 'devres does NOT scale linearly');
  process.exitCode = ok ? 0 : 1;
}

void main();
