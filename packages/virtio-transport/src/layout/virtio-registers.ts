import { VirtioRegister } from './wire-layout.js';

const WORDS = 0x80 / 4;

/**
 * Typed access to the register file of a wire (see {@link VirtioRegister}): every access is an
 * `Atomics` operation on a 32-bit word, so a register written by one thread is seen whole by the
 * other. Both ends use it; each writes only its own registers.
 *
 * @example
 * ```ts
 * const registers = new VirtioRegisters(sab);
 * registers.write(VirtioRegister.STATUS_REQUEST, VirtioStatus.ACKNOWLEDGE);
 * registers.increment(VirtioRegister.STATUS_SEQUENCE);
 * ```
 */
export class VirtioRegisters {
  readonly #words: Uint32Array;

  /** Views the register file at the start of `sab`. */
  public constructor(sab: SharedArrayBuffer) {
    this.#words = new Uint32Array(sab, 0, WORDS);
  }

  /** Reads a register. */
  public read(reg: VirtioRegister): number {
    return Atomics.load(this.#words, reg >> 2);
  }

  /** Writes a register. */
  public write(reg: VirtioRegister, value: number): void {
    Atomics.store(this.#words, reg >> 2, value >>> 0);
  }

  /** Sets bits in a register; returns the previous value. */
  public or(reg: VirtioRegister, bits: number): number {
    return Atomics.or(this.#words, reg >> 2, bits >>> 0);
  }

  /** Replaces a register; returns the previous value. */
  public exchange(reg: VirtioRegister, value: number): number {
    return Atomics.exchange(this.#words, reg >> 2, value >>> 0);
  }

  /** Adds one to a register (modulo 2³²); returns the new value. */
  public increment(reg: VirtioRegister): number {
    return (Atomics.add(this.#words, reg >> 2, 1) + 1) >>> 0;
  }

  /** Reads a 64-bit feature word from its low and high registers. */
  public readFeatures(low: VirtioRegister, high: VirtioRegister): bigint {
    return (BigInt(this.read(high)) << 32n) | BigInt(this.read(low));
  }

  /** Writes a 64-bit feature word to its low and high registers. */
  public writeFeatures(low: VirtioRegister, high: VirtioRegister, features: bigint): void {
    this.write(low, Number(features & 0xffffffffn));
    this.write(high, Number((features >> 32n) & 0xffffffffn));
  }
}
