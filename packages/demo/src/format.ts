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
