import { ScmiError, describeArg, formatValue, unknownKeyError } from '@scmi-ts/core';

/** The E_ARGUMENT error for `what` given as anything but a number. */
function notANumber(what: string, given: unknown): ScmiError {
  return new ScmiError('E_ARGUMENT', `${what} must be a number, got ${describeArg(given)}`);
}

/**
 * `id` when it names one of the `count` domains (an integer from 0 to `count − 1`); checked before
 * a transfer is taken, so nothing is sent for a caller's bad id (Linux's protocols return -EINVAL
 * for `domain >= num_domains`). A test that wants to see how a platform answers an unknown id
 * sends it raw with `agent.transact`. An id that is not a number at all (`1n`, `'1'`) is refused
 * as such ("clock id must be a number, got bigint 1n"), not as out of range.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what`.
 * @internal
 */
export function domainArg(id: number, count: number, what: string): number {
  if (Number.isInteger(id) && id >= 0 && id < count) return id;
  const given: unknown = id;
  if (typeof given !== 'number') throw notANumber(`${what} id`, given);
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${String(id)} is not one of the platform's ${count} (0 to ${count - 1})`,
  );
}

/**
 * `value` when it is an integer from 0 to `max`, the range of the wire field `what` stands for:
 * the payload writer takes any number modulo 2^32, so -1 would go out as 0xFFFFFFFF. A value that
 * is not a number (`800000n`, `'7'`) is refused as such, its type named.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` (nothing sent).
 * @internal
 */
export function uintArg(value: number, what: string, max = 0xffffffff): number {
  if (Number.isInteger(value) && value >= 0 && value <= max) return value;
  const given: unknown = value;
  if (typeof given !== 'number') throw notANumber(what, given);
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${String(value)} is not an integer from 0 to 0x${max.toString(16).toUpperCase()}`,
  );
}

/**
 * `value` as a 64-bit unsigned integer: a bigint or a safe integer from 0 to 2^64 − 1. Anything
 * else — a string, a boolean, an object with `valueOf`, null — is refused: `BigInt()` would take
 * some of them (`"24000000"`, `true`) and throw a plain TypeError or SyntaxError for others. The
 * message names the type for a value that is neither a bigint nor a number, the range otherwise.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` (nothing sent).
 * @internal
 */
export function u64Arg(value: bigint | number, what: string): bigint {
  const given: unknown = value;
  if (typeof given === 'number' && Number.isSafeInteger(given) && given >= 0) return BigInt(given);
  if (typeof given === 'bigint' && given >= 0n && given <= 0xffff_ffff_ffff_ffffn) return given;
  if (typeof given !== 'bigint' && typeof given !== 'number') {
    throw new ScmiError(
      'E_ARGUMENT',
      `${what} must be a bigint or a number, got ${describeArg(given)}`,
    );
  }
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${formatValue(given)} is not a whole number from 0 to 2^64 - 1 (a bigint, or a safe integer)`,
  );
}

/**
 * `value` when it is a boolean or `undefined` (an option left out), for an option that changes
 * what goes on the wire: a JavaScript caller gets past the type, and a truthy `1` would set a flag
 * bit that the code deciding how to wait reads as `false`.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` (nothing sent).
 * @internal
 */
export function boolOption(value: boolean | undefined, what: string): boolean | undefined {
  const given: unknown = value;
  if (given === undefined || typeof given === 'boolean') return given;
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} must be true, false or left out, not a ${typeof given}`,
  );
}

/**
 * `value` when it is a boolean: a required flag that goes on the wire (a notify_enable, a config
 * bit) — a truthy `'false'` would enable what the caller meant to disable.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` (nothing sent).
 * @internal
 */
export function boolArg(value: boolean, what: string): boolean {
  const given: unknown = value;
  if (typeof given === 'boolean') return given;
  throw new ScmiError('E_ARGUMENT', `${what} must be true or false, not a ${typeof given}`);
}

/**
 * A 32-bit field's bits: an integer from 0 to 0xFFFFFFFF, or a negative 32-bit one (what
 * JavaScript's bit operators give for a value with bit 31 set: `0x80000000 | 7` is -2147483641),
 * taken as its two's complement bits.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` (nothing sent) for anything else: its type named
 * when it is not a number at all.
 * @internal
 */
export function u32Bits(value: number, what: string): number {
  if (Number.isInteger(value) && value >= -0x80000000 && value <= 0xffffffff) return value >>> 0;
  const given: unknown = value;
  if (typeof given !== 'number') throw notANumber(what, given);
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${formatValue(value)} is not a 32-bit value (an integer from -0x80000000 to 0xFFFFFFFF)`,
  );
}

/**
 * `value` when it is an options (or settings) object whose keys are all in `keys`: a misspelt
 * option (`{ asnyc: true }`, `{ bogus: 1 }`) would otherwise leave its default in force unnoticed,
 * as core's `refuseUnknownKeys` refuses one in `AgentOptions`; and a `null` would fail as a plain
 * TypeError on the first option read. Build `keys` with core's `optionKeys<T>()`, which the
 * compiler checks against the interface. A key whose value is `undefined` counts as given (its
 * check is the option's own). Checked before anything is sent.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what`: for a value that is not a plain object (null, an
 * array, a number…), or for its first unknown key, listing the expected ones.
 * @example
 * ```ts
 * const KEYS = optionKeys<ClockRateSetOptions>({
 *   round: true, async: true, delayedResponse: true,
 * });
 * objectArg({ asnyc: true }, KEYS, 'setRate options');
 * // ScmiError E_ARGUMENT: setRate options: unknown option "asnyc" (expected one of round, async,
 * // delayedResponse)
 * ```
 * @internal
 */
export function objectArg<T extends object>(value: T, keys: ReadonlySet<string>, what: string): T {
  const given: unknown = value;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new ScmiError('E_ARGUMENT', `${what} must be an object, got ${describeArg(given)}`);
  }
  const unknown = unknownKeyError(given, keys, what);
  if (unknown !== undefined) throw unknown;
  return value;
}

/**
 * `value` when it is an integer from -2^31 to 2^31 − 1, the range of a signed 32-bit wire field
 * (a voltage level in µV): the payload writer takes any number modulo 2^32, so 2^31 would go out
 * as -2^31. A value that is not a number (`800000n`, `'800000'`) is refused as such, its type
 * named.
 *
 * @throws ScmiError `E_ARGUMENT` naming `what` (nothing sent).
 * @internal
 */
export function int32Arg(value: number, what: string): number {
  if (Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff) return value;
  const given: unknown = value;
  if (typeof given !== 'number') throw notANumber(what, given);
  throw new ScmiError(
    'E_ARGUMENT',
    `${what} ${String(value)} is not an integer from -2147483648 to 2147483647 (a signed 32-bit value)`,
  );
}
