// ESLint: typescript-eslint's recommended rules, a few type-aware rules that catch a lost promise
// (the bug class that ends a server quietly), and import-x/no-cycle. No stylistic rules: layout is
// Prettier's (.prettierrc.json).
import tseslint from 'typescript-eslint'
import { importX, createNodeResolver } from 'eslint-plugin-import-x'

export default tseslint.config(
  {
    // test/fixtures/lint holds deliberate findings for test/unit/lint-config.test.ts.
    ignores: [
      'dist/**',
      'node_modules/**',
      'test-output/**',
      '.demo/**',
      'bench/results/**',
      '**/*.d.ts',
      'test/fixtures/lint/**',
      // Written by scripts/config-validator.ts (ajv's code); a test keeps it equal to the schema.
      'src/config/validate.generated.ts',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,js,mjs,cjs}'],
    plugins: { 'import-x': importX },
    settings: {
      // Parse the .ts files an import leads to (the default only follows .js, so no-cycle saw nothing).
      'import-x/extensions': ['.ts', '.js', '.mjs', '.cjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/external-module-folders': ['node_modules'],
      // The sources import each other as './x.js' (NodeNext); the files on disk are x.ts.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'] },
        }),
      ],
    },
    rules: {
      // A cycle makes module initialisation order matter and hides which module owns a concept.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { project: './tsconfig.lint.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits or catches turns a failure into an unhandled rejection (the
      // process exits) or into silence; `void` marks the ones that are meant to run detached.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test runs a test() or describe() it is handed; the returned promise is the runner's.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      // An async function handed to a callback API that ignores its result (an event emitter,
      // setTimeout, a sync callback) loses its rejection the same way.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: true, attributes: false } }],
    },
  },
  {
    files: ['src/**/*.ts', 'providers/**/*.ts'],
    rules: {
      // A function that fits on a screen can be read whole; a longer one has jobs to name and split out.
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    rules: {
      // The unused-symbol check is tsc's (noUnusedLocals, noUnusedParameters); a second one
      // here would disagree with it about `_` prefixes and catch-clause bindings.
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
)
