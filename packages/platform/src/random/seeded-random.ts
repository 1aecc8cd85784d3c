import { mulberry32, mulberry32Mix } from '@scmi-ts/core';

/**
 * A small seeded pseudo-random generator (core's {@link @scmi-ts/core!mulberry32}) as an object:
 * the same seed gives the same sequence on every run and every machine, so a fault schedule or a
 * sensor's noise can be replayed from its seed. Not for cryptography.
 *
 * @example
 * ```ts
 * const rng = new SeededRandom(42);
 * if (rng.next() < 0.1) dropIt();
 * ```
 */
export class SeededRandom {
  readonly #next: () => number;

  /** Starts the sequence at `seed` (any number; taken modulo 2^32). */
  public constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  /** The next value, uniformly in [0, 1). */
  public next(): number {
    return this.#next();
  }
}

/**
 * A stateless hash of (`seed`, `n`) to [0, 1) (mulberry32's output function over a hash of both):
 * a value of a seeded stream picked by `n`, without walking the stream. Used for sensor noise,
 * which must not depend on how often a sensor is read.
 *
 * @example
 * ```ts
 * seededUnit(7, 3) === seededUnit(7, 3); // true: the same (seed, n), the same value
 * ```
 */
export function seededUnit(seed: number, n: number): number {
  return mulberry32Mix((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(n >>> 0, 0x85ebca6b)) >>> 0);
}
