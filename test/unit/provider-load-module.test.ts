import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { loadProvider, resolveProviderSpecifier } from '../../src/providers/load-module.js'
import type { AuthContext, ProviderEnv } from '../../src/providers/contract.js'
import { isGatehouseError } from '../../src/errors.js'
import { testContext } from '../helpers/auth-context.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const repo = resolve(here, '..', '..')
const fixtures = resolve(repo, 'test', 'fixtures', 'providers')
const ctx = testContext
const logged: string[] = []
const env = (baseDir: string): ProviderEnv => ({
  baseDir,
  name: 'p',
  log: { info: (m) => void logged.push(m), warn() {}, error() {} },
})
const loadError = (pattern: RegExp) => (err: unknown) =>
  isGatehouseError(err, 'GH_ERR_PROVIDER_LOAD') && pattern.test(err.message)

describe('loadProvider', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-load-'))
    await writeFile(join(dir, 'users.htpasswd'), 'alice:{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=\n')
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('built-in names map to providers/<name>/index beside src', () => {
    assert.equal(
      resolveProviderSpecifier('htpasswd', dir),
      pathToFileURL(join(repo, 'providers', 'htpasswd', 'index.ts')).href,
    )
    assert.equal(
      resolveProviderSpecifier('sqlite', dir),
      pathToFileURL(join(repo, 'providers', 'sqlite', 'index.ts')).href,
    )
  })

  test('loads a built-in provider by name, with options relative to baseDir', async () => {
    const p = await loadProvider('htpasswd', { file: 'users.htpasswd' }, env(dir))
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'correct horse'), true)
    await p.close?.()
  })

  test('calls a factory default export with (options, env)', async () => {
    const p = await loadProvider('./allow.ts', { canonical: 'Alice', greeting: 'hello' }, env(fixtures))
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'x'), 'Alice')
    assert.deepEqual(await p.groupsForUser?.(ctx, 'alice'), ['staff', 'p'])
    assert.ok(logged.includes('allow provider loaded'))
  })

  test('uses an object default export as the provider; absolute paths and file URLs work', async () => {
    const abs = await loadProvider(join(fixtures, 'deny.ts'), {}, env(dir))
    assert.equal(await abs.checkPassword?.(ctx, 'a', 'b'), null)
    const url = await loadProvider(pathToFileURL(join(fixtures, 'deny.ts')).href, {}, env(dir))
    assert.equal(await url.allowAccess?.(ctx, '10.0.0.1'), false)
  })

  test('a module without checkPassword or getRealmHash is GH_ERR_PROVIDER_LOAD naming the specifier', async () => {
    await assert.rejects(
      loadProvider('./no-methods.ts', {}, env(fixtures)),
      loadError(/\.\/no-methods\.ts.*neither checkPassword nor getRealmHash/),
    )
  })

  test('a missing file, an unresolvable package, or a failing factory is GH_ERR_PROVIDER_LOAD with the cause', async () => {
    await assert.rejects(loadProvider('./missing.ts', {}, env(fixtures)), loadError(/\.\/missing\.ts: no file at/))
    await assert.rejects(
      loadProvider('gatehouse-provider-that-does-not-exist', {}, env(dir)),
      loadError(/gatehouse-provider-that-does-not-exist: cannot resolve/),
    )
    await assert.rejects(
      loadProvider('./load-fails.ts', {}, env(fixtures)),
      loadError(/\.\/load-fails\.ts: factory failed: cannot open the accounts database/),
    )
  })

  test('a built-in that cannot start keeps its own GH_ERR_PROVIDER_LOAD message', async () => {
    await assert.rejects(
      loadProvider('htpasswd', { file: 'absent.htpasswd' }, env(dir)),
      loadError(/^cannot load provider p: htpasswd file .*absent\.htpasswd: ENOENT$/),
    )
  })
})
