import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { runInNewContext } from 'node:vm';
import { transformSync } from '@swc/core';
import * as devres from '@scmi-ts/devres';

/** The TypeScript examples of a markdown file (docs/devres.md by default), run as written. */
function examples(file = '../../../docs/devres.md'): string[] {
  const md = readFileSync(join(__dirname, file), 'utf8');
  return [...md.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

async function run(source: string): Promise<string[]> {
  const body = source.replace(/^import .*from '@scmi-ts\/devres';$/gm, '');
  const { code } = transformSync(`module.exports = (async () => {\n${body}\n})();`, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  const printed: string[] = [];
  const console = {
    log: (...args: unknown[]) => printed.push(args.map((a) => inspect(a)).join(' ')),
  };
  const module = { exports: undefined as unknown };
  runInNewContext(code, { ...devres, module, console });
  await (module.exports as Promise<void>);
  return printed;
}

describe('docs/devres.md', () => {
  devres.ensureNoLeaksInSuite();

  it('should have runnable examples', () => {
    expect(examples()).toHaveLength(3);
  });

  it('should print what the probe-with-failure example says', async () => {
    const out = await run(examples()[0] as string);
    expect(out[0]).toContain('Base PROTOCOL_VERSION timed out');
    expect(out[1]).toBe(inspect(['quiesce a2p channel', 'free transfer pool', 'free a2p channel']));
  });

  it('should print what the groups example says', async () => {
    const out = await run(examples()[1] as string);
    expect(out).toEqual([inspect(['perf events', 'clock events', 'channel'])]);
  });

  it('should print what the revocable example says', async () => {
    await expect(run(examples()[2] as string)).resolves.toEqual([inspect(1), inspect(undefined)]);
  });
});

describe('packages/devres/README.md', () => {
  devres.ensureNoLeaksInSuite();

  it('should print what the example says: quiesce chan, then drain pool and free chan', async () => {
    const readme = examples('../README.md');
    expect(readme).toHaveLength(1);
    await expect(run(readme[0] as string)).resolves.toEqual([
      inspect(['stop rx', 'drain pool', 'free chan']),
    ]);
  });
});
