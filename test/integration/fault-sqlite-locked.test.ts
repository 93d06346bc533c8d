/**
 * Fault injection: a SQLite user database locked by another connection.
 *  - A Django database (rollback journal, as Django leaves it) with an exclusive transaction held
 *    by another connection: logins fail closed with 503 + Retry-After once the busy timeout has
 *    passed, with a clear log line, and pass again as soon as the lock is released.
 *  - gatehouse's own store runs in WAL mode: a writer holding an exclusive transaction does not
 *    stop logins at all (readers are not blocked), which this test pins down.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { startEchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir } from '../helpers/gateway.js'
import { UserStore } from '../../providers/sqlite/store.js'

const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` })

/** A database with Django's auth tables and one user (pbkdf2_sha256 as Django writes it). */
function makeDjangoDb(path: string, user: string, password: string): void {
  const db = new Database(path)
  db.exec(`
    CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, password TEXT NOT NULL, is_active INTEGER NOT NULL);
    CREATE TABLE auth_group (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
    CREATE TABLE auth_user_groups (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, group_id INTEGER NOT NULL);
  `)
  const salt = randomBytes(9).toString('hex')
  const iterations = 260_000
  const hash = pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('base64')
  db.prepare('INSERT INTO auth_user (username, password, is_active) VALUES (?, ?, 1)').run(
    user,
    `pbkdf2_sha256$${iterations}$${salt}$${hash}`,
  )
  assert.equal(db.pragma('journal_mode', { simple: true }), 'delete')
  db.close()
}

describe('a locked SQLite user database', () => {
  test('django: an exclusive transaction held elsewhere fails logins closed with 503 after the busy timeout, and they recover on release', async (t) => {
    const { dir, cleanup } = tempDir()
    const database = join(dir, 'db.sqlite3')
    makeDjangoDb(database, 'alice', 'pw-of-alice')
    const echo = await startEchoUpstream()
    const gw = await startGateway(
      {
        providers: { site: { type: 'django', database, busyTimeout: 200, threads: 1 } },
        routes: [{ path: '/app', upstream: echo.url, auth: { realm: 'Site', provider: 'site', cache: false } }],
      },
      dir,
    )
    const holder = new Database(database)
    t.after(async () => {
      if (holder.inTransaction) holder.exec('ROLLBACK')
      holder.close()
      await gw.close()
      await echo.close()
      cleanup()
    })
    assert.equal((await fetch(`${gw.url}/app/x`, { headers: basic('alice', 'pw-of-alice') })).status, 200)

    holder.exec('BEGIN EXCLUSIVE')
    holder.prepare("UPDATE auth_user SET is_active = 1 WHERE username = 'alice'").run()
    const seenBefore = echo.seen.length
    const locked = await fetch(`${gw.url}/app/x`, { headers: basic('alice', 'pw-of-alice') })
    assert.equal(locked.status, 503)
    assert.equal(locked.headers.get('retry-after'), '5')
    assert.equal(await locked.text(), 'Service Unavailable\n')
    const wrong = await fetch(`${gw.url}/app/x`, { headers: basic('alice', 'wrong') })
    assert.equal(wrong.status, 503, 'a wrong password cannot be told apart while the database is locked either')
    assert.equal(echo.seen.length, seenBefore, 'nothing passed while locked')
    const line = gw.logs.find((l) => l.includes('database is locked by another connection'))
    assert.ok(line, 'a clear log line names the cause')
    assert.match(line, /"busyTimeoutMs":200/)
    assert.ok(
      gw.logs.some(
        (l) => l.includes('GH_ERR_PROVIDER_UNAVAILABLE') && l.includes('stayed locked past the busy timeout'),
      ),
    )
    assert.ok(!gw.logs.some((l) => l.includes('pw-of-alice')), 'no password in the logs')

    holder.exec('COMMIT')
    assert.equal((await fetch(`${gw.url}/app/x`, { headers: basic('alice', 'pw-of-alice') })).status, 200)
    assert.equal((await fetch(`${gw.url}/app/x`, { headers: basic('alice', 'wrong') })).status, 401)
  })

  test('sqlite (WAL): a writer holding an exclusive transaction does not stop logins', async (t) => {
    const { dir, cleanup } = tempDir()
    const database = join(dir, 'users.sqlite')
    const store = UserStore.open(database, { create: true, bcryptCost: 4 })
    store.addUser('bob', 'pw-of-bob')
    store.close()
    const echo = await startEchoUpstream()
    const gw = await startGateway(
      {
        providers: { users: { type: 'sqlite', database, busyTimeout: 200, threads: 1 } },
        routes: [{ path: '/app', upstream: echo.url, auth: { realm: 'Own', provider: 'users', cache: false } }],
      },
      dir,
    )
    const holder = new Database(database)
    t.after(async () => {
      if (holder.inTransaction) holder.exec('ROLLBACK')
      holder.close()
      await gw.close()
      await echo.close()
      cleanup()
    })
    holder.exec('BEGIN EXCLUSIVE')
    holder.prepare("UPDATE users SET active = 1 WHERE name = 'bob'").run()
    assert.equal((await fetch(`${gw.url}/app/x`, { headers: basic('bob', 'pw-of-bob') })).status, 200)
    assert.equal((await fetch(`${gw.url}/app/x`, { headers: basic('bob', 'nope') })).status, 401)
    holder.exec('COMMIT')
  })
})
