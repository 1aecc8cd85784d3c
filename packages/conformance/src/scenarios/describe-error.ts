import { inspect } from 'node:util';

/** A one-line description of anything thrown, for violation reports. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return inspect(error, { depth: 2, breakLength: Infinity });
}
