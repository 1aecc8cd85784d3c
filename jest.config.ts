import type { Config } from 'jest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// ESM-only dependencies (inversify 8) must be transformed to CommonJS for jest on Node 20.
const esmDeps = ['inversify', '@inversifyjs'];

/**
 * The jest project configuration shared by every package (`packages/<name>/jest.config.ts`).
 * Tests import sibling packages from their sources, never from `dist/`.
 */
export function createPackageConfig(packageDir: string): Config {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    name: string;
  };
  return {
    displayName: pkg.name,
    rootDir: packageDir,
    testEnvironment: 'node',
    roots: ['<rootDir>/test'],
    setupFilesAfterEnv: [join(__dirname, 'jest.hang-guard.ts')],
    moduleNameMapper: {
      '^@scmi-ts/([^/]+)$': '<rootDir>/../$1/src/index.ts',
      // fast-check with the suite's seed and replay line (jest.fast-check.cjs).
      '^fast-check$': join(__dirname, 'jest.fast-check.cjs'),
      // ES module syntax with .js suffixes, resolved to the TypeScript sources.
      '^(\.{1,2}/.*)\.js$': '$1',
    },
    transformIgnorePatterns: [`/node_modules/(?!(\\.pnpm|${esmDeps.join('|')})/)`],
    transform: {
      '^.+\\.(t|j)s$': [
        '@swc/jest',
        {
          jsc: {
            target: 'es2022',
            parser: { syntax: 'typescript', decorators: true },
            transform: { legacyDecorator: true, decoratorMetadata: true },
          },
          module: { type: 'commonjs' },
        },
      ],
    },
  };
}

/**
 * Root jest configuration: every package is a project, and coverage is collected across all of
 * them. Each package also runs alone with `pnpm --filter @scmi-ts/<name> test`.
 */
const config: Config = {
  projects: ['<rootDir>/packages/*'],
  // Test files run in a worker process, recycled once it holds more than this after a file: in
  // one long-lived process (jest's default with one worker, on 2 cores) every file's module
  // registry that something global still references piles up, and the files that run late pay
  // for it in garbage collection (measured from a fresh clone: the OP-TEE conformance suite took
  // 76 s as the 172nd file, 20 s as the first; the whole suite 375 s, and 283 s with 800 MB).
  // 500 MB, measured again on 217 files with a fresh jest cache (the order a fresh clone runs
  // them in): the OP-TEE conformance suite 30.0 s → 17.6 s, the whole suite 246 s → 221 s.
  workerIdleMemoryLimit: '500MB',
  collectCoverageFrom: ['<rootDir>/packages/*/src/**/*.ts', '!<rootDir>/packages/demo/**'],
  coverageDirectory: '<rootDir>/coverage',
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: {
    // Per-package floors; each package sets the one it holds.
    global: {},
    './packages/devres/src/': { lines: 95, branches: 85, functions: 95 },
    './packages/core/src/': { lines: 85 },
    './packages/platform/src/': { lines: 90, branches: 85, functions: 90 },
    './packages/conformance/src/': { lines: 60 },
    './packages/virtio-transport/src/': { lines: 90, branches: 80, functions: 85 },
    './packages/mailbox-transport/src/': { lines: 90, branches: 80, functions: 90 },
    './packages/optee-transport/src/': { lines: 90, branches: 80, functions: 90 },
    './packages/example-transport/src/': { lines: 95, branches: 85, functions: 95 },
    './packages/protocols/src/': { lines: 90, branches: 80, functions: 90 },
  },
};

export default config;
