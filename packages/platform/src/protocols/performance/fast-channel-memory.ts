import { types } from 'node:util';

/** Whether this host stores a u32 little-endian (checked once; the fast-channel words are). */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Whether this host is little-endian: fast-channel words are little-endian on the wire and are
 * accessed through a native `Uint32Array`, so a big-endian host is refused by the configuration.
 * @internal
 */
export function isLittleEndianHost(): boolean {
  return LITTLE_ENDIAN_HOST;
}

/**
 * The u32 words of the memory that holds the performance fast channels, as the platform reads and
 * writes them. Over a `SharedArrayBuffer` (an agent on another thread) each access is one
 * `Atomics.load` / `Atomics.store`: tear-free and ordered, like an MMIO word; over an
 * `ArrayBuffer` (an agent on the same thread) a plain typed-array access. A word past the end of
 * the memory (a buffer detached since) reads 0 and is not written. @internal
 */
export class FastChannelMemory {
  readonly #words: Uint32Array;
  readonly #shared: boolean;

  public constructor(memory: SharedArrayBuffer | ArrayBuffer) {
    this.#shared = types.isSharedArrayBuffer(memory);
    this.#words = new Uint32Array(memory, 0, Math.floor(memory.byteLength / 4));
  }

  /** The u32 at byte `offset` (a multiple of 4). */
  public read(offset: number): number {
    const i = offset >>> 2;
    if (i >= this.#words.length) return 0;
    return this.#shared ? Atomics.load(this.#words, i) : (this.#words[i] ?? 0);
  }

  /** Writes `value` (a u32) at byte `offset` (a multiple of 4). */
  public write(offset: number, value: number): void {
    const i = offset >>> 2;
    if (i >= this.#words.length) return;
    if (this.#shared) Atomics.store(this.#words, i, value);
    else this.#words[i] = value;
  }
}
