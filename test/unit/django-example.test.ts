/**
 * examples/django-site: the database its create-db.py makes with Django is one the django
 * provider logs into, with the users and answers the README promises.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import createDjango from '../../providers/django/index.js'
import type { AuthContext, Provider } from '../../src/providers/contract.js'
import { needs } from '../helpers/required-tool.js'

const PYTHON = '/usr/bin/python3'
const CREATE_DB = join(dirname(fileURLToPath(import.meta.url)), '../../examples/django-site/create-db.py')
const hasDjango = spawnSync(PYTHON, ['-c', 'import django'], { stdio: 'ignore' }).status === 0
const skip = needs(hasDjango, `${PYTHON} cannot import django (apt install python3-django)`)
const ctx: AuthContext = {
  method: 'GET',
  path: '/',
  host: '127.0.0.1',
  remoteAddress: '127.0.0.1',
  route: '/',
  realm: 'Site',
  headers: {},
}
const log = { info() {}, warn() {}, error() {} }

describe('examples/django-site/create-db.py', { skip }, () => {
  let dir: string
  let provider: Provider

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-django-site-'))
    await promisify(execFile)(PYTHON, [CREATE_DB, join(dir, 'db.sqlite3')])
    provider = await createDjango({ database: 'db.sqlite3' }, { baseDir: dir, name: 'djangosite', log })
  })
  after(async () => {
    await provider?.close?.()
    rmSync(dir, { recursive: true, force: true })
  })

  test('admin and ann log in and are in staff; ben logs in with no group', async () => {
    assert.equal(await provider.checkPassword?.(ctx, 'admin', 'admin-pass'), true)
    assert.equal(await provider.checkPassword?.(ctx, 'ann', 'ann-pass'), true)
    assert.equal(await provider.checkPassword?.(ctx, 'ben', 'ben-pass'), true)
    assert.deepEqual(await provider.groupsForUser?.(ctx, 'admin'), ['staff'])
    assert.deepEqual(await provider.groupsForUser?.(ctx, 'ann'), ['staff'])
    assert.deepEqual(await provider.groupsForUser?.(ctx, 'ben'), [])
  })

  test("a wrong password is false, the inactive carl is unknown (null), dora's unusable password is false", async () => {
    assert.equal(await provider.checkPassword?.(ctx, 'ann', 'ben-pass'), false)
    assert.equal(await provider.checkPassword?.(ctx, 'carl', 'carl-pass'), null)
    assert.equal(await provider.checkPassword?.(ctx, 'dora', ''), false)
  })
})
