import { types } from 'node:util';

/** Longest text {@link formatValue} returns when not told otherwise, `…` included. */
const DEFAULT_MAX_LENGTH = 100;

/** Objects this many levels below the value, or deeper, are shown as `[Object]` / `[Array]`. */
const MAX_DEPTH = 3;

/** The text being built, which stops taking pieces once it is past the limit. */
interface Output {
  readonly limit: number;
  text: string;
}

function put(out: Output, piece: string): void {
  if (out.text.length <= out.limit) out.text += piece;
}

function full(out: Output): boolean {
  return out.text.length > out.limit;
}

/**
 * Describes any value for an error message, as a configuration check reports what it was given,
 * and never throws — where `JSON.stringify` throws a TypeError for a bigint or a circular object,
 * and `String` for an object without a prototype (and shows `1n` as `1`).
 *
 * Values JSON can write are written as `JSON.stringify` writes them (`"loopback"`, `12`, `true`,
 * `null`, `[16,17]`, `{"id":0}`), so messages about them read as they always did. The others are
 * shown for what they are: a bigint as `1n`; `undefined`; `NaN`, `Infinity`, `-Infinity` and `-0`
 * as such (JSON would write `null` or `0`); a symbol as `Symbol(description)`; a function as
 * `[Function: name]` (`[Function (anonymous)]`); inside an array or object, those same forms where
 * JSON would drop the member or write `null`, and `<empty>` for an array's hole. An instance of a
 * class is prefixed with its class name (`Wire {"id":0}`); a `Date` is shown as
 * `Date(2025-01-01T00:00:00.000Z)`, an `Error` as `[TypeError: message]`, a `Map` or `Set` by its
 * size (`Map(2)`), a buffer by its size (`SharedArrayBuffer(256 bytes)`, `Uint8Array(16)`). An
 * object met again inside itself is `[Circular]`; an object 3 levels down or deeper is `[Object]`
 * or `[Array]`; a property whose getter throws is `<unreadable>`, and an object that
 * cannot be looked at at all (a revoked proxy) `[unreadable object]`. `toJSON` is not called.
 *
 * The text is at most `maxLength` UTF-16 code units (100 by default, at least 1): a longer one is
 * cut and ends with `…` (never inside a surrogate pair). The walk stops once the text is that
 * long, so a huge array or string costs no more than a short one.
 *
 * @param value Anything.
 * @param maxLength Longest text returned, `…` included: a number ≥ 1, rounded down (anything
 * else: 100).
 * @returns The description; never throws.
 * @example
 * ```ts
 * formatValue(1n); // '1n'
 * formatValue('loopback'); // '"loopback"'
 * formatValue(-0); // '-0'
 * const loop: Record<string, unknown> = { id: 1 };
 * loop.self = loop;
 * formatValue(loop); // '{"id":1,"self":[Circular]}'
 * formatValue('x'.repeat(500), 10); // '"xxxxxxxx…'
 * throw new ScmiConfigError('maxMsg', `expected an integer in 1..20, got ${formatValue(value)}`);
 * ```
 */
export function formatValue(value: unknown, maxLength: number = DEFAULT_MAX_LENGTH): string {
  const limit =
    typeof maxLength === 'number' && Number.isFinite(maxLength) && maxLength >= 1
      ? Math.floor(maxLength)
      : DEFAULT_MAX_LENGTH;
  try {
    const out: Output = { limit, text: '' };
    render(value, out, []);
    return cut(out.text, limit);
  } catch {
    // Not expected (every look at user code is guarded below); the type still says something.
    return cut(`[unprintable ${typeof value}]`, limit);
  }
}

/**
 * Describes what a caller passed, for an error message about its type: its type, then the value
 * as {@link formatValue} shows it (at most 60 characters). A JavaScript caller gets past the
 * types, and `String(1n)` alone reads as the number 1, so a message that printed only the value
 * would blame its range instead of its type. Never throws.
 *
 * @returns `'null'`, `'undefined'`, or the type (`array` for an array) and the value.
 * @example
 * ```ts
 * describeArg(1n); // 'bigint 1n'
 * describeArg('1'); // 'string "1"'
 * describeArg([1]); // 'array [1]'
 * throw new ScmiError('E_ARGUMENT', `clock id must be a number, got ${describeArg(id)}`);
 * ```
 */
export function describeArg(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  let kind: string = typeof value;
  try {
    if (Array.isArray(value)) kind = 'array';
  } catch {
    // A revoked proxy: Array.isArray throws; its type still says something.
  }
  return `${kind} ${formatValue(value, 60)}`;
}

/** `text` cut to `limit` code units, `…` last, never between the halves of a surrogate pair. */
function cut(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let end = limit - 1;
  const last = text.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

function render(v: unknown, out: Output, ancestors: readonly object[]): void {
  switch (typeof v) {
    case 'string':
      put(out, quote(v, out));
      return;
    case 'number':
      put(out, Object.is(v, -0) ? '-0' : String(v));
      return;
    case 'bigint':
      put(out, `${v}n`);
      return;
    case 'boolean':
      put(out, v ? 'true' : 'false');
      return;
    case 'undefined':
      put(out, 'undefined');
      return;
    case 'symbol':
      // String() of a symbol is its descriptive string (a template literal would throw).
      put(out, String(v));
      return;
    case 'function':
      put(out, functionName(v));
      return;
    default:
      if (v === null) put(out, 'null');
      else renderObject(v as object, out, ancestors);
  }
}

/** `s` as JSON writes it, only as much of it as can still show. */
function quote(s: string, out: Output): string {
  const room = out.limit - out.text.length + 1;
  return JSON.stringify(s.length > room ? s.slice(0, Math.max(room, 0)) : s);
}

function functionName(f: unknown): string {
  try {
    const name: unknown = Object.getOwnPropertyDescriptor(f, 'name')?.value;
    if (typeof name === 'string' && name !== '') return `[Function: ${name}]`;
  } catch {
    // A proxy whose trap throws: no name to show.
  }
  return '[Function (anonymous)]';
}

function renderObject(v: object, out: Output, ancestors: readonly object[]): void {
  if (ancestors.includes(v)) {
    put(out, '[Circular]');
    return;
  }
  let array: boolean;
  let keys: readonly string[] = [];
  let prefix = '';
  try {
    const special = builtin(v);
    if (special !== undefined) {
      put(out, special);
      return;
    }
    array = Array.isArray(v);
    if (ancestors.length >= MAX_DEPTH) {
      put(out, array ? '[Array]' : '[Object]');
      return;
    }
    if (!array) {
      const name = className(v);
      prefix = name === undefined ? '' : `${name} `;
      keys = Object.keys(v);
    }
  } catch {
    // A revoked proxy, or one whose traps throw.
    put(out, '[unreadable object]');
    return;
  }
  const inner = [...ancestors, v];
  if (array) {
    renderArray(v as readonly unknown[], out, inner);
    return;
  }
  put(out, `${prefix}{`);
  for (let i = 0; i < keys.length && !full(out); i++) {
    const key = keys[i] as string;
    if (i > 0) put(out, ',');
    put(out, quote(key, out));
    put(out, ':');
    renderMember(() => (v as Record<string, unknown>)[key], out, inner);
  }
  put(out, '}');
}

function renderArray(a: readonly unknown[], out: Output, ancestors: readonly object[]): void {
  let length: unknown;
  try {
    length = a.length;
  } catch {
    length = 0;
  }
  put(out, '[');
  for (let i = 0; typeof length === 'number' && i < length && !full(out); i++) {
    if (i > 0) put(out, ',');
    renderMember(() => (i in a ? a[i] : HOLE), out, ancestors);
  }
  put(out, ']');
}

/** What an array's hole reads as in {@link renderMember}. */
const HOLE: unique symbol = Symbol('hole');

/** Renders what `read` returns: `<unreadable>` if it throws (a getter, a proxy's trap). */
function renderMember(read: () => unknown, out: Output, ancestors: readonly object[]): void {
  let member: unknown;
  try {
    member = read();
  } catch {
    put(out, '<unreadable>');
    return;
  }
  if (member === HOLE) put(out, '<empty>');
  else render(member, out, ancestors);
}

/** The name of `v`'s class, or undefined for a plain object (prototype Object's, or none). */
function className(v: object): string | undefined {
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === null || proto === Object.prototype || typeof proto !== 'object') return undefined;
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  if (typeof ctor !== 'function') return undefined;
  const name: unknown = Object.getOwnPropertyDescriptor(ctor, 'name')?.value;
  // `Object`: a plain object of another realm (a vm context).
  return typeof name === 'string' && name !== '' && name !== 'Object' ? name : undefined;
}

/** A short form for the built-in objects whose contents are not their keys; else undefined. */
function builtin(v: object): string | undefined {
  if (types.isProxy(v)) return undefined;
  if (types.isDate(v)) {
    const time = Date.prototype.getTime.call(v);
    return Number.isNaN(time) ? 'Date(Invalid)' : `Date(${new Date(time).toISOString()})`;
  }
  if (types.isNativeError(v) || v instanceof Error) {
    const { name, message } = v as { name?: unknown; message?: unknown };
    const label = typeof name === 'string' && name !== '' ? name : 'Error';
    return typeof message === 'string' && message !== '' ? `[${label}: ${message}]` : `[${label}]`;
  }
  // The built-in getters, not what a subclass may have put in their place.
  if (types.isMap(v)) return `Map(${Reflect.get(Map.prototype, 'size', v)})`;
  if (types.isSet(v)) return `Set(${Reflect.get(Set.prototype, 'size', v)})`;
  if (types.isSharedArrayBuffer(v)) {
    return `SharedArrayBuffer(${Reflect.get(SharedArrayBuffer.prototype, 'byteLength', v)} bytes)`;
  }
  if (types.isArrayBuffer(v)) {
    return `ArrayBuffer(${Reflect.get(ArrayBuffer.prototype, 'byteLength', v)} bytes)`;
  }
  if (types.isDataView(v)) {
    return `DataView(${Reflect.get(DataView.prototype, 'byteLength', v)} bytes)`;
  }
  if (types.isTypedArray(v)) {
    const length = Reflect.get(TYPED_ARRAY_PROTOTYPE, 'length', v);
    return `${className(v) ?? 'TypedArray'}(${length})`;
  }
  return undefined;
}

/** `%TypedArray%.prototype`, whose `length` getter every typed array has. */
const TYPED_ARRAY_PROTOTYPE = Object.getPrototypeOf(Uint8Array.prototype) as {
  readonly length: number;
};
