/**
 * Two gatehouse instances sharing their state through a real redis-server (Debian's, started
 * here on a unix socket in a temporary directory, stopped by its PID): each instance is its own
 * runGateway with its own caches, throttle and nonce manager, in one test process; they share
 * only the Digest secret file, the SQLite user database and the Redis. Clients are fetch with a
 * bounded timeout; Digest answers are computed by test/helpers/digest-client.ts (node:crypto, no
 * server code). The upstream counts what it was sent, so a refused request provably went nowhere.
 * Client addresses come from X-Forwarded-For (127.0.0.1 is a trusted proxy), one per test, so the
 * lockouts of one test do not touch the next.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { UserStore } from '../../providers/sqlite/store.js'
import { clientResponse } from '../helpers/digest-client.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { skipUnlessRedis, startRedis, type RedisServer } from './helpers/redis.js'

const skip = skipUnlessRedis()
const REALM = 'Store'
/** Failures per address before the lockout (throttle.perAddress.maxFailures). */
const MAX_FAILURES = 6
/** Every request must be answered by then: a dead Redis must never hang one. */
const CLIENT_TIMEOUT_MS = 10_000
/** Bound of the polls for Redis being found again (reconnection backs off up to 2 s): generous for a loaded machine. */
const POLL_BOUND_MS = 10_000
/** A change seen by A ends B's cached login within 1 s; plus slack for a loaded machine. */
const INVALIDATION_BOUND_MS = 2_500

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

interface Answer {
  status: number
  challenge: string | null
  retryAfter: string | null
}

describe('two instances sharing state through redis-server', { skip }, () => {
  let redis: RedisServer
  let upstream: EchoUpstream
  let a: TestGateway
  let b: TestGateway
  let store: UserStore
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-state-redis-')
    cleanup = t.cleanup
    redis = await startRedis(t.dir)
    upstream = await startEchoUpstream()
    const database = join(t.dir, 'users.sqlite')
    store = UserStore.open(database, { create: true, bcryptCost: 4 })
    store.addUser('alice', 'alice-old', { realms: [REALM] })
    store.addUser('bob', 'bob-pw', { realms: [REALM] })
    store.addUser('carol', 'carol-old', { realms: [REALM] })
    writeFileSync(join(t.dir, 'digest.secret'), 'a-shared-digest-secret-of-enough-length\n')
    const config = (watchIntervalMs: number, admin?: object) => ({
      ...(admin ? { admin } : {}),
      state: { redis: redis.url, prefix: 'gatehouse:test:' },
      digest: { secretFile: './digest.secret' },
      trustedProxies: ['127.0.0.1'],
      throttle: { delay: 0, perAddress: { maxFailures: MAX_FAILURES, window: '10m', lockout: '1m' }, perUser: false },
      providers: {
        store: { type: 'sqlite', database: './users.sqlite', threads: 1, watchIntervalMs },
        // The same database, watched by neither instance in time: only a flush can end its cached logins.
        quiet: { type: 'sqlite', database: './users.sqlite', threads: 1, watchIntervalMs: 600_000 },
      },
      routes: [
        { path: '/basic', upstream: upstream.url, auth: { scheme: 'basic', realm: REALM, provider: 'store' } },
        { path: '/quiet', upstream: upstream.url, auth: { scheme: 'basic', realm: REALM, provider: 'quiet' } },
        {
          path: '/digest',
          upstream: upstream.url,
          auth: { scheme: 'digest', realm: REALM, provider: 'store', algorithms: ['SHA-256'] },
        },
      ],
    })
    // A notices a change of the database within 50 ms; B would take 10 minutes on its own, so
    // only A's announcement through Redis can end B's cached logins in time.
    a = await startGateway(config(50, { host: '127.0.0.1', port: 0 }), t.dir)
    b = await startGateway(config(600_000), t.dir)
  })

  after(async () => {
    await a?.close()
    await b?.close()
    await upstream?.close()
    await redis?.stop()
    cleanup?.()
  })

  async function get(gw: TestGateway, path: string, client: string, authorization?: string): Promise<Answer> {
    const headers: Record<string, string> = { 'x-forwarded-for': client }
    if (authorization !== undefined) headers.authorization = authorization
    const res = await fetch(`${gw.url}${path}`, { headers, signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })
    await res.arrayBuffer()
    return {
      status: res.status,
      challenge: res.headers.get('www-authenticate'),
      retryAfter: res.headers.get('retry-after'),
    }
  }

  /** A Digest SHA-256 Authorization answering `gw`'s fresh challenge, computed without server code. */
  async function digestHeader(
    gw: TestGateway,
    client: string,
    user: string,
    password: string,
    nc = '00000001',
  ): Promise<string> {
    const ch = (await get(gw, '/digest', client)).challenge as string
    const nonce = /nonce="([^"]+)"/.exec(ch)![1]!
    const opaque = /opaque="([^"]+)"/.exec(ch)![1]!
    const cnonce = '0a4f113b'
    const response = clientResponse({
      algorithm: 'SHA-256',
      username: user,
      realm: REALM,
      password,
      method: 'GET',
      uri: '/digest',
      nonce,
      qop: 'auth',
      nc,
      cnonce,
    })
    return `Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="/digest", algorithm=SHA-256, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`
  }

  /** Sum of the samples of `name` whose labels include every one of `labels`. */
  async function metric(gw: TestGateway, name: string, labels: Record<string, string> = {}): Promise<number> {
    let sum = 0
    for (const line of (await gw.gw.metrics.text()).split('\n')) {
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line)
      if (m === null || m[1] !== name) continue
      if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3])
    }
    return sum
  }

  const passwordChecks = async (): Promise<number> =>
    (await metric(a, 'gatehouse_provider_call_duration_seconds_count', {
      provider: 'store',
      method: 'checkPassword',
    })) +
    (await metric(b, 'gatehouse_provider_call_duration_seconds_count', { provider: 'store', method: 'checkPassword' }))

  async function until(what: string, check: () => Promise<boolean> | boolean, boundMs = POLL_BOUND_MS): Promise<void> {
    const deadline = Date.now() + boundMs
    while (!(await check())) {
      assert.ok(Date.now() < deadline, `${what}: not within ${boundMs} ms`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  test('a Digest Authorization accepted by A is refused by B as a replay: 401 stale=true with a fresh nonce, and the app never sees it', async () => {
    const client = '192.0.2.1'
    const header = await digestHeader(a, client, 'alice', 'alice-old')
    const seen = upstream.seen.length
    assert.equal((await get(a, '/digest', client, header)).status, 200)
    assert.equal(upstream.seen.length, seen + 1)
    const replay = await get(b, '/digest', client, header)
    assert.equal(replay.status, 401)
    assert.match(replay.challenge ?? '', /^Digest realm="Store", .*stale=true/)
    const sent = /nonce="([^"]+)"/.exec(header)![1]
    const offered = /nonce="([^"]+)"/.exec(replay.challenge ?? '')?.[1]
    assert.ok(offered !== undefined && offered !== sent, 'B offers a fresh nonce')
    // And back on A, the same count is refused too; the next count of the nonce passes on B.
    assert.equal((await get(a, '/digest', client, header)).status, 401)
    assert.equal(upstream.seen.length, seen + 1, 'the app never saw a replay')
    const next = header
      .replace('nc=00000001', 'nc=00000002')
      .replace(
        /response="[^"]+"/,
        `response="${clientResponse({ algorithm: 'SHA-256', username: 'alice', realm: REALM, password: 'alice-old', method: 'GET', uri: '/digest', nonce: sent!, qop: 'auth', nc: '00000002', cnonce: '0a4f113b' })}"`,
      )
    assert.equal((await get(b, '/digest', client, next)).status, 200)
  })

  test('failed logins spread over A and B lock the address out at the configured total: exactly that many reach the provider, then 429 with Retry-After on both', async () => {
    const client = '192.0.2.2'
    const before = await passwordChecks()
    for (let i = 0; i < MAX_FAILURES; i++) {
      const r = await get(i % 2 === 0 ? a : b, '/basic', client, basic('bob', `wrong-${i}`))
      assert.equal(r.status, 401, `failure ${i + 1}`)
    }
    assert.equal(await passwordChecks(), before + MAX_FAILURES)
    const seen = upstream.seen.length
    for (const gw of [a, b]) {
      const r = await get(gw, '/basic', client, basic('bob', 'wrong-again'))
      assert.equal(r.status, 429)
      assert.ok(Number(r.retryAfter) > 0 && Number(r.retryAfter) <= 60, `Retry-After ${r.retryAfter}`)
      // The right password too: a locked-out address asks no provider.
      assert.equal((await get(gw, '/basic', client, basic('bob', 'bob-pw'))).status, 429)
    }
    assert.equal(await passwordChecks(), before + MAX_FAILURES, 'nothing past the limit reached the provider')
    assert.equal(upstream.seen.length, seen)
  })

  test('a password changed in the database A watches ends the cached login on B (B does not watch in time by itself)', async () => {
    const client = '192.0.2.3'
    const old = basic('alice', 'alice-old')
    assert.equal((await get(b, '/basic', client, old)).status, 200)
    const hits = b.gw.gatehouse.deps.identities.hits
    assert.equal((await get(b, '/basic', client, old)).status, 200)
    assert.equal(b.gw.gatehouse.deps.identities.hits, hits + 1, 'the second login on B was a cache hit')
    const mark = b.logs.length
    store.setPassword('alice', 'alice-new', { realms: [REALM] })
    await until(
      'B refuses the old password',
      async () => (await get(b, '/basic', client, old)).status === 401,
      INVALIDATION_BOUND_MS,
    )
    assert.ok(
      b.logs.slice(mark).some((l) => l.includes('another instance saw a change')),
      "B dropped its entries on A's word",
    )
    assert.equal((await get(b, '/basic', client, basic('alice', 'alice-new'))).status, 200)
  })

  test("`cache flush --user` on A's admin interface ends that user's cached login on B", async () => {
    const client = '192.0.2.8'
    const old = basic('carol', 'carol-old')
    assert.equal((await get(b, '/quiet', client, old)).status, 200)
    const hits = b.gw.gatehouse.deps.identities.hits
    assert.equal((await get(b, '/quiet', client, old)).status, 200)
    assert.equal(b.gw.gatehouse.deps.identities.hits, hits + 1, 'the second login on B was a cache hit')
    store.setPassword('carol', 'carol-new', { realms: [REALM] })
    // Neither instance watches this provider in time: B still answers from its cache.
    assert.equal((await get(b, '/quiet', client, old)).status, 200)
    const res = await fetch(`${a.gw.adminAddress}/cache/flush?user=carol`, {
      method: 'POST',
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    })
    assert.equal(res.status, 200, await res.text())
    await until(
      'B refuses the old password',
      async () => (await get(b, '/quiet', client, old)).status === 401,
      INVALIDATION_BOUND_MS,
    )
    assert.equal((await get(b, '/quiet', client, basic('carol', 'carol-new'))).status, 200)
  })

  test('Redis killed and restarted: no request hangs, throttling counts per instance, Digest fails closed with 503, the metrics and logs say so; after the restart sharing resumes and the caches were emptied', async () => {
    const login = basic('bob', 'bob-pw')
    assert.equal((await get(b, '/basic', '192.0.2.4', login)).status, 200)
    const header = await digestHeader(a, '192.0.2.4', 'bob', 'bob-pw')
    const resyncs = await metric(b, 'gatehouse_state_store_resyncs_total')

    for (const gw of [a, b]) assert.equal(await metric(gw, 'gatehouse_state_store_up', { store: 'redis' }), 1)
    await redis.kill()
    await until(
      'A sees the store down',
      async () =>
        (await metric(a, 'gatehouse_state_store_up', { store: 'redis' })) === 0 &&
        (await metric(b, 'gatehouse_state_store_up', { store: 'redis' })) === 0,
    )

    // A cached login asks nothing of Redis: still served.
    assert.equal((await get(b, '/basic', '192.0.2.4', login)).status, 200)
    // Digest: the replay check cannot be made, so the right answer is refused too, with 503.
    const seen = upstream.seen.length
    const down = await get(a, '/digest', '192.0.2.4', header)
    assert.equal(down.status, 503)
    assert.equal(down.retryAfter, '2')
    assert.equal(upstream.seen.length, seen, 'the app saw nothing while Digest could not be checked')
    assert.ok((await metric(a, 'gatehouse_state_store_fallbacks_total', { state: 'nonce_counts' })) >= 1)

    // Throttling: each instance counts on its own, so each stops at MAX_FAILURES.
    const client = '192.0.2.5'
    const before = await passwordChecks()
    for (const gw of [a, b]) {
      for (let i = 0; i < MAX_FAILURES; i++)
        assert.equal((await get(gw, '/basic', client, basic('bob', `down-${i}`))).status, 401)
      const locked = await get(gw, '/basic', client, basic('bob', 'down-more'))
      assert.equal(locked.status, 429)
      assert.ok(Number(locked.retryAfter) > 0)
    }
    assert.equal(await passwordChecks(), before + 2 * MAX_FAILURES, 'per instance, never more')
    for (const gw of [a, b]) {
      assert.ok((await metric(gw, 'gatehouse_state_store_fallbacks_total', { state: 'throttle' })) >= MAX_FAILURES)
      assert.ok(gw.logs.some((l) => l.includes('shared state store unavailable: login throttling counts per instance')))
    }

    await redis.restart()
    await until(
      'both see the store again, B resynced',
      async () =>
        (await metric(a, 'gatehouse_state_store_up', { store: 'redis' })) === 1 &&
        (await metric(b, 'gatehouse_state_store_up', { store: 'redis' })) === 1 &&
        (await metric(b, 'gatehouse_state_store_resyncs_total')) > resyncs,
    )
    // Invalidations published while B was away are lost: B emptied its caches instead.
    assert.equal(b.gw.gatehouse.deps.identities.size, 0)
    assert.ok(b.logs.some((l) => l.includes('credential caches emptied')))

    // Shared again: a replay across instances is refused, failures add up across both.
    const fresh = await digestHeader(b, '192.0.2.6', 'bob', 'bob-pw')
    assert.equal((await get(b, '/digest', '192.0.2.6', fresh)).status, 200)
    assert.equal((await get(a, '/digest', '192.0.2.6', fresh)).status, 401)
    const spread = '192.0.2.7'
    const checks = await passwordChecks()
    for (let i = 0; i < MAX_FAILURES; i++)
      assert.equal((await get(i % 2 === 0 ? b : a, '/basic', spread, basic('bob', `up-${i}`))).status, 401)
    assert.equal((await get(a, '/basic', spread, basic('bob', 'up-more'))).status, 429)
    assert.equal((await get(b, '/basic', spread, basic('bob', 'up-more'))).status, 429)
    assert.equal(await passwordChecks(), checks + MAX_FAILURES)
  })
})
