/** What {@link mulberry32} adds to its state at each step (a Weyl sequence). */
const MULBERRY32_STEP = 0x6d2b79f5;

/**
 * A small seeded pseudo-random generator (mulberry32), the one every package of this repository
 * draws from: the same seed gives the same sequence on every run and every machine, so a fault
 * schedule, a device's completion order, a sensor's noise or a campaign's reply delays can be
 * replayed from the seed a test prints. Returns numbers in [0, 1); `seed` is cut to an unsigned
 * 32-bit integer first (`-1` seeds as `0xffffffff`, `1.5` as `1`). Never throws. Not for
 * cryptography.
 *
 * @example
 * ```ts
 * const random = mulberry32(42);
 * random(); // 0.6011037519201636, on every run
 * random(); // 0.44829055899754167
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + MULBERRY32_STEP) >>> 0;
    return mulberry32Mix(a);
  };
}

/**
 * The output function of {@link mulberry32}: the value in [0, 1) of a state (the state after its
 * step). A stateless hash of a 32-bit integer to [0, 1) — for a value that must depend on a key
 * rather than on how many values were drawn before (a sensor's noise at a given time).
 *
 * @example
 * ```ts
 * mulberry32Mix((42 + 0x6d2b79f5) >>> 0) === mulberry32(42)(); // true: the first value of seed 42
 * ```
 */
export function mulberry32Mix(state: number): number {
  let t = state >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
