import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import createSqliteProvider from '../../providers/sqlite/index.js'
import { UserStore } from '../../providers/sqlite/store.js'
import type { AuthContext, Provider, ProviderLog } from '../../src/providers/contract.js'
import { isGatehouseError } from '../../src/errors.js'

const ctx: AuthContext = {
  method: 'GET',
  path: '/',
  host: 'localhost',
  remoteAddress: '127.0.0.1',
  route: '/',
  realm: 'Wiki',
  headers: {},
}
const silent: ProviderLog = { info() {}, warn() {}, error() {} }
const h = (alg: string, s: string): string => createHash(alg).update(s).digest('hex')

describe('UserStore', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-sqlite-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('open without create refuses a missing database', () => {
    assert.throws(
      () => UserStore.open(join(dir, 'missing.sqlite')),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED') && /does not exist/.test(err.message),
    )
  })

  test('creates a 0600 database in WAL mode at the current schema version', () => {
    const path = join(dir, 'new.sqlite')
    UserStore.open(path, { create: true }).close()
    assert.equal(statSync(path).mode & 0o777, 0o600)
    const db = new Database(path, { readonly: true })
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
    assert.equal(db.pragma('user_version', { simple: true }), 1)
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>
    ).map((r) => r.name)
    assert.deepEqual(tables, ['digest_ha1', 'groups', 'user_groups', 'users'])
    db.close()
  })

  test('refuses a database from a newer gatehouse (schema version above the known one)', () => {
    const path = join(dir, 'future.sqlite')
    UserStore.open(path, { create: true }).close()
    const db = new Database(path)
    db.pragma('user_version = 99')
    db.close()
    assert.throws(
      () => UserStore.open(path),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED') && /schema version 99/.test(err.message),
    )
  })

  test('adds users with bcrypt hashes, groups, and HA1 for MD5, SHA-256 and SHA-512-256 per realm', () => {
    const store = UserStore.open(join(dir, 'users.sqlite'), { create: true, bcryptCost: 4 })
    store.addUser('alice', 'correct horse', { realms: ['Wiki', 'Office'] })
    store.addUser('bob', 'pässwörd')
    store.addToGroup('alice', 'staff')
    store.addToGroup('alice', 'admins')
    store.addToGroup('bob', 'staff')
    assert.match(store.getUser('alice')?.hash ?? '', /^\$2b\$04\$/)
    assert.deepEqual(store.listUsers(), [
      { name: 'alice', groups: ['admins', 'staff'], active: true },
      { name: 'bob', groups: ['staff'], active: true },
    ])
    assert.equal(store.realmHash('alice', 'Wiki', 'MD5'), h('md5', 'alice:Wiki:correct horse'))
    assert.equal(store.realmHash('alice', 'Wiki', 'SHA-256'), h('sha256', 'alice:Wiki:correct horse'))
    assert.equal(store.realmHash('alice', 'Office', 'SHA-512-256'), h('sha512-256', 'alice:Office:correct horse'))
    assert.equal(store.realmHash('bob', 'Wiki', 'MD5'), undefined)
    assert.throws(
      () => store.addUser('alice', 'x'),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED') && /already exists/.test(err.message),
    )
    assert.throws(
      () => store.addUser('a:b', 'x'),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED'),
    )
    assert.throws(
      () => store.addToGroup('nobody', 'staff'),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED') && /no such user/.test(err.message),
    )
    store.close()
  })

  test('setPassword replaces the Digest HA1 too, keeping the realms, so the old password stops working', () => {
    const store = UserStore.open(join(dir, 'users.sqlite'), { bcryptCost: 4 })
    store.setPassword('alice', 'new horse')
    assert.equal(store.realmHash('alice', 'Wiki', 'MD5'), h('md5', 'alice:Wiki:new horse'))
    assert.equal(store.realmHash('alice', 'Office', 'SHA-256'), h('sha256', 'alice:Office:new horse'))
    store.setPassword('alice', 'newer horse', { realms: ['Wiki'] })
    assert.equal(store.realmHash('alice', 'Office', 'MD5'), undefined)
    assert.equal(store.realmHash('alice', 'Wiki', 'SHA-512-256'), h('sha512-256', 'alice:Wiki:newer horse'))
    assert.throws(
      () => store.setPassword('nobody', 'x'),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED'),
    )
    store.close()
  })

  test('removeFromGroup, setActive and removeUser (which drops memberships and HA1)', () => {
    const store = UserStore.open(join(dir, 'users.sqlite'), { bcryptCost: 4 })
    assert.equal(store.removeFromGroup('alice', 'admins'), true)
    assert.equal(store.removeFromGroup('alice', 'admins'), false)
    assert.deepEqual(store.groupsFor('alice'), ['staff'])
    store.setActive('bob', false)
    assert.equal(store.getUser('bob')?.active, false)
    assert.throws(
      () => store.setActive('nobody', true),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED'),
    )
    assert.equal(store.removeUser('alice'), true)
    assert.equal(store.removeUser('alice'), false)
    assert.equal(store.getUser('alice'), undefined)
    assert.equal(store.realmHash('alice', 'Wiki', 'MD5'), undefined)
    assert.deepEqual(store.groupsFor('alice'), [])
    store.close()
  })
})

describe('sqlite provider', () => {
  let dir: string
  let provider: Provider
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-sqlite-provider-'))
    const store = UserStore.open(join(dir, 'accounts.sqlite'), { create: true, bcryptCost: 4 })
    store.addUser('alice', 'correct horse', { realms: ['Wiki'] })
    store.addUser('bob', 'battery staple', { realms: ['Wiki'] })
    store.addToGroup('alice', 'staff')
    store.addToGroup('bob', 'staff')
    store.setActive('bob', false)
    store.close()
    provider = await createSqliteProvider(
      { database: 'accounts.sqlite' },
      { baseDir: dir, name: 'accounts', log: silent },
    )
  })
  after(async () => {
    await provider.close?.()
    await rm(dir, { recursive: true, force: true })
  })

  test('checkPassword: true, false, null for unknown, and null for inactive users even with the right password', async () => {
    assert.equal(await provider.checkPassword?.(ctx, 'alice', 'correct horse'), true)
    assert.equal(await provider.checkPassword?.(ctx, 'alice', 'correct horsE'), false)
    assert.equal(await provider.checkPassword?.(ctx, 'carol', 'correct horse'), null)
    assert.equal(await provider.checkPassword?.(ctx, 'bob', 'battery staple'), null)
  })

  test('getRealmHash reads digest_ha1; inactive and unknown users get null', async () => {
    assert.equal(
      await provider.getRealmHash?.(ctx, 'alice', 'Wiki', 'SHA-256'),
      h('sha256', 'alice:Wiki:correct horse'),
    )
    assert.equal(await provider.getRealmHash?.(ctx, 'alice', 'Other', 'MD5'), null)
    assert.equal(await provider.getRealmHash?.(ctx, 'bob', 'Wiki', 'MD5'), null)
    assert.equal(await provider.getRealmHash?.(ctx, 'carol', 'Wiki', 'MD5'), null)
  })

  test('groupsForUser lists groups of active users', async () => {
    assert.deepEqual(await provider.groupsForUser?.(ctx, 'alice'), ['staff'])
    assert.deepEqual(await provider.groupsForUser?.(ctx, 'bob'), [])
  })

  test('changes made by another connection (the CLI) apply to the next call', async () => {
    const store = UserStore.open(join(dir, 'accounts.sqlite'), { bcryptCost: 4 })
    store.setActive('bob', true)
    store.setPassword('alice', 'changed')
    store.close()
    assert.equal(await provider.checkPassword?.(ctx, 'bob', 'battery staple'), true)
    assert.equal(await provider.checkPassword?.(ctx, 'alice', 'correct horse'), false)
    assert.equal(await provider.checkPassword?.(ctx, 'alice', 'changed'), true)
  })

  test('a missing database is GH_ERR_PROVIDER_LOAD naming the file', async () => {
    await assert.rejects(
      createSqliteProvider({ database: 'nope.sqlite' }, { baseDir: dir, name: 'accounts', log: silent }),
      (err: unknown) => {
        return isGatehouseError(err, 'GH_ERR_PROVIDER_LOAD') && err.message.includes('nope.sqlite')
      },
    )
  })
})
