#!/usr/bin/env node
/**
 * Rewrites the re-exports of every package's CommonJS barrel (`packages/<name>/dist/index.js`)
 * from accessor properties to data properties. Run after `tsc -b` by the `build` scripts.
 *
 * TypeScript emits `export { readU32 } from './wire/x.js'` as a live binding,
 * `Object.defineProperty(exports, "readU32", { enumerable: true, get: function () { return x_js_1.readU32; } });`,
 * and every use in another package, `(0, core_1.readU32)(…)`, calls that getter. With its 77
 * accessors defined one by one, V8 keeps core's exports object in dictionary mode
 * (`%HasFastProperties` false; true with data properties), so the getter is never inlined: each
 * use is a lookup and a call, and on the message path that was half of the platform's time per
 * command (830 → 400 ns for Base PROTOCOL_VERSION, the virtio benchmark's `platformHandleNs`
 * loop, 2026-12-04). A live binding is
 * needed only for a re-exported binding that changes later; this repository exports none (eslint's
 * `no-restricted-syntax` forbids `export let`, `export var` and export lists like
 * `let x; export { x };` outside barrels), so each getter is replaced by the value it would always return, read once as the barrel loads: `exports.readU32 = x_js_1.readU32;`.
 *
 * Only lines of exactly that form are rewritten, and the script is idempotent. A value read as the
 * barrel loads differs from the getter's only when the module it reads is still loading: a module
 * of the package that requires its own barrel (across packages, `tsc -b` refuses cycles). The
 * script refuses that (exit 1, naming the modules) before rewriting anything. Every relative
 * `require` is resolved as Node.js resolves it (`'..'`, `'../index'` and `'../index.js'` all name
 * the barrel), so no spelling of the import escapes the check.
 *
 * Each barrel is written through a temporary file and a rename: a reader (another build in
 * parallel) sees the old file or the new one, never a part.
 *
 * Usage: `node scripts/flatten-reexports.mjs [dir]` — `dir` is the repository root (every package
 * with a `dist/index.js`; the default, this script's parent) or one package's directory: that
 * package and the packages its `tsconfig.json` references, recursively — what its own `tsc -b`
 * builds. Each package's `build` script passes its directory, so packages that a parallel build
 * (`pnpm -r`, which builds a package after the packages it depends on) runs side by side never
 * write each other's barrels.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ACCESSOR =
  /^Object\.defineProperty\(exports, "([A-Za-z_$][\w$]*)", \{ enumerable: true, get: function \(\) \{ return ([A-Za-z_$][\w$]*)\.([A-Za-z_$][\w$]*); \} \}\);$/gm;

/** A `require` of a relative specifier, as TypeScript emits it: `"."`, `".."`, `"./x"`, `"../x"`. */
const REQUIRE = /\brequire\("(\.{1,2}(?:\/[^"]*)?)"\)/g;

/** Where Node.js resolves `spec` from `file`, or undefined when it resolves nowhere. */
function resolved(file, spec) {
  try {
    return createRequire(file).resolve(spec);
  } catch {
    return undefined;
  }
}

/** The `.js` files under `dir`, recursively. */
function modules(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? modules(join(dir, e.name))
      : e.name.endsWith('.js')
        ? [join(dir, e.name)]
        : [],
  );
}

/** `pkg` and the package directories its tsconfig.json references, recursively, each once. */
function referenced(pkg, seen = new Set()) {
  if (seen.has(pkg)) return seen;
  seen.add(pkg);
  const tsconfig = join(pkg, 'tsconfig.json');
  const references = existsSync(tsconfig)
    ? (JSON.parse(readFileSync(tsconfig, 'utf8')).references ?? [])
    : [];
  for (const { path } of references) referenced(resolve(pkg, path), seen);
  return seen;
}

const dir = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
const packages = join(dir, 'packages');
const barrels = (
  existsSync(packages)
    ? readdirSync(packages)
        .sort()
        .map((name) => join(packages, name, 'dist', 'index.js'))
    : [...referenced(dir)].sort().map((pkg) => join(pkg, 'dist', 'index.js'))
).filter((file) => existsSync(file));

const cycles = barrels.flatMap((barrel) =>
  modules(dirname(barrel))
    .filter((file) => file !== barrel)
    .filter((file) =>
      [...readFileSync(file, 'utf8').matchAll(REQUIRE)].some(
        ([, spec]) => resolved(file, spec) === barrel,
      ),
    ),
);
if (cycles.length > 0) {
  console.error(
    `flatten-reexports: these modules require their own package's barrel; a value read as the barrel loads could read them still loading. Import the module that defines the name instead:\n  ${cycles.join('\n  ')}`,
  );
  process.exit(1);
}

let total = 0;
for (const file of barrels) {
  const before = readFileSync(file, 'utf8');
  let n = 0;
  const after = before.replace(ACCESSOR, (_line, exported, module, imported) => {
    n++;
    return `exports.${exported} = ${module}.${imported};`;
  });
  if (n === 0) continue;
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, after);
  renameSync(temporary, file);
  total += n;
}
console.log(`flatten-reexports: ${total} re-exports made data properties`);
