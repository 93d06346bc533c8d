import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Runs `code` in a process of its own (this one may hold yaml already); returns its JSON output. */
function run(code: string): unknown {
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  assert.equal(out.status, 0, out.stderr)
  return JSON.parse(out.stdout)
}

test('parseYaml parses the text and leaves no yaml module in the module cache', () => {
  const result = run(`
    const { parseYaml } = await import('./src/config/yaml-parse.ts')
    const { createRequire } = await import('node:module')
    const value = parseYaml('routes:\\n  - path: /\\n    upstream: http://127.0.0.1:1\\n', { prettyErrors: true })
    let error = ''
    try { parseYaml('a: [1, 2\\n', { prettyErrors: true }) } catch (err) { error = err.message }
    const yaml = Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes('/node_modules/yaml/'))
    process.stdout.write(JSON.stringify({ value, error, yaml }))
  `) as { value: unknown; error: string; yaml: string[] }
  assert.deepEqual(result.value, { routes: [{ path: '/', upstream: 'http://127.0.0.1:1' }] })
  assert.match(result.error, /at line 2, column 1/, 'a syntax error still names the line and column')
  assert.deepEqual(result.yaml, [])
})

test('parseYaml leaves yaml in the cache when another module had loaded it', () => {
  const result = run(`
    const { createRequire } = await import('node:module')
    const require = createRequire(import.meta.url)
    const mine = require('yaml')
    const { parseYaml } = await import('./src/config/yaml-parse.ts')
    const value = parseYaml('a: 1\\n', { prettyErrors: true })
    process.stdout.write(JSON.stringify({ value, same: require('yaml') === mine }))
  `)
  assert.deepEqual(result, { value: { a: 1 }, same: true })
})
