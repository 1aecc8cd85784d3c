import { RevokedError } from '@scmi-ts/devres';
import { types } from 'node:util';
import { describeArg } from '../errors/format-value.js';
import { ScmiConfigError, ScmiError } from '../errors/scmi-error.js';

/** 2^64: the first address past a 64-bit physical address space. */
const ADDRESS_LIMIT = 1n << 64n;

/** Whether this host stores a word's least significant byte first, as SCMI memory does. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * One region of the agent's physical address space: `memory` seen at address `base` — a
 * platform's fast channels, a statistics area. A `SharedArrayBuffer` when the platform runs on
 * another thread (both ends then see the same bytes), an `ArrayBuffer` when it runs on this one.
 */
export interface ScmiMemoryRegion {
  /** The address of `memory`'s byte 0 (a 64-bit physical address). */
  readonly base: bigint;
  /** The bytes. */
  readonly memory: SharedArrayBuffer | ArrayBuffer;
  /** A name for errors and diagnostics (default `region<i>`). */
  readonly name?: string;
}

/** Where an address range lies in a {@link ScmiMemoryMap}: its region and its offset there. */
export interface ScmiMemoryLocation {
  /** The region that holds the whole range. */
  readonly region: Required<ScmiMemoryRegion>;
  /** The range's first byte, as an offset in the region's memory. */
  readonly offset: number;
}

/**
 * The agent's view of physical memory the platform shares outside the transport — what Linux
 * reaches with `devm_ioremap` (a fast channel, `scmi_common_fastchannel_init`): regions of shared
 * bytes, each at a base address. Give it to `createAgent` (`AgentOptions.memoryMap`); a protocol
 * driver maps an address the platform gave it with `ProtocolHandle.ioremap`. An address no region
 * covers is not mapped (`ioremap` returns undefined), as an address outside the device's
 * reserved memory fails `devm_ioremap`.
 *
 * The regions are checked when the map is made: a `base` that is a bigint from 0 and a multiple of
 * 8, memory that is
 * an `ArrayBuffer` or `SharedArrayBuffer` ending at or below 2^64, no two regions overlapping. The
 * host must be little-endian (SCMI's words are): a big-endian host is refused.
 *
 * @throws ScmiConfigError `memoryMap[<i>].base` / `.memory` / `.name`, or `memoryMap` for a
 * list that is not an array or a big-endian host.
 * @example
 * ```ts
 * const fastChannels = new SharedArrayBuffer(4096); // also given to the platform, at this base
 * const memoryMap = new ScmiMemoryMap([{ base: 0x4000_0000n, memory: fastChannels }]);
 * const agent = await createAgent(container, { transport: 'mailbox', transportConfig, memoryMap });
 * ```
 */
export class ScmiMemoryMap {
  /** The regions, in address order. */
  public readonly regions: readonly Required<ScmiMemoryRegion>[];

  /** Checks `regions` (see the class) and keeps them in address order. */
  public constructor(regions: readonly ScmiMemoryRegion[]) {
    if (!LITTLE_ENDIAN_HOST) {
      throw new ScmiConfigError('memoryMap', 'a big-endian host is not supported');
    }
    if (!Array.isArray(regions)) {
      throw new ScmiConfigError(
        'memoryMap',
        `expected an array of regions, got ${describeArg(regions)}`,
      );
    }
    const checked: Required<ScmiMemoryRegion>[] = [];
    // An index loop, not map: a hole in the list (`[, region]`) is refused at its index.
    for (let i = 0; i < regions.length; i++) checked.push(checkRegion(regions[i], i));
    checked.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
    for (let i = 1; i < checked.length; i++) {
      const before = checked[i - 1] as Required<ScmiMemoryRegion>;
      const after = checked[i] as Required<ScmiMemoryRegion>;
      if (before.base + BigInt(before.memory.byteLength) > after.base) {
        throw new ScmiConfigError(
          'memoryMap',
          `regions ${before.name} and ${after.name} overlap (${hex(before.base)} + ${before.memory.byteLength} bytes > ${hex(after.base)})`,
        );
      }
    }
    this.regions = Object.freeze(checked);
  }

  /**
   * Where `size` bytes at `address` lie: the region that holds all of them and the offset there,
   * or undefined when no region does (a range across two regions included).
   *
   * @example
   * ```ts
   * const map = new ScmiMemoryMap([{ base: 0x1000n, memory: new SharedArrayBuffer(64) }]);
   * map.locate(0x1010n, 8); // { region: map.regions[0], offset: 16 }
   * map.locate(0x103cn, 8); // undefined: runs past the region's end
   * ```
   */
  public locate(address: bigint, size: number): ScmiMemoryLocation | undefined {
    for (const region of this.regions) {
      if (address < region.base) return undefined;
      const offset = address - region.base;
      if (offset + BigInt(size) <= BigInt(region.memory.byteLength)) {
        return { region, offset: Number(offset) };
      }
    }
    return undefined;
  }
}

function hex(n: bigint): string {
  return `0x${n.toString(16)}`;
}

function checkRegion(r: unknown, i: number): Required<ScmiMemoryRegion> {
  const field = `memoryMap[${i}]`;
  if (typeof r !== 'object' || r === null) {
    throw new ScmiConfigError(field, `expected a region { base, memory }, got ${describeArg(r)}`);
  }
  const { base, memory, name } = r as Partial<ScmiMemoryRegion>;
  if (typeof base !== 'bigint' || base < 0n || base % 8n !== 0n) {
    throw new ScmiConfigError(
      `${field}.base`,
      `expected a bigint from 0, a multiple of 8 (so that an access aligned in the memory is aligned at its address), got ${typeof base === 'bigint' ? hex(base) : describeArg(base)}`,
    );
  }
  // node:util's checks, not instanceof: a buffer made in another realm (a vm context) is one too.
  if (!types.isArrayBuffer(memory) && !types.isSharedArrayBuffer(memory)) {
    throw new ScmiConfigError(
      `${field}.memory`,
      `expected an ArrayBuffer or a SharedArrayBuffer, got ${describeArg(memory)}`,
    );
  }
  if (base + BigInt(memory.byteLength) > ADDRESS_LIMIT) {
    throw new ScmiConfigError(
      `${field}.base`,
      `${hex(base)} + ${memory.byteLength} bytes ends past the 64-bit address space`,
    );
  }
  if (name !== undefined && typeof name !== 'string') {
    throw new ScmiConfigError(`${field}.name`, `expected a string, got ${describeArg(name)}`);
  }
  // A resizable ArrayBuffer could shrink under a mapping (a growable SharedArrayBuffer only grows).
  if ((memory as { readonly resizable?: unknown }).resizable === true) {
    throw new ScmiConfigError(
      `${field}.memory`,
      'must not be a resizable ArrayBuffer: it could shrink under a mapping',
    );
  }
  return Object.freeze({ base, memory, name: name ?? `region${i}` });
}

/** An access width in bytes. */
type Width = 1 | 2 | 4 | 8;

/**
 * A mapped range of a {@link ScmiMemoryMap} — Linux's `void __iomem *` from `devm_ioremap`, with
 * `ioread8/16/32/64` and `iowrite8/16/32/64`: little-endian words at offsets from the mapped
 * address, each access one `Atomics` load or store (whole, never torn, and ordered with the
 * other end's accesses to a `SharedArrayBuffer`). An access must lie inside the mapping and be
 * aligned to its width (a region's base is a multiple of 8, so an offset aligned in the memory is
 * aligned at its address too); one that is not is a caller's bug, thrown as ScmiError
 * `E_ARGUMENT`. A detached `ArrayBuffer` (transferred away) throws RevokedError.
 *
 * A mapping made by `ProtocolHandle.ioremap` belongs to its protocol: once the agent's removal
 * quiesces the protocol, every access throws RevokedError, and its release drops the view of the
 * memory — nothing reaches the shared memory after the protocol quiesced.
 *
 * @example
 * ```ts
 * const level = ph.ioremap(channel.address, 4); // a PERF_LEVEL_SET fast channel
 * if (level !== undefined) level.write32(7); // Linux: iowrite32(level, fci->set_addr)
 * ```
 */
export class ScmiIoMem {
  /** The mapped address. */
  public readonly address: bigint;
  /** The mapped size in bytes. */
  public readonly size: number;
  readonly #name: string;
  readonly #isLive: () => boolean;
  #memory: SharedArrayBuffer | ArrayBuffer | undefined;
  readonly #offset: number;
  readonly #views = new Map<Width, Uint8Array | Uint16Array | Uint32Array | BigUint64Array>();

  /**
   * Maps `size` bytes at `offset` of `memory`, seen at `address`; every access first asks
   * `isLive` (false: RevokedError naming `name`). Made by `ProtocolHandle.ioremap`. @internal
   */
  public constructor(
    name: string,
    address: bigint,
    memory: SharedArrayBuffer | ArrayBuffer,
    offset: number,
    size: number,
    isLive: () => boolean,
  ) {
    this.#name = name;
    this.address = address;
    this.#memory = memory;
    this.#offset = offset;
    this.size = size;
    this.#isLive = isLive;
  }

  /** Whether accesses still reach the memory (false once the owner quiesced or unmapped it). */
  public get mapped(): boolean {
    return this.#memory !== undefined && this.#isLive();
  }

  /** Drops the view of the memory: every later access throws RevokedError. @internal */
  public unmap(): void {
    this.#memory = undefined;
    this.#views.clear();
  }

  /** The byte at `offset` (`ioread8`). */
  public read8(offset = 0): number {
    const [view, index] = this.#at(1, offset);
    return Atomics.load(view as Uint8Array, index);
  }

  /** The 16-bit word at `offset` (`ioread16`). */
  public read16(offset = 0): number {
    const [view, index] = this.#at(2, offset);
    return Atomics.load(view as Uint16Array, index);
  }

  /** The 32-bit word at `offset`, unsigned (`ioread32`). */
  public read32(offset = 0): number {
    const [view, index] = this.#at(4, offset);
    return Atomics.load(view as Uint32Array, index);
  }

  /** The 64-bit word at `offset` (`ioread64`). */
  public read64(offset = 0): bigint {
    const [view, index] = this.#at(8, offset);
    return Atomics.load(view as BigUint64Array, index);
  }

  /** Writes the byte `value` (0–0xff) at `offset` (`iowrite8`). */
  public write8(value: number, offset = 0): void {
    const [view, index] = this.#at(1, offset, value);
    Atomics.store(view as Uint8Array, index, value);
  }

  /** Writes the 16-bit `value` (0–0xffff) at `offset` (`iowrite16`). */
  public write16(value: number, offset = 0): void {
    const [view, index] = this.#at(2, offset, value);
    Atomics.store(view as Uint16Array, index, value);
  }

  /** Writes the 32-bit `value` (0–0xffffffff) at `offset` (`iowrite32`). */
  public write32(value: number, offset = 0): void {
    const [view, index] = this.#at(4, offset, value);
    Atomics.store(view as Uint32Array, index, value);
  }

  /** Writes the 64-bit `value` (0–2^64−1) at `offset` (`iowrite64`). */
  public write64(value: bigint, offset = 0): void {
    const [view, index] = this.#at(8, offset, value);
    Atomics.store(view as BigUint64Array, index, value);
  }

  /**
   * The view of `width`-byte words and the index of the one at `offset`, after the checks: live,
   * inside the mapping, aligned, and `value` (when writing) a whole number that fits the width.
   */
  #at(
    width: Width,
    offset: number,
    value?: number | bigint,
  ): [Uint8Array | Uint16Array | Uint32Array | BigUint64Array, number] {
    const memory = this.#memory;
    if (memory === undefined || !this.#isLive()) throw new RevokedError(this.#name);
    // A detached (transferred) ArrayBuffer has no bytes left: the memory is gone.
    if (memory.byteLength < this.#offset + this.size) {
      throw new RevokedError(this.#name, `${this.#name}: its memory was detached`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + width > this.size) {
      throw new ScmiError(
        'E_ARGUMENT',
        `${this.#name}: a ${width * 8}-bit access at offset ${typeof offset === 'number' ? offset : describeArg(offset)} is outside the ${this.size} bytes mapped`,
      );
    }
    const byte = this.#offset + offset;
    if (byte % width !== 0) {
      throw new ScmiError(
        'E_ARGUMENT',
        `${this.#name}: a ${width * 8}-bit access at ${hex(this.address + BigInt(offset))} is not aligned`,
      );
    }
    if (value !== undefined && !fits(value, width)) {
      throw new ScmiError(
        'E_ARGUMENT',
        `${this.#name}: ${describeArg(value)} is not a ${width * 8}-bit unsigned value`,
      );
    }
    let view = this.#views.get(width);
    if (view === undefined) {
      view =
        width === 1
          ? new Uint8Array(memory)
          : width === 2
            ? new Uint16Array(memory, 0, memory.byteLength >>> 1)
            : width === 4
              ? new Uint32Array(memory, 0, memory.byteLength >>> 2)
              : new BigUint64Array(memory, 0, Math.floor(memory.byteLength / 8));
      this.#views.set(width, view);
    }
    return [view, byte / width];
  }
}

/** Whether `value` is an unsigned whole number of `width` bytes. */
function fits(value: number | bigint, width: Width): boolean {
  if (width === 8) return typeof value === 'bigint' && value >= 0n && value < ADDRESS_LIMIT;
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** (width * 8)
  );
}
