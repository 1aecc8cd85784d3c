import { ScmiError } from '@scmi-ts/core';

/**
 * `id` when it names one of the `count` domains (an integer from 0 to `count − 1`); checked before
 * a transfer is taken, so nothing is sent for a caller's bad id (Linux's protocols return -EINVAL
 * for `domain >= num_domains`). A test that wants to see how a platform answers an unknown id
 * sends it raw with `agent.transact`.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what`.
 * @internal
 */
export function domainArg(id: number, count: number, what: string): number {
  if (Number.isInteger(id) && id >= 0 && id < count) return id;
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${String(id)} is not one of the platform's ${count} (0 to ${count - 1})`,
  );
}

/**
 * `value` when it is an integer from 0 to `max`, the range of the wire field `what` stands for:
 * the payload writer takes any number modulo 2^32, so -1 would go out as 0xFFFFFFFF.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` (nothing sent).
 * @internal
 */
export function uintArg(value: number, what: string, max = 0xffffffff): number {
  if (Number.isInteger(value) && value >= 0 && value <= max) return value;
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${String(value)} is not an integer from 0 to 0x${max.toString(16).toUpperCase()}`,
  );
}

/**
 * `value` as a 64-bit unsigned integer: a bigint or a safe integer from 0 to 2^64 − 1.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` (nothing sent).
 * @internal
 */
export function u64Arg(value: bigint | number, what: string): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new ScmiError('E_ARGUMENT', `${what} ${String(value)} is not a whole number`);
  }
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) {
    throw new ScmiError('E_ARGUMENT', `${what} ${v} is not from 0 to 2^64 - 1`);
  }
  return v;
}

/**
 * A 32-bit field's bits: an integer from 0 to 0xFFFFFFFF, or a negative 32-bit one (what
 * JavaScript's bit operators give for a value with bit 31 set: `0x80000000 | 7` is -2147483641),
 * taken as its two's complement bits.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` (nothing sent) for anything else.
 * @internal
 */
export function u32Bits(value: number, what: string): number {
  if (Number.isInteger(value) && value >= -0x80000000 && value <= 0xffffffff) return value >>> 0;
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${String(value)} is not a 32-bit value (an integer from -0x80000000 to 0xFFFFFFFF)`,
  );
}
