import { format, stripVTControlCharacters } from 'node:util';
import {
  runTransportConformance,
  type ConformanceOptions,
  type TransportFixture,
} from '@scmi-ts/conformance';

/** One test case a suite would have registered with jest, captured instead. */
export interface CapturedCase {
  /** The titles of the enclosing `describe` blocks, outermost first, then the case's own. */
  readonly path: readonly string[];
  /** Whether it was registered with `it.skip` (or inside `describe.skip`). */
  readonly skipped: boolean;
  /** The case's body. */
  readonly body: () => unknown;
}

type Body = (...args: never[]) => unknown;

const GLOBALS = [
  'describe',
  'it',
  'test',
  'beforeAll',
  'afterAll',
  'beforeEach',
  'afterEach',
] as const;

/** A row of an `.each` table as the arguments of its body (jest spreads array rows). */
const rowArgs = (row: unknown): unknown[] => (Array.isArray(row) ? row : [row]);

/**
 * An `.each` title as jest formats it: its placeholders filled from the row, the arguments beyond
 * them left out (`util.format` would append them).
 */
const eachTitle = (title: string, args: readonly unknown[]): string =>
  format(title, ...args.slice(0, (title.match(/%[sdifjoOp]/g) ?? []).length));

/**
 * Runs `register` — a function that registers jest cases, like `runTransportConformance(fixture)`
 * — with jest's `describe`, `it`, `test` and hooks replaced by collectors, and returns the cases it
 * registered instead of registering them. A self-test can then run the one case it wants against
 * a deliberately broken fixture and assert that it fails, without a failing case in its own
 * suite. Supports what the kit uses: `describe`, `describe.skip`, `describe.each`, `it`/`test`,
 * `it.skip`, `it.each`; hooks are ignored (the kit's hooks serve its worker cases only). The
 * globals are restored before it returns, even when `register` throws.
 *
 * @example
 * ```ts
 * const cases = captureCases(() => {
 *   runTransportConformance(brokenFixture);
 * });
 * expect(await runCase(findCase(cases, 'should time out, …'))).toMatch(/Expected/);
 * ```
 */
export function captureCases(register: () => void): CapturedCase[] {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = new Map(GLOBALS.map((name) => [name, g[name]]));
  const cases: CapturedCase[] = [];
  const path: string[] = [];
  let skipping = 0;

  const inDescribe = (title: string, skip: boolean, body: () => void): void => {
    path.push(title);
    if (skip) skipping++;
    try {
      body();
    } finally {
      if (skip) skipping--;
      path.pop();
    }
  };
  const makeDescribe = (skip: boolean) => (title: string, body: () => void) => {
    inDescribe(title, skip, body);
  };
  const describe = Object.assign(makeDescribe(false), {
    skip: makeDescribe(true),
    each:
      (table: readonly unknown[]) =>
      (title: string, body: Body): void => {
        for (const row of table) {
          const args = rowArgs(row);
          inDescribe(eachTitle(title, args), false, () => {
            (body as (...a: unknown[]) => unknown)(...args);
          });
        }
      },
  });
  const makeIt = (skip: boolean) => (title: string, body: () => unknown) => {
    cases.push({ path: [...path, title], skipped: skip || skipping > 0, body });
  };
  const it = Object.assign(makeIt(false), {
    skip: makeIt(true),
    each:
      (table: readonly unknown[]) =>
      (title: string, body: Body): void => {
        for (const row of table) {
          const args = rowArgs(row);
          cases.push({
            path: [...path, eachTitle(title, args)],
            skipped: skipping > 0,
            body: () => (body as (...a: unknown[]) => unknown)(...args),
          });
        }
      },
  });
  const hook = (): void => undefined;
  try {
    Object.assign(g, {
      describe,
      it,
      test: it,
      beforeAll: hook,
      afterAll: hook,
      beforeEach: hook,
      afterEach: hook,
    });
    register();
  } finally {
    for (const [name, value] of saved) g[name] = value;
  }
  return cases;
}

/**
 * The one captured case whose own title is `title` (and that is not skipped).
 *
 * @throws Error when there is none, or more than one: the suite was renamed or restructured, and
 * the self-test must follow it rather than pass without running anything.
 */
export function findCase(cases: readonly CapturedCase[], title: string): CapturedCase {
  const found = cases.filter((c) => !c.skipped && c.path[c.path.length - 1] === title);
  if (found.length !== 1) {
    throw new Error(`expected one case titled "${title}", found ${found.length}`);
  }
  return found[0] as CapturedCase;
}

/**
 * Runs a captured case's body and resolves to the message of its failure, without terminal
 * colours (jest colours its assertion messages when the terminal does), or to `undefined` when it
 * passed.
 */
export async function runCase(c: CapturedCase): Promise<string | undefined> {
  try {
    await c.body();
    return undefined;
  } catch (e: unknown) {
    return stripVTControlCharacters(e instanceof Error ? e.message : String(e));
  }
}

/**
 * The case titled `title` that `runTransportConformance(fixture, options)` would register,
 * captured (see {@link captureCases}) to be run on its own with {@link runCase}. The suite's hooks
 * are not run: a worker case starts a worker session of its own.
 *
 * @throws Error when the suite has no such case, or more than one (see {@link findCase}).
 */
export function conformanceCase(
  fixture: TransportFixture,
  title: string,
  options?: ConformanceOptions,
): CapturedCase {
  return findCase(
    captureCases(() => {
      runTransportConformance(fixture, options);
    }),
    title,
  );
}
