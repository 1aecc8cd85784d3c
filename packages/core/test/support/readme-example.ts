/**
 * Runs a README's TypeScript example as written, for the tests that keep the READMEs honest: its
 * `import … from '<name>'` lines served from `modules` (the test's own imports of the packages),
 * its top-level `await` inside an async function, and what it printed with `console.log`.
 */
import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import { runInNewContext } from 'node:vm';
import { transformSync } from '@swc/core';

/**
 * The ```ts blocks of the section of the Markdown file `path` whose heading line is `heading`
 * (`## Example`, `### Connecting…`), up to the next heading.
 */
export function sectionExamples(path: string, heading: string): string[] {
  const md = readFileSync(path, 'utf8');
  const start = md.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`${path} has no "${heading}"`);
  const end = md.indexOf('\n#', start + 1);
  const section = md.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

/** What each `console.log(…) // comment` line of `source` says it prints: the comments. */
export function saidToPrint(source: string): string[] {
  return [...source.matchAll(/console\.log\(.*\/\/ (.*)$/gm)].map((m) => m[1] as string);
}

/** Runs `source` with its imports taken from `modules`; resolves to what it printed. */
export async function runExample(
  source: string,
  modules: Readonly<Record<string, unknown>>,
): Promise<string[]> {
  const imports = [...source.matchAll(/^import\s[\s\S]*?\sfrom '([^']+)';\n/gm)];
  const body = imports.reduce((text, m) => text.replace(m[0], ''), source);
  const head = imports.map((m) => m[0]).join('');
  const { code } = transformSync(`${head}module.exports = (async () => {\n${body}\n})();`, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  const printed: string[] = [];
  const context = {
    require: (name: string): unknown => {
      if (!(name in modules)) throw new Error(`the example imports ${name}`);
      return modules[name];
    },
    exports: {},
    module: { exports: undefined as unknown },
    console: { log: (...args: unknown[]) => void printed.push(format(...args)) },
    // This realm's Uint8Array: `transact` tells bytes from a writer with `instanceof`.
    Uint8Array,
  };
  runInNewContext(code, context);
  await (context.module.exports as Promise<void>);
  return printed;
}
