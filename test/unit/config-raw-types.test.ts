/**
 * The raw configuration types are derived from the schema (src/config/from-schema.ts), not
 * written beside it: tsc checks test/fixtures/config-types/raw-types-check.ts, whose type-level
 * assertions fail to compile when a derived type drifts from what the schema accepts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const tsc = join(root, 'node_modules/typescript/bin/tsc')
const fixture = join(root, 'test/fixtures/config-types/raw-types-check.ts')

/** Runs tsc with the project's compiler options on `files` alone; returns its exit code and output. */
function typecheck(dir: string, files: string[]): { status: number | null; out: string } {
  const config = {
    extends: join(root, 'tsconfig.json'),
    compilerOptions: { noEmit: true, rootDir: '/', typeRoots: [join(root, 'node_modules/@types')] },
    include: [],
    files,
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config))
  const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}

test('the types FromSchema derives from the schema are the shapes the configuration file may hold', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-raw-types-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const r = typecheck(dir, [fixture])
  assert.equal(r.status, 0, r.out)
})

test('a type assertion that contradicts the schema is a compile error (the check is not vacuous)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-raw-types-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const wrong = join(dir, 'wrong.ts')
  writeFileSync(
    wrong,
    `import type { RawAuth, RawGroup } from ${JSON.stringify(join(root, 'src/config/raw-types.js'))}
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
const expect = <T extends true>(): T => true as T
expect<Equal<RawAuth['realm'], number>>()
expect<Equal<RawGroup['processes'], number | undefined>>()
`,
  )
  const r = typecheck(dir, [wrong])
  assert.notEqual(r.status, 0)
  assert.equal((r.out.match(/error TS2344/g) ?? []).length, 2, r.out)
  assert.match(r.out, /wrong\.ts\(4,/)
  assert.match(r.out, /wrong\.ts\(5,/)
})
