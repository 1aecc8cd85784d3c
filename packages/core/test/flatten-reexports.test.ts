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
import { dirname, join } from 'node:path';
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

/** Writes package `name` under `root`: its modules emitted from TypeScript sources, its references. */
function writePackage(
  root: string,
  name: string,
  modules: Record<string, string>,
  references: string[] = [],
): void {
  const dist = join(root, 'packages', name, 'dist');
  for (const [module, source] of Object.entries(modules)) {
    mkdirSync(dirname(join(dist, `${module}.js`)), { recursive: true });
    writeFileSync(join(dist, `${module}.js`), emit(source));
  }
  writeFileSync(
    join(root, 'packages', name, 'tsconfig.json'),
    JSON.stringify({ references: references.map((r) => ({ path: `../${r}` })) }),
  );
}

/** A repository root with one package `a`, its modules emitted from the given TypeScript sources. */
function repository(modules: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'flatten-'));
  writePackage(root, 'a', modules);
  return root;
}

function flatten(dir: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8' });
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

  it.each([
    ['./index.js', 'late', "'./index.js'"],
    ['./index', 'late', "'./index'"],
    ['a directory', 'sub/late', "'..'"],
    ['../index', 'sub/late', "'../index'"],
  ])(
    'refuses (exit 1, nothing rewritten) a package whose module requires its own barrel as %s',
    (_how, module, spec) => {
      // Loaded through that module first, the barrel would read it while it is still loading: the
      // getter reads it later, a value read as the barrel loads would be undefined.
      const root = repository({
        [module]: `import { early } from ${spec};\nexport const late = (): string => early;`,
        index: `export { late } from './${module}.js';\nexport const early = 'e';`,
      });
      roots.push(root);
      const barrel = join(root, 'packages', 'a', 'dist', 'index.js');
      const text = readFileSync(barrel, 'utf8');
      const r = flatten(root);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(join(root, 'packages', 'a', 'dist', `${module}.js`));
      expect(readFileSync(barrel, 'utf8')).toBe(text);
    },
  );

  it("given a package's directory, flattens that package and those it references, no other", () => {
    const root = mkdtempSync(join(tmpdir(), 'flatten-'));
    roots.push(root);
    const barrelOf = { index: "export { f } from './m.js';", m: 'export function f(): void {}' };
    writePackage(root, 'a', barrelOf, ['b']);
    writePackage(root, 'b', barrelOf, ['c']);
    writePackage(root, 'c', barrelOf);
    writePackage(root, 'd', barrelOf);
    const r = flatten(join(root, 'packages', 'a'));
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('3 re-exports');
    const kinds = ['a', 'b', 'c', 'd'].map((p) =>
      describeExports(join(root, 'packages', p, 'dist', 'index.js')),
    );
    expect(kinds).toEqual([
      ['f data function'],
      ['f data function'],
      ['f data function'],
      ['f accessor function'],
    ]);
  });
});
