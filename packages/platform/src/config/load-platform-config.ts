import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { ScmiConfigError } from '@scmi-ts/core';
import type { PlatformConfig } from './platform-config.js';
import { fail, show } from './config-checks.js';
import { validatePlatformConfig } from './validate-platform-config.js';

/**
 * Loads a platform configuration from its JSON file form and validates it: `pathOrJson` is either
 * JSON text of an object (it starts with `{`, after white space) or the path of a JSON file, read
 * synchronously (so that a worker thread can build its platform before it answers anything). Any
 * other string is a path; when no file of that name can be read but the string is JSON text of
 * something else (`[1]`, `42`), the error says that the configuration must be an object.
 *
 * @throws ScmiConfigError with field `$` when `pathOrJson` is not a non-empty string; when it is
 *   JSON text that is not an object (and not a readable file); when the file cannot be read, is
 *   not a regular file (a device such as `/dev/zero` never ends, a FIFO may never be written), is
 *   larger than 16 MiB or is not valid JSON (the message gives the line and column of the error
 *   where Node gives its position, and says that JSON numbers are decimal when the text there is
 *   a hexadecimal literal such as `0x40000`); or naming the first invalid field (see
 *   {@link validatePlatformConfig}; field `` when the file holds JSON that is not an object) —
 *   for a file, its message names the file too (`invalid configuration: soc.json:
 *   clocks[2].rates.step: …`), the `field` being the same. A UTF-8 byte order mark at the start
 *   (some editors save one) is skipped, not refused.
 * @example
 * ```ts
 * const config = loadPlatformConfig('./soc.platform.json');
 * const same = loadPlatformConfig(JSON.stringify(createDefaultPlatformConfig()));
 * ```
 */
export function loadPlatformConfig(pathOrJson: string): PlatformConfig {
  // Untyped callers (JavaScript, parsed arguments) may pass anything: refuse it before reading it.
  const arg: unknown = pathOrJson;
  if (typeof arg !== 'string' || arg === '') {
    fail('$', `must be a path or the JSON text of an object, got ${show(arg)}`);
  }
  const isJson = pathOrJson.trimStart().startsWith('{');
  let text = pathOrJson;
  if (!isJson) text = readConfigFile(pathOrJson);
  // A file saved with a UTF-8 byte order mark (some Windows editors): JSON.parse would refuse
  // its invisible first character.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const where = isJson ? 'the JSON text' : pathOrJson;
    throw new ScmiConfigError(
      '$',
      `${where} is not valid JSON: ${describeSyntaxError((e as Error).message, text)}`,
    );
  }
  if (isJson) return validatePlatformConfig(parsed);
  try {
    return validatePlatformConfig(parsed);
  } catch (e) {
    if (ScmiConfigError.is(e)) throw inFile(e, pathOrJson);
    throw e;
  }
}

/** What every {@link ScmiConfigError} message starts with, before its field. */
const CONFIG_ERROR_HEAD = 'invalid configuration: ';

/**
 * `e` with the file named before its field (`invalid configuration: soc.json: clocks[2].rates:
 * …`; the field of the whole configuration, ``, is left out), still the same ScmiConfigError of
 * the same field: a log or a terminal may not say which file was loaded.
 */
function inFile(e: ScmiConfigError, path: string): ScmiConfigError {
  const before = e.message;
  let message = `${path}: ${before}`;
  if (before.startsWith(CONFIG_ERROR_HEAD)) {
    const rest = before.slice(CONFIG_ERROR_HEAD.length);
    message = `${CONFIG_ERROR_HEAD}${path}: ${rest.startsWith(': ') ? rest.slice(2) : rest}`;
  }
  e.message = message;
  // A stack read before (V8 builds it on first read) starts with the old message: its head is
  // replaced as a prefix, never by a pattern (a path may hold `$'`).
  const head = `${e.name}: ${before}`;
  if (typeof e.stack === 'string' && e.stack.startsWith(head)) {
    e.stack = `${e.name}: ${message}${e.stack.slice(head.length)}`;
  }
  return e;
}

/**
 * A hexadecimal literal (JSON has none), and where its digits start: a `0x` that does not end a
 * longer number or word (`100x1` is a typo, not hex).
 */
const HEX_LITERAL = /(?<![\w.])0[xX]([0-9a-fA-F]+)/y;

/**
 * Node's position at the end of a JSON.parse message (`… in JSON at position 665`, from Node 22
 * with `(line 3 column 10)` after it). Anchored at the end: a message that quotes the text may
 * hold "at position" from the user's own JSON.
 */
const JSON_POSITION = / in JSON at position (\d+)( \(line \d+ column \d+\))?$/;

/**
 * Node's JSON.parse message, with the line and column of the error (editors show those, not a
 * character offset) when it gives a position (`… in JSON at position 665`) that the message does
 * not already translate, and a word on hexadecimal numbers when the text there is one (`0x1F`:
 * JSON numbers are decimal). A message without a position is kept as it is. @internal
 */
export function describeSyntaxError(message: string, text: string): string {
  const found = JSON_POSITION.exec(message);
  if (found === null) return message;
  const position = Number(found[1]);
  if (!Number.isSafeInteger(position) || position > text.length) return message;
  let out = message;
  if (found[2] === undefined) {
    const before = text.slice(0, position);
    const line = before.split('\n').length;
    const column = position - before.lastIndexOf('\n');
    out = `${message} (line ${line}, column ${column})`;
  }
  // The parser stops at the x of 0x1F, just after the 0 it took for a number.
  for (const start of [position - 1, position]) {
    if (start < 0) continue;
    HEX_LITERAL.lastIndex = start;
    const hex = HEX_LITERAL.exec(text);
    if (hex === null) continue;
    const value = Number.parseInt(hex[1] as string, 16);
    const decimal = Number.isSafeInteger(value) ? `: write ${value} for ${hex[0]}` : '';
    return `${out}; JSON numbers are decimal${decimal}`;
  }
  return out;
}

/** The largest configuration file read: 16 MiB, far more than any platform description needs. */
const MAX_CONFIG_FILE_BYTES = 1 << 24;

/** Reads a configuration file, refusing what is not a regular file or is too large to be one. */
function readConfigFile(path: string): string {
  let fd: number | undefined;
  try {
    // Non-blocking, so that opening a FIFO does not wait for a writer before fstat refuses it (a
    // regular file reads the same either way).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_CONFIG_FILE_BYTES) {
      throw new Error(`${stat.size} bytes, more than the ${MAX_CONFIG_FILE_BYTES} accepted`);
    }
    return readFileSync(fd, 'utf8');
  } catch (e) {
    const reason = (e as Error).message;
    // Nothing to open, but JSON text of something other than an object (`[1]`, `42`): say what
    // the text is wrong for, rather than only that no file has that name.
    const json = fd === undefined ? parseOrUndefined(path) : undefined;
    if (json !== undefined) {
      fail('$', `the configuration must be an object, got ${show(json)} (nor a file: ${reason})`);
    }
    throw new ScmiConfigError('$', `cannot read ${path}: ${reason}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `text` parsed as JSON, or undefined when it is not JSON. */
function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
