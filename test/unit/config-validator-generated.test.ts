import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { configValidatorSource, GENERATED_PATH } from '../../scripts/config-validator.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

test('src/config/validate.generated.ts is the schema of src/config/schema.ts compiled as it stands', () => {
  const committed = readFileSync(GENERATED_PATH, 'utf8')
  assert.ok(
    committed === configValidatorSource(),
    'src/config/validate.generated.ts is stale: run `npm run build:config-validator` and commit it',
  )
})

test('parsing a configuration loads none of ajv beyond its runtime helpers (no compiler, no schema compiled at start)', () => {
  // A process of its own: the test runner's module cache may already hold ajv for other reasons.
  const script = `
    const { parseConfig } = await import('./src/config/parse.ts')
    parseConfig({ routes: [{ path: '/', upstream: 'http://127.0.0.1:1' }] }, { baseDir: '/tmp' })
    let refused = ''
    try { parseConfig({ routes: [{ path: 'x' }] }, { baseDir: '/tmp' }) } catch (err) { refused = err.code }
    const { createRequire } = await import('node:module')
    const cache = createRequire(import.meta.url).cache
    const ajv = Object.keys(cache).filter((p) => p.includes('/node_modules/ajv/'))
    process.stdout.write(JSON.stringify({ refused, ajv }))
  `
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  assert.equal(out.status, 0, out.stderr)
  const { refused, ajv } = JSON.parse(out.stdout) as { refused: string; ajv: string[] }
  assert.equal(refused, 'GH_ERR_CONFIG_INVALID')
  const beyondRuntime = ajv.filter((p) => !p.includes('/node_modules/ajv/dist/runtime/'))
  assert.deepEqual(beyondRuntime, [])
})
