import type { TeeSharedMemory } from './tee-shared-memory.js';

/**
 * The type of one invocation parameter (GlobalPlatform `TEE_PARAM_TYPE_*`, Linux
 * `TEE_IOCTL_PARAM_ATTR_TYPE_*`: the same numbers). Values carry two 32-bit words; memory
 * references point into shared memory registered with the TEE.
 *
 * @example
 * ```ts
 * const p: TeeParam = { type: TeeParamType.VALUE_INPUT, a: channelHandle, b: 0 };
 * ```
 */
export enum TeeParamType {
  /** Unused slot. */
  NONE = 0,
  /** Two words to the TEE. */
  VALUE_INPUT = 1,
  /** Two words from the TEE. */
  VALUE_OUTPUT = 2,
  /** Two words both ways. */
  VALUE_INOUT = 3,
  /** A buffer the TEE reads. */
  MEMREF_INPUT = 5,
  /** A buffer the TEE writes; the TEE reports the size it wrote (or needs). */
  MEMREF_OUTPUT = 6,
  /** A buffer the TEE reads and writes. */
  MEMREF_INOUT = 7,
}

/** An unused parameter slot. */
export interface TeeNoneParam {
  /** Discriminant. */
  readonly type: TeeParamType.NONE;
}

/** A value parameter: two unsigned 32-bit words. */
export interface TeeValueParam {
  /** Discriminant. */
  readonly type: TeeParamType.VALUE_INPUT | TeeParamType.VALUE_OUTPUT | TeeParamType.VALUE_INOUT;
  /** First word. */
  readonly a: number;
  /** Second word. */
  readonly b: number;
}

/**
 * A memory reference: `size` bytes at `offset` in a registered shared memory. After an
 * invocation, the returned parameter's `size` is what the TEE reported — **not checked** against
 * the buffer: a caller must bound it before reading (a hostile TEE may report more than it has).
 */
export interface TeeMemrefParam {
  /** Discriminant. */
  readonly type: TeeParamType.MEMREF_INPUT | TeeParamType.MEMREF_OUTPUT | TeeParamType.MEMREF_INOUT;
  /** The shared memory (registered with the TEE through the same context). */
  readonly shm: TeeSharedMemory;
  /** Byte offset in the shared memory. */
  readonly offset: number;
  /** Bytes referenced (before the call) or reported by the TEE (after). */
  readonly size: number;
}

/** One invocation parameter; at most four per call. */
export type TeeParam = TeeNoneParam | TeeValueParam | TeeMemrefParam;

/** Parameters per call (GlobalPlatform `TEE_NUM_PARAMS`). */
export const TEE_NUM_PARAMS = 4;

/** True for the three memory-reference types. */
export function isMemrefType(type: number): boolean {
  return (
    type === TeeParamType.MEMREF_INPUT ||
    type === TeeParamType.MEMREF_OUTPUT ||
    type === TeeParamType.MEMREF_INOUT
  );
}

/** True for the three value types. */
export function isValueType(type: number): boolean {
  return (
    type === TeeParamType.VALUE_INPUT ||
    type === TeeParamType.VALUE_OUTPUT ||
    type === TeeParamType.VALUE_INOUT
  );
}

/**
 * Builds a value parameter.
 *
 * @example
 * ```ts
 * const handle = teeValue(TeeParamType.VALUE_INPUT, 3);
 * ```
 */
export function teeValue(type: TeeValueParam['type'], a = 0, b = 0): TeeValueParam {
  return { type, a: a >>> 0, b: b >>> 0 };
}

/**
 * Builds a memory-reference parameter (`size` bytes at `offset`, default: the whole memory).
 *
 * @example
 * ```ts
 * const request = teeMemref(TeeParamType.MEMREF_INPUT, shm, 0, 12);
 * ```
 */
export function teeMemref(
  type: TeeMemrefParam['type'],
  shm: TeeSharedMemory,
  offset = 0,
  size = shm.size - offset,
): TeeMemrefParam {
  return { type, shm, offset, size };
}
