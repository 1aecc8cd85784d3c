/**
 * scripts/flatten-reexports.mjs, the build step that turns the re-exports of every package's
 * CommonJS barrel into data properties (core's barrel is the one every other package reads on the
 * message path). The barrels here are emitted by the TypeScript this repository builds with, so a
 * TypeScript whose emit the script no longer recognises fails this test instead of silently
 * leaving the getters in place.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';

const SCRIPT = join(__dirname, '..', '..', '..', 'scripts', 'flatten-reexports.mjs');

/** Emits `source` as this repository's build does (CommonJS, ES2022). */
function emit(source: string): string {
  return ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  }).outputText;
}

/** A repository root with one package `a`, its modules emitted from the given TypeScript sources. */
function repository(modules: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'flatten-'));
  const dist = join(root, 'packages', 'a', 'dist');
  mkdirSync(dist, { recursive: true });
  for (const [name, source] of Object.entries(modules)) {
    writeFileSync(join(dist, `${name}.js`), emit(source));
  }
  return root;
}

function flatten(root: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Loads `file` in a fresh Node.js process and describes each export: `name kind typeof`. */
function describeExports(file: string): string[] {
  const program = `const m = require(${JSON.stringify(file)});
    for (const k of Object.keys(m)) {
      const d = Object.getOwnPropertyDescriptor(m, k);
      console.log(k, 'get' in d ? 'accessor' : 'data', typeof m[k]);
    }`;
  return execFileSync(process.execPath, ['-e', program], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .sort();
}

describe('flatten-reexports', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  it('makes every re-export of a barrel a data property holding the same value, once', () => {
    const root = repository({
      wire: 'export function readU32(): number { return 7; }\nexport const SIZE = 4;\nexport class Xfer {}\nexport enum Kind { A = 1 }',
      index:
        "export { readU32, SIZE, Xfer, Kind } from './wire.js';\nexport * as wire from './wire.js';",
    });
    roots.push(root);
    const barrel = join(root, 'packages', 'a', 'dist', 'index.js');
    expect(describeExports(barrel)).toEqual([
      'Kind accessor object',
      'SIZE accessor number',
      'Xfer accessor function',
      'readU32 accessor function',
      'wire data object',
    ]);

    const first = flatten(root);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('4 re-exports');
    expect(describeExports(barrel)).toEqual([
      'Kind data object',
      'SIZE data number',
      'Xfer data function',
      'readU32 data function',
      'wire data object',
    ]);
    const program = `const m = require(${JSON.stringify(barrel)}); const w = require(${JSON.stringify(join(root, 'packages', 'a', 'dist', 'wire.js'))});
      process.stdout.write(String(m.readU32 === w.readU32 && m.Xfer === w.Xfer && m.Kind === w.Kind && m.readU32() === 7 && m.SIZE === 4));`;
    expect(execFileSync(process.execPath, ['-e', program], { encoding: 'utf8' })).toBe('true');

    const text = readFileSync(barrel, 'utf8');
    const again = flatten(root);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('0 re-exports');
    expect(readFileSync(barrel, 'utf8')).toBe(text);
  });

  it('refuses (exit 1, nothing rewritten) a package whose module requires its own barrel', () => {
    // Loaded through `late` first, the barrel would read `late` while it is still loading: the
    // getter reads it later, a value read as the barrel loads would be undefined.
    const root = repository({
      late: "import { early } from './index.js';\nexport const late = (): string => early;",
      index: "export { late } from './late.js';\nexport const early = 'e';",
    });
    roots.push(root);
    const barrel = join(root, 'packages', 'a', 'dist', 'index.js');
    const text = readFileSync(barrel, 'utf8');
    const r = flatten(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(join(root, 'packages', 'a', 'dist', 'late.js'));
    expect(readFileSync(barrel, 'utf8')).toBe(text);
  });
});
