/**
 * A real Django (Debian's python3-django, /usr/bin/python3) changes its users while gatehouse's
 * `django` provider has their logins cached: set_password + save, is_active = False, a group
 * removed, and the whole database replaced by a rename (a restored copy). Each must stop the
 * old login within 2 s, not when the cached entry expires (cache.ttl, 5 minutes). Real gateway,
 * real SQLite file written by Django's ORM (rollback journal), the provider in two threads.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { runPythonJson, skipUnlessPython } from './helpers/python.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const skip = skipUnlessPython(['django'], 'python3-django')
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
/** The brief's bound (2 s) plus slack for a loaded machine: the old login must be refused by then. */
const REFUSED_BY_MS = 2500
const CHALLENGE = 'Basic realm="Site", charset="UTF-8"'

interface DjangoOp {
  db: string
  op: 'create' | 'set_password' | 'deactivate' | 'remove_group'
  username?: string
  password?: string
  group?: string
  users?: Array<{ username: string; password: string; groups?: string[] }>
}
const django = (args: DjangoOp) => runPythonJson<{ ok: true; django: number[] }>('django_users.py', args, 60_000)

describe('a Django database changed by Django while gatehouse has logins cached', { skip }, () => {
  let upstream: EchoUpstream
  let gw: TestGateway
  let cleanup: () => void
  let dir: string
  let db: string

  before(async () => {
    const t = tempDir('gh-django-cache-')
    dir = t.dir
    cleanup = t.cleanup
    db = join(dir, 'db.sqlite3')
    await django({
      db, op: 'create', users: [
        { username: 'alice', password: 'alice-old' },
        { username: 'bob', password: 'bob-pw' },
        { username: 'carol', password: 'carol-pw', groups: ['staff'] },
        { username: 'dave', password: 'dave-old' },
      ],
    })
    upstream = await startEchoUpstream()
    gw = await startGateway({
      throttle: { enabled: false },
      providers: { site: { type: 'django', database: './db.sqlite3', threads: 2 } },
      routes: [
        { path: '/app', upstream: upstream.url, auth: { scheme: 'basic', realm: 'Site', provider: 'site' } },
        { path: '/staff', upstream: upstream.url, auth: { scheme: 'basic', realm: 'Site', provider: 'site', require: { groups: ['staff'] } } },
      ],
    }, dir)
  })

  after(async () => {
    await gw?.close()
    await upstream?.close()
    cleanup?.()
  })

  async function get(path: string, authorization: string): Promise<{ status: number; challenge: string | null }> {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization } })
    await res.arrayBuffer()
    return { status: res.status, challenge: res.headers.get('www-authenticate') }
  }

  /** Logs in twice; the second answer must be a cache hit, or the test would prove nothing. */
  async function loginCached(path: string, authorization: string): Promise<void> {
    const cache = gw.gw.gatehouse.deps.identities
    assert.equal((await get(path, authorization)).status, 200)
    const hits = cache.hits
    assert.equal((await get(path, authorization)).status, 200)
    assert.equal(cache.hits, hits + 1, 'the second login was answered from the cache')
  }

  /** Repeats the old login until it gets `status`, for at most REFUSED_BY_MS after the change; counts what reached the upstream when refused. */
  async function refusedWithin(path: string, authorization: string, status: number): Promise<{ status: number; challenge: string | null; leaked: number }> {
    const deadline = Date.now() + REFUSED_BY_MS
    for (;;) {
      const seen = upstream.seen.length
      const r = await get(path, authorization)
      if (r.status === status || Date.now() >= deadline) return { ...r, leaked: r.status === status ? upstream.seen.length - seen : 0 }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /**
   * Both provider threads watch the database and report the change on their own: waits (bounded)
   * until both have, so a later report cannot empty the cache in the middle of the next test.
   */
  async function bothThreadsReported(mark: number): Promise<void> {
    const deadline = Date.now() + REFUSED_BY_MS
    for (;;) {
      const threads = new Set<number>()
      for (const line of gw.logs.slice(mark)) {
        const rec = JSON.parse(line) as { msg?: string; provider?: string; thread?: number }
        if (rec.msg === 'provider data changed: cache entries dropped' && rec.provider === 'site' && typeof rec.thread === 'number') threads.add(rec.thread)
      }
      if (threads.size === 2) return
      assert.ok(Date.now() < deadline, `only threads ${[...threads].join(', ')} reported the change`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  test('set_password + save: the old password gets 401 with the Basic challenge within 2 s, the new one 200', async () => {
    await loginCached('/app/x', basic('alice', 'alice-old'))
    const mark = gw.logs.length
    await django({ db, op: 'set_password', username: 'alice', password: 'alice-new' })
    const r = await refusedWithin('/app/x', basic('alice', 'alice-old'), 401)
    assert.equal(r.status, 401, `the old password was still accepted ${REFUSED_BY_MS} ms after Django saved the new one`)
    assert.equal(r.challenge, CHALLENGE)
    assert.equal(r.leaked, 0, 'the upstream never saw the refused request')
    await bothThreadsReported(mark)
    assert.equal((await get('/app/x', basic('alice', 'alice-new'))).status, 200)
  })

  test('is_active = False: the user gets 401 with the Basic challenge within 2 s', async () => {
    await loginCached('/app/x', basic('bob', 'bob-pw'))
    const mark = gw.logs.length
    await django({ db, op: 'deactivate', username: 'bob' })
    const r = await refusedWithin('/app/x', basic('bob', 'bob-pw'), 401)
    assert.equal(r.status, 401, `the inactive user was still let in ${REFUSED_BY_MS} ms later`)
    assert.equal(r.challenge, CHALLENGE)
    assert.equal(r.leaked, 0)
    await bothThreadsReported(mark)
  })

  test('a group removed: the user gets 403 on a route requiring it within 2 s', async () => {
    await loginCached('/staff/x', basic('carol', 'carol-pw'))
    const mark = gw.logs.length
    await django({ db, op: 'remove_group', username: 'carol', group: 'staff' })
    const r = await refusedWithin('/staff/x', basic('carol', 'carol-pw'), 403)
    assert.equal(r.status, 403, `the group was still granted ${REFUSED_BY_MS} ms after Django removed it`)
    assert.equal(r.leaked, 0)
    await bothThreadsReported(mark)
  })

  test('the database replaced by a rename (a copy changed by Django): the provider reopens it and the old password gets 401 within 2 s', async () => {
    await loginCached('/app/x', basic('dave', 'dave-old'))
    const copy = join(dir, 'db-restored.sqlite3')
    copyFileSync(db, copy)
    await django({ db: copy, op: 'set_password', username: 'dave', password: 'dave-new' })
    const mark = gw.logs.length
    renameSync(copy, db)
    const r = await refusedWithin('/app/x', basic('dave', 'dave-old'), 401)
    assert.equal(r.status, 401, `the old file's password was still accepted ${REFUSED_BY_MS} ms after the rename`)
    assert.equal(r.challenge, CHALLENGE)
    assert.equal(r.leaked, 0)
    await bothThreadsReported(mark)
    assert.equal((await get('/app/x', basic('dave', 'dave-new'))).status, 200)
    assert.ok(gw.logs.some((l) => l.includes('database file replaced: reopened')))
    assert.ok(!gw.logs.some((l) => /(alice|dave)-(old|new)|bob-pw|carol-pw/.test(l)), 'no password in the logs')
  })
})
