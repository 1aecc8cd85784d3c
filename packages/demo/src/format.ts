import type { Print } from './devres-demo.js';

/** An SCMI version word as `major.minor`. */
export function formatVersion(v: number): string {
  return `${v >>> 16}.${v & 0xffff}`;
}

/** `v` in hexadecimal, `0x`-prefixed, zero-padded to `width` digits. */
export function formatHex(v: number, width = 2): string {
  return `0x${v.toString(16).padStart(width, '0')}`;
}

/** Prints `label` and `value` in the demo's two columns. */
export function printRow(print: Print, label: string, value: string): void {
  print(`  ${label.padEnd(34)} ${value}`);
}

/** Resolves after `ms` milliseconds of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Whether UTF-16 unit `code` is a control character (C0, DEL, C1), a Unicode line or paragraph
 * separator or a bidirectional formatting character: what a hostile platform could put in a name
 * to move the cursor, clear the screen, retitle the terminal or reorder what is shown. And the
 * backslash, so that a name spelling `\x1b` out cannot pass for an escaped ESC.
 */
function unprintable(code: number): boolean {
  return (
    code <= 0x1f ||
    code === 0x5c ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/**
 * `text` safe to write to a terminal: each control character (C0, DEL, C1), Unicode line or
 * paragraph separator and bidirectional formatting character is written as an escape (`\x1b`,
 * `\u202e`) instead, and a backslash as `\x5c`. Strings from the platform (vendor, agent, clock
 * names, error messages quoting them) reach the terminal only through this: core hands them over
 * as the platform sent them, and only the display decides what is safe to show.
 *
 * @example
 * ```ts
 * printable('ACME\u001b[2J'); // 'ACME\\x1b[2J': shown, not obeyed
 * printable('scmi-ts'); // 'scmi-ts'
 * printable('C:\\x1b'); // 'C:\\x5cx1b': a backslash spelt out, not an escape
 * ```
 */
export function printable(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!unprintable(code)) out += text.charAt(i);
    else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return out;
}
