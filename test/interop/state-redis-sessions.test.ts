/**
 * Form-login sessions shared through a real redis-server (started here on a unix socket in a
 * temporary directory, stopped by its PID): two runGateway instances with their own fronts share
 * only the Redis, the Digest secret file (it signs the CSRF tokens) and the SQLite user database.
 * The browser is test/helpers/form-client.ts (HTML and HTTP only, no gatehouse code); Redis is
 * read with its own client (ioredis) to see what is stored and for how long. The upstream records
 * what it was sent, so a refused request provably went nowhere.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { UserStore } from '../../providers/sqlite/store.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { form, hiddenField, HTML, Jar, login, send } from '../helpers/form-client.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { skipUnlessRedis, startRedis, type RedisServer } from './helpers/redis.js'

const skip = skipUnlessRedis()
const PREFIX = 'gatehouse:sessions:'
const IDLE_MS = 600_000
const LIFETIME_MS = 3_600_000
const COOKIE = 'gatehouse_session'

/** The store key of the jar's session, as session-token.ts documents it: SHA-256 over a label and the id. */
function storeKeyOf(jar: Jar): string {
  return createHash('sha256').update('gatehouse session\0').update(jar.cookies.get(COOKIE)!).digest('base64url')
}

describe('form-login sessions shared by two instances through redis-server', { skip }, () => {
  let redis: RedisServer
  let probe: Redis
  let upstream: EchoUpstream
  let a: TestGateway
  let b: TestGateway
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-state-sessions-')
    cleanup = t.cleanup
    redis = await startRedis(t.dir)
    probe = new Redis({ path: redis.socket, lazyConnect: true, maxRetriesPerRequest: 1 })
    await probe.connect()
    upstream = await startEchoUpstream()
    const store = UserStore.open(join(t.dir, 'users.sqlite'), { create: true, bcryptCost: 4 })
    for (const u of ['alice', 'bob', 'carol', 'dave']) store.addUser(u, `${u}-pw`)
    store.close()
    writeFileSync(join(t.dir, 'digest.secret'), 'a-shared-digest-secret-of-enough-length\n')
    const config = (admin?: object) => ({
      ...(admin ? { admin } : {}),
      state: { redis: redis.url, prefix: PREFIX },
      digest: { secretFile: './digest.secret' },
      session: { idleTimeout: '10m', lifetime: '1h' },
      throttle: { delay: 0, perAddress: false, perUser: false },
      providers: { local: { type: 'sqlite', database: './users.sqlite', threads: 1 } },
      routes: [{ path: '/app', upstream: upstream.url, auth: { realm: 'Office', provider: 'local', scheme: 'form' } }],
    })
    a = await startGateway(config({ host: '127.0.0.1', port: 0 }), t.dir)
    b = await startGateway(config(), t.dir)
  })

  after(async () => {
    await a?.close()
    await b?.close()
    probe?.disconnect()
    await upstream?.close()
    await redis?.stop()
    cleanup?.()
  })

  /** Logs `user` in through A's login form; the jar then holds the session cookie. */
  async function loginOnA(user: string): Promise<Jar> {
    const jar = new Jar()
    const r = await login(a.url, jar, user, `${user}-pw`)
    assert.equal(r.status, 303)
    assert.equal(r.headers.location, '/app/')
    assert.ok(jar.cookies.has(COOKIE), 'a session cookie was set')
    return jar
  }

  /** GET /app/ on `gw` with the jar's cookies: the status, and whether the upstream saw it. */
  async function visit(gw: TestGateway, jar: Jar): Promise<{ status: number; location: unknown; reached: boolean }> {
    const before = upstream.seen.length
    const r = await send(gw.url, '/app/', { headers: { ...HTML, cookie: jar.header()! } })
    return { status: r.status, location: r.headers.location, reached: upstream.seen.length > before }
  }

  test('a session started on A is accepted on B: the app sees the user; Redis holds it under the hashed id with TTLs', async () => {
    const jar = await loginOnA('alice')
    const onB = await visit(b, jar)
    assert.equal(onB.status, 200)
    assert.equal(onB.reached, true)
    assert.equal(upstream.seen.at(-1)!.headers['x-remote-user'], 'alice')

    const id = jar.cookies.get(COOKIE)!
    const hashed = storeKeyOf(jar)
    const keys = await probe.keys(`${PREFIX}session:*`)
    assert.ok(
      keys.every((k) => !k.includes(id)),
      'no key carries the session id itself',
    )
    assert.ok(keys.includes(`${PREFIX}session:${hashed}`), 'the record is under the hashed id')
    const recordTtl = await Promise.all(keys.map((k) => probe.pttl(k)))
    for (const ttl of recordTtl) assert.ok(ttl > 0 && ttl <= IDLE_MS, `record TTL ${ttl} within the idle timeout`)
    const members = await probe.smembers(`${PREFIX}session-user:alice`)
    assert.equal(members.length, 1)
    assert.deepEqual(members, [hashed], 'the user set holds the hash of the id')
    const setTtl = await probe.pttl(`${PREFIX}session-user:alice`)
    assert.ok(setTtl > IDLE_MS && setTtl <= LIFETIME_MS, `user set TTL ${setTtl} covers the lifetime`)
    const record = JSON.parse((await probe.get(`${PREFIX}session:${members[0]!}`))!) as Record<string, unknown>
    assert.equal(record.user, 'alice')
    assert.equal(JSON.stringify(record).includes('alice-pw'), false, 'the password is stored sealed only')
  })

  test('logout on B ends the session on A: the replayed cookie is sent to the login page and the app never sees it', async () => {
    const jar = await loginOnA('bob')
    const stolen = new Jar()
    stolen.cookies.set(COOKIE, jar.cookies.get(COOKIE)!)
    assert.equal((await visit(a, stolen)).status, 200)
    const confirm = await send(b.url, '/.gatehouse/logout', { headers: HTML, jar })
    assert.equal(confirm.status, 200)
    const r = await send(b.url, '/.gatehouse/logout', { ...form({ csrf: hiddenField(confirm.body, 'csrf')! }), jar })
    assert.equal(r.status, 303)
    assert.equal(r.headers.location, '/.gatehouse/login')
    const replay = await visit(a, stolen)
    assert.equal(replay.status, 303)
    assert.equal(replay.location, `/.gatehouse/login?return=${encodeURIComponent('/app/')}`)
    assert.equal(replay.reached, false)
    assert.equal(await probe.exists(`${PREFIX}session:${storeKeyOf(stolen)}`), 0, 'the record is gone from Redis')
  })

  test("`cache flush --user` on A's admin interface ends the user's session on B; the app never sees the refused request", async () => {
    const jar = await loginOnA('carol')
    assert.equal((await visit(b, jar)).status, 200)
    const res = await fetch(`${a.gw.adminAddress}/cache/flush?user=carol`, {
      method: 'POST',
      signal: AbortSignal.timeout(10_000),
    })
    assert.equal(res.status, 200, await res.text())
    const onB = await visit(b, jar)
    assert.equal(onB.status, 303)
    assert.equal(onB.reached, false)
    assert.equal(await probe.exists(`${PREFIX}session-user:carol`), 0)
  })

  test("deleteByUser on B's store ends the sessions started on A, and only that user's", async () => {
    const dave = await loginOnA('dave')
    const alice = await loginOnA('alice')
    assert.equal(await b.gw.gatehouse.sessionStore!.deleteByUser('dave'), 1)
    const onA = await visit(a, dave)
    assert.equal(onA.status, 303)
    assert.equal(onA.reached, false)
    assert.equal((await visit(a, alice)).status, 200)
  })

  test('the shared store keeps the idle and absolute expiry: a record past either is refused and removed; rotate replaces the old key', async () => {
    const store = a.gw.gatehouse.sessionStore!
    const now = Date.now()
    const record = (key: string, lastSeenAt: number, expiresAt: number) => ({
      key,
      user: 'erin',
      groups: [],
      provider: 'local',
      scope: 'x',
      createdAt: now - 1000,
      lastSeenAt,
      expiresAt,
      idleMs: 1000,
      checkedAt: now - 1000,
      credential: 'sealed',
    })
    await store.create(record('idle', now - 500, now + 60_000))
    await store.create(record('old', now, now + 60_000))
    assert.equal((await store.get('idle', now))?.user, 'erin')
    assert.equal(await store.get('idle', now + 1000), undefined, 'idle for idleMs: ended')
    assert.equal(await probe.exists(`${PREFIX}session:idle`), 0)
    await store.create(record('late', now, now + 500))
    assert.equal(await store.get('late', now + 500), undefined, 'past expiresAt: ended')
    await store.rotate('old', record('new', now, now + 60_000))
    assert.equal(await probe.exists(`${PREFIX}session:old`), 0)
    assert.equal((await b.gw.gatehouse.sessionStore!.get('new', now))?.user, 'erin')
    assert.ok((await probe.pttl(`${PREFIX}session:new`)) <= 1000, 'record TTL is the idle timeout')
    assert.equal(await store.deleteByUser('erin'), 1, 'only the live record counts')
    assert.equal(await probe.exists(`${PREFIX}session-user:erin`), 0)
  })

  test('Redis unreachable: a session request fails closed with 503 and never reaches the app; after the restart nobody is let in by an old cookie', async () => {
    const jar = await loginOnA('alice')
    assert.equal((await visit(b, jar)).status, 200)
    await redis.kill()
    const down = await visit(b, jar)
    assert.equal(down.status, 503)
    assert.equal(down.reached, false)
    const fresh = new Jar()
    const refusedLogin = await login(a.url, fresh, 'bob', 'bob-pw')
    assert.equal(refusedLogin.status, 503)
    assert.equal(refusedLogin.headers['retry-after'], '2')
    assert.equal(fresh.cookies.has(COOKIE), false, 'no session cookie without a stored session')
    const refusedLogout = await send(b.url, '/.gatehouse/logout', { ...form({ csrf: 'x' }), jar })
    assert.equal(refusedLogout.status, 503)
    assert.equal(jar.cookies.has(COOKIE), true, 'the cookie is not cleared while the session may live on')
    await redis.restart()
    // The restarted Redis is empty: the session is gone, wherever the cookie is shown.
    let after = down
    for (let i = 0; i < 100 && (after = await visit(b, jar)).status === 503; i++)
      await new Promise((r) => setTimeout(r, 100))
    assert.equal(after.status, 303)
    assert.equal(after.reached, false)
  })
})
