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
 * writes them: each access one `Atomics.load` / `Atomics.store` — over a `SharedArrayBuffer` (an
 * agent on another thread) tear-free and ordered, like an MMIO word; over an `ArrayBuffer` (an
 * agent on the same thread) as a plain access (as core's `ScmiIoMem`, the agent's side, does). A
 * word past the end of the memory (a buffer detached since) reads 0 and is not written.
 * @internal
 */
export class FastChannelMemory {
  readonly #words: Uint32Array;

  public constructor(memory: SharedArrayBuffer | ArrayBuffer) {
    this.#words = new Uint32Array(memory, 0, Math.floor(memory.byteLength / 4));
  }

  /** The u32 at byte `offset` (a multiple of 4). */
  public read(offset: number): number {
    const i = offset >>> 2;
    if (i >= this.#words.length) return 0;
    return Atomics.load(this.#words, i);
  }

  /** Writes `value` (a u32) at byte `offset` (a multiple of 4). */
  public write(offset: number, value: number): void {
    const i = offset >>> 2;
    if (i >= this.#words.length) return;
    Atomics.store(this.#words, i, value);
  }
}
