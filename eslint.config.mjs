import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/bench-dist/**',
      '**/coverage/**',
      'docs/**',
      '**/*.cjs',
      '**/jest.config.ts',
      'jest.config.ts',
      'jest.hang-guard.ts',
      'eslint.config.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./packages/*/tsconfig.test.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Unhandled promises are exactly how teardown races hide.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Typed by lib esnext.disposable, but absent on Node 20.
      'no-restricted-globals': [
        'error',
        'DisposableStack',
        'AsyncDisposableStack',
        'SuppressedError',
      ],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      // Numeric enums model wire values (status codes, message types): comparing a number read
      // from the wire with an enum member is the point.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // The build turns each package barrel's re-exports into data properties read once as it
      // loads (scripts/flatten-reexports.mjs): an exported binding must never change.
      'no-restricted-syntax': [
        'error',
        {
          selector: "ExportNamedDeclaration > VariableDeclaration[kind!='const']",
          message:
            'Export a const: the build flattens re-exports into values read once (scripts/flatten-reexports.mjs).',
        },
        {
          // `let x; export { x };` would escape the rule above.
          selector:
            "ExportNamedDeclaration[source=null][declaration=null][exportKind!='type'] > ExportSpecifier[exportKind!='type']",
          message:
            'Export the declaration itself (export const / function / class): the build flattens re-exports into values read once (scripts/flatten-reexports.mjs).',
        },
      ],
    },
  },
  {
    // Plain Node.js scripts, outside every tsconfig.
    files: ['scripts/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { console: 'readonly', process: 'readonly' },
    },
  },
);
