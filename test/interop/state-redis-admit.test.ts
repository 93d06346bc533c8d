/**
 * A Digest request whose HA1 is cached, on two instances sharing a real redis-server (Debian's,
 * on a unix socket in a temporary directory, stopped by its PID): judged in the instance and
 * admitted by ONE Lua script, which also counts a wrong response or uses the nonce count. Redis
 * command counts are read from INFO commandstats with a client of the test's own. Digest answers
 * are computed by test/helpers/digest-client.ts (node:crypto, no server code); the upstream
 * counts what it was sent. Client addresses come from X-Forwarded-For, one per test.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import { clientResponse } from '../helpers/digest-client.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { skipUnlessRedis, startRedis, type RedisServer } from './helpers/redis.js'

const skip = skipUnlessRedis()
const REALM = 'Store'
const MAX_FAILURES = 5
const CLIENT_TIMEOUT_MS = 10_000
const POLL_BOUND_MS = 10_000

interface Answer {
  status: number
  challenge: string | null
  retryAfter: string | null
}

describe('Digest with a cached HA1 on instances sharing a Redis: one script per request', { skip }, () => {
  let redis: RedisServer
  let upstream: EchoUpstream
  let probe: Redis
  let a: TestGateway
  let b: TestGateway
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-state-redis-admit-')
    cleanup = t.cleanup
    redis = await startRedis(t.dir)
    probe = new Redis({ path: redis.socket })
    upstream = await startEchoUpstream()
    const ha1 = createHash('md5').update(`dora:${REALM}:dora-pw`).digest('hex')
    writeFile(t.dir, 'users.htdigest', `dora:${REALM}:${ha1}\n`)
    writeFile(t.dir, 'digest.secret', 'a-shared-digest-secret-of-enough-length\n')
    const config = {
      state: { redis: redis.url, prefix: 'gatehouse:admit:', timeout: '250ms' },
      digest: { secretFile: './digest.secret' },
      trustedProxies: ['127.0.0.1'],
      throttle: { delay: 0, perAddress: { maxFailures: MAX_FAILURES, window: '10m', lockout: '1m' }, perUser: false },
      providers: { hashes: { type: 'htdigest', file: './users.htdigest', threads: 1 } },
      routes: [
        { path: '/digest', upstream: upstream.url, auth: { scheme: 'digest', realm: REALM, provider: 'hashes' } },
      ],
    }
    a = await startGateway(config, t.dir)
    b = await startGateway(config, t.dir)
    // Each instance caches dora's HA1 with one login of its own (that one asks the provider).
    for (const gw of [a, b])
      assert.equal((await get(gw, '192.0.2.100', await digestHeader(gw, '192.0.2.100'))).status, 200)
  })

  after(async () => {
    probe?.disconnect()
    await a?.close()
    await b?.close()
    await upstream?.close()
    await redis?.stop()
    cleanup?.()
  })

  async function get(gw: TestGateway, client: string, authorization?: string): Promise<Answer> {
    const headers: Record<string, string> = { 'x-forwarded-for': client }
    if (authorization !== undefined) headers.authorization = authorization
    const res = await fetch(`${gw.url}/digest`, { headers, signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })
    await res.arrayBuffer()
    return {
      status: res.status,
      challenge: res.headers.get('www-authenticate'),
      retryAfter: res.headers.get('retry-after'),
    }
  }

  async function digestHeader(gw: TestGateway, client: string, password = 'dora-pw'): Promise<string> {
    const ch = (await get(gw, client)).challenge as string
    const nonce = /nonce="([^"]+)"/.exec(ch)![1]!
    const opaque = /opaque="([^"]+)"/.exec(ch)![1]!
    const cnonce = '0a4f113b'
    const nc = '00000001'
    const response = clientResponse({
      algorithm: 'MD5',
      username: 'dora',
      realm: REALM,
      password,
      method: 'GET',
      uri: '/digest',
      nonce,
      qop: 'auth',
      nc,
      cnonce,
    })
    return `Digest username="dora", realm="${REALM}", nonce="${nonce}", uri="/digest", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`
  }

  /** Calls per command so far, the probe's own INFO left out. */
  async function commands(): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    for (const m of (await probe.info('commandstats')).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm))
      if (m[1] !== 'info') out.set(m[1]!, Number(m[2]))
    return out
  }

  /** Scripts `run` made Redis run (the commands inside a script are counted apart by Redis). */
  async function scriptsOf(run: () => Promise<void>): Promise<number> {
    const scripts = (m: Map<string, number>) => (m.get('eval') ?? 0) + (m.get('evalsha') ?? 0)
    const before = scripts(await commands())
    await run()
    return scripts(await commands()) - before
  }

  async function metric(gw: TestGateway, name: string, labels: Record<string, string> = {}): Promise<number> {
    let sum = 0
    for (const line of (await gw.gw.metrics.text()).split('\n')) {
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line)
      if (m === null || m[1] !== name) continue
      if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3])
    }
    return sum
  }

  test('accepted by A with one Redis script (the admission); the same header on B is a replay, 401 stale=true, also one script; the app saw it once', async () => {
    const client = '192.0.2.1'
    const header = await digestHeader(a, client)
    const seen = upstream.seen.length
    let ok: Answer | undefined
    assert.equal(
      await scriptsOf(async () => {
        ok = await get(a, client, header)
      }),
      1,
    )
    assert.equal(ok?.status, 200)
    let replay: Answer | undefined
    assert.equal(
      await scriptsOf(async () => {
        replay = await get(b, client, header)
      }),
      1,
    )
    assert.equal(replay?.status, 401)
    assert.match(replay?.challenge ?? '', /stale=true/)
    assert.equal(upstream.seen.length, seen + 1, 'the app saw it once')
  })

  test('parallel wrong responses against a cached HA1 over A and B: exactly maxFailures get 401, the others 429, then the right response 429 on both', async () => {
    const client = '192.0.2.2'
    const gws = [a, b]
    const headers = await Promise.all(
      Array.from({ length: 3 * MAX_FAILURES }, (_, i) => digestHeader(gws[i % 2]!, client, `guess-${i}`)),
    )
    const seen = upstream.seen.length
    const statuses = (await Promise.all(headers.map((h, i) => get(gws[i % 2]!, client, h)))).map((r) => r.status)
    assert.equal(statuses.filter((s) => s === 401).length, MAX_FAILURES, statuses.join(','))
    assert.equal(statuses.filter((s) => s === 429).length, 2 * MAX_FAILURES, statuses.join(','))
    for (const gw of gws) {
      const right = await get(gw, client, await digestHeader(gw, '192.0.2.99'))
      assert.equal(right.status, 429)
      assert.ok(Number(right.retryAfter) > 0)
    }
    assert.equal(upstream.seen.length, seen)
  })

  test('Redis killed: a right response with a cached HA1 is 503 with Retry-After 2 and never reaches the app, a wrong one 401 counted in the instance; Redis back: accepted again, and a replay across refused', async () => {
    const client = '192.0.2.3'
    const right = await digestHeader(a, client)
    const wrong = await digestHeader(a, client, 'not-it')
    const unavailable = await metric(a, 'gatehouse_state_store_fallbacks_total', { state: 'nonce_counts' })
    const throttleFallbacks = await metric(a, 'gatehouse_state_store_fallbacks_total', { state: 'throttle' })
    await redis.kill()
    const deadline = Date.now() + POLL_BOUND_MS
    while ((await metric(a, 'gatehouse_state_store_up', { store: 'redis' })) !== 0) {
      assert.ok(Date.now() < deadline, 'A did not see Redis go')
      await new Promise((r) => setTimeout(r, 25))
    }
    const seen = upstream.seen.length
    const down = await get(a, client, right)
    assert.equal(down.status, 503)
    assert.equal(down.retryAfter, '2')
    assert.equal(await metric(a, 'gatehouse_state_store_fallbacks_total', { state: 'nonce_counts' }), unavailable + 1)
    assert.equal((await get(a, client, wrong)).status, 401)
    assert.ok(
      (await metric(a, 'gatehouse_state_store_fallbacks_total', { state: 'throttle' })) >= throttleFallbacks + 2,
    )
    assert.equal(upstream.seen.length, seen, 'nobody was let in')

    await redis.restart()
    while (
      (await metric(a, 'gatehouse_state_store_up', { store: 'redis' })) !== 1 ||
      (await metric(b, 'gatehouse_state_store_up', { store: 'redis' })) !== 1
    ) {
      assert.ok(Date.now() < deadline + POLL_BOUND_MS, 'A and B did not find Redis again')
      await new Promise((r) => setTimeout(r, 25))
    }
    const back = await digestHeader(a, '192.0.2.4')
    assert.equal((await get(a, '192.0.2.4', back)).status, 200)
    assert.equal((await get(b, '192.0.2.4', back)).status, 401, 'a replay across instances is refused again')
    assert.equal(upstream.seen.length, seen + 1)
  })
})
