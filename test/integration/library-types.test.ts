/**
 * The package's declarations as a consumer meets them: the examples in examples/library-fastify
 * type-check against `import ... from 'gatehouse-auth'` (the built dist/*.d.ts, found through the
 * package's `exports`), and a misuse is a type error, so the types are real, not `any`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const dir = `${root}test-output/types`
const tsc = `${root}node_modules/typescript/bin/tsc`

/** Type-checks `files` (paths relative to the repository) as a consumer; returns tsc's output and exit code. */
function typecheck(name: string, files: string[]): { status: number | null; out: string } {
  mkdirSync(dir, { recursive: true })
  // outDir elsewhere than dist/: otherwise tsc maps dist/*.d.ts back to src/ and checks the sources instead.
  const config = {
    extends: '../../tsconfig.json',
    compilerOptions: { noEmit: true, rootDir: '../..', outDir: './out' },
    include: files.map((f) => `../../${f}`),
  }
  writeFileSync(`${dir}/${name}.json`, JSON.stringify(config))
  const r = spawnSync(process.execPath, [tsc, '-p', `${dir}/${name}.json`], { encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}

test('the library examples type-check against the published declarations', () => {
  const r = typecheck('examples', ['examples/library-fastify/*.ts'])
  assert.equal(r.status, 0, r.out)
})

test("a misuse of gatehouseAuth's options (realm: 42) is a type error against GatehouseAuthOptions", () => {
  writeFileSync(
    `${dir}/misuse.ts`,
    `import Fastify from 'fastify'
import { gatehouseAuth } from 'gatehouse-auth'
const app = Fastify()
await app.register(gatehouseAuth, { realm: 42, provider: { type: 'htpasswd', file: 'x' } })
`,
  )
  const r = typecheck('misuse', ['test-output/types/misuse.ts'])
  assert.notEqual(r.status, 0)
  assert.match(r.out, /misuse\.ts\(4,\d+\): error TS2\d+/)
  assert.match(r.out, /GatehouseAuthOptions/)
  assert.match(r.out, /Type 'number' is not assignable to type 'string'/)
})
