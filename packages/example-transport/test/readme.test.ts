import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { runInNewContext } from 'node:vm';
import { transformSync } from '@swc/core';
import * as core from '@scmi-ts/core';
import * as example from '@scmi-ts/example-transport';
import * as platform from '@scmi-ts/platform';
import * as inversify from 'inversify';

/** The TypeScript example of the README's "Example" section. */
function readmeExample(): string {
  const md = readFileSync(join(__dirname, '../README.md'), 'utf8');
  const start = md.indexOf('\n## Example (one thread, virtual time)\n');
  if (start === -1) throw new Error('README.md has no "Example (one thread, virtual time)"');
  const end = md.indexOf('\n#', start + 1);
  const section = md.slice(start, end === -1 ? undefined : end);
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  expect(blocks.length).toBeGreaterThanOrEqual(1);
  return blocks[0] as string;
}

/** Runs the example as written (its imports served from this test's modules); what it printed. */
async function run(source: string): Promise<string[]> {
  const imports = [...source.matchAll(/^import\s[\s\S]*?\sfrom '([^']+)';\n/gm)];
  const body = imports.reduce((text, m) => text.replace(m[0], ''), source);
  const head = imports.map((m) => m[0]).join('');
  const { code } = transformSync(`${head}module.exports = (async () => {\n${body}\n})();`, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  const modules: Record<string, unknown> = {
    inversify,
    '@scmi-ts/core': core,
    '@scmi-ts/platform': platform,
    '@scmi-ts/example-transport': example,
  };
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

describe('packages/example-transport/README.md: Example', () => {
  it('should run and print what its comments say', async () => {
    const source = readmeExample();
    const said = [...source.matchAll(/console\.log\(.*\/\/ (.*)$/gm)].map((m) => m[1]);
    expect(said).toEqual(['scmi-ts 7', '1200000000']);
    await expect(run(source)).resolves.toEqual(said);
  });
});
