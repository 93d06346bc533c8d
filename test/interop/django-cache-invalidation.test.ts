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
import { CachedLoginProbe } from '../helpers/cached-login.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const skip = skipUnlessPython(['django'], 'python3-django')
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
/** The documented bound (2 s, docs/faq.md) plus slack for a loaded machine: the old login must be refused by then. */
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
  let probe: CachedLoginProbe
  const get = (path: string, authorization: string) => probe.get(path, authorization)

  before(async () => {
    const t = tempDir('gh-django-cache-')
    dir = t.dir
    cleanup = t.cleanup
    db = join(dir, 'db.sqlite3')
    await django({
      db,
      op: 'create',
      users: [
        { username: 'alice', password: 'alice-old' },
        { username: 'bob', password: 'bob-pw' },
        { username: 'carol', password: 'carol-pw', groups: ['staff'] },
        { username: 'dave', password: 'dave-old' },
      ],
    })
    upstream = await startEchoUpstream()
    gw = await startGateway(
      {
        throttle: { enabled: false },
        providers: { site: { type: 'django', database: './db.sqlite3', threads: 2, threadsAtStart: 2 } },
        routes: [
          { path: '/app', upstream: upstream.url, auth: { scheme: 'basic', realm: 'Site', provider: 'site' } },
          {
            path: '/staff',
            upstream: upstream.url,
            auth: { scheme: 'basic', realm: 'Site', provider: 'site', require: { groups: ['staff'] } },
          },
        ],
      },
      dir,
    )
    probe = new CachedLoginProbe(gw, upstream, REFUSED_BY_MS)
  })

  after(async () => {
    await gw?.close()
    await upstream?.close()
    cleanup?.()
  }) /**
   * Both provider threads watch the database and report the change on their own: waits (bounded)
   * until both have, so a later report cannot empty the cache in the middle of the next test.
   */
  test('set_password + save: the old password gets 401 with the Basic challenge within 2 s, the new one 200', async () => {
    await probe.loginCached('/app/x', basic('alice', 'alice-old'), gw.gw.gatehouse.deps.identities)
    const mark = gw.logs.length
    await django({ db, op: 'set_password', username: 'alice', password: 'alice-new' })
    const r = await probe.refusedWithin('/app/x', basic('alice', 'alice-old'), 401)
    assert.equal(
      r.status,
      401,
      `the old password was still accepted ${REFUSED_BY_MS} ms after Django saved the new one`,
    )
    assert.equal(r.challenge, CHALLENGE)
    assert.equal(r.leaked, 0, 'the upstream never saw the refused request')
    await probe.threadsReported('site', 2, mark)
    assert.equal((await get('/app/x', basic('alice', 'alice-new'))).status, 200)
  })

  test('is_active = False: the user gets 401 with the Basic challenge within 2 s', async () => {
    await probe.loginCached('/app/x', basic('bob', 'bob-pw'), gw.gw.gatehouse.deps.identities)
    const mark = gw.logs.length
    await django({ db, op: 'deactivate', username: 'bob' })
    const r = await probe.refusedWithin('/app/x', basic('bob', 'bob-pw'), 401)
    assert.equal(r.status, 401, `the inactive user was still let in ${REFUSED_BY_MS} ms later`)
    assert.equal(r.challenge, CHALLENGE)
    assert.equal(r.leaked, 0)
    await probe.threadsReported('site', 2, mark)
  })

  test('a group removed: the user gets 403 on a route requiring it within 2 s', async () => {
    await probe.loginCached('/staff/x', basic('carol', 'carol-pw'), gw.gw.gatehouse.deps.identities)
    const mark = gw.logs.length
    await django({ db, op: 'remove_group', username: 'carol', group: 'staff' })
    const r = await probe.refusedWithin('/staff/x', basic('carol', 'carol-pw'), 403)
    assert.equal(r.status, 403, `the group was still granted ${REFUSED_BY_MS} ms after Django removed it`)
    assert.equal(r.leaked, 0)
    await probe.threadsReported('site', 2, mark)
  })

  test('the database replaced by a rename (a copy changed by Django): the provider reopens it and the old password gets 401 within 2 s', async () => {
    await probe.loginCached('/app/x', basic('dave', 'dave-old'), gw.gw.gatehouse.deps.identities)
    const copy = join(dir, 'db-restored.sqlite3')
    copyFileSync(db, copy)
    await django({ db: copy, op: 'set_password', username: 'dave', password: 'dave-new' })
    const mark = gw.logs.length
    renameSync(copy, db)
    const r = await probe.refusedWithin('/app/x', basic('dave', 'dave-old'), 401)
    assert.equal(r.status, 401, `the old file's password was still accepted ${REFUSED_BY_MS} ms after the rename`)
    assert.equal(r.challenge, CHALLENGE)
    assert.equal(r.leaked, 0)
    await probe.threadsReported('site', 2, mark)
    assert.equal((await get('/app/x', basic('dave', 'dave-new'))).status, 200)
    assert.ok(gw.logs.some((l) => l.includes('database file replaced: reopened')))
    assert.ok(!gw.logs.some((l) => /(alice|dave)-(old|new)|bob-pw|carol-pw/.test(l)), 'no password in the logs')
  })
})
