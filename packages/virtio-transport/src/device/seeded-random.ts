/**
 * A small seeded generator of numbers in [0, 1) (mulberry32): the device's completion shuffles
 * and fault probabilities, and the seeds tests print. Not for cryptography.
 *
 * @example
 * ```ts
 * const random = createSeededRandom(42);
 * random(); // the same sequence for the same seed
 * ```
 */
export function createSeededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
