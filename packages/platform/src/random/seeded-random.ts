/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same sequence on
 * every run and every machine, so a fault schedule or a sensor's noise can be replayed from its
 * seed. Not for cryptography.
 *
 * @example
 * ```ts
 * const rng = new SeededRandom(42);
 * if (rng.next() < 0.1) dropIt();
 * ```
 */
export class SeededRandom {
  #state: number;

  /** Starts the sequence at `seed` (any number; taken modulo 2^32). */
  public constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next value, uniformly in [0, 1). */
  public next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    return mix(this.#state);
  }
}

/**
 * A stateless hash of (`seed`, `n`) to [0, 1): the n-th value of a seeded stream, without
 * walking the stream. Used for sensor noise, which must not depend on how often a sensor is read.
 */
export function seededUnit(seed: number, n: number): number {
  return mix((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(n >>> 0, 0x85ebca6b)) >>> 0);
}

function mix(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
