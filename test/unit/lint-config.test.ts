/**
 * The ESLint configuration catches what it is there for: an import cycle (import-x/no-cycle
 * following the .js specifiers to the .ts files), a promise left floating, and an async
 * function handed to an API that drops its rejection, and a function in src/ or providers/ too
 * long to read on a screen; and it passes the same code done right.
 * The fixtures are linted with the repository's eslint.config.js, type-aware against a
 * tsconfig of their own so the run does not load the whole tree.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'

const root = fileURLToPath(new URL('../..', import.meta.url))
const fixtures = fileURLToPath(new URL('../fixtures/lint/', import.meta.url))

async function findings(file: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: root,
    ignore: false,
    overrideConfig: {
      files: ['**/*.ts'],
      languageOptions: { parserOptions: { project: `${fixtures}tsconfig.json`, tsconfigRootDir: fixtures } },
    },
  })
  const [result] = await eslint.lintFiles([`${fixtures}${file}`])
  assert.ok(result)
  return result.messages.map((m) => `${m.line}:${m.ruleId ?? m.message}`)
}

test('a module importing a module that imports it back is reported by import-x/no-cycle', async () => {
  assert.deepEqual(await findings('cycle-a.ts'), ['2:import-x/no-cycle'])
})

test('an unawaited promise and an async event listener are reported', async () => {
  assert.deepEqual(await findings('lost-promises.ts'), [
    '9:@typescript-eslint/no-floating-promises',
    '10:@typescript-eslint/no-misused-promises',
  ])
})

test('awaited, caught and void-marked promises pass', async () => {
  assert.deepEqual(await findings('clean.ts'), [])
})

/** Lints a fixture's text as if it stood at `path` (the rule applies to src/ and providers/ only), without type information. */
async function findingsAt(file: string, path: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: root,
    overrideConfig: {
      files: ['**/*.ts'],
      languageOptions: { parserOptions: { project: null, projectService: false } },
      rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-misused-promises': 'off' },
    },
  })
  const text = readFileSync(`${fixtures}${file}`, 'utf8')
  const [result] = await eslint.lintText(text, { filePath: `${root}${path}` })
  assert.ok(result)
  return result.messages.map((m) => `${m.line}:${m.ruleId ?? m.message}`)
}

test('a function over 80 lines (blank lines and comments aside) is reported in src/ and providers/', async () => {
  assert.deepEqual(await findingsAt('long-function.ts', 'src/long-function.ts'), ['3:max-lines-per-function'])
  assert.deepEqual(await findingsAt('long-function.ts', 'providers/example/long-function.ts'), [
    '3:max-lines-per-function',
  ])
})

test('outside src/ and providers/ (tests, scripts) a long function is not reported', async () => {
  assert.deepEqual(await findingsAt('long-function.ts', 'test/unit/long-function.ts'), [])
})
