/**
 * gatehouse's own user store changes under a running gateway whose credential cache holds the
 * user's login: `gatehouse users passwd`, `deactivate` and `remove-group`, run as operators run
 * them (the real CLI, a child process writing through its own SQLite connection), must stop the
 * old login within 2 s, not when the cached entry expires (cache.ttl, 5 minutes). Real gateway,
 * real SQLite file in WAL mode, the provider in two worker threads, the default watch interval.
 * Uses dist/ (built by `npm test`).
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CachedLoginProbe } from '../helpers/cached-login.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url))
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
/** The documented bound (2 s, docs/faq.md) plus slack for a loaded machine: the old login must be refused by then. */
const REFUSED_BY_MS = 2500
const BASIC_CHALLENGE = 'Basic realm="Store", charset="UTF-8"'

let upstream: EchoUpstream
let gw: TestGateway
let cleanup: () => void
let database: string
let probe: CachedLoginProbe
const get = (path: string, authorization?: string) => probe.get(path, authorization)
const digest = (path: string, user: string, password: string) => probe.digestMd5(path, 'Store', user, password)

/** `gatehouse users ...` as a child process; the password, when any, on stdin. */
function users(args: string[], password?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [BIN, 'users', ...args, '--database', database, '--bcrypt-cost', '4'],
      { timeout: 30_000 },
      (err, _out, stderr) => {
        if (err) reject(new Error(`gatehouse users ${args.join(' ')} failed: ${stderr}`))
        else resolve()
      },
    )
    child.stdin!.end(password === undefined ? '' : `${password}\n`)
  })
}

before(async () => {
  upstream = await startEchoUpstream()
  const t = tempDir('gh-sqlite-cache-')
  cleanup = t.cleanup
  database = join(t.dir, 'users.sqlite')
  await users(['add', 'alice', '--password-stdin', '--digest-realm', 'Store'], 'alice-old')
  for (const u of ['bob', 'carol', 'dave'])
    await users(['add', u, '--password-stdin', '--digest-realm', 'Store'], `${u}-pw`)
  await users(['add-group', 'dave', 'staff'])
  gw = await startGateway(
    {
      throttle: { enabled: false },
      digest: { secret: 'a-test-secret-of-enough-length' },
      providers: { store: { type: 'sqlite', database: './users.sqlite', threads: 2, threadsAtStart: 2 } },
      routes: [
        { path: '/basic', upstream: upstream.url, auth: { scheme: 'basic', realm: 'Store', provider: 'store' } },
        {
          path: '/digest',
          upstream: upstream.url,
          auth: { scheme: 'digest', realm: 'Store', provider: 'store', algorithms: ['MD5'] },
        },
        {
          path: '/staff',
          upstream: upstream.url,
          auth: { scheme: 'basic', realm: 'Store', provider: 'store', require: { groups: ['staff'] } },
        },
      ],
    },
    t.dir,
  )
  probe = new CachedLoginProbe(gw, upstream, REFUSED_BY_MS)
})

after(async () => {
  await gw?.close()
  await upstream?.close()
  cleanup?.()
})
/**
 * Repeats the old login until it gets `status`, for at most REFUSED_BY_MS after the change
 * returned. Returns the last answer and how many requests the upstream saw meanwhile beyond
 * the ones that were let in.
 */ describe('a sqlite store changed by `gatehouse users` while a login is cached', () => {
  test('passwd: the old password gets 401 with the Basic challenge within 2 s, the new one 200', async () => {
    const identities = gw.gw.gatehouse.deps.identities
    await probe.loginCached('/basic/x', () => basic('alice', 'alice-old'), identities)

    const mark = gw.logs.length
    await users(['passwd', 'alice', '--password-stdin'], 'alice-new')
    const r = await probe.refusedWithin('/basic/x', () => basic('alice', 'alice-old'), 401)
    assert.equal(r.status, 401, `the old password was still accepted ${REFUSED_BY_MS} ms after passwd`)
    assert.equal(r.challenge, BASIC_CHALLENGE)
    assert.equal(r.leaked, 0, 'the upstream never saw the refused request')
    await probe.threadsReported('store', 2, mark)
    assert.equal((await get('/basic/x', basic('alice', 'alice-new'))).status, 200)
  })

  test('passwd: an old password over Digest (its HA1 cached) gets 401 with a Digest challenge within 2 s', async () => {
    const realmHashes = gw.gw.gatehouse.deps.realmHashes
    await probe.loginCached('/digest/x', () => digest('/digest/x', 'bob', 'bob-pw'), realmHashes)

    const mark = gw.logs.length
    await users(['passwd', 'bob', '--password-stdin'], 'bob-new')
    const r = await probe.refusedWithin('/digest/x', () => digest('/digest/x', 'bob', 'bob-pw'), 401)
    assert.equal(r.status, 401, `the old password was still accepted ${REFUSED_BY_MS} ms after passwd`)
    assert.match(
      r.challenge ?? '',
      /^Digest realm="Store", qop="auth", algorithm=MD5, nonce="[^"]+", opaque="[^"]+", charset=UTF-8$/,
    )
    assert.equal(r.leaked, 0)
    await probe.threadsReported('store', 2, mark)
    assert.equal((await get('/digest/x', await digest('/digest/x', 'bob', 'bob-new'))).status, 200)
  })

  test('deactivate: the user gets 401 with the Basic challenge within 2 s, and again after activate 200', async () => {
    await probe.loginCached('/basic/x', () => basic('carol', 'carol-pw'), gw.gw.gatehouse.deps.identities)

    const mark = gw.logs.length
    await users(['deactivate', 'carol'])
    const r = await probe.refusedWithin('/basic/x', () => basic('carol', 'carol-pw'), 401)
    assert.equal(r.status, 401, `the deactivated user was still let in ${REFUSED_BY_MS} ms later`)
    assert.equal(r.challenge, BASIC_CHALLENGE)
    assert.equal(r.leaked, 0)
    await probe.threadsReported('store', 2, mark)
    const activated = gw.logs.length
    await users(['activate', 'carol'])
    assert.equal((await probe.refusedWithin('/basic/x', () => basic('carol', 'carol-pw'), 200)).status, 200)
    await probe.threadsReported('store', 2, activated)
  })

  test('remove-group: a user taken out of the required group gets 403 within 2 s', async () => {
    await probe.loginCached('/staff/x', () => basic('dave', 'dave-pw'), gw.gw.gatehouse.deps.identities)

    const mark = gw.logs.length
    await users(['remove-group', 'dave', 'staff'])
    const r = await probe.refusedWithin('/staff/x', () => basic('dave', 'dave-pw'), 403)
    assert.equal(r.status, 403, `the group was still granted ${REFUSED_BY_MS} ms after remove-group`)
    assert.equal(r.leaked, 0)
    await probe.threadsReported('store', 2, mark)
  })

  test('each change is logged once per provider thread as a data change, without the password', () => {
    const drops = gw.logs.filter(
      (l) => l.includes('provider data changed: cache entries dropped') && l.includes('"provider":"store"'),
    )
    assert.ok(drops.length >= 4, `${drops.length} drops logged`)
    assert.ok(!gw.logs.some((l) => /alice-(old|new)|bob-(pw|new)|carol-pw|dave-pw/.test(l)), 'no password in the logs')
  })
})
